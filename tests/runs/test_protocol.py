"""Measurement protocol 2 (``defstab_lib/runs/protocol.py``): protocol-1 keys and results unchanged, what a v2
run stores, dense trajectories, independent initial weights, and a v2 run interrupted inside an epoch."""

from __future__ import annotations

import dataclasses
import math
import hashlib
import json

import pytest
import torch

from defstab_lib import runs
from defstab_lib.models import make_vgg
from defstab_lib.runs import ArchConfig, DataConfig, ProbeConfig, ResultsStore, RunConfig, experiment_configs, run_or_load
from defstab_lib.runs import execute, protocol
from defstab_lib.runs.config import config_to_dict, init_seed
from defstab_lib.sinemodes import temperature_range
from defstab_lib.runs.store import COMPUTED_SCHEMA, CorruptResultError, Measurement, computation_key
from defstab_lib.train import OptimConfig


def tiny_v2(epochs: int = 2, **kw) -> RunConfig:
    """A protocol-2 run of a few seconds: 4 steps per epoch, 8 probe images."""
    return RunConfig("tiny-v2", data=DataConfig(train_size=256, test_size=64, augmentation="flip-crop"),
                     arch=ArchConfig(width=0.125), optim=OptimConfig(lr=0.05), epochs=epochs, batch_size=64,
                     probe=ProbeConfig(images=8, bound_images=4, protocol=2), measure_epochs=(1,), **kw)


# ------------------------------------------------------------------------------------------------ protocol 1


