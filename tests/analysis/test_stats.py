"""Calibration of every pre-registered rule by simulation (numpy, seconds): the decision rules of
:mod:`defstab_lib.analysis.stats` (``decide``, ``interval``, ``n_needed``) applied to every claim's units.

For each claim, data are simulated in the design's own shape -- units (independent initialisations or draws),
the networks that share a unit, layers -- and passed through the claim's unit function and the verdict machinery
(:mod:`defstab_lib.analysis.stats`), exactly as the stored results are.  Two requirements:

- **power**: with a real effect of the planned size (twice the minimal effect of interest) at the planned number
  of independent units, the rule says *supported* in at least 80% of simulations;
- **false support**: with no effect (for the equivalence test of claim 3: a difference exactly at the margin),
  it says *supported* in at most 5%.

The planned numbers of units: 30 draws for the random-network claims (1 and 4); 5 initialisations per
architecture for the trained ones (the campaign's minimum), at a spread between units under which 5 suffice, and
10 for claim 7, whose unit effect (a ratio of two spreads of five architectures) is noisy however precise the
networks are.
Each design states its spread (``sd``, on the log scale, of one network's summary); the chapters show the
observed spreads, and ``n_needed`` says how many units the observed spread calls for.

The tests after it check the stricter rule (``clear``), "uninformative" verdicts (room to move) and the intervals
that include the probe as a crossed random factor.

The last calibration test shows that the first claim-1 rule (complete separation of every network with pooling from every one
without) fails this calibration: with a real effect its power falls as networks are added.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from defstab_lib.analysis import SUPPORTED, claims, decide, interval, stats

SIMS, BOOT_SIMS = 400, 60  # the bootstrap (n >= 10) is slower; its simulations are fewer
LAYERS, CONV = 13, 8
BASE = np.linspace(0.15, 0.35, LAYERS)  # a typical sensitivity profile's level per layer


def networks(rng, n, k, sd, unit_sd=0.3, layers=LAYERS, base=BASE):
    """``(n, k, layers)`` positive values: a unit's own level (shared by its k networks: the pairing), each
    network's deviation (sd) and a little layer-wise noise."""
    unit = rng.normal(0, unit_sd, (n, 1, 1))
    net = rng.normal(0, sd, (n, k, 1))
    layer = rng.normal(0, sd / 3, (n, k, layers))
    return base[:layers] * np.exp(unit + net + layer)


def shift(layers=LAYERS, part="all"):
    """A ``(layers,)`` mask of the layers an effect acts on."""
    mask = np.zeros(layers)
    mask[claims._layers(layers, part)] = 1.0
    return mask


# per claim: (planned units, the network sd, simulate(rng, n, sd, effect) -> units' effects)
def _pooling(rng, n, sd, effect):
    return claims.pooling_units(networks(rng, n, 2, sd) * np.exp(effect), networks(rng, n, 3, sd))


def _pooling_paired(rng, n, sd, effect):
    """Claim 1 with the pairing kept: pooled and unpooled networks of a unit share its level."""
    both = networks(rng, n, 5, sd)
    return claims.pooling_units(both[:, :2] * np.exp(effect), both[:, 2:])


def _changes(rng, n, sd, effect, part="early", k=5):
    init = networks(rng, n, k, sd)
    final = init * np.exp(effect * shift(part=part) + rng.normal(0, sd, (n, k, 1)))
    return claims.change_units(init, final, part)


def _headline(rng, n, sd, effect):
    return _changes(rng, n, sd, effect, "late", k=3)


def _smoothing(rng, n, sd, effect):
    plain = networks(rng, n, 1, sd)[:, 0]
    return claims.smoothing_units(plain * np.exp(effect + rng.normal(0, sd, (n, 1))), plain)


def _synthetic(rng, n, sd, effect):
    c = np.array([1.0, 2.0, 3.0, 4.0])
    trend = effect * (c - c.min()) / (c.max() - c.min())
    tv = 1.87 * np.exp(trend[None, :, None] + rng.normal(0, sd, (n, 4, 1)) + rng.normal(0, sd / 3, (n, 4, CONV)))
    return claims.strength_units(c, tv)


