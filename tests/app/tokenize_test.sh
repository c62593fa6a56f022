#!/usr/bin/env bash
# End-to-end test of `ragd tokenize`: ids of stdin text on one line, BOS/EOS only with
# --add-special, special tokens only with --parse-special, vocab-only GGUFs load, and errors
# are clear. Usage: tokenize_test.sh PATH-TO-RAGD REPO-ROOT (exit 77 = skipped).
set -euo pipefail

RAGD=$1
ROOT=$2
VOCABS=$ROOT/../shared/data/tokenizer
SMOL=$ROOT/models/SmolLM2-135M-Instruct.Q4_1.gguf

if [[ ! -f $VOCABS/ggml-vocab-gpt-2.gguf ]]; then
  echo "SKIP: reference vocabularies not found in $VOCABS" >&2
  exit 77
fi

fail() { echo "FAIL: $*" >&2; exit 1; }

# expect_ids EXPECTED TEXT ARGS...: `ragd tokenize ARGS` on TEXT prints exactly EXPECTED.
expect_ids() {
  local expected=$1 text=$2 got
  shift 2
  got=$(printf '%s' "$text" | "$RAGD" tokenize "$@") || fail "tokenize $* exited with $?"
  [[ $got == "$expected" ]] || fail "tokenize $* on '$text': got '$got', expected '$expected'"
}

# Vocab-only files (no tensors) of the three tokenizer kinds.
expect_ids "15496 995" "Hello world" --model "$VOCABS/ggml-vocab-gpt-2.gguf"
expect_ids "15043 3186" "Hello world" --model "$VOCABS/ggml-vocab-llama-spm.gguf"
expect_ids "7592 2088" "Hello world" -m "$VOCABS/ggml-vocab-bert-bge.gguf"

# --add-special: BOS for SentencePiece, [CLS] ... [SEP] for BERT.
expect_ids "1 15043 3186" "Hello world" --model "$VOCABS/ggml-vocab-llama-spm.gguf" --add-special
expect_ids "101 7592 2088 102" "Hello world" --model "$VOCABS/ggml-vocab-bert-bge.gguf" --add-special

# --parse-special: "<s>" is one id only when asked for.
plain=$(printf '<s>Hi' | "$RAGD" tokenize --model "$VOCABS/ggml-vocab-llama-spm.gguf")
[[ $plain != 1\ * ]] || fail "'<s>' parsed as BOS without --parse-special: $plain"
parsed=$(printf '<s>Hi' | "$RAGD" tokenize --model "$VOCABS/ggml-vocab-llama-spm.gguf" --parse-special)
[[ $parsed == 1\ * ]] || fail "'<s>' not parsed as BOS with --parse-special: $parsed"

# stdin is taken byte for byte: a trailing newline is a token, and empty input is an empty line.
expect_ids "15496 995 198" $'Hello world\n' --model "$VOCABS/ggml-vocab-gpt-2.gguf"
expect_ids "" "" --model "$VOCABS/ggml-vocab-gpt-2.gguf"

# The default model: ChatML markers are single ids with --parse-special.
if [[ -f $SMOL ]]; then
  expect_ids "19556 905" "Hello world" --model "$SMOL" --add-special
  expect_ids "1 4093 198 19556 2" $'<|im_start|>user\nHello<|im_end|>' --model "$SMOL" --parse-special
fi

# Errors: a missing file and a file without a tokenizer fail with a message, not a crash.
if out=$(printf 'x' | "$RAGD" tokenize --model "$ROOT/no-such-model.gguf" 2>&1); then
  fail "tokenize of a missing file succeeded"
fi
[[ $out == error:* ]] || fail "missing file: unexpected message '$out'"
if out=$(printf 'x' | "$RAGD" tokenize 2>&1); then fail "tokenize without --model succeeded"; fi
[[ $out == *--model* ]] || fail "missing --model: unexpected message '$out'"

echo "PASS"
