"""The library behind the chapter "The kernel view of stability": fitting the bound, the linear probe, the
representation changes of the kernel baselines, their stored computation, the chapter's analysis (fits, numbers,
verdict) and its figures."""

from __future__ import annotations

import json

import matplotlib
import numpy as np
import pytest
import torch

from defstab_lib import metrics, runs, translations
from defstab_lib.analysis import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED
from defstab_lib.analysis import kernel_view as kv
from defstab_lib.kernels import CKN, FeatureTaps, Scattering, bound, fit_anchors
from defstab_lib.kernels.linear import linear_probe, train_linear_classifier
from defstab_lib.models import make_vgg
from defstab_lib.runs import CNNTranslations, KernelBaselines, Measurement, Results
from defstab_lib.runs import kernel_view as baselines

matplotlib.use("Agg")


# ------------------------------------------------------------------------------------------------ bound fits


def synthetic_sweep(a: float, b: float, noise: float, n: int = 400, seed: int = 0):
    """Samples like a deformation sweep: strengths scale both norms, their ratio varies per sample."""
    rng = np.random.default_rng(seed)
    strength = rng.choice([0.5, 1.0, 2.0, 4.0], size=n)
    disp = strength * rng.uniform(1.0, 1.4, size=n)
    jac = disp * rng.uniform(0.07, 0.19, size=n)
    change = a * jac + b * disp + noise * rng.standard_normal(n)
    return change, jac, disp


def test_fit_bound_recovers_known_slopes_exactly_without_noise():
    change, jac, disp = synthetic_sweep(1.7, 0.03, noise=0.0)
    fit = bound.fit_bound(change, jac, disp)
    assert fit.coef["jacobian"] == pytest.approx(1.7, rel=1e-9)
    assert fit.coef["displacement"] == pytest.approx(0.03, rel=1e-9)
    assert fit.r2 == pytest.approx(1.0) and fit.rmse < 1e-12 and fit.n == 400
    assert fit.correlation > 0.85  # the regressors are strongly correlated, as in a real sweep


def test_fit_bound_recovers_known_slopes_within_their_standard_errors():
    hits, n_trials = 0, 40
    for seed in range(n_trials):
        change, jac, disp = synthetic_sweep(1.2, 0.05, noise=0.02, seed=seed)
        fit = bound.fit_bound(change, jac, disp)
        hits += abs(fit.coef["displacement"] - 0.05) < 2 * fit.se["displacement"]
        assert 0 < fit.se["jacobian"] < 1 and 0 < fit.r2 < 1
    assert hits >= 0.8 * n_trials  # ~95 % coverage expected of a 2-standard-error interval


def test_fit_bound_with_intercept_and_jacobian_limit():
    change, jac, disp = synthetic_sweep(2.0, 0.01, noise=0.0)
    fit = bound.fit_bound(change + 0.3, jac, disp, intercept=True)
    assert fit.intercept == pytest.approx(0.3) and fit.coef["jacobian"] == pytest.approx(2.0)
    limited = bound.fit_bound(change, jac, disp, jacobian_limit=0.3)
    assert limited.n == int((jac <= 0.3).sum()) < jac.size
    assert limited.coef["displacement"] == pytest.approx(0.01)


def test_fit_bound_fits_one_term_when_asked():
    change, jac, disp = synthetic_sweep(0.0, 0.07, noise=0.0)
    only = bound.fit_bound(change, np.zeros_like(jac), disp, terms=("displacement",))  # translations: no gradient
    assert list(only.coef) == ["displacement"] and only.coef["displacement"] == pytest.approx(0.07)
    assert np.isnan(only.correlation)
    with pytest.raises(ValueError, match="linearly dependent"):  # both terms, but the gradient is always 0
        bound.fit_bound(change, np.zeros_like(jac), disp)
    with pytest.raises(ValueError, match="terms"):
        bound.fit_bound(change, jac, disp, terms=("rotation",))


def test_fit_predict_and_summary():
    change, jac, disp = synthetic_sweep(1.0, 0.1, noise=0.0, n=20)
    fit = bound.fit_bound(change, jac, disp)
    np.testing.assert_allclose(fit.predict(jacobian=jac, displacement=disp), change, atol=1e-12)
    assert set(fit.summary()) >= {"jacobian", "jacobian_se", "displacement", "displacement_se", "r2", "n"}
    with pytest.raises(ValueError, match="regressors"):
        fit.predict(jacobian=jac)
    table = bound.coefficient_table([fit, fit])
    assert table["jacobian"].shape == (2,)


