"""The figure of the chapter "What teaches stability?": one factor of the ablation, level by level.  It draws what
:func:`defstab_lib.analysis.ablation.factor_arrays` returns and computes nothing beyond means.

One row per network (without pooling, with pooling), three panels each: the per-layer sensitivity after training
(one line per level, ±2 standard deviations over seeds, the initialisation dashed), the filter roughness per level
(one dot per seed, the mean as a bar, the initialisation dotted) and the later-layer sensitivity over training.
Levels are shaded from light (less of the factor) to dark (more), the same in every panel.

>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import numpy as np
>>> net = {"profiles": {"none": np.full((2, 13), 0.3), "flip-crop": np.full((2, 13), 0.2)},
...        "init": np.full((2, 13), 0.25), "tv": {"none": np.ones(2), "flip-crop": np.ones(2)}, "tv_init": np.ones(2),
...        "trajectories": {"none": (np.array([0, 1]), np.ones((2, 2))), "flip-crop": (np.array([0, 1]), np.ones((2, 2)))}}
>>> fig = plot_factor({"levels": ["none", "flip-crop"], "networks": {"subsample": net, "maxpool": net}})
>>> len(fig.axes)
6
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from .profiles import LAYER_XLABEL, plot_profile, shade_colors, shared_legend
from .provenance import draws
from .trajectories import EPOCH_XLABEL, _epoch_label

__all__ = ["plot_factor", "NETWORK_NAMES"]

#: How a row names its network.
NETWORK_NAMES = {"subsample": "subsample (no pooling)", "maxpool": "max-pool", "avgpool": "average-pool",
                 "strided": "strided convolution", "strided-relu": "strided convolution + ReLU"}
_INIT = {"color": "0.45", "linestyle": "--", "marker": "", "linewidth": 1.4}


@draws
def plot_factor(arrays: Mapping[str, Any], *, title: str = "", cmap: str = "Purples", figsize=(9.2, 6.4)):
    """One factor: a row per network of (a) sensitivity per layer after training, (b) filter TV per level and
    (c) later-layer sensitivity against the epoch, one colour per level.

    Args:
        arrays: :func:`defstab_lib.analysis.ablation.factor_arrays`' mapping: ``levels`` (labels, less of the
            factor first) and per network ``profiles`` ``{label: (seeds, layers)}``, ``init`` ``(seeds, layers)``,
            ``tv`` ``{label: (seeds,)}``, ``tv_init`` ``(seeds,)``, ``trajectories`` ``{label: (epochs (T,),
            (seeds, T))}``.
        title: the figure's title.
        cmap: the sequential colour map of the levels.

    Returns:
        the ``Figure`` (a legend of the levels under it).
    """
    labels = list(arrays["levels"])
    networks = dict(arrays["networks"])
    if not labels or not networks:
        raise ValueError("arrays must hold at least one level and one network")
    colors = dict(zip(labels, shade_colors(range(len(labels)), cmap, light=0.45)))
    fig, axes = plt.subplots(len(networks), 3, figsize=figsize, squeeze=False,
                             gridspec_kw={"width_ratios": [1.25, 0.75, 1.1]})
    for row, (net, a) in zip(axes, networks.items()):
        name = NETWORK_NAMES.get(net, net)
        _profiles(row[0], a, colors, name)
        _tv(row[1], a, colors)
        _trajectories(row[2], a, colors)
    for ax in axes[:-1].flat:
        ax.set_xlabel("")
    if title:
        fig.suptitle(title, y=1.0)
    fig.tight_layout()
    shared_legend(fig, axes[0, 0], ncol=min(len(labels) + 1, 4))
    return fig


def _profiles(ax, a: Mapping[str, Any], colors: Mapping[str, Any], name: str) -> None:
    for label, values in a["profiles"].items():
        plot_profile(ax, values, label=label, color=colors[label], markersize=3)
    plot_profile(ax, a["init"], label="initialisation", band_alpha=0.0, **_INIT)
    ax.set_xticks(range(0, np.shape(a["init"])[1], 2))
    ax.set_xlabel(LAYER_XLABEL)
    ax.set_ylabel("normalized cosine distance")
    ax.set_title(f"{name}: after training", fontsize=10, loc="left")


def _tv(ax, a: Mapping[str, Any], colors: Mapping[str, Any]) -> None:
    labels = list(a["tv"])
    for i, label in enumerate(labels):
        values = np.asarray(a["tv"][label], dtype=float)
        offsets = np.linspace(-0.12, 0.12, values.size) if values.size > 1 else np.zeros(1)
        ax.plot(i + offsets, values, "o", color=colors[label], markersize=4, alpha=0.8)
        ax.plot([i - 0.25, i + 0.25], [values.mean()] * 2, color=colors[label], linewidth=2.5)
    ax.axhline(float(np.mean(a["tv_init"])), color="0.45", linestyle=":", linewidth=1.4)
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels([textwrap.fill(label, 10) for label in labels], fontsize=8)
    ax.set_xlim(-0.6, len(labels) - 0.4)
    ax.set_ylabel("filter TV / $\\|W\\|_1$ (conv mean)", fontsize=9)
    ax.set_title("filters after training", fontsize=10, loc="left")


def _trajectories(ax, a: Mapping[str, Any], colors: Mapping[str, Any]) -> None:
    ticks: set[float] = set()
    for label, (epochs, values) in a["trajectories"].items():
        x, v = np.asarray(epochs, dtype=float), np.atleast_2d(np.asarray(values, dtype=float))
        for run in v:
            ax.plot(x, run, color=colors[label], alpha=0.25, linewidth=0.8)
        ax.plot(x, v.mean(0), "-o", color=colors[label], markersize=3.5)
        ticks.update(x.tolist())
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xticks(sorted(ticks))
    ax.set_xticklabels([_epoch_label(e) for e in sorted(ticks)], fontsize=8)
    ax.set_xlabel(EPOCH_XLABEL.split(";")[0] + ")", fontsize=9)
    ax.set_ylabel("sensitivity, layers 7-12", fontsize=9)
    ax.set_title("over training", fontsize=10, loc="left")
