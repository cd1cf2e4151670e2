"""The experiment records and their registry (``defstab_lib/runs/experiments.py``), and the one loader
(``defstab_lib/runs/load.py``) that reads and trains their runs.

A toy experiment -- one record and its driver, registered here and nowhere else -- is listed, counted in its
profile's campaign, trained into a temporary store and loaded back, with no other change to the library.
"""

from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path

import pytest

from defstab_lib import cli, runs
from defstab_lib.runs import (
    campaign,
    experiment_configs,
)
from defstab_lib.runs.experiments import (
    EXPERIMENTS,
    Experiment,
    get_experiment,
    image_runs,
    label_contrast,
    register,
    unregister,
)


ROOT = Path(__file__).resolve().parents[2]
STORE = runs.ResultsStore(ROOT / "results")
#: Profiles whose every campaign run is committed in ``results/``.
COMPLETE_PROFILES = ("cpu", "standard")


# ------------------------------------------------------------------------------------------------ every experiment


@pytest.mark.parametrize("name", list(EXPERIMENTS))
def test_every_experiment_is_described_and_its_runs_build_with_stable_keys(name):
    e = get_experiment(name)
    assert e.name == name and len(e.description) > 20
    if e.runs:
        configs = experiment_configs(name, "smoke")
        keys = [c.key for c in configs]
        assert configs and len(set(keys)) == len(keys), "each run once"
        assert [c.key for c in experiment_configs(name, "smoke")] == keys, "the same keys every time"
        assert {c.experiment for c in configs} <= set(EXPERIMENTS)
        assert {c.profile for c in configs} == {"smoke"}
        for profile in COMPLETE_PROFILES:  # the committed runs are found under the keys the record builds
            if e.in_campaign(profile):
                missing = [c.describe() for c in experiment_configs(name, profile) if not STORE.exists(c)]
                assert not missing, f"{name} ({profile}): its stored runs are not found under these keys: {missing}"
    elif e.trained:  # stored pilots: no driver makes them again, and no campaign has them
        stored = list((ROOT / "results" / name).glob("*.json"))
        assert stored and not any(e.in_campaign(p) for p in runs.PROFILES)
        assert {r.config.experiment for r in STORE.stored(name)} == {name}
        with pytest.raises(ValueError, match="unknown experiment"):
            experiment_configs(name, "smoke")
    else:  # a stored computation: the function that computes it exists
        module, _, function = e.computed_by.rpartition(".")
        assert callable(getattr(importlib.import_module(module), function))
        assert not any(e.in_campaign(p) for p in runs.PROFILES)


def test_the_records_say_what_the_branches_used_to():
    assert get_experiment("synthetic").unit == "strength" and not get_experiment("synthetic").takes_dataset
    assert get_experiment("worst-case").protocol == 2 and get_experiment("worst-case").seeds == "worst_case_seeds"
    assert [e for e in EXPERIMENTS if get_experiment(e).contrast] == ["pooling", "matched-real"]
    assert label_contrast("cpu") == "pooling" and label_contrast("standard") == "matched-real"
    assert not get_experiment("matched-real").in_campaign("cpu") and get_experiment("matched-real").in_campaign(
        "standard")
    # the standard profile's worst-case runs are its pooling runs (the same recipe): nothing trained twice
    assert {c.experiment for c in experiment_configs("worst-case", "standard")} == {"pooling"}
    assert {c.experiment for c in experiment_configs("worst-case", "cpu")} == {"worst-case"}


def test_the_registry_refuses_bad_records():
    with pytest.raises(ValueError, match="already registered"):
        register(get_experiment("pooling"))
    with pytest.raises(ValueError, match="unknown experiment 'nope'"):
        get_experiment("nope")
    with pytest.raises(ValueError, match="options"):
        Experiment("x", "an experiment with an option no driver knows", options=("colour",))
    with pytest.raises(ValueError, match="computed_by"):
        Experiment("x", "a computed experiment that says not what computes it", trained=False)
    with pytest.raises(TypeError, match="Experiment"):
        register("pooling")
    with pytest.raises(ValueError, match="strengths does not apply to experiment 'ablation'"):
        experiment_configs("ablation", "smoke", strengths=[1.0])  # refused, no longer silently dropped


