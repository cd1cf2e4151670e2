"""Faster CPU training, measured and validated: bfloat16 autocast and ``torch.compile`` against float32.

Part 1, throughput (``--part throughput``): the cpu profile's network (CIFAR VGG, maxpool, half width) trains on
Fashion-MNIST 32x32 at batch 128 through ``defstab_lib.train.train_epoch``, in images/s, for float32, bf16,
compile and compile+bf16, at one thread and at all cores; the best of ``--repeats`` timings of ``--batches``
batches after two warm-up batches.  The cost of compiling is the first (compiling) epoch's time minus a plain
one's, per precision and thread count (``torch._dynamo.reset()`` before each; inductor's on-disk cache fresh, in a
temporary folder, for the first thread count, so that its cost is a cold compile's).
How far compiling moves training is shown on the same batches from the same weights: the mean loss of the first
two steps, compiled against eager (not only rounding: on zero-padded images the compiled backward takes other
subgradients at ReLU and max-pool ties, so compiled runs have keys of their own).

Part 2, validation (``--part validation``): ``--seeds`` initialisations of the cpu profile's pooling/maxpool
run, shortened to ``--epochs`` epochs on ``--train-size`` training images, test accuracy on ``--test-size``
test images (probe as in the profile: 128 images, 3x3 grid, 2 px), each trained twice: ``precision="auto"``
(float32 on the CPU) and ``"bf16"``, in worker processes (``run_configs(jobs=...)``), stored under ``--root``
(a rerun loads them).  Compared after training: test accuracy, per-layer filter TV (8 conv layers) and per-layer
deformation sensitivity (normalized cosine, the 12 layers after the input; layer 0, the input itself, is the
same probe in every run).

The rule, fixed before any run: bf16 holds for a metric when the mean over seeds of the paired difference
(bf16 - float32, same seed: same initial weights and batches) is within the float32 seed-to-seed standard
deviation of that metric; the verdict holds when it holds for test accuracy and for every layer of both
profiles.  The table gives each difference with a 95% t interval over the seeds (2 degrees of freedom with 3).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

from defstab_lib.data import load_dataset, pad_to_size
from defstab_lib.models import make_vgg
from defstab_lib.runs import DataConfig, ResultsStore, experiment_configs, run_configs
from defstab_lib.runs.parallel import available_cores
from defstab_lib.train import FirstBatches, OptimConfig, TensorBatches, make_optimizer, train_epoch

T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}


def _setup(images, labels, width: float):
    model = make_vgg("cifar", "maxpool", in_channels=1, width=width, generator=torch.Generator().manual_seed(0))
    optimizer, _ = make_optimizer(model, OptimConfig(), 100, 1)
    return model, optimizer


def _throughput(images, labels, width, batches, repeats, threads) -> tuple[dict, dict, dict]:
    """Images/s per setting; per compiled setting, the cost of compiling (s) and the relative difference of the
    first two steps' mean loss, compiled against eager in the same precision, same weights and batches."""
    torch.set_num_threads(threads)
    source = TensorBatches(images, labels, 128, seed=0)
    rates, compile_cost, agreement = {}, {}, {}
    for name, precision, compiled in [("float32", "auto", False), ("bf16", "bf16", False),
                                      ("compile", "auto", True), ("compile+bf16", "bf16", True)]:
        model, optimizer = _setup(images, labels, width)
        forward = None
        if compiled:
            torch._dynamo.reset()
            forward = torch.compile(model)
        first = train_epoch(model, FirstBatches(source, 2), optimizer, None, 1, progress=False, precision=precision,
                            forward=forward)
        best = 0.0
        for r in range(repeats):
            stats = train_epoch(model, FirstBatches(source, batches), optimizer, None, 2 + r, progress=False,
                                precision=precision, forward=forward)
            best = max(best, stats.images_per_s)
        rates[name] = best
        if compiled:
            compile_cost[name] = first.seconds - 2 * 128 / best
            model, optimizer = _setup(images, labels, width)
            eager = train_epoch(model, FirstBatches(source, 2), optimizer, None, 1, progress=False, precision=precision)
            agreement[name] = abs(first.loss - eager.loss) / abs(eager.loss)
    return rates, compile_cost, agreement


