"""Testing helpers offered to users: hypothesis strategies for random models and policies."""

from . import strategies

__all__ = ["strategies"]
