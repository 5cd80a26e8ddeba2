#!/usr/bin/python3
"""chorus performance bar: `chorus detect` versus FAISS range search + SciPy components.

The bar (README): on the 2-core reference machine, `chorus detect` on 50,000 x 384 float32
embeddings at threshold 0.8 must be at least 3x faster end to end than

    FAISS IndexFlatIP.range_search(x, 0.8)  ->  scipy.sparse.csgraph.connected_components

and must produce the same components (up to the exactness contract: a pair may only be decided
differently from float64 when its float64 cosine lies within 1e-5 of the threshold).

Both sides use exactly --threads threads: OMP_NUM_THREADS / OPENBLAS_NUM_THREADS / MKL_NUM_THREADS
are set before numpy and faiss are imported, faiss.omp_set_num_threads() is called, and the chorus
process gets the same environment plus --threads.

FAISS notes (python3-faiss 1.7.3, checked by --self-test):
  * range_search on an inner-product index keeps results with IP > radius (strictly greater);
    chorus keeps cosine >= threshold. Pairs exactly at the threshold are measure-zero and fall
    inside the 1e-5 contract band anyway.
  * For >= 20 queries (faiss.cvar.distance_compute_blas_threshold) FAISS computes the inner
    products with the system BLAS sgemm. Debian's python3-faiss links libblas.so.3, which
    .ci/setup.sh makes OpenBLAS (libopenblas0-pthread); with the netlib reference BLAS instead
    the sgemm is single-threaded and slow, and FAISS's own SIMD loop is faster. --faiss-path chooses:
      blas   FAISS defaults (sgemm path),
      simd   distance_compute_blas_threshold raised so the OpenMP/SIMD loop is used,
      best   run both in full, keep the faster one as the baseline,
      auto   (default) time both on the first 2048 queries, then run only the faster one in full.
    The baseline is thus the fastest FAISS this machine offers.

Run with Debian's python (numpy, h5py, scipy, faiss):
    /usr/bin/python3 bench/compare_faiss.py --chorus build/chorus
Exit status: 0 = components agree (within the contract), 1 = disagreement beyond the contract,
2 = usage / tool failure, 3 = --enforce-bar given and the speedup is below --bar.
"""

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

TOL = 1e-5  # the exactness contract's band around the threshold


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n", 2)[2])
    p.add_argument("--chorus", default="build/chorus", help="chorus binary (default build/chorus)")
    p.add_argument("--accounts", type=int, default=50000)
    p.add_argument("--dim", type=int, default=384)
    p.add_argument("--clusters", type=int, default=40, help="planted clusters for generate")
    p.add_argument("--threshold", type=float, default=0.8)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--repeat", type=int, default=1, help="timed runs per side; the minimum is kept")
    p.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "chorus_compare_faiss"))
    p.add_argument("--input", help="use this HDF5 input instead of generating one")
    p.add_argument("--keep", action="store_true",
                   help="keep chorus's results file in workdir (the generated input is always kept "
                        "there and reused by later runs)")
    p.add_argument("--faiss-path", choices=("blas", "simd", "best", "auto"), default="auto",
                   help="FAISS inner-product path (see above; default auto)")
    p.add_argument("--faiss-cache", action="store_true",
                   help="reuse FAISS pairs/timings saved in workdir for the same input, threshold, "
                        "threads and path (FAISS takes minutes here; handy while iterating)")
    p.add_argument("--faiss-only", action="store_true",
                   help="run only the FAISS half (with Python-generated data when chorus is absent)")
    p.add_argument("--chorus-arg", action="append", default=[],
                   help="extra argument passed to chorus detect (repeatable), e.g. --chorus-arg=--precision=fp32")
    p.add_argument("--bar", type=float, default=3.0, help="required end-to-end speedup (default 3)")
    p.add_argument("--enforce-bar", action="store_true", help="exit 3 when the speedup is below --bar")
    p.add_argument("--json", action="store_true", help="also print the figures as one JSON object")
    p.add_argument("--self-test", action="store_true",
                   help="check FAISS's range_search semantics on tiny inputs and exit")
    p.add_argument("--show", type=int, default=20, help="differing pairs to list (default 20)")
    p.add_argument("--verify-f64", action="store_true",
                   help="also brute-force every pair in float64 with numpy and check chorus's edge "
                        "set against it (slow: O(N^2 d) float64 work; meant for N <= ~20,000)")
    return p.parse_args(argv)


