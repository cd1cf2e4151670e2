"""The recipe the report states (``defstab_lib/analysis/recipe.py``), from the configs, for every profile."""

from __future__ import annotations


import pytest

from defstab_lib import analysis, runs
from defstab_lib.analysis import recipe
from defstab_lib.runs import Results

from tests.helpers import fake_measurement


def rows(experiment: str, profile: str, **options) -> dict[str, str]:
    return recipe.recipe(runs.experiment_configs(experiment, profile, **options))


def test_recipe_of_the_cpu_profile():
    r = rows("pooling", "cpu")
    assert r["training"].startswith("20,000 of the 60,000 training images × 8 epochs ≈ 1,248 SGD steps (batch 128); "
                                    "learning rate 0.05, cosine schedule, 0.5 warm-up epochs")
    assert r["augmentation"] == "none"
    assert r["network"].startswith("×0.5 of the paper's width: blocks 2×16, 2×32, 2×64, 2×128")
    assert "drawn from the seed alone (protocol 1)" in r["initialisations"]
    assert "the subsample, maxpool, avgpool networks" in r["initialisations"]
    assert r["initialisations"].startswith("3 seeds per network")
    assert "precision 'auto'" in r["arithmetic"] and "bfloat16 autocast on CUDA" in r["arithmetic"]
    assert r["measured"] == "at initialisation; after epochs 1, 2, 4; at the end (epoch 8)"
    random = rows("random-labels", "cpu")
    assert random["training"].startswith("2,000 of the 60,000 training images × 40 epochs ≈ 600 SGD steps")
    assert "learning rate 0.02" in random["training"] and "random labels" in random["data"]


def test_recipe_of_the_standard_profile():
    r = rows("pooling", "standard")
    assert r["training"].startswith("all 60,000 training images × 16 epochs ≈ 7,488 SGD steps (batch 128)")
    assert r["augmentation"] == recipe.AUGMENTATION_WORDS["flip-crop"]
    assert r["initialisations"] == "5 seeds per network, each an independent draw per network and seed (protocol 2): " \
                                   "25 draws"
    assert "seed alone" not in r["initialisations"] and "same weights" not in r["initialisations"]
    assert r["arithmetic"].startswith("bfloat16 autocast training (precision 'bf16')")
    assert "after 0.125, 0.25, 0.5 of epoch 1" in r["measured"] and "(measurement protocol 2)" in r["probe"]
    matched, random = rows("matched-real", "standard"), rows("random-labels", "standard")
    assert matched["training"] == random["training"] and matched["augmentation"] == random["augmentation"] == "none"
    assert "real labels" in matched["data"] and "random labels" in random["data"]
    synthetic = rows("synthetic", "standard")
    assert "the 4 runs of one network and seed start from the same weights" in synthetic["initialisations"]
    assert synthetic["training"].startswith("512 fresh examples per epoch × 40 epochs ≈ 160 SGD steps")
    assert "after every epoch from 1 to 39; at the end (epoch 40)" in synthetic["measured"]
    cifar = rows("pooling", "standard", dataset="cifar10")  # train_size None: the dataset's own training set
    assert cifar["training"].startswith("all 50,000 training images × 16 epochs ≈ 6,240 SGD steps")
    assert cifar["data"].startswith("CIFAR-10 (32×32), real labels")


def test_recipe_of_the_smoke_profile_and_the_table():
    r = rows("pooling", "smoke")
    assert r["training"].startswith("512 of the 60,000 training images × 2 epochs ≈ 16 SGD steps (batch 64)")
    assert r["network"].startswith("×0.125 of the paper's width: blocks 2×4, 2×8, 2×16, 2×32")
    assert rows("synthetic", "smoke")["training"].startswith("256 fresh examples per epoch × 1 epoch ≈ 4 SGD steps")
    table = recipe.recipe_rows({"pooling": runs.experiment_configs("pooling", "smoke"),
                                "worst-case": runs.experiment_configs("worst-case", "smoke")})
    assert [row[""] for row in table] == list(recipe.ASPECTS)
    assert list(table[0]) == ["", "pooling", "worst-case", "the paper"]
    html = analysis.recipe_html({"pooling": runs.experiment_configs("pooling", "smoke")})
    assert html.count("<tr>") == 1 + len(recipe.ASPECTS) and "the paper" in html and "≈ 16 SGD steps" in html
    with pytest.raises(ValueError, match="groups"):
        recipe.recipe_rows({})
    with pytest.raises(ValueError, match="items"):
        recipe.recipe([])
    with pytest.raises(TypeError, match="RunConfig or Results"):
        recipe.recipe(["pooling"])


def test_arithmetic_of_stored_runs_says_what_was_used_where_they_ran():
    c = runs.experiment_configs("pooling", "cpu")[0]
    on_cpu = Results(c, [fake_measurement(0, 0.3)], [], {"device": "cpu"})
    on_gpu = Results(c, [fake_measurement(0, 0.3)], [], {"device": "cuda:0"})
    assert recipe.recipe([on_cpu])["arithmetic"].startswith("float32 training (precision 'auto' on cpu)")
    assert recipe.recipe([on_gpu])["arithmetic"].startswith("bfloat16 autocast training (precision 'auto' on cuda:0)")
