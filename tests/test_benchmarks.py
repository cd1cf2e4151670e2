"""The scripts under ``benchmarks/``: ``bench_parallel.py`` refuses bad arguments and measures the issue's
baseline first; ``gpu_check.py`` fails at once, with one line, without CUDA."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time

import pytest

from defstab_lib import runs

from tests.helpers import ROOT


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


def test_gpu_check_fails_at_once_with_one_line_without_cuda():
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}  # no visible GPU, also on a machine that has one
    start = time.time()
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py")], capture_output=True,
                          text=True, env=env, timeout=300)
    assert done.returncode == 1
    lines = [line for line in done.stderr.splitlines() if line.startswith("gpu-check:")]
    assert len(lines) == 1 and "no CUDA device on this machine" in lines[0], done.stderr
    assert done.stdout == "", "nothing ran"
    print(f"failed in {time.time() - start:.1f} s")
