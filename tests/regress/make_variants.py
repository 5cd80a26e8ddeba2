#!/usr/bin/python3
"""Derive edge-case inputs from one generated chorus input (for same_results.sh).

    make_variants.py SRC.h5 OUTDIR

writes into OUTDIR (all from SRC, which must have both views):
  invalid.h5  zero-norm embedding rows, constant and all-zero activity rows, exact duplicate
              rows (ties at similarity 1 for --topk and --threshold 1), and a scaled copy
  dtypes.h5   the same content as invalid.h5 with /embedding float16 and /activity float64
              and int64 ids
  nan.h5      one NaN in /embedding (detect must refuse: exit 2)
  inf.h5      one Inf in /activity, stored as float32 (detect must refuse: exit 2)
  negative.h5 one negative count in /activity (log1p / tfidf must refuse)
Deterministic: fixed row indices, no randomness.
"""
import os
import shutil
import sys

import h5py
import numpy as np


def copy_with(src, dst, emb, act, ids=None):
    shutil.copyfile(src, dst)
    with h5py.File(dst, "r+") as f:
        for name, data in (("embedding", emb), ("activity", act)):
            if data is None:
                continue
            del f[name]
            f.create_dataset(name, data=data, chunks=True, compression="gzip", compression_opts=1)
        if ids is not None:
            del f["accounts/id"]
            f.create_dataset("accounts/id", data=ids)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    src, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    with h5py.File(src, "r") as f:
        emb = f["embedding"][...].astype(np.float32)
        act = f["activity"][...]
        ids = f["accounts/id"][...]
        truth = f["truth/cluster"][...] if "truth/cluster" in f else None
    n = emb.shape[0]
    planted = np.flatnonzero(truth >= 0) if truth is not None else np.arange(n)

    e, a = emb.copy(), act.copy()
    e[[5, 17, n - 1]] = 0.0                                   # zero-norm embedding rows
    e[planted[0]] = 0.0                                       # ... one inside a planted cluster
    a[[5, 23, n - 2]] = 0                                     # all-zero activity (zero variance)
    a[[31, planted[1]]] = 3                                   # constant activity (zero variance)
    for i, j in ((100, 200), (101, 201), (102, 202), (planted[2], 300)):
        e[j], a[j] = e[i], a[i]                               # exact duplicates: sim 1.0 ties
    e[400] = 2.0 * e[402]                                     # scaled copy: cosine 1 (power of 2)
    a[400] = a[402]
    copy_with(src, os.path.join(out, "invalid.h5"), e, a)
    copy_with(src, os.path.join(out, "dtypes.h5"), e.astype(np.float16), a.astype(np.float64),
              ids.astype(np.int64))

    bad = emb.copy()
    bad[n // 2, 3] = np.nan
    copy_with(src, os.path.join(out, "nan.h5"), bad, None)
    bad_a = act.astype(np.float32)
    bad_a[n // 3, 7] = np.inf
    copy_with(src, os.path.join(out, "inf.h5"), None, bad_a)
    neg = act.astype(np.int32)
    neg[n // 4, 2] = -1
    copy_with(src, os.path.join(out, "negative.h5"), None, neg)


if __name__ == "__main__":
    main()
