"""A profile's campaign: every experiment its chapters train, as one set of runs (``run all`` and ``status``).

The experiments are the registered ones that a profile trains (:func:`defstab_lib.runs.experiments.
trained_experiments`), in registry order, each where its record says the profile has it
(:attr:`~defstab_lib.runs.experiments.Experiment.profiles`: ``matched-real`` only where the profile has
``matched_contrast``, its claim-7 contrast; the other profiles compare with their ``pooling`` runs).  A run belongs
to one experiment: the ablation's baseline cell *is* the ``pooling`` experiment's runs
(:func:`defstab_lib.runs.experiments.ablation_baseline`), so it is listed there and counted once.

``dataset`` goes to the experiments that take one (:attr:`~defstab_lib.runs.experiments.Experiment.options`);
``synthetic`` trains on its synthetic deformation tasks whatever the dataset (its images are drawn, not loaded).
"""

from __future__ import annotations

from .config import RunConfig, run_key
from .experiments import EXPERIMENTS, experiment_configs, get_experiment
from .profiles import get_profile

__all__ = ["campaign_experiments", "campaign_configs", "takes_dataset"]


def campaign_experiments(profile: str) -> tuple[str, ...]:
    """The experiments of ``profile``'s campaign, in registry order.

    >>> campaign_experiments("standard")
    ('pooling', 'random-labels', 'matched-real', 'synthetic', 'worst-case', 'ablation')
    >>> campaign_experiments("paper")
    ('pooling', 'random-labels', 'synthetic', 'worst-case', 'ablation')
    """
    get_profile(profile)
    return tuple(name for name, e in EXPERIMENTS.items() if e.in_campaign(profile))


def takes_dataset(experiment: str) -> bool:
    """Whether ``experiment`` trains on a dataset one chooses (all but ``synthetic``).

    >>> takes_dataset("pooling"), takes_dataset("synthetic")
    (True, False)
    """
    return get_experiment(experiment).takes_dataset


def campaign_configs(profile: str, *, dataset: str | None = None,
                     seeds: int | None = None) -> dict[str, list[RunConfig]]:
    """``{experiment: its runs}`` of ``profile``'s campaign, each run under one experiment only (see the module
    docstring); ``dataset`` to the experiments that take one, ``seeds`` to every one (default: each its
    profile's).  Errors are :func:`defstab_lib.runs.experiments.experiment_configs`'s, before any work.

    >>> {e: len(c) for e, c in campaign_configs("smoke").items()}
    {'pooling': 5, 'random-labels': 5, 'synthetic': 4, 'worst-case': 2, 'ablation': 10}
    """
    seen: set[str] = set()
    out = {}
    for experiment in campaign_experiments(profile):
        options = {"dataset": dataset} if takes_dataset(experiment) else {}
        configs = experiment_configs(experiment, profile, seeds=seeds, **options)
        out[experiment] = [c for c in configs if (key := run_key(c)) not in seen and not seen.add(key)]
    return out
