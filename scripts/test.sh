#!/usr/bin/env bash
# The test suite with coverage. `--slow` also runs the suites marked slow (CI does).
set -euo pipefail
# The browser and scale-out suites need Chromium and Redis; setup installs them when missing.
export SIDFLOW_APT_EXTRA="${SIDFLOW_APT_EXTRA-chromium redis-server}"
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

marker=(-m "not slow")
args=()
for arg in "$@"; do
  if [ "$arg" = "--slow" ]; then marker=(); else args+=("$arg"); fi
done
exec pytest "${marker[@]}" --cov=sidflow_pipeline --cov-report=term-missing:skip-covered "${args[@]}"
