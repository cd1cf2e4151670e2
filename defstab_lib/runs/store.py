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
import errno
import io
import json
import os
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch

from ..provenance import provenance_record, resolve_device
from .config import RunConfig, run_key
# the records the store reads and writes, importable from here as before they had a module of their own
from .records import (COMPUTATION_PROTOCOL, COMPUTED_SCHEMA, SCHEMA, Computed, CorruptResultError, Measurement,
                      Protocol2Fields, Results, computation_key, file_name, relative_file)

__all__ = ["SCHEMA", "COMPUTED_SCHEMA", "COMPUTATION_PROTOCOL", "computation_key", "CorruptResultError",
           "StoreWriteError", "Measurement", "Protocol2Fields", "Results", "Computed", "ResultsStore", "results_root",
           "atomic_write", "relative_file"]

class StoreWriteError(OSError):
    """The results store cannot be written (missing permission, read-only or full disk); names the path."""


def results_root() -> Path:
    """``$DEFSTAB_RESULTS``, else ``results/`` of the checkout this library lives in, else ``./results``.

    Warns (``UserWarning``) when ``$DEFSTAB_RESULTS`` names a folder that does not exist or holds nothing.

    Raises:
        NotADirectoryError: ``$DEFSTAB_RESULTS`` names something that exists and is not a folder (a file): nothing
            could be stored in it, nor read from it.
    """
    if os.environ.get("DEFSTAB_RESULTS"):
        root = Path(os.environ["DEFSTAB_RESULTS"]).expanduser()
        if root.exists() and not root.is_dir():
            raise NotADirectoryError(f"DEFSTAB_RESULTS={os.environ['DEFSTAB_RESULTS']!r} is not a folder ({root} is a "
                                     f"file): it must name a folder, the results store's root")
        if not root.is_dir() or not any(root.iterdir()):
            warnings.warn(f"DEFSTAB_RESULTS={os.environ['DEFSTAB_RESULTS']!r} is {'empty' if root.is_dir() else 'missing'}"
                          f": no stored result will be found there (every run counts as missing)", stacklevel=2)
        return root
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "results").is_dir() and (checkout / "pyproject.toml").is_file():
        return checkout / "results"
    return Path.cwd() / "results"


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


def _read_json(path: Path) -> Any:
    """The JSON stored at ``path``, ``None`` when there is no such file; :class:`CorruptResultError` naming it when
    it is not valid JSON."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CorruptResultError(f"{path}: not valid JSON ({exc}); delete the file or rerun with force to recompute "
                                 f"it") from exc


class ResultsStore:
    """Stored results under ``root`` (default :func:`results_root`)."""

    def __init__(self, root: str | os.PathLike | None = None) -> None:
        self.root = Path(root) if root is not None else results_root()

    def file(self, experiment: str, key: str, suffix: str = ".json") -> Path:
        """The file of a stored record (a run's or a computation's), ``<root>/<experiment>/<key><suffix>``: the one
        place that builds the store's paths (:func:`~defstab_lib.runs.records.file_name`); it need not exist."""
        return self.root / file_name(experiment, key, suffix)

    def path(self, config: RunConfig) -> Path:
        """The file of a run's results."""
        return self.file(config.experiment, run_key(config))

    def computation_path(self, experiment: str, params: dict[str, Any]) -> Path:
        """The file of a stored computation (:meth:`computed`) of ``experiment`` with ``params``."""
        return self.file(experiment, computation_key(experiment, params))

    def checkpoint_path(self, config: RunConfig, which: str) -> Path:
        if which not in ("init", "final"):
            raise ValueError(f"which must be 'init' or 'final', got {which!r}")
        return self.file(config.experiment, run_key(config), f".{which}.pt")

    def work_path(self, config: RunConfig) -> Path:
        """Where a run's resume state lives while it trains."""
        return self.file(f"{config.experiment}/_work", run_key(config), ".state.pt")

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
        if (d := _read_json(path)) is None:
            return None
        results = Results.from_json(d, source=str(path))
        if results.key != run_key(config):
            raise CorruptResultError(f"{path}: holds the run {results.key}, not {run_key(config)}")
        return results

    def save(self, results: Results) -> Path:
        """Store ``results`` atomically; return the path."""
        path = self.path(results.config)
        atomic_write(path, results.to_bytes())
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
        path = self.file(experiment, key, ".lock")
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

    def computed(self, experiment: str, params: dict[str, Any], compute: Callable[[], dict[str, Any]] | None, *,
                 force: bool = False, device: str | None = None, stored_only: bool = False) -> Computed:
        """The stored result of a computation that trains nothing (Figure 4's random networks, the kernel
        baselines), or ``compute()``'s, stored first.

        Stored as ``<experiment>/<key>.json`` (:func:`computation_key` of ``params``) with the same guarantees as
        runs: atomic writes, a lock per key, corrupt files raise.  ``compute`` returns a JSON-ready dict; the
        stored record adds ``params`` and ``provenance`` (:func:`~defstab_lib.provenance.provenance_record`, with
        the device ``device`` names -- where ``compute`` runs, not part of the key).

        Args:
            stored_only: read only: raise ``LookupError`` instead of computing what is not stored (``compute`` may
                then be ``None``).

        Returns:
            the :class:`~defstab_lib.runs.records.Computed` record, with its file.

        Raises:
            LookupError: ``stored_only`` and nothing is stored for ``params`` (the message names the file).
            CorruptResultError: the stored file is not this computation (delete it, or ``force``).
        """
        key = computation_key(experiment, params)
        path = self.file(experiment, key)
        if stored_only and force:
            raise ValueError("stored_only and force contradict each other: pass one of them")

        def load() -> Computed | None:
            d = _read_json(path)
            return None if d is None else Computed.from_json(d, path, experiment=experiment, key=key)

        if not force and (stored := load()) is not None:
            return stored
        if stored_only:
            raise LookupError(f"{experiment} with {params} is not in the results store: no {path}; compute it by "
                              f"calling again without stored_only (or render the chapter that reads it)")
        if compute is None:
            raise TypeError("compute must be a function returning the computation's payload, got None")
        with self._lock(experiment, key):
            if not force and (stored := load()) is not None:
                return stored
            start = time.perf_counter()
            payload = compute()
            record = Computed(experiment, key, params, payload,
                              provenance_record(resolve_device(device), time.perf_counter() - start), path)
            atomic_write(path, record.to_bytes())
            return record

    def _records(self, experiment: str | None) -> Iterator[tuple[Path, Any]]:
        """Every stored record's file and parsed JSON (of one experiment, or of all), sorted by path."""
        for path in sorted(self.root.glob(str(file_name(experiment or "*", "*")))):
            yield path, _read_json(path)

    def stored(self, experiment: str | None = None) -> list[Results]:
        """Every stored training run (of one experiment, or of all), sorted by path; stored computations
        (:meth:`computed`) are left out; corrupt files raise."""
        return [Results.from_json(d, source=str(path)) for path, d in self._records(experiment)
                if not (isinstance(d, dict) and d.get("schema") == COMPUTED_SCHEMA)]

    def stored_computations(self, experiment: str | None = None) -> list[Computed]:
        """Every stored computation (:meth:`computed`; of one experiment, or of all), sorted by path; training runs
        are left out; corrupt files raise."""
        return [Computed.from_json(d, path) for path, d in self._records(experiment)
                if isinstance(d, dict) and d.get("schema") == COMPUTED_SCHEMA]
