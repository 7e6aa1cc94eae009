r"""Numba kernels for the generative-model sampler and for episode rollouts.

Randomness is counter-based: the uniform for draw ``t`` of CSR row ``i`` under stream key
``key`` is the splitmix64 output

.. math::

    u = 2^{-53}\,\big\lfloor \mathrm{mix}(\mathrm{key} + c\,\phi) / 2^{11} \big\rfloor,
    \qquad c = t \cdot n_{\text{rows}} + i,\quad \phi = \mathtt{0x9E3779B97F4A7C15},

a pure function of ``(key, t, i)``. Any thread may therefore compute any draw, and the
result does not depend on the number of threads or on the order of the loops (the
``next_states`` and ``counts`` kernels loop in different orders and agree draw for draw).

A next state is found by inverse-CDF search over the row's stored entries: the first
entry ``k`` with ``cdf[k] > u``, capped at the row's last positive entry ``hi[i]`` (which
absorbs the rounding gap between ``cdf[hi]`` and one and skips trailing explicit zeros).
Zero-probability entries have empty intervals and are never returned, so a dense model and
its CSR form (with or without explicit zeros) give the same samples. Short rows use a
branch-free count of ``cdf[k] <= u`` (vectorizable, no mispredicted branches); rows
longer than :data:`LINEAR_MAX` use bisection. Both return the same index.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._kernels import _dual

#: Rows with at most this many candidate entries are searched linearly.
LINEAR_MAX = 32

_PHI = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_TWO_M53 = 1.0 / 9007199254740992.0


@njit(cache=True, inline="always")
def uniform(key, ctr):  # pragma: no cover - compiled
    """The uniform in ``[0, 1)`` at counter ``ctr`` of stream ``key`` (both ``uint64``)."""
    z = key + ctr * _PHI
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    z = z ^ (z >> _S31)
    return np.float64(z >> _S11) * _TWO_M53


@njit(cache=True, inline="always")
def search(cdf, lo, hi, u):  # pragma: no cover - compiled
    """First ``k`` in ``[lo, hi)`` with ``cdf[k] > u``, else ``hi`` (``cdf`` non-decreasing)."""
    if hi - lo <= LINEAR_MAX:
        k = lo
        for m in range(lo, hi):
            k += np.int64(cdf[m] <= u)
        return k
    while lo < hi:
        mid = (lo + hi) >> 1
        if cdf[mid] > u:
            hi = mid
        else:
            lo = mid + 1
    return lo


@njit(cache=True)
def row_cdfs(indptr, data, cdf, hi):  # pragma: no cover - compiled
    """Per-row running sums of ``data`` into ``cdf``; ``hi[i]`` = last positive entry."""
    for i in range(indptr.shape[0] - 1):
        acc = 0.0
        last = indptr[i]
        for k in range(indptr[i], indptr[i + 1]):
            acc += data[k]
            cdf[k] = acc
            if data[k] > 0.0:
                last = k
        hi[i] = last


@_dual
def next_states(indptr, indices, cdf, hi, keys, n_draws, out, n_chunks):  # pragma: no cover
    """``out[j, t, i]`` = column of draw ``t`` of row ``i`` under ``keys[j]``.

    Blocks of rows in parallel; within a block, draws outermost so that writes are
    contiguous and the block's CDFs stay in cache.
    """
    n_rows = indptr.shape[0] - 1
    size = (n_rows + n_chunks - 1) // n_chunks
    nr = np.uint64(n_rows)
    for c in prange(n_chunks):
        r0 = min(c * size, n_rows)
        r1 = min(r0 + size, n_rows)
        for j in range(keys.shape[0]):
            key = keys[j]
            for t in range(n_draws):
                base = np.uint64(t) * nr
                for i in range(r0, r1):
                    u = uniform(key, base + np.uint64(i))
                    out[j, t, i] = indices[search(cdf, indptr[i], hi[i], u)]


@_dual
def counts(indptr, indices, cdf, hi, keys, n_draws, out, n_chunks):  # pragma: no cover
    """``out[j, k]`` += 1 for every draw that lands on stored entry ``k`` (``out`` zeroed)."""
    n_rows = indptr.shape[0] - 1
    size = (n_rows + n_chunks - 1) // n_chunks
    nr = np.uint64(n_rows)
    for c in prange(n_chunks):
        r0 = min(c * size, n_rows)
        r1 = min(r0 + size, n_rows)
        for i in range(r0, r1):
            lo = indptr[i]
            h = hi[i]
            ui = np.uint64(i)
            for j in range(keys.shape[0]):
                key = keys[j]
                for t in range(n_draws):
                    u = uniform(key, np.uint64(t) * nr + ui)
                    out[j, search(cdf, lo, h, u)] += 1


@_dual
def rollouts(indptr, indices, cdf, hi, pol_cdf, pol_hi, mu_cdf, mu_hi, r_flat, kern_of_t,
             pol_of_t, rew_of_t, n_states, n_actions, keys, states, actions, rewards,
             n_chunks):  # pragma: no cover
    """Episodes ``e`` of every key ``j`` into ``states[j, e]`` (``T+1``), ``actions[j, e]``
    and ``rewards[j, e]`` (``T``).

    Step ``t`` uses kernel block ``kern_of_t[t]`` (rows ``block*S*A + s*A + a`` of the
    stacked CSR), policy block ``pol_of_t[t]`` (rows ``block*S + s`` of ``pol_cdf``) and
    reward block ``rew_of_t[t]``. Counters of episode ``e``: ``e*(2T+1)`` for the start
    state, then ``+1 + 2t`` for action ``t`` and ``+2 + 2t`` for next state ``t``.
    """
    n_keys = keys.shape[0]
    n_ep = states.shape[1]
    T = actions.shape[2]
    total = n_keys * n_ep
    size = (total + n_chunks - 1) // n_chunks
    SA = n_states * n_actions
    stride = np.uint64(2 * T + 1)
    for c in prange(n_chunks):
        g0 = min(c * size, total)
        g1 = min(g0 + size, total)
        for g in range(g0, g1):
            j = g // n_ep
            e = g - j * n_ep
            states[j, e, 0] = search(mu_cdf, 0, mu_hi, uniform(keys[j], np.uint64(e) * stride))
        # Steps outermost, episodes innermost: consecutive iterations are independent, so
        # the core overlaps the cache misses of several episodes (one episode alone is a
        # chain of dependent random reads: s -> policy row -> CSR row -> s').
        for t in range(T):
            p_blk = pol_of_t[t] * n_states
            k_blk = kern_of_t[t] * SA
            r_blk = rew_of_t[t] * SA
            for g in range(g0, g1):
                j = g // n_ep
                e = g - j * n_ep
                key = keys[j]
                ctr = np.uint64(e) * stride + np.uint64(1 + 2 * t)
                s = states[j, e, t]
                p = p_blk + s
                a = search(pol_cdf, p * n_actions, pol_hi[p], uniform(key, ctr)) - p * n_actions
                sa = s * n_actions + a
                i = k_blk + sa
                rewards[j, e, t] = r_flat[r_blk + sa]
                actions[j, e, t] = a
                states[j, e, t + 1] = indices[search(cdf, indptr[i], hi[i],
                                                     uniform(key, ctr + np.uint64(1)))]
