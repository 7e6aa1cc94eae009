"""Claim modules; importing this package registers every claim they define."""

from . import foundation

__all__ = ["foundation"]