@pytest.mark.parametrize(
    "args, match",
    [
        (([1.0, 2.0, 3.0], [0.1, 0.2], [1.0, 2.0, 3.0]), "same number"),
        (([1.0, np.nan, 3.0, 4.0], [0.1, 0.2, 0.1, 0.3], [1.0, 2.0, 3.0, 1.0]), "finite"),
        (([1.0, 2.0], [0.1, 0.2], [1.0, 3.0]), "more samples"),
        (([1.0, 2.0, 3.0, 4.0], [0.1, 0.2, 0.3, 0.4], [1.0, 2.0, 3.0, 4.0]), "linearly dependent"),
        (([1.0, 2.0, 3.0, 4.0], [0.0, 0.0, 0.0, 0.0], [1.0, 2.0, 3.0, 4.0]), "linearly dependent"),
        (([1.0, 2.0, 3.0, 4.0], [0.1, -0.2, 0.1, 0.3], [1.0, 2.0, 3.0, 1.0]), ">= 0"),
    ],
)
def test_fit_bound_rejects_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        bound.fit_bound(*args)


def test_fit_bound_rejects_a_limit_that_leaves_too_few_samples():
    change, jac, disp = synthetic_sweep(1.0, 0.1, noise=0.0, n=20)
    with pytest.raises(ValueError, match="too few"):
        bound.fit_bound(change, jac, disp, jacobian_limit=1e-6)
    with pytest.raises(TypeError):
        bound.fit_linear(["a", "b", "c"], {"x": [1.0, 2.0, 3.0]})
    with pytest.raises(ValueError, match="non-empty"):
        bound.fit_linear([1.0, 2.0], {})


def test_sweep_samples_reads_a_stored_layout_and_checks_it():
    sweep = {"strengths": [1.0, 2.0], "max_displacement": [[1.0, 1.5], [2.0, 3.0]],
             "max_jacobian": [[0.1, 0.2], [0.2, 0.4]],
             "change": [[[0.0, 0.0], [0.1, 0.2]], [[0.0, 0.0], [0.3, 0.5]]]}
    change, jac, disp = bound.sweep_samples(sweep, layer=1)
    assert change.tolist() == [0.1, 0.2, 0.3, 0.5] and disp.tolist() == [1.0, 1.5, 2.0, 3.0]
    with pytest.raises(ValueError, match="layer"):
        bound.sweep_samples(sweep, layer=2)
    with pytest.raises(ValueError, match="no 'change_over_input'"):
        bound.sweep_samples(sweep, field="change_over_input")
    with pytest.raises(ValueError, match="shapes"):
        bound.sweep_samples({**sweep, "change": [[0.1, 0.2]]})


def test_fit_sweep_averages_the_networks_of_one_setting_over_the_same_deformations():
    change, jac, disp = synthetic_sweep(1.5, 0.04, noise=0.0, n=40)
    as_sweep = lambda c: {"max_jacobian": jac.reshape(4, 10), "max_displacement": disp.reshape(4, 10),  # noqa: E731
                          "change": c.reshape(4, 1, 10)}
    up, down = as_sweep(change + 0.01 * jac), as_sweep(change - 0.01 * jac)  # two "seeds" around the truth
    fit = bound.fit_sweep([up, down])
    assert fit.n == 40 and fit.coef["jacobian"] == pytest.approx(1.5) and fit.coef["displacement"] == pytest.approx(0.04)
    other = {**down, "max_jacobian": 2 * jac.reshape(4, 10)}
    with pytest.raises(ValueError, match="same deformations"):
        bound.fit_sweep([up, other])
    with pytest.raises(ValueError, match="same deformations"):  # a thousandth apart: other deformations
        bound.fit_sweep([up, {**down, "max_jacobian": 1.001 * jac.reshape(4, 10)}])
    # the same draws computed on a GPU: the last float32 bit differs (about 6e-8 relative), still one sweep
    gpu = {**down, "max_jacobian": jac.reshape(4, 10) * (1 + 6e-8)}
    assert bound.fit_sweep([up, gpu]).coef["jacobian"] == pytest.approx(1.5, rel=1e-5)
    with pytest.raises(ValueError, match="non-empty"):
        bound.fit_sweep([])


# ------------------------------------------------------------------------------------------------ linear probe


def test_linear_probe_separates_separable_classes_and_chooses_l2_on_held_out_images():
    g = torch.Generator().manual_seed(0)
    centres = 3 * torch.randn(3, 5, generator=g)
    labels = torch.randint(0, 3, (600,), generator=g)
    x = centres[labels] + torch.randn(600, 5, generator=g)
    r = linear_probe(x[:400], labels[:400], x[400:], labels[400:], generator=g, l2_grid=(1e-3, 1e2))
    assert r.test_accuracy > 0.9 and r.l2 == 1e-3  # a huge penalty shrinks the weights to chance
    assert r.validation_accuracy[1e-3] > r.validation_accuracy[1e2]
    json.dumps(r.to_json())


