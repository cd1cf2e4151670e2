"""Representation changes (``defstab_lib/metrics/changes.py``): relative changes and change sweeps, also of a
CKN."""

from __future__ import annotations


import numpy as np
import pytest
import torch

from defstab_lib import metrics
from defstab_lib.kernels import FeatureTaps
from defstab_lib.models import make_vgg

from tests.helpers import distance_condition, float32_forward_rtol, small_ckn


def test_change_sweep_agrees_with_the_runs_relative_change():
    model = make_vgg("cifar", in_channels=1, width=0.125, generator=torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(3)
    x = torch.rand(4, 1, 32, 32, generator=g)
    moved = [x.roll(1, dims=3), x.roll(2, dims=2)]
    out = metrics.change_sweep(model, x, moved, list(range(13)))
    for s, deformed in enumerate(moved):
        expected = metrics.relative_change(model, x, deformed)
        np.testing.assert_allclose(out["change"][s], expected.numpy(), rtol=1e-6)  # the same batches, same kernels
    np.testing.assert_allclose(out["change"][0][0], out["change_over_input"][0][0])  # layer 0: the input itself


def test_change_sweep_of_a_ckn_is_zero_for_no_deformation_and_homogeneous():
    taps = FeatureTaps(small_ckn(), 2)
    x = torch.rand(3, 1, 16, 16, generator=torch.Generator().manual_seed(4))
    moved = x.roll(1, dims=3)
    same = metrics.change_sweep(taps, x, [x], taps.layer_keys())
    assert np.abs(same["change"]).max() == 0.0
    once = metrics.change_sweep(taps, x, [moved], taps.layer_keys())
    twice = metrics.change_sweep(taps, 2 * x, [2 * moved], taps.layer_keys())  # the CKN is 1-homogeneous
    np.testing.assert_allclose(once["change_over_input"], twice["change_over_input"], rtol=1e-4)
    with pytest.raises(ValueError, match="shape"):
        metrics.change_sweep(taps, x, [x[:2]], taps.layer_keys())


def test_relative_change_matches_a_direct_computation_and_is_scale_free():
    from defstab_lib.metrics import relative_change
    from defstab_lib.models import make_vgg
    from defstab_lib.probe import representations

    g = torch.Generator().manual_seed(0)
    model = make_vgg("cifar", in_channels=1, width=0.25, generator=g)
    x = torch.rand(5, 1, 32, 32, generator=g)
    y = x.roll(1, dims=3)
    change = relative_change(model, x, y, batch_size=2)
    model.eval()
    with torch.no_grad():
        for layer, (rx, ry) in enumerate(zip(representations(model, x), representations(model, y))):
            rx, ry = rx.flatten(1).double(), ry.flatten(1).double()
            expected = (ry - rx).norm(dim=1) / rx.norm(dim=1)
            # batches of 2 against one of 5: two float32 paths; |r(y) - r(x)| / |r(x)| amplifies their relative
            # error by (|r(x)| + |r(y)|) / |r(y) - r(x)|, and the denominator adds one more (tests/helpers.py)
            rtol = float32_forward_rtol(model) * (distance_condition(rx, ry, "euclidean") + 1)
            assert torch.allclose(change[layer], expected, rtol=rtol, atol=0), layer
    assert torch.allclose(relative_change(model, 3 * x, 3 * y)[0], change[0])
    with pytest.raises(ValueError, match="deformed must have the shape"):
        relative_change(model, x, y[:2])
