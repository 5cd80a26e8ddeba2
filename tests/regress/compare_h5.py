#!/usr/bin/python3
"""Compare two chorus results files byte for byte (for same_results.sh).

    compare_h5.py A.h5 B.h5 [--label L] [--ignore-attr NAME ...] [--ignore-dataset PATH ...]
    compare_h5.py --pairs FILE [--ignore-attr NAME ...]    (lines: LABEL<TAB>A.h5<TAB>B.h5)
    compare_h5.py --self-test      (planted differences must all be found)

Every group and dataset is visited recursively in both files (the /evidence group, virtual
datasets by their contents: the shard files they map must exist). Both files must hold the same
objects; each dataset must have the same HDF5 type, numpy dtype, shape and virtual/non-virtual
layout and the same bytes (NaN == NaN when the bits agree, -0.0 != 0.0); every attribute of every
object must be equal in name, type and bytes, except the names in EXCLUDED_ATTRS (and those given
with --ignore-attr). Datasets in EXCLUDED_DATASETS are compared in dtype and shape only.

Prints one line per pair, "same      LABEL" or "DIFFERENT LABEL: <first difference> (+N more)";
with -v every difference. Exit status: 0 all pairs same, 1 some pair differs, 2 a file could
not be read. Run with Debian's /usr/bin/python3 (h5py, numpy).
"""
import argparse
import os
import sys

import h5py
import numpy as np

# Attributes that legitimately differ between two runs of the same job (any object's attributes).
# (threads is compared: both binaries get the same --threads; same_results.sh passes
# --ignore-attr threads only where it compares one binary's --threads 1 and default runs.)
EXCLUDED_ATTRS = {
    "seconds_read": "wall-clock timing of the run",
    "seconds_score": "wall-clock timing of the run",
    "seconds_components": "wall-clock timing of the run",
    "input_path": "path of the input as given (stored absolute since 0c12fbf); the input's "
                  "identity is still compared through input_checksum and input_size_bytes",
    "chorus_version": "version string of the binary, not a result",
    "backend_detail": "free text naming the GEMM library (e.g. 'oneDNN 2.6 int8 (VNNI)'); the "
                      "precision actually used is compared through precision_used",
}
# Datasets whose values are timings (dtype and shape still compared).
EXCLUDED_DATASETS = {
    "/ranks/seconds_read": "per-rank wall-clock timing",
    "/ranks/seconds_score": "per-rank wall-clock timing",
    "/ranks/seconds_local": "per-rank wall-clock timing",
}
BLOCK = 1 << 22  # elements per read block along axis 0 (bounds memory on demo-sized files)


class Diff(Exception):
    pass


def walk(f):
    """{path: 'group'|'dataset'|other} for every object below the root, root included."""
    out = {"/": "group"}

    def visit(name, obj):
        out["/" + name] = ("group" if isinstance(obj, h5py.Group)
                           else "dataset" if isinstance(obj, h5py.Dataset) else type(obj).__name__)
    f.visititems(visit)
    return out


def attr_bytes(v):
    """A comparable (type, bytes) form of an attribute value."""
    if isinstance(v, np.ndarray):
        if v.dtype.kind == "O":
            return ("object-array", v.shape, tuple(x if isinstance(x, (bytes, str)) else repr(x)
                                                   for x in v.ravel()))
        return ("array", v.dtype.str, v.shape, v.tobytes())
    if isinstance(v, np.generic):
        return ("scalar", v.dtype.str, v.tobytes())
    return (type(v).__name__, v)


def compare_attrs(path, a, b, ignore, diffs):
    na, nb = set(a.attrs.keys()) - ignore, set(b.attrs.keys()) - ignore
    for name in sorted(na - nb):
        diffs.append(f"{path}: attribute '{name}' only in A")
    for name in sorted(nb - na):
        diffs.append(f"{path}: attribute '{name}' only in B")
    for name in sorted(na & nb):
        ta, tb = a.attrs.get_id(name).get_type(), b.attrs.get_id(name).get_type()
        va, vb = a.attrs[name], b.attrs[name]
        if ta != tb:
            diffs.append(f"{path}: attribute '{name}' has another HDF5 type ({va!r} vs {vb!r})")
        elif attr_bytes(va) != attr_bytes(vb):
            diffs.append(f"{path}: attribute '{name}' differs: {va!r} vs {vb!r}")


