r"""Regularized (soft) Bellman operators and regularized policy evaluation.

For a regularizer :math:`\tau\Omega` on the simplex (:mod:`tabular_rl.regularizers`) the
regularized value of a policy and the regularized optimality operator are (Geist, Scherrer,
Pietquin 2019, Def. 1):

.. math::

    v^\pi_\Omega &= (I - \gamma P_\pi)^{-1}\big(r_\pi - \tau\Omega(\pi)\big), \qquad
    q^\pi_\Omega = r + \gamma P v^\pi_\Omega, \\
    (T_{\pi,\Omega} v)(s) &= \langle \pi(s), q_v(s)\rangle - \tau\Omega(\pi(s)), \qquad
    (T_\Omega v)(s) = \Omega^*_\tau\big(q_v(s)\big), \qquad q_v = r + \gamma P v,

and the regularized greedy policy is :math:`\mathcal{G}_\Omega(v)(s) = \nabla\Omega^*_\tau(q_v(s))`,
so that :math:`T_{\mathcal{G}(v),\Omega} v = T_\Omega v`. Both operators are monotone
:math:`\gamma`-contractions with :math:`T(v + c\mathbf 1) = Tv + \gamma c\mathbf 1`
(Geist et al. 2019, Prop. 2), which is all the MacQueen certificate of
:mod:`tabular_rl.solution` needs: it holds verbatim for :math:`T_\Omega`.

With a KL regularizer whose reference depends on the state, pass ``ref`` of shape ``(S, A)``;
episodic models accept a regularizer whose reference is ``(S, A)`` or ``(A,)`` (the same at
every step) — for a per-step reference give one regularizer per step.

References
----------
.. [1] M. Geist, B. Scherrer, O. Pietquin, "A Theory of Regularized Markov Decision
   Processes", ICML 2019, Sec. 2-3.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from .bellman import _as_policy, _matvec, policy_reward, policy_transition, q_values
from .evaluation import _solve, _system
from .mdp import EpisodicMDP, FiniteMDP
from .regularizers import Regularizer

__all__ = [
    "evaluate_regularized_policy",
    "regularized_bellman_policy",
    "regularized_q_function",
    "soft_bellman",
]


_CHECKED_TYPES: set[type] = set()


def _check_regularizer(reg) -> None:
    # isinstance against a runtime-checkable Protocol inspects every member; it cost 25-50%
    # of a small soft sweep, so each class is checked once.
    if type(reg) in _CHECKED_TYPES:
        return
    if isinstance(reg, Regularizer):
        _CHECKED_TYPES.add(type(reg))
    else:
        raise TypeError(f"expected a regularizer from tabular_rl.regularizers (Shannon, KL, "
                        f"Tsallis, ...), got {type(reg).__name__}")


def _step_regs(reg, H: int) -> list:
    """One regularizer per step of an episodic model."""
    if isinstance(reg, Sequence) and not isinstance(reg, str):
        regs = list(reg)
        if len(regs) != H:
            raise ValueError(f"got {len(regs)} regularizers for a horizon of H={H}")
    else:
        regs = [reg] * H
    for r in regs:
        _check_regularizer(r)
    return regs


def soft_bellman(mdp: FiniteMDP, v, reg: Regularizer) -> tuple[np.ndarray, np.ndarray,
                                                                  np.ndarray]:
    r"""One regularized optimality sweep.

    Returns ``(T_Omega v, greedy policy, q_v)`` with :math:`q_v = r + \gamma P v`,
    :math:`T_\Omega v = \Omega^*_\tau(q_v)` row-wise and the policy
    :math:`\nabla\Omega^*_\tau(q_v)`.

    Examples
    --------
    >>> import numpy as np
    >>> from tabular_rl import FiniteMDP, Shannon
    >>> mdp = FiniteMDP(np.ones((1, 2, 1)), [[0.0, 0.0]], gamma=0.5)
    >>> Tv, pi, q = soft_bellman(mdp, np.zeros(1), Shannon(1.0))
    >>> np.round(Tv, 6), pi                 # tau * log(e^0 + e^0) = log 2
    (array([0.693147]), array([[0.5, 0.5]]))
    """
    _check_regularizer(reg)
    q = q_values(mdp, v)
    Tv, pi = reg.max_omega(q)
    return Tv, pi, q


def regularized_bellman_policy(mdp: FiniteMDP, pi, v, reg: Regularizer) -> np.ndarray:
    r""":math:`T_{\pi,\Omega} v = \langle\pi, r + \gamma P v\rangle - \tau\Omega(\pi)` per state."""
    _check_regularizer(reg)
    pi = _as_policy(mdp, pi)
    return np.einsum("sa,sa->s", pi, q_values(mdp, v)) - reg.value(pi)


def evaluate_regularized_policy(mdp: FiniteMDP | EpisodicMDP, pi, reg, *,
                                x0=None) -> np.ndarray:
    r"""Exact regularized value :math:`v^\pi_\Omega`.

    .. math::

        v^\pi_\Omega = (I - \gamma P_\pi)^{-1}\big(r_\pi - \tau\Omega(\pi)\big);
        \qquad V_h = \langle\pi_h, r_h + P_h V_{h+1}\rangle - \tau\Omega(\pi_h),\; V_H = 0.

    Parameters
    ----------
    mdp : FiniteMDP or EpisodicMDP
    pi : array_like
        ``(S, A)`` (or ``(H, S, A)`` episodic) stochastic policy.
    reg : Regularizer, or a sequence of ``H`` regularizers for an episodic model
    x0 : ndarray, optional
        Warm start for the iterative sparse solver.

    Returns
    -------
    ndarray
        ``(S,)``, or ``(H+1, S)`` for an episodic model. ``-inf`` marks the states from
        which the policy reaches, with positive probability, a state where it leaves the
        domain of :math:`\Omega` (e.g. mass where a KL reference has none, or a zero
        probability under the log-barrier).

    Examples
    --------
    >>> import numpy as np
    >>> from tabular_rl import FiniteMDP, Shannon
    >>> mdp = FiniteMDP(np.ones((1, 2, 1)), [[1.0, 1.0]], gamma=0.5)
    >>> v = evaluate_regularized_policy(mdp, [[0.5, 0.5]], Shannon(1.0))
    >>> np.round(v, 6)                          # (1 + log 2) / (1 - 0.5)
    array([3.386294])
    """
    if isinstance(mdp, EpisodicMDP):
        return _evaluate_episodic(mdp, pi, reg)[0]
    _check_regularizer(reg)
    pi = _as_policy(mdp, pi)
    b = policy_reward(mdp, pi) - reg.value(pi)
    bad = ~np.isfinite(b)
    if not bad.any():
        return _solve(_system(mdp, pi), b, x0=x0)
    # states that reach an out-of-domain state with positive probability have value -inf
    Ppi = sp.csr_matrix(policy_transition(mdp, pi))
    reach = bad.copy()
    while True:
        grown = reach | (Ppi @ reach.astype(np.float64) > 0)
        if np.array_equal(grown, reach):
            break
        reach = grown
    v = np.full(mdp.S, -np.inf)
    ok = np.flatnonzero(~reach)
    if ok.size:  # the closed set of states that never reach a bad one
        sub = (sp.identity(ok.size, format="csr") - mdp.gamma * Ppi[ok][:, ok]).tocsr()
        v[ok] = _solve(sub if sp.issparse(mdp.P) else sub.toarray(), b[ok])
    return v


def _evaluate_episodic(mdp: EpisodicMDP, pi, reg) -> tuple[np.ndarray, np.ndarray]:
    regs = _step_regs(reg, mdp.H)
    pi = _as_policy(mdp, pi, mdp.H)
    Vh = np.zeros((mdp.H + 1, mdp.S))
    Q = np.empty((mdp.H, mdp.S, mdp.A))
    for h in range(mdp.H - 1, -1, -1):
        Q[h] = _backup(mdp.P_flat(h), mdp.r_at(h), Vh[h + 1]).reshape(mdp.S, mdp.A)
        with np.errstate(invalid="ignore"):  # -inf Q entries with zero probability
            Vh[h] = np.einsum("sa,sa->s", pi[h], np.where(pi[h] > 0, Q[h], 0.0))
        Vh[h] -= regs[h].value(pi[h])
    return Vh, Q


def _backup(P_flat, r: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``r + P v`` where ``v`` may hold ``-inf``: any positive probability of reaching a
    ``-inf`` state gives ``-inf`` (not ``nan`` from ``0 * inf``)."""
    bad = ~np.isfinite(v)
    if not bad.any():
        return r.reshape(-1) + _matvec(P_flat, v)
    out = r.reshape(-1) + _matvec(P_flat, np.where(bad, 0.0, v))
    out[_matvec(P_flat, bad.astype(np.float64)) > 0] = -np.inf
    return out


def regularized_q_function(mdp: FiniteMDP | EpisodicMDP, pi, reg) -> np.ndarray:
    r""":math:`q^\pi_\Omega = r + \gamma P v^\pi_\Omega` (the regularizer enters through
    :math:`v`, not through the current action), ``(S, A)`` or ``(H, S, A)``."""
    if isinstance(mdp, EpisodicMDP):
        return _evaluate_episodic(mdp, pi, reg)[1]
    return q_values(mdp, evaluate_regularized_policy(mdp, pi, reg))
