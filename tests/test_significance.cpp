// chorus significance: the p- and q-value rules against hand-computed values, the null models'
// calibration (p-values of groups of accounts without coordination are uniform: a
// Kolmogorov-Smirnov test written here, at fixed seeds), planted campaigns below 0.001 and decoys
// that share only a schedule above it, determinism, and the command's mistakes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <set>

#include "chorus/coaction/coaction.hpp"
#include "chorus/generate/generate.hpp"
#include "chorus/io/h5.hpp"
#include "chorus/io/input.hpp"
#include "chorus/significance/significance.hpp"
#include "ci_guard.hpp"
#include "cli_support.hpp"
#include "test_support.hpp"

using namespace chorus;
using chorus::cli_test::exists;
using chorus::cli_test::run_cli;

namespace {

// Kolmogorov-Smirnov test of `p` against Uniform(0, 1): the asymptotic p-value of D_n
// (Stephens' correction), computed here from the series 2 sum (-1)^(j-1) exp(-2 j^2 l^2).
double ks_uniform_p(std::vector<double> p) {
  std::sort(p.begin(), p.end());
  const double n = static_cast<double>(p.size());
  double d = 0;
  for (std::size_t i = 0; i < p.size(); ++i)
    d = std::max({d, (static_cast<double>(i) + 1) / n - p[i], p[i] - static_cast<double>(i) / n});
  const double l = (std::sqrt(n) + 0.12 + 0.11 / std::sqrt(n)) * d;
  double q = 0;
  for (int j = 1; j <= 100; ++j) q += 2 * ((j % 2) ? 1 : -1) * std::exp(-2.0 * j * j * l * l);
  return std::clamp(q, 0.0, 1.0);
}

// Random groups of `kind` accounts (sizes 3..12) as a cluster table: members ascending.
cluster_table random_groups(const std::vector<std::int64_t>& pool, int groups, std::uint64_t seed) {
  std::mt19937_64 g(seed);
  std::vector<std::int64_t> left = pool;
  std::shuffle(left.begin(), left.end(), g);
  cluster_table t;
  t.offsets.push_back(0);
  std::size_t at = 0;
  for (int c = 0; c < groups; ++c) {
    const auto m = static_cast<std::size_t>(3 + g() % 10);
    if (at + m > left.size()) break;
    std::vector<std::int64_t> mem(left.begin() + at, left.begin() + at + m);
    at += m;
    std::sort(mem.begin(), mem.end());
    t.members.insert(t.members.end(), mem.begin(), mem.end());
    t.size.push_back(static_cast<std::int64_t>(m));
    t.offsets.push_back(static_cast<std::int64_t>(t.members.size()));
  }
  return t;
}

std::vector<std::int64_t> rows_of_kind(const std::string& input, int kind) {
  const h5::handle f = h5::open_read(input);
  const auto k = h5::read_all<std::int8_t>(h5::open_dataset(f, "/truth/kind"));
  std::vector<std::int64_t> rows;
  for (std::size_t i = 0; i < k.size(); ++i)
    if (k[i] == kind) rows.push_back(static_cast<std::int64_t>(i));
  return rows;
}

// Generated accounts without planted campaigns (organic ones, daily rhythm, topics).
struct null_data {
  std::string dir, input;
  loaded_input in;
  std::vector<std::int64_t> organic;
};

const null_data& null_input() {
  static null_data d = [] {
    null_data x;
    x.dir = test::scratch_dir("significance_null");
    x.input = x.dir + "/null.h5";
    test::generated(x.input, 6000, 32, 336, 0, 11);
    load_options lo;
    lo.min_activity = 5;
    x.in = load_input(x.input, lo);
    for (const std::int64_t r : rows_of_kind(x.input, 0))
      if (x.in.activity.valid[static_cast<std::size_t>(r)]) x.organic.push_back(r);
    return x;
  }();
  return d;
}

}  // namespace

