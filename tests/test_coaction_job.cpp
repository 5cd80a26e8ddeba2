// chorus detect --view co_*: a posts file worked out by hand through ingest and detect, and the
// mistakes a user makes with the co-action options.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "chorus/io/h5.hpp"
#include "cli_support.hpp"
#include "test_support.hpp"

namespace {

using chorus::cli_test::run_cli;
namespace h5 = chorus::h5;

constexpr long long kT0 = 1772323200;

// User 50 posts 1000 and 1001; 10, 11 and 12 repost them: 1000 at +100, +130, +200 s and 1001
// at +1000, +1060, +1200 s. 13 replies to 1000 (no repost anywhere else).
std::string reposts_csv() {
  std::string s = "message_id,user_id,username,repost_id,reply_id,message,timestamp,urls\n";
  auto row = [&](long long id, const char* user, const char* repost, const char* reply,
                 long long dt, const char* text) {
    s += std::to_string(id) + "," + user + ",u" + user + "," + repost + "," + reply + "," + text +
         "," + std::to_string(kT0 + dt) + ",\n";
  };
  row(1000, "50", "", "", 0, "the original");
  row(1001, "50", "", "", 900, "another original");
  row(2000, "10", "1000", "", 100, "the original");
  row(2001, "11", "1000", "", 130, "the original");
  row(2002, "12", "1000", "", 200, "the original");
  row(2003, "10", "1001", "", 1000, "another original");
  row(2004, "11", "1001", "", 1060, "another original");
  row(2005, "12", "1001", "", 1200, "another original");
  row(2006, "13", "", "1000", 300, "@u50 nice");
  return s;
}

struct fixture {
  std::string dir, input;
};

fixture ingested(const std::string& name) {
  fixture f;
  f.dir = chorus::test::scratch_dir(name);
  f.input = f.dir + "/in.h5";
  std::ofstream(f.dir + "/posts.csv") << reposts_csv();
  const auto r = run_cli({"ingest", f.dir + "/posts.csv", "--out", f.input, "--min-posts", "1",
                          "--dim", "0", "--quiet"},
                         f.dir);
  EXPECT_EQ(r.code, 0) << r.err;
  return f;
}

std::vector<std::int64_t> ints(const h5::handle& f, const char* path) {
  return h5::read_all<std::int64_t>(h5::open_dataset(f, path));
}

TEST(CoactionJob, RepostsWithinTheWindowMakeTheEdgeWithItsEvidence) {
  const fixture fx = ingested("coaction_job");
  const auto r = run_cli({"detect", "--input", fx.input, "--out", fx.dir + "/r.h5", "--view",
                          "co_repost", "--window", "60", "--quiet"},
                         fx.dir);
  ASSERT_EQ(r.code, 0) << r.err;
  h5::handle f = h5::open_read(fx.dir + "/r.h5");
  // rows in order of first appearance: 50, 10, 11, 12, 13
  EXPECT_EQ(ints(f, "/accounts/id"), (std::vector<std::int64_t>{50, 10, 11, 12, 13}));
  EXPECT_EQ(ints(f, "/edges/src"), (std::vector<std::int64_t>{1}));
  EXPECT_EQ(ints(f, "/edges/dst"), (std::vector<std::int64_t>{2}));
  EXPECT_EQ(ints(f, "/edges/weight_src_dst"), (std::vector<std::int64_t>{2}));
  EXPECT_EQ(ints(f, "/edges/weight_dst_src"), (std::vector<std::int64_t>{2}));
  EXPECT_EQ(ints(f, "/labels"), (std::vector<std::int64_t>{-1, 0, 0, -1, -1}));
  EXPECT_EQ(ints(f, "/coaction/pairs"), (std::vector<std::int64_t>{2}));
  EXPECT_EQ(ints(f, "/coaction/post_src"), (std::vector<std::int64_t>{2000, 2003}));
  EXPECT_EQ(ints(f, "/coaction/post_dst"), (std::vector<std::int64_t>{2001, 2004}));
  EXPECT_EQ(ints(f, "/coaction/time_src"), (std::vector<std::int64_t>{kT0 + 100, kT0 + 1000}));
  EXPECT_EQ(ints(f, "/coaction/time_dst"), (std::vector<std::int64_t>{kT0 + 130, kT0 + 1060}));
  const auto objects = h5::read_strings(h5::open_dataset(f, "/coaction/objects"));
  const auto obj = ints(f, "/coaction/object");
  ASSERT_EQ(obj.size(), 2u);
  EXPECT_EQ(objects.at(static_cast<std::size_t>(obj[0])), "1000");
  EXPECT_EQ(objects.at(static_cast<std::size_t>(obj[1])), "1001");
  std::int64_t window = 0;
  ASSERT_TRUE(h5::get_attr(f, "coaction_window", window));
  EXPECT_EQ(window, 60);
  std::string view;
  ASSERT_TRUE(h5::get_attr(f, "view", view));
  EXPECT_EQ(view, "co_repost");
}

TEST(CoactionJob, AWiderWindowAndAHigherMinWeight) {
  const fixture fx = ingested("coaction_window");
  auto r = run_cli({"detect", "--input", fx.input, "--out", fx.dir + "/r.h5", "--view", "co_repost",
                    "--window", "100", "--json"},
                   fx.dir);
  ASSERT_EQ(r.code, 0) << r.err;
  {
    h5::handle f = h5::open_read(fx.dir + "/r.h5");
    // 10-11: 30 s and 60 s; 10-12: 100 s (1000 only); 11-12: 70 s (1000 only)
    EXPECT_EQ(ints(f, "/edges/src"), (std::vector<std::int64_t>{1, 1, 2}));
    EXPECT_EQ(ints(f, "/edges/dst"), (std::vector<std::int64_t>{2, 3, 3}));
    EXPECT_EQ(ints(f, "/edges/weight_src_dst"), (std::vector<std::int64_t>{2, 1, 1}));
    EXPECT_EQ(ints(f, "/edges/weight_dst_src"), (std::vector<std::int64_t>{2, 1, 1}));
  }
  EXPECT_NE(r.out.find("\"view\":\"co_repost\""), std::string::npos) << r.out;
  EXPECT_EQ(r.err.find("WARNING"), std::string::npos) << r.err;  // --min-posts 1: nobody left out
  r = run_cli({"detect", "--input", fx.input, "--out", fx.dir + "/r.h5", "--view", "co_repost",
               "--window", "100", "--min-weight", "2", "--force", "--quiet"},
              fx.dir);
  ASSERT_EQ(r.code, 0) << r.err;
  h5::handle f = h5::open_read(fx.dir + "/r.h5");
  EXPECT_EQ(ints(f, "/edges/src"), (std::vector<std::int64_t>{1}));
  EXPECT_EQ(ints(f, "/edges/dst"), (std::vector<std::int64_t>{2}));
}

TEST(CoactionJob, MistakesGetOneLineAndExitTwo) {
  const fixture fx = ingested("coaction_mistakes");
  const std::string out = fx.dir + "/r.h5";
  struct mistake {
    std::vector<std::string> args;
    const char* says;
  };
  const std::vector<mistake> cases = {
      {{"--view", "co_repost", "--threshold", "0.9"}, "--threshold applies to the embedding"},
      {{"--view", "co_repost", "--topk", "3"}, "--topk applies to the embedding"},
      {{"--view", "co_retweet"}, "co_repost"},
      {{"--view", "co_hashtag", "--window", "10"}, "has nothing to compare"},
      {{"--view", "co_link"}, "no post that is not a repost has a link"},
      {{"--view", "co_repost", "--min-weight", "0"}, "--min-weight"},
      {{"--view", "co_repost", "--window", "-5"}, "--window"},
  };
  for (const mistake& m : cases) {
    std::vector<std::string> args = {"detect", "--input", fx.input, "--out", out, "--quiet"};
    args.insert(args.end(), m.args.begin(), m.args.end());
    const auto r = run_cli(args, fx.dir);
    EXPECT_EQ(r.code, 2) << m.says << "\n" << r.err;
    EXPECT_NE(r.err.find(m.says), std::string::npos) << r.err;
    EXPECT_FALSE(chorus::cli_test::exists(out)) << m.says;
  }
  // a memory cap below what the index and counters need: refused before any work (exit 3)
  {
    const auto r = run_cli({"detect", "--input", fx.input, "--out", out, "--view", "co_repost",
                            "--max-memory", "20", "--quiet"},
                           fx.dir);
    EXPECT_EQ(r.code, 3) << r.err;
    EXPECT_NE(r.err.find("more than --max-memory 20 MiB"), std::string::npos) << r.err;
    EXPECT_FALSE(chorus::cli_test::exists(out));
  }
  // an empty view is written when asked for
  auto r = run_cli({"detect", "--input", fx.input, "--out", out, "--view", "co_link",
                    "--allow-empty-view", "--quiet"},
                   fx.dir);
  EXPECT_EQ(r.code, 0) << r.err;
  // an input without posts (a dense input) names chorus ingest
  chorus::test::generated(fx.dir + "/dense.h5", 200, 8, 24, 2, 3);
  r = run_cli({"detect", "--input", fx.dir + "/dense.h5", "--out", fx.dir + "/d.h5", "--view",
               "co_repost", "--quiet"},
              fx.dir);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("chorus ingest"), std::string::npos) << r.err;
  // a co-action option with a dense view
  r = run_cli({"detect", "--input", fx.dir + "/dense.h5", "--out", fx.dir + "/d.h5", "--view",
               "embedding", "--window", "30", "--quiet"},
              fx.dir);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--window applies to the co-action views"), std::string::npos) << r.err;
  EXPECT_FALSE(chorus::cli_test::exists(fx.dir + "/d.h5"));
}

}  // namespace

