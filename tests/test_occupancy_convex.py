"""Tests of the cvxpy occupancy programs of :mod:`tabular_rl.occupancy.convex`.

References: the occupancy LP (HiGHS, :func:`tabular_rl.occupancy_lp`) and backward induction
for linear utilities; closed forms (uniform occupancies, the base occupancy as
lambda -> inf); feasibility of the returned occupancies; optimality against feasible points
(occupancies of random policies); errors for infeasible, unbounded, non-concave programs.
"""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pytest
from _examples import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from tabular_rl import FiniteMDP, backward_induction, occupancy_lp
from tabular_rl.exceptions import NumericalWarning
from tabular_rl.occupancy.convex import (
    ConvexOccupancyResult,
    OccupancyProgramError,
    chi2_divergence,
    kl_divergence,
    max_concave_utility,
    max_entropy_occupancy,
    occupancy_entropy,
    regularized_occupancy,
    regularized_occupancy_path,
)
from tabular_rl.occupancy.polytope import membership_residual, policy_to_occupancy
from tabular_rl.testing.strategies import episodic_mdps, finite_mdps

# Clarabel stops at relative gap / feasibility 1e-8; the objectives here are O(1)
SOLVER_TOL = 1e-6


def _scale(mdp) -> float:
    return 1.0 + float(np.abs(mdp.r).max())


@settings(max_examples=examples(15), deadline=None)
@given(finite_mdps(max_states=7, max_actions=3, gamma=st.floats(0.0, 0.95)))
def test_linear_utility_matches_lp(mdp):
    res = max_concave_utility(mdp, lambda d: mdp.r.ravel() @ d)
    lp = occupancy_lp(mdp)
    target = (1.0 - mdp.gamma) * lp.value        # normalized occupancy
    assert res.status == "optimal" and res.solver == "CLARABEL"
    assert abs(res.objective - target) <= SOLVER_TOL * _scale(mdp)
    # the returned policy is optimal: its exact occupancy attains the LP value
    assert abs(np.sum(res.exact_occupancy * mdp.r) - target) <= 10 * SOLVER_TOL * _scale(mdp)
    assert membership_residual(mdp, res.exact_occupancy) <= 1e-10
    # lam = 0 regularized program is the same LP
    reg = regularized_occupancy(mdp, 0.0, base_policy=np.full((mdp.S, mdp.A), 1 / mdp.A))
    assert abs(reg.objective - target) <= SOLVER_TOL * _scale(mdp)


@settings(max_examples=examples(10), deadline=None)
@given(episodic_mdps(max_states=5, max_actions=3, max_horizon=4))
def test_linear_utility_episodic_matches_backward_induction(mdp):
    c = np.broadcast_to(mdp.r, (mdp.H, mdp.S, mdp.A)).reshape(-1)
    res = max_concave_utility(mdp, lambda d: c @ d)
    target = float(mdp.mu @ backward_induction(mdp).v[0])
    assert abs(res.objective - target) <= SOLVER_TOL * _scale(mdp) * mdp.H
    assert res.occupancy.shape == (mdp.H, mdp.S, mdp.A)


@settings(max_examples=examples(15), deadline=None)
@given(finite_mdps(max_states=7, max_actions=3, gamma=st.floats(0.0, 0.95)),
       st.sampled_from(["state", "state_action"]), st.integers(0, 2**16))
def test_entropy_optimum_dominates_policies(mdp, over, seed):
    res = max_entropy_occupancy(mdp, over=over)
    assert isinstance(res, ConvexOccupancyResult)
    assert abs(res.objective - occupancy_entropy(res.occupancy, over=over)) <= 1e-9
    exact = occupancy_entropy(res.exact_occupancy, over=over)
    assert abs(exact - res.objective) <= 1e-5           # the policy realizes the optimum
    ub = np.log(mdp.S if over == "state" else mdp.S * mdp.A)
    assert res.objective <= ub + SOLVER_TOL
    rng = np.random.default_rng(seed)
    for _ in range(3):
        pi = rng.dirichlet(np.full(mdp.A, 0.5), size=mdp.S)
        d = policy_to_occupancy(mdp, pi)
        assert occupancy_entropy(d, over=over) <= res.objective + SOLVER_TOL


def test_entropy_closed_form_uniform():
    # action a moves to state a: any state distribution is reachable, the optimum is uniform
    S = 4
    P = np.zeros((S, S, S))
    for a in range(S):
        P[:, a, a] = 1.0
    mdp = FiniteMDP(P, np.zeros((S, S)), gamma=0.9)
    res = max_entropy_occupancy(mdp)
    assert abs(res.objective - np.log(S)) <= 1e-7
    # KL(d || uniform) = log S - H(d): the objective is flat at the optimum, so compare
    # entropies (a 1e-8 entropy gap allows ~1e-4 deviations of d)
    assert np.log(S) - occupancy_entropy(res.exact_occupancy) <= 1e-7
    sa = max_entropy_occupancy(mdp, over="state_action")
    assert sa.objective <= np.log(S * S) + 1e-9


@settings(max_examples=examples(8), deadline=None)
@given(episodic_mdps(max_states=5, max_actions=3, max_horizon=4),
       st.sampled_from(["state", "state_action"]), st.sampled_from(["sum", "mixture"]))
def test_episodic_entropy_objectives(mdp, over, episodic):
    res = max_entropy_occupancy(mdp, over=over, episodic=episodic)
    val = occupancy_entropy(res.exact_occupancy, over=over, episodic=episodic)
    assert abs(val - res.objective) <= 1e-5
    uni = policy_to_occupancy(mdp, np.full((mdp.H, mdp.S, mdp.A), 1 / mdp.A))
    assert occupancy_entropy(uni, over=over, episodic=episodic) <= res.objective + SOLVER_TOL


@settings(max_examples=examples(12), deadline=None)
@given(finite_mdps(max_states=6, max_actions=3, gamma=st.floats(0.0, 0.95)),
       st.sampled_from(["chi2", "kl"]), st.floats(0.01, 10.0), st.integers(0, 2**16))
def test_regularized_optimum_beats_feasible_points(mdp, divergence, lam, seed):
    rng = np.random.default_rng(seed)
    base = rng.dirichlet(np.full(mdp.A, 2.0), size=mdp.S)
    res = regularized_occupancy(mdp, lam, base_policy=base, divergence=divergence)
    b = policy_to_occupancy(mdp, base)
    D = chi2_divergence if divergence == "chi2" else kl_divergence

    def objective(d):
        return float(np.sum(d * mdp.r)) - lam * D(d, b)

    tol = SOLVER_TOL * (_scale(mdp) + lam)
    assert abs(objective(res.occupancy) - res.objective) <= tol
    assert objective(b) <= res.objective + tol
    for _ in range(3):
        pi = 0.5 * base + 0.5 * rng.dirichlet(np.ones(mdp.A), size=mdp.S)
        assert objective(policy_to_occupancy(mdp, pi)) <= res.objective + tol


def test_regularized_limits_and_root():
    rng = np.random.default_rng(3)
    P = rng.dirichlet(np.ones(5), size=(5, 3))
    mdp = FiniteMDP(P, rng.normal(size=(5, 3)), 0.8)
    base = rng.dirichlet(np.ones(3), size=5)
    b = policy_to_occupancy(mdp, base)
    for div in ("chi2", "kl"):
        big = regularized_occupancy(mdp, 1e6, base_policy=base, divergence=div)
        np.testing.assert_allclose(big.occupancy, b, atol=1e-5)
    # a base occupancy with zeros forces zeros
    pi0 = np.zeros((5, 3))
    pi0[:, 0] = 1.0
    res = regularized_occupancy(mdp, 0.5, base_policy=pi0, divergence="chi2")
    assert np.all(res.occupancy[:, 1:] <= 1e-8)
    # sqrt(chi2) (ORPO) penalty: same optimum as chi2 at a matched lambda is not needed;
    # check it beats the base and is DCP-solvable
    root = regularized_occupancy(mdp, 0.3, base_policy=base, root=True)
    assert root.objective >= float(np.sum(b * mdp.r)) - 1e-7
    # path == pointwise
    lams = [0.0, 0.1, 1.0]
    path = regularized_occupancy_path(mdp, lams, base_policy=base, divergence="kl")
    for lam, p in zip(lams, path, strict=True):
        one = regularized_occupancy(mdp, lam, base_policy=base, divergence="kl")
        assert abs(p.objective - one.objective) <= 1e-7


def test_divergence_helpers():
    p = np.array([0.5, 0.5, 0.0])
    q = np.array([0.25, 0.25, 0.5])
    assert chi2_divergence(p, q) == pytest.approx(2 * 0.25**2 / 0.25 + 0.5**2 / 0.5)
    assert kl_divergence(p, q) == pytest.approx(np.log(2))
    assert chi2_divergence(q, p) == np.inf and kl_divergence(q, p) == np.inf


# ----------------------------------------------------------------------------- errors


def _mdp():
    return FiniteMDP(np.full((2, 2, 2), 0.5), [[1.0, 0.0], [0.0, 1.0]], gamma=0.5)


def test_infeasible_program_raises_with_status():
    mdp = _mdp()
    with pytest.raises(OccupancyProgramError, match="infeasible") as err:
        max_concave_utility(mdp, lambda d: cp.sum(cp.entr(d)),
                            extra_constraints=lambda d: [d[0] >= 2.0])
    assert "infeasible" in err.value.status


def test_unbounded_program_raises_with_status():
    mdp = _mdp()
    t = cp.Variable()
    with pytest.raises(OccupancyProgramError, match="unbounded") as err:
        max_concave_utility(mdp, lambda d: t + cp.sum(d))
    assert "unbounded" in err.value.status


def test_non_concave_and_bad_inputs():
    mdp = _mdp()
    with pytest.raises(ValueError, match="not concave"):
        max_concave_utility(mdp, lambda d: cp.sum_squares(d))
    with pytest.raises(TypeError, match="cvxpy Expression"):
        max_concave_utility(mdp, lambda d: 1.0)
    with pytest.raises(ValueError, match="not installed"):
        max_entropy_occupancy(mdp, solver="NO_SUCH_SOLVER")
    with pytest.raises(ValueError, match="over must be"):
        max_entropy_occupancy(mdp, over="actions")
    base = np.full((2, 2), 0.5)
    with pytest.raises(ValueError, match="lam must be"):
        regularized_occupancy(mdp, -1.0, base_policy=base)
    with pytest.raises(ValueError, match="exactly one"):
        regularized_occupancy(mdp, 1.0)
    with pytest.raises(ValueError, match="divergence must be"):
        regularized_occupancy(mdp, 1.0, base_policy=base, divergence="tv")
    with pytest.raises(ValueError, match="lams\\[1\\]"):
        regularized_occupancy_path(mdp, [1.0, np.nan], base_policy=base)


def test_inaccurate_solution_warns_and_checks_residual():
    rng = np.random.default_rng(0)
    mdp = FiniteMDP(rng.dirichlet(np.ones(20), size=(20, 3)), np.zeros((20, 3)), 0.99)
    # SCS stopped after 3 iterations: 'optimal_inaccurate' (or a hard failure)
    with pytest.warns(NumericalWarning, match="optimal_inaccurate"), \
            pytest.raises(OccupancyProgramError, match="misses the flow constraints"):
        max_entropy_occupancy(mdp, solver="SCS", solver_options={"max_iters": 3},
                              feas_tol=1e-12)
