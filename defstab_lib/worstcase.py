r"""Deformations found by optimisation: the worst case at a budget, and the smallest one that flips the label.

The paper measures sensitivity to *random* thin-plate-spline deformations and asks, as future work (section 6),
for "worst case deformations found via maximization of the deformation sensitivity".  Both searches here move the
same objects as :mod:`defstab_lib.deform`: the ``K = grid^2`` control-point displacements ``d`` of shape
``(B, K, 2)``, in pixels, ``(x, y)`` order, turned into an image by the (linear, differentiable) thin-plate spline
and a bilinear resampling (:func:`defstab_lib.deform.apply_displacements`).

**Worst case at a budget** (:func:`worst_case`).  Maximise, per image, one of

- ``"cosine"``: the normalised cosine distance at a layer, ``d_cos(r(x), r(tau_d x)) / m`` (``"euclidean"``: the
  same with the Euclidean distance), ``m`` being the median distance between *different* clean images'
  representations at that layer (the paper's normalisation; computed once from the clean batch, or given, and
  never differentiated) -- so a batch's mean is exactly the paper's measure for these deformations;
- ``"loss"``: the cross-entropy of the model's output against given labels,

over the box ``|d_kc| <= C`` (every control-point coordinate, the box the paper's random deformations are drawn
from), by projected gradient ascent: a random start drawn as :func:`defstab_lib.deform.sample_displacements`
draws a random deformation, then ``steps`` steps ``d <- clip(d + alpha_t sign(grad), -C, C)``.  The result is
the best iterate per image (so it is never worse than its own random start), with the objective at every iterate.

*Why sign steps.*  The box is an L-infinity ball, and the sign of the gradient is the steepest-ascent direction for
that norm (Madry et al. 2018's PGD); a sign step is also blind to the gradient's scale, which spans orders of
magnitude between layers, models and epochs, so one schedule serves all of them without tuning.  A step normalised
by the gradient's largest entry moves mostly the few coordinates with large gradients, and did worse in our trials.

*Why a decaying step.*  ``alpha_t`` falls geometrically from ``C`` (the first step can jump across the box, to
the faces and corners where sign ascent's maxima tend to lie) to ``C / 10`` at the last step (refining).  On a
random smoke-width CIFAR network (16 Fashion-MNIST images, 10 steps, against each image's best of 20 random
deformations) it won on 15, 14 and 14 of 16 images at layers 1, 8 and 12 (mean per-image ratio 1.47, 1.27, 1.29),
where Madry et al.'s constant step ``2.5 C / steps`` won on 15, 10 and 12 (1.44, 1.17, 1.16).  ``step_size``
sets a constant step instead.

The thin-plate spline can overshoot the box between control points (:func:`defstab_lib.deform.overshoot_bound`):
the budget bounds the control displacements exactly, the dense field to within that factor -- as for the random
deformations, which is what makes the two comparable.

**Smallest label flip** (:func:`adef`), after ADef (Alaifari, Alberti & Gauksson 2019): a DeepFool iteration on the
control displacements.  With ``l`` the clean prediction and ``f_k = F_k - F_l`` the logit margins, each step
linearises every ``f_k`` in ``d`` and takes the smallest step that brings the nearest one to zero, times
``1 + overshoot``, until the prediction changes or ``max_steps`` is reached.  ``norm="linf"`` (default) measures
the step in the budget's own norm (the smallest ``max_kc |d_kc|``: step ``|f_k| sign(g_k) / ||g_k||_1``), so the
result is directly the smallest box ``C`` that holds a flipping deformation along the path; ``norm="l2"`` is
DeepFool's Euclidean step ``|f_k| g_k / ||g_k||_2^2``.  On a small network trained briefly on Fashion-MNIST (64 test
images, limit 16 px) ``"linf"`` flipped 63 labels (median ``||tau||_inf`` 1.00 px) and ``"l2"`` 60 (0.87 px over
its flips).  Where the nearest margin fails to shrink after a step (bilinear sampling is only piecewise linear in
``d``, with kinks at whole-pixel offsets, and ``d`` starts on them), that image's next step is doubled until it
does, so near-ties do not stall the iteration.  Each flip is reported with the size of its dense field in
pixels, ``||tau||_inf = max_p |tau(p)|`` (Euclidean length, :func:`defstab_lib.deform.field_norms`), ADef's
measure.

Both run the model in eval mode (BatchNorm with running statistics, so images do not interact; the model's
train/eval flags are restored), take gradients with respect to the displacements only (parameters' ``.grad`` are
left alone), batch over images (``batch_size`` images at a time), and follow the images' device and dtype.  Bad
input raises ``TypeError``/``ValueError`` naming the argument before any gradient step, including a model through
which no gradient reaches the input (checked on a one-image forward pass).
"""

