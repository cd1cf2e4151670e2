"""The eight pre-registered tests: the paper's seven claims and its headline, each beside its statistic.

Each test is a :class:`Claim` record in :data:`CLAIMS` (its number, our statement, the paper's words and section,
the statistic, the unit of independence and the rule), and every verdict of it comes from :meth:`Claim.judge`;
the other chapters' tests (:data:`.worstcase.CLAIMS`, :data:`.kernel_view.CLAIM`) are records of the same kind.

Written, with their minimal effects and the reasons for them, before the tests were run on the stored results
(the machinery is in :mod:`.stats`; a verdict is a :class:`~.verdicts.Verdict`).  Each test has two parts: a
*unit* function that turns arrays ``(units, ...)`` into one effect per independent unit -- what the calibration
tests simulate -- and a function over stored results that builds those arrays and judges them.

Layers: the CIFAR network's 12 layers after the input (8 conv layers and 4 downsampling layers).  *Early* layers
are the first half (1-6: the first two blocks and their downsampling), *later* layers the second half (7-12).
The *mean sensitivity* of a network is its normalized cosine distance averaged over layers 1..L; comparisons of
sensitivities and of filter roughness (normalized total variation, TV) are ratios, taken on the log scale and
averaged over the networks of a unit before comparing.

The minimal effects of interest, fixed in advance:

- :data:`SENSITIVITY_MINIMAL` (a factor 1.10, i.e. 10%) for sensitivities: the paper reads its sensitivity
  figures by eye, where the lines it calls different are apart by a factor of 1.5 or more; a difference under 10%
  would put two of its curves on top of each other, so it is the smallest we count as an effect -- and, for claim
  3, the largest we still call "similar".
- :data:`TV_MINIMAL` (a factor 1.03, i.e. 3%) for filter roughness: the paper draws TV at initialisation as one
  dotted line (1.87) because its spread over layers and architectures is small; 3% (about 0.05 on 1.87) is the
  smallest change that would stand clear of that line in its Figures 5 and 6.
- :data:`SPREAD_MINIMAL` (a factor 1.25) for the spread between architectures (claim 7): the paper contrasts
  "very similar" (real labels) with "converged to different patterns" (random labels), a qualitative difference;
  we require the architectures to differ by at least a quarter more with random labels.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from ..runs.store import Results
from ..runs.untrained import RandomNetworks
from ..vocabulary import POOLED, UNPOOLED
from .arrays import by_seed, group_by
from .matched import at_training_loss, level_words, matched_loss_level
from .room import medians, room_collapse, room_learned, room_tv_moved
from .stats import Estimate, Room, Rule
from .verdicts import Verdict, glue_id, judge

__all__ = [
    "SENSITIVITY_MINIMAL", "TV_MINIMAL", "SPREAD_MINIMAL", "Claim", "CLAIMS",
    "mean_log", "pooling_units", "change_units", "smoothing_units", "strength_units", "tv_change_units",
    "spread_units",
    "pooling_at_init", "training_changes_pattern", "convergence_after_training", "smoothing_stabilises",
    "stronger_tasks_smoother", "training_smooths", "random_labels_depend_on_architecture",
    "unpooled_learn_stability",
]

SENSITIVITY_MINIMAL = math.log(1.10)
TV_MINIMAL = math.log(1.03)
SPREAD_MINIMAL = math.log(1.25)

_WHY_SENS = ("the paper reads its sensitivity figures by eye, where the lines it calls different are a factor 1.5 "
             "or more apart; under 10% two of its curves would lie on top of each other.")
_WHY_TV = ("the paper draws TV at initialisation as one dotted line (1.87) because it varies little; 3% (about 0.05) "
           "is the smallest change that would stand clear of that line in its Figures 5 and 6.")
_WHY_SPREAD = ("the paper contrasts 'very similar' patterns (real labels) with 'different patterns' (random labels), "
               "a qualitative difference; we require at least a quarter more spread.")

@dataclasses.dataclass(frozen=True)
class Claim:
    """One pre-registered test: the claim, where the paper makes it, and the rule that decides it.

    Attributes:
        key: the claim's name in :data:`CLAIMS` (and in ``report --json``'s order); its glue id is :attr:`glue_id`.
        number: how the report numbers it (``"H"`` for the headline, ``"1"``..``"7"`` for the paper's claims).
        statement: the claim in our words (a verdict's ``claim``).
        paper_words: a short quote of the paper that makes the claim (``""`` for a claim that is not the paper's).
        section: where the claim is made (the paper's section, or the work it comes from).
        figure: the paper's figure (or section) as a verdict states it (a verdict's ``figure``).
        statistic: the statistic in words (a verdict's own ``statistic`` adds what it was computed on).
        unit: the unit of independence: ``"seed"``, ``"draw"`` (an independent random network) or ``"network"``.
        rule: the direction, the minimal effect of interest and why (:class:`~.stats.Rule`).
        direction_words: whose direction ``rule`` tests (the paper's, or one fixed by us in advance).

    The fields ``statistic``, ``unit`` and ``rule`` make up the claim's one *specification*, the pre-registered
    analysis; a claim that later carries alternative specifications keeps this one as its first.
    """

    key: str
    number: str
    statement: str
    paper_words: str
    section: str
    figure: str
    statistic: str
    unit: str
    rule: Rule
    direction_words: str = "the paper's direction"

    @property
    def glue_id(self) -> str:
        """The claim's key as a chapter glues it (``verdict_<glue_id>``, :func:`~.verdicts.glue_values`)."""
        return glue_id(self.key)

    def judge(self, units, *, statistic: str, what: str, runs: int, role: str = "claim", statement: str = "",
              rule: Rule | None = None, scale: str = "log", room: Room | None = None,
              estimate: Estimate | None = None, **numbers) -> Verdict:
        """The verdict of this claim on the units' effects ``(n,)`` (:func:`~.verdicts.judge` with the record's
        statement, figure and rule).  ``statistic``: what was computed, on what; ``statement``/``rule``: another
        claim or rule reported beside this one (e.g. the same contrast in filter TV); ``room``: whether the compared
        quantity could have shown the effect (:mod:`.room`); ``estimate``: an interval computed otherwise than
        over the units alone (e.g. with the probe resampled); ``numbers``: further numbers for glue and tables
        (``unit`` defaults to the record's)."""
        return judge(claim=statement or self.statement, figure=self.figure, statistic=statistic, what=what,
                     units=units, rule=rule or self.rule, runs=runs, scale=scale, role=role,
                     numbers={"unit": self.unit, **numbers}, direction_words=self.direction_words, room=room,
                     estimate=estimate)


_SENS, _TV = Rule(-1, SENSITIVITY_MINIMAL, _WHY_SENS), Rule(-1, TV_MINIMAL, _WHY_TV)

#: The eight pre-registered tests in the report's order: the headline, then the paper's claims 1-7.
CLAIMS: dict[str, Claim] = {c.key: c for c in (
    Claim("headline", "H",
          "Networks without pooling are sensitive to deformation at initialisation but learn, in training, "
          "representations that are stable to deformation (section 1.3).",
          "networks without pooling are sensitive to deformation at initialization but over the course of training "
          "learn representations that are stable to deformation", "§1.3", "§1.3, Figure 3",
          "mean sensitivity over the later layers (7-12) of the networks without pooling, after ÷ before training",
          "seed", _SENS),
    Claim("pooling", "1", "Pooling confers stability to deformation at initialisation.",
          "pooling leads to representations that are more stable to deformation at initialization than "
          "representations in networks without pooling", "§3.1", "Figure 3a/c",
          "mean sensitivity over layers 1..L at initialisation, networks with pooling ÷ without",
          "draw", Rule(-1, SENSITIVITY_MINIMAL, _WHY_SENS)),
    Claim("training-changes", "2",
          "Training changes the pattern of stability across layers; sensitivity often increases, especially in the "
          "early layers.",
          "while deformation sensitivity sometimes decreases with training, it often increases, especially in the "
          "early layers of the network", "§3.2", "§3.2, Figure 3b/d",
          "mean sensitivity over the early layers (1-6), after ÷ before training, averaged over the architectures",
          "seed", Rule(+1, SENSITIVITY_MINIMAL, _WHY_SENS)),
    Claim("convergence", "3",
          "After training, networks with and without pooling converge to similar patterns of stability.",
          "by the conclusion of training, these differences have vanished, and all networks have converged to a "
          "similar pattern", "§3.3", "Figure 3b/d",
          "mean sensitivity over layers 1..L after training, networks with pooling ÷ without (equivalence test)",
          "seed", Rule(0, SENSITIVITY_MINIMAL, _WHY_SENS)),
    Claim("smoothing", "4", "Smoother filters at initialisation give representations more stable to deformation.",
          "networks initialized with smoother random filters are more stable to deformation", "§4.2", "Figure 4",
          "mean sensitivity over layers 1..L at initialisation, the largest σ ÷ the same draw unsmoothed",
          "draw", Rule(-1, SENSITIVITY_MINIMAL, _WHY_SENS)),
    Claim("synthetic", "5", "Tasks that require stronger deformation stability learn smoother filters.",
          "stronger deformations led to smoother filters after training", "§4.3", "Figure 5",
          "mean TV/‖W‖₁ over conv layers, fitted change from the weakest to the strongest task",
          "seed", _TV),
    Claim("training-smooths", "6", "Training makes filters smoother than at initialisation.",
          "filter smoothness increases as a result of training across all architectures", "§4.4", "Figure 6a/b",
          "mean TV/‖W‖₁ over conv layers, after ÷ before training, averaged over the architectures",
          "seed", Rule(-1, TV_MINIMAL, _WHY_TV)),
    Claim("random-labels", "7",
          "With random labels, the pattern of stability depends on the architecture (more than with real labels).",
          "networks with different architectures trained on random labels converged to different patterns of "
          "deformation stability across layers", "§5", "Figures 6c, 7",
          "spread between architectures of the sensitivity after training, random ÷ real labels",
          "seed", Rule(+1, SPREAD_MINIMAL, _WHY_SPREAD)),
)}


# ------------------------------------------------------------------------------------------------ units


def _layers(n_layers: int, part: str) -> slice:
    """Layers 1..L (``"all"``), the first half (``"early"``) or the second half (``"late"``) of them."""
    half = 1 + (n_layers - 1) // 2
    return {"all": slice(1, None), "early": slice(1, half), "late": slice(half, None)}[part]


def mean_log(values: np.ndarray, part: str = "all") -> np.ndarray:
    """``log`` of the mean over layers ``part`` of ``(..., layers)`` values (layer 0 = input, excluded)."""
    values = np.asarray(values, dtype=float)
    return np.log(values[..., _layers(values.shape[-1], part)].mean(-1))


def pooling_units(pooled: np.ndarray, unpooled: np.ndarray) -> np.ndarray:
    """Claim 1 (and 3): per unit, the mean log-sensitivity of the networks with pooling minus that of the
    networks without.  ``pooled`` ``(n, k_p, layers)``, ``unpooled`` ``(n, k_u, layers)`` → ``(n,)``."""
    return mean_log(pooled).mean(1) - mean_log(unpooled).mean(1)


def change_units(init: np.ndarray, final: np.ndarray, part: str = "all") -> np.ndarray:
    """Claim 2 and the headline: per unit, the mean over its networks of log(final / initial) mean sensitivity
    over layers ``part``.  ``init``, ``final``: ``(n, networks, layers)`` → ``(n,)``."""
    return (mean_log(final, part) - mean_log(init, part)).mean(1)


def smoothing_units(smoothed: np.ndarray, plain: np.ndarray) -> np.ndarray:
    """Claim 4: per draw, log(mean sensitivity of the smoothed network / of the same draw unsmoothed).
    ``(n, layers)`` each → ``(n,)``."""
    return mean_log(smoothed) - mean_log(plain)


def strength_units(strengths: Sequence[float], tv: np.ndarray) -> np.ndarray:
    """Claim 5: per unit, the least-squares slope of log(mean TV over conv layers) against the task's strength C,
    times the range of C: the log-ratio of TV from the weakest to the strongest task along the fitted line.
    ``strengths`` ``(c,)``, ``tv`` ``(n, c, conv layers)`` → ``(n,)``."""
    c = np.asarray(strengths, dtype=float)
    y = np.log(np.asarray(tv, dtype=float).mean(-1))  # (n, c)
    cc = c - c.mean()
    slope = (y - y.mean(1, keepdims=True)) @ cc / (cc @ cc)
    return slope * (c.max() - c.min())


def tv_change_units(init: np.ndarray, final: np.ndarray) -> np.ndarray:
    """Claim 6: per unit, the mean over its networks of log(final / initial mean TV over conv layers).
    ``(n, networks, conv layers)`` each → ``(n,)``."""
    return (np.log(np.asarray(final, float).mean(-1)) - np.log(np.asarray(init, float).mean(-1))).mean(1)


def _spread(x: np.ndarray) -> np.ndarray:
    """``(n, k, layers)`` → ``(n,)``: mean over layers 1..L of the standard deviation over the k networks of the
    log-sensitivity: the typical relative difference between architectures at a layer."""
    return np.log(np.asarray(x, float)[..., 1:]).std(1, ddof=1).mean(-1)


def spread_units(random: np.ndarray, real: np.ndarray) -> np.ndarray:
    """Claim 7: per unit, log(spread between architectures with random labels / with real labels).
    ``(n, architectures, layers)`` each → ``(n,)``."""
    return np.log(_spread(random) / _spread(real))


# ------------------------------------------------------------------------------------------------ arrays


def _paired_by(results: Sequence[Results], names: Sequence, value, key="downsampling", *,
               missing: str = "a run") -> np.ndarray:
    """``(seeds, len(names), ...)`` of ``value(run)`` over the seeds whose run of every name gives one (paired by
    seed): ``value`` returns an array, a number, or None where the run has no value (``missing`` says what the
    error, when no seed is left, calls such a run)."""
    rows = [[value(runs[n]) if n in runs else None for n in names] for runs in by_seed(results, key).values()]
    rows = [r for r in rows if all(v is not None for v in r)]
    if not rows:
        raise ValueError(f"no seed has {missing} for every one of {list(names)}")
    return np.array(rows, dtype=float)


def _paired(results: Sequence[Results], names: Sequence, field: str, epoch, key="downsampling") -> np.ndarray:
    """``(seeds, len(names), layers)`` of ``field`` at ``epoch`` over the seeds that have a run for every name."""
    return _paired_by(results, names, lambda run: getattr(run.at(epoch), field), key)


def _split(results: Sequence[Results]) -> tuple[list[str], list[str]]:
    names = set(group_by(results))
    pooled, unpooled = [n for n in POOLED if n in names], [n for n in UNPOOLED if n in names]
    if not pooled or not unpooled:
        raise ValueError("the test needs networks with pooling and without")
    return pooled, unpooled


def _networks_by_draw(networks: RandomNetworks, names: Sequence) -> np.ndarray:
    idx = [list(networks.conditions).index(n) for n in names]
    return np.transpose(networks.cosine[idx], (1, 0, 2))  # (draws, conditions, layers)


def _make(key: str, *, statistic: str, what: str, units, runs: int, role: str = "claim", claim: str = "",
          room: Room | None = None, **numbers) -> Verdict:
    return CLAIMS[key].judge(units, statistic=statistic, what=what, runs=runs, role=role, statement=claim, room=room,
                             **numbers)


# ------------------------------------------------------------------------------------------------ the tests


def pooling_at_init(networks: RandomNetworks | Sequence[Results], *, beside: Sequence = ()) -> Verdict:
    """Claim 1 (Figure 3a/c): pooling confers stability at initialisation.

    Statistic: per independent draw (random networks: ``pooling_init``; or per seed of trained runs, at their
    initialisation), the mean log-sensitivity over layers 1..L of the networks with pooling (max-, average-pool)
    minus that of the networks without (subsample, strided, strided-ReLU) built from the same generator; shown as
    the ratio with pooling ÷ without.  Paper's direction: below 1.  Minimal effect: 10%.

    ``beside``: further evidence judged by the same rule and reported beside (e.g. the full width, the trained
    runs' initialisations).
    """
    if isinstance(networks, RandomNetworks):
        pooled = [n for n in POOLED if n in networks.conditions]
        unpooled = [n for n in UNPOOLED if n in networks.conditions]
        if not pooled or not unpooled:
            raise ValueError("claim 1 needs networks with pooling and without")
        units = pooling_units(_networks_by_draw(networks, pooled), _networks_by_draw(networks, unpooled))
        room = room_collapse(np.asarray(networks.median, float).reshape(-1, networks.median.shape[-1]), "all",
                             "at initialisation")
        where = f"{networks.draws} random networks per variant at width ×{networks.width:g}"
        runs, unit, label = networks.draws * len(networks.conditions), "draw", f"random, width ×{networks.width:g}"
    else:
        pooled, unpooled = _split(networks)
        units = pooling_units(_paired(networks, pooled, "cosine", "init"),
                              _paired(networks, unpooled, "cosine", "init"))
        room = room_collapse(medians(networks, "init"), "all", "at initialisation")
        where = "the trained runs at initialisation, paired by seed"
        runs, unit, label = len(networks), "seed", "trained runs at init"
    v = _make("pooling", statistic=f"mean sensitivity over layers 1..L at initialisation, networks with pooling ÷ "
                                   f"without, per independent draw ({where})",
              what="sensitivity with pooling ÷ without", units=units, runs=runs, unit=unit, where=where, label=label,
              room=room)
    v.beside = [b if isinstance(b, Verdict) else _beside(pooling_at_init(b)) for b in beside]
    return v


def _beside(v: Verdict) -> Verdict:
    v.role = "beside"
    return v


def training_changes_pattern(results: Sequence[Results]) -> Verdict:
    """Claim 2 (section 3.2): training changes the pattern; sensitivity often increases, especially in the early
    layers.

    Statistic: per seed, the mean over all architectures of log(final / initial mean sensitivity over the early
    layers 1-6) -- each network against its own initialisation; shown as the ratio after ÷ before training.
    Paper's direction: above 1.  Minimal effect: 10%.  (One pre-specified contrast instead of 60 per-layer
    tests.)
    """
    names = list(group_by(results))
    init, final = _paired(results, names, "cosine", "init"), _paired(results, names, "cosine", "final")
    return _make("training-changes", statistic="mean sensitivity over the early layers (1-6), after ÷ before "
                                               "training, averaged over the architectures, per seed",
                 what="early-layer sensitivity after ÷ before training", units=change_units(init, final, "early"),
                 runs=len(results), unit="seed", room=room_learned(results))


def convergence_after_training(results: Sequence[Results]) -> Verdict:
    """Claim 3 (Figure 3b/d): after training, networks with and without pooling have similar patterns.

    Statistic: claim 1's statistic after training (per seed: mean log-sensitivity over layers 1..L with pooling
    minus without); an equivalence test: supported when the CI lies within a factor 1.10 either way.
    """
    pooled, unpooled = _split(results)
    units = pooling_units(_paired(results, pooled, "cosine", "final"), _paired(results, unpooled, "cosine", "final"))
    return _make("convergence", statistic="mean sensitivity over layers 1..L after training, networks with pooling ÷ "
                                          "without, per seed (equivalence test)",
                 what="sensitivity after training, with pooling ÷ without", units=units, runs=len(results),
                 unit="seed", room=room_collapse(medians(results, "final"), "all", "after training"))


def smoothing_stabilises(networks: RandomNetworks, *, beside: Sequence = ()) -> Verdict:
    """Claim 4 (Figure 4): smoother filters at initialisation give more stable representations.

    Statistic: per independent draw, log(mean sensitivity over layers 1..L of the network smoothed with the
    largest σ ÷ the same draw unsmoothed (smallest σ)); shown as that ratio.  Paper's direction: below 1.
    Minimal effect: 10%.
    """
    sig = list(networks.conditions)
    units = smoothing_units(networks.cosine[int(np.argmax(sig))], networks.cosine[int(np.argmin(sig))])
    where = f"{networks.draws} random networks per σ at width ×{networks.width:g}"
    v = _make("smoothing", statistic=f"mean sensitivity over layers 1..L at initialisation, σ = {max(sig):g} ÷ "
                                     f"σ = {min(sig):g} (the same draw smoothed), per independent draw ({where})",
              what=f"sensitivity at σ = {max(sig):g} ÷ σ = {min(sig):g}", units=units,
              runs=networks.draws * len(sig), unit="draw", where=where, label=f"random, width ×{networks.width:g}",
              room=room_collapse(np.asarray(networks.median, float)[[int(np.argmax(sig)), int(np.argmin(sig))]]
                                 .reshape(-1, networks.median.shape[-1]), "all", "at initialisation"))
    v.beside = [b if isinstance(b, Verdict) else _beside(smoothing_stabilises(b)) for b in beside]
    return v


def stronger_tasks_smoother(results: Sequence[Results]) -> Verdict:
    """Claim 5 (Figure 5): tasks that require stronger stability learn smoother filters.

    Statistic: per seed (the tasks of a seed share its initialisation), the fitted change of log(mean TV over
    conv layers) from the weakest to the strongest task (:func:`strength_units`); shown as the ratio strongest ÷
    weakest.  Paper's direction: below 1.  Minimal effect: 3%.  The TV compared is that after training, or, in a
    profile with ``synthetic_matched_loss`` (``standard``), that at the moment each run's training loss first
    reaches that level, while its filters still change (:mod:`.matched`; seeds with a run that never reaches it
    are left out).
    """
    strengths = sorted(group_by(results, "strength"))
    level = matched_loss_level(results)
    if level is None:
        tv = _paired(results, strengths, "smoothness", "final", key="strength")
        when, used = "of the trained filters", len(results)
    else:
        tv = _paired_by(results, strengths, lambda run: at_training_loss(run, "smoothness", level), "strength",
                        missing=f"a run reaching training loss {level:g}")
        when = f"at matched training loss {level_words(level)}"
        used = len(tv) * len(strengths)
    # TV at initialisation, over the same seeds as ``tv`` (those whose runs all reach the level): room to move
    init = _paired_by(results, strengths, lambda run: run.initial.smoothness if level is None or at_training_loss(
        run, "smoothness", level) is not None else None, "strength", missing="a run reaching the level")
    return _make("synthetic", statistic=f"mean TV/‖W‖₁ {when}, fitted change from C = "
                                        f"{min(strengths):g} to C = {max(strengths):g}, per seed",
                 what=f"filter TV at C = {max(strengths):g} ÷ C = {min(strengths):g}",
                 units=strength_units(strengths, tv), runs=used, unit="seed",
                 room=room_tv_moved(init, tv, CLAIMS["synthetic"].rule.minimal,
                                    "At the matched training loss" if level is not None else "After training"))


def training_smooths(results: Sequence[Results]) -> Verdict:
    """Claim 6 (Figure 6a/b): training makes filters smoother.

    Statistic: per seed, the mean over architectures of log(mean TV over conv layers after ÷ before training);
    shown as that ratio.  Paper's direction: below 1.  Minimal effect: 3%.
    """
    names = list(group_by(results))
    init, final = _paired(results, names, "smoothness", "init"), _paired(results, names, "smoothness", "final")
    return _make("training-smooths", statistic="mean TV/‖W‖₁ over conv layers, after ÷ before training, averaged "
                                               "over the architectures, per seed",
                 what="filter TV after ÷ before training", units=tv_change_units(init, final), runs=len(results),
                 unit="seed", room=room_learned(results))


def random_labels_depend_on_architecture(random: Sequence[Results], real: Sequence[Results], *,
                                        contrast: str = "") -> Verdict:
    """Claim 7 (Figures 6c, 7): with random labels the pattern of stability depends on the architecture, more
    than with real labels.

    Statistic: per seed (random- and real-label runs share it), log of the spread between architectures after
    training with random labels ÷ with real labels; the spread is the mean over layers 1..L of the standard
    deviation across architectures of the log-sensitivity (the typical relative difference between architectures
    at a layer).  Paper's direction: above 1.  Minimal effect: a factor 1.25.

    ``contrast``: which real-label runs ``real`` are, in words, appended to the statistic (the report says
    whether they were trained by the random labels' recipe; :func:`defstab_lib.analysis.report.label_contrast`).
    """
    names = [n for n in group_by(random) if n in group_by(real)]
    if len(names) < 2:
        raise ValueError("claim 7 needs at least two architectures with random and real labels")
    r = by_seed(random)
    common = [s for s in by_seed(real) if s in r]
    rnd = _paired([x for x in random if x.config.seed in common], names, "cosine", "final")
    rel = _paired([x for x in real if x.config.seed in common], names, "cosine", "final")
    return _make("random-labels", statistic="spread between architectures of the sensitivity after training (mean "
                                            "over layers of the SD of log-sensitivity), random ÷ real labels, per "
                                            "seed" + (f"; real labels: {contrast}" if contrast else ""),
                 what="spread between architectures, random ÷ real labels", units=spread_units(rnd, rel),
                 runs=len(random) + len(real), unit="seed",
                 room=room_collapse(medians([*random, *real], "final"), "all", "after training"))


def unpooled_learn_stability(results: Sequence[Results]) -> Verdict:
    """The headline (section 1.3): networks without pooling learn stability in training.

    Statistic: per seed, the mean over the networks *without* pooling of log(final / initial mean sensitivity
    over the later layers 7-12); shown as the ratio after ÷ before training.  Paper's direction: below 1 (it
    falls).  Minimal effect: 10%.  The same change for the networks *with* pooling is reported beside it.
    """
    pooled, unpooled = _split(results)
    verdicts = []
    for names, which, role in ((unpooled, "without", "claim"), (pooled, "with", "beside")):
        init, final = _paired(results, names, "cosine", "init"), _paired(results, names, "cosine", "final")
        verdicts.append(_make(
            "headline", statistic=f"mean sensitivity over the later layers (7-12) of the networks {which} pooling, "
                                  f"after ÷ before training, per seed",
            what=f"later-layer sensitivity {which} pooling, after ÷ before training",
            units=change_units(init, final, "late"), runs=sum(len(group_by(results)[n]) for n in names),
            role=role, unit="seed", label=f"{which} pooling",
            room=room_learned([r for r in results if r.config.arch.downsampling in names]),
            claim="" if role == "claim" else "Beside the headline: the same change in networks with pooling "
                                               "(the paper does not state its direction)."))
    verdicts[0].beside = verdicts[1:]
    return verdicts[0]
