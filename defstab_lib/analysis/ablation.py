"""What teaches stability?  The ablation's arrays and its three pre-registered verdicts, one per factor.

The ablation (:func:`defstab_lib.runs.experiments.ablation_cells`) trains one network without pooling (subsample) and
one with (max-pool), moving one factor of a profile's recipe at a time -- augmentation, weight decay, training
length -- :data:`~defstab_lib.runs.profiles.ABLATION_SEEDS` initialisations per cell.  Its runs arrive grouped by
cell, ``{(factor, level): [Results]}``, the profile's own recipe as the cell ``("baseline", None)``.  A level maps
to its cell whichever level the profile's recipe has: in ``cpu`` the baseline's augmentation is ``"none"`` and
``("augmentation", "flip-crop")`` is a cell of its own; in ``standard`` the baseline *is* flip-crop and
``("augmentation", "none")`` is the moved cell.

**The rules, fixed before any ablation result existed** (the machinery is that of the paper's claims,
:mod:`.stats` and :func:`.verdicts.judge`):

- *Quantity*: s = the mean normalised cosine sensitivity over the later layers (7-12) after training, the
  headline's quantity (:func:`.claims.mean_log` ``(cosine, "late")`` of the final measurement).  Secondary: the
  filter roughness, mean normalised TV over the conv layers after training (``smoothness``).
- *Unit*: the seed.  Under protocol 2 a network's initial weights depend on (architecture, seed) only and the
  data order on the seed only; under protocol 1 (the ``cpu`` profile) the weights depend on the seed only.  Either
  way the cells of one seed start from the same weights and see the same batches: they are paired.  Per seed,
  the effect is the mean over the two networks of ``log(s at the level / s at the reference level)``
  (:func:`contrast_units`); each network's own effect is reported beside.  Only seeds with a run in both cells for
  both networks count.  The 95% interval is Student's t over the seeds (fewer than 10).
- **augmentation** -- claim "Crop-and-flip augmentation teaches stability to deformation": flip-crop ÷ none,
  direction -1 (lower with augmentation), minimal effect :data:`~.claims.SENSITIVITY_MINIMAL` (10%).  Beside:
  flip-crop-tps ÷ flip-crop, direction -1 ("adding random deformations at the probe's strength teaches more"),
  the same minimal effect.
- **weight decay** -- claim "Weight decay teaches stability to deformation": 5e-3 (ten times the default) ÷ 0,
  direction -1, 10%.  Beside: 5e-4 (the default) ÷ 0, the same rule.
- **length** -- claim "Longer training teaches more stability": full ÷ a quarter of the epochs, direction -1, 10%.
- For each factor, also beside: the filter TV of the claim's contrast, direction -1, minimal effect
  :data:`~.claims.TV_MINIMAL` (3%).

*supported*: the interval lies below 1× and the estimate reaches the minimal effect; *contradicted*: it lies above
1×; *no meaningful effect*: it lies within the minimal effect either way; otherwise *inconclusive*, with the number
of seeds that would decide it (:func:`.stats.n_needed`).  ``tests/analysis/test_ablation.py`` calibrates each
rule by simulation at 3 seeds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..runs.sizes import training_images, training_steps
from ..runs.experiments import ablation_level
from ..runs.profiles import ABLATION_FACTORS, ABLATION_NETWORKS, get_profile
from ..runs.store import Results
from .arrays import by_seed
from .claims import CLAIMS, change_units, tv_change_units
from .compare import ProfileVerdicts
from .recipe import AUGMENTATION_WORDS, PAPER, recipe
from .stats import Rule
from .verdicts import Verdict, glue_values, judge, side_by_side
from .worstcase import trajectory

__all__ = ["FACTORS", "RULES", "Contrast", "Factor", "AblationRuns", "cell", "cell_name", "levels", "level_label",
           "factor_results", "cell_groups", "paired", "contrast_units", "tv_units", "factor_verdict", "factor_verdicts",
           "factor_arrays", "factor_recipe_rows", "glue_numbers", "comparison_rows", "comparison_note"]

Cells = Mapping[tuple[str, Any], Sequence[Results]]

BASELINE = ("baseline", None)

#: The pre-registered rules (see the module docstring): the paper's claims' own, a fall of at least 10% in
#: sensitivity (the headline's rule) and of at least 3% in filter TV (claim 6's rule).
RULES: dict[str, Rule] = {"sensitivity": CLAIMS["headline"].rule, "tv": CLAIMS["training-smooths"].rule}


@dataclasses.dataclass(frozen=True)
class Contrast:
    """One comparison of two levels of a factor: ``level ÷ reference``, and the claim it tests in words."""

    level: Any
    reference: Any
    claim: str


@dataclasses.dataclass(frozen=True)
class Factor:
    """A factor's claim (its first contrast) and the contrasts reported beside it."""

    name: str
    title: str
    claim: Contrast
    beside: tuple[Contrast, ...] = ()


