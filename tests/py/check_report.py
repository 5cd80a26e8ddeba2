#!/usr/bin/python3
"""CTest: `chorus report` writes one self-contained HTML page that headless Chromium renders.

Usage: check_report.py <chorus-binary> <chorus_report.py> <workdir>
Exit 0 = pass, 1 = fail, 77 = skipped (numpy, h5py or matplotlib missing, or no chromium; under
CI=true that is a failure, exit 1: see ci_skip.py).

Generates a small input (4000 accounts, 5 planted clusters, with ground truth), runs
`chorus detect`, renders the report with the Python tool (through /usr/bin/python3), then checks:
- the page has every section (parameters, overview, cluster sizes, similarity, largest clusters
  with evidence tables and heatmaps, ground truth, sampling) and the expected number of PNGs;
- nothing can leave the machine: every src/href/url() is a data: URI or a '#anchor', and the text
  has no http:// or https:// URL at all;
- Chromium (--headless, host resolver mapping every name to NOTFOUND, network logging to a file)
  renders it: --dump-dom holds the sections and the images, --screenshot writes a PNG, and the
  network log records no request other than the file itself and data: URIs;
- the report refuses to overwrite without --force (exit 2) and refuses a non-results file (exit 2).
"""

import json
import os
import re
import shutil
import subprocess
import sys

from ci_skip import skip

try:
    import numpy  # noqa: F401
    import h5py  # noqa: F401
    import matplotlib  # noqa: F401
except ImportError as e:
    skip(f"cannot import numpy/h5py/matplotlib ({e})")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FAILURES = []
SECTIONS = ["parameters", "overview", "sizes", "similarity", "clusters", "truth", "sampling"]


def check(cond, msg):
    print(("  ok    " if cond else "  FAIL  ") + msg)
    if not cond:
        FAILURES.append(msg)
    return bool(cond)


def run(cmd, expect=0, timeout=300):
    print("+ " + " ".join(cmd), flush=True)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if expect is not None and p.returncode != expect:
        print(p.stdout[-4000:] + p.stderr[-4000:])
        raise SystemExit(f"FAIL: exit {p.returncode} (expected {expect}): {' '.join(cmd)}")
    return p


def chromium(args, workdir, timeout=120):
    profile = os.path.join(workdir, "chromium-profile")
    base = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-default-apps", f"--user-data-dir={profile}",
            '--host-resolver-rules=MAP * ~NOTFOUND']
    return run(base + args, expect=None, timeout=timeout)


def page_requests(netlog):
    """URLs that a page asked for (not file:, not data:) in a Chromium --log-net-log file.
    Chromium's own background requests (component updater, time sync, accounts) carry the
    initiator 'not an origin' and are ignored; the resolver rules make them fail anyway."""
    try:
        with open(netlog, encoding="utf-8", errors="replace") as f:
            text = f.read().rstrip()
        if not text.endswith("}"):  # chromium may leave the log unterminated
            text = text.rstrip(",") + "]}"
        log = json.loads(text)
    except (OSError, ValueError) as ex:
        print(f"  note  cannot read {netlog}: {ex}")
        return None
    out = set()
    for ev in log.get("events", []):
        p = ev.get("params") or {}
        url, init = p.get("url"), p.get("initiator")
        if not url or init is None or init == "not an origin":
            continue
        if not (url.startswith("file://") or url.startswith("data:")):
            out.add(url)
    return sorted(out)


def main():
    if len(sys.argv) != 4:
        print(__doc__)
        return 2
    chorus, tool, work = sys.argv[1:]
    if not CHROMIUM:
        skip("no chromium (apt-get install chromium)")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    inp, res, out = (os.path.join(work, x) for x in ("in.h5", "res.h5", "report.html"))
    run([chorus, "generate", "--accounts", "4000", "--dim", "32", "--bins", "96", "--clusters", "5",
         "--seed", "2", "--out", inp])
    run([chorus, "detect", "--input", inp, "--out", res, "--threads", "2"])
    py = "/usr/bin/python3"
    run([py, tool, res, "--out", out, "--max-members", "20"])
    page = open(out, encoding="utf-8").read()

    print("== content")
    for s in SECTIONS:
        check(f'id="{s}"' in page, f"section #{s}")
    with h5py.File(res, "r") as f:
        k = len(f["clusters/size"])
        has_truth = "clusters/truth_best" in f
    top = min(10, k)
    for c in range(top):
        check(f'id="cluster-{c}"' in page, f"cluster {c} section")
    imgs = re.findall(r'<img[^>]*src="data:image/png;base64,[A-Za-z0-9+/=]+"', page)
    # sizes + 2 similarity + one heatmap per detailed cluster + truth plot
    want = 1 + 2 + top + (1 if has_truth else 0)
    check(len(imgs) == want, f"{want} embedded PNG plots (found {len(imgs)})")
    check("evidence" in page and "exemplars" in page or "No /evidence" in page, "evidence tables (or the note that there is no /evidence)")
    check("random sample of 20" in page, "the member sample is stated")
    check("precision" in page and "recall" in page, "precision and recall against ground truth")

    print("== self-contained")
    refs = re.findall(r'(?:src|href)\s*=\s*["\']([^"\']*)["\']', page, flags=re.I)
    bad = [r for r in refs if not (r.startswith("data:") or r.startswith("#"))]
    check(not bad, f"every src/href is data: or #anchor ({len(refs)} refs; bad: {bad[:5]})")
    check(not re.search(r"url\(\s*['\"]?(?!data:)", page), "no CSS url() other than data:")
    urls = re.findall(r"https?://[^\s\"'<>]+", page)
    check(not urls, f"no http(s) URL anywhere in the page ({urls[:5]})")
    check("<script" not in page.lower(), "no scripts")

    print("== chromium")
    netlog = os.path.join(work, "netlog.json")
    shot = os.path.join(work, "report.png")
    p = chromium([f"--log-net-log={netlog}", "--dump-dom", "file://" + out], work)
    dom = p.stdout
    check(all(f'id="{s}"' in dom for s in SECTIONS), "the rendered DOM has every section")
    check(len(re.findall(r"<img[^>]*data:image/png", dom)) == want, "the rendered DOM has every plot")
    chromium([f"--screenshot={shot}", "--window-size=1200,3000", "file://" + out], work)
    check(os.path.exists(shot) and os.path.getsize(shot) > 10000, f"screenshot written ({shot})")
    ext = page_requests(netlog)
    check(ext is not None and not ext, f"the network log has no page request leaving the machine ({ext})")
    # control: the same check does see a page that loads an external image
    ctl = os.path.join(work, "control.html")
    with open(ctl, "w") as f:
        f.write('<html><body><img src="http://chorus-control.invalid/x.png"></body></html>')
    ctl_log = os.path.join(work, "control_netlog.json")
    chromium([f"--log-net-log={ctl_log}", "--dump-dom", "file://" + ctl], work)
    ext = page_requests(ctl_log) or []
    check(any("chorus-control.invalid" in u for u in ext), "control: an external <img> is detected by the network-log check")

    print("== errors")
    p = run([py, tool, res, "--out", out], expect=2)
    check("exists" in p.stderr, "refuses to overwrite without --force")
    run([py, tool, res, "--out", out, "--force"])
    p = run([py, tool, inp, "--out", os.path.join(work, "x.html")], expect=2)
    check("not a chorus results file" in p.stderr, "refuses an input file")
    print("FAILED: " + "; ".join(FAILURES) if FAILURES else "PASSED")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
