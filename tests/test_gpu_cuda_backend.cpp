// The CUDA backend against the independent reference (tests/reference.hpp) and the CPU oracle:
// same edges, labels and cluster tables, on random inputs of awkward shapes and on generated
// data. Skipped when no CUDA device is present.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <iostream>
#include <set>
#include <sstream>

#include "chorus/core/error.hpp"
#include "chorus/generate/generate.hpp"
#include "chorus/graph/components.hpp"
#include "chorus/io/h5.hpp"
#include "chorus/job/detect.hpp"
#include "ci_guard.hpp"
#include "param_names.hpp"
#include "reference.hpp"
#include "test_support.hpp"

using namespace chorus;
using namespace chorus::test;

namespace {

bool have_gpu() { return cuda_device_count() > 0; }

struct gpu_case {
  std::int64_t n, d, t;
  std::string view, prec;
  double thr, thr_act;
  std::uint64_t seed;
  std::string kernel = "auto";  ///< --gpu-kernel: auto (fused for bf16), fused, cublas
};

std::string describe(const gpu_case& c) {
  std::ostringstream o;
  o << "n=" << c.n << " d=" << c.d << " T=" << c.t << " view=" << c.view << " precision=" << c.prec
    << " thr=" << c.thr << "/" << c.thr_act << " seed=" << c.seed << " kernel=" << c.kernel;
  return o.str();
}

// gtest prints a case with this instead of its bytes
void PrintTo(const gpu_case& c, std::ostream* os) { *os << describe(c); }

detect_summary run(const std::string& in, const std::string& out, const gpu_case& c,
                   backend_kind b) {
  detect_options o;
  o.input = in;
  o.output = out;
  o.force = true;
  o.view = c.view;
  o.threshold = c.thr;
  o.threshold_activity = c.thr_act;
  o.backend = b;
  o.prec = b == backend_kind::cpu ? precision::fp32 : parse_precision(c.prec);
  if (b == backend_kind::cuda) o.kernel = parse_gpu_kernel(c.kernel);
  return run_detect(o);
}

oracle::params oracle_params(const gpu_case& c) {
  oracle::params p;
  p.mode = oracle::view_of(c.view);
  p.thr = c.thr;
  p.thr_act = c.thr_act;
  return p;
}

// A view of an input file in float64 (empty when the file has none).
oracle::rows read_view(const std::string& input, const char* name, std::int64_t n) {
  h5::handle f = h5::open_read(input);
  if (!h5::exists(f, name)) return {};
  const h5::handle ds = h5::open_dataset(f, name);
  oracle::rows r;
  r.n = n;
  r.d = std::int64_t(h5::describe(ds).dims.at(1));
  r.x.resize(r.n * r.d);
  h5::read_rows<double>(ds, 0, n, r.x.data());
  return r;
}

// One results file against the independent reference: every pair for the small cases (rows
// given), the pairs touching 300 sampled rows for the generated inputs (read back from `input`).
void check_with_reference(const std::string& results, const std::string& input, const dense* e,
                          const dense* a, const gpu_case& c, const char* who) {
  SCOPED_TRACE(who);
  const auto r = read_results(results);
  const oracle::params p = oracle_params(c);
  std::vector<std::string> problems;
  if (e || a) {
    const oracle::rows er = e ? oracle::rows{e->n, e->d, e->x} : oracle::rows{};
    const oracle::rows ar = a ? oracle::rows{a->n, a->d, a->x} : oracle::rows{};
    problems = oracle::compare(oracle::decide_all(p, e ? &er : nullptr, a ? &ar : nullptr), r.src,
                               r.dst, r.labels);
  } else {
    const std::int64_t n = std::int64_t(r.labels.size());
    const oracle::rows er = read_view(input, "/embedding", n),
                       ar = read_view(input, "/activity", n);
    std::vector<std::int64_t> sample;
    for (std::int64_t k = 0; k < 300 && k < n; ++k)
      sample.push_back(k * n / std::min<std::int64_t>(n, 300));
    if (n) sample.push_back(n - 1);
    const auto ref = oracle::decide_sampled(p, er.n ? &er : nullptr, ar.n ? &ar : nullptr, sample);
    problems = oracle::compare_sampled(ref, sample, r.src, r.dst, r.labels);
  }
  EXPECT_TRUE(problems.empty()) << oracle::join(problems);
}

// Compare a CPU and a GPU results file: each against the independent reference (any difference
// outside the 1e-5 band fails), then with each other: where the two resolved every pair alike,
// identical labels, similarities and cluster tables.
// `cpu_checked`: the CPU file was already compared with the reference (it is reused).
void compare(const std::string& cpu, const std::string& gpu, const std::string& input,
             const dense* e, const dense* a, const gpu_case& c, bool cpu_checked = false) {
  if (!cpu_checked) check_with_reference(cpu, input, e, a, c, "CPU backend vs reference");
  check_with_reference(gpu, input, e, a, c, "CUDA backend vs reference");
  auto x = read_results(cpu), y = read_results(gpu);
  if (x.src == y.src && x.dst == y.dst) {
    EXPECT_EQ(x.labels, y.labels);
    // a view the run does not use is NaN in both (EXPECT_NEAR fails on NaN)
    auto same = [](float a, float b) {
      if (std::isnan(a)) {
        EXPECT_TRUE(std::isnan(b));
      } else {
        EXPECT_NEAR(a, b, 1e-6);
      }
    };
    for (std::size_t k = 0; k < x.src.size() && k < y.src.size(); ++k) {
      same(x.se[k], y.se[k]);
      same(x.sa[k], y.sa[k]);
    }
    h5::handle fx = h5::open_read(cpu), fy = h5::open_read(gpu);
    EXPECT_EQ(h5::read_all<std::int64_t>(h5::open_dataset(fx, "/clusters/size")),
              h5::read_all<std::int64_t>(h5::open_dataset(fy, "/clusters/size")));
    EXPECT_EQ(h5::read_all<std::int64_t>(h5::open_dataset(fx, "/clusters/members")),
              h5::read_all<std::int64_t>(h5::open_dataset(fy, "/clusters/members")));
  }
}

// A backend's edges for rows [rb, re) against the independent reference (pairs i < j with
// rb <= i < re), for the tests that call find_edges directly.
void expect_edges_match_reference(const std::vector<edge>& got, const dense& e, const dense* a,
                                  const decision_params& dp, std::int64_t rb, std::int64_t re) {
  oracle::params p;
  p.mode = oracle::view_of(to_string(dp.mode));
  p.thr = dp.threshold;
  p.thr_act = dp.threshold_activity;
  p.weight = dp.weight;
  const oracle::rows er{e.n, e.d, e.x};
  const oracle::rows ar = a ? oracle::rows{a->n, a->d, a->x} : oracle::rows{};
  std::vector<std::int64_t> rows;
  for (std::int64_t i = rb; i < re; ++i) rows.push_back(i);
  oracle::graph ref = oracle::decide_sampled(p, &er, a ? &ar : nullptr, rows);
  for (auto* s : {&ref.edges, &ref.near})
    for (auto it = s->begin(); it != s->end();) it = it->first < rb ? s->erase(it) : std::next(it);
  std::vector<std::int64_t> src, dst;
  std::set<oracle::pair_t> own;
  for (const auto& x : got) src.push_back(x.src), dst.push_back(x.dst), own.insert({x.src, x.dst});
  const auto problems =
      oracle::compare_sampled(ref, rows, src, dst, oracle::canonical_labels(e.n, own));
  EXPECT_TRUE(problems.empty()) << oracle::join(problems);
}

class CudaVsCpu : public ::testing::TestWithParam<gpu_case> {};

TEST_P(CudaVsCpu, SameResults) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  const gpu_case c = GetParam();
  SCOPED_TRACE(describe(c));
  const std::string dir = scratch_dir("gpu");
  dense e = clustered(c.n, c.d, c.seed);
  dense a = activity_counts(c.n, c.t, c.seed + 1);
  write_input(dir + "/in.h5", c.n, &e, &a);
  run(dir + "/in.h5", dir + "/cpu.h5", c, backend_kind::cpu);
  detect_summary s;
  try {
    s = run(dir + "/in.h5", dir + "/gpu.h5", c, backend_kind::cuda);
  } catch (const input_error& err) {
    // the CUTLASS kernels need Hopper (sm_90) and a build with them: elsewhere they refuse
    if (c.kernel == "cutlass" && std::string(err.what()).find("--gpu-kernel cutlass") == 0)
      GTEST_SKIP() << err.what();
    throw;
  }
  EXPECT_EQ(s.backend, "cuda");
  compare(dir + "/cpu.h5", dir + "/gpu.h5", dir + "/in.h5", &e, &a, c);
}

