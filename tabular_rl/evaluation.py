r"""Exact policy evaluation, advantages, occupancy measures, the performance-difference lemma.

Discounted (Puterman 1994, Thm. 6.1.1; Kakade & Langford 2002, Lemma 6.1):

.. math::

    v^\pi = (I - \gamma P_\pi)^{-1} r_\pi, \quad
    q^\pi = r + \gamma P v^\pi, \quad A^\pi = q^\pi - v^\pi, \quad
    d^\pi_\mu(s, a) = (1-\gamma)\,\big[\mu^\top (I - \gamma P_\pi)^{-1}\big](s)\,\pi(a\mid s),

.. math::

    v^{\pi'}(\mu) - v^{\pi}(\mu) = \frac{1}{1-\gamma}\,
    \mathbb E_{(s,a)\sim d^{\pi'}_\mu}\big[A^\pi(s,a)\big].

Finite horizon: :math:`V_h^\pi = r_{\pi_h} + P_{\pi_h} V_{h+1}^\pi`, :math:`V_H^\pi = 0`;
:math:`d_0 = \mu`, :math:`d_{h+1}(s') = \sum_{s,a} d_h(s)\pi_h(a\mid s) P_h(s'\mid s,a)`, and
:math:`V_0^{\pi'}(\mu) - V_0^{\pi}(\mu) = \sum_h \mathbb E_{d_h^{\pi'}}[A_h^\pi(s,a)]`.

Dense models are solved with LAPACK; sparse ones with a sparse direct solve (SuperLU) up to
``DIRECT_MAX_STATES`` states and with GMRES above it (random sparse graphs make LU fill in:
a garnet basis with 10 successors per state takes SuperLU 0.6 s at 1,000 states, GMRES
about 0.01 s);
:math:`I - \gamma P_\pi` has its spectrum in the disc of radius :math:`\gamma` around 1,
so GMRES converges fast.
Every solve's residual is checked; an inaccurate one raises :class:`NumericalWarning`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from . import _validation as V
from .bellman import _as_policy, _matvec, policy_reward, policy_transition, q_values
from .exceptions import NumericalWarning
from .mdp import EpisodicMDP, FiniteMDP

__all__ = [
    "PerformanceDifference",
    "advantage",
    "evaluate_policy",
    "occupancy_measure",
    "performance_difference",
    "q_function",
    "state_occupancy",
]

#: Sparse models with more states than this are evaluated with GMRES instead of SuperLU.
#: Random sparse graphs make LU fill in: a garnet with S=20,000, A=4, branching 5 took
#: 544 s with SuperLU and 0.13 s with GMRES; a 300x300 gridworld 1.1 s vs 0.07 s.
DIRECT_MAX_STATES = 300


def _solve(M, b: np.ndarray, *, transpose: bool = False, x0=None, rtol=1e-13) -> np.ndarray:
    """Solve ``M x = b`` (or ``M^T x = b``) for ``M = I - gamma P_pi``, dense or CSR."""
    if sp.issparse(M):
        Mt = M.T.tocsr() if transpose else M
        if M.shape[0] <= DIRECT_MAX_STATES:
            x = spla.spsolve(Mt.tocsc(), b)
        else:
            # At most 50 restarts (3,000 iterations; typically 15-200 are needed). Near
            # gamma = 1, rtol = 1e-13 can sit below the attainable accuracy (about
            # cond(M) * eps, cond(M) up to 2/(1-gamma)) and restarted GMRES then stalls
            # instead of failing: at 0.999 it ran 120,000 iterations for minutes. The
            # best iterate is kept; the residual check below decides whether to warn.
            x, _ = spla.gmres(Mt, b, x0=x0, rtol=rtol, atol=0.0, restart=60, maxiter=50)
        res = Mt @ x - b
    else:
        Mt = M.T if transpose else M
        x = np.linalg.solve(Mt, b)
        res = Mt @ x - b
    scale = float(np.abs(b).max(initial=0.0)) + 1e-300
    if np.abs(res).max(initial=0.0) > 1e-8 * scale:
        warnings.warn(f"policy evaluation solve is inaccurate: relative residual "
                      f"{np.abs(res).max() / scale:.3g}", NumericalWarning, stacklevel=3)
    return x


def _system(mdp: FiniteMDP, pi: np.ndarray):
    Ppi = policy_transition(mdp, pi)
    if sp.issparse(Ppi):
        return (sp.identity(mdp.S, format="csr") - mdp.gamma * Ppi).tocsr()
    return np.eye(mdp.S) - mdp.gamma * Ppi


def evaluate_policy(mdp: FiniteMDP | EpisodicMDP, pi, *, x0=None) -> np.ndarray:
    r"""Exact value of a policy.

    Parameters
    ----------
    mdp : FiniteMDP or EpisodicMDP
    pi : array_like
        ``(S, A)`` stochastic policy, or an int array ``(S,)`` of actions; for an
        :class:`EpisodicMDP` also ``(H, S, A)``.
    x0 : ndarray, optional
        Initial guess for the iterative sparse solver (warm start).

    Returns
    -------
    ndarray
        :math:`v^\pi` of shape ``(S,)``; for an episodic model :math:`V^\pi_h`, ``(H+1, S)``.

    Examples
    --------
    >>> import numpy as np
    >>> from tabular_rl import FiniteMDP, evaluate_policy
    >>> mdp = FiniteMDP(np.ones((1, 1, 1)), [[1.0]], gamma=0.5)
    >>> evaluate_policy(mdp, [[1.0]])       # 1 / (1 - 0.5)
    array([2.])
    """
    if isinstance(mdp, EpisodicMDP):
        return _evaluate_episodic(mdp, pi)[0]
    pi = _as_policy(mdp, pi)
    return _solve(_system(mdp, pi), policy_reward(mdp, pi), x0=x0)


def _evaluate_episodic(mdp: EpisodicMDP, pi) -> tuple[np.ndarray, np.ndarray]:
    pi = _as_policy(mdp, pi, mdp.H)
    Vh = np.zeros((mdp.H + 1, mdp.S))
    Q = np.empty((mdp.H, mdp.S, mdp.A))
    for h in range(mdp.H - 1, -1, -1):
        Q[h] = mdp.r_at(h) + _matvec(mdp.P_flat(h), Vh[h + 1]).reshape(mdp.S, mdp.A)
        Vh[h] = np.einsum("sa,sa->s", pi[h], Q[h])
    return Vh, Q


def q_function(mdp: FiniteMDP | EpisodicMDP, pi) -> np.ndarray:
    r""":math:`q^\pi = r + \gamma P v^\pi`, ``(S, A)``; ``(H, S, A)`` for an episodic model."""
    if isinstance(mdp, EpisodicMDP):
        return _evaluate_episodic(mdp, pi)[1]
    return q_values(mdp, evaluate_policy(mdp, pi))


def advantage(mdp: FiniteMDP | EpisodicMDP, pi) -> np.ndarray:
    r""":math:`A^\pi(s, a) = q^\pi(s, a) - v^\pi(s)`; ``(H, S, A)`` for an episodic model."""
    if isinstance(mdp, EpisodicMDP):
        Vh, Q = _evaluate_episodic(mdp, pi)
        return Q - Vh[:-1, :, None]
    pi = _as_policy(mdp, pi)
    v = evaluate_policy(mdp, pi)
    return q_values(mdp, v) - v[:, None]


def state_occupancy(mdp: FiniteMDP | EpisodicMDP, pi, mu=None, *,
                    normalized: bool = True) -> np.ndarray:
    r"""State occupancy :math:`d^\pi_\mu(s)`.

    Discounted: :math:`(1-\gamma)\mu^\top(I-\gamma P_\pi)^{-1}` (a distribution) when
    ``normalized``, else without the :math:`(1-\gamma)` factor (total mass
    :math:`1/(1-\gamma)`, the variables of the dual LP). Episodic: ``(H, S)``, one
    distribution per step (``normalized`` is ignored).
    """
    if isinstance(mdp, EpisodicMDP):
        mu = mdp.mu if mu is None else V.check_distribution("mu", mu, mdp.S)
        pi = _as_policy(mdp, pi, mdp.H)
        d = np.empty((mdp.H, mdp.S))
        d[0] = mu
        for h in range(mdp.H - 1):
            w = (d[h][:, None] * pi[h]).reshape(-1)
            Pf = mdp.P_flat(h)
            d[h + 1] = Pf.T @ w
        return d
    mu = mdp.mu if mu is None else V.check_distribution("mu", mu, mdp.S)
    pi = _as_policy(mdp, pi)
    d = _solve(_system(mdp, pi), np.asarray(mu, dtype=np.float64), transpose=True)
    return (1.0 - mdp.gamma) * d if normalized else d


def occupancy_measure(mdp: FiniteMDP | EpisodicMDP, pi, mu=None, *,
                      normalized: bool = True) -> np.ndarray:
    r"""State-action occupancy :math:`d^\pi_\mu(s, a) = d^\pi_\mu(s)\,\pi(a\mid s)`.

    ``(S, A)`` discounted (see :func:`state_occupancy` for ``normalized``); ``(H, S, A)``
    episodic.
    """
    if isinstance(mdp, EpisodicMDP):
        pi = _as_policy(mdp, pi, mdp.H)
        return state_occupancy(mdp, pi, mu)[:, :, None] * pi
    pi = _as_policy(mdp, pi)
    return state_occupancy(mdp, pi, mu, normalized=normalized)[:, None] * pi


@dataclass(frozen=True, slots=True)
class PerformanceDifference:
    """Both sides of the performance-difference identity and their gap."""

    lhs: float
    rhs: float

    @property
    def residual(self) -> float:
        return abs(self.lhs - self.rhs)


def performance_difference(mdp: FiniteMDP | EpisodicMDP, pi, pi_prime,
                           mu=None) -> PerformanceDifference:
    r"""Evaluate both sides of the performance-difference lemma.

    .. math::

        \underbrace{v^{\pi'}(\mu) - v^{\pi}(\mu)}_{\text{lhs}}
        = \underbrace{\tfrac{1}{1-\gamma}\sum_{s,a} d^{\pi'}_\mu(s,a)\,A^\pi(s,a)}_{\text{rhs}}

    (finite horizon: :math:`\sum_h \sum_{s,a} d^{\pi'}_h(s,a) A^\pi_h(s,a)`).

    References
    ----------
    .. [1] S. Kakade and J. Langford, "Approximately Optimal Approximate Reinforcement
       Learning", ICML 2002, Lemma 6.1.
    """
    if isinstance(mdp, EpisodicMDP):
        mu = mdp.mu if mu is None else V.check_distribution("mu", mu, mdp.S)
        v_pi = evaluate_policy(mdp, pi)[0]
        v_pp = evaluate_policy(mdp, pi_prime)[0]
        rhs = float(np.sum(occupancy_measure(mdp, pi_prime, mu) * advantage(mdp, pi)))
        return PerformanceDifference(lhs=float(mu @ (v_pp - v_pi)), rhs=rhs)
    mu = mdp.mu if mu is None else V.check_distribution("mu", mu, mdp.S)
    pi, pi_prime = _as_policy(mdp, pi), _as_policy(mdp, pi_prime)
    lhs = float(mu @ (evaluate_policy(mdp, pi_prime) - evaluate_policy(mdp, pi)))
    d = occupancy_measure(mdp, pi_prime, mu)
    rhs = float(np.sum(d * advantage(mdp, pi))) / (1.0 - mdp.gamma)
    return PerformanceDifference(lhs=lhs, rhs=rhs)
