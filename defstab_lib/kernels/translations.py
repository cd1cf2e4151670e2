"""Translations: the deformations with ``||grad tau||_inf = 0``, which isolate the bound's ``||tau||_inf`` term.

The sweep that every ``pooling`` run stores deforms images by random thin-plate splines of growing strength;
growing a random deformation scales ``||tau||_inf`` and ``||grad tau||_inf`` together, so a fit of the change on
both cannot tell their slopes apart (:mod:`~defstab_lib.kernels.bound`).  A translation by ``t`` pixels has
``||tau||_inf = t`` and ``grad tau = 0``: the bound then reads ``||Phi(L_tau x) - Phi(x)|| <= C2 t / sigma_n ||x||``,
the term that pooling controls.  Adding translations to the sweep separates the two slopes.

- :func:`translation_sweep` shifts images by a whole number ``t`` of pixels along a random axis direction per
  image (:func:`defstab_lib.deform.warp` of a constant field, with the deformations' reflection fill), in the
  layout of a run's sweep.  Whole pixels, because a sub-pixel shift on the pixel grid is not a pure translation:
  bilinear resampling also blurs the image (by ``f (1 - f)`` of the second difference at a fractional offset
  ``f``), and a representation with wide pooling, nearly invariant to the shift, still sees the blur: measured,
  the change of such a representation at a 0.5 px shift can exceed its change at 1 px.  An integer shift samples
  pixel centres exactly;
- :func:`cnn_translation_sweeps` measures the translation sweep of the ``pooling`` runs' stored networks, at
  initialisation and after training, from their checkpoints (no training), stored in the results store
  (``kernel-baselines/<key>.json``, keyed by the runs and the bytes of their stored results, so that a clone
  without the checkpoints still loads it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import torch

from .. import _random
from ..provenance import resolve_device
from .. import checks

__all__ = ["translation_sweep", "TRANSLATION_LENGTHS", "TRANSLATION_SEED_OFFSET", "CNNTranslations",
           "cnn_translation_sweeps"]

#: Default translation lengths, whole pixels.
TRANSLATION_LENGTHS = (1, 2, 3, 4)

#: The translations of a probe with seed ``s`` are drawn with ``torch.Generator().manual_seed(s + 300)`` (the runs'
#: deformation sweep uses ``s + 100 + i``).
TRANSLATION_SEED_OFFSET = 300


def translation_sweep(images: torch.Tensor, lengths: Sequence[int] = TRANSLATION_LENGTHS, *,
                      generator: torch.Generator | None = None
                      ) -> list[tuple[float, torch.Tensor, list[float], list[float]]]:
    """Every image shifted by ``t`` whole pixels, for each ``t`` in ``lengths``, along one of the four axis
    directions (right, left, down, up) drawn uniformly per image and length.

    Args:
        images: ``(M, C, H, W)`` float images.
        lengths: translation lengths ``t``, whole pixels, each ``>= 1``.
        generator: draws the directions (on the CPU; ``None``: a fresh OS-seeded generator).

    Returns:
        per length ``(t, translated (M, C, H, W), ||tau||_inf (M,) = t, ||grad tau||_inf (M,) = 0)``, the
        layout of :attr:`defstab_lib.runs.RunData.bound`; the norms are measured on the field
        (:func:`defstab_lib.deform.field_norms`).

    >>> x = torch.arange(16.0).view(1, 1, 4, 4)
    >>> t, moved, disp, jac = translation_sweep(x, [1], generator=torch.Generator().manual_seed(0))[0]
    >>> t, disp, jac, moved[0, 0].tolist()      # shifted by one pixel to the right (reflection at the edge)
    (1.0, [1.0], [0.0], [[1.0, 2.0, 3.0, 3.0], [5.0, 6.0, 7.0, 7.0], [9.0, 10.0, 11.0, 11.0], [13.0, 14.0, 15.0, 15.0]])
    """
    from ..deform import field_norms, warp

    checks.check_tensor("images", images, "M C H W")
    if isinstance(lengths, (str, bytes)) or not isinstance(lengths, Sequence) or not lengths:
        raise ValueError(f"lengths must be a non-empty list of whole pixels >= 1, got {lengths!r}")
    lengths = [checks.positive_int("lengths", t) for t in lengths]
    generator = _random.check_generator(generator)
    m, _, h, w = images.shape
    axes = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])  # (dx, dy) unit steps
    out = []
    for t in lengths:
        direction = torch.randint(0, 4, (m,), generator=generator, device=generator.device).cpu()
        field = (t * axes[direction])[:, None, None, :].expand(m, h, w, 2)
        field = field.to(device=images.device, dtype=images.dtype).contiguous()
        disp, jac = field_norms(field)
        out.append((float(t), warp(images, field), disp.tolist(), jac.tolist()))
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
        checks.choice("which", which, ("init", "final"))
        return {**self.payload["sweep"], **self.payload["runs"][key][which]}


def _file_digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def cnn_translation_sweeps(configs: Sequence, *, lengths: Sequence[int] = TRANSLATION_LENGTHS, store=None,
                           device: str = "auto", force: bool = False) -> CNNTranslations:
    """Measure (or load) the translation sweep of stored ``pooling`` runs at initialisation and after training.

    Every run's initial and final weights are loaded from its checkpoints; the first ``bound_images`` probe
    images are translated by each strength (:func:`translation_sweep`, drawn with the probe's seed
    ``+ TRANSLATION_SEED_OFFSET``: the same translations for every run and for the kernel baselines), and the
    change of every layer is recorded as in the runs' own sweep (``"change"``, relative to ``||r(x)||``, and
    ``"change_over_input"``).

    Args:
        configs: runs of one experiment sharing one probe (e.g. ``experiment_configs("pooling", profile)``), all
            stored (their checkpoints are needed only to compute the sweep, not to load it).
        lengths: translation lengths, whole pixels (see :func:`translation_sweep`).
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
    if isinstance(lengths, (str, bytes)) or not isinstance(lengths, Sequence) or not lengths:
        raise ValueError(f"lengths must be a non-empty list of whole pixels >= 1, got {lengths!r}")
    lengths = [checks.positive_int("lengths", t) for t in lengths]
    params = {
        "measurement": "translation sweeps of stored runs", "lengths": lengths,
        # keyed by each run's stored result (committed), not by its checkpoints (not committed): a fresh clone
        # loads this computation without the weights, and a run trained again (a new result) invalidates it
        "runs": {runs.run_key(c): _file_digest(store.path(c)) for c in configs},
    }

    def compute() -> dict[str, Any]:
        dev = resolve_device(device)
        data = runs.build_run_data(configs[0], dev)
        images = data.probe[: probe.bound_images]
        sweep = translation_sweep(images, lengths,
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
        return {"sweep": {"strengths": [float(t) for t in lengths], "max_displacement": [s[2] for s in sweep],
                          "max_jacobian": [s[3] for s in sweep]},
                "runs": out}

    return CNNTranslations(store.computed(EXPERIMENT, params, compute, force=force, device=device))
