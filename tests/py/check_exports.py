#!/usr/bin/python3
"""CTest: `chorus export` output parses with networkx (GraphML, GEXF) and pandas (CSV).

Usage: check_exports.py <chorus-binary> <workdir>
Exit 0 = pass, 1 = fail, 77 = skipped (numpy, h5py, networkx, pandas or lxml missing; under
CI=true that is a failure, exit 1: see ci_skip.py). A chorus whose `export --help` fails is a
failure.

Two inputs: a generated one (both views) and a hand-written one whose handles need quoting and
escaping (commas, quotes, a newline, '<&>', non-ASCII) and whose activity view is not used (so
sim_activity is NaN and must come out as an empty CSV field / a missing GraphML value).
Each result is exported as GraphML, GEXF 1.2 and CSV (--min-size 1, and --min-size 20 for the
counts) and compared with the results file read by h5py.

GraphML: Debian ships no GraphML XSD (checked: no package provides graphml.xsd), so the file is
validated against the XSD only when one is found at $GRAPHML_XSD or under /usr/share; otherwise
a structural check (namespace, <key> declarations, every <data key> declared for its element
kind) is done and a note is printed.
GEXF: chorus writes GEXF 1.2 (1.2draft namespace), which Gephi and networkx 2.8 (Debian 12, which
reads 1.1draft/1.2draft only) both read; the file is read by the installed networkx unchanged.
"""

import glob
import math
import os
import shutil
import subprocess
import sys

from ci_skip import skip

try:
    import numpy as np
    import h5py
    import networkx as nx
    import pandas as pd
    from lxml import etree
except ImportError as e:
    skip(f"cannot import numpy/h5py/networkx/pandas/lxml ({e})")

FAILURES = []
GRAPHML_NS = "http://graphml.graphdrawing.org/xmlns"


def check(cond, msg):
    print(("  ok    " if cond else "  FAIL  ") + msg)
    if not cond:
        FAILURES.append(msg)
    return bool(cond)


def run(cmd, expect=0):
    print("+ " + " ".join(cmd), flush=True)
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != expect:
        print(p.stdout + p.stderr)
        raise SystemExit(f"FAIL: exit {p.returncode} (expected {expect}): {' '.join(cmd)}")
    return p


def load(results, min_size):
    with h5py.File(results, "r") as f:
        r = {
            "labels": f["labels"][:], "ids": f["accounts/id"][:],
            "size": f["clusters/size"][:], "offsets": f["clusters/offsets"][:],
            "members": f["clusters/members"][:],
            "src": f["edges/src"][:], "dst": f["edges/dst"][:],
            "se": f["edges/sim_embedding"][:], "sa": f["edges/sim_activity"][:],
            "handles": None, "coactive": None,
        }
        if "evidence/cluster_member_handles" in f:
            r["handles"] = [h.decode() if isinstance(h, bytes) else h
                            for h in f["evidence/cluster_member_handles"][:]]
        if "evidence/edge_coactive_count" in f:
            r["coactive"] = f["evidence/edge_coactive_count"][:]
    sel = r["size"] >= min_size
    keep = sel[r["labels"][r["src"]]] if len(r["src"]) else np.zeros(0, bool)
    r["keep"] = keep
    deg = np.zeros(len(r["labels"]), np.int64)
    np.add.at(deg, r["src"][keep], 1)
    np.add.at(deg, r["dst"][keep], 1)
    r["degree"] = deg
    nodes = {}
    for c in np.nonzero(sel)[0]:
        for q in range(r["offsets"][c], r["offsets"][c + 1]):
            row = int(r["members"][q])
            nodes[row] = (int(c), r["handles"][q] if r["handles"] is not None else None)
    r["nodes"] = nodes
    r["sel"] = sel
    return r


def same_float(a, b):
    if a is None or (isinstance(a, float) and math.isnan(a)):
        return math.isnan(b)
    return abs(float(a) - float(b)) <= 1e-7


