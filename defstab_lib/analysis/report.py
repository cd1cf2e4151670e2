"""Every verdict of a profile, from the results store: what the report page, the chapters and
``python -m defstab_lib report`` read.

:func:`load_evidence` gathers the stored runs of a profile (the trained experiments) and the random networks of
claims 1 and 4 (at the trained networks' width and at the paper's full width); :func:`all_verdicts` runs the
eight pre-registered tests of :mod:`.claims` on them; :func:`scale_rows` says what was run against what the paper
ran.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from .. import runs
from ..runs.store import Results, ResultsStore
from ..runs.untrained import RandomNetworks, SmoothInit
from . import claims
from .verdicts import Verdict

__all__ = ["Evidence", "load_evidence", "random_networks", "pooling_verdict", "smoothing_verdict", "all_verdicts", "verdict_sources",
           "scale_rows", "SIGMAS", "DRAWS", "NUMBERS"]

SIGMAS = (0.0, 0.5, 1.0, 2.0, 4.0)
DRAWS = 30
#: Independent random networks per setting where a profile needs fewer than :data:`DRAWS` (seconds, for CI).
_PROFILE_DRAWS = {"smoke": 2}
#: How the report numbers each claim (the paper's claims 1-7, and "H" for its headline).
NUMBERS = {"headline": "H", "pooling": "1", "training-changes": "2", "convergence": "3", "smoothing": "4",
           "synthetic": "5", "training-smooths": "6", "random-labels": "7"}


@dataclasses.dataclass
class Evidence:
    """What the tests read.  ``pooling_nets``/``smooth_nets``: ``{width: random networks}`` (the trained
    networks' width first, then the paper's 1.0)."""

    profile: str
    dataset: str
    real: list[Results]
    random: list[Results]
    synthetic: list[Results]
    pooling_nets: dict[float, RandomNetworks]
    smooth_nets: dict[float, SmoothInit]
    trained_now: int = 0

    @property
    def width(self) -> float:
        return next(iter(self.pooling_nets))


def random_networks(kind: str, *, profile: str = "cpu", dataset: str = "fashion-mnist", draws: int | None = None,
                    sigmas: Sequence[float] = SIGMAS, device: str = "auto", stored_only: bool = False,
                    store: ResultsStore | None = None) -> dict[float, RandomNetworks]:
    """``{width: networks}`` of claim 1 (``kind="pooling"``: every downsampling variant) or claim 4
    (``"smoothing"``: maxpool networks smoothed with each σ), at the profile's trained width and at the paper's
    full width; ``draws`` independent draws per setting (default :data:`DRAWS`, 2 in the smoke profile), each
    probed with the profile's number of images."""
    if kind not in ("pooling", "smoothing"):
        raise ValueError(f"kind must be 'pooling' or 'smoothing', got {kind!r}")
    p = runs.get_profile(profile)
    n = draws if draws is not None else _PROFILE_DRAWS.get(profile, DRAWS)
    common = dict(dataset=dataset, n_images=p.probe_images, device=device, store=store, stored_only=stored_only)
    out = {}
    for w in [p.width] + ([1.0] if p.width != 1.0 else []):
        out[w] = (runs.pooling_init(width=w, draws=n, **common) if kind == "pooling"
                  else runs.smooth_init(width=w, sigmas=sigmas, seeds=n, **common))
    return out


def pooling_verdict(nets: dict[float, RandomNetworks], trained: Sequence[Results] = ()) -> Verdict:
    """Claim 1 as the report states it: random networks at the trained width, with the full width and the trained
    runs' initialisations beside it."""
    first, *rest = nets.values()
    return claims.pooling_at_init(first, beside=[*rest] + ([list(trained)] if trained else []))


def smoothing_verdict(nets: dict[float, SmoothInit]) -> Verdict:
    """Claim 4 as the report states it: random networks at the trained width, the full width beside it."""
    first, *rest = nets.values()
    return claims.smoothing_stabilises(first, beside=rest)


