// chorus significance: the co-action null model. Each member's post times move by a random whole
// number of days (circularly within the posts' span): its posts, their objects, its volume and
// its rhythm within the day stay; acting together within seconds, day after day, does not. The
// statistic is the share of the possible weight (the toolkits' "maximum possible edge weight":
// u's posts that take part, n_u): the mean over member pairs of max(w(u->v)/n_u, w(v->u)/n_v).
#include <algorithm>
#include <numeric>
#include <vector>

#include "chorus/coaction/coaction.hpp"
#include "chorus/core/error.hpp"
#include "chorus/significance/significance.hpp"
#include "resample.hpp"

namespace chorus::significance {

namespace {

constexpr std::int64_t day = 86400;

/// The members' occurrences as a small index of their own (accounts and posts renumbered), whose
/// times a resample overwrites.
struct cluster_posts {
  std::vector<std::uint32_t> object, account;  // per occurrence: local object and account
  std::vector<std::int64_t> time, post;        // original time, local post
  std::vector<double> volume;                  // per member: posts that take part
  coaction::object_index index;                // rebuilt by each resample
};

cluster_posts gather(const coaction::object_index& x, const std::vector<std::int64_t>& mem) {
  cluster_posts cp;
  std::vector<std::int64_t> posts;  // global post rows, in local order
  std::vector<std::uint32_t> objects;
  for (std::size_t a = 0; a < mem.size(); ++a) {
    std::int64_t last = -1, distinct = 0;
    for (std::int64_t k = x.account_begin[mem[a]]; k < x.account_begin[mem[a] + 1]; ++k) {
      const auto i = static_cast<std::size_t>(x.by_account[static_cast<std::size_t>(k)]);
      if (x.post[i] != last) ++distinct, posts.push_back(x.post[i]);
      last = x.post[i];
      cp.object.push_back(x.object[i]);
      cp.account.push_back(static_cast<std::uint32_t>(a));
      cp.time.push_back(x.time[i]);
      cp.post.push_back(static_cast<std::int64_t>(posts.size()) - 1);
    }
    cp.volume.push_back(static_cast<double>(distinct));
  }
  objects = cp.object;
  std::sort(objects.begin(), objects.end());
  objects.erase(std::unique(objects.begin(), objects.end()), objects.end());
  for (auto& o : cp.object)
    o = static_cast<std::uint32_t>(std::lower_bound(objects.begin(), objects.end(), o) -
                                   objects.begin());
  coaction::object_index& s = cp.index;
  s.accounts = static_cast<std::int64_t>(mem.size());
  s.object_begin.assign(objects.size() + 1, 0);
  s.similar = x.similar;
  s.similarity = x.similarity;
  if (x.similar) {  // the members' posts' token sets, by local post
    s.token_begin.push_back(0);
    for (const std::int64_t p : posts) {
      s.tokens.insert(s.tokens.end(), x.tokens.begin() + x.token_begin[p],
                      x.tokens.begin() + x.token_begin[p + 1]);
      s.token_begin.push_back(static_cast<std::int64_t>(s.tokens.size()));
    }
  }
  return cp;
}

/// Rebuild cp.index with every member's times moved by shift[a] days (mod the span).
void place(cluster_posts& cp, const std::vector<std::int64_t>& shift, std::int64_t t0,
           std::int64_t span) {
  coaction::object_index& s = cp.index;
  const std::size_t occ = cp.time.size();
  std::vector<std::int64_t> t(occ);
  for (std::size_t i = 0; i < occ; ++i)
    t[i] = t0 + (cp.time[i] - t0 + shift[cp.account[i]] * day) % span;
  std::vector<std::int64_t> order(occ);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) {
    const auto sa = static_cast<std::size_t>(a), sb = static_cast<std::size_t>(b);
    if (cp.object[sa] != cp.object[sb]) return cp.object[sa] < cp.object[sb];
    if (t[sa] != t[sb]) return t[sa] < t[sb];
    return cp.post[sa] < cp.post[sb];
  });
  s.time.resize(occ), s.post.resize(occ), s.account.resize(occ), s.object.resize(occ);
  std::fill(s.object_begin.begin(), s.object_begin.end(), 0);
  for (std::size_t k = 0; k < occ; ++k) {
    const auto i = static_cast<std::size_t>(order[k]);
    s.time[k] = t[i], s.post[k] = cp.post[i], s.account[k] = cp.account[i];
    s.object[k] = cp.object[i];
    ++s.object_begin[cp.object[i] + 1];
  }
  std::partial_sum(s.object_begin.begin(), s.object_begin.end(), s.object_begin.begin());
  s.by_account.resize(occ);  // grouped by account, then by post
  std::iota(s.by_account.begin(), s.by_account.end(), 0);
  std::sort(s.by_account.begin(), s.by_account.end(), [&](std::int64_t a, std::int64_t b) {
    const auto sa = static_cast<std::size_t>(a), sb = static_cast<std::size_t>(b);
    return s.account[sa] != s.account[sb] ? s.account[sa] < s.account[sb] : s.post[sa] < s.post[sb];
  });
  s.account_begin.assign(static_cast<std::size_t>(s.accounts) + 1, 0);
  for (std::size_t k = 0; k < occ; ++k) ++s.account_begin[s.account[k] + 1];
  std::partial_sum(s.account_begin.begin(), s.account_begin.end(), s.account_begin.begin());
}

