"""Sensitivity of every layer to deformation, measured in one sweep: the paper's normalized distances, the
noise-matched control of Petrini et al. and their ratio (relative stability); :func:`sensitivity_profile` is the
main entry point of :mod:`defstab_lib.metrics`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import torch
from torch import nn

from .. import probe
from .._random import check_generator
from ..checks import check_finite, check_tensor, choice
from ..models import VGG
from ..probe import LayerKey
from .distances import METRICS, _paired, _pairwise, _upper_median


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


def normalized_cosine_distance(model: nn.Module, images: torch.Tensor, deformed: torch.Tensor,
                               layers: Sequence[LayerKey] | None = None, *, batch_size: int = 128) -> list[float]:
    """The paper's normalized cosine distance per layer (no noise control); see :func:`sensitivity_profile`."""
    profile = sensitivity_profile(model, images, deformed, layers=layers, noise=False, batch_size=batch_size)
    return profile.normalized_cosine.tolist()


def normalized_euclidean_distance(model: nn.Module, images: torch.Tensor, deformed: torch.Tensor,
                                  layers: Sequence[LayerKey] | None = None, *, batch_size: int = 128) -> list[float]:
    """The Euclidean variant per layer, arguments as :func:`normalized_cosine_distance`."""
    profile = sensitivity_profile(model, images, deformed, layers=layers, noise=False, batch_size=batch_size)
    return profile.normalized_euclidean.tolist()
