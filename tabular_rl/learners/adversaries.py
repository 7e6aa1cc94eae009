r"""Seeded, reproducible loss sequences for episodic MDPs with bandit feedback.

A :class:`LossSequence` is an *oblivious* adversary: before the game it fixes mean loss
tables :math:`m_t(h, s, a)\in[0,1]` that cycle through ``n_phases`` tables,
:math:`m_t = \text{means}[t \bmod n_{\text{phases}}]`, and the loss revealed on a visited
pair is either the mean itself or a Bernoulli draw :math:`\ell_t(h,s,a) = \mathbb
1[u_t(h,s,a) < m_t(h,s,a)]`, :math:`u` the counter-based uniform of
:mod:`tabular_rl.sampling` under the sequence's own key (independent of the learner's
randomness). The draws of run ``j`` are a pure function of ``(seed, j, t, h, s, a)``.

Regret is measured against the mean tables (the expected regret against the best fixed
policy, as in Dann, Wei, Zimmert 2023, §2):

.. math::

    \mathrm{Reg}(T) = \sum_{t=1}^{T} \langle q^{\pi_t}, m_t\rangle
    - \min_\pi \sum_{t=1}^{T} \langle q^{\pi}, m_t\rangle,

with :math:`q^\pi(h,s,a)` the occupancy. With one phase this is the pseudo-regret of a
stochastic environment.

Constructors
------------
* :func:`stochastic_losses` -- i.i.d. Bernoulli losses, one best action per
  ``(h, s)`` with a fixed gap :math:`\Delta` (the stochastic regime).
* :func:`minimax_losses` -- the same with :math:`\Delta_T = c\sqrt{A/T}`: the two-point
  construction behind the :math:`\Omega(\sqrt{AT})` lower bound (Auer, Cesa-Bianchi,
  Freund, Schapire, SIAM J. Comput. 2002, Thm. 5.1), where every learner pays
  :math:`\Theta(\sqrt T)`.
* :func:`alternating_losses` -- an adversarial, non-stationary sequence: the tables
  alternate every episode between two tables in which the hidden best action looks worst
  and best by ``amplitude`` (the pattern that gives follow-the-leader linear regret),
  while on average it is better by :math:`\Delta_T = c\sqrt{A/T}`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from .. import _sampling_kernels as K
from .. import _validation as V

__all__ = ["LossSequence", "alternating_losses", "minimax_gap", "minimax_losses",
           "stochastic_losses"]


@dataclass(frozen=True)
class LossSequence:
    """An oblivious loss sequence: cycling mean tables and optional Bernoulli noise.

    Attributes
    ----------
    means : ndarray (n_phases, H, S, A)
        Mean losses in [0, 1]; episode ``t`` (0-based) uses ``means[t % n_phases]``.
    bernoulli : bool
        Reveal Bernoulli draws (True) or the means themselves (False).
    seed : int
        Root of the draws: a run whose learner stream key is ``k`` (see
        :func:`tabular_rl.sampling.sample_next_states` for how seeds become keys) draws its
        losses under the key of ``SeedSequence([seed, k])``. The same learner seed thus
        sees the same losses alone or in a batch, and two learners run with the same seed
        face the same realized sequence (paired comparisons).
    name : str
    """

    means: np.ndarray
    bernoulli: bool = True
    seed: int = 0
    name: str = "losses"

    def __post_init__(self):
        m = V.as_float_array("means", self.means, 4)
        V.check_finite("means", m)
        bad = (m < 0) | (m > 1)
        if bad.any():
            idx = np.unravel_index(int(np.argmax(bad)), m.shape)
            raise ValueError(f"means{list(map(int, idx))} = {float(m[idx])!r} outside [0, 1]")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int | np.integer) \
                or self.seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {self.seed!r}")
        object.__setattr__(self, "means", V.readonly(np.ascontiguousarray(m)))

    @property
    def n_phases(self) -> int:
        return int(self.means.shape[0])

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(H, S, A)``."""
        return tuple(int(x) for x in self.means.shape[1:])

    def keys(self, stream_keys: np.ndarray) -> np.ndarray:
        """Loss keys (uint64) of runs with the given learner stream keys."""
        return np.array([np.random.SeedSequence([int(self.seed), int(k)]).generate_state(
            1, np.uint64)[0] for k in np.asarray(stream_keys, dtype=np.uint64)],
            dtype=np.uint64)

    def cumulative_means(self, T: int) -> np.ndarray:
        r""":math:`\sum_{t<T} m_t`, shape ``(H, S, A)``."""
        T = V.check_positive_int("T", T)
        full, rest = divmod(T, self.n_phases)
        return full * self.means.sum(axis=0) + self.means[:rest].sum(axis=0)

    def losses(self, t0: int, t1: int, seed=0) -> np.ndarray:
        """The revealed loss tables of episodes ``t0..t1-1`` for a learner run with seed
        ``seed`` (one seed), ``(t1 - t0, H, S, A)`` (what the learner sees on the pairs it
        visits)."""
        from ..sampling import _keys

        out = np.empty((t1 - t0, *self.shape))
        key = self.keys(_keys(seed, None)[0])[0]
        for i, t in enumerate(range(t0, t1)):
            _fill_losses(self.means, self.bernoulli, key, t, out[i])
        return out


