"""How robust is a verdict?  One claim judged under several declared specifications (the pre-registered analysis,
other layer windows, another distance, each architecture alone, another recipe ...), drawn as a forest plot: one
row per specification, its effect as a dot and its 95% CI as a bar coloured by its verdict.

A specification is any object with ``name`` (its row's label), ``group`` (rows of one group are drawn together,
under the group's name), ``primary`` (exactly one is: the pre-registered analysis, drawn in bold, with a larger
outlined dot on a faint band) and ``verdict`` (a :class:`~defstab_lib.analysis.Verdict`).  The functions read them
and compute nothing.

The band of no meaningful effect and the dashed minimal effect are the primary verdict's; a row whose own minimal
effect differs gets a short dashed mark of its own.  Effects of ratios are drawn on a log axis, so that "half" and
"double" are the same distance from 1×.

>>> import dataclasses
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> from defstab_lib.analysis import Rule, judge
>>> @dataclasses.dataclass
... class Spec:
...     name: str
...     group: str
...     primary: bool
...     verdict: object
>>> def v(units):
...     return judge(claim="c", figure="F", statistic="s", what="A ÷ B", units=units,
...                  rule=Rule(-1, 0.1, "why."), runs=6)
>>> specs = [Spec("pre-registered: layers 7-12", "primary", True, v([-0.5, -0.4, -0.45])),
...          Spec("layers 1-12", "layers", False, v([-0.3, 0.1, -0.2]))]
>>> ax = plot_robustness(specs)
>>> [t.get_text() for t in ax.get_yticklabels()]
['pre-registered: layers 7-12', 'layers 1-12']
>>> ax.get_xscale()
'log'
>>> fig = plot_robustness_grid([("Claim 1", specs), ("Claim 2", specs[:1])])
>>> len(fig.axes)
2
>>> import matplotlib.pyplot as plt
>>> plt.close("all")
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from matplotlib.lines import Line2D
from matplotlib.transforms import ScaledTranslation, blended_transform_factory

from .provenance import draws
from .verdicts import VERDICT_COLORS, no_effect_band, spaced_ticks

__all__ = ["plot_robustness", "plot_robustness_grid"]

#: Inches per row, and around the rows (title, x axis, legend), of a figure the functions make themselves.
ROW_INCHES = 0.32
MARGIN_INCHES = 1.45
#: Extra space before each group, in rows (it holds the group's name).
GROUP_GAP = 0.9
#: Width of a figure the functions make: narrow enough to stay readable on a phone.
WIDTH_INCHES = 5.6
#: Characters per line of a specification's label.
LABEL_WIDTH = 30
#: Characters per line of a panel's title (10 pt): about the panel's width, labels included.
TITLE_WIDTH = 72

#: Round ratios a log axis may be labelled with.
_TICKS = (0.1, 0.2, 0.25, 0.33, 0.5, 0.67, 0.8, 0.9, 0.95, 0.97, 1.0, 1.03, 1.05, 1.1, 1.25, 1.5, 2.0, 3.0, 4.0,
          5.0, 10.0)
#: The order of verdicts in the legend.
_ORDER = ("supported", "contradicted", "no meaningful effect", "inconclusive", "uninformative", "not supported")
_HIGHLIGHT = "#fbeaa5"
_BAND = "#e4e4e4"


def _check(specs: Sequence, argument: str = "specs") -> None:
    if not specs:
        raise ValueError(f"{argument} must hold at least one specification")
    primaries = [s.name for s in specs if s.primary]
    if len(primaries) != 1:
        raise ValueError(f"{argument} must hold exactly one primary specification, got {len(primaries)}"
                         + (f": {primaries}" if primaries else ""))
    scales = sorted({s.verdict.scale for s in specs})
    if len(scales) != 1:
        raise ValueError(f"{argument} mix scales {scales}: the specifications of one claim share one axis")


def _positions(specs: Sequence) -> tuple[list[float], list[tuple[str, float]]]:
    """Each row's y, and each group's (name, y of its heading); a group is a run of consecutive rows."""
    ys, heads, y = [], [], -1.0
    for i, s in enumerate(specs):
        y += 1
        if i == 0 or s.group != specs[i - 1].group:
            y += GROUP_GAP
            heads.append((s.group, y - 0.8))  # just above the group's first row, clear of the row before
        ys.append(y)
    return ys, heads


def _inches(specs: Sequence) -> float:
    _, heads = _positions(specs)
    extra = sum(textwrap.fill(s.name, LABEL_WIDTH).count("\n") for s in specs)
    return ROW_INCHES * (len(specs) + GROUP_GAP * len(heads)) + 0.08 * extra + MARGIN_INCHES


def _finite(values) -> list[float]:
    return [float(x) for x in values if x is not None and math.isfinite(x)]


def _draw_references(ax, v) -> None:
    none, low, high = no_effect_band(v)
    if math.isfinite(low):
        ax.axvspan(low, high, color=_BAND, lw=0, zorder=0, gid="no meaningful effect")
    ax.axvline(none, color="black", lw=0.9, zorder=1, gid="no effect")
    if v.direction != 0 and math.isfinite(v.minimal_effect):
        ax.axvline(v.minimal_effect, color="#555555", lw=0.9, ls=(0, (4, 3)), zorder=1, gid="minimal effect")


def _draw_row(ax, s, y: float, primary_m: float) -> None:
    v = s.verdict
    color = VERDICT_COLORS.get(v.verdict, "black")
    if s.primary:
        ax.axhspan(y - 0.5, y + 0.5, color=_HIGHLIGHT, alpha=0.55, lw=0, zorder=0.5)
    if v.has_ci:
        ax.plot([v.ci_low, v.ci_high], [y, y], color=color, lw=3.2 if s.primary else 2.6, solid_capstyle="butt",
                zorder=3, gid=f"ci {s.name}")
    if math.isfinite(v.effect):
        ax.plot([v.effect], [y], "o", color=color, zorder=4, gid=f"effect {s.name}",
                **({"markersize": 9.5, "markeredgecolor": "black", "markeredgewidth": 1.3} if s.primary
                   else {"markersize": 6.5, "markeredgecolor": "white", "markeredgewidth": 0.8}))
    if not v.has_ci:
        x = v.effect if math.isfinite(v.effect) else no_effect_band(v)[0]
        ax.annotate("no CI" if math.isfinite(v.effect) else "no estimate", (x, y), xytext=(7, 0),
                    textcoords="offset points", va="center", fontsize=7.5, color="#555555", style="italic")
    m = v.minimal_effect
    if v.direction != 0 and math.isfinite(m) and not math.isclose(m, primary_m, rel_tol=1e-6, abs_tol=1e-12):
        ax.plot([m, m], [y - 0.38, y + 0.38], color="#555555", lw=0.9, ls=(0, (2, 2)), zorder=2,
                gid=f"minimal {s.name}")


def _set_x(ax, specs: Sequence, v) -> None:
    """The x axis: log with "0.5×" labels for ratios; limits that hold every CI, effect and the band."""
    none, low, high = no_effect_band(v)
    values = _finite([x for s in specs for x in (s.verdict.ci_low, s.verdict.ci_high, s.verdict.effect,
                                                   s.verdict.minimal_effect)] + [none, low, high])
    lo, hi = min(values), max(values)
    if v.scale == "log":
        values = [x for x in values if x > 0]
        lo, hi = min(values) / 1.12, max(values) * 1.12
        ax.set_xscale("log")
        ax.set_xlim(lo, hi)
        ax.set_xticks(spaced_ticks(lo, hi, 6, ticks=_TICKS))
        ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda x, _: f"{x:g}×"))
        ax.xaxis.set_minor_locator(plt.NullLocator())
    else:
        pad = 0.06 * (hi - lo or 1.0)
        ax.set_xlim(lo - pad, hi + pad)


def _legend(ax, specs: Sequence) -> None:
    present = list(dict.fromkeys(s.verdict.verdict for s in specs))
    present = sorted(present, key=lambda w: _ORDER.index(w) if w in _ORDER else len(_ORDER))
    handles = [Line2D([], [], color=VERDICT_COLORS.get(w, "black"), lw=2.6, marker="o", markersize=6,
                      markeredgecolor="white", label=w) for w in present]
    # below the x axis's label, whatever the axes' height: an offset in inches from the axes' bottom
    below = ax.transAxes + ScaledTranslation(0, -0.52, ax.figure.dpi_scale_trans)
    # right-aligned with the axes: a wide legend runs left, under the labels, not off the figure
    ax.legend(handles=handles, loc="upper right", bbox_to_anchor=(1, 0), bbox_transform=below,
              ncol=min(len(handles), 3), frameon=False, fontsize=8, handlelength=1.6, columnspacing=1.2,
              borderaxespad=0)


def _title(ax, title: str) -> None:
    """The title, left-aligned with the labels rather than the axes (the axes are narrow beside the labels),
    wrapped at :data:`TITLE_WIDTH` characters so that it never widens the figure beyond the panel."""
    text = ax.set_title(textwrap.fill(title, TITLE_WIDTH), fontsize=10, loc="left")
    dpi = ax.figure.dpi
    labels = max((t.get_window_extent().width for t in ax.get_yticklabels()), default=0.0) / dpi
    inches = labels + (ax.yaxis.get_major_ticks()[0].get_pad() if ax.get_yticks().size else 0.0) / 72
    text.set_transform(text.get_transform() + ScaledTranslation(-inches, 0, ax.figure.dpi_scale_trans))


@draws
def plot_robustness(specs: Sequence, ax=None, *, title: str | None = None):
    """A claim under each specification of ``specs`` (in their order; see the module's docstring): one row each,
    grouped under their groups' names, the effect as a dot and its 95% CI as a bar in its verdict's colour
    (:data:`~defstab_lib.plots.verdicts.VERDICT_COLORS`); the primary specification in bold, with a larger outlined
    dot on a faint band; no effect (1×, or 0) as a line, the primary verdict's band of no meaningful effect shaded
    and its minimal effect dashed; a row without a CI gets its dot and "no CI".  ``title`` defaults to the primary
    verdict's claim.  Makes a figure about 0.32 in a row tall when ``ax`` is None.  Returns the ``Axes``.

    Raises:
        ValueError: ``specs`` is empty, has not exactly one primary specification, or mixes scales.
    """
    _check(specs)
    primary = next(s for s in specs if s.primary).verdict
    with sns.axes_style("ticks"):
        own = ax is None
        if own:
            _, ax = plt.subplots(figsize=(WIDTH_INCHES, _inches(specs)))
        ys, heads = _positions(specs)
        _draw_references(ax, primary)
        for s, y in zip(specs, ys):
            _draw_row(ax, s, y, primary.minimal_effect)
        _set_x(ax, specs, primary)
        ax.set_ylim(ys[-1] + 0.6, heads[0][1] - 0.45)
        ax.set_yticks(ys, [textwrap.fill(s.name, LABEL_WIDTH) for s in specs])
        for label, s in zip(ax.get_yticklabels(), specs):
            label.set_fontweight("bold" if s.primary else "normal")
        ax.tick_params(axis="y", length=0, labelsize=9)
        ax.tick_params(axis="x", labelsize=8.5)
        ax.xaxis.grid(True, color="#ededed", lw=0.7, zorder=0)
        ax.yaxis.grid(False)
        ax.set_axisbelow(True)
        heading = blended_transform_factory(ax.transAxes, ax.transData)
        for i, (group, y) in enumerate(heads):
            if i:
                ax.axhline(y - 0.5, color="#9a9a9a", lw=0.6, zorder=1)
            ax.text(0.005, y, group, transform=heading, fontsize=8, color="#444444", style="italic",
                    va="center", ha="left", zorder=5,
                    bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.7, "pad": 0.6})
        ax.set_xlabel(textwrap.fill(primary.what + (" (log scale)" if primary.scale == "log" else ""), 46),
                      fontsize=9)
        ax.set_ylabel("")
        sns.despine(ax=ax, left=True)
        _legend(ax, specs)
        if title is None:
            number = primary.numbers.get("number")
            title = textwrap.fill((f"{number}. " if number else "") + primary.claim, 58)
        _title(ax, title)
        if own:
            ax.figure.tight_layout()
    return ax


@draws
def plot_robustness_grid(claims: Sequence[tuple[str, Sequence]], *, columns: int = 1):
    """One :func:`plot_robustness` panel per ``(title, specs)`` of ``claims``, in ``columns`` columns, each panel
    as tall as its rows need.  Returns the ``Figure``.

    Raises:
        ValueError: ``claims`` is empty, or a claim's specifications are empty, have not exactly one primary or mix
            scales; ``columns`` is below 1.
    """
    if not claims:
        raise ValueError("claims must hold at least one (title, specs) pair")
    if columns < 1:
        raise ValueError(f"columns must be at least 1, got {columns}")
    for i, (title, specs) in enumerate(claims):
        _check(specs, f"claims[{i}] ({title!r})")
    rows = math.ceil(len(claims) / columns)
    heights = [max(_inches(specs) for _, specs in claims[r * columns:(r + 1) * columns]) for r in range(rows)]
    with sns.axes_style("ticks"):
        fig, axes = plt.subplots(rows, columns, squeeze=False, figsize=(WIDTH_INCHES * columns, sum(heights)),
                                 gridspec_kw={"height_ratios": heights})
    for ax, (title, specs) in zip(axes.flat, claims):
        plot_robustness(specs, ax, title=title)
    for ax in np.asarray(axes).flat[len(claims):]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig
