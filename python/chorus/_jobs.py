"""chorus's jobs from Python: detect, ingest, generate, and inputs (chorus.Input)."""
from __future__ import annotations

import json
import numbers
import os
import shutil
import tempfile
import weakref
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np
import numpy.typing as npt

from . import _core
from ._progress import ProgressCallback, close_progress, make_progress
from ._results import PathLike, Result, check_frame_kind, save_copy, warn_all

Progress = Union[bool, ProgressCallback, None]


def _tempdir() -> str:
    return tempfile.mkdtemp(prefix="chorus-")


class Input:
    """An input: what :func:`chorus.ingest` or :func:`chorus.generate` made, or an input file
    opened with :func:`chorus.open_input` (datasets/SCHEMA.md). :func:`chorus.detect` takes it.

    Arrays are read from the file when first used: ``ids``, ``embedding``, ``activity``,
    ``handles``, ``posts`` (a pandas DataFrame of the posts chorus ingest kept). Until
    :meth:`save` an input made here lives in a temporary file that goes with this object."""

    def __init__(self, path: str, summary: Optional[Dict[str, Any]] = None,
                 owned_dir: Optional[str] = None) -> None:
        self._path = path
        self._summary = summary
        if owned_dir is not None:  # the temporary folder goes with the object (or now)
            self._finalizer = weakref.finalize(self, shutil.rmtree, owned_dir, True)
        self._info: Dict[str, Any] = _core.inspect_input(path)

    @property
    def path(self) -> str:
        """The input file (temporary until :meth:`save`)."""
        return self._path

    @property
    def summary(self) -> Dict[str, Any]:
        """What made it (chorus ingest's ``--json`` summary), or the file's layout."""
        return dict(self._summary) if self._summary is not None else dict(self._info)

    @property
    def accounts(self) -> int:
        return int(self._info["accounts"])

    def _read(self, name: str) -> Any:
        return _core.read_dataset(self._path, name)

    @property
    def ids(self) -> npt.NDArray[np.int64]:
        """Account ids (string ids: their int64 ids, datasets/SCHEMA.md)."""
        raw = self._read("/accounts/id")
        if isinstance(raw, list):
            return np.array([_core.account_id_of_string(s) for s in raw], dtype=np.int64)
        return np.asarray(raw, dtype=np.int64)

    @property
    def embedding(self) -> Optional[npt.NDArray[Any]]:
        v = self._read("/embedding")
        return None if v is None else np.asarray(v)

    @property
    def activity(self) -> Optional[npt.NDArray[Any]]:
        v = self._read("/activity")
        return None if v is None else np.asarray(v)

    @property
    def handles(self) -> Optional[List[str]]:
        v = self._read("/accounts/handle")
        return None if v is None else list(v)

    @property
    def posts(self) -> Any:
        """The posts (chorus ingest's /posts): account row, time, ids; None without posts."""
        import pandas as pd

        present = set(_core.group_members(self._path, "/posts"))
        if not present:
            return None
        return pd.DataFrame({k: self._read("/posts/" + k) for k in
                             ("account", "time", "id", "repost", "reply", "text_hash")
                             if k in present})

    def save(self, path: PathLike, force: bool = False) -> None:
        """Write the input file to `path` (refused when it exists, unless `force`)."""
        save_copy(self._path, path, force)

    def __repr__(self) -> str:
        i = self._info
        return (f"<chorus.Input: {i['accounts']} accounts, embedding dim {i['dim']},"
                f" {i['bins']} activity bins; {self._path}>")


def open_input(path: PathLike) -> Input:
    """Open an input file (``chorus generate``, ``chorus ingest`` or your own, datasets/SCHEMA.md);
    its layout is validated now."""
    return Input(os.fspath(path))


# ---- detect ----------------------------------------------------------------------------------


