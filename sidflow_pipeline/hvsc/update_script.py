"""Parse and execute HVSC update scripts (``UpdateNN.hvs``).

An HVSC delta release is not a tree to unpack over the collection: it is a script
that moves, renames, deletes and re-credits files, plus an ``update/`` folder of new
and fixed tunes that the script moves into place. Release N is only reproduced
byte for byte if the script is executed exactly, so this module follows
``docs/hvs-update-script.md`` to the letter and refuses anything it does not
understand instead of guessing — except three forms the real scripts every HVSC user
applies do use (Update73.hvs, Update74.hvs), described in ``docs/reliability.md``: a
directory MOVE to a destination without its trailing '/', a DELETE of a directory
without its trailing '/', and a DELETE of a file an earlier update already removed.

Parsing and executing are separate so that a script can be checked completely
(every keyword, path and value) before a single file is touched.

Lexical rule for comments (the doc says "comments, except inside a parameter
block"): a *parameter block* is the fixed number of lines a keyword takes (2 for
TITLE, 4 for CREDITS, ...). Where a block may *start*, blank lines and lines whose
first non-blank character is ``#`` or ``;`` are skipped and a keyword line switches
the mode. Once a block has started, its remaining lines are taken verbatim — a title
may be ``#1 Hit`` or empty. In Update74.hvs every comment and blank line sits
before the first line of a block or after a keyword line (``#####  number of
songs,starting tune``), never between the lines of one block, so both readings agree
on the real file; the verbatim reading is the one that cannot corrupt a title. A
stray comment inside a block shifts the following lines, which then fail the path
check of the next block, so the mistake is reported rather than applied.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

from sidflow_pipeline.errors import SidflowError
from sidflow_pipeline.sid.header import (
    SidFormatError,
    encode_header,
    parse_sid,
    rewrite_header,
)

__all__ = [
    "BLOCK_LINES",
    "KEYWORD_ALIASES",
    "ApplyReport",
    "Command",
    "HvsScriptError",
    "UpdateScript",
    "apply_update_script",
    "load_update_script",
    "parse_update_script",
]

# Older keyword names, mapped to the modern ones so the executor has one name per
# operation.
KEYWORD_ALIASES: dict[str, str] = {"COPYRIGHT": "RELEASED", "VIDEO": "CLOCK", "SIDCHIP": "SIDMODEL"}

# Lines per parameter block, by canonical keyword.
BLOCK_LINES: dict[str, int] = {
    "TITLE": 2,
    "AUTHOR": 2,
    "RELEASED": 2,
    "CREDITS": 4,
    "SPEED": 2,
    "SONGS": 2,
    "INITPLAY": 2,
    "MUSPLAYER": 2,
    "PLAYSID": 2,
    "CLOCK": 2,
    "SIDMODEL": 2,
    "FREEPAGES": 2,
    "FLAGS": 5,
    "DELETE": 1,
    "MOVE": 2,
    "REPLACE": 2,
    "MKDIR": 1,
    "FIXLOAD": 1,
}

# What each line of a block must look like. Path kinds: "file" (no trailing
# separator), "dir" (trailing separator), "path" (either). Value kinds are checked by
# the parsers in _VALUE_PARSERS; a trailing "*" means the literal "*" keeps the field.
_PARAM_KINDS: dict[str, tuple[str, ...]] = {
    "TITLE": ("file", "text"),
    "AUTHOR": ("file", "text"),
    "RELEASED": ("file", "text"),
    "CREDITS": ("file", "text*", "text*", "text*"),
    "SPEED": ("file", "speed"),
    "SONGS": ("file", "songs"),
    "INITPLAY": ("file", "initplay"),
    "MUSPLAYER": ("file", "bool"),
    "PLAYSID": ("file", "bool"),
    "CLOCK": ("file", "clock"),
    "SIDMODEL": ("file", "model"),
    "FREEPAGES": ("file", "freepages"),
    "FLAGS": ("file", "bool*", "bool*", "clock*", "model*"),
    "DELETE": ("path",),
    "MOVE": ("path", "path"),
    "REPLACE": ("path", "path"),
    "MKDIR": ("dir",),
    "FIXLOAD": ("file",),
}

_KEYWORDS = frozenset(BLOCK_LINES) | frozenset(KEYWORD_ALIASES)
_RESULTING_RE = re.compile(r"^\s*#\s*Resulting\s+Version\s*:\s*(\d+)\s*$", re.IGNORECASE)
_PREVIOUS_RE = re.compile(r"^\s*#\s*Previous\s+Version\s*:\s*(\d+)\s*$", re.IGNORECASE)
_HEX_RE = re.compile(r"^(?:\$|0[xX])?([0-9A-Fa-f]+)$")
_TEXT_LIMIT = 32
_T = TypeVar("_T")

# Flag field layout (SID_file_format.txt): bit 0 MUS player, bit 1 PlaySID-specific
# (C64 BASIC for RSID), bits 2-3 clock, bits 4-5 model of the first SID.
_CLOCK_CODES = {"UNKNOWN": 0, "PAL": 1, "NTSC": 2, "ANY": 3}
_MODEL_CODES = {"UNKNOWN": 0, "6581": 1, "8580": 2, "ANY": 3}
_BOOL_VALUES = {
    "1": True,
    "YES": True,
    "TRUE": True,
    "ON": True,
    "0": False,
    "NO": False,
    "FALSE": False,
    "OFF": False,
}
_MUS_BIT, _PSID_BIT, _CLOCK_SHIFT, _MODEL_SHIFT = 0x01, 0x02, 2, 4


class HvsScriptError(SidflowError):
    """A script that cannot be parsed or applied; ``str()`` is one self-contained line.

    The line number points into the script so a maintainer can open it at the
    offending block; it is ``None`` when no single line is to blame.
    """

    def __init__(self, message: str, *, line: int | None = None, script: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.script = script

    def __str__(self) -> str:
        where = self.script or ""
        if self.line is not None:
            where = f"{where} line {self.line}".strip()
        return f"{where}: {self.message}" if where else self.message


@dataclass(frozen=True)
class Command:
    """One parameter block: canonical keyword, its lines, and where it starts.

    Paths and values are stripped of surrounding white space; text fields (TITLE,
    AUTHOR, RELEASED, CREDITS) are kept verbatim because they are written into the
    header as they stand.
    """

    keyword: str
    params: tuple[str, ...]
    line: int


@dataclass(frozen=True)
class UpdateScript:
    """A fully validated script, ready for :func:`apply_update_script`."""

    resulting_version: int
    previous_version: int
    commands: list[Command]
    name: str = "UpdateNN.hvs"
    previous_version_line: int | None = None

    def counts(self) -> dict[str, int]:
        """Commands per canonical keyword, in first-seen order (for reports and tests)."""
        return dict(Counter(cmd.keyword for cmd in self.commands))


@dataclass
class ApplyReport:
    """What applying a script did, for the caller's metadata and for migrating user data.

    ``moves`` maps old to new HVSC paths (on-disk case) of every file moved by MOVE,
    one entry per file for directory moves, in execution order — a rating keyed by
    path follows its tune by replaying the list. Entries whose old path lies under
    ``/update/`` are new tunes arriving, not renames. ``replaced`` lists every
    destination REPLACE wrote (overwritten or not); ``edited`` every file whose
    header was changed, once each; ``deleted`` files and directories (with ``/``);
    ``already_absent`` files a DELETE named that were not there (an earlier update
    removed them).
    """

    counts: dict[str, int] = field(default_factory=dict)
    moves: list[tuple[str, str]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    edited: list[str] = field(default_factory=list)
    created_dirs: list[str] = field(default_factory=list)
    already_absent: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- values


def _parse_hex(text: str, what: str, limit: int) -> int:
    match = _HEX_RE.match(text.strip())
    if not match:
        raise ValueError(f"{what} {text!r} is not hexadecimal")
    value = int(match.group(1), 16)
    if value > limit:
        raise ValueError(f"{what} ${value:X} is larger than ${limit:X}")
    return value


def _parse_pair(text: str, what: str) -> tuple[str, str]:
    parts = text.split(",")
    if len(parts) != 2:
        raise ValueError(f"{what} {text!r} must be two values separated by a comma")
    return parts[0].strip(), parts[1].strip()


def _parse_text(text: str) -> str:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        raise ValueError(f"text {text!r} has characters outside Latin-1") from None
    if len(text) > _TEXT_LIMIT:
        raise ValueError(f"text {text!r} is {len(text)} characters long, at most {_TEXT_LIMIT} fit")
    return text


def _parse_speed(text: str) -> int:
    return _parse_hex(text, "speed", 0xFFFFFFFF)


def _parse_songs(text: str) -> tuple[int, int]:
    songs_text, start_text = _parse_pair(text, "songs,startsong")
    if not (songs_text.isdigit() and start_text.isdigit()):
        raise ValueError(f"songs,startsong {text!r} must be two decimal numbers")
    songs, start = int(songs_text), int(start_text)
    if not 1 <= songs <= 256:
        raise ValueError(f"songs {songs} out of range 1–256")
    if not 1 <= start <= songs:
        raise ValueError(f"start song {start} out of range 1–{songs}")
    return songs, start


def _parse_initplay(text: str) -> tuple[int, int]:
    init_text, play_text = _parse_pair(text, "init,play")
    return _parse_hex(init_text, "init address", 0xFFFF), _parse_hex(
        play_text, "play address", 0xFFFF
    )


def _parse_freepages(text: str) -> tuple[int, int]:
    start_text, length_text = _parse_pair(text, "start,length")
    return _parse_hex(start_text, "start page", 0xFF), _parse_hex(length_text, "page length", 0xFF)


def _lookup_name(table: dict[str, _T], text: str, what: str) -> _T:
    key = text.strip().upper()
    if key not in table:
        raise ValueError(f"{what} {text!r} is not one of {', '.join(table)}")
    return table[key]


def _parse_bool(text: str) -> bool:
    return _lookup_name(_BOOL_VALUES, text, "flag")


def _parse_clock(text: str) -> int:
    return _lookup_name(_CLOCK_CODES, text, "clock")


def _parse_model(text: str) -> int:
    return _lookup_name(_MODEL_CODES, text, "SID model")


_VALUE_PARSERS: dict[str, Callable[[str], object]] = {
    "text": _parse_text,
    "speed": _parse_speed,
    "songs": _parse_songs,
    "initplay": _parse_initplay,
    "freepages": _parse_freepages,
    "bool": _parse_bool,
    "clock": _parse_clock,
    "model": _parse_model,
}


def _keeps(value: str) -> bool:
    return value.strip() == "*"


# --------------------------------------------------------------------------- paths


def _is_dir_path(path: str) -> bool:
    return path.endswith(("/", "\\"))


def _split_path(path: str) -> list[str]:
    """Components of an HVSC path; raises ValueError for anything that could leave root."""
    if not path.startswith(("/", "\\")):
        raise ValueError(f"expected an HVSC path starting with '/', got {path!r}")
    parts = [part for part in re.split(r"[/\\]", path) if part]
    for part in parts:
        if part in (".", ".."):
            raise ValueError(f"path {path!r} contains {part!r}; paths must stay inside C64Music")
        if "\x00" in part or re.match(r"^[A-Za-z]:$", part):
            raise ValueError(f"path {path!r} has an invalid component {part!r}")
    return parts


def _hvsc_path(parts: list[str], is_dir: bool = False) -> str:
    text = "/" + "/".join(parts)
    return text + "/" if is_dir and parts else text


# --------------------------------------------------------------------------- parsing


def load_update_script(path: Path | str) -> UpdateScript:
    """Read a script file (Latin-1, as HVSC writes it) and parse it under its own name."""
    path = Path(path)
    return parse_update_script(path.read_bytes().decode("latin-1"), name=path.name)


def _lines(text: str) -> Iterator[tuple[int, str]]:
    # Split on "\n" only: str.splitlines() would also split on U+0085, which is how
    # Latin-1 decodes the cp1252 ellipsis byte that HVSC credits can contain.
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # the terminating newline does not start another (empty) line
    for number, line in enumerate(lines, start=1):
        yield number, line.removesuffix("\r")


def _is_skippable(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped[0] in "#;"


def parse_update_script(text: str, name: str = "UpdateNN.hvs") -> UpdateScript:
    """Parse and validate a whole script; raise :class:`HvsScriptError` naming the line.

    Everything that can be checked without the tree is checked here (keywords, block
    lengths, path syntax, hex values, ranges, text lengths) so a bad script fails
    before anything is modified.
    """

    def fail(message: str, line: int | None) -> HvsScriptError:
        return HvsScriptError(message, line=line, script=name)

    resulting: int | None = None
    previous: int | None = None
    previous_line: int | None = None
    mode: str | None = None
    block: list[tuple[int, str]] = []
    commands: list[Command] = []

    for number, raw in _lines(text):
        if block:
            block.append((number, raw))
        elif _is_skippable(raw):
            if resulting is None and (match := _RESULTING_RE.match(raw)):
                resulting = int(match.group(1))
            if previous is None and (match := _PREVIOUS_RE.match(raw)):
                previous, previous_line = int(match.group(1)), number
            continue
        elif raw.strip().upper() in _KEYWORDS:
            word = raw.strip().upper()
            mode = KEYWORD_ALIASES.get(word, word)
            if resulting is None or previous is None:
                missing = "Resulting" if resulting is None else "Previous"
                raise fail(
                    f"{mode}: no '# {missing} Version: N' line before the first command", number
                )
            continue
        else:
            if mode is None:
                raise fail(
                    f"expected a keyword before the first parameter line, got {raw.strip()!r}",
                    number,
                )
            if not raw.strip().startswith(("/", "\\")):
                raise fail(
                    f"{mode}: expected a path or one of the keywords "
                    f"({', '.join(sorted(_KEYWORDS))}), got {raw.strip()!r}",
                    number,
                )
            block = [(number, raw)]
        assert mode is not None
        if len(block) == BLOCK_LINES[mode]:
            commands.append(_check_block(mode, block, fail))
            block = []

    if block:
        assert mode is not None
        raise fail(
            f"{mode}: block cut short by the end of the script "
            f"({len(block)} of {BLOCK_LINES[mode]} lines)",
            block[0][0],
        )
    if resulting is None or previous is None:
        missing = "Resulting" if resulting is None else "Previous"
        raise fail(f"no '# {missing} Version: N' line in the script header", None)
    return UpdateScript(
        resulting_version=resulting,
        previous_version=previous,
        commands=commands,
        name=name,
        previous_version_line=previous_line,
    )


def _check_block(
    keyword: str,
    block: list[tuple[int, str]],
    fail: Callable[[str, int | None], HvsScriptError],
) -> Command:
    """Validate one block's lines against what its keyword expects."""
    params: list[str] = []
    for kind, (number, raw) in zip(_PARAM_KINDS[keyword], block, strict=True):
        base = kind.rstrip("*")
        value = raw if base == "text" else raw.strip()
        params.append(value)
        try:
            if base in ("file", "dir", "path"):
                _split_path(value)
                if base == "file" and _is_dir_path(value):
                    raise ValueError(f"expected a file, got the directory {value!r}")
                if base == "dir" and not _is_dir_path(value):
                    raise ValueError(f"expected a directory ending in '/', got {value!r}")
            elif not (kind.endswith("*") and _keeps(value)):
                _VALUE_PARSERS[base](value)
        except ValueError as exc:
            hint = (
                " (comments are not allowed inside a parameter block)" if _is_skippable(raw) else ""
            )
            raise fail(f"{keyword}: {exc}{hint}", number) from None
    if keyword in ("MOVE", "REPLACE") and _is_dir_path(params[0]) and not _is_dir_path(params[1]):
        # Update73.hvs moves /update/new/MUSICIANS/M/Met/ to /MUSICIANS/M/Met: a
        # directory can only go to a directory, so the destination names one whether
        # or not it ends in '/'. A destination that names a SID file is a mistake.
        if params[1].lower().endswith(".sid"):
            raise fail(
                f"{keyword}: a directory ({params[0]}) can only go to a directory, not {params[1]}",
                block[1][0],
            )
        params[1] = params[1] + "/"
    return Command(keyword=keyword, params=tuple(params), line=block[0][0])


