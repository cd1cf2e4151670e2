"""The deformation functions' argument checks (``defstab_lib/deform/validation.py``): bad input raises
naming the argument."""

from __future__ import annotations


import pytest
import torch

from defstab_lib import deform as D


def _img(*shape, dtype=torch.float32):
    return torch.zeros(*shape, dtype=dtype)


@pytest.mark.parametrize(
    "call,error,match",
    [
        (lambda: D.deform(_img(3, 32, 32), 3, 2.0), ValueError, "images must be 4-D"),
        (lambda: D.deform(torch.zeros(1, 3, 32, 32, dtype=torch.uint8), 3, 2.0), TypeError, "images must be floating"),
        (lambda: D.deform(_img(1, 3, 8, 8).index_fill(3, torch.tensor([2]), float("nan")), 3, 2.0), ValueError,
         "images must be finite; found NaN or inf"),
        (lambda: D.deform(_img(1, 3, 8, 8).index_fill(2, torch.tensor([0]), float("inf")), 3, 2.0), ValueError,
         "images must be finite; found NaN or inf"),
        (lambda: D.warp(_img(1, 1, 8, 8), torch.full((1, 8, 8, 2), float("nan"))), ValueError, "field must be finite"),
        (lambda: D.apply_displacements(_img(1, 1, 8, 8), torch.full((1, 9, 2), float("inf"))), ValueError,
         "displacements must be finite"),
        (lambda: D.displacement_field(torch.full((1, 9, 2), float("nan")), (8, 8)), ValueError,
         "displacements must be finite"),
        (lambda: D.deform(_img(1, 3, 8, 8), 1, 2.0), ValueError, "grid must be >= 2"),
        (lambda: D.deform(_img(1, 3, 8, 8), 3.0, 2.0), TypeError, "grid must be an int"),
        (lambda: D.sample_displacements(2, 1, 2.0), ValueError, "grid must be >= 2"),
        (lambda: D.deform(_img(1, 3, 8, 8), 3, -1.0), ValueError, "max_displacement must be a finite number"),
        (lambda: D.sample_displacements(2, 3, -0.5), ValueError, "max_displacement must be a finite number"),
        (lambda: D.deform(_img(1, 3, 8, 8), 3, float("nan")), ValueError, "max_displacement must be a finite"),
        (lambda: D.deform(_img(1, 3, 8, 12), 3, 8.0), ValueError, "max_displacement must be smaller than the image"),
        (lambda: D.deform(_img(1, 3, 8, 8), 3, "2"), TypeError, "max_displacement must be a real number"),
        (lambda: D.warp(_img(2, 3, 8, 8), torch.zeros(2, 8, 9, 2)), ValueError, "field has size"),
        (lambda: D.warp(_img(2, 3, 8, 8), torch.zeros(3, 8, 8, 2)), ValueError, "field holds 3 fields for 2"),
        (lambda: D.warp(_img(2, 3, 8, 8), torch.zeros(2, 8, 8)), ValueError, "field must have shape"),
        (lambda: D.apply_displacements(_img(2, 3, 8, 8), torch.zeros(3, 9, 2)), ValueError, "displacements hold 3"),
        (lambda: D.displacement_field(torch.zeros(1, 8, 2), (8, 8)), ValueError, "K = grid"),
        (lambda: D.displacement_field(torch.zeros(1, 9, 2, dtype=torch.int64), (8, 8)), TypeError,
         "displacements must be floating"),
        (lambda: D.displacement_field(torch.zeros(1, 9, 2), (1, 8)), ValueError, "size must be at least"),
        (lambda: D.deform(_img(1, 3, 8, 8), 3, 2.0, fill="wrap"), ValueError, "fill must be one of"),
        (lambda: D.sample_displacements(-1, 3, 2.0), ValueError, "n must be >= 0"),
        (lambda: D.sample_displacements(2, 3, 2.0, generator=0), TypeError, "generator must be"),
    ],
)
def test_bad_input_raises_naming_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()
