// Incremental detection (`chorus detect --update PREVIOUS`, #21): every update equals a full run
// on the same input, dataset for dataset (labels, edges, clusters, evidence, row checksums),
// for each view, over a chain of versions with new, changed, removed, moved and reused
// accounts, on one process and under mpirun; and the mistakes a user can make are refused.
// The reference is the full run, which scores every pair and never reads a previous file.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "chorus/job/detect.hpp"
#include "chorus/job/update.hpp"
#include "chorus/scan/tiling.hpp"
#include "ci_guard.hpp"
#include "cli_support.hpp"
#include "results_compare.hpp"
#include "test_support.hpp"

using namespace chorus;
using namespace chorus::test;
using chorus::cli_test::run_cli;
using chorus::cli_test::shell;

namespace {

// One version of an input: account ids and the pool rows that hold their vectors.
struct version {
  std::vector<std::int64_t> ids, rows;
};

// Rows every version draws from: clustered embeddings and bursty activity, so that each view
// has edges and components of several sizes.
struct pool {
  dense emb, act;
  explicit pool(std::int64_t n) : emb(clustered(n, 24, 71)), act(activity_counts(n, 48, 72)) {}
};

void write_version(const std::string& path, const pool& p, const version& v) {
  h5::handle f = h5::create(path);
  const std::int64_t n = static_cast<std::int64_t>(v.ids.size());
  h5::write_vector(f, "/accounts/id", v.ids);
  std::vector<float> e(static_cast<std::size_t>(n * p.emb.d));
  std::vector<std::int32_t> a(static_cast<std::size_t>(n * p.act.d));
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t k = 0; k < p.emb.d; ++k)
      e[i * p.emb.d + k] = static_cast<float>(p.emb.at(v.rows[i], k));
    for (std::int64_t k = 0; k < p.act.d; ++k)
      a[i * p.act.d + k] = static_cast<std::int32_t>(p.act.at(v.rows[i], k));
  }
  auto de = h5::create_dataset<float>(f, "/embedding", {std::uint64_t(n), std::uint64_t(p.emb.d)});
  h5::write_rows(de, 0, n, e.data());
  auto da =
      h5::create_dataset<std::int32_t>(f, "/activity", {std::uint64_t(n), std::uint64_t(p.act.d)});
  h5::write_rows(da, 0, n, a.data());
}

// The next version: `removed` accounts leave, `changed` take another pool row, `added` join
// with fresh pool rows (some copies of existing rows, so that they join clusters), `reused`
// ids of earlier removed accounts come back with new rows, and the rows are shuffled.
version next_version(const version& v, std::int64_t& next_row, std::int64_t& next_id,
                     std::vector<std::int64_t>& gone, std::uint64_t seed, int removed, int changed,
                     int added, int reused) {
  std::mt19937_64 rng(seed);
  version w = v;
  for (int k = 0; k < removed && !w.ids.empty(); ++k) {
    const std::size_t at = rng() % w.ids.size();
    gone.push_back(w.ids[at]);
    w.ids.erase(w.ids.begin() + static_cast<std::ptrdiff_t>(at));
    w.rows.erase(w.rows.begin() + static_cast<std::ptrdiff_t>(at));
  }
  for (int k = 0; k < changed; ++k) w.rows[rng() % w.rows.size()] = next_row++;
  for (int k = 0; k < added; ++k) {
    w.ids.push_back(next_id++);
    w.rows.push_back(k % 2 ? next_row++ : w.rows[rng() % w.rows.size()]);  // half are copies
  }
  for (int k = 0; k < reused && !gone.empty(); ++k) {
    w.ids.push_back(gone.back());
    gone.pop_back();
    w.rows.push_back(next_row++);
  }
  std::vector<std::size_t> order(w.ids.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), rng);
  version s;
  for (std::size_t i : order) s.ids.push_back(w.ids[i]), s.rows.push_back(w.rows[i]);
  return s;
}

std::int64_t int_attr(const std::string& path, const char* name) {
  std::int64_t v = -1;
  h5::get_attr(h5::open_read(path), name, v);
  return v;
}

