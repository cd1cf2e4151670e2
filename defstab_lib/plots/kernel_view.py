"""Figures of the chapter "The kernel view of stability": the bound's fitted slopes and the kernel baselines
beside the CNNs of Figure 3.

The functions draw numbers they are given (fits are computed by :mod:`defstab_lib.kernels.bound`); each takes an
optional ``ax`` so that chapters can compose panels, and returns the ``Figure``.

>>> import matplotlib
>>> matplotlib.use("Agg")
>>> fig = plot_change_scatter({"σ = 1": ([0.1, 0.2, 0.3], [0.01, 0.02, 0.04])})
>>> len(fig.axes[0].collections)
1
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D

from . import DOWNSAMPLING_COLORS
from .profiles import LAYER_XLABEL, plot_profile, plot_profiles, shade_colors

__all__ = ["plot_change_scatter", "plot_coefficients", "plot_coefficients_by_group", "plot_profiles_with_baselines",
           "scale_colors", "FAMILY_COLORS", "plot_ckn_changes", "plot_baseline_slopes", "plot_cnn_slopes",
           "plot_cnn_profiles_with_baselines"]

#: The range of matplotlib's "viridis" that :func:`scale_colors` uses: its darkest purple and its lightest yellows
#: are left out, so that every colour keeps a contrast of at least 1.7 against a white page and against the book's
#: dark theme, while five neighbouring colours stay at least 30 CIELAB units apart (five grey shades were ~10).
SCALE_CMAP, SCALE_RANGE = "viridis", (0.15, 0.8)
#: One colour per family of kernel baselines (the CKN family in viridis' blue, scattering in tab10's brown).
FAMILY_COLORS: dict[str, str] = {"CKN": "#33638d", "scattering": "#8c564b"}


def _axes(ax, figsize):
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
        return fig, ax
    return ax.figure, ax


def scale_colors(values: Sequence[float]) -> list[tuple[float, float, float, float]]:
    """One colour per value of a scale (e.g. a CKN's pooling std), ordered along :data:`SCALE_CMAP` between
    :data:`SCALE_RANGE` (dark violet for the smallest value, green for the largest); equal values get equal colours.

    >>> from matplotlib.colors import to_hex
    >>> [to_hex(c) for c in scale_colors([0.0, 4.0, 2.0])]
    ['#463480', '#7ad151', '#238a8d']
    """
    light, dark = SCALE_RANGE
    return shade_colors(values, SCALE_CMAP, light=light, dark=dark)


def plot_change_scatter(groups: Mapping[str, tuple[Sequence[float], Sequence[float]]], *, ax=None,
                        colors: Mapping[str, object] | None = None, xlabel: str = "‖∇τ‖∞ (pixels per pixel)",
                        ylabel: str = "relative change ‖Φ(τx) − Φ(x)‖ / ‖Φ(x)‖", title: str | None = None,
                        legend_title: str | None = None, limit: float | None = None, dodge: float = 0.0,
                        figsize: tuple[float, float] = (5.0, 4.0)):
    """Representation change against a deformation norm, one point per sample, one colour per group.

    Args:
        groups: ``{label: (x, change)}`` with ``x`` and ``change`` of one length each.
        colors: ``{label: colour}`` (default: matplotlib's cycle).
        limit: draw a vertical dotted line at this ``x`` (e.g. the theorem's ``||grad tau||_inf <= 1/2``).
        dodge: draw group ``k`` of ``K`` shifted by ``(k - (K - 1) / 2) * dodge`` along x, so that groups measured
            at the same few x values (whole-pixel translations) do not hide each other; the data are unchanged.
    """
    fig, ax = _axes(ax, figsize)
    if not groups:
        raise ValueError("groups must hold at least one {label: (x, change)} entry")
    for k, (label, (x, y)) in enumerate(groups.items()):
        x, y = np.asarray(x, dtype=float).ravel(), np.asarray(y, dtype=float).ravel()
        if x.shape != y.shape:
            raise ValueError(f"group {label!r}: x has {x.size} values but change has {y.size}")
        shift = (k - (len(groups) - 1) / 2) * dodge
        ax.scatter(x + shift, y, s=9, alpha=0.55, label=label, color=(colors or {}).get(label), linewidths=0)
    if limit is not None:
        ax.axvline(limit, color="black", linestyle=":", linewidth=1.2, label=f"‖∇τ‖∞ = {limit:g}")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    if title:
        ax.set_title(title)
    ax.legend(title=legend_title, frameon=False, markerscale=1.8)
    return fig


def plot_coefficients(series: Mapping[str, tuple[Sequence[float], Sequence[float], Sequence[float]]], *, ax=None,
                      colors: Mapping[str, object] | None = None, xlabel: str = "pooling scale σₙ (input pixels)",
                      ylabel: str = "coefficient", title: str | None = None, n_se: float = 2.0,
                      reference: tuple[Sequence[float], Sequence[float]] | None = None,
                      reference_label: str | None = None,
                      figsize: tuple[float, float] = (5.0, 4.0)):
    """Fitted coefficients against a scale, with ``±n_se`` standard-error bars, one line per series.

    Args:
        series: ``{label: (scales, coefficients, standard_errors)}``.
        reference: ``(x, y)`` of a dotted black reference curve (e.g. ``k / sigma``).
    """
    fig, ax = _axes(ax, figsize)
    if not series:
        raise ValueError("series must hold at least one {label: (scales, coefficients, standard errors)} entry")
    for label, (x, c, se) in series.items():
        x, c, se = (np.asarray(v, dtype=float).ravel() for v in (x, c, se))
        if not x.shape == c.shape == se.shape:
            raise ValueError(f"series {label!r}: scales, coefficients and errors must have one length, got "
                             f"{x.size}, {c.size}, {se.size}")
        ax.errorbar(x, c, yerr=n_se * se, marker="o", markersize=5, capsize=3, linewidth=1.6, label=label,
                    color=(colors or {}).get(label))
    if reference is not None:
        ax.plot(*reference, color="black", linestyle=":", linewidth=1.4, label=reference_label)
    ax.axhline(0.0, color="0.6", linewidth=0.8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend(frameon=False)
    return fig


def plot_coefficients_by_group(groups: Mapping[str, Mapping[str, tuple[float, float]]], *, ax=None,
                               references: Mapping[str, float] | None = None, ylabel: str = "coefficient",
                               title: str | None = None, markers: Sequence[str] = ("o", "s", "^", "D"),
                               legend: bool = True, figsize: tuple[float, float] = (6.0, 4.0)):
    """One column per group (e.g. a downsampling variant), one marker per series in it (e.g. at initialisation,
    after training), each a value with an error bar (e.g. a fitted coefficient and 2 standard errors).

    Args:
        groups: ``{group: {series: (value, half_width)}}``; groups named after a downsampling variant get its
            colour; the last series is drawn with filled markers, the others open.
        references: ``{label: value}`` drawn as horizontal black lines (e.g. a kernel baseline's coefficient).
    """
    fig, ax = _axes(ax, figsize)
    if not groups:
        raise ValueError("groups must hold at least one {group: {series: (value, half_width)}} entry")
    series = list(dict.fromkeys(s for g in groups.values() for s in g))
    width = 0.5 / max(len(series), 1)
    for gi, (group, by_series) in enumerate(groups.items()):
        color = DOWNSAMPLING_COLORS.get(group, "0.3")
        for si, name in enumerate(series):
            if name not in by_series:
                continue
            value, err = (float(v) for v in by_series[name])
            filled = si == len(series) - 1
            ax.errorbar(gi + (si - (len(series) - 1) / 2) * width, value, yerr=err, marker=markers[si % len(markers)],
                        markersize=7, capsize=3, color=color, markerfacecolor=color if filled else "white",
                        linestyle="none")
    styles = ["--", "-.", ":", (0, (5, 1, 1, 1))]
    handles = [Line2D([], [], marker=markers[si % len(markers)], color="0.3", linestyle="none", markersize=7,
                      markerfacecolor="0.3" if si == len(series) - 1 else "white") for si in range(len(series))]
    labels = list(series)
    for ri, (label, value) in enumerate((references or {}).items()):
        handles.append(ax.axhline(value, color="black", linestyle=styles[ri % len(styles)], linewidth=1.2))
        labels.append(label)
    ax.axhline(0.0, color="0.6", linewidth=0.8)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels(list(groups), rotation=20)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if legend:
        ax.legend(handles, labels, frameon=False, fontsize=9)
    return fig


def plot_profiles_with_baselines(profiles: Mapping[str, object], baselines: Mapping[str, tuple[Sequence[float], object]],
                                 *, ax=None, baseline_colors: Mapping[str, object] | None = None,
                                 title: str | None = None, ylabel: str = "normalized cosine distance",
                                 logy: bool = False, legend: bool = True,
                                 figsize: tuple[float, float] = (7.6, 4.2)):
    """Per-layer profiles of the CNNs (``plot_profiles``: one line per variant, bands over seeds) and of baselines
    drawn at chosen layer positions (dashed, square markers).

    Args:
        profiles: ``{variant: (seeds, layers)}`` of the CNNs (x = layer number).
        baselines: ``{label: (x, values)}`` with ``values`` ``(seeds, k)`` or ``(k,)`` at positions ``x``
            (e.g. a CKN's layer ``k`` at the CNN layer of the same resolution).
        baseline_colors: ``{label: colour}`` (default: shades of grey).
    """
    fig, ax = _axes(ax, figsize)
    plot_profiles(profiles, ax=ax, legend_loc=None, title=title, ylabel=ylabel, logy=logy, xlabel=LAYER_XLABEL)
    greys = [str(v) for v in np.linspace(0.0, 0.65, max(len(baselines), 1))]
    for i, (label, (x, values)) in enumerate(baselines.items()):
        color = (baseline_colors or {}).get(label, greys[i])
        plot_profile(ax, values, x=np.asarray(x, dtype=float), label=label, color=color, linestyle="--", marker="s")
    if legend:
        ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), frameon=False, fontsize=9)
    return fig


def _sigma_label(sigma: float) -> str:
    return f"σ = {sigma:g}"


def plot_ckn_changes(translations: Mapping[float, tuple[Sequence[float], Sequence[float]]],
                     deformations: Mapping[float, tuple[Sequence[float], Sequence[float]]], *,
                     limit: float | None = None, figsize: tuple[float, float] = (9.0, 4.2)):
    """Two panels of :func:`plot_change_scatter`: the CKNs' last-layer change against the translation length (a)
    and against ``||grad tau||_inf`` of the runs' deformations (b), one colour per pooling std
    (:func:`scale_colors`).

    Args:
        translations, deformations: ``{sigma: (x, change)}`` (e.g.
            :func:`defstab_lib.analysis.kernel_view.ckn_change_samples`).
        limit: the theorem's ``||grad tau||_inf`` limit, drawn in panel (b).
    """
    fig, axes = plt.subplots(1, 2, figsize=figsize, sharey=True)
    colors = dict(zip([_sigma_label(s) for s in translations], scale_colors(list(translations))))
    panels = [(axes[0], translations, "translation length ‖τ‖∞ (whole pixels)", "(a) translations: ‖∇τ‖∞ = 0", 0.12,
               None),
              (axes[1], deformations, "‖∇τ‖∞ (pixels per pixel)", "(b) the runs' deformations", 0.0, limit)]
    for ax, samples, xlabel, title, dodge, lim in panels:
        plot_change_scatter({_sigma_label(s): xy for s, xy in samples.items()}, ax=ax, colors=colors,
                            legend_title="CKN pooling σ (px)", xlabel=xlabel, title=title, dodge=dodge, limit=lim)
    axes[1].set_ylabel("")
    axes[1].get_legend().remove()
    fig.tight_layout()
    return fig


def plot_baseline_slopes(translation: Mapping[str, tuple], deformation: Mapping[str, tuple], *,
                         law: tuple[Sequence[float], Sequence[float]] | None = None,
                         figsize: tuple[float, float] = (9.0, 4.2)):
    """Two panels of :func:`plot_coefficients`: the baselines' translation slope ``b_T`` (a, with the fitted
    ``k / sigma_n`` law dotted) and deformation slope ``a_D`` (b) against the pooling scale, one line per family
    (:data:`FAMILY_COLORS`).

    Args:
        translation, deformation: ``{family: (scales, slopes, standard errors)}`` (e.g.
            ``BaselineFits.slope_series``).
        law: ``(x, k / x)`` or ``None``.
    """
    fig, axes = plt.subplots(1, 2, figsize=figsize)
    plot_coefficients(translation, ax=axes[0], colors=FAMILY_COLORS, reference=law, reference_label="k / σₙ",
                      ylabel="change per pixel of translation", title="(a) translation slope $b_T$")
    plot_coefficients(deformation, ax=axes[1], colors=FAMILY_COLORS, ylabel="change per unit of ‖∇τ‖∞",
                      title="(b) deformation slope $a_D$")
    fig.tight_layout()
    return fig


def plot_cnn_slopes(translation: Mapping[str, Mapping[str, tuple[float, float]]],
                    deformation: Mapping[str, Mapping[str, tuple[float, float]]], *,
                    translation_references: Mapping[str, float] | None = None,
                    deformation_references: Mapping[str, float] | None = None, title: str | None = None,
                    figsize: tuple[float, float] = (9.2, 4.3)):
    """Two panels of :func:`plot_coefficients_by_group`: the CNNs' translation slope ``b_T`` (a) and deformation
    slope ``a_D`` (b) per variant and epoch, with the kernel baselines' slopes as horizontal lines.

    Args:
        translation, deformation: ``{variant: {epoch label: (slope, half width)}}`` (e.g. ``CNNFits.slope_bars``).
        translation_references, deformation_references: ``{label: slope}``.
    """
    fig, axes = plt.subplots(1, 2, figsize=figsize)
    plot_coefficients_by_group(translation, ax=axes[0], references=translation_references, ylabel="fitted slope",
                               title="(a) translation slope $b_T$", legend=True)
    plot_coefficients_by_group(deformation, ax=axes[1], references=deformation_references, ylabel="fitted slope",
                               title="(b) deformation slope $a_D$", legend=False)
    if title:
        fig.suptitle(title, y=1.02)
    fig.tight_layout()
    return fig


def plot_cnn_profiles_with_baselines(initial: Mapping[str, object], final: Mapping[str, object],
                                     ckn: Mapping[float, tuple[Sequence[float], object]],
                                     scattering: tuple[Sequence[float], object] | None = None, *,
                                     sigmas: Sequence[float] | None = None, figsize: tuple[float, float] = (9.2, 4.4)):
    """Two panels of :func:`plot_profiles_with_baselines`: the CNNs at initialisation (a) and after training (b),
    each with the same kernel baselines (CKNs in :func:`scale_colors` of their pooling std, scattering in
    :data:`FAMILY_COLORS`).

    Args:
        initial, final: ``{variant: (seeds, layers)}`` of the CNNs.
        ckn: ``{sigma: (x, values)}``: a CKN's profile at CNN layers ``x``.
        scattering: ``(x, values)`` of the scattering transforms, or ``None``.
        sigmas: the pooling stds the colour scale spans (default: those of ``ckn``), so that a CKN gets the same
            colour as in the chapter's other figures.
    """
    scale = list(sigmas) if sigmas is not None else list(ckn)
    color_of = dict(zip(scale, scale_colors(scale)))
    baselines = {f"CKN, σ = {s:g} px": xy for s, xy in ckn.items()}
    colors = {f"CKN, σ = {s:g} px": color_of.get(s) for s in ckn}
    if scattering is not None:
        baselines["scattering, J = layer / 3"] = scattering
        colors["scattering, J = layer / 3"] = FAMILY_COLORS["scattering"]
    fig, axes = plt.subplots(1, 2, figsize=figsize, sharey=True)
    for ax, profiles, title, legend in [(axes[0], initial, "(a) CNNs at initialisation", False),
                                        (axes[1], final, "(b) CNNs after training", True)]:
        plot_profiles_with_baselines(profiles, baselines, ax=ax, baseline_colors=colors, title=title, legend=legend)
    fig.tight_layout()
    return fig
