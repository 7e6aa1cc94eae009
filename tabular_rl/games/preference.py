r"""Preference games: a preference matrix, its symmetric zero-sum game and the von Neumann winner.

A preference matrix :math:`P \in [0, 1]^{A\times A}` gives :math:`P_{ij} = \Pr(i \succ j)`, the
probability that response (action) :math:`i` is preferred to :math:`j`; consistency requires
:math:`P_{ij} + P_{ji} = 1` (so :math:`P_{ii} = 1/2`). Mixed policies compare by
:math:`\Pr(\pi \succ \pi') = \pi^\top P \pi'`. The *preference game* is the symmetric
zero-sum game with antisymmetric payoff

.. math::

    M = P - \tfrac12 \mathbf 1\mathbf 1^\top, \qquad M^\top = -M,

whose value is 0; a maximin strategy :math:`\pi^\star` is a *von Neumann winner*:
:math:`\Pr(\pi^\star \succ \pi') \ge 1/2` for every :math:`\pi'` (Dudík, Hofmann, Schapire,
Slivkins, Zoghi, "Contextual Dueling Bandits", COLT 2015; Munos et al., "Nash Learning from
Human Feedback", ICML 2024).
"""

from __future__ import annotations

import numpy as np

from .._validation import as_float_array, check_finite, check_positive_int
from .matrix import solve_matrix_game

__all__ = [
    "check_preference_matrix",
    "preference_game",
    "random_preference_matrix",
    "rock_paper_scissors",
    "von_neumann_winner",
    "win_rate",
]

#: Absolute tolerance on :math:`P_{ij} + P_{ji} = 1`.
PREFERENCE_ATOL = 1e-9


def check_preference_matrix(P, atol: float = PREFERENCE_ATOL) -> np.ndarray:
    r"""Validate a preference matrix: square, finite, entries in :math:`[0, 1]`,
    :math:`P_{ij} + P_{ji} = 1` within ``atol``; returns a float copy symmetrized exactly,
    :math:`(P + 1 - P^\top)/2`.

    Examples
    --------
    >>> check_preference_matrix([[0.5, 0.7], [0.2, 0.5]])
    Traceback (most recent call last):
    ...
    ValueError: P[0, 1] + P[1, 0] = 0.7 + 0.2 = 0.9, not 1 (tolerance 1e-09)
    """
    P = as_float_array("P", P, 2)
    if P.shape[0] != P.shape[1] or P.shape[0] == 0:
        raise ValueError(f"P must be a non-empty square (actions, actions) matrix, "
                         f"got shape {P.shape}")
    check_finite("P", P)
    out = (P < 0) | (P > 1)
    if out.any():
        i, j = np.unravel_index(int(np.argmax(out)), P.shape)
        raise ValueError(f"P[{i}, {j}] = {P[i, j]:.6g} is not a probability in [0, 1]")
    s = P + P.T
    off = np.abs(s - 1.0) > atol
    if off.any():
        i, j = np.unravel_index(int(np.argmax(off)), P.shape)
        raise ValueError(f"P[{i}, {j}] + P[{j}, {i}] = {P[i, j]:.6g} + {P[j, i]:.6g} = "
                         f"{s[i, j]:.6g}, not 1 (tolerance {atol:g})")
    return 0.5 * (P + 1.0 - P.T)


def preference_game(P) -> np.ndarray:
    r"""The antisymmetric payoff :math:`M = P - 1/2` of the preference game (row maximizes),
    computed as :math:`(P - P^\top)/2` (equal under :math:`P + P^\top = 1`) so that
    :math:`M^\top = -M` holds exactly in floating point.

    Examples
    --------
    >>> preference_game([[0.5, 0.8], [0.2, 0.5]]).round(12).tolist()
    [[0.0, 0.3], [-0.3, 0.0]]
    """
    P = check_preference_matrix(P)
    return 0.5 * (P - P.T)


def win_rate(P, pi, pi2) -> float:
    r""":math:`\Pr(\pi \succ \pi') = \pi^\top P \pi'` (no validation of ``pi``, ``pi2``)."""
    return float(np.asarray(pi) @ np.asarray(P, dtype=float) @ np.asarray(pi2))


def von_neumann_winner(P) -> np.ndarray:
    r"""A von Neumann winner of ``P`` by linear programming.

    The maximin strategy of the preference game :math:`M = P - 1/2`
    (:func:`~tabular_rl.games.solve_matrix_game`); it satisfies
    :math:`\min_j (P^\top \pi^\star)_j \ge 1/2`.

    Examples
    --------
    >>> von_neumann_winner(rock_paper_scissors()).round(9).tolist()
    [0.333333333, 0.333333333, 0.333333333]
    >>> von_neumann_winner([[0.5, 0.9], [0.1, 0.5]]).round(9).tolist()   # a Condorcet winner
    [1.0, 0.0]
    """
    return solve_matrix_game(preference_game(P)).x


def rock_paper_scissors(eps: float = 0.5) -> np.ndarray:
    r"""Cyclic preferences :math:`R \succ S \succ P \succ R`, each with probability
    :math:`1/2 + \varepsilon`; its unique von Neumann winner is uniform.

    Examples
    --------
    >>> rock_paper_scissors(0.5).tolist()
    [[0.5, 1.0, 0.0], [0.0, 0.5, 1.0], [1.0, 0.0, 0.5]]
    """
    if not 0.0 < eps <= 0.5:
        raise ValueError(f"eps must lie in (0, 0.5], got {eps!r}")
    C = np.array([[0.0, 1.0, -1.0], [-1.0, 0.0, 1.0], [1.0, -1.0, 0.0]])
    return 0.5 + eps * C


def random_preference_matrix(n_actions: int, *, seed=None, kind: str = "uniform") -> np.ndarray:
    r"""A random preference matrix.

    ``kind="uniform"``: :math:`P_{ij} \sim U[0, 1]` for :math:`i < j`, :math:`P_{ji} = 1 - P_{ij}`
    (generally intransitive). ``kind="bradley_terry"``: :math:`P_{ij} = \sigma(r_i - r_j)` with
    :math:`r \sim N(0, I)` (transitive, a Condorcet winner exists).

    Examples
    --------
    >>> P = random_preference_matrix(4, seed=0)
    >>> bool(np.allclose(P + P.T, 1.0))
    True
    """
    A = check_positive_int("n_actions", n_actions)
    rng = np.random.default_rng(seed)
    if kind == "uniform":
        U = rng.uniform(size=(A, A))
        P = np.triu(U, 1)
        P = P + np.tril(1.0 - P.T, -1)
        np.fill_diagonal(P, 0.5)
        return P
    if kind == "bradley_terry":
        r = rng.standard_normal(A)
        return 1.0 / (1.0 + np.exp(-(r[:, None] - r[None, :])))
    raise ValueError(f"kind must be 'uniform' or 'bradley_terry', got {kind!r}")
