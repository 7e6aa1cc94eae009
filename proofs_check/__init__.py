"""proofs_check: paper claims as runnable checks.

Each :class:`Claim` carries its paper, its exact statement with the theorem reference and
a ``check(quick)`` that returns a :class:`Report` of measured against stated figures with a
verdict. ``python -m proofs_check list | run ID ... | run --all [--quick]``.
"""

from .registry import Claim, Paper, Report, all_claims, get, register, unregister

__all__ = ["Claim", "Paper", "Report", "all_claims", "get", "register", "unregister"]
