"""The Python package against the chorus executable: the same results in every view and
precision, the CLI's messages for bad input, results and exports readable by the usual tools.
The reference is the CLI's own results file, read with h5py (no chorus code on that side)."""
import os
import threading
import time

import h5py
import numpy as np
import pandas as pd
import pytest

import chorus
from conftest import activity_counts, cli_error, clustered, datasets, run_cli, write_input

VIEWS = ["embedding", "activity", "both", "fused"]
PRECISIONS = ["fp32", "bf16", "int8"]


def thresholds(view):
    return {"embedding": ["--threshold", "0.8"], "activity": ["--threshold-activity", "0.7"],
            "both": ["--threshold", "0.6", "--threshold-activity", "0.6"],
            "fused": ["--threshold", "0.7", "--weight", "0.6"]}[view]


def kwargs_of(args):
    """CLI options as chorus.detect's keyword arguments."""
    out = {}
    for flag, value in zip(args[::2], args[1::2]):
        out[flag[2:].replace("-", "_")] = float(value)
    return out


def read_cli_results(path):
    with h5py.File(path, "r") as f:
        out = {k: f[k][()] for k in ("/labels", "/accounts/id", "/edges/src", "/edges/dst",
                                     "/edges/sim_embedding", "/edges/sim_activity",
                                     "/clusters/size", "/clusters/members",
                                     "/clusters/mean_sim_embedding",
                                     "/clusters/mean_sim_activity")}
        out["evidence"] = {k: f["/evidence"][k][()] for k in f["/evidence"]
                           if k != "cluster_member_handles"}
    return out


