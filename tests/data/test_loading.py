"""The dataset loaders (``defstab_lib/data/loading.py``), exercised on small files in the real formats and on
the real offline sources; a missing dataset says where it looked and how to provide it."""

from __future__ import annotations

import gzip
import pickle
import struct
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from defstab_lib.data import DatasetNotFoundError, load_dataset, loading, locate
from tests.helpers import _env


def test_a_root_without_the_files_is_an_error_not_debians_copy(tmp_path):
    from defstab_lib import data

    with pytest.raises(data.DatasetNotFoundError, match=str(tmp_path)) as info:
        data.load_dataset("fashion-mnist", "test", root=tmp_path, download=False)
    assert "/usr/share/datasets" not in str(info.value).split("To provide it")[0]
    assert data.locate("fashion-mnist", "test", root=tmp_path) is None


def write_idx(path, array: np.ndarray, *, compress: bool) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    if compress:
        with gzip.open(path, "wb") as f:
            f.write(payload)
    else:
        path.write_bytes(payload)


def write_cifar_batch(path, images: np.ndarray, labels: list[int]) -> None:
    batch = {"batch_label": b"testing", "labels": labels, "data": images.reshape(len(labels), -1),
             "filenames": [f"{i}.png".encode() for i in range(len(labels))]}
    with open(path, "wb") as f:
        pickle.dump(batch, f)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.mark.parametrize("compress", [True, False])
def test_fashion_mnist_idx_in_torchvision_layout(tmp_path, rng, compress):
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    images = rng.integers(0, 256, size=(7, 28, 28), dtype=np.uint8)
    labels = np.array([0, 1, 2, 3, 4, 5, 9], dtype=np.uint8)
    ext = ".gz" if compress else ""
    write_idx(raw / f"t10k-images-idx3-ubyte{ext}", images, compress=compress)
    write_idx(raw / f"t10k-labels-idx1-ubyte{ext}", labels, compress=compress)

    ds = load_dataset("fashion-mnist", "test", root=tmp_path, download=False)

    assert ds.images.shape == (7, 1, 28, 28) and ds.images.dtype == torch.uint8
    assert torch.equal(ds.images[:, 0], torch.from_numpy(images))
    assert ds.labels.tolist() == labels.tolist() and ds.labels.dtype == torch.int64
    assert ds.classes[9] == "Ankle boot"
    assert ds.source == str(raw)
    x, y = ds[3]
    assert x.shape == (1, 28, 28) and x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1 and y == 3
    f = ds.float_images([0, 2])
    assert f.shape == (2, 1, 28, 28) and torch.allclose(f[1, 0] * 255, torch.from_numpy(images[2]).float())


def test_cifar10_pickle_batches(tmp_path, rng):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for i in range(1, 6):
        write_cifar_batch(folder / f"data_batch_{i}", rng.integers(0, 256, (3, 3, 32, 32), dtype=np.uint8), [i, 0, 9])
    test_images = rng.integers(0, 256, (4, 3, 32, 32), dtype=np.uint8)
    write_cifar_batch(folder / "test_batch", test_images, [3, 5, 7, 1])

    train = load_dataset("cifar10", "train", root=tmp_path, download=False)
    test = load_dataset("cifar10", "test", root=tmp_path, download=False)

    assert train.images.shape == (15, 3, 32, 32)
    assert train.labels.tolist()[:6] == [1, 0, 9, 2, 0, 9]
    assert torch.equal(test.images, torch.from_numpy(test_images))
    assert [test.classes[i] for i in test.labels] == ["cat", "dog", "horse", "automobile"]
    assert len(train.checksum()) == 64 and train.checksum() != test.checksum()


def test_imagenet_image_folder(tmp_path, rng):
    for cls in ("n01440764", "n01443537"):
        (tmp_path / "val" / cls).mkdir(parents=True)
        for i in range(2):
            array = rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)
            Image.fromarray(array).save(tmp_path / "val" / cls / f"{i}.JPEG")

    ds = load_dataset("imagenet", "val", root=tmp_path)

    assert len(ds) == 4 and ds.classes == ("n01440764", "n01443537")
    assert ds.labels.tolist() == [0, 0, 1, 1]
    batch = ds.float_images([0, 3])
    assert batch.shape == (2, 3, 224, 224) and 0 <= batch.min() and batch.max() <= 1


