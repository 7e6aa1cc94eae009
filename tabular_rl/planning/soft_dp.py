r"""Regularized (soft) dynamic programming: value, policy and modified policy iteration for
any regularizer of :mod:`tabular_rl.regularizers`, and soft backward induction.

The regularized optimality operator :math:`T_\Omega v = \Omega^*_\tau(r + \gamma P v)` is a
monotone :math:`\gamma`-contraction that commutes with constant shifts (Geist, Scherrer,
Pietquin 2019, Prop. 2), so the certified stopping rule of the unregularized solvers holds
verbatim (MacQueen 1966; Puterman 1994, Prop. 6.6.1):

.. math::

    T_\Omega v + \tfrac{\gamma}{1-\gamma}\min(T_\Omega v - v) \;\le\; v^*_\Omega
    \;\le\; T_\Omega v + \tfrac{\gamma}{1-\gamma}\max(T_\Omega v - v).

Every solver stops when the half-width of this box (plus the floating-point error of the
sweep, including the soft maximum over ``A`` actions) is at most ``tol``, returns the box's
centre as ``v`` (so ``error_bound`` :math:`\ge\|v - v^*_\Omega\|_\infty` is proven), and the
regularized greedy policy :math:`\pi = \nabla\Omega^*_\tau(q_v)`, whose regularized value obeys
:math:`\|v^*_\Omega - v^\pi_\Omega\|_\infty \le \tfrac{\gamma}{1-\gamma}\mathrm{sp}(T_\Omega v - v)`
(``policy_gap_bound``), because :math:`T_{\pi,\Omega} v = T_\Omega v` for the greedy policy.

References
----------
.. [1] M. Geist, B. Scherrer, O. Pietquin, "A Theory of Regularized Markov Decision
   Processes", ICML 2019, Sec. 3 (regularized VI/PI/MPI, Thm. 1).
.. [2] J. MacQueen, "A modified dynamic programming method for Markovian decision
   problems", J. Math. Anal. Appl. 14, 1966.
.. [3] M. L. Puterman, *Markov Decision Processes*, Wiley, 1994, Prop. 6.6.1.
"""

from __future__ import annotations

import numpy as np

from .. import _validation as V
from ..bellman import _matvec
from ..mdp import EpisodicMDP, FiniteMDP, require_finite_mdp
from ..regularizers import Regularizer
from ..soft_bellman import (
    _check_regularizer,
    _step_regs,
    evaluate_regularized_policy,
    regularized_bellman_policy,
    soft_bellman,
)
from ..solution import Solution, report_cap, sweep_rounding
from .dp import _initial_v

__all__ = [
    "soft_backward_induction",
    "soft_modified_policy_iteration",
    "soft_policy_iteration",
    "soft_value_iteration",
]

_U = np.finfo(np.float64).eps / 2


def _soft_rounding(mdp: FiniteMDP, v: np.ndarray, Tv: np.ndarray, q: np.ndarray) -> float:
    """Worst-case rounding of one soft sweep, divided by ``1 - gamma`` (as in the box).

    The backup's inner products (``sweep_rounding``) plus the soft maximum over ``A``
    actions: a shifted log-sum-exp (or sort/threshold) of ``A`` terms of size at most
    ``max|q|`` returns a value of size ``max|Tv|`` with error below
    ``(A + 8) u (max|q| + max|Tv|)``.
    """
    soft = (mdp.A + 8) * _U * (float(np.abs(q).max()) + float(np.abs(Tv).max()))
    return (sweep_rounding(mdp, v) + soft) / (1.0 - mdp.gamma)


def _at_rounding_floor(g: float, lo: float, hi: float, fp: float, tol: float) -> bool:
    """True when rounding alone keeps the bound above ``tol`` and the iteration has
    converged to that floor: more sweeps cannot certify ``tol``, so stop (and warn)."""
    return 2.0 * fp > tol and g / (1.0 - g) * 0.5 * (hi - lo) <= 2.0 * fp


def _name(method: str, reg) -> str:
    return f"{method}[{reg!r}]"


