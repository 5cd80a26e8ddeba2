// The scan driver (host/scan/driver.cpp) with a scripted backend: the driver alone owns unit
// order, rows, batches in flight, checkpoints, stop and --max-edges, so a backend that only
// "scores" must get every pair decided once, in rows it was told are ready.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <deque>
#include <set>
#include <string>
#include <thread>

#include "chorus/core/error.hpp"
#include "chorus/io/edge_store.hpp"
#include "chorus/io/row_feed.hpp"
#include "chorus/scan/backend.hpp"
#include "chorus/scan/checkpoint.hpp"
#include "chorus/scan/tiling.hpp"
#include "test_support.hpp"

namespace chorus {
namespace {

constexpr std::int64_t kRows = 100, kUnitRows = 10;

// Unit u owns rows [10u, 10u + 10); row i has the edge (i, i + 1). Batches of `batch` units,
// `depth` of them held in flight: a submitted batch reports nothing until it is collected.
class scripted_backend final : public backend {
 public:
  scripted_backend(int depth, std::int64_t batch) : depth_(depth), batch_(batch) {}
  std::string name() const override { return "scripted"; }

  std::int64_t prepared = 0;           // rows handed to rows_ready_
  std::int64_t max_in_flight = 0;      // most batches submitted and not collected
  std::int64_t stop_after = -1;        // request a stop once this many batches were submitted
  std::vector<edge> absorbed;          // edges a resumed checkpoint handed back
  std::multiset<std::int64_t> scored;  // units scored (a unit scored twice shows here)
  bool rows_in_order = true;           // every rows_ready_ range starts where the last ended

 protected:
  void configure_(const score_problem&, const score_options&, const scan_range& r,
                  score_stats& stats) override {
    range_ = r;
    prepared = r.begin;
    stats.detail = "scripted";
  }
  scan_plan plan_() override {
    scan_plan p;
    p.units = kRows / kUnitRows;
    p.batch_units = batch_;
    p.depth = depth_;
    p.geometry = "scripted";
    p.rows_upto = [](std::int64_t u) { return std::min(kRows, (u + 2) * kUnitRows); };
    p.pairs = [](std::int64_t u) {
      return tiling::rows_pairs(u * kUnitRows, (u + 1) * kUnitRows, kRows);
    };
    return p;
  }
  void rows_ready_(std::int64_t from, std::int64_t to) override {
    if (from != prepared) rows_in_order = false;
    prepared = to;
  }
  void absorb_(const std::vector<edge>& e) override {
    absorbed.insert(absorbed.end(), e.begin(), e.end());
  }
  void submit_(const scan_batch& b) override {
    for (std::int64_t u : b.units)  // the driver waited for every row this unit reads
      EXPECT_LE(std::min(kRows, (u + 2) * kUnitRows), prepared) << "unit " << u;
    queue_.push_back(b);
    max_in_flight = std::max<std::int64_t>(max_in_flight, queue_.size());
    if (++submitted_ == stop_after) request_stop();
  }
  void collect_() override {
    const scan_batch b = queue_.front();
    queue_.pop_front();
    for (std::int64_t u : b.units) {
      std::vector<edge> found;
      for (std::int64_t i = u * kUnitRows; i < (u + 1) * kUnitRows && i + 1 < kRows; ++i)
        found.push_back({i, i + 1, 1.0f, NAN});
      std::reverse(found.begin(), found.end());  // any order: the driver sorts
      scored.insert(u);
      if (!b.results->add_edges(b.id, found)) return;
      b.results->unit_done(b.id, u, kUnitRows);
    }
  }

