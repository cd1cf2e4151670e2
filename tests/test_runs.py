"""Configs, keys, the results store, run_or_load (train once, then load), resume after SIGKILL, concurrency."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from defstab_lib import chapters, cli, runs
from defstab_lib.runs import (
    ArchConfig, CorruptResultError, DataConfig, ProbeConfig, ResultsStore, RunConfig, experiment_configs,
    run_key, run_or_load,
)
from defstab_lib.runs.config import config_from_dict, config_to_dict
from defstab_lib.train import OptimConfig

ROOT = Path(__file__).resolve().parents[1]


def tiny(epochs: int = 2, **kw) -> RunConfig:
    """A run that trains in about a second on a CPU."""
    kw.setdefault("data", DataConfig(train_size=192, test_size=64))
    kw.setdefault("measure_epochs", (1,) if epochs > 1 else ())
    return RunConfig(
        "tiny", arch=ArchConfig(width=0.125), optim=OptimConfig(lr=0.05), epochs=epochs, batch_size=64,
        probe=ProbeConfig(images=8, bound_images=4), **kw,
    )


# ------------------------------------------------------------------------------------------------ configs


def test_key_is_stable_and_follows_the_config():
    a = tiny()
    assert run_key(a) == run_key(tiny()) and len(run_key(a)) == 16
    assert run_key(a) != run_key(tiny(seed=1))
    assert run_key(a) != run_key(dataclasses.replace(a, arch=ArchConfig(width=0.25)))
    assert run_key(a) == run_key(dataclasses.replace(a, profile="smoke")), "the profile's name is only a label"


def test_key_follows_the_protocol_version():
    before = run_key(tiny())
    v2 = dataclasses.replace(tiny(), probe=dataclasses.replace(tiny().probe, protocol=2))
    assert run_key(v2) != before


def test_config_round_trips_through_json():
    c = experiment_configs("synthetic", "cpu")[0]
    assert config_from_dict(json.loads(json.dumps(config_to_dict(c)))) == c


@pytest.mark.parametrize(
    "make, match",
    [(lambda: DataConfig(dataset="svhn"), "dataset 'svhn' is not allowed"),
     (lambda: DataConfig(labels="shuffled"), "labels 'shuffled' is not allowed"),
     (lambda: RunConfig("x", epochs=0), "epochs must be an int > 0"),
     (lambda: RunConfig("x", epochs=2, measure_epochs=(3,)), r"measure_epochs \[3\] are outside"),
     (lambda: ProbeConfig(images=2), "probe images must be >= 3"),
     (lambda: OptimConfig(schedule="linear"), "schedule must be one of")],
)
def test_bad_configs_name_the_field(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize(
    "kwargs, match",
    [(dict(experiment="nope"), "unknown experiment 'nope'"), (dict(profile="gpu"), "unknown profile 'gpu'"),
     (dict(dataset="svhn"), "unknown dataset 'svhn'"), (dict(seeds=0), "seeds must be an int >= 1"),
     (dict(epochs=0), "epochs must be an int >= 1"), (dict(downsampling=["pool"]), r"\['pool'\] not allowed")],
)
def test_experiment_configs_reject_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        experiment_configs(**{"experiment": "pooling", **kwargs})


def test_profiles_define_every_experiment():
    for profile in runs.PROFILES:
        for experiment in runs.trained_experiments():
            configs = experiment_configs(experiment, profile)
            assert configs and len({c.key for c in configs}) == len(configs)
    assert len(experiment_configs("pooling", "paper")) == 5 * 5
    assert {c.data.labels for c in experiment_configs("random-labels", "cpu")} == {"random"}
    assert {c.data.augmentation for c in experiment_configs("random-labels", "cpu")} == {"none"}


# ------------------------------------------------------------------------------------------------ store


def test_run_twice_loads_instead_of_retraining(tmp_path, monkeypatch):
    store = ResultsStore(tmp_path)
    config = tiny()
    first = run_or_load(config, store=store, progress=False)

    assert store.path(config).is_file()
    assert [m.epoch for m in first.measurements] == [0, 1, 2]
    assert len(first.initial.cosine) == 13 and len(first.initial.smoothness) == 8
    assert first.initial.cosine[0] > 0 and 0 <= first.final.test_accuracy <= 1
    for key in ("git_commit", "torch_version", "device_name", "wall_time_s", "date", "data_checksum"):
        assert first.provenance[key], key
    init = store.load_checkpoint(config, "init")
    final = store.load_checkpoint(config, "final")
    assert any(not torch.equal(init[k], final[k]) for k in init), "training changed the weights"
    assert not store.work_path(config).exists(), "the resume state is removed once the result is stored"

    def no_training(*args, **kwargs):
        raise AssertionError("a stored run was trained again")

    monkeypatch.setattr(runs.execute, "_train", no_training)
    again = run_or_load(config, store=store, progress=False)
    assert again.to_json() == first.to_json()


@pytest.mark.parametrize(
    "content, match",
    [("{not json", "not valid JSON"), ('{"schema": "other/1"}', "schema is 'other/1'"),
     ('{"schema": "defstab.results/1", "config": {}}', "not a valid result")],
)
def test_corrupt_result_raises_naming_the_file_and_is_not_retrained(tmp_path, content, match, monkeypatch):
    store = ResultsStore(tmp_path)
    config = tiny()
    store.path(config).parent.mkdir(parents=True)
    store.path(config).write_text(content)
    monkeypatch.setattr(runs.execute, "_train", lambda *a, **k: pytest.fail("retrained over a corrupt file"))
    with pytest.raises(CorruptResultError, match=match) as info:
        run_or_load(config, store=store, progress=False)
    assert str(store.path(config)) in str(info.value)
    assert store.path(config).read_text() == content, "the corrupt file is left for the user to inspect"


def test_a_result_stored_under_another_key_is_refused(tmp_path):
    store = ResultsStore(tmp_path)
    r = run_or_load(tiny(epochs=1), store=store, progress=False)
    other = tiny(epochs=1, seed=5)
    store.path(other).write_text(store.path(tiny(epochs=1)).read_text())
    with pytest.raises(CorruptResultError, match="holds the run"):
        store.load(other)
    assert r.key != run_key(other)


def test_interrupted_write_leaves_no_half_written_file(tmp_path, monkeypatch):
    store = ResultsStore(tmp_path)
    r = run_or_load(tiny(epochs=1), store=store, progress=False)
    before = store.path(r.config).read_bytes()

    def broken_replace(src, dst):
        raise KeyboardInterrupt  # interrupted between writing the temporary file and renaming it

    monkeypatch.setattr(runs.store.os, "replace", broken_replace)
    with pytest.raises(KeyboardInterrupt):
        store.save(r)
    assert store.path(r.config).read_bytes() == before
    assert not list(store.path(r.config).parent.glob("*.tmp")), "the temporary file is removed"


# ------------------------------------------------------------------------------------------------ processes

RUNNER = textwrap.dedent(
    """
    import json, os, sys, time
    import defstab_lib.runs.execute as ex
    from defstab_lib.runs import ResultsStore, run_or_load
    from defstab_lib.runs.config import config_from_dict

    config = config_from_dict(json.loads(sys.argv[1]))
    store = ResultsStore(sys.argv[2])
    pause_after = int(sys.argv[3])
    original_epoch, original_train = ex.train_epoch, ex._train

    def train_epoch(*args, **kwargs):
        stats = original_epoch(*args, **kwargs)
        if stats.epoch == pause_after:
            print("PAUSED", flush=True)
            time.sleep(120)
        return stats

    def train(*args, **kwargs):
        with open(os.path.join(sys.argv[2], "trained-by"), "a") as f:
            f.write(f"{os.getpid()}\\n")
        return original_train(*args, **kwargs)

    ex.train_epoch, ex._train = train_epoch, train
    results = run_or_load(config, store=store, progress=False)
    print("DONE", results.key, flush=True)
    """
)


def _start(config: RunConfig, store: Path, pause_after: int = -1) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-c", RUNNER, json.dumps(config_to_dict(config)), str(store), str(pause_after)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_killed_run_resumes_and_ends_exactly_like_an_uninterrupted_one(tmp_path):
    config = tiny(epochs=4, measure_epochs=(1, 2, 3))
    torch.set_num_threads(1)
    reference = run_or_load(config, store=ResultsStore(tmp_path / "a"), progress=False)

    store = ResultsStore(tmp_path / "b")
    process = _start(config, store.root, pause_after=3)
    assert process.stdout.readline().strip() == "PAUSED", process.stderr.read()
    process.send_signal(signal.SIGKILL)
    process.wait()
    state = torch.load(store.work_path(config), weights_only=True)
    assert state["epoch"] == 2 and not store.exists(config), "killed after epoch 2 was saved, before the end"

    resumed = run_or_load(config, store=store, progress=False)

    assert resumed.provenance["resumed_from_epoch"] == 2
    assert [dataclasses.asdict(m) for m in resumed.measurements] == [
        dataclasses.asdict(m) for m in reference.measurements
    ], "resumed measurements differ from the uninterrupted run"
    a, b = ResultsStore(tmp_path / "a").load_checkpoint(config, "final"), store.load_checkpoint(config, "final")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [h["loss"] for h in resumed.history] == [h["loss"] for h in reference.history]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_two_processes_asking_for_the_same_run_train_it_once(tmp_path):
    config = tiny(epochs=2)
    first, second = _start(config, tmp_path), _start(config, tmp_path)
    outs = [p.communicate(timeout=240) for p in (first, second)]
    assert [p.returncode for p in (first, second)] == [0, 0], [o[1][-2000:] for o in outs]
    assert all(f"DONE {config.key}" in out for out, _ in outs)
    trainers = (tmp_path / "trained-by").read_text().split()
    assert len(trainers) == 1, f"trained by {len(trainers)} processes"
    stored = ResultsStore(tmp_path).load(config)
    assert stored is not None and stored.key == config.key
    assert list(tmp_path.glob("**/*.tmp")) == []


def test_flip_crop_tps_augments_the_training_batches_only_at_the_probes_grid_and_strength():
    """Like flip-crop: per training batch, from the epoch's generator; the probe, test and train-accuracy images are
    those of the flip-crop run; the deformation is the probe's (its grid and strength)."""
    from defstab_lib import tasks
    from defstab_lib.deform import deform
    from defstab_lib.runs.execute import build_run_data
    from defstab_lib.train import TensorBatches

    def with_augmentation(kind: str) -> RunConfig:
        config = tiny(data=DataConfig(train_size=192, test_size=64, augmentation=kind))
        return dataclasses.replace(config, probe=dataclasses.replace(config.probe, strength=1.0))

    crop = build_run_data(with_augmentation("flip-crop"), torch.device("cpu"))
    tps = build_run_data(with_augmentation("flip-crop-tps"), torch.device("cpu"))
    assert tps.batches.augment.keywords == {"grid": 3, "strength": 1.0}
    for field in ("train_x", "test_x", "probe", "deformed", "noisy"):
        assert torch.equal(getattr(crop, field), getattr(tps, field)), field
    by_hand = TensorBatches(crop.batches.images, crop.batches.labels, 64, seed=0,
                            augment=lambda x, g: deform(tasks.flip_crop(x, g), 3, 1.0, generator=g)[0])
    for (a, ya), (b, yb), (c, _) in zip(tps.batches.epoch(1), by_hand.epoch(1), crop.batches.epoch(1)):
        assert torch.equal(a, b) and torch.equal(ya, yb)
        assert not torch.equal(a, c)


