"""Numba kernels for Bellman backups on CSR kernels ``(S*A, S)``, parallel over states.

Each kernel reads the CSR arrays once per call (streaming ``data``, ``indices`` and
``indptr``) and gathers ``v`` at random; nothing is densified. Dense kernels do not live
here: they go through BLAS (``P_flat @ v``).
"""

from __future__ import annotations

import types

import numpy as np
from numba import njit, prange

#: Below this many stored entries a serial kernel is used: thread start-up costs more than
#: the sweep, and with several processes (pytest-xdist, sweeps) threads oversubscribe cores.
PARALLEL_MIN_NNZ = 200_000


def _dual(fn):
    """Compile ``fn`` twice, parallel over states and serial; pick by the work size.

    The returned dispatcher takes the kernel's arguments and uses the number of stored
    entries (``len(indices)``, the third-last dimension of work) to choose.
    """
    par = njit(parallel=True, cache=True, nogil=True)(fn)
    # A separate function object with its own qualname, so numba's on-disk cache keeps the
    # serial and parallel compilations apart.
    serial_fn = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__ + "_serial")
    serial_fn.__qualname__ = fn.__qualname__ + "_serial"
    ser = njit(parallel=False, cache=True, nogil=True)(serial_fn)

    def run(indptr, indices, *args):
        return (par if indices.shape[0] >= PARALLEL_MIN_NNZ else ser)(indptr, indices, *args)

    run.__name__ = fn.__name__
    run.__doc__ = fn.__doc__
    run.parallel = par
    run.serial = ser
    return run


@_dual
def csr_matvec(indptr, indices, data, v, out):  # pragma: no cover - compiled
    """``out[i] = sum_k data[k] * v[indices[k]]`` over row ``i``."""
    n = indptr.shape[0] - 1
    for i in prange(n):
        acc = 0.0
        for k in range(indptr[i], indptr[i + 1]):
            acc += data[k] * v[indices[k]]
        out[i] = acc


@_dual
def csr_q_values(indptr, indices, data, r_flat, v, gamma, out):  # pragma: no cover
    """``out[s*A + a] = r[s, a] + gamma * sum_s' P[s, a, s'] v[s']``."""
    n = indptr.shape[0] - 1
    for i in prange(n):
        acc = 0.0
        for k in range(indptr[i], indptr[i + 1]):
            acc += data[k] * v[indices[k]]
        out[i] = r_flat[i] + gamma * acc


@_dual
def csr_bellman_max(indptr, indices, data, r_flat, v, gamma, n_actions,
                    v_out, arg_out):  # pragma: no cover
    """Fused optimality backup: ``v_out[s] = max_a q[s, a]``, ``arg_out[s]`` the first argmax."""
    n_states = v_out.shape[0]
    for s in prange(n_states):
        best = -np.inf
        best_a = 0
        for a in range(n_actions):
            i = s * n_actions + a
            acc = 0.0
            for k in range(indptr[i], indptr[i + 1]):
                acc += data[k] * v[indices[k]]
            q = r_flat[i] + gamma * acc
            if q > best:
                best = q
                best_a = a
        v_out[s] = best
        arg_out[s] = best_a


@_dual
def csr_bellman_policy(indptr, indices, data, r_flat, v, gamma, pi_flat, n_actions,
                       v_out):  # pragma: no cover
    """Policy backup ``v_out[s] = sum_a pi[s, a] (r[s, a] + gamma P[s, a] v)``."""
    n_states = v_out.shape[0]
    for s in prange(n_states):
        tot = 0.0
        for a in range(n_actions):
            i = s * n_actions + a
            w = pi_flat[i]
            if w != 0.0:
                acc = 0.0
                for k in range(indptr[i], indptr[i + 1]):
                    acc += data[k] * v[indices[k]]
                tot += w * (r_flat[i] + gamma * acc)
        v_out[s] = tot


@_dual
def csr_bellman_deterministic(indptr, indices, data, r_flat, v, gamma, actions, n_actions,
                              v_out):  # pragma: no cover
    """Backup of a deterministic policy ``v_out[s] = q[s, actions[s]]`` (one row per state)."""
    n_states = v_out.shape[0]
    for s in prange(n_states):
        i = s * n_actions + actions[s]
        acc = 0.0
        for k in range(indptr[i], indptr[i + 1]):
            acc += data[k] * v[indices[k]]
        v_out[s] = r_flat[i] + gamma * acc


@njit(parallel=True, cache=True, nogil=True)
def stream_sum(arr):  # pragma: no cover - used by the benchmarks' memory floor
    """Read every element of a 1-d array once (for the memory-bandwidth floor)."""
    acc = 0.0
    for i in prange(arr.shape[0]):
        acc += arr[i]
    return acc
