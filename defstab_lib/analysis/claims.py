"""From stored results to the statistics and verdicts the book states.

The chapters and the reproduction report state each of the paper's claims, then a number computed from the
runs and a verdict -- *supported*, *not supported* or *inconclusive* -- by a rule fixed in advance and written
here, next to the statistic.  The rules are deliberately simple and are printed with every verdict; with two or
three seeds per setting the data cannot carry fine statistics, and the report says how many runs each verdict
rests on.

Conventions: a *profile* is an array ``(runs, layers)``; layer 0 (the input) is excluded from every summary over
layers, since it is the same for every network.  Sensitivities are the paper's normalized cosine distance;
smoothness is the normalized total variation of the filters (lower = smoother).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from ..runs.store import Results
from ..vocabulary import POOLED, UNPOOLED

__all__ = [
    "SUPPORTED", "NOT_SUPPORTED", "INCONCLUSIVE",
    "Verdict",
    "group_by",
    "profile_array",
    "profiles",
    "spearman",
    "between_spread",
    "pooling_at_init",
    "training_changes_pattern",
    "convergence_after_training",
    "smoothing_stabilises",
    "stronger_tasks_smoother",
    "training_smooths",
    "random_labels_depend_on_architecture",
    "accuracy_rows",
    "compute_note",
]

SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE = "supported", "not supported", "inconclusive"


@dataclasses.dataclass
class Verdict:
    """One claim, the statistic that tests it, its value and the verdict.

    Attributes:
        claim: the paper's claim in our words.
        statistic: what was computed (and over what).
        value: the statistic's value, as text with its unit.
        rule: the rule that turns the value into the verdict.
        verdict: :data:`SUPPORTED`, :data:`NOT_SUPPORTED` or :data:`INCONCLUSIVE`.
        runs: how many runs (or networks) it rests on.
        numbers: the underlying numbers, for glue and tables.
    """

    claim: str
    statistic: str
    value: str
    rule: str
    verdict: str
    runs: int
    numbers: dict[str, Any] = dataclasses.field(default_factory=dict)


# ------------------------------------------------------------------------------------------------ arrays


def group_by(results: Iterable[Results], key: Callable[[Results], Any] | str = "downsampling",
             order: Sequence | None = None) -> dict[Any, list[Results]]:
    """Results grouped by ``key`` (``"downsampling"``, ``"strength"`` or a function), in ``order`` if given."""
    if key == "downsampling":
        key = lambda r: r.config.arch.downsampling  # noqa: E731
    elif key == "strength":
        key = lambda r: r.config.data.strength  # noqa: E731
    groups: dict[Any, list[Results]] = {}
    for r in results:
        groups.setdefault(key(r), []).append(r)
    if order is not None:
        groups = {k: groups[k] for k in order if k in groups}
    return groups


def profile_array(results: Sequence[Results], field: str = "cosine", epoch: int | str = "final") -> np.ndarray:
    """``(runs, layers)`` values of a per-layer ``field`` of each run's measurement at ``epoch``.

    ``field`` is a :class:`~defstab_lib.runs.store.Measurement` attribute: ``cosine``, ``euclidean``,
    ``noise_cosine``, ``noise_ratio`` or ``smoothness``.
    """
    if not results:
        raise ValueError("no results to stack")
    return np.array([getattr(r.at(epoch), field) for r in results], dtype=float)


def profiles(groups: Mapping[Any, Sequence[Results]], field: str = "cosine",
             epoch: int | str = "final") -> dict[Any, np.ndarray]:
    """``{group: (runs, layers)}`` for :func:`defstab_lib.plots.profiles.plot_profiles`."""
    return {k: profile_array(v, field, epoch) for k, v in groups.items()}


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rank correlation (ties get average ranks).

    >>> round(spearman([1, 2, 3, 4], [10, 9, 7, 1]), 3)
    -1.0
    """
    from scipy.stats import spearmanr

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.size < 3 or np.all(x == x[0]) or np.all(y == y[0]):
        return float("nan")
    return float(spearmanr(x, y).statistic)


