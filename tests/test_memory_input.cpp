// An input held in memory (the Python package's arrays) against the same values in a file: the
// same prepared rows bit for bit, the same results, the same refusals.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "chorus/core/error.hpp"
#include "chorus/generate/posts.hpp"
#include "chorus/ingest/ingest.hpp"
#include "chorus/io/h5.hpp"
#include "chorus/io/input.hpp"
#include "chorus/job/detect.hpp"
#include "cli_support.hpp"
#include "test_support.hpp"

namespace chorus::test {
namespace {

// The arrays write_input puts in a file (ids 1000 + 3 row, float32 embedding, int32 counts),
// held as the package holds them: float32 embedding rows with padding between rows (a strided
// numpy view), float64 activity.
struct arrays {
  std::vector<std::int64_t> ids;
  std::vector<float> emb;  // n x (d + pad)
  std::vector<double> act;
  memory_input in;
};

arrays as_arrays(const dense& e, const dense& a, std::int64_t pad) {
  arrays r;
  const std::int64_t n = e.n;
  for (std::int64_t i = 0; i < n; ++i) r.ids.push_back(1000 + i * 3);
  r.emb.assign(static_cast<std::size_t>(n * (e.d + pad)), -7.0f);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t k = 0; k < e.d; ++k)
      r.emb[i * (e.d + pad) + k] = static_cast<float>(e.at(i, k));
  for (double v : a.x) r.act.push_back(static_cast<double>(std::lround(v)));
  r.in.ids = r.ids;
  r.in.embedding = {r.emb.data(), memory_matrix::element::f32, n, e.d, e.d + pad};
  r.in.activity = {r.act.data(), memory_matrix::element::f64, n, a.d, a.d};
  return r;
}

void expect_same_view(const view_matrix& f, const view_matrix& m) {
  ASSERT_EQ(f.n, m.n);
  ASSERT_EQ(f.d, m.d);
  EXPECT_EQ(f.valid, m.valid);
  EXPECT_EQ(f.inv_norm, m.inv_norm);
  EXPECT_EQ(f.invalid_rows, m.invalid_rows);
  ASSERT_EQ(f.data.size(), m.data.size());
  for (std::size_t k = 0; k < f.data.size(); ++k)
    ASSERT_EQ(f.data[k], m.data[k]) << "element " << k;  // bit for bit (no NaN in views)
}

class MemoryInputTransform : public ::testing::TestWithParam<activity_transform> {};

TEST_P(MemoryInputTransform, SameRowsAsTheFile) {
  const std::string dir = scratch_dir("memory_rows");
  const dense e = clustered(203, 24, 5), a = activity_counts(203, 40, 6);
  write_input(dir + "/in.h5", e.n, &e, &a);
  arrays m = as_arrays(e, a, 3);
  load_options lo;
  lo.transform = GetParam();
  lo.min_activity = 70;
  lo.block_rows = 50;
  const loaded_input f = load_input(dir + "/in.h5", lo), g = load_input(m.in, lo);
  EXPECT_EQ(f.ids, g.ids);
  expect_same_view(f.embedding, g.embedding);
  expect_same_view(f.activity, g.activity);
  EXPECT_EQ(f.below_min_activity, g.below_min_activity);
  EXPECT_GT(g.below_min_activity, 0);
  // int32 counts (as chorus ingest writes them) read in place: the same rows
  std::vector<std::int32_t> counts(m.act.begin(), m.act.end());
  memory_input m32 = m.in;
  m32.activity.data = counts.data();
  m32.activity.type = memory_matrix::element::i32;
  expect_same_view(f.activity, load_input(m32, lo).activity);
  EXPECT_NE(g.checksum, 0u);
  // the checksum follows the values
  m.emb[5] += 1.0f;
  EXPECT_NE(memory_checksum(m.in), g.checksum);
}

INSTANTIATE_TEST_SUITE_P(Transforms, MemoryInputTransform,
                         ::testing::Values(activity_transform::none, activity_transform::log1p,
                                           activity_transform::tfidf),
                         [](const auto& info) { return std::string(to_string(info.param)); });

// `m` with `k` rows of independent noise in front: accounts without an edge, so that the
// accounts with one do not start at row 0.
dense noise_first(const dense& m, std::int64_t k, std::uint64_t seed, double scale) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g;
  dense r{m.n + k, m.d, {}};
  for (std::int64_t i = 0; i < k * m.d; ++i) r.x.push_back(std::fabs(scale * g(rng)) + 1e-3);
  r.x.insert(r.x.end(), m.x.begin(), m.x.end());
  return r;
}

