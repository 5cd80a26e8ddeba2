#!/usr/bin/python3
"""CTest: chorus results files are readable by h5py and exactly right.

Usage: check_results.py <chorus-binary> <workdir>
Exit 0 = pass, 1 = fail, 77 = skipped (numpy or h5py cannot be imported; under CI=true that
is a failure, exit 1: see ci_skip.py).

It generates a small input (3000 accounts, 32-dim embedding, 48 activity bins, 5 planted
clusters), runs `chorus detect` for the default view (both views), for each single view and
with --precision fp32, reads every object of each results file with h5py, checks the layout
invariants (labels, cluster CSR, edges, similarity arrays, JSON summary), and brute-forces all
pairs in float64 with numpy to check the edge set against the exactness contract: every pair's
decision equals the float64 decision except pairs whose float64 similarity lies within 1e-5 of a
threshold.
"""

import json
import os
import subprocess
import sys

from ci_skip import skip

try:
    import numpy as np
    import h5py
except ImportError as e:  # the CTest registration treats 77 as "skipped"
    skip(f"cannot import numpy/h5py ({e})")

N, DIM, BINS, CLUSTERS, SEED = 3000, 32, 48, 5, 7
T_EMB = T_ACT = 0.8  # documented CLI defaults
TOL = 1e-5           # exactness contract band
SIM_TOL = 1e-4       # stored fp32 similarities versus float64
FAILURES = []


def ok(msg):
    print(f"  ok    {msg}")


def fail(msg):
    print(f"  FAIL  {msg}")
    FAILURES.append(msg)


def check(cond, msg):
    (ok if cond else fail)(msg)
    return bool(cond)


def run(cmd):
    print("+ " + " ".join(cmd), flush=True)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=900)
    if p.returncode != 0:
        print(p.stdout)
        print(p.stderr)
        print(f"FAIL: exit status {p.returncode}")
        sys.exit(1)
    return p


# ------------------------------------------------------------------------ float64 reference
MIN_ACTIVITY = 5  # chorus detect's default --min-activity (README, "Views")


def unit_rows(m):
    """Rows scaled to unit L2 norm in float64; zero rows (no defined similarity) flagged."""
    nrm = np.linalg.norm(m, axis=1)
    valid = nrm > 0
    out = np.zeros_like(m)
    out[valid] = m[valid] / nrm[valid, None]
    return out, valid


def similarity(m):
    u, valid = unit_rows(m)
    s = u @ u.T
    s[~valid, :] = -np.inf  # rows chorus marks invalid never get edges
    s[:, ~valid] = -np.inf
    return s, int(np.sum(~valid))


def load_reference(path):
    with h5py.File(path, "r") as f:
        emb = f["embedding"][...]
        act = f["activity"][...]
        truth = f["truth/cluster"][...] if "truth/cluster" in f else None
    check(emb.shape == (N, DIM) and emb.dtype == np.float32, f"input /embedding float32 {emb.shape}")
    check(act.shape == (N, BINS) and act.dtype == np.int32, f"input /activity int32 {act.shape}")
    se, bad_e = similarity(emb.astype(np.float64))
    a = act.astype(np.float64)
    # README "Views": accounts with fewer than --min-activity posts (default 5) are left out
    sparse = a.sum(axis=1) < MIN_ACTIVITY
    centred = a - a.mean(axis=1, keepdims=True)
    centred[sparse] = 0
    sa, bad_a = similarity(centred)
    print(f"  reference: float64 cosine / Pearson of all {N * (N - 1) // 2} pairs "
          f"(rows without a defined similarity: embedding {bad_e}, activity {bad_a})")
    return {"emb": se, "act": sa, "truth": truth, "invalid_embedding_rows": bad_e,
            "invalid_activity_rows": bad_a, "sparse_activity_rows": int(np.sum(sparse))}


# ------------------------------------------------------------------------ results checks
def read_everything(path):
    """Open with h5py and read every dataset and attribute (the 'readable by h5py' part)."""
    objs = {}
    with h5py.File(path, "r") as f:
        attrs = {k: f.attrs[k] for k in f.attrs.keys()}

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                objs[name] = obj[()]
            for k in obj.attrs.keys():
                obj.attrs[k]  # noqa: B018 (reading is the check)

        f.visititems(visit)
    return objs, attrs


