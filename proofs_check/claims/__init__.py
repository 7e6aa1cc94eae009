"""Claim modules, one per paper; importing this package registers every claim they define."""

from . import (
    feasible_reward_set,
    foundation,
    kl_bayes,
    learn_generative,
    leverage_average,
    minimax_fqi,
    nash_mirror_prox,
    pmd_rates,
    qarl,
    regularized_self_play,
    reload,
    robust_risk,
    soft_actor_critic,
    softmax_pg,
    staq,
    tsallis_munchausen,
)

__all__ = [
    "feasible_reward_set",
    "foundation",
    "kl_bayes",
    "learn_generative",
    "leverage_average",
    "minimax_fqi",
    "nash_mirror_prox",
    "pmd_rates",
    "qarl",
    "regularized_self_play",
    "reload",
    "robust_risk",
    "soft_actor_critic",
    "softmax_pg",
    "staq",
    "tsallis_munchausen",
]
