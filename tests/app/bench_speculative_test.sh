#!/usr/bin/env bash
# `ragd bench speculative`: prompt lookup keeps greedy output identical to the model alone,
# and --until-eos stops each generation at the model's end-of-generation token (a real
# answer) where the default generates all -n tokens.
# Usage: bench_speculative_test.sh PATH-TO-RAGD REPO-ROOT (exit 77 = skipped).
set -euo pipefail

RAGD=$1
ROOT=$2
SMOL=$ROOT/models/SmolLM2-135M-Instruct.Q4_1.gguf
[[ -f $SMOL ]] || { echo "SKIP: $SMOL not found (scripts/fetch-models)" >&2; exit 77; }

fail() { echo "FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf 'Reply with one word: is the sky blue? Answer yes or no.' > "$tmp/short.txt"

run() {
  "$RAGD" bench speculative -m "$SMOL" --lookup --draft-tokens 2 -t 2 -n 64 --json \
    --prompt-file "$tmp/short.txt" "$@" 2>"$tmp/err" || fail "bench speculative $* exited with $?: $(cat "$tmp/err")"
}
# field PROMPT FIELD < JSON: the field of the row for PROMPT.
field() {
  python3 -c 'import json, sys; rows = [r for r in json.load(sys.stdin) if r["prompt"] == sys.argv[1]]; assert len(rows) == 1, rows; print(json.dumps(rows[0][sys.argv[2]]))' "$1" "$2"
}

all=$(run)
eos=$(run --until-eos)
for out in "$all" "$eos"; do
  for p in rag code "$tmp/short.txt"; do
    [[ $(field "$p" identical <<<"$out") == true ]] || fail "lookup changed the greedy output of $p"
  done
done
[[ $(field "$tmp/short.txt" generated_tokens <<<"$all") == 64 ]] || fail "without --until-eos: not all 64 tokens"
n=$(field "$tmp/short.txt" generated_tokens <<<"$eos")
((n >= 1 && n < 64)) || fail "--until-eos: the one-word answer took $n tokens"
echo "ok: identical greedy output; a one-word answer ends after $n tokens with --until-eos"
