r"""Episodic online learning: compiled episode simulation and exact regret.

An online learner plays policies :math:`\pi_1, \pi_2, \dots` on an episodic MDP, one
episode each. Its regret after :math:`K` episodes is measured here *in expectation over
the episode*, with the exact value of each played policy,

.. math::

    \mathrm{Regret}(K) = \sum_{k=1}^{K} \big(V^*_1(s_1) - V^{\pi_k}_1(s_1)\big),
    \qquad V_1(s_1) := \mu^\top V_1,

where :math:`V^*` comes from backward induction
(:func:`tabular_rl.planning.backward_induction`) and :math:`V^{\pi_k}` from exact policy
evaluation on the true model (the same recursion as
:func:`tabular_rl.evaluation.evaluate_policy`). The sampled return of the episode is
*not* used: it would add a zero-mean martingale term of order :math:`H\sqrt K` that hides
the learner's own regret. (Steps are numbered ``h = 0, ..., H-1`` in the code, ``1..H``
in the papers.)

This module holds what every episodic learner shares: the model flattened to stacked CSR
rows for the compiled kernels (:class:`EpisodicModel`), numba helpers that draw a start
state, an action and a next state from counter-based uniforms (the splitmix64 streams of
:mod:`tabular_rl.sampling`, so runs are reproducible draw for draw), exact evaluation and
occupancy of a policy inside a kernel, the result type :class:`RegretCurve` and
:func:`policy_regret`, an uncompiled reference used to test the kernels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numba import njit

from .. import _sampling_kernels as K
from .. import _validation as V
from ..mdp import EpisodicMDP
from ..sampling import _cdfs, _csr_of, _keys

__all__ = ["EpisodicModel", "RegretCurve", "optimal_start_value", "policy_regret",
           "record_points"]


@dataclass(frozen=True)
class EpisodicModel:
    """An :class:`EpisodicMDP` flattened for the compiled kernels.

    Attributes
    ----------
    S, A, H : int
    indptr, indices, data, cdf, hi : ndarray
        Stacked CSR of the kernels: block ``kern_of_h[h]`` holds rows ``s*A + a`` of
        :math:`P_h`; ``cdf`` are the rows' running sums and ``hi`` their last positive
        entry (as in :mod:`tabular_rl.sampling`).
    kern_of_h : ndarray of int64 (H,)
    r : ndarray (H, S, A)
        Reward per step (broadcast when stationary).
    mu, mu_cdf : ndarray (S,)
    mu_hi : int
    """

    S: int
    A: int
    H: int
    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    cdf: np.ndarray
    hi: np.ndarray
    kern_of_h: np.ndarray
    r: np.ndarray
    mu: np.ndarray
    mu_cdf: np.ndarray
    mu_hi: int

    @classmethod
    def of(cls, mdp: EpisodicMDP) -> EpisodicModel:
        if not isinstance(mdp, EpisodicMDP):
            raise TypeError(f"expected an EpisodicMDP, got {type(mdp).__name__}")
        H = mdp.H
        if mdp.time_varying:
            P = sp.vstack([_csr_of(mdp.P_flat(h)) for h in range(H)], format="csr")
            kern = np.arange(H, dtype=np.int64)
        else:
            P = _csr_of(mdp.P_flat(0))
            kern = np.zeros(H, dtype=np.int64)
        P = sp.csr_matrix(P)
        cdf, hi = _cdfs(P)
        r = np.ascontiguousarray(np.broadcast_to(mdp.r, (H, mdp.S, mdp.A)), dtype=np.float64)
        mu = np.asarray(mdp.mu, dtype=np.float64)
        return cls(S=mdp.S, A=mdp.A, H=H,
                   indptr=np.asarray(P.indptr, dtype=np.int64),
                   indices=np.asarray(P.indices, dtype=np.int64),
                   data=np.asarray(P.data, dtype=np.float64), cdf=np.asarray(cdf),
                   hi=np.asarray(hi), kern_of_h=kern, r=r, mu=mu, mu_cdf=np.cumsum(mu),
                   mu_hi=int(np.flatnonzero(mu > 0)[-1]))

    @property
    def arrays(self) -> tuple:
        """The kernel arguments, in the order the compiled helpers take them."""
        return (self.indptr, self.indices, self.data, self.cdf, self.hi, self.kern_of_h)


@dataclass(frozen=True)
class RegretCurve:
    r"""Cumulative regret of an online learner at recorded episode counts.

    Attributes
    ----------
    episodes : ndarray of int64 (k,)
        Episode counts :math:`K` at which the regret was recorded (increasing).
    regret : ndarray (k,) or (n_seeds, k)
        :math:`\mathrm{Regret}(K)`, exact expectation over each episode given the
        learner's policy (see the module docstring); a leading seed axis for a batch.
    optimal_value : float
        The comparator's value (:math:`\mu^\top V^*_1` for rewards; for losses the
        comparator's cumulative expected loss is recorded per point instead and this is
        ``nan``).
    method : str
    """

    episodes: np.ndarray
    regret: np.ndarray
    optimal_value: float
    method: str

    @property
    def final(self) -> np.ndarray | float:
        """Regret after the last recorded episode (per seed for a batch)."""
        return self.regret[..., -1]


def record_points(n_episodes: int, record_at=None) -> np.ndarray:
    """Validated, sorted episode counts in ``[1, n_episodes]`` (default: ``n_episodes``)."""
    n_episodes = V.check_positive_int("n_episodes", n_episodes)
    if record_at is None:
        return np.array([n_episodes], dtype=np.int64)
    pts = np.asarray(record_at)
    if pts.ndim != 1 or pts.size == 0 or not np.issubdtype(pts.dtype, np.integer):
        raise ValueError(f"record_at must be a non-empty 1-D array of ints, got {record_at!r}")
    bad = (pts < 1) | (pts > n_episodes)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"record_at[{i}] = {int(pts[i])} outside [1, n_episodes={n_episodes}]")
    if np.any(np.diff(pts) <= 0):
        i = int(np.argmax(np.diff(pts) <= 0)) + 1
        raise ValueError(f"record_at must be strictly increasing; record_at[{i}] = "
                         f"{int(pts[i])} follows {int(pts[i - 1])}")
    return pts.astype(np.int64)


def stream_keys(seed, seeds) -> tuple[np.ndarray, bool]:
    """64-bit stream keys (one per seed) and whether the call is batched (see
    :func:`tabular_rl.sampling.sample_next_states` for the accepted seeds)."""
    return _keys(seed, seeds)


def optimal_start_value(mdp: EpisodicMDP) -> float:
    r""":math:`\mu^\top V^*_0` by backward induction (the regret's comparator)."""
    from ..planning.dp import backward_induction

    return float(np.asarray(mdp.mu) @ backward_induction(mdp).v[0])


def policy_regret(mdp: EpisodicMDP, policies) -> np.ndarray:
    r"""Per-episode regrets :math:`\mu^\top(V^*_0 - V^{\pi_k}_0)` of a list of policies.

    An uncompiled reference (exact evaluation with
    :func:`tabular_rl.evaluation.evaluate_policy`) for testing the kernels.

    Parameters
    ----------
    policies : sequence of array_like
        Each ``(H, S, A)``, ``(H, S)`` of actions, or anything ``evaluate_policy`` takes.
    """
    from ..evaluation import evaluate_policy

    v_star = optimal_start_value(mdp)
    mu = np.asarray(mdp.mu)
    return np.array([v_star - float(mu @ evaluate_policy(mdp, pi)[0]) for pi in policies])


# ------------------------------------------------------------------ compiled helpers


@njit(cache=True, inline="always")
def draw_start(mu_cdf, mu_hi, key, ctr):  # pragma: no cover - compiled
    """A start state :math:`s_0\\sim\\mu` from the uniform at counter ``ctr``."""
    return K.search(mu_cdf, 0, mu_hi, K.uniform(key, ctr))


@njit(cache=True, inline="always")
def draw_next(indptr, indices, cdf, hi, kern_of_h, S, A, h, s, a, key,
              ctr):  # pragma: no cover - compiled
    """A next state :math:`s'\\sim P_h(\\cdot\\mid s, a)` from the uniform at ``ctr``."""
    i = kern_of_h[h] * S * A + s * A + a
    return indices[K.search(cdf, indptr[i], hi[i], K.uniform(key, ctr))]


@njit(cache=True, inline="always")
def draw_action(pi_row, u):  # pragma: no cover - compiled
    """An action from the probabilities ``pi_row`` (A,) and a uniform ``u``."""
    A = pi_row.shape[0]
    acc = 0.0
    last = 0
    for a in range(A):
        if pi_row[a] > 0.0:
            last = a
    for a in range(last):
        acc += pi_row[a]
        if u < acc:
            return a
    return last


@njit(cache=True)
def deterministic_value(indptr, indices, data, kern_of_h, r, mu, act,
                        v):  # pragma: no cover - compiled
    r""":math:`\mu^\top V^\pi_0` of the deterministic policy ``act`` (H, S); ``v`` (H+1, S)
    is scratch (row ``H`` must be zero)."""
    H, S, A = r.shape
    for h in range(H - 1, -1, -1):
        base = kern_of_h[h] * S * A
        for s in range(S):
            a = act[h, s]
            i = base + s * A + a
            acc = r[h, s, a]
            for k in range(indptr[i], indptr[i + 1]):
                acc += data[k] * v[h + 1, indices[k]]
            v[h, s] = acc
    out = 0.0
    for s in range(S):
        out += mu[s] * v[0, s]
    return out


@njit(cache=True)
def occupancy(indptr, indices, data, kern_of_h, mu, pi, q):  # pragma: no cover - compiled
    r"""State occupancy :math:`q(h, s) = \Pr^\pi(s_h = s)` of ``pi`` (H, S, A) into ``q``
    (H, S): :math:`q_0 = \mu`, :math:`q_{h+1}(s') = \sum_{s,a} q_h(s)\pi_h(a|s)
    P_h(s'|s,a)`."""
    H, S, A = pi.shape
    for s in range(S):
        q[0, s] = mu[s]
    for h in range(H - 1):
        for s in range(S):
            q[h + 1, s] = 0.0
        base = kern_of_h[h] * S * A
        for s in range(S):
            w = q[h, s]
            if w == 0.0:
                continue
            for a in range(A):
                wa = w * pi[h, s, a]
                if wa == 0.0:
                    continue
                i = base + s * A + a
                for k in range(indptr[i], indptr[i + 1]):
                    q[h + 1, indices[k]] += wa * data[k]
