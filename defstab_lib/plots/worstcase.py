"""Figures of the chapter "Worst-case deformations and relative stability".  They draw; they compute nothing
beyond means.

- :func:`plot_worst_vs_random`: sensitivity per layer under worst-case and random deformations, per network type;
- :func:`plot_label_flips`: ADef's label-flipping displacement (pixels) per network against its test accuracy;
- :func:`plot_relative_stability`: D, G and R = D / G per layer;
- :func:`plot_petrini`: test error against sqrt(R_f), with Petrini et al.'s line 0.2 sqrt(R_f).

Groups are dicts ``{name: values}`` with the book's colour per downsampling variant
(:data:`defstab_lib.plots.DOWNSAMPLING_COLORS`).

>>> import matplotlib
>>> matplotlib.use("Agg")
>>> ax = plot_worst_vs_random([4, 8, 12], {"maxpool": [[0.5, 0.6, 0.7]]}, {"maxpool": [[0.2, 0.2, 0.3]]})
>>> len(ax.lines)
2
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from . import DOWNSAMPLING_COLORS
from .profiles import LAYER_XLABEL, plot_profiles
from .provenance import draws

__all__ = ["plot_worst_vs_random", "plot_label_flips", "plot_relative_stability", "plot_petrini"]


def _ax(ax):
    return ax if ax is not None else plt.subplots(figsize=(5.0, 3.6))[1]


@draws
def plot_worst_vs_random(layers: Sequence[int], worst: Mapping[str, np.ndarray], random: Mapping[str, np.ndarray],
                         *, ax=None, title: str = "") -> plt.Axes:
    """Mean sensitivity (normalised cosine distance) per layer: worst case (solid, filled markers) and random
    deformations (dashed, open markers) of the same images, one colour per group; dots are single networks.

    Args:
        layers: the layer numbers ``(L,)``.
        worst, random: ``{group: (networks, L)}``.
    """
    ax = _ax(ax)
    x = np.asarray(layers, dtype=float)
    for name, values in worst.items():
        color = DOWNSAMPLING_COLORS.get(name)
        w, r = np.atleast_2d(np.asarray(values, float)), np.atleast_2d(np.asarray(random[name], float))
        ax.plot(x, w.mean(0), "-o", color=color, label=f"{name}: worst case")
        ax.plot(x, r.mean(0), "--o", color=color, markerfacecolor="white", label=f"{name}: random")
        for row in w:
            ax.scatter(x, row, color=color, s=8, alpha=0.5)
    ax.set_yscale("log")
    ax.set_xticks(x)
    ax.set_xlabel(LAYER_XLABEL)
    ax.set_ylabel("normalized cosine distance")
    ax.set_title(title)
    return ax


@draws
def plot_label_flips(rows: Sequence[Mapping], *, ax=None) -> plt.Axes:
    """ADef's smallest label-flipping displacement per network: the median ``||tau||_inf`` (pixels) over its
    flipped images, with the spread of those images (25th-75th percentile), against its test accuracy.

    Args:
        rows: :func:`defstab_lib.analysis.worstcase.label_flips`'s rows (``downsampling``, ``test_accuracy``,
            ``px``).
    """
    ax = _ax(ax)
    seen = set()
    for row in rows:
        px = np.asarray(row["px"], float)
        if px.size == 0:
            continue
        name = row["downsampling"]
        q1, med, q3 = np.percentile(px, [25, 50, 75])
        ax.errorbar(row["test_accuracy"], med, yerr=[[med - q1], [q3 - med]], fmt="o", capsize=3,
                    color=DOWNSAMPLING_COLORS.get(name), label=None if name in seen else name)
        seen.add(name)
    ax.set_xlabel("test accuracy")
    ax.set_ylabel("label-flipping displacement\n$\\|\\tau\\|_\\infty$ (pixels, median)")
    if seen:
        ax.legend(fontsize=9)
    else:
        ax.text(0.5, 0.5, "no label was flipped", transform=ax.transAxes, ha="center")
    return ax


@draws
def plot_relative_stability(groups: Mapping[str, Mapping[str, np.ndarray]], *, axes=None,
                            marks: Sequence[int] = ()) -> np.ndarray:
    """Three panels, D, G and R = D / G per layer (log scale), one line per group with its band over networks.

    Args:
        groups: ``{group: {"D": (networks, L), "G": ..., "R": ...}}``.
        axes: three axes (default: a new row of three).
        marks: layers to mark (the downsampling layers).
    """
    if axes is None:
        # at most 9.3 inches: wider figures, shrunk to the text column, have labels under 10 px (tests/test_site.py)
        _, axes = plt.subplots(1, 3, figsize=(9.3, 3.6))
    labels = {"D": "D: deformation distance", "G": "G: noise distance", "R": "R = D / G"}
    for ax, key in zip(axes, ("D", "G", "R")):
        plot_profiles({name: v[key] for name, v in groups.items()}, ax=ax, marks=marks, title=labels[key],
                      legend_loc=None, logy=True, ylabel=key if key == "R" else f"{key} (normalized cosine)")
    axes[0].legend(fontsize=9)
    return np.asarray(axes)


@draws
def plot_petrini(sqrt_rf: Mapping[str, Sequence[float]], test_error: Mapping[str, Sequence[float]], *,
                 slope: float = 0.2, ax=None) -> plt.Axes:
    """Test error against sqrt(R_f) per network, with the line ``slope * sqrt(R_f)`` (Petrini et al.: 0.2).

    Args:
        sqrt_rf, test_error: ``{group: (networks,)}``.
    """
    ax = _ax(ax)
    for name, x in sqrt_rf.items():
        ax.scatter(x, test_error[name], color=DOWNSAMPLING_COLORS.get(name), label=name, zorder=3)
    xs = np.concatenate([np.asarray(v, float) for v in sqrt_rf.values()])
    grid = np.linspace(0, max(1.0, 1.1 * xs.max()), 50)
    ax.plot(grid, slope * grid, ":", color="black", label=f"Petrini et al.: {slope:g} $\\sqrt{{R_f}}$")
    ax.set_xlabel("$\\sqrt{R_f}$ (sine-mode relative stability at the output)")
    ax.set_ylabel("test error")
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=9)
    return ax
