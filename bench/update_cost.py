#!/usr/bin/python3
"""What an incremental run (chorus detect --update) costs against a full run (#21).

For each (N, share): one generated file of N (1 + share) accounts is day 2, its first N rows
day 1. Day 1 is detected in full once; then day 2 is detected in full and as an update of day 1,
alternately, `--repeats` times. Reported: the pairs each scored (the results' `pairs`
attribute), the wall time of the whole command (process start to exit: reading every row and
writing the results included), the job's phases from --json, and that both results are equal
dataset for dataset.

Usage: /usr/bin/python3 bench/update_cost.py --chorus build/chorus [--sizes 100000]
       [--shares 0.01] [--repeats 3] [--dim 256] [--bins 336] [--detect-args "..."] [--work DIR]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time

import h5py
import numpy as np


def run(cmd):
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stderr}")
    return wall, p.stdout


def first_rows(src, dst, n):
    """Day 1: the first n accounts of day 2, every dataset cut alike."""
    with h5py.File(src, "r") as f, h5py.File(dst, "w") as g:
        def copy(name, obj):
            if isinstance(obj, h5py.Dataset) and obj.shape and obj.shape[0] == f["/accounts/id"].shape[0]:
                g.create_dataset(name, data=obj[:n], chunks=obj.chunks, compression=obj.compression)
        f.visititems(copy)


def same_results(a, b):
    with h5py.File(a, "r") as f, h5py.File(b, "r") as g:
        names = []
        f.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
        for n in names:
            if n.startswith("ranks/"):
                continue
            x, y = f[n][()], g[n][()]
            if x.shape != y.shape or not np.array_equal(x, y, equal_nan=x.dtype.kind == "f"):
                return f"{n} differs"
    return "equal"


def measure(args, n, share, work):
    m = int(round(n * share))
    day2, day1 = os.path.join(work, f"day2_{n}_{m}.h5"), os.path.join(work, f"day1_{n}_{m}.h5")
    subprocess.run([args.chorus, "generate", "--accounts", str(n + m), "--dim", str(args.dim),
                    "--bins", str(args.bins), "--clusters", "20", "--seed", "7", "--out", day2,
                    "--force", "--quiet"], check=True)
    first_rows(day2, day1, n)
    common = ["--view", "both", "--quiet", "--json", "--force"] + args.detect_args.split()
    prev, full, upd = (os.path.join(work, x) for x in ("prev.h5", "full.h5", "upd.h5"))
    run([args.chorus, "detect", "--input", day1, "--out", prev] + common)
    walls = {"full": [], "update": []}
    jobs = {"full": [], "update": []}
    for _ in range(args.repeats):
        for kind, extra, out in (("full", [], full), ("update", ["--update", prev], upd)):
            wall, out_json = run([args.chorus, "detect", "--input", day2, "--out", out] + common + extra)
            walls[kind].append(wall)
            jobs[kind].append(json.loads(out_json)["seconds"])
    with h5py.File(full, "r") as f, h5py.File(upd, "r") as g:
        pairs_full, pairs_upd = int(f.attrs["pairs"]), int(g.attrs["pairs"])
    med = {k: statistics.median(v) for k, v in walls.items()}
    phases = {k: {p: statistics.median(j[p] for j in jobs[k]) for p in
                  ("read", "score", "components", "write", "total")} for k in jobs}
    return {"accounts": n + m, "new": m, "pairs_full": pairs_full, "pairs_update": pairs_upd,
            "pairs_share": pairs_upd / pairs_full, "wall_full": med["full"],
            "wall_update": med["update"], "time_share": med["update"] / med["full"],
            "phases": phases, "walls": walls, "check": same_results(full, upd)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chorus", required=True)
    ap.add_argument("--sizes", default="100000", help="N, comma separated")
    ap.add_argument("--shares", default="0.01", help="new accounts as a share of N, comma separated")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--bins", type=int, default=336)
    ap.add_argument("--detect-args", default="", help="more chorus detect options, e.g. --no-evidence")
    ap.add_argument("--work")
    args = ap.parse_args()
    work = args.work or tempfile.mkdtemp(prefix="chorus_update_bench_")
    os.makedirs(work, exist_ok=True)
    print("| accounts (N + new) | new | pairs full | pairs update | share | wall full s | "
          "wall update s | share | update: read / score / components / write s | equal |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    try:
        for n in (int(x) for x in args.sizes.split(",")):
            for share in (float(x) for x in args.shares.split(",")):
                r = measure(args, n, share, work)
                p = r["phases"]["update"]
                print(f"| {r['accounts']:,} | {r['new']:,} | {r['pairs_full']:,} | "
                      f"{r['pairs_update']:,} | {100 * r['pairs_share']:.2f}% | "
                      f"{r['wall_full']:.2f} | {r['wall_update']:.2f} | "
                      f"{100 * r['time_share']:.1f}% | {p['read']:.2f} / {p['score']:.2f} / "
                      f"{p['components']:.2f} / {p['write']:.2f} | {r['check']} |", flush=True)
    finally:
        if not args.work:
            shutil.rmtree(work, True)


if __name__ == "__main__":
    main()
