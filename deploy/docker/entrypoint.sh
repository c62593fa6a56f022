#!/usr/bin/env bash
# The ragd image's entrypoint (deploy/Dockerfile installs it as ragd-entrypoint).
#   ragd-entrypoint serve [ARGS...]   pulls what RAGD_PULL asks for, then runs ragd serve
#   ragd-entrypoint [--OPTION...]     the same with the image's settings file and --warmup
#   ragd-entrypoint health            exit 0 when GET /health answers 200 (HEALTHCHECK)
#   ragd-entrypoint COMMAND...        any other ragd command (ingest, models, pull, ...)
#
# RAGD_PULL (empty by default: models are mounted at $RAGD_MODEL_DIR):
#   auto        the catalog's default set, as `make models` fetches it: the fast and the
#               default LLM and the all-MiniLM-L6-v2 embedder (converted to GGUF here)
#   NAME...     those catalog models (ragd pull; `ragd models --available` lists them),
#               e.g. RAGD_PULL=fast; add the word `auto` for the embedder too
# Files already present and verified are not downloaded again, so a volume at
# $RAGD_MODEL_DIR makes later starts free. Pulling needs the image built with
# WITH_PULL=true (the default) and access to PyPI.
set -euo pipefail
scripts=/usr/local/share/ragd/scripts

pull() {
  local names=() auto=0 word
  for word in $RAGD_PULL; do
    if [[ $word == auto ]]; then auto=1; else names+=("$word"); fi
  done
  command -v python3 >/dev/null || {
    echo "ragd-entrypoint: RAGD_PULL needs Python and pip: build the image with WITH_PULL=true" >&2
    exit 1
  }
  # Wheels are downloaded to a temporary directory; no pip cache in the models volume.
  export PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
  if ((${#names[@]})); then ragd pull --quiet "${names[@]}"; fi
  if ((auto)); then
    "$scripts/fetch-models"
    # convert-embedder takes a build directory and runs its bin/ragd: /usr/local/bin/ragd.
    "$scripts/convert-embedder" /usr/local
  fi
}

# GET /health over bash's /dev/tcp: the image needs no HTTP client. Plain HTTP only (a
# server started with TLS is probed by its orchestrator instead).
health() {
  local port=${RAGD_SERVER_PORT:-8080} status
  exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
  printf 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3
  IFS= read -r -t 5 status <&3 || return 1
  [[ $status == "HTTP/1."[01]" 200"* ]]
}

# No arguments, or options only (docker run IMAGE --port 9000): the image's serve command.
if (($# == 0)) || [[ $1 == -* ]]; then
  set -- serve --config /usr/local/etc/ragd/ragd.yaml --warmup "$@"
fi
case "$1" in
  health) health ;;
  serve)
    [[ -n ${RAGD_PULL:-} ]] && pull
    exec ragd "$@"
    ;;
  *) exec ragd "$@" ;;
esac
