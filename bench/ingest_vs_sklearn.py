#!/usr/bin/env python3
"""chorus ingest against a scikit-learn pipeline that does the same work, side by side.

The bar (issue 16): ingesting a generated corpus of 10 M posts is at least 10x faster end to end
than scikit-learn doing the same work, with equivalent results: the same accounts, the same
activity counts, and content vectors of the same quality (the same detection results).

The scikit-learn pipeline, per chunk of posts read by pandas:
  text -> NFKC + casefold (the same normalisation as chorus)
       -> HashingVectorizer(word 1-2-grams) + HashingVectorizer(char_wb 3-5-grams), 2^18 features
       -> summed per account (a sparse indicator product)
then TfidfTransformer(sublinear_tf=True), TruncatedSVD(256, randomized, 2 power iterations),
rows L2-normalised; activity: numpy bincount of (account, hour) over the data's span.

Usage (a venv with scikit-learn; see bench/README.md):
  bench/.venv/bin/python bench/ingest_vs_sklearn.py --chorus build/chorus --accounts 470000
"""
import argparse
import json
import os
import subprocess
import sys
import time
import unicodedata

import h5py
import numpy as np


def run(cmd, **kw):
    print("+", " ".join(cmd), flush=True)
    t = time.time()
    subprocess.run(cmd, check=True, **kw)
    return time.time() - t


def blas_report():
    try:
        from threadpoolctl import threadpool_info
        return [{k: d.get(k) for k in ("internal_api", "version", "architecture", "num_threads")}
                for d in threadpool_info()]
    except ImportError:
        return "threadpoolctl not installed"


