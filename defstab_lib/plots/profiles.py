"""Per-layer profiles in the paper's style (Figures 3, 4, 5b, 6, 7): a quantity against the layer number.

One line per setting (an architecture, a value of σ, a deformation strength ...): the mean over seeds, with a band
of ±2 standard deviations over seeds (the sample standard deviation, ``ddof=1``, as the paper's "2 standard
deviations estimated across these 5 experiments"; no band for a single seed).  Colours: explicit ones, or darker
for a larger value of a parameter (Figures 4 and 5: "darker lines are for smoother random filters"), or the
book's colour per downsampling variant (:data:`defstab_lib.plots.DOWNSAMPLING_COLORS`) for settings named after
one.  An optional dotted black reference line: a constant (the smoothness at initialisation, 1.87, in Figures 5
and 6) or a profile of its own.

The functions take plain numbers -- lists, numpy arrays or tensors of shape ``(seeds, layers)`` -- and compute
nothing beyond the mean and standard deviation they draw.

>>> import matplotlib
>>> matplotlib.use("Agg")
>>> fig = plot_profiles({"maxpool": [[0.3, 0.2, 0.1], [0.32, 0.18, 0.12]]}, reference=0.25)
>>> [len(line.get_xdata()) for line in fig.axes[0].lines]
[3, 2]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib
import matplotlib.pyplot as plt
import numpy as np

from . import DOWNSAMPLING_COLORS
from .provenance import draws

__all__ = ["band_stats", "shade_colors", "plot_profile", "plot_profiles", "shared_legend", "LAYER_XLABEL", "CONV_XLABEL"]

#: x-axis label for the paper's layer numbering (:mod:`defstab_lib.probe`).
LAYER_XLABEL = "layer number (0 = input)"
#: x-axis label for per-conv-layer quantities (filter smoothness, Figures 5b and 6).
CONV_XLABEL = "conv layer"


def _as_runs(values, name: str) -> np.ndarray:
    """``values`` as a float array ``(seeds, layers)``; a 1-D input is one seed."""
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    array = np.asarray(values, dtype=float)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2 or array.shape[1] == 0 or array.shape[0] == 0:
        raise ValueError(f"{name} must be (seeds, layers) or (layers,) numbers, got shape {array.shape}")
    return array


def band_stats(values, n_std: float = 2.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean over seeds and the band ``mean ± n_std × std`` (sample standard deviation, ``ddof=1``).

    Args:
        values: ``(seeds, layers)`` numbers (``(layers,)`` is one seed).
        n_std: half-width of the band in standard deviations (the paper: 2).

    Returns:
        ``(mean, low, high)``, each ``(layers,)``; with one seed ``low`` and ``high`` equal the mean.

    >>> mean, low, high = band_stats([[1.0, 2.0], [3.0, 2.0]])
    >>> mean.tolist(), low.round(3).tolist(), high.round(3).tolist()
    ([2.0, 2.0], [-0.828, 2.0], [4.828, 2.0])
    """
    runs = _as_runs(values, "values")
    mean = runs.mean(axis=0)
    if runs.shape[0] < 2:
        return mean, mean.copy(), mean.copy()
    spread = n_std * runs.std(axis=0, ddof=1)
    return mean, mean - spread, mean + spread


def shade_colors(values: Sequence[float], cmap: str = "Blues", *, light: float = 0.35, dark: float = 1.0) -> list:
    """One RGBA colour per value from a sequential colour map: darker for larger values.

    The values are mapped linearly from ``light`` (the smallest) to ``dark`` (the largest) along ``cmap``; equal
    values get equal colours.

    >>> [round(c[0], 2) for c in shade_colors([0.0, 2.0, 1.0], "Greys")]  # red channel: darker = larger value
    [0.76, 0.0, 0.4]
    """
    values = np.asarray(list(values), dtype=float)
    if values.size == 0:
        return []
    if not np.all(np.isfinite(values)):
        raise ValueError(f"parameter values must be finite numbers, got {values.tolist()}")
    lo, hi = values.min(), values.max()
    position = np.full_like(values, dark) if hi == lo else light + (values - lo) / (hi - lo) * (dark - light)
    colormap = matplotlib.colormaps[cmap]
    return [tuple(float(v) for v in colormap(p)) for p in position]


