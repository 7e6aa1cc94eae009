"""Tests of :mod:`tabular_rl.planning.average_reward`: relative value iteration and the LP.

Reference values: a two-state instance solved by hand (below), a periodic two-cycle, the
gain of a policy from its stationary distribution, the independent LP, and the limit
:math:`(1-\\gamma)\\,v^*_\\gamma \\to g^*` as :math:`\\gamma \\to 1`.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import tabular_rl as trl
from tabular_rl import (
    AverageRewardSolution,
    ConvergenceError,
    ConvergenceWarning,
    EpisodicMDP,
    FiniteMDP,
    average_reward_lp,
    policy_iteration,
    relative_value_iteration,
)

SOLVERS = [relative_value_iteration, average_reward_lp]
SOLVER_IDS = ["rvi", "lp"]


def two_state(sparse: bool = False) -> FiniteMDP:
    r"""Two states, two actions; g* = 8/7, h* = (0, -13/7), optimal actions (1, 1).

    Kernel and rewards::

        (0, a0): r = 1,     P = (1/2, 1/2)      (0, a1): r = 3,     P = (0, 1)
        (1, a0): r = 0,     P = (1/2, 1/2)      (1, a1): r = -1/4,  P = (3/4, 1/4)

    A two-state chain leaving 0 w.p. p and 1 w.p. q has stationary law (q, p)/(p+q). So
    (a0, a0): p = q = 1/2, gain 1/2;  (a0, a1): p = 1/2, q = 3/4, law (3/5, 2/5), gain
    3/5 - 1/10 = 1/2;  (a1, a0): p = 1, q = 1/2, law (1/3, 2/3), gain 1;  (a1, a1): p = 1,
    q = 3/4, law (3/7, 4/7), gain 9/7 - 1/7 = 8/7 = g*. Bias with h(0) = 0 from
    g + h = r + P h: state 0 gives 8/7 = 3 + h(1), h(1) = -13/7; state 1 checks:
    8/7 - 13/7 = -5/7 = -1/4 + (1/4)(-13/7). Optimality: at 0, a0 gives 1 - 13/14 = 1/14
    < 8/7; at 1, a0 gives -13/14 < -5/7. The optimal chain has a self-loop: aperiodic.
    """
    P = np.array([[[0.5, 0.5], [0.0, 1.0]], [[0.5, 0.5], [0.75, 0.25]]])
    r = [[1.0, 3.0], [0.0, -0.25]]
    mdp = FiniteMDP(P, r, gamma=0.9)
    return mdp.tosparse() if sparse else mdp


def two_cycle() -> FiniteMDP:
    """One action, 0 -> 1 -> 0 deterministically, rewards (1, 0): period 2.

    Stationary law (1/2, 1/2), so g = 1/2; g + h = r + P h with h(0) = 0 gives
    1/2 = 1 + h(1), h(1) = -1/2.
    """
    P = np.array([[[0.0, 1.0]], [[1.0, 0.0]]])
    return FiniteMDP(P, [[1.0], [0.0]], gamma=0.5)


def random_ergodic(seed: int, S: int = 12, A: int = 3, sparse: bool = False) -> FiniteMDP:
    """Every transition probability positive (dense) or a full self-loop plus a random
    cycle through all states on every row (CSR): every policy's chain is irreducible and
    aperiodic, so the MDP is unichain."""
    rng = np.random.default_rng(seed)
    r = rng.uniform(-1.0, 1.0, size=(S, A))
    if not sparse:
        P = rng.dirichlet(np.ones(S), size=(S, A))
        return FiniteMDP(P, r, gamma=0.9)
    perm = rng.permutation(S)
    nxt = np.empty(S, dtype=int)
    nxt[perm] = np.roll(perm, -1)           # a Hamiltonian cycle
    rows, cols, data = [], [], []
    for s in range(S):
        for a in range(A):
            succ = np.unique(np.concatenate([[s, nxt[s]], rng.choice(S, size=2)]))
            p = rng.dirichlet(np.ones(len(succ)))
            rows += [s * A + a] * len(succ)
            cols += list(succ)
            data += list(p)
    P = sp.csr_matrix((data, (rows, cols)), shape=(S * A, S))
    return FiniteMDP(P, r, gamma=0.9)


def policy_gain(mdp: FiniteMDP, pi: np.ndarray) -> float:
    """Gain of a policy with an irreducible chain: stationary law @ r_pi."""
    Ppi = trl.policy_transition(mdp, pi)
    Ppi = Ppi.toarray() if sp.issparse(Ppi) else Ppi
    S = mdp.S
    M = np.vstack([(Ppi.T - np.eye(S)), np.ones((1, S))])
    b = np.zeros(S + 1)
    b[S] = 1.0
    stat = np.linalg.lstsq(M, b, rcond=None)[0]
    return float(stat @ trl.policy_reward(mdp, pi))


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("solver", SOLVERS, ids=SOLVER_IDS)
def test_two_state_textbook(solver, sparse):
    res = solver(two_state(sparse))
    assert isinstance(res, AverageRewardSolution)
    assert res.converged, res.message
    assert res.gain == pytest.approx(8 / 7, abs=1e-9)
    assert res.gain_lower <= 8 / 7 <= res.gain_upper
    np.testing.assert_allclose(res.bias, [0.0, -13 / 7], rtol=0, atol=1e-8)
    np.testing.assert_array_equal(res.actions, [1, 1])


def test_rvi_bracket_is_tight_and_proven():
    res = relative_value_iteration(two_state(), tol=1e-12)
    assert res.gain_upper - res.gain_lower <= 1e-11
    assert res.gain_lower <= 8 / 7 <= res.gain_upper
    assert res.gain_bound <= 1e-11
    assert res.bias[0] == 0.0


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rvi_agrees_with_lp(seed, sparse):
    mdp = random_ergodic(seed, sparse=sparse)
    rvi = relative_value_iteration(mdp, tol=1e-10)
    lp = average_reward_lp(mdp)
    assert rvi.converged, rvi.message
    assert lp.converged, lp.message
    assert rvi.gain == pytest.approx(lp.gain, abs=1e-8)
    # each method's answer lies in the other's proven bracket
    assert rvi.gain_lower - 1e-9 <= lp.gain <= rvi.gain_upper + 1e-9
    assert lp.gain_lower - 1e-9 <= rvi.gain <= lp.gain_upper + 1e-9
    # relative values agree (both pinned at state 0)
    np.testing.assert_allclose(rvi.bias, lp.bias, rtol=0, atol=1e-7)
    # the returned policies achieve the gain: at least the certified lower bound
    for res in (rvi, lp):
        g_pi = policy_gain(mdp, res.policy)
        assert g_pi >= res.gain_lower - 1e-10
        assert g_pi <= res.gain_upper + 1e-10
        assert res.policy_gain_lower <= g_pi <= res.gain_upper + 1e-10


def test_policy_gain_lower_is_proven_for_a_bad_policy():
    """The bound holds for any policy: make the LP's policy worse and check the bound
    drops below its true gain (it may not claim optimality it does not have)."""
    from tabular_rl.planning.average_reward import _bracket, _policy_gain_lower

    mdp = random_ergodic(0, sparse=False)
    rvi = relative_value_iteration(mdp, tol=1e-10)
    _, q, _, _, fp = _bracket(mdp, rvi.bias)
    worst = np.zeros_like(rvi.policy)
    worst[np.arange(mdp.S), q.argmin(axis=1)] = 1.0
    bound = _policy_gain_lower(mdp, q, rvi.bias, worst, fp)
    g_worst = policy_gain(mdp, worst)
    assert bound <= g_worst < rvi.gain_lower


@pytest.mark.parametrize("seed", [0, 1])
def test_transient_states(seed):
    # States 6 and 7 are never entered (transient under every policy), with tempting
    # rewards that no stationary policy can collect in the long run.
    base = random_ergodic(seed, S=8)
    P = np.array(base.P)
    P[:, :, 6:] = 0.0
    P /= P.sum(axis=-1, keepdims=True)
    r = np.array(base.r)
    r[6:] += 5.0
    mdp = FiniteMDP(P, r, gamma=0.9)
    rvi = relative_value_iteration(mdp, tol=1e-11)
    lp = average_reward_lp(mdp)
    assert rvi.converged, rvi.message
    assert lp.converged, lp.message
    assert lp.gain == pytest.approx(rvi.gain, abs=1e-9)
    assert lp.gain_upper - lp.gain_lower <= 1e-9
    np.testing.assert_allclose(lp.bias, rvi.bias, rtol=0, atol=1e-8)
    assert rvi.gain < 1.0 + 1e-12          # the +5 rewards are not in the gain


@pytest.mark.parametrize("seed", [0, 1])
def test_vanishing_discount_limit(seed):
    # (1-gamma) v*_gamma = g* 1 + (1-gamma) h + O((1-gamma)^2) (Laurent expansion), so at
    # gamma = 0.9999 the gap is about 1e-4 * |h|, with |h| = O(1) here.
    mdp = random_ergodic(seed)
    g = relative_value_iteration(mdp, tol=1e-10).gain
    v = policy_iteration(mdp.with_gamma(0.9999)).v
    np.testing.assert_allclose((1 - 0.9999) * v, g, rtol=0, atol=1e-3)
    v = policy_iteration(mdp.with_gamma(0.99)).v     # and the gap shrinks with 1 - gamma
    assert np.abs(0.01 * v - g).max() > np.abs(1e-4 * policy_iteration(
        mdp.with_gamma(0.9999)).v - g).max()


def test_ref_state_pins_bias():
    mdp = random_ergodic(3)
    a = relative_value_iteration(mdp, ref_state=0)
    b = relative_value_iteration(mdp, ref_state=5)
    assert b.bias[5] == 0.0
    np.testing.assert_allclose(a.bias - a.bias[5], b.bias, rtol=0, atol=1e-7)
    c = average_reward_lp(mdp, ref_state=5)
    assert c.bias[5] == 0.0
    np.testing.assert_allclose(c.bias, b.bias, rtol=0, atol=1e-7)


def test_max_iter_warns():
    with pytest.warns(ConvergenceWarning, match=r"relative_value_iteration stopped at "
                                                r"max_iter=3 .* raise max_iter or loosen tol"):
        res = relative_value_iteration(random_ergodic(0), max_iter=3, tol=1e-14)
    assert not res.converged
    assert res.iterations == 3
    assert repr(res).startswith("AverageRewardSolution(NOT converged")
    assert res.gain_lower <= average_reward_lp(random_ergodic(0)).gain <= res.gain_upper


def test_max_iter_strict_raises():
    with pytest.raises(ConvergenceError, match="max_iter=3"):
        relative_value_iteration(random_ergodic(0), max_iter=3, tol=1e-14, strict=True)


def test_periodic_chain_needs_aperiodicity_transform():
    mdp = two_cycle()
    # Without the transform, h alternates between (0, -1) and (0, 0): sp(Th - h) stays 1.
    with pytest.warns(ConvergenceWarning, match="try aperiodicity=0.5"):
        res = relative_value_iteration(mdp, max_iter=200)
    assert not res.converged
    assert res.gain_upper - res.gain_lower == pytest.approx(1.0)
    # still a proven bracket
    assert res.gain_lower <= 0.5 <= res.gain_upper
    res = relative_value_iteration(mdp, aperiodicity=0.5, tol=1e-12)
    assert res.converged, res.message
    assert res.gain == pytest.approx(0.5, abs=1e-12)
    # the bias is reported for the original kernel, not the transformed one (h / tau)
    np.testing.assert_allclose(res.bias, [0.0, -0.5], rtol=0, atol=1e-10)
    lp = average_reward_lp(mdp)                     # the LP does not care about periodicity
    assert lp.gain == pytest.approx(0.5, abs=1e-12)


@pytest.mark.parametrize("tau", [0.3, 0.9, 1.0])
def test_aperiodicity_transform_keeps_gain_and_bias(tau):
    mdp = two_state()
    res = relative_value_iteration(mdp, aperiodicity=tau, tol=1e-12)
    assert res.converged, res.message
    assert res.gain == pytest.approx(8 / 7, abs=1e-10)
    np.testing.assert_allclose(res.bias, [0.0, -13 / 7], rtol=0, atol=1e-9)


def test_repr_verdict_first():
    res = relative_value_iteration(two_state())
    text = repr(res)
    assert text.startswith("AverageRewardSolution(converged, method='relative_value_iteration'")
    assert "gain=1.142857143" in text


@pytest.mark.parametrize(("kwargs", "exc", "match"), [
    ({"tol": 0.0}, ValueError, r"tol must lie in \(0"),
    ({"max_iter": 0}, ValueError, "max_iter must be >= 1"),
    ({"ref_state": 2}, ValueError, r"ref_state = 2 is not a state in 0..1"),
    ({"ref_state": -1}, ValueError, r"ref_state = -1 is not a state"),
    ({"ref_state": 0.5}, TypeError, "ref_state must be an integer"),
    ({"aperiodicity": 0.0}, ValueError, r"aperiodicity must lie in \(0, 1\]"),
    ({"aperiodicity": 1.5}, ValueError, r"aperiodicity must lie in \(0, 1\]"),
])
def test_rvi_validation(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        relative_value_iteration(two_state(), **kwargs)


@pytest.mark.parametrize(("kwargs", "exc", "match"), [
    ({"tol": -1.0}, ValueError, r"tol must lie in \(0"),
    ({"ref_state": 7}, ValueError, r"ref_state = 7 is not a state"),
    ({"solver": "glpk"}, ValueError, "solver must be one of"),
])
def test_lp_validation(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        average_reward_lp(two_state(), **kwargs)


@pytest.mark.parametrize("solver", SOLVERS, ids=SOLVER_IDS)
def test_episodic_mdp_rejected(solver):
    ep = EpisodicMDP(np.ones((1, 1, 1)), [[1.0]], H=3)
    with pytest.raises(TypeError, match="needs a FiniteMDP"):
        solver(ep)


def test_solution_is_immutable():
    res = relative_value_iteration(two_state())
    with pytest.raises(AttributeError):
        res.gain = 0.0
    with pytest.raises(ValueError, match="read-only"):
        res.bias[0] = 1.0
