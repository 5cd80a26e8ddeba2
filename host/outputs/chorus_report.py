#!/usr/bin/python3
"""chorus report: one self-contained HTML file describing a chorus results file.

Usage: chorus_report.py RESULTS --out report.html [--input INPUT] [--top 10] [--timeline T.h5]
                        [--max-p P] [--pseudonymize KEYFILE [--redact-text]] [--force]

Written for the person who reads it (a journalist, an investigator): the page opens with the
coordinated networks found (how many, how large, how sure), then each of the --top largest in
detail (its accounts by handle, the accounts to start reading with, when they post together,
the evidence behind the strongest links, an activity heatmap), then every other network in a
compact table, then the plots, the comparison with ground truth where the input has one, what
was sampled, and, in an appendix at the end, the run's settings (only those its view uses).

With --timeline (a timeline file of `chorus track --out`, datasets/SCHEMA.md) the page has a
Timeline section: the tracked networks' sizes over the runs and the table of events.

Times: when the input's /activity carries the optional attributes `bin_start` (ISO 8601 UTC)
and `bin_seconds` (datasets/SCHEMA.md), every time bin is shown as a date and time; otherwise
as "bin N", and the page says that the input gives no clock.

Needs Debian's python3 with python3-numpy, python3-h5py and python3-matplotlib. The page has
no external references: plots are PNGs embedded as data: URIs, styles are inline, no scripts.

Reads only what it shows, so it stays fast on large files: root attributes, the cluster table,
a sample of at most --max-edges similarities (evenly spaced contiguous blocks of /edges), the
members and the edges leaving at most --max-members members of each detailed cluster, and those
members' activity rows from the input (the results' input_path attribute, or --input). Every
sample is stated on the page.

With --max-p (results of `chorus detect --significance K`) only the networks whose p-value is at
most P are shown. With --pseudonymize KEYFILE (a key of `chorus keygen`) every account id, handle
and post id is shown as its keyed pseudonym, the same as `chorus export --pseudonymize` writes
(HMAC-SHA256 of kind + NUL + value, first 128 bits; class Pseudonyms below), links as their
domain and paths as their base name; --redact-text also hides hashtags and texts.

Exit codes: 0 ok, 2 bad input (not a results file, output exists without --force, ...).
"""

import argparse
import base64
import datetime as dt
import hashlib
import hmac
import html
import io
import os
import re
import stat
import sys
import time

try:
    import numpy as np
    import h5py
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.dates as mdates
    import matplotlib.ticker as mticker
except ImportError as e:
    print(f"chorus report: error: {e} (install python3-numpy python3-h5py python3-matplotlib)",
          file=sys.stderr)
    sys.exit(1)

LINKS_SHOWN = 15        # strongest links per detailed network
HANDLES_INLINE = 30     # handles written out in a detailed network's summary
MEMBERS_TABLE = 1000    # rows of a detailed network's account table
EDGES_READ = 20000      # edges read per detailed network for its link table
LIST_LIMIT = 10000      # networks in the compact table
TIMELINE_LABELLED = 15  # tracked networks named on the timeline plot (the largest)
TIMELINE_LINES = 400    # tracked networks drawn on the timeline plot (the largest)
TIMELINE_EVENTS = 2000  # rows of the timeline's event table
TIMES_PER_LINK = 6      # shared times written out per link


class BadInput(Exception):
    pass


# What two accounts did together, per co-action view (the report's wording).
COACTION_WORDS = {
    "co_repost": "reposted the same post", "co_text": "posted the same text",
    "co_link": "shared the same link", "co_reply": "replied to the same post",
    "co_hashtag": "used the same hashtag", "co_post": "posted (anything)",
    "co_similar": "posted near-identical texts",
}
# The null models of chorus detect --significance, in words.
MODEL_WORDS = {"activity": "timing correlation", "content": "content similarity",
               "coaction": "share of the possible co-actions", "fused": "fused score"}
MODEL_NULL = {
    "activity": "timing: each account's posting counts shifted by a random whole number of days (its volume and "
                "daily rhythm stay, the synchrony between accounts goes); statistic: the mean timing correlation "
                "over the network's pairs",
    "content": "content: each account replaced by a random account outside the network from its topic "
               "neighbourhood; statistic: the mean content similarity over the pairs",
    "coaction": "co-action: every post time of each account moved by a random whole number of days; statistic: "
                "the mean share of the possible co-action weight over the pairs",
    "fused": "fused: timing and content resampled at once; statistic: the fused score",
}
COACTION_VERB = {
    "co_repost": "reposted post", "co_text": "posted the same text", "co_link": "shared",
    "co_reply": "replied to post", "co_hashtag": "used #", "co_post": "posted",
    "co_similar": "posted near-identical texts",
}


def esc(x):
    return html.escape(str(x), quote=True)


def fmt(v):
    if isinstance(v, bytes):
        v = v.decode("utf-8", "replace")
    if isinstance(v, (float, np.floating)):
        return "–" if np.isnan(v) else f"{v:.4g}"
    if isinstance(v, (np.integer,)):
        return str(int(v))
    if isinstance(v, np.ndarray):
        return ", ".join(fmt(x) for x in v.ravel()[:20])
    return str(v)


def num(v, digits=2):
    """A similarity or share for reading: 2 decimals, '–' for NaN."""
    v = float(v)
    return "–" if not np.isfinite(v) else f"{v:.{digits}f}"


def png(fig, alt):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img class="plot" alt="{esc(alt)}" src="data:image/png;base64,{data}">'


def table(header, rows, cls="", raw=False, row_ids=None):
    """An HTML table; cells are escaped unless raw (then they are trusted HTML)."""
    out = [f'<table class="{cls}"><tr>' + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr>"]
    for i, r in enumerate(rows):
        rid = f' id="{row_ids[i]}"' if row_ids is not None else ""
        cells = "".join(f"<td>{v if raw else esc(fmt(v))}</td>" for v in r)
        out.append(f"<tr{rid}>{cells}</tr>")
    return "\n".join(out) + "</table>"


def sample_blocks(dset, total, limit, blocks=64):
    """At most `limit` values of a rank-1 dataset: all of it, or `blocks` evenly spaced runs."""
    if total <= limit:
        return dset[:], False
    run = limit // blocks
    starts = np.linspace(0, total - run, blocks).astype(np.int64)
    return np.concatenate([dset[s:s + run] for s in starts]), True


def decode(a):
    return [x.decode("utf-8", "replace") if isinstance(x, bytes) else str(x) for x in a]


def integer_axis(axis):
    axis.set_major_locator(mticker.MaxNLocator(integer=True))


def plain_log_axis(axis):
    """A log axis labelled 1, 2, 5, 10, 20, 50, ... (1, 10, 100, ... over more than 2.5 decades)
    instead of 10^0 or 2 x 10^1. Call it after the data are plotted."""
    lo, hi = sorted(axis.get_view_interval())
    wide = np.log10(max(hi, 1e-9) / max(lo, 1e-9)) > 2.5
    axis.set_major_locator(mticker.LogLocator(base=10, subs=(1.0,) if wide else (1.0, 2.0, 5.0)))
    axis.set_major_formatter(mticker.FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:g}"))
    axis.set_minor_locator(mticker.LogLocator(base=10, subs=np.arange(2, 10)))
    axis.set_minor_formatter(mticker.NullFormatter())


# ---- pseudonyms (chorus export --pseudonymize; host/outputs/pseudonym.cpp) ------------------------

KEY_MAGIC = "chorus-pseudonym-key"
# a link (http://, https://, www.) or an @mention, each starting after a non-word character
_TEXT_TOKEN = re.compile(r"(?<![A-Za-z0-9_])(?:((?:[Hh][Tt][Tt][Pp][Ss]?://|[Ww][Ww][Ww]\.)[^ \t\n\r\f\v]*)"
                         r"|@([A-Za-z0-9_]+))")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9_+.\-]*://")


def read_key(path):
    """The 32 key bytes of a key file of `chorus keygen` (datasets/SCHEMA.md, "Pseudonym key")."""
    bad = f"key file '{path}' is not a chorus pseudonym key"
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise BadInput(f"key file '{path}' is not a regular file")
        with open(path, "rb") as f:
            data = f.read(201)
    except OSError as ex:
        raise BadInput(f"key file '{path}' cannot be read: {ex.strerror} (make one with chorus keygen --out KEYFILE)")
    if len(data) > 200 or b"\n" not in data:
        raise BadInput(f"{bad} (chorus keygen writes one)")
    first, _, second = data.partition(b"\n")
    if second.endswith(b"\n"):
        second = second[:-1]
    if not first.startswith(KEY_MAGIC.encode() + b" "):
        raise BadInput(f"{bad} (its first line must be '{KEY_MAGIC} 1')")
    if first != KEY_MAGIC.encode() + b" 1":
        raise BadInput(f"key file '{path}' has format version '{first[len(KEY_MAGIC) + 1:].decode('utf-8', 'replace')}'; "
                       "this chorus reads version 1")
    if len(second) != 64 or not all(c in b"0123456789abcdefABCDEF" for c in second):
        raise BadInput(f"{bad} (its second line must be 64 hex digits)")
    return bytes.fromhex(second.decode("ascii"))


def link_domain(url):
    """The host of a link: lower-case, no scheme, user, port, path or leading www. (as C++'s)."""
    u = url.strip(" \t\n\r\f\v")
    m = _SCHEME.match(u)
    if m:
        u = u[m.end():]
    elif u.startswith("//"):
        u = u[2:]
    u = re.split(r"[/?#\\]", u, maxsplit=1)[0]
    u = u[u.rfind("@") + 1:]
    if u.startswith("["):
        close = u.find("]")
        u = u if close < 0 else u[:close + 1]
    else:
        u = u.split(":", 1)[0]
    host = u.encode("utf-8", "surrogateescape").lower().decode("utf-8", "surrogateescape").rstrip(".")
    return host[4:] if host.startswith("www.") else host


