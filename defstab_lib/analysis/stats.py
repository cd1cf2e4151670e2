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
5. **Room to move** (:class:`Room`).  A verdict that says the claimed effect is absent -- *no meaningful effect*
   or *contradicted* for direction ±1, *supported* ("similar") for an equivalence test -- can only be read so if
   the measured quantity moved enough to have shown the effect.  When the caller states how far it moved and how
   far it had to move, and it moved less, that verdict becomes *uninformative* (:data:`UNINFORMATIVE`).  A
   verdict that finds the effect (or, for an equivalence test, a difference) needs no such room.
6. **A stricter variant** (``Rule(..., clear=True)``, :func:`~.calibration.tightened`): *supported* requires the
   interval's end nearest to no effect to lie beyond ``m`` (the CI clears ``m``, not only the estimate).
7. **The probe as a shared random factor** (:func:`probe_replicates`, :func:`interval_with_probe`): every run of
   a profile is measured on the same probe images, so the probe's sampling variance is common to all units and
   the t-interval over units misses it; these widen the interval by it.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from scipy import stats as _stats

__all__ = [
    "SUPPORTED", "CONTRADICTED", "NO_EFFECT", "INCONCLUSIVE", "UNINFORMATIVE", "NOT_SUPPORTED", "VERDICTS",
    "CONFIDENCE", "BOOTSTRAP_MIN_N", "Rule", "Room", "Estimate", "interval", "decide", "decide_many", "n_needed",
    "needs_room", "probe_replicates", "interval_with_probe",
]