def check_graph(g, r, what, node_of):
    check(g.number_of_nodes() == len(r["nodes"]), f"{what}: {len(r['nodes'])} nodes")
    check(g.number_of_edges() == int(r["keep"].sum()), f"{what}: {int(r['keep'].sum())} edges")
    bad = 0
    for row, (c, h) in r["nodes"].items():
        a = g.nodes[node_of(row)]
        ok = (int(a["row"]) == row and int(a["account_id"]) == int(r["ids"][row])
              and int(a["cluster"]) == c and int(a["degree"]) == int(r["degree"][row]))
        if h is not None:
            ok = ok and a.get("handle") == h
        bad += not ok
    check(bad == 0, f"{what}: node attributes (row, account_id, cluster, degree, handle) match ({bad} bad)")
    bad = 0
    for k in np.nonzero(r["keep"])[0]:
        a = g.edges[node_of(int(r["src"][k])), node_of(int(r["dst"][k]))]
        ok = same_float(a.get("sim_embedding"), r["se"][k]) and same_float(a.get("sim_activity"), r["sa"][k])
        if r["coactive"] is not None:
            ok = ok and int(a["coactive_count"]) == int(r["coactive"][k])
        bad += not ok
    check(bad == 0, f"{what}: edge attributes match ({bad} bad)")


def graphml_structure(path):
    tree = etree.parse(path)
    root = tree.getroot()
    check(root.tag == f"{{{GRAPHML_NS}}}graphml", "GraphML: root element in the GraphML namespace")
    keys = {k.get("id"): k.get("for") for k in root.findall(f"{{{GRAPHML_NS}}}key")}
    ok = all(k.get("attr.type") in ("boolean", "int", "long", "float", "double", "string")
             for k in root.findall(f"{{{GRAPHML_NS}}}key"))
    check(ok, "GraphML: every <key> has a valid attr.type")
    bad = 0
    for el in root.iter(f"{{{GRAPHML_NS}}}data"):
        kind = etree.QName(el.getparent()).localname
        bad += keys.get(el.get("key")) not in (kind, "all")
    check(bad == 0, "GraphML: every <data> refers to a <key> declared for its element")
    xsd = os.environ.get("GRAPHML_XSD") or next(iter(glob.glob("/usr/share/**/graphml*.xsd", recursive=True)), None)
    if xsd and os.path.exists(xsd):
        schema = etree.XMLSchema(etree.parse(xsd))
        check(schema.validate(tree), f"GraphML: valid against {xsd} {schema.error_log}")
    else:
        print("  note  no GraphML XSD installed (Debian ships none): structural check only")


def read_gexf12(path):
    """GEXF 1.2, read by the installed networkx as it is (Debian 12's 2.8.8 reads 1.2draft only)."""
    text = open(path, encoding="utf-8").read()
    check('xmlns="http://www.gexf.net/1.2draft"' in text and 'version="1.2"' in text,
          "GEXF: 1.2draft namespace and version")
    etree.parse(path)  # well-formed
    return nx.read_gexf(path)


def check_csv(d, r):
    cl = pd.read_csv(os.path.join(d, "clusters.csv"))
    me = pd.read_csv(os.path.join(d, "members.csv"))
    ed = pd.read_csv(os.path.join(d, "edges.csv"))
    check(len(cl) == int(r["sel"].sum()), f"CSV: clusters.csv has {int(r['sel'].sum())} rows")
    check(list(cl["size"]) == [int(s) for s in r["size"][r["sel"]]], "CSV: cluster sizes match")
    check(len(me) == len(r["nodes"]), f"CSV: members.csv has {len(r['nodes'])} rows")
    check(len(ed) == int(r["keep"].sum()), f"CSV: edges.csv has {int(r['keep'].sum())} rows")
    check(me["account_id"].dtype == np.int64 and ed["src"].dtype == np.int64, "CSV: integer columns read as int64")
    rows = me["row"].to_numpy()
    check(all(int(r["ids"][x]) == a for x, a in zip(rows, me["account_id"])), "CSV: member account ids match")
    check(all(r["nodes"][int(x)][0] == c for x, c in zip(rows, me["cluster"])), "CSV: member clusters match")
    check(all(int(r["degree"][x]) == g for x, g in zip(rows, me["degree"])), "CSV: member degrees match")
    if r["handles"] is not None:
        got = [None if isinstance(h, float) else h for h in me["handle"]]
        want = [r["nodes"][int(x)][1] for x in rows]
        check(got == want, "CSV: handles survive quoting")
    k = r["keep"]
    check(np.array_equal(ed["src"].to_numpy(), r["src"][k]) and np.array_equal(ed["dst"].to_numpy(), r["dst"][k]),
          "CSV: edge endpoints match")
    for col, ref in (("sim_embedding", r["se"][k]), ("sim_activity", r["sa"][k])):
        v = ed[col].to_numpy(dtype=np.float64)
        same = np.array_equal(np.isnan(v), np.isnan(ref)) and np.allclose(v[~np.isnan(v)], ref[~np.isnan(ref)], atol=1e-7)
        check(same, f"CSV: {col} matches (NaN as empty: {int(np.isnan(ref).sum())} NaN)")
    if r["coactive"] is not None:
        check(np.array_equal(ed["coactive_count"].to_numpy(), r["coactive"][k]), "CSV: coactive_count matches")


