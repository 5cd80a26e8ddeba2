// `chorus info`, `chorus demo` and the launching of the report tool by `chorus report` (with a
// stand-in for python3 that records its arguments), checked against the files they describe.
#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>

#include "chorus/io/h5.hpp"
#include "chorus/outputs/info.hpp"
#include "cli_support.hpp"
#include "test_support.hpp"

using namespace chorus;
using namespace chorus::cli_test;

namespace {

std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> v;
  std::size_t p = 0;
  while (p < s.size()) {
    const std::size_t q = s.find('\n', p);
    v.push_back(s.substr(p, q == std::string::npos ? std::string::npos : q - p));
    if (q == std::string::npos) break;
    p = q + 1;
  }
  return v;
}

std::string file_size(const std::string& p) {
  struct stat st {};
  stat(p.c_str(), &st);
  return std::to_string(st.st_size);
}

template <typename T>
std::vector<T> read_vec(const std::string& file, const std::string& name) {
  h5::handle f = h5::open_read(file);
  return h5::read_all<T>(h5::open_dataset(f, name));
}

class InfoCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = test::scratch_dir(std::string("info_") +
                            ::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  std::string dir;
};

TEST_F(InfoCommand, DescribesInputs) {
  // both views, handles and truth (the generator writes them)
  const std::string full = dir + "/full.h5";
  test::generated(full, 200, 12, 30, 3, 1);
  cli_result r = run_cli({"info", full}, dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(
      split_lines(r.out),
      (std::vector<std::string>{
          full + ": chorus input, 200 accounts, " + file_size(full) + " bytes",
          "  /embedding  [200, 12] float32", "  /activity   [200, 30] int32",
          "  /accounts/handle present", "  /truth/cluster   present", "  default view: both"}))
      << r.out;

  // one view each, no handles, no truth (float64 embedding, int32 activity)
  const std::string emb = dir + "/emb.h5", act = dir + "/act.h5";
  {
    h5::handle f = h5::create(emb);
    h5::write_vector(f, "/accounts/id", std::vector<std::int64_t>{7, 8, 9});
    auto d = h5::create_dataset<double>(f, "/embedding", {3, 5});
    std::vector<double> x(15, 0.5);
    h5::write_rows(d, 0, 3, x.data());
  }
  {
    test::dense a{3, 4, std::vector<double>(12, 1.0)};
    test::write_input(act, 3, nullptr, &a);
  }
  r = run_cli({"info", emb}, dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(split_lines(r.out),
            (std::vector<std::string>{
                emb + ": chorus input, 3 accounts, " + file_size(emb) + " bytes",
                "  /embedding  [3, 5] float64", "  /activity   absent", "  /accounts/handle absent",
                "  /truth/cluster   absent", "  default view: embedding"}))
      << r.out;
  r = run_cli({"info", act}, dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(split_lines(r.out),
            (std::vector<std::string>{
                act + ": chorus input, 3 accounts, " + file_size(act) + " bytes",
                "  /embedding  absent", "  /activity   [3, 4] int32", "  /accounts/handle absent",
                "  /truth/cluster   absent", "  default view: activity"}))
      << r.out;
}

TEST_F(InfoCommand, DescribesResults) {
  const std::string in = dir + "/in.h5", res = dir + "/res.h5";
  test::generated(in, 2000, 16, 48, 14, 3);
  cli_result r =
      run_cli({"detect", "--quiet", "--threshold", "0.7", "--input", in, "--out", res}, dir);
  ASSERT_EQ(r.code, 0) << r.err;
  r = run_cli({"info", res}, dir);
  ASSERT_EQ(r.code, 0) << r.err;
  const auto lines = split_lines(r.out);
  ASSERT_GE(lines.size(), 3u) << r.out;
  EXPECT_EQ(lines.front(), res + ": chorus results file");
  // text and numeric root attributes, one per line, name padded to 24 columns
  auto has = [&](const std::string& l) {
    return std::find(lines.begin(), lines.end(), l) != lines.end();
  };
  auto pad = [](std::string name) { return "  " + name.append(24 - name.size(), ' '); };
  EXPECT_TRUE(has(pad("view") + "both")) << r.out;
  EXPECT_TRUE(has(pad("threshold") + "0.7")) << r.out;
  EXPECT_TRUE(has(pad("chorus_results") + "1")) << r.out;
  EXPECT_TRUE(has(pad("input_path") + in)) << r.out;
  // the last line: the number of clusters and the ten largest sizes
  const auto sizes = read_vec<std::int64_t>(res, "/clusters/size");
  ASSERT_GT(sizes.size(), 10u) << "the data set should give more than ten clusters";
  std::string want = "  clusters: " + std::to_string(sizes.size()) + " (largest:";
  for (int c = 0; c < 10; ++c) want += " " + std::to_string(sizes[c]);
  EXPECT_EQ(lines.back(), want + ")");

  // no cluster at all: no "(largest" list
  const std::string none = dir + "/none.h5";
  r = run_cli({"detect", "--quiet", "--threshold", "1", "--threshold-activity", "1", "--input", in,
               "--out", none},
              dir);
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_TRUE(read_vec<std::int64_t>(none, "/clusters/size").empty());
  r = run_cli({"info", none}, dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(split_lines(r.out).back(), "  clusters: 0");
}

TEST_F(InfoCommand, RefusesWhatIsNeither) {
  const std::string text = dir + "/notes.txt", no_view = dir + "/noview.h5";
  std::FILE* f = std::fopen(text.c_str(), "w");
  std::fputs("not hdf5\n", f);
  std::fclose(f);
  cli_result r = run_cli({"info", text}, dir);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("is not an HDF5 file"), std::string::npos) << r.err;
  {
    h5::handle h = h5::create(no_view);
    h5::write_vector(h, "/accounts/id", std::vector<std::int64_t>{1, 2});
  }
  // any HDF5 file is described (#15 item 8): its datasets, and why it is not a chorus input
  r = run_cli({"info", no_view}, dir);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(
      r.out.find("not a chorus input: '" + no_view + "' has neither /embedding nor /activity"),
      std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("/accounts/id"), std::string::npos) << r.out;
  r = run_cli({"info", dir + "/missing.h5"}, dir);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("no such file"), std::string::npos) << r.err;
}

// A results file whose edges live in a multi-process run's shard files, one of them missing:
// info, export and report all refuse it with the same advice.
TEST_F(InfoCommand, MissingEdgeShardIsNamed) {
  const std::string res = dir + "/res.h5";
  {
    h5::handle f = h5::create(res);
    h5::write_vector(f, "/labels", std::vector<std::int64_t>{-1, -1});
    h5::write_vector(f, "/accounts/id", std::vector<std::int64_t>{1, 2});
    h5::create_virtual_concat<std::int64_t>(
        f, "/edges/src", {{"res.h5.edges-00000-of-00002.h5", "/edges/src", 3}}, -1);
    h5::set_attr(f, "chorus_results", std::int64_t{1});
  }
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"info", res},
           {"export", res, "--format", "csv", "--out", dir + "/csv"},
           {"report", res, "--out", dir + "/r.html"}}) {
    const cli_result r = run_cli(args, dir, {"CHORUS_PYTHON=/bin/true"});
    EXPECT_EQ(r.code, 2) << args[0] << ": " << r.err;
    EXPECT_NE(r.err.find("'" + dir +
                         "/res.h5.edges-00000-of-00002.h5' is missing: keep the "
                         "shards with the results file"),
              std::string::npos)
        << args[0] << ": " << r.err;
  }
  EXPECT_FALSE(exists(dir + "/csv"));
  EXPECT_FALSE(exists(dir + "/r.html"));
}

