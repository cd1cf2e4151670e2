"""The analysis tables (``defstab_lib/analysis/tables.py``) and the note on what was computed."""

from __future__ import annotations

import pytest

from defstab_lib import analysis
from defstab_lib.runs.load import compute_note

from tests.helpers import VARIANTS, population


def test_tables_and_notes():
    results = population({v: 0.1 for v in VARIANTS}, {v: 0.2 for v in VARIANTS}, seeds=2)
    rows = analysis.accuracy_rows(analysis.group_by(results))
    assert [r["network"] for r in rows] == list(VARIANTS) and rows[0]["test accuracy"] == "0.900 ± 0.000"
    note = compute_note(results, trained=3)
    assert note.startswith("10 runs, 10.0 min") and "3 of them were trained" in note
    with pytest.raises(ValueError, match="no results"):
        analysis.profile_array([])
