"""Parallel runs on one machine (``--jobs``), precision and compile options, and their bad input.

The parallel tests start real worker processes through the command line, on a temporary results root
(``DEFSTAB_RESULTS``): the same numbers as a sequential run, each run trained once by two invocations at once, a
killed worker's run resumed, Ctrl-C leaving resumable state.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from defstab_lib import cli, runs
from defstab_lib.data import load_dataset, pad_to_size
from defstab_lib.models import make_vgg
from defstab_lib.runs import ResultsStore, RunConfig, experiment_configs, run_configs, run_key
from defstab_lib.runs.config import config_from_dict
from defstab_lib.runs import parallel
from defstab_lib.runs.parallel import available_cores, plan_workers
from defstab_lib.train import OptimConfig, TensorBatches, make_optimizer, train_epoch

ROOT = Path(__file__).resolve().parents[1]


def _env(results: Path, threads: int | None = None) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DEFSTAB_RESULTS": str(results)}
    if threads is not None:
        env["OMP_NUM_THREADS"] = str(threads)
    return env


def _cli(*args: str, results: Path, threads: int | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "defstab_lib", *args], capture_output=True, text=True,
                          env=_env(results, threads), timeout=timeout)


def _payloads(root: Path) -> dict[str, dict]:
    """Every stored result under ``root``, by key, without its provenance (host, time, threads) and the clock
    readings of its history (seconds and images/s per epoch)."""
    out = {}
    for path in sorted(root.glob("*/*.json")):
        d = json.loads(path.read_text())
        d.pop("provenance")
        for h in d["history"]:
            h.pop("seconds"), h.pop("images_per_s")
        out[d["key"]] = d
    return out


# ------------------------------------------------------------------------------------------------ keys


def test_stored_results_keep_their_keys_and_precision_is_part_of_the_key():
    stored = [json.loads(p.read_text()) for p in sorted((ROOT / "results").glob("*/*.json"))]
    stored = [d for d in stored if d.get("schema") == "defstab.results/1"]
    assert len(stored) >= 42, "the checkout's stored runs"
    for d in stored:
        config = config_from_dict(d["config"])
        # a run trains in its profile's precision (bf16 in `standard`), the older profiles' runs in "auto"
        expected = runs.PROFILES[config.profile].precision if config.profile in runs.PROFILES else "auto"
        assert config.precision == expected and not config.compile and run_key(config) == d["key"], d["key"]
    config = config_from_dict(stored[0]["config"])
    keys = {run_key(dataclasses.replace(config, precision=p, compile=c)) for p in ("auto", "float32", "bf16")
            for c in (False, True)}
    assert len(keys) == 6, "bf16, explicit float32 and compiled runs are other runs"


def test_precision_is_checked_when_the_config_is_made():
    with pytest.raises(ValueError, match="precision must be one of 'auto', 'float32', 'bf16'; got 'fp8'"):
        RunConfig("x", precision="fp8")


def test_bf16_trains_and_says_so(tmp_path):
    config = dataclasses.replace(experiment_configs("pooling", "smoke", downsampling=["maxpool"])[0],
                                 precision="bf16")
    r = runs.run_or_load(config, store=ResultsStore(tmp_path), progress=False, device="cpu")
    assert r.provenance["arithmetic"] == "bfloat16 autocast"
    assert 0 <= r.final.test_accuracy <= 1 and all(v == v for v in r.final.cosine)
    assert "bf16" in config.describe()


# ------------------------------------------------------------------------------------------------ bad input


def test_workers_are_capped_at_the_missing_runs_and_say_so():
    assert plan_workers(4, 2, torch.device("cpu")) == (2, "jobs=4 but only 2 runs to train: using 2 workers")
    assert plan_workers(None, 5, torch.device("cpu"))[0] == min(available_cores(), 5)
    assert plan_workers(None, 5, torch.device("cuda"))[0] == 1, "one run per GPU unless asked"


@pytest.mark.parametrize(
    "kwargs, error, match",
    [(dict(jobs=0), ValueError, "jobs must be an int >= 1, got 0"),
     (dict(jobs=-1), ValueError, "jobs must be an int >= 1, got -1"),
     (dict(jobs=1.5), TypeError, "jobs must be an int >= 1, got 1.5"),
     (dict(executor="dask"), ValueError, "executor must be one of 'processes', 'local', 'slurm'; got 'dask'"),
     (dict(executor="local", jobs=2), ValueError, "--jobs applies to --executor processes"),
     (dict(executor="local", resources=runs.cluster.JobResources(partition="gpu")), ValueError,
      "--partition is a SLURM option: it needs --executor slurm, got --executor local")],
)
def test_run_configs_refuses_bad_arguments_before_any_work(kwargs, error, match, tmp_path):
    configs = experiment_configs("pooling", "smoke")
    with pytest.raises(error, match=re.escape(match)):
        run_configs(configs, store=ResultsStore(tmp_path), progress=False, **kwargs)
    assert not list(tmp_path.glob("**/*")), "nothing was written"


@pytest.mark.parametrize(
    "args, match",
    [(["--jobs", "0"], "--jobs must be an int >= 1, got 0"),
     (["--jobs", "-3"], "--jobs must be an int >= 1, got -3"),
     (["--executor", "dask"], "argument --executor: invalid choice: 'dask'"),
     (["--executor", "local", "--partition", "gpu"], "--partition is a SLURM option: it needs --executor slurm"),
     (["--mem", "8", "--time", "60"], "--time, --mem are SLURM options: they need --executor slurm"),
     (["--precision", "fp8"], "argument --precision: invalid choice: 'fp8' (choose from 'auto', 'float32', 'bf16')"),
     (["--executor", "slurm"] if not __import__("shutil").which("sbatch") else ["--wait"],
      "needs SLURM's sbatch on PATH" if not __import__("shutil").which("sbatch") else "--wait applies to")],
)
def test_cli_bad_input_is_one_line_before_any_work(args, match, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DEFSTAB_RESULTS", str(tmp_path))
    with pytest.raises(SystemExit) as info:
        cli.main(["run", "pooling", "--profile", "smoke", *args])
    err = capsys.readouterr().err
    assert info.value.code == 2, err
    assert len(err.strip().splitlines()) == 1 and match in err, err
    assert not list(tmp_path.glob("**/*")), "nothing was written"


def test_cli_bad_jobs_in_a_real_process_exits_2_with_one_line(tmp_path):
    done = _cli("run", "pooling", "--profile", "smoke", "--jobs", "0", results=tmp_path)
    assert done.returncode == 2 and done.stderr.strip() == "defstab: error: --jobs must be an int >= 1, got 0"
    assert not tmp_path.exists() or not list(tmp_path.glob("**/*")), "nothing was written"


def test_cli_says_when_submitit_is_not_installed(tmp_path):
    # submitit made unimportable in this process only (None in sys.modules: ``import submitit`` then raises
    # ModuleNotFoundError, as it does where the package is not installed)
    code = "import sys; sys.modules['submitit'] = None; from defstab_lib.cli import main; sys.exit(main())"
    done = subprocess.run([sys.executable, "-c", code, "run", "pooling", "--profile", "smoke", "--executor", "local"],
                          capture_output=True, text=True, env=_env(tmp_path), timeout=120)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
    assert "--executor local needs submitit, which is not installed" in done.stderr, done.stderr


# ------------------------------------------------------------------------------------------------ processes


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_two_workers_store_the_numbers_of_a_sequential_run(tmp_path):
    parallel = _cli("run", "pooling", "--profile", "smoke", "--jobs", "2", results=tmp_path / "parallel")
    assert parallel.returncode == 0, parallel.stderr[-3000:]
    assert "training 5 runs in 2 worker processes" in parallel.stdout, parallel.stdout
    assert len(re.findall(r"\[\d/5\] .*: trained in", parallel.stdout)) == 5
    # the same thread count as each worker's (float sums depend on how a reduction is split across threads)
    threads = max(1, available_cores() // 2)
    sequential = _cli("run", "pooling", "--profile", "smoke", "--jobs", "1", "--quiet",
                      results=tmp_path / "sequential", threads=threads)
    assert sequential.returncode == 0, sequential.stderr[-3000:]
    assert "worker processes" not in sequential.stdout
    a, b = _payloads(tmp_path / "parallel"), _payloads(tmp_path / "sequential")
    assert len(a) == 5 and a.keys() == b.keys()
    for key in a:
        assert a[key] == b[key], f"run {key} differs between two workers and one process"


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_two_invocations_at_once_train_each_run_once(tmp_path):
    args = ["run", "pooling", "--profile", "smoke", "--downsampling", "maxpool", "avgpool", "strided", "--jobs", "2"]
    procs = [subprocess.Popen([sys.executable, "-m", "defstab_lib", *args], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=_env(tmp_path)) for _ in range(2)]
    outs = [p.communicate(timeout=800) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [e[-2000:] for _, e in outs]
    trained = sum(len(re.findall(r"\] .*: trained in", out)) for out, _ in outs)
    loaded = sum(len(re.findall(r"\] .*: loaded \(stored meanwhile\)", out)) for out, _ in outs)
    assert trained == 3, [o for o, _ in outs]
    assert trained + loaded == 6, "each invocation accounts for every run it set out to train"
    assert len(_payloads(tmp_path)) == 3 and not list(tmp_path.glob("**/*.tmp"))


def _children(pid: int) -> list[int]:
    """The worker processes of ``pid`` (spawned by multiprocessing), from /proc."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == pid and b"spawn_main" in cmdline:
            out.append(int(stat.parent.name))
    return out


