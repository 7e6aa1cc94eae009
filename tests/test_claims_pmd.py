"""The PMD claims (dp.pmd-linear-rate, dp.finite-memory-pmd): pass, and fail when broken."""

from __future__ import annotations

import numpy as np

from proofs_check.claims import pmd_rates, staq
from tabular_rl import Shannon, q_function, regularized_q_function
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
    assert rep.measured["corrected_max_excess"] <= 1.0
    assert abs(rep.measured["policy_rate_log_ratio_mean"] - 1.0) <= 0.05
    assert (tmp_path / "dp.finite-memory-pmd.png").exists()


def test_finite_memory_fails_when_vanilla_is_presented_as_corrected():
    """Truncation without the 1/(1 - beta^M) rescale keeps a residual: not unbiased."""
    def vanilla(mdp, tau, **kw):
        return finite_memory_pmd(mdp, tau, variant="vanilla", **kw)

    rep = staq.check_finite_memory_pmd(quick=True, staq=vanilla, plot=False, max_instances=1)
    assert rep.verdict == "fail"
    assert rep.measured["corrected_max_excess"] > 1.0


def test_finite_memory_fails_with_wrong_rescale():
    """Rescale by 1/(1 - beta^(M+1)) instead of 1/(1 - beta^M): biased fixed point."""
    def wrong_rescale(mdp, tau, *, kl_coef, memory, **kw):
        if memory is None:
            return finite_memory_pmd(mdp, tau, kl_coef=kl_coef, memory=memory, **kw)
        beta = kl_coef / (kl_coef + tau)
        c = (1 - beta**memory) / (1 - beta ** (memory + 1))  # all weights times c

        def oracle(m, pi, k, rng):
            return c * regularized_q_function(m, pi, Shannon(tau))

        return finite_memory_pmd(mdp, tau, kl_coef=kl_coef, memory=memory, q_oracle=oracle,
                                 **kw)

    rep = staq.check_finite_memory_pmd(quick=True, staq=wrong_rescale, plot=False,
                                         max_instances=1)
    assert rep.verdict == "fail"
    assert rep.measured["corrected_max_excess"] > 1.0


def test_finite_memory_fails_with_wrong_weights():
    """KL weight doubled inside the vanilla update: beta^M is not the decay factor any more."""
    def wrong_beta(mdp, tau, *, kl_coef, **kw):
        return finite_memory_pmd(mdp, tau, kl_coef=2.0 * kl_coef, variant="vanilla", **kw)

    rep = staq.check_finite_memory_pmd(quick=True, vanilla=wrong_beta, plot=False,
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
    assert rep.measured["corrected_max_excess"] > 1.0
    assert np.isfinite(rep.measured["max_bound_ratio"])
