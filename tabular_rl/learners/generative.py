r"""Learning with a generative model: the plug-in (certainty-equivalence) estimator and
synchronous Q-learning, both batched over seeds.

A generative model answers a query :math:`(s, a)` with a fresh draw
:math:`s' \sim P(\cdot\mid s, a)` (:mod:`tabular_rl.sampling`). With :math:`n` draws per pair
(:math:`N = nSA` samples in all):

* **Plug-in** (:func:`plug_in`). Estimate :math:`\hat P(s'\mid s,a) = N(s,a,s')/n`, keep the
  known reward, and solve the empirical MDP :math:`\hat M` exactly:
  :math:`\hat Q^* = Q^*_{\hat M}`, :math:`\hat\pi` greedy for :math:`\hat Q^*`. Agarwal,
  Kakade and Yang (COLT 2020, Thm. 1 and Thm. 2) prove that for
  :math:`\varepsilon \in (0, (1-\gamma)^{-1/2}]` and

  .. math::

      n \;\ge\; \frac{c\,\log(c\,SA/((1-\gamma)\delta))}{(1-\gamma)^3\,\varepsilon^2}

  samples per pair, with probability at least :math:`1-\delta`,
  :math:`\|\hat Q^* - Q^*\|_\infty \le \varepsilon` and
  :math:`\|V^* - V^{\hat\pi}\|_\infty \le \varepsilon`; i.e. :math:`\tilde O(SA/((1-\gamma)^3
  \varepsilon^2))` samples, which matches the lower bound of Azar, Munos and Kappen
  (Machine Learning 2013, Thm. 3).

* **Synchronous Q-learning** (:func:`synchronous_q_learning`). At iteration :math:`t`
  every pair receives one fresh draw :math:`s'_t(s,a)` and

  .. math::

      Q_t(s,a) = (1-\eta_t)\,Q_{t-1}(s,a)
      + \eta_t\big(r(s,a) + \gamma \max_{a'} Q_{t-1}(s'_t(s,a), a')\big),

  with the rescaled linear step :math:`\eta_t = 1/(1 + (1-\gamma)t)` (Wainwright 2019;
  Li, Cai, Chen, Wei, Chi, "Is Q-learning minimax optimal? A tight sample complexity
  analysis", Operations Research 2024, arXiv:2102.06548, Thm. 1 uses
  :math:`\eta_t = 1/(1 + c_\eta (1-\gamma) t/\log^2 T)`). Li et al. prove that
  :math:`T = \tilde O(1/((1-\gamma)^4\varepsilon^2))` iterations (:math:`\tilde O(SA/((1-\gamma)^4
  \varepsilon^2))` samples) suffice for :math:`\|Q_T - Q^*\|_\infty \le \varepsilon`
  (Thm. 1) and that this is sharp for :math:`A \ge 2`: there are MDPs on which Q-learning
  with rescaled-linear or constant steps needs :math:`\tilde\Omega(SA/((1-\gamma)^4
  \varepsilon^2))` samples (Thm. 2) -- one power of the horizon more than the plug-in.

Errors are always measured against the exact solution of the true MDP, computed by
:func:`tabular_rl.policy_iteration` (exact policy evaluation, certified to rounding), never
against a learned estimate.

Randomness
----------
Both learners draw through :mod:`tabular_rl.sampling` (counter-based streams): the plug-in
counts for ``n1 < n2`` with the same seed share their first ``n1`` draws per pair, and a
batch over seeds gives, seed for seed, the same result as separate calls. Q-learning
draws its iterations in blocks of fixed length (depending only on :math:`SA`); block
:math:`c` of seed :math:`i` uses the stream of ``SeedSequence(seed_i).spawn_key + (c,)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numba
import numpy as np

from .. import _validation as V
from ..evaluation import evaluate_policy
from ..mdp import FiniteMDP, require_finite_mdp
from ..planning import policy_iteration
from ..sampling import GenerativeSampler, _seed_sequence
from ..solution import Solution

__all__ = [
    "PlugInResult",
    "QLearningResult",
    "STEP_SIZES",
    "batched_policy_iteration",
    "exact_solution",
    "plug_in",
    "synchronous_q_learning",
]


# ----------------------------------------------------------------------------- seeds


def _base_sequences(seed, seeds: int | None) -> tuple[list[np.random.SeedSequence], bool]:
    """One :class:`SeedSequence` per stream and whether the call is batched (the same rules
    as :func:`tabular_rl.sampling.sample_counts`)."""
    if seeds is not None:
        k = V.check_positive_int("seeds", seeds)
        if isinstance(seed, list | tuple | np.ndarray):
            raise ValueError("give either a list of seeds as seed= or a count as seeds=, "
                             "not both")
        return _seed_sequence(seed).spawn(k), True
    if isinstance(seed, list | tuple | np.ndarray):
        if len(seed) == 0:
            raise ValueError("seed as a list must hold at least one seed")
        return [_seed_sequence(s) for s in seed], True
    return [_seed_sequence(seed)], False


def _child(ss: np.random.SeedSequence, block: int) -> np.random.SeedSequence:
    return np.random.SeedSequence(ss.entropy, spawn_key=tuple(ss.spawn_key) + (block,),
                                  pool_size=ss.pool_size)


#: Empirical models with at most this many kernel entries are built dense (``(S, A, S)``):
#: for small models scipy.sparse overhead dominates planning.
DENSE_MAX_ENTRIES = 1 << 16


def _empirical_mdp(sampler: GenerativeSampler, counts: np.ndarray, n: int, r, gamma: float,
                   mu) -> FiniteMDP:
    r"""The empirical MDP :math:`(\hat P = N/n, r, \gamma)`: dense for small models, CSR on
    the sampler's pattern otherwise."""
    S, A = sampler.S, sampler.A
    if S * S * A <= DENSE_MAX_ENTRIES:
        P = np.zeros((S * A, S))
        rows = np.repeat(np.arange(S * A), np.diff(sampler.indptr))
        P[rows, sampler.indices] = counts / n
        return FiniteMDP(P.reshape(S, A, S), r, gamma, mu)
    return FiniteMDP(sampler.empirical_kernel(counts, n), r, gamma, mu)