# ------------------------------------------------------------------------------------------------ experiments


@pytest.mark.slow
@pytest.mark.parametrize("experiment", runs.trained_experiments())
def test_smoke_profile_of_every_experiment_runs(experiment, tmp_path):
    configs = experiment_configs(experiment, "smoke")
    start = time.time()
    results = runs.run_configs(configs, store=ResultsStore(tmp_path), progress=False)
    assert len(results) == len(configs)
    for r in results:
        assert r.final.epoch == r.config.epochs
        assert all(v == v for v in r.final.cosine), "no NaN in the sensitivity profile"
    print(f"{experiment}: {len(configs)} smoke runs in {time.time() - start:.1f} s")


def test_status_tells_what_is_stored(tmp_path, monkeypatch):
    monkeypatch.setenv("DEFSTAB_RESULTS", str(tmp_path))
    spec = chapters.ChapterSpec("fake", "Fake", (), experiments=("synthetic",))
    monkeypatch.setitem(chapters.CHAPTERS, "fake", spec)
    rows = [r for r in cli.status_rows(["smoke"]) if r["chapter"] == "fake"]
    assert rows == [dict(rows[0], stored="0/4")]
    config = experiment_configs("synthetic", "smoke")[0]
    run_or_load(config, store=ResultsStore(tmp_path), progress=False)
    rows = [r for r in cli.status_rows(["smoke"]) if r["chapter"] == "fake"]
    assert rows[0]["stored"] == "1/4" and "C=1" not in rows[0]["missing"] and "C=2" in rows[0]["missing"]


