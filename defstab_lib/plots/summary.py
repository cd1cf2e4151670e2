"""Every claim's verdict in one figure: the book's answer at a glance.

One row per claim (the headline first): the pre-registered effect as a dot with its 95% confidence interval, on a
log axis of ratios, coloured by the verdict; the band of no meaningful effect (within the claim's minimal effect of
1×) shaded on each row; the paper's direction written under the claim.  Claims whose effects are ratios in other
directions share the axis: a dot left of 1× is a ratio below 1.

>>> import matplotlib
>>> matplotlib.use("Agg")
>>> from defstab_lib.analysis.stats import Rule
>>> from defstab_lib.analysis.verdicts import judge
>>> v = judge(claim="A claim", figure="Figure 1", statistic="s", what="A ÷ B", units=[-0.5, -0.4, -0.45],
...           rule=Rule(-1, 0.1, "why."), runs=6)
>>> fig = plot_summary([v], holds={"": "1 of 1"})
>>> len(fig.axes)
1
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from .provenance import draws
from .verdicts import VERDICT_COLORS, no_effect_band, spaced_ticks

__all__ = ["plot_summary"]

#: Width of the figure (inches): readable on a phone at the page's width.
WIDTH_INCHES = 5.6
#: Inches per claim, and around the rows.
ROW_INCHES, MARGIN_INCHES = 0.62, 1.1
#: Characters per line of a claim's label.
LABEL_WIDTH = 34
_DIRECTION = {-1: "paper: below 1×", 1: "paper: above 1×", 0: "paper: about 1×"}


def _label(v, holds: Mapping[str, str] | None) -> str:
    number = v.numbers.get("number", "")
    head = f"{number}. " if number != "" else ""
    text = textwrap.shorten(v.claim, 80, placeholder="…")
    extra = _DIRECTION.get(v.direction, "")
    key = v.numbers.get("key", "")
    if holds and key in holds:
        extra += f"; holds in {holds[key]}"
    return textwrap.fill(head + text, LABEL_WIDTH) + "\n" + extra


@draws
def plot_summary(verdicts: Sequence, *, holds: Mapping[str, str] | None = None, title: str = "") -> Figure:
    """The verdicts of the book's claims in one figure (see the module docstring).

    Args:
        verdicts: :class:`~defstab_lib.analysis.verdicts.Verdict` objects on the log scale (ratios), in the order
            the rows are drawn (top to bottom).
        holds: ``{claim key: "k of m"}``: in how many declared specifications each claim is supported, shown under
            its label.
        title: the figure's title.

    Raises:
        ValueError: no verdicts, or one that is not on the log scale.
    """
    if not verdicts:
        raise ValueError("verdicts must hold at least one verdict")
    linear = [v.claim for v in verdicts if v.scale != "log"]
    if linear:
        raise ValueError(f"plot_summary draws ratios (log scale); not on it: {linear}")
    n = len(verdicts)
    fig, ax = plt.subplots(figsize=(WIDTH_INCHES, MARGIN_INCHES + ROW_INCHES * n), layout="constrained")
    ends = []
    for i, v in enumerate(verdicts):
        y = n - 1 - i
        _, low, high = no_effect_band(v)
        if math.isfinite(low):
            ax.fill_betweenx([y - 0.32, y + 0.32], low, high, color="#e4e4e4", lw=0)
        color = VERDICT_COLORS.get(v.verdict, "0.3")
        if v.has_ci:
            ax.plot([v.ci_low, v.ci_high], [y, y], color=color, lw=2.4, solid_capstyle="butt")
            ends += [v.ci_low, v.ci_high]
        ax.plot([v.effect], [y], "o", color=color, ms=7, mec="white", mew=0.8)
        ends += [v.effect, low, high] if math.isfinite(low) else [v.effect]
    ax.axvline(1.0, color="0.3", lw=0.8, ls=":")
    ax.set_xscale("log")
    lo, hi = min(ends) / 1.15, max(ends) * 1.15
    ax.set_xlim(lo, hi)
    ticks = spaced_ticks(lo, hi, 6)
    ax.set_xticks(ticks, [f"{t:g}×" for t in ticks])
    ax.xaxis.set_minor_formatter(plt.NullFormatter())
    ax.set_yticks(np.arange(n)[::-1], [_label(v, holds) for v in verdicts], fontsize=8)
    ax.set_ylim(-0.6, n - 0.4)
    ax.set_xlabel("effect as a ratio (1× = none), 95% CI;\ngrey band: no meaningful effect", fontsize=8)
    shown = list(dict.fromkeys(v.verdict for v in verdicts))
    fig.legend([Line2D([], [], color=VERDICT_COLORS.get(k, "0.3"), marker="o", lw=2.4) for k in shown], shown,
               loc="outside lower center", ncols=min(3, len(shown)), fontsize=8, frameon=False)
    if title:
        ax.set_title(title, fontsize=10)
    return fig
