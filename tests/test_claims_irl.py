"""irl.shaping-identifiability and irl.mce pass on the library and fail on broken variants."""

import numpy as np

from proofs_check.claims.irl_identifiability import check_shaping_identifiability
from proofs_check.claims.mce_irl import check_mce
from tabular_rl import occupancy_measure
from tabular_rl.irl.identifiability import shape
from tabular_rl.irl.mce import mce_irl


def test_identifiability_passes_quick(tmp_path):
    r = check_shaping_identifiability(True, out_dir=str(tmp_path))
    assert r.verdict == "pass", r.details
    assert r.figures and r.figures[0].endswith(".png")


def test_identifiability_fails_with_wrong_sign_shaping():
    def broken(mdp, r, phi):  # r - gamma P phi - phi instead of r + gamma P phi - phi
        good = shape(mdp, r, phi)
        potential = np.asarray(phi)[..., None]
        return 2 * np.asarray(r) - good - 2 * potential

    r = check_shaping_identifiability(True, out_dir=None, shaper=broken)
    assert r.verdict == "fail", r.details
    assert "shaping=FAIL" in r.details


def test_identifiability_fails_with_zero_rank_tolerance():
    # rtol = 0 counts every rounding-level singular value as nonzero: "full rank", dim 0
    r = check_shaping_identifiability(True, out_dir=None, rank_rtol=0.0)
    assert r.verdict == "fail", r.details
    assert "rank=FAIL" in r.details


def test_mce_passes_quick(tmp_path):
    r = check_mce(True, out_dir=str(tmp_path))
    assert r.verdict == "pass", r.details
    assert r.figures and r.figures[0].endswith(".png")
    assert r.measured["max_residual"] <= 1e-8


def test_mce_fails_with_flipped_gradient():
    def broken(mdp, d_E, features, **kw):  # ascent on mu_theta - mu_E: gradient sign flipped
        kw["max_iter"] = 150
        return mce_irl(mdp, d_E, features,
                       occupancy_fn=lambda m, pi: 2 * d_E - occupancy_measure(m, pi), **kw)

    r = check_mce(True, out_dir=None, learner=broken)
    assert r.verdict == "fail", r.details
