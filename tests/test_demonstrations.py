"""Behavior cloning and KL-regularized RL toward the BC policy
(tabular_rl.learners.demonstrations)."""

from __future__ import annotations

import numpy as np
import pytest

from proofs_check.claims.demo_regularized import expert_policy, tilted_ladder
from tabular_rl import EpisodicMDP
from tabular_rl.envs import garnet
from tabular_rl.evaluation import evaluate_policy, state_occupancy
from tabular_rl.learners.demonstrations import (
    bc_kl_bound,
    behavior_cloning,
    demo_regularized_plug_in,
    demo_regularized_policy,
    kl_regularized_optimum,
    regularized_policy_value,
    trajectory_kl,
)
from tabular_rl.learners.kl_ucbvi import demo_regularized_ucbvi_ent
from tabular_rl.sampling import Trajectories, rollouts


def _mdp(seed=0, H=4):
    g = garnet(5, 3, 3, seed=seed, sparse=False)
    r = np.random.default_rng(seed).uniform(size=(5, 3))
    return EpisodicMDP(g.P, r, H=H)


def _random_policy(rng, H, S, A):
    p = rng.uniform(0.1, 1.0, size=(H, S, A))
    return p / p.sum(-1, keepdims=True)


def test_bc_closed_form_and_smoothing():
    demos = Trajectories(np.array([[0, 1, 1], [0, 2, 0]]), np.array([[1, 0], [1, 2]]),
                         np.zeros((2, 2)))
    pi = behavior_cloning(demos, 3, 3, kappa=0.5)
    np.testing.assert_allclose(pi[0, 0], [0.5 / 3.5, 2.5 / 3.5, 0.5 / 3.5])
    np.testing.assert_allclose(pi[0, 1], np.full(3, 1 / 3))          # unvisited: uniform
    np.testing.assert_allclose(pi[1, 1], [1.5 / 2.5, 0.5 / 2.5, 0.5 / 2.5])
    assert np.all(pi > 0)
    np.testing.assert_allclose(pi.sum(-1), 1.0)


def test_bc_recovers_expert_and_kl_bound():
    mdp = _mdp(1)
    pi_e = expert_policy(mdp, mix=0.0)                              # deterministic optimum
    demos = rollouts(mdp, pi_e, 2000, seed=list(range(16)))
    pi_bc = behavior_cloning(demos, mdp.S, mdp.A)
    kl = trajectory_kl(mdp, pi_e, pi_bc)
    assert kl.shape == (16,)
    assert kl.mean() <= bc_kl_bound(2000, mdp.S, mdp.A, mdp.H)     # BC bound (kappa = 1)
    d = state_occupancy(mdp, pi_e)[:mdp.H]
    err = np.abs(pi_bc - pi_e).max(-1)                              # (16, H, S)
    assert np.all(err[:, d > 0.05] < 0.05)


def test_bc_batched_equals_single():
    mdp = _mdp(2)
    pi = _random_policy(np.random.default_rng(0), mdp.H, mdp.S, mdp.A)
    demos = rollouts(mdp, pi, 50, seed=[3, 4, 5])
    batch = behavior_cloning(demos, mdp.S, mdp.A)
    for b, s in enumerate([3, 4, 5]):
        one = behavior_cloning(rollouts(mdp, pi, 50, seed=s), mdp.S, mdp.A)
        np.testing.assert_array_equal(batch[b], one)


