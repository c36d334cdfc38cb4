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


defs = dg.Definitions(resources={"sidflow": SidflowConfigResource()})
