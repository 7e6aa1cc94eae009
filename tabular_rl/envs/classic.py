r"""Classic small MDPs with known structure: chain, RiverSwim, gridworld, tree, bandit.

Every generator returns a validated :class:`~tabular_rl.FiniteMDP` (or
:class:`~tabular_rl.EpisodicMDP` for :func:`tree_mdp`). Kernels are assembled from
``(row, next state, probability)`` triples with vectorized numpy, never a Python loop
over states, and duplicate triples are summed (a move into a wall and the "stay" move
land on the same next state).
"""

from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse as sp

from .. import _validation as V
from ..mdp import EpisodicMDP, FiniteMDP
from .random_mdps import _index_dtype, _rng

__all__ = ["bandit", "chain", "gridworld", "river_swim", "tree_mdp"]

#: Action indices of :func:`gridworld`, with their (row, column) displacement.
GRID_ACTIONS = ("up", "right", "down", "left")
_GRID_MOVES = np.array([[-1, 0], [0, 1], [1, 0], [0, -1]])

#: Reward models understood by :func:`tree_mdp`.
TREE_REWARDS = ("leaf", "uniform")

# Largest tree (in nodes) that tree_mdp agrees to build.
_MAX_TREE_NODES = 10**8


def _kernel(S: int, A: int, rows, cols, vals, sparse: bool):
    """Assemble ``P`` from triples (``rows`` index ``s*A + a``), summing duplicates.

    Returns CSR ``(S*A, S)`` with sorted indices when ``sparse``, else dense ``(S, A, S)``.
    Zero-probability triples are dropped.
    """
    rows, cols, vals = (np.asarray(x).ravel() for x in (rows, cols, vals))
    keep = vals > 0
    idx = _index_dtype(S * A, S, int(keep.sum()))
    P = sp.coo_matrix((vals[keep], (rows[keep].astype(idx), cols[keep].astype(idx))),
                      shape=(S * A, S)).tocsr()
    P.sum_duplicates()
    P.sort_indices()
    return P if sparse else P.toarray().reshape(S, A, S)


def _point_mass(n: int, i: int) -> np.ndarray:
    mu = np.zeros(n)
    mu[i] = 1.0
    return mu


def chain(n: int, gamma: float = 0.9, *, slip: float = 0.0, sparse: bool = False) -> FiniteMDP:
    r"""A chain of ``n`` states with a rewarding right end.

    States :math:`0, \dots, n-1` lie on a line; action 0 moves left, action 1 moves right.
    The intended move happens with probability :math:`1 - p` and the opposite move with
    probability :math:`p` (``slip``); a move off either end leaves the state unchanged:

    .. math::

        P(s' \mid s, a) = (1-p)\,\mathbb 1[s' = m_a(s)] + p\,\mathbb 1[s' = m_{1-a}(s)],
        \qquad m_0(s) = \max(s-1, 0),\; m_1(s) = \min(s+1, n-1),

    and the reward is one per step spent at the right end,
    :math:`r(s, a) = \mathbb 1[s = n-1]`. The agent starts at state 0.

    Parameters
    ----------
    n : int
        Number of states, at least 1.
    gamma : float, optional
        Discount factor in :math:`[0, 1)`.
    slip : float, optional
        Probability :math:`p \in [0, 1]` of moving the opposite way.
    sparse : bool, optional
        CSR kernel if ``True``, dense ``(S, A, S)`` otherwise (default).

    Returns
    -------
    FiniteMDP
        ``S = n``, ``A = 2``, ``mu`` the point mass at state 0.

    Notes
    -----
    With ``slip = 0`` "always right" is optimal and
    :math:`v^*(s) = \gamma^{\,n-1-s} / (1 - \gamma)`.

    Examples
    --------
    >>> from tabular_rl.envs import chain
    >>> mdp = chain(3, slip=0.1)
    >>> mdp.P[1, 1].tolist(), mdp.r[:, 0].tolist()
    ([0.1, 0.0, 0.9], [0.0, 0.0, 1.0])
    """
    n = V.check_positive_int("n", n)
    gamma = V.check_real_scalar("gamma", gamma, 0.0, 1.0)
    p = V.check_real_scalar("slip", slip, 0.0, 1.0, hi_open=False)
    s = np.arange(n)
    moves = (np.maximum(s - 1, 0), np.minimum(s + 1, n - 1))  # m_0, m_1
    rows, cols, vals = [], [], []
    for a in (0, 1):
        rows += [2 * s + a] * 2
        cols += [moves[a], moves[1 - a]]
        vals += [np.full(n, 1.0 - p), np.full(n, p)]
    P = _kernel(n, 2, rows, cols, vals, sparse)
    r = np.zeros((n, 2))
    r[n - 1] = 1.0
    return FiniteMDP(P, r, gamma, _point_mass(n, 0))