def _finish(mdp: FiniteMDP, reg, v, Tv, pi, lo, hi, fp, *, method, iterations, converged,
            message, history) -> Solution:
    """Certified :class:`Solution` from the last sweep ``Tv = T_Omega v`` and its greedy ``pi``."""
    c = mdp.gamma / (1.0 - mdp.gamma)
    v_hat = Tv + c * 0.5 * (lo + hi)
    err = c * 0.5 * (hi - lo) + 2.0 * fp
    gap = c * (hi - lo) + 2.0 * fp
    T_hat, _, q_hat = soft_bellman(mdp, v_hat, reg)
    residual = float(np.abs(T_hat - v_hat).max())
    pi = np.array(pi)
    for arr in (v_hat, q_hat, pi):
        arr.setflags(write=False)
    return Solution(v=v_hat, q=q_hat, policy=pi, converged=converged, iterations=iterations,
                    residual=residual, error_bound=float(err), policy_gap_bound=float(gap),
                    method=method, message=message,
                    history=None if history is None else np.array(history))


def _soft_sweeps(mdp: FiniteMDP, reg, m: int, tol, max_iter, v0, record_history, strict,
                 *, method: str, unit: str) -> Solution:
    """Soft VI (``m = 1``) and soft MPI: a greedy soft sweep, the certified span test, then
    ``m - 1`` sweeps of the greedy policy's regularized operator."""
    require_finite_mdp(mdp, method)
    _check_regularizer(reg)
    tol = V.check_real_scalar("tol", tol, 0.0, np.inf, lo_open=True)
    max_iter = V.check_positive_int("max_iter", max_iter)
    v = _initial_v(mdp, v0)
    hist = [] if record_history else None
    g = mdp.gamma
    converged = floor = False
    k = 0
    for k in range(1, max_iter + 1):
        Tv, pi, q = soft_bellman(mdp, v, reg)
        if not np.all(np.isfinite(Tv)):
            bad = int(np.flatnonzero(~np.isfinite(Tv))[0])
            raise FloatingPointError(f"{method}: the soft backup is not finite at sweep {k} "
                                     f"(first bad state {bad}: {Tv[bad]})")
        d = Tv - v
        lo, hi = float(d.min()), float(d.max())
        fp = _soft_rounding(mdp, v, Tv, q)
        bound = g / (1.0 - g) * 0.5 * (hi - lo) + 2.0 * fp
        res = max(hi, -lo)
        if hist is not None:
            hist.append(res)
        if bound <= tol:
            converged = True
            break
        floor = _at_rounding_floor(g, lo, hi, fp, tol)
        if k == max_iter or floor:
            break
        v = Tv
        for _ in range(m - 1):
            v = regularized_bellman_policy(mdp, pi, v, reg)
    if converged:
        msg = f"certified |v - v*_Omega| <= {bound:.3g} <= tol={tol:g} after {k} {unit}"
    else:
        msg = report_cap(method, k, res, bound, tol, strict, rounding=2.0 * fp, at_floor=floor)
    return _finish(mdp, reg, v, Tv, pi, lo, hi, fp, method=_name(method, reg), iterations=k,
                   converged=converged, message=msg, history=hist)


