// chorus track: the matching rule on hand-built scenarios whose stable ids and events are written
// out literally (no code shared with host/track/track.cpp), invariants on random series, and the
// command end to end (timeline file, CSV, JSON, mistakes).
#include <gtest/gtest.h>
#include <hdf5.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "chorus/core/error.hpp"
#include "chorus/io/h5.hpp"
#include "chorus/io/results.hpp"
#include "chorus/track/track.hpp"
#include "cli_support.hpp"
#include "test_support.hpp"

using namespace chorus;
using chorus::cli_test::exists;
using chorus::cli_test::run_cli;
using chorus::cli_test::slurp;
using chorus::test::message_of;

namespace {

using ids = std::vector<std::int64_t>;

// Accounts lo..hi (inclusive).
ids span(std::int64_t lo, std::int64_t hi) {
  ids v;
  for (std::int64_t k = lo; k <= hi; ++k) v.push_back(k);
  return v;
}
ids cat(ids a, const ids& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

run_clusters run_of(std::vector<ids> clusters, const std::string& date = "") {
  run_clusters r;
  r.clusters = std::move(clusters);
  r.date = date;
  r.dated = !date.empty();
  return r;
}

// Stable ids per run, in label order.
std::vector<ids> stable_ids(const timeline& t) {
  std::vector<ids> out(t.paths.size());
  for (const auto& c : t.clusters) out[c.run].push_back(c.stable_id);
  return out;
}

// Events as "run kind id before->after [related] [sizes]".
std::vector<std::string> events(const timeline& t) {
  std::vector<std::string> out;
  for (const auto& e : t.events) {
    std::ostringstream o;
    o << e.run << ' ' << event_name(e.kind) << ' ' << e.stable_id << ' ' << e.size_before << "->"
      << e.size_after;
    if (!e.related.empty()) {
      o << " [";
      for (std::size_t k = 0; k < e.related.size(); ++k) o << (k ? " " : "") << e.related[k];
      o << "] [";
      for (std::size_t k = 0; k < e.related_sizes.size(); ++k)
        o << (k ? " " : "") << e.related_sizes[k];
      o << "]";
    }
    out.push_back(o.str());
  }
  return out;
}

timeline track(const std::vector<run_clusters>& runs, double min_overlap = 0.5,
               double growth = 0.2) {
  track_options o;
  o.min_overlap = min_overlap;
  o.growth = growth;
  return track_clusters(runs, o);
}

using strings = std::vector<std::string>;

}  // namespace

TEST(TrackRule, BirthDeathAndContinue) {
  const auto t =
      track({run_of({span(1, 10), span(20, 24)}), run_of({span(1, 10), span(100, 104)})});
  EXPECT_EQ(stable_ids(t), (std::vector<ids>{{0, 1}, {0, 2}}));
  EXPECT_EQ(events(t),
            (strings{"0 birth 0 0->10", "0 birth 1 0->5", "1 death 1 5->0", "1 birth 2 0->5"}));
  EXPECT_EQ(t.stable_ids, 3);
  EXPECT_EQ(t.run_clusters, (ids{2, 2}));
}

TEST(TrackRule, GrowsTwiceAndKeepsItsId) {
  const auto t = track({run_of({span(1, 5)}), run_of({span(1, 10)}), run_of({span(1, 20)})});
  EXPECT_EQ(stable_ids(t), (std::vector<ids>{{0}, {0}, {0}}));
  EXPECT_EQ(events(t), (strings{"0 birth 0 0->5", "1 growth 0 5->10", "2 growth 0 10->20"}));
}

TEST(TrackRule, QuadruplesAndKeepsItsId) {
  // containment 4/4 = 1 although Jaccard is 1/4
  const auto t = track({run_of({span(1, 4)}), run_of({span(1, 16)})});
  EXPECT_EQ(stable_ids(t), (std::vector<ids>{{0}, {0}}));
  EXPECT_EQ(events(t), (strings{"0 birth 0 0->4", "1 growth 0 4->16"}));
}

TEST(TrackRule, ShrinkAndGrowthThresholdsAreInclusive) {
  // 10 -> 6 shrinks; 10 -> 9 continues; 5 -> 6 is exactly 1.2: growth; 6 -> 5 exactly: shrink
  const auto t = track({run_of({span(1, 10), span(101, 110), span(201, 205), span(301, 306)}),
                        run_of({span(1, 6), span(101, 109), span(201, 206), span(301, 305)})});
  EXPECT_EQ(stable_ids(t), (std::vector<ids>{{0, 1, 2, 3}, {0, 1, 2, 3}}));
  EXPECT_EQ(events(t),
            (strings{"0 birth 0 0->10", "0 birth 1 0->10", "0 birth 2 0->5", "0 birth 3 0->6",
                     "1 shrink 0 10->6", "1 growth 2 5->6", "1 shrink 3 6->5"}));
  // growth 0: any change of size is an event, an equal size is not
  const auto z = track(
      {run_of({span(1, 10), span(101, 110)}), run_of({span(1, 11), span(101, 110)})}, 0.5, 0.0);
  EXPECT_EQ(events(z), (strings{"0 birth 0 0->10", "0 birth 1 0->10", "1 growth 0 10->11"}));
}

TEST(TrackRule, AccountsLeaveAndJoin) {
  // half the accounts leave, as many join: 5 / min(10, 10) = 0.5 links at the default only
  const auto r0 = run_of({span(1, 10)});
  const auto r1 = run_of({cat(span(6, 10), span(50, 54))});
  EXPECT_EQ(events(track({r0, r1})), (strings{"0 birth 0 0->10"}));
  EXPECT_EQ(stable_ids(track({r0, r1})), (std::vector<ids>{{0}, {0}}));
  EXPECT_EQ(events(track({r0, r1}, 0.51)),
            (strings{"0 birth 0 0->10", "1 death 0 10->0", "1 birth 1 0->10"}));
}

TEST(TrackRule, MinOverlapEdgesExactly) {
  // 1 / min(2, 2) = 0.5 and 2 / min(4, 6) = 0.5: linked at 0.5
  const auto t = track({run_of({{1, 2}, span(10, 13)}), run_of({{2, 3}, span(12, 17)})});
  EXPECT_EQ(stable_ids(t), (std::vector<ids>{{0, 1}, {0, 1}}));
  EXPECT_EQ(events(t), (strings{"0 birth 0 0->2", "0 birth 1 0->4", "1 growth 1 4->6"}));
  // 3 / 10 = 0.3: linked at 0.3 (the decimal, as typed), not at 0.31
  const auto r0 = run_of({span(1, 10)}), r1 = run_of({cat(span(1, 3), span(100, 106))});
  EXPECT_EQ(stable_ids(track({r0, r1}, 0.3)), (std::vector<ids>{{0}, {0}}));
  EXPECT_EQ(stable_ids(track({r0, r1}, 0.31)), (std::vector<ids>{{0}, {1}}));
  // min_overlap 1: only full containment
  EXPECT_EQ(stable_ids(track({run_of({span(1, 4)}), run_of({span(1, 9)})}, 1.0)),
            (std::vector<ids>{{0}, {0}}));
  EXPECT_EQ(stable_ids(track({run_of({span(1, 4)}), run_of({cat(span(1, 3), span(7, 9))})}, 1.0)),
            (std::vector<ids>{{0}, {1}}));
}

TEST(TrackRule, Merge) {
  const auto t =
      track({run_of({span(1, 6), span(11, 14)}), run_of({cat(span(1, 6), span(11, 14))})});
  EXPECT_EQ(stable_ids(t), (std::vector<ids>{{0, 1}, {0}}));
  // the absorbed id 1 ends in the merge: no death, and no growth for the pair that kept id 0
  EXPECT_EQ(events(t), (strings{"0 birth 0 0->6", "0 birth 1 0->4", "1 merge 0 6->10 [1] [4]"}));
}

TEST(TrackRule, Split) {
  const auto t = track({run_of({span(1, 10)}), run_of({span(1, 6), span(7, 10)})});
  EXPECT_EQ(stable_ids(t), (std::vector<ids>{{0}, {0, 1}}));
  // the split-off cluster gets a new id and no birth event
  EXPECT_EQ(events(t), (strings{"0 birth 0 0->10", "1 split 0 10->6 [1] [4]"}));
}

TEST(TrackRule, MergeAndSplitInOneStep) {
  // A0 = 1..8 splits into B0 = 1..4 and B1 = 5..8 + 21..24, which also absorbs A1 = 21..24.
  // All three links share 4 accounts; the larger B1 goes first, with the larger A0: B1 keeps 0.
  const auto t = track(
      {run_of({span(1, 8), span(21, 24)}), run_of({span(1, 4), cat(span(5, 8), span(21, 24))})});
  EXPECT_EQ(stable_ids(t), (std::vector<ids>{{0, 1}, {2, 0}}));
  EXPECT_EQ(events(t), (strings{"0 birth 0 0->8", "0 birth 1 0->4", "1 merge 0 8->8 [1] [4]",
                                "1 split 0 8->8 [2] [4]"}));
}

TEST(TrackRule, TiesGoToTheSmallerStableIdThenTheSmallerLabel) {
  // two equal A's share 2 accounts each with one B: the smaller stable id wins
  const auto m = track({run_of({span(1, 4), span(5, 8)}), run_of({{1, 2, 5, 6}})});
  EXPECT_EQ(stable_ids(m), (std::vector<ids>{{0, 1}, {0}}));
  EXPECT_EQ(events(m), (strings{"0 birth 0 0->4", "0 birth 1 0->4", "1 merge 0 4->4 [1] [4]"}));
  // one A splits into two equal halves: the smaller label keeps the id
  const auto s = track({run_of({span(1, 4)}), run_of({{1, 2}, {3, 4}})});
  EXPECT_EQ(stable_ids(s), (std::vector<ids>{{0}, {0, 1}}));
  EXPECT_EQ(events(s), (strings{"0 birth 0 0->4", "1 split 0 4->2 [1] [2]"}));
  // same again with the labels the other way round: still the smaller label
  const auto s2 = track({run_of({span(1, 4)}), run_of({{3, 4}, {1, 2}})});
  EXPECT_EQ(stable_ids(s2), (std::vector<ids>{{0}, {0, 1}}));
}

TEST(TrackRule, LargerIntersectionWinsOverSmallerStableId) {
  // A0 (id 0) shares 3 accounts with B0, A1 (id 1) shares 5: B0 keeps id 1
  const auto t =
      track({run_of({span(1, 5), span(11, 20)}), run_of({cat(span(3, 5), span(11, 15))})});
  EXPECT_EQ(stable_ids(t), (std::vector<ids>{{0, 1}, {1}}));
  EXPECT_EQ(events(t), (strings{"0 birth 0 0->5", "0 birth 1 0->10", "1 merge 1 10->8 [0] [5]"}));
}

TEST(TrackRule, MergeIntoANewIdWhenEveryParentIsKeptElsewhere) {
  // A0, A1 each continue in a 9-account B; their tenth accounts form B2, linked to both (1/2)
  const auto t =
      track({run_of({span(1, 10), span(11, 20)}), run_of({span(1, 9), span(11, 19), {10, 20}})});
  EXPECT_EQ(stable_ids(t), (std::vector<ids>{{0, 1}, {0, 1, 2}}));
  EXPECT_EQ(events(t), (strings{"0 birth 0 0->10", "0 birth 1 0->10", "1 split 0 10->9 [2] [2]",
                                "1 split 1 10->9 [2] [2]", "1 merge 2 0->2 [0 1] [10 10]"}));
}

TEST(TrackRule, CrossingLinks) {
  // A0 = 1..4, A1 = 10..29; B0 = 1,2,10..27 (A1 keeps its id there, 18 shared), B1 = 3,4,28,29:
  // of the links sharing 2 accounts, (A0, B1) is the only one with both ends free
  const auto t = track(
      {run_of({span(1, 4), span(10, 29)}), run_of({cat({1, 2}, span(10, 27)), {3, 4, 28, 29}})});
  EXPECT_EQ(stable_ids(t), (std::vector<ids>{{0, 1}, {1, 0}}));
  EXPECT_EQ(events(t), (strings{"0 birth 0 0->4", "0 birth 1 0->20", "1 merge 0 4->4 [1] [20]",
                                "1 split 0 4->4 [1] [20]", "1 merge 1 20->20 [0] [4]",
                                "1 split 1 20->20 [0] [4]"}));
}

TEST(TrackRule, AClusterThatSkipsARunGetsANewId) {
  const auto t = track({run_of({span(1, 5)}), run_of({}), run_of({span(1, 5)})});
  EXPECT_EQ(stable_ids(t), (std::vector<ids>{{0}, {}, {1}}));
  EXPECT_EQ(events(t), (strings{"0 birth 0 0->5", "1 death 0 5->0", "2 birth 1 0->5"}));
  EXPECT_EQ(t.run_clusters, (ids{1, 0, 1}));
}

TEST(TrackRule, MembersAreAccountsNotOrder) {
  // the same accounts in another order and with a duplicate: the same cluster
  const auto t = track({run_of({{5, 3, 1}}), run_of({{1, 1, 3, 5}})});
  EXPECT_EQ(stable_ids(t), (std::vector<ids>{{0}, {0}}));
  EXPECT_EQ(t.clusters[1].size, 3);
  EXPECT_EQ(events(t), (strings{"0 birth 0 0->3"}));
}

TEST(TrackRule, RefusesBadOptionsAndRuns) {
  const std::vector<run_clusters> ok = {run_of({{1, 2}}), run_of({{1, 2}})};
  for (double m : {0.0, -0.5, 1.5, std::numeric_limits<double>::quiet_NaN()})
    EXPECT_THROW(track(ok, m), input_error) << m;
  EXPECT_THROW(track(ok, 0.5, -0.1), input_error);
  EXPECT_THROW(track(ok, 0.5, std::numeric_limits<double>::infinity()), input_error);
  EXPECT_NE(message_of([] {
              track({run_of({{1, 2}, {2, 3}})});
            }).find("account 2"),
            std::string::npos);
  EXPECT_THROW(track({run_of({{1}, {}})}), input_error);
  EXPECT_THROW(track({}), input_error);
}

TEST(TrackRule, WarnsWhenDatesDoNotIncrease) {
  auto t = track({run_of({{1}}, "2024-03-02"), run_of({{1}}, "2024-03-01"), run_of({{1}}),
                  run_of({{1}}, "2024-03-03")});
  ASSERT_EQ(t.warnings.size(), 1u);
  EXPECT_NE(t.warnings[0].find("2024-03-01"), std::string::npos);
  EXPECT_TRUE(track({run_of({{1}}, "2024-03-01"), run_of({{1}}, "2024-03-02")}).warnings.empty());
  EXPECT_EQ(track({run_of({{1}}, "d"), run_of({{1}}, "d")}).warnings.size(), 1u);
}

// Invariants on random series: a stable id is held by at most one cluster per run, is held in
// consecutive runs only, every id first appears as a birth, a split or a merge's new id, and
// every id held at run t but not at t+1 ends in a death, a merge, or a split that lost it.
TEST(TrackRule, InvariantsOnRandomSeries) {
  std::mt19937_64 rng(7);
  for (int rep = 0; rep < 30; ++rep) {
    std::vector<run_clusters> runs;
    for (int t = 0; t < 6; ++t) {
      std::vector<ids> cl(1 + rng() % 6);
      for (std::int64_t a = 0; a < 60; ++a) {
        const auto c = rng() % (cl.size() + 2);  // some accounts in no cluster
        if (c < cl.size()) cl[c].push_back(a);
      }
      cl.erase(std::remove_if(cl.begin(), cl.end(), [](const ids& v) { return v.empty(); }),
               cl.end());
      runs.push_back(run_of(cl));
    }
    const auto t = track(runs, 0.3 + 0.1 * (rep % 5));
    std::map<std::int64_t, std::vector<std::int64_t>> runs_of;
    for (const auto& c : t.clusters) runs_of[c.stable_id].push_back(c.run);
    EXPECT_EQ(static_cast<std::int64_t>(runs_of.size()), t.stable_ids);
    for (const auto& [id, rs] : runs_of)
      for (std::size_t k = 1; k < rs.size(); ++k) ASSERT_EQ(rs[k], rs[k - 1] + 1) << "id " << id;
    std::set<std::int64_t> introduced;
    for (const auto& e : t.events) {
      if (e.kind == event_kind::birth) introduced.insert(e.stable_id);
      if (e.kind == event_kind::split) introduced.insert(e.related.begin(), e.related.end());
      if (e.kind == event_kind::merge && e.size_before == 0) introduced.insert(e.stable_id);
    }
    for (const auto& [id, rs] : runs_of) {
      if (!introduced.count(id)) ADD_FAILURE() << "id " << id << " appears without an event";
      if (rs.back() == static_cast<std::int64_t>(runs.size()) - 1) continue;
      bool ended = false;
      for (const auto& e : t.events) {
        if (e.run != rs.back() + 1) continue;
        ended |= e.kind == event_kind::death && e.stable_id == id;
        ended |=
            e.kind == event_kind::merge && std::count(e.related.begin(), e.related.end(), id) > 0;
        ended |= e.kind == event_kind::split && e.stable_id == id && e.size_after == 0;
      }
      EXPECT_TRUE(ended) << "id " << id << " ends at run " << rs.back() << " without an event";
    }
  }
}

// ---- the command ---------------------------------------------------------------------------

namespace {

// A minimal results file: /labels, /accounts/id, an empty /edges, and optionally input_date.
void write_results_file(const std::string& path, const ids& account_ids, const ids& labels,
                        const std::string& date = "") {
  h5::handle f = h5::create(path);
  h5::write_vector(f, "/labels", labels);
  h5::write_vector(f, "/accounts/id", account_ids);
  h5::write_vector(f, "/edges/src", ids{});
  h5::write_vector(f, "/edges/dst", ids{});
  h5::set_attr(f, "chorus_results", std::int64_t{1});
  if (!date.empty()) h5::set_attr(f, "input_date", date);
}

// Three days: a network of accounts 100..109 (rows shuffled) that doubles on day 2 and splits
// on day 3; a small one (200..203) that dies on day 2; a new one on day 3 (300..305).
struct series {
  std::string dir;
  std::vector<std::string> files;
};

series write_series(const std::string& name, bool dated = true) {
  series s{test::scratch_dir(name), {}};
  const std::vector<std::string> dates = {"2024-03-01", "2024-03-02, noon \"B\"", "2024-03-03"};
  auto add = [&](const ids& accounts, const ids& labels, int day) {
    s.files.push_back(s.dir + "/day" + std::to_string(day) + ".h5");
    write_results_file(s.files.back(), accounts, labels, dated ? dates[day - 1] : "");
  };
  // day 1: 14 accounts in 2 clusters, 6 unclustered; rows in another order than ids
  add(cat(cat(span(100, 109), span(200, 203)), span(900, 905)),
      {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, -1, -1, -1, -1, -1, -1}, 1);
  // day 2: 100..119 (20) in cluster 0, listed backwards
  ids acc2 = span(100, 119);
  std::reverse(acc2.begin(), acc2.end());
  add(cat(acc2, span(900, 903)), cat(ids(20, 0), ids(4, -1)), 2);
  // day 3: 100..111 (12, label 0), 112..119 (8, label 1), 300..305 (6, label 2)
  add(cat(cat(span(100, 119), span(300, 305)), {900}),
      cat(cat(ids(12, 0), ids(8, 1)), cat(ids(6, 2), {-1})), 3);
  return s;
}

// Run /usr/bin/python3 on `script` with `args`; 77 when python3 or pandas is missing.
int python(const std::string& dir, const std::string& script, const std::vector<std::string>& a) {
  if (!exists("/usr/bin/python3")) return 77;
  const std::string path = dir + "/check.py";
  { std::ofstream(path) << script; }
  std::string cmd = "/usr/bin/python3 '" + path + "'";
  for (const auto& x : a) cmd += " '" + x + "'";
  const int st = std::system(cmd.c_str());
  return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

}  // namespace

TEST(TrackCli, TimelineFileCsvAndJson) {
  const series s = write_series("track_cli");
  const std::string out = s.dir + "/timeline.h5", csv = s.dir + "/csv", js = s.dir + "/t.json";
  auto r = run_cli(
      {"track", s.files[0], s.files[1], s.files[2], "--out", out, "--csv", csv, "--json", js},
      s.dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("3 runs"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("4 tracked clusters"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("3 birth, 1 death, 1 growth, 0 shrink, 0 merge, 1 split"), std::string::npos)
      << r.out;
  EXPECT_EQ(r.err, "");
  h5::handle f = h5::open_read(out);
  auto ints = [&](const char* p) { return h5::read_all<std::int64_t>(h5::open_dataset(f, p)); };
  auto strs = [&](const char* p) { return h5::read_strings(h5::open_dataset(f, p)); };
  EXPECT_EQ(strs("/runs/path"), (strings{s.files[0], s.files[1], s.files[2]}));
  EXPECT_EQ(strs("/runs/date")[1], "2024-03-02, noon \"B\"");
  EXPECT_EQ(ints("/runs/clusters"), (ids{2, 1, 3}));
  EXPECT_EQ(ints("/runs/accounts"), (ids{20, 24, 27}));
  EXPECT_EQ(ints("/clusters/run"), (ids{0, 0, 1, 2, 2, 2}));
  EXPECT_EQ(ints("/clusters/label"), (ids{0, 1, 0, 0, 1, 2}));
  EXPECT_EQ(ints("/clusters/stable_id"), (ids{0, 1, 0, 0, 2, 3}));
  EXPECT_EQ(ints("/clusters/size"), (ids{10, 4, 20, 12, 8, 6}));
  EXPECT_EQ(ints("/events/run"), (ids{0, 0, 1, 1, 2, 2}));
  EXPECT_EQ(strs("/events/kind"), (strings{"birth", "birth", "growth", "death", "split", "birth"}));
  EXPECT_EQ(ints("/events/stable_id"), (ids{0, 1, 0, 1, 0, 3}));
  EXPECT_EQ(ints("/events/size_before"), (ids{0, 0, 10, 4, 20, 0}));
  EXPECT_EQ(ints("/events/size_after"), (ids{10, 4, 20, 0, 12, 6}));
  EXPECT_EQ(strs("/events/related"), (strings{"", "", "", "", "2", ""}));
  EXPECT_EQ(strs("/events/related_sizes"), (strings{"", "", "", "", "8", ""}));
  std::string tracker;
  double m = 0, g = 0;
  std::int64_t runs = 0;
  EXPECT_TRUE(h5::get_attr(f, "tracker", tracker));
  EXPECT_EQ(tracker, "chorus-track 1");
  EXPECT_TRUE(h5::get_attr(f, "min_overlap", m) && h5::get_attr(f, "growth", g));
  EXPECT_EQ(m, 0.5);
  EXPECT_EQ(g, 0.2);
  EXPECT_TRUE(h5::get_attr(f, "runs", runs));
  EXPECT_EQ(runs, 3);
  // the CSV text, line by line (the date with a comma and quotes is quoted, RFC 4180)
  EXPECT_EQ(slurp(csv + "/clusters.csv"),
            "run,date,stable_id,label,size\n0,2024-03-01,0,0,10\n0,2024-03-01,1,1,4\n"
            "1,\"2024-03-02, noon \"\"B\"\"\",0,0,20\n2,2024-03-03,0,0,12\n2,2024-03-03,2,1,8\n"
            "2,2024-03-03,3,2,6\n");
  EXPECT_EQ(slurp(csv + "/events.csv"),
            "run,date,event,stable_id,size_before,size_after,related,related_sizes\n"
            "0,2024-03-01,birth,0,0,10,,\n0,2024-03-01,birth,1,0,4,,\n"
            "1,\"2024-03-02, noon \"\"B\"\"\",growth,0,10,20,,\n"
            "1,\"2024-03-02, noon \"\"B\"\"\",death,1,4,0,,\n2,2024-03-03,split,0,20,12,2,8\n"
            "2,2024-03-03,birth,3,0,6,,\n");
  // pandas and json read them as written
  const std::string script = R"PY(
import json, sys
try:
    import pandas as pd
except ImportError:
    sys.exit(77)
csv, js = sys.argv[1], sys.argv[2]
c = pd.read_csv(csv + "/clusters.csv")
e = pd.read_csv(csv + "/events.csv", keep_default_na=False, dtype={"related": str, "related_sizes": str})
assert list(c.columns) == ["run", "date", "stable_id", "label", "size"], c.columns
assert c["date"][2] == '2024-03-02, noon "B"', c["date"][2]
assert list(c["stable_id"]) == [0, 1, 0, 0, 2, 3]
assert list(e["event"]) == ["birth", "birth", "growth", "death", "split", "birth"]
assert list(e["related"]) == ["", "", "", "", "2", ""], list(e["related"])
d = json.load(open(js))
assert [r["date"] for r in d["runs"]] == ["2024-03-01", '2024-03-02, noon "B"', "2024-03-03"]
assert [r["clusters"] for r in d["runs"]] == [2, 1, 3]
assert [x["size"] for x in d["clusters"]] == [10, 4, 20, 12, 8, 6]
assert [x["event"] for x in d["events"]] == list(e["event"])
assert d["events"][4]["related"] == [2] and d["events"][4]["related_sizes"] == [8]
assert d["tracker"] == "chorus-track 1" and d["min_overlap"] == 0.5
)PY";
  const int rc = python(s.dir, script, {csv, js});
  if (rc == 77) GTEST_SKIP() << "no /usr/bin/python3 with pandas";
  EXPECT_EQ(rc, 0);
}

TEST(TrackCli, OptionsQuietAndDateLabels) {
  const series s = write_series("track_opts", /*dated=*/false);
  const std::string out = s.dir + "/t.h5";
  // --min-overlap 1: day 3's halves are contained in day 2's cluster (a split either way);
  // --growth 1.5: doubling (2x) is below 2.5x, no growth event
  auto r = run_cli({"track", s.files[0], s.files[1], s.files[2], "--out", out, "--quiet",
                    "--min-overlap", "1", "--growth", "1.5"},
                   s.dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "");
  h5::handle f = h5::open_read(out);
  EXPECT_EQ(h5::read_strings(h5::open_dataset(f, "/runs/date")),
            (strings{"day1.h5", "day2.h5", "day3.h5"}));
  EXPECT_EQ(h5::read_strings(h5::open_dataset(f, "/events/kind")),
            (strings{"birth", "birth", "death", "split", "birth"}));
  double g = 0;
  EXPECT_TRUE(h5::get_attr(f, "growth", g));
  EXPECT_EQ(g, 1.5);
}

TEST(TrackCli, DatesThatGoBackwardsAreRefusedUnlessAllowed) {
  const series s = write_series("track_dates");
  auto r = run_cli({"track", s.files[2], s.files[0], "--out", s.dir + "/t.h5"}, s.dir);
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("dates do not increase"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--allow-unordered"), std::string::npos) << r.err;
  EXPECT_FALSE(exists(s.dir + "/t.h5"));
  r = run_cli({"track", s.files[2], s.files[0], "--out", s.dir + "/t.h5", "--allow-unordered"},
              s.dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("chorus: WARNING: dates do not increase"), std::string::npos) << r.err;
}

TEST(TrackCli, RunsOfAnotherCampaignOrRuleAreFlagged) {
  const series s = write_series("track_flags");
  // a run that shares no account with day 1, and one whose links came from other thresholds
  const std::string other = s.dir + "/other.h5", strict = s.dir + "/strict.h5";
  write_results_file(other, span(5000, 5009), ids(10, 0), "2024-03-02");
  write_results_file(strict, span(100, 119), ids(20, 0), "2024-03-02");
  h5::set_attr(h5::open_rw(strict), "threshold", 0.95);
  auto r = run_cli({"track", s.files[0], other, "--out", s.dir + "/t1.h5"}, s.dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("share no account"), std::string::npos) << r.err;
  r = run_cli({"track", s.files[0], strict, "--out", s.dir + "/t2.h5"}, s.dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("(no parameters recorded) and '" + strict +
                       "' (--threshold 0.95) were computed with other "
                       "parameters"),
            std::string::npos)
      << r.err;
  r = run_cli({"track", s.files[0], s.files[1], "--out", s.dir + "/t3.h5"}, s.dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err.find("WARNING"), std::string::npos) << r.err;
  // --json that swallowed a results file is refused, even with --force
  r = run_cli(
      {"track", "--force", "--out", s.dir + "/t4.h5", "--json", s.files[0], s.files[1], s.files[2]},
      s.dir);
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("is an HDF5 file"), std::string::npos) << r.err;
  EXPECT_TRUE(is_results_file(s.files[0]));
  // chorus info knows a timeline
  r = run_cli({"info", s.dir + "/t3.h5"}, s.dir);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("chorus timeline (chorus-track 1), 2 runs"), std::string::npos) << r.out;
}

TEST(TrackCli, Mistakes) {
  const series s = write_series("track_mistakes");
  const std::string out = s.dir + "/t.h5", a = s.files[0], b = s.files[1];
  auto bad = [&](const std::vector<std::string>& args, const std::string& words) {
    auto r = run_cli(args, s.dir);
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_NE(r.err.find(words), std::string::npos) << r.err;
    EXPECT_EQ(cli_test::lines_in(r.err), 1) << r.err;
  };
  bad({"track", a, "--out", out}, "at least 2 results files");
  bad({"track", a, a, "--out", out}, "is the same file as");
  bad({"track", a, s.dir + "/nope.h5", "--out", out}, "does not exist");
  const std::string input = s.dir + "/input.h5";
  test::generated(input, 50, 4, 0, 1, 1);
  bad({"track", a, input, "--out", out}, "is not a chorus results file");
  bad({"track", a, b, "--out", out, "--min-overlap", "0"}, "--min-overlap");
  bad({"track", a, b, "--out", out, "--min-overlap", "1.5"}, "--min-overlap");
  bad({"track", a, b, "--out", out, "--growth", "-0.1"}, "--growth");
  bad({"track", a, b, "--out", b, "--force"}, "is one of the input files");
  bad({"track", a, b, "--out", out, "--json", out}, "both name");
  bad({"track", a, b, "--out", s.dir + "/no/such/dir/t.h5"}, "does not exist");
  EXPECT_FALSE(exists(out));
  // an existing --out is left untouched without --force, replaced with it
  { std::ofstream(out) << "keep me"; }
  bad({"track", a, b, "--out", out}, "exists");
  EXPECT_EQ(slurp(out), "keep me");
  const std::string csv = s.dir + "/csv";
  ASSERT_EQ(run_cli({"track", a, b, "--out", s.dir + "/t2.h5", "--csv", csv}, s.dir).code, 0);
  bad({"track", a, b, "--out", s.dir + "/t3.h5", "--csv", csv}, "clusters.csv' exists");
  EXPECT_FALSE(exists(s.dir + "/t3.h5"));  // refused before anything was written
  auto r = run_cli({"track", a, b, "--out", out, "--force", "--quiet"}, s.dir);
  ASSERT_EQ(r.code, 0) << r.err;
  std::string tracker;
  EXPECT_TRUE(h5::get_attr(h5::open_read(out), "tracker", tracker));
}

TEST(TrackCli, DetectedRunsOfOneInputContinue) {
  const std::string dir = test::scratch_dir("track_detect");
  const std::string in = dir + "/in.h5", r1 = dir + "/r1.h5", r2 = dir + "/r2.h5";
  ASSERT_EQ(run_cli({"generate", "--accounts", "3000", "--dim", "32", "--bins", "48", "--clusters",
                     "5", "--seed", "3", "--out", in, "--quiet"},
                    dir)
                .code,
            0);
  for (const auto& r : {r1, r2})
    ASSERT_EQ(
        run_cli({"detect", "--input", in, "--out", r, "--quiet", "--backend", "cpu"}, dir).code, 0);
  auto r = run_cli({"track", r1, r2, "--out", dir + "/t.h5"}, dir);
  ASSERT_EQ(r.code, 0) << r.err;
  h5::handle f = h5::open_read(dir + "/t.h5");
  const auto k = h5::read_all<std::int64_t>(h5::open_dataset(f, "/runs/clusters"));
  ASSERT_EQ(k.size(), 2u);
  ASSERT_GT(k[0], 0);
  EXPECT_EQ(k[0], k[1]);
  // every cluster keeps its id; the only events are the first run's births
  const auto sid = h5::read_all<std::int64_t>(h5::open_dataset(f, "/clusters/stable_id"));
  for (std::int64_t c = 0; c < k[0]; ++c) EXPECT_EQ(sid[k[0] + c], sid[c]);
  const auto kinds = h5::read_strings(h5::open_dataset(f, "/events/kind"));
  EXPECT_EQ(kinds, strings(k[0], "birth"));
}
