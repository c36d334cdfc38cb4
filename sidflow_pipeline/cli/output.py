"""Output that fits: tables cut to the terminal's width, and machine-readable forms.

A table row that wraps is unreadable (the issue's recommend table at 80 columns), so
tables here never wrap: each column gets at most its natural width, the widest
columns give up characters first (ending in ``…``), and columns a narrow terminal
cannot hold at all are left out by priority. The width is ``COLUMNS`` when set, else
the terminal's, and 80 when output goes to a pipe.

``--format`` is the same option on every command that lists songs; the shapes of
``json``/``jsonl`` are documented in docs/output-formats.md.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import click

__all__ = [
    "FORMATS",
    "Column",
    "emit_json",
    "emit_jsonl",
    "format_option",
    "print_lines",
    "print_table",
    "render_table",
    "terminal_width",
]

FORMATS = ("table", "json", "jsonl", "m3u", "paths")
_GAP = 2


def format_option(*formats: str, default: str = "table") -> Callable[[Any], Any]:
    """``--format`` with the given choices (default: all of :data:`FORMATS`)."""
    choices = list(formats or FORMATS)
    return click.option(
        "--format", "fmt", type=click.Choice(choices), default=default, show_default=True,
        help="table (fits the terminal), json (one document), jsonl (one object a line), "
        "m3u (a playlist), paths (one SID file a line)"
        if set(choices) == set(FORMATS) else f"Output form: {', '.join(choices)}.",
    )  # fmt: skip


@dataclass(frozen=True)
class Column:
    """One table column.

    ``min_width``: the column is not shrunk below this (it is dropped instead);
    ``drop``: columns with a higher value are dropped first when even the minimum
    widths do not fit (0 = never dropped); ``max_width`` caps the natural width.
    """

    header: str
    justify: str = "left"
    min_width: int = 4
    max_width: int | None = None
    drop: int = 0
    keep_end: bool = False  # paths: "…Hubbard_Rob/Commando.sid#3" says more than "MUSICIANS/H/…"


def _cell_len(text: str) -> int:
    if text.isascii() or not text.strip("─…"):  # the common cases, without rich's width table
        return len(text)
    from rich.cells import cell_len

    return cell_len(text)


def _fit(text: str, width: int, justify: str, keep_end: bool = False) -> str:
    text = " ".join(text.split())  # a cell is one line
    if _cell_len(text) > width:
        if text.isascii():
            return ("…" + text[len(text) - width + 1 :]) if keep_end and width > 1 else (text[: max(width - 1, 0)] + ("…" if width else ""))
        from rich.cells import set_cell_size

        if keep_end and width > 1:
            tail = text
            while _cell_len(tail) > width - 1:
                tail = tail[1:]
            return "…" + tail
        return set_cell_size(text, max(width - 1, 0)) + ("…" if width else "")
    pad = " " * (width - _cell_len(text))
    return pad + text if justify == "right" else text + pad


def _widths(columns: Sequence[Column], rows: Sequence[Sequence[str]], width: int) -> list[int | None]:
    natural = []
    for i, column in enumerate(columns):
        longest = max([_cell_len(column.header), *(_cell_len(" ".join(r[i].split())) for r in rows)])
        natural.append(min(longest, column.max_width) if column.max_width else longest)
    keep = list(range(len(columns)))

    def minimum(i: int) -> int:
        return min(natural[i], max(columns[i].min_width, 1))

    def needed(indices: list[int], size: Callable[[int], int]) -> int:
        return sum(size(i) for i in indices) + _GAP * max(len(indices) - 1, 0)

    while needed(keep, minimum) > width:
        droppable = [i for i in keep if columns[i].drop > 0]
        if not droppable:
            break
        keep.remove(max(droppable, key=lambda i: (columns[i].drop, i)))
    widths: dict[int, int] = {i: natural[i] for i in keep}
    excess = needed(keep, lambda i: widths[i]) - width
    while excess > 0:
        shrinkable = [i for i in keep if widths[i] > minimum(i)]
        if not shrinkable:
            break
        widest = max(shrinkable, key=lambda i: (widths[i], -i))
        widths[widest] -= 1
        excess -= 1
    if excess > 0:  # even the minimums do not fit: cut the last columns hard
        for i in reversed(keep):
            cut = min(excess, widths[i])
            widths[i] -= cut
            excess -= cut
            if excess <= 0:
                break
    return [widths.get(i) if i in widths and widths[i] > 0 else None for i in range(len(columns))]


def render_table(title: str | None, columns: Sequence[Column], rows: Sequence[Sequence[str]], width: int) -> list[str]:
    """The table as lines of at most ``width`` cells each (pure, so tests can check it)."""
    width = max(width, 1)
    widths = _widths(columns, rows, width)
    shown = [(i, w) for i, w in enumerate(widths) if w is not None]

    def line(cells: Sequence[str]) -> str:
        text = (" " * _GAP).join(_fit(cells[i], w, columns[i].justify, columns[i].keep_end) for i, w in shown).rstrip()
        return _fit(text, width, "left").rstrip() if _cell_len(text) > width else text

    out = [_fit(title, width, "left").rstrip()] if title else []
    out.append(line([c.header for c in columns]))
    out.append(line(["─" * w if w else "" for w in widths]))
    out.extend(line(row) for row in rows)
    return out


def terminal_width() -> int:
    """The width tables fit: ``COLUMNS`` when set, else the terminal's, else 80 (a pipe)."""
    import shutil

    return shutil.get_terminal_size((80, 24)).columns


