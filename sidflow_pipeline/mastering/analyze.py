"""From ratings to suggestions: what the comments keep asking for, per recording type.

A comment is split into clauses (at punctuation, "but", "and", "while"), and each
clause yields at most one *mention* per parameter — ``bass``, ``mid``, ``treble``,
``width`` or ``loudness`` — with a direction: **more** (+1), **less** (−1) or none
(mentioned without asking for a change). Negation matters, so a word count is not
enough ("not enough bass" asks for *more* bass):

=================================  ==========  ===========================================
comment                            direction   rule
=================================  ==========  ===========================================
"less bass", "cut the bass"        bass −      a cut word before the noun
"more treble", "boost the mids"    +           a boost word before the noun
"too much bass", "bass too heavy"  bass −      excess before or after the noun
"not enough bass", "bass is weak"  bass +      lack before or after the noun
"don't boost the bass"             bass −      a negated cue flips
"bass could be +0.3"               bass +0.3   a signed amount near the noun (dB, or
                                               ×/LU for width/loudness)
"too loud" / "too quiet"           loudness −/+  "too" + an adjective: reduce its excess
"too narrow", "not wide enough"    width +     "not ADJ enough" asks for more of it
"harsh", "muddy", "boomy", "thin"  −           complaint adjectives alone
"louder", "wider", "darker"        +/−         comparatives say what is wanted
"not too bright", "bass is fine"   none        a negated complaint, or no cue at all
=================================  ==========  ===========================================

A **suggestion** for a parameter needs a net majority of at least
:data:`MIN_NET_MENTIONS` mentions in one direction; its size is the median of the
explicit amounts given in that direction, else one :data:`STEPS` step (0.5 dB for
EQ, 0.1 for width, 1 LU for loudness) — deliberately small, since the loop runs again
after the next ratings. Only ratings of audio that was *mastered* with the type's
profile count toward suggestions — a rating of an unmastered recording says nothing
about what a profile did to it (those are counted as ``unmastered_samples``) — and by
default only those of the *current* version: complaints about v1.0 should not push
v1.1 further.

``sidflow master analyze --type T`` rewrites only T's summary in ``patterns.json``
(:func:`write_patterns` with ``merge=True``), so the other types' summaries survive.
"""

from __future__ import annotations

import json
import re
import statistics
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sidflow_pipeline.atomic import atomic_write_json
from sidflow_pipeline.layout import MASTERING_PATTERNS
from sidflow_pipeline.mastering.errors import ProfileError
from sidflow_pipeline.mastering.profiles import PARAMETERS, load_profile
from sidflow_pipeline.mastering.ratings import is_mastered

__all__ = [
    "MIN_NET_MENTIONS",
    "STEPS",
    "Mention",
    "analyze_ratings",
    "merge_patterns",
    "parse_comment",
    "write_patterns",
]

MIN_NET_MENTIONS = 2
PARAMETER_NAMES = ("bass", "mid", "treble", "width", "loudness")
# parameter → (profile field, step, `master update` option)
STEPS: dict[str, tuple[str, float, str]] = {
    "bass": ("eq.bass.gain_db", 0.5, "--bass"),
    "mid": ("eq.mid.gain_db", 0.5, "--mid"),
    "treble": ("eq.treble.gain_db", 0.5, "--treble"),
    "width": ("stereo.width_factor", 0.1, "--width"),
    "loudness": ("loudness.target_lufs", 1.0, "--lufs"),
}

