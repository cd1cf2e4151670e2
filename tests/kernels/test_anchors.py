"""Anchors of a kernel network (``defstab_lib/kernels/anchors.py``): real patches drawn deterministically,
spherical k-means."""

from __future__ import annotations


import pytest
import torch

from defstab_lib import kernels as K


def test_sample_patches_draws_real_nonzero_patches_deterministically(fashion):
    x = fashion[0][:16]
    a = K.sample_patches(x, 3, 500, generator=torch.Generator().manual_seed(5), min_norm=0.1)
    b = K.sample_patches(x, 3, 500, generator=torch.Generator().manual_seed(5), min_norm=0.1)
    c = K.sample_patches(x, 3, 500, generator=torch.Generator().manual_seed(6), min_norm=0.1)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert (a.norm(dim=1) > 0.1).all()
    every = K.extract_patches(x, 3).reshape(-1, 9)
    exact = torch.cdist(a, every, compute_mode="donot_use_mm_for_euclid_dist")
    assert exact.min(dim=1).values.max() == 0  # each one is a patch of the images
    with pytest.raises(ValueError, match="n_patches"):
        K.sample_patches(x, 3, 10**6, generator=torch.Generator().manual_seed(0))


def test_spherical_kmeans_finds_clusters_and_is_seeded(patches):
    g = torch.Generator().manual_seed(0)
    centres = K.normalize_rows(torch.randn(4, 9, generator=g, dtype=torch.float64))
    pts = (centres.repeat(50, 1) + 0.05 * torch.randn(200, 9, generator=g, dtype=torch.float64))
    found = K.spherical_kmeans(pts, 4, generator=torch.Generator().manual_seed(1))
    assert (found @ centres.T).max(dim=0).values.min() > 0.99
    a = K.spherical_kmeans(patches[:2000], 16, generator=torch.Generator().manual_seed(7))
    b = K.spherical_kmeans(patches[:2000], 16, generator=torch.Generator().manual_seed(7))
    c = K.spherical_kmeans(patches[:2000], 16, generator=torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.allclose(a.norm(dim=1), torch.ones(16, dtype=torch.float64))


def test_spherical_kmeans_refills_empty_clusters():
    pts = torch.tensor([[1.0, 0.0]] * 5 + [[0.0, 1.0]] * 5 + [[0.6, 0.8]])
    found = K.spherical_kmeans(pts, 3, generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(found).all() and torch.allclose(found.norm(dim=1), torch.ones(3))
    assert torch.unique(found.round(decimals=4), dim=0).shape[0] == 3
