"""The paper's networks: VGG variants with a downsampling layer after every block (paper section 2.2).

A network is a stack of *blocks*; a block is a few 3×3 convolutions, each followed by BatchNorm and a ReLU, and
then one downsampling layer that halves height and width.  Global average pooling and one linear layer make the
head.  The block structure is written as in the paper: ``"2x32, 2x64, 2x128, 2x256"`` is two conv layers with 32
filters, then two with 64, and so on.

Layer numbering (the paper's Figure 3, used by :mod:`defstab_lib.probe`): layer 0 is the input image; then every
conv layer and every downsampling layer counts, in order.  The CIFAR network has 1 + 8 + 4 = 13 layers (0..12),
the ImageNet network 1 + 13 + 5 = 19.  ``model.layers[k - 1]`` is layer ``k``:

- a conv layer is ``Sequential(conv3x3, BatchNorm2d, ReLU)``; its representation is the output of the ReLU;
- a downsampling layer is one of :data:`DOWNSAMPLING`; for ``"strided-relu"`` it is
  ``Sequential(conv2x2/2, BatchNorm2d, ReLU)`` and its representation is the output of that ReLU.

Initialisation (the paper's footnote 2): every convolution and the linear layer get a truncated normal whose
underlying normal has standard deviation ``1/sqrt(fan_in)`` (``fan_in`` = input channels × kernel height × kernel
width, or input features), truncated at two of those standard deviations -- as TensorFlow's
``truncated_normal_initializer`` that the paper's code used; the truncated distribution's own standard deviation
is 0.880 of that.  Convolutions have no bias (BatchNorm's shift makes it redundant; the plain ``"strided"``
convolution is followed by a conv layer and BatchNorm, so the same holds); the linear layer's bias starts at 0;
BatchNorm starts as PyTorch's default (scale 1, shift 0, running mean 0, running variance 1).

Smoothed initialisation (paper section 4.2): with ``smooth_sigma > 0``, each 3×3 filter of the conv layers is
convolved with a Gaussian of that standard deviation (in pixels) right after the random draw; see
:func:`smooth_filters` for the discretisation.  The 2×2 filters of strided downsampling are left as drawn.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import torch
from torch import nn

from ._random import check_generator
from .vocabulary import DOWNSAMPLING

__all__ = [
    "downsampling_layers",
    "SPECS",
    "scaled_blocks",
    "DOWNSAMPLING",
    "VGG",
    "Subsample",
    "make_vgg",
    "parse_spec",
    "truncated_normal_",
    "gaussian_kernel",
    "smooth_filters",
]

#: The paper's block structures (section 2.2).
SPECS: dict[str, str] = {
    "cifar": "2x32, 2x64, 2x128, 2x256",
    "imagenet": "2x64, 2x128, 3x256, 3x512, 3x512",
}


_BLOCK = re.compile(r"^\s*(\d+)\s*[xX×]\s*(\d+)\s*$")


def parse_spec(spec: str) -> tuple[tuple[int, int], ...]:
    """The block structure named or written by ``spec``, as ``((n_layers, channels), ...)``.

    Args:
        spec: ``"cifar"``, ``"imagenet"``, or blocks in the paper's notation separated by commas,
            e.g. ``"2x32, 2x64"`` (``n x channels``; spaces optional).

    Raises:
        ValueError: ``spec`` is neither a known name nor valid notation (the message says what is allowed).

    >>> parse_spec("cifar")
    ((2, 32), (2, 64), (2, 128), (2, 256))
    >>> parse_spec("1x8,3x16")
    ((1, 8), (3, 16))
    """
    if not isinstance(spec, str):
        raise TypeError(f"spec must be a str, got {type(spec).__name__} {spec!r}; {_SPEC_ALLOWED}")
    text = SPECS.get(spec, spec)
    blocks = []
    for part in text.split(","):
        match = _BLOCK.match(part)
        if match is None:
            raise ValueError(f"spec {spec!r} is not allowed; {_SPEC_ALLOWED}")
        n, channels = int(match.group(1)), int(match.group(2))
        if n < 1 or channels < 1:
            raise ValueError(f"spec {spec!r} has a block {part.strip()!r} with a zero count; {_SPEC_ALLOWED}")
        blocks.append((n, channels))
    return tuple(blocks)


def scaled_blocks(spec: str, width: float = 1.0) -> tuple[tuple[int, int], ...]:
    """The block structure of ``spec`` (:func:`parse_spec`) at ``width``: every channel count multiplied by it,
    rounded, at least 1 (the networks :func:`make_vgg` builds).

    >>> scaled_blocks("cifar", 0.5)
    ((2, 16), (2, 32), (2, 64), (2, 128))
    """
    return tuple((n, max(1, round(c * width))) for n, c in parse_spec(spec))


_SPEC_ALLOWED = (
    f"allowed: {', '.join(repr(k) for k in SPECS)}, or blocks 'NxC' separated by commas, e.g. '2x32, 2x64'"
)


@torch.no_grad()
def truncated_normal_(tensor: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """Fill a weight in place with the paper's initialisation and return it.

    Truncated normal: the underlying normal has mean 0 and standard deviation ``s = 1/sqrt(fan_in)``, values
    outside ``[-2s, 2s]`` are redrawn (the paper's footnote 2).  ``fan_in`` is ``tensor[0].numel()``: input
    channels × kernel height × kernel width for a conv weight ``(out, in, kh, kw)``, input features for a linear
    weight ``(out, in)``.

    Args:
        tensor: a weight of at least two dimensions, ``(out, in, ...)``.
        generator: the random source; ``None`` draws from a fresh generator seeded by the operating system
            (torch's global random state is never used).

    >>> w = truncated_normal_(torch.empty(64, 16, 3, 3), generator=torch.Generator().manual_seed(0))
    >>> bool(w.abs().max() <= 2 / 12)   # fan_in = 16 * 3 * 3 = 144, so s = 1/12
    True
    """
    if tensor.dim() < 2:
        raise ValueError(f"tensor must have at least 2 dimensions (out, in, ...), got shape {tuple(tensor.shape)}")
    std = 1.0 / math.sqrt(tensor[0].numel())
    return nn.init.trunc_normal_(tensor, 0.0, std, -2.0 * std, 2.0 * std, generator=check_generator(generator))


def gaussian_kernel(sigma: float, radius: int, *, dtype: torch.dtype = torch.float32, device=None) -> torch.Tensor:
    """A 2-D Gaussian of standard deviation ``sigma`` pixels sampled at integer offsets ``-radius..radius``.

    Returns a ``(2 radius + 1, 2 radius + 1)`` tensor ``g[u, v] ∝ exp(-(u² + v²) / (2 σ²))`` that sums to 1.
    ``sigma = 0`` gives the discrete delta (no smoothing).

    >>> gaussian_kernel(0.0, 1)
    tensor([[0., 0., 0.],
            [0., 1., 0.],
            [0., 0., 0.]])
    >>> round(float(gaussian_kernel(1.0, 2).sum()), 6)
    1.0
    """
    if not (isinstance(sigma, (int, float)) and math.isfinite(sigma) and sigma >= 0):
        raise ValueError(f"sigma must be a finite number >= 0 (pixels), got {sigma!r}")
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float64)
    if sigma == 0:
        g1 = (offsets == 0).to(torch.float64)
    else:
        g1 = torch.exp(-(offsets**2) / (2.0 * sigma**2))
    g = torch.outer(g1, g1)
    return (g / g.sum()).to(dtype=dtype, device=device)


@torch.no_grad()
def smooth_filters(weight: torch.Tensor, sigma: float, *, restore_norm: bool = True) -> torch.Tensor:
    """Convolve every spatial filter of a conv weight with a Gaussian of standard deviation ``sigma`` pixels.

    Each filter ``weight[o, i]`` (``k × k``) is treated as a function on the pixel grid that is zero outside its
    ``k × k`` support.  It is convolved with :func:`gaussian_kernel` sampled at the integer offsets
    ``-(k-1)..(k-1)`` (a ``5 × 5`` kernel for ``3 × 3`` filters, normalised to sum 1) -- exactly the offsets at
    which two taps of one filter can interact -- and the result is read back on the same ``k × k`` support (a
    "same" convolution with zero padding).  As ``sigma`` grows the kernel tends to the uniform one and every
    filter to a constant (its sum divided by ``(2k-1)²``), whose total variation is 0.

    With ``restore_norm`` (the default, used by :func:`make_vgg`) the smoothed weight is rescaled so that the whole
    tensor keeps its L2 norm.  Why: smoothing averages and so shrinks the weights (by a factor that grows with
    ``sigma``), which would change the scale of activations and of the effective learning rate along with the
    smoothness.  Restoring the norm of the whole layer -- not of each filter -- leaves the relative size of the
    filters as smoothing made it; and because the networks here are positively homogeneous in each layer's
    weights at initialisation (ReLU, bias-free convolutions, BatchNorm with its initial statistics in eval mode),
    one scale factor per layer does not change any cosine or normalized distance measured at initialisation.

    Args:
        weight: ``(out, in, k, k)``, any float dtype and device (the result follows it).
        sigma: the Gaussian's standard deviation in pixels, ``>= 0``; 0 returns a copy of ``weight``.
        restore_norm: rescale the result to the L2 norm of ``weight``.

    Returns:
        the smoothed weight, ``(out, in, k, k)``; ``weight`` itself is not modified.

    >>> w = torch.zeros(1, 1, 3, 3); w[0, 0, 1, 1] = 1.0
    >>> smooth_filters(w, 1.0, restore_norm=False)[0, 0]
    tensor([[0.0596, 0.0983, 0.0596],
            [0.0983, 0.1621, 0.0983],
            [0.0596, 0.0983, 0.0596]])
    """
    if weight.dim() != 4 or weight.shape[-1] != weight.shape[-2]:
        raise ValueError(f"weight must be (out, in, k, k) with square filters, got shape {tuple(weight.shape)}")
    k = weight.shape[-1]
    kernel = gaussian_kernel(sigma, k - 1, dtype=weight.dtype, device=weight.device)
    if sigma == 0:
        return weight.clone()
    # The "same" convolution as a (k², k²) matrix: smoothed[a, b] = sum_{c, d} g[a - c, b - d] w[c, d].
    idx = torch.arange(k, device=weight.device)
    rows = (idx[:, None, None, None] - idx[None, None, :, None] + k - 1).expand(k, k, k, k)
    cols = (idx[None, :, None, None] - idx[None, None, None, :] + k - 1).expand(k, k, k, k)
    matrix = kernel[rows, cols].reshape(k * k, k * k)
    smoothed = (weight.reshape(-1, k * k) @ matrix.T).reshape(weight.shape)
    if restore_norm:
        norm = smoothed.norm()
        if norm > 0:
            smoothed = smoothed * (weight.norm() / norm)
    return smoothed


class Subsample(nn.Module):
    """Keep the top-left pixel of every 2×2 block: ``(B, C, H, W) -> (B, C, ceil(H/2), ceil(W/2))``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :, ::2, ::2]


def _conv_layer(in_channels: int, out_channels: int, kernel_size: int, stride: int) -> nn.Sequential:
    padding = (kernel_size - 1) // 2 if stride == 1 else 0
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=False),
    )


