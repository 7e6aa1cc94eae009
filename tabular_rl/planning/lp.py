r"""Linear programming for discounted MDPs: the primal (values) and dual (occupancies) LPs.

The optimal value is the least :math:`\gamma`-superharmonic function, so for any weights
:math:`w > 0` it solves the *primal* LP (Manne 1960; d'Epenoux 1963; Puterman 1994, §6.9)

.. math::

    \min_{v \in \mathbb R^S} \; w^\top v
    \quad \text{s.t.} \quad
    v(s) \ge r(s,a) + \gamma \sum_{s'} P(s'\mid s,a)\, v(s') \quad \forall (s,a),

i.e. :math:`(E - \gamma P)\,v \ge r` with :math:`P` the ``(S*A, S)`` kernel and :math:`E` the
``(S*A, S)`` indicator :math:`E[(s,a), s'] = [s = s']`. Its dual is the *occupancy-measure*
LP (Puterman 1994, Thm. 6.9.1; Altman 1999, Ch. 3)

.. math::

    \max_{d \ge 0} \; \sum_{s,a} d(s,a)\, r(s,a)
    \quad \text{s.t.} \quad
    \sum_a d(s,a) - \gamma \sum_{s',a'} P(s\mid s',a')\, d(s',a') = \mu(s) \quad \forall s,

whose feasible points are exactly the unnormalized discounted occupancies
:math:`d^\pi_\mu(s,a) = \big[\mu^\top (I-\gamma P_\pi)^{-1}\big](s)\,\pi(a\mid s)` of the
stationary policies (total mass :math:`1/(1-\gamma)`); its optimum is
:math:`\mu^\top v^*` and the multipliers of its equality constraints are :math:`v^*`
(on the states the optimal occupancy visits).

Both programs are handed to HiGHS (:func:`scipy.optimize.linprog`; interior point with
crossover to a vertex by default, ``solver="highs-ipm"``, which on MDP LPs of a few
thousand states was 2–20 times faster than dual simplex) with a sparse constraint matrix
built from ``mdp.P_flat`` (a CSR kernel is never densified), primal and dual feasibility
tolerances tightened to ``tol/10`` (at least :math:`10^{-10}`, HiGHS's floor), and
HiGHS's ``small_matrix_value`` lowered to its floor :math:`10^{-12}`, so that only
transition probabilities below :math:`10^{-12}/\gamma` are dropped by the solver.

Whatever the LP returns goes through :func:`tabular_rl.certify`: one Bellman sweep turns
it into a proven enclosure of :math:`v^*`, so ``error_bound`` and ``policy_gap_bound`` do
not depend on trusting HiGHS. If that bound exceeds ``tol`` (beyond the rounding floor of
the sweep), the vertex is *polished*: the LP's policy is evaluated exactly,
:math:`v = (I - \gamma P_\pi)^{-1} r_\pi` (the value of the LP's optimal basis,
recomputed in full precision), and certified again; the message says so. Only if the
polished bound still exceeds ``tol`` is ``converged`` ``False``, with a
:class:`~tabular_rl.NumericalWarning`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import OptimizeWarning, linprog

from .. import _validation as V
from ..bellman import q_values
from ..evaluation import evaluate_policy
from ..exceptions import NumericalWarning
from ..mdp import FiniteMDP, require_finite_mdp
from ..solution import Solution, certify, sweep_rounding

__all__ = ["OccupancyLPResult", "dual_lp", "occupancy_lp", "primal_lp"]

#: HiGHS's smallest accepted feasibility tolerance.
_HIGHS_MIN_FEAS_TOL = 1e-10
#: HiGHS drops constraint coefficients whose magnitude is at most this (its floor; default 1e-9).
_HIGHS_SMALL_MATRIX_VALUE = 1e-12
#: The HiGHS methods of :func:`scipy.optimize.linprog` accepted as ``solver``.
SOLVERS = ("highs-ipm", "highs-ds", "highs")
#: ``solver`` values of :func:`occupancy_lp`: HiGHS, or the structured simplex method.
OCCUPANCY_SOLVERS = SOLVERS + ("block-pivot",)


def _check_tol(tol) -> float:
    return V.check_real_scalar("tol", tol, 0.0, np.inf, lo_open=True)


def _check_solver(solver, allowed: tuple[str, ...] = SOLVERS) -> str:
    if solver not in allowed:
        raise ValueError(f"solver must be one of {', '.join(map(repr, allowed))}, "
                         f"got {solver!r}")
    return solver


def _state_indicator(S: int, A: int) -> sp.csr_matrix:
    """:math:`E` of shape ``(S*A, S)``: row ``s*A + a`` is the unit vector of state ``s``."""
    rows = np.arange(S * A)
    return sp.csr_matrix((np.ones(S * A), (rows, rows // A)), shape=(S * A, S))


def _constraint_matrix(P_flat, S: int, A: int, discount: float) -> sp.csr_matrix:
    r"""``E - discount * P_flat`` as CSR, ``(S*A, S)``; a CSR ``P_flat`` stays sparse."""
    P = P_flat if sp.issparse(P_flat) else sp.csr_matrix(P_flat)
    return (_state_indicator(S, A) - discount * P).tocsr()


def _highs(what: str, c, *, A_ub=None, b_ub=None, A_eq=None, b_eq=None, bounds, tol: float,
           solver: str = "highs-ipm"):
    """Run HiGHS with tightened tolerances; raise ``RuntimeError`` unless it reports optimal."""
    feas = min(max(0.1 * tol, _HIGHS_MIN_FEAS_TOL), 1e-7)
    options = {
        "primal_feasibility_tolerance": feas,
        "dual_feasibility_tolerance": feas,
        # Not a scipy option: passed to HiGHS verbatim (scipy warns that it does so).
        "small_matrix_value": _HIGHS_SMALL_MATRIX_VALUE,
    }
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Unrecognized options detected",
                                category=OptimizeWarning)
        res = linprog(c, A_ub=A_ub, b_ub=b_ub, A_eq=A_eq, b_eq=b_eq, bounds=bounds,
                      method=solver, options=options)
    if res.status != 0:
        raise RuntimeError(f"{what}: HiGHS failed with status {res.status}: {res.message}")
    return res


def _finish(mdp: FiniteMDP, v: np.ndarray, *, method: str, nit: int, tol: float,
            policy=None, extra: str = "") -> Solution:
    """Certify ``v``; polish by exact evaluation of the policy if the bound misses ``tol``."""
    g = mdp.gamma
    sol = certify(mdp, v, method=method, iterations=nit, converged=True, message="",
                  policy=policy)
    floor = 2.0 * sweep_rounding(mdp, v) / (1.0 - g)
    if sol.error_bound > tol + floor:
        # sol.policy is the given policy, or greedy for v (certify computes it at v)
        pi = sol.policy if policy is None else policy
        polished = certify(mdp, evaluate_policy(mdp, pi), method=method, iterations=nit,
                           converged=True, message="", policy=policy)
        if polished.error_bound < sol.error_bound:
            extra += (f"; polished by an exact evaluation of the LP's policy (LP bound "
                      f"{sol.error_bound:.3g})")
            sol = polished
    if sol.error_bound <= tol + floor:
        converged = True
        msg = (f"HiGHS optimal after {nit} iterations; certified |v - v*| <= "
               f"{sol.error_bound:.3g}{extra}")
    else:
        converged = False
        msg = (f"{method}: HiGHS reported optimal after {nit} iterations, but the certified "
               f"bound |v - v*| <= {sol.error_bound:.3g} exceeds tol={tol:g}{extra}; the LP "
               f"solve lost accuracy (ill-conditioned for gamma={g:g}?); try "
               "policy_iteration")
        warnings.warn(msg, NumericalWarning, stacklevel=3)
    fields = {k: getattr(sol, k) for k in Solution.__dataclass_fields__}
    fields.update(converged=converged, message=msg)
    return Solution(**fields)


def primal_lp(mdp: FiniteMDP, *, weights=None, tol: float = 1e-9,
              solver: str = "highs-ipm") -> Solution:
    r"""Solve a discounted MDP by its primal linear program.

    .. math::

        \min_v \; w^\top v \quad \text{s.t.} \quad (E - \gamma P)\, v \ge r,

    where :math:`E` is the ``(S*A, S)`` state-repeat indicator, :math:`P` the ``(S*A, S)``
    kernel ``mdp.P_flat`` and :math:`r` flattened to ``(S*A,)``.

    Parameters
    ----------
    mdp : FiniteMDP
        Dense ``P`` ``(S, A, S)`` or CSR ``P`` ``(S*A, S)``; the constraint matrix is
        sparse either way and a CSR kernel is never densified.
    weights : array_like (S,), optional
        Strictly positive objective weights :math:`w`. Default: ``mdp.mu`` when all its
        entries are positive, else uniform. Any positive weights give the same solution
        :math:`v^*` (see Notes); they only change the LP's path.
    tol : float
        Accuracy target: HiGHS's primal and dual feasibility tolerances are set to
        ``tol/10`` (clipped to ``[1e-10, 1e-7]``), and the certified ``error_bound`` is
        compared with ``tol`` (polishing first if it misses, see the module docstring).
    solver : {"highs-ipm", "highs-ds", "highs"}
        HiGHS method of :func:`scipy.optimize.linprog`: interior point with crossover
        (default), dual simplex, or HiGHS's own choice.

    Returns
    -------
    Solution
        ``method="primal_lp"``, ``iterations`` = HiGHS iterations, ``policy`` greedy for
        ``v``; ``error_bound`` and ``policy_gap_bound`` are proven by
        :func:`tabular_rl.certify`. ``converged`` is ``False`` when even the polished
        ``error_bound`` exceeds ``tol`` beyond the rounding floor of one sweep.

    Raises
    ------
    ValueError
        ``weights`` of the wrong shape, not finite, or with a non-positive entry; ``tol``
        not positive; an unknown ``solver``.
    RuntimeError
        HiGHS does not report an optimal solution (its status and message are quoted).

    Warns
    -----
    NumericalWarning
        HiGHS reported optimal but the certified bound, polished or not, misses ``tol``.

    Notes
    -----
    Every feasible :math:`v` satisfies :math:`v \ge T v`, hence :math:`v \ge T^n v \to v^*`
    by monotonicity of :math:`T`; :math:`v^*` itself is feasible. So :math:`v^*` is the
    componentwise least feasible point and minimizes :math:`w^\top v` for every
    :math:`w > 0`, uniquely (Puterman 1994, Thm. 6.2.2(a) and §6.9). With a zero weight
    the LP no longer pins down :math:`v^*` on that state, hence the positivity check.

    HiGHS ignores constraint coefficients of magnitude at most :math:`10^{-12}`; the
    certificate accounts for the resulting perturbation of the kernel.

    References
    ----------
    .. [1] A. S. Manne, "Linear programming and sequential decisions", Management
       Science 6(3), 1960.
    .. [2] F. d'Epenoux, "A probabilistic production and inventory problem", Management
       Science 10(1), 1963.
    .. [3] M. L. Puterman, *Markov Decision Processes*, Wiley, 1994, Thm. 6.2.2 and §6.9
       (Thm. 6.9.1).

    Examples
    --------
    >>> import numpy as np
    >>> from tabular_rl import FiniteMDP, primal_lp
    >>> P = np.array([[[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [0.0, 1.0]]])
    >>> res = primal_lp(FiniteMDP(P, [[0.0, 1.0], [2.0, 2.0]], gamma=0.5))
    >>> np.round(res.v, 8), res.actions       # v*(1) = 2/(1-0.5), v*(0) = 1 + 0.5*4
    (array([3., 4.]), array([1, 0]))
    """
    require_finite_mdp(mdp, "primal_lp")
    tol = _check_tol(tol)
    solver = _check_solver(solver)
    S, A = mdp.S, mdp.A
    if weights is None:
        w = np.array(mdp.mu) if np.all(mdp.mu > 0) else np.full(S, 1.0 / S)
    else:
        w = V.as_float_array("weights", weights, 1)
        V.check_shape("weights", w, (S,), "(one weight per state)")
        V.check_finite("weights", w)
        bad = w <= 0
        if bad.any():
            s = int(np.argmax(bad))
            raise ValueError(f"weights[{s}] = {w[s]:.6g}; weights must be strictly positive "
                             "(a zero weight leaves v*(s) undetermined)")
        w = w / w.sum()
    M = _constraint_matrix(mdp.P_flat, S, A, mdp.gamma)
    res = _highs("primal_lp", w, A_ub=-M, b_ub=-np.asarray(mdp.r).reshape(-1),
                 bounds=(None, None), tol=tol, solver=solver)
    v = np.asarray(res.x, dtype=np.float64)
    return _finish(mdp, v, method="primal_lp", nit=int(res.nit), tol=tol)


@dataclass(frozen=True, slots=True, repr=False)
class OccupancyLPResult:
    r"""What :func:`occupancy_lp` returns: the optimal occupancy and the certified solution.

    Attributes
    ----------
    solution : Solution
        Certified solution (``method="dual_lp"``): ``v`` from the LP's multipliers,
        ``policy`` read off ``occupancy`` (see :func:`occupancy_lp`), and its proven
        ``error_bound`` / ``policy_gap_bound``.
    occupancy : ndarray (S, A)
        Optimal unnormalized discounted occupancy :math:`d^*(s,a)`, total mass
        :math:`1/(1-\gamma)`; equal to
        ``occupancy_measure(mdp, solution.policy, mu, normalized=False)``.
    value : float
        The LP optimum :math:`\sum_{s,a} d^*(s,a)\, r(s,a) = \mu^\top v^*`.
    mu : ndarray (S,)
        The initial distribution the occupancy is for.
    flow_residual : float
        :math:`\|(E - \gamma P)^\top d^* - \mu\|_\infty` of the returned occupancy (after
        clipping HiGHS's round-off negatives to zero): how exactly it satisfies the flow
        constraints.
    """

    solution: Solution
    occupancy: np.ndarray
    value: float
    mu: np.ndarray
    flow_residual: float

    @property
    def state_occupancy(self) -> np.ndarray:
        r"""Unnormalized state occupancy :math:`\sum_a d^*(s,a)`, ``(S,)``."""
        return self.occupancy.sum(axis=1)

    @property
    def support(self) -> np.ndarray:
        """Boolean ``(S,)`` mask of states the optimal occupancy visits."""
        return self.state_occupancy > 0

    def __repr__(self) -> str:
        sol = self.solution
        verdict = "converged" if sol.converged else "NOT converged"
        return (f"OccupancyLPResult({verdict}, value={self.value:.10g}, "
                f"mass={self.occupancy.sum():.10g}, visited states="
                f"{int(self.support.sum())}/{self.occupancy.shape[0]}, "
                f"flow_residual={self.flow_residual:.3g}, "
                f"error_bound={sol.error_bound:.3g}, "
                f"policy_gap_bound={sol.policy_gap_bound:.3g})\n  {sol.message}")


def _solve_dual(mdp: FiniteMDP, M: sp.csr_matrix, mu: np.ndarray, tol: float, solver: str):
    """One occupancy LP for ``mu``; returns ``(d (S*A,), v (S,), value, nit)``."""
    # linprog minimizes, so the objective is -r. Its eqlin marginals are d(min)/d(b_eq) =
    # -d(max)/d(mu) = -v, i.e. scipy's sign convention is the opposite of the dual values.
    res = _highs("dual_lp", -np.asarray(mdp.r).reshape(-1), A_eq=M.T.tocsr(), b_eq=mu,
                 bounds=(0, None), tol=tol, solver=solver)
    d = np.maximum(np.asarray(res.x, dtype=np.float64), 0.0)
    v = -np.asarray(res.eqlin.marginals, dtype=np.float64)
    return d, v, -float(res.fun), int(res.nit)


def _block_pivot(mdp: FiniteMDP, mu: np.ndarray, tol: float):
    r"""The occupancy LP by the simplex method with block pivoting (Howard's policy iteration).

    A basis of the occupancy LP is one pair :math:`(s, \pi(s))` per state: the basic
    solution is :math:`d_B = (I - \gamma P_\pi^\top)^{-1}\mu \ge 0` (always feasible), its
    simplex multipliers are :math:`v = (I - \gamma P_\pi)^{-1} r_\pi`, and the reduced cost
    of the non-basic column :math:`(s,a)` is the advantage :math:`q_v(s,a) - v(s)`. Pivoting
    every state with a positive reduced cost at once is Howard's improvement step; the
    method stops at a basis with no positive reduced cost, which is optimal by LP duality.
    Basis solves are done by :func:`tabular_rl.evaluate_policy` and
    :func:`tabular_rl.occupancy_measure` (sparse GMRES for large CSR kernels): a sparse LU of
    a random garnet basis fills in (10,000 states: 6e7 nonzeros, two minutes), which is
    what makes a general-purpose LP code slow on these instances.
    """
    from ..evaluation import occupancy_measure
    from .dp import policy_iteration

    pi_sol = policy_iteration(mdp)
    policy = np.asarray(pi_sol.policy)
    v = np.asarray(pi_sol.v)
    d = occupancy_measure(mdp, policy, mu, normalized=False).reshape(-1)
    d = np.maximum(d, 0.0)
    # dual infeasibility of the final basis: v + delta/(1-gamma) is dual feasible
    delta = max(float((q_values(mdp, v) - v[:, None]).max()), 0.0)
    upper = float(mu @ v) + delta / (1.0 - mdp.gamma)
    value = float(np.asarray(mdp.r).reshape(-1) @ d)
    gap = upper - value
    k = pi_sol.iterations
    msg = (f"block-pivoting simplex (Howard policy iteration): optimal basis after {k} block "
           f"pivots; LP duality gap mu'v + max(q_v - v)^+/(1-gamma) - <d, r> = {gap:.3g}")
    sol = certify(mdp, v, method="dual_lp", iterations=k, converged=pi_sol.converged,
                  message="", policy=policy)
    floor = 2.0 * sweep_rounding(mdp, v) / (1.0 - mdp.gamma)
    converged = pi_sol.converged and sol.error_bound <= tol + floor
    if not converged:
        msg += f"; NOT converged: certified |v - v*| <= {sol.error_bound:.3g} > tol={tol:g}"
        warnings.warn(f"occupancy_lp: {msg}", NumericalWarning, stacklevel=3)
    else:
        msg += f"; certified |v - v*| <= {sol.error_bound:.3g}"
    fields = {f: getattr(sol, f) for f in Solution.__dataclass_fields__}
    fields.update(converged=converged, message=msg)
    return d, Solution(**fields), value


def occupancy_lp(mdp: FiniteMDP, *, mu=None, tol: float = 1e-9,
                 solver: str = "highs-ipm") -> OccupancyLPResult:
    r"""Solve the occupancy-measure (dual) LP: the optimal occupancy and a certified solution.

    .. math::

        \max_{d \ge 0} \; \sum_{s,a} d(s,a)\, r(s,a)
        \quad \text{s.t.} \quad
        \sum_a d(s,a) - \gamma \sum_{s',a'} P(s\mid s',a')\, d(s',a') = \mu(s)
        \quad \forall s,

    i.e. :math:`(E - \gamma P)^\top d = \mu`, solved as its own LP (not read off the
    primal's multipliers), so it is an independent method.

    Parameters
    ----------
    mdp : FiniteMDP
        Dense or CSR kernel (a CSR kernel is never densified).
    mu : array_like (S,), optional
        Initial distribution (default ``mdp.mu``); zeros allowed.
    tol : float
        As for :func:`primal_lp`. Also the threshold on the *normalized* occupancy
        :math:`(1-\gamma)\sum_a d(s,a)` below which a state counts as unvisited.
    solver : {"highs-ipm", "highs-ds", "highs", "block-pivot"}
        The HiGHS methods as for :func:`primal_lp`, or ``"block-pivot"``: the simplex
        method specialized to this LP, with block pivoting (see Notes). It is the fast path
        for large sparse models (a 10,000-state, 10-action garnet: about 2 s against
        about 6 minutes for HiGHS's interior point; ``benchmarks/results_occupancy.md``).

    Returns
    -------
    OccupancyLPResult
        ``occupancy`` :math:`d^*` ``(S, A)`` of mass :math:`1/(1-\gamma)`, ``value``
        :math:`=\mu^\top v^*`, and ``solution`` (see below).

    Raises
    ------
    ValueError
        ``mu`` not a distribution over the states; ``tol`` not positive; an unknown
        ``solver``.
    RuntimeError
        HiGHS does not report an optimal solution.

    Warns
    -----
    NumericalWarning
        The certified bound misses ``tol`` even after polishing, or the occupancy violates
        the flow constraints by more than :math:`\max(\mathrm{tol}, 10^{-7})/(1-\gamma)`.

    Notes
    -----
    **Value.** By LP duality the multipliers :math:`v` of the equality constraints solve the
    primal LP with weights :math:`\mu`; scipy reports them as ``res.eqlin.marginals``
    :math:`= -v` because it minimizes :math:`-r^\top d`. Dual feasibility gives
    :math:`v \ge Tv`, hence :math:`v \ge v^*`; complementary slackness gives
    :math:`v(s) = q_v(s,a)` wherever :math:`d(s,a) > 0`, and the visited set is closed
    under those actions, so :math:`v = v^*` on every visited state. On an unvisited state
    (possible only where :math:`\mu` has zeros) :math:`v` may exceed :math:`v^*`; if there
    are such states, the LP is solved a second time with uniform :math:`\mu` (all states
    visited) and *its* multipliers, equal to :math:`v^*` everywhere, are used.

    **Policy.** On a visited state (normalized occupancy above ``tol``)

    .. math::

        \pi(a\mid s) = \frac{d(s,a)}{\sum_{a'} d(s,a')},

    an optimal action by complementary slackness (deterministic at a basic solution,
    Puterman 1994, §6.9); on an unvisited state, :math:`\pi` is the greedy (first
    maximizing) action of :math:`q = r + \gamma P v` at the value :math:`v` above. The
    occupancy of this policy is :math:`d` (the unvisited states carry no mass whatever
    :math:`\pi` does there), and it is optimal from every state, not only from
    :math:`\mu`'s support. ``solution`` is :func:`tabular_rl.certify` applied to :math:`v`
    with this policy (polished as in :func:`primal_lp` if needed, which keeps the policy
    and replaces :math:`v` by its exact value), so its ``policy_gap_bound`` is proven for
    it.

    **Block pivoting** (``solver="block-pivot"``). The bases of this LP are the
    deterministic policies: :math:`d_B = (I-\gamma P_\pi^\top)^{-1}\mu` is a basic feasible
    solution, the simplex multipliers of the basis are :math:`v^\pi`, and the reduced cost
    of column :math:`(s,a)` is the advantage :math:`q_{v^\pi}(s,a) - v^\pi(s)`. Policy
    iteration is the simplex method that pivots in every state with a positive reduced cost
    at once (Puterman 1994, §6.9; Ye 2011, who proves it strongly polynomial for a fixed
    :math:`\gamma`). It stops at a basis without positive reduced cost, which LP duality
    proves optimal; the message reports the duality gap :math:`\mu^\top v +
    \max(q_v - v)^+/(1-\gamma) - \langle d, r\rangle` (the first two terms are the
    objective of a dual-feasible point), and ``solution`` carries the usual certified
    bound. The policy is deterministic and optimal from every state, so no second solve is
    needed when :math:`\mu` has zeros.

    References
    ----------
    .. [1] M. L. Puterman, *Markov Decision Processes*, Wiley, 1994, §6.9, Thm. 6.9.1.
    .. [2] E. Altman, *Constrained Markov Decision Processes*, Chapman & Hall/CRC, 1999,
       Ch. 3 (occupation measures), Thm. 3.2.
    .. [3] F. d'Epenoux, "A probabilistic production and inventory problem", Management
       Science 10(1), 1963.
    .. [4] Y. Ye, "The simplex and policy-iteration methods are strongly polynomial for the
       Markov decision problem with a fixed discount rate", Mathematics of Operations
       Research 36(4), 2011.

    Examples
    --------
    >>> import numpy as np
    >>> from tabular_rl import FiniteMDP, occupancy_lp
    >>> P = np.array([[[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [0.0, 1.0]]])
    >>> mdp = FiniteMDP(P, [[0.0, 1.0], [2.0, 2.0]], gamma=0.5, mu=[1.0, 0.0])
    >>> res = occupancy_lp(mdp)    # state 0 once, then 1/2 + 1/4 + ... = 1 at state 1
    >>> np.round(res.state_occupancy, 8), round(res.value, 8)    # value = v*(0) = 3
    (array([1., 1.]), 3.0)
    """
    require_finite_mdp(mdp, "occupancy_lp")
    tol = _check_tol(tol)
    solver = _check_solver(solver, OCCUPANCY_SOLVERS)
    S, A, g = mdp.S, mdp.A, mdp.gamma
    mu = np.array(mdp.mu if mu is None else V.check_distribution("mu", mu, S))
    M = _constraint_matrix(mdp.P_flat, S, A, g)
    if solver == "block-pivot":
        d, sol, value = _block_pivot(mdp, mu, tol)
        return _occupancy_result(mdp, M, d, mu, sol, value, tol)
    d, v, value, nit = _solve_dual(mdp, M, mu, tol, solver)
    d_sa = d.reshape(S, A)
    d_s = d_sa.sum(axis=1)
    visited = (1.0 - g) * d_s > tol
    extra = ""
    if not visited.all():
        _, v, _, nit2 = _solve_dual(mdp, M, np.full(S, 1.0 / S), tol, solver)
        nit += nit2
        extra = (f"; {int((~visited).sum())} unvisited states: values from a second LP "
                 "with uniform mu")
    policy = np.zeros((S, A))
    policy[visited] = d_sa[visited] / d_s[visited, None]
    if not visited.all():
        q = q_values(mdp, v)
        rows = np.flatnonzero(~visited)
        policy[rows, q[rows].argmax(axis=1)] = 1.0
    sol = _finish(mdp, v, method="dual_lp", nit=nit, tol=tol, policy=policy, extra=extra)
    return _occupancy_result(mdp, M, d, mu, sol, value, tol)


def _occupancy_result(mdp: FiniteMDP, M: sp.csr_matrix, d: np.ndarray, mu: np.ndarray,
                      sol: Solution, value: float, tol: float) -> OccupancyLPResult:
    """Check the flow residual of ``d`` (warn if violated) and package the result."""
    flow = float(np.abs(M.T @ d - mu).max())
    if flow > max(tol, 1e3 * _HIGHS_MIN_FEAS_TOL) / (1.0 - mdp.gamma):
        warnings.warn(f"occupancy_lp: the returned occupancy violates the flow constraints "
                      f"by {flow:.3g}", NumericalWarning, stacklevel=3)
    d_sa = d.reshape(mdp.S, mdp.A)
    d_sa.setflags(write=False)
    mu.setflags(write=False)
    return OccupancyLPResult(solution=sol, occupancy=d_sa, value=value, mu=mu,
                             flow_residual=flow)


def dual_lp(mdp: FiniteMDP, *, mu=None, tol: float = 1e-9,
            solver: str = "highs-ipm") -> Solution:
    r"""Solve a discounted MDP by its dual (occupancy-measure) LP; return the certified solution.

    ``dual_lp(mdp, ...)`` is ``occupancy_lp(mdp, ...).solution``: use
    :func:`occupancy_lp` to also get the optimal occupancy :math:`d^*` and the LP optimum
    :math:`\mu^\top v^*`. See :func:`occupancy_lp` for the program, how ``v`` and the
    policy are read off it, and the parameters.

    Returns
    -------
    Solution
        ``method="dual_lp"``; ``policy`` is :math:`d^*(s,a)/\sum_a d^*(s,a)` on visited
        states and greedy for ``v`` elsewhere; bounds proven by :func:`tabular_rl.certify`.

    References
    ----------
    .. [1] M. L. Puterman, *Markov Decision Processes*, Wiley, 1994, §6.9, Thm. 6.9.1.

    Examples
    --------
    >>> import numpy as np
    >>> from tabular_rl import FiniteMDP, dual_lp
    >>> P = np.array([[[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [0.0, 1.0]]])
    >>> res = dual_lp(FiniteMDP(P, [[0.0, 1.0], [2.0, 2.0]], gamma=0.5))
    >>> np.round(res.v, 8), res.actions
    (array([3., 4.]), array([1, 0]))
    """
    require_finite_mdp(mdp, "dual_lp")
    return occupancy_lp(mdp, mu=mu, tol=tol, solver=solver).solution
