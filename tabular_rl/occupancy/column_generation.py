r"""Constrained MDPs at scale: Dantzig-Wolfe column generation over deterministic policies.

The CMDP linear program of :mod:`tabular_rl.occupancy.cmdp`,

.. math::

    \mathrm{OPT} = \max_{d \in \mathcal D_\mu} \langle d, r\rangle
    \quad\text{s.t.}\quad \langle d, c_k\rangle \le b_k \;(k = 1..K),

has the flow polytope :math:`\mathcal D_\mu` as its only large block, and the vertices of
:math:`\mathcal D_\mu` are the (normalized, discounted) occupancies :math:`d^{\pi}` of the
deterministic policies (Puterman 1994, Thm. 6.9.4; Altman 1999, Thm. 3.2). Writing
:math:`d = \sum_j w_j d^{\pi_j}` turns it into the *master* program over mixture weights
(Dantzig and Wolfe 1960),

.. math::

    \max_{w \ge 0,\ \sum_j w_j = 1} \; \sum_j w_j R_j \quad\text{s.t.}\quad
    \sum_j w_j C_{kj} \le b_k, \qquad R_j = \langle d^{\pi_j}, r\rangle,\
    C_{kj} = \langle d^{\pi_j}, c_k\rangle,

with only :math:`K + 1` rows. Column generation solves it over a growing set of columns:
the restricted master is a tiny LP (HiGHS), and its duals :math:`\lambda \ge 0` (cost rows)
and :math:`\sigma` (convexity row) price the next column by an *unconstrained* MDP solve,

.. math::

    \pi_{\mathrm{new}} \in \arg\max_\pi \langle d^\pi, r - \textstyle\sum_k \lambda_k c_k
    \rangle, \qquad \text{reduced cost } \rho = \max_\pi \langle d^\pi, r -
    \lambda^\top c\rangle - \sigma,

done by policy iteration (the block-pivoting simplex method of
:func:`tabular_rl.occupancy_lp`, warm-started at the previous column). Weak duality gives a
certified bound at every round: for any :math:`\lambda \ge 0`,

.. math::

    \mathrm{OPT} \le g(\lambda) = \max_{d \in \mathcal D_\mu} \langle d, r - \lambda^\top
    c\rangle + \lambda^\top b,

and :math:`g(\lambda) - \sum_j w_j R_j = \rho` at an optimal master. The method stops when
:math:`\rho \le` ``tol``; the returned mixture is then feasible and within :math:`\rho` of
:math:`\mathrm{OPT}`, and :math:`\lambda` are optimal Lagrange multipliers to the same
accuracy (Lasdon 1970, Ch. 3). The policy oracle's certified error
(:attr:`tabular_rl.Solution.error_bound`) is added to :math:`g`, so the bound does not
assume an exact oracle.

**Phase 1.** If the unconstrained optimum violates a constraint, the method first solves
:math:`t^* = \min_{d\in\mathcal D_\mu}\max_k(\langle d, c_k\rangle - b_k)` the same way
(master :math:`\min t` s.t. :math:`\sum_j w_j C_{kj} - t \le b_k`; its cost-row duals
:math:`y \ge 0`, :math:`\sum_k y_k = 1`, price columns with reward :math:`-y^\top c`). For
every such :math:`y`, :math:`t^* \ge \min_d \langle d, y^\top c\rangle - y^\top b`; when this
certified lower bound is positive the CMDP is infeasible and
:class:`~tabular_rl.occupancy.InfeasibleCMDPError` carries :math:`y` as its Farkas-type
certificate, exactly as :func:`~tabular_rl.occupancy.solve_cmdp_lp` does.

Why: HiGHS on the full LP of a 10,000-state, 10-action garnet takes minutes (interior-point
fill-in, ``benchmarks/results_occupancy.md``); here the large work is a few warm-started
policy iterations on sparse kernels.

References
----------
.. [1] G. B. Dantzig, P. Wolfe, "Decomposition principle for linear programs", Operations
   Research 8(1), 1960.
.. [2] L. S. Lasdon, *Optimization Theory for Large Systems*, Macmillan, 1970, Ch. 3.
.. [3] E. Altman, *Constrained Markov Decision Processes*, Chapman & Hall/CRC, 1999, Ch. 3.
.. [4] M. L. Puterman, *Markov Decision Processes*, Wiley, 1994, §6.9.
.. [5] P. Wentges, "Weighted Dantzig-Wolfe decomposition for linear mixed-integer
   programming", International Transactions in Operational Research 4(2), 1997.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .. import _validation as V
from ..exceptions import ConvergenceError, ConvergenceWarning
from ..mdp import FiniteMDP
from ..planning.lp import _check_tol, _highs
from .cmdp import CMDPSolution, ConstrainedMDP, InfeasibleCMDPError
from .polytope import flow_constraints, occupancy_to_policy

__all__ = ["ColumnGenerationResult", "policy_iteration_oracle",
           "solve_cmdp_column_generation"]


def policy_iteration_oracle(mdp: FiniteMDP, reward: np.ndarray, warm: np.ndarray | None):
    r"""Default pricing oracle: an optimal deterministic policy for ``reward`` by policy
    iteration warm-started at ``warm``.

    Returns ``(actions (S,), v (S,), error_bound)`` with :math:`|v - v^*| \le`
    ``error_bound`` certified by :func:`tabular_rl.certify`.
    """
    from ..planning.dp import policy_iteration

    sol = policy_iteration(mdp.with_reward(reward), pi0=warm)
    return np.asarray(sol.actions), np.asarray(sol.v), float(sol.error_bound)


@dataclass(frozen=True, slots=True, repr=False)
class ColumnGenerationResult:
    r"""A CMDP solved by :func:`solve_cmdp_column_generation`.

    Attributes
    ----------
    solution : CMDPSolution
        The optimal mixture's occupancy, policy, value, multipliers, costs and slacks (as
        from :func:`~tabular_rl.occupancy.solve_cmdp_lp`; ``iterations`` is the number of
        pricing rounds).
    upper_bound : float
        Certified :math:`g(\lambda) \ge \mathrm{OPT}`; ``upper_bound - solution.value`` is
        a proven optimality gap.
    actions : ndarray (J, S)
        The deterministic policies with positive weight.
    weights : ndarray (J,)
        Their mixture weights (sum to one); the optimal occupancy is
        :math:`\sum_j w_j d^{\pi_j}`.
    history : ndarray (rounds, 2)
        Per pricing round: master value (phase 2; NaN in phase 1) and the certified bound.
    """

    solution: CMDPSolution
    upper_bound: float
    actions: np.ndarray
    weights: np.ndarray
    history: np.ndarray

    @property
    def gap(self) -> float:
        """Certified optimality gap ``upper_bound - solution.value``."""
        return self.upper_bound - self.solution.value

    def __repr__(self) -> str:
        return (f"ColumnGenerationResult(value={self.solution.value:.10g}, "
                f"gap<={self.gap:.3g}, columns={len(self.weights)}, "
                f"rounds={len(self.history)}, multipliers="
                f"{np.array2string(self.solution.multipliers, precision=6)})")


class _Columns:
    """Deterministic-policy columns: actions, state occupancy, R_j and C_kj."""

    def __init__(self, mdp: FiniteMDP, costs: np.ndarray, mu: np.ndarray):
        self.mdp, self.costs, self.mu = mdp, costs, mu
        self.actions: list[np.ndarray] = []
        self.state_occ: list[np.ndarray] = []
        self.R: list[float] = []
        self.C: list[np.ndarray] = []

    def add(self, actions: np.ndarray) -> bool:
        """Append the column of ``actions``; False if it is already present."""
        if any(np.array_equal(actions, a) for a in self.actions):
            return False
        from ..evaluation import state_occupancy

        rows = np.arange(self.mdp.S)
        pi = np.zeros((self.mdp.S, self.mdp.A))
        pi[rows, actions] = 1.0
        ds = state_occupancy(self.mdp, pi, self.mu, normalized=True)
        self.actions.append(np.asarray(actions))
        self.state_occ.append(ds)
        self.R.append(float(ds @ self.mdp.r[rows, actions]))
        self.C.append(self.costs[:, rows, actions] @ ds)
        return True

    def matrices(self) -> tuple[np.ndarray, np.ndarray]:
        return np.asarray(self.R), np.stack(self.C, axis=1)      # (J,), (K, J)

    def occupancy(self, w: np.ndarray) -> np.ndarray:
        S, A = self.mdp.S, self.mdp.A
        d = np.zeros((S, A))
        rows = np.arange(S)
        for wj, a, ds in zip(w, self.actions, self.state_occ, strict=True):
            if wj > 0:
                d[rows, a] += wj * ds
        return d


def _report(msg: str, strict: bool) -> None:
    if strict:
        raise ConvergenceError(msg)
    warnings.warn(msg, ConvergenceWarning, stacklevel=3)


def solve_cmdp_column_generation(cmdp: ConstrainedMDP, *, mu=None, tol: float = 1e-8,
                                 max_rounds: int = 500, stabilization: float = 0.5,
                                 oracle: Callable | None = None,
                                 strict: bool = False) -> ColumnGenerationResult:
    r"""Solve a discounted constrained MDP by column generation with a certified gap.

    See the module docstring for the method and the bound.

    Parameters
    ----------
    cmdp : ConstrainedMDP
        On a discounted :class:`~tabular_rl.FiniteMDP` (dense or CSR).
    mu : array_like (S,), optional
        Initial distribution (default ``cmdp.mdp.mu``).
    tol : float
        Stop when the certified gap :math:`g(\lambda) - \sum_j w_j R_j` is at most ``tol``
        (on the normalized scale of :math:`r`); also the feasibility tolerance of the
        phase-1 decision :math:`t^* \le` ``tol``: when phase 1 ends with a worst violation
        :math:`0 < t \le` ``tol``, phase 2 uses the thresholds :math:`b + t` (so every
        constraint is met to within ``tol``, and the bound, valid for :math:`b + t`, is
        also one for :math:`b`).
    max_rounds : int
        Pricing rounds (phase 1 and 2 together).
    stabilization : float in [0, 1)
        Dual smoothing (Wentges 1997): phase 2 prices at :math:`\alpha\lambda_c +
        (1-\alpha)\lambda_{\mathrm{master}}`, :math:`\lambda_c` the multipliers of the
        best bound so far; if that yields no new column, the next round prices at the
        master's duals. 0 is plain column generation. Every priced point is a valid
        :math:`\lambda \ge 0`, so the bound stays certified; the returned multipliers are
        those of the best bound.
    oracle : callable, optional
        ``oracle(mdp, reward, warm) -> (actions, v, error_bound)``; default
        :func:`policy_iteration_oracle`. Injectable so tests can hand it a broken one.
    strict : bool
        Raise :class:`~tabular_rl.ConvergenceError` instead of warning when ``max_rounds``
        is reached.

    Returns
    -------
    ColumnGenerationResult

    Raises
    ------
    InfeasibleCMDPError
        The certified phase-1 bound is positive: no policy meets all constraints.
    ConvergenceError
        ``max_rounds`` reached in phase 1, before feasibility was decided (there is no
        feasible mixture to return); in phase 2 only with ``strict=True``.
    TypeError
        Not a :class:`ConstrainedMDP` on a discounted :class:`~tabular_rl.FiniteMDP`.

    Warns
    -----
    ConvergenceWarning
        ``max_rounds`` reached before the gap fell below ``tol`` (the result is still a
        feasible mixture when phase 2 was reached, with its certified gap).

    Examples
    --------
    >>> import numpy as np
    >>> from tabular_rl import FiniteMDP
    >>> from tabular_rl.occupancy import ConstrainedMDP, solve_cmdp_column_generation
    >>> mdp = FiniteMDP(np.ones((1, 2, 1)), [[1.0, 0.0]], gamma=0.5)   # a bandit
    >>> res = solve_cmdp_column_generation(ConstrainedMDP(mdp, [[[1.0, 0.0]]], [0.25]))
    >>> np.round(res.solution.policy, 6), round(res.solution.value, 6), res.gap <= 1e-8
    (array([[0.25, 0.75]]), 0.25, True)
    """
    if not isinstance(cmdp, ConstrainedMDP):
        raise TypeError(f"solve_cmdp_column_generation needs a ConstrainedMDP, got "
                        f"{type(cmdp).__name__}")
    mdp = cmdp.mdp
    if not isinstance(mdp, FiniteMDP):
        raise TypeError("solve_cmdp_column_generation handles discounted FiniteMDPs; use "
                        "solve_cmdp_lp for episodic models")
    tol = _check_tol(tol)
    max_rounds = V.check_positive_int("max_rounds", max_rounds)
    stabilization = V.check_real_scalar("stabilization", stabilization, 0.0, 1.0,
                                        hi_open=True)
    oracle = oracle or policy_iteration_oracle
    mu = np.array(mdp.mu if mu is None else V.check_distribution("mu", mu, mdp.S))
    costs = np.asarray(cmdp.costs)
    b = np.asarray(cmdp.thresholds)
    K, g = cmdp.K, mdp.gamma
    cols = _Columns(mdp, costs, mu)
    r = np.asarray(mdp.r)

    def price(reward, warm):
        actions, v, err = oracle(mdp, reward, warm)
        best = (1.0 - g) * float(mu @ v)
        return np.asarray(actions), best, (1.0 - g) * err

    history: list[tuple[float, float]] = []
    warm, best, err = price(r, None)
    cols.add(warm)
    rounds = 1
    # ---- phase 1: min t s.t. C w - t <= b, sum w = 1
    R, C = cols.matrices()
    b_master = b                  # phase 2's thresholds: b, or b + t* (<= tol) after phase 1
    if (C[:, 0] > b).any():
        while True:
            J = len(R)
            obj = np.r_[np.zeros(J), 1.0]
            A_ub = np.hstack([C, -np.ones((K, 1))])
            A_eq = np.r_[np.ones(J), 0.0][None]
            res = _highs("column generation (phase 1 master)", obj, A_ub=A_ub, b_ub=b,
                         A_eq=A_eq, b_eq=[1.0], bounds=[(0, None)] * J + [(None, None)],
                         tol=tol, solver="highs-ds")
            t = float(res.fun)
            y = np.maximum(-np.asarray(res.ineqlin.marginals, dtype=np.float64), 0.0)
            y = y / y.sum() if y.sum() > 0 else np.full(K, 1.0 / K)
            # min_d <d, y.c> = -max_d <d, -y.c>
            warm, best, err = price(-np.tensordot(y, costs, axes=1), warm)
            rounds += 1
            lower = -best - err - float(y @ b)         # certified t* >= lower
            history.append((np.nan, lower))
            if lower > tol:
                mins = np.array([-price(-costs[k], None)[1] for k in range(K)])
                raise InfeasibleCMDPError(
                    f"the constrained MDP is infeasible (column generation, phase 1): with "
                    f"weights y = {np.array2string(y, precision=4)}, min <d, sum_k y_k c_k> "
                    f"- sum_k y_k b_k >= {lower:.6g} > 0 for every occupancy; least "
                    f"achievable worst violation max_k(<d, c_k> - b_k) = {t:.6g}",
                    status=2, min_costs=mins, weights=y, violation=t)
            if t <= tol or not cols.add(warm) or rounds >= max_rounds:
                break
            R, C = cols.matrices()
        R, C = cols.matrices()
        if t > tol:
            msg = (f"solve_cmdp_column_generation: phase 1 stopped after {rounds} rounds "
                   f"with worst violation {t:.3g} > tol and certified lower bound "
                   f"{history[-1][1]:.3g}; feasibility undecided")
            raise ConvergenceError(msg)
        # phase 1 found a mixture within t <= tol of every threshold; with t > 0 the exact
        # thresholds may still be infeasible for the current columns, so phase 2 starts
        # from thresholds relaxed by t (the result meets each constraint to within tol)
        b_master = b + max(t, 0.0)
    # ---- phase 2: max R w s.t. C w <= b, sum w = 1
    upper = np.inf
    center = None                 # multipliers of the best bound so far (stability centre)
    alpha = stabilization
    converged = False
    while True:
        J = len(R)
        res = _highs("column generation (phase 2 master)", -R, A_ub=C,
                     b_ub=b_master, A_eq=np.ones((1, J)), b_eq=[1.0],
                     bounds=(0, None), tol=tol, solver="highs-ds")
        w = np.maximum(np.asarray(res.x, dtype=np.float64), 0.0)
        w = w / w.sum()
        value = float(R @ w)
        lam_out = np.maximum(-np.asarray(res.ineqlin.marginals, dtype=np.float64), 0.0)
        smoothed = center is not None and alpha > 0.0
        lam = alpha * center + (1.0 - alpha) * lam_out if smoothed else lam_out
        warm, best, err = price(r - np.tensordot(lam, costs, axes=1), warm)
        rounds += 1
        bound = best + err + float(lam @ b_master)
        if bound < upper:
            upper, center = bound, lam
        history.append((value, upper))
        if upper - value <= tol:
            converged = True
            break
        if rounds >= max_rounds:
            break
        if cols.add(warm):
            alpha = stabilization
        elif smoothed:
            alpha = 0.0           # mis-pricing: price at the master's own duals next
        else:
            break                 # no new column at the master's duals: nothing to add
        R, C = cols.matrices()
    lam = center if center is not None else lam_out
    if not converged:
        _report(f"solve_cmdp_column_generation: certified gap {upper - value:.3g} > "
                f"tol={tol:g} after {rounds} pricing rounds", strict)
    d = cols.occupancy(w)
    costs_d = np.einsum("ksa,sa->k", costs, d)
    policy = occupancy_to_policy(mdp, d)
    fc = flow_constraints(mdp, mu)
    keep = w > 0
    for a in (d, policy, lam, costs_d):
        a.setflags(write=False)
    sol = CMDPSolution(occupancy=d, policy=policy, value=value, multipliers=lam,
                       costs=costs_d, slacks=V.readonly(b - costs_d),
                       flow_residual=fc.residual(d), iterations=rounds)
    return ColumnGenerationResult(
        solution=sol, upper_bound=float(upper),
        actions=V.readonly(np.stack([a for a, k in zip(cols.actions, keep, strict=True)
                                     if k])),
        weights=V.readonly(w[keep]), history=V.readonly(np.array(history)))

