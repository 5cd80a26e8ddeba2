// Generate a small election data set, detect, and recover the planted clusters.
#include <gtest/gtest.h>

#include "chorus/generate/generate.hpp"
#include "chorus/io/h5.hpp"
#include "chorus/job/detect.hpp"
#include "test_support.hpp"

using namespace chorus;

namespace {

struct outcome {
  detect_summary s;
  std::int64_t topic_decoys_flagged = 0;
};

outcome run(const std::string& dir, const std::string& view, std::uint64_t seed) {
  const generate_options g =
      test::generated(dir + "/in_" + std::to_string(seed) + ".h5", 8000, 64, 168, 10, seed);
  detect_options d;
  d.input = g.out;
  d.output = dir + "/out_" + view + ".h5";
  d.force = true;
  d.view = view;
  outcome o;
  o.s = run_detect(d);
  h5::handle in = h5::open_read(g.out), out = h5::open_read(d.output);
  auto kind = h5::read_all<std::int8_t>(h5::open_dataset(in, "/truth/kind"));
  auto labels = h5::read_all<std::int64_t>(h5::open_dataset(out, "/labels"));
  for (std::size_t i = 0; i < labels.size(); ++i)
    o.topic_decoys_flagged += labels[i] >= 0 && kind[i] == 2;
  return o;
}

// The documented recovery on the default view (README / datasets/GENERATOR.md): precision and
// recall of flagged accounts >= 0.95, and at least 8 of 10 planted clusters recovered.
TEST(EndToEnd, BothViewsRecoverPlantedClusters) {
  const std::string dir = test::scratch_dir("e2e");
  for (std::uint64_t seed : {11u, 12u}) {
    outcome o = run(dir, "both", seed);
    SCOPED_TRACE("seed " + std::to_string(seed));
    ASSERT_TRUE(o.s.has_truth);
    EXPECT_GE(o.s.truth.precision, 0.95);
    EXPECT_GE(o.s.truth.recall, 0.95);
    EXPECT_GE(o.s.truth.planted_recovered, 8);
    EXPECT_EQ(o.topic_decoys_flagged, 0)
        << "content-only crowds must not be flagged with both views";
  }
}

// The trap: content alone flags the topic decoys (ordinary users who talk alike).
TEST(EndToEnd, EmbeddingAloneFallsForTopicDecoys) {
  const std::string dir = test::scratch_dir("e2e_trap");
  outcome o = run(dir, "embedding", 11);
  EXPECT_GT(o.topic_decoys_flagged, 0);
  EXPECT_LT(o.s.truth.precision, 0.9);
}

}  // namespace
