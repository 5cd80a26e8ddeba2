// chorus: the fused first pass. bf16 tensor-core tiles (mma.sync m16n8k16, fp32 accumulators in
// registers) of X_I X_J^T over the trapezoid of tiles, threshold tested in the epilogue; only
// candidate pairs leave the kernel. Index arithmetic: chorus/fused_tile.hpp (CPU-tested).
#include <cuda_bf16.h>

#include "chorus/fused_tile.hpp"
#include "chorus/tiling.hpp"
#include "cuda_check.hpp"
#include "kernels.hpp"

namespace chorus::cuda {
namespace {

using namespace chorus::fused;

// 16-byte global -> shared copy that bypasses L1; src_bytes = 0 zero-fills (rows past n).
__device__ __forceinline__ void cp_async16(void* smem, const void* gmem, int src_bytes) {
  const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gmem),
               "r"(src_bytes));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

__device__ __forceinline__ void mma_bf16(float* d, const unsigned* a, const unsigned* b) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
      "{%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

struct stage {
  __nv_bfloat16 a[kBM * kSmemStride];
  __nv_bfloat16 b[kBN * kSmemStride];
};

// Copy K slice [k0, k0 + kBK) of the tile's row block and column block into `st`.
__device__ __forceinline__ void load_stage(stage& st, const __nv_bfloat16* rows, std::int64_t rb,
                                           std::int64_t n, std::int64_t kp, std::int64_t r0,
                                           std::int64_t c0, std::int64_t k0) {
#pragma unroll
  for (int q = 0; q < kChunksPerThread; ++q) {
    int row, k;
    chunk(static_cast<int>(threadIdx.x) + q * kThreads, &row, &k);
    const std::int64_t ra = r0 + row, rbb = c0 + row;
    const __nv_bfloat16* ga = rows + ((ra < n ? ra : rb) - rb) * kp + k0 + k;
    const __nv_bfloat16* gb = rows + ((rbb < n ? rbb : rb) - rb) * kp + k0 + k;
    cp_async16(&st.a[row * kSmemStride + k], ga, ra < n ? 16 : 0);
    cp_async16(&st.b[row * kSmemStride + k], gb, rbb < n ? 16 : 0);
  }
}

// Persistent grid: block b takes tiles t0 + b, t0 + b + gridDim.x, ... of the trapezoid.
__global__ void __launch_bounds__(kThreads)
    fused_kernel(const __nv_bfloat16* __restrict__ rows, std::int64_t rb, std::int64_t re,
                 std::int64_t n, std::int64_t kp, std::int64_t t0, std::int64_t t1, float cut,
                 pair64* out, unsigned long long* count, unsigned long long capacity) {
  __shared__ stage smem[2];
  const int warp = static_cast<int>(threadIdx.x) / 32, lane = static_cast<int>(threadIdx.x) % 32;
  const std::int64_t nbr = tiling::blocks(re - rb, kBM), nbc = tiling::blocks(n - rb, kBN);
  const std::int64_t nk = kp / kBK;
  for (std::int64_t t = t0 + blockIdx.x; t < t1; t += gridDim.x) {
    std::int64_t bi, bj;
    trap_tile(t, nbr, nbc, &bi, &bj);
    const std::int64_t r0 = rb + bi * kBM, c0 = rb + bj * kBN;
    float acc[kFragM][kFragN][4];
#pragma unroll
    for (int mi = 0; mi < kFragM; ++mi)
#pragma unroll
      for (int ni = 0; ni < kFragN; ++ni)
#pragma unroll
        for (int e = 0; e < 4; ++e) acc[mi][ni][e] = 0.0f;

    load_stage(smem[0], rows, rb, n, kp, r0, c0, 0);
    cp_async_commit();
    for (std::int64_t kt = 0; kt < nk; ++kt) {
      if (kt + 1 < nk) {  // the next slice streams in while this one is multiplied
        load_stage(smem[(kt + 1) & 1], rows, rb, n, kp, r0, c0, (kt + 1) * kBK);
        cp_async_commit();
        cp_async_wait<1>();
      } else {
        cp_async_wait<0>();
      }
      __syncthreads();
      const stage& st = smem[kt & 1];
      const unsigned* sa = reinterpret_cast<const unsigned*>(st.a);
      const unsigned* sb = reinterpret_cast<const unsigned*>(st.b);
#pragma unroll
      for (int kk = 0; kk < kBK / 16; ++kk) {
        unsigned af[kFragM][4], bfr[kFragN][2];
#pragma unroll
        for (int mi = 0; mi < kFragM; ++mi)
#pragma unroll
          for (int r = 0; r < 4; ++r) af[mi][r] = sa[a_smem(warp, lane, mi, kk, r) / 2];
#pragma unroll
        for (int ni = 0; ni < kFragN; ++ni)
#pragma unroll
          for (int r = 0; r < 2; ++r) bfr[ni][r] = sb[b_smem(warp, lane, ni, kk, r) / 2];
#pragma unroll
        for (int mi = 0; mi < kFragM; ++mi)
#pragma unroll
          for (int ni = 0; ni < kFragN; ++ni) mma_bf16(acc[mi][ni], af[mi], bfr[ni]);
      }
      __syncthreads();  // the stage is overwritten two slices later
    }

    // Epilogue: candidates i < j, i < re, score >= cut, appended with one atomic per warp hit.
#pragma unroll
    for (int mi = 0; mi < kFragM; ++mi)
#pragma unroll
      for (int ni = 0; ni < kFragN; ++ni)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          int row, col;
          acc_coord(warp, lane, mi, ni, e, &row, &col);
          const std::int64_t i = r0 + row, j = c0 + col;
          const bool hit = i < re && tiling::in_triangle(i, j, n) && acc[mi][ni][e] >= cut;
          const unsigned mask = __ballot_sync(0xffffffffu, hit);
          if (mask == 0) continue;
          const int leader = __ffs(mask) - 1;
          unsigned long long slot0 = 0;
          if (lane == leader)
            slot0 = atomicAdd(count, static_cast<unsigned long long>(__popc(mask)));
          slot0 = __shfl_sync(0xffffffffu, slot0, leader);
          if (hit) {
            const unsigned long long slot = slot0 + __popc(mask & ((1u << lane) - 1u));
            if (slot < capacity) out[slot] = pair64{i, j};
          }
        }
  }
}

}  // namespace

void launch_fused_tiles(const std::uint16_t* rows, std::int64_t rb, std::int64_t re, std::int64_t n,
                        std::int64_t kp, std::int64_t t0, std::int64_t t1, float cut, pair64* out,
                        unsigned long long* count, unsigned long long capacity, int grid,
                        cudaStream_t s) {
  if (t1 <= t0) return;
  CHORUS_EXPECTS(kp % kBK == 0 && kp > 0, "fused kernel: row stride ", kp,
                 " is not a positive multiple of ", kBK);
  const std::int64_t tiles = t1 - t0;
  const unsigned blocks = static_cast<unsigned>(grid > 0 && grid < tiles ? grid : tiles);
  fused_kernel<<<blocks, kThreads, 0, s>>>(reinterpret_cast<const __nv_bfloat16*>(rows), rb, re, n,
                                           kp, t0, t1, cut, out, count, capacity);
  CHORUS_CUDA_CHECK_LAUNCH();
}

int fused_grid(int device) {
  int sms = 0, per_sm = 0;
  CHORUS_CUDA_TRY(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  CHORUS_CUDA_TRY(
      cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, fused_kernel, kThreads, 0));
  return sms * (per_sm > 0 ? per_sm : 1);
}

}  // namespace chorus::cuda
