"""How long the runs still missing will take, measured on this machine before anything trains.

:func:`estimate` times a few training steps of the first missing run's network (same width, batch size, image
shape and precision, on random images: nothing is loaded) and multiplies by the steps all missing runs take,
plus the share that measuring adds, divided by the runs trained at once.  It is an estimate (the first steps of
a cold process are slower, a busy machine slows everything), printed before training so that nobody starts hours
of work by accident; the command line refuses one over :data:`CONFIRM_ABOVE_S` on a CPU unless ``--yes``.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from ..data import DATASET_INFO
from ..models import make_vgg
from ..provenance import device_name
from ..train import autocast
from .config import RunConfig

__all__ = ["Estimate", "estimate", "training_images", "training_steps", "CONFIRM_ABOVE_S", "MEASURE_SHARE",
           "format_duration"]

#: On a CPU, work estimated above this many seconds needs ``--yes`` on the command line.
CONFIRM_ABOVE_S = 3600.0
#: Share of a run's time spent measuring rather than training (protocol v1 and v2 both stay under it).
MEASURE_SHARE = 0.2
_SYNTHETIC_EPOCH = 10_000  # examples per epoch of the synthetic task when its config gives none


@dataclasses.dataclass(frozen=True)
class Estimate:
    """``seconds`` for ``runs`` missing runs on ``device`` (``step_s`` per training step, measured)."""

    runs: int
    steps: int
    step_s: float
    seconds: float
    device: str

    def describe(self) -> str:
        return (f"{self.runs} run(s) to train on {self.device}: about {format_duration(self.seconds)} "
                f"({self.steps:,} SGD steps at {self.step_s * 1000:.0f} ms each, measured here, plus measuring)")


def format_duration(seconds: float) -> str:
    """``"42 s"``, ``"12 min"`` or ``"3.4 h"``.

    >>> format_duration(42), format_duration(720), format_duration(12240)
    ('42 s', '12 min', '3.4 h')
    """
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def training_images(config: RunConfig) -> int:
    """The images a run trains on per epoch: its ``train_size`` (a subset), else the whole training set of its
    dataset (``defstab_lib.data.DATASET_INFO``); for the synthetic task, the fresh examples drawn per epoch.

    >>> from defstab_lib.runs.config import DataConfig
    >>> training_images(RunConfig("x")), training_images(RunConfig("x", data=DataConfig(train_size=2000)))
    (60000, 2000)
    """
    d = config.data
    if d.dataset == "synthetic":
        return d.train_size or _SYNTHETIC_EPOCH
    return min(d.train_size or math.inf, DATASET_INFO[d.dataset].sizes["train"])


def training_steps(config: RunConfig) -> int:
    """The SGD steps a run takes: ``epochs`` × the whole batches of :func:`training_images` (training drops the
    last, incomplete batch of every epoch).

    >>> training_steps(RunConfig("x", epochs=16, batch_size=128))
    7488
    """
    return config.epochs * (training_images(config) // config.batch_size)


def _step_seconds(config: RunConfig, device: torch.device, repeats: int = 3) -> float:
    d, a = config.data, config.arch
    channels = 1 if d.dataset == "synthetic" else DATASET_INFO[d.dataset].shape[0]
    classes = d.classes if d.dataset == "synthetic" else 10
    model = make_vgg(a.spec, a.downsampling, in_channels=channels, num_classes=classes, width=a.width,
                     generator=torch.Generator().manual_seed(0)).to(device).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(config.batch_size, channels, d.image_size, d.image_size, generator=g).to(device)
    y = torch.randint(0, classes, (config.batch_size,), generator=g).to(device)

    def step() -> None:
        with autocast(device, config.precision):
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


def estimate(configs: Sequence[RunConfig], device: torch.device, *, jobs: int = 1) -> Estimate:
    """The time the runs of ``configs`` take on ``device`` with ``jobs`` at once (pass only the missing ones).

    Widths and batch sizes may differ between configs: each config's steps are scaled by its width squared
    relative to the timed one (a conv layer's cost grows with channels in times channels out).
    """
    configs = list(configs)
    if not configs:
        return Estimate(0, 0, 0.0, 0.0, device_name(device))
    timed = configs[0]
    step_s = _step_seconds(timed, device)
    steps = sum(training_steps(c) for c in configs)
    scaled = sum(training_steps(c) * (c.arch.width / timed.arch.width) ** 2 * c.batch_size / timed.batch_size
                 for c in configs)
    seconds = scaled * step_s * (1 + MEASURE_SHARE) / max(1, min(jobs, len(configs)))
    return Estimate(len(configs), steps, step_s, seconds, device_name(device))
