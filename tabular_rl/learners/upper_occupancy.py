r"""Transition confidence sets and upper (lower) occupancy bounds for unknown transitions.

Jin, Jin, Luo, Sra, Yu, "Learning Adversarial Markov Decision Processes with Bandit
Feedback and Unknown Transition", ICML 2020 (arXiv:1912.01192). With counts
:math:`n_h(s,a)` and :math:`n_h(s,a,s')` of the transitions observed so far, the empirical
kernel :math:`\bar P_h(s'|s,a) = n_h(s,a,s')/\max\{1, n_h(s,a)\}` and the Bernstein-type
(empirical Bernstein, Maurer and Pontil 2009) radius

.. math::

    \epsilon_h(s'\mid s,a) = 2\sqrt{\frac{\bar P_h(s'\mid s,a)\,\iota}
    {\max\{1, n_h(s,a)-1\}}} + \frac{14\,\iota}{3\max\{1, n_h(s,a)-1\}},
    \qquad \iota = \ln\frac{T\,|X|\,|A|}{\delta},

define the confidence set (their §3, "confidence set"; it contains the true kernel
with probability :math:`\ge 1-4\delta` by their Lemma 2)

.. math::

    \mathcal P = \Big\{\hat P:\ \hat P_h(\cdot\mid s,a)\in\Delta_S,\
    |\hat P_h(s'\mid s,a) - \bar P_h(s'\mid s,a)| \le \epsilon_h(s'\mid s,a)
    \ \forall h,s,a,s'\Big\}.

Here the MDP is layered by the step (:math:`X = \{0..H-1\}\times S`, so
:math:`|X| = HS`), rows never visited (:math:`n_h(s,a)=0`) are the whole simplex, and
the start distribution :math:`\mu` is known (their fixed initial state).

Upper occupancy bound (their §4, the loss estimator "inversely weighted by an upper
occupancy bound", computed by their subroutine **Comp-UOB**, Algorithm 3, with the
greedy inner step of their Algorithm 4): for a fixed policy :math:`\pi`,

.. math::

    u(h,s) = \max_{\hat P\in\mathcal P} q^{\hat P,\pi}(h,s),

computed exactly, target by target, by the backward recursion (the set is a product over
rows, so the maximization decouples row by row)

.. math::

    f_h(x) = \mathbb 1[x = s],\qquad
    f_k(x) = \sum_a \pi(a\mid k,x)\max_{p\in\mathcal P_k(x,a)}\langle p, f_{k+1}\rangle,
    \qquad u(h,s) = \langle\mu, f_0\rangle,

where each inner problem :math:`\max\{\langle p,f\rangle: p\in\Delta_S,\ |p-\bar p|\le
\epsilon\}` is a box-and-simplex linear program solved exactly by the greedy step: start
from the lower ends :math:`\max(\bar p-\epsilon, 0)` and spend the remaining mass on the
states in decreasing order of :math:`f`, each up to :math:`\min(\bar p+\epsilon, 1)`. The
lower bound :math:`\ell(h,s) = \min_{\hat P\in\mathcal P}q^{\hat P,\pi}(h,s)` uses the
increasing order (it enters the transition bonus of
:func:`tabular_rl.learners.policy_optimization.policy_optimization`).

Cost: one backward pass per target, :math:`O(H^2 S^3 A)` for all targets (each layer's
:math:`f` is sorted once and reused by all :math:`SA` rows of that layer).

Only the abstract and first page of arXiv:1912.01192 could be retrieved in this
environment; the radius above (constants 2 and 14/3, :math:`\max\{1, n-1\}`) and the
greedy Comp-UOB are written from the published algorithm as remembered, not transcribed.
The greedy step is verified here against a linear-programming solver (tests), so the
bounds are exact for the set as defined, whatever its constants.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .. import _validation as V

__all__ = ["occupancy_bounds", "transition_confidence_set"]


def transition_confidence_set(counts: np.ndarray, iota: float) -> tuple[np.ndarray,
                                                                       np.ndarray]:
    r"""Empirical kernel :math:`\bar P` and radius :math:`\epsilon` of the module docstring.

    Parameters
    ----------
    counts : ndarray (..., S)
        :math:`n(s,a,s')` with the next state on the last axis (``(H-1, S, A, S)`` for an
        episodic learner); :math:`n(s,a)` is its sum over the last axis.
    iota : float
        :math:`\iota = \ln(T|X||A|/\delta) > 0`.

    Returns
    -------
    p_bar, eps : ndarray, same shape as ``counts``
        Rows with no visit have :math:`\bar p = 0` and :math:`\epsilon = 1` (the whole
        simplex).

    Examples
    --------
    >>> p, e = transition_confidence_set(np.array([[3, 1]]), 1.0)
    >>> p.tolist(), bool(e[0, 0] > e[0, 1])
    ([[0.75, 0.25]], True)
    """
    n_sas = np.asarray(counts, dtype=np.float64)
    if n_sas.ndim < 1:
        raise ValueError(f"counts must have a next-state axis, got shape {n_sas.shape}")
    bad = ~(np.isfinite(n_sas) & (n_sas >= 0))
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"counts must be finite and >= 0; counts{list(idx)} = {n_sas[idx]}")
    iota = V.check_real_scalar("iota", iota, 0.0, np.inf, lo_open=True)
    p_bar = np.empty_like(n_sas)
    eps = np.empty_like(n_sas)
    _confidence_rows(n_sas.reshape(-1, n_sas.shape[-1]), iota,
                     p_bar.reshape(-1, n_sas.shape[-1]), eps.reshape(-1, n_sas.shape[-1]))
    return p_bar, eps


def occupancy_bounds(p_bar: np.ndarray, eps: np.ndarray, mu: np.ndarray,
                     pi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Upper and lower occupancy bounds :math:`u(h,s)`, :math:`\ell(h,s)` (Comp-UOB).

    Parameters
    ----------
    p_bar, eps : ndarray (H-1, S, A, S)
        Centre and radius of the confidence set (:func:`transition_confidence_set`); row
        ``p_bar[h, s, a]`` must be a distribution or all zero with ``eps`` at least 1.
    mu : ndarray (S,)
        Known start distribution.
    pi : ndarray (H, S, A)
        The policy.

    Returns
    -------
    upper, lower : ndarray (H, S)
        :math:`\max_{\hat P\in\mathcal P} q^{\hat P,\pi}(h,s)` and the minimum; both equal
        :math:`\mu` at ``h = 0`` and :math:`q^{\bar P,\pi}` when ``eps`` is zero.

    Examples
    --------
    >>> p_bar = np.full((1, 2, 1, 2), 0.5)          # H=2, S=2, A=1: uniform next state
    >>> u, l = occupancy_bounds(p_bar, np.full_like(p_bar, 0.1), np.array([1.0, 0.0]),
    ...                         np.ones((2, 2, 1)))
    >>> u.round(3).tolist(), l.round(3).tolist()
    ([[1.0, 0.0], [0.6, 0.6]], [[1.0, 0.0], [0.4, 0.4]])
    """
    pi = np.ascontiguousarray(pi, dtype=np.float64)
    if pi.ndim != 3:
        raise ValueError(f"pi must be (H, S, A), got shape {pi.shape}")
    H, S, A = pi.shape
    p_bar = np.ascontiguousarray(p_bar, dtype=np.float64)
    eps = np.ascontiguousarray(eps, dtype=np.float64)
    for name, arr in (("p_bar", p_bar), ("eps", eps)):
        if arr.shape != (H - 1, S, A, S):
            raise ValueError(f"{name} must have shape (H-1, S, A, S) = {(H - 1, S, A, S)}, "
                             f"got {arr.shape}")
    if np.any(eps < 0):
        idx = tuple(int(i) for i in np.argwhere(eps < 0)[0])
        raise ValueError(f"eps{list(idx)} = {eps[idx]} < 0")
    mu = V.check_distribution("mu", mu, S)
    upper = np.zeros((H, S))
    lower = np.zeros((H, S))
    _occupancy_bounds(p_bar, eps, np.asarray(mu, dtype=np.float64), pi, upper, lower,
                      np.zeros((H, S)), np.zeros(S, dtype=np.int64))
    return upper, lower


