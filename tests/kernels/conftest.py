"""The fixtures of the kernel tests: real Fashion-MNIST images and their patches, read once per test module."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import torch

from defstab_lib import kernels as K


FASHION = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture(scope="module")
def fashion():
    """The first 512 Fashion-MNIST training images (float in [0, 1], (512, 1, 28, 28)) and labels, read from
    Debian's dataset-fashion-mnist (defstab_lib.data is not on this branch yet)."""
    with gzip.open(FASHION / "train-images-idx3-ubyte.gz") as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)[:512]
    with gzip.open(FASHION / "train-labels-idx1-ubyte.gz") as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)[:512]
    return torch.from_numpy(x.astype(np.float32) / 255), torch.from_numpy(y.astype(np.int64))


@pytest.fixture(scope="module")
def patches(fashion):
    """6000 real 3x3 patches (float64) of Fashion-MNIST with norm > 1e-3."""
    return K.sample_patches(fashion[0].double(), 3, 6000, generator=torch.Generator().manual_seed(0))
