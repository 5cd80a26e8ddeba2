#!/usr/bin/env bash
# chorus mutation check (tests/mutations/README.md). Copies the tree once to a temporary folder,
# builds it once (CPU only; MPI when a mutation needs it), checks that the un-mutated build passes
# every mutation's selected tests, then per mutation: apply the patch, rebuild chorus and
# chorus_tests incrementally, run the selected tests under a time limit, record KILLED (they
# failed) or SURVIVED (they passed), revert. Prints a table; exits non-zero when a mutation
# survived, a patch no longer applies or a mutant does not build.
#
# Usage: bash tests/mutations/run.sh [NAME-PREFIX...]   (default: every tests/mutations/*.patch)
# Environment: CHORUS_MUTATION_TIMEOUT (default per-mutation limit, s; a patch's `# timeout:`
# wins), CHORUS_MUTATION_JOBS (build jobs, default nproc), CHORUS_MUTATION_KEEP=1 (keep the
# temporary folder), TMPDIR.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
MDIR="$ROOT/tests/mutations"
DEFAULT_TIMEOUT="${CHORUS_MUTATION_TIMEOUT:-300}"
JOBS="${CHORUS_MUTATION_JOBS:-$(nproc)}"
T0=$(date +%s)

die() { echo "mutations: $*" >&2; exit 2; }
header() { sed -n "s/^# $2: //p" "$1" | head -1; }  # header <patch> <key>
elapsed() { echo $(($(date +%s) - $1)); }

