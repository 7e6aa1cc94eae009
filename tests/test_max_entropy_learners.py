"""Tests of the maximum-entropy exploration learners (EntGame, UCBVI-Ent) and the exact
entropy tools of :mod:`tabular_rl.learners.max_entropy`."""

from __future__ import annotations

import numpy as np
import pytest

from proofs_check.claims.max_entropy_exploration import (
    exact_entropy_optima,
    hard_exploration_instance,
    rates_instance,
    trajectory_entropy_bruteforce,
    trap_gap,
)
from tabular_rl import EpisodicMDP
from tabular_rl.learners.max_entropy import (
    entgame,
    trajectory_entropy,
    ucbvi_ent,
    visitation_entropy,
)
from tabular_rl.occupancy.convex import occupancy_entropy
from tabular_rl.occupancy.polytope import policy_to_occupancy


def _tiny(seed=0, H=3, time_varying=False):
    rng = np.random.default_rng(seed)
    S, A = 3, 2
    shape = (H, S, A) if time_varying else (S, A)
    P = rng.dirichlet(np.full(S, 0.7), size=shape)
    return EpisodicMDP(P, np.zeros((S, A)), H, rng.dirichlet(np.ones(S)))


@pytest.mark.parametrize("time_varying", [False, True])
def test_trajectory_entropy_matches_enumeration(time_varying):
    mdp = _tiny(1, time_varying=time_varying)
    rng = np.random.default_rng(2)
    pis = rng.dirichlet(np.full(mdp.A, 0.5), size=(4, mdp.H, mdp.S))
    batch = trajectory_entropy(mdp, pis)
    for p, b in zip(pis, batch, strict=True):
        ref = trajectory_entropy_bruteforce(mdp, p)
        assert b == pytest.approx(ref, rel=1e-12, abs=1e-12)
        assert trajectory_entropy(mdp, p) == pytest.approx(ref, rel=1e-12, abs=1e-12)


def test_visitation_entropy_matches_occupancy_entropy():
    mdp = _tiny(3)
    pi = np.random.default_rng(4).dirichlet(np.ones(mdp.A), size=(mdp.H, mdp.S))
    ref = occupancy_entropy(policy_to_occupancy(mdp, pi), over="state_action")
    assert visitation_entropy(mdp, pi) == pytest.approx(ref, rel=1e-13)
    assert visitation_entropy(mdp, np.stack([pi, pi])).shape == (2,)


def test_entgame_output_is_exact_and_reproducible():
    mdp = rates_instance(0)
    vis_opt, _ = exact_entropy_optima(mdp)
    pts = np.array([1, 10, 200])
    res = entgame(mdp, 200, record_at=pts, seed=[5, 6], optimum=vis_opt)
    assert res.entropy.shape == (2, 3) and res.occupancies.shape == (2, 3, 3, 4, 2)
    # the mixture's visitations are those of an actual policy (its Markov equivalent)
    for j in range(2):
        for i in range(3):
            occ = policy_to_occupancy(mdp, res.policies[j, i])
            np.testing.assert_allclose(occ, res.occupancies[j, i], atol=1e-12)
    np.testing.assert_allclose(res.entropy, visitation_entropy(mdp, res.policies), atol=1e-12)
    assert np.all(res.gap >= -1e-6 * vis_opt)
    # one stream per seed: the batch equals the single runs, and reruns are identical
    single = entgame(mdp, 200, record_at=pts, seed=6, optimum=vis_opt)
    np.testing.assert_array_equal(single.entropy, res.entropy[1])
    # after one episode the mixture is the first greedy policy (action 0 everywhere)
    pi0 = np.zeros((mdp.H, mdp.S, mdp.A))
    pi0[..., 0] = 1.0
    np.testing.assert_allclose(res.occupancies[0, 0], policy_to_occupancy(mdp, pi0),
                               atol=1e-14)


