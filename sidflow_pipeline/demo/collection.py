"""The demo collection as a history of HVSC-like releases, and its offline mirror.

Release 1 is :func:`~sidflow_pipeline.demo.tunes.base_tunes`. Every later release
k is release k−1 changed by an :class:`UpdatePlan` — new tunes, a fixed rip, a
deleted repeat, credit/title/author fixes and tunes identified out of
``DEMOS/UNKNOWN/`` (one into a composer folder made by MKDIR) — exactly the kinds of
change real HVSC updates make. From one plan come both the directly built tree of
release k and the update archive (``update/`` + ``UpdateK.hvs``), so the ground
truth "applying update k to release k−1 gives release k" holds by construction and
is checked by the tests with an independent interpreter.

Everything is deterministic (no clock, no unseeded randomness, sorted output), so
the mirror's archives and their checksums are the same on every machine.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import tempfile
import textwrap
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

import py7zr

from sidflow_pipeline.demo.compose import Rng
from sidflow_pipeline.demo.player_routine import build_sid
from sidflow_pipeline.demo.spec import DemoSong, StilText, TuneSpec
from sidflow_pipeline.demo.tunes import (
    base_tunes,
    fictional_composer,
    fictional_title,
    games_range,
    random_song,
    random_tune,
    with_extra_song,
)
from sidflow_pipeline.layout import HVSC_TREE
from sidflow_pipeline.sid.header import parse_sid, rewrite_header
from sidflow_pipeline.sid.songlengths import format_songlengths
from sidflow_pipeline.sid.stil import StilBlock, StilEntry, format_stil

__all__ = [
    "ARCHIVE_MTIME",
    "BASE_VERSION",
    "DEFAULT_UPDATES",
    "DEMO_MARKER",
    "DemoReport",
    "Release",
    "ReleaseFile",
    "ReleaseInfo",
    "UpdatePlan",
    "build_release_tree",
    "build_update_archive_tree",
    "demo_songs",
    "full_archive_name",
    "iter_demo_songs",
    "release",
    "update_archive_name",
    "update_plan",
    "update_script_text",
    "write_demo_collection",
    "write_demo_mirror",
    "write_mirror",
]

BASE_VERSION = 1
DEFAULT_UPDATES = 1
# Every archive member gets this mtime (2024-01-01 00:00:00 UTC) so archives are
# byte-identical between runs; py7zr stores only the last-write time.
ARCHIVE_MTIME = 1_704_067_200
# Written into DOCUMENTS/HVSC.txt; also how write_demo_collection recognises a tree it
# may replace (it never deletes a tree that is not a demo collection).
DEMO_MARKER = "SIDFlow demo collection"
# Study files the tests measure; updates never fix, delete or move them.
_PROTECTED = "MUSICIANS/D/Demo_Composer/"
_UNKNOWN = "DEMOS/UNKNOWN/"


# ------------------------------------------------------------------ release model


@functools.lru_cache(maxsize=4096)
def _tune_bytes(tune: TuneSpec) -> bytes:
    return build_sid(tune)


@dataclass(frozen=True)
class ReleaseFile:
    """A SID file of a release: the tune it was built from plus the header edits that
    update scripts applied to it since, in order (each a tuple of (field, value))."""

    tune: TuneSpec
    edits: tuple[tuple[tuple[str, str], ...], ...] = ()

    def data(self) -> bytes:
        """The file's bytes: the built tune, then each edit via ``rewrite_header`` —
        exactly what executing the scripts' TITLE/AUTHOR/CREDITS lines produces."""
        return _edited_bytes(self.tune, self.edits)

    def edited(self, **changes: str) -> ReleaseFile:
        return replace(self, edits=(*self.edits, tuple(sorted(changes.items()))))


@functools.lru_cache(maxsize=4096)
def _edited_bytes(tune: TuneSpec, edits: tuple[tuple[tuple[str, str], ...], ...]) -> bytes:
    data = _tune_bytes(tune)
    for edit in edits:
        data = rewrite_header(data, **dict(edit))
    return data


