"""Top-level (picklable) cell functions for tests/test_rates_sweep.py.

They must live in an importable module so that the process-pool and dask executors can send
them to worker processes by reference.
"""

from __future__ import annotations

import time

import numpy as np


def noisy_mean(config, rng):
    """Error of the mean of ``n`` normals times ``1/(1-gamma)``, plus a vector metric."""
    x = rng.normal(size=config["n"])
    scale = 1.0 / (1.0 - config["gamma"])
    return {
        "error": scale * abs(x.mean()),
        "quantiles": np.quantile(x, [0.1, 0.5, 0.9]),
        "n_used": config["n"],
    }


def slow_noisy_mean(config, rng):
    """:func:`noisy_mean` after sleeping ``config["sleep"]`` seconds (to be killed mid-sweep)."""
    time.sleep(config["sleep"])
    return noisy_mean(config, rng)


def uniform(config, rng):
    """One uniform draw: exposes the cell's generator."""
    return {"u": rng.random()}


def shape_depends_on_n(config, rng):
    """Metric whose shape changes with the grid point (invalid)."""
    return {"v": rng.random(config["n"])}


def fails_at(config, rng):
    """Raises on the grid point ``n == config["fail_n"]``."""
    if config["n"] == config["fail_n"]:
        raise ArithmeticError(f"boom at n={config['n']}")
    return {"u": rng.random()}
