// Branches of the exactness-critical code that the end-to-end tests do not reach: the margin
// guards for very wide rows, the clamp of the re-checked similarity at -1, the first-pass
// threshold per mode, union-find with the default thread count, top-k in every decision mode
// with ties, the truth matching's tie rule and its recovery boundaries, cluster statistics
// without usable activity, and the CPU backend's row range and option checks. References are
// computed here, independently of the code under test.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "chorus/core/decision.hpp"
#include "chorus/core/error.hpp"
#include "chorus/graph/components.hpp"
#include "chorus/io/input.hpp"
#include "chorus/io/row_feed.hpp"
#include "chorus/scan/backend.hpp"
#include "chorus/scan/checkpoint.hpp"
#include "chorus/scan/first_pass.hpp"
#include "chorus/scan/margin.hpp"
#include "chorus/scan/tiling.hpp"
#include "test_support.hpp"

using namespace chorus;
using chorus::test::message_of;

namespace {

TEST(ExactPaths, MarginsGiveUpOnlyWhereNoBoundExists) {
  // d u >= 1/2 (d >= 2^23 for fp32 accumulation): no useful bound, every pair a candidate
  // (|p - x.y| <= 2 for unit rows, so 4 covers every score)
  EXPECT_EQ(margin::fp32_gemm(std::int64_t{1} << 23), 4.0);
  EXPECT_EQ(margin::bf16_gemm(std::int64_t{1} << 23), 4.0);
  EXPECT_EQ(margin::bf16_gemm(std::int64_t{1} << 21, 1.0, 4.0 / 16777216.0), 4.0);  // tensor cores
  // just below: a finite bound that grows with d, still below 4 (the formula written out here)
  const double u = 1.0 / 16777216.0;
  const std::int64_t d = (std::int64_t{1} << 23) - 2;
  const double gamma = (d * u + u) / (1 - d * u - u);
  EXPECT_DOUBLE_EQ(margin::fp32_gemm(d, 1.0), gamma + margin::kSlack);
  EXPECT_LT(margin::fp32_gemm(d), 4.0);
  EXPECT_LT(margin::fp32_gemm(384), margin::fp32_gemm(4096));
  EXPECT_LT(margin::bf16_gemm((std::int64_t{1} << 21) - 1, 1.0, 4.0 / 16777216.0), 4.0);
}

// A view of two rows x and -x (prepared as load_input does: fp32 rows, float64 inverse norms).
view_matrix opposite_pair(const std::vector<float>& x) {
  view_matrix v;
  v.n = 2;
  v.d = static_cast<std::int64_t>(x.size());
  v.data = x;
  for (float a : x) v.data.push_back(-a);
  double s = 0;
  for (float a : x) s += double(a) * double(a);
  v.inv_norm = {1 / std::sqrt(s), 1 / std::sqrt(s)};
  v.valid = {1, 1};
  return v;
}

TEST(ExactPaths, ReCheckedSimilarityIsClampedToMinusOneAndOne) {
  // find a row whose float64 self-cosine rounds above 1: then the cosine with its negation
  // rounds below -1, and a threshold of exactly -1 would lose the pair without the clamp
  std::mt19937_64 rng(3);
  std::normal_distribution<float> g;
  view_matrix v;
  double raw = 0;
  for (int attempt = 0; attempt < 1000; ++attempt) {
    std::vector<float> x(3);  // d < 4: dot_f64 sums in this order too
    for (auto& a : x) a = g(rng);
    v = opposite_pair(x);
    double dot = 0;
    for (float a : x) dot += double(a) * double(a);
    raw = dot * (v.inv_norm[0] * v.inv_norm[1]);  // the rule of cosine_of
    if (raw > 1.0) break;
  }
  ASSERT_GT(raw, 1.0) << "no overshooting row found";
  EXPECT_EQ(exact_similarity(v, 0, 0), 1.0);
  EXPECT_EQ(exact_similarity(v, 0, 1), -1.0);
  EXPECT_EQ(exact_similarity(v, 1, 0), -1.0);
  decision_params p;
  p.mode = view_mode::embedding;
  p.threshold = -1.0;
  EXPECT_TRUE(decide(p, exact_similarity(v, 0, 1), NAN));
}

// An incremental run scores a pair in the other orientation than a full run when the rows
// moved: the similarity must be the same bits either way. Multiplying the dot by one inverse
// norm and then by the other is not (checked below, so that the test can fail).
TEST(ExactPaths, SimilarityIsTheSameInBothOrientations) {
  std::mt19937_64 rng(11);
  std::normal_distribution<float> g;
  view_matrix v;
  v.n = 300;
  v.d = 13;
  v.data.resize(v.n * v.d);
  for (auto& x : v.data) x = g(rng);
  for (std::int64_t i = 0; i < v.n; ++i) {
    double s = 0;
    for (std::int64_t k = 0; k < v.d; ++k) s += double(v.row(i)[k]) * v.row(i)[k];
    v.inv_norm.push_back(1.0 / std::sqrt(s));
    v.valid.push_back(1);
  }
  std::int64_t asymmetric_old = 0;
  for (std::int64_t i = 0; i < v.n; ++i)
    for (std::int64_t j = i + 1; j < v.n; ++j) {
      const double a = exact_similarity(v, i, j), b = exact_similarity(v, j, i);
      ASSERT_EQ(std::memcmp(&a, &b, sizeof a), 0) << i << " " << j;
      const double dot = a / (v.inv_norm[i] * v.inv_norm[j]);  // any dot shows the old rule
      asymmetric_old += dot * v.inv_norm[i] * v.inv_norm[j] != dot * v.inv_norm[j] * v.inv_norm[i];
    }
  EXPECT_GT(asymmetric_old, 0) << "the data should tell the two rules apart";
}

TEST(ExactPaths, FirstPassThresholdAndWidthPerMode) {
  view_matrix e, a;
  e.n = a.n = 3;
  e.d = 5;
  a.d = 7;
  score_problem pb;
  pb.embedding = &e;
  pb.activity = &a;
  pb.params.threshold = 0.6;
  pb.params.threshold_activity = 0.9;
  const std::pair<view_mode, std::pair<double, std::int64_t>> want[] = {
      {view_mode::embedding, {0.6, 5}},
      {view_mode::activity, {0.9, 7}},
      {view_mode::both, {0.6, 5}},  // the first pass runs on the embedding
      {view_mode::fused, {0.6, 12}}};
  for (const auto& [mode, tw] : want) {
    pb.params.mode = mode;
    EXPECT_EQ(first_pass_threshold(pb.params), tw.first) << static_cast<int>(mode);
    EXPECT_EQ(first_pass_width(pb), tw.second) << static_cast<int>(mode);
  }
  EXPECT_STREQ(to_string(backend_kind::automatic), "auto");
  EXPECT_STREQ(to_string(backend_kind::cpu), "cpu");
  EXPECT_STREQ(to_string(backend_kind::cuda), "cuda");
  EXPECT_STREQ(to_string(precision::automatic), "auto");
  EXPECT_STREQ(to_string(precision::bf16), "bf16");
}

// ---- components

std::vector<std::int64_t> bfs_roots(std::int64_t n, const std::vector<edge>& edges) {
  std::vector<std::vector<std::int64_t>> adj(n);
  for (const auto& e : edges) adj[e.src].push_back(e.dst), adj[e.dst].push_back(e.src);
  std::vector<std::int64_t> root(n, -1);
  for (std::int64_t s = 0; s < n; ++s) {
    if (root[s] >= 0) continue;
    std::vector<std::int64_t> q = {s};
    root[s] = s;  // s is the smallest row of its component: rows are visited in order
    for (std::size_t h = 0; h < q.size(); ++h)
      for (auto t : adj[q[h]])
        if (root[t] < 0) root[t] = s, q.push_back(t);
  }
  return root;
}

TEST(ExactPaths, UnionFindWithTheDefaultThreadCount) {
  std::mt19937_64 rng(8);
  const std::int64_t n = 3000;
  std::vector<edge> edges;
  for (int k = 0; k < 2500; ++k) {
    std::int64_t a = rng() % n, b = rng() % n;
    if (a == b) continue;
    edges.push_back({std::min(a, b), std::max(a, b), 0.9f, 0.9f});
  }
  const auto want = bfs_roots(n, edges);
  EXPECT_EQ(component_roots(n, edges, 0), want);
  EXPECT_EQ(component_roots(n, visit_vector(edges), 0), want);
  std::vector<edge> none;
  EXPECT_EQ(component_roots(5, visit_vector(none), 0), (std::vector<std::int64_t>{0, 1, 2, 3, 4}));
}

// Reference top-k: per account, incident edges by strength (descending), ties by the other
// end's row (ascending); keep the first k; an edge stays when either end keeps it.
std::vector<edge> reference_topk(std::int64_t n, const std::vector<edge>& edges, std::int64_t k,
                                 view_mode mode, double w) {
  auto strength = [&](const edge& e) {
    const double se = e.sim_embedding, sa = e.sim_activity;
    switch (mode) {
      case view_mode::embedding:
        return se;
      case view_mode::activity:
        return sa;
      case view_mode::both:
        return std::min(se, sa);
      default:
        return w * se + (1 - w) * sa;
    }
  };
  std::vector<std::vector<std::pair<std::pair<double, std::int64_t>, std::size_t>>> inc(n);
  for (std::size_t x = 0; x < edges.size(); ++x) {
    inc[edges[x].src].push_back({{-strength(edges[x]), edges[x].dst}, x});
    inc[edges[x].dst].push_back({{-strength(edges[x]), edges[x].src}, x});
  }
  std::set<std::size_t> keep;
  for (auto& l : inc) {
    std::sort(l.begin(), l.end());
    for (std::size_t t = 0; t < l.size() && t < static_cast<std::size_t>(k); ++t)
      keep.insert(l[t].second);
  }
  std::vector<edge> out;
  for (auto x : keep) out.push_back(edges[x]);
  return out;
}

TEST(ExactPaths, TopkInEveryModeWithTies) {
  std::mt19937_64 rng(12);
  const std::int64_t n = 60;
  std::vector<edge> edges;
  // dense graph; similarities from a few levels, so that ties are common
  const float levels[] = {0.81f, 0.85f, 0.9f, 0.95f};
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = i + 1; j < n; ++j)
      if (rng() % 3 == 0) edges.push_back({i, j, levels[rng() % 4], levels[rng() % 4]});
  for (view_mode mode :
       {view_mode::embedding, view_mode::activity, view_mode::both, view_mode::fused}) {
    decision_params p;
    p.mode = mode;
    p.weight = 0.25;
    for (std::int64_t k : {1, 2, 3, 7, 100}) {
      const auto got = keep_topk(n, edges, k, p);
      const auto want = reference_topk(n, edges, k, mode, 0.25);
      ASSERT_EQ(got.size(), want.size()) << "mode " << static_cast<int>(mode) << " k " << k;
      for (std::size_t x = 0; x < got.size(); ++x)
        ASSERT_TRUE(got[x].src == want[x].src && got[x].dst == want[x].dst)
            << "mode " << static_cast<int>(mode) << " k " << k << " edge " << x;
    }
  }
  EXPECT_EQ(message_of([&] { keep_topk(n, edges, 0, decision_params{}); }), "--topk must be >= 1");
}

