"""Generative-model learners: plug-in, synchronous Q-learning, average-reward reduction."""

from __future__ import annotations

import numpy as np
import pytest

from tabular_rl import FiniteMDP, average_reward_lp, policy_iteration
from tabular_rl.envs import garnet, random_dense_mdp
from tabular_rl.envs.mixing import switching_mdp
from tabular_rl.learners.average_reward import (
    average_reward_plug_in,
    optimal_gain,
    policy_gain,
    reduction_discount,
)
from tabular_rl.learners.generative import (
    batched_policy_iteration,
    exact_solution,
    plug_in,
    synchronous_q_learning,
)


@pytest.fixture(scope="module")
def small():
    return garnet(6, 2, 3, gamma=0.8, seed=3)


def _deterministic_mdp(seed: int = 0) -> FiniteMDP:
    rng = np.random.default_rng(seed)
    S, A = 5, 3
    P = np.zeros((S, A, S))
    P[np.arange(S)[:, None], np.arange(A)[None, :], rng.integers(S, size=(S, A))] = 1.0
    return FiniteMDP(P, rng.uniform(-1, 1, (S, A)), 0.9)


# ----------------------------------------------------------------------------- plug-in


def test_plug_in_exact_on_deterministic_kernel():
    mdp = _deterministic_mdp()
    res = plug_in(mdp, 1, seed=0)
    ref = exact_solution(mdp)
    scale = np.abs(mdp.r).max() / (1 - mdp.gamma)
    assert res.q_error(ref) <= 1e-12 * scale
    assert res.policy_gap(ref) <= 1e-12 * scale


def test_plug_in_huge_n_matches_exact(small):
    ref = exact_solution(small)
    res = plug_in(small, 400_000, seeds=2, seed=1)
    # Hoeffding: |P_hat v - P v| <= ||v|| sqrt(log(2 SA * 100)/(2n)) per pair w.p. 0.99;
    # the Q error is at most gamma/(1-gamma) times that.
    v = np.abs(ref.v).max()
    bound = small.gamma / (1 - small.gamma) * v * np.sqrt(np.log(2 * 12 * 100) / (2 * 400_000))
    assert np.all(res.q_error(ref) <= bound)
    assert res.q.shape == (2, 6, 2) and res.actions.shape == (2, 6)
    assert np.all(res.policy_gap(ref) <= 2 * bound)


def test_plug_in_error_shrinks(small):
    ref = exact_solution(small)
    e_small = plug_in(small, 50, seeds=16, seed=2).q_error(ref).mean()
    e_large = plug_in(small, 5000, seeds=16, seed=2).q_error(ref).mean()
    assert e_large < e_small / 4       # ~ sqrt(100) = 10 in expectation


def test_plug_in_reproducible_and_batched_equals_single(small):
    a = plug_in(small, 100, seed=[4, 9])
    b = plug_in(small, 100, seed=9)
    c = plug_in(small, 100, seed=[4, 9])
    np.testing.assert_array_equal(a.q[1], b.q)
    np.testing.assert_array_equal(a.q, c.q)
    assert isinstance(b.q_error(), float)


def test_plug_in_custom_planner_agrees(small):
    a = plug_in(small, 200, seed=[1, 2])
    b = plug_in(small, 200, seed=[1, 2], planner=policy_iteration)
    np.testing.assert_allclose(a.q, b.q, rtol=0, atol=1e-10)


def test_batched_policy_iteration_matches_policy_iteration():
    for seed in range(5):
        mdp = random_dense_mdp(7, 3, gamma=0.95, seed=seed)
        P = np.stack([mdp.P, mdp.P])
        q, act = batched_policy_iteration(P, mdp.r, mdp.gamma)
        sol = policy_iteration(mdp)
        np.testing.assert_allclose(q[0], sol.q, atol=1e-10)
        np.testing.assert_allclose(q[0].max(-1), sol.v, atol=1e-10)


def test_plug_in_rejects_bad_input(small):
    with pytest.raises(ValueError):
        plug_in(small, 0, seed=0)
    with pytest.raises(TypeError):
        plug_in("not an mdp", 10, seed=0)


# --------------------------------------------------------------------------- Q-learning


def test_q_learning_error_decreases(small):
    res = synchronous_q_learning(small, 20_000, seeds=8, seed=0,
                                 record_at=[10, 100, 1000, 20_000])
    mean = res.errors.mean(axis=0)
    assert res.errors.shape == (8, 4)
    assert np.all(np.diff(mean) < 0)
    assert mean[-1] < mean[0] / 10


