r"""Exact policy mirror descent (PMD) and its finite-memory variant (StaQ).

**Policy mirror descent.** With a mirror map :math:`\psi = \tau_\psi\Omega_\psi` (any member of
:mod:`tabular_rl.regularizers`, its Bregman divergence :math:`D_\psi`), an optional objective
regularizer :math:`h = \tau_h\Omega_h` and step sizes :math:`\eta_k > 0`, every state is updated
at once:

.. math::

    \pi_{k+1}(s) = \operatorname*{arg\,max}_{p\in\Delta_A}\ \eta_k\langle p, Q_k(s)\rangle
        - \eta_k h(p) - D_\psi\big(p, \pi_k(s)\big),

with :math:`Q_k = Q^{\pi_k}` (:func:`~tabular_rl.q_function`; with :math:`h`, the regularized
:math:`Q^{\pi_k}_h` of :func:`~tabular_rl.regularized_q_function`), or a noisy estimate of it.
Without :math:`h` the step is :math:`\pi_{k+1} = \nabla\psi^*(\nabla\psi(\pi_k) + \eta_k Q_k)`,
i.e. ``psi.greedy(eta * Q + grad psi(pi_k))`` — exact also for mirror maps that are not of
Legendre type (the greedy step of the protocol *is* the Bregman proximal step):

* **KL / Shannon** (``Shannon``, ``KL``, ``Tsallis`` with index 1): multiplicative weights
  :math:`\pi_{k+1}\propto\pi_k e^{\eta_k Q_k/\tau_\psi}`, computed on log-policies after
  shifting :math:`Q_k` by its row maximum, so :math:`\eta_k = 10^6` or :math:`\eta_k \propto
  \gamma^{-k}` neither overflows nor returns NaN (entries may underflow to probability 0,
  which is the greedy limit);
* **Tsallis** (index :math:`k>1`): :math:`\nabla\psi(p) = \tau\frac{k}{k-1}p^{k-1}`; at
  :math:`k = 2` this is the projected Q-ascent :math:`\operatorname{proj}_\Delta(\pi_k +
  \eta_k Q_k / (2\tau))` of Xiao (2022);
* **ChiSquared** (:math:`\nabla\psi(p) = \tau(p - \text{ref})/\text{ref}`), **LogBarrier**
  (:math:`-\tau/p`), **FDivergence** (:math:`\tau f'(p/\text{ref})`) and **TsallisKL**.

With an objective regularizer :math:`h` the step has a closed form when :math:`\psi` and
:math:`h` come from the same family: Shannon/KL mirror with Shannon/KL :math:`h` (Cen et al.
2022; Lan 2022: :math:`\log\pi_{k+1} = (\tau_\psi\log\pi_k + \eta_k(Q_k + \tau_h\log
\text{ref}_h))/(\tau_\psi + \eta_k\tau_h)` + const), or :math:`\psi` and :math:`h` of the same
class with the same parameters except ``tau``; other pairs raise ``ValueError``.

**Finite memory (StaQ).** :func:`finite_memory_pmd` is the KL- and entropy-regularized
update :math:`\pi_{k+1} = \arg\max_p \langle p, Q_k\rangle + \tau\mathcal H(p) - \eta\,
\mathrm{KL}(p\,\|\,\pi_k)`, whose closed form :math:`\pi_{k+1}\propto\exp(\alpha\sum_{i\le k}
\beta^{k-i}Q_i)` (uniform :math:`\pi_0`; the paper's letters :math:`\alpha = 1/(\eta+\tau)`,
:math:`\beta = \eta/(\eta+\tau)`) keeps only the last :math:`M` Q-functions: plainly truncated
(``variant="vanilla"``, Sec. 4.1, residual error :math:`\propto\beta^M`) or with the weights
rescaled by :math:`1/(1-\beta^M)` (``variant="corrected"``, the default; Sec. 4.2, unbiased
fixed point).

References
----------
.. [1] G. Lan, "Policy mirror descent for reinforcement learning: linear convergence, new
   sampling complexity, and generalized problem classes", Math. Programming 198, 2023
   (online 2022), Sec. 3 (PMD with strongly convex / general convex regularizers).
.. [2] L. Xiao, "On the Convergence Rates of Policy Gradient Methods", JMLR 23(282), 2022,
   Sec. 4 (PMD; sublinear rate with constant steps, linear rate with steps growing like
   :math:`\gamma^{-k}`; monotone improvement :math:`V^{\pi_{k+1}}\ge V^{\pi_k}`).
.. [3] S. Cen, C. Cheng, Y. Chen, Y. Wei, Y. Chi, "Fast Global Convergence of Natural Policy
   Gradient Methods with Entropy Regularization", Operations Research 70(4), 2022, Eq. (11).
.. [4] A. Shilova, A. Davey, B. Driss, R. Akrour, "StaQ it! Growing neural networks for Policy
   Mirror Descent", arXiv:2506.13862, 2025, Sec. 4.1 (vanilla finite-memory PMD) and 4.2
   (weight-corrected variant); full text not retrieved, see :func:`finite_memory_pmd`.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from dataclasses import dataclass, fields, replace

import numpy as np

from .. import _validation as V
from ..bellman import q_values
from ..evaluation import evaluate_policy, q_function
from ..mdp import FiniteMDP, require_finite_mdp
from ..regularizers import (
    KL,
    TSALLIS_SHANNON_ATOL,
    ChiSquared,
    FDivergence,
    LogBarrier,
    Regularizer,
    Shannon,
    Tsallis,
    TsallisKL,
)
from ..soft_bellman import evaluate_regularized_policy, regularized_q_function

__all__ = ["PMDResult", "finite_memory_pmd", "policy_mirror_descent", "step_size_schedule"]

#: ``q_oracle(mdp, pi, k, rng) -> (S, A)`` estimate of the Q-function of ``pi`` at iteration k.
QOracle = Callable[[FiniteMDP, np.ndarray, int, np.random.Generator], np.ndarray]


@dataclass(frozen=True, eq=False)
class PMDResult:
    """What an exact policy-optimization run returns (PMD, StaQ, FTRL).

    Attributes
    ----------
    policy : ndarray (S, A)
        The last iterate :math:`\\pi_K`.
    suboptimality : ndarray (K+1,)
        :math:`\\|V^* - V^{\\pi_k}\\|_\\infty` for :math:`k = 0..K` (regularized values
        :math:`V^*_h, V^{\\pi_k}_h` when the run optimizes a regularized objective).
    values : ndarray (K+1, S)
        Exact (regularized) values :math:`V^{\\pi_k}` of every iterate.
    step_sizes : ndarray (K,)
        :math:`\\eta_0, \\dots, \\eta_{K-1}` (for StaQ: the constant :math:`1/\\eta_{KL}`).
    v_star : ndarray (S,)
        The reference optimum the suboptimality is measured against.
    v_star_error_bound : float
        Certified bound on :math:`\\|v^\\star - V^*\\|_\\infty` of that reference (0 up to
        rounding for policy iteration; soft policy iteration's ``error_bound`` otherwise).
    policies : ndarray (K+1, S, A) or None
        Every iterate, when asked for.
    log_policy : ndarray (S, A) or None
        :math:`\\log\\pi_K` for the log-space (KL) updates (``-inf`` where the probability is 0).
    method : str
    regularizer : Regularizer or None
        The objective regularizer the suboptimality refers to (``None``: unregularized).
    """

    policy: np.ndarray
    suboptimality: np.ndarray
    values: np.ndarray
    step_sizes: np.ndarray
    v_star: np.ndarray
    v_star_error_bound: float
    policies: np.ndarray | None
    log_policy: np.ndarray | None
    method: str
    regularizer: Regularizer | None = None

    @property
    def n_iter(self) -> int:
        return int(self.step_sizes.shape[0])

    def __repr__(self) -> str:
        return (f"PMDResult(method={self.method!r}, n_iter={self.n_iter}, "
                f"suboptimality {self.suboptimality[0]:.3g} -> {self.suboptimality[-1]:.3g})")


# ----------------------------------------------------------------------------- helpers


def step_size_schedule(step_size: float, schedule: str | Callable[[int], float], n_iter: int,
                       gamma: float, growth: float | None = None) -> np.ndarray:
    r"""Step sizes :math:`\eta_0..\eta_{K-1}`.

    ``"constant"``: :math:`\eta_k = \eta_0`; ``"geometric"``: :math:`\eta_k = \eta_0\,g^k`
    with :math:`g` = ``growth`` (default :math:`1/\gamma`, Xiao 2022's
    :math:`\eta_{k+1} \ge \eta_k/\gamma`); a callable: :math:`\eta_k` = ``schedule(k)``.
    Values beyond ``1e300`` are clipped there (the update is then greedy to rounding).

    Examples
    --------
    >>> step_size_schedule(1.0, "geometric", 4, gamma=0.5).tolist()
    [1.0, 2.0, 4.0, 8.0]
    """
    n_iter = V.check_positive_int("n_iter", n_iter)
    if callable(schedule):
        eta = np.array([float(schedule(k)) for k in range(n_iter)])
        bad = np.flatnonzero(~(np.isfinite(eta) & (eta > 0)))
        if bad.size:
            raise ValueError(f"schedule({int(bad[0])}) = {float(eta[bad[0]])!r}; step sizes "
                             "must be finite and > 0")
        return np.minimum(eta, 1e300)
    eta0 = V.check_real_scalar("step_size", step_size, 0.0, np.inf, lo_open=True)
    if schedule == "constant":
        return np.full(n_iter, eta0)
    if schedule == "geometric":
        if growth is None:  # 1/gamma; gamma -> 0 is the greedy limit (steps clipped at 1e300)
            growth = 1e300 if gamma <= 1e-300 else min(1.0 / gamma, 1e300)
        g = V.check_real_scalar("growth", growth, 0.0, np.inf, lo_open=True)
        with np.errstate(over="ignore", invalid="ignore"):
            eta = eta0 * g ** np.arange(n_iter, dtype=np.float64)
        return np.minimum(eta, 1e300)
    raise ValueError(f"schedule must be 'constant', 'geometric' or a callable, got {schedule!r}")


def _is_log_family(reg) -> bool:
    if isinstance(reg, Shannon | KL):
        return True
    if isinstance(reg, Tsallis | TsallisKL):
        return reg.q_index - 1.0 <= TSALLIS_SHANNON_ATOL
    return False


def _log_ref(reg, S: int, A: int) -> np.ndarray:
    """:math:`\\log\\text{ref}` of a KL-family regularizer (0 for Shannon), shape (S, A)."""
    ref = getattr(reg, "ref", None)
    if ref is None:
        return np.zeros((S, A))
    ref = np.broadcast_to(ref, (S, A))
    with np.errstate(divide="ignore"):
        return np.log(ref)


def _mirror_gradient(psi, pi: np.ndarray) -> np.ndarray:
    r""":math:`\nabla(\tau\Omega)(\pi)` (up to a per-row constant) for non-log mirror maps."""
    tau = psi.tau
    if isinstance(psi, TsallisKL):
        return _mirror_gradient(psi._impl, pi)
    if isinstance(psi, Tsallis):
        k = psi.q_index
        return tau * k / (k - 1.0) * pi ** (k - 1.0)
    if isinstance(psi, ChiSquared):
        ref = np.broadcast_to(psi.ref, pi.shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            return tau * np.where(ref > 0, (pi - ref) / np.where(ref > 0, ref, 1.0), 0.0)
    if isinstance(psi, LogBarrier):
        with np.errstate(divide="ignore"):
            return -tau / pi
    if isinstance(psi, FDivergence):
        ref = np.broadcast_to(psi.ref, pi.shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            x = np.where(ref > 0, pi / np.where(ref > 0, ref, 1.0), 1.0)
            g = np.asarray(psi.f_prime(x), dtype=np.float64)
        return tau * np.where(ref > 0, g, 0.0)
    raise ValueError(f"policy mirror descent has no mirror step for {type(psi).__name__}; "
                     "supported mirror maps: Shannon, KL, Tsallis, TsallisKL, ChiSquared, "
                     "LogBarrier, FDivergence")


def _same_family(psi, h) -> bool:
    if type(psi) is not type(h):
        return False
    for f in fields(psi):
        if f.name in ("tau", "_impl"):
            continue
        a, b = getattr(psi, f.name), getattr(h, f.name)
        if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
            if not np.array_equal(np.asarray(a), np.asarray(b)):
                return False
        elif a is not b and a != b:
            return False
    return True


def _log_normalize(z: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Normalize log-weights row-wise; rows with no finite entry fall back to the argmax of q."""
    m = z.max(axis=-1, keepdims=True)
    dead = ~np.isfinite(m[:, 0])
    if dead.any():  # only reachable when every supported action underflowed: greedy limit
        top = q[dead] == q[dead].max(axis=-1, keepdims=True)
        z = z.copy()
        z[dead] = np.where(top, 0.0, -np.inf)
        m = z.max(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore"):
        e = np.exp(z - m)
    return z - m - np.log(e.sum(axis=-1, keepdims=True))


def _initial_policy(mdp: FiniteMDP, pi0) -> np.ndarray:
    if pi0 is None:
        return np.full((mdp.S, mdp.A), 1.0 / mdp.A)
    return np.array(V.check_policy(pi0, mdp.S, mdp.A, name="pi0"), dtype=np.float64)


def _reference(mdp: FiniteMDP, reg, v_star) -> tuple[np.ndarray, float]:
    """The optimum suboptimality is measured against, with its certified error."""
    if v_star is not None:
        v = V.as_float_array("v_star", v_star, 1)
        V.check_shape("v_star", v, (mdp.S,), "(one entry per state)")
        V.check_finite("v_star", v)
        return v, 0.0
    if reg is None:
        from .dp import policy_iteration

        sol = policy_iteration(mdp)
        return evaluate_policy(mdp, sol.policy), 0.0
    from .soft_dp import soft_policy_iteration

    sol = soft_policy_iteration(mdp, reg)
    return sol.v, float(sol.error_bound)


class _QSource:
    """Exact Q, an oracle's estimate, plus optional seeded Gaussian noise."""

    def __init__(self, mdp, reg, q_noise, q_oracle, seed):
        self.mdp, self.reg = mdp, reg
        self.noise = V.check_real_scalar("q_noise", q_noise, 0.0, np.inf)
        if q_oracle is not None and not callable(q_oracle):
            raise TypeError(f"q_oracle must be callable, got {type(q_oracle).__name__}")
        self.oracle = q_oracle
        self.rng = np.random.default_rng(seed)

    def __call__(self, pi: np.ndarray, k: int, v: np.ndarray | None = None) -> np.ndarray:
        """Q estimate for ``pi``; ``v`` is its exact (regularized) value when known."""
        mdp = self.mdp
        if self.oracle is not None:
            q = np.asarray(self.oracle(mdp, pi, k, self.rng), dtype=np.float64)
            if q.shape != (mdp.S, mdp.A):
                raise ValueError(f"q_oracle returned shape {q.shape} at iteration {k}, "
                                 f"expected {(mdp.S, mdp.A)}")
        elif v is not None and np.all(np.isfinite(v)):
            q = q_values(mdp, v)
        elif self.reg is None:
            q = q_function(mdp, pi)
        else:
            q = regularized_q_function(mdp, pi, self.reg)
        if self.noise > 0:
            q = q + self.rng.normal(0.0, self.noise, q.shape)
        bad = np.argwhere(~np.isfinite(q))
        if bad.size:
            s, a = bad[0]
            raise ValueError(f"Q estimate at iteration {k} is not finite at state {s}, "
                             f"action {a}: {q[s, a]!r}")
        return q


def _value(mdp, pi, reg) -> np.ndarray:
    return evaluate_policy(mdp, pi) if reg is None else evaluate_regularized_policy(mdp, pi, reg)


def _finish(mdp, pis_or_none, values, eta, v_star, err, pi, logp, method, reg) -> PMDResult:
    values = np.asarray(values)
    sub = np.max(np.abs(v_star[None, :] - values), axis=1)
    return PMDResult(policy=pi, suboptimality=sub, values=values, step_sizes=eta,
                     v_star=v_star, v_star_error_bound=err,
                     policies=None if pis_or_none is None else np.asarray(pis_or_none),
                     log_policy=logp, method=method, regularizer=reg)


# ----------------------------------------------------------------------------- PMD


def policy_mirror_descent(mdp: FiniteMDP, *, n_iter: int = 100, step_size: float = 1.0,
                          schedule: str | Callable[[int], float] = "constant",
                          growth: float | None = None, mirror: Regularizer | None = None,
                          reg: Regularizer | None = None, pi0=None, q_noise: float = 0.0,
                          q_oracle: QOracle | None = None,
                          seed: int | np.random.Generator | None = None, v_star=None,
                          record_policies: bool = False) -> PMDResult:
    r"""Exact (or noisy) policy mirror descent on a :class:`~tabular_rl.FiniteMDP`.

    .. math::

        \pi_{k+1}(s) = \operatorname*{arg\,max}_{p\in\Delta_A}\ \eta_k\langle p, Q_k(s)\rangle
            - \eta_k h(p) - D_\psi\big(p, \pi_k(s)\big)

    (module docstring for the closed forms). Without ``reg`` this is the PMD of Xiao (2022,
    Sec. 4) and Lan (2022, Alg. 1 with :math:`h = 0`); with ``reg`` the regularized PMD of
    Lan (2022, Alg. 1) / entropy-regularized NPG of Cen et al. (2022).

    Parameters
    ----------
    mdp : FiniteMDP
    n_iter : int
        Number of updates :math:`K`.
    step_size : float
        :math:`\eta_0`.
    schedule : {"constant", "geometric"} or callable
        See :func:`step_size_schedule`; ``"geometric"`` is :math:`\eta_k = \eta_0\gamma^{-k}`.
    growth : float, optional
        Ratio of the geometric schedule (default :math:`1/\gamma`).
    mirror : Regularizer, optional
        Mirror map :math:`\psi` (default ``Shannon(1.0)``, i.e. KL proximity: the natural
        policy gradient / multiplicative weights update).
    reg : Regularizer, optional
        Objective regularizer :math:`h`; then :math:`Q_k = Q^{\pi_k}_h` and the suboptimality
        is measured in regularized values against soft policy iteration's optimum.
    pi0 : array_like (S, A), optional
        Initial policy (default uniform). With a KL mirror, actions with
        :math:`\pi_0(a\mid s) = 0` keep probability 0.
    q_noise : float
        Standard deviation of i.i.d. Gaussian noise added to every Q entry (seeded by ``seed``).
    q_oracle : callable, optional
        ``q_oracle(mdp, pi, k, rng) -> (S, A)`` replaces the exact Q-function.
    seed : int or Generator, optional
    v_star : array_like (S,), optional
        Reference optimum (skips solving the MDP).
    record_policies : bool
        Keep every iterate in ``result.policies``.

    Returns
    -------
    PMDResult

    Raises
    ------
    ValueError
        Unsupported mirror map, or a ``(mirror, reg)`` pair without a closed-form step.

    Examples
    --------
    >>> import numpy as np
    >>> from tabular_rl import FiniteMDP
    >>> mdp = FiniteMDP(np.ones((1, 2, 1)), [[1.0, 0.0]], gamma=0.5)
    >>> res = policy_mirror_descent(mdp, n_iter=3, step_size=1.0, schedule="geometric")
    >>> res.step_sizes.tolist()
    [1.0, 2.0, 4.0]
    >>> bool(np.all(np.diff(res.suboptimality) < 0))
    True
    """
    require_finite_mdp(mdp, "policy_mirror_descent")
    eta = step_size_schedule(step_size, schedule, n_iter, mdp.gamma, growth)
    psi = Shannon(1.0) if mirror is None else mirror
    if not isinstance(psi, Regularizer):
        raise TypeError(f"mirror must be a regularizer, got {type(psi).__name__}")
    if reg is not None and not isinstance(reg, Regularizer):
        raise TypeError(f"reg must be a regularizer, got {type(reg).__name__}")
    log_mode = _is_log_family(psi)
    S, A = mdp.S, mdp.A
    if reg is not None:
        if log_mode and _is_log_family(reg):
            h_logref = _log_ref(reg, S, A)
        elif not log_mode and _same_family(psi, reg):
            h_logref = None
        else:
            raise ValueError(f"no closed-form regularized PMD step for mirror "
                             f"{type(psi).__name__} with objective regularizer "
                             f"{type(reg).__name__}; supported: Shannon/KL with Shannon/KL, "
                             "or mirror and regularizer of the same class and parameters")
    else:
        h_logref = None
    if not log_mode:
        _mirror_gradient(psi, np.full((1, A), 1.0 / A))  # raises for unsupported maps
    v_star, err = _reference(mdp, reg, v_star)
    qsrc = _QSource(mdp, reg, q_noise, q_oracle, seed)
    pi = _initial_policy(mdp, pi0)
    logp = None
    if log_mode:
        with np.errstate(divide="ignore"):
            logp = np.log(pi)
    tau_m = psi.tau
    tau_h = 0.0 if reg is None else reg.tau
    pis = [pi.copy()] if record_policies else None
    values = [_value(mdp, pi, reg)]
    for k in range(eta.size):
        q = qsrc(pi, k, values[-1])
        e = eta[k]
        if log_mode:
            qc = q - q.max(axis=1, keepdims=True)  # row shift: the update is invariant to it
            if reg is None:
                z = logp + (e / tau_m) * qc
            else:
                with np.errstate(invalid="ignore"):
                    lin = np.where(np.isneginf(h_logref), -np.inf, qc + tau_h * h_logref)
                z = (tau_m * logp + e * lin) / (tau_m + e * tau_h)
            logp = _log_normalize(z, q)
            pi = np.exp(logp)
        else:
            y = e * q + _mirror_gradient(psi, pi)
            step = psi if reg is None else replace(psi, tau=tau_m + e * tau_h)
            pi = np.array(step.greedy(y), dtype=np.float64)
        if record_policies:
            pis.append(pi.copy())
        values.append(_value(mdp, pi, reg))
    name = f"policy_mirror_descent[{type(psi).__name__}" + (
        f", {type(reg).__name__}]" if reg is not None else "]")
    return _finish(mdp, pis, values, eta, v_star, err, pi, logp, name, reg)


# ----------------------------------------------------------------------------- StaQ


def finite_memory_pmd(mdp: FiniteMDP, tau: float, *, kl_coef: float,
                      memory: int | None = None, n_iter: int = 100, pi0=None,
                      variant: str = "corrected",
                      q_noise: float = 0.0, q_oracle: QOracle | None = None,
                      seed: int | np.random.Generator | None = None, v_star=None,
                      record_policies: bool = False) -> PMDResult:
    r"""Finite-memory policy mirror descent (StaQ, Shilova et al. 2025, Sec. 4), exact Q.

    Entropy-regularized PMD with KL proximity (coefficients :math:`\tau`, :math:`\eta` =
    ``kl_coef``), in the paper's letters (:math:`\alpha` the Q-weight, :math:`\beta` the decay):

    .. math::

        \pi_{k+1}(s) = \operatorname*{arg\,max}_{p}\ \langle p, Q_k(s)\rangle
            + \tau\mathcal H(p) - \eta\,\mathrm{KL}\big(p\,\|\,\pi_k(s)\big)
            \ \propto\ \pi_k^{\beta}\,e^{\alpha Q_k},
        \qquad \alpha = \frac{1}{\eta+\tau},\ \beta = \frac{\eta}{\eta+\tau},

    :math:`Q_k = Q^{\pi_k}_\tau` the entropy-regularized Q-function. Unrolled,
    :math:`\log\pi_{k+1} = \alpha\sum_{i=0}^{k}\beta^{i}Q_{k-i} + \beta^{k+1}\log\pi_0` + const.
    Note :math:`\alpha/(1-\beta) = 1/\tau`: the infinite sum has total weight :math:`1/\tau`.
    The finite-memory policies keep only the last :math:`n = \min(M, k+1)` Q-functions:

    * ``variant="vanilla"`` (paper Sec. 4.1, residual-error variant, Thm. 4.2 per the
      secondary sources below) — plain truncation,

      .. math::

          \pi_{k+1} \propto \exp\Big(\alpha\sum_{i=0}^{n-1}\beta^{i}\,Q_{k-i}
              \;+\; \mathbb 1[k+1 \le M]\,\beta^{k+1}\log\pi_0\Big)

      (the initial policy counts as the oldest entry; irrelevant for the uniform default).
      Its total weight is :math:`(1-\beta^M)/\tau`, so its fixed point is the soft-greedy
      policy at the temperature :math:`\tau/(1-\beta^M)`: a residual error of order
      :math:`\beta^M`.
    * ``variant="corrected"`` (default; weight-corrected variant, paper Sec. 4.2) — the
      weights are rescaled by :math:`1/(1-\beta^{n})` so that they keep the total
      :math:`1/\tau` of the infinite sum,

      .. math::

          \pi_{k+1} \propto \exp\Big(\frac{\alpha}{1-\beta^{n}}
              \sum_{i=0}^{n-1}\beta^{i}\,Q_{k-i}\Big),\qquad n = \min(M, k+1);

      once the window is full (:math:`n = M`) this is
      :math:`\xi_{k+1} = \beta\,\xi_k + \tfrac{\alpha}{1-\beta^M}(Q_k - \beta^M Q_{k-M})`,
      i.e. the PMD step with the corrected Q-function
      :math:`\tilde Q_k = (Q_k - \beta^M Q_{k-M})/(1-\beta^M)`.

    ``memory=None`` (:math:`M=\infty`) is exact PMD for both variants, identical to
    :func:`policy_mirror_descent` with ``mirror=Shannon(1)``, ``reg=Shannon(tau)`` and step
    :math:`1/\eta`. Suboptimality is regularized, against soft policy iteration.

    Parameters
    ----------
    mdp : FiniteMDP
    tau : float
        Entropy coefficient :math:`\tau > 0`.
    kl_coef : float
        KL coefficient :math:`\eta > 0`.
    memory : int or None
        :math:`M \ge 1`, or ``None`` for infinite memory.
    variant : {"corrected", "vanilla"}
        Weight-corrected (default) or plainly truncated finite-memory update.
    n_iter, pi0, q_noise, q_oracle, seed, v_star, record_policies
        As in :func:`policy_mirror_descent` (the Q oracle must return regularized Q). With
        ``variant="corrected"`` and finite ``memory`` the initial policy only enters through
        :math:`Q_0`.

    Returns
    -------
    PMDResult
        ``step_sizes`` holds the equivalent PMD step :math:`1/\eta` at every iteration.

    Notes
    -----
    **Fixed point of the corrected update (derived here).** If the iteration is stationary,
    every stored Q-function equals :math:`Q = Q^{\pi}_\tau` of the stationary policy
    :math:`\pi`, so its logits are
    :math:`\frac{\alpha}{1-\beta^M}\frac{1-\beta^M}{1-\beta}Q = Q/\tau`:
    :math:`\pi = \mathrm{softmax}(Q^\pi_\tau/\tau)`, i.e. :math:`\pi` is soft-greedy with
    respect to its own regularized Q-function, so :math:`V^\pi_\tau = T_\tau V^\pi_\tau` and,
    :math:`T_\tau` being a :math:`\gamma`-contraction with the unique fixed point
    :math:`V^*_\tau`, :math:`\pi = \pi^*_\tau`. For every :math:`M` the only possible limit is
    the regularized optimum (no bias); the vanilla weights sum to :math:`(1-\beta^M)/\tau`
    instead, and the same argument gives the soft-greedy policy for the temperature
    :math:`\tau/(1-\beta^M)`. That the corrected iteration *converges* is the paper's
    Thm. 4.4 / A.6 for :math:`M` above a threshold depending on :math:`\beta,\gamma` only;
    with :math:`M = 1` it is soft policy iteration.

    **What we could read.** The full text was not retrievable (only the arXiv abstract and
    table of contents, the OpenReview abstract of the ICLR 2026 version "StaQ: a Finite Memory
    Approach to Discrete Action Policy Mirror Descent", and a machine-written review of the
    paper). The review gives the two variants' weights :math:`\alpha\beta^i` and
    :math:`\alpha\beta^i/(1-\beta^M)` and mentions "an additional update correction in
    Eq. 12", which we could not read: the corrected variant here is our reconstruction
    (normalized weights, also during the first :math:`M` iterations), not verified
    against the paper's Eq. 12.

    Examples
    --------
    >>> import numpy as np
    >>> from tabular_rl import FiniteMDP
    >>> mdp = FiniteMDP(np.ones((1, 2, 1)), [[1.0, 0.0]], gamma=0.5)
    >>> full = finite_memory_pmd(mdp, 0.5, kl_coef=1.0, memory=None, n_iter=40)
    >>> corr = finite_memory_pmd(mdp, 0.5, kl_coef=1.0, memory=2, n_iter=40)
    >>> vanilla = finite_memory_pmd(mdp, 0.5, kl_coef=1.0, memory=2, n_iter=40,
    ...                             variant="vanilla")
    >>> bool(max(full.suboptimality[-1], corr.suboptimality[-1]) < 1e-9
    ...      < vanilla.suboptimality[-1])
    True
    """
    require_finite_mdp(mdp, "finite_memory_pmd")
    tau = V.check_real_scalar("tau", tau, 0.0, np.inf, lo_open=True)
    eta_kl = V.check_real_scalar("kl_coef", kl_coef, 0.0, np.inf, lo_open=True)
    n_iter = V.check_positive_int("n_iter", n_iter)
    if variant not in ("corrected", "vanilla"):
        raise ValueError(f"variant must be 'corrected' or 'vanilla', got {variant!r}")
    if memory is not None:
        if isinstance(memory, bool) or not isinstance(memory, numbers.Integral):
            raise TypeError(f"memory must be a positive int or None, got "
                            f"{type(memory).__name__}")
        memory = V.check_positive_int("memory", memory)
    reg = Shannon(tau)
    alpha = 1.0 / (eta_kl + tau)  # Q-weight (paper's alpha)
    beta = eta_kl / (eta_kl + tau)  # decay (paper's beta)
    v_star, err = _reference(mdp, reg, v_star)
    qsrc = _QSource(mdp, reg, q_noise, q_oracle, seed)
    pi = _initial_policy(mdp, pi0)
    with np.errstate(divide="ignore"):
        log_pi0 = np.log(pi)
    logp = log_pi0.copy()
    window: list[np.ndarray] = []  # most recent first
    pis = [pi.copy()] if record_policies else None
    values = [_value(mdp, pi, reg)]
    for k in range(n_iter):
        q = qsrc(pi, k, values[-1])
        if memory is None:
            z = beta * logp + alpha * (q - q.max(axis=1, keepdims=True))
        else:
            window.insert(0, q)
            del window[memory:]
            n = len(window)
            w = alpha * beta ** np.arange(n)
            if variant == "corrected":
                w = w / -np.expm1(n * np.log(beta))  # 1/(1 - beta^n), accurate for beta ~ 1
            z = np.tensordot(w, np.asarray(window), axes=1)
            z = z - z.max(axis=1, keepdims=True)
            if variant == "vanilla" and k + 1 <= memory:
                z = z + beta ** (k + 1) * log_pi0
        logp = _log_normalize(z, q)
        pi = np.exp(logp)
        if record_policies:
            pis.append(pi.copy())
        values.append(_value(mdp, pi, reg))
    eta = np.full(n_iter, 1.0 / eta_kl)
    mem = "inf" if memory is None else str(memory)
    return _finish(mdp, pis, values, eta, v_star, err, pi, logp,
                   f"finite_memory_pmd[M={mem}, {variant}]", reg)
