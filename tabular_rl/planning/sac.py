r"""Soft policy iteration (Soft Actor-Critic, tabular and exact) and the temperature as the
dual variable of an expected-entropy constraint.

**Soft policy iteration** (Haarnoja, Zhou, Abbeel, Levine 2018, Sec. 4.1). For a fixed
policy the soft Q-function is the fixed point of

.. math::

    \mathcal T^\pi Q(s,a) = r(s,a) + \gamma\,\mathbb E_{s'}\big[V(s')\big], \qquad
    V(s) = \mathbb E_{a\sim\pi}\big[Q(s,a) - \alpha\log\pi(a\mid s)\big]

(Lemma 1, *soft policy evaluation*: :math:`Q^{k+1} = \mathcal T^\pi Q^k` converges to
:math:`Q^\pi`), the improvement step is the information projection

.. math::

    \pi_{\text{new}}(\cdot\mid s) = \operatorname*{arg\,min}_{\pi'}
    D_{\mathrm{KL}}\Big(\pi'(\cdot\mid s)\,\Big\|\,
    \frac{\exp(Q^{\pi_{\text{old}}}(s,\cdot)/\alpha)}{Z^{\pi_{\text{old}}}(s)}\Big)
    = \operatorname{softmax}\big(Q^{\pi_{\text{old}}}(s,\cdot)/\alpha\big)

(tabular policy class, so the projection is exact), with
:math:`Q^{\pi_{\text{new}}}(s,a) \ge Q^{\pi_{\text{old}}}(s,a)` for all :math:`(s,a)`
(Lemma 2, *soft policy improvement*), and alternating the two converges to
:math:`\pi^*` with :math:`Q^{\pi^*}(s,a) \ge Q^{\pi}(s,a)` for every policy and pair
(Theorem 1, *soft policy iteration*).

**Convention mapping.** The paper writes the objective as
:math:`\sum_t \mathbb E[r(s_t,a_t) + \alpha\mathcal H(\pi(\cdot\mid s_t))]` (eq. 1) and then
drops :math:`\alpha` by scaling the reward by :math:`\alpha^{-1}`. This library keeps
:math:`\alpha` as the temperature of :class:`~tabular_rl.Shannon`: the regularized value
:math:`v^\pi_\Omega = (I-\gamma P_\pi)^{-1}(r_\pi + \alpha\mathcal H_\pi)` is SAC's soft
:math:`V` (entropy inside :math:`V`, not in the current step of :math:`Q`), and
:func:`~tabular_rl.soft_bellman.regularized_q_function` is SAC's soft :math:`Q`, so
:math:`Q^{\pi}_{\text{SAC}}[r/\alpha] = Q^{\pi}_{\text{Shannon}(\alpha)}[r]/\alpha`. The
regularized greedy step of :mod:`tabular_rl.planning.soft_dp` with ``Shannon(alpha)`` is
exactly the KL projection above, so :func:`tabular_rl.planning.soft_policy_iteration` *is*
SAC's soft policy iteration; this module only adds (i) a recorded trace of every iterate
with an injectable improvement step, to test Lemma 2, and (ii) the temperature adjustment.

**Temperature as a dual variable** (Haarnoja, Zhou, Hartikainen, Tucker, Ha, Tan, Kumar,
Zhu, Gupta, Abbeel, Levine, "Soft Actor-Critic Algorithms and Applications", arXiv
1812.05905, 2018, Sec. 5). The constrained problem is
:math:`\max_\pi \mathbb E_{\rho_\pi}[\sum_t r(s_t,a_t)]` subject to
:math:`\mathbb E_{(s_t,a_t)\sim\rho_\pi}[-\log\pi_t(a_t\mid s_t)] \ge \bar{\mathcal H}` for
all :math:`t`; the optimal dual variable solves (eq. 17)
:math:`\alpha^*_t = \arg\min_{\alpha_t}\mathbb E_{a_t\sim\pi^*_t}[-\alpha_t\log\pi^*_t(a_t\mid
s_t;\alpha_t) - \alpha_t\bar{\mathcal H}]`, and the practical algorithm descends
(eq. 18) :math:`J(\alpha) = \mathbb E_{a_t\sim\pi_t}[-\alpha\log\pi_t(a_t\mid s_t) -
\alpha\bar{\mathcal H}]`, whose gradient is :math:`\mathcal H(\pi_t) - \bar{\mathcal H}`:

.. math::

    \alpha_{k+1} = \max\big(0,\ \alpha_k - \eta\,(\mathcal H_k - \bar{\mathcal H})\big).

*Tabular analogue (our choice).* With one stationary temperature in a discounted MDP the
natural single constraint weights the per-step constraints by :math:`\gamma^t`:
:math:`\mathcal H(\pi) := \mathbb E_{s\sim d^\pi_\mu}[\mathcal H(\pi(\cdot\mid s))]
\ge \bar{\mathcal H}`, with :math:`d^\pi_\mu = (1-\gamma)\sum_t\gamma^t\Pr(s_t = \cdot)` the
normalized discounted state occupancy. Then the Lagrangian is exactly the entropy-regularized
return at temperature :math:`\alpha` minus :math:`\alpha\bar{\mathcal H}/(1-\gamma)`, the
dual function is :math:`g(\alpha) = \mu^\top v^*_\alpha - \alpha\bar{\mathcal
H}/(1-\gamma)`, and by the envelope theorem
:math:`g'(\alpha) = (\mathcal H(\pi^*_\alpha) - \bar{\mathcal H})/(1-\gamma)`: the update
above is exact projected gradient descent on the dual (step :math:`\eta/(1-\gamma)`).

*Monotonicity.* :math:`\mu^\top v^*_\alpha = \max_\pi \mu^\top v^\pi_0 + \alpha\,\mu^\top
(I-\gamma P_\pi)^{-1}\mathcal H_\pi` is a maximum of affine functions of :math:`\alpha`, so
convex; its derivative :math:`\mathcal H(\pi^*_\alpha)/(1-\gamma)` is therefore
nondecreasing in :math:`\alpha` (for every :math:`\mu`). That is what makes bisection in
:func:`constrained_entropy_solution` valid; the claim check also verifies it numerically.
In occupancy coordinates the constraint is a conditional entropy (concave in the occupancy
measure) and the objective is linear, so for :math:`\bar{\mathcal H} < \log A` (the uniform
policy is strictly feasible, Slater) there is no duality gap and
:math:`\pi^*_{\alpha^*}` solves the constrained problem.

References
----------
.. [1] T. Haarnoja, A. Zhou, P. Abbeel, S. Levine, "Soft Actor-Critic: Off-Policy Maximum
   Entropy Deep Reinforcement Learning with a Stochastic Actor", ICML 2018, Sec. 4.1,
   Lemma 1, Lemma 2, Theorem 1.
.. [2] T. Haarnoja et al., "Soft Actor-Critic Algorithms and Applications", arXiv
   1812.05905, 2018, Sec. 5 (eqs. 17-18).

Full texts: the abstracts and secondary descriptions were available; lemma/theorem numbers
and the form of eqs. 17-18 are as published (ICML 2018 paper; arXiv v2 of 1812.05905).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import xlogy

from .. import _validation as V
from ..bellman import _as_policy
from ..evaluation import evaluate_policy, q_function, state_occupancy
from ..exceptions import ConvergenceError, ConvergenceWarning
from ..mdp import FiniteMDP, require_finite_mdp
from ..regularizers import Shannon
from ..soft_bellman import evaluate_regularized_policy, regularized_q_function, soft_bellman
from ..solution import Solution
from .dp import policy_iteration
from .soft_dp import soft_policy_iteration

__all__ = [
    "ConstrainedEntropySolution",
    "DualTemperatureResult",
    "SoftPITrace",
    "constrained_entropy_solution",
    "dual_temperature_adjustment",
    "dual_temperature_step",
    "expected_entropy",
    "policy_entropy",
    "soft_improvement",
    "soft_optimal_policy",
    "soft_policy_iteration_trace",
    "soft_q_function",
]

_U = np.finfo(np.float64).eps / 2


def _check_alpha(alpha) -> float:
    return V.check_real_scalar("alpha", alpha, 0.0, np.inf)


# ----------------------------------------------------------------------------- entropy
def policy_entropy(pi) -> np.ndarray:
    r"""Shannon entropy (nats) of each row, :math:`\mathcal H(\pi(\cdot\mid s)) =
    -\sum_a \pi_a\log\pi_a`, shape ``pi.shape[:-1]``.

    Examples
    --------
    >>> import numpy as np
    >>> np.round(policy_entropy([[0.5, 0.5], [1.0, 0.0]]), 6)
    array([0.693147, 0.      ])
    """
    pi = np.asarray(pi, dtype=np.float64)
    return -xlogy(pi, pi).sum(axis=-1) + 0.0   # + 0.0 turns -0.0 into 0.0


def expected_entropy(mdp: FiniteMDP, pi, mu=None) -> float:
    r"""Occupancy-weighted policy entropy :math:`\mathbb E_{s\sim d^\pi_\mu}
    \mathcal H(\pi(\cdot\mid s))`, with :math:`d^\pi_\mu` the normalized discounted state
    occupancy (the tabular analogue of SAC's per-step constraint, see the module notes).
    Lies in :math:`[0, \log A]`.

    Examples
    --------
    >>> import numpy as np
    >>> from tabular_rl import FiniteMDP
    >>> mdp = FiniteMDP(np.ones((1, 2, 1)), [[0.0, 0.0]], gamma=0.5)
    >>> round(expected_entropy(mdp, [[0.5, 0.5]]), 6)
    0.693147
    """
    require_finite_mdp(mdp, "expected_entropy")
    pi = _as_policy(mdp, pi)
    d = state_occupancy(mdp, pi, mu)
    return float(np.clip(d @ policy_entropy(pi), 0.0, np.log(mdp.A)))


# ------------------------------------------------------------- soft policy iteration
def soft_q_function(mdp: FiniteMDP, pi, alpha: float) -> np.ndarray:
    r"""SAC's soft Q-function :math:`Q^\pi` (Haarnoja et al. 2018, Lemma 1), ``(S, A)``.

    .. math::

        Q^\pi = r + \gamma P V^\pi, \qquad
        V^\pi = (I - \gamma P_\pi)^{-1}\big(r_\pi + \alpha\mathcal H_\pi\big),

    the fixed point of soft policy evaluation, computed exactly by a linear solve
    (:func:`~tabular_rl.soft_bellman.regularized_q_function` with ``Shannon(alpha)``).
    ``alpha = 0`` gives the ordinary :math:`q^\pi`.
    """
    alpha = _check_alpha(alpha)
    if alpha == 0.0:
        return q_function(mdp, pi)
    return regularized_q_function(mdp, pi, Shannon(alpha))


def soft_improvement(q, alpha: float) -> np.ndarray:
    r"""SAC's policy improvement step (Haarnoja et al. 2018, eq. 4 and Lemma 2):
    :math:`\pi_{\text{new}}(\cdot\mid s) = \arg\min_{\pi'}\mathrm{KL}(\pi'\,\|\,
    e^{Q(s,\cdot)/\alpha}/Z(s)) = \operatorname{softmax}(Q(s,\cdot)/\alpha)`.

    ``alpha = 0`` gives its limit, the uniform distribution over the argmax set.

    Examples
    --------
    >>> import numpy as np
    >>> soft_improvement(np.log([[1.0, 3.0]]), 1.0).round(3).tolist()
    [[0.25, 0.75]]
    """
    alpha = _check_alpha(alpha)
    q = np.asarray(q, dtype=np.float64)
    if alpha > 0.0:
        return Shannon(alpha).greedy(q)
    top = q == q.max(axis=-1, keepdims=True)
    return top / top.sum(axis=-1, keepdims=True)


@dataclass(frozen=True, slots=True)
class SoftPITrace:
    """Every iterate of a soft policy iteration run.

    Attributes
    ----------
    policies : ndarray (K+1, S, A)
        :math:`\\pi_0, \\dots, \\pi_K`.
    q : ndarray (K+1, S, A)
        Soft Q-functions :math:`Q^{\\pi_k}` (exact).
    v : ndarray (K+1, S)
        Soft values :math:`V^{\\pi_k}`.
    converged : bool
    iterations : int
        ``K``, the number of improvement steps taken.
    error_bound : float
        Certified bound on :math:`\\|V^{\\pi_K} - V^*\\|_\\infty` (``inf`` when the trace
        was cut before converging).
    """

    policies: np.ndarray
    q: np.ndarray
    v: np.ndarray
    converged: bool
    iterations: int
    error_bound: float


def soft_policy_iteration_trace(mdp: FiniteMDP, alpha: float, *, pi0=None, tol: float = 1e-10,
                                max_iter: int = 1_000, improve: Callable | None = None,
                                strict: bool = False) -> SoftPITrace:
    r"""Soft policy iteration with every iterate recorded (Haarnoja et al. 2018, Thm. 1).

    .. math::

        Q_k = Q^{\pi_k}\ (\text{Lemma 1, exact}), \qquad
        \pi_{k+1} = \operatorname{softmax}(Q_k/\alpha)\ (\text{Lemma 2}).

    Same iteration as :func:`tabular_rl.planning.soft_policy_iteration` with
    ``Shannon(alpha)``; use that for the certified solution. This trace keeps
    :math:`(\pi_k, Q^{\pi_k}, V^{\pi_k})` for all :math:`k` so that Lemma 2's monotonicity
    :math:`Q^{\pi_{k+1}} \ge Q^{\pi_k}` can be checked, and takes the improvement step as an
    argument so that a test can break it.

    Parameters
    ----------
    mdp : FiniteMDP
    alpha : float
        Temperature, ``> 0``.
    pi0 : array_like (S, A), optional
        Initial policy (uniform by default).
    tol : float
        Stop when the certified bound :math:`\|V^* - V^{\pi_k}\|_\infty \le
        \max(T_\Omega V^{\pi_k} - V^{\pi_k})/(1-\gamma)` (plus rounding) is at most
        ``tol`` (absolute). (:math:`T_\Omega V^\pi \ge V^\pi`, and
        :math:`V^* \le T_\Omega V + \tfrac{\gamma}{1-\gamma}\max(T_\Omega V - V)`.)
    max_iter : int
        Cap on improvement steps; hitting it warns (or raises when ``strict``).
    improve : callable, optional
        ``improve(q, alpha) -> pi``; default :func:`soft_improvement`.
    """
    require_finite_mdp(mdp, "soft_policy_iteration_trace")
    alpha = V.check_real_scalar("alpha", alpha, 0.0, np.inf, lo_open=True)
    tol = V.check_real_scalar("tol", tol, 0.0, np.inf, lo_open=True)
    max_iter = V.check_positive_int("max_iter", max_iter)
    improve = improve or soft_improvement
    reg = Shannon(alpha)
    pi = (np.full((mdp.S, mdp.A), 1.0 / mdp.A) if pi0 is None
          else np.array(V.check_policy(pi0, mdp.S, mdp.A)))
    g = mdp.gamma
    pols, qs, vs = [], [], []
    bound = np.inf
    converged = False
    for k in range(max_iter + 1):
        v = evaluate_regularized_policy(mdp, pi, reg)
        Tv, _, q = soft_bellman(mdp, v, reg)   # q = r + gamma P V^{pi_k} = Q^{pi_k}
        pols.append(pi)
        qs.append(q)
        vs.append(v)
        d = Tv - v
        fp = (mdp.S + mdp.A + 8) * _U * (float(np.abs(q).max()) + float(np.abs(Tv).max()))
        # T_Omega V^pi >= T_{pi,Omega} V^pi = V^pi, so 0 <= V* - V^pi <= max(T V - V)/(1-g)
        bound = (max(float(d.max()), 0.0) + 2.0 * fp) / (1.0 - g)
        if bound <= tol:
            converged = True
            break
        if k == max_iter:
            break
        pi = np.asarray(improve(q, alpha), dtype=np.float64)
    if not converged:
        msg = (f"soft_policy_iteration_trace: {max_iter} improvement steps left the certified "
               f"bound at {bound:.3g} > tol={tol:g}")
        if strict:
            raise ConvergenceError(msg)
        warnings.warn(msg, ConvergenceWarning, stacklevel=2)
    return SoftPITrace(policies=np.array(pols), q=np.array(qs), v=np.array(vs),
                       converged=converged, iterations=len(pols) - 1,
                       error_bound=float(bound) if converged else np.inf)


def _value_scale(mdp: FiniteMDP, alpha: float) -> float:
    R = float(np.abs(mdp.r).max()) + alpha * float(np.log(mdp.A))
    return (R if R > 0 else 1.0) / (1.0 - mdp.gamma)


def soft_optimal_policy(mdp: FiniteMDP, alpha: float, *, rtol: float = 1e-11,
                        pi0=None) -> Solution:
    r"""The soft-optimal policy :math:`\pi^*_\alpha \propto \exp(Q^*_\alpha/\alpha)`
    (Haarnoja et al. 2018, Thm. 1), by :func:`~tabular_rl.planning.soft_policy_iteration`
    with ``Shannon(alpha)`` and certified tolerance ``rtol`` times the value scale
    :math:`(\|r\|_\infty + \alpha\log A)/(1-\gamma)`.

    ``alpha = 0`` returns the limit :math:`\alpha \to 0^+` of the *unregularized* optimal
    policies' support: Howard policy iteration, then the uniform policy over the actions
    whose :math:`q^*` is within the certified error of the maximum.
    """
    alpha = _check_alpha(alpha)
    if alpha == 0.0:
        sol = policy_iteration(mdp)
        q = np.asarray(sol.q)
        slack = 8 * (mdp.S + mdp.A + 4) * _U * _value_scale(mdp, 0.0) / (1.0 - mdp.gamma)
        top = q >= q.max(axis=1, keepdims=True) - slack
        pi = top / top.sum(axis=1, keepdims=True)
        return Solution(v=sol.v, q=sol.q, policy=pi, converged=sol.converged,
                        iterations=sol.iterations, residual=sol.residual,
                        error_bound=sol.error_bound, policy_gap_bound=sol.policy_gap_bound,
                        method="soft_optimal_policy[alpha=0]", message=sol.message)
    tol = rtol * _value_scale(mdp, alpha)
    return soft_policy_iteration(mdp, Shannon(alpha), tol=tol, pi0=pi0)


# ------------------------------------------------------------------ dual temperature
def dual_temperature_step(alpha: float, entropy: float, target: float,
                          step_size: float) -> float:
    r"""Projected dual gradient step on the temperature (Haarnoja et al., arXiv 1812.05905,
    eq. 18): :math:`\alpha \leftarrow \max(0, \alpha - \eta(\mathcal H - \bar{\mathcal H}))`.

    Entropy above the target lowers the temperature, entropy below raises it.

    Examples
    --------
    >>> dual_temperature_step(1.0, entropy=0.5, target=0.3, step_size=2.0)
    0.6
    """
    return max(0.0, alpha - step_size * (entropy - target))


@dataclass(frozen=True, slots=True)
class DualTemperatureResult:
    """The iterates of :func:`dual_temperature_adjustment`.

    Attributes
    ----------
    alphas : ndarray (K+1,)
        Temperatures :math:`\\alpha_0, \\dots, \\alpha_K`.
    entropies : ndarray (K+1,)
        :math:`\\mathcal H(\\pi_k) = \\mathbb E_{d^{\\pi_k}_\\mu}\\mathcal H(\\pi_k(\\cdot|s))`,
        :math:`\\pi_k` the (inner) policy at :math:`\\alpha_k`.
    returns : ndarray (K+1,)
        Unregularized return :math:`\\mu^\\top v^{\\pi_k}` (the constrained objective).
    soft_values : ndarray (K+1,)
        Soft value :math:`\\mu^\\top V^{\\pi_k}_{\\alpha_k}`.
    policy : ndarray (S, A)
        The last policy :math:`\\pi_K`.
    target : float
    converged : bool
        ``|H_K - target| <= tol`` (or ``alpha_K = 0`` with ``H_K >= target``: constraint
        inactive, complementary slackness).
    iterations : int
    """

    alphas: np.ndarray
    entropies: np.ndarray
    returns: np.ndarray
    soft_values: np.ndarray
    policy: np.ndarray
    target: float
    converged: bool
    iterations: int

    @property
    def alpha(self) -> float:
        return float(self.alphas[-1])

    @property
    def entropy_gap(self) -> float:
        """:math:`|\\mathcal H_K - \\bar{\\mathcal H}|`."""
        return float(abs(self.entropies[-1] - self.target))


def _check_target(mdp: FiniteMDP, target) -> float:
    hmax = float(np.log(mdp.A))
    target = V.check_real_scalar("target_entropy", target, -np.inf, np.inf, hi_open=True)
    if not target < hmax:
        raise ValueError(f"target_entropy must be < log A = {hmax:.6g} (the uniform policy must "
                         f"be strictly feasible), got {target!r}")
    return target


def dual_temperature_adjustment(mdp: FiniteMDP, target_entropy: float, *,
                                alpha0: float = 1.0, step_size: float | None = None,
                                max_iter: int = 500, tol: float = 1e-8,
                                inner_steps: int | None = None, mu=None,
                                update: Callable | None = None,
                                strict: bool = False) -> DualTemperatureResult:
    r"""Soft policy iteration alternated with dual gradient steps on the temperature.

    For :math:`k = 0, 1, \dots`: :math:`\pi_k` = the soft-optimal policy at :math:`\alpha_k`
    (``inner_steps=None``; warm-started soft PI to convergence) or ``inner_steps`` soft PI
    steps from :math:`\pi_{k-1}`; :math:`\mathcal H_k = \mathbb E_{d^{\pi_k}_\mu}
    \mathcal H(\pi_k(\cdot\mid s))`; then

    .. math::

        \alpha_{k+1} = \max\big(0,\ \alpha_k - \eta\,(\mathcal H_k - \bar{\mathcal H})\big)

    (Haarnoja et al., arXiv 1812.05905, Sec. 5, eq. 18). With exact inner solves this is
    projected gradient descent on the convex dual :math:`g(\alpha)` (module notes).

    Parameters
    ----------
    mdp : FiniteMDP
    target_entropy : float
        :math:`\bar{\mathcal H}` in nats, ``< log A``.
    alpha0 : float
        Initial temperature, ``>= 0``.
    step_size : float, optional
        :math:`\eta` (reward units per nat). Default: :math:`\|r\|_\infty` (1 when ``r = 0``).
        A fixed step converges (monotonically, in 1-d) when :math:`\eta \le 1/L`,
        :math:`L = \max\mathcal H'(\alpha)` over the range visited; larger steps can
        oscillate, and where :math:`\mathcal H` is exponentially flat near :math:`\alpha^*`
        (small :math:`\alpha^*`, large action gaps) any fixed step is slow.
    max_iter : int
        Dual steps; not reaching ``tol`` warns (or raises when ``strict``).
    tol : float
        Stop when :math:`|\mathcal H_k - \bar{\mathcal H}| \le` ``tol`` (nats).
    inner_steps : int, optional
        Number of soft PI steps per temperature (``None``: to convergence).
    mu : array_like (S,), optional
        Start distribution of the occupancy (default ``mdp.mu``).
    update : callable, optional
        ``update(alpha, entropy, target, step_size) -> alpha``; default
        :func:`dual_temperature_step`.

    Returns
    -------
    DualTemperatureResult
    """
    require_finite_mdp(mdp, "dual_temperature_adjustment")
    target = _check_target(mdp, target_entropy)
    alpha = _check_alpha(alpha0)
    R = float(np.abs(mdp.r).max())
    eta = (R if R > 0 else 1.0) if step_size is None else V.check_real_scalar(
        "step_size", step_size, 0.0, np.inf, lo_open=True)
    max_iter = V.check_positive_int("max_iter", max_iter)
    tol = V.check_real_scalar("tol", tol, 0.0, np.inf, lo_open=True)
    if inner_steps is not None:
        inner_steps = V.check_positive_int("inner_steps", inner_steps)
    mu = mdp.mu if mu is None else V.check_distribution("mu", mu, mdp.S)
    update = update or dual_temperature_step
    alphas, ents, rets, softs = [], [], [], []
    pi = None
    converged = False
    for k in range(max_iter + 1):
        if inner_steps is None or pi is None or alpha == 0.0:
            pi = np.asarray(soft_optimal_policy(mdp, alpha, pi0=pi).policy)
        else:
            for _ in range(inner_steps):
                pi = soft_improvement(soft_q_function(mdp, pi, alpha), alpha)
        H = expected_entropy(mdp, pi, mu)
        alphas.append(alpha)
        ents.append(H)
        rets.append(float(mu @ evaluate_policy(mdp, pi)))
        softs.append(float(mu @ (evaluate_regularized_policy(mdp, pi, Shannon(alpha))
                                 if alpha > 0 else evaluate_policy(mdp, pi))))
        if abs(H - target) <= tol or (alpha == 0.0 and H >= target):
            converged = True
            break
        if k == max_iter:
            break
        alpha = float(update(alpha, H, target, eta))
        if not np.isfinite(alpha) or alpha < 0.0:
            raise FloatingPointError(f"dual_temperature_adjustment: the temperature update "
                                     f"returned {alpha!r} at step {k}")
    if not converged:
        msg = (f"dual_temperature_adjustment: after {max_iter} dual steps the entropy gap is "
               f"{abs(ents[-1] - target):.3g} > tol={tol:g} (alpha={alphas[-1]:.6g}); "
               f"raise max_iter or adjust step_size")
        if strict:
            raise ConvergenceError(msg)
        warnings.warn(msg, ConvergenceWarning, stacklevel=2)
    return DualTemperatureResult(alphas=np.array(alphas), entropies=np.array(ents),
                                 returns=np.array(rets), soft_values=np.array(softs),
                                 policy=pi, target=target, converged=converged,
                                 iterations=len(alphas) - 1)


@dataclass(frozen=True, slots=True)
class ConstrainedEntropySolution:
    """Exact solution of :math:`\\max_\\pi \\mu^\\top v^\\pi` s.t.
    :math:`\\mathbb E_{d^\\pi_\\mu}\\mathcal H(\\pi) \\ge \\bar{\\mathcal H}`.

    Attributes
    ----------
    alpha : float
        Optimal dual variable :math:`\\alpha^*` (0 when the constraint is inactive).
    policy : ndarray (S, A)
        :math:`\\pi^*_{\\alpha^*}`.
    entropy : float
        Its expected entropy (equal to the target when :math:`\\alpha^* > 0`).
    value : float
        Its unregularized return :math:`\\mu^\\top v^{\\pi}`.
    bracket : tuple of float
        Final bisection bracket :math:`[\\alpha_{lo}, \\alpha_{hi}]`.
    """

    alpha: float
    policy: np.ndarray
    entropy: float
    value: float
    bracket: tuple[float, float]


def constrained_entropy_solution(mdp: FiniteMDP, target_entropy: float, *, mu=None,
                                 rtol: float = 1e-12, max_iter: int = 200,
                                 solver: Callable | None = None) -> ConstrainedEntropySolution:
    r"""The exact constrained optimum by bisection on :math:`\alpha`.

    :math:`\mathcal H(\alpha) := \mathbb E_{d^{\pi^*_\alpha}_\mu}\mathcal H(\pi^*_\alpha)` is
    nondecreasing in :math:`\alpha` (it is :math:`(1-\gamma)` times the derivative of the
    convex function :math:`\alpha \mapsto \mu^\top v^*_\alpha`, module notes), tends to
    :math:`\log A` as :math:`\alpha\to\infty`. If :math:`\mathcal H(0^+) \ge \bar{\mathcal H}`
    the constraint is inactive and :math:`\alpha^* = 0`; otherwise :math:`\alpha^*` solves
    :math:`\mathcal H(\alpha^*) = \bar{\mathcal H}`, found by doubling then bisection until
    the bracket's relative width is at most ``rtol``.

    Parameters
    ----------
    solver : callable, optional
        ``solver(mdp, alpha) -> policy (S, A)``; default :func:`soft_optimal_policy`.
    """
    require_finite_mdp(mdp, "constrained_entropy_solution")
    target = _check_target(mdp, target_entropy)
    mu = mdp.mu if mu is None else V.check_distribution("mu", mu, mdp.S)
    max_iter = V.check_positive_int("max_iter", max_iter)

    def policy_at(a):
        if solver is not None:
            return np.asarray(solver(mdp, a), dtype=np.float64)
        return np.asarray(soft_optimal_policy(mdp, a).policy)

    def finish(a, pi, bracket):
        return ConstrainedEntropySolution(alpha=float(a), policy=pi,
                                          entropy=expected_entropy(mdp, pi, mu),
                                          value=float(mu @ evaluate_policy(mdp, pi)),
                                          bracket=bracket)

    pi0 = policy_at(0.0)
    if expected_entropy(mdp, pi0, mu) >= target:
        return finish(0.0, pi0, (0.0, 0.0))
    R = float(np.abs(mdp.r).max())
    hi = R if R > 0 else 1.0
    lo = 0.0
    for _ in range(2000):
        if expected_entropy(mdp, policy_at(hi), mu) >= target:
            break
        lo, hi = hi, 2.0 * hi
    else:  # pragma: no cover - H(alpha) -> log A > target
        raise FloatingPointError("constrained_entropy_solution: could not bracket alpha*")
    for _ in range(max_iter):
        if hi - lo <= rtol * hi:
            break
        mid = 0.5 * (lo + hi)
        if expected_entropy(mdp, policy_at(mid), mu) >= target:
            hi = mid
        else:
            lo = mid
    a = 0.5 * (lo + hi)
    return finish(a, policy_at(a), (lo, hi))