@dataclass(frozen=True)
class UpdatePlan:
    """What update ``version`` changes, in the order its script does it.

    ``credits`` holds (path, title, author, released) with ``*`` for "keep";
    ``mkdirs`` and the second element of ``moves`` may be directories (ending ``/``).
    ``notes`` are the per-block comments written into the script.
    """

    version: int
    fixes: tuple[tuple[str, TuneSpec], ...]
    new: tuple[tuple[str, TuneSpec], ...]
    deletes: tuple[str, ...]
    credits: tuple[tuple[str, str, str, str], ...]
    titles: tuple[tuple[str, str], ...]
    authors: tuple[tuple[str, str], ...]
    mkdirs: tuple[str, ...]
    moves: tuple[tuple[str, str], ...]
    notes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Release:
    """One release of the demo collection: relative path → file, plus how it came to be."""

    version: int
    files: Mapping[str, ReleaseFile]
    plan: UpdatePlan | None = None  # None for the base release

    def songs(self) -> Iterator[DemoSong]:
        for path in sorted(self.files):
            tune = self.files[path].tune
            for index, song in enumerate(tune.songs, start=1):
                yield DemoSong(path, index, tune, song)


def _dirs(paths: Iterable[str]) -> set[str]:
    """Every ancestor directory of the given file paths, as ``A/B/``."""
    out: set[str] = set()
    for path in paths:
        parts = PurePosixPath(path).parts[:-1]
        for i in range(1, len(parts) + 1):
            out.add("/".join(parts[:i]) + "/")
    return out


def _header(data: bytes) -> tuple[str, str, str]:
    header = parse_sid(data).header
    return header.name, header.author, header.released


@functools.lru_cache(maxsize=64)
def release(version: int) -> Release:
    """Release ``version`` (≥ 1) of the demo collection."""
    if version < BASE_VERSION:
        raise ValueError(f"the demo collection starts at release {BASE_VERSION}, not {version}")
    if version == BASE_VERSION:
        return Release(version, dict(sorted((p, ReleaseFile(t)) for p, t in base_tunes().items())))
    previous = release(version - 1)
    plan = update_plan(version)
    return Release(version, _apply_plan(previous.files, plan), plan)


def _apply_plan(files: Mapping[str, ReleaseFile], plan: UpdatePlan) -> dict[str, ReleaseFile]:
    out = dict(files)
    for path, tune in plan.fixes:
        out[path] = ReleaseFile(tune)
    for path, tune in plan.new:
        out[path] = ReleaseFile(tune)
    for path in plan.deletes:
        del out[path]
    for path, title, author, released in plan.credits:
        changes = {k: v for k, v in (("name", title), ("author", author), ("released", released)) if v != "*"}
        out[path] = out[path].edited(**changes)
    for path, title in plan.titles:
        out[path] = out[path].edited(name=title)
    for path, author in plan.authors:
        out[path] = out[path].edited(author=author)
    for source, destination in plan.moves:
        moved = out.pop(source)
        target = destination + PurePosixPath(source).name if destination.endswith("/") else destination
        comment = StilText(comment=f"Identified in update {plan.version} (was /{source}).")
        out[target] = replace(moved, tune=replace(moved.tune, stil=(*moved.tune.stil, comment)))
    return dict(sorted(out.items()))


def _unique_path(directory: str, stem: str, taken: set[str]) -> str:
    path = f"{directory}{stem}.sid"
    n = 2
    while path.lower() in taken:
        path = f"{directory}{stem}_{n}.sid"
        n += 1
    taken.add(path.lower())
    return path


