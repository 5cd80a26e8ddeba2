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
#include "chorus/scan/margin.hpp"

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
/// 16-byte chunks (8 bf16) per tile stage of one operand, and per thread.
constexpr int kChunks = kBM * kBK / 8;
constexpr int kChunksPerThread = kChunks / kThreads;
static_assert(kBM == kBN, "square tiles");
static_assert(kChunks % kThreads == 0, "whole chunks per thread");

/// Bytes of K per shared-memory stage and row: kBK bf16, or 64 int8. The int8 kernel
/// (mma m16n8k32.s8) uses the same stages, words and fragment registers as the bf16 one
/// (m16n8k16.bf16): a 32-bit register holds two bf16 or four int8 of the same row.
constexpr int kStageBytes = 2 * kBK;

// Shared memory: a ring of kStages stages (dynamic shared memory, kSmemBytes), each the row
// block's kBM rows (A) then the column block's kBN rows (B) of kRowBytes bytes of K, unpadded.
// The 16-byte units of a row are XOR-swizzled (smem_offset) so that the 8 row addresses of one
// ldmatrix 8x8 matrix, and the 8 chunks of a quarter-warp's cp.async, hit distinct bank groups.
constexpr int kStages = 4;                        ///< cp.async pipeline depth (K slices)
constexpr int kPendingGroups = kStages - 2;       ///< cp.async.wait_group operand of a K step
constexpr int kRowBytes = kStageBytes;            ///< bytes of one row in one stage
constexpr int kOperandBytes = kBM * kRowBytes;    ///< one operand (A or B) of one stage
constexpr int kStageSmem = 2 * kOperandBytes;     ///< one stage: A then B
constexpr int kRingBytes = kStages * kStageSmem;  ///< the stage ring
/// int8 epilogue: the tile's per-row data (16 bytes a row: kBM rows, then kBN columns).
constexpr int kEpiBytes = (kBM + kBN) * 16;
constexpr int kSmemBytes = kRingBytes + kEpiBytes;  ///< dynamic shared memory of a block
static_assert(kRowBytes == 64, "the swizzle below is laid out for four 16-byte units a row");
static_assert(kStageSmem % 128 == 0, "stages start on a 128-byte (32-bank) boundary");

/// Byte offset, inside one operand of one stage, of byte `byte` (0..kRowBytes-1) of tile row
/// `row`: 16-byte unit u of row r is stored at unit u ^ ((r / 2) % 4) of that row. Rows r..r+7
/// (r a multiple of 8) then place any one logical unit in 8 distinct 16-byte bank groups.
CHORUS_HD int smem_offset(int row, int byte) {
  return row * kRowBytes + ((((byte >> 4) ^ (row >> 1)) & 3) << 4) + (byte & 15);
}

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

/// Chunk c (0..kChunks-1) of a stage: tile row and first K element of its 8 bf16.
CHORUS_HD void chunk(int c, int* row, int* k) {
  *row = c / (kBK / 8);
  *k = (c % (kBK / 8)) * 8;
}

// ldmatrix.sync.aligned.m8n8.x4.shared.b16 (PTX ISA "ldmatrix"): lanes 8q..8q+7 supply the
// addresses of the 8 rows (16 bytes each) of matrix q (0..3), and every lane receives register
// q from matrix q: its row lane / 4, b16 elements 2 (lane % 4) and 2 (lane % 4) + 1. A 32-bit
// register holds the same 4 bytes for bf16 and int8, so both kernels use the same addresses.

