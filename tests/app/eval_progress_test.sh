#!/usr/bin/env bash
# Long commands show progress on stderr with --json too (the report alone goes to stdout, so
# `ragd eval beir --json > report.json` still shows how far it is), and --quiet turns it off.
# A four-document BEIR folder, embedded with the default embedder: the embedding phase always
# draws its final line, also when stderr is no terminal.
# Skips (77) without the embedder or python3.
# Usage: eval_progress_test.sh PATH/TO/ragd REPO_ROOT
set -euo pipefail
ragd="$1"
repo="$2"
models="${RAGD_MODEL_DIR:-$repo/models}"
embedder="$models/all-MiniLM-L6-v2.F32.gguf"
[ -f "$embedder" ] || { echo "$embedder missing: skipping"; exit 77; }
command -v python3 >/dev/null || { echo "python3 not found: skipping"; exit 77; }
export RAGD_MODEL_DIR="$models"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

mkdir -p "$tmp/beir/qrels"
cat > "$tmp/beir/corpus.jsonl" <<'JSON'
{"_id": "d1", "title": "Etna", "text": "Mount Etna in Sicily is one of the most active volcanoes in Europe."}
{"_id": "d2", "title": "Tea", "text": "Green tea is made from the leaves of Camellia sinensis."}
{"_id": "d3", "title": "Quokka", "text": "The quokka is a small wallaby living on Rottnest Island."}
{"_id": "d4", "title": "Bread", "text": "Sourdough rises with wild yeast and lactic acid bacteria."}
JSON
printf '{"_id": "q1", "text": "active volcano in Sicily"}\n{"_id": "q2", "text": "what is green tea made of"}\n' \
  > "$tmp/beir/queries.jsonl"
printf 'query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\n' > "$tmp/beir/qrels/test.tsv"

# run NAME ARGS...: eval beir into $tmp/NAME.out (stdout) and $tmp/NAME.err (stderr); stdout
# must be the JSON report and nothing else.
run() {
  local name=$1
  shift
  "$ragd" eval beir --data "$tmp/beir" --mode dense --embed-model "$embedder" --threads 2 --json "$@" \
    > "$tmp/$name.out" 2> "$tmp/$name.err" || fail "eval beir $*: $(cat "$tmp/$name.err")"
  python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); assert d["queries"] == 2, d' "$tmp/$name.out" \
    || fail "stdout is not the report: $(cat "$tmp/$name.out")"
}

echo "--- eval beir --json: progress on stderr"
run json
grep -Eq 'embedding chunks ([0-9]+)/\1 ' "$tmp/json.err" || fail "no progress on stderr with --json: $(cat "$tmp/json.err")"

echo "--- eval beir --json --quiet: none"
run quiet --quiet
if grep -q "embedding chunks" "$tmp/quiet.err"; then fail "--quiet still draws progress: $(cat "$tmp/quiet.err")"; fi
echo "PASS"
