"""Estimates of a campaign's cost (``defstab_lib/runs/estimate.py``): each network timed once, workers
sharing the runs, datasheet ranges from counted FLOPs.  Step times are faked (``fake_steps``)."""

from __future__ import annotations


import pytest

from defstab_lib import cli, runs
from defstab_lib.runs import estimate
from defstab_lib.runs.threads import RUN_THREADS

from tests.helpers import FAKE_STEP_S


def test_each_network_is_timed_once_and_jobs_share_the_runs(fake_steps, monkeypatch):
    monkeypatch.setattr(estimate, "available_cores", lambda: 2)
    configs = runs.experiment_configs("pooling", "smoke", seeds=2)  # 5 networks x 2 seeds
    one = estimate.estimate(configs, cli.resolve_device("cpu"), jobs=1)
    assert len(fake_steps) == 5 and one.networks == 5
    steps = sum(estimate.training_steps(c) for c in configs)
    assert one.seconds == pytest.approx(steps * FAKE_STEP_S * (1 + estimate.MEASURE_SHARE))
    measured: dict = {}
    two = estimate.estimate(configs, cli.resolve_device("cpu"), jobs=2, measured=measured)
    assert two.jobs == 2 and two.threads == RUN_THREADS
    assert two.seconds == pytest.approx(one.seconds / 2), "ten equal runs on two workers: half the time"
    estimate.estimate(configs, cli.resolve_device("cpu"), jobs=2, measured=measured)
    assert len(fake_steps) == 10, "a second estimate with the same cache times nothing"
    assert "2 worker processes at once" in two.describe() and "measured here" in two.describe()


def test_workers_beyond_the_cores_share_them(fake_steps, monkeypatch):
    """On 2 cores, 100,000 workers finish no sooner than 2 (on cb67332 the estimate divided by every worker: a
    smoke campaign in 'about 1 s', the paper campaign's 7 days in 8.3 hours)."""
    monkeypatch.setattr(estimate, "available_cores", lambda: 2)
    configs = runs.experiment_configs("pooling", "smoke", seeds=4)  # 20 runs
    two = estimate.estimate(configs, cli.resolve_device("cpu"), jobs=2)
    many = estimate.estimate(configs, cli.resolve_device("cpu"), jobs=100_000)
    assert many.jobs == 20 and many.seconds >= two.seconds * (1 - 1e-9)
    assert "share them" in many.describe() and "share them" not in two.describe()


def test_one_long_run_is_not_shortened_by_more_workers(fake_steps):
    config = runs.experiment_configs("pooling", "smoke", seeds=1, downsampling=["maxpool"])
    alone = estimate.estimate(config, cli.resolve_device("cpu"), jobs=1)
    assert estimate.estimate(config, cli.resolve_device("cpu"), jobs=4).seconds == pytest.approx(alone.seconds)


def test_datasheet_estimates_are_ranges_from_counted_flops():
    configs = runs.experiment_configs("pooling", "paper", seeds=1, downsampling=["maxpool"])
    flops, ops = estimate.count_step(estimate.network_of(configs[0]))
    half = estimate.count_step(estimate.network_of(runs.experiment_configs("pooling", "cpu", seeds=1,
                                                                          downsampling=["maxpool"])[0]))[0]
    assert 3.5 < flops / half < 4.5, "half the width: about a quarter of the FLOPs"
    t4, cpu = (estimate.datasheet_estimate(configs, d) for d in estimate.DEVICE_CLASSES[::3])
    steps = estimate.training_steps(configs[0]) * (1 + estimate.MEASURE_SHARE)
    assert t4.high == pytest.approx(steps * flops / (8.1e12 * 0.1))  # T4's FP32 peak at 10%: its slow end
    assert cpu.low == pytest.approx(steps * flops / (70.4e9 * 0.6)) and cpu.launch_bound == 0