# ------------------------------------------------------------------------------------------------ command line


def _cli(*args, env_results: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DEFSTAB_RESULTS": str(env_results)}
    return subprocess.run([sys.executable, "-m", "defstab_lib", *args], capture_output=True, text=True, env=env,
                          timeout=600)


@pytest.mark.parametrize(
    "args, match",
    [(["run", "nope"], "unknown experiment 'nope'"), (["run", "pooling", "--profile", "gpu"], "unknown profile"),
     (["run", "pooling", "--dataset", "svhn"], "unknown dataset 'svhn'"),
     (["run", "pooling", "--epochs", "0"], "epochs must be an int >= 1"),
     (["status", "--profile", "gpu"], "unknown profile 'gpu'")],
)
def test_cli_bad_arguments_end_with_one_line_and_exit_2(args, match, tmp_path, monkeypatch, capsys):
    """In-process (the same ``main`` a process runs; one real process below checks the exit status)."""
    monkeypatch.setenv("DEFSTAB_RESULTS", str(tmp_path))
    with pytest.raises(SystemExit) as info:
        cli.main(args)
    err = capsys.readouterr().err
    assert info.value.code == 2
    assert len(err.strip().splitlines()) == 1 and match in err
    assert not list(tmp_path.glob("**/*.json")), "nothing was trained"


def test_cli_bad_argument_in_a_real_process_exits_2_with_one_line(tmp_path):
    done = _cli("run", "pooling", "--downsampling", "maxpool", "maxpool", env_results=tmp_path)
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "'maxpool' more than once" in done.stderr
    assert not list(tmp_path.glob("**/*.json")), "nothing was trained"


@pytest.mark.slow
def test_cli_runs_then_loads(tmp_path):
    args = ["run", "pooling", "--profile", "smoke", "--downsampling", "maxpool", "--quiet"]
    first = _cli(*args, env_results=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "trained in" in first.stdout and "test acc" in first.stdout
    second = _cli(*args, env_results=tmp_path)
    assert "loaded" in second.stdout and "trained in" not in second.stdout


def test_bound_sweep_is_measured_at_init_and_end(tmp_path):
    r = run_or_load(tiny(epochs=2), store=ResultsStore(tmp_path), progress=False)
    assert r.at(1).bound is None
    for m in (r.initial, r.final):
        b = m.bound
        assert b["strengths"] == [0.5, 1.0, 2.0, 4.0]
        assert len(b["change"]) == 4 and len(b["change"][0]) == 13 and len(b["change"][0][0]) == 4
        for c, disp, jac in zip(b["strengths"], b["max_displacement"], b["max_jacobian"]):
            assert all(0 < d <= 1.8 * c * 2**0.5 for d in disp), "the field stays within the TPS overshoot bound"
            assert all(j > 0 for j in jac)
        # stronger deformations change the input more (layer 0), on average
        input_change = [sum(s[0]) / len(s[0]) for s in b["change"]]
        assert input_change == sorted(input_change)


def test_computations_are_stored_once_and_corrupt_ones_raise(tmp_path):
    store = ResultsStore(tmp_path)
    calls = []

    def compute():
        calls.append(1)
        return {"values": [1.0, 2.0]}

    first = store.computed("demo", {"seeds": 2}, compute)
    again = store.computed("demo", {"seeds": 2}, compute)
    other = store.computed("demo", {"seeds": 3}, compute)
    assert len(calls) == 2 and first == again and first.payload == {"values": [1.0, 2.0]}
    assert first.provenance["torch_version"] and other.params == {"seeds": 3}
    path = next(p for p in (tmp_path / "demo").glob("*.json") if json.loads(p.read_text())["params"]["seeds"] == 2)
    path.write_text('{"schema": "defstab.computed/1"}')
    with pytest.raises(CorruptResultError, match=str(path)):
        store.computed("demo", {"seeds": 2}, compute)
    assert len(calls) == 2
    store.computed("demo", {"seeds": 2}, compute, force=True)
    assert len(calls) == 3 and json.loads(path.read_text())["payload"] == {"values": [1.0, 2.0]}
