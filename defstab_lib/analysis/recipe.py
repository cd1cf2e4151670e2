"""What was run, stated from the runs' own configs, beside what the paper ran.

:func:`recipe` describes one set of runs (an experiment's, say) aspect by aspect (:data:`ASPECTS`): the data, the
network, the augmentation, the training (images × epochs ≈ SGD steps, learning rate), the initialisations, the
arithmetic, the probe and when it was measured.  Every phrase is computed from the configs (and, for stored runs,
from where they ran), so that a page states the recipe of whatever profile it was rendered with.
:func:`recipe_rows` puts several sets side by side with the paper's recipe (:data:`PAPER`), and
:func:`recipe_html` renders them as the small table each training chapter shows under its parameters.

>>> from defstab_lib import runs
>>> r = recipe(runs.experiment_configs("pooling", "cpu"))
>>> r["training"].split(";")[0]
'20,000 of the 60,000 training images × 8 epochs ≈ 1,248 SGD steps (batch 128)'
>>> r["initialisations"].split(":")[0]
'3 seeds per network; initial weights drawn from the seed alone (protocol 1)'
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence

import torch

from ..data import DATASET_INFO
from ..models import scaled_blocks
from ..runs.config import RunConfig, init_seed
from ..runs.sizes import training_images, training_steps
from ..runs.protocol import FRACTIONS
from ..runs.store import Results
from ..optim import uses_bf16

__all__ = ["ASPECTS", "PAPER", "AUGMENTATION_WORDS", "recipe", "recipe_rows", "recipe_html"]

#: The aspects of a recipe, in the order a table lists them.
ASPECTS = ("data", "network", "augmentation", "training", "initialisations", "arithmetic", "probe", "measured")

#: What the paper states of its recipe (section 2.2 and its figures), aspect by aspect; "not stated" where it is
#: silent.
PAPER: dict[str, str] = {
    "data": "CIFAR-10 (50,000 training images, 32×32) and ImageNet; random labels on CIFAR-10; synthetic tasks "
            "from MNIST images",
    "network": "×1: blocks 2×32, 2×64, 2×128, 2×256 (CIFAR-10); the five downsampling layers",
    "augmentation": "not stated",
    "training": "not stated (optimiser, learning rate, batch or length; networks trained to convergence)",
    "initialisations": "5 per setting (the initial weights and the data order vary between them); truncated "
                       "normal, standard deviation 1/√n_in",
    "arithmetic": "not stated",
    "probe": "128 images, each deformed once by a random 3×3-grid deformation of ≤ 2 px (CIFAR-10)",
    "measured": "at initialisation and after training",
}

#: Each augmentation (``defstab_lib.runs.config.AUGMENTATIONS``) in words.
AUGMENTATION_WORDS = {
    "none": "none",
    "flip-crop": "random horizontal flip and translation by up to 2 px (pad and crop)",
    "flip-crop-tps": "random flip and translation by up to 2 px, then a random thin-plate-spline deformation at "
                     "the probe's strength",
}

#: Downsampling layers without parameters: under protocol 1 their networks of one seed share every weight.
_PARAMETER_FREE = ("subsample", "maxpool", "avgpool")


def _configs(items: Sequence[RunConfig | Results]) -> list[RunConfig]:
    if isinstance(items, (str, bytes)) or not isinstance(items, Sequence) or not items:
        raise ValueError(f"items must be a non-empty list of RunConfig or Results, got {items!r}")
    out = [x.config if isinstance(x, Results) else x for x in items]
    bad = [type(x).__name__ for x in out if not isinstance(x, RunConfig)]
    if bad:
        raise TypeError(f"items must be RunConfig or Results, got {', '.join(sorted(set(bad)))}")
    return out


def _each(configs: Sequence[RunConfig], describe: Callable[[RunConfig], str]) -> str:
    """``describe`` of every config, each distinct phrase once (in order), joined by "; or "."""
    return "; or ".join(dict.fromkeys(describe(c) for c in configs))


def _listed(values) -> str:
    return ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in dict.fromkeys(values))


def _data(c: RunConfig) -> str:
    d = c.data
    if d.dataset == "synthetic":
        return (f"synthetic deformation tasks, K = {d.classes} classes (templates: {d.templates}), "
                f"{d.grid}×{d.grid}-grid deformations")
    info = DATASET_INFO[d.dataset]
    size = info.shape[1]
    pad = f", zero-padded to {d.image_size}×{d.image_size}" if d.image_size != size else ""
    return f"{info.title} ({size}×{size}{pad}), {d.labels} labels"


def _network(configs: Sequence[RunConfig]) -> str:
    def one(c: RunConfig) -> str:
        blocks = ", ".join(f"{n}×{ch}" for n, ch in scaled_blocks(c.arch.spec, c.arch.width))
        smooth = f", filters smoothed with σ = {c.arch.smooth_sigma:g} px" if c.arch.smooth_sigma else ""
        return f"×{c.arch.width:g} of the paper's width: blocks {blocks}{smooth}"

    variants = _listed(c.arch.downsampling for c in configs)
    return f"{_each(configs, one)}; downsampling: {variants}"


def _training(c: RunConfig) -> str:
    n, steps, o = training_images(c), training_steps(c), c.optim
    if c.data.dataset == "synthetic":
        images = f"{n:,} fresh examples per epoch"
    else:
        total = DATASET_INFO[c.data.dataset].sizes["train"]
        images = f"all {n:,} training images" if n >= total else f"{n:,} of the {total:,} training images"
    warmup = f", {o.warmup_epochs:g} warm-up epochs" if o.warmup_epochs else ""
    momentum = f"{'Nesterov ' if o.nesterov else ''}momentum {o.momentum:g}"
    return (f"{images} × {_plural(c.epochs, 'epoch')} ≈ {_plural(steps, 'SGD step')} (batch {c.batch_size}); "
            f"learning rate {o.lr:g}, {o.schedule} schedule{warmup}; {momentum}, weight decay {o.weight_decay:g}")


def _initialisations(configs: Sequence[RunConfig]) -> str:
    """How many initial weights were drawn, and which runs share them (from :func:`init_seed`)."""
    seeds = sorted({c.seed for c in configs})
    nets = list(dict.fromkeys(c.arch for c in configs))
    per = f"{_plural(len(seeds), 'seed')} per network"
    draws = {(init_seed(c), c.arch.spec, c.arch.width, c.arch.smooth_sigma) for c in configs}
    shared_by_seed = all(init_seed(c) == c.seed for c in configs)
    if shared_by_seed and len({a.downsampling for a in nets}) > 1:
        free = [d for d in dict.fromkeys(a.downsampling for a in nets) if d in _PARAMETER_FREE]
        together = (f": within a seed the {', '.join(free)} networks (the same parameter shapes) start from the same "
                    f"weights" if len(free) > 1 else "")
        text = f"{per}; initial weights drawn from the seed alone (protocol 1){together}"
    elif shared_by_seed:
        text = f"{per}; initial weights drawn from the seed alone (protocol 1)"
    else:
        text = f"{per}, each an independent draw per network and seed (protocol 2): {len(draws)} draws"
    runs_per_draw = len(configs) // len({(init_seed(c), c.arch) for c in configs})
    if runs_per_draw > 1:
        text += f"; the {runs_per_draw} runs of one network and seed start from the same weights"
    return text


def _arithmetic(item: RunConfig | Results) -> str:
    """The arithmetic of a run: what its stored provenance says was used (``arithmetic``, else its precision on its
    ``device``), or, for a config, what its precision means."""
    c = item.config if isinstance(item, Results) else item
    where = item.provenance.get("device") if isinstance(item, Results) else None
    if where is not None:
        done = item.provenance.get("arithmetic") or (
            "bfloat16 autocast" if uses_bf16(torch.device(str(where)), c.precision) else "float32")
        return f"{done} training (precision {c.precision!r} on {where}); deformation stability measured in float32"
    if c.precision == "bf16":
        return "bfloat16 autocast training (precision 'bf16'); deformation stability measured in float32"
    if c.precision == "float32":
        return "float32"
    return "float32 on a CPU, bfloat16 autocast on CUDA (precision 'auto'); deformation stability measured in float32"


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _probe(c: RunConfig) -> str:
    p = c.probe
    return (f"{p.images} test images, each deformed once by a fixed random {p.grid}×{p.grid}-grid deformation of "
            f"≤ {p.strength:g} px (measurement protocol {p.protocol})")


def _measured(c: RunConfig) -> str:
    during = []
    if c.probe.measures.dense:
        during.append(f"after {', '.join(f'{f:g}' for f in FRACTIONS)} of epoch 1")
    e = list(c.measure_epochs)
    if len(e) >= 5 and e == list(range(e[0], e[-1] + 1)):  # every epoch of a stretch: a range, not a list
        during.append(f"after every epoch from {e[0]} to {e[-1]}")
    elif e:
        during.append(f"after epoch{'s' if len(e) > 1 else ''} {', '.join(str(x) for x in e)}")
    return "; ".join(["at initialisation", *during, f"at the end (epoch {c.epochs})"])


def recipe(items: Sequence[RunConfig | Results]) -> dict[str, str]:
    """``{aspect: phrase}`` (:data:`ASPECTS`) of one set of runs, from their configs.

    Args:
        items: the runs' configs, or their stored results (then the arithmetic says what was used where they ran).

    Where the runs differ in an aspect, each distinct phrase is given once ("...; or ...").

    Raises:
        ValueError: ``items`` is empty.  TypeError: an item is neither a ``RunConfig`` nor ``Results``.
    """
    configs = _configs(items)
    strengths = [c.data.strength for c in configs if c.data.dataset == "synthetic"]
    data = _each(configs, _data)
    if strengths:
        data += f"; strengths C = {_listed(sorted(set(strengths)))} px"
    return {
        "data": data,
        "network": _network(configs),
        "augmentation": _each(configs, lambda c: AUGMENTATION_WORDS[c.data.augmentation]),
        "training": _each(configs, _training),
        "initialisations": _initialisations(configs),
        "arithmetic": _each(list(items), _arithmetic),
        "probe": _each(configs, _probe),
        "measured": _each(configs, _measured),
    }


def recipe_rows(groups: Mapping[str, Sequence[RunConfig | Results]], *, paper: bool = True) -> list[dict[str, str]]:
    """One row per aspect (:data:`ASPECTS`), one column per named set of runs (``{name: runs}``), then the paper's
    (:data:`PAPER`) unless ``paper=False``.

    >>> from defstab_lib import runs
    >>> rows = recipe_rows({"pooling": runs.experiment_configs("pooling", "smoke")})
    >>> [r[""] for r in rows][:4], list(rows[0])
    (['data', 'network', 'augmentation', 'training'], ['', 'pooling', 'the paper'])
    """
    if not groups:
        raise ValueError("groups must name at least one set of runs")
    described = {name: recipe(items) for name, items in groups.items()}
    return [{"": aspect, **{name: r[aspect] for name, r in described.items()},
             **({"the paper": PAPER[aspect]} if paper else {})} for aspect in ASPECTS]


def recipe_html(groups: Mapping[str, Sequence[RunConfig | Results]], *,
                caption: str = "What these runs are, beside what the paper ran") -> str:
    """:func:`recipe_rows` as an HTML table (class ``defstab-table defstab-recipe``), for a chapter to display."""
    rows = recipe_rows(groups)
    head = "".join(f"<th>{html.escape(c)}</th>" for c in rows[0])
    body = "".join(f"<tr><th>{html.escape(r[''])}</th>"
                   + "".join(f"<td>{html.escape(v)}</td>" for v in list(r.values())[1:]) + "</tr>" for r in rows)
    return (f'<table class="defstab-table defstab-recipe"><caption>{html.escape(caption)}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
