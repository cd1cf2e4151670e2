"""How long the runs still missing will take: measured on this machine, and derived from datasheets for others.

**Measured here** (:func:`estimate`).  For each distinct network among the missing runs (architecture, downsampling,
width, input shape, classes, batch size, precision: :func:`network_of`) a few training steps are timed once on
random images (nothing is loaded), with the threads every run trains with on a CPU
(:data:`~defstab_lib.runs.threads.RUN_THREADS`).  A run's time is its SGD steps times its network's step, plus
:data:`MEASURE_SHARE` for measuring; the runs are then dealt to ``jobs`` workers in order, each taking the next run
when it is free (as :mod:`.parallel` does), and the time is that of the last worker to finish.  On a CPU, workers
beyond the cores share them: ``jobs`` workers on ``cores`` cores go ``min(1, cores / jobs)`` times as fast each, so
more workers than cores never shorten the estimate.  The assumption, stated wherever the number is printed: each
worker with a core of its own trains as fast as the step timed alone (on a busy machine, everything is slower).  It is an estimate (the first steps of a cold process are slower; data loading and augmentation are not
timed), printed before training so that nobody starts hours of work by accident; the command line refuses one over
:data:`CONFIRM_ABOVE_S` on a CPU unless ``--yes``.

**From the datasheet, not measured** (:func:`datasheet_estimate`, for the device classes of
:data:`DEVICE_CLASSES`: a Colab T4, an A100, an H100, a 2-core CPU).  Nothing can be timed on a device that is not
here, so for those the time is derived, and every printed line says so:

- the floating-point operations of one training step (forward and backward of the convolutions and matrix
  products, :class:`torch.utils.flop_counter.FlopCounterMode`) and the operations it dispatches are *counted* on
  the network (on PyTorch's meta device: nothing is computed);
- a step takes those FLOPs divided by the class's datasheet peak (dense, no sparsity) for the run's precision
  times an *assumed* efficiency (a range: :attr:`DeviceClass.efficiency`); on a GPU, not less than the counted
  operations times an *assumed* 8 to 20 microseconds each (eager PyTorch launches every operation from Python,
  so a small network cannot fill a large GPU: its steps are launch-bound);
- plus :data:`MEASURE_SHARE` for measuring; data loading and augmentation are not counted.

The two ends of the range come from the two ends of the assumed efficiency and launch cost; neither end was
measured on such a device.  For scale (a measurement, on our 2-core AMD EPYC, one thread, machine busy): the
half-width network reached 58-60 GFLOP/s in float32 and 100-110 GFLOP/s in bf16 autocast per core, the full-width
one 60-75 GFLOP/s in float32.
"""

from __future__ import annotations

import dataclasses
import heapq
import time
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from ..data import DATASET_INFO
from ..models import make_vgg
from ..provenance import device_name
from ..train import autocast, uses_bf16
from .config import RunConfig
from .parallel import available_cores
from .sizes import training_images, training_steps
from .threads import RUN_THREADS

__all__ = ["Estimate", "estimate", "CONFIRM_ABOVE_S", "MEASURE_SHARE", "format_duration", "network_of",
           "step_seconds", "count_step", "DeviceClass", "DEVICE_CLASSES", "DatasheetEstimate", "datasheet_estimate",
           "LAUNCH_S", "training_images", "training_steps"]

#: On a CPU, work estimated above this many seconds needs ``--yes`` on the command line.
CONFIRM_ABOVE_S = 3600.0
#: Share of a run's time spent measuring rather than training (protocol v1 and v2 both stay under it).
MEASURE_SHARE = 0.2
#: Seconds to launch one operation on a GPU from eager PyTorch, assumed (the two ends of the datasheet range).
LAUNCH_S = (8e-6, 20e-6)


