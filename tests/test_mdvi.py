"""Properties of MD-VI, its averaged form, Munchausen VI and MVI(q)."""

import numpy as np
import pytest
from _examples import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from tabular_rl.envs.random_mdps import garnet
from tabular_rl.planning import policy_iteration
from tabular_rl.planning.mdvi import (
    md_vi,
    md_vi_averaged,
    munchausen_vi,
    q_log,
    tsallis_munchausen_vi,
)
from tabular_rl.testing.strategies import finite_mdps

K = 15


def _scale(mdp):
    return (float(np.abs(mdp.r).max()) + 1.0) / (1.0 - mdp.gamma)


@settings(max_examples=examples(25), deadline=None)
@given(finite_mdps(max_states=6), st.floats(0.1, 3.0), st.sampled_from([0.0, 0.3, 2.0]),
       st.integers(0, 2**31))
def test_kl_policy_is_softmax_of_weighted_sum(mdp, lam, tau_rel, seed):
    tau = tau_rel * lam
    res = md_vi(mdp, lam=lam, tau=tau, n_iter=K, noise_scale=0.5, seed=seed,
                record="iterates")
    beta = lam / (lam + tau)
    for k in range(1, K + 1):
        w = beta ** np.arange(k)[::-1]
        z = np.einsum("j,jsa->sa", w, res.q_history[:k]) / (lam + tau)
        z -= z.max(axis=1, keepdims=True)
        pi = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        M = np.abs(z).max() + np.abs(res.q_history[:k]).max() * k / (lam + tau) + 1
        assert np.abs(res.policy_history[k - 1] - pi).max() <= 1e-12 * M * k


@settings(max_examples=examples(25), deadline=None)
@given(finite_mdps(max_states=6), st.floats(0.1, 3.0), st.sampled_from([0.0, 0.5]),
       st.integers(0, 2**31))
def test_averaged_form_matches_recursive_form(mdp, lam, tau_rel, seed):
    tau = tau_rel * lam
    a = md_vi(mdp, lam=lam, tau=tau, n_iter=K, noise_scale=0.3, seed=seed, record="iterates")
    b = md_vi_averaged(mdp, lam=lam, tau=tau, n_iter=K, noise_scale=0.3, seed=seed,
                       record="iterates")
    scale = _scale(mdp) + np.abs(a.q_history).max() + (lam + tau) * np.log(mdp.A + 1) * K
    assert np.abs(a.q_history - b.q_history).max() <= 1e-11 * scale * K
    assert np.abs(a.policy_history - b.policy_history).max() <= 1e-10 * K


@settings(max_examples=examples(25), deadline=None)
@given(finite_mdps(max_states=6), st.floats(0.2, 2.0), st.floats(0.0, 0.95))
def test_munchausen_is_mdvi(mdp, tau, alpha):
    """Vieillard, Pietquin, Geist 2020, Thm. 1: q'_k = q_k - alpha tau ln pi_k is MD-VI with
    lam = alpha tau and entropy (1 - alpha) tau."""
    m = munchausen_vi(mdp, tau=tau, alpha=alpha, n_iter=K, record="iterates")
    q0 = np.full((mdp.S, mdp.A), alpha * tau * np.log(mdp.A))
    d = md_vi(mdp, lam=alpha * tau, tau=(1 - alpha) * tau, n_iter=K, q0=q0, record="iterates")
    logpi = np.log(np.maximum(m.policy_history, 1e-300))
    qprime = m.q_history[1:] - alpha * tau * logpi
    scale = np.abs(m.q_history).max() + tau * np.abs(logpi).max() + 1.0
    assert np.abs(qprime - d.q_history[1:]).max() <= 1e-11 * scale * K


@settings(max_examples=examples(25), deadline=None)
@given(finite_mdps(max_states=5, min_actions=2), st.floats(0.2, 2.0))
def test_tsallis_q1_is_mvi(mdp, tau):
    a = tsallis_munchausen_vi(mdp, tau=tau, q_index=1.0, alpha=0.5, n_iter=K, tol=None,
                              record="iterates")
    b = munchausen_vi(mdp, tau=tau, alpha=0.5, n_iter=K, record="iterates")
    assert np.abs(a.q_history - b.q_history).max() <= 1e-12 * (np.abs(b.q_history).max() + 1)


def test_plain_vi_and_mpi_converge_to_q_star():
    from tabular_rl.envs.random_mdps import garnet

    mdp = garnet(8, 3, 3, 0.8, seed=1)
    qs = policy_iteration(mdp).q
    for m in (1, 4):
        res = md_vi(mdp, lam=0.0, tau=0.0, n_iter=200, m=m, record="errors")
        assert res.q_errors[-1] < 1e-8 and res.errors[-1] < 1e-8
        assert np.abs(res.q - qs).max() < 1e-8
    res = md_vi(mdp, lam=0.5, tau=0.0, n_iter=400, m=3, record="errors")
    assert res.errors[-1] < 1e-2


def test_q_log_and_sparse_policies():
    assert q_log(0.0, 2.0) == -1.0
    assert np.isfinite(q_log(np.array([0.0, 1e-300]), 1.5)).all()
    from tabular_rl.envs.random_mdps import garnet

    res = tsallis_munchausen_vi(garnet(6, 4, 2, 0.7, seed=0), tau=0.5, q_index=2.0,
                                alpha=0.5)
    assert res.converged and np.isfinite(res.q).all()
    assert (res.policy == 0).any()


def test_bad_input():
    from tabular_rl.envs.random_mdps import garnet

    mdp = garnet(4, 2, 2, 0.7, seed=0)
    with pytest.raises(ValueError, match="lam"):
        md_vi(mdp, lam=-1.0, n_iter=3)
    with pytest.raises(ValueError, match="noise"):
        md_vi(mdp, lam=1.0, n_iter=3, noise=lambda k, rng: np.zeros((4, 2)), noise_scale=1.0)
    with pytest.raises(ValueError, match="shape"):
        md_vi(mdp, lam=1.0, n_iter=3, noise=lambda k, rng: np.zeros(3))


def test_md_vi_q_clip_bounds_iterates_and_records_effective_error():
    mdp = garnet(6, 3, 2, 0.9, seed=3, sparse=False)
    vmax = float(np.abs(mdp.r).max()) / (1 - mdp.gamma)
    res = md_vi(mdp, lam=0.5, n_iter=40, noise_scale=2.0, seed=1, record="iterates",
                q_clip=vmax)
    assert np.abs(res.q_history).max() <= vmax
    assert np.any(np.abs(res.q_history) == vmax)
    # effective error = clipped q_{k+1} minus the exact MD-VI backup of q_k
    ref = md_vi(mdp, lam=0.5, n_iter=1, q0=res.q_history[2], log_pi0=res.log_policy_history[1],
                record="iterates")
    np.testing.assert_allclose(res.q_history[3] - res.noise_history[2], ref.q_history[1],
                               atol=1e-12)
    with pytest.raises(ValueError, match="q_clip"):
        md_vi(mdp, lam=0.5, n_iter=2, q_clip=0.0)
