"""The verdict of one claim as an object, and the one way every page states it.

A :class:`Verdict` carries the claim, the statistic, the effect with its confidence interval, the rule, the
verdict and, when undecided, how many independent initialisations would decide it.  The report, the chapters and
``python -m defstab_lib report`` all read these objects; :func:`sentence` and :func:`verdict_table` render them, so
a verdict reads the same everywhere.  Every page glues a verdict under the same names (:func:`glue_values`), lists
it with what is reported beside it the same way (:func:`table_rows`), and sets verdicts side by side (several
profiles, several recipes) with one builder (:func:`side_by_side`).

Effects of ratios are estimated on the log scale and shown as ratios (``0.62×``: 38% lower); ``scale="log"``
says so.  ``effect``, ``ci_low``, ``ci_high`` and ``minimal_effect`` are then on the ratio scale, as a reader
would quote them.
"""

from __future__ import annotations

import dataclasses
import html
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ..vocabulary import VERDICT_GUIDE

from .stats import (
    CONTRADICTED,
    INCONCLUSIVE,
    NO_EFFECT,
    SUPPORTED,
    UNINFORMATIVE,
    Estimate,
    Room,
    Rule,
    decide,
    interval,
    n_needed,
)

__all__ = ["Verdict", "judge", "effect_words", "sentence", "unit_words", "what_would_change", "GLUE_KINDS", "glue_id",
           "glue_values", "to_json", "table_rows", "side_by_side", "verdict_table", "minimal_words",
           "VERDICT_GUIDE"]


@dataclasses.dataclass
class Verdict:
    """One claim, the statistic that tests it, its value and the verdict.

    The first seven fields are those of the book's first verdicts (a chapter's own rule may still fill only
    them); a pre-registered test (:func:`judge`) fills the rest.

    Attributes:
        claim: the paper's claim in our words.
        statistic: what was computed (and over what).
        value: the effect with its interval, in words.
        rule: the rule that turns the statistic into the verdict (with the minimal effect and why).
        verdict: one of :data:`~defstab_lib.analysis.stats.VERDICTS` (older rules: "not supported").
        runs: how many runs (or networks) it rests on.
        numbers: further numbers, for glue and tables.
        figure: the paper's figure (or section).
        effect, ci_low, ci_high: the effect and its 95% interval (ratio scale when ``scale == "log"``).
        minimal_effect: the minimal effect of interest in the paper's direction (a ratio when ``scale == "log"``:
            0.91 for "at least 10% lower"; for an equivalence test the band's upper end, e.g. 1.10).
        n_independent: independent units (initialisations, or draws of network and probe).
        n_needed: when inconclusive, the independent units that would decide it (``None`` otherwise or when no
            number would).
        direction: the paper's direction on the log scale (-1 falls, +1 rises, 0 no difference).
        scale: ``"log"`` (ratios) or ``"linear"``.
        what: the compared quantity in words, e.g. "sensitivity, with pooling ÷ without".
        unit_effects: the effect of each independent unit (on the scale of ``effect``).
        method: how the interval was computed.
        role: ``"claim"`` (one of the eight) or ``"beside"`` (reported beside a claim, e.g. at another width).
        beside: verdicts reported beside this one.
        uninformative_reason: when the verdict is "uninformative", why: the quantity moved too little to have
            shown the effect (the :class:`~defstab_lib.analysis.stats.Room`'s words); ``""`` otherwise.
        room: when the test was given a :class:`~defstab_lib.analysis.stats.Room`, its ``moved`` and ``needed``
            (on the effect's own scale: log for ratios), ``ok`` and ``words``; ``None`` otherwise.
    """

    claim: str
    statistic: str
    value: str
    rule: str
    verdict: str
    runs: int
    numbers: dict[str, Any] = dataclasses.field(default_factory=dict)
    figure: str = ""
    effect: float = math.nan
    ci_low: float = math.nan
    ci_high: float = math.nan
    minimal_effect: float = math.nan
    n_independent: int = 0
    n_needed: int | None = None
    direction: int = 0
    scale: str = "log"
    what: str = ""
    unit_effects: list[float] = dataclasses.field(default_factory=list)
    method: str = ""
    role: str = "claim"
    beside: list["Verdict"] = dataclasses.field(default_factory=list)
    uninformative_reason: str = ""
    room: dict[str, Any] | None = None

    @property
    def has_ci(self) -> bool:
        return math.isfinite(self.ci_low) and math.isfinite(self.ci_high)


