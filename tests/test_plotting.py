"""Tests for tabular_rl.plotting: files are written, with and without fit and verdict."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from tabular_rl.plotting import plot_curves, plot_rate  # noqa: E402
from tabular_rl.rates.fits import fit_slope  # noqa: E402
from tabular_rl.rates.verdicts import verdict_exponent, verdict_upper_bound  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _data(seed=0, slope=-0.5, k=7, seeds=20):
    rng = np.random.default_rng(seed)
    n = np.logspace(1, 4, k)
    return n, 3.0 * n[:, None] ** slope * rng.lognormal(0.0, 0.4, size=(k, seeds))


def _is_png(path):
    data = path.read_bytes()
    return len(data) > 1000 and data.startswith(PNG_MAGIC)


def test_plot_rate_full(tmp_path):
    n, y = _data()
    fit = fit_slope(n, y, n_boot=100)
    v = verdict_exponent(fit, -0.5)
    path = tmp_path / "sub" / "rate.png"
    ax = plot_rate(n, y, fit=fit, stated_slope=-0.5, verdict=v, title="demo", label="A",
                   path=path)
    assert _is_png(path)
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(lab.startswith("A: PASS: slope") for lab in labels), labels
    assert any("stated slope -0.5" in lab for lab in labels)
    assert any(fit.label in lab for lab in labels)
    # The stated line is anchored at the fit's first point.
    stated = [ln for ln in ax.get_lines() if ln.get_label() == "A: stated slope -0.5"][0]
    assert stated.get_ydata()[0] == pytest.approx(fit.predict(n[0]))


def test_plot_rate_minimal_and_one_seed(tmp_path):
    n, y = _data(seeds=1)
    path = tmp_path / "min.png"
    ax = plot_rate(n, y[:, 0], path=path)
    assert _is_png(path)
    assert len(ax.collections) == 0          # no band for a single seed
    n, y = _data()
    path2 = tmp_path / "nofit.png"
    plot_rate(n, y, stated_slope=-0.5, path=path2)
    assert _is_png(path2)


def test_plot_rate_two_series_share_axes(tmp_path):
    n, y = _data(seed=1)
    _, y2 = _data(seed=2, slope=-0.25)
    f1, f2 = fit_slope(n, y, n_boot=100), fit_slope(n, y2, n_boot=100)
    ax = plot_rate(n, y, fit=f1, stated_slope=-0.5, verdict=verdict_upper_bound(f1, -0.5),
                   label="good")
    ax = plot_rate(n, y2, fit=f2, stated_slope=-0.5, verdict=verdict_upper_bound(f2, -0.5),
                   label="broken", ax=ax, path=tmp_path / "two.png")
    assert _is_png(tmp_path / "two.png")
    colors = {ln.get_color() for ln in ax.get_lines() if ln.get_label().endswith("over seeds")}
    assert len(colors) == 2
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(lab.startswith("broken: FAIL") for lab in labels), labels


def test_plot_curves(tmp_path):
    rng = np.random.default_rng(0)
    k = np.arange(30)
    curves = {
        "VI": (k, 0.9 ** k),
        "PI": (k[:6], np.array([1.0, 0.1, 1e-4, 1e-10, 0.0, 0.0])),
        "noisy": (k, 0.95 ** k[:, None] * rng.lognormal(0, 0.3, (30, 8))),
    }
    path = tmp_path / "curves.png"
    ax = plot_curves(curves, title="convergence", path=path)
    assert _is_png(path)
    assert ax.get_yscale() == "log"
    ax2 = plot_curves({"VI": (k, 0.9 ** k)}, logy=False, path=tmp_path / "lin.png")
    assert ax2.get_yscale() == "linear" and _is_png(tmp_path / "lin.png")
    with pytest.raises(ValueError, match="non-empty"):
        plot_curves({})
    with pytest.raises(ValueError, match="y must have shape"):
        plot_curves({"bad": (k, np.ones(3))}, path=tmp_path / "bad.png")


def test_writing_does_not_touch_pyplot(tmp_path):
    """With a path and no ax the figure is a bare Agg figure: pyplot keeps no open figure."""
    import matplotlib.pyplot as plt

    before = set(plt.get_fignums())
    n, y = _data()
    plot_rate(n, y, path=tmp_path / "a.png")
    plot_curves({"a": (n, y)}, path=tmp_path / "b.png")
    assert set(plt.get_fignums()) == before