def _downsampling_layer(name: str, channels: int) -> nn.Module:
    if name == "subsample":
        return Subsample()
    if name == "maxpool":
        return nn.MaxPool2d(2)
    if name == "avgpool":
        return nn.AvgPool2d(2)
    if name == "strided":
        return nn.Conv2d(channels, channels, 2, stride=2, bias=False)
    if name == "strided-relu":
        return _conv_layer(channels, channels, 2, stride=2)
    raise ValueError(f"downsampling {name!r} is not allowed; allowed: {', '.join(repr(d) for d in DOWNSAMPLING)}")


def downsampling_layers(spec: str = "cifar") -> list[int]:
    """The numbers of the downsampling layers in the paper's layer numbering (0 = input), without building a model.

    >>> downsampling_layers("cifar")
    [3, 6, 9, 12]
    """
    numbers, k = [], 0
    for n, _ in parse_spec(spec):
        k += n + 1
        numbers.append(k)
    return numbers


class VGG(nn.Module):
    """The paper's VGG variant; build it with :func:`make_vgg`.

    Attributes:
        blocks: the block structure, ``((n_layers, channels), ...)`` (after width scaling).
        downsampling: the name of the downsampling layer (one of :data:`DOWNSAMPLING`).
        layers: ``nn.ModuleList``; ``layers[k - 1]`` computes layer ``k`` (layer 0 is the input).
        layer_kinds: ``["input", "conv", ..., downsampling, ...]``, one entry per layer, input included.
        head: global average pooling, flatten, linear.
    """

    def __init__(self, blocks: Sequence[tuple[int, int]], downsampling: str, in_channels: int, num_classes: int):
        super().__init__()
        if downsampling not in DOWNSAMPLING:
            allowed = ", ".join(repr(d) for d in DOWNSAMPLING)
            raise ValueError(f"downsampling {downsampling!r} is not allowed; allowed: {allowed}")
        self.blocks = tuple(blocks)
        self.downsampling = downsampling
        layers: list[nn.Module] = []
        kinds = ["input"]
        channels = in_channels
        for n, width in self.blocks:
            for _ in range(n):
                layers.append(_conv_layer(channels, width, 3, stride=1))
                kinds.append("conv")
                channels = width
            layers.append(_downsampling_layer(downsampling, channels))
            kinds.append(downsampling)
        self.layers = nn.ModuleList(layers)
        self.layer_kinds = tuple(kinds)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, num_classes))

    @property
    def num_layers(self) -> int:
        """Number of numbered layers, the input included (13 for the CIFAR network)."""
        return len(self.layers) + 1

    def conv_layers(self) -> list[nn.Conv2d]:
        """The 3×3 convolutions of the conv blocks, in order (not the strided downsampling convolutions)."""
        return [layer[0] for layer, kind in zip(self.layers, self.layer_kinds[1:]) if kind == "conv"]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, num_classes)`` of images ``(B, in_channels, H, W)``."""
        for layer in self.layers:
            x = layer(x)
        return self.head(x)


def make_vgg(
    spec: str = "cifar",
    downsampling: str = "maxpool",
    *,
    in_channels: int = 3,
    num_classes: int = 10,
    width: float = 1.0,
    smooth_sigma: float = 0.0,
    generator: torch.Generator | None = None,
) -> VGG:
    """Build and initialise one of the paper's networks (on the CPU, float32; move it with ``.to``).

    Args:
        spec: block structure: ``"cifar"`` (2x32, 2x64, 2x128, 2x256), ``"imagenet"``
            (2x64, 2x128, 3x256, 3x512, 3x512) or any string in that notation (see :func:`parse_spec`).
        downsampling: ``"subsample"`` (top-left pixel of each 2×2), ``"maxpool"``, ``"avgpool"`` (2×2, stride 2),
            ``"strided"`` (2×2 convolution with stride 2, as many channels out as in), ``"strided-relu"``
            (the same followed by BatchNorm and ReLU).
        in_channels: channels of the input images (1 for Fashion-MNIST, 3 for CIFAR-10).
        num_classes: outputs of the linear layer.
        width: multiplies every block's channel count (rounded, at least 1); 1.0 is the paper's network.
        smooth_sigma: standard deviation in pixels of the Gaussian that smooths each 3×3 filter at
            initialisation (:func:`smooth_filters`, norm of each layer restored); 0 leaves them as drawn.
        generator: the only random source of the initialisation; ``None`` uses a fresh generator seeded by the
            operating system.

    Raises:
        ValueError: an unknown ``spec`` or ``downsampling``, or a value out of range (the message says what is
            allowed).

    >>> model = make_vgg("cifar", "maxpool", generator=torch.Generator().manual_seed(0))
    >>> model.num_layers, model(torch.rand(2, 3, 32, 32)).shape
    (13, torch.Size([2, 10]))
    >>> make_vgg(downsampling="pool")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: downsampling 'pool' is not allowed; allowed: 'subsample', 'maxpool', ..., 'strided-relu'
    """
    parse_spec(spec)  # a bad spec is refused first
    if downsampling not in DOWNSAMPLING:
        allowed = ", ".join(repr(d) for d in DOWNSAMPLING)
        raise ValueError(f"downsampling {downsampling!r} is not allowed; allowed: {allowed}")
    for name, value in (("in_channels", in_channels), ("num_classes", num_classes)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    if isinstance(width, bool) or not isinstance(width, (int, float)) or not math.isfinite(width) or width <= 0:
        raise ValueError(f"width must be a finite number > 0, got {width!r}")
    if isinstance(smooth_sigma, bool) or not isinstance(smooth_sigma, (int, float)) or not (
        math.isfinite(smooth_sigma) and smooth_sigma >= 0
    ):
        raise ValueError(f"smooth_sigma must be a finite number >= 0 (pixels), got {smooth_sigma!r}")
    generator = check_generator(generator)
    scaled = scaled_blocks(spec, width)
    # Built on the meta device: PyTorch's own initialisers (which draw from the global random state) never run;
    # every parameter and buffer is then allocated and set by _initialise.
    with torch.device("meta"):
        model = VGG(scaled, downsampling, in_channels, num_classes)
    model = model.to_empty(device="cpu")
    _initialise(model, float(smooth_sigma), generator)
    return model


@torch.no_grad()
def _initialise(model: VGG, smooth_sigma: float, generator: torch.Generator) -> None:
    """Draw every weight in module order (so one seed gives one network), then smooth the 3×3 filters."""
    smoothed = set(id(conv) for conv in model.conv_layers()) if smooth_sigma > 0 else set()
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            truncated_normal_(module.weight, generator=generator)
            if module.bias is not None:
                module.bias.zero_()
            if id(module) in smoothed:
                module.weight.copy_(smooth_filters(module.weight, smooth_sigma))
        elif isinstance(module, nn.BatchNorm2d):
            module.reset_parameters()  # scale 1, shift 0, running mean 0, running variance 1, count 0
    for name, tensor in list(model.named_parameters()) + list(model.named_buffers()):
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():  # pragma: no cover - a guard
            raise RuntimeError(f"make_vgg left {name} uninitialised")
