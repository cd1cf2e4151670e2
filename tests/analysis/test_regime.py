"""Issue 26's regime criteria (defstab_lib.analysis.regime) on runs whose TV is set by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from defstab_lib.analysis import regime
from defstab_lib.runs import pilots
from defstab_lib.runs.store import Results
from tests.helpers import fake_measurement


def _run(seed: int, strength: float, tv0: float, tv_end: float) -> Results:
    config = pilots.candidate_config("A", seed, strength)
    return Results(config, [fake_measurement(0, 0.3, tv0), fake_measurement(config.epochs, 0.3, tv_end)], [],
                   {"wall_time_s": 1.0, "device": "cpu", "device_name": "CPU: test"})


def test_r1_is_the_mean_share_moved_at_c1():
    runs = [_run(1000, 1.0, 2.0, 1.7), _run(1001, 1.0, 2.0, 1.9)]  # 15% and 5%: mean 10%
    assert regime.tv_moved(runs[0]) == pytest.approx(0.15) and regime.screen(runs[0]) and not regime.screen(runs[1])
    out = regime.outcome(runs)
    assert out.moved == pytest.approx(0.10) and out.r1 and out.units == () and math.isnan(out.power) and not out.r2
    with pytest.raises(ValueError, match="C = 1"):
        regime.screen(_run(1000, 4.0, 2.0, 1.7))


def test_r2_passes_with_a_small_spread_and_fails_with_a_large_one():
    def outcome(spread):
        rs = []
        for seed, e in zip(pilots.PILOT_SEEDS, (-spread, 0.0, spread)):
            rs += [_run(seed, 1.0, 2.0, 1.6), _run(seed, 4.0, 2.0, 1.6 * math.exp(-0.1 + e))]
        return regime.outcome(rs)

    tight, wide = outcome(0.01), outcome(0.2)
    assert tight.units == pytest.approx((-0.11, -0.1, -0.09))
    assert tight.sd == pytest.approx(0.01) and tight.power > 0.95 and tight.passes
    assert wide.power < regime.R2_POWER and not wide.passes and wide.r1  # R1 holds: 20% moved at C = 1


def test_outcome_rows_name_every_run():
    rows = regime.outcome_rows([_run(1001, 4.0, 2.0, 1.8), _run(1000, 1.0, 2.0, 1.7)])
    assert [r["seed"] for r in rows] == ["1000", "1001"] and rows[0]["moved by end"] == "15.0%"
    assert all(r["file"].startswith("results/pilot-synthetic/") for r in rows)
    assert np.isfinite(float(rows[0]["TV at end"]))
