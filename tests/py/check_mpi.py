#!/usr/bin/python3
"""CTest (label mpi): `mpirun -np P chorus detect` gives the same results file as one process.

Usage: check_mpi.py <chorus-binary> <workdir> <P>
Exit 0 = pass, 1 = fail, 77 = skipped (no mpirun, no numpy/h5py, or chorus built without MPI).
Under CI=true a skip for a missing tool is a failure (exit 1, see ci_skip.py); a build configured
with -DCHORUS_MPI=OFF (the sanitizer build) still skips, since that is a choice, not a gap.

For each case (views, transforms, --topk, --no-edges, small tiles, checkpoints) it runs chorus
once without a launcher and once under `mpirun --oversubscribe -np P` on the CPU backend, then
compares every dataset of the two results files with h5py (all of /labels, /edges, /clusters,
/evidence; /ranks differs by design). Also: the /edges of a P-rank file are virtual datasets
over P shard files; one rank's failure ends the job with that rank's message and leaves no
file; bad input gives exit code 2 once; existing shards are not overwritten without --force;
more ranks than accounts work.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

from ci_skip import configured_off, skip

CHORUS, WORK, P = os.path.abspath(sys.argv[1]), sys.argv[2], int(sys.argv[3])
if configured_off(CHORUS, "CHORUS_MPI"):
    print("SKIP: this build was configured with -DCHORUS_MPI=OFF")
    sys.exit(77)

try:
    import numpy as np
    import h5py
except ImportError as e:
    skip(f"cannot import numpy/h5py ({e})")

MPIRUN = shutil.which("mpirun")
if not MPIRUN:
    skip("mpirun not found (install openmpi-bin)")
LAUNCH = [MPIRUN, "--oversubscribe"] + (["--allow-run-as-root"] if os.geteuid() == 0 else [])
FAILURES = []


def check(cond, msg):
    print(("  ok    " if cond else "  FAIL  ") + msg)
    if not cond:
        FAILURES.append(msg)


def run(cmd, env=None, timeout=600):
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=timeout, cwd=WORK, env=e)
    return p.returncode, p.stdout, p.stderr


def datasets(path):
    out = {}
    with h5py.File(os.path.join(WORK, path), "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and not name.startswith("ranks/"):
                out[name] = obj[()]
        f.visititems(visit)
    return out


def same_results(a, b, label):
    da, db = datasets(a), datasets(b)
    check(sorted(da) == sorted(db), f"{label}: same datasets ({len(da)})")
    bad = []
    for k in sorted(set(da) & set(db)):
        x, y = da[k], db[k]
        if x.shape != y.shape:
            bad.append(f"{k} shape {x.shape} vs {y.shape}")
        elif x.dtype.kind == "f":
            if not np.array_equal(x, y, equal_nan=True):
                bad.append(k)
        elif not np.array_equal(x, y):
            bad.append(k)
    check(not bad, f"{label}: every dataset identical to one process" +
          (f" (differ: {bad[:5]})" if bad else f" ({len(da['edges/src'])} edges)"))


def children(pid):
    """Process ids whose parent is `pid` (from /proc)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            out.append(int(d))
    return out


def clean(prefix):
    for name in os.listdir(WORK):
        if name.startswith(prefix):
            os.remove(os.path.join(WORK, name))


