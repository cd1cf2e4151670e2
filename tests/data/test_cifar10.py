"""CIFAR-10 in its real on-disk format (``cifar-10-batches-py/``, Python 2 pickles), written at test time by
:func:`tests.helpers.write_cifar10`: the fixture is the format (torchvision's reader and ours agree on it), the
library's public loaders read it, a smoke run trains on it through the real command line and is stored, a chapter
without CIFAR-10 stops in one line saying where it looked, and ``make gpu-check`` picks its CIFAR-10 slice only
where the files are."""

from __future__ import annotations

import importlib.util
import json
import os
import pickle
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from torchvision import datasets

from defstab_lib import chapters, data, runs
from defstab_lib.data import CIFAR10_CLASSES, DatasetNotFoundError, load_dataset, read_cifar_batch
from tests.helpers import CIFAR10_FOLDER, NO_NETWORK, ROOT, _env, no_network, write_cifar10

TRAIN_FILES = [f"data_batch_{i}" for i in range(1, 6)]


@pytest.fixture(scope="module")
def cifar_root(tmp_path_factory):
    """A data root holding a small CIFAR-10 (550 training and 300 test images) in the real format."""
    root = tmp_path_factory.mktemp("cifar-data")
    write_cifar10(root)
    return root


def test_the_fixture_is_the_format_of_the_cifar10_archive(cifar_root):
    folder = cifar_root / CIFAR10_FOLDER
    assert sorted(p.name for p in folder.iterdir()) == sorted([*TRAIN_FILES, "test_batch", "batches.meta"])
    with open(folder / "data_batch_1", "rb") as f:  # the CIFAR-10 web page's recipe
        batch = pickle.load(f, encoding="bytes")
    assert set(batch) == {b"batch_label", b"labels", b"data", b"filenames"}
    assert batch[b"data"].dtype == np.uint8 and batch[b"data"].shape == (110, 3072)
    assert isinstance(batch[b"labels"], list) and len(batch[b"labels"]) == 110
    assert set(batch[b"labels"]) <= set(range(10)) and len(set(batch[b"labels"])) > 1
    with open(folder / "test_batch", "rb") as f:  # torchvision's: Python 2 strings come back as str
        assert set(pickle.load(f, encoding="latin1")) == {"batch_label", "labels", "data", "filenames"}
    with open(folder / "batches.meta", "rb") as f:
        meta = pickle.load(f, encoding="latin1")
    assert meta["label_names"] == list(CIFAR10_CLASSES) and meta["num_vis"] == 3072


class _UncheckedCIFAR10(datasets.CIFAR10):
    """torchvision's CIFAR-10 reader without its checksums (which only the real archive's files match): the same
    reading of the pickles and of ``batches.meta``."""

    def _check_integrity(self) -> bool:
        return True

    def _load_meta(self) -> None:
        with open(os.path.join(self.root, self.base_folder, self.meta["filename"]), "rb") as f:
            self.classes = pickle.load(f, encoding="latin1")[self.meta["key"]]
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}


@pytest.mark.parametrize("split", ["train", "test"])
def test_torchvisions_reader_and_ours_agree_on_every_pixel_and_label(cifar_root, split):
    theirs = _UncheckedCIFAR10(str(cifar_root), train=split == "train", download=False)
    ours = load_dataset("cifar10", split, root=cifar_root, download=False)
    assert ours.images.shape == ((550 if split == "train" else 300), 3, 32, 32) and ours.images.dtype == torch.uint8
    assert np.array_equal(ours.images.permute(0, 2, 3, 1).numpy(), theirs.data)  # torchvision: (N, H, W, C)
    assert ours.labels.tolist() == theirs.targets
    assert list(ours.classes) == theirs.classes


