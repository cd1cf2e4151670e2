"""The computations behind the declared specifications (:mod:`.specifications`): each claim's statistic with one
choice moved -- the layer window, the distance, the networks compared, the time of the "after", the initial
BatchNorm statistics, the recipe, the scale, the baseline -- and the readings beside a verdict (per layer, with the
probe resampled, room to move).

Every function returns a :class:`~.verdicts.Verdict` judged by the claim's own record (:data:`.claims.CLAIMS`), so
that an alternative differs from the pre-registered analysis in exactly the choice it names.

Layer windows use the paper's numbering (layer 0 = the input; the CIFAR network's 12 layers after it, 8 conv and 4
downsampling): ``"all"`` = 1-12, ``"early"`` = 1-6, ``"late"`` = 7-12, ``"last"`` = 12 alone.  Conv-layer windows
of filter TV: ``"all"``, ``"early"`` (the first half of the conv layers), ``"late"`` (the second half), ``"last"``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..runs.store import Measurement, Results
from ..runs.untrained import RandomNetworks
from ..vocabulary import POOLED, UNPOOLED
from . import claims
from .arrays import by_seed, group_by
from .matched import at_training_loss, matched_loss_level
from .room import medians as _medians, room_collapse, room_learned, room_tv_moved
from .stats import interval_with_probe, probe_replicates
from .verdicts import Verdict

__all__ = ["WINDOWS", "DISTANCES", "window", "window_words", "change", "between", "between_random", "smoothing", "strength", "tv_change", "spread", "per_layer",
           "per_layer_spread", "with_probe"]

#: Layer windows in the paper's numbering (see the module docstring).
WINDOWS = ("all", "early", "late", "last")
#: The distances a sensitivity can be read in, per layer, from a measurement: the normalised cosine distance D
#: (the pre-registered one), D relative to the noise-matched control (R = D/G, Petrini et al.'s relative
#: stability) and the normalised Euclidean distance.
DISTANCES: dict[str, Callable[[Measurement], list[float]]] = {
    "cosine": lambda m: m.cosine,
    "R": lambda m: m.noise_ratio,
    "euclidean": lambda m: m.euclidean,
}
_DISTANCE_WORDS = {"cosine": "normalised cosine distance D", "R": "R = D/G (deformation ÷ noise-matched control)",
                   "euclidean": "normalised Euclidean distance"}

def window(n_layers: int, part: str, *, first: int = 1) -> slice:
    """The layers of ``part`` among ``n_layers`` values per network (``first``: the first layer counted; 1 for
    sensitivities, whose index 0 is the input; 0 for conv-layer TV)."""
    if part not in WINDOWS:
        raise ValueError(f"part must be one of {WINDOWS}, got {part!r}")
    half = n_layers // 2 if first == 0 else 1 + (n_layers - 1) // 2
    return {"all": slice(first, None), "early": slice(first, half), "late": slice(half, None),
            "last": slice(n_layers - 1, None)}[part]


def window_words(part: str, n_layers: int = 13, *, conv: bool = False) -> str:
    """``"layers 7-12"`` and the like, in the paper's numbering (``conv``: of the conv layers' TV)."""
    if conv:
        return {"all": "all conv layers", "early": "the first half of the conv layers",
                "late": "the second half of the conv layers", "last": "the last conv layer"}[part]
    s = window(n_layers, part)
    layers = range(n_layers)[s]
    return f"layer {layers[0]}" if len(layers) == 1 else f"layers {layers[0]}-{layers[-1]}"


def _mean_log(values: np.ndarray, part: str, *, first: int = 1) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    return np.log(values[..., window(values.shape[-1], part, first=first)].mean(-1))


def _paired(results: Sequence[Results], names: Sequence, value: Callable[[Results], object],
            key="downsampling", missing: str = "a run") -> np.ndarray:
    return claims._paired_by(results, names, value, key, missing=missing)


def _names(results: Sequence[Results], which: str) -> list[str]:
    present = set(group_by(results))
    wanted = {"unpooled": UNPOOLED, "pooled": POOLED}.get(which, (which,) if which in present else tuple(present))
    names = [n for n in (wanted if which in ("unpooled", "pooled") else sorted(wanted)) if n in present]
    if not names:
        raise ValueError(f"no runs of {which!r} networks among {sorted(present)}")
    return names


def _count(results: Sequence[Results], names: Sequence[str]) -> int:
    groups = group_by(results)
    return sum(len(groups[n]) for n in names)


# ------------------------------------------------------------------------------------------------ sensitivities


def change(key: str, results: Sequence[Results], *, networks: str = "all", part: str, distance: str = "cosine",
           before="init", after="final", label: str) -> Verdict:
    """The headline's or claim 2's statistic with one choice moved: per seed, the mean over ``networks``
    (``"all"``, ``"unpooled"``, ``"pooled"`` or one architecture) of log(after ÷ before mean ``distance`` over
    layers ``part``).  ``before``/``after``: the epochs compared (``"init"``, ``"final"`` or a number)."""
    names = _names(results, networks)
    value = DISTANCES[distance]
    init = _paired(results, names, lambda r: value(r.at(before)))
    final = _paired(results, names, lambda r: value(r.at(after)))
    units = (_mean_log(final, part) - _mean_log(init, part)).mean(1)
    subset = [r for r in results if r.config.arch.downsampling in names]
    return claims.CLAIMS[key].judge(
        units, statistic=f"mean {_DISTANCE_WORDS[distance]} over {window_words(part, init.shape[-1])} of the "
                         f"{networks} networks, {after} ÷ {before}, per seed",
        what=f"{window_words(part, init.shape[-1])} sensitivity, after ÷ before", runs=_count(results, names),
        unit="seed", label=label, room=room_learned(subset))


def between(key: str, results: Sequence[Results], *, epoch="final", part: str = "all", distance: str = "cosine",
            unpooled: str = "unpooled", label: str) -> Verdict:
    """Claim 1's (trained runs at ``epoch="init"``) or claim 3's (``"final"``) statistic with one choice moved:
    per seed, mean log-sensitivity over ``part`` of the networks with pooling minus those without (``unpooled``:
    all of them or one architecture)."""
    pooled, without = _names(results, "pooled"), _names(results, unpooled)
    value = DISTANCES[distance]
    p = _paired(results, pooled, lambda r: value(r.at(epoch)))
    u = _paired(results, without, lambda r: value(r.at(epoch)))
    units = _mean_log(p, part).mean(1) - _mean_log(u, part).mean(1)
    subset = [r for r in results if r.config.arch.downsampling in (*pooled, *without)]
    where = "at initialisation" if epoch == "init" else "after training"
    return claims.CLAIMS[key].judge(
        units, statistic=f"mean {_DISTANCE_WORDS[distance]} over {window_words(part, p.shape[-1])} {where}, with "
                         f"pooling ÷ without ({unpooled}), per seed",
        what=f"sensitivity {where}, with pooling ÷ without", runs=len(subset), unit="seed", label=label,
        room=room_collapse(_medians(subset, epoch), part, where))


def between_random(networks: RandomNetworks, *, part: str = "all", distance: str = "cosine",
                   unpooled: Sequence[str] = UNPOOLED, label: str) -> Verdict:
    """Claim 1 on random networks with one choice moved: the layer window, the distance (``"cosine"`` or
    ``"R"``), or the networks without pooling compared."""
    values = networks.cosine if distance == "cosine" else networks.ratio
    idx = {n: list(networks.conditions).index(n) for n in networks.conditions}
    pooled = [n for n in POOLED if n in idx]
    without = [n for n in unpooled if n in idx]
    p = np.transpose(values[[idx[n] for n in pooled]], (1, 0, 2))
    u = np.transpose(values[[idx[n] for n in without]], (1, 0, 2))
    units = _mean_log(p, part).mean(1) - _mean_log(u, part).mean(1)
    medians = np.asarray(networks.median, float)[[idx[n] for n in (*pooled, *without)]].reshape(
        -1, networks.median.shape[-1])
    return claims.CLAIMS["pooling"].judge(
        units, statistic=f"mean {_DISTANCE_WORDS[distance]} over {window_words(part, values.shape[-1])} at "
                         f"initialisation, with pooling ÷ without ({', '.join(without)}), per independent draw "
                         f"({networks.draws} random networks per variant at width ×{networks.width:g})",
        what="sensitivity with pooling ÷ without", runs=networks.draws * (len(pooled) + len(without)), unit="draw",
        label=label, room=room_collapse(medians, part, "at initialisation"))


def smoothing(networks: RandomNetworks, *, part: str = "all", distance: str = "cosine", sigma: float | None = None,
              label: str) -> Verdict:
    """Claim 4 with one choice moved: the layer window, the distance, or the σ compared with the unsmoothed draw
    (default the largest)."""
    values = networks.cosine if distance == "cosine" else networks.ratio
    sig = list(networks.conditions)
    top = max(sig) if sigma is None else sigma
    i, j = sig.index(top), int(np.argmin(sig))
    units = _mean_log(values[i], part) - _mean_log(values[j], part)
    medians = np.asarray(networks.median, float)[[i, j]].reshape(-1, networks.median.shape[-1])
    return claims.CLAIMS["smoothing"].judge(
        units, statistic=f"mean {_DISTANCE_WORDS[distance]} over {window_words(part, values.shape[-1])} at "
                         f"initialisation, σ = {top:g} ÷ σ = {min(sig):g}, per independent draw ({networks.draws} "
                         f"random networks per σ at width ×{networks.width:g})",
        what=f"sensitivity at σ = {top:g} ÷ σ = {min(sig):g}", runs=2 * networks.draws, unit="draw", label=label,
        room=room_collapse(medians, part, "at initialisation"))


# ------------------------------------------------------------------------------------------------ filter TV


def strength(results: Sequence[Results], *, part: str = "all", when: str = "matched", endpoints: bool = False,
             label: str) -> Verdict:
    """Claim 5 with one choice moved: the conv layers, the moment compared (``"matched"``: at the profile's
    matched training loss where it has one; ``"final"``: after training), or the statistic (``endpoints``: the
    strongest task ÷ the weakest directly instead of the fitted slope).  Room: :func:`room_tv_moved`."""
    strengths = sorted(group_by(results, "strength"))
    level = matched_loss_level(results) if when == "matched" else None
    if level is None:
        tv = _paired(results, strengths, lambda r: r.final.smoothness, key="strength")
        moment = "after training"
    else:
        tv = _paired(results, strengths, lambda r: at_training_loss(r, "smoothness", level), key="strength",
                     missing=f"a run reaching training loss {level:g}")
        moment = f"at the matched training loss ({level:g} nats)"
    init = _paired(results, strengths, lambda r: r.initial.smoothness, key="strength")
    s = window(tv.shape[-1], part, first=0)
    tv_w, init_w = tv[..., s], init[..., s]
    if endpoints:
        units = np.log(tv_w[:, -1].mean(-1)) - np.log(tv_w[:, 0].mean(-1))
    else:
        units = claims.strength_units(strengths, tv_w)
    rule = claims.CLAIMS["synthetic"].rule
    return claims.CLAIMS["synthetic"].judge(
        units, statistic=f"mean TV/‖W‖₁ over {window_words(part, conv=True)} {moment}, "
                         f"{'C = %g ÷ C = %g' % (max(strengths), min(strengths)) if endpoints else 'fitted change'}"
                         f", per seed",
        what=f"filter TV at C = {max(strengths):g} ÷ C = {min(strengths):g}", runs=tv.shape[0] * len(strengths),
        unit="seed", label=label, room=room_tv_moved(init_w, tv_w, rule.minimal, moment.capitalize()))


def tv_change(results: Sequence[Results], *, networks: str = "all", part: str = "all", label: str) -> Verdict:
    """Claim 6 with one choice moved: the networks (``"all"``, ``"unpooled"``, ``"pooled"``, one architecture)
    or the conv layers."""
    names = _names(results, networks)
    init = _paired(results, names, lambda r: r.initial.smoothness)
    final = _paired(results, names, lambda r: r.final.smoothness)
    s = window(init.shape[-1], part, first=0)
    units = (np.log(final[..., s].mean(-1)) - np.log(init[..., s].mean(-1))).mean(1)
    subset = [r for r in results if r.config.arch.downsampling in names]
    return claims.CLAIMS["training-smooths"].judge(
        units, statistic=f"mean TV/‖W‖₁ over {window_words(part, conv=True)} of the {networks} networks, after ÷ "
                         f"before training, per seed",
        what="filter TV after ÷ before training", runs=len(subset), unit="seed", label=label,
        room=room_learned(subset))


# ------------------------------------------------------------------------------------------------ spread (claim 7)


def _spread_arrays(random: Sequence[Results], real: Sequence[Results], distance: str):
    names = [n for n in group_by(random) if n in group_by(real)]
    if len(names) < 2:
        raise ValueError("claim 7 needs at least two architectures with random and real labels")
    common = [s for s in by_seed(real) if s in by_seed(random)]
    value = DISTANCES[distance]
    rnd = _paired([x for x in random if x.config.seed in common], names, lambda r: value(r.final))
    rel = _paired([x for x in real if x.config.seed in common], names, lambda r: value(r.final))
    return rnd, rel, names


def spread(random: Sequence[Results], real: Sequence[Results], *, part: str = "all", scale: str = "log",
           distance: str = "cosine", label: str, baseline: str = "") -> Verdict:
    """Claim 7 with one choice moved: the layers, the distance, the real-label baseline (``real``; ``baseline``
    names it) or the scale on which the spread between architectures is taken (``"log"``: SD of log-sensitivity,
    the pre-registered; ``"absolute"``: SD of the sensitivity itself over its mean, the coefficient of
    variation)."""
    rnd, rel, _ = _spread_arrays(random, real, distance)

    def sd(x):
        x = x[..., window(x.shape[-1], part)]
        if scale == "log":
            return np.log(x).std(1, ddof=1).mean(-1)
        return (x.std(1, ddof=1) / x.mean(1)).mean(-1)

    units = np.log(sd(rnd) / sd(rel))
    both = [*random, *real]
    return claims.CLAIMS["random-labels"].judge(
        units, statistic=f"spread between architectures of the {_DISTANCE_WORDS[distance]} after training over "
                         f"{window_words(part, rnd.shape[-1])} ({scale} scale), random ÷ real labels ({baseline}), "
                         f"per seed",
        what="spread between architectures, random ÷ real labels", runs=len(both), unit="seed", label=label,
        room=room_collapse(_medians(both, "final"), part, "after training"))


# ------------------------------------------------------------------------------------------------ per-layer readings


def per_layer(results: Sequence[Results]) -> list[Verdict]:
    """Claim 3 layer by layer: for each layer 1..L, claim 3's equivalence test on that layer alone (per seed,
    log-sensitivity with pooling minus without, after training), labelled ``"layer l"``."""
    pooled, unpooled = _names(results, "pooled"), _names(results, "unpooled")
    p = _paired(results, pooled, lambda r: r.final.cosine)
    u = _paired(results, unpooled, lambda r: r.final.cosine)
    out = []
    for layer in range(1, p.shape[-1]):
        units = np.log(p[..., layer]).mean(1) - np.log(u[..., layer]).mean(1)
        out.append(claims.CLAIMS["convergence"].judge(
            units, statistic=f"sensitivity at layer {layer} after training, with pooling ÷ without, per seed",
            what=f"layer {layer}: with pooling ÷ without", runs=len(results), unit="seed", label=f"layer {layer}",
            role="beside", layer=layer))
    return out


def per_layer_spread(random: Sequence[Results], real: Sequence[Results]) -> list[Verdict]:
    """Claim 7 layer by layer: per seed, log(SD over architectures of log-sensitivity at that layer, random ÷ real
    labels), judged by claim 7's rule, labelled ``"layer l"``."""
    rnd, rel, _ = _spread_arrays(random, real, "cosine")
    out = []
    for layer in range(1, rnd.shape[-1]):
        units = np.log(np.log(rnd[..., layer]).std(1, ddof=1) / np.log(rel[..., layer]).std(1, ddof=1))
        out.append(claims.CLAIMS["random-labels"].judge(
            units, statistic=f"spread between architectures at layer {layer}, random ÷ real labels, per seed",
            what=f"layer {layer}: spread, random ÷ real", runs=len(random) + len(real), unit="seed",
            label=f"layer {layer}", role="beside", layer=layer))
    return out


