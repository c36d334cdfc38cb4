"""Bring the local HVSC tree to the newest release, safely.

The tree a user listens from is never modified in place: every sync builds a staging
copy next to it (hard links for an incremental update, a fresh extraction for a full
install), executes each update script there, and only then swaps the staging tree
in. A failed download, a corrupt archive or a script error leaves the previous
release byte-identical.

Layout under ``hvscPath``::

    C64Music/              the collection (exactly as HVSC ships it)
    hvsc-version.json      the manifest: base release, deltas, checksums, timestamps
    path-moves.jsonl       old → new HVSC paths from MOVE commands (append-only)
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from sidflow_pipeline.atomic import (
    atomic_write_bytes,
    atomic_write_json,
    recover_interrupted_swap,
    swap_directory,
)
from sidflow_pipeline.errors import SidflowError
from sidflow_pipeline.hvsc.archive import ArchiveError, safe_extract
from sidflow_pipeline.hvsc.discovery import (
    DiscoveryError,
    RemoteArchive,
    discover_releases,
)
from sidflow_pipeline.hvsc.download import DownloadError, DownloadResult, fetch_archive
from sidflow_pipeline.hvsc.moves import compose_moves
from sidflow_pipeline.hvsc.update_script import (
    HvsScriptError,
    apply_update_script,
    load_update_script,
)
from sidflow_pipeline.layout import HVSC_MANIFEST, HVSC_TREE, PATH_MOVES, hvsc_downloads, hvsc_staging

__all__ = [
    "USER_FILE_SUFFIXES",
    "AppliedArchive",
    "SyncError",
    "SyncResult",
    "installed_version",
    "migrate_mirrored_user_files",
    "newer_release",
    "read_manifest",
    "sync_hvsc",
    "tree_stats",
]

# Files a user (or SIDFlow) keeps inside the tree; they survive every sync and follow
# their tune when an update script moves it.
USER_FILE_SUFFIXES: tuple[str, ...] = (".tags.json",)

_UPDATE_SCRIPT_RE = re.compile(r"^update(\d+)\.hvs$", re.IGNORECASE)


class SyncError(SidflowError, RuntimeError):
    """A sync that stopped with the previous release intact; one line for the user."""


@dataclass(frozen=True)
class AppliedArchive:
    version: int
    kind: Literal["full", "update"]
    filename: str
    checksum: str
    size: int
    bytes_downloaded: int
    applied_at: str


@dataclass
class SyncResult:
    status: Literal["current", "installed", "updated", "reinstalled"]
    version: int
    previous_version: int | None
    archives: list[AppliedArchive] = field(default_factory=list)
    moves: list[tuple[str, str]] = field(default_factory=list)
    files: int = 0
    bytes_downloaded: int = 0
    seconds: float = 0.0
    manifest: dict[str, Any] = field(default_factory=dict)


def _utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_manifest(hvsc_path: Path) -> dict[str, Any] | None:
    path = hvsc_path / HVSC_MANIFEST
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise SyncError(f"{path}: corrupt manifest ({exc.msg} at line {exc.lineno}); delete it to reinstall") from exc
    return data if isinstance(data, dict) else None


def _manifest_version(manifest: dict[str, Any]) -> int:
    deltas = manifest.get("deltas") or []
    return int(deltas[-1]["version"]) if deltas else int(manifest["baseVersion"])


def installed_version(hvsc_path: Path) -> int | None:
    """The installed release: from our manifest, else from a tree HVSC shipped itself.

    A user pointing ``hvscPath`` at an existing HVSC has no manifest; real releases
    keep every applied ``UpdateNN.hvs`` in ``DOCUMENTS/``, so the highest one names the
    release (a base release with no update yet is unknown and gets reinstalled).
    """
    manifest = read_manifest(hvsc_path)
    if manifest is not None:
        return _manifest_version(manifest)
    docs = hvsc_path / HVSC_TREE / "DOCUMENTS"
    if not docs.is_dir():
        return None
    versions = [int(m.group(1)) for p in docs.iterdir() if (m := _UPDATE_SCRIPT_RE.match(p.name))]
    return max(versions) if versions else None


def migrate_mirrored_user_files(mirror_root: Path, moves: dict[str, str]) -> int:
    """Follow moves in a tree that mirrors HVSC paths (``tagsPath``): ``a.sid.tags.json``
    moves to the tune's new path. An existing file at the destination is never
    overwritten; the moved one is kept beside it as ``*.moved``."""
    moved = 0
    for old, new in moves.items():
        for suffix in USER_FILE_SUFFIXES:
            src = mirror_root / (old.lstrip("/") + suffix)
            if not src.is_file():
                continue
            dst = mirror_root / (new.lstrip("/") + suffix)
            if dst.exists():
                dst = dst.with_name(dst.name + ".moved")
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dst)
            moved += 1
    return moved


def tree_stats(root: Path) -> dict[str, int]:
    files = sids = size = 0
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            files += 1
            sids += name.lower().endswith(".sid")
            size += os.path.getsize(os.path.join(dirpath, name))
    return {"files": files, "sid_files": sids, "bytes": size}


def _link_copy(src: Path, dst: Path) -> None:
    # Hard links are safe because every writer (update script, our own code) replaces
    # files through os.replace, creating new inodes, never writing into shared ones.
    def link(a: str, b: str) -> None:
        try:
            os.link(a, b)
        except OSError:
            shutil.copy2(a, b)

    shutil.copytree(src, dst, copy_function=link, symlinks=False)


def _is_user_file(name: str) -> bool:
    return name.endswith(USER_FILE_SUFFIXES)


def _carry_user_files(old_root: Path, new_root: Path, moves: dict[str, str]) -> int:
    """Put user files back, beside their tune's new path when a script moved it."""
    carried = 0
    if not old_root.is_dir():
        return 0
    for dirpath, _dirs, names in os.walk(old_root):
        for name in names:
            if not _is_user_file(name):
                continue
            src = Path(dirpath) / name
            rel = "/" + src.relative_to(old_root).as_posix()
            for suffix in USER_FILE_SUFFIXES:
                if rel.endswith(suffix):
                    tune = rel[: -len(suffix)]
                    rel = moves.get(tune, tune) + suffix
                    break
            dst = new_root / rel.lstrip("/")
            if dst.exists():  # never clobber: keep both, the moved one renamed aside
                dst = dst.with_name(dst.name + ".moved")
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dst)
            carried += 1
    return carried


