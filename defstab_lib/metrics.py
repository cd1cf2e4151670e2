"""Measurements: sensitivity of representations to deformation (paper section 2.1) and filter smoothness (4.1).

**Normalized cosine distance.**  For a layer's representation ``r`` (flattened to a vector per image), images
``x_1..x_N`` and their deformations ``τ(x_i)``::

    mean_i d(r(x_i), r(τ(x_i)))  /  median_{i<j} d(r(x_i), r(x_j))

with ``d`` the cosine distance ``1 - <a, b> / (|a| |b|)`` (the paper; N = 128), or the Euclidean distance
``|a - b|`` (the variant the paper reports as qualitatively similar).  The median is over the ``N (N - 1) / 2``
pairs ``i < j`` of the *same* clean images (never the zero diagonal); for an even number of pairs it is the
mean of the two middle values, as ``numpy.median``.  By convention the cosine distance between two zero vectors
is 0 and between a zero and a non-zero vector 1.  Distances between matching images are computed from
differences (no cancellation, so float32 keeps its relative precision even for distances of 1e-4); the pairwise
ones come from a float64 Gram matrix (``1 - cos`` cancels: deep layers of smooth networks reach medians of 1e-3).
Results are float64.

**Noise-matched control** (Petrini, Favero, Geiger, Wyart 2021, *Relative stability toward diffeomorphisms
indicates performance in deep nets*): the same measurement with ``x_i + η_i`` in place of ``τ(x_i)``, where
``η_i`` is isotropic Gaussian noise rescaled to the L2 norm of ``τ(x_i) - x_i`` (:func:`noise_matched`).  The
ratio deformation / noise (the median cancels) is their *relative stability* ``R_f``; they define it with mean
squared Euclidean distances, we report it in the profile's own metrics (cosine, and Euclidean not squared).

**Filter smoothness**: the normalized total variation ``TV(W) / |W|_1`` of a conv weight (:func:`filter_smoothness`),
0 for spatially constant filters and about 1.857 for the paper's random initialisation (the paper's footnote 1
says "approximately 1.87"; see :func:`filter_smoothness`).

The main entry point, :func:`sensitivity_profile`, measures every layer at once: per batch one forward pass of
the clean, deformed and noise-matched images together, in eval mode under ``no_grad``, on the images' device.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import torch
from torch import nn

from . import probe
from ._random import check_generator
from .models import VGG
from .checks import check_finite, check_tensor, choice
from .probe import LayerKey

__all__ = [
    "METRICS",
    "paired_distances",
    "pairwise_distances",
    "median_pairwise_distance",
    "normalized_distance",
    "noise_matched",
    "SensitivityProfile",
    "sensitivity_profile",
    "normalized_cosine_distance",
    "normalized_euclidean_distance",
    "relative_change",
    "change_sweep",
    "total_variation",
    "filter_smoothness",
    "smoothness_profile",
]

#: The distances a profile is measured in.
METRICS: tuple[str, ...] = ("cosine", "euclidean")


def _check_metric(metric: str) -> None:
    if metric not in METRICS:
        raise ValueError(f"metric {metric!r} is not allowed; allowed: {', '.join(repr(m) for m in METRICS)}")


def _flat64(reps: torch.Tensor, name: str) -> torch.Tensor:
    if not isinstance(reps, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor (N, ...), got {type(reps).__name__}")
    if reps.dim() < 1:
        raise ValueError(f"{name} must have a batch dimension (N, ...), got shape {tuple(reps.shape)}")
    return reps.reshape(reps.shape[0], -1).to(torch.float64)


def _cosine_from_inner(inner: torch.Tensor, sq_a: torch.Tensor, sq_b: torch.Tensor) -> torch.Tensor:
    """``1 - <a,b> / (|a| |b|)`` from inner products and squared norms (broadcasting), clamped to [0, 2]."""
    product = sq_a * sq_b
    both_zero = (sq_a == 0) & (sq_b == 0)
    similarity = torch.where(product > 0, inner / product.clamp_min(torch.finfo(product.dtype).tiny).sqrt(), 0.0)
    similarity = torch.where(both_zero, 1.0, similarity)
    return (1.0 - similarity).clamp(0.0, 2.0)


def paired_distances(a: torch.Tensor, b: torch.Tensor, metric: str = "cosine") -> torch.Tensor:
    """Distances ``d(a_i, b_i)`` between matching rows, ``(N,)`` float64.

    Args:
        a, b: representations ``(N, ...)`` of the same shape (each image flattened to a vector).
        metric: ``"cosine"`` or ``"euclidean"``.

    >>> x = torch.tensor([[1.0, 0.0], [3.0, 4.0]])
    >>> paired_distances(x, torch.tensor([[0.0, 2.0], [3.0, 4.0]])).round(decimals=12)
    tensor([1., 0.], dtype=torch.float64)
    >>> paired_distances(x, 2 * x, "euclidean")
    tensor([1., 5.], dtype=torch.float64)
    """
    _check_metric(metric)
    a, b = _flat64(a, "a"), _flat64(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    cosine, euclidean = _paired(a, b)
    return cosine if metric == "cosine" else euclidean


def _paired(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Cosine and Euclidean distances ``(n,)`` (float64) between matching rows of ``(n, D)`` matrices.

    Computed from differences, without cancellation, so that float32 inputs keep float32's relative precision
    even for tiny distances: ``d_cos = |a/|a| - b/|b||² / 2`` and ``d_euc = |a - b|``.  Half precision is
    widened to float32 first.
    """
    dtype = torch.promote_types(a.dtype, torch.float32)
    a, b = a.to(dtype), b.to(dtype)
    norm_a, norm_b = torch.linalg.vector_norm(a, dim=1), torch.linalg.vector_norm(b, dim=1)
    tiny = torch.finfo(dtype).tiny
    unit_diff = a * (1.0 / norm_a.clamp_min(tiny))[:, None] - b * (1.0 / norm_b.clamp_min(tiny))[:, None]
    cosine = (torch.linalg.vector_norm(unit_diff, dim=1).to(torch.float64) ** 2 / 2).clamp(0.0, 2.0)
    zero_a, zero_b = norm_a == 0, norm_b == 0
    cosine = torch.where(zero_a & zero_b, 0.0, torch.where(zero_a | zero_b, 1.0, cosine))
    euclidean = torch.linalg.vector_norm(a - b, dim=1).to(torch.float64)
    return cosine, euclidean


