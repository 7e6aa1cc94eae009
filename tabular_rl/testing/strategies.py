"""Hypothesis strategies for random MDPs, episodic MDPs and policies.

Sizes, discount and structure are drawn by hypothesis (so failures shrink to small
instances); the entries are generated from a drawn seed with numpy, which keeps drawing
fast for hundreds of states. Structure is adversarial on purpose: some rows are
deterministic (one-hot), some states absorbing, rewards may be tied integers, and
transition rows may be sparse.

Examples
--------
>>> from hypothesis import given, settings
>>> from tabular_rl.testing.strategies import finite_mdps
>>> @settings(max_examples=5)
... @given(finite_mdps(max_states=4))
... def test_shape(mdp):
...     assert mdp.r.shape == (mdp.S, mdp.A)
>>> test_shape()
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from hypothesis import strategies as st

from ..mdp import EpisodicMDP, FiniteMDP

__all__ = ["episodic_mdps", "finite_mdps", "gammas", "policies", "random_kernel", "value_vectors"]


def gammas(max_gamma: float = 0.99) -> st.SearchStrategy[float]:
    """Discount factors in ``[0, max_gamma]``, with the ends and a few classic values favoured."""
    return st.one_of(
        st.sampled_from([0.0, 0.5, 0.9, max_gamma]),
        st.floats(0.0, max_gamma, allow_nan=False),
    )


def random_kernel(rng: np.random.Generator, S: int, A: int, *, density: float = 1.0,
                  deterministic_frac: float = 0.0, absorbing_frac: float = 0.0) -> np.ndarray:
    """A row-stochastic kernel ``(S, A, S)``; optionally sparse, one-hot and absorbing rows."""
    P = rng.random((S, A, S))
    if density < 1.0:
        P *= rng.random((S, A, S)) < density
        P[np.arange(S)[:, None], np.arange(A)[None, :], rng.integers(0, S, (S, A))] += 1.0
    det = rng.random((S, A)) < deterministic_frac
    if det.any():
        tgt = rng.integers(0, S, (S, A))
        P[det] = 0.0
        P[det, tgt[det]] = 1.0
    absorbing = rng.random(S) < absorbing_frac
    if absorbing.any():
        P[absorbing] = 0.0
        idx = np.flatnonzero(absorbing)
        P[idx, :, idx] = 1.0
    return P / P.sum(axis=-1, keepdims=True)


@st.composite
def _structure(draw, min_states, max_states, min_actions, max_actions):
    S = draw(st.integers(min_states, max_states))
    A = draw(st.integers(min_actions, max_actions))
    seed = draw(st.integers(0, 2**32 - 1))
    density = draw(st.sampled_from([1.0, 0.5, 0.1]))
    det = draw(st.sampled_from([0.0, 0.0, 0.3, 1.0]))
    absorbing = draw(st.sampled_from([0.0, 0.0, 0.2]))
    int_rewards = draw(st.booleans())
    return S, A, seed, density, det, absorbing, int_rewards


def _rewards(rng, shape, int_rewards):
    if int_rewards:  # ties on purpose
        return rng.integers(-2, 3, shape).astype(np.float64)
    return rng.uniform(-1.0, 1.0, shape)


@st.composite
def finite_mdps(draw, *, min_states: int = 1, max_states: int = 8, min_actions: int = 1,
                max_actions: int = 4, gamma: st.SearchStrategy[float] | None = None,
                sparse: bool | None = None) -> FiniteMDP:
    """Random :class:`FiniteMDP` instances.

    Parameters
    ----------
    min_states, max_states, min_actions, max_actions : int
        Size ranges.
    gamma : strategy, optional
        Discount strategy (default :func:`gammas`).
    sparse : bool, optional
        Force a CSR (``True``) or dense (``False``) kernel; drawn when ``None``.
    """
    S, A, seed, density, det, absorbing, int_rewards = draw(
        _structure(min_states, max_states, min_actions, max_actions))
    g = draw(gamma if gamma is not None else gammas())
    is_sparse = draw(st.booleans()) if sparse is None else sparse
    rng = np.random.default_rng(seed)
    P = random_kernel(rng, S, A, density=density, deterministic_frac=det,
                      absorbing_frac=absorbing)
    r = _rewards(rng, (S, A), int_rewards)
    mu = rng.dirichlet(np.ones(S)) if draw(st.booleans()) else None
    if is_sparse:
        P = sp.csr_matrix(P.reshape(S * A, S))
    return FiniteMDP(P, r, g, mu)


@st.composite
def episodic_mdps(draw, *, min_states: int = 1, max_states: int = 6, min_actions: int = 1,
                  max_actions: int = 3, max_horizon: int = 6,
                  time_varying: bool | None = None) -> EpisodicMDP:
    """Random :class:`EpisodicMDP` instances, stationary or time-indexed."""
    S, A, seed, density, det, absorbing, int_rewards = draw(
        _structure(min_states, max_states, min_actions, max_actions))
    H = draw(st.integers(1, max_horizon))
    tv = draw(st.booleans()) if time_varying is None else time_varying
    rng = np.random.default_rng(seed)
    if tv:
        P = np.stack([random_kernel(rng, S, A, density=density, deterministic_frac=det,
                                    absorbing_frac=absorbing) for _ in range(H)])
        r = _rewards(rng, (H, S, A), int_rewards)
    else:
        P = random_kernel(rng, S, A, density=density, deterministic_frac=det,
                          absorbing_frac=absorbing)
        r = _rewards(rng, (S, A), int_rewards)
    return EpisodicMDP(P, r, H)


@st.composite
def policies(draw, S: int, A: int, *, horizon: int | None = None,
             deterministic: bool | None = None) -> np.ndarray:
    """Random row-stochastic policies ``(S, A)`` (or ``(H, S, A)``), sometimes deterministic
    or with zero entries."""
    seed = draw(st.integers(0, 2**32 - 1))
    det = draw(st.booleans()) if deterministic is None else deterministic
    rng = np.random.default_rng(seed)
    shape = (S, A) if horizon is None else (horizon, S, A)
    if det:
        pi = np.zeros(shape)
        idx = rng.integers(0, A, shape[:-1])
        np.put_along_axis(pi, idx[..., None], 1.0, axis=-1)
        return pi
    pi = rng.random(shape) ** draw(st.sampled_from([1.0, 4.0]))
    pi *= rng.random(shape) < 0.7
    pi[..., 0] += 1e-3
    return pi / pi.sum(axis=-1, keepdims=True)


def value_vectors(S: int, scale: float = 10.0) -> st.SearchStrategy[np.ndarray]:
    """Random value vectors ``(S,)`` in ``[-scale, scale]`` (seeded numpy draws)."""
    return st.integers(0, 2**32 - 1).map(
        lambda seed: np.random.default_rng(seed).uniform(-scale, scale, S))
