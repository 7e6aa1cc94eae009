"""The PMD claims (dp.pmd-linear-rate, dp.finite-memory-pmd): pass, and fail when broken."""

from __future__ import annotations

import numpy as np

from proofs_check.claims import pmd_rates, staq
from tabular_rl import q_function
from tabular_rl.planning.pmd import finite_memory_pmd, policy_mirror_descent


def test_pmd_linear_rate_passes(tmp_path):
    rep = pmd_rates.check_pmd_linear_rate(quick=True, out_dir=tmp_path)
    assert rep.verdict == "pass", rep.details
    assert rep.measured["max_linear_bound_ratio"] <= 1.0
    assert len(rep.figures) == 1 and (tmp_path / "dp.pmd-linear-rate.png").exists()


def test_pmd_linear_rate_fails_with_wrong_sign():
    def wrong_sign(mdp, **kw):
        return policy_mirror_descent(
            mdp, q_oracle=lambda m, pi, k, rng: -q_function(m, pi), **kw)

    rep = pmd_rates.check_pmd_linear_rate(quick=True, pmd=wrong_sign, plot=False,
                                              max_instances=2)
    assert rep.verdict == "fail"


def test_pmd_linear_rate_fails_without_growing_steps():
    def constant_steps(mdp, **kw):
        return policy_mirror_descent(mdp, **{**kw, "schedule": "constant"})

    rep = pmd_rates.check_pmd_linear_rate(quick=True, pmd=constant_steps,
                                              plot=False, max_instances=2)
    assert rep.verdict == "fail"
    assert rep.measured["max_linear_bound_ratio"] > 1.0


def test_finite_memory_passes(tmp_path):
    rep = staq.check_finite_memory_pmd(quick=True, out_dir=tmp_path)
    assert rep.verdict == "pass", rep.details
    assert abs(rep.measured["policy_rate_log_ratio_mean"] - 1.0) <= 0.05
    assert (tmp_path / "dp.finite-memory-pmd.png").exists()


def test_finite_memory_fails_with_wrong_weights():
    """KL weight doubled inside: alpha^M is not the decay factor any more."""
    def wrong_alpha(mdp, tau, *, kl_coef, **kw):
        return finite_memory_pmd(mdp, tau, kl_coef=2.0 * kl_coef, **kw)

    rep = staq.check_finite_memory_pmd(quick=True, staq=wrong_alpha, plot=False,
                                         max_instances=2)
    assert rep.verdict == "fail"
    assert rep.measured["policy_rate_worst_rel_dev"] > 0.05


def test_finite_memory_fails_with_wrong_temperature():
    """Entropy weight off by 10%: even full memory misses the regularized optimum."""
    def wrong_tau(mdp, tau, **kw):
        return finite_memory_pmd(mdp, 0.9 * tau, **kw)

    rep = staq.check_finite_memory_pmd(quick=True, staq=wrong_tau, plot=False,
                                         max_instances=1)
    assert rep.verdict == "fail"
    assert rep.measured["full_memory_excess"] > 1.0
    assert np.isfinite(rep.measured["max_bound_ratio"])