from __future__ import annotations

import dataclasses
import math
import numbers

import torch
import torch.nn.functional as F
from torch import nn

from . import probe
from ._random import check_generator
from .checks import check_tensor, choice, nonnegative_float, positive_int
from .deform import FILLS, apply_displacements, displacement_field, field_norms, sample_displacements
from .metrics import median_pairwise_distance, paired_distances
from .probe import LayerKey

__all__ = ["OBJECTIVES", "NORMS", "WorstCase", "LabelFlip", "deformation_objective", "worst_case", "adef"]

#: What :func:`worst_case` maximises.
OBJECTIVES: tuple[str, ...] = ("cosine", "euclidean", "loss")

#: How :func:`adef` measures a step.
NORMS: tuple[str, ...] = ("linf", "l2")


@dataclasses.dataclass
class WorstCase:
    """What :func:`worst_case` found.

    Attributes:
        deformed: ``(B, C, H, W)`` the images deformed by ``displacements`` (device and dtype of the input).
        displacements: ``(B, K, 2)`` control displacements in pixels, ``|d| <= C`` per coordinate.
        objective: ``(steps + 1, B)`` float64 on the CPU: the objective at every iterate, row 0 the random start.
        final: ``(B,)`` float64 on the CPU: the objective at ``displacements`` (the maximum of each column).
        normaliser: the median distance ``m`` the distances were divided by (``None`` for ``"loss"``).
    """

    deformed: torch.Tensor
    displacements: torch.Tensor
    objective: torch.Tensor
    final: torch.Tensor
    normaliser: float | None


@dataclasses.dataclass
class LabelFlip:
    """What :func:`adef` found.

    Attributes:
        deformed: ``(B, C, H, W)`` the images deformed by ``displacements``.
        displacements: ``(B, K, 2)`` control displacements in pixels (the last iterate where no flip was found).
        flipped: ``(B,)`` bool: the prediction on ``deformed`` differs from the clean one.
        max_displacement: ``(B,)`` float64 on the CPU, pixels: ``||tau||_inf`` of the dense field (a lower bound
            on the flipping size, not a size, where ``flipped`` is False).
        budget: ``(B,)`` float64 on the CPU, pixels: ``max_kc |d_kc|``, the smallest box ``C`` holding the field.
        steps: ``(B,)`` int64: DeepFool steps taken.
        original, predicted: ``(B,)`` int64: the clean prediction and the prediction on ``deformed``.
    """

    deformed: torch.Tensor
    displacements: torch.Tensor
    flipped: torch.Tensor
    max_displacement: torch.Tensor
    budget: torch.Tensor
    steps: torch.Tensor
    original: torch.Tensor
    predicted: torch.Tensor


# --------------------------------------------------------------------------------------------------- checks


def _check_model_images(model, images) -> torch.Tensor:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    check_tensor("images", images, "B C H W", finite=True)
    if images.shape[0] < 1:
        raise ValueError(f"images must hold at least one image, got shape {tuple(images.shape)}")
    low, high = float(images.min()), float(images.max())
    if low < 0 or high > 1:
        raise ValueError(f"images must lie in [0, 1] (the deformations' box assumes it), got values in "
                         f"[{low:.4g}, {high:.4g}]")
    parameter = next(model.parameters(), None)
    if parameter is not None and parameter.device != images.device:
        raise ValueError(f"model is on {parameter.device} but images are on {images.device}; move one of them")
    return images


