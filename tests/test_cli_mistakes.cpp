// Ordinary command-line mistakes (issue 15, items 16 and 17): each ends with one clear line,
// exit code 2 and no results file. A misspelled option or command names the one meant; a
// negative or absurd memory cap or device is refused instead of wrapping around (--topk,
// --max-edges and --checkpoint-interval were checked already: tests/test_cli.cpp).
#include <gtest/gtest.h>
#include <hdf5.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "chorus/io/h5.hpp"
#include "cli_support.hpp"
#include "test_support.hpp"

using namespace chorus;
using chorus::cli_test::exists;
using chorus::cli_test::run_cli;

namespace {

class CliMistakes : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = test::scratch_dir("cli_mistakes");
    test::dense e = test::clustered(40, 6, 3);
    test::write_input(dir + "/in.h5", 40, &e, nullptr);
  }
  // `chorus detect` on a valid input with `extra` options; expects exit 2, one line, no output
  std::string refused(const std::vector<std::string>& extra) {
    std::vector<std::string> a = {"detect", "--input", dir + "/in.h5", "--out", dir + "/out.h5"};
    a.insert(a.end(), extra.begin(), extra.end());
    const auto r = run_cli(a, dir);
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_EQ(cli_test::lines_in(r.err), 1) << r.err;
    EXPECT_EQ(r.err.rfind("chorus: error: ", 0), 0u) << r.err;
    EXPECT_FALSE(exists(dir + "/out.h5")) << "no results file after a refused command";
    return r.err;
  }
  std::string dir;
};

TEST_F(CliMistakes, NegativeAndAbsurdNumbersAreRefused) {
  for (const auto& [opt, value] :
       std::vector<std::pair<std::string, std::string>>{{"--max-memory", "-5"},
                                                        {"--max-memory", "1e30"},
                                                        {"--max-memory", "12abc"},
                                                        {"--gpu-memory", "-1"},
                                                        {"--device", "-1"}}) {
    SCOPED_TRACE(opt + " " + value);
    const std::string err = refused({opt, value});
    EXPECT_NE(err.find(opt + ": '" + value + "' is not "), std::string::npos) << err;
  }
  // the limits themselves are accepted
  const auto ok = run_cli({"detect", "--quiet", "--input", dir + "/in.h5", "--out", dir + "/ok.h5",
                           "--max-memory", "0", "--checkpoint-interval", "0", "--topk", "0"},
                          dir);
  EXPECT_EQ(ok.code, 0) << ok.err;
}

TEST_F(CliMistakes, MisspelledOptionNamesTheOneMeant) {
  EXPECT_EQ(refused({"--treshold", "0.7"}),
            "chorus: error: unknown option --treshold; did you mean --threshold? (see chorus "
            "detect --help)\n");
  EXPECT_EQ(refused({"--threshold-actvity=0.5"}),
            "chorus: error: unknown option --threshold-actvity; did you mean "
            "--threshold-activity? (see chorus detect --help)\n");
  const std::string far = refused({"--frobnicate"});
  EXPECT_NE(far.find("unknown option --frobnicate (see chorus detect --help)"), std::string::npos)
      << far;
  const auto ex = run_cli(
      {"export", dir + "/x.h5", "--format", "csv", "--out", dir + "/c", "--min-sise", "3"}, dir);
  EXPECT_EQ(ex.code, 2);
  EXPECT_EQ(ex.err,
            "chorus: error: unknown option --min-sise; did you mean --min-size? (see chorus "
            "export --help)\n");
}

TEST_F(CliMistakes, MisspelledCommandNamesTheOneMeant) {
  auto r = run_cli({"dtect", "--input", dir + "/in.h5"}, dir);
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err,
            "chorus: error: unknown command 'dtect'; did you mean detect? (see chorus --help)\n");
  r = run_cli({"exprot"}, dir);
  EXPECT_EQ(r.err,
            "chorus: error: unknown command 'exprot'; did you mean export? (see chorus --help)\n");
  r = run_cli({"frobnicate"}, dir);
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "chorus: error: unknown command 'frobnicate' (see chorus --help)\n");
}

}  // namespace

namespace {

// --json: an error is a JSON object on stdout with the same exit code (a pipeline never reads an
// empty string), and the summary says which thresholds, views, transform, top-k and threads ran.
TEST_F(CliMistakes, JsonReportsErrorsAndTheSettingsInEffect) {
  auto r =
      run_cli({"detect", "--json", "--input", dir + "/missing.h5", "--out", dir + "/o.h5"}, dir);
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.out, "{\"error\":{\"code\":2,\"message\":\"cannot open input file '" + dir +
                       "/missing.h5': no such file or not readable\"}}\n");
  r = run_cli({"detect", "--json", "--input", dir + "/in.h5", "--out", dir + "/o.h5", "--treshold"},
              dir);
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(
      r.out.rfind("{\"error\":{\"code\":2,\"message\":\"unknown option --treshold; did you mean "
                  "--threshold?",
                  0),
      0u)
      << r.out;
  r = run_cli({"detect", "--json", "--quiet", "--input", dir + "/in.h5", "--out", dir + "/o.h5",
               "--view", "embedding", "--threshold", "0.75", "--topk", "2", "--threads", "1"},
              dir);
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* field : {"\"thresholds\":{\"embedding\":0.75,\"activity\":0.8,\"weight\":0.5}",
                            "\"views_used\":[\"embedding\"]", "\"activity_transform\":\"none\"",
                            "\"topk\":2", "\"threads\":1", "\"edges_spilled\":false"})
    EXPECT_NE(r.out.find(field), std::string::npos) << field << "\n" << r.out;
}

}  // namespace

