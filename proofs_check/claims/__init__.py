"""Claim modules; importing this package registers every claim they define."""

from . import foundation, leverage_average, tsallis_munchausen

__all__ = ["foundation", "leverage_average", "tsallis_munchausen"]
