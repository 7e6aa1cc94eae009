"""Exact softmax PG and natural PG (tabular_rl.planning.policy_gradient)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from _examples import examples
from hypothesis import given, settings
from hypothesis import strategies as st

import tabular_rl as trl
from tabular_rl.planning.policy_gradient import (
    exact_gradient,
    log_softmax,
    mei_step_size,
    natural_policy_gradient,
    npg_update,
    policy_gradient_state,
    softmax,
    softmax_pg_gradient,
    softmax_policy_gradient,
    softmax_policy_gradient_batch,
)
from tabular_rl.testing.strategies import finite_mdps

_EPS = np.finfo(np.float64).eps


def _objective(mdp, theta, tau, rho):
    """V^{pi_theta}(rho) through the library's evaluation (independent of the gradient code)."""
    pi = softmax(theta)
    if tau == 0.0:
        return float(rho @ trl.evaluate_policy(mdp, pi))
    return float(rho @ trl.evaluate_regularized_policy(mdp, pi, trl.Shannon(tau)))


def _scale(mdp, tau):
    R = max(float(np.abs(mdp.r).max()), 1e-3)
    return (R + tau * np.log(max(mdp.A, 2))) / (1.0 - mdp.gamma) ** 2


@settings(max_examples=examples(25), deadline=None)
@given(finite_mdps(max_states=5, max_actions=3, gamma=st.floats(0.0, 0.9)),
       st.sampled_from([0.0, 0.3]), st.integers(0, 2**32 - 1))
def test_gradient_matches_finite_differences(mdp, tau, seed):
    """Five-point central differences (truncation O(h^4)) of V^{pi_theta}(rho) computed with
    evaluate_policy / evaluate_regularized_policy agree with the closed-form gradient."""
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=(mdp.S, mdp.A))
    rho = rng.dirichlet(np.ones(mdp.S))
    g = softmax_pg_gradient(mdp, theta, tau=tau, rho=rho)
    h = 1e-3
    fd = np.empty_like(theta)
    for i in range(mdp.S):
        for a in range(mdp.A):
            e = np.zeros_like(theta)
            e[i, a] = h
            f = [_objective(mdp, theta + k * e, tau, rho) for k in (-2, -1, 1, 2)]
            fd[i, a] = (f[0] - 8 * f[1] + 8 * f[2] - f[3]) / (12 * h)
    np.testing.assert_allclose(g, fd, rtol=0, atol=1e-6 * _scale(mdp, tau))


@settings(max_examples=examples(25), deadline=None)
@given(finite_mdps(max_states=6, max_actions=4), st.floats(0.01, 5.0),
       st.integers(0, 2**32 - 1))
