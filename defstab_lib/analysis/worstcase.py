"""Worst-case deformations and relative stability: arrays from protocol-2 runs, and four pre-registered verdicts.

Every function here reads :class:`~defstab_lib.runs.store.Results` measured with protocol 2
(:mod:`defstab_lib.runs.protocol`); a protocol-1 result raises a ``ValueError`` that says so.

**Units.**  Under protocol 2 every network's initial weights are an independent draw per (architecture, seed)
(:func:`defstab_lib.runs.config.init_seed`), so each trained network is one independent unit: the verdicts below
compute one effect per network and a 95% confidence interval over networks.  (Networks of one seed share their
training data and batch order; the effects here are within-network, so that sharing does not enter them.)

**The statistics** are those of the book's other verdicts (issue 13): effects of ratios on the log scale, a 95%
interval over independent units -- Student's t below :data:`~defstab_lib.analysis.stats.BOOTSTRAP_MIN_N` units (a bootstrap over 3 units has
only 10 distinct resamples), :func:`scipy.stats.bootstrap`'s BCa interval of the mean from there on -- and a rule
fixed in advance (:class:`Rule`): *supported* when the interval excludes no effect in the stated direction and the
estimate reaches the minimal effect; *contradicted* when it excludes no effect in the other direction; *no
meaningful effect* when it lies within the minimal effect either way; *inconclusive* otherwise, with the number of
networks that would decide it at the observed mean and spread.  For a claim of agreement (direction 0, an
equivalence test): *supported* when the interval lies within the band, *contradicted* when it lies wholly outside.

**The rules, fixed before the stored experiment was run** (the minimal effects and why):

1. :func:`worst_exceeds_random` -- *worst-case deformations at the paper's budget change a layer far more than
   random ones*: per network, the mean over the worst-case layers of ``log(worst / random)`` (mean normalised
   cosine distance over the same probe images), after training.  Direction +1; minimal effect a factor 1.5: the
   paper calls its curves different when they are a factor 1.5 or more apart, so a worst case within 1.5x of a
   random deformation would not be "worse" in the paper's own reading.
2. :func:`noise_rises_with_depth` -- *after training, the noise distance G rises with depth* (Tomasini et al.
   2023): per network, the least-squares slope of ``log G`` against the layer number over layers 1..L, times the
   depth range (the log-ratio from the first to the last layer along the fitted line).  Direction +1; minimal
   effect a factor 1.5 over the whole depth (the same reading of the paper's figures, over 12 layers).
3. :func:`deformation_falls_with_depth` -- *after training, the deformation distance D falls with depth* (the same
   report): the same slope for ``log D``.  Direction -1; minimal effect a factor 1.5.
4. :func:`petrini_line` -- *test error is about 0.2 sqrt(R_f)* (Petrini et al. 2021, across 15 architectures on
   CIFAR-10): per network, ``log(test error / (0.2 sqrt(R_f)))``.  Direction 0 (an equivalence test); band a
   factor 2 either way, the scatter of their architectures about the line.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..runs.protocol import require_protocol_2
from ..runs.store import Results
from .claims import mean_log
from .stats import Rule
from .verdicts import Verdict, judge

__all__ = [
    "RULES", "PETRINI_SLOPE", "check_protocol", "worst_random", "label_flips", "flip_summary",
    "relative_stability", "petrini_points", "trajectory", "trajectory_summary", "worst_units", "depth_units",
    "petrini_units", "worst_exceeds_random", "noise_rises_with_depth", "deformation_falls_with_depth",
    "petrini_line", "verdicts",
]

#: Petrini et al.'s line: test error ~= PETRINI_SLOPE * sqrt(R_f).
PETRINI_SLOPE = 0.2


_WHY_FACTOR = ("the paper calls its curves different when they are a factor 1.5 or more apart; a smaller factor "
               "would not be a difference in its own reading.")
#: The pre-registered rules (see the module docstring).
RULES: dict[str, Rule] = {
    "worst-case": Rule(+1, math.log(1.5), _WHY_FACTOR),
    "noise-depth": Rule(+1, math.log(1.5), _WHY_FACTOR + " Here over the whole depth (layers 1 to L)."),
    "deformation-depth": Rule(-1, math.log(1.5), _WHY_FACTOR + " Here over the whole depth (layers 1 to L)."),
    "petrini": Rule(0, math.log(2.0), "Petrini et al.'s 15 architectures scatter about their line by up to a "
                                      "factor 2; a network within that band agrees with it."),
}


# ------------------------------------------------------------------------------------------------ arrays


def check_protocol(results: Sequence[Results]) -> list[Results]:
    """``results`` as a list, or a ``ValueError`` when it is empty or holds a run not measured with protocol 2."""
    return require_protocol_2(results, "have no worst cases or relative stability of the output; use protocol-2 "
                                       "runs (e.g. the 'worst-case' experiment)")


def worst_random(results: Sequence[Results], epoch: int | str = "final") -> dict[str, Any]:
    """Worst-case and random sensitivity per network at ``epoch`` (a full measurement: ``"init"`` or
    ``"final"``): ``{"layers": [...], "worst": (runs, layers), "random": (runs, layers), "loss_worst": (runs,),
    "loss_random": (runs,), "loss_clean": (runs,)}``."""
    results = check_protocol(results)
    cases = [r.at(epoch).v2.worst_case for r in results]
    layers = cases[0]["layers"]
    if any(c["layers"] != layers for c in cases):
        raise ValueError(f"the runs' worst cases are at different layers at epoch {epoch!r}")
    out: dict[str, Any] = {"layers": list(layers)}
    for key in ("worst", "random"):
        out[key] = np.array([c[key] for c in cases], dtype=float)
    for key in ("loss_worst", "loss_random", "loss_clean"):
        out[key] = np.array([c[key] for c in cases], dtype=float)
    return out


def label_flips(results: Sequence[Results]) -> list[dict[str, Any]]:
    """Per network, ADef's label flips at the end: ``downsampling``, ``seed``, ``test_accuracy``,
    ``median_px`` (median ``||tau||_inf`` in pixels over the correctly classified images that flipped),
    ``flipped`` (fraction of the correctly classified images flipped) and ``px`` (those sizes)."""
    rows = []
    for r in check_protocol(results):
        a = r.final.v2.adef
        if a is None:
            raise ValueError(f"run {r.key} stores no label flips at its end")
        px = [d for d, f, c in zip(a["max_displacement"], a["flipped"], a["correct"]) if f and c]
        correct = sum(a["correct"])
        rows.append({"downsampling": r.config.arch.downsampling, "seed": r.config.seed,
                     "test_accuracy": r.final.test_accuracy, "median_px": float(np.median(px)) if px else math.nan,
                     "flipped": len(px) / correct if correct else math.nan, "px": px})
    return rows


def flip_summary(rows: Sequence[dict[str, Any]]) -> dict[str, float]:
    """From :func:`label_flips`' rows: the smallest and largest per-network median flip size (pixels; NaN where no
    network flipped) and the mean fraction flipped.

    >>> flip_summary([{"median_px": 1.0, "flipped": 1.0}, {"median_px": math.nan, "flipped": 0.0}])
    {'px_min': 1.0, 'px_max': 1.0, 'rate': 0.5}
    """
    px = np.array([r["median_px"] for r in rows], dtype=float)
    rate = np.array([r["flipped"] for r in rows], dtype=float)
    finite = px[np.isfinite(px)]
    return {"px_min": float(finite.min()) if finite.size else math.nan,
            "px_max": float(finite.max()) if finite.size else math.nan,
            "rate": float(np.nanmean(rate)) if np.isfinite(rate).any() else math.nan}


def relative_stability(results: Sequence[Results], epoch: int | str = "final",
                       metric: str = "cosine") -> dict[str, np.ndarray]:
    """``{"D": (runs, layers), "G": (runs, layers), "R": (runs, layers)}``: normalised deformation distance D,
    noise distance G and R = D / G per layer in ``metric`` (``"cosine"`` or ``"euclidean"``)."""
    results = check_protocol(results)
    if metric not in ("cosine", "euclidean"):
        raise ValueError(f"metric must be 'cosine' or 'euclidean', got {metric!r}")
    d = np.array([r.at(epoch).distances(metric)[0] for r in results], dtype=float)
    g = np.array([r.at(epoch).distances(metric)[1] for r in results], dtype=float)
    return {"D": d, "G": g, "R": d / g}


def petrini_points(results: Sequence[Results]) -> dict[str, np.ndarray]:
    """Per network at the end: ``sqrt_rf`` (sqrt of the sine-mode R_f at the output) and ``test_error``."""
    results = check_protocol(results)
    return {"sqrt_rf": np.sqrt([r.final.v2.sine["R_f"] for r in results]),
            "test_error": np.array([1.0 - r.final.test_accuracy for r in results])}


def trajectory(results: Sequence[Results], quantity: str = "sensitivity") -> tuple[np.ndarray, np.ndarray]:
    """``(epochs (T,), values (runs, T))`` over training for one of: ``"sensitivity"`` (mean normalised cosine
    distance over layers 1..L), ``"late-sensitivity"`` (the same over the later layers, 7-12 of 12: the headline's
    quantity), ``"worst"`` (worst-case sensitivity at the last layer), ``"tv"`` (mean filter TV
    over conv layers), ``"test_accuracy"``, ``"R_f"``.  Every run must have been measured at the same epochs.
    ``"worst"`` and ``"R_f"`` need protocol-2 runs; the others also read protocol-1 runs (the pooling and
    smoothness chapters' trajectories)."""
    results = check_protocol(results) if quantity in ("worst", "R_f") else list(results)
    if not results:
        raise ValueError("results must hold at least one run")
    epochs = [m.epoch for m in results[0].measurements]
    if any([m.epoch for m in r.measurements] != epochs for r in results):
        raise ValueError("the runs were measured at different epochs")
    pick = {
        "sensitivity": lambda m: float(np.mean(m.cosine[1:])),
        "late-sensitivity": lambda m: float(np.exp(mean_log(m.cosine, "late"))),
        "worst": lambda m: float(m.v2.worst_case["worst"][-1]),
        "tv": lambda m: float(np.mean(m.smoothness)),
        "test_accuracy": lambda m: float(m.test_accuracy),
        "R_f": lambda m: float(m.v2.sine["R_f"]),
    }
    if quantity not in pick:
        raise ValueError(f"quantity {quantity!r} is not allowed; allowed: {', '.join(pick)}")
    return np.array(epochs, dtype=float), np.array([[pick[quantity](m) for m in r.measurements] for r in results])


def trajectory_summary(epochs: Sequence[float], values: np.ndarray) -> dict[str, float | int]:
    """What a trajectory (:func:`trajectory`) says in a sentence: where the mean over networks starts and ends,
    the first measured epoch by which it has made half of its whole change, and in how many networks every step
    goes the way of that change (monotone).

    Args:
        epochs: ``(T,)`` measured epochs, the first the initialisation.
        values: ``(networks, T)``.

    Returns:
        ``{"start", "end", "last_epoch", "half_epoch", "monotone", "n"}``.

    >>> trajectory_summary([0, 1, 2, 4], np.array([[1.0, 0.5, 0.4, 0.3], [1.0, 0.8, 0.9, 0.5]]))
    {'start': 1.0, 'end': 0.4, 'last_epoch': 4.0, 'half_epoch': 1.0, 'monotone': 1, 'n': 2}
    """
    x = np.asarray(epochs, dtype=float)
    v = np.atleast_2d(np.asarray(values, dtype=float))
    if x.ndim != 1 or x.size < 2 or v.shape[1] != x.size:
        raise ValueError(f"epochs must be (T,) with T >= 2 and values (networks, T), got {x.shape} and {v.shape}")
    mean = v.mean(0)
    change = mean[-1] - mean[0]
    sign = 1.0 if change >= 0 else -1.0
    half = int(np.argmax(sign * (mean - mean[0]) >= abs(change) / 2))
    monotone = int(np.sum(np.all(sign * np.diff(v, axis=1) >= 0, axis=1)))
    return {"start": float(mean[0]), "end": float(mean[-1]), "last_epoch": float(x[-1]), "half_epoch": float(x[half]),
            "monotone": monotone, "n": int(v.shape[0])}


# ------------------------------------------------------------------------------------------------ units


def worst_units(worst: np.ndarray, random: np.ndarray) -> np.ndarray:
    """Rule 1: per network, the mean over layers of ``log(worst / random)``.  ``(runs, layers)`` each -> ``(runs,)``."""
    return np.log(np.asarray(worst, float) / np.asarray(random, float)).mean(1)


def depth_units(values: np.ndarray) -> np.ndarray:
    """Rules 2 and 3: per network, the least-squares slope of ``log value`` against the layer number over layers
    1..L, times ``L - 1``.  ``(runs, layers)`` with layer 0 the input (excluded) -> ``(runs,)``.

    >>> depth_units(np.array([[1.0, 1.0, 2.0, 4.0]]))   # doubles per layer from layer 1: 4x over the depth
    array([1.38629436])
    """
    y = np.log(np.asarray(values, float)[:, 1:])
    x = np.arange(y.shape[1], dtype=float)
    xc = x - x.mean()
    return (y - y.mean(1, keepdims=True)) @ xc / (xc @ xc) * (x[-1] - x[0])


def petrini_units(test_error: np.ndarray, sqrt_rf: np.ndarray) -> np.ndarray:
    """Rule 4: per network, ``log(test error / (0.2 sqrt(R_f)))``."""
    return np.log(np.asarray(test_error, float) / (PETRINI_SLOPE * np.asarray(sqrt_rf, float)))


# ------------------------------------------------------------------------------------------------ verdicts


def _judge(key: str, claim: str, statistic: str, what: str, units: np.ndarray, runs: int) -> Verdict:
    """The book's verdict (:func:`~defstab_lib.analysis.verdicts.judge`) of rule ``key`` on the networks' log
    effects."""
    return judge(claim=claim, figure="worst-case chapter", statistic=statistic, what=what, units=units,
                 rule=RULES[key], runs=runs, numbers={"unit": "network"})


def worst_exceeds_random(results: Sequence[Results], epoch: int | str = "final") -> Verdict:
    """Rule 1 (see the module docstring) at ``epoch`` (``"final"``: the verdict; ``"init"``: the same statistic
    at initialisation, reported beside it)."""
    w = worst_random(results, epoch)
    return _judge("worst-case", "Worst-case deformations at the paper's budget change a layer far more than random "
                  "deformations of the same size (paper section 6).",
                  f"per network, mean over layers {w['layers']} of log(worst-case / random sensitivity), same 32 "
                  f"images, {'after training' if epoch == 'final' else 'at ' + str(epoch)}",
                  "sensitivity, worst case / random", worst_units(w["worst"], w["random"]), len(w["worst"]))


def _depth(results, key: str, field: str, claim: str) -> Verdict:
    rs = relative_stability(results, "final")
    return _judge(key, claim, f"per network after training, the fitted change of log {field} from layer 1 to the last "
                  f"(least-squares slope over layers x depth)", f"{field}, last layer / first along the fit",
                  depth_units(rs[field]), len(rs[field]))


def noise_rises_with_depth(results: Sequence[Results]) -> Verdict:
    """Rule 2: after training, G rises with depth (Tomasini et al. 2023)."""
    return _depth(results, "noise-depth", "G", "After training, the noise distance G rises with depth "
                                               "(Tomasini et al. 2023).")


def deformation_falls_with_depth(results: Sequence[Results]) -> Verdict:
    """Rule 3: after training, D falls with depth (Tomasini et al. 2023)."""
    return _depth(results, "deformation-depth", "D", "After training, the deformation distance D falls with depth "
                                                     "(Tomasini et al. 2023).")


def petrini_line(results: Sequence[Results]) -> Verdict:
    """Rule 4: test error ~= 0.2 sqrt(R_f) (Petrini et al. 2021), an equivalence test."""
    p = petrini_points(results)
    return _judge("petrini", "Test error is about 0.2 sqrt(R_f), R_f the relative stability of the output to sine-"
                  "mode diffeomorphisms (Petrini et al. 2021).", "per network after training, log(test error / "
                  "(0.2 sqrt(R_f)))", "test error / (0.2 sqrt(R_f))", petrini_units(p["test_error"], p["sqrt_rf"]),
                  len(p["sqrt_rf"]))


def verdicts(results: Sequence[Results]) -> list[Verdict]:
    """The chapter's four verdicts, in the order of the module docstring."""
    return [worst_exceeds_random(results), noise_rises_with_depth(results), deformation_falls_with_depth(results),
            petrini_line(results)]
