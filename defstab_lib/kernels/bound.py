"""Fitting the Bietti-Mairal stability bound to measured representation changes.

The bound (Bietti and Mairal, after Mallat 2012) says that for a representation ``Phi`` with ``n`` layers and
pooling of scale ``sigma_n`` (in input pixels), and a deformation ``tau`` with ``||grad tau||_inf <= 1/2``::

    ||Phi(L_tau x) - Phi(x)|| <= (C1 (1 + n) ||grad tau||_inf + C2 ||tau||_inf / sigma_n) ||x||

We fit its right-hand side to measurements: for samples ``i`` (an image and one deformation of it), the change
``y_i`` (e.g. ``||r(tau x) - r(x)|| / ||r(x)||``, :func:`defstab_lib.metrics.relative_change`) is regressed by
ordinary least squares on ``||grad tau_i||_inf`` (pixels per pixel, dimensionless) and ``||tau_i||_inf``
(pixels), jointly and without intercept by default (the bound has none: no deformation, no change)::

    y_i ~ a ||grad tau_i||_inf + b ||tau_i||_inf

``a`` estimates ``C1 (1 + n)`` and ``b`` estimates ``C2 / sigma_n`` (per pixel).  The theory predicts that ``b``
falls as the pooling scale grows.  Two caveats are part of the result (:class:`LinearFit` carries them):

- the bound is an upper bound, and a fit of a typical change is not a fit of a worst case;
- random smooth deformations of growing strength scale ``||tau||`` and ``||grad tau||`` together, so the two
  regressors are strongly correlated (:attr:`LinearFit.correlation`), and ``a`` and ``b`` are then determined
  only as well as their standard errors say.

Stored sweeps (a run's ``Measurement.bound``, or the kernel baselines' sweeps) have the layout
``strengths (S,)``, ``max_displacement``/``max_jacobian`` ``(S, M)`` and ``change`` ``(S, L, M)`` (strength,
layer, image); :func:`sweep_samples` flattens one layer of them into samples and :func:`fit_sweep` fits it.

>>> jac = [0.1, 0.2, 0.1, 0.3, 0.2, 0.4]
>>> disp = [1.0, 1.0, 2.0, 2.0, 3.0, 3.0]
>>> change = [2 * j + 0.1 * d for j, d in zip(jac, disp)]
>>> fit = fit_bound(change, jac, disp)
>>> round(fit.coef["jacobian"], 6), round(fit.coef["displacement"], 6), round(fit.r2, 6)
(2.0, 0.1, 1.0)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["LinearFit", "fit_linear", "fit_bound", "sweep_samples", "fit_sweep", "coefficient_table",
           "THEOREM_JACOBIAN_LIMIT", "TERMS"]

#: Two sweeps' deformation sizes (max displacement, max Jacobian) count as the same within this relative
#: tolerance (the same draws computed on a CPU and on a GPU differ by a float32 rounding, about 6e-8 here).
SAME_RTOL = 1e-6

#: The bound is proven for deformations with ``||grad tau||_inf <= 1/2``.
THEOREM_JACOBIAN_LIMIT = 0.5


@dataclasses.dataclass(frozen=True)
class LinearFit:
    """An ordinary least-squares fit ``y ~ sum_k coef[k] x_k (+ intercept)``.

    Attributes:
        coef: the fitted coefficient of each regressor, by name (in the regressors' order).
        se: the standard error of each coefficient (``sqrt`` of the diagonal of ``s^2 (X^T X)^-1`` with the
            residual variance ``s^2 = SSR / (n - p)``).
        intercept: the fitted intercept, or 0.0 when none was fitted.
        intercept_se: its standard error (``nan`` when none was fitted).
        r2: coefficient of determination ``1 - SSR / SST`` with ``SST`` about the mean of ``y`` (for a fit
            without intercept it can be negative: the fit is then worse than the constant mean).
        rmse: root mean squared residual, in the unit of ``y``.
        n: number of samples.
        correlation: Pearson correlation between the first two regressors (``nan`` for one regressor): near
            +-1, the coefficients trade off against each other and their standard errors grow.
        y_mean: mean of ``y`` (for reading ``rmse`` relative to it).
    """

    coef: dict[str, float]
    se: dict[str, float]
    intercept: float
    intercept_se: float
    r2: float
    rmse: float
    n: int
    correlation: float
    y_mean: float

    def predict(self, **regressors: Any) -> np.ndarray:
        """The fitted ``y`` at the given regressor values (arrays of one shape, one per name in :attr:`coef`)."""
        missing = set(self.coef) - set(regressors)
        if missing or set(regressors) - set(self.coef):
            raise ValueError(f"predict needs exactly the regressors {list(self.coef)}, got {sorted(regressors)}")
        out = self.intercept + sum(c * np.asarray(regressors[k], dtype=float) for k, c in self.coef.items())
        return np.asarray(out, dtype=float)

    def text(self, name: str, *, n_se: float = 2.0, digits: int = 3) -> str:
        """``"coef ± n_se * se"`` of one coefficient, for tables.

        >>> fit_linear([1.0, 2.1, 2.9, 4.2], {"x": [1.0, 2.0, 3.0, 4.0]}).text("x")
        '1.023 ± 0.044'
        """
        if name not in self.coef:
            raise ValueError(f"no coefficient {name!r}; the fit has {list(self.coef)}")
        return f"{self.coef[name]:.{digits}f} ± {n_se * self.se[name]:.{digits}f}"

    def summary(self) -> dict[str, float]:
        """Flat JSON-ready numbers: ``<name>``, ``<name>_se`` per regressor, ``intercept``, ``r2``, ``rmse``,
        ``n``, ``correlation``."""
        out: dict[str, float] = {}
        for k in self.coef:
            out[k], out[f"{k}_se"] = self.coef[k], self.se[k]
        out.update(intercept=self.intercept, r2=self.r2, rmse=self.rmse, n=self.n, correlation=self.correlation)
        return out


def _as_vector(name: str, values: Any) -> np.ndarray:
    try:
        array = np.asarray(values.detach().cpu() if hasattr(values, "detach") else values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be an array of real numbers, got {type(values).__name__}") from exc
    return array.reshape(-1)


def fit_linear(y: Any, regressors: Mapping[str, Any], *, intercept: bool = False) -> LinearFit:
    """Ordinary least squares of ``y`` on named regressors, with standard errors.

    Args:
        y: ``(n,)`` responses (any shape; flattened).
        regressors: ``{name: (n,) values}`` (each flattened; all of ``y``'s size).
        intercept: also fit a constant.

    Raises:
        ValueError: no regressor, sizes that differ, non-finite values, too few samples (at least one more than
            the number of fitted coefficients, for the residual variance), or regressors that are linearly
            dependent (e.g. one of them constant zero, or two proportional).
        TypeError: values that are not real numbers.

    >>> fit = fit_linear([1.0, 3.0, 5.0, 7.0], {"x": [0.0, 1.0, 2.0, 3.0]}, intercept=True)
    >>> round(fit.coef["x"], 6), round(fit.intercept, 6), round(fit.r2, 6)
    (2.0, 1.0, 1.0)
    """
    if not isinstance(regressors, Mapping) or not regressors:
        raise ValueError(f"regressors must be a non-empty mapping {{name: values}}, got {regressors!r}")
    yv = _as_vector("y", y)
    columns = {str(k): _as_vector(f"regressor {k!r}", v) for k, v in regressors.items()}
    for k, v in columns.items():
        if v.shape != yv.shape:
            raise ValueError(f"regressor {k!r} has {v.size} values but y has {yv.size}; they must match")
    names = list(columns)
    design = np.stack([columns[k] for k in names], axis=1)
    if intercept:
        design = np.concatenate([design, np.ones((yv.size, 1))], axis=1)
    if not (np.all(np.isfinite(yv)) and np.all(np.isfinite(design))):
        raise ValueError("y and the regressors must be finite numbers (found nan or inf)")
    n, p = design.shape
    if n <= p:
        raise ValueError(f"need more samples than fitted coefficients ({p}) to estimate errors, got {n} samples")
    scale = np.linalg.norm(design, axis=0)
    if np.any(scale == 0) or np.linalg.matrix_rank(design / np.where(scale == 0, 1, scale)) < p:
        raise ValueError(f"the regressors {names}{' and the intercept' if intercept else ''} are linearly dependent "
                         f"(a constant or zero column, or proportional columns); their coefficients are not determined")
    beta, *_ = np.linalg.lstsq(design, yv, rcond=None)
    residual = yv - design @ beta
    ssr = float(residual @ residual)
    sst = float(((yv - yv.mean()) ** 2).sum())
    s2 = ssr / (n - p)
    cov = s2 * np.linalg.pinv(design.T @ design)
    se = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    correlation = float("nan")
    if len(names) >= 2:
        a, b = columns[names[0]], columns[names[1]]
        if a.std() > 0 and b.std() > 0:
            correlation = float(np.corrcoef(a, b)[0, 1])
    return LinearFit(
        coef={k: float(beta[i]) for i, k in enumerate(names)},
        se={k: float(se[i]) for i, k in enumerate(names)},
        intercept=float(beta[-1]) if intercept else 0.0,
        intercept_se=float(se[-1]) if intercept else float("nan"),
        r2=1.0 - ssr / sst if sst > 0 else float("nan"),
        rmse=float(np.sqrt(ssr / n)),
        n=int(n),
        correlation=correlation,
        y_mean=float(yv.mean()),
    )


#: The bound's two terms, by the names of their coefficients.
TERMS = ("jacobian", "displacement")


def fit_bound(change: Any, max_jacobian: Any, max_displacement: Any, *, intercept: bool = False,
              jacobian_limit: float | None = None, terms: Sequence[str] = TERMS) -> LinearFit:
    """Fit ``change ~ a ||grad tau||_inf + b ||tau||_inf`` (the bound's right-hand side); see the module doc.

    Args:
        change: ``(n,)`` representation changes (any shape; flattened), e.g. relative changes.
        max_jacobian: ``(n,)`` ``||grad tau||_inf`` of each sample's deformation (dimensionless).
        max_displacement: ``(n,)`` ``||tau||_inf`` of each sample's deformation (pixels).
        intercept: also fit a constant (the bound has none).
        jacobian_limit: keep only samples with ``||grad tau||_inf <= jacobian_limit`` (e.g.
            :data:`THEOREM_JACOBIAN_LIMIT`, the bound's domain); ``None`` keeps all.
        terms: which of the two terms to fit, a non-empty subset of :data:`TERMS`: e.g. ``("displacement",)``
            for translations, whose ``||grad tau||_inf`` is 0, or ``("jacobian",)`` for the growth with
            ``||grad tau||_inf`` alone.

    Returns:
        a :class:`LinearFit` with coefficients ``"jacobian"`` (``a``, in units of the change) and
        ``"displacement"`` (``b``, in units of the change per pixel), those of ``terms``.

    Raises:
        ValueError: as :func:`fit_linear`, negative norms, unknown terms, or too few samples within
            ``jacobian_limit``.
    """
    terms = tuple(terms) if not isinstance(terms, str) else (terms,)
    if not terms or any(t not in TERMS for t in terms) or len(set(terms)) != len(terms):
        raise ValueError(f"terms must be a non-empty subset of {TERMS}, got {terms!r}")
    jac, disp = _as_vector("max_jacobian", max_jacobian), _as_vector("max_displacement", max_displacement)
    y = _as_vector("change", change)
    if jac.shape != y.shape or disp.shape != y.shape:
        raise ValueError(f"change, max_jacobian and max_displacement must have the same number of values, got "
                         f"{y.size}, {jac.size} and {disp.size}")
    if np.any(jac < 0) or np.any(disp < 0):
        raise ValueError("max_jacobian and max_displacement are norms and must be >= 0")
    if jacobian_limit is not None:
        if not jacobian_limit > 0:
            raise ValueError(f"jacobian_limit must be > 0 or None, got {jacobian_limit!r}")
        keep = jac <= jacobian_limit
        if keep.sum() <= 2 + intercept:
            raise ValueError(f"only {int(keep.sum())} of {jac.size} samples have ||grad tau||_inf <= "
                             f"{jacobian_limit}; too few to fit")
        y, jac, disp = y[keep], jac[keep], disp[keep]
    columns = {"jacobian": jac, "displacement": disp}
    return fit_linear(y, {t: columns[t] for t in TERMS if t in terms}, intercept=intercept)


def sweep_samples(sweep: Mapping[str, Any], layer: int = -1, *, field: str = "change"
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One layer of a stored bound sweep as flat samples ``(change, max_jacobian, max_displacement)``, each
    ``(S * M,)`` (strength-major).

    Args:
        sweep: ``{"max_displacement": (S, M), "max_jacobian": (S, M), field: (S, L, M), ...}`` (a run's
            ``Measurement.bound`` or a kernel baseline's sweep).
        layer: the layer index into ``L`` (negative counts from the end; -1 is the last layer).
        field: which change to read (``"change"``: relative to the representation's norm; the kernel baselines
            also store ``"change_over_input"``: relative to ``||x||``, the bound's own normalisation).

    >>> s = {"max_displacement": [[1.0, 2.0]], "max_jacobian": [[0.1, 0.2]], "change": [[[0.0, 0.0], [0.3, 0.5]]]}
    >>> [v.tolist() for v in sweep_samples(s)]
    [[0.3, 0.5], [0.1, 0.2], [1.0, 2.0]]
    """
    for key in ("max_displacement", "max_jacobian", field):
        if key not in sweep:
            raise ValueError(f"sweep has no {key!r}; it holds {sorted(sweep)}")
    disp = np.asarray(sweep["max_displacement"], dtype=float)
    jac = np.asarray(sweep["max_jacobian"], dtype=float)
    change = np.asarray(sweep[field], dtype=float)
    if disp.ndim != 2 or jac.shape != disp.shape or change.ndim != 3 or change.shape[::2] != disp.shape:
        raise ValueError(f"sweep arrays must be (S, M) norms and an (S, L, M) {field!r}, got shapes {disp.shape}, "
                         f"{jac.shape} and {change.shape}")
    n_layers = change.shape[1]
    if not -n_layers <= layer < n_layers:
        raise ValueError(f"layer must index one of the sweep's {n_layers} layers, got {layer}")
    return change[:, layer, :].reshape(-1), jac.reshape(-1), disp.reshape(-1)


def fit_sweep(sweep: Mapping[str, Any] | Sequence[Mapping[str, Any]], layer: int = -1, *, field: str = "change",
              intercept: bool = False, jacobian_limit: float | None = None, terms: Sequence[str] = TERMS) -> LinearFit:
    """:func:`fit_bound` on one layer of a stored sweep (see :func:`sweep_samples`), or of several sweeps of the
    *same* images and deformations (e.g. the runs of every seed of one setting), whose changes are then averaged
    per sample: one fit, the slopes of the average network, with standard errors from the samples (images and
    deformations), not inflated by counting each deformation once per network.

    Raises:
        ValueError: as :func:`fit_bound`, no sweep, or sweeps whose deformations differ (by more than a relative
            :data:`SAME_RTOL`: float32 rounding of the same draws on a CPU and a GPU is not a difference).

    >>> s = {"max_displacement": [[1.0, 2.0, 2.0]], "max_jacobian": [[0.1, 0.1, 0.3]],
    ...      "change": [[[0.1, 0.2, 0.4]]]}
    >>> t = {**s, "change": [[[0.3, 0.4, 0.6]]]}
    >>> fit = fit_sweep([s, t])          # changes averaged: [0.2, 0.3, 0.5]
    >>> fit.n, round(fit.coef["jacobian"], 6), round(fit.coef["displacement"], 6)
    (3, 1.0, 0.1)
    """
    sweeps = [sweep] if isinstance(sweep, Mapping) else list(sweep)
    if not sweeps:
        raise ValueError("sweep must be a stored sweep or a non-empty sequence of them")
    samples = [sweep_samples(s, layer, field=field) for s in sweeps]
    change, jac, disp = samples[0]
    for other in samples[1:]:  # the same draws computed on another device may differ in the last float32 bit
        if other[1].shape != jac.shape or not (np.allclose(other[1], jac, rtol=SAME_RTOL, atol=0)
                                               and np.allclose(other[2], disp, rtol=SAME_RTOL, atol=0)):
            raise ValueError("sweeps can only be averaged over the same deformations (their max_jacobian and "
                             f"max_displacement differ by more than a relative {SAME_RTOL:g})")
    change = np.mean([s[0] for s in samples], axis=0)
    return fit_bound(change, jac, disp, intercept=intercept, jacobian_limit=jacobian_limit, terms=terms)


def coefficient_table(fits: Sequence[LinearFit]) -> dict[str, np.ndarray]:
    """The coefficients of several fits as arrays: ``{"jacobian": (k,), "jacobian_se": (k,), "displacement":
    ..., "r2": ...}`` (for plotting coefficients against a parameter)."""
    if not fits:
        raise ValueError("fits must hold at least one LinearFit")
    rows = [f.summary() for f in fits]
    return {k: np.array([r[k] for r in rows], dtype=float) for k in rows[0]}