@draws
def plot_profile(
    ax, values, *, x=None, label=None, color=None, n_std: float = 2.0, band_alpha: float = 0.18,
    floor: float | None = 0.0, **line_kw
):
    """Draw one setting on ``ax``: the mean over seeds as a line with markers and the ±``n_std`` band.

    Args:
        ax: a matplotlib ``Axes``.
        values: ``(seeds, layers)`` numbers (``(layers,)`` is one seed).
        x: positions of the layers (default ``0, 1, ...``).
        label: legend entry.
        color: line and band colour.
        n_std: half-width of the band in standard deviations.
        band_alpha: opacity of the band.
        floor: the smallest value the quantity can take, where the band is clipped (default 0: the book's
            profiles are distances, ratios of distances and filter TV ratios, none below 0); ``None`` for a signed
            quantity.
        **line_kw: passed to ``ax.plot`` (e.g. ``linestyle``, ``marker``).

    Returns:
        the ``Line2D`` of the mean.
    """
    mean, low, high = band_stats(values, n_std)
    if floor is not None:
        low = np.maximum(low, floor)
    x = np.arange(len(mean)) if x is None else np.asarray(x, dtype=float)
    if x.shape != mean.shape:
        raise ValueError(f"x has {x.size} positions but the profile {label!r} has {mean.size} layers")
    line_kw.setdefault("marker", "o")
    line_kw.setdefault("markersize", 4)
    line_kw.setdefault("linewidth", 1.8)
    (line,) = ax.plot(x, mean, label=label, color=color, **line_kw)
    if _as_runs(values, "values").shape[0] > 1:
        ax.fill_between(x, low, high, color=line.get_color(), alpha=band_alpha, linewidth=0)
    return line


