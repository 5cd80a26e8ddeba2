// chorus: components, labels, top-k and cluster statistics.
#include "chorus/graph/components.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <unordered_map>

#include "chorus/core/error.hpp"
#include "chorus/graph/union_find.hpp"

namespace chorus {

std::vector<std::int64_t> component_roots(std::int64_t n, const std::vector<edge>& edges,
                                          int threads) {
  std::vector<std::int64_t> parent(n);
  std::iota(parent.begin(), parent.end(), 0);
  const int nt = threads > 0 ? threads : omp_get_max_threads();
  const std::int64_t m = static_cast<std::int64_t>(edges.size());
  std::int64_t* p = parent.data();
#pragma omp parallel for num_threads(nt) schedule(static)
  for (std::int64_t e = 0; e < m; ++e) uf::unite(p, edges[e].src, edges[e].dst);
    // flatten: every row points at its root (the smallest row of its component)
#pragma omp parallel for num_threads(nt) schedule(static)
  for (std::int64_t i = 0; i < n; ++i) p[i] = uf::find(p, i);
  return parent;
}

edge_visitor visit_vector(const std::vector<edge>& edges) {
  return [&edges](const std::function<void(const edge*, std::size_t)>& fn) {
    if (!edges.empty()) fn(edges.data(), edges.size());
  };
}

std::vector<std::int64_t> component_roots(std::int64_t n, const edge_visitor& edges, int threads) {
  std::vector<std::int64_t> parent(n);
  std::iota(parent.begin(), parent.end(), 0);
  const int nt = threads > 0 ? threads : omp_get_max_threads();
  std::int64_t* p = parent.data();
  edges([&](const edge* e, std::size_t m) {
#pragma omp parallel for num_threads(nt) schedule(static)
    for (std::int64_t k = 0; k < static_cast<std::int64_t>(m); ++k)
      uf::unite(p, e[k].src, e[k].dst);
  });
#pragma omp parallel for num_threads(nt) schedule(static)
  for (std::int64_t i = 0; i < n; ++i) p[i] = uf::find(p, i);
  return parent;
}

std::vector<std::int64_t> canonical_labels(const std::vector<std::int64_t>& roots,
                                           std::int64_t& clusters) {
  const std::int64_t n = static_cast<std::int64_t>(roots.size());
  std::vector<std::int64_t> count(n, 0);
  for (std::int64_t i = 0; i < n; ++i) ++count[roots[i]];
  std::vector<std::int64_t> order;  // roots of non-singleton components
  for (std::int64_t i = 0; i < n; ++i)
    if (roots[i] == i && count[i] > 1) order.push_back(i);
  std::sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) {
    return count[a] != count[b] ? count[a] > count[b] : a < b;
  });
  std::vector<std::int64_t> id(n, -1);
  for (std::size_t c = 0; c < order.size(); ++c) id[order[c]] = static_cast<std::int64_t>(c);
  std::vector<std::int64_t> labels(n);
  for (std::int64_t i = 0; i < n; ++i) labels[i] = id[roots[i]];
  clusters = static_cast<std::int64_t>(order.size());
  return labels;
}

std::vector<edge> keep_topk(std::int64_t n, const std::vector<edge>& edges, std::int64_t k,
                            const decision_params& params) {
  CHORUS_EXPECTS(k >= 1, "--topk must be >= 1");
  const std::int64_t m = static_cast<std::int64_t>(edges.size());
  // incidence lists in CSR form
  std::vector<std::int64_t> deg(n + 1, 0);
  for (const auto& e : edges) {
    ++deg[e.src + 1];
    ++deg[e.dst + 1];
  }
  for (std::int64_t i = 0; i < n; ++i) deg[i + 1] += deg[i];
  std::vector<std::int64_t> inc(2 * m), fill(deg.begin(), deg.end() - 1);
  for (std::int64_t e = 0; e < m; ++e) {
    inc[fill[edges[e].src]++] = e;
    inc[fill[edges[e].dst]++] = e;
  }
  std::vector<std::uint8_t> keep(m, 0);
#pragma omp parallel for schedule(dynamic, 1024)
  for (std::int64_t i = 0; i < n; ++i) {
    auto* b = inc.data() + deg[i];
    auto* e = inc.data() + deg[i + 1];
    if (e - b <= k) {
      for (auto* it = b; it != e; ++it) __atomic_store_n(&keep[*it], 1, __ATOMIC_RELAXED);
      continue;
    }
    auto other = [&](std::int64_t x) { return edges[x].src == i ? edges[x].dst : edges[x].src; };
    auto stronger = [&](std::int64_t x, std::int64_t y) {
      const double sx = strength(params, edges[x].sim_embedding, edges[x].sim_activity);
      const double sy = strength(params, edges[y].sim_embedding, edges[y].sim_activity);
      return sx != sy ? sx > sy : other(x) < other(y);
    };
    std::partial_sort(b, b + k, e, stronger);
    for (auto* it = b; it != b + k; ++it) __atomic_store_n(&keep[*it], 1, __ATOMIC_RELAXED);
  }
  std::vector<edge> out;
  for (std::int64_t e = 0; e < m; ++e)
    if (keep[e]) out.push_back(edges[e]);
  return out;  // input order (src, dst) is preserved
}

