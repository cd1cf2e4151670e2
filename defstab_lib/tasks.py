"""Training tasks built from data: synthetic deformation tasks, random labels, augmentation.

Part of the data room of the library (see ``defstab_lib.data`` for loading datasets).

- :class:`SyntheticDeformationTask` is the task of the paper's section 4.3 (Figure 5): ``K`` classes, each one
  template image; every example is a fresh random deformation of strength ``C`` of its class's template.
- :func:`random_labels` gives the random labels of Zhang et al. (2016), fixed per example for a whole run.
- :func:`flip_crop` is the usual flip-and-translate augmentation; :func:`flip_crop_tps` adds, after it, a random
  thin-plate-spline deformation of each image drawn as the probe draws its deformations (the ablation's third
  augmentation level).

All randomness comes from generators derived from ``(seed, epoch, batch)``
(:func:`defstab_lib._random.epoch_generator`), so a task yields the same examples whenever it is asked for the same epoch.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F

from . import checks
from .data import DatasetNotFoundError, load_dataset, locate, pad_to_size, sample_images
from .deform import apply_displacements, deform, sample_displacements
from ._random import epoch_generator

__all__ = ["TEMPLATE_SOURCES", "MAX_CLASSES", "synthetic_templates", "SyntheticDeformationTask", "random_labels", "flip_crop",
           "flip_crop_tps"]

#: Where the templates of a synthetic task come from: foolbox's 20 real MNIST test images (always available
#: offline), the full MNIST test set (where it is on disk or downloadable), or the first images of one
#: Fashion-MNIST category, "Shirt" (fine-grained classes: every template is a shirt; Debian ships the data).
TEMPLATE_SOURCES = ("foolbox-mnist", "mnist", "fashion-mnist-shirts")
#: The most classes a synthetic task can have: one template per class, from foolbox's 20 MNIST images.
MAX_CLASSES = 20


def synthetic_templates(classes: int, source: str = "foolbox-mnist", *, size: int = 32) -> tuple[torch.Tensor, str]:
    """``classes`` real images to serve as the templates of a synthetic task, one per class.

    ``"foolbox-mnist"`` and ``"mnist"``: images of distinct digits come first (the first image of each digit, in
    file order), then further images.  foolbox's 20 images hold every digit but 8, so up to 9 classes are 9
    different digits; a tenth class is a second image of a digit (a different handwriting), which the task treats
    as a class of its own.  ``"fashion-mnist-shirts"``: the first ``classes`` images of category "Shirt" of the
    Fashion-MNIST test set, so that every class is a different shirt (a harder, fine-grained task).

    Args:
        classes: number of classes K (2..:data:`MAX_CLASSES`; at most 20 for ``"foolbox-mnist"``).
        source: one of :data:`TEMPLATE_SOURCES`.
        size: the templates are zero-padded from 28x28 to ``size`` x ``size``.

    Returns:
        ``(templates, description)``: float32 ``(K, 1, size, size)`` in ``[0, 1]``, and where they came from.

    >>> t, where = synthetic_templates(4)
    >>> t.shape, "foolbox" in where
    (torch.Size([4, 1, 32, 32]), True)
    """
    if source not in TEMPLATE_SOURCES:
        raise ValueError(f"template source {source!r} is not allowed; allowed: {', '.join(TEMPLATE_SOURCES)}")
    if source == "fashion-mnist-shirts":
        return _shirt_templates(classes, size)
    if source == "foolbox-mnist":
        ds = sample_images("mnist")
        where = "shipped in foolbox's package data"
    else:
        if locate("mnist", "test") is None:
            raise DatasetNotFoundError("template source 'mnist' needs the MNIST test set; use 'foolbox-mnist' "
                                       "offline or let torchvision download MNIST")
        ds = load_dataset("mnist", "test")
        ds = ds.subset(range(min(len(ds), 1000)))
        where = f"from the MNIST test set in {ds.source}"
    if not isinstance(classes, int) or not 2 <= classes <= len(ds):
        raise ValueError(f"classes must be an int in [2, {len(ds)}] for template source {source!r}, got {classes!r}")
    labels = ds.labels.tolist()
    first = [labels.index(d) for d in sorted(set(labels), key=labels.index)]
    order = first + [i for i in range(len(labels)) if i not in first]
    chosen = order[:classes]
    templates = pad_to_size(ds.float_images(chosen), size)
    digits = ", ".join(str(labels[i]) for i in chosen)
    return templates, f"{len(chosen)} real MNIST test images {where} (digits {digits})"


def _shirt_templates(classes: int, size: int) -> tuple[torch.Tensor, str]:
    """The first ``classes`` "Shirt" images of the Fashion-MNIST test set, zero-padded to ``size``."""
    checks.positive_int("classes", classes, minimum=2, maximum=MAX_CLASSES)
    ds = load_dataset("fashion-mnist", "test")
    chosen = (ds.labels == ds.classes.index("Shirt")).nonzero().flatten()[:classes].tolist()
    templates = pad_to_size(ds.float_images(chosen), size)
    return templates, (f"the first {len(chosen)} 'Shirt' images of the Fashion-MNIST test set in {ds.source} "
                       f"(indices {', '.join(map(str, chosen))})")


class SyntheticDeformationTask:
    """A classification task whose classes are random deformations of one template image each.

    Args:
        templates: ``(K, C, H, W)`` float images in ``[0, 1]``; class ``k`` is built from ``templates[k]``.
        strength: deformation strength C: the maximum displacement, in pixels, of each control point in each
            direction (``defstab_lib.deform``).
        examples_per_epoch: examples drawn per epoch (a fresh set every epoch).
        batch_size: examples per batch.
        seed: seed of every draw (labels and deformations); the examples of epoch ``e`` depend on
            ``(seed, e)`` only.
        grid: control points per side of the deformation grid.

    ``epoch(e)`` yields ``(images, labels)``: float ``(batch_size, C, H, W)`` on the templates' device and
    int64 ``(batch_size,)``.  :meth:`fixed_set` draws a fixed set (for a test set or probe images).
    """

    def __init__(self, templates: torch.Tensor, strength: float, *, examples_per_epoch: int, batch_size: int,
                 seed: int, grid: int = 3) -> None:
        if templates.ndim != 4 or not templates.is_floating_point():
            raise ValueError(f"templates must be a float (K, C, H, W) tensor, got {templates.dtype} "
                             f"{tuple(templates.shape)}")
        if strength < 0:
            raise ValueError(f"strength must be >= 0 pixels, got {strength}")
        if examples_per_epoch < batch_size:
            raise ValueError(f"examples_per_epoch={examples_per_epoch} must be at least batch_size={batch_size}")
        self.templates, self.strength, self.grid = templates, float(strength), int(grid)
        self.examples_per_epoch, self.batch_size, self.seed = int(examples_per_epoch), int(batch_size), int(seed)

    @property
    def classes(self) -> int:
        return int(self.templates.shape[0])

    def __len__(self) -> int:
        return self.examples_per_epoch // self.batch_size

    def _draw(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        labels = torch.randint(self.classes, (n,), generator=generator, device=generator.device)
        images = self.templates[labels.to(self.templates.device)]
        if self.strength > 0:
            images, _ = deform(images, self.grid, self.strength, generator=generator)
        return images, labels.to(self.templates.device)

    def epoch(self, epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for b in range(len(self)):
            yield self._draw(self.batch_size, epoch_generator(self.seed, epoch, b, self.templates.device))

    def fixed_set(self, n: int, *, stream: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` examples that depend only on ``(seed, stream)``: ``(images (n, C, H, W), labels (n,))``."""
        return self._draw(n, epoch_generator(self.seed, -1, stream, self.templates.device))


