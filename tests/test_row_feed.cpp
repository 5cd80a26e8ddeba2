// Reading overlapped with scoring: the row feed, read_views block by block, the CPU backend
// scoring while rows arrive (same edges as with every row present), and detect with small read
// blocks (same results; a bad row late in the file still fails the run cleanly).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <sstream>
#include <thread>

#include "chorus/core/error.hpp"
#include "chorus/io/input.hpp"
#include "chorus/io/row_feed.hpp"
#include "chorus/job/detect.hpp"
#include "chorus/scan/backend.hpp"
#include "chorus/scan/checkpoint.hpp"
#include "test_support.hpp"

using namespace chorus;
using namespace chorus::test;

namespace {

TEST(RowFeed, PublishWaitFailCancel) {
  row_feed f(3, 100);
  EXPECT_EQ(f.ready(), 3);
  f.wait(2);  // rows before `first` are not part of the run: no wait
  f.publish(40);
  f.publish(20);  // never goes back
  EXPECT_EQ(f.ready(), 40);
  std::thread late([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    f.publish(70);
  });
  f.wait(60);
  EXPECT_GE(f.ready(), 70);
  late.join();
  EXPECT_FALSE(f.cancelled());
  f.cancel();
  EXPECT_TRUE(f.cancelled());

  row_feed g(0, 10);
  std::thread bad([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    try {
      CHORUS_THROW(input_error, "row 7 is bad");
    } catch (...) {
      g.fail(std::current_exception());
    }
  });
  EXPECT_THROW(g.wait(10), input_error);
  bad.join();
  EXPECT_THROW(g.wait(1), input_error);  // later waiters see the failure too
  row_feed h(0, 10);
  h.finish();
  h.wait(1000);  // capped at n
  EXPECT_EQ(h.ready(), 10);
}

void expect_same_view(const view_matrix& a, const view_matrix& b) {
  EXPECT_EQ(a.n, b.n);
  EXPECT_EQ(a.d, b.d);
  EXPECT_EQ(a.first, b.first);
  EXPECT_EQ(a.data, b.data);
  EXPECT_EQ(a.inv_norm, b.inv_norm);
  EXPECT_EQ(a.valid, b.valid);
  EXPECT_EQ(a.invalid_rows, b.invalid_rows);
}

TEST(ReadViews, BlockByBlockEqualsLoadInput) {
  const auto dir = scratch_dir("read_views");
  const dense e = clustered(203, 19, 1), a = clustered(203, 24, 2);
  dense act = a;
  for (auto& v : act.x) v = std::floor(std::fabs(v) * 3);  // counts, for the transforms
  write_input(dir + "/in.h5", 203, &e, &act);
  for (auto tr : {activity_transform::none, activity_transform::tfidf}) {
    for (std::int64_t first : {0, 57}) {
      load_options lo;
      lo.transform = tr;
      lo.row_begin = first;
      const loaded_input whole = load_input(dir + "/in.h5", lo);
      lo.block_rows = 13;
      loaded_input in = open_input(dir + "/in.h5", lo);
      EXPECT_EQ(in.ids, whole.ids);
      row_feed feed(first, in.info.n);
      std::vector<std::int64_t> seen;
      std::thread watch([&] {
        for (;;) {
          const std::int64_t r = feed.ready();
          if (seen.empty() || seen.back() != r) seen.push_back(r);
          if (r >= in.info.n) return;
          std::this_thread::yield();
        }
      });
      read_views(in, lo, &feed);
      watch.join();
      for (std::size_t k = 1; k < seen.size(); ++k) EXPECT_GT(seen[k], seen[k - 1]);
      EXPECT_EQ(seen.back(), 203);
      expect_same_view(in.embedding, whole.embedding);
      expect_same_view(in.activity, whole.activity);
      EXPECT_EQ(in.checksum, whole.checksum);
    }
  }
}

TEST(ReadViews, CancelStopsEarly) {
  const auto dir = scratch_dir("read_cancel");
  const dense e = clustered(100, 8, 3);
  write_input(dir + "/in.h5", 100, &e, nullptr);
  load_options lo;
  lo.activity = false;
  lo.block_rows = 10;
  loaded_input in = open_input(dir + "/in.h5", lo);
  row_feed feed(0, 100);
  feed.cancel();
  read_views(in, lo, &feed);
  EXPECT_EQ(feed.ready(), 0);
  EXPECT_EQ(in.checksum, 0u);
}

struct feed_case {
  const char* view;
  precision prec;
  std::int64_t first;
};

TEST(RowFeed, CpuBackendScoresWhileRowsArrive) {
  const auto dir = scratch_dir("feed_backend");
  const std::int64_t n = 611;
  const dense e = clustered(n, 40, 11), a = clustered(n, 30, 12);
  write_input(dir + "/in.h5", n, &e, &a);
  for (const feed_case c :
       {feed_case{"embedding", precision::fp32, 0}, feed_case{"embedding", precision::int8, 0},
        feed_case{"both", precision::bf16, 0}, feed_case{"fused", precision::fp32, 0},
        feed_case{"activity", precision::int8, 131}, feed_case{"both", precision::fp32, 200}}) {
    std::ostringstream what;
    what << "view=" << c.view << " precision=" << to_string(c.prec) << " first=" << c.first;
    SCOPED_TRACE(what.str());
    load_options lo;
    lo.row_begin = c.first;
    const loaded_input src = load_input(dir + "/in.h5", lo);
    score_problem pb;
    pb.params.mode = parse_view(c.view);
    pb.params.threshold = 0.7;
    pb.params.threshold_activity = 0.6;
    pb.embedding = &src.embedding;
    pb.activity = &src.activity;
    score_options so;
    so.prec = c.prec;
    so.tile_rows = 16;
    so.tile_cols = 64;
    so.threads = 2;
    so.row_begin = c.first;
    so.row_end = c.first + (n - c.first) / 2;
    auto be = make_cpu_backend();
    score_stats ref_st;
    const auto ref = be->find_edges(pb, so, ref_st);
    ASSERT_FALSE(ref.empty());

    slow_reader rd(src, c.first, 37, 300);
    score_problem fed = pb;
    fed.embedding = &rd.dst.embedding;
    fed.activity = &rd.dst.activity;
    fed.feed = &rd.feed;
    score_stats st;
    const auto got = be->find_edges(fed, so, st);
    ASSERT_EQ(got.size(), ref.size());
    for (std::size_t k = 0; k < got.size(); ++k) {
      EXPECT_EQ(got[k].src, ref[k].src);
      EXPECT_EQ(got[k].dst, ref[k].dst);
      const auto same = [](float x, float y) { return x == y || (std::isnan(x) && std::isnan(y)); };
      EXPECT_TRUE(same(got[k].sim_embedding, ref[k].sim_embedding)) << k;
      EXPECT_TRUE(same(got[k].sim_activity, ref[k].sim_activity)) << k;
    }
    EXPECT_EQ(st.candidates, ref_st.candidates);
    EXPECT_EQ(st.pairs, ref_st.pairs);
  }
}

// An embedding-only input of n rows, written and loaded whole (the rows a slow_reader delivers).
loaded_input embedding_input(const std::string& name, std::int64_t n, std::uint64_t seed) {
  const auto dir = scratch_dir(name);
  const dense e = clustered(n, 24, seed);
  write_input(dir + "/in.h5", n, &e, nullptr);
  load_options lo;
  lo.activity = false;
  return load_input(dir + "/in.h5", lo);
}

// Scoring the rows `rd` delivers, embedding view, small tiles (many batches).
std::vector<edge> score_fed(slow_reader& rd) {
  score_problem pb;
  pb.params.mode = view_mode::embedding;
  pb.params.threshold = 0.7;
  pb.embedding = &rd.dst.embedding;
  pb.feed = &rd.feed;
  score_options so;
  so.tile_rows = 16;
  so.tile_cols = 32;
  so.threads = 2;
  so.stop = [] { return stop_requested(); };  // as the detect job passes it
  score_stats st;
  return make_cpu_backend()->find_edges(pb, so, st);
}

TEST(RowFeed, ReaderFailureEndsScoring) {
  const loaded_input src = embedding_input("feed_fail", 400, 5);
  slow_reader rd(src, 0, 50, 200, /*fail_at=*/333);
  EXPECT_THROW(score_fed(rd), input_error);
}

// A stop signal while the backend waits for rows ends the run promptly (interrupted_error, exit
// code 4), without waiting for the rest of the file.
TEST(RowFeed, StopWhileWaitingForRows) {
  const loaded_input src = embedding_input("feed_stop", 400, 8);
  slow_reader rd(src, 0, 50, 250'000);  // 8 blocks, 0.25 s apart
  std::thread stopper([] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    request_stop();
  });
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_THROW(score_fed(rd), interrupted_error);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  stopper.join();
  reset_stop_request();
  EXPECT_LT(s, 1.2) << "the reader needs 2 s for every row; the stop came at 0.3 s";
}

// detect with read blocks of 7 rows: the results file equals the one read in a single piece.
TEST(RowFeed, DetectWithSmallReadBlocks) {
  const auto dir = scratch_dir("feed_detect");
  generated(dir + "/in.h5", 900, 32, 48, 12, 7);
  detect_options o;
  o.input = dir + "/in.h5";
  o.tile_rows = 32;
  o.tile_cols = 64;
  o.view = "both";
  o.threshold = 0.75;
  o.threshold_activity = 0.5;
  o.output = dir + "/whole.h5";
  ::setenv("CHORUS_READ_OVERLAP", "0", 1);
  const auto a = run_detect(o);
  ::unsetenv("CHORUS_READ_OVERLAP");
  ::setenv("CHORUS_TEST_READ_BLOCK_ROWS", "7", 1);
  o.output = dir + "/blocks.h5";
  const auto b = run_detect(o);
  ::unsetenv("CHORUS_TEST_READ_BLOCK_ROWS");
  EXPECT_EQ(a.edges, b.edges);
  EXPECT_EQ(a.clusters, b.clusters);
  EXPECT_EQ(a.candidates, b.candidates);
  EXPECT_EQ(a.checksum, b.checksum);
  EXPECT_EQ(a.invalid_activity, b.invalid_activity);
  ASSERT_GT(a.edges, 0);
  const auto ra = read_results(dir + "/whole.h5"), rb = read_results(dir + "/blocks.h5");
  EXPECT_EQ(ra.src, rb.src);
  EXPECT_EQ(ra.dst, rb.dst);
  EXPECT_EQ(ra.se, rb.se);
  EXPECT_EQ(ra.sa, rb.sa);
  EXPECT_EQ(ra.labels, rb.labels);
  EXPECT_EQ(a.cluster_sizes, b.cluster_sizes);
}

// A NaN in the last rows is found after scoring began: input_error, and no results file.
TEST(RowFeed, DetectBadRowLateInTheFile) {
  const auto dir = scratch_dir("feed_detect_bad");
  const std::int64_t n = 500;
  dense e = clustered(n, 16, 9);
  e.x[(n - 3) * 16 + 5] = std::nan("");
  write_input(dir + "/in.h5", n, &e, nullptr);
  detect_options o;
  o.input = dir + "/in.h5";
  o.output = dir + "/out.h5";
  o.tile_rows = 16;
  o.tile_cols = 32;
  ::setenv("CHORUS_TEST_READ_BLOCK_ROWS", "11", 1);
  try {
    run_detect(o);
    ADD_FAILURE() << "a NaN row was accepted";
  } catch (const input_error& err) {
    EXPECT_NE(std::string(err.what()).find("row 497"), std::string::npos) << err.what();
  }
  ::unsetenv("CHORUS_TEST_READ_BLOCK_ROWS");
  EXPECT_NE(::access((dir + "/out.h5").c_str(), F_OK), 0);
}

}  // namespace