_NOUNS = {
    "bass": "bass", "lows": "bass", "lowend": "bass", "sub": "bass", "subs": "bass",
    "mid": "mid", "mids": "mid", "midrange": "mid", "middle": "mid",
    "treble": "treble", "highs": "treble", "topend": "treble", "highend": "treble", "air": "treble",
    "stereo": "width", "width": "width", "image": "width", "separation": "width",
    "volume": "loudness", "loudness": "loudness", "level": "loudness",
}  # fmt: skip
_BIGRAMS = {("low", "end"): "lowend", ("top", "end"): "topend", ("high", "end"): "highend"}
# adjective → (parameter, +1 if it names an excess of it, a complaint even on its own)
_ADJECTIVES: dict[str, tuple[str, int, bool]] = {
    "loud": ("loudness", 1, False), "quiet": ("loudness", -1, False), "soft": ("loudness", -1, False),
    "bright": ("treble", 1, False), "harsh": ("treble", 1, True), "shrill": ("treble", 1, True),
    "sibilant": ("treble", 1, True), "tinny": ("treble", 1, True), "piercing": ("treble", 1, True),
    "dark": ("treble", -1, False), "dull": ("treble", -1, True), "muffled": ("treble", -1, True),
    "wide": ("width", 1, False), "narrow": ("width", -1, False),
    "boomy": ("bass", 1, True), "muddy": ("bass", 1, True), "bassy": ("bass", 1, False),
    "thin": ("bass", -1, True), "boxy": ("mid", 1, True), "honky": ("mid", 1, True), "nasal": ("mid", 1, True),
}  # fmt: skip
_COMPARATIVES: dict[str, tuple[str, int]] = {
    "louder": ("loudness", 1), "quieter": ("loudness", -1), "softer": ("loudness", -1),
    "brighter": ("treble", 1), "darker": ("treble", -1), "wider": ("width", 1), "narrower": ("width", -1),
    "fuller": ("bass", 1), "warmer": ("bass", 1), "bassier": ("bass", 1), "thinner": ("bass", -1),
}  # fmt: skip
_MORE = {
    "more", "boost", "increase", "raise", "add", "needs", "need", "lacks", "lacking", "missing", "extra", "bigger",
    "stronger",
}  # fmt: skip
_LESS = {"less", "cut", "reduce", "lower", "decrease", "tame", "fewer", "smaller", "remove", "soften"}
_EXCESS_AFTER = {
    "much", "loud", "strong", "heavy", "high", "hot", "big", "boomy", "prominent", "overpowering", "dominant", "thick",
}  # fmt: skip
_LACK_AFTER = {"weak", "quiet", "low", "soft", "thin", "little", "small", "light"}
_ALONE_EXCESS_AFTER = {"heavy", "overpowering", "dominant", "boomy"}
_ALONE_LACK_AFTER = {"weak", "missing", "lacking"}
_INTENSIFIERS = {"too", "overly", "bit", "slightly", "very", "quite", "rather", "way", "somewhat"}
_NEGATIONS = {"not", "no", "don't", "dont", "never", "without", "isn't", "doesn't", "needn't", "nothing"}
# A full stop ends a clause, a decimal point ("+0.3") does not.
_CLAUSE_RE = re.compile(r"[,;:!?()]|(?<!\d)\.|\.(?!\d)|\bbut\b|\band\b|\bwhile\b|\bthough\b")
_TOKEN_RE = re.compile(r"[+-]?\d+(?:\.\d+)?|[a-z]+(?:'[a-z]+)?")
_NUMBER_RE = re.compile(r"^[+-]?\d+(?:\.\d+)?$")


@dataclass(frozen=True)
class Mention:
    parameter: str
    direction: int  # +1 more, −1 less, 0 no change asked
    phrase: str
    amount: float | None = None  # an explicit signed amount ("bass +0.3")


def _tokens(clause: str) -> list[str]:
    raw = _TOKEN_RE.findall(clause.replace("’", "'"))
    out: list[str] = []
    i = 0
    while i < len(raw):
        pair = (raw[i], raw[i + 1]) if i + 1 < len(raw) else None
        if pair in _BIGRAMS:
            out.append(_BIGRAMS[pair])
            i += 2
        else:
            out.append(raw[i])
            i += 1
    return out


def _negated(tokens: list[str], index: int) -> bool:
    """Is the word at ``index`` negated by one of the two words before it?"""
    return any(t in _NEGATIONS for t in tokens[max(0, index - 2) : index])


