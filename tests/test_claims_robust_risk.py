"""Claim ``dp.robust-risk``: passes on the library, fails on broken pieces."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from proofs_check.claims.robust_risk import ROBUST_RISK, check_robust_risk
from tabular_rl.planning.robust import _certified_vi, _greedy_max


def test_quick_check_passes_and_writes_the_figure(tmp_path):
    report = ROBUST_RISK.run(quick=True, seed=0, out_dir=tmp_path)
    assert report.verdict == "pass", report.details
    assert report.measured["max_gradient_domination_ratio"] <= 1.0
    assert report.measured["max_pg_final_gap_over_eps"] <= 1.0
    assert report.measured["max_equivalence_over_bounds"] <= 1.0
    assert len(report.figures) == 1 and Path(report.figures[0]).is_file()
    assert report.to_dict()["claim_id"] == "dp.robust-risk"


def _plus_exponent(P_rows, v, lam):
    """-lam log E exp(+v/lam): the wrong sign inside the exponent (a soft maximum)."""
    with np.errstate(over="ignore", divide="ignore"):
        return -lam * np.log(P_rows @ np.exp(v / lam))


def _upper_risk(P_rows, v, lam):
    """lam log E exp(+v/lam): the risk-seeking (upper) entropic value."""
    m = np.where(P_rows > 0, v[None, :], -np.inf).max(axis=1)       # per row, on the support
    x = np.where(P_rows > 0, v[None, :] - m[:, None], 0.0)
    return m + lam * np.log((P_rows * np.exp(x / lam)).sum(axis=1))


@pytest.mark.parametrize("inner", [_plus_exponent, _upper_risk])
def test_identity_fails_on_a_wrong_sign(inner):
    report = check_robust_risk(quick=True, out_dir=None, inner=inner, parts=("identity",))
    assert report.verdict == "fail", report.details


def test_equivalence_fails_on_the_upper_entropic_operator():
    def broken_robust_solver(mdp, lam, tol):
        P = mdp.todense().P.reshape(mdp.S * mdp.A, mdp.S)

        def op(v):
            q = mdp.r + mdp.gamma * _upper_risk(P, v, lam).reshape(mdp.S, mdp.A)
            Tv, pi = _greedy_max(q, None)
            return Tv, pi, q

        return _certified_vi(mdp, op, None, tol, 100_000, None, False, False,
                             method="broken")

    report = check_robust_risk(quick=True, out_dir=None, robust_solver=broken_robust_solver,
                               parts=("equivalence",))
    assert report.verdict == "fail", report.details


def _nominal_gradient(mdp, pi, lam, rho=None, evaluation=None):
    """The non-robust policy gradient: occupancy and Q-function of the nominal kernel."""
    import tabular_rl as trl

    rho = mdp.mu if rho is None else rho
    d = trl.state_occupancy(mdp, pi, rho)
    q = trl.q_function(mdp, pi)
    return d[:, None] * q / (1 - mdp.gamma), float(rho @ evaluation.v), evaluation


def test_gradient_domination_fails_with_the_nominal_gradient():
    report = check_robust_risk(quick=True, out_dir=None, gradient=_nominal_gradient,
                               parts=("domination",))
    assert report.verdict == "fail", report.details
    assert report.measured["max_gradient_domination_ratio"] > 1.0


def test_pg_fails_with_the_nominal_gradient():
    report = check_robust_risk(quick=True, out_dir=None, gradient=_nominal_gradient,
                               parts=("pg",))
    assert report.verdict == "fail", report.details
    assert report.measured["max_pg_final_gap_over_eps"] > 1.0


def test_parts_are_validated():
    with pytest.raises(ValueError, match="parts"):
        check_robust_risk(quick=True, out_dir=None, parts=("nope",))
