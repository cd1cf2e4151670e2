"""Training throughput: our loop (tensors held on the device) against a torchvision-style DataLoader pipeline.

The CIFAR network (maxpool) trains on Fashion-MNIST (zero-padded to 32x32), side by side in one run:

- ``defstab``: ``defstab_lib.train.TensorBatches`` + ``train_epoch`` (uint8 tensors on the device, one index
  and one conversion per batch, no workers);
- ``DataLoader(num_workers=2)``: the same model and optimiser fed by ``torch.utils.data.DataLoader`` over a
  ``TensorDataset`` of float images, shuffled, 2 worker processes (the usual recipe);
- ``DataLoader(num_workers=0)``: the same in the main process.

Each method trains for the same number of batches after a warm-up; the best of ``--repeats`` interleaved rounds
is reported, in images/s, with the ratio to the DataLoader.  Where CUDA is present the same is run there (bf16
autocast, channels_last).  Run: ``python benchmarks/bench_train.py [--width 1.0] [--batches 20]``.
"""

from __future__ import annotations

import argparse
import os
import time

import torch
import torch.nn.functional as F

from defstab_lib.data import load_dataset, pad_to_size
from defstab_lib.models import make_vgg
from defstab_lib.train import FirstBatches, OptimConfig, TensorBatches, make_optimizer, train_epoch


def _model(width: float, device: torch.device):
    model = make_vgg("cifar", "maxpool", in_channels=1, width=width, generator=torch.Generator().manual_seed(0))
    model = model.to(device)
    optimizer, _ = make_optimizer(model, OptimConfig(), 100, 1)
    return model, optimizer


def run_defstab(images, labels, width, batches, device) -> float:
    model, optimizer = _model(width, device)
    source = FirstBatches(TensorBatches(images, labels, 128, seed=0, device=device), batches)
    train_epoch(model, FirstBatches(source, 2), optimizer, None, 1, device=device, progress=False)  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
    stats = train_epoch(model, source, optimizer, None, 2, device=device, progress=False)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return stats.images_per_s


def run_dataloader(images, labels, width, batches, device, workers: int) -> float:
    model, optimizer = _model(width, device)
    dataset = torch.utils.data.TensorDataset(images.float() / 255.0, labels)
    loader = torch.utils.data.DataLoader(dataset, batch_size=128, shuffle=True, num_workers=workers,
                                         drop_last=True, persistent_workers=workers > 0,
                                         pin_memory=device.type == "cuda",
                                         generator=torch.Generator().manual_seed(0))
    model.train()
    it = iter(loader)
    seen, start = 0, None
    for step in range(batches + 2):
        if step == 2:
            if device.type == "cuda":
                torch.cuda.synchronize()
            start, seen = time.perf_counter(), 0
        x, y = next(it)
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        if device.type == "cuda":
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            loss = F.cross_entropy(model(x).float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        seen += y.shape[0]
    if device.type == "cuda":
        torch.cuda.synchronize()
    del it, loader
    return seen / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--width", type=float, default=1.0, help="network width (1.0 = the paper's)")
    parser.add_argument("--batches", type=int, default=20, help="timed batches of 128 per method and round")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds (best is reported)")
    parser.add_argument("--images", type=int, default=10_000, help="training images held")
    args = parser.parse_args()

    train = load_dataset("fashion-mnist", "train")
    images = pad_to_size(train.images[: args.images], 32)
    labels = train.labels[: args.images]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"CIFAR network (maxpool, width {args.width}) on Fashion-MNIST 32x32, batch 128, {args.batches} timed "
          f"batches, best of {args.repeats}; torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"load average {load:.2f}")
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    for device in devices:
        batches = args.batches if device.type == "cpu" else args.batches * 20
        best = {"defstab": 0.0, "DataLoader(num_workers=2)": 0.0, "DataLoader(num_workers=0)": 0.0}
        for _ in range(args.repeats):
            best["defstab"] = max(best["defstab"], run_defstab(images, labels, args.width, batches, device))
            best["DataLoader(num_workers=2)"] = max(best["DataLoader(num_workers=2)"],
                                                    run_dataloader(images, labels, args.width, batches, device, 2))
            best["DataLoader(num_workers=0)"] = max(best["DataLoader(num_workers=0)"],
                                                    run_dataloader(images, labels, args.width, batches, device, 0))
        name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
        reference = best["DataLoader(num_workers=2)"]
        print(f"\n{name}")
        print(f"  {'method':<28} {'images/s':>10} {'vs DataLoader(2)':>17}")
        for method, rate in best.items():
            print(f"  {method:<28} {rate:>10.0f} {rate / reference:>16.2f}x")


if __name__ == "__main__":
    main()