def _set_aside_user_files(root: Path, side: Path) -> None:
    if not root.is_dir():
        return
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            if _is_user_file(name):
                src = Path(dirpath) / name
                dst = side / src.relative_to(root)
                dst.parent.mkdir(parents=True, exist_ok=True)
                os.replace(src, dst)


def _find_update_script(update_dir: Path, version: int) -> Path:
    candidates = sorted(p for p in update_dir.rglob("*") if p.is_file() and _UPDATE_SCRIPT_RE.match(p.name))
    exact = [p for p in candidates if int(_UPDATE_SCRIPT_RE.match(p.name).group(1)) == version]  # type: ignore[union-attr]
    if exact:
        return exact[0]
    if candidates:
        return candidates[0]
    raise SyncError(f"update archive for release {version} holds no UpdateNN.hvs script")


def _check_layout(hvsc_path: Path) -> None:
    if (hvsc_path / "DOCUMENTS").is_dir() and not (hvsc_path / HVSC_TREE).exists():
        raise SyncError(
            f"{hvsc_path} looks like a C64Music folder itself; set hvscPath to the folder that holds C64Music/"
        )


def sync_hvsc(
    source: str,
    hvsc_path: Path,
    *,
    checksums: dict[str, str] | None = None,
    download_dir: Path | None = None,
    progress: bool | None = None,
    log: Callable[[str], None] = lambda _msg: None,
    now: Callable[[], str] = _utc_now,
    **fetch_options: Any,
) -> SyncResult:
    """Sync ``hvsc_path`` from ``source`` (HTTP mirror listing, ``file://`` or folder).

    ``fetch_options`` go to :func:`fetch_archive` (retries, backoff, timeouts).
    Verified archives are deleted after a successful swap; a partial download stays
    in the downloads folder so the next run resumes it.
    """
    started = time.perf_counter()
    hvsc_path = Path(hvsc_path)
    _check_layout(hvsc_path)
    recover_interrupted_swap(hvsc_path)
    current = installed_version(hvsc_path)
    try:
        listing = discover_releases(source, pinned=checksums or {})
        plan = listing.plan(current)
    except DiscoveryError as exc:
        raise SyncError(str(exc)) from exc
    manifest = read_manifest(hvsc_path)
    if not plan.archives:
        result = SyncResult(status="current", version=current or 0, previous_version=current, manifest=manifest or {})
        result.files = tree_stats(hvsc_path / HVSC_TREE)["files"] if (hvsc_path / HVSC_TREE).is_dir() else 0
        result.seconds = time.perf_counter() - started
        log(f"HVSC release {current} is current; nothing downloaded")
        return result

    hvsc_path.parent.mkdir(parents=True, exist_ok=True)
    staging = hvsc_staging(hvsc_path)
    downloads = download_dir or hvsc_downloads(hvsc_path)
    shutil.rmtree(staging, ignore_errors=True)
    downloads.mkdir(parents=True, exist_ok=True)
    applied: list[AppliedArchive] = []
    moves: list[tuple[str, str]] = []
    fetched_paths: list[Path] = []
    replaced = staging / ".replaced-C64Music"
    user_files = staging / ".user-files"
    try:
        # Everything the user keeps under hvscPath comes along into the staging tree.
        if hvsc_path.is_dir():
            _link_copy(hvsc_path, staging)
        else:
            staging.mkdir(parents=True)
        # User files step aside while scripts run (a DELETE of an emptied folder must
        # not fail on a ratings file) and come back beside their tune afterwards.
        _set_aside_user_files(staging / HVSC_TREE, user_files)
        version: int | None = current
        if plan.fresh:
            manifest = {}
            if (staging / HVSC_TREE).exists():
                os.rename(staging / HVSC_TREE, replaced)
        elif manifest is None:
            manifest = {"baseVersion": current, "baseFilename": None, "baseChecksum": None, "baseAppliedAt": None, "deltas": []}
        for archive in plan.archives:
            log(f"fetching {archive.name}")
            fetched = fetch_archive(archive, downloads, progress=progress, **fetch_options)
            fetched_paths.append(fetched.path)
            if archive.kind == "full":
                _install_full(fetched, staging)
                version = archive.version
                manifest = {
                    "baseVersion": archive.version,
                    "baseFilename": archive.name,
                    "baseChecksum": f"sha256:{fetched.sha256}",
                    "baseAppliedAt": now(),
                    "deltas": [],
                }
            else:
                report_moves = _apply_update(fetched, archive, staging / HVSC_TREE, version, log)
                moves.extend(report_moves)
                version = archive.version
                manifest.setdefault("deltas", []).append(
                    {
                        "version": archive.version,
                        "filename": archive.name,
                        "checksum": f"sha256:{fetched.sha256}",
                        "appliedAt": now(),
                    }
                )
            applied.append(
                AppliedArchive(
                    version=archive.version,
                    kind=archive.kind,
                    filename=archive.name,
                    checksum=f"sha256:{fetched.sha256}",
                    size=fetched.size,
                    bytes_downloaded=fetched.bytes_fetched,
                    applied_at=manifest["baseAppliedAt"] if archive.kind == "full" else manifest["deltas"][-1]["appliedAt"],
                )
            )
        manifest["lastUpdated"] = now()
        _carry_user_files(user_files, staging / HVSC_TREE, compose_moves(moves))
        shutil.rmtree(user_files, ignore_errors=True)
        shutil.rmtree(replaced, ignore_errors=True)
        atomic_write_json(staging / HVSC_MANIFEST, manifest)
        _merge_moves_log(hvsc_path, staging, moves)
        swap_directory(staging, hvsc_path)
        for path in fetched_paths:
            path.unlink(missing_ok=True)
    except (DownloadError, ArchiveError) as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise SyncError(f"{exc}; previous release kept") from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    stats = tree_stats(hvsc_path / HVSC_TREE)
    status: Literal["installed", "updated", "reinstalled"]
    status = "updated" if not plan.fresh else ("reinstalled" if current is not None else "installed")
    return SyncResult(
        status=status,
        version=int(version or 0),
        previous_version=current,
        archives=applied,
        moves=[(a, b) for a, b in moves if not a.lower().startswith("/update/")],
        files=stats["files"],
        bytes_downloaded=sum(a.bytes_downloaded for a in applied),
        seconds=time.perf_counter() - started,
        manifest=manifest,
    )


