// chorus: the arithmetic of the CUTLASS epilogue node (kernels/cutlass_epilogue.cuh), shared by
// host and device so that the CPU tests check what the Hopper kernel runs: the strip's place of
// an accumulator, the candidate test, the int8 score and the warp-aggregated append order.
#pragma once

#include <cstdint>

#include "chorus/core/hd.hpp"
#include "chorus/scan/margin.hpp"

namespace chorus::cutlass_node {

/// One strip of the upper triangle as the node sees it: GEMM rows [0, m) are rows r0 + local,
/// GEMM columns [0, cols) are rows c0 + local; pairs count when i < j, i < re and j < n.
struct strip_window {
  std::int64_t r0 = 0, c0 = 0, re = 0, n = 0;
  std::int64_t m = 0, cols = 0;
};

/// The strip-local index of an accumulator from CUTLASS's epilogue coordinates: `rel` is its
/// coordinate relative to the thread's first element and `residue` = extent - (that element's
/// local index), so local = extent - residue + rel.
CHORUS_HD std::int64_t local_index(std::int64_t extent, std::int64_t residue, std::int64_t rel) {
  return extent - residue + rel;
}

/// Whether the accumulator at strip-local (lm, ln) is a pair to test: inside the GEMM (not
/// residue padding of a partial tile), and global i = r0 + lm, j = c0 + ln with i < j, i < re,
/// j < n.
CHORUS_HD bool strip_pair(const strip_window& w, std::int64_t lm, std::int64_t ln) {
  if (lm < 0 || ln < 0 || lm >= w.m || ln >= w.cols) return false;
  const std::int64_t i = w.r0 + lm, j = w.c0 + ln;
  return i < j && i < w.re && j < w.n;
}

/// The same test in the form the kernel runs per accumulator: 32-bit compares of a thread's
/// relative coordinates (rm, rn), compile-time constants after unrolling, against bounds set
/// once per tile from the strip-local index (base_m, base_n) of the thread's first element.
struct thread_limits {
  int m_lim = 0, n_lim = 0;  // rm < m_lim, rn < n_lim
  int diag = 0;              // rm - rn < diag  (i < j)
};

/// Clamp to [lo, hi] in 64 bits.
CHORUS_HD std::int64_t clamp64(std::int64_t x, std::int64_t lo, std::int64_t hi) {
  return x < lo ? lo : (x > hi ? hi : x);
}

/// The bounds of thread_pair for a thread whose first element is strip-local (base_m, base_n).
/// Relative coordinates are tile-sized (|rm - rn| < 2^16), so clamping the bounds to +-2^30
/// keeps every comparison's result.
CHORUS_HD thread_limits thread_limits_of(const strip_window& w, std::int64_t base_m,
                                         std::int64_t base_n) {
  constexpr std::int64_t kBig = std::int64_t{1} << 30;
  const std::int64_t rows = w.m < w.re - w.r0 ? w.m : w.re - w.r0;      // i < r0 + m and i < re
  const std::int64_t cols = w.cols < w.n - w.c0 ? w.cols : w.n - w.c0;  // j < c0 + cols, j < n
  thread_limits t;
  t.m_lim = static_cast<int>(clamp64(rows - base_m, 0, kBig));
  t.n_lim = static_cast<int>(clamp64(cols - base_n, 0, kBig));
  t.diag = static_cast<int>(clamp64((w.c0 + base_n) - (w.r0 + base_m), -kBig, kBig));
  return t;
}

/// strip_pair(w, base_m + rm, base_n + rn) for rm, rn >= 0, from thread_limits_of(w, base_m,
/// base_n).
CHORUS_HD bool thread_pair(const thread_limits& t, int rm, int rn) {
  return rm < t.m_lim && rn < t.n_lim && rm - rn < t.diag;
}

/// Per-row data of row i (the GEMM's M side) for the int8 score.
struct row_side {
  float scale = 0, rnorm = 0, err = 0;
};
/// Per-row data of row j (the GEMM's N side) for the int8 score.
struct col_side {
  float scale = 0, err = 0, qnorm = 0;
};

/// The int8 score of the pair whose int32 dot is `dot` (chorus::margin::int8_score, the same
/// arithmetic as the CPU epilogue and the hand-written kernel).
CHORUS_HD float int8_pair_score(std::int32_t dot, const row_side& r, const col_side& c) {
  return margin::int8_score(dot, r.scale, c.scale, r.rnorm, r.err, c.err, c.qnorm);
}

/// Number of set bits.
CHORUS_HD int popcount32(std::uint32_t x) {
#if defined(__CUDA_ARCH__)
  return __popc(x);
#else
  return __builtin_popcount(x);
#endif
}

/// Warp-aggregated append: the lane that reserves the slots for the hits `mask` (a ballot over
/// the lanes taking part, bit = lane): the lowest hitting lane. `mask` must be non-zero.
CHORUS_HD int append_leader(std::uint32_t mask) {
#if defined(__CUDA_ARCH__)
  return __ffs(mask) - 1;
#else
  return __builtin_ctz(mask);
#endif
}

/// The slot offset of hitting lane `lane` among the hits `mask`: the hits of lower lanes.
CHORUS_HD int append_rank(std::uint32_t mask, int lane) {
  return popcount32(mask & ((1u << lane) - 1u));
}

/// Bits of a lane's hit count (0..32) a warp gathers with one ballot each: six bit-planes.
constexpr int kCountPlanes = 6;

/// One atomic per warp and fragment: each converged lane has `cnt` hits; plane b is the ballot
/// of bit b of the lanes' counts (bit = lane). The lane's first slot is the sum of the counts of
/// the lower lanes, taken from the planes, and the warp reserves count_total slots at once.
CHORUS_HD int count_prefix(const std::uint32_t (&planes)[kCountPlanes], int lane) {
  int s = 0;
  for (int b = 0; b < kCountPlanes; ++b) s += popcount32(planes[b] & ((1u << lane) - 1u)) << b;
  return s;
}
/// The hits of the whole warp (all converged lanes).
CHORUS_HD int count_total(const std::uint32_t (&planes)[kCountPlanes]) {
  int s = 0;
  for (int b = 0; b < kCountPlanes; ++b) s += popcount32(planes[b]) << b;
  return s;
}

/// Why a strip cannot run on the CUTLASS kernel (nullptr when it can): rows [r0, r0 + m) and
/// [c0, c1) must lie in the first-pass rows [rb, n) with r0 < re <= n, the GEMM extents must fit
/// CUTLASS's 32-bit problem shape (2^30 here), and `ld` must be a positive multiple of 64 elements.
inline const char* strip_problem(std::int64_t rb, std::int64_t re, std::int64_t n, std::int64_t ld,
                                 std::int64_t r0, std::int64_t m, std::int64_t c0,
                                 std::int64_t c1) {
  constexpr std::int64_t kMaxExtent = std::int64_t{1} << 30;  // keeps tile arithmetic in int
  if (ld <= 0 || ld % 64 != 0) return "row stride ld must be a positive multiple of 64";
  if (ld > kMaxExtent) return "row stride ld exceeds 2^30";
  if (m <= 0 || c1 <= c0) return "empty strip (m <= 0 or c1 <= c0)";
  if (m > kMaxExtent || c1 - c0 > kMaxExtent) return "strip extent exceeds 2^30 rows";
  if (rb < 0 || re > n || rb > re) return "rows [rb, re) must lie in [0, n)";
  if (r0 < rb || r0 + m > n) return "strip rows [r0, r0 + m) must lie in [rb, n)";
  if (c0 < rb || c1 > n) return "strip columns [c0, c1) must lie in [rb, n)";
  return nullptr;
}

}  // namespace chorus::cutlass_node