def _pairwise(reps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Cosine and Euclidean distance matrices ``(N, N)`` of float64 ``(N, D)`` rows, from one Gram matrix."""
    gram = reps @ reps.T
    sq = gram.diagonal().clone()
    cosine = _cosine_from_inner(gram, sq[:, None], sq[None, :])
    euclidean = (sq[:, None] + sq[None, :] - 2.0 * gram).clamp_min(0.0).sqrt()
    cosine.fill_diagonal_(0.0)
    euclidean.fill_diagonal_(0.0)
    return cosine, euclidean


def pairwise_distances(reps: torch.Tensor, metric: str = "cosine") -> torch.Tensor:
    """All distances ``d(r_i, r_j)``, an ``(N, N)`` float64 matrix with a zero diagonal.

    Computed from one Gram matrix ``R Rᵀ`` (memory ``N × N``, never ``N × N × D``).

    Args:
        reps: representations ``(N, ...)``, each image flattened to a vector.
        metric: ``"cosine"`` or ``"euclidean"``.

    >>> pairwise_distances(torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 0.0]]))
    tensor([[0., 1., 0.],
            [1., 0., 1.],
            [0., 1., 0.]], dtype=torch.float64)
    """
    _check_metric(metric)
    cosine, euclidean = _pairwise(_flat64(reps, "reps"))
    return cosine if metric == "cosine" else euclidean


def _upper_median(matrix: torch.Tensor) -> torch.Tensor:
    """Median of the entries above the diagonal (pairs i < j), as ``numpy.median``."""
    n = matrix.shape[0]
    rows, cols = torch.triu_indices(n, n, offset=1, device=matrix.device)
    return torch.quantile(matrix[rows, cols], 0.5)


def median_pairwise_distance(reps: torch.Tensor, metric: str = "cosine") -> float:
    """The median of ``d(r_i, r_j)`` over the pairs ``i < j`` (the normalisation of the paper's measure).

    Args:
        reps: representations ``(N, ...)`` with ``N >= 2``.
        metric: ``"cosine"`` or ``"euclidean"``.

    >>> median_pairwise_distance(torch.tensor([[0.0], [1.0], [3.0]]), "euclidean")   # pairs: 1, 3, 2
    2.0
    """
    _check_metric(metric)
    reps = _flat64(reps, "reps")
    if reps.shape[0] < 2:
        raise ValueError(f"reps must hold at least 2 images to form a pair, got {reps.shape[0]}")
    cosine, euclidean = _pairwise(reps)
    return float(_upper_median(cosine if metric == "cosine" else euclidean))


def normalized_distance(clean: torch.Tensor, deformed: torch.Tensor, metric: str = "cosine") -> float:
    """The paper's measure at one layer: ``mean_i d(clean_i, deformed_i) / median_{i<j} d(clean_i, clean_j)``.

    Args:
        clean: representations of the clean images ``(N, ...)``, ``N >= 2``.
        deformed: representations of their deformed (or noisy) versions, the same shape.
        metric: ``"cosine"`` (the normalized cosine distance) or ``"euclidean"``.

    >>> clean = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> normalized_distance(clean, clean)
    0.0
    """
    _check_metric(metric)
    c, d = _flat64(clean, "clean"), _flat64(deformed, "deformed")
    if c.shape != d.shape:
        raise ValueError(
            f"clean and deformed must have the same shape, got {tuple(clean.shape)} and {tuple(deformed.shape)}"
        )
    if c.shape[0] < 2:
        raise ValueError(f"clean must hold at least 2 images to form a pair, got {c.shape[0]}")
    index = METRICS.index(metric)
    return float(_paired(c, d)[index].mean() / _upper_median(_pairwise(c)[index]))


def noise_matched(
    images: torch.Tensor, deformed: torch.Tensor, *, generator: torch.Generator | None = None
) -> torch.Tensor:
    """``images + η`` with isotropic Gaussian noise ``η_i`` of the same L2 norm as ``deformed_i - images_i``.

    The norm is over all of an image's channels and pixels.  The result is not clipped to ``[0, 1]``.

    Args:
        images: clean images ``(N, C, H, W)``.
        deformed: their deformations, the same shape, device and dtype.
        generator: the random source (the noise is drawn on its device, then moved to the images' device, so a
            CPU generator gives the same noise on any device); ``None`` uses a fresh generator seeded by the OS.

    Returns:
        noisy images ``(N, C, H, W)`` on the images' device, in their dtype.

    >>> x = torch.zeros(2, 1, 4, 4); tx = x.clone(); tx[0, 0, 0, 0] = 3.0
    >>> noisy = noise_matched(x, tx, generator=torch.Generator().manual_seed(0))
    >>> (noisy - x).flatten(1).norm(dim=1)
    tensor([3., 0.])
    """
    if not isinstance(images, torch.Tensor) or not isinstance(deformed, torch.Tensor):
        raise TypeError("images and deformed must be torch.Tensors (N, C, H, W)")
    if images.shape != deformed.shape:
        raise ValueError(
            f"images and deformed must have the same shape, got {tuple(images.shape)} and {tuple(deformed.shape)}"
        )
    generator = check_generator(generator)
    z = torch.randn(images.shape, generator=generator, device=generator.device, dtype=torch.float64)
    z = z.to(images.device)
    target = (deformed - images).to(torch.float64).flatten(1).norm(dim=1)
    scale = target / z.flatten(1).norm(dim=1)
    eta = z * scale.view(-1, *([1] * (images.dim() - 1)))
    return images + eta.to(images.dtype)


@dataclasses.dataclass
class SensitivityProfile:
    """Every per-layer measurement of one model on one set of images (see :func:`sensitivity_profile`).

    All tensors are float64 on the CPU; ``L`` is the number of layers, ``N`` the number of images.

    Attributes:
        layers: the layer keys, in order.
        cosine_deformed, euclidean_deformed: ``(L, N)``, ``d(r(x_i), r(τ(x_i)))`` per layer and image.
        cosine_median, euclidean_median: ``(L,)``, median over pairs ``i < j`` of ``d(r(x_i), r(x_j))``.
        cosine_noise, euclidean_noise: ``(L, N)``, ``d(r(x_i), r(x_i + η_i))`` for the noise-matched control,
            or ``None`` when it was not measured.
    """

    layers: list[LayerKey]
    cosine_deformed: torch.Tensor
    euclidean_deformed: torch.Tensor
    cosine_median: torch.Tensor
    euclidean_median: torch.Tensor
    cosine_noise: torch.Tensor | None = None
    euclidean_noise: torch.Tensor | None = None

    @property
    def n_images(self) -> int:
        return self.cosine_deformed.shape[1]

    @property
    def normalized_cosine(self) -> torch.Tensor:
        """``(L,)`` the paper's normalized cosine distance per layer (Figures 3, 4, 7)."""
        return self.cosine_deformed.mean(1) / self.cosine_median

    @property
    def normalized_euclidean(self) -> torch.Tensor:
        """``(L,)`` the same with Euclidean distances."""
        return self.euclidean_deformed.mean(1) / self.euclidean_median

    @property
    def noise_normalized_cosine(self) -> torch.Tensor | None:
        """``(L,)`` normalized cosine distance of the noise-matched images (``None`` if not measured)."""
        return None if self.cosine_noise is None else self.cosine_noise.mean(1) / self.cosine_median

    @property
    def noise_normalized_euclidean(self) -> torch.Tensor | None:
        """``(L,)`` normalized Euclidean distance of the noise-matched images (``None`` if not measured)."""
        return None if self.euclidean_noise is None else self.euclidean_noise.mean(1) / self.euclidean_median

    @property
    def cosine_ratio(self) -> torch.Tensor | None:
        """``(L,)`` deformation / noise sensitivity in cosine distance (Petrini et al.'s relative stability)."""
        return None if self.cosine_noise is None else self.cosine_deformed.mean(1) / self.cosine_noise.mean(1)

    @property
    def euclidean_ratio(self) -> torch.Tensor | None:
        """``(L,)`` deformation / noise sensitivity in Euclidean distance."""
        return None if self.euclidean_noise is None else self.euclidean_deformed.mean(1) / self.euclidean_noise.mean(1)

    def summary(self) -> dict[str, object]:
        """The per-layer numbers as plain Python lists (JSON-ready), keyed by the property names."""
        out: dict[str, object] = {"layers": list(self.layers), "n_images": self.n_images}
        for name in (
            "normalized_cosine",
            "normalized_euclidean",
            "noise_normalized_cosine",
            "noise_normalized_euclidean",
            "cosine_ratio",
            "euclidean_ratio",
            "cosine_median",
            "euclidean_median",
        ):
            value = getattr(self, name)
            out[name] = None if value is None else [float(v) for v in value]
        return out


def _check_pair(images: torch.Tensor, other: torch.Tensor, name: str) -> None:
    if not isinstance(other, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor (N, C, H, W), got {type(other).__name__}")
    if other.shape != images.shape:
        raise ValueError(f"{name} must have the shape of images {tuple(images.shape)}, got {tuple(other.shape)}")
    if other.device != images.device or other.dtype != images.dtype:
        raise ValueError(
            f"{name} must be on the device and in the dtype of images ({images.device}, {images.dtype}), "
            f"got ({other.device}, {other.dtype})"
        )


#: A median pairwise distance at or below this (float64) means the probe's images are identical at that layer.
NORMALISER_FLOOR = 1e-12


def _check_normaliser(layers: Sequence[LayerKey], medians: torch.Tensor) -> None:
    """Raise when the median distance between different images is 0 (or not finite) at some layer: the
    normalised distance would be inf or NaN."""
    for metric, row in zip(METRICS, medians):
        bad = [(k, float(m)) for k, m in zip(layers, row) if not math.isfinite(float(m)) or float(m) <= NORMALISER_FLOOR]
        if bad:
            raise ValueError(
                f"the probe's images are (near-)identical at layer(s) {[k for k, _ in bad]}: the median {metric} "
                f"distance between different images there is {bad[0][1]:.3g}, so the normalised distance is "
                f"undefined; use a probe of distinct images")


def _check_model_input(model: nn.Module, images: torch.Tensor) -> None:
    """The images' dtype and channel count against the model's first parameters, before anything runs."""
    parameter = next(model.parameters(), None)
    if parameter is not None and parameter.is_floating_point() and parameter.dtype != images.dtype:
        raise TypeError(f"images are {images.dtype} but the model's parameters are {parameter.dtype}; convert one "
                        f"(e.g. images.to({parameter.dtype}))")
    first_conv = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    if isinstance(model, VGG) and first_conv is not None and first_conv.in_channels != images.shape[1]:
        raise ValueError(f"images have {images.shape[1]} channel(s) but the model takes {first_conv.in_channels}")


def sensitivity_profile(
    model: nn.Module,
    images: torch.Tensor,
    deformed: torch.Tensor,
    *,
    layers: Sequence[LayerKey] | None = None,
    noise: bool | torch.Tensor = True,
    generator: torch.Generator | None = None,
    batch_size: int = 128,
    degenerate: str = "raise",
) -> SensitivityProfile:
    """Sensitivity to deformation of every requested layer (and the noise-matched control), in one sweep.

    Per batch of images, the clean, deformed and noise-matched images go through the model together in one
    forward pass (eval mode, ``no_grad``; the model's train/eval flags are restored afterwards).  Each layer's
    deformed and noisy representations are compared with the clean ones of the same images at once and dropped;
    the clean representations are kept (memory ``N ×`` the layer's size, in the model's dtype: 72 MB for all 13
    layers of the CIFAR network at N = 128) for the ``N × N`` Gram matrices of the pairwise medians.

    Args:
        model: a :class:`~defstab_lib.models.VGG` or any ``nn.Module``, on the images' device.
        images: clean images ``(N, C, H, W)``, ``N >= 2`` (the paper uses N = 128).
        deformed: ``τ(images)``, the same shape, device and dtype.
        layers: layer keys (:mod:`defstab_lib.probe`); ``None`` for every layer of a VGG (0 = input) or the input
            and the direct children of another model.
        noise: ``True`` to draw the noise-matched images with :func:`noise_matched` and ``generator``; ``False``
            to skip the control; or a tensor of noisy images (the shape of ``images``) to reuse a fixed draw.
        generator: random source of the noise (``None``: a fresh generator seeded by the OS).
        degenerate: what a layer where every probe image has the same representation (median distance between
            different images 0: the normalised distance is undefined) gives: ``"raise"`` a ``ValueError`` naming
            the layers, ``"nan"`` NaN in that layer's normalised values (for a sweep over models some of which
            collapse, e.g. kernel networks with few anchors; the caller then says so).
        batch_size: images per forward pass (each pass holds ``3 × batch_size`` images); the result does not
            depend on it beyond float rounding.

    Returns:
        a :class:`SensitivityProfile`; ``profile.normalized_cosine`` is the paper's curve.

    >>> from defstab_lib.models import make_vgg
    >>> g = torch.Generator().manual_seed(0)
    >>> model = make_vgg("cifar", in_channels=1, generator=g)
    >>> x = torch.rand(8, 1, 32, 32, generator=g)
    >>> p = sensitivity_profile(model, x, x.roll(1, dims=3), generator=g)
    >>> p.normalized_cosine.shape, bool(p.normalized_cosine[0] > 0)
    (torch.Size([13]), True)
    """
    choice("degenerate", degenerate, ("raise", "nan"))
    check_tensor("images", images, "N C H W", finite=True)
    if images.shape[0] < 2:
        raise ValueError(f"images must hold N >= 2 images (the normaliser compares pairs), got shape "
                         f"{tuple(images.shape)}")
    _check_pair(images, deformed, "deformed")
    check_finite("deformed", deformed)
    _check_model_input(model, images)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    if isinstance(noise, torch.Tensor):
        _check_pair(images, noise, "noise")
        check_finite("noise", noise)
    elif not isinstance(noise, bool):
        raise TypeError(f"noise must be a bool or a tensor of noisy images, got {type(noise).__name__}")
    layers = probe.resolve_layers(model, layers)
    parameter = next(model.parameters(), None)
    if parameter is not None and parameter.device != images.device:
        raise ValueError(f"model is on {parameter.device} but images are on {images.device}; move one of them")
    if isinstance(noise, torch.Tensor):
        noisy = noise
    else:
        noisy = noise_matched(images, deformed, generator=generator) if noise else None

    n = images.shape[0]
    inputs = [images, deformed] + ([noisy] if noisy is not None else [])
    clean: list[torch.Tensor | None] = [None] * len(layers)
    paired = {key: torch.empty(len(layers), n, dtype=torch.float64) for key in ("cd", "ed", "cn", "en")}
    with probe.eval_mode(model):
        for rows, index, reps in probe.paired_batches(model, inputs, layers, batch_size=batch_size):
            c = reps[0]
            if clean[index] is None:
                clean[index] = torch.empty(n, c.shape[1], dtype=c.dtype, device=c.device)
            clean[index][rows] = c
            paired["cd"][index, rows], paired["ed"][index, rows] = (t.cpu() for t in _paired(c, reps[1]))
            if noisy is not None:
                paired["cn"][index, rows], paired["en"][index, rows] = (t.cpu() for t in _paired(c, reps[2]))
        medians = torch.empty(2, len(layers), dtype=torch.float64)
        for index in range(len(layers)):
            cosine, euclidean = _pairwise(clean[index].to(torch.float64))
            medians[0, index], medians[1, index] = _upper_median(cosine).cpu(), _upper_median(euclidean).cpu()
            clean[index] = None
    if degenerate == "raise":
        _check_normaliser(layers, medians)
    else:
        medians[~(medians > NORMALISER_FLOOR)] = float("nan")
    return SensitivityProfile(
        layers=list(layers),
        cosine_deformed=paired["cd"],
        euclidean_deformed=paired["ed"],
        cosine_median=medians[0],
        euclidean_median=medians[1],
        cosine_noise=paired["cn"] if noisy is not None else None,
        euclidean_noise=paired["en"] if noisy is not None else None,
    )


def normalized_cosine_distance(
    model: nn.Module,
    images: torch.Tensor,
    deformed: torch.Tensor,
    layers: Sequence[LayerKey] | None = None,
    *,
    batch_size: int = 128,
) -> list[float]:
    """The paper's normalized cosine distance per layer (no noise control); see :func:`sensitivity_profile`."""
    profile = sensitivity_profile(model, images, deformed, layers=layers, noise=False, batch_size=batch_size)
    return profile.normalized_cosine.tolist()


def normalized_euclidean_distance(model, images, deformed, layers=None, *, batch_size: int = 128) -> list[float]:
    """The Euclidean variant per layer, arguments as :func:`normalized_cosine_distance`."""
    profile = sensitivity_profile(model, images, deformed, layers=layers, noise=False, batch_size=batch_size)
    return profile.normalized_euclidean.tolist()


def relative_change(
    model: nn.Module,
    images: torch.Tensor,
    deformed: torch.Tensor,
    *,
    layers: Sequence[LayerKey] | None = None,
    batch_size: int = 128,
) -> torch.Tensor:
    """``‖r(τx) − r(x)‖ / ‖r(x)‖`` per layer and image: the left side of the Bietti–Mairal bound, made scale-free.

    The bound ``‖Φ(L_τ x) − Φ(x)‖ ≤ (C1 (1 + n) ‖∇τ‖∞ + C2 ‖τ‖∞ / σ_n) ‖x‖`` concerns a representation whose scale
    follows the input's; a CNN's layers have arbitrary scales, so the change is measured relative to ``‖r(x)‖``.
    Eval mode, ``no_grad``; the model's train/eval flags are restored.

    Args:
        model: a :class:`~defstab_lib.models.VGG` or any ``nn.Module``, on the images' device.
        images, deformed: ``(N, C, H, W)``, same shape, device and dtype.
        layers: layer keys (:mod:`defstab_lib.probe`); ``None`` for every layer.
        batch_size: images per forward pass.

    Returns:
        float64 ``(L, N)`` on the CPU (0 where ``r(x) = 0`` and ``r(τx) = r(x)``; ``inf`` where only ``r(x) = 0``).

    >>> from defstab_lib.models import make_vgg
    >>> model = make_vgg("cifar", in_channels=1, generator=torch.Generator().manual_seed(0))
    >>> x = torch.rand(4, 1, 32, 32, generator=torch.Generator().manual_seed(1))
    >>> change = relative_change(model, x, x)
    >>> change.shape, float(change.abs().max())
    (torch.Size([13, 4]), 0.0)
    """
    check_tensor("images", images, "N C H W")
    _check_pair(images, deformed, "deformed")
    layers = probe.resolve_layers(model, layers)
    diff, norm = _changes(model, images, deformed, layers, batch_size)
    return torch.where(diff == 0, torch.zeros_like(diff), diff / norm)


def _changes(model: nn.Module, images: torch.Tensor, deformed: torch.Tensor, layers: list[LayerKey],
             batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(‖r(τx) − r(x)‖, ‖r(x)‖)``, each float64 ``(L, N)`` on the CPU."""
    n = images.shape[0]
    diff = torch.empty(len(layers), n, dtype=torch.float64)
    norm = torch.empty_like(diff)
    with probe.eval_mode(model):
        for rows, index, (clean, moved) in probe.paired_batches(model, [images, deformed], layers,
                                                                 batch_size=batch_size):
            clean, moved = clean.to(torch.float64), moved.to(torch.float64)
            diff[index, rows] = (moved - clean).norm(dim=1).cpu()
            norm[index, rows] = clean.norm(dim=1).cpu()
    return diff, norm


def change_sweep(model: nn.Module, images: torch.Tensor, moved: Sequence[torch.Tensor],
                 layers: Sequence[LayerKey] | None = None, *, batch_size: int = 128) -> dict[str, list]:
    """Representation changes for a sweep of deformations (the left side of the Bietti–Mairal bound):
    ``"change"`` ``‖r(τx) − r(x)‖ / ‖r(x)‖`` (:func:`relative_change`) and ``"change_over_input"``
    ``‖r(τx) − r(x)‖ / ‖x‖`` (the bound's own normalisation), each ``(S, L, N)`` nested lists (float64).

    Args:
        model: any ``nn.Module`` (eval mode is set and restored), on the images' device.
        images: ``(N, C, H, W)`` clean images.
        moved: ``S`` tensors ``(N, C, H, W)``: the images deformed at each strength.
        layers: layer keys (:mod:`defstab_lib.probe`); ``None`` for every layer.
        batch_size: images per forward pass.

    A zero representation that stays zero has change 0; a zero ``r(x)`` with a non-zero ``r(τx)`` gives inf.

    >>> from defstab_lib.models import make_vgg
    >>> net = make_vgg("cifar", in_channels=1, generator=torch.Generator().manual_seed(0))
    >>> x = torch.rand(2, 1, 32, 32, generator=torch.Generator().manual_seed(1))
    >>> out = change_sweep(net, x, [x, x.flip(3)], [0, 12])
    >>> len(out["change"]), len(out["change"][0]), out["change"][0][1]
    (2, 2, [0.0, 0.0])
    """
    check_tensor("images", images, "N C H W")
    layers = probe.resolve_layers(model, layers)
    input_norm = images.flatten(1).to(torch.float64).norm(dim=1).cpu()
    out: dict[str, list] = {"change": [], "change_over_input": []}
    for deformed in moved:
        _check_pair(images, deformed, "every moved tensor")
        diff, norm = _changes(model, images, deformed, layers, batch_size)
        zero = diff == 0
        out["change"].append(torch.where(zero, 0.0, diff / norm).tolist())
        out["change_over_input"].append(torch.where(zero, 0.0, diff / input_norm).tolist())
    return out


def _check_weight(weight: torch.Tensor) -> torch.Tensor:
    if isinstance(weight, nn.Parameter):
        weight = weight.detach()
    if not isinstance(weight, torch.Tensor):
        raise TypeError(f"weight must be a torch.Tensor (out, in, kh, kw), got {type(weight).__name__}")
    if weight.dim() != 4:
        raise ValueError(f"weight must be a conv weight (out, in, kh, kw), got shape {tuple(weight.shape)}")
    return weight.detach().to(torch.float64)


def total_variation(weight: torch.Tensor) -> float:
    """``TV(W)``: the L1 norm of the differences between 4-neighbours over the two spatial dimensions.

    ``sum_{i,j} |W[..., i+1, j] - W[..., i, j]| + |W[..., i, j+1] - W[..., i, j]|``, summed over input and
    output channels (paper section 4.1); only differences inside the filter, no padding (12 per 3×3 filter).

    Args:
        weight: ``(out, in, kh, kw)``, PyTorch's layout (the paper writes it ``(h, w, in, out)``).

    >>> total_variation(torch.tensor([[[[0.0, 1.0], [0.0, 1.0]]]]))
    2.0
    """
    w = _check_weight(weight)
    return float((w[..., 1:, :] - w[..., :-1, :]).abs().sum() + (w[..., :, 1:] - w[..., :, :-1]).abs().sum())


def filter_smoothness(weight: torch.Tensor) -> float:
    """The normalized total variation ``TV(W) / |W|_1`` of a conv weight (the paper's lack-of-smoothness measure).

    0 for filters constant over space; for i.i.d. draws from the paper's initialisation (a normal truncated at
    ±2 standard deviations) it tends to 1.857 for large 3×3 layers (1.886 without truncation), whatever the
    scale and the layer's size; the paper's footnote 1 reports "approximately 1.87".

    Args:
        weight: ``(out, in, kh, kw)``, not all zero.

    >>> filter_smoothness(torch.ones(4, 2, 3, 3))
    0.0
    """
    w = _check_weight(weight)
    l1 = float(w.abs().sum())
    if l1 == 0:
        raise ValueError("weight is all zero; its normalized total variation is undefined")
    return total_variation(w) / l1


def smoothness_profile(model: nn.Module) -> list[float]:
    """:func:`filter_smoothness` of each conv layer, in order.

    For a :class:`~defstab_lib.models.VGG`: the 3×3 convolutions of the conv blocks (8 for the CIFAR network),
    not the 2×2 strided downsampling convolutions, so that every architecture has the same x axis.  For any
    other model: every ``nn.Conv2d`` whose kernel has more than one tap (a 1×1 kernel has no total variation),
    in module order.

    >>> from defstab_lib.models import make_vgg
    >>> len(smoothness_profile(make_vgg("cifar", "strided", generator=torch.Generator().manual_seed(0))))
    8
    """
    if isinstance(model, VGG):
        convs = model.conv_layers()
    else:
        convs = [m for m in model.modules() if isinstance(m, nn.Conv2d) and m.weight[0, 0].numel() > 1]
    if not convs:
        raise ValueError(f"{type(model).__name__} has no convolution with a spatial kernel to measure")
    return [filter_smoothness(conv.weight) for conv in convs]
