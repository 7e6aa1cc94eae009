"""Policy mirror descent and finite-memory PMD (tabular_rl.planning.pmd)."""

from __future__ import annotations

import numpy as np
import pytest
from _examples import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from proofs_check._instances import random_mdp, rng_for
from tabular_rl import (
    KL,
    ChiSquared,
    FiniteMDP,
    LogBarrier,
    Shannon,
    Tsallis,
    TsallisKL,
    q_function,
    regularized_q_function,
)
from tabular_rl.planning import policy_iteration, soft_policy_iteration
from tabular_rl.planning.pmd import (
    PMDResult,
    finite_memory_pmd,
    policy_mirror_descent,
    step_size_schedule,
)
from tabular_rl.testing.strategies import finite_mdps

_EPS = float(np.finfo(np.float64).eps)


def _tol(mdp) -> float:
    """Rounding of a difference of two LU-computed values (see proofs_check foundation)."""
    R = max(float(np.abs(mdp.r).max()), 1.0)
    return 8 * (mdp.S + 4) * _EPS * R / (1.0 - mdp.gamma) ** 2


def _mdp(i=0, S=8, A=3, gamma=0.9, sparse=False) -> FiniteMDP:
    return random_mdp(rng_for(123, i), S, A, gamma, sparse=sparse)


# ------------------------------------------------------------------ properties


@settings(max_examples=examples(25), deadline=None)
@given(finite_mdps(max_states=6, max_actions=4), st.floats(1e-3, 1e3),
       st.sampled_from(["constant", "geometric"]),
       st.sampled_from(["kl", "tsallis2", "tsallis15", "chi2", "logbarrier"]))
def test_monotone_improvement(mdp, eta0, schedule, mirror):
    """Xiao (2022), PMD improves every state: V^{pi_{k+1}} >= V^{pi_k} componentwise."""
    A = mdp.A
    psi = {"kl": None, "tsallis2": Tsallis(1.0), "tsallis15": Tsallis(1.0, 1.5),
           "chi2": ChiSquared(1.0, np.full(A, 1.0 / A)), "logbarrier": LogBarrier(1.0)}[mirror]
    res = policy_mirror_descent(mdp, n_iter=8, step_size=eta0, schedule=schedule, mirror=psi)
    assert np.all(np.diff(res.values, axis=0) >= -_tol(mdp))
    assert np.all(np.diff(res.suboptimality) <= _tol(mdp))
    assert np.all(np.isfinite(res.values))


@settings(max_examples=examples(25), deadline=None)
@given(finite_mdps(max_states=6, max_actions=4, gamma=st.floats(0.0, 0.95)))
def test_log_space_stable_at_huge_steps(mdp):
    """eta = 1e6 and growing: no NaN/inf in values, rows on the simplex, reaches the optimum."""
    res = policy_mirror_descent(mdp, n_iter=30, step_size=1e6, schedule="geometric")
    assert np.all(np.isfinite(res.values))
    assert not np.any(np.isnan(res.log_policy))
    assert np.all(res.log_policy <= 0)
    np.testing.assert_allclose(res.policy.sum(axis=1), 1.0, atol=1e-12)
    R = max(float(np.abs(mdp.r).max()), 1.0)
    assert res.suboptimality[-1] <= 1e-5 * R / (1 - mdp.gamma)


def test_constant_huge_step_is_policy_iteration():
    mdp = _mdp(1)
    res = policy_mirror_descent(mdp, n_iter=10, step_size=1e6)
    assert res.suboptimality[-1] <= _tol(mdp)
    assert np.isneginf(res.log_policy).any() or np.min(res.log_policy) < -1e5


# ------------------------------------------------------------------ convergence


def test_geometric_beats_constant_and_converges():
    mdp = _mdp(2, gamma=0.8)
    geo = policy_mirror_descent(mdp, n_iter=120, step_size=0.05, schedule="geometric")
    con = policy_mirror_descent(mdp, n_iter=120, step_size=0.05)
    assert geo.suboptimality[-1] <= _tol(mdp)
    assert con.suboptimality[-1] > 1e3 * geo.suboptimality[-1] + _tol(mdp)
    np.testing.assert_allclose(geo.step_sizes[:3], 0.05 / 0.8 ** np.arange(3))


@pytest.mark.parametrize("mirror,reg", [
    (None, Shannon(0.5)),
    (Shannon(2.0), KL(0.5, np.array([0.2, 0.3, 0.5]))),
    (Tsallis(1.0), Tsallis(0.5)),
    (ChiSquared(1.0, np.full(3, 1 / 3)), ChiSquared(0.5, np.full(3, 1 / 3))),
])
def test_regularized_pmd_reaches_soft_optimum(mirror, reg):
    mdp = _mdp(3, A=3, gamma=0.8)
    res = policy_mirror_descent(mdp, n_iter=150, step_size=1.0, mirror=mirror, reg=reg)
    opt = soft_policy_iteration(mdp, reg)
    assert res.regularizer is reg
    assert res.suboptimality[-1] <= 1e-8 * (1 + np.abs(opt.v).max())
    np.testing.assert_allclose(res.policy, opt.policy, atol=1e-6)


