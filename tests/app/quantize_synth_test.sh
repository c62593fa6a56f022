#!/usr/bin/env bash
# End-to-end test of `ragd synth` and `ragd quantize`: synthesize a small SmolLM2-shaped
# model in F32, quantize it to Q8_0 and Q4_K_M, and check with `ragd inspect` that every
# tensor has the type llama.cpp's rules give it; bad arguments must fail with a clear
# message. Usage: quantize_synth_test.sh PATH-TO-RAGD REPO-ROOT (exit 77 = skipped).
set -euo pipefail

RAGD=$1
ROOT=$2
SHARED=$ROOT/../shared

VOCAB=""
for candidate in "$SHARED/models/stories260K.gguf" \
                 "$SHARED/data/tokenizer/ggml-vocab-llama-spm.gguf" \
                 "$ROOT/models/SmolLM2-135M-Instruct.Q4_1.gguf"; do
  if [[ -f $candidate ]]; then VOCAB=$candidate; break; fi
done
if [[ -z $VOCAB ]]; then
  echo "SKIP: no GGUF with a vocabulary found" >&2
  exit 77
fi

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

# expect_type FILE TENSOR TYPE: the tensor table of FILE lists TENSOR with TYPE.
expect_type() {
  local got
  got=$(awk -v n="$2" '$1 == n { print $2 }' "$1.inspect")
  [[ $got == "$3" ]] || fail "$1: $2 has type '$got', expected '$3'"
}
expect_meta() {
  grep -qF -- "  $2 = $3" "$1.inspect" || fail "$1: metadata '$2 = $3' not found"
}
inspect() { "$RAGD" inspect "$1" >"$1.inspect" || fail "inspect $1"; }

# expect_error EXPECTED-MESSAGE COMMAND...: the command fails and says EXPECTED-MESSAGE.
expect_error() {
  local msg=$1; shift
  if "$@" >"$T/out" 2>&1; then fail "'$*' succeeded, expected an error"; fi
  grep -qi -- "$msg" "$T/out" || { cat "$T/out" >&2; fail "'$*': message lacks '$msg'"; }
}

# --- synth F32 -----------------------------------------------------------------------
"$RAGD" synth --arch smollm2-135m --type f32 --vocab "$VOCAB" --layers 2 --seed 7 >/dev/null \
  "$T/f32.gguf" 2>"$T/synth.err" || { cat "$T/synth.err" >&2; fail "synth f32"; }
grep -q "tensor" "$T/synth.err" || fail "synth printed no progress on stderr"
inspect "$T/f32.gguf"
expect_meta "$T/f32.gguf" llama.block_count 2
expect_meta "$T/f32.gguf" llama.embedding_length 576
expect_meta "$T/f32.gguf" llama.attention.head_count_kv 3
expect_meta "$T/f32.gguf" general.file_type 0
grep -q "tokenizer.ggml.tokens = \[" "$T/f32.gguf.inspect" || fail "vocab not copied"
for t in token_embd.weight blk.0.attn_q.weight blk.1.ffn_down.weight blk.1.ffn_norm.weight \
         output_norm.weight; do
  expect_type "$T/f32.gguf" "$t" f32
done
grep -q "^  output.weight " "$T/f32.gguf.inspect" && fail "tied model has output.weight"

# --- quantize to q8_0 ----------------------------------------------------------------
"$RAGD" quantize "$T/f32.gguf" "$T/q8.gguf" q8_0 --threads 2 >"$T/q8.out" 2>"$T/q8.err" \
  || { cat "$T/q8.err" >&2; fail "quantize q8_0"; }
grep -q "wrote" "$T/q8.out" || fail "quantize printed no summary"
inspect "$T/q8.gguf"
expect_meta "$T/q8.gguf" general.file_type 7
expect_meta "$T/q8.gguf" general.quantization_version 2
expect_meta "$T/q8.gguf" llama.block_count 2
for t in token_embd.weight blk.0.attn_q.weight blk.0.attn_v.weight blk.1.ffn_down.weight; do
  expect_type "$T/q8.gguf" "$t" q8_0
