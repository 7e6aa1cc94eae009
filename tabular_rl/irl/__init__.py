"""Inverse reinforcement learning: feasible reward sets and their estimation.

- :mod:`~tabular_rl.irl.feasible_set` -- explicit feasible reward sets (discounted and
  finite-horizon), membership with a certificate, sampling, projection, the Hausdorff
  distance (certified bounds), and the entropy-regularized (soft) feasible set.
- :mod:`~tabular_rl.irl.estimation` -- US-IRL: the plug-in feasible set from a generative
  model with ``n`` samples per (state, action, step), and its distance to the true set.
- :mod:`~tabular_rl.irl.identifiability` -- potential shaping, the linear space of rewards
  consistent with a soft-optimal policy (basis and dimension), and counterexamples under
  Tsallis regularization and active constraints.
- :mod:`~tabular_rl.irl.mce` -- maximum causal entropy IRL by dual ascent with exact soft
  dynamic programming, and its constrained variant (learning a cost).
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
from .identifiability import (
    ConsistentRewardSet,
    Counterexample,
    consistency_jacobian,
    consistent_reward_set,
    constraint_counterexample,
    shape,
    shaping_distance,
    shaping_matrix,
    soft_optimal_policy,
    tsallis_counterexample,
)
from .mce import (
    MCEResult,
    SoftCMDPSolution,
    feature_expectation,
    mce_icrl,
    mce_irl,
    solve_soft_cmdp,
    tabular_features,
)

__all__ = [
    "ConsistentRewardSet",
    "Counterexample",
    "MCEResult",
    "SoftCMDPSolution",
    "consistency_jacobian",
    "consistent_reward_set",
    "constraint_counterexample",
    "feature_expectation",
    "mce_icrl",
    "mce_irl",
    "shape",
    "shaping_distance",
    "shaping_matrix",
    "soft_optimal_policy",
    "solve_soft_cmdp",
    "tabular_features",
    "tsallis_counterexample",
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
