"""The results store: ``<root>/<experiment>/<key>.json`` with provenance, checkpoints beside it.

- Writes are atomic: a temporary file in the same folder, flushed and fsync'ed, then ``os.replace``; an
  interrupted run never leaves a half-written result.
- A file that is not valid JSON, or whose schema or key is wrong, raises :class:`CorruptResultError` naming the
  file: it is never silently retrained over.  Delete it (or pass ``force=True`` to ``run_or_load``) to redo it.
- :meth:`ResultsStore.lock` is an exclusive lock per key (``fcntl.flock`` on ``<key>.lock``; released by the
  operating system when a process dies), so that two processes asking for the same run train it once.
- Checkpoints (``<key>.init.pt``, ``<key>.final.pt``) hold ``state_dict`` tensors only and load with
  ``torch.load(..., weights_only=True)``.  Resume state lives in ``<root>/<experiment>/_work/``.

The root is ``$DEFSTAB_RESULTS`` when set, else the ``results/`` folder of the checkout the library lives in,
else ``./results``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import hashlib
import io
import json
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from .. import __version__
from ..provenance import device_name, git_commit, resolve_device
from .config import PROTOCOL_VERSION, RunConfig, config_from_dict, config_to_dict, run_key

__all__ = ["SCHEMA", "COMPUTED_SCHEMA", "computation_key", "CorruptResultError", "Measurement", "Results", "ResultsStore", "results_root", "atomic_write"]

SCHEMA = "defstab.results/1"
COMPUTED_SCHEMA = "defstab.computed/1"


def computation_key(experiment: str, params: dict[str, Any]) -> str:
    """The key of a stored computation: 16 hex digits of SHA-256 over its experiment, parameters and protocol.

    >>> computation_key("smooth-init", {"seeds": 2}) == computation_key("smooth-init", {"seeds": 2})
    True
    """
    blob = json.dumps({"protocol": PROTOCOL_VERSION, "experiment": experiment, "params": params}, sort_keys=True,
                      separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


class CorruptResultError(RuntimeError):
    """A stored result cannot be read; the message names the file and says what to do."""


def results_root() -> Path:
    """``$DEFSTAB_RESULTS``, else ``results/`` of the checkout this library lives in, else ``./results``."""
    if os.environ.get("DEFSTAB_RESULTS"):
        return Path(os.environ["DEFSTAB_RESULTS"]).expanduser()
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "results").is_dir() and (checkout / "pyproject.toml").is_file():
        return checkout / "results"
    return Path.cwd() / "results"


@dataclasses.dataclass
class Measurement:
    """What a run measured at one epoch (0 = initialisation).

    Per-layer lists follow the layer numbering of ``defstab_lib.probe`` (index 0 = the input); ``smoothness`` has
    one entry per conv layer (normalized total variation, ``defstab_lib.metrics``).  ``bound`` (at
    initialisation and at the end only, else ``None``) holds the sweep for the Bietti-Mairal bound:
    ``strengths`` (S,), ``max_displacement`` and ``max_jacobian`` (S x M, pixels and pixels per pixel), and
    ``change`` (S x L x M: ``||r(tau x) - r(x)|| / ||r(x)||`` per strength, layer and image).
    """

    epoch: int
    cosine: list[float]
    euclidean: list[float]
    noise_cosine: list[float]
    smoothness: list[float]
    train_accuracy: float
    test_accuracy: float
    train_loss: float
    test_loss: float
    bound: dict[str, list] | None = None

    @property
    def noise_ratio(self) -> list[float]:
        """Deformation sensitivity over noise sensitivity, per layer (Petrini et al. 2021's relative stability)."""
        return [c / n if n > 0 else float("nan") for c, n in zip(self.cosine, self.noise_cosine)]


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
            "protocol": PROTOCOL_VERSION,
            "key": self.key,
            "config": config_to_dict(self.config),
            "measurements": [dataclasses.asdict(m) for m in self.measurements],
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
            results = cls(config, measurements, list(d["history"]), dict(d["provenance"]),
                          dict(d.get("checkpoints", {})))
        except (KeyError, TypeError, ValueError) as exc:
            raise CorruptResultError(f"{source}: not a valid result ({type(exc).__name__}: {exc}); delete the file "
                                     f"or rerun with force to recompute it") from exc
        if d.get("key") != results.key or not measurements:
            raise CorruptResultError(f"{source}: its key {d.get('key')!r} does not match its config "
                                     f"({results.key}) or it holds no measurement")
        return results


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file in the same folder, fsync, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # as an ordinary open() would create it, not mkstemp's 0600
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
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
        return self.path(config).is_file()

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
        atomic_write(path, (json.dumps(results.to_json(), indent=1, allow_nan=True) + "\n").encode())
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
                "schema": COMPUTED_SCHEMA, "protocol": PROTOCOL_VERSION, "key": key, "experiment": experiment,
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
