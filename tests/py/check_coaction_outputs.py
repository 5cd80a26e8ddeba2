#!/usr/bin/python3
"""CTest: the results of a co-action view through export (pandas, networkx) and report.

Usage: check_coaction_outputs.py <chorus-binary> <report-script> <workdir>
Exit 0 = pass, 1 = fail, 77 = skipped (numpy, h5py, networkx, pandas or matplotlib missing; under
CI=true that is a failure: ci_skip.py).

A generated posts corpus, ingested and run through --view co_repost: the CSV export's weight
columns, the GEXF edge weights and the GraphML weight attributes equal /edges/weight*; the
report names the rule ("reposted the same post within 120 s") and shows the evidence of the
strongest links ("both reposted post ID N s apart") with ids that are in /coaction.
"""

import os
import re
import subprocess
import sys

from ci_skip import skip

try:
    import h5py
    import networkx as nx
    import numpy as np
    import pandas as pd
except ImportError as e:
    skip(f"cannot import h5py/networkx/numpy/pandas ({e})")

FAILURES = []


def check(cond, msg):
    print(("  ok    " if cond else "  FAIL  ") + msg, flush=True)
    if not cond:
        FAILURES.append(msg)


def run(cmd):
    print("+ " + " ".join(cmd), flush=True)
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        print(p.stdout + p.stderr)
        raise SystemExit(f"FAIL: exit {p.returncode}: {' '.join(cmd)}")
    return p


