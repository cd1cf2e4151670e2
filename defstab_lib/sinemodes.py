r"""Max-entropy sine-mode diffeomorphisms (Petrini, Favero, Geiger & Wyart 2021, section 3 and appendix A).

Petrini et al. measure relative stability with random displacement fields that are smooth, vanish on the
border, and have the largest entropy for a given mean "energy" (their reference code is ``pcsl-epfl/
diffeomorphism``).  On the unit square, with ``x, y`` in ``[0, 1]``::

    tau_u(x, y) = sum_{i, j >= 1, i^2 + j^2 <= c^2} C_ij sin(i pi x) sin(j pi y),   C_ij ~ N(0, T / (i^2 + j^2))

and the same, independently, for ``tau_v``.  ``T`` is the *temperature* (dimensionless) and ``c`` the high-frequency
*cut-off* (an integer).  On an ``n x n`` image the field in pixels is ``n * tau``, evaluated at
``x_k = k / (n - 1)``, ``k = 0..n-1`` (the first and the last pixel centres sit on the border, where the field is
0), as the reference code does.

Conventions: fields are ``(B, H, W, 2)`` tensors of ``(dx, dy)`` in pixels, as in :mod:`defstab_lib.deform`, and
they are applied by :func:`defstab_lib.deform.warp` (``out(p) = in(p + field(p))``).  The reference code reads
``in(p - field(p))``; the law of the field is symmetric (``C -> -C``), so the two sample the same distribution.
Its remap clamps sampling positions to the image, which is ``fill="border"``; :func:`sine_deform` uses that by
default.

Mode sets.  The paper keeps the modes with ``i^2 + j^2 <= c^2`` (``modes="paper"``, the default); the reference
code keeps ``sqrt(i^2 + j^2) < c + 1/2`` (``modes="reference"``, i.e. ``i^2 + j^2 <= c^2 + c``), which holds a few
more modes (for ``c = 3``: 6 instead of 4).  Choose ``"reference"`` to compare with numbers made by that code.

Typical displacement (derived here; the formula is the reference code's ``typical_displacement``).  Averaged over
the square, ``sin^2`` averages to 1/2 in each direction, so the mean square of one component is
``(T / 4) S(c)`` with ``S(c) = sum_{modes} 1 / (i^2 + j^2)``; for both components and in pixels::

    <||n tau||^2> = n^2 T S(c) / 2  ~=  pi n^2 T log(c) / 4        (continuum: S(c) ~= (pi / 2) log c)

so the typical displacement is ``delta = n sqrt(pi T log c) / 2`` pixels (:func:`typical_displacement`).  The
continuum sum is an over-estimate at small cut-offs: ``S(c) = (pi / 2) log c - K(c)`` with ``K`` growing from 0.59
at ``c = 2`` to about 1 (0.70 at ``c = 3``, 0.90 at ``c = 10``), so at ``c = 3`` the true mean square is 0.59 of
the formula's (0.56 on a 32-pixel grid, where ``sin^2`` averages to a little under 1/2: a displacement 0.75 of
``delta``).  :func:`mean_square_displacement` gives the exact expectation on the
pixel grid.  (The mean square is *not* ``pi n^2 T c^2 / 4``: the ``c^2`` belongs to the gradient, below.)

Gradient.  ``d tau_u / dx = sum C_ij i pi cos(i pi x) sin(j pi y)``, whose mean square over the square is
``sum (T / (i^2 + j^2)) i^2 pi^2 / 4``; adding ``d / dy`` and both components gives
``<||grad tau||_F^2> = pi^2 T N(c) / 2 ~= pi^3 T c^2 / 8`` (``N(c)`` modes, about ``pi c^2 / 4``), the same in pixels
per pixel (:func:`mean_square_gradient`).

Temperature bounds (the reference code's ``temperature_range``; :func:`temperature_range`):

- ``T1 = 1 / (pi n^2 log c)``: below it the typical displacement ``delta`` is under half a pixel
  (``delta(T1) = 1/2`` exactly by the formula above), too small to move any pixel's content;
- ``T2 = 4 / (pi^3 c^2 log c)``: the no-overhang limit.  A field folds the image where the Jacobian of
  ``p -> p + tau(p)`` loses its positive determinant, which needs ``||grad tau|| >= 1`` there; ``T2`` is where
  ``<||grad tau||_F^2> * 2 log c = 1``, the factor ``2 log c`` standing for the maximum of the field's squared
  gradient over its ``~c^2`` independent patches (the maximum of ``M`` Gaussians grows as ``sqrt(2 log M)``).  It
  marks the onset of folding: measured with :func:`folds` on 2,000 fields each (n = 32, c = 3, 5, 10; n = 64,
  c = 8), under 1% fold at ``T2 / 2``, 5-15% at ``T2``, 50-72% at ``2 T2`` and 84-100% at ``4 T2``.

>>> g = torch.Generator().manual_seed(0)
>>> x = torch.rand(4, 1, 32, 32, generator=g)
>>> t1, t2 = temperature_range(32, 3)
>>> y, field = sine_deform(x, t2, 3, generator=g)
>>> y.shape, field.shape
(torch.Size([4, 1, 32, 32]), torch.Size([4, 32, 32, 2]))
>>> round(typical_displacement(t1, 3, 32), 6)
0.5
"""

