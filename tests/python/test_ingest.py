"""chorus.ingest from data frames and files against `chorus ingest` on the same posts file: the
same input datasets; co-action views on the result equal the CLI's."""
import h5py
import numpy as np
import pandas as pd
import pytest

import chorus
from conftest import cli_built_like_the_package, datasets, run_cli

ID_COLUMNS = {"message_id": str, "user_id": str, "repost_id": str, "reply_id": str}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, cli):
    d = tmp_path_factory.mktemp("posts")
    g = chorus.generate_posts(str(d / "posts.csv"), accounts=1500, days=5, campaigns=4, seed=3,
                              progress=False)
    run_cli(cli, "ingest", g["posts"], "--out", str(d / "cli.h5"), "--min-posts", "3", "--quiet")
    return {"posts": g["posts"], "cli_input": str(d / "cli.h5"), "dir": d,
            "exact": cli_built_like_the_package(cli)}


def expect_same_input(path, ref_path, exact_floats=True):
    """Every dataset equal; float ones bit for bit when the CLI was built as the package was,
    else within float32 rounding (see conftest.cli_built_like_the_package)."""
    a, b = datasets(ref_path), datasets(path)
    assert sorted(a) == sorted(b)
    for k in a:
        if a[k].dtype.kind == "f" and not exact_floats:
            assert np.allclose(a[k], b[k], rtol=0, atol=1e-5, equal_nan=True), k
        else:
            assert np.array_equal(a[k], b[k], equal_nan=a[k].dtype.kind == "f"), k


def frames(posts_path):
    df = pd.read_csv(posts_path, dtype=ID_COLUMNS, keep_default_na=False)
    yield "pandas", df
    pl = pytest.importorskip("polars")
    yield "polars", pl.read_csv(posts_path, schema_overrides={k: pl.Utf8 for k in ID_COLUMNS})
    pa = pytest.importorskip("pyarrow")
    import pyarrow.csv as pacsv

    yield "pyarrow", pacsv.read_csv(posts_path, convert_options=pacsv.ConvertOptions(
        column_types={k: pa.string() for k in ID_COLUMNS}))


def test_frames_and_files_give_the_cli_input(corpus):
    for kind, frame in frames(corpus["posts"]):
        inp = chorus.ingest(frame, min_posts=3, progress=False)
        expect_same_input(inp.path, corpus["cli_input"], corpus["exact"])
        assert inp.summary["posts"] > 0, kind
    inp = chorus.ingest(corpus["posts"], min_posts=3, progress=False)
    expect_same_input(inp.path, corpus["cli_input"], corpus["exact"])
    posts = inp.posts
    assert len(posts) == inp.summary["posts"]
    assert inp.embedding.shape == (inp.accounts, 256)


@pytest.mark.parametrize("view", ["co_repost", "co_link", "co_text", "co_hashtag"])
def test_coaction_views_give_the_cli_results(cli, corpus, tmp_path, view):
    ref = str(tmp_path / "cli.h5")
    run_cli(cli, "detect", "--input", corpus["cli_input"], "--out", ref, "--view", view,
            "--window", "120", "--quiet")
    inp = chorus.open_input(corpus["cli_input"])
    res = chorus.detect(inp, view=view, window=120, progress=False)
    with h5py.File(ref, "r") as f:
        assert np.array_equal(res.labels, f["/labels"][()])
        e = res.edges
        for col in ("src", "dst", "weight", "weight_src_dst", "weight_dst_src"):
            assert np.array_equal(e[col].to_numpy(), f["/edges/" + col][()]), col
        assert len(e) > 0


def test_posts_mistakes_are_clear(corpus, tmp_path):
    df = pd.read_csv(corpus["posts"], dtype=ID_COLUMNS, keep_default_na=False)
    # float ids that lost digits (pandas' default for a column with gaps)
    lossy = pd.read_csv(corpus["posts"])
    with pytest.raises(chorus.InputError, match="repost_id.*above 2\\^53"):
        chorus.ingest(lossy, progress=False)
    # naive datetimes
    naive = df.copy()
    naive["timestamp"] = pd.to_datetime(naive["timestamp"], unit="s")
    with pytest.raises(chorus.InputError, match="without a time zone"):
        chorus.ingest(naive, progress=False)
    # time-zone aware datetimes are Unix seconds: the same input
    aware = df.copy()
    aware["timestamp"] = pd.to_datetime(aware["timestamp"], unit="s", utc=True)
    kept = chorus.ingest(aware, min_posts=3, progress=False)  # its file goes with the object
    expect_same_input(kept.path, corpus["cli_input"], corpus["exact"])
    # a misnamed column: the CLI's message (no account column found)
    renamed = df.rename(columns={"user_id": "author"})
    with pytest.raises(chorus.InputError) as e:
        chorus.ingest(renamed, progress=False)
    assert "account" in str(e.value)
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        chorus.ingest(df, progress=False, **{"colour": "red"})
    with pytest.raises(chorus.InputError, match="not a duration"):
        chorus.ingest(df, bin="fortnight", progress=False)
    with pytest.raises(chorus.InputError, match="posts must be a pandas or polars DataFrame"):
        chorus.ingest(42, progress=False)
    with pytest.raises(chorus.InputError):
        chorus.ingest(str(tmp_path / "missing.csv"), progress=False)
