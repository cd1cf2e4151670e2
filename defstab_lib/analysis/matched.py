"""A run's measurements at a matched training loss: the synthetic tasks compared while their filters still change.

The synthetic tasks of the paper's section 4.3 are learned within an epoch or two, after which the filters stop
moving (``results/pilot-synthetic/RULE.md``): compared after training, every task's filters are frozen.  A
profile with ``synthetic_matched_loss`` (``standard``) therefore compares its tasks at the moment each run's
training loss first reaches the same level L*, measured densely (every epoch of 4 SGD steps).

The value at L* is interpolated linearly in log(training loss) between the last measurement above L* and the
first at or below it; later measurements are not used (a loss that rises again does not move the matched point).
A run whose training loss never reaches L* has no value there.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from ..runs.profiles import PROFILES
from ..runs.store import Results

__all__ = ["matched_loss_level", "level_words", "at_training_loss", "loss_trajectory", "trajectories", "still_changing",
           "comparison_rows", "comparison_sentence", "PILOT_SHARE"]

#: The pilot criterion's threshold (``results/pilot-synthetic/RULE.md``): at L* at least this share of the
#: filters' whole change in TV is still ahead of them.
PILOT_SHARE = 0.10


def matched_loss_level(results: Sequence[Results]) -> float | None:
    """The profile's L* (``Profile.synthetic_matched_loss``) of ``results``, ``None`` where the profile compares
    after training (and for runs made outside a profile); ``ValueError`` if the runs' profiles disagree."""
    levels = {PROFILES[r.config.profile].synthetic_matched_loss if r.config.profile in PROFILES else None
              for r in results}
    if len(levels) > 1:
        raise ValueError(f"the runs come from profiles with different matched losses: {sorted(levels, key=str)}")
    return levels.pop() if levels else None


def level_words(level: float) -> str:
    """A training-loss level in words, as every page states L*.

    >>> level_words(1.0), level_words(0.5)
    ('1 nat', '0.5 nats')
    """
    return f"{level:g} {'nat' if level == 1 else 'nats'}"


def _bracket(result: Results, level: float):
    previous = None
    for m in sorted(result.measurements, key=lambda m: m.epoch):
        if m.train_loss <= level:
            if previous is None:
                return m, m, 1.0
            hi, lo = math.log(previous.train_loss), math.log(m.train_loss)
            return previous, m, (hi - math.log(level)) / (hi - lo)
        previous = m
    return None


def at_training_loss(result: Results, field: str, level: float) -> np.ndarray | float | None:
    """``field`` of ``result`` where its training loss first reaches ``level`` (nats), or ``None`` if it never does.

    ``field``: a :class:`~defstab_lib.runs.store.Measurement` attribute, per layer (``smoothness``: ``(conv
    layers,)`` TV/‖W‖₁; ``cosine``: ``(layers + 1,)``) or a number (``epoch``, ``test_accuracy``).

    >>> from defstab_lib.runs.store import Measurement
    >>> class Run:  # two measurements: loss 2.0 then 0.125 at epochs 0 and 4
    ...     measurements = [Measurement(epoch=0, cosine=[], euclidean=[], noise_cosine=[], smoothness=[1.8],
    ...                                 train_accuracy=0.1, test_accuracy=0.1, train_loss=2.0, test_loss=2.0),
    ...                     Measurement(epoch=4, cosine=[], euclidean=[], noise_cosine=[], smoothness=[1.6],
    ...                                 train_accuracy=0.9, test_accuracy=0.9, train_loss=0.125, test_loss=0.2)]
    >>> float(at_training_loss(Run(), "epoch", 0.5))  # half-way in log(loss)
    2.0
    >>> at_training_loss(Run(), "smoothness", 0.5).round(3).tolist()
    [1.7]
    >>> at_training_loss(Run(), "epoch", 0.1) is None
    True
    """
    found = _bracket(result, level)
    if found is None:
        return None
    a, b, w = found
    va, vb = np.asarray(getattr(a, field), dtype=float), np.asarray(getattr(b, field), dtype=float)
    value = (1 - w) * va + w * vb
    return float(value) if value.ndim == 0 else value


