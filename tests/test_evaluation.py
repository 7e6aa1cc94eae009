"""Policy evaluation, occupancy measures and the performance-difference lemma."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from _examples import examples
from hypothesis import given, settings
from hypothesis import strategies as st

import tabular_rl as trl
from tabular_rl.testing.strategies import episodic_mdps, finite_mdps, policies, random_kernel


def test_closed_form_two_state():
    """A two-state chain: s0 -> s1 w.p. 1 (reward 1), s1 absorbing (reward 0):
    v = [1, 0]; occupancy from mu = e0 is (1-g) [1, g/(1-g)] = [1-g, g]."""
    P = np.array([[[0.0, 1.0]], [[0.0, 1.0]]])
    mdp = trl.FiniteMDP(P, [[1.0], [0.0]], 0.9, mu=[1.0, 0.0])
    np.testing.assert_allclose(trl.evaluate_policy(mdp, [[1.0], [1.0]]), [1.0, 0.0])
    np.testing.assert_allclose(trl.state_occupancy(mdp, [[1.0], [1.0]]), [0.1, 0.9])
    np.testing.assert_allclose(trl.state_occupancy(mdp, [[1.0], [1.0]], normalized=False),
                               [1.0, 9.0])


@settings(max_examples=examples(40))
@given(finite_mdps(max_states=10), st.data())
def test_evaluation_is_fixed_point_of_T_pi(mdp, data):
    pi = data.draw(policies(mdp.S, mdp.A))
    v = trl.evaluate_policy(mdp, pi)
    scale = 1 + np.abs(mdp.r).max() / (1 - mdp.gamma)
    np.testing.assert_allclose(trl.bellman_policy(mdp, pi, v), v, atol=1e-11 * scale)
    q = trl.q_function(mdp, pi)
    np.testing.assert_allclose((pi * q).sum(1), v, atol=1e-11 * scale)
    adv = trl.advantage(mdp, pi)
    np.testing.assert_allclose((pi * adv).sum(1), 0.0, atol=1e-11 * scale)


@settings(max_examples=examples(40))
@given(finite_mdps(max_states=10), st.data())
def test_occupancy_is_a_distribution_and_satisfies_flow(mdp, data):
    pi = data.draw(policies(mdp.S, mdp.A))
    d = trl.occupancy_measure(mdp, pi, normalized=False)
    assert np.all(d >= -1e-12)
    np.testing.assert_allclose(d.sum(), 1 / (1 - mdp.gamma), rtol=1e-10)
    # Bellman flow: sum_a d(s,a) - gamma sum_{s',a'} P(s|s',a') d(s',a') = mu(s)
    flow = d.sum(1) - mdp.gamma * (mdp.P_flat.T @ d.reshape(-1))
    np.testing.assert_allclose(flow, mdp.mu, atol=1e-10 / (1 - mdp.gamma))
    # <d, r> = <mu, v^pi>
    v = trl.evaluate_policy(mdp, pi)
    np.testing.assert_allclose((d * mdp.r).sum(), mdp.mu @ v,
                               atol=1e-10 * (1 + np.abs(v).max()))


@settings(max_examples=examples(40))
@given(finite_mdps(max_states=10), st.data())
def test_performance_difference_lemma(mdp, data):
    pi = data.draw(policies(mdp.S, mdp.A))
    pi2 = data.draw(policies(mdp.S, mdp.A))
    pd = trl.performance_difference(mdp, pi, pi2)
    scale = 1 + np.abs(mdp.r).max() / (1 - mdp.gamma) ** 2
    assert pd.residual <= 1e-11 * scale


@settings(max_examples=examples(40))
@given(episodic_mdps(), st.data())
def test_episodic_performance_difference_and_occupancy(mdp, data):
    pi = data.draw(policies(mdp.S, mdp.A, horizon=mdp.H))
    pi2 = data.draw(policies(mdp.S, mdp.A, horizon=mdp.H))
    assert trl.performance_difference(mdp, pi, pi2).residual <= 1e-11 * (1 + mdp.H ** 2)
    d = trl.occupancy_measure(mdp, pi)
    np.testing.assert_allclose(d.sum(axis=(1, 2)), 1.0, rtol=1e-12)
    np.testing.assert_allclose((d * (mdp.r if mdp.r.ndim == 3 else mdp.r[None])).sum(),
                               mdp.mu @ trl.evaluate_policy(mdp, pi)[0], atol=1e-11 * mdp.H)


def test_performance_difference_detects_wrong_occupancy():
    """The identity is sharp: using pi's occupancy instead of pi''s breaks it."""
    rng = np.random.default_rng(0)
    mdp = trl.FiniteMDP(random_kernel(rng, 8, 3), rng.random((8, 3)), 0.9)
    pi = rng.dirichlet(np.ones(3), 8)
    pi2 = rng.dirichlet(np.ones(3), 8)
    wrong = (trl.occupancy_measure(mdp, pi) * trl.advantage(mdp, pi)).sum() / 0.1
    right = trl.performance_difference(mdp, pi, pi2)
    assert right.residual < 1e-12
    assert abs(wrong - right.lhs) > 1e-3


def test_large_sparse_uses_iterative_solver_and_agrees():
    """Above DIRECT_MAX_STATES the sparse solve switches to GMRES; the answer still
    satisfies the Bellman equation of the policy."""
    from tabular_rl import evaluation

    rng = np.random.default_rng(5)
    S, A, k = 1500, 2, 4
    rows = np.repeat(np.arange(S * A), k)
    cols = rng.integers(0, S, S * A * k)
    P = sp.csr_matrix((np.full(S * A * k, 1.0 / k), (rows, cols)), shape=(S * A, S))
    mdp = trl.FiniteMDP(P, rng.random((S, A)), 0.99)
    pi = rng.dirichlet(np.ones(A), S)
    old = evaluation.DIRECT_MAX_STATES
    try:
        evaluation.DIRECT_MAX_STATES = 10**9
        direct = trl.evaluate_policy(mdp, pi)
        evaluation.DIRECT_MAX_STATES = 0
        iterative = trl.evaluate_policy(mdp, pi)
    finally:
        evaluation.DIRECT_MAX_STATES = old
    np.testing.assert_allclose(iterative, direct, atol=1e-8)


def test_policy_transition_dense_and_sparse():
    rng = np.random.default_rng(1)
    mdp = trl.FiniteMDP(random_kernel(rng, 6, 3, density=0.4), rng.random((6, 3)), 0.8)
    pi = rng.dirichlet(np.ones(3), 6)
    Pd = trl.policy_transition(mdp, pi)
    Ps = trl.policy_transition(mdp.tosparse(), pi)
    assert sp.issparse(Ps)
    np.testing.assert_allclose(Pd, Ps.toarray(), atol=1e-15)
    np.testing.assert_allclose(Pd.sum(1), 1.0)
    with pytest.raises(ValueError, match=r"policy\[0, :\] sums to"):
        trl.policy_transition(mdp, np.ones((6, 3)))