# --------------------------------------------------------------------------- applying


def apply_update_script(
    script: UpdateScript, root: Path, installed_version: int | None
) -> ApplyReport:
    """Execute every command of ``script`` against the ``C64Music`` directory ``root``.

    ``root/update/`` must already hold the unpacked update archive. Pass
    ``installed_version=None`` only when the caller has verified the release itself.

    Not transactional: when a command fails, the commands before it have already
    changed ``root`` and the :class:`HvsScriptError` says which line stopped it. Run
    this on a staging copy and swap it in only on success. Individual files are
    never half-written (header edits go through a temporary file and ``os.replace``).

    ``DELETE dir/`` only removes an empty directory, so a user file left in the tree
    (e.g. ``*.sid.tags.json`` beside a tune the script moves away) makes the script
    fail there; keep user files out of the staging copy or move them alongside.
    """
    if installed_version is not None and script.previous_version != installed_version:
        raise HvsScriptError(
            f"script updates release {script.previous_version} to {script.resulting_version}, "
            f"but the installed release is {installed_version}",
            line=script.previous_version_line,
            script=script.name,
        )
    root = Path(root)
    if not root.is_dir():
        raise HvsScriptError(f"collection root {root} is not a directory", script=script.name)
    executor = _Executor(root, script.name)
    for command in script.commands:
        executor.run(command)
    return executor.report


