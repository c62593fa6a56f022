#!/usr/bin/env bash
# The default embedder against an independent implementation: tests/tools/bert_reference.py
# runs a numpy BERT forward on the ORIGINAL checkpoint (safetensors + Hugging Face
# tokenizers ids) and compares `ragd embed` on the converted GGUF (f32: cosine >= 0.9999,
# plus f16 and q8_0 conversions made here) and `ragd tokenize` ids. Also checks that the
# conversion is deterministic (same bytes as models/all-MiniLM-L6-v2.F32.gguf).
# Usage: embed_reference_test.sh PATH-TO-RAGD REPO-ROOT (exit 77 = skipped: no numpy/
# safetensors/tokenizers, or the model was not fetched).
set -euo pipefail

RAGD=$1
ROOT=$2
MODELS=${RAGD_MODEL_DIR:-$ROOT/models}
ZIP=$MODELS/all-MiniLM-L6-v2.model.zip
GGUF=$MODELS/all-MiniLM-L6-v2.F32.gguf

PY=python3
[[ -x $ROOT/.venv/bin/python ]] && PY=$ROOT/.venv/bin/python
if ! "$PY" -c 'import numpy, safetensors, tokenizers' 2>/dev/null; then
  echo "SKIP: numpy/safetensors/tokenizers not installed (scripts/setup packages)" >&2
  exit 77
fi
CKPT=$MODELS/all-MiniLM-L6-v2  # RAGD_MODEL_SOURCE=hf: the checkpoint directory
if [[ ! -f $GGUF || ( ! -f $ZIP && ! -f $CKPT/model.safetensors ) ]]; then
  echo "SKIP: $GGUF or its checkpoint missing (make fetches and converts them)" >&2
  exit 77
fi

fail() { echo "FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

SRC=$tmp/all-MiniLM-L6-v2  # the directory's name is general.name
if [[ -f $ZIP ]]; then
  "$PY" -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$ZIP" "$SRC"
else
  cp -r "$CKPT" "$SRC"
fi
"$RAGD" convert "$SRC" "$tmp/f32.gguf" --no-progress >/dev/null 2>&1 ||
  fail "convert f32"
cmp -s "$tmp/f32.gguf" "$GGUF" || fail "conversion is not deterministic: $tmp/f32.gguf differs from $GGUF"
for t in f16 q8_0; do
  "$RAGD" convert "$SRC" "$tmp/$t.gguf" --type $t --no-progress >/dev/null 2>&1 ||
    fail "convert $t"
done

inputs=$ROOT/../shared/data/tokenizer/ggml-vocab-bert-bge.gguf.inp
"$PY" "$ROOT/tests/tools/bert_reference.py" --ragd "$RAGD" --src "$SRC" \
  --gguf "$GGUF:0.9999" --gguf "$tmp/f16.gguf:0.9999" --gguf "$tmp/q8_0.gguf:0.998" \
  --inputs "$inputs" || fail "embeddings differ from the numpy reference"

# `ragd embed` basics: one vector of 384 floats per line; an empty line is embedded too.
n=$(printf 'one\n\nthree\n' | "$RAGD" embed --model "$GGUF" | wc -l)
[[ $n == 3 ]] || fail "embed printed $n lines for 3 input lines"
d=$(printf 'hello\n' | "$RAGD" embed --model "$GGUF" | wc -w)
[[ $d == 384 ]] || fail "embed printed $d values, expected 384"
if out=$(printf 'x' | "$RAGD" embed --model "$ROOT/no-such-model.gguf" 2>&1); then
  fail "embed with a missing model succeeded"
fi
[[ $out == error:* ]] || fail "missing model: unexpected message '$out'"
echo "PASS"
