"""FTRL over policies (tabular_rl.planning.ftrl)."""

from __future__ import annotations

import numpy as np
import pytest
from _examples import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from proofs_check._instances import random_mdp, rng_for
from tabular_rl import LogBarrier, Shannon, Tsallis, q_function
from tabular_rl.planning.ftrl import ftrl_policy_optimization
from tabular_rl.planning.pmd import PMDResult, policy_mirror_descent, step_size_schedule
from tabular_rl.testing.strategies import finite_mdps


@settings(max_examples=examples(25), deadline=None)
@given(finite_mdps(max_states=6, max_actions=4), st.floats(1e-2, 1e2), st.floats(1e-2, 1e2))
def test_ftrl_shannon_one_step_is_kl_pmd_from_uniform(mdp, tau, eta):
    """One FTRL step with Shannon(tau) = KL-PMD step from the uniform policy."""
    f = ftrl_policy_optimization(mdp, Shannon(tau), n_iter=1, step_size=eta,
                                 record_policies=True)
    p = policy_mirror_descent(mdp, n_iter=1, step_size=eta, mirror=Shannon(tau),
                              record_policies=True)
    np.testing.assert_allclose(f.policies[0], np.full((mdp.S, mdp.A), 1.0 / mdp.A))
    np.testing.assert_allclose(f.policies, p.policies, atol=1e-12)
    q0 = q_function(mdp, f.policies[0])
    z = eta * (q0 - q0.max(axis=1, keepdims=True)) / tau
    np.testing.assert_allclose(f.policy, np.exp(z) / np.exp(z).sum(axis=1, keepdims=True),
                               atol=1e-12)


@settings(max_examples=examples(25), deadline=None)
@given(finite_mdps(max_states=6, max_actions=4), st.sampled_from(["constant", "geometric"]))
def test_ftrl_shannon_is_dual_averaging_of_kl_pmd(mdp, schedule):
    """All iterates agree (lazy = greedy projection for the entropy on the simplex).

    The two compute the same logits sum_j eta_j Q_j in different orders, so they differ by
    the rounding of that sum: about (k + 1) u eta_max max|Q| per logit (Higham 2002, §3.1),
    which bounds the policy difference (softmax is 1-Lipschitz from the sup norm of the
    logits). With geometric steps and gamma near 0, eta_j = eta_0 / gamma^j is astronomically
    large and this bound (not a fixed 1e-10) is what the comparison can certify.
    """
    f = ftrl_policy_optimization(mdp, Shannon(1.0), n_iter=6, step_size=0.5,
                                 schedule=schedule, record_policies=True)
    p = policy_mirror_descent(mdp, n_iter=6, step_size=0.5, schedule=schedule,
                              record_policies=True)
    eta_max = float(np.max(step_size_schedule(0.5, schedule, 6, mdp.gamma)))
    q_max = float(np.abs(np.asarray(mdp.r)).max()) / (1.0 - mdp.gamma)
    rounding = 8 * 7 * (np.finfo(float).eps / 2) * eta_max * q_max
    np.testing.assert_allclose(f.policies, p.policies, rtol=0, atol=1e-10 + rounding)


@pytest.mark.parametrize("reg", [Shannon(1.0), Tsallis(1.0), Tsallis(1.0, 1.5),
                                 LogBarrier(1.0)])
def test_ftrl_converges(reg):
    mdp = random_mdp(rng_for(7, 0), 8, 3, 0.8)
    res = ftrl_policy_optimization(mdp, reg, n_iter=200, step_size=1.0, schedule="geometric")
    assert isinstance(res, PMDResult)
    R = float(np.abs(mdp.r).max())
    assert res.suboptimality[-1] <= 1e-6 * R / (1 - mdp.gamma)
    assert res.suboptimality[-1] < 1e-3 * res.suboptimality[0]


def test_ftrl_is_greedy_of_cumulative_q():
    mdp = random_mdp(rng_for(7, 1), 5, 4, 0.9)
    reg = Tsallis(0.7)
    res = ftrl_policy_optimization(mdp, reg, n_iter=4, step_size=0.3, record_policies=True)
    cum = np.zeros((mdp.S, mdp.A))
    for k in range(4):
        cum += 0.3 * q_function(mdp, res.policies[k])
        np.testing.assert_allclose(res.policies[k + 1], reg.greedy(cum), atol=1e-10)


def test_ftrl_validation():
    mdp = random_mdp(rng_for(7, 2), 4, 2, 0.5)
    with pytest.raises(TypeError, match="regularizer"):
        ftrl_policy_optimization(mdp, "shannon")
    with pytest.raises(ValueError, match="n_iter"):
        ftrl_policy_optimization(mdp, Shannon(1.0), n_iter=0)
    a = ftrl_policy_optimization(mdp, Shannon(1.0), n_iter=3, q_noise=1.0, seed=1)
    b = ftrl_policy_optimization(mdp, Shannon(1.0), n_iter=3, q_noise=1.0, seed=1)
    np.testing.assert_array_equal(a.policy, b.policy)
