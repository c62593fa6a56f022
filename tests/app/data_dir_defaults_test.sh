#!/usr/bin/env bash
# One data directory and one collection by default for every command: `ragd ingest` with no
# --db/--collection stores where `ragd search`, `ragd collections` and `ragd serve` look
# ($RAGD_DATA_DIR, else $XDG_DATA_HOME/ragd, else ~/.local/share/ragd, else ./.ragd), and
# `make run` (scripts/run-main) asks the binary for the same folder. HOME and XDG_DATA_HOME
# point into a temporary folder, so nothing is written to the real home.
# Skips (77) without the fast model and the embedder, python3 or curl.
# Usage: data_dir_defaults_test.sh PATH/TO/ragd REPO_ROOT
set -euo pipefail
ragd="$1"
repo="$2"
models="${RAGD_MODEL_DIR:-$repo/models}"
llm="$models/SmolLM2-135M-Instruct.Q4_1.gguf"
for f in "$llm" "$models/all-MiniLM-L6-v2.F32.gguf"; do
  [ -f "$f" ] || { echo "$f missing: skipping"; exit 77; }
done
for tool in python3 curl; do
  command -v "$tool" >/dev/null || { echo "$tool not found: skipping"; exit 77; }
done

tmp="$(mktemp -d)"
server=""
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# The environment of a new user: no RAGD_DATA_DIR, a home of their own, no XDG variables.
unset RAGD_DATA_DIR RAGD_STORE XDG_DATA_HOME
export HOME="$tmp/home" RAGD_MODEL_DIR="$models"
mkdir -p "$HOME" "$tmp/cwd"
cd "$tmp/cwd"  # a relative default would land here: checked empty at the end

echo "--- the default folder, in order of precedence"
[ "$("$ragd" collections --path)" = "$HOME/.local/share/ragd" ] || fail "HOME default: $("$ragd" collections --path)"
[ "$(XDG_DATA_HOME="$tmp/xdg" "$ragd" collections --path)" = "$tmp/xdg/ragd" ] || fail "XDG_DATA_HOME ignored"
[ "$(XDG_DATA_HOME=relative "$ragd" collections --path)" = "$HOME/.local/share/ragd" ] \
  || fail "a relative XDG_DATA_HOME must be ignored (XDG spec)"
[ "$(XDG_DATA_HOME="$tmp/xdg" RAGD_DATA_DIR="$tmp/env" "$ragd" collections --path)" = "$tmp/env" ] \
  || fail "RAGD_DATA_DIR must win"
[ "$(env -u HOME "$ragd" collections --path)" = ".ragd" ] || fail "no HOME: $(env -u HOME "$ragd" collections --path)"
[ "$("$ragd" collections --path --db "$tmp/other")" = "$tmp/other" ] || fail "--path ignores --db"
"$ragd" search --help | grep -q "$HOME/.local/share/ragd" || fail "search --help does not show the default folder"

echo "--- before any ingest: a clear error that needs no --db"
if "$ragd" search anything > /dev/null 2> "$tmp/err"; then fail "search without a store succeeded"; fi
grep -q "ingest documents first ('ragd ingest PATH')" "$tmp/err" || fail "missing-store error: $(cat "$tmp/err")"
[ ! -e "$HOME/.local/share/ragd" ] || fail "search created the data folder"

echo "--- ingest and search with no --db or --collection"
mkdir -p "$tmp/docs"
echo "The quokka is a small wallaby that lives on Rottnest Island near Perth." > "$tmp/docs/quokka.txt"
echo "Sourdough bread rises with wild yeast and lactic acid bacteria." > "$tmp/docs/bread.txt"
out="$("$ragd" ingest "$tmp/docs" --json -q)"
[ "$(echo "$out" | json 'd["collection"] + " " + d["db"]')" = "default $HOME/.local/share/ragd" ] \
  || fail "ingest stored elsewhere: $out"
[ -f "$HOME/.local/share/ragd/ragd.db" ] || fail "no store in the default folder"
top="$("$ragd" search "wallaby island" --json | json 'd["results"][0]["document"]')"
[[ $top == *quokka.txt ]] || fail "search did not find the ingested document: $top"
[ "$("$ragd" collections --json | json '",".join(c["name"] for c in d)')" = default ] || fail "collections"

echo "--- ragd serve with no --db serves the same store"
"$ragd" serve --port 0 --model "$llm" --threads 1 > "$tmp/serve.out" 2> "$tmp/serve.err" &
server=$!
url=""
for _ in $(seq 1 300); do
  url="$(grep -Eo 'listening on http://[0-9.]+:[0-9]+' "$tmp/serve.out" | sed 's/listening on //' || true)"
  [ -n "$url" ] && break
  kill -0 "$server" 2>/dev/null || fail "serve exited: $(tail -5 "$tmp/serve.err")"
  sleep 0.1
done
[ -n "$url" ] || fail "serve did not start: $(tail -5 "$tmp/serve.err")"
names="$(curl -sf "$url/v1/collections" | json '",".join(c["name"] for c in d["data"])')" \
  || fail "GET /v1/collections: $(curl -s "$url/v1/collections")"
[ "$names" = default ] || fail "the server sees other collections: $names"
# No "collection" field: the server's default collection is the CLI's.
hit="$(curl -sf "$url/v1/search" -H 'Content-Type: application/json' -d '{"query": "wild yeast bread", "top_k": 1}' \
  | json 'd["collection"] + " " + d["data"][0]["id"]')" || fail "POST /v1/search failed"
[[ $hit == "default "*bread.txt ]] || fail "server search: $hit"
kill "$server"
wait "$server" 2>/dev/null || true
server=""

[ -z "$(ls -A "$tmp/cwd")" ] || fail "something was written to the working directory: $(ls -A "$tmp/cwd")"
echo "PASS"