class _Executor:
    """Runs commands one by one; holds the current command so errors name its line."""

    def __init__(self, root: Path, script_name: str) -> None:
        self.root = root
        self.script_name = script_name
        self.report = ApplyReport()
        self.command: Command | None = None

    # -- plumbing

    def fail(self, message: str) -> HvsScriptError:
        assert self.command is not None
        return HvsScriptError(
            f"{self.command.keyword}: {message}", line=self.command.line, script=self.script_name
        )

    def run(self, command: Command) -> None:
        self.command = command
        # Scripts built by hand skip the parser; a keyword must still be a known one.
        if command.keyword not in BLOCK_LINES:
            raise self.fail(f"not a canonical keyword (one of {', '.join(BLOCK_LINES)})")
        if BLOCK_LINES[command.keyword] != len(command.params):
            raise self.fail(
                f"takes {BLOCK_LINES[command.keyword]} parameter lines, got {len(command.params)}"
            )
        handler = getattr(self, f"_do_{command.keyword.lower()}", None)
        if handler is None:
            handler = self._do_header_edit
        try:
            handler(*command.params)
        except (OSError, SidFormatError) as exc:
            raise self.fail(str(exc)) from exc
        self.report.counts[command.keyword] = self.report.counts.get(command.keyword, 0) + 1

    def parts(self, path: str) -> list[str]:
        try:
            return _split_path(path)
        except ValueError as exc:
            raise self.fail(str(exc)) from None

    def child(self, directory: Path, name: str) -> Path | None:
        """The entry of ``directory`` named ``name`` ignoring case, or None.

        HVSC paths are case-insensitive while the filesystem may not be; an exact
        match wins, two entries differing only in case are refused as ambiguous.
        """
        try:
            entries = os.listdir(directory)
        except (FileNotFoundError, NotADirectoryError):
            return None
        if name in entries:
            found = name
        else:
            folded = name.casefold()
            matches = [entry for entry in entries if entry.casefold() == folded]
            if not matches:
                return None
            if len(matches) > 1:
                raise self.fail(
                    f"{name!r} is ambiguous in {self.rel(directory)}: {sorted(matches)}"
                )
            found = matches[0]
        path = directory / found
        if path.is_symlink():
            raise self.fail(f"{self.rel(path)} is a symbolic link; refusing to follow it")
        return path

    def find(self, parts: list[str]) -> Path | None:
        current = self.root
        for part in parts:
            found = self.child(current, part)
            if found is None:
                return None
            current = found
        return current

    def rel(self, path: Path, is_dir: bool = False) -> str:
        return _hvsc_path(list(path.relative_to(self.root).parts), is_dir)

    def existing_file(self, path: str) -> Path:
        if _is_dir_path(path):
            raise self.fail(f"expected a file, got the directory {path}")
        found = self.find(self.parts(path))
        if found is None:
            raise self.fail(f"{path} does not exist")
        if not found.is_file():
            raise self.fail(f"{path} is a directory; write it as {path}/")
        return found

    def existing_dir(self, path: str) -> Path:
        found = self.find(self.parts(path))
        if found is None:
            raise self.fail(f"directory {path} does not exist")
        if not found.is_dir():
            raise self.fail(f"{path} is a file, not a directory")
        return found

    def target_dir(self, path: str, *, create: bool) -> Path:
        """The directory ``path``; MOVE/REPLACE may create its last component only."""
        parts = self.parts(path)
        found = self.find(parts)
        if found is not None:
            if not found.is_dir():
                raise self.fail(f"destination {path} is a file, not a directory")
            return found
        parent = self.find(parts[:-1])
        if not create or parent is None or not parent.is_dir():
            raise self.fail(
                f"destination directory {path} does not exist and neither does its parent"
            )
        new = parent / parts[-1]
        new.mkdir()
        self.report.created_dirs.append(self.rel(new, is_dir=True))
        return new

    # -- file system commands

    def _do_delete(self, path: str) -> None:
        """Delete a file, or an empty directory.

        Two forms of the real scripts are accepted beyond the letter of the format:
        a directory written without its trailing '/' (Update73.hvs deletes the emptied
        ``/update/new/MUSICIANS/P/Page_Jason``) is deleted as that directory, and a
        *file* that is already absent (Update73 and 74 both delete
        ``/DOCUMENTS/Songlengths.txt``, gone since an earlier update) is a no-op: the
        state the command asks for already holds. It is listed in
        ``report.already_absent``. A missing *directory* is still refused: scripts only
        delete folders they just emptied, so its absence means a different tree.
        """
        parts = self.parts(path)
        if not parts:
            raise self.fail("refusing to delete the collection root")
        found = None if _is_dir_path(path) else self.find(parts)
        if _is_dir_path(path) or (found is not None and found.is_dir()):
            directory = self.existing_dir(path) if found is None else found
            leftovers = sorted(os.listdir(directory))
            if leftovers:
                raise self.fail(
                    f"directory {self.rel(directory, is_dir=True)} is not empty "
                    f"({len(leftovers)} entries, e.g. {leftovers[0]!r})"
                )
            directory.rmdir()
            self.report.deleted.append(self.rel(directory, is_dir=True))
        elif found is None:
            for depth in range(1, len(parts)):
                above = self.find(parts[:depth])
                if above is None:
                    break
                if not above.is_dir():  # a path through a file: not the tree the script expects
                    raise self.fail(f"{path} does not exist ({self.rel(above)} is a file)")
            self.report.already_absent.append(_hvsc_path(parts))
        else:
            found.unlink()
            self.report.deleted.append(self.rel(found))

    def _do_mkdir(self, path: str) -> None:
        parts = self.parts(path)
        if not parts:
            raise self.fail("the collection root already exists")
        parent = self.find(parts[:-1])
        if parent is None or not parent.is_dir():
            raise self.fail(f"parent directory of {path} does not exist")
        if self.child(parent, parts[-1]) is not None:
            raise self.fail(f"{path} already exists")
        new = parent / parts[-1]
        new.mkdir()
        self.report.created_dirs.append(self.rel(new, is_dir=True))

    def _do_move(self, source: str, destination: str) -> None:
        self._transfer(source, destination, overwrite=False)

    def _do_replace(self, source: str, destination: str) -> None:
        self._transfer(source, destination, overwrite=True)

    def _transfer(self, source: str, destination: str, *, overwrite: bool) -> None:
        if _is_dir_path(source):
            src_dir = self.existing_dir(source)
            dst_dir = self.target_dir(destination, create=True)
            files = sorted(
                entry
                for entry in os.listdir(src_dir)
                if (src_dir / entry).is_file() and not (src_dir / entry).is_symlink()
            )
            for name in files:
                self._transfer_file(src_dir / name, dst_dir, name, overwrite=overwrite)
            return
        src_file = self.existing_file(source)
        source_name = self.parts(source)[-1]
        if _is_dir_path(destination):
            dst_dir = self.target_dir(destination, create=True)
            self._transfer_file(src_file, dst_dir, source_name, overwrite=overwrite)
            return
        dst_parts = self.parts(destination)  # a file path always has a last component
        parent = self.find(dst_parts[:-1])
        if parent is None or not parent.is_dir():
            raise self.fail(f"directory of the destination {destination} does not exist")
        self._transfer_file(src_file, parent, dst_parts[-1], overwrite=overwrite)

    def _transfer_file(self, src: Path, dst_dir: Path, name: str, *, overwrite: bool) -> None:
        """Move one file into ``dst_dir`` as ``name``, the case of ``name`` winning."""
        existing = self.child(dst_dir, name)
        new = dst_dir / name
        old_rel = self.rel(src)
        if existing is not None and not overwrite:
            raise self.fail(f"destination {self.rel(existing)} already exists")
        if existing is not None and existing.is_dir():
            raise self.fail(f"destination {self.rel(existing)} is a directory")
        if existing is not None and existing.name != name:
            # Overwrite under the old spelling first (atomic), then fix the case; on a
            # case-insensitive filesystem unlinking the old spelling would delete both.
            os.replace(src, existing)
            os.rename(existing, new)
        else:
            os.replace(src, new)
        if overwrite:
            self.report.replaced.append(self.rel(new))
        else:
            self.report.moves.append((old_rel, self.rel(new)))

    # -- header edits

    def _do_header_edit(self, path: str, *values: str) -> None:
        assert self.command is not None
        target = self.existing_file(path)
        data = target.read_bytes()
        new_data = self._edit(self.command.keyword, data, values)
        if new_data != data:
            _atomic_write(target, new_data)
        rel = self.rel(target)
        if rel not in self.report.edited:
            self.report.edited.append(rel)

    def _edit(self, keyword: str, data: bytes, values: tuple[str, ...]) -> bytes:
        header = parse_sid(data).header
        if keyword == "TITLE":
            return rewrite_header(data, name=values[0])
        if keyword == "AUTHOR":
            return rewrite_header(data, author=values[0])
        if keyword == "RELEASED":
            return rewrite_header(data, released=values[0])
        if keyword == "CREDITS":
            changes = {
                field_name: value
                for field_name, value in zip(("name", "author", "released"), values, strict=True)
                if not _keeps(value)
            }
            return rewrite_header(data, **changes) if changes else data
        if keyword == "SPEED":
            return rewrite_header(data, speed=_parse_speed(values[0]))
        if keyword == "SONGS":
            songs, start = _parse_songs(values[0])
            return rewrite_header(data, songs=songs, start_song=start)
        if keyword == "INITPLAY":
            init, play = _parse_initplay(values[0])
            return rewrite_header(data, init_address=init, play_address=play)
        if keyword == "FREEPAGES":
            start_page, page_length = _parse_freepages(values[0])
            return rewrite_header(data, start_page=start_page, page_length=page_length)
        if keyword == "FIXLOAD":
            return self._fixload(data)
        # Flag edits: every bit not named by the command is kept.
        flags = header.flags if header.version >= 2 else 0
        settings: dict[str, str] = {}
        if keyword == "FLAGS":
            settings = dict(zip(("MUSPLAYER", "PLAYSID", "CLOCK", "SIDMODEL"), values, strict=True))
        else:
            settings = {keyword: values[0]}
        for name, value in settings.items():
            if _keeps(value):
                continue
            if name == "MUSPLAYER":
                flags = _set_bits(flags, _MUS_BIT, _MUS_BIT if _parse_bool(value) else 0)
            elif name == "PLAYSID":
                flags = _set_bits(flags, _PSID_BIT, _PSID_BIT if _parse_bool(value) else 0)
            elif name == "CLOCK":
                flags = _set_bits(flags, 0x3 << _CLOCK_SHIFT, _parse_clock(value) << _CLOCK_SHIFT)
            else:
                flags = _set_bits(flags, 0x3 << _MODEL_SHIFT, _parse_model(value) << _MODEL_SHIFT)
        return rewrite_header(data, flags=flags)

    def _fixload(self, data: bytes) -> bytes:
        """Load address + 2, first two C64 data bytes dropped (header.py keeps payloads intact).

        For a file whose load address lives in the first two payload bytes (header
        field 0) the same edit applies to the effective address and the bytes after it.
        """
        sid = parse_sid(data)
        header = sid.header
        if len(sid.c64_data) < 3:
            raise self.fail(
                f"only {len(sid.c64_data)} bytes of C64 data; nothing left after FIXLOAD"
            )
        new_load = sid.load_address + 2
        if header.load_address:
            new_header = replace(header, load_address=new_load)
            payload = sid.payload[2:]
        else:
            new_header = header
            payload = new_load.to_bytes(2, "little") + sid.payload[4:]
        new_data = encode_header(new_header) + payload
        parse_sid(new_data)  # never write a file our own parser would reject
        return new_data


def _set_bits(flags: int, mask: int, value: int) -> int:
    return (flags & ~mask) | value


def _atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` so that readers see the old bytes or the new, never a mix."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        shutil.copymode(path, tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
