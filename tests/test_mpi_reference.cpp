// Multi-process jobs (`mpirun -np P chorus detect`) against the independent reference
// (tests/reference.hpp): each rank count, view, weight, transform and precision gives the
// reference's edges and canonical labels. tests/py/check_mpi.py compares every dataset of a
// P-rank results file with a one-process run; this test compares with float64 directly.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "ci_guard.hpp"
#include "cli_support.hpp"
#include "reference.hpp"
#include "test_support.hpp"

using namespace chorus;
using namespace chorus::test;
using chorus::cli_test::mpirun;
using chorus::cli_test::shell;

namespace {

struct mpi_case {
  int ranks;
  std::string view, prec, transform;
  double thr, thr_act, weight;
  std::int64_t topk;
};

TEST(MpiVsReference, EveryRankCountGivesTheReferenceGraph) {
  const std::string bin = CHORUS_BINARY, build = bin.substr(0, bin.rfind('/'));
  if (configured_off(build, "CHORUS_MPI")) GTEST_SKIP() << "built with -DCHORUS_MPI=OFF";
  const std::string launch = mpirun();
  if (launch.empty()) CHORUS_SKIP_MISSING_TOOL("mpirun not found (install openmpi-bin)");
  const std::string dir = scratch_dir("mpi_ref");
  const std::int64_t n = 360;
  dense e = clustered(n, 24, 61);
  dense a = activity_counts(n, 48, 62);
  write_input(dir + "/in.h5", n, &e, &a);
  const oracle::rows er{e.n, e.d, e.x}, ar{a.n, a.d, a.x};
  const std::vector<mpi_case> cases = {
      {2, "both", "int8", "none", 0.7, 0.5, 0.5, 0},
      {3, "fused", "fp32", "tfidf", 0.55, 0.8, 0.3, 0},
      {3, "both", "bf16", "log1p", 0.7, 0.5, 0.5, 0},
      {2, "embedding", "int8", "none", 0.8, 0.8, 0.5, 0},
      {4, "activity", "fp32", "none", 0.6, 0.6, 0.5, 0},
  };
  for (const mpi_case& c : cases) {
    const std::string tag = std::to_string(c.ranks) + " ranks, " + c.view + " " + c.prec + " " +
                            c.transform + " w=" + std::to_string(c.weight);
    SCOPED_TRACE(tag);
    const std::string out = dir + "/out_" + std::to_string(&c - cases.data()) + ".h5";
    std::ostringstream cmd;
    cmd.precision(17);
    cmd << launch << " -np " << c.ranks << " " << bin << " detect --quiet --json --no-evidence"
        << " --backend cpu --input " << dir << "/in.h5 --out " << out << " --view " << c.view
        << " --precision " << c.prec << " --activity-transform " << c.transform;
    // only the options the view uses: an unused one is an error (#15 item 3)
    if (c.view != "activity") cmd << " --threshold " << c.thr;
    if (c.view == "activity" || c.view == "both") cmd << " --threshold-activity " << c.thr_act;
    if (c.view == "fused") cmd << " --weight " << c.weight;
    cmd << " --topk " << c.topk << " --tile-rows 16 --tile-cols 32 --threads 1 2>" << dir
        << "/err.txt";
    auto [rc, json] = shell(cmd.str());
    ASSERT_EQ(rc, 0) << cmd.str() << "\n" << json;
    if (json.find("\"ranks\":" + std::to_string(c.ranks)) == std::string::npos)
      CHORUS_SKIP_MISSING_TOOL(
          "chorus was built without MPI (CMake found none: install "
          "libopenmpi-dev); --json said: " +
          json);
    const oracle::params p =
        oracle::params_of(c.view, c.thr, c.thr_act, c.weight, c.transform, c.topk);
    const oracle::graph ref = oracle::decide_all(p, &er, &ar);
    ASSERT_GT(ref.edges.size(), 20u) << "the data should give edges";
    const result_edges got = read_results(out);
    const auto problems = oracle::compare(ref, got.src, got.dst, got.labels);
    EXPECT_TRUE(problems.empty()) << oracle::join(problems);
  }
}

}  // namespace

namespace {

// #15 item 18: a rank that stops because a peer failed must never win the error agreement
// (exit 4 tells a batch script to resume the job, again and again). Every rank's scan is slowed
// so that the failure notice reaches the others mid-scan; each failing rank, repeatedly.
TEST(MpiAgreement, FailureWinsOverTheStopsItCauses) {
  const std::string bin = CHORUS_BINARY, build = bin.substr(0, bin.rfind('/'));
  if (configured_off(build, "CHORUS_MPI")) GTEST_SKIP() << "built with -DCHORUS_MPI=OFF";
  const std::string launch = mpirun();
  if (launch.empty()) CHORUS_SKIP_MISSING_TOOL("mpirun not found (install openmpi-bin)");
  const std::string dir = scratch_dir("mpi_agree");
  const std::int64_t n = 360;
  dense e = clustered(n, 24, 71);
  write_input(dir + "/in.h5", n, &e, nullptr);
  for (int fail : {1, 2, 1, 2}) {
    std::ostringstream cmd;
    cmd << launch << " -np 3 -x CHORUS_TEST_FAIL_RANK=" << fail
        << " -x CHORUS_TEST_PROGRESS_DELAY_MS=30 " << bin
        << " detect --quiet --backend cpu --input " << dir << "/in.h5 --out " << dir
        << "/out.h5 --force --tile-rows 16 --tile-cols 32 --threads 1 2>" << dir << "/err.txt";
    auto [rc, out] = shell(cmd.str());
    std::ifstream f(dir + "/err.txt");
    const std::string err((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    SCOPED_TRACE("failing rank " + std::to_string(fail));
    EXPECT_EQ(rc, 1) << "a failing rank ends the job with exit code 1, not a stop's 4\n" << err;
    EXPECT_NE(err.find("test failure injected on rank " + std::to_string(fail)), std::string::npos)
        << err;
  }
}

}  // namespace
