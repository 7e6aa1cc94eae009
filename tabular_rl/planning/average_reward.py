r"""Average-reward (gain-optimal) planning: relative value iteration and the unichain LP.

The discount ``mdp.gamma`` is ignored here. The *gain* of a stationary policy is
:math:`g^\pi = \lim_N \tfrac1N \mathbb E^\pi\big[\sum_{t<N} r(s_t,a_t)\big]
= P_\pi^* r_\pi` with :math:`P_\pi^*` the Cesàro limit of :math:`P_\pi^n`. In a *unichain*
MDP (every stationary policy has a single recurrent class) the optimal gain :math:`g^*`
is a constant and, with the undiscounted operator

.. math::

    (T h)(s) = \max_a \Big[r(s,a) + \sum_{s'} P(s'\mid s,a)\, h(s')\Big],

solves the optimality equation :math:`g^* + h = T h` together with a bias (relative
value) :math:`h`, unique up to an additive constant (Puterman 1994, §8.4).

**Gain bounds.** For *any* :math:`h` (unichain or not), applying :math:`P_\pi^*` to
:math:`Th - h \ge r_\pi + P_\pi h - h` and using :math:`P_\pi^* P_\pi = P_\pi^*` gives
:math:`g^\pi \le \max_s (Th - h)(s)` for every policy, with equality
:math:`g^{\pi_h} = P^*_{\pi_h}(Th - h) \ge \min_s (Th - h)(s)` for a policy
:math:`\pi_h` greedy for :math:`h`:

.. math::

    \min_s (Th - h)(s) \;\le\; g^{\pi_h} \;\le\; g^* \;\le\; \max_s (Th - h)(s)

(Odoni 1969; Puterman 1994, Thm. 8.5.5). Every solver here reports this bracket, computed
from one sweep and widened by the sweep's worst-case rounding error, so ``gain_lower`` and
``gain_upper`` are proven bounds in floating point; ``policy_gain_lower`` bounds the gain of
the returned policy from below, for any policy and any ``h``.

As :math:`\gamma \to 1`, :math:`(1-\gamma)\, v^*_\gamma = g^* + O(1-\gamma)` (the Laurent
expansion, Puterman 1994, §8.2 and §10.1), which the tests use as a cross-check.
"""

from __future__ import annotations

import numbers
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .. import _validation as V
from ..bellman import _matvec, greedy_policy
from ..exceptions import ConvergenceError, ConvergenceWarning, NumericalWarning
from ..mdp import FiniteMDP, require_finite_mdp
from .lp import _check_solver, _highs, _state_indicator

_STATIONARY = " (average reward needs a stationary FiniteMDP)"

__all__ = ["AverageRewardSolution", "average_reward_lp", "relative_value_iteration"]

_U = np.finfo(np.float64).eps / 2


