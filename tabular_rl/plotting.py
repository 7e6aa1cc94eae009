"""Figures for rate claims and convergence curves.

matplotlib is imported inside the functions (never at import of the library). When a
file is written and no Axes is passed, the figure is a bare :class:`matplotlib.figure.Figure`
rendered by the Agg canvas, without pyplot or any GUI backend, so the functions work on
headless machines and leave pyplot's state alone.

* :func:`plot_rate` -- a log-log rate figure: the per-seed spread as a shaded band, the
  center over seeds with markers, the fitted power law, a reference line with the stated
  slope anchored at the fit's first point, and the verdict in the legend.
* :func:`plot_curves` -- error against iteration for several methods (e.g. the
  convergence of value iteration vs. policy iteration), with a band when seeds are given.
"""

from __future__ import annotations

import os
import sys

import numpy as np

__all__ = ["plot_rate", "plot_curves"]

#: Quantiles over seeds shaded as the per-seed band.
BAND = (0.1, 0.9)
DPI = 120


def _axes(ax, path, figsize=(6.4, 4.6)):
    """Return ``(fig, ax)``: ``ax``'s figure, a bare Agg figure when writing, else pyplot's."""
    if ax is not None:
        return ax.figure, ax
    if path is not None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure(figsize=figsize)
        FigureCanvasAgg(fig)
        return fig, fig.add_subplot()
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=figsize)
    return fig, ax


