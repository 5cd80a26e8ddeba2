// chorus: threshold a first-pass tile and compact the candidate pairs.
#include "chorus/scan/tiling.hpp"
#include "cuda_check.hpp"
#include "kernels.hpp"
#include "warp_append.cuh"

namespace chorus::cuda {
namespace {

// One thread per tile element, grid-stride; the column-major index keeps loads coalesced.
// Hits leave through warp_append (one atomicAdd per warp).
__global__ void threshold_kernel(const float* tile, std::int64_t m, std::int64_t w, std::int64_t r0,
                                 std::int64_t c0, std::int64_t n, float cut, pair64* out,
                                 unsigned long long* count, unsigned long long capacity) {
  const std::int64_t total = m * w;
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  const unsigned lane = threadIdx.x & 31u;
  // every lane of a warp runs the same number of iterations, so the ballots are well-formed
  const std::int64_t first = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const std::int64_t warp_first = first - lane;
  for (std::int64_t base = warp_first; base < total; base += stride) {
    const std::int64_t k = base + lane;
    bool hit = false;
    std::int64_t i = 0, j = 0;
    if (k < total) {
      const std::int64_t r = k % m, c = k / m;
      i = r0 + r;
      j = c0 + c;
      hit = tiling::in_triangle(i, j, n) && tile[k] >= cut;
    }
    warp_append(hit, pair64{i, j}, out, count, capacity);
  }
}

}  // namespace

void launch_threshold_tile(const float* tile, std::int64_t m, std::int64_t w, std::int64_t r0,
                           std::int64_t c0, std::int64_t n, float cut, pair64* out,
                           unsigned long long* count, unsigned long long capacity, cudaStream_t s) {
  const std::int64_t total = m * w;
  if (total <= 0) return;
  const int threads = 256;
  const std::int64_t blocks = std::min<std::int64_t>((total + threads - 1) / threads, 8192);
  threshold_kernel<<<static_cast<unsigned>(blocks), threads, 0, s>>>(tile, m, w, r0, c0, n, cut,
                                                                     out, count, capacity);
  CHORUS_CUDA_CHECK_LAUNCH();
}

}  // namespace chorus::cuda
