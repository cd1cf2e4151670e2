"""Datasets by name, the real offline image sources of these machines, and small image utilities.

Two entry points:

- :func:`load_dataset` loads a whole dataset split by name: ``"fashion-mnist"``, ``"mnist"``, ``"cifar10"``
  (in memory, as an :class:`ImageDataset`) or ``"imagenet"`` (an ImageFolder directory that the user names,
  loaded lazily as an :class:`ImageFolderDataset`).
- :func:`sample_images` loads a handful of real images that ship inside PyPI packages: foolbox's 20 real test
  images of ImageNet, CIFAR-10, CIFAR-100, MNIST and Fashion-MNIST, and scikit-image's photographs.

Where the files are looked for, in order:

1. ``root`` (argument), else ``$DEFSTAB_DATA``, else ``~/.cache/defstab/data``, in torchvision's layout
   (``FashionMNIST/raw/``, ``MNIST/raw/``, ``cifar-10-batches-py/``), gzipped or not;
2. for Fashion-MNIST, Debian's package ``dataset-fashion-mnist`` (``/usr/share/datasets/fashion-mnist``) -- only
   when no ``root`` was given: a ``root`` that holds no files is an error, never replaced by another copy;
3. a download with torchvision's dataset classes into the root of step 1, where a network is reachable and
   ``download`` is not ``False``.

A dataset found nowhere raises :class:`DatasetNotFoundError`, which says where it looked and how to provide the
files.  Nothing is ever substituted for a dataset that is missing.

The readers are our own (idx files, CIFAR python pickles, PIL for image files) so that the same code reads the
Debian files, torchvision's downloads and the small files that the tests write; torchvision is used to download.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import importlib.util
import os
import pickle
import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torchvision import datasets, transforms
from torchvision.models import ResNet18_Weights

__all__ = [
    "DATASETS",
    "SAMPLE_SOURCES",
    "DatasetInfo",
    "DATASET_INFO",
    "DatasetNotFoundError",
    "ImageDataset",
    "ImageFolderDataset",
    "load_dataset",
    "sample_images",
    "locate",
    "inventory",
    "default_root",
    "pad_to_size",
    "read_idx",
    "read_cifar_batch",
]

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")

FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
MNIST_CLASSES = tuple(str(d) for d in range(10))
CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)
CIFAR100_CLASSES = tuple(
    """apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus butterfly camel can
    castle caterpillar cattle chair chimpanzee clock cloud cockroach couch crab crocodile cup dinosaur dolphin
    elephant flatfish forest fox girl hamster house kangaroo keyboard lamp lawn_mower leopard lion lizard lobster
    man maple_tree motorcycle mountain mouse mushroom oak_tree orange orchid otter palm_tree pear pickup_truck
    pine_tree plain plate poppy porcupine possum rabbit raccoon ray road rocket rose sea seal shark shrew skunk
    skyscraper snail snake spider squirrel streetcar sunflower sweet_pepper table tank telephone television tiger
    tractor train trout tulip turtle wardrobe whale willow_tree wolf woman worm""".split()
)


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """What the book says about a dataset: its origin, size and citation."""

    name: str
    title: str
    shape: tuple[int, int, int]  # (C, H, W) of one image
    sizes: dict  # split -> number of images
    url: str
    cite: str  # key in book/references.bib
    classes: tuple[str, ...] = ()


DATASET_INFO: dict[str, DatasetInfo] = {
    "fashion-mnist": DatasetInfo(
        "fashion-mnist", "Fashion-MNIST", (1, 28, 28), {"train": 60000, "test": 10000},
        "https://github.com/zalandoresearch/fashion-mnist", "xiao2017", FASHION_MNIST_CLASSES,
    ),
    "mnist": DatasetInfo(
        "mnist", "MNIST", (1, 28, 28), {"train": 60000, "test": 10000},
        "https://yann.lecun.com/exdb/mnist/", "lecun1998", MNIST_CLASSES,
    ),
    "cifar10": DatasetInfo(
        "cifar10", "CIFAR-10", (3, 32, 32), {"train": 50000, "test": 10000},
        "https://www.cs.toronto.edu/~kriz/cifar.html", "krizhevsky2009", CIFAR10_CLASSES,
    ),
    "imagenet": DatasetInfo(
        "imagenet", "ImageNet (ILSVRC 2012)", (3, 224, 224), {"train": 1281167, "val": 50000},
        "https://image-net.org/", "russakovsky2015",
    ),
}
DATASETS: tuple[str, ...] = tuple(DATASET_INFO)
SAMPLE_SOURCES: tuple[str, ...] = ("imagenet", "cifar10", "cifar100", "mnist", "fashion-mnist", "photos")
_SPLITS = {"fashion-mnist": ("train", "test"), "mnist": ("train", "test"), "cifar10": ("train", "test"),
           "imagenet": ("train", "val")}


class DatasetNotFoundError(FileNotFoundError):
    """A dataset is neither on disk nor downloadable; the message says where we looked and how to provide it."""


# --------------------------------------------------------------------------------------------- datasets


@dataclasses.dataclass(eq=False)
class ImageDataset(torch.utils.data.Dataset):
    """A labelled image dataset held in memory.

    Attributes:
        images: ``(N, C, H, W)`` uint8 tensor, values 0..255 (grey images have ``C = 1``).
        labels: ``(N,)`` int64 tensor of class indices into ``classes``.
        classes: class names.
        name: dataset name (``"fashion-mnist"``, ...) or sample source (``"foolbox-imagenet"``, ...).
        split: ``"train"``, ``"test"``, ``"val"`` or ``"samples"``.
        source: where the images came from (a directory, a package), in words.
        files: the files the images were read from (for checksums and provenance).

    Indexing gives ``(image, label)`` with ``image`` a ``(C, H, W)`` float32 tensor in ``[0, 1]``.
    Treat the tensors as read-only: loads are cached and shared.
    """

    images: torch.Tensor
    labels: torch.Tensor
    classes: tuple[str, ...]
    name: str
    split: str
    source: str
    files: tuple[Path, ...] = ()

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.ndim != 4:
            raise ValueError(f"images must be a (N, C, H, W) uint8 tensor, got {self.images.dtype} "
                             f"{tuple(self.images.shape)}")
        if self.labels.shape != (self.images.shape[0],):
            raise ValueError(f"labels must have shape ({self.images.shape[0]},), got {tuple(self.labels.shape)}")

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.images[index].float().div_(255.0), int(self.labels[index])

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one image."""
        return tuple(self.images.shape[1:])  # type: ignore[return-value]

    def float_images(
        self,
        indices: Sequence[int] | torch.Tensor | None = None,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> torch.Tensor:
        """Images as floats in ``[0, 1]``: ``(n, C, H, W)`` (all of them when ``indices`` is ``None``)."""
        images = self.images if indices is None else self.images[torch.as_tensor(indices, dtype=torch.long)]
        return images.to(device=device).to(dtype).div_(255.0)

    def subset(self, indices: Sequence[int] | torch.Tensor) -> ImageDataset:
        """The images at ``indices``, as a new :class:`ImageDataset` with the same provenance."""
        idx = torch.as_tensor(indices, dtype=torch.long)
        return dataclasses.replace(self, images=self.images[idx], labels=self.labels[idx])

    def checksum(self) -> str:
        """SHA-256 over the bytes of the files the images were read from (empty files list: over the tensors)."""
        return _checksum(self.files, self.images)


class ImageFolderDataset(torch.utils.data.Dataset):
    """An ImageFolder tree (``root/<class>/<image>``), read lazily.

    Each image is resized so that its shorter side is ``resize`` pixels and centre-cropped to ``crop`` x ``crop``
    (the usual ImageNet evaluation transform).  Indexing gives ``(image, label)`` with ``image`` a
    ``(3, crop, crop)`` float32 tensor in ``[0, 1]``.
    """

    def __init__(self, root: Path, *, name: str = "imagenet", split: str = "val", resize: int = 256,
                 crop: int = 224) -> None:
        self.root = Path(root)
        self.name, self.split = name, split
        self.source = f"ImageFolder {self.root}"
        self._folder = datasets.ImageFolder(
            str(self.root),
            transform=transforms.Compose(
                [transforms.Resize(resize), transforms.CenterCrop(crop), transforms.ToTensor()]
            ),
        )
        self.classes = tuple(self._folder.classes)
        self.labels = torch.as_tensor(self._folder.targets, dtype=torch.long)
        self.files = tuple(Path(p) for p, _ in self._folder.samples)

    def __len__(self) -> int:
        return len(self._folder)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image, label = self._folder[index]
        return image, int(label)

    def float_images(self, indices: Sequence[int] | torch.Tensor | None = None, *, device=None,
                     dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Images as floats in ``[0, 1]``: ``(n, 3, crop, crop)``; reads every file when ``indices`` is ``None``."""
        idx = range(len(self)) if indices is None else [int(i) for i in indices]
        return torch.stack([self[i][0] for i in idx]).to(device=device, dtype=dtype)

    def checksum(self) -> str:
        """SHA-256 over the bytes of every image file (slow for a large tree)."""
        return _checksum(self.files, None)


def _checksum(files: Sequence[Path], fallback: torch.Tensor | None) -> str:
    h = hashlib.sha256()
    if files:
        for path in sorted(files):
            h.update(path.name.encode())
            with open(path, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
    elif fallback is not None:
        h.update(fallback.contiguous().numpy().tobytes())
    return h.hexdigest()


# --------------------------------------------------------------------------------------------- readers


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
    """Read one CIFAR-10 python pickle batch: ``(images (n, 3, 32, 32) uint8, labels (n,) int64)``."""
    with open(path, "rb") as f:
        batch = pickle.load(f, encoding="latin1")
    if "data" not in batch or ("labels" not in batch and "fine_labels" not in batch):
        raise ValueError(f"{path} is not a CIFAR python batch (keys: {sorted(batch)})")
    labels = batch.get("labels", batch.get("fine_labels"))
    images = np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
    return images, np.asarray(labels, dtype=np.int64)


# --------------------------------------------------------------------------------------------- locating


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


def _check_name_split(name: str, split: str) -> None:
    if name not in _SPLITS:
        raise ValueError(f"unknown dataset {name!r}; allowed: {', '.join(repr(n) for n in DATASETS)}")
    if split not in _SPLITS[name]:
        raise ValueError(f"unknown split {split!r} for dataset {name!r}; allowed: "
                         f"{', '.join(repr(s) for s in _SPLITS[name])}")


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
        return ImageFolderDataset(found[0], name=name, split=split)

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
    """Download with torchvision into ``base``; return the error text on failure, ``None`` on success."""
    cls = {"fashion-mnist": datasets.FashionMNIST, "mnist": datasets.MNIST, "cifar10": datasets.CIFAR10}[name]
    try:
        base.mkdir(parents=True, exist_ok=True)
        for train in (True, False):
            cls(str(base), train=train, download=True)
    except Exception as exc:  # network errors come in many types (URLError, RuntimeError, OSError)
        return f"{type(exc).__name__}: {exc}".strip()
    return None


def _not_found_message(name: str, split: str, base: Path, download: bool | None, error: str | None, *,
                       system: bool = True) -> str:
    info = DATASET_INFO[name]
    looked = ", ".join(str(d) for d in _candidate_dirs(name, base, system=system))
    if download is False:
        tried = "download=False, so no download was attempted"
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


# --------------------------------------------------------------------------------------------- samples


_FOOLBOX_NAMES = {"imagenet": "imagenet", "cifar10": "cifar10", "cifar100": "cifar100", "mnist": "mnist",
                  "fashion-mnist": "fashionMNIST"}
_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket")


def foolbox_data_dir() -> Path:
    """The ``data`` folder of the installed foolbox package (found without importing foolbox)."""
    spec = importlib.util.find_spec("foolbox")
    if spec is None or not spec.submodule_search_locations:
        raise DatasetNotFoundError(
            "foolbox is not installed; its real sample images come with `pip install foolbox` "
            "(or `pip install defstab-lib[samples]`)"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "data"


def _imagenet_classes() -> tuple[str, ...]:
    return tuple(ResNet18_Weights.IMAGENET1K_V1.meta["categories"])


def _square(image):
    """Centre-crop a PIL image to a square."""
    w, h = image.size
    s = min(w, h)
    return image.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))


def sample_images(source: str, *, size: int | None = None) -> ImageDataset:
    """A few real images that ship inside installed packages (no download).

    Args:
        source: ``"imagenet"`` (20 real ImageNet images, JPEG, mostly 512x512), ``"cifar10"``, ``"cifar100"``,
            ``"mnist"`` or ``"fashion-mnist"`` (20 real test images each, from foolbox), or ``"photos"``
            (scikit-image's photographs astronaut, chelsea, coffee and rocket).
        size: resize to ``size`` x ``size``.  ImageNet images and photos are centre-cropped to a square first and
            default to 224 (the paper's ImageNet size); the others default to their native size.

    Returns:
        An :class:`ImageDataset` with ``split == "samples"``; labels come from the file names (foolbox) or are
        the photo's index (photos).

    >>> sample_images("fashion-mnist").images.shape
    torch.Size([20, 1, 28, 28])
    """
    if source not in SAMPLE_SOURCES:
        raise ValueError(f"unknown sample source {source!r}; allowed: {', '.join(repr(s) for s in SAMPLE_SOURCES)}")
    if size is not None and (not isinstance(size, int) or size < 1):
        raise ValueError(f"size must be a positive int or None, got {size!r}")
    arrays, labels, files = [], [], []
    square = source in ("imagenet", "photos")
    if square:
        size = size or 224
    if source == "photos":
        try:
            import skimage.data  # optional dependency: the samples extra
        except ImportError as exc:
            raise DatasetNotFoundError("scikit-image is not installed (pip install scikit-image)") from exc
        for i, photo in enumerate(_PHOTOS):
            image = _square(Image.fromarray(getattr(skimage.data, photo)()).convert("RGB"))
            arrays.append(np.asarray(image.resize((size, size), Image.BICUBIC)))
            labels.append(i)
        classes, where = _PHOTOS, f"scikit-image {skimage.__version__} (skimage.data)"
    else:
        folder = foolbox_data_dir()
        paths = sorted(folder.glob(f"{_FOOLBOX_NAMES[source]}_*_*.*"))
        if not paths:
            raise DatasetNotFoundError(f"no {source} sample images in {folder}")
        grey = source in ("mnist", "fashion-mnist")
        for path in paths:
            image = Image.open(path).convert("L" if grey else "RGB")
            if square:
                image = _square(image)
            if size is not None:
                image = image.resize((size, size), Image.BICUBIC)
            array = np.asarray(image)
            arrays.append(array[..., None] if grey else array)
            labels.append(int(path.stem.split("_")[-1]))
            files.append(path)
        classes = {"imagenet": None, "cifar10": CIFAR10_CLASSES, "cifar100": CIFAR100_CLASSES,
                   "mnist": MNIST_CLASSES, "fashion-mnist": FASHION_MNIST_CLASSES}[source]
        classes = classes or _imagenet_classes()
        where = f"foolbox package data ({folder})"
    images = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
    return ImageDataset(images=images, labels=torch.tensor(labels, dtype=torch.long), classes=tuple(classes),
                        name=f"{'skimage' if source == 'photos' else 'foolbox'}-{source}", split="samples",
                        source=where, files=tuple(files))


# --------------------------------------------------------------------------------------------- utilities


def pad_to_size(images: torch.Tensor, size: int, *, value: float = 0.0) -> torch.Tensor:
    """Zero-pad ``(B, C, H, W)`` images symmetrically to ``size`` x ``size`` (extra pixel, if odd, at the end).

    Used to give Fashion-MNIST's 28x28 images the CIFAR geometry (32x32: 2 px each side), so that the CIFAR
    network's four halvings give 16, 8, 4, 2.  Device and dtype follow the input.

    >>> pad_to_size(torch.ones(2, 1, 28, 28), 32).shape
    torch.Size([2, 1, 32, 32])
    """
    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        raise ValueError(f"images must be a (B, C, H, W) tensor, got {getattr(images, 'shape', type(images))}")
    h, w = images.shape[-2:]
    if size < max(h, w):
        raise ValueError(f"size={size} is smaller than the images ({h}x{w}); pad_to_size only pads")
    top, left = (size - h) // 2, (size - w) // 2
    return F.pad(images, (left, size - w - left, top, size - h - top), value=value)
