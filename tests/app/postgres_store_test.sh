#!/usr/bin/env bash
# `ragd ingest` / `ragd search` / `ragd collections` on the PostgreSQL store (--store
# postgres://…) through the real binary, against a PostgreSQL server this test starts from
# Debian's package in a temporary directory on a free 127.0.0.1 port (unix socket in the
# same directory) and stops at the end. Two "replicas" (two --db cache directories) see the
# same data. Skipped (77) when the server binaries are not installed.
# Usage: postgres_store_test.sh PATH/TO/ragd REPO_ROOT
set -euo pipefail
ragd="$1"
command -v python3 >/dev/null || { echo "python3 not found: skipping"; exit 77; }
bindir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
[ -n "$bindir" ] && [ -x "$bindir/initdb" ] || { echo "skip: PostgreSQL is not installed (apt-get install postgresql)"; exit 77; }

tmp="$(mktemp -d)"
pg_pid=""
cleanup() {
  # SIGTERM (smart shutdown: no client is left): a background job of a non-interactive
  # shell starts with SIGQUIT and SIGINT ignored, so those may not stop it. KILL after 10 s.
  if [ -n "$pg_pid" ]; then
    kill -TERM "$pg_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pg_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pg_pid" 2>/dev/null || true
    wait "$pg_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$tmp/pg/postgres.log" ] && tail -20 "$tmp/pg/postgres.log" >&2; exit 1; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
export RAGD_MODEL_DIR="$tmp/no-models"  # model-free: BM25 only

# PostgreSQL refuses to run as root: then run it as the package's 'postgres' user.
as_pg() { if [ "$(id -u)" = 0 ]; then setpriv --reuid=postgres --regid=postgres --clear-groups "$@"; else "$@"; fi; }
mkdir -p "$tmp/pg"
if [ "$(id -u)" = 0 ]; then chmod 711 "$tmp"; chown postgres:postgres "$tmp/pg"; fi
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
as_pg "$bindir/initdb" -D "$tmp/pg/data" -U ragd --auth=trust --no-sync -E UTF8 --locale=C > "$tmp/pg/initdb.log" 2>&1 \
  || { cat "$tmp/pg/initdb.log"; fail "initdb"; }
as_pg "$bindir/postgres" -D "$tmp/pg/data" -p "$port" -k "$tmp/pg" -c listen_addresses=127.0.0.1 -c fsync=off \
  > "$tmp/pg/postgres.log" 2>&1 &
pg_pid=$!
for _ in $(seq 1 300); do "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" && break; sleep 0.1; done
"$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" || fail "postgres did not start"
store="postgresql://ragd@127.0.0.1:$port/postgres"

mkdir -p "$tmp/docs"
cat > "$tmp/docs/guide.md" <<'MD'
# Widget guide

## Installation

Install the frobnicator with the package manager. It needs a kernel newer than 5.10.

## Troubleshooting

If the widget squeaks, oil the hinges.
MD
echo "Quarterly revenue grew because of strong zeppelin sales." > "$tmp/docs/report.txt"
cat > "$tmp/docs/records.jsonl" <<'JSONL'
{"_id": "r1", "title": "Volcano", "text": "Magma chambers feed eruptions.", "lang": "en"}
{"_id": "r2", "title": "Vulkan", "text": "Magmakammern speisen Ausbrüche.", "lang": "de"}
JSONL

echo "--- ingest through replica A"
out="$("$ragd" ingest "$tmp/docs" --db "$tmp/a" --store "$store" --json -q)"
[ "$(echo "$out" | json 'd["documents_added"]')" = 4 ] || fail "expected 4 documents: $out"
[ "$(echo "$out" | json 'd["errors"]')" = 0 ] || fail "errors: $out"
[ ! -e "$tmp/a/ragd.db" ] || fail "an SQLite database was created next to the PostgreSQL store"

echo "--- search through replica B"
top="$("$ragd" search "how do I install the frobnicator" --db "$tmp/b" --store "$store" --json | json 'd["results"][0]["title"] + "|" + d["results"][0]["heading"]')"
[ "$top" = "Widget guide|Installation" ] || fail "unexpected top hit: $top"
de="$(RAGD_STORE="$store" "$ragd" search "magma magmakammern" --db "$tmp/b" --filter lang=de --json | json '[r["document"] for r in d["results"]]')"
[ "$de" = "['r2']" ] || fail "metadata filter: $de"
n="$("$ragd" search "zeppelin" --db "$tmp/b" --store "$store" --json | json 'len(d["results"])')"
[ "$n" = 1 ] || fail "zeppelin: $n hits"
"$ragd" search '"; DROP TABLE chunks; -- & | !' --db "$tmp/b" --store "$store" --json > /dev/null || fail "hostile query"

echo "--- re-ingest is a no-op; a changed file replaces its chunks"
out="$("$ragd" ingest "$tmp/docs" --db "$tmp/b" --store "$store" --json -q)"
[ "$(echo "$out" | json 'd["chunks_written"]')" = 0 ] || fail "chunks rewritten: $out"
echo "Quarterly revenue fell: airships are out of fashion." > "$tmp/docs/report.txt"
"$ragd" ingest "$tmp/docs" --db "$tmp/a" --store "$store" --json -q > /dev/null
n="$("$ragd" search "zeppelin" --db "$tmp/b" --store "$store" --json | json 'len(d["results"])')"
[ "$n" = 0 ] || fail "stale chunk still found ($n hits)"
n="$("$ragd" search "airships" --db "$tmp/b" --store "$store" --json | json 'len(d["results"])')"
[ "$n" = 1 ] || fail "new chunk not found ($n hits)"

echo "--- collections and errors"
"$ragd" collections --db "$tmp/b" --store "$store" | grep -q default || fail "collections listing"
err="$("$ragd" search x --db "$tmp/b" --store "$store" --collection nope 2>&1 || true)"
echo "$err" | grep -q "collection 'nope' does not exist" || fail "missing collection: $err"
err="$("$ragd" search x --db "$tmp/b" --store "mysql://x" 2>&1 || true)"
echo "$err" | grep -q "unknown store 'mysql://x'" || fail "bad --store: $err"
err="$("$ragd" search x --db "$tmp/b" --store "postgresql://u:hunter2@127.0.0.1:1/db" 2>&1 || true)"
echo "$err" | grep -q "cannot connect to PostgreSQL" || fail "unreachable server: $err"
echo "$err" | grep -q hunter2 && fail "password in the error: $err"
echo "PASS"
