r"""Smooth random deformations of images: the paper's thin-plate-spline warps (Ruderman et al. 2018, section 2.1).

A deformation is drawn as in the paper: a ``grid x grid`` lattice of evenly spaced control points, each given a
random displacement uniform in ``[-C, C]`` in each direction (``C`` = ``max_displacement``, in pixels); the
displacement field over the whole image is the thin-plate spline (TPS) that interpolates those control
displacements; the image is resampled bilinearly.  The paper uses 5x5 points with C = 10 for ImageNet (224x224)
and 3x3 points with C = 2 for CIFAR-10 (32x32).

With the grid fixed, the TPS interpolant is *linear* in the control displacements: the field at the ``H*W``
pixel centres is ``A @ d`` for an ``(H*W, K)`` operator ``A`` that depends only on the grid and the image size.
We compute ``A`` once (in float64, cast to the working dtype) and cache it, so a batch of ``B`` images with ``B``
different random fields costs one small matrix product and one ``grid_sample``.

Conventions (and why)
---------------------
*Coordinates.*  Points and vectors are in pixels, ordered ``(x, y)`` = (column, row).  Pixel ``(i, j)`` (row
``i``, column ``j``) has its centre at ``(x, y) = (j, i)``; the image covers ``[-0.5, W - 0.5] x [-0.5, H - 0.5]``.

*Direction of the field.*  Output pixel ``p`` reads the input at ``p + field(p)``: ``out(p) = in(p + tau(p))``.
This is the paper's Figure 2: "the value at the tip of an arrow is computed by bilinear interpolation around the
tail of the arrow", the tip being ``p`` and the tail ``p + tau(p)``.  (Bietti and Mairal write
``L_tau x(u) = x(u - tau(u))``; the sign flip changes neither ``||tau||_inf`` nor ``||grad tau||_inf``.)

*Control points* sit at pixel centres, evenly spaced from the first to the last pixel in each direction and
including the four corner pixels: ``x_j = j (W - 1) / (grid - 1)``, ``y_i = i (H - 1) / (grid - 1)``, listed
row by row (``k = i * grid + j``).  Why: then every pixel lies inside the convex hull of the control points, so
the field is *interpolated* everywhere and never extrapolated (outside the hull a TPS is dominated by its affine
part and grows without bound), and the border of the image is deformed like its interior, as in the paper's
Figure 2.  At a control point the field equals that point's displacement exactly.

*Fill.*  A sample that falls outside the image is filled by ``fill``: ``"reflection"`` (default) mirrors the
image about its outer edge (half-sample symmetric: the edge pixel repeats, as scipy's ``mode="reflect"``);
``"border"`` repeats the edge pixel; ``"zeros"`` reads 0; a number reads that constant.  Why reflection: samples
leave the image by up to about C pixels (10 px on ImageNet), and zeros would paint black bands along the border
that a network sees as new edges, so a stability measurement would partly measure the padding; reflection
continues the image without new edges and keeps local statistics; ``"border"`` smears the edge pixel into
streaks.  The paper does not say which it used.

*align_corners.*  We call ``grid_sample`` with ``align_corners=False`` (torch's default), whose normalised
coordinate ``-1`` is the *outer edge* of the first pixel, and convert pixel positions as
``x_norm = (2 x + 1) / W - 1``.  Both settings are exact when the conversion matches; we chose ``False`` so that
``"reflection"`` reflects about the image's edge (at ``True`` it reflects about the centres of the edge pixels,
dropping the edge pixel's duplicate) and so that the image is treated as ``W`` pixel *areas*, as torch's
resizing does.  Zero displacements give the identity to float rounding: ``grid_sample`` maps normalised
coordinates back to pixels with an error of up to ``max(H, W) * eps`` pixels, so values move by at most that
fraction of the local contrast (1.4e-5 for a 224x224 image in [0, 1] in float32; none when H and W are powers of
two).

*Precision.*  The operator is always computed in float64 and cast.  float32 and float64 work natively (the field
agrees with ``scipy.interpolate.RBFInterpolator(kernel="thin_plate_spline")`` to about 1e-5 px in float32).
float16 and bfloat16 images are warped in float32 and the result rounded to the input dtype, because a sampling
grid held in half precision is coarse (bfloat16 resolves only about 0.4 px across a 224-pixel image); the
result is therefore the float32 warp rounded to the input's dtype (relative error at most 2^-11 for float16,
2^-8 for bfloat16).  :func:`deform` rounds the displacements it draws to the image's dtype *before* warping, so
the displacements it returns reproduce its output exactly (in bfloat16 they are multiples of 1/16 px between 8
and 16 px, a slightly coarser distribution than float32's).

*Cache.*  Operators are kept per (grid, size, device, dtype) in a least-recently-used cache of at most
:data:`CACHE_SIZE` entries, each ``(K + 2) * H * W`` numbers (5.4 MB for 224x224 with 5x5 points in float32),
beside a cache of as many identity grids (``2 * H * W`` numbers) and a cache of the 4 most recent float64 operators
on the CPU, from which the others are cast.  They are built outside inference mode and never modified in place,
so they are safe to reuse under autograd (a tensor made under ``torch.inference_mode`` could not be saved for a
later backward pass).  :func:`clear_cache` empties them.
"""

from __future__ import annotations

import functools
import math
import numbers
import threading
from collections import OrderedDict

import torch
import torch.nn.functional as F

from ._random import FLOAT_DTYPES, draw_setup

__all__ = [
    "FILLS",
    "CACHE_SIZE",
    "control_points",
    "sample_displacements",
    "displacement_field",
    "warp",
    "apply_displacements",
    "deform",
    "field_norms",
    "random_field_norms",
    "overshoot_bound",
    "tps_operator",
    "clear_cache",
]

#: The named fills (``fill`` may also be a number: a constant).
FILLS = ("reflection", "border", "zeros")

#: The most (grid, size, device, dtype) operators kept at once.
CACHE_SIZE = 16

_HALF = (torch.float16, torch.bfloat16)
_FLOATS = FLOAT_DTYPES


# --------------------------------------------------------------------------------------------------- validation


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


# ---------------------------------------------------------------------------------------------- the operator


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


# ------------------------------------------------------------------------------------------- public functions


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


def warp(images: torch.Tensor, field: torch.Tensor, *, fill: str | float = "reflection") -> torch.Tensor:
    """Resample images bilinearly: output pixel ``p`` reads the input at ``p + field(p)``.

    Args:
        images: ``(B, C, H, W)`` floating-point images.
        field: ``(B, H, W, 2)`` or ``(1, H, W, 2)`` (one field for every image) displacements in pixels,
            ``(dx, dy)``.
        fill: what a sample outside the image reads: ``"reflection"``, ``"border"``, ``"zeros"`` or a number (see
            the module's docstring).

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
