// #15 items 1-4: mistakes that used to end with exit 0 and a quietly different answer. Each is
// now an error naming the fix, or a loud warning on stderr and in --json.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "chorus/io/h5.hpp"
#include "cli_support.hpp"
#include "test_support.hpp"

namespace chorus {
namespace {

using namespace cli_test;

// n accounts in two content groups (rows 0..n/2-1 and the rest), `bins` hourly bins of activity
// from `act` (row-major counts); the embedding is written under `emb_name`.
void write(const std::string& path, std::int64_t n, std::int64_t bins,
           const std::vector<std::int32_t>& act, const std::string& emb_name = "/embedding") {
  h5::handle f = h5::create(path);
  std::vector<std::int64_t> ids(n);
  for (std::int64_t i = 0; i < n; ++i) ids[i] = 100 + i;
  h5::write_vector(f, "/accounts/id", ids);
  std::vector<float> e(static_cast<std::size_t>(n) * 4, 0.0f);
  for (std::int64_t i = 0; i < n; ++i) e[i * 4 + (i < n / 2 ? 0 : 1)] = 1.0f + 0.01f * (i % 3);
  if (!emb_name.empty()) {
    auto de = h5::create_dataset<float>(f, emb_name, {std::uint64_t(n), 4});
    h5::write_rows(de, 0, n, e.data());
  }
  if (!act.empty()) {
    auto da =
        h5::create_dataset<std::int32_t>(f, "/activity", {std::uint64_t(n), std::uint64_t(bins)});
    h5::write_rows(da, 0, n, act.data());
  }
}

// Activity where every account posts `posts` times in the same few hours (all rows alike: one
// synchronised group), plus a per-account offset hour so that rows are not constant.
std::vector<std::int32_t> busy(std::int64_t n, std::int64_t bins, int posts) {
  std::vector<std::int32_t> a(static_cast<std::size_t>(n * bins), 0);
  for (std::int64_t i = 0; i < n; ++i) {
    a[i * bins + 3] = posts;
    a[i * bins + 7] = posts;
    a[i * bins + 11] = 1;
  }
  return a;
}

class SilentAnswers : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = test::scratch_dir(std::string("silent_") +
                            ::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  cli_result detect(const std::string& in, std::vector<std::string> extra) {
    std::vector<std::string> a = {"detect",  "--input",   in,    "--out",     dir + "/res.h5",
                                  "--force", "--backend", "cpu", "--threads", "1"};
    a.insert(a.end(), extra.begin(), extra.end());
    return run_cli(a, dir);
  }
  std::string dir;
};

// Item 1: /embeddings (plural) used to run an activity-only analysis without a word.
TEST_F(SilentAnswers, MisnamedDatasetIsNamedWithTheExpectedName) {
  const std::string in = dir + "/plural.h5";
  write(in, 10, 24, busy(10, 24, 4), "/embeddings");
  cli_result r = detect(in, {});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("WARNING: '/embeddings' in the input is not a dataset chorus reads; did you "
                       "mean '/embedding'?"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.out.find("view activity"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("zero embeddings"), std::string::npos) << "no embedding view:\n" << r.out;
  r = detect(in, {"--json", "--quiet"});
  EXPECT_NE(r.out.find("\"warnings\":[\"'/embeddings' in the input"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"views_used\":[\"activity\"]"), std::string::npos) << r.out;

  const std::string only = dir + "/only.h5";  // nothing else to read: an error naming it
  write(only, 10, 24, {}, "/embeddings");
  r = detect(only, {});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("has neither /embedding nor /activity (it has /embeddings -> /embedding"),
            std::string::npos)
      << r.err;
}

// Item 2: an all-zero view gave "0 edges", exit 0; half the rows at zero were dropped silently.
TEST_F(SilentAnswers, EmptyViewIsAnErrorAndALossyOneAWarning) {
  const std::string in = dir + "/zero.h5";
  write(in, 10, 24, std::vector<std::int32_t>(240, 0));
  cli_result r = detect(in, {});
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.err.find("no account can get an edge in --view both: every /activity row is"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(exists(dir + "/res.h5")) << "no results file after the refusal";
  r = detect(in, {"--allow-empty-view"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("WARNING: 10 of 10 accounts (100.0%) cannot get edges"), std::string::npos)
      << r.err;

  std::vector<std::int32_t> half = busy(10, 24, 4);
  for (std::size_t k = 5 * 24; k < half.size(); ++k) half[k] = 0;
  const std::string h = dir + "/half.h5";
  write(h, 10, 24, half);
  r = detect(h, {"--json"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("WARNING: 5 of 10 accounts (50.0%) cannot get edges in --view both"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.out.find("\"warnings\":[\"5 of 10 accounts (50.0%)"), std::string::npos) << r.out;
}

// An input without accounts gives empty results (tests elsewhere rely on that), said loudly.
TEST_F(SilentAnswers, InputWithoutAccountsIsWarnedAbout) {
  const std::string in = dir + "/none.h5";
  write(in, 0, 24, {});
  cli_result r = detect(in, {"--json"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("WARNING: '" + in + "' has no accounts (/accounts/id is empty)"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.out.find("\"warnings\":[\"'" + in + "' has no accounts"), std::string::npos) << r.out;
}

// Item 3: a threshold the view does not use ran silently at the default.
TEST_F(SilentAnswers, ThresholdTheViewIgnoresIsRefused) {
  const std::string in = dir + "/in.h5";
  write(in, 10, 24, busy(10, 24, 4));
  cli_result r = detect(in, {"--view", "activity", "--threshold", "0.6"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--threshold is the embedding (or fused) threshold, which --view activity "
                       "does not use; set the activity threshold with --threshold-activity"),
            std::string::npos)
      << r.err;
  r = detect(in, {"--view", "embedding", "--threshold-activity", "0.6"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("which --view embedding does not use; use --threshold"), std::string::npos)
      << r.err;
  r = detect(in, {"--view", "fused", "--threshold-activity", "0.6"});
  EXPECT_EQ(r.code, 2);
  r = detect(in, {"--weight", "0.3"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--weight applies to --view fused only, not to --view both (chosen by "
                       "--view auto from the input)"),
            std::string::npos)
      << r.err;
  // the thresholds each view does use are taken, and printed
  r = detect(in, {"--view", "activity", "--threshold-activity", "0.6"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("threshold in effect: activity correlation >= 0.6"), std::string::npos)
      << r.out;
  r = detect(in, {"--view", "fused", "--weight", "0.3", "--threshold", "0.7"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("threshold in effect: 0.3 * embedding + 0.7 * activity >= 0.7"),
            std::string::npos)
      << r.out;
}

// Item 4: accounts that posted once in the same hour correlate perfectly by chance.
TEST_F(SilentAnswers, SparseActivityRowsAreLeftOut) {
  const std::int64_t n = 8, bins = 24;
  std::vector<std::int32_t> a(static_cast<std::size_t>(n * bins), 0);
  for (std::int64_t i = 0; i < 3; ++i) a[i * bins + 5] = 1;  // three single posts, same hour
  for (std::int64_t i = 3; i < n; ++i)                       // busy accounts, own rhythms
    for (std::int64_t t = 0; t < bins; ++t) a[i * bins + t] = (t * (i % 4 + 1) + i) % 5;
  const std::string in = dir + "/sparse.h5";
  write(in, n, bins, a, "");
  cli_result r = detect(in, {"--view", "activity", "--min-activity", "0"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find(", 3 edges, 1 clusters (3 accounts"), std::string::npos)
      << "the sparse trio correlates at 1.0 without the filter:\n"
      << r.out;
  r = detect(in, {"--view", "activity", "--json"});  // the default --min-activity 5
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("\"edges\":0,"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"min_activity\":5,\"accounts_below_min_activity\":3"), std::string::npos)
      << r.out;
  h5::handle f = h5::open_read(dir + "/res.h5");
  std::int64_t below = -1;
  ASSERT_TRUE(h5::get_attr(f, "accounts_below_min_activity", below));
  EXPECT_EQ(below, 3);
  EXPECT_NE(r.err.find("3 of 8 accounts (37.5%) cannot get edges"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace chorus
