"""Tests of the occupancy-measure claims ``occ.chi2-vs-kl`` and
``occ.max-entropy-exploration``: each passes on its seeded instances and fails when handed a
deliberately broken ingredient."""

from __future__ import annotations

import os

import numpy as np
import pytest

from proofs_check.claims.correlated_proxies import (
    CHI2_VS_KL,
    check_chi2_vs_kl,
    correlated_proxy_bound,
)
from proofs_check.claims.max_entropy_exploration import (
    MAX_ENTROPY_EXPLORATION,
    check_max_entropy_exploration,
    trajectory_entropy_bruteforce,
    transition_entropy_reward,
)
from tabular_rl import EpisodicMDP
from tabular_rl.occupancy.convex import chi2_divergence, max_entropy_occupancy
from tabular_rl.occupancy.polytope import policy_to_occupancy
from tabular_rl.regularizers import Shannon

# ------------------------------------------------------------------------ occ.chi2-vs-kl


def test_chi2_vs_kl_passes_and_draws(tmp_path):
    rep = CHI2_VS_KL.run(quick=True, seed=0, out_dir=tmp_path)
    assert rep.verdict == "pass", rep.details
    assert rep.measured["worst_excess_over_tol"] <= 1.0
    # the equality (Cauchy-Schwarz) instances make the bound tight
    assert abs(rep.measured["tightest_relative_slack"]) <= 1e-9
    assert len(rep.figures) == 1 and os.path.getsize(rep.figures[0]) > 10_000
    assert rep.n_instances == 5


def test_chi2_vs_kl_fails_with_reverse_divergence():
    rep = check_chi2_vs_kl(True, out_dir=None, divergence=lambda d, q: chi2_divergence(q, d))
    assert rep.verdict == "fail"
    assert rep.measured["worst_excess_over_tol"] > 1.0


def test_chi2_vs_kl_fails_without_square_root():
    def no_sqrt(dP, div, r, sR, sP):
        return r * sR / sP * dP - sR * np.sqrt(1 - r * r) * div

    rep = check_chi2_vs_kl(True, out_dir=None, bound=no_sqrt)
    assert rep.verdict == "fail"


def test_correlated_proxy_bound_formula():
    # r = 1: the proxy is an affine image of the true reward, the bound is the identity
    assert correlated_proxy_bound(2.0, 5.0, 1.0, 3.0, 1.5) == pytest.approx(4.0)
    assert correlated_proxy_bound(0.0, 4.0, 0.0, 1.0, 1.0) == pytest.approx(-2.0)


# ------------------------------------------------------------ occ.max-entropy-exploration


def test_max_entropy_passes_and_draws(tmp_path):
    rep = MAX_ENTROPY_EXPLORATION.run(quick=True, seed=0, out_dir=tmp_path)
    assert rep.verdict == "pass", rep.details
    assert rep.measured["visitation_disagreement_over_tol"] <= 1.0
    assert rep.measured["trajectory_identity_over_tol"] <= 1.0
    assert rep.measured["zero_reward_discrepancy"] > 0.1   # stochastic P needs H(P) reward
    assert len(rep.figures) == 1 and os.path.getsize(rep.figures[0]) > 10_000


def test_max_entropy_fails_with_broken_oracle():
    """An oracle that always returns the uniform policy (with its own value as the bound)."""
    def bad_lmo(m, g, mu, warm):
        pi = np.full(((m.H,) if isinstance(m, EpisodicMDP) else ()) + (m.S, m.A), 1.0 / m.A)
        return pi, float(np.sum(g * policy_to_occupancy(m, pi, mu))), None

    rep = check_max_entropy_exploration(True, out_dir=None, lmo=bad_lmo, parts=("visitation",))
    assert rep.verdict == "fail"


def test_max_entropy_fails_with_broken_convex_solver():
    def weak(m, over):   # a 'solver' that returns a feasible but suboptimal occupancy
        res = max_entropy_occupancy(m, over=over)
        return type("R", (), {"objective": res.objective - 0.05, "policy": res.policy})()

    rep = check_max_entropy_exploration(True, out_dir=None, convex_solver=weak,
                                        parts=("visitation",))
    assert rep.verdict == "fail"


def test_max_entropy_fails_with_broken_soft_solver():
    from tabular_rl.planning.soft_dp import soft_backward_induction

    def wrong_temperature(mdp, reg):
        return soft_backward_induction(mdp, Shannon(0.9))

    rep = check_max_entropy_exploration(True, out_dir=None, soft_solver=wrong_temperature,
                                        parts=("trajectory",))
    assert rep.verdict == "fail"
    with pytest.raises(ValueError, match="parts"):
        check_max_entropy_exploration(True, parts=("rates",))


def test_trajectory_entropy_bruteforce_closed_form():
    # deterministic P, uniform policy, fixed s0: H = H log A exactly
    S, A, H = 2, 3, 3
    P = np.zeros((S, A, S))
    P[:, :, 1] = 1.0
    mdp = EpisodicMDP(P, np.zeros((S, A)), H, mu=[1.0, 0.0])
    assert trajectory_entropy_bruteforce(mdp, np.full((S, A), 1 / A)) == pytest.approx(
        H * np.log(A))
    assert np.all(transition_entropy_reward(mdp) == 0.0)