std::vector<gpu_case> cases() {
  std::vector<gpu_case> v;
  for (const char* p : {"fp32", "bf16", "int8"}) {
    v.push_back({1, 5, 4, "embedding", p, 0.8, 0.8, 1});
    v.push_back({2, 3, 4, "embedding", p, 0.8, 0.8, 2});
    v.push_back({37, 1, 4, "embedding", p, 0.8, 0.8, 3});
    v.push_back({301, 17, 24, "embedding", p, 0.8, 0.8, 4});
    v.push_back({120, 1000, 24, "embedding", p, 0.9, 0.8, 5});
    v.push_back({257, 24, 48, "activity", p, 0.8, 0.6, 6});
    v.push_back({257, 24, 48, "both", p, 0.7, 0.5, 7});
    v.push_back({257, 24, 48, "fused", p, 0.6, 0.8, 8});
    v.push_back({3001, 33, 40, "both", p, 0.75, 0.5, 9});      // several tiles when T is small
    v.push_back({90, 12, 24, "embedding", p, -0.2, 0.8, 10});  // most pairs are candidates
  }
  // bf16 runs take the fused kernel by default; the same shapes through cuBLAS tiles, and the
  // fused kernel on tile-edge shapes (128-row tiles, K padded to 32)
  for (auto c : std::vector<gpu_case>(v)) {
    if (c.prec != "bf16") continue;
    c.kernel = "cublas";
    v.push_back(c);
  }
  for (std::int64_t n : {127, 128, 129, 255, 256, 1025})
    for (std::int64_t d : {31, 32, 33, 63, 64, 65, 384})
      for (const char* p : {"bf16", "int8"})
        v.push_back(
            {n, d, 8, "embedding", p, 0.7, 0.8, static_cast<std::uint64_t>(n + d), "fused"});
  // the CUTLASS kernel (Hopper): strips across its 16,384-row boxes, K padded to 64
  for (std::int64_t n : {129, 16385, 20000})
    for (std::int64_t d : {33, 384})
      for (const char* p : {"bf16", "int8"})
        v.push_back(
            {n, d, 8, "embedding", p, 0.7, 0.8, static_cast<std::uint64_t>(n + d), "cutlass"});
  v.push_back({3001, 33, 40, "both", "int8", 0.75, 0.5, 9, "cutlass"});
  v.push_back({90, 12, 24, "embedding", "bf16", -0.2, 0.8, 10, "cutlass"});
  return v;
}