TEST(ExactPaths, TruthMatchTiesAndRecoveryBoundaries) {
  // found clusters (rows: planted truth, -1 organic), and what the matching must say:
  //  0: rows 0-3   7, 3, 7, 3     tie 2:2 -> best 3 (smaller id); precision 0.5, recall 1
  //  1: rows 4-13  5 x 9, -1      precision 0.9 exactly; planted 5 has 18: recall 0.5 exactly
  //                               -> recovered (both bounds inclusive)
  //  2: rows 14-15 organic        best -1
  //  3: rows 16-24 9 x 9          planted 9 has 10: recall 0.9, precision 1 -> recovered
  //  4: rows 25-34 11 x 8, -1 x 2 precision 0.8 -> not recovered
  //  5: rows 35-38 20, 21, 20, 21 tie the other way round -> best 20
  //  6: rows 39-40 30, 30         planted 30 has 5: precision 1, recall 0.4 -> not recovered
  std::vector<std::int64_t> labels(80, -1), truth(80, -1);
  for (int i = 0; i < 4; ++i) labels[i] = 0;
  truth[0] = 7, truth[1] = 3, truth[2] = 7, truth[3] = 3;
  for (int i = 4; i < 14; ++i) labels[i] = 1, truth[i] = i < 13 ? 5 : -1;
  for (int i = 60; i < 69; ++i) truth[i] = 5;  // the other 9 of planted 5, not found
  labels[14] = labels[15] = 2;
  for (int i = 16; i < 25; ++i) labels[i] = 3, truth[i] = 9;
  truth[69] = 9;
  for (int i = 25; i < 35; ++i) labels[i] = 4, truth[i] = i < 33 ? 11 : -1;
  for (int i = 35; i < 39; ++i) labels[i] = 5, truth[i] = i % 2 ? 20 : 21;
  labels[39] = labels[40] = 6;
  for (int i : {39, 40, 70, 71, 72}) truth[i] = 30;
  const truth_match m = match_truth(labels, 7, truth);
  EXPECT_EQ(m.best, (std::vector<std::int64_t>{3, 5, -1, 9, 11, 20, 30}));
  EXPECT_EQ(m.cluster_precision, (std::vector<double>{0.5, 0.9, 0.0, 1.0, 0.8, 0.5, 1.0}));
  EXPECT_EQ(m.cluster_recall, (std::vector<double>{1.0, 0.5, 0.0, 0.9, 1.0, 1.0, 0.4}));
  EXPECT_EQ(m.planted_clusters, 8);   // 3, 5, 7, 9, 11, 20, 21, 30
  EXPECT_EQ(m.planted_recovered, 2);  // 5 and 9
  EXPECT_EQ(m.flagged_accounts, 41);
  EXPECT_EQ(m.flagged_planted, 4 + 9 + 9 + 8 + 4 + 2);
  EXPECT_EQ(m.planted_accounts, 49);
  EXPECT_DOUBLE_EQ(m.precision, 36.0 / 41.0);
  EXPECT_DOUBLE_EQ(m.recall, 36.0 / 49.0);
  // nothing planted and nothing found: zeros, not NaN
  const truth_match z =
      match_truth(std::vector<std::int64_t>(4, -1), 0, std::vector<std::int64_t>(4, -1));
  EXPECT_EQ(z.precision, 0.0);
  EXPECT_EQ(z.recall, 0.0);
  EXPECT_EQ(z.planted_clusters, 0);
  EXPECT_THROW(match_truth(labels, 7, std::vector<std::int64_t>(3, -1)), runtime_failure);
}