def main():
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    rc, _, err = run([CHORUS, "generate", "--accounts", "5000", "--dim", "48", "--bins", "64",
                      "--clusters", "8", "--seed", "11", "--out", "in.h5", "--quiet"])
    if rc != 0:
        print(err)
        return 1
    # chorus built without MPI runs as P independent single processes: skip, not fail
    rc, out, err = run(LAUNCH + ["-np", "2", CHORUS, "detect", "--input", "in.h5", "--out",
                                 "probe.h5", "--json", "--quiet", "--no-evidence"])
    if rc == 0 and out.strip() and json.loads(out.strip().splitlines()[0]).get("ranks", 1) == 1:
        skip("chorus was built without MPI (no MPI found by CMake: install libopenmpi-dev)")
    if rc != 0:
        print(out, err)
        check(False, "mpirun -np 2 chorus detect runs")
        return 1

    cases = [
        ("both", []),
        ("embedding-smalltiles", ["--view", "embedding", "--tile-rows", "64", "--tile-cols",
                                  "128", "--threshold", "0.7"]),
        ("activity-tfidf", ["--view", "activity", "--activity-transform", "tfidf",
                            "--threshold-activity", "0.6"]),
        ("fused-fp32", ["--view", "fused", "--weight", "0.6", "--threshold", "0.7",
                        "--precision", "fp32"]),
        ("topk", ["--topk", "2"]),
        ("no-edges", ["--no-edges"]),
    ]
    # co-action views: each rank sweeps a share of the accounts, rank 0 merges and writes
    rc, _, err = run([CHORUS, "generate", "--posts", "--accounts", "1500", "--seed", "5", "--out",
                      "posts.csv", "--force", "--quiet"])
    rc2, _, err2 = run([CHORUS, "ingest", "posts.csv", "--out", "posts.h5", "--min-posts", "1",
                        "--dim", "0", "--force", "--quiet"])
    check(rc == 0 and rc2 == 0, f"posts generated and ingested {err[-200:]}{err2[-200:]}")
    for name, extra in [("co_repost", ["--view", "co_repost", "--window", "120"]),
                        ("co_similar", ["--view", "co_similar", "--window", "600",
                                        "--similarity", "0.6", "--min-weight", "2"])]:
        one, many = f"{name}-1.h5", f"{name}-{P}.h5"
        rc1, _, e1 = run([CHORUS, "detect", "--input", "posts.h5", "--out", one, "--quiet"] + extra)
        rcp, outp, ep = run(LAUNCH + ["-np", str(P), CHORUS, "detect", "--input", "posts.h5",
                                      "--out", many, "--threads", "1", "--json", "--quiet"] + extra)
        check(rc1 == 0 and rcp == 0, f"{name}: both runs succeed ({rc1}, {rcp}) {e1[-300:]}{ep[-300:]}")
        if rc1 or rcp:
            continue
        check(json.loads(outp.strip().splitlines()[0])["ranks"] == P, f"{name}: JSON names {P} ranks")
        same_results(one, many, name)
    for name, extra in cases:
        one, many = f"{name}-1.h5", f"{name}-{P}.h5"
        rc1, _, e1 = run([CHORUS, "detect", "--input", "in.h5", "--out", one, "--quiet"] + extra)
        rcp, outp, ep = run(LAUNCH + ["-np", str(P), CHORUS, "detect", "--input", "in.h5",
                                      "--out", many, "--threads", "1", "--json", "--quiet"] +
                            extra)
        check(rc1 == 0 and rcp == 0, f"{name}: both runs succeed ({rc1}, {rcp}) {e1[-300:]}{ep[-300:]}")
        if rc1 or rcp:
            continue
        summary = json.loads(outp.strip().splitlines()[0])
        check(summary["ranks"] == P and len(summary["per_rank"]) == P,
              f"{name}: JSON names {P} ranks with per-rank timings")
        pairs = [r["pairs"] for r in summary["per_rank"]]
        check(sum(pairs) == 5000 * 4999 // 2 and max(pairs) - min(pairs) < 2 * 5000,
              f"{name}: ranks split the pairs evenly {pairs}")
        same_results(one, many, name)
        shards = sorted(n for n in os.listdir(WORK) if n.startswith(many + ".edges-"))
        written = "--no-edges" not in extra and "--topk" not in extra
        check(len(shards) == (P if written else 0),
              f"{name}: {len(shards)} edge shard files next to the results")
        with h5py.File(os.path.join(WORK, many), "r") as f:
            check(f["edges/src"].is_virtual == (written and f["edges/src"].shape[0] > 0),
                  f"{name}: /edges are virtual datasets over the shards: "
                  f"{f['edges/src'].is_virtual}")
            check(f["ranks/pairs"].shape == (P,), f"{name}: /ranks has one row per rank")

    # a deeper merge tree (ranks that receive and then forward): 4 ranks for P = 2, 5 for P = 3
    deep = 4 if P == 2 else 5
    rc, _, err = run(LAUNCH + ["-np", str(deep), CHORUS, "detect", "--input", "in.h5", "--out",
                               f"deep-{deep}.h5", "--threads", "1", "--quiet"])
    check(rc == 0, f"{deep} ranks succeed {err[-300:]}")
    if rc == 0:
        same_results("both-1.h5", f"deep-{deep}.h5", f"{deep} ranks (merge tree of depth "
                     f"{(deep - 1).bit_length()})")

    # checkpoints per rank: a complete checkpointed run equals the plain one and cleans up
    rc, _, err = run(LAUNCH + ["-np", str(P), CHORUS, "detect", "--input", "in.h5", "--out",
                               "ck.h5", "--threads", "1", "--quiet", "--checkpoint", "ckdir",
                               "--checkpoint-interval", "0", "--tile-rows", "128",
                               "--tile-cols", "256"])
    check(rc == 0, f"checkpointed run succeeds {err[-300:]}")
    if rc == 0:
        same_results("both-1.h5", "ck.h5", "checkpointed")
        check(not os.path.exists(os.path.join(WORK, "ckdir")), "checkpoint directory removed")

    # SIGTERM to every rank (as SLURM sends before a preemption): every rank checkpoints; the
    # same command with --resume finishes with results identical to one process
    rc, _, err = run([CHORUS, "generate", "--accounts", "20000", "--dim", "64", "--bins", "0",
                      "--clusters", "6", "--seed", "4", "--out", "long.h5", "--quiet"])
    slow = ["--threads", "1", "--quiet", "--precision", "fp32", "--tile-rows", "64",
            "--tile-cols", "128", "--checkpoint", "ckterm", "--checkpoint-interval", "0"]
    rc1, _, _ = run([CHORUS, "detect", "--input", "long.h5", "--out", "long-1.h5", "--quiet"])
    p = subprocess.Popen(LAUNCH + ["-np", str(P), CHORUS, "detect", "--input", "long.h5",
                                   "--out", "long-p.h5"] + slow, cwd=WORK,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # signal once every rank has written a checkpoint (so its handlers are installed)
    manifests = [os.path.join(WORK, "ckterm", f"rank-{r}-of-{P}", "manifest") for r in range(P)]
    deadline = time.time() + 60
    while p.poll() is None and time.time() < deadline and not all(map(os.path.exists, manifests)):
        time.sleep(0.02)
    # SIGTERM to every rank, as SLURM delivers it (mpirun forwards a signal of its own only
    # after a variable delay, which on a loaded machine can outlast the job)
    ranks = children(p.pid)
    for pid in ranks or [p.pid]:
        os.kill(pid, signal.SIGTERM)
    _, err = p.communicate(timeout=120)
    if p.returncode == 0:
        print("  note  the run finished before the signal arrived")
    else:
        check("stopped by a signal" in err and "checkpoint was written" in err,
              f"SIGTERM: ranks checkpoint and say so ({p.returncode}) {err[:600]}")
        check(os.path.isdir(os.path.join(WORK, "ckterm", f"rank-0-of-{P}")),
              "one checkpoint directory per rank")
        rc, _, err = run(LAUNCH + ["-np", str(P), CHORUS, "detect", "--input", "long.h5", "--out",
                                   "long-p.h5", "--resume"] + slow)
        check(rc == 0, f"--resume finishes ({rc}) {err[:600]}")
    if rc1 == 0 and os.path.exists(os.path.join(WORK, "long-p.h5")):
        same_results("long-1.h5", "long-p.h5", "interrupted and resumed")

    # one rank fails: every rank ends, with that rank's message and exit code, no file left
    fail_rank = P - 1
    rc, out, err = run(LAUNCH + ["-np", str(P), "-x", "CHORUS_TEST_FAIL_RANK", CHORUS,
                                 "detect", "--input", "in.h5", "--out", "fail.h5", "--threads",
                                 "1", "--quiet"],
                       env={"CHORUS_TEST_FAIL_RANK": str(fail_rank)}, timeout=120)
    check(rc == 1, f"a failing rank ends the job with exit code 1 (got {rc})")
    check(f"rank {fail_rank} of {P}: test failure injected" in err,
          "the job reports the failing rank's message")
    check(err.count("chorus: error:") == 1, "the error is printed once")
    check(not any(n.startswith("fail.h5") for n in os.listdir(WORK)),
          "no results file or shard is left")

    # bad input: exit code 2, one message
    rc, _, err = run(LAUNCH + ["-np", str(P), CHORUS, "detect", "--input", "missing.h5",
                               "--out", "x.h5", "--quiet"], timeout=120)
    check(rc == 2 and err.count("chorus: error:") == 1 and "missing.h5" in err,
          f"missing input: exit code 2 and one message (got {rc})")

    # a bad value that only rank 0 reads (rows before rank 1's share): exit code 2, one
    # message naming the row, no hang and no file (the read fails while the others score)
    shutil.copy(os.path.join(WORK, "in.h5"), os.path.join(WORK, "nan0.h5"))
    with h5py.File(os.path.join(WORK, "nan0.h5"), "r+") as f:
        e = f["embedding"][3]
        e[5] = float("nan")
        f["embedding"][3] = e
    rc, _, err = run(LAUNCH + ["-np", str(P), CHORUS, "detect", "--input", "nan0.h5", "--out",
                               "nan0-out.h5", "--quiet"], timeout=120)
    check(rc == 2 and err.count("chorus: error:") == 1 and "row 3 " in err,
          f"a NaN only rank 0 reads: exit code 2 and one message (got {rc}: {err[:300]})")
    check(not any(n.startswith("nan0-out.h5") for n in os.listdir(WORK)),
          "no results file or shard is left after a bad row")

    # shards are output too: not overwritten without --force
    os.remove(os.path.join(WORK, f"both-{P}.h5"))
    rc, _, err = run(LAUNCH + ["-np", str(P), CHORUS, "detect", "--input", "in.h5", "--out",
                               f"both-{P}.h5", "--quiet"], timeout=120)
    check(rc == 2 and "exists" in err, f"an existing shard is refused without --force ({rc})")
    rc, _, _ = run(LAUNCH + ["-np", str(P), CHORUS, "detect", "--input", "in.h5", "--out",
                             f"both-{P}.h5", "--quiet", "--force", "--threads", "1"])
    check(rc == 0, "--force overwrites results and shards")
    if rc == 0:
        same_results("both-1.h5", f"both-{P}.h5", "forced rerun")

    # a results file whose shard went missing: chorus's readers refuse it with a clear error,
    # and h5py sees -1 rows (the virtual datasets' fill value), never plausible edges
    many = f"both-{P}.h5"
    shard = os.path.join(WORK, many + f".edges-00000-of-{P:05d}.h5")
    os.rename(shard, shard + ".away")
    rc, _, err = run([CHORUS, "export", many, "--format", "csv", "--out", "csv-missing"])
    check(rc == 2 and "is missing" in err, f"export without a shard: exit 2, names the shard ({rc})")
    with h5py.File(os.path.join(WORK, many), "r") as f:
        src = f["edges/src"][()]
    check(src.size > 0 and (src == -1).any() and (src >= -1).all(),
          "h5py reads -1 where the missing shard's rows were")
    os.rename(shard + ".away", shard)

    # more ranks than accounts
    run([CHORUS, "generate", "--accounts", "2", "--dim", "8", "--bins", "8", "--clusters", "0",
         "--seed", "1", "--out", "two.h5", "--quiet"])
    rc1, _, _ = run([CHORUS, "detect", "--input", "two.h5", "--out", "two-1.h5", "--quiet",
                     "--threshold", "-1", "--threshold-activity", "-1", "--min-activity", "0"])
    rcp, _, err = run(LAUNCH + ["-np", str(P + 1), CHORUS, "detect", "--input", "two.h5",
                                "--out", "two-p.h5", "--quiet", "--threshold", "-1",
                                "--threshold-activity", "-1", "--min-activity", "0",
                                "--threads", "1"])
    check(rc1 == 0 and rcp == 0, f"{P + 1} ranks on 2 accounts succeed {err[-300:]}")
    if rc1 == 0 and rcp == 0:
        same_results("two-1.h5", "two-p.h5", "more ranks than accounts")

    print(f"{len(FAILURES)} failure(s)")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
