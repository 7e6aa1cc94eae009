"""Deterministic, atomic on-disk storage for sweeps: ``.npz`` files and the per-cell journal.

Two things are stored:

* the **results file**, an ``.npz`` archive written by :func:`write_npz`. Unlike
  :func:`numpy.savez` (which stamps every zip entry with the current time), the archive is a
  pure function of its arrays: entries are uncompressed, written in the given order, with a fixed
  date (1980-01-01) and fixed permissions. Writing the same arrays twice gives the same bytes.
* the **journal**, a directory ``<results file>.journal`` holding ``meta.json`` (the sweep's
  identity) and one small ``cell-<index>.npz`` per finished cell. Every file is written to a
  temporary name in the same directory and then moved into place with :func:`os.replace`, so a
  process killed at any instant leaves either the whole file or no file.

Nothing is pickled: arrays are read back with ``allow_pickle=False`` and the metadata is JSON.

Examples
--------
>>> import os, tempfile
>>> import numpy as np
>>> with tempfile.TemporaryDirectory() as tmp:
...     a, b = os.path.join(tmp, "a.npz"), os.path.join(tmp, "b.npz")
...     write_npz(a, {"x": np.arange(3.0)})
...     write_npz(b, {"x": np.arange(3.0)})
...     same = open(a, "rb").read() == open(b, "rb").read()
...     x = read_npz(a)["x"]
>>> same, x.tolist()
(True, [0.0, 1.0, 2.0])
"""

from __future__ import annotations

import io
import json
import os
import re
import zipfile
from collections.abc import Mapping

import numpy as np

__all__ = ["Journal", "read_npz", "write_json", "write_npz"]

#: Fixed timestamp of every zip entry (the earliest date the zip format can represent).
ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)
_TMP_PREFIX = ".tmp-"
_CELL_RE = re.compile(r"^cell-(\d+)\.npz$")


def _npy_bytes(array: np.ndarray) -> bytes:
    """The ``.npy`` serialisation of ``array`` (C order, native byte order, no pickle)."""
    array = np.asarray(array)
    if not array.dtype.isnative:
        array = array.astype(array.dtype.newbyteorder("="))
    if not array.flags.c_contiguous:
        array = array.copy(order="C")  # (np.ascontiguousarray would turn 0-d into 1-d)
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, allow_pickle=False)
    return buf.getvalue()


def _atomic_write(path: str, write, *, fsync: bool) -> None:
    """Call ``write(fileobj)`` on a temporary file next to ``path``, then move it into place."""
    directory, base = os.path.split(os.path.abspath(path))
    tmp = os.path.join(directory, f"{_TMP_PREFIX}{os.getpid()}-{base}")
    try:
        with open(tmp, "wb") as fh:
            write(fh)
            fh.flush()
            if fsync:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def write_npz(path: str | os.PathLike, arrays: Mapping[str, np.ndarray], *,
              fsync: bool = True) -> None:
    """Write ``arrays`` to an ``.npz`` archive at ``path``, deterministically and atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Destination file (written exactly there; no ``.npz`` suffix is appended).
    arrays : mapping of str to numpy.ndarray
        Entry name to array; entries are written in the mapping's order. Object arrays are
        refused (they would need pickle).
    fsync : bool, default True
        Flush the file to disk before moving it into place.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     write_npz(os.path.join(tmp, "r.npz"), {"m": np.ones((2, 2))})
    ...     print(sorted(np.load(os.path.join(tmp, "r.npz")).files))
    ['m']
    """
    payload = [(name, _npy_bytes(arr)) for name, arr in arrays.items()]

    def write(fh):
        with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
            for name, data in payload:
                info = zipfile.ZipInfo(name + ".npy", date_time=ZIP_DATE_TIME)
                info.compress_type = zipfile.ZIP_STORED
                info.create_system = 3
                info.external_attr = 0o644 << 16
                zf.writestr(info, data)

    _atomic_write(os.fspath(path), write, fsync=fsync)


