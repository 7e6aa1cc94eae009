r"""Generative-model sampling and episode rollouts, batched over seeds.

A *generative model* (Kearns & Singh 1999; Azar, Munos & Kappen 2013) answers a query
:math:`(s, a)` with an independent draw :math:`s' \sim P(\cdot\mid s, a)`. The plug-in
(certainty-equivalence) estimator queries every pair :math:`n` times and uses

.. math::

    \hat P(s'\mid s, a) = \frac{N(s, a, s')}{n},

whose support is contained in that of :math:`P`. :func:`sample_counts` returns
:math:`N` on the CSR pattern of :math:`P` (one count per stored entry), which is all the
estimator needs; :func:`sample_next_states` returns the draws themselves.

Randomness
----------
Draws are counter-based: each seed becomes a 64-bit key (through
:class:`numpy.random.SeedSequence`; a list of seeds or ``seeds=k`` spawned children give a
batch), and the uniform for draw ``t`` of row ``s*A + a`` is a splitmix64 hash of
``(key, t, s*A + a)``. Results are thus identical for any number of threads, for the
parallel and serial kernels, and between :func:`sample_next_states` and
:func:`sample_counts` (the counts are the histogram of the draws). Next states come from an
inverse-CDF search over each row's stored entries (in column order), so a dense model and
its CSR form give the same samples. An alias table would make each draw :math:`O(1)`
instead of :math:`O(\log b)` but reorders the support; with the branch-free linear search
used for rows of up to 32 entries, the CDF search is not the bottleneck.

The splitmix64 streams of two keys are shifted copies of one sequence of period
:math:`2^{64}`; with random 64-bit keys, two streams of length :math:`L` overlap with
probability about :math:`2L/2^{64}`, negligible at any feasible :math:`L`. This is a
simulation-quality generator, not a cryptographic one.

References
----------
.. [1] M. Kearns, S. Singh, "Finite-Sample Convergence Rates for Q-Learning and Indirect
   Algorithms", NeurIPS 1999.
.. [2] M. G. Azar, R. Munos, H. J. Kappen, "Minimax PAC bounds on the sample complexity of
   reinforcement learning with a generative model", Machine Learning 91, 2013, Thm. 1.
.. [3] G. L. Steele, D. Lea, C. H. Flood, "Fast splittable pseudorandom number
   generators", OOPSLA 2014 (splitmix64).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numba
import numpy as np
import scipy.sparse as sp

from . import _sampling_kernels as K
from . import _validation as V
from ._kernels import CHUNKS_PER_THREAD
from .bellman import _as_policy
from .mdp import EpisodicMDP, FiniteMDP

__all__ = ["GenerativeSampler", "Trajectories", "rollouts", "sample_counts",
           "sample_next_states"]

#: Below this many draws in one call, the serial kernels are used (thread start-up costs
#: more than the work, and parallel test processes would oversubscribe the cores).
PARALLEL_MIN_DRAWS = 1_000_000


def _csr_of(P_flat) -> sp.csr_matrix:
    """CSR ``(S*A, S)`` of a kernel: the model's own CSR, or the nonzeros of a dense one."""
    return P_flat if sp.issparse(P_flat) else sp.csr_matrix(P_flat)


