"""How big a run is, from its config alone: the images it trains on per epoch and the SGD steps it takes.

:mod:`defstab_lib.runs.estimate` times the steps; the recipe tables (:mod:`defstab_lib.analysis.recipe`) state
them.  Nothing here trains or times anything.
"""

from __future__ import annotations

import math

from ..data import DATASET_INFO
from .config import RunConfig

__all__ = ["training_images", "training_steps"]

_SYNTHETIC_EPOCH = 10_000  # examples per epoch of the synthetic task when its config gives none


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
