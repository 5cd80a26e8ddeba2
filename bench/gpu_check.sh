#!/usr/bin/env bash
# shellcheck disable=SC2317  # the step_* functions are called by name (gpu_check.sh --step NAME)
# chorus GPU check: one command for a lent GPU machine (one H200, a 10-minute limit per command,
# 15 minutes of device time per session). It has not run on a GPU yet.
#
# Here (the toolchain, no GPU needed):
#   cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES="80;90" \
#     && cmake --build build-gpu -j
#   bash bench/gpu_check.sh --pack build-gpu [DEST]    # DEST defaults to build-gpu-carry: the
#       binaries (chorus, libchorus_cuda.so, tests/chorus_gpu_tests, bench/bench_gpu_*,
#       bench/gpu_diag) in the build's layout, stripped, and carry-libs.tar.xz with the shared
#       libraries they need that a bare machine lacks (HDF5, oneDNN, MPI, ...); its size is printed
#       and must leave room under the 64 MiB that travel
#   bash bench/gpu_check.sh --dry-run build-gpu-carry  # the plan: steps, timeouts, worst case
# On the GPU machine (the device tool's `run`, carry ["build-gpu-carry"]):
#   bash bench/gpu_check.sh build-gpu-carry
# Options: --deadline S (or CHORUS_GPU_CHECK_DEADLINE; default 480): the whole check, table
#   included, ends within S seconds; every step's timeout is cut from what is left.
#   --steps a,b,c (or CHORUS_GPU_CHECK_STEPS): run only these steps (a second, targeted call).
#   CHORUS_RUN_10M=1 adds the 10M x 384 all-pairs run (still cut to the deadline).
# Output: each step's output as it arrives, then one table. With $OUT set (the device tool), three
#   files come back: gpu_check.log (everything printed), logs.tar.gz (every step's log and JSON,
#   refreshed after each step, so it survives a kill) and summary.txt (the table).
# Exit status: 0 when the gpu tests and the margin checks passed, 1 otherwise, 2 on bad usage.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
self="$here/$(basename "${BASH_SOURCE[0]}")"

# ---- the plan ----------------------------------------------------------------------------------
# "name cap_seconds description", most valuable first. Each step runs under
# timeout -k GRACE min(cap, time left - RESERVE - GRACE - OVERHEAD); a step that would get less
# than MIN_STEP seconds is skipped. By induction the steps end by deadline - RESERVE, and the
# table gets RESERVE: the worst case is the deadline, whatever the caps add up to.
STEPS=(
  "unpack 30 unpack carry-libs.tar.xz (the Debian libraries chorus's programs need)"
  "props 20 device properties: nvidia-smi, cudaGetDeviceProperties, libraries resolved"
  "cutlass 60 CUTLASS sm_90a kernels beside the hand-written kernel and cuBLAS, 1M x 384"
  "tests 120 gpu tests: the CUDA backend against the CPU oracle"
  "fused 60 fused kernel rate beside the cuBLAS bf16/int8 ceilings (65k, 262k x 384)"
  "margin 45 bf16 margin statistic (cuBLAS) and fused threshold decisions vs float64"
  "end_to_end 120 CUDA backend end to end, 200k and 1M x 384, fp32/bf16, cuBLAS/fused"
  "allpairs 60 1M x 384 all pairs + re-check + union-find from rows in device memory"
  "phases 60 chorus detect --backend cuda on 200k x 384: per-phase seconds"
  "tile 40 cuBLAS tile and tile + threshold kernel, fp32 and bf16"
  "union_find 40 device union-find over 50M edges"
  "mpi 60 two MPI ranks sharing the GPU against one process"
  "torch 90 the same 1M x 384 job in PyTorch (baseline)"
)
[ "${CHORUS_RUN_10M:-0}" = 1 ] && STEPS+=("allpairs10m 240 10M x 384 all pairs (opt-in)")
RESERVE=20  # the final table
GRACE=5     # seconds between a step's TERM and KILL (timeout -k)
OVERHEAD=2  # bookkeeping between steps and the clock's 1 s resolution
MIN_STEP=5

usage() {
  echo "usage: gpu_check.sh [--deadline S] [--steps a,b] [--dry-run] BUILD | --pack BUILD [DEST]" >&2
  exit 2
}

# Seconds a step gets when `left` seconds remain (0: skip it).
budget() {
  local cap=$1 left=$2 t
  t=$((left - RESERVE - GRACE - OVERHEAD))
  [ "$cap" -lt "$t" ] && t=$cap
  [ "$t" -lt "$MIN_STEP" ] && t=0
  echo "$t"
}

