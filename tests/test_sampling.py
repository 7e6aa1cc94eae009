"""Generative-model sampler and rollouts: distributions, reproducibility, equivalences."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import tabular_rl as trl
from tabular_rl.envs import garnet, random_dense_mdp
from tabular_rl.sampling import (
    GenerativeSampler,
    Trajectories,
    rollouts,
    sample_counts,
    sample_next_states,
)


@pytest.fixture
def small_garnet():
    return garnet(6, 3, 3, gamma=0.5, seed=0)


def _with_explicit_zeros(mdp: trl.FiniteMDP) -> trl.FiniteMDP:
    """The same model as a CSR that stores every entry of ``P``, zeros included (so rows
    end with, and interleave, explicit zeros)."""
    dense = np.asarray(mdp.todense().P_flat)
    n_rows, S = dense.shape
    P = sp.csr_matrix((dense.reshape(-1), np.tile(np.arange(S), n_rows),
                       np.arange(n_rows + 1) * S), shape=(n_rows, S))
    out = trl.FiniteMDP(P, mdp.r, mdp.gamma, mdp.mu)
    assert out.P.nnz == n_rows * S
    return out


# --- distribution ---------------------------------------------------------------------

@pytest.mark.parametrize("S", [4, 50])  # 50 > LINEAR_MAX: rows are bisected
def test_frequencies_converge_to_P(S):
    mdp = random_dense_mdp(S, 2, seed=1)
    n = 200_000
    sampler = GenerativeSampler(mdp)
    P_hat = sampler.empirical_kernel(sample_counts(sampler, n, seed=3), n).toarray()
    P = np.asarray(mdp.P_flat)
    # N(s,a,s') ~ Binomial(n, P): standard error sqrt(P(1-P)/n); 5 SE per entry.
    se = np.sqrt(P * (1 - P) / n)
    assert np.all(np.abs(P_hat - P) <= 5 * se + 1e-12)
    np.testing.assert_allclose(P_hat.sum(axis=1), 1.0, rtol=0, atol=1e-12)


def test_counts_are_histogram_of_next_states(small_garnet):
    sampler = GenerativeSampler(small_garnet)
    x = sampler.next_states(500, seed=7).reshape(500, -1)
    c = sampler.counts(500, seed=7)
    expect = np.empty_like(c)
    for i in range(x.shape[1]):
        lo, hi = sampler.indptr[i], sampler.indptr[i + 1]
        expect[lo:hi] = (x[:, i, None] == sampler.indices[lo:hi]).sum(axis=0)
    np.testing.assert_array_equal(c, expect)


def test_samples_stay_in_support(small_garnet):
    x = sample_next_states(small_garnet, 200, seed=0)
    P = small_garnet.todense().P
    s, a = np.meshgrid(np.arange(6), np.arange(3), indexing="ij")
    assert x.dtype == np.int32 and x.shape == (200, 6, 3)
    assert np.all(P[s[None], a[None], x] > 0)


# --- reproducibility ------------------------------------------------------------------

def test_same_seed_same_draws_different_seed_different(small_garnet):
    a = sample_next_states(small_garnet, 100, seed=11)
    np.testing.assert_array_equal(a, sample_next_states(small_garnet, 100, seed=11))
    assert not np.array_equal(a, sample_next_states(small_garnet, 100, seed=12))


def test_batch_of_seeds_matches_single_calls(small_garnet):
    batch = sample_next_states(small_garnet, 50, seed=[4, 5, 6])
    assert batch.shape == (3, 50, 6, 3)
    for j, s in enumerate([4, 5, 6]):
        np.testing.assert_array_equal(batch[j], sample_next_states(small_garnet, 50, seed=s))
    spawned = sample_counts(small_garnet, 50, seed=9, seeds=4)
    children = np.random.SeedSequence(9).spawn(4)
    assert spawned.shape == (4, small_garnet.P.nnz)
    for j, child in enumerate(children):
        np.testing.assert_array_equal(spawned[j], sample_counts(small_garnet, 50, seed=child))
    assert len({tuple(row) for row in spawned}) == 4


def test_parallel_equals_serial():
    mdp = garnet(300, 3, 5, seed=2)
    for fn in (sample_next_states, sample_counts):
        par = fn(mdp, 40, seed=[1, 2], parallel=True)
        np.testing.assert_array_equal(par, fn(mdp, 40, seed=[1, 2], parallel=False))
    pi = np.full((300, 3), 1 / 3)
    par = rollouts(mdp, pi, 64, 10, seeds=2, seed=0, parallel=True)
    ser = rollouts(mdp, pi, 64, 10, seeds=2, seed=0, parallel=False)
    for f in ("states", "actions", "rewards"):
        np.testing.assert_array_equal(getattr(par, f), getattr(ser, f))


@pytest.mark.parametrize("S", [5, 40])
def test_dense_and_csr_give_same_samples(S):
    dense = random_dense_mdp(S, 2, seed=4, concentration=0.3)
    P = np.array(dense.P)
    P[P < 0.05] = 0.0  # true zeros, so the CSR of nonzeros is shorter than S per row
    dense = trl.FiniteMDP(P / P.sum(-1, keepdims=True), dense.r, dense.gamma)
    for csr in (dense.tosparse(), _with_explicit_zeros(dense)):
        np.testing.assert_array_equal(sample_next_states(dense, 300, seed=8),
                                      sample_next_states(csr, 300, seed=8))
        pi = np.full((S, 2), 0.5)
        np.testing.assert_array_equal(rollouts(dense, pi, 20, 5, seed=1).states,
                                      rollouts(csr, pi, 20, 5, seed=1).states)


def test_explicit_zeros_never_sampled():
    mdp = _with_explicit_zeros(garnet(8, 2, 2, seed=5))
    c = sample_counts(mdp, 2000, seed=0)
    assert c[mdp.P.data == 0].sum() == 0
    assert np.all(c.reshape(16, 8).sum(axis=1) == 2000)


# --- rollouts -------------------------------------------------------------------------

def test_rollouts_discounted_occupancy():
    mdp = garnet(5, 2, 3, gamma=0.5, seed=3)
    pi = np.random.default_rng(0).dirichlet(np.ones(2), size=5)
    n, T = 100_000, 40
    tr = rollouts(mdp, pi, n, T, seed=2)
    assert isinstance(tr, Trajectories)
    assert tr.states.shape == (n, T + 1) and tr.actions.shape == tr.rewards.shape == (n, T)
    np.testing.assert_array_equal(tr.rewards, mdp.r[tr.states[:, :-1], tr.actions])
    # d(s) = sum_t (1-g) g^t P(s_t = s): the per-episode weighted indicator lies in [0, 1],
    # so its standard error is at most 0.5/sqrt(n); the tail beyond T is g^(T+1).
    w = (1 - mdp.gamma) * mdp.gamma ** np.arange(T + 1)
    d_hat = np.array([(w * (tr.states == s)).sum(axis=1).mean() for s in range(mdp.S)])
    d = trl.state_occupancy(mdp, pi)
    assert np.abs(d_hat - d).max() <= 5 * 0.5 / np.sqrt(n) + mdp.gamma ** (T + 1)
    # state-action frequencies at t = 0 follow mu * pi
    sa = np.zeros((5, 2))
    np.add.at(sa, (tr.states[:, 0], tr.actions[:, 0]), 1.0 / n)
    assert np.abs(sa - mdp.mu[:, None] * pi).max() <= 5 * 0.5 / np.sqrt(n)


def test_rollouts_episodic_time_varying():
    H, S, A = 4, 5, 3
    rng = np.random.default_rng(1)
    P = rng.dirichlet(np.ones(S), size=(H, S, A))
    P[1, :, :, :] = 0.0
    P[1, :, :, 2] = 1.0  # step 1 always moves to state 2
    r = rng.uniform(size=(H, S, A))
    mdp = trl.EpisodicMDP(P, r, H, mu=rng.dirichlet(np.ones(S)))
    pi = rng.dirichlet(np.ones(A), size=(H, S))
    n = 100_000
    tr = rollouts(mdp, pi, n, seed=5)
    assert tr.states.shape == (n, H + 1)
    assert np.all(tr.states[:, 2] == 2)
    np.testing.assert_array_equal(tr.rewards, r[np.arange(H), tr.states[:, :H], tr.actions])
    freq = np.stack([np.bincount(tr.states[:, h], minlength=S) / n for h in range(H)])
    d = trl.state_occupancy(mdp, pi)  # (H, S)
    d = np.clip(d, 0.0, 1.0)  # rounding may leave 1 + 1e-16
    se = np.sqrt(d * (1 - d) / n)
    assert np.all(np.abs(freq - d) <= 5 * se + 1e-12)
    occ = np.clip(trl.occupancy_measure(mdp, pi), 0.0, 1.0)  # (H, S, A)
    sa = np.zeros((H, S, A))
    np.add.at(sa, (np.arange(H), tr.states[:, :H], tr.actions), 1.0 / n)
    assert np.all(np.abs(sa - occ) <= 5 * np.sqrt(occ * (1 - occ) / n) + 1e-12)


def test_rollouts_deterministic_policy_and_batch(small_garnet):
    actions = np.array([0, 1, 2, 0, 1, 2])
    tr = rollouts(small_garnet, actions, 30, 6, seed=[1, 2])
    assert tr.states.shape == (2, 30, 7)
    np.testing.assert_array_equal(tr.actions, actions[tr.states[..., :-1]])
    single = rollouts(small_garnet, actions, 30, 6, seed=2)
    np.testing.assert_array_equal(tr.states[1], single.states)
    np.testing.assert_allclose(single.returns, single.rewards.sum(axis=1))


# --- validation -----------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, exc, match", [
    ({"n": 0}, ValueError, "n must be >= 1"),
    ({"n": 2.5}, TypeError, "n must be an integer"),
    ({"n": 2, "seeds": 0}, ValueError, "seeds must be >= 1"),
    ({"n": 2, "seeds": [1, 2]}, TypeError, "seeds must be an int"),
    ({"n": 2, "seed": [1, 2], "seeds": 2}, ValueError, "not both"),
    ({"n": 2, "seed": []}, ValueError, "at least one seed"),
    ({"n": 2, "seed": -1}, ValueError, "non-negative"),
    ({"n": 2, "seed": "a"}, TypeError, "seed must be None"),
])
def test_sampler_bad_args(small_garnet, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        sample_next_states(small_garnet, **kwargs)


def test_bad_models_and_counts(small_garnet):
    ep = trl.EpisodicMDP(small_garnet.P, small_garnet.r, 3)
    with pytest.raises(TypeError, match="needs a FiniteMDP, got EpisodicMDP"):
        GenerativeSampler(ep)
    with pytest.raises(TypeError, match="FiniteMDP or a GenerativeSampler"):
        sample_counts(np.eye(2), 3)
    with pytest.raises(ValueError, match=r"counts must have shape \(54,\)"):
        GenerativeSampler(small_garnet).empirical_kernel(np.zeros(5), 3)


def test_rollouts_bad_args(small_garnet):
    pi = np.full((6, 3), 1 / 3)
    with pytest.raises(ValueError, match="horizon .* is required"):
        rollouts(small_garnet, pi, 3)
    with pytest.raises(ValueError, match="horizon must be >= 1"):
        rollouts(small_garnet, pi, 3, 0)
    with pytest.raises(ValueError, match="n_episodes must be >= 1"):
        rollouts(small_garnet, pi, 0, 3)
    with pytest.raises(ValueError, match=r"policy must have shape \(6, 3\)"):
        rollouts(small_garnet, pi[:5], 3, 3)
    with pytest.raises(ValueError, match="policy.*sums to"):
        rollouts(small_garnet, pi * 2, 3, 3)
    with pytest.raises(ValueError, match="not an action"):
        rollouts(small_garnet, np.full(6, 3), 3, 3)
    with pytest.raises(ValueError, match="mu must have shape"):
        rollouts(small_garnet, pi, 3, 3, mu=[1.0])
    ep = trl.EpisodicMDP(small_garnet.P, small_garnet.r, 3)
    with pytest.raises(ValueError, match="must equal the EpisodicMDP's H=3"):
        rollouts(ep, pi, 3, 4)
    with pytest.raises(TypeError, match="FiniteMDP or an EpisodicMDP"):
        rollouts("mdp", pi, 3, 3)


def test_rollouts_episodic_dense_equals_csr_list():
    H, S, A = 3, 4, 2
    rng = np.random.default_rng(3)
    P = rng.dirichlet(np.full(S, 0.3), size=(H, S, A))
    P[P < 0.05] = 0.0
    P /= P.sum(-1, keepdims=True)
    dense = trl.EpisodicMDP(P, np.ones((S, A)), H)
    csr = trl.EpisodicMDP([sp.csr_matrix(P[h].reshape(S * A, S)) for h in range(H)],
                          np.ones((S, A)), H)
    pi = np.full((S, A), 0.5)
    a = rollouts(dense, pi, 200, seed=4)
    b = rollouts(csr, pi, 200, H, seed=4)
    np.testing.assert_array_equal(a.states, b.states)
    np.testing.assert_array_equal(a.actions, b.actions)
