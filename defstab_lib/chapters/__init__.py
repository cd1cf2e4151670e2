"""The book's chapters: their parameters, how they are validated, and what each chapter shows about its run.

- :mod:`.registry` -- every chapter's papermill parameters, smoke parameters and the experiments it reads;
- :mod:`.page`     -- validation, the parameters table, glued values, HTML tables;
- :mod:`.loading`  -- the runs a page reads, through :func:`defstab_lib.runs.load` (:func:`load_runs`, the report's
  :func:`load_evidence`, the ablation's :func:`load_cells`, the profiles compared);
- :mod:`.figures`  -- figures displayed with their provenance (:func:`show_figure`).

A chapter notebook uses this package in the cell after its ``parameters`` cell::

    from defstab_lib import chapters
    params = chapters.validate("data", n_per_source=n_per_source, seed=seed)
    chapters.show_parameters("data", params)

A chapter that reads trained runs loads them (training what is not stored, if that takes at most
:data:`ASK_ABOVE_S` here or its ``train`` parameter asks for it) in one call, :func:`load_runs`::

    loaded = chapters.load_runs("pooling", params)
    results, groups = loaded.results["pooling"], loaded.groups["pooling"]
"""

from ..runs.load import NotAsked
from ..vocabulary import DOWNSAMPLING
from .figures import FIGURE_DPI, computation_file, figure_bundle, figure_drawn_by, results_file, show_figure
from .loading import (
    ASK_ABOVE_S,
    ChapterRuns,
    compare_ablations,
    compare_profiles,
    load_cells,
    load_evidence,
    load_inputs,
    load_pilots,
    load_runs,
    page_inputs,
    random_networks,
    report_configs,
    stored_counts,
)
from .page import glue, glue_all, html_table, injected_parameters, parameters_html, resolve_device, show_parameters, \
    validate
from .registry import (
    CHAPTERS,
    CLAIM_CHAPTERS,
    DEVICE_PARAM,
    PROFILE_PARAM,
    RUN_DOWNSAMPLING_PARAM,
    RUN_SEEDS_PARAM,
    SEED_PARAM,
    TRAIN_DATASET_PARAM,
    TRAIN_DEVICE_PARAM,
    ChapterSpec,
    Param,
    claim_links,
    get,
)

__all__ = ["Param", "ChapterSpec", "SEED_PARAM", "DEVICE_PARAM", "PROFILE_PARAM", "TRAIN_DATASET_PARAM",
           "RUN_SEEDS_PARAM", "RUN_DOWNSAMPLING_PARAM", "TRAIN_DEVICE_PARAM", "CHAPTERS", "CLAIM_CHAPTERS", "claim_links",
           "get", "validate",
           "injected_parameters", "show_parameters", "parameters_html", "glue", "glue_all", "resolve_device",
           "html_table", "ChapterRuns", "ASK_ABOVE_S", "NotAsked", "load_runs", "load_evidence", "load_inputs",
           "page_inputs", "random_networks", "report_configs",
           "load_cells", "stored_counts", "compare_profiles", "compare_ablations", "load_pilots", "FIGURE_DPI",
           "results_file", "computation_file", "figure_drawn_by", "figure_bundle", "show_figure", "DOWNSAMPLING"]
