r"""US-IRL: estimating the feasible reward set from a generative model.

Metelli, Lazzati, Restelli, "Towards Theoretical Understanding of Inverse Reinforcement
Learning", ICML 2023 (arXiv:2304.12966). With a generative model, the *uniform sampling*
strategy US-IRL queries every triple :math:`(s, a, h)` ``n`` times (next state
:math:`s' \sim p_h(\cdot\mid s, a)` and an expert action :math:`a^E \sim \pi^E_h(\cdot\mid s)`),
forms the plug-in model

.. math::

    \hat p_h(s'\mid s, a) = \frac{N_h(s, a, s')}{n}, \qquad
    \widehat{\operatorname{supp}}\,\pi^E_h(\cdot\mid s) = \{a : N^E_h(s, a) > 0\},

and returns the feasible set :math:`\hat{\mathcal R} = \mathcal R_{\hat p, \hat\pi^E}` of
:mod:`tabular_rl.irl.feasible_set`. The paper proves the minimax lower bound
:math:`\Omega\big(\tfrac{H^3SA}{\varepsilon^2}(\log\tfrac1\delta + S)\big)` on the total
number of samples for :math:`\mathcal H(\mathcal R, \hat{\mathcal R}) \le \varepsilon` with
probability :math:`1-\delta` (Hausdorff, sup norm, rewards in :math:`[-1,1]`), and that
US-IRL matches it up to logarithmic factors (abstract; only the abstract and first page of
the paper could be retrieved, so theorem numbers are not given). With :math:`nSAH` samples in
all this is an error :math:`\tilde O\big(H\sqrt{(S + \log(1/\delta))/n}\big)` at ``n``
samples per triple: :math:`n^{-1/2}` in the samples, at most linear in :math:`H` and
:math:`\sqrt S` in the states at fixed ``n`` (:math:`H^{3/2}\sqrt{S}` at a fixed *total*
budget).

Sampling is batched over seeds and reproducible: the next states come from
:func:`tabular_rl.sampling.sample_counts` on a block-diagonal model with one block of states
per step (so each step gets its own draws even when the true kernel is stationary), and for
the same seeds a larger ``n`` extends the same streams (nested samples).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .. import _validation as V
from ..mdp import EpisodicMDP, FiniteMDP
from ..sampling import GenerativeSampler
from .feasible_set import FeasibleRewardSet, hausdorff_distance

__all__ = ["USIRLResult", "empirical_layers", "us_irl", "us_irl_errors"]


def _block_sampler(model) -> tuple[GenerativeSampler, int]:
    """A sampler over all (step, state, action) triples and the number of steps ``L``."""
    if isinstance(model, FiniteMDP):
        return GenerativeSampler(model), 1
    if not isinstance(model, EpisodicMDP):
        raise TypeError(f"US-IRL needs a FiniteMDP or an EpisodicMDP, got {type(model).__name__}")
    S, A, L = model.S, model.A, model.H
    blocks = [sp.csr_matrix(model.P_flat(h)) for h in range(L)]
    # Block-diagonal kernel on L*S states: state (h, s), next state (h, s').
    P = _stack_blocks(blocks, S, A, L)
    big = FiniteMDP(P, np.zeros((L * S, A)), gamma=0.5)
    return GenerativeSampler(big), L


def _stack_blocks(blocks, S: int, A: int, L: int) -> sp.csr_matrix:
    rows, cols, vals = [], [], []
    for h, b in enumerate(blocks):
        b = b.tocoo()
        rows.append(b.row + h * S * A)
        cols.append(b.col + h * S)
        vals.append(b.data)
    return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                         shape=(L * S * A, L * S))


def _seed_list(seed) -> tuple[list, bool]:
    if isinstance(seed, list | tuple | np.ndarray):
        if len(seed) == 0:
            raise ValueError("seed as a list must hold at least one seed")
        return list(seed), True
    return [seed], False


def empirical_layers(model: FiniteMDP | EpisodicMDP, n: int, *, seed=None) -> np.ndarray:
    r"""Plug-in kernels :math:`\hat p_h = N_h / n` from ``n`` draws per :math:`(s, a, h)`.

    Returns ``(L, S*A, S)`` (``L = H``, or 1 for a discounted model), with a leading seed
    axis when ``seed`` is a list.
    """
    n = V.check_positive_int("n", n)
    sampler, L = _block_sampler(model)
    seeds, batched = _seed_list(seed)
    counts = sampler.counts(n, seed=seeds)                  # (k, nnz)
    S, A = model.S, model.A
    out = np.zeros((len(seeds), L * S * A, L * S if L > 1 else S))
    rows = np.repeat(np.arange(sampler.S * sampler.A), np.diff(sampler.indptr))
    out[:, rows, sampler.indices] = counts / n
    if L > 1:
        out = out.reshape(len(seeds), L, S * A, L * S)
        out = np.stack([out[:, h, :, h * S:(h + 1) * S] for h in range(L)], axis=1)
    else:
        out = out[:, None]
    return out if batched else out[0]


def us_irl(model: FiniteMDP | EpisodicMDP, expert_policy, n: int, *, seed=None,
           estimate_expert: bool = True):
    r"""US-IRL's estimated feasible set from ``n`` generative samples per :math:`(s, a, h)`.

    Parameters
    ----------
    model : FiniteMDP or EpisodicMDP
        The true model (its reward is ignored), queried as a generative model.
    expert_policy : array_like
        The expert, queried for ``n`` actions per (step,) state when ``estimate_expert``
        (else its support is taken as known).
    n : int
        Samples per triple.
    seed : int or list of int
        A list gives a batch: one estimated set per seed.

    Returns
    -------
    FeasibleRewardSet, or a list of them for a list of seeds.
    """
    n = V.check_positive_int("n", n)
    truth = FeasibleRewardSet(model, expert_policy)
    seeds, batched = _seed_list(seed)
    P_hat = empirical_layers(model, n, seed=seeds)          # (k, L, S*A, S)
    S, A = model.S, model.A
    out = []
    for i, s in enumerate(seeds):
        if isinstance(model, EpisodicMDP):
            est = EpisodicMDP(P_hat[i].reshape(model.H, S, A, S), np.zeros((S, A)), model.H,
                              model.mu)
        else:
            est = FiniteMDP(P_hat[i, 0].reshape(S, A, S), np.zeros((S, A)), model.gamma,
                            model.mu)
        pi = truth.policy
        if estimate_expert:
            rng = np.random.default_rng(np.random.SeedSequence([_seed_int(s), 7]))
            flat = pi.reshape(-1, A)
            pi = (rng.multinomial(n, flat) / n).reshape(pi.shape)
        out.append(FeasibleRewardSet(est, pi))
    return out if batched else out[0]


def _seed_int(s) -> int:
    if isinstance(s, int | np.integer) and not isinstance(s, bool):
        return int(s)
    raise TypeError(f"us_irl seeds must be ints, got {type(s).__name__}")


@dataclass(frozen=True)
class USIRLResult:
    """Hausdorff-distance bounds of US-IRL's estimate, ``(len(n_grid), n_seeds)`` each."""

    n_grid: np.ndarray
    lower: np.ndarray
    upper: np.ndarray


