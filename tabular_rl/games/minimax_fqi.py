r"""Minimax fitted Q-iteration (Minimax-FQI) for zero-sum Markov games, tabular version.

Fan, Wang, Xie, Yang, "A Theoretical Analysis of Deep Q-Learning", L4DC 2020
(arXiv:1901.00137), Sec. 6 ("Extension to two-player zero-sum Markov games"), propose
Minimax-FQI: with :math:`n` samples :math:`(s_i, a_i, b_i, r_i, s'_i)`,

.. math::

    Y_i = r_i + \gamma \max_{x\in\Delta_A}\min_{y\in\Delta_B} x^\top Q_k(s'_i, \cdot, \cdot)\, y,
    \qquad Q_{k+1} = \arg\min_{f\in\mathcal F} \frac1n\sum_i \big(f(s_i, a_i, b_i) - Y_i\big)^2 .

In the tabular class :math:`\mathcal F = \mathbb R^{S\times A\times B}` with ``n`` draws from
a generative model per :math:`(s, a, b)`, the regression is the empirical mean:
:math:`Q_{k+1} = r + \gamma \hat P_k \operatorname{val}[Q_k]`, with :math:`\hat P_k` the
empirical kernel of the draws of iteration ``k`` (fresh draws each iteration, as in the
paper's analysis). Their error bound (stated there for the Nash gap of the returned max
player's policy, Theorem 6.1 in the arXiv version as far as could be checked; the full text
could not be retrieved while writing this module) splits into a statistical term from the
regression errors and an *algorithmic* term :math:`\propto\gamma^{K}R_{\max}/(1-\gamma)^2`
that decays geometrically. The tabular, sup-norm form of the same decomposition is exact:
with :math:`T` the (exact) minimax Bellman operator on Q-functions, a
:math:`\gamma`-contraction, and :math:`\varepsilon_k = \|Q_{k+1} - TQ_k\|_\infty`,

.. math::

    \|Q_K - Q^*\|_\infty \le \sum_{k<K}\gamma^{K-1-k}\varepsilon_k
        + \gamma^K\|Q_0 - Q^*\|_\infty ,

so with exact backups (:math:`n=\infty`) the error falls as :math:`\gamma^K`; and the
stage-equilibrium pair :math:`(x_K, y_K)` of :math:`Q_K` has exploitability at most
:math:`4\|Q_K - Q^*\|_\infty/(1-\gamma)`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .. import _validation as V
from ..bellman import _matvec
from ..sampling import GenerativeSampler
from .markov import MarkovGame, _check_game
from .matrix import solve_matrix_games

__all__ = ["MinimaxFQIResult", "minimax_bellman", "minimax_fqi"]


@dataclass(frozen=True, slots=True)
class MinimaxFQIResult:
    """Iterates of Minimax-FQI.

    Attributes
    ----------
    q : ndarray (S, A, B)
        Final :math:`Q_K`.
    x, y : ndarray (S, A), (S, B)
        Stage equilibrium strategies of :math:`Q_K`.
    values : ndarray (K+1, S)
        :math:`\\operatorname{val}[Q_k(s)]`, k = 0..K.
    strategies : list of (x_k, y_k)
        Stage equilibria of every :math:`Q_k` (k = 0..K).
    bellman_errors : ndarray (K,)
        :math:`\\varepsilon_k = \\|Q_{k+1} - T Q_k\\|_\\infty` (zero up to rounding for exact
        backups): the statistical error of each regression.
    q_errors : ndarray (K+1,) or None
        :math:`\\|Q_k - Q^*\\|_\\infty` when ``q_star`` was given.
    n_samples : int or None
    """

    q: np.ndarray
    x: np.ndarray
    y: np.ndarray
    values: np.ndarray
    strategies: list
    bellman_errors: np.ndarray
    q_errors: np.ndarray | None
    n_samples: int | None


def _stage_values(Q: np.ndarray, stage_solver):
    vals, X, Y = stage_solver(Q)
    return np.asarray(vals, dtype=float), X, Y


def minimax_bellman(game: MarkovGame, q, *, stage_solver: Callable | None = None,
                    P_flat=None) -> np.ndarray:
    r"""The minimax Bellman operator on Q-functions,
    :math:`(TQ)(s,a,b) = r(s,a,b) + \gamma\sum_{s'}P(s'\mid s,a,b)\operatorname{val}[Q(s')]`.

    ``P_flat`` (``(S*A*B, S)``) replaces the kernel (e.g. an empirical one)."""
    _check_game(game, "minimax_bellman")
    q = V.as_float_array("q", q, 3)
    V.check_shape("q", q, (game.S, game.A, game.B), "(states, max actions, min actions)")
    vals, _, _ = _stage_values(q, stage_solver or solve_matrix_games)
    Pf = game.joint.P_flat if P_flat is None else P_flat
    back = _matvec(Pf, np.ascontiguousarray(vals)).reshape(game.S, game.A, game.B)
    return game.r + game.gamma * back


def minimax_fqi(game: MarkovGame, n_iter: int, *, n_samples: int | None = None, q0=None,
                seed=None, q_star=None, stage_solver: Callable | None = None
                ) -> MinimaxFQIResult:
    r"""Tabular Minimax-FQI (Fan, Wang, Xie, Yang 2020, Sec. 6, Algorithm "Minimax-FQI").

    Parameters
    ----------
    game : MarkovGame
    n_iter : int
        Number of iterations ``K``.
    n_samples : int or None
        Draws per :math:`(s, a, b)` and iteration from the generative model (fresh each
        iteration, via :class:`~tabular_rl.sampling.GenerativeSampler` on the joint-action
        MDP); ``None`` means exact backups (infinite samples).
    q0 : array_like (S, A, B), optional
        Initial Q (zeros by default).
    seed : int or Generator, optional
    q_star : array_like (S, A, B), optional
        The game's :math:`Q^*` (e.g. ``shapley_iteration(game).q``) to record
        :math:`\|Q_k - Q^*\|_\infty`.
    stage_solver : callable, optional
        ``stage_solver(Qs) -> (values, X, Y)`` (default
        :func:`~tabular_rl.games.matrix.solve_matrix_games`); the max-min stage value.

    Returns
    -------
    MinimaxFQIResult

    Examples
    --------
    >>> from tabular_rl.games.markov import random_markov_game, shapley_iteration
    >>> g = random_markov_game(4, 2, 2, 0.5, seed=0)
    >>> res = minimax_fqi(g, 30, q_star=shapley_iteration(g, tol=1e-12).q)
    >>> bool(res.q_errors[-1] < 1e-8)
    True
    """
    _check_game(game, "minimax_fqi")
    K = V.check_positive_int("n_iter", n_iter)
    solver = stage_solver or solve_matrix_games
    S, A, B = game.S, game.A, game.B
    if q0 is None:
        q = np.zeros((S, A, B))
    else:
        q = V.as_float_array("q0", q0, 3)
        V.check_shape("q0", q, (S, A, B), "(states, max actions, min actions)")
        V.check_finite("q0", q)
    qs = None
    if q_star is not None:
        qs = V.as_float_array("q_star", q_star, 3)
        V.check_shape("q_star", qs, (S, A, B), "(states, max actions, min actions)")
    sampler = None
    keys = None
    if n_samples is not None:
        n_samples = V.check_positive_int("n_samples", n_samples)
        sampler = GenerativeSampler(game.joint)
        root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(
            np.random.default_rng(seed).integers(2**63))
        keys = root.spawn(K)
    values, strategies, eps, errs = [], [], [], []
    P_true = game.joint.P_flat
    for k in range(K + 1):
        vals, X, Y = _stage_values(q, solver)
        values.append(vals)
        strategies.append((X, Y))
        if qs is not None:
            errs.append(float(np.abs(q - qs).max()))
        if k == K:
            break
        exact = game.r + game.gamma * _matvec(P_true, vals).reshape(S, A, B)
        if sampler is None:
            q_new = exact
        else:
            counts = sampler.counts(n_samples, seed=keys[k])
            P_hat = sampler.empirical_kernel(counts, n_samples)
            q_new = game.r + game.gamma * _matvec(P_hat, vals).reshape(S, A, B)
        eps.append(float(np.abs(q_new - exact).max()))
        q = q_new
    X, Y = strategies[-1]
    return MinimaxFQIResult(q=q, x=X, y=Y, values=np.array(values), strategies=strategies,
                            bellman_errors=np.array(eps),
                            q_errors=None if qs is None else np.array(errs),
                            n_samples=n_samples)
