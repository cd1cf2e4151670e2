"""The linear probe (``defstab_lib/kernels/linear.py``): it separates separable classes, chooses its penalty on
held-out images, warm-starts to the cold-start optimum and ignores the features' scale."""

from __future__ import annotations

import json

import pytest
import torch

from defstab_lib.kernels.linear import linear_probe, train_linear_classifier


def test_linear_probe_separates_separable_classes_and_chooses_l2_on_held_out_images():
    g = torch.Generator().manual_seed(0)
    centres = 3 * torch.randn(3, 5, generator=g)
    labels = torch.randint(0, 3, (600,), generator=g)
    x = centres[labels] + torch.randn(600, 5, generator=g)
    r = linear_probe(x[:400], labels[:400], x[400:], labels[400:], generator=g, l2_grid=(1e-3, 1e2))
    assert r.test_accuracy > 0.9 and r.l2 == 1e-3  # a huge penalty shrinks the weights to chance
    assert r.validation_accuracy[1e-3] > r.validation_accuracy[1e2]
    json.dumps(r.to_json())


def test_a_warm_start_converges_to_the_cold_start_optimum():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(300, 6, generator=g) * torch.arange(1.0, 7.0) + 3.0
    y = (x[:, 0] - 0.3 * x[:, 3] + torch.randn(300, generator=g) > 3.0).long()
    cold = train_linear_classifier(x, y, l2=0.1, max_iter=300)
    start = train_linear_classifier(x[:100], y[:100], l2=1.0, max_iter=300)  # another standardisation and penalty
    warm = train_linear_classifier(x, y, l2=0.1, max_iter=300, init=start)
    torch.testing.assert_close(warm.logits(x), cold.logits(x), rtol=1e-3, atol=1e-3)
    with pytest.raises(ValueError, match="init"):
        train_linear_classifier(x[:, :3], y, l2=0.1, init=start)


def test_linear_classifier_is_invariant_to_feature_scale_and_rejects_bad_labels():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(100, 4, generator=g)
    y = (x[:, 0] + x[:, 1] > 0).long()
    a = train_linear_classifier(x, y, l2=1e-2)
    b = train_linear_classifier(1000 * x, y, l2=1e-2)  # standardised features: the same classifier
    torch.testing.assert_close(a.weight, b.weight, rtol=1e-3, atol=1e-4)
    with pytest.raises(ValueError, match="labels"):
        train_linear_classifier(x, y.float(), l2=1e-2)
    with pytest.raises(ValueError, match="validation_fraction"):
        linear_probe(x, y, x, y, validation_fraction=1.0)