def test_q_learning_reproducible_and_batched_equals_single(small):
    a = synchronous_q_learning(small, 5000, seed=[3, 11], record_every=1000)
    b = synchronous_q_learning(small, 5000, seed=11, record_every=1000)
    c = synchronous_q_learning(small, 5000, seed=[3, 11], record_every=1000)
    np.testing.assert_array_equal(a.errors[1], b.errors)
    np.testing.assert_array_equal(a.q[1], b.q)
    np.testing.assert_array_equal(a.errors, c.errors)
    assert a.iterations.tolist() == [1000, 2000, 3000, 4000, 5000]
    assert isinstance(b.final_error, float)


def test_q_learning_prefix_consistent(small):
    """The first T1 iterations of a longer run are the run of length T1 (same draws)."""
    long = synchronous_q_learning(small, 9000, seed=5, record_at=[3000, 9000])
    short = synchronous_q_learning(small, 3000, seed=5, step=lambda t: 1 / (1 + 0.2 * t))
    ref = synchronous_q_learning(small, 3000, seed=5)
    assert long.errors[0] == ref.errors[-1]
    assert short.step == "custom"


def test_q_learning_steps(small):
    for step in ("linear", "constant", "rescaled-linear"):
        res = synchronous_q_learning(small, 2000, seed=0, step=step)
        assert np.isfinite(res.final_error)
    with pytest.raises(ValueError, match="unknown step"):
        synchronous_q_learning(small, 10, seed=0, step="cubic")
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        synchronous_q_learning(small, 10, seed=0, step=lambda t: 2.0 + 0 * t)
    with pytest.raises(ValueError, match="record_at"):
        synchronous_q_learning(small, 10, seed=0, record_at=[0, 5])


def test_q_learning_fixed_point_stays():
    """Started at Q* on a deterministic MDP, every update keeps Q*."""
    mdp = _deterministic_mdp(1)
    ref = exact_solution(mdp)
    res = synchronous_q_learning(mdp, 500, seed=0, q0=ref.q, record_every=100)
    assert res.errors.max() <= 1e-12 * np.abs(mdp.r).max() / (1 - mdp.gamma)


# ------------------------------------------------------------------------ average reward


def test_reduction_discount():
    assert reduction_discount(0.1, 50.0) == pytest.approx(0.998)
    assert reduction_discount(0.1, 50.0, c=2.0) == pytest.approx(0.999)
    with pytest.raises(ValueError):
        reduction_discount(0.0, 10.0)
    with pytest.raises(ValueError):
        reduction_discount(0.5, 0.5)


def test_policy_gain_matches_lp():
    mdp = switching_mdp(0.05, n_actions=4)
    for a in range(4):
        actions = np.array([0, a])
        P1 = np.asarray(mdp.P)[np.arange(2), actions][:, None, :]
        r1 = np.asarray(mdp.r)[np.arange(2), actions][:, None]
        lp = average_reward_lp(FiniteMDP(P1, r1, 0.9)).gain
        assert policy_gain(mdp, actions) == pytest.approx(lp, abs=1e-8)
    assert optimal_gain(mdp) == pytest.approx(0.5, abs=1e-8)


def test_policy_gain_rejects_multichain():
    P = np.zeros((2, 1, 2))
    P[0, 0, 0] = P[1, 0, 1] = 1.0
    with pytest.raises(ValueError, match="recurrent class"):
        policy_gain(FiniteMDP(P, np.zeros((2, 1)), 0.9), np.array([0, 0]))


def test_average_reward_plug_in_converges_and_reproduces():
    mdp = switching_mdp(0.05, n_actions=4)
    est = average_reward_plug_in(mdp, 200_000, epsilon=0.01, t_mix=7, seeds=4, seed=0)
    np.testing.assert_array_equal(est.gain_gap(0.5), 0.0)
    np.testing.assert_array_equal(est.actions[:, 1], 3)          # the optimal action
    assert np.allclose(est.gain_estimate, 0.5, atol=0.02)
    a = average_reward_plug_in(mdp, 300, epsilon=0.05, t_mix=7, seed=[1, 2], perturbation=1e-3)
    b = average_reward_plug_in(mdp, 300, epsilon=0.05, t_mix=7, seed=2, perturbation=1e-3)
    np.testing.assert_array_equal(a.actions[1], b.actions)
    np.testing.assert_array_equal(a.value[1], b.value)
    assert a.gamma == pytest.approx(1 - 0.05 / 7)
    c = average_reward_plug_in(mdp, 300, epsilon=0.05, t_mix=7, seed=[1, 2], perturbation=1e-3,
                               planner=policy_iteration)
    np.testing.assert_array_equal(a.actions, c.actions)