 private:
  int depth_;
  std::int64_t batch_;
  scan_range range_;
  std::deque<scan_batch> queue_;
  std::int64_t submitted_ = 0;
};

struct problem {
  view_matrix v;
  score_problem pb;
  problem() {
    v.n = kRows;
    v.d = 1;
    v.data.assign(kRows, 1.0f);
    v.inv_norm.assign(kRows, 1.0);
    v.valid.assign(kRows, 1);
    pb.embedding = &v;
    pb.params.mode = view_mode::embedding;
  }
};

std::vector<edge> chain() {
  std::vector<edge> e;
  for (std::int64_t i = 0; i + 1 < kRows; ++i) e.push_back({i, i + 1, 1.0f, NAN});
  return e;
}

void expect_chain(const std::vector<edge>& got) {
  const auto want = chain();
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t k = 0; k < want.size(); ++k) {
    EXPECT_EQ(got[k].src, want[k].src) << k;
    EXPECT_EQ(got[k].dst, want[k].dst) << k;
  }
}

class DriverDepth : public ::testing::TestWithParam<std::tuple<int, std::int64_t>> {};

TEST_P(DriverDepth, EveryUnitOnceSortedAndCounted) {
  const auto [depth, batch] = GetParam();
  problem p;
  scripted_backend be(depth, batch);
  score_options opt;
  std::int64_t last_done = -1, calls = 0;
  opt.progress = [&](std::int64_t d, std::int64_t total) {
    EXPECT_GE(d, last_done);  // progress never goes back
    EXPECT_EQ(total, tiling::pair_count(kRows));
    last_done = d;
    ++calls;
  };
  score_stats st;
  expect_chain(be.find_edges(p.pb, opt, st));
  EXPECT_EQ(be.scored.size(), 10u);
  EXPECT_EQ(std::set<std::int64_t>(be.scored.begin(), be.scored.end()).size(), 10u);
  EXPECT_EQ(st.pairs, tiling::pair_count(kRows));
  EXPECT_EQ(st.candidates, 100);
  EXPECT_EQ(st.edges, kRows - 1);
  EXPECT_EQ(last_done, st.pairs);
  EXPECT_GT(calls, 1);
  EXPECT_EQ(be.max_in_flight, depth + 1) << "the driver keeps `depth` batches in flight";
}

INSTANTIATE_TEST_SUITE_P(Batches, DriverDepth,
                         ::testing::Combine(::testing::Values(0, 1, 2),
                                            ::testing::Values<std::int64_t>(1, 3)),
                         [](const auto& info) {
                           return "depth" + std::to_string(std::get<0>(info.param)) + "_units" +
                                  std::to_string(std::get<1>(info.param));
                         });

TEST(Driver, WaitsForRowsStillArriving) {
  problem p;
  row_feed feed(0, kRows);
  p.pb.feed = &feed;
  scripted_backend be(1, 1);
  std::thread reader([&] {
    for (std::int64_t r = 5; r <= kRows; r += 5) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      feed.publish(r);
    }
  });
  score_options opt;
  score_stats st;
  std::vector<edge> got;
  EXPECT_NO_THROW(got = be.find_edges(p.pb, opt, st));
  reader.join();
  expect_chain(got);
  EXPECT_TRUE(be.rows_in_order);
  EXPECT_EQ(be.prepared, kRows);
}

TEST(Driver, MaxEdgesIsALimitError) {
  problem p;
  scripted_backend be(1, 2);
  score_options opt;
  opt.max_edges = 50;
  score_stats st;
  EXPECT_THROW(be.find_edges(p.pb, opt, st), limit_error);
  opt.max_edges = kRows - 1;  // exactly enough
  scripted_backend ok(1, 2);
  expect_chain(ok.find_edges(p.pb, opt, st));
}

TEST(Driver, SinkTakesTheEdges) {
  problem p;
  scripted_backend be(1, 3);
  edge_store store(0, test::scratch_dir("driver-sink") + "/spill");
  score_options opt;
  opt.sink = &store;
  score_stats st;
  EXPECT_TRUE(be.find_edges(p.pb, opt, st).empty());
  EXPECT_EQ(st.edges, kRows - 1);
  expect_chain(store.take_sorted());
}

TEST(Driver, StopCheckpointsBatchesInFlightAndResumeFinishes) {
  problem p;
  const std::string dir = test::scratch_dir("driver-ckpt");
  score_options opt;
  opt.checkpoint_dir = dir;
  opt.checkpoint_interval = 1e9;  // only the stop writes a checkpoint
  opt.identity = "driver-test";
  opt.stop = [] { return stop_requested(); };  // as the detect job passes it
  score_stats st1;
  scripted_backend first(1, 2);
  first.stop_after = 3;  // a stop while batch 2 is in flight behind batch 1
  reset_stop_request();
  EXPECT_THROW(first.find_edges(p.pb, opt, st1), interrupted_error);
  reset_stop_request();
  EXPECT_EQ(st1.checkpoints, 1);
  const std::size_t scored_first = first.scored.size();
  EXPECT_GE(scored_first, 4u);  // batches 0, 1 and the one in flight were collected
  EXPECT_LT(scored_first, 10u);

  scripted_backend again(1, 2);
  score_stats st2;
  EXPECT_THROW(again.find_edges(p.pb, opt, st2), input_error) << "a checkpoint needs --resume";
  opt.resume = true;
  scripted_backend second(1, 2);
  expect_chain(second.find_edges(p.pb, opt, st2));
  EXPECT_EQ(st2.resumed_units, static_cast<std::int64_t>(scored_first));
  EXPECT_EQ(second.scored.size() + scored_first, 10u) << "no unit scored twice";
  EXPECT_EQ(second.absorbed.size(), scored_first * kUnitRows - (first.scored.count(9) ? 1 : 0));
}

// The driver stops on the options' stop request alone: a backend plugin has its own copy of the
// library's globals, so the executable's flag reaches it, and the driver, only this way.
TEST(Driver, StopComesWithTheOptions) {
  problem p;
  reset_stop_request();
  score_options opt;
  int polls = 0;
  opt.stop = [&polls] { return ++polls >= 3; };
  scripted_backend b(0, 1);
  score_stats st;
  EXPECT_THROW(b.find_edges(p.pb, opt, st), interrupted_error);
  EXPECT_EQ(b.scored.size(), 3u) << "stopped after the batch that saw the request";
  EXPECT_FALSE(stop_requested());
  // the global flag without the options' request: not the driver's to read
  request_stop();
  score_options none;
  scripted_backend c(0, 1);
  score_stats st2;
  expect_chain(c.find_edges(p.pb, none, st2));
  reset_stop_request();
}

}  // namespace
}  // namespace chorus
