"""Tests of the batched array-API solvers (:mod:`tabular_rl.batched`).

Every function runs twice: on numpy, and on ``array_api_strict`` — the reference
implementation of the array API standard, which refuses anything outside it (numpy-only
functions, implicit casts, in-place tricks) — so an operation CuPy would not support fails
here, in CI, rather than on a user's GPU. Results are compared with the per-MDP numpy
solvers to 1e-10 on hypothesis-generated batches.
"""

from __future__ import annotations

import subprocess
import sys

import array_api_strict as xps
import numpy as np
import pytest
from _examples import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from tabular_rl import (
    KL,
    ConvergenceWarning,
    FiniteMDP,
    LogBarrier,
    Shannon,
    Tsallis,
    evaluate_policy,
    evaluate_regularized_policy,
    q_function,
    soft_value_iteration,
    value_iteration,
)
from tabular_rl.batched import (
    batched_garnet,
    batched_policy_evaluation,
    batched_policy_iteration,
    batched_policy_mirror_descent,
    batched_value_iteration,
    check_batch,
    greedy_step,
    stack_mdps,
)
from tabular_rl.testing.strategies import random_kernel

NAMESPACES = ["numpy", "strict"]


def _to(ns: str, *arrays):
    if ns == "numpy":
        return arrays
    return tuple(xps.asarray(a) for a in arrays)


def _np(x) -> np.ndarray:
    return np.asarray(x) if isinstance(x, np.ndarray) else np.from_dlpack(x)


@st.composite
def batches(draw, max_B=5, max_S=6, max_A=4):
    B = draw(st.integers(1, max_B))
    S = draw(st.integers(1, max_S))
    A = draw(st.integers(1, max_A))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    density = draw(st.sampled_from([1.0, 0.3]))
    det = draw(st.sampled_from([0.0, 0.5]))
    P = np.stack([random_kernel(rng, S, A, density=density, deterministic_frac=det)
                  for _ in range(B)])
    r = rng.uniform(-1, 1, (B, S, A)) if draw(st.booleans()) else \
        rng.integers(-2, 3, (B, S, A)).astype(float)
    gamma = rng.choice([0.0, 0.5, 0.9, 0.95], size=B)
    return P, r, gamma


def _reg(kind, A):
    ref = np.arange(1, A + 1) / (A * (A + 1) / 2)
    return {"none": None, "shannon": Shannon(0.3), "kl": KL(0.5, ref),
            "sparsemax": Tsallis(0.4, 2.0), "tsallis1.5": Tsallis(0.4, 1.5)}[kind]


KINDS = ["none", "shannon", "kl", "sparsemax", "tsallis1.5"]


@settings(max_examples=examples(20), deadline=None)
@given(batch=batches(), kind=st.sampled_from(KINDS))
def test_batched_vi_matches_the_per_mdp_solvers(batch, kind):
    _check_vi("numpy", batch, kind)


@settings(max_examples=examples(6), deadline=None)  # array_api_strict is slow per operation
@given(batch=batches(max_B=3, max_S=4), kind=st.sampled_from(KINDS))
def test_batched_vi_matches_the_per_mdp_solvers_array_api_strict(batch, kind):
    _check_vi("strict", batch, kind)


def _check_vi(ns, batch, kind):
    P, r, gamma = batch
    reg = _reg(kind, P.shape[2])
    sol = batched_value_iteration(*_to(ns, P, r, gamma), reg=reg, tol=1e-11)
    assert sol.converged
    v, pi, bound = _np(sol.v), _np(sol.policy), _np(sol.error_bound)
    assert np.all(bound <= 1e-11)
    for b in range(P.shape[0]):
        mdp = FiniteMDP(P[b], r[b], gamma[b])
        one = (value_iteration(mdp, tol=1e-11) if reg is None
               else soft_value_iteration(mdp, reg, tol=1e-11))
        np.testing.assert_allclose(v[b], one.v, rtol=0, atol=1e-10)
        if reg is not None:  # regularized greedy policies are unique and continuous in q
            np.testing.assert_allclose(pi[b], one.policy, rtol=0, atol=1e-8)
        else:  # the greedy policy is optimal within its certified gap
            gap = one.v - evaluate_policy(mdp, pi[b])
            assert np.all(gap <= _np(sol.policy_gap_bound)[b] + 1e-10)


@pytest.mark.parametrize("ns", NAMESPACES)
@settings(max_examples=examples(20), deadline=None)
@given(batch=batches(), kind=st.sampled_from(["none", "shannon", "kl", "sparsemax"]),
       seed=st.integers(0, 2**16))
def test_batched_policy_evaluation_matches(ns, batch, kind, seed):
    P, r, gamma = batch
    B, S, A, _ = P.shape
    reg = _reg(kind, A)
    pi = np.random.default_rng(seed).dirichlet(np.ones(A), size=(B, S))
    v = _np(batched_policy_evaluation(*_to(ns, P, r, gamma, pi), reg=reg))
    for b in range(B):
        mdp = FiniteMDP(P[b], r[b], gamma[b])
        ref = (evaluate_policy(mdp, pi[b]) if reg is None
               else evaluate_regularized_policy(mdp, pi[b], reg))
        np.testing.assert_allclose(v[b], ref, rtol=0, atol=1e-10 * (1 + np.abs(ref).max()))


