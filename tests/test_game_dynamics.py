"""QRE solver, preference games and learning dynamics."""

from __future__ import annotations

import numpy as np
import pytest
from _examples import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from tabular_rl.exceptions import ConvergenceWarning
from tabular_rl.games import exploitability, solve_matrix_game
from tabular_rl.games.dynamics import (
    inpo,
    magnetic_mirror_descent,
    mirror_prox,
    mwu,
    nash_mirror_prox,
    optimistic_mwu,
    regularized_gap,
    regularized_self_play,
    regularizer,
)
from tabular_rl.games.preference import (
    check_preference_matrix,
    preference_game,
    random_preference_matrix,
    rock_paper_scissors,
    von_neumann_winner,
)
from tabular_rl.games.qre import qre_residual, solve_qre

# ----------------------------------------------------------------------------- QRE


@settings(max_examples=examples(20), deadline=None)
@given(A=st.integers(1, 6), B=st.integers(1, 6), seed=st.integers(0, 2**31 - 1),
       log_tau=st.floats(-3, 1), kl=st.booleans())
def test_qre_fixed_point_residual(A, B, seed, log_tau, kl):
    rng = np.random.default_rng(seed)
    M = rng.standard_normal((A, B))
    tx, ty = 10.0**log_tau, 10.0**log_tau * rng.uniform(0.5, 2)
    rx = rng.dirichlet(np.ones(A)) * 0.9 + 0.1 / A if kl else None
    ry = rng.dirichlet(np.ones(B)) * 0.9 + 0.1 / B if kl else None
    sol = solve_qre(M, tx, ty, ref_x=rx, ref_y=ry)
    assert sol.residual <= 1e-10
    # independent evaluation of the fixed-point equations
    lrx = np.log(np.full(A, 1 / A) if rx is None else rx)
    lry = np.log(np.full(B, 1 / B) if ry is None else ry)
    zx = lrx + M @ sol.y / tx
    zy = lry - M.T @ sol.x / ty
    bx = np.exp(zx - zx.max())
    by = np.exp(zy - zy.max())
    assert np.max(np.abs(sol.x - bx / bx.sum())) <= 1e-10
    assert np.max(np.abs(sol.y - by / by.sum())) <= 1e-10
    assert qre_residual(M, sol.x, sol.y, tx, ty, ref_x=rx, ref_y=ry) <= 1e-10


def test_qre_matches_pu_and_is_saddle():
    rng = np.random.default_rng(0)
    M = rng.standard_normal((4, 5))
    a = solve_qre(M, 0.3)
    b = solve_qre(M, 0.3, method="pu")
    np.testing.assert_allclose(a.x, b.x, atol=1e-10)
    np.testing.assert_allclose(a.y, b.y, atol=1e-10)
    # saddle point of the regularized game: the regularized gap is zero
    assert regularized_gap(M, a.x, a.y, tau=0.3) <= 1e-12


def test_qre_tends_to_nash():
    rng = np.random.default_rng(1)
    M = rng.standard_normal((6, 4))
    nash = solve_matrix_game(M)
    gaps = []
    for tau in [1.0, 1e-1, 1e-2, 1e-3, 1e-4]:
        sol = solve_qre(M, tau)
        g = exploitability(M, sol.x, sol.y)
        # entropy bound: gap <= tau (log A + log B)
        assert g <= tau * (np.log(6) + np.log(4)) + 1e-12
        assert abs(sol.value - nash.value) <= tau * (np.log(6) + np.log(4)) + 1e-12
        gaps.append(g)
    assert gaps[-1] < 1e-3


def test_qre_symmetric_game_is_symmetric():
    P = random_preference_matrix(40, seed=3)
    ref = np.random.default_rng(3).dirichlet(np.ones(40))
    sol = solve_qre(preference_game(P), 0.2, ref_x=ref, ref_y=ref)
    assert sol.residual <= 1e-12
    np.testing.assert_allclose(sol.x, sol.y, atol=1e-14)


