"""Inverse reinforcement learning: feasible reward sets and their estimation.

- :mod:`~tabular_rl.irl.feasible_set` -- explicit feasible reward sets (discounted and
  finite-horizon), membership with a certificate, sampling, projection, the Hausdorff
  distance (certified bounds), and the entropy-regularized (soft) feasible set.
- :mod:`~tabular_rl.irl.estimation` -- US-IRL: the plug-in feasible set from a generative
  model with ``n`` samples per (state, action, step), and its distance to the true set.
"""

from .estimation import USIRLResult, empirical_layers, us_irl, us_irl_errors
from .feasible_set import (
    DistanceBounds,
    FeasibleRewardSet,
    Membership,
    Projection,
    SoftFeasibleRewardSet,
    hausdorff_distance,
)

__all__ = [
    "DistanceBounds",
    "FeasibleRewardSet",
    "Membership",
    "Projection",
    "SoftFeasibleRewardSet",
    "USIRLResult",
    "empirical_layers",
    "hausdorff_distance",
    "us_irl",
    "us_irl_errors",
]