def test_a_warm_start_converges_to_the_cold_start_optimum():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(300, 6, generator=g) * torch.arange(1.0, 7.0) + 3.0
    y = (x[:, 0] - 0.3 * x[:, 3] + torch.randn(300, generator=g) > 3.0).long()
    cold = train_linear_classifier(x, y, l2=0.1, max_iter=300)
    start = train_linear_classifier(x[:100], y[:100], l2=1.0, max_iter=300)  # another standardisation and penalty
    warm = train_linear_classifier(x, y, l2=0.1, max_iter=300, init=start)
    torch.testing.assert_close(warm.logits(x), cold.logits(x), rtol=1e-3, atol=1e-3)
    with pytest.raises(ValueError, match="init"):
        train_linear_classifier(x[:, :3], y, l2=0.1, init=start)


def test_linear_classifier_is_invariant_to_feature_scale_and_rejects_bad_labels():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(100, 4, generator=g)
    y = (x[:, 0] + x[:, 1] > 0).long()
    a = train_linear_classifier(x, y, l2=1e-2)
    b = train_linear_classifier(1000 * x, y, l2=1e-2)  # standardised features: the same classifier
    torch.testing.assert_close(a.weight, b.weight, rtol=1e-3, atol=1e-4)
    with pytest.raises(ValueError, match="labels"):
        train_linear_classifier(x, y.float(), l2=1e-2)
    with pytest.raises(ValueError, match="validation_fraction"):
        linear_probe(x, y, x, y, validation_fraction=1.0)


# ------------------------------------------------------------------------------------------------ changes


def small_ckn(sigma: float = 1.0) -> CKN:
    g = torch.Generator().manual_seed(0)
    return fit_anchors(CKN(1, (6, 6), pool_sigmas=sigma, generator=g), torch.rand(4, 1, 16, 16, generator=g),
                       n_patches=100, generator=g)


def test_feature_taps_expose_forward_features_to_the_probe():
    net = small_ckn()
    taps = FeatureTaps(net, 2)
    x = torch.rand(3, 1, 16, 16, generator=torch.Generator().manual_seed(2))
    from defstab_lib.probe import representations

    reps = representations(taps, x, taps.layer_keys())
    for got, want in zip(reps, net.forward_features(x)):
        torch.testing.assert_close(got, want)
    with pytest.raises(TypeError, match="forward_features"):
        FeatureTaps(torch.nn.Conv2d(1, 1, 3), 1)


