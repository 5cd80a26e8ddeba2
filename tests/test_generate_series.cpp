// Tests of the campaign series generator (chorus/generate/series.hpp, `chorus generate --days`).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "chorus/core/error.hpp"
#include "chorus/generate/series.hpp"
#include "chorus/io/h5.hpp"
#include "cli_support.hpp"

namespace fs = std::filesystem;
using chorus::series_event;
using chorus::series_options;
using chorus::series_summary;
using chorus::cli_test::cli_result;
using chorus::cli_test::run_cli;
using i64 = std::int64_t;

namespace {

/// One daily file, read raw (no normalisation).
struct day_file {
  i64 n = 0, d = 0, t = 0;
  std::vector<i64> id, cluster;
  std::vector<std::int8_t> kind;
  std::vector<float> emb;
  std::vector<std::int32_t> act;
  std::map<std::string, i64> attrs;
  std::string generator, date;
  std::map<i64, i64> row_of;  // id -> row
  i64 size_of(i64 c) const { return std::count(cluster.begin(), cluster.end(), c); }
};

day_file read_day(const std::string& path) {
  namespace h5 = chorus::h5;
  day_file f;
  h5::handle file = h5::open_read(path);
  f.id = h5::read_all<i64>(h5::open_dataset(file, "/accounts/id"));
  f.cluster = h5::read_all<i64>(h5::open_dataset(file, "/truth/cluster"));
  f.kind = h5::read_all<std::int8_t>(h5::open_dataset(file, "/truth/kind"));
  h5::handle emb = h5::open_dataset(file, "/embedding"), act = h5::open_dataset(file, "/activity");
  const h5::dataset_info ei = h5::describe(emb), ai = h5::describe(act);
  f.n = static_cast<i64>(f.id.size());
  f.d = static_cast<i64>(ei.dims[1]);
  f.t = static_cast<i64>(ai.dims[1]);
  f.emb.resize(static_cast<std::size_t>(f.n * f.d));
  f.act.resize(static_cast<std::size_t>(f.n * f.t));
  if (f.n > 0) {
    h5::read_rows<float>(emb, 0, static_cast<std::uint64_t>(f.n), f.emb.data());
    h5::read_rows<std::int32_t>(act, 0, static_cast<std::uint64_t>(f.n), f.act.data());
  }
  for (const char* a : {"seed", "day", "days", "accounts", "joined", "left", "changed"}) {
    i64 v = -1;
    EXPECT_TRUE(h5::get_attr(file, a, v)) << path << ": no attribute " << a;
    f.attrs[a] = v;
  }
  EXPECT_TRUE(h5::get_attr(file, "generator", f.generator));
  EXPECT_TRUE(h5::get_attr(file, "date", f.date));
  for (i64 r = 0; r < f.n; ++r) f.row_of[f.id[static_cast<std::size_t>(r)]] = r;
  return f;
}

bool same_row(const day_file& a, i64 ra, const day_file& b, i64 rb) {
  return std::memcmp(&a.emb[ra * a.d], &b.emb[rb * b.d], sizeof(float) * a.d) == 0 &&
         std::memcmp(&a.act[ra * a.t], &b.act[rb * b.t], sizeof(std::int32_t) * a.t) == 0;
}

std::vector<series_event> read_events(const std::string& path) {
  std::ifstream f(path);
  std::string line;
  std::getline(f, line);
  EXPECT_EQ(line, "day,event,campaign,other,size_before,size_after");
  std::vector<series_event> v;
  while (std::getline(f, line)) {
    std::stringstream s(line);
    series_event e;
    std::string field;
    std::getline(s, field, ',');
    e.day = std::stoi(field);
    std::getline(s, e.event, ',');
    s >> e.campaign;
    s.ignore(1);
    s >> e.other;
    s.ignore(1);
    s >> e.size_before;
    s.ignore(1);
    s >> e.size_after;
    v.push_back(e);
  }
  return v;
}

class GenerateSeries : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("chorus_series_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::vector<std::string> files() const {
    std::vector<std::string> v;
    for (const auto& e : fs::directory_iterator(dir_))
      if (e.path().filename().string()[0] != '.') v.push_back(e.path().filename().string());
    std::sort(v.begin(), v.end());
    return v;
  }
  series_options small(int days = 6, std::uint64_t seed = 11) const {
    series_options o;
    o.accounts = 2000;
    o.dim = 32;
    o.clusters = 6;
    o.days = days;
    o.seed = seed;
    o.out = path("series.h5");
    return o;
  }
  fs::path dir_;
};

