"""The records of the results store, typed: a trained run (:class:`Results`, its :class:`Measurement` at each
measured epoch, protocol 2's fields nested in :class:`Protocol2Fields`) and a stored computation
(:class:`Computed`), with their keys, their exact JSON, and the layout that names their files.

A record serialises to exactly the bytes stored (:meth:`Results.to_bytes`, :meth:`Computed.to_bytes`): a
measurement's protocol-2 fields are nested in the record and flat in the file, so that no stored key and no stored
file changed when they were nested (``tests/runs/test_store.py`` re-serialises every committed result).  Files are
``<experiment>/<key>.json`` under the store's root (:func:`file_name`; ``results/<experiment>/<key>.json`` from the
repository: :func:`relative_file`); :class:`~defstab_lib.runs.store.ResultsStore` reads and writes them.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import math
import numbers
from pathlib import Path, PurePosixPath
from typing import Any

from ..metrics.sensitivity import NORMALISER_FLOOR
from .config import RunConfig, config_from_dict, config_to_dict, run_key

__all__ = ["SCHEMA", "COMPUTED_SCHEMA", "COMPUTATION_PROTOCOL", "RESULTS_FOLDER", "CorruptResultError",
           "computation_key", "file_name", "relative_file", "Protocol2Fields", "Measurement", "Results", "Computed"]

SCHEMA = "defstab.results/1"
COMPUTED_SCHEMA = "defstab.computed/1"
#: The protocol hashed into every computation's key (stored computations measure untrained networks and the kernel
#: baselines, whose measurements protocol 2 did not change: their keys stay those of protocol 1).
COMPUTATION_PROTOCOL = 1
#: The repository's folder of the committed store (what :func:`relative_file` names files from).
RESULTS_FOLDER = "results"


class CorruptResultError(RuntimeError):
    """A stored result cannot be read; the message names the file and says what to do."""


def computation_key(experiment: str, params: dict[str, Any]) -> str:
    """The key of a stored computation: 16 hex digits of SHA-256 over its experiment, parameters and protocol.

    >>> computation_key("smooth-init", {"seeds": 2}) == computation_key("smooth-init", {"seeds": 2})
    True
    """
    blob = json.dumps({"protocol": COMPUTATION_PROTOCOL, "experiment": experiment, "params": params}, sort_keys=True,
                      separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def file_name(experiment: str, key: str, suffix: str = ".json") -> PurePosixPath:
    """Where a stored record lives under the store's root: ``<experiment>/<key><suffix>`` (the one place that
    spells the store's layout; checkpoints and locks use other suffixes).

    >>> str(file_name("pooling", "0aedf9e311f390fc"))
    'pooling/0aedf9e311f390fc.json'
    """
    return PurePosixPath(experiment, f"{key}{suffix}")


def relative_file(experiment: str, key: str) -> str:
    """A stored record's file as the repository names it, ``"results/<experiment>/<key>.json"`` (whatever root
    ``$DEFSTAB_RESULTS`` points at): what a figure's provenance links to.

    >>> relative_file("smooth-init", "0123456789abcdef")
    'results/smooth-init/0123456789abcdef.json'
    """
    return f"{RESULTS_FOLDER}/{file_name(experiment, key)}"


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


#: The largest cosine distance: ``1 - cos`` of two representations is in [0, 2] (``metrics.distances`` clamps it).
MAX_COSINE = 2.0
#: The largest normalised cosine distance a measurement can hold: a mean of cosine distances (each at most
#: :data:`MAX_COSINE`) over a median of cosine distances that ``metrics.sensitivity`` refuses at or below
#: ``NORMALISER_FLOOR``.  Where the normaliser is stored (protocol 2's ``median_cosine``), the product of the two is
#: the mean cosine distance itself, at most :data:`MAX_COSINE` (a relative slack of :data:`_ROUNDING` for stored
#: rounding).
MAX_NORMALISED_COSINE = MAX_COSINE / NORMALISER_FLOOR
_ROUNDING = 1e-3


def _out_of_range(values: list, low: float, high: float = math.inf) -> float | None:
    """The first value of ``values`` outside ``[low, high]`` (NaN counts as in range: a diverged run is stored
    as it was), else ``None``."""
    return next((v for v in values if v < low or v > high), None)


def _bad(source: str, epoch: Any, field: str, why: str) -> CorruptResultError:
    return CorruptResultError(f"{source}: measurement at epoch {epoch!r}: {field} {why}; delete the file or rerun "
                              f"with force to recompute it")


@dataclasses.dataclass
class Protocol2Fields:
    """What protocol 2 adds to a measurement (:mod:`defstab_lib.runs.protocol` says what each holds); stored flat,
    beside the fields of :class:`Measurement`.

    ``noise_euclidean``, ``median_cosine``, ``median_euclidean``, ``worst_case``, ``sine`` and ``eval_images``
    (the training and test images the accuracies and losses were evaluated on) are filled at every measurement,
    ``per_image`` and ``translations`` at initialisation and at the end, ``adef`` at the end; a field not measured
    is ``None`` and left out of the file.
    """

    noise_euclidean: list[float] | None = None
    median_cosine: list[float] | None = None
    median_euclidean: list[float] | None = None
    per_image: dict[str, list] | None = None
    worst_case: dict[str, Any] | None = None
    sine: dict[str, Any] | None = None
    translations: dict[str, list] | None = None
    adef: dict[str, Any] | None = None
    eval_images: list[int] | None = None

    #: The per-layer fields (one entry per layer, like ``Measurement.cosine``).
    LAYER_FIELDS = ("noise_euclidean", "median_cosine", "median_euclidean")
    #: The mapping fields, and the keys each must hold.
    MAPPING_FIELDS = {
        "per_image": ("cosine", "euclidean", "noise_cosine", "noise_euclidean"),
        "worst_case": ("layers", "worst", "random", "loss_worst", "loss_random", "loss_clean"),
        "sine": ("temperature", "D_f", "G_f", "R_f"),
        "translations": ("strengths", "change"),
        "adef": ("max_displacement", "flipped", "correct"),
    }

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The fields, in their stored order."""
        return tuple(f.name for f in dataclasses.fields(cls))

    def to_json(self) -> dict[str, Any]:
        """The fields measured (not ``None``), in their stored order."""
        return {k: v for k in self.names() if (v := getattr(self, k)) is not None}

    def validate(self, source: str, epoch: Any, n_layers: int) -> None:
        """Raise :class:`CorruptResultError` naming ``source`` and the field when a value has the wrong type or a
        per-layer value does not hold ``n_layers`` layers."""
        for field in self.LAYER_FIELDS:
            value = getattr(self, field)
            if value is None:
                continue
            if not isinstance(value, list) or not value or not all(_is_number(v) for v in value):
                raise _bad(source, epoch, field, "is not a non-empty list of numbers")
            if len(value) != n_layers:
                raise _bad(source, epoch, field, f"has {len(value)} layers where cosine has {n_layers}")
        for field, keys in self.MAPPING_FIELDS.items():
            value = getattr(self, field)
            if value is not None and (not isinstance(value, dict) or any(k not in value for k in keys)):
                raise _bad(source, epoch, field, f"is not a mapping with the keys {list(keys)}")
        if self.eval_images is not None and (not isinstance(self.eval_images, list) or len(self.eval_images) != 2
                                             or not all(isinstance(v, int) and v > 0 for v in self.eval_images)):
            raise _bad(source, epoch, "eval_images", f"is {self.eval_images!r}, not [training images, test images]")
        if self.per_image is not None and any(len(v) != n_layers for v in self.per_image.values()):
            raise _bad(source, epoch, "per_image", f"does not hold {n_layers} layers in each of its arrays")


