r"""Maximum causal entropy inverse RL (and its constrained variant) by exact dual ascent.

**MCE IRL** (Ziebart, Bagnell, Dey 2010; Ziebart 2010, Ch. 6). With features
:math:`\varphi(s,a)\in\mathbb R^d` and the expert's feature expectation
:math:`\mu_E = \sum_{s,a} d_E(s,a)\varphi(s,a)`, the maximum causal entropy policy matching
:math:`\mu_E` is the soft-optimal policy of the reward :math:`r_\theta = \theta^\top\varphi`
for the maximizer :math:`\theta^*` of the concave dual

.. math::

    L(\theta) = \theta^\top\mu_E - (1-\gamma)\,\mu^\top v^*_{\tau}(r_\theta),
    \qquad \nabla L(\theta) = \mu_E - \mu_\theta, \quad
    \mu_\theta = \sum_{s,a} d^{\pi_\theta}(s,a)\,\varphi(s,a),

(normalized discounted occupancy; episodic: :math:`\mu^\top V_0^*` and occupancies summed over
steps), where :math:`\pi_\theta = \operatorname{softmax}(q^*_\tau(r_\theta)/\tau)` is the
soft-optimal policy (the gradient is the envelope theorem: :math:`\nabla_r\,\mu^\top v^*_\tau
= d^{\pi_\theta}/(1-\gamma)`). :func:`mce_irl` runs (accelerated, restarted) gradient ascent
on :math:`L` with exact soft value iteration / soft backward induction and exact occupancies,
and stops when the feature-matching residual :math:`\|\mu_E - \mu_\theta\|_1` is at most
``tol``. With tabular (one-hot) features and the expert's temperature, the fixed point has
:math:`d^{\pi_\theta} = d_E`, hence :math:`\pi_\theta = \pi_E` on visited states and (by
:mod:`tabular_rl.irl.identifiability`) :math:`r_\theta` equals the expert's reward up to
potential shaping.

**Step size.** :math:`L` is smooth with constant at most
:math:`\Phi^2/(\tau(1-\gamma))` (episodic :math:`H^2\Phi^2/\tau`),
:math:`\Phi = \max_{s,a}\|\varphi(s,a)\|_2`: its Hessian is :math:`1/\tau` times a covariance
of the normalized discounted feature sum, whose norm is at most
:math:`\Phi/(1-\gamma)`. The default step is the inverse of that bound.

**MCE inverse constrained RL** (:func:`mce_icrl`; Baert, Mazzaglia, Leroux, Simoens, "Maximum
Causal Entropy Inverse Constrained Reinforcement Learning", arXiv:2305.02857, 2023; Malik et
al., "Inverse Constrained Reinforcement Learning", ICML 2021). The reward :math:`r` is known;
the expert solves an entropy-regularized constrained MDP with an unknown cost. With cost
features :math:`\psi(s,a)\in\mathbb R^K` the learner solves

.. math::

    \max_\pi\ \langle d^\pi, r\rangle + \tau\,\mathcal H(\pi)
    \quad\text{s.t.}\quad \langle d^\pi, \psi_k\rangle \le \langle d_E, \psi_k\rangle,
    \qquad k = 1..K,

whose dual, :math:`\min_{\omega\ge 0}\ (1-\gamma)\mu^\top v^*_\tau(r - \omega^\top\psi) +
\omega^\top\mu^\psi_E`, is minimized by projected gradient steps
:math:`\omega \leftarrow [\omega + \eta(\mu^\psi_\omega - \mu^\psi_E)]_+`; the learned cost is
:math:`c_\omega = \omega^\top\psi`. (Only the abstract of Baert et al. could be retrieved
here; the formulation above is the tabular MCE-ICRL dual as implemented, not a quotation.
The abstract states convergence in the tabular setting, which this convex dual has.)

:func:`solve_soft_cmdp` solves the forward problem (an entropy-regularized CMDP) by its
Lagrangian dual: a root of the constraint in :math:`\lambda` for one constraint, L-BFGS-B
otherwise.

References
----------
.. [1] B. D. Ziebart, J. A. Bagnell, A. K. Dey, "Modeling Interaction via the Principle of
   Maximum Causal Entropy", ICML 2010 (the MCE dual and its gradient, the difference of
   feature expectations). The full text was not retrievable with the tools available here,
   so no theorem number is quoted; the dual above is derived in this docstring (see also
   B. D. Ziebart, PhD thesis, Carnegie Mellon University, 2010).
.. [2] M. Baert, P. Mazzaglia, S. Leroux, P. Simoens, "Maximum Causal Entropy Inverse
   Constrained Reinforcement Learning", arXiv:2305.02857, 2023 (Machine Learning 114, 2025).
.. [3] B. Zhu, M. I. Jordan, J. Jiao, "Principled Reinforcement Learning with Human Feedback
   from Pairwise or K-wise Comparisons", ICML 2023 (abstract: unifies RLHF and max-entropy
   IRL and gives the first sample complexity bound for max-entropy IRL; not used here
   beyond the exact-gradient setting).
.. [4] B. O'Donoghue, E. Candès, "Adaptive restart for accelerated gradient schemes",
   Found. Comput. Math. 15, 2015 (gradient restart).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .. import _validation as V
from ..evaluation import occupancy_measure
from ..exceptions import ConvergenceError, ConvergenceWarning
from ..mdp import EpisodicMDP, FiniteMDP
from ..regularizers import Regularizer, Shannon
from .identifiability import _check_model, _greedy_at_q

__all__ = [
    "MCEResult",
    "SoftCMDPSolution",
    "feature_expectation",
    "mce_icrl",
    "mce_irl",
    "solve_soft_cmdp",
    "tabular_features",
]

_EPS = float(np.finfo(np.float64).eps)


# ------------------------------------------------------------------------------ helpers


def _occ_shape(mdp) -> tuple[int, ...]:
    return (mdp.H, mdp.S, mdp.A) if isinstance(mdp, EpisodicMDP) else (mdp.S, mdp.A)


def tabular_features(mdp: FiniteMDP | EpisodicMDP) -> np.ndarray:
    r"""One-hot features :math:`\varphi(s,a) = e_{(s,a)}`, shape ``(S, A, S*A)``, so that
    :math:`r_\theta = \theta` reshaped ``(S, A)`` (stationary, also for episodic models)."""
    _check_model(mdp, "tabular_features")
    S, A = mdp.S, mdp.A
    return np.eye(S * A).reshape(S, A, S * A)


def _features(mdp, features, name: str = "features") -> np.ndarray:
    """Features as ``(S, A, d)`` or, episodic time-indexed, ``(H, S, A, d)``."""
    if features is None:
        return tabular_features(mdp)
    arr = V.as_float_array(name, features, (2, 3, 4))
    S, A = mdp.S, mdp.A
    if arr.ndim == 2:
        V.check_shape(name, arr, (S, A), "(states, actions) for a single feature")
        arr = arr[:, :, None]
    if arr.ndim == 4:
        if not isinstance(mdp, EpisodicMDP):
            raise ValueError(f"{name} of shape {arr.shape}: time-indexed features (H, S, A, d) "
                             "need an EpisodicMDP")
        V.check_shape(name, arr, (mdp.H, S, A, arr.shape[-1]), "(steps, states, actions, d)")
    else:
        V.check_shape(name, arr, (S, A, arr.shape[-1]), "(states, actions, d)")
    if arr.shape[-1] == 0:
        raise ValueError(f"{name} must have at least one feature, got shape {arr.shape}")
    V.check_finite(name, arr)
    return arr


def _occupancy(mdp, d, name: str = "expert_occupancy") -> np.ndarray:
    arr = V.as_float_array(name, d, len(_occ_shape(mdp)))
    V.check_shape(name, arr, _occ_shape(mdp), "(occupancy)")
    V.check_finite(name, arr)
    if np.any(arr < 0):
        idx = np.unravel_index(int(np.argmin(arr)), arr.shape)
        raise ValueError(f"{name}[{', '.join(map(str, idx))}] = {arr[idx]:.6g} is negative")
    return arr


def feature_expectation(mdp: FiniteMDP | EpisodicMDP, features, occupancy) -> np.ndarray:
    r""":math:`\mu = \sum_{s,a} d(s,a)\,\varphi(s,a)` (episodic: summed over steps ``h``).

    ``features`` ``(S, A, d)`` (or ``(H, S, A, d)``; ``None`` for one-hot); ``occupancy``
    ``(S, A)`` (``(H, S, A)``).
    """
    _check_model(mdp, "feature_expectation")
    Phi = _features(mdp, features)
    d = _occupancy(mdp, occupancy, "occupancy")
    return _expect(Phi, d)


def _expect(Phi: np.ndarray, d: np.ndarray) -> np.ndarray:
    if d.ndim == 3 and Phi.ndim == 3:
        return np.einsum("sak,sa->k", Phi, d.sum(axis=0))
    if d.ndim == 3:
        return np.einsum("hsak,hsa->k", Phi, d)
    return np.einsum("sak,sa->k", Phi, d)


def _reward_of(Phi: np.ndarray, theta: np.ndarray, base) -> np.ndarray:
    r = Phi @ theta
    return r if base is None else base + r


def _episodic_with_reward(mdp: EpisodicMDP, r: np.ndarray) -> EpisodicMDP:
    P = list(mdp.P) if isinstance(mdp.P, tuple) else mdp.P
    return EpisodicMDP(P, r, mdp.H, mdp.mu)


def _vi_tol(mdp: FiniteMDP, reg: Regularizer) -> float:
    scale = (mdp.r_absmax + reg.tau * (1.0 + np.log(mdp.A))) / (1.0 - mdp.gamma)
    rel = max(1e-13, 1e3 * (2 * mdp.S + mdp.A + 8) * _EPS / (1.0 - mdp.gamma))
    return rel * max(scale, 1e-300)


class _SoftSolver:
    """Soft-optimal policy, value ``mu^T v*`` (normalized) for a reward, warm-started."""

    def __init__(self, mdp, reg: Regularizer):
        self.mdp, self.reg, self.v = mdp, reg, None

    def __call__(self, r: np.ndarray, tol: float | None = None):
        """Solve for reward ``r``; ``tol`` (discounted) loosens the certified value tolerance
        (never below the default :func:`_vi_tol`)."""
        from ..planning.soft_dp import soft_backward_induction, soft_value_iteration

        mdp = self.mdp
        if isinstance(mdp, EpisodicMDP):
            m = _episodic_with_reward(mdp, r)
            sol = soft_backward_induction(m, self.reg)
            return m, sol, float(mdp.mu @ sol.v[0])
        m = mdp.with_reward(r)
        floor = _vi_tol(m, self.reg)
        tol = floor if tol is None else max(floor, tol)
        sol = soft_value_iteration(m, self.reg, tol=tol, v0=self.v)
        self.v = np.array(sol.v)
        sol = _greedy_at_q(sol, self.reg, m.gamma)
        return m, sol, (1.0 - mdp.gamma) * float(mdp.mu @ sol.v)


def _default_occupancy(m, policy) -> np.ndarray:
    return occupancy_measure(m, policy)


# ---------------------------------------------------------------------------- MCE IRL


@dataclass(frozen=True, slots=True, repr=False)
class MCEResult:
    r"""Result of :func:`mce_irl` / :func:`mce_icrl`.

    Attributes
    ----------
    theta : ndarray (d,)
        Learned weights (:func:`mce_icrl`: the cost weights :math:`\omega \ge 0`).
    reward : ndarray
        Learned reward :math:`r_\theta` (``(S, A)``; ``(H, S, A)`` for time-indexed
        features); for :func:`mce_icrl`, :math:`r - \omega^\top\psi`.
    cost : ndarray or None
        :func:`mce_icrl`: the learned cost :math:`\omega^\top\psi`; ``None`` otherwise.
    policy : ndarray
        Soft-optimal policy of ``reward`` (``(S, A)`` or ``(H, S, A)``).
    occupancy : ndarray
        Its occupancy (normalized discounted, or per step).
    feature_expectation, expert_feature_expectation : ndarray (d,)
    residual : float
        Feature-matching residual :math:`\|\mu_E - \mu_\theta\|_1` (for :func:`mce_icrl`
        the projected-gradient residual :math:`\|\omega - [\omega + \mu^\psi_\omega -
        \mu^\psi_E]_+\|_1`, zero exactly at a KKT point).
    iterations : int
    converged : bool
    history : ndarray
        Residual at every iteration.
    step_size : float
    message : str
    solution : Solution
        The last soft-optimal solve (its ``error_bound`` certifies the value).
    """

    theta: np.ndarray
    reward: np.ndarray
    cost: np.ndarray | None
    policy: np.ndarray
    occupancy: np.ndarray
    feature_expectation: np.ndarray
    expert_feature_expectation: np.ndarray
    residual: float
    iterations: int
    converged: bool
    history: np.ndarray
    step_size: float
    message: str
    solution: object

    def __repr__(self) -> str:
        return (f"MCEResult(residual={self.residual:.3g}, iterations={self.iterations}, "
                f"converged={self.converged})")


def _dual_ascent(mdp, Phi, mu_E, *, reg, base, nonnegative, step_size, tol, max_iter,
                 theta0, strict, occupancy_fn, accelerate, method):
    """Accelerated (projected) gradient ascent on the MCE dual: the step direction is
    ``mu_E - mu_theta`` for reward ``base + Phi theta``."""
    d = Phi.shape[-1]
    if theta0 is None:
        theta = np.zeros(d)
    else:
        theta = V.as_float_array("theta0", theta0, 1)
        V.check_shape("theta0", theta, (d,), "(one weight per feature)")
        V.check_finite("theta0", theta)
        if nonnegative:
            theta = np.maximum(theta, 0.0)
    Phi_max = float(np.sqrt((Phi ** 2).sum(axis=-1)).max())
    if step_size is None:
        if Phi_max == 0:
            raise ValueError("all features are zero: nothing to learn")
        if isinstance(mdp, EpisodicMDP):
            step_size = reg.tau / (mdp.H ** 2 * Phi_max ** 2)
        else:
            step_size = reg.tau * (1.0 - mdp.gamma) / Phi_max ** 2
    step_size = V.check_real_scalar("step_size", step_size, 0.0, np.inf, lo_open=True)
    tol = V.check_real_scalar("tol", tol, 0.0, np.inf, lo_open=True)
    max_iter = V.check_positive_int("max_iter", max_iter)
    occ = occupancy_fn or _default_occupancy
    solve = _SoftSolver(mdp, reg)
    project = (lambda x: np.maximum(x, 0.0)) if nonnegative else (lambda x: x)

    # Inexact inner solves: a certified value error e moves the greedy policy by at most
    # 2 gamma e / tau and the feature expectation by at most Phi 2 gamma e / (tau (1-gamma)),
    # so e = 1e-3 * tau (1-gamma) * (residual) / Phi keeps the gradient error three orders
    # below the current residual; a stop is only accepted after a full-accuracy solve.
    inner_scale = 0.0 if isinstance(mdp, EpisodicMDP) else \
        1e-3 * reg.tau * (1.0 - mdp.gamma) / max(Phi_max, 1e-300)

    def evaluate(y, inner):
        r = _reward_of(Phi, y, base)
        m, sol, _ = solve(r, inner)
        dk = np.asarray(occ(m, np.asarray(sol.policy)), dtype=np.float64)
        mu = _expect(Phi, dk)
        g = mu_E - mu  # ascent direction of the dual
        stepped = project(y + step_size * g)
        res = float(np.abs(stepped - y).sum() / step_size) if nonnegative \
            else float(np.abs(g).sum())
        return m, sol, dk, mu, g, stepped, res

    y, theta_prev, t = theta.copy(), theta.copy(), 1.0
    hist: list[float] = []
    converged = False
    inner = None
    k = 0
    for k in range(1, max_iter + 1):
        theta = y  # the point whose policy and residual are reported
        m, sol, dk, mu, g, stepped, res = evaluate(y, inner)
        if res <= tol and inner is not None and np.isfinite(res):
            inner = None  # confirm with a solve at full accuracy before stopping
            m, sol, dk, mu, g, stepped, res = evaluate(y, None)
        hist.append(res)
        if not np.isfinite(res):
            break
        if res <= tol:
            converged = True
            break
        inner = inner_scale * res if inner_scale > 0 else None
        theta_new = stepped
        if accelerate:
            if float(g @ (theta_new - theta_prev)) < 0.0:  # O'Donoghue-Candes gradient restart
                t = 1.0
            t_new = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
            y = project(theta_new + ((t - 1.0) / t_new) * (theta_new - theta_prev))
            t = t_new
        else:
            y = theta_new
        theta_prev = theta_new
    r = _reward_of(Phi, theta, base)
    if not converged:
        # report at the last evaluated point
        msg = (f"{method} stopped at max_iter={k} with feature-matching residual "
               f"{hist[-1] if hist else float('nan'):.3g} > tol={tol:g}; raise max_iter, "
               "check the expert occupancy (is it realizable?) or loosen tol")
        if strict:
            raise ConvergenceError(msg)
        warnings.warn(msg, ConvergenceWarning, stacklevel=3)
    else:
        msg = f"feature-matching residual {hist[-1]:.3g} <= tol={tol:g} after {k} iterations"
    return theta, r, m, sol, dk, mu, hist, k, converged, step_size, msg


def mce_irl(mdp: FiniteMDP | EpisodicMDP, expert_occupancy, features=None, *,
            reg: Regularizer | None = None, step_size: float | None = None, tol: float = 1e-8,
            max_iter: int = 20_000, theta0=None, accelerate: bool = True, strict: bool = False,
            occupancy_fn: Callable | None = None) -> MCEResult:
    r"""Maximum causal entropy IRL by dual ascent with exact soft planning.

    .. math::

        \theta_{k+1} = \theta_k + \eta\,(\mu_E - \mu_{\theta_k}), \qquad
        \mu_\theta = \sum_{s,a} d^{\pi_\theta}(s,a)\varphi(s,a), \quad
        \pi_\theta = \mathcal G_\Omega\big(q^*_\Omega(\theta^\top\varphi)\big)

    (Nesterov-accelerated with gradient restart when ``accelerate``), stopping when
    :math:`\|\mu_E - \mu_\theta\|_1 \le` ``tol`` (Ziebart, Bagnell, Dey 2010).

    Parameters
    ----------
    mdp : FiniteMDP or EpisodicMDP
        Its reward is ignored.
    expert_occupancy : array_like
        Expert's normalized occupancy ``(S, A)`` (episodic ``(H, S, A)``), e.g.
        :func:`tabular_rl.occupancy_measure` of the expert policy or an empirical estimate.
    features : array_like, optional
        ``(S, A, d)`` (episodic also ``(H, S, A, d)``); default one-hot
        (:func:`tabular_features`).
    reg : Regularizer
        Default ``Shannon(1.0)`` (maximum causal entropy with temperature 1).
    step_size : float, optional
        Default :math:`\tau(1-\gamma)/\Phi^2` (episodic :math:`\tau/(H^2\Phi^2)`), the
        inverse smoothness bound (module docstring).
    tol : float
        Stop when the feature-matching residual is at most ``tol``.
    max_iter : int
        Iteration cap: hitting it warns (:class:`~tabular_rl.ConvergenceWarning`) or raises
        (:class:`~tabular_rl.ConvergenceError`) when ``strict``.
    theta0 : array_like (d,), optional
    accelerate : bool
    occupancy_fn : callable, optional
        ``occupancy_fn(mdp_with_reward, policy) -> occupancy``: the learner's occupancy
        (default exact :func:`~tabular_rl.occupancy_measure`; plug in a Monte Carlo estimate
        for sample-based MCE IRL).

    Returns
    -------
    MCEResult

    Raises
    ------
    ValueError
        Wrong shapes, negative or non-finite occupancy, non-positive step or tolerance.

    Examples
    --------
    >>> import numpy as np
    >>> from tabular_rl import FiniteMDP, Shannon, occupancy_measure, soft_value_iteration
    >>> P = np.array([[[0.9, 0.1], [0.1, 0.9]], [[0.5, 0.5], [0.2, 0.8]]])
    >>> expert = FiniteMDP(P, [[1.0, 0.0], [0.0, 0.5]], gamma=0.8)
    >>> d_E = occupancy_measure(expert, soft_value_iteration(expert, Shannon(1.0)).policy)
    >>> res = mce_irl(expert, d_E, tol=1e-9)
    >>> res.converged, bool(np.abs(res.occupancy - d_E).sum() <= 1e-9)
    (True, True)
    """
    _check_model(mdp, "mce_irl")
    reg = Shannon(1.0) if reg is None else reg
    if not isinstance(reg, Regularizer):
        raise TypeError(f"reg must be a regularizer, got {type(reg).__name__}")
    Phi = _features(mdp, features)
    d_E = _occupancy(mdp, expert_occupancy)
    mu_E = _expect(Phi, d_E)
    theta, r, m, sol, dk, mu, hist, k, conv, eta, msg = _dual_ascent(
        mdp, Phi, mu_E, reg=reg, base=None, nonnegative=False, step_size=step_size,
        tol=tol, max_iter=max_iter, theta0=theta0, strict=strict, occupancy_fn=occupancy_fn,
        accelerate=accelerate, method="mce_irl")
    return MCEResult(theta=theta, reward=r, cost=None, policy=np.asarray(sol.policy),
                     occupancy=dk, feature_expectation=mu, expert_feature_expectation=mu_E,
                     residual=hist[-1], iterations=k, converged=conv, history=np.array(hist),
                     step_size=eta, message=msg, solution=sol)


def mce_icrl(mdp: FiniteMDP | EpisodicMDP, expert_occupancy, cost_features=None, *,
             reg: Regularizer | None = None, step_size: float | None = None,
             tol: float = 1e-8, max_iter: int = 20_000, omega0=None, accelerate: bool = True,
             strict: bool = False, occupancy_fn: Callable | None = None) -> MCEResult:
    r"""Maximum causal entropy inverse *constrained* RL: learn a cost from a constrained expert.

    The reward ``mdp.r`` is known. Projected (accelerated) gradient descent on the dual
    :math:`\min_{\omega\ge0}(1-\gamma)\mu^\top v^*_\tau(r - \omega^\top\psi) +
    \omega^\top\mu^\psi_E`:

    .. math::

        \omega_{k+1} = \big[\omega_k + \eta\,(\mu^\psi_{\omega_k} - \mu^\psi_E)\big]_+,
        \qquad \pi_\omega = \mathcal G_\Omega\big(q^*_\Omega(r - \omega^\top\psi)\big),

    stopping when the projected-gradient residual is at most ``tol`` (module docstring;
    Baert et al. 2023). The learned cost :math:`c_\omega = \omega^\top\psi` and the policy
    :math:`\pi_\omega` satisfy the KKT conditions of the constrained max-causal-entropy
    problem with thresholds :math:`\mu^\psi_E`.

    Parameters
    ----------
    cost_features : array_like
        ``(S, A, K)`` (or ``(S, A)`` for one cost feature; default one-hot).
    omega0 : array_like (K,), optional
        Initial cost weights (projected onto :math:`\omega \ge 0`).

    Other parameters as in :func:`mce_irl`.

    Returns
    -------
    MCEResult
        ``theta`` is :math:`\omega`, ``cost`` :math:`\omega^\top\psi`, ``reward``
        :math:`r - \omega^\top\psi`.
    """
    _check_model(mdp, "mce_icrl")
    reg = Shannon(1.0) if reg is None else reg
    if not isinstance(reg, Regularizer):
        raise TypeError(f"reg must be a regularizer, got {type(reg).__name__}")
    Psi = _features(mdp, cost_features, "cost_features")
    d_E = _occupancy(mdp, expert_occupancy)
    mu_E = _expect(Psi, d_E)
    base = np.asarray(mdp.r, dtype=np.float64)
    if base.ndim == 3 and Psi.ndim == 3:
        Psi_use = np.broadcast_to(Psi, (mdp.H,) + Psi.shape)
    else:
        Psi_use = Psi
    # descend on omega: reward = r - Psi omega, i.e. features -Psi with theta = omega
    omega, r, m, sol, dk, mu_neg, hist, k, conv, eta, msg = _dual_ascent(
        mdp, -Psi_use, -mu_E, reg=reg, base=base, nonnegative=True,
        step_size=step_size, tol=tol, max_iter=max_iter, theta0=omega0, strict=strict,
        occupancy_fn=occupancy_fn, accelerate=accelerate, method="mce_icrl")
    cost = Psi_use @ omega
    return MCEResult(theta=omega, reward=r, cost=cost, policy=np.asarray(sol.policy),
                     occupancy=dk, feature_expectation=-mu_neg, expert_feature_expectation=mu_E,
                     residual=hist[-1], iterations=k, converged=conv, history=np.array(hist),
                     step_size=eta, message=msg, solution=sol)


# ------------------------------------------------------------------- soft constrained MDP


@dataclass(frozen=True, slots=True, repr=False)
class SoftCMDPSolution:
    r"""Optimum of an entropy-regularized constrained MDP (:func:`solve_soft_cmdp`).

    Attributes
    ----------
    policy : ndarray
        :math:`\pi^* = \mathcal G_\Omega(q^*_\Omega(r - \lambda^{*\top}c))`.
    multipliers : ndarray (K,)
        :math:`\lambda^* \ge 0`.
    occupancy : ndarray
        Normalized occupancy of ``policy``.
    costs : ndarray (K,)
        :math:`\langle d^*, c_k\rangle`.
    slacks : ndarray (K,)
        :math:`b_k - \langle d^*, c_k\rangle`.
    kkt_residual : float
        :math:`\max_k \max(-\text{slack}_k,\ |\min(\lambda_k, \text{slack}_k)|)`: zero
        exactly at a KKT point (sufficient here: strictly concave objective in the occupancy).
    iterations : int
    converged : bool
    """

    policy: np.ndarray
    multipliers: np.ndarray
    occupancy: np.ndarray
    costs: np.ndarray
    slacks: np.ndarray
    kkt_residual: float
    iterations: int
    converged: bool

    def __repr__(self) -> str:
        return (f"SoftCMDPSolution(multipliers={np.array2string(self.multipliers, precision=6)}"
                f", kkt_residual={self.kkt_residual:.3g})")


def _cost_arrays(cmdp) -> np.ndarray:
    """Costs as ``(K, S, A)`` or ``(K, H, S, A)`` matching the reward layout."""
    return np.asarray(cmdp.costs, dtype=np.float64)


def solve_soft_cmdp(cmdp, reg: Regularizer | None = None, *, tol: float = 1e-12,
                    max_iter: int = 500, strict: bool = False) -> SoftCMDPSolution:
    r"""Solve :math:`\max_\pi \langle d^\pi, r\rangle - \tau\,\mathbb E_{d^\pi}\Omega(\pi)`
    s.t. :math:`\langle d^\pi, c_k\rangle \le b_k` by its Lagrangian dual.

    .. math::

        \min_{\lambda\ge0}\ D(\lambda) = (1-\gamma)\,\mu^\top v^*_\Omega(r - \lambda^\top c)
        + \lambda^\top b, \qquad \nabla D(\lambda) = b - \big(\langle d^{\pi_\lambda}, c_k
        \rangle\big)_k

    (normalized occupancies as in :class:`~tabular_rl.occupancy.ConstrainedMDP`; episodic:
    :math:`\mu^\top V_0^*`). One constraint: Brent's root of the nonincreasing
    :math:`\lambda \mapsto \langle d^{\pi_\lambda}, c\rangle - b` (``xtol = tol``); several:
    L-BFGS-B with the exact gradient, polished by projected Newton steps on the active
    constraints (Hessian by forward differences) until the KKT residual is at most ``tol``.
    Strong duality holds (Slater) whenever some policy is strictly feasible (Altman 1999,
    Thm. 3.6; Paternain et al., "Constrained Reinforcement Learning Has Zero Duality Gap",
    NeurIPS 2019).

    Parameters
    ----------
    cmdp : ConstrainedMDP
    reg : Regularizer
        Default ``Shannon(1.0)``.
    tol : float
        Root / gradient tolerance.
    max_iter : int
    strict : bool
        Raise :class:`~tabular_rl.ConvergenceError` instead of warning.

    Raises
    ------
    ValueError
        When the constraint cannot be met (the cost stays above the threshold as
        :math:`\lambda` grows to :math:`10^{15}` times the reward-to-cost scale).
    """
    import scipy.optimize as so

    from ..occupancy.cmdp import ConstrainedMDP

    if not isinstance(cmdp, ConstrainedMDP):
        raise TypeError(f"solve_soft_cmdp needs a ConstrainedMDP, got {type(cmdp).__name__}")
    reg = Shannon(1.0) if reg is None else reg
    tol = V.check_real_scalar("tol", tol, 0.0, np.inf, lo_open=True)
    max_iter = V.check_positive_int("max_iter", max_iter)
    mdp = cmdp.mdp
    C = _cost_arrays(cmdp)
    b = np.asarray(cmdp.thresholds, dtype=np.float64)
    base = np.asarray(mdp.r, dtype=np.float64)
    solve = _SoftSolver(mdp, reg)
    n_eval = [0]

    def at(lam):
        n_eval[0] += 1
        r = base - np.tensordot(lam, C, axes=1)
        m, sol, val = solve(r)
        d = occupancy_measure(m, np.asarray(sol.policy))
        costs = np.array([float(np.sum(d * (ck if ck.ndim == d.ndim else ck[None])))
                          for ck in C])
        return sol, d, costs, val

    converged = True
    if cmdp.K == 1:
        sol, d, costs, _ = at(np.zeros(1))
        if costs[0] <= b[0]:
            lam = np.zeros(1)
        else:
            c_scale = max(float(np.abs(C).max()), 1e-300)
            hi = max(1.0, float(np.abs(base).max()) + reg.tau) / c_scale
            limit = 1e15 * hi
            while at(np.array([hi]))[2][0] > b[0]:
                hi *= 2.0
                if hi > limit:
                    raise ValueError(f"solve_soft_cmdp: the constraint <d, c_0> <= {b[0]:.6g} "
                                     "cannot be met (cost stays above the threshold for "
                                     f"lambda up to {hi:.3g}); the problem is infeasible")
            root, info = so.brentq(lambda x: at(np.array([x]))[2][0] - b[0], 0.0, hi,
                                   xtol=tol, rtol=4 * _EPS, maxiter=max_iter,
                                   full_output=True, disp=False)
            converged = bool(info.converged)
            lam = np.array([root])
            sol, d, costs, _ = at(lam)
    else:
        def fun(lam):
            _, _, costs, val = at(lam)
            return val + float(lam @ b), b - costs

        res = so.minimize(fun, np.zeros(cmdp.K), jac=True, method="L-BFGS-B",
                          bounds=[(0.0, None)] * cmdp.K,
                          options={"maxiter": max_iter, "gtol": tol, "ftol": 4 * _EPS})
        lam = np.maximum(res.x, 0.0)
        sol, d, costs, _ = at(lam)
        # polish: projected Newton steps on the KKT system of the active constraints, with
        # the dual Hessian -d costs / d lambda by forward differences (L-BFGS-B alone stalls
        # near 1e-7 because the dual values carry the soft solver's rounding)
        for _ in range(max(1, min(max_iter, 30))):
            slack = b - costs
            kkt = float(np.max(np.maximum(-slack, np.abs(np.minimum(lam, slack)))))
            if kkt <= tol:
                break
            act = (lam > 0) | (slack < 0)
            if not act.any():
                break
            idx = np.flatnonzero(act)
            J = np.empty((idx.size, idx.size))
            for j, kk in enumerate(idx):
                h = 1e-6 * (1.0 + lam[kk])
                e = np.zeros(cmdp.K)
                e[kk] = h
                J[:, j] = (at(lam + e)[2][idx] - costs[idx]) / h
            try:
                step = np.linalg.solve(J, b[idx] - costs[idx])
            except np.linalg.LinAlgError:
                break
            new = lam.copy()
            new[idx] = np.maximum(lam[idx] + step, 0.0)
            sol_n, d_n, costs_n, _ = at(new)
            slack_n = b - costs_n
            kkt_n = float(np.max(np.maximum(-slack_n, np.abs(np.minimum(new, slack_n)))))
            if kkt_n >= kkt:
                break
            lam, sol, d, costs = new, sol_n, d_n, costs_n
        slack = b - costs
        kkt = float(np.max(np.maximum(-slack, np.abs(np.minimum(lam, slack)))))
        converged = bool(res.success) or kkt <= tol
    slacks = b - costs
    kkt = float(np.max(np.maximum(-slacks, np.abs(np.minimum(lam, slacks)))))
    if not converged:
        msg = (f"solve_soft_cmdp did not converge after {n_eval[0]} soft solves; KKT residual "
               f"{kkt:.3g}")
        if strict:
            raise ConvergenceError(msg)
        warnings.warn(msg, ConvergenceWarning, stacklevel=2)
    pol = np.asarray(sol.policy)
    for arr in (lam, d, costs, slacks):
        arr.setflags(write=False)
    return SoftCMDPSolution(policy=pol, multipliers=lam, occupancy=d, costs=costs, slacks=slacks,
                            kkt_residual=kkt, iterations=n_eval[0], converged=converged)
