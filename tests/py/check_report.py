#!/usr/bin/python3
"""CTest: `chorus report` writes one self-contained HTML page, written for its reader, that
headless Chromium renders.

Usage: check_report.py <chorus-binary> <chorus_report.py> <workdir>
Exit 0 = pass, 1 = fail, 77 = skipped (numpy, h5py or matplotlib missing, or no chromium; under
CI=true that is a failure, exit 1: see ci_skip.py).

Generates a small input (4000 accounts, 5 planted clusters, with ground truth) and a copy whose
/activity carries the optional clock attributes bin_start and bin_seconds (datasets/SCHEMA.md).
Runs `chorus detect` on the clocked input (view both) and on the plain one (view activity,
--threshold-activity 0.83), renders a report of each with the Python tool (through
/usr/bin/python3), then checks:
- the page has every section, the networks come first and the run's settings are an appendix
  at the end (overview < networks < ... < settings), and the expected number of PNGs;
- every handle of every detailed network is on the page, network 0's before the appendix;
- with the clock, the networks' busiest time bins are dates and times (bin_start + b x
  bin_seconds), never "bin N"; without it, "bin N" and the note that the input gives no clock;
- an activity run shows the activity threshold only: no `threshold` (embedding / fused) and no
  `weight` anywhere on the page;
- every network is listed (id="cluster-c" for every c), not only the --top detailed ones;
- nothing can leave the machine: every src/href/url() is a data: URI or a '#anchor', and the text
  has no http:// or https:// URL at all;
- Chromium (--headless, host resolver mapping every name to NOTFOUND, network logging to a file)
  renders it: --dump-dom holds the sections and the images, --screenshot writes a PNG, and the
  network log records no request other than the file itself and data: URIs;
- the report refuses to overwrite without --force (exit 2) and refuses a non-results file (exit 2);
- `chorus track` over the activity run and the both run, then `chorus report --timeline`: a
  Timeline section (between the network list and the sizes) with one more plot and the events,
  which Chromium renders; without --timeline there is no such section; a --timeline that is not
  a timeline file is refused (exit 2).
"""

import datetime
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
# in page order: the networks first, the run's settings last (an appendix)
SECTIONS = ["overview", "glance", "clusters", "sizes", "similarity", "truth", "sampling", "parameters"]
BIN_START, BIN_SECONDS = "2026-03-01T00:00:00Z", 3600


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


def drop_clock(path):
    """chorus generate writes hourly bins from 2026-10-01: the 'no clock' case removes them."""
    with h5py.File(path, "r+") as f:
        for a in ("bin_start", "bin_seconds", "fold"):
            if a in f["activity"].attrs:
                del f["activity"].attrs[a]


def add_clock(path):
    with h5py.File(path, "r+") as f:
        f["activity"].attrs["bin_start"] = BIN_START
        f["activity"].attrs["bin_seconds"] = numpy.int64(BIN_SECONDS)


def bin_text(b):
    """Bin b as the report writes it with the clock above: its start, 'YYYY-MM-DD HH:MM'."""
    t = datetime.datetime(2026, 3, 1, tzinfo=datetime.timezone.utc) + datetime.timedelta(seconds=int(b) * BIN_SECONDS)
    return t.strftime("%Y-%m-%d %H:%M")


def results_facts(res):
    """K, whether there is truth, per-cluster handles and busiest bins, from a results file."""
    with h5py.File(res, "r") as f:
        off = f["clusters/offsets"][:]
        hs = [x.decode() if isinstance(x, bytes) else str(x) for x in f["evidence/cluster_member_handles"][:]]
        return {"k": len(f["clusters/size"]), "truth": "clusters/truth_best" in f,
                "handles": [hs[off[c]:off[c + 1]] for c in range(len(off) - 1)],
                "top_bins": f["evidence/cluster_top_bins"][:]}


def check_structure(page, top, facts, label):
    for s in SECTIONS:
        check(f'id="{s}"' in page, f"{label}: section #{s}")
    pos = [page.find(f'id="{s}"') for s in SECTIONS]
    check(all(p >= 0 for p in pos) and pos == sorted(pos),
          f"{label}: sections in reading order, networks before the settings appendix ({pos})")
    check(page.find('id="parameters"') > page.find('id="clusters"') >= 0,
          f"{label}: the networks section precedes the settings appendix")
    for c in range(top):
        check(f'id="cluster-{c}"' in page, f"{label}: network {c} detailed")
    missing = [c for c in range(facts["k"]) if f'id="cluster-{c}"' not in page]
    check(not missing, f"{label}: every one of the {facts['k']} networks is listed (missing: {missing[:10]})")
    for c in range(top):
        absent = [h for h in facts["handles"][c] if h not in page]
        check(not absent, f"{label}: all {len(facts['handles'][c])} handles of network {c} appear ({absent[:3]} missing)")
    appendix = page.find('id="parameters"')
    first = facts["handles"][0][0] if facts["k"] else None
    check(first is None or 0 <= page.find(first) < appendix, f"{label}: network 0's handles come before the appendix")


