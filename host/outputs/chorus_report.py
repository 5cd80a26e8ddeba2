#!/usr/bin/python3
"""chorus report: one self-contained HTML file describing a chorus results file.

Usage: chorus_report.py RESULTS --out report.html [--input INPUT] [--top 10] [--force]

Needs Debian's python3 with python3-numpy, python3-h5py and python3-matplotlib. The page has
no external references: plots are PNGs embedded as data: URIs, styles are inline, no scripts.

Reads only what it shows, so it stays fast on large files: root attributes, the cluster table,
a sample of at most --max-edges similarities (evenly spaced contiguous blocks of /edges), the
members of the --top largest clusters, and the activity rows of at most --max-members members
per cluster from the input (the results' input_path attribute, or --input). Every sample is
stated on the page.

Exit codes: 0 ok, 2 bad input (not a results file, output exists without --force, ...).
"""

import argparse
import base64
import html
import io
import os
import sys
import time

try:
    import numpy as np
    import h5py
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker
except ImportError as e:
    print(f"chorus report: error: {e} (install python3-numpy python3-h5py python3-matplotlib)",
          file=sys.stderr)
    sys.exit(1)


class BadInput(Exception):
    pass


def esc(x):
    return html.escape(str(x), quote=True)


def fmt(v):
    if isinstance(v, bytes):
        v = v.decode("utf-8", "replace")
    if isinstance(v, (float, np.floating)):
        return "–" if np.isnan(v) else f"{v:.4g}"
    if isinstance(v, np.ndarray):
        return ", ".join(fmt(x) for x in v.ravel()[:20])
    return str(v)


