"""The regime-search pilots of issue 26 (defstab_lib.runs.pilots): what RULE.md fixed, and nothing else."""

from __future__ import annotations

import pytest

from defstab_lib import runs
from defstab_lib.runs import pilots


def test_each_candidate_changes_only_what_the_rule_says():
    base = runs.experiment_configs("synthetic", "standard", strengths=[1.0])[0]
    for name, change in pilots.CANDIDATES.items():
        c = pilots.candidate_config(name, 1000, 1.0)
        assert c.experiment == "pilot-synthetic" and c.seed == 1000 and c.data.strength == 1.0
        assert c.epochs == change["epochs"] and c.optim.weight_decay == change["weight_decay"]
        assert c.data.classes == change.get("classes", base.data.classes)
        assert c.data.train_size == change.get("train_size", base.data.train_size)
        assert c.optim.label_smoothing == change.get("label_smoothing", 0.0)
        assert (c.arch, c.probe, c.batch_size, c.precision) == (base.arch, base.probe, base.batch_size, base.precision)
        assert (c.optim.lr, c.optim.schedule, c.optim.warmup_epochs) == (base.optim.lr, base.optim.schedule,
                                                                       base.optim.warmup_epochs)
        assert max(c.measure_epochs) < c.epochs


def test_no_pilot_is_a_campaign_draw():
    campaign = {c.seed for p in runs.PROFILES for c in runs.experiment_configs("synthetic", p)}
    assert not campaign & set(pilots.PILOT_SEEDS)
    keys = [runs.run_key(c) for name in pilots.CANDIDATES for c in pilots.pilot_configs(name)]
    assert len(set(keys)) == len(keys) == 6 * len(pilots.CANDIDATES)


def test_the_screening_run_comes_first():
    first = pilots.pilot_configs("A", screen=True)
    assert len(first) == 1 and (first[0].seed, first[0].data.strength) == (pilots.PILOT_SEEDS[0], 1.0)
    assert pilots.pilot_configs("A")[0] == first[0]


@pytest.mark.parametrize("args, word", [(("Z", 1000, 1.0), "candidate"), (("A", 0, 1.0), "seed"),
                                        (("A", 1000, 2.0), "strength")])
def test_bad_arguments_are_refused_by_name(args, word):
    with pytest.raises(ValueError, match=word):
        pilots.candidate_config(*args)
