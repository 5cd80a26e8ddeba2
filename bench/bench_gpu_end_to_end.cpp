// GPU stage 3: the whole CUDA backend (tiles, threshold, exact re-check, union-find) on n unit
// rows of dimension d at threshold 0.8, fp32 and bf16 first pass. TFLOP/s counts the i<j half.
// The bar: n = 1M, d = 384, bf16, >= 50% of the cuBLAS bf16 GEMM rate (bench_gpu_tile),
// on the cuBLAS-tile path (cublas:1) and on the fused kernel (cublas:0, the default for bf16).
#include "chorus/scan/backend.hpp"
#include "gpu_bench_util.hpp"

namespace {

using namespace chorus;

void BM_CudaBackend(benchmark::State& state) {
  if (!bench::need_gpu(state)) return;
  const std::int64_t n = state.range(0), d = state.range(1);
  static view_matrix v;
  if (v.n != n || v.d != d) v = bench::unit_view(n, d, 11);
  score_problem pb;
  pb.embedding = &v;
  pb.params.mode = view_mode::embedding;
  pb.params.threshold = 0.8;
  score_options opt;
  opt.prec = state.range(2) ? precision::bf16 : precision::fp32;
  // bf16 takes the fused kernel by default; cublas:1 measures the cuBLAS-tile path (issue #3)
  opt.kernel = state.range(3) ? gpu_kernel::cublas : gpu_kernel::automatic;
  auto be = make_cuda_backend();
  score_stats st;
  for (auto _ : state) {
    auto edges = be->find_edges(pb, opt, st);
    benchmark::DoNotOptimize(edges.data());
    state.SetIterationTime(st.seconds);
  }
  const double pairs = double(n) * double(n - 1) / 2;
  state.counters["TFLOP/s(i<j)"] = benchmark::Counter(
      2 * pairs * double(d) / 1e12, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["pairs/s"] =
      benchmark::Counter(pairs, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["candidates"] = double(st.candidates);
  state.counters["edges"] = double(st.edges);
  state.SetLabel(st.detail);
}

}  // namespace

BENCHMARK(BM_CudaBackend)
    ->ArgNames({"n", "d", "bf16", "cublas"})
    ->Args({200'000, 384, 0, 0})
    ->Args({200'000, 384, 1, 1})
    ->Args({200'000, 384, 1, 0})
    ->Args({1'000'000, 384, 1, 1})
    ->Args({1'000'000, 384, 1, 0})
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
