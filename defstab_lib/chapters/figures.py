"""A chapter's figures with their provenance: the PNG and SVG of a matplotlib figure, its alt text, the library
function that drew it and the stored results it was drawn from, as one notebook output (:func:`show_figure`),
which :func:`defstab_lib.book.figure_provenance` reads when the book is built.  The function that drew a figure
is read from the figure itself: every plot function of :mod:`defstab_lib.plots` stamps the figure it draws on
(:mod:`defstab_lib.plots.provenance`).
"""

from __future__ import annotations

import base64
import importlib
import io
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.transforms import Bbox

from .. import runs
from ..plots import provenance as plot_provenance

__all__ = ["FIGURE_DPI", "results_file", "computation_file", "figure_drawn_by", "panel_pngs", "figure_bundle",
           "show_figure"]


#: The resolution of a figure's PNG: twice matplotlib's screen dpi of the book's style (``plots.RC_PARAMS``,
#: 110), so that a figure scaled to a phone's 400 px column (``book/static/defstab.css`` keeps it 660 CSS px wide
#: there) stays sharp on screens of 2-3 device pixels per CSS pixel.
FIGURE_DPI = 220


def results_file(item: Any) -> str:
    """The stored-results file a figure was drawn from, as ``"results/<experiment>/<key>.json"`` (relative to the
    repository; the store's layout, whatever ``$DEFSTAB_RESULTS`` points at).

    ``item``: a trained run (:class:`defstab_lib.runs.Results`), a stored computation
    (:class:`defstab_lib.runs.store.Computed`, or its record as a mapping with ``experiment`` and ``key``), a stored
    computation read through ``defstab_lib.runs`` (:class:`~defstab_lib.runs.KernelBaselines`, the CNN translation
    sweeps, the random networks of ``smooth_init``/``pooling_init``: see :func:`computation_file`), or such a path.

    >>> results_file({"experiment": "smooth-init", "key": "0123456789abcdef"})
    'results/smooth-init/0123456789abcdef.json'
    >>> results_file("results/pooling/0aedf9e311f390fc.json")
    'results/pooling/0aedf9e311f390fc.json'
    >>> results_file(3)
    Traceback (most recent call last):
    ...
    TypeError: results item 3 is not a run (Results), a stored computation or a 'results/<experiment>/<key>.json' path
    """
    if isinstance(item, str):
        if not (item.startswith("results/") and item.endswith(".json") and item.count("/") == 2):
            raise ValueError(f"results path {item!r} is not of the form 'results/<experiment>/<key>.json'")
        return item
    if isinstance(item, (runs.Results, runs.store.Computed)):
        return item.file
    if isinstance(item, Mapping) and "experiment" in item and "key" in item:
        return runs.store.relative_file(item["experiment"], item["key"])
    if hasattr(item, "source"):
        return computation_file(item)
    raise TypeError(f"results item {item!r} is not a run (Results), a stored computation or a "
                    f"'results/<experiment>/<key>.json' path")


def computation_file(computed: Any) -> str:
    """The file of a stored computation read through ``defstab_lib.runs`` (its ``source``, the
    :class:`~defstab_lib.runs.store.Computed` record it was read from), as ``"results/<experiment>/<key>.json"``.

    Raises:
        LookupError: it was not read from the store (built in memory: ``source`` is ``None``).
    """
    if computed.source is None:
        raise LookupError(f"{type(computed).__name__} was not read from the results store (built in memory): it "
                          f"has no file to link to")
    return computed.source.file


def _check_drawn_by(drawn_by: str) -> None:
    """``drawn_by`` names a callable of the library (``"defstab_lib.plots.profiles.plot_profiles"``)."""
    module_name, _, attr = drawn_by.rpartition(".") if isinstance(drawn_by, str) else ("", "", "")
    try:
        target = getattr(importlib.import_module(module_name), attr) if module_name.startswith("defstab_lib") \
            else None
    except (ImportError, AttributeError):
        target = None
    if not callable(target):
        raise ValueError(f"drawn_by must name a function of the library ('defstab_lib.plots.x.f'), got {drawn_by!r}")


