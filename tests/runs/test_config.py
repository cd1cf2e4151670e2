"""Run configs and their keys (``defstab_lib/runs/config.py``): a key is stable and follows the config,
the protocol and the precision; configs round-trip through JSON and name a bad field; what a measurement protocol
measures is asked of one table (``MEASUREMENT_PROTOCOLS``), never of the protocol's number."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from defstab_lib import runs
from defstab_lib.runs import (
    ArchConfig,
    DataConfig,
    ProbeConfig,
    RunConfig,
    experiment_configs,
    run_key,
)
from defstab_lib.runs.config import (
    MEASUREMENT_PROTOCOLS,
    MeasurementProtocol,
    PROTOCOLS,
    config_from_dict,
    config_to_dict,
    init_seed,
    measurement_protocol,
)
from defstab_lib.train import OptimConfig

from tests.helpers import ROOT, tiny


PACKAGE = Path(runs.__file__).resolve().parents[1]


def test_every_protocol_has_one_record_and_a_probe_asks_it():
    assert PROTOCOLS == tuple(MEASUREMENT_PROTOCOLS) == (1, 2)
    for number, measures in MEASUREMENT_PROTOCOLS.items():
        assert measures.number == number and ProbeConfig(protocol=number).measures is measures
    traits = [f.name for f in dataclasses.fields(MeasurementProtocol) if f.name != "number"]
    assert not any(getattr(MEASUREMENT_PROTOCOLS[1], t) for t in traits)  # protocol 1 adds nothing
    assert all(getattr(MEASUREMENT_PROTOCOLS[2], t) for t in traits)
    with pytest.raises(ValueError, match=r"protocol must be one of \(1, 2\), got 0"):
        measurement_protocol(0)


def test_no_module_compares_a_protocol_number():
    comparison = re.compile(r"protocol\s*(==|!=|<=|>=|<|>)\s*\d")
    found = [f"{p.relative_to(PACKAGE)}:{n}" for p in sorted(PACKAGE.rglob("*.py"))
             for n, line in enumerate(p.read_text().splitlines(), 1) if comparison.search(line)]
    assert found == []


def test_the_table_decides_the_initial_weights_and_the_measured_epochs():
    v1, v2 = (runs.experiment_configs("pooling", "smoke", seeds=1)[0], runs.experiment_configs("worst-case", "smoke",
                                                                                               seeds=1)[0])
    assert v1.probe.measures.number == 1 and v2.probe.measures.number == 2
    assert init_seed(v1) == v1.seed and init_seed(v2) != v2.seed
    assert 1 in v2.measure_epochs or v2.epochs == 1  # dense: log-spaced epochs


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


def test_stored_results_keep_their_keys_and_precision_is_part_of_the_key():
    stored = [json.loads(p.read_text()) for p in sorted((ROOT / "results").glob("*/*.json"))]
    stored = [d for d in stored if d.get("schema") == "defstab.results/1"]
    assert len(stored) >= 42, "the checkout's stored runs"
    for d in stored:
        config = config_from_dict(d["config"])
        # a run trains in its profile's precision (bf16 in `standard`), the older profiles' runs in "auto"
        expected = runs.PROFILES[config.profile].precision if config.profile in runs.PROFILES else "auto"
        assert config.precision == expected and not config.compile and run_key(config) == d["key"], d["key"]
    config = config_from_dict(stored[0]["config"])
    keys = {run_key(dataclasses.replace(config, precision=p, compile=c)) for p in ("auto", "float32", "bf16")
            for c in (False, True)}
    assert len(keys) == 6, "bf16, explicit float32 and compiled runs are other runs"


def test_precision_is_checked_when_the_config_is_made():
    with pytest.raises(ValueError, match="precision must be one of 'auto', 'float32', 'bf16'; got 'fp8'"):
        RunConfig("x", precision="fp8")