def between_spread(profiles_by_group: Mapping[Any, np.ndarray], *, relative: bool = True) -> np.ndarray:
    """Per layer, how much the groups' mean profiles differ: the standard deviation across groups of the
    per-group means, divided by their mean when ``relative`` (a coefficient of variation, so that a change of the
    overall level is not read as convergence).  Returns ``(layers,)``."""
    means = np.array([p.mean(axis=0) for p in profiles_by_group.values()])  # (groups, layers)
    spread = means.std(axis=0, ddof=0)
    return spread / np.abs(means.mean(axis=0)) if relative else spread


def _within_spread(profiles_by_group: Mapping[Any, np.ndarray]) -> np.ndarray:
    """Per layer, the pooled standard deviation over seeds within groups, relative to the overall mean."""
    variances = [p.var(axis=0, ddof=1) for p in profiles_by_group.values() if p.shape[0] > 1]
    if not variances:
        return np.full(next(iter(profiles_by_group.values())).shape[1], np.nan)
    means = np.array([p.mean(axis=0) for p in profiles_by_group.values()])
    return np.sqrt(np.mean(variances, axis=0)) / np.abs(means.mean(axis=0))


def _n(groups: Mapping[Any, Sequence]) -> int:
    return sum(len(v) for v in groups.values())


# ------------------------------------------------------------------------------------------------ claims


def pooling_at_init(results: Sequence[Results]) -> Verdict:
    """Claim 1 (Figure 3a/c): pooling confers stability at initialisation.

    Statistic: each network's mean sensitivity over layers 1..L at initialisation, for networks with pooling
    (maxpool, avgpool) against those without (subsample, strided, strided-relu).  Rule: supported when every
    network with pooling is below every network without (complete separation); not supported when the mean with
    pooling is not below the mean without; inconclusive otherwise.
    """
    groups = group_by(results)
    pooled = [profile_array(groups[k], epoch="init")[:, 1:].mean(1) for k in POOLED if k in groups]
    unpooled = [profile_array(groups[k], epoch="init")[:, 1:].mean(1) for k in UNPOOLED if k in groups]
    if not pooled or not unpooled:
        raise ValueError("claim 1 needs networks with and without pooling")
    p, u = np.concatenate(pooled), np.concatenate(unpooled)
    ratio = p.mean() / u.mean()
    separated = p.max() < u.min()
    verdict = SUPPORTED if separated else (NOT_SUPPORTED if p.mean() >= u.mean() else INCONCLUSIVE)
    return Verdict(
        claim="Pooling confers stability to deformation at initialisation (Figure 3a/c).",
        statistic="mean normalized cosine distance over layers 1..L at initialisation: with pooling / without",
        value=f"{ratio:.2f} ({p.mean():.3f} / {u.mean():.3f}); {'complete' if separated else 'no complete'} "
              f"separation of the {p.size} + {u.size} networks",
        rule="supported if every network with pooling is below every one without; not supported if the mean with "
             "pooling is not lower; otherwise inconclusive",
        verdict=verdict, runs=p.size + u.size,
        numbers={"ratio": float(ratio), "pooled": float(p.mean()), "unpooled": float(u.mean()),
                 "separated": bool(separated)},
    )


_CLAIM_2 = ("Training changes the pattern of stability across layers, and in some layers sensitivity increases "
            "(section 3.2).")