def test_sparse_kernel_matches_dense():
    d = _mdp(4, sparse=False)
    import scipy.sparse as sp

    s = FiniteMDP(sp.csr_matrix(d.P.reshape(d.S * d.A, d.S)), d.r, d.gamma, d.mu)
    a = policy_mirror_descent(d, n_iter=20, step_size=0.3)
    b = policy_mirror_descent(s, n_iter=20, step_size=0.3)
    np.testing.assert_allclose(a.policy, b.policy, atol=1e-10)


def test_kl_reference_mirror_equals_shannon():
    mdp = _mdp(5, A=3)
    a = policy_mirror_descent(mdp, n_iter=15, step_size=0.4, mirror=Shannon(1.0))
    b = policy_mirror_descent(mdp, n_iter=15, step_size=0.4,
                              mirror=KL(1.0, np.array([0.1, 0.2, 0.7])))
    c = policy_mirror_descent(mdp, n_iter=15, step_size=0.4,
                              mirror=TsallisKL(1.0, np.full(3, 1 / 3), q_index=1.0))
    np.testing.assert_allclose(a.policy, b.policy, atol=1e-12)
    np.testing.assert_allclose(a.policy, c.policy, atol=1e-12)


def test_tsallis2_is_projected_q_ascent():
    from tabular_rl.regularizers import _sparsemax

    mdp = _mdp(6, A=4)
    eta = 0.7
    res = policy_mirror_descent(mdp, n_iter=1, step_size=eta, mirror=Tsallis(1.0),
                                record_policies=True)
    pi0 = res.policies[0]
    expect = _sparsemax(pi0 + eta * q_function(mdp, pi0) / 2.0)
    np.testing.assert_allclose(res.policies[1], expect, atol=1e-12)


# ------------------------------------------------------------------ noisy Q, oracle


def test_noisy_q_is_seeded():
    mdp = _mdp(7)
    a = policy_mirror_descent(mdp, n_iter=5, q_noise=0.5, seed=3)
    b = policy_mirror_descent(mdp, n_iter=5, q_noise=0.5, seed=3)
    c = policy_mirror_descent(mdp, n_iter=5, q_noise=0.5, seed=4)
    np.testing.assert_array_equal(a.policy, b.policy)
    assert not np.allclose(a.policy, c.policy)


def test_q_oracle_used_and_checked():
    mdp = _mdp(8)
    calls = []

    def oracle(m, pi, k, rng):
        calls.append(k)
        return q_function(m, pi)

    exact = policy_mirror_descent(mdp, n_iter=4)
    via = policy_mirror_descent(mdp, n_iter=4, q_oracle=oracle)
    assert calls == [0, 1, 2, 3]
    np.testing.assert_allclose(exact.policy, via.policy, atol=1e-13)
    with pytest.raises(ValueError, match="shape"):
        policy_mirror_descent(mdp, n_iter=2, q_oracle=lambda m, pi, k, rng: np.zeros(3))
    with pytest.raises(ValueError, match="iteration 0.*state 0, action 0"):
        policy_mirror_descent(mdp, n_iter=2,
                              q_oracle=lambda m, pi, k, rng: np.full((m.S, m.A), np.nan))


# ------------------------------------------------------------------ validation


def test_bad_inputs():
    mdp = _mdp(9)
    with pytest.raises(ValueError, match="n_iter"):
        policy_mirror_descent(mdp, n_iter=0)
    with pytest.raises(ValueError, match="step_size"):
        policy_mirror_descent(mdp, step_size=-1.0)
    with pytest.raises(ValueError, match="schedule"):
        policy_mirror_descent(mdp, schedule="cosine")
    with pytest.raises(ValueError, match=r"schedule\(1\) = 0.0"):
        policy_mirror_descent(mdp, n_iter=5, schedule=lambda k: 1.0 - k)
    with pytest.raises(ValueError, match="no closed-form"):
        policy_mirror_descent(mdp, mirror=Tsallis(1.0), reg=Shannon(1.0))
    with pytest.raises(ValueError, match="no mirror step"):
        policy_mirror_descent(mdp, mirror=_OddReg())
    with pytest.raises(TypeError):
        policy_mirror_descent(mdp, mirror="kl")
    with pytest.raises(ValueError, match="growth"):
        step_size_schedule(1.0, "geometric", 3, gamma=0.5, growth=-2.0)
    assert step_size_schedule(1.0, "geometric", 3, gamma=0.0).tolist() == [1.0, 1e300, 1e300]


class _OddReg:
    """Satisfies the Regularizer protocol but is no known family."""

    tau = 1.0

    def value(self, pi):
        return np.zeros(np.shape(pi)[:-1])

    def conjugate(self, q):
        return np.max(q, axis=-1)

    def greedy(self, q):
        return np.eye(np.shape(q)[-1])[np.argmax(q, axis=-1)]

    def max_omega(self, q):
        return self.conjugate(q), self.greedy(q)

    def bregman(self, p, p2):
        return np.zeros(np.shape(p)[:-1])


