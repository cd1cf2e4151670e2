"""Argument checks shared by the whole library: one vocabulary, one wording.

Each check raises before any expensive work and names the argument, the value it got and what is allowed
(``TypeError`` for a wrong kind of value, ``ValueError`` for a wrong value).  Shapes are written as in kornia's
``KORNIA_CHECK_SHAPE``: a space-separated string of dimension names, where a name is any size, a number is that
exact size and a leading ``*`` allows any number of leading dimensions.

>>> import torch
>>> check_shape("images", torch.zeros(2, 3, 8, 8), "B 3 H W")
>>> check_shape("images", torch.zeros(2, 1, 8, 8), "B 3 H W")
Traceback (most recent call last):
...
ValueError: images must have shape (B, 3, H, W), got (2, 1, 8, 8)
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import torch

__all__ = ["check_shape", "check_tensor", "check_finite", "positive_int", "nonnegative_float", "choice",
           "per_layer", "unique"]


def _spec_text(dims: list[str]) -> str:
    return "(" + ", ".join(dims) + ")"


def check_shape(name: str, value: torch.Tensor, spec: str) -> None:
    """Check that ``value``'s shape matches ``spec`` (e.g. ``"B C H W"``, ``"B 2 H W"``, ``"* H W"``).

    Raises:
        ValueError: wrong number of dimensions, or a numbered dimension of another size.
    """
    dims = spec.split()
    shape = tuple(value.shape)
    if dims and dims[0] == "*":
        fixed = dims[1:]
        ok = len(shape) >= len(fixed)
        tail = shape[len(shape) - len(fixed):] if ok else ()
    else:
        fixed, tail, ok = dims, shape, len(shape) == len(dims)
    if ok:
        ok = all(not d.isdigit() or int(d) == s for d, s in zip(fixed, tail))
    if not ok:
        raise ValueError(f"{name} must have shape {_spec_text(dims)}, got {shape}")


def check_tensor(name: str, value: Any, spec: str | None = None, *, floating: bool = True,
                 finite: bool = False) -> torch.Tensor:
    """Check that ``value`` is a tensor (of shape ``spec``, floating point, finite where asked) and return it.

    >>> check_tensor("x", [1.0])
    Traceback (most recent call last):
    ...
    TypeError: x must be a torch.Tensor, got list
    """
    if not isinstance(value, torch.Tensor):
        what = f" of shape {_spec_text(spec.split())}" if spec else ""
        raise TypeError(f"{name} must be a torch.Tensor{what}, got {type(value).__name__}")
    if spec is not None:
        check_shape(name, value, spec)
    if floating and not value.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {value.dtype}")
    if finite:
        check_finite(name, value)
    return value


def check_finite(name: str, value: torch.Tensor) -> None:
    """Raise ``ValueError`` when ``value`` holds NaN or inf.

    >>> check_finite("images", torch.tensor([0.0, float("nan")]))
    Traceback (most recent call last):
    ...
    ValueError: images must be finite; found 1 NaN or inf value(s)
    """
    bad = int((~torch.isfinite(value)).sum()) if value.is_floating_point() else 0
    if bad:
        raise ValueError(f"{name} must be finite; found {bad} NaN or inf value(s)")


def positive_int(name: str, value: Any, *, minimum: int = 1, maximum: int | None = None) -> int:
    """``value`` as an int in ``[minimum, maximum]``; bools and floats are refused (no silent float -> int).

    >>> positive_int("seeds", 3)
    3
    >>> positive_int("seeds", 2.0)
    Traceback (most recent call last):
    ...
    TypeError: seeds must be an int >= 1, got 2.0
    """
    bound = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int {bound}, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be an int {bound}, got {value!r}")
    return int(value)


def nonnegative_float(name: str, value: Any, *, strict: bool = False) -> float:
    """``value`` as a finite float ``>= 0`` (``> 0`` when ``strict``)."""
    bound = "> 0" if strict else ">= 0"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number {bound}, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or not (value > 0 if strict else value >= 0):
        raise ValueError(f"{name} must be a finite real number {bound}, got {value!r}")
    return value


def choice(name: str, value: Any, allowed: Sequence[Any]) -> Any:
    """``value`` when it is one of ``allowed``.

    >>> choice("downsampling", "maxpol", ["maxpool", "avgpool"])
    Traceback (most recent call last):
    ...
    ValueError: downsampling must be one of 'maxpool', 'avgpool'; got 'maxpol'
    """
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(repr(a) for a in allowed)}; got {value!r}")
    return value


def per_layer(name: str, value: Any, n_layers: int) -> list[Any]:
    """Broadcast a scalar to ``n_layers`` entries, or check a sequence has exactly ``n_layers`` entries."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        return [value] * n_layers
    value = list(value)
    if len(value) != n_layers:
        raise ValueError(f"{name} must be one value or a sequence of {n_layers} (one per layer), got {value!r}")
    return value


def unique(name: str, values: Sequence[Any]) -> list[Any]:
    """``values`` as a list, refusing repeated items (a repeated run would count twice).

    >>> unique("downsampling", ["maxpool", "maxpool"])
    Traceback (most recent call last):
    ...
    ValueError: downsampling lists 'maxpool' more than once; give each value once
    """
    seen: list[Any] = []
    for v in values:
        if v in seen:
            raise ValueError(f"{name} lists {v!r} more than once; give each value once")
        seen.append(v)
    return seen