def _ratio(x: float) -> str:
    return f"{x:.2f}×" if math.isfinite(x) else "n/a"


def effect_words(est: Estimate, scale: str = "log") -> str:
    """The effect with its interval in plain words.

    >>> from .stats import interval
    >>> effect_words(interval([-0.5, -0.4, -0.45]))
    '0.64× (36% lower; 95% CI 0.56× to 0.72×)'
    """
    if est.n >= 2 and est.sd == 0.0:  # every unit the same: an interval of width 0 says only that
        same = _ratio(math.exp(est.effect)) if scale == "log" else f"{est.effect:.3g}"
        return f"{same} (the same in all {est.n} units: no spread to give an interval)"
    if scale == "log":
        r, lo, hi = math.exp(est.effect), math.exp(est.low), math.exp(est.high)
        change = f"{abs(r - 1):.0%} {'lower' if r < 1 else 'higher'}"
        a, b = _distinct(lo, hi, 2, "×")
        ci = f"95% CI {a} to {b}" if math.isfinite(est.low) else "no CI from 1 unit"
        return f"{_ratio(r)} ({change}; {ci})"
    a, b = _distinct(est.low, est.high, 3, "")
    ci = f"95% CI {a} to {b}" if math.isfinite(est.low) else "no CI from 1 unit"
    return f"{est.effect:.3g} ({ci})"


def _distinct(low: float, high: float, digits: int, unit: str) -> tuple[str, str]:
    """The interval's ends with as many digits as it takes for them to differ (at least ``digits``: decimals for
    ratios, significant digits otherwise; at most 6).

    >>> _distinct(0.8712, 0.8749, 2, "×"), _distinct(-0.178, 0.378, 3, "")
    (('0.871×', '0.875×'), ('-0.178', '0.378'))
    """
    if not (math.isfinite(low) and math.isfinite(high)):
        return (_ratio(low), _ratio(high)) if unit else (f"{low:.3g}", f"{high:.3g}")
    for d in range(digits, 7):
        a, b = (f"{low:.{d}f}", f"{high:.{d}f}") if unit else (f"{low:.{d}g}", f"{high:.{d}g}")
        if a != b or low == high:
            break
    return a + unit, b + unit


def _amount(x: float, scale: str) -> str:
    """A distance on the effect's scale in words: a percentage for log-ratios."""
    return f"{math.exp(x) - 1:.1%}" if scale == "log" else f"{x:.3g}"


def _rule_text(rule: Rule, scale: str, method_note: str, direction_words: str = "the paper's direction",
               room: Room | None = None) -> str:
    m = (f"{math.exp(rule.minimal) - 1:.0%} (a factor {math.exp(rule.minimal):.2f})" if scale == "log"
         else f"{rule.minimal:g}")
    if rule.direction == 0:
        text = (f"equivalence test: supported if the 95% CI lies within {m} either way of no difference; "
                f"contradicted if it lies wholly beyond {m}; otherwise inconclusive")
    elif rule.clear:
        way = ("below" if rule.direction < 0 else "above")
        text = (f"supported if the 95% CI lies beyond {m} {way} no effect ({direction_words}): the CI lies beyond "
                f"m, not only the estimate; contradicted if the CI excludes no effect the other way; no meaningful "
                f"effect if the CI lies within {m} either way; otherwise inconclusive")
    else:
        way = ("below" if rule.direction < 0 else "above") + (" 1×" if scale == "log" else " 0")
        text = (f"supported if the 95% CI lies {way} ({direction_words}) and the estimate reaches {m}; "
                f"contradicted if the CI excludes no effect the other way; no meaningful effect if the CI lies "
                f"within {m} either way; otherwise inconclusive")
    if room is not None:
        absent = "supported (similar)" if rule.direction == 0 else "no meaningful effect or contradicted"
        text += (f"; {absent} only if the measured quantity moved by at least {_amount(room.needed, scale)}, "
                 f"enough to have shown the effect, and uninformative otherwise")
    return f"{text}. Minimal effect {m}: {rule.why} {method_note}"


_METHOD_NOTE = ("The CI is Student's t over the independent units below 10 of them (a bootstrap over 3 units has "
                "only 10 distinct resamples and is far too narrow), a BCa bootstrap over them from 10 on.")


