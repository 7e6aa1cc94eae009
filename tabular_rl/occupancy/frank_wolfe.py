r"""Frank-Wolfe (conditional gradient) over the occupancy polytope, with MDP solves as the
linear oracle and a certified duality gap.

For a concave, differentiable utility :math:`F` of the normalized occupancy, each
iteration linearizes :math:`F` at :math:`d_k` and maximizes the linearization over the
polytope :math:`\mathcal D_\mu` — an MDP with reward :math:`\nabla F(d_k)`:

.. math::

    s_k \in \arg\max_{d \in \mathcal D_\mu} \langle \nabla F(d_k), d\rangle
    = d^{\pi_k}_\mu, \quad \pi_k \text{ optimal for reward } \nabla F(d_k), \qquad
    d_{k+1} = (1-\eta_k)\, d_k + \eta_k\, s_k,

with :math:`\eta_k = 2/(k+2)` (open loop, :math:`k \ge 1`, so that the support of
:math:`d_0` is kept) or an exact line search on :math:`[0, 1]`; the default adds *away
steps* (Lacoste-Julien and Jaggi, "On the Global Linear Convergence of Frank-Wolfe
Optimization Variants", NeurIPS 2015, Alg. 1): the iterate is kept as a convex combination
of oracle vertices, and when moving away from the worst of them ascends faster than
moving towards :math:`s_k`, the step does that. The mixture
:math:`d_{k+1}` stays in the (convex) polytope, so it is the occupancy of the stationary
policy :math:`\pi(a\mid s) \propto d_{k+1}(s,a)`. This is the algorithm of Hazan, Kakade,
Singh, Van Soest (ICML 2019, Alg. 1) with an exact planning oracle.

**Certificate.** For concave :math:`F`, :math:`F(d) \le F(d_k) + \langle\nabla F(d_k),
d - d_k\rangle` for every :math:`d`, hence (Jaggi, "Revisiting Frank-Wolfe", ICML 2013,
§2)

.. math::

    F^* - F(d_k) \;\le\; g_k = \max_{d\in\mathcal D_\mu}\langle \nabla F(d_k), d - d_k\rangle .

The oracle's maximum is read from a *certified upper bound* on the optimal value of the
reward-:math:`\nabla F(d_k)` MDP (:math:`(1-\gamma)\,\mu^\top(v + \epsilon)` with
:math:`\epsilon` the solver's ``error_bound``; episodic :math:`\mu^\top V_0 + \epsilon`),
so :math:`g_k` is an upper bound even when the oracle is inexact. The smallest
:math:`F(d_j) + g_j` seen so far is a proven upper bound on :math:`F^*`; the iteration
stops when it is within ``tol`` of :math:`F(d_k)`.

Entries where :math:`\nabla F = +\infty` (the entropy at a zero entry) are given reward 0
for the oracle; if the oracle then puts mass there the gap of that iteration is
:math:`+\infty` (no certificate), and the step itself enlarges the support. Starting
from the uniform policy's occupancy (the default), every reachable pair has positive mass
and this never happens.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .. import _validation as V
from ..exceptions import ConvergenceError, ConvergenceWarning
from ..mdp import EpisodicMDP, FiniteMDP
from .polytope import flow_constraints, occupancy_to_policy, policy_to_occupancy

__all__ = [
    "FrankWolfeResult",
    "Utility",
    "entropy_utility",
    "exact_lmo",
    "frank_wolfe",
    "linear_utility",
]


@dataclass(frozen=True, slots=True)
class Utility:
    r"""A smooth concave utility of the occupancy: ``value(d) -> float`` and
    ``gradient(d) -> ndarray`` (same shape as ``d``; ``+inf`` allowed where ``d = 0``)."""

    value: Callable[[np.ndarray], float]
    gradient: Callable[[np.ndarray], np.ndarray]
    name: str = "F"


def entropy_utility(*, over: str = "state", episodic: str = "sum") -> Utility:
    r"""Shannon entropy of the occupancy as a :class:`Utility`.

    ``over="state"``: :math:`F(d) = -\sum_s d(s)\log d(s)` with :math:`d(s) = \sum_a d(s,a)`,
    gradient :math:`\partial F/\partial d(s,a) = -\log d(s) - 1`; ``"state_action"``:
    :math:`-\sum d\log d`, gradient :math:`-\log d(s,a) - 1`. Episodic ``(H, S, A)``:
    ``"sum"`` of per-step entropies (Tiapkin et al. 2023) or entropy of the ``"mixture"``
    :math:`\bar d = \tfrac1H\sum_h d_h` (gradient :math:`(-\log\bar d - 1)/H` per step).
    """
    from .convex import _check_over, occupancy_entropy

    _check_over(over)
    if episodic not in ("sum", "mixture"):
        raise ValueError(f"episodic must be 'sum' or 'mixture', got {episodic!r}")

    def value(d):
        return occupancy_entropy(d, over=over, episodic=episodic)

    def gradient(d):
        d = np.asarray(d, dtype=np.float64)
        x = d.sum(axis=-1, keepdims=True) if over == "state" else d
        scale = 1.0
        if d.ndim == 3 and episodic == "mixture":
            x = x.mean(axis=0, keepdims=True)
            scale = 1.0 / d.shape[0]
        with np.errstate(divide="ignore"):
            g = np.where(x > 0, -np.log(np.where(x > 0, x, 1.0)) - 1.0, np.inf) * scale
        return np.broadcast_to(g, d.shape).copy()

    return Utility(value, gradient, name=f"entropy[{over}]")


def linear_utility(r) -> Utility:
    r""":math:`F(d) = \langle d, r\rangle` (``r`` with the occupancy's shape): Frank-Wolfe
    then solves the MDP in one oracle call (a check of the machinery)."""
    r = np.asarray(r, dtype=np.float64)
    return Utility(lambda d: float(np.sum(np.asarray(d) * r)),
                   lambda d: np.broadcast_to(r, np.shape(d)).copy(), name="linear")


def _episodic_with_reward(mdp: EpisodicMDP, r: np.ndarray) -> EpisodicMDP:
    P = list(mdp.P) if isinstance(mdp.P, tuple) else mdp.P
    return EpisodicMDP(P, r, mdp.H, mdp.mu)


def exact_lmo(mdp: FiniteMDP | EpisodicMDP, g: np.ndarray, mu: np.ndarray, *,
              method: str = "value_iteration", rel_tol: float = 1e-10,
              abs_tol: float = 0.0, warm: np.ndarray | None = None):
    r"""The linear oracle: a (near-)optimal policy for reward ``g`` and a certified upper
    bound on :math:`\max_{d\in\mathcal D_\mu}\langle g, d\rangle`.

    Discounted: :func:`~tabular_rl.planning.value_iteration` (certified to
    :math:`\max(` ``abs_tol``, ``rel_tol`` :math:`\cdot\max|g|/(1-\gamma))`, warm-started
    from the previous call's
    value) or :func:`~tabular_rl.planning.policy_iteration` (warm-started from the previous
    actions) on ``mdp.with_reward(g)``; the bound is
    :math:`(1-\gamma)\,(\mu^\top v + \epsilon)` with :math:`\epsilon` the solver's
    ``error_bound``. Episodic: :func:`~tabular_rl.planning.backward_induction`, bound
    :math:`\mu^\top V_0 + \epsilon`.

    Returns
    -------
    (policy, upper_bound, warm_start)
    """
    from ..planning.dp import backward_induction, policy_iteration, value_iteration

    if isinstance(mdp, EpisodicMDP):
        sol = backward_induction(_episodic_with_reward(mdp, g))
        return sol.policy, float(mu @ sol.v[0]) + sol.error_bound, None
    m = mdp.with_reward(g)
    if method == "policy_iteration":
        sol = policy_iteration(m, pi0=warm)
        nxt = np.asarray(sol.policy).argmax(axis=1)
    elif method == "value_iteration":
        scale = max(float(np.abs(g).max()), 1e-300) / (1.0 - mdp.gamma)
        v0 = warm if warm is not None and warm.shape == (mdp.S,) else None
        sol = value_iteration(m, tol=max(rel_tol * scale, abs_tol), v0=v0,
                              max_iter=1_000_000)
        nxt = np.asarray(sol.v)
    else:
        raise ValueError(f"method must be 'policy_iteration' or 'value_iteration', "
                         f"got {method!r}")
    upper = (1.0 - mdp.gamma) * (float(mu @ sol.v) + sol.error_bound)
    return sol.policy, upper, nxt


@dataclass(frozen=True, slots=True, repr=False)
class FrankWolfeResult:
    r"""What :func:`frank_wolfe` returns.

    Attributes
    ----------
    occupancy : ndarray (S, A) or (H, S, A)
        The last iterate :math:`d_K` (a point of the polytope).
    policy : ndarray
        :func:`~.polytope.occupancy_to_policy` of ``occupancy``.
    value : float
        :math:`F(d_K)`.
    upper_bound : float
        Certified :math:`F^* \le` ``upper_bound`` (smallest :math:`F(d_k) + g_k`).
    gap : float
        ``upper_bound - value`` :math:`\ge F^* - F(d_K)`.
    iterations : int
    converged : bool
        ``gap <= tol``.
    values, gaps : ndarray
        :math:`F(d_k)` and the Frank-Wolfe gap :math:`g_k` per iteration.
    message : str
    """

    occupancy: np.ndarray
    policy: np.ndarray
    value: float
    upper_bound: float
    gap: float
    iterations: int
    converged: bool
    values: np.ndarray
    gaps: np.ndarray
    message: str

    def __repr__(self) -> str:
        return (f"FrankWolfeResult(value={self.value:.10g}, gap={self.gap:.3g}, "
                f"iterations={self.iterations}, converged={self.converged})")


def _line_search(F: Callable, d: np.ndarray, direction: np.ndarray, t_max: float = 1.0,
                 f0: float | None = None) -> float:
    """The step in ``[0, t_max]`` maximizing ``F(d + t * direction)`` (bounded Brent)."""
    from scipy.optimize import minimize_scalar

    res = minimize_scalar(lambda t: -F(d + t * direction), bounds=(0.0, t_max),
                          method="bounded", options={"xatol": 1e-10 * max(t_max, 1e-300)})
    t = float(res.x)
    # never accept a step worse than an end point
    best = max((F(d + t * direction), t), (F(d + t_max * direction), t_max),
               (F(d) if f0 is None else f0, 0.0))
    return best[1]


class _ActiveSet:
    """Atoms (occupancies, rows of ``atoms``) and convex weights ``w`` whose combination is
    the iterate, for the away-step variant (Guélat and Marcotte 1986; Lacoste-Julien and
    Jaggi 2015). The iterate itself is updated in place by the caller."""

    def __init__(self, d0: np.ndarray):
        self.atoms = d0.reshape(1, -1).copy()
        self.w = np.ones(1)
        self.keys: list[bytes] = [b"d0"]

    @staticmethod
    def key(s: np.ndarray) -> bytes:
        return np.round(s.ravel(), 13).tobytes()

    def away_atom(self, g: np.ndarray) -> int:
        return int(np.argmin(self.atoms @ g))

    def fw_update(self, s: np.ndarray, eta: float) -> None:
        self.w *= 1.0 - eta
        k = self.key(s)
        try:
            self.w[self.keys.index(k)] += eta
        except ValueError:
            self.atoms = np.vstack([self.atoms, s.reshape(1, -1)])
            self.w = np.append(self.w, eta)
            self.keys.append(k)
        self._prune()

    def away_update(self, i: int, eta: float, eta_max: float) -> None:
        self.w *= 1.0 + eta
        self.w[i] -= eta
        if eta >= eta_max * (1 - 1e-12):
            self.w[i] = 0.0
        self._prune()

    def _prune(self) -> None:
        keep = self.w > 1e-15
        if not keep.all():
            self.atoms = self.atoms[keep]
            self.keys = [k for k, m in zip(self.keys, keep, strict=True) if m]
            self.w = self.w[keep]
        self.w /= self.w.sum()

    def point(self, shape) -> np.ndarray:
        return (self.w @ self.atoms).reshape(shape)


def frank_wolfe(mdp: FiniteMDP | EpisodicMDP, utility: Utility, *, mu=None, d0=None,
                n_iter: int = 1000, tol: float = 1e-6, step: str = "away",
                lmo: Callable | None = None, lmo_method: str = "value_iteration",
                strict: bool = False) -> FrankWolfeResult:
    r"""Maximize a concave utility of the occupancy by Frank-Wolfe with an exact MDP oracle.

    .. math::

        s_k = d^{\pi_k}_\mu,\ \pi_k \in \arg\max_\pi \langle \nabla F(d_k), d^\pi_\mu\rangle,
        \qquad d_{k+1} = d_k + \eta_k (s_k - d_k),
        \qquad F^* - F(d_k) \le \langle \nabla F(d_k), s_k - d_k\rangle .

    Parameters
    ----------
    mdp : FiniteMDP or EpisodicMDP
        Dense or CSR kernel; the oracle is policy iteration (discounted) or backward
        induction (episodic) on the model with reward :math:`\nabla F(d_k)`.
    utility : Utility
        Concave :math:`F` with its gradient (e.g. :func:`entropy_utility`).
    mu : array_like (S,), optional
        Initial distribution (default ``mdp.mu``).
    d0 : array_like, optional
        Starting occupancy (default: the uniform policy's).
    n_iter : int
        Iteration cap; hitting it warns (:class:`~tabular_rl.ConvergenceWarning`) or, with
        ``strict``, raises :class:`~tabular_rl.ConvergenceError`.
    tol : float
        Stop when the certified gap ``upper_bound - F(d_k)`` is at most ``tol``.
    step : {"away", "line_search", "open_loop"}
        ``"away"`` (default): away-step Frank-Wolfe with exact line search (Guélat and
        Marcotte 1986; Lacoste-Julien and Jaggi 2015), which also moves *away* from the
        worst atom of the current convex combination and converges linearly for strongly
        concave utilities on polytopes; ``"line_search"``: plain Frank-Wolfe with exact
        line search; ``"open_loop"``: :math:`\eta_k = 2/(k+2)` for :math:`k = 1, 2, \dots`.
    lmo : callable, optional
        ``lmo(mdp, g, mu, warm) -> (policy, upper_bound, warm)`` replacing
        :func:`exact_lmo` (``upper_bound`` must bound :math:`\max_d \langle g, d\rangle`).
    lmo_method : {"value_iteration", "policy_iteration"}
        Discounted oracle of :func:`exact_lmo`.

    Returns
    -------
    FrankWolfeResult

    References
    ----------
    .. [1] M. Frank, P. Wolfe, "An algorithm for quadratic programming", Naval Research
       Logistics Quarterly 3, 1956.
    .. [2] M. Jaggi, "Revisiting Frank-Wolfe: Projection-Free Sparse Convex Optimization",
       ICML 2013, Thm. 1 and §2 (duality gap).
    .. [3] E. Hazan, S. Kakade, K. Singh, A. Van Soest, "Provably Efficient Maximum Entropy
       Exploration", ICML 2019, Alg. 1.

    Examples
    --------
    >>> import numpy as np
    >>> from tabular_rl import FiniteMDP
    >>> from tabular_rl.occupancy.frank_wolfe import entropy_utility, frank_wolfe
    >>> P = np.zeros((2, 2, 2)); P[:, 0, 0] = 1.0; P[:, 1, 1] = 1.0
    >>> mdp = FiniteMDP(P, np.zeros((2, 2)), gamma=0.9, mu=[1.0, 0.0])
    >>> res = frank_wolfe(mdp, entropy_utility(), tol=1e-9)
    >>> res.converged, bool(abs(res.value - np.log(2)) <= res.gap)   # optimum: log 2
    (True, True)
    """
    if not isinstance(mdp, FiniteMDP | EpisodicMDP):
        raise TypeError(f"frank_wolfe needs a FiniteMDP or EpisodicMDP, got "
                        f"{type(mdp).__name__}")
    if not isinstance(utility, Utility):
        raise TypeError(f"utility must be a Utility (value, gradient), got "
                        f"{type(utility).__name__}")
    n_iter = V.check_positive_int("n_iter", n_iter)
    tol = V.check_real_scalar("tol", tol, 0.0, np.inf, lo_open=True)
    if step not in ("open_loop", "line_search", "away"):
        raise ValueError(f"step must be 'open_loop', 'line_search' or 'away', got {step!r}")
    mu = np.array(mdp.mu if mu is None else V.check_distribution("mu", mu, mdp.S))
    episodic = isinstance(mdp, EpisodicMDP)
    shape = (mdp.H, mdp.S, mdp.A) if episodic else (mdp.S, mdp.A)
    if d0 is None:
        d = policy_to_occupancy(mdp, np.full(shape, 1.0 / mdp.A) if episodic
                                else np.full((mdp.S, mdp.A), 1.0 / mdp.A), mu)
    else:
        d = V.as_float_array("d0", d0, len(shape))
        V.check_shape("d0", d, shape, "(occupancy)")
        resid = flow_constraints(mdp, mu).residual(d)
        if resid > 1e-8:
            raise ValueError(f"d0 is not an occupancy of the model: flow-constraint residual "
                             f"{resid:.3g} > 1e-8")
    d = np.array(d, dtype=np.float64)
    last_gap = [np.inf]
    if lmo is None:
        def lmo(m, g, mu_, warm):
            # the oracle's certified error only adds (1-gamma) * error_bound to the gap:
            # solve to a tenth of the current gap (never looser than needed for tol)
            slack = 0.1 * max(min(last_gap[0], 1e300), tol)
            abs_tol = 0.0 if episodic else slack / (1.0 - mdp.gamma)
            return exact_lmo(m, g, mu_, method=lmo_method, warm=warm, abs_tol=abs_tol)
    F = utility.value
    active = _ActiveSet(d) if step == "away" else None
    values, gaps = [], []
    best_upper = np.inf
    warm = None
    converged = False
    k = 0
    fk = F(d)
    for k in range(1, n_iter + 1):
        g = np.asarray(utility.gradient(d), dtype=np.float64)
        inf_mask = np.isposinf(g)
        if np.isnan(g).any() or np.isneginf(g).any():
            raise FloatingPointError(f"frank_wolfe: the gradient is not finite at iteration {k}")
        g_lmo = np.where(inf_mask, 0.0, g)
        pi_k, upper_lin, warm = lmo(mdp, g_lmo, mu, warm)
        s = policy_to_occupancy(mdp, pi_k, mu)
        if inf_mask.any() and np.any(s[inf_mask] > 0):
            gap = np.inf
        else:
            gap = float(upper_lin - np.sum(g_lmo * d))
        values.append(fk)
        gaps.append(gap)
        best_upper = min(best_upper, fk + gap)
        last_gap[0] = best_upper - fk
        if best_upper - fk <= tol:
            converged = True
            break
        if k == n_iter:
            break
        if step == "open_loop":
            eta = 2.0 / (k + 2.0)
            d = d + eta * (s - d)
        elif step == "line_search":
            eta = _line_search(F, d, s - d, 1.0, fk)
            d = d + eta * (s - d)
        else:
            gf = np.where(inf_mask, 0.0, g).ravel()
            ia = active.away_atom(gf)
            v = active.atoms[ia].reshape(shape)
            wa = active.w[ia]
            fw_dir = float(gf @ (s - d).ravel())
            away_dir = float(gf @ (d - v).ravel())
            if fw_dir >= away_dir or wa >= 1.0:
                eta = _line_search(F, d, s - d, 1.0, fk)
                active.fw_update(s, eta)
            else:
                eta_max = wa / (1.0 - wa)
                eta = _line_search(F, d, d - v, eta_max, fk)
                active.away_update(ia, eta, eta_max)
            d = active.point(shape)
        fk = F(d)
    gap_final = float(best_upper - fk)
    if converged:
        msg = f"certified F* - F(d) <= {gap_final:.3g} <= tol={tol:g} after {k} iterations"
    else:
        msg = (f"frank_wolfe: iteration cap n_iter={n_iter} reached with certified gap "
               f"{gap_final:.3g} > tol={tol:g}; raise n_iter or tol")
        if strict:
            raise ConvergenceError(msg)
        warnings.warn(msg, ConvergenceWarning, stacklevel=2)
    pi = occupancy_to_policy(mdp, d)
    for arr in (d, pi):
        arr.setflags(write=False)
    return FrankWolfeResult(occupancy=d, policy=pi, value=float(fk),
                            upper_bound=float(best_upper), gap=gap_final, iterations=k,
                            converged=converged, values=np.array(values), gaps=np.array(gaps),
                            message=msg)