def _cdfs(P: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    cdf = np.empty(P.data.shape[0])
    hi = np.empty(P.shape[0], dtype=np.int64)
    K.row_cdfs(P.indptr, P.data, cdf, hi)
    return V.readonly(cdf), V.readonly(hi)


def _keys(seed, seeds) -> tuple[np.ndarray, bool]:
    """Stream keys ``(n_seeds,)`` uint64 and whether the call is batched."""
    if seeds is not None:
        if isinstance(seeds, bool) or not isinstance(seeds, numbers.Integral | np.integer):
            raise TypeError(f"seeds must be an int (a number of spawned streams), got "
                            f"{type(seeds).__name__}; pass a list of seeds as seed=")
        if int(seeds) < 1:
            raise ValueError(f"seeds must be >= 1, got {int(seeds)}")
        if isinstance(seed, list | tuple | np.ndarray):
            raise ValueError("give either a list of seeds as seed= or a count as seeds=, "
                             "not both")
        children = _seed_sequence(seed).spawn(int(seeds))
        return np.array([c.generate_state(1, np.uint64)[0] for c in children]), True
    if isinstance(seed, list | tuple | np.ndarray):
        if len(seed) == 0:
            raise ValueError("seed as a list must hold at least one seed")
        return np.array([_seed_sequence(s).generate_state(1, np.uint64)[0]
                         for s in seed]), True
    return np.array([_seed_sequence(seed).generate_state(1, np.uint64)[0]]), False


def _seed_sequence(seed) -> np.random.SeedSequence:
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, np.random.Generator):
        return np.random.SeedSequence(int(seed.integers(2**63)))
    if seed is None or (isinstance(seed, numbers.Integral | np.integer)
                        and not isinstance(seed, bool)):
        if seed is not None and int(seed) < 0:
            raise ValueError(f"seed must be non-negative, got {int(seed)}")
        return np.random.SeedSequence(None if seed is None else int(seed))
    raise TypeError(f"seed must be None, an int, a SeedSequence, a Generator or a list of "
                    f"these, got {type(seed).__name__}")


def _pick(kernel, parallel: bool | None, work: int):
    """The compiled kernel and its block count."""
    if parallel is None:
        parallel = work >= PARALLEL_MIN_DRAWS and numba.get_num_threads() > 1
    if parallel:
        return kernel.parallel, CHUNKS_PER_THREAD * numba.get_num_threads()
    return kernel.serial, 1


class GenerativeSampler:
    r"""Precomputed row CDFs of a :class:`FiniteMDP`'s kernel, for repeated sampling.

    Parameters
    ----------
    mdp : FiniteMDP
        Dense ``(S, A, S)`` or CSR ``(S*A, S)`` kernel. A dense kernel is converted once to
        the CSR of its nonzeros; a CSR kernel is used as stored (explicit zeros included,
        never sampled).

    Attributes
    ----------
    S, A : int
        Numbers of states and actions.
    indptr, indices : numpy.ndarray
        The CSR pattern ``(S*A + 1,)`` and ``(nnz,)`` on which :meth:`counts` are given.
    cdf : numpy.ndarray of shape (nnz,)
        Running sums of each row's probabilities.

    Examples
    --------
    >>> import numpy as np
    >>> from tabular_rl import FiniteMDP
    >>> from tabular_rl.sampling import GenerativeSampler
    >>> P = np.array([[[1.0, 0.0], [0.0, 1.0]], [[0.5, 0.5], [0.0, 1.0]]])
    >>> sampler = GenerativeSampler(FiniteMDP(P, r=np.zeros((2, 2)), gamma=0.9))
    >>> sampler.next_states(3, seed=0)[:, 0, :]    # deterministic rows of state 0
    array([[0, 1],
           [0, 1],
           [0, 1]], dtype=int32)
    >>> sampler.nnz, int(sampler.counts(1000, seed=0)[2:4].sum())
    (5, 1000)
    """

    __slots__ = ("S", "A", "indptr", "indices", "cdf", "hi", "_pattern")

    def __init__(self, mdp: FiniteMDP):
        if not isinstance(mdp, FiniteMDP):
            raise TypeError(f"GenerativeSampler needs a FiniteMDP, got {type(mdp).__name__}")
        P = _csr_of(mdp.P_flat)
        self.S, self.A = mdp.S, mdp.A
        self.indptr = V.readonly(np.array(P.indptr, dtype=np.int64))
        self.indices = V.readonly(np.array(P.indices, dtype=np.int32))
        self.cdf, self.hi = _cdfs(P)
        self._pattern = P

    @property
    def nnz(self) -> int:
        """Number of stored entries (the length of :meth:`counts`)."""
        return int(self.indices.shape[0])

    def next_states(self, n: int, *, seed=None, seeds: int | None = None,
                    parallel: bool | None = None) -> np.ndarray:
        """See :func:`sample_next_states`."""
        n = _check_n(n)
        keys, batched = _keys(seed, seeds)
        out = np.empty((keys.shape[0], n, self.S * self.A), dtype=np.int32)
        fn, chunks = _pick(K.next_states, parallel, out.size)
        fn(self.indptr, self.indices, self.cdf, self.hi, keys, n, out, chunks)
        out = out.reshape(keys.shape[0], n, self.S, self.A)
        return out if batched else out[0]

    def counts(self, n: int, *, seed=None, seeds: int | None = None,
               parallel: bool | None = None) -> np.ndarray:
        """See :func:`sample_counts`."""
        n = _check_n(n)
        keys, batched = _keys(seed, seeds)
        out = np.zeros((keys.shape[0], self.nnz), dtype=np.int64)
        fn, chunks = _pick(K.counts, parallel, keys.shape[0] * n * self.S * self.A)
        fn(self.indptr, self.indices, self.cdf, self.hi, keys, n, out, chunks)
        return out if batched else out[0]

    def empirical_kernel(self, counts: np.ndarray, n: int) -> sp.csr_matrix:
        r"""The plug-in estimate :math:`\hat P = N / n` as a CSR ``(S*A, S)`` on this pattern.

        ``counts`` is one ``(nnz,)`` result of :meth:`counts`; pass the result to
        ``FiniteMDP(P_hat, r, gamma)`` to plan in the estimated model.
        """
        n = _check_n(n)
        counts = np.asarray(counts)
        if counts.shape != (self.nnz,):
            raise ValueError(f"counts must have shape ({self.nnz},) (one per stored entry), "
                             f"got {counts.shape}")
        return sp.csr_matrix((counts / n, self.indices, self.indptr),
                             shape=(self.S * self.A, self.S))

    def __repr__(self) -> str:
        return f"GenerativeSampler(S={self.S}, A={self.A}, nnz={self.nnz})"