SUPPORTED, CONTRADICTED, NO_EFFECT, INCONCLUSIVE = "supported", "contradicted", "no meaningful effect", "inconclusive"
#: A "no difference"-type verdict the data could not have given otherwise: the measured quantity moved too little
#: to have shown the effect (:class:`Room`).
UNINFORMATIVE = "uninformative"
#: The verdicts of the pre-registered tests, in the order the report counts them.
VERDICTS = (SUPPORTED, CONTRADICTED, NO_EFFECT, INCONCLUSIVE, UNINFORMATIVE)
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
        clear: for direction ±1 only: *supported* requires the interval's end nearest to no effect to lie beyond
            ``m`` in the paper's direction (the CI clears ``m``), not only the estimate to reach ``m``.  ``False``
            (the default) is the pre-registered rule.  An equivalence test already asks the whole CI to lie
            inside the band, so ``clear=True`` with direction 0 is refused.
    """

    direction: int
    minimal: float
    why: str
    clear: bool = False

    def __post_init__(self) -> None:
        if self.direction not in (-1, 0, 1):
            raise ValueError(f"direction must be -1, 0 or 1, got {self.direction!r}")
        if not (isinstance(self.minimal, (int, float)) and self.minimal > 0 and math.isfinite(self.minimal)):
            raise ValueError(f"minimal must be a finite number > 0, got {self.minimal!r}")
        if not isinstance(self.clear, bool):
            raise ValueError(f"clear must be True or False, got {self.clear!r}")
        if self.clear and self.direction == 0:
            raise ValueError("clear applies to direction -1 or +1 only: an equivalence test (direction 0) already "
                             "requires the whole CI inside the band")


@dataclasses.dataclass(frozen=True)
class Room:
    """How far the measured quantity moved, beside how far it had to move to show the effect.

    Attributes:
        moved: how far the quantity moved, on the effect's scale (a log-ratio for ratios), ``>= 0``.
        needed: how far it had to move to be able to show an effect of the minimal size, same scale, ``> 0``.
        words: the reason in words, e.g. "before the matched loss, training moved filter TV by 1.9% on average,
            less than twice the 3% margin (6%) needed to show a 3% difference between tasks".

    >>> Room(0.019, 0.058, "moved 1.9%, needed 6%").ok, Room(0.1, 0.058, "moved 10%").ok
    (False, True)
    """

    moved: float
    needed: float
    words: str

    def __post_init__(self) -> None:
        if not (isinstance(self.moved, (int, float)) and math.isfinite(self.moved) and self.moved >= 0):
            raise ValueError(f"moved must be a finite number >= 0, got {self.moved!r}")
        if not (isinstance(self.needed, (int, float)) and math.isfinite(self.needed) and self.needed > 0):
            raise ValueError(f"needed must be a finite number > 0, got {self.needed!r}")
        if not (isinstance(self.words, str) and self.words.strip()):
            raise ValueError(f"words must be a non-empty string, got {self.words!r}")

    @property
    def ok(self) -> bool:
        """Whether the quantity moved at least as far as needed."""
        return self.moved >= self.needed

    def as_dict(self) -> dict:
        """``moved``, ``needed`` (the effect's scale), ``ok`` and ``words``, for JSON."""
        return {"moved": float(self.moved), "needed": float(self.needed), "ok": self.ok, "words": self.words}


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
        probe_share: for :func:`interval_with_probe`, the probe's share of the squared standard error (0 to 1);
            NaN when the probe was not accounted for.
    """

    effect: float
    low: float
    high: float
    n: int
    sd: float
    method: str
    values: tuple[float, ...]
    probe_share: float = math.nan


def _t_halfwidth(sd: float, n: int, confidence: float = CONFIDENCE) -> float:
    return float(_stats.t.ppf(0.5 + confidence / 2, n - 1) * sd / math.sqrt(n))


def _finite_units(values, name: str = "values") -> np.ndarray:
    x = np.asarray(values, dtype=float).ravel()
    if x.size == 0 or not np.all(np.isfinite(x)):
        raise ValueError(f"{name} must be a non-empty array of finite numbers, got {x!r}")
    return x


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
    x = _finite_units(values)
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


def decide_many(effect, low, high, rule: Rule) -> np.ndarray:
    """:func:`decide` for many estimates at once (the calibration's simulations): arrays ``effect``, ``low`` and
    ``high`` of one shape (broadcast) to an array of verdicts (strings) of that shape.  No room is considered.

    >>> decide_many([-0.45, 0.45], [-0.5, 0.4], [-0.4, 0.5], Rule(-1, 0.1, "example")).tolist()
    ['supported', 'contradicted']
    """
    effect, low, high = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (effect, low, high)))
    m, s = rule.minimal, rule.direction
    finite = np.isfinite(low) & np.isfinite(high)
    inside = (-m < low) & (high < m)
    out = np.full(effect.shape, INCONCLUSIVE, dtype=object)
    if s == 0:
        out[(low > m) | (high < -m)] = CONTRADICTED
        out[inside] = SUPPORTED
    else:
        excludes_paper = (low > 0) if s > 0 else (high < 0)
        excludes_opposite = (high < 0) if s > 0 else (low > 0)
        if rule.clear:  # the CI's end nearest to no effect lies beyond m
            supported = (low > m) if s > 0 else (high < -m)
        else:
            supported = excludes_paper & (s * effect >= m)
        out[inside] = NO_EFFECT
        out[excludes_opposite & ~supported] = CONTRADICTED
        out[supported] = SUPPORTED
    out[~finite] = INCONCLUSIVE
    return out


def needs_room(verdict: str, rule: Rule) -> bool:
    """Whether ``verdict`` says the claimed effect is absent, so that it can only be read when the quantity had
    room to move (:class:`Room`): *no meaningful effect* or *contradicted* for direction ±1, *supported*
    ("similar") for an equivalence test.  (An equivalence test's *contradicted* finds a difference: it needs no
    room.)

    >>> needs_room("no meaningful effect", Rule(-1, 0.1, "x")), needs_room("supported", Rule(0, 0.1, "x"))
    (True, True)
    >>> needs_room("supported", Rule(-1, 0.1, "x")), needs_room("contradicted", Rule(0, 0.1, "x"))
    (False, False)
    """
    if rule.direction == 0:
        return verdict == SUPPORTED
    return verdict in (NO_EFFECT, CONTRADICTED)


def decide(estimate: Estimate, rule: Rule, room: Room | None = None) -> str:
    """The verdict of ``rule`` for ``estimate`` (see the module docstring); with ``room`` given and not
    :attr:`Room.ok`, a verdict that says the effect is absent (:func:`needs_room`) is :data:`UNINFORMATIVE`.

    >>> r = Rule(-1, 0.1, "example")
    >>> decide(interval([-0.5, -0.4, -0.45]), r), decide(interval([0.5, 0.4, 0.45]), r)
    ('supported', 'contradicted')
    >>> decide(interval([-0.01, 0.01, 0.0]), r), decide(interval([-0.5, 0.4, 0.0]), r)
    ('no meaningful effect', 'inconclusive')
    >>> decide(interval([-0.01, 0.01, 0.0]), r, Room(0.02, 0.2, "the quantity moved 2%, 20% needed"))
    'uninformative'
    >>> decide(interval([-0.5, -0.4, -0.45]), r, Room(0.02, 0.2, "the quantity moved 2%, 20% needed"))
    'supported'
    >>> decide(interval([-0.15, -0.11, -0.13]), r), decide(interval([-0.15, -0.11, -0.13]), Rule(-1, 0.1, "x", True))
    ('supported', 'inconclusive')
    """
    if room is not None and not isinstance(room, Room):
        raise ValueError(f"room must be a Room or None, got {room!r}")
    verdict = str(decide_many(estimate.effect, estimate.low, estimate.high, rule)[()])
    if room is not None and not room.ok and needs_room(verdict, rule):
        return UNINFORMATIVE
    return verdict


def _margins(effect: float, rule: Rule, informative_only: bool = False) -> list[float]:
    """The interval half-widths below which each decisive outcome is reached at this estimate (with
    ``informative_only``, only the outcomes that need no room: :func:`needs_room`)."""
    m, a, s = rule.minimal, abs(effect), rule.direction
    if s == 0:
        if a < m:
            return [] if informative_only else [m - a]
        return [a - m] if a > m else []
    margins = []
    if s * effect >= m:  # supported is reachable
        margins.append(a - m if rule.clear else a)
    if s * effect < 0 and not informative_only:  # contradicted is reachable
        margins.append(a)
    if a < m and not informative_only:  # no meaningful effect is reachable
        margins.append(m - a)
    return [x for x in margins if x > 0]


def n_needed(estimate: Estimate, rule: Rule, *, confidence: float = CONFIDENCE,
             room: Room | None = None) -> int | None:
    """Independent units that would decide an undecided verdict, if the estimate and the spread between units
    stayed as observed (t-interval; ``None`` when no number would, e.g. an estimate exactly at ``m``, or above
    100,000).  With ``room`` given and not ok, only outcomes that need no room count as deciding (more units
    would only make a "no difference" verdict uninformative).  For a rule with ``clear``, *supported* is reached
    when the half-width falls below ``|effect| - m``.

    >>> n_needed(interval([-0.3, 0.1, -0.2]), Rule(-1, 0.05, "example"))
    12
    >>> n_needed(interval([-0.3, 0.1, -0.2]), Rule(-1, 0.05, "example", clear=True))
    27
    """
    if estimate.n < 2 or not math.isfinite(estimate.sd):
        return None
    margins = _margins(estimate.effect, rule, informative_only=room is not None and not room.ok)
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


def probe_replicates(per_image: np.ndarray, statistic, *, n_boot: int = 999, seed: int = 0) -> np.ndarray:
    """The units' effects recomputed on resampled probes: the probe's sampling variability, crossed with units.

    Every unit is measured on the same ``N`` probe images, so a replicate draws ``N`` image indices ONCE, with
    replacement, and applies the same indices to every unit (crossed, not nested: an image-level shock shared by
    all units moves every unit's effect together, as it does in the data).

    Args:
        per_image: ``(units, ..., N)`` raw per-image values, finite; the last axis is the ``N >= 2`` probe
            images, the same images for every unit.
        statistic: maps an array of ``per_image``'s shape (its last axis resampled) to the ``(units,)`` unit
            effects (on the scale of the verdict, e.g. log-ratios).
        n_boot: replicates, ``>= 2``.
        seed: the seed of the resampling's :class:`numpy.random.Generator`.

    Returns:
        ``(n_boot, units)``: each replicate's unit effects.

    >>> x = np.arange(12.0).reshape(3, 4)  # 3 units, 4 images
    >>> probe_replicates(x, lambda a: a.mean(axis=-1), n_boot=5).shape
    (5, 3)
    """
    a = np.asarray(per_image, dtype=float)
    if a.ndim < 2 or a.shape[0] < 1 or a.shape[-1] < 2:
        raise ValueError(f"per_image must be (units, ..., N) with N >= 2 images, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError("per_image must hold finite numbers only")
    if not callable(statistic):
        raise ValueError(f"statistic must be callable, got {statistic!r}")
    if not (isinstance(n_boot, (int, np.integer)) and n_boot >= 2):
        raise ValueError(f"n_boot must be an integer >= 2, got {n_boot!r}")
    units, n_images = a.shape[0], a.shape[-1]
    rng = np.random.default_rng(seed)
    out = np.empty((int(n_boot), units))
    for b in range(int(n_boot)):
        idx = rng.integers(0, n_images, n_images)  # one draw of images, shared by every unit
        r = np.asarray(statistic(a[..., idx]), dtype=float)
        if r.shape != (units,):
            raise ValueError(f"statistic must return ({units},) unit effects, got shape {r.shape}")
        out[b] = r
    if not np.all(np.isfinite(out)):
        raise ValueError("statistic gave non-finite unit effects on a resampled probe")
    return out


def interval_with_probe(values, replicates, *, confidence: float = CONFIDENCE) -> Estimate:
    """The units' mean effect with a t-interval widened by the probe's sampling variance.

    The squared standard error is ``s²/n`` (the spread between the ``n`` independent units) plus the variance,
    over the probe replicates, of the replicate's mean over units (the probe's variance of the mean,
    :func:`probe_replicates`).  Degrees of freedom ``n - 1``: conservative (the probe's part is estimated from
    many images, and the unit-by-image part is counted in both terms).  Always a t-interval, whatever ``n``.

    Args:
        values: the units' effects on the full probe, ``(n,)``, finite, ``n >= 2`` for an interval.
        replicates: ``(n_boot, n)`` from :func:`probe_replicates`, finite.
        confidence: the interval's level.

    Returns:
        an :class:`Estimate` whose ``probe_share`` is the probe's share of the squared standard error.

    >>> e = interval_with_probe([1.0, 2.0, 3.0], np.array([[1.0, 2.0, 3.0], [1.2, 2.2, 3.2]]))
    >>> round(e.high - e.effect, 3), round(e.probe_share, 3)
    (2.558, 0.057)
    >>> e.method
    "t-interval over 3 independent units widened by the probe's resampling variance (probe share 6%)"
    """
    x = _finite_units(values)
    reps = np.asarray(replicates, dtype=float)
    n = int(x.size)
    if reps.ndim != 2 or reps.shape[1] != n or reps.shape[0] < 2:
        raise ValueError(f"replicates must be (n_boot >= 2, {n}), got shape {reps.shape}")
    if not np.all(np.isfinite(reps)):
        raise ValueError("replicates must hold finite numbers only")
    mean = float(x.mean())
    if n < 2:
        return Estimate(mean, math.nan, math.nan, n, math.nan, "no interval from 1 unit", tuple(x.tolist()))
    sd = float(x.std(ddof=1))
    probe_var = float(reps.mean(axis=1).var(ddof=1))
    se2 = sd ** 2 / n + probe_var
    if se2 == 0.0:
        return Estimate(mean, mean, mean, n, sd, f"all {n} units equal on every resampled probe",
                        tuple(x.tolist()), 0.0)
    share = probe_var / se2
    hw = float(_stats.t.ppf(0.5 + confidence / 2, n - 1) * math.sqrt(se2))
    method = (f"t-interval over {n} independent units widened by the probe's resampling variance "
              f"(probe share {share:.0%})")
    return Estimate(mean, mean - hw, mean + hw, n, sd, method, tuple(x.tolist()), share)
