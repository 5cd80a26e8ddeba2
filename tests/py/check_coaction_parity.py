#!/usr/bin/python3
"""CTest: chorus's co-action views equal QUT's coordination-network-toolkit, exactly.

Usage: check_coaction_parity.py <chorus-binary> <workdir> [accounts]
Exit 0 = pass, 1 = fail, 77 = skipped (the toolkit is not installed; under CI=true that is a
failure, exit 1: see ci_skip.py).

The toolkit (PyPI `coordination-network-toolkit` 1.5.2) lives in a test-only virtual environment,
tests/.venv, that .ci/setup.sh makes; it is never a runtime dependency. This script re-runs
itself with that environment's Python when the toolkit is not importable here.

A posts corpus from `chorus generate --posts` (in the toolkit's CSV layout) is preprocessed by the
toolkit and ingested by chorus with --normalize toolkit --min-posts 1. For co_retweet/co_repost,
co_tweet/co_text, co_link, co_reply and co_post, at several windows and minimum weights, the
toolkit's network tables (SQLite; its CSV output fails in 1.5.2) must equal chorus's edges:
every toolkit row u->v (u != v: the toolkit also counts an account with itself, chorus does not)
with its weight is a chorus edge whose weight in that direction is the same, and chorus has no
other direction reaching the minimum weight. The weights chorus stores below the minimum (the
other direction of an edge) must equal the toolkit's at minimum weight 1.

One difference of the toolkit is neutralised, not copied: its CSV reader splits an empty `urls`
field into one empty link, so every post without a link "shares" the link '' with every other;
those rows are deleted from its message_url table before co_link.
"""

import os
import sqlite3
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from ci_skip import skip  # noqa: E402

VENV_PY = os.path.join(HERE, "..", ".venv", "bin", "python")

try:
    import coordination_network_toolkit as cnt  # noqa: F401
    from coordination_network_toolkit import compute_networks as cn
    from coordination_network_toolkit import preprocess as pre
    import h5py
except ImportError as e:
    if os.path.exists(VENV_PY) and os.environ.get("CHORUS_PARITY_REEXEC") != "1":
        os.environ["CHORUS_PARITY_REEXEC"] = "1"
        os.execv(VENV_PY, [VENV_PY] + sys.argv)
    skip(f"cannot import coordination_network_toolkit and h5py ({e}); .ci/setup.sh installs "
         f"them in tests/.venv")

FAILURES = []

# chorus view, toolkit table, toolkit function (db, window, min weight)
VIEWS = [
    ("co_repost", "co_retweet_network",
     lambda db, w, m: cn.compute_co_retweet_parallel(db, w, n_threads=2, min_edge_weight=m)),
    ("co_text", "co_tweet_network",
     lambda db, w, m: cn.compute_co_tweet_network(db, w, min_edge_weight=m, n_threads=2)),
    ("co_link", "co_link_network",
     lambda db, w, m: cn.compute_co_link_network(db, w, n_threads=2, min_edge_weight=m)),
    ("co_reply", "co_reply_network",
     lambda db, w, m: cn.compute_co_reply_network(db, w, min_edge_weight=m, n_threads=2)),
    ("co_post", "co_post_network",
     lambda db, w, m: cn.compute_co_post_network(db, w, min_edge_weight=m, n_threads=2)),
]
# (window, min weight) per view; co_post is every pair of posts in the window: short windows
CASES = {
    "co_repost": [(0, 1), (60, 1), (60, 2), (900, 1), (900, 3)],
    "co_text": [(60, 1), (900, 1), (900, 2)],
    "co_link": [(0, 1), (60, 1), (900, 2)],
    "co_reply": [(60, 1), (3600, 1), (3600, 2)],
    "co_post": [(0, 1), (10, 1), (10, 2)],
}


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


def toolkit_rows(db, table):
    """{(user, user): weight} of a toolkit network table, self-pairs left out."""
    con = sqlite3.connect(db)
    rows = con.execute(f"select user_1, user_2, weight from {table}").fetchall()
    con.close()
    return {(str(a), str(b)): int(w) for a, b, w in rows if str(a) != str(b)}


def chorus_rows(results, min_weight):
    """({(user, user): weight} of the directed weights >= min_weight, all stored weights)."""
    with h5py.File(results, "r") as f:
        ids = [str(i) for i in f["/accounts/id"][:]]
        src, dst = f["/edges/src"][:], f["/edges/dst"][:]
        wsd, wds = f["/edges/weight_src_dst"][:], f["/edges/weight_dst_src"][:]
    kept, stored = {}, {}
    for s, d, a, b in zip(src, dst, wsd, wds):
        u, v = ids[s], ids[d]
        check_edge = max(a, b) >= min_weight
        if not check_edge:
            FAILURES.append(f"edge {u}-{v} below --min-weight {min_weight}: {a}, {b}")
        stored[(u, v)], stored[(v, u)] = int(a), int(b)
        if a >= min_weight:
            kept[(u, v)] = int(a)
        if b >= min_weight:
            kept[(v, u)] = int(b)
    return kept, stored


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    chorus, work = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    accounts = sys.argv[3] if len(sys.argv) > 3 else "1500"
    os.makedirs(work, exist_ok=True)
    posts = os.path.join(work, "posts.csv")
    run([chorus, "generate", "--posts", "--accounts", accounts, "--seed", "7", "--out", posts,
         "--force", "--quiet"])
    db = os.path.join(work, "toolkit.db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    pre.preprocess_csv_files(db, [posts])
    con = sqlite3.connect(db)
    empty = con.execute("delete from message_url where url = ''").rowcount
    con.commit()
    con.close()
    print(f"toolkit: deleted {empty} empty links of posts without a link", flush=True)
    inp = os.path.join(work, "in.h5")
    run([chorus, "ingest", posts, "--out", inp, "--normalize", "toolkit", "--min-posts", "1",
         "--dim", "0", "--force", "--quiet"])
    res = os.path.join(work, "r.h5")
    for view, table, compute in VIEWS:
        ones, most = {}, 0
        for window, m in CASES[view]:
            compute(db, window, m)
            want = toolkit_rows(db, table)
            if m == 1:
                ones[window] = want
            run([chorus, "detect", "--input", inp, "--out", res, "--view", view, "--window",
                 str(window), "--min-weight", str(m), "--no-evidence", "--force", "--quiet"])
            got, stored = chorus_rows(res, m)
            missing = set(want) - set(got)
            extra = set(got) - set(want)
            differ = [k for k in set(want) & set(got) if want[k] != got[k]]
            most = max(most, len(want))
            check(not missing and not extra and not differ,
                  f"{view} window {window} min weight {m}: {len(want)} toolkit rows, "
                  f"{len(got)} chorus; missing {sorted(missing)[:3]}, extra {sorted(extra)[:3]}, "
                  f"different weights {[(k, want[k], got[k]) for k in differ[:3]]}")
            if m > 1 and window in ones:  # weights stored below the minimum
                wrong = [k for k, w in stored.items() if w != ones[window].get(k, 0)]
                check(not wrong, f"{view} window {window}: the {len(stored)} stored directed "
                      f"weights equal the toolkit's at min weight 1 (wrong: {wrong[:3]})")
        check(most > 0, f"{view}: the corpus gives the toolkit rows to compare ({most} at most)")
    if FAILURES:
        print(f"FAIL: {len(FAILURES)} checks failed")
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
