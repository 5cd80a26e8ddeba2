#!/usr/bin/env python3
"""No legacy-stream CUDA call in chorus's CUDA code (issue #18, defect 3).

chorus's streams are non-blocking (cudaStreamNonBlocking): work on them is NOT ordered after the
legacy default stream. A cudaMemcpy / cudaMemset (legacy stream) followed by a kernel on such a
stream is a race, as is a kernel launched without a stream. Every copy, set and launch must name
its stream. Scans kernels/, host/ and bench/ (C++ and CUDA); comments are ignored.

usage: check_cuda_streams.py SOURCE_DIR [FILE...]   (files: check these instead, for a self-test)
"""
import re
import sys
from pathlib import Path

# calls that run on the legacy default stream
LEGACY = re.compile(r"\b(cudaMemcpy|cudaMemcpy2D|cudaMemcpyToSymbol|cudaMemcpyFromSymbol|"
                    r"cudaMemset|cudaMemset2D|cudaDeviceSynchronize)\s*\(")
LAUNCH = re.compile(r"<<<(.*?)>>>", re.S)


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def top_level_args(s):
    depth, n = 0, 1
    for ch in s:
        if ch in "([{<":
            depth += 1
        elif ch in ")]}>":
            depth -= 1
        elif ch == "," and depth == 0:
            n += 1
    return n


def check(path):
    text = strip_comments(path.read_text(errors="replace"))
    found = []
    for m in LEGACY.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        found.append(f"{path}:{line}: {m.group(1)} runs on the legacy stream; use the "
                     f"...Async form on the work's own stream")
    for m in LAUNCH.finditer(text):
        if top_level_args(m.group(1)) < 4:
            line = text.count("\n", 0, m.start()) + 1
            found.append(f"{path}:{line}: kernel launch without a stream (<<<grid, block, "
                         f"smem, stream>>>)")
    return found


def main():
    root = Path(sys.argv[1])
    files = [Path(f) for f in sys.argv[2:]]
    if not files:
        for sub in ("kernels", "host", "bench"):
            for ext in ("*.cu", "*.cuh", "*.cpp", "*.hpp"):
                files += sorted((root / sub).rglob(ext))
    problems = [p for f in files for p in check(f)]
    for p in problems:
        print(p)
    print(f"{len(files)} files checked, {len(problems)} legacy-stream call(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
