"""The words the whole library shares, defined once (plain Python: importing this module imports no torch).

>>> [d for d in DOWNSAMPLING if d not in POOLED] == list(UNPOOLED)
True
"""

from __future__ import annotations

__all__ = ["DOWNSAMPLING", "POOLED", "UNPOOLED", "TRAINING_DATASETS", "RUN_DATASETS"]

#: The downsampling layers the paper compares (section 2.2), in the order of its figures.
DOWNSAMPLING: tuple[str, ...] = ("subsample", "maxpool", "avgpool", "strided", "strided-relu")
#: Downsampling by pooling (the paper's "networks with pooling") ...
POOLED: tuple[str, ...] = ("maxpool", "avgpool")
#: ... and without: subsampling and (ReLU-)strided convolutions.
UNPOOLED: tuple[str, ...] = tuple(d for d in DOWNSAMPLING if d not in POOLED)
#: The real datasets a run can train on (``defstab_lib.data`` reads them; ImageNet is not trained on here).
TRAINING_DATASETS: tuple[str, ...] = ("fashion-mnist", "mnist", "cifar10")
#: What a run config's ``dataset`` may be: a real dataset or section 4.3's synthetic task.
RUN_DATASETS: tuple[str, ...] = TRAINING_DATASETS + ("synthetic",)
