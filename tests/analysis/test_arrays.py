"""Arrays of runs (``defstab_lib/analysis/arrays.py``): the spread between networks is relative."""

from __future__ import annotations

import numpy as np

from defstab_lib import analysis


def test_between_spread_is_relative():
    a = {"x": np.array([[1.0, 2.0]]), "y": np.array([[3.0, 2.0]])}
    assert analysis.between_spread(a).tolist() == [0.5, 0.0]
    doubled = {k: 2 * v for k, v in a.items()}
    assert analysis.between_spread(doubled).tolist() == [0.5, 0.0]
    assert analysis.between_spread(doubled, relative=False).tolist() == [2.0, 0.0]
