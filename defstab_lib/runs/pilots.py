"""The pilots of issue 26's synthetic regime search, as pre-registered in ``results/pilot-synthetic/RULE.md``.

Claim 5 (stronger deformations, smoother filters) is uninformative in the ``standard`` profile's synthetic regime:
training moves filter TV by about 2% before the comparison, less than the claim's margin.  The rule fixed before
any of these pilots ran names candidate regimes (:data:`CANDIDATES`, in order), the pilot seeds
(:data:`PILOT_SEEDS`, which no profile uses), the strengths (:data:`PILOT_STRENGTHS`) and the criteria
(:mod:`defstab_lib.analysis.regime`).  Each candidate changes the ``standard`` profile's synthetic stage only as it
says; its runs are stored as ``pilot-synthetic`` like the earlier pilots, every outcome kept.

:func:`candidate_config` builds one pilot's config, :func:`pilot_configs` a candidate's (the screening run first),
:func:`run_pilots` trains (or loads) them.  From the command line (one run at a time, each stored as it ends)::

    python -m defstab_lib.runs.pilots A --screen     # seed 1000 at C = 1 only
    python -m defstab_lib.runs.pilots A              # all six runs of candidate A
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Sequence

from .config import RunConfig
from .execute import run_or_load
from .experiments import experiment_configs
from .records import Results
from .store import ResultsStore

__all__ = ["EXPERIMENT", "PILOT_SEEDS", "PILOT_STRENGTHS", "MEASURE_EPOCHS", "CANDIDATES", "candidate_config",
           "pilot_configs", "run_pilots"]

#: Where the pilots are stored (with the earlier pilots of the synthetic regime).
EXPERIMENT = "pilot-synthetic"
#: The pilots' seeds: the campaign's are 0-4 and no profile uses 1000 or above, so no pilot is a campaign draw.
PILOT_SEEDS: tuple[int, ...] = (1000, 1001, 1002)
#: The two strengths a pilot compares (claim 5's weakest and strongest task).
PILOT_STRENGTHS: tuple[float, ...] = (1.0, 4.0)
#: Epochs after which a pilot is measured, besides protocol 2's fractions of the first epoch and the end.
MEASURE_EPOCHS: tuple[int, ...] = (1, 2, 5, 10, 20, 40, 80, 120, 160)
#: The candidate regimes of ``RULE.md``, in order, each as its changes to the ``standard`` synthetic stage:
#: ``epochs``, ``weight_decay``, and the data's ``classes``, ``templates`` and ``train_size`` (fresh examples per
#: epoch) and the optimiser's ``label_smoothing``.  E needs more than 20 classes, which the library lacks: not here yet.
CANDIDATES: dict[str, dict] = {
    "A": {"epochs": 200, "weight_decay": 5e-3},
    "B": {"epochs": 200, "weight_decay": 5e-3, "classes": 20, "templates": "fashion-mnist-shirts"},
    "C": {"epochs": 200, "weight_decay": 5e-3, "classes": 20, "templates": "fashion-mnist-shirts",
          "train_size": 2048},
    "D": {"epochs": 200, "weight_decay": 5e-3, "classes": 20, "templates": "fashion-mnist-shirts",
          "label_smoothing": 0.1},
}


def candidate_config(candidate: str, seed: int, strength: float) -> RunConfig:
    """The config of one pilot: the ``standard`` profile's synthetic run at ``strength``, with ``seed``, the
    candidate's changes, :data:`MEASURE_EPOCHS` and :data:`EXPERIMENT`.

    Raises:
        ValueError: ``candidate`` is not one of :data:`CANDIDATES`, ``seed`` not one of :data:`PILOT_SEEDS`, or
            ``strength`` not one of :data:`PILOT_STRENGTHS`.
    """
    if candidate not in CANDIDATES:
        raise ValueError(f"candidate must be one of {list(CANDIDATES)}, got {candidate!r}")
    if seed not in PILOT_SEEDS:
        raise ValueError(f"seed must be one of the pilot seeds {list(PILOT_SEEDS)}, got {seed!r}")
    if strength not in PILOT_STRENGTHS:
        raise ValueError(f"strength must be one of {list(PILOT_STRENGTHS)}, got {strength!r}")
    change = CANDIDATES[candidate]
    base = experiment_configs("synthetic", "standard", strengths=[strength])[0]
    epochs = change.get("epochs", base.epochs)
    data = dataclasses.replace(base.data, classes=change.get("classes", base.data.classes),
                               templates=change.get("templates", base.data.templates),
                               train_size=change.get("train_size", base.data.train_size))
    optim = dataclasses.replace(base.optim, weight_decay=change.get("weight_decay", base.optim.weight_decay),
                                label_smoothing=change.get("label_smoothing", base.optim.label_smoothing))
    return dataclasses.replace(base, experiment=EXPERIMENT, seed=seed, epochs=epochs, data=data, optim=optim,
                               measure_epochs=tuple(e for e in MEASURE_EPOCHS if e < epochs))


def pilot_configs(candidate: str, *, screen: bool = False) -> list[RunConfig]:
    """A candidate's pilots: the screening run (the first seed at the first strength) first, then the others
    (seed by seed); only the screening run with ``screen``."""
    configs = [candidate_config(candidate, s, c) for s in PILOT_SEEDS for c in PILOT_STRENGTHS]
    return configs[:1] if screen else configs


def run_pilots(candidate: str, *, screen: bool = False, store: ResultsStore | None = None,
               device: str = "auto", say=print) -> list[Results]:
    """Train (or load) a candidate's pilots one after the other, each stored as it ends; returns them."""
    out = []
    configs = pilot_configs(candidate, screen=screen)
    for i, config in enumerate(configs, 1):
        start = time.perf_counter()
        r = run_or_load(config, store=store, device=device, progress=False)
        say(f"  [{i}/{len(configs)}] candidate {candidate}, seed {config.seed}, C = {config.data.strength:g}: "
            f"{time.perf_counter() - start:.0f} s, {r.file}", flush=True)
        out.append(r)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m defstab_lib.runs.pilots", description=__doc__.split("\n")[0])
    parser.add_argument("candidate", choices=list(CANDIDATES))
    parser.add_argument("--screen", action="store_true", help="only the screening run (seed 1000, C = 1)")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    run_pilots(args.candidate, screen=args.screen, device=args.device)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
