"""The length pilots of the ``standard`` profile: each quantity the length rule compares, over training, one line
per training length (:mod:`defstab_lib.analysis.length`).

>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import numpy as np
>>> t = {"subsample": {8: {"test accuracy": (np.array([0, 1, 8.0]), np.array([0.1, 0.8, 0.9]))}}}
>>> fig = plot_length_pilots(t)
>>> len(fig.axes)
1
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np

from .provenance import draws

__all__ = ["plot_length_pilots"]


@draws
def plot_length_pilots(trajectories: Mapping[str, Mapping[int, Mapping[str, tuple[np.ndarray, np.ndarray]]]],
                       *, chosen: int | None = None) -> plt.Figure:
    """One column per network, one row per quantity; in each panel one line per training length L (each run a
    full cosine schedule of L epochs), darker for longer, the chosen length drawn thicker.

    Args:
        trajectories: ``{network: {L: {quantity: (epochs (T,), values (T,))}}}``
            (:func:`defstab_lib.analysis.length.trajectories`).
        chosen: the length the rule chose, or ``None``.
    """
    networks = list(trajectories)
    quantities = list(dict.fromkeys(q for per in trajectories.values() for run in per.values() for q in run))
    lengths = sorted({L for per in trajectories.values() for L in per})
    shades = plt.get_cmap("viridis")(np.linspace(0.15, 0.85, max(len(lengths), 1)))
    fig, axes = plt.subplots(len(quantities), len(networks), figsize=(4.0 * len(networks), 2.6 * len(quantities)),
                             squeeze=False, sharex=True)
    for j, net in enumerate(networks):
        for i, q in enumerate(quantities):
            ax = axes[i, j]
            for L, color in zip(lengths, shades):
                if L not in trajectories[net] or q not in trajectories[net][L]:
                    continue
                epochs, values = trajectories[net][L][q]
                ax.plot(epochs, values, "-o", color=color, markersize=3, linewidth=2.6 if L == chosen else 1.2,
                        label=f"{L} epochs" + (" (chosen)" if L == chosen else ""))
            ax.set_xscale("symlog", linthresh=1.0)
            ax.set_title(net if i == 0 else "")
            ax.set_ylabel(q if j == 0 else "")
            ax.set_xlabel("epoch (symlog)" if i == len(quantities) - 1 else "")
            if i == 0 and j == 0:
                ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