# ------------------------------------------------------------------------------------------------ a toy experiment


def toy_runs(experiment: Experiment, profile: str, **options) -> list:
    """The toy's driver: the profile's real-label runs of its networks, trained for one epoch, measured at the end
    only."""
    return [dataclasses.replace(c, epochs=1, measure_epochs=()) for c in image_runs(experiment, profile, **options)]


TOY = Experiment("toy", "one tiny max-pool network trained for an epoch (a test's fixture)", driver=toy_runs,
                 networks=("maxpool",), profiles=lambda profile: profile.name == "smoke")


@pytest.fixture
def toy(tmp_path, monkeypatch):
    """The toy registered, and a temporary results store; unregistered after."""
    monkeypatch.setenv("DEFSTAB_RESULTS", str(tmp_path))
    register(TOY)
    yield TOY
    unregister(TOY.name)
    assert TOY.name not in EXPERIMENTS


def test_a_new_experiment_is_one_record_and_its_driver(toy, tmp_path, capsys):
    configs = runs.experiment_configs("toy", "smoke")
    assert [(c.experiment, c.arch.downsampling, c.seed, c.epochs) for c in configs] == [("toy", "maxpool", 0, 1)]
    # the command line lists it, and the smoke profile's campaign (run all, status) holds it; the others do not
    assert cli.main(["list"]) == 0
    assert "  toy            one tiny max-pool network" in capsys.readouterr().out
    assert campaign.campaign_configs("smoke")["toy"] == configs
    assert "toy" not in campaign.campaign_experiments("cpu")
    before = cli.campaign_costs(["smoke"], timed=False)[0]
    assert before.total == 26 + 1 and before.stored == 0
    # not stored: the loader says so and trains nothing
    store = runs.ResultsStore(tmp_path)
    with pytest.raises(runs.NotStored, match=r"not stored: 1 runs of toy \(profile smoke\)") as info:
        runs.load({"toy": configs}, stored_only=True, store=store)
    assert info.value.missing == {"toy": configs}
    partial = runs.load({"toy": configs}, stored_only=True, partial=True, store=store)
    assert partial.results == {"toy": []} and partial.missing == {"toy": configs} and partial.trained == 0
    # trained into the temporary store, then loaded back
    trained = runs.load({"toy": configs}, store=store, device="cpu", progress=False)
    assert trained.trained == 1 and [r.key for r in trained.results["toy"]] == [configs[0].key]
    assert "1 of them were trained while rendering" in trained.compute_note()
    assert (tmp_path / "toy" / f"{configs[0].key}.json").is_file()
    again = runs.load({"toy": configs}, stored_only=True, store=store)
    assert again.trained == 0 and again.missing == {} and "all were loaded" in again.compute_note()
    assert again.results["toy"][0].final.test_accuracy == trained.results["toy"][0].final.test_accuracy
    assert cli.campaign_costs(["smoke"], timed=False)[0].stored == 1


def test_the_loader_refuses_a_list_of_configs():
    with pytest.raises(TypeError, match="mapping"):
        runs.load(experiment_configs("pooling", "smoke"))


@pytest.mark.parametrize(
    "kwargs, match",
    [(dict(experiment="nope"), "unknown experiment 'nope'"), (dict(profile="gpu"), "unknown profile 'gpu'"),
     (dict(dataset="svhn"), "unknown dataset 'svhn'"), (dict(seeds=0), "seeds must be an int >= 1"),
     (dict(epochs=0), "epochs must be an int >= 1"), (dict(downsampling=["pool"]), r"\['pool'\] not allowed")],
)
def test_experiment_configs_reject_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        experiment_configs(**{"experiment": "pooling", **kwargs})