/// Mean over member pairs of max(w(u->v)/n_u, w(v->u)/n_v) for the placed index.
double share_of_possible(const cluster_posts& cp, std::int64_t window) {
  coaction::sweep_options so;
  so.window = window;
  so.min_weight = 1;
  so.threads = 1;
  struct pair_share {
    std::uint32_t a, b;  // a < b
    double share;        // w(src->dst) / n_src of one direction
  };
  std::vector<pair_share> w;
  for (const auto& d : coaction::directed_pass(cp.index, so, 0, -1))
    w.push_back({std::min(d.src, d.dst), std::max(d.src, d.dst),
                 static_cast<double>(d.weight) / cp.volume[d.src]});
  std::sort(w.begin(), w.end(), [](const pair_share& x, const pair_share& y) {
    return x.a != y.a ? x.a < y.a : x.b != y.b ? x.b < y.b : x.share > y.share;
  });
  double sum = 0;  // the larger direction of each pair comes first
  for (std::size_t k = 0; k < w.size(); ++k)
    if (k == 0 || w[k].a != w[k - 1].a || w[k].b != w[k - 1].b) sum += w[k].share;
  const double m = static_cast<double>(cp.index.accounts);
  return sum / (m * (m - 1) / 2);
}

}  // namespace

model_result coaction_null(const coaction::object_index& index, std::int64_t window,
                           const cluster_table& t, const std::vector<std::int64_t>& ids,
                           const options& opt) {
  const auto clusters = static_cast<std::int64_t>(t.size.size());
  model_result r = detail::empty_result(
      "coaction",
      "mean over member pairs of the share of the possible weight, max(w(u->v)/n_u, w(v->u)/n_v)",
      clusters, opt.resamples, opt.keep_samples);
  if (clusters == 0 || opt.resamples <= 0 || index.time.empty()) return r;
  const auto [lo, hi] = std::minmax_element(index.time.begin(), index.time.end());
  const std::int64_t t0 = *lo, days = (*hi - *lo) / day + 1;
  CHORUS_EXPECTS(days >= 2,
                 "--significance: the posts of this view span less than two days, so "
                 "whole-day shifts cannot break their synchrony");
#pragma omp parallel for schedule(dynamic, 1) num_threads(detail::thread_count(opt.threads))
  for (std::int64_t c = 0; c < clusters; ++c) {
    const std::int64_t* first = t.members.data() + t.offsets[static_cast<std::size_t>(c)];
    const std::vector<std::int64_t> mem(first, first + t.size[static_cast<std::size_t>(c)]);
    const std::uint64_t key = cluster_key(t, c, ids);
    cluster_posts cp = gather(index, mem);
    std::vector<std::int64_t> shift(mem.size(), 0);
    place(cp, shift, t0, days * day);
    const double observed = share_of_possible(cp, window);
    std::vector<float> out(static_cast<std::size_t>(opt.resamples));
    for (std::int64_t s = 0; s < opt.resamples; ++s) {
      detail::stream g(opt.seed ^ 0x434f4143ULL, key, static_cast<std::uint64_t>(s));  // "COAC"
      for (auto& d : shift)
        d = static_cast<std::int64_t>(g.below(static_cast<std::uint64_t>(days)));
      place(cp, shift, t0, days * day);
      out[s] = static_cast<float>(share_of_possible(cp, window));
    }
    detail::summarise_cluster(r, c, observed, out.data(), opt.resamples);
  }
  return r;
}

}  // namespace chorus::significance