cluster_table cluster_statistics(const std::vector<std::int64_t>& labels, std::int64_t clusters,
                                 const edge_visitor& visit, const view_matrix* activity) {
  cluster_table t;
  const std::int64_t n = static_cast<std::int64_t>(labels.size());
  const std::int64_t K = clusters;
  t.size.assign(K, 0);
  for (std::int64_t i = 0; i < n; ++i)
    if (labels[i] >= 0) ++t.size[labels[i]];
  t.offsets.assign(K + 1, 0);
  for (std::int64_t c = 0; c < K; ++c) t.offsets[c + 1] = t.offsets[c] + t.size[c];
  t.members.assign(t.offsets[K], 0);
  {
    std::vector<std::int64_t> fill(t.offsets.begin(), t.offsets.end() - 1);
    for (std::int64_t i = 0; i < n; ++i)
      if (labels[i] >= 0) t.members[fill[labels[i]]++] = i;
  }
  t.edges.assign(K, 0);
  const double nan = std::nan("");
  t.mean_sim_embedding.assign(K, 0);
  t.min_sim_embedding.assign(K, INFINITY);
  t.mean_sim_activity.assign(K, 0);
  t.min_sim_activity.assign(K, INFINITY);
  visit([&](const edge* es, std::size_t m) {
    for (std::size_t k = 0; k < m; ++k) {
      const edge& e = es[k];
      const std::int64_t c = labels[e.src];
      ++t.edges[c];
      t.mean_sim_embedding[c] += e.sim_embedding;
      t.min_sim_embedding[c] = std::min<double>(t.min_sim_embedding[c], e.sim_embedding);
      t.mean_sim_activity[c] += e.sim_activity;
      t.min_sim_activity[c] = std::min<double>(t.min_sim_activity[c], e.sim_activity);
    }
  });
  t.density.assign(K, 0);
  for (std::int64_t c = 0; c < K; ++c) {
    const double s = static_cast<double>(t.size[c]);
    t.density[c] = static_cast<double>(t.edges[c]) / (s * (s - 1) / 2);
    const double m = static_cast<double>(std::max<std::int64_t>(t.edges[c], 1));
    t.mean_sim_embedding[c] /= m;  // NaN stays NaN for an unused view
    t.mean_sim_activity[c] /= m;
    if (std::isinf(t.min_sim_embedding[c])) t.min_sim_embedding[c] = nan;
    if (std::isinf(t.min_sim_activity[c])) t.min_sim_activity[c] = nan;
  }
  t.synchrony.assign(K, nan);
  if (activity && activity->present()) {
    const std::int64_t T = activity->d;
#pragma omp parallel for schedule(dynamic, 1)
    for (std::int64_t c = 0; c < K; ++c) {
      std::vector<double> mean(T, 0.0);
      std::int64_t used = 0;
      for (std::int64_t p = t.offsets[c]; p < t.offsets[c + 1]; ++p) {
        const std::int64_t i = t.members[p];
        if (!activity->valid[i]) continue;
        ++used;
        const float* x = activity->row(i);
        for (std::int64_t b = 0; b < T; ++b) mean[b] += x[b] * activity->inv_norm[i];
      }
      double mn = 0;
      for (double v : mean) mn += v * v;
      if (used == 0 || mn <= 0) continue;
      mn = std::sqrt(mn);
      double acc = 0;
      for (std::int64_t p = t.offsets[c]; p < t.offsets[c + 1]; ++p) {
        const std::int64_t i = t.members[p];
        if (!activity->valid[i]) continue;
        const float* x = activity->row(i);
        double dot = 0;
        for (std::int64_t b = 0; b < T; ++b) dot += x[b] * mean[b];
        acc += dot * activity->inv_norm[i] / mn;
      }
      t.synchrony[c] = acc / static_cast<double>(used);
    }
  }
  return t;
}

truth_match match_truth(const std::vector<std::int64_t>& labels, std::int64_t clusters,
                        const std::vector<std::int64_t>& truth) {
  truth_match m;
  const std::int64_t n = static_cast<std::int64_t>(labels.size());
  CHORUS_ENSURES(static_cast<std::int64_t>(truth.size()) == n, "truth length");
  std::unordered_map<std::int64_t, std::int64_t> planted_size;
  for (std::int64_t i = 0; i < n; ++i)
    if (truth[i] >= 0) ++planted_size[truth[i]];
  m.planted_clusters = static_cast<std::int64_t>(planted_size.size());
  std::vector<std::unordered_map<std::int64_t, std::int64_t>> overlap(clusters);
  std::vector<std::int64_t> size(clusters, 0);
  std::int64_t recalled = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    if (truth[i] >= 0) ++m.planted_accounts;
    if (labels[i] < 0) continue;
    ++m.flagged_accounts;
    ++size[labels[i]];
    if (truth[i] >= 0) {
      ++m.flagged_planted;
      ++recalled;
      ++overlap[labels[i]][truth[i]];
    }
  }
  m.precision = m.flagged_accounts ? double(m.flagged_planted) / double(m.flagged_accounts) : 0.0;
  m.recall = m.planted_accounts ? double(recalled) / double(m.planted_accounts) : 0.0;
  m.best.assign(clusters, -1);
  m.cluster_precision.assign(clusters, 0.0);
  m.cluster_recall.assign(clusters, 0.0);
  std::unordered_map<std::int64_t, bool> recovered;
  for (std::int64_t c = 0; c < clusters; ++c) {
    std::int64_t best = -1, best_ov = 0;
    for (const auto& [p, ov] : overlap[c])
      if (ov > best_ov || (ov == best_ov && p < best)) best = p, best_ov = ov;
    m.best[c] = best;
    if (best < 0) continue;
    m.cluster_precision[c] = double(best_ov) / double(size[c]);
    m.cluster_recall[c] = double(best_ov) / double(planted_size[best]);
    if (m.cluster_precision[c] >= 0.9 && m.cluster_recall[c] >= 0.5) recovered[best] = true;
  }
  m.planted_recovered = static_cast<std::int64_t>(recovered.size());
  return m;
}

}  // namespace chorus
