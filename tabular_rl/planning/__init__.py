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
from .ftrl import ftrl_policy_optimization
from .kl_posterior import GibbsPosterior, gibbs_posterior, kl_objective, token_level_posterior
from .lp import OccupancyLPResult, dual_lp, occupancy_lp, primal_lp
from .mdvi import MDVIResult, md_vi, md_vi_averaged, munchausen_vi, q_log, tsallis_munchausen_vi
from .pmd import PMDResult, finite_memory_pmd, policy_mirror_descent, step_size_schedule
from .policy_gradient import (
    PolicyGradientResult,
    natural_policy_gradient,
    softmax_pg_gradient,
    softmax_policy_gradient,
)
from .robust import (
    RobustEvaluation,
    RobustPGResult,
    entropic_risk,
    risk_sensitive_bellman,
    risk_sensitive_value_iteration,
    robust_bellman,
    robust_policy_evaluation,
    robust_policy_gradient,
    robust_projected_gradient,
    robust_value_iteration,
    worst_case_kernel,
)
from .sac import (
    ConstrainedEntropySolution,
    DualTemperatureResult,
    SoftPITrace,
    constrained_entropy_solution,
    dual_temperature_adjustment,
    expected_entropy,
    soft_policy_iteration_trace,
)
from .soft_dp import (
    soft_backward_induction,
    soft_modified_policy_iteration,
    soft_policy_iteration,
    soft_value_iteration,
)

__all__ = [
    "PolicyGradientResult",
    "natural_policy_gradient",
    "softmax_pg_gradient",
    "softmax_policy_gradient",
    "ConstrainedEntropySolution",
    "DualTemperatureResult",
    "GibbsPosterior",
    "SoftPITrace",
    "constrained_entropy_solution",
    "dual_temperature_adjustment",
    "expected_entropy",
    "gibbs_posterior",
    "kl_objective",
    "soft_policy_iteration_trace",
    "token_level_posterior",
    "RobustEvaluation",
    "RobustPGResult",
    "entropic_risk",
    "risk_sensitive_bellman",
    "risk_sensitive_value_iteration",
    "robust_bellman",
    "robust_policy_evaluation",
    "robust_policy_gradient",
    "robust_projected_gradient",
    "robust_value_iteration",
    "worst_case_kernel",
    "PMDResult",
    "finite_memory_pmd",
    "ftrl_policy_optimization",
    "policy_mirror_descent",
    "step_size_schedule",
    "MDVIResult",
    "md_vi",
    "md_vi_averaged",
    "munchausen_vi",
    "q_log",
    "tsallis_munchausen_vi",
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
    "soft_backward_induction",
    "soft_modified_policy_iteration",
    "soft_policy_iteration",
    "soft_value_iteration",
    "solve",
    "value_iteration",
]
