r"""Random finite MDPs: GARNET instances and dense Dirichlet MDPs.

Both generators are seeded: the same ``seed`` gives the same model, bit for bit, and the
random draws do not depend on the storage format (a dense and a sparse GARNET with the same
seed describe the same MDP). ``seed`` may be ``None``, an ``int``, a
:class:`numpy.random.SeedSequence` or a :class:`numpy.random.Generator`, as accepted by
:func:`numpy.random.default_rng`.
"""

from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse as sp

from .. import _validation as V
from ..mdp import FiniteMDP

__all__ = ["garnet", "random_dense_mdp"]

#: Reward models understood by :func:`garnet`.
GARNET_REWARDS = ("uniform", "normal", "state")

# Row blocks of the random-key sampler hold at most this many keys (32 MiB of float64).
_KEY_BLOCK = 1 << 22


def _rng(seed) -> np.random.Generator:
    """``numpy.random.default_rng(seed)``, with an error that names ``seed``."""
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not (
        seed is None
        or isinstance(seed, numbers.Integral | np.random.SeedSequence | np.random.BitGenerator)
    ):
        raise TypeError("seed must be None, an int, a numpy.random.SeedSequence or a "
                        f"numpy.random.Generator, got {type(seed).__name__}")
    try:
        return np.random.default_rng(seed)
    except ValueError as e:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}") from e


def _index_dtype(*sizes: int) -> type:
    """``int32`` when every size fits, else ``int64`` (scipy's own CSR rule)."""
    return np.int32 if max(sizes) < np.iinfo(np.int32).max else np.int64


def _sample_supports(rng: np.random.Generator, n_rows: int, S: int, k: int) -> np.ndarray:
    r"""Draw ``n_rows`` independent uniform ``k``-subsets of ``{0, ..., S-1}``, sorted per row.

    For small ``k`` this is Floyd's algorithm run on all rows at once: for
    :math:`j = S-k, \dots, S-1` draw :math:`t \sim U\{0..j\}` and keep :math:`t`, or
    :math:`j` if :math:`t` was already kept; every subset has probability
    :math:`1/\binom{S}{k}` (Bentley & Floyd, "A sample of brilliance", CACM 30(9), 1987).
    It costs :math:`O(n k^2)` and no rejection. When :math:`k^2` is large compared with
    :math:`S` the rows are instead the ``k`` smallest of ``S`` i.i.d. uniform keys,
    :math:`O(nS)`, computed in row blocks to bound memory.
    """
    sel = np.empty((n_rows, k), dtype=np.int64)
    if k * k <= 32 * S:
        for i, j in enumerate(range(S - k, S)):
            t = rng.integers(0, j + 1, size=n_rows)
            if i:
                t = np.where((sel[:, :i] == t[:, None]).any(axis=1), j, t)
            sel[:, i] = t
    else:
        block = max(1, _KEY_BLOCK // S)
        for start in range(0, n_rows, block):
            stop = min(start + block, n_rows)
            keys = rng.random((stop - start, S))
            sel[start:stop] = np.argpartition(keys, k - 1, axis=1)[:, :k]
    sel.sort(axis=1)
    return sel


def _uniform_simplex(rng: np.random.Generator, n_rows: int, k: int) -> np.ndarray:
    """``n_rows`` draws of Dirichlet(1, ..., 1) on ``k`` atoms: gaps of ``k-1`` uniform cuts."""
    cuts = rng.random((n_rows, k - 1))
    cuts.sort(axis=1)
    return np.diff(cuts, axis=1, prepend=0.0, append=1.0)


def garnet(S: int, A: int, branching: int, gamma: float = 0.9, *, seed=None,
           sparse: bool = True, reward: str = "uniform") -> FiniteMDP:
    r"""A GARNET ("Generic Average Reward Non-stationary Environment Testbed") MDP.

    For every pair :math:`(s, a)` independently, a support :math:`N(s,a)` of ``branching``
    distinct next states is drawn uniformly without replacement from the ``S`` states, and
    the unit mass is split among them by ``branching - 1`` uniform cut points of
    :math:`[0, 1]`:

    .. math::

        P(\cdot \mid s, a) = \sum_{i=1}^{b} (u_{(i)} - u_{(i-1)})\, \delta_{s'_i},
        \qquad u_{(0)} = 0,\; u_{(b)} = 1,

    where :math:`u_{(1)} \le \dots \le u_{(b-1)}` are sorted i.i.d. :math:`U[0,1]` and
    :math:`s'_1 < \dots < s'_b` is the support; the weights are thus
    :math:`\mathrm{Dirichlet}(1, \dots, 1)` on :math:`N(s,a)`.

    Parameters
    ----------
    S, A : int
        Numbers of states and actions, at least 1.
    branching : int
        Support size :math:`b` of every row, :math:`1 \le b \le S`.
    gamma : float, optional
        Discount factor in :math:`[0, 1)`.
    seed : None, int, numpy.random.SeedSequence or numpy.random.Generator, optional
        Source of randomness; the same seed gives the same model.
    sparse : bool, optional
        Return ``P`` as a CSR matrix ``(S*A, S)`` (default) with sorted ``int32`` column
        indices and exactly ``branching`` stored entries per row, or dense ``(S, A, S)``
        when ``False``. The model is the same either way.
    reward : {"uniform", "normal", "state"}, optional
        ``"uniform"``: :math:`r(s,a) \sim U[0,1]` i.i.d. (default); ``"normal"``:
        :math:`r(s,a) \sim N(0,1)` i.i.d.; ``"state"``: :math:`r(s,a) = \rho(s)` with
        :math:`\rho(s) \sim U[0,1]`, the state-based reward of Bhatnagar et al. [2]_.

    Returns
    -------
    FiniteMDP
        With the uniform initial distribution.

    Raises
    ------
    ValueError
        ``branching > S``, a non-positive size, ``gamma`` outside :math:`[0, 1)`, or an
        unknown ``reward``.

    Notes
    -----
    The build is vectorized over all :math:`SA` rows (no Python loop over states); for
    ``branching`` small against ``S`` it takes :math:`O(SA\,b^2)` time and
    :math:`O(SA\,b)` memory, so ``garnet(200_000, 4, 5)`` needs about 70 MB and well under
    a second. Exact zero weights (two equal cut points) have probability
    :math:`\approx b^2 2^{-53}` per row.

    References
    ----------
    .. [1] T. W. Archibald, K. I. M. McKinnon, L. C. Thomas, "On the generation of Markov
       decision processes", *Journal of the Operational Research Society* 46(3), 1995.
    .. [2] S. Bhatnagar, R. S. Sutton, M. Ghavamzadeh, M. Lee, "Natural actor-critic
       algorithms", *Automatica* 45(11), 2009, Sec. 6.

    Examples
    --------
    >>> from tabular_rl.envs import garnet
    >>> mdp = garnet(10, 2, 3, seed=0)
    >>> mdp.S, mdp.A, mdp.P.nnz
    (10, 2, 60)
    >>> bool((mdp.P.toarray() == garnet(10, 2, 3, seed=0).P.toarray()).all())
    True
    """
    S = V.check_positive_int("S", S)
    A = V.check_positive_int("A", A)
    k = V.check_positive_int("branching", branching)
    if k > S:
        raise ValueError(f"branching must be <= S (next states are distinct), "
                         f"got branching={k} > S={S}")
    gamma = V.check_real_scalar("gamma", gamma, 0.0, 1.0)
    if reward not in GARNET_REWARDS:
        raise ValueError(f"reward must be one of {GARNET_REWARDS}, got {reward!r}")
    rng = _rng(seed)
    n = S * A
    cols = _sample_supports(rng, n, S, k)
    probs = _uniform_simplex(rng, n, k)
    if reward == "uniform":
        r = rng.random((S, A))
    elif reward == "normal":
        r = rng.standard_normal((S, A))
    else:
        r = np.repeat(rng.random((S, 1)), A, axis=1)
    if sparse:
        idx = _index_dtype(S, n * k)
        P = sp.csr_matrix(
            (probs.ravel(), cols.astype(idx).ravel(), np.arange(0, n * k + 1, k, dtype=idx)),
            shape=(n, S),
        )
    else:
        P = np.zeros((n, S))
        P[np.arange(n)[:, None], cols] = probs
        P = P.reshape(S, A, S)
    return FiniteMDP(P, r, gamma)


def random_dense_mdp(S: int, A: int, gamma: float = 0.9, *, seed=None,
                     concentration: float = 1.0) -> FiniteMDP:
    r"""A dense random MDP with Dirichlet rows and uniform rewards.

    .. math::

        P(\cdot \mid s, a) \sim \mathrm{Dirichlet}(\alpha, \dots, \alpha), \qquad
        r(s, a) \sim U[0, 1],

    all independent, where :math:`\alpha` is ``concentration``. Small :math:`\alpha` gives
    nearly deterministic rows, :math:`\alpha = 1` the uniform law on the simplex, large
    :math:`\alpha` rows close to uniform.

    Parameters
    ----------
    S, A : int
        Numbers of states and actions, at least 1.
    gamma : float, optional
        Discount factor in :math:`[0, 1)`.
    seed : None, int, numpy.random.SeedSequence or numpy.random.Generator, optional
        Source of randomness; the same seed gives the same model.
    concentration : float, optional
        Dirichlet parameter :math:`\alpha > 0`.

    Returns
    -------
    FiniteMDP
        Dense ``P`` of shape ``(S, A, S)``, uniform initial distribution.

    Raises
    ------
    ValueError
        A non-positive size, ``gamma`` outside :math:`[0, 1)` or ``concentration <= 0``.

    Examples
    --------
    >>> from tabular_rl.envs import random_dense_mdp
    >>> mdp = random_dense_mdp(4, 3, seed=1)
    >>> mdp.P.shape, bool(abs(mdp.P.sum(axis=2) - 1).max() < 1e-12)
    ((4, 3, 4), True)
    """
    S = V.check_positive_int("S", S)
    A = V.check_positive_int("A", A)
    gamma = V.check_real_scalar("gamma", gamma, 0.0, 1.0)
    alpha = V.check_real_scalar("concentration", concentration, 0.0, np.inf, lo_open=True)
    rng = _rng(seed)
    P = rng.dirichlet(np.full(S, alpha), size=(S, A))
    r = rng.random((S, A))
    return FiniteMDP(P, r, gamma)