// ---- chorus demo

std::vector<std::string> entries(const std::string& d) {
  std::vector<std::string> v;
  if (DIR* h = opendir(d.c_str())) {
    while (dirent* e = readdir(h))
      if (e->d_name[0] != '.') v.emplace_back(e->d_name);
    closedir(h);
  }
  return v;
}

TEST(DemoCommand, SmallDemoReportsWhatItWrote) {
  const std::string dir = test::scratch_dir("demo");
  const std::string work = dir + "/work";
  const cli_result r = run_cli({"demo", "--vectors", "--vector-accounts", "1500", "--threads", "2",
                                "--seed", "11", "--workdir", work},
                               dir);
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string in = work + "/demo_input.h5", res = work + "/demo_results.h5";
  ASSERT_TRUE(exists(in) && exists(res)) << r.out;
  const auto lines = split_lines(r.out);
  ASSERT_GE(lines.size(), 8u) << r.out;
  EXPECT_EQ(lines[0],
            "chorus demo: 1500 accounts, 384-d embeddings, 336 hourly activity bins, 30 planted "
            "clusters");
  // the detection line: pairs, edges and clusters as in the results file
  const auto sizes = read_vec<std::int64_t>(res, "/clusters/size");
  const auto labels = read_vec<std::int64_t>(res, "/labels");
  const auto src = read_vec<std::int64_t>(res, "/edges/src");
  const auto truth = read_vec<std::int64_t>(in, "/truth/cluster");
  EXPECT_NE(r.out.find("view both, thresholds 0.8/0.8: 1124250 pairs, "), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find(" candidates re-scored exactly, " + std::to_string(src.size()) + " edges, " +
                       std::to_string(sizes.size()) + " clusters\n"),
            std::string::npos)
      << r.out;
  // the table: one row per cluster up to 15, sizes as in the file, then the rest counted
  const auto head = std::find(lines.begin(), lines.end(),
                              "cluster  size  planted  precision  recall  density  mean_emb  "
                              "mean_act");
  ASSERT_NE(head, lines.end()) << r.out;
  ASSERT_GT(sizes.size(), 15u) << "the demo should find more than 15 clusters";
  for (std::size_t c = 0; c < 15; ++c) {
    char start[32];
    std::snprintf(start, sizeof start, "%7zu %5lld ", c, static_cast<long long>(sizes[c]));
    EXPECT_EQ(head[1 + c].rfind(start, 0), 0u) << head[1 + c];
  }
  EXPECT_EQ(head[16], "... " + std::to_string(sizes.size() - 15) + " more clusters");
  // overall precision and recall, computed here from the labels and the planted truth
  std::int64_t flagged = 0, flagged_planted = 0, planted = 0;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    planted += truth[i] >= 0;
    flagged += labels[i] >= 0;
    flagged_planted += labels[i] >= 0 && truth[i] >= 0;
  }
  char overall[200];
  std::snprintf(overall, sizeof overall,
                "overall: %lld accounts flagged; precision %.3f (flagged accounts that were "
                "planted), recall %.3f (planted accounts flagged); ",
                static_cast<long long>(flagged), double(flagged_planted) / double(flagged),
                double(flagged_planted) / double(planted));
  EXPECT_NE(r.out.find(overall), std::string::npos) << overall << "\n" << r.out;
  EXPECT_NE(r.out.find("next: chorus info " + res + "\n"), std::string::npos) << r.out;
}

