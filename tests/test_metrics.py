"""The paper's measurements: normalized cosine/Euclidean distance, the noise-matched control, filter smoothness."""

import itertools
import math

import numpy as np
import pytest
import torch
import torchvision

from defstab_lib import metrics
from defstab_lib.metrics import distances
from defstab_lib.metrics import (
    median_pairwise_distance,
    noise_matched,
    normalized_cosine_distance,
    normalized_distance,
    normalized_euclidean_distance,
    paired_distances,
    pairwise_distances,
    sensitivity_profile,
    smoothness_profile,
)
from defstab_lib.models import make_vgg, smooth_filters
from defstab_lib.probe import representations


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


# ---------------------------------------------------------------- an independent reference: numpy and loops


def reference(clean, deformed, metric):
    """The paper's formula, written out with numpy and Python loops."""
    c = [np.asarray(v, dtype=np.float64).ravel() for v in clean]
    d = [np.asarray(v, dtype=np.float64).ravel() for v in deformed]

    def dist(a, b):
        if metric == "cosine":
            return 1.0 - float(np.dot(a, b)) / (np.linalg.norm(a) * np.linalg.norm(b))
        return float(np.linalg.norm(a - b))

    numerator = np.mean([dist(a, b) for a, b in zip(c, d)])
    pairs = [dist(c[i], c[j]) for i in range(len(c)) for j in range(i + 1, len(c))]
    return numerator / np.median(pairs)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
@pytest.mark.parametrize("n, shape", [(2, (5,)), (7, (3, 4, 4)), (10, (2, 3, 3))])
def test_agrees_with_a_numpy_loop_reference(metric, n, shape):
    g = gen(n)
    clean = torch.randn(n, *shape, generator=g)
    deformed = clean + 0.3 * torch.randn(n, *shape, generator=g)
    got = normalized_distance(clean, deformed, metric)
    assert math.isclose(got, reference(clean.numpy(), deformed.numpy(), metric), rel_tol=1e-10)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_pairwise_matrix_agrees_with_loops(metric):
    reps = torch.rand(6, 3, 2, 2, generator=gen(1))
    matrix = pairwise_distances(reps, metric)
    assert matrix.shape == (6, 6) and matrix.dtype == torch.float64
    for i, j in itertools.product(range(6), repeat=2):
        a, b = reps[i].double().flatten().numpy(), reps[j].double().flatten().numpy()
        if metric == "cosine":
            expected = 0.0 if i == j else 1 - a @ b / (np.linalg.norm(a) * np.linalg.norm(b))
        else:
            expected = np.linalg.norm(a - b)
        assert abs(float(matrix[i, j]) - expected) < 1e-12


def test_distance_of_a_representation_to_itself_is_zero():
    x = torch.randn(9, 4, 5, 5, generator=gen(2))
    assert torch.equal(paired_distances(x, x), torch.zeros(9, dtype=torch.float64))
    assert torch.equal(paired_distances(x, x, "euclidean"), torch.zeros(9, dtype=torch.float64))
    assert normalized_distance(x, x) == 0.0 and normalized_distance(x, x, "euclidean") == 0.0


def test_cosine_distance_values_and_zero_vectors():
    a = torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0], [0.0, 0.0]])
    b = torch.tensor([[0.0, 1.0], [-1.0, 0.0], [2.0, 2.0], [0.0, 0.0], [1.0, 0.0]])
    assert paired_distances(a, b).tolist() == pytest.approx([1.0, 2.0, 0.0, 0.0, 1.0], abs=1e-15)
    assert pairwise_distances(torch.cat([a, b])).min() >= 0


