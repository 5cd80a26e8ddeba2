// chorus co-action: directed weights by a windowed sweep of each account's objects, the
// undirected edges, and their evidence. Work is parallel over accounts (each thread owns the
// accounts it takes), so a pair's counts are never materialised: an account's counts live in
// the thread's dense scratch until its row of directed weights is read off.
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "chorus/coaction/coaction.hpp"
#include "chorus/core/error.hpp"

namespace chorus::coaction {

namespace {

using u32 = std::uint32_t;
using i64 = std::int64_t;

using directed = directed_weight;

/// Per-thread scratch, dense over accounts: u's matched posts per v, and the last post of u
/// that counted v (so a post counts each v once however many of v's posts it matches).
struct scratch {
  std::vector<i64> count, stamp;
  std::vector<u32> touched;
  explicit scratch(i64 n)
      : count(static_cast<std::size_t>(n), 0), stamp(static_cast<std::size_t>(n), -1) {}
  void reset() {
    for (const u32 v : touched) count[v] = 0;
    touched.clear();
  }
};

int thread_count(int threads) { return threads > 0 ? threads : omp_get_max_threads(); }

/// Calls fn(j) for every occurrence j of the same object as occurrence i within `window`
/// seconds of it (inclusive), i itself excluded.
template <typename Fn>
void for_window(const object_index& x, i64 i, i64 window, Fn&& fn) {
  const std::size_t o = x.object[static_cast<std::size_t>(i)];
  const i64 lo = x.object_begin[o], hi = x.object_begin[o + 1];
  const i64 t = x.time[static_cast<std::size_t>(i)];
  for (i64 j = i - 1; j >= lo && x.time[static_cast<std::size_t>(j)] >= t - window; --j) fn(j);
  for (i64 j = i + 1; j < hi && x.time[static_cast<std::size_t>(j)] <= t + window; ++j) fn(j);
}

/// co_similar: posts p and q match only when their token sets are alike enough.
bool alike(const object_index& x, i64 p, i64 q) {
  if (!x.similar) return true;
  const auto sp = static_cast<std::size_t>(p), sq = static_cast<std::size_t>(q);
  const std::uint64_t* t = x.tokens.data();
  return jaccard(t + x.token_begin[sp],
                 static_cast<std::size_t>(x.token_begin[sp + 1] - x.token_begin[sp]),
                 t + x.token_begin[sq],
                 static_cast<std::size_t>(x.token_begin[sq + 1] - x.token_begin[sq])) >=
         x.similarity;
}

/// w(u->v) for every v, into s.count (v listed in s.touched).
void count_account(const object_index& x, u32 u, i64 window, scratch& s) {
  for (i64 k = x.account_begin[u]; k < x.account_begin[u + 1]; ++k) {
    const i64 i = x.by_account[static_cast<std::size_t>(k)];
    const i64 post = x.post[static_cast<std::size_t>(i)];
    for_window(x, i, window, [&](i64 j) {
      const u32 v = x.account[static_cast<std::size_t>(j)];
      if (v == u || s.stamp[v] == post) return;
      if (!alike(x, post, x.post[static_cast<std::size_t>(j)])) return;
      s.stamp[v] = post;
      if (s.count[v]++ == 0) s.touched.push_back(v);
    });
  }
}

}  // namespace

std::int64_t split_accounts(const object_index& x, int parts, int k) {
  if (k <= 0) return 0;
  if (k >= parts) return x.accounts;
  const i64 total = x.account_begin.back();
  const i64 goal = static_cast<i64>(static_cast<double>(total) * k / parts);
  return static_cast<i64>(std::lower_bound(x.account_begin.begin(), x.account_begin.end(), goal) -
                          x.account_begin.begin());
}

std::vector<directed_weight> directed_pass(const object_index& x, const sweep_options& opt,
                                           std::int64_t begin, std::int64_t end) {
  const int nt = thread_count(opt.threads);
  std::vector<std::vector<directed>> part(static_cast<std::size_t>(nt));
  const i64 n = x.accounts;
  begin = std::max<i64>(begin, 0), end = std::min<i64>(end < 0 ? n : end, n);
#pragma omp parallel num_threads(nt)
  {
    scratch s(n);
    auto& out = part[static_cast<std::size_t>(omp_get_thread_num())];
#pragma omp for schedule(dynamic, 64)
    for (i64 u = begin; u < end; ++u) {
      if (x.account_begin[static_cast<std::size_t>(u)] ==
          x.account_begin[static_cast<std::size_t>(u) + 1])
        continue;
      count_account(x, static_cast<u32>(u), opt.window, s);
      for (const u32 v : s.touched)
        if (s.count[v] >= opt.min_weight) out.push_back({static_cast<u32>(u), v, s.count[v]});
      s.reset();
    }
  }
  std::size_t total = 0;
  for (const auto& p : part) total += p.size();
  std::vector<directed> all;
  all.reserve(total);
  for (auto& p : part) {
    all.insert(all.end(), p.begin(), p.end());
    std::vector<directed>().swap(p);
  }
  return all;
}

namespace {

/// Pass 2: the weights w(from->to) of the pairs in `need` (any order), in that order; pass 1
/// left them out because they are below min_weight (or they were never asked for).
std::vector<i64> weights_of(const object_index& x, const std::vector<std::pair<u32, u32>>& need,
                            i64 window, int threads) {
  std::vector<std::size_t> order(need.size());  // by source: one count per source
  for (std::size_t k = 0; k < order.size(); ++k) order[k] = k;
  std::sort(order.begin(), order.end(),
            [&](std::size_t p, std::size_t q) { return need[p] < need[q]; });
  std::vector<std::size_t> starts;  // first entry of each source
  for (std::size_t k = 0; k < order.size(); ++k)
    if (k == 0 || need[order[k]].first != need[order[k - 1]].first) starts.push_back(k);
  starts.push_back(order.size());
  std::vector<i64> w(need.size(), 0);
  const i64 groups = static_cast<i64>(starts.size()) - 1;
#pragma omp parallel num_threads(thread_count(threads))
  {
    scratch s(x.accounts);
#pragma omp for schedule(dynamic, 16)
    for (i64 g = 0; g < groups; ++g) {
      const std::size_t b = starts[static_cast<std::size_t>(g)],
                        e = starts[static_cast<std::size_t>(g) + 1];
      count_account(x, need[order[b]].first, window, s);
      for (std::size_t k = b; k < e; ++k) w[order[k]] = s.count[need[order[k]].second];
      s.reset();
    }
  }
  return w;
}

}  // namespace

double jaccard(const std::uint64_t* a, std::size_t na, const std::uint64_t* b, std::size_t nb) {
  std::size_t i = 0, j = 0, both = 0;
  while (i < na && j < nb) {
    if (a[i] == b[j])
      ++both, ++i, ++j;
    else if (a[i] < b[j])
      ++i;
    else
      ++j;
  }
  const std::size_t either = na + nb - both;
  return either == 0 ? 0.0 : static_cast<double>(both) / static_cast<double>(either);
}

coaction_edges sweep(const object_index& x, const sweep_options& opt) {
  CHORUS_EXPECTS(opt.window >= 0, "--window must be >= 0 seconds, got ", opt.window);
  CHORUS_EXPECTS(opt.min_weight >= 1, "--min-weight must be >= 1, got ", opt.min_weight);
  return edges_from(x, directed_pass(x, opt, 0, x.accounts), opt);
}

coaction_edges edges_from(const object_index& x, std::vector<directed_weight> rows,
                          const sweep_options& opt) {
  coaction_edges out;
  out.directed_rows = static_cast<i64>(rows.size());
  // undirected: both directions of a pair side by side
  auto lo = [](const directed& d) { return std::min(d.src, d.dst); };
  auto hi = [](const directed& d) { return std::max(d.src, d.dst); };
  std::sort(rows.begin(), rows.end(), [&](const directed& a, const directed& b) {
    return lo(a) != lo(b) ? lo(a) < lo(b) : hi(a) != hi(b) ? hi(a) < hi(b) : a.src < b.src;
  });
  std::vector<std::pair<u32, u32>> need;  // (from, to) whose weight pass 1 did not keep
  std::vector<std::size_t> need_edge;
  for (std::size_t k = 0; k < rows.size();) {
    const bool both =
        k + 1 < rows.size() && lo(rows[k + 1]) == lo(rows[k]) && hi(rows[k + 1]) == hi(rows[k]);
    const u32 a = lo(rows[k]), b = hi(rows[k]);
    out.src.push_back(a);
    out.dst.push_back(b);
    if (both) {  // rows[k] is a->b (src order), rows[k + 1] is b->a
      out.weight_src_dst.push_back(rows[k].weight);
      out.weight_dst_src.push_back(rows[k + 1].weight);
      k += 2;
      continue;
    }
    const bool forward = rows[k].src == a;
    out.weight_src_dst.push_back(forward ? rows[k].weight : 0);
    out.weight_dst_src.push_back(forward ? 0 : rows[k].weight);
    need.push_back(forward ? std::make_pair(b, a) : std::make_pair(a, b));
    need_edge.push_back(out.src.size() - 1);
    ++k;
  }
  std::vector<directed>().swap(rows);
  if (opt.max_edges > 0 && static_cast<i64>(out.src.size()) > opt.max_edges)
    CHORUS_THROW(limit_error, "the co-action view has ", out.src.size(),
                 " edges, more than --max-edges ", opt.max_edges,
                 "; raise --min-weight, shorten --window or raise --max-edges");
  const std::vector<i64> w = weights_of(x, need, opt.window, opt.threads);
  for (std::size_t k = 0; k < need.size(); ++k) {
    const std::size_t e = need_edge[k];
    (need[k].first == out.src[e] ? out.weight_src_dst : out.weight_dst_src)[e] = w[k];
  }
  return out;
}

std::vector<std::pair<i64, i64>> pair_weights(const object_index& x,
                                              const std::vector<std::pair<i64, i64>>& pairs,
                                              i64 window, int threads) {
  std::vector<std::pair<u32, u32>> need;  // both directions of every pair
  need.reserve(2 * pairs.size());
  for (const auto& [a, b] : pairs) {
    CHORUS_EXPECTS(a >= 0 && b >= 0 && a < x.accounts && b < x.accounts && a != b,
                   "pair_weights: bad pair (", a, ", ", b, ")");
    need.emplace_back(static_cast<u32>(a), static_cast<u32>(b));
    need.emplace_back(static_cast<u32>(b), static_cast<u32>(a));
  }
  const std::vector<i64> w = weights_of(x, need, window, threads);
  std::vector<std::pair<i64, i64>> out(pairs.size());
  for (std::size_t k = 0; k < need.size(); ++k)
    (k % 2 == 0 ? out[k / 2].first : out[k / 2].second) = w[k];
  return out;
}

coaction_evidence collect_evidence(const object_index& x, const coaction_edges& edges,
                                   const sweep_options& opt) {
  coaction_evidence ev;
  const std::size_t m = edges.src.size();
  ev.pairs.assign(m, 0);
  ev.edge_offsets.assign(m + 1, 0);
  if (opt.evidence_cap <= 0 || m == 0) return ev;
  std::vector<std::size_t> starts;  // edges are sorted by src: one group per src
  for (std::size_t e = 0; e < m; ++e)
    if (e == 0 || edges.src[e] != edges.src[e - 1]) starts.push_back(e);
  starts.push_back(m);
  struct row {
    i64 object, post_src, time_src, post_dst, time_dst;
  };
  auto row_order = [](const row& p, const row& q) {
    if (p.time_src != q.time_src) return p.time_src < q.time_src;
    if (p.time_dst != q.time_dst) return p.time_dst < q.time_dst;
    if (p.post_src != q.post_src) return p.post_src < q.post_src;
    if (p.post_dst != q.post_dst) return p.post_dst < q.post_dst;
    return p.object < q.object;
  };
  std::vector<std::vector<row>> kept(m);
  const i64 groups = static_cast<i64>(starts.size()) - 1;
#pragma omp parallel num_threads(thread_count(opt.threads))
  {
    std::vector<i64> edge_of(static_cast<std::size_t>(x.accounts), -1);
#pragma omp for schedule(dynamic, 16)
    for (i64 g = 0; g < groups; ++g) {
      const std::size_t b = starts[static_cast<std::size_t>(g)],
                        e = starts[static_cast<std::size_t>(g) + 1];
      for (std::size_t k = b; k < e; ++k)
        edge_of[static_cast<std::size_t>(edges.dst[k])] = static_cast<i64>(k);
      const std::size_t a = static_cast<std::size_t>(edges.src[b]);
      for (i64 k = x.account_begin[a]; k < x.account_begin[a + 1]; ++k) {
        const i64 i = x.by_account[static_cast<std::size_t>(k)];
        const std::size_t si = static_cast<std::size_t>(i);
        for_window(x, i, opt.window, [&](i64 j) {
          const std::size_t sj = static_cast<std::size_t>(j);
          const i64 edge = edge_of[x.account[sj]];
          if (edge < 0 || !alike(x, x.post[si], x.post[sj])) return;
          ++ev.pairs[static_cast<std::size_t>(edge)];
          auto& r = kept[static_cast<std::size_t>(edge)];
          r.push_back({x.object[si], x.post[si], x.time[si], x.post[sj], x.time[sj]});
          // co_similar finds a pair once per shared prefix token: all kept, made unique below
          if (!x.similar && static_cast<i64>(r.size()) > 4 * opt.evidence_cap) {
            std::sort(r.begin(), r.end(), row_order);
            r.resize(static_cast<std::size_t>(opt.evidence_cap));
          }
        });
      }
      for (std::size_t k = b; k < e; ++k) edge_of[static_cast<std::size_t>(edges.dst[k])] = -1;
    }
  }
  for (std::size_t e = 0; e < m; ++e) {
    auto& r = kept[e];
    std::sort(r.begin(), r.end(), row_order);
    if (x.similar) {  // one row per pair of posts (the first of its shared prefix tokens)
      r.erase(std::unique(r.begin(), r.end(),
                          [](const row& p, const row& q) {
                            return p.post_src == q.post_src && p.post_dst == q.post_dst;
                          }),
              r.end());
      ev.pairs[e] = static_cast<i64>(r.size());
    }
    if (static_cast<i64>(r.size()) > opt.evidence_cap)
      r.resize(static_cast<std::size_t>(opt.evidence_cap));
    for (const row& w : r) {
      ev.object.push_back(w.object);
      ev.post_src.push_back(w.post_src);
      ev.time_src.push_back(w.time_src);
      ev.post_dst.push_back(w.post_dst);
      ev.time_dst.push_back(w.time_dst);
    }
    ev.edge_offsets[e + 1] = static_cast<i64>(ev.object.size());
    std::vector<row>().swap(r);
  }
  return ev;
}

}  // namespace chorus::coaction