TEST_F(GenerateSeries, PathsNameEveryDayAndTheEvents) {
  EXPECT_EQ(
      chorus::series_paths("d/s.h5", 3),
      (std::vector<std::string>{"d/s.day01.h5", "d/s.day02.h5", "d/s.day03.h5", "d/s.events.csv"}));
  EXPECT_EQ(chorus::series_paths("s.hdf5", 2)[1], "s.day02.hdf5");
  EXPECT_EQ(chorus::series_paths("s", 2)[0], "s.day01.h5");
  EXPECT_EQ(chorus::series_paths("s.h5", 100)[99], "s.day100.h5");
}

// An account that neither changed nor left has bit-identical rows on consecutive days; the
// counts of joined, left and changed accounts are the model's; order is kept, joiners appended.
TEST_F(GenerateSeries, UnchangedRowsAreBitIdentical) {
  const series_options o = small();
  const series_summary s = chorus::generate_series(o);
  ASSERT_EQ(s.days.size(), 6u);
  const std::vector<series_event> events = read_events(path("series.events.csv"));
  std::set<i64> ever_removed;
  day_file prev = read_day(path("series.day01.h5"));
  EXPECT_EQ(prev.n, o.accounts);
  EXPECT_EQ(prev.generator, "chorus-generate-series 1");
  EXPECT_EQ(prev.date, "2026-10-01");
  for (int day = 2; day <= o.days; ++day) {
    char name[32];
    std::snprintf(name, sizeof name, "series.day%02d.h5", day);
    const day_file cur = read_day(path(name));
    EXPECT_EQ(cur.attrs.at("day"), day);
    EXPECT_EQ(cur.attrs.at("days"), o.days);
    EXPECT_EQ(static_cast<i64>(cur.row_of.size()), cur.n) << "ids unique on day " << day;
    i64 joined = 0, left = 0, changed = 0, last_kept = -1;
    bool joiners_started = false;
    for (i64 r = 0; r < cur.n; ++r) {
      const auto it = prev.row_of.find(cur.id[r]);
      EXPECT_EQ(ever_removed.count(cur.id[r]), 0u) << "a removed id came back";
      if (it == prev.row_of.end()) {
        ++joined;
        joiners_started = true;
        continue;
      }
      EXPECT_FALSE(joiners_started) << "joiners are appended after the kept rows";
      EXPECT_GT(it->second, last_kept) << "kept rows keep their order";
      last_kept = it->second;
      if (!same_row(prev, it->second, cur, r)) ++changed;
    }
    for (i64 r = 0; r < prev.n; ++r)
      if (!cur.row_of.count(prev.id[r])) ++left, ever_removed.insert(prev.id[r]);
    // the model: organic churn plus what the day's events add, move or remove
    i64 ev_join = 0, ev_left = 0, ev_moved = 0;
    for (const series_event& e : events) {
      if (e.day != day) continue;
      if (e.event == "birth" && e.other < 0) ev_join += e.size_after;
      if (e.event == "growth") ev_join += e.size_after - e.size_before;
      if (e.event == "death") ev_left += e.size_before;
      if (e.event == "merge") ev_moved += e.size_after - e.size_before;
      if (e.event == "split") ev_moved += e.size_before - e.size_after;
    }
    const i64 organic_prev = std::count(prev.cluster.begin(), prev.cluster.end(), -1);
    EXPECT_EQ(joined, std::llround(0.01 * o.accounts) + ev_join) << "day " << day;
    EXPECT_EQ(left, std::llround(0.003 * prev.n) + ev_left) << "day " << day;
    EXPECT_EQ(changed, std::llround(0.005 * organic_prev) + ev_moved) << "day " << day;
    EXPECT_GT(changed, 0);
    const chorus::series_day& sd = s.days[static_cast<std::size_t>(day - 1)];
    EXPECT_EQ(cur.attrs.at("joined"), joined);
    EXPECT_EQ(cur.attrs.at("left"), left);
    EXPECT_EQ(cur.attrs.at("changed"), changed);
    EXPECT_EQ(sd.joined, joined);
    EXPECT_EQ(sd.accounts, cur.n);
    prev = cur;
  }
  EXPECT_EQ(prev.date, "2026-10-06");
}