def _noun_mention(tokens: list[str], i: int, used: set[int]) -> Mention | None:
    parameter = _NOUNS[tokens[i]]
    before = tokens[max(0, i - 4) : i]
    after = tokens[i + 1 : i + 5]
    joined_before = " ".join(before)
    word = tokens[i]
    # An explicit amount close after (or just before) the noun: its sign is the direction.
    for offset, token in [
        *((k + 1, t) for k, t in enumerate(after)),
        *((-k - 1, t) for k, t in enumerate(reversed(before[-2:]))),
    ]:
        if _NUMBER_RE.match(token):
            value = float(token)
            cue_before = set(before) & (_MORE | _LESS)
            if not token.startswith(("+", "-")) and cue_before:
                value = abs(value) if cue_before & _MORE else -abs(value)
            if value != 0 and (token.startswith(("+", "-")) or cue_before):
                used.add(i + offset)
                return Mention(parameter, 1 if value > 0 else -1, f"{word} {token}", value)
    if re.search(r"\bnot too (much|many)$", joined_before) or re.search(r"\bnot too (much|many) \w+$", joined_before):
        return Mention(parameter, 0, f"not too much {word}")
    if re.search(r"\bnot enough( \w+)?$", joined_before) or re.search(r"\btoo (little|few)( \w+)?$", joined_before):
        return Mention(parameter, 1, f"not enough {word}")
    if re.search(r"\btoo (much|many)( \w+)?$", joined_before):
        return Mention(parameter, -1, f"too much {word}")
    # After the noun: "bass too heavy", "bass is too much", "bass not enough", "bass heavy".
    tail = [t for t in after if t not in {"is", "are", "was", "a", "the", "seems", "sounds", "feels", "bit"}]
    if tail[:2] == ["not", "enough"]:
        return Mention(parameter, 1, f"{word} not enough")
    if tail and tail[0] == "too" and len(tail) > 1:
        if tail[1] in _EXCESS_AFTER:
            used.update(range(i + 1, i + 5))
            return Mention(parameter, -1, f"{word} too {tail[1]}")
        if tail[1] in _LACK_AFTER:
            used.update(range(i + 1, i + 5))
            return Mention(parameter, 1, f"{word} too {tail[1]}")
    if tail and tail[0] == "not" and len(tail) > 1 and tail[1] == "too":
        used.update(range(i + 1, i + 5))
        return Mention(parameter, 0, f"{word} not too …")
    if tail and tail[0] in _ALONE_EXCESS_AFTER:
        used.update(range(i + 1, i + 3))
        return Mention(parameter, -1, f"{word} {tail[0]}")
    if tail and tail[0] in _ALONE_LACK_AFTER:
        return Mention(parameter, 1, f"{word} {tail[0]}")
    # A cue word before the noun (nearest first), flipped when negated.
    for k in range(len(before) - 1, -1, -1):
        cue = before[k]
        direction = 1 if cue in _MORE else -1 if cue in _LESS else 0
        if direction:
            position = i - len(before) + k
            phrase = f"{cue} {word}"
            if _negated(tokens, position):
                return Mention(parameter, -direction, f"{tokens[position - 1]} {phrase}")
            return Mention(parameter, direction, phrase)
    return Mention(parameter, 0, word)


def _adjective_mention(tokens: list[str], i: int) -> Mention | None:
    word = tokens[i]
    if word in _COMPARATIVES:
        parameter, sign = _COMPARATIVES[word]
        return None if _negated(tokens, i) else Mention(parameter, sign, word)
    parameter, excess, complaint = _ADJECTIVES[word]
    prev = tokens[i - 1] if i else ""
    prev2 = tokens[i - 2] if i > 1 else ""
    nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
    if prev == "too" and prev2 == "not":
        return Mention(parameter, 0, f"not too {word}")
    if nxt == "enough":
        return (
            Mention(parameter, excess, f"not {word} enough")
            if _negated(tokens, i)
            else Mention(parameter, 0, f"{word} enough")
        )
    if prev == "more":
        return Mention(parameter, excess, f"more {word}")
    if prev == "less":
        return Mention(parameter, -excess, f"less {word}")
    if prev in _INTENSIFIERS:
        return Mention(parameter, -excess, f"{'too' if prev == 'too' else prev} {word}")
    if complaint and not _negated(tokens, i):
        return Mention(parameter, -excess, word)
    return None