#: The three factors, in the chapter's order, with their pre-registered contrasts.
FACTORS: dict[str, Factor] = {
    "augmentation": Factor(
        "augmentation", "Augmentation",
        Contrast("flip-crop", "none", "Crop-and-flip augmentation teaches stability to deformation."),
        (Contrast("flip-crop-tps", "flip-crop", "Adding random deformations at the probe's strength teaches more."),),
    ),
    "weight_decay": Factor(
        "weight_decay", "Weight decay",
        Contrast(5e-3, 0.0, "Weight decay teaches stability to deformation."),
        (Contrast(5e-4, 0.0, "Weight decay at its default (5e-4) teaches stability to deformation."),),
    ),
    "length": Factor(
        "length", "Training length",
        Contrast("full", "quarter", "Longer training teaches more stability."),
    ),
}


# ------------------------------------------------------------------------------------------------ cells


@dataclasses.dataclass
class AblationRuns:
    """The ablation's runs of one profile, as :func:`defstab_lib.chapters.loading.load_cells` returns them.

    Attributes:
        profile: the profile's name.
        cells: ``{(factor, level): [Results]}``, the baseline first as ``("baseline", None)``.
    """

    profile: str
    cells: dict[tuple[str, Any], list[Results]]

    @property
    def all_results(self) -> list[Results]:
        """Every run, cell after cell."""
        return [r for rs in self.cells.values() for r in rs]


def cell_name(key: tuple[str, Any]) -> str:
    """A cell ``(factor, level)`` in words, as the chapter and its messages name it."""
    factor, level = key
    return "the baseline" if key == BASELINE else f"{factor} = {level}"


def cell(cells: Cells, factor: str, level: Any) -> list[Results]:
    """The runs of ``factor`` at ``level``: its own cell, or the baseline's when ``level`` is the profile's own.

    Raises:
        KeyError: no cell holds that level (the message lists the cells).
    """
    if factor not in ABLATION_FACTORS:
        raise ValueError(f"unknown factor {factor!r}; allowed: {', '.join(ABLATION_FACTORS)}")
    if (factor, level) in cells:
        return list(cells[(factor, level)])
    base = list(cells.get(BASELINE, ()))
    if base and ablation_level(base[0].config, factor) == level:
        return base
    raise KeyError(f"no cell holds {factor} = {level!r}; cells: {[cell_name(k) for k in cells]}")


def levels(cells: Cells, factor: str) -> list[Any]:
    """The levels of ``factor`` that ``cells`` hold, in :data:`~defstab_lib.runs.profiles.ABLATION_FACTORS`'
    order (for the figures: less of the factor first)."""
    out = []
    for level in ABLATION_FACTORS[factor]:
        try:
            cell(cells, factor, level)
        except KeyError:
            continue
        out.append(level)
    return out


def level_label(cells: Cells, factor: str, level: Any) -> str:
    """A level in words, with the profile's own recipe marked: ``"5e-4 (recipe)"``, ``"quarter (2 epochs)"``."""
    runs_ = cell(cells, factor, level)
    text = _level_text(factor, level)
    if factor == "length":
        text += f" ({runs_[0].config.epochs} epoch{'s' * (runs_[0].config.epochs != 1)})"
    base = cells.get(BASELINE)
    return text + (" (recipe)" if base and runs_[0] is base[0] else "")


def _level_text(factor: str, level: Any) -> str:
    return {0.0: "0", 5e-4: "5e-4", 5e-3: "5e-3"}.get(level, str(level)) if factor == "weight_decay" else str(level)


def factor_results(cells: Cells, factor: str) -> list[Results]:
    """Every run of ``factor``'s levels (the baseline's included once): what its figure is drawn from."""
    runs_ = {id(r): r for level in levels(cells, factor) for r in cell(cells, factor, level)}
    return list(runs_.values())


