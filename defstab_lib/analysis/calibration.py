"""How each rule behaves at the spreads we actually observed: simulated verdicts on new units drawn like ours.

:func:`calibrate` takes a claim's observed unit effects (``n`` of them, on the effect's scale: log-ratios for
ratios) and its :class:`~.stats.Rule`, and simulates the rule on ``n`` new units drawn at the observed spread and
shape, with the true mean set to each named effect (e.g. ``{"no effect": 0.0, "minimal": rule.direction *
rule.minimal, "paper": <the paper's effect>}``).  Two generators, both reported, and the rule judged by the worse:

- ``"normal"``: units normal at the observed standard deviation;
- ``"resampled"``: the observed centred residuals resampled with replacement and rescaled by ``sqrt(k/(k-1))``
  (``k`` observed units) so that their SD matches the observed one -- this carries the observed skew.

Both draw their noise once and shift it to every true effect (common random numbers: the rates at different
effects differ by the effect, not by the draw).

What the numbers mean:

- for a claim that an effect exists (direction ±1): :attr:`Calibration.false_support` is the chance of
  *supported* when there is no effect (true mean 0), the worse generator's; :meth:`Calibration.power` the chance
  of *supported* at a named true effect, the worse generator's;
- for a claim of no difference (direction 0, an equivalence test), *supported* means "similar", and no effect is
  the truth of the claim: :attr:`~Calibration.false_support` is the chance of "similar" when the true difference
  is exactly the margin (``±m``, the larger of the two), and :meth:`~Calibration.power` at a named effect the
  chance of "similar" there (at ``"no effect"``: the power to find true similarity).

The interval: below :data:`~.stats.BOOTSTRAP_MIN_N` units the verdicts' own (Student's t); from there on the
verdicts use a BCa bootstrap, which is too slow to simulate thousands of times, so the simulation uses the
t-interval there too and says so in :attr:`Calibration.method`.

:func:`tightened` gives the stricter variant of a rule (*supported* only when the CI clears ``m``), and
:func:`calibration_rows` the table a report shows.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np
from scipy import stats as _stats

from .stats import (
    BOOTSTRAP_MIN_N,
    CONFIDENCE,
    SUPPORTED,
    VERDICTS,
    Estimate,
    Rule,
    decide,
    decide_many,
)

__all__ = ["GENERATORS", "Calibration", "calibrate", "tightened", "calibration_rows"]

#: The two ways new units are drawn: normal at the observed SD, and the observed residuals resampled.
GENERATORS = ("normal", "resampled")


@dataclasses.dataclass(frozen=True)
class Calibration:
    """Simulated verdict rates of one rule at the observed spread.

    Attributes:
        rule: the rule simulated.
        n: units per simulated verdict.
        n_observed: observed units the spread and shape come from.
        sd: their standard deviation (``ddof=1``; the effect's scale).
        skew: their sample skewness (:func:`scipy.stats.skew`, ``bias=False`` from 3 units; 0 for 2; NaN when
            they are all equal).
        sims: simulated verdicts per generator and effect.
        seed: the seed of the simulation's :class:`numpy.random.Generator`.
        effects: the named true effects, ``{name: effect}`` (the effect's scale).
        rates: ``rates[generator][name][verdict]``: the share of simulated verdicts, for every verdict of
            :data:`~.stats.VERDICTS`, per generator of :data:`GENERATORS` and named effect.
        null_rates: the same at the null truths: ``{"0": ...}`` for direction ±1, ``{"-m": ..., "+m": ...}`` (a
            difference exactly at the margin) for direction 0.
        method: the interval used, in words.
    """

    rule: Rule
    n: int
    n_observed: int
    sd: float
    skew: float
    sims: int
    seed: int
    effects: dict[str, float]
    rates: dict[str, dict[str, dict[str, float]]]
    null_rates: dict[str, dict[str, dict[str, float]]]
    method: str

    @property
    def false_support(self) -> float:
        """The worse generator's chance of *supported* at a null truth: no effect (direction ±1), or for an
        equivalence test "similar" at a true difference of exactly ``±m`` (the larger side)."""
        return max(r[SUPPORTED] for g in GENERATORS for r in self.null_rates[g].values())

    def power(self, name: str) -> float:
        """The worse (smaller) generator's chance of *supported* at the named true effect.

        Raises:
            ValueError: ``name`` is not one of :attr:`effects`.
        """
        if name not in self.effects:
            raise ValueError(f"name must be one of the calibrated effects {sorted(self.effects)}, got {name!r}")
        return min(self.rates[g][name][SUPPORTED] for g in GENERATORS)

    def mc_se(self, p: float) -> float:
        """The Monte-Carlo standard error of a simulated share ``p`` (``sqrt(p (1-p) / sims)``)."""
        return math.sqrt(max(p * (1 - p), 0.0) / self.sims)


def tightened(rule: Rule) -> Rule:
    """The stricter variant of ``rule``: *supported* only when the CI's end nearest to no effect lies beyond the
    minimal effect (``Rule.clear``).  An equivalence test (direction 0) already asks the whole CI to lie inside
    its band: it is returned unchanged.

    >>> tightened(Rule(-1, 0.1, "why")).clear, tightened(Rule(0, 0.1, "why")).clear
    (True, False)
    """
    if not isinstance(rule, Rule):
        raise ValueError(f"rule must be a Rule, got {rule!r}")
    return rule if rule.direction == 0 else dataclasses.replace(rule, clear=True)


def _noise(x: np.ndarray, n: int, sims: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``(sims, n)`` zero-mean unit noise per generator, at the observed SD."""
    k, sd = x.size, float(x.std(ddof=1))
    resid = (x - x.mean()) * math.sqrt(k / (k - 1))
    return {"normal": rng.normal(0.0, sd, (sims, n)), "resampled": resid[rng.integers(0, k, (sims, n))]}


def _rates(verdicts: np.ndarray) -> dict[str, float]:
    return {v: float(np.mean(verdicts == v)) for v in VERDICTS}


def _check(units, rule, effects, n, sims) -> tuple[np.ndarray, dict[str, float], int]:
    x = np.asarray(units, dtype=float).ravel()
    if x.size < 2 or not np.all(np.isfinite(x)):
        raise ValueError(f"units must be at least 2 finite unit effects, got {x!r}")
    if not isinstance(rule, Rule):
        raise ValueError(f"rule must be a Rule, got {rule!r}")
    if not isinstance(effects, Mapping):
        raise ValueError(f"effects must map names to true effects, got {effects!r}")
    named = {}
    for name, value in effects.items():
        if not isinstance(name, str) or not (isinstance(value, (int, float, np.floating)) and math.isfinite(value)):
            raise ValueError(f"effects must map names (str) to finite numbers, got {name!r}: {value!r}")
        named[name] = float(value)
    n = x.size if n is None else n
    if not (isinstance(n, (int, np.integer)) and n >= 2):
        raise ValueError(f"n must be an integer >= 2, got {n!r}")
    if not (isinstance(sims, (int, np.integer)) and sims >= 1):
        raise ValueError(f"sims must be an integer >= 1, got {sims!r}")
    return x, named, int(n)


def calibrate(units, rule: Rule, *, effects: Mapping[str, float], n: int | None = None, sims: int = 4000,
              seed: int = 0, decide_fn: Callable[[Estimate, Rule], str] = decide) -> Calibration:
    """Simulate ``rule`` on ``n`` new units drawn at the observed spread and shape of ``units``, with the true mean
    at each named effect and at the null truths (see the module docstring).

    Args:
        units: the claim's observed unit effects ``(k,)``, ``k >= 2``, finite, on the effect's scale.
        rule: the rule to calibrate.
        effects: ``{name: true effect}`` on the effect's scale, e.g. ``{"no effect": 0.0, "minimal":
            rule.direction * rule.minimal, "paper": <the paper's effect>}``.
        n: units per simulated verdict (default: ``k``, the observed number).
        sims: simulated verdicts per generator and effect.
        seed: the seed of the simulation's :class:`numpy.random.Generator`.
        decide_fn: the verdict of an :class:`~.stats.Estimate` under a rule; the default,
            :func:`~.stats.decide`, is applied to all simulations at once (:func:`~.stats.decide_many`); any other
            function is called once per simulation (slow).

    Returns:
        a :class:`Calibration`.

    Raises:
        ValueError: fewer than 2 or non-finite ``units``, a bad ``rule``, ``effects``, ``n`` or ``sims``.

    >>> c = calibrate([-1.2, -0.9, -1.1, -1.0, -0.5], Rule(-1, math.log(1.1), "why"),
    ...               effects={"no effect": 0.0, "minimal": -math.log(1.1), "paper": -math.log(2)})
    >>> round(c.sd, 3), round(c.skew, 2), c.method
    (0.27, 1.34, 't-interval over 5 simulated units')
    >>> c.null_rates["normal"]["0"]["supported"], c.null_rates["resampled"]["0"]["supported"], c.false_support
    (0.02225, 0.097, 0.097)
    >>> c.power("minimal"), c.power("paper")
    (0.0835, 0.988)
    """
    x, named, n = _check(units, rule, effects, n, sims)
    rng = np.random.default_rng(seed)
    noise = _noise(x, n, int(sims), rng)
    m = rule.minimal
    nulls = {"0": 0.0} if rule.direction else {"-m": -m, "+m": m}
    t = float(_stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1))
    rates: dict[str, dict[str, dict[str, float]]] = {}
    null_rates: dict[str, dict[str, dict[str, float]]] = {}
    for g in GENERATORS:
        z = noise[g]
        zmean, hw = z.mean(axis=1), t * z.std(axis=1, ddof=1) / math.sqrt(n)

        def verdicts(effect: float, z=z, zmean=zmean, hw=hw) -> np.ndarray:
            est = effect + zmean
            if decide_fn is decide:
                return decide_many(est, est - hw, est + hw, rule)
            return np.array([decide_fn(Estimate(float(e), float(e - h), float(e + h), n, float(h * math.sqrt(n) / t),
                                                "t-interval", tuple((effect + row).tolist())), rule)
                             for e, h, row in zip(est, hw, z)], dtype=object)

        rates[g] = {name: _rates(verdicts(e)) for name, e in named.items()}
        null_rates[g] = {name: _rates(verdicts(e)) for name, e in nulls.items()}
    sd = float(x.std(ddof=1))
    skew = math.nan if sd == 0 else float(_stats.skew(x, bias=x.size <= 2))
    method = f"t-interval over {n} simulated units"
    if n >= BOOTSTRAP_MIN_N:
        method += (f" (the verdicts use a BCa bootstrap from {BOOTSTRAP_MIN_N} units on; too slow to simulate, the "
                   f"t-interval stands in for it)")
    return Calibration(rule=rule, n=n, n_observed=int(x.size), sd=sd, skew=skew, sims=int(sims), seed=int(seed),
                       effects=named, rates=rates, null_rates=null_rates, method=method)


def _cell(per_generator: Sequence[float], worse: float) -> str:
    a, b = per_generator
    return f"{worse:.1%} (normal {a:.1%}, resampled {b:.1%})"


def calibration_rows(calibrations: Mapping[str, Calibration], *, minimal: str = "minimal",
                     paper: str = "paper") -> list[dict[str, str]]:
    """The report's table of calibrations, one row per claim in the mapping's order: ``claim``, ``n`` (simulated
    units), ``SD`` and ``skew`` of the observed units, ``false support``, ``power at minimal`` and ``power at the
    paper's effect`` (the named effects ``minimal`` and ``paper``; empty where not calibrated), each the worse
    generator's share with both generators' beside it.  For an equivalence rule, "false support" is "similar" at
    a difference of exactly the margin and the powers are "similar" at the named effects (module docstring).

    >>> c = calibrate([0.1, 0.2, 0.15], Rule(1, 0.05, "why"), effects={"minimal": 0.05}, sims=100)
    >>> sorted(calibration_rows({"claim 1": c})[0])
    ['SD', 'claim', 'false support', 'n', 'power at minimal', "power at the paper's effect", 'skew']
    """
    rows = []
    for key, c in calibrations.items():
        if not isinstance(c, Calibration):
            raise ValueError(f"calibrations must map claims to Calibration objects, got {key!r}: {c!r}")
        false = [max(r[SUPPORTED] for r in c.null_rates[g].values()) for g in GENERATORS]

        def power(name: str, c=c) -> str:
            if name not in c.effects:
                return ""
            return _cell([c.rates[g][name][SUPPORTED] for g in GENERATORS], c.power(name))

        rows.append({"claim": key, "n": str(c.n), "SD": f"{c.sd:.3g}",
                     "skew": "" if math.isnan(c.skew) else f"{c.skew:.2f}",
                     "false support": _cell(false, c.false_support), "power at minimal": power(minimal),
                     "power at the paper's effect": power(paper)})
    return rows
