r"""Concave programs over the occupancy polytope, solved with cvxpy.

Every program here maximizes a concave function of the (normalized) occupancy :math:`d`
over the flow polytope :math:`\mathcal D_\mu` of :func:`~.polytope.flow_constraints`
(discounted: :math:`d \in \Delta_{S\times A}`; episodic: one distribution :math:`d_h` per
step):

* **visitation entropy** (:func:`max_entropy_occupancy`): :math:`\max_d \mathcal H(d)` with
  :math:`\mathcal H` the Shannon entropy of the state marginal
  :math:`d(s) = \sum_a d(s,a)` or of :math:`d(s,a)` itself. Discounted: the maximum-entropy
  exploration objective of Hazan, Kakade, Singh, Van Soest, "Provably Efficient Maximum
  Entropy Exploration", ICML 2019, §3. Episodic: the *visitation entropy*
  :math:`\mathrm{VE}(d) = \sum_{h} \mathcal H(d_h)` of Tiapkin et al., "Fast Rates for
  Maximum Entropy Exploration", ICML 2023, §2 (a sum of per-step entropies; the average
  over :math:`h` has the same maximizer), or, with ``episodic="mixture"``, the entropy of
  the step-averaged visitation :math:`\tfrac1H\sum_h d_h`;
* **divergence-regularized return** (:func:`regularized_occupancy`):
  :math:`\max_d \langle d, r\rangle - \lambda D(d\,\|\,d_{\mathrm{base}})` with :math:`D`
  the :math:`\chi^2` divergence :math:`\sum d^2/d_{\mathrm{base}} - 1` (optionally its
  square root, the ORPO objective of Laidlaw, Singhal, Dragan, "Correlated Proxies: A New
  Definition and Improved Mitigation for Reward Hacking", ICLR 2025, §5) or the KL
  divergence :math:`\sum d\log(d/d_{\mathrm{base}})` of occupancies;
* **any concave utility** (:func:`max_concave_utility`): :math:`\max_d F(d)` for a
  user-supplied cvxpy expression builder.

Solvers: Clarabel (interior point; exponential, second-order and quadratic cones) by
default, SCS (first order) as the alternative for large models; which ones are installed
is ``cvxpy.installed_solvers()``. A status other than ``"optimal"`` raises
:class:`OccupancyProgramError` naming the status; ``"optimal_inaccurate"`` warns
(:class:`~tabular_rl.NumericalWarning`) and raises only if the returned occupancy misses
the flow constraints by more than ``feas_tol``.

The returned occupancy is the solver's, with round-off negatives clipped; the returned
``policy`` is :func:`~.polytope.occupancy_to_policy` of it, and ``exact_occupancy`` is that
policy's occupancy recomputed by an exact linear solve (it lies in the polytope to
rounding, so every figure computed from it is that of an actual policy).
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..exceptions import NumericalWarning
from ..mdp import EpisodicMDP, FiniteMDP
from .polytope import (
    FlowConstraints,
    flow_constraints,
    linear_objective,
    occupancy_to_policy,
    policy_to_occupancy,
)

__all__ = [
    "ConvexOccupancyResult",
    "OccupancyProgramError",
    "chi2_divergence",
    "kl_divergence",
    "max_concave_utility",
    "max_entropy_occupancy",
    "occupancy_entropy",
    "regularized_occupancy",
    "regularized_occupancy_path",
]

_DEFAULT_SOLVERS = ("CLARABEL", "SCS")


class OccupancyProgramError(RuntimeError):
    """A convex occupancy program was not solved: infeasible, unbounded, solver failure, or an
    inaccurate solution that misses the flow constraints. ``status`` holds cvxpy's status."""

    def __init__(self, message: str, status: str | None = None):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True, repr=False)
