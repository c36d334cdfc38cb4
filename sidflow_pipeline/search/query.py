"""The `sidflow search` query language, parsed into parameterised SQL.

A listener types what they would say: ``composer:hubbard year:1985..1987 chip:6581
length:>2m``. Terms next to each other must all hold (AND); ``OR``, ``NOT`` (or a
leading ``-``) and parentheses combine them; a plain word matches title, composer,
path or STIL text. Grammar::

    query := or
    or    := and ("OR" and)*
    and   := not (["AND"] not)*
    not   := ("NOT" | "-") not | "(" or ")" | term
    term  := FIELD ":" VALUE | WORD | "rated" | "unrated"

Values: text fields match a case-insensitive substring; ``a|b`` means either (on
every field). Numbers take ``N``, ``>N``, ``>=N``, ``<N``, ``<=N`` and ``A..B``
(inclusive; either end may be left open). Ratings ``e: m: c: p:`` follow
``--filters``: ``e:4`` means "rounds to 4", because most ratings are predicted (4.38).
Lengths take ``90``/``90s``, ``2m``, ``1m30s``, ``2:30`` and ``1.5m``.

User text never becomes SQL text: every value is a ``?`` parameter, and the only SQL
this module writes comes from the fixed column expressions below. That is why the
parser builds a tree first instead of pasting strings together.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from sidflow_pipeline.errors import SidflowError

__all__ = ["FIELDS", "SearchQueryError", "Sql", "parse_query", "to_sql"]


class SearchQueryError(SidflowError, ValueError):
    """A query that cannot be read; the message is one line naming the bad part."""


@dataclass(frozen=True)
class Sql:
    """A SQL predicate with ``?`` placeholders and their values, in order."""

    text: str
    params: tuple[object, ...] = ()


# --- syntax tree ---------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    field: str | None  # None: a plain word
    value: str


@dataclass(frozen=True)
class Not:
    child: Node


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]


Node = Term | Not | And | Or


# --- tokens --------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    \s*(?:
      (?P<open>\()
    | (?P<close>\))
    | (?P<term>(?:[^\s()"]|"[^"]*")+)      # words, field:value, field:"quoted value"
    | (?P<bad>")
    )""",
    re.VERBOSE,
)


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.group("bad"):
            raise SearchQueryError(f"unbalanced quote in {text!r}")
        pos = match.end()
        out.append(match.group(match.lastgroup or "term"))
    return out


# --- parser --------------------------------------------------------------------------


class _Parser:
    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> str:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def parse(self) -> Node:
        node = self.or_()
        if self.peek() is not None:
            raise SearchQueryError(f"unexpected {self.peek()!r} (a ')' without its '('?)")
        return node

    def or_(self) -> Node:
        children = [self.and_()]
        while self.peek() == "OR":
            self.take()
            children.append(self.and_())
        return children[0] if len(children) == 1 else Or(tuple(children))

    def and_(self) -> Node:
        children = [self.not_()]
        while self.peek() not in (None, ")", "OR"):
            if self.peek() == "AND":
                self.take()
            children.append(self.not_())
        return children[0] if len(children) == 1 else And(tuple(children))

    def not_(self) -> Node:
        token = self.peek()
        if token is None:
            raise SearchQueryError("the query ends where a term was expected")
        if token == "NOT" or (token == "-" and self.pos + 1 < len(self.tokens) and self.tokens[self.pos + 1] == "("):
            self.take()
            return Not(self.not_())
        if token.startswith("-") and len(token) > 1:
            self.tokens[self.pos] = token[1:]
            return Not(self.not_())
        if token == "(":
            self.take()
            node = self.or_()
            if self.peek() != ")":
                raise SearchQueryError("a '(' is not closed")
            self.take()
            return node
        if token in (")", "AND", "OR"):
            raise SearchQueryError(f"{token!r} where a term was expected")
        return _term(self.take())


def _unquote(text: str) -> str:
    return text.replace('"', "")


