// chorus: launchers of the CUDA kernels (host header; one launcher per operation, each takes a
// stream). Sizes and indices that grow with N^2 or N*d are 64-bit.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "chorus/core/decision.hpp"
#include "chorus/core/types.hpp"

namespace chorus::cuda {

/// A candidate pair i < j from the first pass.
struct pair64 {
  std::int64_t i, j;
};

/// A block of one view's rows on the device, as the exact re-check needs it: rows
/// [row0, row0 + count) of the view (the whole view when row0 = 0 and count = n).
struct device_view {
  const float* rows = nullptr;          ///< count x d row-major, normalised fp32 rows
  const double* inv_norm = nullptr;     ///< count, 1 / ||row|| in float64 (0 for invalid rows)
  const std::uint8_t* valid = nullptr;  ///< count
  std::int64_t d = 0;
  std::int64_t row0 = 0;
};

/// y[k] = bf16(x[k]) with round-to-nearest-even, for `count` elements.
void launch_to_bf16(const float* x, std::uint16_t* y, std::int64_t count, cudaStream_t s);

/// First-pass fp32 rows of `rows` accounts from their resident view rows (`emb`: rows x de,
/// `act`: rows x da, row-major, with their valid flags; either may be null when `mode` does not
/// use it): the view's row, or for view_mode::fused [we * e, wa * a] (zero unless both rows are
/// valid), as chorus::first_pass_row builds it; zero-padded to `ld` floats per row in `out`.
void launch_first_pass_rows(const float* emb, std::int64_t de, const std::uint8_t* emb_valid,
                            const float* act, std::int64_t da, const std::uint8_t* act_valid,
                            view_mode mode, float we, float wa, std::int64_t rows, std::int64_t ld,
                            float* out, cudaStream_t s);

/// int8 first-pass rows with per-row scales from fp32 rows x (rows x ld): q (rows x ld), and per
/// row scale, err, qnorm, rnorm as chorus::quantize_row_int8 and int8_row_bounds compute them.
void launch_quantize_rows_int8(const float* x, std::int64_t rows, std::int64_t ld, std::int8_t* q,
                               float* scale, float* err, float* qnorm, float* rnorm,
                               cudaStream_t s);

/// Benchmark and test data made on the device: n unit rows of width d (row-major fp32) from a
/// counter-based hash of (seed, row, column), where rows with i % group < planted are noisy
/// copies of prototype i / group (cosine about 0.99 among them), with inv_norm and valid as the
/// re-check needs them (group 0: no planted rows).
void launch_synthetic_rows(float* rows, double* inv_norm, std::uint8_t* valid, std::int64_t n,
                           std::int64_t d, std::uint64_t seed, std::int64_t group,
                           std::int64_t planted, cudaStream_t s);

/// Scan a column-major tile C (C[r + c m] = first-pass score of rows r0 + r and c0 + c) and
/// append every pair (i, j), i < j < n, with C >= cut to `out` (warp-aggregated atomics).
/// `count` receives the number of hits even past `capacity`; hits past it are not written, and
/// the caller re-runs the tile with a larger buffer.
void launch_threshold_tile(const float* tile, std::int64_t m, std::int64_t w, std::int64_t r0,
                           std::int64_t c0, std::int64_t n, float cut, pair64* out,
                           unsigned long long* count, unsigned long long capacity, cudaStream_t s);

/// Re-score `ncand` candidates (i, j) exactly (float64 dot of the fp32 rows; row i from the
/// `_i` blocks, row j from the `_j` blocks), decide them with `params`, write the edges to
/// `edges` (capacity >= ncand, so it never overflows) with their count in `nedges`, and union
/// their endpoints in `parent` (lock-free, larger root onto smaller).
void launch_recheck(const pair64* cand, std::int64_t ncand, device_view emb_i, device_view emb_j,
                    device_view act_i, device_view act_j, decision_params params, edge* edges,
                    unsigned long long* nedges, std::int64_t* parent, cudaStream_t s);

/// launch_recheck for the candidates a first-pass kernel queued before it on `s` left in `cand`:
/// their number is min(*counted, capacity), read on the device (no host round trip).
void launch_recheck_counted(const pair64* cand, const unsigned long long* counted,
                            std::int64_t capacity, device_view emb_i, device_view emb_j,
                            device_view act_i, device_view act_j, decision_params params,
                            edge* edges, unsigned long long* nedges, std::int64_t* parent,
                            cudaStream_t s);

/// Fused first pass (bf16 tensor cores, threshold in the epilogue) over tiles [t0, t1) of the
/// trapezoid of 128 x 128 tiles of rows [rb, re) x columns [rb, n) (chorus/scan/fused_tile.hpp).
/// `rows`: bf16 first-pass rows [rb, n), row i at (i - rb) * kp, kp a multiple of 32 with zero
/// padding past K. Appends every pair (i, j), rb <= i < re, i < j < n, whose tile score is >=
/// `cut` to `out`; `count` receives the number of hits even past `capacity` (hits past it are
/// not written: the caller re-runs the tiles with a larger buffer). `grid` blocks walk the tiles
/// with a stride (fused_grid: enough to fill the device).
void launch_fused_tiles(const std::uint16_t* rows, std::int64_t rb, std::int64_t re, std::int64_t n,
                        std::int64_t kp, std::int64_t t0, std::int64_t t1, float cut, pair64* out,
                        unsigned long long* count, unsigned long long capacity, int grid,
                        cudaStream_t s);
/// The same with int8 rows (per-row scale; mma m16n8k32.s8, exact int32 dots): `rows` has row
/// stride kp, a multiple of 64 (chorus::fused::padded_k_int8); `scale`, `err`, `qnorm`, `rnorm`
/// (indexed by row - rb) are what chorus::margin::int8_score needs, and `cut` is
/// threshold - kSlack.
void launch_fused_tiles_int8(const std::int8_t* rows, const float* scale, const float* err,
                             const float* qnorm, const float* rnorm, std::int64_t rb,
                             std::int64_t re, std::int64_t n, std::int64_t kp, std::int64_t t0,
                             std::int64_t t1, float cut, pair64* out, unsigned long long* count,
                             unsigned long long capacity, int grid, cudaStream_t s);
/// Resident blocks of the fused kernel that fill `device` (multiprocessors x occupancy).
int fused_grid(int device);

/// parent[i] = i.
void launch_uf_init(std::int64_t* parent, std::int64_t n, cudaStream_t s);
/// Union the endpoints of `m` edges (larger root onto smaller, lock-free).
void launch_uf_unite_edges(const edge* edges, std::int64_t m, std::int64_t* parent, cudaStream_t s);
/// parent[i] = root of i (the smallest row of its component).
void launch_uf_flatten(std::int64_t* parent, std::int64_t n, cudaStream_t s);

/// Canonical labels from flattened roots (device arrays): -1 for rows alone in their component,
/// else cluster ids by size descending, ties by smallest member row. Returns the cluster count
/// (synchronises `s`).
std::int64_t canonical_labels(const std::int64_t* roots, std::int64_t n, std::int64_t* labels,
                              cudaStream_t s);

}  // namespace chorus::cuda
