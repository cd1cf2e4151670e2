"""Is a network trained on ImageNet more stable to deformation than at initialisation?  The pre-registered test.

Declared before any measurement of a real network was looked at (committed alone, with its simulation test, before
``results/imagenet-network/`` held anything):

**Claim.**  A network without pooling layers, trained on ImageNet, is more stable to deformation than the same
architecture at initialisation (the paper's section 4.1 and Figure 3 on ImageNet: "deformation stability ... is
learned", the normalized cosine distance of the trained networks falls below that at initialisation, most in the
later layers).

**Measurements** (one fixed probe: the same clean images, the same random deformation of each and the same
noise-matched images for every network; see :mod:`defstab_lib.runs.imagenet`).  Per network ``j`` and layer ``l``,
the per-image cosine distances ``d_jli`` between an image's representation and its deformation's (``N`` images),
and the median cosine distance ``m_jl`` between the representations of two different probe images.  Sensitivity
``D_jl = mean_i d_jli / m_jl`` (the paper's normalized cosine distance).  The networks: the trained one ``T`` and
``K >= 10`` random initialisations ``k`` of the same architecture, each an independent draw.

**Unit of independence: the random initialisation.**  Per initialisation ``k`` and layer ``l`` the unit effect is
``u_kl = log D_Tl - log D_kl`` (log of "trained ÷ at initialisation"); the headline's unit effect is the mean of
``u_kl`` over the *later layers*: the second half of the measured layers after the input (``l >= 1 + (L-1)//2``,
as :func:`defstab_lib.analysis.claims.mean_log`'s ``"late"``).  Rows are never units: the ``K`` units share the
one trained network and the one probe.

**Interval: a prediction interval, widened by the probe.**  There is one trained network, so the question is
whether it lies outside what random initialisation produces, not whether it differs from the *mean* of the
initialisations: the estimate is ``mean_k u_k`` and the 95% interval is Student's t with ``K - 1`` degrees of
freedom and squared standard error ``s² (1 + 1/K) + v_probe``, where ``s`` is the spread of ``u_k`` over the
initialisations (the ``1`` counts the trained network as one more draw from that spread -- if training did
nothing, it would be one) and ``v_probe`` is the variance of the mean effect over probe resamples
(:func:`~defstab_lib.analysis.stats.probe_replicates`: the ``N`` images drawn once with replacement per replicate,
the same for every network; the medians ``m_jl`` are held at their full-probe values).  The probe's share of the
squared error is reported: it is what the small probe (24 images) costs in interval width.

**Rule** (:data:`RULE`): direction ``-1`` (trained lower), minimal effect of interest a factor 1.10 (10%, the book's
:data:`~defstab_lib.analysis.claims.SENSITIVITY_MINIMAL`, for the same reason: the paper's curves it calls
different are a factor 1.5 or more apart).  *Supported*: the interval lies below 1× and the estimate at or below
0.91×; *contradicted*: the interval lies above 1×; *no meaningful effect*: the interval lies inside (0.91×, 1.10×);
*inconclusive* otherwise.  Because the interval is a prediction interval, more initialisations cannot shrink it
below about ``2 s``: no "units needed" is given.

**Primary condition: BatchNorm recalibrated.**  A network with BatchNorm computes, at the start of training, with
batch statistics; "as built" (running mean 0, variance 1) its eval-mode BatchNorm is the identity, a network no
training step ever runs.  So the primary comparison is with BatchNorm's running statistics re-estimated on the
probe images (:func:`defstab_lib.runs.bn_init.calibrate_bn`; no weight changes); "as built" is reported beside.

**Headline**: the later layers, primary condition.  Per-layer verdicts are shown beside it as a profile (18
layers: some will be decided by chance alone; they are not counted as separate findings).  Beside, not tested on
their own: the same comparison for the noise control's ratio ``R = D / G`` (``G`` the same with noise of the
deformation's L2 norm) and for the worst-case deformation at the paper's budget.

The rule's false-support rate -- the chance of *supported* when the trained network is one more draw from the
initialisations' distribution, with image effects shared by all networks -- is checked by simulation in
``tests/analysis/test_imagenet.py`` (below 5%; nominal 2.5%).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats as _stats

from .claims import SENSITIVITY_MINIMAL
from .stats import CONFIDENCE, Estimate, Rule
from .verdicts import Verdict, judge

__all__ = ["RULE", "PRIMARY", "CONDITIONS", "FIGURE", "CLAIM", "later_layers", "sensitivity", "unit_effects",
           "prediction_estimate", "compare", "PROBE_BOOT", "SENSIBLE_TOP1", "weights_sensible", "require_sensible",
           "chapter_verdicts", "layer_rows", "check_findings", "findings", "glue_numbers", "accuracy_rows", "profile_arrays",
           "worst_arrays", "compute_note"]

_WHY = ("the paper reads its sensitivity figures by eye, where the lines it calls different are a factor 1.5 or more "
        "apart; under 10% two of its curves would lie on top of each other.")
#: The pre-registered rule: trained lower than at initialisation by at least 10%.
RULE = Rule(-1, SENSITIVITY_MINIMAL, _WHY)
#: The BatchNorm conditions of the random initialisations; the first is primary.
CONDITIONS = ("recalibrated", "as-built")
PRIMARY = CONDITIONS[0]
FIGURE = "§4.1, Figure 3 (ImageNet)"
CLAIM = ("a network without pooling layers, trained on ImageNet, is more stable to deformation than the same "
         "architecture at initialisation")
#: Probe resamples per interval.
PROBE_BOOT = 999


def later_layers(n_layers: int) -> slice:
    """The later layers of ``n_layers`` measured layers (layer 0 = the input): the second half of layers
    ``1..L-1``, as :func:`~defstab_lib.analysis.claims.mean_log`'s ``"late"``.

    >>> later_layers(19)
    slice(10, None, None)
    """
    if not isinstance(n_layers, int) or n_layers < 3:
        raise ValueError(f"n_layers must be an int >= 3 (the input and at least two layers), got {n_layers!r}")
    return slice(1 + (n_layers - 1) // 2, None)


def sensitivity(per_image: np.ndarray, median: np.ndarray) -> np.ndarray:
    """The normalized distance ``mean_i d_i / m`` per layer.

    Args:
        per_image: ``(..., L, N)`` cosine distances, one per image (dimensionless, in [0, 2]).
        median: ``(..., L)`` median cosine distance between different images (> 0).

    Returns:
        ``(..., L)``.
    """
    return np.asarray(per_image, dtype=float).mean(-1) / np.asarray(median, dtype=float)


def unit_effects(trained: np.ndarray, inits: np.ndarray) -> np.ndarray:
    """``log(trained / init)`` per initialisation and layer.

    Args:
        trained: ``(L,)`` a quantity of the trained network per layer (> 0).
        inits: ``(K, L)`` the same quantity of ``K`` random initialisations.

    Returns:
        ``(K, L)`` log-ratios (0: no change; negative: trained lower).
    """
    trained, inits = np.asarray(trained, dtype=float), np.asarray(inits, dtype=float)
    if inits.ndim != 2 or trained.shape != inits.shape[1:]:
        raise ValueError(f"trained must be (L,) and inits (K, L), got {trained.shape} and {inits.shape}")
    return np.log(trained)[None, :] - np.log(inits)


def prediction_estimate(units, replicates: np.ndarray | None = None, *, confidence: float = CONFIDENCE) -> Estimate:
    """Mean of the units' effects with the prediction interval of the module's docstring.

    Args:
        units: ``(K,)`` one effect per initialisation, ``K >= 2``, finite.
        replicates: ``(B, K)`` the effects recomputed on resampled probes (``None``: the probe is not counted).
        confidence: the interval's level.

    >>> e = prediction_estimate([-1.0, -1.2, -0.8])
    >>> round(e.effect, 2), round(e.high, 3)
    (-1.0, -0.006)
    """
    x = np.asarray(units, dtype=float).ravel()
    if x.size < 2 or not np.all(np.isfinite(x)):
        raise ValueError(f"units must hold >= 2 finite effects, got {x!r}")
    n, mean, sd = int(x.size), float(x.mean()), float(x.std(ddof=1))
    probe_var = 0.0
    if replicates is not None:
        reps = np.asarray(replicates, dtype=float)
        if reps.ndim != 2 or reps.shape[1] != n or reps.shape[0] < 2 or not np.all(np.isfinite(reps)):
            raise ValueError(f"replicates must be finite (B >= 2, {n}), got shape {reps.shape}")
        probe_var = float(reps.mean(axis=1).var(ddof=1))
    se2 = sd ** 2 * (1 + 1 / n) + probe_var
    hw = float(_stats.t.ppf(0.5 + confidence / 2, n - 1) * math.sqrt(se2))
    share = probe_var / se2 if se2 > 0 else 0.0
    method = (f"t prediction interval over {n} independent initialisations (the trained network counted as one more "
              f"draw)" + (f", widened by the probe's resampling variance (probe share {share:.0%})"
                          if replicates is not None else ""))
    return Estimate(mean, mean - hw, mean + hw, n, sd, method, tuple(x.tolist()),
                    share if replicates is not None else math.nan)


def _check_arrays(trained_per_image, trained_median, init_per_image, init_median):
    tp, tm = np.asarray(trained_per_image, dtype=float), np.asarray(trained_median, dtype=float)
    ip, im = np.asarray(init_per_image, dtype=float), np.asarray(init_median, dtype=float)
    if tp.ndim != 2 or ip.ndim != 3 or ip.shape[1:] != tp.shape or tm.shape != tp.shape[:1] or im.shape != ip.shape[:2]:
        raise ValueError(f"expected trained per-image (L, N), trained median (L,), init per-image (K, L, N) and init "
                         f"median (K, L); got {tp.shape}, {tm.shape}, {ip.shape}, {im.shape}")
    if ip.shape[0] < 2 or tp.shape[1] < 2:
        raise ValueError(f"need >= 2 initialisations and >= 2 images, got K = {ip.shape[0]}, N = {tp.shape[1]}")
    return tp, tm, ip, im


def _replicates(stacked: np.ndarray, values, n_boot: int, seed: int) -> np.ndarray:
    """``(B, K, L)``: ``values`` of every resampled probe -- :func:`~defstab_lib.analysis.stats.probe_replicates`'s
    crossed resampling (``N`` image indices drawn once per replicate, with replacement, shared by every network; the
    same generator and seed, so the same draws) computed once for every layer instead of once per layer."""
    if not (isinstance(n_boot, (int, np.integer)) and n_boot >= 2):
        raise ValueError(f"n_boot must be an integer >= 2, got {n_boot!r}")
    if not np.all(np.isfinite(stacked)):
        raise ValueError("per-image distances must be finite")
    n = stacked.shape[-1]
    rng = np.random.default_rng(seed)
    out = np.stack([values(stacked[..., rng.integers(0, n, n)]) for _ in range(int(n_boot))])
    if not np.all(np.isfinite(out)):
        raise ValueError("a resampled probe gave non-finite effects")
    return out


def compare(trained_per_image, trained_median, init_per_image, init_median, layers: Sequence[str], *,
            quantity: str = "sensitivity D", denominator: tuple | None = None, role: str = "claim",
            condition: str = PRIMARY, n_boot: int = PROBE_BOOT, seed: int = 0) -> list[Verdict]:
    """The headline verdict (later layers) followed by one verdict per layer ``1..L-1``.

    Args:
        trained_per_image: ``(L, N)`` the trained network's per-image cosine distances (deformed vs clean).
        trained_median: ``(L,)`` its median distance between different images.
        init_per_image: ``(K, L, N)``, init_median ``(K, L)``: the same for ``K`` random initialisations.
        layers: ``L`` layer names (layer 0 = the input, not judged).
        quantity: what is compared, in words.
        denominator: ``(trained (L, N), inits (K, L, N))`` per-image distances to divide by instead of the medians
            (the noise control's: then the quantity is ``R = D / G``, the medians cancel).
        role: ``"claim"`` for the pre-registered test, ``"beside"`` for what is reported beside it.
        condition: the initialisations' BatchNorm condition, in words.
        n_boot: probe resamples; seed: their seed.

    Returns:
        ``[later layers, layer 1, ..., layer L-1]`` verdicts; ``numbers`` holds ``layer``, ``probe_share`` and
        ``half_width_without_probe`` (the interval's half-width on the log scale without the probe term).
    """
    tp, tm, ip, im = _check_arrays(trained_per_image, trained_median, init_per_image, init_median)
    n_layers = tp.shape[0]
    if len(layers) != n_layers:
        raise ValueError(f"layers must name the {n_layers} layers, got {len(layers)}")
    k = ip.shape[0]
    stacked = np.stack([np.broadcast_to(tp, ip.shape), ip], axis=1)  # (K, 2, L, N)
    if denominator is not None:
        dt, di = (np.asarray(a, dtype=float) for a in denominator)
        if dt.shape != tp.shape or di.shape != ip.shape:
            raise ValueError(f"denominator must be ({tp.shape}, {ip.shape}), got ({dt.shape}, {di.shape})")
        stacked = np.concatenate([stacked, np.stack([np.broadcast_to(dt, ip.shape), di], axis=1)], axis=1)

    def values(a: np.ndarray) -> np.ndarray:  # (K, 4 or 2, L, N) -> (K, L) log-ratios
        t, i = a[:, 0].mean(-1), a[:, 1].mean(-1)
        if denominator is not None:
            t, i = t / a[:, 2].mean(-1), i / a[:, 3].mean(-1)
        else:
            t, i = t / tm, i / im
        return np.log(t) - np.log(i)

    later = later_layers(n_layers)
    targets = [("later layers", lambda u: u[:, later].mean(-1))] + \
              [(str(layers[j]), (lambda u, j=j: u[:, j])) for j in range(1, n_layers)]
    full = values(stacked)
    resampled = _replicates(stacked, values, n_boot, seed)  # (B, K, L)
    out = []
    for name, pick in targets:
        units = pick(full)
        reps = np.stack([pick(r) for r in resampled])
        est = prediction_estimate(units, reps)
        bare = prediction_estimate(units)
        v = judge(claim=CLAIM if name == "later layers" else f"{CLAIM}: layer {name}", figure=FIGURE,
                  statistic=f"per initialisation, log({quantity} trained ÷ at initialisation ({condition}))"
                            + (", averaged over the later layers" if name == "later layers" else ""),
                  what=f"{quantity}, trained ÷ at initialisation", units=units, rule=RULE, runs=k + 1,
                  role=role, estimate=est,
                  numbers={"unit": "initialisation", "layer": name, "condition": condition,
                           "probe_share": est.probe_share, "half_width": (est.high - est.low) / 2,
                           "half_width_without_probe": (bare.high - bare.low) / 2})
        v.n_needed = None  # a prediction interval does not shrink to 0 with more initialisations
        out.append(v)
    return out



# ------------------------------------------------------------------------------------------------ the chapter
# What the chapter shows, from a stored measurement (``defstab_lib.runs.imagenet.ImageNetNetworks``, read by its
# attributes: analysis never imports the runs package).  The test above is unchanged by what follows.

#: Top-1 accuracy on the labelled probe below which the weights are not taken to be a trained ImageNet network
#: (chance is 0.1%; a published ImageNet network gets 70-85% top-1 on the validation set, and 20 images give an
#: interval about ±20 points wide).
SENSIBLE_TOP1 = 0.5


def weights_sensible(m) -> bool:
    """Whether the network's top-1 accuracy on the labelled probe images reaches :data:`SENSIBLE_TOP1`."""
    return float(m.accuracy["top1"]) >= SENSIBLE_TOP1


def _claim(m) -> str:
    if m.spec.pooling:
        return CLAIM.replace("a network without pooling layers", f"a network with pooling layers ({m.model})")
    return CLAIM


def _relabel(found: list[Verdict], m, label: str) -> list[Verdict]:
    for v in found:
        v.claim = f"{v.claim.replace(CLAIM, _claim(m))} [{label}]"
        v.numbers["label"] = label
    return found


def chapter_verdicts(m, *, n_boot: int = PROBE_BOOT, seed: int = 0) -> dict[str, list[Verdict]]:
    """Every verdict of the chapter: ``"D"`` the pre-registered test (headline first, then per layer) against the
    primary initialisations, with what is reported beside the headline attached to it (``beside``); ``"as-built"``,
    ``"R"`` and ``"worst"`` the same comparison against BatchNorm as built, for R = D / G, and for the worst-case
    deformation (each headline first, then per layer; role ``"beside"``).

    Args:
        m: a stored measurement (``defstab_lib.runs.imagenet.ImageNetNetworks``).
        n_boot, seed: the probe resampling (:data:`PROBE_BOOT`).
    """
    t, p, b = m.trained, m.inits[PRIMARY], m.inits[CONDITIONS[1]]
    found = {
        "D": _relabel(compare(t.deformed, t.median, p.deformed, p.median, m.layers, n_boot=n_boot, seed=seed),
                      m, "D, BatchNorm recalibrated (primary)"),
        "as-built": _relabel(compare(t.deformed, t.median, b.deformed, b.median, m.layers, role="beside",
                                     condition="BatchNorm as built", n_boot=n_boot, seed=seed),
                             m, "D, BatchNorm as built"),
        "R": _relabel(compare(t.deformed, t.median, p.deformed, p.median, m.layers, quantity="R = D / G",
                              denominator=(t.noise, p.noise), role="beside", n_boot=n_boot, seed=seed),
                      m, "R = D / G, BatchNorm recalibrated"),
    }
    if t.worst is not None and p.worst is not None:
        found["worst"] = _relabel(compare(t.worst, t.median, p.worst, p.median, m.layers,
                                          quantity="worst-case sensitivity D", role="beside", n_boot=n_boot,
                                          seed=seed), m, "worst-case D, BatchNorm recalibrated")
    found["D"][0].beside = [found[k][0] for k in ("as-built", "R", "worst") if k in found]
    return found


def _ratio(x: float) -> str:
    return f"{x:.2f}×"


def layer_rows(m, found: dict[str, list[Verdict]]) -> list[dict[str, str]]:
    """One row per layer (and the later layers first): D of the trained network, of the initialisations (mean and
    range), the ratio with its interval and the verdict, then the same ratio as built, for R and the worst case."""
    t, p = m.trained.D, m.inits[PRIMARY].D
    rows = []
    for i, v in enumerate(found["D"]):
        layer = v.numbers["layer"]
        if i == 0:
            d_t, d_i = "", ""
        else:
            d_t = f"{t[i]:.3f}"
            d_i = f"{p[:, i].mean():.3f} ({p[:, i].min():.3f}–{p[:, i].max():.3f})"
        row = {"layer": layer, "D trained": d_t, "D at init (mean, range)": d_i,
               "trained ÷ init (95% CI)": f"{_ratio(v.effect)} ({_ratio(v.ci_low)} to {_ratio(v.ci_high)})",
               "verdict": v.verdict}
        for key, name in (("as-built", "as built"), ("R", "R"), ("worst", "worst case")):
            if key in found:
                w = found[key][i]
                row[f"{name}: ratio, verdict"] = f"{_ratio(w.effect)}, {w.verdict}"
        rows.append(row)
    return rows


def _layer_list(names: list[str]) -> str:
    return ", ".join(names) if names else "none"


def check_findings(m) -> dict[str, str]:
    """The sentences on the weights' check and the probe (``accuracy``, ``probe``), from the numbers."""
    acc = m.accuracy
    n_photos = sum(1 for name in m.images if name.startswith("photo"))
    n_labelled = len(m.images) - n_photos
    out = {"accuracy": (f"The {m.model} weights ({m.weights}) classify {acc['top1']:.0%} of foolbox's {acc['n']} "
                        f"labelled ImageNet images correctly at top-1 and {acc['top5']:.0%} at top-5"
                        + (" — random weights, not expected to classify: the page shows the structure only."
                           if m.weights != "trained" else
                           " — sensible for a network trained on ImageNet." if weights_sensible(m) else
                           f" — below the {SENSIBLE_TOP1:.0%} top-1 that a trained ImageNet network reaches, so the "
                           f"weights are not taken to be one and nothing further is judged.")),
           "probe": (f"{len(m.images)} images: {n_labelled} of foolbox's labelled ImageNet validation images and "
                     f"{n_photos} of scikit-image's colour photographs"
                     + (f" ({', '.join(n.removeprefix('photo ') for n in m.images if n.startswith('photo'))})"
                        if n_photos else "")
                     + ", each deformed once and given one noise-matched copy.")}
    return out


def findings(m, found: dict[str, list[Verdict]]) -> dict[str, str]:
    """The sentences of "What this run shows" beyond :func:`check_findings`, from the numbers and ``found``
    (:func:`chapter_verdicts`)."""
    out = {"worst": f"No worst case was measured (worst_steps = {m.params.get('worst_steps', 0)})."}
    head = found["D"][0]
    supported = [v.numbers["layer"] for v in found["D"][1:] if v.verdict == "supported"]
    contradicted = [v.numbers["layer"] for v in found["D"][1:] if v.verdict == "contradicted"]
    out["headline"] = (f"In the later layers the trained network's sensitivity D is {head.value} that of the random "
                       f"initialisations with BatchNorm recalibrated: {head.verdict}.")
    out["layers"] = (f"Layer by layer, trained below initialisation (supported) in {len(supported)} of "
                     f"{len(found['D']) - 1} layers ({_layer_list(supported)}); trained above (contradicted) in "
                     f"{len(contradicted)} ({_layer_list(contradicted)}).")
    built = found["as-built"][0]
    out["as_built"] = (f"Against the same initialisations with BatchNorm as built (running mean 0, variance 1) the "
                       f"later layers' ratio is {built.value}: {built.verdict}. The BatchNorm condition at "
                       f"initialisation {'changes' if built.verdict != head.verdict else 'does not change'} the "
                       f"verdict.")
    r = found["R"][0]
    out["noise"] = (f"Relative to noise of the same size (R = D / G) the later layers' ratio is {r.value}: "
                    f"{r.verdict}.")
    if "worst" in found:
        w = found["worst"][0]
        ratio_t = float(np.mean(m.trained.D_worst[later_layers(len(m.layers))] / m.trained.D[later_layers(len(m.layers))]))
        out["worst"] = (f"The worst-case deformation at the same budget (found at the last layer) moves the trained "
                        f"network's later layers {ratio_t:.2f} times as far as the random one; trained ÷ "
                        f"initialisation for the worst case is {w.value}: {w.verdict}.")
    with_probe, without = head.numbers["half_width"], head.numbers["half_width_without_probe"]
    out["probe_cost"] = (f"The small probe costs interval width: the headline's 95% interval is "
                         f"{math.exp(with_probe):.2f}× wide either way of its estimate, {math.exp(without):.2f}× "
                         f"without the probe's resampling variance (the probe's share of the squared error: "
                         f"{head.numbers['probe_share']:.0%}).")
    if m.weights != "trained":
        out["headline"] = ("These are random weights in place of the published ones (weights = 'random'): the page "
                           "shows the structure only. " + out["headline"])
    return out


def glue_numbers(m) -> dict[str, str]:
    """The numbers the chapter's prose states."""
    return {"compute_note": compute_note(m), "seconds": ", ".join(f"{k} {v:.0f} s" for k, v in m.seconds.items()),
            "pooling_words": ("has pooling layers: the paper's claim is about networks without them, so this is "
                              "a network beside the claim, not a test of it" if m.spec.pooling else
                              "has no pooling layer before its final global average, as the claim asks"),
            "model": m.model, "top1": f"{m.accuracy['top1']:.0%}", "top5": f"{m.accuracy['top5']:.0%}",
            "n_labelled": str(m.accuracy["n"]), "n_images": str(len(m.images)), "n_inits": str(m.n_inits),
            "n_layers": str(len(m.layers) - 1), "later": ", ".join(m.layers[later_layers(len(m.layers))]),
            "architecture": m.spec.words}


def require_sensible(m) -> None:
    """Stop the page when published weights fail the accuracy check (:func:`weights_sensible`): a ``ValueError``
    in one line with the accuracy; random weights (``m.weights == "random"``) pass, since they show structure
    only."""
    if m.weights == "trained" and not weights_sensible(m):
        raise ValueError(f"the {m.model} weights classify {m.accuracy['top1']:.0%} of {m.accuracy['n']} labelled "
                         f"ImageNet images correctly (top-1; top-5 {m.accuracy['top5']:.0%}), below the "
                         f"{SENSIBLE_TOP1:.0%} a network trained on ImageNet reaches: they are not taken to be one, "
                         f"and nothing further is measured or judged")


def accuracy_rows(m, classes: Sequence[str]) -> list[dict[str, str]]:
    """One row per labelled image: its class, the network's top-1 class, and whether the class is in its top 5.

    Args:
        m: a stored measurement.
        classes: the 1000 ImageNet class names, by index.
    """
    rows = []
    for label, top5 in zip(m.accuracy["labels"], m.accuracy["top5_classes"]):
        rows.append({"image's class": classes[label], "top-1 prediction": classes[top5[0]],
                     "top-1": "yes" if top5[0] == label else "no", "top-5": "yes" if label in top5 else "no"})
    return rows


def profile_arrays(m) -> tuple[dict[str, np.ndarray], dict[str, dict[str, np.ndarray]]]:
    """``({"D", "G", "R": (L,)}, {condition: {"D", "G", "R": (K, L)}})``: the trained network's profiles and the
    random initialisations' per BatchNorm condition (the figures' input)."""
    def three(n):
        return {"D": n.D, "G": n.G, "R": n.R}

    return three(m.trained), {c: three(m.inits[c]) for c in CONDITIONS}


def worst_arrays(m) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]] | None:
    """``({"random", "worst": (L,)}, {"random", "worst": (K, L)})`` D under the random and the worst-case
    deformation, trained and at initialisation (BatchNorm recalibrated); ``None`` when no worst case was measured."""
    t, p = m.trained, m.inits[PRIMARY]
    if t.worst is None or p.worst is None:
        return None
    return {"random": t.D, "worst": t.D_worst}, {"random": p.D, "worst": p.D_worst}


def compute_note(m) -> str:
    """Where the page's numbers come from: the stored file, when and on what it was computed, and how long."""
    prov = m.provenance or {}
    where = m.source.file if m.source is not None else "memory"
    return (f"{where} (computed on {prov.get('device_name') or prov.get('device', 'an unrecorded device')} with "
            f"{prov.get('threads', '?')} thread(s) in {float(prov.get('wall_time_s', float('nan'))):.0f} s on "
            f"{str(prov.get('date', '?'))[:10]}; the page computes nothing)")
