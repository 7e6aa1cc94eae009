"""Exact planning: dynamic programming, linear programming, average reward."""

from .average_reward import (
    AverageRewardSolution,
    average_reward_lp,
    relative_value_iteration,
)
from .dp import (
    backward_induction,
    modified_policy_iteration,
    policy_iteration,
    solve,
    value_iteration,
)
from .lp import OccupancyLPResult, dual_lp, occupancy_lp, primal_lp

__all__ = [
    "AverageRewardSolution",
    "OccupancyLPResult",
    "average_reward_lp",
    "backward_induction",
    "dual_lp",
    "modified_policy_iteration",
    "occupancy_lp",
    "policy_iteration",
    "primal_lp",
    "relative_value_iteration",
    "solve",
    "value_iteration",
]
