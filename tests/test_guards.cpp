// The checkpoint files read back exactly as written: every work unit's done bit (every hex digit
// of the manifest), every edge of every shard, and resume() reporting what it found. Fast: no
// detection run. Guards for tests/mutations (03, 20).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "chorus/core/error.hpp"
#include "chorus/scan/checkpoint.hpp"
#include "test_support.hpp"

using namespace chorus;

namespace {

// Units 4q..4q+3 hold the bits of q for q = 0..15 (so the manifest has every hex digit 0-f),
// then three more units (a last, partial digit).
constexpr std::int64_t kUnits = 4 * 16 + 3;
std::vector<std::uint8_t> expected_done() {
  std::vector<std::uint8_t> d(kUnits, 0);
  for (std::int64_t q = 0; q < 16; ++q)
    for (int b = 0; b < 4; ++b) d[4 * q + b] = (q >> b) & 1;
  d[64] = 1, d[65] = 0, d[66] = 1;
  return d;
}

std::vector<edge> some_edges(std::int64_t first, std::int64_t count) {
  std::vector<edge> v;
  for (std::int64_t k = 0; k < count; ++k)
    v.push_back({first + k, first + 2 * k + 1, 0.5f + 0.001f * float(k), -0.25f});
  return v;
}

}  // namespace

TEST(CheckpointFile, RoundTripKeepsEveryDoneUnitAndEdge) {
  const std::string dir = test::scratch_dir("ckfile") + "/ck";
  const std::string id = "input=x.h5 size=123 view=both threshold=0.8";
  const auto want = expected_done();
  std::vector<std::int64_t> first, second;  // two checkpoints, two shards
  for (std::int64_t u = 0; u < kUnits; ++u)
    if (want[u]) (u < 30 ? first : second).push_back(u);
  const auto e1 = some_edges(0, 7), e2 = some_edges(100, 5);
  {
    checkpoint c(dir, id, kUnits);
    checkpoint_state st;
    std::vector<edge> none;
    EXPECT_FALSE(c.resume(st, none, true)) << "an empty directory holds nothing to resume";
    EXPECT_TRUE(none.empty());
    c.save(st, first, e1);
    c.save(st, second, e2);
  }
  {
    checkpoint c(dir, id, kUnits);
    checkpoint_state st;
    std::vector<edge> got;
    ASSERT_TRUE(c.resume(st, got, true)) << "a saved checkpoint must be resumed";
    EXPECT_EQ(st.units, kUnits);
    EXPECT_EQ(st.done, want);
    ASSERT_EQ(got.size(), e1.size() + e2.size());
    for (std::size_t k = 0; k < got.size(); ++k) {
      const edge& w = k < e1.size() ? e1[k] : e2[k - e1.size()];
      EXPECT_EQ(got[k].src, w.src);
      EXPECT_EQ(got[k].dst, w.dst);
      EXPECT_EQ(got[k].sim_embedding, w.sim_embedding);
      EXPECT_EQ(got[k].sim_activity, w.sim_activity);
    }
    EXPECT_EQ(st.shards.size(), 2u);
  }
  {  // without --resume an existing checkpoint is refused, never silently overwritten
    checkpoint c(dir, id, kUnits);
    checkpoint_state st;
    std::vector<edge> got;
    EXPECT_THROW(c.resume(st, got, false), input_error);
  }
  {  // another run's checkpoint is refused
    checkpoint c(dir, id + " other", kUnits);
    checkpoint_state st;
    std::vector<edge> got;
    EXPECT_THROW(c.resume(st, got, true), input_error);
  }
}
