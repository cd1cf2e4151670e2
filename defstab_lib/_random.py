"""The library's one convention for random sources.

Every function that draws randomness takes ``generator``.  ``None`` means *a fresh generator seeded by the
operating system*: the draw is then not reproducible, and torch's global random state is never read or advanced.
Pass a seeded ``torch.Generator`` for reproducible draws.
"""

from __future__ import annotations

import torch

__all__ = ["check_generator"]


def check_generator(generator: torch.Generator | None, device: torch.device | str | None = None) -> torch.Generator:
    """``generator`` itself (checked), or a fresh OS-seeded generator on ``device`` (default: the CPU).

    Raises:
        TypeError: ``generator`` is neither ``None`` nor a ``torch.Generator``.
        ValueError: ``generator`` lives on another device type than ``device``.

    >>> g = torch.Generator().manual_seed(0)
    >>> check_generator(g) is g
    True
    >>> check_generator(None).device
    device(type='cpu')
    """
    if generator is None:
        fresh = torch.Generator(device=device if device is not None else "cpu")
        fresh.seed()
        return fresh
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    if device is not None and generator.device.type != torch.device(device).type:
        raise ValueError(f"generator lives on {generator.device} but the draw is made on {torch.device(device)}")
    return generator