/// Every event row's sizes are the truth's, and a campaign's size changes only on its events.
void check_truth_matches_events(const std::string& base, int days,
                                const std::vector<series_event>& events) {
  std::vector<day_file> f;
  for (const std::string& p : chorus::series_paths(base, days))
    if (p.size() > 3 && p.compare(p.size() - 3, 3, ".h5") == 0) f.push_back(read_day(p));
  ASSERT_EQ(static_cast<int>(f.size()), days);
  std::set<std::pair<int, i64>> touched;  // (day, campaign) with an event
  std::set<i64> born;
  for (const series_event& e : events) {
    ASSERT_GE(e.day, 1);
    ASSERT_LE(e.day, days);
    const i64 before = e.day == 1 ? 0 : f[e.day - 2].size_of(e.campaign);
    EXPECT_EQ(before, e.size_before) << e.event << " of " << e.campaign << " on day " << e.day;
    EXPECT_EQ(f[e.day - 1].size_of(e.campaign), e.size_after)
        << e.event << " of " << e.campaign << " on day " << e.day;
    touched.insert({e.day, e.campaign});
    if (e.event == "birth") EXPECT_TRUE(born.insert(e.campaign).second) << "born twice";
    if (e.event == "merge" || e.event == "split") {
      touched.insert({e.day, e.other});
      EXPECT_GE(e.other, 0);
    }
    if (e.event == "merge") EXPECT_EQ(f[e.day - 1].size_of(e.other), 0) << "absorbed";
    if (e.event == "death") EXPECT_EQ(e.size_after, 0);
  }
  for (int day = 2; day <= days; ++day) {
    std::set<i64> live(f[day - 1].cluster.begin(), f[day - 1].cluster.end());
    live.insert(f[day - 2].cluster.begin(), f[day - 2].cluster.end());
    for (const i64 c : live) {
      if (c < 0) continue;
      EXPECT_TRUE(born.count(c)) << "campaign " << c << " has no birth row";
      if (!touched.count({day, c}))
        EXPECT_EQ(f[day - 1].size_of(c), f[day - 2].size_of(c))
            << "campaign " << c << " changed size on day " << day << " without an event";
    }
  }
}

TEST_F(GenerateSeries, TruthMatchesEvents) {
  const series_options o = small();
  const series_summary s = chorus::generate_series(o);
  const std::vector<series_event> events = read_events(path("series.events.csv"));
  ASSERT_EQ(events.size(), s.events.size());
  check_truth_matches_events(o.out, o.days, events);
  std::map<std::string, int> count;
  for (const series_event& e : events) ++count[e.event];
  EXPECT_EQ(count["birth"], o.clusters + 3);  // day 1, days 2 and D - 1, the split's new one
  EXPECT_EQ(count["growth"], 2);
  EXPECT_EQ(count["merge"], 1);
  EXPECT_EQ(count["split"], 1);
  EXPECT_EQ(count["death"], 1);
  // the grower grows on two days and never loses a member
  i64 grower = -1;
  std::set<int> growth_days;
  for (const series_event& e : events)
    if (e.event == "growth") {
      grower = e.campaign;
      growth_days.insert(e.day);
      EXPECT_GE(e.size_after, e.size_before + e.size_before / 2);
      EXPECT_LE(e.size_after, 2 * e.size_before);
    }
  EXPECT_EQ(growth_days.size(), 2u);
  std::set<i64> prev_members;
  for (int day = 1; day <= o.days; ++day) {
    const day_file f = read_day(chorus::series_paths(o.out, o.days)[day - 1]);
    std::set<i64> members;
    for (i64 r = 0; r < f.n; ++r)
      if (f.cluster[r] == grower) members.insert(f.id[r]);
    EXPECT_TRUE(
        std::includes(members.begin(), members.end(), prev_members.begin(), prev_members.end()))
        << "the grower lost a member on day " << day;
    prev_members = members;
  }
}

