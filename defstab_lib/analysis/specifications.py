"""Every claim under its declared specifications: the pre-registered analysis and the reasonable alternatives a
skeptic would ask for, each judged by the claim's own rule, so that a verdict reads "supported in k of m
specifications" with the list, and the pre-registered one stays the headline.

The specifications were declared in code, in one commit, before any of them was computed on stored data (the
commit says so).  Per claim (:data:`DECLARED` builds them from what is stored; :mod:`.alternatives` computes them):

- **layers**: the paper's numbering, all (1-12), early (1-6), later (7-12) and the last (12), where the primary
  reads another window;
- **distance**: the normalised cosine distance D (pre-registered) against R = D/G (relative to the noise-matched
  control) and the normalised Euclidean distance;
- **networks**: each architecture alone, and the networks with and without pooling apart;
- **BatchNorm at initialisation**: "before training" as built (BN's initial running statistics: every BN layer is
  the identity) and with the running statistics re-estimated on training images, no weight changed
  (:mod:`defstab_lib.runs.bn_init`), for every before/after claim (and claim 1's trained runs at initialisation);
- **time**: after the first epoch instead of the end (the headline and claim 2, where measured);
- **recipe**: every other stored profile's runs, and this profile's ablation cells (other augmentation, weight
  decay, length);
- **width** and **σ** (claims 1 and 4's random networks);
- **scale** and **baseline** (claim 7): the spread on the absolute scale, and against the profile's own
  real-label runs;
- **interval**: the primary statistic with a CI that also resamples the shared probe images.

Per-layer readings (:func:`per_layer_reading`) stand beside claims about patterns (3, and 7's spread).
:mod:`.robustness` reads the result: the sentence with its conditions, the report's JSON and table, the
calibration of each rule at the observed spreads.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

from ..runs.store import Results
from ..vocabulary import POOLED, UNPOOLED
from . import alternatives as alt
from . import claims
from .report import Evidence, all_verdicts, pooling_verdict, random_labels_verdict, smoothing_verdict
from .stats import SUPPORTED
from .verdicts import Verdict

__all__ = ["PAPER_EFFECTS", "Inputs", "Specification", "Judged", "Robustness", "DECLARED", "declared", "robustness",
           "all_robustness", "per_layer_reading"]

#: The effect the paper's own figures show, per claim, on the log scale in the claim's direction (what the
#: calibration's power is computed at).  The paper prints no numbers: for sensitivities, the lines its text calls
#: different are a factor 1.5 or more apart in its Figures 3 and 4; for filter TV, its Figures 5 and 6 draw trained
#: filters clearly below the dotted line at initialisation (1.87), which we take as 10% lower (an assumption, stated
#: as such); for claim 7, "different patterns" against "very similar" we take as twice the spread; claim 3's is no
#: difference.
PAPER_EFFECTS: dict[str, tuple[float, str]] = {
    "headline": (-math.log(1.5), "a factor 1.5 lower (the gap the paper's Figure 3 calls a change)"),
    "pooling": (-math.log(1.5), "a factor 1.5 lower (Figure 3a/c)"),
    "training-changes": (math.log(1.5), "a factor 1.5 higher (Figure 3b/d)"),
    "convergence": (0.0, "no difference (Figure 3b/d)"),
    "smoothing": (-math.log(1.5), "a factor 1.5 lower (Figure 4)"),
    "synthetic": (-math.log(1.10), "10% lower TV (Figure 5; read off the figure, an assumption)"),
    "training-smooths": (-math.log(1.10), "10% lower TV (Figure 6; read off the figure, an assumption)"),
    "random-labels": (math.log(2.0), "twice the spread (Figure 7 against Figure 3)"),
}


@dataclasses.dataclass
class Inputs:
    """What the specifications read.

    Attributes:
        evidence: the profile's evidence (:class:`~.report.Evidence`), what the primary analyses read.
        calibrated: ``evidence.real`` with the BatchNorm-calibrated initialisation as their epoch-0 measurement
            (:func:`defstab_lib.runs.bn_init.with_calibrated_init`); ``None`` where not computed.
        recipes: other stored profiles' evidence (trained runs only; ``{profile: Evidence}``).
        recipes_calibrated: their real-label runs with the calibrated initialisation (``{profile: [Results]}``).
        cells: this profile's ablation cells other than the baseline, ``{(factor, level): [Results]}``.
    """

    evidence: Evidence
    calibrated: list[Results] | None = None
    recipes: dict[str, Evidence] = dataclasses.field(default_factory=dict)
    recipes_calibrated: dict[str, list[Results]] = dataclasses.field(default_factory=dict)
    cells: dict[tuple[str, Any], list[Results]] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class _Declared:
    """What names a declared specification.

    Attributes:
        name: short and unique within the claim, e.g. ``"layers 1-12"``, ``"BN calibrated at init"``.
        group: ``"primary"`` or what it moves: ``"layers"``, ``"distance"``, ``"networks"``, ``"BatchNorm"``,
            ``"time"``, ``"recipe"``, ``"width"``, ``"σ"``, ``"scale"``, ``"baseline"``, ``"interval"``.
        words: what it changes against the pre-registered analysis, in words.
    """

    name: str
    group: str
    words: str

    @property
    def primary(self) -> bool:
        return self.group == "primary"


@dataclasses.dataclass(frozen=True)
class Specification(_Declared):
    """One declared way to judge a claim (:class:`_Declared`'s attributes) and ``compute``: ``Inputs -> Verdict``."""

    compute: Callable[[Inputs], Verdict]


@dataclasses.dataclass(frozen=True)
class Judged(_Declared):
    """A specification and its ``verdict`` (``None`` with ``missing`` saying why, where its data are not there)."""

    verdict: Verdict | None
    missing: str = ""


@dataclasses.dataclass
class Robustness:
    """A claim under every declared specification (the primary first) and its per-layer reading, if any."""

    key: str
    specs: list[Judged]
    per_layer: list[Verdict] = dataclasses.field(default_factory=list)

    @property
    def primary(self) -> Verdict:
        return self.specs[0].verdict

    @property
    def judged(self) -> list[Judged]:
        """The specifications that could be computed."""
        return [s for s in self.specs if s.verdict is not None]

    @property
    def holds_in(self) -> tuple[int, int]:
        """``(k, m)``: supported in k of the m specifications computed."""
        judged = self.judged
        return sum(s.verdict.verdict == SUPPORTED for s in judged), len(judged)


def _names(ev_runs: Sequence[Results], which: Sequence[str]) -> list[str]:
    present = {r.config.arch.downsampling for r in ev_runs}
    return [n for n in which if n in present]


def _cell_words(key: tuple[str, Any]) -> str:
    factor, level = key
    return f"{factor.replace('_', ' ')} = {level}"


def _need(value, what: str):
    if not value:
        raise LookupError(f"{what} not stored")
    return value


# ------------------------------------------------------------------------------------------------ the declarations


def _headline(i: Inputs) -> list[Specification]:
    real = _need(i.evidence.real, "real-label runs")
    s = [Specification("pre-registered: layers 7-12, D, without pooling", "primary",
                       "the pre-registered analysis", lambda i: claims.unpooled_learn_stability(i.evidence.real))]
    for part in ("all", "early", "last"):
        s.append(Specification(alt.window_words(part), "layers", f"{alt.window_words(part)} instead of 7-12",
                               lambda i, p=part: alt.change("headline", i.evidence.real, networks="unpooled", part=p,
                                                            label=alt.window_words(p))))
    for d, name in (("R", "R = D/G"), ("euclidean", "Euclidean D")):
        s.append(Specification(name, "distance", f"{name} instead of the cosine D",
                               lambda i, d=d, n=name: alt.change("headline", i.evidence.real, networks="unpooled",
                                                                 part="late", distance=d, label=n)))
    s.append(Specification("BN calibrated at init", "BatchNorm", "before training with BatchNorm's running statistics "
                           "re-estimated on training images (no weight changed)",
                           lambda i: alt.change("headline", _need(i.calibrated, "BN-calibrated initialisations"),
                                                networks="unpooled", part="late", label="BN calibrated")))
    for name in _names(real, UNPOOLED):
        s.append(Specification(f"{name} alone", "networks", f"the {name} networks alone",
                               lambda i, n=name: alt.change("headline", i.evidence.real, networks=n, part="late",
                                                            label=f"{n} alone")))
    s.append(Specification("after epoch 1", "time", "after the first epoch instead of the end of training",
                           lambda i: alt.change("headline", i.evidence.real, networks="unpooled", part="late",
                                                after=1, label="after epoch 1")))
    for profile in i.recipes:
        s.append(Specification(f"recipe: {profile}", "recipe", f"the {profile} profile's runs",
                               lambda i, p=profile: alt.change("headline", i.recipes[p].real, networks="unpooled",
                                                               part="late", label=p)))
        s.append(Specification(f"recipe: {profile}, BN calibrated", "recipe",
                               f"the {profile} profile's runs, BN calibrated at init",
                               lambda i, p=profile: alt.change("headline", _need(i.recipes_calibrated.get(p),
                                                                                 f"{p}'s BN-calibrated inits"),
                                                               networks="unpooled", part="late", label=p)))
    for key in i.cells:
        s.append(Specification(f"recipe: {_cell_words(key)}", "recipe", f"the ablation cell {_cell_words(key)} "
                               f"(networks without pooling in it)",
                               lambda i, k=key: alt.change("headline", i.cells[k], networks="unpooled", part="late",
                                                           label=_cell_words(k))))
    s.append(Specification("probe resampled", "interval", "the CI also resamples the probe images",
                           lambda i: alt.with_probe("headline", i.evidence.real, label="probe resampled")))
    return s


def _pooling(i: Inputs) -> list[Specification]:
    nets = _need(i.evidence.pooling_nets, "random networks of claim 1")
    first = next(iter(nets))
    s = [Specification(f"pre-registered: random networks ×{first:g}, layers 1-12", "primary",
                       "the pre-registered analysis", lambda i: pooling_verdict(i.evidence.pooling_nets,
                                                                                i.evidence.real))]
    for width in list(nets)[1:]:
        s.append(Specification(f"width ×{width:g}", "width", f"random networks at width ×{width:g}",
                               lambda i, w=width: claims.pooling_at_init(i.evidence.pooling_nets[w])))
    for part in ("early", "late", "last"):
        s.append(Specification(alt.window_words(part), "layers", f"{alt.window_words(part)} instead of 1-12",
                               lambda i, p=part: alt.between_random(i.evidence.pooling_nets[first], part=p,
                                                                    label=alt.window_words(p))))
    s.append(Specification("R = D/G", "distance", "R = D/G instead of the cosine D",
                           lambda i: alt.between_random(i.evidence.pooling_nets[first], distance="R",
                                                        label="R = D/G")))
    for name in UNPOOLED:
        s.append(Specification(f"{name} alone", "networks", f"with pooling ÷ {name} alone",
                               lambda i, n=name: alt.between_random(i.evidence.pooling_nets[first], unpooled=(n,),
                                                                    label=f"{n} alone")))
    s.append(Specification("trained runs at init", "networks", "the trained runs' initialisations (BN as built)",
                           lambda i: alt.between("pooling", i.evidence.real, epoch="init", label="trained runs")))
    s.append(Specification("BN calibrated at init", "BatchNorm", "the trained runs' initialisations with BatchNorm "
                           "calibrated", lambda i: alt.between("pooling", _need(i.calibrated, "BN-calibrated inits"),
                                                               epoch="init", label="BN calibrated")))
    return s


def _training_changes(i: Inputs) -> list[Specification]:
    real = _need(i.evidence.real, "real-label runs")
    s = [Specification("pre-registered: layers 1-6, D, all networks", "primary", "the pre-registered analysis",
                       lambda i: claims.training_changes_pattern(i.evidence.real))]
    s.append(Specification("BN calibrated at init", "BatchNorm", "before training with BatchNorm calibrated",
                           lambda i: alt.change("training-changes", _need(i.calibrated, "BN-calibrated inits"),
                                                part="early", label="BN calibrated")))
    for part in ("all", "late", "last"):
        s.append(Specification(alt.window_words(part), "layers", f"{alt.window_words(part)} instead of 1-6",
                               lambda i, p=part: alt.change("training-changes", i.evidence.real, part=p,
                                                            label=alt.window_words(p))))
    for d, name in (("R", "R = D/G"), ("euclidean", "Euclidean D")):
        s.append(Specification(name, "distance", f"{name} instead of the cosine D",
                               lambda i, d=d, n=name: alt.change("training-changes", i.evidence.real, part="early",
                                                                 distance=d, label=n)))
    for which in ("unpooled", "pooled", *_names(real, (*UNPOOLED, *POOLED))):
        name = {"unpooled": "without pooling", "pooled": "with pooling"}.get(which, f"{which} alone")
        s.append(Specification(name, "networks", f"the networks {name}" if which in ("unpooled", "pooled")
                               else f"the {which} networks alone",
                               lambda i, w=which, n=name: alt.change("training-changes", i.evidence.real, networks=w,
                                                                     part="early", label=n)))
    s.append(Specification("after epoch 1", "time", "after the first epoch instead of the end of training",
                           lambda i: alt.change("training-changes", i.evidence.real, part="early", after=1,
                                                label="after epoch 1")))
    for profile in i.recipes:
        s.append(Specification(f"recipe: {profile}", "recipe", f"the {profile} profile's runs",
                               lambda i, p=profile: alt.change("training-changes", i.recipes[p].real, part="early",
                                                               label=p)))
    for key in i.cells:
        s.append(Specification(f"recipe: {_cell_words(key)}", "recipe", f"the ablation cell {_cell_words(key)}",
                               lambda i, k=key: alt.change("training-changes", i.cells[k], part="early",
                                                           label=_cell_words(k))))
    s.append(Specification("probe resampled", "interval", "the CI also resamples the probe images",
                           lambda i: alt.with_probe("training-changes", i.evidence.real, label="probe resampled")))
    return s


def _convergence(i: Inputs) -> list[Specification]:
    real = _need(i.evidence.real, "real-label runs")
    s = [Specification("pre-registered: layers 1-12, D", "primary", "the pre-registered analysis",
                       lambda i: claims.convergence_after_training(i.evidence.real))]
    for part in ("early", "late", "last"):
        s.append(Specification(alt.window_words(part), "layers", f"{alt.window_words(part)} instead of 1-12",
                               lambda i, p=part: alt.between("convergence", i.evidence.real, part=p,
                                                             label=alt.window_words(p))))
    for d, name in (("R", "R = D/G"), ("euclidean", "Euclidean D")):
        s.append(Specification(name, "distance", f"{name} instead of the cosine D",
                               lambda i, d=d, n=name: alt.between("convergence", i.evidence.real, distance=d,
                                                                  label=n)))
    for name in _names(real, UNPOOLED):
        s.append(Specification(f"{name} alone", "networks", f"with pooling ÷ {name} alone",
                               lambda i, n=name: alt.between("convergence", i.evidence.real, unpooled=n,
                                                             label=f"{n} alone")))
    for profile in i.recipes:
        s.append(Specification(f"recipe: {profile}", "recipe", f"the {profile} profile's runs",
                               lambda i, p=profile: alt.between("convergence", i.recipes[p].real, label=p)))
    for key in i.cells:
        s.append(Specification(f"recipe: {_cell_words(key)}", "recipe", f"the ablation cell {_cell_words(key)}",
                               lambda i, k=key: alt.between("convergence", i.cells[k], label=_cell_words(k))))
    s.append(Specification("probe resampled", "interval", "the CI also resamples the probe images",
                           lambda i: alt.with_probe("convergence", i.evidence.real, label="probe resampled")))
    return s


def _smoothing(i: Inputs) -> list[Specification]:
    nets = _need(i.evidence.smooth_nets, "random networks of claim 4")
    first = next(iter(nets))
    sigmas = sorted(nets[first].conditions)
    s = [Specification(f"pre-registered: σ = {max(sigmas):g} ÷ 0, ×{first:g}, layers 1-12", "primary",
                       "the pre-registered analysis", lambda i: smoothing_verdict(i.evidence.smooth_nets))]
    for width in list(nets)[1:]:
        s.append(Specification(f"width ×{width:g}", "width", f"random networks at width ×{width:g}",
                               lambda i, w=width: claims.smoothing_stabilises(i.evidence.smooth_nets[w])))
    for part in ("early", "late", "last"):
        s.append(Specification(alt.window_words(part), "layers", f"{alt.window_words(part)} instead of 1-12",
                               lambda i, p=part: alt.smoothing(i.evidence.smooth_nets[first], part=p,
                                                               label=alt.window_words(p))))
    s.append(Specification("R = D/G", "distance", "R = D/G instead of the cosine D",
                           lambda i: alt.smoothing(i.evidence.smooth_nets[first], distance="R", label="R = D/G")))
    for sigma in sigmas[1:-1]:
        s.append(Specification(f"σ = {sigma:g}", "σ", f"σ = {sigma:g} instead of the largest",
                               lambda i, g=sigma: alt.smoothing(i.evidence.smooth_nets[first], sigma=g,
                                                                label=f"σ = {g:g}")))
    return s


def _synthetic(i: Inputs) -> list[Specification]:
    _need(i.evidence.synthetic, "synthetic-task runs")
    s = [Specification("pre-registered: all conv layers, fitted change", "primary", "the pre-registered analysis",
                       lambda i: claims.stronger_tasks_smoother(i.evidence.synthetic))]
    s.append(Specification("after training", "time", "TV after training instead of at the matched training loss",
                           lambda i: alt.strength(i.evidence.synthetic, when="final", label="after training")))
    s.append(Specification("strongest ÷ weakest", "statistic", "the strongest task ÷ the weakest directly instead of "
                           "the fitted slope", lambda i: alt.strength(i.evidence.synthetic, endpoints=True,
                                                                      label="strongest ÷ weakest")))
    for part in ("early", "late"):
        words = alt.window_words(part, conv=True)
        s.append(Specification(words, "layers", f"{words} instead of all",
                               lambda i, p=part, w=words: alt.strength(i.evidence.synthetic, part=p, label=w)))
    for profile in i.recipes:
        s.append(Specification(f"recipe: {profile}", "recipe", f"the {profile} profile's synthetic runs",
                               lambda i, p=profile: alt.strength(i.recipes[p].synthetic, label=p)))
    return s


def _training_smooths(i: Inputs) -> list[Specification]:
    real = _need(i.evidence.real, "real-label runs")
    s = [Specification("pre-registered: all conv layers, all networks", "primary", "the pre-registered analysis",
                       lambda i: claims.training_smooths(i.evidence.real))]
    s.append(Specification("BN calibrated at init", "BatchNorm", "the BN-calibrated initialisations (TV reads the "
                           "weights, which calibration leaves unchanged)",
                           lambda i: alt.tv_change(_need(i.calibrated, "BN-calibrated inits"),
                                                   label="BN calibrated")))
    for part in ("early", "late", "last"):
        words = alt.window_words(part, conv=True)
        s.append(Specification(words, "layers", f"{words} instead of all",
                               lambda i, p=part, w=words: alt.tv_change(i.evidence.real, part=p, label=w)))
    for which in ("unpooled", "pooled", *_names(real, (*UNPOOLED, *POOLED))):
        name = {"unpooled": "without pooling", "pooled": "with pooling"}.get(which, f"{which} alone")
        s.append(Specification(name, "networks", f"the networks {name}" if which in ("unpooled", "pooled")
                               else f"the {which} networks alone",
                               lambda i, w=which, n=name: alt.tv_change(i.evidence.real, networks=w, label=n)))
    for profile in i.recipes:
        s.append(Specification(f"recipe: {profile}", "recipe", f"the {profile} profile's runs",
                               lambda i, p=profile: alt.tv_change(i.recipes[p].real, label=p)))
    for key in i.cells:
        s.append(Specification(f"recipe: {_cell_words(key)}", "recipe", f"the ablation cell {_cell_words(key)}",
                               lambda i, k=key: alt.tv_change(i.cells[k], label=_cell_words(k))))
    return s


def _random_labels(i: Inputs) -> list[Specification]:
    ev = i.evidence
    _need(ev.random, "random-label runs")
    s = [Specification("pre-registered: log scale, layers 1-12, the profile's contrast", "primary",
                       "the pre-registered analysis", lambda i: random_labels_verdict(i.evidence.random,
                                                                                      i.evidence.contrast))]
    base = f"the {ev.contrast[0].config.experiment} runs" if ev.contrast else "the contrast"
    s.append(Specification("absolute scale", "scale", "the spread as a coefficient of variation of the sensitivity "
                           "instead of the SD of its log",
                           lambda i: alt.spread(i.evidence.random, i.evidence.contrast, scale="absolute",
                                                label="absolute scale", baseline=base)))
    if ev.contrast is not ev.real:
        s.append(Specification("baseline: pooling runs", "baseline", "the profile's own real-label runs (another "
                               "recipe) instead of the matched ones",
                               lambda i: alt.spread(i.evidence.random, _need(i.evidence.real, "the pooling runs"),
                                                    label="pooling runs",
                                                    baseline="the pooling runs")))
        s.append(Specification("baseline: pooling runs, absolute scale", "baseline",
                               "the profile's own real-label runs, on the absolute scale",
                               lambda i: alt.spread(i.evidence.random, _need(i.evidence.real, "the pooling runs"),
                                                    scale="absolute",
                                                    label="pooling runs, absolute", baseline="the pooling runs")))
    for part in ("early", "late"):
        s.append(Specification(alt.window_words(part), "layers", f"{alt.window_words(part)} instead of 1-12",
                               lambda i, p=part: alt.spread(i.evidence.random, i.evidence.contrast, part=p,
                                                            label=alt.window_words(p), baseline=base)))
    s.append(Specification("R = D/G", "distance", "R = D/G instead of the cosine D",
                           lambda i: alt.spread(i.evidence.random, i.evidence.contrast, distance="R", label="R = D/G",
                                                baseline=base)))
    for profile in i.recipes:
        s.append(Specification(f"recipe: {profile}", "recipe", f"the {profile} profile's runs",
                               lambda i, p=profile: random_labels_verdict(i.recipes[p].random,
                                                                          i.recipes[p].contrast)))
    return s


#: The declared specifications of each claim, in :data:`.claims.CLAIMS`' order: ``Inputs -> [Specification]``,
#: the pre-registered one first.
DECLARED: dict[str, Callable[[Inputs], list[Specification]]] = {
    "headline": _headline, "pooling": _pooling, "training-changes": _training_changes, "convergence": _convergence,
    "smoothing": _smoothing, "synthetic": _synthetic, "training-smooths": _training_smooths,
    "random-labels": _random_labels,
}


def declared(key: str, inputs: Inputs) -> list[Specification]:
    """The declared specifications of claim ``key`` for what ``inputs`` hold (the primary first)."""
    if key not in DECLARED:
        raise ValueError(f"key must be one of {list(DECLARED)}, got {key!r}")
    return DECLARED[key](inputs)


# ------------------------------------------------------------------------------------------------ judging


def per_layer_reading(key: str, inputs: Inputs) -> list[Verdict]:
    """Claim 3's equivalence test and claim 7's spread, layer by layer (``[]`` for the other claims)."""
    ev = inputs.evidence
    readings = {"convergence": lambda: alt.per_layer(ev.real),
                "random-labels": lambda: alt.per_layer_spread(ev.random, ev.contrast)}
    return readings[key]() if key in readings else []


def robustness(key: str, inputs: Inputs, *, primary: Verdict | None = None) -> Robustness:
    """Claim ``key`` under each of its declared specifications; a specification whose data are not stored is
    listed with why (``missing``) and left out of "k of m".  ``primary``: the pre-registered verdict, when already
    computed (the report's)."""
    judged = []
    try:
        specs = declared(key, inputs)
    except LookupError as exc:  # what the claim reads is not there: only the primary verdict, when given
        if primary is None:
            raise
        return Robustness(key, [Judged("pre-registered", "primary", "the pre-registered analysis", primary),
                                Judged("the declared alternatives", "all", "every declared specification", None,
                                       missing=str(exc).strip("'\""))])
    for spec in specs:
        if spec.primary and primary is not None:
            judged.append(Judged(spec.name, spec.group, spec.words, primary))
            continue
        try:
            judged.append(Judged(spec.name, spec.group, spec.words, spec.compute(inputs)))
        except LookupError as exc:
            judged.append(Judged(spec.name, spec.group, spec.words, None, missing=str(exc).strip("'\"")))
    return Robustness(key, judged, per_layer_reading(key, inputs))


def all_robustness(inputs: Inputs, primaries: Sequence[Verdict] | None = None) -> dict[str, Robustness]:
    """Every claim under its declared specifications, in :data:`.claims.CLAIMS`' order (``primaries``: the
    report's verdicts, :func:`~.report.all_verdicts`, computed when not given)."""
    primaries = list(primaries) if primaries is not None else all_verdicts(inputs.evidence)
    return {key: robustness(key, inputs, primary=v) for key, v in zip(claims.CLAIMS, primaries)}
