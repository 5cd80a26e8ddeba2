// chorus significance: the activity null model. Each member's row is circularly shifted by a
// random whole number of periods (days): its volume and its rhythm within the day stay, the
// synchrony between members goes. Only the shift between two members matters, so every pair's
// correlation at each possible shift difference is computed once and each resample is a lookup.
#include <cmath>
#include <vector>

#include "chorus/significance/significance.hpp"
#include "resample.hpp"

namespace chorus::significance {

namespace {

/// Correlation of rows a and b when b is read `lag` bins later: sum_u a[u] b[(u + lag) mod T],
/// scaled by both rows' inverse norms (the prepared rows are centred).
double lagged_correlation(const view_matrix& v, std::int64_t a, std::int64_t b, std::int64_t lag) {
  const float* x = v.row(a);
  const float* y = v.row(b);
  const std::int64_t t = v.d;
  double dot = 0;
  for (std::int64_t u = 0; u + lag < t; ++u) dot += static_cast<double>(x[u]) * y[u + lag];
  for (std::int64_t u = t - lag; u < t; ++u) dot += static_cast<double>(x[u]) * y[u + lag - t];
  return dot * (v.inv_norm[static_cast<std::size_t>(a)] * v.inv_norm[static_cast<std::size_t>(b)]);
}

/// One cluster: its observed mean correlation and k resamples into r.
void test_cluster(const view_matrix& v, const cluster_table& t, std::int64_t c, std::uint64_t key,
                  const options& opt, model_result& r) {
  const std::int64_t* mem = t.members.data() + t.offsets[static_cast<std::size_t>(c)];
  const std::int64_t m = t.size[static_cast<std::size_t>(c)];
  const std::int64_t period = opt.period_bins, days = v.d / period, k = opt.resamples;
  const auto pairs = member_pairs(m, opt.max_pairs, opt.seed ^ key);
  const std::int64_t lags = 2 * days - 1;  // shift differences -(days-1) .. days-1
  std::vector<double> table(pairs.size() * static_cast<std::size_t>(lags));
  for (std::size_t p = 0; p < pairs.size(); ++p)
    for (std::int64_t l = 0; l < lags; ++l) {
      // member i shifted by d_i periods, j by d_j: lag = (d_i - d_j) period (mod T)
      const std::int64_t delta = l - (days - 1);
      const std::int64_t lag = ((delta * period) % v.d + v.d) % v.d;
      table[p * static_cast<std::size_t>(lags) + static_cast<std::size_t>(l)] =
          lagged_correlation(v, mem[pairs[p].first], mem[pairs[p].second], lag);
    }
  double observed = 0;
  for (std::size_t p = 0; p < pairs.size(); ++p)
    observed += table[p * static_cast<std::size_t>(lags) + static_cast<std::size_t>(days - 1)];
  observed /= static_cast<double>(pairs.size());
  std::vector<std::int64_t> shift(static_cast<std::size_t>(m));
  std::vector<float> out(static_cast<std::size_t>(k));
  for (std::int64_t s = 0; s < k; ++s) {
    detail::stream g(opt.seed, key, static_cast<std::uint64_t>(s));
    for (auto& d : shift) d = static_cast<std::int64_t>(g.below(static_cast<std::uint64_t>(days)));
    double sum = 0;
    for (std::size_t p = 0; p < pairs.size(); ++p) {
      const std::int64_t l = shift[static_cast<std::size_t>(pairs[p].first)] -
                             shift[static_cast<std::size_t>(pairs[p].second)] + days - 1;
      sum += table[p * static_cast<std::size_t>(lags) + static_cast<std::size_t>(l)];
    }
    out[s] = static_cast<float>(sum / static_cast<double>(pairs.size()));
  }
  detail::summarise_cluster(r, c, observed, out.data(), k);
}

}  // namespace

model_result activity_null(const view_matrix& activity, const cluster_table& t,
                           const std::vector<std::int64_t>& ids, const options& opt) {
  const auto clusters = static_cast<std::int64_t>(t.size.size());
  model_result r =
      detail::empty_result("activity", "mean pairwise Pearson correlation of the members' activity",
                           clusters, opt.resamples, opt.keep_samples);
  if (clusters == 0 || opt.resamples <= 0) return r;
#pragma omp parallel for schedule(dynamic, 1) num_threads(detail::thread_count(opt.threads))
  for (std::int64_t c = 0; c < clusters; ++c)
    test_cluster(activity, t, c, cluster_key(t, c, ids), opt, r);
  return r;
}

}  // namespace chorus::significance