@dataclass(frozen=True, slots=True, repr=False)
class AverageRewardSolution:
    r"""What an average-reward solver returns.

    Attributes
    ----------
    gain : float
        Estimate of the optimal gain :math:`g^*` (centre of the bracket for relative value
        iteration; the LP optimum for :func:`average_reward_lp`).
    gain_lower, gain_upper : float
        Proven bracket :math:`g_{\mathrm{lo}} \le g^* \le g_{\mathrm{up}}`.
    policy_gain_lower : float
        Proven lower bound on the gain of ``policy`` from every state,
        :math:`\min_s (T_\pi h - h)(s)` less the rounding error: for any stationary
        :math:`\pi` and any :math:`h`, :math:`g^\pi = P_\pi^*(r_\pi + P_\pi h - h)` since
        :math:`P_\pi^* P_\pi = P_\pi^*` (Puterman 1994, §8.2), unichain or not.
    bias : ndarray (S,)
        Relative values :math:`h` with :math:`h(\mathrm{ref}) = 0`, satisfying
        :math:`g + h \approx T h` (a bias up to an additive constant).
    policy : ndarray (S, A)
        Greedy for ``bias`` (or read off the LP's stationary distribution), rows one-hot.
    converged : bool
        Whether the stopping rule was met.
    iterations : int
        Sweeps (relative value iteration) or HiGHS iterations (LP).
    message : str
    method : str
    """

    gain: float
    gain_lower: float
    gain_upper: float
    bias: np.ndarray
    policy: np.ndarray
    converged: bool
    iterations: int
    message: str
    method: str = "relative_value_iteration"
    policy_gain_lower: float = float("nan")

    @property
    def gain_bound(self) -> float:
        """Certified bound on :math:`|g - g^*|`: the distance from ``gain`` to the far end
        of the bracket."""
        return max(self.gain - self.gain_lower, self.gain_upper - self.gain)

    @property
    def actions(self) -> np.ndarray:
        """The most probable action per state."""
        return self.policy.argmax(axis=-1)

    def __repr__(self) -> str:
        verdict = "converged" if self.converged else "NOT converged"
        return (f"AverageRewardSolution({verdict}, method={self.method!r}, "
                f"gain={self.gain:.10g} in [{self.gain_lower:.10g}, {self.gain_upper:.10g}], "
                f"iterations={self.iterations}, bias.shape={self.bias.shape})\n"
                f"  {self.message}")


def _undiscounted_q(mdp: FiniteMDP, h: np.ndarray, tau: float = 1.0) -> np.ndarray:
    r""":math:`r + \tau P h + (1-\tau) h`, ``(S, A)``: the q-values of the transformed kernel."""
    Ph = _matvec(mdp.P_flat, np.ascontiguousarray(h, dtype=np.float64)).reshape(mdp.S, mdp.A)
    if tau == 1.0:
        return mdp.r + Ph
    return mdp.r + tau * Ph + (1.0 - tau) * h[:, None]


def _sweep_error(mdp: FiniteMDP, h: np.ndarray) -> float:
    """Worst-case rounding error of one entry of ``Th - h``."""
    return (mdp.max_row_nnz + 6) * _U * (mdp.r_absmax + 2.0 * float(np.abs(h).max()))


def _bracket(mdp: FiniteMDP, h: np.ndarray, tau: float = 1.0):
    """One sweep at ``h``: ``(Th, q, lo, hi, fp)`` with ``lo - fp <= g* <= hi + fp``."""
    q = _undiscounted_q(mdp, h, tau)
    Th = q.max(axis=1)
    d = Th - h
    return Th, q, float(d.min()), float(d.max()), _sweep_error(mdp, h)


def _policy_gain_lower(mdp: FiniteMDP, q: np.ndarray, h: np.ndarray, policy: np.ndarray,
                       fp: float) -> float:
    """Proven lower bound on the gain of ``policy``: ``min(T_pi h - h)`` less rounding
    (the sum over actions adds ``A`` terms to the sweep's error)."""
    Tpi_h = np.einsum("sa,sa->s", policy, q)
    extra = mdp.A * _U * (mdp.r_absmax + 2.0 * float(np.abs(h).max()))
    return float((Tpi_h - h).min()) - fp - extra