// The case's shape, view, precision and first-pass kernel: n3001_d33_T40_both_bf16_kernel_cublas
std::string case_name(const gpu_case& c) {
  return "n" + std::to_string(c.n) + "_d" + std::to_string(c.d) + "_T" + std::to_string(c.t) + "_" +
         c.view + "_" + c.prec + "_kernel_" + c.kernel;
}

INSTANTIATE_TEST_SUITE_P(Shapes, CudaVsCpu, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<gpu_case>& info) {
                           static const std::vector<std::string> names =
                               unique_case_names(cases(), case_name);
                           return names.at(info.index);
                         });

// One rank's share of a multi-process job (rows [row_begin, row_end)) on the GPU, fused and
// cuBLAS, equals the CPU backend's share.
TEST(CudaBackend, RowRangeMatchesCpu) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  const std::string dir = scratch_dir("gpu_rows");
  const std::int64_t n = 2000;
  dense e = clustered(n, 40, 31);
  write_input(dir + "/in.h5", n, &e, nullptr);
  for (std::int64_t rb : {0, 1, 333, 1999}) {
    load_options lo;
    lo.activity = false;
    lo.row_begin = rb;
    loaded_input in = load_input(dir + "/in.h5", lo);
    for (const char* k : {"fused", "cublas", "int8"}) {
      const std::int64_t re = std::min<std::int64_t>(n, rb + 700);
      SCOPED_TRACE(std::string(k) + " rows " + std::to_string(rb) + ".." + std::to_string(re));
      score_problem pb;
      pb.params.mode = view_mode::embedding;
      pb.params.threshold = 0.7;
      pb.embedding = &in.embedding;
      score_options so;
      const bool i8 = std::string(k) == "int8";
      so.prec = i8 ? precision::int8 : precision::bf16;
      so.kernel = parse_gpu_kernel(i8 ? "fused" : k);
      so.row_begin = rb;
      so.row_end = re;
      score_stats sc, sg;
      auto ec = make_cpu_backend()->find_edges(pb, so, sc);
      auto eg = make_cuda_backend()->find_edges(pb, so, sg);
      EXPECT_EQ(sc.pairs, sg.pairs);
      expect_edges_match_reference(eg, e, nullptr, pb.params, rb, re);
      ASSERT_EQ(ec.size(), eg.size()) << sg.detail;
      for (std::size_t q = 0; q < ec.size(); ++q) {
        EXPECT_EQ(ec[q].src, eg[q].src);
        EXPECT_EQ(ec[q].dst, eg[q].dst);
        EXPECT_GE(eg[q].src, rb);
        EXPECT_LT(eg[q].src, re);
      }
    }
  }
}