def test_qre_warns_when_stopped_early():
    M = np.random.default_rng(2).standard_normal((5, 5))
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        solve_qre(M, 1e-3, method="pu", max_iter=10)


def test_qre_validation():
    with pytest.raises(ValueError, match="tau_x"):
        solve_qre([[1.0]], 0.0)
    with pytest.raises(ValueError, match=r"ref_x\[1\] = 0"):
        solve_qre([[1.0], [0.0]], 1.0, ref_x=[1.0, 0.0])
    with pytest.raises(ValueError, match=r"M\[0, 0\] is nan"):
        solve_qre([[np.nan]], 1.0)


# ----------------------------------------------------------------------------- preference


def test_preference_validation_names_pair():
    P = np.full((3, 3), 0.5)
    P[2, 0] = 0.7
    with pytest.raises(ValueError, match=r"P\[0, 2\] \+ P\[2, 0\] = 0.5 \+ 0.7 = 1.2"):
        check_preference_matrix(P)
    with pytest.raises(ValueError, match=r"P\[0, 1\] = 1.5 is not a probability"):
        check_preference_matrix([[0.5, 1.5], [-0.5, 0.5]])
    with pytest.raises(ValueError, match="square"):
        check_preference_matrix(np.full((2, 3), 0.5))


@settings(max_examples=examples(20), deadline=None)
@given(A=st.integers(1, 8), seed=st.integers(0, 2**31 - 1),
       kind=st.sampled_from(["uniform", "bradley_terry"]))
def test_von_neumann_winner(A, seed, kind):
    P = random_preference_matrix(A, seed=seed, kind=kind)
    M = preference_game(P)
    np.testing.assert_array_equal(M, -M.T)
    pi = von_neumann_winner(P)
    # beats or ties every pure (hence every mixed) opponent
    assert np.min(pi @ P) >= 0.5 - 1e-9
    if kind == "bradley_terry":  # transitive: the Condorcet winner, the top-rated action
        assert pi.max() >= 1 - 1e-9


# ----------------------------------------------------------------------------- dynamics

RPS = rock_paper_scissors(0.5) - 0.5


def test_shapes_batches_and_simplex():
    rng = np.random.default_rng(0)
    Ms = rng.standard_normal((3, 4, 5))
    for fn, kw in [(mwu, {}), (optimistic_mwu, {}), (mirror_prox, {"beta": 0.1}),
                   (magnetic_mirror_descent, {"alpha": 0.1}),
                   (regularized_self_play, {"tau": 0.1}), (inpo, {"tau": 0.1})]:
        X, Y = fn(Ms, eta=0.1, n_iter=7, **kw)
        assert X.shape == (8, 3, 4) and Y.shape == (8, 3, 5)
        np.testing.assert_allclose(X.sum(-1), 1.0, atol=1e-12)
        assert np.all(X > 0) and np.all(Y > 0)
        # batch = each game alone
        X1, Y1 = fn(Ms[1], eta=0.1, n_iter=7, **kw)
        np.testing.assert_allclose(X[:, 1], X1, atol=1e-14)
        np.testing.assert_allclose(Y[:, 1], Y1, atol=1e-14)


def test_mwu_matches_explicit_product_form():
    M = np.random.default_rng(1).standard_normal((3, 2))
    X, Y = mwu(M, eta=0.3, n_iter=20)
    # x_T proportional to exp(eta * sum_{t<T} M y_t)
    w = np.exp(0.3 * M @ Y[:-1].sum(0))
    np.testing.assert_allclose(X[-1], w / w.sum(), atol=1e-12)


def test_self_play_symmetry():
    P = random_preference_matrix(6, seed=2)
    X, Y = nash_mirror_prox(P, beta=0.2, n_iter=30)
    np.testing.assert_allclose(X, Y, atol=1e-14)


