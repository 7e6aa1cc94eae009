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
    # (iii) rates: both slopes measured, both figures drawn
    assert rep.measured["visitation_gap_slope_low"] <= rep.measured["visitation_gap_slope"]
    assert rep.measured["negative_gaps"] == 0
    assert len(rep.figures) == 2 and all(os.path.getsize(f) > 10_000 for f in rep.figures)


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
        check_max_entropy_exploration(True, parts=("bogus",))


def test_trajectory_entropy_bruteforce_closed_form():
    # deterministic P, uniform policy, fixed s0: H = H log A exactly
    S, A, H = 2, 3, 3
    P = np.zeros((S, A, S))
    P[:, :, 1] = 1.0
    mdp = EpisodicMDP(P, np.zeros((S, A)), H, mu=[1.0, 0.0])
    assert trajectory_entropy_bruteforce(mdp, np.full((S, A), 1 / A)) == pytest.approx(
        H * np.log(A))
    assert np.all(transition_entropy_reward(mdp) == 0.0)


# ------------------------------------------------- occ.max-entropy-exploration, (iii) rates

_SMALL = {"T_grid": [64, 128, 256, 512, 1024, 2048, 4096], "seeds": 32, "n_boot": 500}


def test_max_entropy_rates_fail_with_frozen_learners():
    """Learners that never update their model: the gap stalls, both slopes ~ 0."""
    import functools

    from tabular_rl.learners.max_entropy import entgame, ucbvi_ent

    frozen = {"visitation": functools.partial(entgame, learn_model=False),
              "trajectory": functools.partial(ucbvi_ent, learn_model=False)}
    rep = check_max_entropy_exploration(True, out_dir=None, parts=("rates",), learner=frozen,
                                        rates_options=_SMALL)
    assert rep.verdict == "fail"
    assert rep.measured["visitation_gap_slope_low"] > -0.3
    assert rep.measured["trajectory_gap_slope_low"] > -0.6


def test_max_entropy_rates_fail_with_deterministic_trajectory_learner():
    """UCBVI-Ent returning the argmax of its soft policy: the trajectory gap cannot vanish."""
    from tabular_rl.learners.max_entropy import trajectory_entropy, ucbvi_ent

    def greedy(mdp, n, *, record_at, seed):
        res = ucbvi_ent(mdp, n, record_at=record_at, seed=seed, bonus_scale=0.1)
        det = np.zeros_like(res.policies)
        np.put_along_axis(det, res.policies.argmax(-1)[..., None], 1.0, axis=-1)
        return type("R", (), {"entropy": trajectory_entropy(mdp, det)})()

    from proofs_check.claims.max_entropy_exploration import check_max_entropy_rates

    rep = check_max_entropy_rates(True, out_dir=None, learner={"trajectory": greedy}, **_SMALL)
    assert rep.verdict == "fail"
    assert "FAIL" in rep.details and rep.measured["trajectory_gap_slope"] > -0.3


def test_max_entropy_rates_pass_and_write_sweep(tmp_path):
    from proofs_check.claims.max_entropy_exploration import check_max_entropy_rates

    rep = check_max_entropy_rates(True, out_dir=tmp_path, figure=False, **_SMALL)
    assert rep.verdict == "pass", rep.details
    assert list((tmp_path / "_sweeps").glob("*.npz"))
    again = check_max_entropy_rates(True, out_dir=tmp_path, figure=False, **_SMALL)
    assert again.measured == rep.measured     # resumed from the stored sweep


def test_max_entropy_rates_fail_without_bonus():
    """Certainty equivalence (bonus_scale=0): on rates_instance it converges as well as the
    real learners, but on hard_exploration_instance UCBVI-Ent without bonus is trapped
    behind the decoy after a failed first try of the gate, its gap stalls and the check
    fails."""
    import functools

    from proofs_check.claims.max_entropy_exploration import _log_allowance
    from tabular_rl.learners.max_entropy import entgame, ucbvi_ent

    no_bonus = {"visitation": functools.partial(entgame, bonus_scale=0.0),
                "trajectory": functools.partial(ucbvi_ent, bonus_scale=0.0)}
    rep = check_max_entropy_exploration(True, out_dir=None, parts=("rates",),
                                        learner=no_bonus, rates_options=_SMALL)
    assert rep.verdict == "fail"
    T_hard = 2.0 ** np.arange(5, 12)           # the quick default of the hard part
    assert rep.measured["exploration_gap_slope_low"] > -1.0 + _log_allowance(T_hard, 3.0)
    # the mean gap at T_max stays a sizable fraction of the trap level, with its interval
    assert rep.measured["exploration_gap_at_T_max_low"] > 0.25 * rep.measured[
        "exploration_trap_gap"]


def test_max_entropy_rates_real_learners_escape_the_trap():
    from proofs_check.claims.max_entropy_exploration import check_max_entropy_rates

    rep = check_max_entropy_rates(True, seed=1, out_dir=None, figure=False, **_SMALL)
    assert rep.verdict == "pass", rep.details
    assert rep.measured["exploration_gap_at_T_max_high"] < 0.1 * rep.measured[
        "exploration_trap_gap"]