def river_swim(n: int = 6, gamma: float = 0.95, *, sparse: bool = False) -> FiniteMDP:
    r"""RiverSwim: a chain against a current, with a small reward near and a large one far.

    States :math:`0, \dots, n-1`, start at state 0. Action 0 ("left", with the current)
    moves left deterministically (state 0 stays). Action 1 ("right", against the current)
    has, with :math:`L = n-1`:

    =================  ===========  =======  ============
    state              move left    stay     move right
    =================  ===========  =======  ============
    :math:`s = 0`      --           0.4      0.6
    :math:`0 < s < L`  0.05         0.6      0.35
    :math:`s = L`      0.4          0.6      --
    =================  ===========  =======  ============

    Rewards: :math:`r(0, \text{left}) = 5/1000` and :math:`r(L, \text{right}) = 1`, zero
    elsewhere. These are the numbers of Osband, Russo & Van Roy [2]_ (their Figure 2 and
    their code). The original RiverSwim of Strehl & Littman [1]_ has the same structure
    with rewards 5 and 10 000; published versions differ slightly in the probabilities at
    the two ends, so cite [2]_ for these exact values.

    Parameters
    ----------
    n : int, optional
        Number of states, at least 2 (6 in both papers).
    gamma : float, optional
        Discount factor in :math:`[0, 1)`.
    sparse : bool, optional
        CSR kernel if ``True``, dense ``(S, A, S)`` otherwise (default).

    Returns
    -------
    FiniteMDP
        ``S = n``, ``A = 2``, ``mu`` the point mass at state 0.

    References
    ----------
    .. [1] A. L. Strehl, M. L. Littman, "An analysis of model-based Interval Estimation for
       Markov Decision Processes", *J. Computer and System Sciences* 74(8), 2008, Sec. 6.
    .. [2] I. Osband, D. Russo, B. Van Roy, "(More) Efficient Reinforcement Learning via
       Posterior Sampling", NeurIPS 2013, Sec. 6, Fig. 2.

    Examples
    --------
    >>> from tabular_rl.envs import river_swim
    >>> mdp = river_swim()
    >>> mdp.P[2, 1, 1:4].tolist(), float(mdp.r[0, 0]), float(mdp.r[5, 1])
    ([0.05, 0.6, 0.35], 0.005, 1.0)
    """
    n = V.check_positive_int("n", n)
    if n < 2:
        raise ValueError(f"n must be >= 2 for river_swim, got n={n}")
    gamma = V.check_real_scalar("gamma", gamma, 0.0, 1.0)
    s = np.arange(n)
    inner = s[1:-1]
    L = n - 1
    rows = [2 * s,                                        # left: with the current
            [1, 1], [2 * L + 1, 2 * L + 1],               # right at the two ends
            2 * inner + 1, 2 * inner + 1, 2 * inner + 1]  # right in the interior
    cols = [np.maximum(s - 1, 0), [0, 1], [L - 1, L], inner - 1, inner, inner + 1]
    vals = [np.ones(n), [0.4, 0.6], [0.4, 0.6],
            np.full(n - 2, 0.05), np.full(n - 2, 0.6), np.full(n - 2, 0.35)]
    P = _kernel(n, 2, *(np.concatenate(x) for x in (rows, cols, vals)), sparse)
    r = np.zeros((n, 2))
    r[0, 0] = 5 / 1000
    r[L, 1] = 1.0
    return FiniteMDP(P, r, gamma, _point_mass(n, 0))


