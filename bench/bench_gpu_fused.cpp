// GPU stage: the fused first pass (issue #8) next to cuBLAS. Timed with CUDA events.
//   BM_CublasGemmBf16      dense bf16 GEMM n x n x d, the ceiling at this precision (all n^2)
//   BM_FusedFirstPass      fused kernel over the i<j tiles of n rows (rate counts i<j only) and
//                          its share of the cuBLAS rate measured in the same process
//   BM_CublasGemmInt8 / BM_FusedFirstPassInt8: the same in int8 (per-pair margin epilogue)
//   BM_FusedAllPairs       all pairs + exact re-check + union-find + flatten, from rows already
//                          in device memory (the 10M x 384 bar: --benchmark_filter=.*/10000000)
#include <benchmark/benchmark.h>

#include <cmath>
#include <vector>

#include "chorus/scan/fused_tile.hpp"
#include "chorus/scan/margin.hpp"
#include "chorus/scan/quantize.hpp"
#include "chorus/scan/tiling.hpp"
#include "cuda_check.hpp"
#include "gpu_bench_util.hpp"
#include "kernels.hpp"

namespace {

using namespace chorus;

double g_cublas_tflops = 0;     // BM_CublasGemmBf16's rate, for the fused kernel's ratio
double g_cublas_int8_tops = 0;  // BM_CublasGemmInt8's rate, for the int8 fused kernel's ratio

struct device_rows {
  cuda::device_buffer<float> f32;
  cuda::device_buffer<std::uint16_t> bf16;
  cuda::device_buffer<double> inv_norm;
  cuda::device_buffer<std::uint8_t> valid;
  device_rows(std::int64_t n, std::int64_t d, cudaStream_t s)
      : f32(static_cast<std::size_t>(n * d)),
        bf16(static_cast<std::size_t>(n * d)),
        inv_norm(n),
        valid(n) {
    cuda::launch_synthetic_rows(f32.data(), inv_norm.data(), valid.data(), n, d, 42, 1000, 8, s);
    cuda::launch_to_bf16(f32.data(), bf16.data(), n * d, s);
  }
};

float fused_cut(std::int64_t d, double threshold) {
  return static_cast<float>(threshold - margin::bf16_gemm(d, 1.0 + 1e-5, 4 * margin::kU32));
}

// Times `once` (a dense n x n x d GEMM enqueued on `s`, after a warm-up run) and reports its
// rate under `name`; returns the rate in T(FL)OP/s, the ceiling its fused kernel is measured
// against.
template <typename F>
double report_gemm(benchmark::State& state, cudaStream_t s, std::int64_t n, std::int64_t d,
                   F&& once, const char* name) {
  once();
  CHORUS_CUDA_TRY(cudaStreamSynchronize(s));
  const double total = bench::time_on_stream(state, s, once);
  const double rate =
      2.0 * double(n) * double(n) * double(d) * double(state.iterations()) / total / 1e12;
  state.counters[name] = rate;
  return rate;
}

void BM_CublasGemmBf16(benchmark::State& state) {
  if (!bench::need_gpu(state)) return;
  const std::int64_t n = state.range(0), d = state.range(1);
  cuda::stream s;
  cuda::blas_handle blas(s.get());
  device_rows x(n, d, s.get());
  cuda::device_buffer<float> c(static_cast<std::size_t>(n * n));
  const float one = 1, zero = 0;
  g_cublas_tflops = report_gemm(
      state, s.get(), n, d,
      [&] {
        CHORUS_CUBLAS_TRY(cublasGemmEx(blas.get(), CUBLAS_OP_T, CUBLAS_OP_N, int(n), int(n), int(d),
                                       &one, x.bf16.data(), CUDA_R_16BF, int(d), x.bf16.data(),
                                       CUDA_R_16BF, int(d), &zero, c.data(), CUDA_R_32F, int(n),
                                       CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
      },
      "TFLOP/s");
}

void BM_FusedFirstPass(benchmark::State& state) {
  if (!bench::need_gpu(state)) return;
  const std::int64_t n = state.range(0), d = state.range(1);
  cuda::stream s;
  device_rows x(n, d, s.get());
  const std::int64_t kp = fused::padded_k(d);
  if (kp != d) {
    state.SkipWithError("d must be a multiple of 32 here");
    return;
  }
  const std::int64_t nb = tiling::blocks(n, fused::kBM), tiles = fused::trap_tiles(nb, nb);
  cuda::device_buffer<cuda::pair64> cand(1 << 24);
  cuda::device_buffer<unsigned long long> count(1);
  const int grid = cuda::fused_grid(0);
  const float cut = fused_cut(d, 0.8);
  bench::report_pairs(
      state, s.get(), n, d, count.data(),
      [&] {
        cuda::launch_fused_tiles(x.bf16.data(), 0, n, n, kp, 0, tiles, cut, cand.data(),
                                 count.data(), cand.size(), grid, s.get());
      },
      g_cublas_tflops, "TFLOP/s(i<j)");
  state.counters["grid"] = grid;
}

void BM_FusedAllPairs(benchmark::State& state) {
  if (!bench::need_gpu(state)) return;
  const std::int64_t n = state.range(0), d = state.range(1);
  cuda::stream s;
  device_rows x(n, d, s.get());
  const std::int64_t kp = fused::padded_k(d);
  const std::int64_t nb = tiling::blocks(n, fused::kBM), tiles = fused::trap_tiles(nb, nb);
  const int grid = cuda::fused_grid(0);
  const std::int64_t batch = std::int64_t(grid) * 256;
  cuda::device_buffer<cuda::pair64> cand(1 << 24);
  cuda::device_buffer<edge> edges(1 << 24);
  cuda::device_buffer<unsigned long long> counters(2);
  cuda::device_buffer<std::int64_t> parent(n);
  cuda::pinned_buffer<unsigned long long> host(2);
  const cuda::device_view view{x.f32.data(), x.inv_norm.data(), x.valid.data(), d, 0};
  decision_params params;
  params.mode = view_mode::embedding;
  params.threshold = 0.8;
  const float cut = fused_cut(d, params.threshold);
  std::int64_t total_edges = 0, total_cand = 0;
  bool overflow = false;
  bench::time_on_stream(state, s.get(), [&] {
    total_edges = total_cand = 0;
    cuda::launch_uf_init(parent.data(), n, s.get());
    for (std::int64_t t0 = 0; t0 < tiles && !overflow; t0 += batch) {
      const std::int64_t t1 = std::min(tiles, t0 + batch);
      CHORUS_CUDA_TRY(cudaMemsetAsync(counters.data(), 0, 16, s.get()));
      cuda::launch_fused_tiles(x.bf16.data(), 0, n, n, kp, t0, t1, cut, cand.data(),
                               counters.data(), cand.size(), grid, s.get());
      CHORUS_CUDA_TRY(
          cudaMemcpyAsync(host.data(), counters.data(), 8, cudaMemcpyDeviceToHost, s.get()));
      s.sync();
      const std::int64_t hits = static_cast<std::int64_t>(host.data()[0]);
      overflow = host.data()[0] > cand.size();
      if (overflow || hits == 0) continue;
      total_cand += hits;
      cuda::launch_recheck(cand.data(), hits, view, view, cuda::device_view{}, cuda::device_view{},
                           params, edges.data(), counters.data() + 1, parent.data(), s.get());
      CHORUS_CUDA_TRY(cudaMemcpyAsync(host.data() + 1, counters.data() + 1, 8,
                                      cudaMemcpyDeviceToHost, s.get()));
      s.sync();
      total_edges += static_cast<std::int64_t>(host.data()[1]);
    }
    cuda::launch_uf_flatten(parent.data(), n, s.get());
  });
  if (overflow) {
    state.SkipWithError("candidate buffer overflow (raise the threshold)");
    return;
  }
  state.counters["edges"] = double(total_edges);
  state.counters["candidates"] = double(total_cand);
  state.counters["pairs"] = double(tiling::pair_count(n));
}

// int8 operands made from the same synthetic rows: quantised on the host
// (chorus/scan/quantize.hpp), with the per-row scale and margin bounds of the int8 epilogue,
// [scale | err | qnorm | rnorm].
struct device_rows_int8 {
  cuda::device_buffer<std::int8_t> q;
  cuda::device_buffer<float> side;
  device_rows_int8(std::int64_t n, std::int64_t d, cudaStream_t s) : q(n * d), side(4 * n) {
    device_rows x(n, d, s);
    std::vector<float> host(static_cast<std::size_t>(n * d));
    // every copy on `s`, the stream the kernels run on (legacy-stream copies are not ordered
    // with a non-blocking stream); synchronised before the host buffers are read or freed
    CHORUS_CUDA_TRY(
        cudaMemcpyAsync(host.data(), x.f32.data(), host.size() * 4, cudaMemcpyDeviceToHost, s));
    CHORUS_CUDA_TRY(cudaStreamSynchronize(s));
    std::vector<std::int8_t> hq(host.size());
    std::vector<float> hs(static_cast<std::size_t>(4 * n));
    for (std::int64_t i = 0; i < n; ++i) {
      double e2 = 0, q2 = 0, r2 = 0;
      hs[i] = quantize_row_int8(host.data() + i * d, d, hq.data() + i * d, e2, q2, r2);
      int8_row_bounds(e2, q2, r2, &hs[n + i], &hs[2 * n + i], &hs[3 * n + i]);
    }
    CHORUS_CUDA_TRY(cudaMemcpyAsync(q.data(), hq.data(), hq.size(), cudaMemcpyHostToDevice, s));
    CHORUS_CUDA_TRY(
        cudaMemcpyAsync(side.data(), hs.data(), hs.size() * 4, cudaMemcpyHostToDevice, s));
    CHORUS_CUDA_TRY(cudaStreamSynchronize(s));
  }
};

// Dense int8 GEMM n x n x d (int32 out), the ceiling at this precision.
void BM_CublasGemmInt8(benchmark::State& state) {
  if (!bench::need_gpu(state)) return;
  const std::int64_t n = state.range(0), d = state.range(1);
  cuda::stream s;
  cuda::blas_handle blas(s.get());
  device_rows_int8 x(n, d, s.get());
  cuda::device_buffer<std::int32_t> c(static_cast<std::size_t>(n * n));
  const std::int32_t one = 1, zero = 0;
  g_cublas_int8_tops = report_gemm(
      state, s.get(), n, d,
      [&] {
        CHORUS_CUBLAS_TRY(cublasGemmEx(blas.get(), CUBLAS_OP_T, CUBLAS_OP_N, int(n), int(n), int(d),
                                       &one, x.q.data(), CUDA_R_8I, int(d), x.q.data(), CUDA_R_8I,
                                       int(d), &zero, c.data(), CUDA_R_32I, int(n),
                                       CUBLAS_COMPUTE_32I, CUBLAS_GEMM_DEFAULT));
      },
      "TOP/s");
}

void BM_FusedFirstPassInt8(benchmark::State& state) {
  if (!bench::need_gpu(state)) return;
  const std::int64_t n = state.range(0), d = state.range(1);
  if (fused::padded_k_int8(d) != d) {
    state.SkipWithError("d must be a multiple of 64 here");
    return;
  }
  cuda::stream s;
  device_rows_int8 x(n, d, s.get());
  const std::int64_t nb = tiling::blocks(n, fused::kBM), tiles = fused::trap_tiles(nb, nb);
  cuda::device_buffer<cuda::pair64> cand(1 << 24);
  cuda::device_buffer<unsigned long long> count(1);
  const int grid = cuda::fused_grid(0);
  const float cut = static_cast<float>(0.8 - margin::kSlack);
  const float* sd = x.side.data();
  bench::report_pairs(
      state, s.get(), n, d, count.data(),
      [&] {
        cuda::launch_fused_tiles_int8(x.q.data(), sd, sd + n, sd + 2 * n, sd + 3 * n, 0, n, n, d, 0,
                                      tiles, cut, cand.data(), count.data(), cand.size(), grid,
                                      s.get());
      },
      g_cublas_int8_tops, "TOP/s(i<j)");
}

}  // namespace

BENCHMARK(BM_CublasGemmInt8)->Args({16384, 384})->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_FusedFirstPassInt8)
    ->Args({65536, 384})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CublasGemmBf16)->Args({16384, 384})->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_FusedFirstPass)
    ->Args({65536, 384})
    ->Args({262144, 384})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_FusedAllPairs)
    ->Args({1000000, 384})
    ->Args({10000000, 384})
    ->UseManualTime()
    ->Iterations(1)
    ->Unit(benchmark::kSecond);
BENCHMARK_MAIN();