def test_kl_optimum_matches_soft_backward_induction():
    mdp = _mdp(3)
    rng = np.random.default_rng(1)
    refs = np.stack([_random_policy(rng, mdp.H, mdp.S, mdp.A) for _ in range(3)])
    V, Q, pi = kl_regularized_optimum(mdp, refs, 0.3)
    for b in range(3):
        sol = demo_regularized_policy(mdp, refs[b], 0.3)
        np.testing.assert_allclose(V[b], sol.v, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(pi[b], sol.policy, rtol=1e-10, atol=1e-12)
        # the optimum's regularized value is the soft value, and nothing beats it
        np.testing.assert_allclose(regularized_policy_value(mdp, pi[b], refs[b], 0.3), V[b],
                                   atol=1e-12)
        other = _random_policy(rng, mdp.H, mdp.S, mdp.A)
        assert np.all(regularized_policy_value(mdp, other, refs[b], 0.3)[0] <= V[b, 0] + 1e-12)


def test_unregularized_value_matches_evaluate_policy():
    mdp = _mdp(4)
    pi = _random_policy(np.random.default_rng(2), mdp.H, mdp.S, mdp.A)
    np.testing.assert_allclose(regularized_policy_value(mdp, pi, pi, 0.0),
                               evaluate_policy(mdp, pi), atol=1e-12)


def test_trajectory_kl_matches_occupancy_sum():
    mdp = _mdp(5)
    rng = np.random.default_rng(3)
    pi, ref = _random_policy(rng, mdp.H, mdp.S, mdp.A), _random_policy(rng, mdp.H, mdp.S, mdp.A)
    d = state_occupancy(mdp, pi)[:mdp.H]                                 # (H, S)
    kl = (pi * np.log(pi / ref)).sum(-1)
    np.testing.assert_allclose(trajectory_kl(mdp, pi, ref), (d * kl).sum(), rtol=1e-12)


def test_plug_in_reproducible_batched_and_consistent():
    mdp = tilted_ladder(4, 3, 3, tilt=0.3)
    pi_e = expert_policy(mdp)
    demos = rollouts(mdp, pi_e, 200, seed=[10, 11])
    rec = [10, 100, 20000]
    a = demo_regularized_plug_in(mdp, demos, 20000, 0.5, seed=[1, 2], record_at=rec)
    b = demo_regularized_plug_in(mdp, demos, 20000, 0.5, seed=[1, 2], record_at=rec)
    np.testing.assert_array_equal(a.policies, b.policies)
    assert a.policies.shape == (2, 3, mdp.H, mdp.S, mdp.A)
    single = demo_regularized_plug_in(
        mdp, Trajectories(demos.states[1], demos.actions[1], demos.rewards[1]), 20000, 0.5,
        seed=2, record_at=rec)
    np.testing.assert_allclose(single.policies, a.policies[1], atol=1e-14)
    # many episodes: the known-model optimum toward the same BC policy
    exact = kl_regularized_optimum(mdp, a.pi_bc, 0.5)[2]
    assert np.abs(a.policies[:, -1] - exact).max() < 0.05
    gap = (kl_regularized_optimum(mdp, a.pi_bc, 0.5)[0][:, None, 0]
           - regularized_policy_value(mdp, a.policies, a.pi_bc[:, None], 0.5)[..., 0, :])
    assert np.all(gap >= -1e-12)                       # (seeds, k, S): the optimum is optimal
    assert np.all(gap[:, -1].mean(-1) < gap[:, 0].mean(-1))
    bc = demo_regularized_plug_in(mdp, demos, 500, 0.5, seed=[1, 2], explore="bc")
    assert bc.policies.shape == (2, 1, mdp.H, mdp.S, mdp.A)


def test_decomposition_upper_bounds_true_gap():
    mdp = tilted_ladder(4, 3, 3, tilt=0.3)
    pi_e = expert_policy(mdp)
    demos = rollouts(mdp, pi_e, 100, seed=[0, 1, 2, 3])
    lam = 0.2
    res = demo_regularized_plug_in(mdp, demos, 400, lam, seed=[5, 6, 7, 8], record_at=[20, 400])
    mu = mdp.mu
    U = lam * trajectory_kl(mdp, pi_e, res.pi_bc)[:, None] + (
        kl_regularized_optimum(mdp, res.pi_bc, lam)[0][:, 0] @ mu)[:, None] - \
        regularized_policy_value(mdp, res.policies, res.pi_bc[:, None], lam)[..., 0, :] @ mu
    true = (evaluate_policy(mdp, pi_e)[0] @ mu
            - regularized_policy_value(mdp, res.policies, res.policies, 0.0)[..., 0, :] @ mu)
    assert np.all(true <= U + 1e-12)


def test_validation_errors():
    mdp = _mdp(6)
    demos = Trajectories(np.array([[0, 1, 1, 2, 3]]), np.array([[0, 1, 2, 0]]), np.zeros((1, 4)))
    with pytest.raises(ValueError, match="lam"):
        demo_regularized_plug_in(mdp, demos, 10, 0.0, seed=0)
    with pytest.raises(ValueError, match="record_at"):
        demo_regularized_plug_in(mdp, demos, 10, 0.1, seed=0, record_at=[5, 3])
    with pytest.raises(ValueError, match="explore"):
        demo_regularized_plug_in(mdp, demos, 10, 0.1, seed=0, explore="greedy")
    with pytest.raises(ValueError, match="seeds"):
        demo_regularized_plug_in(mdp, demos, 10, 0.1, seed=[0, 1])
    with pytest.raises(ValueError, match="kappa"):
        behavior_cloning(demos, 5, 3, kappa=-1.0)
    bad = Trajectories(np.array([[0, 7, 1, 2, 3]]), np.array([[0, 1, 2, 0]]), np.zeros((1, 4)))
    with pytest.raises(ValueError, match=r"states\[0, 0, 1\] = 7"):
        behavior_cloning(bad, 5, 3)
    with pytest.raises(ValueError, match="actions"):
        behavior_cloning(Trajectories(np.array([[0, 1, 1]]), np.array([[0, 1, 2]]),
                                      np.zeros((1, 3))), 5, 3)
    with pytest.raises(ValueError, match="pi_ref"):
        kl_regularized_optimum(mdp, np.ones((mdp.H, mdp.S, mdp.A)), 0.1)
    with pytest.raises(TypeError):
        kl_regularized_optimum(garnet(3, 2, 2, seed=0), np.ones((2, 3, 2)) / 2, 0.1)


# ------------------------------------------------ demonstration-regularized UCBVI-Ent+


def _lock_mdp():
    """Two steps; at the start, action 1 reaches the rewarding state 2 with probability 1/2
    (else state 1, as action 0 always does). The reference almost never plays action 1."""
    P = np.zeros((3, 2, 3))
    P[0, 0, 1] = 1.0
    P[0, 1] = [0.0, 0.5, 0.5]
    P[1, :, 1] = 1.0
    P[2, :, 2] = 1.0
    r = np.array([[0.0, 0.0], [0.3, 0.3], [1.0, 1.0]])
    ref = np.full((2, 3, 2), 0.5)
    ref[0, 0] = [1.0 - 1e-4, 1e-4]
    return EpisodicMDP(P, r, H=2, mu=[1.0, 0.0, 0.0]), ref


def _reg_gap(mdp, res, lam):
    v_star = kl_regularized_optimum(mdp, res.pi_bc, lam)[0][..., 0, :] @ mdp.mu
    ref = res.pi_bc[..., None, :, :, :]
    v = regularized_policy_value(mdp, res.policies, ref, lam)[..., 0, :] @ mdp.mu
    return v_star[..., None] - v


def test_ucbvi_ent_reproducible_and_batched():
    mdp = tilted_ladder(4, 3, 3, tilt=0.3)
    demos = rollouts(mdp, expert_policy(mdp), 100, seed=[10, 11])
    rec = [1, 40, 300]
    a = demo_regularized_ucbvi_ent(mdp, demos, 300, 0.3, seed=[1, 2], record_at=rec)
    b = demo_regularized_ucbvi_ent(mdp, demos, 300, 0.3, seed=[1, 2], record_at=rec)
    for f in ("policies", "upper", "gap_bound", "stopped_at"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    assert a.policies.shape == (2, 3, mdp.H, mdp.S, mdp.A)
    np.testing.assert_array_equal(a.pi_bc, behavior_cloning(demos, mdp.S, mdp.A))
    single = demo_regularized_ucbvi_ent(
        mdp, Trajectories(demos.states[1], demos.actions[1], demos.rewards[1]), 300, 0.3,
        seed=2, record_at=rec)
    np.testing.assert_array_equal(single.policies, a.policies[1])
    np.testing.assert_array_equal(single.gap_bound, a.gap_bound[1])
    np.testing.assert_allclose(a.policies.sum(-1), 1.0, atol=1e-12)
    c = demo_regularized_ucbvi_ent(mdp, demos, 300, 0.3, seed=[3, 2], record_at=rec)
    assert not np.array_equal(c.policies[0], a.policies[0])


def test_ucbvi_ent_optimism_and_certified_gap():
    """Upper bound >= V*_lambda, certified G >= the exact regularized gap, both shrink."""
    mdp = tilted_ladder(4, 3, 3, tilt=0.3)
    demos = rollouts(mdp, expert_policy(mdp), 200, seed=list(range(8)))
    lam = 0.3
    res = demo_regularized_ucbvi_ent(mdp, demos, 4000, lam, seed=list(range(8)),
                                     record_at=[1, 100, 4000])
    v_star = kl_regularized_optimum(mdp, res.pi_bc, lam)[0][:, 0] @ mdp.mu
    gap = _reg_gap(mdp, res, lam)
    assert np.all(gap >= -1e-12)
    assert np.all(res.upper >= v_star[:, None] - 1e-12)
    assert np.all(res.gap_bound >= gap - 1e-12)
    assert np.all(res.gap_bound[:, -1] < res.gap_bound[:, 0])


def test_ucbvi_ent_gap_decreases_and_bonus_matters():
    """On the lock, the optimistic learner escapes the reference; without bonus
    (certainty equivalence) the seeds whose first try of action 1 failed stay stuck near
    pi_BC."""
    mdp, ref = _lock_mdp()
    lam = 0.02
    kw = dict(seed=list(range(32)), pi_bc=ref, record_at=[1, 2000])
    opt = demo_regularized_ucbvi_ent(mdp, None, 2000, lam, **kw)
    ce = demo_regularized_ucbvi_ent(mdp, None, 2000, lam, bonus_scale=0.0, **kw)
    g_opt, g_ce = _reg_gap(mdp, opt, lam), _reg_gap(mdp, ce, lam)
    bc_gap = (kl_regularized_optimum(mdp, ref, lam)[0][0]
              - regularized_policy_value(mdp, ref, ref, lam)[0]) @ mdp.mu
    assert bc_gap > 0.1                              # pi_BC is far from the optimum
    assert np.all(g_opt[:, -1] < g_opt[:, 0])
    assert np.all(g_opt[:, -1] < 0.3 * bc_gap)
    assert np.mean(g_ce[:, -1] > 0.3 * bc_gap) > 0.2
    assert np.all(opt.gap_bound >= g_opt - 1e-12)


def test_ucbvi_ent_limits():
    mdp = tilted_ladder(4, 3, 3, tilt=0.3)
    demos = rollouts(mdp, expert_policy(mdp), 200, seed=[0, 1])
    # bonus 0: certainty equivalence -> the exact optimum toward pi_BC; G = 0 once every
    # pair is visited (upper and lower recursions coincide)
    ce = demo_regularized_ucbvi_ent(mdp, demos, 20000, 0.5, seed=[4, 5], bonus_scale=0.0,
                                    eps=1e-9)
    exact = kl_regularized_optimum(mdp, ce.pi_bc, 0.5)[2]
    assert np.abs(ce.policies[:, -1] - exact).max() < 0.05
    np.testing.assert_allclose(ce.gap_bound, 0.0, atol=1e-12)
    assert np.all((ce.stopped_at >= 1) & (ce.stopped_at <= 20000))
    # lambda -> infinity: the soft-greedy policy is pi_BC itself
    big = demo_regularized_ucbvi_ent(mdp, demos, 50, 1e9, seed=[4, 5])
    np.testing.assert_allclose(big.policies[:, -1], big.pi_bc, atol=1e-8)
    # the theory's bonus never certifies 1e-6 in 50 episodes
    assert np.all(demo_regularized_ucbvi_ent(mdp, demos, 50, 0.5, seed=[4, 5],
                                             eps=1e-6).stopped_at == -1)


def test_ucbvi_ent_validation_errors():
    mdp = _mdp(6)
    demos = Trajectories(np.array([[0, 1, 1, 2, 3]]), np.array([[0, 1, 2, 0]]), np.zeros((1, 4)))
    ok = dict(seed=0)
    with pytest.raises(ValueError, match="lam"):
        demo_regularized_ucbvi_ent(mdp, demos, 10, 0.0, **ok)
    with pytest.raises(ValueError, match=r"record_at\[1\] = 3"):
        demo_regularized_ucbvi_ent(mdp, demos, 10, 0.1, record_at=[5, 3], **ok)
    with pytest.raises(ValueError, match="n_episodes"):
        demo_regularized_ucbvi_ent(mdp, demos, 0, 0.1, **ok)
    with pytest.raises(ValueError, match="bonus_scale"):
        demo_regularized_ucbvi_ent(mdp, demos, 10, 0.1, bonus_scale=-1.0, **ok)
    with pytest.raises(ValueError, match="delta"):
        demo_regularized_ucbvi_ent(mdp, demos, 10, 0.1, delta=1.5, **ok)
    with pytest.raises(ValueError, match="eps"):
        demo_regularized_ucbvi_ent(mdp, demos, 10, 0.1, eps=-1.0, **ok)
    with pytest.raises(ValueError, match="seeds"):
        demo_regularized_ucbvi_ent(mdp, demos, 10, 0.1, seed=[0, 1])
    with pytest.raises(ValueError, match="exactly one"):
        demo_regularized_ucbvi_ent(mdp, demos, 10, 0.1, pi_bc=np.full((4, 5, 3), 1 / 3), **ok)
    with pytest.raises(ValueError, match="exactly one"):
        demo_regularized_ucbvi_ent(mdp, None, 10, 0.1, **ok)
    bad = np.full((4, 5, 3), 1 / 3)
    bad[2, 1] = [0.5, 0.6, -0.1]
    with pytest.raises(ValueError, match=r"pi_bc\[2, 1, 2\] = -0.1"):
        demo_regularized_ucbvi_ent(mdp, None, 10, 0.1, pi_bc=bad, **ok)
    with pytest.raises(TypeError):
        demo_regularized_ucbvi_ent(garnet(3, 2, 2, seed=0), demos, 10, 0.1, **ok)