def _training_smooths(rng, n, sd, effect):
    init = 1.87 * np.exp(rng.normal(0, 0.01, (n, 5, CONV)))
    return claims.tv_change_units(init, init * np.exp(effect + rng.normal(0, sd, (n, 5, 1))))


def _random_labels(rng, n, sd, effect):
    arch_real = rng.normal(0, 0.3, (n, 5, 1)) + rng.normal(0, 0.15, (n, 5, LAYERS))
    arch_random = (rng.normal(0, 0.3, (n, 5, 1)) + rng.normal(0, 0.15, (n, 5, LAYERS))) * np.exp(effect)
    noise = lambda: rng.normal(0, sd, (n, 5, LAYERS))  # noqa: E731
    return claims.spread_units(BASE * np.exp(arch_random + noise()), BASE * np.exp(arch_real + noise()))


DESIGNS = {
    "pooling": (30, 0.1, _pooling_paired),
    "smoothing": (30, 0.1, _smoothing),
    "training-changes": (5, 0.04, _changes),
    "headline": (5, 0.04, _headline),
    "synthetic": (5, 0.01, _synthetic),
    "training-smooths": (5, 0.01, _training_smooths),
    # the spread of five architectures is itself a noisy number: this claim is planned at 10 initialisations
    "random-labels": (10, 0.05, _random_labels),
}


def rates(simulate, rule, n, sd, effect, sims, seed=0):
    rng = np.random.default_rng(seed)
    verdicts = [decide(interval(simulate(rng, n, sd, effect)), rule) for _ in range(sims)]
    return np.mean([v == SUPPORTED for v in verdicts])


@pytest.mark.parametrize("key", list(DESIGNS))
def test_rule_finds_a_real_effect_and_rarely_supports_none(key):
    n, sd, simulate = DESIGNS[key]
    rule = claims.CLAIMS[key].rule
    sims = BOOT_SIMS if n >= 10 else SIMS
    planned = 2 * rule.minimal * rule.direction
    power = rates(simulate, rule, n, sd, planned, sims)
    false = rates(simulate, rule, n, sd, 0.0, sims, seed=1)
    assert power >= 0.8, f"{key}: power {power:.2f} at n = {n}"
    assert false <= 0.05, f"{key}: supported {false:.2f} of the time with no effect"


def test_equivalence_rule_of_claim_3():
    rule = claims.CLAIMS["convergence"].rule
    n, sd = 5, 0.02
    assert rates(_pooling_paired, rule, n, sd, 0.0, SIMS) >= 0.8  # truly similar: found similar
    for margin in (rule.minimal, -rule.minimal):  # a difference at the margin: rarely called similar
        assert rates(_pooling_paired, rule, n, sd, margin, SIMS, seed=2) <= 0.05


def test_n_needed_decides_at_the_predicted_number():
    """An inconclusive verdict's n_needed, applied, decides the test in most simulations."""
    from defstab_lib.analysis import n_needed

    rule, sd, rng = claims.CLAIMS["training-changes"].rule, 0.04, np.random.default_rng(3)
    est = interval(_changes(rng, 3, sd, 1.5 * rule.minimal))
    need = n_needed(est, rule)
    assert need is not None and need >= 3
    n = max(need, 5)
    decided = np.mean([decide(interval(_changes(rng, n, sd, 1.5 * rule.minimal)), rule) != "inconclusive"
                       for _ in range(200)])
    assert decided >= 0.5


def complete_separation(pooled: np.ndarray, unpooled: np.ndarray) -> bool:
    """The first claim-1 rule: supported only if every network with pooling is below every one without."""
    p, u = claims.mean_log(pooled).ravel(), claims.mean_log(unpooled).ravel()
    return bool(p.max() < u.min())


def test_the_first_claim_1_rule_fails_calibration():
    """With a real effect of the planned size, complete separation is found less and less often as networks are
    added -- the opposite of a test -- while the paired rule's power grows."""
    rule, sd = claims.CLAIMS["pooling"].rule, 0.1
    effect = 2 * rule.minimal * rule.direction
    rng = np.random.default_rng(4)
    old, new = {}, {}
    for n in (3, 10, 30):
        sims = [networks(rng, n, 5, sd, unit_sd=0.0) for _ in range(200)]  # even with no spread between draws
        old[n] = np.mean([complete_separation(x[:, :2] * np.exp(effect), x[:, 2:]) for x in sims])
        new[n] = np.mean([decide(interval(claims.pooling_units(x[:, :2] * np.exp(effect), x[:, 2:])), rule)
                          == SUPPORTED for x in sims[:40 if n >= 10 else 200]])
    assert old[30] < 0.8, f"complete separation found the effect in {old[30]:.0%} at 30 draws"  # fails calibration
    assert old[3] > old[10] >= old[30]  # and gets worse with more data
    assert new[30] >= 0.8 and new[30] >= new[3]


