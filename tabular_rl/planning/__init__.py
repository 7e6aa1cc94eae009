"""Exact planning: dynamic programming, linear programming, average reward."""

from .dp import (
    backward_induction,
    modified_policy_iteration,
    policy_iteration,
    solve,
    value_iteration,
)

__all__ = [
    "backward_induction",
    "modified_policy_iteration",
    "policy_iteration",
    "solve",
    "value_iteration",
]
