"""Batched, device-agnostic solvers: many dense MDPs in one call, on numpy or CuPy.

See :mod:`tabular_rl.batched.solvers` and :mod:`tabular_rl.batched.greedy`; generators of
batches are in :mod:`tabular_rl.batched.instances`.
"""

from .greedy import greedy_step, regularizer_value
from .instances import batched_garnet, stack_mdps
from .solvers import (
    BatchedSolution,
    batched_bellman,
    batched_policy_evaluation,
    batched_policy_iteration,
    batched_policy_mirror_descent,
    batched_value_iteration,
    check_batch,
)

__all__ = [
    "BatchedSolution",
    "batched_bellman",
    "batched_garnet",
    "batched_policy_evaluation",
    "batched_policy_iteration",
    "batched_policy_mirror_descent",
    "batched_value_iteration",
    "check_batch",
    "greedy_step",
    "regularizer_value",
    "stack_mdps",
]
