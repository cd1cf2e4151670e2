"""The profiles (``defstab_lib/runs/profiles.py``): each defines every experiment, and what the standard
profile measures."""

from __future__ import annotations


from defstab_lib import runs
from defstab_lib.runs import (
    experiment_configs,
)


def test_profiles_define_every_experiment():
    for profile in runs.PROFILES:
        for experiment in runs.trained_experiments():
            configs = experiment_configs(experiment, profile)
            assert configs and len({c.key for c in configs}) == len(configs)
    assert len(experiment_configs("pooling", "paper")) == 5 * 5
    assert {c.data.labels for c in experiment_configs("random-labels", "cpu")} == {"random"}
    assert {c.data.augmentation for c in experiment_configs("random-labels", "cpu")} == {"none"}


def test_standard_synthetic_runs_measure_every_epoch_without_moving_other_keys():
    c = experiment_configs("synthetic", "standard")[0]
    assert c.measured_epochs == tuple(range(41)) and c.data.train_size == 512
    pooling = experiment_configs("pooling", "standard")[0]
    assert pooling.measured_epochs == (0, 1, 2, 4, 8, 16)  # the dense trajectory only, as stored