ARGS = parse_args()
# Thread counts must be fixed before numpy / faiss load their runtimes.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
    os.environ[var] = str(ARGS.threads)

import numpy as np  # noqa: E402

try:
    import h5py  # noqa: E402
    import faiss  # noqa: E402
    from scipy.sparse import coo_matrix  # noqa: E402
    from scipy.sparse.csgraph import connected_components  # noqa: E402
except ImportError as e:  # pragma: no cover
    sys.exit(f"compare_faiss: missing Python module ({e}); run with Debian's /usr/bin/python3")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def peak_rss_mib(who):
    r = resource.getrusage(who).ru_maxrss  # KiB on Linux
    return r / 1024.0


def blas_library():
    """Which libblas.so.3 the FAISS extension resolved to (from /proc/self/maps)."""
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f
                    if "/" in line and os.path.basename(line.split()[-1]).startswith(
                        ("libblas", "libopenblas", "libmkl", "libblis"))}
        return ", ".join(sorted(os.path.realpath(x) for x in libs)) or "unknown"
    except OSError:
        return "unknown"


# ---------------------------------------------------------------- FAISS semantics self-test
def self_test():
    faiss.omp_set_num_threads(ARGS.threads)
    ok = True
    a = np.array([[1.0, 0.0], [0.5, 0.75]], dtype=np.float32)  # exact IP 0.5, exact in fp32
    for path, thr in (("blas", 20), ("simd", 1 << 30)):
        faiss.cvar.distance_compute_blas_threshold = thr
        idx = faiss.IndexFlatIP(2)
        idx.add(a)
        q = np.repeat(a[:1], 32, axis=0)  # 32 queries so the BLAS path is taken at threshold 20
        lims, _, ids = idx.range_search(q, 0.5)
        eq = 1 in set(ids[lims[0]:lims[1]].tolist())
        lims, _, ids = idx.range_search(q, float(np.nextafter(np.float32(0.5), np.float32(0))))
        below = 1 in set(ids[lims[0]:lims[1]].tolist())
        print(f"faiss {faiss.__version__} {path}: IP == radius kept: {eq}; IP > radius kept: {below}")
        ok &= (not eq) and below
    faiss.cvar.distance_compute_blas_threshold = 20
    print("FAISS range_search(IP) keeps IP > radius (strict):", "yes" if ok else "NO")
    print("libblas:", blas_library())
    return 0 if ok else 1


