"""Exact planning: VI, PI, MPI, backward induction cross-checked against each other and peers."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from _examples import examples
from hypothesis import given, settings
from hypothesis import strategies as st

import tabular_rl as trl
from tabular_rl.testing.strategies import episodic_mdps, finite_mdps, gammas, policies

METHODS = ["vi", "pi", "mpi"]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_puterman_two_state(method, sparse, puterman_two_state):
    mdp, v_star, a_star = puterman_two_state
    if sparse:
        mdp = mdp.tosparse()
    res = trl.solve(mdp, method=method, **({} if method == "pi" else {"tol": 1e-10}))
    assert res.converged, res.message
    np.testing.assert_allclose(res.v, v_star, atol=1e-10)
    np.testing.assert_array_equal(res.actions, a_star)
    assert np.abs(res.v - v_star).max() <= res.error_bound


@settings(max_examples=examples(40))
@given(finite_mdps(max_states=12))
def test_vi_pi_mpi_agree_within_certified_bounds(mdp):
    vi = trl.value_iteration(mdp, tol=1e-9)
    pi = trl.policy_iteration(mdp)
    mpi = trl.modified_policy_iteration(mdp, m=5, tol=1e-9)
    for res in (vi, pi, mpi):
        assert res.converged, res.message
        assert res.error_bound <= 1e-9 or res.method == "policy_iteration"
        np.testing.assert_array_less(np.abs(res.policy.sum(1) - 1), 1e-12)
    # Both bounds are proven, so the distance between the answers is bounded by their sum.
    assert np.abs(vi.v - pi.v).max() <= vi.error_bound + pi.error_bound
    assert np.abs(mpi.v - pi.v).max() <= mpi.error_bound + pi.error_bound
    # The greedy policies are near-optimal by their certified gap.
    for res in (vi, mpi, pi):
        v_pi = trl.evaluate_policy(mdp, res.policy)
        assert np.abs(pi.v - v_pi).max() <= res.policy_gap_bound + pi.error_bound


@settings(max_examples=examples(25))
@given(finite_mdps(max_states=10, sparse=False))
def test_dense_and_sparse_agree(mdp):
    a = trl.value_iteration(mdp, tol=1e-10)
    b = trl.value_iteration(mdp.tosparse(), tol=1e-10)
    np.testing.assert_allclose(a.v, b.v, atol=2e-10)


@settings(max_examples=examples(25))
@given(finite_mdps(max_states=10, max_actions=3, gamma=st.floats(0.0, 0.98)))
def test_agrees_with_quantecon(mdp):
    qe = pytest.importorskip("quantecon")
    dense = mdp.todense()
    ddp = qe.markov.DiscreteDP(np.array(dense.r), np.array(dense.P), mdp.gamma)
    ref = ddp.solve(method="policy_iteration")
    ours = trl.policy_iteration(mdp)
    np.testing.assert_allclose(ours.v, ref.v, atol=1e-8 * (1 + np.abs(ref.v).max()))


def test_agrees_with_quantecon_sa_pair_form_and_pymdptoolbox():
    qe = pytest.importorskip("quantecon")
    mdptoolbox = pytest.importorskip("mdptoolbox.mdp")
    rng = np.random.default_rng(3)
    S, A = 40, 3
    P = trl.testing.strategies.random_kernel(rng, S, A, density=0.2)
    r = rng.random((S, A))
    mdp = trl.FiniteMDP(sp.csr_matrix(P.reshape(S * A, S)), r, 0.9)
    ours = trl.policy_iteration(mdp)
    s_ind, a_ind = np.divmod(np.arange(S * A), A)
    ddp = qe.markov.DiscreteDP(r.reshape(-1), sp.csr_matrix(P.reshape(S * A, S)), 0.9,
                               s_ind, a_ind)
    np.testing.assert_allclose(ours.v, ddp.solve("pi").v, atol=1e-10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pim = mdptoolbox.PolicyIteration(np.transpose(P, (1, 0, 2)), r, 0.9)
        pim.run()
    np.testing.assert_allclose(ours.v, np.array(pim.V), atol=1e-8)


@settings(max_examples=examples(30))
@given(finite_mdps(max_states=10), st.data())
def test_operators_are_gamma_contractions(mdp, data):
    u = np.random.default_rng(data.draw(st.integers(0, 99))).normal(size=mdp.S) * 10
    w = np.random.default_rng(data.draw(st.integers(100, 199))).normal(size=mdp.S) * 10
    pi = data.draw(policies(mdp.S, mdp.A))
    lhs = np.abs(trl.bellman_optimality(mdp, u)[0] - trl.bellman_optimality(mdp, w)[0]).max()
    lhs_pi = np.abs(trl.bellman_policy(mdp, pi, u) - trl.bellman_policy(mdp, pi, w)).max()
    rhs = mdp.gamma * np.abs(u - w).max()
    slack = 64 * np.finfo(float).eps * (np.abs(u).max() + np.abs(w).max() + 1)
    assert lhs <= rhs + slack
    assert lhs_pi <= rhs + slack


def test_vi_history_contracts_geometrically():
    rng = np.random.default_rng(0)
    P = trl.testing.strategies.random_kernel(rng, 30, 3, density=0.1)
    mdp = trl.FiniteMDP(P, rng.random((30, 3)), 0.9)
    res = trl.value_iteration(mdp, tol=1e-10, record_history=True)
    h = res.history
    assert h.shape == (res.iterations,)
    assert np.all(h[1:] <= 0.9 * h[:-1] * (1 + 1e-12) + 1e-14)


def test_iteration_cap_warns_and_strict_raises():
    rng = np.random.default_rng(1)
    mdp = trl.FiniteMDP(trl.testing.strategies.random_kernel(rng, 20, 2, density=0.1),
                        rng.random((20, 2)), 0.999)
    with pytest.warns(trl.ConvergenceWarning, match=r"max_iter=3 .* raise max_iter or loosen tol"):
        res = trl.value_iteration(mdp, tol=1e-10, max_iter=3)
    assert not res.converged and "NOT converged" in repr(res)
    assert res.error_bound > 1e-10
    with pytest.raises(trl.ConvergenceError, match="max_iter=3"):
        trl.value_iteration(mdp, tol=1e-10, max_iter=3, strict=True)
    with pytest.warns(trl.ConvergenceWarning, match="modified_policy_iteration stopped"):
        trl.modified_policy_iteration(mdp, tol=1e-12, max_iter=2)


def test_certified_bound_is_not_the_last_change():
    """The bound must cover |v - v*|, which can far exceed the last sweep's change
    (the classic wrong rule stops when |v_{k+1} - v_k| < tol)."""
    rng = np.random.default_rng(2)
    mdp = trl.FiniteMDP(trl.testing.strategies.random_kernel(rng, 15, 2, density=0.2),
                        rng.random((15, 2)), 0.99)
    exact = trl.policy_iteration(mdp)
    for tol in (1e-2, 1e-4, 1e-6):
        res = trl.value_iteration(mdp, tol=tol)
        assert np.abs(res.v - exact.v).max() <= res.error_bound <= tol


def test_solve_dispatcher_names_valid_methods():
    mdp = trl.FiniteMDP(np.ones((1, 1, 1)), [[1.0]], 0.5)
    with pytest.raises(ValueError, match=r"unknown method 'qlearning'; valid methods: .*pi.*vi"):
        trl.solve(mdp, method="qlearning")
    assert trl.solve(mdp).method == "policy_iteration"
    with pytest.raises(TypeError, match="use backward_induction"):
        trl.value_iteration(trl.EpisodicMDP(np.ones((1, 1, 1)), [[1.0]], 2))


def test_gamma_zero_is_one_step_greedy():
    r = np.array([[1.0, 3.0], [2.0, -1.0]])
    mdp = trl.FiniteMDP(np.full((2, 2, 2), 0.5), r, 0.0)
    res = trl.value_iteration(mdp, tol=1e-12)
    np.testing.assert_array_equal(res.v, [3.0, 2.0])
    assert res.iterations == 1


@settings(max_examples=examples(30))
@given(episodic_mdps())
def test_backward_induction_beats_every_deterministic_policy(mdp):
    res = trl.backward_induction(mdp)
    assert res.v.shape == (mdp.H + 1, mdp.S) and res.policy.shape == (mdp.H, mdp.S, mdp.A)
    v_greedy = trl.evaluate_policy(mdp, res.policy)
    np.testing.assert_allclose(v_greedy, res.v, atol=1e-12 * (1 + np.abs(res.v).max()))
    rng = np.random.default_rng(0)
    for _ in range(5):
        pi = np.zeros((mdp.H, mdp.S, mdp.A))
        idx = rng.integers(0, mdp.A, (mdp.H, mdp.S))
        np.put_along_axis(pi, idx[..., None], 1.0, axis=-1)
        assert np.all(trl.evaluate_policy(mdp, pi)[0] <= res.v[0] + 1e-12)


def test_backward_induction_equals_discounted_vi_on_absorbing_horizon():
    """An episodic model with H steps equals a discounted one with the step index in the
    state and gamma -> product structure; simplest check: gamma=0 discounted == H=1."""
    rng = np.random.default_rng(4)
    P = trl.testing.strategies.random_kernel(rng, 6, 3)
    r = rng.random((6, 3))
    ep = trl.backward_induction(trl.EpisodicMDP(P, r, 1))
    disc = trl.value_iteration(trl.FiniteMDP(P, r, 0.0), tol=1e-12)
    np.testing.assert_allclose(ep.v[0], disc.v, atol=1e-15)


@settings(max_examples=examples(20))
@given(gammas(0.95), st.integers(0, 2**32 - 1))
def test_sparse_backward_induction_matches_dense(gamma, seed):
    rng = np.random.default_rng(seed)
    P = trl.testing.strategies.random_kernel(rng, 7, 2, density=0.3)
    r = rng.random((3, 7, 2))
    dense = trl.backward_induction(trl.EpisodicMDP(P, r, 3))
    csr = trl.backward_induction(trl.EpisodicMDP(sp.csr_matrix(P.reshape(14, 7)), r, 3))
    np.testing.assert_allclose(dense.v, csr.v, atol=1e-13)


@settings(max_examples=examples(30))
@given(finite_mdps(max_states=10, gamma=st.floats(0.0, 0.99)))
def test_all_five_methods_agree(mdp):
    """VI, PI, MPI, the primal LP and the dual (occupancy) LP: five independent routes to
    v*, each with a proven bound, must agree within the sum of their bounds."""
    results = {m: trl.solve(mdp, method=m, **({} if m == "pi" else {"tol": 1e-9}))
               for m in ("vi", "pi", "mpi", "lp", "dual_lp")}
    ref = results["pi"]
    for name, res in results.items():
        assert res.converged, (name, res.message)
        gap = np.abs(res.v - ref.v).max()
        assert gap <= res.error_bound + ref.error_bound, (name, gap, res.error_bound)
