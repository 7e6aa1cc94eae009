"""Sweeps: a grid of configurations times seeds, run durably on any executor.

A *sweep* answers questions such as "does this learner's error fall like ``1/sqrt(n)``, as the
paper says?": it evaluates a *cell function* ``cell(config, rng) -> {metric: value}`` on every
point of a grid (e.g. sample size ``n``, number of states ``S``, effective horizon
``1/(1-gamma)``) and for ``seeds`` independent random generators per point.

Reproducibility. The cells are numbered in the canonical order

.. math::

    \\mathrm{index} = \\mathrm{ravel}(g_1, \\dots, g_d) \\cdot \\mathrm{seeds} + s,

row-major over the grid with the seed index :math:`s` fastest, and cell ``index`` draws from
``numpy.random.default_rng(SeedSequence(root_seed).spawn(n_cells)[index])``. Its output therefore
depends only on ``(cell, config, root_seed, index)``: not on the executor, the number of workers,
the order in which cells finish, or on interruptions.

Durability. Each finished cell is written at once, atomically, to a journal directory
``<path>.journal`` next to the results file (see :mod:`tabular_rl.rates.store`). Running the same
sweep again skips the finished cells; when every cell is done the consolidated results file is
written at ``path`` and the journal is removed. The results file is byte-for-byte deterministic,
so an interrupted-then-resumed sweep and an uninterrupted one produce identical files.

Examples
--------
>>> import os, tempfile
>>> import numpy as np
>>> from tabular_rl.rates.sweep import Sweep, SweepResult, run_sweep
>>> def mean_error(config, rng):
...     x = rng.normal(size=config["n"])
...     return {"error": abs(x.mean()), "sq": x.mean() ** 2}
>>> sweep = Sweep("mean", mean_error, grid={"n": [10, 10_000]}, seeds=8, root_seed=0)
>>> with tempfile.TemporaryDirectory() as tmp:
...     result = run_sweep(sweep, os.path.join(tmp, "mean.npz"), progress=False)
...     again = SweepResult.load(os.path.join(tmp, "mean.npz"))
>>> result.metrics, result.metric("error").shape, result.grid["n"].tolist()
(('error', 'sq'), (2, 8), [10, 10000])
>>> rmse = np.sqrt(result.metric("sq").mean(axis=-1))
>>> bool(rmse[1] < rmse[0] / 10)
True
>>> np.array_equal(again.metric("error"), result.metric("error"))
True
"""

from __future__ import annotations

import copy
import itertools
import json
import math
import numbers
import os
import threading
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .executors import EXECUTORS, check_transportable, iter_results, require_dask
from .store import Journal, read_npz, write_npz

__all__ = ["CellError", "Sweep", "SweepResult", "run_sweep"]

FORMAT = "tabular_rl.rates.sweep/1"
_META_KEY = "meta"
_METRIC_PREFIX = "metrics/"
#: Meta fields that identify a sweep: a stored sweep is resumed only if all of them agree.
_IDENTITY = ("format", "name", "grid", "fixed", "seeds", "root_seed", "cell",
             "tabular_rl_version")


class CellError(RuntimeError):
    """A cell function raised; the message names the cell's config and seed index.

    Attributes ``index``, ``config`` and ``seed_index`` identify the cell; the original
    exception is the ``__cause__``.
    """

    def __init__(self, message: str, *, index: int, config: dict, seed_index: int):
        super().__init__(message)
        self.index = index
        self.config = config
        self.seed_index = seed_index


def _version() -> str:
    import tabular_rl  # late: tabular_rl/__init__ may import this module

    return str(getattr(tabular_rl, "__version__", "unknown"))


def _grid_value(name: str, value: Any) -> bool | int | float | str:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    raise ValueError(f"grid[{name!r}] holds {value!r} of type {type(value).__name__}; grid values "
                     f"must be numbers, bools or strings")


