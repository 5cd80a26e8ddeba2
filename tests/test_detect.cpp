// End-to-end detection against a float64 brute-force reference, on awkward shapes, every view
// mode and precision, several tile sizes and thread counts.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "chorus/components.hpp"
#include "chorus/detect.hpp"
#include "chorus/error.hpp"
#include "test_support.hpp"

using namespace chorus;
using namespace chorus::test;

namespace {

struct config {
  std::int64_t n, d, t;
  std::string view;
  std::string prec;
  std::int64_t tile_rows, tile_cols;
  int threads;
  double thr, thr_act;
  std::uint64_t seed;
};

std::string describe(const config& c) {
  std::ostringstream o;
  o << "n=" << c.n << " d=" << c.d << " T=" << c.t << " view=" << c.view << " precision=" << c.prec
    << " tile=" << c.tile_rows << "x" << c.tile_cols << " threads=" << c.threads << " thr=" << c.thr
    << "/" << c.thr_act << " seed=" << c.seed;
  return o.str();
}

// Reference: the float64 decision for every pair, and the pairs too close to call.
struct reference {
  std::set<std::pair<std::int64_t, std::int64_t>> edges, near;
};

reference brute_force(const config& c, const dense& e, const dense& a, double weight = 0.5) {
  reference r;
  decision_params p;
  p.mode = parse_view(c.view);
  p.threshold = c.thr;
  p.threshold_activity = c.thr_act;
  p.weight = weight;
  const bool ue = p.mode != view_mode::activity, ua = p.mode != view_mode::embedding;
  for (std::int64_t i = 0; i < c.n; ++i)
    for (std::int64_t j = i + 1; j < c.n; ++j) {
      const double se = ue ? sim64(e, i, j, false) : 0.0;
      const double sa = ua ? sim64(a, i, j, true) : 0.0;
      if (std::isnan(se) || std::isnan(sa)) continue;
      const bool near_e = ue && p.mode != view_mode::fused && std::fabs(se - c.thr) <= 1e-5;
      const bool near_a = ua && p.mode != view_mode::fused && std::fabs(sa - c.thr_act) <= 1e-5;
      const bool near_f =
          p.mode == view_mode::fused && std::fabs(weight * se + (1 - weight) * sa - c.thr) <= 1e-5;
      if (near_e || near_a || near_f) r.near.insert({i, j});
      if (decide(p, se, sa)) r.edges.insert({i, j});
    }
  return r;
}

// Canonical labels from an edge set (reference for components).
std::vector<std::int64_t> labels_of(std::int64_t n,
                                    const std::set<std::pair<std::int64_t, std::int64_t>>& es) {
  std::vector<edge> v;
  for (auto& [a, b] : es) v.push_back({a, b, 0, 0});
  std::int64_t k;
  return canonical_labels(component_roots(n, v, 1), k);
}

class DetectVsReference : public ::testing::TestWithParam<config> {};

TEST_P(DetectVsReference, SameEdgesAndComponents) {
  const config c = GetParam();
  SCOPED_TRACE(describe(c));
  const std::string dir = scratch_dir("ref");
  dense e = clustered(c.n, c.d, c.seed);
  dense a = activity_counts(c.n, c.t, c.seed + 1);
  write_input(dir + "/in.h5", c.n, &e, &a);
  detect_options o;
  o.input = dir + "/in.h5";
  o.output = dir + "/out.h5";
  o.view = c.view;
  o.threshold = c.thr;
  o.threshold_activity = c.thr_act;
  o.prec = parse_precision(c.prec);
  o.tile_rows = c.tile_rows;
  o.tile_cols = c.tile_cols;
  o.threads = c.threads;
  o.backend = backend_kind::cpu;
  detect_summary s = run_detect(o);
  result_edges got = read_results(o.output);
  reference ref = brute_force(c, e, a);

  std::set<std::pair<std::int64_t, std::int64_t>> mine;
  for (std::size_t k = 0; k < got.src.size(); ++k) {
    ASSERT_LT(got.src[k], got.dst[k]);
    if (k)
      ASSERT_TRUE(std::make_pair(got.src[k - 1], got.dst[k - 1]) <
                  std::make_pair(got.src[k], got.dst[k]));
    mine.insert({got.src[k], got.dst[k]});
  }
  std::int64_t differ = 0;
  for (auto& p : mine)
    if (!ref.edges.count(p)) {
      ++differ;
      EXPECT_TRUE(ref.near.count(p)) << "extra edge " << p.first << "-" << p.second;
    }
  for (auto& p : ref.edges)
    if (!mine.count(p)) {
      ++differ;
      EXPECT_TRUE(ref.near.count(p)) << "missed edge " << p.first << "-" << p.second;
    }
  EXPECT_EQ(s.pairs, c.n < 2 ? 0 : c.n * (c.n - 1) / 2);
  if (differ == 0) EXPECT_EQ(got.labels, labels_of(c.n, ref.edges));
  // the similarities stored are the float64 ones, rounded to float
  for (std::size_t k = 0; k < got.src.size(); ++k) {
    if (c.view != "activity") {
      const double se = sim64(e, got.src[k], got.dst[k], false);
      EXPECT_NEAR(got.se[k], se, 1e-6);
    } else {
      EXPECT_TRUE(std::isnan(got.se[k]));
    }
    if (c.view != "embedding") {
      EXPECT_NEAR(got.sa[k], sim64(a, got.src[k], got.dst[k], true), 1e-6);
    } else {
      EXPECT_TRUE(std::isnan(got.sa[k]));
    }
  }
  if (c.n >= 50 && c.thr > 0) EXPECT_GT(mine.size(), 0u) << "test data should produce edges";
}

std::vector<config> configs() {
  std::vector<config> v;
  // awkward shapes
  for (const char* p : {"fp32", "bf16", "int8"}) {
    v.push_back({1, 5, 4, "embedding", p, 512, 2048, 2, 0.8, 0.8, 1});
    v.push_back({2, 3, 4, "embedding", p, 512, 2048, 2, 0.8, 0.8, 2});
    v.push_back({37, 1, 4, "embedding", p, 8, 16, 2, 0.8, 0.8, 3});  // d = 1: sims are +-1
    v.push_back(
        {301, 16, 24, "embedding", p, 32, 64, 2, 0.8, 0.8, 4});  // N not a multiple of tiles
    v.push_back({120, 1000, 24, "embedding", p, 16, 48, 2, 0.9, 0.8, 5});  // d = 1000 > N
    v.push_back({257, 24, 48, "activity", p, 16, 32, 2, 0.8, 0.6, 6});
    v.push_back({257, 24, 48, "both", p, 64, 128, 2, 0.7, 0.5, 7});
    v.push_back({257, 24, 48, "fused", p, 64, 64, 2, 0.6, 0.8, 8});
  }
  // negative and extreme thresholds, one thread, odd tiles
  v.push_back({90, 12, 24, "embedding", "int8", 7, 21, 1, -0.2, 0.8, 9});
  v.push_back({90, 12, 24, "both", "int8", 7, 21, 1, -1.0, -1.0, 10});
  v.push_back({90, 12, 24, "embedding", "fp32", 5, 5, 3, 1.0, 0.8, 11});
  v.push_back({500, 64, 96, "both", "auto", 128, 256, 2, 0.8, 0.8, 12});
  return v;
}

INSTANTIATE_TEST_SUITE_P(Shapes, DetectVsReference, ::testing::ValuesIn(configs()),
                         [](const auto& info) { return "case" + std::to_string(info.index); });

// Labels and edges do not depend on the thread count, tile size or precision.
TEST(Detect, InvariantToThreadsTilesPrecision) {
  const std::string dir = scratch_dir("inv");
  const std::int64_t n = 700;
  dense e = clustered(n, 40, 99);
  dense a = activity_counts(n, 64, 100);
  write_input(dir + "/in.h5", n, &e, &a);
  std::vector<std::int64_t> first_labels;
  std::set<std::pair<std::int64_t, std::int64_t>> first_edges;
  int run = 0;
  for (int threads : {1, 2, 3})
    for (auto [r, cc] : {std::pair<int, int>{512, 2048}, {16, 48}, {100, 100}})
      for (const char* p : {"fp32", "int8", "bf16"}) {
        detect_options o;
        o.input = dir + "/in.h5";
        o.output = dir + "/out" + std::to_string(run++) + ".h5";
        o.view = "embedding";
        o.threads = threads;
        o.tile_rows = r;
        o.tile_cols = cc;
        o.prec = parse_precision(p);
        run_detect(o);
        auto got = read_results(o.output);
        std::set<std::pair<std::int64_t, std::int64_t>> es;
        for (std::size_t k = 0; k < got.src.size(); ++k) es.insert({got.src[k], got.dst[k]});
        if (first_labels.empty()) {
          first_labels = got.labels;
          first_edges = es;
          ASSERT_GT(es.size(), 10u);
        } else {
          EXPECT_EQ(got.labels, first_labels)
              << "threads " << threads << " tile " << r << "x" << cc << " " << p;
          EXPECT_EQ(es, first_edges)
              << "threads " << threads << " tile " << r << "x" << cc << " " << p;
        }
      }
}

// --topk keeps, per account, its k strongest edges; an edge stays when either end keeps it.
TEST(Detect, TopkMatchesReference) {
  const std::string dir = scratch_dir("topk");
  const std::int64_t n = 300;
  dense e = clustered(n, 20, 5);
  write_input(dir + "/in.h5", n, &e, nullptr);
  for (std::int64_t k : {1, 2, 5}) {
    detect_options o;
    o.input = dir + "/in.h5";
    o.output = dir + "/out" + std::to_string(k) + ".h5";
    o.view = "embedding";
    o.threshold = 0.7;
    o.topk = k;
    detect_summary s = run_detect(o);
    auto got = read_results(o.output);
    // reference
    std::vector<std::vector<std::pair<double, std::int64_t>>> inc(n);
    std::vector<std::pair<std::int64_t, std::int64_t>> all;
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t j = i + 1; j < n; ++j) {
        const double s64 = sim64(e, i, j, false);
        if (!(s64 >= 0.7)) continue;
        all.push_back({i, j});
        inc[i].push_back({-s64, j});
        inc[j].push_back({-s64, i});
      }
    std::set<std::pair<std::int64_t, std::int64_t>> keep;
    for (std::int64_t i = 0; i < n; ++i) {
      std::sort(inc[i].begin(), inc[i].end());
      for (std::size_t t = 0; t < inc[i].size() && t < std::size_t(k); ++t) {
        const std::int64_t j = inc[i][t].second;
        keep.insert({std::min(i, j), std::max(i, j)});
      }
    }
    std::set<std::pair<std::int64_t, std::int64_t>> mine;
    for (std::size_t t = 0; t < got.src.size(); ++t) mine.insert({got.src[t], got.dst[t]});
    EXPECT_EQ(mine, keep) << "k=" << k;
    EXPECT_EQ(s.edges_before_topk, static_cast<std::int64_t>(all.size()));
    EXPECT_LT(mine.size(), all.size());
  }
}