class ConvexOccupancyResult:
    r"""What the programs of :mod:`tabular_rl.occupancy.convex` return.

    Attributes
    ----------
    occupancy : ndarray (S, A) or (H, S, A)
        The solver's optimal normalized occupancy (round-off negatives clipped).
    policy : ndarray (S, A) or (H, S, A)
        :func:`~.polytope.occupancy_to_policy` of ``occupancy`` (uniform on unvisited states).
    exact_occupancy : ndarray
        The occupancy of ``policy``, recomputed exactly (in the polytope to rounding).
    objective : float
        The program's optimal value as reported by the solver.
    solver : str
        The cvxpy solver used (e.g. ``"CLARABEL"``).
    status : str
        cvxpy's status (``"optimal"`` or ``"optimal_inaccurate"``).
    membership_residual : float
        Flow-constraint residual of ``occupancy`` (:meth:`FlowConstraints.residual`).
    """

    occupancy: np.ndarray
    policy: np.ndarray
    exact_occupancy: np.ndarray
    objective: float
    solver: str
    status: str
    membership_residual: float

    def __repr__(self) -> str:
        return (f"ConvexOccupancyResult(objective={self.objective:.10g}, solver={self.solver}, "
                f"status={self.status}, membership_residual={self.membership_residual:.3g})")


# ------------------------------------------------------------------------ numpy helpers


def _xlogx(x: np.ndarray) -> np.ndarray:
    return np.where(x > 0, x * np.log(np.where(x > 0, x, 1.0)), 0.0)


def occupancy_entropy(d, *, over: str = "state", episodic: str = "sum") -> float:
    r"""Shannon entropy (nats) of an occupancy, the objective of :func:`max_entropy_occupancy`.

    ``d`` is ``(S, A)`` (discounted) or ``(H, S, A)`` (episodic). ``over="state"`` uses the
    state marginal :math:`\sum_a d(s,a)`, ``"state_action"`` the pairs. Episodic
    ``episodic="sum"``: :math:`\sum_h \mathcal H(d_h)` (Tiapkin et al. 2023, visitation
    entropy); ``"mixture"``: :math:`\mathcal H(\tfrac1H\sum_h d_h)`.
    """
    x = np.maximum(np.asarray(d, dtype=np.float64), 0.0)
    _check_over(over)
    if over == "state":
        x = x.sum(axis=-1)
    if x.ndim == (2 if over == "state" else 3):  # episodic
        if episodic == "mixture":
            x = x.mean(axis=0)
        elif episodic != "sum":
            raise ValueError(f"episodic must be 'sum' or 'mixture', got {episodic!r}")
    return float(-_xlogx(x).sum())


def _support_violation(d: np.ndarray, base: np.ndarray) -> int | None:
    bad = (base <= 0) & (d > 0)
    return int(np.argmax(bad.ravel())) if bad.any() else None


def chi2_divergence(d, base) -> float:
    r""":math:`\chi^2(d\,\|\,b) = \sum_i (d_i - b_i)^2 / b_i = \sum_i d_i^2/b_i - 1` for
    distributions (``+inf`` if :math:`d` puts mass where :math:`b = 0`)."""
    d = np.asarray(d, dtype=np.float64).ravel()
    b = np.asarray(base, dtype=np.float64).ravel()
    if _support_violation(d, b) is not None:
        return float("inf")
    pos = b > 0
    return float(np.sum((d[pos] - b[pos]) ** 2 / b[pos]))


def kl_divergence(d, base) -> float:
    r""":math:`\mathrm{KL}(d\,\|\,b) = \sum_i d_i \log(d_i/b_i)` (``+inf`` off the support of
    :math:`b`)."""
    d = np.asarray(d, dtype=np.float64).ravel()
    b = np.asarray(base, dtype=np.float64).ravel()
    if _support_violation(d, b) is not None:
        return float("inf")
    pos = d > 0
    return float(np.sum(d[pos] * (np.log(d[pos]) - np.log(b[pos]))))


# ------------------------------------------------------------------------ cvxpy plumbing


def _check_over(over: str) -> None:
    if over not in ("state", "state_action"):
        raise ValueError(f"over must be 'state' or 'state_action', got {over!r}")


def _check_model(mdp, fn: str) -> None:
    if not isinstance(mdp, FiniteMDP | EpisodicMDP):
        raise TypeError(f"{fn} needs a FiniteMDP or EpisodicMDP, got {type(mdp).__name__}")


@functools.lru_cache(maxsize=1)
def _installed() -> tuple[str, ...]:
    import cvxpy as cp

    return tuple(cp.installed_solvers())


