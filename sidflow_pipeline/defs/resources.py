"""The configuration resource shared by every asset, sensor and schedule."""


import dagster as dg

from sidflow_pipeline.config import SidflowConfig, load_config


class SidflowConfigResource(dg.ConfigurableResource):
    """Loads `.sidflow.json` so assets never read the environment themselves.

    ``config_path`` empty means the CLI's rule: ``$SIDFLOW_CONFIG``, else
    ``./.sidflow.json``, else the defaults. Tests swap in a resource pointing at a
    temporary config, which is the only seam they need.
    """

    config_path: str = ""

    def load(self) -> SidflowConfig:
        return load_config(self.config_path or None)


# The listener's own files (ratings, feedback) change outside Dagster: observing them
# every five minutes keeps their data versions current in the UI and for automation,
# whichever job runs. Observing reads and hashes the files; it never writes.
OBSERVE_EVERY_FIVE_MINUTES = dg.AutomationCondition.cron_tick_passed("*/5 * * * *") & ~dg.AutomationCondition.in_progress()


defs = dg.Definitions(resources={"sidflow": SidflowConfigResource()})