# --- room to move, the stricter rule, and the probe as a shared random factor -----------------------------------



def _old_decide(low, high, effect, rule):
    """The pre-registered decide as it was written first: every verdict must stay identical."""
    m, s = rule.minimal, rule.direction
    if not (np.isfinite(low) and np.isfinite(high)):
        return stats.INCONCLUSIVE
    inside = -m < low and high < m
    if s == 0:
        return stats.SUPPORTED if inside else (stats.CONTRADICTED if (low > m or high < -m) else stats.INCONCLUSIVE)
    if ((low > 0) if s > 0 else (high < 0)) and s * effect >= m:
        return stats.SUPPORTED
    if (high < 0) if s > 0 else (low > 0):
        return stats.CONTRADICTED
    return stats.NO_EFFECT if inside else stats.INCONCLUSIVE


def test_decide_is_unchanged_and_decide_many_agrees_with_it():
    rng = np.random.default_rng(5)
    centre, half = rng.normal(0, 0.2, 3000), rng.exponential(0.1, 3000)
    low, high, effect = centre - half, centre + half, centre + rng.normal(0, 0.02, 3000)
    for rule in (stats.Rule(-1, 0.1, "x"), stats.Rule(1, 0.05, "x"), stats.Rule(0, 0.1, "x"),
                 stats.Rule(-1, 0.1, "x", clear=True), stats.Rule(1, 0.05, "x", clear=True)):
        many = stats.decide_many(effect, low, high, rule)
        for i in range(0, 3000, 7):
            est = stats.Estimate(effect[i], low[i], high[i], 5, 0.1, "m", ())
            assert stats.decide(est, rule) == many[i]
            if not rule.clear:
                assert many[i] == _old_decide(low[i], high[i], effect[i], rule)
            elif many[i] == stats.SUPPORTED:  # the CI clears m
                assert (high[i] < -rule.minimal) if rule.direction < 0 else (low[i] > rule.minimal)
    assert stats.decide_many([0.0], [np.nan], [np.nan], stats.Rule(1, 0.1, "x")).tolist() == [stats.INCONCLUSIVE]


def test_uninformative_replaces_only_no_difference_verdicts_without_room():
    tight, far = stats.Room(0.01, 0.2, "moved 1%"), stats.Room(0.3, 0.2, "moved 35%")
    assert not tight.ok and far.ok and stats.VERDICTS[-1] == stats.UNINFORMATIVE
    r, eq = stats.Rule(-1, 0.1, "x"), stats.Rule(0, 0.1, "x")
    none, opposite = stats.interval([-0.01, 0.01, 0.0]), stats.interval([0.5, 0.4, 0.45])
    found, open_ = stats.interval([-0.5, -0.4, -0.45]), stats.interval([-0.5, 0.4, 0.0])
    assert stats.decide(none, r, tight) == stats.decide(opposite, r, tight) == stats.UNINFORMATIVE
    assert stats.decide(none, r, far) == stats.NO_EFFECT and stats.decide(opposite, r, far) == stats.CONTRADICTED
    assert stats.decide(found, r, tight) == stats.SUPPORTED and stats.decide(open_, r, tight) == stats.INCONCLUSIVE
    assert stats.decide(none, eq, tight) == stats.UNINFORMATIVE and stats.decide(none, eq, far) == stats.SUPPORTED
    assert stats.decide(opposite, eq, tight) == stats.CONTRADICTED  # a difference found needs no room
    for bad, match in (((-0.1, 0.2, "w"), "moved"), ((0.1, 0.0, "w"), "needed"), ((0.1, 0.2, " "), "words")):
        with pytest.raises(ValueError, match=match):
            stats.Room(*bad)
    with pytest.raises(ValueError, match="room"):
        stats.decide(none, r, room=(0.1, 0.2))
    with pytest.raises(ValueError, match="clear"):
        stats.Rule(0, 0.1, "x", clear=True)


