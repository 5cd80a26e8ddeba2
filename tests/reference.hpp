// An independent reference for chorus's results, written for the tests only.
//
// It shares no code with the library (it includes no chorus header): float64 similarities from
// the unrounded input, its own activity transforms, its own decision for every view, its own
// top-k, its own components (breadth-first search) and canonical labels. Every backend,
// precision, view, transform and rank count is compared with it.
//
// The exactness contract (README) excuses only pairs whose float64 similarity lies within 1e-5
// of the threshold: `graph::near` holds them, and `compare` checks labels on the reference's
// graph with those pairs resolved as the backend resolved them, so labels are always compared.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <queue>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace oracle {

using pair_t = std::pair<std::int64_t, std::int64_t>;

/// The contract's band around the threshold.
constexpr double kBand = 1e-5;

/// Dense row-major matrix in float64, as the test wrote it (before any rounding to float).
struct rows {
  std::int64_t n = 0, d = 0;
  std::vector<double> x;
  const double* row(std::int64_t i) const { return x.data() + i * d; }
};

enum class view { embedding, activity, both, fused };
enum class transform { none, log1p, tfidf };

inline view view_of(const std::string& s) {
  if (s == "embedding") return view::embedding;
  if (s == "activity") return view::activity;
  if (s == "fused") return view::fused;
  return view::both;  // "both" and "auto" with both views present
}
inline transform transform_of(const std::string& s) {
  if (s == "log1p") return transform::log1p;
  if (s == "tfidf") return transform::tfidf;
  return transform::none;
}

/// What the run asks for (the README's definitions of views, transforms and top-k).
struct params {
  view mode = view::both;
  double thr = 0.8, thr_act = 0.8, weight = 0.5;
  transform tr = transform::none;
  std::int64_t topk = 0;
  /// README "Views": an account whose activity counts sum to fewer posts than this is left out
  /// of the activity view (default 5, as --min-activity).
  double min_activity = 5;
};

/// A run's parameters from the names the command line uses.
inline params params_of(const std::string& view_name, double thr, double thr_act,
                        double weight = 0.5, const std::string& transform_name = "none",
                        std::int64_t topk = 0) {
  params p;
  p.mode = view_of(view_name);
  p.thr = thr;
  p.thr_act = thr_act;
  p.weight = weight;
  p.tr = transform_of(transform_name);
  p.topk = topk;
  return p;
}

/// Activity after the transform: log1p(x), or log1p(x) * (ln((1+N)/(1+df)) + 1) with df the
/// number of rows active in the bin.
inline rows transformed(const rows& a, transform tr) {
  rows out = a;
  if (tr == transform::none) return out;
  std::vector<double> idf(a.d, 1.0);
  if (tr == transform::tfidf)
    for (std::int64_t t = 0; t < a.d; ++t) {
      std::int64_t df = 0;
      for (std::int64_t i = 0; i < a.n; ++i) df += a.x[i * a.d + t] > 0 ? 1 : 0;
      idf[t] = std::log((1.0 + double(a.n)) / (1.0 + double(df))) + 1.0;
    }
  for (std::int64_t i = 0; i < a.n; ++i)
    for (std::int64_t t = 0; t < a.d; ++t)
      out.x[i * a.d + t] = std::log(1.0 + a.x[i * a.d + t]) * idf[t];
  return out;
}

/// Cosine of two rows in float64 (centred first for Pearson); NaN for a zero or constant row.
inline double similarity(const rows& m, std::int64_t i, std::int64_t j, bool centre) {
  const double *a = m.row(i), *b = m.row(j);
  auto constant = [&](const double* r) {
    for (std::int64_t k = 1; k < m.d; ++k)
      if (r[k] != r[0]) return false;
    return true;
  };
  if (centre && (constant(a) || constant(b))) return NAN;
  double ma = 0, mb = 0;
  if (centre) {
    for (std::int64_t k = 0; k < m.d; ++k) ma += a[k], mb += b[k];
    ma /= double(m.d), mb /= double(m.d);
  }
  double dot = 0, na = 0, nb = 0;
  for (std::int64_t k = 0; k < m.d; ++k) {
    const double u = a[k] - ma, v = b[k] - mb;
    dot += u * v, na += u * u, nb += v * v;
  }
  if (na == 0 || nb == 0) return NAN;
  return std::max(-1.0, std::min(1.0, dot / (std::sqrt(na) * std::sqrt(nb))));
}

