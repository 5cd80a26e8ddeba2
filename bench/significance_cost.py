#!/usr/bin/python3
"""What chorus detect --significance K costs on the demo's corpus, and what it finds (#22).

Makes (or reuses) the demo's input with `chorus demo --workdir W`, then runs each configuration
without and with --significance K, alternately, `--repeats` times. Reported: the median wall time
of the whole command (process start to exit), the significance phase's own seconds (--json), the
clusters, and the largest p-value among the planted campaigns (clusters whose members are at
least 90% planted) and the smallest among the others.

Usage: /usr/bin/python3 bench/significance_cost.py --chorus build/chorus [--work DIR]
       [--resamples 1000] [--repeats 3]
"""
import argparse
import json
import os
import statistics
import subprocess
import time

import h5py
import numpy as np

CONFIGS = [
    ("both 0.95/0.6 (demo)", ["--threshold", "0.95", "--threshold-activity", "0.6"]),
    ("both 0.8/0.5", ["--threshold", "0.8", "--threshold-activity", "0.5"]),
    ("activity 0.6", ["--view", "activity", "--threshold-activity", "0.6"]),
    ("co_link >= 5", ["--view", "co_link", "--min-weight", "5"]),
]


def run(cmd):
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stderr}")
    return wall, json.loads(p.stdout)


def verdicts(results, inp):
    with h5py.File(results, "r") as r, h5py.File(inp, "r") as f:
        kind = f["truth/kind"][:]
        off, mem = r["clusters/offsets"][:], r["clusters/members"][:]
        p = r["clusters/p_value"][:]
        planted, other = [], []
        for c in range(len(p)):
            k = kind[mem[off[c]:off[c + 1]]]
            (planted if np.mean(k == 1) >= 0.9 else other).append(p[c])
        return planted, other


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--chorus", required=True)
    ap.add_argument("--work", default="/tmp/chorus-significance-bench")
    ap.add_argument("--resamples", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    inp = os.path.join(a.work, "demo_input.h5")
    if not os.path.exists(inp):
        subprocess.run([a.chorus, "demo", "--workdir", a.work], check=True, capture_output=True)
    print(f"| configuration | clusters | without (s) | with K={a.resamples} (s) | overhead | "
          f"significance phase (s) | planted: max p | others: min p, # p < 0.001 |")
    print("|---|---|---|---|---|---|---|---|")
    for name, args in CONFIGS:
        base = [a.chorus, "detect", "--input", inp, "--json", "--force"] + args
        off, on, phase = [], [], []
        for _ in range(a.repeats):
            w, _ = run(base + ["--out", os.path.join(a.work, "plain.h5")])
            off.append(w)
            w, s = run(base + ["--out", os.path.join(a.work, "sig.h5"), "--significance",
                               str(a.resamples)])
            on.append(w)
            phase.append(s["significance"]["seconds"])
            clusters = s["clusters"]
        planted, other = verdicts(os.path.join(a.work, "sig.h5"), inp)
        t0, t1 = statistics.median(off), statistics.median(on)
        low = sum(1 for x in other if x < 0.001)
        print(f"| {name} | {clusters} | {t0:.2f} | {t1:.2f} | {t1 - t0:+.2f} s ({100 * (t1 / t0 - 1):.0f}%) "
              f"| {statistics.median(phase):.2f} | {max(planted):.6f} ({len(planted)}) "
              f"| {min(other) if other else float('nan'):.6f}, {low} of {len(other)} |")


if __name__ == "__main__":
    main()
