#!/usr/bin/env python3
"""chorus's co-action views against QUT's coordination-network-toolkit, side by side.

    python bench/coaction_vs_toolkit.py --chorus build/chorus --accounts 235000 --workdir /tmp/b17

Needs the toolkit (PyPI coordination-network-toolkit 1.5.2; .ci/setup.sh puts it in tests/.venv,
run this script with tests/.venv/bin/python) and h5py.

One generated posts corpus (`chorus generate --posts`, in the toolkit's CSV layout; 235,000
accounts make about 5 M posts). The toolkit: preprocess (CSV into SQLite) plus co_retweet,
co_tweet and co_link at `--window` seconds and minimum weight 1. chorus: `chorus ingest
--normalize toolkit --dim 0 --min-posts 1` (posts only: the toolkit computes no content vectors)
plus `chorus detect --view co_repost`, `co_text` and `co_link` with the same window, each run
twice: with `--no-evidence` (like for like: the toolkit writes its network tables only) and with
chorus's default evidence (/coaction post pairs, /evidence co-active bins and handles). Both end to end, wall clock, on the same machine one after the other; the directed
rows (the toolkit's without self-pairs, chorus's `coaction_directed_rows`) must be equal.
"""

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import time

import h5py
from coordination_network_toolkit import compute_networks as cn
from coordination_network_toolkit import preprocess as pre


def run(cmd):
    print("+", " ".join(cmd), flush=True)
    t = time.time()
    subprocess.run(cmd, check=True)
    return time.time() - t


def toolkit(posts, db, window, threads):
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    res = {}
    t = time.time()
    pre.preprocess_csv_files(db, [posts])
    # its CSV reader gives every post without a link the link '': left out, as chorus does
    con = sqlite3.connect(db)
    con.execute("delete from message_url where url = ''")
    con.commit()
    con.close()
    res["toolkit_preprocess_s"] = time.time() - t
    jobs = [
        ("co_retweet", "co_retweet_network",
         lambda: cn.compute_co_retweet_parallel(db, window, n_threads=threads, min_edge_weight=1)),
        ("co_tweet", "co_tweet_network",
         lambda: cn.compute_co_tweet_network(db, window, min_edge_weight=1, n_threads=threads)),
        ("co_link", "co_link_network",
         lambda: cn.compute_co_link_network(db, window, n_threads=threads, min_edge_weight=1)),
    ]
    for name, table, fn in jobs:
        t = time.time()
        fn()
        res[f"toolkit_{name}_s"] = time.time() - t
        con = sqlite3.connect(db)
        res[f"toolkit_{name}_rows"] = con.execute(
            f"select count(*) from {table} where user_1 != user_2").fetchone()[0]
        con.close()
    res["toolkit_total_s"] = res["toolkit_preprocess_s"] + sum(
        res[f"toolkit_{n}_s"] for n, _, _ in jobs)
    return res


def chorus_side(chorus, posts, work, window, threads):
    res = {}
    inp = os.path.join(work, "coaction_in.h5")
    res["chorus_ingest_s"] = run([chorus, "ingest", posts, "--out", inp, "--normalize", "toolkit",
                                  "--dim", "0", "--min-posts", "1", "--threads", str(threads),
                                  "--force", "--quiet"])
    for view in ("co_repost", "co_text", "co_link"):
        out = os.path.join(work, f"{view}.h5")
        cmd = [chorus, "detect", "--input", inp, "--out", out, "--view", view, "--window",
               str(window), "--threads", str(threads), "--force", "--quiet"]
        # like for like (the toolkit writes the network tables only), then with chorus's evidence
        res[f"chorus_{view}_noevidence_s"] = run(cmd + ["--no-evidence"])
        res[f"chorus_{view}_s"] = run(cmd)
        with h5py.File(out, "r") as f:
            res[f"chorus_{view}_rows"] = int(f.attrs["coaction_directed_rows"])
            res[f"chorus_{view}_edges"] = int(f["/edges/src"].shape[0])
    res["chorus_total_s"] = res["chorus_ingest_s"] + sum(
        res[f"chorus_{v}_s"] for v in ("co_repost", "co_text", "co_link"))
    res["chorus_total_noevidence_s"] = res["chorus_ingest_s"] + sum(
        res[f"chorus_{v}_noevidence_s"] for v in ("co_repost", "co_text", "co_link"))
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--chorus", required=True)
    ap.add_argument("--accounts", type=int, default=235000)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--window", type=int, default=60)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip-toolkit", action="store_true", help="chorus only")
    a = ap.parse_args()
    os.makedirs(a.workdir, exist_ok=True)
    chorus = os.path.abspath(a.chorus)
    posts = os.path.join(a.workdir, f"posts_{a.accounts}.csv")
    if not os.path.exists(posts):
        run([chorus, "generate", "--posts", "--accounts", str(a.accounts), "--seed", "1", "--out",
             posts, "--force", "--quiet"])
    res = {"accounts": a.accounts, "window": a.window, "threads": a.threads,
           "posts_bytes": os.path.getsize(posts)}
    res.update(chorus_side(chorus, posts, a.workdir, a.window, a.threads))
    with h5py.File(os.path.join(a.workdir, "coaction_in.h5"), "r") as f:
        res["posts"] = int(f["/posts/account"].shape[0])
    if not a.skip_toolkit:
        res.update(toolkit(posts, os.path.join(a.workdir, "toolkit.db"), a.window, a.threads))
        res["speedup"] = res["toolkit_total_s"] / res["chorus_total_s"]
        res["speedup_like_for_like"] = res["toolkit_total_s"] / res["chorus_total_noevidence_s"]
        for tv, cv in (("co_retweet", "co_repost"), ("co_tweet", "co_text"), ("co_link", "co_link")):
            res[f"rows_equal_{cv}"] = res[f"toolkit_{tv}_rows"] == res[f"chorus_{cv}_rows"]
    print(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
