"""Column generation for constrained MDPs against the full LP (HiGHS), on random instances."""

from __future__ import annotations

import numpy as np
import pytest
from _examples import examples
from hypothesis import given, settings
from hypothesis import strategies as st
from test_cmdp import random_cmdp

from tabular_rl import FiniteMDP, occupancy_lp, policy_iteration
from tabular_rl.exceptions import ConvergenceError, ConvergenceWarning
from tabular_rl.occupancy import (
    ConstrainedMDP,
    InfeasibleCMDPError,
    policy_to_occupancy,
    solve_cmdp_column_generation,
    solve_cmdp_lp,
)


@settings(max_examples=examples(30), deadline=None)
@given(seed=st.integers(0, 2**31 - 1), S=st.integers(1, 9), A=st.integers(1, 4),
       K=st.integers(1, 3), gamma=st.sampled_from([0.5, 0.9, 0.99]),
       frac=st.sampled_from([-0.2, 0.0, 0.3, 0.8, 1.2]), sparse=st.booleans())
def test_matches_full_lp(seed, S, A, K, gamma, frac, sparse):
    """Same optimal value, or both infeasible; the mixture is feasible and the bound holds."""
    cmdp = random_cmdp(seed, S=S, A=A, K=K, gamma=gamma, sparse=sparse, frac=frac)
    try:
        lp = solve_cmdp_lp(cmdp)
    except InfeasibleCMDPError:
        with pytest.raises(InfeasibleCMDPError) as info:
            solve_cmdp_column_generation(cmdp)
        err = info.value
        # the certificate is checked independently: min_d <d, y.c> - y.b > 0
        y_c = np.tensordot(err.weights, cmdp.costs, axes=1)
        least = -(1 - gamma) * cmdp.mdp.mu @ policy_iteration(cmdp.mdp.with_reward(-y_c)).v
        assert least - err.weights @ cmdp.thresholds > 0
        return
    cg = solve_cmdp_column_generation(cmdp)
    sol = cg.solution
    scale = 1.0 + abs(lp.value)
    assert abs(sol.value - lp.value) <= 1e-8 * scale + 1e-9
    assert cg.upper_bound >= lp.value - 1e-9 * scale          # a proven upper bound
    assert cg.gap <= 1e-8
    assert sol.flow_residual <= 1e-10
    assert np.all(sol.slacks >= -1e-9)
    np.testing.assert_allclose(cg.weights.sum(), 1.0, atol=1e-12)
    # the mixture's occupancy is what its Markov policy induces, and has the reported value
    d_pi = policy_to_occupancy(cmdp.mdp, sol.policy)
    np.testing.assert_allclose(d_pi, sol.occupancy, atol=1e-9)
    # the multipliers are optimal duals: g(lambda) = OPT, computed by an independent solver
    r_lam = cmdp.mdp.r - np.tensordot(sol.multipliers, cmdp.costs, axes=1)
    g_lam = (1 - gamma) * occupancy_lp(cmdp.mdp.with_reward(r_lam)).value \
        + sol.multipliers @ cmdp.thresholds
    assert g_lam == pytest.approx(lp.value, abs=1e-7 * scale)
    assert len(cg.weights) <= cmdp.K + 1                     # a basic master solution


def test_bound_is_certified_along_the_run():
    cmdp = random_cmdp(3, S=12, A=3, K=2, frac=0.7)
    lp = solve_cmdp_lp(cmdp)
    cg = solve_cmdp_column_generation(cmdp)
    phase2 = cg.history[~np.isnan(cg.history[:, 0])]
    assert np.all(phase2[:, 1] >= lp.value - 1e-9)            # every bound is above OPT
    assert np.all(phase2[:, 0] <= lp.value + 1e-9)            # every master value below
    assert np.all(np.diff(phase2[:, 1]) <= 0)                 # the best bound is kept