def parse_comment(text: str | None) -> list[Mention]:
    """The mentions in one comment, in reading order (see the module docstring)."""
    if not text:
        return []
    mentions: list[Mention] = []
    for clause in _CLAUSE_RE.split(text.lower()):
        tokens = _tokens(clause)
        used: set[int] = set()
        found: list[tuple[int, Mention]] = []
        for i, token in enumerate(tokens):
            if token in _NOUNS:
                mention = _noun_mention(tokens, i, used)
                if mention is not None:
                    found.append((i, mention))
        for i, token in enumerate(tokens):
            if i in used or (token not in _ADJECTIVES and token not in _COMPARATIVES):
                continue
            mention = _adjective_mention(tokens, i)
            if mention is not None:
                found.append((i, mention))
        # One mention per parameter per clause, preferring one that asks for a change.
        chosen: dict[str, tuple[int, Mention]] = {}
        for i, mention in sorted(found, key=lambda item: item[0]):
            held = chosen.get(mention.parameter)
            if held is None or (held[1].direction == 0 and mention.direction != 0):
                chosen[mention.parameter] = (i, mention)
        mentions.extend(m for _, m in sorted(chosen.values(), key=lambda item: item[0]))
    return mentions


def _direction_word(direction: int) -> str:
    return {1: "more", -1: "less", 0: "no change"}[direction]


def _type_summary(kind: str, entries: list[dict[str, Any]], profiles_dir: Path, all_versions: bool) -> dict[str, Any]:
    try:
        profile = load_profile(profiles_dir, kind)  # the current version (versions.json read once)
        current = str(profile.version)
    except ProfileError:
        current, profile = None, None
    # Only ratings of audio mastered with this type's profile can steer it.
    mastered = [e for e in entries if is_mastered(e)]
    by_version = Counter(str(e.get("profile_version")) for e in mastered)
    analysed = (
        mastered if all_versions or current is None else [e for e in mastered if str(e.get("profile_version")) == current]
    )
    ratings = [int(e["rating"]) for e in entries]
    confidences = [float(e["confidence"]) for e in entries if isinstance(e.get("confidence"), int | float)]
    mentions = [m for e in analysed for m in parse_comment(e.get("comment"))]
    patterns = []
    for parameter in PARAMETER_NAMES:
        of_parameter = [m for m in mentions if m.parameter == parameter]
        if not of_parameter:
            continue
        for direction in (1, -1, 0):
            chosen = [m for m in of_parameter if m.direction == direction]
            if chosen:
                phrases = Counter(m.phrase for m in chosen)
                patterns.append({
                    "parameter": parameter,
                    "direction": _direction_word(direction),
                    "count": len(chosen),
                    "phrases": dict(sorted(phrases.items())),
                })  # fmt: skip
    suggestions = []
    for parameter in PARAMETER_NAMES:
        more = sum(1 for m in mentions if m.parameter == parameter and m.direction > 0)
        less = sum(1 for m in mentions if m.parameter == parameter and m.direction < 0)
        net = more - less
        if abs(net) < MIN_NET_MENTIONS:
            continue
        sign = 1 if net > 0 else -1
        field, step, option = STEPS[parameter]
        amounts = [
            m.amount for m in mentions if m.parameter == parameter and m.amount is not None and m.amount * sign > 0
        ]
        delta = float(statistics.median(amounts)) if amounts else sign * step
        suggestion: dict[str, Any] = {
            "parameter": parameter,
            "field": field,
            "option": option,
            "more": more,
            "less": less,
            "delta": round(delta, 3),
        }
        if profile is not None:
            low, high, _ = PARAMETERS[field]
            now = profile.value(field)
            suggestion["current"] = now
            suggestion["suggested"] = round(min(high, max(low, now + delta)), 3)
        suggestions.append(suggestion)
    command = None
    if suggestions and profile is not None:
        options = " ".join(f"{s['option']} {s['suggested']:g}" for s in suggestions)
        because = ", ".join(f"{s['parameter']} {s['delta']:+g}" for s in suggestions)
        reason = f"feedback: {because} ({len(analysed)} ratings of v{current})"
        command = f'sidflow master update {kind} {options} --reason "{reason}"'
    commented = [e for e in entries if e.get("comment")]
    top = max(commented, key=lambda e: int(e["rating"]), default=None)
    bottom = min(commented, key=lambda e: int(e["rating"]), default=None)
    if bottom is not None and top is not None and bottom["rating"] == top["rating"]:
        bottom = None  # every commented rating is the same: one example is enough
    return {
        "type": kind,
        "current_version": current,
        "samples": len(entries),
        "samples_by_version": dict(sorted(by_version.items())),
        "unmastered_samples": len(entries) - len(mastered),
        "analysed_version": "all" if all_versions or current is None else current,
        "analysed_samples": len(analysed),
        "average_rating": round(statistics.fmean(ratings), 3) if ratings else None,
        "average_confidence": round(statistics.fmean(confidences), 3) if confidences else None,
        "histogram": {str(star): ratings.count(star) for star in range(1, 6)},
        "patterns": patterns,
        "suggestions": suggestions,
        "update_command": command,
        "top_comment": {"rating": int(top["rating"]), "comment": top["comment"]} if top else None,
        "bottom_comment": {"rating": int(bottom["rating"]), "comment": bottom["comment"]} if bottom else None,
    }