def same_float(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and np.array_equal(a.view(np.uint32 if a.dtype == np.float32
                                                         else np.uint64),
                                                  b.view(np.uint32 if b.dtype == np.float32
                                                         else np.uint64))


def expect_same_as_cli(res, ref):
    assert np.array_equal(res.labels, ref["/labels"])
    assert np.array_equal(res.ids, ref["/accounts/id"])
    e = res.edges
    assert isinstance(e, pd.DataFrame)
    assert np.array_equal(e["src"].to_numpy(), ref["/edges/src"])
    assert np.array_equal(e["dst"].to_numpy(), ref["/edges/dst"])
    assert same_float(e["sim_embedding"].to_numpy(), ref["/edges/sim_embedding"])
    assert same_float(e["sim_activity"].to_numpy(), ref["/edges/sim_activity"])
    assert np.array_equal(e["src_id"].to_numpy(), ref["/accounts/id"][ref["/edges/src"]])
    c = res.clusters
    assert np.array_equal(c["size"].to_numpy(), ref["/clusters/size"])
    assert same_float(c["mean_sim_embedding"].to_numpy(), ref["/clusters/mean_sim_embedding"])
    assert same_float(c["mean_sim_activity"].to_numpy(), ref["/clusters/mean_sim_activity"])
    assert np.array_equal(res.members["row"].to_numpy(), ref["/clusters/members"])
    ev = res.evidence
    for k, v in ref["evidence"].items():
        assert np.array_equal(np.asarray(ev[k]), v, equal_nan=v.dtype.kind == "f"), k


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("view", VIEWS)
def test_arrays_in_memory_give_the_cli_results(cli, dense_input, tmp_path, view, precision):
    ref_path = str(tmp_path / "cli.h5")
    run_cli(cli, "detect", "--input", dense_input["path"], "--out", ref_path, "--view", view,
            "--precision", precision, "--quiet", *thresholds(view))
    ref = read_cli_results(ref_path)
    assert ref["/edges/src"].size > 50, "too few edges to compare"
    res = chorus.detect(dense_input["embedding"], dense_input["activity"], dense_input["ids"],
                        handles=dense_input["handles"], view=view, precision=precision,
                        progress=False, **kwargs_of(thresholds(view)))
    expect_same_as_cli(res, ref)
    assert res.summary["edges"] == ref["/edges/src"].size
    # and on the file itself
    expect_same_as_cli(chorus.detect(input=dense_input["path"], view=view, precision=precision,
                                     progress=False, **kwargs_of(thresholds(view))), ref)


def test_saved_results_equal_the_cli_file(cli, dense_input, tmp_path):
    ref_path = str(tmp_path / "cli.h5")
    run_cli(cli, "detect", "--input", dense_input["path"], "--out", ref_path, "--view", "both",
            "--quiet", *thresholds("both"))
    res = chorus.detect(input=dense_input["path"], view="both", progress=False,
                        **kwargs_of(thresholds("both")))
    saved = str(tmp_path / "saved.h5")
    res.save(saved)
    with pytest.raises(chorus.InputError, match="exists; pass --force"):
        res.save(saved)

    a, b = datasets(ref_path), datasets(saved)
    assert sorted(a) == sorted(b)
    for k in a:
        if k.startswith("ranks/seconds") or k == "ranks/host":
            continue  # timings and host name
        if a[k].dtype.kind == "f":
            assert np.array_equal(a[k], b[k], equal_nan=True), k
        else:
            assert np.array_equal(a[k], b[k]), k
    with h5py.File(ref_path, "r") as fa, h5py.File(saved, "r") as fb:
        timing = {k for k in fa.attrs if k.startswith("seconds") or k in ("created", "host")}
        for k in fa.attrs:
            if k not in timing:
                assert str(fa.attrs[k]) == str(fb.attrs[k]), k
    # chorus.open_results reads the CLI's file the same way
    expect_same_as_cli(chorus.open_results(ref_path), read_cli_results(ref_path))


def test_other_dtypes_and_layouts_give_the_same_results(dense_input):
    emb, act, ids = dense_input["embedding"], dense_input["activity"], dense_input["ids"]
    base = chorus.detect(emb, act, ids, view="both", progress=False, **kwargs_of(thresholds("both")))
    padded = np.zeros((emb.shape[0], emb.shape[1] + 5), dtype=np.float32)
    padded[:, :emb.shape[1]] = emb
    for e, a in ((np.asfortranarray(emb), act.astype(np.float64)),
                 (padded[:, :emb.shape[1]], act.astype(np.int64)),
                 (emb.astype(np.float16).astype(np.float32), list(act))):
        res = chorus.detect(e, a, ids, view="both", progress=False,
                            **kwargs_of(thresholds("both")))
        if e.dtype == np.float32 and np.array_equal(e, emb):
            assert np.array_equal(res.labels, base.labels)
            assert res.edges.equals(base.edges)
        else:
            assert res.summary["edges"] > 0


def test_string_ids_and_handles(dense_input):
    n = len(dense_input["ids"])
    names = [f"user-{i}" for i in range(n)]
    res = chorus.detect(dense_input["embedding"], ids=names, handles=dense_input["handles"],
                        view="embedding", threshold=0.8, progress=False)
    hashed = np.array([chorus._core.account_id_of_string(s) for s in names])
    assert np.array_equal(res.ids, hashed)
    m = res.members
    assert list(m["handle"][:3]) == [dense_input["handles"][r] for r in m["row"][:3]]


def test_frames_on_request(dense_input):
    pl = pytest.importorskip("polars")
    pa = pytest.importorskip("pyarrow")
    res = chorus.detect(dense_input["embedding"], ids=dense_input["ids"], view="embedding",
                        threshold=0.8, frame="polars", progress=False)
    assert isinstance(res.edges, pl.DataFrame)
    assert res.edges.height == res.summary["edges"]
    again = chorus.open_results(res.path, frame="pyarrow")
    assert isinstance(again.clusters, pa.Table)
    assert again.edges.num_rows == res.summary["edges"]
    with pytest.raises(chorus.InputError, match="frame must be one of"):
        chorus.open_results(res.path, frame="excel")


# ---- bad input: the CLI's messages, as typed exceptions ----------------------------------------


def bad_files(d):
    """name -> (path, extra CLI options) of inputs the CLI refuses."""
    ids = np.arange(40, dtype=np.int64)
    emb = clustered(40, 6, 3).astype(np.float32)
    act = activity_counts(40, 12, 4)
    files = {}

    def put(name, **datasets):
        p = str(d / f"{name}.h5")
        with h5py.File(p, "w") as f:
            for k, v in datasets.items():
                f[k.replace("__", "/")] = v
        files[name] = p

    put("no_ids", embedding=emb)
    put("no_view", accounts__id=ids)
    put("wrong_rank", accounts__id=ids, embedding=emb[:, 0])
    put("length_mismatch", accounts__id=ids[:30], embedding=emb)
    put("int_embedding", accounts__id=ids, embedding=emb.astype(np.int32))
    nan = emb.copy()
    nan[17, 2] = np.nan
    put("nan_row", accounts__id=ids, embedding=nan)
    inf = act.astype(np.float32)
    inf[5, 1] = np.inf
    put("inf_activity", accounts__id=ids, activity=inf)
    dup = ids.copy()
    dup[21] = 4
    put("duplicate_ids", accounts__id=dup, embedding=emb)
    put("good", accounts__id=ids, embedding=emb, activity=act)
    with open(d / "text.h5", "w") as f:
        f.write("not hdf5\n")
    files["not_hdf5"] = str(d / "text.h5")
    open(d / "empty.h5", "w").close()
    files["empty_file"] = str(d / "empty.h5")
    files["missing"] = str(d / "nope.h5")
    return files


OPTION_MISTAKES = [
    ("threshold_out_of_range", {"threshold": 1.5}),
    ("activity_threshold_out_of_range", {"threshold_activity": -2.0}),
    ("threshold_the_view_ignores", {"view": "embedding", "threshold_activity": 0.5}),
    ("content_threshold_on_activity_view", {"view": "activity", "threshold": 0.5}),
    ("weight_without_fused", {"view": "both", "weight": 0.5}),
    ("unknown_view", {"view": "content"}),
    ("unknown_precision", {"precision": "fp8"}),
    ("coaction_option_on_dense_view", {"view": "embedding", "window": 30}),
    ("view_needs_missing_data", {"view": "both", "edges": None}),
    ("max_edges", {"view": "embedding", "threshold": -1.0, "max_edges": 10}),
    ("tile_cols", {"tile_rows": 100, "tile_cols": 150}),
]


def cli_args_of(kwargs):
    args = []
    for k, v in kwargs.items():
        if v is None:
            continue
        args += ["--" + k.replace("_", "-"), str(v)]
    return args


@pytest.mark.parametrize("case", ["no_ids", "no_view", "wrong_rank", "length_mismatch",
                                  "int_embedding", "nan_row", "inf_activity", "duplicate_ids",
                                  "not_hdf5", "empty_file", "missing"])
def test_bad_input_files_raise_the_cli_message(cli, tmp_path, case):
    path = bad_files(tmp_path)[case]
    view = "activity" if case == "inf_activity" else "embedding"
    msg, code = cli_error(cli, "detect", "--input", path, "--out", str(tmp_path / "r.h5"),
                          "--view", view)
    assert code == 2
    with pytest.raises(chorus.InputError) as e:
        chorus.detect(input=path, view=view, progress=False)
    assert str(e.value) == msg
    assert e.value.exit_code == 2
    assert isinstance(e.value, chorus.Error)
    assert not os.path.exists(tmp_path / "r.h5")


@pytest.mark.parametrize("case,kwargs", OPTION_MISTAKES, ids=[c for c, _ in OPTION_MISTAKES])
def test_option_mistakes_raise_the_cli_message(cli, tmp_path, case, kwargs):
    files = bad_files(tmp_path)
    path = files["good"]
    if case == "view_needs_missing_data":
        with h5py.File(tmp_path / "emb_only.h5", "w") as f:
            f["/accounts/id"] = np.arange(40)
            f["/embedding"] = clustered(40, 6, 3).astype(np.float32)
        path = str(tmp_path / "emb_only.h5")
    msg, code = cli_error(cli, "detect", "--input", path, "--out", str(tmp_path / "r.h5"),
                          *cli_args_of(kwargs))
    expected = chorus.LimitError if code == 3 else chorus.InputError
    with pytest.raises(expected) as e:
        chorus.detect(input=path, progress=False, **{k: v for k, v in kwargs.items()
                                                     if v is not None})
    assert str(e.value) == msg
    assert e.value.exit_code == code


def test_array_mistakes_are_refused_as_the_file_would_be(cli, tmp_path):
    n = 40
    emb = clustered(n, 6, 3).astype(np.float32)
    ids = np.arange(n, dtype=np.int64)
    dup = ids.copy()
    dup[21] = 4
    write_input(str(tmp_path / "dup.h5"), dup, emb)
    msg, _ = cli_error(cli, "detect", "--input", str(tmp_path / "dup.h5"), "--out",
                       str(tmp_path / "r.h5"))
    with pytest.raises(chorus.InputError) as e:
        chorus.detect(emb, ids=dup, progress=False)
    assert str(e.value) == msg
    nan = emb.copy()
    nan[17, 2] = np.nan
    write_input(str(tmp_path / "nan.h5"), ids, nan)
    msg, _ = cli_error(cli, "detect", "--input", str(tmp_path / "nan.h5"), "--out",
                       str(tmp_path / "r.h5"))
    with pytest.raises(chorus.InputError) as e:
        chorus.detect(nan, ids=ids, progress=False)
    assert str(e.value) == msg
    with pytest.raises(chorus.InputError, match="embedding has 40 rows but there are 39"):
        chorus.detect(emb, ids=ids[:39], progress=False)
    with pytest.raises(chorus.InputError, match="must be a 2-D array"):
        chorus.detect(emb[:, 0], progress=False)
    with pytest.raises(chorus.InputError, match="must hold numbers"):
        chorus.detect(emb.astype(str), progress=False)
    with pytest.raises(chorus.InputError, match="give an embedding and/or activity"):
        chorus.detect(progress=False)
    with pytest.raises(chorus.InputError, match="co-action views and --edges need posts"):
        chorus.detect(emb, view="co_repost", progress=False)
    with pytest.raises(chorus.InputError, match="does not fit a signed 64-bit id"):
        chorus.detect(emb, ids=np.arange(n, dtype=np.uint64) + np.uint64(2**63), progress=False)


def test_existing_output_is_left_alone(dense_input, tmp_path):
    out = tmp_path / "keep.h5"
    out.write_bytes(b"precious")
    with pytest.raises(chorus.InputError, match="exists; pass --force"):
        chorus.detect(dense_input["embedding"], view="embedding", out=out, progress=False)
    assert out.read_bytes() == b"precious"
    res = chorus.detect(dense_input["embedding"], view="embedding", threshold=0.9, out=out,
                        force=True, progress=False)
    assert res.path == str(out)
    assert chorus.open_results(out).summary["edges"] == res.summary["edges"]


# ---- behaviour: GIL, progress, exports ---------------------------------------------------------


def test_the_gil_is_released_while_chorus_works():
    emb = clustered(20000, 256, 5).astype(np.float32)
    ticks = []
    done = threading.Event()

    def tick():
        while not done.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.01)

    t = threading.Thread(target=tick)
    t.start()
    start = time.monotonic()
    chorus.detect(emb, view="embedding", threshold=0.95, progress=False, threads=1)
    elapsed = time.monotonic() - start
    done.set()
    t.join()
    during = [x for x in ticks if start <= x <= start + elapsed]
    assert elapsed > 0.3, "too short a run to tell"
    # a thread holding the GIL for the whole run would leave the other with ~no ticks
    assert len(during) > 0.5 * elapsed / 0.01, (len(during), elapsed)


