"""Does the local HVSC tree match its manifest? (the asset check and ``sidflow verify``)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sidflow_pipeline.hvsc.sync import installed_version, read_manifest, tree_stats
from sidflow_pipeline.layout import HVSC_MANIFEST, HVSC_TREE

__all__ = ["check_tree_against_manifest"]

_RELEASE_RE = re.compile(r"Release\s*#\s*(\d+)", re.IGNORECASE)


def check_tree_against_manifest(hvsc_path: Path) -> tuple[bool, dict[str, Any], str]:
    """(passed, metadata, why) — shared by the asset check and ``sidflow verify``."""
    manifest = read_manifest(hvsc_path)
    root = hvsc_path / HVSC_TREE
    if manifest is None:
        return False, {}, f"no {HVSC_MANIFEST} in {hvsc_path}: materialize hvsc_mirror"
    version = installed_version(hvsc_path)
    stats = tree_stats(root) if root.is_dir() else {"files": 0, "sid_files": 0, "bytes": 0}
    problems = []
    if not (root / "DOCUMENTS").is_dir():
        problems.append("DOCUMENTS/ is missing")
    if "files" in manifest and stats["files"] != manifest["files"]:
        problems.append(f"{stats['files']} files on disk, manifest says {manifest['files']}")
    hvsc_txt = root / "DOCUMENTS" / "HVSC.txt"
    text_version = None
    if hvsc_txt.is_file():
        match = _RELEASE_RE.search(hvsc_txt.read_bytes().decode("latin-1"))
        text_version = int(match.group(1)) if match else None
        if text_version != version:
            problems.append(f"HVSC.txt names release {text_version}, manifest {version}")
    metadata = {
        "version": version,
        "files": stats["files"],
        "manifest_files": manifest.get("files", -1),
        "hvsc_txt_release": text_version or -1,
    }
    return not problems, metadata, "; ".join(problems) or "tree matches manifest"
