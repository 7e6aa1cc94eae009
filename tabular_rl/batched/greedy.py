r"""Regularized greedy steps on the array API: hard max, Shannon, KL and Tsallis.

For a batch of action-value tables ``q`` of shape ``(..., A)`` these return the pair
:math:`(\Omega^*_\tau(q), \nabla\Omega^*_\tau(q))` row-wise, the same quantities as
``Regularizer.max_omega`` of :mod:`tabular_rl.regularizers`, written once against the array
API standard so they run on numpy, CuPy and ``array_api_strict`` alike:

- no regularizer: :math:`(\max_a q_a, \text{one-hot argmax})`;
- Shannon: :math:`(\tau\log\sum_a e^{q_a/\tau}, \operatorname{softmax}(q/\tau))`, shifted
  by the row maximum;
- KL to ``ref``: :math:`(\tau\log\sum_a \text{ref}_a e^{q_a/\tau},\
  \text{ref}\,e^{q/\tau}/Z)`;
- Tsallis of index 2 (sparsemax, Martins & Astudillo 2016, Alg. 1): exact, by a sort and a
  cumulative sum; other indices :math:`k > 1` by a fixed number of bisection steps on the
  threshold (Blondel, Martins, Niculae 2020, Alg. 1), which converge to the last bit.

``reg`` is one of the regularizer objects of :mod:`tabular_rl.regularizers` (only ``tau``,
``ref`` and ``q_index`` are read) or ``None``.
"""

from __future__ import annotations

from ..regularizers import KL, Shannon, Tsallis
from ._xp import namespace, one_hot_argmax, softmax_and_lse

__all__ = ["SUPPORTED", "greedy_step", "regularizer_value"]

#: Regularizers the array-API path implements.
SUPPORTED = (type(None), Shannon, KL, Tsallis)
_BISECT_ITERS = 64  # the bracket has width <= 3: 2^-64 * 3 is below one ulp of 1
_SHANNON_ATOL = 1e-6


def _check(reg) -> None:
    if not isinstance(reg, SUPPORTED):
        raise TypeError(f"the batched solvers support no regularizer (None), Shannon, KL and "
                        f"Tsallis; got {type(reg).__name__} (use the per-MDP solvers of "
                        f"tabular_rl.planning.soft_dp for the others)")


def _ref(xp, reg, like):
    return xp.asarray(reg.ref, dtype=like.dtype, device=getattr(like, "device", None))


def greedy_step(q, reg=None):
    """``(conjugate, greedy policy)`` of ``q`` row-wise on the last axis (see module doc)."""
    _check(reg)
    xp = namespace(q)
    if reg is None:
        return xp.max(q, axis=-1), one_hot_argmax(xp, q)
    tau = float(reg.tau)
    if isinstance(reg, Shannon) or (isinstance(reg, Tsallis)
                                    and reg.q_index - 1.0 <= _SHANNON_ATOL):
        pi, lse = softmax_and_lse(xp, q / tau)
        return tau * lse, pi
    if isinstance(reg, KL):
        ref = _ref(xp, reg, q)
        logref = xp.where(ref > 0, xp.log(xp.where(ref > 0, ref, 1.0)), -xp.inf)
        pi, lse = softmax_and_lse(xp, q / tau + logref)
        return tau * lse, pi
    m = xp.max(q, axis=-1, keepdims=True)
    if reg.q_index == 2.0:
        pi = _sparsemax(xp, (q - m) / (2.0 * tau))
    else:
        pi = _tsallis_bisect(xp, (q - m) / tau, float(reg.q_index))
    val = m[..., 0] + xp.sum(pi * (q - m), axis=-1) - regularizer_value(pi, reg)
    return val, pi


def regularizer_value(pi, reg=None):
    r""":math:`\tau\Omega(\pi)` row-wise (0 without a regularizer)."""
    _check(reg)
    xp = namespace(pi)
    if reg is None:
        return xp.zeros(pi.shape[:-1], dtype=pi.dtype)
    tau = float(reg.tau)
    pos = pi > 0
    safe = xp.where(pos, pi, 1.0)
    if isinstance(reg, KL):
        ref = _ref(xp, reg, pi)
        ratio = xp.where(pos, safe / xp.where(ref > 0, ref, 0.0), 1.0)
        return tau * xp.sum(xp.where(pos, pi * xp.log(ratio), 0.0), axis=-1)
    if isinstance(reg, Shannon) or reg.q_index - 1.0 <= _SHANNON_ATOL:
        return tau * xp.sum(xp.where(pos, pi * xp.log(safe), 0.0), axis=-1)
    k1 = float(reg.q_index) - 1.0
    terms = xp.where(pos, pi * xp.expm1(k1 * xp.log(safe)), 0.0)
    return tau * xp.sum(terms, axis=-1) / k1


def _sparsemax(xp, z):
    """Euclidean projection of each row onto the simplex, by sorting (exact)."""
    A = z.shape[-1]
    zs = xp.flip(xp.sort(z, axis=-1), axis=-1)
    cs = xp.cumulative_sum(zs, axis=-1)
    j = xp.astype(xp.arange(1, A + 1), z.dtype)
    support = xp.astype(1.0 + j * zs > cs, z.dtype)
    k = xp.sum(support, axis=-1, keepdims=True)                   # >= 1
    # sum of the k largest entries = sum of the sorted entries inside the support
    top = xp.sum(zs * support, axis=-1, keepdims=True)
    theta = (top - 1.0) / k
    return xp.maximum(z - theta, 0.0)


def _tsallis_bisect(xp, y, qi: float):
    """Tsallis greedy policy by bisection; ``y = (q - max q)/tau``, see
    :func:`tabular_rl.regularizers._tsallis_bisect` for the derivation."""
    c = (qi - 1.0) / qi
    e = 1.0 / (qi - 1.0)

    def policy(t):
        base = xp.maximum(c * (y - t), 0.0)
        return xp.where(base > 0, xp.exp(e * xp.log(xp.where(base > 0, base, 1.0))), 0.0)

    lo = xp.full(y.shape[:-1] + (1,), -1.0 / c, dtype=y.dtype)
    hi = xp.zeros_like(lo)
    for _ in range(_BISECT_ITERS):
        mid = 0.5 * (lo + hi)
        big = xp.sum(policy(mid), axis=-1, keepdims=True) >= 1.0
        lo = xp.where(big, mid, lo)
        hi = xp.where(big, hi, mid)
    pi = policy(lo)
    return pi / xp.sum(pi, axis=-1, keepdims=True)
