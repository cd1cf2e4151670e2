"""Protocol 2: the cost of one measurement, and of a run's whole schedule, against training, side by side.

    python benchmarks/bench_protocol.py [--rounds 2] [--device cpu|cuda|auto]

The run is the ``cpu`` profile's pooling run measured with protocol 2 (:mod:`defstab_lib.runs.protocol`): the
CIFAR VGG (maxpool) at half width on 20,000 Fashion-MNIST images for 8 epochs, 128 probe images, 5,000 training and
5,000 test images for accuracy.  In each round, back to back (the best of ``--rounds`` is kept: the least disturbed
on a shared machine, whose load average is printed):

- ``train``: 10 batches of 128 through :func:`defstab_lib.train.train_epoch`, extrapolated to an epoch (156 batches);
- ``light``: :func:`defstab_lib.runs.execute.measure` between initialisation and the end (D, G, medians, TV,
  accuracy on 1,000 + 1,000 images, the worst case at the last layer and for the loss, the sine-mode R_f);
- ``full``: the same at initialisation (all 5,000 + 5,000 images, per-image distances, the worst case at layers
  4, 8, 12 and the loss, the translation and Bietti-Mairal sweeps);
- ``full + ADef``: the end's measurement, with the label flips.

Reported: each as a fraction of one epoch and of the run's 8 epochs, and the whole schedule of such a run (full at
initialisation, light after 1/8, 1/4, 1/2 of the first epoch and after epochs 1, 2, 4, full + ADef at the end).
The worst case's own throughput is in ``bench_worstcase.py``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from defstab_lib.models import make_vgg  # noqa: E402
from defstab_lib.provenance import device_name, resolve_device  # noqa: E402
from defstab_lib.runs import experiment_configs  # noqa: E402
from defstab_lib.runs import protocol as v2  # noqa: E402
from defstab_lib.runs.config import init_seed  # noqa: E402
from defstab_lib.runs.execute import build_run_data, measure  # noqa: E402
from defstab_lib.train import FirstBatches, make_optimizer, train_epoch  # noqa: E402

TRAIN_BATCHES = 10


def _timed(fn, device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2, help="rounds (the best is reported)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    args = parser.parse_args()
    device = resolve_device(args.device)
    pooling = [c for c in experiment_configs("pooling", "cpu", seeds=1) if c.arch.downsampling == "maxpool"][0]
    config = dataclasses.replace(pooling, probe=dataclasses.replace(pooling.probe, protocol=2))
    data = build_run_data(config, device)
    a = config.arch
    model = make_vgg(a.spec, a.downsampling, in_channels=data.in_channels, num_classes=data.num_classes,
                     width=a.width, generator=torch.Generator().manual_seed(init_seed(config))).to(device)
    optimizer, scheduler = make_optimizer(model, config.optim, len(data.batches), config.epochs)
    train = FirstBatches(data.batches, TRAIN_BATCHES)
    train_epoch(model, FirstBatches(data.batches, 2), optimizer, scheduler, 1, device=device, progress=False)  # warm-up
    tasks = {
        "train": lambda: train_epoch(model, train, optimizer, scheduler, 2, device=device, progress=False),
        "light": lambda: measure(model, data, 0.5),
        "full": lambda: measure(model, data, 0, bound=True),
        "full + ADef": lambda: measure(model, data, config.epochs, bound=True),
    }
    best = {name: float("inf") for name in tasks}
    for _ in range(args.rounds):
        for name, fn in tasks.items():
            best[name] = min(best[name], _timed(fn, device))

    epoch_s = best["train"] / TRAIN_BATCHES * len(data.batches)
    run_s = epoch_s * config.epochs
    light = len(v2.FRACTIONS) + len(v2.log_epochs(config.epochs))
    schedule = best["full"] + light * best["light"] + best["full + ADef"]
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(f"{device_name(device)} ({platform.machine()}, {os.cpu_count()} cores), torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
          f"best of {args.rounds} rounds")
    print(f"cpu-profile pooling run (maxpool, width {a.width:g}, {config.data.train_size} images x {config.epochs} "
          f"epochs) under protocol 2: one epoch {epoch_s:.1f} s, the run's training {run_s:.0f} s\n")
    print(f"  {'measurement':<14} {'seconds':>8} {'of an epoch':>12} {'of the run':>11}")
    for name in ("light", "full", "full + ADef"):
        print(f"  {name:<14} {best[name]:>8.2f} {best[name] / epoch_s:>11.1%} {best[name] / run_s:>10.1%}")
    print(f"\n  the run's schedule (full, {light} light, full + ADef): {schedule:.1f} s = {schedule / epoch_s:.2f} "
          f"epochs = {schedule / run_s:.1%} of its training")


if __name__ == "__main__":
    main()