def check_timeline(chorus, work, res, res_act, want):
    """chorus track over two runs, then chorus report --timeline (through the CLI)."""
    print("== timeline (chorus track, report --timeline)")
    tl, out = os.path.join(work, "timeline.h5"), os.path.join(work, "timeline.html")
    run([chorus, "track", res_act, res, "--out", tl])
    run([chorus, "report", res, "--timeline", tl, "--out", out])
    page = open(out, encoding="utf-8").read()
    with h5py.File(tl, "r") as f:
        ids = len(set(f["clusters/stable_id"][:].tolist()))
        kinds = set(x.decode() if isinstance(x, bytes) else str(x) for x in f["events/kind"][:])
        later = int((f["events/run"][:] == 1).sum())
    pos = [page.find(f'id="{s}"') for s in ("clusters", "timeline", "sizes", "parameters")]
    check(all(p >= 0 for p in pos) and pos == sorted(pos), f"timeline: the section sits after the networks, before the sizes ({pos})")
    imgs = re.findall(r'<img[^>]*src="data:image/png;base64,[A-Za-z0-9+/=]+"', page)
    check(len(imgs) == want + 1, f"timeline: one more plot ({want + 1} expected, found {len(imgs)})")
    check(f"<b>{ids:,} networks</b>" in page, f"timeline: the {ids} tracked networks are counted")
    check("This report&#x27;s results are run 1" in page or "This report's results are run 1" in page,
          "timeline: the page says which run it shows")
    sec = page[pos[1]:pos[2]]
    rows = re.findall(r"<tr><td>1 \(", sec)
    check(len(rows) == min(later, 2000), f"timeline: every event of run 1 is a row ({len(rows)} of {later})")
    check(all(k in sec for k in kinds), f"timeline: every kind of event in the file is named ({sorted(kinds)})")
    check('href="#timeline"' in page, "timeline: linked from the navigation")
    refs = re.findall(r'(?:src|href)\s*=\s*["\']([^"\']*)["\']', page, flags=re.I)
    check(all(r.startswith("data:") or r.startswith("#") for r in refs), "timeline: still self-contained")
    dom = chromium(["--dump-dom", "file://" + out], work).stdout
    check('id="timeline"' in dom and len(re.findall(r"<img[^>]*data:image/png", dom)) == want + 1,
          "timeline: Chromium renders the section and its plot")
    p = run([chorus, "report", res, "--timeline", res, "--out", os.path.join(work, "y.html")], expect=2)
    check("not a chorus timeline file" in p.stderr and p.stderr.count("\n") == 1,
          f"a --timeline that is not a timeline file: one clear error ({p.stderr.strip()[:200]})")


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
    plain, res_act, out_act = (os.path.join(work, x) for x in ("plain.h5", "res_act.h5", "act.html"))
    run([chorus, "generate", "--accounts", "4000", "--dim", "32", "--bins", "96", "--clusters", "5",
         "--seed", "2", "--out", plain])
    drop_clock(plain)
    shutil.copyfile(plain, inp)
    add_clock(inp)
    run([chorus, "detect", "--input", inp, "--out", res, "--threads", "2"])
    run([chorus, "detect", "--input", plain, "--out", res_act, "--threads", "2", "--view", "activity",
         "--threshold-activity", "0.83"])
    py = "/usr/bin/python3"
    run([py, tool, res, "--out", out, "--max-members", "20"])
    top_act = 3
    run([py, tool, res_act, "--out", out_act, "--top", str(top_act)])
    page = open(out, encoding="utf-8").read()
    act = open(out_act, encoding="utf-8").read()
    facts, facts_act = results_facts(res), results_facts(res_act)

    print("== content (view both, input with a clock)")
    k = facts["k"]
    top = min(10, k)
    check_structure(page, top, facts, "both")
    imgs = re.findall(r'<img[^>]*src="data:image/png;base64,[A-Za-z0-9+/=]+"', page)
    # sizes + 2 similarity + one heatmap per detailed cluster + truth plot
    want = 1 + 2 + top + (1 if facts["truth"] else 0)
    check(len(imgs) == want, f"{want} embedded PNG plots (found {len(imgs)})")
    check("Evidence per link" in page and "start reading with" in page or "No /evidence" in page,
          "evidence per network and per link (or the note that there is no /evidence)")
    check("random sample of 20" in page, "the member sample is stated")
    check("precision" in page and "recall" in page, "precision and recall against ground truth")
    tb = [int(b) for b in facts["top_bins"][0] if b >= 0]
    check(tb and all(bin_text(b) in page for b in tb),
          f"network 0's busiest bins {tb} are shown as times ({[bin_text(b) for b in tb[:2]]} ...)")
    check("Times are UTC" in page, "the page says the times are UTC")
    check(re.search(r">threshold<", page) and re.search(r">threshold_activity<", page),
          "control: view both shows both thresholds in the settings (the activity check below can see them)")

    print("== content (view activity, input without a clock, --top 3)")
    top_a = min(top_act, facts_act["k"])
    check(facts_act["k"] > top_a, f"the activity run has more networks ({facts_act['k']}) than --top {top_act}")
    check_structure(act, top_a, facts_act, "activity")
    imgs_a = re.findall(r'<img[^>]*src="data:image/png;base64,[A-Za-z0-9+/=]+"', act)
    want_a = 1 + 1 + top_a + (1 if facts_act["truth"] else 0)
    check(len(imgs_a) == want_a, f"activity: {want_a} embedded PNG plots (found {len(imgs_a)})")
    check(not re.search(r">threshold<|threshold \(embedding|>weight<", act),
          "activity: no embedding/fused threshold and no weight on the page")
    check(re.search(r">threshold_activity<", act) and ">0.83<" in act, "control: activity: the activity threshold 0.83 is shown")
    check("gives no clock" in act, "activity: the page says that the input gives no clock")
    b0 = int(facts_act["top_bins"][0][0])
    check(f"bin {b0} (" in act, f"activity: without a clock the busiest bin is 'bin {b0}'")

    print("== self-contained")
    for label, text in (("both", page), ("activity", act)):
        refs = re.findall(r'(?:src|href)\s*=\s*["\']([^"\']*)["\']', text, flags=re.I)
        bad = [r for r in refs if not (r.startswith("data:") or r.startswith("#"))]
        check(not bad, f"{label}: every src/href is data: or #anchor ({len(refs)} refs; bad: {bad[:5]})")
        check(not re.search(r"url\(\s*['\"]?(?!data:)", text), f"{label}: no CSS url() other than data:")
        urls = re.findall(r"https?://[^\s\"'<>]+", text)
        check(not urls, f"{label}: no http(s) URL anywhere in the page ({urls[:5]})")
        check("<script" not in text.lower(), f"{label}: no scripts")

    print("== chromium")
    netlog = os.path.join(work, "netlog.json")
    shot = os.path.join(work, "report.png")
    p = chromium([f"--log-net-log={netlog}", "--dump-dom", "file://" + out], work)
    dom = p.stdout
    dom_pos = [dom.find(f'id="{s}"') for s in SECTIONS]
    check(all(p >= 0 for p in dom_pos) and dom_pos == sorted(dom_pos),
          "the rendered DOM has every section, the settings appendix last")
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

    print("== a relative input path; the report run from another folder (#15 item 5)")
    exe = os.path.abspath(chorus)
    sub, elsewhere = os.path.join(work, "rel"), os.path.join(work, "elsewhere")
    os.makedirs(sub)
    os.makedirs(elsewhere)
    shutil.copyfile(inp, os.path.join(sub, "election.h5"))
    p = subprocess.run([exe, "detect", "--quiet", "--input", "election.h5", "--out", "rel.h5",
                        "--threads", "2"], cwd=sub, capture_output=True, text=True)
    check(p.returncode == 0, f"detect with a relative input path ({p.stderr[-300:]})")
    rel_res = os.path.join(sub, "rel.h5")
    p = subprocess.run([exe, "report", rel_res, "--out", "rel.html"], cwd=elsewhere,
                       capture_output=True, text=True)
    check(p.returncode == 0 and p.stderr == "", f"report from another folder, no warning ({p.stderr[-300:]})")
    rel_page = open(os.path.join(elsewhere, "rel.html"), encoding="utf-8").read()
    rel_imgs = re.findall(r'<img[^>]*src="data:image/png;base64,', rel_page)
    check(len(rel_imgs) == want, f"from another folder the heatmaps are there ({len(rel_imgs)} of {want} plots)")
    os.remove(os.path.join(sub, "election.h5"))
    p = subprocess.run([exe, "report", rel_res, "--out", "rel.html", "--force"], cwd=elsewhere,
                       capture_output=True, text=True)
    check(p.returncode == 0 and "election.h5" in p.stderr,
          f"a missing input is said on stderr, naming it ({p.stderr[-300:]})")

    print("== errors")
    p = run([py, tool, res, "--out", out], expect=2)
    check("exists" in p.stderr, "refuses to overwrite without --force")
    run([py, tool, res, "--out", out, "--force"])
    p = run([py, tool, inp, "--out", os.path.join(work, "x.html")], expect=2)
    check("not a chorus results file" in p.stderr, "refuses an input file")
    check_timeline(chorus, work, res, res_act, want)
    check('id="timeline"' not in page, "without --timeline the page has no Timeline section")
    print("FAILED: " + "; ".join(FAILURES) if FAILURES else "PASSED")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