struct view_case {
  std::string name;
  std::vector<std::string> args;
};

void PrintTo(const view_case& c, std::ostream* os) { *os << c.name; }

std::vector<view_case> view_cases() {
  return {{"embedding", {"--view", "embedding", "--threshold", "0.8"}},
          {"activity_log1p",
           {"--view", "activity", "--threshold-activity", "0.5", "--activity-transform", "log1p"}},
          {"both", {"--view", "both", "--threshold", "0.7", "--threshold-activity", "0.5"}},
          {"fused_int8",
           {"--view", "fused", "--threshold", "0.6", "--weight", "0.4", "--precision", "int8"}}};
}

cli_test::cli_result detect(const std::string& dir, const std::string& in, const std::string& out,
                            const std::vector<std::string>& view,
                            std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {
      "detect",      "--quiet", "--backend",   "cpu", "--input",        in, "--out", out,
      "--tile-rows", "32",      "--tile-cols", "64",  "--min-activity", "3"};
  args.insert(args.end(), view.begin(), view.end());
  args.insert(args.end(), extra.begin(), extra.end());
  return run_cli(args, dir);
}

// A chain of five versions; each update (from the previous update's results) equals the full
// run, and scores exactly the pairs that touch a new or changed row.
class UpdateChain : public ::testing::TestWithParam<view_case> {};

TEST_P(UpdateChain, EveryUpdateEqualsTheFullRun) {
  const view_case& vc = GetParam();
  const std::string dir = scratch_dir("update_chain_" + vc.name);
  const pool p(1400);
  version v;
  for (std::int64_t i = 0; i < 500; ++i) v.ids.push_back(5000 + 7 * i), v.rows.push_back(i);
  std::int64_t next_row = 500, next_id = 900000;
  std::vector<std::int64_t> gone;
  write_version(dir + "/v0.h5", p, v);
  auto r = detect(dir, dir + "/v0.h5", dir + "/u0.h5", vc.args);
  ASSERT_EQ(r.code, 0) << r.err;
  // (removed, changed, added, reused): a mix; nothing at all; ids reused; most rows changed
  const int steps[][4] = {{9, 7, 12, 0}, {0, 0, 0, 0}, {5, 3, 4, 4}, {2, 600, 2, 1}};
  for (int s = 0; s < 4; ++s) {
    SCOPED_TRACE("version " + std::to_string(s + 1));
    const auto& st = steps[s];
    const version w = next_version(v, next_row, next_id, gone, 100 + s, st[0], st[1], st[2], st[3]);
    const std::string in = dir + "/v" + std::to_string(s + 1) + ".h5";
    const std::string full = dir + "/f" + std::to_string(s + 1) + ".h5";
    const std::string upd = dir + "/u" + std::to_string(s + 1) + ".h5";
    write_version(in, p, w);
    r = detect(dir, in, full, vc.args);
    ASSERT_EQ(r.code, 0) << r.err;
    r = detect(dir, in, upd, vc.args, {"--update", dir + "/u" + std::to_string(s) + ".h5"});
    ASSERT_EQ(r.code, 0) << r.err;
    ASSERT_GT(int_attr(full, "edges"), 20) << "the data should give edges";
    expect_same_results(full, upd);
    // the pairs scored are those (i, j) with i among the new and changed rows
    const std::int64_t n = static_cast<std::int64_t>(w.ids.size());
    const std::int64_t dirty = int_attr(upd, "rows_new") + int_attr(upd, "rows_changed");
    EXPECT_EQ(int_attr(upd, "pairs"), tiling::rows_pairs(0, dirty, n));
    EXPECT_EQ(
        int_attr(upd, "rows_new") + int_attr(upd, "rows_changed") + int_attr(upd, "rows_unchanged"),
        n);
    if (s == 1) EXPECT_EQ(int_attr(upd, "pairs"), 0) << "an identical input scores nothing";
    // most rows changed: the update saves little, and says so
    EXPECT_EQ(r.err.find("changed their rows") != std::string::npos, s == 3) << r.err;
    v = w;
  }
}

