"""The store's typed records (``defstab_lib/runs/store.py``, ``defstab_lib/runs/records.py``): every committed
result re-derives its key and re-serialises to exactly its stored bytes; a stored computation keeps its source;
``stored_only`` refuses to compute; one place builds the store's paths."""

from __future__ import annotations

import json

import pytest

from defstab_lib import runs
from defstab_lib.chapters import figures
from defstab_lib.runs import records
from defstab_lib.runs.config import config_from_dict, config_to_dict, run_key
from defstab_lib.runs.store import Computed, CorruptResultError, Measurement, ResultsStore, computation_key

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
