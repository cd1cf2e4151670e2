"""Reading a claim's robustness (:class:`~.specifications.Robustness`): the verdict's sentence with its conditions,
the per-layer reading in words, what ``report --json`` gives per claim, and the report's table row.
"""

from __future__ import annotations

from typing import Any

from .specifications import Robustness
from .stats import SUPPORTED, UNINFORMATIVE
from .verdicts import to_json

__all__ = ["per_layer_words", "conditions_sentence", "robustness_json"]


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
    """The verdict with its conditions, generated from the specifications: the primary verdict, in how many
    specifications it holds, where it does and where not (with each other verdict), and, where the primary is
    uninformative, why."""
    v = r.primary
    k, m = r.holds_in
    held = [s.name for s in r.judged if not s.primary and s.verdict.verdict == SUPPORTED]
    other: dict[str, list[str]] = {}
    for s in r.judged:
        if not s.primary and s.verdict.verdict != SUPPORTED:
            other.setdefault(s.verdict.verdict, []).append(s.name)
    text = f"{v.verdict} under the pre-registered analysis; supported in {k} of {m} declared specifications"
    if held:
        text += f" (also: {_list(held)})"
    if other:
        text += "; " + "; ".join(f"{word} with {_list(names)}" for word, names in other.items())
    if v.verdict == UNINFORMATIVE and getattr(v, "uninformative_reason", ""):
        text += f". Uninformative because {v.uninformative_reason}"
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

