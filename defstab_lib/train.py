"""The training loop: SGD with momentum and a learning-rate schedule, data held as tensors on the device.

Nothing here knows about chapters or experiments: :mod:`defstab_lib.runs` builds the model, the batches and the
optimiser from a config and calls :func:`train_epoch` once per epoch, saving what it needs between epochs.

- Batches come from a *batch source*: any object with ``__len__`` (batches per epoch) and ``epoch(e)`` that
  yields ``(images, labels)`` for epoch ``e``.  Its randomness is a function of ``(seed, epoch)`` only, so that
  a run resumed at epoch ``e`` sees exactly the batches an uninterrupted run would have seen.
  :class:`TensorBatches` shuffles tensors held on the device (Fashion-MNIST and CIFAR-10 fit on any GPU, so
  there are no DataLoader workers); :class:`defstab_lib.tasks.SyntheticDeformationTask` generates examples on
  the fly.
- channels_last memory format everywhere (about 1.1-1.35x faster on a CPU too, measured in
  ``benchmarks/bench_train.py``'s setting).
- The arithmetic is a run's ``precision`` (:data:`PRECISIONS`): ``"auto"`` (the default) is float32 on the CPU
  and bfloat16 autocast on CUDA; ``"float32"`` is float32 everywhere; ``"bf16"`` is bfloat16 autocast everywhere
  (on a CPU with AVX-512 BF16 about 1.5x faster; validated against float32 in
  ``benchmarks/bench_precision.py``).  In float32 the CPU is deterministic for a given seed (same batches,
  same initial weights, no nondeterministic kernels).
- ``train_epoch(..., forward=torch.compile(model))`` trains through a compiled forward (same parameters); the
  model itself stays uncompiled, for measurements and checkpoints.
- A ``tqdm.auto`` progress bar shows loss, accuracy and images/s.

How a run is trained, as data (:class:`OptimConfig`, :data:`PRECISIONS`, :func:`uses_bf16`), lives in
:mod:`defstab_lib.optim`, so that what describes runs can name it without importing the loop; it is re-exported here.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import nn

from ._random import epoch_generator
from .optim import PRECISIONS, OptimConfig, uses_bf16
from .progress import bar as progress_bar

__all__ = [
    "OptimConfig",
    "TensorBatches",
    "FirstBatches",
    "EpochStats",
    "make_optimizer",
    "train_epoch",
    "evaluate",
    "epoch_generator",
    "PRECISIONS",
    "autocast",
    "uses_bf16",
]



def make_optimizer(
    model: nn.Module, config: OptimConfig, steps_per_epoch: int, epochs: int
) -> tuple[torch.optim.SGD, torch.optim.lr_scheduler.LambdaLR]:
    """SGD over ``model``'s parameters (weight decay on weights of dimension > 1 only) and its schedule."""
    decay = [p for p in model.parameters() if p.requires_grad and p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim <= 1]
    optimizer = torch.optim.SGD(
        [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=config.lr, momentum=config.momentum, nesterov=config.nesterov and config.momentum > 0,
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: config.lr_factor(step, steps_per_epoch, epochs)
    )
    return optimizer, scheduler


class TensorBatches:
    """Shuffled mini-batches of images and labels held as tensors (on the GPU when training there).

    Args:
        images: ``(N, C, H, W)`` uint8 (0..255) or float (in ``[0, 1]``) tensor.
        labels: ``(N,)`` int64 tensor.
        batch_size: images per batch; the last, incomplete batch of an epoch is dropped when ``drop_last``.
        seed: the shuffle of epoch ``e`` is drawn from :func:`epoch_generator` ``(seed, e)``.
        augment: optional ``augment(images, generator) -> images`` applied per batch to float images.
        device: where the batches are produced (the tensors are moved there once).

    Batches are float32 images in ``[0, 1]``, ``(batch_size, C, H, W)``, and int64 labels.
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        batch_size: int,
        *,
        seed: int,
        augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
        drop_last: bool = True,
        device: torch.device | str | None = None,
    ) -> None:
        if images.ndim != 4:
            raise ValueError(f"images must be (N, C, H, W), got shape {tuple(images.shape)}")
        if labels.shape != (images.shape[0],):
            raise ValueError(f"labels must have shape ({images.shape[0]},), got {tuple(labels.shape)}")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        if drop_last and batch_size > images.shape[0]:
            raise ValueError(f"batch_size={batch_size} exceeds the {images.shape[0]} images (drop_last=True)")
        self.images = images.to(device) if device is not None else images
        self.labels = labels.to(self.images.device)
        self.batch_size, self.seed, self.augment, self.drop_last = batch_size, seed, augment, drop_last

    def __len__(self) -> int:
        n = self.images.shape[0]
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def epoch(self, epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        g = epoch_generator(self.seed, epoch)
        order = torch.randperm(self.images.shape[0], generator=g).to(self.images.device)
        for b in range(len(self)):
            idx = order[b * self.batch_size : (b + 1) * self.batch_size]
            x = self.images[idx]
            x = x.float().div_(255.0) if x.dtype == torch.uint8 else x.float()
            if self.augment is not None:
                x = self.augment(x, g)
            yield x, self.labels[idx]


class FirstBatches:
    """The first ``n`` batches of every epoch of another batch source (for timing a slice of an epoch).

    >>> import torch
    >>> source = TensorBatches(torch.zeros(10, 1, 4, 4), torch.zeros(10, dtype=torch.long), batch_size=2, seed=0)
    >>> len(FirstBatches(source, 3)), len(list(FirstBatches(source, 3).epoch(1)))
    (3, 3)
    """

    def __init__(self, inner, n: int) -> None:
        self.inner, self.n = inner, n

    def __len__(self) -> int:
        return self.n

    def epoch(self, epoch: int):
        for i, batch in enumerate(self.inner.epoch(epoch)):
            if i >= self.n:
                return
            yield batch


@dataclasses.dataclass
class EpochStats:
    """What one epoch of training measured: mean loss, accuracy on the training batches, images/s, seconds."""

    epoch: int
    loss: float
    accuracy: float
    images_per_s: float
    seconds: float
    lr: float


def autocast(device: torch.device, precision: str = "auto") -> torch.autocast:
    """The autocast context of ``precision`` (:data:`PRECISIONS`) on ``device`` (disabled for float32)."""
    enabled = uses_bf16(device, precision) and device.type in ("cuda", "cpu")
    return torch.autocast(device.type if device.type in ("cuda", "cpu") else "cpu", dtype=torch.bfloat16,
                          enabled=enabled)


def _prepare(x: torch.Tensor, device: torch.device) -> torch.Tensor:
    return x.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)


def train_epoch(
    model: nn.Module,
    batches,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None,
    epoch: int,
    *,
    device: torch.device | str | None = None,
    progress: bool = True,
    description: str = "",
    precision: str = "auto",
    forward: Callable[[torch.Tensor], torch.Tensor] | None = None,
    on_step: Callable[[int], None] | None = None,
    label_smoothing: float = 0.0,
) -> EpochStats:
    """Train ``model`` for one epoch of ``batches`` (see the module docstring); return its :class:`EpochStats`.

    ``epoch`` is 1-based (epoch 0 is initialisation); the batch source is asked for ``batches.epoch(epoch)``.
    ``precision`` is one of :data:`PRECISIONS`; ``forward`` (default: ``model``) computes the logits, e.g.
    ``torch.compile(model)``, which shares ``model``'s parameters.
    ``on_step``, when given, is called with the number of optimiser steps taken so far in this epoch (1, 2, ...)
    after each step (to measure inside an epoch; it must leave the model in training mode and draw no randomness
    from the batch source).  ``label_smoothing`` (in ``[0, 1)``) smooths the training loss's targets
    (:class:`~defstab_lib.optim.OptimConfig`); the loss it reports is that smoothed training loss.
    """
    if not 0 <= label_smoothing < 1:
        raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing!r}")
    device = torch.device(device) if device is not None else next(model.parameters()).device
    context = autocast(device, precision)  # checks precision before any work
    forward = model if forward is None else forward
    model.to(memory_format=torch.channels_last)
    model.train()
    total_loss = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    seen = 0
    start = time.perf_counter()
    bar = progress_bar(total=len(batches), desc=description or f"epoch {epoch}", disable=not progress, leave=False,
               unit="batch")
    for step, (x, y) in enumerate(batches.epoch(epoch)):
        x, y = _prepare(x, device), y.to(device, non_blocking=True)
        with context:
            logits = forward(x)
            loss = F.cross_entropy(logits.float(), y, label_smoothing=label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        total_loss += loss.detach() * y.shape[0]
        correct += (logits.detach().argmax(1) == y).sum()
        seen += y.shape[0]
        if on_step is not None:
            on_step(step + 1)
        if progress and (step % 10 == 0 or step == len(batches) - 1):
            elapsed = time.perf_counter() - start
            bar.set_postfix(loss=f"{float(total_loss) / seen:.3f}", acc=f"{float(correct) / seen:.3f}",
                            img_s=f"{seen / max(elapsed, 1e-9):.0f}")
        bar.update(1)
    bar.close()
    if seen == 0:
        raise ValueError("the batch source yielded no batch for this epoch")
    seconds = time.perf_counter() - start
    return EpochStats(
        epoch=epoch,
        loss=float(total_loss) / seen,
        accuracy=float(correct) / seen,
        images_per_s=seen / seconds,
        seconds=seconds,
        lr=float(optimizer.param_groups[0]["lr"]),
    )


@torch.no_grad()
def evaluate(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    batch_size: int = 512,
    device: torch.device | str | None = None,
    precision: str = "auto",
) -> tuple[float, float]:
    """Accuracy and mean cross-entropy of ``model`` (in eval mode) on ``images`` ``(N, C, H, W)``.

    ``images`` are uint8 (0..255) or float in ``[0, 1]``; ``labels`` are ``(N,)`` int64.  The model's training
    mode is restored afterwards.  ``precision``: one of :data:`PRECISIONS`.
    """
    device = torch.device(device) if device is not None else next(model.parameters()).device
    context = autocast(device, precision)
    was_training = model.training
    model.eval()
    correct, total_loss = 0, 0.0
    try:
        for i in range(0, images.shape[0], batch_size):
            x = images[i : i + batch_size]
            x = x.float().div_(255.0) if x.dtype == torch.uint8 else x.float()
            x, y = _prepare(x, device), labels[i : i + batch_size].to(device)
            with context:
                logits = model(x).float()
            total_loss += float(F.cross_entropy(logits, y, reduction="sum"))
            correct += int((logits.argmax(1) == y).sum())
    finally:
        model.train(was_training)
    n = max(1, images.shape[0])
    return correct / n, total_loss / n