# --- which mutations
patches=()
if [ $# -gt 0 ]; then
  for a in "$@"; do
    m=("$MDIR/$a"*.patch)
    [ -e "${m[0]}" ] || die "no patch matches '$a'"
    patches+=("${m[@]}")
  done
else
  patches=("$MDIR"/*.patch)
  [ -e "${patches[0]}" ] || die "no patches in $MDIR"
fi
need_mpi=OFF
for p in "${patches[@]}"; do
  spec=$(header "$p" tests)
  case "$spec" in
    "gtest "?* | "ctest "?*) ;;
    *) die "$(basename "$p"): '# tests:' must be 'gtest <filter>' or 'ctest <regex>', got '$spec'" ;;
  esac
  [ -n "$(header "$p" mutation)" ] || die "$(basename "$p"): no '# mutation:' line"
  case "$(header "$p" needs)" in *mpi*) need_mpi=ON ;; esac
done

# --- copy the tree once: tracked and untracked-but-not-ignored files (no .git, no build folders)
WORK="$(mktemp -d "${TMPDIR:-/tmp}/chorus-mutations.XXXXXX")"
cleanup() { if [ "${CHORUS_MUTATION_KEEP:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi; }
trap cleanup EXIT
SRC="$WORK/src" B="$WORK/build" LOGS="$WORK/logs"
mkdir -p "$SRC" "$LOGS"
if git -C "$ROOT" rev-parse --is-inside-work-tree > /dev/null 2>&1; then
  (cd "$ROOT" && git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do [ -f "$f" ] && printf '%s\0' "$f"; done |
    tar --null -T - -cf -) | tar -C "$SRC" -xf - || die "copying the tree failed"
else
  tar -C "$ROOT" --exclude=./.git --exclude='./build*' -cf - . | tar -C "$SRC" -xf - ||
    die "copying the tree failed"
fi

# --- every patch must still apply to the un-mutated tree
declare -A result secs
stale=0
for p in "${patches[@]}"; do
  if ! patch -p1 -d "$SRC" --dry-run -s -f < "$p" > "$LOGS/$(basename "$p").dry" 2>&1; then
    result[$p]=STALE
    stale=$((stale + 1))
    echo "mutations: $(basename "$p") no longer applies:" && sed 's/^/  /' "$LOGS/$(basename "$p").dry"
  fi
done

# --- one build
launcher=()
command -v ccache > /dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
echo "== configure and build (CPU only, MPI $need_mpi) in $B"
t=$(date +%s)
cmake -S "$SRC" -B "$B" -DCMAKE_BUILD_TYPE=Release -DCHORUS_CUDA=OFF -DCHORUS_BUILD_BENCH=OFF \
  -DCHORUS_MPI="$need_mpi" "${launcher[@]}" > "$LOGS/configure.log" 2>&1 ||
  { tail -30 "$LOGS/configure.log"; die "configure failed"; }
build() { cmake --build "$B" -j"$JOBS" --target chorus chorus_tests > "$1" 2>&1; }
build "$LOGS/build.log" || { tail -40 "$LOGS/build.log"; die "the un-mutated tree does not build"; }
echo "   built in $(elapsed "$t") s"

# Tests run with CI=true: a test that would skip for a missing tool fails instead, so a skip can
# never pass for a kill or for a clean baseline.
export CI=true
run_tests() {  # run_tests <spec> <timeout> <log> [VAR=VALUE ...]  (the patch's `# env:`)
  local kind="${1%% *}" pat="${1#* }" lim="$2" log="$3"
  shift 3
  if [ "$kind" = gtest ]; then
    env "$@" timeout -k 10 "$lim" "$B/tests/chorus_tests" --gtest_filter="$pat" --gtest_brief=1 \
      > "$log" 2>&1
  else
    env "$@" timeout -k 10 "$lim" ctest --test-dir "$B" -R "$pat" --no-tests=error \
      --output-on-failure > "$log" 2>&1
  fi
}
# every positive part of a filter must select at least one test (a renamed test must not
# silently shrink the selection)
check_selects() {  # check_selects <spec>
  local kind="${1%% *}" pat="${1#* }" part n
  if [ "$kind" = gtest ]; then
    IFS=: read -r -a parts <<< "${pat%%-*}"
    for part in "${parts[@]}"; do
      n=$("$B/tests/chorus_tests" --gtest_filter="$part" --gtest_list_tests 2> /dev/null |
        grep -c '^  ')
      [ "$n" -gt 0 ] || { echo "   filter part '$part' selects no test"; return 1; }
    done
  else
    n=$(ctest --test-dir "$B" -N -R "$pat" | grep -c 'Test *#')
    [ "$n" -gt 0 ] || { echo "   regex '$pat' selects no test"; return 1; }
  fi
}

# --- the un-mutated build passes every selected test set (each distinct set once)
echo "== baseline: un-mutated tree against each mutation's tests"
declare -A baseline_done
baseline_bad=0
for p in "${patches[@]}"; do
  spec=$(header "$p" tests)
  read -r -a envs <<< "$(header "$p" env)"
  [ -n "${baseline_done[$spec ${envs[*]}]:-}" ] && continue
  baseline_done[$spec ${envs[*]}]=1
  t=$(date +%s)
  lim=$(header "$p" timeout)
  log="$LOGS/baseline-$(basename "$p").log"
  if ! check_selects "$spec"; then
    echo "   BAD  $spec" && baseline_bad=$((baseline_bad + 1)) && continue
  fi
  if run_tests "$spec" "${lim:-$DEFAULT_TIMEOUT}" "$log" "${envs[@]}"; then
    echo "   ok   $spec ${envs[*]} ($(elapsed "$t") s)"
  else
    echo "   FAIL $spec ${envs[*]} ($(elapsed "$t") s):" && tail -30 "$log" | sed 's/^/     /'
    baseline_bad=$((baseline_bad + 1))
  fi
done
[ "$baseline_bad" -eq 0 ] || die "$baseline_bad selected test set(s) fail or select nothing on the un-mutated tree"

# --- order: cheapest rebuild first (objects that depend on the patched files), so the most
# expensive mutation is last and its revert never needs a rebuild
cost() {
  local f c=0 n
  for f in $(sed -n 's|^+++ b/||p' "$1" | cut -f1); do
    n=$(grep -rlF --include='*.o.d' "$SRC/$f" "$B" 2> /dev/null | wc -l)
    c=$((c + n))
  done
  echo "$c"
}
mapfile -t ordered < <(for p in "${patches[@]}"; do
  [ "${result[$p]:-}" = STALE ] || echo "$(cost "$p") $p"
done | sort -n -k1,1 -s | cut -d' ' -f2-)

# --- the mutations
echo "== mutations"
for p in "${ordered[@]}"; do
  name=$(basename "$p" .patch)
  spec=$(header "$p" tests)
  lim=$(header "$p" timeout)
  read -r -a envs <<< "$(header "$p" env)"
  t=$(date +%s)
  if ! patch -p1 -d "$SRC" -s -f --no-backup-if-mismatch < "$p" > "$LOGS/$name.apply" 2>&1; then
    result[$p]=STALE && stale=$((stale + 1)) && echo "   $name: does not apply" && continue
  fi
  if ! build "$LOGS/$name.build.log"; then
    result[$p]=NO-BUILD
    echo "   $name: the mutant does not build:" && grep -m5 -E 'error' "$LOGS/$name.build.log"
  else
    run_tests "$spec" "${lim:-$DEFAULT_TIMEOUT}" "$LOGS/$name.test.log" "${envs[@]}"
    rc=$?
    case $rc in
      0) result[$p]=SURVIVED ;;
      124 | 137) result[$p]="KILLED(timeout)" ;;
      *) result[$p]=KILLED ;;
    esac
  fi
  patch -p1 -R -d "$SRC" -s -f --no-backup-if-mismatch < "$p" > "$LOGS/$name.revert" 2>&1 ||
    die "$name: reverting the patch failed; the copy is no longer the tree"
  secs[$p]=$(elapsed "$t")
  echo "   $name: ${result[$p]} (${secs[$p]} s)"
done

# --- table
echo
printf '%-46s %-16s %5s  %s\n' mutation result secs tests
bad=0
for p in "${patches[@]}"; do
  r=${result[$p]}
  case "$r" in KILLED*) ;; *) bad=$((bad + 1)) ;; esac
  printf '%-46s %-16s %5s  %s\n' "$(basename "$p" .patch)" "$r" "${secs[$p]:--}" "$(header "$p" tests)"
done
echo
echo "mutations: ${#patches[@]} checked, $bad not killed, $(elapsed "$T0") s in all"
[ "$bad" -eq 0 ] || { echo "mutations: FAILED (a surviving mutation needs a test that kills it;" \
  "a stale patch needs regenerating: see tests/mutations/README.md)"; exit 1; }
echo "mutations: all killed"
