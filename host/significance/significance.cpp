// chorus significance: p-values, q-values, member pairs, combining models, the activity period.
#include "chorus/significance/significance.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <unordered_set>

#include "chorus/core/error.hpp"
#include "chorus/io/h5.hpp"
#include "resample.hpp"

namespace chorus::significance {

namespace detail {

model_result empty_result(const char* model, const char* statistic, std::int64_t clusters,
                          std::int64_t k, std::int64_t keep) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  model_result r;
  r.model = model;
  r.statistic = statistic;
  const auto n = static_cast<std::size_t>(clusters);
  r.observed.assign(n, nan);
  r.null_mean.assign(n, nan);
  r.null_sd.assign(n, nan);
  r.p_value.assign(n, nan);
  r.quantiles.assign(n * 5, nan);
  r.kept = std::min(clusters, keep);
  r.samples.assign(static_cast<std::size_t>(r.kept * k), std::numeric_limits<float>::quiet_NaN());
  return r;
}

void summarise_cluster(model_result& r, std::int64_t c, double observed, const float* s,
                       std::int64_t k) {
  const auto sc = static_cast<std::size_t>(c);
  if (c < r.kept) std::copy(s, s + k, r.samples.begin() + static_cast<std::ptrdiff_t>(c * k));
  double sum = 0, sq = 0;
  for (std::int64_t i = 0; i < k; ++i) sum += s[i];
  const double mean = sum / static_cast<double>(k);
  for (std::int64_t i = 0; i < k; ++i) sq += (s[i] - mean) * (s[i] - mean);
  r.observed[sc] = observed;
  r.null_mean[sc] = mean;
  r.null_sd[sc] = k > 1 ? std::sqrt(sq / static_cast<double>(k - 1)) : 0.0;
  r.p_value[sc] = empirical_p(observed, s, k);
  std::vector<float> sorted(s, s + k);
  std::sort(sorted.begin(), sorted.end());
  for (int q = 0; q < 5; ++q) {  // the order statistic at ceil(q k) (1-based): no interpolation
    const auto at =
        static_cast<std::int64_t>(std::ceil(null_quantiles[q] * static_cast<double>(k)));
    r.quantiles[sc * 5 + static_cast<std::size_t>(q)] =
        sorted[static_cast<std::size_t>(std::clamp<std::int64_t>(at - 1, 0, k - 1))];
  }
}

int thread_count(int threads) { return threads > 0 ? threads : omp_get_max_threads(); }

}  // namespace detail

double empirical_p(double observed, const float* null, std::int64_t k) {
  // the samples are stored as float: a resample equal to the observed value in double (all
  // members shifted alike) must count, so differences below float resolution are ties
  const double reach = observed - 1e-6 * std::max(1.0, std::fabs(observed));
  std::int64_t at_least = 0;
  for (std::int64_t i = 0; i < k; ++i) at_least += static_cast<double>(null[i]) >= reach;
  return static_cast<double>(1 + at_least) / static_cast<double>(k + 1);
}

std::vector<double> bh_q_values(const std::vector<double>& p) {
  std::vector<std::size_t> order;
  for (std::size_t i = 0; i < p.size(); ++i)
    if (!std::isnan(p[i])) order.push_back(i);
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return p[a] != p[b] ? p[a] > p[b] : a > b; });
  std::vector<double> q(p.size(), std::numeric_limits<double>::quiet_NaN());
  const double m = static_cast<double>(order.size());
  double running = 1.0;  // the smallest p_(j) m / j over j >= i, walking from the largest p down
  for (std::size_t r = 0; r < order.size(); ++r) {
    const double rank = m - static_cast<double>(r);
    running = std::min(running, p[order[r]] * m / rank);
    q[order[r]] = running;
  }
  return q;
}

