#!/usr/bin/env bash
# chorus GPU check: the gpu-labelled tests and the GPU benchmarks, ending with one table.
#
# Here (a machine with the toolchain, no GPU needed):
#   cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 && cmake --build build-gpu -j
#   bash bench/gpu_check.sh --pack build-gpu        # copies the shared libraries the binaries need
#                                                   # (HDF5, oneDNN, ...) into build-gpu/carry-libs.tar.xz
# On the GPU machine (carry build-gpu; needs nothing from a network; sized to finish within 8
# minutes on an H200, an estimate: it has not run on one yet):
#   bash bench/gpu_check.sh build-gpu
#   CHORUS_RUN_10M=1 bash bench/gpu_check.sh build-gpu   # adds the 10M x 384 all-pairs run
# Steps: gpu tests; benchmarks (cuBLAS tiles, union-find, end to end, the fused kernel with the
# cuBLAS bf16/int8 ceilings); the PyTorch job (if torch is there); two MPI ranks sharing the GPU
# (if mpirun is there); the table.
# Prints: GPU and driver, test pass/fail/skip counts, and per stage time, TFLOP/s, pairs/s and %
# of the cuBLAS GEMM rate measured in the same run. Exit status: non-zero when a test failed.
set -uo pipefail

if [ "${1:-}" = "--pack" ]; then
  build=${2:?usage: gpu_check.sh --pack BUILD_DIR}
  mkdir -p "$build/carry-libs"
  for bin in "$build"/tests/chorus_gpu_tests "$build"/bench/bench_gpu_* "$build"/chorus "$build"/libchorus_cuda.so; do
    [ -x "$bin" ] || continue
    ldd "$bin" | awk '/=> \//{print $3}' | while read -r lib; do
      case "$(basename "$lib")" in
        libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|ld-linux*|libcuda.so*|libcudart*|libcublas*|libnvidia*) ;;
        *) cp -Lu "$lib" "$build/carry-libs/" ;;
      esac
    done
  done
  # compressed, so that the build and its libraries stay well inside the 64 MiB that travel
  tar -C "$build" -cJf "$build/carry-libs.tar.xz" carry-libs && rm -rf "$build/carry-libs"
  du -sh "$build/carry-libs.tar.xz"
  exit 0
fi

build=${1:-build-gpu}
out=${OUT:-/tmp/chorus-gpu-check}
mkdir -p "$out"
[ -f "$build/carry-libs.tar.xz" ] && tar -C "$build" -xJf "$build/carry-libs.tar.xz"
# the plugin libchorus_cuda.so sits in the build folder, which may have moved since the build
export LD_LIBRARY_PATH="$PWD/$build:$PWD/$build/carry-libs:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader 2>&1 | tee "$out/gpu.txt"

# 1. gpu-labelled tests (the CUDA backend against the CPU oracle)
timeout 240 "$build/tests/chorus_gpu_tests" --gtest_brief=1 2>&1 | tee "$out/tests.log"
test_rc=${PIPESTATUS[0]}
# counts from GoogleTest's closing summary ("[  PASSED  ] N tests." and so on); no summary
# means the test program died
count() { grep -oP "(?<=^\[  $1 \] )[0-9]+(?= tests?[.,])" "$out/tests.log" | tail -1; }
passed=$(count "PASSED ")
failed=$(count "FAILED ")
skipped=$(count "SKIPPED")
passed=${passed:-0}
skipped=${skipped:-0}
if ! grep -q '^\[==========\] .* ran\.' "$out/tests.log"; then
  failed="crashed (rc $test_rc)"
fi
failed=${failed:-0}

# 2. benchmarks (CUDA-event timings), JSON for the table
for b in tile union_find end_to_end fused; do
  filter='.*'
  [ "$b" = fused ] && filter='BM_CublasGemm|BM_FusedFirstPass|BM_FusedAllPairs/1000000/'  # 10M: step 2c
  timeout 200 "$build/bench/bench_gpu_$b" --benchmark_filter="$filter" --benchmark_format=json \
    --benchmark_out="$out/bench_$b.json" --benchmark_out_format=json > "$out/bench_$b.txt" 2>&1 ||
    echo "bench_gpu_$b failed (rc $?)"
done
# 2b. the same 1M x 384 job in PyTorch (issue #8: chorus must be >= 3x faster), when torch is here
if python3 -c "import torch; assert torch.cuda.is_available()" 2>/dev/null; then
  timeout 180 python3 bench/torch_baseline.py --n 1000000 --d 384 > "$out/torch.json" 2> "$out/torch.err" ||
    echo "torch baseline failed (rc $?)"
