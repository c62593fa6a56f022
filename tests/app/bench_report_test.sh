#!/usr/bin/env bash
# `ragd bench ... --report DIR`: report.html is one self-contained page whose tags balance
# and whose inline SVG charts are well-formed XML; results.json holds the benchmark's raw
# numbers under its name; a report directory that cannot be written is a clear error.
# Usage: bench_report_test.sh PATH-TO-RAGD REPO-ROOT (exit 77 = skipped).
set -euo pipefail

RAGD=$(realpath "$1")  # absolute: one check runs from another folder
ROOT=$2
SMOL=$ROOT/models/SmolLM2-135M-Instruct.Q4_1.gguf
EMBEDDER=$ROOT/models/all-MiniLM-L6-v2.F32.gguf
QA=$ROOT/../shared/data/qa/squad-dev10
command -v python3 >/dev/null || { echo "SKIP: python3 not found" >&2; exit 77; }

fail() { echo "FAIL: $*" >&2; exit 1; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# check_report DIR BENCH KEY...: the page parses, has charts, and results.json has
# benchmarks.BENCH with each KEY somewhere in its first row.
check_report() {
  local dir=$1
  shift
  [[ -s $dir/report.html ]] || fail "$dir/report.html missing"
  [[ -s $dir/results.json ]] || fail "$dir/results.json missing"
  python3 - "$dir" "$@" <<'PY' || fail "report in $dir is malformed"
import json, sys, xml.etree.ElementTree as ET
from html.parser import HTMLParser

d, bench, keys = sys.argv[1], sys.argv[2], sys.argv[3:]
html = open(f"{d}/report.html", encoding="utf-8").read()

class Balance(HTMLParser):
    VOID = {"meta", "br", "img", "hr", "input", "link"}
    def __init__(self):
        super().__init__()
        self.stack, self.tags = [], []
    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag not in self.VOID:
            self.stack.append(tag)
    def handle_startendtag(self, tag, attrs):
        self.tags.append(tag)
    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()

p = Balance()
p.feed(html)
p.close()
assert not p.stack, f"unclosed tags: {p.stack}"
assert "svg" in p.tags, "no <svg> chart"
assert "script" not in p.tags, "report must not need scripts"
assert "src=" not in html and "href=" not in html, "report must not load external assets"
charts = 0
start = 0
while (i := html.find("<svg", start)) >= 0:
    end = html.index("</svg>", i) + len("</svg>")
    ET.fromstring(html[i:end])  # raises on malformed XML
    charts += 1
    start = end
assert charts >= 2, f"only {charts} charts"

results = json.load(open(f"{d}/results.json"))
assert "generated" in results, results.keys()
b = results["benchmarks"][bench]
row = b["results"][0] if isinstance(b, dict) and "results" in b else b[0] if isinstance(b, list) else b
for k in keys:
    assert k in row, f"results.json {bench}: no {k} in {sorted(row)}"
print(f"ok: {d}: {charts} well-formed charts, results.json {bench} has {keys}")
PY
}

"$RAGD" bench rag --documents 10,40 --queries 10 --report "$TMP/rag" >/dev/null 2>&1 \
  || fail "bench rag --report exited with $?"
check_report "$TMP/rag" rag documents bm25_latency_ms_p50 hnsw_latency_ms_p50
grep -q "Search latency against document count" "$TMP/rag/report.html" || fail "no latency chart"

if [[ -f $SMOL ]]; then
  "$RAGD" bench inference -m "$SMOL" -p 8 -n 4 -r 1 -t 2 --report "$TMP/inf" >/dev/null 2>&1 \
    || fail "bench inference --report exited with $?"
  check_report "$TMP/inf" inference type prompt_tokens_per_s gen_tokens_per_s
  grep -q "Q4_1" "$TMP/inf/report.html" || fail "quantization type missing from the report"
else
  echo "note: $SMOL not found, bench inference part skipped" >&2
fi

# bench retrieval: quality and latency per mode at each corpus size (a tiny run: 5
# questions, 20 documents in two steps, so both sizes and all three modes must appear).
if [[ -d $QA && -f $EMBEDDER ]]; then
  "$RAGD" bench retrieval --data "$QA" --embed-model "$EMBEDDER" --threads 2 --questions 5 --sizes 50,100 \
    --max-documents 20 --report "$TMP/ret" >/dev/null 2>&1 || fail "bench retrieval --report exited with $?"
  check_report "$TMP/ret" retrieval documents mode hit_at_1 hit_at_4 latency_ms_p50
  python3 - "$TMP/ret/results.json" <<'PY' || fail "bench retrieval results are wrong"
import json, sys
b = json.load(open(sys.argv[1]))["benchmarks"]["retrieval"]
rows = b["results"]
assert sorted({r["documents"] for r in rows}) == [10, 20], rows
assert sorted({r["mode"] for r in rows}) == ["bm25", "dense", "hybrid"], rows
assert len(rows) == 6, len(rows)
assert b["questions"] == 5 and b["gold_documents"] == 5, b
for r in rows:
    assert 0 <= r["hit_at_1"] <= r["hit_at_4"] <= 1, r
    assert r["questions"] == 5 and r["chunks"] >= r["documents"], r
# Every size holds the gold paragraphs, so on 20 documents BM25 finds most of them.
assert max(r["hit_at_4"] for r in rows if r["mode"] == "bm25") >= 0.6, rows
PY
  grep -q "Retrieval quality against document count" "$TMP/ret/report.html" || fail "no quality chart"
  grep -q "Retrieval latency (p50) against document count" "$TMP/ret/report.html" || fail "no latency chart"
  if out=$("$RAGD" bench retrieval --data "$TMP/nowhere" 2>&1); then fail "bench retrieval without data succeeded"; fi
  grep -q -- "--data: .* is not a folder" <<<"$out" || fail "unclear --data error: $out"
  if out=$("$RAGD" bench retrieval --data "$QA" --sizes 0,100 --questions 2 2>&1); then fail "--sizes 0 accepted"; fi
  grep -q -- "--sizes: 0 is not a percentage" <<<"$out" || fail "unclear --sizes error: $out"
else
  echo "note: $QA or $EMBEDDER not found, bench retrieval part skipped" >&2
fi

# bench all runs each benchmark as a child process and combines the results (only the
# cheap, model-free one here; the full set takes minutes).
"$RAGD" bench all --skip inference,embed,retrieval,memory,throughput --report "$TMP/all-rag" >/dev/null 2>&1 \
  || fail "bench all --skip ... exited with $?"
check_report "$TMP/all-rag" rag documents chunks exact_latency_ms_p50
python3 -c "import json,sys; b=json.load(open(sys.argv[1]))['benchmarks']; assert list(b)==['rag'], list(b)" \
  "$TMP/all-rag/results.json" || fail "bench all ran skipped benchmarks"

# Without its default QA data (run from a folder with no ../shared) bench retrieval is
# skipped, said so in the report, and not counted as a failure.
mkdir -p "$TMP/no-data/cwd"
(cd "$TMP/no-data/cwd" && "$RAGD" bench all --skip inference,embed,rag,memory,throughput --report "$TMP/all-ret" >/dev/null 2>&1) \
  || fail "bench all without QA data exited with $?"
grep -q "Skipped: no QA data" "$TMP/all-ret/report.html" || fail "skipped bench retrieval not reported"

# Errors a user can cause: a report path that is a file, an unknown benchmark to skip.
touch "$TMP/file"
if out=$("$RAGD" bench rag --documents 10 --queries 5 --no-dense --report "$TMP/file/r" 2>&1); then
  fail "--report under a file succeeded"
fi
grep -q -- "--report: cannot create" <<<"$out" || fail "unclear --report error: $out"
if out=$("$RAGD" bench all --report "$TMP/all" --skip nonsense 2>&1); then
  fail "bench all --skip nonsense succeeded"
fi
grep -q "unknown benchmark 'nonsense'" <<<"$out" || fail "unclear --skip error: $out"
[[ ! -e $TMP/all ]] || fail "bench all wrote a report despite bad options"
echo "PASS"
