// Cluster statistics (/clusters/...) and the per-cluster similarity histograms of /evidence,
// checked against a direct float64 computation from the input rows (no chorus code computes the
// expected values). Guards for tests/mutations (17, 18, 19, 22).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "chorus/io/h5.hpp"
#include "chorus/job/detect.hpp"
#include "chorus/outputs/evidence.hpp"
#include "test_support.hpp"

using namespace chorus;
using namespace chorus::test;

namespace {

template <typename T>
std::vector<T> read(const h5::handle& f, const std::string& p) {
  return h5::read_all<T>(h5::open_dataset(f, p));
}

// Centred and normalised activity row (the Pearson view of a row), float64; empty when constant.
std::vector<double> pearson_row(const dense& a, std::int64_t i) {
  std::vector<double> z(a.d);
  double mean = 0, n2 = 0;
  for (std::int64_t k = 0; k < a.d; ++k) mean += a.at(i, k);
  mean /= double(a.d);
  for (std::int64_t k = 0; k < a.d; ++k) z[k] = a.at(i, k) - mean, n2 += z[k] * z[k];
  if (n2 <= 1e-24) return {};
  for (double& v : z) v /= std::sqrt(n2);
  return z;
}

struct run_files {
  std::string dir, input, results;
  dense e, a;
};

// 360 accounts, 16-dim embeddings in groups of 11, 40 activity bins in groups of 7: thresholds
// low enough for several clusters of different sizes that are not cliques.
run_files make_run(const std::string& name, const std::string& view, double thr, double thr_act) {
  run_files r;
  r.dir = scratch_dir(name);
  const std::int64_t n = 360;
  r.e = clustered(n, 16, 31);
  r.a = activity_counts(n, 40, 32);
  r.input = r.dir + "/in.h5";
  r.results = r.dir + "/out.h5";
  write_input(r.input, n, &r.e, &r.a);
  detect_options o;
  o.input = r.input;
  o.output = r.results;
  o.view = view;
  o.threshold = thr;
  o.threshold_activity = thr_act;
  o.threads = 2;
  o.backend = backend_kind::cpu;
  run_detect(o);
  return r;
}

}  // namespace

// size, edges, density = edges / (s (s - 1) / 2), mean and min similarity of each view over the
// cluster's edges, and activity synchrony = mean over members of the Pearson correlation of the
// member's activity with the cluster's mean (centred, normalised) activity profile.
TEST(ClusterStats, MatchDirectComputation) {
  const run_files r = make_run("stats_both", "both", 0.55, 0.25);
  h5::handle f = h5::open_read(r.results);
  const auto labels = read<std::int64_t>(f, "/labels");
  const auto src = read<std::int64_t>(f, "/edges/src");
  const auto dst = read<std::int64_t>(f, "/edges/dst");
  const auto size = read<std::int64_t>(f, "/clusters/size");
  const auto offsets = read<std::int64_t>(f, "/clusters/offsets");
  const auto members = read<std::int64_t>(f, "/clusters/members");
  const auto edges = read<std::int64_t>(f, "/clusters/edges");
  const auto density = read<double>(f, "/clusters/density");
  const auto mean_e = read<double>(f, "/clusters/mean_sim_embedding");
  const auto min_e = read<double>(f, "/clusters/min_sim_embedding");
  const auto mean_a = read<double>(f, "/clusters/mean_sim_activity");
  const auto min_a = read<double>(f, "/clusters/min_sim_activity");
  const auto sync = read<double>(f, "/clusters/activity_synchrony");
  const std::size_t K = size.size();
  ASSERT_GE(K, 3u) << "test data should give several clusters";
  for (const auto* v : {&edges}) ASSERT_EQ(v->size(), K);
  for (const auto* v : {&density, &mean_e, &min_e, &mean_a, &min_a, &sync}) ASSERT_EQ(v->size(), K);

  // reference, per cluster, from the labels, the edge list and the float64 input rows
  std::vector<std::int64_t> ref_size(K, 0), ref_edges(K, 0);
  std::vector<double> sum_e(K, 0), sum_a(K, 0), lo_e(K, 2), lo_a(K, 2);
  for (std::int64_t lab : labels)
    if (lab >= 0) ++ref_size[lab];
  for (std::size_t q = 0; q < src.size(); ++q) {
    const std::int64_t c = labels[src[q]];
    ASSERT_EQ(c, labels[dst[q]]);
    const double se = sim64(r.e, src[q], dst[q], false), sa = sim64(r.a, src[q], dst[q], true);
    ++ref_edges[c];
    sum_e[c] += se, sum_a[c] += sa;
    lo_e[c] = std::min(lo_e[c], se), lo_a[c] = std::min(lo_a[c], sa);
  }
  int non_cliques = 0;
  for (std::size_t c = 0; c < K; ++c) {
    SCOPED_TRACE("cluster " + std::to_string(c) + " of size " + std::to_string(size[c]));
    EXPECT_EQ(size[c], ref_size[c]);
    EXPECT_EQ(edges[c], ref_edges[c]);
    const double s = double(ref_size[c]), pairs = s * (s - 1) / 2;
    EXPECT_NEAR(density[c], double(ref_edges[c]) / pairs, 1e-12);
    non_cliques += ref_edges[c] < pairs;
    EXPECT_NEAR(mean_e[c], sum_e[c] / double(ref_edges[c]), 1e-6);
    EXPECT_NEAR(mean_a[c], sum_a[c] / double(ref_edges[c]), 1e-6);
    EXPECT_NEAR(min_e[c], lo_e[c], 1e-6);
    EXPECT_NEAR(min_a[c], lo_a[c], 1e-6);
    // synchrony
    std::vector<std::vector<double>> z;
    for (std::int64_t p = offsets[c]; p < offsets[c + 1]; ++p) {
      z.push_back(pearson_row(r.a, members[p]));
      ASSERT_FALSE(z.back().empty()) << "a member of a `both` cluster has a valid activity row";
    }
    std::vector<double> m(r.a.d, 0.0);
    for (const auto& zi : z)
      for (std::int64_t k = 0; k < r.a.d; ++k) m[k] += zi[k] / double(z.size());
    double mn = 0;
    for (double v : m) mn += v * v;
    mn = std::sqrt(mn);
    double acc = 0;
    for (const auto& zi : z) {
      double dot = 0;
      for (std::int64_t k = 0; k < r.a.d; ++k) dot += zi[k] * m[k];
      acc += dot / mn;
    }
    EXPECT_NEAR(sync[c], acc / double(z.size()), 1e-6);
    EXPECT_LE(sync[c], 1.0 + 1e-9);
  }
  EXPECT_GT(non_cliques, 0) << "test data should give clusters that are not cliques";
}