def random_labels(n: int, classes: int, seed: int) -> torch.Tensor:
    """Uniform random labels, one per example, fixed for the whole run (Zhang et al., 2016): int64 ``(n,)``.

    >>> random_labels(5, 10, 0).tolist() == random_labels(5, 10, 0).tolist()
    True
    """
    if n < 0 or classes < 2:
        raise ValueError(f"need n >= 0 and classes >= 2, got n={n}, classes={classes}")
    g = torch.Generator().manual_seed(int(seed) + 0x5EED)
    return torch.randint(classes, (n,), generator=g)


def flip_crop(images: torch.Tensor, generator: torch.Generator, *, pad: int = 2) -> torch.Tensor:
    """Random horizontal flip and random translation by up to ``pad`` pixels (zero fill), per image.

    ``images`` is ``(B, C, H, W)`` float; the result has the same shape, device and dtype.
    """
    b, _, h, w = images.shape
    dev = generator.device
    flip = torch.rand(b, generator=generator, device=dev) < 0.5
    shifts = torch.randint(-pad, pad + 1, (b, 2), generator=generator, device=dev).to(images.device)
    flip = flip.to(images.device)
    out = torch.where(flip[:, None, None, None], images.flip(-1), images)
    padded = F.pad(out, (pad, pad, pad, pad))
    rows = (torch.arange(h, device=images.device)[None, :] + pad - shifts[:, 1:2])  # (B, H)
    cols = (torch.arange(w, device=images.device)[None, :] + pad - shifts[:, 0:1])  # (B, W)
    idx_b = torch.arange(b, device=images.device)[:, None, None]
    return padded.permute(0, 2, 3, 1)[idx_b, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2).contiguous()


