"""Which kind of recording is this? The answer picks the mastering profile.

Two families of types. **Recordings** (files from elsewhere): ``studio`` (a balanced,
dynamic professional mix: enhance and refine), ``bootleg`` (a dark, bass-heavy,
narrow live recording: correct it), ``metal`` (bright, dense and already
compressed: add punch without more harshness). **SID renders** (our own sidplayfp
output): ``sid_6581`` (the old chip: dark, distorting filter), ``sid_8580`` (the new
chip: clean, brighter filter, thinner bass), ``sid_digi`` (volume-register sample
playback: broadband, noisy, aliased) and ``sid_multi`` (2SID/3SID tunes, rendered in
stereo with one chip per side). ``unknown`` is the honest answer when no rule fits
well enough; its profile only normalises loudness.

The SID family is used when the caller says the audio is a SID render or passes a
header fact (``sid_model``, ``sid_count``): those facts are conditions like any
other, which is why a hint alone settles ``sid_6581``/``sid_8580`` even when the
fingerprint disagrees, and why a 2SID tune rendered in mono (no width left) is
mastered as its chip model rather than as ``sid_multi`` — the multi profile only
differs in its stereo handling.

How a type is chosen: each rule below is a list of weighted conditions on the
:class:`~sidflow_pipeline.mastering.fingerprint.Fingerprint` (and hints); a type's
score is the sum of the weights of the conditions that hold (each rule's weights sum
to 1). The best-scoring type of the family wins, ties going to the earlier row; if
its score is below :data:`MIN_CONFIDENCE` the answer is ``unknown``. The confidence is
the winner's score (for ``unknown``: one minus the best score, i.e. how clearly
nothing fitted). Intervals are half-open, ``a ≤ x < b``.

The rules live only in :data:`RULES`; this table, and the one in
``docs/mastering.md``, are :func:`rules_table` pasted in, and a test keeps them equal:

| type | family | conditions (weight) |
|---|---|---|
| `studio` | recording | `500 ≤ spectral_centroid_hz < 2500` (0.3) · `-6 ≤ bass_mid_ratio_db < 6` (0.25) · `0.05 ≤ stereo_width_ratio < 0.8` (0.2) · `crest_factor_db ≥ 12` (0.25) |
| `bootleg` | recording | `spectral_centroid_hz < 500` (0.35) · `bass_mid_ratio_db ≥ 6` (0.35) · `stereo_width_ratio < 0.05` (0.3) |
| `metal` | recording | `spectral_centroid_hz ≥ 1500` (0.2) · `spectral_flatness ≥ 0.1` (0.2) · `6 ≤ crest_factor_db < 12` (0.3) · `0.05 ≤ stereo_width_ratio < 0.8` (0.3) |
| `sid_multi` | sid | `sid_count ≥ 2` (0.6) · `stereo_width_ratio ≥ 0.1` (0.4) |
| `sid_digi` | sid | `spectral_flatness ≥ 0.15` (0.5) · `band_air_fraction ≥ 0.1` (0.5) |
| `sid_6581` | sid | `sid_model = 6581` (0.6) · `spectral_centroid_hz < 1000` (0.4) |
| `sid_8580` | sid | `sid_model = 8580` (0.6) · `spectral_centroid_hz ≥ 1000` (0.4) |
| `unknown` | both | best score < 0.6; confidence = 1 − best score |
"""  # noqa: E501 - the rules table above is rules_table() pasted in; a test keeps them equal

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, cast

if TYPE_CHECKING:  # the rules need no numpy; only detect_audio touches audio
    from sidflow_pipeline.mastering.fingerprint import Fingerprint

__all__ = [
    "DETECTABLE_TYPES",
    "MIN_CONFIDENCE",
    "RULES",
    "SID_TYPES",
    "UNKNOWN_TYPE",
    "Condition",
    "Detection",
    "DetectionHints",
    "Rule",
    "detect",
    "detect_audio",
    "rules_table",
]

Family = Literal["recording", "sid"]
Op = Literal["<", ">=", "in", "="]


@dataclass(frozen=True)
class Condition:
    """``field op value`` with a weight; ``in`` takes ``(low, high)``, half-open."""

    field: str
    op: Op
    value: float | str | tuple[float, float]
    weight: float

    def holds(self, facts: dict[str, Any]) -> bool:
        actual = facts.get(self.field)
        if actual is None:  # an absent hint is no evidence either way
            return False
        if self.op == "=":
            return str(actual) == str(self.value)
        x = float(actual)
        if self.op == "<":
            return x < float(self.value)  # type: ignore[arg-type]
        if self.op == ">=":
            return x >= float(self.value)  # type: ignore[arg-type]
        low, high = cast("tuple[float, float]", self.value)
        return low <= x < high

    def describe(self) -> str:
        if self.op == "in":
            low, high = cast("tuple[float, float]", self.value)
            return f"{_num(low)} ≤ {self.field} < {_num(high)}"
        symbol = {"<": "<", ">=": "≥", "=": "="}[self.op]
        value = self.value if isinstance(self.value, str) else _num(self.value)  # type: ignore[arg-type]
        return f"{self.field} {symbol} {value}"


def _num(value: float) -> str:
    return f"{value:g}"


@dataclass(frozen=True)
class Rule:
    type: str
    family: Family
    conditions: tuple[Condition, ...]


