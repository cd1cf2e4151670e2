"""Fitting the bound (``defstab_lib/kernels/bound.py``): known slopes recovered, exactly without noise and
within their standard errors with it; sweeps read from their stored layout; bad input refused."""

from __future__ import annotations


import numpy as np
import pytest

from defstab_lib.kernels import bound


def synthetic_sweep(a: float, b: float, noise: float, n: int = 400, seed: int = 0):
    """Samples like a deformation sweep: strengths scale both norms, their ratio varies per sample."""
    rng = np.random.default_rng(seed)
    strength = rng.choice([0.5, 1.0, 2.0, 4.0], size=n)
    disp = strength * rng.uniform(1.0, 1.4, size=n)
    jac = disp * rng.uniform(0.07, 0.19, size=n)
    change = a * jac + b * disp + noise * rng.standard_normal(n)
    return change, jac, disp


def test_fit_bound_recovers_known_slopes_exactly_without_noise():
    change, jac, disp = synthetic_sweep(1.7, 0.03, noise=0.0)
    fit = bound.fit_bound(change, jac, disp)
    assert fit.coef["jacobian"] == pytest.approx(1.7, rel=1e-9)
    assert fit.coef["displacement"] == pytest.approx(0.03, rel=1e-9)
    assert fit.r2 == pytest.approx(1.0) and fit.rmse < 1e-12 and fit.n == 400
    assert fit.correlation > 0.85  # the regressors are strongly correlated, as in a real sweep


def test_fit_bound_recovers_known_slopes_within_their_standard_errors():
    hits, n_trials = 0, 40
    for seed in range(n_trials):
        change, jac, disp = synthetic_sweep(1.2, 0.05, noise=0.02, seed=seed)
        fit = bound.fit_bound(change, jac, disp)
        hits += abs(fit.coef["displacement"] - 0.05) < 2 * fit.se["displacement"]
        assert 0 < fit.se["jacobian"] < 1 and 0 < fit.r2 < 1
    assert hits >= 0.8 * n_trials  # ~95 % coverage expected of a 2-standard-error interval


def test_fit_bound_with_intercept_and_jacobian_limit():
    change, jac, disp = synthetic_sweep(2.0, 0.01, noise=0.0)
    fit = bound.fit_bound(change + 0.3, jac, disp, intercept=True)
    assert fit.intercept == pytest.approx(0.3) and fit.coef["jacobian"] == pytest.approx(2.0)
    limited = bound.fit_bound(change, jac, disp, jacobian_limit=0.3)
    assert limited.n == int((jac <= 0.3).sum()) < jac.size
    assert limited.coef["displacement"] == pytest.approx(0.01)


def test_fit_bound_fits_one_term_when_asked():
    change, jac, disp = synthetic_sweep(0.0, 0.07, noise=0.0)
    only = bound.fit_bound(change, np.zeros_like(jac), disp, terms=("displacement",))  # translations: no gradient
    assert list(only.coef) == ["displacement"] and only.coef["displacement"] == pytest.approx(0.07)
    assert np.isnan(only.correlation)
    with pytest.raises(ValueError, match="linearly dependent"):  # both terms, but the gradient is always 0
        bound.fit_bound(change, np.zeros_like(jac), disp)
    with pytest.raises(ValueError, match="terms"):
        bound.fit_bound(change, jac, disp, terms=("rotation",))


def test_fit_predict_and_summary():
    change, jac, disp = synthetic_sweep(1.0, 0.1, noise=0.0, n=20)
    fit = bound.fit_bound(change, jac, disp)
    np.testing.assert_allclose(fit.predict(jacobian=jac, displacement=disp), change, atol=1e-12)
    assert set(fit.summary()) >= {"jacobian", "jacobian_se", "displacement", "displacement_se", "r2", "n"}
    with pytest.raises(ValueError, match="regressors"):
        fit.predict(jacobian=jac)
    table = bound.coefficient_table([fit, fit])
    assert table["jacobian"].shape == (2,)


