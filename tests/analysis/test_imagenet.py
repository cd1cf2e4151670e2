"""The ImageNet chapter's pre-registered test: its false-support rate and power by simulation, and its arithmetic."""

from __future__ import annotations

import math

import numpy as np
import pytest

from defstab_lib.analysis import imagenet
from defstab_lib.analysis.stats import SUPPORTED


def _simulate(rng, shift: float, k: int = 10, layers: int = 3, n: int = 24):
    """Per-image distances of a trained network and ``k`` initialisations on one shared probe: per network and layer
    a network effect (sd 0.2 on the log scale), per image and layer an image effect shared by every network (sd 0.5),
    and per-image noise (sd 0.1).  The trained network is one more draw from the initialisations' distribution,
    moved by ``shift`` (log scale); medians 1."""
    image = rng.normal(0, 0.5, (layers, n))
    nets = rng.normal(0, 0.2, (k + 1, layers, 1))
    nets[0] += shift
    d = np.exp(nets + image[None] + rng.normal(0, 0.1, (k + 1, layers, n)))
    return d[0], np.ones(layers), d[1:], np.ones((k, layers))


def _support_rate(shift: float, sims: int = 300, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    hits = 0
    for s in range(sims):
        tp, tm, ip, im = _simulate(rng, shift)
        v = imagenet.compare(tp, tm, ip, im, ["input", "a", "b"], n_boot=60, seed=s)[0]
        hits += v.verdict == SUPPORTED
    return hits / sims


def test_false_support_rate_when_the_trained_network_is_one_more_initialisation():
    # Nominal 2.5% (one side of a 95% interval); a mean-only interval (no "+1" term) would support ~50% here.
    assert _support_rate(0.0) <= 0.05


def test_power_when_training_lowers_sensitivity_by_half():
    assert _support_rate(math.log(0.5), sims=100, seed=1) >= 0.8


def test_a_mean_only_interval_would_be_far_too_liberal():
    """The "+1" term matters: the same data judged by an interval of the initialisations' mean support often."""
    rng = np.random.default_rng(2)
    hits = 0
    for _ in range(200):
        tp, tm, ip, im = _simulate(rng, 0.0)
        units = imagenet.unit_effects(imagenet.sensitivity(tp, tm), imagenet.sensitivity(ip, im))[:, 1:].mean(1)
        x = units - units.mean()  # the effect, re-centred at its realised trained draw
        hits += abs(units.mean()) > 2.3 * x.std(ddof=1) / math.sqrt(len(units))
    assert hits / 200 > 0.3


def test_compare_gives_the_headline_first_then_every_layer_and_the_probe_share():
    rng = np.random.default_rng(3)
    tp, tm, ip, im = _simulate(rng, math.log(0.3), layers=5)
    found = imagenet.compare(tp, tm, ip, im, ["input", "l1", "l2", "l3", "l4"], n_boot=50)
    assert [v.numbers["layer"] for v in found] == ["later layers", "l1", "l2", "l3", "l4"]
    assert found[0].verdict == SUPPORTED and found[0].effect < 1
    assert all(0 < v.numbers["probe_share"] < 1 for v in found)
    assert all(v.numbers["half_width"] > v.numbers["half_width_without_probe"] for v in found)
    expected = np.exp(np.mean(np.log(imagenet.sensitivity(tp, tm)[3:]) - np.log(imagenet.sensitivity(ip, im)[:, 3:]),
                              axis=1).mean())
    assert found[0].effect == pytest.approx(expected)


def test_ratio_to_noise_cancels_the_medians():
    rng = np.random.default_rng(4)
    tp, tm, ip, im = _simulate(rng, 0.0)
    noise_t, noise_i = tp * 2.0, ip * 2.0
    r = imagenet.compare(tp, tm * 7.0, ip, im * 3.0, ["input", "a", "b"], denominator=(noise_t, noise_i), n_boot=10)
    assert r[0].effect == pytest.approx(1.0)


def test_prediction_interval_is_wider_than_the_mean_interval_by_the_trained_draw():
    e = imagenet.prediction_estimate([0.1, -0.1, 0.2, -0.2])
    sd = np.std([0.1, -0.1, 0.2, -0.2], ddof=1)
    assert (e.high - e.low) / 2 == pytest.approx(3.182446 * sd * math.sqrt(1 + 1 / 4), rel=1e-5)


@pytest.mark.parametrize("bad", [np.ones((3, 24)), np.ones((2, 3, 24, 1))])
def test_bad_shapes_are_refused_naming_what_is_expected(bad):
    with pytest.raises(ValueError, match=r"init per-image \(K, L, N\)"):
        imagenet.compare(np.ones((3, 24)), np.ones(3), bad, np.ones((2, 3)), ["input", "a", "b"])


def test_later_layers_are_the_second_half_after_the_input():
    assert imagenet.later_layers(19) == slice(10, None)
    with pytest.raises(ValueError, match="n_layers"):
        imagenet.later_layers(2)
