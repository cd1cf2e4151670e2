"""Experiments that chapters train or load: configs, profiles, the results store, and ``run_or_load``.

- :mod:`.config`   -- typed run configs and their canonical keys;
- :mod:`.experiments` -- the experiments of the book, one record each, and the drivers that build their configs;
- :mod:`.profiles` -- the ``smoke``/``cpu``/``standard``/``paper`` profiles (how big every experiment is);
- :mod:`.store`    -- the results store (atomic writes, locks, provenance, checkpoints);
- :mod:`.execute`  -- ``run_or_load``: train, measure and store, or load; resumable; ``run_configs`` for many;
- :mod:`.load`     -- :func:`load`, the one loader of runs: what was loaded, what it trained, what is missing;
- :mod:`.protocol` -- what a protocol-2 run measures (worst cases, sine modes, per-image distances, trajectories);
- :mod:`.parallel` -- missing runs trained in worker processes on this machine (``run_configs(jobs=N)``);
- :mod:`.threads` -- the one thread count every run trains with on a CPU (:data:`RUN_THREADS`);
- :mod:`.cluster`  -- the same through submitit, one job per run (``executor="slurm"`` or ``"local"``);
- :mod:`.sizes`    -- how big a run is from its config: training images per epoch, SGD steps;
- :mod:`.estimate` -- how long the missing runs will take, timed here before training (other devices: derived
  from their datasheets, and said so);
- :mod:`.campaign` -- a profile's campaign: every experiment its chapters train, each run once (``run all``);
- :mod:`.bn_init` -- each trained run's initial network with BatchNorm calibrated on its training images
  (``bn-init``): :func:`calibrated_inits` reads them, :func:`with_calibrated_init` swaps them into the runs;
- :mod:`.pilots` -- the pilots of claim 5's synthetic regime search, as ``results/pilot-synthetic/RULE.md`` fixed
  them (``python -m defstab_lib.runs.pilots A``);
- :mod:`.untrained` -- experiments that train nothing (random networks of Figures 3a/c and 4), stored the same way;
- :mod:`.kernel_view` -- the kernel-view chapter's stored measurements (kernel baselines, CNN translations), read
  as the records of :mod:`.kernel_records`.

Typical use, from a chapter::

    from defstab_lib import runs
    configs = runs.experiment_configs("pooling", "cpu", seeds=2)
    loaded = runs.load({"pooling": configs})  # loads what is stored, trains the rest
    results, note = loaded.results["pooling"], loaded.compute_note()
"""

from .config import PROTOCOL_VERSION, ArchConfig, DataConfig, ProbeConfig, RunConfig, run_key
from .execute import build_run_data, measure, results_table, run_configs, run_or_load
from .profiles import BOOK_PROFILE, DOWNSAMPLING, PROFILES, STRENGTHS, get_profile
from .experiments import EXPERIMENTS, Experiment, experiment_configs, get_experiment, register, trained_experiments
from .load import Loaded, NotStored, load
from .store import CorruptResultError, Measurement, Results, ResultsStore, results_root
from .kernel_view import CNNTranslations, KernelBaselines, cnn_translation_sweeps, kernel_baselines
from .untrained import RandomNetworks, SmoothInit, pooling_init, smooth_init
from .bn_init import calibrated_inits, with_calibrated_init
from .threads import RUN_THREADS

__all__ = [
    "RUN_THREADS",
    "PROTOCOL_VERSION", "ArchConfig", "DataConfig", "ProbeConfig", "RunConfig", "run_key",
    "build_run_data", "measure", "results_table", "run_configs", "run_or_load",
    "BOOK_PROFILE", "DOWNSAMPLING", "PROFILES", "STRENGTHS", "get_profile",
    "EXPERIMENTS", "Experiment", "experiment_configs", "get_experiment", "register", "trained_experiments",
    "Loaded", "NotStored", "load",
    "CorruptResultError", "Measurement", "Results", "ResultsStore", "results_root",
    "RandomNetworks", "SmoothInit", "smooth_init", "pooling_init", "calibrated_inits", "with_calibrated_init",
    "CNNTranslations", "KernelBaselines", "cnn_translation_sweeps", "kernel_baselines",
]
