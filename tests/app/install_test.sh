#!/usr/bin/env bash
# `make install` and the deployment files: installs the build tree that holds the given
# binary (cmake --install --strip) into a temporary PREFIX, and with DESTDIR, then checks
#  - bin/ragd runs, is stripped (no .debug_info, no .symtab) and far smaller than the build's;
#  - the default settings are installed, accepted by `ragd serve` (which serves /health with
#    them), kept when installing again, and a mistyped key in them is refused;
#  - the bash completion offers every subcommand `ragd --help` lists (and theirs, and their
#    options), and leaves an option's value to file-name completion;
#  - the systemd unit names the installed paths and passes `systemd-analyze verify`;
#  - deploy/Dockerfile: known instructions, named stages, a non-root user, port 8080, a
#    HEALTHCHECK, runtime packages that hold every shared library ragd links (NEEDED) and that
#    Debian has; the entrypoint's health probe against a real server.
# Usage: install_test.sh PATH-TO-RAGD REPO-ROOT (exit 77 = skipped).
set -euo pipefail

RAGD=$1
ROOT=$2
BUILD=$(cd "$(dirname "$RAGD")/.." && pwd)
SMOL=$ROOT/models/SmolLM2-135M-Instruct.Q4_1.gguf

fail() { echo "FAIL: $*" >&2; exit 1; }
[[ -f $BUILD/cmake_install.cmake ]] || { echo "SKIP: $BUILD has no cmake_install.cmake" >&2; exit 77; }
command -v readelf >/dev/null || { echo "SKIP: readelf (binutils) not installed" >&2; exit 77; }

