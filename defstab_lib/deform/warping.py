"""Warping images: bilinear resampling by a field, by control displacements (one fused step), and the paper's
random deformation :func:`deform`."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .fields import sample_displacements
from .grids import _BASES, _OPERATORS, _canonical_device
from .validation import (
    _check_displacements,
    _check_field,
    _check_fill,
    _check_grid,
    _check_images,
    _check_images_finite,
    _check_max_displacement,
    _compute_dtype,
)


def warp(images: torch.Tensor, field: torch.Tensor, *, fill: str | float = "reflection") -> torch.Tensor:
    """Resample images bilinearly: output pixel ``p`` reads the input at ``p + field(p)``.

    Args:
        images: ``(B, C, H, W)`` floating-point images.
        field: ``(B, H, W, 2)`` or ``(1, H, W, 2)`` (one field for every image) displacements in pixels,
            ``(dx, dy)``.
        fill: what a sample outside the image reads: ``"reflection"``, ``"border"``, ``"zeros"`` or a number (see
            :mod:`defstab_lib.deform`).

    Returns:
        ``(B, C, H, W)`` warped images, same device and dtype as ``images``; differentiable with respect to both
        arguments.

    >>> x = torch.arange(16.0).view(1, 1, 4, 4)
    >>> shift = torch.zeros(1, 4, 4, 2); shift[..., 0] = 1.0     # every pixel reads its right neighbour
    >>> warp(x, shift)[0, 0, 0].tolist()
    [1.0, 2.0, 3.0, 3.0]
    """
    fill = _check_fill(fill)
    images = _check_images(images)
    field = _check_field(field)
    batch, _, height, width = images.shape
    if tuple(field.shape[1:3]) != (height, width):
        raise ValueError(
            f"field has size {tuple(field.shape[1:3])} but the images are {height}x{width}; they must match"
        )
    if field.shape[0] not in (1, batch):
        raise ValueError(f"field holds {field.shape[0]} fields for {batch} images; give 1 or {batch}")
    if field.device != images.device:
        raise ValueError(f"field is on {field.device} but the images are on {images.device}")
    _check_images_finite(images)
    work = _compute_dtype(images.dtype)
    base, scale, _ = _BASES.get(height, width, _canonical_device(images.device), work)
    sampling = torch.addcmul(base, field.to(work), scale)
    return _sample(images, sampling, fill)


def _sample(images: torch.Tensor, sampling: torch.Tensor, fill: str | float) -> torch.Tensor:
    """grid_sample in the working dtype; ``sampling`` is the normalised ``(n, H, W, 2)`` grid, n in (1, B)."""
    work = sampling.dtype
    if sampling.shape[0] != images.shape[0]:
        sampling = sampling.expand(images.shape[0], -1, -1, -1)
    x = images.to(work)
    if isinstance(fill, str):
        out = F.grid_sample(x, sampling, mode="bilinear", padding_mode=fill, align_corners=False)
    elif fill == 0:
        out = F.grid_sample(x, sampling, mode="bilinear", padding_mode="zeros", align_corners=False)
    else:
        # Bilinear weights sum to 1, and "zeros" drops the taps outside the image: sampling x - c and adding c
        # back makes exactly those taps read c.
        out = F.grid_sample(x - fill, sampling, mode="bilinear", padding_mode="zeros", align_corners=False) + fill
    return out.to(images.dtype)


def apply_displacements(
    images: torch.Tensor, displacements: torch.Tensor, *, fill: str | float = "reflection"
) -> torch.Tensor:
    """Deform images by given control displacements: ``warp(images, displacement_field(displacements, (H, W)))``
    in one fused step (the field is never materialised in pixels).

    Use it to apply fixed probe deformations, or inside a gradient search for worst-case deformations.

    Args:
        images: ``(B, C, H, W)`` floating-point images.
        displacements: ``(B, K, 2)`` or ``(1, K, 2)`` control displacements in pixels (see
            :func:`displacement_field`).
        fill: see :func:`warp`.

    Returns:
        ``(B, C, H, W)`` deformed images, same device and dtype as ``images``; differentiable with respect to
        both arguments.

    >>> x = torch.rand(2, 3, 32, 32)
    >>> bool((apply_displacements(x, torch.zeros(2, 9, 2)) - x).abs().max() < 1e-6)   # zero displacements
    True
    """
    fill = _check_fill(fill)
    images = _check_images(images)
    displacements, grid = _check_displacements(displacements)
    batch, _, height, width = images.shape
    if displacements.shape[0] not in (1, batch):
        raise ValueError(f"displacements hold {displacements.shape[0]} fields for {batch} images; give 1 or {batch}")
    if displacements.device != images.device:
        raise ValueError(f"displacements are on {displacements.device} but the images are on {images.device}")
    _check_images_finite(images)
    return _apply(images, displacements, grid, fill)


def _apply(images: torch.Tensor, displacements: torch.Tensor, grid: int, fill: str | float) -> torch.Tensor:
    _, _, height, width = images.shape
    work = _compute_dtype(images.dtype)
    device = _canonical_device(images.device)
    op = _OPERATORS.get(grid, height, width, device, work)  # (K + 2, H*W)
    _, scale, eye = _BASES.get(height, width, device, work)
    n = displacements.shape[0]
    scaled = (displacements.to(work) * scale).transpose(1, 2)  # (n, 2, K) in normalised units
    coef = torch.cat([scaled, eye.expand(n, 2, 2)], dim=2).reshape(n * 2, grid * grid + 2)
    sampling = (coef @ op).view(n, 2, height, width).permute(0, 2, 3, 1)  # (n, H, W, 2), a strided view
    return _sample(images, sampling, fill)


def deform(
    images: torch.Tensor,
    grid: int,
    max_displacement: float,
    *,
    generator: torch.Generator | None = None,
    fill: str | float = "reflection",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Deform each image by its own random thin-plate-spline field (the paper's section 2.1).

    Args:
        images: ``(B, C, H, W)`` floating-point images.
        grid: control points per side (>= 2); the paper uses 5 for ImageNet, 3 for CIFAR-10.
        max_displacement: ``C`` in pixels, ``0 <= C < min(H, W)``; the paper uses 10 for ImageNet, 2 for CIFAR-10.
        generator: the source of randomness, on the images' device (``None``: a fresh OS-seeded generator).
        fill: what samples outside the image read (see :func:`warp`).

    Returns:
        ``(deformed, displacements)``: ``(B, C, H, W)`` images and the ``(B, K, 2)`` control displacements in
        pixels that made them, both on the images' device and in their dtype
        (``apply_displacements(images, displacements)`` reproduces ``deformed``).

    >>> x = torch.rand(8, 3, 32, 32)
    >>> y, d = deform(x, 3, 2.0, generator=torch.Generator().manual_seed(0))
    >>> y.shape, d.shape
    (torch.Size([8, 3, 32, 32]), torch.Size([8, 9, 2]))
    """
    fill = _check_fill(fill)
    grid = _check_grid(grid)
    c = _check_max_displacement(max_displacement)
    images = _check_images(images)
    batch, _, height, width = images.shape
    if c >= min(height, width):
        raise ValueError(
            f"max_displacement must be smaller than the image size {height}x{width}, got {max_displacement!r}"
        )
    _check_images_finite(images)
    displacements = sample_displacements(
        batch, grid, c, generator=generator, device=images.device, dtype=images.dtype
    )
    return _apply(images, displacements, grid, fill), displacements