@pytest.mark.parametrize("ns", NAMESPACES)
@settings(max_examples=examples(15), deadline=None)
@given(batch=batches(max_B=3), eta=st.sampled_from([0.5, 5.0]))
def test_batched_pmd_matches_a_per_mdp_loop(ns, batch, eta):
    P, r, gamma = batch
    B, S, A, _ = P.shape
    pol, values = batched_policy_mirror_descent(*_to(ns, P, r, gamma), eta=eta, n_iter=4)
    values = _np(values)
    for b in range(B):
        mdp = FiniteMDP(P[b], r[b], gamma[b])
        pi = np.full((S, A), 1.0 / A)
        for k in range(5):
            np.testing.assert_allclose(values[k, b], evaluate_policy(mdp, pi), rtol=0,
                                       atol=1e-10 * (1 + np.abs(values[k, b]).max()))
            z = np.log(pi) + eta * q_function(mdp, pi)
            pi = np.exp(z - z.max(1, keepdims=True))
            pi /= pi.sum(1, keepdims=True)
        # and exact PMD improves monotonically (Xiao 2022, Lemma 5)
        assert np.all(np.diff(values[:, b], axis=0) >= -1e-10 * (1 + np.abs(values).max()))


@pytest.mark.parametrize("ns", NAMESPACES)
@pytest.mark.parametrize("reg", [Shannon(1e-6), Shannon(2.0), KL(0.1, [0.5, 0.5, 0.0, 0.0]),
                                 Tsallis(1e-6, 2.0), Tsallis(0.7, 2.0), Tsallis(0.3, 1.5),
                                 Tsallis(0.3, 3.0)])
def test_greedy_step_matches_the_regularizers(ns, reg):
    q = np.random.default_rng(0).normal(scale=1e3, size=(7, 5, 4))
    val, pi = greedy_step(*_to(ns, q), reg=reg)
    v_ref, pi_ref = reg.max_omega(q)
    np.testing.assert_allclose(_np(val), v_ref, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(_np(pi), pi_ref, rtol=0, atol=1e-9)


def test_unsupported_regularizer_and_bad_batches_get_clear_errors():
    P, r, g = batched_garnet(2, 3, 2, 2, seed=0)
    with pytest.raises(TypeError, match="LogBarrier"):
        batched_value_iteration(P, r, g, reg=LogBarrier(1.0))
    bad = P.copy()
    bad[1, 2, 0, 0] += 0.1
    with pytest.raises(ValueError, match=r"P\[1, 2, 0, :\] sums to 1.1"):
        check_batch(bad, r, g)
    bad = P.copy()
    bad[0, 1, 1, 2] = -0.5
    with pytest.raises(ValueError, match=r"P\[0, 1, 1, 2\] = -0.5"):
        check_batch(bad, r, g)
    with pytest.raises(ValueError, match=r"gamma\[1\] = 1.0"):
        check_batch(P, r, np.array([0.5, 1.0]))
    with pytest.raises(ValueError, match="r must have shape"):
        check_batch(P, r[:, :2], g)
    with pytest.warns(ConvergenceWarning, match="max_iter=5"):
        sol = batched_value_iteration(P, r, 0.99, tol=1e-12, max_iter=5)
    assert not sol.converged


def test_stack_mdps_and_garnet():
    from tabular_rl.envs import garnet

    mdps = [garnet(6, 2, 3, gamma=0.8, seed=s) for s in range(3)]
    P, r, g = stack_mdps(mdps)
    sol = batched_value_iteration(P, r, g, tol=1e-10)
    for b, m in enumerate(mdps):
        np.testing.assert_allclose(sol.v[b], value_iteration(m, tol=1e-10).v, atol=2e-10)
    with pytest.raises(ValueError, match=r"mdps\[1\] has \(S, A\) = \(5, 2\)"):
        stack_mdps([mdps[0], garnet(5, 2, 3, seed=0)])
    P, r, g = batched_garnet(4, 10, 3, 4, gamma=0.7, seed=1)
    assert np.all((P > 0).sum(-1) == 4) and np.allclose(P.sum(-1), 1) and np.all(g == 0.7)


def test_importing_the_batched_solvers_does_not_import_cupy():
    code = ("import sys, tabular_rl.batched, numpy as np; "
            "from tabular_rl.batched import batched_garnet, batched_value_iteration as vi; "
            "vi(*batched_garnet(2, 3, 2, 2, seed=0)); print('cupy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("gamma", [0.5, 0.9, 0.99])
def test_certified_vi_bounds_hold_on_two_thousand_models_in_one_batch(gamma):
    """The foundation's VI certificate, checked against an independent method (policy
    iteration with exact linear solves) on 2,000 random models as one batch per method."""
    P, r, g = batched_garnet(2_000, 8, 3, 3, gamma=gamma, seed=int(gamma * 100))
    vi = batched_value_iteration(P, r, g, tol=1e-9)
    pi_star, v_star, _ = batched_policy_iteration(P, r, g)
    err = np.abs(vi.v - v_star).max(axis=1)
    assert np.all(err <= vi.error_bound), (err / vi.error_bound).max()
    gap = (v_star - batched_policy_evaluation(P, r, g, vi.policy)).max(axis=1)
    assert np.all(gap <= vi.policy_gap_bound + 1e-12)
    # the same on the array-API path (array_api_strict) for a slice of the batch
    s = batched_policy_iteration(*_to("strict", P[:50], r[:50], g[:50]))
    np.testing.assert_allclose(_np(s[1]), v_star[:50], rtol=0, atol=1e-10)


def test_batched_policy_iteration_matches_the_per_mdp_solver():
    from tabular_rl import policy_iteration

    P, r, g = batched_garnet(20, 6, 3, 2, gamma=0.95, seed=3)
    _, v, k = batched_policy_iteration(P, r, g)
    for b in range(20):
        ref = policy_iteration(FiniteMDP(P[b], r[b], 0.95))
        np.testing.assert_allclose(v[b], ref.v, rtol=0, atol=ref.error_bound + 1e-10)