def _dense_counts(sampler: GenerativeSampler, counts: np.ndarray, n: int) -> np.ndarray:
    """``(B, S, A, S)`` empirical kernels from ``(B, nnz)`` counts."""
    S, A = sampler.S, sampler.A
    rows = np.repeat(np.arange(S * A), np.diff(sampler.indptr))
    P = np.zeros((counts.shape[0], S * A, S))
    P[:, rows, sampler.indices] = counts / n
    return P.reshape(-1, S, A, S)


def batched_policy_iteration(P: np.ndarray, r: np.ndarray, gamma: float, *,
                             max_iter: int = 10_000) -> tuple[np.ndarray, np.ndarray]:
    r"""Optimal ``(Q*, greedy actions)`` of ``B`` small dense MDPs at once (shared ``r``,
    ``gamma`` allowed), by :func:`tabular_rl.batched.batched_policy_iteration` (Howard's PI
    with exact batched evaluations; Puterman 1994, Thm. 6.4.2). For the plug-in's many tiny
    empirical MDPs this is far cheaper than one :func:`tabular_rl.policy_iteration` call per
    seed.

    Parameters
    ----------
    P : ndarray (B, S, A, S)
    r : ndarray (S, A) or (B, S, A)
    gamma : float

    Returns
    -------
    q : ndarray (B, S, A)
    actions : ndarray of int (B, S)
    """
    from ..batched import batched_bellman
    from ..batched import batched_policy_iteration as _pi

    B, S, A, _ = P.shape
    r = np.broadcast_to(np.asarray(r, dtype=np.float64), (B, S, A))
    pi, v, _ = _pi(P, r, gamma, max_iter=max_iter)
    q = batched_bellman(P, r, np.full((B, 1), float(gamma)), v)
    return q, pi.argmax(axis=-1)