def attr_text(v):
    if isinstance(v, bytes):
        return v.decode(errors="replace")
    if isinstance(v, np.ndarray) and v.size == 1:
        v = v.reshape(()).item()
    if isinstance(v, np.generic):
        v = v.item()
    return v


def find_ints(obj, key, out):
    """Collect int values stored under `key` anywhere in a parsed JSON object."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == key and isinstance(v, int) and not isinstance(v, bool):
                out.append(v)
            find_ints(v, key, out)
    elif isinstance(obj, list):
        for v in obj:
            find_ints(v, key, out)
    return out


def components(n, src, dst):
    """Union-find over the edge list; returns canonical labels (smallest member, -1 isolated)."""
    parent = list(range(n))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in zip(src.tolist(), dst.tolist()):
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    roots = np.array([find(i) for i in range(n)], dtype=np.int64)
    deg = np.bincount(np.concatenate([src, dst]), minlength=n) if len(src) else np.zeros(n, int)
    roots[deg == 0] = -1
    return roots


def canonical(labels):
    out = np.full(len(labels), -1, dtype=np.int64)
    for k in np.unique(labels[labels >= 0]):
        m = np.nonzero(labels == k)[0]
        out[m] = m.min()
    return out


def check_results(res, stdout, ref, view):
    print(f"checking {res} (view {view})")
    objs, attrs = read_everything(res)
    ok(f"h5py read {len(objs)} datasets and {len(attrs)} root attributes")
    check(len(attrs) > 0, "root attributes present: " + ", ".join(sorted(attrs)))
    for k in sorted(attrs):
        print(f"        @{k} = {attr_text(attrs[k])!r}"[:160])

    required = ["labels", "edges/src", "edges/dst", "edges/sim_embedding", "edges/sim_activity",
                "clusters/size", "clusters/offsets", "clusters/members"]
    missing = [r for r in required if r not in objs]
    if not check(not missing, "datasets present: " + ", ".join(required)
                 + (f" (missing {missing})" if missing else "")):
        return
    labels, src, dst = objs["labels"], objs["edges/src"], objs["edges/dst"]
    s_emb, s_act = objs["edges/sim_embedding"], objs["edges/sim_activity"]
    size, offsets, members = objs["clusters/size"], objs["clusters/offsets"], objs["clusters/members"]

    # ---- labels
    check(labels.shape == (N,) and labels.dtype == np.int64, f"/labels int64 shape {labels.shape}")
    check(labels.min() >= -1, f"/labels >= -1 (min {labels.min()})")
    k = len(size)
    used = np.unique(labels[labels >= 0])
    check(np.array_equal(used, np.arange(k)), f"cluster ids are exactly 0..K-1 (K = {k})")
    # ---- clusters CSR
    for name, arr in (("size", size), ("offsets", offsets), ("members", members)):
        check(arr.dtype == np.int64 and arr.ndim == 1, f"/clusters/{name} int64 rank 1")
    counts = np.bincount(labels[labels >= 0], minlength=k)[:k] if k else np.zeros(0, np.int64)
    check(np.array_equal(size, counts), "/clusters/size equals the label counts")
    check(k == 0 or size.min() >= 2, "every cluster has at least 2 members")
    check(np.all(np.diff(size) <= 0), "cluster sizes descend")
    first = np.array([np.nonzero(labels == c)[0].min() for c in range(k)], dtype=np.int64)
    ties = [(c, c + 1) for c in range(k - 1) if size[c] == size[c + 1] and first[c] > first[c + 1]]
    check(not ties, f"equal sizes ordered by smallest member row ({sum(size[:-1] == size[1:])} ties)"
          + (f"; wrong order at ids {ties[:5]}" if ties else ""))
    csr_ok = offsets.shape == (k + 1,) and offsets[0] == 0 and offsets[-1] == len(members) \
        and np.array_equal(np.diff(offsets), size)
    if check(csr_ok, f"/clusters/offsets is the prefix sum of sizes ({len(members)} members)"):
        bad = [c for c in range(k) if not np.array_equal(
            np.sort(members[offsets[c]:offsets[c + 1]]), np.nonzero(labels == c)[0])]
        check(not bad, "/clusters/members lists exactly the rows of each label"
              + (f"; wrong for ids {bad[:5]}" if bad else ""))
    # ---- edges
    e = len(src)
    check(src.dtype == np.int64 and dst.dtype == np.int64 and src.shape == dst.shape == (e,),
          f"/edges/src, /edges/dst int64 of length {e}")
    check(e == 0 or (src.min() >= 0 and dst.max() < N), "edge endpoints are row indices")
    check(np.all(src < dst), "every edge has src < dst")
    codes = src * N + dst
    check(len(np.unique(codes)) == e, "no duplicate edges")
    check(np.all(labels[src] == labels[dst]) and np.all(labels[src] >= 0),
          "both endpoints of each edge carry the same label, and it is not -1")
    touched = np.zeros(N, bool)
    touched[src] = True
    touched[dst] = True
    check(np.array_equal(touched, labels >= 0),
          f"an account is labelled iff it has an edge ({int(touched.sum())} accounts with edges)")
    check(np.array_equal(components(N, src, dst), canonical(labels)),
          "labels are the connected components of the edge graph")
    for name, arr in (("sim_embedding", s_emb), ("sim_activity", s_act)):
        check(arr.dtype == np.float32 and arr.shape == (e,), f"/edges/{name} float32 of length {e}")
    use_e, use_a = view in ("both", "embedding"), view in ("both", "activity")
    ref_e, ref_a = ref["emb"][src, dst], ref["act"][src, dst]
    for name, arr, used_v, r in (("sim_embedding", s_emb, use_e, ref_e),
                                 ("sim_activity", s_act, use_a, ref_a)):
        if used_v:
            err = np.abs(arr.astype(np.float64) - r) if e else np.zeros(1)
            check(np.all(np.isfinite(arr)) and err.max() <= SIM_TOL,
                  f"/edges/{name} matches float64 (max |err| {err.max():.2e} <= {SIM_TOL:g})")
        else:
            check(np.all(np.isnan(arr)), f"/edges/{name} is NaN (view not used)")

    # ---- JSON summary on stdout
    try:
        summary = json.loads(stdout)
        if not check(isinstance(summary, dict), "stdout parses as one JSON object"):
            summary = {}
        print("        JSON keys: " + ", ".join(sorted(summary)))
        for key, want in (("edges", e), ("clusters", k), ("accounts", N),
                          ("invalid_embedding_rows", ref["invalid_embedding_rows"] if use_e else None),
                          ("invalid_activity_rows", ref["invalid_activity_rows"] if use_a else None)):
            if want is None:
                continue
            got = find_ints(summary, key, [])
            if got:
                check(want in got, f"JSON '{key}' = {got[0]} matches the file ({want})")
    except ValueError as ex:
        fail(f"stdout does not parse as JSON ({ex}): {stdout[:200]!r}")

    # ---- exactness against the float64 brute force
    te, ta = T_EMB, T_ACT
    for key, v in attrs.items():  # use recorded thresholds when the file names them plainly
        if key in ("threshold", "threshold_embedding"):
            te = float(attr_text(v))
        elif key == "threshold_activity":
            ta = float(attr_text(v))
    check(te == T_EMB and ta == T_ACT, f"thresholds {te} / {ta} (defaults 0.8)")
    s_e, s_a = ref["emb"], ref["act"]
    iu = np.triu_indices(N, 1)
    se, sa = s_e[iu], s_a[iu]
    true_e, false_e = se >= te + TOL, se < te - TOL
    true_a, false_a = sa >= ta + TOL, sa < ta - TOL
    if view == "embedding":
        must, forbid = true_e, false_e
    elif view == "activity":
        must, forbid = true_a, false_a
    else:
        must, forbid = true_e & true_a, false_e | false_a
    have = np.zeros(N * N, bool)
    have[codes] = True
    have = have[iu[0] * N + iu[1]]
    band = ~must & ~forbid
    missing = np.nonzero(must & ~have)[0]
    extra = np.nonzero(forbid & have)[0]
    print(f"        float64 decision: {int(must.sum())} pairs must be edges, {int(band.sum())} within "
          f"1e-5 of a threshold (either way allowed, chorus kept {int((band & have).sum())})")
    check(len(missing) == 0, f"no edge missing versus float64 ({len(missing)} missing)")
    check(len(extra) == 0, f"no extra edge versus float64 ({len(extra)} extra)")
    for kind, idx in (("missing", missing), ("extra", extra)):
        for p in idx[:10]:
            print(f"        {kind} edge ({iu[0][p]}, {iu[1][p]}): cos64 {se[p]:.9f}  pearson64 {sa[p]:.9f}")
    if e:
        margin_e = (ref_e - te).min() if use_e else 0.0
        margin_a = (ref_a - ta).min() if use_a else 0.0
        check(margin_e >= -TOL and margin_a >= -TOL,
              f"every edge's float64 similarity >= threshold - 1e-5 "
              f"(min margin embedding {margin_e:+.2e}, activity {margin_a:+.2e})")

    # ---- informational: recovery of the planted clusters
    truth = ref["truth"]
    if truth is not None and k:
        planted = truth >= 0
        print(f"        info: {k} clusters, {int((labels >= 0).sum())} labelled accounts; planted "
              f"{len(np.unique(truth[planted]))} clusters / {int(planted.sum())} accounts, "
              f"{int((planted & (labels >= 0)).sum())} of them labelled")


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    chorus, work = sys.argv[1], sys.argv[2]
    if not os.access(chorus, os.X_OK):
        print(f"FAIL: chorus binary {chorus!r} is not executable")
        return 1
    os.makedirs(work, exist_ok=True)
    inp = os.path.join(work, "in.h5")
    run([chorus, "generate", "--accounts", str(N), "--dim", str(DIM), "--bins", str(BINS),
         "--clusters", str(CLUSTERS), "--seed", str(SEED), "--out", inp, "--force"])
    ref = load_reference(inp)
    runs = [("both", "res.h5", []),  # the default view when both views exist
            ("embedding", "res_embedding.h5", ["--view", "embedding"]),
            ("activity", "res_activity.h5", ["--view", "activity"]),
            # results are exact whatever the first-pass precision (auto picks int8 where it can)
            ("both", "res_fp32.h5", ["--precision", "fp32"])]
    for view, name, extra in runs:
        res = os.path.join(work, name)
        p = run([chorus, "detect", "--input", inp, "--out", res, "--force", "--quiet", "--json"] + extra)
        check_results(res, p.stdout, ref, view)

    # Edge cases on a copy: rows without a defined similarity (zero embedding, constant or empty
    # activity) must get no edge; identical rows (similarity exactly 1) must be joined.
    edge = os.path.join(work, "in_edge.h5")
    with open(inp, "rb") as src, open(edge, "wb") as dst:
        dst.write(src.read())
    with h5py.File(edge, "r+") as f:
        emb, act, truth = f["embedding"][...], f["activity"][...], f["truth/cluster"][...]
        planted = np.nonzero(truth >= 0)[0]
        organic = np.nonzero((truth < 0) & (act.sum(axis=1) >= MIN_ACTIVITY))[0]
        emb[planted[0]] = 0                # zero embedding inside a planted cluster
        act[planted[1]] = 3                # constant activity inside a planted cluster
        act[planted[2]] = 0                # empty activity inside a planted cluster
        emb[organic[1]] = emb[organic[0]]  # an identical pair of organic accounts
        act[organic[1]] = act[organic[0]]
        f["embedding"][...] = emb
        f["activity"][...] = act
    print(f"edge-case input {edge}: zero embedding row {planted[0]}, constant activity row "
          f"{planted[1]}, empty activity row {planted[2]}, identical rows {organic[0]}/{organic[1]}")
    ref = load_reference(edge)
    check(ref["invalid_embedding_rows"] == 1 and
          ref["invalid_activity_rows"] == ref["sparse_activity_rows"] + 1,
          "edge-case input has 1 invalid embedding row, and as invalid activity rows the sparse "
          "ones (the empty row among them) and the constant one")
    for view, name, extra in runs[:3]:
        res = os.path.join(work, "edge_" + name)
        p = run([chorus, "detect", "--input", edge, "--out", res, "--force", "--quiet", "--json"] + extra)
        check_results(res, p.stdout, ref, view)
        with h5py.File(res, "r") as f:
            labels = f["labels"][...]
        if view in ("both", "embedding"):
            check(labels[planted[0]] == -1, f"zero embedding row {planted[0]} has no edge")
        if view in ("both", "activity"):
            check(labels[planted[1]] == -1 and labels[planted[2]] == -1,
                  f"zero-variance activity rows {planted[1]}, {planted[2]} have no edge")
        check(labels[organic[0]] >= 0 and labels[organic[0]] == labels[organic[1]],
              f"identical rows {organic[0]}, {organic[1]} share a cluster")
    if FAILURES:
        print(f"FAILED: {len(FAILURES)} check(s)")
        for f in FAILURES:
            print(f"  - {f}")
        return 1
    print("PASSED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