def figure_drawn_by(fig, drawn_by: str | None = None) -> str:
    """The library function that drew ``fig``, as its provenance names it: the first plot function that drew on it
    (its stamp, :func:`defstab_lib.plots.provenance.drawn_by`).

    An explicit ``drawn_by`` is checked to name a function of the library; on a stamped figure it must be one of the
    plot functions that drew it (it names which one when several did); on a figure no plot function stamped (drawn
    by hand) it is the only provenance.

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from defstab_lib.plots.profiles import plot_profiles
    >>> fig = plot_profiles({"maxpool": [[0.3, 0.2, 0.1]]})
    >>> figure_drawn_by(fig)
    'defstab_lib.plots.profiles.plot_profiles'
    >>> figure_drawn_by(fig, "defstab_lib.plots.verdicts.plot_verdicts")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: drawn_by '...plot_verdicts' is not a function that drew this figure: its stamp names ...plot_profiles

    Raises:
        ValueError: no ``drawn_by`` and no stamp (a figure drawn without a plot function); a ``drawn_by`` that names
            no function of the library or disagrees with the stamp.
    """
    stamped = plot_provenance.drawn_by(fig)
    if drawn_by is None:
        if not stamped:
            raise ValueError("the figure carries no plot function's stamp and no drawn_by was given: draw it with a "
                             "function of defstab_lib.plots (decorated with plots.provenance.draws; move a "
                             "notebook's own matplotlib drawing into one), or pass drawn_by='defstab_lib.plots.x.f'")
        return stamped[0]
    _check_drawn_by(drawn_by)
    if stamped and drawn_by not in stamped:
        raise ValueError(f"drawn_by {drawn_by!r} is not a function that drew this figure: its stamp names "
                         f"{', '.join(stamped)}")
    return drawn_by


#: An axes narrower than this share of the figure (a colour bar) belongs to the panel on its left.
_NARROW = 0.12


def _columns(fig) -> list[list]:
    """The figure's visible axes grouped into columns of panels, left to right: axes whose horizontal extents
    overlap share a column; a narrow one (a colour bar) joins the column on its left."""
    axes = sorted((ax for ax in fig.get_axes() if ax.get_visible()), key=lambda ax: ax.get_position().x0)
    columns: list[list] = []
    for ax in axes:
        box = ax.get_position()
        if columns and (box.x0 < max(a.get_position().x1 for a in columns[-1]) - 1e-3 or box.width < _NARROW):
            columns[-1].append(ax)
        else:
            columns.append([ax])
    return columns


def _inside(box, frame) -> bool:
    """Whether ``box``'s middle lies in ``frame`` (both display boxes)."""
    return frame.contains((box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2)


def panel_pngs(fig, dpi: int = FIGURE_DPI) -> list[bytes]:
    """The figure's columns of panels, each as its own PNG cropped from the drawn figure (with its labels, ticks,
    title and legend; a legend placed outside its axes as a crop of its own after its panel), left to right;
    ``[]`` for a figure of one column.

    On a phone's 400 px column a figure of two or three panels side by side is too small to read; the built site
    shows these crops one under another there instead (``book/static/defstab.css``), each as wide as the column.
    A legend or title of the whole figure (``fig.legend``, ``fig.suptitle``) is not in any crop: the caption under
    the figure says what it shows.  A grid of images (axes switched off: an original beside its deformation) is not
    cut into columns, which would tear its pairs apart.

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, axes = plt.subplots(1, 3, figsize=(7.2, 2.4))
    >>> crops = panel_pngs(fig)
    >>> len(crops), all(c[1:4] == b"PNG" for c in crops), panel_pngs(plt.subplots(2, 1)[0])
    (3, True, [])
    """
    columns = _columns(fig)
    if len(columns) < 2 or not all(ax.axison for column in columns for ax in column):
        return []  # one column, or a grid of images (axes off): pairs would be torn apart; it scrolls whole
    renderer = fig.canvas.get_renderer()
    to_inches = fig.dpi_scale_trans.inverted()
    boxes = []
    for column in columns:
        # A legend outside its axes would widen the column's crop (and shrink its labels on a phone): it gets a
        # crop of its own, under its panel.
        outside = [ax.legend_ for ax in column if ax.legend_ is not None
                   and not _inside(ax.legend_.get_window_extent(renderer), ax.bbox)]
        boxes.append(Bbox.union([ax.get_tightbbox(renderer, bbox_extra_artists=[
            a for a in ax.get_default_bbox_extra_artists() if a not in outside]) for ax in column]))
        boxes += [legend.get_window_extent(renderer) for legend in outside]
    crops = []
    for box in boxes:
        out = io.BytesIO()
        fig.savefig(out, format="png", dpi=dpi, bbox_inches=box.transformed(to_inches).padded(0.05))
        crops.append(out.getvalue())
    return crops


def figure_bundle(fig, alt: str, *, drawn_by: str | None = None, results: Sequence[Any] = ()) -> tuple[dict, dict]:
    """A matplotlib figure as one output's ``(data, metadata)``: its PNG (at :data:`FIGURE_DPI`) and SVG, with
    ``metadata["image/png"]["defstab"]`` = ``{"alt", "drawn_by", "results"}`` and, for a figure of several columns
    of panels, ``"panels"`` (each column's PNG, base64: :func:`panel_pngs`), which
    :func:`defstab_lib.book.figure_provenance` reads when the book is built.

    Args:
        fig: a ``matplotlib.figure.Figure`` (saved with a tight bounding box, as the notebook's inline backend
            shows it), drawn by the functions of :mod:`defstab_lib.plots`, which stamp it with their names.
        alt: what the figure shows, in a sentence (the page's alt text): at least three words.
        drawn_by: the library function that drew it, ``"defstab_lib.plots.<module>.<function>"``; default: the
            figure's stamp (see :func:`figure_drawn_by`).
        results: what it was drawn from: runs, stored computations or their paths (see :func:`results_file`).

    Raises:
        ValueError, TypeError: a bad ``alt``, ``drawn_by`` (or none, and no stamp) or ``results`` item, before
            anything is rendered.
    """
    if not isinstance(alt, str) or len(alt.split()) < 3:
        raise ValueError(f"alt must be a sentence saying what the figure shows (three words or more), got {alt!r}")
    drawn_by = figure_drawn_by(fig, drawn_by)
    files = list(dict.fromkeys(results_file(r) for r in results))
    if not hasattr(fig, "savefig"):
        raise TypeError(f"fig must be a matplotlib Figure, got {type(fig).__name__}")
    png, svg = io.BytesIO(), io.StringIO()
    fig.savefig(png, format="png", dpi=FIGURE_DPI, bbox_inches="tight")
    fig.savefig(svg, format="svg", bbox_inches="tight")
    data = {"image/png": base64.b64encode(png.getvalue()).decode("ascii"), "image/svg+xml": svg.getvalue(),
            "text/plain": alt}
    meta = {"alt": alt, "drawn_by": drawn_by, "results": files}
    panels = panel_pngs(fig)
    if panels:
        meta["panels"] = [base64.b64encode(p).decode("ascii") for p in panels]
    metadata = {"image/png": {"defstab": meta}}
    return data, metadata


def show_figure(fig, alt: str, *, drawn_by: str | None = None, results: Sequence[Any] = ()) -> None:
    """Display a matplotlib figure with its provenance (:func:`figure_bundle`: PNG, SVG, alt text, the function
    that drew it, the stored results it was drawn from) as one output, and close it.

    A chapter calls it where it would call ``plt.show()``; the plot function that drew the figure stamped it with
    its name, so the chapter does not type it::

        fig = plot_profiles(analysis.profiles(groups, "cosine", "final"))
        chapters.show_figure(fig, f"Sensitivity per layer of {n} networks ...", results=loaded.all_results)
    """
    from IPython.display import display  # optional dependency: present wherever a notebook runs

    data, metadata = figure_bundle(fig, alt, drawn_by=drawn_by, results=results)
    display(data, raw=True, metadata=metadata)
    plt.close(fig)