def judge(*, claim: str, figure: str, statistic: str, what: str, units, rule: Rule, runs: int,
          scale: str = "log", role: str = "claim", numbers: dict | None = None,
          direction_words: str = "the paper's direction", room: Room | None = None,
          estimate: Estimate | None = None) -> Verdict:
    """The pre-registered test of one claim: the units' effects ``(n,)`` (log-ratios when ``scale == "log"``)
    through :func:`~defstab_lib.analysis.stats.interval`, :func:`~defstab_lib.analysis.stats.decide` and, when
    undecided, :func:`~defstab_lib.analysis.stats.n_needed`.  ``direction_words`` names whose direction the rule
    tests (a question the paper leaves open has its direction fixed by us in advance, not by the paper).
    ``room``: how far the measured quantity moved beside how far it had to (on the effect's scale); a "no
    difference" verdict without that room is "uninformative", with the room's words as the reason.
    ``estimate``: the units' mean with an interval computed otherwise than from the units alone (e.g.
    :func:`~defstab_lib.analysis.stats.interval_with_probe`); its values must be ``units``.

    >>> from .stats import Room, Rule
    >>> v = judge(claim="c", figure="F", statistic="s", what="filter TV, A ÷ B", units=[0.01, -0.01, 0.0, 0.005],
    ...           rule=Rule(-1, 0.03, "why."), runs=8, room=Room(0.019, 0.058, "training moved TV by 1.9%"))
    >>> v.verdict, v.uninformative_reason, v.n_needed
    ('uninformative', 'training moved TV by 1.9%', None)
    """
    est = interval(units) if estimate is None else estimate
    if estimate is not None and not np.allclose(estimate.values, np.asarray(units, dtype=float).ravel()):
        raise ValueError("estimate must be the interval of units (its values differ from units)")
    verdict = decide(est, rule, room)
    back = math.exp if scale == "log" else (lambda v: v)
    return Verdict(
        claim=claim, statistic=statistic, value=effect_words(est, scale),
        rule=_rule_text(rule, scale, _METHOD_NOTE, direction_words, room),
        verdict=verdict, runs=int(runs), numbers=dict(numbers or {}), figure=figure,
        effect=back(est.effect), ci_low=back(est.low), ci_high=back(est.high),
        minimal_effect=back(rule.minimal * (rule.direction or 1)), n_independent=est.n,
        n_needed=n_needed(est, rule, room=room) if verdict == INCONCLUSIVE else None,
        direction=rule.direction, scale=scale, what=what, unit_effects=[back(v) for v in est.values],
        method=est.method, role=role, uninformative_reason=room.words if verdict == UNINFORMATIVE else "",
        room=room.as_dict() if room is not None else None,
    )


def sentence(v: Verdict) -> str:
    """The verdict with its effect and CI in one line of plain text, the same on every page.

    >>> from .stats import Rule
    >>> v = judge(claim="c", figure="F", statistic="s", what="sensitivity, A ÷ B", units=[-0.5, -0.4, -0.45],
    ...           rule=Rule(-1, 0.1, "why."), runs=6)
    >>> sentence(v)
    'supported: sensitivity, A ÷ B = 0.64× (36% lower; 95% CI 0.56× to 0.72×), 3 independent initialisations'
    >>> v.verdict, v.uninformative_reason = "uninformative", "training moved TV by 1.9%, 6% needed"
    >>> sentence(v)  # doctest: +NORMALIZE_WHITESPACE
    'uninformative: sensitivity, A ÷ B = 0.64× (36% lower; 95% CI 0.56× to 0.72×), 3 independent
     initialisations; the quantity could not have shown the effect: training moved TV by 1.9%, 6% needed'
    """
    if not v.what:  # an older verdict without an effect and CI
        return f"{v.verdict}: {v.value}"
    text = f"{v.verdict}: {v.what} = {v.value}, {v.n_independent} independent {unit_words(v)}"
    if v.verdict == UNINFORMATIVE and v.uninformative_reason:
        text += f"; the quantity could not have shown the effect: {v.uninformative_reason}"
    if v.verdict == INCONCLUSIVE:
        if v.n_independent < 2:
            text += "; a CI needs at least 2"
        elif v.n_needed:
            text += f"; about {v.n_needed} would decide it"
        else:
            text += "; no number of them would decide it at the observed effect"
    return text


