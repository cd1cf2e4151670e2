"""The kernel functions (``defstab_lib/kernels/functional.py``): the exponential kernel on the sphere, Nystrom
features, the inverse square root, Gaussian pooling."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import torch

from defstab_lib import kernels as K


def test_exp_kernel_is_a_gaussian_kernel_on_the_sphere(patches):
    u, v = K.normalize_rows(patches[:50]), K.normalize_rows(patches[50:100])
    expected = torch.exp(-2.0 * torch.cdist(u, v) ** 2 / 2)
    assert torch.allclose(K.exp_kernel(u @ v.T, alpha=2.0), expected, atol=1e-12)


def test_nystrom_features_reproduce_the_kernel_between_the_anchor_patches(patches):
    x = patches[:40]
    psi = K.nystrom_features(x, K.normalize_rows(x), alpha=4.0, ridge=0.0)
    exact = K.homogeneous_kernel(x, x, alpha=4.0)
    assert torch.allclose(psi @ psi.T, exact, rtol=1e-8, atol=1e-10)
    # a singular kappa(Z Z^T) (a repeated anchor) with no ridge: the pseudo-inverse keeps the identity exact
    twice = torch.cat([x[:10], x[:10]])
    psi = K.nystrom_features(twice, K.normalize_rows(twice), alpha=4.0, ridge=0.0)
    assert torch.allclose(psi @ psi.T, K.homogeneous_kernel(twice, twice, 4.0), rtol=1e-8, atol=1e-10)
    # ... and a patch off the anchors is only approximated (the test above could fail)
    y = patches[40:41]
    assert abs(float(K.nystrom_features(y, K.normalize_rows(x), 4.0, 0.0).pow(2).sum())
               - float(K.homogeneous_kernel(y, y, 4.0))) > 1e-6


def test_kernel_approximation_error_falls_as_anchors_are_added(patches):
    train, test = patches[:4000], patches[4000:5000]
    # nested anchor sets: the Nystrom projection is onto a growing subspace, so the error cannot grow
    perm = torch.randperm(4000, generator=torch.Generator().manual_seed(1))
    nested = [K.kernel_approximation_error(test, K.normalize_rows(train[perm[:p]]), 4.0, ridge=1e-9)
              for p in (4, 8, 16, 32, 64, 128)]
    assert all(b < a for a, b in zip(nested, nested[1:])), nested
    # spherical k-means anchors, as a CKN learns them
    kmeans = [K.kernel_approximation_error(test, K.spherical_kmeans(train, p, generator=torch.Generator().manual_seed(2)),
                                           4.0, ridge=1e-3) for p in (8, 32, 128)]
    assert kmeans[0] > kmeans[1] > kmeans[2], kmeans
    assert kmeans[2] < 0.2 * kmeans[0], kmeans
    assert kmeans[1] < nested[3], (kmeans, nested)  # k-means beats as many random patches


def test_inverse_sqrt_matches_scipy_and_has_a_finite_gradient_at_repeated_eigenvalues():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(7, 7, generator=g, dtype=torch.float64)
    a = a @ a.T + 0.1 * torch.eye(7, dtype=torch.float64)
    expected = np.linalg.inv(scipy.linalg.sqrtm(a.numpy()).real)
    assert np.allclose(K.inverse_sqrt_psd(a, ridge=0.0).numpy(), expected, atol=1e-10)
    assert torch.autograd.gradcheck(lambda m: K.inverse_sqrt_psd(m, 0.0), (a.clone().requires_grad_(),))
    eye = torch.eye(5, dtype=torch.float64, requires_grad=True)  # all eigenvalues equal: eigh's own backward fails
    K.inverse_sqrt_psd(eye, 1e-3).sum().backward()
    assert torch.allclose(eye.grad, torch.full((5, 5), -0.5 * (1 + 1e-3) ** -1.5, dtype=torch.float64))


def test_inverse_sqrt_clamps_a_rounding_negative_spectrum_and_keeps_the_dtype():
    v = torch.tensor([[1.0, 1.0], [1.0, 1.0]]) / math.sqrt(2)  # rank one, second eigenvalue ~0 or slightly < 0
    out = K.inverse_sqrt_psd(v @ v.T, ridge=1e-4)
    assert out.dtype == torch.float32 and torch.isfinite(out).all()
    assert out.abs().max() <= 1e2 + 1e-3  # bounded by ridge^(-1/2)


def test_gaussian_pool_shapes_constants_and_default_scale():
    x = torch.ones(2, 3, 17, 16, dtype=torch.float64)
    out = K.gaussian_pool(x, sigma=1.5, subsampling=3)
    assert out.shape == (2, 3, 6, 6) and out.dtype == torch.float64
    assert torch.allclose(out[:, :, 2:4, 2:4], torch.ones(1, dtype=torch.float64))  # unit sum away from borders
    assert K.CKNLayer(1, 2, subsampling=4).pool_sigma == pytest.approx(4 / math.sqrt(2))
    assert K.CKNLayer(1, 2, subsampling=1).pool_sigma == 0.0
    assert K.CKNLayer(1, 2, subsampling=1, pool_sigma=2.0).pool_sigma == 2.0
    w = K.gaussian_window(2.0)
    assert w.numel() == 13 and float(w.sum()) == pytest.approx(1.0)
