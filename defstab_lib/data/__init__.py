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

The package's modules, each re-exported here (``from defstab_lib import data; data.load_dataset``):
:mod:`.catalog` (the datasets by name: :data:`DATASET_INFO`, the splits, :class:`DatasetNotFoundError`),
:mod:`.files` (where the files are, and the readers), :mod:`.loading` (:func:`load_dataset`,
:func:`require_dataset`), :mod:`.samples` (:func:`sample_images`) and :mod:`.images` (the dataset classes, :func:`pad_to_size`).
"""

# Names without a place in __all__ are re-exported as ``X as X``: public, but not part of ``import *``.
from .catalog import (
    CIFAR10_CLASSES as CIFAR10_CLASSES,
    CIFAR100_CLASSES as CIFAR100_CLASSES,
    DATASET_INFO,
    DATASETS,
    FASHION_MNIST_CLASSES as FASHION_MNIST_CLASSES,
    MNIST_CLASSES as MNIST_CLASSES,
    SAMPLE_SOURCES,
    DatasetInfo,
    DatasetNotFoundError,
)
from .files import DEBIAN_FASHION_MNIST as DEBIAN_FASHION_MNIST
from .files import default_root, inventory, locate, read_cifar_batch, read_idx
from .images import ImageDataset, ImageFolderDataset, pad_to_size
from .loading import load_dataset, require_dataset
from .samples import foolbox_data_dir as foolbox_data_dir
from .samples import sample_images

__all__ = [
    "DATASETS",
    "SAMPLE_SOURCES",
    "DatasetInfo",
    "DATASET_INFO",
    "DatasetNotFoundError",
    "ImageDataset",
    "ImageFolderDataset",
    "load_dataset",
    "require_dataset",
    "sample_images",
    "locate",
    "inventory",
    "default_root",
    "pad_to_size",
    "read_idx",
    "read_cifar_batch",
]
