// End-to-end detection against a float64 brute-force reference, on awkward shapes, every view
// mode and precision, several tile sizes and thread counts.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <set>
#include <sstream>

#include "chorus/core/error.hpp"
#include "chorus/io/h5.hpp"
#include "chorus/job/detect.hpp"
#include "param_names.hpp"
#include "reference.hpp"
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
  double weight = 0.5;
  std::string transform = "none";
  std::int64_t topk = 0;
};

std::string describe(const config& c) {
  std::ostringstream o;
  o << "n=" << c.n << " d=" << c.d << " T=" << c.t << " view=" << c.view << " precision=" << c.prec
    << " tile=" << c.tile_rows << "x" << c.tile_cols << " threads=" << c.threads << " thr=" << c.thr
    << "/" << c.thr_act << " weight=" << c.weight << " transform=" << c.transform
    << " topk=" << c.topk << " seed=" << c.seed;
  return o.str();
}

// gtest prints a failing case's parameter with this instead of its bytes
void PrintTo(const config& c, std::ostream* os) { *os << describe(c); }

oracle::rows as_rows(const dense& m) { return {m.n, m.d, m.x}; }

oracle::params oracle_params(const config& c) {
  return oracle::params_of(c.view, c.thr, c.thr_act, c.weight, c.transform, c.topk);
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
  o.weight = c.weight;
  o.transform = parse_transform(c.transform);
  o.topk = c.topk;
  o.prec = parse_precision(c.prec);
  o.tile_rows = c.tile_rows;
  o.tile_cols = c.tile_cols;
  o.threads = c.threads;
  o.backend = backend_kind::cpu;
  detect_summary s = run_detect(o);
  result_edges got = read_results(o.output);

  const oracle::rows er = as_rows(e), ar = as_rows(a);
  const oracle::params p = oracle_params(c);
  const oracle::graph ref = oracle::decide_all(p, &er, &ar);
  if (c.topk > 0) {
    ASSERT_TRUE(ref.near.empty()) << "top-k cases need data with no pair in the band";
    // the library ranks float32-stored similarities: a k-th and (k+1)-th strength closer than
    // that rounding (but not equal) could be ordered either way, so the data must have none
    std::vector<std::vector<double>> inc(c.n);
    for (const auto& [e, sims] : ref.sims) {
      const double st = oracle::strength_of(p, sims.first, sims.second);
      inc[e.first].push_back(st), inc[e.second].push_back(st);
    }
    for (auto& v : inc) {
      if (std::int64_t(v.size()) <= c.topk) continue;
      std::sort(v.rbegin(), v.rend());
      const double gap = v[c.topk - 1] - v[c.topk];
      ASSERT_TRUE(gap == 0 || gap > 2e-6) << "a near-tie at the top-k boundary: " << gap;
    }
  }
  const auto problems = oracle::compare(ref, got.src, got.dst, got.labels);
  EXPECT_TRUE(problems.empty()) << oracle::join(problems);

  EXPECT_EQ(s.pairs, c.n < 2 ? 0 : c.n * (c.n - 1) / 2);
  EXPECT_EQ(s.edges, static_cast<std::int64_t>(got.src.size()));
  if (c.topk > 0) EXPECT_EQ(s.edges_before_topk, static_cast<std::int64_t>(ref.before_topk.size()));
  if (p.mode != oracle::view::activity) EXPECT_EQ(s.invalid_embedding, ref.invalid_embedding);
  if (p.mode != oracle::view::embedding) EXPECT_EQ(s.invalid_activity, ref.invalid_activity);
  // the similarities stored are the float64 ones (of the transformed activity), rounded to float
  const oracle::rows at = oracle::transformed(ar, p.tr);
  for (std::size_t k = 0; k < got.src.size(); ++k) {
    if (c.view != "activity") {
      EXPECT_NEAR(got.se[k], oracle::similarity(er, got.src[k], got.dst[k], false), 1e-6);
    } else {
      EXPECT_TRUE(std::isnan(got.se[k]));
    }
    if (c.view != "embedding") {
      EXPECT_NEAR(got.sa[k], oracle::similarity(at, got.src[k], got.dst[k], true), 1e-6);
    } else {
      EXPECT_TRUE(std::isnan(got.sa[k]));
    }
  }
  // (at threshold 1 every possible edge lies in the band: none is required)
  if (c.n >= 50 && c.thr > 0 && c.thr < 1)
    EXPECT_GT(got.src.size(), 0u) << "test data should produce edges";
  if (c.topk > 0) EXPECT_LT(ref.edges.size(), ref.before_topk.size()) << "top-k should prune";
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
    // fused at weights other than 0.5 (where swapping the two weights changes the score)
    for (double w : {0.3, 0.6, 0.9}) {
      config f{257, 24, 48, "fused", p, 32, 64, 2, 0.55, 0.8, 13};
      f.weight = w;
      v.push_back(f);
    }
  }
  // negative and extreme thresholds, one thread, odd tiles
  v.push_back({90, 12, 24, "embedding", "int8", 7, 21, 1, -0.2, 0.8, 9});
  v.push_back({90, 12, 24, "both", "int8", 7, 21, 1, -1.0, -1.0, 10});
  v.push_back({90, 12, 24, "embedding", "fp32", 5, 5, 3, 1.0, 0.8, 11});
  v.push_back({500, 64, 96, "both", "auto", 128, 256, 2, 0.8, 0.8, 12});
  // activity transforms, in every view that reads the activity
  for (const char* tr : {"log1p", "tfidf"})
    for (const char* view : {"activity", "both", "fused"}) {
      config t{257, 24, 48, view, "auto", 32, 64, 2, 0.6, 0.5, 15};
      t.transform = tr;
      t.weight = 0.7;
      v.push_back(t);
    }
  // top-k in every view (thresholds chosen so that no pair lies in the band)
  for (const char* view : {"embedding", "activity", "both", "fused"})
    for (std::int64_t k : {1, 3}) {
      const double thr = std::string(view) == "fused" ? 0.47 : 0.5;
      config t{200, 16, 48, view, k == 1 ? "int8" : "fp32", 32, 64, 2, thr, 0.3, 16};
      t.topk = k;
      t.weight = 0.7;
      v.push_back(t);
    }
  return v;
}

