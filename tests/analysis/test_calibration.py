"""Calibration at the observed spreads (``defstab_lib/analysis/calibration.py``): false support, power, skew, the
tightened rule, reproducibility and refusals.  Vectorised: the whole file runs in a few seconds."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from scipy import stats as sps

from defstab_lib.analysis import calibration as cal
from defstab_lib.analysis.stats import SUPPORTED, VERDICTS, Rule, decide

RULE = Rule(-1, math.log(1.10), "a 10% difference")
EFFECTS = {"no effect": 0.0, "minimal": -math.log(1.10), "paper": -math.log(2.0)}
NORMAL_UNITS = sps.norm.ppf((np.arange(5) + 0.5) / 5) * 0.2 - 0.3  # symmetric, SD about 0.2


def test_false_support_under_normal_units_is_at_most_the_t_intervals_tail():
    c = cal.calibrate(NORMAL_UNITS, RULE, effects=EFFECTS, sims=4000, seed=1)
    p = c.null_rates["normal"]["0"][SUPPORTED]
    assert p <= 0.025 + 3 * math.sqrt(0.025 * 0.975 / c.sims)  # the t-interval is exact for normal units
    assert c.false_support >= p and c.power("no effect") <= c.rates["normal"]["no effect"][SUPPORTED]
    for g in cal.GENERATORS:
        for rates in (*c.rates[g].values(), *c.null_rates[g].values()):
            assert set(rates) == set(VERDICTS) and sum(rates.values()) == pytest.approx(1.0)


def test_skewed_units_raise_false_support_beyond_the_normal_case():
    """Right-skewed units (a long tail towards no effect): most small samples miss the tail, so their mean falls
    below the truth with a small SD, and a rule for a negative effect is fooled more often."""
    lognormal = np.exp(sps.norm.ppf((np.arange(5) + 0.5) / 5) * 1.2)
    skewed = cal.calibrate(lognormal, RULE, effects=EFFECTS, seed=2)
    normal = cal.calibrate(NORMAL_UNITS * lognormal.std(ddof=1) / NORMAL_UNITS.std(ddof=1), RULE,
                           effects=EFFECTS, seed=2)
    assert skewed.skew > 1 and abs(normal.skew) < 1e-9
    assert skewed.false_support > normal.false_support
    assert skewed.null_rates["resampled"]["0"][SUPPORTED] > skewed.null_rates["normal"]["0"][SUPPORTED]


def test_the_tightened_rule_supports_less_often_with_no_effect():
    units = [-1.2, -0.9, -1.1, -1.0, -0.5]
    plain = cal.calibrate(units, RULE, effects=EFFECTS)
    tight = cal.calibrate(units, cal.tightened(RULE), effects=EFFECTS)
    assert tight.rule.clear and not plain.rule.clear
    assert tight.false_support < plain.false_support
    assert tight.power("paper") <= plain.power("paper")
    assert cal.tightened(Rule(0, 0.1, "why")) == Rule(0, 0.1, "why")  # an equivalence test is unchanged


def test_power_rises_with_the_true_effect():
    effects = {f"{k}": -k * RULE.minimal for k in (0, 0.5, 1, 2, 4, 8)}
    c = cal.calibrate(NORMAL_UNITS, RULE, effects=effects, sims=2000)
    powers = [c.power(name) for name in effects]
    assert powers == sorted(powers) and powers[-1] > 0.9 and powers[0] < 0.05


def test_equivalence_rules_false_support_is_similar_at_the_margin():
    rule = Rule(0, math.log(1.10), "similar within 10%")
    c = cal.calibrate([0.01, -0.02, 0.0, 0.015, -0.005], rule, effects={"no effect": 0.0}, sims=2000)
    assert set(c.null_rates["normal"]) == {"-m", "+m"}
    assert c.false_support <= 0.05 + 3 * c.mc_se(0.05)  # "similar" at a difference of exactly m
    assert c.power("no effect") > 0.9  # truly similar: found similar


def test_reproducible_with_a_seed_and_fast():
    t0 = time.perf_counter()
    a = cal.calibrate([-1.2, -0.9, -1.1, -1.0, -0.5], RULE, effects=EFFECTS, seed=7)
    assert time.perf_counter() - t0 < 0.5
    b = cal.calibrate([-1.2, -0.9, -1.1, -1.0, -0.5], RULE, effects=EFFECTS, seed=7)
    c = cal.calibrate([-1.2, -0.9, -1.1, -1.0, -0.5], RULE, effects=EFFECTS, seed=8)
    assert a == b and a.rates != c.rates


def test_the_vectorised_path_gives_the_verdicts_decide_gives():
    units = [-1.2, -0.9, -1.1, -1.0, -0.5]
    fast = cal.calibrate(units, RULE, effects=EFFECTS, sims=300, seed=3)
    slow = cal.calibrate(units, RULE, effects=EFFECTS, sims=300, seed=3, decide_fn=lambda e, r: decide(e, r))
    assert fast.rates == slow.rates and fast.null_rates == slow.null_rates


def test_many_units_say_the_t_interval_stands_in_for_the_bootstrap():
    c = cal.calibrate(np.linspace(-0.3, 0.1, 12), RULE, effects=EFFECTS, sims=200)
    assert c.n == 12 and "BCa" in c.method and "stands in" in c.method
    assert cal.calibrate([0.1, 0.3], RULE, effects={}, n=30, sims=50).n == 30


def test_bad_input_is_refused_naming_the_argument():
    with pytest.raises(ValueError, match="units"):
        cal.calibrate([0.1], RULE, effects=EFFECTS)
    with pytest.raises(ValueError, match="units"):
        cal.calibrate([0.1, math.nan, 0.2], RULE, effects=EFFECTS)
    with pytest.raises(ValueError, match="effects"):
        cal.calibrate([0.1, 0.2], RULE, effects={"paper": math.inf})
    with pytest.raises(ValueError, match="n must"):
        cal.calibrate([0.1, 0.2], RULE, effects=EFFECTS, n=1)
    with pytest.raises(ValueError, match="rule"):
        cal.calibrate([0.1, 0.2], "rule", effects=EFFECTS)
    with pytest.raises(ValueError, match="name"):
        cal.calibrate([0.1, 0.2, 0.3], RULE, effects=EFFECTS, sims=10).power("nope")
    with pytest.raises(ValueError, match="calibrations"):
        cal.calibration_rows({"x": 1})


def test_calibration_rows_give_the_reports_table():
    c = cal.calibrate([-1.2, -0.9, -1.1, -1.0, -0.5], RULE, effects=EFFECTS)
    (row,) = cal.calibration_rows({"pooling": c})
    assert row["claim"] == "pooling" and row["n"] == "5" and row["SD"] == f"{c.sd:.3g}"
    assert row["false support"].startswith(f"{c.false_support:.1%}") and "resampled" in row["false support"]
    assert row["power at the paper's effect"].startswith(f"{c.power('paper'):.1%}")
    assert cal.calibration_rows({"x": cal.calibrate([0.1, 0.2], RULE, effects={}, sims=10)})[0]["power at minimal"] == ""
