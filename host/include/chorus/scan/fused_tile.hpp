// chorus: index arithmetic of the fused tensor-core first pass (shared host/device).
//
// The fused kernel (kernels/fused.cu) computes 128 x 128 tiles of X_I X_J^T from bf16 rows with
// mma.sync m16n8k16 (fp32 accumulators in registers) and tests the threshold in the epilogue,
// so that similarities never reach device memory. Everything that maps threads, warps,
// registers and tiles to rows and columns is here, so that the CPU tests can check it, and a
// CPU emulation of one tile (tests/test_fused_tile.cpp) can run the kernel's data path.
//
// Tile space: rows [rb, re) against columns [rb, n), cut into tiles of kBM x kBN aligned at rb.
// Row tile bi pairs with column tiles bj >= bi (a tile with bj < bi holds only pairs j < i): a
// trapezoid of tiles, numbered row-major, that a persistent grid walks with a stride.
#pragma once

#include <cmath>
#include <cstdint>

#include "chorus/core/hd.hpp"

namespace chorus::fused {

constexpr int kBM = 128;  ///< tile rows
constexpr int kBN = 128;  ///< tile columns (equal to kBM: tile bj >= bi always has i < j pairs)
constexpr int kBK = 32;   ///< bf16 elements of K per shared-memory stage
constexpr int kWarpsM = 2, kWarpsN = 4;  ///< 8 warps, 256 threads
constexpr int kThreads = 32 * kWarpsM * kWarpsN;
constexpr int kWarpM = kBM / kWarpsM;  ///< 64 rows per warp
constexpr int kWarpN = kBN / kWarpsN;  ///< 32 columns per warp
constexpr int kFragM = kWarpM / 16;    ///< m16 fragments per warp
constexpr int kFragN = kWarpN / 8;     ///< n8 fragments per warp
/// Shared-memory row stride in bf16 elements: 8 of padding keep fragment loads free of bank
/// conflicts (row stride 20 words: lanes g*20 + t cover all 32 banks) and rows 16-byte aligned.
constexpr int kSmemStride = kBK + 8;
/// 16-byte chunks (8 bf16) per tile stage of one operand, and per thread.
constexpr int kChunks = kBM * kBK / 8;
constexpr int kChunksPerThread = kChunks / kThreads;
static_assert(kBM == kBN, "square tiles");
static_assert(kChunks % kThreads == 0, "whole chunks per thread");

/// Bytes of K per shared-memory stage and row: kBK bf16, or 64 int8. The int8 kernel
/// (mma m16n8k32.s8) uses the same stages, words and fragment registers as the bf16 one
/// (m16n8k16.bf16): a 32-bit register holds two bf16 or four int8 of the same row.
constexpr int kStageBytes = 2 * kBK;

/// Row stride (elements) of the bf16 first-pass rows the fused kernel reads: K rounded up to a
/// multiple of kBK, zero-padded (zeros change no dot product).
CHORUS_HD std::int64_t padded_k(std::int64_t k) { return (k + kBK - 1) / kBK * kBK; }
/// The same for int8 rows: K rounded up to a multiple of kStageBytes.
CHORUS_HD std::int64_t padded_k_int8(std::int64_t k) {
  return (k + kStageBytes - 1) / kStageBytes * kStageBytes;
}

/// Tiles before row tile bi when each row tile bi holds column tiles [bi, nbc).
CHORUS_HD std::int64_t trap_prefix(std::int64_t bi, std::int64_t nbc) {
  return bi * nbc - bi * (bi - 1) / 2;
}
/// Tiles of the trapezoid: row tiles [0, nbr), nbr <= nbc.
CHORUS_HD std::int64_t trap_tiles(std::int64_t nbr, std::int64_t nbc) {
  return trap_prefix(nbr, nbc);
}
/// Tile t of the trapezoid (0 <= t < trap_tiles) as (row tile, column tile), bj >= bi.
CHORUS_HD void trap_tile(std::int64_t t, std::int64_t nbr, std::int64_t nbc, std::int64_t* bi,
                         std::int64_t* bj) {
  // prefix(b) = b (nbc + 1/2) - b^2 / 2 is increasing for b <= nbc: estimate b from the
  // quadratic, then correct by whole steps (the estimate is off by at most one or two)
  const double c = static_cast<double>(nbc) + 0.5;
  const double disc = c * c - 2.0 * static_cast<double>(t);
  std::int64_t b = static_cast<std::int64_t>(c - (disc > 0 ? ::sqrt(disc) : 0.0));
  if (b < 0) b = 0;
  if (b > nbr - 1) b = nbr - 1;
  while (b > 0 && trap_prefix(b, nbc) > t) --b;
  while (b + 1 < nbr && trap_prefix(b + 1, nbc) <= t) ++b;
  *bi = b;
  *bj = b + (t - trap_prefix(b, nbc));
}

/// Tiles before column tile bj when column tile bj holds row tiles [0, min(bj + 1, nbr)) (the
/// same trapezoid counted by columns: col_prefix(nbc, nbr) == trap_tiles(nbr, nbc)).
CHORUS_HD std::int64_t col_prefix(std::int64_t bj, std::int64_t nbr) {
  return bj <= nbr ? bj * (bj + 1) / 2 : nbr * (nbr + 1) / 2 + (bj - nbr) * nbr;
}
/// Tile t of the trapezoid in column order (every row tile of column tile 0, then of column
/// tile 1, ...) as (row tile, column tile), bj >= bi: the tiles before col_prefix(c, nbr) read
/// rows below rb + c * kBN only, so scoring can start while later rows are still arriving.
CHORUS_HD void col_tile(std::int64_t t, std::int64_t nbr, std::int64_t* bi, std::int64_t* bj) {
  const std::int64_t tri = nbr * (nbr + 1) / 2;
  if (t >= tri) {  // full columns of nbr row tiles
    *bj = nbr + (t - tri) / nbr;
    *bi = (t - tri) % nbr;
    return;
  }
  // the triangle: b (b + 1) / 2 <= t < (b + 1) (b + 2) / 2; estimate, then correct by steps
  std::int64_t b =
      static_cast<std::int64_t>((::sqrt(8.0 * static_cast<double>(t) + 1.0) - 1.0) / 2);
  while (b > 0 && b * (b + 1) / 2 > t) --b;
  while ((b + 1) * (b + 2) / 2 <= t) ++b;
  *bj = b;
  *bi = t - b * (b + 1) / 2;
}

/// Warp w's origin inside the tile (rows, columns).
CHORUS_HD void warp_origin(int warp, int* row, int* col) {
  *row = (warp / kWarpsN) * kWarpM;
  *col = (warp % kWarpsN) * kWarpN;
}

// Fragment layouts of mma.sync.aligned.m16n8k16.row.col (bf16 in, fp32 out), PTX ISA
// "Matrix Fragments for mma.m16n8k16": g = lane / 4 (group), t = lane % 4 (thread in group).

/// A (16 x 16, row-major): 32-bit register r (0..3) holds A[row][col], A[row][col + 1].
CHORUS_HD void a_frag(int lane, int r, int* row, int* col) {
  *row = lane / 4 + 8 * (r & 1);
  *col = 2 * (lane % 4) + 8 * (r >> 1);
}
/// B (16 x 8, "col": B[k][n] stored as row n of X_J): register r (0..1) holds B[k][n], B[k+1][n].
CHORUS_HD void b_frag(int lane, int r, int* n, int* k) {
  *n = lane / 4;
  *k = 2 * (lane % 4) + 8 * r;
}
/// C/D (16 x 8, fp32): element e (0..3) is C[row][col].
CHORUS_HD void c_frag(int lane, int e, int* row, int* col) {
  *row = lane / 4 + 8 * (e >> 1);
  *col = 2 * (lane % 4) + (e & 1);
}

/// int8 A (16 x 32, mma m16n8k32.row, s8): register r (0..3) holds A[row][col + 0..3].
CHORUS_HD void a_frag_s8(int lane, int r, int* row, int* col) {
  *row = lane / 4 + 8 * (r & 1);
  *col = 4 * (lane % 4) + 16 * (r >> 1);
}
/// int8 B (32 x 8, col): register r (0..1) holds B[k + 0..3][n].
CHORUS_HD void b_frag_s8(int lane, int r, int* n, int* k) {
  *n = lane / 4;
  *k = 4 * (lane % 4) + 16 * r;
}

/// Tile-local row and column of accumulator (mi, ni, e) of `lane` in `warp`.
CHORUS_HD void acc_coord(int warp, int lane, int mi, int ni, int e, int* row, int* col) {
  int wr, wc, r, c;
  warp_origin(warp, &wr, &wc);
  c_frag(lane, e, &r, &c);
  *row = wr + mi * 16 + r;
  *col = wc + ni * 8 + c;
}

/// Shared-memory element index (in a kBM x kSmemStride stage of bf16) of the two bf16 of A
/// register r for fragment mi at K step kk (16 bf16 each); half of it is the 32-bit word, which
/// for int8 holds the register's four int8 (K step kk: 32 int8).
CHORUS_HD int a_smem(int warp, int lane, int mi, int kk, int r) {
  int wr, wc, row, col;
  warp_origin(warp, &wr, &wc);
  a_frag(lane, r, &row, &col);
  return (wr + mi * 16 + row) * kSmemStride + kk * 16 + col;
}
/// Same for B register r of fragment ni (rows of the column tile).
CHORUS_HD int b_smem(int warp, int lane, int ni, int kk, int r) {
  int wr, wc, n, k;
  warp_origin(warp, &wr, &wc);
  b_frag(lane, r, &n, &k);
  return (wc + ni * 8 + n) * kSmemStride + kk * 16 + k;
}

/// Chunk c (0..kChunks-1) of a stage: tile row and first K element of its 8 bf16.
CHORUS_HD void chunk(int c, int* row, int* k) {
  *row = c / (kBK / 8);
  *k = (c % (kBK / 8)) * 8;
}

}  // namespace chorus::fused