def test_change_sweep_agrees_with_the_runs_relative_change():
    model = make_vgg("cifar", in_channels=1, width=0.125, generator=torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(3)
    x = torch.rand(4, 1, 32, 32, generator=g)
    moved = [x.roll(1, dims=3), x.roll(2, dims=2)]
    out = metrics.change_sweep(model, x, moved, list(range(13)))
    for s, deformed in enumerate(moved):
        expected = metrics.relative_change(model, x, deformed)
        np.testing.assert_allclose(out["change"][s], expected.numpy(), rtol=1e-6)
    np.testing.assert_allclose(out["change"][0][0], out["change_over_input"][0][0])  # layer 0: the input itself


def test_change_sweep_of_a_ckn_is_zero_for_no_deformation_and_homogeneous():
    taps = FeatureTaps(small_ckn(), 2)
    x = torch.rand(3, 1, 16, 16, generator=torch.Generator().manual_seed(4))
    moved = x.roll(1, dims=3)
    same = metrics.change_sweep(taps, x, [x], taps.layer_keys())
    assert np.abs(same["change"]).max() == 0.0
    once = metrics.change_sweep(taps, x, [moved], taps.layer_keys())
    twice = metrics.change_sweep(taps, 2 * x, [2 * moved], taps.layer_keys())  # the CKN is 1-homogeneous
    np.testing.assert_allclose(once["change_over_input"], twice["change_over_input"], rtol=1e-4)
    with pytest.raises(ValueError, match="shape"):
        metrics.change_sweep(taps, x, [x[:2]], taps.layer_keys())


def test_more_pooling_makes_a_ckn_more_stable_to_translation():
    """The mechanism the chapter measures, on a tiny case: the same image shifted by 1 px changes a CKN with wide
    Gaussian pooling less than one without pooling."""
    x = torch.zeros(2, 1, 16, 16)
    x[:, :, 5:11, 6:9] = 1.0
    moved = x.roll(1, dims=3)
    change = {}
    for sigma in (0.0, 2.0):
        taps = FeatureTaps(small_ckn(sigma), 2)
        change[sigma] = metrics.change_sweep(taps, x, [moved], taps.layer_keys())["change"][0][-1]
    assert np.mean(change[2.0]) < 0.5 * np.mean(change[0.0])


# ------------------------------------------------------------------------------------------------ stored computation


TINY = dict(profile="smoke", pool_sigmas=[1.0], seeds=1, n_anchors=4, scattering_J=[1], n_train=60,
            n_fit_images=40, n_patches=60, kmeans_iter=2, device="cpu")


def test_kernel_baselines_are_computed_once_then_loaded(tmp_path, monkeypatch):
    store = runs.ResultsStore(tmp_path)
    first = baselines.kernel_baselines(store=store, **TINY)
    files = list((tmp_path / baselines.EXPERIMENT).glob("*.json"))
    assert len(files) == 1
    p = first.payload
    m = p["probe"]["bound_images"]
    n_strengths = len(first.params["strengths"])
    assert np.array(first.ckn_sweep(0)["change"]).shape == (n_strengths, 4, m)  # input + 3 layers
    assert np.array(first.scattering_sweep(0)["change"]).shape == (n_strengths, 5, m)  # input, 3 orders, all
    assert np.array(first.ckn_sweep(0, family="translations")["change"]).shape == (4, 4, m)
    assert np.all(np.array(first.ckn_sweep(0, family="translations")["max_jacobian"]) == 0)
    with pytest.raises(ValueError, match="family"):
        first.ckn_sweep(0, family="rotations")
    assert first.ckn_profiles()[1.0].shape == (1, 4)
    assert set(first.accuracies()) == {"pixels", "scattering", "ckn sigma=1"}
    assert all(0.0 <= a["test_accuracy"] <= 1.0 for a in first.accuracies().values())
    # the same probe as the smoke pooling runs: the input layer's sensitivity equals theirs
    config = runs.experiment_configs("pooling", "smoke", seeds=1)[0]
    data = runs.build_run_data(config, torch.device("cpu"))
    direct = metrics.normalized_distance(data.probe, data.deformed)
    assert first.ckn_profiles()[1.0][0, 0] == pytest.approx(direct)
    assert first.payload["sweep"]["max_jacobian"] == [b[3] for b in data.bound]
    fit = bound.fit_sweep(first.ckn_sweep(0))
    assert np.isfinite(fit.coef["displacement"])

    def fail(*args, **kwargs):
        raise AssertionError("a stored computation was computed again")

    monkeypatch.setattr(baselines, "_compute", fail)
    again = baselines.kernel_baselines(store=store, **TINY)
    assert json.dumps(again.payload) == json.dumps(first.payload) and again.provenance == first.provenance
    with pytest.raises(AssertionError, match="computed again"):  # other parameters: another key, computed
        baselines.kernel_baselines(store=store, **{**TINY, "n_anchors": 5})


@pytest.mark.parametrize(
    "change, match",
    [
        ({"pool_sigmas": [-1.0]}, "pool_sigmas"),
        ({"pool_sigmas": []}, "pool_sigmas"),
        ({"scattering_J": [6]}, "2\\*\\*J"),
        ({"n_patches": 2}, "n_patches"),
        ({"profile": "huge"}, "profile"),
        ({"strengths": [0.0]}, "strengths"),
    ],
)
def test_kernel_baselines_reject_bad_parameters_before_any_work(tmp_path, change, match):
    with pytest.raises(ValueError, match=match):
        baselines.kernel_baselines(store=runs.ResultsStore(tmp_path), **{**TINY, **change})
    assert not (tmp_path / baselines.EXPERIMENT).exists()


def test_scattering_taps_concatenate_all_orders():
    s = Scattering((16, 16), J=2, L=4)
    taps = FeatureTaps(s, 3, concat=True)
    x = torch.rand(2, 1, 16, 16, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(taps(x), s(x).flatten(1))


# ------------------------------------------------------------------------------------------------ translations


def test_translation_sweep_shifts_whole_pixels_along_an_axis_and_measures_its_norms():
    x = torch.zeros(8, 1, 16, 16)
    x[:, :, 5:11, 5:11] = torch.rand(8, 1, 6, 6, generator=torch.Generator().manual_seed(6))
    out = translations.translation_sweep(x, [1, 3], generator=torch.Generator().manual_seed(0))
    again = translations.translation_sweep(x, [1, 3], generator=torch.Generator().manual_seed(0))
    directions = set()
    for (t, moved, disp, jac), (_, moved2, _, _) in zip(out, again):
        assert disp == [t] * 8 and jac == [0.0] * 8
        torch.testing.assert_close(moved, moved2)  # reproducible from the generator
        for i in range(8):  # exactly one of the four whole-pixel shifts (the content stays inside the image)
            shifts = [(int(t), 2), (-int(t), 2), (int(t), 1), (-int(t), 1)]  # x[i] is (C, H, W)
            match = [k for k, (step, dim) in enumerate(shifts) if torch.equal(moved[i], x[i].roll(-step, dims=dim))]
            assert len(match) == 1
            directions.add(match[0])
    assert len(directions) > 1
    with pytest.raises(ValueError, match="lengths"):
        translations.translation_sweep(x, [0])
    with pytest.raises(TypeError, match="lengths"):
        translations.translation_sweep(x, [0.5])


def test_cnn_translation_sweeps_measure_stored_runs_once(tmp_path, monkeypatch):
    store = runs.ResultsStore(tmp_path)
    configs = runs.experiment_configs("pooling", "smoke", seeds=1, downsampling=["avgpool"], epochs=1)
    with pytest.raises(ValueError, match="not stored"):
        baselines.cnn_translation_sweeps(configs, store=store, device="cpu")
    results = runs.run_configs(configs, store=store, device="cpu", progress=False)
    first = baselines.cnn_translation_sweeps(configs, store=store, device="cpu")
    init, final = first.sweep(results[0], "init"), first.sweep(results[0].key, "final")
    m = configs[0].probe.bound_images
    assert np.array(final["change"]).shape == (len(translations.TRANSLATION_LENGTHS), 13, m)
    assert np.all(np.array(init["max_jacobian"]) == 0)
    assert init["change"][0][0] == final["change"][0][0]  # layer 0 is the translated input itself
    assert not np.allclose(init["change"][0][-1], final["change"][0][-1])  # training changed the network
    fit = bound.fit_sweep(final, terms=("displacement",))
    assert fit.coef["displacement"] > 0 and fit.n == m * len(translations.TRANSLATION_LENGTHS)

    def fail(*args, **kwargs):
        raise AssertionError("computed again")

    monkeypatch.setattr(translations, "translation_sweep", fail)
    again = baselines.cnn_translation_sweeps(configs, store=store, device="cpu")
    assert again.payload == first.payload
    with pytest.raises(ValueError, match="no stored translation sweep"):
        again.sweep("0123456789abcdef", "init")


# ------------------------------------------------------------------------------------------------ figures


def test_figures_draw_and_check_their_input():
    from defstab_lib.plots import kernel_view

    fig = kernel_view.plot_coefficients({"CKN": ([1.0, 2.0], [0.1, 0.05], [0.01, 0.01])},
                                        reference=([1.0, 2.0], [0.1, 0.05]), reference_label="1/σ")
    assert len(fig.axes[0].lines) >= 2
    with pytest.raises(ValueError, match="one length"):
        kernel_view.plot_coefficients({"CKN": ([1.0, 2.0], [0.1], [0.01, 0.01])})
    fig = kernel_view.plot_coefficients_by_group(
        {"maxpool": {"init": (0.1, 0.02), "trained": (0.2, 0.01)}, "subsample": {"init": (0.3, 0.0), "trained": (0.2, 0.1)}},
        references={"CKN": 0.05})
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["maxpool", "subsample"]
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["init", "trained", "CKN"]
    fig = kernel_view.plot_profiles_with_baselines(
        {"maxpool": np.ones((2, 13))}, {"CKN σ=1": ([0, 3, 6, 9], np.ones((2, 4)))})
    assert len(fig.axes[0].lines) == 2
    with pytest.raises(ValueError, match="one length|values"):
        kernel_view.plot_change_scatter({"a": ([0.1, 0.2], [0.1])})


def test_cnn_translation_sweeps_load_without_checkpoints(tmp_path):
    """A fresh clone has the stored results but not the checkpoints (not committed): the stored sweep still loads."""
    from defstab_lib import runs
    from defstab_lib.runs.kernel_view import cnn_translation_sweeps

    store = runs.ResultsStore(tmp_path)
    configs = runs.experiment_configs("pooling", "smoke", downsampling=["maxpool"])
    runs.run_configs(configs, store=store, progress=False)
    first = cnn_translation_sweeps(configs, store=store, device="cpu")
    for path in tmp_path.glob("pooling/*.pt"):
        path.unlink()
    again = cnn_translation_sweeps(configs, store=store, device="cpu")
    assert again.payload == first.payload and again.provenance == first.provenance


# ----------------------------------------------------------------------------------------- the chapter's analysis
# Stored objects built from constructed sweeps whose slopes are known exactly (the real classes, filled with chosen
# numbers): every fit must recover them, and the verdict must follow the CNNs' slopes.

LENGTHS = [1.0, 2.0, 3.0, 4.0]
N_IMAGES = 6


def norms():
    """``(translation norms, deformation norms)``: ``{"max_displacement", "max_jacobian"}``, each ``(S, M)``."""
    rng = np.random.default_rng(0)
    disp = np.array(LENGTHS)[:, None] * rng.uniform(1.0, 1.4, (4, N_IMAGES))
    jac = disp * rng.uniform(0.05, 0.2, (4, N_IMAGES))
    translations = {"strengths": LENGTHS, "max_displacement": np.repeat(np.array(LENGTHS)[:, None], N_IMAGES, 1),
                    "max_jacobian": np.zeros((4, N_IMAGES))}
    return translations, {"strengths": [0.5, 1.0, 2.0, 4.0], "max_displacement": disp, "max_jacobian": jac}


def change(sweep_norms, n_layers, *, jacobian=0.0, displacement=0.0, intercept=0.0, offset=0.0):
    """``(S, L, M)`` changes, the last layer exactly ``intercept + jacobian * ||grad tau|| + displacement *
    ||tau||`` (plus ``offset``: opposite offsets over two seeds average out)."""
    last = (intercept + offset + jacobian * np.asarray(sweep_norms["max_jacobian"])
            + displacement * np.asarray(sweep_norms["max_displacement"]))
    out = np.zeros((4, n_layers, N_IMAGES))
    out[:, -1, :] = last
    return out.tolist()


CKN_SIGMAS, CKN_SCALES, K_LAW, B_NONE = [0.0, 1.0, 2.0], [0.0, 2.0, 4.0], 0.4, 0.3
SCAT_J = [1, 2]


def constructed_baselines() -> KernelBaselines:
    tr, de = norms()

    def ckn_seed(i, offset):
        b = K_LAW / CKN_SCALES[i] if CKN_SCALES[i] > 0 else B_NONE
        sweep = {"deformations": {"change": change(de, 4, jacobian=1.0 / (i + 1), intercept=0.02, offset=offset)},
                 "translations": {"change": change(tr, 4, displacement=b, offset=offset)}}
        for family in sweep.values():
            family["change_over_input"] = (0.5 * np.array(family["change"])).tolist()
        return sweep

    ckn = {"pool_sigmas": CKN_SIGMAS, "pooling_scales": CKN_SCALES,
           "sweeps": [[ckn_seed(i, 0.01), ckn_seed(i, -0.01)] for i in range(3)],
           "profiles": [[{"cosine": [0.25, 0.2, 0.15, 0.1 / (i + 1)]}] * 2 for i in range(3)],
           "accuracy": [{"test_accuracy": a, "n_train": 100} for a in (0.80, 0.86, 0.84)]}
    scattering = {"J": SCAT_J, "L": 8,
                  "sweeps": [{"deformations": {"change": change(de, 5, jacobian=0.6 / j, intercept=0.01)},
                              "translations": {"change": change(tr, 5, displacement=0.2 / j)}} for j in SCAT_J],
                  "profiles": [{"cosine": [0.25, 0.3, 0.2, 0.1, 0.05 / j]} for j in SCAT_J],
                  "accuracy": {"test_accuracy": 0.83, "n_train": 100}}
    payload = {"probe": {"bound_images": N_IMAGES}, "sweep": de, "translation_sweep": tr, "ckn": ckn,
               "scattering": scattering, "pixels": {"accuracy": {"test_accuracy": 0.7, "n_train": 100}},
               "n_train": 100, "n_test": 50}
    payload = json.loads(json.dumps(payload, default=lambda a: a.tolist()))
    return KernelBaselines(params={"seeds": 2, "n_anchors": 8, "strengths": de["strengths"]}, payload=payload,
                           provenance={"wall_time_s": 12.0, "device_name": "constructed"})


def constructed_cnns(b_t):
    """``(groups, translations)``: two seeds of each variant of ``b_t = {variant: (b_T at init, after training)}``,
    their deformation slope twice their translation slope."""
    tr, de = norms()
    groups, stored = {}, {}
    for variant, slopes in b_t.items():
        configs = runs.experiment_configs("pooling", "smoke", seeds=2, downsampling=[variant])
        groups[variant] = []
        for config, offset in zip(configs, (0.01, -0.01)):
            measurements = [Measurement(epoch=e, cosine=[0.25] + [0.1 * (k + 1)] * 12, euclidean=[0.0] * 13,
                                        noise_cosine=[0.1] * 13, smoothness=[1.0] * 7, train_accuracy=0.9,
                                        test_accuracy=acc, train_loss=0.1, test_loss=0.2,
                                        bound={**de, "change": change(de, 13, jacobian=2 * b, offset=offset)})
                            for k, (e, b, acc) in enumerate(zip((0, config.epochs), slopes, (0.1, 0.88)))]
            result = Results(config=config, measurements=measurements, history=[], provenance={})
            groups[variant].append(result)
            stored[result.key] = {e: {"change": change(tr, 13, displacement=b, offset=offset)}
                                  for e, b in zip(("init", "final"), slopes)}
    record = {"params": {}, "provenance": {},
              "payload": json.loads(json.dumps({"sweep": tr, "runs": stored}, default=lambda a: a.tolist()))}
    return groups, CNNTranslations(record)


def test_baseline_fits_recover_the_constructed_slopes_and_the_one_over_sigma_law():
    kb = constructed_baselines()
    fits = kv.fit_baselines(kb)
    np.testing.assert_allclose(fits.b_T, [B_NONE, K_LAW / 2, K_LAW / 4], atol=1e-12)
    np.testing.assert_allclose(fits.a_D, [1.0, 0.5, 1 / 3], atol=1e-12)
    np.testing.assert_allclose(fits.table("scattering_translation")["displacement"], [0.2, 0.1], atol=1e-12)
    assert fits.first_pooled == 1 and fits.reference == 1  # sigma = 1 is nearest 2 / sqrt(2)
    law = fits.law()
    assert law.coef["inverse_scale"] == pytest.approx(K_LAW) and law.r2 == pytest.approx(1.0)
    x, y = fits.law_curve(5)
    np.testing.assert_allclose(y, K_LAW / x)
    numbers = kv.baseline_numbers(kb, fits)
    assert numbers["bT_fold"] == pytest.approx(2.0) and numbers["scale_fold"] == pytest.approx(2.0)
    assert numbers["bT_none"] == pytest.approx(B_NONE) and numbers["law_k"] == pytest.approx(K_LAW)
    assert numbers["bT_monotone"] == "falls at every step"
    assert numbers["bT_header"].startswith("shrinks")
    assert numbers["c_min"] == pytest.approx(0.02) and numbers["c_max"] == pytest.approx(0.02)
    assert numbers["bT_input_fold"] == pytest.approx(2.0)  # the other normalisation is a constant factor here
    assert numbers["n_joint"] == 5 and numbers["J_first"] == 1 and numbers["J_last"] == 2
    assert numbers["within_limit"] == pytest.approx(100 * np.mean(norms()[1]["max_jacobian"] <= 0.5))
    assert kv.baseline_rows(fits)[0]["model"].startswith("CKN, σ = 0 px")
    assert set(fits.reference_slopes("displacement")) == {"CKN, σ = 1 px", "scattering, J = 2"}
    with pytest.raises(ValueError, match="term"):
        fits.slope_series("displacment")


def test_a_ckn_whose_slope_does_not_fall_says_so():
    kb = constructed_baselines()
    for seed_sweeps in kb.payload["ckn"]["sweeps"][2]:  # the widest pooling: translation slope back up to B_NONE
        tr = kb.payload["translation_sweep"]
        seed_sweeps["translations"]["change"] = change(tr, 4, displacement=B_NONE)
    numbers = kv.baseline_numbers(kb, kv.fit_baselines(kb))
    assert numbers["bT_monotone"] == "does not fall at every step"
    assert numbers["bT_header"].startswith("does not shrink")


def test_ckn_change_samples_average_the_anchor_seeds():
    kb = constructed_baselines()
    samples = kv.ckn_change_samples(kb, "translations")
    x, y = samples[CKN_SIGMAS[1]]
    np.testing.assert_allclose(y, K_LAW / 2 * x)  # the seeds' opposite offsets cancel
    with pytest.raises(ValueError, match="family"):
        kv.ckn_change_samples(kb, "rotations")


@pytest.mark.parametrize("unpooled_final, short, verdict", [
    (0.10, "supports", SUPPORTED),              # falls below the pooled networks' slope at initialisation
    (0.20, "partly supports", INCONCLUSIVE),    # falls, but not that far
    (0.35, "does not support", NOT_SUPPORTED),  # rises in training
])
def test_the_verdict_follows_how_training_moves_the_translation_slope_without_pooling(unpooled_final, short,
                                                                                     verdict):
    groups, translations = constructed_cnns({"maxpool": (0.15, 0.18), "strided": (0.30, unpooled_final)})
    cnn = kv.fit_cnns(kv.cnn_sweeps(groups, translations))
    assert cnn.slopes("displacement")["strided"]["final"] == pytest.approx(unpooled_final)
    assert cnn.slopes("jacobian")["maxpool"]["init"] == pytest.approx(0.30)
    v = kv.learned_pooling(cnn)
    assert (v.numbers["short"], v.verdict) == (short, verdict) and v.runs == 4  # 2 variants x 2 seeds
    assert v.numbers["bT_init_pool"] == pytest.approx(0.15) and short in kv._CONCLUSIONS
    assert f"{unpooled_final:.3g}" in v.value
    with pytest.raises(ValueError, match="term"):
        cnn.slopes("rotation")


def test_cnn_numbers_compare_the_kinds_of_network_and_the_reference_ckn():
    kb = constructed_baselines()
    fits = kv.fit_baselines(kb)
    groups, translations = constructed_cnns({"maxpool": (0.15, 0.18), "avgpool": (0.05, 0.12),
                                             "strided": (0.30, 0.10)})
    cnn = kv.fit_cnns(kv.cnn_sweeps(groups, translations))
    numbers = kv.cnn_numbers(kb, fits, cnn, groups, translations)
    assert numbers["bT_init_pool"] == pytest.approx(0.10) and numbers["bT_final_nopool"] == pytest.approx(0.10)
    assert numbers["aD_final_pool"] == pytest.approx(0.30)
    assert numbers["bT_n_down"] == 1 and numbers["n_variants"] == 3
    assert numbers["gap_init"] == pytest.approx(3.0) and numbers["gap_direction"] == "narrows"
    assert numbers["ref_bT"] == pytest.approx(K_LAW / 2) and numbers["n_below_ref"] == 3
    # a change proportional to the translation's length: one pixel moves it a quarter of four pixels
    assert numbers["cnn_one_px"] == pytest.approx(0.25) and numbers["ckn_one_px"] == pytest.approx(0.25)
    closing = kv.closing_numbers(kb, fits, cnn, groups)
    assert closing["nopool_direction"] == "falls" and closing["pool_direction"] == "rises"
    assert closing["factor_nopool"] == pytest.approx(1 / 3) and closing["init_order"] == "a smaller"
    assert closing["acc_drop"] == pytest.approx(0.02) and closing["bT_best_acc"] == pytest.approx(K_LAW / 2)
    rows = kv.cnn_rows(cnn)
    assert [(r["network"], r["when"]) for r in rows][:2] == [("maxpool", "at initialisation"),
                                                             ("maxpool", "after training")]


def test_profile_and_accuracy_numbers_read_the_stored_profiles_and_probes():
    kb = constructed_baselines()
    fits = kv.fit_baselines(kb)
    groups, _ = constructed_cnns({"maxpool": (0.15, 0.18), "strided": (0.30, 0.10)})
    profiles = kv.profile_numbers(kb, fits, groups)
    assert profiles["input_sensitivity"] == pytest.approx(0.25) and profiles["ckn_last_max"] == pytest.approx(0.1 / 3)
    assert profiles["cnn_layer9_min"] == pytest.approx(0.2)  # after training, every CNN layer is at 0.2
    ckn, scattering = kv.baseline_profiles(kb, fits)
    assert list(ckn) == CKN_SIGMAS and scattering[0] == [0, 3, 6]
    accuracy = kv.accuracy_numbers(kb, groups)
    assert accuracy["acc_ckn_best_sigma"] == "1" and accuracy["acc_cnn_max"] == pytest.approx(0.88)
    rows = kv.accuracy_rows(kb, groups)
    assert len(rows) == 2 + 3 + 2 and rows[-1]["model"] == "pixels: linear classifier"
    setup = kv.setup_numbers(kb, groups["maxpool"][0].config)
    assert setup["n_bound_images"] == N_IMAGES and setup["strength_list"] == "0.5, 1, 2, 4"


def test_the_chapter_figures_draw_constructed_numbers():
    from defstab_lib.plots import kernel_view as kv_plots

    kb = constructed_baselines()
    fits = kv.fit_baselines(kb)
    fig = kv_plots.plot_ckn_changes(kv.ckn_change_samples(kb, "translations"),
                                    kv.ckn_change_samples(kb, "deformations"), limit=0.5)
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["σ = 0", "σ = 1", "σ = 2"]
    fig = kv_plots.plot_baseline_slopes(fits.slope_series("displacement"), fits.slope_series("jacobian"),
                                        law=fits.law_curve())
    assert len(fig.axes) == 2
    groups, translations = constructed_cnns({"maxpool": (0.15, 0.18), "strided": (0.30, 0.10)})
    cnn = kv.fit_cnns(kv.cnn_sweeps(groups, translations))
    fig = kv_plots.plot_cnn_slopes(cnn.slope_bars("displacement"), cnn.slope_bars("jacobian"),
                                   translation_references=fits.reference_slopes("displacement"), title="t")
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["maxpool", "strided"]
    ckn, scattering = kv.baseline_profiles(kb, fits)
    profiles = {n: np.full((2, 13), 0.2) for n in groups}
    fig = kv_plots.plot_cnn_profiles_with_baselines(profiles, profiles, ckn, scattering, sigmas=fits.sigmas)
    labels = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    assert labels[-1] == "scattering, J = layer / 3" and "CKN, σ = 2 px" in labels
    colors = kv_plots.scale_colors([0.0, 0.5, 1.0, 2.0, 4.0])
    assert len({c for c in colors}) == 5


def test_protocol_2_runs_give_their_own_translation_sweeps_without_weights(tmp_path):
    """A protocol-2 run (here a committed `standard` pooling run, trained on a GPU whose checkpoints never came
    back) is read from its stored measurements: no checkpoint is opened, and the sweep is the run's own."""
    committed = runs.ResultsStore()
    config = next(c for c in runs.experiment_configs("pooling", "standard", downsampling=["maxpool"])
                  if committed.exists(c) and c.seed == 4)
    store = runs.ResultsStore(tmp_path)
    store.save(committed.load(config))
    assert not store.checkpoint_path(config, "init").exists()
    sweeps = baselines.cnn_translation_sweeps([config], store=store, device="cpu")
    result = store.load(config)
    assert sweeps.params["measurement"] == "the runs' own protocol-2 translation sweeps"
    for which, measured in (("init", result.initial), ("final", result.final)):
        got = sweeps.sweep(result, which)
        assert got["change"] == measured.v2.translations["change"] and got["strengths"] == [1.0, 2.0, 3.0, 4.0]
    assert sweeps.sweep(result, "final")["change"] != sweeps.sweep(result, "init")["change"]