// --gpu-kernel fused where it cannot run (fp32) is a clear error, not a silent fallback.
TEST(CudaBackend, FusedNeedsBf16) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  detect_options o;
  const std::string dir = scratch_dir("gpu_fused_fp32");
  dense e = clustered(50, 8, 1);
  write_input(dir + "/in.h5", 50, &e, nullptr);
  o.input = dir + "/in.h5";
  o.output = dir + "/out.h5";
  o.backend = backend_kind::cuda;
  o.prec = precision::fp32;
  o.kernel = gpu_kernel::fused;
  EXPECT_THROW(run_detect(o), input_error);
  o.prec = precision::int8;  // int8 runs only through the fused kernel
  o.kernel = gpu_kernel::cublas;
  EXPECT_THROW(run_detect(o), input_error);
}

// A checkpointed fused-kernel run that dies in the middle of a checkpoint write (the test hook
// CHORUS_TEST_CRASH_AT), resumed, gives the CPU backend's edges and labels.
TEST(CudaBackend, CheckpointCrashAndResumeMatchesCpu) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  const std::string dir = scratch_dir("gpu_ckpt");
  // 40,000 rows: 49,141 tiles of 128 x 128, so three work units of 16,384 tiles
  const generate_options g = generated(dir + "/in.h5", 40000, 64, 0, 12, 3);
  gpu_case c{g.accounts, g.dim, 0, "embedding", "bf16", 0.8, 0.8, 3, "fused"};
  run(g.out, dir + "/cpu.h5", c, backend_kind::cpu);
  const std::string cmd = std::string(CHORUS_BINARY) + " detect --quiet --input " + g.out +
                          " --out " + dir + "/gpu.h5 --backend cuda --precision bf16" +
                          " --checkpoint " + dir + "/ck --checkpoint-interval 0";
  const int first = std::system(("CHORUS_TEST_CRASH_AT=3 " + cmd + " 2>/dev/null").c_str());
  ASSERT_TRUE(WIFEXITED(first) && WEXITSTATUS(first) == 9) << "the crash hook did not fire";
  const int second = std::system((cmd + " --resume").c_str());
  ASSERT_TRUE(WIFEXITED(second) && WEXITSTATUS(second) == 0);
  compare(dir + "/cpu.h5", dir + "/gpu.h5", g.out, nullptr, nullptr, c);
}

TEST(CudaBackend, GeneratedElectionData) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  const std::string dir = scratch_dir("gpu_gen");
  const generate_options g = generated(dir + "/in.h5", 20000, 96, 168, 15, 5);
  for (const char* view : {"both", "embedding", "fused"}) {
    // the CPU run (always fp32) and its reference check once per view, not per GPU precision:
    // device time is scarce
    bool cpu_checked = false;
    for (const char* p : {"bf16", "int8"}) {
      gpu_case c{g.accounts, g.dim, g.bins, view, p, 0.8, 0.8, 5};
      SCOPED_TRACE(describe(c));
      if (!cpu_checked) run(g.out, dir + "/cpu.h5", c, backend_kind::cpu);
      run(g.out, dir + "/gpu.h5", c, backend_kind::cuda);
      compare(dir + "/cpu.h5", dir + "/gpu.h5", g.out, nullptr, nullptr, c, cpu_checked);
      cpu_checked = true;
    }
  }
}

// A 50-account job on the CUDA backend, for the error-path tests.
detect_options small_cuda_job(const std::string& dir) {
  dense e = clustered(50, 8, 1);
  write_input(dir + "/in.h5", 50, &e, nullptr);
  detect_options o;
  o.input = dir + "/in.h5";
  o.output = dir + "/out.h5";
  o.backend = backend_kind::cuda;
  return o;
}

TEST(CudaBackend, BadDeviceIsAClearError) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  detect_options o = small_cuda_job(scratch_dir("gpu_bad"));
  o.device = 999;
  EXPECT_THROW(run_detect(o), input_error);
}

// Without a device, the CUDA backend refuses clearly (this runs on CPU-only CI).
TEST(CudaBackend, NoDeviceIsAClearError) {
  if (have_gpu()) GTEST_SKIP() << "a CUDA device is present";
  detect_options o = small_cuda_job(scratch_dir("gpu_none"));
  try {
    run_detect(o);
    FAIL() << "expected input_error";
  } catch (const input_error& err) {
    EXPECT_NE(std::string(err.what()).find("--backend cuda"), std::string::npos) << err.what();
  }
}

}  // namespace

namespace {

// The streamed path (row blocks through pinned buffers, double-buffered) must give the same
// edges and roots as the CPU backend. The memory plan's test hook forces it.
TEST(CudaBackend, StreamedBlocksMatchCpu) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  const std::string dir = scratch_dir("gpu_stream");
  const std::int64_t n = 3001;
  dense e = clustered(n, 33, 21);
  dense a = activity_counts(n, 40, 22);
  write_input(dir + "/in.h5", n, &e, &a);
  load_options lo;
  loaded_input in = load_input(dir + "/in.h5", lo);
  for (const char* view : {"embedding", "both", "fused"}) {
    // the all-pairs reference once per view (device time is scarce); every block size must then
    // give exactly the CPU backend's edges, which do not depend on it
    bool reference_checked = false;
    // 1024-row blocks (the test hook of the memory plan: three blocks of 3001 rows, so every
    // step of the streamed order runs), then the plan's own choice (every row resident)
    for (std::int64_t block_rows : {1024, 0}) {
      SCOPED_TRACE(std::string(view) + " block rows " + std::to_string(block_rows));
      score_problem pb;
      pb.params.mode = parse_view(view);
      pb.params.threshold = 0.7;
      pb.params.threshold_activity = 0.5;
      pb.embedding = &in.embedding;
      pb.activity = pb.params.mode == view_mode::embedding ? nullptr : &in.activity;
      score_options so;
      so.prec = precision::bf16;
      so.gpu_block_rows = block_rows;
      score_stats sc, sg;
      auto ec = make_cpu_backend()->find_edges(pb, so, sc);
      auto eg = make_cuda_backend()->find_edges(pb, so, sg);
      if (!reference_checked) expect_edges_match_reference(eg, e, &a, pb.params, 0, n);
      reference_checked = true;
      ASSERT_EQ(ec.size(), eg.size()) << sg.detail;
      for (std::size_t k = 0; k < ec.size(); ++k) {
        ASSERT_EQ(ec[k].src, eg[k].src);
        ASSERT_EQ(ec[k].dst, eg[k].dst);
      }
      std::set<oracle::pair_t> own;
      for (const auto& x : eg) own.insert({x.src, x.dst});
      EXPECT_EQ(sg.roots, oracle::components(n, own)) << sg.detail;
      if (block_rows > 0)
        EXPECT_NE(sg.detail.find("streamed in blocks of 1024 rows"), std::string::npos)
            << sg.detail;
      std::cout << "[ config ] " << view << " block rows " << block_rows << ": " << sg.detail
                << "\n";
    }
  }
}

// A stop request reaches the CUDA backend through its options (the plugin has its own copy of
// the library's globals): a streamed scan polls it between tiles and ends as interrupted.
TEST(CudaBackend, StopRequestReachesTheBackend) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  const std::string dir = scratch_dir("gpu_stop");
  const std::int64_t n = 3001;
  dense e = clustered(n, 33, 23);
  write_input(dir + "/in.h5", n, &e, nullptr);
  load_options lo;
  loaded_input in = load_input(dir + "/in.h5", lo);
  score_problem pb;
  pb.params.mode = view_mode::embedding;
  pb.params.threshold = 0.7;
  pb.embedding = &in.embedding;
  score_options so;
  so.prec = precision::bf16;
  so.gpu_block_rows = 256;  // 12 row blocks, 78 block pairs
  int polls = 0;
  so.stop = [&polls] { return ++polls > 20; };
  score_stats st;
  EXPECT_THROW(make_cuda_backend()->find_edges(pb, so, st), interrupted_error) << st.detail;
  EXPECT_GT(polls, 20);
}

// Rows arriving while the fused kernel scores (the reader overlapping the GPU work): row chunks
// go to the device as they are published, tiles run in column order; edges and roots equal the
// CPU oracle's with every row present. 40,000 rows make many kernel batches.
TEST(CudaBackend, RowsArrivingWhileScoringMatchCpu) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  const std::string dir = scratch_dir("gpu_feed");
  const std::int64_t n = 40000;
  dense e = clustered(n, 32, 41);
  dense a = activity_counts(n, 24, 42);
  write_input(dir + "/in.h5", n, &e, &a);
  for (const char* prec : {"bf16", "int8"}) {
    for (std::int64_t rb : {0, 9000}) {
      SCOPED_TRACE(std::string(prec) + " rows " + std::to_string(rb) + "..");
      load_options lo;
      lo.row_begin = rb;
      const loaded_input src = load_input(dir + "/in.h5", lo);
      score_problem pb;
      pb.params.mode = view_mode::both;
      pb.params.threshold = 0.7;
      pb.params.threshold_activity = 0.5;
      pb.embedding = &src.embedding;
      pb.activity = &src.activity;
      score_options so;
      so.prec = parse_precision(prec);
      so.kernel = gpu_kernel::fused;
      so.row_begin = rb;
      so.row_end = rb == 0 ? -1 : 30000;
      score_stats sc, sg;
      const auto ec = make_cpu_backend()->find_edges(pb, so, sc);
      slow_reader rd(src, rb, 1000, 2000);
      score_problem fed = pb;
      fed.embedding = &rd.dst.embedding;
      fed.activity = &rd.dst.activity;
      fed.feed = &rd.feed;
      const auto eg = make_cuda_backend()->find_edges(fed, so, sg);
      ASSERT_EQ(ec.size(), eg.size()) << sg.detail;
      for (std::size_t k = 0; k < ec.size(); ++k) {
        ASSERT_EQ(ec[k].src, eg[k].src);
        ASSERT_EQ(ec[k].dst, eg[k].dst);
      }
      if (rb == 0) EXPECT_EQ(sg.roots, component_roots(n, ec, 1)) << sg.detail;
      std::cout << "[ config ] " << prec << " rows " << rb << "..: " << sg.detail << "\n";
    }
  }
}

}  // namespace

