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

}  // namespace

void launch_to_bf16(const float* x, std::uint16_t* y, std::int64_t count, cudaStream_t s) {
  if (count <= 0) return;
  const int threads = 256;
  const std::int64_t blocks = std::min<std::int64_t>((count + threads - 1) / threads, 65535);
  to_bf16_kernel<<<static_cast<unsigned>(blocks), threads, 0, s>>>(x, y, count);
  CHORUS_CUDA_CHECK_LAUNCH();
}

}  // namespace chorus::cuda
