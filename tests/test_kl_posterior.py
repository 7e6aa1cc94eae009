"""The Gibbs posterior of the KL-regularized objective, sequence and token level."""

from __future__ import annotations

import numpy as np
import pytest
from _examples import examples
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp

from tabular_rl.envs import tree_mdp
from tabular_rl.planning.kl_posterior import (
    autoregressive_logprobs,
    entropy_from_logp,
    gibbs_posterior,
    kl_objective,
    prefix_tree_mdp,
    sequence_space,
    token_level_posterior,
)

_U = np.finfo(float).eps / 2


@st.composite
def problems(draw, max_n=40):
    n = draw(st.integers(1, max_n))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    p0 = rng.dirichlet(np.full(n, draw(st.sampled_from([0.1, 1.0, 10.0]))))
    if draw(st.booleans()) and n > 1:
        p0[rng.random(n) < 0.3] = 0.0
        p0[rng.integers(n)] += 0.5
    p0 /= p0.sum()
    with np.errstate(divide="ignore"):
        logp0 = np.log(p0)
    logp0 -= logsumexp(logp0)
    scale = draw(st.sampled_from([1e-2, 1.0, 1e3]))
    if draw(st.booleans()):
        r = rng.integers(-2, 3, n) * scale
    else:
        r = rng.uniform(-scale, scale, n)
    beta = draw(st.sampled_from([1e-6, 1e-3, 0.1, 1.0, 10.0, 1e3, 1e6]))
    supp = np.isfinite(logp0)
    p = np.zeros(n)
    p[supp] = rng.dirichlet(np.full(supp.sum(), draw(st.sampled_from([0.1, 1.0]))))
    return logp0, r.astype(float), beta, p / p.sum()


def _kl(p, logq):
    pos = p > 0
    return float(np.sum(p[pos] * (np.log(p[pos]) - logq[pos])))


@settings(max_examples=examples(25), deadline=None)
@given(problems())
def test_objective_identity_and_maximizer(prob):
    logp0, r, beta, p = prob
    post = gibbs_posterior(logp0, r, beta)
    J = kl_objective(p, logp0, r, beta)
    rhs = post.beta_log_z - beta * _kl(p, post.logp)
    pos = p > 0
    M = (np.abs(r).max() + abs(post.beta_log_z)
         + beta * np.max(np.abs(logp0[pos]) + np.abs(np.log(p[pos])) + np.abs(post.logp[pos])))
    tol = 8 * (r.size + 10) * _U * M
    assert abs(J - rhs) <= tol
    J_star = kl_objective(post.p / post.p.sum(), logp0, r, beta)
    assert J <= J_star + tol
    assert np.all(np.isfinite(post.logp[np.isfinite(logp0)])) or beta < 1e-3
    assert post.p.sum() == pytest.approx(1.0, abs=1e-12)


@settings(max_examples=examples(25), deadline=None)
@given(st.integers(1, 4), st.integers(1, 4), st.integers(0, 2**32 - 1),
       st.sampled_from([1e-6, 0.05, 1.0, 30.0, 1e6]))
def test_token_level_equals_sequence_posterior(V, T, seed, beta):
    rng = np.random.default_rng(seed)
    n_in = T if V == 1 else (V**T - 1) // (V - 1)
    cond0 = rng.dirichlet(np.ones(V), size=n_in)
    r = rng.uniform(-2, 2, V**T)
    lp0 = autoregressive_logprobs(cond0, V, T)
    post = gibbs_posterior(lp0, r, beta)
    cond, value = token_level_posterior(cond0, r, beta, V, T)
    with np.errstate(divide="ignore"):
        lp = autoregressive_logprobs(cond, V, T)
    tol = 8 * T * (V + 12) * _U * (2 / beta + np.abs(lp0).max() + 1)
    ok = post.logp >= -700
    assert np.abs(lp[ok] - post.logp[ok]).max() <= tol
    assert np.abs(np.exp(lp) - post.p).max() <= tol
    assert abs(value - post.beta_log_z) <= 8 * T * (V + 12) * _U * (
        2 + beta * np.abs(lp0).max() + abs(post.beta_log_z))


def test_examples_small():
    post = gibbs_posterior(np.log([0.5, 0.5]), [0.0, np.log(3.0)], 1.0)
    np.testing.assert_allclose(post.p, [0.25, 0.75])
    assert post.beta_log_z == pytest.approx(np.log(2.0))