def flip_crop_tps(images: torch.Tensor, generator: torch.Generator, *, grid: int = 3, strength: float = 2.0,
                  pad: int = 2) -> torch.Tensor:
    """:func:`flip_crop`, then each image deformed by its own random thin-plate-spline field drawn as the probe
    draws its deformations.

    The deformation is :func:`defstab_lib.deform.deform`'s: every one of the ``grid x grid`` control points is
    displaced by ``(dx, dy)``, each uniform in ``[-strength, strength]`` pixels
    (:func:`~defstab_lib.deform.sample_displacements`), the dense field is their thin-plate-spline interpolant and
    the image is resampled bilinearly with reflection at the border
    (:func:`~defstab_lib.deform.apply_displacements`).  On the CPU the result is exactly
    ``deform(flip_crop(images, g, pad=pad), grid, strength, generator=g)[0]`` with the same generator ``g``.

    Args:
        images: ``(B, C, H, W)`` float images (in ``[0, 1]`` when they come from
            :class:`~defstab_lib.train.TensorBatches`).
        generator: the source of every draw (flip, shift, displacements), advanced by this call; it may live on
            another device than ``images`` (the training batches' epoch generator is on the CPU): the draws are
            made on its device and moved.
        grid: control points per side (>= 2): the probe's grid (3 for 32x32 images).
        strength: the largest displacement C of a control point, in pixels per direction (``0 <= C < min(H,
            W)``): the probe's strength (2 px).  Between control points the field may overshoot C slightly (at
            most :func:`~defstab_lib.deform.overshoot_bound` times C).
        pad: the largest translation of :func:`flip_crop`, in pixels.

    Returns:
        ``(B, C, H, W)`` augmented images, on the device and in the dtype of ``images``.

    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.rand(4, 1, 32, 32)
    >>> y = flip_crop_tps(x, g)
    >>> y.shape, y.dtype, bool((y != flip_crop(x, torch.Generator().manual_seed(0))).any())
    (torch.Size([4, 1, 32, 32]), torch.float32, True)
    """
    checks.check_tensor("images", images, "B C H W")
    grid = checks.positive_int("grid", grid, minimum=2)
    strength = checks.nonnegative_float("strength", strength)
    pad = checks.positive_int("pad", pad, minimum=0)
    if strength >= min(images.shape[-2:]):
        raise ValueError(f"strength must be smaller than the image size {tuple(images.shape[-2:])}, got {strength}")
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    out = flip_crop(images, generator, pad=pad)
    displacements = sample_displacements(out.shape[0], grid, strength, generator=generator, device=generator.device,
                                         dtype=out.dtype)
    return apply_displacements(out, displacements.to(out.device))
