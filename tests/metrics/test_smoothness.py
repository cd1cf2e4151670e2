"""Filter smoothness (``defstab_lib/metrics/smoothness.py``): total variation, smoothness profiles, and
restoring each layer's norm after smoothing."""

import math

import pytest
import torch
import torchvision

from defstab_lib import metrics
from defstab_lib.metrics import (
    filter_smoothness,
    sensitivity_profile,
    smoothness_profile,
    total_variation,
)
from defstab_lib.models import make_vgg, smooth_filters
from defstab_lib.probe import eval_mode, representations

from tests.helpers import distance_condition, float32_forward_rtol, gen


def test_total_variation_of_constant_filters_is_zero():
    w = torch.randn(5, 4, 1, 1).expand(5, 4, 3, 3).clone()
    assert total_variation(w) == 0.0
    assert filter_smoothness(w) == 0.0


def test_total_variation_counts_the_twelve_neighbour_differences_of_a_3x3_filter():
    w = torch.zeros(1, 1, 3, 3)
    w[0, 0, 1, 1] = 1.0  # the centre differs from its 4 neighbours
    assert total_variation(w) == 4.0
    w = torch.zeros(1, 1, 3, 3)
    w[0, 0, 0, 0] = 1.0  # a corner has 2 neighbours
    assert total_variation(w) == 2.0
    checker = (torch.arange(9).reshape(3, 3) % 2).float()[None, None]
    assert total_variation(checker) == 12.0


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
    # equal in exact arithmetic; in float32 the scaled weights (rounded once more) and every product round otherwise:
    # two float32 computations, amplified by the distances' condition numbers (tests/helpers.py)
    with eval_mode(restored):
        clean, deformed = representations(restored, x), representations(restored, tx)
    pairs = torch.triu_indices(6, 6, 1)
    for metric, ours, theirs in (("cosine", a.normalized_cosine, b.normalized_cosine),
                                 ("euclidean", a.normalized_euclidean, b.normalized_euclidean)):
        for k, (c, d) in enumerate(zip(clean, deformed)):
            condition = distance_condition(c, d, metric) + distance_condition(c[pairs[0]], c[pairs[1]], metric)
            assert math.isclose(float(ours[k]), float(theirs[k]), rel_tol=float32_forward_rtol(restored) * condition)
