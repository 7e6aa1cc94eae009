"""Potential shaping, the consistent-reward set and the identifiability counterexamples."""

import numpy as np
import pytest
from _examples import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from tabular_rl import FiniteMDP, LogBarrier, Shannon, Tsallis, occupancy_measure
from tabular_rl.irl.identifiability import (
    consistent_reward_set,
    constraint_counterexample,
    shape,
    shaping_distance,
    shaping_matrix,
    soft_optimal_policy,
    tsallis_counterexample,
)
from tabular_rl.irl.mce import solve_soft_cmdp
from tabular_rl.occupancy import ConstrainedMDP
from tabular_rl.testing.strategies import episodic_mdps, finite_mdps, gammas, random_kernel

_U = np.finfo(float).eps / 2


def _policy_tol(reg, gamma, *sols, scale=1.0):
    """Greedy-map Lipschitz constant times the certified q errors, plus rounding."""
    lip = max(2.0, 1.0) / reg.tau
    return lip * gamma * sum(s.error_bound for s in sols) + 1e-13 * (1 + scale / reg.tau)


@settings(max_examples=examples(20), deadline=None)
@given(finite_mdps(max_states=5, max_actions=3, gamma=gammas(0.95)), st.integers(0, 2**31))
def test_shaping_leaves_soft_optimal_policy_unchanged(mdp, seed):
    rng = np.random.default_rng(seed)
    reg = Shannon(0.5 + float(np.abs(mdp.r).max()))
    phi = rng.normal(0, 3, mdp.S)
    s1 = soft_optimal_policy(mdp, mdp.r, reg)
    s2 = soft_optimal_policy(mdp, shape(mdp, mdp.r, phi), reg)
    tol = _policy_tol(reg, mdp.gamma, s1, s2, scale=float(np.abs(phi).max()))
    assert np.abs(s1.policy - s2.policy).max() <= tol
    # the soft value moves by exactly -phi
    assert np.abs(s2.v - (s1.v - phi)).max() <= s1.error_bound + s2.error_bound + 1e-12 * (
        1 + np.abs(phi).max() + np.abs(s1.v).max())


@settings(max_examples=examples(20), deadline=None)
@given(episodic_mdps(max_states=4, max_actions=3, max_horizon=4), st.integers(0, 2**31))
def test_episodic_shaping_invariance(mdp, seed):
    rng = np.random.default_rng(seed)
    reg = Shannon(1.0)
    phi = rng.normal(0, 2, (mdp.H, mdp.S))
    s1 = soft_optimal_policy(mdp, mdp.r, reg)
    s2 = soft_optimal_policy(mdp, shape(mdp, mdp.r, phi), reg)
    assert np.abs(s1.policy - s2.policy).max() <= 1e-12
    assert np.allclose(s2.v[:-1], s1.v[:-1] - phi, atol=1e-11, rtol=0)
    # (H+1, S) with a zero terminal row is the same potential
    full = np.vstack([phi, np.zeros(mdp.S)])
    assert np.array_equal(shape(mdp, mdp.r, full), shape(mdp, mdp.r, phi))


@settings(max_examples=examples(20), deadline=None)
@given(finite_mdps(max_states=5, max_actions=3, gamma=gammas(0.95)))
def test_basis_dimension_is_S_for_entropy(mdp):
    reg = Shannon(0.5 + float(np.abs(mdp.r).max()))
    pi = soft_optimal_policy(mdp, mdp.r, reg).policy
    cs = consistent_reward_set(mdp, pi, reg)
    assert cs.dim == mdp.S
    # the null space is the shaping space
    Q, _ = np.linalg.qr(shaping_matrix(mdp))
    assert np.linalg.norm(cs.basis - Q @ (Q.T @ cs.basis), 2) <= 1e-8
    # the particular solution is consistent: its soft-optimal policy is pi
    s = soft_optimal_policy(mdp, cs.particular, reg)
    assert np.abs(s.policy - pi).max() <= 1e-8
    # and the true reward differs from it by a shaping
    assert shaping_distance(mdp, mdp.r, cs.particular)[0] <= 1e-7 * (1 + np.abs(mdp.r).max())


def _mdp(seed=0, S=5, A=3, gamma=0.9):
    rng = np.random.default_rng(seed)
    return FiniteMDP(random_kernel(rng, S, A), rng.uniform(-1, 1, (S, A)), gamma), rng


def test_shape_example_and_matrix_agree():
    mdp, rng = _mdp()
    phi = rng.normal(size=mdp.S)
    direct = shape(mdp, mdp.r, phi)
    via_B = mdp.r + (shaping_matrix(mdp) @ phi).reshape(mdp.S, mdp.A)
    np.testing.assert_allclose(direct, via_B, atol=1e-14)
    assert shaping_distance(mdp, mdp.r, direct)[0] <= 1e-13
    sp = mdp.tosparse()
    np.testing.assert_allclose(shape(sp, sp.r, phi), direct, atol=1e-15)