def exact_solution(mdp: FiniteMDP) -> Solution:
    """The exact solution of ``mdp`` that every error here is measured against
    (:func:`tabular_rl.policy_iteration`: exact evaluation, certified error bound)."""
    require_finite_mdp(mdp, "exact_solution")
    return policy_iteration(mdp)


# ----------------------------------------------------------------------------- plug-in


@dataclass(frozen=True, slots=True)
class PlugInResult:
    r"""What :func:`plug_in` returns.

    Attributes
    ----------
    q : ndarray
        :math:`\hat Q^*` of the empirical MDP, ``(S, A)`` or ``(n_seeds, S, A)``.
    actions : ndarray of int
        The greedy policy :math:`\hat\pi` as actions, ``(S,)`` or ``(n_seeds, S)``.
    n : int
        Draws per state-action pair.
    mdp : FiniteMDP
        The true model (for the exact error helpers).
    batched : bool
    """

    q: np.ndarray
    actions: np.ndarray
    n: int
    mdp: FiniteMDP
    batched: bool

    @property
    def samples(self) -> int:
        """Samples used per seed, :math:`nSA`."""
        return self.n * self.mdp.S * self.mdp.A

    def q_error(self, reference: Solution | None = None) -> np.ndarray | float:
        r""":math:`\|\hat Q^* - Q^*\|_\infty` per seed (``reference``: the exact solution,
        computed if not given)."""
        ref = exact_solution(self.mdp) if reference is None else reference
        err = np.abs(self.q - ref.q).max(axis=(-2, -1))
        return err if self.batched else float(err)

    def policy_gap(self, reference: Solution | None = None) -> np.ndarray | float:
        r""":math:`\|V^* - V^{\hat\pi}\|_\infty` per seed, :math:`V^{\hat\pi}` by exact policy
        evaluation in the true MDP."""
        ref = exact_solution(self.mdp) if reference is None else reference
        acts = self.actions.reshape(-1, self.mdp.S)
        uniq, inv = np.unique(acts, axis=0, return_inverse=True)
        gaps = np.array([np.abs(ref.v - evaluate_policy(self.mdp, a)).max() for a in uniq])
        out = gaps[np.asarray(inv).reshape(-1)]
        return out if self.batched else float(out[0])


