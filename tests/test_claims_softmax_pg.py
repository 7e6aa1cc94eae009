"""The claim dp.softmax-pg-rates passes on the library's algorithms and fails on broken ones."""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import numpy as np

from proofs_check.claims.softmax_pg import check_softmax_pg_rates
from tabular_rl.planning.policy_gradient import exact_gradient, log_softmax, npg_update


def test_quick_check_passes_and_writes_figure(tmp_path):
    rep = check_softmax_pg_rates(quick=True, seed=0, out_dir=tmp_path)
    assert rep.verdict == "pass", rep.details
    assert -1.5 < rep.measured["pg_slope_low"] <= rep.measured["pg_slope"] \
        <= rep.measured["pg_slope_high"] < -0.75
    assert rep.measured["ent_pg_min_rate_over_stated"] >= 1.0
    assert len(rep.figures) == 1 and Path(rep.figures[0]).is_file()


def _no_occupancy_weighting(state):
    """pi * A / (1-gamma): the gradient without d^pi (a preconditioned, not the true, gradient)."""
    return state.pi * state.adv / (1.0 - state.gamma)[:, None, None]


def _entropy_sign_flipped(state):
    """Soft advantage with +tau log pi instead of -tau log pi."""
    return exact_gradient(dataclasses.replace(state, adv=state.adv + 2 * state.tau * state.log_pi))


def _descent(state):
    return -exact_gradient(state)


def test_fails_without_occupancy_weighting():
    rep = check_softmax_pg_rates(quick=True, gradient=_no_occupancy_weighting,
                                 parts=("gradient",), plot=False)
    assert rep.verdict == "fail"
    assert rep.measured["gradient_error_over_tol"] > 1.0


def test_fails_with_wrong_entropy_sign():
    rep = check_softmax_pg_rates(quick=True, gradient=_entropy_sign_flipped,
                                 parts=("entropy_pg",), plot=False)
    assert rep.verdict == "fail"
    assert not rep.measured["ent_pg_min_rate_over_stated"] >= 1.0


def test_fails_for_gradient_descent():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = check_softmax_pg_rates(quick=True, gradient=_descent, parts=("pg",), plot=False)
    assert rep.verdict == "fail"


def _npg_step_too_large(mdp, log_pi, q, *, eta, tau):
    """Three times the step: beyond (1-gamma)/tau the exponent 1 - eta tau/(1-gamma) < 0."""
    return npg_update(mdp, log_pi, q, eta=3.0 * eta, tau=tau)


def _npg_entropy_sign_flipped(mdp, log_pi, q, *, eta, tau):
    alpha = eta * tau / (1.0 - mdp.gamma)
    return log_softmax((1.0 + alpha) * np.asarray(log_pi) + eta / (1.0 - mdp.gamma) * q)


def test_npg_fails_with_step_too_large():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = check_softmax_pg_rates(quick=True, npg_step=_npg_step_too_large, parts=("npg",),
                                     plot=False)
    assert rep.verdict == "fail"
    assert rep.measured["npg_cen_bound_ratio"] > 1.0


def test_npg_fails_with_wrong_entropy_sign():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = check_softmax_pg_rates(quick=True, npg_step=_npg_entropy_sign_flipped,
                                     parts=("npg",), plot=False)
    assert rep.verdict == "fail"


def test_registered():
    from proofs_check.registry import _REGISTRY

    assert "dp.softmax-pg-rates" in _REGISTRY
    assert _REGISTRY["dp.softmax-pg-rates"].kind == "rate"
