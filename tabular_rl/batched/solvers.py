r"""Batched exact solvers on the array API: thousands of small dense MDPs in one call.

A batch is ``P`` of shape ``(B, S, A, S)``, ``r`` of shape ``(B, S, A)`` and ``gamma`` a
float or an array ``(B,)``; arrays of any array-API library work (numpy on the CPU, CuPy on a
GPU — results come back as arrays of the same library and device, with no host transfer
inside a sweep), and each function is written once against the standard
(:mod:`array_api_compat`).

- :func:`batched_bellman` — the backup :math:`q_b = r_b + \gamma_b P_b v_b` as one batched
  matrix product ``(B, S*A, S) @ (B, S, 1)``;
- :func:`batched_value_iteration` — (soft) value iteration with the MacQueen certificate per
  MDP (Puterman 1994, Prop. 6.6.1; Geist et al. 2019, Prop. 2 for the regularized operator);
- :func:`batched_policy_evaluation` — :math:`(I - \gamma P_\pi)^{-1}(r_\pi - \tau\Omega(\pi))`
  by one batched ``linalg.solve``;
- :func:`batched_policy_mirror_descent` — exact KL policy mirror descent
  :math:`\pi_{k+1} \propto \pi_k \exp(\eta_k q^{\pi_k})`, in log space (Xiao 2022, Sec. 4).

The stopping test needs one scalar on the host (the largest certified bound of the batch);
it is read every ``check_every`` sweeps, so an accelerator runs ``check_every`` sweeps
without a synchronization.

References
----------
.. [1] M. L. Puterman, *Markov Decision Processes*, Wiley, 1994, Prop. 6.6.1.
.. [2] M. Geist, B. Scherrer, O. Pietquin, "A Theory of Regularized Markov Decision
   Processes", ICML 2019.
.. [3] L. Xiao, "On the Convergence Rates of Policy Gradient Methods", JMLR 23, 2022.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from ..exceptions import ConvergenceError, ConvergenceWarning
from ._xp import namespace, one_hot_argmax
from .greedy import greedy_step, regularizer_value

__all__ = [
    "BatchedSolution",
    "batched_bellman",
    "batched_policy_evaluation",
    "batched_policy_iteration",
    "batched_policy_mirror_descent",
    "batched_value_iteration",
    "check_batch",
]

_U = 2.0**-53


@dataclass(frozen=True)
class BatchedSolution:
    """What the batched solvers return (arrays of the input's library and device).

    Attributes
    ----------
    v : (B, S)
        Certified value estimates (the centres of the MacQueen boxes).
    q : (B, S, A)
        :math:`r + \\gamma P v`.
    policy : (B, S, A)
        Greedy (regularized greedy) policies for the last iterate.
    error_bound : (B,)
        Proven bounds on :math:`\\|v_b - v^*_b\\|_\\infty`.
    policy_gap_bound : (B,)
        Proven bounds on :math:`\\|v^*_b - v^{\\pi_b}_b\\|_\\infty` (regularized values).
    iterations : int
        Sweeps run (the largest number over the batch).
    converged : bool
        Whether every bound is at most ``tol``.
    sweeps : (B,) int array, or None
        Sweeps per model, when models stop individually (the CPU kernel); ``None`` when the
        whole batch sweeps together.
    """

    v: object
    q: object
    policy: object
    error_bound: object
    policy_gap_bound: object
    iterations: int
    converged: bool
    sweeps: object = None


def check_batch(P, r, gamma):
    """Validate a batch once; returns ``(xp, P, r, gamma as (B, 1) array)``.

    Errors name the first offending index and value, as the per-MDP constructors do.
    """
    xp = namespace(P, r)
    if P.ndim != 4 or P.shape[1] != P.shape[3]:
        raise ValueError(f"P must have shape (B, S, A, S), got {tuple(P.shape)}")
    B, S, A, _ = P.shape
    if tuple(r.shape) != (B, S, A):
        raise ValueError(f"r must have shape (B, S, A) = {(B, S, A)}, got {tuple(r.shape)}")
    if not xp.isdtype(P.dtype, "real floating") or not xp.isdtype(r.dtype, "real floating"):
        raise TypeError(f"P and r must be real floating arrays, got {P.dtype} and {r.dtype}")
    bad = ~(xp.isfinite(P) & (P >= 0))
    if bool(xp.any(bad)):
        i = _first(xp, bad)
        raise ValueError(f"P[{', '.join(map(str, i))}] = {float(P[i])} is not a finite "
                         f"nonnegative probability")
    dev = xp.abs(xp.sum(P, axis=-1) - 1.0)
    if bool(xp.any(dev > 1e-9)):
        i = _first(xp, dev > 1e-9)
        raise ValueError(f"P[{', '.join(map(str, i))}, :] sums to "
                         f"{float(xp.sum(P[i], axis=-1)):.12g}, not 1 (tolerance 1e-09)")
    if not bool(xp.all(xp.isfinite(r))):
        i = _first(xp, ~xp.isfinite(r))
        raise ValueError(f"r[{', '.join(map(str, i))}] = {float(r[i])} is not finite")
    g = xp.asarray(gamma, dtype=P.dtype, device=getattr(P, "device", None))
    g = xp.broadcast_to(g, (B,)) if g.ndim == 0 else g
    if tuple(g.shape) != (B,):
        raise ValueError(f"gamma must be a float or have shape (B,) = ({B},), got "
                         f"{tuple(g.shape)}")
    badg = ~((g >= 0) & (g < 1))
    if bool(xp.any(badg)):
        i = _first(xp, badg)
        raise ValueError(f"gamma[{i[0]}] = {float(g[i])} is not in [0, 1)")
    return xp, P, r, xp.reshape(g, (B, 1))


def _first(xp, mask) -> tuple[int, ...]:
    """Index of the first ``True`` of a boolean array (host-side, for error messages)."""
    flat = xp.reshape(mask, (-1,))
    k = int(xp.argmax(xp.astype(flat, xp.int8)))
    idx = []
    for n in reversed(mask.shape):
        idx.append(k % n)
        k //= n
    return tuple(reversed(idx))


def batched_bellman(P, r, gamma, v):
    r""":math:`q_b(s, a) = r_b(s, a) + \gamma_b \sum_{s'} P_b(s' \mid s, a)\, v_b(s')`,
    ``(B, S, A)``; ``gamma`` is ``(B, 1)`` as returned by :func:`check_batch`."""
    xp = namespace(P, v)
    B, S, A, _ = P.shape
    Pv = xp.matmul(xp.reshape(P, (B, S * A, S)), v[:, :, None])
    return r + xp.reshape(gamma, (B, 1, 1)) * xp.reshape(Pv, (B, S, A))


def batched_value_iteration(P, r, gamma, *, reg=None, tol: float = 1e-8,
                            max_iter: int = 100_000, check_every: int = 8,
                            strict: bool = False) -> BatchedSolution:
    r"""Value iteration (or soft value iteration with ``reg``) on a batch of dense MDPs.

    .. math::

        v_{k+1} = \Omega^*_\tau(r + \gamma P v_k) \quad (\max_a \text{ without } reg)

    Every ``check_every`` sweeps the MacQueen half-width
    :math:`\tfrac{\gamma_b}{1-\gamma_b}\mathrm{sp}(Tv_b - v_b)/2` plus the rounding of one
    sweep is computed for every MDP; the batch stops when the largest is at most ``tol``.
    The returned ``v`` is the box centre per MDP, so ``error_bound`` is proven (as in
    :func:`tabular_rl.certify`).

    Parameters
    ----------
    P : array (B, S, A, S)
    r : array (B, S, A)
    gamma : float or array (B,)
    reg : Shannon, KL, Tsallis or None
    tol : float
        Certified bound on :math:`\max_b \|v_b - v^*_b\|_\infty`.
    max_iter : int
    check_every : int
        Sweeps between two host reads of the stopping statistic.
    strict : bool
        Raise :class:`~tabular_rl.ConvergenceError` instead of warning at ``max_iter``.

    Examples
    --------
    >>> import numpy as np
    >>> P = np.ones((2, 1, 2, 1)); r = np.array([[[0.0, 1.0]], [[2.0, 0.0]]])
    >>> sol = batched_value_iteration(P, r, 0.5, tol=1e-12)
    >>> np.round(sol.v, 9)                  # v* = max_a r / (1 - 0.5)
    array([[2.],
           [4.]])
    """
    xp, P, r, g = check_batch(P, r, gamma)
    if not tol > 0:
        raise ValueError(f"tol must be > 0, got {tol!r}")
    if max_iter < 1:
        raise ValueError(f"max_iter must be >= 1, got {max_iter!r}")
    if reg is None and isinstance(P, np.ndarray) and isinstance(r, np.ndarray):
        return _vi_numba(P, r, g, tol, max_iter, strict)
    B, S, A, _ = P.shape
    v = xp.zeros((B, S), dtype=P.dtype, device=getattr(P, "device", None))
    c = g / (1.0 - g)                                                    # (B, 1)
    rmax = xp.max(xp.reshape(xp.abs(r), (B, -1)), axis=1, keepdims=True)
    k = 0
    converged = False
    while k < max_iter:
        k += 1
        Tv, pi = greedy_step(batched_bellman(P, r, g, v), reg)
        if k % check_every == 0 or k == max_iter:
            bound, lo, hi, fp = _box(xp, Tv, v, c, g, rmax, S, A)
            worst = float(xp.max(bound))
            if worst <= tol:
                converged = True
                break
        v = Tv
    if not converged:
        _report_cap(k, worst, tol, strict)
    v_hat = Tv + c * 0.5 * (lo + hi)
    q_hat = batched_bellman(P, r, g, v_hat)
    gap = c[:, 0] * (hi - lo)[:, 0] + 2.0 * fp[:, 0]
    return BatchedSolution(v=v_hat, q=q_hat, policy=pi, error_bound=bound[:, 0],
                           policy_gap_bound=gap, iterations=k, converged=converged)


def _report_cap(k: int, worst: float, tol: float, strict: bool) -> None:
    msg = (f"batched_value_iteration stopped at max_iter={k} with largest certified "
           f"bound {worst:.3g} > tol={tol:g}")
    if strict:
        raise ConvergenceError(msg)
    warnings.warn(msg, ConvergenceWarning, stacklevel=3)


def _vi_numba(P, r, g, tol, max_iter, strict) -> BatchedSolution:
    """CPU path: one numba kernel, parallel over the batch, each model to its own stop."""
    from ._cpu_kernels import vi_per_model

    B, S, A, _ = P.shape
    P = np.ascontiguousarray(P, dtype=np.float64)
    r = np.ascontiguousarray(r, dtype=np.float64)
    gv = np.ascontiguousarray(g[:, 0])
    v, Tv = np.empty((B, S)), np.empty((B, S))
    lo, hi, fp, bound = (np.empty(B) for _ in range(4))
    sweeps = np.empty(B, dtype=np.int64)
    vi_per_model(P, r, gv, float(tol), int(max_iter), v, Tv, lo, hi, fp, bound, sweeps)
    converged = bool(np.all(bound <= tol))
    if not converged:
        _report_cap(int(sweeps.max()), float(bound.max()), tol, strict)
    c = gv / (1.0 - gv)
    v_hat = Tv + (c * 0.5 * (lo + hi))[:, None]
    q_hat = batched_bellman(P, r, g, v_hat)
    pi = one_hot_argmax(np, batched_bellman(P, r, g, v))  # greedy for the last iterate
    return BatchedSolution(v=v_hat, q=q_hat, policy=pi, error_bound=bound,
                           policy_gap_bound=c * (hi - lo) + 2.0 * fp,
                           iterations=int(sweeps.max()), converged=converged, sweeps=sweeps)


def _box(xp, Tv, v, c, g, rmax, S, A):
    """MacQueen half-width plus rounding per MDP, and the span statistics, all ``(B, 1)``."""
    d = Tv - v
    lo = xp.min(d, axis=1, keepdims=True)
    hi = xp.max(d, axis=1, keepdims=True)
    vmax = xp.max(xp.abs(v), axis=1, keepdims=True)
    tmax = xp.max(xp.abs(Tv), axis=1, keepdims=True)
    # inner products of length S (Higham 2002, Thm. 3.1) and the soft max over A actions
    fp = ((S + 4) * _U * (rmax + g * vmax) + (A + 8) * _U * (rmax + vmax + tmax)) / (1.0 - g)
    return c * 0.5 * (hi - lo) + 2.0 * fp, lo, hi, fp


def batched_policy_evaluation(P, r, gamma, pi, *, reg=None):
    r"""Exact (regularized) values of one policy per MDP by one batched linear solve.

    .. math::

        v_b = (I - \gamma_b P_{b,\pi_b})^{-1}\big(r_{b,\pi_b} - \tau\Omega(\pi_b)\big)

    Parameters
    ----------
    pi : array (B, S, A)
        Row-stochastic policies.
    """
    xp, P, r, g = check_batch(P, r, gamma)
    return _evaluate(xp, P, r, g, pi, reg)


def _evaluate(xp, P, r, g, pi, reg=None):
    """Policy evaluation on an already validated batch (``g`` is ``(B, 1)``): the loops of
    PI and PMD call this, so the model is validated once per call, not once per step."""
    B, S, A, _ = P.shape
    Ppi = xp.sum(pi[:, :, :, None] * P, axis=2)                              # (B, S, S)
    rpi = xp.sum(pi * r, axis=2) - regularizer_value(pi, reg)                  # (B, S)
    eye = xp.eye(S, dtype=P.dtype, device=getattr(P, "device", None))
    M = eye[None, :, :] - xp.reshape(g, (B, 1, 1)) * Ppi
    return xp.linalg.solve(M, rpi[:, :, None])[:, :, 0]


def batched_policy_iteration(P, r, gamma, *, max_iter: int = 1_000):
    r"""Howard's policy iteration on a batch, with exact (linear-solve) evaluations.

    .. math::

        v_k = (I - \gamma P_{\pi_k})^{-1} r_{\pi_k}, \qquad
        \pi_{k+1}(s) \in \arg\max_a\ r(s,a) + \gamma P(s,a)^\top v_k,

    where an action changes only if it improves on the current one by more than a few ulps
    of the values (so ties cannot cycle). Terminates in finitely many steps with an optimal
    deterministic policy per model (Puterman 1994, Thm. 6.4.2); the whole batch steps
    together until no model changes.

    Returns
    -------
    policy : (B, S, A) one-hot optimal policies
    v : (B, S) their exact values
    iterations : int
    """
    xp, P, r, g = check_batch(P, r, gamma)
    B, S, A, _ = P.shape
    pi = one_hot_argmax(xp, r)
    for k in range(1, max_iter + 1):
        v = _evaluate(xp, P, r, g, pi)
        q = batched_bellman(P, r, g, v)
        q_cur = xp.sum(pi * q, axis=-1, keepdims=True)
        scale = 1.0 + xp.max(xp.abs(q), axis=-1, keepdims=True)
        better = xp.max(q, axis=-1, keepdims=True) > q_cur + 64 * _U * S * scale
        new = xp.where(better, one_hot_argmax(xp, q), pi)
        if not bool(xp.any(new != pi)):
            return pi, v, k
        pi = new
    warnings.warn(f"batched_policy_iteration: policies still changed after max_iter={max_iter} "
                  "improvement steps", ConvergenceWarning, stacklevel=2)
    return pi, v, max_iter


def batched_policy_mirror_descent(P, r, gamma, *, eta, n_iter: int, pi0=None):
    r"""Exact KL policy mirror descent on a batch, returning every iterate's value.

    .. math::

        \pi_{k+1}(\cdot\mid s) \propto \pi_k(\cdot\mid s)\exp(\eta_k q^{\pi_k}(s, \cdot))

    computed on log-policies (no underflow at large :math:`\eta`). With
    :math:`\eta_k = \eta_0\gamma^{-k}` the suboptimality decays linearly at rate
    :math:`\gamma` (Xiao 2022, Thm. 10).

    Parameters
    ----------
    eta : float, or callable ``k -> float`` (``k = 0, 1, ...``)
    n_iter : int
    pi0 : array (B, S, A), optional
        Initial policies with full support (uniform by default).

    Returns
    -------
    policy : array (B, S, A)
        The last policy.
    values : array (n_iter + 1, B, S)
        :math:`v^{\pi_k}` for ``k = 0..n_iter``.
    """
    xp, P, r, g = check_batch(P, r, gamma)
    B, S, A, _ = P.shape
    step = eta if callable(eta) else (lambda k: eta)
    if pi0 is None:
        logpi = xp.full((B, S, A), -math.log(A), dtype=P.dtype,
                        device=getattr(P, "device", None))
    else:
        logpi = xp.log(pi0)
    values = []
    for k in range(n_iter + 1):
        pi = xp.exp(logpi)
        v = _evaluate(xp, P, r, g, pi)
        values.append(v)
        if k == n_iter:
            break
        z = logpi + float(step(k)) * batched_bellman(P, r, g, v)
        m = xp.max(z, axis=-1, keepdims=True)
        logpi = z - m - xp.log(xp.sum(xp.exp(z - m), axis=-1, keepdims=True))
    return xp.exp(logpi), xp.stack(values)
