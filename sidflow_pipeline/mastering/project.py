"""The mastering folders of a project as the pipeline sees them: what `mastering_profiles`,
its check and its sensor do, without Dagster.

``profiles`` is ``data/profiles`` (versioned profile files + ``versions.json``),
``feedback`` is ``data/mastering-feedback`` (``ratings.jsonl`` + ``patterns.json``);
:class:`~sidflow_pipeline.layout.Layout` names both.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sidflow_pipeline.layout import MASTERING_RATINGS, PROFILE_VERSIONS
from sidflow_pipeline.mastering.analyze import analyze_ratings, write_patterns
from sidflow_pipeline.mastering.errors import MasteringError
from sidflow_pipeline.mastering.profiles import (
    current_version,
    ensure_profiles,
    iter_profile_files,
    load_profile_file,
    profile_path,
    profile_types,
    read_versions,
)
from sidflow_pipeline.mastering.ratings import read_ratings
from sidflow_pipeline.mastering.update import validate_profile

__all__ = ["ProfilesAnalysis", "ProfilesCheck", "analyse_profiles", "check_profile_files", "profile_files", "ratings_digest"]


def ratings_digest(feedback: Path) -> str:
    """sha256 of ``ratings.jsonl``, ``"none"`` before the first rating: what tells the
    sensor and the observation that the listener rated something new."""
    path = feedback / MASTERING_RATINGS
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "none"


@dataclass(frozen=True)
class ProfilesAnalysis:
    seeded: list[Path]
    ratings: int
    skipped_lines: int
    patterns: dict[str, Any]
    patterns_path: Path
    versions: dict[str, str]

    @property
    def suggestions(self) -> int:
        return sum(len(summary["suggestions"]) for summary in self.patterns["types"].values())

    @property
    def version(self) -> str:
        """Changes exactly when a current version or the patterns change (the data version)."""
        return hashlib.sha256(json.dumps([self.versions, self.patterns], sort_keys=True).encode()).hexdigest()[:16]


def analyse_profiles(profiles: Path, feedback: Path, log: Callable[[str], None] | None = None) -> ProfilesAnalysis:
    """Seed missing default profiles, analyse every mastering rating into ``patterns.json``
    and report each type's current version."""
    seeded = ensure_profiles(profiles)
    if seeded and log is not None:
        log(f"seeded {len(seeded)} default profile files into {profiles}")
    entries, skipped = read_ratings(feedback)
    patterns = analyze_ratings(entries, profiles, skipped_lines=skipped)
    path = write_patterns(feedback, patterns)
    versions = {kind: str(current_version(profiles, kind)) for kind in profile_types(profiles)}
    return ProfilesAnalysis(list(seeded), len(entries), skipped, patterns, path, versions)


def profile_files(profiles: Path) -> tuple[dict[str, Path], dict[str, list[str]]]:
    """Every profile file to check, by name: those present plus those versions.json lists
    (a listed file that is missing must fail the check, not be skipped); and the
    failures found on the way (an unreadable versions.json)."""
    files = {path.name: path for path in iter_profile_files(profiles)}
    try:
        types = read_versions(profiles)["types"]
    except MasteringError as exc:
        return files, {PROFILE_VERSIONS: [str(exc)]}
    for kind, entry in sorted(types.items()):
        listed = [h.get("file") for h in entry["history"] if isinstance(h, dict)]
        listed.append(profile_path(profiles, kind, entry["current"]).name)
        for name in listed:
            if isinstance(name, str) and name:
                base = Path(name).name  # history names files in this folder, never elsewhere
                files.setdefault(base, profiles / base)
    return files, {}


@dataclass(frozen=True)
class ProfilesCheck:
    checked: int
    failures: dict[str, list[str]] = field(default_factory=dict)
    folder: Path | None = None

    @property
    def passed(self) -> bool:
        return not self.failures and self.checked > 0

    @property
    def nothing_to_check(self) -> bool:
        return not self.failures and self.checked == 0

    @property
    def summary(self) -> str:
        if self.failures:
            return f"{len(self.failures)} profile file(s) failed: {', '.join(sorted(self.failures))}"
        return f"all {self.checked} profile files valid" if self.checked else f"no profile files in {self.folder}"


def check_profile_files(profiles: Path) -> ProfilesCheck:
    """Load every profile file — each version present or listed, not just the current
    ones, since a rollback makes an old version current again — and run the validation
    suite of ``sidflow master update`` on each. No profiles folder at all is nothing to
    check (``nothing_to_check``); a folder without a readable ``versions.json`` fails."""
    if not profiles.is_dir():
        return ProfilesCheck(0, {}, profiles)
    files, failures = profile_files(profiles)
    checked = 0
    for name, path in files.items():
        try:
            profile = load_profile_file(path)
        except MasteringError as exc:
            failures[name] = [str(exc)]
            continue
        checked += 1
        failed = [f"{c.name}: {c.detail}" for c in validate_profile(profile) if not c.passed]
        if failed:
            failures[name] = failed
    return ProfilesCheck(checked, failures, profiles)
