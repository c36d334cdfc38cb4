#!/usr/bin/env bash
# The main job, offline: generate the demo collection and its local HVSC-style
# mirror, then materialize every asset with Dagster.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

echo "==> sidflow demo-collection --mirror data/mirror"
sidflow demo-collection --mirror data/mirror
echo "==> dagster job execute -m sidflow_pipeline.definitions -j sidflow_full"
dagster job execute -m sidflow_pipeline.definitions -j sidflow_full
