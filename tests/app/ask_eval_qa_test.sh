#!/usr/bin/env bash
# `ragd ask` and `ragd eval qa` through the answer service with the real default models:
# ask streams an answer and lists citations (or says there are none), an unrelated
# question gets the "not in the documents" answer without generating, an unknown
# collection is a clear error; eval qa ingests a tiny QA folder and reports every measure.
# Skips (77) when the default LLM or embedder is missing.
# Usage: ask_eval_qa_test.sh PATH/TO/ragd REPO_ROOT
set -euo pipefail
ragd="$1"
repo="$2"
models="${RAGD_MODEL_DIR:-$repo/models}"
for f in SmolLM2-135M-Instruct.Q4_1.gguf all-MiniLM-L6-v2.F32.gguf; do
  [ -f "$models/$f" ] || { echo "$models/$f missing: skipping"; exit 77; }
done
command -v python3 >/dev/null || { echo "python3 not found: skipping"; exit 77; }
export RAGD_MODEL_DIR="$models"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

mkdir -p "$tmp/docs"
echo "Mount Etna in Sicily is one of the most active volcanoes in Europe. It is about 3,300 metres tall." > "$tmp/docs/etna.txt"
echo "Green tea is made from the leaves of Camellia sinensis that have not been oxidised." > "$tmp/docs/tea.txt"
"$ragd" ingest "$tmp/docs" --db "$tmp/db" -q > /dev/null

echo "--- ask answers and prints citations"
out="$("$ragd" ask "Which volcano in Sicily is active?" --db "$tmp/db" --threads 2 --sources 2> "$tmp/err")"
grep -q "etna.txt" "$tmp/err" || fail "sources not listed: $(cat "$tmp/err")"
echo "$out" | grep -Eq "Citations:|\(no citations\)" || fail "no citation section: $out"

echo "--- an unrelated question is 'not in the documents' (relevance threshold)"
out="$("$ragd" ask "Who won the 1998 football world cup final?" --db "$tmp/db" --threads 2)"
echo "$out" | grep -q "The documents do not contain the answer" || fail "answered anyway: $out"

echo "--- unknown collection and missing store are clear errors"
if "$ragd" ask "x" --db "$tmp/db" --collection nope 2> "$tmp/err"; then fail "unknown collection accepted"; fi
grep -q "collection 'nope' does not exist" "$tmp/err" || fail "unclear error: $(cat "$tmp/err")"
if "$ragd" ask "x" --db "$tmp/none" 2> "$tmp/err"; then fail "missing store accepted"; fi
grep -q "ingest documents first" "$tmp/err" || fail "unclear error: $(cat "$tmp/err")"

echo "--- eval qa reports every measure"
mkdir -p "$tmp/qa/qrels"
cat > "$tmp/qa/corpus.jsonl" <<'JSON'
{"_id": "1_0", "title": "Etna", "text": "Mount Etna in Sicily is one of the most active volcanoes in Europe."}
{"_id": "2_0", "title": "Tea", "text": "Green tea is made from the leaves of Camellia sinensis."}
JSON
cat > "$tmp/qa/answers.jsonl" <<'JSON'
{"_id": "q1", "text": "Which volcano in Sicily is active?", "answers": ["Mount Etna", "Etna"]}
{"_id": "q2", "text": "What is green tea made from?", "answers": ["leaves of Camellia sinensis"]}
JSON
printf '{"_id": "q1", "text": "Which volcano in Sicily is active?"}\n{"_id": "q2", "text": "What is green tea made from?"}\n' > "$tmp/qa/queries.jsonl"
printf 'query-id\tcorpus-id\tscore\nq1\t1_0\t1\nq2\t2_0\t1\n' > "$tmp/qa/qrels/test.tsv"
out="$("$ragd" eval qa --data "$tmp/qa" --db "$tmp/qadb" --threads 2 --json 2> "$tmp/qa.err")"
# Progress stays on stderr with --json (the report alone is on stdout).
grep -q "2/2  contains" "$tmp/qa.err" || fail "eval qa --json drew no progress: $(cat "$tmp/qa.err")"
echo "$out" | python3 -c '
import json, sys
d = json.load(sys.stdin)
keys = {"exact_match", "f1", "contains_answer", "citation_rate", "citation_precision", "hit_at_1", "hit_at_4", "latency"}
assert keys <= set(d), d
assert d["questions"] == 2 and d["hit_at_4"] == 1.0, d
assert set(d["latency"]) == {"embed", "retrieve", "rerank", "prefill", "decode", "total"}, d["latency"]
assert all(0 <= d[k] <= 1 for k in keys - {"latency"}), d
' || fail "eval qa report: $out"
echo "ok"
