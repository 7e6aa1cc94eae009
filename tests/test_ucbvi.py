"""UCBVI (Azar, Osband, Munos 2017): exact regret bookkeeping, reproducibility, rates."""

from __future__ import annotations

import numpy as np
import pytest

from tabular_rl import EpisodicMDP
from tabular_rl.envs import garnet
from tabular_rl.learners.episodic import optimal_start_value, policy_regret
from tabular_rl.learners.ucbvi import ucbvi
from tabular_rl.rates.fits import fit_slope
from tabular_rl.rates.verdicts import verdict_upper_bound


def _garnet(S=4, A=2, H=3, seed=3) -> EpisodicMDP:
    g = garnet(S, A, 2, seed=seed, sparse=False)
    return EpisodicMDP(g.P, g.r, H=H)


def _hard(H: int = 10, p: float = 0.7) -> EpisodicMDP:
    """State 0: action 0 stays (reward 1/2), action 1 reaches the rewarding absorbing state
    1 w.p. ``p`` and the empty absorbing state 2 otherwise. One unlucky first try of
    action 1 makes its empirical value 0: without bonus it is never tried again."""
    P = np.zeros((3, 2, 3))
    P[0, 0, 0] = 1.0
    P[0, 1, 1], P[0, 1, 2] = p, 1.0 - p
    P[1, :, 1] = 1.0
    P[2, :, 2] = 1.0
    r = np.array([[0.5, 0.0], [1.0, 1.0], [0.0, 0.0]])
    return EpisodicMDP(P, r, H=H, mu=[1.0, 0.0, 0.0])


@pytest.mark.parametrize("bonus, cap", [("hoeffding", "H"), ("bernstein", "H"),
                                        ("hoeffding", "remaining")])
def test_regret_nonnegative_nondecreasing_and_reproducible(bonus, cap):
    mdp = _garnet()
    pts = np.array([10, 50, 200])
    a = ucbvi(mdp, 200, bonus=bonus, seed=[5, 6], record_at=pts, bonus_scale=0.3,
              value_cap=cap)
    b = ucbvi(mdp, 200, bonus=bonus, seed=6, record_at=pts, bonus_scale=0.3, value_cap=cap)
    assert a.regret.shape == (2, 3)
    np.testing.assert_array_equal(a.regret[1], b.regret)       # batch == single run
    assert np.all(a.regret >= -1e-12)
    assert np.all(np.diff(a.regret, axis=1) >= -1e-12)
    assert a.optimal_value == pytest.approx(optimal_start_value(mdp))


def test_single_action_has_zero_regret():
    mdp = EpisodicMDP(np.array([[[0.3, 0.7]], [[1.0, 0.0]]]), [[0.2], [0.9]], H=4)
    res = ucbvi(mdp, 30, seed=0)
    assert abs(float(res.final)) < 1e-12


def test_compiled_policy_value_matches_evaluate_policy():
    # The regret of every episode uses E.deterministic_value; check it against the
    # uncompiled reference on a time-varying model, for several deterministic policies.
    from tabular_rl.learners import episodic as E

    rng = np.random.default_rng(0)
    S, A, H = 5, 3, 4
    P = rng.dirichlet(np.ones(S), size=(H, S, A))
    mdp = EpisodicMDP(P, rng.random((H, S, A)), H=H, mu=rng.dirichlet(np.ones(S)))
    model = E.EpisodicModel.of(mdp)
    acts = [rng.integers(0, A, size=(H, S)) for _ in range(5)]
    v_star = optimal_start_value(mdp)
    ref = policy_regret(mdp, acts)
    for act, r in zip(acts, ref, strict=True):
        val = E.deterministic_value(model.indptr, model.indices, model.data, model.kern_of_h,
                                    model.r, model.mu, act.astype(np.int64),
                                    np.zeros((H + 1, S)))
        assert v_star - val == pytest.approx(r, abs=1e-12)


def test_regret_slope_at_most_half_on_small_instance():
    # Bernstein bonus at 0.2 x the paper's constants (the stated constants are loose: at
    # scale 1 the bonus exceeds H for > 10^4 visits per pair, a linear burn-in).
    K = 2 ** np.arange(8, 14)
    res = ucbvi(_garnet(), int(K[-1]), bonus="bernstein", bonus_scale=0.2, seeds=32, seed=0,
                record_at=K)
    fit = fit_slope(K, res.regret.T, n_boot=500, seed=0)
    assert verdict_upper_bound(fit, 0.5), fit


def test_no_bonus_is_linear_on_hard_instance_and_bonus_fixes_it():
    K = 2 ** np.arange(8, 13)
    mdp = _hard()
    greedy = ucbvi(mdp, int(K[-1]), bonus_scale=0.0, seeds=32, seed=0, record_at=K)
    fit = fit_slope(K, greedy.regret.T, n_boot=500, seed=0)
    assert fit.low > 0.9, fit                                   # linear regret
    opt = ucbvi(mdp, int(K[-1]), bonus="bernstein", bonus_scale=0.2, seeds=32, seed=0,
                record_at=K)
    fit2 = fit_slope(K, opt.regret.T, n_boot=500, seed=0)
    assert fit2.high < 0.5, fit2


def test_validation():
    mdp = _garnet()
    with pytest.raises(ValueError, match="bonus"):
        ucbvi(mdp, 5, bonus="ucb")
    with pytest.raises(ValueError, match="stationary"):
        ucbvi(EpisodicMDP(np.full((2, 1, 1, 1), 1.0), np.zeros((1, 1)), H=2), 5)
    with pytest.raises(ValueError, match=r"r\[0, 1\] = 2.0"):
        ucbvi(EpisodicMDP(np.full((1, 2, 1), 1.0), [[0.0, 2.0]], H=2), 5)
    with pytest.raises(ValueError, match=r"record_at\[1\] = 9"):
        ucbvi(mdp, 5, record_at=[1, 9])
    with pytest.raises(ValueError, match="delta"):
        ucbvi(mdp, 5, delta=1.5)
    with pytest.raises(ValueError, match="value_cap"):
        ucbvi(mdp, 5, value_cap="H-h")