def _check_n(n, name: str = "n") -> int:
    return V.check_positive_int(name, n)


def _sampler(model) -> GenerativeSampler:
    if isinstance(model, GenerativeSampler):
        return model
    if isinstance(model, FiniteMDP):
        return GenerativeSampler(model)
    raise TypeError(f"expected a FiniteMDP or a GenerativeSampler, got {type(model).__name__}")


def sample_next_states(model: FiniteMDP | GenerativeSampler, n: int, *, seed=None,
                       seeds: int | None = None, parallel: bool | None = None) -> np.ndarray:
    r"""Draw :math:`s'_t(s, a) \sim P(\cdot\mid s, a)` for every pair, ``n`` times.

    Parameters
    ----------
    model : FiniteMDP or GenerativeSampler
        A sampler reuses its precomputed CDFs; an MDP builds them for this call.
    n : int
        Draws per pair, at least 1.
    seed : None, int, SeedSequence, Generator, or a list of these, optional
        One seed gives one stream; a list gives a batch, one stream per entry.
    seeds : int, optional
        Batch of ``seeds`` streams spawned from ``seed`` (:meth:`SeedSequence.spawn`).
    parallel : bool, optional
        Force the parallel or serial kernel; by default parallel from a million draws.
        The samples are the same either way.

    Returns
    -------
    numpy.ndarray of int32
        ``(n, S, A)``, or ``(n_seeds, n, S, A)`` for a batch.

    Raises
    ------
    ValueError
        ``n < 1``, ``seeds < 1``, an empty seed list, or both a seed list and ``seeds``.
    TypeError
        A model that is neither a :class:`FiniteMDP` nor a :class:`GenerativeSampler`.

    Examples
    --------
    >>> from tabular_rl.envs import garnet
    >>> from tabular_rl.sampling import sample_next_states
    >>> sample_next_states(garnet(5, 2, 2, seed=0), 4, seeds=3, seed=1).shape
    (3, 4, 5, 2)
    """
    return _sampler(model).next_states(n, seed=seed, seeds=seeds, parallel=parallel)


