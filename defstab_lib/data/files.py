"""Where a dataset's files are on this machine (:func:`locate`, :func:`inventory`) and how they are read (idx files,
CIFAR python pickles); the order in which places are looked in is in :mod:`defstab_lib.data`."""

from __future__ import annotations

import gzip
import os
import pickle
import struct
from pathlib import Path

import numpy as np

from .catalog import _SPLITS, DATASET_INFO, _check_name_split

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an idx file (the MNIST format; gzipped when the name ends in ``.gz``) into a numpy array.

    >>> import tempfile, gzip, numpy as np
    >>> p = Path(tempfile.mkdtemp()) / "x-idx1-ubyte.gz"
    >>> with gzip.open(p, "wb") as f:
    ...     _ = f.write(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9]))
    >>> read_idx(p)
    array([7, 8, 9], dtype=uint8)
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError(f"{path} is not an idx file (bad magic number)")
    dtypes = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    if data[2] not in dtypes:
        raise ValueError(f"{path}: unknown idx data type 0x{data[2]:02x}")
    ndim = data[3]
    dims = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    array = np.frombuffer(data, dtype=dtypes[data[2]], offset=4 + 4 * ndim)
    if array.size != int(np.prod(dims)):
        raise ValueError(f"{path}: expected {int(np.prod(dims))} values for shape {dims}, found {array.size}")
    return array.reshape(dims)


def read_cifar_batch(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read one CIFAR python pickle batch (``data_batch_1`` .. ``data_batch_5``, ``test_batch`` of
    ``cifar-10-batches-py/``; CIFAR-100's ``train``/``test`` too).

    The file is a pickled dict with ``data``, a uint8 array ``(n, 3072)`` whose rows are images stored row-major,
    the 1024 red values of the 32x32 image row by row, then green, then blue; and ``labels`` (CIFAR-100:
    ``fine_labels``), ``n`` ints.  Its keys may be Python 2 strings, as in the archive from the CIFAR web page, or
    ``bytes``, as in a copy pickled again by Python 3 after loading with ``encoding="bytes"``.

    Returns:
        ``(images, labels)``: images ``(n, 3, 32, 32)`` uint8 (channels red, green, blue; rows top to bottom),
        labels ``(n,)`` int64.

    Raises:
        ValueError: the file is not such a batch (the message names the file and what is wrong).
    """
    try:
        with open(path, "rb") as f:
            batch = pickle.load(f, encoding="latin1")
    except (pickle.UnpicklingError, EOFError, ValueError) as exc:
        raise ValueError(f"{path} is not a CIFAR python batch: it cannot be unpickled ({exc})") from exc
    if not isinstance(batch, dict):
        raise ValueError(f"{path} is not a CIFAR python batch: it holds a {type(batch).__name__}, not a dict")
    batch = {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in batch.items()}
    if "data" not in batch or ("labels" not in batch and "fine_labels" not in batch):
        raise ValueError(f"{path} is not a CIFAR python batch (keys: {sorted(map(str, batch))}; expected 'data' "
                         f"and 'labels')")
    labels = np.asarray(batch.get("labels", batch.get("fine_labels")), dtype=np.int64)
    data = np.asarray(batch["data"])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or labels.shape != (len(data),):
        raise ValueError(f"{path} is not a CIFAR python batch: 'data' is {data.dtype} {data.shape} and there are "
                         f"{labels.size} labels; expected uint8 (n, 3072) and n labels")
    return data.reshape(-1, 3, 32, 32), labels


def default_root() -> Path:
    """``$DEFSTAB_DATA`` if set, else ``~/.cache/defstab/data`` (honouring ``$XDG_CACHE_HOME``)."""
    if os.environ.get("DEFSTAB_DATA"):
        return Path(os.environ["DEFSTAB_DATA"]).expanduser()
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return cache / "defstab" / "data"


_IDX_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
              "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
_TV_FOLDER = {"fashion-mnist": "FashionMNIST", "mnist": "MNIST"}


def _find_idx_pair(directory: Path, split: str) -> tuple[Path, Path] | None:
    pair = []
    for stem in _IDX_FILES[split]:
        for candidate in (directory / stem, directory / f"{stem}.gz"):
            if candidate.is_file():
                pair.append(candidate)
                break
        else:
            return None
    return pair[0], pair[1]


def _candidate_dirs(name: str, root: Path, *, system: bool = True) -> list[Path]:
    """Where ``name``'s files may be under ``root``; with ``system``, also the system-wide copy (Debian's)."""
    if name in _TV_FOLDER:
        dirs = [root / _TV_FOLDER[name] / "raw", root / _TV_FOLDER[name], root]
        if name == "fashion-mnist" and system:
            dirs.append(DEBIAN_FASHION_MNIST)
        return dirs
    if name == "cifar10":
        return [root / "cifar-10-batches-py", root]
    return [root]  # imagenet: the ImageFolder itself


def locate(name: str, split: str = "train", *, root: str | os.PathLike | None = None) -> list[Path] | None:
    """The files of a dataset split on this machine, or ``None`` where they are not found (nothing is downloaded).

    A ``root`` given here is the only place looked in (no system-wide copy is substituted for it).

    >>> locate("cifar10", "test", root="/nonexistent") is None
    True
    >>> locate("fashion-mnist", "test", root="/nonexistent") is None
    True
    """
    _check_name_split(name, split)
    base = Path(root).expanduser() if root is not None else default_root()
    if name in _TV_FOLDER:
        for d in _candidate_dirs(name, base, system=root is None):
            pair = _find_idx_pair(d, split)
            if pair:
                return list(pair)
        return None
    if name == "cifar10":
        wanted = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
        for d in _candidate_dirs(name, base):
            files = [d / w for w in wanted]
            if all(f.is_file() for f in files):
                return files
        return None
    # imagenet: an ImageFolder; root/<split>/ if present, else root itself when it holds class folders
    if root is None:
        return None
    for d in (base / split, base):
        if d.is_dir() and any(p.is_dir() for p in d.iterdir()):
            return [d]
    return None


def inventory(root: str | os.PathLike | None = None) -> list[dict[str, str]]:
    """Which datasets the library knows and where each split is on this machine (nothing is downloaded).

    Returns:
        One dict per dataset with the keys ``dataset``, ``images`` (C x H x W), ``splits`` (sizes),
        ``on this machine`` (the folder of each split found, or what to do) and ``homepage``.
    """
    rows = []
    for name, info in DATASET_INFO.items():
        found = {}
        for split in _SPLITS[name]:
            files = locate(name, split, root=root)
            if files:
                found[split] = str(files[0].parent if name != "imagenet" else files[0])
        if found:
            where = "; ".join(f"{split}: {folder}" for split, folder in found.items())
        elif name == "imagenet":
            where = "not here: name an ImageFolder directory with root=..."
        else:
            where = "not here: downloaded by torchvision where a network is reachable"
        rows.append({
            "dataset": info.title,
            "images": "x".join(str(d) for d in info.shape),
            "splits": ", ".join(f"{split} {n:,}" for split, n in info.sizes.items()),
            "on this machine": where,
            "homepage": info.url,
        })
    return rows