def test_n_needed_for_a_tightened_rule_and_without_room():
    est = stats.interval([-0.3, 0.1, -0.2])
    plain, tight = stats.n_needed(est, stats.Rule(-1, 0.05, "x")), stats.n_needed(est, stats.Rule(-1, 0.05, "x", True))
    assert tight > plain  # the margin is |effect| - m, not |effect|
    assert stats._t_halfwidth(est.sd, tight) < abs(est.effect) - 0.05 <= stats._t_halfwidth(est.sd, tight - 1)
    small = stats.interval([0.02, -0.03, 0.04])  # only "no meaningful effect" is reachable
    assert stats.n_needed(small, stats.Rule(-1, 0.1, "x")) is not None
    assert stats.n_needed(small, stats.Rule(-1, 0.1, "x"), room=stats.Room(0.0, 0.1, "w")) is None


def _mean_last(a):
    return a.reshape(a.shape[0], -1).mean(axis=1)


def test_units_without_probe_dependence_give_the_plain_t_interval():
    values = np.array([-0.3, -0.1, -0.25, -0.2, -0.15])
    per_image = np.repeat(values[:, None, None], 64, axis=2) * np.ones((1, 3, 1))
    reps = stats.probe_replicates(per_image, _mean_last, n_boot=200)
    assert reps.shape == (200, 5) and np.allclose(reps, values)
    got, plain = stats.interval_with_probe(values, reps), stats.interval(values)
    assert (got.low, got.high) == pytest.approx((plain.low, plain.high)) and got.probe_share == 0.0
    assert "probe share 0%" in got.method and math.isnan(plain.probe_share)


def test_a_pure_probe_effect_gives_width_from_the_probe_alone():
    rng = np.random.default_rng(0)
    image = rng.normal(0, 1, 128)
    per_image = np.tile(image, (4, 1))  # every unit identical; the per-image values vary
    reps = stats.probe_replicates(per_image, lambda a: a.mean(axis=-1), n_boot=999, seed=1)
    est = stats.interval_with_probe(per_image.mean(axis=1), reps)
    assert est.sd == 0 and est.probe_share == 1.0
    se = image.std(ddof=0) / math.sqrt(128)  # the bootstrap SE of a mean of 128 images
    assert (est.high - est.low) / 2 == pytest.approx(sps.t.ppf(0.975, 3) * se, rel=0.15)


def test_replicates_are_crossed_not_nested():
    """All units share one image-level shock: resampling the same images for every unit (crossed) makes the
    replicates' mean over units vary as much as one unit's; independent resamples per unit (nested) would shrink it
    by the number of units."""
    rng = np.random.default_rng(1)
    units, n = 20, 64
    per_image = rng.normal(0, 1, n)[None, :] + rng.normal(0, 0.01, (units, n))
    reps = stats.probe_replicates(per_image, lambda a: a.mean(axis=-1), n_boot=400, seed=2)
    crossed, one = reps.mean(axis=1).var(ddof=1), reps[:, 0].var(ddof=1)
    nested = np.array([[per_image[u, rng.integers(0, n, n)].mean() for u in range(units)] for _ in range(400)])
    assert crossed == pytest.approx(one, rel=0.05)
    assert nested.mean(axis=1).var(ddof=1) < crossed / 5


def test_probe_functions_refuse_bad_input():
    with pytest.raises(ValueError, match="per_image"):
        stats.probe_replicates(np.ones(5), _mean_last)
    with pytest.raises(ValueError, match="per_image"):
        stats.probe_replicates(np.full((2, 4), np.nan), _mean_last)
    with pytest.raises(ValueError, match="statistic"):
        stats.probe_replicates(np.ones((2, 4)), lambda a: a.mean())
    with pytest.raises(ValueError, match="n_boot"):
        stats.probe_replicates(np.ones((2, 4)), _mean_last, n_boot=1)
    with pytest.raises(ValueError, match="replicates"):
        stats.interval_with_probe([0.1, 0.2], np.zeros((10, 3)))
    with pytest.raises(ValueError, match="values"):
        stats.interval_with_probe([], np.zeros((10, 0)))
