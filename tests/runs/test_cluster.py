"""Runs through submitit (``defstab_lib/runs/cluster.py``), for real: its LocalExecutor starts each job as a
subprocess of this machine, the same path (pickled job, shared results store, recorded submission) that
``--executor slurm`` takes on a cluster."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from defstab_lib.runs import ResultsStore, experiment_configs, run_configs
from defstab_lib.runs.cluster import JobResources, check_executor, job_states, jobs_folder

from tests.helpers import ROOT


def test_resources_name_their_option():
    assert JobResources(partition="gpu", time_min=60, cpus=4, gpus=1, mem_gb=16).submitit_parameters() == {
        "slurm_partition": "gpu", "timeout_min": 60, "cpus_per_task": 4, "gpus_per_node": 1, "mem_gb": 16}
    with pytest.raises(ValueError, match="--cpus must be an int >= 1, got 0"):
        JobResources(cpus=0)
    with pytest.raises(ValueError, match="--mem must be a finite real number > 0"):
        JobResources(mem_gb=-1.0)
    with pytest.raises(ValueError, match="--gpus, --mem are SLURM options: they need --executor slurm"):
        check_executor("local", JobResources(gpus=1, mem_gb=4))


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_local_executor_trains_two_smoke_runs_into_the_store(tmp_path):
    configs = experiment_configs("pooling", "smoke", downsampling=["maxpool", "avgpool"])
    store = ResultsStore(tmp_path)
    results = run_configs(configs, store=store, progress=False, executor="local")

    assert [r.key for r in results] == [c.key for c in configs]
    assert all(store.exists(c) for c in configs)
    records = sorted(jobs_folder(tmp_path).glob("*.json"))
    assert {json.loads(p.read_text())["key"] for p in records} == {c.key for c in configs}
    pids = {json.loads(p.read_text())["job_id"] for p in records}
    assert len(pids) == 2 and str(os.getpid()) not in pids, "each run was its own job, in another process"
    assert [s["state"] for s in job_states(tmp_path)] == ["stored", "stored"]

    env = {**os.environ, "PYTHONPATH": str(ROOT), "DEFSTAB_RESULTS": str(tmp_path)}
    status = subprocess.run([sys.executable, "-m", "defstab_lib", "status", "--profile", "smoke"],
                            capture_output=True, text=True, env=env, timeout=300)
    assert status.returncode == 0, status.stderr
    assert "submitted jobs" in status.stdout and "2 stored" in status.stdout, status.stdout
