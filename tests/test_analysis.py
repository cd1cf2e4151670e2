"""The statistics and verdicts, on results constructed so that each claim plainly holds or plainly fails."""

from __future__ import annotations

import numpy as np
import pytest

from defstab_lib import analysis
from defstab_lib.runs import ArchConfig, DataConfig, Measurement, Results, RunConfig

LAYERS = 13


def measurement(epoch: int, cosine, smoothness=None, test=0.9) -> Measurement:
    cosine = list(map(float, cosine))
    return Measurement(epoch=epoch, cosine=cosine, euclidean=cosine, noise_cosine=[c / 2 for c in cosine],
                       smoothness=list(map(float, smoothness if smoothness is not None else [1.87] * 8)),
                       train_accuracy=1.0, test_accuracy=test, train_loss=0.0, test_loss=0.0)


def run(variant: str, seed: int, init, final, *, tv_init=None, tv_final=None, strength=0.0, labels="real") -> Results:
    data = DataConfig(dataset="synthetic" if strength else "fashion-mnist", strength=strength, labels=labels)
    config = RunConfig("demo", data=data, arch=ArchConfig(downsampling=variant), epochs=2, seed=seed)
    return Results(config, [measurement(0, init, tv_init), measurement(2, final, tv_final)], [],
                   {"wall_time_s": 60.0, "device_name": "CPU: test", "date": "2026-11-21T00:00:00"})


def flat(level: float, noise: float = 0.0, seed: int = 0) -> list[float]:
    rng = np.random.default_rng(seed)
    return list(0.3 + 0 * np.arange(LAYERS) + level + noise * rng.standard_normal(LAYERS))


VARIANTS = ("subsample", "maxpool", "avgpool", "strided", "strided-relu")


def population(init_level, final_level, seeds=3, noise=0.005):
    return [run(v, s, flat(init_level[v], noise, s), flat(final_level[v], noise, 100 + s))
            for v in VARIANTS for s in range(seeds)]


def test_pooling_at_init_and_convergence_supported_when_the_data_say_so():
    init = {"subsample": 0.3, "maxpool": 0.0, "avgpool": -0.05, "strided": 0.25, "strided-relu": 0.3}
    final = {v: 0.1 for v in VARIANTS}
    results = population(init, final)
    assert analysis.pooling_at_init(results).verdict == analysis.SUPPORTED
    v3 = analysis.convergence_after_training(results)
    assert v3.verdict == analysis.SUPPORTED and v3.numbers["ratio"] < 0.2
    v2 = analysis.training_changes_pattern(results)
    assert v2.verdict == analysis.SUPPORTED and v2.numbers["increases"] > 0


def test_verdicts_flip_when_the_data_contradict_the_paper():
    init = {v: 0.1 for v in VARIANTS}
    init.update(maxpool=0.3, avgpool=0.3)  # pooling *less* stable at init
    final = {"subsample": 0.5, "maxpool": 0.0, "avgpool": 0.1, "strided": 0.4, "strided-relu": 0.45}
    results = population(init, final)
    assert analysis.pooling_at_init(results).verdict == analysis.NOT_SUPPORTED
    assert analysis.convergence_after_training(results).verdict == analysis.NOT_SUPPORTED


def test_training_changes_pattern_needs_two_seeds_and_sees_no_change_in_noise():
    same = {v: 0.1 for v in VARIANTS}
    assert analysis.training_changes_pattern(population(same, same, seeds=1)).verdict == analysis.INCONCLUSIVE
    v = analysis.training_changes_pattern(population(same, same, seeds=3, noise=0.05))
    assert v.numbers["increases"] + v.numbers["decreases"] <= 0.2 * v.numbers["cells"]


def test_smoothing_and_strength_correlations():
    sigmas = [0, 0, 1, 1, 2, 2]
    falling = np.array([[0.3] + [0.5 - 0.1 * s] * 12 for s in sigmas])
    assert analysis.smoothing_stabilises(sigmas, falling).verdict == analysis.SUPPORTED
    assert analysis.smoothing_stabilises(sigmas, falling[::-1]).verdict == analysis.NOT_SUPPORTED

    smoother = [run("maxpool", s, flat(0), flat(0), tv_init=[1.87] * 8, tv_final=[1.8 - 0.1 * c] * 8, strength=c)
                for c in (1.0, 2.0, 3.0, 4.0) for s in range(2)]
    v5 = analysis.stronger_tasks_smoother(smoother)
    assert v5.verdict == analysis.SUPPORTED and v5.numbers["rho"] < -0.9
    rougher = [run("maxpool", s, flat(0), flat(0), tv_final=[1.5 + 0.1 * c] * 8, strength=c)
               for c in (1.0, 2.0, 3.0, 4.0) for s in range(2)]
    assert analysis.stronger_tasks_smoother(rougher).verdict == analysis.NOT_SUPPORTED


def test_training_smooths():
    smoothed = [run(v, s, flat(0), flat(0), tv_init=[1.87] * 8, tv_final=[1.5] * 8) for v in VARIANTS for s in range(2)]
    assert analysis.training_smooths(smoothed).verdict == analysis.SUPPORTED
    roughened = [run(v, s, flat(0), flat(0), tv_init=[1.87] * 8, tv_final=[1.9] * 8) for v in VARIANTS for s in range(2)]
    assert analysis.training_smooths(roughened).verdict == analysis.NOT_SUPPORTED


def test_random_labels_depend_on_architecture():
    real = population({v: 0.1 for v in VARIANTS}, {v: 0.2 for v in VARIANTS})
    spread = {"subsample": 0.5, "maxpool": 0.0, "avgpool": 0.1, "strided": 0.3, "strided-relu": 0.4}
    random = population({v: 0.1 for v in VARIANTS}, spread)
    assert analysis.random_labels_depend_on_architecture(random, real).verdict == analysis.SUPPORTED
    assert analysis.random_labels_depend_on_architecture(real, random).verdict == analysis.NOT_SUPPORTED


def test_between_spread_is_relative():
    a = {"x": np.array([[1.0, 2.0]]), "y": np.array([[3.0, 2.0]])}
    assert analysis.between_spread(a).tolist() == [0.5, 0.0]
    doubled = {k: 2 * v for k, v in a.items()}
    assert analysis.between_spread(doubled).tolist() == [0.5, 0.0]
    assert analysis.between_spread(doubled, relative=False).tolist() == [2.0, 0.0]


def test_tables_and_notes():
    results = population({v: 0.1 for v in VARIANTS}, {v: 0.2 for v in VARIANTS}, seeds=2)
    rows = analysis.accuracy_rows(analysis.group_by(results))
    assert [r["network"] for r in rows] == list(VARIANTS) and rows[0]["test accuracy"] == "0.900 ± 0.000"
    note = analysis.compute_note(results, trained_now=3)
    assert note.startswith("10 runs, 10.0 min") and "3 of them were trained" in note
    with pytest.raises(ValueError, match="no results"):
        analysis.profile_array([])
