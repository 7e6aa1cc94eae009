r"""Mirror-descent value iteration (MD-VI / MD-MPI), Munchausen VI and its Tsallis
generalization MVI(q): exact (model-based) dynamic programming with optional injected errors.

MD-VI with KL weight :math:`\lambda \ge 0` (to the previous policy) and entropy weight
:math:`\tau \ge 0` (Vieillard, Kozuno, Scherrer, Pietquin, Munos, Geist 2020, Eq. (1)):

.. math::

    \pi_{k+1} &= \operatorname*{arg\,max}_{\pi}\ \langle \pi, q_k\rangle
        - \lambda\,\mathrm{KL}(\pi\,\|\,\pi_k) + \tau\mathcal H(\pi), \\
    q_{k+1} &= r + \gamma P\big(\langle\pi_{k+1}, q_k\rangle
        - \lambda\,\mathrm{KL}(\pi_{k+1}\,\|\,\pi_k) + \tau\mathcal H(\pi_{k+1})\big)
        + \epsilon_{k+1},

and MD-MPI(m) applies the evaluation operator :math:`m` times before adding
:math:`\epsilon_{k+1}`. The greedy step has the closed form
:math:`\pi_{k+1}\propto\pi_k^{\beta}\exp(q_k/(\lambda+\tau))` with
:math:`\beta = \lambda/(\lambda+\tau)`, and the regularized value is a log-sum-exp,

.. math::

    \langle\pi_{k+1}, q_k\rangle - \lambda\mathrm{KL}(\pi_{k+1}\|\pi_k) + \tau\mathcal H(\pi_{k+1})
    = (\lambda+\tau)\log\sum_a \pi_k(a)^{\beta}\, e^{q_k(a)/(\lambda+\tau)},

so everything is computed in log space: :math:`\log\pi_k` stays finite even where
:math:`\pi_k` underflows to 0 (no ``-inf`` arithmetic). :math:`\lambda = \tau = 0` is plain
(approximate) value iteration with a hard greedy step; :math:`\lambda = 0 < \tau` is soft VI.

Averaged form (Vieillard et al. 2020, Sec. 3, "KL regularization implicitly averages
q-values"): with a uniform :math:`\pi_0`, unrolling the recursion gives

.. math::

    \pi_{k+1} = \operatorname{softmax}\Big(\frac{\bar h_k}{\tau_{k+1}}\Big), \qquad
    \bar h_k = \frac{1-\beta}{1-\beta^{k+1}}\sum_{j=0}^k \beta^{k-j} q_j, \qquad
    \tau_{k+1} = \frac{\tau}{1-\beta^{k+1}},

which for :math:`\tau = 0` (:math:`\beta = 1`) is
:math:`\bar h_k = \frac{1}{k+1}\sum_{j\le k} q_j` and :math:`\tau_{k+1} = \lambda/(k+1)`: the
policy is the softmax of the *uniform average* of all past q-functions at a decreasing
temperature, :math:`\pi_{k+1} = \operatorname{softmax}(\sum_{j\le k} q_j/\lambda)`.
:func:`md_vi_averaged` implements that form as an independent code path.

Munchausen VI (Vieillard, Pietquin, Geist 2020, Sec. 3):
:math:`\pi_{k+1} = \operatorname{softmax}(q_k/\tau)`,
:math:`q_{k+1} = r + \alpha\tau\ln\pi_{k+1}
+ \gamma P\langle\pi_{k+1}, q_k - \tau\ln\pi_{k+1}\rangle`;
their Thm. 1: with :math:`q'_k = q_k - \alpha\tau\ln\pi_k` it is exactly MD-VI with
:math:`\lambda = \alpha\tau` and entropy :math:`(1-\alpha)\tau`.

MVI(q) (Zhu, Chen, Schlegel, White, "General Munchausen Reinforcement Learning with Tsallis
Kullback-Leibler Divergence", NeurIPS 2023; arXiv title "Generalized Munchausen Reinforcement
Learning using Tsallis KL Divergence"): the logarithm is replaced by the q-logarithm and the
softmax by the Tsallis-entropy greedy policy,

.. math::

    \pi_{k+1} = \operatorname*{arg\,max}_\pi \langle\pi, q_k\rangle
        - \tau\langle\pi,\ln_q\pi\rangle,
    \qquad
    q_{k+1} = r + \alpha\tau\ln_q\pi_{k+1}
        + \gamma P\langle\pi_{k+1}, q_k - \tau\ln_q\pi_{k+1}\rangle,

with :math:`\ln_q x = (x^{q-1}-1)/(q-1)` (so :math:`\langle\pi,\ln_q\pi\rangle` is the
:class:`~tabular_rl.regularizers.Tsallis` :math:`\Omega` and :math:`\ln_q 0 = -1/(q-1)` is finite
for :math:`q > 1`); :math:`q = 1` is MVI. (The full text of the NeurIPS 2023 paper could not be
retrieved while writing this module; the update is the one the paper's abstract and the
Munchausen construction describe, in the index convention of our ``Tsallis`` regularizer;
whether the paper uses this convention or Tsallis' :math:`\ln_q x = (x^{1-q}-1)/(1-q)`, i.e.
the index :math:`2-q`, which changes the Munchausen bonus, could not be verified.)

Fixed point of MVI(q), derived here (exact, by the KKT conditions of the Tsallis greedy step):
if :math:`\bar\pi = \mathcal G_{\tau,q}(\bar q)` and :math:`q' = \bar q - \alpha\tau\ln_q\bar\pi`,
then :math:`\bar\pi = \mathcal G_{\tau(1-\alpha/q),\,q}(q')` identically, and at a fixed point
:math:`q' = r + \gamma P\big(\langle\bar\pi, q'\rangle - (1-\alpha)\tau\,\Omega_q(\bar\pi)\big)`,
i.e. :math:`q'` is the :math:`(1-\alpha)\tau`-Tsallis-regularized q-function of :math:`\bar\pi`.
For :math:`q = 1` the two temperatures agree and :math:`q'` is the Shannon
:math:`(1-\alpha)\tau` optimum; for :math:`\alpha = 0` it is the Tsallis :math:`\tau` optimum.

References
----------
.. [1] N. Vieillard, T. Kozuno, B. Scherrer, O. Pietquin, R. Munos, M. Geist, "Leverage the
   Average: an Analysis of KL Regularization in Reinforcement Learning", NeurIPS 2020
   (arXiv:2003.14089).
.. [2] N. Vieillard, O. Pietquin, M. Geist, "Munchausen Reinforcement Learning", NeurIPS 2020,
   Thm. 1.
.. [3] L. Zhu, Z. Chen, M. Schlegel, M. White, "General Munchausen Reinforcement Learning with
   Tsallis Kullback-Leibler Divergence", NeurIPS 2023 (arXiv:2301.11476, "Generalized
   Munchausen Reinforcement Learning using Tsallis KL Divergence").
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .. import _validation as V
from ..bellman import greedy_policy, q_values
from ..evaluation import q_function
from ..exceptions import ConvergenceError, ConvergenceWarning
from ..mdp import FiniteMDP, require_finite_mdp
from ..regularizers import TSALLIS_SHANNON_ATOL, Shannon, Tsallis
from ..soft_bellman import regularized_q_function

__all__ = [
    "MDVIResult",
    "md_vi",
    "md_vi_averaged",
    "munchausen_vi",
    "q_log",
    "tsallis_munchausen_vi",
]

Noise = Callable[[int, np.random.Generator], np.ndarray]


@dataclass(frozen=True)
class MDVIResult:
    r"""Iterates of an MD-VI-type scheme.

    Attributes
    ----------
    q : ndarray (S, A)
        Last iterate :math:`q_K`.
    policy : ndarray (S, A)
        Last policy :math:`\pi_K` (greedy with respect to :math:`q_{K-1}`).
    log_policy : ndarray (S, A) or None
        :math:`\log\pi_K`, finite (computed in log space); ``None`` for hard-greedy or
        Tsallis policies, whose zeros have no finite logarithm.
    iterations : int
        :math:`K`.
    lam, tau : float
        KL and entropy weights of the equivalent MD-VI scheme (for MVI: :math:`\alpha\tau` and
        :math:`(1-\alpha)\tau`; for MVI(q): the Tsallis ``tau``).
    errors : ndarray (K,) or None
        :math:`\|q_{\mathrm{ref}} - q^{\pi_k}_{\mathrm{reg}}\|_\infty` for :math:`k = 1..K`: the
        unregularized optimum and :math:`q^{\pi_k}` when ``tau == 0``; the Shannon(:math:`\tau`)
        regularized optimum and regularized :math:`q^{\pi_k}` when ``tau > 0``.
    q_errors : ndarray (K+1,) or None
        :math:`\|q_k - q_{\mathrm{ref}}\|_\infty` for :math:`k = 0..K`.
    residuals : ndarray (K,)
        :math:`\|q_k - q_{k-1}\|_\infty`.
    q_history : ndarray (K+1, S, A) or None
        :math:`q_0, \dots, q_K` (with ``record="history"``).
    policy_history : ndarray (K, S, A) or None
        :math:`\pi_1, \dots, \pi_K`.
    log_policy_history : ndarray (K, S, A) or None
        :math:`\log\pi_1, \dots, \log\pi_K` (softmax schemes only).
    noise_history : ndarray (K, S, A) or None
        The injected :math:`\epsilon_1, \dots, \epsilon_K`.
    converged : bool
        For runs with a ``tol``: whether :math:`\|q_K - q_{K-1}\|_\infty \le` ``tol``.
    method : str
    """

    q: np.ndarray
    policy: np.ndarray
    log_policy: np.ndarray | None
    iterations: int
    lam: float
    tau: float
    errors: np.ndarray | None
    q_errors: np.ndarray | None
    residuals: np.ndarray
    q_history: np.ndarray | None = None
    policy_history: np.ndarray | None = None
    log_policy_history: np.ndarray | None = None
    noise_history: np.ndarray | None = None
    converged: bool = True
    method: str = ""


# ----------------------------------------------------------------------------- helpers


def _lse(z: np.ndarray) -> np.ndarray:
    """Row-wise log-sum-exp over the last axis (shifted; ``z`` finite)."""
    m = z.max(axis=-1, keepdims=True)
    return m[..., 0] + np.log(np.exp(z - m).sum(axis=-1))


def _log_softmax(z: np.ndarray) -> np.ndarray:
    return z - _lse(z)[..., None]


def q_log(x, q: float) -> np.ndarray:
    r"""The q-logarithm :math:`\ln_q x = (x^{q-1} - 1)/(q - 1)`, :math:`\ln_1 = \ln`.

    Evaluated as :math:`\mathrm{expm1}((q-1)\ln x)/(q-1)`, accurate as :math:`q \to 1`; for
    :math:`q > 1`, :math:`\ln_q 0 = -1/(q-1)` is finite. With this convention
    :math:`\langle\pi, \ln_q\pi\rangle = (\sum_a\pi_a^q - 1)/(q-1)`, the :math:`\Omega` of
    :class:`~tabular_rl.regularizers.Tsallis`.

    Examples
    --------
    >>> import numpy as np
    >>> q_log(np.array([0.0, 0.25, 1.0]), 2.0).tolist()
    [-1.0, -0.75, 0.0]
    """
    x = np.asarray(x, dtype=np.float64)
    q = float(q)
    if q == 1.0:
        with np.errstate(divide="ignore"):
            return np.log(x)
    k1 = q - 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.expm1(k1 * np.log(x)) / k1
    return np.where(x > 0, out, -1.0 / k1 if k1 > 0 else -np.inf)


def _rng(seed) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _noise_fn(noise, noise_scale: float, shape) -> Noise | None:
    if noise is not None and noise_scale:
        raise ValueError("give either noise (a callable) or noise_scale, not both")
    if noise is not None:
        if not callable(noise):
            raise TypeError(f"noise must be callable(k, rng) -> (S, A) array, got "
                            f"{type(noise).__name__}")
        return noise
    if noise_scale:
        return lambda k, rng: rng.normal(0.0, noise_scale, shape)
    return None


def _draw(noise: Noise | None, k: int, rng, shape) -> np.ndarray | None:
    if noise is None:
        return None
    eps = np.asarray(noise(k, rng), dtype=np.float64)
    if eps.shape != shape:
        raise ValueError(f"noise({k}, rng) has shape {eps.shape}, expected {shape}")
    V.check_finite(f"noise({k})", eps)
    return eps


def _reference(mdp: FiniteMDP, tau: float) -> np.ndarray:
    """The optimum the scheme targets: q* (tau = 0) or the Shannon(tau) optimum."""
    from .dp import policy_iteration
    from .soft_dp import soft_policy_iteration

    if tau == 0.0:
        return policy_iteration(mdp).q
    scale = (float(np.abs(mdp.r).max()) + tau * np.log(mdp.A) + 1e-300) / (1.0 - mdp.gamma)
    return soft_policy_iteration(mdp, Shannon(tau), tol=1e-9 * scale, max_iter=10_000).q


def _policy_q(mdp: FiniteMDP, pi: np.ndarray, tau: float) -> np.ndarray:
    if tau == 0.0:
        return q_function(mdp, pi)
    return regularized_q_function(mdp, pi, Shannon(tau))


def _check_common(mdp, n_iter, m, q0, record):
    require_finite_mdp(mdp, "md_vi")
    n_iter = V.check_positive_int("n_iter", n_iter)
    m = V.check_positive_int("m", m)
    if record not in ("none", "errors", "history", "iterates"):
        raise ValueError(f"record must be 'none', 'errors', 'history' or 'iterates', got "
                         f"{record!r}")
    if q0 is None:
        q = np.zeros((mdp.S, mdp.A))
    else:
        q = V.as_float_array("q0", q0, 2).copy()
        V.check_shape("q0", q, (mdp.S, mdp.A), "(S, A) action values")
        V.check_finite("q0", q)
    return n_iter, m, q


class _Recorder:
    """Collects histories and per-iteration errors."""

    def __init__(self, mdp, record, q0, tau_err, reference, n_iter, q_shift=None):
        self.mdp, self.record, self.tau_err = mdp, record, tau_err
        self.want_err = record in ("errors", "history")
        self.ref = self.q_ref = None
        if self.want_err:
            self.ref = (_reference(mdp, tau_err) if reference is None
                        else V.as_float_array("reference", reference, 2))
            self.q_ref = self.ref if q_shift is None else self.ref + q_shift(self.ref)
        self.errors, self.q_errors, self.residuals = [], [], []
        self.qs, self.pis, self.logpis, self.eps = [q0.copy()], [], [], []
        if self.want_err:
            self.q_errors.append(float(np.abs(q0 - self.q_ref).max()))

    def add(self, q_new, q_old, pi, logpi, eps):
        self.residuals.append(float(np.abs(q_new - q_old).max()))
        if self.want_err:
            self.errors.append(float(np.abs(self.ref - _policy_q(self.mdp, pi,
                                                                 self.tau_err)).max()))
            self.q_errors.append(float(np.abs(q_new - self.q_ref).max()))
        if self.record in ("history", "iterates"):
            self.qs.append(q_new.copy())
            self.pis.append(pi.copy())
            if logpi is not None:
                self.logpis.append(logpi.copy())
            if eps is not None:
                self.eps.append(eps)

    def result(self, q, pi, logpi, k, lam, tau, method, converged=True) -> MDVIResult:
        hist = self.record in ("history", "iterates")
        return MDVIResult(
            q=q, policy=pi, log_policy=logpi, iterations=k, lam=lam, tau=tau,
            errors=np.array(self.errors) if self.want_err else None,
            q_errors=np.array(self.q_errors) if self.want_err else None,
            residuals=np.array(self.residuals),
            q_history=np.stack(self.qs) if hist else None,
            policy_history=np.stack(self.pis) if hist and self.pis else None,
            log_policy_history=np.stack(self.logpis) if hist and self.logpis else None,
            noise_history=np.stack(self.eps) if hist and self.eps else None,
            converged=converged, method=method)


def _apply_evaluation(mdp, q, pi, reg_term, m):
    r""":math:`(T_{\pi,\cdot})^m q` with the fixed per-state regularization ``reg_term``."""
    for _ in range(m):
        q = q_values(mdp, np.einsum("sa,sa->s", pi, q) + reg_term)
    return q


def _stop(converged: bool, strict: bool, method: str, k: int, res: float, tol: float):
    if converged:
        return
    msg = (f"{method}: ||q_k - q_(k-1)||_inf = {res:.3g} > tol = {tol:.3g} after {k} "
           f"iterations; raise n_iter")
    if strict:
        raise ConvergenceError(msg)
    warnings.warn(msg, ConvergenceWarning, stacklevel=3)


# ----------------------------------------------------------------------------- MD-VI


def md_vi(mdp: FiniteMDP, *, lam: float, tau: float = 0.0, n_iter: int, m: int = 1,
          noise: Noise | None = None, noise_scale: float = 0.0, seed=None, q0=None,
          log_pi0=None, record: str = "errors", reference=None, tol: float | None = None,
          strict: bool = False, q_clip: float | None = None) -> MDVIResult:
    r"""MD-VI / MD-MPI with KL weight ``lam`` and entropy weight ``tau`` (Vieillard et al. 2020).

    .. math::

        \log\pi_{k+1} &= \beta\log\pi_k + \frac{q_k}{\lambda+\tau}
            - \log\sum_a \pi_k^{\beta} e^{q_k/(\lambda+\tau)}, \qquad
            \beta = \frac{\lambda}{\lambda+\tau}, \\
        q_{k+1} &= \big(T^{\lambda,\tau}_{\pi_{k+1}|\pi_k}\big)^m q_k + \epsilon_{k+1}, \qquad
        T^{\lambda,\tau}_{\pi_{k+1}|\pi_k} q = r + \gamma P\big(\langle\pi_{k+1}, q\rangle
            - \lambda\mathrm{KL}(\pi_{k+1}\|\pi_k) + \tau\mathcal H(\pi_{k+1})\big).

    ``lam = tau = 0`` gives approximate VI with a hard (first-argmax) greedy step; ``lam = 0``
    gives soft VI. With ``m = 1`` the regularized value is taken as the log-sum-exp
    :math:`(\lambda+\tau)\log\sum_a\pi_k^\beta e^{q_k/(\lambda+\tau)}` (exact identity).

    Parameters
    ----------
    mdp : FiniteMDP
        Dense or CSR kernel.
    lam, tau : float
        KL and entropy weights, :math:`\ge 0`.
    n_iter : int
        Number of iterations :math:`K` (maximum number when ``tol`` is given).
    m : int
        Evaluation steps per iteration (MD-MPI); ``m = 1`` is MD-VI.
    noise : callable, optional
        ``noise(k, rng) -> (S, A)`` error :math:`\epsilon_k` added to :math:`q_k`, ``k >= 1``.
    noise_scale : float
        Alternatively i.i.d. :math:`\mathcal N(0, \sigma^2)` errors of this scale.
    seed : int or Generator, optional
        Seeds the ``rng`` handed to the noise.
    q0 : array_like (S, A), optional
        Initial :math:`q_0` (default 0).
    log_pi0 : array_like (S, A), optional
        :math:`\log\pi_0` (default uniform); finite entries.
    record : {"errors", "history", "iterates", "none"}
        ``"errors"`` records :math:`\|q_{\mathrm{ref}} - q^{\pi_k}\|_\infty` (one exact
        policy evaluation per iteration) and :math:`\|q_k - q_{\mathrm{ref}}\|_\infty`;
        ``"history"`` also keeps every iterate; ``"iterates"`` keeps the iterates only.
    reference : array_like (S, A), optional
        :math:`q_{\mathrm{ref}}`; default :math:`q^*` (``tau == 0``, by policy iteration) or the
        Shannon(``tau``) regularized optimum (by soft policy iteration): the fixed point of
        the noiseless scheme, since at :math:`\pi_{k+1} = \pi_k` the greedy step is
        :math:`\pi \propto e^{q/\tau}` and the KL term vanishes.
    tol : float, optional
        Stop once :math:`\|q_k - q_{k-1}\|_\infty \le` ``tol``; not reaching it warns
        (:class:`~tabular_rl.exceptions.ConvergenceWarning`) or raises when ``strict``.
    q_clip : float, optional
        :math:`c > 0`: clip every :math:`q_{k+1}` (after the error is added) to
        :math:`[-c, c]`, the way Vieillard et al. (2020, Remark 1) enforce Thm. 1's hypothesis
        :math:`\|q_k\|_\infty \le v_{\max}`. The recorded ``noise_history`` is then the
        *effective* error :math:`\epsilon_{k+1} = q_{k+1} - (T^{\lambda,\tau})^m q_k`
        (clipping included).

    Returns
    -------
    MDVIResult

    References
    ----------
    .. [1] Vieillard, Kozuno, Scherrer, Pietquin, Munos, Geist, "Leverage the Average: an
       Analysis of KL Regularization in Reinforcement Learning", NeurIPS 2020, Eq. (1)
       (MD-VI) and Sec. 3 (MD-MPI); Remark 1 (clipping).

    Examples
    --------
    >>> import numpy as np
    >>> from tabular_rl import FiniteMDP
    >>> mdp = FiniteMDP(np.ones((1, 2, 1)), [[1.0, 0.0]], gamma=0.5)
    >>> res = md_vi(mdp, lam=1.0, n_iter=60, record="errors")
    >>> bool(res.errors[-1] < 1e-10), res.policy.argmax(axis=1).tolist()
    (True, [0])
    """
    lam = V.check_real_scalar("lam", lam, 0.0, np.inf)
    tau = V.check_real_scalar("tau", tau, 0.0, np.inf)
    n_iter, m, q = _check_common(mdp, n_iter, m, q0, record)
    if q_clip is not None:
        q_clip = V.check_real_scalar("q_clip", q_clip, 0.0, np.inf, lo_open=True)
    S, A = mdp.S, mdp.A
    eta = lam + tau
    beta = lam / eta if eta > 0 else 0.0
    if log_pi0 is None:
        logpi = np.full((S, A), -np.log(A))
    else:
        logpi = V.as_float_array("log_pi0", log_pi0, 2)
        V.check_shape("log_pi0", logpi, (S, A), "(S, A) log-policy")
        V.check_finite("log_pi0", logpi)
        logpi = _log_softmax(logpi)
    noise_f = _noise_fn(noise, noise_scale, (S, A))
    rng = _rng(seed)
    rec = _Recorder(mdp, record, q, tau, reference, n_iter)
    method = f"md_vi(lam={lam:g}, tau={tau:g}, m={m})"
    pi = np.exp(logpi)
    new_log = None
    k = 0
    converged = tol is None
    for k in range(1, n_iter + 1):
        if eta > 0:
            z = beta * logpi + q / eta
            lse = _lse(z)
            new_log = z - lse[:, None]
            pi = np.exp(new_log)
            if m == 1:
                v = eta * lse
                q_new = q_values(mdp, v)
            else:
                # -lam KL(pi'||pi) + tau H(pi') per state, in log space (finite logs).
                reg = -np.einsum("sa,sa->s", pi, lam * (new_log - logpi) + tau * new_log)
                q_new = _apply_evaluation(mdp, q, pi, reg, m)
        else:
            pi = greedy_policy(q)
            q_new = _apply_evaluation(mdp, q, pi, np.zeros(S), m)
        eps = _draw(noise_f, k, rng, (S, A))
        if eps is not None:
            q_new = q_new + eps
        if q_clip is not None:
            exact = q_new if eps is None else q_new - eps
            q_new = np.clip(q_new, -q_clip, q_clip)
            eps = q_new - exact
        rec.add(q_new, q, pi, new_log, eps)
        q = q_new
        if new_log is not None:
            logpi = new_log
        if tol is not None and rec.residuals[-1] <= tol:
            converged = True
            break
    if tol is not None:
        _stop(converged, strict, method, k, rec.residuals[-1], tol)
    return rec.result(q, pi, new_log, k, lam, tau, method, converged)


def md_vi_averaged(mdp: FiniteMDP, *, lam: float, tau: float = 0.0, n_iter: int,
                   noise: Noise | None = None, noise_scale: float = 0.0, seed=None, q0=None,
                   record: str = "errors", reference=None) -> MDVIResult:
    r"""MD-VI in its averaged form (Vieillard et al. 2020, Sec. 3), from a uniform
    :math:`\pi_0`; an independent implementation of :func:`md_vi` with ``m = 1``.

    .. math::

        \bar h_k &= \frac{1-\beta}{1-\beta^{k+1}}\sum_{j=0}^{k}\beta^{k-j}q_j
            \quad(\tau = 0:\ \bar h_k = \tfrac{1}{k+1}\textstyle\sum_{j\le k} q_j), \qquad
        t_{k+1} = \frac{\tau}{1-\beta^{k+1}}\quad(\tau = 0:\ \tfrac{\lambda}{k+1}), \\
        \pi_{k+1} &= \operatorname{softmax}(\bar h_k / t_{k+1}), \qquad
        q_{k+1} = r + \gamma P\,(\lambda+\tau)\Big[\operatorname{lse}\big(\bar h_k/t_{k+1}\big)
            - \beta\operatorname{lse}\big(\bar h_{k-1}/t_k\big)\Big] + \epsilon_{k+1},

    with :math:`\operatorname{lse}(\bar h_{-1}/t_0) = \log A`. Requires ``lam > 0``.
    Parameters and result as in :func:`md_vi`.
    """
    lam = V.check_real_scalar("lam", lam, 0.0, np.inf, lo_open=True)
    tau = V.check_real_scalar("tau", tau, 0.0, np.inf)
    n_iter, _, q = _check_common(mdp, n_iter, 1, q0, record)
    S, A = mdp.S, mdp.A
    eta = lam + tau
    beta = lam / eta
    noise_f = _noise_fn(noise, noise_scale, (S, A))
    rng = _rng(seed)
    rec = _Recorder(mdp, record, q, tau, reference, n_iter)
    h_bar = np.zeros((S, A))
    lse_prev = np.full(S, np.log(A))
    pi = np.full((S, A), 1.0 / A)
    logpi = None
    for k in range(1, n_iter + 1):
        j = k - 1  # h_bar_j averages q_0..q_j
        if tau == 0.0:
            w_new = 1.0 / (j + 1)
            t = lam / (j + 1)
        else:
            bj = beta ** (j + 1)
            w_new = (1.0 - beta) / (1.0 - bj)
            t = tau / (1.0 - bj)
        # Running weighted average: h_j = (1 - w) h_{j-1} + w q_j (both forms).
        h_bar = (1.0 - w_new) * h_bar + w_new * q
        z = h_bar / t
        lse = _lse(z)
        logpi = z - lse[:, None]
        pi = np.exp(logpi)
        v = eta * (lse - beta * lse_prev)
        q_new = q_values(mdp, v)
        eps = _draw(noise_f, k, rng, (S, A))
        if eps is not None:
            q_new = q_new + eps
        rec.add(q_new, q, pi, logpi, eps)
        q, lse_prev = q_new, lse
    return rec.result(q, pi, logpi, n_iter, lam, tau, f"md_vi_averaged(lam={lam:g}, "
                      f"tau={tau:g})")


# ----------------------------------------------------------------------------- Munchausen


def munchausen_vi(mdp: FiniteMDP, *, tau: float, alpha: float = 0.9, n_iter: int,
                  clip: float | None = None, noise: Noise | None = None,
                  noise_scale: float = 0.0, seed=None, q0=None, record: str = "errors",
                  reference=None, tol: float | None = None,
                  strict: bool = False) -> MDVIResult:
    r"""Munchausen value iteration (Vieillard, Pietquin, Geist, NeurIPS 2020, Sec. 3).

    .. math::

        \pi_{k+1} = \operatorname{softmax}(q_k/\tau), \qquad
        q_{k+1} = r + \alpha\,[\tau\ln\pi_{k+1}]_{\ell_0}^{0}
            + \gamma P\langle\pi_{k+1}, q_k - \tau\ln\pi_{k+1}\rangle + \epsilon_{k+1}.

    Thm. 1 of the paper: :math:`q'_k = q_k - \alpha\tau\ln\pi_k` follows MD-VI with
    :math:`\lambda = \alpha\tau` and entropy :math:`(1-\alpha)\tau` (without clipping), so the
    noiseless scheme converges to :math:`q'_* + \alpha\tau\ln\pi_*`, with :math:`q'_*` the
    Shannon(:math:`(1-\alpha)\tau`) optimum. ``errors`` are measured for :math:`\pi_k` against
    that optimum (regularized at :math:`(1-\alpha)\tau`; unregularized when ``alpha == 1``);
    ``q_errors`` against :math:`q'_* + \alpha\tau\ln\pi_*` (against :math:`q'_*` when
    ``alpha == 1``, where :math:`\ln\pi_*` is not finite).

    Parameters
    ----------
    tau : float
        Temperature :math:`> 0`.
    alpha : float
        Munchausen coefficient in :math:`[0, 1]`.
    clip : float, optional
        :math:`\ell_0 < 0`: clip the scaled log-policy :math:`\tau\ln\pi` to
        :math:`[\ell_0, 0]` (the paper uses :math:`\ell_0 = -1` with networks); default exact.
    Other parameters as in :func:`md_vi`.
    """
    tau = V.check_real_scalar("tau", tau, 0.0, np.inf, lo_open=True)
    alpha = V.check_real_scalar("alpha", alpha, 0.0, 1.0, hi_open=False)
    if clip is not None:
        clip = V.check_real_scalar("clip", clip, -np.inf, 0.0)
    n_iter, _, q = _check_common(mdp, n_iter, 1, q0, record)
    S, A = mdp.S, mdp.A
    noise_f = _noise_fn(noise, noise_scale, (S, A))
    rng = _rng(seed)
    tau_err = (1.0 - alpha) * tau
    shift = None
    if tau_err > 0:
        def shift(ref):  # the MVI fixed point is q'_* + alpha tau ln pi_*
            return alpha * tau * _log_softmax(ref / tau_err)
    rec = _Recorder(mdp, record, q, tau_err, reference, n_iter, shift)
    method = f"munchausen_vi(tau={tau:g}, alpha={alpha:g})"
    logpi = np.full((S, A), -np.log(A))
    pi = np.exp(logpi)
    k = 0
    converged = tol is None
    for k in range(1, n_iter + 1):
        z = q / tau
        lse = _lse(z)
        logpi = z - lse[:, None]
        pi = np.exp(logpi)
        # <pi, q - tau ln pi> = tau * logsumexp(q / tau) exactly.
        q_new = q_values(mdp, tau * lse)
        bonus = tau * logpi
        if clip is not None:
            bonus = np.clip(bonus, clip, 0.0)
        q_new = q_new + alpha * bonus
        eps = _draw(noise_f, k, rng, (S, A))
        if eps is not None:
            q_new = q_new + eps
        rec.add(q_new, q, pi, logpi, eps)
        q = q_new
        if tol is not None and rec.residuals[-1] <= tol:
            converged = True
            break
    if tol is not None:
        _stop(converged, strict, method, k, rec.residuals[-1], tol)
    return rec.result(q, pi, logpi, k, alpha * tau, tau_err, method, converged)


def tsallis_munchausen_vi(mdp: FiniteMDP, *, tau: float, q_index: float, alpha: float = 0.9,
                          n_iter: int = 10_000, tol: float | None = 1e-10, q0=None,
                          record: str = "none", strict: bool = False) -> MDVIResult:
    r"""MVI(q): Munchausen VI with the q-logarithm and Tsallis-greedy policies
    (Zhu, Chen, Schlegel, White, NeurIPS 2023).

    .. math::

        \pi_{k+1} = \mathcal G_{\tau,q}(q_k) = \operatorname*{arg\,max}_\pi
            \langle\pi, q_k\rangle - \tau\langle\pi, \ln_q\pi\rangle, \qquad
        q_{k+1} = r + \alpha\tau\ln_q\pi_{k+1} + \gamma P\,\Omega^*_{\tau,q}(q_k),

    with :math:`\Omega^*_{\tau,q}(q_k) = \langle\pi_{k+1}, q_k - \tau\ln_q\pi_{k+1}\rangle` the
    :class:`~tabular_rl.regularizers.Tsallis` conjugate and :func:`q_log` the q-logarithm
    (finite at 0 for :math:`q > 1`, so sparse policies need no special case). ``q_index = 1``
    (or within ``1e-6`` of it, where ``Tsallis`` uses the Shannon formulas) is
    :func:`munchausen_vi`. Iterates until :math:`\|q_k - q_{k-1}\|_\infty \le` ``tol`` (a
    :class:`~tabular_rl.exceptions.ConvergenceWarning` if ``n_iter`` is reached first).

    ``record="history"`` keeps the iterates; errors are not computed (the fixed point is
    characterized in the module docstring). ``log_policy`` is ``None`` (zeros allowed).
    """
    tau = V.check_real_scalar("tau", tau, 0.0, np.inf, lo_open=True)
    alpha = V.check_real_scalar("alpha", alpha, 0.0, 1.0, hi_open=False)
    qi = V.check_real_scalar("q_index", q_index, 1.0, np.inf)
    n_iter, _, q = _check_common(mdp, n_iter, 1, q0, record)
    reg = Tsallis(tau, qi)
    shannon = qi - 1.0 <= TSALLIS_SHANNON_ATOL
    rec = _Recorder(mdp, "iterates" if record in ("history", "iterates") else "none", q, 0.0,
                    None, n_iter)
    method = f"tsallis_munchausen_vi(tau={tau:g}, q={qi:g}, alpha={alpha:g})"
    pi = np.full((mdp.S, mdp.A), 1.0 / mdp.A)
    k = 0
    converged = tol is None
    for k in range(1, n_iter + 1):
        if shannon:
            z = q / tau
            lse = _lse(z)
            lq = z - lse[:, None]
            pi = np.exp(lq)
            v = tau * lse
        else:
            v, pi = reg.max_omega(q)
            lq = q_log(pi, qi)
        q_new = q_values(mdp, v) + alpha * tau * lq
        rec.add(q_new, q, pi, None, None)
        q = q_new
        if tol is not None and rec.residuals[-1] <= tol:
            converged = True
            break
    if tol is not None:
        _stop(converged, strict, method, k, rec.residuals[-1], tol)
    return rec.result(q, pi, None, k, alpha * tau, tau, method, converged)
