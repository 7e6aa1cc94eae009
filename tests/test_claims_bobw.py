"""Claim learn.best-of-both-worlds: passes for Tsallis FTRL policy optimization (known and
unknown transitions), fails for broken learners (a constant, horizon-tuned learning rate;
follow-the-leader; follow-the-leader with unknown transitions)."""

from __future__ import annotations

import numpy as np
import pytest

from proofs_check.claims.best_of_both_worlds import check_best_of_both_worlds
from tabular_rl.learners.policy_optimization import policy_optimization

SMALL = {"T_grid": 2 ** np.arange(10, 16), "T_grid_adversarial": 2 ** np.arange(8, 13),
         "seeds": 16, "n_boot": 300, "seeds_unknown": 4}


def _constant_rate(mdp, losses, n_episodes, *, seed, record_at):
    """The adversarial textbook tuning eta = 1/(H sqrt(T)), fixed over the run: sqrt(T)
    regret in both regimes (no adaptation to stochastic losses)."""
    return policy_optimization(mdp, losses, n_episodes, learning_rate=1.0 / (mdp.H * np.sqrt(
        n_episodes)), seed=seed, record_at=record_at)


def _follow_the_leader(mdp, losses, n_episodes, *, seed, record_at):
    """Exponential weights with a huge constant rate and no bonus: (nearly)
    follow-the-leader on the estimates, which the alternating adversary defeats."""
    return policy_optimization(mdp, losses, n_episodes, regularizer="shannon",
                               learning_rate=50.0, bonus_scale=0.0, seed=seed,
                               record_at=record_at)


def _follow_the_leader_unknown(mdp, losses, n_episodes, *, seed, record_at):
    """Unknown transitions, near follow-the-leader: no bonus of either kind."""
    return policy_optimization(mdp, losses, n_episodes, regularizer="shannon",
                               learning_rate=50.0, bonus_scale=0.0,
                               transition_bonus_scale=0.0, seed=seed, record_at=record_at,
                               transitions="unknown")


def test_passes_for_tsallis_policy_optimization(tmp_path):
    rep = check_best_of_both_worlds(quick=True, out_dir=str(tmp_path), figure=True, **SMALL)
    assert rep.verdict == "pass", rep.details
    assert rep.measured["adversarial_T_slope_high"] > rep.measured["stochastic_T_slope_high"]
    assert rep.measured["unknown_stochastic_T_slope_high"] < 0.5, rep.details
    assert rep.measured["unknown_adversarial_T_slope_low"] <= 0.5, rep.details
    assert len(rep.figures) == 1


@pytest.mark.parametrize("broken, failing", [
    (_constant_rate, "stochastic_T_slope"),
    (_follow_the_leader, "adversarial_T_slope"),
])
def test_fails_for_broken_learner(tmp_path, broken, failing):
    rep = check_best_of_both_worlds(quick=True, out_dir=str(tmp_path), learner=broken,
                                    figure=False, unknown=False, **SMALL)
    assert rep.verdict == "fail", rep.details
    if failing == "stochastic_T_slope":
        assert rep.measured["stochastic_T_slope_high"] >= 0.5, rep.details
    else:
        assert rep.measured["adversarial_T_slope_low"] > 0.5, rep.details


def test_fails_for_broken_unknown_transition_learner(tmp_path):
    """The known-transition part is the correct learner (and passes); the verdict fails
    through the unknown-transition checks alone: follow-the-leader has linear regret in both
    regimes. (A constant, horizon-tuned rate does not fail them: see the claim module's
    "Limits of checks 4-5".)"""
    rep = check_best_of_both_worlds(quick=True, out_dir=str(tmp_path),
                                    learner_unknown=_follow_the_leader_unknown, figure=False,
                                    **SMALL)
    assert rep.verdict == "fail", rep.details
    assert rep.measured["stochastic_T_slope_high"] < 0.5, rep.details
    assert rep.measured["adversarial_T_slope_low"] <= 0.5, rep.details
    assert rep.measured["unknown_adversarial_T_slope_low"] > 0.5, rep.details
    assert rep.measured["unknown_stochastic_T_slope_high"] >= 0.5, rep.details