def test_progress_callback_and_errors_in_it(dense_input, capfd):
    seen = []
    chorus.detect(dense_input["embedding"], view="embedding", threshold=0.9,
                  progress=lambda s, d, t: seen.append((s, d, t)))
    stages = [s for s, _, _ in seen]
    assert "read" in stages and "score" in stages
    score = [(d, t) for s, d, t in seen if s == "score"]
    assert score[-1][0] == score[-1][1] > 0

    def boom(stage, done, total):
        if stage == "score":
            raise ValueError("callback failed")

    with pytest.raises(ValueError, match="callback failed"):
        chorus.detect(dense_input["embedding"], view="embedding", threshold=0.9, progress=boom)
    # then the next run works (the stop request was reset)
    chorus.detect(dense_input["embedding"], view="embedding", threshold=0.9, progress=False)
    capfd.readouterr()
    chorus.detect(dense_input["embedding"], view="embedding", threshold=0.9, progress=True)
    assert "chorus" in capfd.readouterr().err


def test_exports_open_in_networkx_and_pandas(dense_input, tmp_path):
    nx = pytest.importorskip("networkx")
    res = chorus.detect(dense_input["embedding"], dense_input["activity"], dense_input["ids"],
                        handles=dense_input["handles"], view="both", progress=False,
                        **kwargs_of(thresholds("both")))
    res.export("gexf", tmp_path / "g.gexf")
    g = nx.read_gexf(str(tmp_path / "g.gexf"))
    clustered_rows = int((res.labels >= 0).sum())
    assert g.number_of_nodes() == clustered_rows
    assert g.number_of_edges() == len(res.edges)
    res.export("csv", tmp_path / "csv")
    edges = pd.read_csv(tmp_path / "csv" / "edges.csv")
    assert len(edges) == len(res.edges)
    with pytest.raises(chorus.InputError, match="format"):
        res.export("xlsx", tmp_path / "x")
    with pytest.raises(chorus.InputError):
        res.export("gexf", tmp_path / "g.gexf")  # exists


