"""Argument checks shared by the kernels package: each raises before any expensive work and names the argument,
the value it got and what is allowed."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import torch


def positive_int(name: str, value: Any, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def nonnegative_float(name: str, value: Any, *, strict: bool = False) -> float:
    bound = "> 0" if strict else ">= 0"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number {bound}, got {value!r}")
    value = float(value)
    if not (value > 0 if strict else value >= 0) or value != value or value == float("inf"):
        raise ValueError(f"{name} must be a finite real number {bound}, got {value!r}")
    return value


def choice(name: str, value: Any, allowed: Sequence[Any]) -> Any:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(repr(a) for a in allowed)}; got {value!r}")
    return value


def tensor(name: str, value: Any, *, ndim: int, what: str, floating: bool = True) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape {what}, got {type(value).__name__}")
    if value.ndim != ndim:
        raise ValueError(f"{name} must have shape {what} ({ndim} dimensions), got shape {tuple(value.shape)}")
    if floating and not value.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {value.dtype}")
    return value


def per_layer(name: str, value: Any, n_layers: int) -> list[Any]:
    """Broadcast a scalar to ``n_layers`` entries, or check a sequence has exactly ``n_layers`` entries."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        return [value] * n_layers
    value = list(value)
    if len(value) != n_layers:
        raise ValueError(f"{name} must be one value or a sequence of {n_layers} (one per layer), got {value!r}")
    return value
