#!/usr/bin/python3
"""Strong scaling of `chorus detect` over MPI ranks (issue #6's bar: 2 ranks x 1 thread reach
>= 80% parallel efficiency against 1 rank x 1 thread on a 40k x 384 job).

Usage: bench/strong_scaling.py --chorus build/chorus [--accounts 40000] [--dim 384]
                               [--ranks 1,2] [--repeat 3] [--workdir DIR] [--extra "..."]
                               [--mpirun-args "--bind-to core --mca pml ob1 --mca btl self,vader"]

It generates the input once (chorus generate, fixed seed), then for each rank count P runs
`mpirun MPIRUN_ARGS -np P chorus detect --threads 1` (P = 1 runs without a launcher, as a
user would, pinned to one core like each rank when the ranks are bound to cores) `--repeat` times, takes the median wall time of the whole process, checks that
every run's labels and edges equal the 1-rank run's, and prints a table: wall time, speedup,
efficiency = T1 / (P * TP), and the per-rank phase times from the JSON summary (read, score,
shard + forest) and the slowest rank's share of the pairs.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--chorus", required=True)
    ap.add_argument("--accounts", type=int, default=40000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--bins", type=int, default=0)
    ap.add_argument("--ranks", default="1,2")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workdir")
    ap.add_argument("--extra", default="", help="more chorus detect options")
    ap.add_argument("--mpirun-args", default="--bind-to core --mca pml ob1 --mca btl self,vader",
                    help="launcher options (default: one core per rank and OpenMPI's "
                         "shared-memory transport, the usual single-node setup; '' for "
                         "mpirun's defaults)")
    a = ap.parse_args()
    chorus = os.path.abspath(a.chorus)
    work = a.workdir or tempfile.mkdtemp(prefix="chorus-scaling-")
    os.makedirs(work, exist_ok=True)
    mpirun = shutil.which("mpirun")
    launch = [mpirun] + a.mpirun_args.split() + (
        ["--allow-run-as-root"] if os.geteuid() == 0 else [])
    inp = os.path.join(work, "in.h5")
    if not os.path.exists(inp):
        subprocess.run([chorus, "generate", "--accounts", str(a.accounts), "--dim", str(a.dim),
                        "--bins", str(a.bins), "--clusters", "30", "--seed", "42", "--out", inp,
                        "--quiet"], check=True)
    ref = None
    rows = []
    for P in [int(x) for x in a.ranks.split(",")]:
        times, summary = [], None
        for rep in range(a.repeat):
            out = os.path.join(work, f"out-{P}.h5")
            cmd = [chorus, "detect", "--input", inp, "--out", out, "--threads", "1", "--json",
                   "--quiet", "--force"] + a.extra.split()
            if P > 1:
                cmd = launch + ["-np", str(P)] + cmd
            elif "--bind-to core" in a.mpirun_args and shutil.which("taskset"):
                cmd = ["taskset", "-c", "0"] + cmd  # pinned like the ranks, for a fair baseline
            t0 = time.perf_counter()
            p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            dt = time.perf_counter() - t0
            if p.returncode != 0:
                sys.exit(f"P={P}: chorus failed ({p.returncode}): {p.stderr[-2000:]}")
            times.append(dt)
            summary = json.loads(p.stdout.strip().splitlines()[0])
            with h5py.File(out, "r") as f:
                got = (f["labels"][()], f["edges/src"][()], f["edges/dst"][()])
            if ref is None:
                ref = got
            elif not all(np.array_equal(x, y) for x, y in zip(ref, got)):
                sys.exit(f"P={P}: labels or edges differ from the 1-rank run")
        t = statistics.median(times)
        per = summary["per_rank"]
        pairs = [r["pairs"] for r in per]
        rows.append((P, t, times, summary, per, max(pairs) / (sum(pairs) / len(pairs))))
    t1 = rows[0][1]
    print(f"# strong scaling: {a.accounts} x {a.dim} (bins {a.bins}), threads 1 per rank, "
          f"median of {a.repeat}, edges {rows[0][3]['edges']}, clusters {rows[0][3]['clusters']}")
    print(f"# launcher: mpirun {a.mpirun_args or '(defaults)'}; wall = whole process, launcher "
          f"start-up and MPI_Init/MPI_Finalize included")
    print("| ranks | wall s (median) | runs | speedup | efficiency | slowest rank pairs / mean "
          "| per rank: read / score / shard+forest s | merge s |")
    print("|---|---|---|---|---|---|---|---|")
    for P, t, times, s, per, imb in rows:
        phases = "; ".join(f"{r['seconds_read']:.2f} / {r['seconds_score']:.2f} / "
                           f"{r['seconds_local']:.2f}" for r in per)
        print(f"| {P} | {t:.2f} | {', '.join(f'{x:.2f}' for x in times)} | {t1 / t:.2f}x | "
              f"{100 * t1 / (P * t):.1f}% | {imb:.4f} | {phases} | {s['seconds']['merge']:.3f} |")


if __name__ == "__main__":
    main()
