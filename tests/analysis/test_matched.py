"""Claim 5 at matched training loss (``defstab_lib/analysis/matched.py``; the standard profile's synthetic
comparison, results/pilot-synthetic/RULE.md), on constructed runs whose TV at the matched loss and after training
point in opposite directions, so that a comparison made at the wrong moment gives the wrong verdict."""

from __future__ import annotations


import pytest

from defstab_lib import analysis
from defstab_lib.analysis.matched import (
    at_training_loss,
    comparison_rows,
    comparison_sentence,
    matched_loss_level,
    still_changing,
    trajectories,
)
from defstab_lib.runs import DataConfig, Measurement, Results, RunConfig, get_profile


def _m(epoch: float, loss: float, tv: float) -> Measurement:
    return Measurement(epoch=epoch, cosine=[0.2] * 13, euclidean=[0.2] * 13, noise_cosine=[0.1] * 13,
                       smoothness=[tv] * 8, train_accuracy=0.5, test_accuracy=0.5, train_loss=loss, test_loss=loss)


def run(profile: str, c: float, seed: int, tv_mid: float, tv_end: float) -> Results:
    """Loss 2.3 -> 1.0 (epoch 2, TV ``tv_mid``) -> 0.01 (epoch 4, TV ``tv_end``): L* = 1.0 lands on epoch 2."""
    config = RunConfig("synthetic", data=DataConfig(dataset="synthetic", strength=c), seed=seed, profile=profile,
                       epochs=4)
    tvs = [1.85, (1.85 + tv_mid) / 2, tv_mid, (tv_mid + tv_end) / 2, tv_end]
    losses = [2.3, 1.8, 1.0, 0.1, 0.01]
    return Results(config, [_m(e, loss, tv) for e, loss, tv in zip(range(5), losses, tvs)], [], {})


def population(profile: str, mid: dict[float, float], end: dict[float, float]) -> list[Results]:
    return [run(profile, c, s, mid[c] * (1 + 0.002 * s), end[c] * (1 + 0.002 * s)) for c in mid for s in range(5)]


# smoother at the matched loss for stronger tasks (1.80 -> 1.60), but rougher after training (1.50 -> 1.70)
MID = {1.0: 1.80, 2.0: 1.73, 3.0: 1.66, 4.0: 1.60}
END = {1.0: 1.50, 2.0: 1.57, 3.0: 1.63, 4.0: 1.70}


def test_standard_compares_at_the_matched_loss_and_cpu_after_training():
    assert get_profile("standard").synthetic_matched_loss == 1.0 and get_profile("cpu").synthetic_matched_loss is None
    at_loss = analysis.stronger_tasks_smoother(population("standard", MID, END))
    assert at_loss.verdict == analysis.SUPPORTED and at_loss.effect == pytest.approx(1.60 / 1.80, rel=0.02)
    assert "matched training loss 1 nat," in at_loss.statistic
    after = analysis.stronger_tasks_smoother(population("cpu", MID, END))
    assert after.verdict == analysis.CONTRADICTED and "trained filters" in after.statistic


def test_a_seed_that_never_reaches_the_level_is_left_out():
    runs = population("standard", MID, END)
    stuck = runs[0]  # C = 1, seed 0: its loss never falls below 1.5
    for m in stuck.measurements:
        m.train_loss = max(m.train_loss, 1.5)
    v = analysis.stronger_tasks_smoother(runs)
    assert v.n_independent == 4 and v.runs == 16


def test_interpolation_in_log_loss_and_the_pilot_criterion():
    r = run("standard", 1.0, 0, 1.7, 1.6)
    assert at_training_loss(r, "epoch", 1.0) == pytest.approx(2.0)
    # half-way in log(loss) between epoch 2 (loss 1.0) and epoch 3 (loss 0.1)
    assert at_training_loss(r, "epoch", 0.1 ** 0.5) == pytest.approx(2.5)
    assert at_training_loss(r, "smoothness", 0.001) is None
    check = still_changing(r, 1.0)  # TV 1.85 -> 1.70 at L* -> 1.60: 40% of the change still ahead
    assert check["remaining_share"] == pytest.approx(0.4) and check["passes"]
    assert not still_changing(run("standard", 1.0, 0, 1.605, 1.6), 1.0)["passes"]  # 2% ahead: frozen


def test_chapter_helpers_name_where_the_comparison_is_made():
    groups = analysis.group_by(population("standard", MID, END), "strength")
    rows = comparison_rows(groups, 1.0)
    assert [r["reached L*"] for r in rows] == [5, 5, 5, 5]
    assert rows[-1]["TV at L*"] == pytest.approx(1.60, rel=0.01) and rows[-1]["TV after training"] > 1.69
    curves, points = trajectories(groups, 1.0)
    assert list(curves) == ["C = 1", "C = 2", "C = 3", "C = 4"] and len(points["C = 4"]) == 5
    assert "matched training loss" in comparison_sentence(population("standard", MID, END))
    assert "after training" in comparison_sentence(population("cpu", MID, END))
    assert "TV at L*" not in comparison_rows(groups, None)[0]
    with pytest.raises(ValueError, match="different matched losses"):
        matched_loss_level(population("standard", MID, END) + population("cpu", MID, END))
