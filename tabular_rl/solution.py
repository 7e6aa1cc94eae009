r"""Solver results and the certification every solver ends with.

Whatever method produced a value estimate :math:`v`, one more Bellman sweep gives a proven
enclosure of the optimal value (MacQueen 1966; Puterman 1994, Prop. 6.6.1 and Thm. 6.6.3):

.. math::

    T v + \tfrac{\gamma}{1-\gamma} \min_s (T v - v)(s) \;\le\; v^*
    \;\le\; T v + \tfrac{\gamma}{1-\gamma} \max_s (T v - v)(s).

The returned value is the centre of this box, so
:math:`\|v_{\mathrm{ret}} - v^*\|_\infty \le \tfrac{\gamma}{1-\gamma}\,\mathrm{sp}(Tv - v)/2`,
and the policy greedy for :math:`v` is :math:`\tfrac{\gamma}{1-\gamma}\mathrm{sp}(Tv - v)`-optimal.
Both bounds are inflated by the worst-case floating-point error of the sweep itself
(:math:`(n+2)\,u\,(\|r\|_\infty + \gamma\|v\|_\infty)` per entry for rows of ``n`` nonzeros,
Higham 2002, Thm. 3.1), so they stay proven bounds in floating point.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from . import _validation as V
from .bellman import greedy_policy, q_values
from .exceptions import ConvergenceError, ConvergenceWarning
from .mdp import FiniteMDP

__all__ = ["Solution", "certify"]

_U = np.finfo(np.float64).eps / 2


@dataclass(frozen=True, slots=True, repr=False)
class Solution:
    """What an exact solver returns.

    Attributes
    ----------
    v : ndarray (S,) — or (H+1, S) for an episodic model, with ``v[H] = 0``
        Value estimate.
    q : ndarray (S, A) — or (H, S, A)
        Action values at ``v``.
    policy : ndarray (S, A) — or (H, S, A)
        A (greedy) policy, rows on the simplex.
    converged : bool
        Whether the stopping rule was met (``False`` means the iteration cap was hit).
    iterations : int
        Sweeps, improvement steps or LP iterations, by method.
    residual : float
        :math:`\\|T v - v\\|_\\infty` at the returned ``v`` (0 for backward induction).
    error_bound : float
        Certified bound on :math:`\\|v - v^*\\|_\\infty`.
    policy_gap_bound : float
        Certified bound on :math:`\\|v^* - v^{\\pi}\\|_\\infty` for the returned ``policy``.
    method : str
    message : str
    history : ndarray or None
        Per-iteration residuals (``(iterations,)``) when the solver was asked to record them.
    """

    v: np.ndarray
    q: np.ndarray
    policy: np.ndarray
    converged: bool
    iterations: int
    residual: float
    error_bound: float
    policy_gap_bound: float
    method: str
    message: str
    history: np.ndarray | None = None

    @property
    def support(self) -> np.ndarray:
        """Boolean ``(S, A)`` mask of actions with positive probability."""
        return self.policy > 0

    @property
    def actions(self) -> np.ndarray:
        """The most probable action per state (per step for episodic solutions)."""
        return self.policy.argmax(axis=-1)

    def __repr__(self) -> str:
        verdict = "converged" if self.converged else "NOT converged"
        return (f"Solution({verdict}, method={self.method!r}, iterations={self.iterations}, "
                f"residual={self.residual:.3g}, error_bound={self.error_bound:.3g}, "
                f"policy_gap_bound={self.policy_gap_bound:.3g}, v.shape={self.v.shape})\n"
                f"  {self.message}")


def sweep_rounding(mdp: FiniteMDP, v: np.ndarray | None = None, *,
                   v_absmax: float | None = None) -> float:
    """Worst-case absolute rounding error of one computed Bellman sweep at ``v``
    (or at any ``v`` with ``max|v| = v_absmax``)."""
    if v_absmax is None:
        v_absmax = max(float(v.max()), -float(v.min()))
    return (mdp.max_row_nnz + 4) * _U * (mdp.r_absmax + mdp.gamma * v_absmax)


def span_bound(mdp: FiniteMDP, Tv: np.ndarray, v: np.ndarray) -> tuple[float, float, float]:
    r"""MacQueen enclosure from a sweep: returns ``(lo, hi, fp)``.

    .. math::

        v^* \in [Tv + \tfrac{\gamma}{1-\gamma}\,lo - fp,\;
                 Tv + \tfrac{\gamma}{1-\gamma}\,hi + fp].
    """
    d = Tv - v
    g = mdp.gamma
    return float(d.min()), float(d.max()), sweep_rounding(mdp, v) / (1.0 - g)


def certify(mdp: FiniteMDP, v: np.ndarray, *, method: str, iterations: int, converged: bool,
            message: str, history=None, policy=None) -> Solution:
    r"""Turn any value estimate into a :class:`Solution` with proven bounds.

    One Bellman sweep at ``v`` gives the MacQueen box; the returned ``v`` is its centre
    and ``q`` is computed at that centre. The returned ``policy`` is greedy for the input
    ``v`` (the policy the gap bound is proven for; near ties it may differ from
    ``q.argmax``). If ``policy`` is given (e.g. the final policy of policy iteration, or an
    LP's), it is validated and kept, and its gap bound is computed from its own backup
    :math:`T_\pi v` (with the extra rounding of the sum over its ``A`` actions).
    """
    g = mdp.gamma
    q0 = q_values(mdp, v)
    Tv = q0.max(axis=1)
    lo, hi, fp = span_bound(mdp, Tv, v)
    c = g / (1.0 - g)
    v_hat = Tv + c * 0.5 * (lo + hi)
    err = c * 0.5 * (hi - lo) + 2.0 * fp
    if policy is None:
        policy = greedy_policy(q0)
        gap = c * (hi - lo) + 2.0 * fp
    else:
        policy = np.array(V.check_policy(policy, mdp.S, mdp.A))
        V.normalize_rows(policy)
        fp_pi = fp * (mdp.max_row_nnz + mdp.A + 4) / (mdp.max_row_nnz + 4)
        Tpi_v = np.einsum("sa,sa->s", policy, q0)
        # v^pi >= T_pi v + c * min(T_pi v - v); v* <= Tv + c * max(Tv - v)
        lower_pi = Tpi_v + c * float((Tpi_v - v).min())
        upper_star = Tv + c * hi
        gap = float((upper_star - lower_pi).max()) + fp + fp_pi
    q_hat = q_values(mdp, v_hat)
    residual = float(np.abs(q_hat.max(axis=1) - v_hat).max())
    for arr in (v_hat, q_hat, policy):
        arr.setflags(write=False)
    return Solution(v=v_hat, q=q_hat, policy=policy, converged=converged, iterations=iterations,
                    residual=residual, error_bound=float(err), policy_gap_bound=max(gap, 0.0),
                    method=method, message=message, history=history)


def report_cap(method: str, iterations: int, residual: float, bound: float, tol: float,
               strict: bool, rounding: float = 0.0, at_floor: bool = False) -> str:
    """Message for a solver that stopped without certifying ``tol``; warn (or raise when
    ``strict``).

    ``rounding`` is the part of the bound that floating-point error alone contributes.
    When it exceeds ``tol`` no number of sweeps can certify ``tol``: solvers stop as soon as
    the iteration has converged to that floor (``at_floor``, rather than run to
    ``max_iter``) and the message says so.
    """
    if at_floor:
        msg = (f"{method} stopped after {iterations} iterations at the floating-point floor: "
               f"certified error bound {bound:.3g} > tol={tol:g}, and rounding error alone "
               f"contributes {rounding:.3g} to the bound, so tol below that cannot be "
               f"certified in float64 for this model (residual {residual:.3g}); loosen tol")
    else:
        msg = (f"{method} stopped at max_iter={iterations} with residual {residual:.3g} and "
               f"certified error bound {bound:.3g} > tol={tol:g}; raise max_iter or loosen "
               "tol")
        if rounding > tol:
            msg += (f" (rounding error alone contributes {rounding:.3g} to the bound: tol "
                    "below that cannot be certified in float64 for this model)")
    if strict:
        raise ConvergenceError(msg)
    warnings.warn(msg, ConvergenceWarning, stacklevel=3)
    return msg
