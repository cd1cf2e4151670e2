"""Bad input and damage at the results store and the metrics (issue 18): every case a clear error naming the
culprit, before expensive work, nothing half-written.  Disk-full and read-only cases use real tmpfs mounts."""

from __future__ import annotations

import contextlib
import json
import subprocess
import warnings
from pathlib import Path

import pytest
import torch

from defstab_lib import metrics, provenance, runs
from defstab_lib.models import make_vgg
from defstab_lib.runs import CorruptResultError, ResultsStore, run_or_load
from defstab_lib.runs.store import StoreWriteError, atomic_write

from tests.test_runs import tiny


@contextlib.contextmanager
def tmpfs(path: Path, *options: str):
    """A real, tiny tmpfs at ``path`` (needs root, which this project's machines and CI have)."""
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join(("size=256k",) + options), "tmpfs", str(path)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.fail(f"cannot mount a tmpfs for this test (needs root): {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """A store holding one finished tiny run (trained once for the module)."""
    store = ResultsStore(tmp_path_factory.mktemp("results"))
    config = tiny(epochs=1)
    run_or_load(config, store=store, progress=False, device="cpu")
    return store, config


def rewrite(store: ResultsStore, config, edit) -> Path:
    path = store.path(config)
    d = json.loads(path.read_text())
    edit(d)
    path.write_text(json.dumps(d))
    return path


# ------------------------------------------------------------------------------------------------ stored files


@pytest.mark.parametrize("edit, field", [
    (lambda d: d["measurements"][0].update(cosine="0.1, 0.2"), "cosine"),
    (lambda d: d["measurements"][0].update(test_accuracy="high"), "test_accuracy"),
    (lambda d: d["measurements"][-1].update(euclidean=d["measurements"][-1]["euclidean"][:3]), "euclidean"),
    (lambda d: d["measurements"][0].update(train_accuracy=7.0), "train_accuracy"),
    (lambda d: d["measurements"][0].update(epoch="0"), "epoch"),
])
def test_a_field_of_the_wrong_type_or_length_names_the_file_and_the_field(stored, tmp_path, edit, field):
    store, config = stored
    copy = ResultsStore(tmp_path)
    copy.path(config).parent.mkdir(parents=True)
    copy.path(config).write_bytes(store.path(config).read_bytes())
    path = rewrite(copy, config, edit)
    with pytest.raises(CorruptResultError, match=field) as info:
        copy.load(config)
    assert str(path) in str(info.value)
    assert copy.state(config).startswith("corrupt: ") and field in copy.state(config)


def test_state_counts_only_valid_results(stored, tmp_path):
    store, config = stored
    assert store.state(config) == "stored"
    copy = ResultsStore(tmp_path)
    assert copy.state(config) == "missing"
    copy.path(config).parent.mkdir(parents=True)
    copy.path(config).write_bytes(store.path(config).read_bytes()[:200])  # truncated
    assert copy.exists(config) and copy.state(config).startswith("corrupt: ")


def test_a_corrupt_resume_state_is_reported_with_its_path_and_force_discards_it(tmp_path):
    store = ResultsStore(tmp_path)
    config = tiny(epochs=1)
    work = store.work_path(config)
    work.parent.mkdir(parents=True)
    work.write_bytes(b"not a torch file")
    with pytest.raises(CorruptResultError, match="resume state") as info:
        run_or_load(config, store=store, progress=False, device="cpu")
    assert str(work) in str(info.value) and "force" in str(info.value)
    r = run_or_load(config, store=store, progress=False, device="cpu", force=True)
    assert store.state(config) == "stored" and not work.exists() and r.final.epoch == 1


# ------------------------------------------------------------------------------------------------ the root


def test_a_missing_or_empty_defstab_results_folder_is_warned_about(tmp_path, monkeypatch):
    monkeypatch.setenv("DEFSTAB_RESULTS", str(tmp_path / "typo"))
    with pytest.warns(UserWarning, match="DEFSTAB_RESULTS=.*typo.*missing"):
        runs.results_root()
    monkeypatch.setenv("DEFSTAB_RESULTS", str(tmp_path))
    with pytest.warns(UserWarning, match="empty"):
        runs.results_root()
    (tmp_path / "pooling").mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert runs.results_root() == tmp_path


def test_a_read_only_root_is_an_error_naming_it_before_training(tmp_path):
    with tmpfs(tmp_path / "ro", "ro") as root:
        store = ResultsStore(root / "results")
        with pytest.raises(StoreWriteError, match=str(root / "results")) as info:
            run_or_load(tiny(epochs=1), store=store, progress=False, device="cpu")
        assert "read-only" in str(info.value)


def test_a_full_disk_is_one_clear_error_and_leaves_the_stored_file_intact(tmp_path):
    with tmpfs(tmp_path / "small") as root:
        path = root / "pooling" / "run.json"
        atomic_write(path, b'{"stored": true}\n')
        with pytest.raises(StoreWriteError, match="no space left") as info:
            atomic_write(path, b"x" * 1_000_000)
        assert str(path) in str(info.value)
        assert path.read_bytes() == b'{"stored": true}\n'
        assert sorted(p.name for p in path.parent.iterdir()) == ["run.json"], "no temporary file is left"


# ------------------------------------------------------------------------------------------------ devices


@pytest.mark.parametrize("device, message", [
    ("tpu", "not allowed"), ("cuda:abc", "not a valid device name"), ("gpu", "not allowed"),
])
def test_device_names_are_checked(device, message):
    with pytest.raises(ValueError, match=message):
        provenance.resolve_device(device)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without a GPU")
def test_cuda_without_a_gpu_is_refused_before_anything_loads(tmp_path):
    with pytest.raises(ValueError, match="no CUDA GPU"):
        provenance.resolve_device("cuda")
    with pytest.raises(ValueError, match="no CUDA GPU"):
        run_or_load(tiny(epochs=1), store=ResultsStore(tmp_path), progress=False, device="cuda")
    assert not any(tmp_path.rglob("*.lock")), "nothing was started, not even a lock"


# ------------------------------------------------------------------------------------------------ metrics


@pytest.fixture(scope="module")
def net():
    return make_vgg("cifar", in_channels=1, width=0.25, generator=torch.Generator().manual_seed(0))


def test_identical_probe_images_name_the_layer_instead_of_returning_inf(net):
    x = torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(0)).repeat(4, 1, 1, 1)
    with pytest.raises(ValueError, match=r"identical at layer\(s\) \[0, 1"):
        metrics.sensitivity_profile(net, x, x.roll(1, 3), generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="identical"):
        metrics.sensitivity_profile(net, torch.zeros(4, 1, 32, 32), torch.zeros(4, 1, 32, 32), noise=False)


def test_non_finite_images_are_refused(net):
    x = torch.rand(4, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    bad = x.clone()
    bad[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="images must be finite"):
        metrics.sensitivity_profile(net, bad, x, noise=False)
    with pytest.raises(ValueError, match="deformed must be finite"):
        metrics.sensitivity_profile(net, x, bad, noise=False)


def test_wrong_dtype_and_channels_are_named(net):
    x = torch.rand(4, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    with pytest.raises(TypeError, match="float64.*float32"):
        metrics.sensitivity_profile(net, x.double(), x.double(), noise=False)
    with pytest.raises(ValueError, match="3 channel.*takes 1"):
        metrics.sensitivity_profile(net, x.repeat(1, 3, 1, 1), x.repeat(1, 3, 1, 1), noise=False)


def test_a_sweep_over_collapsing_models_can_ask_for_nan_instead(net):
    x = torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(0)).repeat(4, 1, 1, 1)
    p = metrics.sensitivity_profile(net, x, x.roll(1, 3), noise=False, degenerate="nan")
    assert torch.isnan(p.normalized_cosine).all() and torch.isnan(p.cosine_median).all()
    with pytest.raises(ValueError, match="degenerate"):
        metrics.sensitivity_profile(net, x, x, noise=False, degenerate="ignore")


# ------------------------------------------------------------------------------------------------ data


def test_a_root_without_the_files_is_an_error_not_debians_copy(tmp_path):
    from defstab_lib import data

    with pytest.raises(data.DatasetNotFoundError, match=str(tmp_path)) as info:
        data.load_dataset("fashion-mnist", "test", root=tmp_path, download=False)
    assert "/usr/share/datasets" not in str(info.value).split("To provide it")[0]
    assert data.locate("fashion-mnist", "test", root=tmp_path) is None
