// chorus: fp32 -> bf16 conversion of the first-pass rows.
#include <cuda_bf16.h>

#include "cuda_check.hpp"
#include "kernels.hpp"

namespace chorus::cuda {
namespace {

__global__ void to_bf16_kernel(const float* x, std::uint16_t* y, std::int64_t count) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t k = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; k < count;
       k += stride) {
    const __nv_bfloat16 b = __float2bfloat16_rn(x[k]);
    y[k] = *reinterpret_cast<const std::uint16_t*>(&b);
  }
}

__device__ __forceinline__ float hash_uniform(std::uint64_t seed, std::uint64_t a,
                                              std::uint64_t b) {
  std::uint64_t z = seed ^ (a * 0x9e3779b97f4a7c15ull) ^ (b * 0xc2b2ae3d27d4eb4full);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return static_cast<float>(z >> 40) * (2.0f / 16777216.0f) - 1.0f;  // [-1, 1)
}

// One thread per row: hash values, planted near-duplicates, normalised in float64.
__global__ void synthetic_rows_kernel(float* rows, double* inv_norm, std::uint8_t* valid,
                                      std::int64_t n, std::int64_t d, std::uint64_t seed,
                                      std::int64_t group, std::int64_t planted) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += stride) {
    float* y = rows + i * d;
    const bool member = group > 0 && i % group < planted;
    double s = 0;
    for (std::int64_t k = 0; k < d; ++k) {
      const float v = member ? hash_uniform(seed, ~static_cast<std::uint64_t>(i / group), k) +
                                   0.08f * hash_uniform(seed + 1, i, k)
                             : hash_uniform(seed, i, k);
      y[k] = v;
      s += static_cast<double>(v) * v;
    }
    const double inv = s > 0 ? 1.0 / sqrt(s) : 0.0;
    double s2 = 0;
    for (std::int64_t k = 0; k < d; ++k) {
      y[k] = static_cast<float>(y[k] * inv);
      s2 += static_cast<double>(y[k]) * y[k];
    }
    inv_norm[i] = s2 > 0 ? 1.0 / sqrt(s2) : 0.0;
    valid[i] = s2 > 0;
  }
}

}  // namespace

void launch_synthetic_rows(float* rows, double* inv_norm, std::uint8_t* valid, std::int64_t n,
                           std::int64_t d, std::uint64_t seed, std::int64_t group,
                           std::int64_t planted, cudaStream_t s) {
  if (n <= 0) return;
  const int threads = 128;
  const std::int64_t blocks = std::min<std::int64_t>((n + threads - 1) / threads, 65535);
  synthetic_rows_kernel<<<static_cast<unsigned>(blocks), threads, 0, s>>>(rows, inv_norm, valid, n,
                                                                          d, seed, group, planted);
  CHORUS_CUDA_CHECK_LAUNCH();
}

void launch_to_bf16(const float* x, std::uint16_t* y, std::int64_t count, cudaStream_t s) {
  if (count <= 0) return;
  const int threads = 256;
  const std::int64_t blocks = std::min<std::int64_t>((count + threads - 1) / threads, 65535);
  to_bf16_kernel<<<static_cast<unsigned>(blocks), threads, 0, s>>>(x, y, count);
  CHORUS_CUDA_CHECK_LAUNCH();
}

}  // namespace chorus::cuda
