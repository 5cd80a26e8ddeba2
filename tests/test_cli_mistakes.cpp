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
