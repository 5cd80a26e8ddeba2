// chorus: the cluster tracker (pure: account-id lists in, stable ids and events out). The rule
// is README.md, "Tracking networks over time".
#include "chorus/track/track.hpp"

#include <algorithm>
#include <cmath>
#include <tuple>
#include <unordered_map>

#include "chorus/core/error.hpp"

namespace chorus {

const char* event_name(event_kind k) {
  switch (k) {
    case event_kind::birth:
      return "birth";
    case event_kind::death:
      return "death";
    case event_kind::growth:
      return "growth";
    case event_kind::shrink:
      return "shrink";
    case event_kind::merge:
      return "merge";
    case event_kind::split:
      return "split";
  }
  return "?";
}

namespace {

// One run's clusters as sorted, de-duplicated account ids, and which cluster holds an account.
struct prepared_run {
  std::vector<std::vector<std::int64_t>> members;
  std::unordered_map<std::int64_t, std::int64_t> owner;  // account id -> label
  std::int64_t size(std::int64_t label) const {
    return static_cast<std::int64_t>(members[label].size());
  }
};

prepared_run prepare(const run_clusters& r, std::size_t run) {
  prepared_run p;
  p.members.resize(r.clusters.size());
  for (std::size_t c = 0; c < r.clusters.size(); ++c) {
    auto& m = p.members[c];
    m = r.clusters[c];
    std::sort(m.begin(), m.end());
    m.erase(std::unique(m.begin(), m.end()), m.end());
    CHORUS_EXPECTS(!m.empty(), "run ", run, ": cluster ", c, " has no member");
    for (std::int64_t id : m) {
      auto [it, fresh] = p.owner.emplace(id, static_cast<std::int64_t>(c));
      CHORUS_EXPECTS(fresh, "run ", run, ": account ", id, " is in clusters ", it->second, " and ",
                     c, " (an account belongs to at most one cluster of a run)");
    }
  }
  return p;
}

// A linked pair: cluster a of run t, cluster b of run t+1, and their shared accounts.
struct link {
  std::int64_t a = 0, b = 0, shared = 0;
};

// All linked pairs of two consecutive runs: |A ∩ B| / min(|A|, |B|) >= min_overlap.
std::vector<link> links_between(const prepared_run& A, const prepared_run& B, double min_overlap) {
  std::vector<link> out;
  std::vector<std::int64_t> count(B.members.size(), 0), touched;
  for (std::size_t a = 0; a < A.members.size(); ++a) {
    for (std::int64_t id : A.members[a]) {
      auto it = B.owner.find(id);
      if (it == B.owner.end()) continue;
      if (count[it->second]++ == 0) touched.push_back(it->second);
    }
    std::sort(touched.begin(), touched.end());
    const auto sa = A.size(static_cast<std::int64_t>(a));
    for (std::int64_t b : touched) {
      const double ratio =
          static_cast<double>(count[b]) / static_cast<double>(std::min(sa, B.size(b)));
      if (ratio >= min_overlap) out.push_back({static_cast<std::int64_t>(a), b, count[b]});
      count[b] = 0;
    }
    touched.clear();
  }
  return out;
}

// The stable ids of run t+1: linked pairs by shared accounts descending (ties: larger B, larger
// A, smaller stable id of A, smaller label of B); a pair of two unassigned clusters hands A's id
// to B. Every B left over takes a new id, in label order. `from[b]` is the A whose id B kept.
std::vector<std::int64_t> assign_ids(std::vector<link> links, const prepared_run& A,
                                     const prepared_run& B, const std::vector<std::int64_t>& sid_a,
                                     std::int64_t& next_id, std::vector<std::int64_t>& from) {
  std::sort(links.begin(), links.end(), [&](const link& x, const link& y) {
    return std::make_tuple(-x.shared, -B.size(x.b), -A.size(x.a), sid_a[x.a], x.b) <
           std::make_tuple(-y.shared, -B.size(y.b), -A.size(y.a), sid_a[y.a], y.b);
  });
  std::vector<std::int64_t> sid_b(B.members.size(), -1);
  std::vector<char> a_used(A.members.size(), 0);
  from.assign(B.members.size(), -1);
  for (const link& l : links) {
    if (a_used[l.a] || sid_b[l.b] >= 0) continue;
    a_used[l.a] = 1;
    sid_b[l.b] = sid_a[l.a];
    from[l.b] = l.a;
  }
  for (auto& s : sid_b)
    if (s < 0) s = next_id++;
  return sid_b;
}

// Stable ids of `clusters` (of one run, by label) with their sizes, ascending by id.
void related_of(const std::vector<std::int64_t>& clusters, std::int64_t except,
                const std::vector<std::int64_t>& sid, const prepared_run& run, track_event& e) {
  std::vector<std::pair<std::int64_t, std::int64_t>> r;
  for (std::int64_t c : clusters)
    if (c != except) r.emplace_back(sid[c], run.size(c));
  std::sort(r.begin(), r.end());
  for (const auto& [s, n] : r) e.related.push_back(s), e.related_sizes.push_back(n);
}

// The events of one step (run t -> run t+1 = `run`).
struct step {
  const prepared_run &A, &B;
  const std::vector<std::int64_t>&sid_a, &sid_b, &from;
  std::vector<std::vector<std::int64_t>> a_of_b, b_of_a;  // linked clusters of each side
};

void step_events(const step& s, std::int64_t run, double growth, std::vector<track_event>& out) {
  auto event = [&](event_kind k, std::int64_t id, std::int64_t before, std::int64_t after) {
    track_event e;
    e.run = run, e.kind = k, e.stable_id = id, e.size_before = before, e.size_after = after;
    return e;
  };
  for (std::size_t b = 0; b < s.a_of_b.size(); ++b) {
    const auto bi = static_cast<std::int64_t>(b);
    const auto& as = s.a_of_b[b];
    if (as.empty()) out.push_back(event(event_kind::birth, s.sid_b[b], 0, s.B.size(bi)));
    if (as.size() < 2) continue;
    const std::int64_t kept = s.from[b];
    track_event e =
        event(event_kind::merge, s.sid_b[b], kept >= 0 ? s.A.size(kept) : 0, s.B.size(bi));
    related_of(as, kept, s.sid_a, s.A, e);
    out.push_back(std::move(e));
  }
  std::vector<std::int64_t> heir(s.b_of_a.size(), -1);  // the B that kept A's id
  for (std::size_t b = 0; b < s.from.size(); ++b)
    if (s.from[b] >= 0) heir[s.from[b]] = static_cast<std::int64_t>(b);
  for (std::size_t a = 0; a < s.b_of_a.size(); ++a) {
    const auto ai = static_cast<std::int64_t>(a);
    const auto& bs = s.b_of_a[a];
    if (bs.empty()) out.push_back(event(event_kind::death, s.sid_a[a], s.A.size(ai), 0));
    if (bs.size() >= 2) {
      const std::int64_t h = heir[a];
      track_event e = event(event_kind::split, s.sid_a[a], s.A.size(ai), h >= 0 ? s.B.size(h) : 0);
      related_of(bs, h, s.sid_b, s.B, e);
      out.push_back(std::move(e));
    }
    const std::int64_t h = heir[a];
    if (h < 0 || bs.size() >= 2 || s.a_of_b[h].size() >= 2) continue;  // merge/split say it
    const double before = static_cast<double>(s.A.size(ai)),
                 after = static_cast<double>(s.B.size(h));
    if (after > before && after / before >= 1 + growth)
      out.push_back(event(event_kind::growth, s.sid_a[a], s.A.size(ai), s.B.size(h)));
    else if (after < before && before / after >= 1 + growth)
      out.push_back(event(event_kind::shrink, s.sid_a[a], s.A.size(ai), s.B.size(h)));
  }
}

// Dates (input_date attributes) that do not increase, in words.
void check_dates(const std::vector<run_clusters>& runs, std::vector<std::string>& warnings) {
  std::int64_t prev = -1;
  for (std::size_t t = 0; t < runs.size(); ++t) {
    if (!runs[t].dated) continue;
    if (prev >= 0 && !(runs[prev].date < runs[t].date))
      warnings.push_back(detail::concat(
          "dates do not increase: run ", t, " ('", runs[t].path, "', input_date ", runs[t].date,
          ") is not later than run ", prev, " ('", runs[prev].path, "', input_date ",
          runs[prev].date,
          "); give the results files in time order (dates compare as text, as ISO 8601 does)"));
    prev = static_cast<std::int64_t>(t);
  }
}

}  // namespace

timeline track_clusters(const std::vector<run_clusters>& runs, const track_options& opt) {
  CHORUS_EXPECTS(std::isfinite(opt.min_overlap) && opt.min_overlap > 0 && opt.min_overlap <= 1,
                 "--min-overlap must lie in (0, 1], got ", opt.min_overlap);
  CHORUS_EXPECTS(std::isfinite(opt.growth) && opt.growth >= 0, "--growth must be >= 0, got ",
                 opt.growth);
  CHORUS_EXPECTS(!runs.empty(), "no run to track");
  timeline tl;
  tl.options = opt;
  check_dates(runs, tl.warnings);
  std::int64_t next_id = 0;
  prepared_run prev;
  std::vector<std::int64_t> sid_prev;
  for (std::size_t t = 0; t < runs.size(); ++t) {
    prepared_run cur = prepare(runs[t], t);
    const auto run = static_cast<std::int64_t>(t);
    std::vector<std::int64_t> sid, from;
    if (t == 0) {
      for (std::size_t c = 0; c < cur.members.size(); ++c) {
        sid.push_back(next_id++);
        tl.events.push_back({run,
                             event_kind::birth,
                             sid.back(),
                             0,
                             cur.size(static_cast<std::int64_t>(c)),
                             {},
                             {}});
      }
    } else {
      const std::vector<link> links = links_between(prev, cur, opt.min_overlap);
      sid = assign_ids(links, prev, cur, sid_prev, next_id, from);
      step s{prev, cur, sid_prev, sid, from, {}, {}};
      s.a_of_b.resize(cur.members.size());
      s.b_of_a.resize(prev.members.size());
      for (const link& l : links) s.a_of_b[l.b].push_back(l.a), s.b_of_a[l.a].push_back(l.b);
      step_events(s, run, opt.growth, tl.events);
    }
    for (std::size_t c = 0; c < cur.members.size(); ++c)
      tl.clusters.push_back(
          {run, static_cast<std::int64_t>(c), sid[c], cur.size(static_cast<std::int64_t>(c))});
    tl.paths.push_back(runs[t].path);
    tl.dates.push_back(runs[t].date);
    tl.run_clusters.push_back(static_cast<std::int64_t>(cur.members.size()));
    tl.run_accounts.push_back(runs[t].accounts);
    prev = std::move(cur);
    sid_prev = std::move(sid);
  }
  std::stable_sort(tl.events.begin(), tl.events.end(),
                   [](const track_event& x, const track_event& y) {
                     return std::make_tuple(x.run, x.stable_id, static_cast<int>(x.kind)) <
                            std::make_tuple(y.run, y.stable_id, static_cast<int>(y.kind));
                   });
  tl.stable_ids = next_id;
  return tl;
}

}  // namespace chorus