def _install_full(fetched: DownloadResult, staging: Path) -> None:
    shutil.rmtree(staging / HVSC_TREE, ignore_errors=True)
    safe_extract(fetched.path, staging)
    if not (staging / HVSC_TREE).is_dir():
        raise SyncError(f"{fetched.path.name}: archive does not unpack to C64Music/")


def _apply_update(
    fetched: DownloadResult,
    archive: RemoteArchive,
    root: Path,
    installed: int | None,
    log: Callable[[str], None] = lambda _msg: None,
) -> list[tuple[str, str]]:
    if installed is None:
        raise SyncError(f"cannot apply {archive.name}: no release installed")
    safe_extract(fetched.path, root)
    update_dir = root / "update"
    if not update_dir.is_dir():
        raise SyncError(f"{archive.name}: archive does not unpack to update/")
    script_path = _find_update_script(update_dir, archive.version)
    try:
        script = load_update_script(script_path)
        if script.resulting_version != archive.version:
            raise SyncError(
                f"{archive.name}: its script {script_path.name} results in release "
                f"{script.resulting_version}, not {archive.version}"
            )
        report = apply_update_script(script, root, installed)
    except HvsScriptError as exc:
        raise SyncError(f"{archive.name}: {exc}; previous release kept") from exc
    if report.already_absent:  # accepted (see docs/reliability.md), but said
        log(f"{script_path.name}: {len(report.already_absent)} DELETE(s) of paths already gone, e.g. {report.already_absent[0]}")
    leftover = root / "update"
    if leftover.exists():
        shutil.rmtree(leftover)
    return list(report.moves)