# Checks that every step has a name, a whole-number cap and a description.
check_plan() {
  local s name cap desc
  for s in "${STEPS[@]}"; do
    read -r name cap desc <<< "$s"
    if ! [[ "$cap" =~ ^[0-9]+$ ]] || [ -z "$desc" ]; then
      echo "gpu_check: step '$name' has no timeout cap (want: name seconds description)" >&2
      return 1
    fi
  done
}

# True when step $1 is selected by --steps (all when none given).
selected() {
  [ -z "$only" ] || [ "$1" = unpack ] && return 0
  [[ ",$only," == *",$1,"* ]]
}

# ---- libraries: LD_LIBRARY_PATH for chorus's own programs only ---------------------------------
# The build (the plugin libchorus_cuda.so), the carried Debian libraries, then cuBLAS: the CUDA
# toolkit's, else the pip nvidia wheels' (PyTorch's). python3 never gets this path: the packed
# Debian libraries would load into PyTorch.
cublas_dirs() {
  local d
  for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib; do
    if compgen -G "$d/libcublas.so*" > /dev/null; then
      echo "$d"
      return
    fi
  done
  timeout 20 python3 - 2> /dev/null << 'PY'
import glob, os
try:
    import nvidia
    for p in nvidia.__path__:
        for lib in sorted(glob.glob(os.path.join(p, "*", "lib"))):
            if glob.glob(os.path.join(lib, "libcublas.so*")):
                print(lib)
except Exception:
    pass
PY
}
ours_ld() {
  local p="$1:$1/carry-libs" d
  while read -r d; do [ -n "$d" ] && p="$p:$d"; done < <(cublas_dirs)
  echo "$p${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
}
# Runs one of chorus's programs with the carried libraries.
run_ours() { LD_LIBRARY_PATH="$CHORUS_GC_LD" "$@"; }

# ---- --pack ------------------------------------------------------------------------------------
pack() {
  local build=${1:?usage: gpu_check.sh --pack BUILD [DEST]} dest=${2:-$root/build-gpu-carry}
  local pat f lib n=0
  build=$(cd "$build" && pwd) || exit 2
  rm -rf "$dest" && mkdir -p "$dest/tests" "$dest/bench" "$dest/carry-libs" || exit 2
  dest=$(cd "$dest" && pwd)
  for pat in chorus libchorus_cuda.so tests/chorus_gpu_tests bench/gpu_diag 'bench/bench_gpu_*'; do
    for f in "$build"/$pat; do  # the pattern globs inside the build only
      [ -f "$f" ] || continue
      cp "$f" "$dest/${f#"$build"/}" && strip --strip-unneeded "$dest/${f#"$build"/}" 2> /dev/null
      n=$((n + 1))
      ldd "$f" | awk '/=> \//{print $3}' | while read -r lib; do
        case "$(basename "$lib")" in
          libc.so* | libm.so* | libpthread.so* | libdl.so* | librt.so* | ld-linux* | libcuda.so* | \
            libcudart* | libcublas* | libnvidia* | libchorus_cuda.so) ;;
          *) cp -Lu "$lib" "$dest/carry-libs/" ;;
        esac
      done
    done
  done
  [ "$n" -gt 0 ] || {
    echo "gpu_check --pack: no binaries in $build" >&2
    exit 2
  }
  # compressed, so that the binaries and their libraries stay well inside the 64 MiB that travel
  tar -C "$dest" -cJf "$dest/carry-libs.tar.xz" carry-libs && rm -rf "$dest/carry-libs"
  echo "packed $n programs into $dest: $(du -sh --apparent-size "$dest" | cut -f1) in all," \
    "libraries $(du -h --apparent-size "$dest/carry-libs.tar.xz" | cut -f1)" \
    "(the working tree travels too: 64 MiB together)"
  exit 0
}

# ---- steps (each runs as `gpu_check.sh --step NAME`, under its own timeout) ---------------------
B=${CHORUS_GC_BUILD:-}
W=${CHORUS_GC_WORK:-}

bench_json() {  # bench_json NAME PROGRAM [ARGS]: Google Benchmark with a JSON copy for the table
  local name=$1 prog=$2
  shift 2
  run_ours "$B/bench/$prog" "$@" --benchmark_out="$W/bench_$name.json" --benchmark_out_format=json
}