TEST(DemoCommand, DefaultWorkdirIsANewDirectoryUnderTmpdir) {
  const std::string dir = test::scratch_dir("demo_tmpdir");
  const cli_result r = run_cli({"demo", "--vectors", "--vector-accounts", "400", "--threads", "1"},
                               dir, {"TMPDIR=" + dir});
  ASSERT_EQ(r.code, 0) << r.err;
  std::vector<std::string> made;
  for (const auto& e : entries(dir))
    if (e.rfind("chorus-demo-", 0) == 0) made.push_back(e);
  ASSERT_EQ(made.size(), 1u);
  const std::string work = dir + "/" + made[0];
  EXPECT_TRUE(exists(work + "/demo_input.h5"));
  EXPECT_TRUE(exists(work + "/demo_results.h5"));
  EXPECT_NE(r.out.find("files: input " + work + "/demo_input.h5\n"), std::string::npos) << r.out;
  // 400 accounts find at most 15 clusters here or more; either way the table is consistent
  const auto sizes = read_vec<std::int64_t>(work + "/demo_results.h5", "/clusters/size");
  EXPECT_EQ(r.out.find(" more clusters") != std::string::npos, sizes.size() > 15) << r.out;
}

TEST(DemoCommand, LibraryEntryPointWritesTheSameTable) {
  const std::string dir = test::scratch_dir("demo_lib");
  demo_options o;
  o.vectors = true;
  o.accounts = 500;
  o.threads = 1;
  o.workdir = dir + "/w";
  o.progress = false;
  std::ostringstream os;
  EXPECT_EQ(run_demo(o, os), 0);
  const auto sizes = read_vec<std::int64_t>(o.workdir + "/demo_results.h5", "/clusters/size");
  EXPECT_NE(os.str().find(", " + std::to_string(sizes.size()) + " clusters\n"), std::string::npos)
      << os.str();
}

