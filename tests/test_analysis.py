"""The statistics and verdicts, on results constructed so that each claim plainly holds or plainly fails."""

from __future__ import annotations

import numpy as np
import pytest

from defstab_lib import analysis, runs
from defstab_lib.runs.load import compute_note
from defstab_lib.runs import ArchConfig, DataConfig, Measurement, RandomNetworks, Results, RunConfig

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
    return [run(v, s, flat(init_level[v], noise, 10 * s + i), flat(final_level[v], noise, 100 + 10 * s + i))
            for i, v in enumerate(VARIANTS) for s in range(seeds)]


def test_pooling_at_init_and_convergence_supported_when_the_data_say_so():
    init = {"subsample": 0.3, "maxpool": 0.0, "avgpool": -0.05, "strided": 0.25, "strided-relu": 0.3}
    final = {v: 0.1 for v in VARIANTS}
    results = population(init, final)
    v1 = analysis.pooling_at_init(results)
    assert v1.verdict == analysis.SUPPORTED and v1.ci_high < 1 / 1.1 and v1.n_independent == 3
    assert v1.effect == pytest.approx(np.exp(np.mean(np.log([0.3, 0.25])) - np.mean(np.log([0.6, 0.55, 0.6]))),
                                      rel=0.02)
    v3 = analysis.convergence_after_training(results)
    assert v3.verdict == analysis.SUPPORTED and 1 / 1.1 < v3.ci_low < v3.ci_high < 1.1
    v2 = analysis.training_changes_pattern(results)  # early layers: 0.6 -> 0.4 etc.: falls, against the paper
    assert v2.verdict == analysis.CONTRADICTED and v2.effect < 1
    head = analysis.unpooled_learn_stability(results)
    assert head.verdict == analysis.SUPPORTED and head.beside[0].role == "beside" and head.beside[0].effect > 1


def test_verdicts_flip_when_the_data_contradict_the_paper():
    init = {v: 0.1 for v in VARIANTS}
    init.update(maxpool=0.3, avgpool=0.3)  # pooling *less* stable at init
    final = {"subsample": 0.5, "maxpool": 0.0, "avgpool": 0.1, "strided": 0.4, "strided-relu": 0.45}
    results = population(init, final)
    assert analysis.pooling_at_init(results).verdict == analysis.CONTRADICTED
    assert analysis.convergence_after_training(results).verdict == analysis.CONTRADICTED
    assert analysis.training_changes_pattern(results).verdict == analysis.SUPPORTED
    assert analysis.unpooled_learn_stability(results).verdict == analysis.CONTRADICTED


def test_noise_alone_is_no_meaningful_effect_or_inconclusive_with_how_many_would_decide():
    same = {v: 0.1 for v in VARIANTS}
    v = analysis.training_changes_pattern(population(same, same, seeds=3, noise=0.001))
    assert v.verdict == analysis.NO_EFFECT
    noisy = analysis.training_changes_pattern(population(same, same, seeds=3, noise=0.1))
    assert noisy.verdict == analysis.INCONCLUSIVE and noisy.n_needed > 3
    one = analysis.training_changes_pattern(population(same, same, seeds=1))
    assert one.verdict == analysis.INCONCLUSIVE and one.n_needed is None and one.n_independent == 1


def random_networks(conditions, cosine):
    cosine = np.asarray(cosine, dtype=float)
    return RandomNetworks(conditions=list(conditions), cosine=cosine, distance=cosine, median=np.ones_like(cosine),
                          noise_cosine=cosine / 2, smoothness=np.ones(cosine.shape[:2] + (8,)), n_images=16,
                          width=0.5, dataset="test", provenance={})


def test_random_network_claims_pair_by_draw():
    rng = np.random.default_rng(0)
    draw = rng.normal(0, 0.3, size=(12, 1, 1))  # a draw's own level, shared by its variants (pairing)
    level = np.array([1.0, 0.6, 0.6, 1.0, 1.0])[None, :, None]
    cosine = np.transpose(0.3 * level * np.exp(draw + rng.normal(0, 0.02, (12, 5, LAYERS))), (1, 0, 2))
    v1 = analysis.pooling_at_init(random_networks(VARIANTS, cosine))
    assert v1.verdict == analysis.SUPPORTED and v1.effect == pytest.approx(0.6, rel=0.03)
    assert v1.method.startswith("BCa bootstrap over 12") and v1.numbers["unit"] == "draw"
    sig = random_networks([0.0, 1.0, 4.0], cosine[[0, 1, 2]])
    v4 = analysis.smoothing_stabilises(sig, beside=[sig])
    assert v4.verdict == analysis.SUPPORTED and v4.beside[0].role == "beside"
    assert "draws" in analysis.sentence(v4)


def test_strength_and_training_smooth_filters():
    smoother = [run("maxpool", s, flat(0), flat(0), tv_init=[1.87] * 8,
                    tv_final=list(np.array([1.8 - 0.1 * c] * 8) * (1 + 0.01 * s)), strength=c)
                for c in (1.0, 2.0, 3.0, 4.0) for s in range(3)]
    v5 = analysis.stronger_tasks_smoother(smoother)
    assert v5.verdict == analysis.SUPPORTED and v5.effect == pytest.approx(1.4 / 1.7, rel=0.02)
    rougher = [run("maxpool", s, flat(0), flat(0), tv_final=list(np.array([1.5 + 0.1 * c] * 8) * (1 + 0.01 * s)),
                   strength=c) for c in (1.0, 2.0, 3.0, 4.0) for s in range(3)]
    assert analysis.stronger_tasks_smoother(rougher).verdict == analysis.CONTRADICTED
    smoothed = [run(v, s, flat(0), flat(0), tv_init=[1.87] * 8, tv_final=[1.5 + 0.01 * s] * 8)
                for v in VARIANTS for s in range(3)]
    assert analysis.training_smooths(smoothed).verdict == analysis.SUPPORTED
    roughened = [run(v, s, flat(0), flat(0), tv_init=[1.87] * 8, tv_final=[1.95 + 0.01 * s] * 8)
                 for v in VARIANTS for s in range(3)]
    assert analysis.training_smooths(roughened).verdict == analysis.CONTRADICTED


