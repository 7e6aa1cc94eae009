"""BTL / Plackett-Luce MLE, split estimator, pessimistic policy
(tabular_rl.learners.preferences)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from _examples import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from tabular_rl.exceptions import ConvergenceError, ConvergenceWarning
from tabular_rl.learners.preferences import (
    asymptotic_covariances,
    comparison_covariance,
    confidence_radius,
    greedy_policy,
    mle,
    pessimistic_policy,
    policy_features,
    sample_rankings,
    split_mle,
    split_rankings,
    uniform_offers,
)


def _instance(S=2, A=4, d=4, seed=0, norm=1.0):
    rng = np.random.default_rng(seed)
    phi = rng.normal(size=(S, A, d))
    phi /= np.linalg.norm(phi, axis=-1, keepdims=True)
    th = rng.normal(size=d)
    th -= th.mean()
    return phi, norm * th / np.linalg.norm(th)


def test_two_action_closed_form():
    th = mle(np.eye(2), None, np.array([[0, 1]] * 3 + [[1, 0]])).theta
    assert th[0] - th[1] == pytest.approx(np.log(3.0), abs=1e-9)
    assert th.sum() == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("K", [2, 3])
def test_mle_recovers_truth(K):
    phi, th = _instance(A=5)
    c, o = uniform_offers(2, 5, K, 40000, seed=1)
    rk = sample_rankings(phi, th, c, o, seed=2)
    res = mle(phi, c, rk)
    assert res.converged and res.mu == 0.0
    assert np.linalg.norm(res.theta - th) < 0.1
    res2 = split_mle(phi, c, rk)
    assert np.linalg.norm(res2.theta - th) < 0.1


def test_sampling_and_mle_batched_equal_single_and_reproducible():
    phi, th = _instance()
    c, o = uniform_offers(2, 4, 3, 300, seed=[5, 6])
    c1, o1 = uniform_offers(2, 4, 3, 300, seed=6)
    np.testing.assert_array_equal(c[1], c1)
    np.testing.assert_array_equal(o[1], o1)
    rk = sample_rankings(phi, th, c, o, seed=[7, 8])
    np.testing.assert_array_equal(rk, sample_rankings(phi, th, c, o, seed=[7, 8]))
    np.testing.assert_array_equal(rk[1], sample_rankings(phi, th, c1, o1, seed=8))
    batch = mle(phi, c, rk, bound=0.8)            # the ball binds for some seeds
    one = mle(phi, c1, rk[1], bound=0.8)
    np.testing.assert_allclose(batch.theta[1], one.theta, atol=1e-9)


def test_pl_sampling_frequencies():
    phi = np.eye(3)[None]
    th = np.array([1.0, 0.0, -1.0])
    rk = sample_rankings(phi, th, None, np.tile([0, 1, 2], (60000, 1)), seed=3)
    w = np.exp(th)
    p012 = w[0] / w.sum() * w[1] / (w[1] + w[2])
    freq = np.mean(np.all(rk == [0, 1, 2], axis=1))
    assert freq == pytest.approx(p012, abs=0.01)


def test_boundary_kkt():
    # separable data: the MLE is at infinity, the constrained one on the sphere
    res = mle(np.eye(3), None, np.array([[0, 1], [1, 2]]), bound=2.0, strict=True)
    assert np.linalg.norm(res.theta) == pytest.approx(2.0, rel=1e-6)
    assert res.mu > 0 and res.kkt_residual < 1e-8
    np.testing.assert_allclose(res.theta, [np.sqrt(2), 0.0, -np.sqrt(2)], atol=1e-6)


@settings(max_examples=examples(15), deadline=None)
@given(st.integers(0, 2**31 - 1), st.floats(0.2, 3.0))
def test_mle_is_kkt_point(seed, bound):
    """Random data and radius: the returned point beats feasible perturbations."""
    phi, th = _instance(seed=seed % 1000, norm=1.5)
    c, o = uniform_offers(2, 4, 2, 30, seed=seed)
    rk = sample_rankings(phi, th, c, o, seed=seed + 1)
    res = mle(phi, c, rk, bound=bound, strict=True)
    assert np.linalg.norm(res.theta) <= bound * (1 + 1e-9)
    assert abs(res.theta.sum()) < 1e-10

    def nll(t):
        u = phi[c[:, None], rk] @ t
        return np.mean(np.logaddexp(0.0, u[:, 1] - u[:, 0]))

    rng = np.random.default_rng(seed)
    base = nll(res.theta)
    for _ in range(20):
        z = rng.normal(size=4)
        z -= z.mean()
        cand = res.theta + 0.05 * rng.uniform() * z
        n = np.linalg.norm(cand)
        cand = cand if n <= bound else cand * bound / n
        assert nll(cand) >= base - 1e-10


def test_split_rankings_and_covariance():
    rk = np.array([[2, 0, 1]])
    ctx, pairs = split_rankings(np.array([1]), rk)
    np.testing.assert_array_equal(pairs, [[2, 0], [2, 1], [0, 1]])
    np.testing.assert_array_equal(ctx, [1, 1, 1])
    phi, _ = _instance(S=2, A=3, d=3)
    sig = comparison_covariance(phi, np.array([1]), rk)
    D = np.array([phi[1, a] - phi[1, b] for a, b in pairs])
    np.testing.assert_allclose(sig, D.T @ D / 3, atol=1e-14)


def test_asymptotic_efficiency_ordering():
    phi, th = _instance(S=2, A=4, d=4, norm=2.0)
    offers = np.array([(s,) + c for s in range(2) for c in itertools.combinations(range(4), 3)])
    cov_k, cov_2 = asymptotic_covariances(phi, th, offers)
    assert np.linalg.eigvalsh(cov_2 - cov_k).min() >= -1e-10 * np.trace(cov_2)
    assert np.trace(cov_2) > np.trace(cov_k)
    pairs = np.array([(s,) + c for s in range(2) for c in itertools.combinations(range(4), 2)])
    a, b = asymptotic_covariances(phi, th, pairs)          # K = 2: the two coincide
    np.testing.assert_allclose(a, b, atol=1e-10 * np.trace(a))


def test_pessimistic_policy_avoids_uncovered_action():
    phi = np.eye(3)[None]
    theta_hat = np.array([-1.05, -0.55, 1.6])          # MLE pushed toward the rare action
    rk = np.array([[1, 0]] * 999 + [[2, 0]])
    sig = comparison_covariance(phi, None, rk)
    assert greedy_policy(phi, theta_hat)[0] == 2
    f = confidence_radius(1000, 3, bound=2.0)
    assert pessimistic_policy(phi, theta_hat, sig, radius=f, lam=0.0,
                              reference=phi[0, 0])[0] != 2
    # radius 0 is greedy
    assert pessimistic_policy(phi, theta_hat, sig, radius=0.0, lam=0.0)[0] == 2
    pols, x = policy_features(_instance(S=2, A=3)[0])
    assert pols.shape == (9, 2) and x.shape == (9, 4)


def test_validation_and_convergence_errors():
    phi, th = _instance()
    with pytest.raises(ValueError, match=r"rankings\[1\] repeats"):
        mle(phi, np.array([0, 0]), np.array([[0, 1], [2, 2]]))
    with pytest.raises(ValueError, match=r"rankings\[0, 1\] = 9"):
        mle(phi, np.array([0]), np.array([[0, 9]]))
    with pytest.raises(ValueError, match=r"contexts\[0\] = 5"):
        mle(phi, np.array([5]), np.array([[0, 1]]))
    with pytest.raises(ValueError, match="K >= 2"):
        mle(phi, np.array([0]), np.array([[0]]))
    with pytest.raises(ValueError, match="bound"):
        mle(phi, np.array([0]), np.array([[0, 1]]), bound=-1.0)
    with pytest.raises(ValueError, match="K must lie"):
        uniform_offers(2, 4, 5, 10, seed=0)
    c, o = uniform_offers(2, 4, 2, 200, seed=0)
    rk = sample_rankings(phi, th, c, o, seed=1)
    with pytest.warns(ConvergenceWarning):
        mle(phi, c, rk, max_iter=2, tol=1e-30)
    with pytest.raises(ConvergenceError):
        mle(phi, c, rk, max_iter=2, tol=1e-30, strict=True)
