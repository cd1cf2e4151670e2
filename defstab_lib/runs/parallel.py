"""Train missing runs in worker processes on one machine, one combined progress display.

Independent runs scale almost perfectly across processes, while the small convolutions of one run scale poorly
across threads; so ``run_configs(configs, jobs=N)`` starts ``N`` worker processes (``multiprocessing``'s spawn
context), each with ``torch.set_num_threads(cores // N)``, that take the missing runs from one queue and train
them with ``run_or_load`` (which trains every run on a CPU with the same thread count, :mod:`.threads`, so that a
run's numbers do not depend on ``N``).

Safety comes from the results store, not from this module: each run is trained under its key's lock and written
atomically, so two invocations over the same configs train every run once (the second waits on the lock, then
loads), and a worker that dies leaves its run's resume state (saved after every epoch) for the next invocation.
Ctrl-C (or SIGTERM) stops every worker: each turns the signal into ``KeyboardInterrupt``, so atomic writes clean
up their temporary files and nothing half-written is left; rerunning continues from the last saved epoch.
Workers die with their parent (:func:`die_with_parent`): a parent killed with ``kill -9`` (or a notebook kernel
that goes) leaves no worker training on and storing runs that nobody asked for any more.

A failure is said once: the runs that failed with the same error are one line with their count (the exception's
type and message, no traceback: :attr:`WorkerFailure.tracebacks` has them), and "resume state kept" is said of
the runs that have one only.

The display shows runs done/total, each worker's run and epoch, and the estimated time left (from the epochs
trained so far); on a terminal it is one line rewritten in place, elsewhere a plain line every ``interval``
seconds and one per finished run.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import queue
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any, TextIO

import torch

from ..checks import positive_int
from .config import RunConfig, config_from_dict, config_to_dict
from .store import ResultsStore

__all__ = ["available_cores", "plan_workers", "worker_threads", "run_in_processes", "WorkerFailure",
           "SPAWN_GUARD_MESSAGE", "die_with_parent", "failure_line"]

#: Said by a worker process that finds itself asked to start workers: the script that called ``run_configs`` with
#: ``jobs > 1`` has no ``if __name__ == "__main__":`` guard, so each spawned worker re-ran it on import.
SPAWN_GUARD_MESSAGE = ("run_configs(..., jobs=N) was called while a worker process was importing your script: put the "
                       "call under `if __name__ == \"__main__\":` (worker processes are spawned, and a spawned process "
                       "imports the script that started it), or pass jobs=1")


#: Linux's ``prctl`` option that sends a signal to this process when its parent (the thread that started it) ends.
PR_SET_PDEATHSIG = 1
#: How often a worker's watchdog looks whether its parent is still there (seconds), and how long a worker told to
#: stop (``KeyboardInterrupt``) has before its watchdog kills it.
WATCHDOG_S, STOP_GRACE_S = 0.5, 30.0


class WorkerFailure(RuntimeError):
    """Some runs were not stored: a worker died or raised.  The message gives each distinct failure once, with
    the count of runs it stopped, and says which runs kept a resume state; ``tracebacks`` maps each distinct
    failure line to one traceback of it (for ``--debug``)."""

    def __init__(self, message: str, tracebacks: dict[str, str] | None = None):
        super().__init__(message)
        self.tracebacks = dict(tracebacks or {})


def failure_line(exc: BaseException) -> str:
    """An exception as one line: its type and its message, whitespace collapsed (no traceback, no chain).

    >>> failure_line(OSError(28, "No space left on device"))
    'OSError: [Errno 28] No space left on device'
    >>> failure_line(ValueError("two\\nlines"))
    'ValueError: two lines'
    """
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def die_with_parent(parent: int) -> None:
    """End this process (``SIGTERM``, which a worker turns into ``KeyboardInterrupt``) when process ``parent``
    ends, however it ends (``kill -9`` included).

    Two guards: on Linux the kernel's parent-death signal (``prctl(PR_SET_PDEATHSIG, SIGTERM)``), and everywhere
    a watchdog thread that polls ``os.getppid()`` every :data:`WATCHDOG_S` seconds -- it also catches a parent
    that died before the signal was armed -- and kills the process outright if it has not ended
    :data:`STOP_GRACE_S` seconds after the ``SIGTERM``.  Call it in the child, with the pid of the process that
    started it.
    """
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        except (OSError, AttributeError):  # no prctl in this libc: the watchdog alone
            pass

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(WATCHDOG_S)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(STOP_GRACE_S)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="defstab-parent-watchdog", daemon=True).start()


def available_cores() -> int:
    """The CPU cores this process may use (its affinity mask where the OS has one).

    >>> available_cores() >= 1
    True
    """
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def plan_workers(jobs: int | None, missing: int, device: torch.device) -> tuple[int, str | None]:
    """How many worker processes to start for ``missing`` runs, and a note when ``jobs`` was capped.

    ``jobs=None``: one worker per core on the CPU when more than one run is missing, one on a GPU (several runs
    share a GPU only when asked).  More workers than missing runs are capped to the runs.

    >>> plan_workers(8, 3, torch.device("cpu"))
    (3, 'jobs=8 but only 3 runs to train: using 3 workers')
    >>> plan_workers(None, 1, torch.device("cpu"))
    (1, None)
    >>> plan_workers(0, 3, torch.device("cpu"))
    Traceback (most recent call last):
    ...
    ValueError: jobs must be an int >= 1, got 0
    """
    if jobs is None:
        return (min(available_cores(), missing) if device.type == "cpu" and missing > 1 else 1), None
    jobs = positive_int("jobs", jobs)
    if jobs > missing >= 1:
        return missing, (f"jobs={jobs} but only {missing} run{'s' if missing > 1 else ''} to train: using {missing} "
                         f"worker{'s' if missing > 1 else ''}")
    return jobs, None


def worker_threads(workers: int) -> int:
    """Threads per worker: the cores shared evenly, at least one.

    >>> worker_threads(1) == available_cores()
    True
    """
    return max(1, available_cores() // positive_int("workers", workers))


def _raise_interrupt(signum, frame):  # SIGTERM -> KeyboardInterrupt: atomic writes clean up, locks are released
    raise KeyboardInterrupt


def _worker(worker: int, tasks, events, run: Callable, root: str, device: str | None, force: bool,
            threads: int, parent: int) -> None:
    """A worker process: train the runs it takes from ``tasks`` until it takes ``None``; report to ``events``;
    end with ``parent`` (:func:`die_with_parent`)."""
    signal.signal(signal.SIGTERM, _raise_interrupt)
    torch.set_num_threads(threads)
    store = ResultsStore(root)
    try:
        die_with_parent(parent)
        while (task := tasks.get()) is not None:
            index, config = task[0], config_from_dict(task[1])
            events.put(("start", worker, index))
            trained = []

            def on_epoch(epoch: int, index: int = index) -> None:
                trained.append(epoch)
                events.put(("epoch", worker, index, epoch))

            try:
                results = run(config, force=force, progress=False, store=store, device=device, on_epoch=on_epoch)
                events.put(("done", worker, index, bool(trained), results.provenance.get("wall_time_s")))
            except Exception as exc:  # reported; the next run goes on
                events.put(("error", worker, index, failure_line(exc), traceback.format_exc(limit=8)))
    except KeyboardInterrupt:  # the parent stops us (or died); the run's resume state stays for the next invocation
        events.cancel_join_thread()  # exit even if the parent no longer reads
    finally:
        if os.getppid() == parent:  # nobody reads a dead parent's queue
            events.put(("exit", worker, None))


class _Display:
    """The combined progress of the workers (see the module docstring)."""

    def __init__(self, configs: list[RunConfig], workers: int, stream: TextIO, interval: float, enabled: bool):
        self.configs, self.stream, self.interval, self.enabled = configs, stream, interval, enabled
        self.tty = enabled and hasattr(stream, "isatty") and stream.isatty()
        self.current: dict[int, tuple[int, int | None]] = {}  # worker -> (run index, last finished epoch)
        self.done = 0
        self.epochs_total = sum(c.epochs for c in configs)
        self.epochs_done = 0
        self.start = time.time()
        self.last_print = self.start
        self.workers = workers
        self.failures: set[str] = set()

    def _eta(self) -> str:
        elapsed = time.time() - self.start
        if self.epochs_done == 0:
            return "time left: estimating"
        left = (self.epochs_total - self.epochs_done) * elapsed / self.epochs_done
        return f"about {left / 60:.1f} min left" if left >= 60 else f"about {left:.0f} s left"

    def line(self) -> str:
        parts = [f"runs {self.done}/{len(self.configs)} done"]
        for w in sorted(self.current):
            index, epoch = self.current[w]
            c = self.configs[index]
            what = f"C={c.data.strength:g}" if c.data.dataset == "synthetic" else c.arch.downsampling
            parts.append(f"w{w}: {what} s{c.seed} epoch {epoch or 0}/{c.epochs}")
        parts.append(self._eta())
        return " | ".join(parts)

    def emit(self, text: str, *, permanent: bool) -> None:
        if not self.enabled:
            return
        if self.tty:
            width = 160
            try:
                width = os.get_terminal_size(self.stream.fileno()).columns - 1
            except (OSError, ValueError):
                pass
            self.stream.write("\r" + " " * width + "\r")
            self.stream.write((text + "\n") if permanent else text[:width])
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def event(self, kind: str, worker: int, index: int | None, *rest: Any) -> None:
        if kind == "start":
            self.current[worker] = (index, None)
        elif kind == "epoch":
            last = self.current.get(worker, (index, None))[1]
            if last is None:  # the run starts (or resumes) at this epoch: those epochs are not ours to time
                self.epochs_total -= rest[0]
            else:
                self.epochs_done += rest[0] - last
            self.current[worker] = (index, rest[0])
        elif kind in ("done", "error"):
            c = self.configs[index]
            last = self.current.pop(worker, (index, None))[1]
            self.epochs_total -= c.epochs - (last or 0)  # epochs this run will not train here
            self.done += 1
            what = c.describe().split(": ", 1)[1]
            if kind == "done":
                how = f"trained in {rest[1]:.0f} s" if rest[0] and rest[1] is not None else "loaded (stored meanwhile)"
                self.emit(f"  [{self.done}/{len(self.configs)}] {what}: {how}", permanent=True)
            else:  # each distinct failure in full once
                said = rest[0] in self.failures
                self.failures.add(rest[0])
                self.emit(f"  [{self.done}/{len(self.configs)}] {what}: FAILED"
                          + (" (the same error as above)" if said else f": {rest[0]}"), permanent=True)
        elif kind == "exit":
            self.current.pop(worker, None)
        self.tick(force=kind != "epoch" or self.tty)

    def tick(self, force: bool = False) -> None:
        now = time.time()
        if self.tty and (force or now - self.last_print >= 1.0):
            self.emit(self.line(), permanent=False)
            self.last_print = now
        elif not self.tty and now - self.last_print >= self.interval:
            self.emit(self.line(), permanent=False)
            self.last_print = now

    def close(self) -> None:
        if self.tty and self.enabled:
            self.emit(self.line(), permanent=True)


def _stop(processes: list) -> None:
    """Stop every worker still alive: SIGTERM (a ``KeyboardInterrupt`` there), then SIGKILL after 30 s."""
    for p in processes:
        if p.is_alive():
            p.terminate()
    deadline = time.time() + 30
    for p in processes:
        p.join(max(0.0, deadline - time.time()))
        if p.is_alive():
            p.kill()
            p.join()


def run_in_processes(
    configs: list[RunConfig],
    *,
    run: Callable,
    jobs: int,
    store: ResultsStore,
    device: str | torch.device | None = None,
    force: bool = False,
    progress: bool = True,
    stream: TextIO | None = None,
    interval: float = 30.0,
) -> None:
    """Train ``configs`` with ``run`` (``run_or_load``) in ``jobs`` worker processes; return when all are stored.

    Args:
        configs: the runs to train (normally the missing ones).
        run: ``run_or_load`` (passed in, so that this module does not import the one that imports it).
        jobs: worker processes (>= 1), each with :func:`worker_threads` threads.
        store: the results store; workers open the same root.
        device, force: passed to ``run``.
        progress: show the combined display on ``stream`` (default ``sys.stdout``).
        interval: seconds between plain status lines when ``stream`` is not a terminal.

    Raises:
        WorkerFailure: some runs were not stored (a worker raised or died): each distinct failure once with its
            count, and which runs kept a resume state (:func:`_failure_message`).
        KeyboardInterrupt: after stopping every worker (each leaves its run's resume state, if it had saved one).
    """
    jobs = positive_int("jobs", jobs)
    if multiprocessing.parent_process() is not None:
        raise RuntimeError(SPAWN_GUARD_MESSAGE)
    device = None if device is None else str(device)
    ctx = multiprocessing.get_context("spawn")
    tasks, events = ctx.Queue(), ctx.Queue()
    for i, config in enumerate(configs):
        tasks.put((i, config_to_dict(config)))
    for _ in range(jobs):
        tasks.put(None)
    threads = worker_threads(jobs)
    display = _Display(configs, jobs, stream or sys.stdout, interval, progress)
    display.emit(f"training {len(configs)} runs in {jobs} worker processes, {threads} thread(s) each",
                 permanent=True)
    processes = [ctx.Process(target=_worker, name=f"defstab-worker-{w}",
                             args=(w, tasks, events, run, str(store.root), device, force, threads, os.getpid()))
                 for w in range(jobs)]
    errors: dict[int, str] = {}  # run index -> its failure in one line
    tracebacks: dict[str, str] = {}  # failure line -> one traceback of it
    try:
        for p in processes:
            p.start()
        exited: set[int] = set()
        while len(exited) < jobs:
            try:
                kind, worker, index, *rest = events.get(timeout=1.0)
            except queue.Empty:
                for w, p in enumerate(processes):
                    if w not in exited and not p.is_alive():  # died without saying so (killed, out of memory)
                        exited.add(w)
                        running = display.current.pop(w, None)
                        if running is not None:
                            errors[running[0]] = f"its worker died (exit code {p.exitcode})"
                display.tick()
                continue
            if kind == "exit":
                exited.add(worker)
            elif kind == "error":
                errors[index] = rest[0]
                tracebacks.setdefault(rest[0], rest[1])
            display.event(kind, worker, index, *rest)
    except BaseException:
        _stop(processes)
        kept = sum(store.work_path(c).is_file() for c in configs if not store.exists(c))
        display.emit(f"stopped: {kept} run{'s' if kept != 1 else ''} kept a resume state; run again to continue"
                     if kept else "stopped before any run saved a resume state", permanent=True)
        raise
    for p in processes:
        p.join()
    display.close()
    unstored = [i for i, c in enumerate(configs) if not store.exists(c)]
    if unstored:
        raise WorkerFailure(_failure_message(configs, unstored, errors, store), tracebacks)


def _failure_message(configs: list[RunConfig], unstored: list[int], errors: dict[int, str],
                     store: ResultsStore) -> str:
    """What :class:`WorkerFailure` says: one line per distinct failure with its count (and the runs' keys when
    few), then the runs that kept a resume state -- only those, since a run that failed before its first epoch
    has none and rerunning it repeats the failure until its cause is fixed."""
    by_failure: dict[str, list[RunConfig]] = {}
    for i in unstored:
        by_failure.setdefault(errors.get(i, "not trained (no worker left)"), []).append(configs[i])
    lines = [f"{len(unstored)} of {len(configs)} runs were not stored:"]
    for failure, failed in by_failure.items():
        keys = f" ({', '.join(c.key for c in failed)})" if len(failed) <= 3 else ""
        lines.append(f"  {len(failed)} run{'s' if len(failed) > 1 else ''} failed{keys}: {failure}")
    kept = [configs[i] for i in unstored if store.work_path(configs[i]).is_file()]
    if kept:
        lines.append(f"{len(kept)} of them kept a resume state ({', '.join(c.key for c in kept[:5])}"
                     f"{', ...' if len(kept) > 5 else ''}): run the same command again to continue from it")
    else:
        lines.append("none kept a resume state (each stopped before finishing an epoch): fix the cause above, "
                     "then run again")
    return "\n".join(lines)
