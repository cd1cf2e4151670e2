"""The sensitivity profile (``defstab_lib/metrics/sensitivity.py``): the noise-matched control, agreement
with the representations, reproducibility, and bad input (identical or non-finite images, wrong dtype or channels,
another device) refused before any forward pass."""

from __future__ import annotations

import math

import pytest
import torch
import torchvision

from defstab_lib import metrics
from defstab_lib.metrics import (
    noise_matched,
    normalized_cosine_distance,
    normalized_distance,
    normalized_euclidean_distance,
    paired_distances,
    sensitivity_profile,
)
from defstab_lib.models import make_vgg
from defstab_lib.probe import representations

from tests.helpers import distance_condition, float32_forward_rtol, gen, reference


@pytest.fixture(scope="module")
def net():
    return make_vgg("cifar", in_channels=1, width=0.25, generator=torch.Generator().manual_seed(0))


def test_identical_probe_images_name_the_layer_instead_of_returning_inf(net):
    x = torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(0)).repeat(4, 1, 1, 1)
    with pytest.raises(ValueError, match=r"identical at layer\(s\) \[0, 1"):
        metrics.sensitivity_profile(net, x, x.roll(1, 3), generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="identical"):
        metrics.sensitivity_profile(net, torch.zeros(4, 1, 32, 32), torch.zeros(4, 1, 32, 32), noise=False)