INSTANTIATE_TEST_SUITE_P(Views, UpdateChain, ::testing::ValuesIn(view_cases()),
                         [](const auto& info) { return info.param.name; });

// The counts an update reports: new, changed (a row's vector differs), removed, unchanged.
TEST(UpdatePlan, CountsNewChangedRemovedAndCarriesOnlyUnchangedEdges) {
  update_base base;
  base.ids = {10, 11, 12, 13};
  base.checksums = {1, 2, 3, 4};
  base.edges = {{0, 1, 0.9f, 0.8f}, {1, 2, 0.9f, 0.8f}, {2, 3, 0.9f, 0.8f}, {0, 3, 0.5f, 0.5f}};
  // 11 removed, 12 changed, 14 new, 13 and 10 unchanged and swapped in order
  const update_plan u = plan_update(base, {13, 14, 12, 10}, {4, 9, 99, 1});
  EXPECT_EQ(u.rows_new, 1);
  EXPECT_EQ(u.rows_changed, 1);
  EXPECT_EQ(u.rows_removed, 1);
  EXPECT_EQ(u.rows_unchanged, 2);
  EXPECT_EQ(u.dirty, 2);
  EXPECT_EQ(u.order, (std::vector<std::int64_t>{1, 2, 0, 3}));
  ASSERT_EQ(u.carried.size(), 1u);  // only 10-13, now rows 3 and 0
  EXPECT_EQ(u.carried[0].src, 0);
  EXPECT_EQ(u.carried[0].dst, 3);
  EXPECT_EQ(u.carried[0].sim_embedding, 0.5f);
  EXPECT_EQ(u.edges_dropped, 3);
  EXPECT_NE(message_of([&] {
              plan_update(base, {20, 21}, {1, 2});
            }).find("another input"),
            std::string::npos);
}

TEST(UpdatePlan, RowsPermuteInPlaceAndBack) {
  view_matrix v;
  v.n = 7;
  v.d = 3;
  for (int i = 0; i < 7; ++i) {
    for (int k = 0; k < 3; ++k) v.data.push_back(static_cast<float>(10 * i + k));
    v.inv_norm.push_back(i + 0.5);
    v.valid.push_back(i % 2);
  }
  const view_matrix before = v;
  const std::vector<std::int64_t> order = {3, 0, 6, 1, 2, 5, 4};  // cycles of 5 and 2, one fixed
  permute_rows(v, order);
  for (int k = 0; k < 7; ++k) {
    for (int c = 0; c < 3; ++c) EXPECT_EQ(v.row(k)[c], static_cast<float>(10 * order[k] + c));
    EXPECT_EQ(v.inv_norm[k], order[k] + 0.5);
    EXPECT_EQ(v.valid[k], order[k] % 2);
  }
  permute_rows(v, inverse_order(order));
  EXPECT_EQ(v.data, before.data);
  EXPECT_EQ(v.inv_norm, before.inv_norm);
  EXPECT_EQ(v.valid, before.valid);
}

TEST(UpdatePlan, PrefixSplitBalancesPairsAcrossRanks) {
  for (std::int64_t n : {1, 2, 10, 1000}) {
    for (std::int64_t rows : {std::int64_t(0), std::int64_t(1), n / 3, n}) {
      for (std::int64_t parts : {1, 2, 3, 7}) {
        std::int64_t prev = 0, total = 0;
        for (std::int64_t r = 0; r <= parts; ++r) {
          const std::int64_t at = split_prefix_row(n, rows, parts, r);
          ASSERT_GE(at, prev);
          if (r > 0) {
            const std::int64_t share = tiling::rows_pairs(prev, at, n);
            total += share;
            EXPECT_LE(share, tiling::rows_pairs(0, rows, n) / parts + n) << n << " " << rows;
          }
          prev = at;
        }
        EXPECT_EQ(prev, rows);
        EXPECT_EQ(total, tiling::rows_pairs(0, rows, n));
      }
    }
  }
}

// ---- mistakes ---------------------------------------------------------------------------------