def png(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img class="plot" alt="plot" src="data:image/png;base64,{data}">'


def table(header, rows, cls=""):
    out = [f'<table class="{cls}"><tr>' + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr>"]
    for r in rows:
        out.append("<tr>" + "".join(f"<td>{esc(fmt(v))}</td>" for v in r) + "</tr>")
    return "\n".join(out) + "</table>"


def sample_blocks(dset, total, limit, blocks=64):
    """At most `limit` values of a rank-1 dataset: all of it, or `blocks` evenly spaced runs."""
    if total <= limit:
        return dset[:], False
    run = limit // blocks
    starts = np.linspace(0, total - run, blocks).astype(np.int64)
    return np.concatenate([dset[s:s + run] for s in starts]), True


def sim_hist(values, threshold, title):
    v = values[np.isfinite(values)]
    fig, ax = plt.subplots(figsize=(6, 2.8))
    if len(v):
        ax.hist(v, bins=60, color="#4472c4")
    else:
        ax.text(0.5, 0.5, "view not used (all NaN)", ha="center", transform=ax.transAxes)
    if threshold is not None and np.isfinite(threshold):
        ax.axvline(threshold, color="#c00000", ls="--", label=f"threshold {threshold:g}")
        ax.legend(loc="upper left")
    ax.set_title(title)
    ax.set_xlabel("similarity")
    ax.set_ylabel("edges")
    return png(fig)


def decode(a):
    return [x.decode("utf-8", "replace") if isinstance(x, bytes) else str(x) for x in a]


def render(args):
    t0 = time.time()
    if not os.path.exists(args.results):
        raise BadInput(f"results file '{args.results}' does not exist")
    if os.path.exists(args.out) and not args.force:
        raise BadInput(f"output '{args.out}' exists (use --force to overwrite)")
    try:
        f = h5py.File(args.results, "r")
    except OSError as e:
        raise BadInput(f"cannot open '{args.results}' as HDF5: {e}")
    attrs = {k: f.attrs[k] for k in f.attrs}
    if int(attrs.get("chorus_results", 0)) != 1:
        raise BadInput(f"'{args.results}' is not a chorus results file")
    notes = []
    sec = []

    def attr(name, default=None):
        v = attrs.get(name, default)
        return v.decode() if isinstance(v, bytes) else v

    # ---- parameters and identity
    sec.append('<h2 id="parameters">Run parameters and input identity</h2>')
    sec.append(table(["attribute", "value"], [(k, attrs[k]) for k in sorted(attrs)], "attrs"))

    # ---- overview
    size = f["clusters/size"][:]
    offsets = f["clusters/offsets"][:]
    k = len(size)
    n = int(f["labels"].shape[0])
    e = int(f["edges/src"].shape[0])
    flagged = int(size.sum())
    sec.append('<h2 id="overview">Overview</h2>')
    rows = [("accounts", n), ("flagged accounts (in a cluster)", flagged),
            ("share flagged", f"{100.0 * flagged / max(n, 1):.3f} %"), ("clusters", k),
            ("largest cluster", int(size[0]) if k else 0), ("edges in file", e),
            ("view", attr("view")), ("threshold (embedding / fused)", attr("threshold")),
            ("threshold (activity)", attr("threshold_activity")), ("backend", attr("backend"))]
    if "truth_precision" in attrs:
        rows += [("precision vs. ground truth (flagged accounts that were planted)", attr("truth_precision")),
                 ("recall vs. ground truth (planted accounts flagged)", attr("truth_recall"))]
    sec.append(table(["", ""], rows, "overview"))

    # ---- cluster sizes
    sec.append('<h2 id="sizes">Cluster-size distribution</h2>')
    fig, ax = plt.subplots(figsize=(6, 2.8))
    if k:
        bins = np.unique(np.logspace(np.log10(max(size.min(), 1)), np.log10(size.max() + 1), 30).astype(int))
        ax.hist(size, bins=bins if len(bins) > 1 else 10, color="#70ad47")
        ax.set_xscale("log")
    ax.set_xlabel("cluster size (members)")
    ax.set_ylabel("clusters")
    ax.set_title(f"{k} clusters")
    sec.append(png(fig))

    # ---- similarity histograms
    sec.append('<h2 id="similarity">Similarity of edges per view</h2>')
    if e == 0:
        sec.append("<p>The results file holds no edges (run with --no-edges?).</p>")
    else:
        se, sampled = sample_blocks(f["edges/sim_embedding"], e, args.max_edges)
        sa, _ = sample_blocks(f["edges/sim_activity"], e, args.max_edges)
        if sampled:
            msg = (f"Similarity histograms use a sample of {len(se):,} of {e:,} edges "
                   f"(64 evenly spaced runs of /edges).")
            notes.append(msg)
            sec.append(f'<p class="note">{esc(msg)}</p>')
        view = attr("view")
        t_emb = attr("threshold") if view in ("embedding", "both") else None
        t_act = attr("threshold_activity") if view in ("activity", "both") else None
        sec.append(sim_hist(se, t_emb, "embedding cosine (sim_embedding)"))
        sec.append(sim_hist(sa, t_act, "activity correlation (sim_activity)"))

    # ---- largest clusters
    top = min(args.top, k)
    sec.append(f'<h2 id="clusters">The {top} largest clusters</h2>')
    if k > top:
        msg = f"Detailed sections cover the {top} largest of {k} clusters; the rest are summarised above."
        notes.append(msg)
        sec.append(f'<p class="note">{esc(msg)}</p>')
    ev = f["evidence"] if "evidence" in f else None
    if ev is None:
        sec.append('<p class="note">No /evidence group in the results: evidence tables are limited.</p>')
    input_path = args.input or attr("input_path")
    if input_path and not args.input and not os.path.isabs(input_path) and not os.path.exists(input_path):
        # results written before input paths were stored absolute: the input as typed, relative
        # to where detect ran; the results file's folder is the best guess
        beside = os.path.join(os.path.dirname(os.path.abspath(args.results)), input_path)
        if os.path.exists(beside):
            input_path = beside
    if input_path and not os.path.exists(input_path):
        print(f"chorus report: warning: input file {input_path} not found: the report has no "
              "heatmaps (pass --input)", file=sys.stderr)
    act = None
    if input_path and os.path.exists(input_path):
        try:
            inp = h5py.File(input_path, "r")
            if "activity" in inp and inp["activity"].shape[0] == n:
                act = inp["activity"]
            else:
                sec.append('<p class="note">The input has no /activity of matching size: no heatmaps.</p>')
        except OSError as ex:
            sec.append(f'<p class="note">Cannot open input {esc(input_path)}: {esc(ex)}; no heatmaps.</p>')
    else:
        sec.append(f'<p class="note">Input file {esc(input_path)} not found (use --input): no heatmaps.</p>')

    def col(group, name):
        return group[name] if group is not None and name in group else None

    cl = f["clusters"]
    truth = "truth_best" in cl
    summary_rows = []
    for c in range(top):
        lo, hi = int(offsets[c]), int(offsets[c + 1])
        row = [c, int(size[c]), int(cl["edges"][c]), cl["density"][c], cl["mean_sim_embedding"][c],
               cl["mean_sim_activity"][c], cl["activity_synchrony"][c]]
        if truth:
            row += [int(cl["truth_best"][c]), cl["truth_precision"][c], cl["truth_recall"][c]]
        summary_rows.append(row)
    header = ["cluster", "size", "edges", "density", "mean sim emb.", "mean sim act.", "synchrony"]
    if truth:
        header += ["best planted cluster", "precision", "recall"]
    sec.append(table(header, summary_rows, "clusters"))

    rng = np.random.default_rng(0)
    for c in range(top):
        lo, hi = int(offsets[c]), int(offsets[c + 1])
        members = f["clusters/members"][lo:hi]
        sec.append(f'<h3 id="cluster-{c}">Cluster {c}: {hi - lo} members</h3>')
        ids = f["evidence/cluster_member_ids"][lo:hi] if ev is not None and "cluster_member_ids" in ev \
            else f["accounts/id"][np.sort(members)] if len(members) else np.zeros(0)
        handles = decode(ev["cluster_member_handles"][lo:hi]) if ev is not None and "cluster_member_handles" in ev else None
        degree = ev["cluster_member_degree"][lo:hi] if ev is not None and "cluster_member_degree" in ev else None
        # evidence table
        rows = [("edges / density", f"{int(cl['edges'][c])} / {fmt(cl['density'][c])}"),
                ("similarity embedding mean / min", f"{fmt(cl['mean_sim_embedding'][c])} / {fmt(cl['min_sim_embedding'][c])}"),
                ("similarity activity mean / min", f"{fmt(cl['mean_sim_activity'][c])} / {fmt(cl['min_sim_activity'][c])}"),
                ("activity synchrony", fmt(cl["activity_synchrony"][c]))]
        if truth:
            rows.append(("ground truth: best planted / precision / recall",
                         f"{int(cl['truth_best'][c])} / {fmt(cl['truth_precision'][c])} / {fmt(cl['truth_recall'][c])}"))
        if ev is not None:
            if "cluster_top_bins" in ev:
                tb, tc = ev["cluster_top_bins"][c], ev["cluster_top_bin_counts"][c]
                rows.append(("busiest time bins (total posts)",
                             ", ".join(f"{int(b)} ({fmt(x)})" for b, x in zip(tb, tc) if b >= 0) or "–"))
            for view in ("embedding", "activity"):
                name = f"cluster_sim_hist_{view}"
                if name in ev:
                    h = ev[name][c]
                    lo_v = float(ev[name].attrs.get("lo", -1.0))
                    if h.sum():
                        w = (1 - lo_v) / len(h)
                        nz = [f"[{lo_v + i * w:.2f},{lo_v + (i + 1) * w:.2f}): {int(x)}" for i, x in enumerate(h) if x]
                        rows.append((f"internal edges by {view} similarity", "; ".join(nz)))
            if "cluster_exemplars" in ev:
                pos = {int(m): i for i, m in enumerate(members)}
                ex = []
                for r_ in ev["cluster_exemplars"][c]:
                    if r_ < 0:
                        continue
                    i = pos.get(int(r_))
                    lab = f"row {int(r_)}, id {int(ids[i])}" if i is not None else f"row {int(r_)}"
                    if handles is not None and i is not None:
                        lab += f", @{handles[i]}"
                    if degree is not None and i is not None:
                        lab += f", degree {int(degree[i])}"
                    ex.append(lab)
                rows.append(("exemplars (highest internal degree)", "; ".join(ex) or "–"))
        sec.append(table(["evidence", ""], rows, "evidence"))
        # members sample
        m = len(members)
        if m > args.max_members:
            pick = np.sort(rng.choice(m, args.max_members, replace=False))
            msg = f"cluster {c}: heatmap and member list show a random sample of {args.max_members} of {m} members"
            notes.append(msg)
            sec.append(f'<p class="note">{esc(msg)}.</p>')
        else:
            pick = np.arange(m)
        mrows = []
        for i in pick[:args.max_members]:
            r_ = [int(members[i]), int(ids[i])]
            if handles is not None:
                r_.append(handles[i])
            if degree is not None:
                r_.append(int(degree[i]))
            mrows.append(r_)
        mh = ["row", "account id"] + (["handle"] if handles is not None else []) + (["degree"] if degree is not None else [])
        sec.append('<details><summary>members shown</summary>' + table(mh, mrows, "members") + "</details>")
        if act is not None and len(pick):
            rows_sel = np.asarray(members[pick], dtype=np.int64)  # ascending: members are sorted
            data = act[rows_sel, :].astype(np.float64)
            fig, ax = plt.subplots(figsize=(9, 0.6 + 0.09 * len(pick) + 1))
            im = ax.imshow(data, aspect="auto", interpolation="nearest", cmap="magma")
            ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
            ax.set_xlabel("time bin")
            ax.set_ylabel("member (sampled)" if m > len(pick) else "member")
            ax.set_title(f"cluster {c}: activity of {len(pick)} members")
            fig.colorbar(im, ax=ax, label="posts")
            sec.append(png(fig))

    # ---- ground truth
    sec.append('<h2 id="truth">Ground truth</h2>')
    if truth or "truth_precision" in attrs:
        sec.append(table(["", ""], [("precision (flagged accounts that were planted)", attr("truth_precision")),
                                    ("recall (planted accounts flagged)", attr("truth_recall"))], "truth"))
        if truth and k:
            fig, ax = plt.subplots(figsize=(6, 2.8))
            kk = min(k, 200)
            ax.plot(cl["truth_precision"][:kk], "o", ms=3, label="precision")
            ax.plot(cl["truth_recall"][:kk], "s", ms=3, label="recall")
            ax.set_xlabel("cluster (by size)")
            ax.set_ylim(-0.05, 1.05)
            ax.legend()
            ax.set_title(f"per cluster (first {kk})")
            sec.append(png(fig))
    else:
        sec.append("<p>The input had no /truth/cluster: no comparison.</p>")

    sec.append('<h2 id="sampling">What was sampled</h2>')
    sec.append("<ul>" + "".join(f"<li>{esc(x)}</li>" for x in notes) + "</ul>" if notes
               else "<p>Nothing: every number and plot uses all of the data.</p>")
    sec.append(f'<p class="footer">chorus report, {esc(os.path.basename(args.results))}, '
               f"rendered in {time.time() - t0:.1f} s.</p>")

    title = f"chorus report: {os.path.basename(args.results)}"
    nav = " · ".join(f'<a href="#{a}">{b}</a>' for a, b in (
        ("parameters", "parameters"), ("overview", "overview"), ("sizes", "cluster sizes"),
        ("similarity", "similarity"), ("clusters", "largest clusters"), ("truth", "ground truth"),
        ("sampling", "sampling")))
    style = ("body{font-family:sans-serif;margin:1.5em;max-width:1100px;color:#222}"
             "table{border-collapse:collapse;margin:.5em 0;font-size:13px}"
             "td,th{border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top}"
             "th{background:#eee}.note{color:#8a5a00}.plot{display:block;margin:.5em 0;max-width:100%}"
             "h3{margin-top:1.6em;border-top:1px solid #ddd;padding-top:.6em}")
    page = (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>'
            f"<style>{style}</style></head><body><h1>{esc(title)}</h1><p>{nav}</p>\n"
            + "\n".join(sec) + "\n</body></html>\n")
    tmp = f"{args.out}.tmp.{os.getpid()}"
    try:
        with open(tmp, "w", encoding="utf-8") as out:
            out.write(page)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, args.out)
    except OSError as ex:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise BadInput(f"cannot write '{args.out}': {ex}")
    return time.time() - t0


def main(argv=None):
    p = argparse.ArgumentParser(prog="chorus report", description="Self-contained HTML report of a chorus results file")
    p.add_argument("results")
    p.add_argument("--out", required=True, help="HTML file to write")
    p.add_argument("--input", help="input file (default: the results' input_path attribute)")
    p.add_argument("--top", type=int, default=10, help="largest clusters to detail [10]")
    p.add_argument("--max-members", type=int, default=50, help="members per heatmap [50]")
    p.add_argument("--max-edges", type=int, default=2_000_000, help="edges sampled for histograms [2M]")
    p.add_argument("--force", action="store_true", help="overwrite an existing report")
    args = p.parse_args(argv)
    if args.top < 0 or args.max_members < 1 or args.max_edges < 64:
        print("chorus report: error: --top >= 0, --max-members >= 1, --max-edges >= 64", file=sys.stderr)
        return 2
    try:
        secs = render(args)
    except BadInput as ex:
        print(f"chorus report: error: {ex}", file=sys.stderr)
        return 2
    print(f"chorus report: wrote {args.out} in {secs:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