# ------------------------------------------------------------------ StaQ


def test_infinite_memory_is_regularized_pmd():
    mdp = _mdp(10, gamma=0.7)
    tau, kl = 0.4, 1.5
    a = finite_memory_pmd(mdp, tau, kl_coef=kl, memory=None, n_iter=25, record_policies=True)
    b = policy_mirror_descent(mdp, n_iter=25, step_size=1 / kl, mirror=Shannon(1.0),
                              reg=Shannon(tau), record_policies=True)
    np.testing.assert_allclose(a.policies, b.policies, atol=1e-12)
    c = finite_memory_pmd(mdp, tau, kl_coef=kl, memory=25, n_iter=25, record_policies=True,
                          variant="vanilla")
    np.testing.assert_allclose(a.policies, c.policies, atol=1e-12)
    d = finite_memory_pmd(mdp, tau, kl_coef=kl, memory=None, n_iter=25, record_policies=True,
                          variant="vanilla")
    np.testing.assert_allclose(a.policies, d.policies, atol=1e-12)


def test_corrected_memory_one_is_soft_policy_iteration():
    """M = 1 with weights alpha/(1 - beta) = 1/tau: pi_{k+1} = softmax(Q^{pi_k}_tau / tau)."""
    mdp = _mdp(14, gamma=0.7)
    tau, kl = 0.4, 1.5
    res = finite_memory_pmd(mdp, tau, kl_coef=kl, memory=1, n_iter=6, record_policies=True)
    for k in range(6):
        q = regularized_q_function(mdp, res.policies[k], Shannon(tau))
        z = np.exp((q - q.max(axis=1, keepdims=True)) / tau)
        np.testing.assert_allclose(res.policies[k + 1], z / z.sum(axis=1, keepdims=True),
                                   atol=1e-12)


def test_corrected_weights_are_rescaled_vanilla():
    """Full window: corrected logits = vanilla logits / (1 - beta^M) (same stored Q's)."""
    mdp = _mdp(15, gamma=0.6)
    tau, kl, M = 0.5, 1.0, 3
    beta = kl / (kl + tau)
    seen = []

    def oracle(m, pi, k, rng):
        seen.append(pi)
        return regularized_q_function(m, pi, Shannon(tau))

    res = finite_memory_pmd(mdp, tau, kl_coef=kl, memory=M, n_iter=5, q_oracle=oracle)
    qs = [regularized_q_function(mdp, p, Shannon(tau)) for p in seen[-M:]][::-1]
    z = sum(beta**i * q for i, q in enumerate(qs)) / (kl + tau) / (1 - beta**M)
    z = z - z.max(axis=1, keepdims=True)
    ref = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(res.policy, ref, atol=1e-12)


def test_finite_memory_corrected_unbiased_vanilla_biased():
    mdp = _mdp(11, gamma=0.7)
    tau, beta = 1.0, 0.5
    kl = tau * beta / (1 - beta)
    errs = []
    for M in (1, 2, 4, 8):
        van = finite_memory_pmd(mdp, tau, kl_coef=kl, memory=M, n_iter=300, variant="vanilla")
        B = tau * np.log(mdp.A) * beta**M / ((1 - beta**M) * (1 - mdp.gamma))
        assert van.suboptimality[-1] <= B
        errs.append(van.suboptimality[-1])
        cor = finite_memory_pmd(mdp, tau, kl_coef=kl, memory=M, n_iter=300)
        assert cor.suboptimality[-1] <= 1e-9 < van.suboptimality[-1]
    assert np.all(np.diff(errs) < 0)
    full = finite_memory_pmd(mdp, tau, kl_coef=kl, n_iter=300)
    assert full.suboptimality[-1] <= 1e-9


def test_finite_memory_validation():
    mdp = _mdp(12)
    with pytest.raises(ValueError, match="memory"):
        finite_memory_pmd(mdp, 1.0, kl_coef=1.0, memory=0)
    with pytest.raises(TypeError, match="memory"):
        finite_memory_pmd(mdp, 1.0, kl_coef=1.0, memory=2.5)
    with pytest.raises(ValueError, match="kl_coef"):
        finite_memory_pmd(mdp, 1.0, kl_coef=0.0)
    with pytest.raises(ValueError, match="tau"):
        finite_memory_pmd(mdp, -1.0, kl_coef=1.0)
    with pytest.raises(ValueError, match="variant"):
        finite_memory_pmd(mdp, 1.0, kl_coef=1.0, memory=2, variant="truncated")


def test_result_type_and_reference():
    mdp = _mdp(13)
    res = policy_mirror_descent(mdp, n_iter=3)
    assert isinstance(res, PMDResult)
    assert res.n_iter == 3 and res.values.shape == (4, mdp.S)
    assert res.policies is None
    opt = policy_iteration(mdp)
    np.testing.assert_allclose(res.v_star, opt.v, atol=1e-8 * (1 + np.abs(opt.v).max()))
    with pytest.raises(AttributeError):
        res.policy = None
