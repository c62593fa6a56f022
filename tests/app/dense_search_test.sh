#!/usr/bin/env bash
# End-to-end dense and hybrid retrieval with the real default embedder: ingest embeds the
# chunks, dense search finds a document by meaning for a query sharing no word with it,
# hybrid returns results, and a collection refuses vectors from another model.
# Skips (77) when models/all-MiniLM-L6-v2.F32.gguf is missing (run 'make').
# Usage: dense_search_test.sh PATH/TO/ragd REPO_ROOT
set -euo pipefail
ragd="$1"
repo="$2"
model="${RAGD_MODEL_DIR:-$repo/models}/all-MiniLM-L6-v2.F32.gguf"
[ -f "$model" ] || { echo "$model missing: skipping"; exit 77; }
command -v python3 >/dev/null || { echo "python3 not found: skipping"; exit 77; }
export RAGD_MODEL_DIR="$(dirname "$model")"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
db="$tmp/db"
fail() { echo "FAIL: $*" >&2; exit 1; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

mkdir -p "$tmp/docs"
echo "Felines purr, chase mice and sleep most of the day; many households keep them indoors." > "$tmp/docs/felines.txt"
echo "Magma rises through the crust and erupts from volcanoes as lava and ash." > "$tmp/docs/volcano.txt"
echo "Bakers knead flour, water and yeast into dough, then bake loaves in a hot oven." > "$tmp/docs/bread.txt"
echo "The central bank raised interest rates to slow inflation and cool the housing market." > "$tmp/docs/economy.txt"

echo "--- ingest embeds every chunk"
out="$("$ragd" ingest "$tmp/docs" --db "$db" --json -q)"
[ "$(echo "$out" | json 'd["chunks_embedded"]')" = 4 ] || fail "not embedded: $out"
[ "$(echo "$out" | json 'd["embedding_model"]')" = all-MiniLM-L6-v2 ] || fail "model not recorded: $out"
[ "$(echo "$out" | json 'd["embedding_dim"]')" = 384 ] || fail "dimension not recorded: $out"
[ "$(echo "$out" | json 'd["vector_index"]')" = exact ] || fail "index: $out"
out="$("$ragd" ingest "$tmp/docs" --db "$db" --json -q)"
[ "$(echo "$out" | json 'd["chunks_embedded"]')" = 0 ] || fail "re-ingest embedded again: $out"

echo "--- dense search matches by meaning (no shared word)"
q="pet kitty that meows"
[ "$("$ragd" search "$q" --db "$db" --json | json 'len(d["results"])')" = 0 ] || fail "BM25 should find nothing for: $q"
out="$("$ragd" search "$q" --db "$db" --mode dense --json)"
top="$(echo "$out" | json 'd["results"][0]["document"]')"
case "$top" in */felines.txt) ;; *) fail "dense top hit is $top: $out" ;; esac
[ "$(echo "$out" | json '"embed_query" in d["timings_ms"]')" = True ] || fail "no query embedding timing: $out"

echo "--- hybrid returns results"
out="$("$ragd" search "volcanic eruption lava" --db "$db" --mode hybrid --json)"
top="$(echo "$out" | json 'd["results"][0]["document"]')"
case "$top" in */volcano.txt) ;; *) fail "hybrid top hit is $top: $out" ;; esac
[ "$("$ragd" search "rates" --db "$db" --mode hybrid --fusion rrf --json | json 'len(d["results"]) > 0')" = True ] \
  || fail "hybrid rrf returned nothing"

echo "--- another model is refused"
# A copy of the model under another general.name stands in for a different model.
python3 - "$model" "$tmp/other.gguf" <<'PY'
import struct, sys
data = bytearray(open(sys.argv[1], "rb").read())
key = b"general.name"
at = data.index(struct.pack("<Q", len(key)) + key) + 8 + len(key)
assert struct.unpack_from("<I", data, at)[0] == 8  # GGUF string
n = struct.unpack_from("<Q", data, at + 4)[0]
data[at + 12 + n - 1] = ord("X")  # same length, different name
open(sys.argv[2], "wb").write(data)
PY
echo "Glaciers carve valleys as they slowly flow downhill." > "$tmp/ice.txt"
if err="$("$ragd" ingest "$tmp/ice.txt" --db "$db" --embed-model "$tmp/other.gguf" -q 2>&1)"; then
  fail "mixing models should fail"
fi
echo "$err" | grep -q "cannot be mixed" || fail "mixing error: $err"
[ "$("$ragd" search glaciers --db "$db" --json | json 'len(d["results"])')" = 0 ] \
  || fail "the refused ingest wrote documents"
if err="$("$ragd" search "$q" --db "$db" --mode dense --embed-model "$tmp/other.gguf" 2>&1)"; then
  fail "querying with another model should fail"
fi
echo "$err" | grep -q "cannot be mixed" || fail "query mixing error: $err"

echo "--- --no-embed ingests text only"
out="$("$ragd" ingest "$tmp/ice.txt" --db "$tmp/db2" --no-embed --json -q)"
[ "$(echo "$out" | json 'd["chunks_embedded"]')" = 0 ] || fail "--no-embed embedded: $out"
if err="$("$ragd" search glaciers --db "$tmp/db2" --mode dense 2>&1)"; then fail "dense without vectors should fail"; fi
echo "$err" | grep -q "has no embeddings" || fail "no-embeddings error: $err"
echo "PASS"