step_unpack() {
  if [ ! -f "$B/carry-libs.tar.xz" ]; then
    echo "no carry-libs.tar.xz in $B: the machine's own libraries are used"
  elif [ ! -d "$B/carry-libs" ]; then
    tar -C "$B" -xJf "$B/carry-libs.tar.xz" &&
      echo "carry-libs: $(find "$B/carry-libs" -type f | wc -l) libraries"
  fi
}
step_props() {
  nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used,clocks.sm,clocks.max.sm,clocks.mem,power.draw,power.limit,temperature.gpu,pstate,compute_mode,mig.mode.current,ecc.mode.current --format=csv 2>&1
  nvidia-smi 2>&1 | head -20
  echo "LD_LIBRARY_PATH for chorus's programs: $CHORUS_GC_LD"
  run_ours ldd "$B/libchorus_cuda.so" | grep -E 'cublas|not found' | sed 's/^/  plugin: /'
  for f in "$B/chorus" "$B/tests/chorus_gpu_tests" "$B/bench/gpu_diag"; do
    run_ours ldd "$f" | grep 'not found' | sed "s|^|  $(basename "$f"): |"
  done
  run_ours "$B/bench/gpu_diag" props
}
step_tests() {
  run_ours "$B/tests/chorus_gpu_tests" --gtest_brief=1 --gtest_color=no
}
step_fused() {
  bench_json fused bench_gpu_fused --benchmark_filter='BM_CublasGemm|BM_FusedFirstPass'
}
step_margin() { run_ours "$B/bench/gpu_diag" margin; }
# every CUTLASS variant (bf16 and int8), the hand-written kernel and cuBLAS at each precision:
# TFLOP/s (or TOP/s), pairs/s and the ratio to cuBLAS (kernels/cutlass_table.hpp takes the best)
step_cutlass() { bench_json cutlass bench_gpu_cutlass; }
step_end_to_end() { bench_json end_to_end bench_gpu_end_to_end; }
step_allpairs() { bench_json allpairs bench_gpu_fused --benchmark_filter='BM_FusedAllPairs/1000000/'; }
step_allpairs10m() {
  bench_json allpairs10m bench_gpu_fused --benchmark_filter='BM_FusedAllPairs/10000000/'
}
step_tile() { bench_json tile bench_gpu_tile; }
step_union_find() { bench_json union_find bench_gpu_union_find; }

# One process on the GPU, per-phase seconds from its JSON summary (kept for the MPI step).
step_phases() {
  if [ ! -s "$W/in.h5" ]; then
    run_ours "$B/chorus" generate --accounts 200000 --dim 384 --bins 96 --clusters 40 --seed 3 \
      --out "$W/in.h5" --quiet --force || return
  fi
  run_ours "$B/chorus" detect --input "$W/in.h5" --out "$W/detect_1.h5" --backend cuda --json \
    --quiet --force > "$W/detect_1.json" || return
  python3 - "$W/detect_1.json" << 'PY'
import json, sys
j = json.load(open(sys.argv[1]))
s = j["seconds"]
print(f"phases (1 process, {j['backend']}, {j['precision']}, {j['detail']}): "
      + ", ".join(f"{k} {s[k]:.2f} s" for k in ("read", "score", "components", "write", "total"))
      + f"; {j['candidates']} candidates, {j['edges']} edges, {j['clusters']} clusters")
PY
}

# Two ranks sharing the GPU: the same labels and edges as one process.
step_mpi() {
  if ! command -v mpirun > /dev/null; then
    echo "MPI on the GPU: not run (no mpirun on this machine)"
    return 0
  fi
  [ -s "$W/detect_1.json" ] || step_phases || return
  # mpirun with the machine's own libraries; the ranks get chorus's
  mpirun --allow-run-as-root --oversubscribe -np 2 -x LD_LIBRARY_PATH="$CHORUS_GC_LD" \
    "$B/chorus" detect --input "$W/in.h5" --out "$W/detect_2.h5" --backend cuda --json --quiet \
    --force > "$W/detect_2.json" || return
  python3 - "$W" << 'PY'
import json, sys
import h5py, numpy as np
w = sys.argv[1]
a, b = h5py.File(f"{w}/detect_1.h5"), h5py.File(f"{w}/detect_2.h5")
same = all(np.array_equal(a[k][()], b[k][()]) for k in ("labels", "edges/src", "edges/dst"))
j1, j2 = json.load(open(f"{w}/detect_1.json")), json.load(open(f"{w}/detect_2.json"))
print(f"MPI on the GPU: 1 process {j1['seconds']['total']:.2f} s, 2 ranks {j2['seconds']['total']:.2f} s, "
      f"labels and edges identical: {same}")
sys.exit(0 if same else 1)
PY
}