// The analyst's path: posts -> ingest -> detect. Precision and recall as printed equal those
// computed here from the labels and the planted truth; the decoys are counted from /truth/kind.
TEST(DemoCommand, PostsDemoFindsTheCampaignsAndSaysWhatItFlagged) {
  const std::string dir = test::scratch_dir("demo_posts");
  const std::string work = dir + "/work";
  const cli_result r = run_cli({"demo", "--accounts", "3000", "--campaigns", "4", "--threads", "2",
                                "--seed", "5", "--workdir", work},
                               dir);
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string in = work + "/demo_input.h5", res = work + "/demo_results.h5";
  ASSERT_TRUE(exists(work + "/demo_posts.csv") && exists(in) && exists(res)) << r.out;
  const auto labels = read_vec<std::int64_t>(res, "/labels");
  const auto truth = read_vec<std::int64_t>(in, "/truth/cluster");
  const auto kind = read_vec<std::int8_t>(in, "/truth/kind");
  std::int64_t flagged = 0, hit = 0, planted = 0, fans = 0, fans_flagged = 0;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    planted += truth[i] >= 0;
    flagged += labels[i] >= 0;
    hit += labels[i] >= 0 && truth[i] >= 0;
    fans += kind[i] == 2;
    fans_flagged += kind[i] == 2 && labels[i] >= 0;
  }
  ASSERT_GT(planted, 0);
  ASSERT_GT(flagged, 0);
  char line[200];
  std::snprintf(line, sizeof line, "against the planted campaigns: precision %.3f",
                double(hit) / double(flagged));
  EXPECT_NE(r.out.find(line), std::string::npos) << line << "\n" << r.out;
  std::snprintf(line, sizeof line, "recall %.3f", double(hit) / double(planted));
  EXPECT_NE(r.out.find(line), std::string::npos) << line << "\n" << r.out;
  EXPECT_NE(r.out.find("decoys flagged: " + std::to_string(fans_flagged) + " of " +
                       std::to_string(fans) + " fans"),
            std::string::npos)
      << r.out;
  EXPECT_GE(double(hit) / double(flagged), 0.9) << r.out;
  EXPECT_GE(double(hit) / double(planted), 0.9) << r.out;
  // the significance line says what the results file holds, and every campaign is significant
  const auto p = read_vec<double>(res, "/clusters/p_value");
  const auto tp = read_vec<double>(res, "/clusters/truth_precision");
  int campaigns = 0, significant = 0;
  for (std::size_t c = 0; c < p.size(); ++c)
    if (tp[c] >= 0.9) ++campaigns, significant += p[c] < 0.001;
  EXPECT_NE(r.out.find(std::to_string(significant) + " of " + std::to_string(campaigns) +
                       " planted campaigns have p < 0.001"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(significant, campaigns) << r.out;
  EXPECT_GE(campaigns, 4) << r.out;
}

// ---- chorus report: how the tool is found and started, and how its end is reported

class ReportLaunch : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = test::scratch_dir(std::string("report_") +
                            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    in = dir + "/in.h5";
    res = dir + "/res.h5";
    test::generated(in, 300, 8, 24, 3, 2);
    const cli_result r = run_cli({"detect", "--quiet", "--input", in, "--out", res}, dir);
    ASSERT_EQ(r.code, 0) << r.err;
    // a stand-in for python3: records its arguments, one per line, and ends as FAKE_END says
    fake = dir + "/fake-python";
    args_file = dir + "/args.txt";
    std::FILE* f = std::fopen(fake.c_str(), "w");
    std::fputs(
        "#!/bin/sh\n"
        "printf '%s\\n' \"$@\" > \"$ARGS_FILE\"\n"
        "case \"$FAKE_END\" in kill) kill -9 $$ ;; '') exit 0 ;; *) exit \"$FAKE_END\" ;; esac\n",
        f);
    std::fclose(f);
    chmod(fake.c_str(), 0755);
  }
  cli_result report(std::vector<std::string> extra, std::vector<std::string> env) {
    std::vector<std::string> args = {"report", res, "--out", dir + "/r.html"};
    args.insert(args.end(), extra.begin(), extra.end());
    env.push_back("ARGS_FILE=" + args_file);
    std::remove(args_file.c_str());
    return run_cli(args, dir, env);
  }
  std::string dir, in, res, fake, args_file;
};

