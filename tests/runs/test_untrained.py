"""Untrained networks (``defstab_lib/runs/untrained.py``): random networks are independent draws, paired
within a draw, stored rounded; bad arguments are refused."""

from __future__ import annotations

import numpy as np
import pytest

from defstab_lib import runs

from tests.helpers import LAYERS


def test_random_networks_are_independent_draws_paired_within_and_stored_rounded(tmp_path):
    store = runs.ResultsStore(tmp_path)
    nets = runs.pooling_init(downsampling=["subsample", "maxpool"], draws=2, n_images=8, width=0.125, store=store,
                             device="cpu")
    assert nets.cosine.shape == (2, 2, LAYERS) and nets.smoothness.shape == (2, 2, 8)
    assert np.allclose(nets.smoothness[0], nets.smoothness[1])  # the same conv weights in both variants of a draw
    assert not np.allclose(nets.smoothness[0, 0], nets.smoothness[0, 1])  # and different weights between draws
    # numerator / denominator, each of the three stored to 4 significant digits (off by at most h relative)
    h = 0.5 * 10.0 ** (1 - 4)
    assert np.allclose(nets.cosine, nets.distance / nets.median, rtol=(1 + h) ** 2 / (1 - h) - 1, atol=0)
    assert all(len(f"{x:.10g}".replace("-", "").replace(".", "").lstrip("0")) <= 4 for x in nets.cosine.ravel())
    smooth = runs.smooth_init(sigmas=[0.0, 2.0], seeds=2, n_images=8, width=0.125, store=store, device="cpu")
    assert smooth.sigmas == [0.0, 2.0] and (smooth.smoothness[1] < smooth.smoothness[0]).all()
    with pytest.raises(LookupError, match="not in the results store"):
        runs.smooth_init(sigmas=[0.0, 1.0], seeds=2, n_images=8, width=0.125, store=store, stored_only=True)
    with pytest.raises(ValueError, match="downsampling"):
        runs.pooling_init(downsampling=["maxpool", "maxpool"], store=store)
    with pytest.raises(TypeError, match="draws"):
        runs.pooling_init(draws=2.0, store=store)