RULES: tuple[Rule, ...] = (
    Rule("studio", "recording", (
        Condition("spectral_centroid_hz", "in", (500.0, 2500.0), 0.3),
        Condition("bass_mid_ratio_db", "in", (-6.0, 6.0), 0.25),
        Condition("stereo_width_ratio", "in", (0.05, 0.8), 0.2),
        Condition("crest_factor_db", ">=", 12.0, 0.25),
    )),
    Rule("bootleg", "recording", (
        Condition("spectral_centroid_hz", "<", 500.0, 0.35),
        Condition("bass_mid_ratio_db", ">=", 6.0, 0.35),
        Condition("stereo_width_ratio", "<", 0.05, 0.3),
    )),
    Rule("metal", "recording", (
        Condition("spectral_centroid_hz", ">=", 1500.0, 0.2),
        Condition("spectral_flatness", ">=", 0.1, 0.2),
        Condition("crest_factor_db", "in", (6.0, 12.0), 0.3),
        Condition("stereo_width_ratio", "in", (0.05, 0.8), 0.3),
    )),
    Rule("sid_multi", "sid", (
        Condition("sid_count", ">=", 2.0, 0.6),
        Condition("stereo_width_ratio", ">=", 0.1, 0.4),
    )),
    Rule("sid_digi", "sid", (
        Condition("spectral_flatness", ">=", 0.15, 0.5),
        Condition("band_air_fraction", ">=", 0.1, 0.5),
    )),
    Rule("sid_6581", "sid", (
        Condition("sid_model", "=", "6581", 0.6),
        Condition("spectral_centroid_hz", "<", 1000.0, 0.4),
    )),
    Rule("sid_8580", "sid", (
        Condition("sid_model", "=", "8580", 0.6),
        Condition("spectral_centroid_hz", ">=", 1000.0, 0.4),
    )),
)  # fmt: skip

UNKNOWN_TYPE = "unknown"
MIN_CONFIDENCE = 0.6
DETECTABLE_TYPES: tuple[str, ...] = (*(rule.type for rule in RULES), UNKNOWN_TYPE)
SID_TYPES: tuple[str, ...] = tuple(rule.type for rule in RULES if rule.family == "sid")
_SID_MODELS = ("6581", "8580")


@dataclass(frozen=True)
class DetectionHints:
    """What the caller knows beyond the audio, e.g. from the SID header.

    ``sid_model`` other than "6581"/"8580" (the header's "Unknown", "6581+8580") and a
    ``sid_count`` of ``None`` count as not known.
    """

    is_sid_render: bool = False
    sid_model: str | None = None
    sid_count: int | None = None

    @property
    def family(self) -> Family:
        return "sid" if self.is_sid_render or self.model is not None or self.sid_count is not None else "recording"

    @property
    def model(self) -> str | None:
        return self.sid_model if self.sid_model in _SID_MODELS else None

    @classmethod
    def from_sid_header(cls, header: Any) -> DetectionHints:
        """From a :class:`~sidflow_pipeline.sid.header.SidHeader` (duck-typed: ``sid_model``, ``sid_count``)."""
        return cls(is_sid_render=True, sid_model=header.sid_model, sid_count=int(header.sid_count))

    def to_json(self) -> dict[str, Any]:
        return {"is_sid_render": self.is_sid_render, "sid_count": self.sid_count, "sid_model": self.sid_model}


@dataclass(frozen=True)
class Detection:
    type: str
    confidence: float
    family: Family
    scores: dict[str, float]
    matched: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "confidence": self.confidence,
            "family": self.family,
            "scores": dict(sorted(self.scores.items())),
            "matched": list(self.matched),
        }


def detect(fp: Fingerprint, hints: DetectionHints | None = None) -> Detection:
    """Score every rule of the family and pick the type (see the module docstring)."""
    hints = hints or DetectionHints()
    family = hints.family
    facts: dict[str, Any] = {**fp.to_json(), "sid_model": hints.model, "sid_count": hints.sid_count}
    best: Rule | None = None
    best_score = -1.0
    scores: dict[str, float] = {}
    for rule in RULES:
        if rule.family != family:
            continue
        score = round(math.fsum(c.weight for c in rule.conditions if c.holds(facts)), 6)
        scores[rule.type] = score
        if score > best_score:
            best, best_score = rule, score
    assert best is not None  # every family has rules
    if best_score < MIN_CONFIDENCE:
        return Detection(UNKNOWN_TYPE, round(1.0 - best_score, 6), family, scores, ())
    matched = tuple(c.describe() for c in best.conditions if c.holds(facts))
    return Detection(best.type, best_score, family, scores, matched)


def detect_audio(audio: Any, sr: int, hints: DetectionHints | None = None) -> tuple[Detection, Fingerprint]:
    """Fingerprint (without tempo, which no rule reads) and detect in one call."""
    from sidflow_pipeline.mastering.fingerprint import fingerprint

    fp = fingerprint(audio, sr, tempo=False)
    return detect(fp, hints), fp


def rules_table() -> str:
    """:data:`RULES` as the Markdown table the docs and this module's docstring show."""
    lines = ["| type | family | conditions (weight) |", "|---|---|---|"]
    for rule in RULES:
        conditions = " · ".join(f"`{c.describe()}` ({_num(c.weight)})" for c in rule.conditions)
        lines.append(f"| `{rule.type}` | {rule.family} | {conditions} |")
    lines.append(f"| `{UNKNOWN_TYPE}` | both | best score < {_num(MIN_CONFIDENCE)}; confidence = 1 − best score |")
    return "\n".join(lines)
