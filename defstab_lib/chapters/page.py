"""What every chapter page does with its parameters and numbers: validation (before any work), the parameters
table, glued values for the prose (myst-nb ``glue``), HTML tables.

:func:`validate` raises a :class:`ValueError` that names the bad parameter and what is allowed, before any
expensive work.  :func:`glue` stores a value for the page's prose (myst-nb ``glue``) and still works where
myst-nb is not installed (in Colab, say), where it only returns the value.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

from ..analysis.tables import html_table  # re-exported: the one generic table of every page
from ..provenance import resolve_device as _resolve_device
from .registry import get

__all__ = ["validate", "injected_parameters", "resolve_device", "html_table", "parameters_html", "show_parameters",
           "glue", "glue_all"]


def validate(chapter: str, **values: Any) -> dict[str, Any]:
    """Check a chapter's parameters and return them as a dict, in the registered order.

    Raises:
        ValueError: a parameter is missing, unknown, or has a value that is not allowed (the message names it
            and lists what is allowed).
        TypeError: a parameter has the wrong type.

    >>> validate("data", n_per_source=3, seed=0)
    {'n_per_source': 3, 'seed': 0}
    >>> validate("data", n_per_source=0, seed=0)
    Traceback (most recent call last):
    ...
    ValueError: parameter 'n_per_source' = 0 is below the minimum; allowed: int >= 1 and <= 20
    """
    spec = get(chapter)
    names = [p.name for p in spec.params]
    unknown = sorted((set(values) | set(injected_parameters())) - set(names))
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown} for chapter {chapter!r}; its parameters are {names} "
                         f"(a list is passed to papermill as YAML: -y 'downsampling: [maxpool, strided]')")
    missing = [n for n in names if n not in values]
    if missing:
        raise ValueError(f"missing parameter(s) {missing} for chapter {chapter!r}")
    checked = {p.name: p.check(values[p.name]) for p in spec.params}
    if "device" in checked:
        _resolve_device(checked["device"])  # a device this machine lacks stops the chapter here, before any work
    return checked


def injected_parameters() -> list[str]:
    """The names papermill injected into the running notebook kernel (its ``# Parameters`` cell), ``[]`` outside
    one: :func:`validate` refuses those the chapter does not have, so that ``-p seed 7`` for a chapter whose
    parameter is ``seeds`` stops the notebook instead of running on the defaults."""
    try:
        from IPython import get_ipython  # optional dependency: only a notebook kernel has injected parameters
    except ImportError:
        return []
    shell = get_ipython()
    if shell is None:
        return []
    names: list[str] = []
    for source in shell.user_ns.get("In", []):
        if isinstance(source, str) and source.lstrip().startswith("# Parameters"):
            try:
                tree = ast.parse(source)
            except SyntaxError:
                continue
            names = [t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets
                     if isinstance(t, ast.Name)]
    return names


def resolve_device(device: str = "auto") -> str:
    """A chapter's ``device`` parameter as a device name: ``'auto'`` becomes ``'cuda'`` when a CUDA device is
    present and ``'cpu'`` otherwise (:func:`defstab_lib.provenance.resolve_device`, whose ``ValueError`` lists
    the allowed names).

    >>> resolve_device("cpu")
    'cpu'
    """
    return str(_resolve_device(device))


def parameters_html(chapter: str, params: Mapping[str, Any]) -> str:
    """An HTML table of a chapter's parameters: name, value, meaning."""
    spec = get(chapter)
    rows = [{"parameter": p.name, "value": repr(params[p.name]), "meaning": p.doc}
            for p in spec.params if p.name in params]
    return html_table(rows, caption="Parameters this page was rendered with", css_class="defstab-parameters",
                      code_columns=("parameter", "value"))


def show_parameters(chapter: str, params: Mapping[str, Any]) -> None:
    """Display the parameters table in the notebook (and on the rendered page)."""
    from IPython.display import HTML, display  # optional dependency: present wherever a notebook runs

    display(HTML(parameters_html(chapter, params)))


def glue_all(values: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`glue` every ``{name: value}`` of a mapping (e.g. the numbers an ``analysis`` function returns for a
    page's prose); return them as a dict.

    The convention tests cannot read these names from the notebook's code: the chapter tests check, by executing
    it, that every name the prose refers to was glued.
    """
    return {name: glue(name, value) for name, value in values.items()}


def glue(name: str, value: Any, *, display: bool = False) -> Any:
    """Store ``value`` under ``name`` for the page's prose (``{glue:text}`name``` in markdown); return it.

    Uses myst-nb's ``glue``; where myst-nb is not installed (Colab) the value is only returned.
    """
    try:
        from myst_nb import glue as _glue  # optional dependency: not in Colab
    except ImportError:  # pragma: no cover - exercised in Colab, not in CI
        return value
    _glue(name, value, display=display)
    return value