TEST_F(ReportLaunch, PassesItsArgumentsToTheTool) {
  cli_result r = report({"--input", in, "--top", "3", "--force"}, {"CHORUS_PYTHON=" + fake});
  ASSERT_EQ(r.code, 0) << r.err;
  auto args = split_lines(slurp(args_file));
  ASSERT_EQ(args.size(), 9u) << slurp(args_file);
  // without CHORUS_REPORT_TOOL: the tool of the source tree (no installed copy next to the build)
  EXPECT_EQ(args[0], std::string(CHORUS_SOURCE_DIR) + "/host/outputs/chorus_report.py");
  EXPECT_EQ(std::vector<std::string>(args.begin() + 1, args.end()),
            (std::vector<std::string>{res, "--out", dir + "/r.html", "--top", "3", "--input", in,
                                      "--force"}));
  // CHORUS_REPORT_TOOL comes first; defaults: --top 10, no --input, no --force
  const std::string tool = dir + "/my_report.py";
  std::fclose(std::fopen(tool.c_str(), "w"));
  r = report({}, {"CHORUS_PYTHON=" + fake, "CHORUS_REPORT_TOOL=" + tool});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(split_lines(slurp(args_file)),
            (std::vector<std::string>{tool, res, "--out", dir + "/r.html", "--top", "10"}));
  // an unreadable CHORUS_REPORT_TOOL is skipped for the next candidate
  r = report({}, {"CHORUS_PYTHON=" + fake, "CHORUS_REPORT_TOOL=" + dir + "/absent.py"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(split_lines(slurp(args_file)).at(0),
            std::string(CHORUS_SOURCE_DIR) + "/host/outputs/chorus_report.py");
}

TEST_F(ReportLaunch, ToolExitCodesAndFailures) {
  // the tool's own exit code is chorus' exit code (the tool says 2 for bad input)
  cli_result r = report({}, {"CHORUS_PYTHON=" + fake, "FAKE_END=2"});
  EXPECT_EQ(r.code, 2) << r.err;
  r = report({}, {"CHORUS_PYTHON=" + fake, "FAKE_END=5"});
  EXPECT_EQ(r.code, 5) << r.err;
  // killed: exit code 1 and the signal named
  r = report({}, {"CHORUS_PYTHON=" + fake, "FAKE_END=kill"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("chorus: error: the report tool was killed by signal 9"), std::string::npos)
      << r.err;
  // 127 (the shell's "cannot execute"): said as such
  r = report({}, {"CHORUS_PYTHON=" + fake, "FAKE_END=127"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("cannot run '" + fake + "'"), std::string::npos) << r.err;
  // no python at all
  r = report({}, {"CHORUS_PYTHON=" + dir + "/no-python"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("'" + dir + "/no-python' not found; chorus report needs Debian's python3"),
            std::string::npos)
      << r.err;
  // a python that is not executable
  chmod(fake.c_str(), 0644);
  r = report({}, {"CHORUS_PYTHON=" + fake});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("not found"), std::string::npos) << r.err;
}

}  // namespace