def _matrix(a: Any, name: str) -> Optional[npt.NDArray[Any]]:
    """float32, float64 and int32 arrays with contiguous rows as they are (no copy); other numbers
    converted once (float16 to float32; other integers and bools to float64)."""
    if a is None:
        return None
    arr = np.asarray(a)
    if arr.ndim != 2:
        raise _core.InputError(f"{name} must be a 2-D array [accounts, columns], "
                               f"got shape {arr.shape}")
    if arr.dtype.kind in "fiub" and not arr.dtype.isnative:  # big-endian: native order
        arr = arr.astype(arr.dtype.newbyteorder("="))
    if arr.dtype == np.float16:
        arr = arr.astype(np.float32)
    elif arr.dtype.kind in "iub" and arr.dtype != np.int32:
        arr = arr.astype(np.float64)
    elif arr.dtype not in (np.float32, np.float64, np.int32):
        raise _core.InputError(f"{name} must hold numbers, not {arr.dtype}")
    rows, cols = arr.shape
    item = arr.itemsize
    in_place = ((cols <= 1 or arr.strides[1] == item) and arr.strides[0] % item == 0 and
                (rows <= 1 or arr.strides[0] >= cols * item))
    if not in_place:  # columns apart, rows overlapping (broadcast), backwards or misaligned
        arr = np.ascontiguousarray(arr)
    return arr


def _ids(ids: Any, n: int) -> Dict[str, Any]:
    """ids as _core.detect takes them: int64 array, or a list of strings."""
    if ids is None:
        return {"ids": np.arange(n, dtype=np.int64), "string_ids": None}
    values = ids
    if hasattr(values, "isna") and hasattr(values, "to_numpy"):  # pandas Series / Index
        missing = np.asarray(values.isna())
        if missing.any():
            raise _core.InputError(f"ids row {int(np.argmax(missing))} is missing: every "
                                   "account needs an id")
        if getattr(values.dtype, "kind", "") in "iu":  # nullable Int64 and friends
            values = values.to_numpy(dtype="int64" if values.dtype.kind == "i" else "uint64")
    # a list keeps its items' types (numpy would turn [10, "b"] into strings)
    arr = np.asarray(values, dtype=object if isinstance(values, (list, tuple)) else None)
    if arr.ndim != 1:
        raise _core.InputError(f"ids must be 1-D, got shape {arr.shape}")
    if arr.dtype.kind in "UO":
        items = arr.tolist()
        is_int = [isinstance(x, numbers.Integral) and not isinstance(x, bool) for x in items]
        if items and all(is_int):
            lo, hi = int(np.iinfo(np.int64).min), int(np.iinfo(np.int64).max)
            row = next((i for i, x in enumerate(items) if x < lo or x > hi), None)
            if row is not None:
                raise _core.InputError(f"/accounts/id row {row} holds {items[row]}, which does "
                                       "not fit a signed 64-bit id")
            return {"ids": np.array(items, dtype=np.int64), "string_ids": None}
        bad = next((i for i, x in enumerate(items) if not isinstance(x, str)), None)
        if bad is not None:
            raise _core.InputError(f"ids row {bad} is {items[bad]!r}: give every account a "
                                   "string id, or every account an integer id")
        return {"ids": None, "string_ids": items}
    if arr.dtype.kind == "u" and arr.size and int(arr.max()) > np.iinfo(np.int64).max:
        row = int(np.argmax(arr > np.iinfo(np.int64).max))
        raise _core.InputError(f"/accounts/id row {row} holds {int(arr[row])}, which does not fit"
                               " a signed 64-bit id")
    if arr.dtype.kind not in "iu":
        raise _core.InputError(f"ids must be integers or strings, not {arr.dtype}")
    return {"ids": np.ascontiguousarray(arr, dtype=np.int64), "string_ids": None}


def _handles(handles: Any) -> List[str]:
    """Screen names as strings; a missing one (None, NaN, pandas NA) is the empty string, never
    the text "nan"."""
    import pandas as pd

    out = []
    for h in list(handles):
        if h is None or (not isinstance(h, str) and bool(pd.isna(h))):
            out.append("")
        else:
            out.append(str(h))
    return out


