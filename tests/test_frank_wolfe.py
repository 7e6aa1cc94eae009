"""Tests of Frank-Wolfe over the occupancy polytope (:mod:`tabular_rl.occupancy.frank_wolfe`).

References: the occupancy LP (a linear utility is solved by one oracle call), the cvxpy
programs of :mod:`tabular_rl.occupancy.convex` (entropy, chi-squared regularized return:
FW's value must lie within its certified gap of the conic optimum), and feasibility of
every iterate.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from _examples import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from tabular_rl import ConvergenceError, ConvergenceWarning, FiniteMDP, occupancy_lp
from tabular_rl.occupancy.convex import (
    chi2_divergence,
    max_entropy_occupancy,
    occupancy_entropy,
    regularized_occupancy,
)
from tabular_rl.occupancy.frank_wolfe import (
    FrankWolfeResult,
    Utility,
    entropy_utility,
    frank_wolfe,
    linear_utility,
)
from tabular_rl.occupancy.polytope import membership_residual, policy_to_occupancy
from tabular_rl.testing.strategies import episodic_mdps, finite_mdps

SOLVER_TOL = 1e-6  # Clarabel's optimum, O(1) objectives


@settings(max_examples=examples(15), deadline=None)
@given(finite_mdps(max_states=7, max_actions=3, gamma=st.floats(0.0, 0.95)))
def test_linear_utility_lp_equals_fw(mdp):
    res = frank_wolfe(mdp, linear_utility(mdp.r), tol=1e-9)
    target = (1.0 - mdp.gamma) * occupancy_lp(mdp).value
    scale = 1.0 + float(np.abs(mdp.r).max())
    assert res.converged
    assert res.upper_bound >= target - 1e-9 * scale     # a certified upper bound
    assert abs(res.value - target) <= 1e-8 * scale
    assert membership_residual(mdp, res.occupancy) <= 1e-10


@settings(max_examples=examples(10), deadline=None)
@given(finite_mdps(max_states=6, max_actions=3, gamma=st.floats(0.0, 0.9)),
       st.sampled_from(["state", "state_action"]), st.sampled_from(["line_search", "away"]))
def test_entropy_cvxpy_equals_fw_within_gap(mdp, over, step):
    cvx = max_entropy_occupancy(mdp, over=over)
    fw = _fw_quiet(mdp, over, step)
    assert isinstance(fw, FrankWolfeResult)
    assert abs(cvx.objective - fw.value) <= fw.gap + SOLVER_TOL
    # the cvx policy's exact entropy is a feasible value: below FW's certified bound
    exact = occupancy_entropy(policy_to_occupancy(mdp, cvx.policy), over=over)
    assert exact <= fw.upper_bound + 1e-12 * max(1.0, exact)
    assert membership_residual(mdp, fw.occupancy) <= 1e-10


def _fw_quiet(mdp, over, step, **kw):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return frank_wolfe(mdp, entropy_utility(over=over, **kw), tol=1e-5, n_iter=300,
                           step=step)


@settings(max_examples=examples(6), deadline=None)
@given(episodic_mdps(max_states=4, max_actions=3, max_horizon=4),
       st.sampled_from(["sum", "mixture"]))
def test_episodic_entropy_cvxpy_equals_fw(mdp, episodic):
    cvx = max_entropy_occupancy(mdp, over="state_action", episodic=episodic)
    fw = _fw_quiet(mdp, "state_action", "away", episodic=episodic)
    assert abs(cvx.objective - fw.value) <= fw.gap + SOLVER_TOL * mdp.H
    assert membership_residual(mdp, fw.occupancy) <= 1e-10


def test_chi2_regularized_fw_matches_cvxpy():
    rng = np.random.default_rng(7)
    S, A = 8, 3
    mdp = FiniteMDP(rng.dirichlet(np.ones(S), size=(S, A)), rng.normal(size=(S, A)), 0.9)
    base = rng.dirichlet(np.full(A, 2.0), size=S)
    b = policy_to_occupancy(mdp, base)
    lam = 0.3
    util = Utility(lambda d: float(np.sum(d * mdp.r)) - lam * chi2_divergence(d, b),
                   lambda d: mdp.r - 2 * lam * (d - b) / b, name="chi2-regularized")
    fw = frank_wolfe(mdp, util, tol=1e-7, n_iter=5000, step="away")
    cvx = regularized_occupancy(mdp, lam, base_policy=base)
    assert fw.converged
    assert abs(cvx.objective - fw.value) <= fw.gap + SOLVER_TOL


def test_sparse_large_model_runs_and_certifies():
    rng = np.random.default_rng(0)
    S, A, k = 600, 3, 3
    rows = np.repeat(np.arange(S * A), k)
    cols = rng.integers(0, S, size=S * A * k)
    P = sp.csr_matrix((rng.dirichlet(np.ones(k), size=S * A).ravel(), (rows, cols)),
                      shape=(S * A, S))
    mdp = FiniteMDP(P, np.zeros((S, A)), 0.9)
    with pytest.warns(ConvergenceWarning, match="iteration cap"):
        fw = frank_wolfe(mdp, entropy_utility(), n_iter=15, tol=1e-9, step="away")
    assert np.isfinite(fw.gap) and fw.gap >= 0
    assert fw.value <= np.log(S) + 1e-12 and fw.upper_bound >= fw.value
    assert np.all(np.diff(np.minimum.accumulate(fw.values + fw.gaps)) <= 0)


def test_open_loop_and_errors():
    P = np.zeros((2, 2, 2))
    P[:, 0, 0] = 1.0
    P[:, 1, 1] = 1.0
    mdp = FiniteMDP(P, np.zeros((2, 2)), gamma=0.9)
    res = frank_wolfe(mdp, entropy_utility(), step="open_loop", tol=1e-3, n_iter=10_000)
    assert res.converged and abs(res.value - np.log(2)) <= res.gap
    with pytest.raises(ConvergenceError, match="iteration cap"):
        frank_wolfe(FiniteMDP(P, np.zeros((2, 2)), gamma=0.9, mu=[1.0, 0.0]),
                    entropy_utility(), n_iter=2, tol=1e-12, step="open_loop", strict=True)
    with pytest.raises(ValueError, match="step must be"):
        frank_wolfe(mdp, entropy_utility(), step="exact")
    with pytest.raises(ValueError, match="not an occupancy"):
        frank_wolfe(mdp, entropy_utility(), d0=np.full((2, 2), 0.5))
    with pytest.raises(TypeError, match="Utility"):
        frank_wolfe(mdp, lambda d: 0.0)


def test_broken_oracle_breaks_certificate():
    """An oracle that returns the uniform policy and its own value as the 'upper bound'
    produces a gap that no longer bounds F* - F: the cvxpy optimum exposes it."""
    rng = np.random.default_rng(2)
    S, A = 6, 3
    mdp = FiniteMDP(rng.dirichlet(np.full(S, 0.3), size=(S, A)), np.zeros((S, A)), 0.9,
                    mu=np.eye(S)[0])

    def bad_lmo(m, g, mu, warm):
        pi = np.full((m.S, m.A), 1.0 / m.A)
        return pi, float(np.sum(g * policy_to_occupancy(m, pi, mu))), None

    fw = frank_wolfe(mdp, entropy_utility(), lmo=bad_lmo, tol=1e-9, n_iter=5)
    cvx = max_entropy_occupancy(mdp)
    assert cvx.objective > fw.upper_bound + 1e-3
