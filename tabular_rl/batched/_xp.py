"""Array-namespace helpers shared by the batched solvers (array API standard only).

Everything here uses functions of the Python array API standard (2023.12), reached through
:func:`array_api_compat.array_namespace`, so the same code runs on numpy, on CuPy (arrays
stay on the GPU) and on ``array_api_strict``, which the tests use to catch any operation a
GPU library would not support.
"""

from __future__ import annotations

from array_api_compat import array_namespace

__all__ = ["logsumexp", "namespace", "one_hot_argmax", "softmax_and_lse"]


def namespace(*arrays):
    """The array namespace of the inputs (numpy, cupy, array_api_strict, ...)."""
    return array_namespace(*arrays)


def softmax_and_lse(xp, z):
    """``(softmax(z), logsumexp(z))`` over the last axis, shifted by the row maximum."""
    m = xp.max(z, axis=-1, keepdims=True)
    e = xp.exp(z - m)
    s = xp.sum(e, axis=-1, keepdims=True)
    return e / s, (m + xp.log(s))[..., 0]


def logsumexp(xp, z):
    """``log sum exp z`` over the last axis, shifted by the row maximum."""
    return softmax_and_lse(xp, z)[1]


def one_hot_argmax(xp, q):
    """Deterministic greedy policy: one-hot of the first maximizing action per row."""
    idx = xp.argmax(q, axis=-1)
    A = q.shape[-1]
    actions = xp.arange(A, dtype=idx.dtype)
    return xp.astype(actions == idx[..., None], q.dtype)
