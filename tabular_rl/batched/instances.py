"""Batches of dense MDPs: vectorized GARNET generation and stacking of existing models."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .. import _validation as V
from ..mdp import FiniteMDP

__all__ = ["batched_garnet", "stack_mdps"]


def batched_garnet(B: int, S: int, A: int, branching: int, gamma: float = 0.9, *,
                   seed=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""``B`` dense GARNET MDPs at once: ``(P (B,S,A,S), r (B,S,A), gamma (B,))``.

    The same construction as :func:`tabular_rl.envs.garnet` (for each :math:`(s, a)` a support
    of ``branching`` distinct next states, masses from uniform cut points of [0, 1], rewards
    uniform on [0, 1]), drawn with one vectorized generator call per array rather than a
    Python loop over MDPs; the draws differ from ``garnet``'s.

    Examples
    --------
    >>> P, r, g = batched_garnet(3, 5, 2, 2, seed=0)
    >>> P.shape, r.shape, g.shape, bool(np.allclose(P.sum(-1), 1))
    ((3, 5, 2, 5), (3, 5, 2), (3,), True)
    """
    B, S, A = (V.check_positive_int(n, x) for n, x in (("B", B), ("S", S), ("A", A)))
    branching = V.check_positive_int("branching", branching)
    if branching > S:
        raise ValueError(f"branching={branching} exceeds the number of states S={S}")
    gamma = V.check_real_scalar("gamma", gamma, 0.0, 1.0, hi_open=True)
    rng = np.random.default_rng(seed)
    support = np.argsort(rng.random((B, S, A, S)), axis=-1)[..., :branching]
    cuts = np.sort(rng.random((B, S, A, branching - 1)), axis=-1)
    edges = np.concatenate([np.zeros((B, S, A, 1)), cuts, np.ones((B, S, A, 1))], axis=-1)
    P = np.zeros((B, S, A, S))
    np.put_along_axis(P, support, np.diff(edges, axis=-1), axis=-1)
    r = rng.random((B, S, A))
    return P, r, np.full(B, gamma)


def stack_mdps(mdps: Sequence[FiniteMDP]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stack models of one shape into a dense batch ``(P (B,S,A,S), r (B,S,A), gamma (B,))``."""
    if len(mdps) == 0:
        raise ValueError("stack_mdps needs at least one model")
    S, A = mdps[0].S, mdps[0].A
    for i, m in enumerate(mdps):
        if not isinstance(m, FiniteMDP):
            raise TypeError(f"mdps[{i}] is a {type(m).__name__}, not a FiniteMDP")
        if (m.S, m.A) != (S, A):
            raise ValueError(f"mdps[{i}] has (S, A) = {(m.S, m.A)}, but mdps[0] has {(S, A)}")
    P = np.stack([m.P.toarray().reshape(S, A, S) if m.is_sparse else np.asarray(m.P)
                  for m in mdps])
    r = np.stack([np.asarray(m.r) for m in mdps])
    return P, r, np.array([m.gamma for m in mdps])
