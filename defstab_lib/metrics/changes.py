"""Relative representation changes ``||r(tau x) - r(x)|| / ||r(x)||`` per layer and image: the left side of the
Bietti-Mairal bound, for one deformation or a sweep of deformation strengths."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .. import probe
from ..checks import check_tensor
from ..probe import LayerKey
from .sensitivity import _check_pair


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
