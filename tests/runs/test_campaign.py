"""A profile's campaign (``defstab_lib/runs/campaign.py``): every run of its experiments once, the dataset
sent to every experiment but the synthetic one."""

from __future__ import annotations


import pytest

from defstab_lib import runs
from defstab_lib.runs import campaign
from defstab_lib.runs.config import run_key


@pytest.mark.parametrize("profile", list(runs.PROFILES))
def test_a_campaign_holds_every_run_of_its_experiments_once(profile):
    groups = campaign.campaign_configs(profile)
    assert list(groups) == [e for e in runs.trained_experiments()
                            if e != "matched-real" or runs.get_profile(profile).matched_contrast]
    keys = [run_key(c) for cs in groups.values() for c in cs]
    assert len(keys) == len(set(keys)), "a run is listed under one experiment only"
    every = {run_key(c) for e in groups for c in runs.experiment_configs(e, profile)}
    assert set(keys) == every, "and none is left out (the ablation's baseline is under pooling)"
    assert all(c.experiment == "ablation" for c in groups["ablation"])


def test_the_campaign_sends_the_dataset_to_every_experiment_but_synthetic():
    groups = campaign.campaign_configs("smoke", dataset="mnist", seeds=2)
    assert {c.data.dataset for c in groups["synthetic"]} == {"synthetic"}
    assert {c.data.dataset for e, cs in groups.items() if e != "synthetic" for c in cs} == {"mnist"}
    assert {c.seed for cs in groups.values() for c in cs} == {0, 1}