def _merge_moves_log(hvsc_path: Path, staging: Path, moves: list[tuple[str, str]]) -> None:
    """Write the staging tree's move log: every line of the live log, then this sync's moves.

    The staging tree is a hard-link copy of ``hvsc_path``, so its ``path-moves.jsonl``
    *is* the live file (one inode): copying one onto the other raises
    ``SameFileError``, and appending in place would change the live tree before the
    swap (and keep the change when the sync then fails). So the merged log is written
    as a new file (atomic replace breaks the link) and the live one is only read.
    """
    old = hvsc_path / PATH_MOVES
    new = staging / PATH_MOVES
    existing = old.read_bytes() if old.is_file() else b""
    if existing and not existing.endswith(b"\n"):
        existing += b"\n"  # a torn last line must not swallow the first new record
    renames = [(a, b) for a, b in moves if not a.lower().startswith("/update/")]
    added = "".join(json.dumps({"from": a, "to": b}, sort_keys=True) + "\n" for a, b in renames).encode("utf-8")
    if existing or added:
        atomic_write_bytes(new, existing + added)




@dataclass(frozen=True)
class CollectionSync:
    """A sync plus what it owes the user's data (see :func:`sync_collection`)."""

    result: SyncResult
    manifest: dict[str, Any]
    stats: dict[str, int]
    tags_moved: int


def sync_collection(
    source: str,
    hvsc_path: Path,
    manifest_copy: Path,
    tags_path: Path | None,
    *,
    checksums: dict[str, str] | None = None,
    progress: bool | None = None,
    log: Callable[[str], None] = lambda _msg: None,
    **fetch_options: Any,
) -> CollectionSync:
    """:func:`sync_hvsc`, then the steps every caller (asset or ``sidflow fetch``) must take.

    Ratings kept under ``tagsPath`` follow moved tunes (the ones beside the SIDs moved
    with the tree already), and the manifest is refreshed in the tree and at
    ``manifest_copy`` (``Layout.hvsc_manifest_copy``, the copy kept in git) so neither
    entry point leaves them behind.
    """
    result = sync_hvsc(source, hvsc_path, checksums=checksums, progress=progress, log=log, **fetch_options)
    tags_moved = 0
    if result.moves and tags_path is not None:
        tags_moved = migrate_mirrored_user_files(tags_path, compose_moves(result.moves))
    stats = tree_stats(Path(hvsc_path) / HVSC_TREE)
    manifest = dict(result.manifest)
    if result.status != "current":
        manifest["files"] = stats["files"]
        manifest["sidFiles"] = stats["sid_files"]
        atomic_write_json(Path(hvsc_path) / HVSC_MANIFEST, manifest)
    atomic_write_json(Path(manifest_copy), manifest)
    return CollectionSync(result, manifest, stats, tags_moved)


def newer_release(source: str, hvsc_path: Path, pinned: Mapping[str, str] | None = None) -> tuple[int | None, str]:
    """``(release, why)``: the mirror's newest release when it is newer than the tree at
    ``hvsc_path`` (or there is no tree yet), else ``None`` and why not — what the daily
    schedule asks before it requests a sync. An unreachable mirror is a reason, not an
    error: the next day's question may get an answer."""
    installed = installed_version(hvsc_path)
    try:
        latest = discover_releases(source, pinned=pinned).latest_version
    except DiscoveryError as exc:
        return None, f"mirror not reachable: {exc}"
    if installed is not None and latest <= installed:
        return None, f"HVSC release {installed} is current (mirror has {latest})"
    return latest, f"HVSC release {latest} is newer than {installed if installed is not None else 'none installed'}"
