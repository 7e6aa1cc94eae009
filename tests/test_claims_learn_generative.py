"""Claims learn.generative-plug-in and learn.average-reward: pass, and fail on broken learners."""

from __future__ import annotations

import functools
import os

import numpy as np
import pytest

from proofs_check.claims.learn_generative import (
    AVERAGE_REWARD,
    GENERATIVE_PLUG_IN,
    check_average_reward,
    check_generative_plug_in,
    hard_spread,
    hard_switching_mdp,
)
from tabular_rl.learners.average_reward import average_reward_plug_in, policy_gain
from tabular_rl.learners.generative import plug_in, synchronous_q_learning

SMALL_GEN = dict(horizons=[8, 16, 32], n_grid=[500, 1000, 2000, 4000], seeds=256, n_boot=300)
SMALL_AVG = dict(t_mix_targets=[5, 10, 20], epsilons=[0.005, 0.0025],
                 n_grid=[int(n) for n in 2 ** np.arange(7, 15)], seeds=128, n_boot=300)


def test_registered():
    assert GENERATIVE_PLUG_IN.id == "learn.generative-plug-in"
    assert AVERAGE_REWARD.id == "learn.average-reward"
    assert GENERATIVE_PLUG_IN.kind == AVERAGE_REWARD.kind == "rate"


def test_generative_plug_in_quick_passes(tmp_path):
    report = check_generative_plug_in(True, out_dir=str(tmp_path))
    assert report.verdict == "pass", report.details
    assert os.path.exists(report.figures[0])
    m = report.measured
    assert m["q_learning_horizon_slope_low"] > m["plug_in_horizon_slope_high"]
    # rerun resumes from the stored sweep (same numbers)
    again = check_generative_plug_in(True, out_dir=str(tmp_path), figure=False)
    assert again.measured == report.measured


def test_generative_small_passes(tmp_path):
    """The settings the broken learners run with let the correct ones pass."""
    report = check_generative_plug_in(True, out_dir=str(tmp_path), figure=False, **SMALL_GEN)
    assert report.verdict == "pass", report.details


def test_generative_fails_with_stalling_q_learning_step(tmp_path):
    stalled = functools.partial(synchronous_q_learning, step=lambda t: 1.0 / t.astype(float) ** 2)
    report = check_generative_plug_in(True, out_dir=str(tmp_path), figure=False,
                                      learner={"q-learning": stalled}, **SMALL_GEN)
    assert report.verdict == "fail"
    assert report.measured["q_learning_eps_slope_low"] > -0.3   # error no longer falls


def _starved_plug_in(mdp, n, *, seed):
    """Uses 8 n (1 - gamma) samples: the budget shrinks with the horizon."""
    return plug_in(mdp, max(1, round(8 * n * (1.0 - mdp.gamma))), seed=seed)


def test_generative_fails_with_horizon_starved_plug_in(tmp_path):
    report = check_generative_plug_in(True, out_dir=str(tmp_path), figure=False,
                                      learner={"plug-in": _starved_plug_in}, **SMALL_GEN)
    assert report.verdict == "fail"
    assert report.measured["plug_in_horizon_slope_low"] > 1.5


def test_generative_rejects_unknown_learner_key(tmp_path):
    with pytest.raises(ValueError, match="learner keys"):
        check_generative_plug_in(True, out_dir=str(tmp_path), learner={"sarsa": plug_in})


def test_hard_instance_gap():
    for eps in (0.005, 0.001):
        mdp = hard_switching_mdp(0.05, eps)
        gap = policy_gain(mdp, np.array([0, 1])) - policy_gain(mdp, np.array([0, 0]))
        assert gap == pytest.approx(16 * eps, rel=1e-12)
        assert hard_spread(eps) == pytest.approx(64 * eps, rel=0.01)


def test_average_reward_small_passes(tmp_path):
    report = check_average_reward(True, out_dir=str(tmp_path), **SMALL_AVG)
    assert report.verdict == "pass", report.details
    assert os.path.exists(report.figures[0])


def _tmix_squared_learner(mdp, n, *, epsilon, t_mix, seed, perturbation):
    """Wastes samples in proportion to t_mix: n_eps then grows like t_mix^2."""
    return average_reward_plug_in(mdp, max(1, n * 6 // t_mix), epsilon=epsilon, t_mix=t_mix,
                                  seed=seed, perturbation=perturbation)


def test_average_reward_fails_with_t_mix_squared_learner(tmp_path):
    report = check_average_reward(True, out_dir=str(tmp_path), figure=False,
                                  learner=_tmix_squared_learner, **SMALL_AVG)
    assert report.verdict == "fail"


def _capped_learner(mdp, n, **kw):
    """Ignores every sample beyond the first 1000 per pair."""
    return average_reward_plug_in(mdp, min(n, 1000), **kw)


def test_average_reward_fails_with_capped_learner(tmp_path):
    report = check_average_reward(True, out_dir=str(tmp_path), figure=False,
                                  learner=_capped_learner, **SMALL_AVG)
    assert report.verdict == "fail"
