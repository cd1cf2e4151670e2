"""How a run is trained, as data: the optimiser's settings (:class:`OptimConfig`) and the arithmetic
(:data:`PRECISIONS`, :func:`uses_bf16`).

The training loop (:mod:`defstab_lib.train`) reads them; run configs (:mod:`defstab_lib.runs.config`), profiles and
the analysis name them without importing the loop.
"""

from __future__ import annotations

import dataclasses
import math

import torch

from .checks import choice

__all__ = ["PRECISIONS", "OptimConfig", "uses_bf16"]

#: The arithmetic a run may train and evaluate in (see the module docstring).
PRECISIONS: tuple[str, ...] = ("auto", "float32", "bf16")


@dataclasses.dataclass(frozen=True)
class OptimConfig:
    """SGD with momentum and a per-step learning-rate schedule.

    Attributes:
        lr: peak learning rate.
        momentum: SGD momentum (Nesterov when ``nesterov``).
        weight_decay: L2 penalty applied to conv and linear weights (not to BatchNorm or biases).
        schedule: ``"cosine"`` (to zero), ``"step"`` (x0.1 at 50% and 75% of training) or ``"constant"``.
        warmup_epochs: linear warm-up from ``lr / 10`` over this many epochs (fractions allowed).
        nesterov: use Nesterov momentum.
        label_smoothing: the training loss's label smoothing ``eps`` in ``[0, 1)``: the target puts ``1 - eps`` on
            the label and ``eps`` spread evenly over all classes (``torch.nn.functional.cross_entropy``'s
            ``label_smoothing``).  Only the training objective changes: the losses a run reports are plain cross
            entropy.  At its default 0 it is left out of a run's key, so runs stored before it existed keep theirs.
    """

    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: str = "cosine"
    warmup_epochs: float = 0.0
    nesterov: bool = True
    label_smoothing: float = 0.0

    SCHEDULES = ("cosine", "step", "constant")

    def __post_init__(self) -> None:
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum}")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay}")
        if self.schedule not in self.SCHEDULES:
            raise ValueError(f"schedule must be one of {self.SCHEDULES}, got {self.schedule!r}")
        if self.warmup_epochs < 0:
            raise ValueError(f"warmup_epochs must be >= 0, got {self.warmup_epochs}")
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")

    def lr_factor(self, step: int, steps_per_epoch: int, epochs: int) -> float:
        """The multiplier of ``lr`` at optimiser step ``step`` (0-based) of ``steps_per_epoch * epochs``.

        >>> OptimConfig(schedule="step").lr_factor(80, 10, 10) == 0.1 ** 2
        True
        """
        total = max(1, steps_per_epoch * epochs)
        warmup = self.warmup_epochs * steps_per_epoch
        if step < warmup:
            return 0.1 + 0.9 * step / warmup
        progress = min(1.0, (step - warmup) / max(1.0, total - warmup))
        if self.schedule == "cosine":
            return 0.5 * (1 + math.cos(math.pi * progress))
        if self.schedule == "step":
            return 0.1 ** (int(progress >= 0.5) + int(progress >= 0.75))
        return 1.0


def uses_bf16(device: torch.device, precision: str = "auto") -> bool:
    """Whether ``precision`` (:data:`PRECISIONS`) trains in bfloat16 autocast on ``device``.

    >>> uses_bf16(torch.device("cpu")), uses_bf16(torch.device("cpu"), "bf16"), uses_bf16(torch.device("cuda"))
    (False, True, True)
    """
    choice("precision", precision, PRECISIONS)
    return precision == "bf16" or (precision == "auto" and device.type == "cuda")
