// chorus significance: the results-file datasets (datasets/SCHEMA.md, "Significance").
#include <algorithm>
#include <cmath>

#include "chorus/io/h5.hpp"
#include "chorus/significance/significance.hpp"

namespace chorus::significance {

namespace {

void write_matrix(const h5::handle& g, const char* name, const std::vector<double>& v,
                  std::uint64_t rows, std::uint64_t cols) {
  const h5::handle d = h5::create_dataset<double>(g, name, {rows, cols});
  if (rows > 0) h5::write_rows(d, 0, rows, v.data());
}

void write_model(const h5::handle& file, const model_result& m, std::int64_t resamples) {
  const h5::handle g = h5::create_group(file, "/clusters/null/" + m.model);
  h5::set_attr(g, "statistic", m.statistic);
  h5::write_vector(g, "observed", m.observed);
  h5::write_vector(g, "null_mean", m.null_mean);
  h5::write_vector(g, "null_sd", m.null_sd);
  h5::write_vector(g, "p_value", m.p_value);
  const auto clusters = static_cast<std::uint64_t>(m.observed.size());
  write_matrix(g, "null_quantiles", m.quantiles, clusters, 5);
  const std::uint64_t rows = std::min<std::uint64_t>(
      static_cast<std::uint64_t>(m.kept), static_cast<std::uint64_t>(stored_sample_clusters));
  const auto k = static_cast<std::uint64_t>(resamples);
  const h5::handle s = h5::create_dataset<float>(g, "samples", {rows, k},
                                                 std::min<std::uint64_t>(rows, 64), rows ? 4 : 0);
  if (rows > 0 && k > 0) h5::write_rows(s, 0, rows, m.samples.data());
}

}  // namespace

void write(const h5::handle& file, const result& r, std::int64_t period_bins) {
  h5::write_vector(file, "/clusters/p_value", r.p_value);
  h5::write_vector(file, "/clusters/q_value", r.q_value);
  const h5::handle g = h5::create_group(file, "/clusters/null");
  h5::set_attr(g, "resamples", r.resamples);
  h5::set_attr(g, "seed", static_cast<std::int64_t>(r.seed));
  h5::set_attr(g, "combine", r.combine);
  std::string models;
  for (const model_result& m : r.models) models += (models.empty() ? "" : " ") + m.model;
  h5::set_attr(g, "models", models);
  h5::set_attr(g, "p_value", std::string("(1 + resamples with statistic >= observed) / (1 + K)"));
  h5::set_attr(g, "q_value", std::string("Benjamini-Hochberg over the clusters with a p-value"));
  if (period_bins > 0) h5::set_attr(g, "period_bins", period_bins);
  h5::set_attr(
      g, "samples_clusters",
      std::min<std::int64_t>(static_cast<std::int64_t>(r.p_value.size()), stored_sample_clusters));
  h5::set_attr(g, "seconds", r.seconds);
  for (const model_result& m : r.models) write_model(file, m, r.resamples);
}

tally count(const result& r) {
  tally t;
  for (std::size_t c = 0; c < r.p_value.size(); ++c) {
    if (std::isnan(r.p_value[c])) continue;
    ++t.tested;
    t.below_0001 += r.p_value[c] < 0.001;
    t.q_below_005 += r.q_value[c] < 0.05;
  }
  return t;
}

}  // namespace chorus::significance