class Pseudonyms:
    """Keyed pseudonyms: HMAC-SHA256(key, kind + NUL + value), first 128 bits as hex, prefixed
    a_ (account: its decimal id), h_ (handle: without a leading @, ASCII lower-case) or p_
    (post: its decimal id). Equal to chorus export --pseudonymize's for the same key."""

    PREFIX = {"account": "a_", "handle": "h_", "post": "p_"}

    def __init__(self, path, redact_text=False):
        self.key = read_key(path)
        self.redact = redact_text
        self.fingerprint = hashlib.sha256(self.key).hexdigest()[:8]

    @staticmethod
    def normalize_handle(h):
        h = h[1:] if h.startswith("@") else h
        return h.encode("utf-8", "surrogateescape").lower().decode("utf-8", "surrogateescape")

    def make(self, kind, value):
        value = self.normalize_handle(value) if kind == "handle" else str(value)
        msg = kind.encode() + b"\0" + value.encode("utf-8", "surrogateescape")
        return self.PREFIX[kind] + hmac.new(self.key, msg, hashlib.sha256).hexdigest()[:32]

    def account(self, i):
        return self.make("account", str(int(i)))

    def handle(self, h):
        return self.make("handle", h)

    def post(self, i):
        return self.make("post", str(int(i)))

    @staticmethod
    def link(url):
        return link_domain(url) or "[link]"

    def text(self, t):
        """A text: [redacted], or its @mentions as handle pseudonyms and its links as domains."""
        if self.redact:
            return "[redacted]"
        return _TEXT_TOKEN.sub(lambda m: self.link(m.group(1)) if m.group(1) else "@" + self.handle(m.group(2)), t)

    def path(self, p):
        """A file path as its base name (folders often name people)."""
        return os.path.basename(str(p)) if p else p


# ---- time bins as dates and times ---------------------------------------------------------------

class Clock:
    """Turns an activity bin into text: a date and time when the input's /activity has
    bin_start and bin_seconds, else "bin N". `note` says which, for the page."""

    def __init__(self, start=None, seconds=None, note=""):
        self.start, self.seconds, self.note = start, seconds, note

    @classmethod
    def from_activity(cls, ds, where):
        a = ds.attrs
        if "bin_start" not in a and "bin_seconds" not in a:
            return cls(note=f"The input ({where}) gives no clock: its /activity has no bin_start and "
                            "bin_seconds attributes (datasets/SCHEMA.md), so times are shown as "
                            "bin numbers (bin 0 is the first time bin of the input).")
        try:
            s = a["bin_start"]
            if isinstance(s, np.ndarray):
                s = s.ravel()[0]
            s = s.decode("utf-8") if isinstance(s, bytes) else str(s)
            start = dt.datetime.fromisoformat(s.strip().replace("Z", "+00:00"))
            if start.tzinfo is None:
                start = start.replace(tzinfo=dt.timezone.utc)
            start = start.astimezone(dt.timezone.utc)
            sec = a["bin_seconds"]
            sec = sec.ravel()[0] if isinstance(sec, np.ndarray) else sec
            if float(sec) != int(sec) or int(sec) <= 0:
                raise ValueError(f"bin_seconds = {sec} is not a positive whole number")
            sec = int(sec)
        except (KeyError, ValueError, TypeError, OverflowError) as ex:
            return cls(note=f"The input's clock attributes on /activity cannot be used ({ex}); "
                            "times are shown as bin numbers.")
        c = cls(start, sec)
        c.note = (f"Times are UTC. Each time bin is {c.width()}; bin 0 starts at "
                  f"{c.at(0)} (from the input's /activity attributes bin_start and bin_seconds).")
        return c

    def width(self):
        s = self.seconds
        for unit, n in (("day", 86400), ("hour", 3600), ("minute", 60)):
            if s % n == 0:
                k = s // n
                return f"1 {unit}" if k == 1 else f"{k} {unit}s"
        return f"{s} seconds"

    def time(self, b):
        return self.start + dt.timedelta(seconds=int(b) * self.seconds)

    def _stamp(self, t):
        if self.seconds % 86400 == 0:
            return t.strftime("%Y-%m-%d")
        if self.seconds % 60 == 0:
            return t.strftime("%Y-%m-%d %H:%M")
        return t.strftime("%Y-%m-%d %H:%M:%S")

    def at(self, b):
        """Start of bin b (no 'UTC': the page says once that times are UTC)."""
        return f"bin {int(b)}" if self.start is None else self._stamp(self.time(b))

    def at_list(self, bins):
        """Several bins in time order, each date written once: 2026-03-01 08:00, 15:00; 2026-03-02 11:00."""
        bins = sorted(int(b) for b in bins)
        if self.start is None:
            return ("bins " if len(bins) > 1 else "bin ") + ", ".join(str(b) for b in bins)
        if self.seconds % 86400 == 0:
            return ", ".join(self.at(b) for b in bins)
        days = {}
        for b in bins:
            t = self.time(b)
            hm = t.strftime("%H:%M" if self.seconds % 60 == 0 else "%H:%M:%S")
            days.setdefault(t.strftime("%Y-%m-%d"), []).append(hm)
        return "; ".join(f"{d} {', '.join(v)}" for d, v in days.items())

    def span(self, b):
        """Bin b as an interval: 2026-03-04 18:00–19:00 UTC."""
        if self.start is None:
            return f"bin {int(b)}"
        t0, t1 = self.time(b), self.time(int(b) + 1)
        if self.seconds % 86400 == 0:
            return self._stamp(t0) if self.seconds == 86400 else \
                f"{self._stamp(t0)} – {self._stamp(t1 - dt.timedelta(days=1))}"
        end = t1.strftime("%H:%M" if self.seconds % 60 == 0 else "%H:%M:%S")
        if t1.date() != t0.date() and not (t1.hour == 0 and t1.minute == 0 and t1.second == 0):
            end = self._stamp(t1)
        return f"{self._stamp(t0)}–{end} UTC"


# ---- edges of a row, found without reading all of /edges/src -----------------------------------

class EdgeIndex:
    """/edges is sorted by (src, dst): the edges leaving row r are one contiguous range, found
    from every B-th src value (read once, strided) and one block read per bound."""
    B = 4096

    def __init__(self, f):
        self.src = f["edges/src"]
        self.e = int(self.src.shape[0])
        self.coarse = self.src[::self.B] if self.e else np.zeros(0, np.int64)
        self.blocks = {}  # block number -> its src values (a cluster's rows share blocks)

    def first_at_least(self, r):
        j = int(np.searchsorted(self.coarse, r, "left"))
        if j == 0:
            return 0
        if j not in self.blocks:
            if len(self.blocks) > 256:
                self.blocks.clear()
            self.blocks[j] = self.src[(j - 1) * self.B:min(j * self.B, self.e)]
        return (j - 1) * self.B + int(np.searchsorted(self.blocks[j], r, "left"))

    def rows(self, r):
        return self.first_at_least(r), self.first_at_least(r + 1)


# ---- the timeline of `chorus track` (--timeline) ------------------------------------------------

TIMELINE_DATASETS = ["runs/path", "runs/date", "runs/clusters", "clusters/run", "clusters/label",
                     "clusters/stable_id", "clusters/size", "events/run", "events/kind",
                     "events/stable_id", "events/size_before", "events/size_after",
                     "events/related", "events/related_sizes"]


def read_timeline(path):
    """The whole timeline file (small: one row per cluster per run), checked to be one."""
    if not os.path.exists(path):
        raise BadInput(f"timeline file '{path}' does not exist")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise BadInput(f"cannot open timeline '{path}' as HDF5: {e}")
    with f:
        tracker = f.attrs.get("tracker", b"")
        tracker = tracker.decode("utf-8", "replace") if isinstance(tracker, bytes) else str(tracker)
        if not tracker.startswith("chorus-track"):
            raise BadInput(f"'{path}' is not a chorus timeline file (it has no tracker attribute; "
                           "chorus track --out writes them)")
        missing = [d for d in TIMELINE_DATASETS if d not in f]
        if missing:
            raise BadInput(f"timeline file '{path}' is damaged: /{missing[0]} is missing")
        t = {d: f[d][:] for d in TIMELINE_DATASETS}
        for d in ("runs/path", "runs/date", "events/kind", "events/related", "events/related_sizes"):
            t[d] = decode(t[d])
        t["path"] = path
        t["min_overlap"] = float(f.attrs.get("min_overlap", np.nan))
        t["growth"] = float(f.attrs.get("growth", np.nan))
    return t