@dataclasses.dataclass(frozen=True)
class Estimate:
    """``seconds`` for ``runs`` missing runs on ``device``: ``steps`` SGD steps at ``step_s`` each on average
    (measured on ``networks`` distinct networks with ``threads`` threads), ``jobs`` runs at a time on ``cores`` CPU
    cores (0: not on a CPU)."""

    runs: int
    steps: int
    step_s: float
    seconds: float
    device: str
    jobs: int = 1
    threads: int = 1
    networks: int = 1
    cores: int = 0

    def describe(self) -> str:
        if not self.runs:
            return f"nothing to train on {self.device}"
        at_once = (f"{self.jobs} worker processes at once with {self.threads} thread(s) each, assuming each with a "
                   f"core of its own trains as fast as one timed alone" + (
                       f" (more workers than the {self.cores} cores share them)" if self.cores and self.jobs > self.cores
                       else "") if self.jobs > 1 else f"one at a time with {self.threads} thread(s)")
        return (f"{self.runs} run(s) to train on {self.device}: about {format_duration(self.seconds)} "
                f"({self.steps:,} SGD steps at {self.step_s * 1000:.0f} ms each on average, measured here on "
                f"{self.networks} network(s), plus measuring; {at_once})")


def format_duration(seconds: float) -> str:
    """``"42 s"``, ``"12 min"``, ``"3.4 h"`` or ``"12 days"``.

    >>> format_duration(42), format_duration(720), format_duration(12240), format_duration(10 * 86400)
    ('42 s', '12 min', '3.4 h', '10 days')
    """
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 4 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.0f} days"


def network_of(config: RunConfig) -> tuple:
    """What a training step's cost depends on: ``(spec, downsampling, width, channels, image size, classes,
    batch size, precision)``; runs with the same tuple are timed once.

    >>> from defstab_lib.runs import experiment_configs
    >>> a, b = experiment_configs("pooling", "smoke", downsampling=["maxpool"], seeds=2)
    >>> network_of(a) == network_of(b), network_of(a)
    (True, ('cifar', 'maxpool', 0.125, 1, 32, 10, 64, 'auto'))
    """
    d, a = config.data, config.arch
    channels = 1 if d.dataset == "synthetic" else DATASET_INFO[d.dataset].shape[0]
    classes = d.classes if d.dataset == "synthetic" else 10
    return (a.spec, a.downsampling, a.width, channels, d.image_size, classes, config.batch_size, config.precision)


def _model_and_batch(network: tuple, device: torch.device):
    spec, downsampling, width, channels, size, classes, batch, _ = network
    model = make_vgg(spec, downsampling, in_channels=channels, num_classes=classes, width=width,
                     generator=torch.Generator().manual_seed(0)).to(device).train()
    g = torch.Generator().manual_seed(0)
    if device.type == "meta":
        return model, torch.empty(batch, channels, size, size, device=device), torch.zeros(batch, dtype=torch.long,
                                                                                            device=device)
    x = torch.rand(batch, channels, size, size, generator=g).to(device)
    y = torch.randint(0, classes, (batch,), generator=g).to(device)
    return model, x, y


def _time_step(network: tuple, device: torch.device, repeats: int = 3) -> float:
    model, x, y = _model_and_batch(network, device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)

    def step() -> None:
        with autocast(device, network[-1]):
            loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    step()  # warm-up (allocations, kernels)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return (time.perf_counter() - start) / repeats


def step_seconds(configs: Sequence[RunConfig], device: torch.device, *, threads: int | None = None,
                 measured: dict | None = None) -> dict[tuple, float]:
    """Seconds per training step of each distinct network (:func:`network_of`) of ``configs`` on ``device``, timed
    once each with ``threads`` threads on a CPU (default: this process's).  ``measured``, when given, is a cache
    (``{(device, threads, network): seconds}``) read and filled, so that several estimates time each network once.
    """
    measured = {} if measured is None else measured
    threads = threads or torch.get_num_threads()
    before = torch.get_num_threads()
    out = {}
    try:
        if device.type == "cpu":
            torch.set_num_threads(threads)
        for network in dict.fromkeys(network_of(c) for c in configs):
            key = (str(device), threads if device.type == "cpu" else None, network)
            if key not in measured:
                measured[key] = _time_step(network, device)
            out[network] = measured[key]
    finally:
        torch.set_num_threads(before)
    return out


