"""The report: the recipe it states (from the configs, for every profile), claim 7's contrast (the matched-real runs
where the profile has them), the comparison of profiles, and the stored cpu profile's verdicts, which none of this
may change."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from defstab_lib import analysis, chapters, cli, runs
from defstab_lib.analysis import claims, compare, recipe, report
from defstab_lib.chapters import loading
from defstab_lib.runs import Measurement, RandomNetworks, Results
from defstab_lib.runs.estimate import training_steps
from defstab_lib.runs.untrained import SmoothInit
from defstab_lib.train import TensorBatches
from defstab_lib.vocabulary import DOWNSAMPLING

LAYERS, CONVS = 13, 8

# ------------------------------------------------------------------------------------------- the recipe


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


def test_steps_are_the_batches_the_training_loop_takes():
    config = runs.experiment_configs("pooling", "smoke")[0]
    config = dataclasses.replace(config, data=dataclasses.replace(config.data, train_size=300), batch_size=128,
                                 epochs=3, measure_epochs=())
    batches = TensorBatches(torch.zeros(300, 1, 2, 2), torch.zeros(300, dtype=torch.long), 128, seed=0)
    assert training_steps(config) == 3 * len(batches) == 6


def test_arithmetic_of_stored_runs_says_what_was_used_where_they_ran():
    c = runs.experiment_configs("pooling", "cpu")[0]
    on_cpu = Results(c, [fake_measurement(0, 0.3)], [], {"device": "cpu"})
    on_gpu = Results(c, [fake_measurement(0, 0.3)], [], {"device": "cuda:0"})
    assert recipe.recipe([on_cpu])["arithmetic"].startswith("float32 training (precision 'auto' on cpu)")
    assert recipe.recipe([on_gpu])["arithmetic"].startswith("bfloat16 autocast training (precision 'auto' on cuda:0)")


# ------------------------------------------------------------------------------------------- fake evidence


def fake_measurement(epoch: int, level: float, tv: float = 1.87) -> Measurement:
    cosine = [level] * LAYERS
    return Measurement(epoch=epoch, cosine=cosine, euclidean=cosine, noise_cosine=[x / 2 for x in cosine],
                       smoothness=[tv] * CONVS, train_accuracy=1.0, test_accuracy=0.9, train_loss=0.0, test_loss=0.0)


#: Final sensitivity of each architecture: flat with the pooling runs, wide with random labels, between with the
#: matched real labels, so that claim 7's effect tells which real-label runs it read.
SPREAD = {"pooling": 0.0, "matched-real": 0.15, "random-labels": 0.6}


def fake_results(config) -> Results:
    rng = np.random.default_rng(int(config.key[:8], 16))
    if config.data.dataset == "synthetic":
        final, tv = 0.3, 1.8 - 0.05 * config.data.strength + 0.01 * rng.standard_normal()
    else:
        rank = DOWNSAMPLING.index(config.arch.downsampling) - 2
        final = 0.3 * np.exp(SPREAD[config.experiment] * rank + 0.01 * rng.standard_normal())
        tv = 1.7
    return Results(config, [fake_measurement(0, 0.3), fake_measurement(config.epochs, float(final), tv)], [],
                   {"wall_time_s": 1.0, "device": "cpu", "device_name": "CPU: test"})


def fake_networks(kind: str, **_) -> dict:
    rng = np.random.default_rng(0)
    conditions = list(DOWNSAMPLING) if kind == "pooling" else [0.0, 1.0, 4.0]
    cosine = 0.3 * np.exp(rng.normal(0, 0.05, (len(conditions), 4, LAYERS)))
    cls = RandomNetworks if kind == "pooling" else SmoothInit
    nets = cls(conditions=conditions, cosine=cosine, distance=cosine, median=np.ones_like(cosine),
               noise_cosine=cosine / 2, smoothness=np.full((len(conditions), 4, CONVS), 1.87), n_images=16,
               width=0.5, dataset="test", provenance={})
    return {0.5: nets}


def fake_evidence(profile: str, *, matched: bool = True) -> report.Evidence:
    def of(experiment):
        return [fake_results(c) for c in runs.experiment_configs(experiment, profile)]

    return report.Evidence(profile=profile, dataset="fashion-mnist", real=of("pooling"), random=of("random-labels"),
                           synthetic=of("synthetic"), pooling_nets=fake_networks("pooling"),
                           smooth_nets=fake_networks("smoothing"), matched=of("matched-real") if matched else [])


# ------------------------------------------------------------------------------------------- claim 7's contrast


def test_claim_7_reads_the_matched_real_runs_where_the_profile_has_them():
    ev = fake_evidence("standard")
    v7 = report.all_verdicts(ev)[-1]
    assert v7.numbers["number"] == "7"
    against_matched = claims.random_labels_depend_on_architecture(ev.random, ev.matched)
    against_pooling = claims.random_labels_depend_on_architecture(ev.random, ev.real)
    assert v7.effect == pytest.approx(against_matched.effect)
    assert not np.isclose(v7.effect, against_pooling.effect)  # the fakes make the two contrasts differ
    assert "the matched-real runs, trained by the random labels' own recipe" in v7.statistic
    sources = report.verdict_sources(ev)["random-labels"]
    assert all(r in sources for r in ev.matched) and not any(r in sources for r in ev.real)
    rows_ = {r[""]: r["this run"] for r in report.scale_rows(ev)}
    assert "matched-real runs" in rows_["claim 7's real labels"] and "labels alone" in rows_["claim 7's real labels"]
    assert "independent draw per network and seed" in rows_["initialisations"]
    assert "start from the weights of the real-label run of the same network and seed" in rows_["initialisations"]
    with pytest.raises(ValueError, match="matched-real"):
        report.all_verdicts(fake_evidence("standard", matched=False))


def test_claim_7_reads_the_pooling_runs_in_the_older_profiles():
    ev = fake_evidence("cpu", matched=False)
    v7 = report.all_verdicts(ev)[-1]
    assert v7.effect == pytest.approx(claims.random_labels_depend_on_architecture(ev.random, ev.real).effect)
    assert "the pooling runs, trained by another recipe than the random labels' (it differs in training" \
        in v7.statistic
    rows_ = {r[""]: r["this run"] for r in report.scale_rows(ev)}
    assert "within a seed the subsample, maxpool, avgpool networks" in rows_["initialisations"]
    assert "20,000 of the 60,000 training images × 8 epochs" in rows_["training, real labels"]
    assert report.label_contrast("cpu") == "pooling" and report.label_contrast("standard") == "matched-real"


@pytest.fixture
def standard_store(tmp_path, monkeypatch):
    """A results store holding fake runs of every experiment the standard profile's report reads (nothing is
    trained), random networks faked."""
    store = runs.ResultsStore(tmp_path)
    for experiment in ("pooling", "random-labels", "synthetic", "matched-real"):
        for c in runs.experiment_configs(experiment, "standard"):
            store.save(fake_results(c))
    monkeypatch.setattr(loading, "random_networks", fake_networks)
    monkeypatch.setenv("DEFSTAB_RESULTS", str(tmp_path))
    return store


def test_load_evidence_loads_the_matched_runs_and_the_comparison_shows_who_is_complete(standard_store):
    assert loading.stored_counts("standard", store=standard_store) == {
        "pooling": (25, 25), "random-labels": (25, 25), "synthetic": (20, 20), "matched-real": (25, 25)}
    assert "matched-real" not in loading.stored_counts("cpu", store=standard_store)
    ev, loaded = loading.load_evidence(profile="standard", stored_only=True, store=standard_store)
    assert loaded.trained == 0 and loaded.all_results == [*ev.real, *ev.random, *ev.synthetic, *ev.matched]
    assert len(ev.matched) == 25 and {r.config.experiment for r in ev.contrast} == {"matched-real"}
    compared = loading.compare_profiles(["standard", "cpu"], store=standard_store)
    assert [c.complete for c in compared] == [True, False]
    assert compared[0].verdicts[-1].effect == pytest.approx(report.all_verdicts(ev)[-1].effect)
    table = compare.comparison_rows(compared)
    assert len(table) == 8 and list(table[0]) == ["claim", "standard"] and "95% CI" in table[-1]["standard"]
    note = compare.incomplete_note(compared)
    assert "The cpu profile is incomplete: 0 of its 42 runs are stored (pooling 0/15" in note
    recipes = report.recipes_side_by_side([compared[0].evidence])
    assert list(recipes[0]) == ["", "standard", "the paper"]
    # one matched run missing: the standard profile is incomplete, and says by how much
    standard_store.path(runs.experiment_configs("matched-real", "standard")[0]).unlink()
    again = loading.compare_profiles(["standard"], store=standard_store)[0]
    assert not again.complete and again.runs["matched-real"] == (24, 25) and "matched-real" in again.missing
    with pytest.raises(ValueError, match="no profile"):
        compare.comparison_rows([again])
    with pytest.raises(ValueError, match="once"):
        loading.compare_profiles(["cpu", "cpu"], store=standard_store)


def test_report_profiles_command(standard_store, capsys):
    assert cli.main(["report", "--profiles", "cpu", "standard", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["dataset"] == "fashion-mnist" and list(out["profiles"]) == ["cpu", "standard"]
    cpu, standard = out["profiles"]["cpu"], out["profiles"]["standard"]
    assert not cpu["complete"] and cpu["stored"] == 0 and cpu["total"] == 42 and "verdicts" not in cpu
    assert standard["complete"] and standard["stored"] == standard["total"] == 95
    assert [v["number"] for v in standard["verdicts"]] == ["H", "1", "2", "3", "4", "5", "6", "7"]
    assert "matched-real" in standard["verdicts"][-1]["statistic"]
    assert standard["recipe"]["augmentation"].startswith("real labels: random horizontal flip")
    assert cli.main(["report", "--profiles", "cpu", "standard"]) == 0
    text = capsys.readouterr().out
    assert "standard  " in text and "The cpu profile is incomplete" in text
    for bad in (["--profiles", "nope"], ["--profiles", "cpu", "--seeds", "3"], ["--profiles", "--profile", "cpu"]):
        with pytest.raises(SystemExit) as exit_:
            cli.main(["report", *bad])
        assert exit_.value.code == 2


@pytest.mark.parametrize("profile, contrast", [("standard", "matched-real"), ("cpu", "pooling")])
def test_the_random_labels_chapter_reads_and_states_the_reports_claim_7(profile, contrast, tmp_path, monkeypatch,
                                                                        capsys):
    """The chapter loads the profile's claim-7 contrast (in standard the matched-real runs, not the pooling runs,
    which are stored too), and its verdict is the one `report --json` prints; `status` counts those runs."""
    store = runs.ResultsStore(tmp_path)
    for configs in loading.report_configs(profile).values():
        for c in configs:
            store.save(fake_results(c))
    monkeypatch.setattr(loading, "random_networks", fake_networks)
    monkeypatch.setenv("DEFSTAB_RESULTS", str(tmp_path))
    params = chapters.validate("random_labels", dataset="fashion-mnist", profile=profile,
                               seeds=runs.get_profile(profile).seeds, downsampling=list(DOWNSAMPLING), device="cpu")
    loaded = chapters.load_runs("random_labels", params)
    assert list(loaded.configs) == ["random-labels", contrast] and loaded.trained == 0
    assert loaded.configs[contrast] == runs.experiment_configs(contrast, profile)
    assert report.label_contrast(profile) == contrast
    verdict = report.random_labels_verdict(loaded.results["random-labels"], loaded.results[contrast])
    assert f"the {contrast} runs" in verdict.statistic
    assert cli.main(["report", "--profile", profile, "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)[-1]
    assert printed == {"number": "7", **analysis.to_json(verdict)}
    rows = {r["experiment"]: r["stored"] for r in cli.status_rows([profile]) if r["chapter"] == "random_labels"}
    n = len(loaded.configs[contrast])
    assert rows == {"random-labels": f"{n}/{n}", contrast: f"{n}/{n}"}


# ------------------------------------------------------------------------------------------- the stored cpu profile

#: The cpu profile's verdicts as the committed results store gives them (``python -m defstab_lib report --json``
#: before the report learnt recipes, matched contrasts and profiles): number -> (verdict, effect, CI, beside).
CPU_VERDICTS = {
    "H": ("inconclusive", 1.015882, 0.664277, 1.553593, [("contradicted", 1.476833)]),
    "1": ("supported", 0.581911, 0.560999, 0.602859, [("supported", 0.604445), ("supported", 0.621884)]),
    "2": ("supported", 1.615187, 1.489209, 1.751821, []),
    "3": ("contradicted", 0.817988, 0.773153, 0.865423, []),
    "4": ("supported", 0.420198, 0.392719, 0.446141, [("supported", 0.430122)]),
    "5": ("no meaningful effect", 0.992603, 0.979122, 1.006271, []),
    "6": ("supported", 0.96654, 0.964958, 0.968124, []),
    "7": ("no meaningful effect", 0.966143, 0.802958, 1.162492, []),
}


def test_the_cpu_profiles_verdicts_and_numbers_are_unchanged(capsys):
    assert cli.main(["report", "--json"]) == 0
    got = {c["number"]: c for c in json.loads(capsys.readouterr().out)}
    assert list(got) == list(CPU_VERDICTS)
    for number, (verdict, effect, low, high, beside) in CPU_VERDICTS.items():
        c = got[number]
        assert (c["verdict"], c["effect"], c["ci_low"], c["ci_high"]) == (verdict, effect, low, high), number
        assert [(b["verdict"], b["effect"]) for b in c.get("beside", [])] == beside, number
    assert "real labels: the pooling runs" in got["7"]["statistic"]