step_torch() {
  if ! python3 -c "import torch; assert torch.cuda.is_available()" 2> /dev/null; then
    echo "PyTorch baseline: not run (no torch with CUDA)"
    return 0
  fi
  python3 "$root/bench/torch_baseline.py" --n 1000000 --d 384 > "$W/torch.json" &&
    tail -1 "$W/torch.json"
}

# ---- the table ---------------------------------------------------------------------------------
table() {
  python3 - "$W" << 'PY'
import glob, json, os, re, sys
w = sys.argv[1]
def read(name):
    p = os.path.join(w, name)
    return open(p, errors="replace").read() if os.path.exists(p) else ""
print("\n==== chorus gpu_check summary ====")
props = read("props.log")
dev = [l.strip() for l in props.splitlines() if re.match(r"\s*(device \d|driver API|runtime|cuBLAS|memory:|smem|fused kernel)", l)]
print("\n".join(dev[:8]) if dev else "device: no properties (see props step)")
print(f"\n{'step':12s} {'status':14s} {'seconds':>8s} {'timeout':>8s}")
for line in read("steps.tsv").splitlines():
    name, cap, t, rc, secs = line.split("\t")
    rc = int(rc)
    st = ("skipped" if rc == -1 else "ok" if rc == 0 else
          "TIMED OUT" if rc in (124, 137) else f"FAILED rc {rc}")
    print(f"{name:12s} {st:14s} {secs:>8s} {t:>8s}")
tests = read("tests.log")
def count(word):
    m = re.findall(rf"^\[\s*{word}\s*\] (\d+) tests?", tests, re.M)
    return m[-1] if m else "0"
ran = re.search(r"^\[==========\] .* ran\.", tests, re.M)
if not tests:
    print("\ngpu tests: not run")
else:
    print(f"\ngpu tests: {count('PASSED')} passed, {count('FAILED') if ran else 'crashed or timed out'} "
          f"failed, {count('SKIPPED')} skipped")
failed = []
for l in tests.splitlines():
    m = re.match(r"\[  FAILED  \] (\S+\.\S+)", l)
    if m and m.group(1) not in failed:
        failed.append(m.group(1))
for f in failed:
    print("  FAILED " + f)
margin = read("margin.log").splitlines()
checks = [l for l in margin if l.rstrip().endswith(("PASS", "FAIL"))]
print(f"margin checks: {sum(l.rstrip().endswith('PASS') for l in checks)} passed, "
      f"{sum(l.rstrip().endswith('FAIL') for l in checks)} failed")
for l in margin:
    if l.startswith(("MARGIN", "gpu_diag")) or l.rstrip().endswith("FAIL"):
        print(l)
rows = []
order = ["cutlass", "fused", "end_to_end", "allpairs", "allpairs10m", "tile", "union_find"]
for p in sorted(glob.glob(os.path.join(w, "bench_*.json")),
                key=lambda p: order.index(p[len(w) + 7:-5]) if p[len(w) + 7:-5] in order else 99):
    try:
        rows += json.load(open(p))["benchmarks"]
    except Exception as e:
        print(f"could not read {os.path.basename(p)}: {e}")
ceiling = {r.get("label", ""): r["TFLOP/s"] for r in rows
           if r["name"].startswith("BM_CublasGemm") and "TFLOP/s" in r}
if rows:
    print(f"\n{'benchmark':52s} {'time':>10s} {'TFLOP/s':>8s} {'pairs/s':>9s} {'%cuBLAS':>7s}")
for r in rows:
    if r.get("error_occurred"):
        print(f"{r['name'][:52]:52s} error: {r.get('error_message')}")
        continue
    tf = r.get("TFLOP/s", r.get("TFLOP/s(i<j)", r.get("TOP/s", r.get("TOP/s(i<j)"))))
    prec = "bf16" if "bf16:1" in r["name"] else "fp32" if "bf16:0" in r["name"] else ""
    pct = f"{100 * tf / ceiling[prec]:.0f}%" if tf and prec in ceiling else ""
    if "vs_cuBLAS" in r:
        pct = f"{100 * r['vs_cuBLAS']:.0f}%"
    ps = r.get("pairs/s", r.get("edges/s"))
    t = f"{r['real_time']:.2f} {r['time_unit']}"
    print(f"{r['name'][:52]:52s} {t:>10s} {tf or 0:8.1f} {ps or 0:9.3g} {pct:>7s}")
    if r.get("label"):
        print(f"{'':52s} {r['label'][:80]}")
# the fastest CUTLASS variant per precision and width: the rows of kernels' variant table
# (host/include/chorus/scan/cutlass_table.hpp) as this device measured them
best = {}
for r in rows:
    if not r["name"].startswith("BM_CutlassFirstPass/") or r.get("error_occurred"):
        continue
    d = int(r["name"].split("/")[2])
    rate = r.get("TFLOP/s(i<j)", r.get("TOP/s(i<j)"))
    key = (r.get("label", "").split(" ")[0], d, int(r["name"].split("/")[1]))
    if rate and rate > best.get(key, (0, ""))[0]:
        best[key] = (rate, r.get("label", ""))
if best:
    print("\nCUTLASS variant table as measured (precision, d, rows: fastest variant, rate):")
    for (p, d, n), (rate, label) in sorted(best.items()):
        print(f"  {p} d={d} n={n}: {label} {rate:.1f}")
for name in ("phases.log", "mpi.log"):
    for l in read(name).splitlines():
        if l.startswith(("phases", "MPI on the GPU")):
            print(l)
tj = read("torch.json").strip().splitlines()
if tj:
    try:
        t = json.loads(tj[-1])
        line = f"PyTorch {t['torch']} 1M x 384: {t['seconds_total']:.2f} s ({t['edges']} edges)"
        ours = [r for r in rows if r["name"].startswith("BM_FusedAllPairs/1000000/") and not r.get("error_occurred")]
        if ours:
            s = ours[0]["real_time"] * (1 if ours[0]["time_unit"] == "s" else 1e-3)
            line += f"; chorus fused all pairs {s:.2f} s: {t['seconds_total'] / s:.1f}x"
        print(line)
    except Exception as e:
        print(f"torch.json unreadable: {e}")
PY
}