TEST(SignificanceRules, EmpiricalPCountsTiesAndAddsOne) {
  const std::vector<float> null = {0.1f, 0.5f, 0.5f, 0.9f};
  EXPECT_DOUBLE_EQ(significance::empirical_p(0.95, null.data(), 4), 1.0 / 5);
  EXPECT_DOUBLE_EQ(significance::empirical_p(0.9, null.data(), 4), 2.0 / 5);  // a tie reaches
  EXPECT_DOUBLE_EQ(significance::empirical_p(0.5, null.data(), 4), 4.0 / 5);
  EXPECT_DOUBLE_EQ(significance::empirical_p(0.0, null.data(), 4), 5.0 / 5);
  // a float sample of the observed double value (all members shifted alike) is a tie
  const double obs = 0.123456789012345;
  const std::vector<float> same = {static_cast<float>(obs)};
  EXPECT_DOUBLE_EQ(significance::empirical_p(obs, same.data(), 1), 1.0);
}

TEST(SignificanceRules, BenjaminiHochbergByHand) {
  // p sorted: 0.005 (rank 1), 0.01 (2), 0.03 (3), 0.04 (4), 0.2 (5); m = 5
  // p m / rank: 0.025, 0.025, 0.05, 0.05, 0.2; running minimum from the top: the same
  const double nan = std::nan("");
  const std::vector<double> p = {0.01, 0.04, nan, 0.03, 0.005, 0.2};
  const std::vector<double> q = significance::bh_q_values(p);
  EXPECT_NEAR(q[0], 0.025, 1e-15);
  EXPECT_NEAR(q[1], 0.05, 1e-15);
  EXPECT_TRUE(std::isnan(q[2]));
  EXPECT_NEAR(q[3], 0.05, 1e-15);
  EXPECT_NEAR(q[4], 0.025, 1e-15);
  EXPECT_NEAR(q[5], 0.2, 1e-15);
  // monotone step-up: a larger p never gets a smaller q than a smaller p, and q >= p
  const std::vector<double> p2 = {0.04, 0.041, 0.9, 0.001};
  const std::vector<double> q2 = significance::bh_q_values(p2);
  EXPECT_NEAR(q2[0], 0.041 * 4 / 3, 1e-15);  // 0.04*4/2 = 0.08 > min with rank 3's 0.0547
  EXPECT_NEAR(q2[1], 0.041 * 4 / 3, 1e-15);
  EXPECT_NEAR(q2[2], 0.9, 1e-15);
  EXPECT_NEAR(q2[3], 0.004, 1e-15);
}

// The fused null combines the two models resample by resample; `both` takes the larger p.
TEST(SignificanceRules, FusedCombinesResamplesAndBothTakesTheLargerP) {
  auto model = [](const char* name, std::vector<double> observed, std::vector<float> samples) {
    significance::model_result m;
    m.model = name;
    m.observed = observed;
    m.samples = samples;
    m.kept = static_cast<std::int64_t>(observed.size());
    m.p_value = {0.5, 0.01};
    return m;
  };
  // two clusters, three resamples each
  const auto c = model("content", {0.9, 0.8}, {0.1f, 0.95f, 0.2f, 0.3f, 0.3f, 0.3f});
  const auto a = model("activity", {0.6, 0.2}, {0.5f, 0.1f, 0.7f, 0.1f, 0.1f, 0.1f});
  const auto f = significance::fused_null(c, a, 0.25, 3);
  EXPECT_DOUBLE_EQ(f.observed[0], 0.25 * 0.9 + 0.75 * 0.6);
  // cluster 0's fused resamples: 0.4, 0.3125, 0.575; observed 0.675: none reaches it
  EXPECT_DOUBLE_EQ(f.p_value[0], 1.0 / 4);
  // cluster 1: observed 0.35, resamples 0.15 each
  EXPECT_DOUBLE_EQ(f.p_value[1], 1.0 / 4);
  EXPECT_NEAR(f.samples[1], 0.25 * 0.95 + 0.75 * 0.1, 1e-6);
  const auto both = significance::combine({c, a}, 3, 1);
  EXPECT_EQ(both.p_value, (std::vector<double>{0.5, 0.01}));
  auto a2 = a;
  a2.p_value = {0.02, 0.3};
  EXPECT_EQ(significance::combine({c, a2}, 3, 1).p_value, (std::vector<double>{0.5, 0.3}));
}

