#!/usr/bin/env python3
"""chorus.detect on arrays in memory against the chorus executable on the same data in a file
(issue #20's overhead bar: the package is no slower than the CLI, file reading excluded).

    .venv/bin/python bench/python_overhead.py --chorus build/chorus [--accounts 20000]

The same float32 embedding and activity counts go into an input file (for the CLI) and stay
in memory (for the package). Each side runs --repeats times, alternating. The CLI's times are
its process's wall time, its own job time (seconds.total from --json: after the process
started, reading overlapped with scoring), and "CLI without reading": the wall time minus its
whole read phase (seconds.read), a harsh measure, since that phase ran beside the scoring and
includes preparing the rows, which the package does too. The package's time is the wall time
of the chorus.detect call, results file written and Result returned. Medians are printed.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

import chorus


def make_data(n, d, t, seed):
    """Clustered content and bursty activity (a few hundred planted groups), float32/int32."""
    rng = np.random.default_rng(seed)
    groups = max(n // 50, 1)
    centre = rng.standard_normal((groups, d), dtype=np.float32)
    g = rng.integers(0, groups, size=n)
    planted = rng.random(n) < 0.05
    emb = rng.standard_normal((n, d), dtype=np.float32)
    emb[planted] = centre[g[planted]] + 0.1 * emb[planted]
    lam = np.full((n, t), 0.3, dtype=np.float32)
    bursts = rng.random((groups, t)) < 0.05
    lam[planted] += 4.0 * bursts[g[planted]]
    act = rng.poisson(lam).astype(np.int32)
    ids = np.arange(n, dtype=np.int64) * 3 + 11
    return emb, act, ids


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--chorus", required=True, help="the chorus executable")
    p.add_argument("--accounts", type=int, default=20000)
    p.add_argument("--dim", type=int, default=256)
    p.add_argument("--bins", type=int, default=168)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--view", default="both")
    p.add_argument("--workdir", default=None)
    a = p.parse_args()
    work = a.workdir or tempfile.mkdtemp(prefix="chorus-overhead-")
    os.makedirs(work, exist_ok=True)
    emb, act, ids = make_data(a.accounts, a.dim, a.bins, 5)
    path = os.path.join(work, "in.h5")
    with h5py.File(path, "w") as f:
        f["/accounts/id"] = ids
        f["/embedding"] = emb
        f["/activity"] = act
    opts = {"view": a.view, "threshold": 0.9, "threshold_activity": 0.6}
    cli_args = ["--view", a.view, "--threshold", "0.9", "--threshold-activity", "0.6"]
    cli_wall, cli_read, cli_total, py_wall, edges = [], [], [], [], set()
    for r in range(a.repeats):
        out = os.path.join(work, "cli.h5")
        t0 = time.perf_counter()
        run = subprocess.run([a.chorus, "detect", "--input", path, "--out", out, "--force",
                              "--json", "--quiet", *cli_args], stdout=subprocess.PIPE,
                             text=True, check=True)
        cli_wall.append(time.perf_counter() - t0)
        s = json.loads(run.stdout)
        cli_read.append(s["seconds"]["read"])
        cli_total.append(s["seconds"]["total"])
        edges.add(("cli", s["edges"]))
        t0 = time.perf_counter()
        res = chorus.detect(emb, act, ids, progress=False, **opts)
        py_wall.append(time.perf_counter() - t0)
        edges.add(("python", res.summary["edges"]))
        del res
    counts = {n for _, n in edges}
    if len(counts) != 1:
        sys.exit(f"edge counts differ: {sorted(edges)}")
    cli = statistics.median(cli_wall)
    read = statistics.median(cli_read)
    py = statistics.median(py_wall)
    print(f"accounts {a.accounts}, dim {a.dim}, bins {a.bins}, view {a.view}, "
          f"{counts.pop()} edges, {a.repeats} runs each (median)")
    print(f"CLI process wall       {cli:8.3f} s   (runs: {', '.join(f'{x:.3f}' for x in cli_wall)})")
    total = statistics.median(cli_total)
    print(f"CLI seconds.total      {total:8.3f} s   (the job in the process)")
    print(f"CLI seconds.read       {read:8.3f} s   (overlapped with scoring)")
    print(f"CLI without reading    {cli - read:8.3f} s   (wall - read)")
    print(f"chorus.detect (memory) {py:8.3f} s   (runs: {', '.join(f'{x:.3f}' for x in py_wall)})")
    print(f"ratio python / CLI wall = {py / cli:.3f}; python / CLI job = {py / total:.3f}; "
          f"python / (CLI wall - read) = {py / (cli - read):.3f}")


if __name__ == "__main__":
    main()
