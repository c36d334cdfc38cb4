#!/usr/bin/env bash
# ruff (lint and import order) and mypy (strict on the domain packages) over the
# package, its tests and the benchmarks, as configured in pyproject.toml ([tool.ruff],
# [tool.mypy]). Any finding fails the run; `ruff check --fix` repairs the mechanical ones.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
status=0
echo "==> ruff check"
ruff check . || status=1
echo "==> mypy"
mypy || status=1
exit "$status"
