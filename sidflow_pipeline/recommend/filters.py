"""The small query languages of `sidflow recommend` / `sidflow play`.

``--filters "e>=4,m<=2,c=5,bpm=120-140"`` becomes a SQL predicate that LanceDB applies
*before* the vector search (prefilter), so a narrow filter still yields a full page of
results. Ratings are often predicted (4.62, not 5), so ``c=5`` means "rounds to 5" —
what a listener means by it — and ``bpm=120-140`` is an inclusive range.

``--blend quiet:0.7,complex:0.3`` mixes mood presets into one query vector.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from sidflow_pipeline.errors import SidflowError

__all__ = [
    "FILTER_FIELDS",
    "MOOD_PRESETS",
    "Filter",
    "QueryError",
    "filters_to_sql",
    "parse_blend",
    "parse_filters",
    "parse_vector",
    "split_duration",
]

MOOD_PRESETS: dict[str, tuple[float, float, float]] = {
    "quiet": (1.0, 2.0, 1.0),
    "ambient": (2.0, 3.0, 2.0),
    "energetic": (5.0, 5.0, 4.0),
    "dark": (3.0, 1.0, 3.0),
    "bright": (4.0, 5.0, 3.0),
    "complex": (3.0, 3.0, 5.0),
}

FILTER_FIELDS: dict[str, tuple[float, float]] = {
    "e": (1.0, 5.0),
    "m": (1.0, 5.0),
    "c": (1.0, 5.0),
    "p": (1.0, 5.0),
    "bpm": (0.0, 1000.0),
    "duration": (0.0, 86400.0),
}

_CLAUSE = re.compile(r"^\s*([a-z]+)\s*(>=|<=|!=|=|>|<)\s*([0-9.]+)\s*(?:-\s*([0-9.]+)\s*)?$")


class QueryError(SidflowError, ValueError):
    """A malformed filter, vector or blend; the message is one line for the user."""


@dataclass(frozen=True)
class Filter:
    field: str
    op: str
    value: float
    high: float | None = None

    def sql(self) -> str:
        if self.high is not None:
            return f"({self.field} >= {self.value!r} AND {self.field} <= {self.high!r})"
        if self.op == "=":
            return f"({self.field} >= {self.value - 0.5!r} AND {self.field} < {self.value + 0.5!r})"
        if self.op == "!=":
            return f"({self.field} < {self.value - 0.5!r} OR {self.field} >= {self.value + 0.5!r})"
        return f"{self.field} {self.op} {self.value!r}"


def _finite(value: float, what: str) -> float:
    """``float()`` reads "nan" and "inf": a NaN weight or rating would make every
    similarity NaN (and every comparison false), so non-finite numbers are refused."""
    if not math.isfinite(value):
        raise QueryError(f"{what} is not a finite number")
    return value


def _number(text: str, clause: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise QueryError(f"filter {clause!r}: {text!r} is not a number") from None
    return _finite(value, f"filter {clause!r}: {text!r}")


def parse_filters(text: str | None) -> tuple[Filter, ...]:
    if not text or not text.strip():
        return ()
    result: list[Filter] = []
    for clause in text.split(","):
        if not clause.strip():
            continue
        match = _CLAUSE.match(clause.lower())
        if not match:
            raise QueryError(
                f"filter {clause.strip()!r}: expected FIELD OP NUMBER (ops >=, <=, >, <, =, !=) or FIELD=LOW-HIGH"
            )
        field, op, value, high = match.groups()
        if field not in FILTER_FIELDS:
            raise QueryError(f"filter {clause.strip()!r}: unknown field {field!r} (known: {', '.join(FILTER_FIELDS)})")
        low_value = _number(value, clause)
        high_value = _number(high, clause) if high is not None else None
        if high_value is not None:
            if op != "=":
                raise QueryError(f"filter {clause.strip()!r}: a range is written FIELD=LOW-HIGH")
            if high_value < low_value:
                raise QueryError(f"filter {clause.strip()!r}: range {low_value:g}-{high_value:g} is empty")
        lo, hi = FILTER_FIELDS[field]
        for number in (low_value, high_value):
            if number is not None and not lo <= number <= hi:
                raise QueryError(f"filter {clause.strip()!r}: {field} must be within {lo:g}..{hi:g}")
        result.append(Filter(field, op, low_value, high_value))
    return tuple(result)


def filters_to_sql(filters: tuple[Filter, ...]) -> str | None:
    return " AND ".join(f.sql() for f in filters) or None


def parse_vector(text: str) -> tuple[float, ...]:
    parts = [p.strip() for p in text.split(",")]
    if len(parts) not in (3, 4):
        raise QueryError(f"vector {text!r}: expected e,m,c or e,m,c,p (3 or 4 numbers)")
    values = tuple(_vector_number(p, text) for p in parts)
    if not all(1.0 <= v <= 5.0 for v in values):
        raise QueryError(f"vector {text!r}: every rating must be within 1..5")
    return values


def _vector_number(part: str, text: str) -> float:
    try:
        value = float(part)
    except ValueError:
        raise QueryError(f"vector {text!r}: {part!r} is not a number") from None
    return _finite(value, f"vector {text!r}: {part!r}")


def parse_blend(text: str) -> tuple[float, float, float]:
    """Weighted mean of mood presets; weights need not sum to 1 (they are normalised)."""
    total = 0.0
    acc = [0.0, 0.0, 0.0]
    for part in text.split(","):
        name, sep, weight_text = part.strip().partition(":")
        if name not in MOOD_PRESETS:
            raise QueryError(f"blend {text!r}: unknown mood {name!r} (known: {', '.join(MOOD_PRESETS)})")
        try:
            weight = float(weight_text) if sep else 1.0
        except ValueError:
            raise QueryError(f"blend {text!r}: weight {weight_text!r} is not a number") from None
        _finite(weight, f"blend {text!r}: weight {weight_text!r}")
        if weight < 0:
            raise QueryError(f"blend {text!r}: weights must not be negative")
        total += weight
        for i, value in enumerate(MOOD_PRESETS[name]):
            acc[i] += weight * value
    if total <= 0:
        raise QueryError(f"blend {text!r}: weights sum to zero")
    return (acc[0] / total, acc[1] / total, acc[2] / total)


def split_duration(filters: tuple[Filter, ...]) -> tuple[tuple[Filter, ...], str | None]:
    """``(other filters, a search query for the duration ones)``.

    ``duration`` in ``--filters`` means the song's length in seconds. The song database
    only holds the analysed excerpt's duration (20 s for nearly every song), so the
    condition goes to the catalog, which has the real length from Songlengths.md5:
    ``duration>=120`` becomes ``length:>=120``, ``duration=90`` ("rounds to 90")
    ``length:89.5..90.5`` and a range ``duration=60-180`` ``length:60..180``.
    """
    rest: list[Filter] = []
    terms: list[str] = []
    for f in filters:
        if f.field != "duration":
            rest.append(f)
        elif f.high is not None:
            terms.append(f"length:{f.value:g}..{f.high:g}")
        elif f.op == "=":
            terms.append(f"length:{max(f.value - 0.5, 0):g}..{f.value + 0.5:g}")
        elif f.op == "!=":
            terms.append(f"NOT length:{max(f.value - 0.5, 0):g}..{f.value + 0.5:g}")
        else:
            terms.append(f"length:{f.op}{f.value:g}")
    return tuple(rest), " ".join(terms) or None
