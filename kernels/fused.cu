// chorus: the fused first pass. bf16 tensor-core tiles (mma.sync m16n8k16, fp32 accumulators in
// registers) of X_I X_J^T over the trapezoid of tiles, threshold tested in the epilogue; only
// candidate pairs leave the kernel. Index arithmetic: chorus/scan/fused_tile.hpp (CPU-tested).
#include <cuda_bf16.h>

#include <type_traits>

#include "chorus/scan/fused_tile.hpp"
#include "chorus/scan/margin.hpp"
#include "chorus/scan/tiling.hpp"
#include "cuda_check.hpp"
#include "kernels.hpp"
#include "warp_append.cuh"

namespace chorus::cuda {
namespace {

using namespace chorus::fused;

// 16-byte global -> shared copy that bypasses L1; src_bytes = 0 zero-fills (rows past n).
__device__ __forceinline__ void cp_async16(unsigned s, const void* gmem, int src_bytes) {
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

__device__ __forceinline__ void mma_s8(int* d, const unsigned* a, const unsigned* b) {
  asm volatile(
      "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
      "{%8,%9}, {%0,%1,%2,%3};\n"
      : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

// ldmatrix.x4 (four 8x8 b16 matrices; see chorus/scan/fused_tile.hpp for who gets what).
__device__ __forceinline__ void ldsm_x4(unsigned* r, unsigned addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}

// The thread's index, read afresh where called: values derived from it are not hoisted out of
// the tile loop (they would stay live, and spill, across the main loop).
__device__ __forceinline__ int thread_index() {
  int t;
  asm volatile("mov.u32 %0, %%tid.x;\n" : "=r"(t));
  return t;
}

// Per-row data of the int8 epilogue (chorus::margin::int8_score), indexed by row - rb.
struct int8_rows {
  const float* __restrict__ scale = nullptr;
  const float* __restrict__ err = nullptr;
  const float* __restrict__ qnorm = nullptr;
  const float* __restrict__ rnorm = nullptr;
};

// The tile's place and the problem: rows [rb, re) x columns [rb, n), `ld` bytes a row.
struct tile_args {
  const unsigned char* __restrict__ rows;
  std::int64_t rb, re, n, ld;
};

// Device side of chorus::fused::k_pipeline for one tile at (r0, c0): cp.async copies into the
// stage ring at shared address `sbase`, ldmatrix fragments and warp MMAs into `acc`.
template <bool kInt8, typename Acc>
struct tile_ops {
  const tile_args& g;
  std::int64_t r0, c0;
  unsigned sbase;  // shared-memory address of stage 0
  int tid;
  Acc (&acc)[kFragM][kFragN][4];

  // Bytes [slice * kStageBytes, + kStageBytes) of the row block and column block into `stage`;
  // rows at or past n are zero-filled (their source clamped to row rb, which exists).
  __device__ __forceinline__ void load(std::int64_t slice, int stage) const {
    const std::int64_t k0 = slice * kStageBytes;
    const unsigned sa = sbase + static_cast<unsigned>(stage * kStageSmem), sb = sa + kOperandBytes;
#pragma unroll
    for (int q = 0; q < kChunksPerThread; ++q) {
      int row, k;
      chunk(tid + q * kThreads, &row, &k);
      const int kb = 2 * k;  // chunk offsets are in bf16 units
      const std::int64_t ra = r0 + row, rc = c0 + row;
      const unsigned char* ga = g.rows + ((ra < g.n ? ra : g.rb) - g.rb) * g.ld + k0 + kb;
      const unsigned char* gb = g.rows + ((rc < g.n ? rc : g.rb) - g.rb) * g.ld + k0 + kb;
      const unsigned off = static_cast<unsigned>(smem_offset(row, kb));
      cp_async16(sa + off, ga, ra < g.n ? 16 : 0);
      cp_async16(sb + off, gb, rc < g.n ? 16 : 0);
    }
  }
  __device__ __forceinline__ void commit() const { cp_async_commit(); }
  __device__ __forceinline__ void wait() const { cp_async_wait<kPendingGroups>(); }
  __device__ __forceinline__ void sync() const { __syncthreads(); }

  // The warp's MMAs over one stage: per K step, one ldmatrix.x4 per A fragment and one per two
  // B fragments.
  __device__ __forceinline__ void compute(int stage) const {
    const unsigned sa = sbase + static_cast<unsigned>(stage * kStageSmem), sb = sa + kOperandBytes;
    const int warp = tid / 32, lane = tid % 32;
#pragma unroll
    for (int kk = 0; kk < kBK / 16; ++kk) {
      unsigned af[kFragM][4], bfr[kFragN][2];
#pragma unroll
      for (int mi = 0; mi < kFragM; ++mi)
        ldsm_x4(af[mi], sa + static_cast<unsigned>(ldsm_a_addr(warp, lane, mi, kk)));
#pragma unroll
      for (int np = 0; np < kFragN / 2; ++np)
        ldsm_x4(&bfr[2 * np][0], sb + static_cast<unsigned>(ldsm_b_addr(warp, lane, np, kk)));
#pragma unroll
      for (int mi = 0; mi < kFragM; ++mi)
#pragma unroll
        for (int ni = 0; ni < kFragN; ++ni) {
          if constexpr (kInt8)
            mma_s8(acc[mi][ni], af[mi], bfr[ni]);
          else
            mma_bf16(acc[mi][ni], af[mi], bfr[ni]);
        }
    }
  }
};

// int8: the tile's per-row data (chorus::margin::int8_score), read from global memory once per
// tile by the block (one row or column per thread, __ldg) into shared memory `epi`: rows hold
// scale, norm, error; columns scale, error, quantised norm. Rows and columns at or past n read
// row n - 1 (row_index); the epilogue masks those pairs.
__device__ __forceinline__ void stage_rows(const tile_args& g, std::int64_t r0, std::int64_t c0,
                                           int tid, const int8_rows& q8, float4* epi) {
  const epi_data d = epi_stage(tid, r0, c0, g.rb, g.n, q8.scale, q8.err, q8.qnorm, q8.rnorm,
                               [](const float* p, std::int64_t a) { return __ldg(p + a); });
  epi[tid] = make_float4(d.v0, d.v1, d.v2, 0.0f);
  __syncthreads();  // (the stage ring's last reader was this tile's final barrier)
}

// Epilogue: candidates i < j, i < re, score >= cut, appended with one atomic per warp hit. int8
// lanes take their rows' data from `epi` per fragment mi, their columns' per fragment ni.
template <bool kInt8, typename Acc>
__device__ __forceinline__ void epilogue(const Acc (&acc)[kFragM][kFragN][4], const tile_args& g,
                                         std::int64_t r0, std::int64_t c0, float cut,
                                         const int8_rows& q8, float4* epi, pair64* out,
                                         unsigned long long* count, unsigned long long capacity) {
  const int tid = thread_index(), warp = tid / 32, lane = tid % 32;
  if constexpr (kInt8) stage_rows(g, r0, c0, tid, q8, epi);
  const tile_limits lim = tile_limits_of(r0, c0, g.re, g.n);
#pragma unroll
  for (int mi = 0; mi < kFragM; ++mi) {
    float4 rw[2];
    if constexpr (kInt8)
      for (int h = 0; h < 2; ++h) rw[h] = epi[epi_row(warp, lane, mi, h)];
#pragma unroll
    for (int ni = 0; ni < kFragN; ++ni) {
      float4 cl[2];
      if constexpr (kInt8)
        for (int c = 0; c < 2; ++c) cl[c] = epi[kBM + epi_col(warp, lane, ni, c)];
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int row = epi_row(warp, lane, mi, e >> 1), col = epi_col(warp, lane, ni, e & 1);
        bool hit = tile_pair(lim, row, col);
        if constexpr (kInt8) {
          const float4 &r = rw[e >> 1], &c = cl[e & 1];
          hit = hit &&
                epi_score(acc[mi][ni][e], epi_data{r.x, r.y, r.z}, epi_data{c.x, c.y, c.z}) >= cut;
        } else {
          hit = hit && acc[mi][ni][e] >= cut;
        }
        warp_append(hit, pair64{r0 + row, c0 + col}, out, count, capacity);
      }
    }
  }
}

// Persistent grid: block b takes tiles t0 + b, t0 + b + gridDim.x, ... of the trapezoid.
// kInt8: int8 rows with per-row scales (mma m16n8k32.s8, int32 accumulators, per-pair margin);
// else bf16 rows (mma m16n8k16.bf16, fp32 accumulators, the margin folded into `cut`). `ld`:
// bytes per row. Dynamic shared memory: kSmemBytes (the stage ring).
template <bool kInt8>
__global__ void __launch_bounds__(kThreads, 2)
    fused_kernel(tile_args g, std::int64_t t0, std::int64_t t1, float cut, int8_rows q8,
                 pair64* out, unsigned long long* count, unsigned long long capacity) {
  using acc_t = typename std::conditional<kInt8, int, float>::type;
  extern __shared__ __align__(128) unsigned char smem[];
  const unsigned sbase = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  const std::int64_t nbr = tiling::blocks(g.re - g.rb, kBM);
  const std::int64_t nk = g.ld / kStageBytes;
  for (std::int64_t t = t0 + blockIdx.x; t < t1; t += gridDim.x) {
    std::int64_t bi, bj;
    col_tile(t, nbr, &bi, &bj);  // column order: early tiles need early rows only
    const std::int64_t r0 = g.rb + bi * kBM, c0 = g.rb + bj * kBN;
    acc_t acc[kFragM][kFragN][4];
#pragma unroll
    for (int mi = 0; mi < kFragM; ++mi)
#pragma unroll
      for (int ni = 0; ni < kFragN; ++ni)
#pragma unroll
        for (int e = 0; e < 4; ++e) acc[mi][ni][e] = 0;
    const int tid = thread_index();  // per tile: lane-derived offsets are not live across tiles
    tile_ops<kInt8, acc_t> ops{g, r0, c0, sbase, tid, acc};
    k_pipeline(nk, ops);
    epilogue<kInt8>(acc, g, r0, c0, cut, q8, reinterpret_cast<float4*>(smem + kRingBytes), out,
                    count, capacity);
  }
}

// Opt in to more than 48 KiB of dynamic shared memory, and prefer shared memory over L1 so
// that two blocks fit on a multiprocessor.
template <bool kInt8>
void configure_fused_kernel() {
  CHORUS_CUDA_TRY(cudaFuncSetAttribute(fused_kernel<kInt8>,
                                       cudaFuncAttributeMaxDynamicSharedMemorySize, kSmemBytes));
  CHORUS_CUDA_TRY(cudaFuncSetAttribute(fused_kernel<kInt8>,
                                       cudaFuncAttributePreferredSharedMemoryCarveout,
                                       cudaSharedmemCarveoutMaxShared));
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
  configure_fused_kernel<false>();
  const tile_args g{reinterpret_cast<const unsigned char*>(rows), rb, re, n, kp * 2};
  fused_kernel<false>
      <<<blocks, kThreads, kSmemBytes, s>>>(g, t0, t1, cut, int8_rows{}, out, count, capacity);
  CHORUS_CUDA_CHECK_LAUNCH();
}

void launch_fused_tiles_int8(const std::int8_t* rows, const float* scale, const float* err,
                             const float* qnorm, const float* rnorm, std::int64_t rb,
                             std::int64_t re, std::int64_t n, std::int64_t kp, std::int64_t t0,
                             std::int64_t t1, float cut, pair64* out, unsigned long long* count,
                             unsigned long long capacity, int grid, cudaStream_t s) {
  if (t1 <= t0) return;
  CHORUS_EXPECTS(kp % kStageBytes == 0 && kp > 0, "fused int8 kernel: row stride ", kp,
                 " is not a positive multiple of ", kStageBytes);
  const std::int64_t tiles = t1 - t0;
  const unsigned blocks = static_cast<unsigned>(grid > 0 && grid < tiles ? grid : tiles);
  configure_fused_kernel<true>();
  const tile_args g{reinterpret_cast<const unsigned char*>(rows), rb, re, n, kp};
  fused_kernel<true><<<blocks, kThreads, kSmemBytes, s>>>(
      g, t0, t1, cut, int8_rows{scale, err, qnorm, rnorm}, out, count, capacity);
  CHORUS_CUDA_CHECK_LAUNCH();
}

int fused_grid(int device) {
  int sms = 0, per_sm = 0, per_sm8 = 0;
  CHORUS_CUDA_TRY(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  configure_fused_kernel<false>();
  configure_fused_kernel<true>();
  CHORUS_CUDA_TRY(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, fused_kernel<false>,
                                                                kThreads, kSmemBytes));
  CHORUS_CUDA_TRY(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm8, fused_kernel<true>,
                                                                kThreads, kSmemBytes));
  if (per_sm8 < per_sm) per_sm = per_sm8;  // one grid size serves both kernels
  return sms * (per_sm > 0 ? per_sm : 1);
}

}  // namespace chorus::cuda
