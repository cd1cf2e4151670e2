"""Measurement protocol 2: what a run measures besides protocol 1, when, and how it is stored compactly.

A protocol-2 run (``ProbeConfig(protocol=2)``) stores, in every :class:`~defstab_lib.runs.store.Measurement`,
protocol 1's per-layer fields (``cosine``, ``euclidean``: the deformation distance D, normalised; ``noise_cosine``:
the noise distance G, normalised; ``smoothness``: filter TV; accuracies and losses) and, in its ``v2``
(:class:`~defstab_lib.runs.records.Protocol2Fields`, stored flat beside them):

- ``noise_euclidean``: G in Euclidean distance; ``median_cosine``, ``median_euclidean``: the normaliser (median
  distance between *different* probe images) per layer, on its own.  R = D / G is
  :attr:`~defstab_lib.runs.store.Measurement.relative_stability` (the medians cancel);
- ``worst_case``: the worst case at the paper's budget (:data:`WORST_GRID` x :data:`WORST_GRID` control points,
  C = the probe's strength, :data:`WORST_STEPS` steps of :func:`defstab_lib.worstcase.worst_case`) on the first
  :data:`WORST_IMAGES` probe images, normalised by the random profile's own median over the whole probe, beside
  the random probe deformations' sensitivity on the same images; and the cross-entropy under the worst case
  (objective ``"loss"``) beside that under the random deformations and on the clean images;
- ``sine``: Petrini et al.'s relative stability at the output, ``R_f = D_f / G_f``, from max-entropy sine-mode
  fields (cut-off :data:`SINE_CUTOFF`, typical displacement :data:`SINE_DISPLACEMENT` px) on the whole probe,
  with their noise-matched control; ``D_f`` and ``G_f`` are mean squared Euclidean distances of the logits over
  the mean squared distance between different probe images' logits (their definition).

At initialisation and at the end (a *full* measurement) also, rounded to :data:`DIGITS` significant digits:

- ``per_image``: the raw per-image distances ``(layers, N)`` for D and G in both metrics (so confidence intervals
  can resample probe images);
- ``worst_case`` at every layer of :func:`worst_layers` and per image;
- ``translations``: the change of every layer under whole-pixel translations of the first ``bound_images`` probe
  images (:func:`defstab_lib.translations.translation_sweep`, the kernel view's translations), in the layout of
  ``Measurement.bound`` (:func:`translation_record` hands them to the kernel view, which then needs no checkpoints);
- at the end only, ``adef``: the smallest label-flipping thin-plate-spline deformation found by
  :func:`defstab_lib.worstcase.adef` (at most :data:`ADEF_STEPS` DeepFool steps) for the first
  :data:`WORST_IMAGES` probe images: its size ``||tau||_inf`` in pixels, whether it flipped, and whether the clean
  prediction was right.

In between (a *light* measurement: after 1/8, 1/4 and 1/2 of the first epoch, :data:`FRACTIONS`, and after every
epoch of ``measure_epochs``) the worst case is measured at the last layer and for the loss only, without per-image
values, and accuracy and loss are evaluated on the first :data:`TRAJECTORY_EVAL` training and test images only
(``eval_images`` says on how many).  Costs are in ``benchmarks/bench_protocol.py``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .. import probe as probe_module
from ..metrics import SensitivityProfile, change_sweep, noise_matched
from ..sinemodes import sine_deform, temperature_for_displacement, temperature_range
from ..translations import TRANSLATION_LENGTHS, TRANSLATION_SEED_OFFSET, translation_sweep
from ..worstcase import adef, worst_case

__all__ = [
    "FRACTIONS", "TRAJECTORY_EVAL", "WORST_IMAGES", "WORST_STEPS", "WORST_GRID", "SINE_CUTOFF", "SINE_DISPLACEMENT", "ADEF_STEPS",
    "DIGITS", "round_sig", "worst_layers", "log_epochs", "sine_probe", "translation_probe", "per_image",
    "worst_case_summary", "sine_stability", "translation_changes", "label_flips", "require_protocol_2",
    "translation_record",
]

#: Fractions of the first epoch after which a protocol-2 run measures (besides initialisation and whole epochs).
FRACTIONS: tuple[float, ...] = (0.125, 0.25, 0.5)
#: Probe images of the worst-case and ADef measurements (the first ones of the probe).
WORST_IMAGES = 32
#: Gradient steps of each worst case.
WORST_STEPS = 10
#: Control points per side of the worst cases (the paper's CIFAR setting, as the random probe deformations).
WORST_GRID = 3
#: Cut-off and typical displacement (pixels) of the sine-mode fields.
SINE_CUTOFF, SINE_DISPLACEMENT = 3, 1.0
#: DeepFool steps of the label-flip search.
ADEF_STEPS = 10
#: Training and test images on which a light measurement evaluates accuracy and loss (the first ones of the run's
#: evaluation sets; a full one uses all): evaluating 5,000 + 5,000 images costs about a third of a cpu-profile epoch.
TRAJECTORY_EVAL = 1000
#: Significant digits of the stored per-image values.
DIGITS = 4
#: Seed offsets (from the probe's seed) of the protocol's random draws.
SINE_SEED, SINE_NOISE_SEED, WORST_SEED = 3, 4, 5


def round_sig(values: Any, digits: int = DIGITS) -> Any:
    """Nested lists (or a tensor) of numbers rounded to ``digits`` significant digits (non-finite kept).

    >>> round_sig([[0.000123456, 12345.6], [float("nan"), 0.0]])
    [[0.0001235, 12350.0], [nan, 0.0]]
    """
    if isinstance(values, torch.Tensor):
        values = values.tolist()
    if isinstance(values, (list, tuple)):
        return [round_sig(v, digits) for v in values]
    value = float(values)
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, digits - 1 - math.floor(math.log10(abs(value))))


def worst_layers(num_layers: int) -> list[int]:
    """The layers of a full worst-case measurement: a third, two thirds and the last of ``num_layers`` numbered
    layers (4, 8, 12 for the CIFAR network's 13); the light measurements use the last alone.

    >>> worst_layers(13)
    [4, 8, 12]
    """
    return sorted({max(1, (num_layers - 1) // 3), max(1, 2 * (num_layers - 1) // 3), num_layers - 1})


def log_epochs(epochs: int) -> tuple[int, ...]:
    """Whole epochs of a dense trajectory below ``epochs``: 1, 2, 4, 8, ... (the end is always measured).

    >>> log_epochs(12)
    (1, 2, 4, 8)
    """
    return tuple(2**k for k in range(max(0, epochs - 1).bit_length()) if 2**k < epochs)


def sine_probe(images: torch.Tensor, seed: int) -> tuple[torch.Tensor, torch.Tensor, float]:
    """The probe's fixed sine-mode deformations and their noise-matched control.

    Args:
        images: ``(N, C, n, n)`` probe images in ``[0, 1]`` (on the CPU).
        seed: the probe's seed (the fields are drawn with ``seed + 3``, the noise with ``seed + 4``).

    Returns:
        ``(deformed, noisy, temperature)``: two ``(N, C, n, n)`` tensors and the temperature T of the fields
        (typical displacement :data:`SINE_DISPLACEMENT` px at cut-off :data:`SINE_CUTOFF`).

    Raises:
        ValueError: T lies outside Petrini et al.'s range (images too small or too large for that displacement).
    """
    n = images.shape[-1]
    temperature = temperature_for_displacement(SINE_DISPLACEMENT, SINE_CUTOFF, n)
    low, high = temperature_range(n, SINE_CUTOFF)
    if not low <= temperature <= high:
        raise ValueError(f"a typical sine-mode displacement of {SINE_DISPLACEMENT} px on {n}x{n} images needs T = "
                         f"{temperature:.3g}, outside Petrini et al.'s range [{low:.3g}, {high:.3g}]")
    deformed, _ = sine_deform(images, temperature, SINE_CUTOFF, generator=torch.Generator().manual_seed(seed + SINE_SEED))
    noisy = noise_matched(images, deformed, generator=torch.Generator().manual_seed(seed + SINE_NOISE_SEED))
    return deformed, noisy, temperature


def translation_probe(images: torch.Tensor, seed: int):
    """The whole-pixel translations of ``images`` ``(M, C, H, W)`` by :data:`~defstab_lib.translations.
    TRANSLATION_LENGTHS` px, drawn as the kernel view draws them (``seed + TRANSLATION_SEED_OFFSET``)."""
    return translation_sweep(images, TRANSLATION_LENGTHS,
                             generator=torch.Generator().manual_seed(seed + TRANSLATION_SEED_OFFSET))


def per_image(profile: SensitivityProfile) -> dict[str, list]:
    """The raw per-image distances of a profile, ``(layers, N)`` each, rounded (keys: ``cosine``,
    ``euclidean``, ``noise_cosine``, ``noise_euclidean``)."""
    return {"cosine": round_sig(profile.cosine_deformed), "euclidean": round_sig(profile.euclidean_deformed),
            "noise_cosine": round_sig(profile.cosine_noise), "noise_euclidean": round_sig(profile.euclidean_noise)}


def _loss(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    with probe_module.eval_mode(model):
        return F.cross_entropy(model(images).to(torch.float64), labels, reduction="none").cpu()


def worst_case_summary(model: nn.Module, images: torch.Tensor, deformed: torch.Tensor, labels: torch.Tensor,
                       profile: SensitivityProfile, layers: Sequence[int], *, grid: int, budget: float, seed: int,
                       full: bool) -> dict[str, Any]:
    """Worst-case vs random sensitivity at ``layers`` and for the loss, on ``images`` ``(M, C, H, W)``.

    Args:
        model: the network (eval mode is set and restored).
        images, deformed: the first ``M`` probe images and their random probe deformations.
        labels: ``(M,)`` int64 true labels.
        profile: the random profile over the whole probe (its medians normalise the worst case; its first ``M``
            per-image distances are the random sensitivity of the same images).
        layers: numbered layers.
        grid, budget: the worst case's control points per side and box ``C`` (pixels).
        seed: seed of the random starts (the same start at every measurement).
        full: also store per-image values.

    Returns:
        ``{"layers", "grid", "budget", "steps", "images", "worst", "random"}`` (per layer, the mean normalised
        cosine distance over the images) and ``"loss_worst"``, ``"loss_random"``, ``"loss_clean"`` (mean
        cross-entropy, nats); with ``full``, ``"worst_per_image"``, ``"random_per_image"`` ``(layers, M)`` and
        ``"loss_*_per_image"`` ``(M,)``.
    """
    m = images.shape[0]
    out: dict[str, Any] = {"layers": list(layers), "grid": grid, "budget": budget, "steps": WORST_STEPS,
                           "images": m}
    worst, random = [], []
    for layer in layers:
        index = profile.layers.index(layer)
        found = worst_case(model, images, grid, budget, layer=layer, steps=WORST_STEPS,
                           normaliser=float(profile.cosine_median[index]),
                           generator=torch.Generator(images.device).manual_seed(seed + WORST_SEED))
        worst.append(found.final)
        random.append(profile.cosine_deformed[index, :m] / profile.cosine_median[index])
    out["worst"] = round_sig([float(w.mean()) for w in worst])
    out["random"] = round_sig([float(r.mean()) for r in random])
    found = worst_case(model, images, grid, budget, objective="loss", labels=labels, steps=WORST_STEPS,
                       generator=torch.Generator(images.device).manual_seed(seed + WORST_SEED))
    losses = {"worst": found.final, "random": _loss(model, deformed, labels), "clean": _loss(model, images, labels)}
    for name, value in losses.items():
        out[f"loss_{name}"] = round_sig(float(value.mean()))
    if full:
        out["worst_per_image"] = round_sig(torch.stack(worst))
        out["random_per_image"] = round_sig(torch.stack(random))
        for name, value in losses.items():
            out[f"loss_{name}_per_image"] = round_sig(value)
    return out


def sine_stability(model: nn.Module, images: torch.Tensor, deformed: torch.Tensor, noisy: torch.Tensor,
                   temperature: float, batch_size: int = 128) -> dict[str, float]:
    """Petrini et al.'s ``D_f``, ``G_f`` and ``R_f = D_f / G_f`` at the output (logits), with the fields' T.

    ``D_f = <||f(tau x) - f(x)||^2> / <||f(x) - f(z)||^2>`` and ``G_f`` the same with ``x + eta`` (noise of the
    norm of ``tau x - x``), the denominator over pairs of different images ``x != z``.
    """
    with probe_module.eval_mode(model):
        outs = [torch.cat([model(x[i:i + batch_size]) for i in range(0, x.shape[0], batch_size)]).to(torch.float64)
                for x in (images, deformed, noisy)]
    clean, moved, noise = outs
    n = clean.shape[0]
    pairs = torch.cdist(clean, clean).pow(2).sum() / (n * (n - 1))
    d_f = float(((moved - clean).pow(2).sum(1).mean() / pairs).cpu())
    g_f = float(((noise - clean).pow(2).sum(1).mean() / pairs).cpu())
    return {"temperature": round_sig(temperature), "cutoff": SINE_CUTOFF, "displacement": SINE_DISPLACEMENT,
            "D_f": round_sig(d_f), "G_f": round_sig(g_f), "R_f": round_sig(d_f / g_f if g_f > 0 else math.nan)}


def translation_changes(model: nn.Module, images: torch.Tensor, sweep) -> dict[str, list]:
    """The translation sweep's layer changes ``(S, L, M)``, rounded, in the layout of ``Measurement.bound``."""
    layers = probe_module.default_layers(model)
    changes = change_sweep(model, images, [s[1] for s in sweep], layers)["change"]
    return {"strengths": [s[0] for s in sweep], "max_displacement": [s[2] for s in sweep],
            "max_jacobian": [s[3] for s in sweep], "change": round_sig(changes)}


def label_flips(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, grid: int) -> dict[str, Any]:
    """ADef's smallest label-flipping deformation per image (see the module docstring)."""
    flip = adef(model, images, grid, max_steps=ADEF_STEPS)
    return {"grid": grid, "max_steps": ADEF_STEPS, "images": int(images.shape[0]),
            "max_displacement": round_sig(flip.max_displacement), "budget": round_sig(flip.budget),
            "flipped": flip.flipped.tolist(), "correct": (flip.original == labels.cpu()).tolist()}


def require_protocol_2(results: Sequence[Any], lacking: str) -> list[Any]:
    """``results`` as a list, or a ``ValueError`` when it is empty or holds a run measured with protocol 1, which
    ``lacking`` says what it does not have."""
    results = list(results)
    if not results:
        raise ValueError("results must hold at least one run")
    old = [r.key for r in results if not r.config.probe.measures.extended]
    if old:
        raise ValueError(f"runs measured with protocol 1 {lacking}: {old[:3]}")
    return results


def translation_record(results: Sequence[Any]) -> dict[str, Any]:
    """The translation sweeps that protocol-2 runs stored, in the record layout of
    :func:`defstab_lib.runs.kernel_view.cnn_translation_sweeps` (wrap it in
    :class:`~defstab_lib.runs.kernel_view.CNNTranslations`): the kernel view needs no checkpoints for such runs.

    Args:
        results: :class:`~defstab_lib.runs.store.Results` measured with protocol 2, sharing one probe.

    Raises:
        ValueError: no results, a protocol-1 run, or runs whose translations differ.
    """
    results = require_protocol_2(results, "store no translations (use cnn_translation_sweeps and their "
                                          "checkpoints)")
    shared = {k: results[0].initial.v2.translations[k] for k in ("strengths", "max_displacement", "max_jacobian")}
    if any({k: r.at(w).v2.translations[k] for k in shared} != shared for r in results for w in ("init", "final")):
        raise ValueError("the runs' translations differ (another probe?); give runs that share one probe")
    runs = {r.key: {w: {"change": r.at(w).v2.translations["change"]} for w in ("init", "final")} for r in results}
    return {"params": {"measurement": "translation sweeps stored by protocol-2 runs", "lengths": shared["strengths"],
                       "runs": sorted(runs)},
            "payload": {"sweep": shared, "runs": runs}, "provenance": {"source": "the runs' stored measurements"}}
