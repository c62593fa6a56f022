#!/usr/bin/env bash
# The command line as people type it: a mistyped command names the closest one, global
# options may follow the subcommand, and an unknown option is still an error.
# Usage: cli_usage_test.sh PATH-TO-RAGD REPO-ROOT
set -euo pipefail

RAGD=$1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# expect_error EXPECTED-MESSAGE COMMAND...: the command fails and says EXPECTED-MESSAGE.
expect_error() {
  local want=$1
  shift
  if "$@" >"$T/out" 2>&1; then fail "'$*' succeeded; expected an error saying '$want'"; fi
  grep -qF -- "$want" "$T/out" || fail "'$*' said: $(cat "$T/out"); expected '$want'"
}

expect_error "unknown command 'serch'; did you mean 'search'?" "$RAGD" serch
expect_error "unknown command 'injest'; did you mean 'ingest'?" "$RAGD" injest docs/
expect_error "unknown command 'xyzzy' ('ragd --help' lists the commands)" "$RAGD" xyzzy
grep -q "did you mean" "$T/out" && fail "a far-off word got a suggestion: $(cat "$T/out")"
expect_error "unknown command 'serch'" "$RAGD" --log-level info serch

# --log-level before or after the subcommand.
mkdir -p "$T/models"
RAGD_MODEL_DIR=$T/models "$RAGD" --log-level warn models >/dev/null || fail "--log-level before the command"
RAGD_MODEL_DIR=$T/models "$RAGD" models --log-level warn >/dev/null || fail "--log-level after the command"
expect_error "not expected" env RAGD_MODEL_DIR="$T/models" "$RAGD" models --log-levl warn

echo "PASS"
