"""The library's one convention for random sources.

Every function that draws randomness takes ``generator``.  ``None`` means *a fresh generator seeded by the
operating system*: the draw is then not reproducible, and torch's global random state is never read or advanced.
Pass a seeded ``torch.Generator`` for reproducible draws.
"""

from __future__ import annotations

import torch

__all__ = ["check_generator", "draw_setup", "epoch_generator", "FLOAT_DTYPES"]

#: The floating dtypes a draw may be made in.
FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


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


def draw_setup(generator: torch.Generator | None, device: torch.device | str | None,
               dtype: torch.dtype | None) -> tuple[torch.Generator, torch.device, torch.dtype]:
    """Where and in what a draw is made: ``device`` (default: the generator's, else the CPU), the checked
    ``generator`` (:func:`check_generator`) and ``dtype`` (default float32).

    Raises:
        TypeError: ``dtype`` is not a floating dtype; and as :func:`check_generator`.

    >>> draw_setup(None, None, None)[1:]
    (device(type='cpu'), torch.float32)
    """
    if device is None:
        device = generator.device if isinstance(generator, torch.Generator) else torch.device("cpu")
    device = torch.device(device)
    generator = check_generator(generator, device)
    dtype = dtype or torch.float32
    if dtype not in FLOAT_DTYPES:
        raise TypeError(f"dtype must be a floating dtype, got {dtype}")
    return generator, device, dtype


def epoch_generator(seed: int, epoch: int, stream: int = 0, device: torch.device | str = "cpu") -> torch.Generator:
    """A generator whose state depends only on ``(seed, epoch, stream)``.

    >>> a = torch.rand(2, generator=epoch_generator(0, 3))
    >>> b = torch.rand(2, generator=epoch_generator(0, 3))
    >>> bool((a == b).all())
    True
    """
    g = torch.Generator(device=device)
    g.manual_seed((int(seed) * 1_000_003 + int(epoch) * 7_919 + int(stream) * 104_729) % (2**63 - 1))
    return g
