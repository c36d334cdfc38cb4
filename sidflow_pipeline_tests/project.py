"""A project configuration for tests: every data folder under one ``data`` folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write_config(path: Path, hvsc: Path | str, data: Path | str, *, threads: int = 2, **extra: Any) -> Path:
    """Write ``.sidflow.json`` at ``path``; ``extra`` adds or overrides keys (e.g. ``hvscSource``).

    ``data`` may be relative: the configuration resolves it against its own folder.
    """
    data = Path(data)
    config = {
        "hvscPath": str(hvsc),
        "dataPath": str(data),
        "wavCachePath": str(data / "wav-cache"),
        "tagsPath": str(data / "tags"),
        "classifiedPath": str(data / "classified"),
        "threads": threads,
        **extra,
    }
    path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return path
