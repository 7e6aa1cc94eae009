"""US-IRL: plug-in kernels per step, batching, reproducibility, error falls with n."""

from __future__ import annotations

import numpy as np

from tabular_rl import EpisodicMDP, FiniteMDP
from tabular_rl.irl import FeasibleRewardSet, empirical_layers, us_irl, us_irl_errors


def _model(seed=0, S=3, A=2, H=3):
    rng = np.random.default_rng(seed)
    mdp = EpisodicMDP(rng.dirichlet(np.ones(S), (H, S, A)), np.zeros((S, A)), H)
    return mdp, rng.integers(0, A, (H, S))


def test_empirical_layers_shapes_and_rows():
    mdp, _ = _model()
    P = empirical_layers(mdp, 50, seed=[1, 2])
    assert P.shape == (2, 3, 6, 3)
    np.testing.assert_allclose(P.sum(-1), 1.0)
    np.testing.assert_allclose(P * 50, np.round(P * 50), atol=1e-9)
    again = empirical_layers(mdp, 50, seed=1)
    np.testing.assert_array_equal(again, P[0])
    disc = FiniteMDP(np.full((2, 2, 2), 0.5), np.zeros((2, 2)), 0.9)
    assert empirical_layers(disc, 10, seed=0).shape == (1, 4, 2)


def test_us_irl_batched_and_consistent():
    mdp, pi = _model()
    sets = us_irl(mdp, pi, 100, seed=[0, 1, 2])
    assert len(sets) == 3 and all(isinstance(F, FeasibleRewardSet) for F in sets)
    one = us_irl(mdp, pi, 100, seed=1)
    np.testing.assert_array_equal(np.stack(one.layers), np.stack(sets[1].layers))
    np.testing.assert_array_equal(one.support, FeasibleRewardSet(mdp, pi).support)


def test_error_falls_with_n_and_bounds_are_ordered():
    mdp, pi = _model(1)
    res = us_irl_errors(mdp, pi, [30, 3000], seed=list(range(6)), starts=1, max_iter=4)
    assert res.lower.shape == (2, 6)
    assert np.all(res.lower <= res.upper + 1e-9)
    assert res.lower[1].mean() < res.lower[0].mean() / 3
    assert res.upper[1].mean() < res.upper[0].mean() / 3


def test_fixed_sample_estimator_does_not_improve():
    mdp, pi = _model(2)

    def fixed(model, expert, n, *, seed):
        return us_irl(model, expert, 30, seed=seed)

    res = us_irl_errors(mdp, pi, [30, 3000], seed=list(range(4)), estimator=fixed, starts=1,
                        max_iter=4)
    np.testing.assert_allclose(res.lower[0], res.lower[1])
