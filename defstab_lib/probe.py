"""Representations of images at the layers of a network: numbered layers of our VGG, named modules of any model.

Layers are named by *keys*:

- for a :class:`~defstab_lib.models.VGG`, an ``int`` is the paper's layer number (Figure 3): ``0`` is the input
  image, then every conv layer (the output of its ReLU) and every downsampling layer (for ``"strided-relu"``
  the output of its ReLU), in order -- ``0..12`` for the CIFAR network;
- for any ``nn.Module``, a ``str`` is the name of a submodule as in ``model.named_modules()``
  (``"layer1.0.conv2"``); its representation is that module's output, recorded with a forward hook (removed
  again when the call returns, also when the forward raises).  ``0`` is the input for every model.

A VGG asked only for numbered layers is run layer by layer, and stops after the last requested layer;
otherwise the whole model runs once with hooks on the requested modules.  Neither changes the model's mode
(train/eval) or the gradient mode: that is the caller's choice.  Every measurement of the library runs in
:func:`eval_mode` (eval mode, ``no_grad``, the model's flags restored afterwards) and feeds clean and moved images
through one forward pass per batch with :func:`paired_batches`.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator, Sequence

import torch
from torch import nn

from .models import VGG

__all__ = ["LayerKey", "default_layers", "resolve_layers", "iter_representations", "representations", "eval_mode",
           "paired_batches"]

#: A layer: the paper's layer number (``int``, our VGG; ``0`` = input for any model) or a submodule name (``str``).
LayerKey = int | str


def default_layers(model: nn.Module) -> list[LayerKey]:
    """The layers probed when none are named.

    For a :class:`~defstab_lib.models.VGG`: every numbered layer, ``[0, 1, ..., model.num_layers - 1]``.
    For any other module: the input ``0`` followed by the names of its direct children in registration order
    (usually, but not necessarily, the order in which they run).

    >>> from defstab_lib.models import make_vgg
    >>> default_layers(make_vgg("cifar", generator=torch.Generator().manual_seed(0)))
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
    >>> default_layers(nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU()))
    [0, '0', '1']
    """
    if isinstance(model, VGG):
        return list(range(model.num_layers))
    return [0] + [name for name, _ in model.named_children()]


def resolve_layers(model: nn.Module, layers: Sequence[LayerKey] | None) -> list[LayerKey]:
    """``layers`` as a checked list (``None``: :func:`default_layers`); nothing runs.

    Raises:
        ValueError: a layer number out of range, a number other than 0 for a model that is not our VGG, an
            unknown module name (the message lists what is allowed), or an empty sequence.
        TypeError: a key that is neither an ``int`` nor a ``str``, or ``layers`` that is not a sequence.
    """
    if layers is None:
        return default_layers(model)
    if isinstance(layers, (str, int)):
        raise TypeError(f"layers must be a sequence of layer keys (e.g. [0, 3] or ['layer1']), got {layers!r}")
    layers = list(layers)
    if not layers:
        raise ValueError("layers must name at least one layer, got an empty sequence")
    names = None
    for key in layers:
        if isinstance(key, bool) or not isinstance(key, (int, str)):
            raise TypeError(f"layer {key!r} must be an int (layer number) or a str (module name)")
        if isinstance(key, int):
            if isinstance(model, VGG):
                if not 0 <= key < model.num_layers:
                    raise ValueError(
                        f"layer {key} is not allowed for this network; allowed: layer numbers 0..{model.num_layers - 1}"
                        " (0 = input) or submodule names"
                    )
            elif key != 0:
                raise ValueError(
                    f"layer {key} is not allowed for {type(model).__name__}: numbered layers exist only for "
                    "defstab_lib.models.VGG; allowed: 0 (the input) or submodule names"
                )
        else:
            if names is None:
                names = [name for name, _ in model.named_modules() if name]
            if key not in names:
                shown = ", ".join(repr(n) for n in names[:30])
                more = f" and {len(names) - 30} more (see model.named_modules())" if len(names) > 30 else ""
                raise ValueError(
                    f"layer {key!r} is not a submodule of {type(model).__name__}; "
                    f"allowed: 0 (the input), {shown}{more}"
                )
    return layers


def _check_images(images: torch.Tensor) -> None:
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images must be a torch.Tensor (B, C, H, W), got {type(images).__name__}")
    if images.dim() < 1 or images.shape[0] < 1:
        raise ValueError(f"images must be a non-empty batch (B, C, H, W), got shape {tuple(images.shape)}")


def iter_representations(
    model: nn.Module, images: torch.Tensor, layers: Sequence[LayerKey] | None = None
) -> Iterator[tuple[LayerKey, torch.Tensor]]:
    """Yield ``(layer, representation)`` for each requested layer, in the order requested.

    Like :func:`representations`, but for a VGG asked only for numbered layers in increasing order the network
    runs lazily, one layer per step, so that a consumer that drops each representation holds only one layer's
    activations at a time.  The layers are checked (``ValueError``/``TypeError``) before anything runs.

    Args:
        model: a :class:`~defstab_lib.models.VGG` or any ``nn.Module``.
        images: ``(B, C, H, W)`` on the model's device and in its dtype.
        layers: layer keys (see the module's docstring); ``None`` for :func:`default_layers`.
    """
    _check_images(images)
    layers = resolve_layers(model, layers)
    if isinstance(model, VGG) and all(isinstance(k, int) for k in layers):
        return _iter_vgg(model, images, layers)
    return iter(_run_with_hooks(model, images, layers))


def _iter_vgg(model: VGG, images: torch.Tensor, layers: list[int]) -> Iterator[tuple[LayerKey, torch.Tensor]]:
    wanted = Counter(layers)
    held: dict[int, torch.Tensor] = {}
    position = 0
    x = images
    if 0 in wanted:
        held[0] = x
    for k, layer in enumerate(model.layers, start=1):
        while position < len(layers) and layers[position] in held:
            key = layers[position]
            yield key, held[key]
            wanted[key] -= 1
            if wanted[key] == 0:
                del held[key]
            position += 1
        if position == len(layers):
            return
        x = layer(x)
        if k in wanted:
            held[k] = x
    while position < len(layers):
        key = layers[position]
        yield key, held[key]
        position += 1


def _run_with_hooks(
    model: nn.Module, images: torch.Tensor, layers: list[LayerKey]
) -> list[tuple[LayerKey, torch.Tensor]]:
    names = {key if isinstance(key, str) else f"layers.{key - 1}" for key in layers if key != 0}
    modules = dict(model.named_modules())
    outputs: dict[str, torch.Tensor] = {}

    def hook_for(name: str):
        def hook(module, args, output):
            if not isinstance(output, torch.Tensor):
                raise TypeError(
                    f"module {name!r} returned {type(output).__name__}, not a Tensor; probe a submodule instead"
                )
            # A clone: a later in-place operation (torchvision's ReLU(inplace=True)) must not change it.
            outputs[name] = output.clone()

        return hook

    handles = [modules[name].register_forward_hook(hook_for(name)) for name in sorted(names)]
    try:
        if names:
            model(images)
    finally:
        for handle in handles:
            handle.remove()
    missing = sorted(names - set(outputs))
    if missing:
        raise ValueError(f"module(s) {missing} did not run during the forward pass of {type(model).__name__}")
    result = []
    for key in layers:
        if key == 0:
            result.append((key, images))
        else:
            result.append((key, outputs[key if isinstance(key, str) else f"layers.{key - 1}"]))
    return result


def representations(
    model: nn.Module, images: torch.Tensor, layers: Sequence[LayerKey] | None = None
) -> list[torch.Tensor]:
    """The representations of ``images`` at the requested layers, in the order requested.

    Args:
        model: a :class:`~defstab_lib.models.VGG` (layer numbers as in the paper's Figure 3) or any
            ``nn.Module`` (submodule names; ``0`` is the input).
        images: ``(B, C, H, W)`` on the model's device and in its dtype.
        layers: layer keys; ``None`` for :func:`default_layers`.

    Returns:
        one tensor per requested layer, ``(B, ...)`` as the layer produces it (layer 0 is ``images`` itself).
        A module that runs more than once in one forward pass gives the output of its last run.

    Raises:
        ValueError: a layer number out of range or an unknown module name (the message lists what is allowed),
            or a named module that did not run.
        TypeError: a named module returned something other than a tensor.

    >>> from defstab_lib.models import make_vgg
    >>> model = make_vgg("cifar", generator=torch.Generator().manual_seed(0))
    >>> [tuple(r.shape) for r in representations(model, torch.rand(2, 3, 32, 32), [0, 1, 3, 12])]
    [(2, 3, 32, 32), (2, 32, 32, 32), (2, 32, 16, 16), (2, 256, 2, 2)]
    """
    return [rep for _, rep in iter_representations(model, images, layers)]


@contextlib.contextmanager
def eval_mode(model: nn.Module, *, grad: bool = False) -> Iterator[nn.Module]:
    """Run a measurement in eval mode (and under ``no_grad`` unless ``grad``), restoring every submodule's
    train/eval flag afterwards, also when the body raises.

    >>> net = nn.Sequential(nn.BatchNorm1d(2)).train()
    >>> with eval_mode(net):
    ...     net.training, torch.is_grad_enabled()
    (False, False)
    >>> net.training
    True
    """
    flags = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        with torch.set_grad_enabled(grad):
            yield model
    finally:
        for module, flag in flags:
            module.training = flag


def paired_batches(
    model: nn.Module, inputs: Sequence[torch.Tensor], layers: Sequence[LayerKey], *, batch_size: int = 128
) -> Iterator[tuple[slice, int, list[torch.Tensor]]]:
    """Representations of several aligned image sets, batch by batch, from one forward pass per batch.

    For each batch of ``batch_size`` image indices and each layer (in the order of ``layers``), yields
    ``(indices, layer_index, reps)`` where ``reps[k]`` is ``(b, D)``, input ``k``'s images of the batch flattened at
    that layer (in the model's dtype, on its device).  Run it inside :func:`eval_mode`.

    Args:
        model: a :class:`~defstab_lib.models.VGG` or any ``nn.Module``.
        inputs: ``K`` tensors ``(N, C, H, W)`` of the same shape (clean images first, by convention, then their
            deformed or noisy versions).
        layers: layer keys, already resolved (:func:`resolve_layers`).
        batch_size: image indices per pass (each pass holds ``K * batch_size`` images).

    >>> from defstab_lib.models import make_vgg
    >>> net = make_vgg("cifar", in_channels=1, generator=torch.Generator().manual_seed(0))
    >>> x = torch.rand(3, 1, 32, 32, generator=torch.Generator().manual_seed(1))
    >>> with eval_mode(net):
    ...     out = [(i.start, k, [tuple(r.shape) for r in reps]) for i, k, reps in paired_batches(net, [x, x], [0, 12], batch_size=2)]
    >>> out[:2], out[-1]
    ([(0, 0, [(2, 1024), (2, 1024)]), (0, 1, [(2, 1024), (2, 1024)])], (2, 1, [(1, 1024), (1, 1024)]))
    """
    n = inputs[0].shape[0]
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        b = stop - start
        batch = torch.cat([x[start:stop] for x in inputs])
        for index, (_, rep) in enumerate(iter_representations(model, batch, layers)):
            flat = rep.reshape(rep.shape[0], -1)
            yield slice(start, stop), index, [flat[k * b:(k + 1) * b] for k in range(len(inputs))]
            del rep, flat