/// The README's decision for one pair (inclusive thresholds).
inline bool decision(const params& p, double se, double sa) {
  if (p.mode == view::embedding) return se >= p.thr;
  if (p.mode == view::activity) return sa >= p.thr_act;
  if (p.mode == view::both) return se >= p.thr && sa >= p.thr_act;
  return p.weight * se + (1 - p.weight) * sa >= p.thr;
}

/// The strength --topk ranks by: the thresholded similarity (the smaller one for `both`).
inline double strength_of(const params& p, double se, double sa) {
  switch (p.mode) {
    case view::embedding:
      return se;
    case view::activity:
      return sa;
    case view::both:
      return std::min(se, sa);
    default:
      return p.weight * se + (1 - p.weight) * sa;
  }
}

/// The reference graph: edges (after top-k), pairs inside the band, and float64 similarities.
struct graph {
  std::int64_t n = 0;
  std::set<pair_t> edges;        ///< the float64 decision (after top-k when asked)
  std::set<pair_t> near;         ///< pairs within kBand of the threshold: either way is correct
  std::set<pair_t> before_topk;  ///< the float64 decision before top-k
  std::map<pair_t, std::pair<double, double>> sims;  ///< (se, sa) of every decided-true pair
  std::int64_t invalid_embedding = 0, invalid_activity = 0;
};

/// Top-k: each account keeps its k strongest edges (ties by the other end's row); an edge stays
/// when either end keeps it.
inline std::set<pair_t> topk_of(std::int64_t n, const std::set<pair_t>& es,
                                const std::map<pair_t, double>& strength, std::int64_t k) {
  std::vector<std::vector<std::pair<double, std::int64_t>>> inc(n);
  for (const auto& e : es) {
    const double s = strength.at(e);
    inc[e.first].push_back({-s, e.second});
    inc[e.second].push_back({-s, e.first});
  }
  std::set<pair_t> keep;
  for (std::int64_t i = 0; i < n; ++i) {
    std::sort(inc[i].begin(), inc[i].end());
    for (std::size_t t = 0; t < inc[i].size() && t < std::size_t(k); ++t) {
      const std::int64_t j = inc[i][t].second;
      keep.insert({std::min(i, j), std::max(i, j)});
    }
  }
  return keep;
}

/// The transformed activity with every row whose raw counts sum to less than `k` made constant
/// (zero variance: it can get no edge), as --min-activity leaves such accounts out.
inline rows without_sparse(const rows& raw, rows act, double k) {
  for (std::int64_t i = 0; i < raw.n; ++i) {
    double posts = 0;
    for (std::int64_t t = 0; t < raw.d; ++t) posts += raw.x[i * raw.d + t];
    if (posts < k)
      for (std::int64_t t = 0; t < raw.d; ++t) act.x[i * raw.d + t] = 0;
  }
  return act;
}

