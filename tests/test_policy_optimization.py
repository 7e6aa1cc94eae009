"""FTRL policy optimization with bandit feedback (Dann, Wei, Zimmert 2023) and the seeded
adversaries."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from _examples import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from tabular_rl import EpisodicMDP
from tabular_rl.envs import garnet
from tabular_rl.evaluation import occupancy_measure, state_occupancy
from tabular_rl.learners import episodic as E
from tabular_rl.learners.adversaries import (
    LossSequence,
    alternating_losses,
    minimax_losses,
    stochastic_losses,
)
from tabular_rl.learners.policy_optimization import (
    _log_barrier,
    _shannon,
    _tsallis,
    best_fixed_loss,
    policy_optimization,
)


def _mdp(S=2, A=2, H=2, seed=1) -> EpisodicMDP:
    g = garnet(S, A, min(2, S), seed=seed, sparse=False)
    return EpisodicMDP(g.P, np.zeros((S, A)), H=H)


@settings(max_examples=examples(25), deadline=None)
@given(st.lists(st.floats(-50, 50), min_size=2, max_size=6), st.floats(0.01, 5.0))
def test_ftrl_steps_satisfy_kkt(L, eta):
    L = np.array(L)
    p = np.empty_like(L)
    _tsallis(L, eta, p)        # L_a - (1/eta) p_a^(-1/2) is the same for every a
    assert p.sum() == pytest.approx(1.0, abs=1e-12) and np.all(p > 0)
    g = L - p ** -0.5 / eta
    assert np.ptp(g) <= 1e-7 * (1 + np.abs(L).max() + 1 / eta)
    _log_barrier(L, eta, p)    # L_a - 1/(eta p_a) is the same for every a
    assert p.sum() == pytest.approx(1.0, abs=1e-12) and np.all(p > 0)
    g = L - 1.0 / (eta * p)
    assert np.ptp(g) <= 1e-7 * (1 + np.abs(L).max() + 1 / eta)
    _shannon(L, eta, p)
    np.testing.assert_allclose(p, np.exp(-eta * (L - L.min())) / np.exp(-eta * (L - L.min()))
                               .sum(), rtol=1e-12)


def test_compiled_occupancy_matches_reference():
    rng = np.random.default_rng(2)
    S, A, H = 4, 3, 3
    mdp = EpisodicMDP(rng.dirichlet(np.ones(S), size=(H, S, A)), np.zeros((H, S, A)), H=H,
                      mu=rng.dirichlet(np.ones(S)))
    pi = rng.dirichlet(np.ones(A), size=(H, S))
    m = E.EpisodicModel.of(mdp)
    q = np.zeros((H, S))
    E.occupancy(m.indptr, m.indices, m.data, m.kern_of_h, m.mu, pi, q)
    np.testing.assert_allclose(q, state_occupancy(mdp, pi), atol=1e-14)


def test_best_fixed_loss_is_brute_force_minimum():
    mdp = _mdp(S=2, A=2, H=2)
    M = np.random.default_rng(0).random((2, 2, 2))
    best = min(float((occupancy_measure(mdp, np.array(acts).reshape(2, 2)) * M).sum())
               for acts in itertools.product(range(2), repeat=4))
    assert best_fixed_loss(mdp, M) == pytest.approx(best, abs=1e-12)


def test_adversaries_are_seeded_and_have_the_stated_means():
    seq = stochastic_losses(2, 3, 2, gap=0.4, seed=3)
    a = seq.losses(0, 4000, seed=2)
    np.testing.assert_array_equal(a, seq.losses(0, 4000, seed=2))
    assert not np.array_equal(a, seq.losses(0, 4000, seed=1))
    np.testing.assert_allclose(a.mean(axis=0), seq.means[0], atol=0.04)
    alt = alternating_losses(1, 2, 3, 400, amplitude=0.2, seed=0, bernoulli=False)
    np.testing.assert_array_equal(alt.losses(0, 2)[0], alt.means[0])
    avg = alt.means.mean(axis=0)
    gap = np.sort(avg, axis=-1)[..., 1] - np.sort(avg, axis=-1)[..., 0]
    np.testing.assert_allclose(gap, np.sqrt(3 / 400))
    mm = minimax_losses(1, 1, 2, 100, c=1.0)
    assert np.ptp(mm.means) == pytest.approx(np.sqrt(2 / 100))
    with pytest.raises(ValueError, match=r"means\[0, 0, 0, 1\] = 1.5"):
        LossSequence(np.array([[[[0.5, 1.5]]]]))


def test_batch_equals_single_runs_and_regret_is_exact_at_start():
    mdp = _mdp()
    seq = stochastic_losses(2, 2, 2, gap=0.3, seed=0)
    a = policy_optimization(mdp, seq, 300, seed=[4, 9], record_at=[1, 100, 300])
    b = policy_optimization(mdp, seq, 300, seed=9, record_at=[1, 100, 300])
    np.testing.assert_array_equal(a.regret[1], b.regret)
    # Episode 1 plays the uniform policy: its regret is known in closed form.
    pi = np.full((2, 2, 2), 0.5)
    m = seq.means[0]
    first = (occupancy_measure(mdp, pi) * m).sum() - best_fixed_loss(mdp, m)
    assert a.regret[0, 0] == pytest.approx(first, abs=1e-12)
    assert np.all(a.regret >= -1e-12)


@pytest.mark.parametrize("reg", ["tsallis", "shannon", "log_barrier"])
def test_stochastic_regret_is_sublinear(reg):
    mdp = _mdp()
    seq = stochastic_losses(2, 2, 2, gap=0.3, seed=0)
    pts = np.array([1000, 2000, 4000, 8000])
    res = policy_optimization(mdp, seq, 8000, regularizer=reg, seeds=8, seed=0, record_at=pts)
    inc = np.diff(res.regret.mean(axis=0))    # regret in [1000,2000], [2000,4000], ...
    assert inc[-1] / 4000 < 0.5 * res.regret.mean(axis=0)[0] / 1000   # slower than linear


def test_options_and_validation():
    mdp = _mdp()
    seq = stochastic_losses(2, 2, 2, gap=0.3, seed=0)
    res = policy_optimization(mdp, seq, 50, bonus_scale=0.0, learning_rate=0.1, seed=0)
    assert np.isfinite(res.final)
    with pytest.raises(ValueError, match="regularizer"):
        policy_optimization(mdp, seq, 5, regularizer="entropy")
    with pytest.raises(ValueError, match="shape"):
        policy_optimization(mdp, stochastic_losses(3, 2, 2), 5)
    with pytest.raises(ValueError, match="learning_rate"):
        policy_optimization(mdp, seq, 5, learning_rate="fast")
    with pytest.raises(ValueError, match="learning_rate"):
        policy_optimization(mdp, seq, 5, learning_rate=-1.0)
    with pytest.raises(TypeError, match="LossSequence"):
        policy_optimization(mdp, np.zeros((2, 2, 2)), 5)


# ------------------------------------------------------------- unknown transitions


def test_unknown_transitions_batch_equals_single_runs_and_is_reproducible():
    mdp = _mdp()
    seq = stochastic_losses(2, 2, 2, gap=0.3, seed=0)
    kw = dict(transitions="unknown", record_at=[1, 100, 300])
    a = policy_optimization(mdp, seq, 300, seed=[4, 9], **kw)
    b = policy_optimization(mdp, seq, 300, seed=9, **kw)
    np.testing.assert_array_equal(a.regret[1], b.regret)
    np.testing.assert_array_equal(a.regret, policy_optimization(mdp, seq, 300, seed=[4, 9],
                                                                **kw).regret)
    assert not np.array_equal(a.regret[0], a.regret[1])
    # Episode 1 plays the uniform policy whatever the learner knows.
    k = policy_optimization(mdp, seq, 300, seed=[4, 9], record_at=[1, 100, 300])
    np.testing.assert_array_equal(a.regret[:, 0], k.regret[:, 0])
    assert not np.array_equal(a.regret[:, 1:], k.regret[:, 1:])   # it does learn differently
    assert np.all(a.regret >= -1e-12)


def test_unknown_transitions_with_true_weights_and_no_transition_bonus_reduces_to_known():
    """importance="true" and beta_P = 0: the estimator is the known-transition one; the only
    difference left is the dilation, optimistic over the confidence set instead of the true
    kernel -- so with no bonus at all the two learners coincide draw for draw."""
    mdp = _mdp()
    seq = alternating_losses(2, 2, 2, 500, amplitude=0.25, seed=1)
    kw = dict(seed=[0, 1, 2], record_at=[10, 250, 500], bonus_scale=0.0)
    k = policy_optimization(mdp, seq, 500, **kw)
    u = policy_optimization(mdp, seq, 500, transitions="unknown", importance="true",
                            transition_bonus_scale=0.0, **kw)
    np.testing.assert_allclose(u.regret, k.regret, rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("reg", ["tsallis", "shannon"])
def test_unknown_transitions_stochastic_regret_is_sublinear(reg):
    mdp = _mdp()
    seq = stochastic_losses(2, 2, 2, gap=0.6, seed=0)
    pts = np.array([2000, 4000, 8000, 16000])
    res = policy_optimization(mdp, seq, 16000, regularizer=reg, seeds=4, seed=0,
                              record_at=pts, transitions="unknown", delta=0.1)
    inc = np.diff(res.regret.mean(axis=0))
    assert inc[-1] / 8000 < 0.5 * res.regret.mean(axis=0)[0] / 2000   # slower than linear


def test_unknown_transitions_validation():
    mdp = _mdp()
    seq = stochastic_losses(2, 2, 2, gap=0.3, seed=0)
    with pytest.raises(ValueError, match="transitions"):
        policy_optimization(mdp, seq, 5, transitions="learned")
    with pytest.raises(ValueError, match="importance"):
        policy_optimization(mdp, seq, 5, transitions="unknown", importance="lower")
    with pytest.raises(ValueError, match="transition_bonus_scale"):
        policy_optimization(mdp, seq, 5, transitions="unknown", transition_bonus_scale=-1.0)
    with pytest.raises(ValueError, match="delta"):
        policy_optimization(mdp, seq, 5, transitions="unknown", delta=0.0)
    res = policy_optimization(mdp, seq, 50, transitions="unknown", importance="empirical",
                              seed=0)
    assert np.isfinite(res.final)
