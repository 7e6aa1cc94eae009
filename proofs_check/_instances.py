r"""Seeded random instances for claim checks: dense and CSR MDPs, episodic MDPs, policies.

Every instance is a pure function of ``(seed, index)``, so every figure a check reports can
be reproduced exactly. The structure is varied on purpose: Dirichlet rows of low
concentration (nearly deterministic), one-hot rows, absorbing states, a few nonzeros per
row for CSR kernels, and rewards spread over several orders of magnitude.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from tabular_rl import EpisodicMDP, FiniteMDP

__all__ = [
    "GAMMAS",
    "Instance",
    "discounted_instances",
    "episodic_instances",
    "random_episodic_mdp",
    "random_mdp",
    "random_policy",
    "rng_for",
]

#: Discount factors every discounted check cycles through, including ones near 1.
GAMMAS: tuple[float, ...] = (0.3, 0.5, 0.9, 0.99, 0.999, 0.9999)


def rng_for(seed: int, index: int) -> np.random.Generator:
    """The generator of instance ``index`` under ``seed`` (independent streams)."""
    return np.random.default_rng([int(seed), int(index)])


def _rows(rng: np.random.Generator, n_rows: int, S: int, k: int,
          deterministic_frac: float) -> tuple[np.ndarray, np.ndarray]:
    """``k`` distinct columns and Dirichlet weights for each of ``n_rows`` rows."""
    cols = np.argsort(rng.random((n_rows, S)), axis=1)[:, :k]
    w = rng.dirichlet(np.full(k, rng.choice([0.1, 0.5, 1.0])), size=n_rows)
    det = rng.random(n_rows) < deterministic_frac
    w[det] = 0.0
    w[det, 0] = 1.0
    w /= w.sum(axis=1, keepdims=True)
    return cols, w


def random_kernel(rng: np.random.Generator, S: int, A: int, *, sparse: bool = False,
                  nnz_per_row: int | None = None, deterministic_frac: float = 0.1,
                  absorbing_frac: float = 0.1):
    """A row-stochastic kernel: dense ``(S, A, S)`` or CSR ``(S*A, S)`` (row ``s*A + a``)."""
    k = S if nnz_per_row is None else max(1, min(S, nnz_per_row))
    cols, w = _rows(rng, S * A, S, k, deterministic_frac)
    absorbing = np.flatnonzero(rng.random(S) < absorbing_frac)
    for s in absorbing:
        for row in range(s * A, (s + 1) * A):
            hit = np.flatnonzero(cols[row] == s)
            if hit.size:  # swap, so that the columns of the row stay distinct
                cols[row, hit[0]] = cols[row, 0]
            cols[row, 0] = s
            w[row] = 0.0
            w[row, 0] = 1.0
    if sparse:
        rows = np.repeat(np.arange(S * A), k)
        P = sp.csr_matrix((w.ravel(), (rows, cols.ravel())), shape=(S * A, S))
        P.eliminate_zeros()
        P.sort_indices()
        return P
    P = np.zeros((S * A, S))
    np.put_along_axis(P, cols, w, axis=1)
    return P.reshape(S, A, S)


def random_mdp(rng: np.random.Generator, S: int, A: int, gamma: float, *,
               sparse: bool = False, nnz_per_row: int | None = None) -> FiniteMDP:
    r"""A random discounted MDP with a full-support random initial distribution.

    Rewards are uniform on :math:`[-c, c]` with :math:`c = 10^{U(-1, 2)}`, so scale-tied
    tolerances are exercised; a quarter of the instances get tied integer rewards.
    """
    if sparse and nnz_per_row is None:
        nnz_per_row = int(rng.integers(1, 4))
    P = random_kernel(rng, S, A, sparse=sparse, nnz_per_row=nnz_per_row)
    c = 10.0 ** rng.uniform(-1.0, 2.0)
    if rng.random() < 0.25:
        r = rng.integers(-2, 3, size=(S, A)).astype(np.float64) * c
    else:
        r = rng.uniform(-c, c, size=(S, A))
    mu = rng.dirichlet(np.ones(S)) * 0.9 + 0.1 / S
    mu /= mu.sum()
    return FiniteMDP(P, r, gamma, mu)


def random_episodic_mdp(rng: np.random.Generator, S: int, A: int, H: int, *,
                        sparse: bool = False, time_varying: bool = False) -> EpisodicMDP:
    """A random finite-horizon MDP, stationary or with step-indexed ``P_h``, ``r_h``."""
    nnz = int(rng.integers(1, 4)) if sparse else None
    c = 10.0 ** rng.uniform(-1.0, 2.0)
    if time_varying:
        kernels = [random_kernel(rng, S, A, sparse=sparse, nnz_per_row=nnz) for _ in range(H)]
        P = kernels if sparse else np.stack(kernels)
        r = rng.uniform(-c, c, size=(H, S, A))
    else:
        P = random_kernel(rng, S, A, sparse=sparse, nnz_per_row=nnz)
        r = rng.uniform(-c, c, size=(S, A))
    mu = rng.dirichlet(np.ones(S))
    return EpisodicMDP(P, r, H, mu)


def random_policy(rng: np.random.Generator, S: int, A: int, kind: str = "dirichlet",
                  H: int | None = None) -> np.ndarray:
    """A stochastic ``(S, A)`` policy (``(H, S, A)`` when ``H`` is given).

    ``kind`` is ``"dirichlet"`` (concentration 1), ``"peaked"`` (concentration 0.1) or
    ``"deterministic"`` (one-hot rows).
    """
    shape = (S,) if H is None else (H, S)
    if kind == "deterministic":
        pi = np.zeros((*shape, A))
        idx = rng.integers(0, A, size=shape)
        np.put_along_axis(pi, idx[..., None], 1.0, axis=-1)
        return pi
    alpha = {"dirichlet": 1.0, "peaked": 0.1}[kind]
    pi = rng.dirichlet(np.full(A, alpha), size=shape)
    return pi / pi.sum(axis=-1, keepdims=True)


@dataclass(frozen=True)
class Instance:
    """One seeded instance: the model, its generator (for further draws) and a label."""

    mdp: FiniteMDP | EpisodicMDP
    rng: np.random.Generator
    label: str


def discounted_instances(seed: int, n: int, *, max_states: int,
                         max_actions: int = 6) -> Iterator[Instance]:
    """``n`` random MDPs cycling over :data:`GAMMAS` and dense/CSR, sizes up to ``max_states``.

    Instance ``i`` has ``gamma = GAMMAS[i % 6]`` and a CSR kernel when ``(i // 6)`` is odd,
    so any ``n >= 12`` covers every discount with both formats.
    """
    sizes = [s for s in (1, 2, 3, 5, 8, 13, 20, 40, 80, 150, 250) if s <= max_states]
    for i in range(n):
        rng = rng_for(seed, i)
        gamma = GAMMAS[i % len(GAMMAS)]
        sparse = (i // len(GAMMAS)) % 2 == 1
        S = int(rng.choice(sizes))
        A = int(rng.integers(1, max_actions + 1))
        mdp = random_mdp(rng, S, A, gamma, sparse=sparse)
        yield Instance(mdp, rng, f"#{i} S={S} A={A} gamma={gamma:g} "
                                 f"{'csr' if sparse else 'dense'}")


def episodic_instances(seed: int, n: int, *, max_states: int,
                       max_horizon: int = 30) -> Iterator[Instance]:
    """``n`` random episodic MDPs cycling over dense/CSR and stationary/time-varying."""
    sizes = [s for s in (1, 2, 4, 8, 16, 32, 64) if s <= max_states]
    for i in range(n):
        rng = rng_for(seed + 1_000_003, i)
        sparse = i % 2 == 1
        time_varying = (i // 2) % 2 == 1
        S = int(rng.choice(sizes))
        A = int(rng.integers(1, 5))
        H = int(rng.integers(1, max_horizon + 1))
        mdp = random_episodic_mdp(rng, S, A, H, sparse=sparse, time_varying=time_varying)
        yield Instance(mdp, rng, f"#{i} S={S} A={A} H={H} {'csr' if sparse else 'dense'} "
                                 f"{'time-varying' if time_varying else 'stationary'}")