def test_bandit_closed_form_and_inactive_constraint():
    mdp = FiniteMDP(np.ones((1, 2, 1)), [[1.0, 0.0]], gamma=0.3)
    cg = solve_cmdp_column_generation(ConstrainedMDP(mdp, [[[1.0, 0.0]]], [0.4]))
    np.testing.assert_allclose(cg.solution.policy, [[0.4, 0.6]], atol=1e-12)
    np.testing.assert_allclose(cg.solution.multipliers, [1.0], atol=1e-12)
    loose = solve_cmdp_column_generation(ConstrainedMDP(mdp, [[[1.0, 0.0]]], [2.0]))
    assert loose.solution.value == pytest.approx(1.0) and len(loose.weights) == 1
    np.testing.assert_array_equal(loose.solution.multipliers, [0.0])


def test_max_rounds_reported():
    cmdp = random_cmdp(0, S=12, A=4, K=3, frac=0.7)
    full = solve_cmdp_column_generation(cmdp)
    phase1 = int(np.isnan(full.history[:, 0]).sum())
    cut = phase1 + 2                       # stops inside phase 2, with a feasible mixture
    assert cut < full.solution.iterations
    with pytest.warns(ConvergenceWarning, match="certified gap"):
        cg = solve_cmdp_column_generation(cmdp, max_rounds=cut)
    assert cg.gap > 1e-8 and np.all(cg.solution.slacks >= -1e-9)
    with pytest.raises(ConvergenceError, match="certified gap"):
        solve_cmdp_column_generation(cmdp, max_rounds=cut, strict=True)
    if phase1:                             # inside phase 1 there is nothing to return
        with pytest.raises(ConvergenceError, match="feasibility undecided"):
            solve_cmdp_column_generation(cmdp, max_rounds=2)


def test_validation():
    from tabular_rl import EpisodicMDP

    with pytest.raises(TypeError, match="ConstrainedMDP"):
        solve_cmdp_column_generation("not a cmdp")
    ep = EpisodicMDP(np.full((2, 2, 2), 0.5), np.zeros((2, 2)), 3)
    with pytest.raises(TypeError, match="solve_cmdp_lp for episodic"):
        solve_cmdp_column_generation(ConstrainedMDP(ep, np.ones((1, 2, 2)), [1.0]))
    cmdp = random_cmdp(0)
    with pytest.raises(ValueError, match="tol"):
        solve_cmdp_column_generation(cmdp, tol=0.0)
    with pytest.raises(ValueError, match="max_rounds"):
        solve_cmdp_column_generation(cmdp, max_rounds=0)
    with pytest.raises(ValueError, match="stabilization"):
        solve_cmdp_column_generation(cmdp, stabilization=1.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_stabilized_and_plain_agree(seed):
    cmdp = random_cmdp(seed, S=15, A=4, K=3, frac=0.8)
    plain = solve_cmdp_column_generation(cmdp, stabilization=0.0)
    smooth = solve_cmdp_column_generation(cmdp, stabilization=0.5)
    assert smooth.solution.value == pytest.approx(plain.solution.value, abs=1e-8)
    assert smooth.gap <= 1e-8 and plain.gap <= 1e-8


def test_thresholds_within_tol_of_the_feasible_set():
    """b a hair (half of tol) below the least achievable cost: phase 1 ends with
    0 < t <= tol, and phase 2 must still solve (thresholds relaxed by t), not crash."""
    cmdp = random_cmdp(2, S=6, A=3, K=1)
    mdp, c = cmdp.mdp, cmdp.costs[0]
    least = -(1 - mdp.gamma) * mdp.mu @ policy_iteration(mdp.with_reward(-c)).v
    tight = cmdp.with_thresholds([least - 5e-9])
    cg = solve_cmdp_column_generation(tight, tol=1e-8)
    assert cg.solution.slacks[0] >= -1e-8
    assert cg.gap <= 1e-8
    with pytest.raises(InfeasibleCMDPError):
        solve_cmdp_column_generation(cmdp.with_thresholds([least - 1e-6]), tol=1e-8)