def _check_fill(fill):
    if isinstance(fill, str):
        return choice("fill", fill, FILLS)
    if isinstance(fill, bool) or not isinstance(fill, numbers.Real) or not math.isfinite(fill):
        raise TypeError(f"fill must be one of {', '.join(map(repr, FILLS))} or a finite number, got {fill!r}")
    return float(fill)


def _check_budget(max_displacement, images: torch.Tensor) -> float:
    c = nonnegative_float("max_displacement", max_displacement, strict=True)
    size = min(images.shape[-2:])
    if c >= size:
        raise ValueError(f"max_displacement must be smaller than the image size {size} px, got {max_displacement!r}")
    return c


def _check_layer(model: nn.Module, layer, objective: str) -> LayerKey | None:
    if objective == "loss":
        if layer is not None:
            raise ValueError(f"layer must be None for objective='loss' (the loss is at the output), got {layer!r}")
        return None
    if layer is None:
        raise ValueError(f"layer must name a layer for objective={objective!r} (an int layer number of a "
                         "defstab_lib VGG, or a submodule name)")
    return probe.resolve_layers(model, [layer])[0]


def _output(model: nn.Module, x: torch.Tensor, layer: LayerKey | None) -> torch.Tensor:
    return model(x) if layer is None else probe.representations(model, x, [layer])[0]


def _check_differentiable(model: nn.Module, images: torch.Tensor, layer: LayerKey | None) -> torch.Tensor:
    """One forward and backward pass on one image; returns the output (for its shape)."""
    x = images[:1].detach().clone().requires_grad_(True)
    where = "the output" if layer is None else f"layer {layer!r}"
    with torch.enable_grad():
        out = _output(model, x, layer)
        grad = None
        if isinstance(out, torch.Tensor) and out.requires_grad:
            (grad,) = torch.autograd.grad(out.sum(), x, allow_unused=True)
    if grad is None:
        raise ValueError(
            f"model is not differentiable in its input: no gradient reaches the images from {where} (an integer "
            "cast, .detach() or torch.no_grad inside the forward pass?); a gradient search needs one"
        )
    return out.detach()


def _check_labels(labels, images: torch.Tensor, num_classes: int) -> torch.Tensor:
    if labels is None:
        raise ValueError("labels must be given for objective='loss': a (B,) int64 tensor of class indices")
    check_tensor("labels", labels, "B", floating=False)
    if labels.dtype != torch.int64:
        raise TypeError(f"labels must be an int64 tensor of class indices, got dtype {labels.dtype}")
    if labels.device != images.device:
        raise ValueError(f"labels are on {labels.device} but the images are on {images.device}")
    batch = images.shape[0]
    if labels.shape[0] != batch:
        raise ValueError(f"labels must have one entry per image ({batch}), got {labels.shape[0]}")
    if batch and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise ValueError(f"labels must be class indices in [0, {num_classes}), got values in "
                         f"[{int(labels.min())}, {int(labels.max())}]")
    return labels


def _check_normaliser(normaliser) -> float | None:
    return None if normaliser is None else nonnegative_float("normaliser", normaliser, strict=True)


def _chunks(batch: int, batch_size: int | None) -> list[slice]:
    size = batch if batch_size is None else positive_int("batch_size", batch_size)
    return [slice(start, min(start + size, batch)) for start in range(0, batch, size)]


# ------------------------------------------------------------------------------------------------ objective


def _flat_reps(model: nn.Module, images: torch.Tensor, layer: LayerKey, chunks: list[slice]) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([_output(model, images[s], layer).flatten(1) for s in chunks])


def _value(model, images, displacements, layer, metric, clean, normaliser, labels, fill) -> torch.Tensor:
    """The per-image objective ``(b,)`` float64 (differentiable in ``displacements``)."""
    out = _output(model, apply_displacements(images, displacements, fill=fill), layer)
    if metric == "loss":
        return F.cross_entropy(out.to(torch.float64), labels, reduction="none")
    return paired_distances(clean, out.flatten(1), metric) / normaliser


