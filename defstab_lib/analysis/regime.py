"""The criteria of issue 26's synthetic regime search (``results/pilot-synthetic/RULE.md``, fixed before its
pilots ran), computed on a candidate's stored pilots (:mod:`defstab_lib.runs.pilots`).

- **R1 (room)**: in the C = 1 task, at the comparison point (the end of training), the mean normalised filter TV
  over the conv layers has moved at least :data:`R1_MOVED` from initialisation, averaged over the pilot seeds
  (:func:`tv_moved` per run).
- **R2 (power)**: per pilot seed, ``u = log(TV at C = 4 ÷ TV at C = 1)`` at the comparison point; 5 new seeds drawn
  normal at the sample SD of ``u`` with true mean ``log(1 - R2_DIFFERENCE)`` are judged by claim 5's rule; the
  share judged *supported* is at least :data:`R2_POWER` (:func:`~.calibration.calibrate`, its normal generator).

:func:`screen` applies R1 to the screening run alone (it can only reject a candidate); :func:`outcome` gives both
criteria on a candidate's runs, and :func:`outcome_rows` one row per run for the record (TV at 0, at L* = 1 nat and
at the end, and the share moved).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from ..runs.store import Results
from .arrays import by_seed
from .calibration import calibrate
from .claims import CLAIMS
from .matched import at_training_loss
from .stats import SUPPORTED

__all__ = ["R1_MOVED", "R2_POWER", "R2_DIFFERENCE", "R2_SEEDS", "R2_SIMS", "WEAK", "STRONG", "MATCHED_LOSS",
           "tv_moved", "screen", "Outcome", "outcome", "outcome_rows"]

#: R1: the least share by which the C = 1 task's mean filter TV must have moved from initialisation at the end.
R1_MOVED = 0.10
#: R2: the least simulated power of claim 5's rule at a true difference of :data:`R2_DIFFERENCE`.
R2_POWER = 0.80
#: R2: the true difference in TV between C = 4 and C = 1 the power is computed at (the paper's direction: smoother).
R2_DIFFERENCE = 0.10
#: R2: the seeds of the campaign the power is computed for.
R2_SEEDS = 5
#: R2: simulated verdicts (a Monte-Carlo standard error under 0.7 points at 80%).
R2_SIMS = 4000
#: The weakest and strongest tasks compared.
WEAK, STRONG = 1.0, 4.0
#: The matched training loss reported beside the comparison point (the ``standard`` profile's L*), in nats.
MATCHED_LOSS = 1.0


def _tv(values) -> float:
    return float(np.mean(np.asarray(values, dtype=float)))


def tv_moved(run: Results) -> float:
    """How far the run's mean filter TV moved from initialisation by the end of training,
    ``|TV(end) / TV(0) - 1|`` (TV: TV/‖W‖₁ averaged over the conv layers)."""
    return abs(_tv(run.final.smoothness) / _tv(run.initial.smoothness) - 1)


def screen(run: Results) -> bool:
    """R1 on the screening run alone (the first seed at C = 1): ``False`` rejects the candidate."""
    if run.config.data.strength != WEAK:
        raise ValueError(f"run must be a C = {WEAK:g} run, got C = {run.config.data.strength:g} ({run.file})")
    return tv_moved(run) >= R1_MOVED


@dataclasses.dataclass(frozen=True)
class Outcome:
    """Both criteria on a candidate's pilots.

    Attributes:
        moved: R1's statistic, the mean over seeds of :func:`tv_moved` at C = 1.
        r1: ``moved >= R1_MOVED``.
        units: R2's per-seed ``log(TV at C = 4 ÷ TV at C = 1)`` at the end, in the seeds' order.
        sd: their sample SD (``ddof=1``).
        power: the simulated share of *supported* at a true difference of :data:`R2_DIFFERENCE`
            (``nan`` with fewer than two seeds).
        r2: ``power >= R2_POWER``.
    """

    moved: float
    r1: bool
    units: tuple[float, ...]
    sd: float
    power: float
    r2: bool

    @property
    def passes(self) -> bool:
        return self.r1 and self.r2


def outcome(runs: Sequence[Results]) -> Outcome:
    """R1 and R2 on a candidate's pilots (seeds with both strengths count toward R2; every C = 1 run toward R1).

    Raises:
        ValueError: no C = 1 run among ``runs``.
    """
    seeds = by_seed(runs, "strength")
    weak = [s[WEAK] for s in seeds.values() if WEAK in s]
    if not weak:
        raise ValueError(f"runs must hold at least one C = {WEAK:g} run")
    moved = float(np.mean([tv_moved(r) for r in weak]))
    units = tuple(math.log(_tv(s[STRONG].final.smoothness) / _tv(s[WEAK].final.smoothness))
                  for s in seeds.values() if WEAK in s and STRONG in s)
    if len(units) >= 2:
        c = calibrate(units, CLAIMS["synthetic"].rule, effects={"target": math.log(1 - R2_DIFFERENCE)},
                      n=R2_SEEDS, sims=R2_SIMS, seed=0)
        power, sd = c.rates["normal"]["target"][SUPPORTED], c.sd
    else:
        power, sd = math.nan, math.nan
    return Outcome(moved=moved, r1=moved >= R1_MOVED, units=units, sd=sd, power=float(power),
                   r2=bool(power >= R2_POWER))


def outcome_rows(runs: Sequence[Results]) -> list[dict[str, str]]:
    """One row per pilot for ``RULE.md``: seed, C, the epoch its training loss reached L* = 1 nat, mean TV at 0,
    at L* and at the end, TV moved by the end, final train and test accuracy, and the run's file."""
    rows = []
    for r in sorted(runs, key=lambda r: (r.config.seed, r.config.data.strength)):
        at = at_training_loss(r, "smoothness", MATCHED_LOSS)
        when = at_training_loss(r, "epoch", MATCHED_LOSS)
        rows.append({"seed": str(r.config.seed), "C": f"{r.config.data.strength:g}",
                     "L* reached at epoch": "never" if when is None else f"{when:.1f}",
                     "TV at 0": f"{_tv(r.initial.smoothness):.4f}",
                     "TV at L*": "-" if at is None else f"{_tv(at):.4f}",
                     "TV at end": f"{_tv(r.final.smoothness):.4f}", "moved by end": f"{tv_moved(r):.1%}",
                     "train / test acc.": f"{r.final.train_accuracy:.3f} / {r.final.test_accuracy:.3f}",
                     "file": r.file})
    return rows