def _grid_goal(goal, width: int, height: int, seed) -> int:
    """The goal's flat index ``row*width + col``."""
    if goal is None:
        return width * height - 1
    if isinstance(goal, str):
        if goal != "random":
            raise ValueError(f"goal must be None, 'random' or a (row, col) pair, got {goal!r}")
        n = width * height
        return 0 if n == 1 else 1 + int(_rng(seed).integers(n - 1))
    try:
        row, col = goal
    except (TypeError, ValueError) as e:
        raise ValueError(f"goal must be None, 'random' or a (row, col) pair, got {goal!r}") from e
    for name, x, size in (("row", row, height), ("col", col, width)):
        if isinstance(x, bool) or not isinstance(x, numbers.Integral):
            raise TypeError(f"goal {name} must be an integer, got {type(x).__name__}")
        if not 0 <= int(x) < size:
            raise ValueError(f"goal={tuple(goal)} lies outside the {height}x{width} grid "
                             f"({name} must be in 0..{size - 1})")
    return int(row) * width + int(col)


def gridworld(width: int, height: int, *, slip: float = 0.1, gamma: float = 0.95, goal=None,
              sparse: bool = True, seed=None) -> FiniteMDP:
    r"""A ``height`` x ``width`` gridworld with slippery moves and one absorbing goal.

    Cell :math:`(i, j)` (row :math:`i` from the top, column :math:`j` from the left) is
    state :math:`s = i \cdot \mathrm{width} + j`. Actions are 0 up (:math:`i-1`), 1 right
    (:math:`j+1`), 2 down (:math:`i+1`), 3 left (:math:`j-1`). Taking action :math:`a`
    performs move :math:`a` with probability :math:`1 - p` and each of the three other
    moves with probability :math:`p/3` (``p = slip``); a move into the border leaves the
    agent in place:

    .. math::

        P(s' \mid s, a) = \sum_{m=0}^{3} \Big((1-p)\mathbb 1[m=a] + \tfrac p3 \mathbb 1[m\ne a]
        \Big)\, \mathbb 1[s' = \mathrm{move}_m(s)].

    The goal :math:`g` is absorbing and worth one on entry:

    .. math::

        r(s, a) = P(g \mid s, a)\ \text{for } s \ne g, \qquad
        r(g, a) = 0, \quad P(g \mid g, a) = 1,

    so :math:`v^\pi(s) = \mathbb E^\pi[\gamma^{\tau - 1}]` with :math:`\tau` the step at
    which :math:`g` is first entered: the discounted episodic return of a "reach the goal"
    task that terminates at :math:`g`. The agent starts in the top-left cell, state 0.

    Parameters
    ----------
    width, height : int
        Grid size, at least 1 each; ``S = width * height``.
    slip : float, optional
        Probability :math:`p \in [0, 1]` that the intended move is replaced by one of the
        three others, chosen uniformly.
    gamma : float, optional
        Discount factor in :math:`[0, 1)`.
    goal : None, "random" or (row, col), optional
        The goal cell: the bottom-right corner by default; ``"random"`` draws it uniformly
        among the cells other than the start, using ``seed``.
    sparse : bool, optional
        CSR kernel ``(S*A, S)`` (default, at most 4 entries per row) or dense ``(S, A, S)``.
    seed : None, int or numpy.random.Generator, optional
        Used only by ``goal="random"``.

    Returns
    -------
    FiniteMDP
        ``S = width * height``, ``A = 4``, ``mu`` the point mass at state 0.

    Notes
    -----
    The build is vectorized over cells; a 500 x 500 grid (250 000 states) takes about a
    second. With ``slip = 0`` the optimal value is
    :math:`v^*(s) = \gamma^{d(s, g) - 1}` for :math:`s \ne g`, with :math:`d` the
    Manhattan distance.

    Examples
    --------
    >>> from tabular_rl.envs import gridworld
    >>> mdp = gridworld(3, 3, slip=0.3)   # centre cell is state 4, "up" is action 0
    >>> [round(float(x), 3) for x in mdp.P[4 * 4 + 0].toarray().ravel()[[1, 3, 5, 7]]]
    [0.7, 0.1, 0.1, 0.1]
    """
    width = V.check_positive_int("width", width)
    height = V.check_positive_int("height", height)
    p = V.check_real_scalar("slip", slip, 0.0, 1.0, hi_open=False)
    gamma = V.check_real_scalar("gamma", gamma, 0.0, 1.0)
    g = _grid_goal(goal, width, height, seed)
    S, A = width * height, len(GRID_ACTIONS)
    s = np.arange(S)
    i, j = np.divmod(s, width)
    # nxt[m, s]: the cell reached by move m, walls and the absorbing goal included.
    ni = np.clip(i[None, :] + _GRID_MOVES[:, :1], 0, height - 1)
    nj = np.clip(j[None, :] + _GRID_MOVES[:, 1:], 0, width - 1)
    nxt = ni * width + nj
    nxt[:, g] = g
    # prob[a, m]: chance that action a performs move m.
    prob = np.where(np.eye(A, dtype=bool), 1.0 - p, p / (A - 1))
    rows = np.broadcast_to(s[None, None, :] * A + np.arange(A)[:, None, None], (A, A, S))
    cols = np.broadcast_to(nxt[None, :, :], (A, A, S))
    vals = np.repeat(prob[:, :, None], S, axis=2)
    vals[:, :, g] = np.eye(A)  # the goal's self-loop, exactly 1 (not 1 - p + 3 p/3)
    P = _kernel(S, A, rows, cols, vals, sparse)
    r = (prob @ (nxt == g)).T  # r[s, a] = sum_m prob[a, m] 1[nxt[m, s] = g]
    r[g] = 0.0
    return FiniteMDP(P, r, gamma, _point_mass(S, 0))