namespace {

// ---- --edges: views combined by an expression --------------------------------------------------

struct edge_set {
  std::vector<std::pair<std::int64_t, std::int64_t>> pairs;
  std::vector<std::int64_t> terms;
};

edge_set edges_of(const std::string& path) {
  h5::handle f = h5::open_read(path);
  const auto s = ints(f, "/edges/src"), d = ints(f, "/edges/dst");
  edge_set e;
  for (std::size_t k = 0; k < s.size(); ++k) e.pairs.emplace_back(s[k], d[k]);
  if (h5::exists(f, "/edges/terms")) e.terms = ints(f, "/edges/terms");
  return e;
}

// A generated corpus with campaigns, ingested with small content vectors (built once).
const fixture& combined_fixture() {
  static const fixture fx = [] {
    fixture f;
    f.dir = chorus::test::scratch_dir("coaction_edges");
    f.input = f.dir + "/in.h5";
    auto r = run_cli({"generate", "--posts", "--accounts", "2000", "--seed", "11", "--out",
                      f.dir + "/posts.csv", "--force", "--quiet"},
                     f.dir);
    EXPECT_EQ(r.code, 0) << r.err;
    r = run_cli({"ingest", f.dir + "/posts.csv", "--out", f.input, "--dim", "16", "--min-posts",
                 "2", "--force", "--quiet"},
                f.dir);
    EXPECT_EQ(r.code, 0) << r.err;
    return f;
  }();
  return fx;
}

edge_set detect(const fixture& fx, const std::string& name, std::vector<std::string> args) {
  const std::string out = fx.dir + "/" + name + ".h5";
  std::vector<std::string> a = {"detect", "--input", fx.input, "--out", out, "--force", "--quiet"};
  a.insert(a.end(), args.begin(), args.end());
  const auto r = run_cli(a, fx.dir);
  EXPECT_EQ(r.code, 0) << r.err;
  return edges_of(out);
}

TEST(CoactionEdges, OrIsTheUnionOfTheViewsAndTermsSayWhichHeld) {
  const fixture& fx = combined_fixture();
  const edge_set a =
      detect(fx, "a", {"--view", "co_repost", "--window", "60", "--min-weight", "2"});
  const edge_set b =
      detect(fx, "b", {"--view", "both", "--threshold", "0.9", "--threshold-activity", "0.4"});
  const edge_set c = detect(fx, "c",
                            {"--edges", "co_repost>=2 | (embedding & activity)", "--window", "60",
                             "--threshold", "0.9", "--threshold-activity", "0.4"});
  std::set<std::pair<std::int64_t, std::int64_t>> want(a.pairs.begin(), a.pairs.end());
  want.insert(b.pairs.begin(), b.pairs.end());
  const std::set<std::pair<std::int64_t, std::int64_t>> got(c.pairs.begin(), c.pairs.end());
  EXPECT_EQ(got, want);
  ASSERT_GT(a.pairs.size(), 0u);
  ASSERT_GT(b.pairs.size(), 0u);
  ASSERT_EQ(c.terms.size(), c.pairs.size());
  const std::set<std::pair<std::int64_t, std::int64_t>> in_a(a.pairs.begin(), a.pairs.end()),
      in_b(b.pairs.begin(), b.pairs.end());
  for (std::size_t k = 0; k < c.pairs.size(); ++k) {  // terms: co_repost, embedding, activity
    EXPECT_EQ((c.terms[k] & 1) != 0, in_a.count(c.pairs[k]) > 0);
    EXPECT_EQ((c.terms[k] & 6) == 6, in_b.count(c.pairs[k]) > 0);
  }
}

TEST(CoactionEdges, AndFiltersCoActionEdgesByTheCosineOfTheRows) {
  const fixture& fx = combined_fixture();
  const edge_set a = detect(fx, "a1", {"--view", "co_repost", "--window", "300"});
  const edge_set c = detect(fx, "c1", {"--edges", "co_repost & embedding>=0.5", "--window", "300"});
  h5::handle f = h5::open_read(fx.input);
  const h5::handle ds = h5::open_dataset(f, "/embedding");
  const auto dims = h5::describe(ds).dims;
  ASSERT_EQ(dims.at(1), 16u);
  const std::size_t d = 16;
  std::vector<float> emb(dims[0] * d);
  h5::read_rows<float>(ds, 0, dims[0], emb.data());
  auto cosine = [&](std::int64_t i, std::int64_t j) {  // float64 from the raw rows
    double dot = 0, ni = 0, nj = 0;
    for (std::size_t k = 0; k < d; ++k) {
      const double x = emb[static_cast<std::size_t>(i) * d + k],
                   y = emb[static_cast<std::size_t>(j) * d + k];
      dot += x * y, ni += x * x, nj += y * y;
    }
    return ni > 0 && nj > 0 ? dot / std::sqrt(ni * nj) : -2.0;
  };
  std::vector<std::pair<std::int64_t, std::int64_t>> want;
  std::size_t dropped = 0;
  for (const auto& p : a.pairs) {
    if (cosine(p.first, p.second) >= 0.5)
      want.push_back(p);
    else
      ++dropped;
  }
  EXPECT_EQ(c.pairs, want);
  EXPECT_GT(dropped, 0u) << "the filter should remove some co-repost edges";
  EXPECT_GT(want.size(), 0u);
}

TEST(CoactionEdges, MistakesInTheExpressionAreRefused) {
  const fixture& fx = combined_fixture();
  const std::string out = fx.dir + "/bad.h5";
  const std::vector<std::pair<std::vector<std::string>, const char*>> cases = {
      {{"--edges", "co_repost |"}, "expected a view"},
      {{"--edges", "co_retweet"}, "QUT's toolkit's co_retweet is chorus's co_repost"},
      {{"--edges", "co_repost | embeding"}, "unknown view 'embeding'"},
      {{"--edges", ""}, "--edges is empty"},
      {{"--edges", "(co_repost & embedding"}, "missing ')'"},
      {{"--edges", "co_repost>=0.5"}, "whole number >= 1"},
      {{"--edges", "embedding>=2"}, "[-1, 1]"},
      {{"--edges", "co_repost", "--view", "both"}, "--edges and --view"},
      {{"--edges", "co_repost", "--threshold", "0.9"}, "--threshold sets the embedding terms"},
      {{"--edges", "embedding", "--window", "30"}, "--window applies to co-action views"},
      {{"--edges", "co_link>=2 & embedding>=0.9", "--min-weight", "3"}, "--min-weight sets"},
  };
  for (const auto& [args, says] : cases) {
    std::vector<std::string> a = {"detect", "--input", fx.input, "--out", out, "--quiet"};
    a.insert(a.end(), args.begin(), args.end());
    const auto r = run_cli(a, fx.dir);
    EXPECT_EQ(r.code, 2) << says << "\n" << r.err;
    EXPECT_NE(r.err.find(says), std::string::npos) << r.err;
    EXPECT_FALSE(chorus::cli_test::exists(out)) << says;
  }
}

}  // namespace