def soft_value_iteration(mdp: FiniteMDP, reg: Regularizer, *, tol: float = 1e-8,
                         max_iter: int = 100_000, v0=None, record_history: bool = False,
                         strict: bool = False) -> Solution:
    r"""Regularized value iteration :math:`v_{k+1} = T_\Omega v_k` with certified stopping.

    .. math::

        (T_\Omega v)(s) = \max_{\pi\in\Delta_A}\ \langle\pi, r(s,\cdot) + \gamma P(s,\cdot) v\rangle
            - \tau\Omega(\pi) = \Omega^*_\tau\big(q_v(s)\big)

    (:math:`\tau\log\sum_a e^{q_v(s,a)/\tau}` for Shannon entropy).

    Parameters
    ----------
    mdp : FiniteMDP
    reg : Regularizer
        Any member of :mod:`tabular_rl.regularizers` (its ``tau`` is the temperature).
    tol : float
        Certified bound on :math:`\|v - v^*_\Omega\|_\infty`.
    max_iter : int
        Sweep cap; hitting it warns (:class:`~tabular_rl.ConvergenceWarning`) or raises when
        ``strict``.
    v0 : array_like (S,), optional
    record_history : bool
        Keep :math:`\|T_\Omega v_k - v_k\|_\infty` per sweep in ``Solution.history``.

    Returns
    -------
    Solution
        ``v`` (certified), ``q`` :math:`= r + \gamma P v`, ``policy`` the regularized greedy
        policy, ``error_bound`` and ``policy_gap_bound`` (regularized values).

    References
    ----------
    .. [1] M. Geist, B. Scherrer, O. Pietquin, "A Theory of Regularized Markov Decision
       Processes", ICML 2019, Sec. 3, Thm. 1.

    Examples
    --------
    >>> import numpy as np
    >>> from tabular_rl import FiniteMDP, Shannon
    >>> mdp = FiniteMDP(np.ones((1, 2, 1)), [[0.0, 0.0]], gamma=0.5)
    >>> sol = soft_value_iteration(mdp, Shannon(1.0), tol=1e-12)
    >>> np.round(sol.v, 6)                      # v* = log 2 / (1 - 0.5)
    array([1.386294])
    """
    return _soft_sweeps(mdp, reg, 1, tol, max_iter, v0, record_history, strict,
                        method="soft_value_iteration", unit="sweeps")


def soft_modified_policy_iteration(mdp: FiniteMDP, reg: Regularizer, *, m: int = 10,
                                   tol: float = 1e-8, max_iter: int = 100_000, v0=None,
                                   record_history: bool = False,
                                   strict: bool = False) -> Solution:
    r"""Regularized modified policy iteration (Geist et al. 2019, Sec. 3, "MPI").

    .. math::

        \pi_{k+1} = \mathcal{G}_\Omega(v_k), \qquad v_{k+1} = (T_{\pi_{k+1},\Omega})^m v_k.

    ``m = 1`` is soft value iteration; ``m -> inf`` is soft policy iteration. Stopping and
    returned bounds as in :func:`soft_value_iteration`.
    """
    m = V.check_positive_int("m", m)
    return _soft_sweeps(mdp, reg, m, tol, max_iter, v0, record_history, strict,
                        method="soft_modified_policy_iteration", unit="improvement steps")


def soft_policy_iteration(mdp: FiniteMDP, reg: Regularizer, *, tol: float = 1e-10,
                          max_iter: int = 1_000, pi0=None, record_history: bool = False,
                          strict: bool = False) -> Solution:
    r"""Regularized policy iteration: exact regularized evaluation, then soft greedy step.

    .. math::

        v_k = v^{\pi_k}_\Omega, \qquad \pi_{k+1}(s) = \nabla\Omega^*_\tau\big(r(s,\cdot)
            + \gamma P(s,\cdot) v_k\big).

    The values increase monotonically, :math:`v^{\pi_{k+1}}_\Omega \ge v^{\pi_k}_\Omega`, and
    converge to :math:`v^*_\Omega` (Geist et al. 2019, Thm. 1; with Shannon entropy this is
    the soft policy iteration of Haarnoja et al. 2018, Lemma 2). Stops when the MacQueen
    half-width at :math:`v_k` is at most ``tol``.

    Parameters
    ----------
    pi0 : array_like (S, A), optional
        Initial policy (uniform by default; it must lie in the domain of :math:`\Omega`).
    record_history : bool
        Keep :math:`\|T_\Omega v_k - v_k\|_\infty` per improvement step.
    """
    require_finite_mdp(mdp, "soft_policy_iteration")
    _check_regularizer(reg)
    tol = V.check_real_scalar("tol", tol, 0.0, np.inf, lo_open=True)
    max_iter = V.check_positive_int("max_iter", max_iter)
    if pi0 is None:
        pi = np.full((mdp.S, mdp.A), 1.0 / mdp.A)
        if not np.all(np.isfinite(reg.value(pi))):  # e.g. KL to a sparse reference
            pi = reg.greedy(np.zeros((mdp.S, mdp.A)))
    else:
        pi = np.array(V.check_policy(pi0, mdp.S, mdp.A))
    g = mdp.gamma
    hist = [] if record_history else None
    v = None
    converged = floor = False
    k = 0
    for k in range(1, max_iter + 1):
        v = evaluate_regularized_policy(mdp, pi, reg, x0=v)
        if not np.all(np.isfinite(v)):
            raise ValueError("soft_policy_iteration: the initial policy lies outside the "
                             "domain of the regularizer (infinite regularized value)")
        Tv, pi_new, q = soft_bellman(mdp, v, reg)
        d = Tv - v
        lo, hi = float(d.min()), float(d.max())
        fp = _soft_rounding(mdp, v, Tv, q)
        bound = g / (1.0 - g) * 0.5 * (hi - lo) + 2.0 * fp
        res = max(hi, -lo)
        if hist is not None:
            hist.append(res)
        pi = pi_new
        if bound <= tol:
            converged = True
            break
        floor = _at_rounding_floor(g, lo, hi, fp, tol)
        if floor:
            break
    if converged:
        msg = f"certified |v - v*_Omega| <= {bound:.3g} <= tol={tol:g} after {k} improvement steps"
    else:
        msg = report_cap("soft_policy_iteration", k, res, bound, tol, strict,
                         rounding=2.0 * fp, at_floor=floor)
    return _finish(mdp, reg, v, Tv, pi, lo, hi, fp, method=_name("soft_policy_iteration", reg),
                   iterations=k, converged=converged, message=msg, history=hist)


