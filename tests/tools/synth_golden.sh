#!/usr/bin/env bash
# Records the llama.cpp golden of a synthetic model for tests/engine/synthetic_golden_test.cpp:
# writes the random-weight file with `ragd synth` (F32, few layers, seeded: the test
# regenerates the same bytes) and runs tests/tools/llama_golden.py on it (short prompts, 40
# greedy tokens). The file is deleted afterwards; only the JSON is kept.
#   tests/tools/synth_golden.sh RAGD LLAMA_SERVER ARCH LAYERS SEED VOCAB.gguf OUT.json
# --no-repack: the AMX repack of some llama.cpp builds dies with SIGILL on such machines.
set -euo pipefail
[ $# -eq 7 ] || { echo "usage: $0 RAGD LLAMA_SERVER ARCH LAYERS SEED VOCAB.gguf OUT.json" >&2; exit 2; }
ragd=$1 server=$2 arch=$3 layers=$4 seed=$5 vocab=$6 out=$7
here="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$ragd" synth --arch "$arch" --type f32 --pure --layers "$layers" --seed "$seed" \
  --vocab "$vocab" --no-progress "$tmp/$arch-L$layers-seed$seed-f32.gguf"
python3 "$here/llama_golden.py" --server "$server" --model "$tmp/$arch-L$layers-seed$seed-f32.gguf" --out "$out" \
  --short --n-predict 40 --extra=--no-repack
