"""Runs per hour of ``run_configs(jobs=N)`` against one run at a time, with one thread and with every core.

Issue 14 defines the baseline: "today ``run_configs`` trains one run at a time with one thread", and asks for the
runs per hour of ``--jobs 2`` against it (goal: at least 1.8x on two cores, i.e. 0.9 x the workers).  This
benchmark measures three modes in one invocation, each training the same runs into its own temporary results
store, one mode after the other:

1. sequential, one thread (``jobs=1``, ``torch.set_num_threads(1)``): **the issue's baseline; the goal is judged
   against it**;
2. sequential, every core as threads (``jobs=1``, ``torch.set_num_threads(cores)``): what one process makes of the
   machine on its own, for reference (the goal is not judged against it; on our 2-core AMD EPYC the half-width
   network's step scales as well across two threads as across two processes, so ``--jobs 2`` gains about 1.0x
   over it on a quiet machine, and more where other work competes for the cores);
3. ``jobs=--jobs`` worker processes (default: one per core), each with ``cores // jobs`` threads.

The runs: the cpu profile's pooling runs (half width, ``--train-size`` training images, default the cpu
profile's 20,000; test accuracy on 5,000 images; the full probe and bound sweep at initialisation and at the end),
shortened to ``--epochs`` epochs (default 2): ``--variants`` downsampling layers x ``--seeds`` seeds (default 2 x 1,
one run per worker).  Measured on our 2-core AMD EPYC with nothing else running (2026-11-29): 1.92x against the
one-thread baseline with these defaults, 1.74x with runs of 1 epoch x 2 seeds (starting the workers and the
fixed measurements weigh more in shorter runs), 1.01-1.02x against one process with two threads.  It prints the machine
(CPU, cores, torch, Python) and the load average before and after each mode: on a machine busy with other work
every ratio is distorted (parallel workers then compete with it for the cores), so run it on a quiet machine.
A short check that it works: ``--epochs 1 --variants maxpool --seeds 2 --train-size 1000``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import tempfile
import time

import torch

from defstab_lib.checks import positive_int
from defstab_lib.provenance import device_name
from defstab_lib.runs import PROFILES, ResultsStore, experiment_configs, run_configs
from defstab_lib.runs.parallel import available_cores

#: The issue's goal: runs per hour with N workers at least this share of N times the one-thread baseline.
GOAL_PER_WORKER = 0.9


def _load() -> str:
    return "/".join(f"{v:.1f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "?"


def _args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=2,
                        help="epochs per run (default 2: with 1, starting the worker processes and the fixed "
                             "measurements weigh more than in the cpu profile's 8-epoch runs)")
    parser.add_argument("--variants", nargs="+", default=["maxpool", "avgpool"], help="downsampling layers")
    parser.add_argument("--seeds", type=int, default=1, help="seeds per variant (default 1)")
    parser.add_argument("--jobs", type=int, default=None, help="worker processes (default: one per core)")
    parser.add_argument("--train-size", type=int, default=PROFILES["cpu"].real.train_size,
                        help=f"training images per run (default: the cpu profile's, "
                             f"{PROFILES['cpu'].real.train_size:,})")
    args = parser.parse_args(argv)
    try:
        for name in ("epochs", "seeds", "train_size"):
            positive_int(f"--{name.replace('_', '-')}", getattr(args, name))
        if args.jobs is not None:
            positive_int("--jobs", args.jobs)
        args.configs = [dataclasses.replace(c, data=dataclasses.replace(c.data, train_size=args.train_size))
                        for c in experiment_configs("pooling", "cpu", downsampling=args.variants, seeds=args.seeds,
                                                    epochs=args.epochs)]
    except (ValueError, TypeError) as exc:
        parser.error(str(exc))
    return args


def _modes(cores: int, jobs: int) -> list[tuple[str, int, int]]:
    """``(label, jobs, threads of this process)`` of each mode, the issue's baseline first.

    >>> [m[0] for m in _modes(2, 2)]
    ['sequential, 1 thread (baseline)', 'sequential, 2 threads', '--jobs 2 (1 thread each)']
    """
    return [("sequential, 1 thread (baseline)", 1, 1), (f"sequential, {cores} threads", 1, cores),
            (f"--jobs {jobs} ({max(1, cores // jobs)} thread{'s' if cores // jobs > 1 else ''} each)", jobs, cores)]


def main(argv: list[str] | None = None) -> dict[str, float]:
    args = _args(argv)
    cores = available_cores()
    jobs = args.jobs or cores
    configs = args.configs
    print(f"machine: {device_name(torch.device('cpu'))}, {cores} cores available, {platform.machine()}, "
          f"Python {platform.python_version()}, torch {torch.__version__}")
    print(f"runs: {len(configs)} cpu-profile pooling runs ({', '.join(args.variants)} x {args.seeds} seeds) of "
          f"{args.epochs} epoch(s) on {args.train_size:,} images; load average (1/5/15 min) {_load()}")
    busy = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    if busy >= 0.5:
        print(f"  warning: the machine is not quiet (load {busy:.1f} on {cores} cores before starting): the ratios below "
              f"are distorted by the other work")
    rates = {}
    before = torch.get_num_threads()
    try:
        for label, n, threads in _modes(cores, jobs):
            torch.set_num_threads(threads)
            with tempfile.TemporaryDirectory(prefix="defstab-bench-parallel-") as root:
                start = time.perf_counter()
                run_configs(configs, store=ResultsStore(root), progress=False, jobs=n, device="cpu")
                wall = time.perf_counter() - start
            rates[label] = len(configs) / wall * 3600
            print(f"  {label:<36} {wall:7.0f} s  {rates[label]:6.1f} runs/hour   (load average now {_load()})",
                  flush=True)
    finally:
        torch.set_num_threads(before)
    baseline, threaded, parallel = (rates[m[0]] for m in _modes(cores, jobs))
    goal = GOAL_PER_WORKER * min(jobs, cores)
    verdict = "met" if parallel / baseline >= goal else "NOT met"
    print(f"  --jobs {jobs} vs sequential with 1 thread (the issue's baseline): {parallel / baseline:.2f}x the runs "
          f"per hour; goal {goal:.1f}x: {verdict}")
    print(f"  --jobs {jobs} vs sequential with {cores} threads (one process using every core; no goal): "
          f"{parallel / threaded:.2f}x")
    return rates


if __name__ == "__main__":
    main()
