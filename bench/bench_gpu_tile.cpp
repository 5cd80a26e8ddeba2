// GPU stage 1: one T x T x d tile. The bare cuBLAS GEMM (the ceiling each precision is compared
// against) and GEMM + threshold/compaction, in fp32 and bf16. Timed with CUDA events.
#include <cuda_bf16.h>

#include "chorus/scan/margin.hpp"
#include "cuda_check.hpp"
#include "gpu_bench_util.hpp"
#include "kernels.hpp"

namespace {

using namespace chorus;

void tile_bench(benchmark::State& state, bool threshold) {
  if (!bench::need_gpu(state)) return;
  const std::int64_t T = state.range(0), d = state.range(1);
  const bool bf16 = state.range(2) != 0;
  auto host = bench::unit_rows(2 * T, d, 7);
  cuda::stream s;
  cuda::blas_handle blas(s.get());
  cuda::device_buffer<float> rows(host.size());
  // on the benchmark's own stream: a legacy-stream copy would not be ordered before the
  // conversion kernel on the non-blocking stream `s`
  CHORUS_CUDA_TRY(
      cudaMemcpyAsync(rows.data(), host.data(), host.size() * 4, cudaMemcpyHostToDevice, s.get()));
  cuda::device_buffer<std::uint16_t> rows16(host.size());
  cuda::launch_to_bf16(rows.data(), rows16.data(), static_cast<std::int64_t>(host.size()), s.get());
  const void* base =
      bf16 ? static_cast<const void*>(rows16.data()) : static_cast<const void*>(rows.data());
  const std::size_t elem = bf16 ? 2 : 4;
  const char* A = static_cast<const char*>(base);
  const char* B = A + static_cast<std::size_t>(T) * d * elem;  // a tile off the diagonal
  cuda::device_buffer<float> tile(static_cast<std::size_t>(T) * T);
  cuda::device_buffer<cuda::pair64> cand(1 << 22);
  cuda::device_buffer<unsigned long long> count(1);
  const float one = 1, zero = 0;
  const float cut = static_cast<float>(
      0.8 - (bf16 ? margin::bf16_gemm(d, 1.0 + 1e-5, 4 * margin::kU32) : margin::fp32_gemm(d)));
  auto once = [&] {
    CHORUS_CUBLAS_TRY(
        cublasGemmEx(blas.get(), CUBLAS_OP_T, CUBLAS_OP_N, int(T), int(T), int(d), &one, A,
                     bf16 ? CUDA_R_16BF : CUDA_R_32F, int(d), B, bf16 ? CUDA_R_16BF : CUDA_R_32F,
                     int(d), &zero, tile.data(), CUDA_R_32F, int(T),
                     bf16 ? CUBLAS_COMPUTE_32F : CUBLAS_COMPUTE_32F_PEDANTIC, CUBLAS_GEMM_DEFAULT));
    if (threshold) {
      CHORUS_CUDA_TRY(cudaMemsetAsync(count.data(), 0, 8, s.get()));
      cuda::launch_threshold_tile(tile.data(), T, T, 0, T, 2 * T, cut, cand.data(), count.data(),
                                  cand.size(), s.get());
    }
  };
  once();
  s.sync();
  cuda::event start, stop;
  for (auto _ : state) {
    start.record(s.get());
    for (int r = 0; r < 10; ++r) once();
    stop.record(s.get());
    state.SetIterationTime(stop.since(start) / 1000.0 / 10);
  }
  const double flops = 2.0 * double(T) * double(T) * double(d);
  state.counters["TFLOP/s"] =
      benchmark::Counter(flops / 1e12, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["pairs/s"] =
      benchmark::Counter(double(T) * double(T), benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(bf16 ? "bf16" : "fp32");
}

void BM_CublasGemm(benchmark::State& state) { tile_bench(state, false); }
void BM_GemmThreshold(benchmark::State& state) { tile_bench(state, true); }

}  // namespace

BENCHMARK(BM_CublasGemm)
    ->ArgNames({"T", "d", "bf16"})
    ->Args({16384, 384, 0})
    ->Args({16384, 384, 1})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_GemmThreshold)
    ->ArgNames({"T", "d", "bf16"})
    ->Args({16384, 384, 0})
    ->Args({16384, 384, 1})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