def training_changes_pattern(results: Sequence[Results]) -> Verdict:
    """Claim 2 (section 3.2): training changes the pattern of stability, and in some layers increases
    sensitivity.

    Statistic: per architecture and layer 1..L, the change of the mean sensitivity over seeds from initialisation
    to the end, in units of its standard error (seeds' standard deviations at both ends, pooled).  A change is
    *clear* when it exceeds 2 standard errors.  Rule: supported when every architecture has a clear change in some
    layer and at least one clear increase exists; not supported when no clear increase exists; inconclusive when
    some architecture shows no clear change.
    """
    groups = group_by(results)
    if min(len(v) for v in groups.values()) < 2:
        return Verdict(
            claim=_CLAIM_2,
            statistic="per architecture and layer: change of mean sensitivity, in standard errors over seeds",
            value="not computed: it needs at least 2 seeds per architecture",
            rule="a change is clear only against the spread between seeds", verdict=INCONCLUSIVE, runs=_n(groups),
            numbers={"increases": 0, "decreases": 0, "cells": 0, "per_architecture": {}},
        )
    increases, decreases, per_arch = 0, 0, {}
    for name, runs in groups.items():
        init, final = profile_array(runs, epoch="init")[:, 1:], profile_array(runs, epoch="final")[:, 1:]
        delta = final.mean(0) - init.mean(0)
        n = init.shape[0]
        se = np.sqrt((init.var(0, ddof=1) + final.var(0, ddof=1)) / n) if n > 1 else np.full_like(delta, np.nan)
        clear = np.abs(delta) > 2 * se
        per_arch[name] = {"increase": int((clear & (delta > 0)).sum()), "decrease": int((clear & (delta < 0)).sum()),
                          "layers": int(delta.size)}
        increases += per_arch[name]["increase"]
        decreases += per_arch[name]["decrease"]
    all_changed = all(v["increase"] + v["decrease"] > 0 for v in per_arch.values())
    verdict = NOT_SUPPORTED if increases == 0 else (SUPPORTED if all_changed else INCONCLUSIVE)
    cells = sum(v["layers"] for v in per_arch.values())
    return Verdict(
        claim=_CLAIM_2,
        statistic="per architecture and layer: change of mean sensitivity from initialisation to the end, "
                  "clear when larger than 2 standard errors over seeds",
        value=f"{increases} clear increases and {decreases} clear decreases among {cells} (architecture, layer) "
              f"cells",
        rule="supported if every architecture changes clearly somewhere and some layer clearly increases; not "
             "supported if no layer clearly increases; otherwise inconclusive",
        verdict=verdict, runs=_n(groups),
        numbers={"increases": increases, "decreases": decreases, "cells": cells, "per_architecture": per_arch},
    )


def convergence_after_training(results: Sequence[Results]) -> Verdict:
    """Claim 3 (Figure 3b/d): after training, networks with and without pooling have similar patterns.

    Statistic: the relative spread between architectures (:func:`between_spread`: coefficient of variation across
    the architectures' mean profiles), averaged over layers 1..L, at the end divided by at initialisation.  Rule:
    supported below 0.5 (the differences between architectures at least halve); not supported at 1 or above;
    inconclusive in between.
    """
    groups = group_by(results)
    if len(groups) < 2:
        raise ValueError("claim 3 needs at least two architectures")
    init = between_spread(profiles(groups, epoch="init"))[1:]
    final = between_spread(profiles(groups, epoch="final"))[1:]
    within = _within_spread(profiles(groups, epoch="final"))[1:]
    ratio = final.mean() / init.mean()
    verdict = SUPPORTED if ratio < 0.5 else (NOT_SUPPORTED if ratio >= 1 else INCONCLUSIVE)
    return Verdict(
        claim="After training, networks with and without pooling converge to similar patterns of stability "
              "(Figure 3b/d).",
        statistic="relative spread between architectures (coefficient of variation of their mean profiles, mean "
                  "over layers 1..L): after training / at initialisation",
        value=f"{ratio:.2f} ({final.mean():.3f} / {init.mean():.3f}"
              + (f"; spread between seeds after training {np.nanmean(within):.3f}" if np.isfinite(within).any()
                 else "") + f"); smaller after training in {int((final < init).sum())} of {init.size} layers",
        rule="supported if below 0.5; not supported if 1 or above; otherwise inconclusive",
        verdict=verdict, runs=_n(groups),
        numbers={"ratio": float(ratio), "init": float(init.mean()), "final": float(final.mean()),
                 "within": float(np.nanmean(within)), "layers_shrunk": int((final < init).sum()),
                 "layers": int(init.size)},
    )


