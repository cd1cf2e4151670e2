"""A profile's campaign on the command line (issue 16): its cost in ``status``, ``run all`` with an estimate per
device class (this machine measured, the others derived from datasheets and labelled so), and ``report`` on a
profile with nothing stored.  Nothing here trains more than one smoke run: step times are faked where only the
printing is under test."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from defstab_lib import cli, runs
from defstab_lib.runs import campaign, estimate
from defstab_lib.runs.config import run_key
from defstab_lib.runs.parallel import worker_threads

ROOT = Path(__file__).resolve().parents[1]
FAKE_STEP_S = 0.01


@pytest.fixture
def fake_steps(monkeypatch):
    """Every timed training step takes FAKE_STEP_S; returns the networks timed, in order."""
    timed = []

    def fake(network, device, repeats=3):
        timed.append(network)
        return FAKE_STEP_S

    monkeypatch.setattr(estimate, "_time_step", fake)
    return timed


@pytest.fixture
def store(tmp_path, monkeypatch):
    (tmp_path / "pooling").mkdir()  # not empty: no warning that the store holds nothing
    monkeypatch.setenv("DEFSTAB_RESULTS", str(tmp_path))
    return tmp_path


def _stored(root) -> list:
    return list(root.rglob("*.json")) + list(root.rglob("*.pt"))


# ------------------------------------------------------------------------------------------------ the campaign


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


# ------------------------------------------------------------------------------------------------ estimates


def test_each_network_is_timed_once_and_jobs_share_the_runs(fake_steps):
    configs = runs.experiment_configs("pooling", "smoke", seeds=2)  # 5 networks x 2 seeds
    one = estimate.estimate(configs, cli.resolve_device("cpu"), jobs=1)
    assert len(fake_steps) == 5 and one.networks == 5
    steps = sum(estimate.training_steps(c) for c in configs)
    assert one.seconds == pytest.approx(steps * FAKE_STEP_S * (1 + estimate.MEASURE_SHARE))
    measured: dict = {}
    two = estimate.estimate(configs, cli.resolve_device("cpu"), jobs=2, measured=measured)
    assert two.jobs == 2 and two.threads == worker_threads(2)
    assert two.seconds == pytest.approx(one.seconds / 2), "ten equal runs on two workers: half the time"
    estimate.estimate(configs, cli.resolve_device("cpu"), jobs=2, measured=measured)
    assert len(fake_steps) == 10, "a second estimate with the same cache times nothing"
    assert "2 worker processes at once" in two.describe() and "measured here" in two.describe()


def test_one_long_run_is_not_shortened_by_more_workers(fake_steps):
    config = runs.experiment_configs("pooling", "smoke", seeds=1, downsampling=["maxpool"])
    alone = estimate.estimate(config, cli.resolve_device("cpu"), jobs=1)
    assert estimate.estimate(config, cli.resolve_device("cpu"), jobs=4).seconds == pytest.approx(alone.seconds)


def test_datasheet_estimates_are_ranges_from_counted_flops():
    configs = runs.experiment_configs("pooling", "paper", seeds=1, downsampling=["maxpool"])
    flops, ops = estimate.count_step(estimate.network_of(configs[0]))
    half = estimate.count_step(estimate.network_of(runs.experiment_configs("pooling", "cpu", seeds=1,
                                                                          downsampling=["maxpool"])[0]))[0]
    assert 3.5 < flops / half < 4.5, "half the width: about a quarter of the FLOPs"
    t4, cpu = (estimate.datasheet_estimate(configs, d) for d in estimate.DEVICE_CLASSES[::3])
    steps = estimate.training_steps(configs[0]) * (1 + estimate.MEASURE_SHARE)
    assert t4.high == pytest.approx(steps * flops / (8.1e12 * 0.1))  # T4's FP32 peak at 10%: its slow end
    assert cpu.low == pytest.approx(steps * flops / (70.4e9 * 0.6)) and cpu.launch_bound == 0


# ------------------------------------------------------------------------------------------------ run all


@pytest.mark.parametrize("option, value", [("--strengths", "1"), ("--epochs", "1"), ("--downsampling", "maxpool")])
def test_run_all_refuses_options_that_fit_some_experiments_only(option, value, store, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["run", "all", "--profile", "smoke", option, value])
    err = capsys.readouterr().err.strip().splitlines()
    assert info.value.code == 2 and len(err) == 1
    assert f"{option} does not apply to 'run all'" in err[0]
    assert not _stored(store)


@pytest.mark.parametrize("args, match", [(["--profile", "gpu"], "unknown profile 'gpu'"),
                                         (["--dataset", "svhn"], "unknown dataset 'svhn'"),
                                         (["--seeds", "0"], "seeds must be an int >= 1"),
                                         (["--jobs", "0"], "--jobs must be an int >= 1")])
def test_run_all_bad_arguments_are_one_line(args, match, store, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["run", "all", *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert info.value.code == 2 and len(err) == 1 and match in err[0], err


def test_run_all_prints_each_experiment_and_the_estimate_per_device_class(fake_steps, store, capsys):
    assert cli.main(["run", "all", "--profile", "smoke", "--dataset", "mnist", "--dry-run", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    groups = campaign.campaign_configs("smoke")
    total = sum(len(c) for c in groups.values())
    assert f"all (smoke profile, mnist): {total} runs in {len(groups)} experiments, {total} to train" in out
    for experiment, configs in groups.items():
        assert f"  {experiment:<14} {len(configs):>4} runs" in out
    assert "synthetic deformation tasks, whatever --dataset" in out
    measured = [line for line in out.splitlines() if line.startswith("estimate on this machine, measured:")]
    assert len(measured) == 1 and f"{total} run(s) to train on CPU" in measured[0]
    assert "from the datasheet, NOT measured" in out
    for d in estimate.DEVICE_CLASSES:
        line = next(line for line in out.splitlines() if line.startswith(f"  {d.name} "))
        assert "about" in line and d.basis in line and "assumed" in line
    assert out.rstrip().endswith("dry run: nothing trained")
    assert not _stored(store)


def test_hours_of_cpu_work_for_run_all_need_yes_after_the_estimate(fake_steps, store, monkeypatch, capsys):
    monkeypatch.setattr(estimate, "_time_step", lambda network, device, repeats=3: 1.0)
    with pytest.raises(SystemExit) as info:
        cli.main(["run", "all", "--profile", "cpu", "--device", "cpu"])
    out, err = capsys.readouterr()
    assert info.value.code == 2 and "estimate on this machine, measured" in out and "NOT measured" in out
    assert len(err.strip().splitlines()) == 1 and "pass --yes" in err and "--epochs" not in err
    assert not _stored(store)


def test_a_run_keeps_its_profiles_precision_unless_told(store):
    parser = cli._parser()
    for extra, precision in [([], "bf16"), (["--precision", "float32"], "float32")]:
        args = parser.parse_args(["run", "pooling", "--profile", "standard", *extra])
        groups, _ = cli._check_run_args(args, parser)
        assert {c.precision for c in groups["pooling"]} == {precision}
    groups, _ = cli._check_run_args(parser.parse_args(["run", "all", "--profile", "standard"]), parser)
    assert {c.precision for cs in groups.values() for c in cs} == {"bf16"}


# ------------------------------------------------------------------------------------------------ status


def test_status_gives_each_campaign_its_cost(fake_steps, store, capsys):
    config = campaign.campaign_configs("smoke")["synthetic"][0]
    runs.run_or_load(config, store=runs.ResultsStore(store), progress=False)
    total = sum(len(c) for c in campaign.campaign_configs("smoke").values())
    assert cli.main(["status", "--profile", "smoke", "--jobs", "2"]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("  smoke: "))
    assert line.startswith(f"  smoke: 1/{total} runs stored, about ")
    assert "left on this machine" in line and "2 worker processes at once" in line and "measured now" in line
    assert len(fake_steps) == len({estimate.network_of(c) for cs in campaign.campaign_configs("smoke").values()
                                   for c in cs}), "each network timed once"
    assert cli.main(["status", "--profile", "smoke", "--no-estimate"]) == 0
    assert f"  smoke: 1/{total} runs stored, {total - 1} missing (not timed" in capsys.readouterr().out


def test_status_lists_the_experiments_each_profile_reads(store, capsys):
    """matched-real is listed for the chapters that read it (random_labels, report) in the profile with
    matched_contrast only; the random-labels chapter lists its pooling contrast in the other profiles only."""
    rows = cli.status_rows(list(runs.PROFILES))
    listed = {(r["chapter"], r["experiment"], r["profile"].rstrip("*")) for r in rows}
    for chapter in ("random_labels", "report"):
        assert (chapter, "matched-real", "standard") in listed
        assert not [p for p in ("cpu", "smoke", "paper") if (chapter, "matched-real", p) in listed], chapter
    assert ("random_labels", "pooling", "standard") not in listed
    assert all(("random_labels", "pooling", p) in listed for p in ("cpu", "smoke", "paper"))
    assert ("report", "pooling", "standard") in listed and ("smoothness", "pooling", "standard") in listed
    assert not any(e == "matched-real" for c, e, _ in listed if c not in ("random_labels", "report"))
    matched = [r for r in rows if r["chapter"] == "random_labels" and r["experiment"] == "matched-real"]
    assert [r["stored"] for r in matched] == [f"0/{len(runs.experiment_configs('matched-real', 'standard'))}"]
    assert cli.main(["status", "--profile", "standard", "--no-estimate"]) == 0
    lines = capsys.readouterr().out.splitlines()
    # "standard*": the chapter's default profile is starred
    assert any([w.rstrip("*") for w in line.split()[:4]] == ["random_labels", "matched-real", "standard", "0/25"]
               for line in lines)
    assert cli.main(["status", "--profile", "cpu", "--no-estimate"]) == 0
    table = capsys.readouterr().out.split("campaign cost")[0]
    assert "matched-real" not in table and "random_labels    pooling" in table


def test_status_refuses_bad_jobs(store, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["status", "--jobs", "0"])
    assert info.value.code == 2 and "--jobs must be an int >= 1" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------------ report


def test_report_with_nothing_stored_is_one_line_saying_what_is_missing(store, capsys):
    assert cli.main(["report", "--profile", "paper"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "not stored" in err[0] and "pooling" in err[0] and "paper" in err[0] and "run" in err[0]


# ------------------------------------------------------------------------------------------------ bench_parallel


def _bench_parallel():
    spec = importlib.util.spec_from_file_location("bench_parallel", ROOT / "benchmarks" / "bench_parallel.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("args, match", [(["--jobs", "0"], "--jobs must be an int >= 1"),
                                         (["--train-size", "0"], "--train-size must be an int >= 1"),
                                         (["--variants", "nope"], "'nope'"),
                                         (["--seeds", "0"], "--seeds must be an int >= 1")])
def test_bench_parallel_refuses_bad_arguments_before_training(args, match, capsys):
    with pytest.raises(SystemExit) as info:
        _bench_parallel()._args(args)
    assert info.value.code == 2 and match in capsys.readouterr().err


def test_bench_parallel_measures_the_issues_baseline_first_on_the_train_size_asked():
    bench = _bench_parallel()
    assert {c.data.train_size for c in bench._args([]).configs} == {runs.PROFILES["cpu"].real.train_size}
    args = bench._args(["--train-size", "1000", "--variants", "maxpool", "--seeds", "2"])
    assert len(args.configs) == 2 and {c.data.train_size for c in args.configs} == {1000}
    modes = bench._modes(4, 2)
    assert [(jobs, threads) for _, jobs, threads in modes] == [(1, 1), (1, 4), (2, 4)]
    assert "baseline" in modes[0][0] and "2 threads each" in modes[2][0]