def _prepare(model, images, layer, objective, labels, normaliser, chunks):
    """Clean representations and the normaliser (distance objectives), or checked labels (the loss)."""
    if objective != "loss":
        if labels is not None:
            raise ValueError(f"labels are used only by objective='loss', not {objective!r}; leave them None")
        if normaliser is None and images.shape[0] < 2:
            raise ValueError("images must hold at least 2 images to compute the normaliser (the median distance "
                             "between different images); give normaliser= for a single image")
    out = _check_differentiable(model, images, layer)
    if objective == "loss":
        return None, None, _check_labels(labels, images, out.shape[-1])
    clean = _flat_reps(model, images, layer, chunks)
    if normaliser is None:
        normaliser = median_pairwise_distance(clean, objective)
        if normaliser == 0:
            raise ValueError(f"the median {objective} distance between different images at layer {layer!r} is 0: "
                             "the normalised distance is undefined there")
    return clean, float(normaliser), None


def deformation_objective(
    model: nn.Module,
    images: torch.Tensor,
    displacements: torch.Tensor,
    *,
    layer: LayerKey | None = None,
    objective: str = "cosine",
    labels: torch.Tensor | None = None,
    normaliser: float | None = None,
    fill: str | float = "reflection",
) -> torch.Tensor:
    """The objective :func:`worst_case` maximises, for given control displacements (eval mode; differentiable).

    Use it to score random deformations on the same footing as the worst case, or to check gradients.

    Args:
        model: any ``nn.Module`` on the images' device (a :class:`~defstab_lib.models.VGG` for numbered layers).
        images: ``(B, C, H, W)`` clean images in ``[0, 1]``.
        displacements: ``(B, K, 2)`` control displacements in pixels.
        layer: the layer key (:mod:`defstab_lib.probe`) for ``"cosine"``/``"euclidean"``; ``None`` for ``"loss"``.
        objective: one of :data:`OBJECTIVES`.
        labels: ``(B,)`` int64 class indices, for ``"loss"`` only.
        normaliser: the median distance to divide by; ``None``: computed from ``images`` (``B >= 2``).
        fill: see :func:`defstab_lib.deform.warp`.

    Returns:
        ``(B,)`` float64 on the images' device: the normalised distance (dimensionless) or the cross-entropy
        (nats) per image, differentiable with respect to ``displacements``.

    >>> from defstab_lib.models import make_vgg
    >>> model = make_vgg("1x4, 1x8", in_channels=1, generator=torch.Generator().manual_seed(0))
    >>> x = torch.rand(4, 1, 16, 16, generator=torch.Generator().manual_seed(1))
    >>> deformation_objective(model, x, torch.zeros(4, 9, 2), layer=2).abs().max().item() < 1e-6
    True
    """
    choice("objective", objective, OBJECTIVES)
    images = _check_model_images(model, images)
    check_tensor("displacements", displacements, "B K 2")
    fill = _check_fill(fill)
    normaliser = _check_normaliser(normaliser)
    with probe.eval_mode(model, grad=True):
        layer = _check_layer(model, layer, objective)
        chunks = _chunks(images.shape[0], None)
        clean, normaliser, labels = _prepare(model, images, layer, objective, labels, normaliser, chunks)
        return _value(model, images, displacements, layer, objective, clean, normaliser, labels, fill)


# ----------------------------------------------------------------------------------------------- worst case