def test_tsallis_consistent_set_is_larger_and_counterexample():
    mdp, _ = _mdp(1, S=6, A=4)
    reg = Tsallis(0.05, 2.0)
    pi = soft_optimal_policy(mdp, mdp.r, reg).policy
    unplayed = int((pi == 0).sum())
    assert unplayed > 0
    cs = consistent_reward_set(mdp, pi, reg)
    assert cs.dim == mdp.S + unplayed
    ce = tsallis_counterexample(mdp, reg)
    assert ce is not None and ce.policy_gap <= 1e-9 and ce.shaping_distance > 1e-3
    # with a large temperature the policy has full support: no counterexample
    assert tsallis_counterexample(mdp, Tsallis(100.0, 2.0)) is None


def test_constraint_counterexample_and_soft_cmdp():
    mdp, rng = _mdp(2)
    reg = Shannon(0.5)
    c = rng.uniform(0, 1, (mdp.S, mdp.A))
    lam0 = 0.7
    pi0 = soft_optimal_policy(mdp, mdp.r - lam0 * c, reg).policy
    b = float((occupancy_measure(mdp, pi0) * c).sum())
    cmdp = ConstrainedMDP(mdp, c[None], [b])
    sol = solve_soft_cmdp(cmdp, reg)
    assert abs(sol.multipliers[0] - lam0) <= 1e-8
    assert np.abs(sol.policy - pi0).max() <= 1e-9
    ce = constraint_counterexample(cmdp, reg, t=2.0)
    assert ce.policy_gap <= 1e-8 and ce.shaping_distance > 1e-3
    assert ce.unconstrained_policy_gap > 1e-3
    # an inactive constraint: no counterexample, zero multiplier
    loose = cmdp.with_thresholds([10.0])
    assert solve_soft_cmdp(loose, reg).multipliers[0] == 0.0
    assert constraint_counterexample(loose, reg) is None


def test_soft_cmdp_two_constraints_kkt():
    mdp, rng = _mdp(3, S=4, A=3, gamma=0.8)
    reg = Shannon(0.5)
    C = rng.uniform(0, 1, (2, mdp.S, mdp.A))
    pi0 = soft_optimal_policy(mdp, mdp.r - 0.4 * C[0] - 0.2 * C[1], reg).policy
    b = (occupancy_measure(mdp, pi0)[None] * C).sum(axis=(1, 2))
    sol = solve_soft_cmdp(ConstrainedMDP(mdp, C, b), reg, tol=1e-12)
    assert sol.kkt_residual <= 1e-7
    np.testing.assert_allclose(sol.multipliers, [0.4, 0.2], atol=1e-4)


def test_soft_cmdp_infeasible_raises():
    mdp, rng = _mdp(4, S=3, A=2)
    c = np.ones((mdp.S, mdp.A))
    with pytest.raises(ValueError, match="infeasible"):
        solve_soft_cmdp(ConstrainedMDP(mdp, c[None], [0.5]), Shannon(1.0))


def test_validation_errors():
    mdp, _ = _mdp()
    with pytest.raises(ValueError, match=r"phi must have shape"):
        shape(mdp, mdp.r, np.zeros(mdp.S + 1))
    with pytest.raises(ValueError, match=r"phi\[2\] is nan"):
        shape(mdp, mdp.r, np.where(np.arange(mdp.S) == 2, np.nan, 0.0))
    with pytest.raises(ValueError, match=r"r must have shape"):
        shape(mdp, np.zeros((2, 2)), np.zeros(mdp.S))
    pi = np.full((mdp.S, mdp.A), 1 / mdp.A)
    pi[1] = [1.0, 0.0, 0.0]
    with pytest.raises(ValueError, match=r"pi\[1, 1\] = 0.*full support"):
        consistent_reward_set(mdp, pi, Shannon(1.0))
    with pytest.raises(TypeError, match="LogBarrier"):
        consistent_reward_set(mdp, np.full((mdp.S, mdp.A), 1 / mdp.A), LogBarrier(1.0))
    with pytest.raises(TypeError, match="Tsallis"):
        tsallis_counterexample(mdp, Shannon(1.0))


def test_episodic_terminal_potential_must_vanish():
    from tabular_rl import EpisodicMDP

    rng = np.random.default_rng(0)
    mdp = EpisodicMDP(random_kernel(rng, 3, 2), rng.uniform(size=(3, 2)), H=2)
    phi = np.ones((3, 3))
    with pytest.raises(ValueError, match=r"phi\[2, 0\] = 1.*terminal potential"):
        shape(mdp, mdp.r, phi)