def plug_in(mdp: FiniteMDP, n: int, *, seed=None, seeds: int | None = None,
            planner: Callable[[FiniteMDP], Solution] | None = None) -> PlugInResult:
    r"""Model-based plug-in: estimate :math:`\hat P` from ``n`` draws per pair, solve exactly.

    .. math::

        \hat P(s'\mid s,a) = \frac{1}{n}\sum_{i=1}^n \mathbf 1\{s'_i(s,a) = s'\}, \qquad
        \hat Q^* = r + \gamma \hat P \max_{a'} \hat Q^*(\cdot, a'),

    Agarwal, Kakade, Yang, "Model-Based Reinforcement Learning with a Generative Model is
    Minimax Optimal", COLT 2020, Thm. 1 (value/Q-estimation) and Thm. 2 (policy):
    :math:`\tilde O(SA/((1-\gamma)^3\varepsilon^2))` samples give
    :math:`\|\hat Q^* - Q^*\|_\infty \le \varepsilon` and an :math:`\varepsilon`-optimal
    :math:`\hat\pi` for :math:`\varepsilon \le (1-\gamma)^{-1/2}`.

    Parameters
    ----------
    mdp : FiniteMDP
        The true model; only its kernel is sampled (the reward is known).
    n : int
        Draws per state-action pair.
    seed, seeds
        As in :func:`tabular_rl.sample_counts`: a list of seeds (or ``seeds=k``) gives a
        batch, one empirical MDP per seed.
    planner : callable, optional
        ``planner(mdp_hat) -> Solution`` run on each empirical MDP. Default: exact policy
        iteration -- :func:`batched_policy_iteration` over all seeds at once for small
        models (:math:`S^2A \le` ``DENSE_MAX_ENTRIES``), else
        :func:`tabular_rl.policy_iteration` per seed.

    Returns
    -------
    PlugInResult
        With :meth:`PlugInResult.q_error` and :meth:`PlugInResult.policy_gap`.

    Examples
    --------
    >>> from tabular_rl.envs import garnet
    >>> from tabular_rl.learners.generative import plug_in
    >>> res = plug_in(garnet(6, 2, 3, gamma=0.8, seed=0), 200, seeds=4, seed=1)
    >>> res.q.shape, res.q_error().shape
    ((4, 6, 2), (4,))
    """
    require_finite_mdp(mdp, "plug_in")
    n = V.check_positive_int("n", n)
    sampler = GenerativeSampler(mdp)
    streams, batched = _base_sequences(seed, seeds)
    counts = sampler.counts(n, seed=list(streams))
    if planner is None and mdp.S * mdp.S * mdp.A <= DENSE_MAX_ENTRIES:
        q, a = batched_policy_iteration(_dense_counts(sampler, counts, n), mdp.r, mdp.gamma)
    else:
        plan = planner or policy_iteration
        qs, acts = [], []
        for c in counts:
            sol = plan(_empirical_mdp(sampler, c, n, mdp.r, mdp.gamma, mdp.mu))
            qs.append(np.asarray(sol.q))
            acts.append(np.asarray(sol.policy).argmax(axis=-1))
        q, a = np.stack(qs), np.stack(acts)
    if not batched:
        q, a = q[0], a[0]
    return PlugInResult(q=V.readonly(q), actions=V.readonly(a), n=n, mdp=mdp,
                        batched=batched)


# ----------------------------------------------------------------------- Q-learning


def _rescaled_linear(t: np.ndarray, gamma: float) -> np.ndarray:
    return 1.0 / (1.0 + (1.0 - gamma) * t)


def _linear(t: np.ndarray, gamma: float) -> np.ndarray:
    return 1.0 / t


#: Named step-size schedules ``eta(t, gamma)`` for ``t = 1, 2, ...``; ``"constant"`` is
#: handled separately (it needs the horizon, see :func:`synchronous_q_learning`).
STEP_SIZES: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    "rescaled-linear": _rescaled_linear,
    "linear": _linear,
}


@numba.njit(cache=True)
def _q_block(Q, nxt, r, gamma, etas, qstar, rec, out):  # pragma: no cover - compiled
    """Run ``len(etas)`` synchronous updates on every seed; record sup errors.

    ``Q`` (B, S, A) in place; ``nxt`` (B, K, S, A) draws; ``rec[k] >= 0`` stores
    ``max|Q - qstar|`` after update ``k`` into ``out[:, rec[k]]``.
    """
    B, S, A = Q.shape
    K = etas.shape[0]
    V = np.empty(S)
    for b in range(B):
        for k in range(K):
            eta = etas[k]
            for s in range(S):
                m = Q[b, s, 0]
                for a in range(1, A):
                    if Q[b, s, a] > m:
                        m = Q[b, s, a]
                V[s] = m
            for s in range(S):
                for a in range(A):
                    target = r[s, a] + gamma * V[nxt[b, k, s, a]]
                    Q[b, s, a] = (1.0 - eta) * Q[b, s, a] + eta * target
            j = rec[k]
            if j >= 0:
                e = 0.0
                for s in range(S):
                    for a in range(A):
                        d = abs(Q[b, s, a] - qstar[s, a])
                        if d > e:
                            e = d
                out[b, j] = e


