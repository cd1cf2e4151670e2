"""The kernel view's analysis (``defstab_lib/analysis/kernel_view.py``), on stored objects built from
constructed sweeps whose slopes are known exactly: every fit recovers them, and the verdict follows the CNNs'
slopes."""

from __future__ import annotations


import numpy as np
import pytest

from defstab_lib.analysis import CONTRADICTED, INCONCLUSIVE, NO_EFFECT, SUPPORTED, kernel_view as kv

from tests.helpers import (
    B_NONE,
    CKN_SIGMAS,
    K_LAW,
    N_IMAGES,
    change,
    constructed_baselines,
    constructed_cnns,
    norms,
)


def test_baseline_fits_recover_the_constructed_slopes_and_the_one_over_sigma_law():
    kb = constructed_baselines()
    fits = kv.fit_baselines(kb)
    np.testing.assert_allclose(fits.b_T, [B_NONE, K_LAW / 2, K_LAW / 4], atol=1e-12)
    np.testing.assert_allclose(fits.a_D, [1.0, 0.5, 1 / 3], atol=1e-12)
    np.testing.assert_allclose(fits.table("scattering_translation")["displacement"], [0.2, 0.1], atol=1e-12)
    assert fits.first_pooled == 1 and fits.reference == 1  # sigma = 1 is nearest 2 / sqrt(2)
    law = fits.law()
    assert law.coef["inverse_scale"] == pytest.approx(K_LAW) and law.r2 == pytest.approx(1.0)
    x, y = fits.law_curve(5)
    np.testing.assert_allclose(y, K_LAW / x)
    numbers = kv.baseline_numbers(kb, fits)
    assert numbers["bT_fold"] == pytest.approx(2.0) and numbers["scale_fold"] == pytest.approx(2.0)
    assert numbers["bT_none"] == pytest.approx(B_NONE) and numbers["law_k"] == pytest.approx(K_LAW)
    assert numbers["bT_monotone"] == "falls at every step"
    assert numbers["bT_header"].startswith("shrinks")
    assert numbers["c_min"] == pytest.approx(0.02) and numbers["c_max"] == pytest.approx(0.02)
    assert numbers["bT_input_fold"] == pytest.approx(2.0)  # the other normalisation is a constant factor here
    assert numbers["n_joint"] == 5 and numbers["J_first"] == 1 and numbers["J_last"] == 2
    assert numbers["within_limit"] == pytest.approx(100 * np.mean(norms()[1]["max_jacobian"] <= 0.5))
    assert kv.baseline_rows(fits)[0]["model"].startswith("CKN, σ = 0 px")
    assert set(fits.reference_slopes("displacement")) == {"CKN, σ = 1 px", "scattering, J = 2"}
    with pytest.raises(ValueError, match="term"):
        fits.slope_series("displacment")


def test_a_ckn_whose_slope_does_not_fall_says_so():
    kb = constructed_baselines()
    for seed_sweeps in kb.payload["ckn"]["sweeps"][2]:  # the widest pooling: translation slope back up to B_NONE
        tr = kb.payload["translation_sweep"]
        seed_sweeps["translations"]["change"] = change(tr, 4, displacement=B_NONE)
    numbers = kv.baseline_numbers(kb, kv.fit_baselines(kb))
    assert numbers["bT_monotone"] == "does not fall at every step"
    assert numbers["bT_header"].startswith("does not shrink")


def test_ckn_change_samples_average_the_anchor_seeds():
    kb = constructed_baselines()
    samples = kv.ckn_change_samples(kb, "translations")
    x, y = samples[CKN_SIGMAS[1]]
    np.testing.assert_allclose(y, K_LAW / 2 * x)  # the seeds' opposite offsets cancel
    with pytest.raises(ValueError, match="family"):
        kv.ckn_change_samples(kb, "rotations")


