// GPU stage: the Hopper first pass on CUTLASS 3 (issue #19) side by side with the hand-written
// fused kernel and cuBLAS at the same precision, on n x d rows made on the device (1M x 384 by
// default). Timed with CUDA events. Printed first by bench/gpu_check.sh.
//   BM_CublasBf16 / BM_CublasInt8   dense GEMM of a 16384-row strip against 65536 rows: the
//                                   ceiling at each precision (all m x w products)
//   BM_CutlassFirstPass/variant     every CUTLASS variant over the i<j pairs of n rows, in row
//                                   strips of kStrip rows against columns [r0, n): TFLOP/s
//                                   (i<j only), pairs/s, candidates, and vs_cuBLAS, the ratio to
//                                   the cuBLAS rate at its precision measured in this process
//   BM_FusedFirstPassBf16 / Int8    the hand-written kernel over the same pairs
// Needs an sm_90 device for the CUTLASS variants (they are built for sm_90a only).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <utility>

#include "chorus/scan/fused_tile.hpp"
#include "chorus/scan/margin.hpp"
#include "chorus/scan/tiling.hpp"
#include "cuda_check.hpp"
#include "gpu_bench_util.hpp"
#include "kernels.hpp"
#if CHORUS_HAVE_CUTLASS
#include "cutlass.hpp"
#endif

