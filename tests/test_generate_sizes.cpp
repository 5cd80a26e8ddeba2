// The generator's plan of planted cluster sizes at scale: the largest cluster never exceeds
// 5000 members (datasets/GENERATOR.md), whether the rank-size law is made flatter to fit or,
// when even the flattest law does not fit, fewer accounts are planted; and its limits.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "chorus/core/error.hpp"
#include "chorus/generate/generate.hpp"
#include "chorus/io/h5.hpp"
#include "test_support.hpp"

using namespace chorus;

namespace {

std::vector<std::int64_t> planted_sizes(const std::string& path, std::int64_t clusters) {
  h5::handle f = h5::open_read(path);
  const auto truth = h5::read_all<std::int64_t>(h5::open_dataset(f, "/truth/cluster"));
  std::vector<std::int64_t> count(clusters, 0);
  for (auto t : truth)
    if (t >= 0) ++count.at(t);
  return count;
}

TEST(GenerateSizes, LargestClusterStaysUnderTheCap) {
  const std::string dir = test::scratch_dir("generate_sizes");
  struct plan {
    std::int64_t accounts;
    int clusters;
  };
  // 3% of 400k = 12k coordinated accounts in one cluster: capped at 5000 (fewer planted);
  // 250k in two clusters: the law is flattened until the largest fits
  for (const plan p : {plan{400000, 1}, plan{250000, 2}}) {
    generate_options g;
    g.accounts = p.accounts;
    g.dim = 1;
    g.bins = 0;
    g.clusters = p.clusters;
    g.seed = 9;
    g.handles = false;
    g.out = dir + "/g" + std::to_string(p.clusters) + ".h5";
    const generate_summary s = generate_dataset(g);
    ASSERT_EQ(s.cluster_sizes.size(), static_cast<std::size_t>(p.clusters));
    EXPECT_EQ(planted_sizes(g.out, p.clusters), s.cluster_sizes) << "summary and file agree";
    const std::int64_t largest = *std::max_element(s.cluster_sizes.begin(), s.cluster_sizes.end());
    EXPECT_LE(largest, 5000) << p.accounts;
    EXPECT_GE(largest, 4900) << "the cap is reached, not undershot: " << p.accounts;
    EXPECT_EQ(s.coordinated,
              std::accumulate(s.cluster_sizes.begin(), s.cluster_sizes.end(), std::int64_t{0}));
    if (p.clusters == 2) EXPECT_GT(s.cluster_sizes[0], s.cluster_sizes[1]) << "heavy-tailed";
  }
}

TEST(GenerateSizes, AccountLimit) {
  generate_options g;
  g.accounts = std::int64_t{1} << 40;
  g.out = test::scratch_dir("generate_limit") + "/x.h5";
  try {
    generate_dataset(g);
    ADD_FAILURE() << "2^40 accounts accepted";
  } catch (const input_error& e) {
    EXPECT_EQ(std::string(e.what()), "generate: accounts must be < 2^40 (got 1099511627776)");
  }
}

}  // namespace