@pytest.mark.parametrize("unpooled_final, short, verdict", [
    (0.10, "supports", SUPPORTED),              # falls below the pooled networks' slope at initialisation
    (0.20, "partly supports", SUPPORTED),       # falls by more than 10%, but not that far
    (0.29, "does not support", NO_EFFECT),      # falls by less than the minimal effect (3%)
    (0.35, "does not support", CONTRADICTED),   # rises in training
])
def test_the_verdict_follows_how_training_moves_the_translation_slope_without_pooling(unpooled_final, short,
                                                                                     verdict):
    groups, translations = constructed_cnns({"maxpool": (0.15, 0.18), "strided": (0.30, unpooled_final)})
    cnn = kv.fit_cnns(kv.cnn_sweeps(groups, translations))
    assert cnn.slopes("displacement")["strided"]["final"] == pytest.approx(unpooled_final)
    assert cnn.slopes("jacobian")["maxpool"]["init"] == pytest.approx(0.30)
    v = kv.learned_pooling(groups, translations)
    assert (v.numbers["short"], v.verdict) == (short, verdict) and v.runs == 4  # 2 variants x 2 seeds
    assert v.n_independent == 2 and v.has_ci and short in kv._CONCLUSIONS  # one unit per seed, with an interval
    assert v.effect == pytest.approx(unpooled_final / 0.30, rel=0.05)  # each run's own fit, offsets aside
    assert v.minimal_effect == pytest.approx(1 / 1.10) and v.claim == kv.CLAIM.statement
    (beside,) = v.beside
    assert beside.effect == pytest.approx(unpooled_final / 0.15, rel=0.05) and beside.role == "beside"
    with pytest.raises(ValueError, match="term"):
        cnn.slopes("rotation")


def test_the_kernel_view_verdict_with_one_seed_leaves_the_question_open():
    groups, translations = constructed_cnns({"maxpool": (0.15, 0.18), "strided": (0.30, 0.10)})
    v = kv.learned_pooling({n: rs[:1] for n, rs in groups.items()}, translations)
    assert (v.verdict, v.numbers["short"], v.n_independent) == (INCONCLUSIVE, "leaves open", 1)
    with pytest.raises(ValueError, match="with pooling and without"):
        kv.learned_pooling({"maxpool": groups["maxpool"]}, translations)


def test_cnn_numbers_compare_the_kinds_of_network_and_the_reference_ckn():
    kb = constructed_baselines()
    fits = kv.fit_baselines(kb)
    groups, translations = constructed_cnns({"maxpool": (0.15, 0.18), "avgpool": (0.05, 0.12),
                                             "strided": (0.30, 0.10)})
    cnn = kv.fit_cnns(kv.cnn_sweeps(groups, translations))
    numbers = kv.cnn_numbers(kb, fits, cnn, groups, translations)
    assert numbers["bT_init_pool"] == pytest.approx(0.10) and numbers["bT_final_nopool"] == pytest.approx(0.10)
    assert numbers["aD_final_pool"] == pytest.approx(0.30)
    assert numbers["bT_n_down"] == 1 and numbers["n_variants"] == 3
    assert numbers["gap_init"] == pytest.approx(3.0) and numbers["gap_direction"] == "narrows"
    assert numbers["ref_bT"] == pytest.approx(K_LAW / 2) and numbers["n_below_ref"] == 3
    # a change proportional to the translation's length: one pixel moves it a quarter of four pixels
    assert numbers["cnn_one_px"] == pytest.approx(0.25) and numbers["ckn_one_px"] == pytest.approx(0.25)
    closing = kv.closing_numbers(kb, fits, cnn, groups)
    assert closing["nopool_direction"] == "falls" and closing["pool_direction"] == "rises"
    assert closing["factor_nopool"] == pytest.approx(1 / 3) and closing["init_order"] == "a smaller"
    assert closing["acc_drop"] == pytest.approx(0.02) and closing["bT_best_acc"] == pytest.approx(K_LAW / 2)
    rows = kv.cnn_rows(cnn)
    assert [(r["network"], r["when"]) for r in rows][:2] == [("maxpool", "at initialisation"),
                                                             ("maxpool", "after training")]


def test_profile_and_accuracy_numbers_read_the_stored_profiles_and_probes():
    kb = constructed_baselines()
    fits = kv.fit_baselines(kb)
    groups, _ = constructed_cnns({"maxpool": (0.15, 0.18), "strided": (0.30, 0.10)})
    profiles = kv.profile_numbers(kb, fits, groups)
    assert profiles["input_sensitivity"] == pytest.approx(0.25) and profiles["ckn_last_max"] == pytest.approx(0.1 / 3)
    assert profiles["cnn_layer9_min"] == pytest.approx(0.2)  # after training, every CNN layer is at 0.2
    ckn, scattering = kv.baseline_profiles(kb, fits)
    assert list(ckn) == CKN_SIGMAS and scattering[0] == [0, 3, 6]
    accuracy = kv.accuracy_numbers(kb, groups)
    assert accuracy["acc_ckn_best_sigma"] == "1" and accuracy["acc_cnn_max"] == pytest.approx(0.88)
    rows = kv.model_accuracy_rows(kb, groups)
    assert len(rows) == 2 + 3 + 2 and rows[-1]["model"] == "pixels: linear classifier"
    setup = kv.setup_numbers(kb, groups["maxpool"][0].config)
    assert setup["n_bound_images"] == N_IMAGES and setup["strength_list"] == "0.5, 1, 2, 4"