TEST(ExactPaths, ClusterStatisticsWithoutUsableActivity) {
  // two clusters; the activity view holds only invalid (constant) rows for cluster 1
  const std::vector<std::int64_t> labels = {0, 0, 1, 1, 1, -1};
  const std::vector<edge> edges = {{0, 1, 0.9f, NAN}, {2, 3, 0.8f, NAN}, {3, 4, 0.7f, NAN}};
  view_matrix act;
  act.n = 6;
  act.d = 2;
  act.data = {1, -1, -1, 1, 0, 0, 0, 0, 0, 0, 1, 1};
  act.inv_norm = {1 / std::sqrt(2.0), 1 / std::sqrt(2.0), 0, 0, 0, 1 / std::sqrt(2.0)};
  act.valid = {1, 1, 0, 0, 0, 1};
  const cluster_table t = cluster_statistics(labels, 2, edges, &act);
  EXPECT_EQ(t.size, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(t.members, (std::vector<std::int64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(t.edges, (std::vector<std::int64_t>{1, 2}));
  EXPECT_DOUBLE_EQ(t.density[1], 2.0 / 3.0);
  EXPECT_NEAR(t.mean_sim_embedding[1], 0.75, 1e-7);
  EXPECT_NEAR(t.min_sim_embedding[1], 0.7, 1e-7);
  EXPECT_TRUE(std::isnan(t.mean_sim_activity[0]));  // the view is not used
  EXPECT_TRUE(std::isnan(t.synchrony[0])) << "opposite profiles: the mean profile is zero";
  EXPECT_TRUE(std::isnan(t.synchrony[1])) << "no valid activity row";
  // without the activity view at all; and a cluster without internal edges
  const cluster_table u = cluster_statistics({0, 0, -1}, 1, std::vector<edge>{}, nullptr);
  EXPECT_EQ(u.edges, (std::vector<std::int64_t>{0}));
  EXPECT_TRUE(std::isnan(u.min_sim_embedding[0]));
  EXPECT_TRUE(std::isnan(u.synchrony[0]));
  view_matrix no_columns;  // an activity view with no time bins: no synchrony either
  no_columns.n = 3;
  EXPECT_TRUE(
      std::isnan(cluster_statistics({0, 0, -1}, 1, std::vector<edge>{}, &no_columns).synchrony[0]));
}

// ---- the CPU backend called directly

struct small_problem {
  std::string dir;
  loaded_input in;
  test::dense e;
};

small_problem make_problem(const std::string& name, std::int64_t n) {
  small_problem s;
  s.dir = test::scratch_dir(name);
  s.e = test::clustered(n, 12, 21);
  test::write_input(s.dir + "/in.h5", n, &s.e, nullptr);
  load_options lo;
  lo.activity = false;
  s.in = load_input(s.dir + "/in.h5", lo);
  return s;
}

TEST(ExactPaths, CpuBackendDecidesOnlyItsRowRange) {
  const std::int64_t n = 90;
  small_problem s = make_problem("exact_rowrange", n);
  score_problem pb;
  pb.embedding = &s.in.embedding;
  pb.params.mode = view_mode::embedding;
  pb.params.threshold = 0.75;
  auto be = make_cpu_backend();
  EXPECT_EQ(be->name(), "cpu");
  // the reference: float64 cosines of the input rows, outside the contract's 1e-5 band
  auto run = [&](std::int64_t rb, std::int64_t re, std::int64_t want_pairs) {
    score_options o;
    o.threads = 2;
    o.tile_rows = 16;
    o.tile_cols = 32;
    o.row_begin = rb;
    o.row_end = re;
    score_stats st;
    const auto got = be->find_edges(pb, o, st);
    EXPECT_EQ(st.pairs, want_pairs) << rb << ".." << re;
    std::set<std::pair<std::int64_t, std::int64_t>> have;
    for (const auto& x : got) have.insert({x.src, x.dst});
    const std::int64_t lo = std::clamp<std::int64_t>(rb, 0, n);
    const std::int64_t hi = re < 0 ? n : std::clamp<std::int64_t>(re, lo, n);
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t j = i + 1; j < n; ++j) {
        const double r = test::sim64(s.e, i, j, false);
        if (std::isnan(r) || std::fabs(r - 0.75) < 1e-5) continue;
        const bool want = i >= lo && i < hi && r >= 0.75;
        EXPECT_EQ(have.count({i, j}) == 1, want) << i << "," << j << " r=" << r;
      }
    return got.size();
  };
  auto pairs = [&](std::int64_t a, std::int64_t b) {  // pairs (i, j), a <= i < b, i < j < n
    std::int64_t p = 0;
    for (std::int64_t i = a; i < b; ++i) p += n - 1 - i;
    return p;
  };
  EXPECT_GT(run(0, -1, pairs(0, n)), 0u);
  run(20, 47, pairs(20, 47));
  run(-5, 10, pairs(0, 10));       // a negative start is row 0
  run(80, 500, pairs(80, n));      // an end past n is n
  EXPECT_EQ(run(200, -1, 0), 0u);  // a start past n decides nothing
  EXPECT_EQ(run(50, 30, 0), 0u);   // an end before the start decides nothing
}

TEST(ExactPaths, CpuBackendChecksItsOptions) {
  small_problem s = make_problem("exact_options", 20);
  score_problem pb;
  pb.embedding = &s.in.embedding;
  pb.params.mode = view_mode::embedding;
  auto be = make_cpu_backend();
  score_stats st;
  auto with_tiles = [&](std::int64_t r, std::int64_t c) {
    score_options o;
    o.tile_rows = r;
    o.tile_cols = c;
    return message_of([&] { be->find_edges(pb, o, st); });
  };
  EXPECT_NE(with_tiles(0, 64).find("tile"), std::string::npos);
  EXPECT_NE(with_tiles(16, 0).find("tile"), std::string::npos);
  EXPECT_NE(with_tiles(16, 40).find("tile"), std::string::npos);
  EXPECT_EQ(with_tiles(16, 48), "(no exception)");
  // a mode whose view is missing or empty
  for (view_mode m : {view_mode::activity, view_mode::both, view_mode::fused}) {
    pb.params.mode = m;
    score_options o;
    EXPECT_NE(message_of([&] { be->find_edges(pb, o, st); }), "(no exception)")
        << static_cast<int>(m);
  }
  view_matrix empty;
  pb.params.mode = view_mode::embedding;
  pb.embedding = &empty;
  pb.activity = &s.in.embedding;
  score_options o;
  EXPECT_NE(message_of([&] { be->find_edges(pb, o, st); }), "(no exception)");
  // rows before the view's first row are not there: refused, not read
  view_matrix tail = s.in.embedding;
  tail.first = 10;
  tail.data.erase(tail.data.begin(), tail.data.begin() + 10 * tail.d);
  pb.embedding = &tail;
  pb.activity = nullptr;
  o.row_begin = 5;
  EXPECT_NE(message_of([&] { be->find_edges(pb, o, st); }), "(no exception)");
  o.row_begin = 10;
  EXPECT_EQ(message_of([&] { be->find_edges(pb, o, st); }), "(no exception)");
  // the same for the activity view (as the activity mode reads it), and a missing view
  pb.params.mode = view_mode::activity;
  pb.embedding = nullptr;
  pb.activity = &tail;
  o.row_begin = 5;
  EXPECT_NE(message_of([&] { be->find_edges(pb, o, st); }), "(no exception)");
  o.row_begin = 10;
  EXPECT_EQ(message_of([&] { be->find_edges(pb, o, st); }), "(no exception)");
  pb.activity = &empty;
  EXPECT_NE(message_of([&] { be->find_edges(pb, o, st); }), "(no exception)");
  pb.params.mode = view_mode::embedding;
  pb.activity = &tail;
  EXPECT_NE(message_of([&] { be->find_edges(pb, o, st); }), "(no exception)");
}

// A run stopped after its first batch (its rows gated by a row feed, a checkpoint after every
// batch), then resumed by the backend alone (no edge store: the resumed edges are returned with
// the new ones): the same edges as an uninterrupted run. Rows [0, 100) with 32 x 32 tiles: the
// last row block is partial and among the resumed units.
TEST(ExactPaths, CpuBackendResumesWithoutAnEdgeStore) {
  const std::int64_t n = 400;
  small_problem s = make_problem("exact_resume", n);
  const std::string ck = s.dir + "/ck";
  score_problem pb;
  pb.embedding = &s.in.embedding;
  pb.params.mode = view_mode::embedding;
  pb.params.threshold = 0.7;
  auto be = make_cpu_backend();
  score_options o;
  o.threads = 1;  // batches of 16 units
  o.tile_rows = 32;
  o.tile_cols = 32;
  o.row_end = 100;
  o.identity = "exact_resume";
  o.stop = [] { return stop_requested(); };  // as the detect job passes it
  o.prec = precision::fp32;
  score_stats full_st;
  const auto full = be->find_edges(pb, o, full_st);
  ASSERT_GT(full.size(), 20u);
  ASSERT_LT(full.back().src, 100);
  // units (row block bi, column chunk cj >= bi), in column order: 1 + 2 + 3 + 4 + 4 + 4 reach
  // the 16 of the first batch at column chunk 5, i.e. rows < 192
  std::int64_t units = 0;
  for (std::int64_t bi = 0; bi < 4; ++bi) units += (n + 31) / 32 - bi;

  row_feed feed(0, n);
  feed.publish(200);
  score_problem gated = pb;
  gated.feed = &feed;
  o.checkpoint_dir = ck;
  o.checkpoint_interval = 0;
  reset_stop_request();
  std::string stopped;
  std::thread t([&] {
    score_stats st;
    try {
      be->find_edges(gated, o, st);
    } catch (const interrupted_error& e) {
      stopped = e.what();
    }
  });
  for (int k = 0; k < 1000 && access((ck + "/manifest").c_str(), F_OK) != 0; ++k)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  request_stop();
  t.join();
  reset_stop_request();
  ASSERT_NE(stopped.find("a checkpoint was written"), std::string::npos) << stopped;

  o.resume = true;
  score_stats st;
  const auto resumed = be->find_edges(pb, o, st);
  EXPECT_GE(st.resumed_units, 16);
  EXPECT_LT(st.resumed_units, units);
  EXPECT_EQ(st.pairs, full_st.pairs);
  ASSERT_EQ(resumed.size(), full.size());
  for (std::size_t k = 0; k < full.size(); ++k)
    ASSERT_TRUE(resumed[k].src == full[k].src && resumed[k].dst == full[k].dst &&
                resumed[k].sim_embedding == full[k].sim_embedding)
        << k;
}

}  // namespace
