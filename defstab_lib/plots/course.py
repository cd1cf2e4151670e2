"""Over the course of training: one quantity's change from initialisation, per layer, for each network.

One panel per network (downsampling variant); in each, one colour per layer (light to dark from the first layer
to the last), every run's trace thin behind the mean over runs.  The y axis is the ratio to the value at
initialisation on a log scale (so that halving and doubling are the same distance from 1); the x axis is
symmetric-log in epochs (linear below one epoch), as :mod:`.trajectories` draws it.

>>> import matplotlib
>>> matplotlib.use("Agg")
>>> rows = [{"seed": s, "network": n, "layer": k, "epoch": e, "ratio": 1.0 + 0.1 * k * e}
...         for s in (0, 1) for n in ("maxpool", "strided") for k in (1, 2) for e in (0, 0.5, 1, 2)]
>>> fig = plot_course(rows, ylabel="D ÷ D at initialisation")
>>> len(fig.axes)
2
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from .provenance import draws
from .trajectories import EPOCH_XLABEL, _epoch_label
from .verdicts import spaced_ticks

__all__ = ["plot_course"]

#: Panels per row: two keep each panel readable on a phone-width page.
COLUMNS = 2
#: Inches per panel (width, height).
PANEL_INCHES = (2.9, 2.3)


@draws
def plot_course(rows: Sequence[Mapping], *, ylabel: str, title: str = "", layer_word: str = "layer") -> Figure:
    """Each network's per-layer trajectories of one quantity.

    Args:
        rows: the long table of :func:`defstab_lib.analysis.course.long_table`: one row per seed, network, layer and
            epoch with keys ``seed``, ``network``, ``layer`` (1-based), ``epoch`` and ``ratio`` (the value ÷ the
            same network's value at initialisation, unitless).
        ylabel: the y axis's label (what ``ratio`` is).
        title: the figure's title.
        layer_word: what a layer is called in the legend (``"layer"``, ``"conv layer"``).

    Raises:
        ValueError: ``rows`` is empty or lacks one of the keys.
    """
    df = pd.DataFrame(list(rows))
    missing = {"seed", "network", "layer", "epoch", "ratio"} - set(df.columns)
    if df.empty or missing:
        raise ValueError(f"rows must be a non-empty long table with keys seed, network, layer, epoch, ratio; "
                         f"missing {sorted(missing) or 'every row'}")
    networks = list(dict.fromkeys(df["network"]))
    layers = sorted(df["layer"].unique())
    palette = dict(zip(layers, sns.color_palette("viridis_r", len(layers))))
    ncols = min(COLUMNS, len(networks))
    nrows = -(-len(networks) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(PANEL_INCHES[0] * ncols, PANEL_INCHES[1] * nrows + 0.9),
                             sharex=True, sharey=True, squeeze=False, layout="constrained")
    epochs = sorted(df["epoch"].unique())
    for ax, name in zip(axes.flat, networks):
        part = df[df["network"] == name]
        sns.lineplot(data=part, x="epoch", y="ratio", hue="layer", units="seed", estimator=None, palette=palette,
                     lw=0.5, alpha=0.35, legend=False, ax=ax)
        sns.lineplot(data=part, x="epoch", y="ratio", hue="layer", estimator="mean", errorbar=None, palette=palette,
                     lw=1.8, legend=False, ax=ax)
        ax.axhline(1.0, color="0.4", lw=0.8, ls=":")
        ax.set_xscale("symlog", linthresh=1.0, linscale=0.8)
        ax.set_yscale("log")
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("")
        ax.set_ylabel("")
        ticks = [e for e in epochs if e == 0 or e >= 1]  # the fractions of the first epoch crowd 0
        ax.set_xticks(ticks, [_epoch_label(e) for e in ticks])
    spare = list(axes.flat[len(networks):])
    for ax in spare:
        ax.axis("off")
    ratios = df["ratio"].to_numpy()
    ticks = spaced_ticks(float(np.nanmin(ratios)) / 1.05, float(np.nanmax(ratios)) * 1.05, 6)
    axes[0, 0].set_yticks(ticks, [f"{t:g}" for t in ticks])
    axes[0, 0].yaxis.set_minor_formatter(plt.NullFormatter())
    fig.supxlabel(EPOCH_XLABEL, fontsize=9)
    fig.supylabel(ylabel, fontsize=9)
    handles = [plt.Line2D([], [], color=palette[k], lw=1.8) for k in layers]
    shown = [i for i, k in enumerate(layers) if len(layers) <= 8 or i in (0, len(layers) // 2, len(layers) - 1)]
    labels = [f"{layer_word} {layers[i]}" for i in shown]
    if spare:  # the legend fills the first empty panel
        spare[0].legend([handles[i] for i in shown], labels, loc="center", ncols=2 if len(shown) > 4 else 1,
                        fontsize=8, frameon=False, title="mean (thick), each run (thin)", title_fontsize=8)
    else:
        fig.legend([handles[i] for i in shown], labels, loc="outside upper center", ncols=min(len(shown), 4),
                   fontsize=8, frameon=False)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig

