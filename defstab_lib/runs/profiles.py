"""Profiles: how big to make every experiment (the experiments themselves are records of
:mod:`defstab_lib.runs.experiments`).

Measurement protocol: a profile's ``protocol`` (1 for every profile here, so that their stored results keep their
keys) is that of its ``pooling``, ``random-labels`` and ``synthetic`` runs.  A protocol-2 profile measures after
1/8, 1/4, 1/2 of the first epoch and after epochs 1, 2, 4, 8, ... (:func:`defstab_lib.runs.protocol.log_epochs`)
instead of its stages' ``measure_epochs``.

Profiles:

- ``smoke``: a few seconds a run on a CPU, under a minute or two for a whole experiment (tiny networks, a few
  hundred images, one or two epochs; a fresh process first spends seconds importing torch);
  for tests and CI.  Its numbers say nothing about the paper.
- ``cpu``: every experiment of the book on Fashion-MNIST in under two hours on two CPU cores (measured: the 42
  runs took 6,298 s on one core of a shared two-core AMD EPYC machine, 2 to 5 minutes each; Figure 4's random
  networks and the kernel baselines 4 minutes more).  Reduced from the paper's settings in exactly these ways: networks
  at half width (16, 32, 64, 128 filters instead of 32, 64, 128, 256); 3 seeds instead of 5; real labels trained
  on a fixed random subset of 20,000 of the 60,000 training images for 8 epochs; random labels on 2,000 images
  for 40 epochs (long enough to fit them all); the synthetic tasks on 4,000 fresh examples per epoch for 20
  epochs; test accuracy on 5,000 test images.
- ``standard``: the campaign's profile (issue 16), the standard crop-and-flip recipe at a width a CPU affords:
  half width, all 60,000 training images with pad-and-random-crop plus horizontal flip for
  :data:`STANDARD_EPOCHS` epochs, 5 independent initialisations per architecture (protocol 2), bfloat16
  autocast training (validated against float32 by ``benchmarks/bench_precision.py``; measurements in float32),
  test accuracy on all 10,000 test images.  Random labels are fitted as Zhang et al. fitted them (no
  augmentation, 2,000 images, 40 epochs) and compared with real labels on the same recipe (``matched-real``).
  The synthetic tasks draw 512 fresh examples per epoch for 40 epochs, measured after every epoch, and are
  compared at the matched training loss ``synthetic_matched_loss`` (1 nat) while their filters still change
  (:mod:`defstab_lib.analysis.matched`; the pilots and the rule that chose this: ``results/pilot-synthetic/RULE.md``).
- ``paper``: the paper's settings on the full dataset: full width, 5 seeds, all training images, 30 epochs of SGD
  with a cosine schedule (trained to convergence on Fashion-MNIST and CIFAR-10), random labels for 100 epochs;
  meant for a GPU.

Everything else (probe: 128 test images, 3x3 grid, 2 px; SGD with Nesterov momentum 0.9, weight decay 5e-4,
batch 128) is the same in every profile but ``smoke``.
"""

from __future__ import annotations

import dataclasses

from ..vocabulary import DOWNSAMPLING

__all__ = ["PROFILES", "BOOK_PROFILE", "ABLATION_NETWORKS", "ABLATION_FACTORS", "ABLATION_SEEDS", "DOWNSAMPLING", "STRENGTHS",
           "WORST_CASE_DOWNSAMPLING", "Stage", "Profile", "get_profile"]

STRENGTHS = (1.0, 2.0, 3.0, 4.0)
#: The ``cpu`` profile's ``worst-case`` runs: training images and epochs (sized so that its 6 runs train in about
#: a quarter of an hour on one core).
WORST_CASE_CPU_TRAIN, WORST_CASE_CPU_EPOCHS = 8_000, 4

#: The ablation's networks: one without pooling, one with.
ABLATION_NETWORKS = ("subsample", "maxpool")
#: The ablation's factors and their levels (weight decay: none, the default 5e-4, ten times it; length: a quarter
#: of the profile's epochs or all of them).  A profile's own recipe is the baseline level of every factor.
ABLATION_FACTORS: dict[str, tuple] = {
    "augmentation": ("none", "flip-crop", "flip-crop-tps"),
    "weight_decay": (0.0, 5e-4, 5e-3),
    "length": ("quarter", "full"),
}
#: Initialisations per ablation cell (fewer where the profile has fewer seeds).
ABLATION_SEEDS = 3

#: The profile the book renders (every chapter's ``profile`` parameter defaults to it) and the command line reads
#: by default, so that ``python -m defstab_lib report`` and the book state the same verdicts.
BOOK_PROFILE = "standard"

#: The ``standard`` profile's epochs over all 60,000 training images (chosen from the length pilots, see
#: ``results/pilot-length/``).
STANDARD_EPOCHS = 16

#: The networks of the ``worst-case`` experiment by default: one with pooling and one without.
WORST_CASE_DOWNSAMPLING = ("subsample", "maxpool")


@dataclasses.dataclass(frozen=True)
class Stage:
    """How one kind of run is sized in a profile."""

    train_size: int | None
    epochs: int
    lr: float = 0.05
    measure_epochs: tuple[int, ...] = ()


@dataclasses.dataclass(frozen=True)
class Profile:
    """How big every experiment is.  See the module docstring for what each profile reduces and why."""

    name: str
    width: float
    seeds: int
    batch_size: int
    test_size: int | None
    probe_images: int
    real: Stage
    random: Stage
    synthetic: Stage
    synthetic_test_size: int
    warmup_epochs: float = 0.0
    worst_case: Stage = Stage(train_size=512, epochs=2)
    worst_case_seeds: int = 1
    protocol: int = 1
    augmentation: str = "none"
    precision: str = "auto"
    matched_contrast: bool = False
    synthetic_matched_loss: float | None = None


PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        "smoke", width=0.125, seeds=1, batch_size=64, test_size=256, probe_images=16,
        real=Stage(train_size=512, epochs=2, measure_epochs=(1,)),
        random=Stage(train_size=256, epochs=2, lr=0.02),
        synthetic=Stage(train_size=256, epochs=1),
        synthetic_test_size=128,
        worst_case=Stage(train_size=256, epochs=1),
    ),
    "cpu": Profile(
        "cpu", width=0.5, seeds=3, batch_size=128, test_size=5000, probe_images=128,
        real=Stage(train_size=20_000, epochs=8, measure_epochs=(1, 2, 4)),
        random=Stage(train_size=2_000, epochs=40, lr=0.02, measure_epochs=(10, 20)),
        synthetic=Stage(train_size=4_000, epochs=20, measure_epochs=(5, 10)),
        synthetic_test_size=1000,
        warmup_epochs=0.5,
        worst_case=Stage(train_size=WORST_CASE_CPU_TRAIN, epochs=WORST_CASE_CPU_EPOCHS),
        worst_case_seeds=3,
    ),
    "paper": Profile(
        "paper", width=1.0, seeds=5, batch_size=128, test_size=None, probe_images=128,
        real=Stage(train_size=None, epochs=30, measure_epochs=(1, 2, 5, 10, 20)),
        random=Stage(train_size=None, epochs=100, lr=0.02, measure_epochs=(10, 25, 50)),
        synthetic=Stage(train_size=20_000, epochs=20),
        synthetic_test_size=2000,
        warmup_epochs=1.0,
        worst_case=Stage(train_size=None, epochs=30),
        worst_case_seeds=5,
    ),
    "standard": Profile(
        "standard", width=0.5, seeds=5, batch_size=128, test_size=None, probe_images=128,
        real=Stage(train_size=None, epochs=STANDARD_EPOCHS),
        random=Stage(train_size=2_000, epochs=40, lr=0.02),
        synthetic=Stage(train_size=512, epochs=40, measure_epochs=tuple(range(1, 40))),
        synthetic_test_size=1000,
        warmup_epochs=0.5,
        worst_case=Stage(train_size=None, epochs=STANDARD_EPOCHS),
        worst_case_seeds=5,
        protocol=2, augmentation="flip-crop", precision="bf16", matched_contrast=True, synthetic_matched_loss=1.0,
    ),
}


def get_profile(name: str) -> Profile:
    """The profile called ``name`` (``ValueError`` listing the profiles otherwise)."""
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; allowed: {', '.join(PROFILES)}")
    return PROFILES[name]
