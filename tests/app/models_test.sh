#!/usr/bin/env bash
# End-to-end test of the model manager: `ragd models` lists installed models from their GGUF
# headers, every --model takes a file, an installed name or a catalog alias (one resolver),
# unknown names fail with the installed and catalog names, `ragd rm` removes only installed
# models, and the server offers installed models by name with GET /v1/models/{id}.
# Runs against a temporary RAGD_MODEL_DIR holding a link to the 135M model.
# Usage: models_test.sh PATH-TO-RAGD REPO-ROOT (exit 77 = skipped).
set -euo pipefail

RAGD=$1
ROOT=$2
SMOL=$ROOT/models/SmolLM2-135M-Instruct.Q4_1.gguf
NAME=SmolLM2-135M-Instruct.Q4_1

if [[ ! -f $SMOL ]]; then
  echo "SKIP: $SMOL not found (run 'make models')" >&2
  exit 77
fi

fail() { echo "FAIL: $*" >&2; exit 1; }
TMP=$(mktemp -d)
SERVER_PID=
cleanup() {
  [[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
export RAGD_MODEL_DIR=$TMP/models
mkdir -p "$RAGD_MODEL_DIR"
ln -s "$SMOL" "$RAGD_MODEL_DIR/$NAME.gguf"
printf 'junk' >"$RAGD_MODEL_DIR/broken.gguf"

# expect_fail PATTERN CMD...: CMD exits non-zero and its stderr contains PATTERN.
expect_fail() {
  local pattern=$1 err
  shift
  if err=$("$@" 2>&1 >/dev/null); then fail "'$*' succeeded; expected an error"; fi
  [[ $err == *"$pattern"* ]] || fail "'$*': error '$err' does not contain '$pattern'"
}

# --- ragd models ------------------------------------------------------------------------
out=$("$RAGD" models)
line=$(grep "^$NAME " <<<"$out") || fail "ragd models does not list $NAME: $out"
[[ $line == *q4_1* && $line == *llama* && $line == *fast* && $line == *"93.8 MiB"* ]] ||
  fail "ragd models line lacks quantization/architecture/alias/size: $line"
grep -q "^broken .*unreadable" <<<"$(sed -n '/^broken/,+1p' <<<"$out" | tr '\n' ' ')" ||
  fail "ragd models does not flag the unreadable file: $out"
"$RAGD" models --json | python3 -c '
import json, sys
models = {m["name"]: m for m in json.load(sys.stdin)}
m = models["SmolLM2-135M-Instruct.Q4_1"]
assert m["architecture"] == "llama" and m["quantization"] == "q4_1" and m["kind"] == "llm", m
assert m["bytes"] == 98362432 and m["error"] == "", m
assert models["broken"]["error"], models["broken"]
' || fail "ragd models --json"
avail=$("$RAGD" models --available)
grep -q "^Qwen2.5-Coder-1.5B-Instruct.Q4_K_M .*default.* no " <<<"$avail" || fail "catalog listing: $avail"
grep -q "^Qwen2.5-Coder-0.5B-Instruct.Q4_K_M .*small.* no " <<<"$avail" || fail "catalog listing: $avail"
grep -q "^$NAME .*fast.* yes " <<<"$avail" || fail "catalog listing does not show $NAME installed: $avail"

# --- one resolver for every --model ----------------------------------------------------
for arg in "$NAME" "$NAME.gguf" smollm2-135m-instruct.q4_1 fast smollm2-135m "$SMOL"; do
  got=$("$RAGD" models --path "$arg") || fail "models --path $arg"
  [[ $got -ef $SMOL ]] || fail "--model $arg resolved to $got"
done
text=$("$RAGD" generate -m "$NAME" -p "The capital of France is" -n 4 --temp 0) ||
  fail "generate -m $NAME failed"
[[ -n $text ]] || fail "generate -m $NAME printed nothing"
"$RAGD" generate -m fast -p "Hello" -n 2 >/dev/null || fail "generate -m fast failed"
# No --model: the catalog's default model is not installed here, so the fast one is used.
err=$("$RAGD" generate -p "Hello" -n 2 2>&1 >/dev/null) || fail "generate without -m failed: $err"
[[ $err == *"ragd pull default"* ]] || fail "no hint about the missing default model: $err"

expect_fail "run 'ragd pull quality'" "$RAGD" generate -m quality -p hi -n 1
expect_fail "run 'ragd pull small'" "$RAGD" generate -m small -p hi -n 1
expect_fail "Installed models in $RAGD_MODEL_DIR: $NAME, broken" "$RAGD" generate -m no-such-model -p hi -n 1
expect_fail "Catalog (ragd pull NAME): $NAME (fast" "$RAGD" generate -m no-such-model -p hi -n 1
expect_fail "/nonexistent/x.gguf: no such file" "$RAGD" generate -m /nonexistent/x.gguf -p hi -n 1
expect_fail "not in the model catalog" "$RAGD" pull no-such-model

# --- the server sees installed models by name ------------------------------------------
"$RAGD" serve --port 0 --db "$TMP/db" --model fast --threads 1 >"$TMP/serve.out" 2>"$TMP/serve.err" &
SERVER_PID=$!
for _ in $(seq 100); do
  grep -q "listening on" "$TMP/serve.out" && break
  kill -0 "$SERVER_PID" 2>/dev/null || fail "serve exited: $(cat "$TMP/serve.err")"
  sleep 0.1
done
URL=$(grep -o 'http://[0-9.]*:[0-9]*' "$TMP/serve.out") || fail "serve did not start: $(cat "$TMP/serve.err")"
ln -s "$SMOL" "$RAGD_MODEL_DIR/later.gguf"  # installed while the server runs
body=$(curl -sS "$URL/v1/models/$NAME") || fail "GET /v1/models/$NAME"
python3 -c 'import json,sys; m=json.loads(sys.argv[1]); assert m["id"]==sys.argv[2] and m["object"]=="model", m; assert "/" not in json.dumps(m), m' \
  "$body" "$NAME" || fail "GET /v1/models/$NAME: $body"
body=$(curl -sS "$URL/v1/models/later") || fail "GET /v1/models/later"
[[ $body == *'"id":"later"'* ]] || fail "a model installed after start is not offered: $body"
code=$(curl -sS -o "$TMP/404.json" -w '%{http_code}' "$URL/v1/models/no-such-model")
[[ $code == 404 ]] || fail "GET /v1/models/no-such-model: HTTP $code"
grep -q '"code":"model_not_found"' "$TMP/404.json" || fail "404 body: $(cat "$TMP/404.json")"
reply=$(curl -sS "$URL/v1/completions" -H 'Content-Type: application/json' \
  -d '{"model": "later", "prompt": "Hello", "max_tokens": 2}') || fail "completion with an installed model"
[[ $reply == *'"model":"later"'* ]] || fail "completion with model 'later': $reply"
kill "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=

# --- ragd rm ------------------------------------------------------------------------------
expect_fail "not a path" "$RAGD" rm "$SMOL"
expect_fail "model 'no-such-model' is not installed" "$RAGD" rm no-such-model
"$RAGD" rm fast later >/dev/null || fail "rm fast later"
[[ ! -e $RAGD_MODEL_DIR/$NAME.gguf && ! -e $RAGD_MODEL_DIR/later.gguf ]] || fail "rm left the files"
[[ -f $SMOL ]] || fail "rm of a link removed its target"
expect_fail "is not installed" "$RAGD" models --path fast
echo "models_test: ok"
