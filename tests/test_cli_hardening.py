"""The command line on long work and on failures after its arguments were read (issue 18)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from defstab_lib import cli, progress, runs

ROOT = Path(__file__).resolve().parents[1]


def test_hours_of_cpu_work_need_yes_and_say_the_estimate_first(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DEFSTAB_RESULTS": str(tmp_path), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "defstab_lib", "run", "pooling", "--profile", "paper", "--seeds", "1",
                           "--downsampling", "maxpool", "--device", "cpu"], capture_output=True, text=True, env=env,
                          timeout=600)
    assert done.returncode == 2, done.stderr
    assert "estimate: 1 run(s) to train on CPU" in done.stdout
    errors = [line for line in done.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and "pass --yes" in errors[0], done.stderr
    assert all(line.startswith("defstab: ") for line in done.stderr.splitlines()), "warnings are one line too"
    assert not list(tmp_path.rglob("*.json")) and not list(tmp_path.rglob("*.pt")), "nothing was trained"


def test_a_failure_after_parsing_is_one_line_and_debug_shows_the_traceback(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DEFSTAB_RESULTS", str(tmp_path))
    config = runs.experiment_configs("pooling", "smoke", downsampling=["maxpool"], seeds=1)[0]
    path = runs.ResultsStore(tmp_path).path(config)
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    args = ["run", "pooling", "--profile", "smoke", "--downsampling", "maxpool", "--seeds", "1", "--quiet"]
    assert cli.main(args) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "CorruptResultError" in err[0] and str(path) in err[0] and "--debug" in err[0]
    with pytest.raises(runs.CorruptResultError):
        cli.main(["--debug", *args])


def test_status_does_not_count_a_truncated_result(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DEFSTAB_RESULTS", str(tmp_path))
    config = runs.experiment_configs("pooling", "smoke", downsampling=["maxpool"], seeds=1)[0]
    path = runs.ResultsStore(tmp_path).path(config)
    path.parent.mkdir(parents=True)
    path.write_text('{"schema": "defstab.results/1", "key": ')
    rows = [r for r in cli.status_rows(["smoke"]) if r["chapter"] == "pooling" and r["experiment"] == "pooling"]
    assert rows and rows[0]["stored"].startswith("0/") and "corrupt" in rows[0]["missing"]


def test_progress_in_a_log_is_whole_lines_not_carriage_returns():
    out = io.StringIO()
    for _ in progress.bar(range(1000), desc="epoch 1", file=out, mininterval=0):
        pass
    text = out.getvalue()
    assert "\r" not in text and text.count("\n") >= 1 and "epoch 1: 100%" in text.splitlines()[-1]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_command_that_waited_for_the_lock_says_loaded_not_trained(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DEFSTAB_RESULTS": str(tmp_path), "OMP_NUM_THREADS": "1"}
    args = [sys.executable, "-m", "defstab_lib", "run", "pooling", "--profile", "smoke", "--downsampling", "maxpool",
            "--seeds", "1", "--jobs", "1", "--quiet", "--device", "cpu"]
    procs = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for _ in range(2)]
    outs = [p.communicate(timeout=500) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [e[-2000:] for _, e in outs]
    said = sorted("trained in" if "trained in" in out else "loaded" if "loaded" in out else out for out, _ in outs)
    assert said == ["loaded", "trained in"], outs
