"""Devices and provenance (``defstab_lib/provenance.py``): device names are checked, and CUDA without a GPU
is refused before anything loads."""

from __future__ import annotations


import pytest
import torch

from defstab_lib import provenance
from defstab_lib.runs import ResultsStore, run_or_load

from tests.helpers import tiny


@pytest.mark.parametrize("device, message", [
    ("tpu", "not allowed"), ("cuda:abc", "not a valid device name"), ("gpu", "not allowed"),
])
def test_device_names_are_checked(device, message):
    with pytest.raises(ValueError, match=message):
        provenance.resolve_device(device)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without a GPU")
def test_cuda_without_a_gpu_is_refused_before_anything_loads(tmp_path):
    with pytest.raises(ValueError, match="no CUDA GPU"):
        provenance.resolve_device("cuda")
    with pytest.raises(ValueError, match="no CUDA GPU"):
        run_or_load(tiny(epochs=1), store=ResultsStore(tmp_path), progress=False, device="cuda")
    assert not any(tmp_path.rglob("*.lock")), "nothing was started, not even a lock"
