"""Soft policy iteration (SAC, tabular) and the dual temperature adjustment."""

from __future__ import annotations

import numpy as np
import pytest
from _examples import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from tabular_rl import ConvergenceWarning, FiniteMDP, Shannon
from tabular_rl.exceptions import ConvergenceError
from tabular_rl.planning import soft_policy_iteration, soft_value_iteration
from tabular_rl.planning.sac import (
    constrained_entropy_solution,
    dual_temperature_adjustment,
    dual_temperature_step,
    expected_entropy,
    policy_entropy,
    soft_improvement,
    soft_optimal_policy,
    soft_policy_iteration_trace,
    soft_q_function,
)
from tabular_rl.testing.strategies import finite_mdps, policies

_EPS = np.finfo(float).eps


def _scale(mdp, alpha):
    R = float(np.abs(mdp.r).max()) + alpha * np.log(mdp.A)
    return max(R, 1.0) / (1 - mdp.gamma)


def _random_mdp(seed, S=6, A=3, gamma=0.9):
    rng = np.random.default_rng(seed)
    P = rng.dirichlet(np.ones(S) * 0.5, size=(S, A))
    return FiniteMDP(P, rng.uniform(-1, 1, (S, A)), gamma)


@settings(max_examples=examples(25), deadline=None)
@given(finite_mdps(max_states=8, gamma=st.floats(0.0, 0.95)), st.floats(0.01, 10.0))
def test_trace_monotone_improvement_and_fixed_point(mdp, arel):
    """Lemma 2 at every step; the final iterate is the soft VI / soft PI fixed point."""
    alpha = arel * max(float(np.abs(mdp.r).max()), 1e-3)
    sc = _scale(mdp, alpha)
    tol = 1e-9 * sc
    tr = soft_policy_iteration_trace(mdp, alpha, tol=tol)
    tol_q = 8 * (mdp.S + 4) * _EPS / (1 - mdp.gamma) ** 2 * sc
    assert np.all(tr.q[1:] >= tr.q[:-1] - tol_q)
    vi = soft_value_iteration(mdp, Shannon(alpha), tol=tol, max_iter=10**6)
    assert np.abs(tr.v[-1] - vi.v).max() <= tr.error_bound + vi.error_bound + 4 * _EPS * sc
    pi = soft_policy_iteration(mdp, Shannon(alpha), tol=tol)
    assert np.abs(pi.v - vi.v).max() <= pi.error_bound + vi.error_bound + 4 * _EPS * sc


@settings(max_examples=examples(25), deadline=None)
@given(finite_mdps(max_states=6, gamma=st.floats(0.0, 0.95)), st.data())
def test_soft_optimal_dominates_every_policy(mdp, data):
    """Thm. 1: Q^{pi*} >= Q^pi for every pi."""
    alpha = 0.3 * max(float(np.abs(mdp.r).max()), 1e-3)
    pi = data.draw(policies(mdp.S, mdp.A))
    sol = soft_optimal_policy(mdp, alpha)
    tol_q = 8 * (mdp.S + 4) * _EPS / (1 - mdp.gamma) ** 2 * _scale(mdp, alpha)
    q_star = soft_q_function(mdp, sol.policy, alpha)
    slack = tol_q + sol.policy_gap_bound
    assert np.all(q_star >= soft_q_function(mdp, pi, alpha) - slack)


def test_sac_reward_scaling_convention():
    """Q_SAC[r/alpha] with temperature 1 equals Q_Shannon(alpha)[r] / alpha."""
    mdp = _random_mdp(0)
    alpha = 0.37
    pi = np.random.default_rng(1).dirichlet(np.ones(mdp.A), size=mdp.S)
    scaled = FiniteMDP(mdp.P, mdp.r / alpha, mdp.gamma)
    np.testing.assert_allclose(soft_q_function(scaled, pi, 1.0),
                               soft_q_function(mdp, pi, alpha) / alpha, rtol=1e-12, atol=1e-12)


def test_soft_improvement_is_softmax_and_limit():
    q = np.array([[1.0, 2.0, 2.0], [0.0, -1.0, 3.0]])
    np.testing.assert_allclose(soft_improvement(q, 0.5), Shannon(0.5).greedy(q))
    np.testing.assert_allclose(soft_improvement(q, 0.0), [[0, 0.5, 0.5], [0, 0, 1.0]])
    with pytest.raises(ValueError, match="alpha"):
        soft_improvement(q, -1.0)


