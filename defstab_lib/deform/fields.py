"""Displacement fields: random control displacements, their thin-plate-spline interpolant at every pixel, and
the field norms ``||tau||_inf`` and ``||grad tau||_inf`` of the Mallat / Bietti-Mairal bound."""

from __future__ import annotations

import numbers

import torch

from .._random import draw_setup
from .grids import _OPERATORS, _canonical_device
from .validation import (
    _check_displacements,
    _check_field,
    _check_grid,
    _check_max_displacement,
    _check_size,
    _compute_dtype,
)


def sample_displacements(
    n: int, grid: int, max_displacement: float, *, generator: torch.Generator | None = None, device=None, dtype=None
) -> torch.Tensor:
    """Random control displacements: each component uniform in ``[-C, C]`` pixels (the paper's "maximum distance
    of C in each direction").

    The draw is made in float32 on ``device`` and then cast to ``dtype``, so one generator state gives the same
    displacements in every dtype (up to rounding).

    Args:
        n: how many fields (>= 0).
        grid: control points per side (>= 2); ``K = grid**2``.
        max_displacement: ``C`` in pixels (>= 0).
        generator: the source of randomness (``None``: a fresh OS-seeded generator); it must live on ``device``.
        device: where to draw (default: the generator's device, else CPU).
        dtype: of the result (default float32).

    Returns:
        ``(n, K, 2)`` tensor of ``(dx, dy)`` in pixels.

    >>> d = sample_displacements(4, 3, 2.0, generator=torch.Generator().manual_seed(0))
    >>> d.shape, bool(d.abs().max() <= 2.0)
    (torch.Size([4, 9, 2]), True)
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"n must be an int (how many fields), got {n!r} of type {type(n).__name__}")
    if n < 0:
        raise ValueError(f"n must be >= 0 (how many fields), got {n}")
    grid = _check_grid(grid)
    c = _check_max_displacement(max_displacement)
    generator, device, dtype = draw_setup(generator, device, dtype)
    d = torch.empty(int(n), grid * grid, 2, device=device, dtype=torch.float32).uniform_(-c, c, generator=generator)
    return d.to(dtype)


def displacement_field(displacements: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """The thin-plate-spline interpolant of control displacements at every pixel centre.

    Args:
        displacements: ``(n, K, 2)`` control displacements in pixels, ``(dx, dy)``, at :func:`control_points`
            ``(sqrt(K), size)``.
        size: ``(H, W)`` of the images in pixels.

    Returns:
        ``(n, H, W, 2)`` field in pixels, ``(dx, dy)``, same device and dtype as ``displacements`` (computed in
        float32 for half dtypes); differentiable with respect to ``displacements``.

    >>> d = torch.zeros(1, 9, 2); d[0, 4] = torch.tensor([1.0, -2.0])   # move the centre point
    >>> f = displacement_field(d, (33, 33))
    >>> f.shape, f[0, 16, 16].tolist(), f[0, 0, 0].tolist()
    (torch.Size([1, 33, 33, 2]), [1.0, -2.0], [0.0, 0.0])
    """
    displacements, grid = _check_displacements(displacements)
    height, width = _check_size(size)
    work = _compute_dtype(displacements.dtype)
    op = _OPERATORS.get(grid, height, width, _canonical_device(displacements.device), work)[: grid * grid]
    n = displacements.shape[0]
    coef = displacements.to(work).transpose(1, 2).reshape(n * 2, grid * grid)
    field = (coef @ op).view(n, 2, height, width).permute(0, 2, 3, 1)
    return field.to(displacements.dtype).contiguous()


def field_norms(field: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""``||tau||_inf`` and ``||grad tau||_inf`` of each field: the two terms of the Mallat / Bietti-Mairal bound.

    ``||tau||_inf = max_p |tau(p)|`` (Euclidean length, pixels); ``||grad tau||_inf = max_p ||J(p)||_2``, the
    largest singular value of the 2x2 Jacobian ``J = d tau / d(x, y)`` (pixels per pixel, dimensionless),
    estimated by finite differences on the pixel grid (``torch.gradient``: central differences inside, one-sided
    on the border; exact for affine fields).

    Args:
        field: ``(n, H, W, 2)`` displacements in pixels, ``H, W >= 2``.

    Returns:
        ``(max_displacement, max_jacobian)``, each ``(n,)``, in the field's dtype (computed in float32 for half
        dtypes).

    >>> yy, xx = torch.meshgrid(torch.arange(8.0), torch.arange(8.0), indexing="ij")
    >>> rotation = torch.stack([-0.1 * (yy - 3.5), 0.1 * (xx - 3.5)], dim=-1)[None]   # a small rotation
    >>> [round(v.item(), 4) for v in field_norms(rotation)]
    [0.495, 0.1]
    """
    field = _check_field(field)
    if field.shape[1] < 2 or field.shape[2] < 2:
        raise ValueError(f"field must be at least 2x2 pixels, got shape {tuple(field.shape)}")
    f = field.to(_compute_dtype(field.dtype))
    max_disp = f.norm(dim=-1).amax(dim=(1, 2))
    d_dy, d_dx = torch.gradient(f, dim=(1, 2))  # each (n, H, W, 2): derivatives along rows (y) and columns (x)
    a, c = d_dx[..., 0], d_dx[..., 1]  # d tau_x / dx, d tau_y / dx
    b, d = d_dy[..., 0], d_dy[..., 1]  # d tau_x / dy, d tau_y / dy
    frob = a * a + b * b + c * c + d * d
    det = a * d - b * c
    sigma_sq = 0.5 * (frob + torch.sqrt(torch.clamp(frob * frob - 4 * det * det, min=0)))
    max_jac = torch.sqrt(sigma_sq.amax(dim=(1, 2)))
    return max_disp.to(field.dtype), max_jac.to(field.dtype)