def sample_counts(model: FiniteMDP | GenerativeSampler, n: int, *, seed=None,
                  seeds: int | None = None, parallel: bool | None = None) -> np.ndarray:
    r"""Counts :math:`N(s, a, s')` of ``n`` draws per pair, one per stored entry of ``P``.

    Equal to the histogram of :func:`sample_next_states` with the same arguments, without
    storing the draws: memory is ``8 * nnz`` bytes per seed instead of ``4 * n * S * A``.
    Entry ``k`` counts column ``indices[k]`` of its row in the sampler's CSR pattern
    (:attr:`GenerativeSampler.indptr`, :attr:`GenerativeSampler.indices`), so
    :math:`\hat P` = ``counts / n`` on that pattern
    (:meth:`GenerativeSampler.empirical_kernel`).

    Parameters
    ----------
    model, n, seed, seeds, parallel
        As in :func:`sample_next_states`.

    Returns
    -------
    numpy.ndarray of int64
        ``(nnz,)``, or ``(n_seeds, nnz)`` for a batch; each row's counts sum to ``n``.
    """
    return _sampler(model).counts(n, seed=seed, seeds=seeds, parallel=parallel)


@dataclass(frozen=True, slots=True)
class Trajectories:
    """Episodes ``s_0, a_0, r_0, s_1, ..., s_T`` (a leading seed axis for a batch).

    ``states`` ``(n, T+1)`` and ``actions`` ``(n, T)`` are int32, ``rewards`` ``(n, T)``
    float64 with ``rewards[..., t] = r_t(s_t, a_t)``.
    """

    states: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray

    @property
    def returns(self) -> np.ndarray:
        """Undiscounted return of each episode, ``rewards.sum(-1)``."""
        return self.rewards.sum(axis=-1)


