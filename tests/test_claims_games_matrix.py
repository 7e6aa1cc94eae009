"""Claims games.mirror-prox-nlhf and games.regularized-self-play: pass as implemented, fail
when handed a broken algorithm."""

from __future__ import annotations

import numpy as np

from proofs_check.claims.nash_mirror_prox import check_nash_mirror_prox, kl_divergence
from proofs_check.claims.regularized_self_play import check_regularized_self_play
from tabular_rl.games.dynamics import (
    mirror_prox,
    mwu,
    optimistic_mwu,
    regularized_self_play,
)
from tabular_rl.games.preference import preference_game


def test_kl_divergence_accurate_near_zero():
    p = np.array([0.2, 0.3, 0.5])
    q = p * np.exp(np.array([1e-7, -2e-7, 0.0]))
    q /= q.sum()
    naive = np.sum(p * np.log(p / q))
    exact = kl_divergence(p, q[None, :])[0]
    d = np.log(p) - np.log(q)
    assert abs(exact - 0.5 * np.sum(p * d**2)) <= 1e-3 * exact  # second-order expansion
    assert exact > 0 and abs(naive - exact) < 1e-14


def test_nash_mirror_prox_passes(tmp_path):
    r = check_nash_mirror_prox(True, out_dir=tmp_path)
    assert r.verdict == "pass", r.details
    assert r.measured["worst_slope_over_stated"] >= 1
    assert len(r.figures) == 1 and (tmp_path / "games.mirror-prox-nlhf.png").exists()


def test_nash_mirror_prox_fails_without_beta_in_update():
    def no_beta(P, *, beta, n_iter, ref):
        return mirror_prox(preference_game(P), eta=2.0, beta=0.0, n_iter=n_iter, x0=ref, y0=ref)

    r = check_nash_mirror_prox(True, algorithm=no_beta, plot=False)
    assert r.verdict == "fail"


def test_nash_mirror_prox_fails_for_plain_mwu():
    def plain(P, *, beta, n_iter, ref):
        return mwu(preference_game(P), eta=2.0, n_iter=n_iter, x0=ref, y0=ref)

    r = check_nash_mirror_prox(True, algorithm=plain, plot=False)
    assert r.verdict == "fail"


def test_nash_mirror_prox_fails_for_slow_variant():
    # a correct method that is too slow: Nash-MP with a quarter of the step size
    def slow(P, *, beta, n_iter, ref):
        return mirror_prox(preference_game(P), eta=0.5, beta=beta, n_iter=n_iter,
                           ref_x=ref, ref_y=ref, x0=ref, y0=ref)

    r = check_nash_mirror_prox(True, algorithm=slow, plot=False)
    assert r.verdict == "fail"


def test_regularized_self_play_passes(tmp_path):
    r = check_regularized_self_play(True, out_dir=tmp_path)
    assert r.verdict == "pass", r.details
    assert len(r.figures) == 1 and (tmp_path / "games.regularized-self-play.png").exists()


def test_regularized_self_play_fails_without_regularization():
    def unregularized(M, *, tau, n_iter, x0):
        return regularized_self_play(M, tau=0.0, eta=0.1, n_iter=n_iter, x0=x0, y0=x0)

    r = check_regularized_self_play(True, regularized={"rspo_reverse_kl": unregularized},
                                    plot=False)
    assert r.verdict == "fail"
    assert "rspo_reverse_kl" in r.details


def test_regularized_self_play_fails_if_mwu_converges():
    def convergent(M, *, n_iter, x0):
        return optimistic_mwu(M, eta=1.0, n_iter=n_iter, x0=x0, y0=x0)

    r = check_regularized_self_play(True, regularized={}, mwu_algorithm=convergent, plot=False)
    assert r.verdict == "fail"