def test_report_renders(dense_input, tmp_path):
    pytest.importorskip("matplotlib")
    res = chorus.detect(input=dense_input["path"], view="both", progress=False,
                        **kwargs_of(thresholds("both")))
    res.report(tmp_path / "r.html")
    html = (tmp_path / "r.html").read_text()
    assert "<html" in html.lower() and "cluster" in html.lower()
    with pytest.raises(chorus.Error):
        res.report(tmp_path / "r.html")  # exists


def test_temporary_results_go_with_the_object(dense_input):
    res = chorus.detect(dense_input["embedding"], view="embedding", threshold=0.9,
                        progress=False)
    folder = os.path.dirname(res.path)
    assert os.path.exists(res.path)
    del res
    import gc

    gc.collect()
    assert not os.path.exists(folder)


# ---- options as the CLI reads them; ids, handles and layouts as users hold them ---------------


def test_edges_expression_gives_the_cli_results(cli, dense_input, tmp_path):
    expr = "embedding>=0.9 | (embedding & activity)"
    ref = str(tmp_path / "cli.h5")
    run_cli(cli, "detect", "--input", dense_input["path"], "--out", ref, "--edges", expr,
            "--threshold", "0.6", "--threshold-activity", "0.6", "--quiet")
    res = chorus.detect(input=dense_input["path"], edges=expr, threshold=0.6,
                        threshold_activity=0.6, progress=False)
    with h5py.File(ref, "r") as f:
        assert np.array_equal(res.labels, f["/labels"][()])
        assert np.array_equal(res.edges["src"].to_numpy(), f["/edges/src"][()])
        assert np.array_equal(res.edges["dst"].to_numpy(), f["/edges/dst"][()])
    assert res.summary["edges"] > 0
    msg, _ = cli_error(cli, "detect", "--input", dense_input["path"], "--out", ref, "--edges",
                       expr, "--view", "both")
    with pytest.raises(chorus.InputError) as e:
        chorus.detect(input=dense_input["path"], edges=expr, view="both", progress=False)
    assert str(e.value) == msg