# ---- the run -----------------------------------------------------------------------------------
# One step under its cut timeout; its output printed as it arrives and kept in $W/NAME.log.
run_step() {
  local name=$1 cap=$2 desc=$3 left t rc start
  left=$((deadline - SECONDS))
  t=$(budget "$cap" "$left")
  if [ "$t" -eq 0 ]; then
    echo "== step $name: skipped (${left} s left of the ${deadline} s deadline)"
    printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$cap" 0 -1 0 >> "$W/steps.tsv"
    return
  fi
  echo "== [${SECONDS} s] step $name (timeout ${t} s): $desc"
  start=$SECONDS
  timeout -k "$GRACE" "$t" bash "$self" --step "$name" 2>&1 | tee "$W/$name.log"
  rc=${PIPESTATUS[0]}
  case $rc in
    0) echo "== step $name: ok, $((SECONDS - start)) s" ;;
    124 | 137) echo "== step $name: TIMED OUT after ${t} s" ;;
    *) echo "== step $name: FAILED (rc $rc), $((SECONDS - start)) s" ;;
  esac
  printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$cap" "$t" "$rc" "$((SECONDS - start))" >> "$W/steps.tsv"
  # what comes back if the command is killed later: every log so far (no .h5 inputs)
  [ -n "${OUT:-}" ] && tar -C "$W" -czf "$OUT/logs.tar.gz" --exclude='*.h5' . 2> /dev/null
}