class Timeline:
    """The Timeline section: how the networks of consecutive runs (chorus track) came and went."""

    def __init__(self, t, report):
        self.t, self.report = t, report
        self.dates = t["runs/date"]
        self.runs = len(self.dates)
        self.sid, self.run, self.size = t["clusters/stable_id"], t["clusters/run"], t["clusters/size"]
        self.ids = np.unique(self.sid)
        self.here = self.this_run(report.args.results)

    def this_run(self, results):
        """The run whose results file this report shows (same file, else the one same name), or None."""
        paths = self.t["runs/path"]
        real = os.path.realpath(results)
        for r, p in enumerate(paths):
            if os.path.exists(p) and os.path.realpath(p) == real:
                return r
        same = [r for r, p in enumerate(paths) if os.path.basename(p) == os.path.basename(results)]
        return same[0] if len(same) == 1 else None

    def counts(self):
        kinds = self.t["events/kind"]
        return {k: sum(1 for x in kinds if x == k) for k in ("birth", "death", "growth", "shrink", "merge", "split")}

    def section(self):
        t, n = self.t, len(self.ids)
        out = ['<h2 id="timeline">Timeline</h2>']
        span = f"{esc(self.dates[0])} to {esc(self.dates[-1])}" if self.runs else ""
        c = self.counts()
        words = ", ".join(f"{v:,} {k}{'s' if v != 1 and k not in ('growth',) else ''}" for k, v in c.items())
        out.append(f"<p><b>chorus track</b> followed the networks over <b>{self.runs} runs</b> ({span}): "
                   f"<b>{n:,} networks</b> in all (<code>{esc(os.path.basename(t['path']))}</code>). A network "
                   f"keeps its number (#) from one run to the next when at least <b>{t['min_overlap']:g}</b> of "
                   "the smaller network's accounts are in both; it grew or shrank when its size changed by a "
                   f"factor of at least <b>{1 + t['growth']:g}</b> (README, “Tracking networks over time”). "
                   f"Events: {esc(words)} (the first run's networks count as births).</p>")
        if self.here is not None:
            out.append(f"<p>This report's results are run {self.here} ({esc(self.dates[self.here])}). "
                       f"{self.here_words()}</p>")
        else:
            out.append("<p><b>These results are not one of the timeline's runs</b> (no run names this "
                       "results file), so their networks are not matched to the tracked numbers (#) "
                       "below; give the timeline made from this file to see which network is which.</p>")
        out.append(self.plot() if len(self.sid) else "<p>No network in any run.</p>")
        out.append(self.events_table())
        return "\n".join(out)

    def here_words(self):
        """Which tracked network each of this report's largest networks is."""
        m = self.run == self.here
        labels, sids = self.t["clusters/label"][m], self.sid[m]
        first = {}
        for s, r in zip(self.sid, self.run):
            first.setdefault(int(s), int(r))
        parts = []
        for lab, s in sorted(zip(labels, sids))[:10]:
            since = "new in this run" if first[int(s)] == self.here else f"since {self.dates[first[int(s)]]}"
            parts.append(f"network {int(lab)} is #{int(s)} ({since})")
        more = f" and {len(labels) - 10:,} more" if len(labels) > 10 else ""
        if not parts:
            return "It has no network."
        return esc("; ".join(parts)[0].upper() + "; ".join(parts)[1:] + more + ".")

    def plot(self):
        peak = {int(s): 0 for s in self.ids}
        for s, z in zip(self.sid, self.size):
            peak[int(s)] = max(peak[int(s)], int(z))
        order = sorted(peak, key=lambda s: (-peak[s], s))
        shown = order[:TIMELINE_LINES]
        if len(order) > len(shown):
            self.report.note(f"The timeline plot draws the {len(shown):,} largest of {len(order):,} tracked networks.")
        fig, ax = plt.subplots(figsize=(8.5, 3.8))
        where = {}
        for s, r, z in zip(self.sid, self.run, self.size):
            where.setdefault(int(s), []).append((int(r), int(z)))
        self.links(ax, where, set(shown))
        colors = plt.get_cmap("tab20")
        for rank in range(len(shown) - 1, -1, -1):  # the largest drawn last, on top
            s = shown[rank]
            xs, ys = zip(*where[s])
            named = rank < TIMELINE_LABELLED
            col = colors(rank % 20) if named else "#b0b0b0"
            ax.plot(xs, ys, "-o", color=col, lw=1.8 if named else 0.8, ms=3.5 if named else 2,
                    zorder=3 if named else 2, label=f"#{s} (up to {peak[s]:,})" if named else None)
        if self.here is not None:
            ax.axvline(self.here, color="#c00000", ls="--", lw=1, label="this report's run")
        handles, labels = ax.get_legend_handles_labels()
        order_named = sorted(range(len(labels)), key=lambda i: (not labels[i].startswith("#"),
                                                                 -peak.get(int(labels[i][1:].split()[0]), 0)
                                                                 if labels[i].startswith("#") else 0))
        ax.legend([handles[i] for i in order_named], [labels[i] for i in order_named], loc="upper left",
                  bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=7)
        step = max(1, int(np.ceil(self.runs / 20)))
        ticks = list(range(0, self.runs, step))
        ax.set_xticks(ticks)
        ax.set_xticklabels([self.dates[r][:16] for r in ticks], rotation=35, ha="right", fontsize=8)
        ax.set_xlim(-0.3, self.runs - 0.5 + 0.4)
        ax.set_ylabel("accounts")
        if self.size.max() / max(self.size.min(), 1) > 50:
            ax.set_yscale("log")
            plain_log_axis(ax.yaxis)
        else:
            integer_axis(ax.yaxis)
        named = min(TIMELINE_LABELLED, len(shown))
        ax.set_title(f"{len(order):,} tracked networks: accounts per run" +
                     (f" (the {named} largest named)" if len(order) > named else ""))
        return png(fig, "tracked networks' sizes over the runs")

    def links(self, ax, where, shown):
        """Dotted links from a network that merged into or split off another, run t to t+1."""
        t = self.t
        size_at = {}
        for s, r, z in zip(self.sid, self.run, self.size):
            size_at[(int(s), int(r))] = int(z)
        for r, k, s, rel in zip(t["events/run"], t["events/kind"], t["events/stable_id"], t["events/related"]):
            if k not in ("merge", "split") or not rel:
                continue
            for o in (int(x) for x in rel.split()):
                a, b = (o, int(s)) if k == "merge" else (int(s), o)
                if a in shown and b in shown and (a, r - 1) in size_at and (b, r) in size_at:
                    ax.plot([r - 1, r], [size_at[(a, r - 1)], size_at[(b, r)]], ":", color="#888888", lw=0.9, zorder=1)

    def events_table(self):
        t = self.t
        rows, first = [], 0
        kinds, runs = t["events/kind"], t["events/run"]
        for k, r in zip(kinds, runs):
            first += k == "birth" and r == 0
        if first:
            rows.append((f"0 ({self.dates[0]})", "start", f"{first:,} networks", "", "the first run's networks"))
        for r, k, s, a, b, rel, rs in zip(runs, kinds, t["events/stable_id"], t["events/size_before"],
                                          t["events/size_after"], t["events/related"], t["events/related_sizes"]):
            if k == "birth" and r == 0:
                continue
            rows.append((f"{int(r)} ({self.dates[int(r)]})", k, f"#{int(s)}", f"{int(a):,} → {int(b):,}",
                         self.what(k, int(s), int(a), int(b), rel, rs)))
        out = ["<h3>Events</h3>"] if rows else ["<h3>Events</h3><p>No event.</p>"]
        if len(rows) > TIMELINE_EVENTS:
            out.append(self.report.note(f"The event table shows the first {TIMELINE_EVENTS:,} of {len(rows):,} events "
                                        f"(all are in {os.path.basename(t['path'])})."))
            rows = rows[:TIMELINE_EVENTS]
        if rows:
            out.append(table(["run (date)", "event", "network", "accounts before → after", "what happened"], rows,
                             "timeline"))
        return "\n".join(out)

    @staticmethod
    def what(kind, s, before, after, rel, rel_sizes):
        others = ", ".join(f"#{o} ({int(z):,} accounts)" for o, z in zip(rel.split(), rel_sizes.split()))
        if kind == "birth":
            return "appeared"
        if kind == "death":
            return "gone: no network of this run shares enough of its accounts"
        if kind == "growth":
            return f"grew {after / max(before, 1):.2g}x"
        if kind == "shrink":
            return f"shrank to {after / max(before, 1):.0%} of its size"
        if kind == "merge":
            return (f"absorbed {others}" if before else f"formed from {others}; none kept its number, so it is new")
        return (f"split: {others} broke away" if after else f"split into {others}; none kept its number")


# ---- the report -------------------------------------------------------------------------------

