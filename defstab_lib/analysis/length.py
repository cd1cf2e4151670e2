"""How long the ``standard`` profile trains: the length pilots judged by the rule fixed before they ended.

The rule (``results/pilot-length/RULE.md``, fixed before the pilots ended): the profile trains for the smallest
length L of the candidates whose end state the run of 2L epochs reproduces, on every pilot network --

- test accuracy within :data:`ACCURACY_TOLERANCE` (absolute);
- mean normalised filter TV over the conv layers, and the later-layer (7-12) mean sensitivity:
  ``|end(2L) - end(L)| <= RELATIVE_TOLERANCE * |end(2L) - init|``.

Each pilot run is a full cosine schedule of its own length (not a prefix of a longer run), so "the run of 2L
epochs reproduces the end of the run of L epochs" means that doubling the training budget no longer changes what
is measured.

>>> choose_length([], candidates=(8, 16)).chosen is None
True
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from ..runs.experiments import experiment_configs
from ..runs.store import Results
from .claims import mean_log
from .worstcase import trajectory

__all__ = ["PILOT_LENGTHS", "PILOT_NETWORKS", "pilot_configs", "ACCURACY_TOLERANCE", "RELATIVE_TOLERANCE", "QUANTITIES", "LengthCheck", "LengthChoice", "end_state_row",
           "choose_length", "quantities", "trajectories", "check_rows", "verdict_sentence"]

#: The quantities the rule compares, as :func:`quantities` names them, and :func:`.worstcase.trajectory`'s name.
QUANTITIES = {"test accuracy": "test_accuracy", "filter TV": "tv", "later-layer sensitivity": "late-sensitivity"}

ACCURACY_TOLERANCE = 0.005
#: The pilots: these networks, seed 0, each trained for each of these numbers of epochs (the candidates 8 and 16
#: and their doubles).
PILOT_LENGTHS = (8, 16, 32)
PILOT_NETWORKS = ("subsample", "maxpool")
RELATIVE_TOLERANCE = 0.10


def pilot_configs(profile: str = "standard") -> list:
    """The pilot runs' configs: the profile's ``pooling`` runs of :data:`PILOT_NETWORKS`, seed 0, at each of
    :data:`PILOT_LENGTHS` epochs."""
    return [c for L in PILOT_LENGTHS for net in PILOT_NETWORKS
            for c in experiment_configs("pooling", profile, downsampling=[net], seeds=1, epochs=L)]


def quantities(results: Results, epoch: int | str = "final") -> dict[str, float]:
    """Test accuracy, mean filter TV over conv layers and later-layer (7-12) mean sensitivity of ``results`` at
    ``epoch`` (``"init"``, ``"final"`` or a measured epoch)."""
    m = results.at(epoch)
    return {"test accuracy": float(m.test_accuracy), "filter TV": float(np.mean(m.smoothness)),
            "later-layer sensitivity": float(math.exp(mean_log(np.asarray(m.cosine), "late")))}


def end_state_row(results: Results) -> dict[str, object]:
    """One row of the pilot table: network, epochs, steps, and each quantity at initialisation and at the end."""
    c = results.config
    row: dict[str, object] = {"network": c.arch.downsampling, "epochs": c.epochs}
    init, end = quantities(results, "init"), quantities(results, "final")
    for name in end:
        row[f"{name} (init)"], row[name] = init[name], end[name]
    return row


@dataclasses.dataclass
class LengthCheck:
    """One comparison of the rule: ``network``'s ``quantity`` at the end of L and of 2L epochs."""

    network: str
    length: int
    quantity: str
    end: float
    end_doubled: float
    init: float
    allowed: float

    @property
    def difference(self) -> float:
        return abs(self.end_doubled - self.end)

    @property
    def passes(self) -> bool:
        return self.difference <= self.allowed


@dataclasses.dataclass
class LengthChoice:
    """The rule's outcome: ``chosen`` (``None`` when no candidate passes) and every check it made."""

    chosen: int | None
    checks: list[LengthCheck]

    def passed(self, length: int) -> bool:
        mine = [c for c in self.checks if c.length == length]
        return bool(mine) and all(c.passes for c in mine)


