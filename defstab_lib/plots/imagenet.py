"""A network trained on ImageNet beside random initialisations of its architecture: per-layer profiles.

>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import numpy as np
>>> fig = plot_imagenet_profiles(["input", "a", "b"], {"D": np.array([0.3, 0.2, 0.1])},
...                              {"recalibrated": {"D": np.full((2, 3), 0.3)}})
>>> len(fig.axes)
1
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from .provenance import draws

__all__ = ["plot_imagenet_profiles", "plot_worst_and_random", "QUANTITY_LABELS"]

#: The y axis of each quantity.
QUANTITY_LABELS = {"D": "sensitivity D", "G": "noise control G", "R": "R = D / G"}
#: One style per set of networks: the trained one black, initialisations by BatchNorm condition.
_STYLE = {"trained": {"color": "black", "lw": 2.2},
          "recalibrated": {"color": "#1f77b4"},
          "as-built": {"color": "#ff7f0e"}}
_WORDS = {"recalibrated": "at init, BatchNorm recalibrated", "as-built": "at init, BatchNorm as built"}


def _check(layers: Sequence[str], trained: Mapping[str, np.ndarray], inits: Mapping[str, Mapping[str, np.ndarray]]):
    n = len(layers)
    if n < 2:
        raise ValueError(f"layers must name at least 2 layers, got {list(layers)!r}")
    for q, v in trained.items():
        if np.shape(v) != (n,):
            raise ValueError(f"trained[{q!r}] must be ({n},), got {np.shape(v)}")
    for c, arrays in inits.items():
        for q, v in arrays.items():
            if np.ndim(v) != 2 or np.shape(v)[1] != n:
                raise ValueError(f"inits[{c!r}][{q!r}] must be (K, {n}), got {np.shape(v)}")


def _ticks(ax, layers: Sequence[str]) -> None:
    step = max(1, len(layers) // 10)
    ax.set_xticks(range(0, len(layers), step))
    ax.set_xticklabels([layers[i] for i in range(0, len(layers), step)], rotation=60, ha="right", fontsize=7)


@draws
def plot_imagenet_profiles(layers: Sequence[str], trained: Mapping[str, np.ndarray],
                           inits: Mapping[str, Mapping[str, np.ndarray]], *, title: str = "",
                           later: int | None = None) -> Figure:
    """One panel per quantity (keys of ``trained``: ``"D"``, ``"G"``, ``"R"``): the trained network's profile
    thick, each random initialisation's thin, one colour per BatchNorm condition, the mean over initialisations
    dashed.

    Args:
        layers: ``L`` layer names (the input first).
        trained: ``{quantity: (L,)}`` (dimensionless).
        inits: ``{condition: {quantity: (K, L)}}`` for the conditions drawn (``"recalibrated"``, ``"as-built"``).
        title: the figure's title.
        later: first layer of the later layers, shaded.

    Raises:
        ValueError: shapes that do not match ``layers``.
    """
    _check(layers, trained, inits)
    quantities = list(trained)
    fig, axes = plt.subplots(1, len(quantities), figsize=(2.8 * len(quantities), 3.2), squeeze=False)
    x = np.arange(len(layers))
    for ax, q in zip(axes.flat, quantities):
        if later is not None:
            ax.axvspan(later - 0.5, len(layers) - 0.5, color="#f0f0f0", zorder=0)
        for c, arrays in inits.items():
            if q not in arrays:
                continue
            values = np.asarray(arrays[q], dtype=float)
            for row in values:
                ax.plot(x, row, color=_STYLE[c]["color"], lw=0.6, alpha=0.35)
            ax.plot(x, values.mean(0), color=_STYLE[c]["color"], lw=1.5, ls="--", label=_WORDS[c])
        ax.plot(x, trained[q], marker="o", ms=3, label="trained", **_STYLE["trained"])
        ax.set_ylabel(QUANTITY_LABELS.get(q, q))
        ax.set_ylim(bottom=0)
        _ticks(ax, layers)
    axes.flat[0].legend(fontsize=7, loc="best")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


@draws
def plot_worst_and_random(layers: Sequence[str], trained: Mapping[str, np.ndarray],
                          inits: Mapping[str, np.ndarray], *, title: str = "", later: int | None = None) -> Figure:
    """Sensitivity to the random and to the worst-case deformation at the same budget, per layer: the trained
    network (black) and the random initialisations (blue: mean and every one thin), random solid, worst case dashed.

    Args:
        layers: ``L`` layer names.
        trained: ``{"random": (L,), "worst": (L,)}`` D of the trained network.
        inits: ``{"random": (K, L), "worst": (K, L)}`` D of the initialisations.
        title, later: as :func:`plot_imagenet_profiles`.
    """
    if set(trained) != {"random", "worst"} or set(inits) != {"random", "worst"}:
        raise ValueError(f"trained and inits must have the keys 'random' and 'worst', got {sorted(trained)} and "
                         f"{sorted(inits)}")
    _check(layers, trained, {"recalibrated": inits})
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    x = np.arange(len(layers))
    if later is not None:
        ax.axvspan(later - 0.5, len(layers) - 0.5, color="#f0f0f0", zorder=0)
    for kind, ls in (("random", "-"), ("worst", "--")):
        values = np.asarray(inits[kind], dtype=float)
        for row in values:
            ax.plot(x, row, color=_STYLE["recalibrated"]["color"], lw=0.5, alpha=0.3, ls=ls)
        ax.plot(x, values.mean(0), color=_STYLE["recalibrated"]["color"], lw=1.5, ls=ls,
                label=f"at init (recalibrated), {kind}")
        ax.plot(x, trained[kind], ls=ls, marker="o", ms=3, label=f"trained, {kind}", **_STYLE["trained"])
    ax.set_ylabel("sensitivity D")
    ax.set_ylim(bottom=0)
    _ticks(ax, layers)
    ax.legend(fontsize=7, loc="best")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig
