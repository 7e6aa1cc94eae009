r"""Conversion between :mod:`gymnasium` toy-text environments and finite MDPs.

:func:`from_gymnasium` reads the transition table ``env.unwrapped.P`` that gymnasium's
toy-text environments (FrozenLake, Taxi, CliffWalking) expose,
``P[s][a] = [(prob, next_state, reward, terminated), ...]``, and returns the
:class:`~tabular_rl.FiniteMDP` whose discounted values are the expected discounted returns
of the gymnasium episodes. :func:`to_gymnasium` goes the other way: a
:class:`gymnasium.Env` that samples from a model.

gymnasium is an optional dependency (``pip install gymnasium``); it is imported only when
one of these functions is called.
"""

from __future__ import annotations

import functools
import numbers

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order

from .. import _validation as V
from ..mdp import EpisodicMDP, FiniteMDP

__all__ = ["from_gymnasium", "to_gymnasium"]

#: Terminal-state conventions understood by :func:`from_gymnasium`.
TERMINAL_MODES = ("auto", "self-loop", "absorbing")


def _import_gymnasium():
    try:
        import gymnasium
    except ImportError as e:  # pragma: no cover - exercised only without gymnasium
        raise ImportError("this function needs the optional dependency gymnasium; "
                          "install it with: pip install gymnasium") from e
    return gymnasium


def _discrete_size(gym, space, name: str) -> int:
    if not isinstance(space, gym.spaces.Discrete):
        raise TypeError(f"{name} must be gymnasium.spaces.Discrete, got {space!r}")
    if int(space.start) != 0:
        raise ValueError(f"{name} must start at 0, got Discrete(n={space.n}, "
                         f"start={space.start})")
    return int(space.n)


def _read_table(table, S: int, A: int):
    """Flatten ``P[s][a]`` into arrays ``rows (s*A + a), prob, next, reward, terminated``."""
    rows, prob, nxt, rew, term = [], [], [], [], []
    for s in range(S):
        for a in range(A):
            try:
                outcomes = table[s][a]
            except (KeyError, IndexError, TypeError) as e:
                raise ValueError(f"env.unwrapped.P has no entry P[{s}][{a}]") from e
            for out in outcomes:
                if len(out) != 4:
                    raise ValueError(f"env.unwrapped.P[{s}][{a}] holds {out!r}; expected "
                                     "(prob, next_state, reward, terminated)")
                p, s2, r, done = out
                rows.append(s * A + a)
                prob.append(p)
                nxt.append(s2)
                rew.append(r)
                term.append(bool(done))
    rows = np.asarray(rows, dtype=np.int64)
    prob = np.asarray(prob, dtype=np.float64)
    nxt = np.asarray(nxt, dtype=np.int64)
    rew = np.asarray(rew, dtype=np.float64)
    term = np.asarray(term, dtype=bool)
    bad = (nxt < 0) | (nxt >= S)
    if bad.any():
        k = int(np.argmax(bad))
        raise ValueError(f"env.unwrapped.P[{rows[k] // A}][{rows[k] % A}] leads to state "
                         f"{nxt[k]}, outside 0..{S - 1}")
    return rows, prob, nxt, rew, term


def _initial_distribution(u, S: int) -> np.ndarray:
    mu = getattr(u, "initial_state_distrib", None)
    if mu is not None:
        mu = np.asarray(mu, dtype=np.float64)
        if mu.shape != (S,):
            raise ValueError(f"env.unwrapped.initial_state_distrib must have shape ({S},), "
                             f"got {mu.shape}")
        return mu
    start = getattr(u, "start_state_index", None)
    if isinstance(start, numbers.Integral) and 0 <= start < S:
        mu = np.zeros(S)
        mu[int(start)] = 1.0
        return mu
    return np.full(S, 1.0 / S)


def _self_loop_clash(src, nxt, go_mask, ends, mu) -> np.ndarray:
    """Terminal states that make the self-loop convention inexact on the reachable states.

    ``src, nxt`` are the source and next state of each outcome; ``go_mask`` flags the
    non-terminating ones with positive probability. A terminal state clashes if it has
    initial mass or is entered by a non-terminating outcome from a non-terminal state
    reachable from ``mu`` along such outcomes.
    """
    S = mu.size
    start = np.flatnonzero(mu > 0)
    if np.isin(start, ends).any():
        return np.intersect1d(start, ends)
    # Breadth-first search from a virtual root S linked to the support of mu.
    graph = sp.csr_matrix(
        (np.ones(start.size + int(go_mask.sum())),
         (np.concatenate([np.full(start.size, S), src[go_mask]]),
          np.concatenate([start, nxt[go_mask]]))),
        shape=(S + 1, S + 1))
    reach = np.zeros(S + 1, dtype=bool)
    reach[breadth_first_order(graph, S, directed=True, return_predecessors=False)] = True
    entered = nxt[go_mask & reach[src] & ~np.isin(src, ends)]
    return np.intersect1d(ends, entered)