class UpdateMistakes : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = scratch_dir("update_mistakes");
    const pool p(700);
    for (std::int64_t i = 0; i < 300; ++i) v.ids.push_back(100 + i), v.rows.push_back(i);
    write_version(dir + "/v0.h5", p, v);
    version other;
    for (std::int64_t i = 0; i < 300; ++i) other.ids.push_back(900000 + i), other.rows.push_back(i);
    write_version(dir + "/other.h5", p, other);
    std::int64_t next_row = 300, next_id = 5000;
    std::vector<std::int64_t> gone;
    write_version(dir + "/v1.h5", p, next_version(v, next_row, next_id, gone, 3, 2, 2, 2, 0));
    ASSERT_EQ(detect(dir, dir + "/v0.h5", dir + "/r0.h5", both).code, 0);
  }
  // Refused with exit code 2, a message holding `want`, and no output.
  void refused(const std::vector<std::string>& view, std::vector<std::string> extra,
               const std::string& want, const std::string& input = "") {
    const std::string out = dir + "/refused.h5";
    const auto r = detect(dir, input.empty() ? dir + "/v1.h5" : input, out, view, extra);
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_NE(r.err.find(want), std::string::npos) << r.err;
    EXPECT_EQ(cli_test::lines_in(r.err), 1) << r.err;
    EXPECT_FALSE(cli_test::exists(out));
  }
  std::string dir;
  version v;
  const std::vector<std::string> both = {
      "--view", "both", "--threshold", "0.7", "--threshold-activity", "0.5"};
};

TEST_F(UpdateMistakes, OtherParametersAreRefused) {
  refused({"--view", "both", "--threshold", "0.75", "--threshold-activity", "0.5"},
          {"--update", dir + "/r0.h5"}, "was computed with --threshold 0.7 (this run: 0.75)");
  // every difference at once
  refused({"--view", "both", "--threshold", "0.75", "--threshold-activity", "0.6",
           "--activity-transform", "log1p"},
          {"--update", dir + "/r0.h5"},
          "--threshold 0.7 (this run: 0.75), --threshold-activity 0.5 (this run: 0.6), "
          "--activity-transform none (this run: log1p)");
  refused({"--view", "both", "--threshold", "0.7", "--threshold-activity", "0.6"},
          {"--update", dir + "/r0.h5"}, "--threshold-activity");
  refused({"--view", "embedding", "--threshold", "0.7"}, {"--update", dir + "/r0.h5"},
          "was computed with --view both (this run: embedding)");
  refused(both, {"--update", dir + "/r0.h5", "--activity-transform", "log1p"},
          "--activity-transform none");
  refused(both, {"--update", dir + "/r0.h5", "--topk", "3"}, "--topk");
}

TEST_F(UpdateMistakes, TheOutputMustNotReplaceThePreviousResults) {
  const std::string before = cli_test::slurp(dir + "/r0.h5");
  const auto r =
      detect(dir, dir + "/v1.h5", dir + "/r0.h5", both, {"--update", dir + "/r0.h5", "--force"});
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("--out names the previous results"), std::string::npos) << r.err;
  EXPECT_EQ(cli_test::slurp(dir + "/r0.h5"), before);
}