def tree_mdp(depth: int, A: int, *, seed=None, reward: str = "leaf",
             sparse: bool = True) -> EpisodicMDP:
    r"""A deterministic ``A``-ary tree of the given depth, as an episodic MDP with ``H = depth``.

    Nodes are numbered breadth first (heap order): the root is 0 and action :math:`a` at
    node :math:`s` leads to child :math:`A s + 1 + a`. Depth :math:`d` holds the
    :math:`A^d` nodes :math:`n_d, \dots, n_{d+1} - 1` with :math:`n_d = \sum_{e<d} A^e`, so
    ``S`` :math:`= n_{\mathrm{depth}+1}`; the leaves are the last :math:`A^{\mathrm{depth}}`
    states and are absorbing with zero reward. The episode starts at the root and the state
    at step :math:`h` is a node of depth :math:`h`; after ``H = depth`` actions it is a
    leaf. Every action sequence reaches a different leaf.

    Rewards:

    - ``"leaf"`` (default): leaf :math:`\ell` carries a value :math:`x_\ell \sim U[0,1]`,
      paid on the step that enters it, :math:`r(s, a) = x_{A s + 1 + a}` at depth
      :math:`\mathrm{depth}-1` and zero elsewhere. The return of an episode is the value
      of the leaf it reaches, so :math:`V_0^*(\text{root}) = \max_\ell x_\ell`.
    - ``"uniform"``: :math:`r(s, a) \sim U[0, 1]` i.i.d. at every internal node.

    Parameters
    ----------
    depth : int
        Tree depth, equal to the horizon ``H``; at least 1.
    A : int
        Branching factor (number of actions), at least 1.
    seed : None, int or numpy.random.Generator, optional
        Source of the random rewards.
    reward : {"leaf", "uniform"}, optional
        Reward model, see above.
    sparse : bool, optional
        CSR kernel ``(S*A, S)`` (default) or dense ``(S, A, S)``.

    Returns
    -------
    EpisodicMDP
        Stationary ``P`` and ``r``, ``H = depth``, ``mu`` the point mass at the root.

    Raises
    ------
    ValueError
        A non-positive ``depth`` or ``A``, an unknown ``reward``, or a tree of more than
        :math:`10^8` nodes.

    Examples
    --------
    >>> from tabular_rl.envs import tree_mdp
    >>> mdp = tree_mdp(2, 3, seed=0)
    >>> mdp.S, mdp.A, mdp.H
    (13, 3, 2)
    """
    depth = V.check_positive_int("depth", depth)
    A = V.check_positive_int("A", A)
    if reward not in TREE_REWARDS:
        raise ValueError(f"reward must be one of {TREE_REWARDS}, got {reward!r}")
    S = depth + 1 if A == 1 else (A ** (depth + 1) - 1) // (A - 1)
    if S > _MAX_TREE_NODES:
        raise ValueError(f"tree_mdp(depth={depth}, A={A}) would have {S} states, more than "
                         f"{_MAX_TREE_NODES:.0e}; lower depth or A")
    n_inner = S - A**depth
    rng = _rng(seed)
    s_in = np.arange(n_inner)
    leaves = np.arange(n_inner, S)
    a = np.arange(A)
    children = A * s_in[:, None] + 1 + a[None, :]  # (n_inner, A)
    rows = np.concatenate([(s_in[:, None] * A + a).ravel(), (leaves[:, None] * A + a).ravel()])
    cols = np.concatenate([children.ravel(), np.repeat(leaves, A)])
    P = _kernel(S, A, rows, cols, np.ones(S * A), sparse)
    r = np.zeros((S, A))
    if reward == "leaf":
        x = rng.random(A**depth)
        last = np.arange(n_inner - A ** (depth - 1), n_inner)  # depth - 1
        r[last] = x[children[last] - n_inner]
    else:
        r[:n_inner] = rng.random((n_inner, A))
    return EpisodicMDP(P, r, depth, _point_mass(S, 0))


