#!/usr/bin/env bash
# chorus CI: the test suite under AddressSanitizer + UndefinedBehaviorSanitizer (gcc), then the
# libFuzzer target for input validation (clang) for 60 s on the seed corpus. Exits non-zero on
# any failure. Needs, beyond .ci/setup.sh: clang-14 (clang, clang++), libclang-rt-14-dev
# (libFuzzer and the sanitizer runtimes for clang) and libomp-14-dev (OpenMP for clang).
# Usage: bash .ci/sanitize.sh [fuzz seconds, default 60]
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZ_SECONDS="${1:-60}"
JOBS="$(nproc)"
HANG_SECONDS="${CHORUS_FUZZ_HANG_SECONDS:-20}"  # re-run limit of a timeout artifact (SIGABRT after)

# the fuzz triage (tests/fuzz/triage.sh) on its hand-made reports, before anything slow
echo "== fuzz triage self-check"
triage_check=$(bash tests/fuzz/check_triage.sh 2>&1) || { echo "$triage_check"; exit 1; }
echo "$triage_check" | tail -1

echo "== sanitizer build (build-asan)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCHORUS_CUDA=OFF -DCHORUS_MPI=OFF \
  -DCHORUS_SANITIZE=address,undefined -DCHORUS_BUILD_BENCH=OFF
cmake --build build-asan -j"$JOBS"
# No suppressions: the suite is clean under ASan/UBSan (oneDNN's JIT and OpenMP gave no false
# positives here). -fno-sanitize-recover makes any UBSan finding fatal; halt_on_error is ASan's
# default. Stack traces for UBSan reports:
# (Memory.PeakRssStaysUnderMaxMemoryWhileEdgesSpill skips itself under ASan: shadow memory and
# the quarantine count toward the RSS it bounds.)
UBSAN_OPTIONS=print_stacktrace=1 ctest --test-dir build-asan --output-on-failure -j"$JOBS"

echo "== fuzz build (build-fuzz, clang)"
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCHORUS_FUZZ=ON \
  -DCHORUS_CUDA=OFF -DCHORUS_MPI=OFF -DCHORUS_SANITIZE=address,undefined -DCHORUS_BUILD_TESTS=OFF \
  -DCHORUS_BUILD_BENCH=OFF
cmake --build build-fuzz -j"$JOBS" --target fuzz_input

echo "== fuzz_input for ${FUZZ_SECONDS} s"
work=build-fuzz/fuzz-run
rm -rf "$work" && mkdir -p "$work/corpus" "$work/artifacts"
# HDF5 1.10.8 itself has known defects on damaged metadata (see tests/fuzz/README.md): leaks on
# error paths (suppressed in lsan.supp), huge mallocs of sizes read from the file (hence
# allocator_may_return_null and -ignore_ooms), infinite loops and out-of-bounds copies in its
# global heap. Fork mode keeps fuzzing past them; every crash, leak and timeout is then re-run
# and triaged below by tests/fuzz/triage.sh (rules in its header): CI fails on a finding in
# chorus, and on a crash inside HDF5 on memory chorus handed it.
export ASAN_OPTIONS=allocator_may_return_null=1:quarantine_size_mb=64
if [ -z "${ASAN_SYMBOLIZER_PATH:-}" ] && command -v llvm-symbolizer > /dev/null; then
  export ASAN_SYMBOLIZER_PATH="$(command -v llvm-symbolizer)"  # function names and file:line
fi
export LSAN_OPTIONS="suppressions=$PWD/tests/fuzz/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS=print_stacktrace=1
set +e
build-fuzz/tests/fuzz/fuzz_input -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
  -timeout=10 -malloc_limit_mb=8192 -rss_limit_mb=3072 -max_total_time="$FUZZ_SECONDS" \
  -artifact_prefix="$work/artifacts/" "$work/corpus" tests/fuzz/corpus > "$work/fuzz.log" 2>&1