namespace {

// co_similar on texts worked out by hand: A and B write the same words (Jaccard 1), C shares
// 4 of 8 distinct words with each (Jaccard 0.5); D repeats A's text two hours later.
TEST(CoactionJob, SimilarTextsByTheJaccardOfTheirWords) {
  const std::string dir = chorus::test::scratch_dir("coaction_similar");
  std::string s = "message_id,user_id,username,repost_id,reply_id,message,timestamp,urls\n";
  auto row = [&](int id, const char* user, long long dt, const char* text) {
    s += std::to_string(id) + "," + user + ",u" + user + ",,," + text + "," +
         std::to_string(kT0 + dt) + ",\n";
  };
  row(1, "20", 0, "Vote for the GREEN party today");
  row(2, "21", 10, "vote for the green party today! @friend https://x.example/a");
  row(3, "22", 20, "vote for the blue party tomorrow");
  row(4, "23", 7200, "Vote for the green party today");
  std::ofstream(dir + "/posts.csv") << s;
  auto r = run_cli({"ingest", dir + "/posts.csv", "--out", dir + "/in.h5", "--min-posts", "1",
                    "--dim", "0", "--quiet"},
                   dir);
  ASSERT_EQ(r.code, 0) << r.err;
  r = run_cli({"detect", "--input", dir + "/in.h5", "--out", dir + "/r.h5", "--view", "co_similar",
               "--window", "60", "--quiet"},
              dir);
  ASSERT_EQ(r.code, 0) << r.err;
  {
    h5::handle f = h5::open_read(dir + "/r.h5");
    EXPECT_EQ(ints(f, "/edges/src"), (std::vector<std::int64_t>{0}));
    EXPECT_EQ(ints(f, "/edges/dst"), (std::vector<std::int64_t>{1}));
    EXPECT_EQ(ints(f, "/coaction/pairs"), (std::vector<std::int64_t>{1}));
  }
  r = run_cli({"detect", "--input", dir + "/in.h5", "--out", dir + "/r.h5", "--view", "co_similar",
               "--window", "60", "--similarity", "0.5", "--force", "--quiet"},
              dir);
  ASSERT_EQ(r.code, 0) << r.err;
  h5::handle f = h5::open_read(dir + "/r.h5");
  EXPECT_EQ(ints(f, "/edges/src"), (std::vector<std::int64_t>{0, 0, 1}));
  EXPECT_EQ(ints(f, "/edges/dst"), (std::vector<std::int64_t>{1, 2, 2}));
  // --similarity with another view is refused
  r = run_cli({"detect", "--input", dir + "/in.h5", "--out", dir + "/x.h5", "--view", "co_text",
               "--similarity", "0.5", "--quiet"},
              dir);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--similarity applies to --view co_similar"), std::string::npos) << r.err;
}

}  // namespace