// A view the mode does not use has NaN statistics (and no synchrony without the activity view).
TEST(ClusterStats, UnusedViewIsNaN) {
  const run_files r = make_run("stats_emb", "embedding", 0.8, 0.8);
  h5::handle f = h5::open_read(r.results);
  const auto size = read<std::int64_t>(f, "/clusters/size");
  ASSERT_GE(size.size(), 1u);
  for (const char* d : {"/clusters/mean_sim_activity", "/clusters/min_sim_activity",
                        "/clusters/activity_synchrony"})
    for (double v : read<double>(f, d)) EXPECT_TRUE(std::isnan(v)) << d;
  for (double v : read<double>(f, "/clusters/mean_sim_embedding"))
    EXPECT_TRUE(v >= 0.8 - 1e-6 && v <= 1.0 + 1e-9) << v;
}

// /evidence/cluster_sim_hist_{embedding,activity}: each view's histogram spans [its own
// threshold, 1] (README, evidence), so the two ranges differ when the thresholds do.
TEST(EvidenceHist, EachViewUsesItsOwnThreshold) {
  const double thr = 0.55, thr_act = 0.25;
  const run_files r = make_run("evhist", "both", thr, thr_act);
  h5::handle f = h5::open_read(r.results);
  const auto labels = read<std::int64_t>(f, "/labels");
  const auto src = read<std::int64_t>(f, "/edges/src");
  const auto se = read<float>(f, "/edges/sim_embedding");
  const auto sa = read<float>(f, "/edges/sim_activity");
  const std::size_t K = read<std::int64_t>(f, "/clusters/size").size();
  ASSERT_GT(src.size(), 0u);
  const int B = evidence_hist_bins;
  auto bin = [B](double s, double lo) {  // equal-width bins over [lo, 1], ends clamped
    int b = int(std::floor((s - lo) / (1.0 - lo) * B));
    return b < 0 ? 0 : b >= B ? B - 1 : b;
  };
  std::vector<std::int64_t> want_e(K * B, 0), want_a(K * B, 0);
  for (std::size_t q = 0; q < src.size(); ++q) {
    const std::int64_t c = labels[src[q]];
    ++want_e[c * B + bin(se[q], thr)];
    ++want_a[c * B + bin(sa[q], thr_act)];
  }
  for (auto [name, want, lo] : {std::tuple{"cluster_sim_hist_embedding", &want_e, thr},
                                std::tuple{"cluster_sim_hist_activity", &want_a, thr_act}}) {
    h5::handle d = h5::open_dataset(f, std::string("/evidence/") + name);
    double got_lo = -9, got_hi = -9;
    ASSERT_TRUE(h5::get_attr(d, "lo", got_lo)) << name;
    ASSERT_TRUE(h5::get_attr(d, "hi", got_hi)) << name;
    EXPECT_DOUBLE_EQ(got_lo, lo) << name;
    EXPECT_DOUBLE_EQ(got_hi, 1.0) << name;
    const h5::dataset_info info = h5::describe(d);
    ASSERT_EQ(info.rank(), 2) << name;
    ASSERT_EQ(info.dims[0], K) << name;
    ASSERT_EQ(info.dims[1], std::uint64_t(B)) << name;
    std::vector<std::int64_t> got(K * B);
    h5::read_rows<std::int64_t>(d, 0, K, got.data());
    EXPECT_EQ(got, *want) << name;
  }
}