def _truth(truth: Any) -> npt.NDArray[np.int64]:
    """Planted cluster per account (-1: none) as int64; NaN (unlabelled) is refused."""
    t = np.asarray(truth)
    if t.ndim != 1:
        raise _core.InputError(f"truth must be 1-D, got shape {t.shape}")
    if t.dtype.kind == "f":
        if not np.all(np.isfinite(t)):
            raise _core.InputError(f"truth row {int(np.argmax(~np.isfinite(t)))} is not a "
                                   "cluster number: use -1 for accounts in no planted cluster")
        if not np.all(t == np.round(t)):
            raise _core.InputError("truth must hold whole cluster numbers")
    elif t.dtype.kind not in "iub":
        raise _core.InputError(f"truth must hold cluster numbers, not {t.dtype}")
    return np.ascontiguousarray(t, dtype=np.int64)


def detect(embedding: Any = None, activity: Any = None, ids: Any = None, *,
           input: Union[Input, PathLike, None] = None, handles: Optional[Sequence[str]] = None,
           truth: Any = None, view: Optional[str] = None, edges: Optional[str] = None,
           threshold: Optional[float] = None, threshold_activity: Optional[float] = None,
           weight: Optional[float] = None, activity_transform: Optional[str] = None,
           min_activity: Optional[float] = None, allow_empty_view: bool = False,
           window: Optional[int] = None, min_weight: Optional[int] = None,
           similarity: Optional[float] = None, evidence_cap: Optional[int] = None,
           topk: Optional[int] = None, max_edges: Optional[int] = None,
           precision: Optional[str] = None, backend: Optional[str] = None,
           threads: Optional[int] = None, max_memory: Optional[int] = None,
           write_edges: bool = True, evidence: bool = True,
           checkpoint: Optional[PathLike] = None, checkpoint_interval: Optional[float] = None,
           resume: bool = False, device: Optional[int] = None, gpu_kernel: Optional[str] = None,
           gpu_memory: Optional[int] = None, tile_rows: Optional[int] = None,
           tile_cols: Optional[int] = None, update: Union[Result, PathLike, None] = None,
           significance: Optional[int] = None, significance_seed: Optional[int] = None,
           null_period: Optional[int] = None,
           out: Optional[PathLike] = None, force: bool = False,
           frame: str = "pandas", progress: Progress = True) -> Result:
    """Find coordinated clusters: ``chorus detect`` on arrays in memory or on an input.

    Give the accounts' ``embedding`` [N, d] and/or ``activity`` [N, T] (posts per time bin) as
    numpy arrays (or anything ``numpy.asarray`` takes), with ``ids`` (N integers or strings;
    default 0..N-1) and optionally ``handles`` (N screen names) and ``truth`` (planted cluster
    per account). float32, float64 and int32 arrays whose rows are contiguous are read in place,
    without a copy; other dtypes are converted once (float16 to float32, other integers to
    float64). Or give
    ``input=``: a :class:`chorus.Input` (from :func:`chorus.ingest`, :func:`chorus.generate`,
    :func:`chorus.open_input`) or an input file's path; the co-action views (``view="co_repost"``
    and the others) and ``edges=`` expressions need one made by :func:`chorus.ingest`.

    The options are ``chorus detect``'s, by the same names (``threshold_activity`` is
    ``--threshold-activity``; ``max_memory`` and ``gpu_memory`` are MiB). One left at ``None``
    takes the CLI's default (``chorus detect --help``); one the chosen view does not use is an
    error, as in the CLI. Messages name the CLI's options (``--force`` is ``force=True``):

    - ``view``: auto (default: both when there are both views) | embedding | activity | both |
      fused, or a co-action view; or ``edges``: an expression such as
      ``"co_repost>=5 | (embedding & activity)"``.
    - ``threshold`` (embedding cosine, or the fused score; default 0.8), ``threshold_activity``
      (activity correlation; 0.8), ``weight`` (fused: the embedding's share; 0.5),
      ``activity_transform`` (none | log1p | tfidf), ``min_activity`` (posts an account needs
      for the activity view; 5), ``allow_empty_view`` (results even when no account can get an
      edge), ``topk`` (each account's k strongest edges; 0: all), ``max_edges`` (stop, with
      :class:`chorus.LimitError`, beyond this many; 2e8).
    - Co-action views: ``window`` (seconds within which two posts share an object; 60),
      ``min_weight`` (co-actions an edge needs in one direction; 1), ``similarity``
      (co_similar's Jaccard threshold; 0.9), ``evidence_cap`` (post pairs kept per edge; 20).
    - ``write_edges=False`` writes labels and clusters without /edges; ``evidence=False``
      skips /evidence. ``handles`` label members in exports and reports (a missing one is
      ""); ``truth`` (planted cluster per account, -1 for none) adds precision and recall.
      String ids become int64 ids (FNV-1a, datasets/SCHEMA.md): ``Result.ids`` holds those,
      ``Result.members["row"]`` maps back to your rows.
    - ``precision`` (auto | fp32 | bf16 | int8; results are exact for all), ``backend``
      (auto | cpu | cuda), ``threads``, ``max_memory``, ``device``, ``gpu_kernel``,
      ``gpu_memory``, ``checkpoint``, ``checkpoint_interval``, ``resume``.
    - ``update``: the :class:`chorus.Result` (or results file) of a run on an earlier version
      of the same accounts with the same parameters (``--update``): only the pairs that touch
      a new or changed account are scored, and the result equals a full run's. A result kept
      for the next update must be saved (``out=`` or :meth:`Result.save`) or kept alive.
    - ``significance``: K resamples per cluster under the view's null model (``--significance``;
      README, "Significance"): ``Result.clusters`` then has ``p_value`` and ``q_value``.
      ``significance_seed`` seeds them; ``null_period`` is the activity null's shift unit in bins
      (one day), which arrays in memory must give (a file's ``bin_seconds`` gives it otherwise).

    The arrays must not change while detect runs (other threads can run: the GIL is released).

    Returns a :class:`chorus.Result` (labels, edges, clusters, members, evidence, summary;
    ``frame="polars"`` or ``"pyarrow"`` for those frames). With ``out=`` the results file is
    written there (refused when it exists, unless ``force``); else to a temporary file that
    :meth:`Result.save` copies.

    ``progress=True`` shows a bar (tqdm's when installed); ``False`` none; a callable gets
    ``(stage, done, total)``. The GIL is released while chorus works. Ctrl-C stops the job
    within about a second and raises :class:`chorus.Interrupted`; nothing is written.

    Raises :class:`chorus.InputError` (bad input or options: the CLI's message),
    :class:`chorus.LimitError` (``max_edges``, ``max_memory``), :class:`chorus.Interrupted`,
    :class:`chorus.RuntimeFailure` (I/O, BLAS, CUDA).
    """
    frame = check_frame_kind(frame)
    opts: Dict[str, Any] = {}
    given = dict(view=view, edges=edges, threshold=threshold, threshold_activity=threshold_activity,
                 weight=weight, activity_transform=activity_transform, min_activity=min_activity,
                 window=window, min_weight=min_weight, similarity=similarity,
                 evidence_cap=evidence_cap, topk=topk, max_edges=max_edges, precision=precision,
                 backend=backend, threads=threads, max_memory=max_memory,
                 checkpoint=None if checkpoint is None else os.fspath(checkpoint),
                 checkpoint_interval=checkpoint_interval, device=device, gpu_kernel=gpu_kernel,
                 gpu_memory=gpu_memory, tile_rows=tile_rows, tile_cols=tile_cols,
                 update=None if update is None
                 else update.path if isinstance(update, Result) else os.fspath(update),
                 significance=significance, significance_seed=significance_seed,
                 null_period=null_period)
    opts.update({k: v for k, v in given.items() if v is not None})
    for flag, value, default in (("allow_empty_view", allow_empty_view, False),
                                 ("resume", resume, False), ("write_edges", write_edges, True),
                                 ("evidence", evidence, True), ("force", force, False)):
        if value != default:
            opts[flag] = value
    if isinstance(embedding, (Input, str, os.PathLike)) and input is None:
        embedding, input = None, embedding  # chorus.detect(inp) reads as chorus.detect(input=inp)
    arrays: Dict[str, Any] = {"embedding": None, "activity": None, "ids": None,
                              "string_ids": None, "handles": None, "truth": None}
    if input is not None:
        if any(x is not None for x in (embedding, activity, ids, handles, truth)):
            raise _core.InputError("give arrays (embedding, activity, ids, handles, truth) or "
                                   "input=, not both: an input file holds its own")
        path: Optional[str] = input.path if isinstance(input, Input) else os.fspath(input)
    else:
        path = None
        arrays["embedding"] = _matrix(embedding, "embedding")
        arrays["activity"] = _matrix(activity, "activity")
        shapes = [a.shape[0] for a in (arrays["embedding"], arrays["activity"]) if a is not None]
        if not shapes:
            raise _core.InputError("give an embedding and/or activity array, or input=")
        arrays.update(_ids(ids, shapes[0]))
        if handles is not None:
            arrays["handles"] = _handles(handles)
        if truth is not None:
            arrays["truth"] = _truth(truth)
    owned = None
    if out is None:
        owned = _tempdir()
        output = os.path.join(owned, "results.h5")
    else:
        output = os.fspath(out)
    bar = make_progress(progress)
    try:
        summary = json.loads(_core.detect(opts, output, path, arrays["embedding"],
                                          arrays["activity"], arrays["ids"],
                                          arrays["string_ids"], arrays["handles"],
                                          arrays["truth"], bar))
    except BaseException:
        if owned is not None:
            shutil.rmtree(owned, True)
        raise
    finally:
        close_progress(bar)
    warn_all(summary)
    return Result(output, summary, frame, owned, input if isinstance(input, Input) else None)


