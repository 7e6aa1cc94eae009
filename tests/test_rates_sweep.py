"""Sweep engine of tabular_rl.rates: reproducible seeding, durable resume, executors, errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from _sweep_cells import fails_at, noisy_mean, shape_depends_on_n, slow_noisy_mean, uniform

from tabular_rl.rates.store import Journal
from tabular_rl.rates.sweep import CellError, Sweep, SweepResult, run_sweep

REPO = Path(__file__).resolve().parents[1]


def _noisy_sweep(**kw):
    args = dict(name="noisy", cell=noisy_mean, grid={"n": [10, 100, 1000], "gamma": [0.9, 0.99]},
                seeds=4, root_seed=11, fixed={"S": 3})
    args.update(kw)
    return Sweep(**args)


def test_cells_use_spawned_seed_sequences_in_canonical_order(tmp_path):
    sweep = Sweep("u", uniform, grid={"a": [1, 2, 3], "b": ["x", "y"]}, seeds=4, root_seed=5)
    res = run_sweep(sweep, tmp_path / "u.npz", progress=False)
    children = np.random.SeedSequence(5).spawn(sweep.n_cells)
    expected = [np.random.default_rng(c).random() for c in children]
    assert res.metric("u").shape == (3, 2, 4)
    np.testing.assert_array_equal(res.metric("u").ravel(), expected)
    assert res.grid["a"].tolist() == [1, 2, 3] and res.grid["b"].tolist() == ["x", "y"]
    assert res.seeds == 4 and res.metrics == ("u",)
    import tabular_rl
    assert res.meta["tabular_rl_version"] == tabular_rl.__version__
    assert res.meta["cell"] == "_sweep_cells:uniform"
    assert res.meta["root_seed"] == 5 and res.meta["name"] == "u"
    assert res.meta["created_by"] == "tabular_rl.rates.run_sweep"
    # the journal is gone once the results file exists, and loading gives the same data
    assert not Journal.for_results(tmp_path / "u.npz").exists()
    again = SweepResult.load(tmp_path / "u.npz")
    np.testing.assert_array_equal(again.metric("u"), res.metric("u"))
    assert again.meta == res.meta


def test_metric_shapes_and_config(tmp_path):
    res = run_sweep(_noisy_sweep(), tmp_path / "n.npz", progress=False)
    assert res.metrics == ("error", "n_used", "quantiles")
    assert res.metric("quantiles").shape == (3, 2, 4, 3)
    assert res.metric("n_used").dtype == np.int64
    # the config a cell sees is its grid point plus `fixed`
    assert (res.metric("n_used") == np.array([10, 100, 1000])[:, None, None]).all()
    assert res.axis("gamma") == 1


def test_interrupted_then_resumed_is_bit_identical(tmp_path, capsys):
    kw = dict(name="slow", grid={"n": [10, 100], "gamma": [0.9, 0.99]}, seeds=6, root_seed=3,
              fixed={"sleep": 0.04})
    sweep = Sweep(cell=slow_noisy_mean, **kw)
    killed = tmp_path / "killed" / "r.npz"
    code = (
        "from tabular_rl.rates.sweep import Sweep, run_sweep\n"
        "from _sweep_cells import slow_noisy_mean\n"
        f"run_sweep(Sweep(cell=slow_noisy_mean, **{kw!r}), {str(killed)!r}, progress=False)\n")
    pythonpath = os.pathsep.join([str(REPO / "tests"), str(REPO),
                                  os.environ.get("PYTHONPATH", "")])
    env = dict(os.environ, PYTHONPATH=pythonpath)
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env=env)
    journal = Journal.for_results(killed)
    try:
        deadline = time.monotonic() + 60
        while len(journal.done()) < 5:
            assert proc.poll() is None, "the sweep process ended before it was killed"
            assert time.monotonic() < deadline, "no progress from the sweep process"
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert not killed.exists()
    n_done = len(journal.done())
    assert 5 <= n_done < sweep.n_cells

    resumed = run_sweep(sweep, killed, progress=True)
    assert f"{n_done}/{sweep.n_cells}" in capsys.readouterr().err  # bar starts at the done count
    straight = tmp_path / "straight.npz"
    run_sweep(sweep, straight, progress=False)
    assert killed.read_bytes() == straight.read_bytes()
    assert resumed.meta == SweepResult.load(straight).meta


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_executors_give_byte_identical_files(tmp_path):
    sweep = _noisy_sweep()
    paths = {ex: tmp_path / f"{ex}.npz" for ex in ("inprocess", "process", "dask")}
    run_sweep(sweep, paths["inprocess"], progress=False)
    run_sweep(sweep, paths["process"], executor="process", workers=2, progress=False)
    run_sweep(sweep, paths["dask"], executor="dask", workers=2, progress=False)
    ref = paths["inprocess"].read_bytes()
    assert paths["process"].read_bytes() == ref
    assert paths["dask"].read_bytes() == ref
    # rerunning a finished sweep loads the file and leaves it untouched
    mtime = paths["process"].stat().st_mtime_ns
    res = run_sweep(sweep, paths["process"], executor="process", workers=2, progress=False)
    assert paths["process"].stat().st_mtime_ns == mtime
    assert res.metric("error").shape == (3, 2, 4)


def test_metric_shape_mismatch_names_cell_and_metric(tmp_path):
    sweep = Sweep("bad", shape_depends_on_n, grid={"n": [2, 3]}, seeds=2)
    with pytest.raises(ValueError, match=r"metric 'v' with shape \(3,\).*shape \(2,\)") as err:
        run_sweep(sweep, tmp_path / "bad.npz", progress=False)
    assert "'n': 3" in str(err.value) and "seed index 0" in str(err.value)
    assert not (tmp_path / "bad.npz").exists()


def test_cell_error_names_config_and_keeps_finished_cells(tmp_path):
    sweep = Sweep("fail", fails_at, grid={"n": [10, 100, 1000]}, seeds=3, fixed={"fail_n": 100})
    path = tmp_path / "fail.npz"
    with pytest.raises(CellError, match=r"'n': 100.*seed index 0.*ArithmeticError: boom") as err:
        run_sweep(sweep, path, progress=False)
    assert isinstance(err.value.__cause__, ArithmeticError)
    assert err.value.config["n"] == 100 and err.value.seed_index == 0
    assert Journal.for_results(path).done() == [0, 1, 2]
    assert not path.exists()


def test_damaged_journal_files_are_recomputed(tmp_path):
    sweep = Sweep("fail", fails_at, grid={"n": [10, 100]}, seeds=3, fixed={"fail_n": 100})
    path = tmp_path / "d.npz"
    with pytest.raises(CellError):
        run_sweep(sweep, path, progress=False)
    journal = Journal.for_results(path)
    good = journal.read_cell(1)
    Path(journal.cell_path(1)).write_bytes(b"PK\x03\x04 truncated")  # e.g. after an OS crash
    stale = Path(journal.directory) / ".tmp-999-cell-0000000002.npz"  # left by a killed writer
    stale.write_bytes(b"partial")
    with pytest.warns(RuntimeWarning, match="cell 1 is unreadable"), pytest.raises(CellError):
        run_sweep(sweep, path, progress=False)
    assert not stale.exists()
    assert journal.done() == [0, 1, 2]
    np.testing.assert_array_equal(journal.read_cell(1)["u"], good["u"])


def test_meta_mismatch_on_resume_and_overwrite(tmp_path):
    path = tmp_path / "m.npz"
    sweep = Sweep("fail", fails_at, grid={"n": [10, 100]}, seeds=2, fixed={"fail_n": 100})
    with pytest.raises(CellError):
        run_sweep(sweep, path, progress=False)  # leaves a partial journal
    other = Sweep("fail", fails_at, grid={"n": [10, 100]}, seeds=3, fixed={"fail_n": 100})
    with pytest.raises(ValueError, match=r"different sweep.*seeds: stored 2, now 3"):
        run_sweep(other, path, progress=False)
    reseeded = Sweep("fail", fails_at, grid={"n": [10, 100]}, seeds=2, root_seed=1,
                     fixed={"fail_n": 100})
    with pytest.raises(ValueError, match="root_seed: stored 0, now 1"):
        run_sweep(reseeded, path, progress=False)
    fixed = Sweep("fail", fails_at, grid={"n": [10, 100]}, seeds=2, fixed={"fail_n": -1})
    res = run_sweep(fixed, path, progress=False, overwrite=True)
    assert res.metric("u").shape == (2, 2)
    # against a finished results file: a different grid or cell is refused too
    with pytest.raises(ValueError, match="grid: stored"):
        run_sweep(Sweep("fail", fails_at, grid={"n": [10, 200]}, seeds=2,
                        fixed={"fail_n": -1}), path, progress=False)
    with pytest.raises(ValueError, match="cell: stored '_sweep_cells:fails_at'"):
        run_sweep(Sweep("fail", uniform, grid={"n": [10, 100]}, seeds=2,
                        fixed={"fail_n": -1}), path, progress=False)


def test_bad_executor_and_non_picklable_cells(tmp_path, monkeypatch):
    sweep = _noisy_sweep()
    with pytest.raises(ValueError, match="unknown executor 'threads'"):
        run_sweep(sweep, tmp_path / "x.npz", executor="threads", progress=False)

    def local_cell(config, rng):
        return {"x": 1.0}

    for cell in (lambda config, rng: {"x": 1.0}, local_cell):
        for ex in ("process", "dask"):
            with pytest.raises(ValueError, match="must be a top-level"):
                run_sweep(_noisy_sweep(cell=cell), tmp_path / "x.npz", executor=ex,
                          progress=False)
    # ... but they are fine in-process
    res = run_sweep(_noisy_sweep(cell=local_cell), tmp_path / "x.npz", progress=False)
    assert res.metric("x").shape == (3, 2, 4)
    assert not list(tmp_path.glob("*.journal"))

    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ImportError, match=r'pip install "tabular_rl\[dist\]"'):
        run_sweep(sweep, tmp_path / "y.npz", executor="dask", progress=False)


def test_sweep_validation():
    with pytest.raises(ValueError, match="both define"):
        Sweep("s", uniform, grid={"n": [1]}, seeds=1, fixed={"n": 2})
    with pytest.raises(ValueError, match="seeds must be"):
        Sweep("s", uniform, grid={"n": [1]}, seeds=0)
    with pytest.raises(ValueError, match=r"grid\['n'\] is empty"):
        Sweep("s", uniform, grid={"n": []}, seeds=1)
    with pytest.raises(ValueError, match=r"fixed\['mdp'\].*cannot be recorded"):
        Sweep("s", uniform, grid={"n": [1]}, seeds=1, fixed={"mdp": object()})
    sw = Sweep("s", uniform, grid={"n": np.array([1, 2])}, seeds=2, fixed={"v": np.float64(0.5)})
    assert sw.config(3) == ({"n": 2, "v": 0.5}, (1,), 1)
    assert type(sw.config(3)[0]["n"]) is int