@functools.lru_cache(maxsize=64)
def update_plan(version: int) -> UpdatePlan:
    """The changes of update ``version`` (≥ 2), chosen deterministically from release
    ``version - 1`` so that consecutive updates touch different files."""
    if version <= BASE_VERSION:
        raise ValueError(f"updates start at release {BASE_VERSION + 1}")
    previous = release(version - 1).files
    rng = Rng(0x5EED_0000 + version)
    paths = sorted(previous)
    taken = {p.lower() for p in paths}
    dirs = _dirs(paths)
    unknown = [p for p in paths if p.startswith(_UNKNOWN)]
    if len(unknown) < 2:
        raise RuntimeError(f"release {version - 1} has fewer than two DEMOS/UNKNOWN tunes to identify")
    editable = [p for p in paths if not p.startswith((_PROTECTED, _UNKNOWN))]
    notes: dict[str, str] = {}

    # A fixed rip: the same tune with one more subtune, keeping its current credits.
    fix_path = editable[(version * 7) % len(editable)]
    current = previous[fix_path]
    name, author, released = _header(current.data())
    extra = random_song(rng.fork(1), f"{name} (extra)"[:40], current.tune.clock, current.tune.sid_model)
    fixed = with_extra_song(replace(current.tune, name=name, author=author, released=released), extra)
    notes[fix_path] = f"added missing subtune #{len(fixed.songs)}"

    # A repeat to delete, and tunes whose title / author get corrected.
    others = [p for p in editable if p != fix_path]
    delete_path = others[(version * 5 + 3) % len(others)]
    notes[delete_path] = "a repeat of another tune in the collection"
    alone = [p for p in others if sum(q.startswith(_parent(p)) for q in paths) == 1]
    if version % 2 and alone:
        # Odd updates prefer a tune alone in its folder, so the script must also delete
        # the emptied folder(s), as real updates do.
        delete_path = alone[0]
        notes[delete_path] = "a bad rip of a tune already in the collection; its folder goes with it"
    others = [p for p in others if p != delete_path]
    title_path = others[(version * 3 + 1) % len(others)]
    old_title = _header(previous[title_path].data())[0]
    new_title = fictional_title(rng)
    while new_title == old_title:
        new_title = fictional_title(rng)
    author_path = others[(version * 11 + 2) % len(others)]
    if author_path == title_path:
        author_path = others[(others.index(title_path) + 1) % len(others)]
    new_author = fictional_composer(rng)[1]

    # Two UNKNOWN tunes identified: one by a new composer (MKDIR), one by a known one.
    to_new, to_known = unknown[0], unknown[1]
    folder, display = fictional_composer(rng)
    letter_dir = f"MUSICIANS/{folder[0].upper()}/"
    while f"{letter_dir}{folder}/" in dirs:
        folder, display = fictional_composer(rng)
        letter_dir = f"MUSICIANS/{folder[0].upper()}/"
    new_dir = f"{letter_dir}{folder}/"
    mkdirs = ((letter_dir,) if letter_dir not in dirs else ()) + (new_dir,)
    composer_dirs = sorted(
        d
        for d in dirs
        if d.startswith("MUSICIANS/")
        and d.count("/") == 3
        and not d.startswith(_PROTECTED)
        and d != _parent(delete_path)
    )
    known_dir = composer_dirs[version % len(composer_dirs)]
    known_author = _header(previous[next(p for p in paths if p.startswith(known_dir))].data())[1]
    known_target = known_dir + PurePosixPath(to_known).name
    if known_target.lower() in taken:
        known_target = _unique_path(known_dir, PurePosixPath(to_known).stem, taken)
    year = 1984 + version % 10
    credits = ((to_new, "*", display, f"{year} {display}"[:32]),)
    authors = ((author_path, new_author), (to_known, known_author))
    moves = ((to_new, new_dir), (to_known, known_target))
    notes[to_new] = f"identified: by {display}, who gets a folder of their own"
    notes[to_known] = f"identified: same player and style as the other tunes by {known_author}"

    # New tunes: two unidentified, one by a known composer, one game.
    new: list[tuple[str, TuneSpec]] = []
    for i in range(2):
        title = fictional_title(rng)
        path = _unique_path(_UNKNOWN, title.replace(" ", "_"), taken)
        new.append((path, random_tune(rng.fork(10 + i), title, "<?>", "19?? <?>", rng.randint(1, 2))))
    title = fictional_title(rng)
    path = _unique_path(known_dir, title.replace(" ", "_"), taken)
    new.append((path, random_tune(rng.fork(20), title, known_author, f"{year} {known_author}"[:32], rng.randint(1, 3))))
    games = sorted(d for d in dirs if d.startswith("GAMES/"))
    title = fictional_title(rng)
    while f"GAMES/{games_range(title)}/" not in games:
        title = fictional_title(rng)
    path = _unique_path(f"GAMES/{games_range(title)}/", title.replace(" ", "_"), taken)
    new.append((path, random_tune(rng.fork(30), title, new_author, f"{year} Fictional Arcade", rng.randint(1, 3))))

    return UpdatePlan(
        version=version,
        fixes=((fix_path, fixed),),
        new=tuple(sorted(new)),
        deletes=(delete_path,),
        credits=credits,
        titles=((title_path, new_title),),
        authors=authors,
        mkdirs=mkdirs,
        moves=moves,
        notes=notes,
    )


# ------------------------------------------------------------------ documents


def _stil_block(text: StilText, block: StilBlock) -> None:
    for label, value in (
        ("TITLE", text.title),
        ("ARTIST", text.artist),
        ("NAME", text.name),
        ("AUTHOR", text.author),
        ("COMMENT", text.comment),
    ):
        if value:
            wrapped = "\n".join(textwrap.wrap(value, width=68)) if label == "COMMENT" else value
            block.add(label, wrapped)