def random_field_norms(
    n: int,
    grid: int,
    max_displacement: float,
    size: tuple[int, int],
    *,
    generator: torch.Generator | None = None,
    chunk: int = 64,
    device=None,
) -> dict[str, torch.Tensor]:
    """Norms of ``n`` random fields as :func:`deform` draws them, computed ``chunk`` fields at a time (a 224x224
    field is 400 kB; ``n`` of them at once need not fit in memory).

    Args:
        n: how many fields (>= 1).
        grid, max_displacement: as for :func:`deform` (``C`` in pixels).
        size: ``(H, W)`` in pixels.
        generator: the source of randomness (on ``device``).
        chunk: fields per batch.
        device: where to compute (default: the generator's device, else CPU).

    Returns:
        ``{"max_displacement": (n,), "max_jacobian": (n,), "max_component": (n,)}`` float64 tensors on the CPU:
        ``||tau||_inf`` (pixels), ``||grad tau||_inf`` (see :func:`field_norms`) and ``max_p max_c |tau_c(p)|``
        (pixels; divided by ``C`` it is the overshoot of that field beyond the box ``[-C, C]``).

    >>> norms = random_field_norms(8, 3, 2.0, (32, 32), generator=torch.Generator().manual_seed(0))
    >>> sorted(norms), norms["max_component"].shape
    (['max_component', 'max_displacement', 'max_jacobian'], torch.Size([8]))
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"n must be an int >= 1 (how many fields), got {n!r}")
    if isinstance(chunk, bool) or not isinstance(chunk, numbers.Integral) or chunk < 1:
        raise ValueError(f"chunk must be an int >= 1, got {chunk!r}")
    height, width = _check_size(size)
    out = {"max_displacement": [], "max_jacobian": [], "max_component": []}
    for start in range(0, int(n), int(chunk)):
        d = sample_displacements(min(chunk, n - start), grid, max_displacement, generator=generator, device=device)
        field = displacement_field(d, (height, width))
        tau_inf, grad_inf = field_norms(field)
        out["max_displacement"].append(tau_inf)
        out["max_jacobian"].append(grad_inf)
        out["max_component"].append(field.abs().amax(dim=(1, 2, 3)))
    return {k: torch.cat(v).double().cpu() for k, v in out.items()}
