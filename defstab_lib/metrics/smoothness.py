"""Filter smoothness: the normalized total variation ``TV(W) / |W|_1`` of conv weights (paper section 4.1)."""

from __future__ import annotations

import torch
from torch import nn

from ..models import VGG


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