def cell_groups(cells: Cells) -> dict[str, list[Results]]:
    """``{"<cell>, <network>": runs}`` for every cell and network, the baseline first (e.g. for
    :func:`~defstab_lib.analysis.tables.accuracy_rows`)."""
    out: dict[str, list[Results]] = {}
    for key, rs in cells.items():
        name = "baseline (the recipe)" if key == BASELINE else f"{key[0].replace('_', ' ')} {_level_text(*key)}"
        for net in ABLATION_NETWORKS:
            if _of(rs, net):
                out[f"{name}, {net}"] = _of(rs, net)
    return out


# ------------------------------------------------------------------------------------------------ units


def paired(reference: Sequence[Results], level: Sequence[Results], field: str = "cosine",
           networks: Sequence[str] = ABLATION_NETWORKS) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """``(reference (n, k, values), level (n, k, values), seeds)``: the final ``field`` of the ``k`` networks in
    both cells, for the ``n`` seeds that have a run in both cells for every network (paired by seed).

    Raises:
        ValueError: no seed has all the runs.
    """
    a, b = by_seed(reference), by_seed(level)
    seeds = [s for s in a if s in b and all(n in a[s] and n in b[s] for n in networks)]
    if not seeds:
        raise ValueError(f"no seed has a run of every network {list(networks)} in both cells")

    def stack(side):
        return np.array([[getattr(side[s][n].final, field) for n in networks] for s in seeds], dtype=float)

    return stack(a), stack(b), seeds


def contrast_units(reference: np.ndarray, level: np.ndarray) -> np.ndarray:
    """Per seed, the mean over its networks of ``log(s at the level / s at the reference)``, s the mean sensitivity
    over the later layers (7-12) (:func:`.claims.change_units` with ``part="late"``).
    ``(n, networks, layers)`` each → ``(n,)``.

    >>> ref = np.full((1, 2, 13), 0.2)
    >>> np.round(contrast_units(ref, ref * 0.5), 4)
    array([-0.6931])
    """
    return change_units(reference, level, "late")


def tv_units(reference: np.ndarray, level: np.ndarray) -> np.ndarray:
    """Per seed, the mean over its networks of ``log(TV at the level / TV at the reference)``, TV the mean over
    conv layers (:func:`.claims.tv_change_units`).  ``(n, networks, conv layers)`` each → ``(n,)``."""
    return tv_change_units(reference, level)


# ------------------------------------------------------------------------------------------------ verdicts


def _words(factor: str, level: Any) -> str:
    return {0.0: "no weight decay", 5e-4: "weight decay 5e-4", 5e-3: "weight decay 5e-3"}.get(level, str(level)) \
        if factor == "weight_decay" else (f"{level} length" if factor == "length" else str(level))


def _contrast_verdict(cells: Cells, factor: str, contrast: Contrast, *, quantity: str, role: str, claim: str,
                      network: str | None = None, number: str = "") -> Verdict:
    """The verdict (:func:`~.verdicts.judge`, rule :data:`RULES` ``[quantity]``) of ``contrast`` of ``factor`` in
    ``quantity`` (``"sensitivity"`` or ``"tv"``), over both networks or over ``network`` alone."""
    ref, lev = cell(cells, factor, contrast.reference), cell(cells, factor, contrast.level)
    field = "cosine" if quantity == "sensitivity" else "smoothness"
    a, b, seeds = paired(ref, lev, field)
    if network is not None:
        j = list(ABLATION_NETWORKS).index(network)
        a, b = a[:, j:j + 1], b[:, j:j + 1]
    units = contrast_units(a, b) if quantity == "sensitivity" else tv_units(a, b)
    ratio = f"{_words(factor, contrast.level)} ÷ {_words(factor, contrast.reference)}"
    what = ("later-layer sensitivity" if quantity == "sensitivity" else "filter TV") + f" after training, {ratio}"
    nets = network or " and ".join(ABLATION_NETWORKS)
    statistic = (f"per seed, {'the mean over the networks (' + nets + ') of ' if network is None else ''}log of the "
                 + ("mean normalised cosine sensitivity over layers 7-12" if quantity == "sensitivity"
                    else "mean TV/‖W‖₁ over the conv layers") + f" after training, {ratio}"
                 + (f" ({network} only)" if network else "") + "; cells paired by seed")
    label = network or ("filter TV" if quantity == "tv" else ratio)
    return judge(claim=claim, figure="left open by the paper", statistic=statistic, what=what, units=units,
                 rule=RULES[quantity], runs=2 * len(seeds) * (len(ABLATION_NETWORKS) if network is None else 1),
                 role=role, numbers={"unit": "seed", "label": label, "factor": factor, "number": number, "seeds": seeds},
                 direction_words="the direction fixed in advance")