def unit_words(v: Verdict) -> str:
    """The verdict's independent units in words, plural unless there is one: ``"draws"`` (random networks) or
    ``"initialisations"`` (trained runs).

    >>> unit_words(Verdict("c", "s", "v", "r", "supported", 1, numbers={"unit": "draw"}, n_independent=30))
    'draws'
    """
    unit = "draw" if v.numbers.get("unit") == "draw" else "initialisation"
    return unit + "s" * (v.n_independent != 1)


def what_would_change(v: Verdict) -> str:
    """One sentence on what would change the verdict.

    >>> v = Verdict("c", "s", "v", "r", "uninformative", 8, what="filter TV, A ÷ B", scale="log",
    ...             room={"moved": 0.019, "needed": 0.058, "ok": False, "words": "w"})
    >>> what_would_change(v)  # doctest: +NORMALIZE_WHITESPACE
    'The measured quantity moved too little to have shown the effect (1.9%, where 6.0% was needed); it would become
     informative in a regime where it moves by at least 6.0% (e.g. longer training or a stronger intervention);
     more initialisations alone would not.'
    """
    unit = "independent initialisations"
    if v.verdict == UNINFORMATIVE:
        if v.room:
            moved, needed = _amount(v.room["moved"], v.scale), _amount(v.room["needed"], v.scale)
            return (f"The measured quantity moved too little to have shown the effect ({moved}, where {needed} was "
                    f"needed); it would become informative in a regime where it moves by at least {needed} (e.g. "
                    f"longer training or a stronger intervention); more initialisations alone would not.")
        return ("The measured quantity moved too little to have shown the effect; a regime where it moves more "
                "would make the test informative; more initialisations alone would not.")
    if v.verdict == INCONCLUSIVE:
        if v.n_independent < 2:
            return "One independent unit gives no confidence interval: at least 2, and more to decide it."
        if v.n_needed:
            return (f"About {v.n_needed} {unit} (here {v.n_independent}) would decide it, if the effect and the "
                    f"spread between them stayed as observed.")
        return "At the observed effect no number of initialisations would decide it; a different effect would."
    near = v.ci_high if v.direction < 0 else v.ci_low
    band = max(v.minimal_effect, 1 / v.minimal_effect) if v.scale == "log" else abs(v.minimal_effect)
    if v.verdict == SUPPORTED and v.direction != 0:
        return (f"It would change if new initialisations moved the CI's end nearest to no effect ({near:.3f}×) "
                f"across 1×, or the estimate ({v.effect:.3f}×) past the minimal effect ({minimal_words(v)}).")
    if v.verdict == SUPPORTED:
        return (f"The CI lies within a factor {band:.2f} either way; it would change if new initialisations "
                f"widened or moved it beyond that.")
    if v.verdict == NO_EFFECT:
        return (f"The CI ({v.ci_low:.3f}× to {v.ci_high:.3f}×) lies inside the band of no meaningful effect "
                f"({1 / band:.3f}× to {band:.3f}×); only data that moved it out of that band would change the "
                f"verdict.")
    if v.verdict == CONTRADICTED and v.direction == 0:
        return (f"The CI lies wholly beyond the band of similarity (a factor {v.minimal_effect:.2f} either way); only "
                f"new initialisations that pulled it inside would change the verdict.")
    if v.verdict == CONTRADICTED:
        return ("The CI excludes no effect on the side opposite to the claim's direction; new initialisations "
                "would have to move it back across 1×.")
    return ""


#: What every page glues of a verdict, ``<kind>_<id>``: the sentence (:func:`sentence`), the bare verdict, the
#: effect with its CI in words, the rule, what would change it (:func:`what_would_change`), and what is reported
#: beside it.
GLUE_KINDS = {"verdict": "the sentence", "verdict_word": "the bare verdict", "value": "the effect and its CI",
              "rule": "the rule", "change": "what would change it", "beside": "what is reported beside it"}


def glue_id(key: str) -> str:
    """A claim's key (or a factor's, a rule's) as it appears in glue names: ``-`` becomes ``_``.

    >>> glue_id("training-changes")
    'training_changes'
    >>> glue_id("n 1")
    Traceback (most recent call last):
    ...
    ValueError: key must be letters, digits, '-' or '_', got 'n 1'
    """
    if not isinstance(key, str) or not re.fullmatch(r"[A-Za-z0-9_-]+", key):
        raise ValueError(f"key must be letters, digits, '-' or '_', got {key!r}")
    return key.replace("-", "_")


