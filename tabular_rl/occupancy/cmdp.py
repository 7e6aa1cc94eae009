r"""Constrained MDPs and their linear program over the occupancy polytope.

A constrained MDP (Altman 1999) adds :math:`K` cost functions :math:`c_k(s,a)` and
thresholds :math:`b_k` to an MDP. With the **normalized** occupancy
:math:`d^\pi_\mu` of :mod:`tabular_rl.occupancy.polytope` (a probability distribution on
:math:`\mathcal S \times \mathcal A`; discounted
:math:`d^\pi_\mu(s,a) = (1-\gamma)\sum_t \gamma^t \Pr(s_t=s,a_t=a)`), the problem is

.. math::

    \max_{d \in \mathcal D_\mu} \; \langle d, r\rangle
    \quad\text{s.t.}\quad \langle d, c_k\rangle \le b_k, \quad k = 1..K,

a linear program (Altman 1999, Thm. 3.3). **Normalization convention.** In the
discounted case :math:`\langle d, c_k\rangle = (1-\gamma)\,\mathbb E^\pi_\mu
\big[\sum_t \gamma^t c_k(s_t,a_t)\big]`, the *normalized* expected discounted cost (a
weighted average of :math:`c_k`, on the scale of :math:`c_k` itself); a threshold on the
unnormalized discounted cost :math:`B_k` corresponds to :math:`b_k = (1-\gamma) B_k`.
Likewise ``value`` is :math:`\langle d, r\rangle = (1-\gamma)\,\mu^\top v^\pi`. For an
episodic model :math:`\langle d, c_k\rangle = \sum_h \langle d_h, c_k\rangle` is the
expected total cost over the horizon.

The optimal Lagrange multipliers :math:`\lambda^*_k \ge 0` of the cost constraints are
the sensitivities :math:`\lambda^*_k = \partial\, \mathrm{OPT} / \partial b_k` of the
optimal value in the thresholds (read off HiGHS's duals), and
:math:`(d^*, \lambda^*)` is a saddle point of the Lagrangian
:math:`L(d,\lambda) = \langle d, r\rangle - \sum_k \lambda_k(\langle d, c_k\rangle - b_k)`
over :math:`\mathcal D_\mu \times \mathbb R^K_{\ge 0}` (Altman 1999, Thm. 3.6).

References
----------
.. [1] E. Altman, *Constrained Markov Decision Processes*, Chapman & Hall/CRC, 1999,
   Ch. 3 (Thms. 3.3 and 3.6).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _validation as V
from ..mdp import EpisodicMDP, FiniteMDP
from ..planning.lp import _check_solver, _check_tol, _highs
from .polytope import FlowConstraints, flow_constraints, linear_objective, occupancy_to_policy

__all__ = ["CMDPSolution", "ConstrainedMDP", "InfeasibleCMDPError", "solve_cmdp_lp"]


class InfeasibleCMDPError(ValueError):
    r"""The constraints of a :class:`ConstrainedMDP` cannot all be met by any policy.

    Attributes
    ----------
    status : int
        :func:`scipy.optimize.linprog` status of the CMDP LP (2: infeasible).
    min_costs : ndarray (K,)
        :math:`\min_{d \in \mathcal D_\mu} \langle d, c_k\rangle` for each constraint on
        its own (a constraint with ``min_costs[k] > thresholds[k]`` is infeasible by itself).
    weights : ndarray (K,)
        Farkas-type certificate :math:`y \ge 0`, :math:`\sum_k y_k = 1`, from the phase-1
        LP :math:`t^* = \min_{d \in \mathcal D_\mu} \max_k (\langle d, c_k\rangle - b_k)`:
        every occupancy has :math:`\langle d, \sum_k y_k c_k\rangle - \sum_k y_k b_k \ge
        t^* > 0`, so no occupancy meets all constraints.
    violation : float
        :math:`t^*`, the least achievable worst violation.
    """

    def __init__(self, message: str, *, status: int, min_costs: np.ndarray,
                 weights: np.ndarray, violation: float):
        super().__init__(message)
        self.status = status
        self.min_costs = min_costs
        self.weights = weights
        self.violation = violation


class ConstrainedMDP:
    r"""An MDP with :math:`K` expected-cost constraints
    :math:`\langle d^\pi_\mu, c_k\rangle \le b_k` (normalized occupancy, see the module
    docstring for the convention).

    Parameters
    ----------
    mdp : FiniteMDP or EpisodicMDP
    costs : array_like (K, S, A)
        Costs :math:`c_k(s,a)` (episodic also ``(K, H, S, A)``). A single ``(S, A)`` cost
        is accepted as ``K = 1``.
    thresholds : array_like (K,)
        Thresholds :math:`b_k`.

    Raises
    ------
    ValueError
        Wrong shapes, NaN or infinite entries (naming the first offending index and value).

    Examples
    --------
    >>> import numpy as np
    >>> from tabular_rl import FiniteMDP
    >>> from tabular_rl.occupancy import ConstrainedMDP
    >>> mdp = FiniteMDP(np.full((1, 2, 1), 1.0), [[1.0, 0.0]], gamma=0.5)
    >>> ConstrainedMDP(mdp, [[[1.0, 0.0]]], [0.25])
    ConstrainedMDP(K=1, FiniteMDP(S=1, A=2, gamma=0.5, P=dense))
    """

    __slots__ = ("mdp", "costs", "thresholds", "K")

    def __init__(self, mdp: FiniteMDP | EpisodicMDP, costs, thresholds):
        if not isinstance(mdp, FiniteMDP | EpisodicMDP):
            raise TypeError(f"mdp must be a FiniteMDP or EpisodicMDP, got {type(mdp).__name__}")
        S, A = mdp.S, mdp.A
        episodic = isinstance(mdp, EpisodicMDP)
        c = V.as_float_array("costs", costs, (2, 3, 4) if episodic else (2, 3))
        if c.ndim == 2:
            c = c[None]
        if episodic and c.ndim == 3 and c.shape[1:] != (S, A):
            raise ValueError(f"costs must have shape (K, {S}, {A}) or (K, {mdp.H}, {S}, "
                             f"{A}), got {c.shape}")
        if c.ndim == 3:
            V.check_shape("costs", c, (c.shape[0], S, A), "(constraints, states, actions)")
        else:
            V.check_shape("costs", c, (c.shape[0], mdp.H, S, A),
                          "(constraints, steps, states, actions)")
        if c.shape[0] == 0:
            raise ValueError("costs must hold at least one constraint (K >= 1)")
        V.check_finite("costs", c)
        b = V.as_float_array("thresholds", np.atleast_1d(thresholds), 1)
        V.check_shape("thresholds", b, (c.shape[0],), "(one threshold per cost)")
        V.check_finite("thresholds", b)
        object.__setattr__(self, "mdp", mdp)
        object.__setattr__(self, "costs", V.readonly(c))
        object.__setattr__(self, "thresholds", V.readonly(b))
        object.__setattr__(self, "K", int(c.shape[0]))

    def __setattr__(self, key, value):
        raise AttributeError("ConstrainedMDP is immutable; build a new one instead")

    def cost_matrix(self) -> np.ndarray:
        r"""``(K, n_variables)``: row ``k`` is :math:`c_k` in the variable layout of
        :func:`~tabular_rl.occupancy.flow_constraints`, so ``C @ d`` are the expected costs."""
        return np.stack([linear_objective(self.mdp, ck) for ck in self.costs])

    def expected_costs(self, d) -> np.ndarray:
        r""":math:`\langle d, c_k\rangle` for an occupancy ``d`` (shaped or flat)."""
        return self.cost_matrix() @ np.asarray(d, dtype=np.float64).reshape(-1)

    def with_thresholds(self, thresholds) -> ConstrainedMDP:
        return ConstrainedMDP(self.mdp, self.costs, thresholds)

    def __repr__(self) -> str:
        return f"ConstrainedMDP(K={self.K}, {self.mdp!r})"


@dataclass(frozen=True, slots=True, repr=False)
class CMDPSolution:
    r"""Optimal solution of a :class:`ConstrainedMDP` by :func:`solve_cmdp_lp`.

    Attributes
    ----------
    occupancy : ndarray
        Optimal normalized occupancy :math:`d^*`, ``(S, A)`` (episodic ``(H, S, A)``).
    policy : ndarray
        :math:`\pi^*(a\mid s) = d^*(s,a)/\sum_{a'} d^*(s,a')` (uniform on unvisited states).
    value : float
        :math:`\langle d^*, r\rangle` (normalized; discounted return is
        ``value / (1 - gamma)``).
    multipliers : ndarray (K,)
        Optimal Lagrange multipliers :math:`\lambda^* \ge 0`,
        :math:`\lambda^*_k = \partial\,\mathrm{value}/\partial b_k`.
    costs : ndarray (K,)
        :math:`\langle d^*, c_k\rangle`.
    slacks : ndarray (K,)
        :math:`b_k - \langle d^*, c_k\rangle \ge 0` (to solver tolerance).
    flow_residual : float
        Membership residual of ``occupancy`` in the flow polytope.
    iterations : int
        HiGHS iterations.
    """

    occupancy: np.ndarray
    policy: np.ndarray
    value: float
    multipliers: np.ndarray
    costs: np.ndarray
    slacks: np.ndarray
    flow_residual: float
    iterations: int

    @property
    def active(self) -> np.ndarray:
        """Boolean ``(K,)``: constraints with a positive multiplier."""
        return self.multipliers > 0

    def __repr__(self) -> str:
        return (f"CMDPSolution(value={self.value:.10g}, multipliers="
                f"{np.array2string(self.multipliers, precision=6)}, slacks="
                f"{np.array2string(self.slacks, precision=3)}, "
                f"flow_residual={self.flow_residual:.3g})")


def _linprog_raw(c, *, A_ub, b_ub, A_eq, b_eq, bounds, tol, solver):
    """HiGHS through :func:`_highs`, but returning a non-optimal result instead of raising."""
    try:
        return _highs("solve_cmdp_lp", c, A_ub=A_ub, b_ub=b_ub, A_eq=A_eq, b_eq=b_eq,
                      bounds=bounds, tol=tol, solver=solver), None
    except RuntimeError as e:
        return None, e


def _infeasibility(cmdp: ConstrainedMDP, fc: FlowConstraints, C: np.ndarray, status: int,
                   tol: float, solver: str) -> InfeasibleCMDPError:
    """Phase-1 LPs: per-constraint minima and the min-max violation with its weights."""
    import scipy.sparse as sp

    b = np.asarray(cmdp.thresholds)
    mins = np.empty(cmdp.K)
    for k in range(cmdp.K):
        res = _highs("solve_cmdp_lp (phase 1)", C[k], A_eq=fc.A_eq, b_eq=fc.b_eq,
                     bounds=(0, None), tol=tol, solver=solver)
        mins[k] = float(res.fun)
    n = fc.n_variables
    # variables (d, t): min t  s.t.  C d - t <= b,  A_eq d = b_eq,  d >= 0, t free
    obj = np.zeros(n + 1)
    obj[-1] = 1.0
    A_ub = sp.hstack([sp.csr_matrix(C), sp.csr_matrix(-np.ones((cmdp.K, 1)))]).tocsr()
    A_eq = sp.hstack([fc.A_eq, sp.csr_matrix((fc.shape[0], 1))]).tocsr()
    bounds = [(0, None)] * n + [(None, None)]
    res = _highs("solve_cmdp_lp (phase 1)", obj, A_ub=A_ub, b_ub=b, A_eq=A_eq, b_eq=fc.b_eq,
                 bounds=bounds, tol=tol, solver=solver)
    t = float(res.fun)
    y = np.maximum(-np.asarray(res.ineqlin.marginals, dtype=np.float64), 0.0)
    y = y / y.sum() if y.sum() > 0 else np.full(cmdp.K, 1.0 / cmdp.K)
    alone = np.flatnonzero(mins > b)
    if alone.size:
        parts = "; ".join(f"constraint {k}: min <d, c_{k}> = {mins[k]:.6g} > threshold "
                          f"{b[k]:.6g}" for k in alone)
    else:
        comb = t + float(y @ b)
        parts = (f"each constraint is feasible alone, but not jointly: with weights y = "
                 f"{np.array2string(y, precision=4)}, min <d, sum_k y_k c_k> = {comb:.6g} > "
                 f"sum_k y_k b_k = {float(y @ b):.6g}")
    msg = (f"the constrained MDP is infeasible (HiGHS status {status}): {parts}; least "
           f"achievable worst violation max_k(<d, c_k> - b_k) = {t:.6g}")
    return InfeasibleCMDPError(msg, status=status, min_costs=mins, weights=y, violation=t)


def solve_cmdp_lp(cmdp: ConstrainedMDP, *, mu=None, tol: float = 1e-9,
                  solver: str = "highs-ipm") -> CMDPSolution:
    r"""Solve a constrained MDP exactly by its linear program over the occupancy polytope.

    .. math::

        \max_{d \ge 0} \; \langle d, r\rangle \quad\text{s.t.}\quad
        A_{eq} d = b_{eq}, \quad \langle d, c_k\rangle \le b_k \;(k = 1..K),

    with :math:`A_{eq}, b_{eq}` from :func:`~tabular_rl.occupancy.flow_constraints`
    (normalized occupancy), solved by HiGHS (:func:`scipy.optimize.linprog`).

    Parameters
    ----------
    cmdp : ConstrainedMDP
    mu : array_like (S,), optional
        Initial distribution (default ``cmdp.mdp.mu``).
    tol : float
        HiGHS feasibility tolerances are ``tol/10`` (clipped to ``[1e-10, 1e-7]``).
    solver : {"highs-ipm", "highs-ds", "highs"}

    Returns
    -------
    CMDPSolution

    Raises
    ------
    InfeasibleCMDPError
        No policy meets all constraints: carries the LP status and a certificate (the
        per-constraint minimum costs and the weights of a phase-1 LP); never a solution.
    RuntimeError
        HiGHS fails for another reason.

    See Also
    --------
    solve_cmdp_column_generation : the same program for large discounted models (seconds
        at 10,000 states and 10 actions, where HiGHS on the full LP takes minutes), with a
        certified optimality gap.

    Notes
    -----
    **Multipliers.** scipy minimizes :math:`-\langle d, r\rangle`; its
    ``ineqlin.marginals`` are :math:`\partial(\min)/\partial b_k \le 0`, so
    :math:`\lambda^*_k = -\,\text{marginal}_k = \partial\,\mathrm{OPT}/\partial b_k \ge 0`
    (checked against finite differences in the tests). By LP duality
    :math:`\mathrm{OPT} = \max_{d\in\mathcal D_\mu} \langle d, r - \sum_k\lambda^*_k c_k
    \rangle + \lambda^{*\top} b` and complementary slackness holds:
    :math:`\lambda^*_k\,(b_k - \langle d^*, c_k\rangle) = 0`.

    Examples
    --------
    >>> import numpy as np
    >>> from tabular_rl import FiniteMDP
    >>> from tabular_rl.occupancy import ConstrainedMDP, solve_cmdp_lp
    >>> mdp = FiniteMDP(np.ones((1, 2, 1)), [[1.0, 0.0]], gamma=0.5)   # a bandit
    >>> sol = solve_cmdp_lp(ConstrainedMDP(mdp, [[[1.0, 0.0]]], [0.25]))
    >>> np.round(sol.policy, 6), round(sol.value, 6), np.round(sol.multipliers, 6)
    (array([[0.25, 0.75]]), 0.25, array([1.]))
    """
    if not isinstance(cmdp, ConstrainedMDP):
        raise TypeError(f"solve_cmdp_lp needs a ConstrainedMDP, got {type(cmdp).__name__}")
    tol = _check_tol(tol)
    solver = _check_solver(solver)
    mdp = cmdp.mdp
    fc = flow_constraints(mdp, mu)
    C = cmdp.cost_matrix()
    r = linear_objective(mdp)
    b = np.asarray(cmdp.thresholds)
    res, err = _linprog_raw(-r, A_ub=C, b_ub=b, A_eq=fc.A_eq, b_eq=fc.b_eq, bounds=(0, None),
                            tol=tol, solver=solver)
    if res is None:
        # status 2 = infeasible; anything else (unbounded cannot happen: the polytope is
        # bounded) is a solver failure and is re-raised.
        status = _status_of(err)
        if status == 2:
            raise _infeasibility(cmdp, fc, C, status, tol, solver) from None
        raise err
    d = np.maximum(np.asarray(res.x, dtype=np.float64), 0.0)
    lam = np.maximum(-np.asarray(res.ineqlin.marginals, dtype=np.float64), 0.0)
    costs = C @ d
    d_shaped = d.reshape(fc.var_shape)
    policy = occupancy_to_policy(mdp, d_shaped)
    for a in (d_shaped, policy, lam, costs):
        a.setflags(write=False)
    return CMDPSolution(occupancy=d_shaped, policy=policy, value=float(r @ d),
                        multipliers=lam, costs=costs, slacks=V.readonly(b - costs),
                        flow_residual=fc.residual(d), iterations=int(res.nit))


def _status_of(err: RuntimeError) -> int:
    """The linprog status quoted in :func:`_highs`'s error message."""
    import re

    m = re.search(r"status (\d+)", str(err))
    return int(m.group(1)) if m else -1