def factor_verdict(cells: Cells, factor: str) -> Verdict:
    """The verdict of ``factor`` (a key of :data:`FACTORS`), with beside it: each network's own effect, the other
    contrasts of the factor, and the filter TV of the claim's contrast.

    Raises:
        KeyError: a level the rule needs has no cell; ValueError: no seed pairs the cells.
    """
    if factor not in FACTORS:
        raise ValueError(f"unknown factor {factor!r}; allowed: {', '.join(FACTORS)}")
    f = FACTORS[factor]
    number = str(list(FACTORS).index(factor) + 1)
    v = _contrast_verdict(cells, factor, f.claim, quantity="sensitivity", role="claim", claim=f.claim.claim,
                          number=number)
    beside = [_contrast_verdict(cells, factor, f.claim, quantity="sensitivity", role="beside", network=n,
                                claim=f"Beside: the {n} network alone.", number=f"{number}{chr(97 + i)}")
              for i, n in enumerate(ABLATION_NETWORKS)]
    for c in f.beside:
        beside.append(_contrast_verdict(cells, factor, c, quantity="sensitivity", role="beside",
                                        claim=f"Beside: {c.claim}", number=f"{number}{chr(97 + len(beside))}"))
    beside.append(_contrast_verdict(cells, factor, f.claim, quantity="tv", role="beside",
                                    claim="Beside: the filters are smoother (lower TV) in the same contrast.",
                                    number=f"{number}{chr(97 + len(beside))}"))
    v.beside = beside
    return v


def factor_verdicts(cells: Cells) -> list[Verdict]:
    """One verdict per factor, in :data:`FACTORS`' order (the chapter's table lists each with what is beside it,
    :func:`~defstab_lib.analysis.verdicts.table_rows`)."""
    return [factor_verdict(cells, f) for f in FACTORS]


def glue_numbers(found: Sequence[Verdict]) -> dict[str, str]:
    """What the chapter glues: per factor (``augmentation``, ``weight_decay``, ``length``) its
    :func:`~defstab_lib.analysis.verdicts.glue_values` (``verdict_<factor>``, ``rule_<factor>``,
    ``change_<factor>``, ``beside_<factor>``, ...) and ``seeds_<factor>``, the seeds it rests on."""
    out: dict[str, str] = {}
    for v in found:
        factor = v.numbers["factor"]
        out.update(glue_values(v, factor))
        out[f"seeds_{factor}"] = str(v.n_independent)
    return out


def comparison_rows(compared: Sequence[ProfileVerdicts]) -> list[dict[str, str]]:
    """One row per factor, one column per profile of :func:`defstab_lib.chapters.loading.compare_ablations` with all
    its cells stored (:func:`~defstab_lib.analysis.verdicts.side_by_side`): the verdict, the effect with its 95% CI
    and the seeds, the baseline recipe named in the header."""
    done = {c.profile: c.verdicts for c in compared if c.complete}
    augmentation = {p: get_profile(p).augmentation for p in done}
    header = {p: f"{p} profile (recipe: {'no augmentation' if a == 'none' else a})" for p, a in augmentation.items()}
    return side_by_side({header[p]: found for p, found in done.items()}, label_column="factor",
                        label=lambda v: f"{v.numbers['number']}. {v.claim}",
                        cell=lambda v: f"{v.verdict}: {v.what} = {v.value}, {v.n_independent} seeds")


def comparison_note(compared: Sequence[ProfileVerdicts]) -> str:
    """What :func:`comparison_rows` leaves out: one sentence per profile whose ablation is not all stored, or a
    sentence saying that every profile's is."""
    missing = [f"the {c.profile} profile's ablation is not in the table, since not all its runs are stored "
               f"({c.missing})" for c in compared if not c.complete]
    text = "; ".join(missing)
    return f"{text[0].upper()}{text[1:]}." if missing else "Every profile's ablation is stored."


