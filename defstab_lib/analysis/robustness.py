"""Reading a claim's robustness (:class:`~.specifications.Robustness`): the verdict's sentence with its conditions,
the per-layer reading in words, what ``report --json`` gives per claim, and the report's table row.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from . import claims, verdicts
from .calibration import Calibration, calibrate, tightened
from .calibration import calibration_rows as _rows
from .specifications import PAPER_EFFECTS, Robustness
from .stats import SUPPORTED, UNINFORMATIVE, Room, decide, interval
from .verdicts import Verdict, to_json

__all__ = ["per_layer_words", "conditions_sentence", "robustness_json", "glue_values", "figure_title",
           "FALSE_SUPPORT_LIMIT", "calibration_effects", "calibrations", "calibration_json", "calibration_rows"]


def _list(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def per_layer_words(r: Robustness) -> str:
    """The per-layer reading in words: which layers differ and in which direction (claim 3: similar within the
    margin, higher or lower with pooling; claim 7: more spread with random labels or not), ``""`` without one."""
    if not r.per_layer:
        return ""
    groups: dict[str, list[str]] = {}
    for v in r.per_layer:
        layer = str(v.numbers.get("layer"))
        if r.key == "convergence":
            word = {SUPPORTED: "similar (within 10%)", "inconclusive": "undecided"}.get(
                v.verdict, ("higher with pooling" if v.effect > 1 else "lower with pooling")
                if v.verdict == "contradicted" else v.verdict)
        else:
            word = {SUPPORTED: "more spread with random labels", "contradicted": "less spread with random labels",
                    "inconclusive": "undecided"}.get(v.verdict, v.verdict)
        groups.setdefault(word, []).append(f"{layer} ({v.effect:.2f}×)")
    return "; ".join(f"{word} at layer{'s' * (len(ls) > 1)} {_list(ls)}" for word, ls in groups.items())


def conditions_sentence(r: Robustness) -> str:
    """The verdict with its conditions, generated from the specifications: the primary verdict and the analysis it
    comes from, in how many specifications it is supported, then, group by group (layers, distance, networks,
    BatchNorm, time, recipe, ...), under which it holds and under which not (with the verdict there); the
    largest supported effect; why an uninformative primary is so; what was not computed; the per-layer reading.

    The test suite checks that every judged specification other than the primary is named."""
    v = r.primary
    k, m = r.holds_in
    text = (f"{v.verdict} under the pre-registered analysis ({r.specs[0].name.removeprefix('pre-registered: ')}); "
            f"supported in {k} of {m} declared specifications")
    groups: dict[str, list] = {}
    for s in r.judged:
        if not s.primary:
            groups.setdefault(s.group, []).append(s)
    parts = []
    for group, specs in groups.items():
        def short(s, group=group):
            return s.name.removeprefix(f"{group}: ")

        held = [short(s) for s in specs if s.verdict.verdict == SUPPORTED]
        other: dict[str, list[str]] = {}
        for s in specs:
            if s.verdict.verdict != SUPPORTED:
                other.setdefault(s.verdict.verdict, []).append(short(s))
        said = ([f"holds with {_list(held)}"] if held else []) + [f"{word} with {_list(names)}"
                                                                  for word, names in other.items()]
        parts.append(f"{group}: {'; '.join(said)}")
    if parts:
        text += ". " + ". ".join(p[0].upper() + p[1:] for p in parts)
    supported = [s for s in r.judged if s.verdict.verdict == SUPPORTED and math.isfinite(s.verdict.effect)]
    if v.direction != 0 and len(supported) > 1:
        far = max(supported, key=lambda s: abs(math.log(s.verdict.effect)) if v.scale == "log"
                  else abs(s.verdict.effect))
        text += f". Largest supported effect: {far.verdict.effect:.2f}× ({far.name})" if v.scale == "log" else ""
    if v.verdict == UNINFORMATIVE and getattr(v, "uninformative_reason", ""):
        reason = v.uninformative_reason
        text += f". Uninformative because {reason[:1].lower() + reason[1:]}"
    missing = [s.name for s in r.specs if s.verdict is None]
    if missing:
        text += f". Not computed (not stored): {_list(missing)}"
    layers = per_layer_words(r)
    if layers:
        text += f". Layer by layer: {layers}"
    return text + "."


def robustness_json(r: Robustness, profile: str) -> dict[str, Any]:
    """What ``report --json`` gives per claim beside its verdict: ``specifications`` (``name``, ``group``,
    ``primary``, ``effect``, ``ci_low``, ``ci_high``, ``n_independent``, ``verdict``, or ``missing``),
    ``holds_in`` (``"k of m"``), ``conditions``, ``per_layer``, ``uninformative_reason`` where the primary is
    uninformative, and the profile read."""
    specs = []
    for s in r.specs:
        row: dict[str, Any] = {"name": s.name, "group": s.group, "primary": s.primary, "words": s.words}
        if s.verdict is None:
            row["missing"] = s.missing
        else:
            j = to_json(s.verdict)
            row.update({k: j.get(k) for k in ("effect", "ci_low", "ci_high", "n_independent", "verdict", "method")})
            if j.get("uninformative_reason"):
                row["uninformative_reason"] = j["uninformative_reason"]
        specs.append(row)
    k, m = r.holds_in
    out = {"profile": profile, "holds_in": f"{k} of {m}", "supported_in": k, "specifications_computed": m,
           "specifications": specs, "conditions": conditions_sentence(r)}
    if r.per_layer:
        out["per_layer"] = [{"layer": v.numbers.get("layer"), **{k: to_json(v)[k] for k in
                                                                ("effect", "ci_low", "ci_high", "verdict")}}
                            for v in r.per_layer]
    reason = getattr(r.primary, "uninformative_reason", "")
    if reason:
        out["uninformative_reason"] = reason
    return out



def glue_values(r: Robustness) -> dict[str, str]:
    """What a page glues of a claim judged under its specifications: :func:`~.verdicts.glue_values` of the
    primary verdict, its sentence (``verdict_<id>``) ending with the conditions (so that no page states a verdict
    without them), and ``conditions_<id>`` (:func:`conditions_sentence`) and ``holds_<id>`` (``"k of m"``)."""
    values = verdicts.glue_values(r.primary, r.key)
    name = verdicts.glue_id(r.key)
    k, m = r.holds_in
    values[f"verdict_{name}"] += f" (pre-registered analysis; supported in {k} of {m} declared specifications)"
    values[f"conditions_{name}"] = conditions_sentence(r)
    values[f"holds_{name}"] = f"{k} of {m}"
    return values


def figure_title(r: Robustness) -> str:
    """The title of a claim's robustness panel: its number, statement, and in how many specifications it holds."""
    k, m = r.holds_in
    return f"{claims.CLAIMS[r.key].number}. {claims.CLAIMS[r.key].statement} — supported in {k} of {m}"