# --------------------------------------------------------------------------- kernels


@njit(cache=True, inline="always")
def _radius(p, n, iota):  # pragma: no cover - compiled
    m = max(1.0, n - 1.0)
    return 2.0 * np.sqrt(p * iota / m) + 14.0 * iota / (3.0 * m)


@njit(cache=True)
def _confidence_row(n_row, iota, p_out, e_out):  # pragma: no cover - compiled
    """One row of :math:`\\bar P` and :math:`\\epsilon` from the counts ``n_row`` (S,)."""
    S = n_row.shape[0]
    n = 0.0
    for x in range(S):
        n += n_row[x]
    if n == 0.0:
        for x in range(S):
            p_out[x] = 0.0
            e_out[x] = 1.0
        return
    for x in range(S):
        p_out[x] = n_row[x] / n
        e_out[x] = _radius(p_out[x], n, iota)


@njit(cache=True)
def _confidence_rows(n_rows, iota, p_out, e_out):  # pragma: no cover - compiled
    for i in range(n_rows.shape[0]):
        _confidence_row(n_rows[i], iota, p_out[i], e_out[i])


@njit(cache=True)
def _extreme(f, p_bar, eps, maximize, order):  # pragma: no cover - compiled
    r""":math:`\max` (or :math:`\min`) of :math:`\langle p, f\rangle` over
    :math:`\{p\in\Delta: |p-\bar p|\le\epsilon\}` (greedy, exact) for 1-D rows; ``order``
    (S,) is scratch."""
    return _extreme_at(f.reshape(1, -1), 0, p_bar.reshape(1, 1, 1, -1),
                       eps.reshape(1, 1, 1, -1), 0, 0, 0, maximize, order)


