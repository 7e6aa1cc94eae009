"""Numba kernel for the CPU path of batched value iteration.

Streaming a batch of ``B`` dense kernels through memory once per sweep is bandwidth-bound
(10,000 models with S=20, A=4 are 128 MB). Instead each model is iterated to its own
certified stop while its kernel (12.8 KB) stays in cache, in parallel over the batch. The
stopping rule and its rounding term are those of
:func:`tabular_rl.batched.solvers._box`, evaluated after every sweep.
"""

from __future__ import annotations

import numba
import numpy as np

_U = 2.0**-53


@numba.njit(parallel=True, cache=True)
def vi_per_model(P, r, g, tol, max_iter, v_out, Tv_out, lo_out, hi_out, fp_out, bound_out,
                 it_out):
    """Value iteration per model ``b`` (parallel over ``b``), certified stop per model.

    ``P`` (B, S, A, S), ``r`` (B, S, A), ``g`` (B,). Writes the last iterate ``Tv`` and its
    span statistics; the caller forms the MacQueen centre ``Tv + c (lo + hi) / 2``.
    """
    B, S, A, _ = P.shape
    for b in numba.prange(B):
        v = np.zeros(S)
        Tv = np.empty(S)
        gb = g[b]
        rmax = 0.0
        for s in range(S):
            for a in range(A):
                x = abs(r[b, s, a])
                if x > rmax:
                    rmax = x
        c = gb / (1.0 - gb)
        k = 0
        while True:
            k += 1
            lo = np.inf
            hi = -np.inf
            vmax = 0.0
            tmax = 0.0
            for s in range(S):
                best = -np.inf
                for a in range(A):
                    acc = 0.0
                    for j in range(S):
                        acc += P[b, s, a, j] * v[j]
                    q = r[b, s, a] + gb * acc
                    if q > best:
                        best = q
                Tv[s] = best
                d = best - v[s]
                if d < lo:
                    lo = d
                if d > hi:
                    hi = d
                if abs(v[s]) > vmax:
                    vmax = abs(v[s])
                if abs(best) > tmax:
                    tmax = abs(best)
            fp = ((S + 4) * _U * (rmax + gb * vmax)
                  + (A + 8) * _U * (rmax + vmax + tmax)) / (1.0 - gb)
            bound = c * 0.5 * (hi - lo) + 2.0 * fp
            if bound <= tol or k >= max_iter:
                break
            for s in range(S):
                v[s] = Tv[s]
        for s in range(S):
            v_out[b, s] = v[s]
            Tv_out[b, s] = Tv[s]
        lo_out[b] = lo
        hi_out[b] = hi
        fp_out[b] = fp
        bound_out[b] = bound
        it_out[b] = k
