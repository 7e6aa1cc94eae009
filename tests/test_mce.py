"""Maximum causal entropy IRL and its constrained variant."""

import numpy as np
import pytest
from _examples import examples
from hypothesis import given, settings

from tabular_rl import (
    ConvergenceError,
    ConvergenceWarning,
    FiniteMDP,
    Shannon,
    occupancy_measure,
)
from tabular_rl.irl.identifiability import shaping_distance, soft_optimal_policy
from tabular_rl.irl.mce import feature_expectation, mce_icrl, mce_irl, tabular_features
from tabular_rl.testing.strategies import episodic_mdps, finite_mdps, gammas, random_kernel


def _expert(mdp, tau=1.0):
    reg = Shannon(tau)
    pi = soft_optimal_policy(mdp, mdp.r, reg).policy
    return reg, pi, occupancy_measure(mdp, pi)


@settings(max_examples=examples(20), deadline=None)
@given(finite_mdps(max_states=4, max_actions=3, gamma=gammas(0.8)))
def test_mce_recovers_expert_occupancy(mdp):
    reg, pi_E, d_E = _expert(mdp, tau=0.5 + float(np.abs(mdp.r).max()))
    res = mce_irl(mdp, d_E, reg=reg, tol=1e-7, strict=True)
    assert res.converged and res.residual <= 1e-7
    assert np.abs(occupancy_measure(mdp, res.policy) - d_E).sum() <= 1e-7 + 1e-12
    # the learned policy is soft-optimal for the learned reward
    ind = soft_optimal_policy(mdp, res.reward, reg).policy
    assert np.abs(ind - res.policy).max() <= 1e-9


@settings(max_examples=examples(10), deadline=None)
@given(episodic_mdps(max_states=3, max_actions=2, max_horizon=3, time_varying=False))
def test_mce_episodic_recovers_expert_occupancy(mdp):
    reg, pi_E, d_E = _expert(mdp, tau=1.0)
    res = mce_irl(mdp, d_E, reg=reg, tol=1e-7, strict=True)
    assert np.abs(occupancy_measure(mdp, res.policy).sum(axis=0) - d_E.sum(axis=0)).sum() <= 2e-7


def _mdp(seed=0, S=4, A=3, gamma=0.7):
    rng = np.random.default_rng(seed)
    return FiniteMDP(random_kernel(rng, S, A), rng.uniform(-1, 1, (S, A)), gamma), rng


def test_tabular_reward_recovered_up_to_shaping():
    mdp, _ = _mdp()
    reg, pi_E, d_E = _expert(mdp)
    res = mce_irl(mdp, d_E, reg=reg, tol=1e-10)
    dist, _ = shaping_distance(mdp, mdp.r, res.reward)
    assert dist <= 1e-6
    # ... but not up to a constant: the learned reward itself differs
    assert np.abs(res.reward - mdp.r).max() > 1e-3
    np.testing.assert_allclose(res.reward, res.theta.reshape(mdp.S, mdp.A))


def test_linear_features_match():
    mdp, rng = _mdp(1, S=5)
    Phi = rng.normal(size=(mdp.S, mdp.A, 2))
    expert = mdp.with_reward(Phi @ np.array([1.0, -0.5]))
    reg, pi_E, d_E = _expert(expert)
    res = mce_irl(mdp, d_E, Phi, reg=reg, tol=1e-9)
    np.testing.assert_allclose(res.feature_expectation, feature_expectation(mdp, Phi, d_E),
                               atol=1e-9)
    np.testing.assert_allclose(res.theta, [1.0, -0.5], atol=1e-5)


def test_icrl_recovers_multiplier():
    mdp, rng = _mdp(2)
    reg = Shannon(0.5)
    c = rng.uniform(0, 1, (mdp.S, mdp.A))
    pi_E = soft_optimal_policy(mdp, mdp.r - 0.6 * c, reg).policy
    d_E = occupancy_measure(mdp, pi_E)
    res = mce_icrl(mdp, d_E, c, reg=reg, tol=1e-10)
    assert abs(res.theta[0] - 0.6) <= 1e-6
    np.testing.assert_allclose(res.cost, res.theta[0] * c)
    np.testing.assert_allclose(res.reward, mdp.r - res.cost)
    assert np.abs(res.occupancy - d_E).sum() <= 1e-8
    # an expert that ignores the cost: omega stays at 0 (projection onto omega >= 0)
    d0 = occupancy_measure(mdp, soft_optimal_policy(mdp, mdp.r, reg).policy)
    res0 = mce_icrl(mdp, d0, c, reg=reg, tol=1e-10)
    assert res0.theta[0] == 0.0 and res0.converged


def test_feature_expectation_tabular_is_occupancy():
    mdp, _ = _mdp()
    _, _, d_E = _expert(mdp)
    np.testing.assert_allclose(feature_expectation(mdp, None, d_E), d_E.reshape(-1))
    assert tabular_features(mdp).shape == (mdp.S, mdp.A, mdp.S * mdp.A)


def test_nonconvergence_warns_or_raises():
    mdp, _ = _mdp()
    _, _, d_E = _expert(mdp)
    with pytest.warns(ConvergenceWarning, match="max_iter=3"):
        res = mce_irl(mdp, d_E, max_iter=3)
    assert not res.converged and res.iterations == 3
    with pytest.raises(ConvergenceError):
        mce_irl(mdp, d_E, max_iter=3, strict=True)


def test_validation_errors():
    mdp, _ = _mdp()
    _, _, d_E = _expert(mdp)
    bad = d_E.copy()
    bad[1, 2] = -0.1
    with pytest.raises(ValueError, match=r"expert_occupancy\[1, 2\] = -0.1 is negative"):
        mce_irl(mdp, bad)
    with pytest.raises(ValueError, match="expert_occupancy must have shape"):
        mce_irl(mdp, d_E[:2])
    with pytest.raises(ValueError, match="features must have shape"):
        mce_irl(mdp, d_E, np.zeros((mdp.S + 1, mdp.A, 2)))
    with pytest.raises(ValueError, match="step_size"):
        mce_irl(mdp, d_E, step_size=-1.0)
    with pytest.raises(ValueError, match="theta0 must have shape"):
        mce_irl(mdp, d_E, theta0=np.zeros(3))
    with pytest.raises(ValueError, match="all features are zero"):
        mce_irl(mdp, d_E, np.zeros((mdp.S, mdp.A, 2)))
    with pytest.raises(TypeError, match="regularizer"):
        mce_irl(mdp, d_E, reg="entropy")
