"""The results store: ``<root>/<experiment>/<key>.json`` with provenance, checkpoints beside it.

- Writes are atomic: a temporary file in the same folder, flushed and fsync'ed, then ``os.replace``; an
  interrupted run never leaves a half-written result.
- A file that is not valid JSON, or whose schema or key is wrong, raises :class:`CorruptResultError` naming the
  file: it is never silently retrained over.  Delete it (or pass ``force=True`` to ``run_or_load``) to redo it.
- :meth:`ResultsStore.lock` is an exclusive lock per key (``fcntl.flock`` on ``<key>.lock``; released by the
  operating system when a process dies), so that two processes asking for the same run train it once.
- Checkpoints (``<key>.init.pt``, ``<key>.final.pt``) hold ``state_dict`` tensors only and load with
  ``torch.load(..., weights_only=True)``.  Resume state lives in ``<root>/<experiment>/_work/``.

The root is ``$DEFSTAB_RESULTS`` when set (a warning says so when that folder is missing or empty: a typo there
would show every result as missing), else the ``results/`` folder of the checkout the library lives in, else
``./results``.  A root that cannot be written raises :class:`StoreWriteError` naming it before anything trains
(:meth:`ResultsStore.check_writable`); a write that fails (a full disk, a read-only folder) raises it too, naming
the file, and leaves the stored file as it was.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import math
import numbers
import datetime as _dt
import hashlib
import io
import json
import os
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from .. import __version__
from ..provenance import device_name, git_commit, resolve_device
from .config import RunConfig, config_from_dict, config_to_dict, run_key

__all__ = ["SCHEMA", "COMPUTED_SCHEMA", "computation_key", "CorruptResultError", "StoreWriteError", "Measurement",
           "Results", "ResultsStore", "results_root", "atomic_write"]

SCHEMA = "defstab.results/1"
COMPUTED_SCHEMA = "defstab.computed/1"
#: The protocol hashed into every computation's key (stored computations measure untrained networks and the kernel
#: baselines, whose measurements protocol 2 did not change: their keys stay those of protocol 1).
COMPUTATION_PROTOCOL = 1


def computation_key(experiment: str, params: dict[str, Any]) -> str:
    """The key of a stored computation: 16 hex digits of SHA-256 over its experiment, parameters and protocol.

    >>> computation_key("smooth-init", {"seeds": 2}) == computation_key("smooth-init", {"seeds": 2})
    True
    """
    blob = json.dumps({"protocol": COMPUTATION_PROTOCOL, "experiment": experiment, "params": params}, sort_keys=True,
                      separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


class CorruptResultError(RuntimeError):
    """A stored result cannot be read; the message names the file and says what to do."""


class StoreWriteError(OSError):
    """The results store cannot be written (missing permission, read-only or full disk); names the path."""


def results_root() -> Path:
    """``$DEFSTAB_RESULTS``, else ``results/`` of the checkout this library lives in, else ``./results``.

    Warns (``UserWarning``) when ``$DEFSTAB_RESULTS`` names a folder that does not exist or holds nothing.
    """
    if os.environ.get("DEFSTAB_RESULTS"):
        root = Path(os.environ["DEFSTAB_RESULTS"]).expanduser()
        if not root.is_dir() or not any(root.iterdir()):
            warnings.warn(f"DEFSTAB_RESULTS={os.environ['DEFSTAB_RESULTS']!r} is {'empty' if root.is_dir() else 'missing'}"
                          f": no stored result will be found there (every run counts as missing)", stacklevel=2)
        return root
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "results").is_dir() and (checkout / "pyproject.toml").is_file():
        return checkout / "results"
    return Path.cwd() / "results"


@dataclasses.dataclass
class Measurement:
    """What a run measured at one epoch (0 = initialisation; protocol 2 also at fractions of the first epoch).

    Per-layer lists follow the layer numbering of ``defstab_lib.probe`` (index 0 = the input); ``smoothness`` has
    one entry per conv layer (normalized total variation, ``defstab_lib.metrics``).  ``bound`` (at
    initialisation and at the end only, else ``None``) holds the sweep for the Bietti-Mairal bound:
    ``strengths`` (S,), ``max_displacement`` and ``max_jacobian`` (S x M, pixels and pixels per pixel), and
    ``change`` (S x L x M: ``||r(tau x) - r(x)|| / ||r(x)||`` per strength, layer and image).

    Protocol 1 stores the fields up to ``bound``; the others are ``None`` there.  Protocol 2
    (:mod:`defstab_lib.runs.protocol`, which says what each holds) fills ``noise_euclidean``, ``median_cosine``,
    ``median_euclidean``, ``worst_case``, ``sine`` and ``eval_images`` (the training and test images the accuracies
    and losses were evaluated on) at every measurement, and ``per_image`` and ``translations``
    at initialisation and at the end, ``adef`` at the end.  ``epoch`` is an int, or a float below 1 for the
    measurements inside the first epoch.
    """

    epoch: int | float
    cosine: list[float]
    euclidean: list[float]
    noise_cosine: list[float]
    smoothness: list[float]
    train_accuracy: float
    test_accuracy: float
    train_loss: float
    test_loss: float
    bound: dict[str, list] | None = None
    noise_euclidean: list[float] | None = None
    median_cosine: list[float] | None = None
    median_euclidean: list[float] | None = None
    per_image: dict[str, list] | None = None
    worst_case: dict[str, Any] | None = None
    sine: dict[str, Any] | None = None
    translations: dict[str, list] | None = None
    adef: dict[str, Any] | None = None
    eval_images: list[int] | None = None

    #: The per-layer fields (one entry per layer, like ``cosine``) that protocol 2 adds.
    LAYER_FIELDS_V2 = ("noise_euclidean", "median_cosine", "median_euclidean")
    #: The mapping fields that protocol 2 adds, and the keys each must hold.
    MAPPING_FIELDS_V2 = {
        "per_image": ("cosine", "euclidean", "noise_cosine", "noise_euclidean"),
        "worst_case": ("layers", "worst", "random", "loss_worst", "loss_random", "loss_clean"),
        "sine": ("temperature", "D_f", "G_f", "R_f"),
        "translations": ("strengths", "change"),
        "adef": ("max_displacement", "flipped", "correct"),
    }

    def validate(self, source: str) -> None:
        """Raise :class:`CorruptResultError` naming ``source`` and the field when a value has the wrong type or a
        per-layer list the wrong length."""
        def bad(field: str, why: str) -> CorruptResultError:
            return CorruptResultError(f"{source}: measurement at epoch {self.epoch!r}: {field} {why}; delete the file "
                                      f"or rerun with force to recompute it")

        if not _is_number(self.epoch) or self.epoch < 0 or (not isinstance(self.epoch, int) and self.epoch >= 1):
            raise bad("epoch", f"is {self.epoch!r}, not an int >= 0 or a fraction of the first epoch")
        n_layers = None
        for field in ("cosine", "euclidean", "noise_cosine", "smoothness", *self.LAYER_FIELDS_V2):
            value = getattr(self, field)
            if value is None and field in self.LAYER_FIELDS_V2:
                continue
            if not isinstance(value, list) or not value or not all(_is_number(v) for v in value):
                raise bad(field, "is not a non-empty list of numbers")
            if field != "smoothness":
                if n_layers is not None and len(value) != n_layers:
                    raise bad(field, f"has {len(value)} layers where cosine has {n_layers}")
                n_layers = len(value)
        for field in ("train_accuracy", "test_accuracy", "train_loss", "test_loss"):
            value = getattr(self, field)
            if not _is_number(value):
                raise bad(field, f"is {value!r}, not a number")
        for field in ("train_accuracy", "test_accuracy"):
            value = getattr(self, field)
            if not math.isnan(value) and not 0.0 <= value <= 1.0:
                raise bad(field, f"is {value!r}, not in [0, 1]")
        if self.bound is not None and not isinstance(self.bound, dict):
            raise bad("bound", "is not a mapping")
        for field, keys in self.MAPPING_FIELDS_V2.items():
            value = getattr(self, field)
            if value is None:
                continue
            if not isinstance(value, dict) or any(k not in value for k in keys):
                raise bad(field, f"is not a mapping with the keys {list(keys)}")
        if self.eval_images is not None and (not isinstance(self.eval_images, list) or len(self.eval_images) != 2
                                             or not all(isinstance(v, int) and v > 0 for v in self.eval_images)):
            raise bad("eval_images", f"is {self.eval_images!r}, not [training images, test images]")
        if self.per_image is not None and any(len(v) != n_layers for v in self.per_image.values()):
            raise bad("per_image", f"does not hold {n_layers} layers in each of its arrays")

    @property
    def noise_ratio(self) -> list[float]:
        """Deformation sensitivity over noise sensitivity, per layer (Petrini et al. 2021's relative stability)."""
        return [c / n if n > 0 else float("nan") for c, n in zip(self.cosine, self.noise_cosine)]

    def relative_stability(self, metric: str = "cosine") -> list[float]:
        """R = D / G per layer in ``metric`` (``"cosine"``: :attr:`noise_ratio`; ``"euclidean"``: protocol 2)."""
        if metric == "cosine":
            return self.noise_ratio
        if metric != "euclidean":
            raise ValueError(f"metric must be 'cosine' or 'euclidean', got {metric!r}")
        if self.noise_euclidean is None:
            raise ValueError("this measurement has no Euclidean noise control (protocol 1); measure with protocol 2")
        return [d / g if g > 0 else float("nan") for d, g in zip(self.euclidean, self.noise_euclidean)]


def _measurement_json(m: Measurement) -> dict[str, Any]:
    """A measurement as stored: the fields a protocol does not fill (``None``) are left out, so that protocol-1
    results keep protocol 1's form."""
    return {k: v for k, v in dataclasses.asdict(m).items() if v is not None or k == "bound"}


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


@dataclasses.dataclass
class Results:
    """A finished run: its config, the measurements at each measured epoch, the training history, provenance."""

    config: RunConfig
    measurements: list[Measurement]
    history: list[dict[str, float]]
    provenance: dict[str, Any]
    checkpoints: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def key(self) -> str:
        return run_key(self.config)

    def at(self, epoch: int | str) -> Measurement:
        """The measurement at ``epoch``; ``"init"`` and ``"final"`` name the first and the last."""
        if epoch == "init":
            return self.measurements[0]
        if epoch == "final":
            return self.measurements[-1]
        for m in self.measurements:
            if m.epoch == epoch:
                return m
        raise KeyError(f"no measurement at epoch {epoch}; measured: {[m.epoch for m in self.measurements]}")

    @property
    def initial(self) -> Measurement:
        return self.measurements[0]

    @property
    def final(self) -> Measurement:
        return self.measurements[-1]

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "protocol": self.config.probe.protocol,
            "key": self.key,
            "config": config_to_dict(self.config),
            "measurements": [_measurement_json(m) for m in self.measurements],
            "history": self.history,
            "provenance": self.provenance,
            "checkpoints": self.checkpoints,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any], *, source: str = "<dict>") -> Results:
        """Parse a stored result; raise :class:`CorruptResultError` naming ``source`` when it is not one."""
        if not isinstance(d, dict) or d.get("schema") != SCHEMA:
            found = d.get("schema") if isinstance(d, dict) else type(d).__name__
            raise CorruptResultError(f"{source}: schema is {found!r}, expected {SCHEMA!r}; delete the file or "
                                     f"rerun with force to recompute it")
        try:
            config = config_from_dict(d["config"])
            measurements = [Measurement(**m) for m in d["measurements"]]
            for m in measurements:
                m.validate(source)
            results = cls(config, measurements, list(d["history"]), dict(d["provenance"]),
                          dict(d.get("checkpoints", {})))
        except CorruptResultError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise CorruptResultError(f"{source}: not a valid result ({type(exc).__name__}: {exc}); delete the file "
                                     f"or rerun with force to recompute it") from exc
        if d.get("key") != results.key or not measurements:
            raise CorruptResultError(f"{source}: its key {d.get('key')!r} does not match its config "
                                     f"({results.key}) or it holds no measurement")
        return results


