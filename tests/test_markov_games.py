"""Zero-sum Markov games: model validation, Shapley iteration vs Hoffman-Karp, soft Shapley,
best responses, exploitability, Minimax-FQI."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from _examples import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from tabular_rl.games.markov import (
    MarkovGame,
    best_response_max,
    best_response_min,
    game_exploitability,
    hoffman_karp,
    policy_pair_value,
    random_markov_game,
    shapley_iteration,
    soft_matrix_games,
    soft_shapley_iteration,
    stage_games,
)
from tabular_rl.games.matrix import solve_matrix_game
from tabular_rl.games.minimax_fqi import minimax_bellman, minimax_fqi


@st.composite
def small_games(draw):
    S = draw(st.integers(1, 5))
    A = draw(st.integers(1, 3))
    B = draw(st.integers(1, 3))
    gamma = draw(st.sampled_from([0.0, 0.3, 0.7, 0.9]))
    seed = draw(st.integers(0, 2**31 - 1))
    sparse = draw(st.booleans())
    branching = draw(st.sampled_from([None, 1, 2]))
    scale = draw(st.sampled_from([1e-3, 1.0, 100.0]))
    g = random_markov_game(S, A, B, gamma, seed=seed, sparse=sparse, branching=branching)
    return MarkovGame(g.P, g.r * scale, gamma)


# ----------------------------------------------------------------- validation


def test_validation_errors_name_index_and_value():
    P = np.full((2, 2, 3, 2), 0.5)
    r = np.zeros((2, 2, 3))
    bad = P.copy()
    bad[1, 0, 2] = [0.5, 0.4]
    with pytest.raises(ValueError, match=r"P\[1, 0, 2, :\] sums to 0.9"):
        MarkovGame(bad, r, 0.9)
    bad = P.copy()
    bad[0, 1, 1] = [1.5, -0.5]
    with pytest.raises(ValueError, match=r"P\[0, 1, 1, 1\] = -0.5 is negative"):
        MarkovGame(bad, r, 0.9)
    rb = r.copy()
    rb[1, 1, 0] = np.nan
    with pytest.raises(ValueError, match=r"r\[1, 1, 0\] is nan"):
        MarkovGame(P, rb, 0.9)
    with pytest.raises(ValueError, match="gamma"):
        MarkovGame(P, r, 1.0)
    with pytest.raises(ValueError, match="shape"):
        MarkovGame(P[:, :, :2], r, 0.9)
    Pf = sp.csr_matrix(P.reshape(12, 2))
    Pf.data[7] = 0.2                     # row 3 = (s=0, a=1, b=0)
    with pytest.raises(ValueError, match=r"P\[0, 1, 0, :\] \(CSR row 3\) sums to 0.7"):
        MarkovGame(Pf, r, 0.9)
    with pytest.raises(TypeError, match="CSR"):
        MarkovGame(sp.csc_matrix(P.reshape(12, 2)), r, 0.9)


def test_immutable_and_renormalized():
    P = np.full((1, 1, 2, 1), 1.0 + 1e-12)
    g = MarkovGame(P, np.zeros((1, 1, 2)), 0.5)
    assert np.all(g.P.sum(axis=-1) == 1.0)
    with pytest.raises(AttributeError):
        g.gamma = 0.1
    with pytest.raises(ValueError):
        g.r[0, 0, 0] = 1.0
    assert g.as_mdp.A == 2


# ------------------------------------------------------------------ Shapley


@settings(max_examples=examples(25), deadline=None)
@given(small_games())
def test_shapley_agrees_with_hoffman_karp_and_is_unexploitable(game):
    scale = max(game.r_absmax, 1e-300) / (1 - game.gamma)
    sol = shapley_iteration(game, tol=1e-9 * scale)
    hk = hoffman_karp(game, tol=1e-9 * scale)
    assert sol.converged and hk.converged
    assert np.abs(sol.v - hk.v).max() <= sol.error_bound + hk.error_bound + 1e-12 * scale
    # from a large constant start (different path, same fixed point)
    far = shapley_iteration(game, tol=1e-9 * scale, v0=np.full(game.S, 50 * scale))
    assert np.abs(sol.v - far.v).max() <= sol.error_bound + far.error_bound + 1e-12 * scale
    e = game_exploitability(game, sol.x, sol.y)
    assert e.sup >= 0.0 and np.all(e.gap >= 0)
    assert e.sup <= sol.exploitability_bound + e.error_bound + 1e-12 * scale
    # best responses bracket the value
    assert np.all(e.value_min_br <= sol.v + sol.error_bound + 1e-12 * scale)
    assert np.all(e.value_max_br >= sol.v - sol.error_bound - 1e-12 * scale)


def test_single_state_game_is_matrix_game():
    rng = np.random.default_rng(0)
    M = rng.normal(size=(4, 3))
    g = MarkovGame(np.ones((1, 4, 3, 1)), M[None], 0.6)
    sol = shapley_iteration(g, tol=1e-11)
    ref = solve_matrix_game(M)
    assert abs(sol.v[0] - ref.value / (1 - 0.6)) <= 1e-10


def test_best_response_consistency():
    g = random_markov_game(6, 3, 2, 0.8, seed=3)
    rng = np.random.default_rng(1)
    x = rng.dirichlet(np.ones(3), size=6)
    y = rng.dirichlet(np.ones(2), size=6)
    bmax, bmin = best_response_max(g, y), best_response_min(g, x)
    v_xy = policy_pair_value(g, x, y)
    assert np.all(bmax.value >= v_xy - 1e-10) and np.all(bmin.value <= v_xy + 1e-10)
    # the deterministic best responses attain the values
    v_br = policy_pair_value(g, bmax.policy, y)
    assert np.abs(v_br - bmax.value).max() <= 1e-9
    v_br = policy_pair_value(g, x, bmin.policy)
    assert np.abs(v_br - bmin.value).max() <= 1e-9
    # no deterministic deviation improves on the best response
    for a in range(3):
        dev = np.zeros((6, 3))
        dev[:, a] = 1
        assert np.all(policy_pair_value(g, dev, y) <= bmax.value + 1e-10)
    assert game_exploitability(g, x, y).sup > 1e-3


def test_stage_games_sparse_dense_agree():
    g = random_markov_game(7, 2, 3, 0.9, seed=5, branching=2, sparse=True)
    gd = MarkovGame(g.P.toarray().reshape(7, 2, 3, 7), g.r, 0.9)
    v = np.arange(7.0)
    assert np.allclose(stage_games(g, v), stage_games(gd, v), atol=1e-13)


def test_nonconvergence_warns():
    from tabular_rl.exceptions import ConvergenceError, ConvergenceWarning

    g = random_markov_game(5, 2, 2, 0.99, seed=0)
    with pytest.warns(ConvergenceWarning):
        shapley_iteration(g, tol=1e-12, max_iter=2)
    with pytest.raises(ConvergenceError):
        shapley_iteration(g, tol=1e-12, max_iter=2, strict=True)


# ------------------------------------------------------------------- soft


def test_soft_matrix_games_is_qre():
    rng = np.random.default_rng(2)
    Q = rng.normal(size=(20, 4, 3)) * 5
    for tau in (10.0, 0.3, 0.01):
        v, X, Y, h = soft_matrix_games(Q, tau)
        sx = np.exp(np.einsum("nab,nb->na", Q, Y) / tau - np.einsum("nab,nb->na", Q, Y).max(1,
                    keepdims=True) / tau)
        sx /= sx.sum(1, keepdims=True)
        assert np.abs(X - sx).max() <= 1e-10
        assert h.max() <= 1e-10 * (1 + np.abs(Q).max())
        # warm start from a nearby solution gives the same answer
        v2, X2, _, _ = soft_matrix_games(Q + 1e-3, tau, x0=X, y0=Y)
        assert np.abs(v2 - v - 1e-3).max() <= 1e-9 * (1 + np.abs(Q).max())


@settings(max_examples=examples(10), deadline=None)
@given(small_games(), st.sampled_from([1.0, 0.1, 0.01]))
def test_soft_shapley_fixed_point_is_pair_value(game, t):
    tau = t * max(game.r_absmax, 1e-3)
    scale = (game.r_absmax + tau * np.log(game.A * game.B) + 1e-300) / (1 - game.gamma)
    sol = soft_shapley_iteration(game, tau, tol=1e-10 * scale)
    vp = policy_pair_value(game, sol.x, sol.y, tau=tau)
    assert np.abs(vp - sol.v).max() <= 2 * sol.exploitability_bound + 1e-11 * scale
    e = game_exploitability(game, sol.x, sol.y)
    bound = tau * np.log(game.A * game.B) / (1 - game.gamma)
    assert e.sup <= bound + sol.exploitability_bound + e.error_bound + 1e-11 * scale


# --------------------------------------------------------------- minimax FQI


def test_minimax_fqi_exact_rate_and_sampled():
    g = random_markov_game(6, 3, 2, 0.8, seed=4)
    ref = shapley_iteration(g, tol=1e-12)
    q0 = np.random.default_rng(0).normal(size=(6, 3, 2))
    res = minimax_fqi(g, 25, q0=q0, q_star=ref.q)
    k = np.arange(26)
    assert np.all(res.q_errors <= 0.8 ** k * res.q_errors[0] + 1e-10)
    assert np.allclose(minimax_bellman(g, ref.q), ref.q, atol=1e-10)
    rs = minimax_fqi(g, 10, n_samples=20, seed=1, q_star=ref.q)
    rs2 = minimax_fqi(g, 10, n_samples=20, seed=1, q_star=ref.q)
    assert np.array_equal(rs.q, rs2.q)
    assert rs.bellman_errors.max() > 0