def test_inpo_equals_rspo_reverse_kl():
    M = preference_game(random_preference_matrix(5, seed=3))
    ref = np.random.default_rng(3).dirichlet(np.ones(5))
    a = inpo(M, tau=0.3, eta=0.2, n_iter=50, ref_x=ref, ref_y=ref)
    b = regularized_self_play(M, tau=0.3, eta=0.2, n_iter=50, ref_x=ref, ref_y=ref)
    np.testing.assert_allclose(a[0], b[0], atol=1e-12)


@pytest.mark.parametrize("beta", [0.05, 0.5])
def test_nash_mp_converges_to_qre(beta):
    P = random_preference_matrix(20, seed=4)
    sol = solve_qre(preference_game(P), beta)
    X, _ = nash_mirror_prox(P, beta=beta, n_iter=int(40 / np.log1p(2 * beta)))
    assert np.max(np.abs(X[-1] - sol.x)) <= 1e-10


def test_mmd_converges_to_qre():
    M = np.random.default_rng(5).standard_normal((4, 3)) * 0.5
    sol = solve_qre(M, 0.5)
    X, Y = magnetic_mirror_descent(M, eta=0.5, alpha=0.5, n_iter=400)
    assert np.max(np.abs(X[-1] - sol.x)) <= 1e-10
    assert np.max(np.abs(Y[-1] - sol.y)) <= 1e-10


@pytest.mark.parametrize("divergence", ["reverse_kl", "forward_kl", "mixed"])
def test_rspo_fixed_point_is_regularized_equilibrium(divergence):
    M = preference_game(random_preference_matrix(6, seed=6))
    X, Y = regularized_self_play(M, tau=0.2, eta=0.2, n_iter=1500, divergence=divergence)
    g = regularized_gap(M, X[[0, -1]], Y[[0, -1]], tau=0.2, divergence=divergence)
    assert g[0] > 1e-3
    assert g[1] <= 1e-11
    # first-order condition of the row player's regularized best response
    R = regularizer(divergence, 0.2, np.full(6, 1 / 6))
    np.testing.assert_allclose(R.greedy(M @ Y[-1]), X[-1], atol=1e-9)


def test_mwu_cycles_optimistic_converges():
    x0 = np.array([0.5, 0.3, 0.2])
    X, Y = mwu(RPS, eta=0.1, n_iter=1000, x0=x0, y0=x0)
    # Bailey & Piliouras 2018: KL from the (uniform) equilibrium increases at every step
    kl = -np.log(3) * 2 - np.log(X).mean(-1) - np.log(Y).mean(-1)
    assert np.all(np.diff(kl) > 0)
    e = regularized_gap(RPS, X, Y, tau=0.0)
    assert e[-100:].min() > 0.01
    Xo, Yo = optimistic_mwu(RPS, eta=1.0, n_iter=1000, x0=x0, y0=x0)
    eo = regularized_gap(RPS, Xo, Yo, tau=0.0)
    assert eo[-1] < 1e-12
    # regularized_gap(tau=0) is the exploitability
    assert eo[3] == pytest.approx(exploitability(RPS, Xo[3], Yo[3]), abs=1e-15)


def test_dynamics_validation():
    with pytest.raises(ValueError, match=r"x0\[1\] = 0"):
        mwu(RPS, eta=0.1, n_iter=3, x0=[1.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="eta"):
        mwu(RPS, eta=-1.0, n_iter=3)
    with pytest.raises(ValueError, match=r"M\[1, 1\] is inf"):
        mwu([[0.0, 1.0], [1.0, np.inf]], eta=0.1, n_iter=3)
    with pytest.raises(ValueError, match="divergence"):
        regularized_self_play(RPS, tau=0.1, eta=0.1, n_iter=3, divergence="hellinger")
    with pytest.raises(ValueError, match="eta \\* tau"):
        inpo(RPS, tau=2.0, eta=1.0, n_iter=3)