#: The largest chance of "supported" under no effect a rule may have at the observed spread (the calibration's
#: false support, the worse generator's); a rule above it is judged by its tightened form (the CI clears the
#: minimal effect), fixed in :data:`.claims.CLAIMS` (issue 25).
FALSE_SUPPORT_LIMIT = 0.05


def calibration_effects(key: str) -> dict[str, float]:
    """The true effects the calibration of claim ``key`` simulates (log scale): none, the minimal effect, and the
    paper's (:data:`~.specifications.PAPER_EFFECTS`)."""
    rule = claims.CLAIMS[key].rule
    return {"no effect": 0.0, "minimal": (rule.direction or 1) * rule.minimal, "paper": PAPER_EFFECTS[key][0]}


def _units(v: Verdict) -> np.ndarray:
    """``(n,)`` the verdict's unit effects on the scale its rule reads (log-ratios for a ratio)."""
    return np.log(v.unit_effects) if v.scale == "log" else np.asarray(v.unit_effects, float)


def calibrations(primaries: Sequence[Verdict], *, sims: int = 4000, seed: int = 0) -> dict[str, Calibration]:
    """Each primary verdict's rule simulated at the spread and shape of its own units
    (:func:`~.calibration.calibrate`), keyed by claim.  A verdict with fewer than :data:`MIN_CALIBRATION_UNITS`
    finite units (a smoke profile's single seed) has no spread to simulate at and is left out (see
    :func:`uncalibrated`)."""
    out = {}
    for v in primaries:
        key = v.numbers["key"]
        units = _units(v)
        if np.isfinite(units).sum() < MIN_CALIBRATION_UNITS:
            continue
        out[key] = calibrate(units, claims.CLAIMS[key].rule, effects=calibration_effects(key), sims=sims, seed=seed)
    return out


