"""Claim irl.feasible-set: passes, and fails on a sign-blind set or a fixed-sample estimator."""

from __future__ import annotations

import os

import numpy as np

from proofs_check.claims.feasible_reward_set import FEASIBLE_SET, check_feasible_set
from tabular_rl.irl import FeasibleRewardSet, us_irl

SMALL = dict(n_grid=[100, 800, 6400], seeds=8, Hs=[2, 6], Ss=[3, 9], n_boot=300)


def test_registered():
    assert FEASIBLE_SET.id == "irl.feasible-set"
    assert FEASIBLE_SET.kind == "rate"


def test_small_passes_with_figure(tmp_path):
    report = check_feasible_set(True, out_dir=str(tmp_path), **SMALL)
    assert report.verdict == "pass", report.details
    assert os.path.exists(report.figures[0])
    assert report.measured["n_slope_low"] <= -0.5 <= report.measured["n_slope_high"]


class _SignBlind(FeasibleRewardSet):
    """Ignores the advantage sign: zeta drawn with either sign."""

    def sample(self, n, *, seed=None, normalize="sup"):
        rng = np.random.default_rng(seed)
        out = []
        for _ in range(n):
            Vv = rng.uniform(-1, 1, (self.L, self.S) if self.episodic else (self.S,))
            z = np.zeros(self.shape)
            r = self.reward(Vv, z)
            r[~self.support] += rng.normal(size=int((~self.support).sum()))
            out.append(r / np.abs(r).max())
        return np.stack(out)


def test_fails_with_sign_blind_set(tmp_path):
    report = check_feasible_set(True, out_dir=str(tmp_path), feasible_set=_SignBlind,
                                figure=False, **SMALL)
    assert report.verdict == "fail"
    assert report.measured["member_worst_excess"] > 0


def test_fails_with_fixed_sample_estimator(tmp_path):
    def fixed(model, expert, n, *, seed):
        return us_irl(model, expert, 100, seed=seed)

    report = check_feasible_set(True, out_dir=str(tmp_path), estimator=fixed, figure=False,
                                **SMALL)
    assert report.verdict == "fail"
    assert report.measured["n_slope_high"] > -0.5