def test_imagenet_needs_a_root():
    with pytest.raises(DatasetNotFoundError, match="pass root="):
        load_dataset("imagenet", "val")


def test_missing_dataset_says_where_it_looked_and_how_to_provide_it(tmp_path):
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset("cifar10", "test", root=tmp_path, download=False)
    message = str(info.value)
    assert str(tmp_path / "cifar-10-batches-py") in message
    assert "no download was attempted" in message
    assert "DEFSTAB_DATA" in message and "cifar-10-python.tar.gz" in message


def test_failed_download_is_reported_not_substituted(tmp_path, monkeypatch):
    # A download that fails (no network here; on a networked machine a mirror could fail the same way).
    def fail(name, base):
        return "URLError: <urlopen error no network>"

    monkeypatch.setattr(loading, "_download", fail)
    with pytest.raises(DatasetNotFoundError, match="download with torchvision failed .*no network"):
        load_dataset("mnist", "train", root=tmp_path)


@pytest.mark.parametrize(
    "args, match",
    [(("svhn",), "unknown dataset 'svhn'; allowed: 'fashion-mnist'"),
     (("cifar10", "val"), "unknown split 'val' for dataset 'cifar10'; allowed: 'train', 'test'")],
)
def test_bad_names_list_what_is_allowed(args, match):
    with pytest.raises(ValueError, match=match):
        load_dataset(*args)


def test_bad_download_argument():
    with pytest.raises(ValueError, match="download must be None, True or False"):
        load_dataset("mnist", download="yes")


def test_real_fashion_mnist_from_debian_package():
    """The full Fashion-MNIST that `make install` obtains (Debian's dataset-fashion-mnist)."""
    train = load_dataset("fashion-mnist", "train", download=False)
    test = load_dataset("fashion-mnist", "test", download=False)
    assert train.images.shape == (60000, 1, 28, 28) and test.images.shape == (10000, 1, 28, 28)
    assert torch.bincount(test.labels).tolist() == [1000] * 10
    assert locate("fashion-mnist", "test") is not None


@pytest.mark.timeout(300)
@pytest.mark.parametrize("existing", [False, True])
def test_a_failed_download_creates_no_folder(tmp_path, existing):
    """A real torchvision download that cannot connect (a proxy on a closed port: no network is needed, and none
    is used where there is one) fails clearly and leaves no folder behind: not the root, not its parents, not
    torchvision's ``FashionMNIST/raw``; a root that existed keeps what it held."""
    root = tmp_path / "nonexistent" / "deeper"
    if existing:
        root.mkdir(parents=True)
        (root / "mine.txt").write_text("kept")
    script = ("from defstab_lib import data\n"
              f"data.load_dataset('fashion-mnist', 'test', root={str(root)!r})\n")
    closed = "http://127.0.0.1:9"
    env = {**_env(tmp_path), "http_proxy": closed, "https_proxy": closed, "HTTP_PROXY": closed,
           "HTTPS_PROXY": closed, "no_proxy": "", "NO_PROXY": ""}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=240)
    assert done.returncode == 1 and "DatasetNotFoundError" in done.stderr and "download" in done.stderr
    if existing:
        assert sorted(p.name for p in root.iterdir()) == ["mine.txt"] and (root / "mine.txt").read_text() == "kept"
    else:
        assert not (tmp_path / "nonexistent").exists(), sorted(tmp_path.rglob("*"))


def test_an_imagenet_root_without_images_names_the_root_and_the_layout(tmp_path):
    """A folder with sub-folders but no images (such as ``book/``, whose ``static/`` holds figures): not
    torchvision's "Found no valid file for the classes static", but the root and the layout expected."""
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "notes.txt").write_text("not an image")
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset("imagenet", "val", root=tmp_path)
    message = str(info.value)
    assert f"under root {tmp_path}" in message and "root/<split>/<class>/<image>.JPEG" in message
