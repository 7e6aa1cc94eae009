r"""Exact dynamic programming: value iteration, policy iteration, modified policy
iteration and backward induction.

All discounted solvers iterate the Bellman operators of :mod:`tabular_rl.bellman`
(:math:`\gamma`-contractions) and stop on the same certified rule: after a sweep
:math:`v \mapsto Tv`, the MacQueen box (Puterman 1994, Prop. 6.6.1)

.. math::

    Tv + \tfrac{\gamma}{1-\gamma}\min(Tv - v) \le v^* \le Tv + \tfrac{\gamma}{1-\gamma}\max(Tv - v)

has half-width :math:`\tfrac{\gamma}{1-\gamma}\,\mathrm{sp}(Tv - v)/2`; the solver stops once
that (plus the sweep's floating-point error) is at most ``tol``, and returns the box's
centre. So ``tol`` is a proven bound on :math:`\|v - v^*\|_\infty`, not the last change.
The returned policy is greedy and :math:`\tfrac{\gamma}{1-\gamma}\mathrm{sp}(Tv-v)`-optimal.
"""

from __future__ import annotations

import numpy as np

from .. import _validation as V
from ..bellman import (
    _value_sweep_with_span,
    bellman_optimality,
    bellman_policy,
    greedy_policy,
    q_values,
)
from ..evaluation import evaluate_policy
from ..mdp import EpisodicMDP, FiniteMDP, require_finite_mdp
from ..solution import Solution, certify, report_cap, span_bound, sweep_rounding

__all__ = [
    "backward_induction",
    "modified_policy_iteration",
    "policy_iteration",
    "solve",
    "value_iteration",
]


def _initial_v(mdp: FiniteMDP, v0) -> np.ndarray:
    if v0 is None:
        return np.zeros(mdp.S)
    v0 = V.as_float_array("v0", v0, 1)
    V.check_shape("v0", v0, (mdp.S,), "(one value per state)")
    V.check_finite("v0", v0)
    return v0


def _rounding_floor(mdp: FiniteMDP, v: np.ndarray) -> float:
    """The part of the certified bound due to rounding alone: tol below it cannot be met."""
    return 2.0 * span_bound(mdp, v, v)[2]


def value_iteration(mdp: FiniteMDP, *, tol: float = 1e-8, max_iter: int = 100_000, v0=None,
                    record_history: bool = False, strict: bool = False) -> Solution:
    r"""Value iteration :math:`v_{k+1} = T v_k` with a certified stopping rule.

    .. math::

        (T v)(s) = \max_a \Big[r(s,a) + \gamma \sum_{s'} P(s'\mid s,a)\, v(s')\Big]

    Stops when the MacQueen half-width :math:`\tfrac{\gamma}{1-\gamma}\,\mathrm{sp}(Tv_k - v_k)/2`
    (plus the rounding error of a sweep) is at most ``tol``.

    Parameters
    ----------
    mdp : FiniteMDP
        Dense ``P`` (BLAS backups) or CSR ``P`` (numba backups, parallel over states).
    tol : float
        Certified bound on :math:`\|v - v^*\|_\infty` for the returned ``v``.
    max_iter : int
        Sweep cap; hitting it warns (:class:`ConvergenceWarning`) or raises when ``strict``.
    v0 : array_like (S,), optional
        Starting point (zeros by default).
    record_history : bool
        Keep :math:`\|Tv_k - v_k\|_\infty` for every sweep in ``Solution.history``.

    Returns
    -------
    Solution
        ``error_bound`` :math:`\ge \|v - v^*\|_\infty`; ``policy_gap_bound``
        :math:`\ge \|v^* - v^\pi\|_\infty` for the greedy ``policy``.

    Notes
    -----
    From :math:`v_0 = 0` the sup-norm residual contracts as :math:`\gamma^k`, so the number
    of sweeps is at most :math:`\log(\mathrm{tol}(1-\gamma)^2/\|r\|_\infty)/\log\gamma`;
    the span rule usually stops much earlier.

    References
    ----------
    .. [1] M. L. Puterman, *Markov Decision Processes*, Wiley, 1994, Thm. 6.3.1 and
       Prop. 6.6.1 (span bounds), §6.6.3.
    .. [2] J. MacQueen, "A modified dynamic programming method for Markovian decision
       problems", J. Math. Anal. Appl. 14, 1966.

    Examples
    --------
    >>> import numpy as np
    >>> from tabular_rl import FiniteMDP, value_iteration
    >>> P = np.array([[[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [0.0, 1.0]]])
    >>> res = value_iteration(FiniteMDP(P, [[0.0, 1.0], [2.0, 2.0]], gamma=0.5), tol=1e-10)
    >>> np.round(res.v, 8), res.actions       # v*(1) = 2/(1-0.5), v*(0) = 1 + 0.5*4
    (array([3., 4.]), array([1, 0]))
    """
    require_finite_mdp(mdp, "value_iteration")
    return _greedy_sweeps(mdp, 1, tol, max_iter, v0, record_history, strict,
                          method="value_iteration", unit="sweeps")


