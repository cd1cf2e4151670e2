"""Training trajectories: a quantity against the epoch, from initialisation through fractions of the first epoch
to the end (protocol 2 measures after 1/8, 1/4 and 1/2 of the first epoch, then at epochs 1, 2, 4, ...).

The x axis is symmetric-log (linear below one epoch, logarithmic above), so that the measurements inside the first
epoch and the late ones are both readable.  One line per group (mean over networks, thin lines for each network),
in the book's colour per downsampling variant.

>>> import matplotlib
>>> matplotlib.use("Agg")
>>> ax = plot_trajectories([0, 0.5, 1, 2], {"maxpool": [[1.0, 0.9, 0.8, 0.7], [1.1, 1.0, 0.8, 0.6]]})
>>> len(ax.lines)
3
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from . import DOWNSAMPLING_COLORS
from .provenance import draws

__all__ = ["plot_trajectories", "plot_loss_trajectories", "EPOCH_XLABEL"]

#: x-axis label of a trajectory.
EPOCH_XLABEL = "epoch (0 = initialisation; symmetric-log axis)"


def _epoch_label(epoch: float) -> str:
    """``"1/8"`` for a fraction of the first epoch, ``"4"`` for a whole epoch.

    >>> _epoch_label(0.125), _epoch_label(4.0)
    ('1/8', '4')
    """
    if 0 < epoch < 1:
        return f"1/{round(1 / epoch)}" if abs(1 / epoch - round(1 / epoch)) < 1e-9 else f"{epoch:g}"
    return f"{epoch:g}"


@draws
def plot_trajectories(epochs: Sequence[float], groups: Mapping[str, np.ndarray], *, ax=None, ylabel: str = "",
                      title: str = "", reference: float | None = None, reference_label: str | None = None
                      ) -> plt.Axes:
    """One line per group: the mean over its networks at each measured epoch, each network thin behind it.

    Args:
        epochs: ``(T,)`` measured epochs (fractions allowed).
        groups: ``{group: (networks, T)}``.
        ax: where to draw (default: a new figure).
        ylabel, title: labels.
        reference: an optional horizontal dotted line (e.g. the filters' TV at initialisation).
        reference_label: its legend entry.
    """
    ax = ax if ax is not None else plt.subplots(figsize=(5.6, 3.6))[1]
    x = np.asarray(epochs, dtype=float)
    for name, values in groups.items():
        v = np.atleast_2d(np.asarray(values, dtype=float))
        if v.shape[1] != x.size:
            raise ValueError(f"group {name!r} has {v.shape[1]} measurements per network, epochs has {x.size}")
        color = DOWNSAMPLING_COLORS.get(name)
        for row in v:
            ax.plot(x, row, color=color, alpha=0.25, linewidth=0.8)
        ax.plot(x, v.mean(0), "-o", color=color, markersize=4, label=name)
    if reference is not None:
        ax.axhline(reference, color="black", linestyle=":", label=reference_label)
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xticks(x)
    ax.set_xticklabels([_epoch_label(e) for e in x], fontsize=8)
    ax.set_xlabel(EPOCH_XLABEL)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=9)
    return ax


@draws
def plot_loss_trajectories(curves: Mapping[str, Sequence[tuple]], *, level: float | None = None,
                           at_level: Mapping[str, Sequence[float | None]] | None = None,
                           reference: float | None = None, cmap: str = "Greens",
                           ylabel: str = "TV(W) / ‖W‖₁, mean over conv layers") -> Figure:
    """A quantity during training against the epoch (left) and against the training loss (right), one colour
    per group (darker for later groups), one thin line per run, the mean over runs bold on the left.

    Args:
        curves: ``{group: [(epochs (m,), training loss (m,) in nats, values (m,)), ...]}``, one triple per run
            (:func:`defstab_lib.analysis.matched.loss_trajectory`); the runs of a group share their epochs.
        level: the matched training loss L*: a dashed vertical line on the right.
        at_level: ``{group: [value at L* or None, one per run]}``: dots on that line
            (:func:`defstab_lib.analysis.matched.trajectories` gives ``curves`` and these together).
        reference: a horizontal dotted line (e.g. the TV of random filters), in both panels.
        cmap, ylabel: colours and the y label.

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> run = (np.array([0, 1, 2.0]), np.array([2.3, 0.4, 0.01]), np.array([1.85, 1.82, 1.81]))
    >>> fig = plot_loss_trajectories({"C = 1": [run], "C = 4": [run]}, level=0.5, at_level={"C = 1": [1.82]})
    >>> [len(ax.lines) for ax in fig.axes]  # left: a run and the mean per group; right: runs, the dot, L*
    [4, 4]
    """
    fig, (left, right) = plt.subplots(1, 2, figsize=(8.4, 3.6), sharey=True)  # 8.4 in: labels stay legible on the page
    colors = plt.get_cmap(cmap)(np.linspace(0.45, 0.95, max(1, len(curves))))
    for color, (name, runs) in zip(colors, curves.items()):
        if not runs:
            continue
        epochs = np.asarray(runs[0][0], dtype=float)
        values = np.array([np.asarray(v, dtype=float) for _, _, v in runs])
        if values.shape[1] != epochs.size:
            raise ValueError(f"group {name!r}: its runs must share their measured epochs")
        for e, loss, v in runs:
            left.plot(e, v, color=color, alpha=0.3, linewidth=0.8)
            right.plot(loss, v, color=color, alpha=0.6, linewidth=1.0)
        points = [p for p in (at_level or {}).get(name, []) if p is not None]
        if level is not None and points:
            right.plot([level] * len(points), points, "o", color=color, markersize=4)
        left.plot(epochs, values.mean(0), "-", color=color, linewidth=2, label=name)
    if reference is not None:
        for ax in (left, right):
            ax.axhline(reference, color="black", linestyle=":", linewidth=1)
    left.set_xscale("symlog", linthresh=1.0)
    left.set_xlim(left=0)
    left.set_xlabel(EPOCH_XLABEL)
    left.set_ylabel(ylabel)
    left.set_title("(a) during training")
    left.legend(fontsize=9)
    right.set_xscale("log")
    right.invert_xaxis()  # training goes left to right: from chance towards zero loss
    right.set_xlabel("training loss (nats, log axis, decreasing →)")
    right.set_title("(b) against the training loss")
    if level is not None:
        right.axvline(level, color="black", linestyle="--", linewidth=1, label=f"matched loss L* = {level:g}")
        right.legend(fontsize=9)
    fig.tight_layout()
    return fig

