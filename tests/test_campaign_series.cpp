// A campaign followed day by day (#21), end to end through the executable: a generated series
// (`chorus generate --days`, with accounts joining, changing and leaving and planted births,
// growth, merges, splits and deaths on known days) is detected each day as an update of the day
// before, which must equal the full run of that day (one process, and mpirun -np 2); then
// `chorus track` over the updates must report every planted event on its day, and nothing else,
// and keep the stable id of the campaign that only grew.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "ci_guard.hpp"
#include "cli_support.hpp"
#include "results_compare.hpp"
#include "test_support.hpp"

using namespace chorus;
using namespace chorus::test;
using chorus::cli_test::mpirun;
using chorus::cli_test::run_cli;
using chorus::cli_test::shell;

namespace {

struct planted {
  int day = 0;
  std::string event;
  int campaign = -1, other = -1;
};

std::vector<planted> read_events(const std::string& path) {
  std::ifstream f(path);
  std::string line;
  std::getline(f, line);
  EXPECT_EQ(line, "day,event,campaign,other,size_before,size_after");
  std::vector<planted> out;
  while (std::getline(f, line)) {
    std::stringstream s(line);
    std::string day, event, campaign, other;
    std::getline(s, day, ',');
    std::getline(s, event, ',');
    std::getline(s, campaign, ',');
    std::getline(s, other, ',');
    out.push_back({std::stoi(day), event, std::stoi(campaign), std::stoi(other)});
  }
  return out;
}

std::string day_file(const std::string& dir, const char* what, int day) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "/%s.day%02d.h5", what, day);
  return dir + buf;
}

// Stable id of each planted campaign on one day: the tracked cluster its members are in.
std::map<int, std::int64_t> campaign_ids(const std::string& input, const std::string& results,
                                         const std::map<std::int64_t, std::int64_t>& stable) {
  const auto truth =
      h5::read_all<std::int64_t>(h5::open_dataset(h5::open_read(input), "/truth/cluster"));
  const auto labels =
      h5::read_all<std::int64_t>(h5::open_dataset(h5::open_read(results), "/labels"));
  std::map<int, std::int64_t> out;
  for (std::size_t i = 0; i < truth.size(); ++i) {
    if (truth[i] < 0) continue;
    EXPECT_GE(labels[i], 0) << "a campaign member without a network";
    const std::int64_t id = stable.at(labels[i]);
    const auto [it, fresh] = out.emplace(static_cast<int>(truth[i]), id);
    EXPECT_EQ(it->second, id) << "campaign " << truth[i] << " spans two networks";
  }
  return out;
}

struct tracked {
  int run = 0;
  std::string kind;
  std::int64_t id = 0;
  std::set<std::int64_t> related;
};

// --significance too: an update's p-values equal the full run's (the resamples follow the
// clusters' account ids, not rows or ranks)
const std::vector<std::string> kView = {
    "--view",    "both", "--threshold",    "0.9", "--threshold-activity", "0.6", "--quiet",
    "--backend", "cpu",  "--significance", "100"};

cli_test::cli_result detect(const std::string& dir, const std::string& in, const std::string& out,
                            const std::string& previous = "") {
  std::vector<std::string> a = {"detect", "--input", in, "--out", out};
  a.insert(a.end(), kView.begin(), kView.end());
  if (!previous.empty()) a.insert(a.end(), {"--update", previous});
  return run_cli(a, dir);
}

class CampaignSeries : public ::testing::Test {
 protected:
  static constexpr int kDays = 7;
  void SetUp() override {
    dir = scratch_dir("campaign_series");
    const auto r =
        run_cli({"generate", "--accounts", "2000", "--days", std::to_string(kDays), "--dim", "32",
                 "--clusters", "6", "--seed", "5", "--out", dir + "/s.h5", "--quiet"},
                dir);
    ASSERT_EQ(r.code, 0) << r.err;
  }
  std::string dir;
};

TEST_F(CampaignSeries, DailyUpdatesEqualFullRunsOnOneAndTwoProcesses) {
  ASSERT_EQ(detect(dir, day_file(dir, "s", 1), day_file(dir, "u", 1)).code, 0);
  const std::string launch = mpirun();
  const std::string bin = CHORUS_BINARY, build = bin.substr(0, bin.rfind('/'));
  // the two-process half needs a build with MPI (the sanitizer builds have none) and mpirun
  const bool built_with_mpi = !configured_off(build, "CHORUS_MPI");
  const bool mpi = built_with_mpi && !launch.empty();
  for (int d = 2; d <= kDays; ++d) {
    SCOPED_TRACE("day " + std::to_string(d));
    const auto u =
        detect(dir, day_file(dir, "s", d), day_file(dir, "u", d), day_file(dir, "u", d - 1));
    ASSERT_EQ(u.code, 0) << u.err;
    ASSERT_EQ(detect(dir, day_file(dir, "s", d), day_file(dir, "f", d)).code, 0);
    expect_same_results(day_file(dir, "f", d), day_file(dir, "u", d));
    std::int64_t pairs = 0, full = 0, changed = 0, fresh = 0, removed = 0;
    const h5::handle f = h5::open_read(day_file(dir, "u", d));
    h5::get_attr(f, "pairs", pairs), h5::get_attr(f, "pairs_full", full);
    h5::get_attr(f, "rows_changed", changed), h5::get_attr(f, "rows_new", fresh);
    h5::get_attr(f, "rows_removed", removed);
    EXPECT_GT(fresh, 0);  // the series has every kind of change every day
    EXPECT_GT(changed, 0);
    EXPECT_GT(removed, 0);
    EXPECT_LT(pairs * 5, full) << "an update of a few percent of the rows scores a few percent";
    // two ranks share the new and changed rows' pairs
    if (!mpi) continue;
    const std::string out = day_file(dir, "m", d);
    std::ostringstream cmd;
    cmd << launch << " -np 2 " << bin << " detect --json --input " << day_file(dir, "s", d)
        << " --out " << out << " --update " << day_file(dir, "m", d == 2 ? 1 : d - 1);
    for (const auto& a : kView) cmd << " " << a;
    cmd << " --threads 1 2>" << dir << "/mpi_err.txt";
    if (d == 2)
      ASSERT_EQ(std::system(("cp " + day_file(dir, "u", 1) + " " + day_file(dir, "m", 1)).c_str()),
                0);
    auto [rc, json] = shell(cmd.str());
    ASSERT_EQ(rc, 0) << cmd.str() << "\n" << cli_test::slurp(dir + "/mpi_err.txt");
    if (json.find("\"ranks\":2") == std::string::npos)
      CHORUS_SKIP_MISSING_TOOL("chorus was built without MPI; --json said: " + json);
    expect_same_results(day_file(dir, "f", d), out);
  }
  if (built_with_mpi && launch.empty())
    CHORUS_SKIP_MISSING_TOOL("mpirun not found (install openmpi-bin): the one-process half ran");
}

