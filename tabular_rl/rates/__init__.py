"""Rate experiments: sweeps that scale out and resume, slope fits with bootstrap intervals,
samples-to-epsilon estimates and verdicts.

- :mod:`~tabular_rl.rates.sweep` — a :class:`Sweep` is a grid of configurations times seeds;
  :func:`run_sweep` runs it in-process, on a local process pool or on ``dask.distributed``,
  persisting every finished cell at once so an interrupted sweep resumes where it stopped,
  and writes one deterministic results file.
- :mod:`~tabular_rl.rates.fits` — :func:`fit_slope` (log-log least squares, bootstrap over
  seeds) and :func:`samples_to_epsilon`.
- :mod:`~tabular_rl.rates.verdicts` — pass/fail helpers for an exact exponent, an upper
  bound, a bounded ratio to a stated shape, and an identity at floating-point tolerance.
"""

from .fits import SamplesToEpsilon, SlopeFit, fit_slope, samples_to_epsilon
from .sweep import CellError, Sweep, SweepResult, run_sweep
from .verdicts import (
    Verdict,
    verdict_exponent,
    verdict_identity,
    verdict_ratio_bounded,
    verdict_upper_bound,
)

__all__ = [
    "CellError",
    "SamplesToEpsilon",
    "SlopeFit",
    "Sweep",
    "SweepResult",
    "Verdict",
    "fit_slope",
    "run_sweep",
    "samples_to_epsilon",
    "verdict_exponent",
    "verdict_identity",
    "verdict_ratio_bounded",
    "verdict_upper_bound",
]
