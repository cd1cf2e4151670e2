"""The rule that picks the standard profile's length (``defstab_lib/analysis/length.py``), on constructed pilot
runs that plainly pass or fail it."""

from __future__ import annotations

from defstab_lib.analysis.length import check_rows, choose_length, trajectories
from defstab_lib.runs import ArchConfig, Measurement, Results, RunConfig

LAYERS = 13


def _m(epoch, sens, tv, acc) -> Measurement:
    return Measurement(epoch=epoch, cosine=[sens] * LAYERS, euclidean=[sens] * LAYERS, noise_cosine=[0.0] * LAYERS,
                       smoothness=[tv] * 8, train_accuracy=1.0, test_accuracy=acc, train_loss=0.0, test_loss=0.0)


def pilot(net: str, epochs: int, sens: float, tv: float, acc: float) -> Results:
    config = RunConfig("pooling", arch=ArchConfig(downsampling=net), epochs=epochs)
    return Results(config, [_m(0, 0.30, 1.85, 0.1), _m(epochs, sens, tv, acc)], [], {})


def family(ends: dict[int, tuple[float, float, float]]) -> list[Results]:
    return [pilot(net, L, *ends[L]) for net in ("subsample", "maxpool") for L in ends]


def test_a_plateau_at_eight_epochs_picks_eight():
    choice = choose_length(family({8: (0.150, 1.700, 0.930), 16: (0.148, 1.698, 0.932), 32: (0.147, 1.697, 0.933)}))
    assert choice.chosen == 8 and choice.passed(8)


def test_still_moving_at_eight_picks_sixteen():
    # TV moves 0.05 from 8 to 16 epochs, of a 0.20 change from initialisation: 25% > 10%
    choice = choose_length(family({8: (0.150, 1.700, 0.930), 16: (0.148, 1.650, 0.932), 32: (0.147, 1.648, 0.933)}))
    assert choice.chosen == 16 and not choice.passed(8)
    failing = [c for c in choice.checks if not c.passes]
    assert {c.quantity for c in failing} == {"filter TV"} and {c.length for c in failing} == {8}


def test_accuracy_still_rising_fails_the_rule():
    choice = choose_length(family({8: (0.150, 1.700, 0.920), 16: (0.150, 1.700, 0.930), 32: (0.150, 1.700, 0.940)}))
    assert choice.chosen is None


def test_a_candidate_without_its_doubled_run_is_not_judged():
    choice = choose_length(family({8: (0.150, 1.700, 0.930), 16: (0.148, 1.698, 0.932)}), candidates=(8, 16))
    assert choice.chosen == 8 and not any(c.length == 16 for c in choice.checks)


def test_the_figure_and_table_read_every_pilot():
    runs = family({8: (0.150, 1.700, 0.930), 16: (0.148, 1.650, 0.932), 32: (0.147, 1.648, 0.933)})
    t = trajectories(runs)
    assert set(t) == {"subsample", "maxpool"} and set(t["maxpool"]) == {8, 16, 32}
    epochs, values = t["maxpool"][16]["filter TV"]
    assert list(epochs) == [0, 16] and list(values) == [1.85, 1.65]
    rows = check_rows(choose_length(runs))
    assert {r["passes"] for r in rows} == {"yes", "no"} and len(rows) == 2 * 2 * 3
