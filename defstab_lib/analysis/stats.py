"""The generic machinery of the verdicts: an effect per independent unit, its confidence interval, the rule that
turns it into a verdict, and how many units would decide an undecided one.

Every claim of the book is tested the same way (:mod:`.claims` holds the eight tests):

1. **One number per independent unit.**  A unit is an independent draw of the random initialisation (a *seed*
   for trained runs; a *draw* of network and probe images for random networks).  Networks that share a draw --
   within a seed the subsample, max-pool and average-pool networks start from the same convolution weights, and
   the random-label and synthetic runs reuse the same initialisations -- are compared *within* it (paired), and
   the comparison becomes that unit's effect.  Effects of ratios are taken on the log scale (a log-ratio of 0 is
   no effect), so that "10% lower" and "10% higher" are the same distance from none.
2. **A 95% confidence interval over units** (:func:`interval`).  With fewer than :data:`BOOTSTRAP_MIN_N` units a
   bootstrap is crude -- with 3 units it has only 10 distinct resamples and its interval is far too narrow -- so
   the interval is Student's t over the units (exact under normal unit effects); with :data:`BOOTSTRAP_MIN_N` or
   more it is :func:`scipy.stats.bootstrap`'s BCa interval of the mean (9,999 resamples, fixed seed).
3. **A rule fixed in advance** (:class:`Rule`): the direction the paper states, and a minimal effect of interest
   ``m`` with the reason for it.  For a claim that an effect exists (direction ±1):

   - *supported*: the interval excludes 0 in the paper's direction and the estimate reaches ``m``;
   - *contradicted*: the interval excludes 0 in the opposite direction;
   - *no meaningful effect*: the interval lies inside ``(-m, m)``;
   - *inconclusive*: otherwise.

   For a claim of *no* difference (direction 0, an equivalence test): *supported* when the interval lies inside
   ``(-m, m)``, *contradicted* when it lies wholly beyond ``m`` or ``-m``, *inconclusive* otherwise.
4. **When inconclusive, how many units would decide it** (:func:`n_needed`): the smallest number of units at
   which, with the estimate and the spread between units as observed, the t-interval would reach one of the
   decisive outcomes.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from scipy import stats as _stats

__all__ = [
    "SUPPORTED", "CONTRADICTED", "NO_EFFECT", "INCONCLUSIVE", "NOT_SUPPORTED", "VERDICTS",
    "CONFIDENCE", "BOOTSTRAP_MIN_N", "Rule", "Estimate", "interval", "decide", "n_needed",
]

SUPPORTED, CONTRADICTED, NO_EFFECT, INCONCLUSIVE = "supported", "contradicted", "no meaningful effect", "inconclusive"
#: The verdicts of the pre-registered tests, in the order the report counts them.
VERDICTS = (SUPPORTED, CONTRADICTED, NO_EFFECT, INCONCLUSIVE)
#: An older verdict some chapters' own rules still give (the kernel view's); not given by :mod:`.claims`.
NOT_SUPPORTED = "not supported"

CONFIDENCE = 0.95
#: From this many independent units on, the interval is a bootstrap one; below it, Student's t.
BOOTSTRAP_MIN_N = 10
_MAX_N = 100_000


@dataclasses.dataclass(frozen=True)
class Rule:
    """A test fixed before looking at the data.

    Attributes:
        direction: the paper's direction on the effect's scale: ``-1`` (the effect is negative, e.g. a ratio
            below 1), ``+1`` (positive), or ``0`` (the paper claims no difference: an equivalence test).
        minimal: the minimal effect of interest ``m > 0``, on the effect's scale (a log-ratio for ratios).
        why: one sentence on why this ``m``.
    """

    direction: int
    minimal: float
    why: str

    def __post_init__(self) -> None:
        if self.direction not in (-1, 0, 1):
            raise ValueError(f"direction must be -1, 0 or 1, got {self.direction!r}")
        if not (isinstance(self.minimal, (int, float)) and self.minimal > 0 and math.isfinite(self.minimal)):
            raise ValueError(f"minimal must be a finite number > 0, got {self.minimal!r}")


@dataclasses.dataclass(frozen=True)
class Estimate:
    """The mean effect over ``n`` independent units and its confidence interval.

    Attributes:
        effect: mean of the units' effects.
        low, high: the interval's ends (NaN with fewer than 2 units).
        n: independent units.
        sd: standard deviation of the units' effects (``ddof=1``; NaN below 2 units).
        method: how the interval was computed, in words.
        values: the units' effects ``(n,)``.
    """

    effect: float
    low: float
    high: float
    n: int
    sd: float
    method: str
    values: tuple[float, ...]


def _t_halfwidth(sd: float, n: int, confidence: float = CONFIDENCE) -> float:
    return float(_stats.t.ppf(0.5 + confidence / 2, n - 1) * sd / math.sqrt(n))


def interval(values, *, confidence: float = CONFIDENCE, seed: int = 0) -> Estimate:
    """Mean of the units' effects with its confidence interval (t below :data:`BOOTSTRAP_MIN_N` units, BCa
    bootstrap from there on).

    Args:
        values: one effect per independent unit, ``(n,)``, finite.
        confidence: the interval's level.
        seed: the bootstrap's random seed (the interval is reproducible).

    >>> e = interval([1.0, 2.0, 3.0])
    >>> round(e.effect, 3), round(e.low, 3), round(e.high, 3), e.method
    (2.0, -0.484, 4.484, 't-interval over 3 independent units')
    """
    x = np.asarray(values, dtype=float).ravel()
    if x.size == 0 or not np.all(np.isfinite(x)):
        raise ValueError(f"values must be a non-empty array of finite numbers, got {x!r}")
    n, mean = int(x.size), float(x.mean())
    if n < 2:
        return Estimate(mean, math.nan, math.nan, n, math.nan, "no interval from 1 unit", tuple(x.tolist()))
    sd = float(x.std(ddof=1))
    if sd == 0.0:
        return Estimate(mean, mean, mean, n, 0.0, f"all {n} units equal", tuple(x.tolist()))
    if n < BOOTSTRAP_MIN_N:
        hw = _t_halfwidth(sd, n, confidence)
        return Estimate(mean, mean - hw, mean + hw, n, sd, f"t-interval over {n} independent units",
                        tuple(x.tolist()))
    res = _stats.bootstrap((x,), np.mean, confidence_level=confidence, n_resamples=9_999, method="BCa",
                           random_state=np.random.default_rng(seed))
    low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
    return Estimate(mean, low, high, n, sd, f"BCa bootstrap over {n} independent units", tuple(x.tolist()))


def decide(estimate: Estimate, rule: Rule) -> str:
    """The verdict of ``rule`` for ``estimate`` (see the module docstring).

    >>> r = Rule(-1, 0.1, "example")
    >>> decide(interval([-0.5, -0.4, -0.45]), r), decide(interval([0.5, 0.4, 0.45]), r)
    ('supported', 'contradicted')
    >>> decide(interval([-0.01, 0.01, 0.0]), r), decide(interval([-0.5, 0.4, 0.0]), r)
    ('no meaningful effect', 'inconclusive')
    """
    low, high, m, s = estimate.low, estimate.high, rule.minimal, rule.direction
    if not (math.isfinite(low) and math.isfinite(high)):
        return INCONCLUSIVE
    inside = -m < low and high < m
    if s == 0:
        if inside:
            return SUPPORTED
        return CONTRADICTED if (low > m or high < -m) else INCONCLUSIVE
    excludes_paper = (low > 0) if s > 0 else (high < 0)
    excludes_opposite = (high < 0) if s > 0 else (low > 0)
    if excludes_paper and s * estimate.effect >= m:
        return SUPPORTED
    if excludes_opposite:
        return CONTRADICTED
    if inside:
        return NO_EFFECT
    return INCONCLUSIVE


def _margins(effect: float, rule: Rule) -> list[float]:
    """The interval half-widths below which each decisive outcome is reached at this estimate."""
    m, a = rule.minimal, abs(effect)
    if rule.direction == 0:
        return [m - a] if a < m else ([a - m] if a > m else [])
    margins = []
    if rule.direction * effect >= m:  # supported is reachable
        margins.append(a)
    if rule.direction * effect < 0:  # contradicted is reachable
        margins.append(a)
    if a < m:  # no meaningful effect is reachable
        margins.append(m - a)
    return [x for x in margins if x > 0]


def n_needed(estimate: Estimate, rule: Rule, *, confidence: float = CONFIDENCE) -> int | None:
    """Independent units that would decide an undecided verdict, if the estimate and the spread between units
    stayed as observed (t-interval; ``None`` when no number would, e.g. an estimate exactly at ``m``, or above
    100,000).

    >>> n_needed(interval([-0.3, 0.1, -0.2]), Rule(-1, 0.05, "example"))
    12
    """
    if estimate.n < 2 or not math.isfinite(estimate.sd):
        return None
    margins = _margins(estimate.effect, rule)
    if not margins:
        return None
    target = max(margins)
    if estimate.sd == 0:
        return estimate.n
    lo, hi = 2, 2
    while _t_halfwidth(estimate.sd, hi, confidence) >= target:
        lo, hi = hi, hi * 2
        if hi > _MAX_N:
            return None
    while lo < hi:  # the smallest n with a half-width below the target
        mid = (lo + hi) // 2
        if _t_halfwidth(estimate.sd, mid, confidence) < target:
            hi = mid
        else:
            lo = mid + 1
    return int(max(hi, estimate.n))