TEST(SignificanceRules, MemberPairsAllOrAFixedDistinctSample) {
  const auto all = significance::member_pairs(6, 100, 1);
  ASSERT_EQ(all.size(), 15u);
  EXPECT_EQ(all.front(), std::make_pair(0, 1));
  EXPECT_EQ(all.back(), std::make_pair(4, 5));
  const auto s1 = significance::member_pairs(1000, 5000, 7);
  const auto s2 = significance::member_pairs(1000, 5000, 7);
  ASSERT_EQ(s1.size(), 5000u);
  EXPECT_EQ(s1, s2);
  std::set<std::pair<int, int>> distinct(s1.begin(), s1.end());
  EXPECT_EQ(distinct.size(), 5000u);
  for (const auto& [i, j] : s1) EXPECT_TRUE(0 <= i && i < j && j < 1000);
  EXPECT_NE(s1, significance::member_pairs(1000, 5000, 8));
}

// Groups of accounts that do not coordinate: their p-values under the activity null are
// uniform. Shifting by any number of bins (not whole days) would break the evening peak the
// accounts share and make them look synchronised: this test fails then.
TEST(SignificanceCalibration, ActivityNullIsUniformOnRandomGroups_N6000_G300_K999) {
  const null_data& d = null_input();
  const cluster_table t = random_groups(d.organic, 300, 5);
  ASSERT_GE(t.size.size(), 290u);
  significance::options o;
  o.resamples = 999;
  o.period_bins = significance::activity_period(d.input, d.in.info.bins, 0);
  ASSERT_EQ(o.period_bins, 24);
  const auto r = significance::activity_null(d.in.activity, t, d.in.ids, o);
  std::vector<double> p(r.p_value.begin(), r.p_value.end());
  for (double x : p) ASSERT_FALSE(std::isnan(x));
  const double ks = ks_uniform_p(p);
  EXPECT_GT(ks, 0.01) << "activity p-values of groups without coordination are not uniform";
  EXPECT_LE(std::count_if(p.begin(), p.end(), [](double x) { return x < 0.01; }), 9);
}

// The content null on the same groups: accounts of random topics and their nearest outsiders.
TEST(SignificanceCalibration, ContentNullIsUniformOnRandomGroups_N6000_G300_K999) {
  const null_data& d = null_input();
  const cluster_table t = random_groups(d.organic, 300, 6);
  significance::options o;
  o.resamples = 999;
  const auto r = significance::content_null(d.in.embedding, t, d.in.ids, o);
  std::vector<double> p(r.p_value.begin(), r.p_value.end());
  for (double x : p) ASSERT_FALSE(std::isnan(x));
  EXPECT_GT(ks_uniform_p(p), 0.01) << "content p-values of random groups are not uniform";
}

// The KS helper itself: it rejects p-values piled up near 0 and accepts a uniform grid.
TEST(SignificanceCalibration, KsHelperRejectsSkewAndAcceptsUniform) {
  std::vector<double> grid, skew;
  for (int i = 0; i < 300; ++i) {
    grid.push_back((i + 0.5) / 300);
    skew.push_back(std::pow((i + 0.5) / 300, 2));
  }
  EXPECT_GT(ks_uniform_p(grid), 0.99);
  EXPECT_LT(ks_uniform_p(skew), 1e-6);
}

namespace {

// A posts corpus without campaigns, ingested with every account (co-action views read posts).
struct null_posts {
  std::string dir, input;
};

const null_posts& null_posts_input() {
  static null_posts d = [] {
    null_posts x;
    x.dir = test::scratch_dir("significance_posts");
    x.input = x.dir + "/in.h5";
    const auto g = run_cli({"generate", "--posts", "--accounts", "3000", "--campaigns", "0",
                            "--seed", "4", "--out", x.dir + "/p.csv"},
                           x.dir);
    EXPECT_EQ(g.code, 0) << g.err;
    const auto i = run_cli({"ingest", x.dir + "/p.csv", "--truth", x.dir + "/p.truth.csv",
                            "--min-posts", "1", "--quiet", "--out", x.input},
                           x.dir);
    EXPECT_EQ(i.code, 0) << i.err;
    return x;
  }();
  return d;
}

}  // namespace

