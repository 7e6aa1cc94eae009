"""Sample-based learners, each measured against an exact solution.

Generative model: plug-in and synchronous Q-learning, the average-reward estimator via the
discounted reduction. Episodic exploration: UCBVI (Hoeffding and Bernstein bonuses) with
exact per-episode regret; FTRL policy optimization with bandit feedback against seeded
stochastic or adversarial losses, with known or unknown transitions (upper occupancy
bounds). Demonstrations: behavior cloning and KL-regularized RL toward it, with a plug-in
or an optimistic (UCBVI-Ent+-style) learner. Preferences: Bradley-Terry-Luce /
Plackett-Luce MLE, pessimistic policies. Maximum-entropy exploration: EntGame and
UCBVI-Ent."""

from .adversaries import (
    LossSequence,
    alternating_losses,
    minimax_gap,
    minimax_losses,
    stochastic_losses,
)
from .average_reward import (
    AverageRewardEstimate,
    average_reward_plug_in,
    optimal_gain,
    policy_gain,
    reduction_discount,
)
from .demonstrations import (
    DemoRegularizedResult,
    bc_kl_bound,
    behavior_cloning,
    demo_regularized_plug_in,
    demo_regularized_policy,
    kl_regularized_optimum,
    regularized_policy_value,
    trajectory_kl,
)
from .episodic import EpisodicModel, RegretCurve, optimal_start_value, policy_regret
from .generative import (
    STEP_SIZES,
    PlugInResult,
    QLearningResult,
    batched_policy_iteration,
    exact_solution,
    plug_in,
    synchronous_q_learning,
)
from .kl_ucbvi import KLUCBVIResult, demo_regularized_ucbvi_ent
from .max_entropy import (
    EntropyCurve,
    entgame,
    trajectory_entropy,
    ucbvi_ent,
    visitation_entropy,
)
from .policy_optimization import (
    IMPORTANCE,
    REGULARIZERS,
    best_fixed_loss,
    policy_optimization,
)
from .preferences import (
    MLEResult,
    asymptotic_covariances,
    comparison_covariance,
    confidence_radius,
    pessimistic_policy,
    policy_features,
    sample_rankings,
    split_mle,
    split_rankings,
    uniform_offers,
)
from .preferences import greedy_policy as preference_greedy_policy
from .preferences import mle as preference_mle
from .ucbvi import UCBVI_BONUSES, ucbvi
from .upper_occupancy import occupancy_bounds, transition_confidence_set

__all__ = [
    "IMPORTANCE",
    "REGULARIZERS",
    "UCBVI_BONUSES",
    "DemoRegularizedResult",
    "KLUCBVIResult",
    "EpisodicModel",
    "LossSequence",
    "MLEResult",
    "RegretCurve",
    "alternating_losses",
    "asymptotic_covariances",
    "bc_kl_bound",
    "behavior_cloning",
    "best_fixed_loss",
    "comparison_covariance",
    "confidence_radius",
    "demo_regularized_plug_in",
    "demo_regularized_policy",
    "demo_regularized_ucbvi_ent",
    "kl_regularized_optimum",
    "minimax_gap",
    "minimax_losses",
    "occupancy_bounds",
    "optimal_start_value",
    "pessimistic_policy",
    "policy_features",
    "policy_optimization",
    "policy_regret",
    "preference_greedy_policy",
    "preference_mle",
    "regularized_policy_value",
    "sample_rankings",
    "split_mle",
    "split_rankings",
    "stochastic_losses",
    "trajectory_kl",
    "transition_confidence_set",
    "ucbvi",
    "uniform_offers",
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