def main():
    chorus, report, work = (os.path.abspath(x) for x in sys.argv[1:4])
    os.makedirs(work, exist_ok=True)
    posts, inp, res = (os.path.join(work, x) for x in ("posts.csv", "in.h5", "r.h5"))
    run([chorus, "generate", "--posts", "--accounts", "600", "--seed", "3", "--out", posts,
         "--force", "--quiet"])
    run([chorus, "ingest", posts, "--out", inp, "--dim", "0", "--min-posts", "1", "--force",
         "--quiet"])
    run([chorus, "detect", "--input", inp, "--out", res, "--view", "co_repost", "--window", "120",
         "--min-weight", "2", "--force", "--quiet"])
    with h5py.File(res, "r") as f:
        ids = f["/accounts/id"][:]
        src, dst = f["/edges/src"][:], f["/edges/dst"][:]
        w, wsd, wds = (f["/edges/" + k][:] for k in ("weight", "weight_src_dst", "weight_dst_src"))
        labels = f["/labels"][:]
        ev_posts = set(int(x) for x in f["/coaction/post_src"][:]) | set(
            int(x) for x in f["/coaction/post_dst"][:])
    check(len(src) > 0, f"the corpus gives co-repost edges ({len(src)})")
    check(bool(np.all(w == np.maximum(wsd, wds))) and bool(np.all(w >= 2)),
          "weight = max of the directed weights, all >= --min-weight")
    want = {(int(ids[s]), int(ids[d])): (int(a), int(b), int(c))
            for s, d, a, b, c in zip(src, dst, w, wsd, wds) if labels[s] >= 0}

    csv_dir = os.path.join(work, "csv")
    run([chorus, "export", res, "--format", "csv", "--out", csv_dir, "--min-size", "1", "--force"])
    e = pd.read_csv(os.path.join(csv_dir, "edges.csv"))
    got = {(int(r.src_account_id), int(r.dst_account_id)): (int(r.weight), int(r.weight_src_dst),
                                                           int(r.weight_dst_src))
           for r in e.itertuples()}
    check(got == want, f"edges.csv weights equal the results ({len(got)} edges)")

    gexf = os.path.join(work, "r.gexf")
    run([chorus, "export", res, "--format", "gexf", "--out", gexf, "--min-size", "1", "--force"])
    g = nx.read_gexf(gexf)
    row_id = {str(int(r)): int(ids[int(r)]) for r in g.nodes}
    gw = {}
    for a, b, d in g.edges(data=True):
        key = (row_id[a], row_id[b]) if (row_id[a], row_id[b]) in want else (row_id[b], row_id[a])
        gw[key] = (int(d["weight"]), int(d["weight_src_dst"]), int(d["weight_dst_src"]))
    check(gw == want, "GEXF edge weights (networkx) equal the results")

    gml = os.path.join(work, "r.graphml")
    run([chorus, "export", res, "--format", "graphml", "--out", gml, "--min-size", "1", "--force"])
    g = nx.read_graphml(gml)
    ok = all(int(d["weight"]) == want.get((int(g.nodes[a]["account_id"]), int(g.nodes[b]["account_id"])),
                                          want.get((int(g.nodes[b]["account_id"]),
                                                    int(g.nodes[a]["account_id"])), (-1,)))[0]
             for a, b, d in g.edges(data=True))
    check(ok and g.number_of_edges() == len(want), "GraphML weight attributes equal the results")

    html = os.path.join(work, "r.html")
    run(["/usr/bin/python3", report, res, "--out", html, "--force"])
    text = open(html, encoding="utf-8").read()
    check("reposted the same post within <b>120 s</b>" in text, "the report states the co-action rule")
    shown = [int(x) for x in re.findall(r"both reposted post (\d+) \d+ s apart", text)]
    check(len(shown) > 0, f"the report shows co-action evidence ({len(shown)} objects)")
    with h5py.File(inp, "r") as f:
        reposted = set(int(x) for x in f["/posts/repost"][:] if x >= 0)
    check(all(x in reposted for x in shown), "every post named in the report was reposted in the input")
    check(len(ev_posts) > 0, "/coaction holds post ids")

    # --edges: the report states the expression, its terms in words, and which terms held
    run([chorus, "ingest", posts, "--out", inp, "--dim", "16", "--min-posts", "1", "--force",
         "--quiet"])
    run([chorus, "detect", "--input", inp, "--out", res, "--edges",
         "co_repost>=2 | (embedding>=0.9 & activity>=0.3)", "--window", "120", "--force", "--quiet"])
    run(["/usr/bin/python3", report, res, "--out", html, "--force"])
    text = open(html, encoding="utf-8").read()
    check("co_repost&gt;=2 | (embedding&gt;=0.9 &amp; activity&gt;=0.3)</b> holds for them" in text,
          "the report states the --edges expression")
    check("co_repost&gt;=2: reposted the same post within 120 s, at least 2 times" in text,
          "the report explains each term")
    check("terms that held" in text, "the link table says which terms held")

    # two co-action views: the CSV export carries which terms held and each view's weights
    run([chorus, "detect", "--input", inp, "--out", res, "--edges", "co_repost>=2 | co_link>=2",
         "--window", "120", "--force", "--quiet"])
    run([chorus, "export", res, "--format", "csv", "--out", csv_dir, "--min-size", "1", "--force"])
    e = pd.read_csv(os.path.join(csv_dir, "edges.csv"))
    with h5py.File(res, "r") as f:
        terms = dict(zip(zip(f["/edges/src"][:].tolist(), f["/edges/dst"][:].tolist()),
                         f["/edges/terms"][:].tolist()))
        w_link = dict(zip(zip(f["/edges/src"][:].tolist(), f["/edges/dst"][:].tolist()),
                          f["/edges/co_link/weight_src_dst"][:].tolist()))
    cols = {"terms", "co_repost_weight_src_dst", "co_repost_weight_dst_src",
            "co_link_weight_src_dst", "co_link_weight_dst_src"}
    check(cols <= set(e.columns), f"edges.csv has {sorted(cols)}")
    if cols <= set(e.columns):
        check(all(terms[(r.src, r.dst)] == r.terms and w_link[(r.src, r.dst)] == r.co_link_weight_src_dst
                  for r in e.itertuples()), "edges.csv terms and co_link weights equal /edges")
    if FAILURES:
        print(f"FAIL: {len(FAILURES)} checks failed")
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
