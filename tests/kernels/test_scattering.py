"""The scattering baseline (``defstab_lib/kernels/scattering.py``): shapes, orders, dtypes, its stability to
translation, and what a missing kymatio says."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from defstab_lib import kernels as K

from tests.helpers import relative_change


@pytest.fixture(scope="module")
def photo():
    """scikit-image's astronaut photograph (RGB), reduced to 64x64 by 8x8 averaging, (1, 3, 64, 64) in [0, 1]."""
    import skimage.data

    img = torch.from_numpy(skimage.data.astronaut().astype(np.float32) / 255).permute(2, 0, 1)[None]
    return torch.nn.functional.avg_pool2d(img, 8)


def test_scattering_shapes_orders_channels_dtype_and_cpu(photo):
    s = K.Scattering((64, 64), J=3, L=8)
    feats = s.forward_features(photo)
    assert s.order_sizes() == [1, 24, 192]
    assert [tuple(f.shape) for f in feats] == [(1, 3, 64, 64), (1, 3, 8, 8), (1, 72, 8, 8), (1, 576, 8, 8)]
    assert torch.equal(torch.cat([f.reshape(1, 3, -1, 8, 8) for f in feats[1:]], dim=2).flatten(1, 2), s(photo))
    assert feats[1].device.type == "cpu"
    green = s(photo[:, 1:2])  # input channel c gives the output block c
    both = s(photo.double())
    assert both.dtype == torch.float64 and torch.allclose(both[:, 217:434].float(), green, atol=1e-5)


def test_scattering_is_far_more_stable_to_translation_than_the_identity(fashion):
    x = fashion[0][:16]  # black background: torch.roll is a true translation
    moved = torch.roll(x, 1, dims=3)
    identity = relative_change(moved, x)
    coarse = relative_change(K.Scattering((28, 28), J=3)(moved), K.Scattering((28, 28), J=3)(x))
    fine = relative_change(K.Scattering((28, 28), J=2)(moved), K.Scattering((28, 28), J=2)(x))
    assert coarse < 0.3 * identity, (coarse, identity)
    assert coarse < 0.8 * fine, (coarse, fine)  # averaging over 2^J pixels: the coarser, the more stable


def test_scattering_explains_a_missing_kymatio(monkeypatch):
    monkeypatch.setitem(sys.modules, "kymatio.scattering2d.frontend.torch_frontend", None)
    with pytest.raises(ImportError, match="defstab-lib\\[kernels\\]"):
        K.Scattering((16, 16), J=2)