def _greedy_sweeps(mdp: FiniteMDP, m: int, tol, max_iter, v0, record_history: bool,
                   strict: bool, *, method: str, unit: str) -> Solution:
    """The loop shared by VI (``m = 1``) and MPI: a greedy sweep, the certified span test,
    then ``m - 1`` sweeps of the greedy policy's operator."""
    tol = V.check_real_scalar("tol", tol, 0.0, np.inf, lo_open=True)
    max_iter = V.check_positive_int("max_iter", max_iter)
    v = _initial_v(mdp, v0)
    hist = [] if record_history else None
    converged = floor = False
    k = 0
    g = mdp.gamma
    for k in range(1, max_iter + 1):
        if m > 1:
            Tv, actions = bellman_optimality(mdp, v)
            lo, hi, fp = span_bound(mdp, Tv, v)
        else:  # one fused pass: the sweep and the statistics of the stopping test
            Tv, lo, hi, v_abs = _value_sweep_with_span(mdp, v)
            fp = sweep_rounding(mdp, v_absmax=v_abs) / (1.0 - g)
        bound = g / (1.0 - g) * 0.5 * (hi - lo) + 2.0 * fp
        res = max(hi, -lo)
        if hist is not None:
            hist.append(res)
        if bound <= tol:
            converged = True
            break
        floor = 2.0 * fp > tol and g / (1.0 - g) * 0.5 * (hi - lo) <= 2.0 * fp
        if floor:
            break  # converged to the rounding floor, which alone exceeds tol: report it
        v = Tv
        for _ in range(m - 1):
            v = bellman_policy(mdp, actions, v)
    if converged:
        msg = f"certified |v - v*| <= {bound:.3g} <= tol={tol:g} after {k} {unit}"
    else:
        msg = report_cap(method, k, res, bound, tol, strict, rounding=_rounding_floor(mdp, v),
                         at_floor=floor)
    return certify(mdp, v, method=method, iterations=k, converged=converged, message=msg,
                   history=None if hist is None else np.array(hist))


def policy_iteration(mdp: FiniteMDP, *, max_iter: int = 10_000, pi0=None,
                     record_history: bool = False, strict: bool = False) -> Solution:
    r"""Howard's policy iteration: exact evaluation, then greedy improvement.

    .. math::

        v_k = (I - \gamma P_{\pi_k})^{-1} r_{\pi_k}, \qquad
        \pi_{k+1}(s) \in \arg\max_a \big[r(s,a) + \gamma P(\cdot\mid s,a)^\top v_k\big],

    keeping :math:`\pi_k(s)` on ties, until the policy is stable. Terminates in finitely
    many steps (at most :math:`A^S`, in practice a handful) with an optimal policy.

    Parameters
    ----------
    pi0 : array_like of int (S,), optional
        Initial deterministic policy (default: greedy for ``r``).
    record_history : bool
        Keep :math:`\|T v_k - v_k\|_\infty` per improvement step.

    References
    ----------
    .. [1] R. A. Howard, *Dynamic Programming and Markov Processes*, MIT Press, 1960.
    .. [2] M. L. Puterman, *Markov Decision Processes*, Wiley, 1994, Thm. 6.4.2.
    """
    require_finite_mdp(mdp, "policy_iteration")
    max_iter = V.check_positive_int("max_iter", max_iter)
    if pi0 is None:
        actions = mdp.r.argmax(axis=1)
    else:
        if not V.is_action_array(pi0):
            raise TypeError(f"pi0 must be an int array of actions, got {np.asarray(pi0).dtype}")
        actions = V.check_actions(pi0, mdp.S, mdp.A, name="pi0")
    rows = np.arange(mdp.S)
    v = None
    hist = [] if record_history else None
    converged = False
    k = 0
    for k in range(1, max_iter + 1):
        v = evaluate_policy(mdp, actions, x0=v)
        q = q_values(mdp, v)
        best = q.max(axis=1)
        if hist is not None:
            hist.append(float(np.abs(best - v).max()))
        slack = 8 * sweep_rounding(mdp, v)
        keep = q[rows, actions] >= best - slack
        if keep.all():
            converged = True
            break
        actions = np.where(keep, actions, q.argmax(axis=1))
    policy = np.zeros((mdp.S, mdp.A))
    policy[rows, actions] = 1.0
    if converged:
        msg = f"policy stable after {k} improvement steps"
    else:
        msg = report_cap("policy_iteration", k, float(np.abs(best - v).max()),
                         float(np.abs(best - v).max()) / (1 - mdp.gamma), 0.0, strict)
    return certify(mdp, v, method="policy_iteration", iterations=k, converged=converged,
                   message=msg, policy=policy,
                   history=None if hist is None else np.array(hist))