def test_non_finite_images_are_refused(net):
    x = torch.rand(4, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    bad = x.clone()
    bad[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="images must be finite"):
        metrics.sensitivity_profile(net, bad, x, noise=False)
    with pytest.raises(ValueError, match="deformed must be finite"):
        metrics.sensitivity_profile(net, x, bad, noise=False)


def test_wrong_dtype_and_channels_are_named(net):
    x = torch.rand(4, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    with pytest.raises(TypeError, match="float64.*float32"):
        metrics.sensitivity_profile(net, x.double(), x.double(), noise=False)
    with pytest.raises(ValueError, match="3 channel.*takes 1"):
        metrics.sensitivity_profile(net, x.repeat(1, 3, 1, 1), x.repeat(1, 3, 1, 1), noise=False)


def test_a_sweep_over_collapsing_models_can_ask_for_nan_instead(net):
    x = torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(0)).repeat(4, 1, 1, 1)
    p = metrics.sensitivity_profile(net, x, x.roll(1, 3), noise=False, degenerate="nan")
    assert torch.isnan(p.normalized_cosine).all() and torch.isnan(p.cosine_median).all()
    with pytest.raises(ValueError, match="degenerate"):
        metrics.sensitivity_profile(net, x, x, noise=False, degenerate="ignore")


def test_noise_has_the_norm_of_the_deformation_per_image_and_follows_the_generator():
    g = gen(4)
    x = torch.rand(6, 3, 8, 8, generator=g)
    tx = x + torch.randn(6, 3, 8, 8, generator=g) * torch.arange(6.0).view(6, 1, 1, 1)
    state = torch.random.get_rng_state()
    noisy = noise_matched(x, tx, generator=gen(9))
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.allclose((noisy - x).flatten(1).norm(dim=1), (tx - x).flatten(1).norm(dim=1), rtol=1e-5)
    assert torch.equal(noisy[0], x[0])  # no deformation, no noise
    assert torch.equal(noise_matched(x, tx, generator=gen(9)), noisy)
    assert not torch.equal(noise_matched(x, tx, generator=gen(10)), noisy)
    eta = (noisy - x)[5].flatten()
    assert abs(float(eta.mean())) < 4 * float(eta.std()) / math.sqrt(eta.numel())  # centred, isotropic draw


@pytest.fixture(scope="module")
def setting():
    g = gen(11)
    model = make_vgg("cifar", "maxpool", in_channels=1, width=0.5, generator=g)
    x = torch.rand(16, 1, 32, 32, generator=g)
    tx = x.roll(1, dims=3) * 0.9 + 0.1 * x  # any pair of image sets will do here
    return model, x, tx


def test_profile_agrees_with_representations_and_the_tensor_formula(setting):
    model, x, tx = setting
    noisy = noise_matched(x, tx, generator=gen(12))
    profile = sensitivity_profile(model, x, tx, noise=noisy, batch_size=5)
    assert profile.layers == list(range(13)) and profile.n_images == 16
    model.eval()
    with torch.no_grad():
        clean = representations(model, x)
        deformed = representations(model, tx)
        noise = representations(model, noisy)
    # the profile runs batches of 5, the references one batch of 16: two float32 code paths, each within
    # float32_forward_rtol / 2 of the exact representations; a normalised distance (a mean of distances over a median
    # of distances) amplifies that by the two distances' condition numbers (see tests/helpers.py)
    e = float32_forward_rtol(model)
    pairs = torch.triu_indices(16, 16, 1)

    def rtol(k: int, other: list[torch.Tensor], metric: str = "cosine") -> float:
        median = distance_condition(clean[k][pairs[0]], clean[k][pairs[1]], metric)
        return e * (distance_condition(clean[k], other[k], metric) + median)

    for k in range(13):
        assert math.isclose(float(profile.normalized_cosine[k]), normalized_distance(clean[k], deformed[k]),
                            rel_tol=rtol(k, deformed))
        assert math.isclose(float(profile.normalized_euclidean[k]),
                            normalized_distance(clean[k], deformed[k], "euclidean"),
                            rel_tol=rtol(k, deformed, "euclidean"))
        assert math.isclose(float(profile.noise_normalized_cosine[k]), normalized_distance(clean[k], noise[k]),
                            rel_tol=rtol(k, noise))
        ratio = paired_distances(clean[k], deformed[k]).mean() / paired_distances(clean[k], noise[k]).mean()
        assert math.isclose(float(profile.cosine_ratio[k]), float(ratio),
                            rel_tol=e * (distance_condition(clean[k], deformed[k]) + distance_condition(clean[k], noise[k])))
        # layer 0: the input itself, against the numpy reference
        if k == 0:
            assert math.isclose(float(profile.normalized_cosine[0]), reference(x.numpy(), tx.numpy(), "cosine"), rel_tol=1e-6)


def test_batch_size_does_not_change_the_result(setting):
    model, x, tx = setting
    a = sensitivity_profile(model, x, tx, noise=False, batch_size=16)
    b = sensitivity_profile(model, x, tx, noise=False, batch_size=3)
    # another batch size may be another kernel (oneDNN picks by shape): two float32 paths, each within
    # float32_forward_rtol / 2 of the exact value, amplified by the distances' condition numbers
    model.eval()
    with torch.no_grad():
        clean, deformed = representations(model, x), representations(model, tx)
    pairs = torch.triu_indices(16, 16, 1)
    for metric, ours, theirs in (("cosine", a.normalized_cosine, b.normalized_cosine),
                                 ("euclidean", a.normalized_euclidean, b.normalized_euclidean)):
        for k in range(13):
            condition = (distance_condition(clean[k], deformed[k], metric)
                         + distance_condition(clean[k][pairs[0]], clean[k][pairs[1]], metric))
            assert math.isclose(float(ours[k]), float(theirs[k]), rel_tol=float32_forward_rtol(model) * condition), \
                (metric, k)
    assert a.cosine_noise is None and a.cosine_ratio is None and a.summary()["cosine_ratio"] is None
    assert normalized_cosine_distance(model, x, tx) == pytest.approx(a.normalized_cosine.tolist(), rel=1e-12)
    assert normalized_euclidean_distance(model, x, tx, [3, 12]) == pytest.approx(
        a.normalized_euclidean[[3, 12]].tolist(), rel=1e-5
    )  # the same batch of 16 through the same kernels as ``a``: rounding as in ``a`` (kept: a same-path claim)


def test_profile_restores_the_mode_tracks_no_gradients_and_is_reproducible(setting):
    model, x, tx = setting
    model.train()
    model.layers[0][1].eval()  # a mixed state must come back as it was
    before = [m.training for m in model.modules()]
    stats = model.layers[0][1].running_mean.clone()
    a = sensitivity_profile(model, x, tx, generator=gen(5))
    assert [m.training for m in model.modules()] == before
    assert torch.equal(model.layers[0][1].running_mean, stats)  # eval mode: BatchNorm statistics untouched
    b = sensitivity_profile(model, x, tx, generator=gen(5))
    assert torch.equal(a.noise_normalized_cosine, b.noise_normalized_cosine)
    assert not a.normalized_cosine.requires_grad
    summary = a.summary()
    assert summary["layers"] == list(range(13)) and len(summary["normalized_cosine"]) == 13
    assert all(isinstance(v, float) for v in summary["cosine_ratio"])


def test_identity_deformation_gives_zero_and_deformation_is_felt(setting):
    model, x, tx = setting
    same = sensitivity_profile(model, x, x.clone(), noise=False)
    assert torch.equal(same.normalized_cosine, torch.zeros(13, dtype=torch.float64))
    moved = sensitivity_profile(model, x, tx, noise=False)
    assert (moved.normalized_cosine > 0).all()


def test_profile_on_resnet18_by_module_names():
    g = gen(13)
    model = torchvision.models.resnet18(num_classes=10)
    x = torch.rand(6, 3, 32, 32, generator=g)
    tx = x.roll(2, dims=2)
    profile = sensitivity_profile(model, x, tx, layers=[0, "layer1", "layer4", "fc"], generator=g)
    assert profile.normalized_cosine.shape == (4,)
    assert torch.isfinite(profile.normalized_cosine).all() and torch.isfinite(profile.cosine_ratio).all()
    model.eval()
    with torch.no_grad():
        (l1, tl1) = representations(model, x, ["layer1"]) + representations(model, tx, ["layer1"])
    assert math.isclose(float(profile.normalized_cosine[1]), normalized_distance(l1, tl1), rel_tol=1e-5)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"deformed": torch.rand(4, 1, 32, 32)}, ValueError, "deformed must have the shape of images"),
        ({"deformed": torch.rand(16, 1, 32, 32, dtype=torch.float64)}, ValueError, "dtype"),
        ({"noise": torch.rand(3, 1, 32, 32)}, ValueError, "noise must have the shape"),
        ({"noise": "yes"}, TypeError, "noise must be a bool"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"layers": [13]}, ValueError, "0..12"),
        ({"images": torch.rand(1, 1, 32, 32), "deformed": torch.rand(1, 1, 32, 32)}, ValueError, "N >= 2"),
    ],
)
def test_bad_input_raises_before_any_forward(setting, kwargs, error, match):
    model, x, tx = setting
    args = {"images": x, "deformed": tx} | kwargs
    images, deformed = args.pop("images"), args.pop("deformed")
    ran = []
    handle = model.layers[0].register_forward_hook(lambda *a: ran.append(True))
    try:
        with pytest.raises(error, match=match):
            sensitivity_profile(model, images, deformed, **args)
    finally:
        handle.remove()
    assert ran == []


def test_model_on_another_device_is_refused_before_any_work():
    model = make_vgg("1x2", in_channels=1, generator=gen()).to("meta")
    with pytest.raises(ValueError, match="model is on meta but images are on cpu"):
        sensitivity_profile(model, torch.rand(3, 1, 8, 8), torch.rand(3, 1, 8, 8))
