"""Where and from what a result was computed: the device, its name, the library's git commit, and the provenance
record every stored result carries (:func:`provenance_record`).

One implementation for the runs, the stored computations and the book's status page.
"""

from __future__ import annotations

import datetime as _dt
import functools
import platform
import subprocess
from pathlib import Path
from typing import Any

import torch

from . import __version__

__all__ = ["resolve_device", "device_name", "git_commit", "provenance_record"]

_DEVICE_TYPES = ("cpu", "cuda", "mps")


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``None`` or ``"auto"``: CUDA when available, else the CPU; other names are checked and passed through.

    Raises:
        ValueError: a device name that is not ``auto``, ``cpu``, ``cuda[:N]`` or ``mps``, or a device this machine
            does not have (``cuda`` without a CUDA GPU, ``cuda:3`` with two, ``mps`` off Apple silicon) -- before
            any data is loaded or anything trains.

    >>> resolve_device("cpu")
    device(type='cpu')
    >>> resolve_device("tpu")
    Traceback (most recent call last):
    ...
    ValueError: device 'tpu' is not allowed; allowed: 'auto', 'cpu', 'cuda[:N]', 'mps'
    """
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    allowed = "allowed: 'auto', 'cpu', 'cuda[:N]', 'mps'"
    if isinstance(device, torch.device):
        dev = device
    elif not isinstance(device, str) or device.split(":")[0] not in _DEVICE_TYPES:
        raise ValueError(f"device {device!r} is not allowed; {allowed}")
    else:
        try:
            dev = torch.device(device)
        except RuntimeError:
            raise ValueError(f"device {device!r} is not a valid device name; {allowed}") from None
    _check_present(dev, device)
    return dev


def _check_present(dev: torch.device, asked: object) -> None:
    """Raise ``ValueError`` when this machine does not have the device ``dev``."""
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ValueError(f"device {str(asked)!r} was asked for, but this machine has no CUDA GPU "
                             f"(torch {torch.__version__}); use 'auto' or 'cpu'")
        if dev.index is not None and dev.index >= count:
            raise ValueError(f"device {str(asked)!r} was asked for, but this machine has {count} CUDA GPU(s) "
                             f"(cuda:0..cuda:{count - 1})")
    elif dev.type == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise ValueError(f"device {str(asked)!r} was asked for, but MPS is not available here; use 'auto' or 'cpu'")


def device_name(device: torch.device) -> str:
    """The GPU's name, or ``"CPU: <model name>"`` (from ``/proc/cpuinfo`` where there is one)."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"CPU: {line.split(':', 1)[1].strip()}"
    except OSError:
        pass
    return f"CPU: {platform.processor() or platform.machine()}"


@functools.lru_cache(maxsize=8)
def git_commit(path: Path | None = None, *, dirty: bool = False) -> str:
    """The short commit of the git checkout holding ``path`` (default: this library), ``"unknown"`` outside one.

    With ``dirty``, say so when tracked files have uncommitted changes.
    """
    cwd = Path(path) if path is not None else Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=cwd, capture_output=True,
                                text=True, check=True, timeout=10).stdout.strip()
        changed = dirty and subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                                           capture_output=True, text=True, check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"
    return commit + (" (with uncommitted changes)" if changed else "")


def provenance_record(device: torch.device, wall_time_s: float, **extra: Any) -> dict[str, Any]:
    """What a stored result records about how it was computed, the same for a trained run and a stored computation:
    the library's version and git commit, torch's and Python's versions, the device (type and name), torch's
    threads, the host, the date (UTC), the wall time in seconds (rounded to 0.01 s), then ``extra`` as given.

    >>> record = provenance_record(resolve_device("cpu"), 1.234, resumed_from_epoch=None)
    >>> list(record)[:4], record["device"], record["wall_time_s"], list(record)[-1]
    (['library_version', 'git_commit', 'torch_version', 'python'], 'cpu', 1.23, 'resumed_from_epoch')
    """
    return {
        "library_version": __version__,
        "git_commit": git_commit(),
        "torch_version": torch.__version__,
        "python": platform.python_version(),
        "device": device.type,
        "device_name": device_name(device),
        "threads": torch.get_num_threads(),
        "host": platform.node(),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "wall_time_s": round(wall_time_s, 2),
        **extra,
    }