# ------------------------------------------------------------------------------------------------ figures' arrays


def factor_arrays(cells: Cells, factor: str) -> dict[str, Any]:
    """Everything the figure of ``factor`` draws, per network (:data:`ABLATION_NETWORKS`):

    ``{"levels": [label, ...], "networks": {network: {"profiles": {label: (seeds, layers)}, "init": (seeds,
    layers), "tv": {label: (seeds,)}, "tv_init": (seeds,), "trajectories": {label: (epochs (T,), (seeds,
    T))}}}}`` -- sensitivity profiles after training, the initialisation's (of the baseline cell), the mean filter TV
    over conv layers after training, and the later-layer sensitivity (mean over layers 7-12) at every measured
    epoch.  Labels are :func:`level_label`'s, in :func:`levels`' order.
    """
    order = levels(cells, factor)
    labels = [level_label(cells, factor, lev) for lev in order]
    base = list(cells[BASELINE])
    out: dict[str, Any] = {"levels": labels, "networks": {}}
    for net in ABLATION_NETWORKS:
        entry: dict[str, Any] = {"profiles": {}, "tv": {}, "trajectories": {}}
        for lev, label in zip(order, labels):
            rs = _of(cell(cells, factor, lev), net)
            if not rs:
                continue
            entry["profiles"][label] = np.array([r.final.cosine for r in rs], dtype=float)
            entry["tv"][label] = np.array([np.mean(r.final.smoothness) for r in rs], dtype=float)
            entry["trajectories"][label] = trajectory(rs, "late-sensitivity")
        entry["init"] = np.array([r.initial.cosine for r in _of(base, net)], dtype=float)
        entry["tv_init"] = np.array([np.mean(r.initial.smoothness) for r in _of(base, net)], dtype=float)
        out["networks"][net] = entry
    return out


def _of(results: Sequence[Results], network: str) -> list[Results]:
    return [r for r in results if r.config.arch.downsampling == network]


def factor_recipe_rows(cells: Cells) -> list[dict[str, str]]:
    """The recipe of the runs beside the paper's, with each factor's levels (not
    :func:`~defstab_lib.analysis.recipe.recipe_rows`, which states sets of runs side by side): the baseline cell's
    recipe aspect by aspect
    (:func:`~defstab_lib.analysis.recipe.recipe`, in the words every training chapter uses), with each factor's
    levels in place of the one the baseline fixes."""
    base = list(cells[BASELINE])
    c, own = base[0].config, recipe(base)
    n = training_images(c)

    def steps(epochs: int) -> str:
        steps = training_steps(dataclasses.replace(c, epochs=epochs, measure_epochs=()))
        return f"{n:,} images × {epochs} epoch{'s' * (epochs != 1)} (≈{steps:,} steps)"

    def moved(factor: str, words) -> str:
        return "; ".join(f"{words(level)}{' (the recipe)' if level == ablation_level(c, factor) else ''}"
                         for level in levels(cells, factor))

    quarter = {"quarter": cell(cells, "length", "quarter")[0].config.epochs} if "quarter" in levels(
        cells, "length") else {}
    rows = [("data", own["data"], PAPER["data"]), ("network", own["network"], PAPER["network"]),
            ("the recipe (baseline cell)", f"{own['training']}; augmentation {c.data.augmentation}",
             PAPER["training"]),
            ("augmentation", moved("augmentation", lambda a: a if a == "none" else f"{a}: {AUGMENTATION_WORDS[a]}"),
             "not stated (crops and flips were standard for CIFAR-10 and ImageNet in 2018)"),
            ("weight decay", moved("weight_decay", lambda wd: f"{wd:g}"), "not stated"),
            ("length", moved("length", lambda lv: f"{lv}: {steps(quarter.get(lv, c.epochs))}"),
             "trained to convergence"),
            ("initialisations", f"per cell: {own['initialisations']}; every cell of a seed starts from its "
                                f"network's weights and sees the same batches",
             PAPER["initialisations"]),
            *((aspect, own[aspect], PAPER[aspect]) for aspect in ("arithmetic", "probe", "measured"))]
    return [{"": name, "these runs": ours, "the paper": theirs} for name, ours, theirs in rows]