/// Decide every pair i < j of the views present (either may be null when the mode ignores it).
inline graph decide_all(const params& p, const rows* emb, const rows* act_raw) {
  graph g;
  g.n = emb ? emb->n : act_raw->n;
  const bool ue = p.mode != view::activity, ua = p.mode != view::embedding;
  rows act;
  if (ua) act = without_sparse(*act_raw, transformed(*act_raw, p.tr), p.min_activity);
  for (std::int64_t i = 0; i < g.n; ++i) {
    if (ue && std::isnan(similarity(*emb, i, i, false))) ++g.invalid_embedding;
    if (ua && std::isnan(similarity(act, i, i, true))) ++g.invalid_activity;
  }
  std::map<pair_t, double> strength;
  for (std::int64_t i = 0; i < g.n; ++i)
    for (std::int64_t j = i + 1; j < g.n; ++j) {
      const double se = ue ? similarity(*emb, i, j, false) : 0.0;
      const double sa = ua ? similarity(act, i, j, true) : 0.0;
      if (std::isnan(se) || std::isnan(sa)) continue;  // invalid rows never get an edge
      // a pair is near when moving both similarities by the band can change its decision
      if (decision(p, se - kBand, sa - kBand) != decision(p, se + kBand, sa + kBand))
        g.near.insert({i, j});
      if (decision(p, se, sa)) {
        g.before_topk.insert({i, j});
        g.sims[{i, j}] = {se, sa};
        strength[{i, j}] = strength_of(p, se, sa);
      }
    }
  g.edges = p.topk > 0 ? topk_of(g.n, g.before_topk, strength, p.topk) : g.before_topk;
  return g;
}

/// Component of every row by breadth-first search, named by its smallest row.
inline std::vector<std::int64_t> components(std::int64_t n, const std::set<pair_t>& es) {
  std::vector<std::vector<std::int64_t>> adj(n);
  for (const auto& e : es) adj[e.first].push_back(e.second), adj[e.second].push_back(e.first);
  std::vector<std::int64_t> comp(n, -1);
  for (std::int64_t s = 0; s < n; ++s) {
    if (comp[s] >= 0) continue;
    comp[s] = s;
    std::queue<std::int64_t> q;
    q.push(s);
    while (!q.empty()) {
      const std::int64_t x = q.front();
      q.pop();
      for (std::int64_t y : adj[x])
        if (comp[y] < 0) comp[y] = s, q.push(y);
    }
  }
  return comp;
}

/// Canonical labels (README): -1 for an account with no edge; clusters numbered 0, 1, ... by
/// size descending, ties by smallest member.
inline std::vector<std::int64_t> canonical_labels(std::int64_t n, const std::set<pair_t>& es) {
  const std::vector<std::int64_t> comp = components(n, es);
  std::map<std::int64_t, std::int64_t> size;
  for (std::int64_t i = 0; i < n; ++i) ++size[comp[i]];
  std::vector<std::pair<std::int64_t, std::int64_t>> order;  // (-size, smallest member)
  for (const auto& [root, s] : size)
    if (s > 1) order.push_back({-s, root});
  std::sort(order.begin(), order.end());
  std::map<std::int64_t, std::int64_t> label;
  for (std::size_t c = 0; c < order.size(); ++c) label[order[c].second] = std::int64_t(c);
  std::vector<std::int64_t> out(n, -1);
  for (std::int64_t i = 0; i < n; ++i)
    if (size[comp[i]] > 1) out[i] = label[comp[i]];
  return out;
}