class Report:
    def __init__(self, args):
        self.args = args
        self.notes = []
        if not os.path.exists(args.results):
            raise BadInput(f"results file '{args.results}' does not exist")
        if os.path.exists(args.out) and not args.force:
            raise BadInput(f"output '{args.out}' exists (use --force to overwrite)")
        self.tl = read_timeline(args.timeline) if args.timeline else None
        try:
            self.f = h5py.File(args.results, "r")
        except OSError as e:
            raise BadInput(f"cannot open '{args.results}' as HDF5: {e}")
        f = self.f
        self.attrs = {k: f.attrs[k] for k in f.attrs}
        if int(self.attrs.get("chorus_results", 0)) != 1:
            raise BadInput(f"'{args.results}' is not a chorus results file")
        self.ps = Pseudonyms(args.pseudonymize, args.redact_text) if args.pseudonymize else None
        self.size = f["clusters/size"][:]
        self.offsets = f["clusters/offsets"][:]
        self.k = len(self.size)
        self.read_significance(f)
        self.n = int(f["labels"].shape[0])
        self.e = int(f["edges/src"].shape[0])
        self.cl = f["clusters"]
        self.ev = f["evidence"] if "evidence" in f else None
        self.truth = "truth_best" in self.cl
        self.top = min(args.top, len(self.shown))
        self.view = self.attr("view") or "both"
        self.use_emb = self.view in ("embedding", "both", "fused")
        self.use_act = self.view in ("activity", "both", "fused")
        self.coaction = self.view.startswith("co_")
        # --edges: the terms of the expression (bit k of /edges/terms is term k)
        self.expression = self.view == "expression"
        self.terms = [t for t in (self.attr("edges_terms") or "").split(";") if t] if self.expression else []
        if self.expression:
            self.use_emb = any(t.startswith("embedding>=") for t in self.terms)
            self.use_act = any(t.startswith("activity>=") for t in self.terms)
        self.co = f["coaction"] if "coaction" in f else None
        self.co_objects = None  # /coaction/objects, read on first use
        self.input_note = ""
        self.act, self.in_handles, self.clock = None, None, Clock()
        self.open_input()
        self.edges = None  # EdgeIndex, made on first use
        self.rng = np.random.default_rng(0)

    def read_significance(self, f):
        """/clusters/p_value and q_value of chorus detect --significance, and the clusters shown
        (all, or those with p <= --max-p, in label order)."""
        cl = f["clusters"]
        self.p = cl["p_value"][:] if "p_value" in cl and cl["p_value"].shape == (self.k,) else None
        self.q = cl["q_value"][:] if self.p is not None and "q_value" in cl and cl["q_value"].shape == (self.k,) \
            else None
        self.null = cl["null"] if self.p is not None and "null" in cl else None
        na = self.null.attrs if self.null is not None else {}
        self.resamples = int(na["resamples"]) if "resamples" in na else None
        self.max_p = self.args.max_p
        if self.max_p is not None and self.p is None:
            raise BadInput(f"--max-p: results file '{self.args.results}' has no p-values "
                           "(run chorus detect --significance K)")
        if self.max_p is None:
            self.shown = list(range(self.k))
        else:
            self.shown = [c for c in range(self.k) if self.p[c] <= self.max_p]

    def pv(self, c):
        """'p = 0.003, q = 0.01' of cluster c ('–' when not tested)."""
        p = float(self.p[c])
        if not np.isfinite(p):
            return "–"
        q = float(self.q[c]) if self.q is not None else np.nan
        pt = "p < 0.001" if p < 0.001 else f"p = {p:.2g}"
        return pt + (f", q = {q:.2g}" if np.isfinite(q) else "")

    def p_reading(self, c):
        """One line saying what cluster c's p-value means."""
        p, k = float(self.p[c]), self.resamples
        if not np.isfinite(p):
            return "not tested: the null model could not test this network (see the warnings of chorus detect)"
        what = "resamples of these accounts without coordination lined up"
        if p < 0.001:
            return f"p < 0.001: fewer than 1 in 1,000 {what} this well"
        if k:
            hits = max(int(round(p * (k + 1))) - 1, 0)
            if hits == 0:
                return (f"p = {p:.2g}: none of {k:,} {what} this well (the smallest p that {k:,} resamples "
                        "can give)")
            return f"p = {p:.2g}: {hits:,} of {k:,} {what} at least this well"
        return f"p = {p:.2g}: a share {p:.2g} of the {what} at least this well"

    def significance_fact(self, c):
        """The 'how likely by chance' row of a network's facts."""
        txt = self.p_reading(c)
        q = float(self.q[c]) if self.q is not None else np.nan
        if np.isfinite(q):
            txt += (f". q = {q:.2g}: among the networks of this run with a p-value this small, a share of about "
                    f"{q:.2g} is expected to be chance")
        parts = []
        for model in ("activity", "content", "coaction", "fused"):
            g = self.null[model] if self.null is not None and model in self.null else None
            if g is None or not all(x in g for x in ("observed", "null_mean", "null_sd")):
                continue
            o, m, sd = float(g["observed"][c]), float(g["null_mean"][c]), float(g["null_sd"][c])
            if np.isfinite(o) and np.isfinite(m):
                parts.append(f"{MODEL_WORDS.get(model, model)} {o:.2f} against {m:.2f} ± {sd:.2f} in the resamples")
        return txt + (" (" + "; ".join(parts) + ")" if parts else "") + "."

    def method_note(self):
        """The appendix's note on the significance test, when the results have one."""
        if self.p is None:
            return ""
        na = self.null.attrs if self.null is not None else {}
        models = na.get("models", b"")
        models = (models.decode() if isinstance(models, bytes) else str(models)).split()
        k = f"{self.resamples:,}" if self.resamples else "K"
        lines = [f"<li>{esc(MODEL_NULL.get(m, m))}</li>" for m in models]
        combine = na.get("combine", b"")
        combine = combine.decode() if isinstance(combine, bytes) else str(combine)
        if len(models) > 1 and combine:
            lines.append(f"<li>a network's p-value: the {esc(combine)}</li>")
        return ('<h3 id="method">Method: how likely is a network by chance?</h3>'
                f"<p><code>chorus detect --significance {esc(k)}</code> compared each network's accounts with {esc(k)} "
                "resamples of <b>the same accounts</b> under a null model that keeps what each account does on its "
                "own and breaks what they do together:</p><ul>" + "".join(lines) + "</ul>"
                f"<p>p = (1 + resamples at least as large as observed) / ({esc(k)} + 1), so the smallest p "
                f"{esc(k)} resamples can give is 1 / ({esc(k)} + 1); q is the Benjamini-Hochberg false-discovery "
                "rate over the networks of the run. A p-value tests the accounts as given: it does not correct "
                "for the search that found them among all pairs, and accounts that react to the same event on "
                "the same day are synchronised without being coordinated (README, “Significance”).</p>")

    def path_shown(self, p):
        """A path as the page shows it: whole, or its base name when pseudonymised."""
        return self.ps.path(p) if self.ps is not None else p

    # -- small readers
    def attr(self, name, default=None):
        v = self.attrs.get(name, default)
        return v.decode() if isinstance(v, bytes) else v

    def ev_has(self, name):
        return self.ev is not None and name in self.ev

    def note(self, msg, sampling=True):
        if sampling:
            self.notes.append(msg)
        return f'<p class="note">{esc(msg)}</p>'

    def open_input(self):
        args = self.args
        path = args.input or self.attr("input_path")
        if path and not args.input and not os.path.isabs(path) and not os.path.exists(path):
            # results written before input paths were stored absolute: the input as typed,
            # relative to where detect ran; the results file's folder is the best guess
            beside = os.path.join(os.path.dirname(os.path.abspath(args.results)), path)
            if os.path.exists(beside):
                path = beside
        self.input_path = path
        shown = self.path_shown(path)
        if not path or not os.path.exists(path):
            print(f"chorus report: warning: input file {path} not found: the report has no "
                  "heatmaps and shows time bins as numbers (pass --input)", file=sys.stderr)
            self.input_note = (f"Input file {shown} not found (use --input): no heatmaps, and time "
                               "bins are shown as numbers.")
            self.clock.note = self.input_note
            return
        try:
            inp = h5py.File(path, "r")
        except OSError as ex:
            self.input_note = f"Cannot open input {shown}: {ex if self.ps is None else 'not HDF5?'}; no heatmaps."
            self.clock.note = self.input_note
            return
        if "activity" in inp and inp["activity"].ndim == 2 and inp["activity"].shape[0] == self.n:
            self.act = inp["activity"]
            self.clock = Clock.from_activity(self.act, os.path.basename(path))
        else:
            self.input_note = "The input has no /activity of matching size: no heatmaps."
            self.clock.note = "The input has no /activity: no time bins to show."
        if "accounts/handle" in inp and inp["accounts/handle"].shape[0] == self.n:
            self.in_handles = inp["accounts/handle"]

    # -- what links two accounts, in words
    def thresholds(self):
        """(label, value) of the settings the run's view uses, and only those."""
        t, ta, w = self.attr("threshold"), self.attr("threshold_activity"), self.attr("weight")
        out = []
        if self.view in ("embedding", "both"):
            out.append(("threshold (content, embedding cosine)", t))
        if self.view in ("activity", "both"):
            out.append(("threshold_activity (timing, activity correlation)", ta))
        if self.view == "fused":
            out += [("threshold (fused score)", t), ("weight (of content in the fused score)", w)]
        if self.expression:
            out = [("edges_expression", self.attr("edges_expression"))]
            if any(t.startswith("co_") for t in self.terms):
                out.append(("coaction_window (seconds)", self.attr("coaction_window")))
        if self.coaction:
            out += [("coaction_window (seconds)", self.attr("coaction_window")),
                    ("coaction_min_weight (co-actions in one direction)", self.attr("coaction_min_weight"))]
        return out

    def rule(self):
        t, ta, w = self.attr("threshold"), self.attr("threshold_activity"), self.attr("weight")
        transform = self.attr("activity_transform", "none")
        tr = "" if transform in (None, "none") else f" (counts transformed by {transform} first)"
        if self.expression:
            return ("two accounts are linked when <b>" + esc(self.attr("edges_expression") or "") +
                    "</b> holds for them, where " + "; ".join(esc(self.term_words(t)) for t in self.terms) +
                    " (&amp; means and, | means or).")
        if self.coaction:
            what = COACTION_WORDS.get(self.view, "acted alike")
            return (f"two accounts are linked when they {what} within <b>{esc(fmt(self.attr('coaction_window')))} s</b> "
                    f"of each other, at least <b>{esc(fmt(self.attr('coaction_min_weight')))}</b> times: that many "
                    "posts of one of them have such a partner post of the other (the co-action weight of QUT's "
                    "coordination-network-toolkit). Texts and links were compared after normalisation "
                    f"“{esc(self.attr('coaction_normalize') or 'chorus')}”.")
        if self.view == "embedding":
            return (f"two accounts are linked when their content is alike: the cosine similarity of "
                    f"their embeddings is at least <b>{esc(fmt(t))}</b> (1 = identical). Posting times "
                    "were not compared, so a network may also be ordinary users writing about the same topic.")
        if self.view == "activity":
            return (f"two accounts are linked when they post at the same times: the correlation of their "
                    f"posting counts over time{esc(tr)} is at least <b>{esc(fmt(ta))}</b> (1 = in lockstep). "
                    "Content was not compared, so a network may also be accounts reacting to the same events.")
        if self.view == "fused":
            return (f"two accounts are linked when <b>{esc(fmt(w))}</b> × content similarity (embedding "
                    f"cosine) + <b>{esc(fmt(1 - float(w)))}</b> × timing correlation (posting counts over "
                    f"time{esc(tr)}) is at least <b>{esc(fmt(t))}</b>.")
        return (f"two accounts are linked when their content is alike (embedding cosine at least "
                f"<b>{esc(fmt(t))}</b>) <b>and</b> they post at the same times (correlation of posting "
                f"counts over time{esc(tr)} at least <b>{esc(fmt(ta))}</b>); 1 means identical or in lockstep.")

    def term_words(self, term):
        """One term of an --edges expression in words."""
        view, _, value = term.partition(">=")
        if view == "embedding":
            return f"{term}: content cosine at least {value}"
        if view == "activity":
            return f"{term}: timing correlation at least {value}"
        return (f"{term}: {COACTION_WORDS.get(view, view)} within {fmt(self.attr('coaction_window'))} s, "
                f"at least {value} times")

    # -- accounts
    def cluster_members(self, c):
        lo, hi = int(self.offsets[c]), int(self.offsets[c + 1])
        return lo, hi, self.f["clusters/members"][lo:hi]

    def labels_at(self, c, pos, members):
        """'@handle' (or 'id N') of the members at positions `pos` (sorted) of cluster c."""
        lo = int(self.offsets[c])
        pos = np.asarray(pos, dtype=np.int64)
        if len(pos) == 0:
            return [], np.zeros(0, np.int64)
        ids = self.f["evidence/cluster_member_ids"][lo + pos] if self.ev_has("cluster_member_ids") \
            else self.f["accounts/id"][np.asarray(members)[pos]]
        if self.ev_has("cluster_member_handles"):
            hs = decode(self.ev["cluster_member_handles"][lo + pos])
        elif self.in_handles is not None:
            hs = decode(self.in_handles[np.asarray(members)[pos]])
        else:
            hs = [""] * len(pos)
        if self.ps is not None:  # pseudonyms: the handle's, else the account's
            return [self.ps.handle(h) if h else self.ps.account(i) for h, i in zip(hs, ids)], \
                [self.ps.account(i) for i in ids]
        return [f"@{h}" if h else f"id {int(i)}" for h, i in zip(hs, ids)], ids

    def degree(self, c):
        lo, hi = int(self.offsets[c]), int(self.offsets[c + 1])
        return self.ev["cluster_member_degree"][lo:hi] if self.ev_has("cluster_member_degree") else None

    # -- sections
    def summary(self):
        k, size, n = self.k, self.size, self.n
        flagged = int(size.sum())
        out = ['<section id="overview">']
        if k == 0:
            out.append(f'<p class="lead">chorus found <b>no coordinated network</b> among {n:,} accounts: '
                       "no pair of accounts passed the test below.</p>")
        else:
            sizes = ", ".join(f"{int(s):,}" for s in size[:12])
            if k > 12:
                sizes += f" and {k - 12:,} smaller"
            out.append(f'<p class="lead">chorus found <b>{k:,} coordinated network{"s" if k != 1 else ""}</b> '
                       f"with <b>{flagged:,} accounts</b> in all ({100.0 * flagged / max(n, 1):.2g}% of the "
                       f"{n:,} accounts examined). The largest has <b>{int(size[0]):,} accounts</b>. "
                       f"Sizes: {sizes}.</p>")
        left = int(self.attrs.get("accounts_below_min_activity", 0)) if self.use_act else 0
        left_out = (f" {left:,} of the {n:,} accounts posted fewer than {fmt(self.attr('min_activity'))} times "
                    "in all and were left out: too few posts to compare their timing."
                    if left > 0 and self.attr("min_activity") else "")
        out.append(f"<p><b>How accounts were linked:</b> {self.rule()} A network is a group of accounts "
                   f"joined by such links, directly or through each other.{esc(left_out)}</p>")
        if k:
            out.append(f"<p><b>How sure:</b> {self.sureness()}</p>")
        if "update_of" in self.attrs:
            a = {k: int(self.attrs[k]) for k in ("rows_new", "rows_changed", "rows_removed",
                                                  "edges_carried", "pairs", "pairs_full")}
            share = 100.0 * a["pairs"] / max(a["pairs_full"], 1)
            out.append(f"<p><b>Incremental run:</b> an update of {esc(self.path_shown(self.attr('update_of')))} "
                       f"(computed from {esc(self.path_shown(self.attr('update_of_input')))}): "
                       f"{a['rows_new']:,} new, "
                       f"{a['rows_changed']:,} changed and {a['rows_removed']:,} removed accounts; "
                       f"{a['pairs']:,} pairs scored ({share:.2g}% of a full run's), "
                       f"{a['edges_carried']:,} links carried over unchanged. The results equal a "
                       "full run's on this input.</p>")
        if "truth_precision" in self.attrs:
            out.append(f'<p class="truthnote"><b>Checked against ground truth</b> (the input marks the planted '
                       f"networks; synthetic data): precision {num(self.attr('truth_precision'))} (share of the "
                       f"accounts found that were planted), recall {num(self.attr('truth_recall'))} (share "
                       "of the planted accounts found). See <a href=\"#truth\">ground truth</a>.</p>")
        out.append(f'<p class="clock">{esc(self.clock.note)}</p>')
        out.append("</section>")
        return "\n".join(out)

    def sureness(self):
        cl, parts = self.cl, []
        ed = cl["edges"][:].astype(np.float64)
        for view, name in (("embedding", "content similarity"), ("activity", "timing correlation")):
            if not (self.use_emb if view == "embedding" else self.use_act):
                continue
            mean, mn = cl[f"mean_sim_{view}"][:], cl[f"min_sim_{view}"][:]
            ok = np.isfinite(mean) & (ed > 0)
            if ok.any():
                avg = float((mean[ok] * ed[ok]).sum() / ed[ok].sum())
                parts.append(f"{name} of the links averages <b>{num(avg)}</b> (weakest link {num(np.nanmin(mn[ok]))})")
        dens = cl["density"][:]
        txt = "; ".join(parts) + "." if parts else ""
        big = int(np.argmax(self.size)) if self.k else 0
        txt += (f" In the largest network {100 * float(dens[big]):.0f}% of all pairs of its accounts are "
                "directly linked (100% = every account linked to every other).")
        if self.use_act and "activity_synchrony" in cl:
            sync = float(cl["activity_synchrony"][big])
            if np.isfinite(sync):
                txt += (f" Its accounts' posting follows the network's common rhythm with correlation "
                        f"{num(sync)} on average (1 = all post in lockstep).")
        return txt

    def busiest(self, c, count=3):
        """The cluster's busiest time bins as text, or None."""
        if not self.ev_has("cluster_top_bins"):
            return None
        tb, tc = self.ev["cluster_top_bins"][c], self.ev["cluster_top_bin_counts"][c]
        items = [(int(b), float(x)) for b, x in zip(tb, tc) if b >= 0][:count]
        return "; ".join(f"{self.clock.span(b)} ({x:,.0f} posts)" for b, x in items) or "–"

    def exemplar_labels(self, c, members):
        if not self.ev_has("cluster_exemplars"):
            return []
        rows = [int(r) for r in self.ev["cluster_exemplars"][c] if r >= 0]
        pos = sorted({int(np.searchsorted(members, r)) for r in rows})
        labs, _ = self.labels_at(c, pos, members) if pos else ([], None)
        by_row = dict(zip([int(members[p]) for p in pos], labs))
        return [by_row[r] for r in rows if r in by_row]

    def glance(self):
        """One row per detailed network: the first screen's table."""
        if self.top == 0:
            return ""
        header = ["network", "accounts", "accounts (most connected first)"]
        if self.use_emb:
            header.append("content similarity (mean / weakest)")
        if self.use_act:
            header.append("timing correlation (mean / weakest)")
            header.append("most active together")
        if self.truth:
            header.append("ground truth (precision / recall)")
        if self.p is not None:
            header.append("chance (p, q)")
        tracked = self.tracked_numbers()
        if tracked:
            header.append("tracked network (see Timeline)")
        rows = []
        for c in self.shown[:self.top]:
            _, _, members = self.cluster_members(c)
            ex = self.exemplar_labels(c, members) or self.labels_at(c, np.arange(min(3, len(members))), members)[0]
            more = int(self.size[c]) - len(ex)
            r = [f'<a href="#cluster-{c}">network {c}</a>', f"{int(self.size[c]):,}",
                 esc(", ".join(ex) + (f" +{more:,} more" if more > 0 else ""))]
            if self.use_emb:
                r.append(f"{num(self.cl['mean_sim_embedding'][c])} / {num(self.cl['min_sim_embedding'][c])}")
            if self.use_act:
                r.append(f"{num(self.cl['mean_sim_activity'][c])} / {num(self.cl['min_sim_activity'][c])}")
                r.append(esc(self.busiest(c, 1) or "–"))
            if self.truth:
                r.append(f"{num(self.cl['truth_precision'][c])} / {num(self.cl['truth_recall'][c])}")
            if self.p is not None:
                r.append(esc(self.pv(c)))
            if tracked:
                r.append(esc(tracked.get(c, "–")))
            rows.append(r)
        rest = len(self.shown) - self.top
        more = (f' The other {rest:,} networks are listed in <a href="#others">a compact table</a> '
                "below the detailed ones." if rest > 0 else "")
        if self.p is not None:
            more += (" p: how often resamples of the same accounts without coordination lined up at least as well "
                     "(small: unlikely by chance); q: the same, corrected for testing every network of the run "
                     '(<a href="#method">method</a>).')
        return (f"<h2 id=\"glance\">{self.which()} at a glance</h2>"
                f"<p>Details of each follow below.{more}</p>" + table(header, rows, "glance", raw=True))

    def tracked_numbers(self):
        """Per network of this run: its tracked number and since when ("#4 since 2026-10-02"), when
        --timeline names this results file as one of its runs; else {}."""
        if self.tl is None:
            return {}
        tl = Timeline(self.tl, self)
        if tl.here is None:
            return {}
        first = {}
        for sid, run in zip(tl.sid, tl.run):
            first.setdefault(int(sid), int(run))
        m = tl.run == tl.here
        return {int(lab): f"#{int(sid)}, " + ("new in this run" if first[int(sid)] == tl.here
                                              else f"since {tl.dates[first[int(sid)]]}")
                for lab, sid in zip(self.tl["clusters/label"][m], tl.sid[m])}

    def which(self):
        """The detailed networks, named: 'The network', 'The 5 networks', 'The 10 largest networks'."""
        k = len(self.shown)
        if self.top == k:
            return "The network" if k == 1 else f"The {k} networks"
        return "The largest network" if self.top == 1 else f"The {self.top} largest networks"

    # -- one network in detail
    def network(self, c):
        lo, hi, members = self.cluster_members(c)
        m = hi - lo
        out = [f'<h3 id="cluster-{c}">Network {c}: {m:,} accounts</h3>']
        deg = self.degree(c)
        order = np.argsort(-deg, kind="stable") if deg is not None else np.arange(m)
        shown = np.sort(order[:MEMBERS_TABLE])
        labs, ids = self.labels_at(c, shown, members)
        lab_of = dict(zip(shown.tolist(), labs))
        id_of = dict(zip(shown.tolist(), [i if self.ps is not None else int(i) for i in ids]))
        inline = [lab_of[int(p)] for p in order[:HANDLES_INLINE]]
        rest = m - len(inline)
        more = f" and {rest:,} more" if rest > 0 else ""
        out.append(f'<p class="handles"><b>Accounts</b> (most connected first): {esc(", ".join(inline))}{esc(more)}.</p>')
        out.append(self.network_facts(c, members, m))
        mrows = [(lab_of[int(p)], id_of[int(p)], int(deg[p]) if deg is not None else "–") for p in order[:MEMBERS_TABLE]]
        cap = f" (the {MEMBERS_TABLE:,} most connected)" if m > MEMBERS_TABLE else ""
        if m > MEMBERS_TABLE:
            self.notes.append(f"network {c}: the account table lists the {MEMBERS_TABLE:,} most connected of {m:,} accounts")
        out.append(f"<details><summary>all accounts of network {c}{esc(cap)}: handle, account id, links "
                   "inside the network</summary>"
                   + table(["account", "account id", "links inside the network"], mrows, "members") + "</details>")
        if m > self.args.max_members:
            pick = np.sort(self.rng.choice(m, self.args.max_members, replace=False))
            out.append(self.note(f"network {c}: the heatmap and the link table use a random sample of "
                                 f"{self.args.max_members} of {m} members"))
        else:
            pick = np.arange(m)
        out.append(self.links(c, members, lab_of, pick))
        out.append(self.heatmap(c, members, deg, pick))
        return "\n".join(out)

    def network_facts(self, c, members, m):
        cl = self.cl
        ne = int(cl["edges"][c])
        rows = [("links", f"{ne:,} between its {m:,} accounts; {100 * float(cl['density'][c]):.0f}% of all "
                          "pairs of its accounts are directly linked")]
        ex = self.exemplar_labels(c, members)
        if ex:
            rows.append(("start reading with", ", ".join(ex) + " (the accounts with the most links inside "
                         "the network: their posts show best what the network shares)"))
        if self.use_emb:
            rows.append(("content similarity of its links",
                         f"mean {num(cl['mean_sim_embedding'][c])}, weakest {num(cl['min_sim_embedding'][c])} "
                         "(embedding cosine, 1 = identical)"))
        if self.use_act:
            rows.append(("timing correlation of its links",
                         f"mean {num(cl['mean_sim_activity'][c])}, weakest {num(cl['min_sim_activity'][c])} "
                         "(1 = posting in lockstep)"))
            sync = cl["activity_synchrony"][c]
            if np.isfinite(sync):
                rows.append(("synchrony", f"{num(sync)}: mean correlation of each account's posting with "
                                          "the network's common rhythm"))
        b = self.busiest(c, 5)
        if b:
            rows.append(("most active together (posts by its accounts)", b))
        if self.p is not None:
            rows.append(("how likely by chance", self.significance_fact(c)))
        if self.truth:
            tb = int(cl["truth_best"][c])
            rows.append(("ground truth", (f"best match: planted network {tb}; precision {num(cl['truth_precision'][c])}, "
                                          f"recall {num(cl['truth_recall'][c])}") if tb >= 0 else
                         "matches no planted network: none of its accounts was planted (a false alarm on "
                         "this synthetic data)"))
        if self.ev is None and not self.coaction and not self.expression:
            rows.append(("evidence", "No /evidence group in the results: evidence is limited "
                                     "(run detect without --no-evidence)."))
        return table(["what they share", ""], rows, "evidence")

    def edge_index(self):
        if self.edges is None:
            self.edges = EdgeIndex(self.f)
        return self.edges

    def read_links(self, members, pick_rows):
        """The edges leaving the rows `pick_rows` (all of the cluster's when all are picked), at
        most EDGES_READ: arrays src, dst, se, sa, cnt and the coactive bins per edge. Nearby
        ranges are read together, so a cluster costs a few reads per dataset, not one per row."""
        ei = self.edge_index()
        ranges, total = [], 0
        for r in np.sort(np.asarray(pick_rows, dtype=np.int64)):
            a, b = ei.rows(int(r))
            b = min(b, a + EDGES_READ - total)
            if b > a:
                ranges.append((int(r), a, b))
                total += b - a
            if total >= EDGES_READ:
                break
        if not ranges:
            return None, 0
        spans = [[ranges[0][1], ranges[0][2], [ranges[0]]]]
        for rg in ranges[1:]:
            if rg[1] - spans[-1][1] <= 65536 and rg[2] - spans[-1][0] <= 1 << 20:
                spans[-1][1] = rg[2]
                spans[-1][2].append(rg)
            else:
                spans.append([rg[1], rg[2], [rg]])
        parts = [self.read_span(lo, hi, rgs) for lo, hi, rgs in spans]
        out = {key: np.concatenate([p[key] for p in parts]) for key in parts[0] if key != "bins"}
        if "bins" in parts[0]:
            out["bins"] = [x for p in parts for x in p["bins"]]
        return out, total

    def read_span(self, lo, hi, rgs):
        """Edges [lo, hi) read once, cut to the ranges (row, a, b) inside it."""
        f = self.f
        idx = np.concatenate([np.arange(a - lo, b - lo) for _, a, b in rgs])
        d = {"src": np.concatenate([np.full(b - a, r, np.int64) for r, a, b in rgs]),
             "dst": f["edges/dst"][lo:hi][idx], "se": f["edges/sim_embedding"][lo:hi][idx],
             "sa": f["edges/sim_activity"][lo:hi][idx]}
        if "edges/weight" in f:
            for key in ("weight", "weight_src_dst", "weight_dst_src"):
                d[key] = f["edges/" + key][lo:hi][idx]
        if "edges/terms" in f:
            d["terms"] = f["edges/terms"][lo:hi][idx]
        if self.co is not None and "edge_offsets" in self.co:
            d["edge"] = np.arange(lo, hi)[idx]
        if self.ev_has("edge_coactive_offsets"):
            off = self.ev["edge_coactive_offsets"][lo:hi + 1]
            d["cnt"] = self.ev["edge_coactive_count"][lo:hi][idx]
            allb = self.ev["edge_coactive_bins"][int(off[0]):int(off[-1])]
            base = int(off[0])
            d["bins"] = [allb[int(off[i]) - base:int(off[i + 1]) - base] for i in idx]
        return d

    def no_edges(self):
        if int(self.attrs.get("edges", 0)) == 0:
            return "<p>No pair of accounts passed the test: there are no links.</p>"
        return ("<p>The results file holds no links (detect ran with --no-edges): no per-link evidence "
                "and no similarity histograms.</p>")

    @staticmethod
    def diverse(L, order, per_account=3):
        """The strongest links, each account in at most `per_account` of them while others are
        left (so the table shows more of the network than one hub's links)."""
        seen, best, rest = {}, [], []
        for j in order:
            a, b = int(L["src"][j]), int(L["dst"][j])
            if len(best) >= LINKS_SHOWN:
                break
            if seen.get(a, 0) < per_account and seen.get(b, 0) < per_account:
                best.append(j)
                seen[a], seen[b] = seen.get(a, 0) + 1, seen.get(b, 0) + 1
            elif len(rest) < LINKS_SHOWN:
                rest.append(j)
        best += rest[:LINKS_SHOWN - len(best)]
        rank = np.empty(len(order), np.int64)
        rank[order] = np.arange(len(order))
        return sorted(best, key=lambda j: rank[j])

    def links(self, c, members, lab_of, pick):
        ne = int(self.cl["edges"][c])
        if self.e == 0:
            return self.no_edges()
        m = len(members)
        L, read = self.read_links(members, members[pick])
        if L is None:
            return ""
        if self.coaction:
            return self.coaction_links(c, members, lab_of, pick, L, read)
        strength = np.zeros(len(L["src"]))
        if "weight" in L:
            strength += L["weight"].astype(np.float64)
        if self.use_emb:
            strength += np.nan_to_num(L["se"], nan=0.0)
        if self.use_act:
            strength += np.nan_to_num(L["sa"], nan=0.0)
        best = self.diverse(L, np.argsort(-strength, kind="stable"))
        pos = {int(r): i for i, r in enumerate(members)}
        need = sorted({pos[int(r)] for j in best for r in (L["src"][j], L["dst"][j])} - set(lab_of))
        if need:
            extra, _ = self.labels_at(c, need, members)
            lab_of = {**lab_of, **dict(zip(need, extra))}
        header = ["account", "account"] + (["content similarity"] if self.use_emb else []) + \
            (["timing correlation"] if self.use_act else []) + \
            (["co-actions"] if "weight" in L else []) + (["terms that held"] if "terms" in L else [])
        if "cnt" in L:
            header += ["time bins both posted in", "when both posted (up to 6 of the busiest shared bins, in time order)"]
        rows = []
        for j in best:
            r = [lab_of[pos[int(L["src"][j])]], lab_of[pos[int(L["dst"][j])]]]
            if self.use_emb:
                r.append(num(L["se"][j], 3))
            if self.use_act:
                r.append(num(L["sa"][j], 3))
            if "weight" in L:
                r.append(f"{int(L['weight_src_dst'][j]):,} / {int(L['weight_dst_src'][j]):,}")
            if "terms" in L:
                held = int(L["terms"][j])
                r.append(", ".join(t for k, t in enumerate(self.terms) if held >> k & 1))
            if "cnt" in L:
                bins = L["bins"][j]
                r.append(f"{int(L['cnt'][j]):,}")
                shown = bins[:TIMES_PER_LINK]
                txt = self.clock.at_list(shown)
                if int(L["cnt"][j]) > len(shown):
                    txt += f" (+{int(L['cnt'][j]) - len(shown):,} more)"
                r.append(txt or "–")
            rows.append(r)
        where = "all its links" if m <= self.args.max_members and read < EDGES_READ else \
            f"{read:,} links leaving a sample of {len(pick)} of its accounts"
        head = (f"<p><b>Evidence per link</b>: the {len(rows)} strongest of {ne:,} links (from {where}); "
                "every link in a network passed the test above. All links: "
                "<code>chorus export RESULTS --format csv</code>.</p>")
        if read >= EDGES_READ:
            self.notes.append(f"network {c}: the link table picks the strongest among {where}")
        return head + table(header, rows, "links")

    def coaction_evidence(self, e):
        """The evidence of edge e in words: the first shared objects with times and gaps."""
        co = self.co
        a, b = int(co["edge_offsets"][e]), int(co["edge_offsets"][e + 1])
        if b <= a:
            return "–"
        if self.co_objects is None:
            self.co_objects = [x.decode() if isinstance(x, bytes) else str(x) for x in co["objects"][:]]
        objs, ts, td = co["object"][a:b], co["time_src"][a:b], co["time_dst"][a:b]
        ps, pd_ = co["post_src"][a:b], co["post_dst"][a:b]
        verb = COACTION_VERB.get(self.view, "")
        parts = []
        for o, t1, t2, p1, p2 in list(zip(objs, ts, td, ps, pd_))[:3]:
            obj = self.co_objects[int(o)]
            when = dt.datetime.fromtimestamp(int(min(t1, t2)), dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
            if self.view in ("co_text", "co_similar", "co_post"):
                # no text is stored: name the two posts, which the reader can look up
                what = f"{verb} (posts {self.post(p1)} and {self.post(p2)})"
            else:
                what = f"{verb} {self.shared_object(obj)}" if obj else verb
            parts.append(f"{what} {abs(int(t2) - int(t1))} s apart ({when} UTC)")
        total = int(co["pairs"][e])
        more = f"; {total:,} times in all" if total > len(parts) else ""
        return "both " + "; ".join(parts) + more

    def post(self, p):
        """A post id as shown: the id, or its pseudonym."""
        return self.ps.post(p) if self.ps is not None else str(int(p))

    def shared_object(self, obj):
        """A co-action object as shown; pseudonymised: post ids as pseudonyms, links as domains,
        hashtags kept unless --redact-text."""
        if self.ps is None:
            return obj
        if self.view in ("co_repost", "co_reply") and obj.isdigit():
            return self.ps.post(obj)
        if self.view == "co_link":
            return self.ps.link(obj) + "/…"
        if self.view == "co_hashtag":
            return "[redacted]" if self.ps.redact else obj
        return self.ps.text(obj)

    def coaction_links(self, c, members, lab_of, pick, L, read):
        """The strongest co-action links (undirected weight) with their evidence."""
        ne, m = int(self.cl["edges"][c]), len(members)
        best = self.diverse(L, np.argsort(-L["weight"], kind="stable")) if "weight" in L else []
        pos = {int(r): i for i, r in enumerate(members)}
        need = sorted({pos[int(r)] for j in best for r in (L["src"][j], L["dst"][j])} - set(lab_of))
        if need:
            extra, _ = self.labels_at(c, need, members)
            lab_of = {**lab_of, **dict(zip(need, extra))}
        rows = []
        for j in best:
            r = [lab_of[pos[int(L["src"][j])]], lab_of[pos[int(L["dst"][j])]],
                 f"{int(L['weight_src_dst'][j]):,} / {int(L['weight_dst_src'][j]):,}"]
            r.append(self.coaction_evidence(int(L["edge"][j])) if "edge" in L else "–")
            rows.append(r)
        where = "all its links" if m <= self.args.max_members and read < EDGES_READ else \
            f"{read:,} links leaving a sample of {len(pick)} of its accounts"
        head = (f"<p><b>Evidence per link</b>: the {len(rows)} strongest of {ne:,} links (from {where}), by "
                "co-actions; “a / b” counts the first account's posts with a partner post of the second, "
                "and the reverse. All links: <code>chorus export RESULTS --format csv</code>.</p>")
        return head + table(["account", "account", "co-actions", "what they did together (first of them)"],
                            rows, "links")

    def heatmap(self, c, members, deg, pick):
        m = len(members)
        if self.act is None:
            return ""
        out = []
        if deg is not None:  # most connected at the top
            pick = pick[np.argsort(-deg[pick], kind="stable")]
        rows_sel = np.asarray(members[pick], dtype=np.int64)
        order = np.argsort(rows_sel)
        data = np.empty((len(pick), self.act.shape[1]))
        data[order] = self.act[rows_sel[order], :].astype(np.float64)
        labs, _ = self.labels_at(c, np.sort(pick), members)
        lab_of = dict(zip(np.sort(pick).tolist(), labs))
        ylabs = [lab_of[int(p)] for p in pick]
        fig, ax = plt.subplots(figsize=(10, 1.3 + 0.17 * len(pick)))
        t = data.shape[1]
        if self.clock.start is not None:
            x0 = mdates.date2num(self.clock.time(0))
            x1 = mdates.date2num(self.clock.time(t))
            im = ax.imshow(data, aspect="auto", interpolation="nearest", cmap="magma",
                           extent=(x0, x1, len(pick) - 0.5, -0.5))
            loc = mdates.AutoDateLocator(tz=dt.timezone.utc)
            ax.xaxis.set_major_locator(loc)
            ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(loc, tz=dt.timezone.utc))
            ax.set_xlabel("time (UTC)")
        else:
            im = ax.imshow(data, aspect="auto", interpolation="nearest", cmap="magma")
            integer_axis(ax.xaxis)
            ax.set_xlabel("time bin (the input gives no clock)")
        ax.set_yticks(range(len(pick)))
        ax.set_yticklabels(ylabs, fontsize=7)
        ax.set_title(f"network {c}: posts per time bin of {len(pick)} of its accounts"
                     if m > len(pick) else f"network {c}: posts per time bin of its {m} accounts")
        cb = fig.colorbar(im, ax=ax, label="posts per bin", pad=0.01)
        if np.all(data == np.round(data)):
            cb.locator = mticker.MaxNLocator(integer=True)
            cb.update_ticks()
        out.append(png(fig, f"activity heatmap of network {c}"))
        return "\n".join(out)

    # -- every other network
    def others(self):
        shown, top = self.shown, self.top
        k = len(shown)
        if k <= top:
            return ""
        sel = shown[top:top + LIST_LIMIT]
        some = f" with p ≤ {self.max_p:g}" if self.max_p is not None else ""
        out = [f'<h2 id="others">The other {k - top:,} networks{some}</h2>' if top else
               f'<h2 id="others">All {k:,} networks{some}</h2>']
        if len(sel) < k - top:
            out.append(self.note(f"The compact table lists {len(sel):,} of the {k - top:,} other networks (up to "
                                 f"network {sel[-1]}); all of them: chorus export RESULTS --format csv"))
        c0, c1 = sel[0], sel[-1] + 1  # the selected clusters lie in [c0, c1)
        lo, hi = int(self.offsets[c0]), int(self.offsets[c1])
        bulk = hi - lo <= 2_000_000
        if bulk:
            members = self.f["clusters/members"][lo:hi]
            hs = decode(self.ev["cluster_member_handles"][lo:hi]) if self.ev_has("cluster_member_handles") else None
            ids = self.ev["cluster_member_ids"][lo:hi] if self.ev_has("cluster_member_ids") else None
        ex = self.ev["cluster_exemplars"][c0:c1] if self.ev_has("cluster_exemplars") else None
        tb = self.ev["cluster_top_bins"][c0:c1, 0] if self.ev_has("cluster_top_bins") else None
        cols = {name: self.cl[name][c0:c1] for name in
                ("mean_sim_embedding", "mean_sim_activity", "truth_precision", "truth_recall", "truth_best")
                if name in self.cl}
        header = ["network", "accounts", "accounts (most connected first)"] + \
            (["content similarity (mean)"] if self.use_emb else []) + \
            (["timing correlation (mean)", "busiest time"] if self.use_act else []) + \
            (["ground truth (precision / recall)"] if self.truth else []) + \
            (["chance (p, q)"] if self.p is not None else [])
        rows, ids_row = [], []
        for c in sel:
            i = c - c0
            s, e_ = int(self.offsets[c]) - lo, int(self.offsets[c + 1]) - lo
            if bulk:
                labs = self.short_labels(members[s:e_], hs[s:e_] if hs else None,
                                         ids[s:e_] if ids is not None else None,
                                         ex[i] if ex is not None else [])
            else:
                mem = self.f["clusters/members"][lo + s:lo + min(e_, s + 3)]
                labs, _ = self.labels_at(c, np.arange(len(mem)), mem)
            more = int(self.size[c]) - len(labs)
            r = [str(c), f"{int(self.size[c]):,}", ", ".join(labs) + (f" +{more:,} more" if more > 0 else "")]
            if self.use_emb:
                r.append(num(cols["mean_sim_embedding"][i]))
            if self.use_act:
                r.append(num(cols["mean_sim_activity"][i]))
                r.append(self.clock.span(tb[i]) if tb is not None and tb[i] >= 0 else "–")
            if self.truth:
                r.append(f"{num(cols['truth_precision'][i])} / {num(cols['truth_recall'][i])}")
            if self.p is not None:
                r.append(self.pv(c))
            rows.append(r)
            ids_row.append(f"cluster-{c}")
        out.append(table(header, rows, "others", row_ids=ids_row))
        return "\n".join(out)

    def short_labels(self, members, hs, ids, ex_rows):
        """Up to 3 labels of one cluster: its exemplars, else its first members."""
        pos = [int(np.searchsorted(members, r)) for r in ex_rows if r >= 0] or list(range(min(3, len(members))))
        out = []
        for p in pos[:3]:
            h = hs[p] if hs else ""
            i = int(ids[p]) if ids is not None else int(self.f["accounts/id"][int(members[p])])
            if self.ps is not None:
                out.append(self.ps.handle(h) if h else self.ps.account(i))
            else:
                out.append(f"@{h}" if h else f"id {i}")
        return out

    # -- plots
    def sizes_plot(self):
        k, size = self.k, self.size
        fig, ax = plt.subplots(figsize=(7, 2.8))
        if k <= 40:
            bars = ax.bar(np.arange(k), size, color="#70ad47")
            if k <= 20:
                ax.bar_label(bars, labels=[f"{int(v):,}" for v in size], fontsize=8, padding=1)
                ax.margins(y=0.12)
            ax.set_xlabel("network (largest first)")
            ax.set_ylabel("accounts")
            integer_axis(ax.xaxis)
            integer_axis(ax.yaxis)
            if size.max() / max(size.min(), 1) > 50:
                ax.set_yscale("log")
                plain_log_axis(ax.yaxis)
        else:
            smax = int(size.max())
            if smax <= 40:
                vals, counts = np.unique(size, return_counts=True)
                ax.bar(vals, counts, color="#70ad47", width=0.8)
                integer_axis(ax.xaxis)
            else:
                # bin edges halfway between whole sizes, so that a bar of small sizes sits on its size
                edges = np.unique(np.round(np.logspace(np.log10(2), np.log10(smax + 1), 30))) - 0.5
                ax.hist(size, bins=edges, color="#70ad47", edgecolor="white", linewidth=0.5)
                ax.set_xscale("log")
                plain_log_axis(ax.xaxis)
            ax.set_xlabel("network size (accounts)")
            ax.set_ylabel("networks")
            counts_max = np.bincount(size).max()
            if counts_max > 100:
                ax.set_yscale("log")
                plain_log_axis(ax.yaxis)
            else:
                integer_axis(ax.yaxis)
        ax.set_title(f"{k:,} networks" + (": accounts in each" if 0 < k <= 40 else ": how many of each size"))
        return png(fig, "network sizes")

    def sim_hist(self, values, threshold, title, xlabel):
        v = values[np.isfinite(values)]
        fig, ax = plt.subplots(figsize=(6, 2.8))
        ax.hist(v, bins=60, color="#4472c4")
        if threshold is not None and np.isfinite(threshold):
            ax.axvline(threshold, color="#c00000", ls="--", label=f"threshold {threshold:g}")
            ax.legend(loc="upper left")
        integer_axis(ax.yaxis)
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("links")
        return png(fig, title)

    def similarity(self):
        out = ['<h2 id="similarity">How similar the linked accounts are</h2>']
        if self.e == 0:
            return out[0] + self.no_edges()
        if self.coaction and "edges/weight" in self.f:
            w, sampled = sample_blocks(self.f["edges/weight"], self.e, self.args.max_edges)
            if sampled:
                out.append(self.note(f"The co-action histogram uses a sample of {len(w):,} of {self.e:,} links."))
            out.append("<p>Every link of every network, by its co-actions (the larger of the two directions); "
                       "the dashed line is the minimum a link had to reach.</p>")
            out.append(self.sim_hist(w.astype(np.float64), float(self.attr("coaction_min_weight") or 1),
                                     "co-actions of linked accounts", "co-actions (posts with a partner post)"))
            return "\n".join(out)
        se, sampled = sample_blocks(self.f["edges/sim_embedding"], self.e, self.args.max_edges)
        sa, _ = sample_blocks(self.f["edges/sim_activity"], self.e, self.args.max_edges)
        if sampled:
            out.append(self.note(f"Similarity histograms use a sample of {len(se):,} of {self.e:,} links "
                                 f"(64 evenly spaced runs of /edges)."))
        out.append("<p>Every link of every network, by how alike its two accounts are; the dashed line is "
                   "the threshold a link had to reach.</p>")
        t, ta = self.attr("threshold"), self.attr("threshold_activity")
        if self.use_emb and np.isfinite(se).any():
            out.append(self.sim_hist(se, t if self.view in ("embedding", "both") else None,
                                     "content: embedding cosine of linked accounts", "cosine similarity (1 = identical)"))
        if self.use_act and np.isfinite(sa).any():
            out.append(self.sim_hist(sa, ta if self.view in ("activity", "both") else None,
                                     "timing: activity correlation of linked accounts",
                                     "Pearson correlation (1 = lockstep)"))
        if self.view == "fused" and np.isfinite(se).any():
            w = float(self.attr("weight"))
            out.append(self.sim_hist(w * se + (1 - w) * sa, t, "fused score of linked accounts",
                                     f"{w:g} × content + {1 - w:g} × timing"))
        return "\n".join(out)

    def truth_section(self):
        out = ['<h2 id="truth">Ground truth</h2>']
        if not (self.truth or "truth_precision" in self.attrs):
            return out[0] + "<p>The input had no /truth/cluster (planted networks): no comparison.</p>"
        out.append(table(["", ""], [("precision (share of the accounts found that were planted)",
                                     num(self.attr("truth_precision"), 3)),
                                    ("recall (share of the planted accounts found)",
                                     num(self.attr("truth_recall"), 3))], "truth"))
        if self.truth and self.k:
            out.append(self.truth_plot())
        return "\n".join(out)

    def truth_plot(self):
        """Precision and recall per network. Up to 40 networks: side by side in one panel (recall
        a hollow triangle right of the precision dot); more: one panel each, so no marker hides
        another. The legend sits outside the axes."""
        kk = min(self.k, 200)
        x = np.arange(kk)
        prec, rec = self.cl["truth_precision"][:kk], self.cl["truth_recall"][:kk]
        title = "per network, against its best-matching planted network" + \
            (f" (the {kk} largest)" if self.k > kk else "")
        if kk <= 40:
            fig, ax = plt.subplots(figsize=(7, 2.8))
            ax.plot(x - 0.18, prec, "o", ms=5, color="#2f5597", label="precision")
            ax.plot(x + 0.18, rec, "^", ms=6, mfc="none", mew=1.4, color="#c55a11", label="recall")
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
            axes = [ax]
        else:
            fig, axes = plt.subplots(2, 1, figsize=(7, 3.6), sharex=True)
            for ax, v, lab, col in ((axes[0], prec, "precision", "#2f5597"), (axes[1], rec, "recall", "#c55a11")):
                ax.vlines(x, 0, v, color=col, lw=1)
                ax.plot(x, v, "o", ms=2.5, color=col)
                ax.set_ylabel(lab)
        for ax in axes:
            ax.set_ylim(-0.05, 1.1)
            ax.set_xlim(-0.7, kk - 0.3)
            ax.set_yticks([0, 0.5, 1])
            integer_axis(ax.xaxis)
        axes[-1].set_xlabel("network (largest first)")
        axes[0].set_title(title)
        return png(fig, "precision and recall per network")

    def settings(self):
        """Appendix: the run's settings and facts, grouped; unused thresholds left out."""
        a = self.attrs
        used = {name.split(" ")[0] for name, _ in self.thresholds()}
        skip = {"threshold", "threshold_activity", "weight"} - used
        if not self.use_act:
            skip |= {"activity_transform", "min_activity", "accounts_below_min_activity"}
        if self.attr("backend") != "cuda":
            skip |= {"device", "gpu_kernel_requested"}
        groups = [
            ("input", ["input_path", "input_size_bytes", "input_checksum", "accounts", "embedding_dim",
                       "activity_bins"]),
            ("what makes a link", ["view", "edges_expression", "edges_terms", "threshold",
                                   "threshold_activity", "weight", "activity_transform",
                                   "min_activity", "topk", "coaction_window", "coaction_min_weight",
                                   "coaction_normalize", "coaction_evidence_cap"]),
            ("counts", ["pairs", "candidates", "edges_before_topk", "edges", "edges_written", "clusters",
                        "invalid_embedding_rows", "invalid_activity_rows", "accounts_below_min_activity",
                        "truth_precision", "truth_recall"]),
            ("computation", ["backend", "backend_detail", "precision_requested", "precision_used",
                             "gpu_kernel_requested", "device", "threads", "ranks", "tile_rows", "tile_cols",
                             "max_edges", "max_memory_mib", "edges_spilled"]),
            ("incremental run", ["update_of", "update_of_input", "update_of_input_checksum",
                                 "rows_new", "rows_changed", "rows_removed", "rows_unchanged",
                                 "edges_carried", "edges_dropped", "pairs_full"]),
            ("timings (seconds)", ["seconds_read", "seconds_score", "seconds_components"]),
        ]
        seen, rows = set(skip), []

        def value(name):  # paths name folders, which often name people: base names only
            if self.ps is not None and name in ("input_path", "update_of", "update_of_input"):
                return self.path_shown(self.attr(name))
            return a[name]
        for g, names in groups:
            for name in names:
                if name in a and name not in seen:
                    rows.append((g, name, value(name)))
                    seen.add(name)
        rows += [("file", name, value(name)) for name in sorted(a) if name not in seen]
        out = ['<h2 id="parameters">Appendix: run settings and input identity</h2>',
               "<p>The results file's root attributes (datasets/SCHEMA.md)."]
        if skip & {"threshold", "threshold_activity", "weight"}:
            out.append(f" Settings the view “{esc(self.view)}” does not use are left out.")
        out.append("</p>")
        out.append(table(["group", "attribute", "value"], rows, "attrs"))
        if self.ps is not None:
            out.append(f"<p>Pseudonymised with key {esc(self.ps.fingerprint)}: paths are shown by their base "
                       "name.</p>")
        out.append(self.method_note())
        return "\n".join(out)

    # -- the page
    def banner(self):
        """What the reader must know first: pseudonyms, and a --max-p selection."""
        out = []
        if self.ps is not None:
            tags = self.view == "co_hashtag" or any(t.startswith("co_hashtag") for t in self.terms)
            hid = "; hashtags are redacted" if self.ps.redact and tags else \
                "; hashtags are shown (--redact-text hides them)" if tags else ""
            out.append('<p class="pseudo"><b>Pseudonymised report</b> (key fingerprint '
                       f"<code>{esc(self.ps.fingerprint)}</code>): every account id is shown as a_…, every handle as "
                       f"h_…, every post id as p_…, links only by their domain, files by their name{hid}. The "
                       "same key gives the same pseudonyms in every report and export, so the holder of the key can "
                       "re-identify the accounts: this is pseudonymous, still personal data (GDPR Art. 4(5)).</p>")
        if self.max_p is not None:
            out.append(f'<p class="pseudo"><b>Only the {len(self.shown):,} of {self.k:,} networks with p ≤ '
                       f"{self.max_p:g}</b> (chorus detect --significance) are shown in the tables below; the summary, "
                       "the plots and the appendix describe every network of the run.</p>")
        return "\n".join(out)

    def page(self, t0):
        top, k = self.top, len(self.shown)
        body = [self.banner(), self.summary(), self.glance()]
        if top:
            body.append(f'<h2 id="clusters">{self.which()} in detail</h2>')
        else:
            body.append('<h2 id="clusters">Networks in detail</h2><p>' +
                        ("None: no network was found.</p>" if self.k == 0 else
                         f"None with p ≤ {self.max_p:g}.</p>" if k == 0 else
                         "None detailed (--top 0): every network is listed in the table below.</p>"))
        if self.input_note:
            body.append(f'<p class="note">{esc(self.input_note)}</p>')
        for c in self.shown[:top]:
            body.append(self.network(c))
        body.append(self.others())
        if self.tl is not None:
            body.append(Timeline(self.tl, self).section())
        body.append('<h2 id="sizes">Network sizes</h2>' + (self.sizes_plot() if self.k else "<p>No networks.</p>"))
        body.append(self.similarity())
        body.append(self.truth_section())
        body.append('<h2 id="sampling">What was sampled</h2>')
        body.append("<ul>" + "".join(f"<li>{esc(x)}</li>" for x in self.notes) + "</ul>" if self.notes
                    else "<p>Nothing: every number and plot uses all of the data.</p>")
        body.append(self.settings())
        body.append(f'<p class="footer">chorus report, {esc(os.path.basename(self.args.results))}, '
                    f"rendered in {time.time() - t0:.1f} s.</p>")
        name = os.path.basename(self.input_path) if self.input_path else os.path.basename(self.args.results)
        if self.ps is not None:
            name += " (pseudonymised)"
        title = f"Coordinated networks in {name}"
        links = [("overview", "summary"), ("glance", "at a glance"), ("clusters", "networks in detail")]
        if k > top:
            links.append(("others", f"all other networks ({k - top:,})"))
        if self.tl is not None:
            links.append(("timeline", "timeline"))
        links += [("sizes", "sizes"), ("similarity", "similarity"), ("truth", "ground truth"),
                  ("sampling", "sampling"), ("parameters", "appendix: settings")]
        nav = " · ".join(f'<a href="#{a}">{b}</a>' for a, b in links if a != "glance" or top)
        style = ("body{font-family:sans-serif;margin:1.2em 1.5em;max-width:1150px;color:#222;line-height:1.35}"
                 "h1{margin:.2em 0 .1em}nav{font-size:13px;margin-bottom:.6em}"
                 ".lead{font-size:19px;margin:.5em 0}"
                 "table{border-collapse:collapse;margin:.5em 0;font-size:13px}"
                 "td,th{border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top}"
                 "th{background:#eee}.note{color:#8a5a00}.clock{color:#555;font-size:13px}"
                 ".plot{display:block;margin:.5em 0;max-width:100%}.truthnote{color:#1e5e1e}"
                 ".handles{font-size:14px}table.evidence td:first-child{font-weight:bold;width:14em}"
                 "h3{margin-top:1.6em;border-top:2px solid #bbb;padding-top:.6em}"
                 "details{margin:.4em 0;font-size:13px}code{background:#f3f3f3;padding:0 3px}"
                 ".pseudo{background:#fff4d6;border:1px solid #e0c060;padding:.4em .6em}")
        return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>'
                f"<style>{style}</style></head><body><h1>{esc(title)}</h1><nav>{nav}</nav>\n"
                + "\n".join(x for x in body if x) + "\n</body></html>\n")


