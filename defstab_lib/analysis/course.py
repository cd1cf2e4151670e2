"""Over the course of training: the paper's third question for future work, answered from stored trajectories.

Ruderman et al. compare "only two points in time, the beginning and the end of training" and ask: "when do filters
become smooth?  Does this differ across layers and architectures?  Is the trajectory toward smooth filters and
deformation stability monotone, or are there periods of training where filters become smoother and then periods
when the filter smoothness decreases?"  Protocol 2 measured every run of the ``standard`` profile's pooling
experiment at initialisation, after 1/8, 1/4 and 1/2 of the first epoch and after epochs 1, 2, 4, 8 and 16, so the
answers are in the store.  This module fixes how they are read; it was written and committed before any of these
statistics was computed on stored runs (issue 26).

**Quantities** (per network, at every measured epoch ``t``):

- *sensitivity*: the normalised cosine distance ``D`` of each layer 1-12 (mean over the probe images); a window's
  value is the mean over its layers (:func:`window_values`: layers 1-6 and 7-12);
- *R*: the same relative to the noise control, ``D / G`` (a declared alternative to ``D``);
- *TV*: the normalised total variation of each conv layer's filters 1-8; windows conv 1-4 and 5-8.

All are compared on the log scale.

**When** (:func:`half_change_epochs`).  Per network, the first measured epoch after initialisation by which the
quantity has made at least half of its whole change (initialisation to the end of training), on the log scale;
reported as ``log2`` of the epoch, so that one step of protocol 2's schedule (a doubling) is 1.  The timing of a
quantity that moved less than its minimal effect (:data:`MINIMAL`) is not read: it has no room.

**Differs across layers and architectures?**  Two equivalence tests per quantity (direction 0, the book's rule of
a claimed *absence* of difference, :class:`~defstab_lib.analysis.stats.Rule`): the claims "the later window changes
at the same time as the earlier one" and "networks without pooling change at the same time as networks with
pooling", each within :data:`TIMING_MINIMAL` = one doubling of the epoch.  Per seed (the independent unit:
within a seed the networks share their initial draw and data order), the mean over the seed's networks of
``log2 half(later window) - log2 half(earlier window)``, resp. the mean over the seed's networks without pooling of
``log2 half(later window)`` minus the same over those with pooling.  *Supported* = the same time (CI within one
doubling either way), *contradicted* = a difference of more than a doubling (CI wholly beyond), otherwise
*inconclusive*.  Every timing verdict needs room, whatever it says: the epoch by which a quantity that hardly
moved made half its change is arbitrary, so unless both compared quantities moved at least their minimal effect
(mean over networks, initialisation to end) the verdict is *uninformative*.

**Monotone?** (:func:`reversal_units`).  A reversal is movement against the quantity's overall direction after its
extreme point.  Per network, ``u = -sign * log(v(end) / v(t*))`` where ``sign`` is the sign of the mean change
(initialisation to end) over the group's networks and ``t*`` the extreme epoch (the minimum for a falling quantity)
of the *mean trajectory of the other seeds' networks of the same architecture* (leave one seed out): choosing
``t*`` from the network's own trajectory would make ``u >= 0`` by construction and find a reversal in any noisy
monotone trajectory (:func:`reversal_units` with ``trough="own"``, a declared alternative shown beside).  Per seed,
the mean of ``u`` over the group's networks.  The claim "the quantity reverses (moves back by at least the minimal
reversal after its extreme)" is judged with direction +1 and minimal effect :data:`MINIMAL` (10% for sensitivity,
the book's minimal effect on sensitivity; 3% for TV, claim 5's and 6's): *supported* = a reversal,
*no meaningful effect* = monotone within the minimal reversal, *contradicted* = it goes on beyond the extreme the
other seeds reach.  Judged for the later layers' sensitivity (the headline's quantity: 7-12) and for mean TV, in
networks without pooling (the headline's) and with pooling.  "Monotone" needs room: the quantity moved at least
its minimal effect from initialisation to ``t*``.  Beside: in how many networks the largest reversal of the
network's own trajectory (:func:`largest_reversal`) reaches the minimal reversal.

**Declared alternatives**, each shown with its verdict: the noise-relative ``R`` for ``D``; the extreme from the
network's own trajectory; each architecture alone.

The observation that motivated the reversal test -- later-layer sensitivity without pooling lowest near epoch 1
and higher after 16 -- was made on these same runs (issue 26), so the test is a check of a pattern already seen,
not an independent confirmation; fresh seeds would be one.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np

from ..runs.records import Results
from ..vocabulary import POOLED, UNPOOLED
from .arrays import by_seed
from .room import layer_window
from .stats import SUPPORTED, UNINFORMATIVE, Room, Rule
from .verdicts import Verdict, judge, sentence

__all__ = ["QUANTITIES", "MINIMAL", "TIMING_MINIMAL", "TIMING_RULE", "REVERSAL_RULES", "FIGURE",
           "trajectories", "window_values", "half_change_epochs", "Reversal", "reversal_units", "largest_reversal",
           "Course", "course", "timing_verdicts", "reversal_verdicts", "alternative_rows", "half_change_rows",
           "long_table", "findings", "glue_numbers"]

#: The quantities read over training, each ``{name: (what in words, the layers' word)}``.
QUANTITIES: dict[str, tuple[str, str]] = {
    "sensitivity": ("sensitivity to deformation D (normalised cosine distance)", "layer"),
    "R": ("sensitivity relative to noise R = D / G", "layer"),
    "tv": ("filter roughness TV (normalised total variation)", "conv layer"),
}
#: Minimal effect per quantity, on the log scale: 10% for sensitivity (the book's claims on sensitivity), 3% for
#: filter TV (claims 5 and 6).
MINIMAL: dict[str, float] = {"sensitivity": math.log(1.1), "R": math.log(1.1), "tv": math.log(1.03)}
#: Minimal difference in timing: one doubling of the epoch (one step of protocol 2's measured schedule), log2 units.
TIMING_MINIMAL = 1.0
TIMING_RULE = Rule(0, TIMING_MINIMAL, "one doubling of the epoch, the step between protocol 2's measurements: a "
                   "smaller difference in timing cannot be resolved")
#: The reversal tests' rules (direction +1: a reversal), per quantity.
REVERSAL_RULES: dict[str, Rule] = {
    q: Rule(1, MINIMAL[q], "the book's minimal effect on " + ("filter TV (claims 5 and 6)" if q == "tv"
                                                              else "sensitivity"))
    for q in QUANTITIES
}
#: What the verdicts answer, in the place of a paper's figure.
FIGURE = "§5, future work"


def _layer_values(run: Results, quantity: str) -> np.ndarray:
    """``(T, layers)`` values of ``quantity`` at every measured epoch of ``run``."""
    if quantity == "tv":
        return np.array([m.smoothness for m in run.measurements], dtype=float)
    d = np.array([m.cosine[1:] for m in run.measurements], dtype=float)
    if quantity == "sensitivity":
        return d
    return d / np.array([m.noise_cosine[1:] for m in run.measurements], dtype=float)


def trajectories(results: Sequence[Results], quantity: str) -> tuple[np.ndarray, np.ndarray]:
    """``(epochs (T,), values (runs, T, layers))`` of ``quantity`` (:data:`QUANTITIES`) over training; layer 1
    first (the input is not a layer).  Every run must have been measured at the same epochs.

    Raises:
        ValueError: an unknown quantity, no runs, or runs measured at different epochs.
    """
    if quantity not in QUANTITIES:
        raise ValueError(f"quantity must be one of {list(QUANTITIES)}, got {quantity!r}")
    results = list(results)
    if not results:
        raise ValueError("results must hold at least one run")
    epochs = [float(m.epoch) for m in results[0].measurements]
    for r in results:
        if [float(m.epoch) for m in r.measurements] != epochs:
            raise ValueError(f"the runs were measured at different epochs: {epochs} and "
                             f"{[float(m.epoch) for m in r.measurements]} ({r.file or r.key})")
    return np.array(epochs), np.stack([_layer_values(r, quantity) for r in results])


def window_values(values: np.ndarray, window: str = "all") -> np.ndarray:
    """``(..., T)``: the mean over the window's layers (``"all"``, ``"early"``: the first half, ``"late"``: the
    second) of ``(..., T, layers)`` values."""
    values = np.asarray(values, dtype=float)
    n = values.shape[-1]
    part = slice(None) if window == "all" else layer_window(n + 1, window)
    if window != "all":  # layer_window counts the input as layer 0
        part = slice(part.start - 1, part.stop - 1 if part.stop is not None else None)
    return values[..., part].mean(-1)


def half_change_epochs(epochs: Sequence[float], values: np.ndarray) -> np.ndarray:
    """Per trajectory, ``log2`` of the first measured epoch after initialisation by which ``log(value)`` has made
    at least half of its change from the first to the last measured epoch.

    Args:
        epochs: ``(T,)`` measured epochs, the first the initialisation (0), the others > 0.
        values: ``(..., T)`` positive values.

    Returns:
        ``(...)`` in doublings of the epoch (``log2``; 1/8 is -3, 16 is 4).  A trajectory that did not move at all
        gets its first epoch after initialisation.

    >>> half_change_epochs([0, 0.5, 1, 2, 4], np.array([[1.0, 0.9, 0.5, 0.3, 0.25], [1.0, 1.25, 1.3, 1.4, 1.44]]))
    array([ 0., -1.])
    """
    x = np.asarray(epochs, dtype=float)
    v = np.log(np.asarray(values, dtype=float))
    if x.ndim != 1 or x.size < 2 or v.shape[-1] != x.size or x[0] != 0 or np.any(x[1:] <= 0):
        raise ValueError(f"epochs must be (T,) starting at 0 then positive, with values (..., T); got {x.tolist()} "
                         f"and values of shape {v.shape}")
    change = v[..., -1:] - v[..., :1]
    made = np.sign(change) * (v - v[..., :1]) >= np.abs(change) / 2
    made[..., 0] = False
    first = np.where(made.any(-1), np.argmax(made, -1), 1)
    return np.log2(x[first])


class Reversal(NamedTuple):
    """Per network of one architecture: ``u`` ``(seeds,)`` the reversal after the extreme (log scale, positive: a
    reversal), ``moved`` ``(seeds,)`` how far it had gone from initialisation by then (``|log|``), ``sign`` the
    overall direction (+1 rises, -1 falls), ``extreme`` ``(seeds,)`` the index of the extreme epoch ``t*`` used."""

    u: np.ndarray
    moved: np.ndarray
    sign: float
    extreme: np.ndarray


def reversal_units(values: np.ndarray, *, trough: str = "loo") -> Reversal:
    """Per network, the size of the reversal after the extreme (module docstring), on the log scale.

    Args:
        values: ``(seeds, T)`` positive values of one architecture's networks, one per seed, all measured at the
            same epochs (the first the initialisation).
        trough: ``"loo"`` (the extreme of the other seeds' mean trajectory: unbiased) or ``"own"`` (the network's
            own extreme: ``u >= 0`` by construction, an upper bound).  With one seed, ``"loo"`` has no other seeds
            and falls back to ``"own"``.

    Returns:
        :class:`Reversal`: ``u = -sign * log(v(end) / v(t*))`` (positive: a reversal), ``moved =
        |log(v(t*) / v(0))|`` (how far the network had gone by ``t*``), the overall direction ``sign`` (of the mean
        change over the seeds, +1 or -1) and ``t*``'s index.

    >>> v = np.array([[1.0, 0.5, 0.6], [1.0, 0.5, 0.6], [1.0, 0.5, 0.6]])
    >>> r = reversal_units(v)
    >>> np.round(r.u, 3).tolist(), np.round(r.moved, 3).tolist(), r.sign, r.extreme.tolist()
    ([0.182, 0.182, 0.182], [0.693, 0.693, 0.693], -1.0, [1, 1, 1])
    """
    if trough not in ("loo", "own"):
        raise ValueError(f"trough must be 'loo' or 'own', got {trough!r}")
    lv = np.log(np.asarray(values, dtype=float))
    if lv.ndim != 2 or lv.shape[1] < 3:
        raise ValueError(f"values must be (seeds, T) with T >= 3, got shape {lv.shape}")
    n = lv.shape[0]
    sign = 1.0 if float(np.mean(lv[:, -1] - lv[:, 0])) >= 0 else -1.0
    u, moved, extreme = np.empty(n), np.empty(n), np.empty(n, dtype=int)
    for i in range(n):
        ref = lv[np.arange(n) != i].mean(0) if trough == "loo" and n > 1 else lv[i]
        t = 1 + int(np.argmax(sign * ref[1:]))
        u[i] = -sign * (lv[i, -1] - lv[i, t])
        moved[i] = abs(lv[i, t] - lv[i, 0])
        extreme[i] = t
    return Reversal(u, moved, sign, extreme)


def largest_reversal(values: np.ndarray) -> np.ndarray:
    """Per trajectory, the largest movement against its own overall direction (first to last epoch) between any
    two measured epochs, on the log scale: ``max over s < t of -sign * log(v(t) / v(s))`` (0 when monotone).

    >>> np.round(largest_reversal(np.array([[1.0, 0.5, 0.6, 0.55], [1.0, 0.9, 0.8, 0.7]])), 3).tolist()
    [0.182, 0.0]
    """
    lv = np.log(np.asarray(values, dtype=float))
    sign = np.where(lv[..., -1] - lv[..., 0] >= 0, 1.0, -1.0)[..., None]
    s = sign * lv  # the direction of the change made increasing
    drawdown = np.maximum.accumulate(s, axis=-1) - s
    return drawdown.max(-1)


@dataclasses.dataclass(frozen=True)
class Course:
    """The stored trajectories of one experiment, by seed and network.

    Attributes:
        epochs: ``(T,)`` measured epochs.
        networks: the downsampling variants, in order.
        seeds: the seeds that hold every network, in order.
        values: ``{quantity: (seeds, networks, T, layers)}``.
        results: the runs, seed by seed and network by network (for the figures' data links).
    """

    epochs: np.ndarray
    networks: tuple[str, ...]
    seeds: tuple[int, ...]
    values: dict[str, np.ndarray]
    results: tuple[Results, ...]

    @property
    def runs(self) -> int:
        """How many runs."""
        return len(self.results)

    def window(self, quantity: str, window: str = "all") -> np.ndarray:
        """``(seeds, networks, T)``: the window's mean of ``quantity``."""
        return window_values(self.values[quantity], window)

    def where(self, names: Sequence[str]) -> list[int]:
        """Indices of the networks among ``names``."""
        return [i for i, n in enumerate(self.networks) if n in names]


def course(results: Sequence[Results], *, networks: Sequence[str] | None = None) -> Course:
    """The trajectories of ``results`` (one run per seed and downsampling variant), keeping the seeds that hold
    every network.

    Raises:
        ValueError: no runs, runs measured at different epochs, or no seed that holds every network.
    """
    results = list(results)
    if not results:
        raise ValueError("results must hold at least one run")
    seeds_map = by_seed(results, "downsampling")
    present = [d for d in (networks or sorted({r.config.arch.downsampling for r in results}))
               if any(d in per for per in seeds_map.values())]
    seeds = tuple(sorted(s for s, per in seeds_map.items() if all(d in per for d in present)))
    if not seeds:
        raise ValueError(f"no seed holds a run of every network {present}; stored seeds: {sorted(seeds_map)}")
    ordered = [seeds_map[s][d] for s in seeds for d in present]
    values = {}
    for q in QUANTITIES:
        epochs, v = trajectories(ordered, q)
        values[q] = v.reshape(len(seeds), len(present), *v.shape[1:])
    return Course(epochs=epochs, networks=tuple(present), seeds=seeds, values=values, results=tuple(ordered))


def _moved(values: np.ndarray) -> float:
    """Mean over networks of ``|log(end / start)|`` of ``(..., T)`` values."""
    lv = np.log(values)
    return float(np.mean(np.abs(lv[..., -1] - lv[..., 0])))


def _pct(x: float) -> str:
    return f"{math.exp(x) - 1:.1%}"


def _needs_room(v: Verdict, room: Room) -> Verdict:
    """A timing verdict without room is uninformative whatever it says (module docstring)."""
    if room.ok or v.verdict == UNINFORMATIVE:
        return v
    return dataclasses.replace(v, verdict=UNINFORMATIVE, uninformative_reason=room.words, n_needed=None)


def timing_verdicts(c: Course, quantity: str = "sensitivity") -> list[Verdict]:
    """The two timing tests of ``quantity`` (module docstring): later window vs earlier window (all networks), and
    networks without pooling vs with pooling (the later window; for TV, all conv layers)."""
    what_q, layer_word = QUANTITIES[quantity]
    m = MINIMAL[quantity]
    early, late = c.window(quantity, "early"), c.window(quantity, "late")
    units = (half_change_epochs(c.epochs, late) - half_change_epochs(c.epochs, early)).mean(1)
    moved = min(_moved(early), _moved(late))
    room = Room(moved, m, f"the earlier {layer_word}s moved {_pct(_moved(early))} and the later "
                          f"{_pct(_moved(late))} on average from initialisation to the end, {_pct(m)} needed for "
                          f"their timing to be read")
    n_layers = c.values[quantity].shape[-1]
    half = n_layers // 2
    layers = judge(
        claim=f"The later {layer_word}s ({half + 1}-{n_layers}) change at the same time as the earlier ones "
              f"(1-{half}): {what_q}",
        figure=FIGURE, statistic=f"per seed, the mean over its networks of log2(epoch by which the later "
                                 f"{layer_word}s made half their change ÷ the same for the earlier ones)",
        what="later minus earlier, doublings of the epoch", units=units, rule=TIMING_RULE, runs=c.runs,
        scale="linear", room=room, direction_words="no difference (fixed by us: the paper states no direction)",
        numbers={"key": f"course-layers-{quantity}", "quantity": quantity})
    layers = _needs_room(layers, room)
    window = "late" if quantity != "tv" else "all"
    v = c.window(quantity, window)
    pooled, unpooled = v[:, c.where(POOLED)], v[:, c.where(UNPOOLED)]
    if pooled.shape[1] == 0 or unpooled.shape[1] == 0:
        return [layers]
    units = half_change_epochs(c.epochs, unpooled).mean(1) - half_change_epochs(c.epochs, pooled).mean(1)
    room = Room(min(_moved(pooled), _moved(unpooled)), m,
                f"with pooling the {'later ' if window == 'late' else ''}{layer_word}s moved "
                f"{_pct(_moved(pooled))} and without {_pct(_moved(unpooled))} on average, {_pct(m)} needed for "
                f"their timing to be read")
    where = f"{layer_word}s {half + 1}-{n_layers}" if window == "late" else f"all {layer_word}s"
    arch = judge(
        claim=f"Networks without pooling change at the same time as networks with pooling: {what_q}, {where}",
        figure=FIGURE, statistic="per seed, the mean over its networks without pooling of log2(epoch by which "
                                 "half the change was made) minus the same with pooling",
        what="without minus with pooling, doublings of the epoch", units=units, rule=TIMING_RULE, runs=c.runs,
        scale="linear", room=room, direction_words="no difference (fixed by us: the paper states no direction)",
        numbers={"key": f"course-architectures-{quantity}", "quantity": quantity})
    arch = _needs_room(arch, room)
    return [layers, arch]


def _reversal(c: Course, quantity: str, window: str, names: Sequence[str], label: str, *,
              trough: str = "loo") -> Verdict | None:
    idx = c.where(names)
    if not idx:
        return None
    v = c.window(quantity, window)[:, idx]  # (seeds, networks, T)
    per = [reversal_units(v[:, j], trough=trough) for j in range(v.shape[1])]
    u = np.mean([p.u for p in per], axis=0)
    moved = float(np.mean([p.moved for p in per]))
    extreme = float(np.median(c.epochs[np.concatenate([p.extreme for p in per])]))
    rule = REVERSAL_RULES[quantity]
    what_q, layer_word = QUANTITIES[quantity]
    n_layers = c.values[quantity].shape[-1]
    where = (f"{layer_word}s {n_layers // 2 + 1}-{n_layers}" if window == "late" else f"mean over {layer_word}s")
    big = int(np.sum(largest_reversal(v) >= rule.minimal))
    room = Room(moved, rule.minimal, f"by its extreme the quantity had moved {_pct(moved)} from initialisation on "
                                     f"average, {_pct(rule.minimal)} needed for a reversal to be seen")
    return judge(
        claim=f"{what_q[0].upper()}{what_q[1:]} ({where}) reverses after its extreme, {label}",
        figure=FIGURE,
        statistic="per seed, the mean over its networks of -sign × log(value at the end ÷ value at the extreme "
                  + ("of the other seeds' mean trajectory)" if trough == "loo" else "of its own trajectory)"),
        what="the way back from the extreme to the end (1× = none)", units=u, rule=rule, runs=v.shape[0] * v.shape[1],
        room=room, direction_words="a reversal (fixed by us before computing: the paper asks)",
        numbers={"key": f"course-reversal-{quantity}-{label}", "quantity": quantity, "trough": trough,
                 "reversing_networks": big, "networks": int(v.shape[0] * v.shape[1]),
                 "direction": _directions([c.networks[j] for j in idx], [p.sign for p in per]),
                 "extreme_epoch": extreme})


def _directions(names: Sequence[str], signs: Sequence[float]) -> str:
    """``"falls"``, ``"rises"``, or each network's direction when they differ.

    >>> _directions(["a", "b"], [-1.0, -1.0]), _directions(["a", "b"], [-1.0, 1.0])
    ('falls', 'falls in a, rises in b')
    """
    words = ["falls" if s < 0 else "rises" for s in signs]
    if len(set(words)) == 1:
        return words[0]
    return ", ".join(f"{w} in {n}" for n, w in zip(names, words))


def reversal_verdicts(c: Course) -> list[Verdict]:
    """The reversal tests: later-layer sensitivity and mean TV, without and with pooling (module docstring)."""
    out = []
    for quantity, window in (("sensitivity", "late"), ("tv", "all")):
        for names, label in ((UNPOOLED, "without pooling"), (POOLED, "with pooling")):
            v = _reversal(c, quantity, window, names, label)
            if v is not None:
                out.append(v)
    return out


def alternative_rows(c: Course) -> list[dict[str, str]]:
    """The declared alternatives of every test, one row each: the primary analysis, the noise-relative ``R`` in
    place of ``D``, the extreme from each network's own trajectory, and each architecture alone."""
    rows = []

    def row(question: str, analysis: str, v: Verdict | None) -> None:
        if v is not None:
            rows.append({"question": question, "analysis": analysis, "effect (95% CI)": v.value,
                         "verdict": v.verdict})

    for primary, alt in zip(timing_verdicts(c, "sensitivity"), timing_verdicts(c, "R")):
        row(primary.claim, "primary (D)", primary)
        row(primary.claim, "R = D / G in place of D", alt)
    for v in timing_verdicts(c, "tv"):
        row(v.claim, "primary", v)
    for quantity, window in (("sensitivity", "late"), ("R", "late"), ("tv", "all")):
        for names, label in ((UNPOOLED, "without pooling"), (POOLED, "with pooling")):
            primary = _reversal(c, quantity, window, names, label)
            if primary is None:
                continue
            question = primary.claim
            row(question, "primary" if quantity != "R" else "R = D / G in place of D", primary)
            row(question, "extreme from each network's own trajectory (biased upwards)",
                _reversal(c, quantity, window, names, label, trough="own"))
            for name in names:
                if name in c.networks:
                    row(question, f"{name} alone", _reversal(c, quantity, window, [name], label))
    return rows


def half_change_rows(c: Course, quantity: str) -> list[dict[str, str]]:
    """Per network and layer, the epoch by which ``quantity`` made half of its change (the median over seeds); "–"
    for a layer that moved less than its minimal effect (:data:`MINIMAL`, mean over seeds), whose timing cannot be
    read.  One row per network, one column per layer."""
    v = c.values[quantity]  # (seeds, networks, T, layers)
    half = half_change_epochs(c.epochs, np.moveaxis(v, -1, -2))  # (seeds, networks, layers)
    lv = np.log(v)
    change = lv[:, :, -1] - lv[:, :, 0]  # (seeds, networks, layers)
    rows = []
    for j, name in enumerate(c.networks):
        row = {"network": name}
        for k in range(v.shape[-1]):
            moved = float(np.mean(np.abs(change[:, j, k])))
            row[str(k + 1)] = f"{2 ** float(np.median(half[:, j, k])):g}" if moved >= MINIMAL[quantity] else "–"
        rows.append(row)
    return rows


def long_table(c: Course, quantity: str) -> list[dict]:
    """One row per seed, network, layer and epoch: ``{seed, network, layer, epoch, value, ratio}`` (``ratio``: the
    value ÷ its value at initialisation), the long form the line plots draw."""
    v = c.values[quantity]
    rows = []
    for i, seed in enumerate(c.seeds):
        for j, name in enumerate(c.networks):
            for k in range(v.shape[-1]):
                for t, epoch in enumerate(c.epochs):
                    rows.append({"seed": seed, "network": name, "layer": k + 1, "epoch": float(epoch),
                                 "value": float(v[i, j, t, k]), "ratio": float(v[i, j, t, k] / v[i, j, 0, k])})
    return rows


def _epochs_words(log2_epochs: np.ndarray) -> str:
    """The median epoch and the range of ``log2`` epochs in words, e.g. "epoch 2 (1 to 4)"."""
    x = np.asarray(log2_epochs, dtype=float).ravel()
    lo, med, hi = (float(2 ** q) for q in (x.min(), np.median(x), x.max()))
    return f"epoch {med:g} (range {lo:g} to {hi:g})" if lo != hi else f"epoch {med:g}"


def findings(c: Course, found: Sequence[Verdict]) -> dict[str, str]:
    """The chapter's answers in plain sentences, each computed from the runs and from ``found``, the chapter's
    verdicts (:func:`timing_verdicts` and :func:`reversal_verdicts`): ``when`` (the median epoch by which half of
    the change was made, TV and later-layer sensitivity), ``timing`` (the timing verdicts), ``monotone`` (the
    reversal verdicts) and ``noise`` (the reversal relative to the noise control, the declared alternative that
    decides how the reversal is read)."""
    tv = half_change_epochs(c.epochs, np.moveaxis(c.values["tv"], -1, -2))
    moved_tv = np.abs(np.log(c.values["tv"][:, :, -1] / c.values["tv"][:, :, 0])) >= MINIMAL["tv"]
    late = half_change_epochs(c.epochs, c.window("sensitivity", "late"))
    out = {"when": (f"Filters smooth gradually: a conv layer whose TV moved at least {_pct(MINIMAL['tv'])} made half "
                    f"of its change by {_epochs_words(tv[moved_tv]) if moved_tv.any() else 'no epoch (none moved)'} "
                    f"(median over the {int(moved_tv.sum())} layer × network × seed trajectories that moved).  "
                    f"The later layers' sensitivity moves first: half of its change is made by "
                    f"{_epochs_words(late)} (median over the {late.size} networks).")}
    out["timing"] = "  ".join(f"{v.claim}: {sentence(v)}." for v in found
                              if not v.numbers["key"].startswith("course-reversal-"))
    reversals = {v.numbers["key"]: v for v in found if v.numbers["key"].startswith("course-reversal-")}
    parts = []
    for key, v in reversals.items():
        what = "TV" if v.numbers["quantity"] == "tv" else "later-layer sensitivity"
        where = key.rsplit("-", 1)[-1]
        if v.numbers["quantity"] == "tv" or v.verdict != SUPPORTED:
            minimal = _pct(REVERSAL_RULES[v.numbers["quantity"]].minimal)
            parts.append(f"{what} {where}: {v.verdict} ({v.value}; {v.numbers['reversing_networks']} of "
                         f"{v.numbers['networks']} networks reverse by at least {minimal} anywhere along their own "
                         f"trajectory)")
        else:
            parts.append(f"{what} {where} {v.numbers['direction']} until near epoch {v.numbers['extreme_epoch']:g} "
                         f"(median extreme) and then turns back: the way back to the end {v.value}, "
                         f"{v.numbers['reversing_networks']} of {v.numbers['networks']} networks")
    out["monotone"] = "; ".join(parts) + "." if parts else "No network was read."
    d = reversals.get("course-reversal-sensitivity-without pooling")
    r = _reversal(c, "R", "late", UNPOOLED, "without pooling")
    if d is None or r is None:
        out["noise"] = "No network without pooling was read, so the reversal's reference is not compared."
    else:
        if d.verdict == SUPPORTED and r.verdict != SUPPORTED:
            out["noise"] = (f"Relative to the noise control there is no reversal of the minimal size (R = D / G: "
                            f"{r.verdict}, {r.value}): after its extreme the later layers grow more sensitive to deformation and "
                            f"to noise of the same size alike, so the rise of D is a rise of sensitivity in general, "
                            f"not a loss of stability to deformation in particular.")
        else:
            out["noise"] = (f"Relative to the noise control (R = D / G) the later layers' sensitivity without pooling "
                            f"is judged {r.verdict} ({r.value}), as D is judged {d.verdict}.")
    return out


def glue_numbers(c: Course, found: Sequence[Verdict]) -> Mapping[str, str]:
    """The numbers the chapter's prose names: ``n_runs``, ``n_seeds``, ``epochs`` and, per verdict key, its
    sentence (``verdict_<key>``)."""
    out = {"n_runs": str(c.runs), "n_seeds": str(len(c.seeds)),
           "epochs": ", ".join(f"{e:g}" for e in c.epochs)}
    for v in found:
        out["verdict_" + v.numbers["key"].replace("course-", "").replace(" ", "_")] = sentence(v)
    return out
