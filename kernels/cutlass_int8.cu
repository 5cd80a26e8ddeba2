// chorus: the int8 variants of the Hopper first pass on CUTLASS 3 (sm_90a): s8 x s8 -> s32 wgmma
// (both operands K-major) with TMA loads, cooperative and pingpong warp-specialised schedules,
// and the threshold node of cutlass_epilogue.cuh scoring each exact int32 dot with the per-pair
// margin (chorus::margin::int8_score). One precision per file (build cost).

// CUTLASS's device-side asserts become calls to __assertfail, and any call inside the kernel
// makes ptxas serialise its wgmma pipeline (warning C7510): compiled out in every build type.
#ifndef NDEBUG
#define NDEBUG 1
#endif

#include "cutlass_epilogue.cuh"

namespace chorus::cuda::cutlass_detail {

namespace {

using namespace cute;
namespace epi = cutlass::epilogue;
namespace gemm = cutlass::gemm;

// 2: two consumer warpgroups share a 128 x 256 tile; 3: each consumer warpgroup owns a 64 x 256
// tile. K slices of 128 int8 = 128 bytes, the TMA swizzle width.
using Cooperative = cutlass_epi::strip_gemm<std::int8_t, std::int32_t, Shape<_128, _256, _128>,
                                            gemm::KernelTmaWarpSpecializedCooperative,
                                            epi::TmaWarpSpecializedCooperative>;
using Pingpong =
    cutlass_epi::strip_gemm<std::int8_t, std::int32_t, Shape<_64, _256, _128>,
                            gemm::KernelTmaWarpSpecializedPingpong, epi::TmaWarpSpecialized>;

}  // namespace

/// int8 variant `which` (0 cooperative, 1 pingpong) over one strip.
void launch_int8(int which, const cutlass_strip& s, pair64* out, unsigned long long* count,
                 unsigned long long capacity, void* ws, std::size_t ws_bytes, cudaStream_t st) {
  if (which == 0)
    Cooperative::launch(s, out, count, capacity, ws, ws_bytes, st);
  else
    Pingpong::launch(s, out, count, capacity, ws, ws_bytes, st);
}

/// Workspace of int8 variant `which`.
std::size_t workspace_int8(int which, std::int64_t m, std::int64_t cols, std::int64_t ld) {
  return which == 0 ? Cooperative::workspace(m, cols, ld) : Pingpong::workspace(m, cols, ld);
}

/// Shared memory of int8 variant `which` (bytes).
int smem_int8(int which) {
  return which == 0 ? cutlass_epi::kernel_smem_bytes<Cooperative>()
                    : cutlass_epi::kernel_smem_bytes<Pingpong>();
}

}  // namespace chorus::cuda::cutlass_detail