def test_the_public_loaders_find_cifar10_under_defstab_data(cifar_root, monkeypatch):
    monkeypatch.setenv("DEFSTAB_DATA", str(cifar_root))
    folder = cifar_root / CIFAR10_FOLDER
    assert data.locate("cifar10", "train") == [folder / name for name in TRAIN_FILES]
    assert data.locate("cifar10", "test") == [folder / "test_batch"]
    data.require_dataset("cifar10", download=False)  # both splits here: no error
    train = data.load_dataset("cifar10", "train", download=False)
    assert train.source == str(folder) and train.name == "cifar10" and train.split == "train"
    with open(folder / "data_batch_2", "rb") as f:
        raw = pickle.load(f, encoding="bytes")
    first = train.images[110]  # the first image of data_batch_2, after the 110 of data_batch_1
    assert first[0, 0].tolist() == raw[b"data"][0, :32].tolist(), "row 0 of the red plane: the row's first 32 values"
    assert first[2, 31].tolist() == raw[b"data"][0, -32:].tolist(), "the last row of the blue plane: its last 32"
    assert train.labels[110:220].tolist() == raw[b"labels"]
    row = next(r for r in data.inventory() if r["dataset"] == "CIFAR-10")
    assert row["on this machine"] == f"train: {folder}; test: {folder}"


def test_a_python3_copy_with_bytes_keys_reads_the_same(cifar_root, tmp_path):
    """A batch loaded with ``encoding="bytes"`` and pickled again by Python 3 has ``bytes`` keys."""
    with open(cifar_root / CIFAR10_FOLDER / "test_batch", "rb") as f:
        batch = pickle.load(f, encoding="bytes")
    copy = tmp_path / "test_batch"
    copy.write_bytes(pickle.dumps(batch))
    images, labels = read_cifar_batch(copy)
    expected_images, expected_labels = read_cifar_batch(cifar_root / CIFAR10_FOLDER / "test_batch")
    assert np.array_equal(images, expected_images) and np.array_equal(labels, expected_labels)
    assert images.shape == (300, 3, 32, 32) and labels.dtype == np.int64


@pytest.mark.parametrize("content, match", [
    (b"not a pickle at all", "cannot be unpickled"),
    (pickle.dumps([1, 2, 3]), "holds a list, not a dict"),
    (pickle.dumps({"data": np.zeros((4, 3072), np.uint8)}), "expected 'data' and 'labels'"),
    (pickle.dumps({"data": np.zeros((4, 1024), np.uint8), "labels": [0, 1, 2, 3]}), r"uint8 \(4, 1024\)"),
    (pickle.dumps({"data": np.zeros((4, 3072), np.uint8), "labels": [0, 1]}), "2 labels; expected uint8 "),
])
def test_a_file_that_is_not_a_cifar_batch_is_refused_naming_it(tmp_path, content, match):
    path = tmp_path / "data_batch_1"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=match) as info:
        read_cifar_batch(path)
    assert str(path) in str(info.value)


