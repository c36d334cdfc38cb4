#!/usr/bin/env bash
# The main job, offline: generate the demo collection and its local HVSC-style
# mirror, then materialize every asset with Dagster.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

echo "==> sidflow demo-collection --mirror data/mirror"
sidflow demo-collection --mirror data/mirror
# One run over every HVSC section (a partition range): sync, catalog, then render,
# analyse and classify all sections with `threads` worker processes.
ALL_SECTIONS='{"dagster/asset_partition_range_start": "MUSICIANS/0-9", "dagster/asset_partition_range_end": "OTHER"}'
echo "==> dagster job execute -m sidflow_pipeline.definitions -j sidflow_full --tags '$ALL_SECTIONS'"
dagster job execute -m sidflow_pipeline.definitions -j sidflow_full --tags "$ALL_SECTIONS"
echo "==> done: classified songs in data/classified/*.jsonl"
