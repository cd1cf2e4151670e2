"""End-to-end training of a kernel network (``defstab_lib/kernels/training.py``)."""

from __future__ import annotations

import math

import numpy as np
import torch

from defstab_lib import kernels as K


def test_end_to_end_training_lowers_the_loss_and_keeps_anchors_on_the_sphere(fashion):
    x, y = fashion[0][:256], fashion[1][:256]
    g = torch.Generator().manual_seed(0)
    net = K.fit_anchors(K.CKN(1, (16,), subsamplings=4), x, n_patches=2000, generator=g)
    head = K.linear_head(net, (1, 28, 28), 10)
    start = net.layers[0].anchors.clone()
    losses = K.train_end_to_end(net, head, x, y, steps=40, generator=g, lr=0.02, batch_size=64)
    assert len(losses) == 40 and all(math.isfinite(v) for v in losses)
    assert np.mean(losses[-8:]) < 0.7 * np.mean(losses[:4]), losses
    anchors = net.layers[0].anchors
    assert torch.allclose(anchors.norm(dim=1), torch.ones(16), atol=1e-6)
    assert (anchors - start).norm() > 1e-2 and not anchors.requires_grad