std::vector<std::pair<std::int32_t, std::int32_t>> member_pairs(std::int64_t m,
                                                                std::int64_t max_pairs,
                                                                std::uint64_t seed) {
  std::vector<std::pair<std::int32_t, std::int32_t>> out;
  const std::int64_t all = m * (m - 1) / 2;
  if (all <= max_pairs) {
    out.reserve(static_cast<std::size_t>(all));
    for (std::int32_t i = 0; i < m; ++i)
      for (std::int32_t j = i + 1; j < m; ++j) out.emplace_back(i, j);
    return out;
  }
  detail::stream s(seed, 0x5041495253ULL, 0);  // "PAIRS"
  std::unordered_set<std::uint64_t> seen;
  seen.reserve(static_cast<std::size_t>(2 * max_pairs));
  while (static_cast<std::int64_t>(out.size()) < max_pairs) {
    auto i = static_cast<std::int32_t>(s.below(static_cast<std::uint64_t>(m)));
    auto j = static_cast<std::int32_t>(s.below(static_cast<std::uint64_t>(m)));
    if (i == j) continue;
    if (i > j) std::swap(i, j);
    if (seen.insert(static_cast<std::uint64_t>(i) << 32 | static_cast<std::uint32_t>(j)).second)
      out.emplace_back(i, j);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::uint64_t cluster_key(const cluster_table& t, std::int64_t c,
                          const std::vector<std::int64_t>& ids) {
  std::int64_t key = std::numeric_limits<std::int64_t>::max();
  for (std::int64_t k = t.offsets[static_cast<std::size_t>(c)];
       k < t.offsets[static_cast<std::size_t>(c) + 1]; ++k)
    key = std::min(key, ids[static_cast<std::size_t>(t.members[static_cast<std::size_t>(k)])]);
  return static_cast<std::uint64_t>(key);
}

model_result fused_null(const model_result& content, const model_result& activity, double w,
                        std::int64_t k) {
  const std::size_t clusters = content.observed.size();
  CHORUS_ENSURES(content.kept == static_cast<std::int64_t>(clusters) &&
                     activity.kept == static_cast<std::int64_t>(clusters),
                 "the fused null needs every resample of both models");
  model_result r =
      detail::empty_result("fused", "mean pairwise fused score w * cosine + (1 - w) * correlation",
                           static_cast<std::int64_t>(clusters), k, stored_sample_clusters);
  std::vector<float> s(static_cast<std::size_t>(k));
  r.warnings = content.warnings;
  r.warnings.insert(r.warnings.end(), activity.warnings.begin(), activity.warnings.end());
  for (std::size_t c = 0; c < clusters; ++c) {
    if (std::isnan(content.observed[c]) || std::isnan(activity.observed[c])) continue;
    const std::size_t at = c * static_cast<std::size_t>(k);
    for (std::size_t i = 0; i < s.size(); ++i)
      s[i] = static_cast<float>(w * content.samples[at + i] + (1 - w) * activity.samples[at + i]);
    detail::summarise_cluster(r, static_cast<std::int64_t>(c),
                              w * content.observed[c] + (1 - w) * activity.observed[c], s.data(),
                              k);
  }
  return r;
}

result combine(std::vector<model_result> models, std::int64_t resamples, std::uint64_t seed) {
  result out;
  out.resamples = resamples;
  out.seed = seed;
  out.combine =
      models.size() > 1 ? "largest p of the models (intersection-union test)" : "the model's p";
  const std::size_t clusters = models.empty() ? 0 : models[0].p_value.size();
  out.p_value.assign(clusters, 0.0);
  for (std::size_t c = 0; c < clusters; ++c)
    for (const model_result& m : models)
      out.p_value[c] = std::isnan(m.p_value[c]) || std::isnan(out.p_value[c])
                           ? std::numeric_limits<double>::quiet_NaN()
                           : std::max(out.p_value[c], m.p_value[c]);
  out.q_value = bh_q_values(out.p_value);
  out.models = std::move(models);
  return out;
}

std::int64_t activity_period(const std::string& input, std::int64_t bins, std::int64_t given) {
  std::int64_t period = given;
  if (period <= 0) {
    std::int64_t seconds = 0;
    std::string fold = "none";
    if (!input.empty()) {
      const h5::handle f = h5::open_read(input);
      if (h5::exists(f, "/activity")) {
        const h5::handle a = h5::open_dataset(f, "/activity");
        h5::get_attr(a, "bin_seconds", seconds);
        h5::get_attr(a, "fold", fold);
      }
    }
    CHORUS_EXPECTS(fold == "none", "--significance: the activity of '", input, "' is folded (",
                   fold,
                   "): its bins are hours of a day or week, so there are no days to shift; ingest "
                   "without --fold, or give --null-period BINS");
    CHORUS_EXPECTS(seconds > 0, "--significance: '", input.empty() ? "the input" : input,
                   "' does not say how long its activity bins are (/activity attribute "
                   "bin_seconds), so the null model cannot keep each account's daily rhythm; "
                   "give --null-period BINS (the bins of one day)");
    CHORUS_EXPECTS(86400 % seconds == 0, "--significance: activity bins of ", seconds,
                   " s do not divide a day; give --null-period BINS");
    period = 86400 / seconds;
  }
  CHORUS_EXPECTS(bins >= 2 * period, "--significance: the activity holds ", bins,
                 " bins, fewer than two periods of ", period,
                 " bins, so whole-period shifts cannot break synchrony; use a longer window or a "
                 "shorter --null-period");
  return period;
}

}  // namespace chorus::significance
