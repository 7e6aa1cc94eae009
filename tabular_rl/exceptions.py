"""Warning and error classes of :mod:`tabular_rl`."""

from __future__ import annotations

__all__ = ["ConvergenceError", "ConvergenceWarning", "NumericalWarning"]


class ConvergenceWarning(UserWarning):
    """A solver stopped on its iteration cap before its stopping rule was met.

    The message gives the final residual and the certified error bound, and names
    the knob to turn (``max_iter`` or ``tol``).
    """


class ConvergenceError(RuntimeError):
    """Raised instead of :class:`ConvergenceWarning` by a solver called with ``strict=True``."""


class NumericalWarning(RuntimeWarning):
    """A computation lost accuracy (overflow, ill-conditioning, an inaccurate LP solve)."""