@njit(cache=True, inline="always")
def loss_at(means, bernoulli, key, t, h, s, a):  # pragma: no cover - compiled
    """The loss revealed at ``(h, s, a)`` in episode ``t`` (0-based)."""
    n_ph, H, S, A = means.shape
    m = means[t % n_ph, h, s, a]
    if not bernoulli:
        return m
    ctr = np.uint64(t) * np.uint64(H * S * A) + np.uint64((h * S + s) * A + a)
    return 1.0 if K.uniform(key, ctr) < m else 0.0


@njit(cache=True)
def _fill_losses(means, bernoulli, key, t, out):  # pragma: no cover - compiled
    _, H, S, A = means.shape
    for h in range(H):
        for s in range(S):
            for a in range(A):
                out[h, s, a] = loss_at(means, bernoulli, key, t, h, s, a)


def _best_actions(H: int, S: int, A: int, seed) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, A, size=(H, S))


def _check_shape(H, S, A):
    return (V.check_positive_int("H", H), V.check_positive_int("S", S),
            V.check_positive_int("A", A))


def stochastic_losses(H: int, S: int, A: int, *, gap: float = 0.2, base: float = 0.5,
                      seed: int = 0, bernoulli: bool = True) -> LossSequence:
    r"""I.i.d. losses: at each ``(h, s)`` a random best action has mean
    :math:`\text{base} - \Delta/2`, the others :math:`\text{base} + \Delta/2`.

    Examples
    --------
    >>> seq = stochastic_losses(2, 3, 2, gap=0.2, seed=1)
    >>> seq.means.shape, round(float(seq.means.max() - seq.means.min()), 12)
    ((1, 2, 3, 2), 0.2)
    >>> bool(np.array_equal(seq.losses(0, 5, seed=1), seq.losses(0, 5, seed=1)))
    True
    """
    H, S, A = _check_shape(H, S, A)
    gap = V.check_real_scalar("gap", gap, 0.0, 1.0, hi_open=False)
    if not (gap / 2 <= base <= 1 - gap / 2):
        raise ValueError(f"base={base!r} must lie in [gap/2, 1 - gap/2] = "
                         f"[{gap / 2:g}, {1 - gap / 2:g}]")
    best = _best_actions(H, S, A, seed)
    m = np.full((1, H, S, A), base + gap / 2)
    hh, ss = np.meshgrid(np.arange(H), np.arange(S), indexing="ij")
    m[0, hh, ss, best] = base - gap / 2
    return LossSequence(m, bernoulli=bernoulli, seed=int(seed), name=f"stochastic(gap={gap:g})")


def minimax_gap(T: int, A: int, c: float = 1.0) -> float:
    r""":math:`\Delta_T = \min(c\sqrt{A/T}, 1/2)`: the gap of the lower-bound instance."""
    return float(min(c * np.sqrt(A / T), 0.5))


def minimax_losses(H: int, S: int, A: int, T: int, *, c: float = 1.0, seed: int = 0,
                   bernoulli: bool = True) -> LossSequence:
    r""":func:`stochastic_losses` with gap :math:`\Delta_T = c\sqrt{A/T}` (worst case for
    horizon ``T``: regret :math:`\Theta(\sqrt{AT})` for every learner)."""
    T = V.check_positive_int("T", T)
    seq = stochastic_losses(H, S, A, gap=minimax_gap(T, A, c), seed=seed, bernoulli=bernoulli)
    return LossSequence(seq.means, bernoulli=bernoulli, seed=int(seed),
                        name=f"minimax(T={T}, c={c:g})")


def alternating_losses(H: int, S: int, A: int, T: int, *, amplitude: float = 0.3,
                       c: float = 1.0, seed: int = 0, bernoulli: bool = True) -> LossSequence:
    r"""Two tables alternating every episode; the hidden best action :math:`a^*(h,s)`
    has mean :math:`\tfrac12 + \text{amplitude} - \Delta_T` in even episodes and
    :math:`\tfrac12 - \text{amplitude} - \Delta_T` in odd ones, the other actions
    :math:`\tfrac12 - \text{amplitude}` and :math:`\tfrac12 + \text{amplitude}`:
    the leader flips every episode, and :math:`a^*` wins on average by
    :math:`\Delta_T = c\sqrt{A/T}`.

    Examples
    --------
    >>> seq = alternating_losses(1, 1, 2, 100, amplitude=0.25, c=1.0, seed=0)
    >>> sorted(np.round(seq.means.mean(axis=0).ravel(), 6).tolist())   # gap sqrt(2/100)
    [0.358579, 0.5]
    """
    H, S, A = _check_shape(H, S, A)
    T = V.check_positive_int("T", T)
    gap = minimax_gap(T, A, c)
    amplitude = V.check_real_scalar("amplitude", amplitude, 0.0, 0.5, hi_open=False)
    if amplitude + gap > 0.5:
        raise ValueError(f"amplitude + gap = {amplitude + gap:g} must be <= 1/2")
    best = _best_actions(H, S, A, seed)
    m = np.empty((2, H, S, A))
    m[0] = 0.5 - amplitude
    m[1] = 0.5 + amplitude
    hh, ss = np.meshgrid(np.arange(H), np.arange(S), indexing="ij")
    m[0, hh, ss, best] = 0.5 + amplitude - gap
    m[1, hh, ss, best] = 0.5 - amplitude - gap
    return LossSequence(m, bernoulli=bernoulli, seed=int(seed),
                        name=f"alternating(T={T}, amplitude={amplitude:g}, c={c:g})")
