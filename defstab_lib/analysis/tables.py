"""Small tables the chapters print beside their verdicts: accuracies (where the runs were computed:
:meth:`defstab_lib.runs.Loaded.compute_note`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..runs.store import Results

__all__ = ["accuracy_rows"]


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