namespace {

using namespace chorus;

constexpr std::int64_t kStrip = 16384;                    // rows per CUTLASS strip
constexpr std::int64_t kDenseM = 16384, kDenseW = 65536;  // cuBLAS ceiling shape
constexpr double kThreshold = 0.8;

// cuBLAS's rate (TFLOP/s or TOP/s) per (int8, d), measured before the kernels, for the ratios
std::map<std::pair<bool, std::int64_t>, double> g_cublas;

// n synthetic unit rows of width d on the device (planted near-duplicate groups), as bf16 and as
// int8 with the per-row data of the int8 score ([scale | err | qnorm | rnorm], n each).
struct device_rows {
  std::int64_t n;  // first: the buffers' sizes below are made from it
  cuda::device_buffer<float> f32;
  cuda::device_buffer<std::uint16_t> bf16;
  cuda::device_buffer<std::int8_t> q;
  cuda::device_buffer<float> side;
  device_rows(std::int64_t n_rows, std::int64_t d, cudaStream_t s)
      : n(n_rows),
        f32(static_cast<std::size_t>(n * d)),
        bf16(static_cast<std::size_t>(n * d)),
        q(static_cast<std::size_t>(n * d)),
        side(static_cast<std::size_t>(4 * n)) {
    cuda::device_buffer<double> inv_norm(n);
    cuda::device_buffer<std::uint8_t> valid(n);
    cuda::launch_synthetic_rows(f32.data(), inv_norm.data(), valid.data(), n, d, 42, 1000, 8, s);
    cuda::launch_to_bf16(f32.data(), bf16.data(), n * d, s);
    float* sd = side.data();
    cuda::launch_quantize_rows_int8(f32.data(), n, d, q.data(), sd, sd + n, sd + 2 * n, sd + 3 * n,
                                    s);
    CHORUS_CUDA_TRY(cudaStreamSynchronize(s));  // before inv_norm and valid are freed
  }
  const float* scale() const { return side.data(); }
  const float* err() const { return side.data() + n; }
  const float* qnorm() const { return side.data() + 2 * n; }
  const float* rnorm() const { return side.data() + 3 * n; }
};

float bf16_cut(std::int64_t d) {
  return static_cast<float>(kThreshold - margin::bf16_gemm(d, 1.0 + 1e-5, 4 * margin::kU32));
}
float int8_cut() { return static_cast<float>(kThreshold - margin::kSlack); }

// Dense cuBLAS GEMM of kDenseM x kDenseW x d from the first rows: the ceiling at a precision.
void cublas_ceiling(benchmark::State& state, bool int8) {
  if (!bench::need_gpu(state)) return;
  const std::int64_t n = state.range(0), d = state.range(1);
  const std::int64_t m = std::min(kDenseM, n), w = std::min(kDenseW, n);
  cuda::stream s;
  cuda::blas_handle blas(s.get());
  device_rows x(n, d, s.get());
  cuda::device_buffer<float> c(static_cast<std::size_t>(m * w));  // int32 or fp32, 4 bytes
  const float onef = 1, zerof = 0;
  const std::int32_t onei = 1, zeroi = 0;
  auto once = [&] {
    if (int8)
      CHORUS_CUBLAS_TRY(cublasGemmEx(blas.get(), CUBLAS_OP_T, CUBLAS_OP_N, int(m), int(w), int(d),
                                     &onei, x.q.data(), CUDA_R_8I, int(d), x.q.data(), CUDA_R_8I,
                                     int(d), &zeroi, c.data(), CUDA_R_32I, int(m),
                                     CUBLAS_COMPUTE_32I, CUBLAS_GEMM_DEFAULT));
    else
      CHORUS_CUBLAS_TRY(cublasGemmEx(blas.get(), CUBLAS_OP_T, CUBLAS_OP_N, int(m), int(w), int(d),
                                     &onef, x.bf16.data(), CUDA_R_16BF, int(d), x.bf16.data(),
                                     CUDA_R_16BF, int(d), &zerof, c.data(), CUDA_R_32F, int(m),
                                     CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  };
  once();
  CHORUS_CUDA_TRY(cudaStreamSynchronize(s.get()));
  const double total = bench::time_on_stream(state, s.get(), once);
  const double rate =
      2.0 * double(m) * double(w) * double(d) * double(state.iterations()) / total / 1e12;
  state.counters[int8 ? "TOP/s" : "TFLOP/s"] = rate;
  g_cublas[{int8, d}] = rate;
}

void BM_CublasBf16(benchmark::State& state) { cublas_ceiling(state, false); }
void BM_CublasInt8(benchmark::State& state) { cublas_ceiling(state, true); }

void BM_CutlassFirstPass(benchmark::State& state) {
#if CHORUS_HAVE_CUTLASS
  if (!bench::need_gpu(state)) return;
  const std::int64_t n = state.range(0), d = state.range(1);
  const int variant = static_cast<int>(state.range(2));
  cudaDeviceProp prop{};
  CHORUS_CUDA_TRY(cudaGetDeviceProperties(&prop, 0));
  if (prop.major != 9) {
    state.SkipWithError("the CUTLASS kernels need an sm_90 device");
    return;
  }
  if (d % 64 != 0) {
    state.SkipWithError("d must be a multiple of 64 here");
    return;
  }
  const bool int8 = cuda::cutlass_variant_int8(variant);
  state.SetLabel(cuda::cutlass_variant_name(variant));
  cuda::stream s;
  device_rows x(n, d, s.get());
  cuda::device_buffer<cuda::pair64> cand(1 << 24);
  cuda::device_buffer<unsigned long long> count(1);
  // the first strip has the most columns, hence the largest workspace
  const std::size_t ws_bytes = cuda::cutlass_workspace_bytes(variant, std::min(kStrip, n), n, d);
  cuda::device_buffer<unsigned char> ws(std::max<std::size_t>(ws_bytes, 1));
  cuda::cutlass_strip strip;
  strip.rows = int8 ? static_cast<const void*>(x.q.data()) : x.bf16.data();
  if (int8) {
    strip.scale = x.scale();
    strip.err = x.err();
    strip.qnorm = x.qnorm();
    strip.rnorm = x.rnorm();
  }
  strip.rb = 0;
  strip.re = n;
  strip.n = n;
  strip.ld = d;
  strip.cut = int8 ? int8_cut() : bf16_cut(d);
  bench::report_pairs(
      state, s.get(), n, d, count.data(),
      [&] {
        for (std::int64_t r0 = 0; r0 < n; r0 += kStrip) {
          cuda::cutlass_strip st = strip;
          st.r0 = r0;
          st.m = std::min(kStrip, n - r0);
          st.c0 = r0;
          st.c1 = n;
          cuda::launch_cutlass_strip(variant, st, cand.data(), count.data(), cand.size(), ws.data(),
                                     ws.size(), s.get());
        }
      },
      g_cublas[{int8, d}], int8 ? "TOP/s(i<j)" : "TFLOP/s(i<j)");
#else
  state.SkipWithError("built without CUTLASS (CHORUS_HAVE_CUTLASS)");
#endif
}

void fused_first_pass(benchmark::State& state, bool int8) {
  if (!bench::need_gpu(state)) return;
  const std::int64_t n = state.range(0), d = state.range(1);
  if (fused::padded_k_int8(d) != d || fused::padded_k(d) != d) {
    state.SkipWithError("d must be a multiple of 64 here");
    return;
  }
  cuda::stream s;
  device_rows x(n, d, s.get());
  const std::int64_t nb = tiling::blocks(n, fused::kBM), tiles = fused::trap_tiles(nb, nb);
  cuda::device_buffer<cuda::pair64> cand(1 << 24);
  cuda::device_buffer<unsigned long long> count(1);
  const int grid = cuda::fused_grid(0);
  bench::report_pairs(
      state, s.get(), n, d, count.data(),
      [&] {
        if (int8)
          cuda::launch_fused_tiles_int8(x.q.data(), x.scale(), x.err(), x.qnorm(), x.rnorm(), 0, n,
                                        n, d, 0, tiles, int8_cut(), cand.data(), count.data(),
                                        cand.size(), grid, s.get());
        else
          cuda::launch_fused_tiles(x.bf16.data(), 0, n, n, d, 0, tiles, bf16_cut(d), cand.data(),
                                   count.data(), cand.size(), grid, s.get());
      },
      g_cublas[{int8, d}], int8 ? "TOP/s(i<j)" : "TFLOP/s(i<j)");
}

void BM_FusedFirstPassBf16(benchmark::State& state) { fused_first_pass(state, false); }
void BM_FusedFirstPassInt8(benchmark::State& state) { fused_first_pass(state, true); }

// The widths of the variant table (chorus/scan/cutlass_table.hpp), at a size that keeps the
// sweep to seconds; then the 1M x 384 job.
constexpr std::int64_t kSweepRows = 131072;
const std::int64_t kSweepDims[] = {64, 128, 256, 384, 512, 1024};

// One run per CUTLASS variant (its index is the third argument) and width.
void cutlass_variants(benchmark::internal::Benchmark* b) {
#if CHORUS_HAVE_CUTLASS
  for (std::int64_t d : kSweepDims)
    for (int v = 0; v < chorus::cuda::cutlass_variant_count(); ++v) b->Args({kSweepRows, d, v});
  for (int v = 0; v < chorus::cuda::cutlass_variant_count(); ++v) b->Args({1000000, 384, v});
#else
  b->Args({1000000, 384, 0});
#endif
}
// cuBLAS's ceiling at every width of the sweep and at 1M x 384.
void ceilings(benchmark::internal::Benchmark* b) {
  for (std::int64_t d : kSweepDims) b->Args({kSweepRows, d});
  b->Args({1000000, 384});
}

}  // namespace

BENCHMARK(BM_CublasBf16)->Apply(ceilings)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CublasInt8)->Apply(ceilings)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CutlassFirstPass)
    ->Apply(cutlass_variants)
    ->UseManualTime()
    ->Iterations(3)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_FusedFirstPassBf16)
    ->Args({1000000, 384})
    ->UseManualTime()
    ->Iterations(3)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_FusedFirstPassInt8)
    ->Args({1000000, 384})
    ->UseManualTime()
    ->Iterations(3)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
