"""Validation of FiniteMDP / EpisodicMDP: every error names the offending index and value."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from tabular_rl import EpisodicMDP, FiniteMDP, evaluate_policy


def _uniform(S=3, A=2):
    return np.full((S, A, S), 1.0 / S), np.zeros((S, A))


def test_valid_dense_and_sparse():
    P, r = _uniform()
    mdp = FiniteMDP(P, r, 0.9)
    assert (mdp.S, mdp.A, mdp.gamma, mdp.is_sparse) == (3, 2, 0.9, False)
    np.testing.assert_allclose(mdp.mu, np.full(3, 1 / 3))
    smdp = FiniteMDP(sp.csr_matrix(P.reshape(6, 3)), r, 0.9)
    assert smdp.is_sparse and smdp.P.shape == (6, 3)
    np.testing.assert_array_equal(smdp.todense().P, mdp.P)


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda P: P.__setitem__((1, 0, 0), 0.3), r"P\[1, 0, :\] sums to 0\.9666"),
        (lambda P: P.__setitem__((2, 1, 0), np.nan), r"P\[2, 1, 0\] is nan"),
        (lambda P: P.__setitem__((0, 1, 2), np.inf), r"P\[0, 1, 2\] is inf"),
        (lambda P: P.__setitem__((0, 1, slice(None)), [1.2, -0.2, 0.0]),
         r"P\[0, 1, 1\] = -0\.2 is negative"),
    ],
    ids=["row-sum", "nan", "inf", "negative"],
)
def test_dense_kernel_errors(mutate, match):
    P, r = _uniform()
    mutate(P)
    with pytest.raises(ValueError, match=match):
        FiniteMDP(P, r, 0.9)


def test_sparse_kernel_errors():
    P, r = _uniform()
    flat = P.reshape(6, 3).copy()
    flat[3, 2] = 0.5  # row s=1, a=1
    with pytest.raises(ValueError, match=r"P\[1, 1, :\] \(CSR row 3\) sums to 1\.1666"):
        FiniteMDP(sp.csr_matrix(flat), r, 0.9)
    flat = P.reshape(6, 3).copy()
    flat[5, 0] = -1.0
    with pytest.raises(ValueError, match=r"P\[2, 1, 0\] = -1 is negative"):
        FiniteMDP(sp.csr_matrix(flat), r, 0.9)
    flat = P.reshape(6, 3).copy()
    flat[4, 1] = np.nan
    with pytest.raises(ValueError, match=r"P\[2, 0, 1\] is nan"):
        FiniteMDP(sp.csr_matrix(flat), r, 0.9)
    with pytest.raises(TypeError, match="CSR format"):
        FiniteMDP(sp.csc_matrix(P.reshape(6, 3)), r, 0.9)
    with pytest.raises(ValueError, match=r"shape \(S\*A, S\)"):
        FiniteMDP(sp.csr_matrix(np.ones((5, 3)) / 3), r, 0.9)


def test_empty_csr_row_is_reported():
    flat = np.full((4, 2), 0.5)
    flat[2] = 0.0
    with pytest.raises(ValueError, match=r"P\[1, 0, :\] \(CSR row 2\) sums to 0, not 1"):
        FiniteMDP(sp.csr_matrix(flat), np.zeros((2, 2)), 0.5)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        (dict(gamma=1.0), ValueError, r"gamma must lie in \[0, 1\), got 1\.0"),
        (dict(gamma=-0.1), ValueError, r"gamma must lie in \[0, 1\), got -0\.1"),
        (dict(gamma=float("nan")), ValueError, "gamma must lie"),
        (dict(gamma="0.9"), TypeError, "gamma must be a real number"),
        (dict(r=np.zeros((3, 3))), ValueError, r"r must have shape \(3, 2\)"),
        (dict(r=np.zeros(6)), ValueError, "r must have 2 dimensions"),
        (dict(r=[[0, 0], [0, np.nan], [0, 0]]), ValueError, r"r\[1, 1\] is nan"),
        (dict(r=np.array([["a", "b"]] * 3)), TypeError, "real numeric dtype"),
        (dict(mu=[0.5, 0.6, -0.1]), ValueError, r"mu\[2\] = -0\.1 is negative"),
        (dict(mu=[0.5, 0.6, 0.1]), ValueError, r"mu sums to 1\.2, not 1"),
        (dict(mu=[0.5, 0.5]), ValueError, r"mu must have shape \(3,\)"),
        (dict(P=np.full((3, 2, 4), 0.25)), ValueError, r"P must have shape \(S, A, S\)"),
        (dict(P=np.full((3, 2), 0.5)), ValueError, "P must have 3 dimensions"),
    ],
)
def test_finite_mdp_argument_errors(kwargs, exc, match):
    P, r = _uniform()
    args = dict(P=P, r=r, gamma=0.9) | kwargs
    with pytest.raises(exc, match=match):
        FiniteMDP(**args)


def test_row_sum_tolerance_is_stated_and_adjustable():
    P, r = _uniform()
    P[0, 0] *= 1 + 1e-7
    with pytest.raises(ValueError, match=r"tolerance 1e-09"):
        FiniteMDP(P, r, 0.9)
    FiniteMDP(P, r, 0.9, atol=1e-6)


def test_immutable_and_input_not_aliased():
    P, r = _uniform()
    mdp = FiniteMDP(P, r, 0.9)
    with pytest.raises(AttributeError, match="immutable"):
        mdp.gamma = 0.5
    with pytest.raises(ValueError, match="read-only"):
        mdp.P[0, 0, 0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        mdp.r[0, 0] = 1.0
    P[0, 0, 0] = 7.0  # the caller's array is copied, not frozen or shared
    assert mdp.P[0, 0, 0] == pytest.approx(1 / 3)
    smdp = mdp.tosparse()
    with pytest.raises(ValueError, match="read-only"):
        smdp.P.data[0] = 1.0


def test_with_reward_and_gamma_validate():
    P, r = _uniform()
    mdp = FiniteMDP(P, r, 0.9)
    assert mdp.with_gamma(0.5).gamma == 0.5 and mdp.gamma == 0.9
    with pytest.raises(ValueError, match=r"r\[0, 1\] is inf"):
        mdp.with_reward([[0, np.inf], [0, 0], [0, 0]])


@pytest.mark.parametrize(
    ("pi", "match"),
    [
        (np.array([[0.5, 0.6], [1, 0], [0, 1]]), r"policy\[0, :\] sums to 1\.1, not 1"),
        (np.array([[1.5, -0.5], [1, 0], [0, 1]]), r"policy\[0, 1\] = -0\.5 is negative"),
        (np.ones((2, 2)) / 2, r"policy must have shape \(3, 2\)"),
        (np.array([[np.nan, 1], [1, 0], [0, 1]]), r"policy\[0, 0\] is nan"),
    ],
)
def test_policy_errors(pi, match):
    P, r = _uniform()
    with pytest.raises(ValueError, match=match):
        evaluate_policy(FiniteMDP(P, r, 0.9), pi)


def test_deterministic_policy_out_of_range():
    P, r = _uniform()
    with pytest.raises(ValueError, match=r"policy\[2\] = 2 is not an action in 0\.\.1"):
        evaluate_policy(FiniteMDP(P, r, 0.9), np.array([0, 1, 2]))


def test_episodic_validation():
    P, r = _uniform()
    e = EpisodicMDP(P, r, 4)
    assert (e.H, e.time_varying) == (4, False)
    Ph = np.stack([P] * 4)
    assert EpisodicMDP(Ph, np.zeros((4, 3, 2)), 4).time_varying
    with pytest.raises(ValueError, match="H must be >= 1, got 0"):
        EpisodicMDP(P, r, 0)
    with pytest.raises(TypeError, match="H must be an integer"):
        EpisodicMDP(P, r, 2.5)
    with pytest.raises(ValueError, match=r"shape \(H=3, S, A, S\)"):
        EpisodicMDP(Ph, r, 3)
    Ph[2, 1, 0, 0] = 0.9
    with pytest.raises(ValueError, match=r"P\[2, 1, 0, :\] sums to"):
        EpisodicMDP(Ph, r, 4)
    with pytest.raises(ValueError, match=r"r must have shape \(4, 3, 2\)"):
        EpisodicMDP(P, np.zeros((3, 3, 2)), 4)
    Ps = [sp.csr_matrix(P.reshape(6, 3))] * 2
    assert EpisodicMDP(Ps, r, 2).is_sparse
    with pytest.raises(ValueError, match="H=3 entries, got 2"):
        EpisodicMDP(Ps, r, 3)
    bad = P.reshape(6, 3).copy()
    bad[1, 1] = 0.0
    with pytest.raises(ValueError, match=r"P\[1\]\[0, 1, :\]"):
        EpisodicMDP([Ps[0], sp.csr_matrix(bad)], r, 2)
    pi = np.full((4, 3, 2), 0.5)
    pi[1, 2] = [1.0, 1.0]
    with pytest.raises(ValueError, match=r"policy\[1, 2, :\] sums to 2, not 1"):
        evaluate_policy(e, pi)


def test_regression_empty_last_csr_row_is_reported():
    """np.add.reduceat raised IndexError when the last CSR row was empty."""
    flat = np.full((4, 2), 0.5)
    flat[3] = 0.0
    with pytest.raises(ValueError, match=r"P\[1, 1, :\] \(CSR row 3\) sums to 0, not 1"):
        FiniteMDP(sp.csr_matrix(flat), np.zeros((2, 2)), 0.5)


def test_regression_malformed_csr_is_refused():
    """A CSR built from raw arrays with an out-of-range column used to pass validation,
    and the numba kernels (no bounds checks) would then read past v."""
    P = sp.csr_matrix((np.ones(4), np.array([0, 1, 0, 7]), np.arange(5)), shape=(4, 2))
    with pytest.raises(ValueError, match="not a well-formed CSR matrix"):
        FiniteMDP(P, np.zeros((2, 2)), 0.5)


def test_rows_within_tolerance_are_renormalized():
    P = np.full((2, 1, 2), 0.5)
    P[0, 0] *= 1 + 1e-10
    mdp = FiniteMDP(P, np.zeros((2, 1)), 0.9)
    np.testing.assert_allclose(mdp.P.sum(-1), 1.0, rtol=0, atol=4e-16)
    smdp = FiniteMDP(sp.csr_matrix(P.reshape(2, 2)), np.zeros((2, 1)), 0.9)
    np.testing.assert_allclose(smdp.P.sum(1), 1.0, rtol=0, atol=4e-16)
    assert mdp.todense() is mdp and smdp.todense().S == 2


def test_empty_sparse_kernel_is_refused():
    with pytest.raises(ValueError, match=r"must have shape \(S\*A, S\)"):
        FiniteMDP(sp.csr_matrix((0, 3)), np.zeros((3, 0)), 0.5)


def test_value_vector_shape_is_checked():
    from tabular_rl import bellman_optimality, q_values

    P, r = _uniform()
    for mdp in (FiniteMDP(P, r, 0.9), FiniteMDP(sp.csr_matrix(P.reshape(6, 3)), r, 0.9)):
        with pytest.raises(ValueError, match=r"v must have shape \(3,\)"):
            q_values(mdp, np.zeros(2))
        with pytest.raises(ValueError, match=r"v must have shape \(3,\)"):
            bellman_optimality(mdp, np.zeros(5))


def test_int_action_policies_everywhere():
    P, r = _uniform()
    mdp = FiniteMDP(P, r + np.arange(2), 0.9)
    np.testing.assert_allclose(evaluate_policy(mdp, np.array([1, 1, 1])), 1 / 0.1)
    with pytest.raises(ValueError, match=r"policy\[2\] = 2 is not an action in 0\.\.1"):
        evaluate_policy(mdp, np.array([0, 1, 2]))
    e = EpisodicMDP(P, r + np.arange(2), 3)
    np.testing.assert_allclose(evaluate_policy(e, np.array([1, 1, 1]))[0], 3.0)
    np.testing.assert_allclose(evaluate_policy(e, np.ones((3, 3), dtype=int))[0], 3.0)
    with pytest.raises(ValueError, match=r"policy\[1, 0\] = -1 is not an action"):
        evaluate_policy(e, np.array([[0, 0, 0], [-1, 0, 0], [0, 0, 0]]))


def test_certify_validates_and_copies_a_given_policy():
    from tabular_rl import certify

    P, r = _uniform()
    mdp = FiniteMDP(P, r, 0.9)
    pi = np.full((3, 2), 0.5)
    res = certify(mdp, np.zeros(3), method="x", iterations=0, converged=True, message="",
                  policy=pi)
    pi[0, 0] = 7.0  # the caller's array stays writable and is not aliased
    assert res.policy[0, 0] == 0.5
    with pytest.raises(ValueError, match=r"policy\[0, :\] sums to 2"):
        certify(mdp, np.zeros(3), method="x", iterations=0, converged=True, message="",
                policy=np.ones((3, 2)))