def _stil_text(files: Mapping[str, ReleaseFile]) -> str:
    entries: list[StilEntry] = []
    for path, item in files.items():
        if not item.tune.stil:
            continue
        entry = StilEntry(path="/" + path)
        for text in item.tune.stil:
            block = entry.subtunes.setdefault(text.subtune, StilBlock()) if text.subtune and len(item.tune.songs) > 1 else entry.file_block
            _stil_block(text, block)
        entries.append(entry)
    header = "### STIL for the " + DEMO_MARKER + " (generated; every tune and name is invented) ###\n\n"
    return header + format_stil(entries)


def _songlengths_text(files: Mapping[str, ReleaseFile]) -> str:
    entries = []
    for path, item in files.items():
        data = item.data()
        entries.append(("/" + path, hashlib.md5(data).hexdigest(), [s.length_ms for s in item.tune.songs]))
    return format_songlengths(entries)


def _hvsc_text(version: int, files: Mapping[str, ReleaseFile]) -> str:
    songs = sum(len(f.tune.songs) for f in files.values())
    return (
        f"{DEMO_MARKER}, laid out like the High Voltage SID Collection\n"
        "\n"
        f"High Voltage SID Collection - Release #{version}\n"
        "\n"
        "This is not the real HVSC. Every tune here was generated by sidflow_pipeline.demo:\n"
        "a small 6502 player routine plus note data, assembled by the project itself.\n"
        "Composers, groups and titles are invented.\n"
        "\n"
        f"SID files: {len(files)}\n"
        f"Songs:     {songs}\n"
    )


def _documents(version: int, files: Mapping[str, ReleaseFile]) -> dict[str, bytes]:
    return {
        "DOCUMENTS/HVSC.txt": _hvsc_text(version, files).encode("latin-1"),
        "DOCUMENTS/Songlengths.md5": _songlengths_text(files).encode("latin-1"),
        "DOCUMENTS/STIL.txt": _stil_text(files).encode("latin-1"),
    }


_RULE = "# " + "*" * 52 + "\n"


def _banner(title: str) -> str:
    """A section banner like those in Update74.hvs."""
    return f"{_RULE}# **{title:^48}**\n{_RULE}"


def update_script_text(version: int) -> str:
    """``Update<version>.hvs`` in the layout of a real HVSC script (LF line endings,
    as in Update74.hvs): header with resulting/previous version, then blocks."""
    plan = update_plan(version)
    previous = release(version - 1).files
    result = release(version).files
    out: list[str] = [
        f"# {DEMO_MARKER}: Update #{version}\n",
        "# (generated by sidflow_pipeline.demo; every tune and name in it is invented)\n",
        "#\n",
        f"# Resulting Version: {version}\n",
        f"#  Previous Version: {version - 1}\n",
        "#\n",
        f"# After this update, the collection should contain {len(result)} SID files!\n",
        "#\n",
        "# This update features:\n",
        f"#  {len(plan.new):7d} new SIDs\n",
        f"#  {len(plan.fixes):7d} fixed/better rips\n",
        f"#  {len(plan.deletes):7d} repeats/bad rips eliminated\n",
        f"#  {len(plan.credits) + len(plan.titles) + len(plan.authors):7d} SID credit fixes\n",
        f"#  {len(plan.moves):7d} tunes from /DEMOS/UNKNOWN/ identified\n",
        "\n",
        _banner("FIXES"),
        "\n",
        "REPLACE\n",
    ]
    for path, _tune in plan.fixes:
        out += ["\n", f"# {plan.notes.get(path, 'fixed rip')}\n", f"/update/fix/{path}\n", f"/{_parent(path)}\n"]
    out += ["\n\n", _banner("NEW TUNES"), "\n", "MOVE\n"]
    for directory in sorted({_parent(p) for p, _ in plan.new}):
        names = ", ".join(PurePosixPath(p).name for p, _ in plan.new if _parent(p) == directory)
        out += ["\n", f"# {names}\n", f"/update/new/{directory}\n", f"/{directory}\n"]
    out += ["\n\n", _banner("REPEATS / BAD RIPS"), "\n", "DELETE\n"]
    for path in plan.deletes:
        out += [f"# {plan.notes.get(path, 'removed')}\n", f"/{path}\n"]
    out += ["\n\n", _banner("SID TUNE CREDITS"), "\n", "#######\nCREDITS\n#######\n"]
    for path, title, author, released in plan.credits:
        out += ["\n", f"/{path}\n", f"{title}\n", f"{author}\n", f"{released}\n"]
    out += ["\n\n", "#####\nTITLE\n#####\n"]
    for path, title in plan.titles:
        out += ["\n", f"/{path}\n", f"{title}\n"]
    out += ["\n\n", "######\nAUTHOR\n######\n"]
    for path, author in plan.authors:
        out += ["\n", f"/{path}\n", f"{author}\n"]
    out += ["\n\n", _banner("MISCELLANEOUS"), "\n", "MKDIR\n"]
    out += [f"/{d}\n" for d in plan.mkdirs]
    out += ["\n", "MOVE\n"]
    for source, destination in plan.moves:
        out += ["\n", f"# {plan.notes.get(source, 'moved')}\n", f"/{source}\n", f"/{destination}\n"]
    # Cleaning up: folders the update emptied, then the update/ folders, deepest first.
    emptied = _dirs(previous) - _dirs(result)
    staged = _dirs(_update_members(version)) - {"update/", "update/DOCUMENTS/"}
    out += ["\n\n", _banner("Cleaning Up"), "\n", "DELETE\n"]
    if emptied:
        out += ["\n", "# delete emptied dirs first\n"]
        out += [f"/{d}\n" for d in _deepest_first(emptied)]
    for top in ("update/fix/", "update/new/"):
        out += ["\n"] + [f"/{d}\n" for d in _deepest_first(d for d in staged if d.startswith(top))]
    out += ["\n", "REPLACE\n", "\n", "/update/DOCUMENTS/\n", "/DOCUMENTS/\n", "\n", "DELETE\n", "/update/DOCUMENTS/\n"]
    return "".join(out)