// Groups of ordinary accounts (at least 20 posts, so that they co-post by chance at all): their
// co_post p-values under the day-shift null are uniform.
TEST(SignificanceCalibration, CoactionNullIsUniformOnRandomGroups_N3000_G200_K999) {
  const null_posts& d = null_posts_input();
  const auto posts = coaction::read_post_columns(d.input, coaction::view_kind::post);
  const auto index = coaction::build_index(posts, coaction::view_kind::post);
  std::vector<std::int64_t> count(static_cast<std::size_t>(index.accounts), 0), pool;
  for (const std::int64_t a : posts.account) ++count[static_cast<std::size_t>(a)];
  const auto organic = rows_of_kind(d.input, 0);
  for (const std::int64_t r : organic)
    if (count[static_cast<std::size_t>(r)] >= 20) pool.push_back(r);
  const cluster_table t = random_groups(pool, 200, 9);
  ASSERT_GE(t.size.size(), 40u);
  const h5::handle f = h5::open_read(d.input);
  const auto ids = h5::read_all<std::int64_t>(h5::open_dataset(f, "/accounts/id"));
  significance::options o;
  o.resamples = 999;
  const auto r = significance::coaction_null(index, 60, t, ids, o);
  std::vector<double> p(r.p_value.begin(), r.p_value.end());
  EXPECT_GT(ks_uniform_p(p), 0.01) << "co_post p-values of random groups are not uniform";
}

namespace {

// Per cluster of a results file: size, p-value and the kinds of its members (input /truth/kind).
struct cluster_row {
  std::int64_t size = 0;
  double p = 0, truth_precision = 0;
  std::map<int, int> kinds;
};

std::vector<cluster_row> clusters_of(const std::string& results, const std::string& input) {
  const h5::handle r = h5::open_read(results), in = h5::open_read(input);
  const auto size = h5::read_all<std::int64_t>(h5::open_dataset(r, "/clusters/size"));
  const auto off = h5::read_all<std::int64_t>(h5::open_dataset(r, "/clusters/offsets"));
  const auto mem = h5::read_all<std::int64_t>(h5::open_dataset(r, "/clusters/members"));
  const auto p = h5::read_all<double>(h5::open_dataset(r, "/clusters/p_value"));
  const auto tp = h5::read_all<double>(h5::open_dataset(r, "/clusters/truth_precision"));
  const auto kind = h5::read_all<std::int8_t>(h5::open_dataset(in, "/truth/kind"));
  std::vector<cluster_row> out(size.size());
  for (std::size_t c = 0; c < size.size(); ++c) {
    out[c].size = size[c];
    out[c].p = p[c];
    out[c].truth_precision = tp[c];
    for (std::int64_t k = off[c]; k < off[c + 1]; ++k)
      ++out[c].kinds[kind[static_cast<std::size_t>(mem[static_cast<std::size_t>(k)])]];
  }
  return out;
}

const std::string& demo_dir() {
  static const std::string dir = [] {
    const std::string d = test::scratch_dir("significance_demo");
    const auto r = run_cli({"demo", "--workdir", d}, d);
    EXPECT_EQ(r.code, 0) << r.err;
    return d;
  }();
  return dir;
}

}  // namespace

// The demo's corpus (planted campaigns, fans, news bots on shared schedules): every planted
// campaign is below 0.001 in the default view, and the news bots, whose timing is shared only
// because they follow the same clock every day, stay above it in the activity view.
TEST(SignificanceDemo, PlantedBelow0001AndScheduledBotsAbove_K1000) {
  const std::string d = demo_dir(), in = d + "/demo_input.h5";
  const auto both = run_cli({"detect", "--input", in, "--out", d + "/both.h5", "--threshold",
                             "0.95", "--threshold-activity", "0.6", "--significance", "1000"},
                            d);
  ASSERT_EQ(both.code, 0) << both.err;
  int planted = 0;
  for (cluster_row c : clusters_of(d + "/both.h5", in)) {
    if (c.kinds[1] * 10 >= c.size * 9) {  // a planted campaign
      ++planted;
      EXPECT_LT(c.p, 0.001) << "a planted campaign of " << c.size << " accounts";
    } else if (c.kinds[2] + c.kinds[3] > c.size / 2) {
      EXPECT_GE(c.p, 0.001) << "a cluster of " << c.size << " decoys";
    }
  }
  EXPECT_GE(planted, 10);
  const auto act = run_cli({"detect", "--input", in, "--out", d + "/act.h5", "--view", "activity",
                            "--threshold-activity", "0.6", "--significance", "1000"},
                           d);
  ASSERT_EQ(act.code, 0) << act.err;
  int bots = 0;
  for (cluster_row c : clusters_of(d + "/act.h5", in)) {
    if (c.kinds[3] == c.size) {
      ++bots;
      EXPECT_GE(c.p, 0.001) << "news bots on one schedule, " << c.size << " accounts";
    }
    if (c.kinds[1] * 10 >= c.size * 9) EXPECT_LT(c.p, 0.001);
  }
  EXPECT_GE(bots, 3) << "the corpus should put scheduled bots into activity clusters";
}

