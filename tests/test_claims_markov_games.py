"""games.qre and games.minimax-fqi pass, and fail on deliberately broken solvers."""

from __future__ import annotations

import numpy as np

from proofs_check.claims.minimax_fqi import check_minimax_fqi
from proofs_check.claims.qarl import check_qre
from tabular_rl.games.markov import GameSolution, soft_matrix_games, stage_games
from tabular_rl.games.minimax_fqi import minimax_fqi


def test_qre_passes(tmp_path):
    r = check_qre(True, out_dir=str(tmp_path))
    assert r.verdict == "pass", r.details
    assert r.figures and (tmp_path / "games.qre_exploitability.png").exists()


def _entropy(p):
    return -(p * np.log(np.maximum(p, 1e-300))).sum(axis=-1)


def test_qre_fails_with_wrong_entropy_sign():
    """Soft Shapley whose backup adds the min player's entropy instead of subtracting it."""

    def broken(game, tau, *, tol):
        v = np.zeros(game.S)
        X = Y = None
        for _ in range(150):
            Q = stage_games(game, v)
            val, X, Y, _ = soft_matrix_games(Q, tau, x0=X, y0=Y)
            v_new = val + 2 * tau * _entropy(Y)          # -tau H(y) became +tau H(y)
            done = np.abs(v_new - v).max() <= tol
            v = v_new
            if done:
                break
        return GameSolution(v=v, q=stage_games(game, v), x=X, y=Y, converged=True,
                            iterations=150, residual=0.0, error_bound=tol,
                            exploitability_bound=tol, method="broken", message="", tau=tau)

    r = check_qre(True, out_dir=None, solver=broken)
    assert r.verdict == "fail", r.details
    assert r.measured["pair_value_gap_over_tol"] > 1.0


def test_minimax_fqi_passes(tmp_path):
    r = check_minimax_fqi(True, out_dir=str(tmp_path))
    assert r.verdict == "pass", r.details
    assert (tmp_path / "games.minimax-fqi_rate.png").exists()


def test_minimax_fqi_fails_with_max_max():
    def maxmax(Qs):
        S, A, B = Qs.shape
        flat = Qs.reshape(S, A * B)
        k = flat.argmax(axis=1)
        return flat.max(axis=1), np.eye(A)[k // B], np.eye(B)[k % B]

    def broken(game, n_iter, **kw):
        return minimax_fqi(game, n_iter, stage_solver=maxmax, **kw)

    r = check_minimax_fqi(True, out_dir=None, fqi=broken)
    assert r.verdict == "fail", r.details
    assert r.measured["geometric_bound_ratio"] > 1.0