def _wait_for_resume_state(root: Path, process: subprocess.Popen, count: int, timeout: float = 300) -> None:
    deadline = time.time() + timeout
    while len(list(root.glob("*/_work/*.state.pt"))) < count:
        assert process.poll() is None, process.communicate()
        assert time.time() < deadline, "no resume state appeared"
        time.sleep(0.5)


ARGS = ["run", "pooling", "--profile", "smoke", "--downsampling", "maxpool", "avgpool", "--epochs", "6", "--jobs", "2"]


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_killed_worker_leaves_resume_state_and_a_rerun_continues(tmp_path):
    process = subprocess.Popen([sys.executable, "-m", "defstab_lib", *ARGS], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=_env(tmp_path))
    _wait_for_resume_state(tmp_path, process, 2)
    workers = _children(process.pid)
    assert len(workers) == 2, workers
    os.kill(workers[0], signal.SIGKILL)
    out, err = process.communicate(timeout=600)
    assert process.returncode == 1, out + err
    assert "were not stored" in err and "died" in err, err
    left = list(tmp_path.glob("*/_work/*.state.pt"))
    assert len(left) == 1, "the killed worker's run kept its resume state"
    assert len(_payloads(tmp_path)) == 1, "the other worker finished its run"

    rerun = _cli(*ARGS, results=tmp_path)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    stored = ResultsStore(tmp_path).stored()
    assert len(stored) == 2 and not list(tmp_path.glob("*/_work/*.state.pt"))
    assert sorted(r.provenance["resumed_from_epoch"] or 0 for r in stored)[1] >= 1, "the rerun continued"


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_ctrl_c_stops_every_worker_and_leaves_resumable_state(tmp_path):
    process = subprocess.Popen([sys.executable, "-m", "defstab_lib", *ARGS], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=_env(tmp_path), start_new_session=True)
    _wait_for_resume_state(tmp_path, process, 2)
    workers = _children(process.pid)
    os.killpg(process.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole foreground group
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, out + err
    assert "run the same command again to continue" in err
    assert all(not Path(f"/proc/{w}").exists() for w in workers), "every worker stopped"
    assert not list(tmp_path.glob("**/*.tmp")), "nothing half-written"
    assert len(list(tmp_path.glob("*/_work/*.state.pt"))) + len(_payloads(tmp_path)) == 2

    rerun = _cli(*ARGS, results=tmp_path)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    stored = ResultsStore(tmp_path).stored()
    assert len(stored) == 2 and any(r.provenance["resumed_from_epoch"] for r in stored)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_compile_is_another_computation_on_zero_padded_images_hence_in_the_key(tmp_path):
    # one step from the same weights on the same batch, compiled against eager: the loss agrees to rounding; the
    # gradients agree to rounding on images with a little noise, not on the zero-padded ones, where ReLU and
    # max-pool inputs sit exactly on ties and the compiled backward takes another subgradient
    torch.set_num_threads(1)
    train = load_dataset("fashion-mnist", "train")
    padded = pad_to_size(train.images[:64], 32).float() / 255
    noisy = padded + 0.01 * torch.rand(padded.shape, generator=torch.Generator().manual_seed(3))
    differences = {}
    for name, images in (("padded", padded), ("noisy", noisy)):
        batches = TensorBatches(images, train.labels[:64], 64, seed=0)
        losses, grads = [], []
        for compiled in (False, True):
            torch._dynamo.reset()
            model = make_vgg("cifar", "avgpool", in_channels=1, width=0.125,
                             generator=torch.Generator().manual_seed(0))
            optimizer, _ = make_optimizer(model, OptimConfig(), 1, 1)
            forward = torch.compile(model) if compiled else None
            losses.append(train_epoch(model, batches, optimizer, None, 1, progress=False, forward=forward).loss)
            grads.append(torch.cat([p.grad.flatten() for p in model.parameters()]))
        assert abs(losses[1] - losses[0]) <= 1e-4 * abs(losses[0]), (name, losses)
        differences[name] = float((grads[1] - grads[0]).norm() / grads[0].norm())
    assert differences["noisy"] <= 1e-4 < 1e-3 <= differences["padded"], differences

    config = experiment_configs("pooling", "smoke", downsampling=["maxpool"], epochs=1)[0]
    compiled = dataclasses.replace(config, compile=True)
    r = runs.run_or_load(compiled, store=ResultsStore(tmp_path), progress=False, device="cpu")
    assert r.key == compiled.key != config.key and r.config.compile and "compiled" in compiled.describe()
    assert all(v == v for v in r.final.cosine)


# ------------------------------------------------------------------------------------------------ GPU check


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


def test_a_script_without_a_main_guard_is_told_what_to_do(monkeypatch):
    """A spawned worker re-imports the user's script; if that calls run_configs(jobs=2) again it is refused with
    the fix, not left to multiprocessing's bootstrapping error."""
    monkeypatch.setattr(parallel.multiprocessing, "parent_process", lambda: object())
    with pytest.raises(RuntimeError, match="__main__"):
        parallel.run_in_processes([], run=lambda *a, **k: None, jobs=2, store=None)
