"""What several test files share: builders of configs, runs and stored objects with known numbers, and the
repository's root.  Test files import from here (``from tests.helpers import tiny``), never from one another;
fixtures that several files use are in ``conftest.py``.

- the repository and the command line: :data:`ROOT`, :func:`_env`, :func:`_cli`, :func:`_a_stored_run`;
- runs: :func:`tiny` (a run of about a second), :data:`FAKE_STEP_S` (the ``fake_steps`` fixture's step time);
- results built so that each claim plainly holds or fails: :func:`measurement`, :func:`run`, :func:`flat`,
  :func:`population`, :func:`random_networks` (the claims and verdicts); :func:`fake_measurement`,
  :func:`fake_results`, :func:`fake_networks` (the report, its loaders and ``report`` on the command line);
  :func:`simulated` (the ablation's cells);
- the kernel view's stored objects with known slopes: :func:`norms`, :func:`change`,
  :func:`constructed_baselines`, :func:`constructed_cnns`, and a small CKN, :func:`small_ckn`;
- references: :func:`gen`, :func:`reference` (distances by a numpy loop), :func:`relative_change`,
  :func:`_pixels` and :func:`_scipy_field` (scipy's thin-plate spline);
- tolerances derived from the arithmetic, not from one CPU: :data:`U32`, :func:`float32_forward_rtol`,
  :func:`distance_condition`.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import urllib.request
from pathlib import Path

import numpy as np
import torch
from scipy.interpolate import RBFInterpolator

from defstab_lib import (
    deform as D,
    runs,
)
from defstab_lib.analysis import (
    claims,
)
from defstab_lib.kernels import CKN, fit_anchors
from defstab_lib.models import DOWNSAMPLING
from defstab_lib.runs import (
    ArchConfig,
    CNNTranslations,
    DataConfig,
    KernelBaselines,
    Measurement,
    ProbeConfig,
    RandomNetworks,
    Results,
    RunConfig,
)
from defstab_lib.runs.experiments import ablation_cells
from defstab_lib.runs.profiles import ABLATION_NETWORKS
from defstab_lib.runs.untrained import SmoothInit
from defstab_lib.train import OptimConfig


ROOT = Path(__file__).resolve().parents[1]

U32 = torch.finfo(torch.float32).eps / 2  # float32's unit roundoff, 2**-24


def float32_forward_rtol(model: torch.nn.Module) -> float:
    """A bound on the relative difference between two float32 evaluations of ``model``'s representations that take
    different code paths (another batch size, another kernel, another CPU's oneDNN/MKL, another summation order).

    Each conv or linear output is a dot product of length ``n`` (the fan-in).  Rounding errors in a sum of ``n``
    terms behave like independent draws (Higham and Mary 2019, probabilistic error analysis): about ``sqrt(n) u32
    |w|.|x|`` whatever the summation order, and for random-sign weights on nonnegative (post-ReLU) inputs
    ``|w|.|x|`` is about ``0.6 sqrt(n) |w.x|``; so a layer adds a relative error of about ``0.6 n u32`` in norm, and
    ``n u32`` covers it; ReLU, pooling and BatchNorm in eval mode add a few ulps.  Errors add over the layers: one
    path is within ``sum(n) u32`` of the exact value, two paths within twice that.  The bound assumes IEEE float32
    throughout (no bf16 or TF32 fast path: ``torch.get_float32_matmul_precision() == "highest"``, the default).
    """
    fan_ins = [m.weight[0].numel() for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    return 2 * sum(fan_ins) * U32


def distance_condition(a: torch.Tensor, b: torch.Tensor, metric: str = "cosine") -> float:
    """How much the distances ``d(a_i, b_i)`` amplify a relative perturbation of the vectors (rows after
    flattening): relative error of ``d`` <= this * relative error of ``a`` and ``b``.

    Cosine, ``d = |â - b̂|² / 2``: a relative perturbation ``e`` moves ``â - b̂`` by at most ``2e``, so ``d`` by at most
    ``2 |â - b̂| 2e``, a relative ``4e / |â - b̂| = 4e / sqrt(2d)``.  Euclidean, ``d = |a - b|``: moved by at most
    ``e (|a| + |b|)``, a relative ``e (|a| + |b|) / |a - b|``.  The worst row counts.
    """
    a, b = a.flatten(1).double(), b.flatten(1).double()
    if metric == "cosine":
        unit = a / a.norm(dim=1, keepdim=True) - b / b.norm(dim=1, keepdim=True)
        return float((4 / unit.norm(dim=1)).max())
    return float(((a.norm(dim=1) + b.norm(dim=1)) / (a - b).norm(dim=1)).max())


def tiny(epochs: int = 2, **kw) -> RunConfig:
    """A run that trains in about a second on a CPU."""
    kw.setdefault("data", DataConfig(train_size=192, test_size=64))
    kw.setdefault("measure_epochs", (1,) if epochs > 1 else ())
    return RunConfig(
        "tiny", arch=ArchConfig(width=0.125), optim=OptimConfig(lr=0.05), epochs=epochs, batch_size=64,
        probe=ProbeConfig(images=8, bound_images=4), **kw,
    )


FAKE_STEP_S = 0.01


def _a_stored_run() -> runs.Results:
    return next(r for r in runs.ResultsStore(ROOT / "results").stored("pooling") if r.config.profile == "cpu")


#: Environment variables that send every download to a proxy on a closed port: a download fails at once, on a
#: networked machine too (for tests of what happens when a dataset is found nowhere).
NO_NETWORK = {name: "http://127.0.0.1:9" for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY")}


def no_network(monkeypatch) -> None:
    """:data:`NO_NETWORK` for this test, in this process.  urllib builds its global opener, with the proxies of the
    moment, at its first ``urlopen`` and keeps it: the opener is reset too, so that one built under the closed
    proxy (a download tried during the test) does not outlive the test and send later tests' requests, loopback
    ones included, to the closed port."""
    for name, value in NO_NETWORK.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(urllib.request, "_opener", None)


def _env(results: Path, threads: int | None = None) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DEFSTAB_RESULTS": str(results)}
    if threads is not None:
        env["OMP_NUM_THREADS"] = str(threads)
    return env


def _cli(*args: str, results: Path, threads: int | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "defstab_lib", *args], capture_output=True, text=True,
                          env=_env(results, threads), timeout=timeout)


#: The VGG of the paper on 32x32 images: its measured layers (input included) and its 3x3 convolutions.
LAYERS, CONVS = 13, 8


def measurement(epoch: int, cosine, smoothness=None, test=0.9) -> Measurement:
    cosine = list(map(float, cosine))
    return Measurement(epoch=epoch, cosine=cosine, euclidean=cosine, noise_cosine=[c / 2 for c in cosine],
                       smoothness=list(map(float, smoothness if smoothness is not None else [1.87] * 8)),
                       train_accuracy=1.0, test_accuracy=test, train_loss=0.0, test_loss=0.0)


def run(variant: str, seed: int, init, final, *, tv_init=None, tv_final=None, strength=0.0, labels="real") -> Results:
    data = DataConfig(dataset="synthetic" if strength else "fashion-mnist", strength=strength, labels=labels)
    config = RunConfig("demo", data=data, arch=ArchConfig(downsampling=variant), epochs=2, seed=seed)
    return Results(config, [measurement(0, init, tv_init), measurement(2, final, tv_final)], [],
                   {"wall_time_s": 60.0, "device_name": "CPU: test", "date": "2026-11-21T00:00:00"})


def flat(level: float, noise: float = 0.0, seed: int = 0) -> list[float]:
    rng = np.random.default_rng(seed)
    return list(0.3 + 0 * np.arange(LAYERS) + level + noise * rng.standard_normal(LAYERS))


VARIANTS = ("subsample", "maxpool", "avgpool", "strided", "strided-relu")


def population(init_level, final_level, seeds=3, noise=0.005):
    return [run(v, s, flat(init_level[v], noise, 10 * s + i), flat(final_level[v], noise, 100 + 10 * s + i))
            for i, v in enumerate(VARIANTS) for s in range(seeds)]


def random_networks(conditions, cosine):
    cosine = np.asarray(cosine, dtype=float)
    return RandomNetworks(conditions=list(conditions), cosine=cosine, distance=cosine, median=np.ones_like(cosine),
                          noise_cosine=cosine / 2, smoothness=np.ones(cosine.shape[:2] + (8,)), n_images=16,
                          width=0.5, dataset="test", provenance={})


def fake_measurement(epoch: int, level: float, tv: float = 1.87, noise: float = 0.5) -> Measurement:
    cosine = [level] * LAYERS
    return Measurement(epoch=epoch, cosine=cosine, euclidean=cosine, noise_cosine=[x * noise for x in cosine],
                       smoothness=[tv] * CONVS, train_accuracy=1.0, test_accuracy=0.9, train_loss=0.0, test_loss=0.0)


#: Final sensitivity of each architecture: flat with the pooling runs, wide with random labels, between with the
#: matched real labels, so that claim 7's effect tells which real-label runs it read.
SPREAD = {"pooling": 0.0, "matched-real": 0.15, "random-labels": 0.6}


def fake_results(config) -> Results:
    rng = np.random.default_rng(int(config.key[:8], 16))
    if config.data.dataset == "synthetic":
        final, tv = 0.3, 1.8 - 0.05 * config.data.strength + 0.01 * rng.standard_normal()
    else:
        rank = DOWNSAMPLING.index(config.arch.downsampling) - 2
        final = 0.3 * np.exp(SPREAD[config.experiment] * rank + 0.01 * rng.standard_normal())
        tv = 1.7
    noise = 0.5 * np.exp(0.05 * rng.standard_normal())  # so that R = D/G differs between runs, as measured ones do
    return Results(config, [fake_measurement(0, 0.3), fake_measurement(config.epochs, float(final), tv, noise)], [],
                   {"wall_time_s": 1.0, "device": "cpu", "device_name": "CPU: test"})


def fake_networks(kind: str, **_) -> dict:
    rng = np.random.default_rng(0)
    conditions = list(DOWNSAMPLING) if kind == "pooling" else [0.0, 1.0, 4.0]
    cosine = 0.3 * np.exp(rng.normal(0, 0.05, (len(conditions), 4, LAYERS)))
    cls = RandomNetworks if kind == "pooling" else SmoothInit
    nets = cls(conditions=conditions, cosine=cosine, distance=cosine, median=np.ones_like(cosine),
               noise_cosine=cosine / 2, smoothness=np.full((len(conditions), 4, CONVS), 1.87), n_images=16,
               width=0.5, dataset="test", provenance={})
    return {0.5: nets}


def _pixels(height: int, width: int) -> np.ndarray:
    """(H*W, 2) pixel centres (x, y), row by row."""
    xs, ys = np.meshgrid(np.arange(width, dtype=float), np.arange(height, dtype=float))
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


def _scipy_field(displacements: torch.Tensor, grid: int, size: tuple[int, int]) -> np.ndarray:
    """(H, W, 2) field from scipy's thin-plate-spline RBF fitted on the same control points."""
    cp = D.control_points(grid, size, dtype=torch.float64).numpy()
    rbf = RBFInterpolator(cp, displacements.double().cpu().numpy(), kernel="thin_plate_spline")
    return rbf(_pixels(*size)).reshape(size[0], size[1], 2)


def small_ckn(sigma: float = 1.0) -> CKN:
    g = torch.Generator().manual_seed(0)
    return fit_anchors(CKN(1, (6, 6), pool_sigmas=sigma, generator=g), torch.rand(4, 1, 16, 16, generator=g),
                       n_patches=100, generator=g)


# Stored objects built from constructed sweeps whose slopes are known exactly (the real classes, filled with chosen
# numbers): every fit must recover them, and the verdict must follow the CNNs' slopes.
LENGTHS = [1.0, 2.0, 3.0, 4.0]


N_IMAGES = 6


def norms():
    """``(translation norms, deformation norms)``: ``{"max_displacement", "max_jacobian"}``, each ``(S, M)``."""
    rng = np.random.default_rng(0)
    disp = np.array(LENGTHS)[:, None] * rng.uniform(1.0, 1.4, (4, N_IMAGES))
    jac = disp * rng.uniform(0.05, 0.2, (4, N_IMAGES))
    translations = {"strengths": LENGTHS, "max_displacement": np.repeat(np.array(LENGTHS)[:, None], N_IMAGES, 1),
                    "max_jacobian": np.zeros((4, N_IMAGES))}
    return translations, {"strengths": [0.5, 1.0, 2.0, 4.0], "max_displacement": disp, "max_jacobian": jac}


def change(sweep_norms, n_layers, *, jacobian=0.0, displacement=0.0, intercept=0.0, offset=0.0):
    """``(S, L, M)`` changes, the last layer exactly ``intercept + jacobian * ||grad tau|| + displacement *
    ||tau||`` (plus ``offset``: opposite offsets over two seeds average out)."""
    last = (intercept + offset + jacobian * np.asarray(sweep_norms["max_jacobian"])
            + displacement * np.asarray(sweep_norms["max_displacement"]))
    out = np.zeros((4, n_layers, N_IMAGES))
    out[:, -1, :] = last
    return out.tolist()


CKN_SIGMAS, CKN_SCALES, K_LAW, B_NONE = [0.0, 1.0, 2.0], [0.0, 2.0, 4.0], 0.4, 0.3


SCAT_J = [1, 2]


def constructed_baselines() -> KernelBaselines:
    tr, de = norms()

    def ckn_seed(i, offset):
        b = K_LAW / CKN_SCALES[i] if CKN_SCALES[i] > 0 else B_NONE
        sweep = {"deformations": {"change": change(de, 4, jacobian=1.0 / (i + 1), intercept=0.02, offset=offset)},
                 "translations": {"change": change(tr, 4, displacement=b, offset=offset)}}
        for family in sweep.values():
            family["change_over_input"] = (0.5 * np.array(family["change"])).tolist()
        return sweep

    ckn = {"pool_sigmas": CKN_SIGMAS, "pooling_scales": CKN_SCALES,
           "sweeps": [[ckn_seed(i, 0.01), ckn_seed(i, -0.01)] for i in range(3)],
           "profiles": [[{"cosine": [0.25, 0.2, 0.15, 0.1 / (i + 1)]}] * 2 for i in range(3)],
           "accuracy": [{"test_accuracy": a, "n_train": 100} for a in (0.80, 0.86, 0.84)]}
    scattering = {"J": SCAT_J, "L": 8,
                  "sweeps": [{"deformations": {"change": change(de, 5, jacobian=0.6 / j, intercept=0.01)},
                              "translations": {"change": change(tr, 5, displacement=0.2 / j)}} for j in SCAT_J],
                  "profiles": [{"cosine": [0.25, 0.3, 0.2, 0.1, 0.05 / j]} for j in SCAT_J],
                  "accuracy": {"test_accuracy": 0.83, "n_train": 100}}
    payload = {"probe": {"bound_images": N_IMAGES}, "sweep": de, "translation_sweep": tr, "ckn": ckn,
               "scattering": scattering, "pixels": {"accuracy": {"test_accuracy": 0.7, "n_train": 100}},
               "n_train": 100, "n_test": 50}
    payload = json.loads(json.dumps(payload, default=lambda a: a.tolist()))
    return KernelBaselines(params={"seeds": 2, "n_anchors": 8, "strengths": de["strengths"]}, payload=payload,
                           provenance={"wall_time_s": 12.0, "device_name": "constructed"})


def constructed_cnns(b_t):
    """``(groups, translations)``: two seeds of each variant of ``b_t = {variant: (b_T at init, after training)}``,
    their deformation slope twice their translation slope."""
    tr, de = norms()
    groups, stored = {}, {}
    for variant, slopes in b_t.items():
        configs = runs.experiment_configs("pooling", "smoke", seeds=2, downsampling=[variant])
        groups[variant] = []
        for config, offset in zip(configs, (0.01, -0.01)):
            measurements = [Measurement(epoch=e, cosine=[0.25] + [0.1 * (k + 1)] * 12, euclidean=[0.0] * 13,
                                        noise_cosine=[0.1] * 13, smoothness=[1.0] * 7, train_accuracy=0.9,
                                        test_accuracy=acc, train_loss=0.1, test_loss=0.2,
                                        bound={**de, "change": change(de, 13, jacobian=2 * b, offset=offset)})
                            for k, (e, b, acc) in enumerate(zip((0, config.epochs), slopes, (0.1, 0.88)))]
            result = Results(config=config, measurements=measurements, history=[], provenance={})
            groups[variant].append(result)
            stored[result.key] = {e: {"change": change(tr, 13, displacement=b, offset=offset)}
                                  for e, b in zip(("init", "final"), slopes)}
    record = {"params": {}, "provenance": {},
              "payload": json.loads(json.dumps({"sweep": tr, "runs": stored}, default=lambda a: a.tolist()))}
    return groups, CNNTranslations(record)


def relative_change(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean over the batch of ||a - b|| / ||b||."""
    return float(((a - b).flatten(1).norm(dim=1) / b.flatten(1).norm(dim=1)).mean())


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def reference(clean, deformed, metric):
    """The paper's formula, written out with numpy and Python loops."""
    c = [np.asarray(v, dtype=np.float64).ravel() for v in clean]
    d = [np.asarray(v, dtype=np.float64).ravel() for v in deformed]

    def dist(a, b):
        if metric == "cosine":
            return 1.0 - float(np.dot(a, b)) / (np.linalg.norm(a) * np.linalg.norm(b))
        return float(np.linalg.norm(a - b))

    numerator = np.mean([dist(a, b) for a, b in zip(c, d)])
    pairs = [dist(c[i], c[j]) for i in range(len(c)) for j in range(i + 1, len(c))]
    return numerator / np.median(pairs)


BASE = np.linspace(0.15, 0.35, LAYERS)


LATE = np.zeros(LAYERS)


LATE[claims._layers(LAYERS, "late")] = 1.0


def ablation_measurement(epoch: int, cosine: np.ndarray, tv: np.ndarray) -> Measurement:
    return Measurement(epoch=epoch, cosine=cosine.tolist(), euclidean=cosine.tolist(), noise_cosine=cosine.tolist(),
                       smoothness=tv.tolist(), train_accuracy=0.9, test_accuracy=0.9, train_loss=0.3, test_loss=0.3)


def simulated(profile: str = "cpu", effects: dict | None = None, tv_effects: dict | None = None, *, sd: float = 0.04,
              tv_sd: float = 0.01, seed: int = 0) -> dict:
    """``{(factor, level): [Results]}`` of the real configs of ``profile``'s ablation (3 seeds) with simulated
    measurements: a seed's level (shared by all its cells and networks: the pairing), a network's own level
    (shared by its cells: the same initial weights), each run's training noise (``sd`` on the log scale) and
    ``effects[cell]`` on the later layers (``tv_effects[cell]`` on the filter TV)."""
    rng = np.random.default_rng(seed)
    effects, tv_effects = effects or {}, tv_effects or {}
    configs = ablation_cells(profile, seeds=3)
    seed_level = {s: rng.normal(0, 0.3) for s in range(3)}
    net_level = {(s, n): rng.normal(0, 0.1) for s in range(3) for n in ABLATION_NETWORKS}
    cells = {}
    for key, cs in configs.items():
        out = []
        for c in cs:
            start = seed_level[c.seed] + net_level[(c.seed, c.arch.downsampling)]
            init = BASE * np.exp(start)
            final = init * np.exp(rng.normal(0, sd) + rng.normal(0, sd / 3, LAYERS) + effects.get(key, 0.0) * LATE)
            tv0 = 1.87 * np.exp(rng.normal(0, 0.01, CONVS))
            tv = tv0 * np.exp(tv_effects.get(key, 0.0) + rng.normal(0, tv_sd) + rng.normal(0, tv_sd / 3, CONVS))
            out.append(Results(c, [ablation_measurement(0, init, tv0), ablation_measurement(c.epochs, final, tv)],
                               [], {}))
        cells[key] = out
    return cells


#: CIFAR-10's folder inside a data root, as torchvision and the archive ``cifar-10-python.tar.gz`` lay it out.
CIFAR10_FOLDER = "cifar-10-batches-py"


def _py2_str(text: bytes) -> bytes:
    """A Python 2 ``str`` as the pickle opcode SHORT_BINSTRING: what the real CIFAR-10 files hold (read back as
    ``str`` with ``encoding="latin1"``, torchvision's choice, and as ``bytes`` with ``encoding="bytes"``, the recipe
    of the CIFAR-10 web page)."""
    assert len(text) < 256
    return b"U" + bytes([len(text)]) + text


def _py2_pickle(items: list[tuple[bytes, object]]) -> bytes:
    """A protocol-2 pickle of a dict with Python 2 ``str`` keys, as CIFAR-10's pickles were written (Python 2's
    cPickle): a value that is ``bytes`` or a list of ``bytes`` is a Python 2 ``str`` too, a list of ints a list of
    ints, anything else (a numpy array) pickled by Python 3 at protocol 2, without its own header and STOP."""
    out = [b"\x80\x02}("]  # PROTO 2, EMPTY_DICT, MARK
    for key, value in items:
        out.append(_py2_str(key))
        if isinstance(value, bytes):
            out.append(_py2_str(value))
        elif isinstance(value, list) and all(isinstance(v, bytes) for v in value):
            out.append(b"](" + b"".join(_py2_str(v) for v in value) + b"e")  # EMPTY_LIST, MARK, APPENDS
        elif isinstance(value, list):
            out.append(b"](" + b"".join(b"J" + int(v).to_bytes(4, "little", signed=True) for v in value) + b"e")
        elif isinstance(value, int):
            out.append(b"J" + value.to_bytes(4, "little", signed=True))
        else:
            out.append(pickle.dumps(value, protocol=2)[2:-1])
    out.append(b"u.")  # SETITEMS, STOP
    return b"".join(out)


def write_cifar10(root: Path, *, per_batch: int = 110, n_test: int = 300, seed: int = 0) -> Path:
    """A small CIFAR-10 in the real on-disk format under ``root`` (``root/cifar-10-batches-py/``: ``data_batch_1``
    to ``data_batch_5``, ``test_batch`` and ``batches.meta``), with random images; returns that folder.

    Each batch is a Python 2 pickle ``{b"batch_label", b"labels", b"data", b"filenames"}``: ``data`` a uint8 array
    ``(n, 3072)``, one row per image, row-major: the 1024 red values of the 32x32 image row by row, then green, then
    blue; ``labels`` a list of ``n`` ints in 0..9.  ``batches.meta`` holds ``label_names`` (the ten class names),
    ``num_cases_per_batch`` and ``num_vis`` (3072), as in ``cifar-10-python.tar.gz``.  ``per_batch`` images in each
    training batch (5 x 110 = 550 by default, above the smoke profile's 512 training images), ``n_test`` in the test
    batch; the images and labels are drawn from ``numpy.random.default_rng(seed)``."""
    from defstab_lib.data import CIFAR10_CLASSES

    folder = Path(root) / CIFAR10_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    batches = [(f"data_batch_{i}", f"training batch {i} of 5", per_batch) for i in range(1, 6)]
    for name, label, n in [*batches, ("test_batch", "testing batch 1 of 1", n_test)]:
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, n).tolist()
        (folder / name).write_bytes(_py2_pickle([
            (b"batch_label", label.encode()), (b"labels", labels), (b"data", data),
            (b"filenames", [f"{name}_{i:05d}.png".encode() for i in range(n)]),
        ]))
    (folder / "batches.meta").write_bytes(_py2_pickle([
        (b"num_cases_per_batch", per_batch), (b"label_names", [c.encode() for c in CIFAR10_CLASSES]),
        (b"num_vis", 3072),
    ]))
    return folder
