"""Translations: the deformations with ``||grad tau||_inf = 0``, which isolate the bound's ``||tau||_inf`` term.

The sweep that every ``pooling`` run stores deforms images by random thin-plate splines of growing strength;
growing a random deformation scales ``||tau||_inf`` and ``||grad tau||_inf`` together, so a fit of the change on
both cannot tell their slopes apart (:mod:`~defstab_lib.kernels.bound`).  A translation by ``t`` pixels has
``||tau||_inf = t`` and ``grad tau = 0``: the bound then reads ``||Phi(L_tau x) - Phi(x)|| <= C2 t / sigma_n ||x||``,
the term that pooling controls.  Adding translations to the sweep separates the two slopes.

- :func:`translation_sweep` translates images by ``t`` pixels in a random direction per image (bilinear, with the
  deformations' reflection fill: :func:`defstab_lib.deform.warp` of a constant field), in the layout of a run's
  sweep;
- :func:`cnn_translation_sweeps` measures the translation sweep of the ``pooling`` runs' stored networks, at
  initialisation and after training, from their checkpoints (no training), stored in the results store
  (``kernel-baselines/<key>.json``, keyed by the runs and the bytes of their checkpoints).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import torch

from .. import _random
from . import _checks

__all__ = ["translation_sweep", "TRANSLATION_SEED_OFFSET", "CNNTranslations", "cnn_translation_sweeps"]

#: The translations of a probe with seed ``s`` are drawn with ``torch.Generator().manual_seed(s + 300)`` (the runs'
#: deformation sweep uses ``s + 100 + i``).
TRANSLATION_SEED_OFFSET = 300


def translation_sweep(images: torch.Tensor, strengths: Sequence[float], *, generator: torch.Generator | None = None
                      ) -> list[tuple[float, torch.Tensor, list[float], list[float]]]:
    """Every image translated by ``t`` pixels, for each ``t`` in ``strengths``, in a direction drawn uniformly per
    image and strength.

    Args:
        images: ``(M, C, H, W)`` float images.
        strengths: translation lengths ``t`` in pixels, each ``> 0``.
        generator: draws the directions (on the CPU; ``None``: a fresh OS-seeded generator).

    Returns:
        per strength ``(t, translated (M, C, H, W), ||tau||_inf (M,) = t, ||grad tau||_inf (M,) = 0)``, the
        layout of :attr:`defstab_lib.runs.RunData.bound`; the norms are measured on the field
        (:func:`defstab_lib.deform.field_norms`).

    >>> out = translation_sweep(torch.rand(2, 1, 8, 8), [1.0], generator=torch.Generator().manual_seed(0))
    >>> t, moved, disp, jac = out[0]
    >>> t, tuple(moved.shape), [round(d, 5) for d in disp], jac
    (1.0, (2, 1, 8, 8), [1.0, 1.0], [0.0, 0.0])
    """
    from ..deform import field_norms, warp

    _checks.tensor("images", images, ndim=4, what="(M, C, H, W)")
    if isinstance(strengths, (str, bytes)) or not isinstance(strengths, Sequence) or not strengths:
        raise ValueError(f"strengths must be a non-empty list of lengths > 0 (pixels), got {strengths!r}")
    strengths = [_checks.nonnegative_float("strengths", t, strict=True) for t in strengths]
    generator = _random.check_generator(generator)
    m, _, h, w = images.shape
    out = []
    for t in strengths:
        angle = 2 * torch.pi * torch.rand(m, generator=generator, device=generator.device, dtype=torch.float64)
        vector = t * torch.stack([angle.cos(), angle.sin()], dim=1)  # (M, 2): (dx, dy) pixels
        field = vector[:, None, None, :].expand(m, h, w, 2).to(device=images.device, dtype=images.dtype)
        disp, jac = field_norms(field)
        out.append((t, warp(images, field.contiguous()), disp.tolist(), jac.tolist()))
    return out


class CNNTranslations:
    """The stored translation sweeps of the ``pooling`` runs (see :func:`cnn_translation_sweeps`).

    Attributes:
        params, payload, provenance: the stored record.
    """

    def __init__(self, record: dict[str, Any]) -> None:
        self.params, self.payload, self.provenance = record["params"], record["payload"], record["provenance"]

    def sweep(self, result, which: str) -> dict[str, Any]:
        """The translation sweep of a run (a :class:`~defstab_lib.runs.Results` or its key) at ``"init"`` or
        ``"final"``, in the layout of ``Measurement.bound``."""
        key = result if isinstance(result, str) else result.key
        if key not in self.payload["runs"]:
            raise ValueError(f"run {key} has no stored translation sweep; stored: {sorted(self.payload['runs'])}")
        _checks.choice("which", which, ("init", "final"))
        return {**self.payload["sweep"], **self.payload["runs"][key][which]}


def _file_digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def cnn_translation_sweeps(configs: Sequence, *, strengths: Sequence[float] | None = None, store=None,
                           device: str = "auto", force: bool = False) -> CNNTranslations:
    """Measure (or load) the translation sweep of stored ``pooling`` runs at initialisation and after training.

    Every run's initial and final weights are loaded from its checkpoints; the first ``bound_images`` probe
    images are translated by each strength (:func:`translation_sweep`, drawn with the probe's seed
    ``+ TRANSLATION_SEED_OFFSET``: the same translations for every run and for the kernel baselines), and the
    change of every layer is recorded as in the runs' own sweep (``"change"``, relative to ``||r(x)||``, and
    ``"change_over_input"``).

    Args:
        configs: runs of one experiment sharing one probe (e.g. ``experiment_configs("pooling", profile)``), all
            stored with their checkpoints.
        strengths: translation lengths (pixels); ``None``: the runs' ``bound_strengths``.
        store: the results store (default: the one at :func:`~defstab_lib.runs.results_root`).
        device: where to compute (``"auto"``: CUDA when present); not part of the stored key.
        force: measure again even if stored.

    Raises:
        ValueError: no configs, configs with different probes, or a run that is not stored; before any work.
    """
    from .. import runs
    from ..models import make_vgg
    from .baselines import EXPERIMENT, change_sweep

    configs = list(configs)
    if not configs:
        raise ValueError("configs must hold at least one run")
    probe = configs[0].probe
    if any(c.probe != probe or c.data != configs[0].data for c in configs):
        raise ValueError("configs must share one dataset and one probe (one experiment at one profile)")
    store = store or runs.ResultsStore()
    missing = [c.describe() for c in configs if not store.exists(c)]
    if missing:
        raise ValueError(f"these runs are not stored (run them first): {missing[:3]}"
                         + (f" and {len(missing) - 3} more" if len(missing) > 3 else ""))
    strengths = list(probe.bound_strengths) if strengths is None else \
        [_checks.nonnegative_float("strengths", t, strict=True) for t in strengths]
    params = {
        "measurement": "translation sweeps of stored runs", "strengths": strengths,
        "runs": {runs.run_key(c): {w: _file_digest(store.checkpoint_path(c, w)) for w in ("init", "final")}
                 for c in configs},
    }

    def compute() -> dict[str, Any]:
        dev = runs.execute.resolve_device(device)
        data = runs.build_run_data(configs[0], dev)
        images = data.probe[: probe.bound_images]
        sweep = translation_sweep(images, strengths,
                                  generator=torch.Generator().manual_seed(probe.seed + TRANSLATION_SEED_OFFSET))
        moved = [s[1] for s in sweep]
        out = {}
        for config in configs:
            a = config.arch
            model = make_vgg(a.spec, a.downsampling, in_channels=data.in_channels, num_classes=data.num_classes,
                             width=a.width, smooth_sigma=a.smooth_sigma,
                             generator=torch.Generator().manual_seed(config.seed)).to(dev)
            out[runs.run_key(config)] = {}
            for which in ("init", "final"):
                model.load_state_dict(store.load_checkpoint(config, which))
                out[runs.run_key(config)][which] = change_sweep(model, images, moved, list(range(model.num_layers)))
        return {"sweep": {"strengths": strengths, "max_displacement": [s[2] for s in sweep],
                          "max_jacobian": [s[3] for s in sweep]},
                "runs": out}

    return CNNTranslations(store.computed(EXPERIMENT, params, compute, force=force, device=device))