// The case's shape, view and precision, then what else sets it apart:
// n257_d24_T48_fused_fp32_w0p3_topk0, n257_d24_T48_both_auto_tfidf_w0p7_topk0
std::string case_name(const config& c) {
  std::ostringstream o;
  o << "n" << c.n << "_d" << c.d << "_T" << c.t << "_" << c.view << "_" << c.prec;
  if (c.transform != "none") o << "_" << c.transform;
  if (c.weight != 0.5) o << "_w" << name_number(c.weight);
  o << "_topk" << c.topk;
  return o.str();
}

INSTANTIATE_TEST_SUITE_P(Shapes, DetectVsReference, ::testing::ValuesIn(configs()),
                         [](const ::testing::TestParamInfo<config>& info) {
                           static const std::vector<std::string> names =
                               unique_case_names(configs(), case_name);
                           return names.at(info.index);
                         });

// Pairs built to lie just above the threshold (3e-5 to 2e-3, outside the contract's band)
// between a binary "bag of hashtags" row, which int8 quantises exactly, and a spiky row, which it
// quantises coarsely. The spiky row comes first, so only the int8 margin's e_i * m_j term covers
// its quantisation error: every precision must keep every such pair.
TEST(Detect, PairsJustAboveTheThresholdSurviveEveryFirstPass) {
  const std::string dir = scratch_dir("above");
  const std::int64_t d = 48, groups = 24, per = 8, n = groups * (per + 1);
  const double thr = 0.7;
  std::mt19937_64 rng(31);
  std::normal_distribution<double> g;
  dense e{n, d, std::vector<double>(n * d)};
  for (std::int64_t grp = 0; grp < groups; ++grp) {
    const std::int64_t t = grp * (per + 1) + per;  // the template row, after its partners
    std::vector<double> b(d);
    double bn = 0;
    for (std::int64_t k = 0; k < d; ++k) b[k] = (rng() % 3 == 0 || k == grp % d) ? 1.0 : 0.0;
    for (double x : b) bn += x * x;
    for (std::int64_t k = 0; k < d; ++k) e.x[t * d + k] = b[k], b[k] /= std::sqrt(bn);
    for (std::int64_t r = 0; r < per; ++r) {
      // u: spiky noise orthogonal to b; x = cos(theta) b + sin(theta) u, cos(theta) = thr + delta
      std::vector<double> u(d);
      for (std::int64_t k = 0; k < d; ++k) u[k] = g(rng) * (k % 7 == r % 7 ? 12.0 : 1.0);
      double ub = 0, un = 0;
      for (std::int64_t k = 0; k < d; ++k) ub += u[k] * b[k];
      for (std::int64_t k = 0; k < d; ++k) u[k] -= ub * b[k];
      for (double x : u) un += x * x;
      const double c = thr + 3e-5 * std::pow(2.0, double(r % 7)), sn = std::sqrt(1 - c * c);
      for (std::int64_t k = 0; k < d; ++k)
        e.x[(grp * (per + 1) + r) * d + k] = c * b[k] + sn * u[k] / std::sqrt(un);
    }
  }
  write_input(dir + "/in.h5", n, &e, nullptr);
  oracle::params p;
  p.mode = oracle::view::embedding;
  p.thr = thr;
  const oracle::rows er = as_rows(e);
  const oracle::graph ref = oracle::decide_all(p, &er, nullptr);
  ASSERT_GE(ref.edges.size(), std::size_t(groups * per)) << "every designed pair is an edge";
  for (const char* prec : {"int8", "bf16", "fp32"}) {
    SCOPED_TRACE(prec);
    detect_options o;
    o.input = dir + "/in.h5";
    o.output = dir + "/out_" + prec + ".h5";
    o.view = "embedding";
    o.threshold = thr;
    o.prec = parse_precision(prec);
    o.tile_rows = 16;
    o.tile_cols = 64;
    run_detect(o);
    const result_edges got = read_results(o.output);
    const auto problems = oracle::compare(ref, got.src, got.dst, got.labels);
    EXPECT_TRUE(problems.empty()) << oracle::join(problems);
  }
}

