// chorus significance: how likely is a cluster by chance? Per cluster, a statistic of its members
// is compared with K resamples of the same accounts under a null model that keeps what each
// account does on its own and breaks what they do together (README, "Significance"):
// - activity: each member's activity row circularly shifted by a random whole number of periods
//   (a day by default): its volume and daily rhythm stay, the synchrony between accounts goes;
//   statistic: mean pairwise Pearson correlation of the members' prepared rows;
// - content: each member replaced by a random other account of its topic cell (a random-
//   hyperplane hash of the embeddings, coarsened until the cell has enough other accounts);
//   statistic: mean pairwise cosine;
// - coaction: each member's post times shifted by a random whole number of days (its posts,
//   objects and rhythm stay); statistic: mean over member pairs of the share of the possible
//   weight, max(w(u->v) / n_u, w(v->u) / n_v), n_u the posts of u that take part in the view.
// p = (1 + resamples at least as large as observed) / (K + 1); q: Benjamini-Hochberg over the
// clusters of a run. These are tests of given accounts: they do not correct for the search that
// found the cluster among all pairs (README).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "chorus/core/types.hpp"
#include "chorus/graph/components.hpp"

namespace chorus::coaction {
struct object_index;
}

namespace chorus::significance {

/// What a significance run takes.
struct options {
  std::int64_t resamples = 0;      ///< K; 0: off
  std::uint64_t seed = 1;          ///< resamples are a function of (seed, cluster, k)
  std::int64_t period_bins = 0;    ///< activity: shift unit in bins (a day), >= 1
  std::int64_t max_pairs = 20000;  ///< member pairs per cluster: all, or a fixed random sample
  /// Clusters (the first, largest) whose every resample is kept in model_result::samples; the
  /// fused view needs all of them.
  std::int64_t keep_samples = 10000;
  int threads = 0;  ///< 0: OpenMP's default
};

/// Quantiles of the null distribution written per cluster (median, 90%, 99%, 99.9%, max).
inline constexpr double null_quantiles[5] = {0.5, 0.9, 0.99, 0.999, 1.0};

/// One null model's figures per cluster (NaN where the model could not be applied).
struct model_result {
  std::string model;      ///< "activity", "content", "coaction", "fused"
  std::string statistic;  ///< what `observed` measures, in words
  std::vector<double> observed, null_mean, null_sd, p_value;
  std::vector<double> quantiles;  ///< [clusters x 5], null_quantiles of each cluster's null
  std::vector<float> samples;     ///< [kept x K]: every resample's statistic of the first clusters
  std::int64_t kept = 0;          ///< clusters in `samples`
  std::vector<std::string> warnings;  ///< clusters the model could not test, and why
};

/// The combined verdict of a run.
struct result {
  std::int64_t resamples = 0;
  std::uint64_t seed = 0;
  std::string combine;  ///< how p_value combines the models
  std::vector<model_result> models;
  std::vector<double> p_value, q_value;  ///< per cluster
  double seconds = 0;
};

/// Empirical p-value of `observed` among `k` null statistics: (1 + #{null >= observed}) / (k + 1).
/// A null value within 1e-6 (relative; the samples are float) of `observed` counts as reaching it.
double empirical_p(double observed, const float* null, std::int64_t k);
/// Benjamini-Hochberg q-values of `p` (NaN entries are left out and stay NaN).
std::vector<double> bh_q_values(const std::vector<double>& p);
/// The member pairs a cluster of `m` accounts is measured on: all (i < j) when there are at most
/// `max_pairs`, else a fixed sample of `max_pairs` distinct pairs drawn with `seed`.
std::vector<std::pair<std::int32_t, std::int32_t>> member_pairs(std::int64_t m,
                                                                std::int64_t max_pairs,
                                                                std::uint64_t seed);
/// A key of the cluster independent of run order: the smallest account id among its members.
std::uint64_t cluster_key(const cluster_table& t, std::int64_t c,
                          const std::vector<std::int64_t>& ids);

/// Activity null over the prepared (centred) activity rows of every account.
model_result activity_null(const view_matrix& activity, const cluster_table& t,
                           const std::vector<std::int64_t>& ids, const options& opt);
/// Content null over the prepared embedding rows of every account.
model_result content_null(const view_matrix& embedding, const cluster_table& t,
                          const std::vector<std::int64_t>& ids, const options& opt);
/// Co-action null over the view's object index; `window` in seconds as the view's.
model_result coaction_null(const coaction::object_index& index, std::int64_t window,
                           const cluster_table& t, const std::vector<std::int64_t>& ids,
                           const options& opt);
/// The fused view's null: w * content + (1 - w) * activity, resample by resample (both computed
/// with keep_samples covering every cluster; k resamples).
model_result fused_null(const model_result& content, const model_result& activity, double w,
                        std::int64_t k);

/// Combine per-model results: a cluster's p is the largest of its models' (an intersection-
/// union test: significant only when every view that makes its edges is), q by BH.
result combine(std::vector<model_result> models, std::int64_t resamples, std::uint64_t seed);

/// The activity period in bins from the input's clock: a day when `/activity` has bin_seconds
/// dividing 86400 and fold "none"; `given` (> 0) wins. Throws input_error with what to do when
/// there is none, or when the bins hold fewer than two periods.
std::int64_t activity_period(const std::string& input, std::int64_t bins, std::int64_t given);

}  // namespace chorus::significance

namespace chorus::h5 {
class handle;
}

namespace chorus::significance {

/// Clusters whose resampled statistics are stored whole (/clusters/null/<model>/samples); the
/// quantiles cover every cluster.
inline constexpr std::int64_t stored_sample_clusters = 10000;

/// Writes /clusters/p_value, /clusters/q_value and /clusters/null (SCHEMA.md) into an open
/// results file whose /clusters group exists.
void write(const h5::handle& file, const result& r, std::int64_t period_bins);

/// Counts for a summary: clusters tested (finite p), p < 0.001, q < 0.05.
struct tally {
  std::int64_t tested = 0, below_0001 = 0, q_below_005 = 0;
};
tally count(const result& r);

}  // namespace chorus::significance
