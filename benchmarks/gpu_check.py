"""The GPU check (``make gpu-check``): on a machine with CUDA and no network, in at most 8 minutes,

1. the CUDA tests (``pytest -m "not slow" -k cuda``);
2. random deformations at 32x32 (3 channels, 3x3 control points, C = 2 px), images/s (goal: >= 1 M);
3. training images/s of the CIFAR network (maxpool) at half and full width, data held on the GPU (bf16 autocast,
   channels_last: the library's defaults on CUDA), batch 128;
4. several runs at once: 1, 2 and 4 processes training the half-width network on the same GPU, their images/s
   summed over a common timed window (a small network leaves a large GPU idle; processes fill it);
5. timed slices of the ``paper`` profile: one pooling run (maxpool, full width, all training images) for 2 epochs
   through ``run_or_load`` on Fashion-MNIST (60,000 images), then on CIFAR-10 (50,000) where its files are here
   (:func:`paper_slices`; otherwise it says that it is skipped for lack of data, and where it looked), each with
   the time per epoch and what the profile's 25 pooling runs of 30 epochs would take one at a time;

then a summary.  On a machine without CUDA it exits with status 1 at once, with one line.

Data (nothing is downloaded): Fashion-MNIST where ``defstab_lib.data`` finds it (``$DEFSTAB_DATA``, its cache,
Debian's package); else the copy that ``make gpu-data`` puts in ``.data/FashionMNIST/raw`` of the working tree
(gitignored), which travels with the tree to a machine without the package and without a network.  CIFAR-10 the
same way: ``$DEFSTAB_DATA/cifar-10-batches-py`` (or the cache's), else ``.data/cifar-10-batches-py`` (extract
``cifar-10-python.tar.gz`` into ``.data/``).

    python benchmarks/gpu_check.py [--budget 480]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the checkout's library, installed or not

try:
    import torch

    from defstab_lib.data import (
        DATASET_INFO,
        DatasetNotFoundError,
        default_root,
        load_dataset,
        locate,
        pad_to_size,
        require_dataset,
    )
    from defstab_lib.deform import deform
    from defstab_lib.models import make_vgg
    from defstab_lib.runs import ResultsStore, experiment_configs, run_or_load
    from defstab_lib.train import FirstBatches, OptimConfig, TensorBatches, make_optimizer, train_epoch
except ImportError as exc:  # one line, as for a machine without CUDA
    sys.exit(f"gpu-check: {sys.executable} cannot import {exc.name or exc}: run 'make install', or run this with a "
             f"python that has torch and the library's dependencies")

CARRIED_DATA = ROOT / ".data"
SUMMARY: list[tuple[str, str, str]] = []  # (what, measured, goal or note)


#: The datasets of the paper slices, in order: Fashion-MNIST (needed: the check stops without it), CIFAR-10 (run
#: where its files are here, else skipped with a message).
SLICE_DATASETS = ("fashion-mnist", "cifar10")


class PaperSlice(NamedTuple):
    """One paper slice (a 2-epoch pooling run of the ``paper`` profile) on ``dataset``: ``root`` is the data root to
    run it with (``$DEFSTAB_DATA`` during the run; ``None`` when skipped), ``skipped`` says why it cannot run here
    (``None`` when it can)."""

    dataset: str
    root: Path | None
    skipped: str | None = None


def find_data(name: str, carried: Path = CARRIED_DATA) -> PaperSlice:
    """Where both splits of dataset ``name`` are on this machine: the library's default places (``$DEFSTAB_DATA``,
    its cache, Debian's package for Fashion-MNIST), else the folder ``carried`` with the working tree; nothing is
    downloaded.  Where neither holds them, ``skipped`` says so in one line, with where it looked."""
    try:
        require_dataset(name, download=False, no_download="gpu-check downloads nothing")
        return PaperSlice(name, default_root())  # Debian's Fashion-MNIST is found under any root
    except DatasetNotFoundError as exc:
        if all(locate(name, split, root=carried) for split in DATASET_INFO[name].sizes):
            return PaperSlice(name, Path(carried))
        folder = {"fashion-mnist": "FashionMNIST/raw", "cifar10": "cifar-10-batches-py"}.get(name, "")
        return PaperSlice(name, None, f"no {DATASET_INFO[name].title} data on this machine: {exc} Nor in "
                                      f"{Path(carried) / folder}, the folder carried with the working tree.")


def paper_slices(carried: Path = CARRIED_DATA) -> list[PaperSlice]:
    """The paper slices of this check, one per dataset of :data:`SLICE_DATASETS`, each found (:func:`find_data`) or
    skipped for lack of data."""
    return [find_data(name, carried) for name in SLICE_DATASETS]


def _find_data() -> bool:
    found = find_data("fashion-mnist")
    if found.skipped is None:
        os.environ["DEFSTAB_DATA"] = str(found.root)  # also for the worker processes below
    return found.skipped is None


def _step(name: str, deadline: float, need_s: float) -> bool:
    left = deadline - time.time()
    if left < need_s:
        print(f"\n== {name}: skipped ({left:.0f} s left of the budget, needs about {need_s:.0f} s)", flush=True)
        SUMMARY.append((name, "skipped", "out of time"))
        return False
    print(f"\n== {name}", flush=True)
    return True


def cuda_tests(deadline: float) -> None:
    if not _step("CUDA tests", deadline, 60):
        return
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not slow", "-k", "cuda",
           "tests/deform", "tests/test_train.py", "tests/metrics", "tests/test_probe.py"]
    try:
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=max(30, deadline - time.time() - 300),
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
        last = (done.stdout.strip().splitlines() or ["(no output)"])[-1]
        print(done.stdout[-3000:], done.stderr[-2000:], sep="\n")
        SUMMARY.append(("CUDA tests", last, "pass" if done.returncode == 0 else f"FAILED (exit {done.returncode})"))
    except subprocess.TimeoutExpired:
        SUMMARY.append(("CUDA tests", "timed out", "FAILED"))


def deformation_throughput(deadline: float, device: torch.device) -> None:
    if not _step("deformations at 32x32", deadline, 30):
        return
    gen = torch.Generator(device).manual_seed(0)
    best = 0.0
    for batch in (4096, 16384, 65536):
        images = torch.rand(batch, 3, 32, 32, generator=gen, device=device)
        deform(images, 3, 2.0, generator=gen)
        torch.cuda.synchronize(device)
        for _ in range(5):
            start = time.perf_counter()
            n = 0
            while time.perf_counter() - start < 0.5:
                deform(images, 3, 2.0, generator=gen)
                n += batch
            torch.cuda.synchronize(device)
            best = max(best, n / (time.perf_counter() - start))
        print(f"   batch {batch}: best so far {best:,.0f} images/s", flush=True)
    SUMMARY.append(("deformations 3x32x32, 3x3, C=2", f"{best / 1e6:.2f} M images/s",
                    "goal >= 1 M: " + ("met" if best >= 1e6 else "MISSED")))


def _train_rate(images, labels, width: float, batches: int, device: torch.device) -> float:
    model = make_vgg("cifar", "maxpool", in_channels=1, width=width,
                     generator=torch.Generator().manual_seed(0)).to(device)
    optimizer, _ = make_optimizer(model, OptimConfig(), 100, 1)
    source = TensorBatches(images, labels, 128, seed=0, device=device)
    train_epoch(model, FirstBatches(source, 20), optimizer, None, 1, device=device, progress=False)  # warm-up, autotune
    torch.cuda.synchronize(device)
    stats = train_epoch(model, FirstBatches(source, batches), optimizer, None, 2, device=device, progress=False)
    torch.cuda.synchronize(device)
    return stats.images_per_s


def training_throughput(deadline: float, device: torch.device, images, labels) -> None:
    if not _step("training images/s (data on the GPU, bf16 autocast, batch 128)", deadline, 40):
        return
    for width in (0.5, 1.0):
        rate = _train_rate(images, labels, width, 300, device)
        print(f"   width {width:g}: {rate:,.0f} images/s", flush=True)
        SUMMARY.append((f"training, width {width:g}", f"{rate:,.0f} images/s", "one process"))


def worker(width: float, batches: int, start_at: float) -> None:
    """One of several processes: warm up, wait for the common start, train ``batches`` batches, print images/s."""
    device = torch.device("cuda")
    train = load_dataset("fashion-mnist", "train")
    images, labels = pad_to_size(train.images[:40_000], 32), train.labels[:40_000]  # 312 batches of 128
    model = make_vgg("cifar", "maxpool", in_channels=1, width=width,
                     generator=torch.Generator().manual_seed(0)).to(device)
    optimizer, _ = make_optimizer(model, OptimConfig(), 100, 1)
    source = TensorBatches(images, labels, 128, seed=0, device=device)
    train_epoch(model, FirstBatches(source, 20), optimizer, None, 1, device=device, progress=False)
    torch.cuda.synchronize(device)
    time.sleep(max(0.0, start_at - time.time()))
    stats = train_epoch(model, FirstBatches(source, batches), optimizer, None, 2, device=device, progress=False)
    torch.cuda.synchronize(device)
    print(f"RATE {stats.images_per_s:.1f}", flush=True)


def concurrent_runs(deadline: float) -> None:
    if not _step("several runs at once (half width, processes sharing the GPU)", deadline, 120):
        return
    single = None
    for n in (1, 2, 4):
        if deadline - time.time() < 60:
            SUMMARY.append((f"{n} processes at once", "skipped", "out of time"))
            continue
        start_at = time.time() + 25  # time for every process to import torch, load the data and warm up
        procs = [subprocess.Popen([sys.executable, __file__, "--worker", "0.5", "300", f"{start_at}"], cwd=ROOT,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env={**os.environ, "PYTHONPATH": str(ROOT)}) for _ in range(n)]
        rates = []
        for p in procs:
            try:
                out, err = p.communicate(timeout=max(30, deadline - time.time()))
            except subprocess.TimeoutExpired:
                p.kill()
                out, err = p.communicate()
            rates += [float(line.split()[1]) for line in out.splitlines() if line.startswith("RATE ")]
            if p.returncode:
                print(err[-1500:])
        total = sum(rates) if len(rates) == n else float("nan")
        single = single or total
        print(f"   {n} process(es): {total:,.0f} images/s together ({', '.join(f'{r:,.0f}' for r in rates)})",
              flush=True)
        SUMMARY.append((f"{n} processes at once, width 0.5", f"{total:,.0f} images/s",
                        f"{total / single:.2f}x one process"))


def paper_slice(deadline: float, found: PaperSlice) -> None:
    info = DATASET_INFO[found.dataset]
    name = (f"a slice of the paper profile on {info.title}: one pooling run (maxpool, full width, "
            f"{info.sizes['train']:,} images), 2 epochs")
    what = f"paper pooling run, {info.title}, 2 epochs"
    if found.skipped:
        print(f"\n== {name}: skipped, for lack of data: {found.skipped}", flush=True)
        SUMMARY.append((what, "skipped", f"no {info.title} data here"))
        return
    if not _step(name, deadline, 90):
        return
    config = experiment_configs("pooling", "paper", dataset=found.dataset, downsampling=["maxpool"], seeds=1,
                                epochs=2)[0]
    before = os.environ.get("DEFSTAB_DATA")
    os.environ["DEFSTAB_DATA"] = str(found.root)
    try:
        with tempfile.TemporaryDirectory(prefix="defstab-gpu-check-") as root:
            start = time.perf_counter()
            r = run_or_load(config, store=ResultsStore(root), progress=False, device="cuda")
            wall = time.perf_counter() - start
    finally:
        if before is None:
            os.environ.pop("DEFSTAB_DATA", None)
        else:
            os.environ["DEFSTAB_DATA"] = before
    per_epoch = max(h["seconds"] for h in r.history)
    measured = wall - sum(h["seconds"] for h in r.history)
    full = 30 * per_epoch + measured * 7 / 3  # 30 epochs; measurements at 7 epochs instead of 3 (0, 1, 2)
    print(f"   {wall:.0f} s in all: {per_epoch:.1f} s per epoch ({r.history[-1]['images_per_s']:,.0f} images/s), "
          f"{measured:.0f} s of data, measurements and set-up; test accuracy after 2 epochs "
          f"{r.final.test_accuracy:.3f}", flush=True)
    SUMMARY.append((what, f"{wall:.0f} s ({per_epoch:.1f} s/epoch)",
                    f"a 30-epoch run ~{full / 60:.0f} min; the 25 pooling runs ~{25 * full / 3600:.1f} h one at a "
                    "time"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=float, default=480, help="seconds for the whole check (default 8 min)")
    parser.add_argument("--worker", nargs=3, metavar=("WIDTH", "BATCHES", "START_AT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print(f"gpu-check: no CUDA device on this machine (torch {torch.__version__}, CUDA build "
              f"{torch.version.cuda or 'none'}); run it on a machine with an NVIDIA GPU", file=sys.stderr)
        return 1
    slices = paper_slices()  # before _find_data sets $DEFSTAB_DATA for Fashion-MNIST
    if not _find_data():
        print(f"gpu-check: Fashion-MNIST not found (installed, $DEFSTAB_DATA, or {CARRIED_DATA}); run 'make "
              f"gpu-data' where it is installed, and carry {CARRIED_DATA} with the working tree", file=sys.stderr)
        return 1
    if args.worker:
        worker(float(args.worker[0]), int(args.worker[1]), float(args.worker[2]))
        return 0
    begin = time.time()
    deadline = begin + args.budget
    device = torch.device("cuda")
    print(f"gpu-check: {torch.cuda.get_device_name(device)}, torch {torch.__version__} (CUDA {torch.version.cuda}), "
          f"budget {args.budget:.0f} s", flush=True)
    cuda_tests(deadline)
    deformation_throughput(deadline, device)
    train = load_dataset("fashion-mnist", "train")
    images, labels = pad_to_size(train.images[:40_000], 32), train.labels[:40_000]
    training_throughput(deadline, device, images, labels)
    concurrent_runs(deadline)
    for found in slices:
        paper_slice(deadline, found)
    print(f"\n== summary ({time.time() - begin:.0f} s, {torch.cuda.get_device_name(device)})")
    for what, measured, note in SUMMARY:
        print(f"   {what:<44} {measured:>28}   {note}")
    failed = any("FAILED" in note or "MISSED" in note for _, _, note in SUMMARY)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
