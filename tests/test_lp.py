"""Tests of the primal and dual (occupancy-measure) LPs of :mod:`tabular_rl.planning.lp`.

Reference values: policy iteration (an independent exact method), closed forms for a
two-state chain, and the identities of LP duality (optimum = mu @ v*, occupancy of the
LP's policy = the LP's occupancy).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import tabular_rl as trl
from tabular_rl import (
    EpisodicMDP,
    FiniteMDP,
    OccupancyLPResult,
    Solution,
    dual_lp,
    occupancy_lp,
    occupancy_measure,
    policy_iteration,
    primal_lp,
)


def random_mdp(seed: int, S: int, A: int, gamma: float, *, sparse: bool, k: int = 4,
               mu=None) -> FiniteMDP:
    """Random MDP: dense Dirichlet(0.5) rows (many tiny entries) or CSR rows with k successors."""
    rng = np.random.default_rng(seed)
    r = rng.uniform(-1.0, 1.0, size=(S, A))
    if sparse:
        rows = np.repeat(np.arange(S * A), k)
        cols = np.concatenate([rng.choice(S, size=k, replace=False) for _ in range(S * A)])
        data = rng.dirichlet(np.ones(k), size=S * A).reshape(-1)
        P = sp.csr_matrix((data, (rows, cols)), shape=(S * A, S))
    else:
        P = rng.dirichlet(np.full(S, 0.5), size=(S, A))
    return FiniteMDP(P, r, gamma, mu)


CASES = [(seed, sparse, gamma) for seed in (0, 1, 2) for sparse in (False, True)
         for gamma in (0.5, 0.9, 0.99)]


def _id(case):
    seed, sparse, gamma = case
    return f"seed{seed}-{'csr' if sparse else 'dense'}-gamma{gamma}"


@pytest.fixture(params=CASES, ids=_id)
def instance(request):
    seed, sparse, gamma = request.param
    mdp = random_mdp(seed, S=25, A=3, gamma=gamma, sparse=sparse)
    return mdp, policy_iteration(mdp)


@pytest.mark.parametrize("method", [primal_lp, dual_lp], ids=["primal", "dual"])
def test_lp_matches_policy_iteration(method, instance):
    mdp, ref = instance
    sol = method(mdp)
    assert isinstance(sol, Solution)
    assert sol.converged, sol.message
    np.testing.assert_allclose(sol.v, ref.v, rtol=0, atol=1e-7)
    # the certificate is proven, so it must cover the true error
    assert np.abs(sol.v - ref.v).max() <= sol.error_bound + 1e-12
    assert sol.error_bound <= 1e-7
    # the policy is optimal: exact evaluation reaches v*, within the certified gap
    v_pi = trl.evaluate_policy(mdp, sol.policy)
    np.testing.assert_allclose(v_pi, ref.v, rtol=0, atol=1e-7)
    assert np.abs(v_pi - ref.v).max() <= sol.policy_gap_bound + 1e-12
    np.testing.assert_allclose(sol.policy.sum(axis=1), 1.0, atol=1e-12)


def test_dual_optimum_and_occupancy_identities(instance):
    mdp, ref = instance
    res = occupancy_lp(mdp)
    assert isinstance(res, OccupancyLPResult)
    g = mdp.gamma
    # strong duality: the LP optimum is mu @ v*
    assert res.value == pytest.approx(float(mdp.mu @ ref.v), abs=1e-7)
    # feasible points are unnormalized occupancies: nonnegative, mass 1/(1-gamma)
    assert res.occupancy.shape == (mdp.S, mdp.A)
    assert res.occupancy.min() >= 0.0
    assert res.occupancy.sum() == pytest.approx(1.0 / (1.0 - g), rel=1e-8)
    assert res.flow_residual <= 1e-7
    # ... and equal the occupancy of the policy read off them
    d_pi = occupancy_measure(mdp, res.solution.policy, mdp.mu, normalized=False)
    np.testing.assert_allclose(res.occupancy, d_pi, rtol=0, atol=1e-7)
    assert float(np.sum(res.occupancy * mdp.r)) == pytest.approx(res.value, abs=1e-9)
    # dual_lp is exactly the solution part
    np.testing.assert_array_equal(dual_lp(mdp).v, res.solution.v)


def test_dense_and_csr_formulations_agree():
    dense = random_mdp(7, S=20, A=3, gamma=0.9, sparse=False)
    csr = dense.tosparse()
    for method in (primal_lp, dual_lp):
        np.testing.assert_allclose(method(dense).v, method(csr).v, rtol=0, atol=1e-9)
    np.testing.assert_allclose(occupancy_lp(dense).occupancy, occupancy_lp(csr).occupancy,
                               rtol=0, atol=1e-8)


@pytest.mark.parametrize("method", ["lp", "primal_lp", "dual_lp"])
def test_solve_dispatches_to_lp(method):
    mdp = random_mdp(3, S=10, A=2, gamma=0.8, sparse=False)
    sol = trl.solve(mdp, method=method)
    assert isinstance(sol, Solution)
    assert sol.method == ("primal_lp" if method == "lp" else method)
    np.testing.assert_allclose(sol.v, policy_iteration(mdp).v, rtol=0, atol=1e-8)


def test_two_state_closed_form():
    # State 1 is absorbing with reward 2: v*(1) = 2/(1-gamma) = 4. In state 0, staying pays
    # 0 + gamma v*(0) (so v*(0) would be 0), moving pays 1 + gamma * 4 = 3: v* = (3, 4).
    P = np.array([[[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [0.0, 1.0]]])
    mdp = FiniteMDP(P, [[0.0, 1.0], [2.0, 2.0]], gamma=0.5, mu=[1.0, 0.0])
    for sol in (primal_lp(mdp), dual_lp(mdp)):
        np.testing.assert_allclose(sol.v, [3.0, 4.0], rtol=0, atol=1e-12)
        assert sol.actions[0] == 1
    # From mu = (1, 0): one visit to (0, move) at t = 0, then state 1 at t = 1, 2, ... with
    # unnormalized occupancy gamma + gamma^2 + ... = 1/2 + 1/4 + ... = 1.
    res = occupancy_lp(mdp)
    np.testing.assert_allclose(res.occupancy[0], [0.0, 1.0], atol=1e-12)
    assert res.occupancy[1].sum() == pytest.approx(1.0, abs=1e-12)
    assert res.value == pytest.approx(3.0, abs=1e-12)


def _split_mdp(sparse: bool) -> tuple[FiniteMDP, np.ndarray]:
    """States 0..9 form a closed block; 10..19 are unreachable from it.

    mu is supported on 0..4, so every state of 10..19 has zero occupancy.
    """
    base = random_mdp(11, S=20, A=3, gamma=0.9, sparse=False)
    P = np.array(base.P)
    P[:10, :, 10:] = 0.0
    P[:10] /= P[:10].sum(axis=-1, keepdims=True)
    mu = np.zeros(20)
    mu[:5] = 0.2
    mdp = FiniteMDP(P, base.r, base.gamma, mu)
    return (mdp.tosparse() if sparse else mdp), mu


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_zero_occupancy_states(sparse):
    mdp, mu = _split_mdp(sparse)
    ref = policy_iteration(mdp)
    res = occupancy_lp(mdp)
    d_s = res.state_occupancy
    assert np.all(d_s[10:] == 0.0)
    assert np.all(d_s[:5] >= mu[:5])
    np.testing.assert_array_equal(res.support, d_s > 0)
    # unvisited states still get v* and an optimal (greedy) action
    sol = res.solution
    assert sol.converged, sol.message
    assert "unvisited" in sol.message
    np.testing.assert_allclose(sol.v, ref.v, rtol=0, atol=1e-7)
    np.testing.assert_allclose(trl.evaluate_policy(mdp, sol.policy), ref.v, rtol=0, atol=1e-7)
    assert sol.policy_gap_bound <= 1e-7
    np.testing.assert_array_equal(sol.policy[10:].max(axis=1), 1.0)
    # the identities still hold for a mu with zeros
    assert res.value == pytest.approx(float(mu @ ref.v), abs=1e-7)
    d_pi = occupancy_measure(mdp, sol.policy, mu, normalized=False)
    np.testing.assert_allclose(res.occupancy, d_pi, rtol=0, atol=1e-7)
    # an explicit mu argument overrides mdp.mu
    other = occupancy_lp(mdp, mu=np.full(20, 0.05))
    assert np.all(other.state_occupancy > 0)
    assert other.value == pytest.approx(float(np.full(20, 0.05) @ ref.v), abs=1e-7)


def test_block_pivot_matches_highs(instance):
    """The block-pivoting simplex method and HiGHS solve the same occupancy LP."""
    mdp, ref = instance
    bp = occupancy_lp(mdp, solver="block-pivot")
    hi = occupancy_lp(mdp)
    sol = bp.solution
    assert sol.converged and "block-pivoting simplex" in sol.message, sol.message
    assert sol.method == "dual_lp"
    assert bp.value == pytest.approx(hi.value, abs=1e-7)
    np.testing.assert_allclose(sol.v, ref.v, rtol=0, atol=1e-9)
    assert np.abs(sol.v - ref.v).max() <= sol.error_bound + 1e-12
    # a vertex of the polytope: one action per state, mass 1/(1-gamma), flow exact
    assert np.count_nonzero(bp.occupancy, axis=1).max() == 1
    assert bp.occupancy.sum() == pytest.approx(1.0 / (1.0 - mdp.gamma), rel=1e-10)
    assert bp.flow_residual <= 1e-9
    assert float(np.sum(bp.occupancy * mdp.r)) == pytest.approx(bp.value, abs=1e-12)
    # the reported duality gap is tiny: the final basis has no positive reduced cost
    gap = float(sol.message.split("<d, r> = ")[1].split(";")[0])
    assert abs(gap) <= 1e-8 * (1.0 + abs(bp.value))


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_block_pivot_with_unvisited_states(sparse):
    mdp, mu = _split_mdp(sparse)
    ref = policy_iteration(mdp)
    res = occupancy_lp(mdp, solver="block-pivot")
    assert np.all(res.state_occupancy[10:] == 0.0)
    np.testing.assert_allclose(res.solution.v, ref.v, rtol=0, atol=1e-9)   # v* everywhere
    assert res.value == pytest.approx(float(mu @ ref.v), abs=1e-9)


def test_block_pivot_broken_pivoting_is_not_certified(monkeypatch):
    """A 'simplex' that stops after one block pivot returns a non-optimal basis: the
    certificate must say so (warning, converged False), not report an optimum."""
    from tabular_rl.planning import dp

    mdp = random_mdp(3, S=30, A=4, gamma=0.95, sparse=True)
    real = dp.policy_iteration
    monkeypatch.setattr(dp, "policy_iteration", lambda m, **kw: real(m, max_iter=1))
    with pytest.warns(Warning):
        res = occupancy_lp(mdp, solver="block-pivot")
    assert not res.solution.converged
    assert res.value < occupancy_lp(mdp).value - 1e-6


def test_primal_lp_weights():
    mdp, _ = _split_mdp(False)        # mu has zeros: the default falls back to uniform
    ref = policy_iteration(mdp)
    np.testing.assert_allclose(primal_lp(mdp).v, ref.v, rtol=0, atol=1e-7)
    w = np.linspace(1.0, 3.0, mdp.S)  # any positive weights give v*
    np.testing.assert_allclose(primal_lp(mdp, weights=w).v, ref.v, rtol=0, atol=1e-7)


def test_csr_kernel_is_never_densified(monkeypatch):
    mdp = random_mdp(5, S=30, A=3, gamma=0.9, sparse=True)
    ref = policy_iteration(mdp)

    def refuse(self, *args, **kwargs):
        raise AssertionError("a sparse matrix was densified")

    for cls in (sp.csr_matrix, sp.csc_matrix, sp.coo_matrix, sp.csr_array, sp.csc_array,
                sp.coo_array):
        monkeypatch.setattr(cls, "toarray", refuse)
        monkeypatch.setattr(cls, "todense", refuse)
    np.testing.assert_allclose(primal_lp(mdp).v, ref.v, rtol=0, atol=1e-7)
    np.testing.assert_allclose(dual_lp(mdp).v, ref.v, rtol=0, atol=1e-7)


def banded_mdp(S: int, A: int = 3, gamma: float = 0.9, seed: int = 0) -> FiniteMDP:
    """CSR kernel moving from s to s-1, s or s+1+a (mod S): sparse LU stays cheap."""
    rng = np.random.default_rng(seed)
    s, a = np.divmod(np.arange(S * A), A)
    cols = np.stack([(s - 1) % S, s, (s + 1 + a) % S], axis=1).reshape(-1)
    data = rng.dirichlet(np.ones(3), size=S * A).reshape(-1)
    P = sp.csr_matrix((data, (np.repeat(np.arange(S * A), 3), cols)), shape=(S * A, S))
    return FiniteMDP(P, rng.uniform(-1.0, 1.0, size=(S, A)), gamma)


def test_sparse_instance_at_scale():
    # a 6000 x 2000 constraint matrix with 24k nonzeros (96 MB if it were dense)
    mdp = banded_mdp(2000)
    ref = policy_iteration(mdp)
    for method in (primal_lp, dual_lp):
        sol = method(mdp)
        assert sol.converged, sol.message
        np.testing.assert_allclose(sol.v, ref.v, rtol=0, atol=1e-7)


@pytest.mark.parametrize("solver", ["highs-ipm", "highs-ds", "highs"])
def test_every_highs_solver(solver):
    mdp = random_mdp(4, S=15, A=3, gamma=0.95, sparse=True)
    ref = policy_iteration(mdp)
    for method in (primal_lp, dual_lp):
        sol = method(mdp, solver=solver)
        assert sol.converged, sol.message
        np.testing.assert_allclose(sol.v, ref.v, rtol=0, atol=1e-8)


@pytest.mark.parametrize("method", [primal_lp, dual_lp], ids=["primal", "dual"])
def test_inaccurate_lp_is_polished(method, monkeypatch):
    # Regression guard: HiGHS's vertex can be accurate to ~1e-9 only on larger models; the
    # solvers must then recompute the vertex exactly instead of reporting the LP's value.
    from tabular_rl.planning import lp

    real = lp._highs

    def noisy(*args, **kwargs):
        res = real(*args, **kwargs)
        if args[0] == "primal_lp":
            res.x = res.x * (1.0 + 1e-6)
        else:
            res.eqlin.marginals = res.eqlin.marginals * (1.0 + 1e-6)
        return res

    monkeypatch.setattr(lp, "_highs", noisy)
    mdp = random_mdp(2, S=12, A=3, gamma=0.9, sparse=False)
    ref = policy_iteration(mdp)
    sol = method(mdp)
    assert sol.converged, sol.message
    assert "polished" in sol.message
    np.testing.assert_allclose(sol.v, ref.v, rtol=0, atol=1e-9)


def test_unattainable_tol_warns():
    mdp = random_mdp(2, S=12, A=3, gamma=0.9, sparse=False)
    with pytest.warns(trl.NumericalWarning, match=r"exceeds tol=1e-300"):
        sol = primal_lp(mdp, tol=1e-300)
    assert not sol.converged
    assert repr(sol).startswith("Solution(NOT converged")


def test_repr_verdict_first():
    mdp = random_mdp(0, S=5, A=2, gamma=0.5, sparse=False)
    res = occupancy_lp(mdp)
    assert repr(res).startswith("OccupancyLPResult(converged, value=")
    assert repr(res.solution).startswith("Solution(converged, method='dual_lp'")


@pytest.mark.parametrize(("kwargs", "exc", "match"), [
    ({"weights": [1.0, 0.0, 1.0, 1.0, 1.0]}, ValueError, r"weights\[1\] = 0.*strictly positive"),
    ({"weights": [1.0, -2.0, 1.0, 1.0, 1.0]}, ValueError, r"weights\[1\] = -2"),
    ({"weights": [1.0, 1.0]}, ValueError, r"weights must have shape \(5,\)"),
    ({"weights": [1.0, np.nan, 1.0, 1.0, 1.0]}, ValueError, r"weights\[1\] is nan"),
    ({"tol": 0.0}, ValueError, r"tol must lie in \(0"),
    ({"tol": "1e-9"}, TypeError, "tol must be a real number"),
    ({"solver": "simplex"}, ValueError, "solver must be one of 'highs-ipm'.*got 'simplex'"),
])
def test_primal_lp_validation(kwargs, exc, match):
    mdp = random_mdp(0, S=5, A=2, gamma=0.5, sparse=False)
    with pytest.raises(exc, match=match):
        primal_lp(mdp, **kwargs)


@pytest.mark.parametrize("fn", [dual_lp, occupancy_lp])
@pytest.mark.parametrize(("kwargs", "match"), [
    ({"mu": [0.5, 0.5]}, r"mu must have shape \(5,\)"),
    ({"mu": [0.5, 0.5, 0.5, 0.0, 0.0]}, r"mu sums to 1.5"),
    ({"mu": [1.5, -0.5, 0.0, 0.0, 0.0]}, r"mu\[1\] = -0.5 is negative"),
    ({"tol": -1.0}, r"tol must lie in \(0"),
])
def test_dual_lp_validation(fn, kwargs, match):
    mdp = random_mdp(0, S=5, A=2, gamma=0.5, sparse=False)
    with pytest.raises(ValueError, match=match):
        fn(mdp, **kwargs)


@pytest.mark.parametrize("fn", [primal_lp, dual_lp, occupancy_lp])
def test_episodic_mdp_rejected(fn):
    ep = EpisodicMDP(np.ones((1, 1, 1)), [[1.0]], H=3)
    with pytest.raises(TypeError, match="needs a FiniteMDP.*backward_induction"):
        fn(ep)


def test_highs_failure_is_reported(monkeypatch):
    from scipy.optimize import OptimizeResult

    from tabular_rl.planning import lp

    def fake_linprog(*args, **kwargs):
        return OptimizeResult(status=1, message="Iteration limit reached.", x=None)

    monkeypatch.setattr(lp, "linprog", fake_linprog)
    mdp = random_mdp(0, S=5, A=2, gamma=0.5, sparse=False)
    with pytest.raises(RuntimeError, match="primal_lp: HiGHS failed with status 1: Iteration"):
        primal_lp(mdp)
    with pytest.raises(RuntimeError, match="dual_lp: HiGHS failed with status 1"):
        occupancy_lp(mdp)
