"""The evidence behind a verdict: each independent unit's effect, the estimate with its 95% CI, and the band of
no meaningful effect -- one panel per claim (the report) or one beside a chapter's figure.

Effects of ratios are drawn on a log axis, so that "half" and "double" are the same distance from 1×.  The
functions read :class:`~defstab_lib.analysis.Verdict` objects and compute nothing.

>>> import matplotlib
>>> matplotlib.use("Agg")
>>> from defstab_lib.analysis import Rule, judge
>>> v = judge(claim="c", figure="F", statistic="s", what="A ÷ B", units=[-0.5, -0.4, -0.45],
...           rule=Rule(-1, 0.1, "why."), runs=6)
>>> fig = plot_verdicts([v])
>>> len(fig.axes)
1
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

from .provenance import draws

__all__ = ["VERDICT_COLORS", "no_effect_band", "plot_verdict", "plot_verdicts"]

_TICKS = (0.25, 0.33, 0.5, 0.67, 0.8, 0.9, 0.95, 0.97, 1.0, 1.03, 1.05, 1.1, 1.25, 1.5, 2.0, 3.0, 4.0)

#: One colour per verdict, the same on every page.
VERDICT_COLORS = {"supported": "#1a9850", "contradicted": "#d73027", "no meaningful effect": "#4575b4",
                  "inconclusive": "#7f7f7f", "uninformative": "#b8860b",
                  "not supported": "#d73027"}


def no_effect_band(v) -> tuple[float, float, float]:
    """``(no effect, low end, high end)`` of the band of no meaningful effect of the verdict ``v``: ``1 / m`` to
    ``m`` around 1× for ratios (``m`` the minimal effect as a ratio above 1), ``-|m|`` to ``|m|`` around 0
    otherwise; the ends are NaN when the minimal effect is not a finite positive ratio."""
    m = v.minimal_effect
    if v.scale == "log":
        m = max(m, 1 / m) if math.isfinite(m) and m > 0 else math.nan
        return 1.0, 1 / m, m
    return 0.0, -abs(m), abs(m)


@draws
def plot_verdict(v, ax=None, *, title: str | None = None):
    """One verdict on ``ax``: a row per evidence (the verdict, then what is reported beside it), each with the
    estimate and its 95% CI as a bar and its units' effects as a strip of points under it; the band of no
    meaningful effect shaded, and 1× (no effect) as a line.  Returns the ``Axes``."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6.0, 1.2 + 0.6 * (1 + len(v.beside))))
    rows = [v, *v.beside]
    labels = [_label(r) for r in rows]
    if v.scale == "log":
        ax.set_xscale("log")
    none, low, high = no_effect_band(v)
    ax.axvspan(low, high, color="#dddddd", zorder=0)
    ax.axvline(none, color="black", lw=0.8, zorder=1)
    # each unit's effect, in a strip just below its evidence's CI bar; the strip's vertical jitter is layout, not
    # data, drawn from a fixed generator so that the same verdict gives the same picture on every build
    jitter = np.random.default_rng(0)
    for i, r in enumerate(rows):
        x = np.asarray(r.unit_effects, dtype=float)
        if x.size:
            ax.scatter(x, i + 0.22 + jitter.uniform(-0.08, 0.08, x.size), s=3.5 ** 2, color="#555555", alpha=0.7,
                       linewidths=0, zorder=2)
    ax.set_yticks(range(len(rows)), labels)
    for i, r in enumerate(rows):
        color = VERDICT_COLORS.get(r.verdict, "black")
        if r.has_ci:
            ax.plot([r.ci_low, r.ci_high], [i, i], color=color, lw=3, solid_capstyle="butt", zorder=3)
        if math.isfinite(r.effect):
            ax.plot([r.effect], [i], "o", color=color, markersize=8, markeredgecolor="white", zorder=4)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_ylabel("")
    ax.set_xlabel(v.what + (" (log scale)" if v.scale == "log" else ""),
                  fontsize=9)
    if v.scale == "log":
        ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda x, _: f"{x:g}×"))
        ax.xaxis.set_minor_formatter(plt.NullFormatter())
        lo = min([r.ci_low for r in rows if r.has_ci] + [x for r in rows for x in r.unit_effects] + [low])
        hi = max([r.ci_high for r in rows if r.has_ci] + [x for r in rows for x in r.unit_effects] + [high])
        ax.set_xlim(lo / 1.15, hi * 1.15)
        ax.set_xticks(spaced_ticks(lo / 1.15, hi * 1.15))
    ax.tick_params(labelsize=8)
    number = v.numbers.get("number")
    head = f"{number}. " if number else ""
    ax.set_title(title or textwrap.fill(f"{head}{v.claim} — {v.verdict}", 70), fontsize=9.5, loc="left",
                 color=VERDICT_COLORS.get(v.verdict, "black"))
    return ax


def spaced_ticks(lo: float, hi: float, n: int = 7, *, ticks: Sequence[float] = _TICKS) -> list[float]:
    """Round ratios of ``ticks`` in ``[lo, hi]``, 1× first, then outwards, at least a ``n``-th of the log range
    apart."""
    gap = math.log(hi / lo) / n
    chosen = [1.0]
    for side in (sorted(t for t in ticks if t < 1), sorted((t for t in ticks if t > 1), reverse=True)):
        for t in reversed(side):
            if lo <= t <= hi and all(abs(math.log(t / c)) >= gap for c in chosen):
                chosen.append(t)
    return sorted(chosen)


def _label(v) -> str:
    unit = "draws" if v.numbers.get("unit") == "draw" else "seeds"
    return textwrap.fill(f"{v.numbers.get('label', 'this run')}: {v.n_independent} {unit}", 28)


@draws
def plot_verdicts(verdicts: Sequence, *, columns: int = 1, panel_inches: tuple[float, float] = (7.0, 1.0)):
    """One :func:`plot_verdict` panel per verdict.  Returns the ``Figure``."""
    if not verdicts:
        raise ValueError("verdicts must not be empty")
    heights = [1 + len(v.beside) for v in verdicts]
    rows = int(np.ceil(len(verdicts) / columns))
    fig, axes = plt.subplots(rows, columns, squeeze=False,
                             figsize=(panel_inches[0] * columns, sum(0.9 + panel_inches[1] * h for h in
                                                                    heights[::columns])),
                             gridspec_kw={"height_ratios": [0.9 + h for h in heights[::columns]]})
    for ax, v in zip(axes.flat, verdicts):
        plot_verdict(v, ax)
    for ax in list(axes.flat)[len(verdicts):]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig
