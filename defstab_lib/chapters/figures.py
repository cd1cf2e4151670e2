"""A chapter's figures with their provenance: the PNG and SVG of a matplotlib figure, its alt text, the library
function that drew it and the stored results it was drawn from, as one notebook output (:func:`show_figure`),
which :func:`defstab_lib.book.figure_provenance` reads when the book is built.
"""

from __future__ import annotations

import base64
import importlib
import io
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt

from .. import runs

__all__ = ["FIGURE_DPI", "results_file", "computation_file", "figure_bundle", "show_figure"]


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


def figure_bundle(fig, alt: str, *, drawn_by: str, results: Sequence[Any] = ()) -> tuple[dict, dict]:
    """A matplotlib figure as one output's ``(data, metadata)``: its PNG (at :data:`FIGURE_DPI`) and SVG, with
    ``metadata["image/png"]["defstab"]`` = ``{"alt", "drawn_by", "results"}``, which
    :func:`defstab_lib.book.figure_provenance` reads when the book is built.

    Args:
        fig: a ``matplotlib.figure.Figure`` (saved with a tight bounding box, as the notebook's inline backend
            shows it).
        alt: what the figure shows, in a sentence (the page's alt text): at least three words.
        drawn_by: the library function that drew it, ``"defstab_lib.plots.<module>.<function>"``.
        results: what it was drawn from: runs, stored computations or their paths (see :func:`results_file`).

    Raises:
        ValueError, TypeError: a bad ``alt``, ``drawn_by`` or ``results`` item, before anything is rendered.
    """
    if not isinstance(alt, str) or len(alt.split()) < 3:
        raise ValueError(f"alt must be a sentence saying what the figure shows (three words or more), got {alt!r}")
    _check_drawn_by(drawn_by)
    files = list(dict.fromkeys(results_file(r) for r in results))
    if not hasattr(fig, "savefig"):
        raise TypeError(f"fig must be a matplotlib Figure, got {type(fig).__name__}")
    png, svg = io.BytesIO(), io.StringIO()
    fig.savefig(png, format="png", dpi=FIGURE_DPI, bbox_inches="tight")
    fig.savefig(svg, format="svg", bbox_inches="tight")
    data = {"image/png": base64.b64encode(png.getvalue()).decode("ascii"), "image/svg+xml": svg.getvalue(),
            "text/plain": alt}
    metadata = {"image/png": {"defstab": {"alt": alt, "drawn_by": drawn_by, "results": files}}}
    return data, metadata


def show_figure(fig, alt: str, *, drawn_by: str, results: Sequence[Any] = ()) -> None:
    """Display a matplotlib figure with its provenance (:func:`figure_bundle`: PNG, SVG, alt text, the function
    that drew it, the stored results it was drawn from) as one output, and close it.

    A chapter calls it where it would call ``plt.show()``::

        chapters.show_figure(fig, f"Sensitivity per layer of {n} networks ...",
                             drawn_by="defstab_lib.plots.profiles.plot_profiles", results=loaded.all_results)
    """
    from IPython.display import display  # optional dependency: present wherever a notebook runs

    data, metadata = figure_bundle(fig, alt, drawn_by=drawn_by, results=results)
    display(data, raw=True, metadata=metadata)
    plt.close(fig)
