r"""Verdicts: compare a measured rate or residual with the stated one, with the numbers.

Each function returns a :class:`Verdict` whose ``text`` carries the measured figures and
the stated ones, e.g. ``slope -0.49 [-0.53, -0.45] contains stated -0.5``, so that a
report or a figure legend can show why a claim passed or failed.

Four kinds of statement are covered:

* an exact exponent, :math:`y \asymp x^{a}` (:func:`verdict_exponent`): the stated
  :math:`a` must lie in the bootstrap interval of the measured slope;
* an upper bound, :math:`y \le C x^{a}` for large :math:`x` (:func:`verdict_upper_bound`):
  the measured slope must not be significantly *above* :math:`a`;
* a bound with its shape, :math:`y \le C\,g(x)` (:func:`verdict_ratio_bounded`): the ratio
  :math:`\bar y / g` must stay within a stated factor across the sweep;
* an identity (:func:`verdict_identity`): a residual must be at floating-point level.

The slope verdicts inherit the statistics of :func:`tabular_rl.rates.fits.fit_slope`
(seed bootstrap, percentile interval); read its module docstring for what the interval
means. In short: a verdict on a slope is a statement about the secant slope over the swept
grid, and it can be fooled by a grid that is not in the asymptotic regime; a *pass* with a
very wide interval is weak evidence, so the interval always appears in the text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from tabular_rl.rates.fits import SlopeFit, _center, _check_grid, _check_table

__all__ = ["Verdict", "verdict_exponent", "verdict_upper_bound", "verdict_ratio_bounded",
           "verdict_identity"]

#: Machine epsilon of float64 (2**-52), the unit used by :func:`verdict_identity`.
EPS_MACHINE = float(np.finfo(np.float64).eps)


@dataclass(frozen=True)
class Verdict:
    """Outcome of comparing a measurement with a statement.

    Attributes
    ----------
    passed : bool
        Whether the measurement is consistent with the statement. ``bool(verdict)`` is this.
    kind : str
        ``"exponent"``, ``"upper_bound"``, ``"ratio_bounded"`` or ``"identity"``.
    text : str
        One line with the measured and the stated numbers, without the PASS/FAIL prefix
        (``str(verdict)`` adds it).
    measured, stated : dict
        The numbers behind ``text`` (floats), for reports and JSON.

    Examples
    --------
    >>> v = verdict_identity(1e-17, scale=1.0, n_ops=10)
    >>> bool(v), v.verdict
    (True, 'pass')
    """

    passed: bool
    kind: str
    text: str
    measured: dict = field(default_factory=dict)
    stated: dict = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.passed)

    @property
    def verdict(self) -> str:
        """``"pass"`` or ``"fail"`` (the strings :class:`proofs_check.registry.Report` uses)."""
        return "pass" if self.passed else "fail"

    @property
    def label(self) -> str:
        """``"PASS: <text>"`` or ``"FAIL: <text>"``, for legends and logs."""
        return f"{'PASS' if self.passed else 'FAIL'}: {self.text}"

    def __str__(self) -> str:
        return self.label


def _fit_numbers(fit: SlopeFit) -> dict:
    x = np.asarray(fit.x, dtype=np.float64)
    return {"slope": fit.slope, "low": fit.low, "high": fit.high, "level": fit.level,
            "n_boot": fit.n_boot, "n_seeds": fit.n_seeds,
            "decades": float(np.log10(x.max() / x.min()))}


def _interval(fit: SlopeFit) -> str:
    return (f"slope {fit.slope:.3g} [{fit.low:.3g}, {fit.high:.3g}] "
            f"({100 * fit.level:g}% CI, {fit.n_seeds} seeds)")


def _check_stated(stated) -> float:
    s = float(stated)
    if not np.isfinite(s):
        raise ValueError(f"stated exponent must be finite, got {stated!r}")
    return s


def verdict_exponent(fit: SlopeFit, stated: float) -> Verdict:
    r"""Exact exponent :math:`y \asymp x^{a}`: pass iff stated :math:`a \in` [fit.low, fit.high].

    This is the two-sided test of :math:`H_0: \text{slope} = a` at level
    :math:`1-\text{fit.level}` obtained by inverting the bootstrap interval: a correct
    exponent fails with probability about :math:`1-\text{level}` (a little more with few
    seeds, see :mod:`tabular_rl.rates.fits`). A wrong exponent passes when the interval is
    too wide to exclude it -- more seeds or a longer sweep narrow it.

    Examples
    --------
    >>> import numpy as np
    >>> from tabular_rl.rates.fits import fit_slope
    >>> x = np.array([10.0, 100.0, 1000.0])
    >>> fit = fit_slope(x, x[:, None] ** -0.5 * np.ones((3, 3)), n_boot=20)
    >>> print(verdict_exponent(fit, -0.5))
    PASS: slope -0.5 [-0.5, -0.5] (95% CI, 3 seeds) contains stated -0.5
    >>> bool(verdict_exponent(fit, -1.0))
    False
    """
    a = _check_stated(stated)
    passed = bool(fit.low <= a <= fit.high)
    word = "contains" if passed else "excludes"
    return Verdict(passed=passed, kind="exponent", text=f"{_interval(fit)} {word} stated {a:g}",
                   measured=_fit_numbers(fit), stated={"slope": a})


def verdict_upper_bound(fit: SlopeFit, stated: float) -> Verdict:
    r"""Upper bound :math:`y \le C x^{a}` for large :math:`x`: pass iff ``fit.low <= stated``.

    The measured slope must not be *significantly above* the stated exponent :math:`a`:
    the one-sided test of :math:`H_0: \text{slope} \le a` rejects when the whole interval
    lies above :math:`a`, at level about :math:`(1-\text{level})/2` (2.5% for a 95% fit).
    A faster-than-stated rate passes, as an upper bound allows. The rule reads the same for
    either sign of :math:`a`: an error that should fall like :math:`n^{-1/2}`
    (``stated=-0.5``) fails when it falls significantly slower (slope above -0.5); a sample
    count that should grow like :math:`\varepsilon^{-2}`, fitted against
    :math:`1/\varepsilon` (``stated=2``), fails when it grows significantly faster.

    A pass is evidence against a *violation* only as strong as the interval is narrow: a
    short sweep or few seeds give a wide interval that passes almost anything, which is why
    the interval is printed.

    Examples
    --------
    >>> import numpy as np
    >>> from tabular_rl.rates.fits import fit_slope
    >>> x = np.array([10.0, 100.0, 1000.0])
    >>> fit = fit_slope(x, x[:, None] ** -1.0 * np.ones((3, 3)), n_boot=20)
    >>> print(verdict_upper_bound(fit, -0.5))
    PASS: slope -1 [-1, -1] (95% CI, 3 seeds) not significantly above stated -0.5
    >>> bool(verdict_upper_bound(fit, -2.0))
    False
    """
    a = _check_stated(stated)
    passed = bool(fit.low <= a)
    word = "not significantly above" if passed else "significantly above"
    text = f"{_interval(fit)} {word} stated {a:g}"
    return Verdict(passed=passed, kind="upper_bound", text=text, measured=_fit_numbers(fit),
                   stated={"slope": a})


def verdict_ratio_bounded(x, y, shape: Callable | np.ndarray, *, max_ratio: float,
                          center: str = "mean") -> Verdict:
    r"""Bound with its shape, :math:`y \le C g(x)`: :math:`\bar y / g` varies by <= ``max_ratio``.

    With :math:`\rho_i = \bar y(x_i) / g(x_i)` (center over seeds), pass iff

    .. math::

        \frac{\max_i \rho_i}{\min_i \rho_i} \le \text{max\_ratio}.

    This checks the *shape* of a bound, constants and logarithmic factors included, where a
    slope test would only see the exponent: a curve that follows :math:`g` up to a constant
    keeps :math:`\rho` flat, one that outgrows it makes :math:`\rho` drift. It has no
    bootstrap: ``max_ratio`` should be set from the statement (e.g. the slack allowed for
    pre-asymptotic effects) and well above the seed noise of the centers. The measured
    dict also holds the log-log slope of :math:`\rho` (a drift indicator).

    Parameters
    ----------
    x : array_like, shape (k,)
        Positive grid.
    y : array_like, shape (k, seeds) or (k,)
        Positive measurements.
    shape : callable or array_like
        :math:`g`, as a function of an array of ``x`` or as values on the grid; positive.
    max_ratio : float
        Allowed ``max / min`` of the ratio, >= 1.
    center : {"mean", "median", "geomean"}

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([10.0, 100.0, 1000.0])
    >>> y = 2.0 * np.log(x) / x
    >>> print(verdict_ratio_bounded(x, y, lambda t: np.log(t) / t, max_ratio=2.0))
    PASS: y/shape in [2, 2] over x in [10, 1e+03], max/min 1 <= 2
    >>> bool(verdict_ratio_bounded(x, y, lambda t: 1.0 / t, max_ratio=2.0))
    False
    """
    if center not in ("mean", "median", "geomean"):
        raise ValueError(f"center must be 'mean', 'median' or 'geomean', got {center!r}")
    if not (np.isfinite(max_ratio) and max_ratio >= 1.0):
        raise ValueError(f"max_ratio must be finite and >= 1, got {max_ratio!r}")
    x = _check_grid("x", x, increasing=False)
    y = _check_table("y", y, x.shape[0], positive=True)
    g = np.asarray(shape(x) if callable(shape) else shape, dtype=np.float64)
    if g.shape != x.shape:
        raise ValueError(f"shape must give one value per grid point, shape {x.shape}, "
                         f"got {g.shape}")
    bad = ~np.isfinite(g) | (g <= 0)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"shape(x[{i}] = {x[i]:.6g}) is {g[i]}, must be positive and finite")
    rho = _center(y, center) / g
    spread = float(rho.max() / rho.min())
    lx = np.log(x) - np.log(x).mean()
    drift = float(lx @ np.log(rho) / (lx @ lx))
    passed = bool(spread <= max_ratio)
    op = "<=" if passed else ">"
    text = (f"y/shape in [{rho.min():.3g}, {rho.max():.3g}] over x in "
            f"[{x.min():.3g}, {x.max():.3g}], max/min {spread:.3g} {op} {max_ratio:g}")
    return Verdict(passed=passed, kind="ratio_bounded", text=text,
                   measured={"ratio_min": float(rho.min()), "ratio_max": float(rho.max()),
                             "spread": spread, "ratio_slope": drift, "center": center},
                   stated={"max_ratio": float(max_ratio)})


def verdict_identity(residual, *, scale: float, n_ops: int, factor: float = 4.0) -> Verdict:
    r"""Identity at floating-point level: ``max|residual| <= factor * n_ops * eps * scale``.

    .. math::

        \max_i |r_i| \le \text{factor}\cdot n_{\text{ops}}\,\epsilon\,\text{scale}.

    :math:`\epsilon = 2^{-52}` is the float64 machine epsilon. The tolerance follows the
    standard worst-case rounding bound for sums and inner products of length :math:`n`,
    :math:`|\hat s - s| \le \gamma_n \sum_i |x_i|` with :math:`\gamma_n \approx n u`,
    :math:`u = \epsilon/2` (N. J. Higham, *Accuracy and Stability of Numerical Algorithms*,
    2nd ed., SIAM 2002, §3.1 and §4.2): ``scale`` is the magnitude of the summed terms
    (e.g. :math:`\|r\|_\infty/(1-\gamma)`), ``n_ops`` the length of the longest chain of
    dependent floating-point operations, and the default ``factor=4`` (8 unit roundoffs
    per operation) covers the few operations callers do not count (forming the
    residual, norms). It is not a knob for passing a check: an algorithm that is wrong by
    anything above round-off fails it by orders of magnitude.

    Parameters
    ----------
    residual : float or array_like
        The residual(s); the largest absolute value is tested. A NaN or infinite residual
        fails.
    scale : float
        Non-negative magnitude of the quantities involved.
    n_ops : int
        Positive operation count.
    factor : float
        Positive safety factor.

    Examples
    --------
    >>> print(verdict_identity(3e-14, scale=10.0, n_ops=100))
    PASS: max |residual| 3e-14 <= tol 8.88e-13 (4 x 100 ops x eps 2.22e-16 x scale 10)
    >>> bool(verdict_identity(1e-9, scale=10.0, n_ops=100))
    False
    """
    if not (np.isfinite(scale) and scale >= 0):
        raise ValueError(f"scale must be finite and non-negative, got {scale!r}")
    if int(n_ops) != n_ops or n_ops < 1:
        raise ValueError(f"n_ops must be a positive integer, got {n_ops!r}")
    if not (np.isfinite(factor) and factor > 0):
        raise ValueError(f"factor must be positive and finite, got {factor!r}")
    r = np.abs(np.asarray(residual, dtype=np.float64))
    if r.size == 0:
        raise ValueError("residual is empty")
    tol = float(factor * int(n_ops) * EPS_MACHINE * scale)
    finite = bool(np.isfinite(r).all())
    worst = float(r.max()) if finite else float("nan")
    if not finite:
        idx = np.unravel_index(int(np.argmax(~np.isfinite(r))), r.shape)
        where = f"[{', '.join(str(int(i)) for i in idx)}]" if r.ndim else ""
        worst = float(r[idx])
        passed = False
        text = f"residual{where} is {worst}, not finite (tol {tol:.3g})"
    else:
        passed = worst <= tol
        op = "<=" if passed else ">"
        text = (f"max |residual| {worst:.3g} {op} tol {tol:.3g} ({factor:g} x {int(n_ops)} ops "
                f"x eps {EPS_MACHINE:.3g} x scale {scale:.3g})")
    return Verdict(passed=bool(passed), kind="identity", text=text,
                   measured={"residual": worst},
                   stated={"tol": tol, "scale": float(scale), "n_ops": int(n_ops),
                           "factor": float(factor)})