def _term(token: str) -> Term:
    name, sep, value = token.partition(":")
    if sep and re.fullmatch(r"[A-Za-z_]+", name):
        field = name.lower()
        if field not in FIELDS:
            raise SearchQueryError(f"unknown field {name!r} in {token!r} (known: {', '.join(sorted(FIELDS))})")
        value = _unquote(value).strip()
        if not value:
            raise SearchQueryError(f"{token!r}: the field {field!r} needs a value")
        return Term(field, value)
    word = _unquote(token).strip()
    if word.lower() in ("rated", "unrated"):
        return Term("rated", "yes" if word.lower() == "rated" else "no")
    if not word:
        raise SearchQueryError('an empty "" term matches nothing; leave it out')
    return Term(None, word)


def parse_query(text: str) -> Node | None:
    """The syntax tree of ``text``; ``None`` for an empty query (everything)."""
    tokens = _tokens(text)
    if not tokens:
        return None
    return _Parser(tokens).parse()


# --- values --------------------------------------------------------------------------

def _number(text: str, token: str, unit: Callable[[str], float] | None = None) -> float:
    text = text.strip()
    if unit is not None:
        return unit(text)
    try:
        return float(text)
    except ValueError:
        raise SearchQueryError(f"{token}: {text!r} is not a number") from None


