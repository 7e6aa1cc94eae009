"""Helpers shared by the rate claims: sweep plumbing (seeds per cell, executor, resumable
result paths), seed-bootstrap slopes of samples-to-epsilon curves, and axis formatting.

They were first written for :mod:`proofs_check.claims.learn_generative`; every rate claim
(generative, average reward, best of both worlds, demonstrations, preferences, feasible
sets) uses the same ones, so a sweep is stored, resumed and read the same way everywhere.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable

import numpy as np

__all__ = []


def _sweep_api():
    """``(Sweep, run_sweep)``, imported when a claim runs (not when the catalog loads)."""
    from tabular_rl.rates import Sweep, run_sweep

    return Sweep, run_sweep


def _batch(seeds: int, largest: int = 64) -> int:
    """Seeds per sweep cell: the largest power of two up to ``largest`` dividing ``seeds``
    (the learners are batched over seeds, which amortizes the per-call overhead)."""
    b = largest
    while seeds % b:
        b //= 2
    return b


def _sweep_executor(scheduler) -> dict:
    if scheduler is None:
        return {"executor": "inprocess"}
    return {"executor": "dask", "scheduler": scheduler}


@functools.lru_cache(maxsize=1)
def _code_fingerprint() -> str:
    """SHA-256 (first 12 hex digits) of the source of ``tabular_rl`` and ``proofs_check``
    (every ``.py`` file, by relative path), computed once per process."""
    import hashlib
    from pathlib import Path

    import tabular_rl

    h = hashlib.sha256()
    for pkg in (Path(tabular_rl.__file__).parent, Path(__file__).parent):
        for f in sorted(pkg.rglob("*.py")):
            h.update(f"{pkg.name}/{f.relative_to(pkg).as_posix()}".encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:12]


def _sweep_path(out_dir: str, sweep, custom: bool) -> str:
    """``out_dir/_sweeps/<name>-<hash>.npz``: the hash covers the grid, ``fixed``, seeds,
    root seed and the library's source code, so a rerun with the same settings and code
    resumes, other settings never collide, and results computed before a code change are
    never reused (they were, silently, before the source joined the key); an injected
    learner gets its own file (and is always recomputed)."""
    import hashlib
    import json

    key = json.dumps({"grid": {k: list(v) for k, v in sweep.grid.items()},
                      "fixed": sweep.fixed, "seeds": sweep.seeds, "root": sweep.root_seed,
                      "code": _code_fingerprint()},
                     sort_keys=True, default=str)
    digest = hashlib.sha256(key.encode()).hexdigest()[:10]
    tag = "-custom" if custom else ""
    return os.path.join(os.fspath(out_dir), "_sweeps", f"{sweep.name}-{digest}{tag}.npz")


def _bootstrap_slope(x: np.ndarray, fn: Callable[[np.ndarray], np.ndarray], tables,
                     n_boot: int, rng: np.random.Generator, level: float):
    r"""Slope of ``log fn(tables)`` vs ``log x`` and a percentile interval resampling seeds.

    ``tables`` is a list (one per grid point of ``x``) of ``(k, m)`` arrays; ``fn`` maps the
    list to a ``(len(x),)`` vector of positive numbers (``inf`` = not reached). Each grid
    point's seeds are resampled independently (independent experiments).
    Returns ``(slope, intercept, low, high, y, frac_unreached)``. Resamples in which some
    grid point never reaches eps have no slope; when they are more than
    :math:`(1-\text{level})/2` of all, the interval is :math:`(-\infty, \infty)` (nothing
    can be excluded), otherwise the percentiles are taken over the others.
    """
    lx = np.log(x)

    def slope_of(y):
        if not np.all(np.isfinite(y)) or np.any(y <= 0):
            return np.nan, np.nan
        a, b = np.polyfit(lx, np.log(y), 1)
        return a, b

    y = fn(tables)
    a, b = slope_of(y)
    boots = np.empty(n_boot)
    for i in range(n_boot):
        res = [t[:, rng.integers(0, t.shape[1], t.shape[1])] for t in tables]
        boots[i] = slope_of(fn(res))[0]
    unreached = float(np.mean(np.isnan(boots)))
    alpha = 1.0 - level
    if unreached > alpha / 2 or not np.isfinite(a):
        # More than a tail's worth of resamples never reach eps: no finite interval.
        lo, hi = -np.inf, np.inf
    else:
        lo, hi = np.quantile(boots[~np.isnan(boots)], [alpha / 2, 1 - alpha / 2])
    return float(a), float(b), float(lo), float(hi), y, unreached


def _plain_ticks(ax, values, fmt="{:g}") -> None:
    """Log x axis ticked at the grid values with plain labels (no overlapping minor labels)."""
    from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator

    ax.xaxis.set_major_locator(FixedLocator(list(values)))
    ax.xaxis.set_major_formatter(matplotlib_formatter(fmt))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())


def matplotlib_formatter(fmt):
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _pos: fmt.format(v))


def _legend_below(ax) -> None:
    ax.legend(fontsize=7.5, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=1,
              frameon=False)


def _crossings(n: np.ndarray, tables, eps: float) -> np.ndarray:
    r"""Samples-to-eps of the *mean* over seeds, one per ``(k, m)`` table: the first grid
    point where the mean gap is at most ``eps``, refined by log-log interpolation with the
    previous point (linear in the gap when the mean is 0 there), ``n[0]`` if already
    reached there, ``inf`` if never -- the rule of
    :func:`tabular_rl.rates.fits.samples_to_epsilon` applied to the mean (the expected
    suboptimality) instead of a quantile."""
    ln = np.log(np.asarray(n, dtype=np.float64))
    out = np.full(len(tables), np.inf)
    for j, t in enumerate(tables):
        c = np.asarray(t, dtype=np.float64).mean(axis=1)
        hit = np.flatnonzero(c <= eps)
        if hit.size == 0:
            continue
        i = int(hit[0])
        if i == 0:
            out[j] = float(n[0])
            continue
        q0, q1 = c[i - 1], c[i]
        if q1 > 0:
            w = (np.log(eps) - np.log(q0)) / (np.log(q1) - np.log(q0))
        else:
            w = (eps - q0) / (q1 - q0)
        out[j] = float(np.exp(ln[i - 1] + np.clip(w, 0.0, 1.0) * (ln[i] - ln[i - 1])))
    return out