CLI_CHECKS = [("window", "-1", -1), ("min_weight", "0", 0), ("similarity", "2", 2),
              ("evidence_cap", "-1", -1), ("device", "-1", -1),
              ("max_memory", "17592186044416", 2**44), ("topk", "3.5", 3.5),
              ("threshold", "abc", "abc")]


@pytest.mark.parametrize("name,typed,value", CLI_CHECKS, ids=[c[0] for c in CLI_CHECKS])
def test_values_the_cli_refuses_are_refused_with_its_message(cli, dense_input, tmp_path, name,
                                                             typed, value):
    msg, code = cli_error(cli, "detect", "--input", dense_input["path"], "--out",
                          str(tmp_path / "r.h5"), "--" + name.replace("_", "-"), typed)
    msg = msg.replace(" (see chorus detect --help)", "")
    with pytest.raises(chorus.InputError) as e:
        chorus.detect(input=dense_input["path"], progress=False, **{name: value})
    assert str(e.value) == msg
    assert e.value.exit_code == code == 2


def test_wrong_types_are_input_errors(dense_input):
    emb = dense_input["embedding"]
    for kwargs in ({"threshold": True}, {"threshold": "0.9"}, {"window": 60.0, "view": "co_repost"},
                   {"threads": 0.5}, {"view": 3}):
        with pytest.raises(chorus.InputError, match="Could not convert"):
            chorus.detect(emb, progress=False, **kwargs)
    with pytest.raises(chorus.InputError, match="progress must be True, False or a callable"):
        chorus.detect(emb, progress="yes")
    with pytest.raises(chorus.InputError) as e:
        chorus.detect(emb[:, 0], progress=False)
    assert e.value.exit_code == 2  # raised by the Python layer, same attributes