def _parent(path: str) -> str:
    return str(PurePosixPath(path).parent) + "/"


def _deepest_first(dirs: Iterable[str]) -> list[str]:
    return sorted(dirs, key=lambda d: (-d.count("/"), d))


# ------------------------------------------------------------------ trees on disk


@dataclass(frozen=True)
class ReleaseInfo:
    """What was written: the ``C64Music`` root, release version and counts."""

    version: int
    root: Path
    files: int  # SID files
    songs: int  # songs (file × subtune)
    bytes: int  # all files written, documents included
    sid_bytes: int


DemoReport = ReleaseInfo


def _release_members(version: int) -> dict[str, bytes]:
    """Relative path (under ``C64Music/``) → bytes of every file of a release."""
    rel = release(version)
    members = {path: item.data() for path, item in rel.files.items()}
    members.update(_documents(version, rel.files))
    for k in range(BASE_VERSION + 1, version + 1):
        members[f"DOCUMENTS/Update{k}.hvs"] = update_script_text(k).encode("latin-1")
    return dict(sorted(members.items()))


def _update_members(version: int) -> dict[str, bytes]:
    """Relative path (under ``C64Music/``, so starting ``update/``) → bytes of the
    update archive for ``version``."""
    plan = update_plan(version)
    result = release(version).files
    members: dict[str, bytes] = {}
    for path, tune in plan.fixes:
        members[f"update/fix/{path}"] = _tune_bytes(tune)
    for path, tune in plan.new:
        members[f"update/new/{path}"] = _tune_bytes(tune)
    for name, data in _documents(version, result).items():
        members[f"update/{name}"] = data
    return dict(sorted(members.items()))


def _update_archive_tree(version: int) -> dict[str, bytes]:
    members = _update_members(version)
    members[f"update/DOCUMENTS/Update{version}.hvs"] = update_script_text(version).encode("latin-1")
    return dict(sorted(members.items()))


def _write_members(root: Path, members: Mapping[str, bytes]) -> int:
    total = 0
    for rel_path, data in members.items():
        target = root / rel_path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        total += len(data)
    return total


def _replace_demo_tree(root: Path) -> None:
    """Remove a previous demo ``C64Music`` at ``root``; refuse anything else."""
    if not root.exists():
        return
    marker = root / "DOCUMENTS" / "HVSC.txt"
    is_demo = marker.is_file() and DEMO_MARKER in marker.read_text("latin-1")
    if not is_demo and any(root.iterdir()):
        raise FileExistsError(f"{root} exists and is not a {DEMO_MARKER}; not overwriting it")
    shutil.rmtree(root)