TEST(MemoryInput, DetectGivesTheFilesResultsAndEvidence) {
  const std::string dir = scratch_dir("memory_detect");
  const dense e = noise_first(clustered(240, 16, 8), 40, 1, 1.0),
              a = noise_first(activity_counts(240, 48, 9), 40, 2, 3.0);
  write_input(dir + "/in.h5", e.n, &e, &a);
  arrays m = as_arrays(e, a, 0);
  for (const char* view : {"embedding", "activity", "both", "fused"}) {
    detect_options o;
    o.input = dir + "/in.h5";
    o.output = dir + "/file.h5";
    o.view = view;
    o.threshold = 0.8;
    o.threshold_activity = 0.6;
    o.force = true;
    o.backend = backend_kind::cpu;
    const detect_summary sf = run_detect(o);
    o.memory = &m.in;
    o.input.clear();
    o.output = dir + "/mem.h5";
    const detect_summary sm = run_detect(o);
    EXPECT_EQ(sf.edges, sm.edges) << view;
    EXPECT_GT(sm.edges, 0) << view;
    EXPECT_EQ(sm.input, "<arrays>");
    const result_edges rf = read_results(dir + "/file.h5"), rm = read_results(dir + "/mem.h5");
    EXPECT_EQ(rf.labels, rm.labels) << view;
    EXPECT_EQ(rf.src, rm.src) << view;
    EXPECT_EQ(rf.dst, rm.dst) << view;
    EXPECT_EQ(rf.se.size(), rm.se.size());
    for (std::size_t k = 0; k < rf.se.size(); ++k) {
      EXPECT_TRUE(rf.se[k] == rm.se[k] || (std::isnan(rf.se[k]) && std::isnan(rm.se[k])));
      EXPECT_TRUE(rf.sa[k] == rm.sa[k] || (std::isnan(rf.sa[k]) && std::isnan(rm.sa[k])));
    }
    // the evidence is read from the arrays: the same co-active bins
    const h5::handle ff = h5::open_read(dir + "/file.h5"), fm = h5::open_read(dir + "/mem.h5");
    for (const char* ds : {"/evidence/edge_coactive_count", "/evidence/edge_coactive_bins",
                           "/evidence/cluster_member_ids"}) {
      if (!h5::exists(ff, ds)) continue;
      EXPECT_EQ(h5::read_all<std::int64_t>(h5::open_dataset(ff, ds)),
                h5::read_all<std::int64_t>(h5::open_dataset(fm, ds)))
          << view << " " << ds;
    }
    EXPECT_TRUE(h5::exists(fm, "/evidence/edge_coactive_count")) << view;
    EXPECT_GT(*std::min_element(rm.src.begin(), rm.src.end()), 0) << view;  // row 0 has none
  }
}

TEST(MemoryInput, RefusesWhatTheFileWouldRefuse) {
  dense e = clustered(30, 8, 2);
  const dense a = activity_counts(30, 12, 3);
  arrays m = as_arrays(e, a, 0);
  load_options lo;
  m.in.ids[7] = m.in.ids[3];
  EXPECT_EQ(message_of([&] { load_input(m.in, lo); }), "duplicate account id 1009 at rows 3 and 7");
  m.in.ids[7] = 1021;
  m.emb[4 * 8 + 2] = NAN;
  EXPECT_EQ(message_of([&] { load_input(m.in, lo); }),
            "/embedding row 4 (account id 1012) contains NaN or Inf: clean the input or drop the "
            "account");
  m.emb[4 * 8 + 2] = 1;
  m.in.embedding.rows = 29;
  EXPECT_EQ(message_of([&] { load_input(m.in, lo); }),
            "embedding has 29 rows but there are 30 account ids");
  m.in.embedding.rows = 30;
  m.in.ids.clear();
  m.in.string_ids.assign(30, "a");
  for (int i = 0; i < 30; ++i) m.in.string_ids[i] += std::to_string(i);
  m.in.string_ids[9] = "a3";
  EXPECT_EQ(message_of([&] { load_input(m.in, lo); }), "duplicate account id 'a3' at rows 3 and 9");
  m.in.string_ids[9] = "a9";
  m.in.handles.assign(30, "h");
  m.in.handles[2] = "bad\xff";
  EXPECT_NE(message_of([&] { load_input(m.in, lo); }).find("/accounts/handle row 2"),
            std::string::npos);
}

TEST(MemoryInput, CoactionViewsNeedPosts) {
  const dense e = clustered(20, 8, 2), a = activity_counts(20, 12, 3);
  arrays m = as_arrays(e, a, 0);
  detect_options o;
  o.memory = &m.in;
  o.output = scratch_dir("memory_coaction") + "/r.h5";
  o.view = "co_repost";
  EXPECT_NE(message_of([&] { run_detect(o); }).find("need posts"), std::string::npos);
}

}  // namespace
}  // namespace chorus::test

namespace chorus::test {
namespace {

// A stop asked for after the last poll of scoring still ends the job before its results exist.
TEST(StopBetweenPhases, DenseJobStopsBeforeComponentsAndWritesNothing) {
  const std::string dir = scratch_dir("stop_phases");
  const dense e = clustered(120, 8, 4), a = activity_counts(120, 12, 5);
  arrays m = as_arrays(e, a, 0);
  detect_options o;
  o.memory = &m.in;
  o.output = dir + "/r.h5";
  o.view = "embedding";
  bool scored = false;
  o.progress = [&](const char* stage, std::int64_t done, std::int64_t total) {
    if (std::string(stage) == "score" && done == total) scored = true;
  };
  o.stop = [&] { return scored; };
  EXPECT_EQ(message_of([&] { run_detect(o); }),
            "stopped before finding the components; nothing was written");
  EXPECT_FALSE(cli_test::exists(o.output));
  try {
    scored = false;
    run_detect(o);
    FAIL() << "no stop";
  } catch (const interrupted_error& x) {
    EXPECT_EQ(static_cast<int>(x.code()), 4);
  }
}

TEST(StopBetweenPhases, CoactionJobStopsBeforeComponents) {
  const std::string dir = scratch_dir("stop_coaction");
  posts_options p;
  p.accounts = 300, p.days = 2, p.campaigns = 2, p.out = dir + "/posts.csv";
  generate_posts(p);
  ingest::ingest_options io;
  io.inputs = {p.out};
  io.out = dir + "/in.h5";
  io.min_posts = 1;
  ingest::run_ingest(io);
  detect_options o;
  o.input = io.out;
  o.output = dir + "/r.h5";
  o.view = "co_repost";
  int polls = 0;
  o.stop = [&] { return ++polls > 1; };  // the first check passes, the next stops
  EXPECT_EQ(message_of([&] { run_detect(o); }),
            "stopped before finding the components; nothing was written");
  EXPECT_FALSE(cli_test::exists(o.output));
}

}  // namespace
}  // namespace chorus::test
