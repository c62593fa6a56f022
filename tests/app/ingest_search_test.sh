#!/usr/bin/env bash
# End-to-end test of `ragd ingest`, `ragd search`, `ragd collections`, `ragd eval beir` and
# `ragd bench rag` through the real binary: incremental re-ingest, hostile queries, clear
# errors, and a SIGKILL in the middle of an ingest that must leave a usable store.
# Usage: ingest_search_test.sh PATH/TO/ragd REPO_ROOT
set -euo pipefail
ragd="$1"
repo="$2"
command -v python3 >/dev/null || { echo "python3 not found: skipping"; exit 77; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
db="$tmp/db"
fail() { echo "FAIL: $*" >&2; exit 1; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
# Model-free: BM25 only (dense_search_test.sh covers the embedding model).
export RAGD_MODEL_DIR="$tmp/no-models"

mkdir -p "$tmp/docs/sub"
cat > "$tmp/docs/guide.md" <<'MD'
# Widget guide

## Installation

Install the frobnicator with the package manager. It needs a kernel newer than 5.10.

## Troubleshooting

If the widget squeaks, oil the hinges.
MD
echo "Quarterly revenue grew because of strong zeppelin sales." > "$tmp/docs/report.txt"
cat > "$tmp/docs/sub/page.html" <<'HTML'
<html><head><title>Aquarium</title><script>var hidden = "zeppelin";</script></head>
<body><h1>Fish</h1><p>Axolotls &amp; goldfish live here.</p></body></html>
HTML
cat > "$tmp/docs/sub/records.jsonl" <<'JSONL'
{"_id": "r1", "title": "Volcano", "text": "Magma chambers feed eruptions.", "lang": "en"}
{"_id": "r2", "title": "Vulkan", "text": "Magmakammern speisen Ausbrüche.", "lang": "de"}
JSONL

echo "--- first ingest"
out="$("$ragd" ingest "$tmp/docs" --db "$db" --json -q)"
[ "$(echo "$out" | json 'd["documents_added"]')" = 5 ] || fail "expected 5 documents: $out"
[ "$(echo "$out" | json 'd["errors"]')" = 0 ] || fail "errors: $out"

echo "--- search"
top="$("$ragd" search "how do I install the frobnicator" --db "$db" --json | json 'd["results"][0]["title"] + "|" + d["results"][0]["heading"]')"
[ "$top" = "Widget guide|Installation" ] || fail "unexpected top hit: $top"
n="$("$ragd" search zeppelin --db "$db" --json | json 'len(d["results"])')"
[ "$n" = 1 ] || fail "script text must not be indexed (got $n hits for zeppelin)"
de="$("$ragd" search "magma magmakammern" --db "$db" --filter lang=de --json | json '[r["document"] for r in d["results"]]')"
[ "$de" = "['r2']" ] || fail "metadata filter: $de"
"$ragd" search "axolotls" --db "$db" | grep -q "Aquarium" || fail "text output"

echo "--- re-ingest is a no-op"
out="$("$ragd" ingest "$tmp/docs" --db "$db" --json -q)"
[ "$(echo "$out" | json 'd["files_unchanged"]')" = 4 ] || fail "files not skipped: $out"
[ "$(echo "$out" | json 'd["chunks_written"]')" = 0 ] || fail "chunks rewritten: $out"

echo "--- a changed file replaces its chunks"
echo "Quarterly revenue fell because of weak blimp sales." > "$tmp/docs/report.txt"
out="$("$ragd" ingest "$tmp/docs" --db "$db" --json -q)"
[ "$(echo "$out" | json 'd["documents_updated"]')" = 1 ] || fail "not updated: $out"
[ "$("$ragd" search zeppelin --db "$db" --json | json 'len(d["results"])')" = 0 ] || fail "old chunks still found"
[ "$("$ragd" search blimp --db "$db" --json | json 'len(d["results"])')" = 1 ] || fail "new chunks not found"

echo "--- hostile queries never fail"
for q in '"' 'a AND' 'NEAR(x y' '*' '(((' 'title:x' '-' '日本語' "'; DROP TABLE chunks; --" ' '; do
  "$ragd" search "$q" --db "$db" --json >/dev/null || fail "query failed: $q"
done

echo "--- clear errors"
if err="$("$ragd" search magma --db "$db" --mode dense 2>&1)"; then fail "dense mode should fail"; fi
echo "$err" | grep -q "has no embeddings" || fail "dense error: $err"
if err="$("$ragd" search x --db "$tmp/nowhere" 2>&1)"; then fail "missing store should fail"; fi
echo "$err" | grep -q "ragd ingest" || fail "missing-store error: $err"
[ ! -e "$tmp/nowhere" ] || fail "search created a store"
if err="$("$ragd" search x --db "$db" --collection nope 2>&1)"; then fail "missing collection should fail"; fi
echo "$err" | grep -q "does not exist" || fail "missing-collection error: $err"
echo "not json" > "$tmp/bad.jsonl"
if "$ragd" ingest "$tmp/bad.jsonl" --db "$db" -q >/dev/null 2>&1; then fail "bad JSONL should exit non-zero"; fi
[ "$("$ragd" collections --db "$db" --json | json 'd[0]["documents"]')" = 5 ] || fail "bad file changed the store"

echo "--- SIGKILL during ingest leaves a usable store"
python3 - "$tmp/big.jsonl" <<'PY'
import json, sys
words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"]
with open(sys.argv[1], "w") as f:
    for i in range(40000):
        text = " ".join(words[(i * 7 + k * 3) % 10] + str(k % 50) for k in range(120))
        f.write(json.dumps({"_id": f"d{i}", "title": f"Doc {i}", "text": text + "."}) + "\n")
PY
kdb="$tmp/killdb"
"$ragd" ingest "$tmp/big.jsonl" --db "$kdb" -q --batch 200 >/dev/null 2>&1 &
pid=$!
docs=0
for _ in $(seq 1 200); do
  sleep 0.05
  if [ -e "$kdb/ragd.db" ]; then
    docs="$("$ragd" collections --db "$kdb" --json 2>/dev/null | json 'd[0]["documents"] if d else 0' 2>/dev/null || echo 0)"
    [ "$docs" -gt 0 ] && break
  fi
done
kill -9 "$pid" 2>/dev/null || fail "ingest finished before it could be killed"
wait "$pid" 2>/dev/null || true
after="$("$ragd" collections --db "$kdb" --json | json 'd[0]["documents"]')"
echo "killed after $after committed documents"
[ "$after" -ge "$docs" ] || fail "lost committed documents ($after < $docs)"
[ "$after" -lt 40000 ] || fail "ingest was not interrupted"
"$ragd" search "alpha bravo" --db "$kdb" --json >/dev/null || fail "search after kill"
out="$("$ragd" ingest "$tmp/big.jsonl" --db "$kdb" --json -q)"
[ "$(echo "$out" | json 'd["collection_documents"]')" = 40000 ] || fail "resume: $out"
[ "$(echo "$out" | json 'd["documents_unchanged"]')" -ge "$after" ] || fail "resume redid work: $out"

echo "--- bench rag"
out="$("$ragd" bench rag --documents 10,100 --queries 20 --json)"
[ "$(echo "$out" | json 'len(d["results"])')" = 2 ] || fail "bench rows: $out"
echo "$out" | json 'd["results"][1]["bm25_latency_ms_p50"]' >/dev/null

scifact="$repo/../shared/data/beir/scifact"
if [ -f "$scifact/corpus.jsonl" ]; then
  echo "--- eval beir (SciFact, BM25)"
  out="$("$ragd" eval beir --data "$scifact" --json)"
  echo "$out"
  echo "$out" | json '[d[k] for k in ("ndcg_at_10","recall_at_100","mrr_at_10","latency_ms_p50","latency_ms_p99")]' >/dev/null
  python3 -c "import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if d['ndcg_at_10'] >= 0.66 else 1)" "$out" \
    || fail "SciFact nDCG@10 below 0.66"
fi
echo "PASS"