def glue_values(v: Verdict, key: str) -> dict[str, str]:
    """What a chapter glues to state a verdict the same way as every page, for ``key`` (a claim's key, a factor, a
    rule; :func:`glue_id`): ``verdict_<id>`` (:func:`sentence`), ``verdict_<id>_word`` (the bare verdict),
    ``value_<id>`` (the effect and its CI in words), ``rule_<id>``, ``change_<id>`` (:func:`what_would_change`) and
    ``beside_<id>`` (what is reported beside it, or a sentence saying there is nothing).

    >>> sorted(glue_values(Verdict("c", "s", "v", "r", "supported", 1), "training-changes"))[:3]
    ['beside_training_changes', 'change_training_changes', 'rule_training_changes']
    >>> glue_values(Verdict("c", "s", "0.5×", "r", "supported", 1), "H")["verdict_H_word"]
    'supported'
    """
    name = glue_id(key)
    beside = "; ".join(f"{sentence(b)} ({b.numbers.get('where') or b.numbers.get('label', '')})".replace(" ()", "")
                       for b in v.beside)
    return {f"verdict_{name}": sentence(v), f"verdict_{name}_word": v.verdict, f"value_{name}": v.value,
            f"rule_{name}": v.rule, f"change_{name}": what_would_change(v),
            f"beside_{name}": beside or "nothing is reported beside it"}


def to_json(v: Verdict) -> dict[str, Any]:
    """The machine-readable fields of a verdict (``n_needed`` only when inconclusive; ``uninformative_reason``
    when the verdict is uninformative; ``room`` -- moved, needed on the effect's own scale, ok, words -- when the
    test was given one)."""
    def num(x):
        return None if x is None or (isinstance(x, float) and not math.isfinite(x)) else round(float(x), 6)

    d = {"claim": v.claim, "figure": v.figure, "statistic": v.statistic, "effect": num(v.effect),
         "ci_low": num(v.ci_low), "ci_high": num(v.ci_high), "minimal_effect": num(v.minimal_effect),
         "n_independent": v.n_independent, "verdict": v.verdict, "rule": v.rule, "scale": v.scale,
         "what": v.what, "effect_in_words": v.value, "method": v.method, "role": v.role,
         "unit_effects": [num(x) for x in v.unit_effects]}
    if v.verdict == INCONCLUSIVE:
        d["n_needed"] = v.n_needed
    if v.uninformative_reason:
        d["uninformative_reason"] = v.uninformative_reason
    if v.room is not None:
        d["room"] = {k: (num(x) if k in ("moved", "needed") else x) for k, x in v.room.items()}
    if v.beside:
        d["beside"] = [to_json(b) for b in v.beside]
    return d


def table_rows(found: Sequence[Verdict]) -> list[Verdict]:
    """Each verdict followed by what is reported beside it: the rows of :func:`verdict_table` for a page that
    lists both."""
    return [row for v in found for row in (v, *v.beside)]


def side_by_side(columns: Mapping[str, Sequence[Verdict]], *, label_column: str, label: Callable[[Verdict], str],
                 cell: Callable[[Verdict], str]) -> list[dict[str, str]]:
    """The same verdicts obtained several ways (several profiles, several recipes) side by side: one row per
    verdict of the first column, in its order, labelled by ``label`` of that verdict under ``label_column``; one
    column per key of ``columns`` holding ``cell`` of its verdict in that row.

    Raises:
        ValueError: ``columns`` is empty or its lists differ in length.

    >>> a, b = Verdict("c", "s", "0.5×", "r", "supported", 1), Verdict("c", "s", "0.9×", "r", "inconclusive", 1)
    >>> side_by_side({"x": [a], "y": [b]}, label_column="claim", label=lambda v: v.claim,
    ...              cell=lambda v: f"{v.verdict}: {v.value}")
    [{'claim': 'c', 'x': 'supported: 0.5×', 'y': 'inconclusive: 0.9×'}]
    """
    if not columns:
        raise ValueError("columns must hold at least one list of verdicts")
    lengths = {name: len(found) for name, found in columns.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"every column must hold as many verdicts, got {lengths}")
    first = next(iter(columns.values()))
    return [{label_column: label(v), **{name: cell(found[i]) for name, found in columns.items()}}
            for i, v in enumerate(first)]


