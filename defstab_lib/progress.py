"""Progress bars that suit where the output goes: a live ``tqdm`` bar on a terminal or in a notebook, and a plain
line every ``LOG_INTERVAL_S`` seconds when the output is piped to a file or a log (a live bar's carriage returns
would otherwise fill the log with thousands of partial lines).

>>> import io
>>> out = io.StringIO()
>>> for _ in bar(range(3), desc="demo", file=out):
...     pass
>>> out.getvalue().count("\\r"), "demo: 100%" in out.getvalue()
(0, True)
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterable
from typing import Any, TextIO

from tqdm import TqdmWarning

with warnings.catch_warnings():  # in a kernel without ipywidgets tqdm.auto falls back to the text bar (what the
    warnings.simplefilter("ignore", TqdmWarning)  # book's build wants) and warns once on import: not a reader's concern
    from tqdm.auto import tqdm

__all__ = ["bar", "LOG_INTERVAL_S", "is_interactive"]

#: Seconds between two lines of a progress bar written to a file or a pipe.
LOG_INTERVAL_S = 30.0


def is_interactive(stream: TextIO | None = None) -> bool:
    """Whether ``stream`` (default ``sys.stderr``) is a terminal or a notebook's output (a live bar fits there)."""
    stream = sys.stderr if stream is None else stream
    if "ipykernel" in sys.modules and type(stream).__module__.startswith("ipykernel"):
        return True
    return bool(getattr(stream, "isatty", lambda: False)())


class _Lines:
    """A file wrapper that turns a bar's carriage-return refreshes into whole lines."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> None:
        text = text.replace("\r", "").strip()
        if text:
            self.stream.write(text + "\n")

    def flush(self) -> None:
        self.stream.flush()


def bar(iterable: Iterable | None = None, *, file: TextIO | None = None, **kwargs: Any) -> tqdm:
    """``tqdm(iterable, **kwargs)``, live on a terminal, one line every :data:`LOG_INTERVAL_S` elsewhere."""
    stream = sys.stderr if file is None else file
    if is_interactive(stream):
        return tqdm(iterable, file=stream, **kwargs)
    kwargs.setdefault("mininterval", LOG_INTERVAL_S)
    return tqdm(iterable, file=_Lines(stream), ascii=True, dynamic_ncols=False, ncols=100, **kwargs)
