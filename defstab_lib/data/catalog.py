"""The datasets the library knows by name: what the book says about each (origin, size, classes, citation), their
splits, and the error raised when one is found nowhere."""

from __future__ import annotations

import dataclasses

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


def _check_name_split(name: str, split: str) -> None:
    if name not in _SPLITS:
        raise ValueError(f"unknown dataset {name!r}; allowed: {', '.join(repr(n) for n in DATASETS)}")
    if split not in _SPLITS[name]:
        raise ValueError(f"unknown split {split!r} for dataset {name!r}; allowed: "
                         f"{', '.join(repr(s) for s in _SPLITS[name])}")