/// What `lane` receives of each 8x8 matrix of an ldmatrix: matrix row and first byte (4 bytes).
CHORUS_HD void ldsm_elem(int lane, int* row, int* byte) {
  *row = lane / 4;
  *byte = 4 * (lane % 4);
}
/// Tile row and K byte (within the stage) of the row that `lane` addresses in the ldmatrix.x4
/// of A fragment mi at K step kk: matrix q is A register q (rows +8 for odd q, K +8 bf16 / +16
/// int8 for q >= 2), as a_frag / a_frag_s8 lay them out.
CHORUS_HD void ldsm_a_src(int warp, int lane, int mi, int kk, int* row, int* byte) {
  int wr, wc;
  warp_origin(warp, &wr, &wc);
  const int q = lane / 8;
  *row = wr + mi * 16 + 8 * (q & 1) + lane % 8;
  *byte = kk * 32 + 16 * (q >> 1);
}
/// The same for B: one ldmatrix.x4 loads fragments ni = 2 np and 2 np + 1; matrix q is register
/// q & 1 of fragment 2 np + q / 2 (destination registers b[2 np][0], b[2 np][1], b[2 np + 1][0],
/// b[2 np + 1][1]).
CHORUS_HD void ldsm_b_src(int warp, int lane, int np, int kk, int* row, int* byte) {
  int wr, wc;
  warp_origin(warp, &wr, &wc);
  const int q = lane / 8;
  *row = wc + (2 * np + (q >> 1)) * 8 + lane % 8;
  *byte = kk * 32 + 16 * (q & 1);
}
/// Shared-memory offset (in the A operand of a stage) that `lane` passes to ldmatrix for A: the
/// offset for fragment 0 plus mi whole 16-row blocks (rows 16 apart share their swizzle), so
/// that the kernel keeps one register per K step and adds mi as an immediate.
CHORUS_HD int ldsm_a_addr(int warp, int lane, int mi, int kk) {
  int row, byte;
  ldsm_a_src(warp, lane, 0, kk, &row, &byte);
  return smem_offset(row, byte) + mi * 16 * kRowBytes;
}
/// The same for the B fragments 2 np and 2 np + 1.
CHORUS_HD int ldsm_b_addr(int warp, int lane, int np, int kk) {
  int row, byte;
  ldsm_b_src(warp, lane, 0, kk, &row, &byte);
  return smem_offset(row, byte) + np * 16 * kRowBytes;
}
static_assert(kFragN % 2 == 0, "B fragments are loaded in pairs");

// The epilogue: a lane's accumulators cover kFragM * 2 tile rows and kFragN * 2 tile columns;
// element e of fragment (mi, ni) is at row epi_row(mi, e / 2), column epi_col(ni, e % 2).

/// Tile row of the accumulators (mi, *, e) with e / 2 == h.
CHORUS_HD int epi_row(int warp, int lane, int mi, int h) {
  int wr, wc;
  warp_origin(warp, &wr, &wc);
  return wr + mi * 16 + lane / 4 + 8 * h;
}
/// Tile column of the accumulators (*, ni, e) with e % 2 == c.
CHORUS_HD int epi_col(int warp, int lane, int ni, int c) {
  int wr, wc;
  warp_origin(warp, &wr, &wc);
  return wc + ni * 8 + 2 * (lane % 4) + c;
}
/// Which pairs of a tile at (r0, c0) are candidates-to-be: (r0 + row, c0 + col) with
/// r0 + row < re and r0 + row < c0 + col < n, in tile-local 32-bit terms (see tile_pair).
struct tile_limits {
  int rows;  ///< row < rows: the row is below re
  int cols;  ///< col < cols: the column is below n
  int diag;  ///< row - col < diag: row index below column index
};
/// The limits of the tile at (r0, c0), c0 >= r0 (the trapezoid), of rows [.., re) x columns
/// [.., n); each is clamped to [0, kBM] (values past the tile's edge change no answer).
CHORUS_HD tile_limits tile_limits_of(std::int64_t r0, std::int64_t c0, std::int64_t re,
                                     std::int64_t n) {
  const auto clamp = [](std::int64_t v) { return static_cast<int>(v < 0 ? 0 : v > kBM ? kBM : v); };
  return tile_limits{clamp(re - r0), clamp(n - c0), clamp(c0 - r0)};
}
/// True when tile-local (row, col) of a tile with limits `l` is a pair i < j < n, i < re.
CHORUS_HD bool tile_pair(const tile_limits& l, int row, int col) {
  return row < l.rows && col < l.cols && row - col < l.diag;
}
/// The int8 epilogue's per-row data of a tile, staged in shared memory once per tile: thread
/// `tid` reads the data of slot `tid`, which is tile row `tid` (slots [0, kBM)) or tile column
/// tid - kBM (slots [kBM, kBM + kBN)); a lane then reads row epi_row(..) at slot epi_row(..) and
/// column epi_col(..) at slot kBM + epi_col(..).
CHORUS_HD void epi_slot(int tid, bool* col, int* index) {
  *col = tid >= kBM;
  *index = *col ? tid - kBM : tid;
}
static_assert(kBM + kBN == kThreads, "one staged row or column per thread");

