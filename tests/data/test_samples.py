"""Sample images (``defstab_lib/data/samples.py``): the real offline samples, and a bad source refused."""

from __future__ import annotations


import pytest
import torch

from defstab_lib.data import sample_images


@pytest.mark.parametrize(
    "source, shape",
    [("imagenet", (20, 3, 224, 224)), ("cifar10", (20, 3, 32, 32)), ("cifar100", (20, 3, 32, 32)),
     ("mnist", (20, 1, 28, 28)), ("fashion-mnist", (20, 1, 28, 28)), ("photos", (4, 3, 224, 224))],
)
def test_real_sample_images(source, shape):
    ds = sample_images(source)
    assert tuple(ds.images.shape) == shape
    assert ds.split == "samples" and ds.source
    # real photographs and scans, not constant or random fields: neighbouring pixels are strongly correlated
    x = ds.float_images()
    assert x.std() > 0.1
    horizontal = torch.corrcoef(torch.stack([x[..., :-1].flatten(), x[..., 1:].flatten()]))[0, 1]
    assert horizontal > 0.5
    assert all(0 <= int(y) < len(ds.classes) for y in ds.labels)


def test_sample_images_bad_source():
    with pytest.raises(ValueError, match="unknown sample source 'svhn'; allowed: 'imagenet'"):
        sample_images("svhn")
