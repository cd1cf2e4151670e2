"""End-to-end (supervised) training of a CKN's anchors with a head on top (Mairal 2016, section 4).

The anchors stay on the sphere in two ways at once: the layers only ever use their direction ``z / ||z||``
(so the loss is a function of directions and any parameter value is valid), and after every optimiser step
:func:`project_anchors_` re-normalises the stored values, so that their norm -- which would otherwise grow and
shrink the effective step size of a direction -- stays 1.  The Nystrom matrix's gradient goes through
:func:`~defstab_lib.kernels.functional.inverse_sqrt_psd`, whose backward stays finite for repeated
eigenvalues.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .. import checks
from .ckn import CKN
from .functional import normalize_rows

__all__ = ["project_anchors_", "linear_head", "train_end_to_end"]


@torch.no_grad()
def project_anchors_(net: CKN) -> None:
    """Re-normalise every layer's stored anchors to unit norm, in place."""
    for layer in net.layers:
        layer.anchors.copy_(normalize_rows(layer.anchors))


def linear_head(net: CKN, image_shape: tuple[int, int, int], n_classes: int) -> nn.Linear:
    """A linear classifier on the flattened output of ``net`` for images of shape ``(C, H, W)``.

    >>> linear_head(CKN(1, (8,), subsamplings=2), (1, 28, 28), 10)
    Linear(in_features=1568, out_features=10, bias=True)
    """
    n_classes = checks.positive_int("n_classes", n_classes)
    param = net.layers[0].anchors
    with torch.no_grad():
        dim = net(torch.zeros(1, *image_shape, dtype=param.dtype, device=param.device)).numel()
    return nn.Linear(dim, n_classes).to(device=param.device, dtype=param.dtype)


def train_end_to_end(net: CKN, head: nn.Module, images: torch.Tensor, labels: torch.Tensor, *, steps: int,
                     generator: torch.Generator, lr: float = 0.01, batch_size: int = 64) -> list[float]:
    """Train the anchors of ``net`` and the parameters of ``head`` with Adam on the cross-entropy of
    ``head(net(x).flatten(1))``, projecting the anchors back on the sphere after each step.

    Gradients to the anchors are switched on for the training and off again afterwards (so that evaluation uses
    the cached Nystrom matrices).

    Args:
        net: the CKN, e.g. initialised with :func:`~defstab_lib.kernels.ckn.fit_anchors`.
        head: maps the flattened CKN output ``(B, D)`` to logits ``(B, n_classes)``, e.g. :func:`linear_head`.
        images: ``(N, C, H, W)`` training images, on the training device.
        labels: ``(N,)`` int64 class indices, same device.
        steps: optimiser steps, ``>= 1``.
        generator: draws the mini-batches (with replacement across steps, without within one).
        lr: Adam's learning rate, ``> 0``.
        batch_size: images per step, ``>= 1`` (at most ``N``).

    Returns:
        the training loss of every step (before that step's update).
    """
    checks.check_tensor("images", images, "N C H W")
    if not isinstance(labels, torch.Tensor) or labels.shape != images.shape[:1] or labels.dtype != torch.int64:
        raise ValueError(f"labels must be an int64 tensor of shape ({images.shape[0]},) matching images, got "
                         f"{getattr(labels, 'dtype', type(labels).__name__)} {tuple(getattr(labels, 'shape', ()))}")
    steps = checks.positive_int("steps", steps)
    lr = checks.nonnegative_float("lr", lr, strict=True)
    batch_size = min(checks.positive_int("batch_size", batch_size), images.shape[0])
    net.requires_grad_anchors_(True)
    params = [layer.anchors for layer in net.layers] + [p for p in head.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=lr)
    losses = []
    try:
        for _ in range(steps):
            idx = torch.randperm(images.shape[0], generator=generator, device=generator.device)[:batch_size]
            idx = idx.to(images.device)
            logits = head(net(images[idx]).flatten(1))
            loss = F.cross_entropy(logits, labels[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            project_anchors_(net)
            losses.append(float(loss.detach()))
    finally:
        net.requires_grad_anchors_(False)
    return losses