@pytest.mark.slow
def test_a_smoke_run_trains_on_the_cifar10_files_through_the_command_line_and_is_stored(cifar_root, tmp_path):
    """``python -m defstab_lib run pooling --profile smoke --dataset cifar10`` in a real process, its data root
    ``$DEFSTAB_DATA`` (no network: nothing may be downloaded), its results store ``$DEFSTAB_RESULTS``."""
    store = tmp_path / "results"
    store.mkdir()
    env = {**_env(store, threads=1), **NO_NETWORK, "DEFSTAB_DATA": str(cifar_root)}
    start = time.time()
    done = subprocess.run([sys.executable, "-m", "defstab_lib", "run", "pooling", "--profile", "smoke", "--dataset",
                           "cifar10", "--downsampling", "maxpool", "--jobs", "1", "--quiet"],
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    config = runs.experiment_configs("pooling", "smoke", dataset="cifar10", downsampling=["maxpool"])[0]
    stored = runs.ResultsStore(store).load(config)
    assert stored is not None, f"not in the results store: {sorted(p.name for p in store.rglob('*'))}"
    assert f"{stored.key}  maxpool x0.125 on cifar10" in done.stdout and "trained in" in done.stdout
    record = json.loads((store / "pooling" / f"{stored.key}.json").read_text())
    assert record["config"]["data"]["dataset"] == "cifar10"
    assert record["provenance"]["data_source"] == str(cifar_root / CIFAR10_FOLDER), "trained on the fixture's files"
    assert [m.epoch for m in stored.measurements] == [0, 1, 2]
    assert len(stored.final.cosine) == 13, "every layer of the CIFAR network measured, the input included"
    print(f"trained and stored in {time.time() - start:.1f} s")


@pytest.fixture
def no_cifar(tmp_path, monkeypatch):
    """An empty data root, an empty results store and no network: CIFAR-10 is found nowhere."""
    root = tmp_path / "data"
    (tmp_path / "results" / "pooling").mkdir(parents=True)
    monkeypatch.setenv("DEFSTAB_DATA", str(root))
    monkeypatch.setenv("DEFSTAB_RESULTS", str(tmp_path / "results"))
    no_network(monkeypatch)
    return root


def test_a_chapter_on_cifar10_without_its_files_stops_in_one_line_saying_where_it_looked(no_cifar):
    params = chapters.validate("pooling", dataset="cifar10", profile="smoke", seeds=1, downsampling=["maxpool"],
                               train=True, device="cpu")
    assert params["dataset"] == "cifar10", "the parameter is valid: its files are what is missing"
    with pytest.raises(DatasetNotFoundError) as info:
        chapters.load_runs("pooling", params)
    message = str(info.value)
    assert "\n" not in message and message.startswith("dataset 'cifar10' (split 'train') not found")
    assert f"Looked in: {no_cifar / CIFAR10_FOLDER}, {no_cifar};" in message
    assert "DEFSTAB_DATA" in message and "cifar-10-python.tar.gz" in message
    assert not list((no_cifar.parent / "results").rglob("*.json")), "nothing trained"
    assert not no_cifar.exists(), "the failed download left nothing behind"


def test_a_chapters_dataset_must_be_one_it_can_train_on():
    with pytest.raises(ValueError, match=r"parameter 'dataset' = 'cifar-10' is not allowed; allowed: .*'cifar10'"):
        chapters.validate("pooling", dataset="cifar-10", profile="smoke", seeds=1, downsampling=["maxpool"],
                          train=True, device="cpu")


def _gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "benchmarks" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gpu_check_runs_its_cifar10_slice_where_the_files_are_and_says_why_not_elsewhere(cifar_root, tmp_path,
                                                                                          monkeypatch, capsys):
    check = _gpu_check()
    empty = tmp_path / "empty"
    monkeypatch.setenv("DEFSTAB_DATA", str(empty))
    carried = {s.dataset: s for s in check.paper_slices(carried=cifar_root)}
    assert carried["cifar10"] == check.PaperSlice("cifar10", cifar_root), "the copy carried with the working tree"
    monkeypatch.setenv("DEFSTAB_DATA", str(cifar_root))
    assert check.find_data("cifar10", carried=empty) == check.PaperSlice("cifar10", cifar_root)
    monkeypatch.setenv("DEFSTAB_DATA", str(empty))
    missing = check.find_data("cifar10", carried=empty)
    assert missing.root is None and "no CIFAR-10 data on this machine" in missing.skipped
    assert str(empty / CIFAR10_FOLDER) in missing.skipped and "Nor in " + str(empty / CIFAR10_FOLDER) in missing.skipped
    assert "\n" not in missing.skipped
    check.paper_slice(time.time() + 600, missing)  # skipped before any work: no GPU needed
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("== a slice of the paper profile on CIFAR-10") and (
        ": skipped, for lack of data: no CIFAR-10 data" in out[0])
    assert check.SUMMARY == [("paper pooling run, CIFAR-10, 2 epochs", "skipped", "no CIFAR-10 data here")]
    assert not empty.exists(), "nothing was downloaded"
