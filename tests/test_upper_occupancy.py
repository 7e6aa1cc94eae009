"""Confidence set and upper/lower occupancy bounds (Comp-UOB, Jin et al. ICML 2020)."""

from __future__ import annotations

import numpy as np
import pytest
from _examples import examples
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from tabular_rl import EpisodicMDP
from tabular_rl.evaluation import state_occupancy
from tabular_rl.learners.upper_occupancy import (
    _extreme,
    occupancy_bounds,
    transition_confidence_set,
)


def _lp_extreme(f, p_bar, eps, maximize):
    """max/min <p, f> over {p in simplex, |p - p_bar| <= eps} by scipy's LP solver."""
    S = f.shape[0]
    bounds = [(max(p_bar[x] - eps[x], 0.0), min(p_bar[x] + eps[x], 1.0)) for x in range(S)]
    res = linprog(-f if maximize else f, A_eq=np.ones((1, S)), b_eq=[1.0], bounds=bounds,
                  method="highs")
    assert res.status == 0, res.message
    return float(f @ res.x)


def _lp_bounds(p_bar, eps, mu, pi):
    """Brute force: the backward recursion of Comp-UOB with every row's LP solved by
    linprog (exact because the set is a product over rows)."""
    H, S, A = pi.shape
    up = np.zeros((H, S))
    lo = np.zeros((H, S))
    for out, maximize in ((up, True), (lo, False)):
        out[0] = mu
        for h in range(1, H):
            for s in range(S):
                f = np.zeros(S)
                f[s] = 1.0
                for k in range(h - 1, -1, -1):
                    f = np.array([sum(pi[k, x, a] * _lp_extreme(f, p_bar[k, x, a],
                                                                 eps[k, x, a], maximize)
                                      for a in range(A)) for x in range(S)])
                out[h, s] = mu @ f
    return up, lo


@st.composite
def _instances(draw):
    H = draw(st.integers(1, 3))
    S = draw(st.integers(1, 3))
    A = draw(st.integers(1, 2))
    seed = draw(st.integers(0, 2**31))
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 6, size=(H - 1, S, A, S)) * (rng.random((H - 1, S, A, 1)) < 0.8)
    iota = float(rng.uniform(0.05, 2.0))
    pi = rng.dirichlet(np.ones(A), size=(H, S))
    mu = rng.dirichlet(np.ones(S))
    return counts, iota, pi, mu, rng


@settings(max_examples=examples(25), deadline=None)
@given(st.integers(1, 6), st.integers(0, 2**31), st.booleans())
def test_greedy_row_step_equals_linear_program(S, seed, maximize):
    rng = np.random.default_rng(seed)
    f = rng.random(S) * (rng.random(S) < 0.7)
    p_bar = rng.dirichlet(np.ones(S)) if rng.random() < 0.9 else np.zeros(S)
    eps = rng.uniform(0, 0.5, S) if p_bar.sum() > 0 else np.ones(S)
    got = _extreme(f, p_bar, eps, maximize, np.zeros(S, dtype=np.int64))
    assert got == pytest.approx(_lp_extreme(f, p_bar, eps, maximize), abs=1e-9)


@settings(max_examples=examples(25), deadline=None)
@given(_instances())
def test_occupancy_bounds_equal_brute_force_lp(inst):
    counts, iota, pi, mu, _ = inst
    p_bar, eps = transition_confidence_set(counts, iota)
    up, lo = occupancy_bounds(p_bar, eps, mu, pi)
    bu, bl = _lp_bounds(p_bar, eps, mu, pi)
    np.testing.assert_allclose(up, bu, atol=1e-9)
    np.testing.assert_allclose(lo, bl, atol=1e-9)
    assert np.all(lo <= up + 1e-12)


@settings(max_examples=examples(25), deadline=None)
@given(_instances())
def test_bounds_contain_the_occupancy_of_every_kernel_in_the_set(inst):
    """u >= q^{P,pi} >= l for kernels P of the set (its centre, a true kernel inside it,
    random members), and u = l = q^{P_bar, pi} when the radius is 0."""
    counts, _, pi, mu, rng = inst
    H, S, A = pi.shape
    P = rng.dirichlet(np.ones(S), size=(H, S, A))            # "true" kernel
    noise = rng.dirichlet(np.ones(S), size=(H - 1, S, A))
    p_bar = np.where(counts.sum(-1, keepdims=True) > 0, 0.7 * P[:H - 1] + 0.3 * noise, 0.0)
    eps = np.where(p_bar.sum(-1, keepdims=True) > 0, np.abs(P[:H - 1] - p_bar) + 0.01, 1.0)
    up, lo = occupancy_bounds(p_bar, eps, mu, pi)
    members = [P]
    for _ in range(3):                     # random members: mixtures with the true kernel
        lam = rng.random()
        members.append(np.concatenate([lam * P[:H - 1] + (1 - lam) * np.where(
            p_bar.sum(-1, keepdims=True) > 0, p_bar, P[:H - 1]), P[H - 1:]]))
    for K in members:
        q = state_occupancy(EpisodicMDP(K, np.zeros((H, S, A)), H=H, mu=mu), pi)
        assert np.all(q <= up + 1e-12) and np.all(q >= lo - 1e-12)
    # radius 0 (every row visited): the bounds collapse to the plug-in occupancy
    full = rng.dirichlet(np.ones(S), size=(H - 1, S, A))
    up0, lo0 = occupancy_bounds(full, np.zeros_like(full), mu, pi)
    Pk = np.concatenate([full, rng.dirichlet(np.ones(S), size=(1, S, A))])
    q0 = state_occupancy(EpisodicMDP(Pk, np.zeros((H, S, A)), H=H, mu=mu), pi)
    np.testing.assert_allclose(up0, q0, atol=1e-12)
    np.testing.assert_allclose(lo0, q0, atol=1e-12)


def test_confidence_radius_formula_and_validation():
    counts = np.array([[[5, 0, 3]], [[0, 0, 0]]], dtype=float)      # (2, 1, 3)
    p, e = transition_confidence_set(counts, 2.0)
    np.testing.assert_allclose(p[0, 0], [5 / 8, 0, 3 / 8])
    expect = 2 * np.sqrt(p[0, 0] * 2.0 / 7) + 14 * 2.0 / (3 * 7)
    np.testing.assert_allclose(e[0, 0], expect, rtol=1e-14)
    np.testing.assert_array_equal(e[1, 0], 1.0)                      # unvisited: simplex
    np.testing.assert_array_equal(p[1, 0], 0.0)
    with pytest.raises(ValueError, match=r"counts\[0, 0, 1\] = -1"):
        transition_confidence_set(np.array([[[1, -1]]]), 1.0)
    with pytest.raises(ValueError, match="iota"):
        transition_confidence_set(counts, 0.0)
    with pytest.raises(ValueError, match=r"shape \(H-1, S, A, S\)"):
        occupancy_bounds(np.zeros((2, 1, 1, 1)), np.zeros((2, 1, 1, 1)), [1.0],
                         np.ones((2, 1, 1)))
    with pytest.raises(ValueError, match=r"eps\[0, 0, 0, 0\] = -0.5"):
        occupancy_bounds(np.ones((1, 1, 1, 1)), np.full((1, 1, 1, 1), -0.5), [1.0],
                         np.ones((2, 1, 1)))