// The resamples are a function of (seed, cluster, resample): the same for any thread count, and
// another seed gives other resamples (but the same observed statistics).
TEST(SignificanceDemo, SameSeedSameResultsOnAnyThreadCount) {
  const std::string d = demo_dir(), in = d + "/demo_input.h5";
  auto run = [&](const std::string& out, const char* threads, const char* seed) {
    const auto r = run_cli({"detect", "--input", in, "--out", out, "--threshold", "0.95",
                            "--threshold-activity", "0.6", "--significance", "200", "--threads",
                            threads, "--significance-seed", seed, "--quiet"},
                           d);
    EXPECT_EQ(r.code, 0) << r.err;
  };
  run(d + "/t1.h5", "1", "5");
  run(d + "/t2.h5", "2", "5");
  run(d + "/t3.h5", "2", "6");
  auto read = [](const std::string& path, const char* ds) {
    return h5::read_all<double>(h5::open_dataset(h5::open_read(path), ds));
  };
  for (const char* ds :
       {"/clusters/p_value", "/clusters/q_value", "/clusters/null/activity/null_mean",
        "/clusters/null/content/null_mean", "/clusters/null/content/observed"})
    EXPECT_EQ(read(d + "/t1.h5", ds), read(d + "/t2.h5", ds)) << ds;
  EXPECT_EQ(read(d + "/t1.h5", "/clusters/null/activity/observed"),
            read(d + "/t3.h5", "/clusters/null/activity/observed"));
  EXPECT_NE(read(d + "/t1.h5", "/clusters/null/activity/null_mean"),
            read(d + "/t3.h5", "/clusters/null/activity/null_mean"));
}

