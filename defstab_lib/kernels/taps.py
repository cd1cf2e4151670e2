"""Feature taps: a kernel model's features as outputs of named submodules, so that :mod:`defstab_lib.probe` and
:mod:`defstab_lib.metrics` read them with forward hooks like any network's layers."""

from __future__ import annotations

import torch
from torch import nn

from .. import checks

__all__ = ["FeatureTaps"]


class FeatureTaps(nn.Module):
    """A model with ``forward_features`` (a :class:`~defstab_lib.kernels.CKN`, a
    :class:`~defstab_lib.kernels.Scattering`) whose features are outputs of named submodules, so that
    :mod:`defstab_lib.probe` and :mod:`defstab_lib.metrics` can read them with forward hooks.

    Feature ``k >= 1`` of ``model.forward_features(x)`` passes through ``taps[k - 1]`` (an ``nn.Identity``);
    with ``concat=True`` one more tap carries all features ``1..n`` flattened and concatenated, ``(B, D)``.
    :meth:`layer_keys` gives the probe's keys: ``[0, "taps.0", "taps.1", ...]``.

    >>> from defstab_lib.kernels import CKN
    >>> taps = FeatureTaps(CKN(1, (4, 8), generator=torch.Generator().manual_seed(0)), 2, concat=True)
    >>> taps.layer_keys()
    [0, 'taps.0', 'taps.1', 'taps.2']
    >>> taps(torch.rand(2, 1, 8, 8)).shape   # the concatenation: 4 * 4 * 4 + 8 * 2 * 2
    torch.Size([2, 96])
    """

    def __init__(self, model: nn.Module, n_features: int, *, concat: bool = False) -> None:
        super().__init__()
        if not callable(getattr(model, "forward_features", None)):
            raise TypeError(f"model must have a forward_features method, got {type(model).__name__}")
        self.model = model
        self.n_features = checks.positive_int("n_features", n_features)
        self.concat = bool(concat)
        self.taps = nn.ModuleList(nn.Identity() for _ in range(self.n_features + self.concat))

    def layer_keys(self) -> list[int | str]:
        return [0] + [f"taps.{i}" for i in range(len(self.taps))]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = self.model.forward_features(x)[1:]
        if len(feats) != self.n_features:
            raise ValueError(f"the model gave {len(feats)} features, not the n_features={self.n_features} declared")
        outs = [tap(f) for tap, f in zip(self.taps, feats)]
        if self.concat:
            outs.append(self.taps[-1](torch.cat([f.flatten(1) for f in feats], dim=1)))
        return outs[-1]
