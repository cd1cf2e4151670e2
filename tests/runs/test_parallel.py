"""Parallel runs on one machine (``defstab_lib/runs/parallel.py``, ``--jobs``).

The process tests start real worker processes through the command line, on a temporary results root
(``DEFSTAB_RESULTS``): the same numbers as a sequential run, each run trained once by two invocations at once, a
killed worker's run resumed, Ctrl-C leaving resumable state, a parent killed with ``kill -9`` taking its workers
with it, and runs failing alike in several workers said once with their count.  Workers are capped at the runs to
train, and a script without a main guard is told what to do.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from defstab_lib import runs
from defstab_lib.runs import ResultsStore, parallel
from defstab_lib.runs.parallel import WorkerFailure, available_cores, plan_workers

from tests.helpers import _cli, _env, no_network


def _payloads(root: Path) -> dict[str, dict]:
    """Every stored result under ``root``, by key, without its provenance (host, time, threads) and the clock
    readings of its history (seconds and images/s per epoch)."""
    out = {}
    for path in sorted(root.glob("*/*.json")):
        d = json.loads(path.read_text())
        d.pop("provenance")
        for h in d["history"]:
            h.pop("seconds"), h.pop("images_per_s")
        out[d["key"]] = d
    return out


def test_workers_are_capped_at_the_missing_runs_and_say_so():
    assert plan_workers(4, 2, torch.device("cpu")) == (2, "jobs=4 but only 2 runs to train: using 2 workers")
    assert plan_workers(None, 5, torch.device("cpu"))[0] == min(available_cores(), 5)
    assert plan_workers(None, 5, torch.device("cuda"))[0] == 1, "one run per GPU unless asked"


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_two_workers_store_the_numbers_of_a_sequential_run(tmp_path):
    parallel = _cli("run", "pooling", "--profile", "smoke", "--jobs", "2", results=tmp_path / "parallel")
    assert parallel.returncode == 0, parallel.stderr[-3000:]
    assert "training 5 runs in 2 worker processes" in parallel.stdout, parallel.stdout
    assert len(re.findall(r"\[\d/5\] .*: trained in", parallel.stdout)) == 5
    # every core as threads, as a user's `--jobs 1` has them: the run's own thread count must not depend on it
    # (on cb67332 a run trained in one process with 2 threads stored other numbers than a 1-thread worker's)
    sequential = _cli("run", "pooling", "--profile", "smoke", "--jobs", "1", "--quiet",
                      results=tmp_path / "sequential", threads=max(2, available_cores()))
    assert sequential.returncode == 0, sequential.stderr[-3000:]
    assert "worker processes" not in sequential.stdout
    a, b = _payloads(tmp_path / "parallel"), _payloads(tmp_path / "sequential")
    assert len(a) == 5 and a.keys() == b.keys()
    for key in a:
        assert a[key] == b[key], f"run {key} differs between two workers and one process"


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_two_invocations_at_once_train_each_run_once(tmp_path):
    args = ["run", "pooling", "--profile", "smoke", "--downsampling", "maxpool", "avgpool", "strided", "--jobs", "2"]
    procs = [subprocess.Popen([sys.executable, "-m", "defstab_lib", *args], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=_env(tmp_path)) for _ in range(2)]
    outs = [p.communicate(timeout=800) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [e[-2000:] for _, e in outs]
    trained = sum(len(re.findall(r"\] .*: trained in", out)) for out, _ in outs)
    loaded = sum(len(re.findall(r"\] .*: loaded \(stored meanwhile\)", out)) for out, _ in outs)
    assert trained == 3, [o for o, _ in outs]
    assert trained + loaded == 6, "each invocation accounts for every run it set out to train"
    assert len(_payloads(tmp_path)) == 3 and not list(tmp_path.glob("**/*.tmp"))


def _children(pid: int) -> list[int]:
    """The worker processes of ``pid`` (spawned by multiprocessing), from /proc."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == pid and b"spawn_main" in cmdline:
            out.append(int(stat.parent.name))
    return out


def _wait_for_resume_state(root: Path, process: subprocess.Popen, count: int, timeout: float = 300) -> None:
    deadline = time.time() + timeout
    while len(list(root.glob("*/_work/*.state.pt"))) < count:
        assert process.poll() is None, process.communicate()
        assert time.time() < deadline, "no resume state appeared"
        time.sleep(0.5)


