"""A few real images that ship inside installed packages (foolbox's test images, scikit-image's photographs), for
figures and quick checks without a download (:func:`sample_images`)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torchvision.models import ResNet18_Weights

from .catalog import (
    CIFAR10_CLASSES,
    CIFAR100_CLASSES,
    FASHION_MNIST_CLASSES,
    MNIST_CLASSES,
    SAMPLE_SOURCES,
    DatasetNotFoundError,
)
from .images import ImageDataset

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
