"""Seeded environment generators and the gymnasium bridge.

- :mod:`.random_mdps`: :func:`garnet` (sparse, scales to :math:`10^5`–:math:`10^6` states)
  and :func:`random_dense_mdp` (Dirichlet rows).
- :mod:`.classic`: :func:`chain`, :func:`river_swim`, :func:`gridworld`, :func:`tree_mdp`,
  :func:`bandit`.
- :mod:`.mixing`: :func:`switching_mdp`, a family whose mixing time is set by one
  parameter, and :func:`mixing_time`, its exact computation.
- :mod:`.gym_bridge`: :func:`from_gymnasium` and :func:`to_gymnasium`; gymnasium is
  optional and imported only when these are called.

Every random generator takes ``seed`` (``None``, an ``int`` or a
:class:`numpy.random.Generator`); the same seed gives the same model.
"""

from __future__ import annotations

from .classic import bandit, chain, gridworld, river_swim, tree_mdp
from .gym_bridge import from_gymnasium, to_gymnasium
from .mixing import chain_mixing_time, mixing_time, stationary_distribution, switching_mdp
from .random_mdps import garnet, random_dense_mdp

__all__ = [
    "bandit",
    "chain",
    "chain_mixing_time",
    "from_gymnasium",
    "garnet",
    "gridworld",
    "mixing_time",
    "random_dense_mdp",
    "river_swim",
    "stationary_distribution",
    "switching_mdp",
    "to_gymnasium",
    "tree_mdp",
]