@dataclasses.dataclass
class Measurement:
    """What a run measured at one epoch (0 = initialisation; protocol 2 also at fractions of the first epoch).

    Per-layer lists follow the layer numbering of ``defstab_lib.probe`` (index 0 = the input); ``smoothness`` has
    one entry per conv layer (normalized total variation, ``defstab_lib.metrics``).  ``bound`` (at
    initialisation and at the end only, else ``None``) holds the sweep for the Bietti-Mairal bound:
    ``strengths`` (S,), ``max_displacement`` and ``max_jacobian`` (S x M, pixels and pixels per pixel), and
    ``change`` (S x L x M: ``||r(tau x) - r(x)|| / ||r(x)||`` per strength, layer and image).

    ``v2`` holds what protocol 2 (:mod:`defstab_lib.runs.protocol`) adds (:class:`Protocol2Fields`); ``None``
    under protocol 1.  ``epoch`` is an int, or a float below 1 for the measurements inside the first epoch.
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
    v2: Protocol2Fields | None = None

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Measurement:
        """A measurement from its stored (flat) form; ``TypeError`` for a field it does not have.

        >>> m = Measurement.from_json({"epoch": 0, "cosine": [1.0], "euclidean": [1.0], "noise_cosine": [0.5],
        ...     "smoothness": [2.0], "train_accuracy": 0.1, "test_accuracy": 0.1, "train_loss": 2.3,
        ...     "test_loss": 2.3, "sine": {"R_f": 2.0}})
        >>> m.v2.sine, m.to_json()["sine"], "bound" in m.to_json(), "adef" in m.to_json()
        ({'R_f': 2.0}, {'R_f': 2.0}, True, False)
        """
        names = Protocol2Fields.names()
        extended = {k: v for k, v in d.items() if k in names and v is not None}
        v2 = Protocol2Fields(**extended) if extended else None
        return cls(**{k: v for k, v in d.items() if k not in names}, v2=v2)

    def to_json(self) -> dict[str, Any]:
        """The stored form: flat, the fields a protocol does not fill left out (``bound`` is kept, ``None`` or not,
        so that protocol-1 results keep protocol 1's form); a copy, which editing leaves the record as it is."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "v2"}
        return copy.deepcopy({**out, **(self.v2.to_json() if self.v2 is not None else {})})

    def validate(self, source: str) -> None:
        """Raise :class:`CorruptResultError` naming ``source`` and the field when a value has the wrong type or a
        per-layer list the wrong length (the protocol-2 fields: :meth:`Protocol2Fields.validate`)."""
        if not _is_number(self.epoch) or self.epoch < 0 or (not isinstance(self.epoch, int) and self.epoch >= 1):
            raise _bad(source, self.epoch, "epoch", f"is {self.epoch!r}, not an int >= 0 or a fraction of the first "
                                                    f"epoch")
        n_layers = None
        for field in ("cosine", "euclidean", "noise_cosine", "smoothness"):
            value = getattr(self, field)
            if not isinstance(value, list) or not value or not all(_is_number(v) for v in value):
                raise _bad(source, self.epoch, field, "is not a non-empty list of numbers")
            if field != "smoothness":
                if n_layers is not None and len(value) != n_layers:
                    raise _bad(source, self.epoch, field, f"has {len(value)} layers where cosine has {n_layers}")
                n_layers = len(value)
        for field in ("train_accuracy", "test_accuracy", "train_loss", "test_loss"):
            value = getattr(self, field)
            if not _is_number(value):
                raise _bad(source, self.epoch, field, f"is {value!r}, not a number")
            if field.endswith("accuracy") and not math.isnan(value) and not 0.0 <= value <= 1.0:
                raise _bad(source, self.epoch, field, f"is {value!r}, not in [0, 1]")
            if field.endswith("loss") and value < 0:  # a cross-entropy is >= 0
                raise _bad(source, self.epoch, field, f"is {value!r}, below 0 (a cross-entropy is >= 0)")
        if self.bound is not None and not isinstance(self.bound, dict):
            raise _bad(source, self.epoch, "bound", "is not a mapping")
        if self.v2 is not None:
            self.v2.validate(source, self.epoch, n_layers)
        self._check_ranges(source)

    def _check_ranges(self, source: str) -> None:
        """Raise :class:`CorruptResultError` naming ``source`` and the field when a stored value is outside what its
        computation can produce: distances and the filters' total variation are >= 0; a normalised cosine distance
        is at most :data:`MAX_NORMALISED_COSINE`, and times its stored normaliser (protocol 2) at most
        :data:`MAX_COSINE`; a normaliser (a median cosine distance) is in [0, :data:`MAX_COSINE`]."""
        v2 = self.v2 or Protocol2Fields()
        bounds = {"cosine": MAX_NORMALISED_COSINE, "noise_cosine": MAX_NORMALISED_COSINE, "euclidean": math.inf,
                  "smoothness": math.inf, "noise_euclidean": math.inf, "median_cosine": MAX_COSINE,
                  "median_euclidean": math.inf}
        for field, high in bounds.items():
            values = getattr(self, field) if hasattr(self, field) else getattr(v2, field)
            if values is not None and (bad := _out_of_range(values, 0.0, high)) is not None:
                raise _bad(source, self.epoch, field, f"holds {bad!r}, outside [0, {high:g}] (see "
                                                      f"defstab_lib.runs.records.Measurement._check_ranges)")
        if v2.median_cosine is not None:
            for field in ("cosine", "noise_cosine"):
                means = [d * m for d, m in zip(getattr(self, field), v2.median_cosine)]
                if (bad := _out_of_range(means, 0.0, MAX_COSINE * (1 + _ROUNDING))) is not None:
                    raise _bad(source, self.epoch, field, f"times median_cosine is {bad!r}, above {MAX_COSINE:g}: "
                                                          f"a mean cosine distance is at most {MAX_COSINE:g}")

    @property
    def noise_ratio(self) -> list[float]:
        """Deformation sensitivity over noise sensitivity, per layer (Petrini et al. 2021's relative stability)."""
        return [c / n if n > 0 else float("nan") for c, n in zip(self.cosine, self.noise_cosine)]

    def distances(self, metric: str = "cosine") -> tuple[list[float], list[float]]:
        """``(D, G)`` per layer in ``metric``: the normalised deformation and noise distances (``"cosine"``:
        ``cosine`` and ``noise_cosine``; ``"euclidean"``: ``euclidean`` and protocol 2's ``noise_euclidean``)."""
        if metric == "cosine":
            return self.cosine, self.noise_cosine
        if metric != "euclidean":
            raise ValueError(f"metric must be 'cosine' or 'euclidean', got {metric!r}")
        if self.v2 is None or self.v2.noise_euclidean is None:
            raise ValueError("this measurement has no Euclidean noise control (protocol 1); measure with protocol 2")
        return self.euclidean, self.v2.noise_euclidean

    def relative_stability(self, metric: str = "cosine") -> list[float]:
        """R = D / G per layer in ``metric`` (``"cosine"``: :attr:`noise_ratio`; ``"euclidean"``: protocol 2)."""
        if metric == "cosine":
            return self.noise_ratio
        d, g = self.distances(metric)
        return [a / b if b > 0 else float("nan") for a, b in zip(d, g)]


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

    @property
    def file(self) -> str:
        """Its file, ``"results/<experiment>/<key>.json"`` (:func:`relative_file`)."""
        return relative_file(self.config.experiment, self.key)

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
            "measurements": [m.to_json() for m in self.measurements],
            "history": self.history,
            "provenance": self.provenance,
            "checkpoints": self.checkpoints,
        }

    def to_bytes(self) -> bytes:
        """The stored file's bytes (one line under a protocol that stores per-image arrays: indenting every number
        would double the file)."""
        indent = None if self.config.probe.measures.extended else 1
        return (json.dumps(self.to_json(), indent=indent, allow_nan=True) + "\n").encode()

    @classmethod
    def from_json(cls, d: dict[str, Any], *, source: str = "<dict>") -> Results:
        """Parse a stored result; raise :class:`CorruptResultError` naming ``source`` when it is not one."""
        if not isinstance(d, dict) or d.get("schema") != SCHEMA:
            found = d.get("schema") if isinstance(d, dict) else type(d).__name__
            raise CorruptResultError(f"{source}: schema is {found!r}, expected {SCHEMA!r}; delete the file or "
                                     f"rerun with force to recompute it")
        try:
            config = config_from_dict(d["config"])
            measurements = [Measurement.from_json(m) for m in d["measurements"]]
            for m in measurements:
                m.validate(source)
            results = cls(config, measurements, list(d["history"]), dict(d["provenance"]),
                          dict(d.get("checkpoints", {})))
        except CorruptResultError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise CorruptResultError(f"{source}: not a valid result ({type(exc).__name__}: {exc}); delete the file "
                                     f"or rerun with force to recompute it") from exc
        if d.get("key") != results.key or not measurements:
            raise CorruptResultError(f"{source}: its key {d.get('key')!r} does not match its config "
                                     f"({results.key}) or it holds no measurement")
        if d.get("protocol") != config.probe.protocol:
            raise CorruptResultError(f"{source}: protocol is {d.get('protocol')!r} where its config's is "
                                     f"{config.probe.protocol!r}; delete the file or rerun with force to recompute it")
        return results


