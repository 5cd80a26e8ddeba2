#!/bin/bash
# Regression check for refactors: two chorus binaries must write the same results.
#
#   tests/regress/same_results.sh BASE_CHORUS NEW_CHORUS [WORKDIR]
#
# Inputs are generated once, with BASE_CHORUS: the demo's input (`chorus demo` defaults, see
# host/outputs/info.cpp run_demo: 100000 accounts, 384-d, 336 bins, 30 clusters, seed 2026) and
# small ones (3000-6000 accounts: both views, embedding only without handles, activity only),
# plus variants made by make_variants.py (zero-norm / zero-variance rows, exact duplicates,
# float16/float64 views, NaN, Inf, negative counts). Every case runs `chorus detect --backend cpu`
# with both binaries and the same arguments; then compare_h5.py compares each pair of results
# byte for byte (every dataset incl. /evidence and virtual datasets, every attribute except the
# ones it lists with a reason). A case that one binary refuses must be refused by the other with
# the same exit code and the same message, and leave no results file.
# Cases: every view (embedding, activity, both, fused --weight) x fp32/bf16/int8, auto, --topk,
# --activity-transform log1p/tfidf, --no-evidence, --no-edges, --max-memory low enough to spill
# edges to disk (checked), --threads 1 vs default, small tiles, thresholds 1 (ties), --checkpoint,
# `mpirun -np 2` (when mpirun exists and both binaries link MPI), refusals (bad values, missing
# view, --max-edges, --max-memory too small).
# Then self-consistency checks of each binary's own files: fp32 == bf16 == int8 and threads 1 ==
# default and checkpointed == plain (the README promises identical results).
#
# WORKDIR (kept) holds base/ and new/ results, stderr and exit codes; without it a mktemp -d
# directory is used and removed. REGRESS_SKIP_DEMO=1 skips the demo-sized input (about 40 s).
# REGRESS_NEW_ARGS="..." adds detect options to NEW's runs only: since #15 a NEW build leaves
# accounts with fewer than 5 posts out of the activity view and refuses thresholds the view does
# not use, so against an older BASE pass REGRESS_NEW_ARGS="--min-activity 0" and expect the
# cases with unused thresholds to differ in their refusal; REGRESS_IGNORE_ATTRS="min_activity
# accounts_below_min_activity" skips the root attributes NEW adds.
# Exit status: 0 all same, 1 some difference, 2 usage or setup failure.
# Runs in about 2-3 minutes on 2 cores (most of it the demo-sized detect, twice).
set -u -o pipefail

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
  sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
BASE=$(readlink -f "$1")
NEW=$(readlink -f "$2")
for b in "$BASE" "$NEW"; do
  [ -x "$b" ] || { echo "same_results: $b is not an executable" >&2; exit 2; }
