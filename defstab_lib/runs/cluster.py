"""Runs on a cluster through submitit: one job per missing run, results into the shared results store.

No scheduler of ours: `submitit <https://github.com/facebookincubator/submitit>`_ submits each missing run as a
SLURM job (``executor="slurm"``), or as a subprocess of this machine through its ``LocalExecutor``
(``executor="local"``, for trying the same path without a cluster).  A job calls ``run_or_load`` on the shared
store, so the store's per-key lock and atomic writes keep it safe against other jobs and local runs.

Each submission is recorded in ``<results root>/.jobs/<key>.json`` (the job's id, executor and log folder;
logs in ``<results root>/.jobs/logs/``), which :func:`job_states` reads to say, per run, whether it is queued,
running, stored or failed.  ``.jobs`` is local bookkeeping, not a result: it is not committed.

submitit is an optional dependency (the ``cluster`` extra): it is imported inside the functions that need it.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ..checks import choice, nonnegative_float, positive_int
from .config import RunConfig, config_from_dict, config_to_dict, run_key
from .store import ResultsStore, atomic_write

__all__ = ["JobFailure", "EXECUTORS", "JobResources", "check_executor", "submit_runs", "wait_for", "job_states", "jobs_folder"]

class JobFailure(RuntimeError):
    """Some submitted jobs failed; the message names them and their logs."""


#: Where missing runs train: worker processes here, submitit's local executor, or SLURM through submitit.
EXECUTORS: tuple[str, ...] = ("processes", "local", "slurm")

#: The command-line option of each :class:`JobResources` field.
OPTIONS = {"partition": "--partition", "time_min": "--time", "cpus": "--cpus", "gpus": "--gpus",
           "mem_gb": "--mem"}

LOCAL_TIMEOUT_MIN = 7 * 24 * 60  # submitit's LocalExecutor kills a job after 2 minutes unless told otherwise


@dataclasses.dataclass(frozen=True)
class JobResources:
    """What one SLURM job asks for (``None``: the cluster's default).

    Attributes:
        partition: the SLURM partition (``--partition``).
        time_min: wall-time limit in minutes (``--time``).
        cpus: CPUs per job (``--cpus-per-task``); the run uses that many threads.
        gpus: GPUs per job (``--gpus-per-node``).
        mem_gb: memory per job in GB (``--mem``).
    """

    partition: str | None = None
    time_min: int | None = None
    cpus: int | None = None
    gpus: int | None = None
    mem_gb: float | None = None

    def __post_init__(self) -> None:
        for name in ("time_min", "cpus"):
            if getattr(self, name) is not None:
                positive_int(OPTIONS[name], getattr(self, name))
        if self.gpus is not None:
            positive_int(OPTIONS["gpus"], self.gpus, minimum=0)
        if self.mem_gb is not None:
            nonnegative_float(OPTIONS["mem_gb"], self.mem_gb, strict=True)
        if self.partition is not None and (not isinstance(self.partition, str) or not self.partition):
            raise ValueError(f"--partition must be a non-empty name, got {self.partition!r}")

    def given(self) -> list[str]:
        """The command-line options of the fields that are set.

        >>> JobResources(partition="gpu", mem_gb=8).given()
        ['--partition', '--mem']
        """
        return [OPTIONS[f.name] for f in dataclasses.fields(self) if getattr(self, f.name) is not None]

    def submitit_parameters(self) -> dict[str, Any]:
        """The parameters of ``submitit.AutoExecutor.update_parameters`` that are set."""
        names = {"partition": "slurm_partition", "time_min": "timeout_min", "cpus": "cpus_per_task",
                 "gpus": "gpus_per_node", "mem_gb": "mem_gb"}
        return {names[k]: v for k, v in dataclasses.asdict(self).items() if v is not None}


def _submitit(executor: str):
    try:
        import submitit  # optional dependency: the `cluster` extra
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(f"--executor {executor} needs submitit, which is not installed; install it with "
                                  f"pip install 'defstab-lib[cluster]' (or pip install submitit)") from exc
    return submitit


def check_executor(executor: str, resources: JobResources | None = None, jobs: int | None = None) -> None:
    """Refuse, before any work, an unknown executor, SLURM options without SLURM, ``jobs`` with a submitit
    executor, a missing submitit, or SLURM's ``sbatch`` missing.

    >>> check_executor("processes", JobResources(partition="gpu"))
    Traceback (most recent call last):
    ...
    ValueError: --partition is a SLURM option: it needs --executor slurm, got --executor processes
    """
    choice("executor", executor, EXECUTORS)
    if jobs is not None:
        positive_int("jobs", jobs)
    given = (resources or JobResources()).given()
    if given and executor != "slurm":
        raise ValueError(f"{', '.join(given)} {'is a SLURM option' if len(given) == 1 else 'are SLURM options'}: "
                         f"{'it needs' if len(given) == 1 else 'they need'} --executor slurm, got --executor {executor}")
    if jobs is not None and executor != "processes":
        raise ValueError(f"--jobs applies to --executor processes; with --executor {executor} every missing run is "
                         f"its own job")
    if executor in ("local", "slurm"):
        _submitit(executor)
    if executor == "slurm" and shutil.which("sbatch") is None:
        raise ValueError("--executor slurm needs SLURM's sbatch on PATH, and there is none on this machine; run on "
                         "the cluster's login node (or use --executor local to try the same path here)")


def jobs_folder(root: str | os.PathLike) -> Path:
    """Where submissions are recorded: ``<root>/.jobs``."""
    return Path(root) / ".jobs"


def _job(run: Callable, config: dict[str, Any], root: str, device: str | None, force: bool,
         threads: int | None) -> str:
    """What one submitted job does: ``run`` (``run_or_load``) on the shared store; returns the run's key."""
    if threads is None:  # on SLURM: the CPUs of the allocation
        threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    torch.set_num_threads(max(1, threads))
    results = run(config_from_dict(config), force=force, progress=False, store=ResultsStore(root), device=device)
    return results.key


def submit_runs(
    configs: list[RunConfig],
    *,
    run: Callable,
    executor: str,
    store: ResultsStore,
    resources: JobResources | None = None,
    device: str | torch.device | None = None,
    force: bool = False,
) -> list:
    """Submit one job per config with submitit; record each under :func:`jobs_folder`; return the jobs.

    Args:
        configs: the runs (normally the missing ones).
        run: ``run_or_load`` (passed in, so that this module does not import the one that imports it).
        executor: ``"slurm"`` or ``"local"`` (submitit's ``LocalExecutor``: subprocesses of this machine, each
            with ``cores // len(configs)`` threads).
        store: the shared results store (its root must be visible to the jobs).
        resources: SLURM resources (``executor="slurm"`` only).
        device, force: passed to ``run``.

    Returns:
        submitit ``Job`` objects, in the order of ``configs``.
    """
    check_executor(executor, resources)
    submitit = _submitit(executor)
    resources = resources or JobResources()
    logs = jobs_folder(store.root) / "logs"
    if executor == "local":
        ex = submitit.LocalExecutor(folder=logs)
        ex.update_parameters(timeout_min=LOCAL_TIMEOUT_MIN)
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        threads = max(1, cores // max(1, len(configs)))
    else:
        ex = submitit.AutoExecutor(folder=logs, cluster="slurm")
        ex.update_parameters(name="defstab", **resources.submitit_parameters())
        threads = None
    device = None if device is None else str(device)
    jobs = []
    for config in configs:
        job = ex.submit(_job, run, config_to_dict(config), str(store.root), device, force, threads)
        record = {"key": run_key(config), "run": config.describe(), "config": config_to_dict(config),
                  "executor": executor, "job_id": str(job.job_id), "logs": str(logs),
                  "submitted": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
        atomic_write(jobs_folder(store.root) / f"{run_key(config)}.json", (json.dumps(record, indent=1) + "\n").encode())
        jobs.append(job)
    return jobs


def wait_for(jobs: list) -> None:
    """Wait for submitted jobs; raise :class:`JobFailure` naming those that failed (with their log folder)."""
    failed = []
    for job in jobs:
        try:
            job.result()
        except Exception as exc:  # submitit's FailedJobError and friends: collected, reported together
            failed.append(f"job {job.job_id}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    if failed:
        raise JobFailure(f"{len(failed)} of {len(jobs)} jobs failed (logs under {jobs[0].paths.folder}); "
                           f"their resume state is kept, submit again to continue:\n" + "\n".join(failed))


_SLURM_STATES = {"PENDING": "queued", "REQUEUED": "queued", "CONFIGURING": "queued", "RUNNING": "running",
                 "COMPLETING": "running", "SUSPENDED": "queued",
                 "UNKNOWN": "queued (not yet listed by sacct)"}


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def job_states(root: str | os.PathLike) -> list[dict[str, str]]:
    """Every recorded submission under ``root``: ``{"key", "run", "executor", "job_id", "state"}``, state one of
    ``stored``, ``queued``, ``running`` or ``failed (...)``/``ended without a result``, sorted by run."""
    store = ResultsStore(root)
    rows = []
    for path in sorted(jobs_folder(root).glob("*.json")):
        try:
            record = json.loads(path.read_text())
            config = config_from_dict(record["config"])
        except (json.JSONDecodeError, KeyError, ValueError):
            rows.append({"key": path.stem, "run": "?", "executor": "?", "job_id": "?",
                         "state": f"unreadable record {path}"})
            continue
        if store.exists(config):
            state = "stored"
        elif record["executor"] == "slurm":
            state = _slurm_state(record)
        else:  # local: the job id is the controller's pid on this machine
            alive = record["job_id"].isdigit() and _pid_alive(int(record["job_id"]))
            state = "running" if alive else f"ended without a result (log in {record['logs']})"
        rows.append({"key": record["key"], "run": record["run"], "executor": record["executor"],
                     "job_id": record["job_id"], "state": state})
    return rows


def _slurm_state(record: dict[str, Any]) -> str:
    try:
        submitit = _submitit("slurm")
        state = submitit.SlurmJob(folder=record["logs"], job_id=record["job_id"]).state
    except Exception as exc:  # sacct unreachable (not on the cluster), or submitit missing: say so
        return f"unknown ({type(exc).__name__}: {exc})"
    return _SLURM_STATES.get(state, f"failed ({state}; log in {record['logs']})" if state != "COMPLETED"
                             else "ended without a result")
