#!/bin/bash
# Side-by-side speed of two chorus binaries, interleaved on the same machine in the same run.
#
#   bench/side_by_side.sh BASE_CHORUS NEW_CHORUS [ROUNDS]
#
# Each round runs BASE then NEW (A B A B ..., ROUNDS rounds, default 5) of:
#   demo    `chorus demo --workdir FRESH_DIR` (generate 100k x 384 + 336 bins, then detect), wall
#           time of the whole command; the "generated in" and "detected in" figures it prints
#           are reported too (demo-detect), so a change in either step shows
#   faiss   the chorus side of bench/compare_faiss.py with its defaults: `chorus detect --view
#           embedding --threshold 0.8 --threads 2 --quiet --force` on `chorus generate --accounts
#           50000 --dim 384 --bins 0 --clusters 40 --seed 1` (generated once, by BASE), with
#           OMP_NUM_THREADS=2 as compare_faiss.py sets it; one untimed warm-up per binary first.
#           (compare_faiss.py has --chorus, but it always runs the slow FAISS half too, so the
#           same detect command is timed here directly.)
# Per measurement: median and min per binary and NEW/BASE; PASS when NEW's median is at most 3%
# above BASE's (or faster). Exit status 0 when every measurement passes, 1 otherwise, 2 usage.
# Env: DEMO_ACCOUNTS (default 100000: the demo's default), SKIP_DEMO=1, SKIP_FAISS=1,
#      TOLERANCE (default 0.03), KEEP=1 keeps the work directory.
# About 5 minutes with 5 rounds on 2 cores (demo ~21 s, faiss-side detect ~4 s per run).
set -u -o pipefail

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
  sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
BASE=$(readlink -f "$1")
NEW=$(readlink -f "$2")
ROUNDS=${3:-5}
TOL=${TOLERANCE:-0.03}
DEMO_ACCOUNTS=${DEMO_ACCOUNTS:-100000}
for b in "$BASE" "$NEW"; do
  [ -x "$b" ] || { echo "side_by_side: $b is not an executable" >&2; exit 2; }
done
W=$(mktemp -d -t chorus-sbs-XXXXXX) || exit 2
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$W"' EXIT
T=$W/times.tsv  # measurement<TAB>side<TAB>round<TAB>seconds
: >"$T"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$T"; }

echo "side_by_side: BASE $BASE"
echo "side_by_side: NEW  $NEW"
echo "side_by_side: $ROUNDS rounds, A B interleaved, $(nproc) cores, tolerance $TOL"
echo "side_by_side: load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine makes the figures noisy)"

run_demo() {  # run_demo SIDE BIN ROUND
  local dir=$W/demo-$1-$3 t0 t1 out
  t0=$(now)
  "$2" demo --accounts "$DEMO_ACCOUNTS" --workdir "$dir" >"$W/demo.out" 2>&1 ||
    { cat "$W/demo.out"; echo "side_by_side: $1 demo failed" >&2; exit 2; }
  t1=$(now)
  record demo "$1" "$3" "$(elapsed "$t0" "$t1")"
  out=$(sed -n 's/^generated in \([0-9.]*\) s.*/\1/p' "$W/demo.out")
  [ -n "$out" ] && record demo-generate "$1" "$3" "$out"
  out=$(sed -n 's/^detected in \([0-9.]*\) s.*/\1/p' "$W/demo.out")
  [ -n "$out" ] && record demo-detect "$1" "$3" "$out"
  rm -rf "$dir"
}

FAISS_IN=$W/emb_50000x384_c40_s1.h5
run_faiss() {  # run_faiss SIDE BIN ROUND (ROUND 0: warm-up, not recorded)
  local t0 t1
  t0=$(now)
  OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 MKL_NUM_THREADS=2 BLIS_NUM_THREADS=2 \
    "$2" detect --input "$FAISS_IN" --out "$W/faiss_results.h5" --view embedding \
    --threshold 0.8 --threads 2 --quiet --force >"$W/faiss.out" 2>&1 ||
    { cat "$W/faiss.out"; echo "side_by_side: $1 detect failed" >&2; exit 2; }
  t1=$(now)
  [ "$3" = 0 ] || record faiss-detect "$1" "$3" "$(elapsed "$t0" "$t1")"
}

if [ "${SKIP_FAISS:-0}" != 1 ]; then
  "$BASE" generate --accounts 50000 --dim 384 --bins 0 --clusters 40 --seed 1 \
    --out "$FAISS_IN" --force --quiet || { echo "side_by_side: generate failed" >&2; exit 2; }
  run_faiss base "$BASE" 0
  run_faiss new "$NEW" 0
fi
for r in $(seq 1 "$ROUNDS"); do
  if [ "${SKIP_DEMO:-0}" != 1 ]; then
    run_demo base "$BASE" "$r"
    run_demo new "$NEW" "$r"
  fi
  if [ "${SKIP_FAISS:-0}" != 1 ]; then
    run_faiss base "$BASE" "$r"
    run_faiss new "$NEW" "$r"
  fi
  echo "side_by_side: round $r/$ROUNDS: $(awk -F'\t' -v r="$r" '$3 == r { printf "%s %s %.2fs  ", $1, $2, $4 }' "$T")"
done

echo "side_by_side: load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/python3 - "$T" "$TOL" <<'EOF'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
tol = float(sys.argv[2])
order = []
for m, _, _, _ in rows:
    if m not in order:
        order.append(m)
ok = True
print(f"{'measurement':14s} {'BASE median':>11s} {'BASE min':>9s} {'NEW median':>11s} {'NEW min':>9s}"
      f" {'NEW/BASE med':>12s} {'NEW/BASE min':>12s}  verdict")
for m in order:
    b = [float(s) for mm, side, _, s in rows if mm == m and side == "base"]
    n = [float(s) for mm, side, _, s in rows if mm == m and side == "new"]
    if not b or not n:
        continue
    mb, mn = statistics.median(b), statistics.median(n)
    rmed, rmin = mn / mb, min(n) / min(b)
    # demo-generate is informational (the generator is not what a scan refactor changes, and it
    # is part of the demo wall time anyway)
    gate = m != "demo-generate"
    verdict = ("PASS" if rmed <= 1 + tol else "FAIL") if gate else "info"
    ok &= verdict != "FAIL"
    print(f"{m:14s} {mb:10.2f}s {min(b):8.2f}s {mn:10.2f}s {min(n):8.2f}s {rmed:12.3f} {rmin:12.3f}  {verdict}")
print("side_by_side:", "PASS" if ok else "FAIL",
      f"(NEW median within {tol:.0%} of BASE's, or faster, for every gated measurement)")
sys.exit(0 if ok else 1)
EOF