def sklearn_ingest(posts, truth, out, dim, min_posts, chunk, seed):
    """The same work as `chorus ingest` with pandas, scikit-learn and numpy."""
    import pandas as pd
    import scipy.sparse as sp
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer

    norm = lambda s: " ".join(unicodedata.normalize("NFKC", s).casefold().split())
    common = dict(n_features=2 ** 18, alternate_sign=False, norm=None, lowercase=False,
                  preprocessor=norm, dtype=np.float32)
    words = HashingVectorizer(analyzer="word", ngram_range=(1, 2),
                              token_pattern=r"(?u)https?://\S+|www\.\S+|[@#]\w+|\w+", **common)
    chars = HashingVectorizer(analyzer="char_wb", ngram_range=(3, 5), **common)
    row_of, keys, counts, acc, times_acc, times_t = {}, [], [], None, [], []
    t0 = time.time()
    reader = pd.read_csv(posts, chunksize=chunk, dtype={"user_id": str, "message": str},
                         usecols=["user_id", "message", "timestamp"], keep_default_na=False)
    for df in reader:
        rows = np.fromiter((row_of.setdefault(u, len(row_of)) for u in df["user_id"]),
                           dtype=np.int64, count=len(df))
        text = df["message"].tolist()
        x = words.transform(text) + chars.transform(text)
        ind = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, np.arange(len(rows)))),
                            shape=(len(row_of), len(rows)))
        part = (ind @ x).tocsr()
        if acc is None:
            acc = part
        else:
            acc.resize(part.shape)
            acc = acc + part
        times_acc.append(rows)
        times_t.append(df["timestamp"].to_numpy(np.int64))
    rows = np.concatenate(times_acc)
    times = np.concatenate(times_t)
    n_seen = len(row_of)
    posts_per = np.bincount(rows, minlength=n_seen)
    keep = np.flatnonzero(posts_per >= min_posts)
    t_read = time.time() - t0
    t1 = time.time()
    a = acc[keep]
    tfidf = TfidfTransformer(sublinear_tf=True).fit_transform(a)
    svd = TruncatedSVD(n_components=dim, algorithm="randomized", n_iter=2, random_state=seed)
    emb = svd.fit_transform(tfidf).astype(np.float32)
    nrm = np.linalg.norm(emb, axis=1, keepdims=True)
    emb = np.divide(emb, nrm, out=np.zeros_like(emb), where=nrm > 0)
    t_content = time.time() - t1
    # activity: hourly bins from the hour at or before the first post of a kept account
    new_row = np.full(n_seen, -1, np.int64)
    new_row[keep] = np.arange(len(keep))
    m = new_row[rows] >= 0
    first = times[m].min() // 3600 * 3600
    bins = int((times[m].max() - first) // 3600 + 1)
    act = np.bincount(new_row[rows[m]] * bins + (times[m] - first) // 3600,
                      minlength=len(keep) * bins).reshape(len(keep), bins).astype(np.int32)
    keys = np.array(list(row_of.keys()))[keep]
    tr = pd.read_csv(truth, dtype={"user_id": str})
    cl = dict(zip(tr["user_id"], tr["cluster"]))
    kd = dict(zip(tr["user_id"], tr["kind"]))
    with h5py.File(out, "w") as f:
        f["accounts/id"] = keys.astype(np.int64)
        f["embedding"] = emb
        f["activity"] = act
        f["truth/cluster"] = np.array([cl.get(k, -1) for k in keys], np.int64)
        f["truth/kind"] = np.array([kd.get(k, 0) for k in keys], np.int8)
    return {"seconds_read_features": t_read, "seconds_tfidf_svd": t_content,
            "accounts": int(len(keep)), "bins": bins}


def detect(chorus, inp, out, te, ta):
    r = subprocess.run([chorus, "detect", "--input", inp, "--out", out, "--force", "--json",
                        "--threshold", str(te), "--threshold-activity", str(ta)],
                       check=True, capture_output=True, text=True)
    s = json.loads(r.stdout)
    t = s.get("truth", {})
    return {"precision": t.get("precision"), "recall": t.get("recall"),
            "clusters": s.get("clusters"), "edges": s.get("edges")}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chorus", required=True)
    ap.add_argument("--accounts", type=int, default=470000, help="accounts of the generated corpus")
    ap.add_argument("--workdir", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "chorus_ingest_bench"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--chunk", type=int, default=200000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--skip-sklearn", action="store_true")
    ap.add_argument("--threshold", type=float, default=0.95)
    ap.add_argument("--threshold-activity", type=float, default=0.6)
    a = ap.parse_args()
    os.makedirs(a.workdir, exist_ok=True)
    posts = os.path.join(a.workdir, f"posts_{a.accounts}.csv")
    truth = os.path.join(a.workdir, f"posts_{a.accounts}.truth.csv")
    if not os.path.exists(posts):
        run([a.chorus, "generate", "--posts", "--accounts", str(a.accounts), "--seed", str(a.seed),
             "--out", posts, "--truth-out", truth, "--force"])
    n_posts = sum(1 for _ in open(posts, "rb"))  # lines, an upper bound (quoted newlines)
    res = {"posts_file": posts, "posts_file_bytes": os.path.getsize(posts), "lines": n_posts,
           "threads": a.threads, "blas": blas_report(),
           "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE")}
    out_c = os.path.join(a.workdir, "chorus_input.h5")
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    res["chorus_seconds"] = run([a.chorus, "ingest", posts, "--out", out_c, "--force", "--quiet",
                                 "--truth", truth, "--threads", str(a.threads), "--dim", str(a.dim)],
                                env=env)
    res["chorus_detect"] = detect(a.chorus, out_c, out_c + ".res.h5", a.threshold, a.threshold_activity)
    if not a.skip_sklearn:
        out_s = os.path.join(a.workdir, "sklearn_input.h5")
        t = time.time()
        res["sklearn_parts"] = sklearn_ingest(posts, truth, out_s, a.dim, 5, a.chunk, a.seed)
        res["sklearn_seconds"] = time.time() - t
        res["speedup"] = res["sklearn_seconds"] / res["chorus_seconds"]
        res["sklearn_detect"] = detect(a.chorus, out_s, out_s + ".res.h5", a.threshold, a.threshold_activity)
        with h5py.File(out_c) as c, h5py.File(out_s) as s:
            res["same_accounts"] = bool(np.array_equal(c["accounts/id"][:], s["accounts/id"][:]))
            same_act = c["activity"].shape == s["activity"].shape and all(
                np.array_equal(c["activity"][i:i + 65536], s["activity"][i:i + 65536])
                for i in range(0, c["activity"].shape[0], 65536))
            res["same_activity"] = bool(same_act)
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    sys.exit(main())
