"""tabular_rl: exact solvers, sample-based learners and checkable paper claims for tabular RL."""

from .bellman import (
    bellman_optimality,
    bellman_policy,
    greedy_policy,
    policy_reward,
    policy_transition,
    q_values,
)
from .evaluation import (
    advantage,
    evaluate_policy,
    occupancy_measure,
    performance_difference,
    q_function,
    state_occupancy,
)
from .exceptions import ConvergenceError, ConvergenceWarning, NumericalWarning
from .mdp import EpisodicMDP, FiniteMDP
from .planning import (
    AverageRewardSolution,
    OccupancyLPResult,
    average_reward_lp,
    backward_induction,
    dual_lp,
    modified_policy_iteration,
    occupancy_lp,
    policy_iteration,
    primal_lp,
    relative_value_iteration,
    solve,
    value_iteration,
)
from .regularizers import (
    KL,
    ChiSquared,
    FDivergence,
    LogBarrier,
    Regularizer,
    Shannon,
    Tsallis,
    TsallisKL,
)
from .sampling import (
    GenerativeSampler,
    Trajectories,
    rollouts,
    sample_counts,
    sample_next_states,
)
from .solution import Solution, certify

__version__ = "0.1.0"

__all__ = [
    "AverageRewardSolution",
    "ChiSquared",
    "ConvergenceError",
    "ConvergenceWarning",
    "EpisodicMDP",
    "FDivergence",
    "FiniteMDP",
    "GenerativeSampler",
    "KL",
    "LogBarrier",
    "NumericalWarning",
    "OccupancyLPResult",
    "Regularizer",
    "Shannon",
    "Solution",
    "Trajectories",
    "Tsallis",
    "TsallisKL",
    "advantage",
    "average_reward_lp",
    "backward_induction",
    "bellman_optimality",
    "bellman_policy",
    "certify",
    "dual_lp",
    "evaluate_policy",
    "greedy_policy",
    "modified_policy_iteration",
    "occupancy_lp",
    "occupancy_measure",
    "performance_difference",
    "policy_iteration",
    "policy_reward",
    "policy_transition",
    "primal_lp",
    "q_function",
    "q_values",
    "relative_value_iteration",
    "rollouts",
    "sample_counts",
    "sample_next_states",
    "solve",
    "state_occupancy",
    "value_iteration",
]