def odd_input(path):
    """200 accounts: 2 tight embedding groups of 20, the rest noise; odd handles."""
    rng = np.random.default_rng(3)
    n, d = 200, 16
    x = rng.normal(size=(n, d))
    for g in range(2):
        c = rng.normal(size=d)
        x[g * 20:(g + 1) * 20] = c + 0.02 * rng.normal(size=(20, d))
    odd = ["a,b", 'quote"x', "new\nline", "<&>", "ünïcødé", " padded ", "", "NA-ish"]
    handles = [odd[i % len(odd)] + str(i) for i in range(n)]
    with h5py.File(path, "w") as f:
        f["accounts/id"] = np.arange(n, dtype=np.int64) * 7 + 100
        f.create_dataset("accounts/handle", data=handles, dtype=h5py.string_dtype("utf-8"))
        f["embedding"] = x.astype(np.float32)
        f["activity"] = rng.poisson(1.0, size=(n, 24)).astype(np.float32)


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    chorus, work = sys.argv[1], sys.argv[2]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    h = subprocess.run([chorus, "export", "--help"], capture_output=True, text=True)
    if h.returncode != 0:  # export is a shipped command: a chorus without it is broken
        print(f"FAIL: `chorus export --help` exits {h.returncode}: {h.stderr.strip()[-500:]}")
        return 1
    gen = os.path.join(work, "gen.h5")
    run([chorus, "generate", "--accounts", "3000", "--dim", "32", "--bins", "48", "--clusters", "5",
         "--seed", "4", "--out", gen])
    odd = os.path.join(work, "odd.h5")
    odd_input(odd)
    cases = [("gen", gen, []), ("odd", odd, ["--view", "embedding"])]
    for name, inp, extra in cases:
        res = os.path.join(work, f"{name}_res.h5")
        run([chorus, "detect", "--input", inp, "--out", res, "--threads", "2"] + extra)
        for min_size in (1, 20):
            print(f"== {name}, --min-size {min_size}")
            r = load(res, min_size)
            if r["handles"] is None:
                print("  note  results have no /evidence/cluster_member_handles: handle checks skipped")
            base = os.path.join(work, f"{name}_{min_size}")
            for fmt, out in (("graphml", base + ".graphml"), ("gexf", base + ".gexf"), ("csv", base + "_csv")):
                run([chorus, "export", res, "--format", fmt, "--out", out, "--min-size", str(min_size)])
            graphml_structure(base + ".graphml")
            check_graph(nx.read_graphml(base + ".graphml"), r, "GraphML", lambda row: f"n{row}")
            check_graph(read_gexf12(base + ".gexf"), r, "GEXF", lambda row: str(row))
            check_csv(base + "_csv", r)
        # refusing to overwrite is exit code 2; --force overwrites
        run([chorus, "export", res, "--format", "gexf", "--out", base + ".gexf", "--min-size", "1"], expect=2)
        run([chorus, "export", res, "--format", "gexf", "--out", base + ".gexf", "--min-size", "1", "--force"])
        run([chorus, "export", res, "--format", "svg", "--out", base + ".svg"], expect=2)
    print("FAILED: " + "; ".join(FAILURES) if FAILURES else "PASSED")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