@dataclass(frozen=True, slots=True)
class QLearningResult:
    r"""What :func:`synchronous_q_learning` returns.

    Attributes
    ----------
    q : ndarray
        Final iterate :math:`Q_T`, ``(S, A)`` or ``(n_seeds, S, A)``.
    iterations : ndarray of int (k,)
        Iterations :math:`t` at which errors were recorded (the last is :math:`T`).
    errors : ndarray
        :math:`\|Q_t - Q^*\|_\infty` at those iterations, ``(k,)`` or ``(n_seeds, k)``.
    step : str
        Name of the step-size rule (``"custom"`` for a callable).
    """

    q: np.ndarray
    iterations: np.ndarray
    errors: np.ndarray
    step: str

    @property
    def final_error(self) -> np.ndarray | float:
        e = self.errors[..., -1]
        return float(e) if np.ndim(e) == 0 else e


def _block_length(SA: int) -> int:
    """Iterations drawn per block: fixed by the model size only (not by the batch), so a
    batch and per-seed runs see the same draws; at most ~4 MB of draws per seed."""
    return int(min(4096, max(1, (1 << 20) // SA)))


def _record_points(n_iter: int, record_every: int | None, record_at) -> np.ndarray:
    if record_at is not None:
        pts = np.unique(np.asarray(record_at, dtype=np.int64))
        if pts.size == 0 or pts[0] < 1 or pts[-1] > n_iter:
            raise ValueError(f"record_at must hold iterations in [1, {n_iter}], got "
                             f"{np.asarray(record_at).tolist()}")
    elif record_every is not None:
        every = V.check_positive_int("record_every", record_every)
        pts = np.arange(every, n_iter + 1, every, dtype=np.int64)
    else:
        pts = np.empty(0, dtype=np.int64)
    if pts.size == 0 or pts[-1] != n_iter:
        pts = np.append(pts, n_iter)
    return pts


def synchronous_q_learning(mdp: FiniteMDP, n_iter: int, *,
                           step: str | Callable[[np.ndarray], np.ndarray] = "rescaled-linear",
                           seed=None, seeds: int | None = None,
                           record_every: int | None = None,
                           record_at: Sequence[int] | np.ndarray | None = None,
                           q0=None, reference: Solution | None = None) -> QLearningResult:
    r"""Synchronous Q-learning with a generative model, vectorized over pairs and seeds.

    .. math::

        Q_t = (1-\eta_t)\,Q_{t-1} + \eta_t\,\big(r + \gamma \hat P_t \max_{a'} Q_{t-1}\big),
        \qquad \hat P_t(s'\mid s,a) = \mathbf 1\{s' = s'_t(s,a)\},

    one fresh draw per pair per iteration (:math:`SA` samples per iteration). Li, Cai,
    Chen, Wei, Chi, "Is Q-Learning Minimax Optimal? A Tight Sample Complexity Analysis",
    Operations Research 2024 (arXiv:2102.06548), Thm. 1: with rescaled linear (or
    suitable constant) steps, :math:`\|Q_T - Q^*\|_\infty \le \varepsilon` after
    :math:`T = \tilde O((1-\gamma)^{-4}\varepsilon^{-2})` iterations; Thm. 2: this is
    tight for :math:`A \ge 2`.

    Parameters
    ----------
    mdp : FiniteMDP
    n_iter : int
        Iterations :math:`T` (draws per pair).
    step : {"rescaled-linear", "linear", "constant"} or callable
        ``"rescaled-linear"``: :math:`\eta_t = 1/(1 + (1-\gamma)t)`; ``"linear"``:
        :math:`1/t`; ``"constant"``: :math:`\eta = 1/(1 + (1-\gamma)T)`, the rescaled-linear
        value at the horizon :math:`T` (a constant step tuned to :math:`T`, of the order
        used in Li et al., Thm. 1). A callable maps the iteration numbers ``t`` (int
        array, from 1) to steps in :math:`(0, 1]`.
    seed, seeds
        As in :func:`tabular_rl.sample_counts`.
    record_every : int, optional
        Record :math:`\|Q_t - Q^*\|_\infty` every this many iterations.
    record_at : array_like of int, optional
        Record at these iterations instead. :math:`T` is always recorded.
    q0 : array_like (S, A), optional
        Initial iterate (zeros by default).
    reference : Solution, optional
        Exact solution of ``mdp`` (computed by :func:`exact_solution` if not given).

    Returns
    -------
    QLearningResult

    Raises
    ------
    ValueError
        An unknown step name, steps outside :math:`(0, 1]`, a bad ``record_at``.

    Examples
    --------
    >>> from tabular_rl.envs import garnet
    >>> from tabular_rl.learners.generative import synchronous_q_learning
    >>> res = synchronous_q_learning(garnet(5, 2, 2, gamma=0.7, seed=0), 2000, seeds=3,
    ...                              record_every=500)
    >>> res.iterations.tolist(), res.errors.shape
    ([500, 1000, 1500, 2000], (3, 4))
    """
    require_finite_mdp(mdp, "synchronous_q_learning")
    T = V.check_positive_int("n_iter", n_iter)
    g = mdp.gamma
    if callable(step):
        step_fn, step_name = (lambda t: np.asarray(step(t), dtype=np.float64)), "custom"
    elif step == "constant":
        eta_c = 1.0 / (1.0 + (1.0 - g) * T)
        step_fn, step_name = (lambda t: np.full(t.shape, eta_c)), step
    elif step in STEP_SIZES:
        rule = STEP_SIZES[step]
        step_fn, step_name = (lambda t: rule(t.astype(np.float64), g)), step
    else:
        valid = ", ".join(sorted([*STEP_SIZES, "constant"]))
        raise ValueError(f"unknown step {step!r}; valid steps: {valid} (or a callable)")
    pts = _record_points(T, record_every, record_at)
    ref = exact_solution(mdp) if reference is None else reference
    qstar = np.ascontiguousarray(ref.q, dtype=np.float64)
    streams, batched = _base_sequences(seed, seeds)
    B, S, A = len(streams), mdp.S, mdp.A
    if q0 is None:
        Q = np.zeros((B, S, A))
    else:
        q0 = V.as_float_array("q0", q0, 2)
        V.check_shape("q0", q0, (S, A), "(states, actions)")
        V.check_finite("q0", q0)
        Q = np.repeat(q0[None], B, axis=0)
    sampler = GenerativeSampler(mdp)
    r = np.ascontiguousarray(mdp.r, dtype=np.float64)
    out = np.full((B, pts.size), np.nan)
    L = _block_length(S * A)
    for block, t0 in enumerate(range(0, T, L)):
        K = min(L, T - t0)
        t = np.arange(t0 + 1, t0 + K + 1, dtype=np.int64)
        etas = np.ascontiguousarray(step_fn(t), dtype=np.float64)
        if etas.shape != (K,) or not np.all((etas > 0) & (etas <= 1)):
            bad = int(np.argmax(~((etas > 0) & (etas <= 1)))) if etas.shape == (K,) else 0
            raise ValueError(f"step sizes must lie in (0, 1]; at t={t[bad]} got "
                             f"{np.ravel(etas)[bad]!r}")
        nxt = sampler.next_states(K, seed=[_child(ss, block) for ss in streams])
        rec = np.full(K, -1, dtype=np.int64)
        inside = (pts > t0) & (pts <= t0 + K)
        rec[pts[inside] - t0 - 1] = np.flatnonzero(inside)
        _q_block(Q, nxt, r, g, etas, qstar, rec, out)
    if not batched:
        Q, out = Q[0], out[0]
    return QLearningResult(q=V.readonly(Q), iterations=V.readonly(pts),
                           errors=V.readonly(out), step=step_name)