TEST_F(UpdateMistakes, AnUpdateOfMostlyNewAccountsWarns) {
  // the previous run had 300 accounts; an input of 300 of them plus 400 new ones
  const pool p(700);
  version big = v;
  for (std::int64_t i = 300; i < 700; ++i) big.ids.push_back(100 + i), big.rows.push_back(i);
  write_version(dir + "/big.h5", p, big);
  const auto r =
      detect(dir, dir + "/big.h5", dir + "/big_r.h5", both, {"--update", dir + "/r0.h5"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("400 of the 700 accounts are new"), std::string::npos) << r.err;
  const auto q =
      detect(dir, dir + "/v1.h5", dir + "/q.h5", both, {"--update", dir + "/r0.h5", "--no-edges"});
  EXPECT_EQ(q.code, 0) << q.err;
  EXPECT_NE(q.err.find("cannot serve as --update"), std::string::npos) << q.err;
  EXPECT_EQ(q.err.find("are new to the previous run"), std::string::npos) << q.err;
}

TEST_F(UpdateMistakes, AnotherInputIsRefused) {
  refused(both, {"--update", dir + "/r0.h5"}, "no account id in common", dir + "/other.h5");
}

TEST_F(UpdateMistakes, PreviousFilesThatCannotServeAreRefused) {
  refused(both, {"--update", dir + "/missing.h5"}, "does not exist");
  refused(both, {"--update", dir + "/v0.h5"}, "is not a chorus results file");
  ASSERT_EQ(detect(dir, dir + "/v0.h5", dir + "/noedges.h5", both, {"--no-edges"}).code, 0);
  refused(both, {"--update", dir + "/noedges.h5"}, "holds no edges");
  ASSERT_EQ(detect(dir, dir + "/v0.h5", dir + "/topk.h5", both, {"--topk", "2"}).code, 0);
  refused(both, {"--update", dir + "/topk.h5"}, "was computed with --topk");
  // a results file from before incremental runs: no row checksums
  ASSERT_EQ(std::system(("cp '" + dir + "/r0.h5' '" + dir + "/old.h5'").c_str()), 0);
  h5::remove(h5::open_rw(dir + "/old.h5"), "/accounts/row_checksum");
  refused(both, {"--update", dir + "/old.h5"}, "has no per-row checksums");
  refused(both, {"--update", dir + "/v1.h5"}, "not the input", dir + "/v1.h5");
}

// ---- several processes ------------------------------------------------------------------------

TEST(UpdateMpi, TwoAndThreeRanksEqualTheFullRun) {
  const std::string bin = CHORUS_BINARY, build = bin.substr(0, bin.rfind('/'));
  if (configured_off(build, "CHORUS_MPI")) GTEST_SKIP() << "built with -DCHORUS_MPI=OFF";
  const std::string launch = cli_test::mpirun();
  if (launch.empty()) CHORUS_SKIP_MISSING_TOOL("mpirun not found (install openmpi-bin)");
  const std::string dir = scratch_dir("update_mpi");
  const pool p(900);
  version v;
  for (std::int64_t i = 0; i < 600; ++i) v.ids.push_back(77 + i), v.rows.push_back(i);
  std::int64_t next_row = 600, next_id = 500000;
  std::vector<std::int64_t> gone;
  write_version(dir + "/v0.h5", p, v);
  const version w = next_version(v, next_row, next_id, gone, 9, 11, 13, 17, 0);
  write_version(dir + "/v1.h5", p, w);
  const std::vector<std::string> view = {
      "--view", "both", "--threshold", "0.7", "--threshold-activity", "0.5"};
  ASSERT_EQ(detect(dir, dir + "/v0.h5", dir + "/r0.h5", view).code, 0);
  ASSERT_EQ(detect(dir, dir + "/v1.h5", dir + "/full.h5", view).code, 0);
  for (int ranks : {2, 3}) {
    SCOPED_TRACE(std::to_string(ranks) + " ranks");
    const std::string out = dir + "/mpi" + std::to_string(ranks) + ".h5";
    std::ostringstream cmd;
    cmd << launch << " -np " << ranks << " " << bin << " detect --quiet --json --backend cpu"
        << " --input " << dir << "/v1.h5 --out " << out << " --update " << dir << "/r0.h5"
        << " --view both --threshold 0.7 --threshold-activity 0.5 --min-activity 3"
        << " --tile-rows 32 --tile-cols 64 --threads 1 2>" << dir << "/err.txt";
    auto [rc, json] = shell(cmd.str());
    ASSERT_EQ(rc, 0) << cmd.str() << "\n" << cli_test::slurp(dir + "/err.txt");
    if (json.find("\"ranks\":" + std::to_string(ranks)) == std::string::npos)
      CHORUS_SKIP_MISSING_TOOL("chorus was built without MPI; --json said: " + json);
    expect_same_results(dir + "/full.h5", out);
    // no shard is left behind: the update's results hold their edges themselves
    for (int r = 0; r < ranks; ++r)
      EXPECT_FALSE(cli_test::exists(edge_shard_path(out, r, ranks))) << r;
  }
}

}  // namespace