def print_table(title: str | None, columns: Sequence[Column], rows: Sequence[Sequence[str]], footer: str | None = None) -> None:
    """Render for the terminal's width; the header line is bold on a terminal.

    Printed with click (which drops the styling when output is not a terminal) rather
    than rich: cell text is never taken for markup, and rich's import is saved.
    """
    width = terminal_width()
    lines = render_table(title, columns, rows, width)
    header_at = 1 if title else 0
    for number, text in enumerate(lines):
        click.echo(click.style(text, bold=True) if number in (0, header_at) else text)
    if footer:
        click.echo(click.style(_fit(footer, width, "left").rstrip(), dim=True))


def print_lines(lines: Iterable[str]) -> None:
    """Plain lines on stdout (m3u, paths): no markup, no wrapping, no colour."""
    for text in lines:
        click.echo(text)


def emit_json(payload: Any) -> None:
    click.echo(json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False))


def emit_jsonl(records: Iterable[Any]) -> None:
    for record in records:
        click.echo(json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":")))


def length_text(length_ms: int | None) -> str:
    """``m:ss`` of a song length, ``?`` when Songlengths does not know it."""
    if length_ms is None:
        return "?"
    seconds = round(length_ms / 1000)
    return f"{seconds // 60}:{seconds % 60:02d}"


def song_file(hvsc_root: Any, sid_path: str) -> str:
    """The absolute path of a song's SID file (what another player opens)."""
    import os

    # abspath, not resolve(): a collection reached through a symlink keeps the user's path.
    return str(os.path.abspath(hvsc_root / sid_path.lstrip("/")))


def emit_songs(
    fmt: str,
    rows: Sequence[dict[str, Any]],
    *,
    hvsc_root: Any,
    payload: dict[str, Any],
    title: str,
    columns: Sequence[Column],
    cells: Callable[[dict[str, Any]], Sequence[str]],
    footer: str | None = None,
    playlist: str = "SIDFlow",
) -> None:
    """Print songs (dicts with sid_path, song_index, composer, title, length_ms) as ``fmt``.

    json is ``payload`` plus ``results``; jsonl one result a line; m3u an extended M3U
    (``#EXTINF:<seconds>,<Composer> - <Title>``); paths each SID file once, in order.
    Every machine form carries ``file``, the absolute path of the SID.
    """
    records = [{**row, "file": song_file(hvsc_root, row["sid_path"])} for row in rows]
    if fmt == "json":
        emit_json({**payload, "results": records})
    elif fmt == "jsonl":
        emit_jsonl(records)
    elif fmt == "m3u":
        from sidflow_pipeline.radio.queue import m3u_lines

        entries = (
            (round(r["length_ms"] / 1000) if r.get("length_ms") else None, r.get("composer") or "", r.get("title") or "",
             int(r["song_index"]), r["file"])
            for r in records
        )  # fmt: skip
        print_lines(m3u_lines(entries, playlist))
    elif fmt == "paths":
        print_lines(dict.fromkeys(r["file"] for r in records))
    else:
        print_table(title, columns, [cells(r) for r in records], footer)