def test_entgame_learns_and_frozen_learner_does_not():
    mdp = rates_instance(0)
    vis_opt, _ = exact_entropy_optima(mdp)
    pts = np.array([32, 2048])
    good = entgame(mdp, 2048, record_at=pts, seeds=8, seed=0, optimum=vis_opt,
                   bonus_scale=0.1)
    assert good.gap[:, 1].mean() < 0.2 * good.gap[:, 0].mean()
    frozen = entgame(mdp, 2048, record_at=pts, seeds=2, seed=0, optimum=vis_opt,
                     learn_model=False)
    np.testing.assert_allclose(frozen.gap[:, 0], frozen.gap[:, 1])   # never improves
    assert frozen.gap.min() > 0.5


def test_ucbvi_ent_output_is_exact_and_learns():
    mdp = rates_instance(0)
    _, traj_opt = exact_entropy_optima(mdp)
    pts = np.array([16, 2048])
    res = ucbvi_ent(mdp, 2048, record_at=pts, seeds=8, seed=1, optimum=traj_opt,
                    bonus_scale=0.1)
    np.testing.assert_allclose(res.entropy, trajectory_entropy(mdp, res.policies), atol=1e-12)
    np.testing.assert_allclose(res.policies.sum(axis=-1), 1.0, atol=1e-12)
    assert np.all(res.gap >= -1e-10)
    assert res.gap[:, 1].mean() < 0.1 * res.gap[:, 0].mean()
    again = ucbvi_ent(mdp, 2048, record_at=pts, seeds=8, seed=1, optimum=traj_opt,
                      bonus_scale=0.1)
    np.testing.assert_array_equal(again.entropy, res.entropy)
    frozen = ucbvi_ent(mdp, 2048, record_at=pts, seeds=2, seed=1, optimum=traj_opt,
                       learn_model=False)
    np.testing.assert_allclose(frozen.gap[:, 0], frozen.gap[:, 1])


def test_hard_exploration_instance_and_trap_gap_closed_form():
    R, D, n, q = 16, 5, 5, 0.6
    mdp = hard_exploration_instance(R, D, n, q)
    assert (mdp.S, mdp.A, mdp.H) == (2 + D + R, 2, 1 + n)
    np.testing.assert_allclose(np.asarray(mdp.P).sum(axis=-1), 1.0, atol=1e-15)
    # Q*(gate) - Q*(decoy) = h(q) + n (q log R - log D); trap = log(1 + e^delta) (A = 2)
    delta = -q * np.log(q) - (1 - q) * np.log(1 - q) + n * (q * np.log(R) - np.log(D))
    assert delta > 0
    assert trap_gap(mdp) == pytest.approx(np.log1p(np.exp(delta)), rel=1e-12)
    with pytest.raises(ValueError, match="q must"):
        hard_exploration_instance(q=1.0)
    with pytest.raises(ValueError, match="region"):
        hard_exploration_instance(region=0)


def test_ucbvi_ent_without_bonus_is_trapped_with_bonus_escapes():
    mdp = hard_exploration_instance()
    _, opt = exact_entropy_optima(mdp)
    trap = trap_gap(mdp)
    pts = np.array([1024])
    real = ucbvi_ent(mdp, 1024, record_at=pts, seeds=8, seed=3, optimum=opt, bonus_scale=0.1)
    ce = ucbvi_ent(mdp, 1024, record_at=pts, seeds=8, seed=3, optimum=opt, bonus_scale=0.0)
    assert real.gap.max() < 0.2 * trap
    # a failed first try of the gate traps the bonus-less learner at about the trap gap
    assert np.sum(ce.gap[:, 0] > 0.5 * trap) >= 2


def test_learners_reject_bad_input():
    mdp = rates_instance(0)
    from tabular_rl import FiniteMDP

    with pytest.raises(TypeError, match="EpisodicMDP"):
        entgame(FiniteMDP(mdp.P, np.zeros((4, 2)), 0.9), 10)
    with pytest.raises(ValueError, match="delta"):
        ucbvi_ent(mdp, 10, delta=1.5)
    with pytest.raises(ValueError, match="bonus_scale"):
        entgame(mdp, 10, bonus_scale=-1.0)
    with pytest.raises(ValueError, match="record_at"):
        ucbvi_ent(mdp, 10, record_at=[5, 11])
    with pytest.raises(ValueError, match="must end in"):
        trajectory_entropy(mdp, np.full((2, 4, 2), 0.5))