from __future__ import annotations

import math
import numbers

import torch

from ._random import FLOAT_DTYPES, draw_setup
from .checks import check_tensor, choice, nonnegative_float, positive_int
from .deform import FILLS, warp

__all__ = [
    "MODE_SETS",
    "mode_variances",
    "sine_field",
    "sample_sine_fields",
    "sine_deform",
    "typical_displacement",
    "temperature_for_displacement",
    "mean_square_displacement",
    "mean_square_gradient",
    "temperature_range",
    "folds",
]

#: Which modes ``(i, j)`` a cut-off ``c`` keeps: the paper's ``i^2 + j^2 <= c^2``, or the reference code's
#: ``sqrt(i^2 + j^2) < c + 1/2``.
MODE_SETS = ("paper", "reference")

_FLOATS = FLOAT_DTYPES


def _cutoff(cutoff, *, at_least: int = 1) -> int:
    return positive_int("cutoff", cutoff, minimum=at_least)


def _temperature(temperature) -> float:
    return nonnegative_float("temperature", temperature)


def _side(size) -> int:
    """The side ``n`` of a square image, from an int or an ``(H, W)`` pair with ``H == W``."""
    if isinstance(size, numbers.Integral) and not isinstance(size, bool):
        return positive_int("size", size, minimum=2)
    try:
        height, width = size
    except (TypeError, ValueError):
        raise TypeError(f"size must be an int n or a pair (n, n) of ints, got {size!r}") from None
    height, width = positive_int("size", height, minimum=2), positive_int("size", width, minimum=2)
    if height != width:
        raise ValueError(f"size must be square (sine-mode fields are defined on n x n images), got {tuple(size)!r}")
    return height


def _mode_mask(cutoff: int, modes: str) -> torch.Tensor:
    """``(c, c)`` float64: 1 where mode ``(i, j)`` (1-based) is kept."""
    k = torch.arange(1, cutoff + 1, dtype=torch.float64)
    r2 = k[:, None] ** 2 + k[None, :] ** 2
    keep = r2 <= cutoff**2 if modes == "paper" else r2.sqrt() < cutoff + 0.5
    return keep.to(torch.float64)


def mode_variances(cutoff: int, *, modes: str = "paper") -> torch.Tensor:
    """The variance of each coefficient per unit temperature: ``1 / (i^2 + j^2)`` for kept modes, else 0.

    Args:
        cutoff: ``c`` (>= 1).
        modes: one of :data:`MODE_SETS`.

    Returns:
        ``(c, c)`` float64 on the CPU; entry ``[i - 1, j - 1]`` belongs to ``sin(i pi x) sin(j pi y)``.

    >>> mode_variances(2)
    tensor([[0.5000, 0.0000],
            [0.0000, 0.0000]], dtype=torch.float64)
    """
    cutoff = _cutoff(cutoff)
    choice("modes", modes, MODE_SETS)
    k = torch.arange(1, cutoff + 1, dtype=torch.float64)
    return _mode_mask(cutoff, modes) / (k[:, None] ** 2 + k[None, :] ** 2)


def _sines(n: int, cutoff: int, device, dtype) -> torch.Tensor:
    """``(n, c)``: ``sin(i pi x_k)`` at ``x_k = k / (n - 1)``, computed in float64 and cast."""
    x = torch.linspace(0, 1, n, dtype=torch.float64)
    k = torch.arange(1, cutoff + 1, dtype=torch.float64)
    return torch.sin(math.pi * x[:, None] * k[None, :]).to(device=device, dtype=dtype)


