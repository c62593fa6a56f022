#!/usr/bin/env bash
# The deployment manifests (deploy/compose.yaml, deploy/k8s/, deploy/nginx/ragd.conf)
# checked against the ragd binary they deploy: deploy_manifests_test.py says what is checked.
# It needs the test virtualenv (PyYAML, check-jsonschema, kubernetes-validate from
# tests/requirements.txt); Debian's nginx for `nginx -t` (both from scripts/setup).
# Usage: deploy_manifests_test.sh PATH-TO-RAGD REPO-ROOT (exit 77 = skipped).
set -euo pipefail
RAGD=$1
ROOT=$2
PY=$ROOT/.venv/bin/python
[ -x "$PY" ] || { echo "skip: no .venv (run scripts/setup)"; exit 77; }
exec "$PY" "$ROOT/tests/app/deploy_manifests_test.py" "$RAGD" "$ROOT"