def _seconds(token: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        text = text.strip().lower()
        clock = re.fullmatch(r"(\d+):(\d{1,2}(?:\.\d+)?)", text)
        if clock:
            return int(clock.group(1)) * 60 + float(clock.group(2))
        parts = re.fullmatch(r"(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s?)?", text)
        if not text or parts is None or not any(parts.groups()):
            raise SearchQueryError(f"{token}: {text!r} is not a length (try 90s, 2m, 1m30s or 2:30)")
        minutes, seconds = parts.groups()
        return float(minutes or 0) * 60 + float(seconds or 0)

    return parse


def _numeric(column: str, value: str, token: str, *, scale: float = 1.0, rounds: bool = False,
             unit: Callable[[str], float] | None = None, bounds: tuple[float, float] | None = None) -> Sql:  # fmt: skip
    """One numeric comparison (or range) on ``column``; ``scale`` converts to its unit."""

    def check(number: float) -> float:
        if bounds is not None and not bounds[0] <= number <= bounds[1]:
            raise SearchQueryError(f"{token}: {number:g} is outside {bounds[0]:g}..{bounds[1]:g}")
        return number * scale

    if ".." in value:
        low_text, _, high_text = value.partition("..")
        clauses, params = [], []
        if low_text.strip():
            clauses.append(f"{column} >= ?")
            params.append(check(_number(low_text, token, unit)))
        if high_text.strip():
            clauses.append(f"{column} <= ?")
            params.append(check(_number(high_text, token, unit)))
        if not clauses:
            raise SearchQueryError(f"{token}: a range needs at least one end (e.g. 1985..1987)")
        if len(params) == 2 and params[1] < params[0]:
            raise SearchQueryError(f"{token}: the range {value!r} is empty")
        return Sql("(" + " AND ".join(clauses) + ")", tuple(params))
    match = re.fullmatch(r"(>=|<=|>|<|=)?(.+)", value.strip())
    assert match is not None
    op, number_text = match.group(1) or "=", match.group(2)
    number = check(_number(number_text, token, unit))
    if op == "=" and rounds:
        return Sql(f"({column} >= ? AND {column} < ?)", (number - 0.5 * scale, number + 0.5 * scale))
    return Sql(f"{column} {op} ?", (number,))


def _text(columns: tuple[str, ...]) -> Callable[[str, str], Sql]:
    def build(value: str, _token: str) -> Sql:
        checks = " OR ".join(f"contains(lower(coalesce({c}, '')), ?)" for c in columns)
        return Sql(f"({checks})", tuple(value.lower() for _ in columns))

    return build


def _rated(value: str, token: str) -> Sql:
    word = value.lower()
    if word in ("yes", "true", "1", "any"):
        return Sql("rated")
    if word in ("no", "false", "0", "none"):
        return Sql("NOT rated")
    if word in ("e", "m", "c", "p"):
        return Sql(f"{word}_manual")
    raise SearchQueryError(f"{token}: expected rated:yes, rated:no or rated:e|m|c|p")


def _chip(value: str, token: str) -> Sql:
    word = value.lower().removeprefix("mos")
    if word not in ("6581", "8580", "unknown", "both"):
        raise SearchQueryError(f"{token}: expected chip:6581, chip:8580, chip:both or chip:unknown")
    if word == "both":
        return Sql("sid_model = ?", ("6581+8580",))
    # A tune marked "6581+8580" plays on either chip, so it answers both.
    return Sql("contains(lower(coalesce(sid_model, 'unknown')), ?)", (word,))


def _clock(value: str, token: str) -> Sql:
    word = value.lower()
    if word not in ("pal", "ntsc", "unknown", "both", "any"):
        raise SearchQueryError(f"{token}: expected clock:pal, clock:ntsc, clock:both or clock:unknown")
    if word in ("both", "any"):
        return Sql("lower(clock) = ?", ("pal+ntsc",))
    return Sql("contains(lower(coalesce(clock, 'unknown')), ?)", (word,))


def _rating(dim: str) -> Callable[[str, str], Sql]:
    return lambda value, token: _numeric(dim, value, token, rounds=True, bounds=(1.0, 5.0))


# Field → builder(value, token). The column names are the search view's (see
# sidflow_pipeline.search.catalog); values only ever travel as parameters.
FIELDS: dict[str, Callable[[str, str], Sql]] = {
    "composer": _text(("composer",)),
    "title": _text(("name", "stil_title", "stil_name")),
    "released": _text(("released",)),
    "stil": _text(("stil_title", "stil_artist", "stil_name", "stil_author", "stil_comment")),
    "path": _text(("sid_path",)),
    "year": lambda value, token: _numeric("year", value, token, bounds=(1900.0, 2100.0)),
    "length": lambda value, token: _numeric("length_ms", value, token, scale=1000.0, unit=_seconds(token)),
    "song": lambda value, token: _numeric("song_index", value, token),
    "songs": lambda value, token: _numeric("songs", value, token),
    "sids": lambda value, token: _numeric("sids", value, token),  # SID chips the tune plays on (2SID, 3SID)
    "bpm": lambda value, token: _numeric("bpm", value, token),
    "chip": _chip,
    "clock": _clock,
    "rated": _rated,
    "e": _rating("e"),
    "m": _rating("m"),
    "c": _rating("c"),
    "p": _rating("p"),
}

_WORD = _text(("composer", "name", "stil_title", "stil_artist", "stil_name", "sid_path"))


def _term_sql(term: Term) -> Sql:
    token = f"{term.field}:{term.value}" if term.field else term.value
    build = FIELDS[term.field] if term.field else _WORD
    alternatives = [a.strip() for a in term.value.split("|")] if term.field else [term.value]
    if any(not a for a in alternatives):
        raise SearchQueryError(f"{token}: an empty alternative around '|'")
    parts = [build(a, token) for a in alternatives]
    if len(parts) == 1:
        return parts[0]
    return Sql("(" + " OR ".join(p.text for p in parts) + ")", tuple(v for p in parts for v in p.params))


def to_sql(node: Node | None) -> Sql:
    """The predicate for ``node`` (``TRUE`` for the empty query)."""
    if node is None:
        return Sql("TRUE")
    if isinstance(node, Term):
        return _term_sql(node)
    if isinstance(node, Not):
        inner = to_sql(node.child)
        # NULL-safe: "NOT chip:6581" must keep songs whose chip is unknown (NULL).
        return Sql(f"(({inner.text}) IS NOT TRUE)", inner.params)
    parts = [to_sql(child) for child in node.children]
    joiner = " AND " if isinstance(node, And) else " OR "
    return Sql("(" + joiner.join(p.text for p in parts) + ")", tuple(v for p in parts for v in p.params))
