"""Convolutional kernel networks (``defstab_lib/kernels/ckn.py``), on real images: positive homogeneity, the
layers' features and pooling, wider pooling more stable to translation, cached Nystrom matrices, dtypes, fitted
anchors, and bad arguments named."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from defstab_lib import kernels as K, metrics
from defstab_lib.kernels import FeatureTaps

from tests.helpers import relative_change, small_ckn


def test_more_pooling_makes_a_ckn_more_stable_to_translation():
    """The mechanism the chapter measures, on a tiny case: the same image shifted by 1 px changes a CKN with wide
    Gaussian pooling less than one without pooling."""
    x = torch.zeros(2, 1, 16, 16)
    x[:, :, 5:11, 6:9] = 1.0
    moved = x.roll(1, dims=3)
    change = {}
    for sigma in (0.0, 2.0):
        taps = FeatureTaps(small_ckn(sigma), 2)
        change[sigma] = metrics.change_sweep(taps, x, [moved], taps.layer_keys())["change"][0][-1]
    assert np.mean(change[2.0]) < 0.5 * np.mean(change[0.0])


@pytest.fixture(scope="module")
def fitted(fashion):
    """A two-layer CKN (32, 64 anchors, subsampling 2 each) with k-means anchors."""
    return K.fit_anchors(K.CKN(1, (32, 64)), fashion[0][:256], n_patches=4000,
                         generator=torch.Generator().manual_seed(0))


def test_layer_equals_patchwise_nystrom_features(fashion):
    x = fashion[0][:3].double()
    layer = K.CKNLayer(1, 12, patch_size=3, subsampling=1, generator=torch.Generator().manual_seed(3)).double()
    out = layer(x)  # (3, 12, 28, 28), no pooling
    flat = K.extract_patches(x, 3).reshape(-1, 9)
    expected = K.nystrom_features(flat, layer.unit_anchors(), layer.alpha, layer.ridge)
    assert torch.allclose(out.permute(0, 2, 3, 1).reshape(-1, 12), expected, atol=1e-10)


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


def test_fit_anchors_is_deterministic_for_a_seeded_generator(fashion):
    x = fashion[0][:64]
    nets = [K.fit_anchors(K.CKN(1, (8, 16)), x, n_patches=500, generator=torch.Generator().manual_seed(s))
            for s in (0, 0, 1)]
    assert torch.equal(nets[0](x), nets[1](x)) and not torch.equal(nets[0](x), nets[2](x))


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
