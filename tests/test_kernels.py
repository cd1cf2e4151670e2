"""Tests of defstab_lib.kernels: convolutional kernel networks and the scattering baseline, on real images."""

from __future__ import annotations

import gzip
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
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


@pytest.fixture(scope="module")
def fitted(fashion):
    """A two-layer CKN (32, 64 anchors, subsampling 2 each) with k-means anchors."""
    return K.fit_anchors(K.CKN(1, (32, 64)), fashion[0][:256], n_patches=4000,
                         generator=torch.Generator().manual_seed(0))


def relative_change(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean over the batch of ||a - b|| / ||b||."""
    return float(((a - b).flatten(1).norm(dim=1) / b.flatten(1).norm(dim=1)).mean())


# --- the kernel and the Nystrom projection ------------------------------------------------------------------

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


def test_layer_equals_patchwise_nystrom_features(fashion):
    x = fashion[0][:3].double()
    layer = K.CKNLayer(1, 12, patch_size=3, subsampling=1, generator=torch.Generator().manual_seed(3)).double()
    out = layer(x)  # (3, 12, 28, 28), no pooling
    flat = K.extract_patches(x, 3).reshape(-1, 9)
    expected = K.nystrom_features(flat, layer.unit_anchors(), layer.alpha, layer.ridge)
    assert torch.allclose(out.permute(0, 2, 3, 1).reshape(-1, 12), expected, atol=1e-10)


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


# --- positive homogeneity -----------------------------------------------------------------------------------

@pytest.mark.parametrize("scale", [0.3, 2.5])
def test_outputs_scale_with_the_patch_norm(fashion, fitted, scale):
    x = fashion[0][:8]
    for a, b in zip(fitted.forward_features(scale * x), fitted.forward_features(x)):
        assert torch.allclose(a, scale * b, rtol=1e-4, atol=1e-5)
    # patch by patch: scaling one patch scales exactly its own kernel map, as ||x|| kappa(<z, x/||x||>) says
    flat = K.extract_patches(x[:1], 3)[0]
    z = fitted.layers[0].unit_anchors()
    one = K.kernel_map(flat[100].reshape(1, 1, 3, 3), z, 3, 4.0, padding="valid").flatten()
    scaled = K.kernel_map(scale * flat[100].reshape(1, 1, 3, 3), z, 3, 4.0, padding="valid").flatten()
    assert torch.allclose(scaled, scale * one, rtol=1e-5)
    assert torch.allclose(one, flat[100].norm() * K.exp_kernel(z @ flat[100] / flat[100].norm(), 4.0), rtol=1e-5)


def test_zero_patches_map_to_zero_with_finite_gradients():
    layer = K.CKNLayer(1, 4, generator=torch.Generator().manual_seed(0))
    x = torch.zeros(1, 1, 6, 6)
    x[0, 0, 2, 2] = 1.0  # patches away from this pixel are exactly zero
    x.requires_grad_(True)
    out = layer.kernel_map(x)
    assert out[0, :, 5, 5].abs().max() == 0
    out.sum().backward()
    assert torch.isfinite(x.grad).all()


# --- pooling and the network --------------------------------------------------------------------------------

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


def test_forward_features_numbering_and_before_pooling(fashion, fitted):
    x = fashion[0][:4]
    feats = fitted.forward_features(x)
    assert [tuple(f.shape) for f in feats] == [(4, 1, 28, 28), (4, 32, 14, 14), (4, 64, 7, 7)]
    assert feats[0] is x and torch.equal(feats[-1], fitted(x))
    pre = fitted.forward_features(x, before_pooling=True)
    assert [tuple(f.shape) for f in pre] == [(4, 1, 28, 28), (4, 32, 28, 28), (4, 64, 14, 14)]
    for layer, p, f in zip(fitted.layers, pre[1:], feats[1:]):  # pooling the pre-pooling map gives the output
        assert torch.allclose(layer.pool(p), f, atol=1e-5)
    assert fitted.pooling_scales() == pytest.approx([math.sqrt(2), 2 * math.sqrt(2)])


def test_wider_pooling_makes_the_ckn_less_sensitive_to_translation(fashion, fitted):
    x = fashion[0][:32]
    shifted = torch.roll(x, 2, dims=3)
    identity = relative_change(shifted, x)
    changes = []
    for sigma in (0.0, 1.0, 2.0, 4.0):
        net = K.CKN(1, (32, 64), subsamplings=(2, 1), pool_sigmas=(None, sigma))
        for new, old in zip(net.layers, fitted.layers):
            new.set_anchors(old.anchors)
        with torch.no_grad():
            changes.append(relative_change(net(shifted), net(x)))
    assert all(b < a for a, b in zip(changes, changes[1:])), changes
    assert changes[-1] < 0.3 * identity, (changes, identity)


def test_nystrom_matrix_is_cached_until_the_anchors_change():
    layer = K.CKNLayer(2, 6, generator=torch.Generator().manual_seed(0))
    first = layer.nystrom_matrix()
    assert layer.nystrom_matrix() is first
    with torch.no_grad():
        layer.anchors.data[0] = -layer.anchors.data[0]  # a write that bypasses autograd's version counter
    second = layer.nystrom_matrix()
    assert second is not first and not torch.allclose(second, first)
    layer.alpha = 1.0
    assert layer.nystrom_matrix() is not second
    assert layer.nystrom_matrix(torch.zeros(1, dtype=torch.float64)).dtype == torch.float64
    layer.anchors.requires_grad_(True)
    assert layer.nystrom_matrix().requires_grad  # recomputed with a graph while the anchors train


def test_dtype_and_device_follow_the_input(fashion, fitted):
    x = fashion[0][:2]
    out64 = fitted(x.double())
    assert out64.dtype == torch.float64 and out64.device == x.device
    assert torch.allclose(out64.float(), fitted(x), rtol=1e-4, atol=1e-5)  # float32 agrees with float64
    assert fitted.layers[0].anchors.dtype == torch.float32  # the module itself is not converted


# --- anchors without labels ---------------------------------------------------------------------------------

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


def test_fit_anchors_is_deterministic_for_a_seeded_generator(fashion):
    x = fashion[0][:64]
    nets = [K.fit_anchors(K.CKN(1, (8, 16)), x, n_patches=500, generator=torch.Generator().manual_seed(s))
            for s in (0, 0, 1)]
    assert torch.equal(nets[0](x), nets[1](x)) and not torch.equal(nets[0](x), nets[2](x))


# --- end-to-end training ------------------------------------------------------------------------------------

def test_end_to_end_training_lowers_the_loss_and_keeps_anchors_on_the_sphere(fashion):
    x, y = fashion[0][:256], fashion[1][:256]
    g = torch.Generator().manual_seed(0)
    net = K.fit_anchors(K.CKN(1, (16,), subsamplings=4), x, n_patches=2000, generator=g)
    head = K.linear_head(net, (1, 28, 28), 10)
    start = net.layers[0].anchors.clone()
    losses = K.train_end_to_end(net, head, x, y, steps=40, generator=g, lr=0.02, batch_size=64)
    assert len(losses) == 40 and all(math.isfinite(v) for v in losses)
    assert np.mean(losses[-8:]) < 0.7 * np.mean(losses[:4]), losses
    anchors = net.layers[0].anchors
    assert torch.allclose(anchors.norm(dim=1), torch.ones(16), atol=1e-6)
    assert (anchors - start).norm() > 1e-2 and not anchors.requires_grad


# --- the scattering baseline --------------------------------------------------------------------------------

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


# --- bad arguments ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: K.CKNLayer(1, 4, patch_size=4), "patch_size"),
        (lambda: K.CKNLayer(1, 4, padding="reflect"), "padding"),
        (lambda: K.CKNLayer(1, 4, alpha=0.0), "alpha"),
        (lambda: K.CKNLayer(1, 4, ridge=-1.0), "ridge"),
        (lambda: K.CKNLayer(1, 4, subsampling=0), "subsampling"),
        (lambda: K.CKNLayer(1, 4, pool_sigma=-0.5), "pool_sigma"),
        (lambda: K.CKNLayer(1, 0), "n_anchors"),
        (lambda: K.CKNLayer(2, 4)(torch.zeros(1, 3, 8, 8)), "x"),
        (lambda: K.CKN(1, (4, 8), patch_sizes=(3, 3, 3)), "patch_sizes"),
        (lambda: K.CKN(1, ()), "channels"),
        (lambda: K.gaussian_pool(torch.zeros(1, 1, 4, 4), sigma=1.0, subsampling=0), "subsampling"),
        (lambda: K.extract_patches(torch.zeros(1, 1, 4, 4), 3, padding="full"), "padding"),
        (lambda: K.inverse_sqrt_psd(torch.zeros(2, 3)), "a"),
        (lambda: K.spherical_kmeans(torch.ones(3, 2), 4, generator=torch.Generator()), "n_clusters"),
        (lambda: K.spherical_kmeans(torch.zeros(3, 2), 1, generator=torch.Generator()), "x"),
        (lambda: K.Scattering((16, 16), J=5), "J"),
        (lambda: K.Scattering((16, 16), max_order=3), "max_order"),
        (lambda: K.Scattering((16, 16))(torch.zeros(1, 1, 8, 8)), "x"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(call, name):
    with pytest.raises(ValueError, match=rf"^{name}\b"):
        call()


def test_bad_argument_messages_list_what_is_allowed():
    with pytest.raises(ValueError, match="'same', 'valid'.*'reflect'"):
        K.CKNLayer(1, 4, padding="reflect")
    with pytest.raises(TypeError, match="subsampling must be an int"):
        K.CKNLayer(1, 4, subsampling=1.5)