def test_entropy_helpers():
    mdp = _random_mdp(2, S=4, A=3)
    assert expected_entropy(mdp, np.full((4, 3), 1 / 3)) == pytest.approx(np.log(3), abs=1e-14)
    assert expected_entropy(mdp, np.eye(3)[[0, 1, 2, 0]]) == 0.0
    np.testing.assert_allclose(policy_entropy([[1.0, 0.0], [0.5, 0.5]]), [0.0, np.log(2)])


def test_entropy_of_soft_optimal_policy_nondecreasing_in_alpha():
    mdp = _random_mdp(3, S=8, A=4, gamma=0.95)
    alphas = np.logspace(-3, 2, 30)
    H = [expected_entropy(mdp, soft_optimal_policy(mdp, a).policy) for a in alphas]
    assert np.all(np.diff(H) >= -1e-12)
    assert H[0] < 0.05 * np.log(4) and H[-1] > 0.95 * np.log(4)


@pytest.mark.parametrize("inner_steps", [None, 1])
def test_dual_temperature_reaches_target_and_matches_bisection(inner_steps):
    mdp = _random_mdp(4, S=6, A=4, gamma=0.9)
    target = 0.5 * np.log(4)
    exact = constrained_entropy_solution(mdp, target)
    assert exact.alpha > 0 and exact.entropy == pytest.approx(target, abs=1e-10)
    res = dual_temperature_adjustment(mdp, target, alpha0=1.0, step_size=exact.alpha,
                                      tol=1e-9, inner_steps=inner_steps, max_iter=500)
    assert res.converged and res.entropy_gap <= 1e-9
    assert res.alpha == pytest.approx(exact.alpha, rel=1e-6)
    assert res.alphas.shape == res.entropies.shape == res.returns.shape
    # the constrained optimum trades return for entropy: lower return than the greedy optimum
    assert exact.value <= soft_optimal_policy(mdp, 0.0).v @ mdp.mu + 1e-9


def test_dual_wrong_sign_does_not_converge():
    mdp = _random_mdp(5, S=5, A=3)
    target = 0.5 * np.log(3)

    def wrong(alpha, H, tgt, eta):
        return max(0.0, alpha + eta * (H - tgt))

    with pytest.warns(ConvergenceWarning, match="entropy gap"):
        res = dual_temperature_adjustment(mdp, target, update=wrong, max_iter=30)
    assert res.entropy_gap > 0.1
    with pytest.raises(ConvergenceError):
        dual_temperature_adjustment(mdp, target, update=wrong, max_iter=5, strict=True)


def test_inactive_constraint_gives_zero_temperature():
    mdp = _random_mdp(6, S=4, A=3)
    sol = constrained_entropy_solution(mdp, 0.0)
    assert sol.alpha == 0.0
    res = dual_temperature_adjustment(mdp, 0.0, alpha0=0.0)
    assert res.converged and res.iterations == 0


def test_dual_step_sign():
    assert dual_temperature_step(1.0, 2.0, 1.0, 0.5) == 0.5     # too much entropy: cool down
    assert dual_temperature_step(1.0, 0.0, 1.0, 0.5) == 1.5     # too little: heat up
    assert dual_temperature_step(0.1, 2.0, 1.0, 0.5) == 0.0     # projected on alpha >= 0


def test_bad_inputs():
    mdp = _random_mdp(7, S=3, A=2)
    with pytest.raises(ValueError, match="target_entropy"):
        constrained_entropy_solution(mdp, np.log(2))
    with pytest.raises(ValueError, match="target_entropy"):
        dual_temperature_adjustment(mdp, 1.0)
    with pytest.raises(ValueError, match="alpha"):
        soft_policy_iteration_trace(mdp, 0.0)
    with pytest.raises(ValueError, match="step_size"):
        dual_temperature_adjustment(mdp, 0.3, step_size=-1.0)


def test_trace_cap_warns_and_strict_raises():
    mdp = _random_mdp(8, S=6, A=3, gamma=0.99)
    with pytest.warns(ConvergenceWarning):
        tr = soft_policy_iteration_trace(mdp, 0.01, tol=1e-300, max_iter=1)
    assert not tr.converged and tr.iterations == 1
    with pytest.raises(ConvergenceError):
        soft_policy_iteration_trace(mdp, 0.01, tol=1e-300, max_iter=1, strict=True)
