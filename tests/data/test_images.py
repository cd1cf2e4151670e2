"""Image datasets (``defstab_lib/data/images.py``): padding to size."""

from __future__ import annotations


import pytest
import torch

from defstab_lib.data import pad_to_size


def test_pad_to_size():
    x = torch.rand(2, 1, 28, 28, dtype=torch.float64)
    y = pad_to_size(x, 32)
    assert y.shape == (2, 1, 32, 32) and y.dtype == torch.float64
    assert torch.equal(y[..., 2:30, 2:30], x) and y[..., :2, :].abs().sum() == 0
    with pytest.raises(ValueError, match="only pads"):
        pad_to_size(x, 16)
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        pad_to_size(x[0], 32)