@dataclasses.dataclass(frozen=True)
class Computed:
    """A stored computation that trains nothing (Figure 4's random networks, the kernel baselines), with its
    source: the file of the store it was read from or written to.

    Attributes:
        experiment: its folder in the store.
        key: :func:`computation_key` of ``experiment`` and ``params``.
        params: the parameters it was computed with (JSON).
        payload: what it computed (JSON).
        provenance: how it was computed (:func:`defstab_lib.provenance.provenance_record`).
        path: its file in the store (the store's root may be anywhere: :attr:`file` names it from the repository).
    """

    experiment: str
    key: str
    params: dict[str, Any]
    payload: dict[str, Any]
    provenance: dict[str, Any]
    path: Path

    @property
    def file(self) -> str:
        """Its file, ``"results/<experiment>/<key>.json"`` (:func:`relative_file`)."""
        return relative_file(self.experiment, self.key)

    def to_json(self) -> dict[str, Any]:
        return {"schema": COMPUTED_SCHEMA, "protocol": COMPUTATION_PROTOCOL, "key": self.key,
                "experiment": self.experiment, "params": self.params, "payload": self.payload,
                "provenance": self.provenance}

    def to_bytes(self) -> bytes:
        """The stored file's bytes."""
        return (json.dumps(self.to_json(), allow_nan=True, default=float) + "\n").encode()

    @classmethod
    def from_json(cls, d: Any, path: Path, *, experiment: str | None = None, key: str | None = None) -> Computed:
        """Parse a stored computation read from ``path``; raise :class:`CorruptResultError` naming it when it is not
        one (or not the one of ``experiment`` and ``key``, when given)."""
        ok = (isinstance(d, dict) and d.get("schema") == COMPUTED_SCHEMA and "payload" in d and "params" in d
              and isinstance(d.get("experiment"), str)
              and d.get("key") == computation_key(d["experiment"], d["params"]))
        if not ok or d["experiment"] != (experiment or d["experiment"]) or d["key"] != (key or d["key"]):
            raise CorruptResultError(f"{path}: not a stored computation of {experiment or 'an experiment'!r}"
                                     + (f" with key {key}" if key else "")
                                     + "; delete the file or rerun with force to recompute it")
        return cls(d["experiment"], d["key"], d["params"], d["payload"], d.get("provenance", {}), Path(path))