def modified_policy_iteration(mdp: FiniteMDP, *, m: int = 10, tol: float = 1e-8,
                              max_iter: int = 100_000, v0=None, record_history: bool = False,
                              strict: bool = False) -> Solution:
    r"""Modified policy iteration: one greedy sweep, then ``m - 1`` partial evaluation sweeps.

    .. math::

        \pi_{k+1} \in \mathcal G(v_k), \qquad v_{k+1} = T_{\pi_{k+1}}^{\,m} v_k,

    with the same certified span stopping rule as :func:`value_iteration` (checked on the
    greedy sweep). ``m = 1`` is value iteration; ``m → ∞`` is policy iteration.

    References
    ----------
    .. [1] M. L. Puterman and M. C. Shin, "Modified policy iteration algorithms for
       discounted Markov decision problems", Management Science 24, 1978.
    .. [2] M. L. Puterman, *Markov Decision Processes*, Wiley, 1994, §6.5, Thm. 6.5.5.
    """
    require_finite_mdp(mdp, "modified_policy_iteration")
    m = V.check_positive_int("m", m)
    return _greedy_sweeps(mdp, m, tol, max_iter, v0, record_history, strict,
                          method="modified_policy_iteration", unit="improvement steps")


def backward_induction(mdp: EpisodicMDP) -> Solution:
    r"""Exact finite-horizon dynamic programming.

    .. math::

        V_H = 0, \qquad Q_h = r_h + P_h V_{h+1}, \qquad V_h = \max_a Q_h(\cdot, a),
        \qquad h = H-1, \dots, 0.

    Returns
    -------
    Solution
        ``v`` of shape ``(H+1, S)``, ``q`` and ``policy`` of shape ``(H, S, A)``;
        ``error_bound`` is the accumulated worst-case rounding error.

    References
    ----------
    .. [1] M. L. Puterman, *Markov Decision Processes*, Wiley, 1994, §4.5, Thm. 4.5.1.
    """
    if not isinstance(mdp, EpisodicMDP):
        raise TypeError(f"backward_induction needs an EpisodicMDP, got {type(mdp).__name__}")
    from ..bellman import _matvec

    S, A, H = mdp.S, mdp.A, mdp.H
    Vh = np.zeros((H + 1, S))
    Q = np.empty((H, S, A))
    u = np.finfo(np.float64).eps / 2
    err = 0.0
    for h in range(H - 1, -1, -1):
        Pf = mdp.P_flat(h)
        Q[h] = mdp.r_at(h) + _matvec(Pf, Vh[h + 1]).reshape(S, A)
        Vh[h] = Q[h].max(axis=1)
        n = int(np.diff(Pf.indptr).max()) if hasattr(Pf, "indptr") else S
        err += (n + 4) * u * (np.abs(mdp.r_at(h)).max() + np.abs(Vh[h + 1]).max())
    policy = np.stack([greedy_policy(Q[h]) for h in range(H)])
    for arr in (Vh, Q, policy):
        arr.setflags(write=False)
    return Solution(v=Vh, q=Q, policy=policy, converged=True, iterations=H, residual=0.0,
                    error_bound=float(err), policy_gap_bound=float(2 * err),
                    method="backward_induction", message=f"exact backward induction over H={H}")


def _lp(name):
    def run(mdp, **kw):
        from . import lp

        return getattr(lp, name)(mdp, **kw)

    run.__name__ = name
    return run


_METHODS = {
    "vi": value_iteration,
    "value_iteration": value_iteration,
    "pi": policy_iteration,
    "policy_iteration": policy_iteration,
    "mpi": modified_policy_iteration,
    "modified_policy_iteration": modified_policy_iteration,
    "lp": _lp("primal_lp"),
    "primal_lp": _lp("primal_lp"),
    "dual_lp": _lp("dual_lp"),
    "backward_induction": backward_induction,
}


def solve(mdp: FiniteMDP | EpisodicMDP, method: str | None = None, **kwargs) -> Solution:
    """Solve an MDP with a named method.

    Parameters
    ----------
    method : str, optional
        One of ``"vi"``, ``"pi"``, ``"mpi"``, ``"lp"`` (primal), ``"dual_lp"``,
        ``"backward_induction"`` (or their long names). Default: ``"pi"`` for a
        :class:`FiniteMDP`, ``"backward_induction"`` for an :class:`EpisodicMDP`.
    **kwargs
        Passed to the solver (``tol``, ``max_iter``, ...).
    """
    if method is None:
        method = "backward_induction" if isinstance(mdp, EpisodicMDP) else "pi"
    try:
        fn = _METHODS[method]
    except KeyError:
        valid = ", ".join(sorted(_METHODS))
        raise ValueError(f"unknown method {method!r}; valid methods: {valid}") from None
    return fn(mdp, **kwargs)
