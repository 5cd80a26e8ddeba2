#!/usr/bin/env python3
"""ptxas resource check of every kernel in kernels/*.cu, for sm_80 and sm_90.

Compiles each file with `nvcc -cubin -Xptxas -v` (the build's include dirs, defines and per-file
options from <build>/compile_commands.json when there is one), prints one line per kernel and
architecture (registers, stack frame, spill stores/loads, shared memory), and fails when a kernel
spills registers, uses a stack frame (local memory), or exceeds its shared-memory budget
(static shared memory plus the dynamic shared memory it launches with, BUDGETS below).

    python3 .ci/ptxas_check.py [--build build] [--nvcc /usr/local/cuda/bin/nvcc]
    python3 .ci/ptxas_check.py --self-test     # the parser and the verdicts on hand-made logs

Exit status: 0 all within budget, 1 a violation, 2 a compile error or no CUDA compiler.
"""
import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARCHS = ("80", "90")
CUTLASS_ARCHS = ("90a",)
KIB = 1024

# Shared memory per block (static + dynamic), by a substring of the mangled kernel name. The
# fused kernel runs two 256-thread blocks per multiprocessor: on sm_80 (164 KiB a multiprocessor,
# 1 KiB reserved per block) that leaves 81 KiB a block. Its dynamic size is
# chorus::fused::kSmemBytes, read from the header (dynamic_from). Others: 48 KiB of static memory.
BUDGETS = [
    {"match": "fused_kernel", "smem": 81 * KIB, "registers": 128,
     "dynamic_from": ("chorus/scan/fused_tile.hpp", "chorus::fused::kSmemBytes")},
]
DEFAULT_SMEM = 48 * KIB