TEST_F(CampaignSeries, TrackingReportsEveryPlantedEventOnItsDay) {
  std::vector<std::string> args = {"track"};
  for (int d = 1; d <= kDays; ++d) {
    const auto r = detect(dir, day_file(dir, "s", d), day_file(dir, "u", d),
                          d > 1 ? day_file(dir, "u", d - 1) : "");
    ASSERT_EQ(r.code, 0) << r.err;
    args.push_back(day_file(dir, "u", d));
  }
  args.insert(args.end(), {"--out", dir + "/timeline.h5", "--quiet"});
  const auto t = run_cli(args, dir);
  ASSERT_EQ(t.code, 0) << t.err;
  const h5::handle tl = h5::open_read(dir + "/timeline.h5");
  auto ints = [&](const char* p) { return h5::read_all<std::int64_t>(h5::open_dataset(tl, p)); };
  const auto c_run = ints("/clusters/run"), c_label = ints("/clusters/label"),
             c_id = ints("/clusters/stable_id");
  std::vector<std::map<std::int64_t, std::int64_t>> stable(kDays);  // per run: label -> id
  for (std::size_t k = 0; k < c_run.size(); ++k) stable[c_run[k]][c_label[k]] = c_id[k];
  std::vector<std::map<int, std::int64_t>> sid(kDays + 1);  // per day: campaign -> stable id
  for (int d = 1; d <= kDays; ++d)
    sid[d] = campaign_ids(day_file(dir, "s", d), day_file(dir, "u", d), stable[d - 1]);
  // what the tracker reported
  const auto e_run = ints("/events/run"), e_id = ints("/events/stable_id");
  const auto e_kind = h5::read_strings(h5::open_dataset(tl, "/events/kind"));
  const auto e_rel = h5::read_strings(h5::open_dataset(tl, "/events/related"));
  std::set<std::string> got, want;
  for (std::size_t k = 0; k < e_run.size(); ++k) {
    std::set<std::int64_t> ids = {e_id[k]};
    std::stringstream s(e_rel[k]);
    for (std::int64_t x; s >> x;) ids.insert(x);
    std::string key = std::to_string(e_run[k] + 1) + " " + e_kind[k];
    for (auto x : ids) key += " " + std::to_string(x);
    got.insert(key);
  }
  // what was planted, in the tracker's terms (a split-off campaign is part of the split event)
  std::set<int> grew;
  std::map<int, int> losses;
  for (const planted& p : read_events(dir + "/s.events.csv")) {
    const auto& now = sid[p.day];
    const auto& before = sid[p.day > 1 ? p.day - 1 : 1];
    std::string key = std::to_string(p.day) + " " + p.event;
    if (p.event == "birth" && p.other >= 0) continue;  // the split row names it
    if (p.event == "birth" || p.event == "growth") key += " " + std::to_string(now.at(p.campaign));
    if (p.event == "death") key += " " + std::to_string(before.at(p.campaign));
    if (p.event == "merge") {
      const std::set<std::int64_t> ids = {before.at(p.campaign), before.at(p.other)};
      for (auto x : ids) key += " " + std::to_string(x);
      ++losses[p.other];
    }
    if (p.event == "split") {
      const std::set<std::int64_t> ids = {now.at(p.campaign), now.at(p.other)};
      for (auto x : ids) key += " " + std::to_string(x);
      ++losses[p.campaign];
    }
    if (p.event == "growth") grew.insert(p.campaign);
    if (p.event == "death") ++losses[p.campaign];
    want.insert(key);
  }
  EXPECT_EQ(got, want);
  EXPECT_FALSE(grew.empty());
  for (int c : grew) {
    if (losses.count(c)) continue;
    std::set<std::int64_t> ids;  // a campaign that only grew keeps one stable id
    for (int d = 1; d <= kDays; ++d)
      if (sid[d].count(c)) ids.insert(sid[d].at(c));
    EXPECT_EQ(ids.size(), 1u) << "campaign " << c;
  }
}

}  // namespace
