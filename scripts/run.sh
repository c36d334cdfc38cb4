#!/usr/bin/env bash
# The main job, offline: generate the demo collection and its local HVSC-style
# mirror, then materialize every asset with Dagster.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

echo "==> sidflow demo-collection --mirror data/mirror"
sidflow demo-collection --mirror data/mirror
# One run over every HVSC section: sidflow_full carries the partition range over every
# section itself (sync, catalog, then render, analyse and classify all sections with
# `threads` worker processes).
echo "==> dagster job execute -m sidflow_pipeline.definitions -j sidflow_full"
dagster job execute -m sidflow_pipeline.definitions -j sidflow_full
echo "==> done: classified songs in data/classified/*.jsonl"
