// chorus: union-find initialisation and the final flatten on the device.
#include "chorus/graph/union_find.hpp"
#include "cuda_check.hpp"
#include "kernels.hpp"

namespace chorus::cuda {
namespace {

__global__ void init_kernel(std::int64_t* parent, std::int64_t n) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += stride)
    parent[i] = i;
}

// Pointer jumping to the root; roots never change during the flatten, so one pass suffices.
__global__ void flatten_kernel(std::int64_t* parent, std::int64_t n) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += stride) {
    const std::int64_t r = uf::find(parent, i);
    uf::store(parent, i, r);
  }
}

__global__ void unite_kernel(const edge* edges, std::int64_t m, std::int64_t* parent) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t e = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < m;
       e += stride)
    uf::unite(parent, edges[e].src, edges[e].dst);
}

unsigned grid_for(std::int64_t n, int threads) {
  return static_cast<unsigned>(std::min<std::int64_t>((n + threads - 1) / threads, 65535));
}

}  // namespace

void launch_uf_init(std::int64_t* parent, std::int64_t n, cudaStream_t s) {
  if (n <= 0) return;
  init_kernel<<<grid_for(n, 256), 256, 0, s>>>(parent, n);
  CHORUS_CUDA_CHECK_LAUNCH();
}

void launch_uf_unite_edges(const edge* edges, std::int64_t m, std::int64_t* parent,
                           cudaStream_t s) {
  if (m <= 0) return;
  unite_kernel<<<grid_for(m, 256), 256, 0, s>>>(edges, m, parent);
  CHORUS_CUDA_CHECK_LAUNCH();
}

void launch_uf_flatten(std::int64_t* parent, std::int64_t n, cudaStream_t s) {
  if (n <= 0) return;
  flatten_kernel<<<grid_for(n, 256), 256, 0, s>>>(parent, n);
  CHORUS_CUDA_CHECK_LAUNCH();
}

}  // namespace chorus::cuda