def _jsonable(value: Any, where: str) -> Any:
    """``value`` as plain JSON data (numpy scalars/arrays -> Python), or ValueError."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biufU":
            raise ValueError(f"{where} is an array of dtype {value.dtype}; only numeric, bool and "
                             f"string arrays can be stored")
        value = value.tolist()
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise ValueError(f"{where} has key {k!r}; keys must be strings")
            out[k] = _jsonable(v, f"{where}[{k!r}]")
        return out
    raise ValueError(f"{where} = {value!r} (type {type(value).__name__}) cannot be recorded in "
                     f"the sweep's metadata; use numbers, strings, bools, None, lists and dicts "
                     f"of them (build heavier objects, e.g. an MDP, inside the cell function from "
                     f"such parameters)")


def _cell_name(cell: Callable) -> str:
    module = getattr(cell, "__module__", None) or "?"
    qualname = getattr(cell, "__qualname__", None) or type(cell).__qualname__
    return f"{module}:{qualname}"


@dataclass(frozen=True)
class Sweep:
    """A grid of configurations times seeds, evaluated by a cell function.

    Parameters
    ----------
    name : str
        Name of the sweep (recorded in the results' metadata).
    cell : callable
        ``cell(config: dict, rng: numpy.random.Generator) -> dict[str, float | ndarray]``.
        ``config`` holds one grid point plus ``fixed``. Every cell must return the same metric
        names with the same shapes. For ``executor="process"`` or ``"dask"`` it must be a
        top-level function of an importable module (not a lambda or a nested function).
    grid : mapping of str to sequence
        Axis name to its values (numbers, bools or strings), in axis order. An empty grid is
        a single configuration.
    seeds : int
        Independent repetitions per grid point.
    root_seed : int, default 0
        Root of the per-cell :class:`numpy.random.SeedSequence` children.
    fixed : mapping, optional
        Constants passed to every cell (JSON-like data: numbers, strings, bools, None, lists,
        dicts). Names must differ from the grid's.

    Attributes
    ----------
    shape : tuple of int
        Grid shape (one entry per axis).
    n_cells : int
        ``prod(shape) * seeds``.

    Examples
    --------
    >>> def cell(config, rng):
    ...     return {"error": rng.normal() / config["n"] ** 0.5}
    >>> sw = Sweep("demo", cell, grid={"n": [10, 100], "gamma": [0.9, 0.99]}, seeds=3,
    ...            fixed={"S": 5})
    >>> sw.shape, sw.n_cells
    ((2, 2), 12)
    >>> sw.config(7)  # cell 7 = grid point (1, 0), seed index 1
    ({'n': 100, 'gamma': 0.9, 'S': 5}, (1, 0), 1)
    """

    name: str
    cell: Callable[[dict, np.random.Generator], Mapping[str, Any]]
    grid: Mapping[str, Sequence[Any]]
    seeds: int
    root_seed: int = 0
    fixed: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name must be a non-empty string, got {self.name!r}")
        if not callable(self.cell):
            raise ValueError(f"cell must be callable, got {self.cell!r}")
        if not isinstance(self.grid, Mapping):
            raise ValueError(f"grid must be a mapping of axis name to values, got {self.grid!r}")
        grid: dict[str, tuple] = {}
        for axis, values in self.grid.items():
            if not isinstance(axis, str) or not axis:
                raise ValueError(f"grid axis names must be non-empty strings, got {axis!r}")
            values = np.asarray(values).tolist() if isinstance(values, np.ndarray) else values
            if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
                raise ValueError(f"grid[{axis!r}] must be a 1-D sequence of values, got "
                                 f"{values!r}")
            if len(values) == 0:
                raise ValueError(f"grid[{axis!r}] is empty")
            vals = tuple(_grid_value(axis, v) for v in values)
            kinds = {isinstance(v, str) for v in vals}
            if len(kinds) > 1:
                raise ValueError(f"grid[{axis!r}] = {list(vals)!r} mixes strings and numbers")
            grid[axis] = vals
        object.__setattr__(self, "grid", grid)
        if isinstance(self.seeds, bool) or not isinstance(self.seeds, numbers.Integral) \
                or self.seeds < 1:
            raise ValueError(f"seeds must be an integer >= 1, got {self.seeds!r}")
        object.__setattr__(self, "seeds", int(self.seeds))
        if isinstance(self.root_seed, bool) or not isinstance(self.root_seed, numbers.Integral) \
                or self.root_seed < 0:
            raise ValueError(f"root_seed must be an integer >= 0, got {self.root_seed!r}")
        object.__setattr__(self, "root_seed", int(self.root_seed))
        if not isinstance(self.fixed, Mapping):
            raise ValueError(f"fixed must be a mapping, got {self.fixed!r}")
        fixed = _jsonable(dict(self.fixed), "fixed")
        clash = sorted(set(fixed) & set(grid))
        if clash:
            raise ValueError(f"fixed and grid both define {clash}; a name must be in only one")
        object.__setattr__(self, "fixed", fixed)
        points = tuple(itertools.product(*(range(len(v)) for v in grid.values())))
        object.__setattr__(self, "_points", points)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(v) for v in self.grid.values())

    @property
    def n_cells(self) -> int:
        return math.prod(self.shape) * self.seeds

    def config(self, index: int) -> tuple[dict, tuple[int, ...], int]:
        """``(config, grid_index, seed_index)`` of the cell with canonical index ``index``."""
        if not 0 <= index < self.n_cells:
            raise ValueError(f"cell index {index} out of range [0, {self.n_cells})")
        point, seed_index = divmod(index, self.seeds)
        grid_index = self._points[point]
        config = {axis: values[g]
                  for (axis, values), g in zip(self.grid.items(), grid_index, strict=True)}
        config.update(copy.deepcopy(self.fixed))
        return config, grid_index, seed_index

    def meta(self) -> dict:
        """The metadata recorded with the results (JSON data)."""
        return {
            "format": FORMAT,
            "name": self.name,
            "grid": {axis: list(values) for axis, values in self.grid.items()},
            "fixed": self.fixed,
            "seeds": self.seeds,
            "root_seed": self.root_seed,
            "cell": _cell_name(self.cell),
            "tabular_rl_version": _version(),
            "created_by": "tabular_rl.rates.run_sweep",
            "cell_order": "row-major over the grid, seed index fastest",
            "seeding": "numpy.random.SeedSequence(root_seed).spawn(n_cells)[cell index]",
        }


class SweepResult:
    """The metrics of a finished sweep.

    Parameters
    ----------
    metrics : mapping of str to numpy.ndarray
        Metric name to array of shape ``(*grid_shape, seeds, *metric_shape)``.
    meta : dict
        Metadata, as written by :func:`run_sweep`.
    path : str, optional
        The file the result was read from / written to.

    Attributes
    ----------
    grid : dict of str to numpy.ndarray
        Axis name to the 1-D array of its values, in axis order.
    seeds : int
    metrics : tuple of str
        Metric names (sorted).
    meta : dict
        Sweep name, grid, fixed, seeds, root_seed, cell (``module:qualname``),
        tabular_rl_version, created_by, format, cell_order, seeding.
    shape : tuple of int
        Grid shape.

    Examples
    --------
    >>> import numpy as np
    >>> res = SweepResult({"error": np.zeros((2, 3))},
    ...                   {"grid": {"n": [10, 100]}, "seeds": 3, "name": "demo"})
    >>> res.grid, res.seeds, res.metrics, res.axis("n")
    ({'n': array([ 10, 100])}, 3, ('error',), 0)
    """

    def __init__(self, metrics: Mapping[str, np.ndarray], meta: Mapping[str, Any],
                 path: str | None = None):
        self.meta = dict(meta)
        self.path = path
        self.grid = {axis: np.asarray(values) for axis, values in self.meta["grid"].items()}
        self.seeds = int(self.meta["seeds"])
        self._metrics = {}
        for name in sorted(metrics):
            arr = np.asarray(metrics[name]).view()
            lead = (*self.shape, self.seeds)
            if arr.shape[:len(lead)] != lead:
                raise ValueError(f"metric {name!r} has shape {arr.shape}; expected it to start "
                                 f"with (*grid_shape, seeds) = {lead}")
            arr.flags.writeable = False
            self._metrics[name] = arr

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(v) for v in self.grid.values())

    @property
    def metrics(self) -> tuple[str, ...]:
        return tuple(self._metrics)

    def metric(self, name: str) -> np.ndarray:
        """Read-only array of metric ``name``, shape ``(*grid_shape, seeds, *metric_shape)``."""
        try:
            return self._metrics[name]
        except KeyError:
            raise KeyError(f"no metric {name!r}; this sweep has {list(self._metrics)}") from None

    def axis(self, name: str) -> int:
        """Position of grid axis ``name`` in the metric arrays."""
        try:
            return list(self.grid).index(name)
        except ValueError:
            raise KeyError(f"no grid axis {name!r}; axes are {list(self.grid)}") from None

    @classmethod
    def load(cls, path: str | os.PathLike) -> SweepResult:
        """Read a results file written by :func:`run_sweep` (no pickle)."""
        path = os.fspath(path)
        arrays = read_npz(path)
        if _META_KEY not in arrays:
            raise ValueError(f"{path} is not a sweep results file (no {_META_KEY!r} entry)")
        meta = json.loads(str(arrays.pop(_META_KEY)))
        metrics = {k[len(_METRIC_PREFIX):]: v for k, v in arrays.items()
                   if k.startswith(_METRIC_PREFIX)}
        return cls(metrics, meta, path=path)

    def __repr__(self) -> str:
        grid = ", ".join(f"{a}: {len(v)}" for a, v in self.grid.items())
        return (f"SweepResult(name={self.meta.get('name')!r}, grid={{{grid}}}, "
                f"seeds={self.seeds}, metrics={list(self.metrics)})")


def _identity_mismatch(stored: Mapping, current: Mapping) -> list[str]:
    diffs = []
    for key in _IDENTITY:
        a, b = stored.get(key), current.get(key)
        if key == "grid" and isinstance(a, Mapping) and isinstance(b, Mapping):
            same = list(a.items()) == list(b.items())  # axis order matters
        else:
            same = a == b
        if not same:
            diffs.append(f"{key}: stored {a!r}, now {b!r}")
    return diffs


def _check_meta(stored: Mapping, current: Mapping, where: str) -> None:
    diffs = _identity_mismatch(stored, current)
    if diffs:
        raise ValueError(f"{where} holds a different sweep ({'; '.join(diffs)}). Use another "
                         f"path, or pass overwrite=True to discard the stored results.")


def _describe(sweep: Sweep, index: int) -> str:
    config, grid_index, seed_index = sweep.config(index)
    return f"cell {index} (config={config!r}, seed index {seed_index})"


def _normalize(sweep: Sweep, index: int, out: Any) -> dict[str, np.ndarray]:
    if not isinstance(out, Mapping):
        raise TypeError(f"sweep {sweep.name!r}: {_describe(sweep, index)} returned "
                        f"{type(out).__name__}; a cell must return a dict of metric name to "
                        f"number or array")
    metrics = {}
    for name in sorted(out, key=str):
        if not isinstance(name, str) or not name or "/" in name or "\\" in name:
            raise ValueError(f"sweep {sweep.name!r}: {_describe(sweep, index)} returned metric "
                             f"name {name!r}; names must be non-empty strings without slashes")
        arr = np.asarray(out[name])
        if arr.dtype.kind not in "biufc":
            raise TypeError(f"sweep {sweep.name!r}: {_describe(sweep, index)} returned metric "
                            f"{name!r} of dtype {arr.dtype}; metrics must be numeric or bool")
        metrics[name] = arr
    if not metrics:
        raise ValueError(f"sweep {sweep.name!r}: {_describe(sweep, index)} returned no metrics")
    return metrics


def _check_spec(sweep: Sweep, index: int, metrics: Mapping[str, np.ndarray],
                reference: tuple[int, dict[str, tuple]] | None):
    """Check ``metrics`` against the reference cell's names and shapes; return the reference."""
    spec = {name: arr.shape for name, arr in metrics.items()}
    if reference is None:
        return index, spec
    ref_index, ref_spec = reference
    if set(spec) != set(ref_spec):
        raise ValueError(
            f"sweep {sweep.name!r}: {_describe(sweep, index)} returned metrics {sorted(spec)}, "
            f"but {_describe(sweep, ref_index)} returned {sorted(ref_spec)}; every cell must "
            f"return the same metrics")
    for name in spec:
        if spec[name] != ref_spec[name]:
            raise ValueError(
                f"sweep {sweep.name!r}: {_describe(sweep, index)} returned metric {name!r} with "
                f"shape {spec[name]}, but {_describe(sweep, ref_index)} returned shape "
                f"{ref_spec[name]}; a metric must have the same shape in every cell")
    return reference


def _consolidate(sweep: Sweep, journal: Journal, path: str, meta: dict) -> SweepResult:
    cells = [journal.read_cell(i) for i in range(sweep.n_cells)]
    reference = None
    for i, metrics in enumerate(cells):
        reference = _check_spec(sweep, i, metrics, reference)
    lead = (*sweep.shape, sweep.seeds)
    arrays: dict[str, np.ndarray] = {}
    for name, shape in sorted(reference[1].items()):
        dtype = np.result_type(*(c[name].dtype for c in cells))
        out = np.empty((sweep.n_cells, *shape), dtype=dtype)
        for i, c in enumerate(cells):
            out[i] = c[name]
        arrays[name] = out.reshape(*lead, *shape)
    payload = {_META_KEY: np.array(json.dumps(meta, separators=(",", ":"), ensure_ascii=True))}
    payload.update({_METRIC_PREFIX + name: arr for name, arr in arrays.items()})
    write_npz(path, payload)
    journal.clear()
    return SweepResult(arrays, meta, path=path)


def run_sweep(sweep: Sweep, path: str | os.PathLike, executor: str = "inprocess",
              workers: int | None = None, scheduler: Any = None, progress: bool = True,
              overwrite: bool = False) -> SweepResult:
    """Run every cell of ``sweep`` (skipping those already done) and write the results file.

    Parameters
    ----------
    sweep : Sweep
        What to run.
    path : str or os.PathLike
        Results file (``.npz``). Finished cells are journaled in ``<path>.journal`` while the
        sweep runs; the journal is removed once ``path`` is written.
    executor : {"inprocess", "process", "dask"}, default "inprocess"
        ``"inprocess"`` runs the cells serially here; ``"process"`` in a local
        :class:`concurrent.futures.ProcessPoolExecutor` (``workers`` processes, default
        ``os.cpu_count()``, started with ``forkserver`` where available, else ``spawn``, which
        is safe with numba threads); ``"dask"`` on dask.distributed.
    workers : int, optional
        Number of worker processes (``"process"``, or the dask ``LocalCluster``, default 2).
    scheduler : str or distributed.Client, optional
        For ``"dask"``: a scheduler address such as ``"tcp://10.0.0.1:8786"`` (or a client). When
        ``None``, a ``LocalCluster(n_workers=workers or 2, threads_per_worker=1,
        processes=True)`` is started and closed afterwards.
    progress : bool, default True
        Show a tqdm bar (cells done / total, ETA); finished cells count as done from the start.
    overwrite : bool, default False
        Discard whatever is stored at ``path`` (results file and journal, of this sweep or of a
        different one) and start afresh. Without it, a different stored sweep raises
        ``ValueError`` and this sweep's stored cells are reused.

    Returns
    -------
    SweepResult
        Metric arrays of shape ``(*grid_shape, seeds, *metric_shape)``.

    Raises
    ------
    ValueError
        Unknown executor; a cell function that cannot be sent to other processes; a stored
        sweep at ``path`` with a different name, grid, fixed, seeds, root_seed, cell or library
        version (unless ``overwrite``); a metric whose names or shape differ between cells.
    CellError
        A cell raised; the message gives its config and seed index. Cells finished before
        stay journaled, so fixing the problem and rerunning resumes.
    ImportError
        ``executor="dask"`` without dask.distributed installed.

    Notes
    -----
    The results file holds ``meta`` (JSON string) and ``metrics/<name>`` arrays, written
    without timestamps, so it is byte-identical across executors, worker counts and
    interruptions. If ``path`` already holds this sweep's results, they are loaded and returned
    without running anything. Run one sweep per ``path`` at a time.

    With ``executor="process"`` (and a ``LocalCluster``), a script must call ``run_sweep``
    under ``if __name__ == "__main__":``, because worker processes import the main module.
    The process pool uses the ``forkserver`` start method (``spawn`` where unavailable):
    ``fork`` aborts once numba's threaded code has run in the parent.

    Examples
    --------
    >>> import os, tempfile
    >>> def cell(config, rng):
    ...     return {"error": abs(rng.normal(size=config["n"]).mean())}
    >>> sweep = Sweep("demo", cell, grid={"n": [10, 1000]}, seeds=4)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     result = run_sweep(sweep, os.path.join(tmp, "demo.npz"), progress=False)
    >>> result.metric("error").shape
    (2, 4)
    """
    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; expected one of {EXECUTORS}")
    if not isinstance(sweep, Sweep):
        raise ValueError(f"sweep must be a Sweep, got {type(sweep).__name__}")
    if executor != "inprocess":
        check_transportable(sweep.cell, executor)
    if executor == "dask":
        require_dask()
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    meta = sweep.meta()
    journal = Journal.for_results(path)

    if overwrite:
        if os.path.exists(path):
            os.remove(path)
        journal.clear()
    if os.path.exists(path):
        existing = SweepResult.load(path)
        _check_meta(existing.meta, meta, path)
        journal.clear()
        return existing
    stored = journal.read_meta() if journal.exists() else None
    if stored is not None:
        _check_meta(stored, meta, journal.directory)
    journal.open(meta)

    # Cells already journaled: keep the readable ones, recompute damaged ones.
    reference = None
    done = set()
    for i in journal.done():
        if i >= sweep.n_cells:
            raise ValueError(f"{journal.directory} holds cell {i}, but the sweep has only "
                             f"{sweep.n_cells} cells")
        try:
            cell_metrics = journal.read_cell(i)
        except Exception as exc:
            warnings.warn(f"journal file of cell {i} is unreadable ({exc}); recomputing it",
                          RuntimeWarning, stacklevel=2)
            journal.discard_cell(i)
            continue
        done.add(i)
        if reference is None:
            reference = _check_spec(sweep, i, cell_metrics, None)

    from tqdm.auto import tqdm

    bar = tqdm(total=sweep.n_cells, initial=len(done), desc=sweep.name, unit="cell",
               disable=not progress, dynamic_ncols=True)
    tasks = ((i, sweep.config(i)[0]) for i in range(sweep.n_cells) if i not in done)
    stop = threading.Event()
    failure: BaseException | None = None
    results = iter_results(sweep.cell, tasks, sweep.root_seed, executor=executor,
                           workers=workers, scheduler=scheduler, stop=stop)
    try:
        for index, out, exc in results:
            if exc is None:
                try:
                    metrics = _normalize(sweep, index, out)
                    reference = _check_spec(sweep, index, metrics, reference)
                except (TypeError, ValueError) as err:
                    if failure is None:
                        failure = err  # our check of the returned metrics: already explicit
                        stop.set()
                    continue
                journal.write_cell(index, metrics)
                bar.update(1)
                continue
            if failure is None:
                config, _, seed_index = sweep.config(index)
                failure = CellError(
                    f"sweep {sweep.name!r}: cell {index} (config={config!r}, seed index "
                    f"{seed_index}) raised {type(exc).__name__}: {exc}",
                    index=index, config=config, seed_index=seed_index)
                failure.__cause__ = exc
                stop.set()
    finally:
        results.close()
        bar.close()
    if failure is not None:
        raise failure
    return _consolidate(sweep, journal, path, meta)
