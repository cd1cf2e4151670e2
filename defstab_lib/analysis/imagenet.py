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
from .stats import CONFIDENCE, Estimate, Rule, probe_replicates
from .verdicts import Verdict, judge

__all__ = ["RULE", "PRIMARY", "CONDITIONS", "FIGURE", "CLAIM", "later_layers", "sensitivity", "unit_effects",
           "prediction_estimate", "compare", "PROBE_BOOT"]

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
              [(str(layers[l]), (lambda u, l=l: u[:, l])) for l in range(1, n_layers)]
    full = values(stacked)
    out = []
    for name, pick in targets:
        units = pick(full)
        reps = probe_replicates(stacked, lambda a, pick=pick: pick(values(a)), n_boot=n_boot, seed=seed)
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

