"""The training sizes of a run (``defstab_lib/runs/sizes.py``): its steps are the batches the training loop
takes."""

from __future__ import annotations

import dataclasses

import torch

from defstab_lib import runs
from defstab_lib.runs.estimate import training_steps
from defstab_lib.train import TensorBatches


def test_steps_are_the_batches_the_training_loop_takes():
    config = runs.experiment_configs("pooling", "smoke")[0]
    config = dataclasses.replace(config, data=dataclasses.replace(config.data, train_size=300), batch_size=128,
                                 epochs=3, measure_epochs=())
    batches = TensorBatches(torch.zeros(300, 1, 2, 2), torch.zeros(300, dtype=torch.long), 128, seed=0)
    assert training_steps(config) == 3 * len(batches) == 6