def _makespan(durations: Sequence[float], workers: int) -> float:
    """The time ``workers`` take for jobs of ``durations`` dealt in order, each to the first worker that is free.

    >>> _makespan([3, 1, 1, 1], 2), _makespan([1, 1, 1], 1), _makespan([5], 4)
    (3.0, 3.0, 5.0)
    """
    free = [0.0] * max(1, workers)
    for d in durations:
        heapq.heappush(free, heapq.heappop(free) + d)
    return max(free)


def estimate(configs: Sequence[RunConfig], device: torch.device, *, jobs: int = 1,
             measured: dict | None = None) -> Estimate:
    """The time the runs of ``configs`` take on ``device`` with ``jobs`` at once (pass only the missing ones).

    Each distinct network is timed once (:func:`step_seconds`, with ``measured`` as its cache); on a CPU with
    the threads every run trains with (:data:`~defstab_lib.runs.threads.RUN_THREADS`).  See the module docstring
    for the assumptions.
    """
    configs = list(configs)
    if not configs:
        return Estimate(0, 0, 0.0, 0.0, device_name(device), jobs=jobs)
    jobs = max(1, min(jobs, len(configs)))
    cpu = device.type == "cpu"
    threads = RUN_THREADS if cpu else torch.get_num_threads()
    step_s = step_seconds(configs, device, threads=threads, measured=measured)
    steps = [training_steps(c) for c in configs]
    cores = available_cores() if cpu else 0
    slowdown = max(1.0, jobs * threads / cores) if cpu else 1.0  # workers beyond the cores share them
    durations = [n * step_s[network_of(c)] * (1 + MEASURE_SHARE) * slowdown for c, n in zip(configs, steps)]
    mean_step = sum(n * step_s[network_of(c)] for c, n in zip(configs, steps)) / max(1, sum(steps))
    return Estimate(len(configs), sum(steps), mean_step, _makespan(durations, jobs), device_name(device), jobs=jobs,
                    threads=threads if cpu else 1, networks=len(step_s), cores=cores)


# --------------------------------------------------------------------------------------- from the datasheet


class _CountOps(TorchDispatchMode):
    """Counts the operations dispatched (each a kernel launch on a GPU)."""

    def __init__(self) -> None:
        super().__init__()
        self.ops = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops += 1
        return func(*args, **(kwargs or {}))