def worst_case(
    model: nn.Module,
    images: torch.Tensor,
    grid: int,
    max_displacement: float,
    *,
    layer: LayerKey | None = None,
    objective: str = "cosine",
    labels: torch.Tensor | None = None,
    steps: int = 10,
    step_size: float | None = None,
    normaliser: float | None = None,
    generator: torch.Generator | None = None,
    fill: str | float = "reflection",
    batch_size: int | None = None,
) -> WorstCase:
    """The most damaging deformation of each image within the budget box, by projected gradient ascent.

    See the module's docstring for the objective and the step rule.  The random start is one
    :func:`~defstab_lib.deform.sample_displacements` draw for the whole batch (so ``batch_size`` does not change
    it), and ``steps`` sign-gradient steps follow; each step costs one forward and one backward pass of the model
    up to ``layer`` on the deformed images.

    Args:
        model: any ``nn.Module`` on the images' device, differentiable in its input.
        images: ``(B, C, H, W)`` clean images in ``[0, 1]``; ``B >= 2`` unless ``normaliser`` is given.
        grid: control points per side (>= 2): the paper's 3 at 32x32, 5 at 224x224.
        max_displacement: the budget ``C`` in pixels, ``0 < C < min(H, W)``: the paper's 2 at 32x32, 10 at 224x224.
        layer: the layer key for ``"cosine"``/``"euclidean"`` (an int of a defstab VGG, or a submodule name);
            ``None`` for ``"loss"``.
        objective: one of :data:`OBJECTIVES`.
        labels: ``(B,)`` int64 class indices, for ``"loss"`` only.
        steps: gradient steps (>= 1).
        step_size: a constant step ``alpha`` in pixels (> 0); default (``None``): ``C * 0.1 ** (t / (steps - 1))``
            at step ``t = 0..steps-1``.
        normaliser: the median distance ``m`` to divide by (e.g. the sensitivity profile's median over the full
            probe); ``None``: the median over the pairs of ``images``.
        generator: the source of the random start, on the images' device (``None``: fresh OS-seeded).
        fill: see :func:`defstab_lib.deform.warp`.
        batch_size: images optimised at once (``None``: all); the result does not depend on it.

    Returns:
        a :class:`WorstCase`.

    Raises:
        TypeError, ValueError: bad input (named), before any gradient step.

    >>> from defstab_lib.models import make_vgg
    >>> model = make_vgg("1x4, 1x8", in_channels=1, generator=torch.Generator().manual_seed(0))
    >>> x = torch.rand(4, 1, 16, 16, generator=torch.Generator().manual_seed(1))
    >>> found = worst_case(model, x, 3, 2.0, layer=2, steps=3, generator=torch.Generator().manual_seed(2))
    >>> found.displacements.shape, found.objective.shape, bool(found.displacements.abs().max() <= 2.0)
    (torch.Size([4, 9, 2]), torch.Size([4, 4]), True)
    >>> bool((found.final >= found.objective[0]).all())
    True
    """
    choice("objective", objective, OBJECTIVES)
    images = _check_model_images(model, images)
    grid = positive_int("grid", grid, minimum=2)
    c = _check_budget(max_displacement, images)
    steps = positive_int("steps", steps)
    if step_size is None:
        alpha = [c * 0.1 ** (t / max(steps - 1, 1)) for t in range(steps)]
    else:
        alpha = [nonnegative_float("step_size", step_size, strict=True)] * steps
    fill = _check_fill(fill)
    normaliser = _check_normaliser(normaliser)
    generator = check_generator(generator, images.device)
    chunks = _chunks(images.shape[0], batch_size)
    with probe.eval_mode(model, grad=True):
        layer = _check_layer(model, layer, objective)
        clean, normaliser, labels = _prepare(model, images, layer, objective, labels, normaliser, chunks)
        start = sample_displacements(images.shape[0], grid, c, generator=generator, device=images.device,
                                     dtype=images.dtype)
        history = torch.empty(steps + 1, images.shape[0], dtype=torch.float64)
        best = torch.empty_like(start)
        for s in chunks:
            best[s], history[:, s] = _ascend(
                model, images[s], start[s], layer, objective, None if clean is None else clean[s], normaliser,
                None if labels is None else labels[s], fill, c, alpha, steps)
        with torch.no_grad():
            deformed = apply_displacements(images, best, fill=fill)
    return WorstCase(deformed=deformed, displacements=best, objective=history, final=history.amax(dim=0),
                     normaliser=normaliser)


