#!/usr/bin/env bash
# One-time (and idempotent) set-up shared by scripts/run.sh and scripts/test.sh:
# system packages (sidplayfp, Python venv support), the virtualenv, the project in
# editable mode with its dev extra, and a DAGSTER_HOME holding dagster.yaml.
# Sourced, not executed, so that DAGSTER_HOME and PATH stay set for the caller.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi

PY=${PYTHON:-python3}
if ! command -v "$PY" >/dev/null 2>&1 || ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "error: SIDFlow needs Python >= 3.11 (set PYTHON=/path/to/python3.11)" >&2
  exit 2
fi

apt_packages=()
command -v sidplayfp >/dev/null 2>&1 || apt_packages+=(sidplayfp)
command -v aplay >/dev/null 2>&1 || apt_packages+=(alsa-utils)  # plays mastered audio (sidflow play --master)
# The in-process engine (sidflow_pipeline/sid/_libsidplayfp.cpp) is compiled by pip install.
command -v g++ >/dev/null 2>&1 || apt_packages+=(g++)
command -v pkg-config >/dev/null 2>&1 || apt_packages+=(pkg-config)
if command -v dpkg >/dev/null 2>&1; then
  dpkg -s libsidplayfp-dev >/dev/null 2>&1 || apt_packages+=(libsidplayfp-dev)
fi
"$PY" -c 'import ensurepip, venv' >/dev/null 2>&1 || apt_packages+=(python3-venv)
for extra in ${SIDFLOW_APT_EXTRA:-}; do dpkg -s "$extra" >/dev/null 2>&1 || apt_packages+=("$extra"); done
if [ ${#apt_packages[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1; then
    echo "==> apt-get install ${apt_packages[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${apt_packages[@]}" >/dev/null
  elif command -v brew >/dev/null 2>&1; then
    brew install sidplayfp libsidplayfp pkg-config
  else
    echo "error: please install: ${apt_packages[*]} (no apt-get or brew found)" >&2
    exit 2
  fi
fi

if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$PY" -m venv .venv
fi
# Re-install only when pyproject.toml changed since the last successful install.
stamp=.venv/.sidflow-installed
want=$(cat pyproject.toml setup.py sidflow_pipeline/sid/_libsidplayfp.cpp | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "==> pip install -e .[dev]"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[dev]'
  echo "$want" > "$stamp"
fi

export PATH="$ROOT/.venv/bin:$PATH"
export DAGSTER_HOME=${DAGSTER_HOME:-$ROOT/.dagster_home}
mkdir -p "$DAGSTER_HOME"
cp dagster.yaml "$DAGSTER_HOME/dagster.yaml"
