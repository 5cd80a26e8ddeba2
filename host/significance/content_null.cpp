// chorus significance: the content null model. Each member is replaced by a random other account
// of its topic neighbourhood, so the resample keeps every member's topic and loses what only
// copies share. Neighbourhoods come from one order of all accounts: a 32-bit random-hyperplane
// hash (SimHash) of the centred, normalised embeddings, sorted, so that accounts next to each
// other point the same way. A member's pool is the 50 accounts outside the cluster nearest to it
// in that order; the member is itself a typical element of such a window (it is not its centre in
// the embedding space, as nearest neighbours would make it), which keeps the test calibrated.
#include <algorithm>
#include <cmath>
#include <string>
#include <unordered_set>
#include <vector>

#include "chorus/significance/significance.hpp"
#include "resample.hpp"

namespace chorus::significance {

namespace {

constexpr int hash_bits = 32;
constexpr std::int64_t pool_size = 50;  // substitutes per member: its neighbours in hash order

/// Cosine of rows a and b: fp32 products summed in 16 lanes (vectorised), the lanes and the
/// scaling in float64. The same function gives the observed value and every resample.
double cosine(const view_matrix& v, std::int64_t a, std::int64_t b) {
  const float* x = v.row(a);
  const float* y = v.row(b);
  constexpr int lanes = 16;
  float acc[lanes] = {};
  std::int64_t u = 0;
  for (; u + lanes <= v.d; u += lanes)
    for (int l = 0; l < lanes; ++l) acc[l] += x[u + l] * y[u + l];
  double dot = 0;
  for (int l = 0; l < lanes; ++l) dot += acc[l];
  for (; u < v.d; ++u) dot += static_cast<double>(x[u]) * y[u];
  return dot * (v.inv_norm[static_cast<std::size_t>(a)] * v.inv_norm[static_cast<std::size_t>(b)]);
}

/// Every valid account's cell code, and the valid accounts sorted by (code, row).
struct cells {
  std::vector<std::uint32_t> code;  ///< per row (0 for invalid rows)
  std::vector<std::int64_t> order;  ///< valid rows by (code, row)
  /// Position of row i in `order`.
  std::int64_t position(std::int64_t i) const {
    const std::uint32_t c = code[static_cast<std::size_t>(i)];
    const auto at =
        std::lower_bound(order.begin(), order.end(), i, [&](std::int64_t a, std::int64_t r) {
          const std::uint32_t ca = code[static_cast<std::size_t>(a)];
          return ca != c ? ca < c : a < r;
        });
    return at - order.begin();
  }
};

cells topic_cells(const view_matrix& v, const options& opt) {
  const std::int64_t n = v.n, d = v.d;
  std::vector<double> mean(static_cast<std::size_t>(d), 0.0), planes;
  std::int64_t valid = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    if (!v.valid[static_cast<std::size_t>(i)]) continue;
    const float* x = v.row(i);
    for (std::int64_t u = 0; u < d; ++u) mean[u] += x[u] * v.inv_norm[static_cast<std::size_t>(i)];
    ++valid;
  }
  for (double& m : mean) m /= std::max<std::int64_t>(valid, 1);
  detail::stream g(opt.seed, 0x43454c4c53ULL, 0);  // "CELLS"
  planes.resize(static_cast<std::size_t>(hash_bits * d));
  for (double& p : planes) p = g.normal();
  std::vector<double> offset(hash_bits, 0.0);  // plane . mean: the hash is of x - mean
  for (int b = 0; b < hash_bits; ++b)
    for (std::int64_t u = 0; u < d; ++u) offset[b] += planes[b * d + u] * mean[u];
  cells c;
  c.code.assign(static_cast<std::size_t>(n), 0);
#pragma omp parallel for schedule(static) num_threads(detail::thread_count(opt.threads))
  for (std::int64_t i = 0; i < n; ++i) {
    if (!v.valid[static_cast<std::size_t>(i)]) continue;
    const float* x = v.row(i);
    std::uint32_t code = 0;
    for (int b = 0; b < hash_bits; ++b) {
      double dot = 0;
      for (std::int64_t u = 0; u < d; ++u) dot += planes[b * d + u] * x[u];
      code = code << 1 | (dot * v.inv_norm[static_cast<std::size_t>(i)] >= offset[b]);
    }
    c.code[static_cast<std::size_t>(i)] = code;
  }
  for (std::int64_t i = 0; i < n; ++i)
    if (v.valid[static_cast<std::size_t>(i)]) c.order.push_back(i);
  std::sort(c.order.begin(), c.order.end(), [&](std::int64_t a, std::int64_t b) {
    const auto ca = c.code[static_cast<std::size_t>(a)], cb = c.code[static_cast<std::size_t>(b)];
    return ca != cb ? ca < cb : a < b;
  });
  return c;
}

/// Each member's pool of substitutes: the `pool_size` accounts outside the cluster nearest to it
/// in hash order (alternately after and before it). Empty when the input has too few others.
std::vector<std::vector<std::int64_t>> pools(const cells& cl,
                                             const std::vector<std::int64_t>& mem) {
  std::vector<std::vector<std::int64_t>> out;
  const auto n = static_cast<std::int64_t>(cl.order.size());
  auto outsider = [&](std::int64_t k) {
    return !std::binary_search(mem.begin(), mem.end(), cl.order[static_cast<std::size_t>(k)]);
  };
  for (const std::int64_t i : mem) {
    const std::int64_t at = cl.position(i);
    std::vector<std::int64_t> pool;
    for (std::int64_t up = at + 1, down = at - 1;
         static_cast<std::int64_t>(pool.size()) < pool_size && (up < n || down >= 0);) {
      for (; up < n && !outsider(up); ++up) {
      }
      if (up < n) pool.push_back(cl.order[static_cast<std::size_t>(up++)]);
      if (static_cast<std::int64_t>(pool.size()) == pool_size) break;
      for (; down >= 0 && !outsider(down); --down) {
      }
      if (down >= 0) pool.push_back(cl.order[static_cast<std::size_t>(down--)]);
    }
    if (static_cast<std::int64_t>(pool.size()) < pool_size) return {};
    out.push_back(std::move(pool));
  }
  return out;
}

void test_cluster(const view_matrix& v, const cells& cl, const cluster_table& t, std::int64_t c,
                  std::uint64_t key, const options& opt, model_result& r) {
  const std::int64_t* first = t.members.data() + t.offsets[static_cast<std::size_t>(c)];
  const std::vector<std::int64_t> mem(first, first + t.size[static_cast<std::size_t>(c)]);
  const auto m = static_cast<std::int64_t>(mem.size()), k = opt.resamples;
  const auto pool = pools(cl, mem);
  if (pool.empty()) {
#pragma omp critical(chorus_significance_warning)
    r.warnings.push_back("cluster " + std::to_string(c) + " (" + std::to_string(m) +
                         " accounts) holds too many of the input's accounts for the content null "
                         "model: not tested");
    return;
  }
  const auto pairs = member_pairs(m, opt.max_pairs, opt.seed ^ key);
  double observed = 0;
  for (const auto& [i, j] : pairs) observed += cosine(v, mem[i], mem[j]);
  observed /= static_cast<double>(pairs.size());
  std::vector<std::int64_t> sub(static_cast<std::size_t>(m));
  std::unordered_set<std::int64_t> used;
  std::vector<float> out(static_cast<std::size_t>(k));
  for (std::int64_t s = 0; s < k; ++s) {
    detail::stream g(opt.seed ^ 0x434f4e54ULL, key, static_cast<std::uint64_t>(s));  // "CONT"
    used.clear();
    for (std::int64_t i = 0; i < m; ++i) {  // distinct substitutes while the pools allow
      const auto& p = pool[static_cast<std::size_t>(i)];
      std::int64_t x = -1;
      for (int tries = 0; tries < 4 * pool_size && (x < 0 || used.count(x)); ++tries)
        x = p[g.below(static_cast<std::uint64_t>(p.size()))];
      used.insert(x);
      sub[static_cast<std::size_t>(i)] = x;
    }
    double sum = 0;  // a pair given one substitute twice says nothing: left out
    std::int64_t counted = 0;
    for (const auto& [i, j] : pairs)
      if (sub[i] != sub[j]) sum += cosine(v, sub[i], sub[j]), ++counted;
    out[s] = static_cast<float>(counted ? sum / static_cast<double>(counted) : 1.0);
  }
  detail::summarise_cluster(r, c, observed, out.data(), k);
}

}  // namespace

model_result content_null(const view_matrix& embedding, const cluster_table& t,
                          const std::vector<std::int64_t>& ids, const options& opt) {
  const auto clusters = static_cast<std::int64_t>(t.size.size());
  model_result r =
      detail::empty_result("content", "mean pairwise cosine of the members' embeddings", clusters,
                           opt.resamples, opt.keep_samples);
  if (clusters == 0 || opt.resamples <= 0) return r;
  const cells cl = topic_cells(embedding, opt);
#pragma omp parallel for schedule(dynamic, 1) num_threads(detail::thread_count(opt.threads))
  for (std::int64_t c = 0; c < clusters; ++c)
    test_cluster(embedding, cl, t, c, cluster_key(t, c, ids), opt, r);
  std::sort(r.warnings.begin(), r.warnings.end());
  return r;
}

}  // namespace chorus::significance
