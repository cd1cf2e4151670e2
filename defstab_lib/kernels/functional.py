"""The functional core of a convolutional kernel network layer (Mairal 2016; Bietti and Mairal 2019).

One layer maps a feature map ``x`` of shape ``(B, C, H, W)`` in four steps:

1. **patches**: every ``k x k`` patch ``x_u`` (a vector of ``C k^2`` numbers, zero padding at the border);
2. **kernel map**: with unit-norm anchors ``z_1..z_p`` (rows of ``Z``, shape ``(p, C k^2)``),
   ``m_u = ||x_u|| kappa(Z x_u / ||x_u||)`` with the dot-product kernel ``kappa(t) = exp(alpha (t - 1))``
   (:func:`kernel_map`);
3. **Nystrom projection**: ``psi_u = kappa(Z Z^T)^(-1/2) m_u`` (:func:`nystrom_matrix`), so that
   ``<psi_u, psi_v>`` approximates the homogeneous kernel ``K(x_u, x_v) = ||x_u|| ||x_v|| kappa(<x_u, x_v> /
   (||x_u|| ||x_v||))`` (:func:`homogeneous_kernel`) and equals it when both patches lie in the span of the
   anchors' feature maps;
4. **linear Gaussian pooling** with subsampling (:func:`gaussian_pool`).

Steps 3 and 4 are both linear, the first across channels and the second across positions, so they commute; the
module :mod:`defstab_lib.kernels.ckn` pools first because it is cheaper.

Every function keeps the device and dtype of its input.  The inverse square root is computed in float64 whatever
the input's dtype, because ``kappa(Z Z^T)`` is often badly conditioned (anchors close to one another).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .. import checks

__all__ = [
    "exp_kernel",
    "homogeneous_kernel",
    "normalize_rows",
    "extract_patches",
    "kernel_map",
    "inverse_sqrt_psd",
    "nystrom_matrix",
    "nystrom_features",
    "kernel_approximation_error",
    "gaussian_window",
    "gaussian_pool",
    "PADDINGS",
]

#: Patch padding modes: ``"same"`` (zero padding of ``k // 2``, odd ``k`` only) and ``"valid"`` (none).
PADDINGS = ("same", "valid")

#: Patches (and anchors) whose squared norm is at most this are treated as zero: their kernel map is exactly 0,
#: which keeps the layer positively homogeneous and its gradient finite on the all-zero background of an image.
NORM_SQ_EPS = 1e-12


def exp_kernel(t: torch.Tensor, alpha: float) -> torch.Tensor:
    """The dot-product kernel on the sphere ``kappa(t) = exp(alpha (t - 1))``, elementwise.

    For unit vectors ``kappa(<u, v>) = exp(-alpha ||u - v||^2 / 2)``: a Gaussian kernel of bandwidth
    ``1 / sqrt(alpha)``.  ``kappa(1) = 1``.

    Args:
        t: cosines, any shape, unitless (in ``[-1, 1]`` for unit vectors).
        alpha: inverse squared bandwidth, ``> 0``.

    >>> exp_kernel(torch.tensor([1.0, 0.0]), alpha=2.0)
    tensor([1.0000, 0.1353])
    """
    return torch.exp(alpha * (t - 1.0))


def normalize_rows(x: torch.Tensor) -> torch.Tensor:
    """Rows of ``x`` (shape ``(n, d)``) divided by their Euclidean norm; rows of norm ~0 stay 0.

    >>> normalize_rows(torch.tensor([[3.0, 4.0], [0.0, 0.0]]))
    tensor([[0.6000, 0.8000],
            [0.0000, 0.0000]])
    """
    norm_sq = x.pow(2).sum(dim=-1, keepdim=True)
    return x * _safe_rsqrt(norm_sq)


def _safe_norm(norm_sq: torch.Tensor) -> torch.Tensor:
    """``sqrt(norm_sq)``, exactly 0 (with a zero, not infinite, gradient) where ``norm_sq <= NORM_SQ_EPS``."""
    keep = norm_sq > NORM_SQ_EPS
    return torch.where(keep, norm_sq.clamp_min(NORM_SQ_EPS).sqrt(), torch.zeros_like(norm_sq))


def _safe_rsqrt(norm_sq: torch.Tensor) -> torch.Tensor:
    keep = norm_sq > NORM_SQ_EPS
    return torch.where(keep, norm_sq.clamp_min(NORM_SQ_EPS).rsqrt(), torch.zeros_like(norm_sq))


def homogeneous_kernel(a: torch.Tensor, b: torch.Tensor, alpha: float) -> torch.Tensor:
    """The exact patch kernel ``K(a_i, b_j) = ||a_i|| ||b_j|| kappa(<a_i, b_j> / (||a_i|| ||b_j||))``.

    This is the kernel a CKN layer approximates (Bietti and Mairal 2019, eq. (3)); it is positively homogeneous
    in each argument.

    Args:
        a: patches, shape ``(n, d)``.
        b: patches, shape ``(m, d)``, same dtype and device.
        alpha: the kernel's ``alpha`` (see :func:`exp_kernel`).

    Returns:
        ``(n, m)`` kernel values.

    >>> a = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    >>> homogeneous_kernel(a, a, alpha=1.0)
    tensor([[1.0000, 0.7358],
            [0.7358, 4.0000]])
    """
    na = _safe_norm(a.pow(2).sum(-1))
    nb = _safe_norm(b.pow(2).sum(-1))
    cos = normalize_rows(a) @ normalize_rows(b).T
    return na[:, None] * nb[None, :] * exp_kernel(cos, alpha)


def extract_patches(x: torch.Tensor, patch_size: int, padding: str = "same") -> torch.Tensor:
    """All ``k x k`` patches of a feature map, flattened in the order of a conv weight ``(C, k, k)``.

    Args:
        x: feature map, shape ``(B, C, H, W)``.
        patch_size: ``k``; odd when ``padding == "same"``.
        padding: ``"same"`` (zero padding ``k // 2``: one patch per pixel) or ``"valid"``.

    Returns:
        ``(B, H' W', C k^2)`` patches, row-major over output positions.

    >>> extract_patches(torch.arange(9.0).reshape(1, 1, 3, 3), 3).shape
    torch.Size([1, 9, 9])
    """
    pad = _patch_padding(patch_size, padding)
    checks.check_tensor("x", x, "B C H W")
    return F.unfold(x, patch_size, padding=pad).transpose(1, 2)


def _patch_padding(patch_size: int, padding: str) -> int:
    checks.positive_int("patch_size", patch_size)
    checks.choice("padding", padding, PADDINGS)
    if padding == "same":
        if patch_size % 2 == 0:
            raise ValueError(f"patch_size must be odd with padding='same', got {patch_size!r}")
        return patch_size // 2
    return 0


def kernel_map(x: torch.Tensor, anchors: torch.Tensor, patch_size: int, alpha: float, padding: str = "same") -> torch.Tensor:
    """``||x_u|| kappa(<z_j, x_u / ||x_u||>)`` for every patch ``x_u`` of ``x`` and every unit anchor ``z_j``.

    Computed as two convolutions (anchors, and a box filter for the patch norms); patches of norm ~0 map to 0.

    Args:
        x: feature map, shape ``(B, C, H, W)``.
        anchors: unit-norm anchors, shape ``(p, C k^2)`` flattened as a conv weight ``(C, k, k)``.
        patch_size: ``k``.
        alpha: the kernel's ``alpha``.
        padding: ``"same"`` or ``"valid"``.

    Returns:
        ``(B, p, H', W')``, in the unit of ``x`` (the map is positively homogeneous of degree 1).

    >>> z = normalize_rows(torch.ones(1, 9))
    >>> round(kernel_map(torch.ones(1, 1, 5, 5), z, 3, alpha=1.0, padding="valid")[0, 0, 0, 0].item(), 4)
    3.0
    """
    pad = _patch_padding(patch_size, padding)
    b, c, h, w = x.shape
    weight = anchors.reshape(anchors.shape[0], c, patch_size, patch_size).to(x)
    inner = F.conv2d(x, weight, padding=pad)
    box = torch.ones(1, c, patch_size, patch_size, dtype=x.dtype, device=x.device)
    norm = _safe_norm(F.conv2d(x.pow(2), box, padding=pad))
    cos = inner / norm.clamp_min(math.sqrt(NORM_SQ_EPS))
    return norm * exp_kernel(cos, alpha)


class _InverseSqrtPSD(torch.autograd.Function):
    """``(A + ridge I)^(-1/2)`` for a symmetric PSD ``A``, in float64, with a stable backward.

    Forward: eigendecomposition ``A = V diag(l) V^T``; eigenvalues clamped at 0, ``ridge`` added; directions whose
    ``l + ridge`` is at rounding level (``p * eps * max |l|``, only possible with ``ridge == 0``) are dropped, as
    in a pseudo-inverse, instead of becoming infinite.
    Backward: the Daleckii-Krein formula for ``f(l) = (l + ridge)^(-1/2)`` whose divided differences are
    ``(f(l_i) - f(l_j)) / (l_i - l_j) = -1 / (s_i s_j (s_i + s_j))`` with ``s = sqrt(l + ridge)``: no division by
    eigenvalue gaps, so the gradient stays finite when eigenvalues coincide (where ``torch.linalg.eigh``'s own
    backward returns inf or nan).
    """

    @staticmethod
    def forward(ctx, a: torch.Tensor, ridge: float) -> torch.Tensor:  # type: ignore[override]
        a64 = a.detach().to(torch.float64)
        a64 = 0.5 * (a64 + a64.T)
        evals, evecs = torch.linalg.eigh(a64)
        s = (evals.clamp_min(0.0) + ridge).sqrt()
        # pseudo-inverse: directions with s^2 at rounding level (a singular matrix and no ridge) are dropped
        tol = a64.shape[0] * torch.finfo(torch.float64).eps * float(evals.abs().max().clamp_min(1e-300))
        inv_s = torch.where(s.pow(2) > tol, 1.0 / s.clamp_min(1e-300), torch.zeros_like(s))
        ctx.save_for_backward(s, inv_s, evecs)
        ctx.out_dtype = a.dtype
        return ((evecs * inv_s) @ evecs.T).to(a.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        s, inv_s, evecs = ctx.saved_tensors
        g = grad.to(torch.float64)
        g = 0.5 * (g + g.T)
        # -1 / (s_i s_j (s_i + s_j)), written with the kept inverses so that dropped directions get no gradient
        divided = -(inv_s[:, None] * inv_s[None, :]) / (s[:, None] + s[None, :]).clamp_min(1e-300)
        out = evecs @ (divided * (evecs.T @ g @ evecs)) @ evecs.T
        return out.to(ctx.out_dtype), None


def inverse_sqrt_psd(a: torch.Tensor, ridge: float = 1e-3) -> torch.Tensor:
    """``(A + ridge I)^(-1/2)`` of a symmetric positive semi-definite matrix, differentiable and stable.

    Computed in float64 by a symmetric eigendecomposition whose spectrum is clamped at 0 before the ridge is
    added; returned in ``a``'s dtype.  With ``ridge == 0`` and a singular ``a`` it is the pseudo-inverse square
    root (null directions map to 0).  The gradient uses divided differences that stay finite for repeated
    eigenvalues (see :class:`_InverseSqrtPSD`).

    Args:
        a: symmetric PSD matrix, shape ``(p, p)``.
        ridge: added to every eigenvalue, ``>= 0``.

    >>> inverse_sqrt_psd(torch.tensor([[4.0, 0.0], [0.0, 1.0]]), ridge=0.0)
    tensor([[0.5000, 0.0000],
            [0.0000, 1.0000]])
    """
    checks.check_tensor("a", a, "p p")
    if a.shape[0] != a.shape[1]:
        raise ValueError(f"a must be square, shape (p, p), got shape {tuple(a.shape)}")
    ridge = checks.nonnegative_float("ridge", ridge)
    return _InverseSqrtPSD.apply(a, ridge)


def nystrom_matrix(anchors: torch.Tensor, alpha: float, ridge: float = 1e-3) -> torch.Tensor:
    """The Nystrom projection ``kappa(Z Z^T)^(-1/2)`` for unit-norm anchors ``Z`` (rows).

    ``kappa(Z Z^T)`` has a unit diagonal, so ``ridge`` is relative to it: its eigenvalues sum to ``p``.  The Gram
    matrix and its inverse square root are computed in float64 and the result is cast to ``anchors``' dtype.

    Args:
        anchors: shape ``(p, d)``, unit rows.
        alpha: the kernel's ``alpha``.
        ridge: added to the eigenvalues of ``kappa(Z Z^T)``, ``>= 0``.

    Returns:
        ``(p, p)`` symmetric matrix, dtype and device of ``anchors``.

    >>> nystrom_matrix(torch.eye(2), alpha=1e6, ridge=0.0)
    tensor([[1., 0.],
            [0., 1.]])
    """
    z64 = anchors.to(torch.float64)  # near-duplicate anchors: 1 - <z_i, z_j> is lost to float32 rounding
    return inverse_sqrt_psd(exp_kernel(z64 @ z64.T, alpha), ridge).to(anchors.dtype)


def nystrom_features(patches: torch.Tensor, anchors: torch.Tensor, alpha: float, ridge: float = 1e-3) -> torch.Tensor:
    """Finite-dimensional features ``psi(x) = kappa(Z Z^T)^(-1/2) ||x|| kappa(Z x / ||x||)`` of flat patches.

    ``<psi(x), psi(y)>`` is the kernel :func:`homogeneous_kernel` of the projections of ``x`` and ``y`` onto the
    span of the anchors' feature maps in the RKHS (Mairal 2016, section 3).

    Args:
        patches: shape ``(n, d)``.
        anchors: unit-norm anchors, shape ``(p, d)``.
        alpha, ridge: as in :func:`nystrom_matrix`.

    Returns:
        ``(n, p)`` features, in the unit of ``patches``.

    >>> z = torch.eye(3)
    >>> psi = nystrom_features(z, z, alpha=1.0, ridge=0.0)
    >>> torch.allclose(psi @ psi.T, homogeneous_kernel(z, z, alpha=1.0), atol=1e-5)
    True
    """
    norm = _safe_norm(patches.pow(2).sum(-1, keepdim=True))
    mapped = norm * exp_kernel(normalize_rows(patches) @ anchors.T, alpha)
    return mapped @ nystrom_matrix(anchors, alpha, ridge)


def kernel_approximation_error(patches: torch.Tensor, anchors: torch.Tensor, alpha: float, ridge: float = 1e-3) -> float:
    """Relative Frobenius error ``||Psi Psi^T - K||_F / ||K||_F`` of the Nystrom features on ``patches``.

    Args:
        patches: ``(n, d)`` patches on which the kernel matrix ``K`` is compared.
        anchors: ``(p, d)`` unit-norm anchors.
        alpha, ridge: as in :func:`nystrom_matrix`.

    >>> z = torch.eye(4, dtype=torch.float64)
    >>> kernel_approximation_error(z, z, alpha=1.0, ridge=0.0) < 1e-12
    True
    """
    exact = homogeneous_kernel(patches, patches, alpha)
    psi = nystrom_features(patches, anchors, alpha, ridge)
    return float(torch.linalg.norm(psi @ psi.T - exact) / torch.linalg.norm(exact))


def gaussian_window(sigma: float, *, truncate: float = 3.0, dtype: torch.dtype = torch.float32,
                    device: torch.device | str | None = None) -> torch.Tensor:
    """A 1-D Gaussian window of standard deviation ``sigma`` pixels, radius ``ceil(truncate sigma)``, sum 1.

    >>> gaussian_window(1.0, truncate=1.0)
    tensor([0.2741, 0.4519, 0.2741])
    """
    sigma = checks.nonnegative_float("sigma", sigma, strict=True)
    truncate = checks.nonnegative_float("truncate", truncate, strict=True)
    radius = max(1, math.ceil(truncate * sigma))
    t = torch.arange(-radius, radius + 1, dtype=torch.float64, device=device)
    w = torch.exp(-0.5 * (t / sigma) ** 2)
    return (w / w.sum()).to(dtype)


def gaussian_pool(x: torch.Tensor, sigma: float, subsampling: int = 1, *, truncate: float = 3.0) -> torch.Tensor:
    """Linear Gaussian pooling: blur each channel with a Gaussian of std ``sigma`` pixels, keep every
    ``subsampling``-th pixel.

    The window has unit sum (pooling averages; constants are preserved), zero padding of its radius, and the
    output has ``ceil(H / subsampling) x ceil(W / subsampling)`` pixels, the first one centred on input pixel 0.
    ``sigma == 0`` only subsamples.

    Args:
        x: ``(B, C, H, W)``.
        sigma: standard deviation in pixels of ``x``, ``>= 0``.
        subsampling: stride, ``>= 1``.
        truncate: window radius in units of ``sigma``.

    >>> gaussian_pool(torch.ones(1, 2, 8, 8), sigma=1.0, subsampling=2).shape
    torch.Size([1, 2, 4, 4])
    """
    checks.check_tensor("x", x, "B C H W")
    sigma = checks.nonnegative_float("sigma", sigma)
    s = checks.positive_int("subsampling", subsampling)
    if sigma == 0.0:
        return x[:, :, ::s, ::s]
    w = gaussian_window(sigma, truncate=truncate, dtype=x.dtype, device=x.device)
    r = (w.numel() - 1) // 2
    c = x.shape[1]
    x = F.conv2d(x, w.view(1, 1, -1, 1).expand(c, 1, -1, 1), stride=(s, 1), padding=(r, 0), groups=c)
    return F.conv2d(x, w.view(1, 1, 1, -1).expand(c, 1, 1, -1), stride=(1, s), padding=(0, r), groups=c)
