"""Feature taps (``defstab_lib/kernels/taps.py``): a kernel network's forward features exposed to the probe."""

from __future__ import annotations


import pytest
import torch

from defstab_lib.kernels import FeatureTaps, Scattering

from tests.helpers import small_ckn


def test_feature_taps_expose_forward_features_to_the_probe():
    net = small_ckn()
    taps = FeatureTaps(net, 2)
    x = torch.rand(3, 1, 16, 16, generator=torch.Generator().manual_seed(2))
    from defstab_lib.probe import representations

    reps = representations(taps, x, taps.layer_keys())
    for got, want in zip(reps, net.forward_features(x)):
        torch.testing.assert_close(got, want)
    with pytest.raises(TypeError, match="forward_features"):
        FeatureTaps(torch.nn.Conv2d(1, 1, 3), 1)


def test_scattering_taps_concatenate_all_orders():
    s = Scattering((16, 16), J=2, L=4)
    taps = FeatureTaps(s, 3, concat=True)
    x = torch.rand(2, 1, 16, 16, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(taps(x), s(x).flatten(1))
