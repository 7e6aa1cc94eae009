r"""Exact softmax policy gradient and natural policy gradient, with and without entropy.

Tabular softmax parameterization: :math:`\theta \in \mathbb R^{S\times A}`,
:math:`\pi_\theta(a\mid s) = \exp\theta(s,a) / \sum_b \exp\theta(s,b)`. The objective is the
(entropy-regularized, temperature :math:`\tau \ge 0`) value from an initial distribution
:math:`\rho`,

.. math::

    \tilde V^{\pi}(\rho) = \mathbb E\Big[\sum_{t\ge 0}\gamma^t\big(r(s_t,a_t)
        - \tau\log\pi(a_t\mid s_t)\big)\Big], \qquad s_0\sim\rho,

which is :func:`tabular_rl.evaluate_regularized_policy` with ``Shannon(tau)`` (and the plain
value :math:`V^\pi(\rho)` for :math:`\tau = 0`).

**Softmax policy gradient** (Agarwal, Kakade, Lee, Mahajan, "On the Theory of Policy
Gradient Methods: Optimality, Approximation, and Distribution Shift", JMLR 22(98), 2021,
Lemma C.1 / eq. (9); Mei, Xiao, Szepesvári, Schuurmans, "On the Global Convergence Rates of
Softmax Policy Gradient Methods", ICML 2020, Lemma 1 and, with entropy, Lemma 10):

.. math::

    \frac{\partial \tilde V^{\pi_\theta}(\rho)}{\partial\theta(s,a)}
    = \frac{1}{1-\gamma}\, d^{\pi_\theta}_\rho(s)\,\pi_\theta(a\mid s)\,
      \tilde A^{\pi_\theta}(s,a),
    \qquad \tilde A(s,a) = \tilde Q(s,a) - \tau\log\pi_\theta(a\mid s) - \tilde V(s),

with :math:`\tilde Q = r + \gamma P\tilde V` and
:math:`d^\pi_\rho = (1-\gamma)\rho^\top(I-\gamma P_\pi)^{-1}`. Gradient ascent
:math:`\theta_{t+1} = \theta_t + \eta\nabla_\theta\tilde V^{\pi_{\theta_t}}(\mu)` with
:math:`\eta = (1-\gamma)^3/8` (Mei et al. 2020, Thm. 4, rewards in :math:`[0,1]`) or
:math:`\eta = (1-\gamma)^3/(8 + \tau(4 + 8\log A))` with entropy (Thm. 6). For rewards of
range :math:`R = \max r - \min r` the objective is :math:`R` times the one with rewards in
:math:`[0,1]` and temperature :math:`\tau/R`, so the default step is
:math:`(1-\gamma)^3/(8R + \tau(4 + 8\log A))` (:func:`mei_step_size`).

**Natural policy gradient** (Kakade 2001; Agarwal et al. 2021, Sec. 5.3 / Thm. 16 for
:math:`\tau = 0`; Cen, Cheng, Chen, Wei, Chi, "Fast Global Convergence of Natural Policy
Gradient Methods with Entropy Regularization", Operations Research 70(4), 2022, Sec. 3
and Thm. 1): for :math:`0 < \eta \le (1-\gamma)/\tau`,

.. math::

    \pi^{(t+1)}(a\mid s) \propto \pi^{(t)}(a\mid s)^{1 - \frac{\eta\tau}{1-\gamma}}
    \exp\Big(\frac{\eta\, Q_\tau^{\pi^{(t)}}(s,a)}{1-\gamma}\Big),

computed in log space (:math:`\log\pi' = (1-\alpha)\log\pi + \eta Q_\tau/(1-\gamma) -
\mathrm{logsumexp}`). With :math:`\tau = 0` it is the multiplicative-weights update
:math:`\pi' \propto \pi\exp(\eta Q^\pi/(1-\gamma))`, i.e. KL policy mirror descent.
:math:`\eta = (1-\gamma)/\tau` is soft policy iteration.

Everything is exact (linear solves, no sampling); the loops run over iterations only.
Probabilities are carried as log-probabilities normalized by a log-sum-exp, so logits of any
size (``1e300``) neither overflow nor produce NaN.

Source note: the search tool gave the abstracts of Mei et al. (arXiv 2005.06392) and Cen et
al. (arXiv 2007.06558) but not their theorem pages; the formulas, step sizes and theorem
numbers here are transcribed from the published papers as recalled and the gradient formulas
are verified numerically (complex-step and finite differences, see the tests and
:mod:`proofs_check.claims.softmax_pg`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .. import _validation as V
from ..bellman import _matvec
from ..evaluation import _solve
from ..exceptions import NumericalWarning
from ..mdp import FiniteMDP, require_finite_mdp

_U = float(np.finfo(np.float64).eps) / 2

__all__ = [
    "PGState",
    "PolicyGradientResult",
    "exact_gradient",
    "log_softmax",
    "mei_step_size",
    "natural_policy_gradient",
    "npg_update",
    "policy_gradient_state",
    "softmax",
    "softmax_pg_gradient",
    "softmax_policy_gradient",
    "softmax_policy_gradient_batch",
    "soft_optimum_tol",
]


# ----------------------------------------------------------------------------- helpers


def log_softmax(theta) -> np.ndarray:
    r"""Row-wise :math:`\log\operatorname{softmax}(\theta)`, stable for any finite logits.

    Examples
    --------
    >>> import numpy as np
    >>> log_softmax(np.array([[1e300, 0.0], [0.0, 0.0]])).round(6).tolist()
    [[0.0, -1e+300], [-0.693147, -0.693147]]
    """
    theta = np.asarray(theta, dtype=np.float64)
    m = theta.max(axis=-1, keepdims=True)
    z = theta - m
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def softmax(theta) -> np.ndarray:
    r"""Row-wise :math:`\operatorname{softmax}(\theta)` (via :func:`log_softmax`)."""
    return np.exp(log_softmax(theta))


def mei_step_size(mdp: FiniteMDP, tau: float = 0.0) -> float:
    r"""The step size of Mei et al. (2020), rescaled to the reward range of ``mdp``.

    .. math::

        \eta = \frac{(1-\gamma)^3}{8R + \tau(4 + 8\log A)}, \qquad R = \max r - \min r,

    which is :math:`(1-\gamma)^3/8` (Thm. 4) and :math:`(1-\gamma)^3/(8 + \tau(4+8\log A))`
    (Thm. 6) for rewards spanning :math:`[0, 1]`: one over the smoothness constant of
    :math:`\theta\mapsto\tilde V^{\pi_\theta}` (Mei et al.'s smoothness lemmas). A constant reward
    (:math:`R = 0`) counts as :math:`R = 1` when :math:`\tau = 0`.
    """
    tau = _check_tau(tau)
    R = float(np.ptp(mdp.r))
    if R == 0.0 and tau == 0.0:
        R = 1.0
    return (1.0 - mdp.gamma) ** 3 / (8.0 * R + tau * (4.0 + 8.0 * np.log(mdp.A)))


def _check_tau(tau) -> float:
    return V.check_real_scalar("tau", tau, 0.0, np.inf, hi_open=True)


def _check_rho(mdp: FiniteMDP, rho) -> np.ndarray:
    return np.asarray(mdp.mu if rho is None else V.check_distribution("rho", rho, mdp.S),
                      dtype=np.float64)


@dataclass(frozen=True)
class PGState:
    r"""Everything an exact policy-gradient step may use, for ``B`` models at once.

    Handed to the ``gradient`` hook of :func:`softmax_policy_gradient` and
    :func:`softmax_policy_gradient_batch` (arrays have a leading batch axis ``B``; ``B = 1``
    for a single model).

    Attributes
    ----------
    theta, pi, log_pi : ndarray (B, S, A)
        Logits, policy and its log (finite wherever the logits are).
    v : ndarray (B, S)
        Regularized value :math:`\tilde V^{\pi}`.
    q : ndarray (B, S, A)
        :math:`\tilde Q^{\pi} = r + \gamma P\tilde V^{\pi}`.
    adv : ndarray (B, S, A)
        Soft advantage :math:`\tilde Q - \tau\log\pi - \tilde V` (plain :math:`A^\pi` at
        :math:`\tau = 0`).
    d : ndarray (B, S)
        Normalized discounted state occupancy :math:`d^\pi_\rho`.
    gamma : ndarray (B,)
    tau : float
    """

    theta: np.ndarray
    pi: np.ndarray
    log_pi: np.ndarray
    v: np.ndarray
    q: np.ndarray
    adv: np.ndarray
    d: np.ndarray
    gamma: np.ndarray
    tau: float


def exact_gradient(state: PGState) -> np.ndarray:
    r"""The softmax policy gradient from a :class:`PGState`, ``(B, S, A)``:
    :math:`\frac{1}{1-\gamma} d^\pi_\rho(s)\,\pi(a\mid s)\,\tilde A(s,a)`."""
    # Where pi underflows to 0 the component is 0 (even if tau*|log pi| overflowed there).
    pa = np.multiply(state.pi, state.adv, where=state.pi > 0, out=np.zeros(state.pi.shape))
    return (state.d / (1.0 - state.gamma)[:, None])[:, :, None] * pa


def _entropy_term(pi: np.ndarray, log_pi: np.ndarray, tau: float) -> np.ndarray:
    r""":math:`\tau\sum_a \pi\log\pi` over the last axis, with :math:`0\log 0 = 0`."""
    if tau == 0.0:
        return np.zeros(pi.shape[:-1])
    return tau * np.multiply(pi, log_pi, where=pi > 0, out=np.zeros(pi.shape)).sum(axis=-1)


class _Models:
    """``B`` models evaluated together: a dense batch, or one CSR model (``B = 1``)."""

    def __init__(self, mdps: list[FiniteMDP]):
        first = mdps[0]
        self.S, self.A, self.B = first.S, first.A, len(mdps)
        for i, m in enumerate(mdps):
            if (m.S, m.A) != (self.S, self.A):
                raise ValueError(f"mdps[{i}] has (S, A) = ({m.S}, {m.A}); a batch needs every "
                                 f"model to have the shape of mdps[0], ({self.S}, {self.A})")
        self.sparse = first.is_sparse
        if self.sparse and self.B > 1:
            raise ValueError("a batch of models must be dense; run CSR models one at a time")
        self.mdps = mdps
        self.gamma = np.array([m.gamma for m in mdps])
        self.r = np.stack([m.r for m in mdps])
        if not self.sparse:
            P = np.stack([m.P for m in mdps])
            self._P_flat = P.reshape(self.B, self.S * self.A, self.S)
            # gamma * P arranged (B, S, A, S') so that pi (B,S,1,A) @ it is gamma P_pi.
            self._gP_sas = np.ascontiguousarray(self.gamma[:, None, None, None] * P)
            self._eye = np.eye(self.S)

    def evaluate(self, pi, log_pi, tau, rho):
        """``(v, q, d)`` of ``pi`` for every model: ``(B,S)``, ``(B,S,A)``, ``(B,S)``."""
        S, A, g = self.S, self.A, self.gamma
        b = np.einsum("bsa,bsa->bs", pi, self.r) - _entropy_term(pi, log_pi, tau)
        if self.sparse:
            m = self.mdps[0]
            w = sp.diags(pi[0].reshape(-1)) @ m.P
            agg = sp.csr_matrix((np.ones(S * A), (np.repeat(np.arange(S), A),
                                                  np.arange(S * A))), shape=(S, S * A))
            M = (sp.identity(S, format="csr") - m.gamma * (agg @ w)).tocsr()
            v = _solve(M, b[0])
            d = (1.0 - m.gamma) * _solve(M, rho[0], transpose=True)
            q = m.r + m.gamma * _matvec(m.P_flat, v).reshape(S, A)
            return v[None], q[None], d[None]
        M = self._eye - self._gP(pi)
        # One inverse serves both solves (exact PG is run on small S).
        Minv = np.linalg.inv(M)
        v = (Minv @ b[:, :, None])[:, :, 0]
        d = (1.0 - g)[:, None] * (rho[:, None, :] @ Minv)[:, 0, :]
        q = self.r + g[:, None, None] * (self._P_flat @ v[:, :, None]).reshape(self.B, S, A)
        return v, q, d

    def _gP(self, pi):
        r""":math:`\gamma P_\pi`, ``(B, S, S)``."""
        return (pi[:, :, None, :] @ self._gP_sas)[:, :, 0, :]


def _state(models: _Models, theta, tau, rho) -> tuple[PGState, np.ndarray]:
    log_pi = log_softmax(theta)
    pi = np.exp(log_pi)
    v, q, d = models.evaluate(pi, log_pi, tau, rho)
    adv = q - v[:, :, None]
    if tau > 0.0:
        adv = adv - tau * log_pi
    st = PGState(theta=theta, pi=pi, log_pi=log_pi, v=v, q=q, adv=adv, d=d,
                 gamma=models.gamma, tau=tau)
    return st, np.einsum("bs,bs->b", rho, v)


def softmax_pg_gradient(mdp: FiniteMDP, theta, *, tau: float = 0.0, rho=None) -> np.ndarray:
    r"""Exact gradient of :math:`\theta\mapsto\tilde V^{\pi_\theta}(\rho)` for softmax policies.

    .. math::

        \frac{\partial \tilde V^{\pi_\theta}(\rho)}{\partial\theta(s,a)}
        = \frac{1}{1-\gamma}\, d^{\pi_\theta}_\rho(s)\,\pi_\theta(a\mid s)
        \big(\tilde Q^{\pi_\theta}(s,a) - \tau\log\pi_\theta(a\mid s)
        - \tilde V^{\pi_\theta}(s)\big)

    (Agarwal et al. 2021, Lemma C.1; Mei et al. 2020, Lemma 1, and Lemma 10 for
    :math:`\tau > 0`).

    Parameters
    ----------
    mdp : FiniteMDP
    theta : array_like (S, A)
        Logits; any finite values.
    tau : float
        Entropy temperature (0: unregularized).
    rho : array_like (S,), optional
        Initial distribution of the objective (default ``mdp.mu``).

    Returns
    -------
    ndarray (S, A)

    Examples
    --------
    >>> import numpy as np
    >>> from tabular_rl import FiniteMDP
    >>> bandit = FiniteMDP(np.ones((1, 2, 1)), [[1.0, 0.0]], gamma=0.0)
    >>> softmax_pg_gradient(bandit, np.zeros((1, 2))).tolist()   # pi(a) (r(a) - pi.r)
    [[0.25, -0.25]]
    """
    require_finite_mdp(mdp, "softmax_pg_gradient")
    theta = _check_theta(mdp, theta)
    tau = _check_tau(tau)
    rho = _check_rho(mdp, rho)
    st, _ = _state(_Models([mdp]), theta[None], tau, rho[None])
    return exact_gradient(st)[0]


def policy_gradient_state(mdp: FiniteMDP, theta, *, tau: float = 0.0, rho=None) -> PGState:
    """The :class:`PGState` (batch of one) of the softmax policy with logits ``theta``."""
    require_finite_mdp(mdp, "policy_gradient_state")
    theta = _check_theta(mdp, theta)
    st, _ = _state(_Models([mdp]), theta[None], _check_tau(tau), _check_rho(mdp, rho)[None])
    return st


def _check_theta(mdp: FiniteMDP, theta) -> np.ndarray:
    theta = V.as_float_array("theta", theta, 2)
    V.check_shape("theta", theta, (mdp.S, mdp.A), "(states, actions)")
    V.check_finite("theta", theta)
    return theta


def npg_update(mdp: FiniteMDP, log_pi, q, *, eta: float, tau: float = 0.0) -> np.ndarray:
    r"""One (entropy-regularized) NPG step in log space (Cen et al. 2022, Sec. 3).

    .. math::

        \log\pi'(a\mid s) = \Big(1-\frac{\eta\tau}{1-\gamma}\Big)\log\pi(a\mid s)
        + \frac{\eta}{1-\gamma} Q_\tau(s,a) - \log Z(s).

    ``q`` is :math:`Q_\tau^{\pi}` (:func:`tabular_rl.regularized_q_function`; the plain
    :math:`Q^\pi` when ``tau == 0``). Entries of ``log_pi`` equal to ``-inf`` stay ``-inf``
    (zero probability is absorbing for the update, as in the multiplicative form).

    Examples
    --------
    >>> import numpy as np
    >>> from tabular_rl import FiniteMDP
    >>> bandit = FiniteMDP(np.ones((1, 2, 1)), [[1.0, 0.0]], gamma=0.0)
    >>> lp = npg_update(bandit, np.log([[0.5, 0.5]]), np.array([[1.0, 0.0]]), eta=np.log(3))
    >>> np.exp(lp).round(6).tolist()                        # pi' ∝ pi * 3**q
    [[0.75, 0.25]]
    """
    g = mdp.gamma
    alpha = eta * tau / (1.0 - g)
    log_pi = np.asarray(log_pi, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        base = log_pi if alpha == 0.0 else np.where(np.isneginf(log_pi), -np.inf,
                                                    (1.0 - alpha) * log_pi)
    return log_softmax(base + (eta / (1.0 - g)) * np.asarray(q, dtype=np.float64))


# ------------------------------------------------------------------------------ result


@dataclass(frozen=True)
class PolicyGradientResult:
    r"""Iterates of an exact policy-gradient method on one model.

    Attributes
    ----------
    policy : ndarray (S, A)
        Final policy :math:`\pi_T`.
    log_policy : ndarray (S, A)
        Its log-probabilities.
    theta : ndarray (S, A) or None
        Final logits (softmax PG only).
    values : ndarray (T+1,)
        Objective :math:`\tilde V^{\pi_t}(\rho)` at every iterate :math:`t = 0..T`.
    suboptimality : ndarray (T+1,)
        :math:`\tilde V^*(\rho) - \tilde V^{\pi_t}(\rho)`, against ``optimum``.
    grad_norm : ndarray (T+1,)
        Euclidean norm of :math:`\nabla_\theta\tilde V^{\pi_{\theta_t}}(\rho)` (for NPG: of the
        softmax gradient at :math:`\theta = \log\pi_t`).
    min_prob : ndarray (T+1,)
        :math:`\min_{s,a}\pi_t(a\mid s)`.
    min_optimal_prob : ndarray (T+1,)
        :math:`\min_s \pi_t(\mathcal A^*(s)\mid s)`, the mass on the optimal actions
        (:math:`\tau = 0`; NaN for :math:`\tau > 0`). Mei et al.'s
        :math:`c = \inf_{t\ge1}` of it (Lemma 9) when the optimal action is unique.
    optimum : float
        :math:`\tilde V^*(\rho)`: :math:`V^*(\rho)` from policy iteration (:math:`\tau=0`) or
        the soft optimum of :func:`~tabular_rl.planning.soft_value_iteration` with
        ``tol=1e-12`` (raised to the rounding floor where needed, :func:`soft_optimum_tol`).
    optimum_error : float
        Certified bound on the error of ``optimum``.
    eta, tau : float
    method : str
    policies : ndarray (T+1, S, A) or None
        Every iterate, when ``record_policies=True``.
    """

    policy: np.ndarray
    log_policy: np.ndarray
    theta: np.ndarray | None
    values: np.ndarray
    suboptimality: np.ndarray
    grad_norm: np.ndarray
    min_prob: np.ndarray
    min_optimal_prob: np.ndarray
    optimum: float
    optimum_error: float
    eta: float
    tau: float
    method: str
    policies: np.ndarray | None = None

    @property
    def iterations(self) -> int:
        return self.values.shape[0] - 1

    def __repr__(self) -> str:
        return (f"PolicyGradientResult(method={self.method!r}, iterations={self.iterations}, "
                f"eta={self.eta:.3g}, tau={self.tau:g}, "
                f"final_suboptimality={self.suboptimality[-1]:.3g})")


def _optimum(mdp: FiniteMDP, tau: float, rho: np.ndarray):
    r""":math:`\tilde V^*(\rho)`, a certified bound on its error, and (for :math:`\tau = 0`) the
    boolean ``(S, A)`` mask of optimal actions (``None`` for :math:`\tau > 0`)."""
    if tau == 0.0:
        from .dp import policy_iteration

        sol = policy_iteration(mdp)
        scale = max(1.0, float(np.abs(sol.v).max()))
        opt = sol.q >= sol.q.max(axis=1, keepdims=True) - 1e-9 * scale
        return float(rho @ sol.v), float(sol.error_bound), opt
    from ..regularizers import Shannon
    from .soft_dp import soft_value_iteration

    sol = soft_value_iteration(mdp, Shannon(tau), tol=soft_optimum_tol(mdp, tau))
    return float(rho @ sol.v), float(sol.error_bound), None


def soft_optimum_tol(mdp: FiniteMDP, tau: float) -> float:
    r"""Tolerance for the soft optimum: ``1e-12``, raised to stay above the rounding floor.

    Soft value iteration certifies :math:`\|v - v^*_\tau\|_\infty \le` ``tol`` only above
    its floating-point floor, about :math:`4(S + A + 8)\,u\,\|q\|_\infty/(1-\gamma)`
    (:mod:`tabular_rl.planning.soft_dp`); this returns
    :math:`\max(10^{-12}, 64(S+A+8)\,u\,(\|r\|_\infty + \tau\log A)/(1-\gamma)^2)`.
    """
    scale = (float(np.abs(mdp.r).max()) + tau * np.log(mdp.A)) / (1.0 - mdp.gamma)
    return max(1e-12, 64.0 * (mdp.S + mdp.A + 8) * _U * scale / (1.0 - mdp.gamma))


def _check_iters(n_iter) -> int:
    if isinstance(n_iter, bool) or int(n_iter) != n_iter or n_iter < 0:
        raise ValueError(f"n_iter must be a non-negative integer, got {n_iter!r}")
    return int(n_iter)


def _warn_nonfinite(method: str, values: np.ndarray, b: int) -> None:
    bad = ~np.isfinite(values)
    if bad.any():
        i = int(np.argmax(bad))
        warnings.warn(f"{method}: model {b}: the objective became non-finite at iteration {i} "
                      f"({values[i]}); the step size is too large for this model",
                      NumericalWarning, stacklevel=4)


# ------------------------------------------------------------------------ algorithms


def softmax_policy_gradient_batch(
    mdps, *, n_iter: int, eta=None, tau: float = 0.0, rho=None, theta0=None,
    record_policies: bool = False, gradient: Callable[[PGState], np.ndarray] | None = None,
) -> list[PolicyGradientResult]:
    r"""Exact softmax policy gradient ascent on several models at once.

    Same algorithm as :func:`softmax_policy_gradient`, run in lockstep on ``B`` dense models of
    one shape ``(S, A)`` (possibly different kernels, rewards, discounts and initial
    distributions), so that each iteration is a handful of batched array operations. Used by
    rate experiments that need :math:`10^4`-:math:`10^5` iterations on many instances.

    Parameters
    ----------
    mdps : sequence of FiniteMDP
        Dense models of equal ``(S, A)`` (or a single CSR model).
    n_iter : int
    eta : float or array_like (B,), optional
        Step size(s); default :func:`mei_step_size` of each model.
    tau : float
    rho : array_like (B, S) or (S,), optional
        Initial distributions of the objectives; default each model's ``mu``.
    theta0 : array_like (B, S, A) or (S, A), optional
        Initial logits (default 0: uniform policies).
    record_policies : bool
    gradient : callable, optional
        ``gradient(state: PGState) -> (B, S, A)`` ascent direction; default
        :func:`exact_gradient`. A hook for experiments and for handing claim checks a
        deliberately wrong algorithm.

    Returns
    -------
    list of PolicyGradientResult
        One per model.
    """
    mdps = list(mdps)
    if not mdps:
        raise ValueError("mdps is empty")
    for i, m in enumerate(mdps):
        require_finite_mdp(m, f"softmax_policy_gradient_batch (mdps[{i}])")
    models = _Models(mdps)
    B, S, A = models.B, models.S, models.A
    tau = _check_tau(tau)
    n = _check_iters(n_iter)
    if rho is None:
        rho = np.stack([m.mu for m in mdps])
    else:
        rho = np.asarray(rho, dtype=np.float64)
        rho = np.stack([V.check_distribution(f"rho[{i}]", rho if rho.ndim == 1 else rho[i], S)
                        for i in range(B)])
    if eta is None:
        eta = np.array([mei_step_size(m, tau) for m in mdps])
    else:
        eta = np.broadcast_to(np.asarray(eta, dtype=np.float64), (B,)).copy()
        for i, e in enumerate(eta):
            V.check_real_scalar(f"eta[{i}]", float(e), 0.0, np.inf, lo_open=True)
    if theta0 is None:
        theta = np.zeros((B, S, A))
    else:
        t0 = np.asarray(theta0, dtype=np.float64)
        theta = np.stack([_check_theta(mdps[i], t0 if t0.ndim == 2 else t0[i])
                          for i in range(B)])
    opts = [_optimum(m, tau, rho[i]) for i, m in enumerate(mdps)]
    opt_mask = None if tau > 0 else np.stack([o[2] for o in opts]).astype(np.float64)
    direction = exact_gradient if gradient is None else gradient
    values = np.empty((n + 1, B))
    gnorm = np.empty((n + 1, B))
    pmin = np.empty((n + 1, B))
    popt = np.full((n + 1, B), np.nan)
    pols = np.empty((n + 1, B, S, A)) if record_policies else None
    step = eta[:, None, None]
    for t in range(n + 1):
        st, values[t] = _state(models, theta, tau, rho)
        grad = np.asarray(direction(st), dtype=np.float64)
        gnorm[t] = np.sqrt(np.einsum("bsa,bsa->b", grad, grad))
        pmin[t] = st.pi.min(axis=(1, 2))
        if opt_mask is not None:
            popt[t] = np.einsum("bsa,bsa->bs", st.pi, opt_mask).min(axis=1)
        if pols is not None:
            pols[t] = st.pi
        if t < n:
            theta = theta + step * grad
    out = []
    for i in range(B):
        _warn_nonfinite("softmax_policy_gradient", values[:, i], i)
        log_pi = log_softmax(theta[i])
        out.append(PolicyGradientResult(
            policy=np.exp(log_pi), log_policy=log_pi, theta=theta[i], values=values[:, i],
            suboptimality=opts[i][0] - values[:, i], grad_norm=gnorm[:, i],
            min_prob=pmin[:, i], min_optimal_prob=popt[:, i], optimum=opts[i][0],
            optimum_error=opts[i][1], eta=float(eta[i]), tau=tau,
            method="softmax_policy_gradient",
            policies=None if pols is None else pols[:, i]))
    return out


def softmax_policy_gradient(
    mdp: FiniteMDP, *, n_iter: int, eta: float | None = None, tau: float = 0.0, rho=None,
    theta0=None, record_policies: bool = False,
    gradient: Callable[[PGState], np.ndarray] | None = None,
) -> PolicyGradientResult:
    r"""Exact softmax policy gradient ascent (Mei et al. 2020, Algorithm 1).

    .. math::

        \theta_{t+1} = \theta_t + \eta\,\nabla_\theta\tilde V^{\pi_{\theta_t}}(\mu),
        \qquad \pi_{\theta}(\cdot\mid s) = \operatorname{softmax}(\theta(s,\cdot)).

    With :math:`\eta = (1-\gamma)^3/8` and rewards in :math:`[0,1]`, Mei et al. (2020, Thm. 4)
    prove :math:`V^*(\rho) - V^{\pi_{\theta_t}}(\rho) \le \frac{16S}{c^2(1-\gamma)^6 t}
    \|d^{\pi^*}_\mu/\mu\|_\infty^2\|1/\mu\|_\infty` with
    :math:`c = \inf_{t\ge 1}\min_s\pi_{\theta_t}(a^*(s)\mid s) > 0`; with entropy and
    :math:`\eta = (1-\gamma)^3/(8+\tau(4+8\log A))` the regularized sub-optimality decays
    linearly (Thm. 6). See :mod:`proofs_check.claims.softmax_pg`.

    Parameters
    ----------
    mdp : FiniteMDP
        Dense or CSR.
    n_iter : int
        Number of gradient steps :math:`T`.
    eta : float, optional
        Step size; default :func:`mei_step_size` ``(mdp, tau)``.
    tau : float
        Entropy temperature (0: unregularized).
    rho : array_like (S,), optional
        Initial distribution of the optimized objective and of the reported
        sub-optimality (default ``mdp.mu``; Mei et al. need :math:`\mu > 0`).
    theta0 : array_like (S, A), optional
        Initial logits (default zeros: the uniform policy).
    record_policies : bool
        Keep every iterate in ``policies``.
    gradient : callable, optional
        ``gradient(state: PGState) -> (1, S, A)``; default :func:`exact_gradient`.

    Returns
    -------
    PolicyGradientResult

    Warns
    -----
    NumericalWarning
        If the objective becomes non-finite.

    Examples
    --------
    >>> from tabular_rl.envs import chain
    >>> res = softmax_policy_gradient(chain(4, gamma=0.5), n_iter=2000)
    >>> bool(res.suboptimality[-1] < res.suboptimality[0])
    True
    """
    require_finite_mdp(mdp, "softmax_policy_gradient")
    return softmax_policy_gradient_batch(
        [mdp], n_iter=n_iter, eta=eta, tau=tau, rho=rho, theta0=theta0,
        record_policies=record_policies, gradient=gradient)[0]


def natural_policy_gradient(
    mdp: FiniteMDP, *, n_iter: int, eta: float, tau: float = 0.0, rho=None, pi0=None,
    record_policies: bool = False, update: Callable[..., np.ndarray] | None = None,
) -> PolicyGradientResult:
    r"""Exact (entropy-regularized) natural policy gradient for softmax policies.

    .. math::

        \pi^{(t+1)}(a\mid s) \propto \pi^{(t)}(a\mid s)^{1-\frac{\eta\tau}{1-\gamma}}
        \exp\Big(\frac{\eta\,Q_\tau^{\pi^{(t)}}(s,a)}{1-\gamma}\Big)

    (Cen et al. 2022, Sec. 3; Kakade 2001 and Agarwal et al. 2021, Sec. 5.3 for
    :math:`\tau = 0`). Cen et al. (2022, Thm. 1): for :math:`0<\eta\le(1-\gamma)/\tau`,
    :math:`\|Q^*_\tau - Q^{(t+1)}_\tau\|_\infty \le C_1\gamma(1-\eta\tau)^t` and
    :math:`\|\log\pi^*_\tau - \log\pi^{(t+1)}\|_\infty \le 2C_1\tau^{-1}(1-\eta\tau)^t`.
    Agarwal et al. (2021, Thm. 16), :math:`\tau = 0`, uniform :math:`\pi^{(0)}`, rewards in
    :math:`[0,1]`: :math:`V^*(\rho) - V^{(T)}(\rho) \le \frac{\log A}{\eta T} +
    \frac{1}{(1-\gamma)^2T}`.

    Parameters
    ----------
    mdp : FiniteMDP
    n_iter : int
    eta : float
        Step size, :math:`> 0` (for :math:`\tau > 0` the theorem needs
        :math:`\eta\le(1-\gamma)/\tau`; larger steps are allowed but unanalysed).
    tau : float
    rho : array_like (S,), optional
        Distribution of the reported objective (default ``mdp.mu``); the update itself does
        not depend on it.
    pi0 : array_like (S, A), optional
        Initial policy (default uniform). Zero entries stay zero.
    record_policies : bool
    update : callable, optional
        ``update(mdp, log_pi, q, eta=..., tau=...) -> log_pi'``; default :func:`npg_update`.

    Returns
    -------
    PolicyGradientResult
        ``theta`` is ``None``.

    Examples
    --------
    >>> from tabular_rl.envs import chain
    >>> res = natural_policy_gradient(chain(4, gamma=0.5), n_iter=50, eta=1.0, tau=0.1)
    >>> bool(res.suboptimality[-1] < 1e-9)
    True
    """
    require_finite_mdp(mdp, "natural_policy_gradient")
    tau = _check_tau(tau)
    n = _check_iters(n_iter)
    rho = _check_rho(mdp, rho)
    eta = V.check_real_scalar("eta", eta, 0.0, np.inf, lo_open=True)
    if pi0 is None:
        log_pi = np.full((mdp.S, mdp.A), -np.log(mdp.A))
    else:
        pi0 = V.check_policy(pi0, mdp.S, mdp.A)
        with np.errstate(divide="ignore"):
            log_pi = log_softmax(np.log(pi0))
    models = _Models([mdp])
    opt, opt_err, opt_mask = _optimum(mdp, tau, rho)
    step = npg_update if update is None else update
    values = np.empty(n + 1)
    gnorm = np.empty(n + 1)
    pmin = np.empty(n + 1)
    popt = np.full(n + 1, np.nan)
    pols = np.empty((n + 1, mdp.S, mdp.A)) if record_policies else None
    for t in range(n + 1):
        pi = np.exp(log_pi)
        safe_log = np.where(pi > 0, log_pi, 0.0)
        v, q, d = models.evaluate(pi[None], safe_log[None], tau, rho[None])
        values[t] = rho @ v[0]
        adv = q - v[:, :, None] - tau * safe_log[None]
        st = PGState(theta=safe_log[None], pi=pi[None], log_pi=safe_log[None], v=v, q=q,
                     adv=adv, d=d, gamma=models.gamma, tau=tau)
        g = exact_gradient(st)[0]
        gnorm[t] = float(np.linalg.norm(g))
        pmin[t] = pi.min()
        if opt_mask is not None:
            popt[t] = float((pi * opt_mask).sum(axis=1).min())
        if pols is not None:
            pols[t] = pi
        if t < n:
            log_pi = np.asarray(step(mdp, log_pi, q[0], eta=eta, tau=tau), dtype=np.float64)
    _warn_nonfinite("natural_policy_gradient", values, 0)
    return PolicyGradientResult(
        policy=np.exp(log_pi), log_policy=log_pi, theta=None, values=values,
        suboptimality=opt - values, grad_norm=gnorm, min_prob=pmin, min_optimal_prob=popt,
        optimum=opt, optimum_error=opt_err, eta=float(eta), tau=tau,
        method="natural_policy_gradient", policies=pols)