def test_npg_tau0_one_step_is_kl_pmd(mdp, eta, seed):
    """NPG with tau = 0: pi' ∝ pi exp(eta Q^pi / (1-gamma)) (multiplicative weights)."""
    rng = np.random.default_rng(seed)
    pi0 = rng.dirichlet(np.ones(mdp.A), size=mdp.S)
    res = natural_policy_gradient(mdp, n_iter=1, eta=eta, pi0=pi0, record_policies=True)
    q = trl.q_function(mdp, pi0)
    w = np.log(pi0) + eta * q / (1.0 - mdp.gamma)
    expected = np.exp(w - w.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(res.policy, expected, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(res.policies[1], res.policy)


@settings(max_examples=examples(25), deadline=None)
@given(finite_mdps(max_states=6, max_actions=4, gamma=st.floats(0.0, 0.95)),
       st.floats(0.05, 2.0))
def test_npg_full_step_is_soft_policy_iteration(mdp, tau):
    """eta = (1-gamma)/tau: pi' = softmax(Q_tau^pi / tau), one soft policy-iteration step."""
    eta = (1.0 - mdp.gamma) / tau
    res = natural_policy_gradient(mdp, n_iter=1, eta=eta, tau=tau)
    q = trl.regularized_q_function(mdp, np.full((mdp.S, mdp.A), 1.0 / mdp.A), trl.Shannon(tau))
    np.testing.assert_allclose(res.policy, softmax(q / tau), rtol=1e-8, atol=1e-12)


def test_bandit_closed_form():
    bandit = trl.FiniteMDP(np.ones((1, 3, 1)), [[1.0, 0.0, 0.5]], gamma=0.0)
    pi = np.full(3, 1.0 / 3)
    expected = pi * (np.array([1.0, 0.0, 0.5]) - 0.5)
    np.testing.assert_allclose(softmax_pg_gradient(bandit, np.zeros((1, 3)))[0], expected,
                               atol=1e-15)


def test_large_logits_are_stable():
    from tabular_rl.envs import chain

    mdp = chain(4, gamma=0.5)
    theta = np.zeros((mdp.S, mdp.A))
    theta[:, 0] = 1e300
    theta[0, -1] = -1e300
    lp = log_softmax(theta)
    assert np.all(np.isfinite(lp))
    np.testing.assert_allclose(softmax(theta).sum(axis=1), 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for tau in (0.0, 0.5):
            g = softmax_pg_gradient(mdp, theta, tau=tau)
            assert np.all(np.isfinite(g))
            res = softmax_policy_gradient(mdp, n_iter=20, tau=tau, theta0=theta)
            assert np.all(np.isfinite(res.values)) and np.all(np.isfinite(res.grad_norm))
            res = natural_policy_gradient(mdp, n_iter=20, eta=50.0, tau=tau)
            assert np.all(np.isfinite(res.values))


def test_npg_zero_probabilities_stay_zero():
    from tabular_rl.envs import chain

    mdp = chain(4, gamma=0.5)
    pi0 = np.full((mdp.S, mdp.A), 1.0 / mdp.A)
    pi0[0] = [1.0, 0.0]
    for tau in (0.0, 0.3):
        res = natural_policy_gradient(mdp, n_iter=5, eta=0.5, tau=tau, pi0=pi0)
        assert res.policy[0, 1] == 0.0
        assert np.all(np.isfinite(res.values))


def test_batch_equals_single_runs():
    rng = np.random.default_rng(3)
    mdps = [trl.FiniteMDP(rng.dirichlet(np.ones(3), size=(3, 2)), rng.random((3, 2)), g)
            for g in (0.3, 0.6)]
    batch = softmax_policy_gradient_batch(mdps, n_iter=50, tau=0.2)
    for m, b in zip(mdps, batch, strict=True):
        single = softmax_policy_gradient(m, n_iter=50, tau=0.2)
        np.testing.assert_allclose(b.values, single.values, rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(b.theta, single.theta, rtol=1e-12, atol=1e-13)


def test_sparse_model_matches_dense():
    import scipy.sparse as sp

    rng = np.random.default_rng(4)
    P = rng.dirichlet(np.ones(5), size=(5, 3))
    r = rng.random((5, 3))
    dense = trl.FiniteMDP(P, r, 0.7)
    csr = trl.FiniteMDP(sp.csr_matrix(P.reshape(15, 5)), r, 0.7)
    theta = rng.normal(size=(5, 3))
    for tau in (0.0, 0.4):
        np.testing.assert_allclose(softmax_pg_gradient(csr, theta, tau=tau),
                                   softmax_pg_gradient(dense, theta, tau=tau), atol=1e-12)
    a = natural_policy_gradient(csr, n_iter=5, eta=0.5, tau=0.1)
    b = natural_policy_gradient(dense, n_iter=5, eta=0.5, tau=0.1)
    np.testing.assert_allclose(a.values, b.values, atol=1e-12)


def test_hook_receives_state_and_default_is_exact():
    from tabular_rl.envs import chain

    mdp = chain(3, gamma=0.6)
    theta = np.arange(mdp.S * mdp.A, dtype=float).reshape(mdp.S, mdp.A) / 3
    st_ = policy_gradient_state(mdp, theta, tau=0.2)
    np.testing.assert_allclose(exact_gradient(st_)[0], softmax_pg_gradient(mdp, theta, tau=0.2))
    seen = []

    def hook(state):
        seen.append(state.pi.shape)
        return exact_gradient(state)

    a = softmax_policy_gradient(mdp, n_iter=3, gradient=hook)
    b = softmax_policy_gradient(mdp, n_iter=3)
    assert seen == [(1, mdp.S, mdp.A)] * 4
    np.testing.assert_allclose(a.values, b.values)


def test_convergence_and_result_fields():
    from tabular_rl.envs import chain

    mdp = chain(4, gamma=0.5)
    res = softmax_policy_gradient(mdp, n_iter=300, tau=0.5)
    assert res.iterations == 300 and res.values.shape == (301,)
    # eta = 1/L (Mei et al.'s smoothness lemma): the ascent lemma makes the objective monotone.
    assert np.all(np.diff(res.values) >= -1e-12)
    assert res.suboptimality[-1] < res.suboptimality[0]
    assert np.all(res.suboptimality >= -1e-10)
    assert np.isnan(res.min_optimal_prob).all() and np.all(res.min_prob > 0)
    assert "softmax_policy_gradient" in repr(res)
    res0 = natural_policy_gradient(mdp, n_iter=30, eta=1.0)
    # NPG improves monotonically (the mirror-descent improvement step in Agarwal et al. 2021,
    # proof of Thm. 16).
    assert np.all(np.diff(res0.values) >= -1e-12)
    assert res0.min_optimal_prob[-1] > res0.min_optimal_prob[0]


def test_mei_step_size():
    from tabular_rl.envs import chain

    mdp = chain(4, gamma=0.5)
    R = float(np.ptp(mdp.r))
    assert mei_step_size(mdp) == pytest.approx(0.125 / (8 * R))
    assert mei_step_size(mdp, 0.5) == pytest.approx(0.125 / (8 * R + 0.5 * (4 + 8 * np.log(2))))


def test_npg_update_log_space_matches_product_form():
    bandit = trl.FiniteMDP(np.ones((1, 3, 1)), [[1.0, 0.0, 0.5]], gamma=0.5)
    pi = np.array([[0.2, 0.5, 0.3]])
    q = np.array([[1.0, -1.0, 0.5]])
    eta, tau = 0.3, 0.7
    alpha = eta * tau / 0.5
    w = pi ** (1 - alpha) * np.exp(eta * q / 0.5)
    np.testing.assert_allclose(np.exp(npg_update(bandit, np.log(pi), q, eta=eta, tau=tau)),
                               w / w.sum(), rtol=1e-13)


def test_bad_input_raises():
    from tabular_rl.envs import chain

    mdp = chain(3, gamma=0.5)
    with pytest.raises(ValueError, match="eta"):
        softmax_policy_gradient(mdp, n_iter=2, eta=-1.0)
    with pytest.raises(ValueError, match="tau"):
        softmax_policy_gradient(mdp, n_iter=2, tau=-0.1)
    with pytest.raises(ValueError, match="n_iter"):
        natural_policy_gradient(mdp, n_iter=-1, eta=1.0)
    with pytest.raises(ValueError, match="theta"):
        softmax_pg_gradient(mdp, np.zeros((2, 2)))
    with pytest.raises(ValueError, match="theta"):
        softmax_pg_gradient(mdp, np.full((mdp.S, mdp.A), np.nan))
    with pytest.raises(ValueError, match="rho"):
        softmax_pg_gradient(mdp, np.zeros((mdp.S, mdp.A)), rho=[0.5, 0.6, 0.0])
    with pytest.raises(ValueError, match=r"mdps\[1\]"):
        softmax_policy_gradient_batch([mdp, chain(4, gamma=0.5)], n_iter=1)
    with pytest.raises(TypeError, match="FiniteMDP"):
        softmax_policy_gradient("not an mdp", n_iter=1)