def bandit(means, gamma: float = 0.0) -> FiniteMDP:
    r"""A multi-armed bandit as a one-state MDP: ``A = len(means)`` arms, :math:`r(0, a) = \mu_a`.

    The only state loops to itself under every action, :math:`P(0 \mid 0, a) = 1`, and the
    reward of arm :math:`a` is its mean, so :math:`q^*(0, a) = \mu_a + \gamma
    \max_b \mu_b / (1 - \gamma)` and the greedy arm is :math:`\arg\max_a \mu_a`. With the
    default ``gamma = 0`` the value is the one-step expected reward :math:`\max_a \mu_a`.

    Parameters
    ----------
    means : array_like of shape (A,)
        Mean reward of each arm; finite, at least one arm.
    gamma : float, optional
        Discount factor in :math:`[0, 1)`.

    Returns
    -------
    FiniteMDP
        ``S = 1``, dense ``P`` of ones ``(1, A, 1)``, ``r`` of shape ``(1, A)``.

    Examples
    --------
    >>> from tabular_rl.envs import bandit
    >>> mdp = bandit([0.1, 0.5, 0.3])
    >>> mdp.S, mdp.A, mdp.r.tolist()
    (1, 3, [[0.1, 0.5, 0.3]])
    """
    m = V.as_float_array("means", means, 1)
    if m.size == 0:
        raise ValueError("means must hold at least one arm, got an empty array")
    V.check_finite("means", m)
    return FiniteMDP(np.ones((1, m.size, 1)), m[None, :], gamma)