def choose_length(results: Sequence[Results], *, candidates: Sequence[int] = (8, 16)) -> LengthChoice:
    """Apply the rule to the pilot runs ``results`` (one per network and length; lengths L and 2L of every
    candidate L must be present for a candidate to be judged).

    Returns the smallest candidate whose checks all pass, with every check (for the table a chapter shows).
    """
    runs = {(r.config.arch.downsampling, r.config.epochs): r for r in results}
    networks = sorted({n for n, _ in runs})
    checks: list[LengthCheck] = []
    for length in candidates:
        for net in networks:
            if (net, length) not in runs or (net, 2 * length) not in runs:
                continue
            short, long_ = quantities(runs[net, length]), quantities(runs[net, 2 * length])
            init = quantities(runs[net, 2 * length], "init")
            for name in short:
                allowed = (ACCURACY_TOLERANCE if name == "test accuracy"
                           else RELATIVE_TOLERANCE * abs(long_[name] - init[name]))
                checks.append(LengthCheck(net, length, name, short[name], long_[name], init[name], allowed))
    complete = [L for L in candidates if networks and all((n, L) in runs and (n, 2 * L) in runs for n in networks)]
    chosen = next((L for L in complete if all(c.passes for c in checks if c.length == L)), None)
    return LengthChoice(chosen, checks)


def trajectories(results: Sequence[Results]) -> dict[str, dict[int, dict[str, tuple[np.ndarray, np.ndarray]]]]:
    """``{network: {epochs L: {quantity: (measured epochs (T,), values (T,))}}}`` of the pilot runs, for the
    length figure (one run per network and length)."""
    out: dict[str, dict[int, dict[str, tuple[np.ndarray, np.ndarray]]]] = {}
    for r in sorted(results, key=lambda r: (r.config.arch.downsampling, r.config.epochs)):
        per = out.setdefault(r.config.arch.downsampling, {}).setdefault(r.config.epochs, {})
        for name, key in QUANTITIES.items():
            epochs, values = trajectory([r], key)
            per[name] = (epochs, values[0])
    return out


def check_rows(choice: LengthChoice) -> list[dict[str, str]]:
    """The rule's checks as table rows (for ``chapters.html_table``)."""
    return [{"network": c.network, "L vs 2L (epochs)": f"{c.length} vs {2 * c.length}", "quantity": c.quantity,
             "end at L": f"{c.end:.4f}", "end at 2L": f"{c.end_doubled:.4f}", "|difference|": f"{c.difference:.4f}",
             "allowed": f"{c.allowed:.4f}", "passes": "yes" if c.passes else "no"} for c in choice.checks]


def verdict_sentence(choice: LengthChoice, not_stored: Sequence = ()) -> str:
    """What the rule decided, in one sentence for the page (and what is still missing, if any pilot is)."""
    missing = (f" {len(not_stored)} of the pilot runs are not stored yet "
               f"(`python -m defstab_lib run pooling --profile standard --downsampling subsample maxpool --seeds 1 "
               f"--epochs L`)." if not_stored else "")
    if choice.chosen is not None:
        return f"The rule chose {choice.chosen} epochs: the {2 * choice.chosen}-epoch runs reproduce their end state.{missing}"
    judged = sorted({c.length for c in choice.checks})
    if not judged:
        return f"No candidate length could be judged yet.{missing}"
    parts = []
    for length in judged:
        failed = [c for c in choice.checks if c.length == length and not c.passes]
        by_net = {n: ", ".join(c.quantity for c in failed if c.network == n)
                  for n in dict.fromkeys(c.network for c in failed)}
        parts.append(f"from {length} to {2 * length} epochs, " + "; ".join(f"{n}: {q}" for n, q in by_net.items()))
    return (f"No candidate passed; what still moved more than allowed -- {' / '.join(parts)}.  So, by the rule, the profile trains for 16 epochs, and its "
            f"networks had not plateaued when they were measured.{missing}")
