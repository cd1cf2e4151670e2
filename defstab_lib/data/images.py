"""Images in memory and on disk as datasets: :class:`ImageDataset` (a whole split as a uint8 tensor),
:class:`ImageFolderDataset` (an ImageFolder tree read lazily), and :func:`pad_to_size`."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torchvision import datasets, transforms


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