// Generated election data (planted clusters, topic decoys) against the sampled reference: every
// pair touching 250 rows decided in float64, and labels canonical for the edges found.
TEST(Detect, GeneratedDataMatchesSampledReference) {
  const std::string dir = scratch_dir("gen_ref");
  const generate_options g = generated(dir + "/in.h5", 6000, 32, 96, 10, 77);
  h5::handle f = h5::open_read(g.out);
  oracle::rows er{g.accounts, g.dim, std::vector<double>(g.accounts * g.dim)};
  oracle::rows ar{g.accounts, g.bins, std::vector<double>(g.accounts * g.bins)};
  h5::read_rows<double>(h5::open_dataset(f, "/embedding"), 0, g.accounts, er.x.data());
  h5::read_rows<double>(h5::open_dataset(f, "/activity"), 0, g.accounts, ar.x.data());
  std::vector<std::int64_t> sample;
  for (std::int64_t k = 0; k < 250; ++k) sample.push_back(k * g.accounts / 250 + k % 7);
  for (const char* view : {"both", "fused", "embedding"}) {
    SCOPED_TRACE(view);
    detect_options o;
    o.input = g.out;
    o.output = dir + "/out_" + view + ".h5";
    o.view = view;
    o.weight = 0.6;
    o.threshold = std::string(view) == "fused" ? 0.7 : 0.8;
    run_detect(o);
    const result_edges got = read_results(o.output);
    oracle::params p;
    p.mode = oracle::view_of(view);
    p.thr = o.threshold;
    p.weight = 0.6;
    const auto ref = oracle::decide_sampled(p, &er, &ar, sample);
    EXPECT_GT(ref.edges.size(), 50u) << "the sample should hold planted edges";
    const auto problems = oracle::compare_sampled(ref, sample, got.src, got.dst, got.labels);
    EXPECT_TRUE(problems.empty()) << oracle::join(problems);
  }
}