def build_release_tree(dest: Path, version: int) -> ReleaseInfo:
    """Write ``dest/C64Music/`` exactly as release ``version`` is when built directly."""
    root = Path(dest) / HVSC_TREE
    _replace_demo_tree(root)
    root.mkdir(parents=True)
    members = _release_members(version)
    total = _write_members(root, members)
    rel = release(version)
    sid_bytes = sum(len(item.data()) for item in rel.files.values())
    songs = sum(len(item.tune.songs) for item in rel.files.values())
    return ReleaseInfo(version, root, len(rel.files), songs, total, sid_bytes)


def build_update_archive_tree(dest: Path, version: int) -> list[Path]:
    """Write the contents of update ``version``'s archive under ``dest`` (an ``update/``
    folder, as it unpacks inside ``C64Music/``); return the files written."""
    members = _update_archive_tree(version)
    _write_members(Path(dest), members)
    return [Path(dest) / p for p in members]


def full_archive_name(version: int) -> str:
    return f"HVSC_{version}-all-of-them.7z"


def update_archive_name(version: int) -> str:
    return f"HVSC_Update_{version}.7z"


def _write_7z(archive: Path, members: Mapping[str, bytes]) -> None:
    """A 7z whose bytes depend only on ``members``: files are staged with a fixed
    mtime and mode and added in sorted order, directories first-class."""
    with tempfile.TemporaryDirectory(prefix="sidflow-demo-") as tmp:
        stage = Path(tmp)
        _write_members(stage, members)
        names = sorted(_dirs(members) | set(members))
        for name in names:
            path = stage / name.rstrip("/")
            os.chmod(path, 0o755 if name.endswith("/") else 0o644)
            os.utime(path, (ARCHIVE_MTIME, ARCHIVE_MTIME))
        partial = archive.with_name(archive.name + ".part")
        with py7zr.SevenZipFile(partial, "w") as out:
            for name in names:
                out.write(stage / name.rstrip("/"), arcname=name.rstrip("/"))
        os.replace(partial, archive)
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    archive.with_name(archive.name + ".sha256").write_text(f"{digest}  {archive.name}\n", encoding="ascii")


def write_mirror(mirror_dir: Path, base_version: int = BASE_VERSION, updates: int = DEFAULT_UPDATES) -> list[Path]:
    """Write ``HVSC_<base>-all-of-them.7z`` (unpacks to ``C64Music/``) and
    ``HVSC_Update_<k>.7z`` for the next ``updates`` releases (each unpacks to
    ``update/``), each with a ``.sha256`` sidecar. Returns the archive paths."""
    if updates < 0:
        raise ValueError("updates must be ≥ 0")
    mirror = Path(mirror_dir)
    mirror.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    full = mirror / full_archive_name(base_version)
    _write_7z(full, {f"{HVSC_TREE}/{p}": d for p, d in _release_members(base_version).items()})
    written.append(full)
    for version in range(base_version + 1, base_version + updates + 1):
        archive = mirror / update_archive_name(version)
        _write_7z(archive, _update_archive_tree(version))
        written.append(archive)
    return written


# ------------------------------------------------------------------ public entry points


def write_demo_collection(
    dest: Path, version: int | None = None, *, base_version: int = BASE_VERSION, updates: int = DEFAULT_UPDATES
) -> DemoReport:
    """Write the demo ``C64Music/`` tree into ``dest``: by default the release a mirror
    written with the same ``base_version``/``updates`` syncs to. A previous demo tree
    there is replaced; any other existing tree makes this raise FileExistsError."""
    return build_release_tree(Path(dest), base_version + updates if version is None else version)


def write_demo_mirror(mirror_dir: Path, base_version: int = BASE_VERSION, updates: int = DEFAULT_UPDATES) -> list[Path]:
    """The offline "HVSC mirror" the default configuration syncs from."""
    return write_mirror(mirror_dir, base_version, updates)


def iter_demo_songs(version: int | None = None) -> Iterator[DemoSong]:
    """Every song of a release (default: base + default updates) with its design, by
    (relative path, 1-based song index), sorted by path."""
    return release(BASE_VERSION + DEFAULT_UPDATES if version is None else version).songs()


def demo_songs(version: int | None = None) -> dict[tuple[str, int], DemoSong]:
    """:func:`iter_demo_songs` keyed by (relative path, song index) for joins."""
    return {(s.path, s.song_index): s for s in iter_demo_songs(version)}
