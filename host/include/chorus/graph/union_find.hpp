// chorus: union-find steps shared by the CPU backend and the GPU kernels.
//
// Rule: the larger root is hooked onto the smaller one, so a component's final root is its
// smallest row, whatever the order in which edges arrive (canonical for any thread count,
// tile size or backend). The parent array is shared between threads: every access is atomic.
#pragma once

#include <cstdint>

#include "chorus/core/hd.hpp"

#if defined(__CUDACC__)
#include <cuda/atomic>
#endif

namespace chorus::uf {

#if defined(__CUDA_ARCH__)
CHORUS_HD std::int64_t load(const std::int64_t* p, std::int64_t i) {
  return cuda::atomic_ref<const std::int64_t, cuda::thread_scope_device>(p[i]).load(
      cuda::memory_order_relaxed);
}
CHORUS_HD void store(std::int64_t* p, std::int64_t i, std::int64_t v) {
  cuda::atomic_ref<std::int64_t, cuda::thread_scope_device>(p[i]).store(v,
                                                                        cuda::memory_order_relaxed);
}
CHORUS_HD bool cas(std::int64_t* p, std::int64_t i, std::int64_t expected, std::int64_t desired) {
  return cuda::atomic_ref<std::int64_t, cuda::thread_scope_device>(p[i]).compare_exchange_strong(
      expected, desired, cuda::memory_order_relaxed);
}
#else
inline std::int64_t load(const std::int64_t* p, std::int64_t i) {
  return __atomic_load_n(p + i, __ATOMIC_RELAXED);
}
inline void store(std::int64_t* p, std::int64_t i, std::int64_t v) {
  __atomic_store_n(p + i, v, __ATOMIC_RELAXED);
}
inline bool cas(std::int64_t* p, std::int64_t i, std::int64_t expected, std::int64_t desired) {
  return __atomic_compare_exchange_n(p + i, &expected, desired, false, __ATOMIC_RELAXED,
                                     __ATOMIC_RELAXED);
}
#endif

/// Root of x, with path halving done by CAS (a failed CAS only means another thread helped).
CHORUS_HD std::int64_t find(std::int64_t* parent, std::int64_t x) {
  std::int64_t p = load(parent, x);
  while (p != x) {
    std::int64_t gp = load(parent, p);
    if (gp != p) cas(parent, x, p, gp);
    x = p;
    p = load(parent, x);
  }
  return x;
}

/// Union the sets of a and b, hooking the larger root onto the smaller. Lock-free.
CHORUS_HD void unite(std::int64_t* parent, std::int64_t a, std::int64_t b) {
  for (;;) {
    std::int64_t ra = find(parent, a), rb = find(parent, b);
    if (ra == rb) return;
    if (ra < rb) {
      std::int64_t t = ra;
      ra = rb;
      rb = t;
    }
    // ra > rb: hook ra under rb, only if ra is still a root
    if (cas(parent, ra, ra, rb)) return;
    a = ra;
    b = rb;
  }
}

}  // namespace chorus::uf