def test_ids_as_users_hold_them(dense_input):
    emb = dense_input["embedding"]
    n = emb.shape[0]
    base = chorus.detect(emb, ids=np.arange(n) + 5, view="embedding", progress=False)
    for ids in (pd.Series(np.arange(n) + 5, dtype="Int64"), list(range(5, n + 5)),
                np.array(list(range(5, n + 5)), dtype=object), pd.Index(np.arange(n) + 5)):
        res = chorus.detect(emb, ids=ids, view="embedding", progress=False)
        assert np.array_equal(res.ids, base.ids)
        assert res.edges.equals(base.edges)
    with pytest.raises(chorus.InputError, match="give every account a string id"):
        chorus.detect(emb, ids=[10] + [f"s{i}" for i in range(n - 1)], progress=False)
    gaps = pd.Series(np.arange(n), dtype="Int64")
    gaps[3] = pd.NA
    with pytest.raises(chorus.InputError, match="ids row 3 is missing"):
        chorus.detect(emb, ids=gaps, progress=False)


def test_missing_handles_are_empty_not_nan(dense_input):
    handles = pd.Series(dense_input["handles"], dtype=object)
    res0 = chorus.detect(dense_input["embedding"], ids=dense_input["ids"], handles=handles,
                         view="embedding", threshold=0.8, progress=False)
    first = int(res0.members["row"].iloc[0])
    handles[first] = np.nan
    res = chorus.detect(dense_input["embedding"], ids=dense_input["ids"], handles=handles,
                        view="embedding", threshold=0.8, progress=False)
    m = res.members.set_index("row")
    assert m.loc[first, "handle"] == ""
    assert "nan" not in set(m["handle"])


def test_layouts_that_cannot_be_read_in_place_are_converted(dense_input):
    emb = dense_input["embedding"]
    base = chorus.detect(emb, view="embedding", threshold=0.8, progress=False)
    for layout in (emb.astype(">f4"), emb[::-1][::-1], np.asfortranarray(emb)):
        res = chorus.detect(layout, view="embedding", threshold=0.8, progress=False)
        assert res.edges.equals(base.edges)
    row = np.broadcast_to(emb[0], emb.shape)  # every row the same (stride 0)
    res = chorus.detect(row, view="embedding", threshold=0.8, progress=False)
    n = emb.shape[0]
    assert res.summary["edges"] == n * (n - 1) // 2