# ------------------------------------------------------------------------------------------------ the probe


def _per_image(results: Sequence[Results], names: Sequence[str], epoch) -> np.ndarray:
    """``(seeds, networks, layers, N)`` raw per-image cosine distances over the normaliser of each layer (so that
    their mean over images is the stored normalised distance)."""
    def value(r: Results):
        m = r.at(epoch)
        if m.v2 is None or m.v2.per_image is None or m.v2.median_cosine is None:
            raise LookupError(f"per-image distances not measured in {r.file} (protocol 1)")
        return np.asarray(m.v2.per_image["cosine"], float) / np.asarray(m.v2.median_cosine, float)[:, None]
    return _paired(results, names, value, missing="per-image distances (protocol 2)")


def with_probe(key: str, results: Sequence[Results], *, label: str, seed: int = 0) -> Verdict:
    """The pre-registered statistic of the headline (``key="headline"``), claim 2 or claim 3, with a CI that also
    resamples the probe images (shared by every run: a crossed factor), from the stored per-image distances
    (:func:`~.stats.probe_replicates`, :func:`~.stats.interval_with_probe`)."""
    if key == "headline":
        names, part, epochs = _names(results, "unpooled"), "late", ("init", "final")
    elif key == "training-changes":
        names, part, epochs = _names(results, "all"), "early", ("init", "final")
    elif key == "convergence":
        names, part, epochs = [*_names(results, "pooled"), *_names(results, "unpooled")], "all", ("final",)
    else:
        raise ValueError(f"key must be 'headline', 'training-changes' or 'convergence', got {key!r}")
    arrays = np.stack([_per_image(results, names, e) for e in epochs], axis=2)  # (seeds, nets, epochs, layers, N)
    n_pooled = len(_names(results, "pooled")) if key == "convergence" else 0

    def statistic(x: np.ndarray) -> np.ndarray:
        means = x.mean(-1)  # (seeds, nets, epochs, layers)
        logs = _mean_log(means, part)  # (seeds, nets, epochs)
        if key == "convergence":
            return logs[:, :n_pooled, 0].mean(1) - logs[:, n_pooled:, 0].mean(1)
        return (logs[..., 1] - logs[..., 0]).mean(1)

    units = statistic(arrays)
    replicates = probe_replicates(arrays, statistic, seed=seed)
    estimate = interval_with_probe(units, replicates)
    return claims.CLAIMS[key].judge(
        units, estimate=estimate, statistic=f"the pre-registered statistic from the stored per-image distances, its "
                                            f"CI widened by resampling the {arrays.shape[-1]} probe images",
        what=f"{claims.CLAIMS[key].statistic.split(',')[0]} (probe resampled)", runs=len(results), unit="seed",
        label=label)