def relative_value_iteration(mdp: FiniteMDP, *, tol: float = 1e-8, max_iter: int = 100_000,
                             ref_state: int = 0, aperiodicity: float | None = None,
                             strict: bool = False) -> AverageRewardSolution:
    r"""Relative value iteration for the optimal gain of a unichain MDP (``gamma`` ignored).

    .. math::

        h_{k+1} = T h_k - (T h_k)(s_{\mathrm{ref}})\,\mathbf 1, \qquad h_0 = 0,

    with the undiscounted operator :math:`(Th)(s) = \max_a [r(s,a) + P(\cdot\mid s,a)^\top h]`,
    stopping when :math:`\mathrm{sp}(T h_k - h_k) = \max(Th_k - h_k) - \min(Th_k - h_k)
    \le \mathrm{tol}`; then

    .. math::

        \min_s (T h_k - h_k)(s) \le g^* \le \max_s (T h_k - h_k)(s),

    so the returned bracket has width at most ``tol`` (plus rounding).

    Parameters
    ----------
    mdp : FiniteMDP
        Dense or CSR kernel; ``mdp.gamma`` is ignored.
    tol : float
        Stopping threshold on :math:`\mathrm{sp}(Th - h)`, the width of the gain bracket.
    max_iter : int
        Sweep cap; hitting it warns (:class:`ConvergenceWarning`) or raises
        :class:`ConvergenceError` when ``strict``.
    ref_state : int
        State whose relative value is pinned to 0.
    aperiodicity : float in (0, 1], optional
        If given, iterate on the transformed kernel
        :math:`\tilde P = \tau P + (1-\tau) I` with :math:`\tau` = ``aperiodicity``
        (Puterman 1994, §8.5.4). It has the same gain for every policy and bias
        :math:`\tilde h = h/\tau`; every chain becomes aperiodic, which relative value
        iteration needs to converge. The returned ``bias`` is rescaled to the original MDP.
    strict : bool
        Raise instead of warning when ``max_iter`` is hit.

    Returns
    -------
    AverageRewardSolution
        ``gain`` is the centre of the bracket ``[gain_lower, gain_upper]`` (proven, see
        the module docstring); ``policy`` is greedy for the last :math:`h_k` and has gain at
        least ``gain_lower``.

    Raises
    ------
    ValueError
        ``tol`` not positive, ``max_iter`` < 1, ``ref_state`` not a state,
        ``aperiodicity`` outside :math:`(0, 1]`.
    ConvergenceError
        ``strict=True`` and ``max_iter`` reached.

    Warns
    -----
    ConvergenceWarning
        ``max_iter`` reached (the bracket is still proven, just wider than ``tol``).

    Notes
    -----
    :math:`\mathrm{sp}(Th_k - h_k)` is non-increasing in :math:`k` (:math:`T` is a
    span non-expansion), and tends to 0 geometrically when the MDP is unichain and the
    chains of the optimal policies are aperiodic (Puterman 1994, §8.5.2–8.5.3, e.g. when
    every policy's chain is unichain and aperiodic). For a periodic optimal chain the
    iterates can oscillate with a span stalled above 0: use ``aperiodicity``. Subtracting
    :math:`(Th_k)(s_{\mathrm{ref}})` changes neither :math:`Th - h` nor the greedy policy,
    only keeps :math:`h_k` bounded (White 1963).

    References
    ----------
    .. [1] D. J. White, "Dynamic programming, Markov chains, and the method of
       successive approximations", J. Math. Anal. Appl. 6, 1963.
    .. [2] A. R. Odoni, "On finding the maximal gain for Markov decision processes",
       Operations Research 17(5), 1969.
    .. [3] M. L. Puterman, *Markov Decision Processes*, Wiley, 1994, Thm. 8.5.5 (gain
       bounds), §8.5.4 (aperiodicity transformation), §8.5.5 (relative value iteration).

    Examples
    --------
    >>> import numpy as np
    >>> from tabular_rl import FiniteMDP, relative_value_iteration
    >>> P = np.array([[[0.5, 0.5], [0.0, 1.0]], [[0.5, 0.5], [0.75, 0.25]]])
    >>> r = [[1.0, 3.0], [0.0, -0.25]]
    >>> res = relative_value_iteration(FiniteMDP(P, r, gamma=0.9), tol=1e-12)
    >>> round(res.gain * 7, 8), res.actions       # g* = 8/7 (see tests for the derivation)
    (8.0, array([1, 1]))
    """
    require_finite_mdp(mdp, "relative_value_iteration", _STATIONARY)
    tol = V.check_real_scalar("tol", tol, 0.0, np.inf, lo_open=True)
    max_iter = V.check_positive_int("max_iter", max_iter)
    if isinstance(ref_state, bool) or not isinstance(ref_state, numbers.Integral | np.integer):
        raise TypeError(f"ref_state must be an integer, got {type(ref_state).__name__}")
    if not 0 <= int(ref_state) < mdp.S:
        raise ValueError(f"ref_state = {int(ref_state)} is not a state in 0..{mdp.S - 1}")
    ref = int(ref_state)
    tau = 1.0 if aperiodicity is None else V.check_real_scalar(
        "aperiodicity", aperiodicity, 0.0, 1.0, lo_open=True, hi_open=False)
    h = np.zeros(mdp.S)
    converged = False
    k = 0
    while k < max_iter:
        k += 1
        Th, q, lo, hi, fp = _bracket(mdp, h, tau)
        if hi - lo <= tol:
            converged = True
            break
        h = Th - Th[ref]
    lower, upper = lo - fp, hi + fp
    if converged:
        msg = (f"sp(Th - h) = {hi - lo:.3g} <= tol={tol:g} after {k} sweeps; "
               f"g* in [{lower:.10g}, {upper:.10g}]")
    else:
        msg = (f"relative_value_iteration stopped at max_iter={k} with sp(Th - h) = "
               f"{hi - lo:.3g} > tol={tol:g}; certified g* in [{lower:.10g}, {upper:.10g}]; "
               "raise max_iter or loosen tol")
        if aperiodicity is None:
            msg += " (if the span stalls, an optimal chain may be periodic: try aperiodicity=0.5)"
        if strict:
            raise ConvergenceError(msg)
        warnings.warn(msg, ConvergenceWarning, stacklevel=2)
    policy = greedy_policy(q)
    pol_lower = _policy_gain_lower(mdp, q, h, policy, fp)
    bias = tau * (h - h[ref])
    for arr in (bias, policy):
        arr.setflags(write=False)
    return AverageRewardSolution(gain=0.5 * (lo + hi), gain_lower=lower, gain_upper=upper,
                                 bias=bias, policy=policy, converged=converged, iterations=k,
                                 message=msg, method="relative_value_iteration",
                                 policy_gain_lower=pol_lower)


