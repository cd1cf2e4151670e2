"""``run_or_load``: load a run's stored results, or train it, measure it, and store them.

What a run does, in order:

1. builds its data (a fixed subset of the training split, a fixed subset of the test split, Fashion-MNIST and
   MNIST zero-padded to 32x32; or the synthetic task), its model (``make_vgg``, initial weights drawn from
   :func:`~defstab_lib.runs.config.init_seed`: the run's seed under protocol 1, an independent draw per
   architecture and seed under protocol 2) and its probe: ``N`` test images chosen with the probe's seed, each deformed once by a fixed
   random deformation, and the noise-matched control of each (Gaussian noise of the same L2 norm);
2. measures at initialisation (epoch 0): per-layer normalized cosine and Euclidean distance and the noise
   control on the probe, per-layer filter smoothness, train and test accuracy;
3. trains epoch by epoch, measuring after each epoch in ``measure_epochs`` and after the last (protocol 2: also
   after 1/8, 1/4 and 1/2 of the first epoch, :data:`defstab_lib.runs.protocol.FRACTIONS`), and saving a resume
   state (model, optimiser, schedule, measurements so far) after every epoch;
4. stores ``<experiment>/<key>.json`` atomically, with the initial and final weights beside it, and removes the
   resume state.

What protocol 2 measures besides protocol 1 is in :mod:`defstab_lib.runs.protocol`.

A run killed at any point (also inside an epoch) restarts from its last saved epoch.  On the CPU the result is
then exactly that of an uninterrupted run: the batches of epoch ``e`` depend only on ``(seed, e)``, the state
holds everything else, and every run trains with the same thread count (:mod:`.threads`), however many workers
share the machine.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import time
from collections.abc import Callable
from typing import Any

import torch

from ..data import load_dataset, pad_to_size, require_dataset
from ..deform import deform, displacement_field, field_norms
from ..metrics import noise_matched, relative_change, sensitivity_profile, smoothness_profile
from ..models import make_vgg
from ..progress import bar as progress_bar
from ..provenance import provenance_record, resolve_device
from ..tasks import SyntheticDeformationTask, flip_crop, flip_crop_tps, random_labels, synthetic_templates
from ..train import TensorBatches, evaluate, make_optimizer, train_epoch, uses_bf16
from . import protocol as v2
from .cluster import JobResources, check_executor, submit_runs, wait_for
from .config import MeasurementProtocol, RunConfig, init_seed, measurement_protocol, run_key
from .parallel import plan_workers, run_in_processes
from .store import Measurement, Protocol2Fields, Results, ResultsStore, atomic_torch_save
from .threads import run_threads

__all__ = ["run_or_load", "run_configs", "results_table", "measure", "RunData", "build_run_data", "augmentation",
           "resolve_device", "check_data"]

#: Environment variable naming the command that trains (recorded in each run's provenance).
INVOCATION_ENV = "DEFSTAB_INVOCATION"
TEST_SUBSET_SEED = 20180412  # the test subset is the same for every run and seed (the paper's arXiv date)
TRAIN_EVAL_SIZE = 5000  # training images on which train accuracy is measured (at most)


@dataclasses.dataclass
class RunData:
    """Everything a run trains and measures on (tensors on the run's device).

    Attributes:
        batches: the batch source of training (``TensorBatches`` or ``SyntheticDeformationTask``).
        train_x, train_y: up to ``TRAIN_EVAL_SIZE`` training images (uint8 or float, ``(n, C, 32, 32)``) and
            their labels (the run's labels: random ones for random-label runs), for train accuracy.
        test_x, test_y: the test images and labels.
        probe, deformed, noisy: float32 ``(N, C, 32, 32)`` probe images, their fixed deformations and their
            noise-matched versions.
        bound: the sweep for the Bietti-Mairal bound: per strength C, ``(C, deformed (M, C, 32, 32),
            max_displacement (M,), max_jacobian (M,))`` with the first M probe images.
        in_channels, num_classes: for the model.
        description: the dataset, where it came from, and its checksum (for provenance).
        probe_y: ``(N,)`` int64 labels of the probe images (the worst case's loss objective, ADef's correctness).
        protocol: the config's measurement protocol.
        grid, strength: the probe deformations' control points per side and box C (pixels): the worst case's
            budget.
        seed: the probe's seed.
        sine, sine_noisy: protocol 2: ``(N, C, 32, 32)`` sine-mode deformations of the probe and their
            noise-matched control (:func:`defstab_lib.runs.protocol.sine_probe`); ``sine_temperature`` their T.
        translations: protocol 2: the whole-pixel translation sweep of the first M probe images, in the layout
            of ``bound``.
    """

    batches: Any
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    probe: torch.Tensor
    deformed: torch.Tensor
    noisy: torch.Tensor
    bound: list[tuple[float, torch.Tensor, list[float], list[float]]]
    in_channels: int
    num_classes: int
    description: dict[str, str]
    probe_y: torch.Tensor | None = None
    protocol: int = 1
    grid: int = 3
    strength: float = 2.0
    seed: int = 0
    sine: torch.Tensor | None = None
    sine_noisy: torch.Tensor | None = None
    sine_temperature: float = math.nan
    translations: list[tuple[float, torch.Tensor, list[float], list[float]]] | None = None

    @property
    def measures(self) -> MeasurementProtocol:
        """What the run's protocol measures."""
        return measurement_protocol(self.protocol)


@functools.lru_cache(maxsize=8)
def _checksum(dataset) -> str:
    return dataset.checksum()


def augmentation(config: RunConfig) -> Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None:
    """The function that augments each training batch of ``config`` (``None`` for ``"none"``):
    :func:`~defstab_lib.tasks.flip_crop`, or :func:`~defstab_lib.tasks.flip_crop_tps` at the grid and strength of
    the run's probe deformations.  It is applied per batch to the training batches only
    (:class:`~defstab_lib.train.TensorBatches`), never to the probe, the test images or the images on which train
    accuracy is measured.

    >>> from defstab_lib.runs.config import DataConfig
    >>> augmentation(RunConfig("x", data=DataConfig(augmentation="flip-crop-tps"))).keywords
    {'grid': 3, 'strength': 2.0}
    """
    kind = config.data.augmentation
    if kind == "none":
        return None
    if kind == "flip-crop":
        return flip_crop
    if kind == "flip-crop-tps":
        return functools.partial(flip_crop_tps, grid=config.probe.grid, strength=config.probe.strength)
    raise ValueError(f"augmentation {kind!r} has no implementation; allowed: none, flip-crop, flip-crop-tps")


def build_run_data(config: RunConfig, device: torch.device) -> RunData:
    """Load or generate the data of ``config`` on ``device`` (see the module docstring)."""
    d, p = config.data, config.probe
    augment = augmentation(config)
    if d.dataset == "synthetic":
        templates, where = synthetic_templates(d.classes, d.templates, size=d.image_size)
        task = SyntheticDeformationTask(templates.to(device), d.strength, examples_per_epoch=d.train_size or 10_000,
                                        batch_size=config.batch_size, seed=config.seed, grid=d.grid)
        cpu_task = SyntheticDeformationTask(templates, d.strength, examples_per_epoch=config.batch_size,
                                            batch_size=config.batch_size, seed=config.seed, grid=d.grid)
        test_x, test_y = cpu_task.fixed_set(d.test_size or 1000, stream=1)
        train_x, train_y = cpu_task.fixed_set(min(d.train_size or 10_000, TRAIN_EVAL_SIZE), stream=3)
        probe, probe_y = cpu_task.fixed_set(p.images, stream=2)
        batches, in_channels, num_classes = task, templates.shape[1], d.classes
        description = {"dataset": "synthetic", "templates": where, "strength": f"{d.strength:g} px"}
    else:
        train, test = load_dataset(d.dataset, "train"), load_dataset(d.dataset, "test")
        g = torch.Generator().manual_seed(config.seed)
        train_idx = torch.randperm(len(train), generator=g)[: d.train_size or len(train)]
        test_idx = torch.randperm(len(test), generator=torch.Generator().manual_seed(TEST_SUBSET_SEED))
        test_idx = test_idx[: d.test_size or len(test)]
        train_images = pad_to_size(train.images[train_idx], d.image_size)
        labels = train.labels[train_idx]
        if d.labels == "random":
            labels = random_labels(len(train_idx), len(train.classes), config.seed)
        test_x, test_y = pad_to_size(test.images[test_idx], d.image_size), test.labels[test_idx]
        batches = TensorBatches(train_images, labels, config.batch_size, seed=config.seed, augment=augment,
                                device=device)
        train_x, train_y = train_images[:TRAIN_EVAL_SIZE], labels[:TRAIN_EVAL_SIZE]
        chosen = torch.randperm(len(test_x), generator=torch.Generator().manual_seed(p.seed))[: p.images]
        probe, probe_y = test_x[chosen].float() / 255.0, test_y[chosen]
        in_channels, num_classes = train.images.shape[1], len(train.classes)
        description = {"dataset": d.dataset, "source": train.source,
                       "checksum": f"sha256:{_checksum(train)[:16]} (train), sha256:{_checksum(test)[:16]} (test)"}
    if len(probe) < p.images:
        raise ValueError(f"probe images={p.images} exceeds the {len(probe)} test images available")
    deformed, _ = deform(probe, p.grid, p.strength, generator=torch.Generator().manual_seed(p.seed + 1))
    noisy = noise_matched(probe, deformed, generator=torch.Generator().manual_seed(p.seed + 2))
    bound = []
    for i, c in enumerate(p.bound_strengths):
        moved, displacements = deform(probe[: p.bound_images], p.grid, c,
                                      generator=torch.Generator().manual_seed(p.seed + 100 + i))
        max_disp, max_jac = field_norms(displacement_field(displacements, tuple(probe.shape[-2:])))
        bound.append((c, moved.to(device), max_disp.tolist(), max_jac.tolist()))
    extra = {}
    if p.measures.extended:
        sine, sine_noisy, temperature = v2.sine_probe(probe, p.seed)
        translations = [(t, moved.to(device), disp, jac)
                        for t, moved, disp, jac in v2.translation_probe(probe[: p.bound_images], p.seed)]
        extra = dict(sine=sine.to(device), sine_noisy=sine_noisy.to(device), sine_temperature=temperature,
                     translations=translations)
    return RunData(
        batches=batches, train_x=train_x.to(device), train_y=train_y.to(device), test_x=test_x.to(device),
        test_y=test_y.to(device), probe=probe.to(device), deformed=deformed.to(device), noisy=noisy.to(device),
        bound=bound, in_channels=int(in_channels), num_classes=int(num_classes), description=description,
        probe_y=probe_y.to(device=device, dtype=torch.int64), protocol=p.protocol, grid=p.grid,
        strength=p.strength, seed=p.seed, **extra,
    )


def measure(model: torch.nn.Module, data: RunData, epoch: int | float, *, bound: bool = False,
            precision: str = "auto") -> Measurement:
    """Every measurement of a run at one epoch (the model is left in training mode).

    ``bound`` marks a *full* measurement (initialisation and the end): the Bietti-Mairal sweep, and under
    protocol 2 the per-image values, the worst case at every layer of
    :func:`~defstab_lib.runs.protocol.worst_layers` and the translation sweep, with ADef's label flips when
    ``epoch > 0`` (the end).  See :mod:`defstab_lib.runs.protocol`.  Accuracies and losses are evaluated in the
    run's ``precision`` (``defstab_lib.train.PRECISIONS``), the rest in float32.
    """
    profile = sensitivity_profile(model, data.probe, data.deformed, noise=data.noisy)
    sweep = None
    if bound:
        m = data.bound[0][1].shape[0]
        sweep = {
            "strengths": [c for c, *_ in data.bound],
            "max_displacement": [d for _, _, d, _ in data.bound],
            "max_jacobian": [j for *_, j in data.bound],
            "change": [relative_change(model, data.probe[:m], moved).tolist() for _, moved, _, _ in data.bound],
        }
        if data.measures.extended:
            sweep["change"] = v2.round_sig(sweep["change"])
    n = None if bound or not data.measures.dense else v2.TRAJECTORY_EVAL  # protocol 2's light measurements: a subset
    train_acc, train_loss = evaluate(model, data.train_x[:n], data.train_y[:n], precision=precision)
    test_acc, test_loss = evaluate(model, data.test_x[:n], data.test_y[:n], precision=precision)
    extra = {}
    if data.measures.extended:
        extra = _measure_v2(model, data, profile, full=bound, flips=bound and epoch > 0)
        extra["eval_images"] = [len(data.train_y[:n]), len(data.test_y[:n])]
    model.train()
    return Measurement(
        epoch=epoch,
        cosine=[float(v) for v in profile.normalized_cosine],
        euclidean=[float(v) for v in profile.normalized_euclidean],
        noise_cosine=[float(v) for v in profile.noise_normalized_cosine],
        smoothness=[float(v) for v in smoothness_profile(model)],
        train_accuracy=train_acc,
        test_accuracy=test_acc,
        train_loss=train_loss,
        test_loss=test_loss,
        bound=sweep,
        v2=Protocol2Fields(**extra) if extra else None,
    )


def _measure_v2(model: torch.nn.Module, data: RunData, profile, *, full: bool, flips: bool) -> dict[str, Any]:
    """The fields protocol 2 adds to a measurement (:mod:`defstab_lib.runs.protocol`)."""
    m = min(v2.WORST_IMAGES, data.probe.shape[0])
    images, labels = data.probe[:m], data.probe_y[:m]
    layers = v2.worst_layers(len(profile.layers))
    out = {
        "noise_euclidean": [float(v) for v in profile.noise_normalized_euclidean],
        "median_cosine": [float(v) for v in profile.cosine_median],
        "median_euclidean": [float(v) for v in profile.euclidean_median],
        "worst_case": v2.worst_case_summary(model, images, data.deformed[:m], labels, profile,
                                            layers if full else layers[-1:], grid=data.grid, budget=data.strength,
                                            seed=data.seed, full=full),
        "sine": v2.sine_stability(model, data.probe, data.sine, data.sine_noisy, data.sine_temperature),
    }
    if full:
        out["per_image"] = v2.per_image(profile)
        out["translations"] = v2.translation_changes(model, data.probe[: data.translations[0][1].shape[0]],
                                                     data.translations)
    if flips:
        out["adef"] = v2.label_flips(model, images, labels, data.grid)
    return out


def _train(config: RunConfig, store: ResultsStore, device: torch.device, progress: bool,
           on_epoch: Callable[[int], None] | None = None) -> Results:
    data = build_run_data(config, device)
    a = config.arch
    model = make_vgg(a.spec, a.downsampling, in_channels=data.in_channels, num_classes=data.num_classes,
                     width=a.width, smooth_sigma=a.smooth_sigma,
                     generator=torch.Generator().manual_seed(init_seed(config))).to(device)
    optimizer, scheduler = make_optimizer(model, config.optim, len(data.batches), config.epochs)
    work = store.work_path(config)
    measurements: list[Measurement] = []
    history: list[dict[str, float]] = []
    start_epoch, elapsed, resumed = 0, 0.0, None
    state = store.load_resume_state(config, device)
    if state is not None:
        if state.get("key") == run_key(config):
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            measurements = [Measurement.from_json(m) for m in state["measurements"]]
            history = list(state["history"])
            start_epoch, elapsed = int(state["epoch"]), float(state["elapsed"])
            resumed = start_epoch
    started = time.perf_counter() - elapsed
    if start_epoch == 0:
        atomic_torch_save(model.state_dict(), store.checkpoint_path(config, "init"))
        measurements = [measure(model, data, 0, bound=True, precision=config.precision)]
    forward = torch.compile(model) if config.compile else None  # shares model's parameters; measurements use model
    if on_epoch is not None:
        on_epoch(start_epoch)
    bar = progress_bar(range(start_epoch + 1, config.epochs + 1), desc=config.describe(), disable=not progress,
               initial=start_epoch, total=config.epochs, unit="epoch")
    for epoch in bar:
        stats = train_epoch(model, data.batches, optimizer, scheduler, epoch, device=device, progress=progress,
                            description=f"epoch {epoch}/{config.epochs}", precision=config.precision,
                            forward=forward, on_step=_fraction_hook(model, data, epoch, measurements, config.precision),
                            label_smoothing=config.optim.label_smoothing)
        history.append(dataclasses.asdict(stats))
        if epoch in config.measured_epochs:
            measurements.append(measure(model, data, epoch, bound=epoch == config.epochs, precision=config.precision))
            bar.set_postfix(loss=f"{stats.loss:.3f}", test_acc=f"{measurements[-1].test_accuracy:.3f}",
                            img_s=f"{stats.images_per_s:.0f}")
        atomic_torch_save(
            {"key": run_key(config), "epoch": epoch, "elapsed": time.perf_counter() - started,
             "model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
             "measurements": [m.to_json() for m in measurements], "history": history},
            work,
        )
        if on_epoch is not None:
            on_epoch(epoch)
    bar.close()
    atomic_torch_save(model.state_dict(), store.checkpoint_path(config, "final"))
    results = Results(
        config=config, measurements=measurements, history=history,
        provenance=provenance_record(
            device, time.perf_counter() - started, resumed_from_epoch=resumed,
            # which command trained it (the CLI's id, inherited by its workers and jobs): a command that waited
            # for another's lock and then loaded the run says "loaded", not "trained"
            invocation=os.environ.get(INVOCATION_ENV, ""), **{f"data_{k}": v for k, v in data.description.items()},
            arithmetic="bfloat16 autocast" if uses_bf16(device, config.precision) else "float32"),
        checkpoints={"init": store.checkpoint_path(config, "init").name,
                     "final": store.checkpoint_path(config, "final").name},
    )
    store.save(results)
    work.unlink(missing_ok=True)
    return results


def _fraction_hook(model: torch.nn.Module, data: RunData, epoch: int, measurements: list[Measurement],
                   precision: str = "auto"):
    """Protocol 2's measurements inside the first epoch (after the steps nearest to each of
    :data:`~defstab_lib.runs.protocol.FRACTIONS` of it), appended to ``measurements``; ``None`` otherwise."""
    if not data.measures.dense or epoch != 1:
        return None
    steps = len(data.batches)
    at: dict[int, float] = {}
    for f in v2.FRACTIONS:  # with few steps per epoch two fractions may fall on one step: the first is kept
        at.setdefault(max(1, round(f * steps)), f)

    def hook(step: int) -> None:
        if step in at and step < steps:
            measurements.append(measure(model, data, at[step], precision=precision))

    return hook


def run_or_load(
    config: RunConfig,
    *,
    force: bool = False,
    progress: bool = True,
    store: ResultsStore | None = None,
    device: str | torch.device | None = None,
    on_epoch: Callable[[int], None] | None = None,
) -> Results:
    """The results of ``config``: loaded when stored, otherwise trained, measured and stored.

    Args:
        config: the run.
        force: train again even if stored (and overwrite the stored result).
        progress: show progress bars (``tqdm.auto``).
        store: the results store (default: :func:`~defstab_lib.runs.store.results_root`).
        device: where to train (``None``/``"auto"``: CUDA when available).
        on_epoch: called with the epoch training starts from (0, or the resumed one), then after every epoch;
            not called when the result is loaded.

    Raises:
        CorruptResultError: the stored file exists but cannot be read (never silently retrained over).

    Two processes asking for the same run at once: the second waits for the first (a lock per key) and then loads
    its result.
    """
    store = store or ResultsStore()
    if not force and (stored := store.load(config)) is not None:
        return stored
    dev = resolve_device(device)
    store.check_writable()
    with store.lock(config):
        if not force and (stored := store.load(config)) is not None:
            return stored
        if force:
            store.discard_resume_state(config)
        with run_threads(dev):  # the numbers are a function of the config, not of how many threads were free
            return _train(config, store, dev, progress, on_epoch)


def check_data(configs: list[RunConfig], *, download: bool | None = None, no_download: str | None = None) -> None:
    """Make sure the datasets of ``configs`` are on this machine before work on them starts, downloading what is
    missing once, here (:func:`~defstab_lib.data.require_dataset`); synthetic runs need no files.

    Raises:
        DatasetNotFoundError: a dataset is found nowhere (one line: where it looked, how to provide it).
    """
    for name in sorted({c.data.dataset for c in configs} - {"synthetic"}):
        require_dataset(name, download=download, no_download=no_download)


def run_configs(
    configs: list[RunConfig],
    *,
    force: bool = False,
    progress: bool = True,
    store: ResultsStore | None = None,
    device: str | torch.device | None = None,
    jobs: int | None = None,
    executor: str = "processes",
    resources: JobResources | None = None,
) -> list[Results]:
    """:func:`run_or_load` for each config: the missing ones trained in parallel, then all loaded, in order.

    Args:
        configs, force, progress, store, device: as for :func:`run_or_load`.
        jobs: worker processes on this machine (``executor="processes"``), each with ``cores // jobs`` threads
            (:mod:`.parallel`).  ``None``: one per core when more than one run is missing on the CPU, one on a
            GPU; more than the missing runs are capped (and said so).  With one worker the runs train here, in
            this process, one after the other.
        executor: ``"processes"`` (this machine), ``"slurm"`` (one SLURM job per missing run, through submitit)
            or ``"local"`` (submitit's local executor: the same jobs as subprocesses here, for testing);
            :mod:`.cluster`.  This call waits for the jobs; ``python -m defstab_lib run --executor slurm``
            submits and returns.
        resources: SLURM resources (partition, time, CPUs, GPUs, memory); only with ``executor="slurm"``.

    Raises:
        ValueError, TypeError: bad ``jobs``, ``executor`` or ``resources``, before any work.
        ModuleNotFoundError: ``executor`` needs submitit and it is not installed.
        DatasetNotFoundError: a missing run's dataset is on neither this machine nor downloadable (checked before
            any worker or job starts, except on SLURM, whose nodes may see other files).
        WorkerFailure: some runs were not stored (a worker failed); the message gives each distinct failure once
            with its count, and which runs kept a resume state.
    """
    check_executor(executor, resources, jobs)
    store = store or ResultsStore()
    missing = [c for c in configs if force or not store.exists(c)]
    if missing and executor != "slurm":
        check_data(missing)
    if executor != "processes" and missing:
        submitted = submit_runs(missing, run=run_or_load, executor=executor, store=store, resources=resources,
                                device=device, force=force)
        wait_for(submitted)
        force = False  # trained by the jobs: load
    elif missing:
        workers, note = plan_workers(jobs, len(missing), resolve_device(device))
        if note and progress:
            print(note, flush=True)
        if workers > 1:
            run_in_processes(missing, run=run_or_load, jobs=workers, store=store, device=device, force=force,
                             progress=progress)
            force = False
    left = len(configs) if force else sum(not store.exists(c) for c in configs)  # to train here, one at a time
    out = []
    bar = progress_bar(configs, desc=f"{left} of {len(configs)} runs to train", disable=not progress or left == 0, unit="run")
    for config in bar:
        out.append(run_or_load(config, force=force, progress=progress, store=store, device=device))
    return out


def results_table(results: list[Results]) -> list[dict[str, Any]]:
    """One row per run: its setting, accuracies, wall time and device (for chapters and the report)."""
    rows = []
    for r in results:
        c = r.config
        rows.append({
            "run": run_key(c),
            "setting": c.describe().split(": ", 1)[1],
            "train acc": f"{r.final.train_accuracy:.3f}",
            "test acc": f"{r.final.test_accuracy:.3f}",
            "wall time": f"{r.provenance.get('wall_time_s', float('nan')):.0f} s",
            "device": r.provenance.get("device_name", "?"),
        })
    return rows