def minimal_words(v: Verdict) -> str:
    """The minimal effect of interest in words, the way it is crossed: a ratio as the factor and its per cent in the
    paper's direction (a factor 1.10 falling is 0.909× = 1 ÷ 1.10, 9.1% lower; :data:`VERDICT_GUIDE` explains why).

    >>> minimal_words(Verdict("c", "s", "v", "r", "supported", 1, minimal_effect=1 / 1.1, direction=-1))
    '0.909× (a factor 1.10 lower)'
    >>> minimal_words(Verdict("c", "s", "v", "r", "supported", 1, minimal_effect=1.03, direction=1))
    '1.030× (a factor 1.03 higher)'
    >>> minimal_words(Verdict("c", "s", "v", "r", "supported", 1, minimal_effect=1.1, direction=0))
    '1.100× (a factor 1.10 either way)'
    """
    if v.scale != "log":
        return f"{v.minimal_effect:.3g}"
    factor = max(v.minimal_effect, 1 / v.minimal_effect)
    way = {-1: "lower", 1: "higher"}.get(v.direction, "either way")
    return f"{v.minimal_effect:.3f}× (a factor {factor:.2f} {way})"


def _n_words(v: Verdict) -> str:
    return f"{v.n_independent} {unit_words(v)}" if v.n_independent else str(v.runs)


def verdict_table(verdicts: Sequence[Verdict], *, caption: str = "", holds: Mapping[str, str] | None = None,
                  links: Mapping[str, str] | None = None, guide: str = VERDICT_GUIDE) -> str:
    """The verdicts as an HTML table: the claim's number, the claim, the paper's figure, the effect with its 95% CI
    in words, ``n`` (the independent units it rests on), the verdict (its header linked to ``guide``, the one
    "How to read a verdict" box, which the caption links as well), with ``holds`` (``{claim key: "k of m"}``) a column "holds in" (the declared
    specifications that support it) and with ``links`` (``{claim key: href}``) a column linking each claim to its
    chapter.

    Each verdict cell carries ``data-verdict`` and its row a ``data-ci`` (for the browser suite); each cell a
    ``data-label`` with its column's name, which ``book/static/defstab.css`` shows beside the value when a phone's
    width turns each row into a card.  (Generic rows are :func:`~defstab_lib.analysis.tables.html_table`'s.)"""
    columns = ["#", "claim", "paper", "effect (95% CI)", "n", "verdict"]
    if holds:
        columns.append("holds in")
    if links:
        columns.append("chapter")
    rows = []
    for i, v in enumerate(verdicts, start=1):
        number = v.numbers.get("number", i)
        key = v.numbers.get("key", "")
        ci = f"{v.ci_low:.4g} to {v.ci_high:.4g}" if v.has_ci else ""
        verdict = (f"<b>{html.escape(v.verdict)}</b>"
                   + (f"<br><small>~{v.n_needed} initialisations would decide it</small>" if v.n_needed else "")
                   + (f"<br><small>{html.escape(v.uninformative_reason)}</small>" if v.uninformative_reason else ""))
        cells = [("#", str(number), ""), ("claim", html.escape(v.claim), ""), ("paper", html.escape(v.figure), ""),
                 ("effect (95% CI)", f"{html.escape(v.what)}: {html.escape(v.value)}" if v.what
                  else html.escape(v.value), " class='effect'"),
                 ("n", html.escape(_n_words(v)), " class='n'"),
                 ("verdict", verdict, f" class='verdict' data-verdict='{html.escape(v.verdict)}'")]
        if holds:
            cells.append(("holds in", html.escape(holds.get(key, "")), " class='holds'"))
        if links:
            href = links.get(key, "")
            cells.append(("chapter", f"<a href='{html.escape(href)}'>read</a>" if href else "", " class='chapter'"))
        rows.append(f"<tr data-ci='{html.escape(ci)}'>"
                    + "".join(f"<td data-label='{html.escape(label)}'{attrs}>{value}</td>"
                              for label, value, attrs in cells) + "</tr>")
    head = "".join(f"<th><a href='{html.escape(guide)}'>{c}</a></th>" if c == "verdict" and guide
                   else f"<th>{html.escape(c)}</th>" for c in columns)
    how = f"<a class='defstab-guide' href='{html.escape(guide)}'>how to read a verdict</a>" if guide else ""
    cap = (f"<caption>{html.escape(caption)}" + (f" ({how})" if how else "") + "</caption>" if caption
           else f"<caption>{how}</caption>" if how else "")
    return f"<table class='verdicts'>{cap}<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
