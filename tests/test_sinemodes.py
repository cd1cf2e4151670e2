"""Tests of defstab_lib.sinemodes against Petrini et al.'s formulas and against the sampled fields' statistics."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from defstab_lib import sinemodes as S
from defstab_lib.deform import warp


def _numpy_field(coefficients: np.ndarray, n: int) -> np.ndarray:
    """The definition, evaluated directly: ``n * sum C_ij sin(i pi x) sin(j pi y)`` at ``x_k = k / (n - 1)``."""
    c = coefficients.shape[-1]
    x = np.arange(n) / (n - 1)
    out = np.zeros((n, n, 2))
    for comp in range(2):
        for i in range(1, c + 1):
            for j in range(1, c + 1):
                out[:, :, comp] += coefficients[comp, i - 1, j - 1] * np.outer(np.sin(j * np.pi * x),
                                                                            np.sin(i * np.pi * x))
    return n * out  # rows are y, columns x


def _mode_sum(c: int) -> float:
    return sum(1 / (i * i + j * j) for i in range(1, c + 1) for j in range(1, c + 1) if i * i + j * j <= c * c)


def test_mode_sets():
    assert int((S.mode_variances(3) > 0).sum()) == 4  # (1,1), (1,2), (2,1), (2,2): i^2 + j^2 <= 9
    assert int((S.mode_variances(3, modes="reference") > 0).sum()) == 6  # sqrt(i^2 + j^2) < 3.5 adds (1,3), (3,1)
    assert float(S.mode_variances(5).sum()) == pytest.approx(_mode_sum(5))


def test_field_matches_the_definition():
    g = torch.Generator().manual_seed(0)
    coefficients = torch.randn(2, 2, 4, 4, generator=g, dtype=torch.float64) * 0.01
    field = S.sine_field(coefficients, 12)
    for b in range(2):
        np.testing.assert_allclose(field[b].numpy(), _numpy_field(coefficients[b].numpy(), 12), atol=1e-12)
    assert float(field[:, 0].abs().max()) == 0 and float(field[:, :, -1].abs().max()) < 1e-12  # zero on the border


def test_sampling_is_reproducible_and_follows_dtype():
    a = S.sample_sine_fields(3, 32, 1e-3, 5, generator=torch.Generator().manual_seed(1))
    b = S.sample_sine_fields(3, 32, 1e-3, 5, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    assert a.dtype == torch.float32 and b.dtype == torch.float64 and a.shape == (3, 32, 32, 2)
    torch.testing.assert_close(a.double(), b, rtol=1e-5, atol=1e-6)


def test_mean_square_displacement_matches_monte_carlo():
    """The exact expectation against 4,000 sampled fields: within 4 standard errors (a false alarm ~1e-4)."""
    n, c = 32, 5
    t = S.temperature_range(n, c)[1]
    fields = S.sample_sine_fields(4000, n, t, c, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    per_field = fields.square().sum(-1).mean(dim=(1, 2))
    mean, se = float(per_field.mean()), float(per_field.std() / math.sqrt(len(per_field)))
    assert abs(mean - S.mean_square_displacement(t, c, n)) < 4 * se


def test_typical_displacement_is_the_continuum_limit_of_the_exact_value():
    """Petrini et al.'s ``delta^2 = pi n^2 T log(c) / 4`` is the continuum approximation of the exact mean square:
    the exact value divided by it is ``S(c) / ((pi / 2) log c)`` up to the grid's average of ``sin^2`` (which tends
    to 1/2), and ``S(c) - (pi / 2) log c`` stays bounded (about -1), so the ratio rises towards 1 as ``1 / log c``."""
    assert S.typical_displacement(2e-3, 7, 40) == pytest.approx(40 * math.sqrt(math.pi * 2e-3 * math.log(7)) / 2)
    ratios = []
    for c in (3, 10, 100):
        n = 4 * c + 64
        t = 1e-4
        exact = S.mean_square_displacement(t, c, n)
        continuum = n * n * t * _mode_sum(c) / 2
        assert exact == pytest.approx(continuum, rel=3.0 / n)  # the grid's sin^2 average is 1/2 - O(1/n)
        assert -1.05 < _mode_sum(c) - math.pi / 2 * math.log(c) < -0.5
        ratios.append(exact / S.typical_displacement(t, c, n) ** 2)
    assert ratios == sorted(ratios) and 0.55 < ratios[0] < 0.62 and 0.85 < ratios[-1] < 1.0


def test_temperature_bounds_are_petrinis_formulas():
    for n, c in ((32, 3), (32, 10), (224, 5), (28, 2)):
        t1, t2 = S.temperature_range(n, c)
        assert t1 == pytest.approx(1 / (math.pi * n**2 * math.log(c)), rel=1e-14)
        assert t2 == pytest.approx(4 / (math.pi**3 * c**2 * math.log(c)), rel=1e-14)
        assert S.typical_displacement(t1, c, n) == pytest.approx(0.5)  # T1: half a pixel
        assert S.temperature_for_displacement(0.5, c, n) == pytest.approx(t1)
    # T2 is where <||grad tau||_F^2> * 2 log c = 1 in the continuum (N(c) ~ pi c^2 / 4 modes)
    c = 200
    t2 = S.temperature_range(64, c)[1]
    assert S.mean_square_gradient(t2, c) * 2 * math.log(c) == pytest.approx(1.0, rel=0.02)


def test_mean_square_gradient_matches_monte_carlo():
    """Finite differences of 500 sampled 96x96 fields against ``pi^2 T N(c) / 2``, scaled by ``(n / (n - 1))^2``
    (the field is ``n tau`` on a grid of spacing ``1 / (n - 1)``): within 4 standard errors plus 2% for the rest of
    the discretisation (central differences, one-sided on the border, pixel averages of sin^2 and cos^2)."""
    n, c, t = 96, 4, 1e-3
    fields = S.sample_sine_fields(500, n, t, c, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    d_dy, d_dx = torch.gradient(fields, dim=(1, 2))
    per_field = (d_dx.square().sum(-1) + d_dy.square().sum(-1)).mean(dim=(1, 2))
    expected = S.mean_square_gradient(t, c) * (n / (n - 1)) ** 2
    mean, se = float(per_field.mean()), float(per_field.std() / math.sqrt(len(per_field)))
    assert abs(mean - expected) < 4 * se + 0.02 * expected, (mean, expected, se)


def test_no_overhang_limit_separates_rare_from_frequent_folds():
    """Fixed before running: under 5% of fields fold at T2 / 2, over half at 4 T2 (n = 32, c = 5)."""
    n, c = 32, 5
    t2 = S.temperature_range(n, c)[1]
    g = torch.Generator().manual_seed(4)
    below = S.folds(S.sample_sine_fields(1000, n, t2 / 2, c, generator=g)).float().mean()
    above = S.folds(S.sample_sine_fields(1000, n, 4 * t2, c, generator=g)).float().mean()
    assert float(below) < 0.05 and float(above) > 0.5


def test_sine_deform_applies_the_returned_field():
    g = torch.Generator().manual_seed(5)
    x = torch.rand(3, 2, 24, 24, generator=g, dtype=torch.float64)
    y, field = S.sine_deform(x, S.temperature_range(24, 4)[1], 4, generator=g)
    assert y.dtype == torch.float64 and field.shape == (3, 24, 24, 2) and field.dtype == torch.float64
    torch.testing.assert_close(y, warp(x, field, fill="border"))
    assert float((y - x).abs().max()) > 0


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: S.sample_sine_fields(0, 32, 1e-3, 3), ValueError, "n_fields"),
        (lambda: S.sample_sine_fields(2, 32, -1.0, 3), ValueError, "temperature"),
        (lambda: S.sample_sine_fields(2, 32, 1e-3, 0), ValueError, "cutoff"),
        (lambda: S.sample_sine_fields(2, 32, 1e-3, 2.0), TypeError, "cutoff"),
        (lambda: S.sample_sine_fields(2, (32, 16), 1e-3, 3), ValueError, "size must be square"),
        (lambda: S.sample_sine_fields(2, 32, 1e-3, 3, modes="disc"), ValueError, "modes"),
        (lambda: S.sine_deform(torch.rand(2, 1, 8, 6), 1e-3, 3), ValueError, "size must be square"),
        (lambda: S.sine_deform(torch.rand(2, 1, 8, 8), 1e-3, 3, fill="wrap"), ValueError, "fill"),
        (lambda: S.temperature_range(32, 1), ValueError, "cutoff"),
        (lambda: S.typical_displacement(1e-3, 1, 32), ValueError, "cutoff"),
        (lambda: S.sine_field(torch.zeros(2, 3, 4, 4), 8), ValueError, "coefficients"),
    ],
)
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()