# ---- ingest ----------------------------------------------------------------------------------


def _integral_floats(values: npt.NDArray[Any], name: str, column: Any) -> Any:
    """A float column of whole numbers (ids with gaps: pandas reads an integer column with
    missing values as float64) as nullable integers, so that the CSV holds 123, not 123.0,
    which would be another id. Refused where float64 cannot have held the ids exactly."""
    finite = values[np.isfinite(values)]
    if finite.size == 0 or not np.all(finite == np.round(finite)):
        return column
    if column is None:  # the caller converts
        return True
    if np.abs(finite).max() >= 2.0**53:
        raise _core.InputError(
            f"column '{name}' holds whole numbers above 2^53 as float64, which cannot hold ids "
            "exactly (pandas reads an integer column with missing values as float64): read "
            f"the ids as strings (pandas.read_csv(..., dtype={{'{name}': str}}))")
    return column.astype("Int64")


def _pandas_column(col: Any, name: str) -> Any:
    """A pandas column as chorus ingest should read it from the CSV: times (with a zone) as Unix
    seconds, whole-number floats (ids with gaps) as integers."""
    dtype = col.dtype
    if str(dtype).startswith("datetime64"):
        if getattr(col.dt, "tz", None) is None:
            raise _core.InputError(
                f"column '{name}' holds times without a time zone: give them one "
                f"(df['{name}'].dt.tz_localize('UTC')) or Unix seconds")
        missing = col.isna().to_numpy()
        if missing.any():
            raise _core.InputError(f"column '{name}' row {int(np.argmax(missing))} has no time "
                                   "(NaT): drop the post or give it a time")
        import pandas as pd

        return (col - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
    if getattr(dtype, "kind", "") == "f":
        values = col.to_numpy(dtype="float64", na_value=np.nan)
        return _integral_floats(values, name, col)
    return col


def _spool_posts(posts: Any, folder: str) -> List[str]:
    """Posts as files chorus ingest reads: paths as they are, data frames spooled to a CSV."""
    if isinstance(posts, (str, os.PathLike)):
        return [os.fspath(posts)]
    if isinstance(posts, (list, tuple)) and all(isinstance(p, (str, os.PathLike)) for p in posts):
        return [os.fspath(p) for p in posts]
    csv = os.path.join(folder, "posts.csv")
    module = type(posts).__module__.split(".")[0]
    if module == "pandas":
        df = posts.copy(deep=False)
        for col in df.columns:
            df[col] = _pandas_column(df[col], str(col))
        df.to_csv(csv, index=False)
    elif module == "polars":
        import polars as pl

        frame = posts
        for col, dtype in zip(frame.columns, frame.dtypes):
            if dtype in (pl.Float32, pl.Float64):
                whole = _integral_floats(frame[col].to_numpy(), col, None)
                if whole is not None:  # whole numbers: ids with gaps
                    frame = frame.with_columns(pl.col(col).cast(pl.Int64))
            if isinstance(dtype, pl.Datetime):
                if dtype.time_zone is None:
                    raise _core.InputError(
                        f"column '{col}' holds times without a time zone: give them one "
                        f"(pl.col('{col}').dt.replace_time_zone('UTC')) or Unix seconds")
                frame = frame.with_columns(pl.col(col).dt.epoch("s"))
        frame.write_csv(csv)
    elif module == "pyarrow":
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.csv as pacsv

        table = posts
        for i, field in enumerate(table.schema):
            if pa.types.is_timestamp(field.type):
                if field.type.tz is None:
                    raise _core.InputError(
                        f"column '{field.name}' holds times without a time zone: give them one "
                        "(a timestamp type with tz='UTC') or Unix seconds")
                per_second = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[field.type.unit]
                seconds = pc.divide(pc.cast(table.column(i), pa.int64()), per_second)
                table = table.set_column(i, field.name, seconds)
        pacsv.write_csv(table, csv)
    else:
        raise _core.InputError("posts must be a pandas or polars DataFrame, a pyarrow Table, "
                               f"or file paths, not {type(posts).__name__}")
    return [csv]


def ingest(posts: Any, *, out: Optional[PathLike] = None, force: bool = False,
           format: Optional[str] = None, preset: Optional[str] = None,
           account: Optional[str] = None, handle: Optional[str] = None,
           time: Optional[str] = None, text: Optional[str] = None, id: Optional[str] = None,
           repost: Optional[str] = None, reply: Optional[str] = None,
           urls: Optional[str] = None, strict: bool = False, min_posts: Optional[int] = None,
           bin: Optional[str] = None, fold: Optional[str] = None, start: Optional[str] = None,
           end: Optional[str] = None, dim: Optional[int] = None,
           seed: Optional[int] = None, post_embeddings: Optional[PathLike] = None,
           truth: Optional[PathLike] = None, normalize: Optional[str] = None,
           threads: Optional[int] = None, max_memory: Optional[int] = None,
           progress: Progress = True) -> Input:
    """``chorus ingest``: posts in, an :class:`chorus.Input` out (activity per time bin, content
    vectors, the posts for the co-action views).

    ``posts``: a pandas or polars DataFrame, a pyarrow Table (spooled once to a temporary CSV),
    or posts files (CSV or JSON lines, plain, .gz or .zst; a path, a glob or a list). Columns
    are found as ``chorus ingest`` finds them (``preset``, default auto: QUT's toolkit, Twitter
    v1/v2, generic names) or named with ``account``, ``handle``, ``time``, ``text``, ``id``,
    ``repost``, ``reply``, ``urls``. Times in a frame must carry a time zone (or be Unix
    seconds). Read id columns as strings (``pandas.read_csv(path, dtype=str)`` for them):
    pandas reads an integer column with gaps as float64, and pandas 1.5's ``dtype="Int64"``
    also goes through float64, which loses the digits of 19-digit post ids; a float64 column
    of whole numbers beyond 2^53 is refused. The other options are ``chorus ingest``'s: ``min_posts``, ``bin`` ("1h", "15m",
    ...), ``fold`` (none | day | week), ``start``/``end`` (``--from``/``--to``), ``dim``,
    ``seed``, ``post_embeddings``, ``truth``, ``normalize``, ``threads``,
    ``max_memory`` (MiB), ``strict``, ``format``.

    With ``out=`` the input file is written there (refused when it exists, unless ``force``);
    else to a temporary file that :meth:`Input.save` copies."""
    opts: Dict[str, Any] = {}
    given = dict(format=format, preset=preset, account=account, handle=handle, time=time,
                 text=text, id=id, repost=repost, reply=reply, urls=urls, min_posts=min_posts,
                 bin=bin, fold=fold, dim=dim, seed=seed,
                 normalize=normalize, threads=threads, max_memory=max_memory)
    opts.update({k: v for k, v in given.items() if v is not None})
    if start is not None:
        opts["from"] = start
    if end is not None:
        opts["to"] = end
    for k, v in (("post_embeddings", post_embeddings), ("truth", truth)):
        if v is not None:
            opts[k] = os.fspath(v)
    if strict:
        opts["strict"] = True
    if force:
        opts["force"] = True
    folder = _tempdir()
    try:
        inputs = _spool_posts(posts, folder)
        output = os.path.join(folder, "input.h5") if out is None else os.fspath(out)
        bar = make_progress(progress)
        try:
            summary = json.loads(_core.ingest(inputs, output, opts, bar))
        except _core.Error as e:
            spooled = os.path.join(folder, "posts.csv")
            if spooled in str(e):  # name what the user gave, not the temporary CSV
                raise type(e)(str(e).replace(spooled + ":", "posts frame, as CSV, line ")
                              .replace(spooled, "posts frame")) from None
            raise
        finally:
            close_progress(bar)
    except BaseException:
        shutil.rmtree(folder, True)
        raise
    spooled = os.path.join(folder, "posts.csv")
    if os.path.exists(spooled):
        os.unlink(spooled)
    warn_all(summary)
    if out is not None:
        shutil.rmtree(folder, True)
        return Input(output, summary)
    return Input(output, summary, folder)


# ---- generate --------------------------------------------------------------------------------


def generate(out: Optional[PathLike] = None, *, accounts: int = 100000, dim: int = 384,
             bins: int = 336, clusters: int = 20, seed: int = 1, handles: bool = True,
             force: bool = False, progress: Progress = True) -> Input:
    """``chorus generate``: a synthetic input with planted coordinated clusters and decoys
    (datasets/GENERATOR.md) and its ground truth (/truth). Returns it as a :class:`chorus.Input`
    (at ``out``, or in a temporary file)."""
    folder = None if out is not None else _tempdir()
    output = os.fspath(out) if out is not None else os.path.join(str(folder), "input.h5")
    bar = make_progress(progress)
    try:
        summary = _core.generate(output, accounts, dim, bins, clusters, seed, handles, force, bar)
    except BaseException:
        if folder is not None:
            shutil.rmtree(folder, True)
        raise
    finally:
        close_progress(bar)
    return Input(output, dict(summary), folder)


def generate_posts(out: PathLike, *, accounts: int = 20000, posts_per_account: float = 20,
                   days: int = 14, campaigns: int = 10, seed: int = 1,
                   truth_out: Optional[PathLike] = None, threads: int = 0, force: bool = False,
                   progress: Progress = True) -> Dict[str, Any]:
    """``chorus generate --posts``: a synthetic posts corpus (CSV in QUT's toolkit's layout;
    .gz or .zst by name) with planted campaigns, and its truth CSV. Returns what was written
    (``posts``: the corpus's path, ``truth``: the truth CSV's, counts)."""
    bar = make_progress(progress)
    try:
        summary = dict(_core.generate_posts(os.fspath(out), accounts, float(posts_per_account),
                                            days, campaigns, seed,
                                            "" if truth_out is None else os.fspath(truth_out),
                                            threads, force, bar))
    finally:
        close_progress(bar)
    summary["posts"] = os.fspath(out)
    return summary