def test_extreme_beta_finite_and_correct():
    rng = np.random.default_rng(0)
    n = 50
    logp0 = np.log(rng.dirichlet(np.ones(n)))
    logp0 -= logsumexp(logp0)
    r = rng.uniform(-1e6, 1e6, n)
    small = gibbs_posterior(logp0, r, 1e-6)
    assert np.all(np.isfinite(small.logp)) and np.isfinite(small.beta_log_z)
    # collapse onto the unique argmax: log-probabilities of order -1e12, exactly 0 at the top
    assert small.logp[np.argmax(r)] == 0.0 and small.entropy == 0.0
    top = np.argmax(r)     # beta log Z -> r_max + beta log pi0(x*) (other terms underflow)
    assert small.beta_log_z == pytest.approx(r[top] + 1e-6 * logp0[top], rel=1e-15)
    big = gibbs_posterior(logp0, np.array(rng.uniform(-1, 1, n)), 1e6)
    np.testing.assert_allclose(big.logp, logp0, atol=3e-6)    # |r|/beta = 1e-6 tilt
    lim = gibbs_posterior(logp0, r, 0.0)
    np.testing.assert_array_equal(lim.p, small.p)


def test_beta_zero_limit_with_ties_is_prior_weighted():
    logp0 = np.log([0.1, 0.2, 0.3, 0.4])
    r = np.array([1.0, 0.0, 1.0, 0.5])
    lim = gibbs_posterior(logp0, r, 0.0)
    np.testing.assert_allclose(lim.p, [0.25, 0.0, 0.75, 0.0])
    np.testing.assert_allclose(gibbs_posterior(logp0, r, 1e-6).p, lim.p, atol=1e-300)
    assert lim.entropy == pytest.approx(-(0.25 * np.log(0.25) + 0.75 * np.log(0.75)))


def test_entropy_decreases_to_zero_as_beta_decreases_uniform_prior():
    rng = np.random.default_rng(3)
    n = 30
    logp0 = np.full(n, -np.log(n))
    r = rng.normal(size=n)
    betas = np.logspace(-6, 6, 60)
    H = np.array([gibbs_posterior(logp0, r, b).entropy for b in betas])
    assert np.all(np.diff(H) >= -1e-12) and H[0] == 0.0
    assert H[-1] == pytest.approx(np.log(n), abs=1e-6)


def test_support_and_objective_edge_cases():
    logp0 = np.array([np.log(0.5), np.log(0.5), -np.inf])
    r = np.array([0.0, 1.0, 100.0])
    post = gibbs_posterior(logp0, r, 1.0)
    assert post.p[2] == 0.0                    # no mass outside the prior's support
    assert kl_objective([0, 0, 1.0], logp0, r, 1.0) == -np.inf
    assert entropy_from_logp(post.logp) == pytest.approx(post.entropy)


def test_sequence_space_matches_tree_leaves():
    X = sequence_space(3, 3)
    assert X.shape == (27, 3)
    assert [tuple(x) for x in X] == sorted(tuple(x) for x in X)
    r = np.arange(27.0)
    mdp = prefix_tree_mdp(r, 3, 3)
    tree = tree_mdp(3, 3, seed=0)
    # walk each sequence through the tree and collect the reward on the last step
    for x, rx in zip(X, r, strict=True):
        s = 0
        for t, a in enumerate(x):
            if t == 2:
                assert mdp.r_at(t)[s, a] == rx
            s = tree.A * s + 1 + a


def test_bad_inputs_name_the_problem():
    with pytest.raises(ValueError, match="normalized"):
        gibbs_posterior(np.log([0.5, 0.6]), [0.0, 1.0], 1.0)
    with pytest.raises(ValueError, match="r"):
        gibbs_posterior(np.log([0.5, 0.5]), [0.0, 1.0, 2.0], 1.0)
    with pytest.raises(ValueError, match="beta"):
        gibbs_posterior(np.log([0.5, 0.5]), [0.0, 1.0], -1.0)
    with pytest.raises(ValueError, match=r"logp0\[1\]"):
        gibbs_posterior(np.array([0.0, np.nan]), [0.0, 1.0], 1.0)
    with pytest.raises(ValueError, match="cond"):
        autoregressive_logprobs(np.ones((2, 2)) / 2, 2, 2)