def us_irl_errors(model: FiniteMDP | EpisodicMDP, expert_policy, n_grid: Sequence[int], *,
                  seed: Sequence[int] | int = 0, estimator: Callable | None = None,
                  starts: int = 2, max_iter: int = 6, distance_seed: int = 0) -> USIRLResult:
    r"""Certified bounds on :math:`\mathcal H(\mathcal R, \hat{\mathcal R}_n)` for every
    ``n`` of the grid and every seed.

    ``estimator(model, expert_policy, n, *, seed=list) -> list of FeasibleRewardSet``
    replaces :func:`us_irl` (tests hand in broken ones). The same seeds are used for every
    ``n`` (nested samples), as in a learning curve.
    """
    est_fn = estimator or us_irl
    seeds, _ = _seed_list(seed)
    truth = FeasibleRewardSet(model, expert_policy)
    grid = np.asarray([V.check_positive_int("n", n) for n in n_grid], dtype=np.int64)
    lo = np.empty((grid.size, len(seeds)))
    up = np.empty_like(lo)
    for i, n in enumerate(grid):
        sets = est_fn(model, expert_policy, int(n), seed=seeds)
        for j, F in enumerate(sets):
            d = hausdorff_distance(truth, F, starts=starts, max_iter=max_iter,
                                   seed=distance_seed)
            lo[i, j], up[i, j] = d.lower, d.upper
    return USIRLResult(n_grid=grid, lower=lo, upper=up)