def test_tiny_distances_keep_their_relative_precision_in_float32():
    g = gen(8)
    a = torch.rand(4, 20000, generator=g)
    b = a + 1e-3 * torch.randn(4, 20000, generator=g)  # cosine distances of about 1e-7
    exact = paired_distances(a.double(), b.double())
    assert (exact < 1e-5).all()
    assert torch.allclose(distances._paired(a, b)[0], exact, rtol=1e-3)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_invariant_to_scaling_the_representation_by_a_positive_constant(metric):
    g = gen(3)
    clean = torch.rand(12, 8, 4, 4, generator=g, dtype=torch.float64)
    deformed = clean + 0.1 * torch.randn(12, 8, 4, 4, generator=g, dtype=torch.float64)
    base = normalized_distance(clean, deformed, metric)
    for c in (1e-3, 0.5, 7.0, 1e4):
        assert math.isclose(normalized_distance(c * clean, c * deformed, metric), base, rel_tol=1e-10)
    if metric == "cosine":  # cosine distance is even invariant per image
        scales = torch.rand(12, 1, 1, 1, generator=g, dtype=torch.float64) + 0.1
        assert math.isclose(normalized_distance(scales * clean, scales * deformed), base, rel_tol=1e-10)


def test_median_is_over_pairs_i_below_j_only():
    # three points on a line: pair distances 1, 3, 2 -> median 2.  With the zero diagonal the 9 entries of the
    # full matrix (0, 0, 0, 1, 1, 2, 2, 3, 3) would give 1; with the 6 ordered pairs (1, 1, 2, 2, 3, 3), 2 as well
    # but over a different set -- so also check four points, where counting the diagonal changes the answer.
    line = torch.tensor([[0.0], [1.0], [3.0]])
    assert median_pairwise_distance(line, "euclidean") == 2.0
    four = torch.tensor([[0.0], [1.0], [3.0], [7.0]])  # pairs: 1, 3, 7, 2, 6, 4 -> median (3 + 4) / 2
    assert median_pairwise_distance(four, "euclidean") == 3.5
    full = pairwise_distances(four, "euclidean").flatten()
    assert float(full.median()) != 3.5 and float(np.median(full.numpy())) != 3.5  # the wrong answers differ
    deformed = four + torch.tensor([[1.0], [1.0], [1.0], [1.0]])
    assert normalized_distance(four, deformed, "euclidean") == 1.0 / 3.5


def test_at_least_two_images_are_needed():
    with pytest.raises(ValueError, match="at least 2"):
        normalized_distance(torch.rand(1, 3), torch.rand(1, 3))
    with pytest.raises(ValueError, match="at least 2"):
        median_pairwise_distance(torch.rand(1, 3))


def test_bad_metric_raises_listing_what_is_allowed():
    with pytest.raises(ValueError, match="allowed: 'cosine', 'euclidean'"):
        normalized_distance(torch.rand(3, 2), torch.rand(3, 2), "l1")


# ---------------------------------------------------------------- noise-matched control


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


# ---------------------------------------------------------------- the profile on a model


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
    for k in range(13):
        assert math.isclose(float(profile.normalized_cosine[k]), normalized_distance(clean[k], deformed[k]), rel_tol=1e-5)
        assert math.isclose(
            float(profile.normalized_euclidean[k]), normalized_distance(clean[k], deformed[k], "euclidean"), rel_tol=1e-5
        )
        assert math.isclose(float(profile.noise_normalized_cosine[k]), normalized_distance(clean[k], noise[k]), rel_tol=1e-5)
        ratio = paired_distances(clean[k], deformed[k]).mean() / paired_distances(clean[k], noise[k]).mean()
        assert math.isclose(float(profile.cosine_ratio[k]), float(ratio), rel_tol=1e-5)
        # layer 0: the input itself, against the numpy reference
        if k == 0:
            assert math.isclose(float(profile.normalized_cosine[0]), reference(x.numpy(), tx.numpy(), "cosine"), rel_tol=1e-6)


def test_batch_size_does_not_change_the_result(setting):
    model, x, tx = setting
    a = sensitivity_profile(model, x, tx, noise=False, batch_size=16)
    b = sensitivity_profile(model, x, tx, noise=False, batch_size=3)
    assert torch.allclose(a.normalized_cosine, b.normalized_cosine, rtol=1e-5)
    assert torch.allclose(a.normalized_euclidean, b.normalized_euclidean, rtol=1e-5)
    assert a.cosine_noise is None and a.cosine_ratio is None and a.summary()["cosine_ratio"] is None
    assert normalized_cosine_distance(model, x, tx) == pytest.approx(a.normalized_cosine.tolist(), rel=1e-12)
    assert normalized_euclidean_distance(model, x, tx, [3, 12]) == pytest.approx(
        a.normalized_euclidean[[3, 12]].tolist(), rel=1e-5
    )


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


