// chorus: the Hopper first pass on CUTLASS 3 (host header). TMA loads and warp-specialised wgmma
// pipelines from CUTLASS's sm90 collectives, with a custom epilogue node that tests the threshold
// (and, for int8, the per-pair margin) on every accumulator and appends only candidate pairs.
// Built for sm_90a when the pinned CUTLASS headers were found (CHORUS_HAVE_CUTLASS); the
// hand-written kernel (kernels/fused.cu) serves sm_80 and is the fallback.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "kernels.hpp"

namespace chorus::cuda {

/// The CUTLASS kernel variants compiled (tile shape and schedule), numbered 0..count-1.
int cutlass_variant_count();
/// Its name, e.g. "cooperative 128x256x64" (for stats.detail and gpu_check's table).
const char* cutlass_variant_name(int variant);
/// Whether variant `variant` serves int8 (else bf16).
bool cutlass_variant_int8(int variant);

/// One strip of the upper triangle: rows [r0, r0 + m) against columns [c0, c1) of the first-pass
/// rows [rb, n) (row i at (i - rb) * ld elements, ld a multiple of 64, zero-padded past K).
/// Appends every pair (i, j) with i < j, i < re, j < n and score >= cut to `out`; `count`
/// receives the number of such pairs even past `capacity` (pairs past it are not written), as
/// launch_fused_tiles does. bf16 variants: the score is the fp32 accumulator and `cut` has the
/// bf16 margin folded in. int8 variants: the score is chorus::margin::int8_score of the int32
/// accumulator with the per-row `scale`, `err`, `qnorm`, `rnorm` (indexed by row - rb).
/// `workspace` holds at least cutlass_workspace_bytes(variant, m, c1 - c0, ld) bytes.
struct cutlass_strip {
  const void* rows = nullptr;  ///< std::uint16_t (bf16) or std::int8_t rows
  const float *scale = nullptr, *err = nullptr, *qnorm = nullptr, *rnorm = nullptr;  ///< int8
  std::int64_t rb = 0, re = 0, n = 0, ld = 0;
  std::int64_t r0 = 0, m = 0, c0 = 0, c1 = 0;
  float cut = 0;
};
void launch_cutlass_strip(int variant, const cutlass_strip& strip, pair64* out,
                          unsigned long long* count, unsigned long long capacity, void* workspace,
                          std::size_t workspace_bytes, cudaStream_t s);
/// Device workspace the variant needs for a strip of m rows by `cols` columns and row stride ld.
std::size_t cutlass_workspace_bytes(int variant, std::int64_t m, std::int64_t cols,
                                    std::int64_t ld);

}  // namespace chorus::cuda