def from_gymnasium(env_or_id, gamma: float = 0.99, *, terminal: str = "auto",
                   sparse: bool = False, **make_kwargs) -> FiniteMDP:
    r"""The finite MDP of a gymnasium toy-text environment, read from its table ``P``.

    The expected reward is :math:`r(s, a) = \sum_i p_i\, \rho_i` over the outcomes
    :math:`(p_i, s'_i, \rho_i, \mathrm{terminated}_i)` of ``P[s][a]``, and repeated
    next states are merged, :math:`P(s' \mid s, a) = \sum_{i: s'_i = s'} p_i`.

    A gymnasium episode stops after a transition flagged ``terminated``; the model
    reproduces this by sending such transitions to a zero-reward absorbing state, so
    that for every policy and every non-terminal state :math:`s` an episode can visit

    .. math::

        v^\pi_\gamma(s) = \mathbb E^\pi\Big[\sum_{t=0}^{T-1} \gamma^t \rho_t
        \,\Big|\, s_0 = s\Big],

    the expected discounted return of the episode from :math:`s`, :math:`T` its
    termination step. Truncation (``max_episode_steps`` of a ``TimeLimit`` wrapper) is not
    modelled; discounting takes its place. Two conventions are available:

    ``"self-loop"``
        The states entered by terminating transitions (FrozenLake's holes and goal,
        CliffWalking's goal, Taxi's drop-off states) become absorbing with zero reward;
        their own rows in ``P`` are discarded and their value is 0 (Sutton & Barto's
        terminal states, [1]_ Sec. 3.4). ``S`` is unchanged. Exact on the states an
        episode can visit (those reachable from ``mu`` by non-terminating transitions)
        when none of them enters a terminal state without termination and no terminal
        state has initial mass; this holds for FrozenLake, CliffWalking and Taxi, and a
        ``ValueError`` is raised otherwise. (Taxi also lists unreachable states, e.g.
        the passenger already at the destination, that move into terminal states; their
        values are those of the self-loop model, not of a gymnasium episode.)
    ``"absorbing"``
        One zero-reward absorbing state is appended, with index ``S_env`` (the number of
        environment states), so ``S = S_env + 1``; every terminating transition goes
        there. Always exact.
    ``"auto"`` (default)
        ``"self-loop"`` when it is exact in the above sense, else ``"absorbing"``.

    Parameters
    ----------
    env_or_id : gymnasium.Env or str
        An environment whose ``unwrapped`` has the table ``P`` and ``Discrete`` spaces, or
        an id passed to :func:`gymnasium.make` with ``make_kwargs``.
    gamma : float, optional
        Discount factor in :math:`[0, 1)`.
    terminal : {"auto", "self-loop", "absorbing"}, optional
        Treatment of terminating transitions, see above.
    sparse : bool, optional
        CSR kernel if ``True``, dense ``(S, A, S)`` otherwise (default).
    **make_kwargs
        Keyword arguments of :func:`gymnasium.make` (``is_slippery=False``, ``map_name=...``),
        only with an id.

    Returns
    -------
    FiniteMDP
        ``mu`` is the environment's ``initial_state_distrib`` (else the point mass at its
        ``start_state_index``, else uniform), padded with 0 for an appended state.

    Raises
    ------
    ImportError
        gymnasium is not installed.
    TypeError
        The environment has no table ``P`` or non-``Discrete`` spaces.
    ValueError
        A malformed table, or ``terminal="self-loop"`` where it would not be exact.

    References
    ----------
    .. [1] R. S. Sutton, A. G. Barto, *Reinforcement Learning: An Introduction*, 2nd ed.,
       MIT Press, 2018, Sec. 3.4 (unified notation for episodic and continuing tasks).

    Examples
    --------
    >>> from tabular_rl.envs import from_gymnasium
    >>> mdp = from_gymnasium("FrozenLake-v1", gamma=0.9)   # doctest: +SKIP
    >>> mdp.S, mdp.A                                       # doctest: +SKIP
    (16, 4)
    """
    gym = _import_gymnasium()
    gamma = V.check_real_scalar("gamma", gamma, 0.0, 1.0)
    if terminal not in TERMINAL_MODES:
        raise ValueError(f"terminal must be one of {TERMINAL_MODES}, got {terminal!r}")
    if isinstance(env_or_id, str):
        env = gym.make(env_or_id, **make_kwargs)
        try:
            return from_gymnasium(env, gamma, terminal=terminal, sparse=sparse)
        finally:
            env.close()
    if make_kwargs:
        raise TypeError(f"make_kwargs {sorted(make_kwargs)} are only accepted with an "
                        "environment id, not an environment instance")
    u = getattr(env_or_id, "unwrapped", env_or_id)
    table = getattr(u, "P", None)
    if table is None:
        raise TypeError(f"env_or_id must have a transition table env.unwrapped.P "
                        f"(gymnasium toy-text environments do); {type(u).__name__} has none")
    S = _discrete_size(gym, getattr(u, "observation_space", None), "observation_space")
    A = _discrete_size(gym, getattr(u, "action_space", None), "action_space")
    rows, prob, nxt, rew, term = _read_table(table, S, A)
    r = np.bincount(rows, weights=prob * rew, minlength=S * A).reshape(S, A)
    mu = _initial_distribution(u, S)

    ends = np.unique(nxt[term & (prob > 0)])  # the terminal states
    clash = _self_loop_clash(rows // A, nxt, ~term & (prob > 0), ends, mu)
    if terminal == "self-loop" and clash.size:
        raise ValueError(f"terminal='self-loop' is not exact here: terminal state "
                         f"{clash[0]} has initial mass or is entered without termination "
                         "from a state reachable from the start; use terminal='absorbing'")
    if terminal == "absorbing" or clash.size:
        n = S + 1  # the appended absorbing state is S
        nxt = np.where(term, S, nxt)
        rows = np.concatenate([rows, S * A + np.arange(A)])
        nxt = np.concatenate([nxt, np.full(A, S)])
        prob = np.concatenate([prob, np.ones(A)])
        r = np.vstack([r, np.zeros((1, A))])
        mu = np.append(mu, 0.0)
    else:
        n = S
        drop = np.isin(rows // A, ends)
        rows = np.concatenate([rows[~drop], (ends[:, None] * A + np.arange(A)).ravel()])
        nxt = np.concatenate([nxt[~drop], np.repeat(ends, A)])
        prob = np.concatenate([prob[~drop], np.ones(ends.size * A)])
        r[ends] = 0.0
    P = sp.csr_matrix((prob, (rows, nxt)), shape=(n * A, n))
    P.sum_duplicates()
    P.eliminate_zeros()
    P.sort_indices()
    return FiniteMDP(P if sparse else P.toarray().reshape(n, A, n), r, gamma, mu)


@functools.cache
def _env_class():
    """Define the gymnasium environment class on first use (gymnasium is optional)."""
    gym = _import_gymnasium()

    class TabularMDPEnv(gym.Env):
        """A :class:`gymnasium.Env` that samples transitions of a finite MDP.

        Observations and actions are ``int`` in ``Discrete(S)`` and ``Discrete(A)``; the
        reward of a step is the expected reward :math:`r(s, a)`. The model is the attribute
        ``mdp``. For a :class:`~tabular_rl.FiniteMDP` the table ``P`` in the toy-text format
        is available too, so :func:`from_gymnasium` recovers the model.
        """

        metadata = {"render_modes": []}

        def __init__(self, mdp, seed=None, max_steps=None):
            self.mdp = mdp
            self.observation_space = gym.spaces.Discrete(mdp.S)
            self.action_space = gym.spaces.Discrete(mdp.A)
            self.initial_state_distrib = np.array(mdp.mu)
            self._episodic = isinstance(mdp, EpisodicMDP)
            self._max_steps = max_steps
            self._pending_seed = seed
            self._mu_cdf = np.cumsum(mdp.mu)
            self._s = None
            self._t = 0
            self._table = None

        @property
        def P(self):
            if self._episodic:
                raise AttributeError("P (the toy-text table) exists only for a FiniteMDP")
            if self._table is None:
                self._table = _toy_text_table(self.mdp)
            return self._table

        def _draw(self, cdf: np.ndarray) -> int:
            k = int(np.searchsorted(cdf, self.np_random.random() * cdf[-1], side="right"))
            return min(k, cdf.size - 1)

        def reset(self, *, seed=None, options=None):
            if seed is None and self._pending_seed is not None:
                seed = self._pending_seed
            self._pending_seed = None
            super().reset(seed=seed)
            self._s = self._draw(self._mu_cdf)
            self._t = 0
            return self._s, {}

        def step(self, action):
            if self._s is None:
                raise RuntimeError("call reset() before step(), and again after the episode "
                                   "ends (terminated or truncated)")
            if not self.action_space.contains(action):
                raise ValueError(f"action must be an int in 0..{self.mdp.A - 1}, "
                                 f"got {action!r}")
            s, a, h = self._s, int(action), self._t
            if self._episodic:
                Pf, reward = self.mdp.P_flat(h), self.mdp.r_at(h)[s, a]
            else:
                Pf, reward = self.mdp.P_flat, self.mdp.r[s, a]
            row = s * self.mdp.A + a
            if sp.issparse(Pf):
                lo, hi = Pf.indptr[row], Pf.indptr[row + 1]
                s_next = int(Pf.indices[lo + self._draw(np.cumsum(Pf.data[lo:hi]))])
            else:
                s_next = self._draw(np.cumsum(Pf[row]))
            self._t += 1
            terminated = self._episodic and self._t >= self.mdp.H
            truncated = (not terminated and self._max_steps is not None
                         and self._t >= self._max_steps)
            self._s = None if (terminated or truncated) else s_next
            return s_next, float(reward), bool(terminated), bool(truncated), {}

    return TabularMDPEnv


def _toy_text_table(mdp: FiniteMDP) -> dict:
    """``P[s][a] = [(prob, next_state, r(s, a), False), ...]``, the toy-text format."""
    csr = sp.csr_matrix(mdp.P_flat)
    table = {}
    for s in range(mdp.S):
        table[s] = {}
        for a in range(mdp.A):
            row = s * mdp.A + a
            lo, hi = csr.indptr[row], csr.indptr[row + 1]
            rew = float(mdp.r[s, a])
            table[s][a] = [(float(p), int(j), rew, False)
                           for p, j in zip(csr.data[lo:hi], csr.indices[lo:hi], strict=True)]
    return table


def to_gymnasium(mdp: FiniteMDP | EpisodicMDP, *, seed=None, max_steps: int | None = None):
    r"""A :class:`gymnasium.Env` that simulates ``mdp``.

    ``reset`` draws :math:`s_0 \sim \mu`; ``step(a)`` returns
    :math:`s_{t+1} \sim P(\cdot \mid s_t, a)` (from the dense or CSR kernel), the expected
    reward :math:`r(s_t, a)`, ``terminated`` and ``truncated``. A
    :class:`~tabular_rl.FiniteMDP` is a continuing task: ``terminated`` is always ``False``
    and ``truncated`` becomes ``True`` after ``max_steps`` steps, if given. An
    :class:`~tabular_rl.EpisodicMDP` uses :math:`P_h, r_h` at step :math:`h` and
    terminates after ``H`` steps.

    Parameters
    ----------
    mdp : FiniteMDP or EpisodicMDP
        The model to simulate.
    seed : None or int, optional
        Seed of the first ``reset()`` that is called without one; later resets continue
        the same random stream, as in gymnasium.
    max_steps : int, optional
        Truncation length of an episode (default: none for a ``FiniteMDP``).

    Returns
    -------
    gymnasium.Env
        With ``Discrete(S)`` observations, ``Discrete(A)`` actions and the attribute
        ``mdp``; for a ``FiniteMDP`` also the toy-text table ``P`` and
        ``initial_state_distrib``, so ``from_gymnasium(to_gymnasium(mdp))`` returns
        ``mdp``'s kernel, reward and initial distribution.

    Raises
    ------
    ImportError
        gymnasium is not installed.
    TypeError
        ``mdp`` is not a ``FiniteMDP`` or ``EpisodicMDP``.

    Examples
    --------
    >>> from tabular_rl.envs import river_swim, to_gymnasium
    >>> env = to_gymnasium(river_swim(), seed=0, max_steps=10)   # doctest: +SKIP
    >>> env.reset()                                              # doctest: +SKIP
    (0, {})
    """
    if not isinstance(mdp, FiniteMDP | EpisodicMDP):
        raise TypeError(f"mdp must be a FiniteMDP or EpisodicMDP, got {type(mdp).__name__}")
    if max_steps is not None:
        max_steps = V.check_positive_int("max_steps", max_steps)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise TypeError(f"seed must be None or an int, got {type(seed).__name__}")
    return _env_class()(mdp, seed, max_steps)
