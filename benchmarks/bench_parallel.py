"""Runs per hour: ``run_configs(jobs=N)`` (N worker processes, cores/N threads each) against one run at a time.

The cpu profile's pooling runs (half width, 20,000 training images, test accuracy on 5,000 images, the full probe
and bound sweep at initialisation and at the end), shortened to ``--epochs`` epochs so that the benchmark takes
minutes: ``--variants`` downsampling layers x ``--seeds`` seeds.  Each mode trains the same runs into its own
temporary results store, one after the other in one invocation: sequential (``jobs=1``: one process, every core
as threads, as ``run_configs`` did before) and ``jobs=--jobs`` (default: one per core).  The ratio of runs per
hour is the speed-up; the goal on two cores is 1.8x.  The load average before and after says how shared the
machine was.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import torch

from defstab_lib.provenance import device_name
from defstab_lib.runs import ResultsStore, experiment_configs, run_configs
from defstab_lib.runs.parallel import available_cores


def _load() -> str:
    return "/".join(f"{v:.1f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--variants", nargs="+", default=["maxpool", "avgpool"])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--jobs", type=int, default=None, help="worker processes (default: one per core)")
    args = parser.parse_args()
    cores = available_cores()
    jobs = args.jobs or cores
    configs = experiment_configs("pooling", "cpu", downsampling=args.variants, seeds=args.seeds, epochs=args.epochs)
    print(f"runs per hour on {device_name(torch.device('cpu'))}, {cores} cores, torch {torch.__version__}; "
          f"{len(configs)} cpu-profile pooling runs ({', '.join(args.variants)} x {args.seeds} seeds) of "
          f"{args.epochs} epoch(s); load average (1/5/15 min) {_load()}")
    rates = {}
    for label, n in [("sequential (1 process, all cores)", 1), (f"--jobs {jobs}", jobs)]:
        with tempfile.TemporaryDirectory(prefix="defstab-bench-parallel-") as root:
            start = time.perf_counter()
            run_configs(configs, store=ResultsStore(root), progress=False, jobs=n, device="cpu")
            wall = time.perf_counter() - start
        rates[label] = len(configs) / wall * 3600
        print(f"  {label:<36} {wall:7.0f} s  {rates[label]:6.1f} runs/hour   (load average now {_load()})")
    ratio = rates[f"--jobs {jobs}"] / rates["sequential (1 process, all cores)"]
    goal = 0.9 * min(jobs, cores)
    print(f"  ratio: --jobs {jobs} trains {ratio:.2f}x the runs per hour of one process "
          f"(goal {goal:.1f}x on {cores} cores: {'met' if ratio >= goal else 'NOT met'})")


if __name__ == "__main__":
    main()
