"""Worst-case deformations: throughput, and their cost against an epoch of training, side by side in one run.

    python benchmarks/bench_worstcase.py [--images 32] [--steps 10] [--rounds 3] [--device cpu|cuda|auto]

The network and data are the ``cpu`` profile's (:mod:`defstab_lib.runs.profiles`): the CIFAR VGG (maxpool) at half
width on Fashion-MNIST zero-padded to 32x32, untrained (the cost of a step does not depend on the weights).  In each
round, back to back:

- ``train``: 10 batches of 128 through :func:`defstab_lib.train.train_epoch` after a warm-up, extrapolated to one
  epoch of the profile (20,000 images: 156 batches);
- ``worst case``: :func:`defstab_lib.worstcase.worst_case` on ``--images`` probe images at the paper's budget
  (3x3 control points, C = 2 px) with ``--steps`` steps, maximising the normalised cosine distance at layers 4, 8
  and 12 (the network runs up to the layer), and the loss at the output;
- ``adef``: :func:`defstab_lib.worstcase.adef`, 5 DeepFool steps on every image (limit lifted, so that none stops
  early on the untrained network), to price one step (one forward pass and ten backward passes).

Times are the best of ``--rounds`` rounds (the least disturbed; on a shared machine the load average is printed
with them).  Reported: worst-case images/s (images x steps would be the gradient steps/s), and each evaluation's
time as a fraction of one training epoch -- the budget of a protocol-v2 measurement is a fraction of a run's
training time (issue 15: under 15% in all), so these ratios say how many worst cases a run can afford.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from defstab_lib.data import load_dataset, pad_to_size  # noqa: E402
from defstab_lib.models import make_vgg  # noqa: E402
from defstab_lib.provenance import device_name, resolve_device  # noqa: E402
from defstab_lib.runs.profiles import get_profile  # noqa: E402
from defstab_lib.train import FirstBatches, OptimConfig, TensorBatches, make_optimizer, train_epoch  # noqa: E402
from defstab_lib.worstcase import adef, worst_case  # noqa: E402

GRID, BUDGET = 3, 2.0
LAYERS = (4, 8, 12)
TRAIN_BATCHES = 10


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _timed(fn, device: torch.device) -> float:
    _sync(device)
    start = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=32, help="probe images per worst-case evaluation")
    parser.add_argument("--steps", type=int, default=10, help="gradient steps per worst case")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (the best is reported)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    args = parser.parse_args()
    device = resolve_device(args.device)
    profile = get_profile("cpu")
    epoch_images = profile.real.train_size

    train = load_dataset("fashion-mnist", "train")
    test = load_dataset("fashion-mnist", "test")
    train_x, train_y = pad_to_size(train.images[:4000], 32), train.labels[:4000]
    probe = (pad_to_size(test.images[: args.images], 32).float() / 255.0).to(device)
    labels = test.labels[: args.images].to(device)

    def network():
        return make_vgg("cifar", "maxpool", in_channels=1, width=profile.width,
                        generator=torch.Generator().manual_seed(0)).to(device)

    trained = network()
    optimizer, _ = make_optimizer(trained, OptimConfig(), 100, 1)
    batches = TensorBatches(train_x, train_y, profile.batch_size, seed=0, device=device)
    train_epoch(trained, FirstBatches(batches, 2), optimizer, None, 1, device=device, progress=False)  # warm-up
    model = network()

    def generator():
        return torch.Generator(device=device).manual_seed(0)

    tasks = {"train (10 batches)": lambda: train_epoch(trained, FirstBatches(batches, TRAIN_BATCHES), optimizer, None,
                                                      2, device=device, progress=False)}
    for layer in LAYERS:
        tasks[f"worst case, layer {layer}"] = (
            lambda layer=layer: worst_case(model, probe, GRID, BUDGET, layer=layer, steps=args.steps,
                                           generator=generator()))
    tasks["worst case, loss"] = lambda: worst_case(model, probe, GRID, BUDGET, objective="loss", labels=labels,
                                                   steps=args.steps, generator=generator())
    tasks["adef, 5 steps"] = lambda: adef(model, probe, GRID, max_steps=5, limit=1e9)
    for fn in tasks.values():  # warm-up (operator caches, allocator)
        fn()
    best = {name: float("inf") for name in tasks}
    for _ in range(args.rounds):
        for name, fn in tasks.items():
            best[name] = min(best[name], _timed(fn, device))

    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(f"{device_name(device)} ({platform.machine()}, {os.cpu_count()} cores), torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"CIFAR VGG (maxpool, width {profile.width}) on Fashion-MNIST 32x32; worst cases on {args.images} images, "
          f"3x3 points, C = {BUDGET:g} px, {args.steps} steps; best of {args.rounds} rounds")
    epoch_s = best["train (10 batches)"] / (TRAIN_BATCHES * profile.batch_size) * epoch_images
    print(f"one training epoch of the cpu profile ({epoch_images} images): {epoch_s:.1f} s "
          f"({TRAIN_BATCHES * profile.batch_size / best['train (10 batches)']:.0f} images/s)\n")
    print(f"  {'evaluation':<26} {'seconds':>8} {'images/s':>9} {'of an epoch':>12}")
    for name, seconds in best.items():
        if name.startswith("train"):
            continue
        print(f"  {name:<26} {seconds:>8.2f} {args.images / seconds:>9.1f} {seconds / epoch_s:>11.1%}")
    every = sum(best[f"worst case, layer {k}"] for k in LAYERS) + best["worst case, loss"]
    print(f"\n  layers {', '.join(map(str, LAYERS))} and the loss together: {every:.2f} s = {every / epoch_s:.1%} "
          f"of an epoch; a cpu-profile run trains {profile.real.epochs} epochs ({profile.real.epochs * epoch_s:.0f} s)")


if __name__ == "__main__":
    main()