ARGS = ["run", "pooling", "--profile", "smoke", "--downsampling", "maxpool", "avgpool", "--epochs", "6", "--jobs", "2"]


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_killed_worker_leaves_resume_state_and_a_rerun_continues(tmp_path):
    process = subprocess.Popen([sys.executable, "-m", "defstab_lib", *ARGS], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=_env(tmp_path))
    _wait_for_resume_state(tmp_path, process, 2)
    workers = _children(process.pid)
    assert len(workers) == 2, workers
    os.kill(workers[0], signal.SIGKILL)
    out, err = process.communicate(timeout=600)
    assert process.returncode == 1, out + err
    assert "were not stored" in err and "1 run failed" in err and "its worker died (exit code -9)" in err, err
    left = list(tmp_path.glob("*/_work/*.state.pt"))
    assert "1 of them kept a resume state" in err and left[0].name.split(".")[0] in err, err
    assert len(left) == 1, "the killed worker's run kept its resume state"
    assert len(_payloads(tmp_path)) == 1, "the other worker finished its run"

    rerun = _cli(*ARGS, results=tmp_path)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    stored = ResultsStore(tmp_path).stored()
    assert len(stored) == 2 and not list(tmp_path.glob("*/_work/*.state.pt"))
    assert sorted(r.provenance["resumed_from_epoch"] or 0 for r in stored)[1] >= 1, "the rerun continued"
    # the rerun trains the one missing run here, in one process with every core as threads: it still stores the
    # numbers of an uninterrupted run (on cb67332 every measurement after the resume point differed)
    whole = _cli(*ARGS, "--quiet", results=tmp_path / "uninterrupted", threads=max(2, available_cores()))
    assert whole.returncode == 0, whole.stderr[-3000:]
    a, b = _payloads(tmp_path), _payloads(tmp_path / "uninterrupted")
    assert a.keys() == b.keys() and all(a[k] == b[k] for k in a), "the resumed run differs from an uninterrupted one"


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_ctrl_c_stops_every_worker_and_leaves_resumable_state(tmp_path):
    process = subprocess.Popen([sys.executable, "-m", "defstab_lib", *ARGS], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=_env(tmp_path), start_new_session=True)
    _wait_for_resume_state(tmp_path, process, 2)
    workers = _children(process.pid)
    os.killpg(process.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole foreground group
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, out + err
    assert "run the same command again to continue" in err
    assert all(not Path(f"/proc/{w}").exists() for w in workers), "every worker stopped"
    assert not list(tmp_path.glob("**/*.tmp")), "nothing half-written"
    assert len(list(tmp_path.glob("*/_work/*.state.pt"))) + len(_payloads(tmp_path)) == 2

    rerun = _cli(*ARGS, results=tmp_path)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    stored = ResultsStore(tmp_path).stored()
    assert len(stored) == 2 and any(r.provenance["resumed_from_epoch"] for r in stored)


def test_a_script_without_a_main_guard_is_told_what_to_do(monkeypatch):
    """A spawned worker re-imports the user's script; if that calls run_configs(jobs=2) again it is refused with
    the fix, not left to multiprocessing's bootstrapping error."""
    monkeypatch.setattr(parallel.multiprocessing, "parent_process", lambda: object())
    with pytest.raises(RuntimeError, match="__main__"):
        parallel.run_in_processes([], run=lambda *a, **k: None, jobs=2, store=None)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie (an exited process not yet reaped)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_workers_die_with_a_parent_killed_by_sigkill_and_store_nothing(tmp_path):
    """``kill -9`` of ``run --jobs 2`` (no Ctrl-C, no cleanup in the parent): its workers end within seconds
    instead of training on and storing their runs (issue 29)."""
    process = subprocess.Popen([sys.executable, "-m", "defstab_lib", *ARGS], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, env=_env(tmp_path))
    _wait_for_resume_state(tmp_path, process, 1)  # the workers are training
    workers = _children(process.pid)
    assert len(workers) == 2, workers
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    deadline = time.time() + 15
    while any(_alive(w) for w in workers) and time.time() < deadline:
        time.sleep(0.2)
    assert not any(_alive(w) for w in workers), "a worker outlived its parent"
    time.sleep(3)
    assert not _payloads(tmp_path) and not list(tmp_path.glob("*/*.final.pt")), "nothing was stored"
    assert not list(tmp_path.glob("**/*.tmp")), "nothing half-written"


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_runs_failing_alike_in_several_workers_are_one_line_with_their_count(tmp_path, monkeypatch):
    """Five runs whose dataset is missing, in two real workers (``run_in_processes`` itself: ``run_configs`` and
    the command line refuse before any worker starts): one line for the failure with its count, no traceback,
    and no "resume state kept" where there is none (issue 29)."""
    (tmp_path / "data").mkdir()  # an existing root: the workers' failed downloads have nothing to clean up
    monkeypatch.setenv("DEFSTAB_DATA", str(tmp_path / "data"))
    no_network(monkeypatch)
    configs = runs.experiment_configs("pooling", "smoke", dataset="cifar10", seeds=1)
    store = ResultsStore(tmp_path / "results")
    stream = io.StringIO()
    with pytest.raises(WorkerFailure) as info:
        parallel.run_in_processes(configs, run=runs.run_or_load, jobs=2, store=store, stream=stream)
    message = str(info.value)
    lines = message.splitlines()
    assert lines[0] == f"{len(configs)} of {len(configs)} runs were not stored:", message
    failed = [line for line in lines if " failed" in line]
    assert len(failed) == 1, message
    assert failed[0].startswith(f"  {len(configs)} runs failed: DatasetNotFoundError: dataset 'cifar10'"), message
    assert str(tmp_path / "data" / "cifar-10-batches-py") in failed[0], "it says where it looked"
    assert lines[-1].startswith("none kept a resume state") and "run the same command again" not in message
    shown = stream.getvalue()
    assert "Traceback" not in message + shown
    assert sum("DatasetNotFoundError" in line for line in shown.splitlines()) == 1, shown
    assert shown.count("FAILED (the same error as above)") == len(configs) - 1, shown
    (line, text), = info.value.tracebacks.items()
    assert line in failed[0] and text.startswith("Traceback"), "--debug has the traceback"
