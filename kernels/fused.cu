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

__device__ __forceinline__ void mma_s8(int* d, const unsigned* a, const unsigned* b) {
  asm volatile(
      "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
      "{%8,%9}, {%0,%1,%2,%3};\n"
      : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

// One stage: kStageBytes of K for every row of the row block (a) and the column block (b), rows
// padded to kSmemStride * 2 bytes. bf16 and int8 share it (see chorus/scan/fused_tile.hpp).
constexpr int kRowBytes = kSmemStride * 2;
struct stage {
  alignas(16) unsigned char a[kBM * kRowBytes];
  alignas(16) unsigned char b[kBN * kRowBytes];
};

// Copy bytes [k0, k0 + kStageBytes) of the tile's row block and column block into `st`.
// `rows` holds rows [rb, n), `ld` bytes each.
__device__ __forceinline__ void load_stage(stage& st, const unsigned char* rows, std::int64_t rb,
                                           std::int64_t n, std::int64_t ld, std::int64_t r0,
                                           std::int64_t c0, std::int64_t k0) {
#pragma unroll
  for (int q = 0; q < kChunksPerThread; ++q) {
    int row, k;
    chunk(static_cast<int>(threadIdx.x) + q * kThreads, &row, &k);
    const int kb = 2 * k;  // chunk offsets are in bf16 units
    const std::int64_t ra = r0 + row, rbb = c0 + row;
    const unsigned char* ga = rows + ((ra < n ? ra : rb) - rb) * ld + k0 + kb;
    const unsigned char* gb = rows + ((rbb < n ? rbb : rb) - rb) * ld + k0 + kb;
    cp_async16(&st.a[row * kRowBytes + kb], ga, ra < n ? 16 : 0);
    cp_async16(&st.b[row * kRowBytes + kb], gb, rbb < n ? 16 : 0);
  }
}

// Per-row data of the int8 epilogue (chorus::margin::int8_score), indexed by row - rb.
struct int8_rows {
  const float *scale = nullptr, *err = nullptr, *qnorm = nullptr, *rnorm = nullptr;
};

// Persistent grid: block b takes tiles t0 + b, t0 + b + gridDim.x, ... of the trapezoid.
// kInt8: int8 rows with per-row scales (mma m16n8k32.s8, int32 accumulators, per-pair margin);
// else bf16 rows (mma m16n8k16.bf16, fp32 accumulators, the margin folded into `cut`). `ld`:
// bytes per row.
template <bool kInt8>
__global__ void __launch_bounds__(kThreads)
    fused_kernel(const unsigned char* __restrict__ rows, std::int64_t rb, std::int64_t re,
                 std::int64_t n, std::int64_t ld, std::int64_t t0, std::int64_t t1, float cut,
                 int8_rows q8, pair64* out, unsigned long long* count,
                 unsigned long long capacity) {
  using acc_t = typename std::conditional<kInt8, int, float>::type;
  __shared__ stage smem[2];
  const int warp = static_cast<int>(threadIdx.x) / 32, lane = static_cast<int>(threadIdx.x) % 32;
  const std::int64_t nbr = tiling::blocks(re - rb, kBM);
  const std::int64_t nk = ld / kStageBytes;
  for (std::int64_t t = t0 + blockIdx.x; t < t1; t += gridDim.x) {
    std::int64_t bi, bj;
    col_tile(t, nbr, &bi, &bj);  // column order: early tiles need early rows only
    const std::int64_t r0 = rb + bi * kBM, c0 = rb + bj * kBN;
    acc_t acc[kFragM][kFragN][4];
#pragma unroll
    for (int mi = 0; mi < kFragM; ++mi)
#pragma unroll
      for (int ni = 0; ni < kFragN; ++ni)
#pragma unroll
        for (int e = 0; e < 4; ++e) acc[mi][ni][e] = 0;

    load_stage(smem[0], rows, rb, n, ld, r0, c0, 0);
    cp_async_commit();
    for (std::int64_t kt = 0; kt < nk; ++kt) {
      if (kt + 1 < nk) {  // the next slice streams in while this one is multiplied
        load_stage(smem[(kt + 1) & 1], rows, rb, n, ld, r0, c0, (kt + 1) * kStageBytes);
        cp_async_commit();
        cp_async_wait<1>();
      } else {
        cp_async_wait<0>();
      }
      __syncthreads();
      const stage& st = smem[kt & 1];
      const unsigned* sa = reinterpret_cast<const unsigned*>(st.a);  // 32-bit words
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
          for (int ni = 0; ni < kFragN; ++ni) {
            if constexpr (kInt8)
              mma_s8(acc[mi][ni], af[mi], bfr[ni]);
            else
              mma_bf16(acc[mi][ni], af[mi], bfr[ni]);
          }
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
          bool hit = i < re && tiling::in_triangle(i, j, n);
          if constexpr (kInt8) {
            if (hit) {
              const std::int64_t a = i - rb, b = j - rb;
              hit = margin::int8_score(acc[mi][ni][e], q8.scale[a], q8.scale[b], q8.rnorm[a],
                                       q8.err[a], q8.err[b], q8.qnorm[b]) >= cut;
            }
          } else {
            hit = hit && acc[mi][ni][e] >= cut;
          }
          warp_append(hit, pair64{i, j}, out, count, capacity);
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
  fused_kernel<false><<<blocks, kThreads, 0, s>>>(reinterpret_cast<const unsigned char*>(rows), rb,
                                                  re, n, kp * 2, t0, t1, cut, int8_rows{}, out,
                                                  count, capacity);
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
  fused_kernel<true><<<blocks, kThreads, 0, s>>>(
      reinterpret_cast<const unsigned char*>(rows), rb, re, n, kp, t0, t1, cut,
      int8_rows{scale, err, qnorm, rnorm}, out, count, capacity);
  CHORUS_CUDA_CHECK_LAUNCH();
}

int fused_grid(int device) {
  int sms = 0, per_sm = 0;
  CHORUS_CUDA_TRY(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  CHORUS_CUDA_TRY(
      cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, fused_kernel<false>, kThreads, 0));
  return sms * (per_sm > 0 ? per_sm : 1);
}

}  // namespace chorus::cuda