def test_random_labels_depend_on_architecture():
    real = population({v: 0.1 for v in VARIANTS}, {v: 0.2 for v in VARIANTS}, noise=0.01)
    spread = {"subsample": 0.5, "maxpool": 0.0, "avgpool": 0.1, "strided": 0.3, "strided-relu": 0.4}
    random = population({v: 0.1 for v in VARIANTS}, spread, noise=0.01)
    v7 = analysis.random_labels_depend_on_architecture(random, real)
    assert v7.verdict == analysis.SUPPORTED and v7.effect > 5
    assert analysis.random_labels_depend_on_architecture(real, random).verdict == analysis.CONTRADICTED


def test_json_and_rendering_of_a_verdict():
    v = analysis.pooling_at_init(population({"subsample": 0.3, "maxpool": 0.0, "avgpool": -0.05, "strided": 0.25,
                                             "strided-relu": 0.3}, {v: 0.1 for v in VARIANTS}))
    d = analysis.to_json(v)
    for field in ("claim", "figure", "statistic", "effect", "ci_low", "ci_high", "minimal_effect", "n_independent",
                  "verdict", "rule"):
        assert field in d
    assert "n_needed" not in d and d["minimal_effect"] == pytest.approx(1 / 1.1)
    assert "t-interval" in d["method"] and "Minimal effect" in d["rule"]
    assert "95% CI" in analysis.sentence(v) and "CI" in analysis.what_would_change(v)
    html = analysis.verdict_table([v])
    assert "data-verdict='supported'" in html and "95% CI" in html
    old = analysis.Verdict(claim="c", statistic="s", value="v", rule="r", verdict=analysis.NOT_SUPPORTED, runs=2)
    assert analysis.sentence(old) == "not supported: v"  # the first verdicts' fields still construct one


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
    note = compute_note(results, trained=3)
    assert note.startswith("10 runs, 10.0 min") and "3 of them were trained" in note
    with pytest.raises(ValueError, match="no results"):
        analysis.profile_array([])


def test_random_networks_are_independent_draws_paired_within_and_stored_rounded(tmp_path):
    store = runs.ResultsStore(tmp_path)
    nets = runs.pooling_init(downsampling=["subsample", "maxpool"], draws=2, n_images=8, width=0.125, store=store,
                             device="cpu")
    assert nets.cosine.shape == (2, 2, LAYERS) and nets.smoothness.shape == (2, 2, 8)
    assert np.allclose(nets.smoothness[0], nets.smoothness[1])  # the same conv weights in both variants of a draw
    assert not np.allclose(nets.smoothness[0, 0], nets.smoothness[0, 1])  # and different weights between draws
    assert np.allclose(nets.cosine, nets.distance / nets.median, rtol=2e-3)  # numerator / denominator, 4 digits
    assert all(len(f"{x:.10g}".replace("-", "").replace(".", "").lstrip("0")) <= 4 for x in nets.cosine.ravel())
    smooth = runs.smooth_init(sigmas=[0.0, 2.0], seeds=2, n_images=8, width=0.125, store=store, device="cpu")
    assert smooth.sigmas == [0.0, 2.0] and (smooth.smoothness[1] < smooth.smoothness[0]).all()
    with pytest.raises(LookupError, match="not in the results store"):
        runs.smooth_init(sigmas=[0.0, 1.0], seeds=2, n_images=8, width=0.125, store=store, stored_only=True)
    with pytest.raises(ValueError, match="downsampling"):
        runs.pooling_init(downsampling=["maxpool", "maxpool"], store=store)
    with pytest.raises(TypeError, match="draws"):
        runs.pooling_init(draws=2.0, store=store)


def test_report_command_gives_every_verdict_with_its_fields(capsys):
    """On the committed results store (the cpu profile): all eight verdicts, machine-readable."""
    import json

    from defstab_lib import cli

    assert cli.main(["report", "--json"]) == 0
    claims = json.loads(capsys.readouterr().out)
    assert [c["number"] for c in claims] == ["H", "1", "2", "3", "4", "5", "6", "7"]
    for c in claims:
        for field in ("claim", "figure", "statistic", "effect", "ci_low", "ci_high", "minimal_effect",
                      "n_independent", "verdict", "rule"):
            assert c[field] is not None, (c["number"], field)
        assert c["verdict"] in analysis.VERDICTS and c["ci_low"] <= c["effect"] <= c["ci_high"]
        assert ("n_needed" in c) == (c["verdict"] == analysis.INCONCLUSIVE)
    one, four = claims[1], claims[4]
    assert one["verdict"] == four["verdict"] == analysis.SUPPORTED and one["n_independent"] >= 30
    assert one["ci_high"] < 1 and four["ci_high"] < 1  # the CIs exclude no effect
    assert cli.main(["report"]) == 0 and "beside" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_:
        cli.main(["report", "--profile", "nope"])
    assert exit_.value.code == 2
