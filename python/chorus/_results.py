"""chorus.Result: a results file (datasets/SCHEMA.md, "Results") as numpy arrays and data frames."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import weakref
from typing import Any, Dict, List, Optional, Union

import numpy as np
import numpy.typing as npt

from . import _core

PathLike = Union[str, "os.PathLike[str]"]
#: The data frame libraries Result can hand frames out as.
FRAME_KINDS = ("pandas", "polars", "pyarrow")


def save_copy(src: str, path: PathLike, force: bool) -> None:
    """Copy the chorus file `src` to `path`: refused when `path` exists (unless `force`), written
    through a temporary file in its folder (never half-written), with the mode a new file gets
    (mkstemp makes 0600)."""
    out = os.fspath(path)
    _core.check_output_path(out, force)
    fd, tmp = tempfile.mkstemp(prefix=".chorus-save-", dir=os.path.dirname(os.path.abspath(out)))
    os.close(fd)
    try:
        shutil.copyfile(src, tmp)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, out)
    except BaseException:
        os.unlink(tmp)
        raise


def warn_all(summary: Dict[str, Any]) -> None:
    """A job summary's warnings, as Python warnings (at the caller's caller)."""
    import warnings

    for w in summary.get("warnings", []):
        warnings.warn(f"chorus: {w}", stacklevel=3)


def _frame(columns: Dict[str, Any], kind: str) -> Any:
    """A data frame of `kind` from named numpy columns (or lists of strings)."""
    if kind == "pandas":
        import pandas as pd

        return pd.DataFrame(columns)
    if kind == "polars":
        try:
            import polars as pl
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError("frame='polars' needs polars (pip install polars)") from e
        return pl.DataFrame(columns)
    if kind == "pyarrow":
        try:
            import pyarrow as pa
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError("frame='pyarrow' needs pyarrow (pip install pyarrow)") from e
        return pa.table(columns)
    raise _core.InputError(f"frame must be one of {', '.join(FRAME_KINDS)}, not {kind!r}")


def check_frame_kind(kind: str) -> str:
    """`kind`, when it is a frame library that can be imported here."""
    if kind not in FRAME_KINDS:
        raise _core.InputError(f"frame must be one of {', '.join(FRAME_KINDS)}, not {kind!r}")
    if kind != "pandas":
        import importlib

        try:
            importlib.import_module(kind)
        except ImportError as e:
            raise ImportError(f"frame={kind!r} needs {kind} (pip install {kind})") from e
    return kind


class Result:
    """The results of :func:`chorus.detect`, or of a results file (:func:`chorus.open_results`).

    Attributes are read from the results file when first used:

    - ``labels``: int64 array [N], each account's cluster (0 is the largest), -1 without an edge.
    - ``ids``: int64 array [N], the account ids (string ids: their derived int64 ids).
    - ``edges``: one row per edge: ``src``, ``dst`` (rows, src < dst), ``src_id``, ``dst_id``,
      ``sim_embedding``, ``sim_activity`` (NaN where a view was not used) and, from co-action
      views, ``weight``, ``weight_src_dst``, ``weight_dst_src``.
    - ``clusters``: one row per cluster: ``cluster``, ``size``, ``edges``, ``density``, mean and
      minimum similarities, ``activity_synchrony`` (and truth columns on synthetic data;
      ``p_value`` and ``q_value`` with ``significance=``).
    - ``members``: one row per cluster member: ``cluster``, ``row``, ``account_id``, ``degree``
      and ``handle`` when the input has handles (from the evidence).
    - ``evidence``: the ``/evidence`` datasets by name, as numpy arrays (or lists of strings).
    - ``summary``: the run's summary (the CLI's ``--json``), or the file's root attributes.
    - ``attributes``: the results file's root attributes.

    Frames are pandas DataFrames unless ``frame="polars"`` or ``"pyarrow"`` was asked for.
    Until :meth:`save` the results live in a temporary file that goes with this object.
    """

    def __init__(self, path: str, summary: Optional[Dict[str, Any]] = None, frame: str = "pandas",
                 owned_dir: Optional[str] = None, source: Any = None) -> None:
        self._path = path
        self._source = source  # the Input it came from: its file lives as long as the results
        self._frame = check_frame_kind(frame)
        self._cache: Dict[str, Any] = {}
        self._summary = summary
        if owned_dir is not None:  # the temporary folder goes with the object
            self._finalizer = weakref.finalize(self, shutil.rmtree, owned_dir, True)

    # ---- reading ----
    def _read(self, name: str) -> Any:
        if name not in self._cache:
            self._cache[name] = _core.read_dataset(self._path, name)
        return self._cache[name]

    @property
    def path(self) -> str:
        """The results file (temporary until :meth:`save`)."""
        return self._path

    @property
    def labels(self) -> npt.NDArray[np.int64]:
        return np.asarray(self._read("/labels"), dtype=np.int64)

    @property
    def ids(self) -> npt.NDArray[np.int64]:
        return np.asarray(self._read("/accounts/id"), dtype=np.int64)

    @property
    def attributes(self) -> Dict[str, Any]:
        return dict(_core.root_attributes(self._path))

    @property
    def summary(self) -> Dict[str, Any]:
        return dict(self._summary) if self._summary is not None else self.attributes

    def _edge_columns(self) -> Dict[str, Any]:
        ids = self.ids
        src = np.asarray(self._read("/edges/src"), dtype=np.int64)
        dst = np.asarray(self._read("/edges/dst"), dtype=np.int64)
        cols: Dict[str, Any] = {"src": src, "dst": dst, "src_id": ids[src], "dst_id": ids[dst],
                                "sim_embedding": self._read("/edges/sim_embedding"),
                                "sim_activity": self._read("/edges/sim_activity")}
        for w in ("weight", "weight_src_dst", "weight_dst_src"):
            v = self._read("/edges/" + w)
            if v is not None:
                cols[w] = v
        return cols

    @property
    def edges(self) -> Any:
        return _frame(self._edge_columns(), self._frame)

    @property
    def clusters(self) -> Any:
        size = np.asarray(self._read("/clusters/size"), dtype=np.int64)
        cols: Dict[str, Any] = {"cluster": np.arange(size.size, dtype=np.int64), "size": size}
        for name in ("edges", "density", "mean_sim_embedding", "min_sim_embedding",
                     "mean_sim_activity", "min_sim_activity", "activity_synchrony", "truth_best",
                     "truth_precision", "truth_recall", "p_value", "q_value"):
            v = self._read("/clusters/" + name)
            if v is not None:
                cols[name] = v
        return _frame(cols, self._frame)

    @property
    def members(self) -> Any:
        offsets = np.asarray(self._read("/clusters/offsets"), dtype=np.int64)
        rows = np.asarray(self._read("/clusters/members"), dtype=np.int64)
        sizes = np.diff(offsets) if offsets.size else np.zeros(0, dtype=np.int64)
        cols: Dict[str, Any] = {
            "cluster": np.repeat(np.arange(sizes.size, dtype=np.int64), sizes),
            "row": rows, "account_id": self.ids[rows]}
        degree = self._read("/evidence/cluster_member_degree")
        if degree is not None:
            cols["degree"] = degree
        handles = self._read("/evidence/cluster_member_handles")
        if handles is not None:
            cols["handle"] = handles
        return _frame(cols, self._frame)

    @property
    def evidence(self) -> Dict[str, Any]:
        return {n: self._read("/evidence/" + n)
                for n in _core.group_members(self._path, "/evidence")}

    # ---- writing ----
    def save(self, path: PathLike, force: bool = False) -> None:
        """Write the results file (the same file ``chorus detect --out`` writes) to `path`.

        An existing file is refused unless `force`; the copy goes through a temporary file in
        the same folder, so `path` is never left half-written."""
        save_copy(self._path, path, force)

    def export(self, format: str, path: PathLike, min_size: int = 2, force: bool = False) -> None:
        """``chorus export``: the clusters of at least `min_size` members as GraphML, GEXF (one
        file at `path`) or CSV (a folder at `path` with clusters.csv, members.csv, edges.csv)."""
        if min_size < 1:
            raise _core.InputError(f"min_size must be >= 1, got {min_size}")
        _core.export_results(self._path, format, os.fspath(path), min_size, force)

    def report(self, path: PathLike, top: int = 10, input: Optional[PathLike] = None,
               force: bool = False) -> None:
        """``chorus report``: a self-contained HTML report (needs matplotlib and h5py)."""
        tool = os.path.join(os.path.dirname(__file__), "chorus_report.py")
        args = [sys.executable, tool, self._path, "--out", os.fspath(path), "--top", str(top)]
        if input is not None:
            args += ["--input", os.fspath(input)]
        if force:
            args.append("--force")
        run = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if run.returncode == 0:
            import warnings

            for line in run.stderr.splitlines():  # e.g. no input file: no heatmaps
                if "warning" in line:
                    warnings.warn(line.split("warning: ", 1)[-1], stacklevel=2)
        if run.returncode != 0:
            lines = [ln for ln in run.stderr.strip().splitlines() if ln.strip()]
            msg = lines[-1] if lines else f"the report tool failed (exit code {run.returncode})"
            msg = msg.split("error: ", 1)[-1] if msg.startswith("chorus") else msg
            raise (_core.InputError if run.returncode == 2 else _core.Error)(msg)

    def __repr__(self) -> str:
        s = self.summary
        return (f"<chorus.Result: {s.get('accounts', '?')} accounts, {s.get('edges', '?')} edges,"
                f" {s.get('clusters', '?')} clusters; {self._path}>")


def open_results(path: PathLike, frame: str = "pandas") -> Result:
    """Open a results file written by ``chorus detect`` (or :meth:`Result.save`)."""
    p = os.fspath(path)
    if not os.path.exists(p):
        raise _core.InputError(f"cannot open '{p}': no such file")
    if not _core.is_results_file(p):
        raise _core.InputError(f"'{p}' is not a chorus results file")
    return Result(p, None, frame)

