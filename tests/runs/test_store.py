"""The results store (``defstab_lib/runs/store.py``) and its typed records (``defstab_lib/runs/records.py``):
every committed result re-derives its key and re-serialises to exactly its stored bytes; a stored computation keeps
its source and is computed once; ``stored_only`` refuses to compute; one place builds the store's paths; bad input
and damage (a corrupt or misplaced file, a wrong field, an interrupted write, a read-only root, a full disk, a
missing or empty ``DEFSTAB_RESULTS``) are each one clear error naming the file."""

from __future__ import annotations

import contextlib
import json
import subprocess
import warnings
from pathlib import Path

import pytest

from defstab_lib import runs
from defstab_lib.chapters import figures
from defstab_lib.runs import (
    CorruptResultError,
    ResultsStore,
    records,
    run_key,
    run_or_load,
)
from defstab_lib.runs.config import config_from_dict, config_to_dict
from defstab_lib.runs.store import Computed, Measurement, StoreWriteError, atomic_write, computation_key

from tests.helpers import tiny


COMMITTED = ResultsStore(runs.store.results_root())


def _committed_files():
    return sorted(p for p in COMMITTED.root.glob("*/*.json"))


def test_every_committed_result_re_derives_its_key_and_its_exact_bytes():
    files = _committed_files()
    stored_runs = COMMITTED.stored()
    computations = COMMITTED.stored_computations()
    assert len(stored_runs) >= 100 and len(computations) >= 5, "the committed store holds runs and computations"
    assert len(stored_runs) + len(computations) == len(files), "every committed file is a run or a computation"
    older = 0
    for r in stored_runs:
        path = COMMITTED.path(r.config)
        assert path.stem == r.key == run_key(r.config), path
        if r.to_bytes() == path.read_bytes():
            continue
        # a run stored before the config's newest fields existed: its config gains them at their defaults (which
        # its key leaves out); everything else re-serialises to the stored bytes
        older += 1
        stored = json.loads(path.read_bytes())
        added = {k: v for k, v in config_to_dict(r.config).items() if k not in stored["config"]}
        added_probe = {k: v for k, v in r.config.probe.__dict__.items() if k not in stored["config"]["probe"]}
        assert added == {"precision": "auto", "compile": False} and added_probe in ({}, {"protocol": 1}), path
        assert config_from_dict(stored["config"]) == r.config
        indent = None if r.config.probe.measures.extended else 1  # protocol 2: one line (Results.to_bytes)
        again = json.dumps({**r.to_json(), "config": stored["config"]}, indent=indent, allow_nan=True) + "\n"
        assert again.encode() == path.read_bytes(), f"{path} does not re-serialise to its stored bytes"
    assert older < len(stored_runs) / 2, "most runs hold every config field"
    for c in computations:
        assert c.key == computation_key(c.experiment, c.params) == c.path.stem, c.path
        assert c.path == COMMITTED.computation_path(c.experiment, c.params)
        assert c.to_bytes() == c.path.read_bytes(), f"{c.path} does not re-serialise to its stored bytes"


def test_both_protocols_are_among_the_committed_runs_and_protocol_2_nests_its_fields():
    stored = COMMITTED.stored()
    by_protocol = {p: [r for r in stored if r.config.probe.protocol == p] for p in (1, 2)}
    assert by_protocol[1] and by_protocol[2]
    assert all(m.v2 is None for r in by_protocol[1] for m in r.measurements)
    final = by_protocol[2][0].final
    assert final.v2 is not None and final.v2.adef is not None and final.v2.translations is not None
    flat = final.to_json()
    assert "v2" not in flat and flat["adef"] == final.v2.adef and set(records.Protocol2Fields.names()) <= set(flat)


def _demo_store(tmp_path):
    store = ResultsStore(tmp_path)
    calls = []

    def compute():
        calls.append(1)
        return {"value": 1.5}

    return store, calls, compute