# ---------------------------------------------------------------- filter smoothness on models


def test_smoothness_profile_falls_with_smoothing_at_init():
    sharp = smoothness_profile(make_vgg("cifar", generator=gen(0)))
    smooth = smoothness_profile(make_vgg("cifar", smooth_sigma=1.0, generator=gen(0)))
    assert len(sharp) == len(smooth) == 8
    assert all(s < 0.8 * r for s, r in zip(smooth, sharp))


def test_smoothness_profile_of_resnet18_skips_1x1_convolutions():
    model = torchvision.models.resnet18()
    values = smoothness_profile(model)
    assert len(values) == 1 + 16  # conv1 (7x7) and the 3x3 convs of the 8 blocks; the 3 downsample 1x1 skipped
    # torchvision's init is i.i.d. normal (Kaiming): E|a - b| / E|a| = sqrt(2), times the number of neighbour
    # differences per tap: 12/9 for 3x3 filters (1.886), 84/49 for 7x7 ones (2.424)
    assert abs(values[0] - 84 / 49 * math.sqrt(2)) < 0.05
    assert all(abs(v - 12 / 9 * math.sqrt(2)) < 0.02 for v in values[1:])


def test_filter_smoothness_rejects_zero_and_non_conv_weights():
    with pytest.raises(ValueError, match="all zero"):
        metrics.filter_smoothness(torch.zeros(2, 2, 3, 3))
    with pytest.raises(ValueError, match=r"\(out, in, kh, kw\)"):
        metrics.filter_smoothness(torch.ones(3, 3))


def test_restoring_each_layers_norm_after_smoothing_changes_nothing_measured_at_init():
    """models.smooth_filters' docstring: one positive scale per layer is invisible at initialisation (eval mode)."""
    g = gen(14)
    x = torch.rand(6, 1, 32, 32, generator=g)
    tx = x.roll(1, dims=2)
    restored = make_vgg("cifar", "strided-relu", in_channels=1, width=0.25, smooth_sigma=1.5, generator=gen(15))
    shrunk = make_vgg("cifar", "strided-relu", in_channels=1, width=0.25, generator=gen(15))
    with torch.no_grad():
        for conv in shrunk.conv_layers():
            conv.weight.copy_(smooth_filters(conv.weight, 1.5, restore_norm=False))
    assert shrunk.conv_layers()[0].weight.norm() < 0.9 * restored.conv_layers()[0].weight.norm()
    a = sensitivity_profile(restored, x, tx, noise=False)
    b = sensitivity_profile(shrunk, x, tx, noise=False)
    assert torch.allclose(a.normalized_cosine, b.normalized_cosine, rtol=1e-4)
    assert torch.allclose(a.normalized_euclidean, b.normalized_euclidean, rtol=1e-4)


def test_relative_change_matches_a_direct_computation_and_is_scale_free():
    from defstab_lib.metrics import relative_change
    from defstab_lib.models import make_vgg
    from defstab_lib.probe import representations

    g = torch.Generator().manual_seed(0)
    model = make_vgg("cifar", in_channels=1, width=0.25, generator=g)
    x = torch.rand(5, 1, 32, 32, generator=g)
    y = x.roll(1, dims=3)
    change = relative_change(model, x, y, batch_size=2)
    model.eval()
    with torch.no_grad():
        for layer, (rx, ry) in enumerate(zip(representations(model, x), representations(model, y))):
            rx, ry = rx.flatten(1).double(), ry.flatten(1).double()
            expected = (ry - rx).norm(dim=1) / rx.norm(dim=1)
            assert torch.allclose(change[layer], expected, rtol=1e-5), layer
    assert torch.allclose(relative_change(model, 3 * x, 3 * y)[0], change[0])
    with pytest.raises(ValueError, match="deformed must have the shape"):
        relative_change(model, x, y[:2])