def soft_backward_induction(mdp: EpisodicMDP, reg) -> Solution:
    r"""Exact regularized finite-horizon dynamic programming.

    .. math::

        V_H = 0,\quad Q_h = r_h + P_h V_{h+1},\quad V_h = \Omega^*_{\tau}(Q_h),\quad
        \pi_h = \nabla\Omega^*_{\tau}(Q_h), \qquad h = H-1,\dots,0.

    Parameters
    ----------
    mdp : EpisodicMDP
    reg : Regularizer, or a sequence of ``H`` regularizers (e.g. per-step KL references)

    Returns
    -------
    Solution
        ``v`` ``(H+1, S)``, ``q`` and ``policy`` ``(H, S, A)``; ``error_bound`` is the
        accumulated worst-case rounding error.

    Examples
    --------
    >>> import numpy as np
    >>> from tabular_rl import EpisodicMDP, Shannon
    >>> mdp = EpisodicMDP(np.ones((1, 2, 1)), [[0.0, 0.0]], H=2)
    >>> np.round(soft_backward_induction(mdp, Shannon(1.0)).v[:, 0], 6)   # 2 log 2, log 2, 0
    array([1.386294, 0.693147, 0.      ])
    """
    if not isinstance(mdp, EpisodicMDP):
        raise TypeError(f"soft_backward_induction needs an EpisodicMDP, got "
                        f"{type(mdp).__name__}")
    regs = _step_regs(reg, mdp.H)
    S, A, H = mdp.S, mdp.A, mdp.H
    Vh = np.zeros((H + 1, S))
    Q = np.empty((H, S, A))
    policy = np.empty((H, S, A))
    err = 0.0
    for h in range(H - 1, -1, -1):
        Pf = mdp.P_flat(h)
        Q[h] = mdp.r_at(h) + _matvec(Pf, Vh[h + 1]).reshape(S, A)
        Vh[h], policy[h] = regs[h].max_omega(Q[h])
        n = int(np.diff(Pf.indptr).max()) if hasattr(Pf, "indptr") else S
        err += (n + A + 12) * _U * (float(np.abs(Q[h]).max()) + float(np.abs(Vh[h]).max()))
    if not np.all(np.isfinite(Vh)):
        raise FloatingPointError("soft_backward_induction: a soft value is not finite")
    for arr in (Vh, Q, policy):
        arr.setflags(write=False)
    return Solution(v=Vh, q=Q, policy=policy, converged=True, iterations=H, residual=0.0,
                    error_bound=float(err), policy_gap_bound=float(2 * err),
                    method=_name("soft_backward_induction", regs[0]),
                    message=f"exact soft backward induction over H={H}")

