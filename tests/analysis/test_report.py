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


def test_the_summary_says_each_verdict_once_with_the_headline_first_and_the_reason_of_what_is_not_settled():
    from defstab_lib.analysis.stats import Room, Rule
    from defstab_lib.analysis.verdicts import judge

    def v(key, number, units, room=None):
        found = judge(claim=f"Claim {key} holds.", figure="F", statistic="s", what=f"{key} ratio", units=units,
                      rule=Rule(-1, 0.1, "why."), runs=10, room=room)
        found.numbers.update({"key": key, "number": number})
        return found

    verdicts = [v("headline", "H", [-0.5, -0.4, -0.45]), v("one", 1, [-0.5, -0.4, -0.45]),
                v("two", 2, [-0.3, 0.2, 0.05]), v("three", 3, [0.0, 0.01, -0.01], Room(0.01, 0.2, "it moved 1%"))]
    lines = report.summary_lines(verdicts, {"headline": (3, 4)}, profile="standard", dataset="Fashion-MNIST")
    assert lines[0].startswith("Of the paper's headline and its 3 claims") and "2 supported" in lines[0]
    assert "**supported**" in lines[1] and "holds in 3 of 4" in lines[1]
    assert lines[2] == "Supported: claim 1 (claim one holds)."
    assert "claim 2 (claim two holds), inconclusive (about" in lines[3] and "uninformative (it moved 1%)" in lines[3]
    assert "`standard`" in lines[-1] and len(lines) == 5


def test_the_limitations_state_the_runs_own_scale_and_what_is_not_decided_and_why():
    from defstab_lib.analysis.stats import Room, Rule
    from defstab_lib.analysis.verdicts import judge

    ev = fake_evidence("standard")
    found = [judge(claim="Claim two holds.", figure="F", statistic="s", what="w", units=[-0.3, 0.2, 0.05],
                   rule=Rule(-1, 0.1, "why."), runs=10),
             judge(claim="Claim three holds.", figure="F", statistic="s", what="w", units=[0.0, 0.01, -0.01],
                   rule=Rule(-1, 0.1, "why."), runs=10, room=Room(0.01, 0.2, "It moved 1%"))]
    for v, n in zip(found, (2, 3)):
        v.numbers.update({"key": f"k{n}", "number": n})
    lines = report.limitations(ev, found)
    text = "\n".join(lines)
    width = ev.width
    assert f"×{width:g} of the paper's width" in text and "none saw CIFAR-10 or ImageNet" in text
    seeds = sorted({r.config.seed for r in ev.real})
    assert f"{len(seeds)} per setting (seeds {', '.join(map(str, seeds))})" in text
    assert "claim 2 (claim two holds) is inconclusive: about" in lines[-2]
    assert lines[-1].startswith("**Could not be measured.**  claim 3 (claim three holds): it moved 1%")
    assert len(report.limitations(ev, found[:0])) == 4  # nothing undecided: no such lines
