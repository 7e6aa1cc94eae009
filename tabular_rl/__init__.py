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
    backward_induction,
    modified_policy_iteration,
    policy_iteration,
    solve,
    value_iteration,
)
from .solution import Solution, certify

__version__ = "0.1.0"

__all__ = [
    "ConvergenceError",
    "ConvergenceWarning",
    "EpisodicMDP",
    "FiniteMDP",
    "NumericalWarning",
    "Solution",
    "advantage",
    "backward_induction",
    "bellman_optimality",
    "bellman_policy",
    "certify",
    "evaluate_policy",
    "greedy_policy",
    "modified_policy_iteration",
    "occupancy_measure",
    "performance_difference",
    "policy_iteration",
    "policy_reward",
    "policy_transition",
    "q_function",
    "q_values",
    "solve",
    "state_occupancy",
    "value_iteration",
]
