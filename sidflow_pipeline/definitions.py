"""Root Dagster definitions: merges each domain's small ``Definitions``.

``dagster job execute -m sidflow_pipeline.definitions -j sidflow_full`` runs every
asset; ``dagster dev -m sidflow_pipeline.definitions`` serves the UI.
"""

from __future__ import annotations

import dagster as dg

from sidflow_pipeline.defs import catalog, classify, feedback, hvsc, resources, training

sidflow_full = dg.define_asset_job(
    "sidflow_full",
    selection=dg.AssetSelection.all(),
    description="Materialize every asset: sync, catalog, and everything downstream.",
)

defs = dg.Definitions.merge(
    resources.defs,
    hvsc.defs,
    catalog.defs,
    classify.defs,
    feedback.defs,
    training.defs,
    dg.Definitions(jobs=[sidflow_full]),
)
