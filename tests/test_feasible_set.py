"""Feasible reward sets: members make the expert optimal, moved ones do not; projection;
the Hausdorff distance bounds behave as a pseudo-metric."""

from __future__ import annotations

import numpy as np
import pytest
from _examples import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from tabular_rl import EpisodicMDP, FiniteMDP
from tabular_rl.irl import FeasibleRewardSet, SoftFeasibleRewardSet, hausdorff_distance
from tabular_rl.planning import backward_induction, policy_iteration
from tabular_rl.testing.strategies import episodic_mdps, finite_mdps, policies


def _gap(F, r):
    """V* - V^E under r by the exact solver, and the solver's certified slack."""
    model = F._model(r)
    v_e, _ = F.expert_values(r)
    sol = backward_induction(model) if F.episodic else policy_iteration(model)
    return sol.v - v_e, sol.error_bound + F.default_tol(r)


@st.composite
def feasible_sets(draw):
    if draw(st.booleans()):
        mdp = draw(episodic_mdps(max_states=4, max_actions=3, max_horizon=4))
        pi = draw(policies(mdp.S, mdp.A, horizon=mdp.H))
    else:
        mdp = draw(finite_mdps(max_states=4, max_actions=3,
                               gamma=st.sampled_from([0.0, 0.5, 0.9])))
        pi = draw(policies(mdp.S, mdp.A))
    return FeasibleRewardSet(mdp, pi)


@settings(max_examples=examples(20), deadline=None)
@given(feasible_sets(), st.integers(0, 2**16))
def test_members_optimal_and_moved_ones_not(F, seed):
    for r in F.sample(3, seed=seed, normalize="box"):
        assert F.contains(r)
        gap, slack = _gap(F, r)
        assert gap.max() <= slack
        if F.n_off:
            margin = 1e-3
            out, idx = F.outside(r, margin, seed=seed)
            mem = F.contains(out)
            assert not mem
            assert mem.margin == pytest.approx(margin, abs=1e-9)
            assert (mem.step, mem.state, mem.action)[(0 if F.episodic else 1):] == idx
            gap, slack = _gap(F, out)
            at = gap[idx[0], idx[1]] if F.episodic else gap[idx[0]]
            assert at >= margin - slack


@settings(max_examples=examples(20), deadline=None)
@given(feasible_sets(), st.integers(0, 2**16))
def test_projection_lands_in_set_and_is_idempotent(F, seed):
    r = np.random.default_rng(seed).uniform(-1, 1, F.shape)
    p = F.project(r)
    scale = 1e-7
    assert F.contains(p.reward, tol=scale)
    assert np.abs(p.reward).max() <= 1 + scale
    assert np.abs(p.reward - r).max() == pytest.approx(p.distance, abs=scale)
    again = F.project(p.reward)
    assert again.distance <= scale
    np.testing.assert_allclose(again.reward, p.reward, atol=2 * scale)
    assert F.distance(F.sample(1, seed=seed)[0]) <= scale


def _perturbed(F, rng, eps):
    P = np.stack(F.layers).reshape(F.L, F.S, F.A, F.S) if F.episodic else \
        F.layers[0].reshape(F.S, F.A, F.S)
    Q = np.abs(P + eps * rng.random(P.shape) * (P > 0))
    Q /= Q.sum(-1, keepdims=True)
    if F.episodic:
        return FeasibleRewardSet(EpisodicMDP(Q, np.zeros((F.S, F.A)), F.L), F.policy)
    return FeasibleRewardSet(FiniteMDP(Q, np.zeros((F.S, F.A)), F.gamma), F.policy)


@settings(max_examples=examples(10), deadline=None)
@given(feasible_sets(), st.integers(0, 2**16))
def test_distance_is_a_pseudo_metric(F, seed):
    rng = np.random.default_rng(seed)
    G, K = _perturbed(F, rng, 0.3), _perturbed(F, rng, 0.3)
    same = hausdorff_distance(F, F, starts=1, max_iter=3)
    assert same.upper == 0.0 and same.lower <= 1e-8
    ab, ba = hausdorff_distance(F, G, starts=1, max_iter=3), \
        hausdorff_distance(G, F, starts=1, max_iter=3)
    # symmetric up to the LP solver's rounding (the two orders solve the same LPs built in a
    # different order, which HiGHS need not reproduce bit for bit)
    assert (ab.lower, ab.upper) == pytest.approx((ba.lower, ba.upper), rel=1e-9, abs=1e-12)
    assert (ab.lower_12, ab.lower_21) == pytest.approx((ba.lower_21, ba.lower_12), rel=1e-9,
                                                       abs=1e-12)
    assert 0.0 <= ab.lower <= ab.upper + 1e-8
    ac = hausdorff_distance(F, K, starts=1, max_iter=3)
    bc = hausdorff_distance(G, K, starts=1, max_iter=3)
    assert ac.lower <= ab.upper + bc.upper + 1e-8
    # the witness is a bounded member whose distance to the other set is the lower bound
    W, other = (F, G) if ab.witness_side == 1 else (G, F)
    assert W.contains(ab.witness, tol=1e-7)
    assert other.distance(ab.witness) == pytest.approx(ab.lower, abs=1e-7)


def test_reward_parameterization_and_errors():
    P = np.array([[[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [1.0, 0.0]]])
    F = FeasibleRewardSet(FiniteMDP(P, np.zeros((2, 2)), 0.5), [1, 0])
    with pytest.raises(ValueError, match=r"zeta\[0, 0\] is -1"):
        F.reward([0.0, 0.0], [[-1.0, 0.0], [0.0, 0.0]])
    with pytest.raises(ValueError, match="V must have shape"):
        F.reward([0.0], np.zeros((2, 2)))
    r = F.reward([1.0, -1.0], [[0.3, 0.0], [0.0, 2.0]])
    np.testing.assert_allclose(F.advantage(r), [[-0.3, 0.0], [0.0, -2.0]], atol=1e-12)
    with pytest.raises(ValueError, match="on the expert's support"):
        F.outside(r, 0.1, index=(0, 1))


@pytest.mark.parametrize("episodic", [False, True])
def test_soft_feasible_set(episodic):
    rng = np.random.default_rng(0)
    S, A, H = 3, 2, 3
    if episodic:
        mdp = EpisodicMDP(rng.dirichlet(np.ones(S), (H, S, A)), np.zeros((S, A)), H)
        pi = rng.dirichlet(np.ones(A), (H, S))
        Phi = rng.normal(size=(H, S))
    else:
        mdp = FiniteMDP(rng.dirichlet(np.ones(S), (S, A)), np.zeros((S, A)), 0.8)
        pi = rng.dirichlet(np.ones(A), S)
        Phi = rng.normal(size=S)
    F = SoftFeasibleRewardSet(mdp, pi, tau=0.7)
    r = F.reward(Phi)
    assert F.contains(r)
    moved = r.copy()
    moved[(0,) * (r.ndim - 1) + (1,)] += 0.05
    mem = F.contains(moved)
    assert not mem and mem.margin > 1e-3
    with pytest.raises(ValueError, match="full support"):
        SoftFeasibleRewardSet(mdp, np.eye(A)[np.zeros(pi.shape[:-1], int)], tau=1.0)