TEST_F(GenerateSeries, ShortSeriesPlantWhatFits) {
  for (int days : {2, 3}) {
    series_options o = small(days, 5);
    o.out = path("short" + std::to_string(days) + ".h5");
    chorus::generate_series(o);
    const std::vector<series_event> events =
        read_events(path("short" + std::to_string(days) + ".events.csv"));
    check_truth_matches_events(o.out, days, events);
    std::map<std::string, int> count;
    for (const series_event& e : events) ++count[e.event];
    EXPECT_EQ(count["growth"], days == 2 ? 1 : 2) << days;
    EXPECT_EQ(count["merge"], 1) << days;
    EXPECT_EQ(count["split"], 1) << days;
    EXPECT_EQ(count["death"], 1) << days;
  }
}

// With both views at 0.9 / 0.6 every live campaign is exactly one component and no organic
// account is linked, on every day.
TEST_F(GenerateSeries, DetectFindsEachCampaignEveryDay) {
  const series_options o = small();
  chorus::generate_series(o);
  const std::vector<std::string> paths = chorus::series_paths(o.out, o.days);
  for (int day = 1; day <= o.days; ++day) {
    const std::string res = path("res" + std::to_string(day) + ".h5");
    const cli_result r =
        run_cli({"detect", "--quiet", "--backend", "cpu", "--view", "both", "--threshold", "0.9",
                 "--threshold-activity", "0.6", "--input", paths[day - 1], "--out", res},
                dir_.string());
    ASSERT_EQ(r.code, 0) << r.err;
    namespace h5 = chorus::h5;
    const std::vector<i64> labels =
        h5::read_all<i64>(h5::open_dataset(h5::open_read(res), "/labels"));
    const day_file f = read_day(paths[day - 1]);
    ASSERT_EQ(static_cast<i64>(labels.size()), f.n);
    std::map<i64, std::set<i64>> campaigns_of_label, labels_of_campaign;
    for (i64 i = 0; i < f.n; ++i) {
      if (f.cluster[i] < 0) {
        EXPECT_EQ(labels[i], -1) << "organic account linked on day " << day;
        continue;
      }
      labels_of_campaign[f.cluster[i]].insert(labels[i]);
      if (labels[i] >= 0) campaigns_of_label[labels[i]].insert(f.cluster[i]);
    }
    EXPECT_EQ(campaigns_of_label.size(), labels_of_campaign.size()) << "day " << day;
    for (const auto& [label, cs] : campaigns_of_label)
      EXPECT_EQ(cs.size(), 1u) << "component " << label << " mixes campaigns on day " << day;
    for (const auto& [c, ls] : labels_of_campaign) {
      EXPECT_EQ(ls.size(), 1u) << "campaign " << c << " split over components on day " << day;
      EXPECT_EQ(ls.count(-1), 0u) << "campaign " << c << " not found on day " << day;
    }
  }
}