def part_throughput(args) -> None:
    # a fresh inductor cache, so that the first compile's cost is what a new machine pays
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="defstab-inductor-")
    train = load_dataset("fashion-mnist", "train")
    images, labels = pad_to_size(train.images[:4096], 32), train.labels[:4096]
    cores = available_cores()
    print(f"\n-- throughput: CIFAR network (maxpool, width {args.width}), batch 128, best of {args.repeats} x "
          f"{args.batches} batches (images/s)")
    table, costs, agreement = {}, {}, {}
    for threads in sorted({1, cores}):
        table[threads], costs[threads], agreement[threads] = _throughput(images, labels, args.width, args.batches,
                                                                         args.repeats, threads)
    torch.set_num_threads(cores)
    print(f"  {'threads':<8}" + "".join(f"{k:>14}" for k in table[1]))
    for threads, rates in table.items():
        print(f"  {threads:<8}" + "".join(f"{v:>14.0f}" for v in rates.values()))
    for threads, rates in table.items():
        base = rates["float32"]
        print(f"  ratio to float32 at {threads} thread(s): "
              + ", ".join(f"{k} {v / base:.2f}x" for k, v in rates.items() if k != "float32"))
    for i, (threads, cost) in enumerate(costs.items()):
        print(f"  cost of compiling at {threads} thread(s){' (cache warm from the above)' if i else ' (cold cache)'}: "
              + ", ".join(f"{k} {v:.0f} s" for k, v in cost.items()))
    for threads, agree in agreement.items():
        print(f"  compiled vs eager at {threads} thread(s), same precision, weights and batches: relative difference "
              "of the mean loss of two steps " + ", ".join(f"{k} {v:.1e}" for k, v in agree.items()))


def _stats(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else float("nan")


def part_validation(args) -> None:
    root = Path(args.root) if args.root else Path(tempfile.mkdtemp(prefix="defstab-precision-"))
    store = ResultsStore(root)
    base = experiment_configs("pooling", "cpu", downsampling=["maxpool"], seeds=args.seeds, epochs=args.epochs)
    base = [dataclasses.replace(c, data=DataConfig(train_size=args.train_size, test_size=args.test_size),
                                experiment="precision-check") for c in base]
    bf16 = [dataclasses.replace(c, precision="bf16") for c in base]
    print(f"\n-- validation: pooling/maxpool x{base[0].arch.width:g}, {args.seeds} seeds, {args.epochs} epochs on "
          f"{args.train_size} training images, test accuracy on {args.test_size}; float32 and bf16 per seed; "
          f"store {root}")
    start = time.time()
    results = run_configs(base + bf16, store=store, progress=args.progress, jobs=args.jobs)
    print(f"  {len(results)} runs ready in {time.time() - start:.0f} s (stored runs are loaded)")
    f32, b16 = results[: args.seeds], results[args.seeds:]
    metrics = [("test accuracy", lambda r: [r.final.test_accuracy])]
    metrics += [("filter TV", lambda r: r.final.smoothness), ("sensitivity", lambda r: r.final.cosine)]
    n = args.seeds
    t = T975.get(n - 1, 1.96)
    passed, total = 0, 0
    print(f"  {'metric':<22}{'float32 mean (sd)':>22}{'bf16 mean (sd)':>22}{'paired diff [95% CI]':>30}"
          f"{'|diff|/sd':>11}")
    for name, get in metrics:
        layers = len(get(f32[0]))
        for layer in range(1 if name == "sensitivity" else 0, layers):  # sensitivity layer 0 is the input
            a = [get(r)[layer] for r in f32]
            b = [get(r)[layer] for r in b16]
            d = [y - x for x, y in zip(a, b)]
            (ma, sa), (mb, sb), (md, sd) = _stats(a), _stats(b), _stats(d)
            half = t * sd / math.sqrt(n)
            ratio = abs(md) / sa if sa > 0 else float("nan")
            ok = abs(md) <= sa
            passed, total = passed + ok, total + 1
            label = name if layers == 1 else f"{name} layer {layer + (1 if name == 'filter TV' else 0)}"
            print(f"  {label:<22}{f'{ma:.4f} ({sa:.4f})':>22}{f'{mb:.4f} ({sb:.4f})':>22}"
                  f"{f'{md:+.4f} [{md - half:+.4f}, {md + half:+.4f}]':>30}{ratio:>10.2f}{'' if ok else ' *'}")
    holds = passed == total
    print(f"  verdict: bf16 {'HOLDS' if holds else 'DOES NOT HOLD'}: the mean paired difference is within the "
          f"float32 seed-to-seed sd for {passed} of {total} metrics ({n} seeds; * marks those outside)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=["throughput", "validation", "all"], default="all")
    parser.add_argument("--width", type=float, default=0.5, help="network width for the throughput (cpu profile: 0.5)")
    parser.add_argument("--batches", type=int, default=8, help="timed batches of 128 per setting and repeat")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--train-size", type=int, default=6000)
    parser.add_argument("--test-size", type=int, default=2000)
    parser.add_argument("--jobs", type=int, default=None, help="worker processes for the validation runs")
    parser.add_argument("--root", default=os.environ.get("DEFSTAB_BENCH_RESULTS", "benchmarks/out/precision-store"),
                        help="results store of the validation runs ('' for a temporary one)")
    parser.add_argument("--progress", action="store_true")
    args = parser.parse_args()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"precision and compile on the CPU: torch {torch.__version__}, {available_cores()} cores, load average "
          f"{load:.2f}")
    if args.part in ("validation", "all"):
        part_validation(args)
    if args.part in ("throughput", "all"):
        part_throughput(args)


if __name__ == "__main__":
    main()