# ---------------------------------------------------------------- data
def file_key(path):
    h = hashlib.sha1()
    st = os.stat(path)
    h.update(f"{os.path.realpath(path)}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def python_generate(path, n, d, clusters, seed):
    """Stand-in data for --faiss-only when no chorus binary exists (same layout as generate)."""
    rng = np.random.default_rng(seed)
    emb = rng.standard_normal((n, d), dtype=np.float32)
    truth = np.full(n, -1, dtype=np.int64)
    per = max(2, n // (4 * max(clusters, 1)))
    rows = rng.permutation(n)
    for c in range(clusters):
        m = rows[c * per:(c + 1) * per]
        if len(m) < 2:
            break
        centre = rng.standard_normal(d).astype(np.float32)
        centre /= np.linalg.norm(centre)
        noise = rng.standard_normal((len(m), d)).astype(np.float32)
        noise /= np.linalg.norm(noise, axis=1, keepdims=True)
        emb[m] = centre + np.float32(0.35) * noise
        truth[m] = c
    with h5py.File(path, "w") as f:
        f["accounts/id"] = np.arange(n, dtype=np.int64)
        f["embedding"] = emb
        f["truth/cluster"] = truth


def ensure_input(chorus_ok):
    if ARGS.input:
        return ARGS.input
    os.makedirs(ARGS.workdir, exist_ok=True)
    tag = f"{ARGS.accounts}x{ARGS.dim}_c{ARGS.clusters}_s{ARGS.seed}"
    if chorus_ok:
        path = os.path.join(ARGS.workdir, f"emb_{tag}.h5")
        if not os.path.exists(path):
            cmd = [ARGS.chorus, "generate", "--accounts", str(ARGS.accounts), "--dim", str(ARGS.dim),
                   "--bins", "0", "--clusters", str(ARGS.clusters), "--seed", str(ARGS.seed),
                   "--out", path, "--force"]
            log("+ " + " ".join(cmd))
            t = time.perf_counter()
            r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            if r.returncode != 0:
                sys.stderr.write(r.stdout + r.stderr)
                sys.exit(f"compare_faiss: chorus generate failed (exit {r.returncode})")
            log(f"  generated in {time.perf_counter() - t:.1f} s")
        return path
    path = os.path.join(ARGS.workdir, f"pyemb_{tag}.h5")
    if not os.path.exists(path):
        log(f"chorus binary not usable; writing Python stand-in data {path}")
        python_generate(path, ARGS.accounts, ARGS.dim, ARGS.clusters, ARGS.seed)
    return path


# ---------------------------------------------------------------- FAISS side
def faiss_run(path, blas_threshold):
    """One timed end-to-end FAISS run. Returns (times, pairs i<j as int64 codes, comp labels)."""
    faiss.omp_set_num_threads(ARGS.threads)
    faiss.cvar.distance_compute_blas_threshold = blas_threshold
    t0 = time.perf_counter()
    with h5py.File(path, "r") as f:
        x = f["embedding"][...]
    t1 = time.perf_counter()
    x = np.ascontiguousarray(x, dtype=np.float32)
    n, d = x.shape
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0] = 1.0  # zero rows stay zero: IP 0 with everything (no edge for T > 0)
    x /= norms
    index = faiss.IndexFlatIP(d)
    index.add(x)
    t2 = time.perf_counter()
    lims, _, ids = index.range_search(x, ARGS.threshold)
    t3 = time.perf_counter()
    rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(lims).astype(np.int64))
    cols = ids.astype(np.int64, copy=False)
    keep = rows != cols
    rows, cols = rows[keep], cols[keep]
    g = coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(n, n)).tocsr()
    _, comp = connected_components(g, directed=False)
    t4 = time.perf_counter()
    times = {"read": t1 - t0, "normalize_add": t2 - t1, "range_search": t3 - t2,
             "components": t4 - t3, "search_components": t4 - t1, "total": t4 - t0}
    # pair set for the comparison (outside the timed region)
    lo, hi = np.minimum(rows, cols), np.maximum(rows, cols)
    codes_dir = lo * n + hi
    codes, counts = np.unique(codes_dir, return_counts=True)
    asym = int(np.sum(counts == 1))  # found from one side only (fp32 rounding asymmetry)
    return times, codes, comp.astype(np.int64), asym, n


