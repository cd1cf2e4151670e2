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


# ------------------------------------------------------------------------------------------------ the chapter

def _measured(model: str = "efficientnet-lite0", weights: str = "trained", top1: float = 0.8, shift: float = -1.0):
    from defstab_lib.runs.imagenet import ImageNetNetworks, Network

    rng = np.random.default_rng(7)
    k, n_layers, n = 4, 5, 6
    def net(shape, s=0.0):
        d = np.clip(np.exp(rng.normal(np.log(0.3) + s, 0.1, shape)), 0, 2)
        return d

    trained = Network(net((n_layers, n), shift), net((n_layers, n)), np.ones(n_layers), net((n_layers, n), shift))
    inits = {"recalibrated": Network(net((k, n_layers, n)), net((k, n_layers, n)), np.ones((k, n_layers)),
                                     net((k, n_layers, n))),
             "as-built": Network(net((k, n_layers, n)), net((k, n_layers, n)), np.ones((k, n_layers)))}
    return ImageNetNetworks(model=model, weights=weights, layers=["input", "a", "b", "c", "d"],
                            images=[f"ImageNet x{i}" for i in range(n - 1)] + ["photo rocket"], trained=trained,
                            inits=inits, accuracy={"n": 20, "top1": top1, "top5": 0.9, "labels": [1, 2],
                                                   "top5_classes": [[1, 0, 3, 4, 5], [0, 2, 3, 4, 5]]},
                            batchnorm=True, seconds={"trained": 1.0}, params={"worst_steps": 10}, provenance={})


def test_chapter_verdicts_judge_the_primary_condition_with_the_rest_beside():
    m = _measured()
    found = imagenet.chapter_verdicts(m, n_boot=20)
    assert set(found) == {"D", "as-built", "R", "worst"}
    head = found["D"][0]
    assert head.role == "claim" and head.verdict == SUPPORTED and len(found["D"]) == 5
    assert [b.numbers["label"] for b in head.beside] == ["D, BatchNorm as built", "R = D / G, BatchNorm recalibrated",
                                                        "worst-case D, BatchNorm recalibrated"]
    assert all(b.role == "beside" for b in head.beside)
    rows = imagenet.layer_rows(m, found)
    assert [r["layer"] for r in rows] == ["later layers", "a", "b", "c", "d"] and rows[0]["verdict"] == SUPPORTED
    words = imagenet.findings(m, found)
    assert set(words) == {"headline", "layers", "as_built", "noise", "worst", "probe_cost"}
    assert "supported" in words["headline"] and "4 of 4 layers" in words["layers"]


def test_a_pooled_model_is_named_as_such_in_its_claim():
    found = imagenet.chapter_verdicts(_measured(model="resnet18"), n_boot=10)
    assert found["D"][0].claim.startswith("a network with pooling layers (resnet18)")


def test_weights_that_fail_the_accuracy_check_stop_the_page_in_one_line():
    bad = _measured(top1=0.1)
    with pytest.raises(ValueError, match="10% of 20 labelled") as info:
        imagenet.require_sensible(bad)
    assert "\n" not in str(info.value)
    imagenet.require_sensible(_measured())
    imagenet.require_sensible(_measured(weights="random", top1=0.0))  # structure only: not checked
    assert "structure only" in imagenet.check_findings(_measured(weights="random", top1=0.0))["accuracy"]


def test_accuracy_rows_name_the_classes():
    rows = imagenet.accuracy_rows(_measured(), [f"class {i}" for i in range(10)])
    assert rows == [{"image's class": "class 1", "top-1 prediction": "class 1", "top-1": "yes", "top-5": "yes"},
                    {"image's class": "class 2", "top-1 prediction": "class 0", "top-1": "no", "top-5": "yes"}]
