#!/usr/bin/env python3
"""Reading overlapped with scoring vs reading first: end-to-end `chorus detect` times.

Generates an input (unless --input is given), then runs `chorus detect --json` alternately with
CHORUS_READ_OVERLAP=0 (read the whole file, then score) and the default (the reader thread
overlaps scoring), --runs times each, checks that every run found the same edges and
candidates, and prints the medians of the end-to-end, read and score seconds.

  /usr/bin/python3 bench/read_overlap.py --chorus build/chorus --runs 9
  /usr/bin/python3 bench/read_overlap.py --chorus build/chorus --backend cuda   # on a GPU host
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chorus", required=True)
    ap.add_argument("--input", help="an existing input file (default: generate one)")
    ap.add_argument("--accounts", type=int, default=100000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--bins", type=int, default=336)
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "chorus_read_overlap"))
    a = ap.parse_args()
    os.makedirs(a.workdir, exist_ok=True)
    path = a.input
    if not path:
        path = os.path.join(a.workdir, f"in-{a.accounts}x{a.dim}x{a.bins}.h5")
        if not os.path.exists(path):
            subprocess.run([a.chorus, "generate", "--accounts", str(a.accounts), "--dim",
                            str(a.dim), "--bins", str(a.bins), "--clusters", "30", "--seed", "3",
                            "--out", path, "--quiet"], check=True)
    out = os.path.join(a.workdir, "out.h5")
    runs = {"0": [], "1": []}
    found = set()
    for _ in range(a.runs):
        for ov in ("1", "0"):
            env = dict(os.environ, CHORUS_READ_OVERLAP=ov)
            p = subprocess.run([a.chorus, "detect", "--input", path, "--out", out, "--force",
                                "--json", "--no-evidence", "--backend", a.backend],
                               env=env, capture_output=True, text=True)
            if p.returncode != 0:
                print(p.stderr, file=sys.stderr)
                return 1
            j = json.loads(p.stdout.splitlines()[0])
            runs[ov].append(j["seconds"])
            found.add((j["edges"], j["candidates"]))
    if len(found) != 1:
        print(f"runs disagree: {sorted(found)}", file=sys.stderr)
        return 1
    med = lambda xs, k: statistics.median(x[k] for x in xs)
    print(f"input {path}, backend {a.backend}, {a.runs} runs each, edges/candidates {found.pop()}")
    for ov, name in (("0", "read first"), ("1", "overlapped")):
        r = runs[ov]
        print(f"{name:11s} total {med(r, 'total'):.3f} s (min {min(x['total'] for x in r):.3f})"
              f"  read {med(r, 'read'):.3f}  score {med(r, 'score'):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
