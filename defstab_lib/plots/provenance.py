"""A figure that knows which plot functions drew it.

Every public drawing function of :mod:`defstab_lib.plots` is decorated with :func:`draws`: when it returns, the
figure it drew on (the Figure it returns, or the figure of the axes it was given or returns) is stamped with its
qualified name, ``"defstab_lib.plots.<module>.<function>"``.  :func:`drawn_by` reads the stamp back, and
:func:`defstab_lib.chapters.show_figure` takes the figure's provenance from it, so that a notebook never types the
name of the function that drew its figure.

The rules of the stamp:

- a figure records each plot function that drew on it once, in the order they first drew (a figure composed of
  two calls of :func:`~defstab_lib.plots.profiles.plot_profiles` and one of
  :func:`~defstab_lib.plots.profiles.shared_legend` records ``plot_profiles``, then ``shared_legend``); the first is
  the figure's drawing function, the one its provenance names;
- only the outermost call stamps: a plot function that draws by calling others (``plot_factor`` calls
  ``plot_profile``) stamps its own name, not theirs.

>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import matplotlib.pyplot as plt
>>> @draws
... def plot_line(values, *, ax=None):
...     ax = ax if ax is not None else plt.subplots()[1]
...     ax.plot(values)
...     return ax
>>> fig, ax = plt.subplots()
>>> drawn_by(fig)
()
>>> _ = plot_line([1, 2, 3], ax=ax)
>>> drawn_by(fig)
('defstab_lib.plots.provenance.plot_line',)
>>> plt.close("all")
"""

from __future__ import annotations

import contextvars
import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from matplotlib.figure import Figure, SubFigure

__all__ = ["draws", "drawn_by", "figure_of", "is_plot_function"]

F = TypeVar("F", bound=Callable[..., Any])

#: The attribute of a ``matplotlib.figure.Figure`` that holds its stamp: a list of qualified names, in order.
STAMP_ATTRIBUTE = "_defstab_drawn_by"

#: Parameters through which a plot function is handed what it draws on.
_TARGET_PARAMETERS = ("ax", "axes", "fig")

_depth: contextvars.ContextVar[int] = contextvars.ContextVar("defstab_plot_depth", default=0)


def _root(figure: Any) -> Figure | None:
    while isinstance(figure, SubFigure):
        figure = figure.figure
    return figure if isinstance(figure, Figure) else None


def figure_of(obj: Any) -> Figure | None:
    """The matplotlib Figure that ``obj`` belongs to: ``obj`` itself (a Figure), an artist's figure (Axes, Line2D,
    Legend ...), the figure of the first item of a sequence or array of axes; ``None`` when it has none.

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, axes = plt.subplots(1, 2)
    >>> figure_of(axes) is fig and figure_of(axes[1]) is fig and figure_of(fig) is fig
    True
    >>> figure_of(None), figure_of([])
    (None, None)
    >>> plt.close(fig)
    """
    if isinstance(obj, (Figure, SubFigure)):
        return _root(obj)
    if hasattr(obj, "figure") and not isinstance(obj, type):
        return _root(obj.figure)
    if hasattr(obj, "flat"):  # a numpy array of axes
        obj = list(obj.flat)
    if isinstance(obj, (list, tuple)):
        for item in obj:
            found = figure_of(item)
            if found is not None:
                return found
    return None


def drawn_by(fig: Any) -> tuple[str, ...]:
    """The plot functions that drew on ``fig`` (a Figure), in the order they first drew; ``()`` for a figure no plot
    function stamped.  The first is the figure's drawing function."""
    return tuple(getattr(fig, STAMP_ATTRIBUTE, ()))


def _stamp(fig: Figure, name: str) -> None:
    names = fig.__dict__.setdefault(STAMP_ATTRIBUTE, [])
    if name not in names:
        names.append(name)


def draws(function: F) -> F:
    """Decorate a plot function so that the figure it draws on is stamped with its qualified name
    (``function.__module__ + "." + function.__qualname__``).

    The figure is the one of what the function returns (a Figure, axes, an array of axes, any artist), else the one
    of the axes or figure it was given (its ``ax``, ``axes`` or ``fig`` argument, or its first argument).  A
    decorated function that drew on no figure it can name raises ``TypeError``: the decorator belongs on functions
    that draw.
    """
    name = f"{function.__module__}.{function.__qualname__}"
    signature = inspect.signature(function)

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        token = _depth.set(_depth.get() + 1)
        try:
            result = function(*args, **kwargs)
        finally:
            _depth.reset(token)
        if _depth.get() == 0:  # the outermost plot function of this drawing
            fig = figure_of(result)
            if fig is None:
                bound = signature.bind_partial(*args, **kwargs).arguments
                given = [bound[p] for p in _TARGET_PARAMETERS if p in bound] + list(args[:1])
                fig = next((f for f in map(figure_of, given) if f is not None), None)
            if fig is None:
                raise TypeError(f"{name} drew on no figure it returned or was given: @draws belongs on functions "
                                f"that return a Figure or axes, or draw on an 'ax', 'axes' or 'fig' argument")
            _stamp(fig, name)
        return result

    wrapper.drawn_by = name  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def is_plot_function(obj: Any) -> bool:
    """Whether ``obj`` is a plot function decorated with :func:`draws`."""
    return callable(obj) and isinstance(getattr(obj, "drawn_by", None), str) and hasattr(obj, "__wrapped__")
