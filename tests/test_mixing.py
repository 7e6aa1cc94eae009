"""Exact mixing times and the switching MDP family."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from _examples import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from tabular_rl import FiniteMDP
from tabular_rl.envs.mixing import (
    chain_mixing_time,
    mixing_time,
    stationary_distribution,
    switching_mdp,
    switching_probability,
)


def two_state_closed_form(a: float, b: float, threshold: float = 0.25) -> int:
    r"""Chain [[1-a, a], [b, 1-b]]: eta = (b, a)/(a+b), lambda = 1 - a - b and
    d(m) = max(eta) |lambda|^m exactly (from state 0 the TV distance is eta_1 |lambda|^m,
    from state 1 it is eta_0 |lambda|^m), so t_mix = min{m >= 1 : max(eta)|lambda|^m <= 1/4}
    = max(1, ceil(log(threshold / max eta) / log |lambda|))."""
    threshold = threshold * (1 + 1e-9)                 # the library's tie margin (TIE_RTOL)
    eta_max = max(a, b) / (a + b)
    lam = abs(1.0 - a - b)
    if lam == 0.0:
        return 1
    m = max(1, int(np.ceil(np.log(threshold / eta_max) / np.log(lam))))
    # guard the ceil against rounding at exact powers
    while m > 1 and eta_max * lam ** (m - 1) <= threshold:
        m -= 1
    while eta_max * lam ** m > threshold:
        m += 1
    return m


def brute_force(P: np.ndarray, threshold: float = 0.25) -> int:
    threshold = threshold * (1 + 1e-9)
    eta = stationary_distribution(P)
    Pm = P.copy()
    for m in range(1, 100_000):
        if 0.5 * np.abs(Pm - eta).sum(axis=1).max() <= threshold:
            return m
        Pm = Pm @ P
    raise AssertionError("not mixed")


@settings(max_examples=examples(40), deadline=None)
@given(a=st.floats(0.001, 0.999), b=st.floats(0.001, 0.999))
def test_two_state_closed_form(a, b):
    P = np.array([[1 - a, a], [b, 1 - b]])
    assert chain_mixing_time(P) == two_state_closed_form(a, b)


def test_two_state_known_values():
    # symmetric chain: eta = (1/2, 1/2), d(m) = 0.8^m / 2 <= 1/4 first at m = 4 (0.2048)
    assert chain_mixing_time(np.array([[0.9, 0.1], [0.1, 0.9]])) == 4
    # lambda = -0.8 (oscillating, still aperiodic): the same |lambda|
    assert chain_mixing_time(np.array([[0.1, 0.9], [0.9, 0.1]])) == 4
    # other thresholds
    assert chain_mixing_time(np.array([[0.9, 0.1], [0.1, 0.9]]), threshold=0.01) == \
        two_state_closed_form(0.1, 0.1, 0.01)


def test_random_chains_match_brute_force():
    rng = np.random.default_rng(0)
    for S in (3, 4, 6):
        for _ in range(5):
            P = rng.dirichlet(np.full(S, 0.3), size=S)
            P = 0.9 * np.eye(S) + 0.1 * P          # slow mixing, several steps
            assert chain_mixing_time(P) == brute_force(P)


def test_mixing_time_is_max_over_deterministic_policies():
    rng = np.random.default_rng(1)
    P = rng.dirichlet(np.ones(3), size=(3, 2))
    P = 0.7 * np.eye(3)[:, None, :] + 0.3 * P
    mdp = FiniteMDP(P, np.zeros((3, 2)), 0.9)
    want = max(brute_force(P[np.arange(3), list(acts)])
               for acts in itertools.product(range(2), repeat=3))
    assert mixing_time(mdp) == want


def test_switching_mdp_closed_form():
    for p in (0.2, 0.05, 0.01):
        for spread, symmetric in ((1.0, False), (0.5, True)):
            mdp = switching_mdp(p, n_actions=5, spread=spread, symmetric=symmetric)
            q_off = np.asarray(mdp.P)[1, :, 0]
            want = max(two_state_closed_form(p, q) for q in q_off)
            assert mixing_time(mdp) == want
            assert np.argmin(q_off) == 4       # the last action is optimal


def test_switching_probability_inverts_mixing_time():
    for t in (5, 10, 40, 160):
        p = switching_probability(t)
        # of the chain with switch-off probability p (delta = 0), up to the integer ceiling
        assert abs(mixing_time(switching_mdp(p, n_actions=2, spread=1e-9)) - t) <= 1
        # other actions mix at a comparable speed
        assert t - 1 <= mixing_time(switching_mdp(p)) <= 1.3 * t + 1


def test_mixing_time_scales_like_one_over_p():
    ts = [mixing_time(switching_mdp(p)) for p in (0.02, 0.01, 0.005)]
    assert ts[1] / ts[0] == pytest.approx(2, rel=0.1)
    assert ts[2] / ts[1] == pytest.approx(2, rel=0.1)


def test_errors():
    with pytest.raises(ValueError, match="recurrent class"):
        chain_mixing_time(np.eye(2))
    with pytest.raises(ValueError, match="not mixed"):
        chain_mixing_time(np.array([[0.0, 1.0], [1.0, 0.0]]), max_t=1000)   # periodic
    with pytest.raises(ValueError, match="square"):
        chain_mixing_time(np.ones((2, 3)) / 3)
    with pytest.raises(ValueError, match="max_policies"):
        mixing_time(switching_mdp(0.1, n_actions=8), max_policies=10)
    with pytest.raises(ValueError, match="p must lie"):
        switching_mdp(0.6)
    with pytest.raises(ValueError, match="spread"):
        switching_mdp(0.1, spread=2.5, symmetric=True)
