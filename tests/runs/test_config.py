"""What a measurement protocol measures is asked of one table (``defstab_lib/runs/config.py``'s
``MEASUREMENT_PROTOCOLS``), never of the protocol's number."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from defstab_lib import runs
from defstab_lib.runs.config import (MEASUREMENT_PROTOCOLS, PROTOCOLS, MeasurementProtocol, ProbeConfig, init_seed,
                                     measurement_protocol)

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
