r"""Convex policy regularizers: one protocol, many members.

A regularizer is a temperature :math:`\tau > 0` times a convex function :math:`\Omega` on the
probability simplex :math:`\Delta_A`. Every member acts row-wise on the last axis of its
arguments, so ``q`` may be ``(S, A)``, batched ``(B, S, A)`` or a single row ``(A,)``:

.. math::

    \text{value}(\pi) &= \tau\,\Omega(\pi), \\
    \Omega^*_\tau(q) &= \max_{\pi \in \Delta_A} \langle \pi, q\rangle - \tau\,\Omega(\pi)
        \quad(\text{``conjugate''}, \text{ the soft maximum}), \\
    \mathcal{G}(q) &= \nabla \Omega^*_\tau(q)
        = \operatorname*{arg\,max}_{\pi \in \Delta_A} \langle \pi, q\rangle - \tau\,\Omega(\pi)
        \quad(\text{``greedy''}), \\
    D(p, p') &= \tau\big[\Omega(p) - \Omega(p') - \langle \nabla\Omega(p'), p - p'\rangle\big]
        \quad(\text{``bregman''}).

They satisfy the Fenchel-Young equality
:math:`\Omega^*_\tau(q) = \langle \mathcal{G}(q), q\rangle - \tau\,\Omega(\mathcal{G}(q))` and
inequality :math:`\Omega^*_\tau(q) \ge \langle p, q\rangle - \tau\,\Omega(p)` for all
:math:`p \in \Delta_A`, which is what regularized value iteration, policy mirror descent
and FTRL are built on [1]_. ``max_omega(q)`` returns the pair
:math:`(\Omega^*_\tau(q), \mathcal{G}(q))` in one pass (POT's ``max_Omega``).

Numerical care lives here once: all maximizations are computed after shifting ``q`` by its
row maximum (so :math:`\tau = 10^{-6}` with :math:`|q| \le 10^6` is safe), soft maxima in log
space, exact sort-based thresholds for sparsemax and the :math:`\chi^2` projection, and a
safeguarded Newton root for the log-barrier that warns
(:class:`~tabular_rl.exceptions.NumericalWarning`) rather than return a silent inaccuracy.

``value`` and ``bregman`` expect points of the simplex (they are evaluated, not checked, for
speed); points outside the domain of :math:`\Omega` (e.g. :math:`\pi_a > 0 = \text{ref}_a`
for KL) give ``inf``.

References
----------
.. [1] M. Geist, B. Scherrer, O. Pietquin, "A Theory of Regularized Markov Decision
   Processes", ICML 2019, Sec. 2 (Fenchel-Young identities, Prop. 1).
.. [2] A. F. T. Martins, R. F. Astudillo, "From Softmax to Sparsemax: A Sparse Model of
   Attention and Multi-Label Classification", ICML 2016, Alg. 1 / Prop. 1.
.. [3] M. Blondel, A. F. T. Martins, V. Niculae, "Learning with Fenchel-Young Losses",
   JMLR 21(35), 2020, Sec. 4.3 (Tsallis entropies, bisection Alg. 1).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
from scipy.special import rel_entr, xlogy

from ._validation import as_float_array, check_probability_rows, check_real_scalar, readonly
from .exceptions import NumericalWarning

__all__ = ["KL", "ChiSquared", "FDivergence", "LogBarrier", "Regularizer", "Shannon", "Tsallis",
           "TsallisKL"]

_INF = float("inf")
#: ``q_index`` within this distance of 1 is treated as Shannon (Tsallis -> Shannon as q -> 1).
TSALLIS_SHANNON_ATOL = 1e-6
_BISECT_ITERS = 200
_NEWTON_ITERS = 100


@runtime_checkable
class Regularizer(Protocol):
    """Protocol every regularizer satisfies; all methods act row-wise on the last axis."""

    tau: float

    def value(self, pi) -> np.ndarray:
        r""":math:`\tau\,\Omega(\pi)` per row, shape ``pi.shape[:-1]``."""

    def conjugate(self, q) -> np.ndarray:
        r""":math:`\Omega^*_\tau(q)` per row, shape ``q.shape[:-1]``."""

    def greedy(self, q) -> np.ndarray:
        r""":math:`\nabla\Omega^*_\tau(q)`, rows on the simplex, shape ``q.shape``."""

    def max_omega(self, q) -> tuple[np.ndarray, np.ndarray]:
        """``(conjugate(q), greedy(q))`` computed together."""

    def bregman(self, p, p2) -> np.ndarray:
        r"""Bregman divergence :math:`D(p, p_2)` of :math:`\tau\Omega` per row."""


class _Rowwise:
    """Shared plumbing: ``conjugate``/``greedy`` from ``max_omega``."""

    __slots__ = ()

    def conjugate(self, q) -> np.ndarray:
        return self.max_omega(q)[0]

    def greedy(self, q) -> np.ndarray:
        return self.max_omega(q)[1]


def _check_tau(tau) -> float:
    return check_real_scalar("tau", tau, 0.0, _INF, lo_open=True)


def _check_ref(ref) -> np.ndarray:
    arr = as_float_array("ref", ref, tuple(range(1, 9)))
    if arr.shape[-1] < 1:
        raise ValueError(f"ref must have at least one action on its last axis, got {arr.shape}")
    check_probability_rows("ref", arr)
    arr /= arr.sum(axis=-1, keepdims=True)
    return readonly(arr)


def _rows(x) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim < 1 or arr.shape[-1] < 1:
        raise ValueError(f"expected an array of shape (..., A) with A >= 1, got {arr.shape}")
    return arr


def _dot(p, q) -> np.ndarray:
    return np.einsum("...a,...a->...", p, q)


def _softmax_and_lse(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(softmax(z), logsumexp(z))`` over the last axis; ``z`` may hold ``-inf``."""
    m = np.max(z, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore"):
        e = np.exp(z - m)
    s = e.sum(axis=-1, keepdims=True)
    return e / s, (m + np.log(s))[..., 0]


# --------------------------------------------------------------------------- Shannon / KL
@dataclass(frozen=True, slots=True)
class Shannon(_Rowwise):
    r"""Negative Shannon entropy, :math:`\Omega(\pi) = \sum_a \pi_a \log \pi_a`.

    .. math::

        \Omega^*_\tau(q) = \tau \log \sum_a e^{q_a/\tau}, \qquad
        \mathcal{G}(q) = \operatorname{softmax}(q/\tau), \qquad
        D(p, p') = \tau\,\mathrm{KL}(p \,\|\, p').

    Parameters
    ----------
    tau : float
        Temperature, finite and ``> 0``.

    Notes
    -----
    The log-sum-exp is taken after subtracting the row maximum, so it is exact to rounding
    for any :math:`\tau > 0` and finite ``q``; as :math:`\tau \to 0` the greedy policy tends
    to the uniform distribution over the argmax set.

    References
    ----------
    .. [1] Geist, Scherrer, Pietquin, "A Theory of Regularized MDPs", ICML 2019, Sec. 2.

    Examples
    --------
    >>> import numpy as np
    >>> reg = Shannon(tau=1.0)
    >>> reg.greedy(np.log([1.0, 3.0])).round(3).tolist()
    [0.25, 0.75]
    >>> float(reg.conjugate(np.zeros(4))) == float(np.log(4))
    True
    """

    tau: float

    def __post_init__(self):
        object.__setattr__(self, "tau", _check_tau(self.tau))

    def value(self, pi) -> np.ndarray:
        pi = _rows(pi)
        return self.tau * xlogy(pi, pi).sum(axis=-1)

    def max_omega(self, q) -> tuple[np.ndarray, np.ndarray]:
        q = _rows(q)
        m = q.max(axis=-1, keepdims=True)
        pi, lse = _softmax_and_lse((q - m) / self.tau)
        return m[..., 0] + self.tau * lse, pi

    def bregman(self, p, p2) -> np.ndarray:
        return self.tau * _kl_terms(_rows(p), _rows(p2)).sum(axis=-1)


@dataclass(frozen=True, slots=True, eq=False)
class KL(_Rowwise):
    r"""Kullback-Leibler divergence to a reference policy,
    :math:`\Omega(\pi) = \mathrm{KL}(\pi\,\|\,\text{ref}) = \sum_a \pi_a \log(\pi_a/\text{ref}_a)`.

    .. math::

        \Omega^*_\tau(q) = \tau \log \sum_a \text{ref}_a\, e^{q_a/\tau}, \qquad
        \mathcal{G}(q)_a = \frac{\text{ref}_a\, e^{q_a/\tau}}{\sum_b \text{ref}_b\, e^{q_b/\tau}},
        \qquad D(p, p') = \tau\,\mathrm{KL}(p\,\|\,p').

    This is the mirror-descent step of MD-VI / policy mirror descent with ``ref`` the previous
    policy. Actions with :math:`\text{ref}_a = 0` get probability 0 (and
    :math:`\Omega(\pi) = +\infty` if :math:`\pi_a > 0` there). With a uniform ``ref``,
    :math:`\Omega = \Omega_{\text{Shannon}} + \log A`.

    Parameters
    ----------
    tau : float
        Temperature, finite and ``> 0``.
    ref : array_like, shape ``(..., A)``
        Reference policy, rows on the simplex; broadcast against ``q``.

    References
    ----------
    .. [1] Geist, Scherrer, Pietquin, "A Theory of Regularized MDPs", ICML 2019, Sec. 5
       (mirror descent modified policy iteration).
    """

    tau: float
    ref: np.ndarray

    def __post_init__(self):
        object.__setattr__(self, "tau", _check_tau(self.tau))
        object.__setattr__(self, "ref", _check_ref(self.ref))

    def value(self, pi) -> np.ndarray:
        return self.tau * rel_entr(_rows(pi), self.ref).sum(axis=-1)

    def max_omega(self, q) -> tuple[np.ndarray, np.ndarray]:
        q = _rows(q)
        q, ref = np.broadcast_arrays(q, self.ref)
        log_ref = np.log(ref, where=ref > 0, out=np.full(ref.shape, -_INF))
        m = np.max(np.where(ref > 0, q, -_INF), axis=-1, keepdims=True)
        pi, lse = _softmax_and_lse(np.where(ref > 0, (q - m) / self.tau + log_ref, -_INF))
        return m[..., 0] + self.tau * lse, pi

    def bregman(self, p, p2) -> np.ndarray:
        return self.tau * _kl_terms(_rows(p), _rows(p2)).sum(axis=-1)


def _kl_terms(p: np.ndarray, p2: np.ndarray) -> np.ndarray:
    r"""Entries of :math:`\mathrm{KL}(p\,\|\,p_2)` (plus :math:`p_2 - p`, as ``kl_div``),
    computed as :math:`p(\log p - \log p_2)`: ``scipy.special.kl_div`` forms
    :math:`p/p_2`, which overflows to ``inf`` for a subnormal :math:`p_2` (a softmax entry
    near underflow) although the divergence is finite."""
    p, p2 = np.broadcast_arrays(p, p2)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = p * (np.log(p) - np.log(p2)) - p + p2
    t = np.where(p > 0, np.where(p2 > 0, t, _INF), p2)
    return t


# --------------------------------------------------------------------------- Tsallis
def _sparsemax(z: np.ndarray) -> np.ndarray:
    r"""Euclidean projection of each row of ``z`` onto the simplex (Martins & Astudillo 2016).

    Sort :math:`z_{(1)} \ge \dots \ge z_{(A)}`; the support size is
    :math:`k = \max\{j : 1 + j z_{(j)} > \sum_{i \le j} z_{(i)}\}`, the threshold
    :math:`\theta = (\sum_{i\le k} z_{(i)} - 1)/k`, and :math:`\pi = [z - \theta]_+`.
    """
    zs = -np.sort(-z, axis=-1)
    cs = np.cumsum(zs, axis=-1)
    j = np.arange(1, z.shape[-1] + 1)
    k = np.sum(1.0 + j * zs > cs, axis=-1, keepdims=True)  # >= 1 always
    theta = (np.take_along_axis(cs, k - 1, axis=-1) - 1.0) / k
    return np.maximum(z - theta, 0.0)


def _tsallis_bisect(y: np.ndarray, qi: float) -> np.ndarray:
    r"""Tsallis greedy policy by bisection on the normalized threshold.

    ``y = (q - max q)/tau`` (so ``y <= 0`` with a zero in each row). From the KKT conditions of
    :math:`\max_\pi \langle\pi, q\rangle - \tau(\sum_a \pi_a^{k} - 1)/(k - 1)` (index :math:`k`):
    :math:`q_a - \tau\,\tfrac{k}{k-1}\pi_a^{k-1} - \theta + \mu_a = 0`, :math:`\mu_a\pi_a = 0`,
    hence :math:`\pi_a = [\tfrac{k-1}{k}(y_a - t)]_+^{1/(k-1)}` with
    :math:`t = (\theta - \max q)/\tau`. The mass :math:`\sum_a \pi_a(t)` is continuous and
    decreasing in :math:`t`; it is :math:`\ge 1` at :math:`t = -k/(k-1)` (the top action alone
    has :math:`\pi = 1`) and :math:`0` at :math:`t = 0`, so bisection on that bracket
    converges; the result is renormalized (Blondel et al. 2020, Alg. 1).
    """
    c = (qi - 1.0) / qi
    e = 1.0 / (qi - 1.0)

    def policy(t):
        base = np.maximum(c * (y - t), 0.0)
        with np.errstate(divide="ignore"):
            return np.exp(e * np.log(base))  # base**e, no overflow: base <= 1 at t >= lo

    lo = np.full(y.shape[:-1] + (1,), -1.0 / c)
    hi = np.zeros_like(lo)
    for _ in range(_BISECT_ITERS):
        mid = 0.5 * (lo + hi)
        if np.all((mid == lo) | (mid == hi)):
            break
        big = policy(mid).sum(axis=-1, keepdims=True) >= 1.0
        lo = np.where(big, mid, lo)
        hi = np.where(big, hi, mid)
    pi = policy(lo)
    return pi / pi.sum(axis=-1, keepdims=True)


@dataclass(frozen=True, slots=True)
class Tsallis(_Rowwise):
    r"""Negative Tsallis entropy of index :math:`k` (``q_index``),
    :math:`\Omega(\pi) = \dfrac{\sum_a \pi_a^{k} - 1}{k - 1}`, convex for :math:`k > 1`.

    .. math::

        \mathcal{G}(q)_a = \Big[\tfrac{k-1}{k}\,\tfrac{q_a - \theta}{\tau}\Big]_+^{1/(k-1)},
        \quad \theta \text{ such that } \textstyle\sum_a \mathcal{G}(q)_a = 1,
        \qquad \Omega^*_\tau(q) = \langle \mathcal{G}(q), q\rangle
            - \tau\,\Omega(\mathcal{G}(q)).

    * :math:`k = 2`: :math:`\Omega(\pi) = \|\pi\|^2 - 1` and
      :math:`\mathcal{G}(q) = \operatorname{sparsemax}(q / (2\tau))`, computed exactly by
      sorting [2]_. (Blondel et al. scale :math:`\Omega` by :math:`1/k`, giving
      :math:`\operatorname{sparsemax}(q/\tau)`; here :math:`\tau` carries that factor.)
    * :math:`k > 1` otherwise: bisection on the threshold (:func:`_tsallis_bisect`) [3]_.
    * :math:`k \to 1`: :math:`\Omega \to \sum_a \pi_a\log\pi_a` (Shannon); for
      :math:`|k - 1| \le 10^{-6}` the Shannon formulas are used.

    ``value`` is evaluated as :math:`\sum_a \pi_a\,\mathrm{expm1}((k-1)\log\pi_a)/(k-1)`, equal
    to :math:`\Omega` on the simplex and accurate as :math:`k \to 1`.

    Parameters
    ----------
    tau : float
        Temperature, finite and ``> 0``.
    q_index : float, default 2.0
        Entropic index :math:`k \ge 1`.

    References
    ----------
    .. [1] Geist, Scherrer, Pietquin, "A Theory of Regularized MDPs", ICML 2019.
    .. [2] Martins, Astudillo, "From Softmax to Sparsemax", ICML 2016, Alg. 1.
    .. [3] Blondel, Martins, Niculae, "Learning with Fenchel-Young Losses", JMLR 2020,
       Sec. 4.3 and Alg. 1.

    Examples
    --------
    >>> import numpy as np
    >>> Tsallis(tau=0.5, q_index=2.0).greedy(np.array([1.0, 0.5, -1.0])).tolist()
    [0.75, 0.25, 0.0]
    """

    tau: float
    q_index: float = 2.0

    def __post_init__(self):
        object.__setattr__(self, "tau", _check_tau(self.tau))
        object.__setattr__(self, "q_index", check_real_scalar("q_index", self.q_index, 1.0, _INF))

    @property
    def _shannon(self) -> bool:
        return self.q_index - 1.0 <= TSALLIS_SHANNON_ATOL

    def value(self, pi) -> np.ndarray:
        pi = _rows(pi)
        if self._shannon:
            return self.tau * xlogy(pi, pi).sum(axis=-1)
        k1 = self.q_index - 1.0
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(pi > 0, pi * np.expm1(k1 * np.log(pi)), 0.0)
        return self.tau * terms.sum(axis=-1) / k1

    def max_omega(self, q) -> tuple[np.ndarray, np.ndarray]:
        q = _rows(q)
        if self._shannon:
            return Shannon(self.tau).max_omega(q)
        m = q.max(axis=-1, keepdims=True)
        if self.q_index == 2.0:
            pi = _sparsemax((q - m) / (2.0 * self.tau))
        else:
            pi = _tsallis_bisect((q - m) / self.tau, self.q_index)
        return m[..., 0] + _dot(pi, q - m) - self.value(pi), pi

    def bregman(self, p, p2) -> np.ndarray:
        p, p2 = _rows(p), _rows(p2)
        if self._shannon:
            return self.tau * _kl_terms(p, p2).sum(axis=-1)
        k = self.q_index
        # Bregman divergence of t -> t^k, termwise >= 0 by convexity.
        terms = p**k - p2**k - k * p2 ** (k - 1) * (p - p2)
        return self.tau * np.maximum(terms, 0.0).sum(axis=-1) / (k - 1)


# --------------------------------------------------------------------------- log-barrier
@dataclass(frozen=True, slots=True)
class LogBarrier(_Rowwise):
    r"""Log-barrier (Burg entropy), :math:`\Omega(\pi) = -\sum_a \log \pi_a`.

    .. math::

        \mathcal{G}(q)_a = \frac{\tau}{\lambda - q_a}, \quad
        \lambda > \max_a q_a \text{ the root of } \sum_a \frac{\tau}{\lambda - q_a} = 1,
        \qquad D(p, p') = \tau\sum_a \Big[\frac{p_a}{p'_a} - 1 - \log\frac{p_a}{p'_a}\Big]
        \ (\text{Itakura-Saito}).

    Notes
    -----
    With :math:`u = \lambda - \max q` the root lies in :math:`[\tau, A\tau]`; the map
    :math:`u \mapsto \sum_a \tau/(u + \max q - q_a)` is convex and decreasing, so Newton
    started at :math:`u = \tau` increases monotonically to the root (quadratically near it);
    each step is safeguarded by the bisection bracket. Rows whose residual
    :math:`|\sum_a \pi_a - 1|` stays above ``1e-10`` after 100 steps trigger a
    :class:`~tabular_rl.exceptions.NumericalWarning`. Every action gets positive probability.

    Parameters
    ----------
    tau : float
        Temperature, finite and ``> 0``.

    References
    ----------
    .. [1] Geist, Scherrer, Pietquin, "A Theory of Regularized MDPs", ICML 2019.
    """

    tau: float

    def __post_init__(self):
        object.__setattr__(self, "tau", _check_tau(self.tau))

    def value(self, pi) -> np.ndarray:
        pi = _rows(pi)
        with np.errstate(divide="ignore"):
            return -self.tau * np.log(pi).sum(axis=-1)

    def max_omega(self, q) -> tuple[np.ndarray, np.ndarray]:
        q = _rows(q)
        A = q.shape[-1]
        m = q.max(axis=-1, keepdims=True)
        d = (m - q) / self.tau  # >= 0; scaled so the root u/tau lies in [1, A]
        lo = np.ones(m.shape)
        hi = np.full(m.shape, float(A))
        u = lo.copy()
        for _ in range(_NEWTON_ITERS):
            w = 1.0 / (u + d)
            f = w.sum(axis=-1, keepdims=True) - 1.0
            lo = np.where(f >= 0, u, lo)
            hi = np.where(f <= 0, u, hi)
            step = f / (w * w).sum(axis=-1, keepdims=True)
            new = u + step
            new = np.where((new > lo) & (new < hi), new, 0.5 * (lo + hi))
            done = np.abs(new - u) <= 4 * np.finfo(float).eps * u
            u = np.where(f == 0, u, new)
            if np.all(done | (f == 0)):
                break
        pi = 1.0 / (u + d)
        resid = np.abs(pi.sum(axis=-1) - 1.0)
        if np.any(resid > 1e-10):
            warnings.warn(f"LogBarrier.greedy: normalizer root not found to 1e-10 (largest "
                          f"|sum(pi) - 1| = {resid.max():.3g}); the result was renormalized",
                          NumericalWarning, stacklevel=3)
        pi /= pi.sum(axis=-1, keepdims=True)
        return m[..., 0] + _dot(pi, q - m) - self.value(pi), pi

    def bregman(self, p, p2) -> np.ndarray:
        p, p2 = _rows(p), _rows(p2)
        with np.errstate(divide="ignore"):
            x = p / p2
            terms = (x - 1.0) - np.log(x)
        return self.tau * np.maximum(terms, 0.0).sum(axis=-1)


# --------------------------------------------------------------------------- chi-squared
@dataclass(frozen=True, slots=True, eq=False)
class ChiSquared(_Rowwise):
    r"""Pearson :math:`\chi^2` divergence to a reference policy,
    :math:`\Omega(\pi) = \tfrac12 \sum_a (\pi_a - \text{ref}_a)^2 / \text{ref}_a`.

    .. math::

        \mathcal{G}(q)_a = \text{ref}_a\Big[1 + \frac{q_a - \theta}{\tau}\Big]_+, \quad
        \theta \text{ such that } \textstyle\sum_a \mathcal{G}(q)_a = 1, \qquad
        D(p, p') = \frac{\tau}{2}\sum_a \frac{(p_a - p'_a)^2}{\text{ref}_a}.

    The greedy step is a projection onto the simplex in the ``1/ref``-weighted norm, solved
    exactly: the mass is piecewise linear in :math:`\theta` with breakpoints
    :math:`q_a + \tau`, found by sorting (the weighted analogue of sparsemax). Actions with
    :math:`\text{ref}_a = 0` get probability 0 (:math:`\Omega = +\infty` if
    :math:`\pi_a > 0` there, the term is 0 when :math:`\pi_a = 0`).

    Parameters
    ----------
    tau : float
        Temperature, finite and ``> 0``.
    ref : array_like, shape ``(..., A)``
        Reference policy, rows on the simplex; broadcast against ``q``.

    References
    ----------
    .. [1] Geist, Scherrer, Pietquin, "A Theory of Regularized MDPs", ICML 2019.
    .. [2] Blondel, Martins, Niculae, "Learning with Fenchel-Young Losses", JMLR 2020.
    """

    tau: float
    ref: np.ndarray

    def __post_init__(self):
        object.__setattr__(self, "tau", _check_tau(self.tau))
        object.__setattr__(self, "ref", _check_ref(self.ref))

    def _quad(self, diff_sq: np.ndarray, ref: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(ref > 0, diff_sq / ref, np.where(diff_sq > 0, _INF, 0.0))
        return 0.5 * self.tau * t.sum(axis=-1)

    def value(self, pi) -> np.ndarray:
        pi = _rows(pi)
        pi, ref = np.broadcast_arrays(pi, self.ref)
        return self._quad((pi - ref) ** 2, ref)

    def max_omega(self, q) -> tuple[np.ndarray, np.ndarray]:
        q = _rows(q)
        q, ref = np.broadcast_arrays(q, self.ref)
        m = np.max(np.where(ref > 0, q, -_INF), axis=-1, keepdims=True)
        y = np.where(ref > 0, (q - m) / self.tau, 0.0)
        order = np.argsort(-y, axis=-1, kind="stable")
        ys = np.take_along_axis(y, order, axis=-1)
        rs = np.take_along_axis(ref, order, axis=-1)
        R = np.cumsum(rs, axis=-1)
        C = np.cumsum(rs * ys, axis=-1)
        zero = np.zeros(ys.shape[:-1] + (1,))
        R_prev = np.concatenate([zero, R[..., :-1]], axis=-1)
        C_prev = np.concatenate([zero, C[..., :-1]], axis=-1)
        mass_at_break = C_prev - ys * R_prev  # sum_a pi_a when theta sits at breakpoint j
        k = np.sum(mass_at_break < 1.0, axis=-1, keepdims=True)  # >= 1; R_k > 0
        Rk = np.take_along_axis(R, k - 1, axis=-1)
        Ck = np.take_along_axis(C, k - 1, axis=-1)
        t = 1.0 + (Ck - 1.0) / Rk
        pi = ref * np.maximum(1.0 + y - t, 0.0)
        pi /= pi.sum(axis=-1, keepdims=True)
        qm = np.where(ref > 0, q - m, 0.0)
        return m[..., 0] + _dot(pi, qm) - self.value(pi), pi

    def bregman(self, p, p2) -> np.ndarray:
        p, p2 = _rows(p), _rows(p2)
        p, p2, ref = np.broadcast_arrays(p, p2, self.ref)
        return self._quad((p - p2) ** 2, ref)


# --------------------------------------------------------------------------- f-divergences
@dataclass(frozen=True, slots=True, eq=False)
class FDivergence(_Rowwise):
    r"""General :math:`f`-divergence to a reference policy,
    :math:`\Omega(\pi) = \sum_a \text{ref}_a\, f(\pi_a / \text{ref}_a)`.

    ``f`` is convex on :math:`[0, \infty)`, differentiable and strictly convex on
    :math:`(0, \infty)`; the user supplies ``f``, its derivative ``f_prime`` and the inverse
    derivative ``f_prime_inv`` (defined on all of :math:`\mathbb{R}`; values below ``0`` are
    clipped, which is the complementary-slackness case :math:`\pi_a = 0`). The KKT conditions of
    :math:`\max_{\pi\in\Delta} \langle\pi, q\rangle - \tau\Omega(\pi)` give

    .. math::

        \mathcal{G}(q)_a = \text{ref}_a\,\big[(f')^{-1}\big((q_a - \theta)/\tau\big)\big]_+,
        \qquad
        D(p, p') = \tau\sum_a \text{ref}_a\big[f(x_a) - f(x'_a) - f'(x'_a)(x_a - x'_a)\big],

    with :math:`x = p/\text{ref}`, :math:`x' = p'/\text{ref}`. The threshold :math:`\theta`
    (normalized :math:`t = (\theta - \max q)/\tau`) is found by bisection on the bracket
    :math:`[-f'(1/\text{ref}_{a^*}),\ -f'(1)]`, :math:`a^*` the top action, on which the mass
    goes from :math:`\ge 1` to :math:`\le 1`. The row is then renormalized; a mass further
    than ``1e-8`` from one (``f_prime_inv`` not the inverse of ``f_prime``, or a
    discontinuity) gives a :class:`~tabular_rl.exceptions.NumericalWarning`.

    :math:`f(x) = x\log x` gives :class:`KL`, :math:`f(x) = (x - 1)^2/2` gives
    :class:`ChiSquared`. Actions with :math:`\text{ref}_a = 0` get probability 0 and
    :math:`0\,f(p/0) = +\infty` for :math:`p > 0` (superlinear ``f`` assumed).

    Parameters
    ----------
    tau : float
        Temperature, finite and ``> 0``.
    ref : array_like, shape ``(..., A)``
        Reference policy, rows on the simplex; broadcast against ``q``.
    f, f_prime, f_prime_inv : callable
        Vectorized ufunc-like callables.

    References
    ----------
    .. [1] Geist, Scherrer, Pietquin, "A Theory of Regularized MDPs", ICML 2019.
    .. [2] Blondel, Martins, Niculae, "Learning with Fenchel-Young Losses", JMLR 2020,
       Sec. 4 (generalized entropies, bisection).
    """

    tau: float
    ref: np.ndarray
    f: object
    f_prime: object
    f_prime_inv: object

    def __post_init__(self):
        object.__setattr__(self, "tau", _check_tau(self.tau))
        object.__setattr__(self, "ref", _check_ref(self.ref))
        for name in ("f", "f_prime", "f_prime_inv"):
            if not callable(getattr(self, name)):
                raise TypeError(f"{name} must be callable, got "
                                f"{type(getattr(self, name)).__name__}")

    def _ratio(self, p: np.ndarray, ref: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(ref > 0, p / np.where(ref > 0, ref, 1.0), 0.0)

    def value(self, pi) -> np.ndarray:
        pi = _rows(pi)
        pi, ref = np.broadcast_arrays(pi, self.ref)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(ref > 0, ref * self.f(self._ratio(pi, ref)),
                         np.where(pi > 0, _INF, 0.0))
        return self.tau * t.sum(axis=-1)

    def max_omega(self, q) -> tuple[np.ndarray, np.ndarray]:
        q = _rows(q)
        q, ref = np.broadcast_arrays(q, self.ref)
        sup = ref > 0
        qs = np.where(sup, q, -_INF)
        top = np.argmax(qs, axis=-1)[..., None]
        m = np.take_along_axis(qs, top, axis=-1)
        y = np.where(sup, (q - m) / self.tau, -_INF)
        ref_top = np.take_along_axis(ref, top, axis=-1)
        fp_inv = self.f_prime_inv

        def policy(t):
            with np.errstate(over="ignore", invalid="ignore"):
                g = np.maximum(fp_inv(y - t), 0.0)
            return np.where(sup, ref * g, 0.0)

        lo = -np.asarray(self.f_prime(1.0 / ref_top), dtype=np.float64)
        hi = np.full(lo.shape, -float(self.f_prime(1.0)))
        for _ in range(_BISECT_ITERS):
            mid = 0.5 * (lo + hi)
            if np.all((mid == lo) | (mid == hi)):
                break
            big = policy(mid).sum(axis=-1, keepdims=True) >= 1.0
            lo = np.where(big, mid, lo)
            hi = np.where(big, hi, mid)
        pi = policy(lo)
        mass = pi.sum(axis=-1, keepdims=True)
        if not np.all(np.abs(mass - 1.0) <= 1e-8):
            warnings.warn(f"FDivergence.greedy: threshold search ended with mass "
                          f"{float(np.max(np.abs(mass - 1.0))):.3g} away from 1; check that "
                          "f_prime_inv inverts f_prime; the result was renormalized",
                          NumericalWarning, stacklevel=3)
        pi = pi / mass
        qm = np.where(sup, q - m, 0.0)
        return m[..., 0] + _dot(pi, qm) - self.value(pi), pi

    def bregman(self, p, p2) -> np.ndarray:
        p, p2 = _rows(p), _rows(p2)
        p, p2, ref = np.broadcast_arrays(p, p2, self.ref)
        x, x2 = self._ratio(p, ref), self._ratio(p2, ref)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = ref * (self.f(x) - self.f(x2) - self.f_prime(x2) * (x - x2))
            t = np.where(ref > 0, np.where(x == x2, 0.0, np.maximum(t, 0.0)),
                         np.where((p > 0) | (p2 > 0), _INF, 0.0))
        return self.tau * t.sum(axis=-1)


# --------------------------------------------------------------------------- Tsallis-KL
@dataclass(frozen=True, slots=True, eq=False)
class TsallisKL(_Rowwise):
    r"""Tsallis relative entropy of index :math:`k` (``q_index``) to a reference policy,

    .. math::

        \Omega(\pi) = \sum_a \text{ref}_a\, f_k(\pi_a/\text{ref}_a)
            = \frac{\sum_a \pi_a^{k}\,\text{ref}_a^{1-k} - 1}{k - 1},
        \qquad f_k(x) = \frac{x^{k} - x}{k - 1},

    the :math:`f`-divergence with :math:`f_k` (convex, superlinear for :math:`k > 1`, and
    :math:`f_k(x) \to x\log x` as :math:`k \to 1`, so ``TsallisKL`` tends to :class:`KL`; within
    ``1e-6`` of 1 the :class:`KL` formulas are used). The greedy step solves
    :math:`f_k'(\pi_a/\text{ref}_a) = (q_a - \theta)/\tau` by the threshold search of
    :class:`FDivergence`, with :math:`f_k'(x) = (k x^{k-1} - 1)/(k-1)` and
    :math:`(f_k')^{-1}(y) = [(1 + (k-1)y)/k]_+^{1/(k-1)}`. With a uniform ``ref`` over
    :math:`A` actions it equals :class:`Tsallis` at temperature :math:`\tau A^{k-1}` up to the
    constant :math:`\tau(A^{k-1} - 1)/(k-1)`.

    Parameters
    ----------
    tau : float
        Temperature, finite and ``> 0``.
    ref : array_like, shape ``(..., A)``
        Reference policy, rows on the simplex; broadcast against ``q``.
    q_index : float, default 2.0
        Entropic index :math:`k \ge 1`.

    References
    ----------
    .. [1] L. Zhu, Z. Chen, M. Schlegel, M. White, "General Munchausen Reinforcement
       Learning with Tsallis Kullback-Leibler Divergence", NeurIPS 2023 (arXiv 2301.11476,
       "Generalized Munchausen Reinforcement Learning using Tsallis KL Divergence").
    .. [2] S. Furuichi, K. Yanagi, K. Kuriyama, "Fundamental properties of Tsallis relative
       entropy", J. Math. Phys. 45, 2004.
    """

    tau: float
    ref: np.ndarray
    q_index: float = 2.0
    _impl: object = field(init=False, repr=False)

    def __post_init__(self):
        object.__setattr__(self, "tau", _check_tau(self.tau))
        object.__setattr__(self, "ref", _check_ref(self.ref))
        k = check_real_scalar("q_index", self.q_index, 1.0, _INF)
        object.__setattr__(self, "q_index", k)
        if k - 1.0 <= TSALLIS_SHANNON_ATOL:
            impl = KL(self.tau, self.ref)
        else:
            k1 = k - 1.0

            def f(x):
                with np.errstate(divide="ignore", invalid="ignore"):
                    return np.where(x > 0, x * np.expm1(k1 * np.log(x)), 0.0) / k1

            def f_prime(x):
                with np.errstate(divide="ignore"):
                    return k * np.expm1(k1 * np.log(x)) / k1 + 1.0

            def f_prime_inv(y):
                base = 1.0 + k1 * y
                with np.errstate(divide="ignore", invalid="ignore"):
                    out = np.exp((np.log(base) - np.log(k)) / k1)
                return np.where(base > 0, out, 0.0)

            impl = FDivergence(self.tau, self.ref, f, f_prime, f_prime_inv)
        object.__setattr__(self, "_impl", impl)

    def value(self, pi) -> np.ndarray:
        return self._impl.value(pi)

    def max_omega(self, q) -> tuple[np.ndarray, np.ndarray]:
        return self._impl.max_omega(q)

    def bregman(self, p, p2) -> np.ndarray:
        return self._impl.bregman(p, p2)
