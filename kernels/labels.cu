// chorus: canonical relabelling of union-find roots on the device, with Thrust.
// Clusters are the components with more than one row, numbered by size descending, ties by
// smallest member row (= the root); rows alone in their component get -1.
#include <thrust/copy.h>
#include <thrust/execution_policy.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/sort.h>

#include "cuda_check.hpp"
#include "kernels.hpp"

namespace chorus::cuda {
namespace {

__global__ void count_kernel(const std::int64_t* roots, std::int64_t n, unsigned long long* count) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += stride)
    atomicAdd(count + roots[i], 1ull);
}

__global__ void id_kernel(const std::int64_t* order, std::int64_t k, std::int64_t* id) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t c = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; c < k;
       c += stride)
    id[order[c]] = c;
}

__global__ void label_kernel(const std::int64_t* roots, const std::int64_t* id, std::int64_t n,
                             std::int64_t* labels) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += stride)
    labels[i] = id[roots[i]];
}

// A root of a component with more than one row.
struct is_cluster_root {
  const std::int64_t* roots;
  const unsigned long long* count;
  __host__ __device__ bool operator()(std::int64_t i) const {
    return roots[i] == i && count[i] > 1;
  }
};

// Size descending, then smallest member row (the root) ascending.
struct by_size_then_row {
  const unsigned long long* count;
  __host__ __device__ bool operator()(std::int64_t a, std::int64_t b) const {
    return count[a] != count[b] ? count[a] > count[b] : a < b;
  }
};

unsigned grid_for(std::int64_t n) {
  return static_cast<unsigned>(
      std::max<std::int64_t>(1, std::min<std::int64_t>((n + 255) / 256, 65535)));
}

}  // namespace

std::int64_t canonical_labels(const std::int64_t* roots, std::int64_t n, std::int64_t* labels,
                              cudaStream_t s) {
  if (n <= 0) return 0;
  device_buffer<unsigned long long> count(n);
  device_buffer<std::int64_t> order(n), id(n);
  CHORUS_CUDA_TRY(cudaMemsetAsync(count.data(), 0, n * sizeof(unsigned long long), s));
  CHORUS_CUDA_TRY(cudaMemsetAsync(id.data(), 0xff, n * sizeof(std::int64_t), s));  // -1
  count_kernel<<<grid_for(n), 256, 0, s>>>(roots, n, count.data());
  CHORUS_CUDA_CHECK_LAUNCH();
  auto policy = thrust::cuda::par.on(s);
  auto end = thrust::copy_if(policy, thrust::counting_iterator<std::int64_t>(0),
                             thrust::counting_iterator<std::int64_t>(n), order.data(),
                             is_cluster_root{roots, count.data()});
  const std::int64_t k = end - order.data();
  thrust::sort(policy, order.data(), order.data() + k, by_size_then_row{count.data()});
  if (k > 0) {
    id_kernel<<<grid_for(k), 256, 0, s>>>(order.data(), k, id.data());
    CHORUS_CUDA_CHECK_LAUNCH();
  }
  label_kernel<<<grid_for(n), 256, 0, s>>>(roots, id.data(), n, labels);
  CHORUS_CUDA_CHECK_LAUNCH();
  CHORUS_CUDA_TRY(cudaStreamSynchronize(s));
  return k;
}

}  // namespace chorus::cuda