// The same seed gives the same series at 1 and 2 threads: every dataset and attribute of every
// day, and the events file byte for byte. (The HDF5 files themselves differ in the object
// modification times HDF5 records, to the second.)
TEST_F(GenerateSeries, IdenticalAcrossThreads) {
  const std::vector<std::string> common = {"generate", "--quiet", "--accounts", "2000",   "--dim",
                                           "32",       "--days",  "3",          "--seed", "3"};
  std::vector<std::string> bases;
  for (const char* threads : {"1", "2"}) {
    std::vector<std::string> args = common;
    bases.push_back(path(std::string("t") + threads + ".h5"));
    args.insert(args.end(), {"--out", bases.back()});
    const cli_result r = run_cli(args, dir_.string(), {std::string("OMP_NUM_THREADS=") + threads});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_TRUE(r.err.empty()) << "--quiet prints nothing: " << r.err;
  }
  const std::vector<std::string> one = chorus::series_paths(bases[0], 3),
                                 two = chorus::series_paths(bases[1], 3);
  for (std::size_t k = 0; k < 3; ++k) {
    const day_file a = read_day(one[k]), b = read_day(two[k]);
    EXPECT_GT(a.n, 0);
    EXPECT_EQ(a.id, b.id) << k;
    EXPECT_EQ(a.cluster, b.cluster) << k;
    EXPECT_EQ(a.kind, b.kind) << k;
    EXPECT_EQ(std::memcmp(a.emb.data(), b.emb.data(), a.emb.size() * sizeof(float)), 0) << k;
    EXPECT_EQ(a.act, b.act) << k;
    EXPECT_EQ(a.attrs, b.attrs) << k;
    EXPECT_EQ(a.date, b.date) << k;
    namespace h5 = chorus::h5;
    EXPECT_EQ(h5::read_strings(h5::open_dataset(h5::open_read(one[k]), "/accounts/handle")),
              h5::read_strings(h5::open_dataset(h5::open_read(two[k]), "/accounts/handle")));
  }
  const std::string events = chorus::cli_test::slurp(one[3]);
  EXPECT_GT(events.size(), 100u);
  EXPECT_EQ(events, chorus::cli_test::slurp(two[3]));
}

TEST_F(GenerateSeries, CliWritesTheSeriesAndSaysSo) {
  const cli_result r = run_cli(
      {"generate", "--accounts", "1000", "--dim", "16", "--days", "2", "--out", path("c.h5")},
      dir_.string());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("2 daily files"), std::string::npos) << r.err;
  EXPECT_EQ(files(), (std::vector<std::string>{"c.day01.h5", "c.day02.h5", "c.events.csv"}));
  const day_file f = read_day(path("c.day02.h5"));
  EXPECT_EQ(f.d, 16);
  EXPECT_EQ(f.t, 48) << "bins default to 24 x days";
}

TEST_F(GenerateSeries, CliMistakesWriteNothing) {
  const std::vector<std::string> base = {"generate", "--quiet", "--accounts", "1000",
                                         "--dim",    "16",      "--out",      path("m.h5")};
  auto run = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return run_cli(args, dir_.string());
  };
  for (const auto& [extra, says] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"--days", "1"}, "--days must be from 2 to 60"},
           {{"--days", "61"}, "--days must be from 2 to 60"},
           {{"--days", "0"}, "--days"},
           {{"--days", "two"}, "--days"},
           {{"--days", "3", "--clusters", "4"}, "--clusters"},
           {{"--days", "3", "--campaigns", "4"}, "--campaigns needs --posts"}}) {
    const cli_result r = run(extra);
    EXPECT_EQ(r.code, 2) << extra[1] << ": " << r.err;
    EXPECT_NE(r.err.find(says), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
    EXPECT_TRUE(files().empty()) << extra[1];
  }
  // an existing output (any of them) without --force: nothing written, the file untouched
  std::ofstream(path("m.day03.h5")) << "keep";
  cli_result r = run({"--days", "4"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("m.day03.h5' already exists"), std::string::npos) << r.err;
  EXPECT_EQ(files(), (std::vector<std::string>{"m.day03.h5"}));
  EXPECT_EQ(chorus::cli_test::slurp(path("m.day03.h5")), "keep");
  r = run({"--days", "4", "--force"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(files().size(), 5u);
  EXPECT_EQ(read_day(path("m.day03.h5")).attrs.at("day"), 3);
}

// A failure part-way (here: the progress callback cancels on day 3) leaves no file behind.
TEST_F(GenerateSeries, FailureLeavesNothing) {
  const series_options o = small(4);
  EXPECT_THROW(chorus::generate_series(o,
                                       [](double f) {
                                         if (f > 0.5) throw chorus::input_error("stop", "", 0);
                                       }),
               chorus::input_error);
  EXPECT_TRUE(files().empty());
}

}  // namespace