namespace {

TEST(CoactionEdges, AccountsLeftOutAtIngestAreALoudWarning) {
  const fixture& fx = combined_fixture();  // ingested with --min-posts 2
  const auto r = run_cli({"detect", "--input", fx.input, "--out", fx.dir + "/w.h5", "--view",
                          "co_repost", "--force", "--quiet"},
                         fx.dir);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("WARNING: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("fewer than 2 posts were left out"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--min-posts 1"), std::string::npos) << r.err;
}

TEST(CoactionEdges, DenseOnlyExpressionEqualsTheViewAndOutputsCanBeLeftOut) {
  const fixture& fx = combined_fixture();
  const edge_set b =
      detect(fx, "vb", {"--view", "both", "--threshold", "0.9", "--threshold-activity", "0.4"});
  const edge_set e = detect(fx, "eb", {"--edges", "embedding>=0.9 & activity>=0.4"});
  EXPECT_EQ(e.pairs, b.pairs);
  ASSERT_GT(b.pairs.size(), 0u);
  // --no-evidence: no /coaction; --no-edges: no edges, the same clusters
  detect(fx, "ne", {"--view", "co_repost", "--no-evidence"});
  detect(fx, "nn", {"--view", "co_repost", "--no-edges"});
  detect(fx, "ce", {"--view", "co_repost"});
  h5::handle ne = h5::open_read(fx.dir + "/ne.h5"), nn = h5::open_read(fx.dir + "/nn.h5"),
             ce = h5::open_read(fx.dir + "/ce.h5");
  EXPECT_FALSE(h5::exists(ne, "/coaction"));
  EXPECT_TRUE(h5::exists(ce, "/coaction/pairs"));
  EXPECT_EQ(ints(nn, "/edges/src").size(), 0u);
  EXPECT_EQ(ints(nn, "/edges/weight").size(), 0u);
  EXPECT_EQ(ints(nn, "/labels"), ints(ce, "/labels"));
  EXPECT_EQ(ints(ne, "/edges/weight"), ints(ce, "/edges/weight"));
  const edge_set x = detect(fx, "xn", {"--edges", "co_repost | co_link>=2", "--no-edges"});
  EXPECT_EQ(x.pairs.size(), 0u);
}

}  // namespace