@draws
def plot_profiles(
    profiles: Mapping[str, object],
    *,
    x=None,
    ax=None,
    colors: Mapping[str, object] | None = None,
    parameter: Mapping[str, float] | Sequence[float] | None = None,
    cmap: str = "Blues",
    reference: float | Sequence[float] | None = None,
    reference_label: str | None = None,
    marks: Sequence[float] | None = None,
    mark_label: str | None = None,
    xlabel: str = LAYER_XLABEL,
    ylabel: str = "normalized cosine distance",
    title: str | None = None,
    legend_title: str | None = None,
    legend_loc: str | None = "best",
    legend_outside: bool = False,
    n_std: float = 2.0,
    floor: float | None = 0.0,
    logy: bool = False,
    figsize: tuple[float, float] = (6.4, 4.0),
):
    """A per-layer figure: one line (mean over seeds, ±``n_std`` band) per setting.

    Args:
        profiles: ``{label: values}`` in legend order; ``values`` is ``(seeds, layers)`` numbers (``(layers,)`` is
            one seed).  All profiles share the x positions.
        x: positions of the layers (default ``0, 1, ..., layers - 1``: the paper's layer numbers).
        ax: draw into this ``Axes`` (for multi-panel figures); default: a new figure of ``figsize``.
        colors: ``{label: colour}``; wins over the others.
        parameter: a number per profile (``{label: value}`` or a sequence in the order of ``profiles``): lines are
            coloured from ``cmap``, darker for larger values (the paper's "darker lines are for smoother filters").
        cmap: the sequential colour map for ``parameter``.
        reference: a dotted black line: a constant (drawn across the axes) or ``(layers,)`` values at ``x``.
        reference_label: its legend entry.
        marks: x positions to mark with light vertical lines (e.g. the downsampling layers).
        mark_label: legend entry for the marks.
        xlabel, ylabel, title, legend_title: text.
        legend_loc: where the legend goes (a matplotlib ``loc``), or ``None`` for no legend.
        legend_outside: put the legend outside the axes, to the right (for crowded profiles).
        n_std: half-width of the bands in standard deviations (the paper: 2).
        floor: where the bands are clipped (:func:`plot_profile`; default 0, ``None`` for signed quantities).
        logy: a logarithmic y axis.

    Returns:
        the matplotlib ``Figure``.  Without ``colors`` or ``parameter``, labels that name a downsampling variant
        get the book's colour for it; the rest follow matplotlib's colour cycle.

    Raises:
        ValueError: no profiles, profiles of different lengths, or a ``parameter``/``reference``/``x`` that does
            not match them.
    """
    if not profiles:
        raise ValueError("profiles must hold at least one {label: values} entry")
    runs = {label: _as_runs(values, f"profile {label!r}") for label, values in profiles.items()}
    lengths = {label: r.shape[1] for label, r in runs.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"all profiles must have the same number of layers, got {lengths}")
    n_layers = next(iter(lengths.values()))
    x = np.arange(n_layers) if x is None else np.asarray(x, dtype=float)
    if x.shape != (n_layers,):
        raise ValueError(f"x must have one position per layer ({n_layers}), got {x.size}")

    palette: dict[str, object] = {}
    if parameter is not None:
        values = [parameter[label] for label in runs] if isinstance(parameter, Mapping) else list(parameter)
        if len(values) != len(runs):
            raise ValueError(f"parameter must give one value per profile ({len(runs)}), got {len(values)}")
        palette.update(zip(runs, shade_colors(values, cmap)))
    else:
        palette.update({label: DOWNSAMPLING_COLORS[label] for label in runs if label in DOWNSAMPLING_COLORS})
    if colors:
        palette.update(colors)

    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
    else:
        fig = ax.figure
    if marks:
        for i, position in enumerate(marks):
            ax.axvline(position, color="0.85", linewidth=6, zorder=0, label=mark_label if i == 0 else None)
    for label, values in runs.items():
        plot_profile(ax, values, x=x, label=label, color=palette.get(label), n_std=n_std, floor=floor)
    if reference is not None:
        style = {"color": "black", "linestyle": ":", "linewidth": 1.5, "label": reference_label}
        if np.ndim(reference) == 0:
            ax.axhline(float(reference), **style)
        else:
            ref = np.asarray(reference, dtype=float)
            if ref.shape != x.shape:
                raise ValueError(f"reference must be a number or one value per layer ({n_layers}), got {ref.size}")
            ax.plot(x, ref, **style)
    if np.allclose(x, np.round(x)) and n_layers <= 25:
        ax.set_xticks(x)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if legend_loc is not None:
        if legend_outside:
            ax.legend(title=legend_title, loc="center left", bbox_to_anchor=(1.02, 0.5), frameon=False)
        else:
            ax.legend(title=legend_title, loc=legend_loc, frameon=False)
    return fig


@draws
def shared_legend(fig, ax, *, ncol: int | None = None, title: str | None = None):
    """One legend for a multi-panel figure, below the panels, built from ``ax``'s labelled lines.

    Call after ``fig.tight_layout()``; the legend sits under the figure (``bbox_inches="tight"`` keeps it when
    the figure is saved or shown inline).  Returns the ``Legend``.

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, axes = plt.subplots(1, 2)
    >>> _ = axes[0].plot([0, 1], label="a"); _ = axes[0].plot([1, 0], label="b")
    >>> [t.get_text() for t in shared_legend(fig, axes[0]).get_texts()]
    ['a', 'b']
    """
    handles, labels = ax.get_legend_handles_labels()
    if not handles:
        raise ValueError("ax has no labelled line to put in a legend")
    return fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=ncol or len(handles),
                      frameon=False, title=title)
