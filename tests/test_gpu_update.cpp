// Incremental runs on the CUDA backend (#21): an update scored on the GPU equals the CPU
// backend's full run on the same input, dataset for dataset, for the bf16 and int8 first passes.
// Skips without a CUDA device (label gpu).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "chorus/scan/backend.hpp"
#include "cli_support.hpp"
#include "results_compare.hpp"
#include "test_support.hpp"

using namespace chorus;
using namespace chorus::test;
using chorus::cli_test::run_cli;

namespace {

TEST(GpuUpdate, CudaUpdatesEqualTheCpuFullRunOnASeries) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device";
  const std::string dir = scratch_dir("gpu_update");
  auto r = run_cli({"generate", "--accounts", "3000", "--days", "4", "--dim", "48", "--clusters",
                    "6", "--seed", "8", "--out", dir + "/s.h5", "--quiet"},
                   dir);
  ASSERT_EQ(r.code, 0) << r.err;
  const std::vector<std::string> view = {
      "--view", "both", "--threshold", "0.9", "--threshold-activity", "0.6", "--quiet"};
  auto detect = [&](const std::string& in, const std::string& out, std::vector<std::string> more) {
    std::vector<std::string> a = {"detect", "--input", in, "--out", out};
    a.insert(a.end(), view.begin(), view.end());
    a.insert(a.end(), more.begin(), more.end());
    return run_cli(a, dir);
  };
  for (const std::string prec : {"bf16", "int8"}) {
    SCOPED_TRACE(prec);
    std::string prev = dir + "/" + prec + "_1.h5";
    r = detect(dir + "/s.day01.h5", prev, {"--backend", "cuda", "--precision", prec});
    ASSERT_EQ(r.code, 0) << r.err;
    for (int d = 2; d <= 4; ++d) {
      const std::string in = dir + "/s.day0" + std::to_string(d) + ".h5";
      const std::string cpu = dir + "/cpu_" + std::to_string(d) + ".h5";
      const std::string gpu = dir + "/" + prec + "_" + std::to_string(d) + ".h5";
      r = detect(in, cpu, {"--backend", "cpu", "--force"});
      ASSERT_EQ(r.code, 0) << r.err;
      r = detect(in, gpu, {"--backend", "cuda", "--precision", prec, "--update", prev});
      ASSERT_EQ(r.code, 0) << r.err;
      expect_same_results(cpu, gpu);
      prev = gpu;
    }
  }
}

}  // namespace
