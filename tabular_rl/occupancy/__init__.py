"""Occupancy measures: the flow polytope, constrained MDPs, Lagrangian dynamics."""

from .cmdp import CMDPSolution, ConstrainedMDP, InfeasibleCMDPError, solve_cmdp_lp
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