done
PY=/usr/bin/python3
HERE=$(cd "$(dirname "$0")" && pwd)
COMPARE="$HERE/compare_h5.py"
if [ $# -eq 3 ]; then
  mkdir -p "$3" || exit 2
  W=$(cd "$3" && pwd)
else
  W=$(mktemp -d -t chorus-regress-XXXXXX) || exit 2
  trap 'rm -rf "$W"' EXIT
fi
mkdir -p "$W/in" "$W/base" "$W/new"
: >"$W/pairs.tsv"
FAILS=0
CASES=0
START=$SECONDS
log() { echo "$*" >&2; }
fail() { echo "DIFFERENT $*"; FAILS=$((FAILS + 1)); }

log "same_results: BASE $BASE"
log "same_results: NEW  $NEW"
log "same_results: work $W"

# the comparison itself must see planted differences (NaN payloads, -0.0, one ulp, attributes)
"$PY" "$COMPARE" --self-test >"$W/selftest.txt" ||
  { cat "$W/selftest.txt"; echo "same_results: compare_h5.py --self-test failed" >&2; exit 2; }

# ---------------------------------------------------------------- inputs (made once, by BASE)
gen() {  # gen NAME generate-args...
  local name=$1
  shift
  "$BASE" generate --quiet --force --out "$W/in/$name.h5" "$@" >/dev/null ||
    { echo "same_results: BASE generate $name failed" >&2; exit 2; }
}
gen g_both --accounts 4000 --dim 64 --bins 96 --clusters 6 --seed 11
gen g_emb --accounts 5000 --dim 48 --bins 0 --clusters 8 --seed 12 --no-handles
gen g_act --accounts 3000 --dim 0 --bins 168 --clusters 5 --seed 13
gen g_var --accounts 6000 --dim 32 --bins 72 --clusters 10 --seed 14
"$PY" "$HERE/make_variants.py" "$W/in/g_var.h5" "$W/in" || exit 2
if [ "${REGRESS_SKIP_DEMO:-0}" != 1 ]; then
  gen demo --accounts 100000 --dim 384 --bins 336 --clusters 30 --seed 2026
fi
log "same_results: inputs ready ($((SECONDS - START)) s)"

# ---------------------------------------------------------------- running a case
RUNNER=()  # prefix for the detect command (mpirun)
norm() { sed -e "s#$W/base#WORK#g" -e "s#$W/new#WORK#g" "$1"; }

# case NAME INPUT detect-args...   (the literal word CKDIR in the args becomes a per-side dir)
case_() {
  local name=$1 input=$W/in/$2.h5
  shift 2
  CASES=$((CASES + 1))
  local side bin out args a
  for side in base new; do
    bin=$BASE
    [ $side = new ] && bin=$NEW
    out=$W/$side/$name.h5
    rm -rf "$out" "$out".edges-* "$W/$side/ck-$name"
    args=()
    for a in "$@"; do
      [ "$a" = CKDIR ] && a=$W/$side/ck-$name
      args+=("$a")
    done
    # options only NEW knows, to ask it for BASE's behaviour (e.g. --min-activity 0)
    [ $side = new ] && [ -n "${REGRESS_NEW_ARGS:-}" ] && read -r -a extra <<<"$REGRESS_NEW_ARGS" &&
      args+=("${extra[@]}")
    "${RUNNER[@]}" "$bin" detect --input "$input" --out "$out" --backend cpu --quiet "${args[@]}" \
      >"$W/$side/$name.stdout" 2>"$W/$side/$name.stderr"
    echo $? >"$W/$side/$name.rc"
  done
  local rb rn
  rb=$(cat "$W/base/$name.rc")
  rn=$(cat "$W/new/$name.rc")
  if [ "$rb" != "$rn" ]; then
    fail "$name: exit code $rb (BASE) vs $rn (NEW): $(head -c 300 "$W/base/$name.stderr") | $(head -c 300 "$W/new/$name.stderr")"
    return
  fi
  if [ "$rb" = 0 ]; then
    if [ -e "$W/base/ck-$name" ] || [ -e "$W/new/ck-$name" ]; then
      [ -e "$W/base/ck-$name" ] && [ -e "$W/new/ck-$name" ] ||
        fail "$name: the checkpoint directory is left by one binary only"
    fi
    printf '%s\t%s\t%s\n' "$name" "$W/base/$name.h5" "$W/new/$name.h5" >>"$W/pairs.tsv"
    return
  fi
  # both refused: same message, no results file
  if ! cmp -s <(norm "$W/base/$name.stderr") <(norm "$W/new/$name.stderr"); then
    fail "$name: both exit $rb but the messages differ: $(norm "$W/base/$name.stderr" | head -c 300) | $(norm "$W/new/$name.stderr" | head -c 300)"
  elif [ -e "$W/base/$name.h5" ] || [ -e "$W/new/$name.h5" ]; then
    fail "$name: both exit $rb but a results file was left"
  else
    echo "same      $name (both refused, exit $rb: $(norm "$W/base/$name.stderr" | head -n 1 | cut -c1-110))"
  fi
}

# the smallest --max-memory BASE accepts for this job (edges then spill past a few MiB)
min_memory() {  # min_memory INPUT detect-args...
  local input=$W/in/$1.h5
  shift
  "$BASE" detect --input "$input" --out "$W/base/probe.h5" --backend cpu --quiet \
    --max-memory 1 "$@" 2>&1 | sed -n 's/.*needs about \([0-9]*\) MiB.*/\1/p'
}

LOW=(--threshold 0.5 --threshold-activity 0.3)  # thousands of edges, many near a threshold

# ---------------------------------------------------------------- cases
# g_both: 4000 x (64-d, 96 bins), handles, truth: the full matrix
for p in fp32 bf16 int8; do
  case_ both-emb-$p g_both --view embedding --precision $p "${LOW[@]}"
  case_ both-act-$p g_both --view activity --precision $p "${LOW[@]}"
  case_ both-both-$p g_both --view both --precision $p "${LOW[@]}"
  case_ both-both08-$p g_both --precision $p
  case_ both-fused-$p g_both --view fused --weight 0.3 --threshold 0.6 --precision $p
  case_ both-threads1-$p g_both --view both --threads 1 --precision $p "${LOW[@]}"
done
case_ both-default g_both
case_ both-auto-low g_both "${LOW[@]}"
case_ both-topk3 g_both --view both --topk 3 "${LOW[@]}"
case_ both-topk1-emb-bf16 g_both --view embedding --threshold 0.5 --topk 1 --precision bf16
case_ both-topk2-fused g_both --view fused --weight 0.7 --threshold 0.5 --topk 2
case_ both-log1p-act g_both --view activity --activity-transform log1p --threshold-activity 0.3
case_ both-tfidf-act-fp32 g_both --view activity --activity-transform tfidf --threshold-activity 0.3 --precision fp32
case_ both-tfidf-both g_both --activity-transform tfidf "${LOW[@]}"
case_ both-log1p-fused-int8 g_both --view fused --activity-transform log1p --weight 0.5 --threshold 0.5 --precision int8
case_ both-noevidence g_both --no-evidence "${LOW[@]}"
case_ both-noedges g_both --no-edges "${LOW[@]}"
case_ both-tiles g_both --tile-rows 64 --tile-cols 320 "${LOW[@]}"
case_ both-tiles-threads1-fp32 g_both --tile-rows 128 --tile-cols 128 --threads 1 --precision fp32 "${LOW[@]}"
SPILL=(--view embedding --threshold 0.3)  # about 520k edges
M=$(min_memory g_both "${SPILL[@]}")
if [ -z "$M" ]; then
  fail "spill: could not learn the smallest --max-memory from BASE"
else
  M=$((M + 1))
  case_ both-spill g_both "${SPILL[@]}" --max-memory $M
  case_ err-spill-topk5-fp32 g_both "${SPILL[@]}" --max-memory $M --topk 5 --precision fp32
  case_ both-spill-threads1 g_both "${SPILL[@]}" --max-memory $M --threads 1
  case_ both-nospill g_both "${SPILL[@]}"
  case_ both-checkpoint-spill g_both "${SPILL[@]}" --max-memory $M --checkpoint CKDIR --checkpoint-interval 0
fi
case_ both-checkpoint g_both --checkpoint CKDIR --checkpoint-interval 0 "${LOW[@]}"
case_ both-checkpoint-threads1-bf16 g_both --checkpoint CKDIR --threads 1 --precision bf16 "${LOW[@]}"
case_ both-plain-bf16 g_both --precision bf16 "${LOW[@]}"
# refusals
case_ err-max-edges g_both "${SPILL[@]}" --max-edges 1000
case_ err-max-memory g_both --max-memory 1
case_ err-threshold g_both --threshold 1.5
case_ err-weight g_both --view fused --weight 2

# variants of g_var (6000 x (32-d, 72 bins)): invalid rows, duplicates, other dtypes
for p in fp32 bf16 int8; do
  case_ inv-both-$p invalid --precision $p "${LOW[@]}"
  case_ inv-thr1-$p invalid --threshold 1 --threshold-activity 1 --precision $p
done
case_ inv-default invalid
case_ inv-emb invalid --view embedding --threshold 0.5
case_ inv-act-log1p invalid --view activity --activity-transform log1p --threshold-activity 0.3
case_ inv-act-tfidf invalid --view activity --activity-transform tfidf --threshold-activity 0.3
case_ inv-fused invalid --view fused --weight 0.4 --threshold 0.5
case_ inv-emb-thr1 invalid --view embedding --threshold 1
case_ inv-topk1-ties invalid --view embedding --threshold 0.99 --topk 1
case_ inv-topk2 invalid --topk 2 "${LOW[@]}"
case_ inv-noevidence-threads1 invalid --no-evidence --threads 1 "${LOW[@]}"
case_ dt-default dtypes
case_ dt-both-fp32 dtypes --precision fp32 "${LOW[@]}"
case_ dt-both-int8 dtypes --precision int8 "${LOW[@]}"
case_ dt-log1p dtypes --activity-transform log1p "${LOW[@]}"
case_ dt-thr1 dtypes --threshold 1 --threshold-activity 1
case_ err-nan nan
case_ err-inf inf
case_ err-negative-log1p negative --activity-transform log1p
case_ err-negative-tfidf negative --view activity --activity-transform tfidf
case_ neg-none negative --view activity --threshold-activity 0.3  # negative counts are fine raw

# g_emb: 5000 x 48, embedding only, no handles
for p in fp32 bf16 int8; do
  case_ emb-$p g_emb --precision $p --threshold 0.5
done
case_ emb-default g_emb
case_ emb-topk3 g_emb --threshold 0.5 --topk 3
case_ emb-threads1 g_emb --threshold 0.5 --threads 1
case_ err-emb-view-both g_emb --view both
case_ err-emb-view-fused g_emb --view fused

# g_act: 3000 x 168, activity only
for p in fp32 bf16 int8; do
  case_ act-$p g_act --precision $p --threshold-activity 0.3
done
case_ act-default g_act
case_ act-log1p g_act --activity-transform log1p --threshold-activity 0.3
case_ act-tfidf-topk2 g_act --activity-transform tfidf --threshold-activity 0.3 --topk 2
case_ err-act-view-emb g_act --view embedding

# two ranks (Debian OpenMPI)
links_mpi() { ldd "$1" 2>/dev/null | grep libmpi >/dev/null; }  # (grep -q + pipefail: SIGPIPE)
if command -v mpirun >/dev/null && links_mpi "$BASE" && links_mpi "$NEW"; then
  RUNNER=(mpirun --oversubscribe -np 2)
  [ "$(id -u)" = 0 ] && RUNNER=(mpirun --allow-run-as-root --oversubscribe -np 2)
  case_ mpi-both g_both "${LOW[@]}"
  case_ mpi-both-int8 g_both --precision int8 "${LOW[@]}"
  case_ mpi-emb-topk3 g_both --view embedding --threshold 0.5 --topk 3
  case_ mpi-act-tfidf-fp32 g_both --view activity --activity-transform tfidf --threshold-activity 0.3 --precision fp32
  case_ mpi-fused g_both --view fused --weight 0.3 --threshold 0.6
  case_ mpi-noedges g_both --no-edges "${LOW[@]}"
  case_ mpi-inv-thr1 invalid --threshold 1 --threshold-activity 1
  case_ mpi-emb-only g_emb --threshold 0.5
  case_ mpi-threads1 g_act --threads 1 --threshold-activity 0.3
  RUNNER=()
else
  log "same_results: mpirun absent or a binary without MPI: 2-rank cases skipped"
fi

# the demo's detect (defaults, as `chorus demo` runs it)
if [ "${REGRESS_SKIP_DEMO:-0}" != 1 ]; then
  case_ demo-default demo
fi
log "same_results: $CASES cases run ($((SECONDS - START)) s); comparing"

# the spill cases must really have spilled
for side in base new; do
  f=$W/$side/both-spill.h5
  if [ -e "$f" ]; then
    s=$("$PY" -c 'import h5py,sys; print(int(h5py.File(sys.argv[1],"r").attrs.get("edges_spilled", -1)))' "$f")
    [ "$s" = 1 ] || fail "both-spill: $side did not spill its edges (edges_spilled=$s); lower --max-memory"
  fi
done

# ... and must fail on real results that differ: thresholds 0.8/0.8 vs 0.5/0.3 (BASE's files)
if [ -e "$W/base/both-default.h5" ] && [ -e "$W/base/both-auto-low.h5" ]; then
  if "$PY" "$COMPARE" "$W/base/both-default.h5" "$W/base/both-auto-low.h5" \
    --label "sanity: thresholds 0.8/0.8 vs 0.5/0.3 (must differ)" >"$W/sanity.txt"; then
    fail "sanity: compare_h5.py found no difference between different thresholds"
  else
    log "ok        the comparison fails on a real difference: $(sed 's/^DIFFERENT *//' "$W/sanity.txt")"
  fi
fi

# ---------------------------------------------------------------- BASE vs NEW
# REGRESS_IGNORE_ATTRS="a b": root attributes a newer NEW adds (e.g. min_activity)
ignore=()
for a in ${REGRESS_IGNORE_ATTRS:-}; do ignore+=(--ignore-attr "$a"); done
"$PY" "$COMPARE" --pairs "$W/pairs.tsv" "${ignore[@]}"
rc=$?
[ $rc -le 1 ] || log "same_results: compare_h5.py failed to read a file (exit $rc)"
NPAIRS=$(grep -c . "$W/pairs.tsv")

# ---------------------------------------------------------------- each binary against itself
# Results are identical across precisions, thread counts and checkpointing (README); the
# attributes that name those settings (and the precision's first-pass candidate counts) differ.
SELF_FAIL=0
self_pairs() {  # self_pairs FILE  (lines: LABEL A-case B-case)
  local out=$1
  shift
  : >"$out"
  while read -r label a b; do
    for side in base new; do
      [ -e "$W/$side/$a.h5" ] && [ -e "$W/$side/$b.h5" ] &&
        printf '%s\t%s\t%s\n' "$side:$label" "$W/$side/$a.h5" "$W/$side/$b.h5" >>"$out"
    done
  done
}
self_pairs "$W/self-precision.tsv" <<EOF
both-emb-fp32=bf16 both-emb-fp32 both-emb-bf16
both-emb-fp32=int8 both-emb-fp32 both-emb-int8
both-act-fp32=bf16 both-act-fp32 both-act-bf16
both-act-fp32=int8 both-act-fp32 both-act-int8
both-both-fp32=bf16 both-both-fp32 both-both-bf16
both-both-fp32=int8 both-both-fp32 both-both-int8
both-fused-fp32=bf16 both-fused-fp32 both-fused-bf16
both-fused-fp32=int8 both-fused-fp32 both-fused-int8
inv-thr1-fp32=int8 inv-thr1-fp32 inv-thr1-int8
inv-both-fp32=bf16 inv-both-fp32 inv-both-bf16
emb-fp32=int8 emb-fp32 emb-int8
act-fp32=bf16 act-fp32 act-bf16
EOF
self_pairs "$W/self-threads.tsv" <<EOF
threads1=default-fp32 both-threads1-fp32 both-both-fp32
threads1=default-int8 both-threads1-int8 both-both-int8
spill-threads1=default both-spill-threads1 both-spill
checkpoint-threads1=plain both-checkpoint-threads1-bf16 both-plain-bf16
EOF
self_pairs "$W/self-other.tsv" <<EOF
checkpoint=plain both-checkpoint both-auto-low
checkpoint-spill=spill both-checkpoint-spill both-spill
EOF
self_pairs "$W/self-memory.tsv" <<EOF
spill=nospill both-spill both-nospill
EOF
log "same_results: each binary against itself (settings that must not change results)"
"$PY" "$COMPARE" --pairs "$W/self-precision.tsv" --ignore-attr precision_requested \
  --ignore-attr precision_used --ignore-attr candidates --ignore-dataset /ranks/candidates || SELF_FAIL=1
"$PY" "$COMPARE" --pairs "$W/self-threads.tsv" --ignore-attr threads || SELF_FAIL=1
"$PY" "$COMPARE" --pairs "$W/self-other.tsv" || SELF_FAIL=1
"$PY" "$COMPARE" --pairs "$W/self-memory.tsv" --ignore-attr max_memory_mib \
  --ignore-attr edges_spilled || SELF_FAIL=1

# ---------------------------------------------------------------- verdict
echo "same_results: $CASES cases ($NPAIRS results pairs, $((CASES - NPAIRS)) refused by both), $((SECONDS - START)) s"
if [ $rc = 0 ] && [ $FAILS = 0 ] && [ $SELF_FAIL = 0 ]; then
  echo "same_results: PASS: NEW writes the same results as BASE"
  exit 0
fi
[ $rc = 0 ] && [ $FAILS = 0 ] && echo "same_results: BASE vs NEW same, but a binary is not consistent with itself (above)"
echo "same_results: FAIL"
exit 1
