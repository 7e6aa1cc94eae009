"""KL-regularized robust MDPs, entropic-risk MDPs and exact robust policy gradient."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from tabular_rl import FiniteMDP
from tabular_rl.planning import value_iteration
from tabular_rl.planning.robust import (
    _entropic_rows,
    default_step_size,
    entropic_risk,
    project_simplex,
    risk_sensitive_bellman,
    risk_sensitive_value_iteration,
    robust_bellman,
    robust_bellman_policy,
    robust_policy_evaluation,
    robust_policy_gradient,
    robust_projected_gradient,
    robust_value_iteration,
    worst_case_kernel,
)
from tabular_rl.regularizers import Shannon
from tabular_rl.testing.strategies import finite_mdps
from tests._examples import examples

U = np.finfo(np.float64).eps / 2
LAMS = st.sampled_from([1e-8, 1e-3, 0.1, 1.0, 10.0, 1e4, 1e9])


def _scale(mdp):
    R = max(float(np.abs(mdp.r).max()), 1.0)
    return R / (1.0 - mdp.gamma)


def _vec(seed, S, scale=5.0):
    return np.random.default_rng(seed).uniform(-scale, scale, S)


def _dense_rows(mdp):
    return mdp.todense().P.reshape(mdp.S * mdp.A, mdp.S)


# ------------------------------------------------------------- the inner minimum


@settings(max_examples=examples(25), deadline=None)
@given(finite_mdps(max_states=6), st.integers(0, 2**31),
       st.sampled_from([1e-6, 1e-3, 0.1, 1.0, 10.0, 1e3, 1e6]))
def test_closed_form_equals_numerical_inner_min(mdp, seed, lam_rel):
    """-lam log E exp(-v/lam) = min_p <p,v> + lam KL(p||P), the minimum found by a conic
    solver (cvxpy/Clarabel) that knows nothing of the closed form. (Beyond lam/sp(v) = 1e6
    the conic reference itself loses accuracy; test_limits_in_lambda covers that range.)"""
    from proofs_check.claims.robust_risk import SOLVER_TOL, _numeric_inner_min, _primal

    v = _vec(seed, mdp.S)
    lam = lam_rel * max(float(np.ptp(v)), 1e-3)
    sig = entropic_risk(mdp, v, lam)
    row = int(np.random.default_rng(seed).integers(mdp.S * mdp.A))
    P = _dense_rows(mdp)[row]
    p_num = _numeric_inner_min(P, v, lam)
    f, fp = _primal(P, v, lam, p_num)
    fp += lam * (abs(P.sum() - 1.0) + (mdp.S + 2) * U)
    s = sig.reshape(-1)[row]
    scale = float(np.abs(v).max()) + abs(s)
    assert f >= s - fp - 4 * U * scale                 # no feasible p beats the closed form
    assert f - s <= SOLVER_TOL * scale                 # and the solver attains it


@settings(max_examples=examples(25), deadline=None)
@given(finite_mdps(max_states=8), st.integers(0, 2**31), LAMS)
def test_gibbs_kernel_attains_closed_form(mdp, seed, lam_rel):
    from proofs_check.claims.robust_risk import _log_ratio

    v = _vec(seed, mdp.S)
    lam = lam_rel * max(float(np.ptp(v)), 1e-3)
    sig = entropic_risk(mdp, v, lam).reshape(-1)
    K = worst_case_kernel(mdp, v, lam)
    K = K.toarray() if sp.issparse(K) else K.reshape(mdp.S * mdp.A, mdp.S)
    P = _dense_rows(mdp)
    assert np.allclose(K.sum(axis=1), 1.0, atol=1e-12)
    assert np.all(K[P == 0] == 0)                       # absolutely continuous w.r.t. P
    m = K > 0
    kl = np.zeros_like(K)
    kl[m] = K[m] * _log_ratio(K[m], P[m])
    f = K @ v + lam * kl.sum(axis=1)
    tol = 64 * (mdp.S + 4) * U * (np.abs(v).max() + np.ptp(v)) + lam * (mdp.S + 4) * U * 8
    assert np.all(np.abs(f - sig) <= tol + 1e-300)


@settings(max_examples=examples(25), deadline=None)
@given(finite_mdps(max_states=8), st.integers(0, 2**31))
def test_limits_in_lambda(mdp, seed):
    """0 <= E_P v - sigma_lam <= sp(v)^2/(8 lam) (Jensen, Hoeffding's lemma), and
    0 <= sigma_lam - min_supp v <= lam log(1/P(argmin))."""
    v = _vec(seed, mdp.S)
    P = _dense_rows(mdp)
    Ev = P @ v
    vmin = np.where(P > 0, v[None, :], np.inf).min(axis=1)
    fp = 64 * (mdp.S + 4) * U * np.abs(v).max()
    for lam in (1e2, 1e5, 1e9):
        sig = entropic_risk(mdp, v, lam).reshape(-1)
        sp_row = np.where(P > 0, v[None, :], -np.inf).max(axis=1) - vmin
        assert np.all(Ev - sig >= -fp)
        assert np.all(Ev - sig <= sp_row ** 2 / (8 * lam) + fp)
    assert np.allclose(entropic_risk(mdp, v, np.inf).reshape(-1), Ev, rtol=0, atol=fp)
    p_min = np.where((P > 0) & (v[None, :] == vmin[:, None]), P, 0).sum(axis=1)
    for lam in (1e-2, 1e-5, 1e-9):
        sig = entropic_risk(mdp, v, lam).reshape(-1)
        assert np.all(sig - vmin >= -fp)
        assert np.all(sig - vmin <= lam * np.log(1 / p_min) + fp)
    assert np.array_equal(entropic_risk(mdp, v, 0.0).reshape(-1), vmin)


@settings(max_examples=examples(25), deadline=None)
@given(finite_mdps(max_states=8), st.integers(0, 2**31), LAMS)
def test_dense_and_csr_agree(mdp, seed, lam):
    v = _vec(seed, mdp.S)
    a = entropic_risk(mdp.todense(), v, lam)
    b = entropic_risk(mdp.tosparse(), v, lam)
    assert np.allclose(a, b, rtol=0, atol=64 * (mdp.S + 4) * U * np.abs(v).max() * 4)


# ------------------------------------------------------------------- operators


@settings(max_examples=examples(25), deadline=None)
@given(finite_mdps(max_states=8), st.integers(0, 2**31), LAMS, st.booleans())
def test_monotone_contraction_and_shift(mdp, seed, lam, soft):
    reg = Shannon(0.3) if soft else None
    rng = np.random.default_rng(seed)
    u = rng.uniform(-5, 5, mdp.S)
    w = u + rng.uniform(0, 3, mdp.S)                    # w >= u
    Tu = robust_bellman(mdp, u, lam, reg)[0]
    Tw = robust_bellman(mdp, w, lam, reg)[0]
    fp = 256 * (mdp.S + mdp.A + 8) * U * (np.abs(w).max() + np.abs(mdp.r).max() + 1)
    assert np.all(Tw >= Tu - fp)                         # monotone
    x = rng.uniform(-5, 5, mdp.S)
    Tx = robust_bellman(mdp, x, lam, reg)[0]
    assert np.abs(Tx - Tu).max() <= mdp.gamma * np.abs(x - u).max() + fp   # contraction
    c = float(rng.uniform(-4, 4))
    assert np.allclose(robust_bellman(mdp, u + c, lam, reg)[0], Tu + mdp.gamma * c,
                       rtol=0, atol=fp)                  # T(v + c) = Tv + gamma c


@settings(max_examples=examples(25), deadline=None)
@given(finite_mdps(max_states=8), st.integers(0, 2**31), LAMS)
def test_risk_sensitive_operator_equals_robust(mdp, seed, lam):
    v = _vec(seed, mdp.S)
    a = robust_bellman(mdp, v, lam)
    b = risk_sensitive_bellman(mdp, v, 1.0 / lam)
    # the log-sum-exp path's logarithm is off by (n + 4) u, i.e. (n + 4) u lam after 1/beta
    fp = (128 * (mdp.S + 8) * U * (np.abs(v).max() + np.abs(mdp.r).max())
          + 4 * mdp.gamma * (mdp.S + 4) * U * lam)
    assert np.allclose(a[2], b[2], rtol=0, atol=fp)
    assert np.allclose(a[0], b[0], rtol=0, atol=fp)


@settings(max_examples=examples(25), deadline=None)
@given(finite_mdps(max_states=8, gamma=st.sampled_from([0.0, 0.5, 0.9])))
def test_lambda_to_infinity_recovers_value_iteration(mdp):
    s = _scale(mdp)
    nominal = value_iteration(mdp, tol=1e-10 * s)
    inf = robust_value_iteration(mdp, np.inf, tol=1e-10 * s)
    assert np.abs(inf.v - nominal.v).max() <= inf.error_bound + nominal.error_bound
    lam = 1e6 * s
    big = robust_value_iteration(mdp, lam, tol=1e-10 * s)
    # each sweep is off by at most gamma sp(v)^2/(8 lam), sp(v) <= 2||r||/(1-gamma)
    drift = mdp.gamma * (2 * s) ** 2 / (8 * lam) / (1 - mdp.gamma)
    assert np.all(nominal.v - big.v >= -(big.error_bound + nominal.error_bound))
    assert np.abs(big.v - nominal.v).max() <= drift + big.error_bound + nominal.error_bound


@settings(max_examples=examples(25), deadline=None)
@given(finite_mdps(max_states=8, gamma=st.sampled_from([0.0, 0.5, 0.9])))
def test_lambda_to_zero_is_worst_case_over_the_support(mdp):
    s = _scale(mdp)
    zero = robust_value_iteration(mdp, 0.0, tol=1e-10 * s)
    # independent worst-case VI: q = r + gamma min_{supp P} v
    P = _dense_rows(mdp)
    v = np.zeros(mdp.S)
    for _ in range(2000):
        q = mdp.r + mdp.gamma * np.where(P > 0, v[None, :], np.inf).min(axis=1).reshape(
            mdp.S, mdp.A)
        v_new = q.max(axis=1)
        if np.abs(v_new - v).max() <= 1e-13 * s:
            v = v_new
            break
        v = v_new
    assert np.abs(zero.v - v).max() <= zero.error_bound + 1e-12 * s / (1 - mdp.gamma)
    small = robust_value_iteration(mdp, 1e-9 * s, tol=1e-10 * s)
    assert np.all(small.v >= zero.v - zero.error_bound - small.error_bound)


@settings(max_examples=examples(25), deadline=None)
@given(finite_mdps(max_states=8, gamma=st.sampled_from([0.3, 0.9, 0.99])),
       st.sampled_from([1e-8, 1e-3, 0.1, 1.0, 10.0, 1e3]))
def test_robust_and_risk_vi_fixed_points_agree(mdp, lam_rel):
    s = _scale(mdp)
    lam = lam_rel * max(float(np.ptp(mdp.r)), 1e-3)
    a = robust_value_iteration(mdp, lam, tol=1e-9 * s)
    b = risk_sensitive_value_iteration(mdp, 1.0 / lam, tol=1e-9 * s)
    assert a.converged and b.converged
    assert np.abs(a.v - b.v).max() <= a.error_bound + b.error_bound
    # robust values lie below the nominal ones
    nominal = value_iteration(mdp, tol=1e-9 * s)
    assert np.all(a.v <= nominal.v + a.error_bound + nominal.error_bound)


@settings(max_examples=examples(25), deadline=None)
@given(finite_mdps(max_states=8, gamma=st.sampled_from([0.0, 0.5, 0.9, 0.99])), LAMS,
       st.integers(0, 2**31), st.booleans())
def test_policy_evaluation_is_the_fixed_point(mdp, lam_rel, seed, soft):
    reg = Shannon(0.2) if soft else None
    s = _scale(mdp)
    lam = lam_rel * max(float(np.ptp(mdp.r)), 1e-3)
    pi = np.random.default_rng(seed).dirichlet(np.ones(mdp.A), size=mdp.S)
    ev = robust_policy_evaluation(mdp, pi, lam, reg=reg, tol=1e-9 * s)
    assert ev.converged and ev.error_bound <= 1e-9 * s
    T = robust_bellman_policy(mdp, pi, ev.v, lam, reg)
    # |T v - v| <= (1 + gamma) |v - v_pi|
    assert np.abs(T - ev.v).max() <= (1 + mdp.gamma) * ev.error_bound + 1e-12 * s
    # the optimal robust policy's value is the robust-VI value
    sol = robust_value_iteration(mdp, lam, reg=reg, tol=1e-9 * s)
    ev_star = robust_policy_evaluation(mdp, np.asarray(sol.policy), lam, reg=reg,
                                       tol=1e-9 * s)
    assert np.abs(ev_star.v - sol.v).max() <= (sol.policy_gap_bound + sol.error_bound
                                               + ev_star.error_bound)
    assert np.all(ev.v <= sol.v + sol.error_bound + ev.error_bound)


# ------------------------------------------------------------------ projection / PG


@settings(max_examples=examples(25), deadline=None)
@given(st.integers(1, 7), st.integers(1, 4), st.integers(0, 2**31),
       st.sampled_from([0.1, 1.0, 100.0]))
def test_simplex_projection_matches_a_qp(n, rows, seed, scale):
    import cvxpy as cp

    x = np.random.default_rng(seed).normal(0, scale, (rows, n))
    p = project_simplex(x)
    assert np.all(p >= 0) and np.allclose(p.sum(axis=1), 1.0, atol=1e-12)
    for i in range(rows):
        y = cp.Variable(n)
        cp.Problem(cp.Minimize(cp.sum_squares(y - x[i])), [cp.sum(y) == 1, y >= 0]).solve(
            solver="CLARABEL")
        # optimality of the projection: <x - p, q - p> <= 0 for every vertex q of the simplex
        assert ((np.eye(n) - p[i]) @ (x[i] - p[i])).max() <= 1e-9 * max(1.0, scale)
        # against the conic solver: p is at least as good, and by strong convexity
        # (f(y) - f(p) >= |y - p|^2 for feasible y) Clarabel's y is as close to p as its
        # own suboptimality allows -- not within a fixed 1e-6 (it missed by 5.7e-6 once)
        f_p, f_y = np.sum((p[i] - x[i]) ** 2), np.sum((y.value - x[i]) ** 2)
        slack = 1e-8 * max(1.0, scale) ** 2          # y's own infeasibility (~1e-9)
        assert f_p <= f_y + slack
        assert np.sum((y.value - p[i]) ** 2) <= (f_y - f_p) + slack


def test_projection_fixes_simplex_points_and_rejects_nan():
    pi = np.random.default_rng(0).dirichlet(np.ones(5), size=4)
    assert np.allclose(project_simplex(pi), pi, atol=1e-15)
    with pytest.raises(ValueError, match=r"x\[1, 2\]"):
        project_simplex(np.array([[0.0, 1.0, 0.0], [0.0, 0.0, np.nan]]))


def _small_mdp(seed=0, sparse=False):
    from proofs_check.claims.robust_risk import risky_mdp

    return risky_mdp(np.random.default_rng(seed), 4, 3, 0.5, sparse=sparse)


@pytest.mark.parametrize("sparse", [False, True])
def test_gradient_matches_finite_differences(sparse):
    mdp = _small_mdp(1, sparse)
    lam = 0.1
    rng = np.random.default_rng(2)
    pi = rng.dirichlet(np.ones(mdp.A), size=mdp.S)
    grad, J, _ = robust_policy_gradient(mdp, pi, lam)
    for _ in range(3):
        D = rng.normal(size=pi.shape)
        D -= D.mean(axis=1, keepdims=True)              # stay on the simplex
        h = 1e-5

        def Jf(p):
            return float(mdp.mu @ robust_policy_evaluation(mdp, p, lam, tol=1e-13).v)

        fd = (Jf(pi + h * D) - Jf(pi - h * D)) / (2 * h)
        assert abs(fd - float((grad * D).sum())) <= 1e-6 * (1 + abs(fd))


def test_projected_gradient_reaches_the_robust_optimum():
    mdp = _small_mdp(3)
    lam = 0.05
    res = robust_projected_gradient(mdp, lam, seed=4, n_iter=5000, tol=1e-3 / (1 - 0.5),
                                    record_policies=True)
    assert res.converged
    assert res.step_size == default_step_size(mdp)
    assert res.policies.shape == (res.iterations + 1, mdp.S, mdp.A)
    assert np.all(res.gap >= -1e-8)
    sol = robust_value_iteration(mdp, lam, tol=1e-11)
    assert abs(res.J_star - float(mdp.mu @ sol.v)) <= res.J_star_error + sol.error_bound


def test_bad_inputs_name_the_value():
    mdp = _small_mdp()
    with pytest.raises(ValueError, match="-1.0"):
        entropic_risk(mdp, np.zeros(mdp.S), -1.0)
    with pytest.raises(ValueError, match="lam > 0"):
        robust_projected_gradient(mdp, 0.0)
    with pytest.raises(ValueError, match="shape"):
        robust_bellman(mdp, np.zeros(mdp.S + 1), 1.0)
    with pytest.raises(TypeError):
        robust_value_iteration(mdp, "1.0")


def test_single_state_closed_form():
    """One state, one action: v = r / (1 - gamma) for every lam (the risk is over a point)."""
    mdp = FiniteMDP(np.ones((1, 1, 1)), [[2.0]], gamma=0.5)
    for lam in (0.0, 1e-6, 1.0, np.inf):
        assert robust_value_iteration(mdp, lam, tol=1e-12).v[0] == pytest.approx(4.0)


def test_entropic_rows_csr_with_explicit_zero():
    P = sp.csr_matrix((np.array([0.0, 0.5, 0.5]), np.array([0, 1, 2]), np.array([0, 3])),
                      shape=(1, 3))
    v = np.array([-100.0, 1.0, 2.0])
    # the explicit zero at state 0 is outside the support: the minimum is over {1, 2}
    assert _entropic_rows(P, v, 0.0)[0][0] == 1.0
