"""The words the whole library shares, defined once (plain Python: importing this module imports no torch).

>>> [d for d in DOWNSAMPLING if d not in POOLED] == list(UNPOOLED)
True
"""

from __future__ import annotations

__all__ = ["DOWNSAMPLING", "POOLED", "UNPOOLED", "TRAINING_DATASETS", "RUN_DATASETS", "FIGURES_FILE", "VERDICT_GUIDE"]

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
#: Every figure's provenance, by the SHA-256 of its PNG: written by :func:`defstab_lib.book.stage` into the staged
#: book's root (the Sphinx source folder) and read by :mod:`defstab_lib.sphinxext` (here, so that the book's build
#: needs no Sphinx import and the command line no book extra).
FIGURES_FILE = "defstab-figures.json"
#: Where the book explains once how to read a verdict (the minimal effect, why 0.909× = 1 ÷ 1.10, what "would change
#: it" means): the report's box, as a link from any chapter page (every chapter is a page of ``book/``).
VERDICT_GUIDE = "report.html#how-to-read-a-verdict"
