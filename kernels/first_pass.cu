// chorus: the first-pass rows built on the device from the resident fp32 views, so that only the
// views cross PCIe: the fp32 row (a view's row, or the fused concatenation), zero-padded to the
// kernel's row stride, then bf16 or int8 with its per-row scale and margin bounds. The int8 step
// runs the CPU backend's own code (chorus/scan/quantize.hpp).
#include "chorus/scan/first_pass.hpp"
#include "chorus/scan/quantize.hpp"
#include "cuda_check.hpp"
#include "kernels.hpp"

namespace chorus::cuda {
namespace {

// One element per thread (coalesced): out[r * ld + k] for rows [0, rows).
__global__ void first_pass_rows_kernel(const float* __restrict__ emb, std::int64_t de,
                                       const std::uint8_t* __restrict__ ev,
                                       const float* __restrict__ act, std::int64_t da,
                                       const std::uint8_t* __restrict__ av, int mode, float we,
                                       float wa, std::int64_t rows, std::int64_t ld,
                                       float* __restrict__ out) {
  const std::int64_t total = rows * ld;
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t idx = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
       idx < total; idx += stride) {
    const std::int64_t r = idx / ld, k = idx % ld;
    const float v =
        first_pass_value(static_cast<view_mode>(mode), k, emb ? emb + r * de : nullptr, de,
                         ev && ev[r], act ? act + r * da : nullptr, da, av && av[r], we, wa);
    out[idx] = v;
  }
}

// One row per thread: chorus::quantize_row_int8 and the margin bounds, as the CPU computes them.
__global__ void quantize_rows_kernel(const float* __restrict__ x, std::int64_t rows,
                                     std::int64_t ld, std::int8_t* __restrict__ q,
                                     float* __restrict__ scale, float* __restrict__ err,
                                     float* __restrict__ qnorm, float* __restrict__ rnorm) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t r = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; r < rows;
       r += stride) {
    double e2 = 0, q2 = 0, r2 = 0;
    scale[r] = quantize_row_int8(x + r * ld, ld, q + r * ld, e2, q2, r2);
    int8_row_bounds(e2, q2, r2, &err[r], &qnorm[r], &rnorm[r]);
  }
}

}  // namespace

void launch_first_pass_rows(const float* emb, std::int64_t de, const std::uint8_t* emb_valid,
                            const float* act, std::int64_t da, const std::uint8_t* act_valid,
                            view_mode mode, float we, float wa, std::int64_t rows, std::int64_t ld,
                            float* out, cudaStream_t s) {
  if (rows <= 0) return;
  const int threads = 256;
  const std::int64_t blocks = std::min<std::int64_t>((rows * ld + threads - 1) / threads, 65535);
  first_pass_rows_kernel<<<static_cast<unsigned>(blocks), threads, 0, s>>>(
      emb, de, emb_valid, act, da, act_valid, static_cast<int>(mode), we, wa, rows, ld, out);
  CHORUS_CUDA_CHECK_LAUNCH();
}

void launch_quantize_rows_int8(const float* x, std::int64_t rows, std::int64_t ld, std::int8_t* q,
                               float* scale, float* err, float* qnorm, float* rnorm,
                               cudaStream_t s) {
  if (rows <= 0) return;
  const int threads = 128;
  const std::int64_t blocks = std::min<std::int64_t>((rows + threads - 1) / threads, 65535);
  quantize_rows_kernel<<<static_cast<unsigned>(blocks), threads, 0, s>>>(x, rows, ld, q, scale, err,
                                                                         qnorm, rnorm);
  CHORUS_CUDA_CHECK_LAUNCH();
}

}  // namespace chorus::cuda