// The reference's comparisons can fail: a dropped edge, an added edge, or labels that are not
// canonical are each reported, by the full and by the sampled comparison.
TEST(Reference, ComparisonsReportCorruptedResults) {
  const std::int64_t n = 120;
  dense e = clustered(n, 12, 4);
  const oracle::rows er = as_rows(e);
  oracle::params p;
  p.mode = oracle::view::embedding;
  p.thr = 0.8;
  const oracle::graph ref = oracle::decide_all(p, &er, nullptr);
  ASSERT_GT(ref.edges.size(), 20u);
  std::vector<std::int64_t> src, dst;
  for (const auto& [a, b] : ref.edges) src.push_back(a), dst.push_back(b);
  const std::vector<std::int64_t> labels = oracle::canonical_labels(n, ref.edges);
  std::vector<std::int64_t> all(n);
  std::iota(all.begin(), all.end(), 0);
  const oracle::graph sref = oracle::decide_sampled(p, &er, nullptr, all);
  EXPECT_TRUE(oracle::compare(ref, src, dst, labels).empty());
  EXPECT_TRUE(oracle::compare_sampled(sref, all, src, dst, labels).empty());
  // a far-from-threshold edge dropped
  std::size_t drop = 0;
  while (drop < src.size() && ref.near.count({src[drop], dst[drop]})) ++drop;
  ASSERT_LT(drop, src.size());
  auto s2 = src, d2 = dst;
  s2.erase(s2.begin() + drop), d2.erase(d2.begin() + drop);
  std::set<oracle::pair_t> fewer = ref.edges;
  fewer.erase({src[drop], dst[drop]});
  const auto l_fewer = oracle::canonical_labels(n, fewer);  // labels consistent with the edges
  const auto dropped = oracle::compare(ref, s2, d2, l_fewer);
  ASSERT_FALSE(dropped.empty());
  EXPECT_EQ(dropped[0].rfind("missed edge", 0), 0u) << oracle::join(dropped);
  const auto dropped_s = oracle::compare_sampled(sref, all, s2, d2, l_fewer);
  ASSERT_FALSE(dropped_s.empty());
  EXPECT_EQ(dropped_s[0].rfind("missed edge", 0), 0u) << oracle::join(dropped_s);
  // labels of another (valid) numbering
  auto l2 = labels;
  for (auto& l : l2)
    if (l == 0)
      l = 1;
    else if (l == 1)
      l = 0;
  EXPECT_FALSE(oracle::compare(ref, src, dst, l2).empty());
  EXPECT_FALSE(oracle::compare_sampled(sref, all, src, dst, l2).empty());
  // an extra edge between rows far apart
  std::int64_t far_i = -1, far_j = -1;
  for (std::int64_t i = 0; i < n && far_i < 0; ++i)
    for (std::int64_t j = i + 1; j < n; ++j)
      if (oracle::similarity(er, i, j, false) < 0) {
        far_i = i, far_j = j;
        break;
      }
  ASSERT_GE(far_i, 0);
  std::set<oracle::pair_t> more = ref.edges;
  more.insert({far_i, far_j});
  std::vector<std::int64_t> s3, d3;
  for (const auto& [a, b] : more) s3.push_back(a), d3.push_back(b);
  EXPECT_FALSE(oracle::compare(ref, s3, d3, oracle::canonical_labels(n, more)).empty());
  EXPECT_FALSE(
      oracle::compare_sampled(sref, all, s3, d3, oracle::canonical_labels(n, more)).empty());
}

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
