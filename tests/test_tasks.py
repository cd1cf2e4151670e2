"""The tasks built from data (``defstab_lib/tasks.py``): the synthetic task's templates and deformations,
random labels, and the flip-crop and flip-crop-tps augmentations."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from defstab_lib import tasks
from defstab_lib.data import load_dataset
from defstab_lib.runs import DataConfig
from defstab_lib.tasks import synthetic_templates


def test_templates_are_distinct_real_mnist_digits():
    templates, where = tasks.synthetic_templates(10)
    assert templates.shape == (10, 1, 32, 32) and "digits" in where
    digits = where.split("digits ")[1].rstrip(")").split(", ")
    assert len(set(digits[:9])) == 9, "the first nine templates are nine different digits"
    assert len({t.flatten().tolist().__str__() for t in templates}) == 10, "ten different images"
    assert templates[:, :, :2].abs().sum() == 0, "zero padding of 2 pixels"
    with pytest.raises(ValueError, match="classes must be an int in"):
        tasks.synthetic_templates(1)
    with pytest.raises(ValueError, match="template source 'emnist' is not allowed"):
        tasks.synthetic_templates(4, "emnist")


def test_synthetic_task_draws_fresh_deformations_of_the_templates():
    templates, _ = tasks.synthetic_templates(4)
    task = tasks.SyntheticDeformationTask(templates, 3.0, examples_per_epoch=64, batch_size=32, seed=0)
    (x1, y1), (x2, y2) = list(task.epoch(1))
    assert x1.shape == (32, 1, 32, 32) and y1.max() < 4
    again = next(iter(task.epoch(1)))
    assert torch.equal(again[0], x1) and torch.equal(again[1], y1), "epoch e depends on (seed, e) only"
    other = next(iter(task.epoch(2)))
    assert not torch.equal(other[0], x1)
    # each example is its template, moved
    diff = (x1 - templates[y1]).flatten(1).norm(dim=1)
    assert (diff > 0).all()
    assert torch.allclose(x1.sum((1, 2, 3)), templates[y1].sum((1, 2, 3)), rtol=0.35), "ink is moved, not made"
    weak = tasks.SyntheticDeformationTask(templates, 1.0, examples_per_epoch=64, batch_size=32, seed=0)
    weak_diff = (next(iter(weak.epoch(1)))[0] - templates[y1]).flatten(1).norm(dim=1)
    assert weak_diff.mean() < diff.mean(), "stronger deformations move the templates further"
    fixed = task.fixed_set(16, stream=1)
    assert torch.equal(fixed[0], task.fixed_set(16, stream=1)[0])


def test_random_labels_are_fixed_and_uniform():
    a = tasks.random_labels(10_000, 10, seed=3)
    assert torch.equal(a, tasks.random_labels(10_000, 10, seed=3))
    assert not torch.equal(a, tasks.random_labels(10_000, 10, seed=4))
    counts = torch.bincount(a, minlength=10)
    assert counts.min() > 900 and counts.max() < 1100


def test_flip_crop_moves_images_by_whole_pixels():
    x = torch.rand(8, 3, 10, 10)
    g = torch.Generator().manual_seed(0)
    y = tasks.flip_crop(x, g, pad=2)
    assert y.shape == x.shape and y.dtype == x.dtype
    for i in range(8):
        matches = [
            torch.equal(y[i, :, 2:8, 2:8], torch.roll(img, (dy, dx), (1, 2))[:, 2:8, 2:8])
            for img in (x[i], x[i].flip(-1)) for dy in range(-2, 3) for dx in range(-2, 3)
        ]
        assert any(matches), f"image {i} is not a flipped and shifted copy"


def ramps(b: int = 6, size: int = 32) -> torch.Tensor:
    """``(b, 2, size, size)``: channel 0 holds each pixel's column x, channel 1 its row y (bilinear sampling of a
    linear image is exact, so a deformed ramp reads the field itself)."""
    yy, xx = torch.meshgrid(torch.arange(size, dtype=torch.float32), torch.arange(size, dtype=torch.float32),
                            indexing="ij")
    return torch.stack([xx, yy])[None].repeat(b, 1, 1, 1)


def test_flip_crop_tps_keeps_shape_dtype_and_device():
    for dtype in (torch.float32, torch.float64):
        x = torch.rand(5, 3, 32, 32, dtype=dtype)
        y = tasks.flip_crop_tps(x, torch.Generator().manual_seed(0))
        assert y.shape == x.shape and y.dtype == dtype and y.device == x.device


def test_flip_crop_tps_is_flip_crop_then_the_probes_deformation():
    """The same draws as flip_crop followed by deform.deform (the probe's deformation) from one generator."""
    from defstab_lib.deform import deform

    x = torch.rand(8, 1, 32, 32)
    y = tasks.flip_crop_tps(x, torch.Generator().manual_seed(3), grid=3, strength=2.0)
    g = torch.Generator().manual_seed(3)
    expected, _ = deform(tasks.flip_crop(x, g), 3, 2.0, generator=g)
    assert torch.equal(y, expected)
    cropped = tasks.flip_crop(x, torch.Generator().manual_seed(3))
    assert (y - cropped).abs().amax(dim=(1, 2, 3)).min() > 0.01, "every image is deformed, not only cropped"


def test_flip_crop_tps_is_a_function_of_the_generator_seed():
    x = torch.rand(8, 1, 32, 32)
    a = tasks.flip_crop_tps(x, torch.Generator().manual_seed(5))
    assert torch.equal(a, tasks.flip_crop_tps(x, torch.Generator().manual_seed(5)))
    assert not torch.equal(a, tasks.flip_crop_tps(x, torch.Generator().manual_seed(6)))


@pytest.mark.parametrize("strength", [1.0, 2.0])
def test_flip_crop_tps_displaces_by_at_most_the_probes_strength(strength):
    """Without translation (pad=0), a deformed ramp minus the (possibly flipped) ramp is the field at each pixel:
    within C times the spline's overshoot everywhere away from the border, and of the order of C somewhere."""
    from defstab_lib.deform import overshoot_bound

    x = ramps(64)
    y = tasks.flip_crop_tps(x, torch.Generator().manual_seed(0), grid=3, strength=strength, pad=0)
    flipped = y[:, 0, 16, 0] > 15.5  # a flipped ramp starts high
    assert 0 < int(flipped.sum()) < 64, "flips some images, not all"
    reference = torch.where(flipped[:, None, None, None], x.flip(-1), x)
    field = (y - reference)[:, :, 4:-4, 4:-4]  # away from the border, where reflection folds the ramp
    bound = strength * overshoot_bound(3, (32, 32))
    assert field.abs().max() <= bound + 1e-4
    assert field.abs().amax(dim=(1, 2, 3)).median() > 0.5 * strength, "the fields reach about C"


def test_flip_crop_tps_refuses_bad_arguments_by_name():
    x, g = torch.rand(2, 1, 8, 8), torch.Generator().manual_seed(0)
    for kwargs, name in (({"strength": 8.0}, "strength"), ({"strength": -1.0}, "strength"), ({"grid": 1}, "grid"),
                         ({"pad": -1}, "pad")):
        with pytest.raises(ValueError, match=name):
            tasks.flip_crop_tps(x, g, **kwargs)
    with pytest.raises(ValueError, match="images"):
        tasks.flip_crop_tps(torch.rand(1, 8, 8), g)
    with pytest.raises(TypeError, match="generator"):
        tasks.flip_crop_tps(x, 0)


def test_fine_grained_templates_are_distinct_shirts():
    t, where = synthetic_templates(10, "fashion-mnist-shirts")
    assert t.shape == (10, 1, 32, 32) and "Shirt" in where
    assert len({tuple(x.flatten().tolist()) for x in t}) == 10
    ds = load_dataset("fashion-mnist", "test")
    indices = [int(i) for i in where.split("indices ")[1].rstrip(")").split(", ")]
    assert all(ds.classes[int(ds.labels[i])] == "Shirt" for i in indices)
    with pytest.raises(ValueError, match="templates 'cifar' is not allowed"):
        dataclasses.replace(DataConfig(dataset="synthetic"), templates="cifar")
    assert np.isclose(float(t.max()), 1.0)