_WRITE_ERRORS = {errno.ENOSPC: "no space left on the device", errno.EDQUOT: "disk quota exceeded",
                 errno.EROFS: "read-only file system", errno.EACCES: "permission denied",
                 errno.EPERM: "operation not permitted"}


def _write_error(path: Path, exc: OSError) -> StoreWriteError:
    why = _WRITE_ERRORS.get(exc.errno, exc.strerror or str(exc))
    return StoreWriteError(exc.errno, f"cannot write {path}: {why}; nothing was changed there "
                                      f"(free space or choose another root with DEFSTAB_RESULTS)")


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file in the same folder, fsync, rename).

    Raises:
        StoreWriteError: the folder cannot be written (permission, read-only or full disk); ``path`` keeps its
            previous content and no temporary file is left.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise _write_error(path, exc) from exc
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # as an ordinary open() would create it, not mkstemp's 0600
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, StoreWriteError) and exc.errno in _WRITE_ERRORS:
            raise _write_error(path, exc) from exc
        raise


def atomic_torch_save(obj: Any, path: Path) -> None:
    """``torch.save`` to ``path`` atomically."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    atomic_write(path, buffer.getvalue())


class ResultsStore:
    """Stored results under ``root`` (default :func:`results_root`)."""

    def __init__(self, root: str | os.PathLike | None = None) -> None:
        self.root = Path(root) if root is not None else results_root()

    def path(self, config: RunConfig) -> Path:
        return self.root / config.experiment / f"{run_key(config)}.json"

    def checkpoint_path(self, config: RunConfig, which: str) -> Path:
        if which not in ("init", "final"):
            raise ValueError(f"which must be 'init' or 'final', got {which!r}")
        return self.root / config.experiment / f"{run_key(config)}.{which}.pt"

    def work_path(self, config: RunConfig) -> Path:
        """Where a run's resume state lives while it trains."""
        return self.root / config.experiment / "_work" / f"{run_key(config)}.state.pt"

    def exists(self, config: RunConfig) -> bool:
        """Whether a file is stored for ``config`` (not whether it is valid: see :meth:`state`)."""
        return self.path(config).is_file()

    def state(self, config: RunConfig) -> str:
        """``"stored"`` (a valid result), ``"missing"``, or ``"corrupt: <why>"`` -- what ``status`` counts."""
        try:
            return "missing" if self.load(config) is None else "stored"
        except CorruptResultError as exc:
            return f"corrupt: {exc}"

    def check_writable(self) -> None:
        """Raise :class:`StoreWriteError` naming the root when results could not be stored there (call it
        before training, not after)."""
        probe = None
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd, probe = tempfile.mkstemp(dir=self.root, prefix=".write-check.", suffix=".tmp")
            os.close(fd)
        except OSError as exc:
            raise StoreWriteError(exc.errno, f"the results root {self.root} cannot be written: "
                                             f"{_WRITE_ERRORS.get(exc.errno, exc.strerror or str(exc))}; choose "
                                             f"another with DEFSTAB_RESULTS") from exc
        finally:
            if probe is not None:
                with contextlib.suppress(OSError):
                    os.unlink(probe)

    def load_resume_state(self, config: RunConfig, device: torch.device | str = "cpu") -> dict[str, Any] | None:
        """A run's resume state (``None`` when there is none); a state that cannot be read raises
        :class:`CorruptResultError` naming its file (``force`` discards it: :meth:`discard_resume_state`)."""
        path = self.work_path(config)
        if not path.is_file():
            return None
        try:
            return torch.load(path, map_location=device, weights_only=True)
        except Exception as exc:  # torch raises RuntimeError, pickle errors or OSError for a damaged file
            raise CorruptResultError(f"{path}: the resume state of run {run_key(config)} cannot be read "
                                     f"({type(exc).__name__}: {exc}); rerun with force to discard it and "
                                     f"train from the start") from exc

    def discard_resume_state(self, config: RunConfig) -> None:
        """Delete a run's resume state, if any."""
        with contextlib.suppress(FileNotFoundError):
            self.work_path(config).unlink()

    def load(self, config: RunConfig) -> Results | None:
        """The stored results of ``config``, or ``None`` when there are none; corrupt files raise."""
        path = self.path(config)
        try:
            text = path.read_text()
        except FileNotFoundError:
            return None
        try:
            d = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CorruptResultError(f"{path}: not valid JSON ({exc}); delete the file or rerun with force to "
                                     f"recompute it") from exc
        results = Results.from_json(d, source=str(path))
        if results.key != run_key(config):
            raise CorruptResultError(f"{path}: holds the run {results.key}, not {run_key(config)}")
        return results

    def save(self, results: Results) -> Path:
        """Store ``results`` atomically; return the path."""
        path = self.path(results.config)
        # protocol 2 stores per-image arrays: one line (indenting every number would double the file)
        indent = 1 if results.config.probe.protocol == 1 else None
        atomic_write(path, (json.dumps(results.to_json(), indent=indent, allow_nan=True) + "\n").encode())
        return path

    def load_checkpoint(self, config: RunConfig, which: str) -> dict[str, torch.Tensor]:
        """A stored ``state_dict`` (``which`` = ``"init"`` or ``"final"``), loaded with ``weights_only=True``."""
        path = self.checkpoint_path(config, which)
        if not path.is_file():
            raise FileNotFoundError(f"no {which} checkpoint for run {run_key(config)} at {path}; rerun it with "
                                    f"force to recreate it")
        return torch.load(path, map_location="cpu", weights_only=True)

    def lock(self, config: RunConfig) -> contextlib.AbstractContextManager[None]:
        """Hold an exclusive lock on ``config``'s key (blocks while another process holds it)."""
        return self._lock(config.experiment, run_key(config))

    @contextlib.contextmanager
    def _lock(self, experiment: str, key: str) -> Iterator[None]:
        path = self.root / experiment / f"{key}.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a+") as f:
            try:
                import fcntl  # optional dependency: POSIX only (the store locks with flock where it exists)
            except ImportError:  # pragma: no cover - Windows: rely on atomic renames alone
                yield
                return
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)

    def computed(self, experiment: str, params: dict[str, Any], compute, *, force: bool = False,
                 device: str | None = None) -> dict[str, Any]:
        """The stored result of a computation that trains nothing (Figure 4's random networks, the kernel
        baselines), or ``compute()``'s, stored first.

        Stored as ``<experiment>/<key>.json`` (:func:`computation_key` of ``params``) with the same guarantees as
        runs: atomic writes, a lock per key, corrupt files raise.  ``compute`` returns a JSON-ready dict; the
        stored record adds ``params`` and ``provenance`` (library version, torch version, the name of ``device``
        -- where ``compute`` runs, not part of the key --, wall time, date).

        Returns:
            ``{"params": ..., "payload": compute(), "provenance": ...}``.
        """
        key = computation_key(experiment, params)
        path = self.root / experiment / f"{key}.json"

        def load() -> dict[str, Any] | None:
            try:
                d = json.loads(path.read_text())
            except FileNotFoundError:
                return None
            except json.JSONDecodeError as exc:
                raise CorruptResultError(f"{path}: not valid JSON ({exc}); delete the file or rerun with force to "
                                         f"recompute it") from exc
            if not isinstance(d, dict) or d.get("schema") != COMPUTED_SCHEMA or d.get("key") != key \
                    or "payload" not in d:
                raise CorruptResultError(f"{path}: not a stored computation of {experiment!r} with key {key}; "
                                         f"delete the file or rerun with force to recompute it")
            return d

        if not force and (stored := load()) is not None:
            return stored
        with self._lock(experiment, key):
            if not force and (stored := load()) is not None:
                return stored
            start = time.perf_counter()
            payload = compute()

            record = {
                "schema": COMPUTED_SCHEMA, "protocol": COMPUTATION_PROTOCOL, "key": key, "experiment": experiment,
                "params": params, "payload": payload,
                "provenance": {
                    "library_version": __version__, "git_commit": git_commit(), "torch_version": torch.__version__,
                    "device_name": device_name(resolve_device(device)),
                    "wall_time_s": round(time.perf_counter() - start, 2),
                    "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                },
            }
            atomic_write(path, (json.dumps(record, allow_nan=True, default=float) + "\n").encode())
            return record

    def stored(self, experiment: str | None = None) -> list[Results]:
        """Every stored training run (of one experiment, or of all), sorted by path; stored computations
        (:meth:`computed`) are left out; corrupt files raise."""
        pattern = f"{experiment}/*.json" if experiment else "*/*.json"
        out = []
        for path in sorted(self.root.glob(pattern)):
            try:
                d = json.loads(path.read_text())
            except json.JSONDecodeError as exc:
                raise CorruptResultError(f"{path}: not valid JSON ({exc})") from exc
            if isinstance(d, dict) and d.get("schema") == COMPUTED_SCHEMA:
                continue
            out.append(Results.from_json(d, source=str(path)))
        return out