def test_a_computation_keeps_its_source_whether_computed_or_loaded(tmp_path):
    store, calls, compute = _demo_store(tmp_path)
    first = store.computed("demo", {"seeds": 2}, compute, device="cpu")
    again = store.computed("demo", {"seeds": 2}, compute, device="cpu")
    assert isinstance(first, Computed) and calls == [1]
    key = computation_key("demo", {"seeds": 2})
    for c in (first, again):
        assert (c.experiment, c.key, c.params, c.payload) == ("demo", key, {"seeds": 2}, {"value": 1.5})
        assert c.path == tmp_path / "demo" / f"{key}.json" == store.file("demo", key)
        assert c.file == f"results/demo/{key}.json" == figures.results_file(c)
    assert again.provenance == first.provenance and first.provenance["device"] == "cpu"
    assert first.path.read_bytes() == again.to_bytes()


def test_a_computation_records_the_provenance_a_run_records(tmp_path):
    store, _, compute = _demo_store(tmp_path)
    c = store.computed("demo", {"seeds": 2}, compute, device="cpu")
    run_fields = ["library_version", "git_commit", "torch_version", "python", "device", "device_name", "threads",
                  "host", "date", "wall_time_s"]
    assert list(c.provenance) == run_fields


def test_stored_only_refuses_to_compute_and_says_what_is_missing(tmp_path):
    store, calls, compute = _demo_store(tmp_path)
    with pytest.raises(LookupError, match=r"demo with \{'seeds': 3\} is not in the results store: no .*demo/"
                                          r"[0-9a-f]{16}\.json; compute it by calling again without stored_only"):
        store.computed("demo", {"seeds": 3}, compute, stored_only=True)
    assert calls == [] and not (tmp_path / "demo").exists()
    store.computed("demo", {"seeds": 3}, compute, device="cpu")
    assert store.computed("demo", {"seeds": 3}, None, stored_only=True).payload == {"value": 1.5}
    with pytest.raises(ValueError, match="stored_only and force"):
        store.computed("demo", {"seeds": 3}, compute, stored_only=True, force=True)


def test_the_wrappers_keep_their_computed_source(tmp_path):
    store = ResultsStore(tmp_path)
    nets = runs.pooling_init(downsampling=["subsample", "maxpool"], draws=2, n_images=4, width=0.125, store=store,
                             device="cpu")
    assert isinstance(nets.source, Computed) and nets.source.path.is_file()
    assert figures.results_file(nets) == nets.source.file == f"results/pooling-init/{nets.source.key}.json"
    with pytest.raises(LookupError, match="pooling-init with .* is not in the results store"):
        runs.pooling_init(downsampling=["subsample", "maxpool"], draws=3, n_images=4, width=0.125, store=store,
                          stored_only=True)
    kb = COMMITTED.stored_computations("kernel-baselines")[0]
    baselines = runs.KernelBaselines.from_computed(kb)
    assert baselines.source is kb and figures.results_file(baselines) == kb.file
    translations = runs.CNNTranslations.from_computed(kb)
    assert figures.computation_file(translations) == kb.file
    in_memory = runs.KernelBaselines(params={}, payload={}, provenance={})
    with pytest.raises(LookupError, match="not read from the results store"):
        figures.results_file(in_memory)


def test_a_stored_file_of_another_computation_is_corrupt(tmp_path):
    store, _, compute = _demo_store(tmp_path)
    c = store.computed("demo", {"seeds": 2}, compute, device="cpu")
    d = json.loads(c.path.read_text())
    d["params"] = {"seeds": 5}
    c.path.write_text(json.dumps(d))
    with pytest.raises(CorruptResultError, match="not a stored computation of 'demo'"):
        store.computed("demo", {"seeds": 2}, compute)


def test_one_place_builds_the_stores_paths(tmp_path):
    store = ResultsStore(tmp_path)
    config = runs.experiment_configs("pooling", "smoke", seeds=1)[0]
    key = run_key(config)
    assert store.path(config) == tmp_path / "pooling" / f"{key}.json" == store.file("pooling", key)
    assert store.checkpoint_path(config, "init") == tmp_path / "pooling" / f"{key}.init.pt"
    assert store.work_path(config) == tmp_path / "pooling" / "_work" / f"{key}.state.pt"
    assert records.relative_file("pooling", key) == f"results/pooling/{key}.json"


