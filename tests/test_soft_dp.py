"""Tests of regularized dynamic programming (:mod:`tabular_rl.planning.soft_dp`,
:mod:`tabular_rl.soft_bellman`).

Cross-checks between independent routes: soft VI, soft PI and soft MPI agree within the sum of
their certified bounds; the returned policy's exact regularized value (a linear solve) is
within ``policy_gap_bound`` of the certified optimum; no random policy beats the optimum; the
temperature limit brackets the unregularized optimum (Geist et al. 2019, Prop. 3); soft
backward induction agrees with exact episodic evaluation of its own policy.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from _examples import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from tabular_rl import (
    KL,
    ConvergenceError,
    ConvergenceWarning,
    EpisodicMDP,
    FiniteMDP,
    LogBarrier,
    Shannon,
    Tsallis,
    evaluate_regularized_policy,
    regularized_q_function,
    soft_backward_induction,
    soft_bellman,
    soft_modified_policy_iteration,
    soft_policy_iteration,
    soft_value_iteration,
    value_iteration,
)
from tabular_rl.envs import garnet
from tabular_rl.testing.strategies import episodic_mdps, finite_mdps, gammas, policies

EPS = np.finfo(np.float64).eps


def _regularizer(kind: str, tau: float, A: int, rng: np.random.Generator):
    if kind == "shannon":
        return Shannon(tau)
    if kind == "kl":
        return KL(tau, rng.dirichlet(np.ones(A)))
    if kind == "sparsemax":
        return Tsallis(tau, 2.0)
    if kind == "tsallis1.5":
        return Tsallis(tau, 1.5)
    return LogBarrier(tau)


KINDS = ["shannon", "kl", "sparsemax", "tsallis1.5", "logbarrier"]


@settings(max_examples=examples(30), deadline=None)
@given(mdp=finite_mdps(max_states=6, gamma=gammas(0.95)), kind=st.sampled_from(KINDS),
       tau=st.sampled_from([1e-3, 0.1, 1.0, 10.0]), seed=st.integers(0, 2**16))
def test_soft_vi_pi_mpi_agree_within_certified_bounds(mdp, kind, tau, seed):
    reg = _regularizer(kind, tau, mdp.A, np.random.default_rng(seed))
    vi = soft_value_iteration(mdp, reg, tol=1e-9)
    pi = soft_policy_iteration(mdp, reg, tol=1e-9)
    mpi = soft_modified_policy_iteration(mdp, reg, m=5, tol=1e-9)
    scale = 1.0 + float(np.abs(vi.v).max())
    slack = 64 * EPS * scale / (1 - mdp.gamma)  # the linear solve of soft PI's evaluation
    for other in (pi, mpi):
        assert other.converged
        gap = float(np.abs(vi.v - other.v).max())
        assert gap <= vi.error_bound + other.error_bound + slack, (other.method, gap)
    # the returned policy's exact regularized value is within its certified gap
    v_pi = evaluate_regularized_policy(mdp, vi.policy, reg)
    assert np.all(vi.v - v_pi <= vi.error_bound + vi.policy_gap_bound + slack)
    # and it is a fixed point of the regularized operator up to the certified error
    Tv, _, _ = soft_bellman(mdp, vi.v, reg)
    assert float(np.abs(Tv - vi.v).max()) <= (1 + mdp.gamma) * vi.error_bound + slack


@settings(max_examples=examples(30), deadline=None)
@given(data=st.data(), mdp=finite_mdps(max_states=6, gamma=gammas(0.95)),
       kind=st.sampled_from(KINDS), tau=st.sampled_from([0.01, 1.0]))
def test_no_policy_beats_the_regularized_optimum(data, mdp, kind, tau):
    reg = _regularizer(kind, tau, mdp.A, np.random.default_rng(0))
    sol = soft_value_iteration(mdp, reg, tol=1e-10)
    pi = data.draw(policies(mdp.S, mdp.A, deterministic=False))
    v_pi = evaluate_regularized_policy(mdp, pi, reg)
    slack = 64 * EPS * (1.0 + float(np.abs(sol.v).max())) / (1 - mdp.gamma)
    assert np.all(v_pi <= sol.v + sol.error_bound + slack)


@settings(max_examples=examples(25), deadline=None)
@given(mdp=finite_mdps(max_states=6, gamma=gammas(0.95)), tau=st.sampled_from([1e-4, 0.1, 2.0]))
def test_temperature_brackets_the_unregularized_optimum(mdp, tau):
    r"""Geist et al. (2019), Prop. 3: with :math:`-\log A \le \Omega \le 0` (negative entropy),
    :math:`v^* \le v^*_\Omega \le v^* + \tau\log A/(1-\gamma)`."""
    soft = soft_value_iteration(mdp, Shannon(tau), tol=1e-10)
    hard = value_iteration(mdp, tol=1e-10)
    b = soft.error_bound + hard.error_bound
    b += 64 * EPS * (1 + np.abs(hard.v).max()) / (1 - mdp.gamma)
    assert np.all(soft.v >= hard.v - b)
    assert np.all(soft.v <= hard.v + tau * np.log(mdp.A) / (1 - mdp.gamma) + b)


@settings(max_examples=examples(25), deadline=None)
@given(mdp=episodic_mdps(max_states=5), kind=st.sampled_from(KINDS),
       tau=st.sampled_from([1e-3, 1.0]), data=st.data())
def test_soft_backward_induction_is_optimal_and_self_consistent(mdp, kind, tau, data):
    reg = _regularizer(kind, tau, mdp.A, np.random.default_rng(3))
    sol = soft_backward_induction(mdp, reg)
    V = evaluate_regularized_policy(mdp, sol.policy, reg)
    scale = 1.0 + float(np.abs(sol.v).max())
    tol = 64 * EPS * scale * mdp.H + sol.error_bound
    np.testing.assert_allclose(V, sol.v, rtol=0, atol=tol)
    np.testing.assert_allclose(regularized_q_function(mdp, sol.policy, reg), sol.q,
                               rtol=0, atol=tol)
    pi = data.draw(policies(mdp.S, mdp.A, horizon=mdp.H, deterministic=False))
    assert np.all(evaluate_regularized_policy(mdp, pi, reg)[0] <= sol.v[0] + tol)


def test_soft_backward_induction_per_step_regularizers():
    rng = np.random.default_rng(0)
    P = rng.dirichlet(np.ones(3), size=(3, 2))
    mdp = EpisodicMDP(P, rng.normal(size=(3, 2)), H=3)
    refs = [rng.dirichlet(np.ones(2), size=3) for _ in range(3)]
    regs = [KL(0.5, ref) for ref in refs]
    sol = soft_backward_induction(mdp, regs)
    np.testing.assert_allclose(evaluate_regularized_policy(mdp, sol.policy, regs), sol.v,
                               atol=1e-12)
    with pytest.raises(ValueError, match="2 regularizers for a horizon of H=3"):
        soft_backward_induction(mdp, regs[:2])


def test_extreme_temperatures_stay_finite_and_tend_to_the_hard_optimum():
    mdp = garnet(30, 4, 5, gamma=0.9, seed=2)
    big = FiniteMDP(mdp.P, 1e6 * mdp.r, mdp.gamma)
    hard = value_iteration(big, tol=1e-3)
    for reg in (Shannon(1e-6), Tsallis(1e-6, 2.0), Tsallis(1e-6, 1.5), KL(1e-6, np.full(4, .25))):
        sol = soft_value_iteration(big, reg, tol=1e-3)
        assert np.all(np.isfinite(sol.v)) and np.all(np.isfinite(sol.policy))
        # |v*_Omega - v*| <= tau * max|Omega| / (1 - gamma), tiny here
        np.testing.assert_allclose(sol.v, hard.v, rtol=0, atol=2e-3 + 1e-4)
    hot = soft_value_iteration(mdp, Shannon(1e6), tol=1e-6)
    assert np.all(np.isfinite(hot.v))
    np.testing.assert_allclose(hot.policy, 0.25, atol=1e-5)  # uniform at huge temperature


def test_policy_iteration_values_increase_monotonically():
    mdp = garnet(40, 3, 5, gamma=0.95, seed=4)
    reg = Shannon(0.3)
    pi = np.full((40, 3), 1 / 3)
    v_prev = evaluate_regularized_policy(mdp, pi, reg)
    for _ in range(6):
        _, pi, _ = soft_bellman(mdp, v_prev, reg)
        v = evaluate_regularized_policy(mdp, pi, reg)
        assert np.all(v >= v_prev - 1e-10)
        v_prev = v


def test_sparse_and_dense_kernels_agree():
    dense = garnet(25, 3, 4, gamma=0.9, seed=5, sparse=False)
    csr = FiniteMDP(sp.csr_matrix(np.asarray(dense.P).reshape(75, 25)), dense.r, dense.gamma)
    reg = Tsallis(0.2, 2.0)
    a = soft_value_iteration(dense, reg, tol=1e-11)
    b = soft_value_iteration(csr, reg, tol=1e-11)
    np.testing.assert_allclose(a.v, b.v, rtol=0, atol=a.error_bound + b.error_bound)


def test_iteration_cap_warns_or_raises():
    mdp = garnet(10, 2, 3, gamma=0.99, seed=0)
    with pytest.warns(ConvergenceWarning, match="soft_value_iteration stopped at max_iter=3"):
        sol = soft_value_iteration(mdp, Shannon(1.0), tol=1e-12, max_iter=3)
    assert not sol.converged and sol.iterations == 3
    with pytest.raises(ConvergenceError):
        soft_policy_iteration(mdp, Shannon(1.0), tol=1e-300, max_iter=2, strict=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sol = soft_value_iteration(mdp, Shannon(1.0), tol=1e-8, record_history=True)
    assert sol.history.shape == (sol.iterations,) and sol.error_bound <= 1e-8


def test_bad_arguments_get_clear_errors():
    mdp = garnet(5, 2, 2, gamma=0.9, seed=0)
    with pytest.raises(TypeError, match="expected a regularizer"):
        soft_value_iteration(mdp, 0.1)
    with pytest.raises(ValueError, match="tol"):
        soft_value_iteration(mdp, Shannon(1.0), tol=0.0)
    with pytest.raises(TypeError, match="EpisodicMDP"):
        soft_backward_induction(mdp, Shannon(1.0))
    # a policy outside the domain of KL(ref) has regularized value -inf, and PI refuses it
    ref = np.tile([1.0, 0.0], (5, 1))
    assert np.all(evaluate_regularized_policy(mdp, np.full((5, 2), .5), KL(1.0, ref)) == -np.inf)
    with pytest.raises(ValueError, match="outside the domain"):
        soft_policy_iteration(mdp, KL(1.0, ref), pi0=np.full((5, 2), .5))
    # the default start is moved into the domain
    assert soft_policy_iteration(mdp, KL(1.0, ref)).converged


def test_out_of_domain_values_propagate_only_to_states_that_reach_them():
    P = np.zeros((2, 2, 2))
    P[0, :, 0] = 1.0          # state 0 is absorbing
    P[1, :, 0] = 1.0          # state 1 moves to 0
    mdp = FiniteMDP(P, np.ones((2, 2)), gamma=0.5)
    reg = LogBarrier(1.0)     # -inf value for any zero probability
    v = evaluate_regularized_policy(mdp, [[0.5, 0.5], [1.0, 0.0]], reg)
    assert v[1] == -np.inf and np.isfinite(v[0])
    np.testing.assert_allclose(v[0], (1 - reg.value(np.array([.5, .5]))) / 0.5)
    assert np.all(evaluate_regularized_policy(mdp, [[1.0, 0.0], [.5, .5]], reg) == -np.inf)
    epi = EpisodicMDP(P, np.ones((2, 2)), H=3)
    V = evaluate_regularized_policy(epi, np.array([[[0.5, 0.5], [1.0, 0.0]]] * 3), reg)
    assert np.all(np.isfinite(V[:, 0])) and np.all(V[:3, 1] == -np.inf)


def test_a_tol_below_the_rounding_floor_stops_early_and_says_so():
    """A tolerance float64 cannot certify: stop once converged to the floor, not at
    max_iter, and say why (for VI as for soft VI)."""
    mdp = garnet(30, 3, 4, gamma=0.999, seed=0)
    big = FiniteMDP(mdp.P, 1e3 * mdp.r, mdp.gamma)
    for solve in (lambda: soft_value_iteration(big, Shannon(1.0), tol=1e-12),
                  lambda: soft_policy_iteration(big, Shannon(1.0), tol=1e-12),
                  lambda: value_iteration(big, tol=1e-12)):
        with pytest.warns(ConvergenceWarning, match="floating-point floor") as rec:
            sol = solve()
        assert not sol.converged and sol.iterations < 100_000
        assert "cannot be certified in float64" in str(rec[0].message)