def sine_field(coefficients: torch.Tensor, size) -> torch.Tensor:
    """The field in pixels of given sine-mode coefficients: ``n * tau`` at every pixel centre.

    Linear in the coefficients, so it is differentiable (a gradient search over sine modes can use it).

    Args:
        coefficients: ``(B, 2, c, c)``: ``[:, 0]`` are the ``C_ij`` of ``tau_u`` (the x displacement), ``[:, 1]``
            those of ``tau_v`` (y); entry ``[..., i - 1, j - 1]`` multiplies ``sin(i pi x) sin(j pi y)``.
            Dimensionless (fractions of the image side).
        size: ``n`` or ``(n, n)``: the image's side in pixels.

    Returns:
        ``(B, n, n, 2)`` field of ``(dx, dy)`` in pixels, on the coefficients' device and in their dtype.

    >>> c = torch.zeros(1, 2, 2, 2); c[0, 0, 0, 0] = 0.1     # one mode, x displacement only
    >>> f = sine_field(c, 5)
    >>> f[0, 2, 2].tolist(), f[0, 0, 0].tolist()             # 5 * 0.1 * sin(pi/2)^2 at the centre, 0 on the border
    ([0.5, 0.0], [0.0, 0.0])
    """
    check_tensor("coefficients", coefficients, "B 2 c c")
    n = _side(size)
    cutoff = coefficients.shape[-1]
    s = _sines(n, cutoff, coefficients.device, coefficients.dtype)
    field = torch.einsum("bkij,xi,yj->byxk", coefficients, s, s)
    return (n * field).contiguous()


def sample_sine_fields(
    n_fields: int,
    size,
    temperature: float,
    cutoff: int,
    *,
    generator: torch.Generator | None = None,
    modes: str = "paper",
    device=None,
    dtype=None,
) -> torch.Tensor:
    """Random max-entropy fields at temperature ``T`` with cut-off ``c``, one per image.

    The coefficients are drawn as standard normals in float32 on ``device`` (one ``(n_fields, 2, c, c)`` draw, so
    one generator state gives the same fields in every dtype up to rounding), scaled by ``sqrt(T / (i^2 + j^2))``
    (0 outside the mode set), and mapped to pixels by :func:`sine_field`.

    Args:
        n_fields: how many fields (>= 1).
        size: ``n`` or ``(n, n)``: the image's side in pixels.
        temperature: ``T >= 0`` (dimensionless); see :func:`temperature_range` for the natural range.
        cutoff: ``c >= 1``.
        generator: the source of randomness (``None``: a fresh OS-seeded generator); on ``device``.
        modes: one of :data:`MODE_SETS`.
        device: where to draw (default: the generator's device, else the CPU).
        dtype: of the result (default float32).

    Returns:
        ``(n_fields, n, n, 2)`` fields of ``(dx, dy)`` in pixels.

    >>> f = sample_sine_fields(3, 16, 1e-3, 4, generator=torch.Generator().manual_seed(0))
    >>> f.shape, f[:, 0].abs().max().item()                 # zero on the border
    (torch.Size([3, 16, 16, 2]), 0.0)
    """
    n_fields = positive_int("n_fields", n_fields)
    n = _side(size)
    t = _temperature(temperature)
    cutoff = _cutoff(cutoff)
    choice("modes", modes, MODE_SETS)
    generator, device, dtype = draw_setup(generator, device, dtype)
    z = torch.randn(n_fields, 2, cutoff, cutoff, generator=generator, device=device, dtype=torch.float32)
    scale = (t * mode_variances(cutoff, modes=modes)).sqrt().to(device=device, dtype=torch.float32)
    work = torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype
    return sine_field((z * scale).to(work), n).to(dtype)


