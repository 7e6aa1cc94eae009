"""Sample-based learners: generative-model plug-in and synchronous Q-learning, and the
average-reward estimator via the discounted reduction."""

from .average_reward import (
    AverageRewardEstimate,
    average_reward_plug_in,
    optimal_gain,
    policy_gain,
    reduction_discount,
)
from .generative import (
    STEP_SIZES,
    PlugInResult,
    QLearningResult,
    batched_policy_iteration,
    exact_solution,
    plug_in,
    synchronous_q_learning,
)
from .max_entropy import (
    EntropyCurve,
    entgame,
    trajectory_entropy,
    ucbvi_ent,
    visitation_entropy,
)

__all__ = [
    "EntropyCurve",
    "entgame",
    "trajectory_entropy",
    "ucbvi_ent",
    "visitation_entropy",
    "STEP_SIZES",
    "AverageRewardEstimate",
    "PlugInResult",
    "QLearningResult",
    "average_reward_plug_in",
    "batched_policy_iteration",
    "exact_solution",
    "optimal_gain",
    "plug_in",
    "policy_gain",
    "reduction_discount",
    "synchronous_q_learning",
]
