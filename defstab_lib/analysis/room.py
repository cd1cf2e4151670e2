"""Room to move: whether a measured quantity moved enough to have shown the effect a claim looks for.

A verdict that says the data show *no* difference ("no meaningful effect", "contradicted", or "similar" for an
equivalence test) is informative only where the compared quantity could have shown one; otherwise it is
*uninformative* (:data:`~.stats.UNINFORMATIVE`), with the reason in words.  One check per kind of claim, fixed with
the declared specifications before any of them was computed on stored data:

- a claim about what training does (the headline, claims 2 and 6): the networks learned (:func:`room_learned`);
- a comparison between networks at one moment (claims 1, 3, 4, 7): their representations did not collapse at the
  compared layers (:func:`room_collapse`);
- a comparison of filter TV between tasks (claim 5): training moved TV from its initial value by a stated multiple
  of the minimal effect before the comparison (:func:`room_tv_moved`).

Each returns a :class:`~.stats.Room` ``(moved, needed, words)`` on its own scale.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..runs.store import Results
from .stats import Room

__all__ = ["ROOM_FACTOR", "COLLAPSE_FLOOR", "LEARNED_FACTOR", "room_learned", "room_collapse", "room_tv_moved",
           "medians", "layer_window"]

#: Room to move (fixed with the specifications, before any was computed): a comparison of filter TV between tasks
#: is informative only where training moved TV from its initial value by at least this many times the minimal
#: effect before the comparison (a quantity that moved 2% cannot show a 3% difference between tasks).
ROOM_FACTOR = 2.0
#: A comparison between networks at one moment is informative only where their representations did not collapse:
#: the median cosine distance between two different probe images, at the compared layers, is at least this (about a
#: fiftieth of its values after training, 0.4-0.9); below it the normalised distances divide by almost nothing.
COLLAPSE_FLOOR = 0.01
#: A claim about what training does is informative only where the networks learned: final test accuracy at least
#: this many times chance (two-fold: 20% on ten classes).
LEARNED_FACTOR = 2.0


def layer_window(n_layers: int, part: str) -> slice:
    """Layers 1..L (``"all"``), the first half (``"early"``), the second half (``"late"``) or the last alone
    (``"last"``) of ``n_layers`` values per network whose index 0 is the input."""
    half = 1 + (n_layers - 1) // 2
    return {"all": slice(1, None), "early": slice(1, half), "late": slice(half, None),
            "last": slice(n_layers - 1, None)}[part]


def _chance(run: Results) -> float:
    classes = run.config.data.classes if run.config.data.dataset == "synthetic" else 10
    return 1.0 / classes


def room_learned(results: Sequence[Results]) -> Room:
    """Room for a claim about what training does: the networks learned (mean log of final test accuracy ÷
    chance, against log :data:`LEARNED_FACTOR`)."""
    acc = np.array([r.final.test_accuracy for r in results], dtype=float)
    moved = float(np.mean(np.log(np.maximum(acc, 1e-9) * np.array([1 / _chance(r) for r in results]))))
    return Room(moved, math.log(LEARNED_FACTOR),
                f"the networks learned: mean final test accuracy {acc.mean():.3f} against chance "
                f"{_chance(results[0]):.2f} ({math.exp(moved):.1f}× chance; at least {LEARNED_FACTOR:g}× needed)")


def room_collapse(medians: np.ndarray, part: str, where: str) -> Room | None:
    """Room for a comparison between networks at one moment: the median distance between different probe images
    at the compared layers (``medians`` ``(networks, layers)``, cosine distance) -- the median over networks of its
    smallest value in the window -- against :data:`COLLAPSE_FLOOR`.  ``None`` when not measured (protocol 1)."""
    if medians is None or np.size(medians) == 0:
        return None
    m = np.asarray(medians, dtype=float)
    low = float(np.median(m[:, layer_window(m.shape[-1], part)].min(-1)))
    return Room(low, COLLAPSE_FLOOR,
                f"the representations {where} did not collapse: the median distance between two different probe "
                f"images at the compared layers is {low:.3g} (median over networks of its smallest value; at least "
                f"{COLLAPSE_FLOOR:g} needed)")


def medians(results: Sequence[Results], epoch) -> np.ndarray | None:
    """``(runs, layers)`` median cosine distance between different probe images at ``epoch`` (protocol 2's
    ``median_cosine``); ``None`` when a run did not store it (protocol 1)."""
    rows = []
    for r in results:
        m = r.at(epoch)
        if m.v2 is None or m.v2.median_cosine is None:
            return None
        rows.append(m.v2.median_cosine)
    return np.array(rows, dtype=float)


def room_tv_moved(init: np.ndarray, compared: np.ndarray, minimal: float, when: str) -> Room:
    """Room for claim 5: how far training moved filter TV from its initial value before the comparison (mean over
    runs of |log(TV then ÷ TV at init)|, mean over conv layers), against :data:`ROOM_FACTOR` × ``minimal``.
    ``init``, ``compared``: ``(..., conv layers)``."""
    moved = float(np.mean(np.abs(np.log(np.asarray(compared, float).mean(-1) / np.asarray(init, float).mean(-1)))))
    needed = ROOM_FACTOR * minimal
    return Room(moved, needed,
                f"{when}, training had moved filter TV from its initial value by {math.expm1(moved):.1%} on average; "
                f"{ROOM_FACTOR:g}× the minimal effect ({math.expm1(needed):.1%}) is needed to show a difference of "
                f"{math.expm1(minimal):.0%} between tasks")
