#!/usr/bin/env bash
# ragd chat driven through a pipe as a script would: '/' lines are commands that never reach
# the model (/help, an unknown one, /system, /bye), a question gets an answer, and Ctrl-C
# (SIGINT) while an answer is written stops that answer but not the chat.
# Usage: chat_cli_test.sh PATH-TO-RAGD REPO-ROOT (exit 77 = skipped).
set -euo pipefail

RAGD=$1
ROOT=$2
MODEL=$ROOT/models/SmolLM2-135M-Instruct.Q4_1.gguf
[[ -f $MODEL ]] || { echo "SKIP: $MODEL not installed" >&2; exit 77; }
T=$(mktemp -d)
pid=""
cleanup() { [[ -n $pid ]] && kill -9 "$pid" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; echo "--- stdout" >&2; cat "$T/out" >&2; echo "--- stderr" >&2; cat "$T/err" >&2; exit 1; }

# Commands are answered on stderr; only the question reaches the model (stdout).
printf '/help\n/bogus\n/system You are terse.\nName a colour.\n/bye\nnever read\n' |
  "$RAGD" chat -m "$MODEL" -t 2 --temp 0 -n 8 >"$T/out" 2>"$T/err" || fail "chat exited with $?"
grep -q "/reset, /clear" "$T/err" || fail "/help printed no command list"
grep -q "unknown command /bogus" "$T/err" || fail "an unknown command was not refused"
grep -q "system prompt set" "$T/err" || fail "/system was not acknowledged"
[[ $(grep -c . "$T/out") -eq 1 ]] || fail "expected exactly one answer on stdout"

# Ctrl-C during a long answer: the answer stops, the chat goes on to the next line.
mkfifo "$T/in"
"$RAGD" chat -m "$MODEL" -t 2 --temp 0 -n 2000 <"$T/in" >"$T/out" 2>"$T/err" &
pid=$!
exec 3>"$T/in"
echo "Tell me a very long story about a dragon and a knight." >&3
for _ in $(seq 600); do [[ -s $T/out ]] && break; sleep 0.1; done
[[ -s $T/out ]] || fail "no answer started within 60 s"
kill -INT "$pid"
for _ in $(seq 100); do grep -q "(interrupted)" "$T/err" && break; sleep 0.1; done
grep -q "(interrupted)" "$T/err" || fail "Ctrl-C did not stop the answer"
kill -0 "$pid" 2>/dev/null || fail "Ctrl-C ended the chat"
echo "/bye" >&3
exec 3>&-
wait "$pid" || fail "chat exited with $? after /bye"
pid=""

echo "PASS"
