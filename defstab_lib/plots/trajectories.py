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

from . import DOWNSAMPLING_COLORS

__all__ = ["plot_trajectories", "EPOCH_XLABEL"]

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