def render(args):
    t0 = time.time()
    page = Report(args).page(t0)
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
    p.add_argument("--top", type=int, default=10, help="largest networks to detail [10]; the rest are listed compactly")
    p.add_argument("--max-members", type=int, default=50, help="members per heatmap and link sample [50]")
    p.add_argument("--max-edges", type=int, default=2_000_000, help="edges sampled for histograms [2M]")
    p.add_argument("--timeline", help="timeline file of chorus track --out: adds a Timeline section")
    p.add_argument("--max-p", type=float, help="only networks with p_value <= P (detect --significance)")
    p.add_argument("--pseudonymize", metavar="KEYFILE",
                   help="accounts, handles and post ids as keyed pseudonyms (chorus keygen), links as domains")
    p.add_argument("--redact-text", action="store_true", help="with --pseudonymize: texts and hashtags as [redacted]")
    p.add_argument("--force", action="store_true", help="overwrite an existing report")
    args = p.parse_args(argv)
    if args.top < 0 or args.max_members < 1 or args.max_edges < 64:
        print("chorus report: error: --top >= 0, --max-members >= 1, --max-edges >= 64", file=sys.stderr)
        return 2
    if args.redact_text and not args.pseudonymize:
        print("chorus report: error: --redact-text needs --pseudonymize KEYFILE", file=sys.stderr)
        return 2
    if args.max_p is not None and not 0 <= args.max_p <= 1:
        print("chorus report: error: --max-p must be in [0, 1]", file=sys.stderr)
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