def read_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read every array of an ``.npz`` archive into memory (``allow_pickle=False``).

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     write_npz(os.path.join(tmp, "r.npz"), {"m": np.eye(2)})
    ...     read_npz(os.path.join(tmp, "r.npz"))["m"].tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    with np.load(os.fspath(path), allow_pickle=False) as data:
        return {name: data[name] for name in data.files}


def write_json(path: str | os.PathLike, obj: object, *, fsync: bool = True) -> None:
    """Write ``obj`` as JSON (keys in insertion order, no extra whitespace), atomically."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=True).encode("ascii")
    _atomic_write(os.fspath(path), lambda fh: fh.write(text), fsync=fsync)


class Journal:
    """The crash-safe record of the finished cells of one sweep.

    Parameters
    ----------
    directory : str or os.PathLike
        The journal directory (by convention ``<results file>.journal``, see
        :meth:`for_results`).

    Notes
    -----
    Layout: ``meta.json`` (the sweep's identity, written once when the sweep starts) and
    ``cell-<index>.npz`` for each finished cell, where ``index`` is the cell's canonical index.
    Temporary files start with ``.tmp-``; they are what a killed writer leaves behind and are
    removed by :meth:`open`.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     j = Journal.for_results(os.path.join(tmp, "r.npz"))
    ...     j.open({"name": "demo"})
    ...     j.write_cell(3, {"error": np.float64(0.5)})
    ...     print(j.read_meta(), j.done(), float(j.read_cell(3)["error"]))
    ...     j.clear()
    ...     print(os.path.exists(j.directory))
    {'name': 'demo'} [3] 0.5
    False
    """

    META = "meta.json"

    def __init__(self, directory: str | os.PathLike):
        self.directory = os.fspath(directory)

    @classmethod
    def for_results(cls, path: str | os.PathLike) -> Journal:
        """The journal that belongs to the results file ``path``."""
        return cls(os.fspath(path) + ".journal")

    def exists(self) -> bool:
        """Whether the journal directory exists."""
        return os.path.isdir(self.directory)

    def cell_path(self, index: int) -> str:
        """Path of the file holding cell ``index``."""
        return os.path.join(self.directory, f"cell-{index:010d}.npz")

    def open(self, meta: Mapping) -> None:
        """Create the directory, drop stale temporary files, write ``meta`` unless present."""
        os.makedirs(self.directory, exist_ok=True)
        for name in os.listdir(self.directory):
            if name.startswith(_TMP_PREFIX):
                os.remove(os.path.join(self.directory, name))
        if not os.path.exists(os.path.join(self.directory, self.META)):
            write_json(os.path.join(self.directory, self.META), dict(meta))

    def read_meta(self) -> dict | None:
        """The stored metadata, or ``None`` when there is none yet."""
        try:
            with open(os.path.join(self.directory, self.META), encoding="ascii") as fh:
                return json.load(fh)
        except FileNotFoundError:
            return None

    def done(self) -> list[int]:
        """Sorted canonical indices of the cells whose files exist."""
        if not self.exists():
            return []
        found = (_CELL_RE.match(name) for name in os.listdir(self.directory))
        return sorted(int(m.group(1)) for m in found if m)

    def write_cell(self, index: int, metrics: Mapping[str, np.ndarray]) -> None:
        """Persist the metrics of cell ``index`` (atomic; no fsync, a killed process loses
        nothing, and a file damaged by an OS crash is detected and recomputed on resume)."""
        write_npz(self.cell_path(index), metrics, fsync=False)

    def read_cell(self, index: int) -> dict[str, np.ndarray]:
        """The metrics of cell ``index``."""
        return read_npz(self.cell_path(index))

    def discard_cell(self, index: int) -> None:
        """Remove the file of cell ``index`` (e.g. because it is unreadable)."""
        if os.path.exists(self.cell_path(index)):
            os.remove(self.cell_path(index))

    def clear(self) -> None:
        """Remove the journal's own files and then the directory (if it ends up empty)."""
        if not self.exists():
            return
        for name in os.listdir(self.directory):
            if name == self.META or name.startswith(_TMP_PREFIX) or _CELL_RE.match(name):
                os.remove(os.path.join(self.directory, name))
        try:
            os.rmdir(self.directory)
        except OSError:
            pass