def analyze_ratings(
    entries: list[dict[str, Any]],
    profiles_dir: Path,
    *,
    kind: str | None = None,
    all_versions: bool = False,
    skipped_lines: int = 0,
) -> dict[str, Any]:
    """The ``patterns.json`` content: one summary per detected type (or just ``kind``).

    Deterministic (no timestamps; sorted), so re-running on the same log rewrites
    the same bytes.
    """
    kinds = sorted({str(e["detected_type"]) for e in entries} | ({kind} if kind else set()))
    if kind:
        kinds = [kind]
    return {
        "ratings": len(entries),
        "skipped_lines": skipped_lines,
        "min_net_mentions": MIN_NET_MENTIONS,
        "types": {
            k: _type_summary(k, [e for e in entries if e["detected_type"] == k], profiles_dir, all_versions)
            for k in kinds
        },
    }


def merge_patterns(existing: Any, patterns: dict[str, Any]) -> dict[str, Any]:
    """``patterns`` with the other types' summaries kept from ``existing``.

    An analysis of one type must not erase what an earlier analysis said about the
    rest. The top-level counts come from ``patterns`` (the log as it is now); an
    ``existing`` that is not a patterns object is ignored, since the file is derived
    and the next full analysis rebuilds it anyway.
    """
    kept = existing.get("types") if isinstance(existing, dict) else None
    if not isinstance(kept, dict):
        return patterns
    return {**patterns, "types": dict(sorted({**kept, **patterns["types"]}.items()))}


def write_patterns(feedback_dir: Path, patterns: dict[str, Any], *, merge: bool = False) -> Path:
    """Write ``patterns.json`` atomically; with ``merge`` (an analysis of some types
    only), keep the summaries of the types ``patterns`` does not cover."""
    path = Path(feedback_dir) / MASTERING_PATTERNS
    if merge and path.is_file():
        try:
            existing = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            existing = None  # unreadable derived data: replaced by this analysis
        patterns = merge_patterns(existing, patterns)
    atomic_write_json(path, patterns)
    return path