def probe_paths(path, queries=2048):
    """Time FAISS's BLAS and SIMD paths on the first `queries` rows against the full index."""
    faiss.omp_set_num_threads(ARGS.threads)
    with h5py.File(path, "r") as f:
        x = np.ascontiguousarray(f["embedding"][...], dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    x /= norms
    index = faiss.IndexFlatIP(x.shape[1])
    index.add(x)
    q = x[:queries]
    out = {}
    for name, thr in (("blas", 20), ("simd", 1 << 30)):
        faiss.cvar.distance_compute_blas_threshold = thr
        t = time.perf_counter()
        index.range_search(q, ARGS.threshold)
        out[name] = time.perf_counter() - t
    faiss.cvar.distance_compute_blas_threshold = 20
    log(f"FAISS path probe ({len(q)} queries): blas {out['blas']:.2f} s, simd {out['simd']:.2f} s")
    return out


def faiss_side(path):
    probe = None
    if ARGS.faiss_path == "auto":
        probe = probe_paths(path)
        paths = [20] if probe["blas"] <= probe["simd"] else [1 << 30]
    else:
        paths = {"blas": [20], "simd": [1 << 30], "best": [20, 1 << 30]}[ARGS.faiss_path]
    cache = None
    if ARGS.faiss_cache:
        key = f"{file_key(path)}_t{ARGS.threshold!r}_n{ARGS.threads}_{ARGS.faiss_path}"
        cache = os.path.join(ARGS.workdir, f"faiss_cache_{key}.npz")
        if os.path.exists(cache):
            z = np.load(cache, allow_pickle=False)
            meta = json.loads(str(z["meta"]))
            meta["cached"] = True
            log(f"FAISS: reusing {cache} (measured {meta.get('repeat', 1)} time(s) earlier)")
            return meta, z["codes"], z["comp"]
    results = {}
    codes = comp = None
    asym = n = 0
    for thr in paths:
        name = "blas" if thr == 20 else "simd"
        runs = []
        for r in range(ARGS.repeat):
            log(f"FAISS ({name} path, {ARGS.threads} threads) run {r + 1}/{ARGS.repeat} ...")
            times, c, cp, a, n = faiss_run(path, thr)
            log("  " + ", ".join(f"{k} {v:.2f} s" for k, v in times.items()))
            runs.append(times)
            if codes is None:
                codes, comp, asym = c, cp, a
            elif not np.array_equal(codes, c):
                log(f"  note: FAISS {name} path found a different pair set "
                    f"({len(c)} vs {len(codes)} pairs); the first is used for the comparison")
        best = min(runs, key=lambda t: t["total"])
        results[name] = best
    chosen = min(results, key=lambda k: results[k]["total"])
    meta = {"paths": results, "chosen": chosen, "asymmetric_pairs": asym,
            "omp_max_threads": faiss.omp_get_max_threads(), "faiss_version": faiss.__version__,
            "repeat": ARGS.repeat, "cached": False, "probe": probe,
            "blas": blas_library(), "peak_rss_mib": peak_rss_mib(resource.RUSAGE_SELF)}
    if cache:
        np.savez(cache, codes=codes, comp=comp, meta=np.array(json.dumps(meta)))
    return meta, codes, comp


# ---------------------------------------------------------------- chorus side
def chorus_side(path, n):
    res = os.path.join(ARGS.workdir, "chorus_results.h5")
    cmd = [ARGS.chorus, "detect", "--input", path, "--out", res, "--view", "embedding",
           "--threshold", repr(ARGS.threshold), "--threads", str(ARGS.threads), "--quiet",
           "--force"] + ARGS.chorus_arg
    env = dict(os.environ)
    walls, rss = [], []
    for r in range(ARGS.repeat):
        log(f"+ {' '.join(cmd)}   (run {r + 1}/{ARGS.repeat})")
        # Peak RSS comes from /usr/bin/time: a child spawned straight from this (large) Python
        # process inherits its RSS high-water mark, so its own ru_maxrss would be wrong.
        timefile = os.path.join(ARGS.workdir, "chorus_time.txt")
        wrap = ["/usr/bin/time", "-f", "%M", "-o", timefile] if os.access("/usr/bin/time", os.X_OK) else []
        t = time.perf_counter()
        p = subprocess.run(wrap + cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        walls.append(time.perf_counter() - t)
        if p.returncode != 0:
            sys.stderr.write(p.stdout)
            sys.exit(f"compare_faiss: chorus detect failed (exit {p.returncode})")
        try:
            with open(timefile) as f:
                rss.append(int(f.read().split()[-1]) / 1024.0)
            os.remove(timefile)
        except (OSError, ValueError, IndexError):
            rss.append(float("nan"))
        log(f"  {walls[-1]:.2f} s, peak RSS {rss[-1]:.0f} MiB")
    with h5py.File(res, "r") as f:
        labels = f["labels"][...].astype(np.int64)
        src = f["edges/src"][...].astype(np.int64)
        dst = f["edges/dst"][...].astype(np.int64)
        attrs = {}
        for k, v in f.attrs.items():
            if isinstance(v, bytes):
                v = v.decode(errors="replace")
            elif isinstance(v, np.generic):
                v = v.item()
            elif isinstance(v, np.ndarray):
                v = v.tolist()
            attrs[k] = v
    if labels.shape != (n,):
        sys.exit(f"compare_faiss: /labels has shape {labels.shape}, expected ({n},)")
    if not ARGS.keep:
        os.remove(res)
    lo, hi = np.minimum(src, dst), np.maximum(src, dst)
    bad_order = int(np.sum(src >= dst))
    codes = np.unique(lo * n + hi)
    dup = len(src) - len(codes)
    meta = {"wall": min(walls), "walls": walls, "bad_order_edges": bad_order, "duplicate_edges": dup,
            "peak_rss_mib": max(rss), "attrs": attrs,
            "cmd": " ".join(cmd)}
    return meta, codes, labels


# ---------------------------------------------------------------- comparison
def canonical_from_components(comp):
    """Relabel a full partition (singletons included) by smallest member; singletons -> -1."""
    n = len(comp)
    order = np.arange(n, dtype=np.int64)
    k = comp.max() + 1 if n else 0
    first = np.full(k, n, dtype=np.int64)
    np.minimum.at(first, comp, order)
    size = np.bincount(comp, minlength=k)
    out = first[comp]
    out[size[comp] < 2] = -1
    return out


def canonical_from_labels(labels):
    """Relabel chorus labels (-1 = no edge) by smallest member row."""
    out = np.full(len(labels), -1, dtype=np.int64)
    m = labels >= 0
    if m.any():
        comp = labels[m]
        k = comp.max() + 1
        first = np.full(k, len(labels), dtype=np.int64)
        np.minimum.at(first, comp, np.nonzero(m)[0])
        out[m] = first[comp]
    return out


def components_of_edges(codes, n):
    if len(codes) == 0:
        return np.full(n, -1, dtype=np.int64)
    i, j = codes // n, codes % n
    g = coo_matrix((np.ones(len(i), dtype=np.int8), (i, j)), shape=(n, n)).tocsr()
    _, comp = connected_components(g, directed=False)
    return canonical_from_components(comp.astype(np.int64))


def float64_cosine(path, pairs):
    with h5py.File(path, "r") as f:
        x = f["embedding"][...].astype(np.float64)
    nrm = np.linalg.norm(x, axis=1)
    nrm[nrm == 0] = np.inf
    i, j = pairs[:, 0], pairs[:, 1]
    return np.einsum("ij,ij->i", x[i], x[j]) / (nrm[i] * nrm[j])


def verify_f64(path, c_codes, block=2048):
    """Every pair's float64 decision versus chorus's edges, outside the 1e-5 band."""
    with h5py.File(path, "r") as f:
        x = f["embedding"][...].astype(np.float64)
    n = len(x)
    nrm = np.linalg.norm(x, axis=1)
    valid = nrm > 0
    x[valid] /= nrm[valid, None]
    t = ARGS.threshold
    required, extra, band = [], [], 0
    c_rows = c_codes // n
    for r0 in range(0, n, block):
        r1 = min(r0 + block, n)
        s = x[r0:r1] @ x[r0:].T  # rows r0..r1-1 against columns r0..n-1
        s[~valid[r0:r1], :] = -np.inf
        s[:, ~valid[r0:]] = -np.inf
        rows = np.arange(r0, r1)
        upper = np.arange(r0, n)[None, :] > rows[:, None]
        i, j = np.nonzero(upper & (s >= t + TOL))
        required.append(rows[i] * n + (r0 + j))
        band += int(np.sum(upper & (s >= t - TOL) & (s < t + TOL)))
        mine = c_codes[(c_rows >= r0) & (c_rows < r1)]  # chorus edges with src in this block
        if len(mine):
            sv = s[mine // n - r0, mine % n - r0]
            extra.append(mine[sv < t - TOL])
    req = np.concatenate(required) if required else np.zeros(0, np.int64)
    ext = np.concatenate(extra) if extra else np.zeros(0, np.int64)
    missing = np.setdiff1d(req, c_codes)
    return {"f64_required_edges": int(len(req)), "f64_band_pairs": band,
            "f64_missing": int(len(missing)), "f64_extra": int(len(ext)),
            "f64_missing_examples": [[int(c // n), int(c % n)] for c in missing[:ARGS.show]],
            "f64_extra_examples": [[int(c // n), int(c % n)] for c in ext[:ARGS.show]]}


def compare(path, n, f_codes, f_comp, c_codes, c_labels):
    out = {}
    f_can = canonical_from_components(f_comp)
    c_can = canonical_from_labels(c_labels)
    out["components_identical"] = bool(np.array_equal(f_can, c_can))
    out["faiss_components"] = int(len(np.unique(f_can[f_can >= 0])))
    out["chorus_components"] = int(len(np.unique(c_can[c_can >= 0])))
    out["accounts_in_components_faiss"] = int(np.sum(f_can >= 0))
    out["accounts_in_components_chorus"] = int(np.sum(c_can >= 0))
    # chorus's own consistency: its labels must be the components of its own edges
    out["chorus_labels_match_own_edges"] = bool(np.array_equal(components_of_edges(c_codes, n), c_can))
    out["faiss_edges"] = int(len(f_codes))
    out["chorus_edges"] = int(len(c_codes))
    only_f = np.setdiff1d(f_codes, c_codes, assume_unique=True)
    only_c = np.setdiff1d(c_codes, f_codes, assume_unique=True)
    diff = np.concatenate([only_f, only_c])
    side = np.array(["faiss"] * len(only_f) + ["chorus"] * len(only_c))
    out["differing_pairs"] = int(len(diff))
    out["only_faiss"] = int(len(only_f))
    out["only_chorus"] = int(len(only_c))
    rows = []
    beyond = 0
    if len(diff):
        pairs = np.stack([diff // n, diff % n], axis=1)
        sim = float64_cosine(path, pairs)
        dev = sim - ARGS.threshold
        # a pair only chorus has must have sim >= T - TOL; a pair only FAISS has sim < T + TOL
        # (FAISS is itself fp32, so its side is judged by the same band).
        bad = np.where(side == "chorus", dev < -TOL, dev >= TOL)
        beyond = int(np.sum(bad))
        order = np.argsort(-np.abs(dev))
        for k in order[:ARGS.show]:
            rows.append({"i": int(pairs[k, 0]), "j": int(pairs[k, 1]), "only_in": str(side[k]),
                         "cos_f64": float(sim[k]), "minus_threshold": float(dev[k]),
                         "within_contract": bool(not bad[k])})
        out["max_abs_dev_differing"] = float(np.max(np.abs(dev)))
    out["differing_beyond_contract"] = beyond
    out["differing_examples"] = rows
    # components may differ only because of pairs inside the band
    out["components_ok"] = out["components_identical"] or (beyond == 0 and
                                                           out["chorus_labels_match_own_edges"])
    return out


# ---------------------------------------------------------------- main
def main():
    if ARGS.self_test:
        return self_test()
    chorus_ok = os.path.isfile(ARGS.chorus) and os.access(ARGS.chorus, os.X_OK)
    if not chorus_ok and not ARGS.faiss_only:
        log(f"compare_faiss: chorus binary {ARGS.chorus!r} not found (use --chorus or --faiss-only)")
        return 2
    path = ensure_input(chorus_ok)
    with h5py.File(path, "r") as f:
        n, d = f["embedding"].shape
    log(f"input {path}: {n} x {d}, threshold {ARGS.threshold}, threads {ARGS.threads}")

    load0 = os.getloadavg()
    if load0[0] > 0.5:
        log(f"warning: load average {load0[0]:.2f} before timing; other work on the machine skews "
            "the figures")
    f_meta, f_codes, f_comp = faiss_side(path)
    fb = f_meta["paths"][f_meta["chosen"]]
    summary = {"accounts": int(n), "dim": int(d), "threshold": ARGS.threshold,
               "threads": ARGS.threads, "input": path, "faiss": f_meta,
               "loadavg_before": load0[0], "cpus": os.cpu_count()}
    cmp_ = None
    if not ARGS.faiss_only:
        c_meta, c_codes, c_labels = chorus_side(path, n)
        summary["chorus"] = c_meta
        cmp_ = compare(path, n, f_codes, f_comp, c_codes, c_labels)
        if ARGS.verify_f64:
            log("float64 brute force of all pairs ...")
            cmp_.update(verify_f64(path, c_codes))
        summary["comparison"] = cmp_
        summary["speedup_end_to_end"] = fb["total"] / c_meta["wall"]
        summary["speedup_vs_search_components"] = fb["search_components"] / c_meta["wall"]
        summary["bar"] = ARGS.bar
        summary["bar_met"] = summary["speedup_end_to_end"] >= ARGS.bar

    # ---- table
    line = "-" * 72
    print(line)
    print(f"N {n}   d {d}   threshold {ARGS.threshold}   threads {ARGS.threads}   "
          f"repeat {ARGS.repeat} (min kept)")
    print(f"FAISS {f_meta['faiss_version']}  omp_max_threads {f_meta['omp_max_threads']}  "
          f"blas {f_meta['blas']}")
    print(line)
    for name, t in f_meta["paths"].items():
        mark = "  <- baseline" if name == f_meta["chosen"] else ""
        print(f"FAISS {name:4s}  read {t['read']:7.2f} s  search+components {t['search_components']:8.2f} s"
              f"  (range_search {t['range_search']:.2f}, cc {t['components']:.2f})"
              f"  total {t['total']:8.2f} s{mark}")
    if f_meta.get("cached"):
        print("FAISS figures reused from --faiss-cache (measured in an earlier run)")
    if f_meta.get("probe"):
        pr = f_meta["probe"]
        print(f"FAISS path probe on 2048 queries: blas {pr['blas']:.2f} s, simd {pr['simd']:.2f} s "
              f"-> {f_meta['chosen']} run in full")
    print(f"FAISS peak RSS {f_meta['peak_rss_mib']:.0f} MiB, pairs i<j {len(f_codes)}, "
          f"one-sided (fp32 asymmetry) {f_meta['asymmetric_pairs']}")
    if cmp_ is not None:
        c = summary["chorus"]
        print(f"chorus       wall (whole process) {c['wall']:8.2f} s   peak RSS {c['peak_rss_mib']:.0f} MiB")
        print(line)
        print(f"speedup end to end (FAISS total / chorus wall)        {summary['speedup_end_to_end']:7.2f}x"
              f"   bar {ARGS.bar:g}x: {'met' if summary['bar_met'] else 'NOT met'}")
        print(f"speedup vs FAISS search+components only (no read)     "
              f"{summary['speedup_vs_search_components']:7.2f}x")
        print(f"components identical: {'yes' if cmp_['components_identical'] else 'no'}   "
              f"(FAISS {cmp_['faiss_components']} / chorus {cmp_['chorus_components']} non-singleton; "
              f"accounts {cmp_['accounts_in_components_faiss']} / {cmp_['accounts_in_components_chorus']})")
        print(f"edges: FAISS {cmp_['faiss_edges']}  chorus {cmp_['chorus_edges']}  differing "
              f"{cmp_['differing_pairs']} (only FAISS {cmp_['only_faiss']}, only chorus {cmp_['only_chorus']}), "
              f"beyond the 1e-5 contract: {cmp_['differing_beyond_contract']}")
        if "f64_missing" in cmp_:
            print(f"float64 brute force: {cmp_['f64_required_edges']} required edges, "
                  f"{cmp_['f64_band_pairs']} pairs in the 1e-5 band; chorus missing "
                  f"{cmp_['f64_missing']}, extra {cmp_['f64_extra']}"
                  + (f"  e.g. missing {cmp_['f64_missing_examples'][:5]} extra "
                     f"{cmp_['f64_extra_examples'][:5]}" if cmp_['f64_missing'] or cmp_['f64_extra'] else ""))
        if c["bad_order_edges"] or c["duplicate_edges"]:
            print(f"chorus edge list problems: src>=dst {c['bad_order_edges']}, duplicates {c['duplicate_edges']}")
        if not cmp_["chorus_labels_match_own_edges"]:
            print("chorus /labels are NOT the connected components of chorus /edges")
        for r in cmp_["differing_examples"]:
            print(f"  pair ({r['i']}, {r['j']}) only in {r['only_in']:6s} cos64 {r['cos_f64']:.9f} "
                  f"(T{r['minus_threshold']:+.2e}) {'ok' if r['within_contract'] else 'OUTSIDE CONTRACT'}")
    print(f"load average before timing {load0[0]:.2f}, after {os.getloadavg()[0]:.2f} "
          f"({os.cpu_count()} CPUs)")
    print(line)
    if ARGS.json:
        print(json.dumps(summary, default=float))
    if cmp_ is not None:
        if not cmp_["components_ok"] or cmp_["differing_beyond_contract"] or \
                cmp_.get("f64_missing", 0) or cmp_.get("f64_extra", 0) or \
                summary["chorus"]["bad_order_edges"] or summary["chorus"]["duplicate_edges"]:
            return 1
        if ARGS.enforce_bar and not summary["bar_met"]:
            return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