def average_reward_lp(mdp: FiniteMDP, *, tol: float = 1e-9, ref_state: int = 0,
                      solver: str = "highs-ipm") -> AverageRewardSolution:
    r"""The optimal gain of a unichain MDP by linear programming (``gamma`` ignored).

    .. math::

        \max_{d \ge 0} \; \sum_{s,a} d(s,a)\, r(s,a)
        \quad \text{s.t.} \quad
        \sum_a d(s,a) = \sum_{s',a'} P(s\mid s',a')\, d(s',a') \;\; \forall s, \qquad
        \sum_{s,a} d(s,a) = 1,

    whose feasible points are the stationary state-action distributions of the stationary
    policies of a unichain MDP and whose optimum is :math:`g^*`; its dual is
    :math:`\min g` s.t. :math:`g + h(s) \ge r(s,a) + P(\cdot\mid s,a)^\top h`
    (Puterman 1994, §8.8).

    Parameters
    ----------
    mdp : FiniteMDP
        Unichain; dense or CSR kernel (never densified); ``mdp.gamma`` is ignored.
    tol : float
        HiGHS feasibility tolerances are ``tol/10`` (clipped to ``[1e-10, 1e-7]``);
        normalized stationary mass at most ``tol`` counts as zero.
    ref_state : int
        State whose relative value is pinned to 0.
    solver : {"highs-ipm", "highs-ds", "highs"}
        HiGHS method, as for :func:`tabular_rl.primal_lp`.

    Returns
    -------
    AverageRewardSolution
        ``gain`` is the LP optimum; ``gain_lower``/``gain_upper`` the proven bracket from one
        sweep at ``bias``; ``iterations`` are HiGHS iterations; ``converged`` is ``True``
        when HiGHS reports optimal and ``gain`` lies in the bracket.

    Raises
    ------
    RuntimeError
        HiGHS does not report an optimal solution.

    Notes
    -----
    ``bias`` is :math:`-` the multipliers of the balance constraints (scipy's marginals
    carry the opposite sign, as :func:`scipy.optimize.linprog` minimizes :math:`-r^\top d`);
    the gain is :math:`-` the multiplier of the normalization. The policy is
    :math:`d(s,a)/\sum_a d(s,a)` on states with positive stationary mass (a closed set,
    which contains the single recurrent class) and greedy for ``bias`` elsewhere; in a
    unichain MDP any actions on the remaining, transient, states keep the gain (the
    policy's single recurrent class lies in that closed set; Puterman 1994, §8.8). On
    such states the multipliers need not satisfy the optimality equation, so the bracket
    may be wider than on an ergodic model; it remains a proven bound.

    References
    ----------
    .. [1] M. L. Puterman, *Markov Decision Processes*, Wiley, 1994, §8.8 (the linear
       programming approach for unichain models).
    .. [2] A. S. Manne, "Linear programming and sequential decisions", Management
       Science 6(3), 1960.
    """
    require_finite_mdp(mdp, "average_reward_lp", _STATIONARY)
    tol = V.check_real_scalar("tol", tol, 0.0, np.inf, lo_open=True)
    if isinstance(ref_state, bool) or not isinstance(ref_state, numbers.Integral | np.integer):
        raise TypeError(f"ref_state must be an integer, got {type(ref_state).__name__}")
    if not 0 <= int(ref_state) < mdp.S:
        raise ValueError(f"ref_state = {int(ref_state)} is not a state in 0..{mdp.S - 1}")
    ref = int(ref_state)
    solver = _check_solver(solver)
    S, A = mdp.S, mdp.A
    P = mdp.P_flat if sp.issparse(mdp.P_flat) else sp.csr_matrix(mdp.P_flat)
    balance = (_state_indicator(S, A) - P).T
    A_eq = sp.vstack([balance, sp.csr_matrix(np.ones((1, S * A)))]).tocsr()
    b_eq = np.zeros(S + 1)
    b_eq[S] = 1.0
    res = _highs("average_reward_lp", -np.asarray(mdp.r).reshape(-1), A_eq=A_eq, b_eq=b_eq,
                 bounds=(0, None), tol=tol, solver=solver)
    d = np.maximum(np.asarray(res.x, dtype=np.float64), 0.0).reshape(S, A)
    y = -np.asarray(res.eqlin.marginals, dtype=np.float64)
    h = y[:S] - y[ref]
    gain = -float(res.fun)
    d_s = d.sum(axis=1)
    recurrent = d_s > tol
    policy = np.zeros((S, A))
    policy[recurrent] = d[recurrent] / d_s[recurrent, None]
    _, q, lo, hi, fp = _bracket(mdp, h)
    rows = np.flatnonzero(~recurrent)
    policy[rows, q[rows].argmax(axis=1)] = 1.0
    lower, upper = lo - fp, hi + fp
    slack = max(tol, 1e3 * fp)
    converged = lower - slack <= gain <= upper + slack
    if converged:
        msg = (f"HiGHS optimal after {res.nit} iterations; g* = {gain:.10g} in the "
               f"certified bracket [{lower:.10g}, {upper:.10g}]")
    else:
        msg = (f"average_reward_lp: HiGHS reported optimal gain {gain:.10g} outside the "
               f"certified bracket [{lower:.10g}, {upper:.10g}]; is the MDP unichain?")
        warnings.warn(msg, NumericalWarning, stacklevel=2)
    for arr in (h, policy):
        arr.setflags(write=False)
    return AverageRewardSolution(gain=gain, gain_lower=lower, gain_upper=upper, bias=h,
                                 policy=policy, converged=converged, iterations=int(res.nit),
                                 message=msg, method="average_reward_lp",
                                 policy_gain_lower=_policy_gain_lower(mdp, q, h, policy, fp))
