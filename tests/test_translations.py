"""Translation sweeps (``defstab_lib/translations.py``): whole-pixel shifts along an axis, reproducible from
the generator, with their norms."""

from __future__ import annotations


import pytest
import torch

from defstab_lib import translations


def test_translation_sweep_shifts_whole_pixels_along_an_axis_and_measures_its_norms():
    x = torch.zeros(8, 1, 16, 16)
    x[:, :, 5:11, 5:11] = torch.rand(8, 1, 6, 6, generator=torch.Generator().manual_seed(6))
    out = translations.translation_sweep(x, [1, 3], generator=torch.Generator().manual_seed(0))
    again = translations.translation_sweep(x, [1, 3], generator=torch.Generator().manual_seed(0))
    directions = set()
    for (t, moved, disp, jac), (_, moved2, _, _) in zip(out, again):
        assert disp == [t] * 8 and jac == [0.0] * 8
        torch.testing.assert_close(moved, moved2)  # reproducible from the generator
        for i in range(8):  # exactly one of the four whole-pixel shifts (the content stays inside the image)
            shifts = [(int(t), 2), (-int(t), 2), (int(t), 1), (-int(t), 1)]  # x[i] is (C, H, W)
            match = [k for k, (step, dim) in enumerate(shifts) if torch.equal(moved[i], x[i].roll(-step, dims=dim))]
            assert len(match) == 1
            directions.add(match[0])
    assert len(directions) > 1
    with pytest.raises(ValueError, match="lengths"):
        translations.translation_sweep(x, [0])
    with pytest.raises(TypeError, match="lengths"):
        translations.translation_sweep(x, [0.5])
