// chorus: warp-aggregated append of candidate pairs (device code shared by the first-pass
// kernels).
#pragma once

#include "kernels.hpp"

namespace chorus::cuda {

/// Append `p` to `out` where `hit`, with one atomicAdd per warp: the warp counts its hits with a
/// ballot, one lane reserves the slots and the others take theirs by rank. Every lane of the
/// warp must call it (the ballot is full-warp). `count` grows past `capacity`; pairs past it are
/// not written, so the caller can re-run with a buffer of the exact size.
__device__ __forceinline__ void warp_append(bool hit, pair64 p, pair64* out,
                                            unsigned long long* count,
                                            unsigned long long capacity) {
  const unsigned lane = threadIdx.x & 31u;
  const unsigned mask = __ballot_sync(0xffffffffu, hit);
  if (mask == 0) return;
  const int leader = __ffs(mask) - 1;
  unsigned long long slot0 = 0;
  if (static_cast<int>(lane) == leader)
    slot0 = atomicAdd(count, static_cast<unsigned long long>(__popc(mask)));
  slot0 = __shfl_sync(0xffffffffu, slot0, leader);
  if (hit) {
    const unsigned long long slot = slot0 + __popc(mask & ((1u << lane) - 1u));
    if (slot < capacity) out[slot] = p;
  }
}

}  // namespace chorus::cuda
