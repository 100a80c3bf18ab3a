#!/usr/bin/env bash
# Creates .venv at the repository root and installs the locked dependencies into it.
# Sourced by scripts/demo and scripts/test; re-installs only when requirements.lock changed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
if [ ! -f .venv/.lock-installed ] || ! cmp -s requirements.lock .venv/.lock-installed; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet --require-hashes -r requirements.lock
  cp requirements.lock .venv/.lock-installed
fi
