"""Claim learn.best-of-both-worlds: passes for Tsallis FTRL policy optimization, fails for
broken learners (a constant, horizon-tuned learning rate; follow-the-leader)."""

from __future__ import annotations

import numpy as np
import pytest

from proofs_check.claims.best_of_both_worlds import check_best_of_both_worlds
from tabular_rl.learners.policy_optimization import policy_optimization

SMALL = {"T_grid": 2 ** np.arange(10, 16), "T_grid_adversarial": 2 ** np.arange(8, 13),
         "seeds": 16, "n_boot": 300}


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


def test_passes_for_tsallis_policy_optimization(tmp_path):
    rep = check_best_of_both_worlds(quick=True, out_dir=str(tmp_path), figure=True, **SMALL)
    assert rep.verdict == "pass", rep.details
    assert rep.measured["adversarial_T_slope_high"] > rep.measured["stochastic_T_slope_high"]
    assert len(rep.figures) == 1


@pytest.mark.parametrize("broken, failing", [
    (_constant_rate, "stochastic_T_slope"),
    (_follow_the_leader, "adversarial_T_slope"),
])
def test_fails_for_broken_learner(tmp_path, broken, failing):
    rep = check_best_of_both_worlds(quick=True, out_dir=str(tmp_path), learner=broken,
                                    figure=False, **SMALL)
    assert rep.verdict == "fail", rep.details
    if failing == "stochastic_T_slope":
        assert rep.measured["stochastic_T_slope_high"] >= 0.5, rep.details
    else:
        assert rep.measured["adversarial_T_slope_low"] > 0.5, rep.details
