"""Tests of the occupancy polytope (:mod:`tabular_rl.occupancy.polytope`)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from _examples import examples
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from tabular_rl import EpisodicMDP, FiniteMDP, evaluate_policy, occupancy_lp
from tabular_rl.occupancy import (
    flow_constraints,
    linear_objective,
    membership_residual,
    occupancy_to_policy,
    policy_to_occupancy,
)
from tabular_rl.testing.strategies import episodic_mdps, finite_mdps, policies


def _tol(mdp) -> float:
    return 1e-12 * max(mdp.S, 1) * 10


@settings(max_examples=examples(25), deadline=None)
@given(st.data())
def test_round_trip_and_membership_discounted(data):
    mdp = data.draw(finite_mdps(max_states=7, gamma=st.sampled_from([0.0, 0.5, 0.9, 0.99])))
    pi = data.draw(policies(mdp.S, mdp.A))
    d = policy_to_occupancy(mdp, pi)
    assert d.shape == (mdp.S, mdp.A)
    assert abs(d.sum() - 1.0) < 1e-12
    assert membership_residual(mdp, d) <= 1e-12 / (1.0 - mdp.gamma) * 10
    back = occupancy_to_policy(mdp, d)
    visited = d.sum(axis=1) > 1e-14
    np.testing.assert_allclose(back[visited], pi[visited], rtol=0, atol=1e-12)
    np.testing.assert_allclose(back.sum(axis=1), 1.0, atol=1e-14)
    # the return of pi is <d, r> / (1 - gamma)
    v = evaluate_policy(mdp, pi)
    lin = linear_objective(mdp) @ d.ravel()
    assert abs(lin - (1 - mdp.gamma) * mdp.mu @ v) <= 1e-10 * (1 + mdp.r_absmax)


@settings(max_examples=examples(25), deadline=None)
@given(st.data())
def test_round_trip_and_membership_episodic(data):
    mdp = data.draw(episodic_mdps(max_states=6))
    pi = data.draw(policies(mdp.S, mdp.A, horizon=mdp.H))
    d = policy_to_occupancy(mdp, pi)
    assert d.shape == (mdp.H, mdp.S, mdp.A)
    assert membership_residual(mdp, d) <= 1e-13
    back = occupancy_to_policy(mdp, d)
    visited = d.sum(axis=-1) > 1e-14
    np.testing.assert_allclose(back[visited], pi[visited], rtol=0, atol=1e-12)
    V = evaluate_policy(mdp, pi)
    assert abs(linear_objective(mdp) @ d.ravel() - mdp.mu @ V[0]) <= 1e-10 * (1 + mdp.H)


@settings(max_examples=examples(25), deadline=None)
@given(st.data())
def test_perturbed_occupancy_is_not_a_member(data):
    mdp = data.draw(finite_mdps(min_states=2, max_states=7, min_actions=2,
                                gamma=st.sampled_from([0.5, 0.9])))
    pi = data.draw(policies(mdp.S, mdp.A))
    d = policy_to_occupancy(mdp, pi)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**31)))
    # moving mass between states off the flow keeps sum = 1 but breaks the constraints
    e = rng.standard_normal(d.shape)
    e -= e.mean()
    assert membership_residual(mdp, d + 0.05 * e / np.abs(e).max()) > 1e-6
    # scaling breaks the normalization; a negative entry breaks d >= 0
    assert membership_residual(mdp, 1.1 * d) >= 0.1 * (1 - mdp.gamma) * mdp.mu.max() - 1e-12
    neg = d.copy()
    neg[0, 0] = -0.01
    assert membership_residual(mdp, neg) >= 0.01 - 1e-15


@pytest.mark.parametrize("sparse", [False, True])
def test_constraints_match_definition_and_stay_sparse(sparse):
    rng = np.random.default_rng(0)
    S, A, g = 6, 3, 0.8
    P = rng.dirichlet(np.ones(S), size=(S, A))
    mdp = FiniteMDP(sp.csr_matrix(P.reshape(S * A, S)) if sparse else P,
                    rng.random((S, A)), g, rng.dirichlet(np.ones(S)))
    fc = flow_constraints(mdp)
    assert sp.issparse(fc.A_eq) and fc.A_eq.format == "csr"
    assert fc.shape == (S, S * A) and fc.kind == "discounted" and fc.H is None
    dense = fc.A_eq.toarray()
    for s2 in range(S):
        for s in range(S):
            for a in range(A):
                want = (s == s2) - g * P[s, a, s2]
                assert abs(dense[s2, s * A + a] - want) < 1e-15
    np.testing.assert_allclose(fc.b_eq, (1 - g) * mdp.mu)
    mu = np.eye(S)[2]
    assert np.array_equal(flow_constraints(mdp, mu).b_eq, (1 - g) * mu)


def test_episodic_layout():
    rng = np.random.default_rng(1)
    S, A, H = 3, 2, 4
    P = rng.dirichlet(np.ones(S), size=(H, S, A))
    mdp = EpisodicMDP(P, rng.random((H, S, A)), H)
    fc = flow_constraints(mdp)
    assert fc.shape == (H * S, H * S * A) and fc.kind == "episodic" and fc.H == H
    M = fc.A_eq.toarray()
    h, s2, s, a = 2, 1, 0, 1
    assert M[(h + 1) * S + s2, h * S * A + s * A + a] == pytest.approx(-P[h, s, a, s2])
    assert M[h * S + s, h * S * A + s * A + a] == 1.0
    np.testing.assert_array_equal(fc.b_eq[:S], mdp.mu)
    assert not fc.b_eq[S:].any()


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("sparse", [False, True])
def test_lp_over_polytope_reproduces_dual_lp(seed, sparse):
    rng = np.random.default_rng(seed)
    S, A, g = 12, 3, 0.9
    P = rng.dirichlet(np.full(S, 0.3), size=(S, A))
    mdp = FiniteMDP(sp.csr_matrix(P.reshape(S * A, S)) if sparse else P,
                    rng.uniform(-1, 1, (S, A)), g, rng.dirichlet(np.ones(S)))
    fc = flow_constraints(mdp)
    res = linprog(-linear_objective(mdp), A_eq=fc.A_eq, b_eq=fc.b_eq, bounds=(0, None),
                  method="highs")
    assert res.status == 0
    ref = occupancy_lp(mdp)
    assert -res.fun / (1 - g) == pytest.approx(ref.value, abs=1e-8)
    assert membership_residual(mdp, res.x, constraints=fc) < 1e-9
    pi = occupancy_to_policy(mdp, res.x)
    v = evaluate_policy(mdp, pi)
    assert mdp.mu @ v == pytest.approx(ref.value, abs=1e-8)


def test_unvisited_rules_and_errors():
    P = np.zeros((3, 2, 3))
    P[:, :, 0] = 1.0  # everything returns to state 0
    mdp = FiniteMDP(P, np.zeros((3, 2)), 0.5, mu=[1.0, 0.0, 0.0])
    d = policy_to_occupancy(mdp, [[0.2, 0.8], [1.0, 0.0], [0.0, 1.0]])
    assert d[1:].sum() == 0.0
    pi = occupancy_to_policy(mdp, d)
    np.testing.assert_allclose(pi, [[0.2, 0.8], [0.5, 0.5], [0.5, 0.5]])
    ref = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    pi = occupancy_to_policy(mdp, d, unvisited="reference", reference=ref)
    np.testing.assert_allclose(pi[1:], ref[1:])
    # atol: a state with tiny mass counts as unvisited
    d2 = d.copy()
    d2[2] = [1e-9, 0.0]
    assert occupancy_to_policy(mdp, d2, atol=1e-8)[2].tolist() == [0.5, 0.5]
    assert occupancy_to_policy(mdp, d2)[2].tolist() == [1.0, 0.0]
    with pytest.raises(ValueError, match="reference"):
        occupancy_to_policy(mdp, d, unvisited="reference")
    with pytest.raises(ValueError, match="unvisited"):
        occupancy_to_policy(mdp, d, unvisited="greedy")
    with pytest.raises(ValueError, match=r"d\[0, 1\] = -0.1"):
        occupancy_to_policy(mdp, [[0.5, -0.1], [0, 0], [0, 0]])
    with pytest.raises(ValueError, match="shape"):
        membership_residual(mdp, np.zeros(5))
    with pytest.raises(TypeError):
        flow_constraints("not an mdp")