@pytest.mark.parametrize(
    "args, match",
    [
        (([1.0, 2.0, 3.0], [0.1, 0.2], [1.0, 2.0, 3.0]), "same number"),
        (([1.0, np.nan, 3.0, 4.0], [0.1, 0.2, 0.1, 0.3], [1.0, 2.0, 3.0, 1.0]), "finite"),
        (([1.0, 2.0], [0.1, 0.2], [1.0, 3.0]), "more samples"),
        (([1.0, 2.0, 3.0, 4.0], [0.1, 0.2, 0.3, 0.4], [1.0, 2.0, 3.0, 4.0]), "linearly dependent"),
        (([1.0, 2.0, 3.0, 4.0], [0.0, 0.0, 0.0, 0.0], [1.0, 2.0, 3.0, 4.0]), "linearly dependent"),
        (([1.0, 2.0, 3.0, 4.0], [0.1, -0.2, 0.1, 0.3], [1.0, 2.0, 3.0, 1.0]), ">= 0"),
    ],
)
def test_fit_bound_rejects_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        bound.fit_bound(*args)


def test_fit_bound_rejects_a_limit_that_leaves_too_few_samples():
    change, jac, disp = synthetic_sweep(1.0, 0.1, noise=0.0, n=20)
    with pytest.raises(ValueError, match="too few"):
        bound.fit_bound(change, jac, disp, jacobian_limit=1e-6)
    with pytest.raises(TypeError):
        bound.fit_linear(["a", "b", "c"], {"x": [1.0, 2.0, 3.0]})
    with pytest.raises(ValueError, match="non-empty"):
        bound.fit_linear([1.0, 2.0], {})


def test_sweep_samples_reads_a_stored_layout_and_checks_it():
    sweep = {"strengths": [1.0, 2.0], "max_displacement": [[1.0, 1.5], [2.0, 3.0]],
             "max_jacobian": [[0.1, 0.2], [0.2, 0.4]],
             "change": [[[0.0, 0.0], [0.1, 0.2]], [[0.0, 0.0], [0.3, 0.5]]]}
    change, jac, disp = bound.sweep_samples(sweep, layer=1)
    assert change.tolist() == [0.1, 0.2, 0.3, 0.5] and disp.tolist() == [1.0, 1.5, 2.0, 3.0]
    with pytest.raises(ValueError, match="layer"):
        bound.sweep_samples(sweep, layer=2)
    with pytest.raises(ValueError, match="no 'change_over_input'"):
        bound.sweep_samples(sweep, field="change_over_input")
    with pytest.raises(ValueError, match="shapes"):
        bound.sweep_samples({**sweep, "change": [[0.1, 0.2]]})


def test_fit_sweep_averages_the_networks_of_one_setting_over_the_same_deformations():
    change, jac, disp = synthetic_sweep(1.5, 0.04, noise=0.0, n=40)
    as_sweep = lambda c: {"max_jacobian": jac.reshape(4, 10), "max_displacement": disp.reshape(4, 10),  # noqa: E731
                          "change": c.reshape(4, 1, 10)}
    up, down = as_sweep(change + 0.01 * jac), as_sweep(change - 0.01 * jac)  # two "seeds" around the truth
    fit = bound.fit_sweep([up, down])
    assert fit.n == 40 and fit.coef["jacobian"] == pytest.approx(1.5) and fit.coef["displacement"] == pytest.approx(0.04)
    other = {**down, "max_jacobian": 2 * jac.reshape(4, 10)}
    with pytest.raises(ValueError, match="same deformations"):
        bound.fit_sweep([up, other])
    with pytest.raises(ValueError, match="same deformations"):  # a thousandth apart: other deformations
        bound.fit_sweep([up, {**down, "max_jacobian": 1.001 * jac.reshape(4, 10)}])
    # the same draws computed on a GPU: the last float32 bit differs (about 6e-8 relative), still one sweep
    gpu = {**down, "max_jacobian": jac.reshape(4, 10) * (1 + 6e-8)}
    assert bound.fit_sweep([up, gpu]).coef["jacobian"] == pytest.approx(1.5, rel=1e-5)
    with pytest.raises(ValueError, match="non-empty"):
        bound.fit_sweep([])
