"""Claim modules, one per paper; importing this package registers every claim they define."""

from . import (
    foundation,
    leverage_average,
    pmd_rates,
    robust_risk,
    staq,
    tsallis_munchausen,
)

__all__ = [
    "foundation",
    "leverage_average",
    "pmd_rates",
    "robust_risk",
    "staq",
    "tsallis_munchausen",
]
