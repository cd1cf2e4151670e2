"""Control grids and the thin-plate-spline operator that maps control displacements to a field, with its caches.

The operator ``A`` (``(H*W, K)``) depends only on the grid and the image size; it is computed once in float64 and
kept, cast, per (grid, size, device, dtype) beside the identity sampling grids that :mod:`.warping` adds a field
to (see :mod:`defstab_lib.deform` for the conventions and the cache's sizes).
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict

import torch

from .validation import _check_grid, _check_size

#: The most (grid, size, device, dtype) operators kept at once.
CACHE_SIZE = 16


def control_points(grid: int, size: tuple[int, int], *, device=None, dtype=None) -> torch.Tensor:
    """The ``K = grid**2`` control points for an image of ``size = (H, W)`` pixels.

    Evenly spaced pixel centres from the first to the last pixel in each direction, corners included, listed row
    by row: point ``k = i * grid + j`` is ``(x, y) = (j (W-1)/(grid-1), i (H-1)/(grid-1))``.

    Args:
        grid: control points per side (>= 2).
        size: ``(H, W)`` in pixels (each >= 2).
        device, dtype: of the result (default CPU, float32).

    Returns:
        ``(K, 2)`` tensor of ``(x, y)`` positions in pixels.

    >>> control_points(3, (32, 32))[:4]
    tensor([[ 0.0000,  0.0000],
            [15.5000,  0.0000],
            [31.0000,  0.0000],
            [ 0.0000, 15.5000]])
    """
    grid = _check_grid(grid)
    height, width = _check_size(size)
    pts = _control_points64(grid, height, width)
    return pts.to(device=device, dtype=dtype or torch.float32)


def _control_points64(grid: int, height: int, width: int) -> torch.Tensor:
    xs = torch.linspace(0, width - 1, grid, dtype=torch.float64)
    ys = torch.linspace(0, height - 1, grid, dtype=torch.float64)
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=-1)


def _tps_kernel(sq_dist: torch.Tensor) -> torch.Tensor:
    """phi(r) = r^2 log r, written as r^2 log(r^2) / 2, with phi(0) = 0."""
    safe = torch.where(sq_dist > 0, sq_dist, torch.ones_like(sq_dist))
    return 0.5 * sq_dist * torch.log(safe)


@functools.lru_cache(maxsize=4)
def _operator64(grid: int, height: int, width: int) -> torch.Tensor:
    """The (H*W, K) TPS operator in float64 on the CPU (see :func:`tps_operator`)."""
    with torch.inference_mode(False), torch.no_grad():
        pts = _control_points64(grid, height, width)
        # TPS interpolation is invariant under similarities (a scaling adds a multiple of r^2, a quadratic that the
        # side conditions annihilate), so we solve in centred, unit-scaled coordinates for conditioning.
        centre = torch.tensor([(width - 1) / 2, (height - 1) / 2], dtype=torch.float64)
        scale = max(width - 1, height - 1) / 2
        c = (pts - centre) / scale
        k = c.shape[0]
        system = torch.zeros(k + 3, k + 3, dtype=torch.float64)
        system[:k, :k] = _tps_kernel(torch.cdist(c, c).square())
        system[:k, k] = 1
        system[:k, k + 1 :] = c
        system[k, :k] = 1
        system[k + 1 :, :k] = c.T
        rhs = torch.zeros(k + 3, k, dtype=torch.float64)
        rhs[:k] = torch.eye(k, dtype=torch.float64)
        coef = torch.linalg.solve(system, rhs)  # (K+3, K): kernel weights and affine part per unit displacement
        ys, xs = torch.meshgrid(
            torch.arange(height, dtype=torch.float64), torch.arange(width, dtype=torch.float64), indexing="ij"
        )
        pix = (torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=-1) - centre) / scale
        sq = (pix[:, None, :] - c[None, :, :]).square().sum(-1)
        basis = torch.cat([_tps_kernel(sq), torch.ones(pix.shape[0], 1, dtype=torch.float64), pix], dim=1)
        op = basis @ coef
        # Rows at control points are unit vectors up to round-off; make them exact.
        rows = (pts[:, 1].round().long() * width + pts[:, 0].round().long())
        on_pixel = (pts - pts.round()).abs().amax(dim=1) == 0
        op[rows[on_pixel]] = torch.eye(k, dtype=torch.float64)[on_pixel]
        return op


class _Cache:
    """A small thread-safe least-recently-used cache of tensors built by ``build(*key)``."""

    def __init__(self, build, maxsize: int):
        self.build = build
        self.maxsize = maxsize
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, *key):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        # Built outside inference mode: an inference tensor could not be saved for a later backward pass.
        with torch.inference_mode(False), torch.no_grad():
            value = self.build(*key)
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


def _identity64(height: int, width: int) -> torch.Tensor:
    """The identity's sampling grid in grid_sample's normalised frame (align_corners=False), ``(H, W, 2)``."""
    xs = (2 * torch.arange(width, dtype=torch.float64) + 1) / width - 1
    ys = (2 * torch.arange(height, dtype=torch.float64) + 1) / height - 1
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([xx, yy], dim=-1)


def _build_operator(grid: int, height: int, width: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """``(K + 2, H*W)``: the transposed TPS operator, then the identity grid's normalised x and y.

    With ``coef[n, c] = [scale_c * d[n, :, c], c == 0, c == 1]`` (``K + 2`` numbers), ``coef @ op`` is the
    normalised sampling grid of field ``n``, component ``c``, at every pixel: one matrix product for the whole
    batch, laid out ``(n, 2, H, W)``, which ``grid_sample`` reads through a permuted view at no extra cost.
    """
    identity = _identity64(height, width).reshape(-1, 2).T
    return torch.cat([_operator64(grid, height, width).T, identity]).to(device=device, dtype=dtype).contiguous()


def _build_base(height: int, width: int, device: torch.device, dtype: torch.dtype):
    """The identity's normalised sampling grid ``(H, W, 2)``, the pixel-to-normalised scale ``(2,)`` and the 2x2
    identity matrix (the last two columns of every ``coef`` in :func:`_apply`)."""
    base = _identity64(height, width).to(device=device, dtype=dtype)
    scale = torch.tensor([2.0 / width, 2.0 / height], dtype=torch.float64).to(device=device, dtype=dtype)
    return base, scale, torch.eye(2, device=device, dtype=dtype)


_OPERATORS = _Cache(_build_operator, CACHE_SIZE)
_BASES = _Cache(_build_base, CACHE_SIZE)


def clear_cache() -> None:
    """Forget every cached operator and base grid (they are rebuilt on demand)."""
    _OPERATORS.clear()
    _BASES.clear()
    _operator64.cache_clear()


def tps_operator(grid: int, size: tuple[int, int], *, device=None, dtype=torch.float32) -> torch.Tensor:
    """The thin-plate-spline operator ``A``: the field at pixel ``p`` is ``sum_k A[p, k] * d_k``.

    ``p = y * W + x`` runs over pixel centres row by row; ``k`` over :func:`control_points`.  Each row sums to 1
    (a constant displacement is reproduced exactly), and the row of a pixel that is a control point is that
    point's unit vector.  A read-only view of a cached tensor: do not modify it in place.

    Args:
        grid: control points per side (>= 2).
        size: ``(H, W)`` in pixels.
        device, dtype: of the result (default CPU, float32).

    Returns:
        ``(H*W, K)`` tensor (dimensionless weights).

    >>> a = tps_operator(3, (32, 32))
    >>> a.shape, round(a.sum(1).min().item(), 5), a[0, 0].item()
    (torch.Size([1024, 9]), 1.0, 1.0)
    """
    grid = _check_grid(grid)
    height, width = _check_size(size)
    device = torch.device(device) if device is not None else torch.device("cpu")
    return _OPERATORS.get(grid, height, width, _canonical_device(device), dtype)[: grid * grid].T


def _canonical_device(device: torch.device) -> torch.device:
    if device.type != "cpu" and device.index is None:
        # torch.device("cuda") and torch.device("cuda:0") must share a cache entry.
        return torch.empty(0, device=device).device
    return device


def overshoot_bound(grid: int, size: tuple[int, int]) -> float:
    """The largest ``|tau_x(p)| / C`` (or ``|tau_y(p)| / C``) that any draw can reach: the TPS's Lebesgue constant.

    Each component of the field is ``A @ d`` with every ``|d_k| <= C``, so its largest possible value at pixel
    ``p`` is ``C * sum_k |A[p, k]|``, reached when each ``d_k`` is ``+-C`` with the sign of ``A[p, k]``.  The
    bound is the maximum of that sum over the pixels.  It is >= 1 (at a control point the sum is 1); how far above
    1 it is measures how far a thin-plate spline can overshoot the box ``[-C, C]`` between control points.

    Args:
        grid: control points per side (>= 2).
        size: ``(H, W)`` in pixels.

    Returns:
        the bound, a float >= 1 (dimensionless).

    >>> 1.0 <= overshoot_bound(3, (32, 32)) < 2.0
    True
    """
    grid = _check_grid(grid)
    height, width = _check_size(size)
    return float(_operator64(grid, height, width).abs().sum(dim=1).max())
