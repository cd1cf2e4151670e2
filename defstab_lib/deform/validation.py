"""Checks of the deformation functions' arguments, and the dtype they compute in.

Every check raises a ``TypeError`` or ``ValueError`` that names the argument, the value and what is allowed, before
any expensive work; the conventions they enforce are in :mod:`defstab_lib.deform`'s docstring.
"""

from __future__ import annotations

import math
import numbers

import torch

from .._random import FLOAT_DTYPES

#: The named fills (``fill`` may also be a number: a constant).
FILLS = ("reflection", "border", "zeros")

_HALF = (torch.float16, torch.bfloat16)
_FLOATS = FLOAT_DTYPES


def _check_grid(grid) -> int:
    if isinstance(grid, bool) or not isinstance(grid, numbers.Integral):
        raise TypeError(f"grid must be an int (control points per side), got {grid!r} of type {type(grid).__name__}")
    if grid < 2:
        raise ValueError(f"grid must be >= 2 (control points per side), got {grid}")
    return int(grid)


def _check_size(size) -> tuple[int, int]:
    try:
        height, width = size
    except (TypeError, ValueError):
        raise TypeError(f"size must be a pair (H, W) of ints, got {size!r}") from None
    for name, v in (("H", height), ("W", width)):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise TypeError(f"size must be a pair (H, W) of ints, got {size!r} ({name} is {type(v).__name__})")
        if v < 2:
            raise ValueError(f"size must be at least (2, 2) pixels, got {tuple(size)!r}")
    return int(height), int(width)


def _check_max_displacement(max_displacement) -> float:
    if isinstance(max_displacement, bool) or not isinstance(max_displacement, numbers.Real):
        raise TypeError(
            f"max_displacement must be a real number of pixels, got {max_displacement!r} "
            f"of type {type(max_displacement).__name__}"
        )
    value = float(max_displacement)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"max_displacement must be a finite number of pixels >= 0, got {max_displacement!r}")
    return value


def _check_fill(fill) -> str | float:
    if isinstance(fill, str):
        if fill not in FILLS:
            raise ValueError(f"fill must be one of {FILLS} or a number, got {fill!r}")
        return fill
    if isinstance(fill, bool) or not isinstance(fill, numbers.Real) or not math.isfinite(float(fill)):
        raise TypeError(f"fill must be one of {FILLS} or a finite number, got {fill!r}")
    return float(fill)


def _all_finite(tensor: torch.Tensor) -> bool:
    """Whether every entry is finite, in one reading pass (a sum is finite only if every term is; on overflow we
    fall back to the exact, slower test)."""
    with torch.no_grad():
        total = tensor.sum(dtype=torch.float32) if tensor.dtype in _HALF else tensor.sum()
        if bool(torch.isfinite(total)):
            return True
        return bool(torch.isfinite(tensor).all())


def _check_images(images) -> torch.Tensor:
    """Type, shape and dtype (the cheap checks); :func:`_check_images_finite` reads the values."""
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images must be a torch.Tensor of shape (B, C, H, W), got {type(images).__name__}")
    if images.dim() != 4:
        raise ValueError(f"images must be 4-D (B, C, H, W), got shape {tuple(images.shape)}")
    if images.dtype not in _FLOATS:
        raise TypeError(
            f"images must be floating point (float16, bfloat16, float32 or float64), got {images.dtype}; "
            "convert integer images first, e.g. images.float() / 255"
        )
    if images.shape[-2] < 2 or images.shape[-1] < 2:
        raise ValueError(f"images must be at least 2x2 pixels, got shape {tuple(images.shape)}")
    return images


def _check_images_finite(images: torch.Tensor) -> None:
    """The one check that reads every pixel (about a tenth of a warp's time): done after the cheap ones."""
    if images.numel() and not _all_finite(images):
        raise ValueError("images must be finite; found NaN or inf")


def _check_vectors(value, name: str, ndim: int, shape: str) -> torch.Tensor:
    """A floating-point tensor of ``ndim`` dimensions whose last is 2 (x, y), with finite values."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape {shape}, got {type(value).__name__}")
    if value.dim() != ndim or value.shape[-1] != 2:
        raise ValueError(f"{name} must have shape {shape}, got {tuple(value.shape)}")
    if value.dtype not in _FLOATS:
        raise TypeError(f"{name} must be floating point, got {value.dtype}")
    if value.numel() and not _all_finite(value):
        raise ValueError(f"{name} must be finite; found NaN or inf")
    return value


def _check_displacements(displacements) -> tuple[torch.Tensor, int]:
    displacements = _check_vectors(displacements, "displacements", 3, "(n, K, 2)")
    k = displacements.shape[1]
    grid = math.isqrt(k)
    if grid * grid != k or grid < 2:
        raise ValueError(
            f"displacements must hold K = grid**2 control points with grid >= 2 (4, 9, 16, ...), got K = {k}"
        )
    return displacements, grid


def _check_field(field) -> torch.Tensor:
    return _check_vectors(field, "field", 4, "(n, H, W, 2)")


def _compute_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float32 if dtype in _HALF else dtype
