// chorus: which CUTLASS 3 kernel variant (kernels/cutlass_*.cu) scores a job on Hopper, by the
// first-pass width K and the precision. The table is a measurement's summary: bench/gpu_check.sh
// (step "cutlass") prints every variant's rate for d in 64..1024 on a device, and the fastest per
// row goes here. Until a device has run it, the entries are the usual choices for these shapes
// (cooperative 128 x 256 tiles for wide rows, ping-pong 64 x 256 for narrow ones), unmeasured.
#pragma once

#include <cstdint>

namespace chorus::cutlass_table {

/// One row: jobs with first-pass width K <= max_k of this precision use `variant`.
struct entry {
  std::int64_t max_k;
  bool int8;
  const char* variant;  ///< a name that cuda::cutlass_variant_name reports
};

/// Rows in increasing max_k per precision; the last row of each has no upper bound.
inline constexpr entry kTable[] = {
    {128, false, "bf16 pingpong 64x256x64"},
    {INT64_MAX, false, "bf16 cooperative 128x256x64"},
    {128, true, "int8 pingpong 64x256x128"},
    {INT64_MAX, true, "int8 cooperative 128x256x128"},
};

/// The variant name for width k (k >= 1) and the precision.
inline const char* variant_for(std::int64_t k, bool int8) {
  for (const entry& e : kTable)
    if (e.int8 == int8 && k <= e.max_k) return e.variant;
  return nullptr;  // unreachable: each precision ends with an unbounded row
}

/// Rows of a CUTLASS unit (a box of the upper triangle, scored by one launch): large enough to
/// fill an H200 many times over, small enough that one column of a box (the smallest split of
/// an overflowing launch) fits the smallest candidate buffer the memory plan allows (16,384).
constexpr std::int64_t kBoxRows = 16384;

}  // namespace chorus::cutlass_table
