"""Progress bars (``defstab_lib/progress.py``): in a log, whole lines, not carriage returns."""

from __future__ import annotations

import io


from defstab_lib import progress


def test_progress_in_a_log_is_whole_lines_not_carriage_returns():
    out = io.StringIO()
    for _ in progress.bar(range(1000), desc="epoch 1", file=out, mininterval=0):
        pass
    text = out.getvalue()
    assert "\r" not in text and text.count("\n") >= 1 and "epoch 1: 100%" in text.splitlines()[-1]