def load_evidence(*, profile: str = "cpu", dataset: str = "fashion-mnist", seeds: int | None = None,
                  sigmas: Sequence[float] = SIGMAS, draws: int | None = None, device: str = "auto",
                  stored_only: bool = False, store: ResultsStore | None = None) -> Evidence:
    """Load (or, unless ``stored_only``, train and compute) everything the eight tests read.

    Raises:
        LookupError: ``stored_only`` and something is not stored (the message says what and how to make it).
        ValueError: bad parameters (from :func:`~defstab_lib.runs.experiment_configs`), before any work.
    """
    store = store or ResultsStore()
    configs = {
        "pooling": runs.experiment_configs("pooling", profile, dataset=dataset, seeds=seeds),
        "random-labels": runs.experiment_configs("random-labels", profile, dataset=dataset, seeds=seeds),
        "synthetic": runs.experiment_configs("synthetic", profile, seeds=seeds),
    }
    missing = {k: sum(not store.exists(c) for c in v) for k, v in configs.items()}
    if stored_only and any(missing.values()):
        raise LookupError("not stored: " + ", ".join(f"{n} runs of {k}" for k, n in missing.items() if n)
                          + f" (profile {profile}); train them with `python -m defstab_lib run EXPERIMENT "
                            f"--profile {profile}`")
    loaded = {k: runs.run_configs(v, device=device, store=store) for k, v in configs.items()}
    common = dict(profile=profile, dataset=dataset, draws=draws, device=device, stored_only=stored_only, store=store)
    return Evidence(
        profile=profile, dataset=dataset, real=loaded["pooling"], random=loaded["random-labels"],
        synthetic=loaded["synthetic"], pooling_nets=random_networks("pooling", **common),
        smooth_nets=random_networks("smoothing", sigmas=sigmas, **common), trained_now=sum(missing.values()),
    )


def _number(v: Verdict, key: str) -> Verdict:
    v.numbers["key"], v.numbers["number"] = key, NUMBERS[key]
    return v


def all_verdicts(ev: Evidence) -> list[Verdict]:
    """The eight verdicts, headline first, then claims 1-7 (each with what is reported beside it)."""
    out = {
        "headline": claims.unpooled_learn_stability(ev.real),
        "pooling": pooling_verdict(ev.pooling_nets, ev.real),
        "training-changes": claims.training_changes_pattern(ev.real),
        "convergence": claims.convergence_after_training(ev.real),
        "smoothing": smoothing_verdict(ev.smooth_nets),
        "synthetic": claims.stronger_tasks_smoother(ev.synthetic),
        "training-smooths": claims.training_smooths(ev.real),
        "random-labels": claims.random_labels_depend_on_architecture(ev.random, ev.real),
    }
    return [_number(v, k) for k, v in out.items()]


def verdict_sources(ev: Evidence) -> dict[str, list]:
    """``{verdict key: what it reads}``, in :func:`all_verdicts`' order: the stored runs (``Results``) and random
    networks each verdict is computed from (the report's figures link to their files)."""
    pooling_nets = list(ev.pooling_nets.values())
    return {"headline": ev.real, "pooling": [*pooling_nets, *ev.real], "training-changes": ev.real,
            "convergence": ev.real, "smoothing": list(ev.smooth_nets.values()), "synthetic": ev.synthetic,
            "training-smooths": ev.real, "random-labels": [*ev.random, *ev.real]}


def scale_rows(ev: Evidence) -> list[dict[str, str]]:
    """What was run against what the paper ran: dataset, width, independent initialisations, training recipe."""
    p = runs.get_profile(ev.profile)
    seeds = len({r.config.seed for r in ev.real})
    first = ev.real[0].config
    steps = (first.data.train_size or 0) * first.epochs // max(p.batch_size, 1)
    aug = first.data.augmentation
    nets = next(iter(ev.pooling_nets.values()))
    return [
        {"": "dataset", "this run": f"{ev.dataset} (28×28, zero-padded to 32×32)",
         "the paper": "CIFAR-10 (32×32) and ImageNet"},
        {"": "network width", "this run": f"×{p.width:g} of the paper's (trained networks); random networks at "
                                          f"×{' and ×'.join(f'{w:g}' for w in ev.pooling_nets)}",
         "the paper": "×1 (2×32, 2×64, 2×128, 2×256 filters)"},
        {"": "independent initialisations", "this run":
            f"{seeds} per architecture, shared by the five downsampling variants, the random-label and the synthetic "
            f"runs; {nets.draws} independent random networks (each with its own probe images) per variant and per σ",
         "the paper": "5 seeds per architecture (not said whether shared)"},
        {"": "training recipe", "this run":
            f"SGD (Nesterov 0.9, weight decay 5e-4, batch {p.batch_size}), {first.data.train_size or 'all'} images "
            f"× {first.epochs} epochs (≈{steps:,} steps), augmentation: {aug}",
         "the paper": "not stated (CIFAR-10 and ImageNet, trained to convergence)"},
        {"": "probe", "this run": f"{first.probe.images} test images, one 3×3-grid deformation of ≤ 2 px each, the "
                                  f"same for every trained run",
         "the paper": "128 images, 3×3 grid (CIFAR-10), 2 px"},
    ]