def test_a_measurement_reads_the_flat_form_of_a_resume_state_with_none_fields():
    flat = {"epoch": 1, "cosine": [0.5, 0.4], "euclidean": [0.5, 0.4], "noise_cosine": [0.2, 0.2],
            "smoothness": [1.0], "train_accuracy": 0.5, "test_accuracy": 0.5, "train_loss": 1.0, "test_loss": 1.0,
            "bound": None, "noise_euclidean": None, "adef": None}
    m = Measurement.from_json(flat)
    assert m.v2 is None and "noise_euclidean" not in m.to_json()
    m.validate("x.json")
    with pytest.raises(ValueError, match="no Euclidean noise control"):
        m.relative_stability("euclidean")
    with pytest.raises(TypeError):
        Measurement.from_json({**flat, "unknown": 1})


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


@contextlib.contextmanager
def tmpfs(path: Path, *options: str):
    """A real, tiny tmpfs at ``path`` (needs root, which this project's machines and CI have)."""
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join(("size=256k",) + options), "tmpfs", str(path)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.fail(f"cannot mount a tmpfs for this test (needs root): {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """A store holding one finished tiny run (trained once for the module)."""
    store = ResultsStore(tmp_path_factory.mktemp("results"))
    config = tiny(epochs=1)
    run_or_load(config, store=store, progress=False, device="cpu")
    return store, config


def rewrite(store: ResultsStore, config, edit) -> Path:
    path = store.path(config)
    d = json.loads(path.read_text())
    edit(d)
    path.write_text(json.dumps(d))
    return path


@pytest.mark.parametrize("edit, field", [
    (lambda d: d["measurements"][0].update(cosine="0.1, 0.2"), "cosine"),
    (lambda d: d["measurements"][0].update(test_accuracy="high"), "test_accuracy"),
    (lambda d: d["measurements"][-1].update(euclidean=d["measurements"][-1]["euclidean"][:3]), "euclidean"),
    (lambda d: d["measurements"][0].update(train_accuracy=7.0), "train_accuracy"),
    (lambda d: d["measurements"][0].update(epoch="0"), "epoch"),
])
def test_a_field_of_the_wrong_type_or_length_names_the_file_and_the_field(stored, tmp_path, edit, field):
    store, config = stored
    copy = ResultsStore(tmp_path)
    copy.path(config).parent.mkdir(parents=True)
    copy.path(config).write_bytes(store.path(config).read_bytes())
    path = rewrite(copy, config, edit)
    with pytest.raises(CorruptResultError, match=field) as info:
        copy.load(config)
    assert str(path) in str(info.value)
    assert copy.state(config).startswith("corrupt: ") and field in copy.state(config)


def test_state_counts_only_valid_results(stored, tmp_path):
    store, config = stored
    assert store.state(config) == "stored"
    copy = ResultsStore(tmp_path)
    assert copy.state(config) == "missing"
    copy.path(config).parent.mkdir(parents=True)
    copy.path(config).write_bytes(store.path(config).read_bytes()[:200])  # truncated
    assert copy.exists(config) and copy.state(config).startswith("corrupt: ")


def test_a_corrupt_resume_state_is_reported_with_its_path_and_force_discards_it(tmp_path):
    store = ResultsStore(tmp_path)
    config = tiny(epochs=1)
    work = store.work_path(config)
    work.parent.mkdir(parents=True)
    work.write_bytes(b"not a torch file")
    with pytest.raises(CorruptResultError, match="resume state") as info:
        run_or_load(config, store=store, progress=False, device="cpu")
    assert str(work) in str(info.value) and "force" in str(info.value)
    r = run_or_load(config, store=store, progress=False, device="cpu", force=True)
    assert store.state(config) == "stored" and not work.exists() and r.final.epoch == 1


def test_a_missing_or_empty_defstab_results_folder_is_warned_about(tmp_path, monkeypatch):
    monkeypatch.setenv("DEFSTAB_RESULTS", str(tmp_path / "typo"))
    with pytest.warns(UserWarning, match="DEFSTAB_RESULTS=.*typo.*missing"):
        runs.results_root()
    monkeypatch.setenv("DEFSTAB_RESULTS", str(tmp_path))
    with pytest.warns(UserWarning, match="empty"):
        runs.results_root()
    (tmp_path / "pooling").mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert runs.results_root() == tmp_path


def test_a_read_only_root_is_an_error_naming_it_before_training(tmp_path):
    with tmpfs(tmp_path / "ro", "ro") as root:
        store = ResultsStore(root / "results")
        with pytest.raises(StoreWriteError, match=str(root / "results")) as info:
            run_or_load(tiny(epochs=1), store=store, progress=False, device="cpu")
        assert "read-only" in str(info.value)


def test_a_full_disk_is_one_clear_error_and_leaves_the_stored_file_intact(tmp_path):
    with tmpfs(tmp_path / "small") as root:
        path = root / "pooling" / "run.json"
        atomic_write(path, b'{"stored": true}\n')
        with pytest.raises(StoreWriteError, match="no space left") as info:
            atomic_write(path, b"x" * 1_000_000)
        assert str(path) in str(info.value)
        assert path.read_bytes() == b'{"stored": true}\n'
        assert sorted(p.name for p in path.parent.iterdir()) == ["run.json"], "no temporary file is left"


def _copy_of_a_committed_run(tmp_path, protocol: int) -> tuple[ResultsStore, Path]:
    """A store in ``tmp_path`` holding a copy of one committed run of ``protocol``, and that copy's path."""
    r = next(r for r in COMMITTED.stored("pooling") if r.config.probe.protocol == protocol)
    copy = ResultsStore(tmp_path)
    copy.path(r.config).parent.mkdir(parents=True)
    copy.path(r.config).write_bytes(COMMITTED.path(r.config).read_bytes())
    return copy, copy.path(r.config)


@pytest.mark.parametrize("protocol, edit, field", [
    (2, lambda m: m.update(cosine=[1e6] * len(m["cosine"])), "cosine"),  # times its median, far above 2
    (1, lambda m: m.update(cosine=[-0.5] * len(m["cosine"])), "cosine"),
    (1, lambda m: m.update(noise_cosine=[1e13] * len(m["noise_cosine"])), "noise_cosine"),
    (1, lambda m: m.update(euclidean=[-1.0] * len(m["euclidean"])), "euclidean"),
    (1, lambda m: m.update(smoothness=[-0.1] * len(m["smoothness"])), "smoothness"),
    (1, lambda m: m.update(test_loss=-2.0), "test_loss"),
    (2, lambda m: m.update(median_cosine=[3.0] * len(m["median_cosine"])), "median_cosine"),
])
def test_a_stored_value_out_of_its_range_is_corrupt_naming_the_file_and_the_field(tmp_path, protocol, edit, field):
    copy, path = _copy_of_a_committed_run(tmp_path, protocol)
    d = json.loads(path.read_text())
    edit(d["measurements"][-1])
    path.write_text(json.dumps(d))
    with pytest.raises(CorruptResultError, match=field) as info:
        copy.stored("pooling")
    assert str(path) in str(info.value)


def test_a_stored_protocol_that_contradicts_the_config_is_corrupt(tmp_path):
    copy, path = _copy_of_a_committed_run(tmp_path, 2)
    d = json.loads(path.read_text())
    d["protocol"] = 1
    path.write_text(json.dumps(d))
    with pytest.raises(CorruptResultError, match="protocol is 1 where its config's is 2") as info:
        copy.stored("pooling")
    assert str(path) in str(info.value)


def test_stored_random_networks_out_of_range_are_corrupt_naming_the_file_and_the_field(tmp_path):
    committed = next(c for c in COMMITTED.stored_computations("pooling-init"))
    store = ResultsStore(tmp_path)
    d = json.loads(committed.path.read_text())
    d["payload"]["distance"][0][0][1] = 1e6  # a mean cosine distance is at most 2
    path = store.file(committed.experiment, committed.key)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(d))
    with pytest.raises(CorruptResultError, match="distance holds 1000000.0, outside") as info:
        runs.pooling_init(store=store, stored_only=True, **{k: v for k, v in committed.params.items()
                                                             if k not in ("probe",)})
    assert str(path) in str(info.value)