def _key_before_protocols(config: RunConfig) -> str:
    """The key exactly as it was computed before the protocol, the precision and compile became config fields."""
    assert config.precision == "auto" and not config.compile, "stored v1 runs are float32 and not compiled"
    d = config_to_dict(config)
    d.pop("profile")
    d["probe"].pop("protocol")
    d.pop("precision")
    d.pop("compile")
    blob = json.dumps({"protocol": 1, "config": d}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def test_every_stored_v1_result_loads_under_its_file_name():
    store = ResultsStore(runs.store.results_root())
    stored = [r for r in store.stored() if r.config.probe.protocol == 1]
    assert len(stored) >= 42, "the 42 protocol-1 runs of the cpu profile are stored"
    for r in stored:
        assert store.path(r.config).stem == r.key == _key_before_protocols(r.config)
        assert store.load(r.config).key == r.key


def test_every_stored_computation_keeps_its_key():
    root = runs.store.results_root()
    records = [json.loads(p.read_text()) for p in sorted(root.glob("*/*.json"))]
    computed = [d for d in records if d.get("schema") == COMPUTED_SCHEMA]
    assert computed, "Figure 4's random networks and the kernel baselines are stored computations"
    for d in computed:
        assert computation_key(d["experiment"], d["params"]) == d["key"]


def test_v1_profiles_stay_v1_and_v2_configs_get_new_keys():
    for experiment in ("pooling", "random-labels", "synthetic"):
        assert {c.probe.protocol for c in experiment_configs(experiment, "cpu")} == {1}
    c = experiment_configs("pooling", "cpu")[0]
    v2 = dataclasses.replace(c, probe=dataclasses.replace(c.probe, protocol=2))
    assert runs.run_key(v2) != runs.run_key(c) == _key_before_protocols(c)
    assert {c.probe.protocol for c in experiment_configs("worst-case", "cpu")} == {2}


def test_a_v1_result_is_written_back_in_v1_form(tmp_path):
    store = ResultsStore(runs.store.results_root())
    r = next(r for r in store.stored("pooling") if r.config.probe.protocol == 1)
    on_disk = json.loads(store.path(r.config).read_text())
    again = r.to_json()
    assert again["measurements"] == on_disk["measurements"] and again["config"]["probe"].get("protocol", 1) == 1


@pytest.mark.parametrize("value", [0, 3, True, "2"])
def test_an_unknown_protocol_is_refused(value):
    with pytest.raises(ValueError, match="protocol must be one of"):
        ProbeConfig(protocol=value)


# ------------------------------------------------------------------------------------------------ initial weights


def _first_conv(config: RunConfig) -> torch.Tensor:
    a = config.arch
    model = make_vgg(a.spec, a.downsampling, in_channels=1, width=a.width,
                     generator=torch.Generator().manual_seed(init_seed(config)))
    return model.conv_layers()[0].weight


def test_initial_weights_are_paired_in_v1_and_independent_per_architecture_and_seed_in_v2():
    v1 = RunConfig("x", arch=ArchConfig(width=0.125))
    v2 = dataclasses.replace(v1, probe=ProbeConfig(protocol=2))
    other = ArchConfig(downsampling="subsample", width=0.125)
    assert torch.equal(_first_conv(v1), _first_conv(dataclasses.replace(v1, arch=other)))
    assert not torch.equal(_first_conv(v2), _first_conv(dataclasses.replace(v2, arch=other)))
    assert not torch.equal(_first_conv(v2), _first_conv(dataclasses.replace(v2, seed=1)))
    assert torch.equal(_first_conv(v2), _first_conv(dataclasses.replace(v2, experiment="y")))


# ------------------------------------------------------------------------------------------------ a v2 run


@pytest.fixture(scope="module")
def v2_run(tmp_path_factory):
    torch.set_num_threads(1)
    store = ResultsStore(tmp_path_factory.mktemp("v2"))
    return store, run_or_load(tiny_v2(), store=store, progress=False)


def test_a_v2_run_measures_densely(v2_run):
    _, r = v2_run
    # 4 steps per epoch: 1/8 and 1/4 fall on step 1 (the first is kept), 1/2 on step 2
    assert [m.epoch for m in r.measurements] == [0, 0.125, 0.5, 1, 2]


def test_a_v2_run_stores_every_field_and_loads_back(v2_run):
    store, r = v2_run
    n_layers = len(r.final.cosine)
    for m in r.measurements:
        full = m.epoch in (0, 2)
        for field in ("noise_euclidean", "median_cosine", "median_euclidean"):
            assert len(getattr(m.v2, field)) == n_layers
        assert m.v2.worst_case["layers"] == ([4, 8, 12] if full else [12])
        assert all(w > 0 for w in m.v2.worst_case["worst"])
        assert m.v2.sine["R_f"] > 0 and m.v2.sine["temperature"] > 0
        assert (m.v2.per_image is not None, m.v2.translations is not None, m.bound is not None) == (full,) * 3
        assert (m.v2.adef is not None) == (m.epoch == 2)
        assert m.v2.eval_images == [256, 64]  # all of them: fewer than TRAJECTORY_EVAL here
    final = r.final.v2
    assert sorted(final.per_image) == ["cosine", "euclidean", "noise_cosine", "noise_euclidean"]
    assert all(len(v) == n_layers and len(v[0]) == 8 for v in final.per_image.values())
    assert len(final.worst_case["worst_per_image"]) == 3 and len(final.worst_case["worst_per_image"][0]) == 8
    assert len(final.adef["max_displacement"]) == len(final.adef["flipped"]) == len(final.adef["correct"]) == 8
    assert len(final.translations["change"]) == 4 and len(final.translations["change"][0]) == n_layers
    # the per-image distances are the profile's: their mean over the median is the stored normalised D
    d = torch.tensor(final.per_image["cosine"], dtype=torch.float64).mean(1) / torch.tensor(final.median_cosine)
    # exact but for storage: the per-image distances and the median are stored to DIGITS significant digits, each
    # off by at most h = 0.5 * 10**(1 - DIGITS) relative, so their quotient by at most (1 + h) / (1 - h) - 1
    h = 0.5 * 10.0 ** (1 - protocol.DIGITS)
    assert torch.allclose(d, torch.tensor(r.final.cosine, dtype=torch.float64), rtol=(1 + h) / (1 - h) - 1, atol=0)
    again = store.load(r.config)
    assert [dataclasses.asdict(m) for m in again.measurements] == [dataclasses.asdict(m) for m in r.measurements]
    assert again.config.probe.protocol == 2 and json.loads(store.path(r.config).read_text())["protocol"] == 2


def test_the_worst_case_is_at_least_the_random_start_and_respects_the_budget(v2_run):
    _, r = v2_run
    for m in (r.initial, r.final):
        w = m.v2.worst_case
        assert w["budget"] == r.config.probe.strength and w["grid"] == r.config.probe.grid
        assert all(a >= 0 and b >= 0 for a, b in zip(w["worst"], w["random"]))
        assert w["loss_worst"] >= w["loss_clean"] * 0.999


def test_a_cpu_profile_v2_run_is_under_300_kB():
    """The stored runs of the worst-case experiment (the cpu profile's v2 setting) are each under 300 kB."""
    store = ResultsStore(runs.store.results_root())
    configs = experiment_configs("worst-case", "cpu")
    sizes = [store.path(c).stat().st_size for c in configs]
    assert max(sizes) < 300_000, sizes


def test_validate_names_a_bad_v2_field(v2_run):
    store, r = v2_run
    d = r.to_json()
    d["measurements"][0]["per_image"]["cosine"] = d["measurements"][0]["per_image"]["cosine"][:3]
    with pytest.raises(CorruptResultError, match="per_image"):
        runs.store.Results.from_json(d, source="x.json")
    d = r.to_json()
    d["measurements"][1]["worst_case"] = {"layers": [12]}
    with pytest.raises(CorruptResultError, match="worst_case"):
        runs.store.Results.from_json(d, source="x.json")


class _Killed(Exception):
    pass


def test_a_v2_run_interrupted_inside_an_epoch_resumes_from_the_last_finished_one(v2_run, tmp_path, monkeypatch):
    _, reference = v2_run
    store = ResultsStore(tmp_path)
    real = execute.train_epoch

    def dies_in_epoch_2(model, batches, optimizer, scheduler, epoch, **kw):
        if epoch == 2:
            kw["on_step"] = lambda step: (_ for _ in ()).throw(_Killed()) if step == 2 else None
        return real(model, batches, optimizer, scheduler, epoch, **kw)

    monkeypatch.setattr(execute, "train_epoch", dies_in_epoch_2)
    with pytest.raises(_Killed):
        run_or_load(tiny_v2(), store=store, progress=False)
    assert torch.load(store.work_path(tiny_v2()), weights_only=True)["epoch"] == 1
    monkeypatch.setattr(execute, "train_epoch", real)
    resumed = run_or_load(tiny_v2(), store=store, progress=False)
    assert resumed.provenance["resumed_from_epoch"] == 1
    assert [dataclasses.asdict(m) for m in resumed.measurements] == [
        dataclasses.asdict(m) for m in reference.measurements]


# ------------------------------------------------------------------------------------------------ helpers


def test_round_sig_and_log_epochs():
    assert protocol.round_sig([1234.5678, -0.000987654, 0.0]) == [1235.0, -0.0009877, 0.0]
    assert protocol.log_epochs(1) == () and protocol.log_epochs(8) == (1, 2, 4) and protocol.log_epochs(9) == (1, 2, 4, 8)
    assert protocol.worst_layers(13) == [4, 8, 12]


def test_the_sine_temperature_lies_in_petrinis_range():
    x = torch.rand(4, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    deformed, noisy, t = protocol.sine_probe(x, 0)
    low, high = temperature_range(32, protocol.SINE_CUTOFF)
    assert low <= t <= high and deformed.shape == noisy.shape == x.shape
    # the noise is scaled in float64 to the float32 norm of deformed - x; storing x + noise in float32 rounds each
    # pixel by u32 |x + noise|, a relative u32 |x + noise| / |noise| of the noise's norm (the same for deformed - x),
    # and a float32 norm of n = 1024 terms (a cascade sum, whatever the vector width) adds log2(n) u32
    u32 = torch.finfo(torch.float32).eps / 2
    ratio = float((x.flatten(1).norm(dim=1) / (deformed - x).flatten(1).norm(dim=1)).max())
    rtol = 2 * u32 * (ratio + 1) + 2 * math.log2(32 * 32) * u32
    assert torch.allclose((noisy - x).flatten(1).norm(dim=1), (deformed - x).flatten(1).norm(dim=1), rtol=rtol, atol=0)


def test_measurement_relative_stability(v2_run):
    _, r = v2_run
    m = r.final
    assert m.relative_stability("cosine") == m.noise_ratio
    assert m.relative_stability("euclidean") == [d / g for d, g in zip(m.euclidean, m.v2.noise_euclidean)]
    v1 = Measurement(0, [1.0], [1.0], [1.0], [1.0], 0.5, 0.5, 1.0, 1.0)
    with pytest.raises(ValueError, match="protocol 2"):
        v1.relative_stability("euclidean")


def test_the_kernel_view_reads_v2_translations_without_checkpoints(v2_run):
    _, r = v2_run
    translations = runs.CNNTranslations(protocol.translation_record([r]))
    sweep = translations.sweep(r, "final")
    assert sweep["change"] == r.final.v2.translations["change"] and sweep["strengths"] == [1.0, 2.0, 3.0, 4.0]
    v1 = [r for r in ResultsStore(runs.store.results_root()).stored("pooling") if r.config.probe.protocol == 1][:1]
    with pytest.raises(ValueError, match="protocol 1"):
        protocol.translation_record(v1)