def _policy_cdf(pi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flattened CDFs ``(B*S*A,)`` of a policy ``(B, S, A)`` and each row's last positive
    action as an absolute index."""
    B, S, A = pi.shape
    cdf = np.cumsum(pi, axis=-1).reshape(-1)
    last = A - 1 - np.argmax(pi[..., ::-1] > 0, axis=-1)
    hi = (np.arange(B * S) * A + last.reshape(-1)).astype(np.int64)
    return cdf, hi


def rollouts(mdp: FiniteMDP | EpisodicMDP, policy, n_episodes: int, horizon: int | None = None,
             *, seed=None, seeds: int | None = None, mu=None,
             parallel: bool | None = None) -> Trajectories:
    r"""Roll out ``n_episodes`` episodes of a policy, :math:`s_0\sim\mu`,
    :math:`a_t\sim\pi_t(\cdot\mid s_t)`, :math:`s_{t+1}\sim P_t(\cdot\mid s_t, a_t)`.

    Parameters
    ----------
    mdp : FiniteMDP or EpisodicMDP
        An episodic model uses its step-indexed kernel and reward.
    policy : array_like
        Probabilities ``(S, A)`` or actions ``(S,)``; for an :class:`EpisodicMDP` also
        ``(H, S, A)`` or ``(H, S)``.
    n_episodes : int
        Episodes per seed, at least 1.
    horizon : int, optional
        Transitions per episode :math:`T`: required for a :class:`FiniteMDP`; for an
        :class:`EpisodicMDP` it defaults to, and must equal, ``H``.
    seed, seeds, parallel
        As in :func:`sample_next_states`.
    mu : array_like of shape (S,), optional
        Initial distribution; the model's ``mu`` by default.

    Returns
    -------
    Trajectories
        ``states (n, T+1)``, ``actions (n, T)``, ``rewards (n, T)``, with a leading
        ``n_seeds`` axis for a batch.

    Notes
    -----
    The empirical frequency of ``states[:, t]`` estimates the step-``t`` state
    distribution :math:`\mu^\top P_\pi^t` (for an episodic model, row ``t`` of
    :func:`tabular_rl.state_occupancy`); discounting with :math:`(1-\gamma)\gamma^t` and
    summing over :math:`t` estimates the discounted occupancy up to :math:`\gamma^T`.

    Examples
    --------
    >>> import numpy as np
    >>> from tabular_rl import FiniteMDP
    >>> from tabular_rl.sampling import rollouts
    >>> P = np.array([[[0.0, 1.0]], [[1.0, 0.0]]])      # one action, alternate states
    >>> mdp = FiniteMDP(P, r=[[1.0], [0.0]], gamma=0.9, mu=[1.0, 0.0])
    >>> rollouts(mdp, [0, 0], 1, 4, seed=0).states
    array([[0, 1, 0, 1, 0]], dtype=int32)
    """
    if isinstance(mdp, EpisodicMDP):
        H = mdp.H
        if horizon is not None and V.check_positive_int("horizon", horizon) != H:
            raise ValueError(f"horizon must equal the EpisodicMDP's H={H}, got {horizon}")
        T = H
        pi = np.ascontiguousarray(_as_policy(mdp, policy, H))
        kernels = [_csr_of(mdp.P_flat(h)) for h in range(H)] if mdp.time_varying \
            else [_csr_of(mdp.P_flat(0))]
        kern_of_t = np.arange(T) if mdp.time_varying else np.zeros(T, dtype=np.int64)
        pol_of_t = np.arange(T)
        r = mdp.r if mdp.r.ndim == 3 else mdp.r[None]
        rew_of_t = np.arange(T) if mdp.r.ndim == 3 else np.zeros(T, dtype=np.int64)
    elif isinstance(mdp, FiniteMDP):
        if horizon is None:
            raise ValueError("horizon (number of transitions per episode) is required for "
                             "a FiniteMDP")
        T = V.check_positive_int("horizon", horizon)
        pi = _as_policy(mdp, policy)[None]
        kernels = [_csr_of(mdp.P_flat)]
        kern_of_t = pol_of_t = rew_of_t = np.zeros(T, dtype=np.int64)
        r = mdp.r[None]
    else:
        raise TypeError(f"rollouts needs a FiniteMDP or an EpisodicMDP, got "
                        f"{type(mdp).__name__}")
    n_episodes = _check_n(n_episodes, "n_episodes")
    mu = mdp.mu if mu is None else V.check_distribution("mu", mu, mdp.S)
    keys, batched = _keys(seed, seeds)
    P = kernels[0] if len(kernels) == 1 else sp.vstack(kernels, format="csr")
    indptr = np.asarray(P.indptr, dtype=np.int64)
    indices = np.asarray(P.indices, dtype=np.int32)
    cdf, hi = _cdfs(P)
    pol_cdf, pol_hi = _policy_cdf(pi)
    mu_cdf = np.cumsum(mu)
    mu_hi = int(np.flatnonzero(np.asarray(mu) > 0)[-1])
    n_k = keys.shape[0]
    states = np.empty((n_k, n_episodes, T + 1), dtype=np.int32)
    actions = np.empty((n_k, n_episodes, T), dtype=np.int32)
    rewards = np.empty((n_k, n_episodes, T))
    fn, chunks = _pick(K.rollouts, parallel, n_k * n_episodes * T * 8)
    fn(indptr, indices, cdf, hi, pol_cdf, pol_hi, mu_cdf, mu_hi,
       np.ascontiguousarray(r).reshape(-1), np.asarray(kern_of_t, dtype=np.int64),
       np.asarray(pol_of_t, dtype=np.int64), np.asarray(rew_of_t, dtype=np.int64),
       mdp.S, mdp.A, keys, states, actions, rewards, chunks)
    if batched:
        return Trajectories(states, actions, rewards)
    return Trajectories(states[0], actions[0], rewards[0])
