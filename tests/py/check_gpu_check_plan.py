#!/usr/bin/env python3
"""bench/gpu_check.sh's plan fits one device command (issue #18, defect 11).

Usage: check_gpu_check_plan.py GPU_CHECK_SH [BUILD]

Runs `bash gpu_check.sh --dry-run BUILD` (no GPU, nothing heavy) and checks, from its printed
plan alone: exit 0 within 10 s; every step has a cap and a timeout no larger than it; the rows'
worst-case durations add up, with the table's reserve, to at most the deadline (480 s by default,
120 s with --deadline 120), and the printed worst-case total says the same; the most valuable
steps come first (props, tests, fused, margin before end_to_end, mpi, torch). Then, on mutated
copies of the script: a step without a cap is refused (non-zero exit), and a step with a huge cap
is still cut to the deadline (the bound holds by construction, not by the caps chosen). Last, a
read of the script: LD_LIBRARY_PATH is never exported (only `run_ours` sets it, per command), no
python3 runs through `run_ours`, and every step function is in the plan (so none runs without a
timeout). Exit 0 on success, 1 on a failed check.
"""

import os
import re
import subprocess
import sys
import tempfile
import time

ROW = re.compile(r"^(\w+)\s+(\S+)\s+(\S+)\s+(\d+)\s+(\d+)\s+(.*)$")
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print(f"FAIL: {what}")


def dry_run(script, build, *extra):
    t0 = time.monotonic()
    p = subprocess.run(["bash", script, "--dry-run", *extra, build], capture_output=True,
                       text=True, timeout=60)
    return p, time.monotonic() - t0


def parse(out):
    """Step rows (name, cap, timeout, start, end, what), the table row and the printed total."""
    rows, table, total = [], None, None
    for line in out.splitlines():
        m = ROW.match(line)
        if m and m.group(1) != "step":
            name, cap, t, start, end, what = m.groups()
            row = (name, cap, t, int(start), int(end), what)
            if name == "table":
                table = row
            else:
                rows.append(row)
        m = re.search(r"worst-case total: (\d+) s \(deadline (\d+) s\)", line)
        if m:
            total = (int(m.group(1)), int(m.group(2)))
    return rows, table, total


def check_plan(script, build, deadline, label, *extra):
    p, secs = dry_run(script, build, *extra)
    print(f"[{label}] exit {p.returncode} in {secs:.2f} s\n{p.stdout}{p.stderr}")
    check(p.returncode == 0, f"{label}: dry run exits 0 (got {p.returncode})")
    check(secs < 10, f"{label}: dry run takes under 10 s (took {secs:.1f} s)")
    rows, table, total = parse(p.stdout)
    check(len(rows) >= 8, f"{label}: the plan lists the steps (found {len(rows)})")
    check(table is not None, f"{label}: the plan lists the table's reserve")
    check(total is not None and total[1] == deadline, f"{label}: a worst-case total for {deadline} s")
    if not rows or table is None or total is None:
        return rows
    prev_end = 0
    for name, cap, t, start, end, what in rows:
        check(cap.isdigit(), f"{label}: step {name} has a cap ({cap!r})")
        check(re.fullmatch(r"\d+s", t) is not None, f"{label}: step {name} has a timeout ({t!r})")
        if cap.isdigit() and re.fullmatch(r"\d+s", t):
            check(int(t[:-1]) <= int(cap), f"{label}: step {name}'s timeout {t} is within its cap {cap}")
            check(int(t[:-1]) < end - start or end == start,
                  f"{label}: step {name}'s worst case covers its timeout and the kill grace")
        check(start == prev_end, f"{label}: step {name} starts when the previous one ends")
        prev_end = end
    check(table[3] == prev_end, f"{label}: the table follows the last step")
    worst = table[4]
    check(worst <= deadline, f"{label}: worst case {worst} s within the {deadline} s deadline")
    check(total[0] == worst, f"{label}: the printed total {total[0]} s is the plan's {worst} s")
    return rows


def main():
    script = os.path.abspath(sys.argv[1])
    build = sys.argv[2] if len(sys.argv) > 2 else "build-gpu-carry"
    text = open(script).read()

    rows = check_plan(script, build, 480, "default")
    names = [r[0] for r in rows]
    order = ["props", "tests", "fused", "margin", "end_to_end", "mpi", "torch"]
    check(all(n in names for n in order), f"the plan has the steps {order} (has {names})")
    if all(n in names for n in order):
        idx = [names.index(n) for n in order]
        check(idx == sorted(idx), f"the steps come in the order {order} (have {names})")
        check(names[-1] == "torch", "the PyTorch baseline comes last")
    check_plan(script, build, 120, "deadline 120", "--deadline", "120")

    with tempfile.TemporaryDirectory() as tmp:
        # a step that lost its cap is refused
        broken = re.sub(r'"margin \d+ ', '"margin ', text, count=1)
        check(broken != text, "the mutation finds the margin step")
        path = os.path.join(tmp, "no_cap.sh")
        open(path, "w").write(broken)
        p, _ = dry_run(path, build)
        check(p.returncode != 0, f"a step without a cap is refused (exit {p.returncode})")
        # a huge cap is still cut to the deadline
        huge = re.sub(r'"tests \d+ ', '"tests 100000 ', text, count=1)
        check(huge != text, "the mutation finds the tests step")
        path = os.path.join(tmp, "huge_cap.sh")
        open(path, "w").write(huge)
        check_plan(path, build, 480, "huge cap")

    # LD_LIBRARY_PATH only per command, never for python3; every step under the plan's timeout
    check(re.search(r"^\s*export\s+LD_LIBRARY_PATH", text, re.M) is None,
          "the script never exports LD_LIBRARY_PATH")
    check(re.search(r"run_ours\s+python", text) is None, "python3 never runs through run_ours")
    steps = set(re.findall(r"^step_(\w+)\(\)", text, re.M))
    planned = set(re.findall(r'^\s*"(\w+) \d+ ', text, re.M))
    planned |= set(re.findall(r'STEPS\+=\("(\w+) \d+ ', text))
    check(steps and steps <= planned, f"every step function is in the plan: {sorted(steps - planned)}")
    print("OK" if not failures else f"{len(failures)} check(s) failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
