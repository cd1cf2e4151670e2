"""Small tables the chapters print beside their verdicts (accuracies), and the one generic HTML table every
page and chapter uses (:func:`html_table`).  Where the runs were computed is said by
:meth:`defstab_lib.runs.Loaded.compute_note`."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..runs.store import Results

__all__ = ["accuracy_rows", "html_table"]


def accuracy_rows(groups: Mapping[Any, Sequence[Results]]) -> list[dict[str, str]]:
    """One row per group: runs, final train and test accuracy (mean ± standard deviation over seeds)."""
    rows = []
    for name, runs in groups.items():
        train = np.array([r.final.train_accuracy for r in runs])
        test = np.array([r.final.test_accuracy for r in runs])
        sd = (lambda a: f" ± {a.std(ddof=1):.3f}" if a.size > 1 else "")  # noqa: E731
        rows.append({"network": str(name), "runs": str(len(runs)),
                     "train accuracy": f"{train.mean():.3f}{sd(train)}",
                     "test accuracy": f"{test.mean():.3f}{sd(test)}"})
    return rows


def html_table(rows: Sequence[Mapping[str, Any]], *, caption: str = "", css_class: str = "defstab-table",
               code_columns: Sequence[str] = ()) -> str:
    """An HTML table with one row per mapping (columns from the first row's keys); values are escaped.

    >>> html_table([{"a": 1, "b": "<x>"}])
    '<table class="defstab-table"><thead><tr><th>a</th><th>b</th></tr></thead><tbody><tr><td>1</td><td>&lt;x&gt;</td></tr></tbody></table>'
    """
    if not rows:
        raise ValueError("rows must not be empty")
    columns = list(rows[0])

    def cell(column: str, value: Any) -> str:
        text = html.escape(str(value))
        return f"<td><code>{text}</code></td>" if column in code_columns else f"<td>{text}</td>"

    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(cell(c, row.get(c, "")) for c in columns) + "</tr>" for row in rows)
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f'<table class="{css_class}">{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