def agg_subplots(nrows: int = 1, ncols: int = 1, *, figsize=None, dpi=None, layout=None,
                 constrained_layout=None, tight_layout=None, **kwargs):
    """``(fig, axes)`` like :func:`matplotlib.pyplot.subplots`, on a bare Agg canvas.

    For code that only writes files (claim checks): it never touches pyplot or the global
    backend, so running a claim inside a notebook leaves inline figures working.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if layout is None and constrained_layout:
        layout = "constrained"
    if layout is None and tight_layout:
        layout = "tight"
    fig = Figure(figsize=figsize, dpi=dpi, layout=layout)
    FigureCanvasAgg(fig)
    return fig, fig.subplots(nrows, ncols, **kwargs)


def save_figure(fig, out_dir, name: str, *, dpi: int = 110, tight: bool = False) -> str:
    """Write ``fig`` as ``out_dir/name`` (creating ``out_dir``) and return the path."""
    import os

    path = os.path.join(os.fspath(out_dir), name)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fig.savefig(path, dpi=dpi, **({"bbox_inches": "tight"} if tight else {}))
    return path


def _next_color(ax):
    """A distinct color per series drawn on ``ax`` by this module."""
    import matplotlib

    i = getattr(ax, "_tabular_rl_series", 0)
    ax._tabular_rl_series = i + 1
    cycle = matplotlib.rcParams["axes.prop_cycle"].by_key().get("color", ["C0"])
    return cycle[i % len(cycle)]


def _finish(fig, ax, path, legend="inside"):
    if legend == "below":
        # Rate figures carry long legend entries (intervals, verdicts): keep them off the
        # data, under the axes; savefig(bbox_inches="tight") makes room for them.
        n = getattr(ax, "_tabular_rl_series", 1)
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.13),
                  ncol=2 if n >= 2 else 1, frameon=False)
    elif legend:
        ax.legend(fontsize=8, loc="best", framealpha=0.85)
    if path is not None:
        d = os.path.dirname(os.fspath(path))
        if d:
            os.makedirs(d, exist_ok=True)
        fig.savefig(path, dpi=DPI, bbox_inches="tight")
        if "matplotlib.pyplot" in sys.modules:
            sys.modules["matplotlib.pyplot"].close(fig)
    return ax


def _as_table(name, x, y):
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"{name}: x must be 1-D, got shape {x.shape}")
    if y.ndim == 1:
        y = y[:, None]
    if y.ndim != 2 or y.shape[0] != x.shape[0]:
        raise ValueError(f"{name}: y must have shape ({x.shape[0]},) or ({x.shape[0]}, seeds), "
                         f"got {y.shape}")
    return x, y


def plot_rate(x, y, *, fit=None, stated_slope: float | None = None, verdict=None, ax=None,
              xlabel: str = "samples n", ylabel: str = "error", title: str | None = None,
              label: str | None = None, path=None):
    r"""Log-log rate figure of a ``(k, seeds)`` measurement with its fit and stated slope.

    Draws, in one color per series,

    * the band between the 10% and 90% quantiles over seeds (when there are >= 2 seeds);
    * the center over seeds (``fit.center`` if a fit is given, else the mean) with markers;
    * the fitted line :math:`e^{b} x^{a}` (dashed), labelled with the slope and its interval;
    * a reference line :math:`\propto x^{\text{stated}}` (dotted), anchored at the fit's
      value at the first grid point (or at the first center point without a fit), so the
      two shapes can be compared by eye;
    * the verdict (``PASS``/``FAIL`` and its numbers) as a legend entry.

    Several series may share one Axes: pass the returned ``ax`` back in; each call takes
    the next color. Give ``path`` on the last call only: the PNG is written (dpi 120) and
    the figure closed.

    Parameters
    ----------
    x : array_like, shape (k,)
        Positive grid.
    y : array_like, shape (k, seeds) or (k,)
        Positive measurements (non-positive values are dropped by the log scale).
    fit : tabular_rl.rates.fits.SlopeFit, optional
    stated_slope : float, optional
    verdict : tabular_rl.rates.verdicts.Verdict, optional
    ax : matplotlib.axes.Axes, optional
    xlabel, ylabel, title, label : str
        ``label`` names the series in the legend.
    path : str or os.PathLike, optional
        Where to write the PNG.

    Returns
    -------
    matplotlib.axes.Axes
    """
    x, y = _as_table("plot_rate", x, y)
    fig, ax = _axes(ax, path)
    color = _next_color(ax)
    order = np.argsort(x)
    xs, ys = x[order], y[order]
    name = label or ylabel
    pre = f"{label}: " if label else ""
    m = ys.shape[1]
    center = fit.center if fit is not None else "mean"
    if center == "geomean":
        with np.errstate(divide="ignore", invalid="ignore"):
            yc = np.exp(np.log(np.where(ys > 0, ys, np.nan)).mean(axis=1))
    elif center == "median":
        yc = np.median(ys, axis=1)
    else:
        yc = ys.mean(axis=1)
    if m >= 2:
        lo, hi = np.quantile(ys, BAND, axis=1)
        ax.fill_between(xs, lo, hi, color=color, alpha=0.18, linewidth=0,
                        label=f"{name}: {100 * BAND[0]:g}-{100 * BAND[1]:g}% over {m} seeds")
    ax.plot(xs, yc, "o-", color=color, lw=1.6, ms=4.5,
            label=f"{name}: {center} over seeds" if m >= 2 else name)
    xx = np.geomspace(xs[0], xs[-1], 64)
    anchor = None
    if fit is not None:
        ax.plot(xx, fit.predict(xx), "--", color=color, lw=1.4,
                label=f"{pre}fit {fit.label} ({100 * fit.level:g}%)")
        anchor = float(fit.predict(xs[0]))
    if stated_slope is not None:
        if anchor is None:
            anchor = float(yc[0])
        ax.plot(xx, anchor * (xx / xs[0]) ** float(stated_slope), ":", color=color, lw=2.2,
                alpha=0.9, label=f"{pre}stated slope {float(stated_slope):g}")
    if verdict is not None:
        ax.plot([], [], " ", label=_wrap(pre + verdict.label, 52))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title is not None:
        ax.set_title(title)
    ax.grid(True, which="major", alpha=0.35)
    ax.grid(True, which="minor", alpha=0.12)
    return _finish(fig, ax, path, legend="below")


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width=width)) or text


def plot_curves(curves: dict, *, logy: bool = True, logx: bool = False, ax=None,
                xlabel: str = "iteration", ylabel: str = "error", title: str | None = None,
                path=None):
    """Convergence curves, one per entry of ``curves``; a band over seeds when given.

    Parameters
    ----------
    curves : dict[str, tuple]
        ``name -> (x, y)`` with ``x`` of shape (k,) and ``y`` of shape (k,) or (k, seeds).
        With seeds the median is drawn and the 10-90% quantiles over seeds shaded.
    logy, logx : bool
        Log scale on the error (default) / on the iteration axis.
    ax : matplotlib.axes.Axes, optional
    xlabel, ylabel, title : str
    path : str or os.PathLike, optional
        Where to write the PNG (dpi 120); the figure is then closed.

    Returns
    -------
    matplotlib.axes.Axes

    Notes
    -----
    On a log axis, zero errors (exact convergence) cannot be drawn and are left out.
    """
    if not isinstance(curves, dict) or not curves:
        raise ValueError("curves must be a non-empty dict name -> (x, y)")
    tables = {str(k): _as_table(f"curves[{k!r}]", *v) for k, v in curves.items()}
    fig, ax = _axes(ax, path)
    many = sum(1 for _, (_, y) in tables.items()) > 8
    for name, (x, y) in tables.items():
        color = _next_color(ax)
        marker = "" if (x.shape[0] > 40 or many) else "o"
        if y.shape[1] >= 2:
            lo, hi = np.quantile(y, BAND, axis=1)
            ax.fill_between(x, lo, hi, color=color, alpha=0.18, linewidth=0)
            yc = np.median(y, axis=1)
            name = f"{name} (median, {y.shape[1]} seeds)"
        else:
            yc = y[:, 0]
        if logy:
            yc = np.where(yc > 0, yc, np.nan)
        ax.plot(x, yc, marker=marker, ms=3.5, color=color, lw=1.6, label=name)
    if logy:
        ax.set_yscale("log")
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title is not None:
        ax.set_title(title)
    ax.grid(True, which="major", alpha=0.35)
    return _finish(fig, ax, path)
