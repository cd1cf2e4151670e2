"""From stored results to the statistics and verdicts the book states (see :mod:`.claims`)."""

from .claims import (
    SUPPORTED,
    NOT_SUPPORTED,
    INCONCLUSIVE,
    Verdict,
    group_by,
    profile_array,
    profiles,
    spearman,
    between_spread,
    pooling_at_init,
    training_changes_pattern,
    convergence_after_training,
    smoothing_stabilises,
    stronger_tasks_smoother,
    training_smooths,
    random_labels_depend_on_architecture,
    accuracy_rows,
    compute_note,
)

__all__ = [
    "SUPPORTED",
    "NOT_SUPPORTED",
    "INCONCLUSIVE",
    "Verdict",
    "group_by",
    "profile_array",
    "profiles",
    "spearman",
    "between_spread",
    "pooling_at_init",
    "training_changes_pattern",
    "convergence_after_training",
    "smoothing_stabilises",
    "stronger_tasks_smoother",
    "training_smooths",
    "random_labels_depend_on_architecture",
    "accuracy_rows",
    "compute_note",
]

from . import kernel_view  # the kernel view's fits, numbers and verdict (defstab_lib.analysis.kernel_view)
