"""Loading a whole dataset split by name (:func:`load_dataset`): from the files on disk, else a download with
torchvision, else a :class:`~defstab_lib.data.DatasetNotFoundError` that says where it looked."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import torch
from torchvision import datasets

from .catalog import _SPLITS, DATASET_INFO, DatasetNotFoundError, _check_name_split
from .files import _TV_FOLDER, _candidate_dirs, default_root, locate, read_cifar_batch, read_idx
from .images import ImageDataset, ImageFolderDataset

_CACHE: dict[tuple, ImageDataset] = {}


def load_dataset(
    name: str,
    split: str = "train",
    *,
    root: str | os.PathLike | None = None,
    download: bool | None = None,
) -> ImageDataset | ImageFolderDataset:
    """Load a dataset split by name.

    Args:
        name: ``"fashion-mnist"``, ``"mnist"``, ``"cifar10"`` or ``"imagenet"``.
        split: ``"train"`` or ``"test"`` (``"train"`` or ``"val"`` for ImageNet).
        root: where to look (and download to); default :func:`default_root`.  For ImageNet, the ImageFolder
            directory (``root/<split>/<class>/<image>`` or ``root/<class>/<image>``); it is required.
        download: ``None`` downloads with torchvision when the files are not found (where a network is
            reachable); ``False`` never downloads; ``True`` downloads when the files are not found and says so
            plainly when the download fails.  ImageNet is never downloaded.

    Returns:
        An :class:`ImageDataset` (uint8 images ``(N, C, H, W)``: Fashion-MNIST and MNIST ``(N, 1, 28, 28)``,
        CIFAR-10 ``(N, 3, 32, 32)``), or for ImageNet an :class:`ImageFolderDataset` that reads images lazily.

    Raises:
        ValueError: unknown name or split.
        DatasetNotFoundError: the files are neither on disk nor downloadable; the message says where it looked
            and how to provide them.
    """
    _check_name_split(name, split)
    if download not in (None, True, False):
        raise ValueError(f"download must be None, True or False, got {download!r}")
    base = Path(root).expanduser() if root is not None else default_root()
    if name == "imagenet":
        if root is None:
            raise DatasetNotFoundError(
                "ImageNet cannot be downloaded automatically: pass root=<directory> naming an ImageFolder tree "
                "(root/<split>/<class>/<image>.JPEG or root/<class>/<image>.JPEG)"
            )
        found = locate(name, split, root=root)
        if not found:
            raise DatasetNotFoundError(
                f"no ImageFolder tree for ImageNet split {split!r} under {base} (looked in {base / split} and "
                f"{base}); expected <class>/<image> sub-folders"
            )
        try:
            return ImageFolderDataset(found[0], name=name, split=split)
        except FileNotFoundError as exc:  # torchvision: sub-folders, but no image file in any of them
            raise DatasetNotFoundError(
                f"no ImageNet images for split {split!r} under root {base}: {found[0]} has sub-folders but they hold "
                f"no image files ({exc}); expected an ImageFolder tree, root/<split>/<class>/<image>.JPEG or "
                f"root/<class>/<image>.JPEG"
            ) from exc

    files = locate(name, split, root=root)
    download_error = None
    if files is None and download is not False:
        download_error = _download(name, base)
        files = locate(name, split, root=root)
    if files is None:
        raise DatasetNotFoundError(_not_found_message(name, split, base, download, download_error,
                                                      system=root is None))

    key = (name, split, tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files))
    if key not in _CACHE:
        _CACHE[key] = _read(name, split, files)
    return _CACHE[key]


def require_dataset(name: str, *, download: bool | None = None, no_download: str | None = None) -> None:
    """Make sure every split of ``name`` is on this machine, without reading it: download the missing ones as
    :func:`load_dataset` would (``download=None`` or ``True``), or only look (``False``).  For checking the data
    once before work that needs them starts (worker processes, a dry run).

    Args:
        name: ``"fashion-mnist"``, ``"mnist"`` or ``"cifar10"`` (ImageNet has no default place to look in).
        download: as for :func:`load_dataset`.
        no_download: with ``download=False``, why no download was attempted (said in the error; default
            ``"download=False"``).

    Raises:
        ValueError: unknown name, or ``"imagenet"``.
        DatasetNotFoundError: a split is found nowhere; the message (one line) says where it looked and how to
            provide it.

    >>> require_dataset("cifar10", download=False, no_download="a dry run downloads nothing")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    defstab_lib.data.catalog.DatasetNotFoundError: dataset 'cifar10' (split 'train') not found. Looked in: ...
    """
    _check_name_split(name, "train")
    if name == "imagenet":
        raise ValueError("require_dataset('imagenet') has no place to look in: name its folder with "
                         "load_dataset('imagenet', root=...)")
    if download not in (None, True, False):
        raise ValueError(f"download must be None, True or False, got {download!r}")
    base = default_root()
    missing = [split for split in _SPLITS[name] if locate(name, split) is None]
    error = None
    if missing and download is not False:
        error = _download(name, base)
        missing = [split for split in missing if locate(name, split) is None]
    if missing:
        raise DatasetNotFoundError(_not_found_message(name, missing[0], base, download, error,
                                                      no_download=no_download or "download=False"))


def _read(name: str, split: str, files: list[Path]) -> ImageDataset:
    info = DATASET_INFO[name]
    if name in _TV_FOLDER:
        images = read_idx(files[0]).copy()  # a writable copy: frombuffer arrays are read-only
        labels = read_idx(files[1]).astype(np.int64)
        if images.ndim != 3 or images.shape[0] != labels.shape[0]:
            raise ValueError(f"{files[0]} and {files[1]} do not form an image/label pair "
                             f"({images.shape} vs {labels.shape})")
        images = images[:, None]
    else:
        parts = [read_cifar_batch(f) for f in files]
        images = np.concatenate([p[0] for p in parts])
        labels = np.concatenate([p[1] for p in parts])
    return ImageDataset(
        images=torch.from_numpy(np.ascontiguousarray(images)),
        labels=torch.from_numpy(labels),
        classes=info.classes,
        name=name,
        split=split,
        source=str(files[0].parent),
        files=tuple(files),
    )


def _download(name: str, base: Path) -> str | None:
    """Download with torchvision into ``base``; return the error text on failure, ``None`` on success.

    A failed download leaves nothing behind: the folders and files it created (``base`` itself and the parents it
    needed, or the new entries of an existing ``base``, such as torchvision's empty ``FashionMNIST/raw``) are
    removed; what was there before is not touched."""
    cls = {"fashion-mnist": datasets.FashionMNIST, "mnist": datasets.MNIST, "cifar10": datasets.CIFAR10}[name]
    top = next((p for p in reversed([base, *base.parents]) if not p.exists()), None)  # first folder created
    before = None if top is not None or not base.is_dir() else set(base.iterdir())
    try:
        base.mkdir(parents=True, exist_ok=True)
        for train in (True, False):
            cls(str(base), train=train, download=True)
    except Exception as exc:  # network errors come in many types (URLError, RuntimeError, OSError)
        try:
            created = ([top] if top is not None else [p for p in base.iterdir() if p not in before]
                       if before is not None else [])
        except OSError:  # another process's failed download removed base meanwhile: nothing of ours is left
            created = []
        for path in created:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        return f"{type(exc).__name__}: {exc}".strip()
    return None


def _not_found_message(name: str, split: str, base: Path, download: bool | None, error: str | None, *,
                       system: bool = True, no_download: str = "download=False") -> str:
    info = DATASET_INFO[name]
    looked = ", ".join(str(d) for d in _candidate_dirs(name, base, system=system))
    if download is False:
        tried = f"{no_download}, so no download was attempted"
    else:
        tried = f"the download with torchvision failed ({error})"
    how = {
        "fashion-mnist": f"install Debian's package dataset-fashion-mnist, or put the idx files (.gz or not) in "
                         f"{base / 'FashionMNIST' / 'raw'}",
        "mnist": f"put the idx files (.gz or not) in {base / 'MNIST' / 'raw'}",
        "cifar10": f"extract cifar-10-python.tar.gz so that {base / 'cifar-10-batches-py'} holds data_batch_1..5 "
                   f"and test_batch",
    }[name]
    return (
        f"dataset {name!r} (split {split!r}) not found. Looked in: {looked}; {tried}. To provide it: {how} "
        f"(from {info.url}), pass root=<directory>, or set DEFSTAB_DATA."
    )