/// Index into per-row arrays that hold rows [rb, n) of row (or column) `i`; rows at or past n
/// (outside the problem, never a candidate) read row n - 1 instead, so every load is in range.
CHORUS_HD std::int64_t row_index(std::int64_t i, std::int64_t rb, std::int64_t n) {
  return (i < n ? i : n - 1) - rb;
}

/// Staged per-row data of the int8 epilogue: rows keep (scale, norm, error), columns (scale,
/// error, quantised norm), the operands of chorus::margin::int8_score.
struct epi_data {
  float v0, v1, v2;
};
/// The data thread `tid` stages for the tile at (r0, c0): `get(p, a)` reads p[a] (the kernel's
/// __ldg); `scale`, `err`, `qnorm`, `rnorm` hold rows [rb, n).
template <typename Get>
CHORUS_HD epi_data epi_stage(int tid, std::int64_t r0, std::int64_t c0, std::int64_t rb,
                             std::int64_t n, const float* scale, const float* err,
                             const float* qnorm, const float* rnorm, Get get) {
  bool col;
  int slot;
  epi_slot(tid, &col, &slot);
  const std::int64_t a = row_index((col ? c0 : r0) + slot, rb, n);
  return col ? epi_data{get(scale, a), get(err, a), get(qnorm, a)}
             : epi_data{get(scale, a), get(rnorm, a), get(err, a)};
}
/// The int8 first-pass score of accumulator `dot` of staged row `r` and column `c`.
CHORUS_HD float epi_score(std::int32_t dot, const epi_data& r, const epi_data& c) {
  return margin::int8_score(dot, r.v0, c.v0, r.v1, r.v2, c.v1, c.v2);
}

/// The K loop of one tile as a cp.async pipeline over a ring of kStages stages, with one barrier
/// per K slice. `ops` provides load(slice, stage) (issue the cp.async copies of K slice `slice`
/// into `stage`), commit() (close a cp.async group), wait() (cp.async.wait_group
/// kPendingGroups), sync() (__syncthreads) and compute(stage) (the MMAs of one slice). The
/// kernel runs it on the device; the CPU tests run it to check the order. Slice kt lives in stage
/// kt % kStages; at step kt the stage freed by step kt - 1 receives slice kt + kStages - 1.
template <typename Ops>
CHORUS_HD void k_pipeline(std::int64_t nk, Ops& ops) {
  for (int s = 0; s < kStages - 1; ++s) {  // prologue: slices 0 .. kStages - 2 in flight
    if (s < nk) ops.load(s, s);
    ops.commit();  // empty groups keep the count of groups per step uniform
  }
  for (std::int64_t kt = 0; kt < nk; ++kt) {
    ops.wait();  // this thread's copies of slice kt have landed
    ops.sync();  // everyone's have, and everyone is done with step kt - 1's stage
    const std::int64_t next = kt + kStages - 1;
    if (next < nk) ops.load(next, static_cast<int>(next % kStages));
    ops.commit();
    ops.compute(static_cast<int>(kt % kStages));
  }
  ops.sync();  // the next tile's prologue overwrites stages that this tile's last steps read
}

}  // namespace chorus::fused