def count_step(network: tuple) -> tuple[float, int]:
    """``(FLOPs, operations)`` of one training step of ``network`` (:func:`network_of`): forward, backward and the
    SGD update, counted on the meta device (nothing is computed).  FLOPs are those of convolutions and matrix
    products (:class:`torch.utils.flop_counter.FlopCounterMode`); operations are every dispatched ATen call,
    without autocast's casts.

    >>> from defstab_lib.runs import experiment_configs
    >>> flops, ops = count_step(network_of(experiment_configs("pooling", "smoke", seeds=1)[0]))
    >>> 1e8 < flops < 1e10, 50 < ops < 2000
    (True, True)
    """
    device = torch.device("meta")
    model, x, y = _model_and_batch(network, device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
    counter, ops = FlopCounterMode(display=False), _CountOps()
    with counter, ops:
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return float(counter.get_total_flops()), ops.ops


@dataclasses.dataclass(frozen=True)
class DeviceClass:
    """A class of device to estimate for without having one: datasheet peaks and assumptions, all stated.

    Attributes:
        name: what the output calls it.
        tflops: the datasheet's dense peak per worker, TFLOP/s, for ``"bf16"`` (autocast) and ``"float32"``.
        basis: where those numbers come from and what was assumed, printed beside the estimate.
        gpu: whether the precision ``auto`` means bf16 autocast there, and steps are launch-bound (:data:`LAUNCH_S`).
        workers: runs trained at once (the runner's default: one per core on a CPU, one on a GPU).
        efficiency: the assumed share of the peak a training step reaches, (low, high).
        model: the name a device of this class reports (``torch.cuda.get_device_name``) contains it ("" for none).
    """

    name: str
    tflops: dict[str, float]
    basis: str
    gpu: bool = True
    workers: int = 1
    efficiency: tuple[float, float] = (0.1, 0.4)
    model: str = ""


#: The device classes ``run all`` estimates for (from their datasheets: dense peaks, no sparsity).
DEVICE_CLASSES: tuple[DeviceClass, ...] = (
    DeviceClass("Colab T4", {"bf16": 8.1, "float32": 8.1},
                "NVIDIA T4: 8.1 TFLOP/s FP32; it has no bfloat16 tensor cores, so bf16 autocast is assumed to run "
                "at the FP32 rate", model="T4"),
    DeviceClass("A100", {"bf16": 312.0, "float32": 156.0},
                "NVIDIA A100: 312 TFLOP/s BF16, 156 TF32 (cuDNN's default for float32 convolutions)", model="A100"),
    DeviceClass("H100 SXM", {"bf16": 989.0, "float32": 494.0},
                "NVIDIA H100 SXM: 989 TFLOP/s BF16, 494 TF32", model="H100"),
    DeviceClass("2-core CPU", {"bf16": 0.0704, "float32": 0.0704},
                "2 cores at 2.2 GHz x 32 FP32 FLOP/cycle (AVX2, two FMA units) = 70 GFLOP/s per core, one run per "
                "core; bf16 assumed no faster (no AVX-512 BF16)", gpu=False, workers=2, efficiency=(0.3, 0.6)),
)


@dataclasses.dataclass(frozen=True)
class DatasheetEstimate:
    """``low`` to ``high`` seconds on a device class, derived, **not measured**; ``launch_bound``: the share of
    the low end's steps that the assumed kernel-launch cost decided rather than the FLOPs (a faster GPU would not
    shorten those)."""

    low: float
    high: float
    launch_bound: float


def datasheet_estimate(configs: Sequence[RunConfig], device_class: DeviceClass,
                       counted: dict | None = None) -> DatasheetEstimate:
    """The time the runs of ``configs`` take on ``device_class``, derived from its datasheet and stated assumptions
    (module docstring), **not measured**.  ``counted`` caches :func:`count_step` per network.

    >>> from defstab_lib.runs import experiment_configs
    >>> configs, counted = experiment_configs("pooling", "paper", seeds=1, downsampling=["maxpool"]), {}
    >>> t4, h100 = (datasheet_estimate(configs, d, counted) for d in DEVICE_CLASSES[::2])
    >>> t4.low < t4.high, h100.high < t4.low, h100.launch_bound
    (True, True, 1.0)
    """
    counted = {} if counted is None else counted
    device = torch.device("cuda" if device_class.gpu else "cpu")
    configs = list(configs)
    steps = [training_steps(c) for c in configs]
    ends, bound_steps = [], []
    for efficiency, launch in zip(sorted(device_class.efficiency, reverse=True), LAUNCH_S):  # fast end first
        durations, bound = [], 0
        for c, n in zip(configs, steps):
            network = network_of(c)
            if network not in counted:
                counted[network] = count_step(network)
            flops, ops = counted[network]
            precision = "bf16" if uses_bf16(device, c.precision) else "float32"
            step = flops / (device_class.tflops[precision] * 1e12 * efficiency)
            if device_class.gpu and ops * launch > step:
                step, bound = ops * launch, bound + n
            durations.append(n * step * (1 + MEASURE_SHARE))
        ends.append(_makespan(durations, min(device_class.workers, max(1, len(durations)))))
        bound_steps.append(bound)
    return DatasheetEstimate(ends[0], ends[1], bound_steps[0] / max(1, sum(steps)))