@njit(cache=True, inline="always")
def _sort_order(f, kf, maximize, order):  # pragma: no cover - compiled
    """``order`` = the states sorted by decreasing (``maximize``) or increasing ``f[kf]``;
    a stable insertion sort (ties keep the index order; S is small)."""
    S = f.shape[1]
    for y in range(S):
        order[y] = y
    sgn = 1.0 if maximize else -1.0
    for i in range(1, S):
        z = order[i]
        fz = sgn * f[kf, z]
        j = i - 1
        while j >= 0 and sgn * f[kf, order[j]] < fz:
            order[j + 1] = order[j]
            j -= 1
        order[j + 1] = z


@njit(cache=True, inline="always")
def _greedy_sorted(f, kf, p_bar, eps, k, x, a, order):  # pragma: no cover - compiled
    r"""The greedy step given ``order`` from :func:`_sort_order` for the same ``f[kf]``:
    start at the lower ends :math:`\max(\bar p-\epsilon,0)`, then spend the remaining
    mass in ``order``, each state up to :math:`\min(\bar p+\epsilon,1)`."""
    S = f.shape[1]
    budget = 1.0
    val = 0.0
    for y in range(S):
        lo = p_bar[k, x, a, y] - eps[k, x, a, y]
        if lo > 0.0:
            budget -= lo
            val += lo * f[kf, y]
    for i in range(S):
        if budget <= 0.0:
            break
        y = order[i]
        pb = p_bar[k, x, a, y]
        e = eps[k, x, a, y]
        lo = max(pb - e, 0.0)
        add = min(min(pb + e, 1.0) - lo, budget)
        if add > 0.0:
            val += add * f[kf, y]
            budget -= add
    return val


@njit(cache=True, inline="always")
def _extreme_at(f, kf, p_bar, eps, k, x, a, maximize, order):  # pragma: no cover - compiled
    r"""The greedy step on row ``f[kf]`` and the set row ``(k, x, a)`` of ``p_bar``,
    ``eps`` (indices instead of slices: no array views in the hot loop). Start at the
    lower ends :math:`\max(\bar p-\epsilon,0)`, then spend the remaining mass in
    decreasing (``maximize``) or increasing order of ``f``, each state up to
    :math:`\min(\bar p+\epsilon,1)`. Loops over many rows against the same ``f[kf]``
    call :func:`_sort_order` once and :func:`_greedy_sorted` per row instead."""
    _sort_order(f, kf, maximize, order)
    return _greedy_sorted(f, kf, p_bar, eps, k, x, a, order)


@njit(cache=True)
def _occupancy_bounds(p_bar, eps, mu, pi, upper, lower, f, order):  # pragma: no cover
    r"""Comp-UOB for every target :math:`(h,s)`: ``upper``, ``lower`` (H, S); ``f``
    (H, S) and ``order`` (S,) are scratch."""
    H, S, A = pi.shape
    for s in range(S):
        upper[0, s] = mu[s]
        lower[0, s] = mu[s]
    for side in range(2):
        maximize = side == 0
        out = upper if maximize else lower
        for h in range(1, H):
            for s in range(S):
                for x in range(S):
                    f[h, x] = 0.0
                f[h, s] = 1.0
                for k in range(h - 1, -1, -1):
                    _sort_order(f, k + 1, maximize, order)   # once per layer, not per row
                    for x in range(S):
                        acc = 0.0
                        for a in range(A):
                            w = pi[k, x, a]
                            if w > 0.0:
                                acc += w * _greedy_sorted(f, k + 1, p_bar, eps, k, x, a,
                                                          order)
                        f[k, x] = acc
                v = 0.0
                for x in range(S):
                    v += mu[x] * f[0, x]
                out[h, s] = v