fi
# 2b'. two MPI ranks sharing the GPU against one process: identical results (when mpirun is here)
if command -v mpirun > /dev/null; then
  "$build/chorus" generate --accounts 200000 --dim 384 --bins 96 --clusters 40 --seed 3 \
    --out "$out/mpi_in.h5" --quiet --force &&
  "$build/chorus" detect --input "$out/mpi_in.h5" --out "$out/mpi_1.h5" --backend cuda --json \
    --quiet --force > "$out/mpi_1.json" &&
  timeout 120 mpirun --allow-run-as-root --oversubscribe -np 2 -x LD_LIBRARY_PATH "$build/chorus" \
    detect --input "$out/mpi_in.h5" --out "$out/mpi_2.h5" --backend cuda --json --quiet --force \
    > "$out/mpi_2.json" &&
  python3 - "$out" <<'PY' || echo "MPI check failed"
import json, sys
import h5py, numpy as np
out = sys.argv[1]
a, b = h5py.File(f"{out}/mpi_1.h5"), h5py.File(f"{out}/mpi_2.h5")
same = all(np.array_equal(a[k][()], b[k][()]) for k in ("labels", "edges/src", "edges/dst"))
j1, j2 = json.load(open(f"{out}/mpi_1.json")), json.load(open(f"{out}/mpi_2.json"))
print(f"MPI on the GPU: 1 process {j1['seconds']['total']:.2f} s, 2 ranks {j2['seconds']['total']:.2f} s, "
      f"labels and edges identical: {same}")
PY
else
  echo "MPI on the GPU: not run (no mpirun on this machine)"
fi
# 2c. the 10M x 384 bar (all pairs + components from rows in device memory): opt-in
#     (CHORUS_RUN_10M=1), so that the default check stays within 8 minutes; run it as a second call
if [ "${CHORUS_RUN_10M:-0}" = 1 ]; then
  timeout 240 "$build/bench/bench_gpu_fused" --benchmark_filter='BM_FusedAllPairs/10000000' \
    --benchmark_format=json --benchmark_out="$out/bench_fused10m.json" --benchmark_out_format=json \
    > "$out/bench_fused10m.txt" 2>&1 || echo "10M run failed or timed out (rc $?)"
fi

# 3. the table
python3 - "$out" "$passed" "$failed" "$skipped" <<'PY'
import json, os, sys
out, passed, failed, skipped = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
rows = []
for b in ("tile", "union_find", "end_to_end", "fused", "fused10m"):
    p = os.path.join(out, f"bench_{b}.json")
    if not os.path.exists(p):
        continue
    try:
        rows += json.load(open(p))["benchmarks"]
    except Exception as e:
        print(f"could not read {p}: {e}")
ceiling = {}
for r in rows:
    if r["name"].startswith("BM_CublasGemm") and "TFLOP/s" in r:
        ceiling[r.get("label", "")] = r["TFLOP/s"]
print(f"\ngpu tests: {passed} passed, {failed} failed, {skipped} skipped")
print(f"{'stage':58s} {'time ms':>10s} {'TFLOP/s':>9s} {'pairs/s':>10s} {'% cuBLAS':>9s}")
for r in rows:
    if r.get("error_occurred"):
        print(f"{r['name']:58s} error: {r.get('error_message')}")
        continue
    tf = r.get("TFLOP/s", r.get("TFLOP/s(i<j)", r.get("TOP/s", r.get("TOP/s(i<j)"))))
    prec = "bf16" if "bf16:1" in r["name"] else "fp32" if "bf16:0" in r["name"] else ""
    pct = f"{100 * tf / ceiling[prec]:.0f}%" if tf and prec in ceiling else ""
    ps = r.get("pairs/s", r.get("edges/s"))
    if "vs_cuBLAS" in r:
        pct = f"{100 * r['vs_cuBLAS']:.0f}%"
    print(f"{r['name']:58s} {r['real_time']:10.2f} {tf if tf else 0:9.1f} {ps if ps else 0:10.3g} {pct:>9s}")
    if "edges" in r and "BM_FusedAllPairs" in r["name"]:
        print(f"{'':58s} edges {r['edges']:.0f}, candidates {r['candidates']:.0f} ({r['time_unit']})")
tp = os.path.join(out, "torch.json")
if os.path.exists(tp) and os.path.getsize(tp) > 0:
    t = json.loads(open(tp).read().strip().splitlines()[-1])
    ours = [r for r in rows if r["name"].startswith("BM_FusedAllPairs/1000000/") and not r.get("error_occurred")]
    line = f"PyTorch {t['torch']} 1M x 384: {t['seconds_total']:.2f} s ({t['edges']} edges)"
    if ours:
        s = ours[0]["real_time"] * (1 if ours[0]["time_unit"] == "s" else 1e-3)
        line += f"; chorus fused {s:.2f} s: {t['seconds_total'] / s:.1f}x"
    print(line)
PY
exit "$test_rc"