def sine_deform(
    images: torch.Tensor,
    temperature: float,
    cutoff: int,
    *,
    generator: torch.Generator | None = None,
    modes: str = "paper",
    fill: str | float = "border",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Deform each image by its own max-entropy sine-mode field (Petrini et al. 2021).

    Args:
        images: ``(B, C, n, n)`` floating-point images (square).
        temperature: ``T >= 0``.
        cutoff: ``c >= 1``.
        generator: the source of randomness, on the images' device (``None``: a fresh OS-seeded generator).
        modes: one of :data:`MODE_SETS`.
        fill: what samples outside the image read (see :func:`defstab_lib.deform.warp`); ``"border"`` (default)
            is the reference code's clamping.

    Returns:
        ``(deformed, field)``: ``(B, C, n, n)`` images (device and dtype of ``images``) and the ``(B, n, n, 2)``
        fields in pixels that made them (``warp(images, field, fill=fill)`` reproduces ``deformed``).

    >>> x = torch.rand(2, 3, 16, 16)
    >>> y, f = sine_deform(x, 0.0, 3, generator=torch.Generator().manual_seed(0))   # T = 0: the identity
    >>> bool((y - x).abs().max() < 1e-6), f.abs().max().item()
    (True, 0.0)
    """
    check_tensor("images", images, "B C H W")
    if isinstance(fill, str):
        choice("fill", fill, FILLS)
    n = _side(tuple(images.shape[-2:]))
    field = sample_sine_fields(images.shape[0], n, temperature, cutoff, generator=generator, modes=modes,
                               device=images.device, dtype=images.dtype)
    return warp(images, field, fill=fill), field


def typical_displacement(temperature: float, cutoff: int, size) -> float:
    """Petrini et al.'s typical displacement ``delta = n sqrt(pi T log c) / 2`` in pixels (the continuum estimate
    of the root mean square displacement; see the module's docstring and :func:`mean_square_displacement`).

    Args:
        temperature: ``T >= 0``.
        cutoff: ``c >= 2`` (``log c > 0``).
        size: ``n`` or ``(n, n)``.

    >>> round(typical_displacement(1e-3, 5, 32), 4)
    1.1377
    """
    t, cutoff, n = _temperature(temperature), _cutoff(cutoff, at_least=2), _side(size)
    return n * math.sqrt(math.pi * t * math.log(cutoff)) / 2


def temperature_for_displacement(displacement: float, cutoff: int, size) -> float:
    """The temperature at which :func:`typical_displacement` is ``displacement`` pixels:
    ``T = 4 delta^2 / (pi n^2 log c)``.

    >>> round(typical_displacement(temperature_for_displacement(1.5, 3, 32), 3, 32), 12)
    1.5
    """
    delta = nonnegative_float("displacement", displacement)
    cutoff, n = _cutoff(cutoff, at_least=2), _side(size)
    return 4 * delta**2 / (math.pi * n**2 * math.log(cutoff))


def mean_square_displacement(temperature: float, cutoff: int, size, *, modes: str = "paper") -> float:
    """The exact ``E[||field(p)||^2]`` in pixels squared, averaged over the ``n x n`` pixel centres.

    ``n^2 T sum_{modes} (m_i m_j) / (i^2 + j^2) * 2``, with ``m_i`` the mean of ``sin^2(i pi x_k)`` over the pixel
    positions (about 1/2); no continuum approximation.  Compare :func:`typical_displacement` squared.

    >>> t = temperature_for_displacement(1.0, 3, 32)
    >>> round(mean_square_displacement(t, 3, 32), 3)         # the continuum formula says 1.0
    0.557
    """
    t, cutoff, n = _temperature(temperature), _cutoff(cutoff), _side(size)
    choice("modes", modes, MODE_SETS)
    m = _sines(n, cutoff, "cpu", torch.float64).square().mean(dim=0)
    return float(2 * n**2 * t * (mode_variances(cutoff, modes=modes) * m[:, None] * m[None, :]).sum())


def mean_square_gradient(temperature: float, cutoff: int, *, modes: str = "paper") -> float:
    """``<||grad tau||_F^2>`` over the square in the continuum: ``pi^2 T N(c) / 2`` with ``N(c)`` the number of kept
    modes (about ``pi c^2 / 4``, so about ``pi^3 T c^2 / 8``).  Dimensionless (pixels per pixel), independent of
    ``n``.

    >>> round(mean_square_gradient(1.0, 2), 4)               # one mode: pi^2 / 2
    4.9348
    """
    t, cutoff = _temperature(temperature), _cutoff(cutoff)
    choice("modes", modes, MODE_SETS)
    return math.pi**2 * t * float(_mode_mask(cutoff, modes).sum()) / 2


def temperature_range(size, cutoff: int) -> tuple[float, float]:
    """Petrini et al.'s natural temperatures ``(T1, T2)``: ``T1 = 1 / (pi n^2 log c)`` (typical displacement of
    half a pixel) and ``T2 = 4 / (pi^3 c^2 log c)`` (the no-overhang limit); see the module's docstring.

    ``T1 < T2`` only when ``c < 2 n / pi``; otherwise the range is empty (no temperature moves pixels without
    folding the image) and the pair is returned as computed.

    Args:
        size: ``n`` or ``(n, n)``.
        cutoff: ``c >= 2``.

    >>> [f"{t:.3g}" for t in temperature_range(32, 3)]
    ['0.000283', '0.013']
    """
    n, cutoff = _side(size), _cutoff(cutoff, at_least=2)
    log = math.log(cutoff)
    return 1 / (math.pi * n**2 * log), 4 / (math.pi**3 * cutoff**2 * log)


def folds(field: torch.Tensor) -> torch.Tensor:
    """Whether each field folds the image: the Jacobian of ``p -> p + field(p)`` has a determinant <= 0 at some
    pixel (finite differences as :func:`defstab_lib.deform.field_norms`).

    Args:
        field: ``(B, H, W, 2)`` displacements in pixels, ``H, W >= 2``.

    Returns:
        ``(B,)`` bool.

    >>> folds(torch.zeros(2, 8, 8, 2)).tolist()
    [False, False]
    """
    check_tensor("field", field, "B H W 2")
    f = field.to(torch.promote_types(field.dtype, torch.float32))
    d_dy, d_dx = torch.gradient(f, dim=(1, 2))
    det = (1 + d_dx[..., 0]) * (1 + d_dy[..., 1]) - d_dy[..., 0] * d_dx[..., 1]
    return (det <= 0).flatten(1).any(dim=1)
