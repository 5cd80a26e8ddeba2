// chorus: exact float64 re-check of candidate pairs, edge output and union-find hooking.
#include <math_constants.h>

#include "chorus/graph/union_find.hpp"
#include "cuda_check.hpp"
#include "kernels.hpp"

namespace chorus::cuda {
namespace {

// Float64 dot of two fp32 rows by one warp; every lane returns lane 0's total.
__device__ double warp_dot(const float* a, const float* b, std::int64_t d, unsigned lane) {
  double s = 0;
  for (std::int64_t k = lane; k < d; k += 32) s += static_cast<double>(a[k]) * b[k];
  for (int off = 16; off > 0; off >>= 1) s += __shfl_down_sync(0xffffffffu, s, off);
  return __shfl_sync(0xffffffffu, s, 0);  // lane 0's sum, so every lane decides alike
}

// Exact similarity of global rows i (in block vi) and j (in block vj).
__device__ double similarity(const device_view& vi, const device_view& vj, std::int64_t i,
                             std::int64_t j, unsigned lane) {
  const std::int64_t a = i - vi.row0, b = j - vj.row0;
  // the CPU's rule (symmetric in the rows, clamped to [-1, 1])
  return cosine_of(warp_dot(vi.rows + a * vi.d, vj.rows + b * vj.d, vi.d, lane), vi.inv_norm[a],
                   vj.inv_norm[b]);
}

// One warp per candidate.
// With `counted`, the candidates are the first min(*counted, ncand): the count the first pass
// left on the device, so that no host round trip sits between the two kernels.
__global__ void recheck_kernel(const pair64* cand, std::int64_t ncand,
                               const unsigned long long* counted, device_view ei, device_view ej,
                               device_view ai, device_view aj, decision_params p, edge* edges,
                               unsigned long long* nedges, std::int64_t* parent) {
  const unsigned lane = threadIdx.x & 31u;
  if (counted && *counted < static_cast<unsigned long long>(ncand))
    ncand = static_cast<std::int64_t>(*counted);
  const std::int64_t warps = static_cast<std::int64_t>(gridDim.x) * (blockDim.x / 32);
  for (std::int64_t c = (static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
       c < ncand; c += warps) {
    const std::int64_t i = cand[c].i, j = cand[c].j;
    double se = CUDART_NAN, sa = CUDART_NAN;
    // every lane takes the same branches: validity is per pair, similarities are lane 0's
    if (!decide_pair(
            p, [&] { return ei.valid[i - ei.row0] && ej.valid[j - ej.row0]; },
            [&] { return similarity(ei, ej, i, j, lane); },
            [&] { return ai.valid[i - ai.row0] && aj.valid[j - aj.row0]; },
            [&] { return similarity(ai, aj, i, j, lane); }, &se, &sa))
      continue;
    if (lane == 0) {
      const unsigned long long slot = atomicAdd(nedges, 1ull);
      edges[slot] = edge{i, j, static_cast<float>(se), static_cast<float>(sa)};
      uf::unite(parent, i, j);
    }
  }
}

}  // namespace

void launch_recheck(const pair64* cand, std::int64_t ncand, device_view emb_i, device_view emb_j,
                    device_view act_i, device_view act_j, decision_params params, edge* edges,
                    unsigned long long* nedges, std::int64_t* parent, cudaStream_t s) {
  if (ncand <= 0) return;
  const int threads = 256;
  const std::int64_t blocks = std::min<std::int64_t>((ncand * 32 + threads - 1) / threads, 65535);
  recheck_kernel<<<static_cast<unsigned>(blocks), threads, 0, s>>>(
      cand, ncand, nullptr, emb_i, emb_j, act_i, act_j, params, edges, nedges, parent);
  CHORUS_CUDA_CHECK_LAUNCH();
}

void launch_recheck_counted(const pair64* cand, const unsigned long long* counted,
                            std::int64_t capacity, device_view emb_i, device_view emb_j,
                            device_view act_i, device_view act_j, decision_params params,
                            edge* edges, unsigned long long* nedges, std::int64_t* parent,
                            cudaStream_t s) {
  if (capacity <= 0) return;
  const int threads = 256;  // 8 warps, one candidate each per step of the grid-stride loop
  const std::int64_t blocks = std::min<std::int64_t>((capacity * 32 + threads - 1) / threads, 4096);
  recheck_kernel<<<static_cast<unsigned>(blocks), threads, 0, s>>>(
      cand, capacity, counted, emb_i, emb_j, act_i, act_j, params, edges, nedges, parent);
  CHORUS_CUDA_CHECK_LAUNCH();
}

}  // namespace chorus::cuda
