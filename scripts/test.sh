#!/usr/bin/env bash
# The test suite with coverage. `--slow` also runs the suites marked slow (CI does).
# A whole-suite run (no extra pytest arguments) then enforces the README's floor:
# domain code — the package minus the two layers on top of it, the Dagster layer
# (defs/, definitions.py) and the click CLI (cli/), as CONTRIBUTING draws the layers —
# at least 90 % covered (lines and branches).
set -euo pipefail
# The browser and scale-out suites need Chromium and Redis; setup installs them when missing.
export SIDFLOW_APT_EXTRA="${SIDFLOW_APT_EXTRA-chromium redis-server}"
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

DOMAIN_FLOOR=90
NOT_DOMAIN="sidflow_pipeline/defs/*,sidflow_pipeline/definitions.py,sidflow_pipeline/cli/*"

marker=(-m "not slow")
args=()
for arg in "$@"; do
  if [ "$arg" = "--slow" ]; then marker=(); else args+=("$arg"); fi
done
# pytest's own status first: a failure, or 5 (no tests collected), fails the run.
status=0
pytest "${marker[@]}" --cov=sidflow_pipeline --cov-report=term-missing:skip-covered "${args[@]}" || status=$?
if [ "$status" -ne 0 ]; then exit "$status"; fi
# A run narrowed by extra arguments (-k, a path, -m slow) covers part of the code on
# purpose; only the whole suite is held to the floor.
if [ ${#args[@]} -gt 0 ]; then exit 0; fi
domain=$(coverage report --omit="$NOT_DOMAIN" --format=total --precision=1)
echo "domain coverage: ${domain} % (floor ${DOMAIN_FLOOR} %; without ${NOT_DOMAIN})"
coverage report --omit="$NOT_DOMAIN" --precision=1 --fail-under="$DOMAIN_FLOOR" > /dev/null || {
  echo "error: domain coverage ${domain} % is below the ${DOMAIN_FLOOR} % floor" >&2
  exit 1
}
