"""The worst-case chapter's analysis (``defstab_lib/analysis/worstcase.py``): arrays from protocol-2 results,
the four pre-registered rules on constructed data (each verdict flipped by the data), their calibration by
simulation, trajectories of the stored runs, and the chapter's stored defaults."""

from __future__ import annotations

import math

import numpy as np
import pytest

from defstab_lib import runs
from defstab_lib.analysis import stats, worstcase as wc
from defstab_lib.runs import ArchConfig, ProbeConfig, ResultsStore, RunConfig, experiment_configs
from defstab_lib.runs.store import Measurement, Protocol2Fields, Results

from tests.helpers import ROOT


LAYERS = 13


def measurement(epoch, *, worst=(0.6, 0.7, 0.8), random=(0.2, 0.2, 0.3), d_slope=0.0, g_slope=0.0, r_f=1.0,
                accuracy=0.9, rng=None) -> Measurement:
    """A protocol-2 measurement with D, G growing geometrically with depth (``exp(slope * layer)``)."""
    noise = (lambda: 1 + 0.02 * rng.standard_normal()) if rng is not None else (lambda: 1.0)
    layer = np.arange(LAYERS)
    d = (0.3 * np.exp(d_slope * layer) * noise()).tolist()
    g = (0.1 * np.exp(g_slope * layer) * noise()).tolist()
    return Measurement(
        epoch=epoch, cosine=d, euclidean=d, noise_cosine=g, smoothness=[1.8] * 8, train_accuracy=accuracy,
        test_accuracy=accuracy, train_loss=0.3, test_loss=0.3, v2=Protocol2Fields(
            noise_euclidean=g, median_cosine=[0.5] * LAYERS, median_euclidean=[5.0] * LAYERS,
            worst_case={"layers": [4, 8, 12], "worst": [w * noise() for w in worst], "random": list(random),
                        "loss_worst": 3.0, "loss_random": 0.5, "loss_clean": 0.3},
            sine={"temperature": 1e-3, "cutoff": 3, "displacement": 1.0, "D_f": r_f, "G_f": 1.0, "R_f": r_f},
            adef={"max_displacement": [1.0, 2.0, 3.0], "flipped": [True, True, False], "correct": [True, True, True]}),
    )


def networks(n=6, seed=0, **final) -> list[Results]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        config = RunConfig("fake", arch=ArchConfig(downsampling=("subsample", "maxpool")[i % 2]), seed=i // 2,
                           epochs=1, probe=ProbeConfig(protocol=2))
        out.append(Results(config, [measurement(0, rng=rng), measurement(1, rng=rng, **final)], [], {}))
    return out


# ------------------------------------------------------------------------------------------------ verdicts flip


@pytest.mark.parametrize("worst, expected", [((0.6, 0.7, 0.8), stats.SUPPORTED), ((0.205, 0.2, 0.31), stats.NO_EFFECT),
                                             ((0.1, 0.1, 0.15), stats.CONTRADICTED)])
def test_worst_case_verdict_follows_the_data(worst, expected):
    v = wc.worst_exceeds_random(networks(worst=worst))
    assert v.verdict == expected, v.value
    assert v.n_independent == 6 and v.ci_low <= v.effect <= v.ci_high


@pytest.mark.parametrize("g_slope, expected", [(0.1, stats.SUPPORTED), (-0.1, stats.CONTRADICTED), (0.0, stats.NO_EFFECT)])
def test_noise_depth_verdict_follows_the_data(g_slope, expected):
    assert wc.noise_rises_with_depth(networks(g_slope=g_slope)).verdict == expected


@pytest.mark.parametrize("d_slope, expected", [(-0.1, stats.SUPPORTED), (0.1, stats.CONTRADICTED)])
def test_deformation_depth_verdict_follows_the_data(d_slope, expected):
    assert wc.deformation_falls_with_depth(networks(d_slope=d_slope)).verdict == expected


@pytest.mark.parametrize("accuracy, r_f, expected", [(0.9, 0.25, stats.SUPPORTED),   # error 0.1 = 0.2 * 0.5
                                                     (0.5, 0.0025, stats.CONTRADICTED)])  # error 0.5 vs 0.01
def test_petrini_verdict_follows_the_data(accuracy, r_f, expected):
    rs = networks(accuracy=accuracy, r_f=r_f)
    for k, r in enumerate(rs):  # some spread between networks
        r.measurements[-1].test_accuracy = accuracy + 0.01 * (k - 2.5) / 2.5 * (1 - accuracy)
    assert wc.petrini_line(rs).verdict == expected


def test_an_undecided_verdict_says_how_many_networks_would_decide_it():
    rs = networks(n=3, worst=(0.25, 0.25, 0.4))
    for k, r in enumerate(rs):
        r.final.v2.worst_case["worst"] = [w * (1.0, 1.6, 0.9)[k] for w in r.final.v2.worst_case["worst"]]
    v = wc.worst_exceeds_random(rs)
    assert v.verdict == stats.INCONCLUSIVE and v.n_needed > 3


