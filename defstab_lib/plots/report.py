"""Small multiples for the reproduction report: one panel of evidence per claim."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["Series", "Panel", "small_multiples"]


@dataclasses.dataclass
class Series:
    """One series of a panel: ``y`` against ``x`` drawn as ``"line"`` or ``"points"``."""

    x: Sequence[float]
    y: Sequence[float]
    kind: str = "line"
    color: str | None = None
    linestyle: str = "-"

    def __post_init__(self) -> None:
        if self.kind not in ("line", "points"):
            raise ValueError(f"kind must be 'line' or 'points', got {self.kind!r}")
        if len(self.x) != len(self.y):
            raise ValueError(f"x and y must have the same length, got {len(self.x)} and {len(self.y)}")


@dataclasses.dataclass
class Panel:
    """One panel: a title (the claim), axis labels, and named series."""

    title: str
    xlabel: str
    ylabel: str
    series: Mapping[str, Series]
    xticks: Sequence[float] | None = None
    xticklabels: Sequence[str] | None = None


def small_multiples(panels: Sequence[Panel], *, columns: int = 3, panel_inches: tuple[float, float] = (3.9, 3.0)):
    """A grid of panels; each series labelled in its panel's legend.  Returns the ``Figure``.

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> fig = small_multiples([Panel("a", "x", "y", {"s": Series([0, 1], [1, 2])})])
    >>> len(fig.axes)
    1
    """
    import matplotlib.pyplot as plt

    if not panels:
        raise ValueError("panels must not be empty")
    rows = int(np.ceil(len(panels) / columns))
    cols = min(columns, len(panels))
    fig, axes = plt.subplots(rows, cols, figsize=(panel_inches[0] * cols, panel_inches[1] * rows), squeeze=False)
    for ax, panel in zip(axes.flat, panels):
        for label, s in panel.series.items():
            if s.kind == "line":
                ax.plot(s.x, s.y, marker="o", markersize=3, label=label, color=s.color, linestyle=s.linestyle)
            else:
                ax.scatter(s.x, s.y, s=16, label=label, color=s.color, alpha=0.8)
        ax.set_title(panel.title, fontsize=10)
        ax.set_xlabel(panel.xlabel, fontsize=9)
        ax.set_ylabel(panel.ylabel, fontsize=9)
        if panel.xticks is not None:
            ax.set_xticks(panel.xticks)
            if panel.xticklabels is not None:
                ax.set_xticklabels(panel.xticklabels, fontsize=8, rotation=30, ha="right")
        ax.tick_params(labelsize=8)
        if len(panel.series) > 1:
            ax.legend(fontsize=7.5, frameon=False)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig
