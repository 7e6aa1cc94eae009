"""Tests of constrained MDPs: the LP, its multipliers, infeasibility, Lagrangian dynamics."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from tabular_rl import EpisodicMDP, FiniteMDP, evaluate_policy, occupancy_lp
from tabular_rl.occupancy import (
    ConstrainedMDP,
    InfeasibleCMDPError,
    lagrangian_dynamics,
    membership_residual,
    policy_to_occupancy,
    solve_cmdp_lp,
)


def random_cmdp(seed: int, S: int = 6, A: int = 3, K: int = 2, gamma: float = 0.9,
                sparse: bool = False, frac: float = 0.5) -> ConstrainedMDP:
    """Thresholds a fraction ``frac`` of the way from the least cost to the cost of the
    unconstrained optimum (so the constraints are feasible and, for frac < 1, active)."""
    rng = np.random.default_rng(seed)
    P = rng.dirichlet(np.ones(S), size=(S, A))
    if sparse:
        P = sp.csr_matrix(P.reshape(S * A, S))
    mdp = FiniteMDP(P, rng.random((S, A)), gamma, rng.dirichlet(np.ones(S)))
    c = rng.random((K, S, A))
    d_un = (1 - gamma) * np.asarray(occupancy_lp(mdp).occupancy)
    hi = np.einsum("ksa,sa->k", c, d_un)
    lo = np.array([(1 - gamma) * mdp.mu @ -np.asarray(occupancy_lp(mdp.with_reward(-ck))
                                                        .solution.v) for ck in c])
    return ConstrainedMDP(mdp, c, lo + frac * (hi - lo))


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lp_solution_is_consistent(seed, sparse):
    cmdp = random_cmdp(seed, sparse=sparse, frac=0.4)
    sol = solve_cmdp_lp(cmdp)
    mdp = cmdp.mdp
    assert sol.flow_residual < 1e-9
    assert np.all(sol.slacks >= -1e-8)
    assert np.all(sol.multipliers >= 0)
    # complementary slackness
    assert np.all(sol.multipliers * np.abs(sol.slacks) < 1e-7)
    # the policy read off the occupancy has that occupancy and value
    d_pi = policy_to_occupancy(mdp, sol.policy)
    np.testing.assert_allclose(d_pi, sol.occupancy, atol=1e-8)
    assert sol.value == pytest.approx((1 - mdp.gamma) * mdp.mu @ evaluate_policy(
        mdp, sol.policy), abs=1e-8)
    # strong duality: OPT = max_d <d, r - lam.c> + lam.b
    r_lam = mdp.r - np.tensordot(sol.multipliers, cmdp.costs, axes=1)
    dual = (1 - mdp.gamma) * occupancy_lp(mdp.with_reward(r_lam)).value \
        + sol.multipliers @ cmdp.thresholds
    assert sol.value == pytest.approx(dual, abs=1e-7)
    # the constrained optimum is below the unconstrained one
    assert sol.value <= (1 - mdp.gamma) * occupancy_lp(mdp).value + 1e-9


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_multipliers_are_threshold_sensitivities(seed):
    """lambda_k = d OPT / d b_k: central finite differences of the optimal value."""
    cmdp = random_cmdp(seed, K=2, frac=0.4)
    sol = solve_cmdp_lp(cmdp)
    assert sol.multipliers.max() > 0  # something is active
    h = 1e-5
    for k in range(cmdp.K):
        e = np.eye(cmdp.K)[k] * h
        up = solve_cmdp_lp(cmdp.with_thresholds(cmdp.thresholds + e)).value
        dn = solve_cmdp_lp(cmdp.with_thresholds(cmdp.thresholds - e)).value
        fd = (up - dn) / (2 * h)
        assert fd == pytest.approx(sol.multipliers[k], abs=1e-4), (k, fd, sol.multipliers)


def test_inactive_constraints_have_zero_multipliers():
    cmdp = random_cmdp(4, frac=1.5)  # looser than the unconstrained optimum needs
    sol = solve_cmdp_lp(cmdp)
    np.testing.assert_allclose(sol.multipliers, 0.0, atol=1e-9)
    assert sol.value == pytest.approx((1 - cmdp.mdp.gamma) * occupancy_lp(cmdp.mdp).value,
                                      abs=1e-8)


def test_bandit_closed_form():
    mdp = FiniteMDP(np.ones((1, 2, 1)), [[1.0, 0.0]], gamma=0.3)
    sol = solve_cmdp_lp(ConstrainedMDP(mdp, [[[1.0, 0.0]]], [0.4]))
    np.testing.assert_allclose(sol.policy, [[0.4, 0.6]], atol=1e-9)
    assert sol.value == pytest.approx(0.4)
    np.testing.assert_allclose(sol.multipliers, [1.0], atol=1e-9)


def test_infeasible_single_constraint_certificate():
    cmdp = random_cmdp(0, K=2, frac=0.5)
    lo_cost = cmdp.thresholds.copy()
    lo_cost[1] = -1.0  # costs are in [0, 1]: unreachable
    with pytest.raises(InfeasibleCMDPError) as info:
        solve_cmdp_lp(cmdp.with_thresholds(lo_cost))
    err = info.value
    assert isinstance(err, ValueError)
    assert err.status == 2
    assert err.min_costs[1] > -1.0
    assert "constraint 1: min <d, c_1> = " in str(err) and "> threshold -1" in str(err)
    assert err.violation > 0


def test_infeasible_jointly_certificate():
    """c_1 = -c_0 (shifted): each alone feasible, both together not."""
    rng = np.random.default_rng(5)
    S, A, g = 4, 2, 0.8
    mdp = FiniteMDP(rng.dirichlet(np.ones(S), size=(S, A)), rng.random((S, A)), g)
    c0 = rng.random((S, A))
    c = np.stack([c0, 1.0 - c0])
    # <d, c0> <= 0.45 and <d, 1 - c0> <= 0.45  <=>  0.55 <= <d, c0> <= 0.45: impossible
    with pytest.raises(InfeasibleCMDPError) as info:
        solve_cmdp_lp(ConstrainedMDP(mdp, c, [0.45, 0.45]))
    err = info.value
    # Farkas: with the weights y, every occupancy has <d, y.c> - y.b >= t* > 0
    assert err.violation == pytest.approx(0.05, abs=1e-7)
    assert err.weights.sum() == pytest.approx(1.0) and np.all(err.weights >= 0)
    y_c = np.tensordot(err.weights, c, axes=1)
    min_comb = -(1 - g) * mdp.mu @ occupancy_lp(mdp.with_reward(-y_c)).solution.v
    assert min_comb - err.weights @ np.array([0.45, 0.45]) >= err.violation - 1e-7


def test_episodic_cmdp():
    rng = np.random.default_rng(2)
    S, A, H = 3, 2, 4
    mdp = EpisodicMDP(rng.dirichlet(np.ones(S), size=(S, A)), rng.random((S, A)), H)
    c = rng.random((1, S, A))
    sol_free = solve_cmdp_lp(ConstrainedMDP(mdp, c, [1e6]))
    V = evaluate_policy(mdp, sol_free.policy)
    assert sol_free.value == pytest.approx(mdp.mu @ V[0], abs=1e-8)
    b = 0.9 * float(sol_free.costs[0])
    sol = solve_cmdp_lp(ConstrainedMDP(mdp, c, [b]))
    assert sol.occupancy.shape == (H, S, A)
    assert sol.costs[0] <= b + 1e-8 and sol.value <= sol_free.value + 1e-9
    assert membership_residual(mdp, sol.occupancy) < 1e-9


def test_validation_errors():
    mdp = FiniteMDP(np.ones((1, 2, 1)), [[1.0, 0.0]], gamma=0.5)
    with pytest.raises(ValueError, match=r"costs\[0, 0, 1\] is nan"):
        ConstrainedMDP(mdp, [[[1.0, np.nan]]], [0.5])
    with pytest.raises(ValueError, match="thresholds"):
        ConstrainedMDP(mdp, [[[1.0, 0.0]]], [0.5, 0.2])
    with pytest.raises(ValueError, match=r"thresholds\[0\] is inf"):
        ConstrainedMDP(mdp, [[[1.0, 0.0]]], [np.inf])
    with pytest.raises(ValueError, match="shape"):
        ConstrainedMDP(mdp, np.ones((1, 3, 2)), [0.5])
    cm = ConstrainedMDP(mdp, [[[1.0, 0.0]]], [0.5])
    with pytest.raises(ValueError, match="method"):
        lagrangian_dynamics(cm, 10, method="sgd")
    with pytest.raises(ValueError, match=r"lambda0\[0\] = -1"):
        lagrangian_dynamics(cm, 10, lambda0=[-1.0])


@pytest.mark.parametrize("method", ["optimistic", "extragradient"])
def test_corrected_dynamics_converge_in_last_iterate(method):
    cmdp = random_cmdp(1, S=5, K=1)
    sol = solve_cmdp_lp(cmdp)
    tr = lagrangian_dynamics(cmdp, 3000, method=method, eta=0.5)
    dist = (np.abs(tr.occupancies - sol.occupancy).sum(axis=(1, 2))
            + np.abs(tr.multipliers - sol.multipliers).sum(axis=1))
    assert dist[-1] <= 1e-2 * dist[0]
    assert dist[-1] <= 0.5 * dist[1500]  # still decaying
    assert abs(tr.values[-1] - sol.value) <= 1e-2 * dist[0]


def test_gda_equals_optimistic_without_correction_and_averages():
    cmdp = random_cmdp(1, S=5, K=1)
    a = lagrangian_dynamics(cmdp, 50, method="gda", eta=0.5)
    b = lagrangian_dynamics(cmdp, 50, method="optimistic", optimism=0.0, eta=0.5)
    np.testing.assert_array_equal(a.occupancies, b.occupancies)
    np.testing.assert_array_equal(a.multipliers, b.multipliers)
    avg = a.averaged_occupancies()
    np.testing.assert_allclose(avg[-1], a.occupancies.mean(axis=0))
    assert a.policies.shape == (51, 5, 3) and a.violations.shape == (51, 1)
    np.testing.assert_allclose(a.lagrangian, a.values - (a.multipliers * a.violations).sum(1))


def test_sparse_model_dynamics_match_dense():
    cmdp = random_cmdp(2, S=5, K=1)
    sp_cmdp = ConstrainedMDP(cmdp.mdp.tosparse(), cmdp.costs, cmdp.thresholds)
    a = lagrangian_dynamics(cmdp, 20, method="optimistic", eta=0.5)
    b = lagrangian_dynamics(sp_cmdp, 20, method="optimistic", eta=0.5)
    np.testing.assert_allclose(a.occupancies, b.occupancies, atol=1e-10)
    np.testing.assert_allclose(a.multipliers, b.multipliers, atol=1e-10)
