#!/usr/bin/env bash
# chorus CI: line, function and branch coverage of host/ (library, CLI and the shared headers)
# from the whole CPU test suite, measured with gcc --coverage and gcovr (Debian's gcovr 5.2,
# installed by .ci/setup.sh). Exits non-zero when the build, a test or gcovr fails, or when the
# branch coverage of host/ is below 80% (gcovr --fail-under-branch 80). tests/COVERAGE.md has
# the figures, and the uncovered branches of the exactness-critical code with their reasons.
#
# Usage: bash .ci/coverage.sh   (from anywhere; on 2 cores about 6 min from an empty build-cov/,
#                                2.5-3.5 min when it is kept; see tests/COVERAGE.md)
#
# Build: build-cov/ (kept between runs; incremental), CPU only: -DCHORUS_CUDA=OFF (host/scan/cuda/ and
# kernels/ are neither built nor reported), no benchmarks; MPI as the CI build has it (AUTO: on
# when Debian's OpenMPI is installed), so mpi.cpp and the multi-process paths of detect.cpp are
# measured under the `ctest -L mpi` runs (about 50 s of the suite's 2-3 min; worth it: without MPI
# that code would not even be compiled, so the report would silently leave it out). Flags
# -O1 -g -DNDEBUG --coverage (CHORUS_COVERAGE=ON): -O0 made the suite 2.4x slower (the
# checkpoint and memory tests most), -O1 keeps gcov's line and branch attribution usable.
# Every process that runs instrumented code adds its counts: the test binary, the chorus
# executable the tests start, the Python checks' and mpirun's chorus processes. A process that
# ends in _exit() (forked children, the crash-injection hook) or by a signal writes no counts.
#
# Two figures are printed, and both reports written:
#  raw  every branch gcov reports. Its branches include, on nearly every line that calls a
#       function, the edge taken when that call throws (each std::string/vector construction,
#       each stream <<, each HDF5 wrapper call): about a quarter of all gcov branches.
#  bar  the same with gcovr's --exclude-throw-branches (drops those exception edges: they are
#       taken only when the callee throws, mostly std::bad_alloc, and are not decisions of chorus)
#       and --exclude-unreachable-branches (drops branches on lines with no code of their own:
#       closing braces, compiler-generated cleanup). The 80% bar applies to this figure.
# Reports (under build-cov/coverage/):
#   summary.txt                      both figures
#   coverage.txt, coverage-branches.txt      per-file lines / branches (bar)
#   coverage-raw-branches.txt        per-file branches (raw)
#   index.html (+ index.*.html)      per-file, per-line HTML report (bar)
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS="$(nproc)"
BAR=80
start=$(date +%s)
out=build-cov/coverage
command -v gcovr > /dev/null || { echo "coverage.sh: gcovr is missing (bash .ci/setup.sh installs it)"; exit 1; }

echo "== coverage build (build-cov)"
cmake -S . -B build-cov -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g -DNDEBUG" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g -DNDEBUG" \
  -DCHORUS_COVERAGE=ON -DCHORUS_CUDA=OFF -DCHORUS_BUILD_BENCH=OFF
# counts of an earlier run would be merged into this one's (and clash with recompiled objects)
find build-cov -name '*.gcda' -delete
cmake --build build-cov -j"$JOBS"

echo "== test suite"
# gtest_discover_tests ran the test binaries during the build: their counts go too
find build-cov -name '*.gcda' -delete
rm -rf "$out" && mkdir -p "$out"
ctest --test-dir build-cov --output-on-failure -j"$JOBS"

echo "== gcovr: host/"
common=(--root . --filter 'host/' --object-directory build-cov -j "$JOBS")
gcovr "${common[@]}" --json "$out/raw.json" --print-summary > "$out/raw-summary.txt"
gcovr --root . --add-tracefile "$out/raw.json" -b --txt "$out/coverage-raw-branches.txt"
set +e
gcovr "${common[@]}" --exclude-throw-branches --exclude-unreachable-branches \
  --json "$out/bar.json" --html-details "$out/index.html" --print-summary \
  --fail-under-branch "$BAR" > "$out/bar-summary.txt" 2>&1
rc=$?
set -e
gcovr --root . --add-tracefile "$out/bar.json" --txt "$out/coverage.txt"
gcovr --root . --add-tracefile "$out/bar.json" -b --txt "$out/coverage-branches.txt"
{
  echo "host/ coverage, raw (every gcov branch, exception edges included):"
  grep -E '^(lines|functions|branches):' "$out/raw-summary.txt" | sed 's/^/  /'
  echo "host/ coverage, bar (--exclude-throw-branches --exclude-unreachable-branches; branches >= ${BAR}%):"
  grep -E '^(lines|functions|branches):' "$out/bar-summary.txt" | sed 's/^/  /'
} | tee "$out/summary.txt"
echo "reports: $out/summary.txt, coverage.txt, coverage-branches.txt, coverage-raw-branches.txt, index.html"
echo "coverage.sh: $(( $(date +%s) - start )) s"
if [ "$rc" -ne 0 ]; then
  grep -v -E '^(lines|functions|branches):' "$out/bar-summary.txt" || true
  echo "coverage.sh: FAILED (gcovr exit $rc: branch coverage of host/ below ${BAR}%, or a gcovr error)"
  exit 1
fi
echo "coverage.sh: passed (branch coverage of host/ >= ${BAR}%)"
