"""The kernel view's stored computations (``defstab_lib/runs/kernel_view.py``): the kernel baselines and the
CNNs' translation sweeps are computed once then loaded, also without checkpoints, and refuse bad parameters before
any work; protocol-2 runs give their own translation sweeps."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from defstab_lib import metrics, runs, translations
from defstab_lib.kernels import bound
from defstab_lib.runs import kernel_view as baselines


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
