r"""Bellman operators: the one core every solver is built from.

.. math::

    q(s, a) = r(s, a) + \gamma \sum_{s'} P(s' \mid s, a)\, v(s'), \qquad
    (T v)(s) = \max_a q(s, a), \qquad (T_\pi v)(s) = \sum_a \pi(a \mid s)\, q(s, a).

Dense kernels go through BLAS (``P_flat @ v`` on the ``(S*A, S)`` view); CSR kernels
through numba kernels parallel over states (:mod:`tabular_rl._kernels`). Both are
:math:`\gamma`-contractions in the sup norm (Puterman 1994, Prop. 6.2.4).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from . import _kernels as K
from . import _validation as V
from .mdp import FiniteMDP

__all__ = [
    "bellman_optimality",
    "bellman_policy",
    "greedy_policy",
    "policy_reward",
    "policy_transition",
    "q_values",
]


def _as_values(mdp, v) -> np.ndarray:
    """``v`` as a contiguous float64 ``(S,)`` array; the CSR kernels do not bounds-check."""
    v = np.ascontiguousarray(v, dtype=np.float64)
    if v.shape != (mdp.S,):
        raise ValueError(f"v must have shape ({mdp.S},) (one value per state), got {v.shape}")
    return v


def _matvec(P_flat, v: np.ndarray) -> np.ndarray:
    """``P_flat @ v`` for a dense ``(S*A, S)`` view or a CSR matrix, as ``(S*A,)``."""
    if sp.issparse(P_flat):
        out = np.empty(P_flat.shape[0])
        K.csr_matvec(P_flat.indptr, P_flat.indices, P_flat.data, v, out)
        return out
    return P_flat @ v


def q_values(mdp: FiniteMDP, v: np.ndarray) -> np.ndarray:
    r"""One-step lookahead :math:`q = r + \gamma P v`, shape ``(S, A)``."""
    v = _as_values(mdp, v)
    if mdp.is_sparse:
        P = mdp.P
        out = np.empty(mdp.S * mdp.A)
        K.csr_q_values(P.indptr, P.indices, P.data, mdp.r.reshape(-1), v, mdp.gamma, out)
        return out.reshape(mdp.S, mdp.A)
    return mdp.r + mdp.gamma * (mdp.P_flat @ v).reshape(mdp.S, mdp.A)


def bellman_optimality(mdp: FiniteMDP, v: np.ndarray, *, with_actions: bool = True):
    r"""The optimality operator :math:`T v` and a greedy action per state.

    Parameters
    ----------
    with_actions : bool
        Also return the greedy actions. ``False`` returns ``(Tv, None)`` from a cheaper
        value-only sweep (what value iteration runs).

    Returns
    -------
    Tv : ndarray of shape (S,)
    actions : ndarray of shape (S,), int, or None
        The first maximizing action at each state.
    """
    v = _as_values(mdp, v)
    if mdp.is_sparse:
        P = mdp.P
        Tv = np.empty(mdp.S)
        if not with_actions:
            K.csr_bellman_value(P.indptr, P.indices, P.data, mdp.r.reshape(-1), v, mdp.gamma,
                                mdp.A, Tv)
            return Tv, None
        arg = np.empty(mdp.S, dtype=np.int64)
        K.csr_bellman_max(P.indptr, P.indices, P.data, mdp.r.reshape(-1), v, mdp.gamma,
                          mdp.A, Tv, arg)
        return Tv, arg
    q = q_values(mdp, v)
    if not with_actions:
        return q.max(axis=1), None
    arg = q.argmax(axis=1)
    return q[np.arange(mdp.S), arg], arg


def _value_sweep_with_span(mdp: FiniteMDP, v: np.ndarray):
    """``(Tv, min(Tv - v), max(Tv - v), max|v|)`` in one pass (value iteration's sweep)."""
    if mdp.is_sparse:
        P = mdp.P
        Tv = np.empty(mdp.S)
        stats = np.empty((K.max_chunks(), 3))
        stats[:, 0], stats[:, 1], stats[:, 2] = np.inf, -np.inf, 0.0
        K.csr_bellman_value_span(P.indptr, P.indices, P.data, mdp.r.reshape(-1), v, mdp.gamma,
                                 mdp.A, Tv, stats)
        return Tv, float(stats[:, 0].min()), float(stats[:, 1].max()), float(stats[:, 2].max())
    Tv = q_values(mdp, v).max(axis=1)
    d = Tv - v
    return Tv, float(d.min()), float(d.max()), max(float(v.max()), -float(v.min()))


def bellman_policy(mdp: FiniteMDP, pi: np.ndarray, v: np.ndarray) -> np.ndarray:
    r"""The policy operator :math:`T_\pi v = r_\pi + \gamma P_\pi v` for ``pi`` of shape ``(S, A)``.

    ``pi`` may also be an integer array ``(S,)`` of actions (a deterministic policy).
    """
    v = _as_values(mdp, v)
    if V.is_action_array(pi):
        return _bellman_deterministic(mdp, V.check_actions(pi, mdp.S, mdp.A), v)
    pi = V.check_policy(pi, mdp.S, mdp.A)
    if mdp.is_sparse:
        P = mdp.P
        out = np.empty(mdp.S)
        K.csr_bellman_policy(P.indptr, P.indices, P.data, mdp.r.reshape(-1), v, mdp.gamma,
                             pi.reshape(-1), mdp.A, out)
        return out
    return np.einsum("sa,sa->s", pi, q_values(mdp, v))


def _bellman_deterministic(mdp: FiniteMDP, actions: np.ndarray, v: np.ndarray) -> np.ndarray:
    if mdp.is_sparse:
        P = mdp.P
        out = np.empty(mdp.S)
        K.csr_bellman_deterministic(P.indptr, P.indices, P.data, mdp.r.reshape(-1), v,
                                    mdp.gamma, actions, mdp.A, out)
        return out
    s = np.arange(mdp.S)
    return mdp.r[s, actions] + mdp.gamma * (mdp.P[s, actions, :] @ v)


def greedy_policy(q: np.ndarray) -> np.ndarray:
    """Deterministic greedy policy ``(S, A)``: one-hot on the first maximizing action."""
    q = np.asarray(q)
    pi = np.zeros_like(q, dtype=np.float64)
    pi[np.arange(q.shape[0]), q.argmax(axis=1)] = 1.0
    return pi


def _as_policy(mdp, pi, horizon: int | None = None) -> np.ndarray:
    """A validated probability table ``(S, A)`` (``(H, S, A)`` with ``horizon``) from either
    a table or integer actions ``(S,)`` (``(H, S)``; ``(S,)`` is broadcast over steps)."""
    if V.is_action_array(pi):
        pi = np.asarray(pi)
        if horizon is not None and pi.ndim == 1:
            pi = np.broadcast_to(pi, (horizon, mdp.S))
        return V.one_hot(V.check_actions(pi, mdp.S, mdp.A, horizon), mdp.A)
    return V.check_policy(pi, mdp.S, mdp.A, horizon=horizon)


def policy_transition(mdp: FiniteMDP, pi) -> np.ndarray | sp.csr_matrix:
    r"""The state chain of a policy, :math:`P_\pi(s, s') = \sum_a \pi(a\mid s) P(s'\mid s,a)`.

    Dense ``(S, S)`` for a dense model, CSR ``(S, S)`` for a sparse one (never densified).
    """
    pi = _as_policy(mdp, pi)
    if mdp.is_sparse:
        S, A = mdp.S, mdp.A
        rows = np.repeat(np.arange(S), A)
        W = sp.csr_matrix((pi.reshape(-1), (rows, np.arange(S * A))), shape=(S, S * A))
        W.eliminate_zeros()
        return (W @ mdp.P).tocsr()
    return np.einsum("sa,sat->st", pi, mdp.P)


def policy_reward(mdp: FiniteMDP, pi) -> np.ndarray:
    r""":math:`r_\pi(s) = \sum_a \pi(a\mid s)\, r(s, a)`."""
    pi = _as_policy(mdp, pi)
    return np.einsum("sa,sa->s", pi, mdp.r)