def test_threads_are_the_jobs_own(dense_input):
    emb = dense_input["embedding"]
    before = chorus.detect(emb, view="embedding", progress=False).summary["threads"]
    one = chorus.detect(emb, view="embedding", threads=1, progress=False)
    assert one.summary["threads"] == 1
    after = chorus.detect(emb, view="embedding", progress=False)
    assert after.summary["threads"] == before > 1


def test_results_keep_their_input_alive(tmp_path):
    def run():
        inp = chorus.generate(accounts=800, dim=16, bins=24, clusters=3, progress=False)
        return chorus.detect(inp, view="both", progress=False)

    res = run()  # the temporary input is still there for the report's heatmaps
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res.report(tmp_path / "r.html")


def test_update_from_a_result_equals_a_full_run(cli, dense_input, tmp_path):
    """detect(update=previous) on arrays with new, changed and removed accounts gives the full
    run's results (the CLI's full run on the same arrays, written with h5py, is the reference)."""
    emb, act, ids = dense_input["embedding"], dense_input["activity"], dense_input["ids"]
    kw = dict(view="both", threshold=0.7, threshold_activity=0.5, progress=False)
    before = chorus.detect(emb[:-20], act[:-20], ids[:-20], **kw)
    keep = np.ones(len(ids), bool)
    keep[[3, 50, 51]] = False  # removed
    emb2, act2 = emb.copy(), act.copy()
    emb2[[7, 8]] = emb2[[60, 61]]  # changed
    emb2, act2, ids2 = emb2[keep], act2[keep], ids[keep]  # the last 20 are new
    res = chorus.detect(emb2, act2, ids2, update=before, **kw)
    assert res.summary["update"]["rows_new"] == 20
    assert res.summary["update"]["rows_changed"] == 2
    assert res.summary["update"]["rows_removed"] == 3
    path = str(tmp_path / "in.h5")
    write_input(path, ids2, emb2, act2)
    run_cli(cli, "detect", "--input", path, "--out", str(tmp_path / "full.h5"), "--view", "both",
            "--threshold", "0.7", "--threshold-activity", "0.5", "--quiet")
    expect_same_as_cli(res, read_cli_results(str(tmp_path / "full.h5")))
    with pytest.raises(chorus.InputError, match="was computed with --threshold"):
        chorus.detect(emb2, act2, ids2, update=before, **dict(kw, threshold=0.75))


def test_significance_on_arrays_equals_the_cli(cli, dense_input, tmp_path):
    """detect(significance=K) on arrays gives the CLI's p- and q-values for the same file; arrays
    carry no clock, so the activity null's period must be given."""
    emb, act, ids = dense_input["embedding"], dense_input["activity"], dense_input["ids"]
    kw = dict(view="both", threshold=0.7, threshold_activity=0.5, progress=False)
    with pytest.raises(chorus.InputError, match="null-period"):
        chorus.detect(emb, act, ids, significance=50, **kw)
    res = chorus.detect(emb, act, ids, significance=200, null_period=12, **kw)
    clusters = res.clusters
    assert {"p_value", "q_value"} <= set(clusters.columns)
    assert res.summary["significance"]["resamples"] == 200
    run_cli(cli, "detect", "--input", dense_input["path"], "--out", str(tmp_path / "cli.h5"),
            "--view", "both", "--threshold", "0.7", "--threshold-activity", "0.5",
            "--significance", "200", "--null-period", "12", "--quiet")
    with h5py.File(tmp_path / "cli.h5", "r") as f:
        np.testing.assert_array_equal(clusters["p_value"].to_numpy(), f["/clusters/p_value"][:])
        np.testing.assert_array_equal(clusters["q_value"].to_numpy(), f["/clusters/q_value"][:])
