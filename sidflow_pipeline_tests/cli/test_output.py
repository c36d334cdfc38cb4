"""Tables never wider than the terminal, whatever the cells hold."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.cells import cell_len

from sidflow_pipeline.cli.output import Column, render_table

COLUMNS = [
    Column("#", "right", 2),
    Column("composer", min_width=12, max_width=28, drop=3),
    Column("title", min_width=16, max_width=48),
    Column("length", "right", 6, drop=4),
    Column("path#song", min_width=16, drop=1, keep_end=True),
]
cell = st.text(alphabet=st.sampled_from("abcXYZ 0123_/#.…äöü日本語\t\n"), max_size=70)


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(st.tuples(cell, cell, cell, cell, cell), max_size=6), width=st.integers(1, 220), title=cell)
def test_no_line_exceeds_the_width(rows: list[tuple[str, ...]], width: int, title: str) -> None:
    lines = render_table(title, COLUMNS, rows, width)
    assert all(cell_len(line) <= width for line in lines)
    assert len(lines) == len(rows) + 2 + (1 if title else 0)  # one line per row: never wrapped


def test_columns_give_way_in_order() -> None:
    rows = [["1", "Rob Hubbard", "Commando", "4:05", "MUSICIANS/H/Hubbard_Rob/Commando.sid#1"]]
    wide = render_table(None, COLUMNS, rows, 200)
    assert wide[2].split() == ["1", "Rob", "Hubbard", "Commando", "4:05", "MUSICIANS/H/Hubbard_Rob/Commando.sid#1"]
    # Too narrow for every column's minimum: the highest `drop` goes first (length, then
    # composer); the path (drop=1) stays longest, cut at its start so the file name shows.
    narrow = render_table(None, COLUMNS, rows, 48)
    assert narrow[0].split() == ["#", "composer", "title", "path#song"]
    tight = render_table(None, COLUMNS, rows, 30)
    assert tight[0].split() == ["#", "title", "path#song"]
    assert tight[2] == "1  Commando  …b/Commando.sid#1"
    cut = render_table(None, [Column("path", keep_end=True)], [["MUSICIANS/H/Hubbard_Rob/Commando.sid#1"]], 16)
    assert cut[2] == "…/Commando.sid#1"