def loss_trajectory(result: Results, field: str = "smoothness") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(epochs (m,), training loss (m,) in nats, field averaged over its layers (m,))`` at every measurement,
    in order: the curve on which :func:`at_training_loss` reads its value."""
    ms = sorted(result.measurements, key=lambda m: m.epoch)
    return (np.array([m.epoch for m in ms], dtype=float), np.array([m.train_loss for m in ms], dtype=float),
            np.array([float(np.mean(getattr(m, field))) for m in ms]))


def trajectories(groups: Mapping[float, Sequence[Results]], level: float | None, field: str = "smoothness"
                 ) -> tuple[dict[str, list], dict[str, list]]:
    """For :func:`defstab_lib.plots.trajectories.plot_loss_trajectories`: ``({"C = c": [loss_trajectory(run),
    ...]}, {"C = c": [mean of field at L* or None, ...]})`` per strength C of ``groups`` (``{C: runs}``); the
    second is empty where ``level`` is ``None``."""
    curves = {f"C = {c:g}": [loss_trajectory(r, field) for r in runs] for c, runs in groups.items()}
    points = {}
    if level is not None:
        for c, runs in groups.items():
            values = [at_training_loss(r, field, level) for r in runs]
            points[f"C = {c:g}"] = [None if v is None else float(np.mean(v)) for v in values]
    return curves, points


def still_changing(result: Results, level: float, *, share: float = PILOT_SHARE) -> dict:
    """The pilot criterion of ``results/pilot-synthetic/RULE.md`` for one run: at L* = ``level`` the mean TV over
    conv layers is still at least ``share`` of its whole change away from its end value.

    Returns ``{"epoch_at_level", "tv_init", "tv_at_level", "tv_end", "remaining_share", "passes"}``
    (``remaining_share`` = |TV(end) − TV(L*)| / |TV(end) − TV(0)|; ``None`` values where L* is never reached).
    """
    tv0, tv_end = float(np.mean(result.initial.smoothness)), float(np.mean(result.final.smoothness))
    at = at_training_loss(result, "smoothness", level)
    if at is None:
        return {"epoch_at_level": None, "tv_init": tv0, "tv_at_level": None, "tv_end": tv_end,
                "remaining_share": None, "passes": False}
    tv_at = float(np.mean(at))
    remaining = abs(tv_end - tv_at) / abs(tv_end - tv0) if tv_end != tv0 else 0.0
    return {"epoch_at_level": at_training_loss(result, "epoch", level), "tv_init": tv0, "tv_at_level": tv_at,
            "tv_end": tv_end, "remaining_share": remaining, "passes": remaining >= share}


def comparison_rows(groups: Mapping[float, Sequence[Results]], level: float | None) -> list[dict]:
    """One row per strength C (``groups``: ``{C: runs}``): the mean TV/‖W‖₁ over conv layers (4 decimals) at
    initialisation, at L* = ``level`` (with the epoch at which L* was reached and the share of the whole change
    still ahead, :func:`still_changing`) and after training, each a mean over the runs; without the L* columns
    where ``level`` is ``None``."""
    rows = []
    for c, runs in groups.items():
        row = {"C (px)": f"{c:g}", "runs": len(runs),
               "TV at init": round(float(np.mean([np.mean(r.initial.smoothness) for r in runs])), 4)}
        if level is not None:
            checks = [still_changing(r, level) for r in runs]
            reached = [k for k in checks if k["tv_at_level"] is not None]
            row["reached L*"] = len(reached)
            row["epoch at L*"] = round(float(np.mean([k["epoch_at_level"] for k in reached])), 1) if reached else "-"
            row["TV at L*"] = round(float(np.mean([k["tv_at_level"] for k in reached])), 4) if reached else "-"
            row["change still ahead at L*"] = (f"{np.mean([k['remaining_share'] for k in reached]):.0%}"
                                               if reached else "-")
        row["TV after training"] = round(float(np.mean([np.mean(r.final.smoothness) for r in runs])), 4)
        rows.append(row)
    return rows


def comparison_sentence(results: Sequence[Results]) -> str:
    """Where claim 5 compares the tasks in ``results``, in one sentence for the chapter."""
    level = matched_loss_level(results)
    if level is None:
        return ("The tasks are compared after training, as the paper compares them; in this profile they are "
                "learned within a few epochs and the filters then stop moving, so the comparison is between frozen "
                "filters (results/pilot-synthetic/RULE.md).")
    checks = [still_changing(r, level) for r in results]
    reached = [k for k in checks if k["tv_at_level"] is not None]
    passing = sum(k["passes"] for k in reached)
    return (f"The tasks are compared at matched training loss: each run at the moment its training loss first "
            f"reaches {level_words(level)}, while it is still learning ({len(reached)} of "
            f"{len(checks)} runs reach it; "
            f"at that moment {passing} of them still had at least {PILOT_SHARE:.0%} of their filters' whole change "
            f"in TV ahead, the criterion fixed in results/pilot-synthetic/RULE.md).")