TEST(Detect, MaxEdgesStopsWithLimitError) {
  const std::string dir = scratch_dir("maxe");
  dense e = clustered(200, 8, 3);
  write_input(dir + "/in.h5", 200, &e, nullptr);
  detect_options o;
  o.input = dir + "/in.h5";
  o.output = dir + "/out.h5";
  o.threshold = -1;
  o.max_edges = 100;
  try {
    run_detect(o);
    FAIL() << "expected limit_error";
  } catch (const limit_error& err) {
    EXPECT_NE(std::string(err.what()).find("--max-edges"), std::string::npos) << err.what();
    EXPECT_NE(std::string(err.what()).find("--topk"), std::string::npos) << err.what();
  }
  EXPECT_NE(access((dir + "/out.h5").c_str(), F_OK), 0) << "no results file after a failure";
}

TEST(Detect, ZeroRowsAreCountedAndNeverLinked) {
  const std::string dir = scratch_dir("zero");
  dense e = clustered(100, 6, 8, true);
  for (std::int64_t k = 0; k < 6; ++k) e.x[10 * 6 + k] = e.x[11 * 6 + k] = 0;  // two zero rows
  write_input(dir + "/in.h5", 100, &e, nullptr);
  detect_options o;
  o.input = dir + "/in.h5";
  o.output = dir + "/out.h5";
  o.threshold = -1;  // every valid pair is an edge
  detect_summary s = run_detect(o);
  std::int64_t zero_rows = 0;
  for (std::int64_t i = 0; i < 100; ++i) {
    bool z = true;
    for (std::int64_t k = 0; k < 6; ++k) z &= e.at(i, k) == 0;
    zero_rows += z;
  }
  EXPECT_EQ(s.invalid_embedding, zero_rows);
  auto got = read_results(o.output);
  const std::int64_t valid = 100 - zero_rows;
  EXPECT_EQ(static_cast<std::int64_t>(got.src.size()), valid * (valid - 1) / 2);
  EXPECT_EQ(got.labels[10], -1);
  EXPECT_EQ(got.labels[11], -1);
}

}  // namespace