namespace {

// The test programs find the executable and the plugin next to their own folder, wherever the
// build folder was carried (tests/py/check_relocated_gpu_tests.py checks the printed folder).
TEST(CudaBackend, PathsAreRelativeToTheTestProgram) {
  std::cout << "[ paths ] build=" << test::build_dir() << "\n";
  EXPECT_EQ(access(test::chorus_binary().c_str(), X_OK), 0) << test::chorus_binary();
  EXPECT_EQ(test::chorus_binary(), test::build_dir() + "/chorus");
}

// The CUDA plugin loads and resolves on any machine where it was built (no device needed), and
// its errors cross the library boundary as chorus exceptions.
TEST(CudaBackend, PluginLoadsAndReportsNoDevice) {
  if (access(test::cuda_plugin().c_str(), R_OK) != 0) {
    // -DCHORUS_CUDA=OFF is a choice (the sanitizer build); AUTO without nvcc is a missing tool
    if (test::configured_off(test::build_dir(), "CHORUS_CUDA"))
      GTEST_SKIP() << "built with -DCHORUS_CUDA=OFF";
    CHORUS_SKIP_MISSING_TOOL("built without CUDA (CMake found no nvcc), so the plugin is missing");
  }
  auto be = make_cuda_backend();
  ASSERT_TRUE(be);
  EXPECT_EQ(be->name(), "cuda");
  if (have_gpu()) return;
  view_matrix v;
  v.n = 3;
  v.d = 2;
  v.data = {1, 0, 0, 1, 1, 1};
  v.inv_norm = {1, 1, 1};
  v.valid = {1, 1, 1};
  score_problem pb;
  pb.embedding = &v;
  pb.params.mode = view_mode::embedding;
  score_options so;
  score_stats st;
  EXPECT_THROW(be->find_edges(pb, so, st), input_error);
}

}  // namespace

namespace {

// A threshold so low that almost every pair is a candidate: 4.5 M pairs overflow the fused
// path's candidate buffer (4 M). With buffers of 65,536 pairs (the test hook), the fused units
// and, with 1024-row blocks, every cuBLAS tile (a million pairs) overflow too; the batches are
// split and re-run, memory stays within the plan, and the edges equal the CPU's.
TEST(CudaBackend, OverflowingCandidatesSplitTheBatch) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  const std::string dir = scratch_dir("gpu_overflow");
  const std::int64_t n = 3001;
  dense e = clustered(n, 33, 25);
  write_input(dir + "/in.h5", n, &e, nullptr);
  load_options lo;
  loaded_input in = load_input(dir + "/in.h5", lo);
  score_problem pb;
  pb.params.mode = view_mode::embedding;
  pb.params.threshold = -0.5;
  pb.embedding = &in.embedding;
  score_options so;
  so.prec = precision::bf16;
  score_stats sc;
  const auto ec = make_cpu_backend()->find_edges(pb, so, sc);
  ASSERT_GT(ec.size(), 4'200'000u);
  struct overflow_case {
    std::int64_t block_rows;
    std::uint64_t cap;
    gpu_kernel kernel;  // auto: CUTLASS on Hopper where built, else the hand-written kernel
  };
  for (const overflow_case& oc :
       {overflow_case{0, 0, gpu_kernel::automatic}, overflow_case{0, 65536, gpu_kernel::automatic},
        overflow_case{0, 65536, gpu_kernel::fused},
        overflow_case{1024, 65536, gpu_kernel::cublas}}) {
    const std::int64_t block_rows = oc.block_rows;
    const std::uint64_t cap = oc.cap;
    SCOPED_TRACE("block rows " + std::to_string(block_rows) + " cap " + std::to_string(cap) +
                 " kernel " + to_string(oc.kernel));
    so.gpu_block_rows = block_rows;
    so.gpu_candidate_cap = cap;
    so.kernel = oc.kernel;
    score_stats sg;
    const auto eg = make_cuda_backend()->find_edges(pb, so, sg);
    ASSERT_EQ(ec.size(), eg.size()) << sg.detail;
    for (std::size_t k = 0; k < ec.size(); ++k) {
      ASSERT_EQ(ec[k].src, eg[k].src);
      ASSERT_EQ(ec[k].dst, eg[k].dst);
    }
    EXPECT_GE(sg.candidates, static_cast<std::int64_t>(ec.size())) << sg.detail;
    std::cout << "[ config ] overflow, block rows " << block_rows << ", cap " << cap << ": "
              << sg.detail << "\n";
  }
}

}  // namespace
