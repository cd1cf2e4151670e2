"""The BN-calibrated initialisation (``defstab_lib/runs/bn_init.py``): the rebuilt initial network is the stored
run's, a tampered run is refused by file, calibration moves BatchNorm's running statistics and no parameter, the
record is deterministic, stored, read back and swapped into the runs; bad input is refused."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from defstab_lib import cli, runs
from defstab_lib.runs import bn_init
from defstab_lib.runs.load import NotStored


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A smoke ``pooling`` run (max-pool, the profile's own config: seconds) in a store of its own, and that store."""
    store = runs.ResultsStore(tmp_path_factory.mktemp("bn-init"))
    config = runs.experiment_configs("pooling", "smoke", downsampling=["maxpool"])[0]
    assert config in runs.experiment_configs("pooling", "smoke")  # so that `compute --profile smoke` finds it
    return runs.run_or_load(config, store=store, progress=False, device="cpu"), store


def _payload_bytes(computed) -> str:
    return json.dumps(computed.payload, sort_keys=True, allow_nan=True)


def test_the_rebuilt_network_is_the_run_and_calibration_changes_it_not_its_weights(trained):
    run, store = trained
    record = bn_init.calibrated_init(run, store=store, device="cpu")
    p = record.payload
    assert record.file == f"results/bn-init/{record.key}.json" and record.path.exists()
    assert p["run_file"] == run.file and record.params["images"] == 512  # all of the smoke run's training images
    # as built: the stored epoch 0 within the tolerance, in every layer
    assert max(p["check"]["max_relative_difference"].values()) <= bn_init.RTOL
    for a, b in zip(p["as_built"]["cosine"], run.initial.cosine):
        assert abs(a - b) <= bn_init.RTOL * abs(b) + bn_init.ATOL
    m = runs.Measurement.from_json(p["measurement"])
    assert m.epoch == 0 and m.smoothness == p["as_built"]["smoothness"]  # weights unchanged
    assert m.v2.eval_images == [512, 256] and set(m.v2.per_image) == {"cosine", "euclidean", "noise_cosine",
                                                                        "noise_euclidean"}
    # BatchNorm now normalises: the input layer is the same, the deeper layers are not
    assert m.cosine[0] == pytest.approx(p["as_built"]["cosine"][0], rel=1e-6)
    assert max(abs(a - b) / b for a, b in zip(m.cosine[2:], p["as_built"]["cosine"][2:])) > 0.05


def test_a_second_call_loads_and_a_recomputation_is_bit_identical(trained):
    run, store = trained
    first = bn_init.calibrated_init(run, store=store, device="cpu")
    mtime = first.path.stat().st_mtime_ns
    loaded = bn_init.calibrated_init(run, store=store, device="cpu")
    assert loaded.path.stat().st_mtime_ns == mtime and _payload_bytes(loaded) == _payload_bytes(first)
    again = bn_init.calibrated_init(run, store=store, device="cpu", force=True)
    assert _payload_bytes(again) == _payload_bytes(first)


def test_the_loader_returns_what_was_stored_and_swaps_only_epoch_0(trained):
    run, store = trained
    record = bn_init.calibrated_init(run, store=store, device="cpu")
    calibrated = bn_init.calibrated_inits([run], store=store)
    assert list(calibrated) == [run.key]
    assert calibrated[run.key].to_json() == runs.Measurement.from_json(record.payload["measurement"]).to_json()
    (swapped,) = bn_init.with_calibrated_init([run], calibrated)
    assert swapped.initial is calibrated[run.key] and swapped.measurements[1:] == run.measurements[1:]
    assert swapped.config == run.config and swapped.history == run.history and run.initial.cosine != swapped.initial.cosine


def test_a_tampered_epoch_0_is_refused_naming_the_file(trained, tmp_path):
    run, _ = trained
    cosine = list(run.initial.cosine)
    cosine[5] *= 1.01  # a 1 % change: ten times the tolerance
    tampered = dataclasses.replace(run, measurements=[dataclasses.replace(run.initial, cosine=cosine),
                                                      *run.measurements[1:]])
    store = runs.ResultsStore(tmp_path)
    with pytest.raises(bn_init.InitMismatch, match=rf"{run.file}: .* epoch-0 cosine: layer 5"):
        bn_init.calibrated_init(tampered, store=store, device="cpu")
    assert not list(tmp_path.rglob("*.json"))  # nothing stored


def test_calibration_sets_the_batches_average_and_leaves_every_parameter_bit_identical():
    config = runs.experiment_configs("pooling", "smoke", downsampling=["subsample"])[0]
    model, fresh = (bn_init.initial_network(config, 1, 10) for _ in range(2))
    images = torch.randint(0, 256, (96, 1, 32, 32), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    assert bn_init.calibrate_bn(model, images, batch=32) == 3
    for (name, p), q in zip(model.named_parameters(), fresh.parameters()):
        assert torch.equal(p, q), name
    first = next(m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    with torch.no_grad():
        out = conv(images.float() / 255)
    batch_means = out.reshape(3, 32, *out.shape[1:]).mean(dim=(1, 3, 4))  # (batches, channels)
    assert torch.allclose(first.running_mean, batch_means.mean(0), rtol=1e-5, atol=1e-6)
    assert not torch.allclose(first.running_var, torch.ones_like(first.running_var))
    assert first.momentum == 0.1 and not model.training  # its own momentum back, eval mode


def test_bad_input_is_refused(trained, tmp_path):
    run, store = trained
    other = dataclasses.replace(run, config=dataclasses.replace(run.config, experiment="random-labels"))
    with pytest.raises(ValueError, match="results: .* run of 'random-labels'"):
        bn_init.calibrated_init(other, store=store)
    with pytest.raises(ValueError, match="unknown experiment"):
        bn_init.calibrated_init(dataclasses.replace(run, config=dataclasses.replace(run.config, experiment="x")))
    with pytest.raises(TypeError, match="results must be"):
        bn_init.calibrated_init(run.config)
    with pytest.raises(ValueError, match="no BatchNorm"):
        bn_init.calibrate_bn(torch.nn.Conv2d(1, 2, 3), torch.zeros(2, 1, 8, 8))
    with pytest.raises(ValueError, match="experiments must be"):
        bn_init.calibrate_runs("smoke", store=store, experiments=["synthetic"])
    empty = runs.ResultsStore(tmp_path)
    with pytest.raises(NotStored, match="compute --profile smoke --only bn-init") as info:
        bn_init.calibrated_inits([run], store=empty)
    assert info.value.missing == {"bn-init": [run.config]}
    assert bn_init.calibrated_inits([run], store=empty, stored_only=False) == {}
    with pytest.raises(ValueError, match=f"calibrated: .*{run.file}"):
        bn_init.with_calibrated_init([run], {})


def test_compute_only_bn_init_computes_the_stored_runs_and_skips_the_rest(trained, monkeypatch, capsys):
    run, store = trained
    monkeypatch.setenv("DEFSTAB_RESULTS", str(store.root))
    assert cli.main(["compute", "--profile", "smoke", "--only", "bn-init", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    configs = {c for e in bn_init.SOURCES for c in map(runs.run_key, runs.experiment_configs(e, "smoke"))}
    assert "bn-init: 1 stored runs of pooling, ablation (smoke)" in out
    assert f"{len(configs) - 1} not stored, skipped" in out
    assert not list(store.root.glob("pooling-init/*.json"))  # --only: no random networks