ENTRY = re.compile(r"Compiling entry function '([^']+)' for '(sm_\w+)'")
FRAME = re.compile(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads")
USED = re.compile(r"Used (\d+) registers")
SMEM = re.compile(r"(\d+) bytes smem")


def parse(log):
    """ptxas -v output -> list of dicts: name, arch, regs, stack, spill_st, spill_ld, smem."""
    out, cur = [], None
    for line in log.splitlines():
        m = ENTRY.search(line)
        if m:
            cur = {"name": m.group(1), "arch": m.group(2), "regs": 0, "stack": 0,
                   "spill_st": 0, "spill_ld": 0, "smem": 0}
            out.append(cur)
            continue
        if cur is None:
            continue
        m = FRAME.search(line)
        if m:
            cur["stack"], cur["spill_st"], cur["spill_ld"] = map(int, m.groups())
        m = USED.search(line)
        if m:
            cur["regs"] = int(m.group(1))
            s = SMEM.search(line)
            cur["smem"] = int(s.group(1)) if s else 0
    return out


def budget_for(name):
    for b in BUDGETS:
        if b["match"] in name:
            return b
    return None


def verdicts(kernels, dynamic):
    """Problems found, one string each. `dynamic`: budget match -> dynamic shared bytes."""
    problems = []
    for k in kernels:
        where = "%s (%s)" % (short(k["name"]), k["arch"])
        if k["spill_st"] or k["spill_ld"]:
            problems.append("%s spills registers: %d bytes stores, %d bytes loads"
                            % (where, k["spill_st"], k["spill_ld"]))
        if k["stack"]:
            problems.append("%s uses a %d-byte stack frame (local memory)" % (where, k["stack"]))
        b = budget_for(k["name"])
        total = k["smem"] + (dynamic.get(b["match"], 0) if b else 0)
        limit = b["smem"] if b else DEFAULT_SMEM
        if total > limit:
            problems.append("%s needs %d bytes of shared memory, budget %d" % (where, total, limit))
        if b and "registers" in b and k["regs"] > b["registers"]:
            problems.append("%s uses %d registers, budget %d" % (where, k["regs"], b["registers"]))
    return problems


def short(name):
    """A readable kernel name: demangled with c++filt when there is one."""
    try:
        r = subprocess.run(["c++filt", name], capture_output=True, text=True, check=True)
        name = r.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return name if len(name) <= 90 else name[:87] + "..."


def compile_flags(build, path):
    """nvcc flags (includes, defines, options) for one .cu file, and the folder to run in."""
    db = os.path.join(build, "compile_commands.json") if build else None
    if db and os.path.exists(db):
        with open(db) as f:
            for e in json.load(f):
                if os.path.realpath(e["file"]) == os.path.realpath(path):
                    args = shlex.split(e["command"])[1:]
                    keep, skip = [], False
                    for a in args:
                        if skip:
                            skip = False
                            continue
                        if a in ("-c", "-o", "-x"):
                            skip = a != "-c"
                            continue
                        if a.startswith("--generate-code") or a.startswith("-Xptxas") or \
                                os.path.realpath(a) == os.path.realpath(path):
                            continue
                        keep.append(a)
                    return keep, e["directory"]
    inc = ["-I" + os.path.join(ROOT, "kernels"), "-I" + os.path.join(ROOT, "host", "include")]
    if build:
        inc.append("-I" + os.path.join(build, "generated"))
    return inc + ["-O3", "-DNDEBUG", "--expt-relaxed-constexpr", "-std=c++17"], ROOT


def dynamic_smem(cxx):
    """Dynamic shared memory of each budget with dynamic_from, read by compiling the header."""
    out = {}
    for b in BUDGETS:
        if "dynamic_from" not in b:
            continue
        header, expr = b["dynamic_from"]
        with tempfile.TemporaryDirectory() as d:
            src = os.path.join(d, "probe.cpp")
            with open(src, "w") as f:
                f.write('#include <cstdio>\n#include "%s"\nint main() { std::printf("%%d", '
                        'static_cast<int>(%s)); }\n' % (header, expr))
            exe = os.path.join(d, "probe")
            subprocess.run([cxx, "-std=c++17", "-I" + os.path.join(ROOT, "host", "include"), src,
                            "-o", exe], check=True)
            out[b["match"]] = int(subprocess.run([exe], capture_output=True, text=True,
                                                 check=True).stdout)
    return out


def table(kernels, dynamic):
    print("%-6s %5s %6s %6s %6s %8s %8s  %s" % ("arch", "regs", "stack", "spillS", "spillL",
                                               "smem", "dynamic", "kernel"))
    for k in kernels:
        b = budget_for(k["name"])
        print("%-6s %5d %6d %6d %6d %8d %8d  %s" % (
            k["arch"], k["regs"], k["stack"], k["spill_st"], k["spill_ld"], k["smem"],
            dynamic.get(b["match"], 0) if b else 0, short(k["name"])))


def run(args):
    nvcc = args.nvcc
    if not os.path.exists(nvcc):
        print("ptxas_check: no CUDA compiler at %s" % nvcc, file=sys.stderr)
        return 2
    dynamic = dynamic_smem(args.cxx)
    kernels = []
    serialised = []
    srcs = sorted(os.path.join(ROOT, "kernels", f) for f in os.listdir(os.path.join(ROOT, "kernels"))
                  if f.endswith(".cu"))
    with tempfile.TemporaryDirectory() as tmp:
        for src in srcs:
            flags, cwd = compile_flags(args.build, src)
            # the CUTLASS kernels are sm_90a code (wgmma, TMA) and build only with their headers
            cutlass = os.path.basename(src).startswith("cutlass_")
            if cutlass and "-DCHORUS_HAVE_CUTLASS=1" not in flags:
                print("ptxas_check: %s skipped (this build has no CUTLASS headers)" % src)
                continue
            for arch in (CUTLASS_ARCHS if cutlass else ARCHS):
                cmd = [nvcc] + [f for f in flags if not f.startswith("-gencode")] + [
                    "-arch=sm_" + arch, "-cubin", "-Xptxas", "-v", src, "-o",
                    os.path.join(tmp, "k.cubin")]
                r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
                if r.returncode != 0:
                    print(r.stdout + r.stderr, file=sys.stderr)
                    print("ptxas_check: %s failed to compile for sm_%s" % (src, arch),
                          file=sys.stderr)
                    return 2
                kernels += parse(r.stdout + r.stderr)
                # ptxas serialising wgmma (an assert, a call inside the pipeline) is only "info"
                if "C7510" in r.stdout + r.stderr:
                    serialised.append("%s for sm_%s: ptxas serialised wgmma (C7510)" % (src, arch))
    table(kernels, dynamic)
    problems = verdicts(kernels, dynamic) + serialised
    for p in problems:
        print("ptxas_check: FAIL: " + p)
    if not kernels:
        print("ptxas_check: FAIL: no kernel found in ptxas output")
        return 1
    print("ptxas_check: %d kernel builds checked for %s: %s" % (
        len(kernels), ", ".join("sm_" + a for a in ARCHS + CUTLASS_ARCHS), "FAIL" if problems else "ok"))
    return 1 if problems else 0


SAMPLE_OK = """ptxas info    : Compiling entry function '_Z12fused_kernelILb0EEvv' for 'sm_80'
ptxas info    : Function properties for _Z12fused_kernelILb0EEvv
    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
ptxas info    : Used 128 registers, used 1 barriers, 472 bytes cmem[0]
ptxas info    : Compiling entry function '_Z6labelsv' for 'sm_90'
ptxas info    : Function properties for _Z6labelsv
    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
ptxas info    : Used 40 registers, used 1 barriers, 16912 bytes smem
"""
SAMPLE_SPILL = """ptxas info    : Compiling entry function '_Z12fused_kernelILb1EEvv' for 'sm_90'
ptxas info    : Function properties for _Z12fused_kernelILb1EEvv
    56 bytes stack frame, 60 bytes spill stores, 60 bytes spill loads
ptxas info    : Used 128 registers, used 1 barriers, 56 bytes cumulative stack size
"""
SAMPLE_SMEM = """ptxas info    : Compiling entry function '_Z4bigv' for 'sm_80'
    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
ptxas info    : Used 32 registers, used 1 barriers, 49200 bytes smem
"""


def self_test():
    ok = parse(SAMPLE_OK)
    assert [k["regs"] for k in ok] == [128, 40] and ok[1]["smem"] == 16912, ok
    assert verdicts(ok, {"fused_kernel": 69632}) == []
    assert verdicts(ok, {"fused_kernel": 90 * KIB}), "fused over its 81 KiB budget must fail"
    spill = parse(SAMPLE_SPILL)
    assert spill[0]["spill_st"] == 60 and spill[0]["stack"] == 56, spill
    v = verdicts(spill, {})
    assert any("spills" in p for p in v) and any("stack frame" in p for p in v), v
    assert any("shared memory" in p for p in verdicts(parse(SAMPLE_SMEM), {})), "48 KiB budget"
    print("ptxas_check: self-test ok (a spill, a stack frame and an smem overrun each fail)")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"),
                    help="build folder with compile_commands.json (default: build)")
    ap.add_argument("--nvcc", default=os.environ.get("CUDACXX", "/usr/local/cuda/bin/nvcc"))
    ap.add_argument("--cxx", default=os.environ.get("CXX", "c++"))
    ap.add_argument("--self-test", action="store_true")
    args = ap.parse_args()
    return self_test() if args.self_test else run(args)


if __name__ == "__main__":
    sys.exit(main())