def _pick_solver(solver: str | None) -> str:
    installed = list(_installed())
    if solver is None:
        for s in _DEFAULT_SOLVERS:
            if s in installed:
                return s
        raise OccupancyProgramError(f"no conic solver among {_DEFAULT_SOLVERS} is installed "
                                    f"(installed: {installed})")
    name = str(solver).upper()
    if name not in installed:
        raise ValueError(f"solver {solver!r} is not installed; installed: {installed}")
    return name


def _state_sum_matrix(S: int, A: int, H: int | None) -> sp.csr_matrix:
    """Sums each block of ``A`` consecutive entries: ``(S, S*A)`` or ``(H*S, H*S*A)``."""
    n = S * A * (1 if H is None else H)
    cols = np.arange(n)
    return sp.csr_matrix((np.ones(n), (cols // A, cols)), shape=(n // A, n))


def _solve(mdp, fc: FlowConstraints, build: Callable, *, solver: str | None, feas_tol: float,
           fn: str, extra_constraints: Callable | None = None,
           solver_options: dict | None = None,
           cache: dict | None = None) -> ConvexOccupancyResult:
    """Maximize ``build(d)`` over the polytope; check the status; assemble the result.

    ``cache`` (a dict) keeps the compiled problem for re-solves with new parameter values.
    """
    import cvxpy as cp

    name = _pick_solver(solver)
    if cache is not None and "prob" in cache:
        prob, d, obj = cache["prob"], cache["d"], cache["obj"]
    else:
        d = cp.Variable(fc.n_variables, name="d")
        cons = [fc.A_eq @ d == fc.b_eq, d >= 0]
        obj = build(d)
        if not isinstance(obj, cp.Expression):
            raise TypeError(f"{fn}: the utility must build a cvxpy Expression, got "
                            f"{type(obj).__name__}")
        if extra_constraints is not None:
            cons += list(extra_constraints(d))
        prob = cp.Problem(cp.Maximize(obj), cons)
        if not prob.is_dcp():
            raise ValueError(f"{fn}: the objective is not concave by cvxpy's DCP rules "
                             f"(curvature {obj.curvature})")
        if cache is not None:
            cache.update(prob=prob, d=d, obj=obj)
    try:
        # cvxpy evaluates atoms at round-off negatives; its own "may be inaccurate" warning
        # is replaced by ours below
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Solution may be inaccurate")
            prob.solve(solver=name, **(solver_options or {}))
    except cp.error.SolverError as exc:
        raise OccupancyProgramError(f"{fn}: solver {name} failed: {exc}",
                                    status="solver_error") from exc
    status = prob.status
    if status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
        what = ("infeasible" if "infeasible" in status else
                "unbounded" if "unbounded" in status else "not solved")
        raise OccupancyProgramError(
            f"{fn}: solver {name} returned status {status!r} (the program is {what}); no "
            "occupancy was returned", status=status)
    x = np.asarray(d.value, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        raise OccupancyProgramError(f"{fn}: solver {name} returned a non-finite occupancy "
                                    f"(status {status!r})", status=status)
    x = np.maximum(x, 0.0)
    resid = fc.residual(x)
    if status == cp.OPTIMAL_INACCURATE:
        warnings.warn(f"{fn}: solver {name} reports 'optimal_inaccurate'; flow residual "
                      f"{resid:.3g}", NumericalWarning, stacklevel=3)
        if resid > feas_tol:
            raise OccupancyProgramError(
                f"{fn}: solver {name} returned an inaccurate occupancy that misses the flow "
                f"constraints by {resid:.3g} > feas_tol={feas_tol:g}", status=status)
    # cvxpy evaluates the objective at the primal point, where round-off negatives make
    # e.g. entr() = -inf: re-evaluate it at the clipped point.
    d.value = x
    with np.errstate(all="ignore"):
        value = obj.value
    value = float(value) if value is not None and np.isfinite(value) else float(prob.value)
    if not np.isfinite(value):
        raise OccupancyProgramError(f"{fn}: the objective is not finite at the solver's "
                                    f"solution (status {status!r})", status=status)
    shaped = x.reshape(fc.var_shape)
    pi = occupancy_to_policy(mdp, shaped, atol=feas_tol)
    exact = policy_to_occupancy(mdp, pi, fc.mu)
    for arr in (shaped, pi, exact):
        arr.setflags(write=False)
    return ConvexOccupancyResult(occupancy=shaped, policy=pi, exact_occupancy=exact,
                                 objective=value, solver=name, status=status,
                                 membership_residual=resid)


# ------------------------------------------------------------------------ public programs


def max_entropy_occupancy(mdp: FiniteMDP | EpisodicMDP, *, over: str = "state", mu=None,
                          episodic: str = "sum", solver: str | None = None,
                          feas_tol: float = 1e-6,
                          solver_options: dict | None = None) -> ConvexOccupancyResult:
    r"""Maximum-entropy occupancy: the visitation-entropy maximization program.

    Discounted (Hazan et al. 2019, §3):

    .. math::

        \max_{d \in \mathcal D_\mu}\; -\sum_s d(s)\log d(s), \qquad d(s) = \sum_a d(s,a)

    (``over="state"``; ``over="state_action"`` uses :math:`d(s,a)`). Episodic, the
    visitation entropy of Tiapkin et al. (ICML 2023, §2, "visitation entropy"
    :math:`\mathrm{VE}(d^\pi) = \sum_{h=1}^H \mathcal H(d_h^\pi)`; they use state-action
    visitations, here ``over`` chooses):

    .. math::

        \max_{d \in \mathcal D_\mu}\; \sum_{h=0}^{H-1} \mathcal H(d_h)
        \quad(\texttt{episodic="sum"}), \qquad
        \max_{d}\; \mathcal H\Big(\tfrac1H \sum_h d_h\Big) \quad(\texttt{"mixture"}).

    An exponential-cone program (``cp.entr``); the optimum is unique in the state (or
    state-action) marginal, not necessarily in :math:`d`.

    Parameters
    ----------
    mdp : FiniteMDP or EpisodicMDP
    over : {"state", "state_action"}
    mu : array_like (S,), optional
        Initial distribution (default ``mdp.mu``).
    episodic : {"sum", "mixture"}
        Episodic objective (ignored for a discounted model).
    solver : str, optional
        A cvxpy solver with exponential cones (default Clarabel, else SCS).
    feas_tol : float
        Largest flow residual accepted from an ``"optimal_inaccurate"`` solve; also the
        state-mass threshold below which a state counts as unvisited for ``policy``.

    Returns
    -------
    ConvexOccupancyResult
        ``objective`` is the maximal entropy (nats).

    Raises
    ------
    OccupancyProgramError
        The solver did not return an optimal solution (the status is in the message).

    Examples
    --------
    >>> import numpy as np
    >>> from tabular_rl import FiniteMDP
    >>> from tabular_rl.occupancy.convex import max_entropy_occupancy
    >>> P = np.zeros((2, 2, 2)); P[:, 0, 0] = 1.0; P[:, 1, 1] = 1.0  # action = next state
    >>> res = max_entropy_occupancy(FiniteMDP(P, np.zeros((2, 2)), gamma=0.9))
    >>> round(res.objective, 6), res.solver                    # log 2: both states half
    (0.693147, 'CLARABEL')
    """
    import cvxpy as cp

    _check_model(mdp, "max_entropy_occupancy")
    _check_over(over)
    if episodic not in ("sum", "mixture"):
        raise ValueError(f"episodic must be 'sum' or 'mixture', got {episodic!r}")
    fc = flow_constraints(mdp, mu)
    H = fc.H
    Msum = _state_sum_matrix(fc.S, fc.A, H) if over == "state" else None

    def build(d):
        x = Msum @ d if Msum is not None else d
        if H is not None and episodic == "mixture":
            block = x.shape[0] // H
            avg = sp.hstack([sp.identity(block, format="csr")] * H).tocsr() / H
            x = avg @ x
        return cp.sum(cp.entr(x))

    return _solve(mdp, fc, build, solver=solver, feas_tol=feas_tol,
                  fn="max_entropy_occupancy", solver_options=solver_options)


def regularized_occupancy(mdp: FiniteMDP | EpisodicMDP, lam: float, *, base_policy=None,
                          base_occupancy=None, r=None, divergence: str = "chi2",
                          root: bool = False, mu=None, solver: str | None = None,
                          feas_tol: float = 1e-6, solver_options: dict | None = None,
                          _lam_param=None, _cache: dict | None = None) -> ConvexOccupancyResult:
    r"""Return maximization regularized towards a base occupancy.

    .. math::

        \max_{d \in \mathcal D_\mu}\; \langle d, r\rangle - \lambda\, D(d\,\|\,d_{\mathrm{base}}),
        \qquad
        D = \chi^2(d\,\|\,b) = \sum_{i} \frac{(d_i - b_i)^2}{b_i}
        \;\text{ or }\; \mathrm{KL}(d\,\|\,b) = \sum_i d_i \log\frac{d_i}{b_i},

    with ``root=True`` (only for :math:`\chi^2`) using :math:`\sqrt{\chi^2}` instead, the
    ORPO objective :math:`J(\pi,\tilde R) - \lambda\sqrt{\chi^2(\mu_\pi\|\mu_{\pi_{ref}})}` of
    Laidlaw, Singhal, Dragan (ICLR 2025, §5). Entries with :math:`b_i = 0` are forced to
    :math:`d_i = 0` (the divergence is infinite otherwise). :math:`\langle d, r\rangle` is the
    normalized return: :math:`(1-\gamma)\mu^\top v^\pi` discounted,
    :math:`\mu^\top V_0^\pi` episodic.

    Parameters
    ----------
    mdp : FiniteMDP or EpisodicMDP
    lam : float
        Regularization strength :math:`\lambda \ge 0`.
    base_policy : array_like, optional
        Base policy; :math:`d_{\mathrm{base}}` is its occupancy (exactly one of
        ``base_policy`` / ``base_occupancy``).
    base_occupancy : array_like, optional
        :math:`d_{\mathrm{base}}` itself, same layout as the occupancy.
    r : array_like, optional
        Reward (default ``mdp.r``), e.g. a proxy reward.
    divergence : {"chi2", "kl"}
    root : bool
        Penalize :math:`\sqrt{\chi^2}` (a second-order cone) instead of :math:`\chi^2`.

    Returns
    -------
    ConvexOccupancyResult

    Raises
    ------
    ValueError
        ``lam`` negative or not finite, both or neither base given, unknown divergence.
    OccupancyProgramError
        The solver did not return an optimal solution.
    """
    import cvxpy as cp

    _check_model(mdp, "regularized_occupancy")
    lam = float(lam)
    if not np.isfinite(lam) or lam < 0:
        raise ValueError(f"lam must be finite and >= 0, got {lam}")
    if divergence not in ("chi2", "kl"):
        raise ValueError(f"divergence must be 'chi2' or 'kl', got {divergence!r}")
    if root and divergence != "chi2":
        raise ValueError("root=True is only defined for divergence='chi2'")
    if (base_policy is None) == (base_occupancy is None):
        raise ValueError("give exactly one of base_policy and base_occupancy")
    fc = flow_constraints(mdp, mu)
    if base_occupancy is None:
        base_occupancy = policy_to_occupancy(mdp, base_policy, fc.mu)
    b = np.asarray(base_occupancy, dtype=np.float64).reshape(-1)
    if b.shape != (fc.n_variables,):
        raise ValueError(f"base_occupancy must have {fc.n_variables} entries "
                         f"(shape {fc.var_shape}), got {np.shape(base_occupancy)}")
    if np.any(b < 0) or not np.all(np.isfinite(b)):
        i = int(np.argmax((b < 0) | ~np.isfinite(b)))
        raise ValueError(f"base_occupancy[{np.unravel_index(i, fc.var_shape)}] = {b[i]} is "
                         "not a non-negative finite number")
    c = linear_objective(mdp, r)
    pos = np.flatnonzero(b > 0)
    zero = np.flatnonzero(b <= 0)
    bp = b[pos]

    weight = lam if _lam_param is None else _lam_param

    def build(d):
        ret = c @ d
        if _lam_param is None and lam == 0.0:
            return ret
        dp = d[pos]
        if divergence == "kl":
            div = cp.sum(cp.rel_entr(dp, bp))
        elif root:
            div = cp.norm(cp.multiply(1.0 / np.sqrt(bp), dp - bp), 2)
        else:
            div = cp.sum(cp.multiply(1.0 / bp, cp.square(dp - bp)))
        return ret - weight * div

    positive = lam > 0 if _lam_param is None else True
    extra = (lambda d: [d[zero] == 0]) if zero.size and positive else None
    return _solve(mdp, fc, build, solver=solver, feas_tol=feas_tol, fn="regularized_occupancy",
                  extra_constraints=extra, solver_options=solver_options, cache=_cache)


def regularized_occupancy_path(mdp: FiniteMDP | EpisodicMDP, lams, *, base_policy=None,
                               base_occupancy=None, r=None, divergence: str = "chi2",
                               root: bool = False, mu=None, solver: str | None = None,
                               feas_tol: float = 1e-6,
                               solver_options: dict | None = None
                               ) -> list[ConvexOccupancyResult]:
    r""":func:`regularized_occupancy` for each :math:`\lambda` in ``lams`` (the
    regularization path), compiling the program once (``lam`` is a cvxpy ``Parameter``).

    Returns
    -------
    list of ConvexOccupancyResult
        One per entry of ``lams``, in order. Errors as in :func:`regularized_occupancy`.
    """
    import cvxpy as cp

    lams = [float(x) for x in np.atleast_1d(np.asarray(lams, dtype=np.float64))]
    for i, lam in enumerate(lams):
        if not np.isfinite(lam) or lam < 0:
            raise ValueError(f"lams[{i}] = {lam}: must be finite and >= 0")
    lam_p = cp.Parameter(nonneg=True, name="lam")
    cache: dict = {}
    out = []
    for lam in lams:
        lam_p.value = lam
        out.append(regularized_occupancy(
            mdp, 1.0, base_policy=base_policy, base_occupancy=base_occupancy, r=r,
            divergence=divergence, root=root, mu=mu, solver=solver, feas_tol=feas_tol,
            solver_options=solver_options, _lam_param=lam_p, _cache=cache))
    return out


def max_concave_utility(mdp: FiniteMDP | EpisodicMDP, utility: Callable, *, mu=None,
                        solver: str | None = None, feas_tol: float = 1e-6,
                        extra_constraints: Callable | None = None,
                        solver_options: dict | None = None) -> ConvexOccupancyResult:
    r"""Maximize a concave utility of the occupancy, :math:`\max_{d\in\mathcal D_\mu} F(d)`.

    Parameters
    ----------
    mdp : FiniteMDP or EpisodicMDP
    utility : callable
        ``utility(d) -> cvxpy.Expression``, concave by cvxpy's DCP rules, where ``d`` is the
        flat cvxpy variable of length ``S*A`` (``H*S*A``) in the layout of
        :func:`~.polytope.flow_constraints` (entry ``s*A + a``, resp.
        ``h*S*A + s*A + a``).
    extra_constraints : callable, optional
        ``extra_constraints(d) -> list of cvxpy constraints`` (e.g. a cost budget of a
        constrained MDP).

    Returns
    -------
    ConvexOccupancyResult

    Raises
    ------
    TypeError
        ``utility`` does not return a cvxpy expression.
    ValueError
        The expression is not concave (not DCP).
    OccupancyProgramError
        Infeasible (e.g. contradictory ``extra_constraints``), unbounded, or failed solves.

    Examples
    --------
    >>> import numpy as np, cvxpy as cp
    >>> from tabular_rl import FiniteMDP
    >>> from tabular_rl.occupancy.convex import max_concave_utility
    >>> mdp = FiniteMDP(np.full((2, 2, 2), 0.5), [[1.0, 0.0], [0.0, 2.0]], gamma=0.5)
    >>> res = max_concave_utility(mdp, lambda d: mdp.r.ravel() @ d)   # the LP
    >>> round(res.objective, 6)     # each state has mass 1/2; best rewards 1 and 2
    1.5
    """
    _check_model(mdp, "max_concave_utility")
    if not callable(utility):
        raise TypeError(f"utility must be callable, got {type(utility).__name__}")
    fc = flow_constraints(mdp, mu)
    return _solve(mdp, fc, utility, solver=solver, feas_tol=feas_tol, fn="max_concave_utility",
                  extra_constraints=extra_constraints, solver_options=solver_options)
