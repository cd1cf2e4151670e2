"""Small tables and notes the chapters print beside their verdicts: accuracies, where the runs were computed, and
the one generic HTML table every page and chapter uses (:func:`html_table`)."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..runs.store import Results

__all__ = ["accuracy_rows", "compute_note", "html_table"]


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


def compute_note(results: Sequence[Results], trained_now: int = 0) -> str:
    """One sentence on where and how long the results took to compute, and whether this render trained any.

    >>> compute_note([])
    'no runs'
    """
    if not results:
        return "no runs"
    seconds = sum(float(r.provenance.get("wall_time_s", 0.0)) for r in results)
    devices = sorted({str(r.provenance.get("device_name", "unknown device")) for r in results})
    dates = sorted(str(r.provenance.get("date", ""))[:10] for r in results)
    when = dates[0] if dates[0] == dates[-1] else f"{dates[0]} to {dates[-1]}"
    trained = (f"{trained_now} of them were trained while rendering this page" if trained_now
               else "all were loaded from the results store")
    return (f"{len(results)} runs, {seconds / 60:.1f} min of training and measuring in total on "
            f"{' and '.join(devices)} ({when}); {trained}")


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