TMP=$(mktemp -d)
SERVER_PID=
cleanup() {
  [[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT

# --- install into PREFIX ---------------------------------------------------------------
PREFIX=$TMP/prefix
cmake --install "$BUILD" --prefix "$PREFIX" --strip >"$TMP/install.log" 2>&1 ||
  fail "cmake --install: $(cat "$TMP/install.log")"
BIN=$PREFIX/bin/ragd
[[ -x $BIN ]] || fail "no $BIN after install"
want=$("$RAGD" --version)
got=$("$BIN" --version) || fail "installed ragd --version failed"
[[ $got == "$want" && $got == "ragd "* ]] || fail "installed --version says '$got', the build's '$want'"

# Stripped: no debug sections and no symbol table (what `file` reports as "stripped").
sections=$(readelf -S -W "$BIN")
[[ $sections != *.debug_info* ]] || fail "installed ragd still has .debug_info"
[[ $sections != *" .symtab "* ]] || fail "installed ragd still has a symbol table"
if command -v file >/dev/null; then
  [[ $(file -b "$BIN") == *", stripped"* ]] || fail "file: $(file -b "$BIN")"
fi
built_size=$(stat -c %s "$RAGD")
installed_size=$(stat -c %s "$BIN")
# The default build is -O3 with full debug info; stripped, the code and data remain (about a
# tenth). Sanitizer builds (make asan / tsan) carry little debug info and much instrumented
# code, so there only the section checks above apply.
sanitizer_build=false
grep -Eq '^RAGD_(ASAN|TSAN):BOOL=ON' "$BUILD/CMakeCache.txt" 2>/dev/null && sanitizer_build=true
if $sanitizer_build; then
  echo "sanitizer build: size ratio not checked"
else
  ((installed_size * 3 < built_size)) ||
    fail "installed ragd is $installed_size bytes, the build's $built_size: not stripped of its debug info"
fi
echo "ragd: build $((built_size / 1048576)) MiB, installed $((installed_size / 1048576)) MiB"

# --- default settings ------------------------------------------------------------------
CONF=$PREFIX/etc/ragd/ragd.yaml
cmp -s "$CONF" "$ROOT/deploy/ragd.yaml" || fail "$CONF is not deploy/ragd.yaml"
cmp -s "$PREFIX/share/ragd/ragd.yaml" "$ROOT/deploy/ragd.yaml" || fail "share/ragd/ragd.yaml missing"

export RAGD_MODEL_DIR=$TMP/models RAGD_DATA_DIR=$TMP/data
mkdir -p "$RAGD_MODEL_DIR"
# A misspelt key is refused by name: the check below, that the shipped file starts, means
# every key in it is one `ragd serve` reads.
sed 's/^  max_batch_tokens:/  max_batch_tokenz:/' "$CONF" >"$TMP/bad.yaml"
err=$("$BIN" serve --config "$TMP/bad.yaml" --port 0 2>&1 >/dev/null) && fail "a config with a typo was accepted"
[[ $err == *"unknown setting 'scheduler.max_batch_tokenz'"* ]] || fail "typo in config: $err"

PORT=
if [[ -f $SMOL ]]; then
  ln -s "$SMOL" "$RAGD_MODEL_DIR/SmolLM2-135M-Instruct.Q4_1.gguf"
  "$BIN" serve --config "$CONF" --port 0 --threads 1 >"$TMP/serve.out" 2>"$TMP/serve.err" &
  SERVER_PID=$!
  for _ in $(seq 100); do
    grep -q "listening on" "$TMP/serve.out" && break
    kill -0 "$SERVER_PID" 2>/dev/null || fail "serve --config $CONF exited: $(cat "$TMP/serve.err")"
    sleep 0.1
  done
  PORT=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$TMP/serve.out" | sed 's/.*://') ||
    fail "serve --config $CONF did not start: $(cat "$TMP/serve.err")"
  [[ $(curl -sS "http://127.0.0.1:$PORT/health") == *ok* ]] || fail "GET /health with the default settings"
else
  # Without a model, serve stops after reading every setting it checks before models.
  err=$("$BIN" serve --config "$CONF" --port 0 2>&1 >/dev/null) && fail "serve without a model started"
  [[ $err == *"no default model is installed"* ]] || fail "serve --config $CONF: $err"
fi

# The installed settings are the administrator's: a second install keeps them.
echo "# edited" >>"$CONF"
cmake --install "$BUILD" --prefix "$PREFIX" >"$TMP/install2.log" 2>&1 || fail "second install: $(cat "$TMP/install2.log")"
[[ $(tail -1 "$CONF") == "# edited" ]] || fail "a second install overwrote $CONF"
grep -q "Keeping: .*ragd.yaml" "$TMP/install2.log" || fail "the second install did not say it kept $CONF"

# --- bash completion -------------------------------------------------------------------
COMPLETION=$PREFIX/share/bash-completion/completions/ragd
[[ -f $COMPLETION ]] || fail "no $COMPLETION"
bash -n "$COMPLETION" || fail "$COMPLETION is not valid bash"
# complete WORD...: what the completion offers for the last word of `ragd WORD...`.
complete_words() {
  # Sourced inside a function, as bash-completion's on-demand loader does.
  bash -c 'load() { source "$1"; }; load "$1"; shift
           COMP_WORDS=(ragd "$@"); COMP_CWORD=$#; _ragd; printf "%s\n" "${COMPREPLY[@]}"' _ "$COMPLETION" "$@"
}
# The subcommands of `ragd ARGS --help`, read here independently of the generator.
subcommands_of() {
  "$RAGD" "$@" --help | awk '/^Subcommands:$/ { s = 1; next } /^$/ { s = 0 } s && /^  [a-z]/ { print $1 }'
}
top=$(subcommands_of)
(($(wc -l <<<"$top") >= 15)) || fail "ragd --help lists only: $top"
offered=$(complete_words "")
for sub in $top; do
  grep -qx "$sub" <<<"$offered" || fail "completion does not offer '$sub' (offers: $offered)"
  for nested in $(subcommands_of "$sub"); do
    grep -qx "$nested" <<<"$(complete_words "$sub" "")" || fail "completion does not offer '$sub $nested'"
  done
done
[[ $(complete_words ser) == serve ]] || fail "'ragd ser<TAB>' gives '$(complete_words ser)'"
grep -qx -- "--port" <<<"$(complete_words serve --p)" || fail "'ragd serve --p<TAB>' does not offer --port"
grep -qx -- "--warmup" <<<"$(complete_words --log-level debug serve --w)" || fail "options after a global option's value"
# After an option that takes a value, the value (a file here) is left to bash's default.
[[ -z $(complete_words serve --config "") ]] || fail "'ragd serve --config <TAB>' offers words, not files"
[[ -z $(complete_words eval beir --data "") ]] || fail "'ragd eval beir --data <TAB>' offers words"
grep -qx -- "--data" <<<"$(complete_words eval beir --d)" || fail "'ragd eval beir --d<TAB>' does not offer --data"

# --- systemd unit ----------------------------------------------------------------------
UNIT=$PREFIX/lib/systemd/system/ragd.service
[[ -f $UNIT ]] || fail "no $UNIT"
grep -qx "ExecStart=$PREFIX/bin/ragd serve --config $PREFIX/etc/ragd/ragd.yaml --warmup" "$UNIT" ||
  fail "the installed unit does not start the installed binary with the installed settings: $(grep ExecStart "$UNIT")"
[[ -f $PREFIX/lib/sysusers.d/ragd.conf ]] || fail "no sysusers.d/ragd.conf"
grep -Eq '^u +ragd ' "$PREFIX/lib/sysusers.d/ragd.conf" || fail "sysusers.d/ragd.conf does not create user ragd"
for setting in Type=simple User=ragd StateDirectory= Restart=on-failure NoNewPrivileges=yes ProtectSystem=strict \
  ProtectHome=yes PrivateTmp=yes PrivateDevices=yes "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX" \
  MemoryDenyWriteExecute=yes SystemCallFilter=@system-service "CapabilityBoundingSet=" LockPersonality=yes \
  RestrictNamespaces=yes ProtectKernelTunables=yes ProtectKernelModules=yes ProtectControlGroups=yes; do
  grep -q "^$setting" "$UNIT" || fail "the unit lacks $setting"
done
if command -v systemd-analyze >/dev/null; then
  # verify checks every key and value, and that ExecStart's binary exists. The user ragd
  # need not exist on the test machine: that one message is left out.
  out=$(SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no "$UNIT" 2>&1) || true
  out=$(grep -v -e "ragd.service: Failed to resolve user" -e "^$" <<<"$out" || true)
  [[ -z $out ]] || fail "systemd-analyze verify $UNIT: $out"
fi

# --- DESTDIR ---------------------------------------------------------------------------
DESTDIR=$TMP/dest cmake --install "$BUILD" --prefix /usr/local --strip >"$TMP/install3.log" 2>&1 ||
  fail "DESTDIR install: $(cat "$TMP/install3.log")"
for f in bin/ragd etc/ragd/ragd.yaml share/ragd/ragd.yaml share/bash-completion/completions/ragd \
  lib/systemd/system/ragd.service lib/sysusers.d/ragd.conf; do
  [[ -f $TMP/dest/usr/local/$f ]] || fail "DESTDIR install lacks /usr/local/$f"
done
cmp -s "$TMP/dest/usr/local/lib/systemd/system/ragd.service" "$ROOT/deploy/systemd/ragd.service" ||
  fail "installed to /usr/local, the unit should be deploy/systemd/ragd.service unchanged"

# --- Dockerfile ------------------------------------------------------------------------
DOCKERFILE=$ROOT/deploy/Dockerfile
# Instructions, one per logical line (continuations joined, comments and blanks dropped).
instructions=$(awk '/^[ \t]*#/ && !cont { next } /^[ \t]*$/ { next }
  { line = cont ? line " " $0 : $0 } /\\$/ { sub(/\\$/, "", line); cont = 1; next }
  { print line; cont = 0; line = "" }' "$DOCKERFILE")
known=" FROM RUN COPY ADD ENV ARG WORKDIR USER EXPOSE HEALTHCHECK ENTRYPOINT CMD VOLUME LABEL STOPSIGNAL SHELL ONBUILD "
stages=()
while read -r keyword rest; do
  [[ $known == *" $keyword "* ]] || fail "Dockerfile: unknown instruction '$keyword'"
  if [[ $keyword == FROM ]]; then
    [[ $rest =~ ^[^[:space:]]+[[:space:]]+AS[[:space:]]+([a-z0-9_-]+)$ ]] || fail "Dockerfile: unnamed stage: FROM $rest"
    stages+=("${BASH_REMATCH[1]}")
  fi
  if [[ $keyword == COPY && $rest =~ --from=([^[:space:]]+) ]]; then
    [[ " ${stages[*]} " == *" ${BASH_REMATCH[1]} "* ]] || fail "Dockerfile: COPY --from=${BASH_REMATCH[1]}: no such earlier stage"
  fi
done <<<"$instructions"
((${#stages[@]} >= 2)) || fail "Dockerfile: not multi-stage (${stages[*]})"
# The final stage: runs as a named non-root user, exposes 8080, probes /health.
final=$(awk -v last="${stages[-1]}" '$1 == "FROM" { s = ($NF == last) } s' <<<"$instructions")
grep -Eq '^USER +ragd$' <<<"$final" || fail "Dockerfile: the runtime stage does not run as ragd"
grep -Eq '^EXPOSE +8080$' <<<"$final" || fail "Dockerfile: no EXPOSE 8080"
grep -q '^HEALTHCHECK .*health' <<<"$final" || fail "Dockerfile: no HEALTHCHECK on /health"
grep -q 'RAGD_MODEL_DIR=/var/lib/ragd/models' <<<"$final" || fail "Dockerfile: models are not in /var/lib/ragd/models"
grep -q -- '-DRAGD_BUILD_TESTS=OFF' <<<"$instructions" || fail "Dockerfile: the build stage builds the tests"
grep -q -- '--strip' <<<"$instructions" || fail "Dockerfile: the binary is not installed stripped"
# Package lists: the build stage's come from scripts/setup; the runtime stage's cover every
# shared library the binary links (dpkg -S), and exist in Debian (apt-cache).
packages_of() {  # the packages of the first apt-get install in stage $1
  awk -v st="$1" '$1 == "FROM" { s = ($NF == st) } s && /apt-get install/' <<<"$instructions" |
    sed 's/.*apt-get install[^&]*--no-install-recommends//; s/&&.*//; s/\$(.*)//' | tr ' ' '\n' | grep -v '^$'
}
build_packages=$(packages_of build)
runtime_packages=$(packages_of "${stages[-1]}")
setup_packages=$(sed -n '/^debian_packages=(/,/^)/p' "$ROOT/scripts/setup" | sed 's/#.*//')
for p in $build_packages; do
  grep -qw -- "$p" <<<"$setup_packages" || fail "Dockerfile build stage installs $p, which scripts/setup does not"
done
if command -v dpkg >/dev/null && command -v ldd >/dev/null; then
  # The libraries the binary names itself (NEEDED); theirs come with their packages.
  libs=$(ldd "$BIN")
  while read -r soname; do
    lib=$(awk -v so="$soname" '$1 == so && $2 == "=>" { print $3 }' <<<"$libs")
    [[ -n $lib ]] || fail "ldd does not resolve $soname"
    pkg=$(dpkg -S "$(readlink -f "$lib")" 2>/dev/null | head -1 | cut -d: -f1) || true
    [[ -n $pkg ]] || pkg=$(dpkg -S "$lib" 2>/dev/null | head -1 | cut -d: -f1) || true
    [[ -n $pkg ]] || fail "no Debian package holds $lib"
    # libc6 and libgcc-s1 are Essential: in every Debian image.
    [[ $pkg == libc6 || $pkg == libgcc-s1 ]] && continue
    # A sanitizer build links its runtime; the image builds the release binary, which does not.
    $sanitizer_build && [[ $pkg == libasan* || $pkg == libubsan* || $pkg == libtsan* ]] && continue
    grep -qx "$pkg" <<<"$runtime_packages" || fail "ragd links $soname ($pkg), which the runtime image does not install"
  done < <(readelf -d "$BIN" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
fi
if command -v apt-cache >/dev/null; then
  for p in $runtime_packages $build_packages; do
    apt-cache show "$p" >/dev/null 2>&1 || fail "Dockerfile installs $p, which apt-cache does not know"
  done
fi
for f in deploy/docker/entrypoint.sh scripts/fetch-models scripts/convert-embedder scripts/model-catalog.tsv; do
  grep -q "$f" "$DOCKERFILE" || fail "Dockerfile does not install $f"
  [[ -f $ROOT/$f ]] || fail "Dockerfile installs $f, which does not exist"
done
[[ -f $ROOT/.dockerignore ]] || fail "no .dockerignore"
for needed in src web cmake scripts deploy CMakeLists.txt; do
  ! grep -qx "$needed/\?" "$ROOT/.dockerignore" || fail ".dockerignore leaves out $needed, which the build needs"
done

# --- the image's entrypoint ------------------------------------------------------------
ENTRY=$ROOT/deploy/docker/entrypoint.sh
bash -n "$ENTRY" || fail "$ENTRY is not valid bash"
if [[ -n $PORT ]]; then
  RAGD_SERVER_PORT=$PORT bash "$ENTRY" health || fail "entrypoint health: the running server is not healthy"
  kill "$SERVER_PID"
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
  ! RAGD_SERVER_PORT=$PORT bash "$ENTRY" health 2>/dev/null || fail "entrypoint health: healthy with no server"
fi
echo "PASS"
