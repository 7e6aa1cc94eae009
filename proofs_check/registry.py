r"""The claim registry: what a paper states, how to check it, and what a check reports.

A :class:`Claim` pairs a statement (with its theorem reference) with a ``check`` callable;
running it gives a :class:`Report` holding the measured figures next to the stated ones
and a verdict. Claim modules under :mod:`proofs_check.claims` register their claims at
import time with :func:`register`; :func:`get` and :func:`all_claims` import them on first
use.

The contract for ``check``: ``check(quick: bool, *, seed: int = 0, out_dir="paper_figures",
scheduler=None) -> Report``. ``quick`` selects fewer and smaller instances; ``seed`` fixes
every instance, so a report can be reproduced exactly; ``out_dir`` is where figures are
written; ``scheduler`` is a dask scheduler address for checks that run sweeps. The keyword
arguments are optional in the signature: each is passed only to checks that accept it.
A check must be able to fail: its verdict compares measured figures with stated ones at a
stated tolerance.
"""

from __future__ import annotations

import inspect
import math
import re
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

__all__ = [
    "KINDS",
    "VERDICTS",
    "Claim",
    "Paper",
    "Report",
    "all_claims",
    "get",
    "register",
    "unregister",
]

#: The kinds of claim a check can establish.
KINDS = ("identity", "inequality", "rate", "qualitative")
#: The verdicts a report can carry.
VERDICTS = ("pass", "fail", "error")

_ID = re.compile(r"^[a-z][a-z0-9_]*\.[a-z0-9][a-z0-9_.-]*$")


def _json_number(x) -> float | str:
    x = float(x)
    return x if math.isfinite(x) else str(x)


@dataclass(frozen=True, slots=True)
class Paper:
    """Bibliographic record of the paper (or book) a claim comes from."""

    title: str
    authors: str
    venue: str
    year: int

    def __str__(self) -> str:
        return f"{self.authors}, \"{self.title}\", {self.venue}, {self.year}"

    @property
    def short(self) -> str:
        """``Author year``, ``Author & Author year`` or ``Author et al. year``, for tables."""
        names = [n.strip() for n in re.split(r",\s*(?:and\s+)?|\s+and\s+", self.authors)
                 if n.strip()]
        last = [n.split()[-1] for n in names] or ["?"]
        if len(last) == 1:
            return f"{last[0]} {self.year}"
        if len(last) == 2:
            return f"{last[0]} & {last[1]} {self.year}"
        return f"{last[0]} et al. {self.year}"


@dataclass(frozen=True, slots=True)
class Report:
    """What one run of a claim's check found.

    Attributes
    ----------
    claim_id : str
    verdict : {"pass", "fail", "error"}
        ``"error"`` means the check itself raised; ``details`` then holds the traceback.
    measured : dict of str to float
        Measured figures, most important first (the CLI shows the first one).
    stated : dict of str to float or str
        The stated figure (or bound) for each measured name that has one.
    details : str
        How the verdict was reached: tolerances, the worst instance, notes.
    figures : tuple of str
        Paths of figures the check wrote.
    n_instances : int
        Number of random instances the check ran on.
    seconds : float
        Wall time of the check.
    """

    claim_id: str
    verdict: str
    measured: Mapping[str, float] = field(default_factory=dict)
    stated: Mapping[str, float | str] = field(default_factory=dict)
    details: str = ""
    figures: tuple[str, ...] = ()
    n_instances: int = 0
    seconds: float = 0.0

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"

    def to_dict(self) -> dict:
        """A JSON-serializable view (strict JSON: non-finite numbers become strings)."""
        return {
            "claim_id": self.claim_id,
            "verdict": self.verdict,
            "measured": {k: _json_number(v) for k, v in self.measured.items()},
            "stated": {k: (v if isinstance(v, str) else _json_number(v))
                       for k, v in self.stated.items()},
            "details": self.details,
            "figures": list(self.figures),
            "n_instances": self.n_instances,
            "seconds": self.seconds,
        }

    def __repr__(self) -> str:
        key = next(iter(self.measured), None)
        shown = "" if key is None else f", {key}={self.measured[key]:.3g}"
        return (f"Report({self.verdict.upper()}, {self.claim_id!r}{shown}, "
                f"n_instances={self.n_instances}, seconds={self.seconds:.2f})")


