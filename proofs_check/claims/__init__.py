"""Claim modules; importing this package registers every claim they define."""

from . import foundation, leverage_average, pmd_rates, staq, tsallis_munchausen

__all__ = ["foundation", "leverage_average", "pmd_rates", "staq", "tsallis_munchausen"]