#: The fewest independent units whose spread a rule can be calibrated at (a standard deviation needs two).
MIN_CALIBRATION_UNITS = 2


def uncalibrated(primaries: Sequence[Verdict], found: Mapping[str, Calibration]) -> str:
    """The sentence naming the claims :func:`calibrations` left out, or ``""`` when none was."""
    left = [f"{v.numbers['number']}" for v in primaries if v.numbers["key"] not in found]
    if not left:
        return ""
    return (f"Not calibrated (fewer than {MIN_CALIBRATION_UNITS} independent units, so no spread to simulate at): "
            f"claim{'s' if len(left) > 1 else ''} {', '.join(left)}.")


def under_tightened(primaries: Sequence[Verdict], found: Mapping[str, Calibration]) -> dict[str, str]:
    """For each claim whose rule's false support at the observed spread (``found``, :func:`calibrations`) is above
    :data:`FALSE_SUPPORT_LIMIT`: its verdict had it been judged by the tightened rule
    (:func:`~.calibration.tightened`: *supported* only when the CI clears the minimal effect), on the same units,
    interval and room.  Empty when no rule is above the limit."""
    out = {}
    for v in primaries:
        key = v.numbers["key"]
        c = found.get(key)
        if c is None or not c.false_support > FALSE_SUPPORT_LIMIT:
            continue
        units = _units(v)
        room = Room(v.room["moved"], v.room["needed"], v.room["words"]) if v.room else None
        out[key] = decide(interval(units), tightened(claims.CLAIMS[key].rule), room)
    return out


def tightened_sentence(primaries: Sequence[Verdict], found: Mapping[str, Calibration]) -> str:
    """:func:`under_tightened` in words (``""`` when no rule is above the limit)."""
    changed = under_tightened(primaries, found)
    if not changed:
        return ""
    by_key = {v.numbers["key"]: v for v in primaries}
    parts = [f"claim {by_key[k].numbers['number']} ({found[k].false_support:.0%} false support): "
             + (f"still {w}" if w == by_key[k].verdict else f"{w} instead of {by_key[k].verdict}")
             for k, w in changed.items()]
    return (f"Above the limit of {FALSE_SUPPORT_LIMIT:.0%} here, and judged by the tightened rule (the CI must clear "
            f"the minimal effect): {'; '.join(parts)}.")


def calibration_json(c: Calibration | None) -> dict[str, Any] | None:
    """A calibration as ``report --json`` gives it: units simulated, observed SD and skew, false support and the
    power at the minimal and the paper's effect (each the worse generator's), and both generators' rates; ``None``
    for a claim :func:`calibrations` left out."""
    if c is None:
        return None

    def num(x):
        return None if not math.isfinite(x) else round(float(x), 4)

    return {"n": c.n, "sd": num(c.sd), "skew": num(c.skew), "false_support": num(c.false_support),
            "power_at_minimal": num(c.power("minimal")), "power_at_paper": num(c.power("paper")),
            "above_limit": bool(c.false_support > FALSE_SUPPORT_LIMIT), "method": c.method,
            "supported_by_generator": {g: {name: num(r[SUPPORTED]) for name, r in c.rates[g].items()}
                                       for g in c.rates}}


def calibration_rows(found: Mapping[str, Calibration]) -> list[dict[str, str]]:
    """The report's calibration table: one row per claim (its number), from
    :func:`~.calibration.calibration_rows`."""
    return _rows({f"{claims.CLAIMS[k].number}": c for k, c in found.items()})