# The plan as the run would cut it, every step taking its whole timeout (no program is run).
dry_run() {
  local s name cap desc left=$deadline t worst total=0 n=0
  echo "gpu_check plan: deadline ${deadline} s; each step: timeout -k ${GRACE} min(cap, left - ${RESERVE} table - ${GRACE} kill - ${OVERHEAD} overhead)"
  echo "build: $build$([ -d "$build" ] || echo ' (not here)')"
  printf '%-12s %5s %8s %7s %7s  %s\n' step cap timeout start end what
  for s in "${STEPS[@]}"; do
    read -r name cap desc <<< "$s"
    selected "$name" || continue
    t=$(budget "$cap" "$left")
    worst=0
    [ "$t" -gt 0 ] && worst=$((t + GRACE + OVERHEAD))
    printf '%-12s %5s %8s %7s %7s  %s\n' "$name" "$cap" "${t}s" \
      "$((deadline - left))" "$((deadline - left + worst))" "$desc$([ "$t" -eq 0 ] && echo ' [skipped: no time left]')"
    left=$((left - worst))
    total=$((total + worst))
    n=$((n + 1))
  done
  printf '%-12s %5s %8s %7s %7s  %s\n' table "$RESERVE" "${RESERVE}s" "$((deadline - left))" \
    "$((deadline - left + RESERVE))" "the summary table"
  total=$((total + RESERVE))
  echo "steps: $n; sum of caps cut to the deadline; worst-case total: ${total} s (deadline ${deadline} s)"
  echo "(worst case: every step runs to its timeout; a step that ends sooner leaves its time to the next)"
  local miss=()
  for f in chorus libchorus_cuda.so tests/chorus_gpu_tests bench/gpu_diag bench/bench_gpu_fused \
    bench/bench_gpu_cutlass bench/bench_gpu_end_to_end bench/bench_gpu_tile bench/bench_gpu_union_find carry-libs.tar.xz; do
    [ -e "$build/$f" ] || miss+=("$f")
  done
  [ ${#miss[@]} -eq 0 ] || echo "not in $build (steps using them will fail): ${miss[*]}"
  [ "$total" -le "$deadline" ]
}

main() {
  echo "chorus gpu_check: build $B, deadline ${deadline} s, work $W, $(date -u +%FT%TZ)"
  CHORUS_GC_LD=$(ours_ld "$B")
  export CHORUS_GC_LD
  local s name cap desc
  for s in "${STEPS[@]}"; do
    read -r name cap desc <<< "$s"
    selected "$name" && run_step "$name" "$cap" "$desc"
  done
  local left=$((deadline - SECONDS - 2))
  [ "$left" -gt "$RESERVE" ] && left=$RESERVE
  [ "$left" -lt 1 ] && left=1
  timeout -k 1 "$left" bash "$self" --step table | tee "$W/summary.txt"
  [ -n "${OUT:-}" ] && cp "$W/summary.txt" "$OUT/summary.txt" &&
    tar -C "$W" -czf "$OUT/logs.tar.gz" --exclude='*.h5' . 2> /dev/null
  # the verdict: gpu tests and margin checks passed
  local tests_rc margin_rc
  tests_rc=$(awk -F'\t' '$1=="tests"{print $4}' "$W/steps.tsv")
  margin_rc=$(awk -F'\t' '$1=="margin"{print $4}' "$W/steps.tsv")
  [ "${tests_rc:-1}" = 0 ] && [ "${margin_rc:-1}" = 0 ]
}

# ---- arguments ---------------------------------------------------------------------------------
if [ "${1:-}" = "--step" ]; then  # internal: one step, in a child process under `timeout`
  name=${2:?}
  if [ "$name" = table ]; then table; else "step_$name"; fi
  exit
fi
deadline=${CHORUS_GPU_CHECK_DEADLINE:-480}
only=${CHORUS_GPU_CHECK_STEPS:-}
dry=0
build=
while [ $# -gt 0 ]; do
  case $1 in
    --pack) pack "${2:-}" "${3:-}" ;;
    --dry-run) dry=1 ;;
    --deadline) deadline=${2:-} && shift ;;
    --deadline=*) deadline=${1#*=} ;;
    --steps) only=${2:-} && shift ;;
    --steps=*) only=${1#*=} ;;
    -*) usage ;;
    *) build=$1 ;;
  esac
  shift
done
if ! [[ "$deadline" =~ ^[0-9]+$ ]] || [ "$deadline" -lt 30 ]; then
  echo "gpu_check: --deadline wants whole seconds >= 30" >&2
  exit 2
fi
[ "$deadline" -gt 570 ] && echo "gpu_check: warning: a device command is killed at 600 s" >&2
check_plan || exit 2
build=${build:-build-gpu-carry}
if [ "$dry" = 1 ]; then
  dry_run
  exit
fi
B=$(cd "$build" 2> /dev/null && pwd) || {
  echo "gpu_check: no build folder $build" >&2
  exit 2
}
W=${CHORUS_GPU_CHECK_WORK:-/tmp/chorus-gpu-check}
rm -rf "$W" && mkdir -p "$W" || exit 2
: > "$W/steps.tsv"
export CHORUS_GC_BUILD=$B CHORUS_GC_WORK=$W
log=${OUT:-$W}/gpu_check.log
main 2>&1 | tee "$log"
exit "${PIPESTATUS[0]}"