def smoothing_stabilises(sigmas: Sequence[float], sensitivity: np.ndarray) -> Verdict:
    """Claim 4 (Figure 4): smoother filters at initialisation give more stable representations.

    Args:
        sigmas: the smoothing σ of each network, ``(networks,)``.
        sensitivity: their profiles ``(networks, layers)`` at initialisation.

    Statistic: Spearman's rank correlation between σ and the mean sensitivity over layers 1..L, over all
    networks.  Rule: supported at -0.7 or below; not supported at 0 or above; inconclusive in between.
    """
    sensitivity = np.asarray(sensitivity, dtype=float)
    mean = sensitivity[:, 1:].mean(1)
    rho = spearman(sigmas, mean)
    verdict = SUPPORTED if rho <= -0.7 else (NOT_SUPPORTED if not rho < 0 else INCONCLUSIVE)
    sig = np.asarray(sigmas, dtype=float)
    low, high = mean[sig == sig.min()].mean(), mean[sig == sig.max()].mean()
    return Verdict(
        claim="Smoother filters at initialisation give representations more stable to deformation (Figure 4).",
        statistic="Spearman correlation between the smoothing σ and the mean sensitivity over layers 1..L",
        value=f"ρ = {rho:.2f}; mean sensitivity {low:.3f} at σ = {sig.min():g} and {high:.3f} at σ = {sig.max():g}",
        rule="supported if ρ ≤ -0.7; not supported if ρ ≥ 0; otherwise inconclusive",
        verdict=verdict, runs=int(sig.size),
        numbers={"rho": rho, "low": float(low), "high": float(high)},
    )


def stronger_tasks_smoother(results: Sequence[Results]) -> Verdict:
    """Claim 5 (Figure 5): tasks that require stronger deformation stability learn smoother filters.

    Statistic: Spearman's rank correlation between the deformation strength C of the synthetic task and the
    mean normalized total variation over conv layers after training, over all runs.  Rule: supported at -0.7 or
    below; not supported at 0 or above; inconclusive in between.
    """
    strengths = [r.config.data.strength for r in results]
    tv = profile_array(results, "smoothness", "final").mean(1)
    rho = spearman(strengths, tv)
    verdict = SUPPORTED if rho <= -0.7 else (NOT_SUPPORTED if not rho < 0 else INCONCLUSIVE)
    groups = group_by(results, "strength")
    per_c = {float(c): float(profile_array(v, "smoothness", "final").mean()) for c, v in sorted(groups.items())}
    return Verdict(
        claim="Tasks that require stronger deformation stability learn smoother filters (Figure 5).",
        statistic="Spearman correlation between the task's deformation strength C and the mean normalized total "
                  "variation of the trained filters",
        value=f"ρ = {rho:.2f}; mean TV/‖W‖₁ " + ", ".join(f"{v:.3f} at C = {c:g}" for c, v in per_c.items()),
        rule="supported if ρ ≤ -0.7; not supported if ρ ≥ 0; otherwise inconclusive",
        verdict=verdict, runs=len(results),
        numbers={"rho": rho, "per_strength": per_c},
    )


def training_smooths(results: Sequence[Results]) -> Verdict:
    """Claim 6 (Figure 6a/b): training makes filters smoother than at initialisation.

    Statistic: per architecture and conv layer, the mean normalized total variation over seeds after training
    against at initialisation; the share of (architecture, layer) cells that became smoother, and the mean ratio.
    Rule: supported when at least 75% of cells became smoother and every architecture's mean over layers fell;
    not supported when at most half of the cells became smoother; inconclusive otherwise.
    """
    groups = group_by(results)
    smoother, cells, arch_fell, ratios = 0, 0, [], []
    for runs in groups.values():
        init = profile_array(runs, "smoothness", "init").mean(0)
        final = profile_array(runs, "smoothness", "final").mean(0)
        smoother += int((final < init).sum())
        cells += init.size
        arch_fell.append(bool(final.mean() < init.mean()))
        ratios.append(final / init)
    share = smoother / cells
    ratio = float(np.mean(np.concatenate(ratios)))
    verdict = SUPPORTED if share >= 0.75 and all(arch_fell) else (NOT_SUPPORTED if share <= 0.5 else INCONCLUSIVE)
    return Verdict(
        claim="Training makes filters smoother than at initialisation (Figure 6a/b).",
        statistic="per (architecture, conv layer): mean normalized total variation after training vs at "
                  "initialisation",
        value=f"smoother in {smoother} of {cells} cells ({100 * share:.0f}%); mean ratio after/before "
              f"{ratio:.2f}; architectures whose mean fell: {sum(arch_fell)} of {len(arch_fell)}",
        rule="supported if ≥ 75% of cells became smoother and every architecture's mean fell; not supported if "
             "≤ 50%; otherwise inconclusive",
        verdict=verdict, runs=_n(groups),
        numbers={"share": share, "ratio": ratio, "smoother": smoother, "cells": cells,
                 "architectures_fell": sum(arch_fell), "architectures": len(arch_fell)},
    )