@dataclass(frozen=True, slots=True)
class Claim:
    """A checkable claim from a paper.

    Attributes
    ----------
    id : str
        Stable registry key ``area.short-name`` (e.g. ``"foundation.bellman-contraction"``).
    paper : Paper
        Where the claim is stated.
    statement : str
        The exact statement, with its theorem reference.
    kind : {"identity", "inequality", "rate", "qualitative"}
    instances : str
        A short description of the instances the check runs on.
    check : callable
        ``check(quick: bool, *, seed: int = 0) -> Report``.
    """

    id: str
    paper: Paper
    statement: str
    kind: str
    instances: str
    check: Callable[..., Report]

    def __post_init__(self) -> None:
        if not _ID.match(self.id):
            raise ValueError(f"claim id {self.id!r} is not of the form 'area.short-name' "
                             f"(lowercase, e.g. 'foundation.bellman-contraction')")
        if self.kind not in KINDS:
            raise ValueError(f"claim {self.id!r}: kind must be one of {KINDS}, "
                             f"got {self.kind!r}")
        if not callable(self.check):
            raise TypeError(f"claim {self.id!r}: check must be callable")

    def run(self, quick: bool = False, seed: int | None = None, *, out_dir=None,
            scheduler: str | None = None) -> Report:
        """Run the check, timing it; an exception becomes an ``"error"`` report, not a crash.

        ``seed``, ``out_dir`` (where figures go) and ``scheduler`` (a dask scheduler address
        for sweeps) are passed on when given and when the check accepts them.
        """
        t0 = time.perf_counter()
        try:
            given = {"seed": seed, "out_dir": None if out_dir is None else str(out_dir),
                     "scheduler": scheduler}
            kwargs = {k: v for k, v in given.items()
                      if v is not None and _accepts(self.check, k)}
            report = self.check(quick, **kwargs)
            if not isinstance(report, Report):
                raise TypeError(f"check returned {type(report).__name__}, not a Report")
        except Exception as exc:  # noqa: BLE001 - a failing check must not crash the run
            tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
            summary = "".join(tb[-3:]).strip()
            return Report(self.id, "error", details=f"{type(exc).__name__}: {exc}\n{summary}",
                          seconds=time.perf_counter() - t0)
        return replace(report, claim_id=self.id, seconds=time.perf_counter() - t0)


def _accepts(fn: Callable, name: str) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


_REGISTRY: dict[str, Claim] = {}
_LOADED = False


def register(claim: Claim, *, registry: dict[str, Claim] | None = None) -> Claim:
    """Add ``claim`` to the registry (the global one by default) and return it.

    Raises
    ------
    ValueError
        If a claim with the same id is already registered.
    """
    reg = _REGISTRY if registry is None else registry
    if not isinstance(claim, Claim):
        raise TypeError(f"register expects a Claim, got {type(claim).__name__}")
    if claim.id in reg:
        raise ValueError(f"a claim with id {claim.id!r} is already registered")
    reg[claim.id] = claim
    return claim


def unregister(claim_id: str) -> None:
    """Remove a claim from the global registry (for tests and interactive use)."""
    _REGISTRY.pop(claim_id, None)


def _ensure_loaded() -> None:
    global _LOADED
    if not _LOADED:
        from . import claims  # noqa: F401 - registers the claims on import

        _LOADED = True


def get(claim_id: str) -> Claim:
    """The registered claim with this id.

    Raises
    ------
    KeyError
        Naming the unknown id and listing the valid ones.
    """
    _ensure_loaded()
    try:
        return _REGISTRY[claim_id]
    except KeyError:
        valid = ", ".join(sorted(_REGISTRY)) or "(none)"
        raise KeyError(f"unknown claim id {claim_id!r}; valid ids: {valid}") from None


def all_claims() -> list[Claim]:
    """Every registered claim, sorted by id."""
    _ensure_loaded()
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]