def _ascend(model, images, d, layer, metric, clean, normaliser, labels, fill, c, alpha, steps):
    """Projected sign-gradient ascent for one chunk: the best iterate ``(b, K, 2)`` and the history."""
    history = torch.empty(steps + 1, images.shape[0], dtype=torch.float64)
    best, best_value = d.clone(), torch.full((images.shape[0],), -torch.inf, dtype=torch.float64)
    for t in range(steps + 1):
        last = t == steps
        with torch.set_grad_enabled(not last):
            d = d.detach().requires_grad_(not last)
            value = _value(model, images, d, layer, metric, clean, normaliser, labels, fill)
        history[t] = value.detach().cpu()
        better = history[t] > best_value
        best_value = torch.where(better, history[t], best_value)
        best[better.to(best.device)] = d.detach()[better.to(best.device)]
        if not last:
            (grad,) = torch.autograd.grad(value.sum(), d)
            d = (d.detach() + alpha[t] * grad.sign()).clamp_(-c, c)
    return best, history


# ---------------------------------------------------------------------------------------------------- ADef


def adef(
    model: nn.Module,
    images: torch.Tensor,
    grid: int,
    *,
    max_steps: int = 50,
    overshoot: float = 0.02,
    norm: str = "linf",
    limit: float | None = None,
    fill: str | float = "reflection",
    batch_size: int | None = None,
) -> LabelFlip:
    """The smallest thin-plate-spline deformation found that changes each image's predicted class (ADef-style).

    Starting from no deformation, each step linearises the logit margins ``f_k = F_k - F_l`` (``l`` the clean
    prediction) in the control displacements and moves by ``1 + overshoot`` times the smallest step that zeroes
    the nearest margin (see the module's docstring), until the prediction changes or ``max_steps`` steps were
    taken.  Each step costs one forward pass and one backward pass per class.

    Args:
        model: a classifier ``(B, C, H, W) -> (B, classes)`` on the images' device, differentiable in its input.
        images: ``(B, C, H, W)`` clean images in ``[0, 1]``.
        grid: control points per side (>= 2).
        max_steps: the most DeepFool steps per image (>= 1).
        overshoot: the step's excess over the linearised boundary (>= 0; DeepFool's 0.02).
        norm: one of :data:`NORMS`: the norm in which each step is smallest.
        limit: give up on an image (not flipped) rather than take a step past ``max_kc |d_kc| > limit`` pixels;
            default half the images' smaller side (an untrained network, whose logits hardly depend on the
            input, would otherwise be pushed to absurd fields).
        fill: see :func:`defstab_lib.deform.warp`.
        batch_size: images at once (``None``: all).

    Returns:
        a :class:`LabelFlip`; ``max_displacement`` is the flip's size in pixels.

    >>> from defstab_lib.models import make_vgg
    >>> model = make_vgg("1x4, 1x8", in_channels=1, generator=torch.Generator().manual_seed(0))
    >>> x = torch.rand(2, 1, 16, 16, generator=torch.Generator().manual_seed(1))
    >>> flip = adef(model, x, 3, max_steps=5)
    >>> flip.displacements.shape, flip.max_displacement.shape, flip.flipped.dtype
    (torch.Size([2, 9, 2]), torch.Size([2]), torch.bool)
    """
    images = _check_model_images(model, images)
    grid = positive_int("grid", grid, minimum=2)
    max_steps = positive_int("max_steps", max_steps)
    overshoot = nonnegative_float("overshoot", overshoot)
    choice("norm", norm, NORMS)
    limit = min(images.shape[-2:]) / 2 if limit is None else nonnegative_float("limit", limit, strict=True)
    fill = _check_fill(fill)
    chunks = _chunks(images.shape[0], batch_size)
    batch = images.shape[0]
    d = torch.zeros(batch, grid * grid, 2, device=images.device, dtype=images.dtype)
    steps = torch.zeros(batch, dtype=torch.int64)
    original = torch.empty(batch, dtype=torch.int64)
    predicted = torch.empty(batch, dtype=torch.int64)
    with probe.eval_mode(model, grad=True):
        _check_differentiable(model, images, None)
        for s in chunks:
            d[s], steps[s], original[s], predicted[s] = _deepfool(model, images[s], d[s], max_steps, overshoot,
                                                                 norm, fill, limit)
        with torch.no_grad():
            deformed = apply_displacements(images, d, fill=fill)
    size = field_norms(displacement_field(d.detach(), tuple(images.shape[-2:])))[0]
    return LabelFlip(
        deformed=deformed, displacements=d, flipped=predicted != original,
        max_displacement=size.to(torch.float64).cpu(), budget=d.abs().amax(dim=(1, 2)).to(torch.float64).cpu(),
        steps=steps, original=original, predicted=predicted,
    )


