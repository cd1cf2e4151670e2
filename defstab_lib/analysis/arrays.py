"""Stored results as arrays: grouping runs, per-layer profiles, and summaries of spread.

Conventions: a *profile* is an array ``(runs, layers)``; layer 0 (the input) is excluded from every summary over
layers, since it is the same for every network.  Sensitivities are the paper's normalized cosine distance;
smoothness is the normalized total variation of the filters (lower = smoother).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from scipy.stats import spearmanr

from ..runs.store import Results

__all__ = ["group_by", "profile_array", "profiles", "spearman", "between_spread", "by_seed"]


def group_by(results: Iterable[Results], key: Callable[[Results], Any] | str = "downsampling",
             order: Sequence | None = None) -> dict[Any, list[Results]]:
    """Results grouped by ``key`` (``"downsampling"``, ``"strength"``, ``"seed"`` or a function), in ``order`` if
    given."""
    if key == "downsampling":
        key = lambda r: r.config.arch.downsampling  # noqa: E731
    elif key == "strength":
        key = lambda r: r.config.data.strength  # noqa: E731
    elif key == "seed":
        key = lambda r: r.config.seed  # noqa: E731
    groups: dict[Any, list[Results]] = {}
    for r in results:
        groups.setdefault(key(r), []).append(r)
    if order is not None:
        groups = {k: groups[k] for k in order if k in groups}
    return groups


def by_seed(results: Iterable[Results], key: Callable[[Results], Any] | str = "downsampling") -> dict[Any, dict]:
    """``{seed: {key(run): run}}``: the runs that share an initialisation, by ``key`` (as :func:`group_by`)."""
    out: dict[Any, dict] = {}
    for seed, runs in sorted(group_by(results, "seed").items()):
        inner = group_by(runs, key)
        out[seed] = {k: v[0] for k, v in inner.items()}
    return out


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