done
expect_type "$T/q8.gguf" blk.0.attn_norm.weight f32
[[ -e $T/q8.gguf.part ]] && fail "left a .part file"

# --- quantize to q4_k_m: rows of 576 do not fit 256-blocks, so llama.cpp's fallbacks apply
"$RAGD" quantize "$T/f32.gguf" "$T/q4km.gguf" Q4_K_M --no-progress >/dev/null 2>"$T/q4km.err" \
  || { cat "$T/q4km.err" >&2; fail "quantize q4_k_m"; }
grep -q "note: .*not a multiple" "$T/q4km.err" || fail "no fallback note for 576-long rows"
inspect "$T/q4km.gguf"
expect_meta "$T/q4km.gguf" general.file_type 15
expect_type "$T/q4km.gguf" token_embd.weight q8_0        # tied output: Q6_K → Q8_0
expect_type "$T/q4km.gguf" blk.0.attn_q.weight q5_0      # Q4_K → Q5_0
expect_type "$T/q4km.gguf" blk.0.attn_v.weight q5_0      # layer 0 of 2: not "more bits"
expect_type "$T/q4km.gguf" blk.1.attn_v.weight q8_0      # more bits: Q6_K → Q8_0
expect_type "$T/q4km.gguf" blk.0.ffn_down.weight q4_k    # rows of 1536 fit
expect_type "$T/q4km.gguf" blk.1.ffn_down.weight q6_k
expect_type "$T/q4km.gguf" blk.0.ffn_norm.weight f32

# Synthesizing straight to q4_k_m gives the same tensor table as quantizing the F32 file.
"$RAGD" synth --arch smollm2-135m --type q4_k_m --vocab "$VOCAB" --layers 2 --seed 7 \
  --no-progress "$T/direct.gguf" >/dev/null 2>&1 || fail "synth q4_k_m"
inspect "$T/direct.gguf"
diff <(sed -n '/^tensors/,$p' "$T/direct.gguf.inspect") \
     <(sed -n '/^tensors/,$p' "$T/q4km.gguf.inspect") >/dev/null \
  || fail "synth q4_k_m and quantize q4_k_m disagree on the tensor table"

# Re-quantizing a quantized file works too.
"$RAGD" quantize "$T/q8.gguf" "$T/q4_0.gguf" q4_0 --no-progress >/dev/null 2>&1 \
  || fail "requantize q8_0 -> q4_0"
inspect "$T/q4_0.gguf"
expect_type "$T/q4_0.gguf" blk.0.attn_q.weight q4_0
expect_meta "$T/q4_0.gguf" general.file_type 2

# --- bad arguments -------------------------------------------------------------------
expect_error "unknown type" "$RAGD" quantize "$T/f32.gguf" "$T/bad.gguf" q3_xx
expect_error "does not exist" "$RAGD" quantize "$T/missing.gguf" "$T/bad.gguf" q8_0
expect_error "required" "$RAGD" quantize "$T/f32.gguf"
expect_error "not a GGUF" "$RAGD" quantize "$T/q8.out" "$T/bad.gguf" q8_0
expect_error "unknown architecture" "$RAGD" synth --arch gpt-17 --type f32 --vocab "$VOCAB" \
  "$T/bad.gguf"
expect_error "unknown type" "$RAGD" synth --arch smollm2-135m --type q9 --vocab "$VOCAB" \
  "$T/bad.gguf"
expect_error "layers" "$RAGD" synth --arch smollm2-135m --type f32 --vocab "$VOCAB" \
  --layers 0 "$T/bad.gguf"
expect_error "not a GGUF" "$RAGD" synth --arch smollm2-135m --type f32 --vocab "$T/q8.out" \
  "$T/bad.gguf"
[[ -e $T/bad.gguf || -e $T/bad.gguf.part ]] && fail "a failed command left an output file"
# An unknown kernel level is refused by name, not silently replaced by the default.
RAGD_ISA=avx513 expect_error "RAGD_ISA=avx513" "$RAGD" inspect "$T/q8.gguf"

echo "PASS"