def test_units_on_known_values():
    assert np.allclose(wc.worst_units([[2.0, 4.0]], [[1.0, 1.0]]), [math.log(8) / 2])
    values = np.exp(0.2 * np.arange(LAYERS))[None, :]
    assert np.allclose(wc.depth_units(values), [0.2 * (LAYERS - 2)])
    assert np.allclose(wc.petrini_units([0.1], [0.5]), [0.0])


# ------------------------------------------------------------------------------------------------ calibration


@pytest.mark.parametrize("key, effect", [("worst-case", math.log(2.0)), ("noise-depth", math.log(2.0)),
                                         ("deformation-depth", -math.log(2.0))])
def test_rules_find_a_planned_effect_and_rarely_claim_one_that_is_absent(key, effect):
    """6 independent networks (the stored experiment), unit spread 0.2 on the log scale: a true factor 2 is
    found in >= 80% of simulations; with no effect 'supported' is said in <= 5%."""
    rule, rng = wc.CLAIMS[key].rule, np.random.default_rng(1)
    found = np.mean([stats.decide(stats.interval(effect + 0.2 * rng.standard_normal(6)), rule) == stats.SUPPORTED
                     for _ in range(2000)])
    false = np.mean([stats.decide(stats.interval(0.2 * rng.standard_normal(6)), rule) == stats.SUPPORTED
                     for _ in range(2000)])
    assert found >= 0.8 and false <= 0.05, (found, false)


def test_equivalence_rule_is_calibrated():
    rule, rng = wc.CLAIMS["petrini"].rule, np.random.default_rng(2)
    on_line = np.mean([stats.decide(stats.interval(0.2 * rng.standard_normal(6)), rule) == stats.SUPPORTED for _ in range(2000)])
    at_edge = np.mean([stats.decide(stats.interval(math.log(2.0) + 0.2 * rng.standard_normal(6)), rule) == stats.SUPPORTED
                       for _ in range(2000)])
    assert on_line >= 0.8 and at_edge <= 0.05, (on_line, at_edge)


# ------------------------------------------------------------------------------------------------ bad input


def test_protocol_1_results_are_refused_with_a_reason():
    v1 = [r for r in ResultsStore(runs.store.results_root()).stored("pooling") if r.config.probe.protocol == 1][:2]
    with pytest.raises(ValueError, match="protocol 1"):
        wc.worst_exceeds_random(v1)
    with pytest.raises(ValueError, match="at least one run"):
        wc.petrini_line([])


def test_trajectories_and_flips():
    rs = networks()
    epochs, values = wc.trajectory(rs, "tv")
    assert epochs.tolist() == [0, 1] and values.shape == (6, 2)
    with pytest.raises(ValueError, match="quantity"):
        wc.trajectory(rs, "nope")
    v1 = [r for r in ResultsStore(runs.store.results_root()).stored("pooling") if r.config.probe.protocol == 1][:2]
    assert wc.trajectory(v1, "sensitivity")[1].shape == (2, len(v1[0].measurements))
    with pytest.raises(ValueError, match="protocol 1"):
        wc.trajectory(v1, "worst")
    rows = wc.label_flips(rs)
    assert rows[0]["median_px"] == 1.5 and rows[0]["flipped"] == pytest.approx(2 / 3)


# ------------------------------------------------------------------------------------------------ the chapter


def test_the_chapters_defaults_are_stored_and_measured_with_protocol_2():
    """The chapter's default parameters train nothing: every run is in the store (committed)."""
    store = ResultsStore(runs.store.results_root())
    configs = experiment_configs("worst-case", "cpu", seeds=3, downsampling=["subsample", "maxpool"])
    assert [store.state(c) for c in configs] == ["stored"] * len(configs)
    results = [store.load(c) for c in configs]
    assert all(len(v.unit_effects) == 6 for v in wc.chapter_verdicts(results))


def test_trajectory_summary_of_the_stored_runs():
    from defstab_lib.analysis import worstcase

    stored = [r for r in runs.ResultsStore(ROOT / "results").stored("pooling") if r.config.profile == "cpu"]
    epochs, values = worstcase.trajectory(stored, "tv")
    s = worstcase.trajectory_summary(epochs, values)
    assert s["n"] == len(stored) and 0 <= s["monotone"] <= s["n"]
    assert s["start"] == pytest.approx(values[:, 0].mean()) and s["end"] == pytest.approx(values[:, -1].mean())
    assert s["half_epoch"] in set(epochs[1:].tolist()) and s["last_epoch"] == epochs[-1]
    with pytest.raises(ValueError, match="epochs must be"):
        worstcase.trajectory_summary([0.0], values[:, :1])