/// Differences between a backend's results and the reference, beyond what the contract allows;
/// empty when they agree. Labels are always compared: on the reference's graph with the pairs
/// inside the band resolved as the backend resolved them.
inline std::vector<std::string> compare(const graph& ref, const std::vector<std::int64_t>& src,
                                        const std::vector<std::int64_t>& dst,
                                        const std::vector<std::int64_t>& labels) {
  std::vector<std::string> problems;
  auto say = [&](const std::string& what, const pair_t& e) {
    if (problems.size() < 20)
      problems.push_back(what + " " + std::to_string(e.first) + "-" + std::to_string(e.second));
  };
  std::set<pair_t> got;
  for (std::size_t k = 0; k < src.size(); ++k) {
    if (!(src[k] < dst[k])) say("edge not in (src < dst) form", {src[k], dst[k]});
    if (k && !(pair_t{src[k - 1], dst[k - 1]} < pair_t{src[k], dst[k]}))
      say("edges not sorted and unique at", {src[k], dst[k]});
    got.insert({src[k], dst[k]});
  }
  std::set<pair_t> resolved;
  for (const auto& e : ref.edges)
    if (!got.count(e) && !ref.near.count(e))
      say("missed edge", e);
    else if (!ref.near.count(e))
      resolved.insert(e);
  for (const auto& e : got) {
    if (ref.near.count(e))
      resolved.insert(e);
    else if (!ref.edges.count(e))
      say("extra edge", e);
  }
  if (std::int64_t(labels.size()) != ref.n) {
    problems.push_back("labels have " + std::to_string(labels.size()) + " entries, expected " +
                       std::to_string(ref.n));
  } else {
    const std::vector<std::int64_t> want = canonical_labels(ref.n, resolved);
    for (std::int64_t i = 0; i < ref.n; ++i)
      if (labels[i] != want[i]) {
        std::ostringstream o;
        o << "label of row " << i << " is " << labels[i] << ", reference " << want[i];
        problems.push_back(o.str());
        break;
      }
  }
  return problems;
}

/// The reference restricted to the pairs that touch `sample` rows (for inputs too large to
/// decide every pair in a test): edges and near pairs among them. No top-k.
inline graph decide_sampled(const params& p, const rows* emb, const rows* act_raw,
                            const std::vector<std::int64_t>& sample) {
  graph g;
  g.n = emb ? emb->n : act_raw->n;
  const bool ue = p.mode != view::activity, ua = p.mode != view::embedding;
  rows act;
  if (ua) act = without_sparse(*act_raw, transformed(*act_raw, p.tr), p.min_activity);
  for (std::int64_t i : sample)
    for (std::int64_t j = 0; j < g.n; ++j) {
      if (j == i) continue;
      const pair_t e{std::min(i, j), std::max(i, j)};
      const double se = ue ? similarity(*emb, e.first, e.second, false) : 0.0;
      const double sa = ua ? similarity(act, e.first, e.second, true) : 0.0;
      if (std::isnan(se) || std::isnan(sa)) continue;
      if (decision(p, se - kBand, sa - kBand) != decision(p, se + kBand, sa + kBand))
        g.near.insert(e);
      if (decision(p, se, sa)) g.edges.insert(e);
    }
  g.before_topk = g.edges;
  return g;
}

/// compare() for a sampled reference: the backend's edges that touch a sampled row must be the
/// reference's (up to the band), and its labels must be the canonical labels of its own edges.
inline std::vector<std::string> compare_sampled(const graph& ref,
                                                const std::vector<std::int64_t>& sample,
                                                const std::vector<std::int64_t>& src,
                                                const std::vector<std::int64_t>& dst,
                                                const std::vector<std::int64_t>& labels) {
  std::vector<std::string> problems;
  const std::set<std::int64_t> in(sample.begin(), sample.end());
  std::set<pair_t> got, all;
  for (std::size_t k = 0; k < src.size(); ++k) {
    all.insert({src[k], dst[k]});
    if (in.count(src[k]) || in.count(dst[k])) got.insert({src[k], dst[k]});
  }
  for (const auto& e : ref.edges)
    if (!got.count(e) && !ref.near.count(e) && problems.size() < 20)
      problems.push_back("missed edge " + std::to_string(e.first) + "-" + std::to_string(e.second));
  for (const auto& e : got)
    if (!ref.edges.count(e) && !ref.near.count(e) && problems.size() < 20)
      problems.push_back("extra edge " + std::to_string(e.first) + "-" + std::to_string(e.second));
  if (all.size() != src.size()) problems.push_back("duplicate edges");
  if (labels != canonical_labels(std::int64_t(labels.size()), all))
    problems.push_back("labels are not the canonical labels of the edges");
  return problems;
}

inline std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += x + "\n";
  return s;
}

}  // namespace oracle
