"""Where the cells of a sweep run: in-process, in a local process pool, or on dask.distributed.

Every executor runs the same top-level :func:`run_cell` on ``(index, config)`` tasks and yields
``(index, output, exception)`` triples as cells finish, in whatever order they finish. The random
generator of a cell depends only on ``(root_seed, index)``, so the outputs do not depend on the
executor or on the number of workers; the caller (:func:`tabular_rl.rates.run_sweep`) persists
them by index.

Examples
--------
>>> from tabular_rl.rates.executors import iter_results
>>> def cell(config, rng):
...     return {"x": config["a"] + rng.integers(10)}
>>> out = iter_results(cell, [(0, {"a": 1}), (1, {"a": 2})], root_seed=0, executor="inprocess")
>>> [(i, int(o["x"]), e) for i, o, e in out]
[(0, 9, None), (1, 8, None)]
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import sys
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

import numpy as np

__all__ = ["EXECUTORS", "START_METHOD", "check_transportable", "iter_results", "require_dask",
           "run_cell"]

#: Names accepted by ``run_sweep(executor=...)``.
EXECUTORS = ("inprocess", "process", "dask")

#: Start method of the local process pool. ``fork`` is unsafe once numba / OpenMP / BLAS threads
#: exist in the parent: measured with a ``numba.njit(parallel=True)`` kernel run in the parent
#: first, ``fork`` workers abort ("fork() called from a process already using GNU OpenMP, this is
#: unsafe") and the pool breaks. ``forkserver`` forks workers from a clean single-threaded server
#: process and ``spawn`` starts each worker from scratch; both work (8 numba cells, 2 workers:
#: 3.0 s with forkserver, 3.9 s with spawn, on 2 cores). forkserver is used where available.
START_METHOD = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"

_DIST_HINT = ('executor="dask" needs dask.distributed; install it with '
              'pip install "tabular_rl[dist]"')


def cell_rng(root_seed: int, index: int) -> np.random.Generator:
    """The generator of cell ``index``: child ``index`` of ``SeedSequence(root_seed).spawn(...)``.

    ``SeedSequence(root_seed).spawn(n)[i]`` has entropy ``root_seed`` and spawn key ``(i,)``;
    building it directly avoids spawning all ``n`` children in every worker.

    Examples
    --------
    >>> import numpy as np
    >>> a = cell_rng(7, 3).random()
    >>> b = np.random.default_rng(np.random.SeedSequence(7).spawn(5)[3]).random()
    >>> a == b
    True
    """
    return np.random.default_rng(np.random.SeedSequence(root_seed, spawn_key=(index,)))


def run_cell(cell: Callable, config: dict, root_seed: int, index: int):
    """Run one cell: ``cell(config, cell_rng(root_seed, index))`` (module-level, so picklable)."""
    return cell(config, cell_rng(root_seed, index))


def check_transportable(cell: Callable, executor: str) -> None:
    """Raise ``ValueError`` unless ``cell`` can be sent to another process by reference.

    Examples
    --------
    >>> check_transportable(lambda config, rng: {}, "process")
    Traceback (most recent call last):
    ...
    ValueError: executor='process' sends the cell function to other processes, so it must be a top-level (module-level) function; got <lambda> from module 'tabular_rl.rates.executors' (a lambda or a function defined inside another function). Move it to module level in an importable module, or use executor='inprocess'.
    """  # noqa: E501
    qualname = getattr(cell, "__qualname__", type(cell).__qualname__)
    module = getattr(cell, "__module__", None)
    hint = (f"executor={executor!r} sends the cell function to other processes, so it must be a "
            f"top-level (module-level) function; got {qualname} from module {module!r}")
    if "<lambda>" in qualname or "<locals>" in qualname:
        raise ValueError(f"{hint} (a lambda or a function defined inside another function). "
                         f"Move it to module level in an importable module, or use "
                         f"executor='inprocess'.")
    main = sys.modules.get("__main__")
    if executor == "process" and module == "__main__" and not getattr(main, "__file__", None):
        raise ValueError(f"{hint}, defined in an interactive session or `python -c`, which "
                         f"worker processes cannot import. Move it to a module, or use "
                         f"executor='inprocess' or 'dask'.")
    try:
        pickle.dumps(cell)
    except Exception as exc:
        raise ValueError(f"{hint}, and it cannot be pickled: {exc}. Move it to module level in "
                         f"an importable module, or use executor='inprocess'.") from exc


def require_dask():
    """Import and return ``distributed``; ``ImportError`` with the install hint if missing."""
    try:
        import distributed
    except ImportError as exc:
        raise ImportError(_DIST_HINT) from exc
    return distributed


def iter_results(cell: Callable, tasks: Iterable[tuple[int, dict]], root_seed: int, *,
                 executor: str = "inprocess", workers: int | None = None, scheduler=None,
                 stop: threading.Event | None = None,
                 ) -> Iterator[tuple[int, object, BaseException | None]]:
    """Run ``tasks`` and yield ``(index, output, exception)`` as each cell finishes.

    Parameters
    ----------
    cell : callable
        ``cell(config, rng) -> dict``.
    tasks : iterable of (int, dict)
        Canonical cell index and the config to run it with; consumed lazily (only a bounded
        number of cells is in flight at a time).
    root_seed : int
        Root of the per-cell seed sequences (see :func:`cell_rng`).
    executor : {"inprocess", "process", "dask"}
        Serial in this process; :class:`concurrent.futures.ProcessPoolExecutor` with
        ``workers`` processes (default ``os.cpu_count()``) and the :data:`START_METHOD`; or
        dask.distributed.
    workers : int, optional
        Process-pool size, or the number of workers of the dask ``LocalCluster``
        (default 2) that is started when ``scheduler`` is ``None``.
    scheduler : str or distributed.Client, optional
        Dask scheduler address (``"tcp://host:8786"``) or an existing client (left open).
    stop : threading.Event, optional
        Once set, no further cells are started; cells already running are still reported
        (process pool) or cancelled (dask).

    Yields
    ------
    index : int
    output : object or None
        What the cell returned (``None`` when it raised).
    exception : BaseException or None
        What the cell raised.
    """
    stop = stop if stop is not None else threading.Event()
    if executor == "inprocess":
        yield from _iter_inprocess(cell, tasks, root_seed, stop)
    elif executor == "process":
        yield from _iter_process(cell, tasks, root_seed, workers, stop)
    elif executor == "dask":
        yield from _iter_dask(cell, tasks, root_seed, workers, scheduler, stop)
    else:
        raise ValueError(f"unknown executor {executor!r}; expected one of {EXECUTORS}")


def _iter_inprocess(cell, tasks, root_seed, stop):
    for index, config in tasks:
        if stop.is_set():
            return
        try:
            out = run_cell(cell, config, root_seed, index)
        except Exception as exc:  # reported to the caller, which re-raises with the cell's config
            yield index, None, exc
        else:
            yield index, out, None


def _iter_process(cell, tasks, root_seed, workers, stop):
    n_workers = int(workers) if workers else (os.cpu_count() or 1)
    if n_workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    window = 2 * n_workers + 2
    ctx = multiprocessing.get_context(START_METHOD)
    tasks = iter(tasks)
    pending: dict = {}
    with ProcessPoolExecutor(max_workers=n_workers, mp_context=ctx) as pool:
        try:
            while True:
                while not stop.is_set() and len(pending) < window:
                    task = next(tasks, None)
                    if task is None:
                        break
                    index, config = task
                    pending[pool.submit(run_cell, cell, config, root_seed, index)] = index
                if not pending:
                    return
                done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
                for fut in sorted(done, key=pending.__getitem__):
                    index = pending.pop(fut)
                    exc = fut.exception()
                    if isinstance(exc, BrokenProcessPool):
                        exc = BrokenProcessPool(
                            f"{exc} (a worker process died: out of memory, a crash in native "
                            f"code, or a script that calls run_sweep without an "
                            f"`if __name__ == '__main__':` guard)")
                    yield index, (None if exc is not None else fut.result()), exc
                if stop.is_set():
                    for fut in list(pending):
                        if fut.cancel():
                            del pending[fut]
        finally:
            for fut in pending:
                fut.cancel()


def _iter_dask(cell, tasks, root_seed, workers, scheduler, stop):
    distributed = require_dask()
    cluster = None
    own_client = True
    if scheduler is None:
        cluster = distributed.LocalCluster(
            n_workers=int(workers) if workers else 2, threads_per_worker=1, processes=True,
            dashboard_address=None)
        client = distributed.Client(cluster)
    elif isinstance(scheduler, str):
        client = distributed.Client(scheduler)
    elif hasattr(scheduler, "submit"):
        client, own_client = scheduler, False
    else:
        raise ValueError(f"scheduler must be None, an address string such as 'tcp://host:8786' "
                         f"or a distributed.Client, got {scheduler!r}")
    window = 2 * max(1, sum(client.nthreads().values())) + 4
    token = uuid.uuid4().hex[:8]
    tasks = iter(tasks)
    pending: dict = {}
    try:
        def submit_more():
            while not stop.is_set() and len(pending) < window:
                task = next(tasks, None)
                if task is None:
                    return
                index, config = task
                fut = client.submit(run_cell, cell, config, root_seed, index, pure=False,
                                    key=f"tabular_rl-cell-{token}-{index}")
                pending[fut.key] = (fut, index)
                finished.add(fut)

        finished = distributed.as_completed()
        submit_more()
        for fut in finished:
            if fut.key not in pending:
                continue
            _, index = pending.pop(fut.key)
            if fut.status == "error":
                yield index, None, fut.exception()
            elif fut.status == "cancelled":
                yield index, None, RuntimeError("the dask task was cancelled")
            else:
                yield index, fut.result(), None
            fut.release()
            if stop.is_set():
                break
            submit_more()
    finally:
        if pending:
            client.cancel([fut for fut, _ in pending.values()])
        if own_client:
            client.close()
        if cluster is not None:
            cluster.close()
