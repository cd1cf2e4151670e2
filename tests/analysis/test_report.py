"""The report (``defstab_lib/analysis/report.py``): claim 7's contrast reads the matched-real runs where the
profile has them, the pooling runs in the older profiles."""

from __future__ import annotations


import numpy as np
import pytest

from defstab_lib import runs
from defstab_lib.analysis import claims, report

from tests.helpers import fake_networks, fake_results


def fake_evidence(profile: str, *, matched: bool = True) -> report.Evidence:
    def of(experiment):
        return [fake_results(c) for c in runs.experiment_configs(experiment, profile)]

    return report.Evidence(profile=profile, dataset="fashion-mnist", real=of("pooling"), random=of("random-labels"),
                           synthetic=of("synthetic"), pooling_nets=fake_networks("pooling"),
                           smooth_nets=fake_networks("smoothing"), matched=of("matched-real") if matched else [])


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
