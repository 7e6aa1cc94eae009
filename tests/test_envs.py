"""Tests of the seeded environment generators and the gymnasium bridge (tabular_rl.envs)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from tabular_rl.envs import (
    bandit,
    chain,
    from_gymnasium,
    garnet,
    gridworld,
    random_dense_mdp,
    river_swim,
    to_gymnasium,
    tree_mdp,
)
from tabular_rl.mdp import EpisodicMDP, FiniteMDP


def dense_P(mdp) -> np.ndarray:
    """The kernel as a dense ``(S, A, S)`` array, whatever the storage."""
    P = mdp.P
    return P.toarray().reshape(mdp.S, mdp.A, mdp.S) if sp.issparse(P) else np.asarray(P)


def optimal_values(mdp: FiniteMDP, tol: float = 1e-12) -> np.ndarray:
    """Plain value iteration on the dense kernel; independent of tabular_rl.planning.

    Stops when ``||Tv - v|| <= tol (1 - gamma) / gamma``, so ``||v - v*|| <= tol``.
    """
    P, v = dense_P(mdp), np.zeros(mdp.S)
    stop = tol * (1 - mdp.gamma) / max(mdp.gamma, 1e-300)
    for _ in range(100_000):
        v_new = (mdp.r + mdp.gamma * P @ v).max(axis=1)
        if np.abs(v_new - v).max() <= stop:
            return v_new
        v = v_new
    raise AssertionError("value iteration did not converge")


def backward_induction(mdp: EpisodicMDP) -> np.ndarray:
    """``V_0^*`` of a stationary episodic model."""
    P, v = dense_P(mdp), np.zeros(mdp.S)
    for _ in range(mdp.H):
        v = (mdp.r + P @ v).max(axis=1)
    return v


def support_sizes(mdp) -> np.ndarray:
    return np.diff(mdp.P.indptr) if mdp.is_sparse else (dense_P(mdp) > 0).sum(-1).ravel()


# --------------------------------------------------------------------------- garnet


@pytest.mark.parametrize(("S", "A", "b"), [(1, 1, 1), (7, 3, 7), (30, 2, 4), (40, 2, 39)])
def test_garnet_shapes_and_support(S, A, b):
    mdp = garnet(S, A, b, seed=0)
    assert (mdp.S, mdp.A, mdp.P.shape) == (S, A, (S * A, S))
    assert mdp.is_sparse and mdp.P.indices.dtype == np.int32
    np.testing.assert_array_equal(np.diff(mdp.P.indptr), b)  # exactly b entries per row
    assert (mdp.P.data > 0).all()
    rows = np.split(mdp.P.indices, mdp.P.indptr[1:-1])
    assert all((np.diff(c) > 0).all() for c in rows)  # sorted and distinct
    assert mdp.r.shape == (S, A) and (mdp.r >= 0).all() and (mdp.r <= 1).all()
    np.testing.assert_allclose(mdp.mu, 1 / S)


def test_garnet_large_is_valid():
    mdp = garnet(20_000, 4, 5, seed=3)
    assert mdp.P.nnz == 20_000 * 4 * 5
    np.testing.assert_array_equal(np.diff(mdp.P.indptr), 5)
    sums = np.add.reduceat(mdp.P.data, mdp.P.indptr[:-1])
    np.testing.assert_allclose(sums, 1.0, atol=1e-12)
    # Supports are spread over all states: every state is hit (80 000 rows of 5 draws).
    assert np.unique(mdp.P.indices).size > 0.99 * 20_000


@pytest.mark.parametrize("b", [3, 40])  # Floyd sampler and random-key sampler
def test_garnet_sparse_and_dense_are_the_same_model(b):
    a = garnet(40, 3, b, seed=11, sparse=True)
    d = garnet(40, 3, b, seed=11, sparse=False)
    assert not d.is_sparse and d.P.shape == (40, 3, 40)
    np.testing.assert_array_equal(dense_P(a), d.P)
    np.testing.assert_array_equal(a.r, d.r)


def test_garnet_reproducible_and_seed_sensitive():
    a, b, c = (garnet(50, 2, 3, seed=s) for s in (5, 5, 6))
    np.testing.assert_array_equal(a.P.indices, b.P.indices)
    np.testing.assert_array_equal(a.P.data, b.P.data)
    np.testing.assert_array_equal(a.r, b.r)
    assert not np.array_equal(dense_P(a), dense_P(c))
    g1, g2 = np.random.default_rng(9), np.random.default_rng(9)
    np.testing.assert_array_equal(garnet(20, 2, 2, seed=g1).r, garnet(20, 2, 2, seed=g2).r)


def test_garnet_support_is_uniform():
    # Each row's support is a uniform 2-subset of 5 states: P(s' in support) = 2/5.
    mdp = garnet(5, 2000, 2, seed=0)
    freq = np.bincount(mdp.P.indices, minlength=5) / (5 * 2000)
    np.testing.assert_allclose(freq, 2 / 5, atol=0.02)  # sd ~ 0.0035
    # Dirichlet(1,1) weights: the first one is U[0, 1], mean 1/2, variance 1/12.
    w = mdp.P.data[::2]
    assert abs(w.mean() - 0.5) < 0.01 and abs(w.var() - 1 / 12) < 0.005


@pytest.mark.parametrize("reward", ["uniform", "normal", "state"])
def test_garnet_reward_models(reward):
    mdp = garnet(30, 3, 2, seed=1, reward=reward)
    if reward == "state":
        np.testing.assert_array_equal(mdp.r, mdp.r[:, :1].repeat(3, axis=1))
    if reward == "normal":
        assert (mdp.r < 0).any()


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"S": 4, "A": 2, "branching": 5}, ValueError, r"branching.*branching=5 > S=4"),
        ({"S": 4, "A": 2, "branching": 0}, ValueError, "branching must be >= 1"),
        ({"S": 0, "A": 2, "branching": 1}, ValueError, "S must be >= 1"),
        ({"S": 4, "A": 2.0, "branching": 1}, TypeError, "A must be an integer"),
        ({"S": 4, "A": 2, "branching": 2, "gamma": 1.0}, ValueError, r"gamma must lie in"),
        ({"S": 4, "A": 2, "branching": 2, "reward": "gauss"}, ValueError, "reward must be one"),
        ({"S": 4, "A": 2, "branching": 2, "seed": "x"}, TypeError, "seed must be"),
        ({"S": 4, "A": 2, "branching": 2, "seed": -1}, ValueError, "seed must be"),
    ],
)
def test_garnet_errors(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        garnet(**kwargs)


# --------------------------------------------------------------------------- random dense


def test_random_dense_mdp():
    a = random_dense_mdp(6, 3, seed=2)
    assert not a.is_sparse and a.P.shape == (6, 3, 6)
    np.testing.assert_allclose(a.P.sum(-1), 1.0, atol=1e-12)
    assert (a.P > 0).all()  # Dirichlet(1) rows have full support a.s.
    np.testing.assert_array_equal(a.P, random_dense_mdp(6, 3, seed=2).P)
    assert not np.array_equal(a.P, random_dense_mdp(6, 3, seed=3).P)
    # Small concentration: nearly deterministic rows.
    peaked = random_dense_mdp(20, 2, seed=0, concentration=0.01)
    assert np.median(peaked.P.max(-1)) > 0.9


def test_random_dense_mdp_errors():
    with pytest.raises(ValueError, match="concentration must lie in"):
        random_dense_mdp(3, 2, concentration=0.0)


# --------------------------------------------------------------------------- chain, RiverSwim


@pytest.mark.parametrize("sparse", [False, True])
def test_chain_closed_form(sparse):
    gamma, n = 0.9, 5
    mdp = chain(n, gamma, sparse=sparse)
    assert (mdp.S, mdp.A, mdp.is_sparse) == (n, 2, sparse)
    np.testing.assert_array_equal(mdp.mu, np.eye(n)[0])
    # v*(s) = gamma^(n-1-s) / (1 - gamma): walk right, then collect 1 per step.
    s = np.arange(n)
    np.testing.assert_allclose(optimal_values(mdp), gamma ** (n - 1 - s) / (1 - gamma),
                               atol=1e-10)


def test_chain_slip():
    P = chain(4, slip=0.25).P
    np.testing.assert_allclose(P[1, 1], [0.25, 0, 0.75, 0])  # right: 3/4 right, 1/4 left
    np.testing.assert_allclose(P[0, 0], [0.75, 0.25, 0, 0])  # left is blocked: stays
    np.testing.assert_allclose(P[3, 1], [0, 0, 0.25, 0.75])
    with pytest.raises(ValueError, match="slip must lie in"):
        chain(4, slip=1.5)


@pytest.mark.parametrize("sparse", [False, True])
def test_river_swim_numbers(sparse):
    mdp = river_swim(6, sparse=sparse)
    P = dense_P(mdp)
    left, right = 0, 1
    # Osband, Russo & Van Roy (2013), Fig. 2.
    np.testing.assert_allclose(P[:, left], np.eye(6)[[0, 0, 1, 2, 3, 4]])
    np.testing.assert_allclose(P[0, right, :2], [0.4, 0.6])
    for s in range(1, 5):
        np.testing.assert_allclose(P[s, right, s - 1:s + 2], [0.05, 0.6, 0.35])
    np.testing.assert_allclose(P[5, right, 4:], [0.4, 0.6])
    expected_r = np.zeros((6, 2))
    expected_r[0, left], expected_r[5, right] = 5 / 1000, 1.0
    np.testing.assert_array_equal(mdp.r, expected_r)
    np.testing.assert_array_equal(mdp.mu, np.eye(6)[0])
    # At gamma = 0.95 swimming right everywhere is optimal.
    v = optimal_values(mdp)
    q = mdp.r + mdp.gamma * P @ v
    assert (q.argmax(axis=1) == right).all()


def test_river_swim_errors():
    with pytest.raises(ValueError, match="n must be >= 2"):
        river_swim(1)


# --------------------------------------------------------------------------- gridworld


def test_gridworld_slip_semantics_3x3():
    p = 0.3
    mdp = gridworld(3, 3, slip=p, sparse=False)
    P = mdp.P
    up, right, down, left = range(4)
    centre, goal = 4, 8
    # Centre: intended move w.p. 1 - p, each other move w.p. p / 3.
    np.testing.assert_allclose(P[centre, up, [1, 5, 7, 3]], [1 - p, p / 3, p / 3, p / 3])
    np.testing.assert_allclose(P[centre, left, [3, 1, 5, 7]], [1 - p, p / 3, p / 3, p / 3])
    # Top-left corner, "up": up and left hit walls and stay.
    np.testing.assert_allclose(P[0, up, [0, 1, 3]], [1 - p + p / 3, p / 3, p / 3])
    # Goal absorbing with zero reward; reward = probability of entering the goal.
    np.testing.assert_array_equal(P[goal, :, goal], 1.0)
    np.testing.assert_array_equal(mdp.r[goal], 0.0)
    np.testing.assert_allclose(mdp.r[5, down], 1 - p)   # (1, 2) down -> (2, 2)
    np.testing.assert_allclose(mdp.r[5, left], p / 3)
    np.testing.assert_allclose(mdp.r[centre], 0.0)
    np.testing.assert_allclose(P.sum(-1), 1.0)


def test_gridworld_values_without_slip():
    gamma = 0.9
    mdp = gridworld(4, 3, slip=0.0, gamma=gamma)
    assert (mdp.S, mdp.A, mdp.is_sparse) == (12, 4, True)
    assert support_sizes(mdp).max() == 1
    i, j = np.divmod(np.arange(12), 4)
    d = (2 - i) + (3 - j)  # Manhattan distance to the bottom-right goal
    expected = np.where(d > 0, gamma ** (d - 1.0), 0.0)
    np.testing.assert_allclose(optimal_values(mdp), expected, atol=1e-10)


def test_gridworld_sparse_dense_goal_and_large():
    a = gridworld(5, 4, goal=(1, 2))
    b = gridworld(5, 4, goal=(1, 2), sparse=False)
    np.testing.assert_array_equal(dense_P(a), b.P)
    assert dense_P(a)[7, 2, 7] == 1.0  # goal (1, 2) = state 7 is absorbing
    g1 = gridworld(6, 6, goal="random", seed=4)
    g2 = gridworld(6, 6, goal="random", seed=4)
    np.testing.assert_array_equal(g1.r, g2.r)
    big = gridworld(200, 150)
    assert big.S == 30_000 and support_sizes(big).max() <= 4


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"goal": (3, 0)}, ValueError, r"goal=\(3, 0\) lies outside"),
        ({"goal": "corner"}, ValueError, "goal must be None, 'random'"),
        ({"goal": (0.5, 1)}, TypeError, "goal row must be an integer"),
        ({"slip": -0.1}, ValueError, "slip must lie in"),
    ],
)
def test_gridworld_errors(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        gridworld(3, 3, **kwargs)


# --------------------------------------------------------------------------- tree, bandit


@pytest.mark.parametrize(("depth", "A"), [(1, 1), (3, 1), (3, 2), (2, 4)])
def test_tree_size_and_structure(depth, A):
    mdp = tree_mdp(depth, A, seed=0)
    n_nodes = sum(A**d for d in range(depth + 1))
    assert isinstance(mdp, EpisodicMDP)
    assert (mdp.S, mdp.A, mdp.H) == (n_nodes, A, depth)
    np.testing.assert_array_equal(mdp.mu, np.eye(n_nodes)[0])
    P = dense_P(mdp)
    n_inner = n_nodes - A**depth
    for s in range(n_inner):  # child of (s, a) is A*s + 1 + a
        np.testing.assert_array_equal(P[s].argmax(-1), A * s + 1 + np.arange(A))
    assert P.max() == 1.0 and support_sizes(mdp).max() == 1
    # All A^depth leaves are reached by distinct action sequences.
    assert np.unique(P[n_inner - A ** (depth - 1):n_inner].argmax(-1)).size == A**depth


def test_tree_leaf_rewards():
    mdp = tree_mdp(3, 2, seed=7)
    # The return of an episode is the value of the leaf it reaches; V* = max leaf value.
    leaf_values = mdp.r[3:7].ravel()  # depth-2 nodes 3..6 pay on entering their leaves
    assert mdp.r[:3].max() == 0 and mdp.r[7:].max() == 0
    np.testing.assert_allclose(backward_induction(mdp)[0], leaf_values.max())
    np.testing.assert_array_equal(mdp.r, tree_mdp(3, 2, seed=7).r)
    assert not np.array_equal(mdp.r, tree_mdp(3, 2, seed=8).r)
    uni = tree_mdp(3, 2, seed=7, reward="uniform")
    assert (uni.r[:7] > 0).all() and (uni.r[7:] == 0).all()


def test_tree_errors():
    with pytest.raises(ValueError, match="depth must be >= 1"):
        tree_mdp(0, 2)
    with pytest.raises(ValueError, match=r"tree_mdp\(depth=40, A=3\)"):
        tree_mdp(40, 3)
    with pytest.raises(ValueError, match="reward must be one of"):
        tree_mdp(2, 2, reward="root")


def test_bandit():
    means = [0.2, 0.9, 0.5]
    mdp = bandit(means)
    assert (mdp.S, mdp.A, mdp.gamma) == (1, 3, 0.0)
    np.testing.assert_array_equal(mdp.r, [means])
    np.testing.assert_array_equal(mdp.P, np.ones((1, 3, 1)))
    np.testing.assert_allclose(optimal_values(bandit(means, gamma=0.5)), [0.9 / 0.5])
    with pytest.raises(ValueError, match="means must hold at least one arm"):
        bandit([])
    with pytest.raises(ValueError, match="means must have 1 dimensions"):
        bandit([[0.1]])
    with pytest.raises(ValueError, match=r"means\[1\] is nan"):
        bandit([0.1, np.nan])


# --------------------------------------------------------------------------- gymnasium


def _cliff_id(gym) -> str:
    for env_id in ("CliffWalking-v1", "CliffWalking-v0"):
        if env_id in gym.envs.registry:
            return env_id
    pytest.skip("no CliffWalking in this gymnasium")


def test_from_gymnasium_frozen_lake():
    pytest.importorskip("gymnasium")
    mdp = from_gymnasium("FrozenLake-v1", gamma=0.9)
    assert (mdp.S, mdp.A) == (16, 4)
    np.testing.assert_array_equal(mdp.mu, np.eye(16)[0])
    P = dense_P(mdp)
    # Slippery: the intended and the two perpendicular moves, 1/3 each. From state 0,
    # "left" slips up, left or down; up and left hit walls, down leads to state 4.
    np.testing.assert_allclose(P[0, 0, [0, 4]], [2 / 3, 1 / 3])
    # Holes (5, 7, 11, 12) and the goal (15) are terminal: absorbing, zero reward.
    for s in (5, 7, 11, 12, 15):
        np.testing.assert_array_equal(P[s, :, s], 1.0)
        np.testing.assert_array_equal(mdp.r[s], 0.0)
    np.testing.assert_allclose(mdp.r[14, 2], 1 / 3)  # (3, 2) "right": reaches the goal w.p. 1/3


def test_from_gymnasium_deterministic_values():
    gym = pytest.importorskip("gymnasium")
    gamma = 0.9
    lake = from_gymnasium("FrozenLake-v1", gamma=gamma, is_slippery=False)
    # Shortest path 0 -> 15 has 6 moves; the reward 1 comes on the 6th: v*(0) = gamma^5.
    np.testing.assert_allclose(optimal_values(lake)[0], gamma**5, atol=1e-10)
    cliff = from_gymnasium(_cliff_id(gym), gamma=gamma)
    assert (cliff.S, cliff.A) == (48, 4)
    # Start (3, 0) = 36: up, 11 x right, down; 13 steps at -1 each, episode ends at goal.
    np.testing.assert_allclose(optimal_values(cliff)[36], -(1 - gamma**13) / (1 - gamma),
                               atol=1e-9)
    ab = from_gymnasium(_cliff_id(gym), gamma=gamma, terminal="absorbing", sparse=True)
    assert ab.S == 49 and ab.is_sparse and ab.mu[48] == 0
    np.testing.assert_allclose(optimal_values(ab)[:47], optimal_values(cliff)[:47], atol=1e-9)


def test_from_gymnasium_taxi_and_instances():
    gym = pytest.importorskip("gymnasium")
    taxi_id = next((i for i in ("Taxi-v4", "Taxi-v3") if i in gym.envs.registry), None)
    if taxi_id is None:
        pytest.skip("no Taxi in this gymnasium")
    env = gym.make(taxi_id)
    mdp = from_gymnasium(env, gamma=0.95, sparse=True)
    assert (mdp.S, mdp.A) == (500, 6)
    np.testing.assert_allclose(mdp.mu, env.unwrapped.initial_state_distrib)
    # Self-loop terminal states (auto) and the appended absorbing state agree wherever an
    # episode can start.
    ab = from_gymnasium(env, gamma=0.95, terminal="absorbing")
    assert ab.S == 501
    start = mdp.mu > 0
    np.testing.assert_allclose(optimal_values(mdp)[start], optimal_values(ab)[:500][start],
                               atol=1e-9)
    with pytest.raises(TypeError, match="only accepted with an environment id"):
        from_gymnasium(env, is_slippery=False)
    env.close()


def test_from_gymnasium_errors():
    gym = pytest.importorskip("gymnasium")
    with pytest.raises(TypeError, match="transition table"):
        from_gymnasium(gym.make("CartPole-v1"))
    with pytest.raises(ValueError, match="terminal must be one of"):
        from_gymnasium("FrozenLake-v1", terminal="drop")


def test_from_gymnasium_self_loop_refused_when_inexact():
    pytest.importorskip("gymnasium")
    # State 1 is entered both by a terminating and a non-terminating transition.
    env = to_gymnasium(chain(3, slip=0.5))
    table = {s: {a: list(env.P[s][a]) for a in range(2)} for s in range(3)}
    table[0][1] = [(0.5, 1, 0.0, True), (0.5, 0, 0.0, False)]
    env.unwrapped._table = table
    with pytest.raises(ValueError, match="terminal='self-loop' is not exact"):
        from_gymnasium(env, terminal="self-loop")
    auto = from_gymnasium(env)
    assert auto.S == 4 and dense_P(auto)[0, 1, 3] == 0.5


@pytest.mark.parametrize("sparse", [False, True])
def test_to_gymnasium_round_trip(sparse):
    pytest.importorskip("gymnasium")
    mdp = garnet(12, 3, 4, gamma=0.8, seed=0, sparse=sparse)
    back = from_gymnasium(to_gymnasium(mdp), gamma=0.8)
    np.testing.assert_allclose(dense_P(back), dense_P(mdp), atol=1e-15)
    np.testing.assert_allclose(back.r, mdp.r)
    np.testing.assert_allclose(back.mu, mdp.mu)


@pytest.mark.parametrize("sparse", [False, True])
def test_to_gymnasium_steps(sparse):
    gym = pytest.importorskip("gymnasium")
    mdp = river_swim(sparse=sparse)
    env = to_gymnasium(mdp, seed=3, max_steps=50)
    assert env.observation_space == gym.spaces.Discrete(6)
    assert env.action_space == gym.spaces.Discrete(2)
    s, info = env.reset()
    assert s == 0 and info == {}
    P = dense_P(mdp)
    visits = []
    for t in range(50):
        a = t % 2
        s2, r, terminated, truncated, _ = env.step(a)
        assert env.observation_space.contains(s2)
        assert P[s, a, s2] > 0 and r == mdp.r[s, a]
        assert not terminated and truncated == (t == 49)
        visits.append(s2)
        s = s2
    with pytest.raises(RuntimeError, match="call reset"):
        env.step(0)
    # Same seed, same trajectory.
    env2 = to_gymnasium(mdp, seed=3, max_steps=50)
    env2.reset()
    assert [env2.step(t % 2)[0] for t in range(50)] == visits


def test_to_gymnasium_sampling_frequencies():
    pytest.importorskip("gymnasium")
    env = to_gymnasium(chain(3, slip=0.3, sparse=True), seed=0)
    env.reset()
    counts = np.zeros(3)
    for _ in range(4000):
        env.unwrapped._s = 1
        counts[env.step(1)[0]] += 1
    np.testing.assert_allclose(counts / 4000, [0.3, 0.0, 0.7], atol=0.03)  # sd ~ 0.007


def test_to_gymnasium_episodic_and_checker():
    gym = pytest.importorskip("gymnasium")
    from gymnasium.utils.env_checker import check_env

    mdp = tree_mdp(3, 2, seed=0)
    env = to_gymnasium(mdp, seed=1)
    s, _ = env.reset()
    total, done, steps = 0.0, False, 0
    while not done:
        s, r, done, truncated, _ = env.step(1)
        total += r
        steps += 1
    assert steps == 3 and s == 14 and not truncated  # always-right reaches the last leaf
    np.testing.assert_allclose(total, mdp.r[6, 1])
    with pytest.raises(ValueError, match="action must be an int in 0..1"):
        env.reset()
        env.step(2)
    check_env(to_gymnasium(garnet(5, 2, 2, seed=0), max_steps=20), skip_render_check=True)
    assert isinstance(to_gymnasium(mdp), gym.Env)
    with pytest.raises(TypeError, match="mdp must be a FiniteMDP"):
        to_gymnasium("FrozenLake-v1")
