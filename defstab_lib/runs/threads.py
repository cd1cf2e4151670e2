"""How many threads a run trains and measures with on a CPU: one, whatever trains it.

A float sum's rounding depends on how a reduction is split across threads, so a run trained with 2 threads and the
same run trained with 1 store different numbers (test accuracy 0.695 against 0.719 for one smoke run), and a run
resumed with another thread count than it started with differs from an uninterrupted one after the resume point.
The thread count would then be part of what a run *is*, yet the key does not say it.  So every run on a CPU trains
and measures with :data:`RUN_THREADS` threads (:func:`run_threads`), in-process, in a worker (``--jobs N``), in a
submitit job and after a resume alike: the numbers are a function of the config.  Several runs use several cores
through worker processes (one run per core), which is also how the small convolutions of these networks use cores
best.  On a GPU the CPU's threads do not enter the arithmetic and are left as they are.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

__all__ = ["RUN_THREADS", "run_threads"]

#: Threads of every run on a CPU.
RUN_THREADS = 1


@contextlib.contextmanager
def run_threads(device: torch.device | str) -> Iterator[None]:
    """Within the block, torch uses :data:`RUN_THREADS` threads when ``device`` is a CPU; restored after.

    >>> before = torch.get_num_threads()
    >>> with run_threads("cpu"):
    ...     torch.get_num_threads() == RUN_THREADS
    True
    >>> torch.get_num_threads() == before
    True
    """
    if torch.device(device).type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(RUN_THREADS)
    try:
        yield
    finally:
        torch.set_num_threads(before)
