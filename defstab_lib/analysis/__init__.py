"""From stored results to effects, confidence intervals and verdicts: one pre-registered test per claim.

- :mod:`.stats`    -- the generic machinery: intervals over independent units (and with the probe as a shared
  random factor), rules, verdicts (with room to move: "uninformative"), ``n_needed``;
- :mod:`.calibration` -- each rule simulated at the observed spread and skew: false support and power;
- :mod:`.verdicts` -- the :class:`Verdict` object and the one way every page states, glues and tabulates it;
- :mod:`.reading`  -- the one "How to read a verdict" box and the compact lines a page states a claim in;
- :mod:`.claims`   -- the eight tests (the paper's seven claims and its headline) as :class:`Claim` records, each
  with its rule, and the functions that judge them;
- :mod:`.specifications` -- every claim under its declared specifications (:mod:`.alternatives` computes them,
  :mod:`.room` says whether a quantity could have shown the effect, :mod:`.robustness` reads the result and
  :mod:`.calibration` simulates each rule at the observed spreads);
- :mod:`.arrays`   -- stored results as arrays (grouping, profiles, spreads);
- :mod:`.tables`   -- accuracy tables and the generic HTML table;
- :mod:`.random_networks` -- the numbers Figure 4's chapter states;
- :mod:`.recipe`   -- what a set of runs is (data, network, augmentation, training, initialisations, arithmetic),
  from its configs, beside what the paper ran;
- :mod:`.report`   -- every verdict of a profile, from its evidence (the report page and the CLI);
- :mod:`.compare`  -- the verdicts of every profile whose results are all stored, side by side;
- :mod:`.ablation` -- what teaches stability: one pre-registered verdict per factor of the training recipe;
- :mod:`.length`   -- the rule that picks the ``standard`` profile's training length from its pilots;
- :mod:`.regime`   -- the criteria that choose claim 5's synthetic regime from its pilots (issue 26);
- :mod:`.course`   -- when filters smooth and whether the way is monotone, from the stored trajectories;
- :mod:`.imagenet` -- an ImageNet-trained network against random initialisations of its architecture.
"""

from .arrays import between_spread, by_seed, group_by, profile_array, profiles, spearman
from .claims import (
    CLAIMS,
    Claim,
    convergence_after_training,
    pooling_at_init,
    random_labels_depend_on_architecture,
    smoothing_stabilises,
    stronger_tasks_smoother,
    training_changes_pattern,
    training_smooths,
    unpooled_learn_stability,
)
from .calibration import Calibration, calibrate, calibration_rows, tightened
from .stats import (
    CONTRADICTED,
    INCONCLUSIVE,
    NO_EFFECT,
    NOT_SUPPORTED,
    SUPPORTED,
    UNINFORMATIVE,
    VERDICTS,
    Estimate,
    Room,
    Rule,
    decide,
    interval,
    interval_with_probe,
    n_needed,
    probe_replicates,
)
from .random_networks import smoothing_numbers
from .reading import claim_lines, verdict_guide
from .recipe import recipe_html, recipe_rows
from .tables import accuracy_rows, html_table
from .verdicts import (
    Verdict,
    effect_words,
    glue_id,
    glue_values,
    judge,
    sentence,
    side_by_side,
    table_rows,
    to_json,
    verdict_table,
    what_would_change,
)

__all__ = [
    "kernel_view", "matched", "specifications", "robustness",
    "SUPPORTED", "CONTRADICTED", "NO_EFFECT", "INCONCLUSIVE", "UNINFORMATIVE", "NOT_SUPPORTED", "VERDICTS",
    "Rule", "Room", "Estimate", "interval", "decide", "n_needed", "probe_replicates", "interval_with_probe",
    "Calibration", "calibrate", "tightened", "calibration_rows",
    "Verdict", "judge", "effect_words", "sentence", "what_would_change", "glue_id", "glue_values", "to_json",
    "table_rows", "side_by_side", "verdict_table", "html_table", "claim_lines", "verdict_guide",
    "Claim", "CLAIMS",
    "pooling_at_init", "training_changes_pattern", "convergence_after_training", "smoothing_stabilises",
    "stronger_tasks_smoother", "training_smooths", "random_labels_depend_on_architecture",
    "unpooled_learn_stability",
    "group_by", "by_seed", "profile_array", "profiles", "spearman", "between_spread",
    "accuracy_rows", "smoothing_numbers", "recipe_rows", "recipe_html",
]

from . import kernel_view  # the kernel view's fits, numbers and verdict (defstab_lib.analysis.kernel_view)
from . import matched  # claim 5 at matched training loss (defstab_lib.analysis.matched)
from . import robustness, specifications  # every claim under its declared specifications
