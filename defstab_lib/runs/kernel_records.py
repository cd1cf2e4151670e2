"""The kernel view's stored measurements as records (:class:`KernelBaselines`, :class:`CNNTranslations`): what
:mod:`defstab_lib.runs.kernel_view` computes and stores, read through accessors.  Kept apart from the computing
code (which builds the runs' data) so that :mod:`defstab_lib.analysis` can read them without reaching training.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from .. import checks
from .records import Computed

__all__ = ["FAMILIES", "KernelBaselines", "CNNTranslations"]

#: Which samples a sweep accessor returns: the runs' deformations or the translations.
FAMILIES = ("deformations", "translations")


@dataclasses.dataclass
class KernelBaselines:
    """The stored measurements of :func:`kernel_baselines` (see the module doc for what each is).

    Attributes:
        params: the parameters (the stored key is computed from them).
        payload: the stored numbers (JSON), read through the accessors below.
        provenance: device, wall time, versions (from the store).
        source: the stored computation it was read from (its file: ``source.file``); ``None`` when built in
            memory.
    """

    params: dict[str, Any]
    payload: dict[str, Any]
    provenance: dict[str, Any]
    source: Computed | None = dataclasses.field(default=None, repr=False, compare=False)

    @classmethod
    def from_computed(cls, computed: Computed) -> KernelBaselines:
        """The kernel baselines of a stored computation, keeping it as their source."""
        return cls(params=computed.params, payload=computed.payload, provenance=computed.provenance, source=computed)

    @property
    def pool_sigmas(self) -> list[float]:
        """The CKN's per-layer pooling standard deviations, pixels of each layer's input."""
        return list(self.payload["ckn"]["pool_sigmas"])

    @property
    def ckn_scales(self) -> list[float]:
        """The CKN's pooling scale ``sigma_n`` (the last layer's pooling std in input pixels) per ``sigma``."""
        return list(self.payload["ckn"]["pooling_scales"])

    @property
    def scattering_J(self) -> list[int]:
        return list(self.payload["scattering"]["J"])

    @property
    def scattering_scales(self) -> list[float]:
        """Standard deviation (input pixels) of the scattering's final Gaussian average ``phi_J``: ``0.8 2^J``
        (kymatio's)."""
        return [0.8 * 2**j for j in self.scattering_J]

    def _sweep(self, entry: dict[str, Any], family: str) -> dict[str, Any]:
        checks.choice("family", family, FAMILIES)
        shared = self.payload["sweep" if family == "deformations" else "translation_sweep"]
        return {**shared, **entry[family]}

    def ckn_sweep(self, sigma_index: int, seed: int = 0, family: str = "deformations") -> dict[str, Any]:
        """The sweep of the CKN with ``pool_sigmas[sigma_index]`` and anchors of ``seed``, in the layout of a run's
        ``Measurement.bound`` (for :func:`~defstab_lib.kernels.bound.fit_sweep`): the runs' deformations or the
        translations."""
        return self._sweep(self.payload["ckn"]["sweeps"][sigma_index][seed], family)

    def scattering_sweep(self, j_index: int, family: str = "deformations") -> dict[str, Any]:
        """The sweep of the scattering transform with ``J = scattering_J[j_index]`` (``family`` as
        :meth:`ckn_sweep`)."""
        return self._sweep(self.payload["scattering"]["sweeps"][j_index], family)

    def ckn_profiles(self, field: str = "cosine") -> dict[float, np.ndarray]:
        """``{sigma: (seeds, layers)}`` per-layer normalized cosine distance (``"cosine"``) or its noise-matched
        control (``"noise_cosine"``)."""
        return {s: np.array([p[field] for p in per_seed])
                for s, per_seed in zip(self.pool_sigmas, self.payload["ckn"]["profiles"])}

    def scattering_profiles(self, field: str = "cosine") -> dict[int, np.ndarray]:
        """``{J: (layers,)}`` per-layer profile (input, orders 0-2, all coefficients)."""
        return {j: np.array(p[field]) for j, p in zip(self.scattering_J, self.payload["scattering"]["profiles"])}

    def accuracies(self) -> dict[str, dict[str, Any]]:
        """``{"pixels": ..., "scattering": ..., "ckn sigma=<s>": ...}``: each a linear probe's JSON
        (``test_accuracy``, ``train_accuracy``, ``l2``, ...)."""
        out = {"pixels": self.payload["pixels"]["accuracy"],
               "scattering": self.payload["scattering"]["accuracy"]}
        for s, acc in zip(self.pool_sigmas, self.payload["ckn"]["accuracy"]):
            out[f"ckn sigma={s:g}"] = acc
        return out


class CNNTranslations:
    """The stored translation sweeps of the ``pooling`` runs (see :func:`cnn_translation_sweeps`).

    Attributes:
        params, payload, provenance: the record (``record["params"]``, ...).
        source: the stored computation it was read from (its file: ``source.file``); ``None`` for a record built
            in memory (:func:`defstab_lib.runs.protocol.translation_record`).
    """

    def __init__(self, record: dict[str, Any], source: Computed | None = None) -> None:
        self.params, self.payload, self.provenance = record["params"], record["payload"], record["provenance"]
        self.source = source

    @classmethod
    def from_computed(cls, computed: Computed) -> CNNTranslations:
        """The sweeps of a stored computation, keeping it as their source."""
        return cls({"params": computed.params, "payload": computed.payload, "provenance": computed.provenance},
                   source=computed)

    def sweep(self, result, which: str) -> dict[str, Any]:
        """The translation sweep of a run (a :class:`~defstab_lib.runs.Results` or its key) at ``"init"`` or
        ``"final"``, in the layout of ``Measurement.bound``."""
        key = result if isinstance(result, str) else result.key
        if key not in self.payload["runs"]:
            raise ValueError(f"run {key} has no stored translation sweep; stored: {sorted(self.payload['runs'])}")
        checks.choice("which", which, ("init", "final"))
        return {**self.payload["sweep"], **self.payload["runs"][key][which]}