def _deepfool(model, images, d, max_steps, overshoot, norm, fill, limit):
    """DeepFool on one chunk: final displacements, steps taken, clean and final predictions (CPU int64)."""
    b = images.shape[0]
    with torch.no_grad():
        original = model(images).argmax(dim=1)
    predicted = original.clone()
    steps = torch.zeros(b, dtype=torch.int64, device=images.device)
    active = torch.ones(b, dtype=torch.bool, device=images.device)
    gap = torch.full((b,), torch.inf, dtype=torch.float64, device=images.device)  # smallest margin so far
    boost = torch.full((b,), 1.0 + overshoot, dtype=torch.float64, device=images.device)
    for t in range(max_steps + 1):
        index = active.nonzero().squeeze(1)
        if index.numel() == 0:
            break
        di = d[index].detach().requires_grad_(t < max_steps)
        with torch.set_grad_enabled(t < max_steps):
            logits = model(apply_displacements(images[index], di, fill=fill)).to(torch.float64)
        now = logits.argmax(dim=1)
        predicted[index] = now
        moving = now == original[index]
        active[index[~moving]] = False
        if t == max_steps or not bool(moving.any()):
            break
        step, now_gap = _deepfool_step(logits, di, original[index], norm)
        # Where the nearest margin did not shrink, the linearisation failed (bilinear sampling is only piecewise
        # linear in d, with kinks at whole-pixel offsets, and d starts on them): double the step until it does.
        grew = now_gap >= gap[index]
        boost[index] = torch.where(grew, (2 * boost[index]).clamp(max=2.0**10), 1.0 + overshoot)
        gap[index] = torch.minimum(gap[index], now_gap)
        new = di.detach().to(torch.float64) + boost[index].view(-1, 1, 1) * step
        # no finite step (no margin depends on d), or one past the limit: give up on that image
        stuck = ~torch.isfinite(new).flatten(1).all(dim=1) | (new.abs().amax(dim=(1, 2)) > limit)
        go = moving & ~stuck
        active[index[moving & stuck]] = False
        d[index[go]] = new[go].to(d.dtype)
        steps[index[go]] += 1
    return d, steps.cpu(), original.cpu(), predicted.cpu()


def _deepfool_step(logits: torch.Tensor, d: torch.Tensor, labels: torch.Tensor, norm: str):
    """The smallest step ``(b, K, 2)`` (float64) that zeroes the nearest linearised margin of each image, and the
    smallest margin ``min_{k != l} |f_k|`` ``(b,)``."""
    b, classes = logits.shape
    grads = torch.stack([
        torch.autograd.grad(logits[:, k].sum(), d, retain_graph=k < classes - 1)[0].to(torch.float64)
        for k in range(classes)
    ], dim=1)  # (b, classes, K, 2): dF_k / dd per image (images do not interact in eval mode)
    rows = torch.arange(b, device=logits.device)
    logits = logits.detach()
    margin = (logits - logits[rows, labels][:, None]).abs()  # |f_k|, 0 at k = l
    g = (grads - grads[rows, labels][:, None]).flatten(2)  # (b, classes, 2K)
    dual = g.abs().sum(-1) if norm == "linf" else g.norm(dim=-1)  # ||g||_1 or ||g||_2
    distance = torch.where(dual > 0, margin / dual, torch.inf)
    distance[rows, labels] = torch.inf
    k = distance.argmin(dim=1)
    gk, fk, dk = g[rows, k], margin[rows, k], dual[rows, k]
    direction = gk.sign() if norm == "linf" else gk / dk[:, None]
    step = (fk / dk)[:, None] * direction
    step[~torch.isfinite(distance[rows, k])] = torch.inf
    margin[rows, labels] = torch.inf
    return step.view_as(d), margin.amin(dim=1)
