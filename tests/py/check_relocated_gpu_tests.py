#!/usr/bin/env python3
"""The GPU test program runs from a build folder carried elsewhere (issue #18, defect 4).

On a device machine the build lands at another path. Copies chorus, the CUDA plugin and
chorus_gpu_tests into a fresh folder in the build's layout, checks that the test program holds
no absolute path of the original build, and runs the tests that need no device there: they must
find the executable and the plugin in the new folder.

usage: check_relocated_gpu_tests.py BUILD_DIR WORK_DIR     (exit 77: no GPU test program)
"""
import os
import shutil
import subprocess
import sys


def main():
    build, work = os.path.realpath(sys.argv[1]), sys.argv[2]
    tests = os.path.join(build, "tests", "chorus_gpu_tests")
    if not os.path.exists(tests):
        print("no chorus_gpu_tests in this build")
        return 77
    shutil.rmtree(work, ignore_errors=True)
    moved = os.path.join(os.path.realpath(work), "carried")
    os.makedirs(os.path.join(moved, "tests"))
    plugin = os.path.join(build, "libchorus_cuda.so")
    for src, dst in ((os.path.join(build, "chorus"), "chorus"),
                     (plugin, "libchorus_cuda.so"),
                     (tests, os.path.join("tests", "chorus_gpu_tests"))):
        if os.path.exists(src):
            shutil.copy2(src, os.path.join(moved, dst))
    # the CMakeCache tells the tests whether CUDA was configured off
    shutil.copy2(os.path.join(build, "CMakeCache.txt"), moved)
    problems = []
    # the program's code and data, not its debug information (a -g build records the folder it
    # was compiled in, which the program never reads)
    code = os.path.join(work, "code-only")
    if shutil.which("objcopy"):
        subprocess.run(["objcopy", "--strip-debug", tests, code], check=True)
    else:
        shutil.copy2(tests, code)
    # the paths a test program would look things up at: the build folder itself, its chorus and
    # its plugin, as C strings (an instrumented build also records its object files' folders,
    # e.g. gcov's .gcda paths under CMakeFiles/, which the program never looks things up in)
    with open(code, "rb") as f:
        data = f.read()
    for needle in (build + "\0", build + "/chorus\0", build + "/libchorus_cuda.so"):
        if needle.encode() in data:
            problems.append(f"chorus_gpu_tests holds the absolute path {needle.rstrip(chr(0))}")
    names = ["CudaBackend.PathsAreRelativeToTheTestProgram",
             "CudaBackend.PluginLoadsAndReportsNoDevice"]
    r = subprocess.run([os.path.join(moved, "tests", "chorus_gpu_tests"),
                        "--gtest_filter=" + ":".join(names)],
                       capture_output=True, text=True, timeout=120)
    out = r.stdout + r.stderr
    if r.returncode != 0:
        problems.append(f"the carried tests failed (exit {r.returncode})")
    if f"[ paths ] build={moved}\n" not in out:
        problems.append(f"the carried tests did not look in {moved}")
    if os.path.exists(plugin) and "SKIPPED" in out:
        problems.append("the carried tests skipped though the plugin was carried with them")
    for p in problems:
        print("FAIL:", p)
    if problems:
        print(out[-3000:])
        return 1
    print(f"carried to {moved}: the GPU tests find chorus and the plugin there")
    return 0


if __name__ == "__main__":
    sys.exit(main())
