"""Occupancy measures: the flow polytope, constrained MDPs, Lagrangian dynamics, convex
programs over occupancies (cvxpy) and Frank-Wolfe."""

from .cmdp import CMDPSolution, ConstrainedMDP, InfeasibleCMDPError, solve_cmdp_lp
from .column_generation import (
    ColumnGenerationResult,
    policy_iteration_oracle,
    solve_cmdp_column_generation,
)
from .convex import (
    ConvexOccupancyResult,
    OccupancyProgramError,
    chi2_divergence,
    kl_divergence,
    max_concave_utility,
    max_entropy_occupancy,
    occupancy_entropy,
    regularized_occupancy,
    regularized_occupancy_path,
)
from .frank_wolfe import (
    FrankWolfeResult,
    Utility,
    entropy_utility,
    exact_lmo,
    frank_wolfe,
    linear_utility,
)
from .lagrangian import METHODS, LagrangianTrajectory, lagrangian_dynamics
from .polytope import (
    FlowConstraints,
    flow_constraints,
    linear_objective,
    membership_residual,
    occupancy_to_policy,
    policy_to_occupancy,
)

__all__ = [
    "ColumnGenerationResult",
    "ConvexOccupancyResult",
    "FrankWolfeResult",
    "OccupancyProgramError",
    "Utility",
    "chi2_divergence",
    "entropy_utility",
    "exact_lmo",
    "frank_wolfe",
    "kl_divergence",
    "linear_utility",
    "max_concave_utility",
    "max_entropy_occupancy",
    "occupancy_entropy",
    "regularized_occupancy",
    "policy_iteration_oracle",
    "regularized_occupancy_path",
    "solve_cmdp_column_generation",
    "CMDPSolution",
    "ConstrainedMDP",
    "InfeasibleCMDPError",
    "LagrangianTrajectory",
    "METHODS",
    "lagrangian_dynamics",
    "solve_cmdp_lp",
    "FlowConstraints",
    "flow_constraints",
    "linear_objective",
    "membership_residual",
    "occupancy_to_policy",
    "policy_to_occupancy",
]