// Mistakes: one line, exit code 2, nothing written.
TEST(SignificanceMistakes, RefusedWithOneLineAndNoOutput) {
  const std::string d = test::scratch_dir("significance_mistakes");
  test::generated(d + "/g.h5", 600, 16, 96, 4, 3);
  // an input without the activity clock (written by hand)
  const test::dense act = test::activity_counts(200, 96, 5);
  const test::dense emb = test::clustered(200, 8, 5);
  test::write_input(d + "/noclock.h5", 200, &emb, &act);
  const null_posts& posts = null_posts_input();
  const auto folded = run_cli(
      {"ingest", posts.dir + "/p.csv", "--fold", "day", "--quiet", "--out", d + "/folded.h5"}, d);
  ASSERT_EQ(folded.code, 0) << folded.err;
  struct mistake {
    std::vector<std::string> args;
    std::string says;
  };
  const std::vector<mistake> mistakes = {
      {{"--input", d + "/g.h5", "--significance-seed", "3"}, "runs only with --significance"},
      {{"--input", d + "/g.h5", "--null-period", "24"}, "runs only with --significance"},
      {{"--input", d + "/g.h5", "--view", "embedding", "--significance", "10", "--null-period",
        "24"},
       "--view embedding does not use"},
      {{"--input", d + "/g.h5", "--edges", "embedding & activity", "--significance", "10"},
       "--edges"},
      {{"--input", d + "/noclock.h5", "--view", "activity", "--significance", "10"},
       "--null-period"},
      {{"--input", d + "/folded.h5", "--view", "activity", "--significance", "10"}, "folded"},
      {{"--input", d + "/g.h5", "--significance", "10", "--null-period", "60"},
       "fewer than two periods"},
      {{"--input", d + "/g.h5", "--significance", "-1"}, "--significance"},
      {{"--input", posts.input, "--view", "co_post", "--significance", "10", "--null-period", "24"},
       "--view co_post does not use"},
  };
  for (const mistake& m : mistakes) {
    std::vector<std::string> args = {"detect", "--out", d + "/r.h5"};
    args.insert(args.end(), m.args.begin(), m.args.end());
    const auto r = run_cli(args, d);
    EXPECT_EQ(r.code, 2) << m.says << ": " << r.err;
    EXPECT_NE(r.err.find(m.says), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_FALSE(exists(d + "/r.h5")) << m.says;
  }
  // the clock given by hand: the same input runs
  const auto ok = run_cli({"detect", "--input", d + "/noclock.h5", "--out", d + "/r.h5", "--view",
                           "activity", "--significance", "10", "--null-period", "24", "--quiet"},
                          d);
  EXPECT_EQ(ok.code, 0) << ok.err;
}

// Co-action: the campaigns that share links within seconds, day after day, are below 0.001
// under the day-shift null of their post times.
TEST(SignificanceDemo, CoLinkCampaignsBelow0001_K1000) {
  const std::string d = demo_dir(), in = d + "/demo_input.h5";
  const auto r = run_cli({"detect", "--input", in, "--out", d + "/link.h5", "--view", "co_link",
                          "--min-weight", "5", "--significance", "1000"},
                         d);
  ASSERT_EQ(r.code, 0) << r.err;
  int planted = 0;
  for (cluster_row c : clusters_of(d + "/link.h5", in))
    if (c.kinds[1] * 10 >= c.size * 9 && c.size >= 5) {
      ++planted;
      EXPECT_LT(c.p, 0.001) << "a campaign of " << c.size << " accounts sharing links";
    }
  EXPECT_GE(planted, 10);
}

// Two MPI ranks: rank 0 holds every row and tests the same clusters with the same resamples.
TEST(SignificanceMpi, TwoRanksGiveTheSameValues) {
  const std::string bin = CHORUS_BINARY, build = bin.substr(0, bin.rfind('/'));
  if (test::configured_off(build, "CHORUS_MPI")) GTEST_SKIP() << "built with -DCHORUS_MPI=OFF";
  const std::string launch = cli_test::mpirun();
  if (launch.empty()) CHORUS_SKIP_MISSING_TOOL("mpirun not found (install openmpi-bin)");
  const std::string d = test::scratch_dir("significance_mpi");
  test::generated(d + "/g.h5", 3000, 32, 168, 6, 9);
  const std::string args = " detect --quiet --json --input " + d + "/g.h5 --significance 300";
  ASSERT_EQ(run_cli({"detect", "--quiet", "--input", d + "/g.h5", "--out", d + "/one.h5",
                     "--significance", "300"},
                    d)
                .code,
            0);
  auto [rc, json] = cli_test::shell(launch + " -np 2 " + bin + args + " --out " + d + "/two.h5 2>" +
                                    d + "/err.txt");
  ASSERT_EQ(rc, 0) << cli_test::slurp(d + "/err.txt");
  if (json.find("\"ranks\":2") == std::string::npos)
    CHORUS_SKIP_MISSING_TOOL("chorus was built without MPI; --json said: " + json);
  const h5::handle a = h5::open_read(d + "/one.h5"), b = h5::open_read(d + "/two.h5");
  for (const char* ds : {"/clusters/p_value", "/clusters/q_value",
                         "/clusters/null/activity/null_mean", "/clusters/null/content/null_mean"}) {
    const auto x = h5::read_all<double>(h5::open_dataset(a, ds));
    const auto y = h5::read_all<double>(h5::open_dataset(b, ds));
    ASSERT_EQ(x.size(), y.size()) << ds;
    for (std::size_t i = 0; i < x.size(); ++i)
      EXPECT_TRUE(x[i] == y[i] || (std::isnan(x[i]) && std::isnan(y[i]))) << ds << " " << i;
  }
}