def random_labels_depend_on_architecture(random: Sequence[Results], real: Sequence[Results]) -> Verdict:
    """Claim 7 (Figures 6c and 7): with random labels, the pattern of stability depends on the architecture
    (more than with real labels), and does not vary much with the seed.

    Statistic: after training, the relative spread between architectures (mean over layers 1..L of
    :func:`between_spread`) with random labels divided by the same with real labels; and, with random labels, the
    spread between architectures over the spread between seeds.  Rule: supported when the first ratio is above
    1.5 and the second above 2; not supported when the first is at most 1; inconclusive otherwise.
    """
    g_random, g_real = group_by(random), group_by(real)
    spread_random = between_spread(profiles(g_random))[1:].mean()
    spread_real = between_spread(profiles(g_real))[1:].mean()
    within = np.nanmean(_within_spread(profiles(g_random))[1:])
    ratio = spread_random / spread_real
    seed_ratio = spread_random / within if np.isfinite(within) and within > 0 else float("nan")
    tv_random = between_spread(profiles(g_random, "smoothness"))[0:].mean()
    tv_real = between_spread(profiles(g_real, "smoothness"))[0:].mean()
    verdict = SUPPORTED if ratio > 1.5 and seed_ratio > 2 else (NOT_SUPPORTED if ratio <= 1 else INCONCLUSIVE)
    return Verdict(
        claim="With random labels, the pattern of stability (and smoothness) depends on the architecture, and "
              "little on the seed (Figures 6c, 7).",
        statistic="relative spread between architectures after training, random / real labels; and with random "
                  "labels, spread between architectures / spread between seeds",
        value=f"{ratio:.2f} ({spread_random:.3f} / {spread_real:.3f}); between/within seeds "
              + (f"{seed_ratio:.1f}" if np.isfinite(seed_ratio) else "not computed (needs 2 seeds)") + "; "
              f"for filter smoothness the spread ratio is {tv_random / tv_real:.2f}",
        rule="supported if the first ratio > 1.5 and the second > 2; not supported if the first ≤ 1; otherwise "
             "inconclusive",
        verdict=verdict, runs=_n(g_random) + _n(g_real),
        numbers={"ratio": float(ratio), "spread_random": float(spread_random), "spread_real": float(spread_real),
                 "seed_ratio": float(seed_ratio), "tv_ratio": float(tv_random / tv_real)},
    )


# ------------------------------------------------------------------------------------------------ tables


def accuracy_rows(groups: Mapping[Any, Sequence[Results]]) -> list[dict[str, str]]:
    """One row per group: runs, final train and test accuracy (mean ± standard deviation over seeds)."""
    rows = []
    for name, runs in groups.items():
        train = np.array([r.final.train_accuracy for r in runs])
        test = np.array([r.final.test_accuracy for r in runs])
        sd = (lambda a: f" ± {a.std(ddof=1):.3f}" if a.size > 1 else "")  # noqa: E731
        rows.append({"network": str(name), "runs": str(len(runs)),
                     "train accuracy": f"{train.mean():.3f}{sd(train)}", "test accuracy": f"{test.mean():.3f}{sd(test)}"})
    return rows


def compute_note(results: Sequence[Results], trained_now: int = 0) -> str:
    """One sentence on where and how long the results took to compute, and whether this render trained any.

    >>> compute_note([])
    'no runs'
    """
    if not results:
        return "no runs"
    seconds = sum(float(r.provenance.get("wall_time_s", 0.0)) for r in results)
    devices = sorted({str(r.provenance.get("device_name", "unknown device")) for r in results})
    dates = sorted(str(r.provenance.get("date", ""))[:10] for r in results)
    when = dates[0] if dates[0] == dates[-1] else f"{dates[0]} to {dates[-1]}"
    trained = (f"{trained_now} of them were trained while rendering this page" if trained_now
               else "all were loaded from the results store")
    return (f"{len(results)} runs, {seconds / 60:.1f} min of training and measuring in total on "
            f"{' and '.join(devices)} ({when}); {trained}")