rc=$?
set -e
grep -E "^#[0-9]+.*DONE|INFO: exiting|stat::" "$work/fuzz.log" | tail -3 || true
# In fork mode libFuzzer ends with the exit code of the last failed job even when told to ignore
# it: 70 (timeout), 77 (crash libFuzzer saw) or 1 (ASan's own exit code for a crash it caught),
# and the crashes are triaged below. So the exit code cannot tell whether the fuzzer ran; the log
# can: it must show coverage lines and libFuzzer's normal end of a timed run.
if ! grep -qE '^#[0-9]+: cov: ' "$work/fuzz.log" || ! grep -q 'INFO: fuzzed for' "$work/fuzz.log"; then
  echo "fuzz_input itself failed (exit $rc, no complete timed run in its log):" && tail -40 "$work/fuzz.log"
  exit 1
fi
chorus_findings=0 library_findings=0
triage() {  # triage <artifact> <report> [--hang]
  local verdict r=0
  verdict=$(bash tests/fuzz/triage.sh ${3:-} "$2") || r=$?
  case $r in
    0) echo "library finding (HDF5, not chorus): $1: $verdict" && library_findings=$((library_findings + 1)) ;;
    1) echo "CHORUS FINDING: $1: $verdict (report: $2)" && chorus_findings=$((chorus_findings + 1)) ;;
    *) echo "triage failed on $2" && chorus_findings=$((chorus_findings + 1)) ;;
  esac
}
# A crash is re-run alone (three times) to get its report. An input whose re-runs all end
# cleanly (exit 0, no sanitizer error) did not crash by itself: in fork mode a job's inputs share
# one process, and HDF5's own memory errors (the library findings) leave state that can make a
# later input crash. Such an input is reported and kept, not counted as chorus's; one that
# crashes alone is triaged as usual.
unreproduced=0
for a in "$work"/artifacts/crash-* "$work"/artifacts/leak-*; do
  [ -e "$a" ] || continue
  case "$a" in *.txt) continue ;; esac
  clean=0
  for attempt in 1 2 3; do
    rc=0
    build-fuzz/tests/fuzz/fuzz_input "$a" > "$a.txt" 2>&1 || rc=$?
    if [ "$rc" -eq 0 ] && ! grep -qE 'ERROR: |runtime error:|deadly signal' "$a.txt"; then
      clean=$((clean + 1))
    else
      break
    fi
  done
  if [ "$clean" -eq 3 ]; then
    echo "not reproducible alone (3 clean re-runs; $library_findings library finding(s) so far in this run): $a"
    unreproduced=$((unreproduced + 1))
    continue
  fi
  triage "$a" "$a.txt"
done
# A timeout is re-run alone under a time limit that ends it with SIGABRT, which ASan
# (handle_abort=1) answers with the stack of the hang: a hang in chorus code fails CI, one inside
# HDF5 (its global-heap loops) is a library finding. An input that finishes on the re-run was
# slow under the fuzzer's load, not hung.
for a in "$work"/artifacts/timeout-*; do
  [ -e "$a" ] || continue
  case "$a" in *.txt) continue ;; esac
  rc=0
  ASAN_OPTIONS="$ASAN_OPTIONS:handle_abort=1" timeout -s ABRT -k 10 "$HANG_SECONDS" \
    build-fuzz/tests/fuzz/fuzz_input "$a" > "$a.txt" 2>&1 || rc=$?
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    triage "$a" "$a.txt" --hang
  elif [ "$rc" -eq 0 ]; then
    echo "note: $a did not hang when re-run alone (done within ${HANG_SECONDS} s): slow under load, not triaged"
  else
    triage "$a" "$a.txt"  # it crashed instead
  fi
done
echo "fuzz: $chorus_findings chorus finding(s), $library_findings library finding(s), $unreproduced crash(es) not reproducible alone"
if [ "$chorus_findings" -gt 0 ]; then
  echo "fuzz: $chorus_findings finding(s) in chorus; inputs and reports under $work/artifacts"
  exit 1
fi
echo "sanitize.sh: all passed"