namespace {

// A relative --input is stored as an absolute path (root and /evidence attributes), so that
// `chorus report` run from another folder still finds the input for its heatmaps.
TEST_F(CliMistakes, RelativeInputIsStoredAbsolute) {
  char here[4096];
  ASSERT_NE(getcwd(here, sizeof here), nullptr);
  ASSERT_EQ(chdir(dir.c_str()), 0);
  const auto r = run_cli({"detect", "--quiet", "--input", "in.h5", "--out", "rel.h5"}, dir);
  ASSERT_EQ(chdir(here), 0);
  ASSERT_EQ(r.code, 0) << r.err;
  h5::handle f = h5::open_read(dir + "/rel.h5");
  std::string root, ev;
  ASSERT_TRUE(h5::get_attr(f, "input_path", root));
  EXPECT_EQ(root, dir + "/in.h5");
  h5::handle g(H5Gopen2(f.get(), "/evidence", H5P_DEFAULT));
  ASSERT_TRUE(g.valid());
  ASSERT_TRUE(h5::get_attr(g, "input_path", ev));
  EXPECT_EQ(ev, dir + "/in.h5");
}

}  // namespace

namespace {

// Issue 15 item 16: every numeric option of generate, export, report and demo refuses negative
// and absurd values in one line with exit code 2, naming the option and the range (as detect's
// --max-memory and --device do), before any work starts.
TEST_F(CliMistakes, NegativeAndAbsurdNumbersAreRefusedByEveryCommand) {
  const std::string res = dir + "/none.h5", out = dir + "/made";
  // the rest of each command line is valid, so that only the value is wrong
  const std::vector<std::vector<std::string>> cases = {
      {"generate", "--out", out, "--accounts", "-5"},
      {"generate", "--out", out, "--accounts", "1e13"},
      {"generate", "--out", out, "--accounts", "50", "--dim", "-1"},
      {"generate", "--out", out, "--accounts", "50", "--dim", "1000000"},
      {"generate", "--out", out, "--accounts", "50", "--bins", "-3"},
      {"generate", "--out", out, "--accounts", "50", "--clusters", "-2"},
      {"generate", "--out", out, "--accounts", "50", "--dim", "4", "--seed", "-1"},
      {"export", res, "--format", "csv", "--out", out, "--min-size", "-1"},
      {"export", res, "--format", "csv", "--out", out, "--min-size", "0"},
      {"report", res, "--out", out, "--top", "-1"},
      {"report", res, "--out", out, "--top", "1e9"},
      {"demo", "--workdir", out, "--accounts", "-1"},
      {"demo", "--workdir", out, "--accounts", "10"},
      {"demo", "--workdir", out, "--accounts", "2000", "--threads", "-1"},
      {"demo", "--workdir", out, "--accounts", "2000", "--threads", "100000"},
      {"demo", "--workdir", out, "--accounts", "2000", "--seed", "-7"},
  };
  for (const auto& a : cases) {
    const std::string opt = a[a.size() - 2], value = a.back();
    SCOPED_TRACE(a[0] + " " + opt + " " + value);
    const auto r = run_cli(a, dir);
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_EQ(cli_test::lines_in(r.err), 1) << r.err;
    EXPECT_EQ(r.err.rfind("chorus: error: " + opt + ": '" + value + "' is not ", 0), 0u) << r.err;
    EXPECT_FALSE(exists(out)) << "nothing made by a refused command";
  }
}

// Issue 15 item 17: `chorus demo --workdir FILE` says the path is a file, in one line, exit 2.
TEST_F(CliMistakes, DemoWorkdirThatIsAFileIsRefused) {
  const std::string file = dir + "/in.h5";
  const auto r = run_cli({"demo", "--workdir", file}, dir);
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_EQ(r.err, "chorus: error: --workdir '" + file +
                       "' is a file: give a directory (one that does not exist is created)\n");
  EXPECT_EQ(r.out, "");
  const auto missing = run_cli({"demo", "--workdir", dir + "/no/such"}, dir);
  EXPECT_EQ(missing.code, 2) << missing.err;
  EXPECT_EQ(missing.err.rfind("chorus: error: cannot create --workdir '" + dir + "/no/such': ", 0),
            0u)
      << missing.err;
  EXPECT_EQ(cli_test::lines_in(missing.err), 1) << missing.err;
}

}  // namespace