def check_sources(ds, fname):
    """Every source file a virtual dataset maps must exist (else HDF5 returns fill values)."""
    base = os.path.dirname(os.path.abspath(fname))
    for src in ds.virtual_sources():
        p = src.file_name
        if p == ".":
            continue
        if not os.path.exists(p if os.path.isabs(p) else os.path.join(base, p)):
            raise Diff(f"{ds.name}: virtual source file '{p}' of {fname} is missing")


def first_index(shape, flat):
    return tuple(int(i) for i in np.unravel_index(flat, shape)) if shape else ()


def compare_values(path, da, db, diffs):
    shape = da.shape
    if da.size == 0:
        return
    if da.dtype.kind == "O" or h5py.check_vlen_dtype(da.dtype) is not None:
        va, vb = da[()], db[()]
        fa, fb = np.asarray(va, dtype=object).ravel(), np.asarray(vb, dtype=object).ravel()
        for i, (x, y) in enumerate(zip(fa, fb)):
            same = (x == y) if isinstance(x, (bytes, str)) else np.array_equal(
                np.asarray(x).view(np.uint8), np.asarray(y).view(np.uint8))
            if not same or type(x) is not type(y):
                diffs.append(f"{path}: first differing index {first_index(shape, i)}: "
                             f"{x!r} vs {y!r}")
                return
        return
    if not shape:  # scalar dataset
        x, y = da[()], db[()]
        if np.asarray(x).tobytes() != np.asarray(y).tobytes():
            diffs.append(f"{path}: scalar differs: {x!r} vs {y!r}")
        return
    rows_per_block = max(1, BLOCK // max(1, int(np.prod(shape[1:], dtype=np.int64))))
    isz = da.dtype.itemsize
    for start in range(0, shape[0], rows_per_block):
        sl = slice(start, min(shape[0], start + rows_per_block))
        xa, xb = np.ascontiguousarray(da[sl]), np.ascontiguousarray(db[sl])
        ua = xa.view(np.uint8).reshape(xa.shape + (isz,)) if isz else xa
        ub = xb.view(np.uint8).reshape(xb.shape + (isz,)) if isz else xb
        neq = np.any(ua != ub, axis=-1)
        if neq.any():
            loc = first_index(xa.shape, np.flatnonzero(neq.ravel())[0])
            idx = (loc[0] + start,) + loc[1:]
            diffs.append(f"{path}: first differing index {idx}: {xa[loc]!r} vs {xb[loc]!r} "
                         f"({int(neq.sum())} differing elements in rows {sl.start}..{sl.stop - 1})")
            return


def compare_dataset(path, da, db, fa, fb, diffs):
    if da.id.get_type() != db.id.get_type() or da.dtype != db.dtype:
        diffs.append(f"{path}: type differs ({da.dtype} vs {db.dtype})")
        return
    if da.shape != db.shape:
        diffs.append(f"{path}: shape differs ({da.shape} vs {db.shape})")
        return
    if da.is_virtual != db.is_virtual:
        diffs.append(f"{path}: virtual in {'A' if da.is_virtual else 'B'} only")
        return
    if da.is_virtual:
        check_sources(da, fa)
        check_sources(db, fb)
    if path in EXCLUDED_DATASETS:
        return
    compare_values(path, da, db, diffs)


def compare_files(fa, fb, ignore):
    """The list of differences between two results files (empty: same)."""
    diffs = []
    with h5py.File(fa, "r") as a, h5py.File(fb, "r") as b:
        oa, ob = walk(a), walk(b)
        for p in sorted(set(oa) - set(ob)):
            diffs.append(f"{p}: {oa[p]} only in A")
        for p in sorted(set(ob) - set(oa)):
            diffs.append(f"{p}: {ob[p]} only in B")
        for p in sorted(set(oa) & set(ob)):
            if oa[p] != ob[p]:
                diffs.append(f"{p}: a {oa[p]} in A, a {ob[p]} in B")
                continue
            compare_attrs(p, a[p], b[p], ignore, diffs)
            if oa[p] == "dataset":
                try:
                    compare_dataset(p, a[p], b[p], fa, fb, diffs)
                except Diff as e:
                    diffs.append(str(e))
    # contents first (the line printed names the first differing dataset), then attributes
    return sorted(diffs, key=lambda d: ": attribute '" in d)


def self_test():
    """The comparison must see each planted difference and nothing else."""
    import tempfile
    d = tempfile.mkdtemp(prefix="compare_h5_selftest_")
    nan2 = np.array([0x7FC00001], dtype=np.uint32).view(np.float32)[0]  # NaN, other payload

    def write(name, mutate=None):
        path = os.path.join(d, name)
        with h5py.File(path, "w") as f:
            f.attrs["edges"] = np.int64(3)
            f.attrs["view"] = "both"
            f.attrs["seconds_score"] = 1.0 if mutate is None else 2.0  # excluded: never a diff
            f["labels"] = np.array([0, 0, -1, 1], dtype=np.int64)
            f["edges/sim"] = np.array([0.5, np.nan, 0.0], dtype=np.float32)
            f["evidence/handles"] = np.array(["a", "b"], dtype=h5py.string_dtype())
            f["evidence/grid"] = np.arange(12, dtype=np.int32).reshape(3, 4)
            f["evidence/grid"].attrs["lo"] = 0.8
            if mutate:
                mutate(f)
        return path

    def setv(name, idx, value):
        def m(f):
            f[name][idx] = value
        return m

    def setattr_(obj, name, value):
        def m(f):
            f[obj].attrs[name] = value
        return m

    def replace(name, data):
        def m(f):
            if name in f:
                del f[name]
            f[name] = data
        return m

    ref = write("ref.h5")
    cases = [("identical (timing attribute differs)", write("same.h5", lambda f: None), False),
             ("label changed", write("l.h5", setv("labels", 2, 5)), True),
             ("NaN payload changed", write("n.h5", setv("edges/sim", 1, nan2)), True),
             ("0.0 -> -0.0", write("z.h5", setv("edges/sim", 2, -0.0)), True),
             ("one ulp", write("u.h5", setv("edges/sim", 0, np.nextafter(np.float32(0.5), np.float32(1)))),
              True),
             ("handle changed", write("h.h5", setv("evidence/handles", 1, "c")), True),
             ("2-d value", write("g.h5", setv("evidence/grid", (2, 3), 99)), True),
             ("dataset attribute", write("da.h5", setattr_("evidence/grid", "lo", 0.7)), True),
             ("root attribute", write("ra.h5", setattr_("/", "edges", np.int64(4))), True),
             ("attribute type", write("at.h5", setattr_("/", "edges", np.int32(3))), True),
             ("dtype", write("dt.h5", replace("labels", np.array([0, 0, -1, 1], np.int32))), True),
             ("extra dataset", write("x.h5", replace("evidence/extra", np.zeros(1))), True)]
    bad = 0
    for what, path, expect in cases:
        diffs = compare_files(ref, path, set(EXCLUDED_ATTRS))
        ok = bool(diffs) == expect
        bad += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {what}: {diffs[0] if diffs else 'same'}")
    for name in os.listdir(d):
        os.remove(os.path.join(d, name))
    os.rmdir(d)
    print("self-test:", "passed" if not bad else f"{bad} FAILED")
    return 1 if bad else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("files", nargs="*", help="A.h5 B.h5")
    ap.add_argument("--pairs", help="file of LABEL<TAB>A<TAB>B lines")
    ap.add_argument("--label", help="label printed for a single pair")
    ap.add_argument("--ignore-attr", action="append", default=[],
                    help="also ignore this attribute (e.g. threads when threads were varied)")
    ap.add_argument("--ignore-dataset", action="append", default=[],
                    help="also compare this dataset in dtype and shape only")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every difference")
    ap.add_argument("--self-test", action="store_true",
                    help="check that planted differences are found, then exit")
    args = ap.parse_args()
    if args.self_test:
        return self_test()
    pairs = []
    if args.pairs:
        with open(args.pairs) as f:
            for line in f:
                if line.strip():
                    label, x, y = line.rstrip("\n").split("\t")
                    pairs.append((label, x, y))
    if args.files:
        if len(args.files) != 2:
            ap.error("give two files, or --pairs")
        pairs.append((args.label or f"{args.files[0]} {args.files[1]}", *args.files))
    if not pairs:
        ap.error("nothing to compare")
    ignore = set(EXCLUDED_ATTRS) | set(args.ignore_attr)
    EXCLUDED_DATASETS.update({d: "--ignore-dataset" for d in args.ignore_dataset})
    status = 0
    for label, x, y in pairs:
        try:
            diffs = compare_files(x, y, ignore)
        except (OSError, KeyError, ValueError) as e:
            print(f"ERROR     {label}: {e}", flush=True)
            status = max(status, 2)
            continue
        if not diffs:
            print(f"same      {label}", flush=True)
            continue
        status = max(status, 1)
        more = f" (+{len(diffs) - 1} more)" if len(diffs) > 1 else ""
        print(f"DIFFERENT {label}: {diffs[0]}{more}", flush=True)
        if args.verbose:
            for d in diffs[1:]:
                print(f"          {d}")
    return status


if __name__ == "__main__":
    sys.exit(main())
