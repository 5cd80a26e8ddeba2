// chorus: tile arithmetic over the upper triangle of the N x N pair space (shared host/device).
//
// Rows are cut into row blocks of `rows` accounts, columns into chunks of `cols` accounts
// (cols is a multiple of rows). A work unit (bi, cj) pairs row block bi with column chunk cj;
// only units that hold some pair i < j exist. Index arithmetic is 64-bit throughout.
#pragma once

#include <cstdint>

#include "chorus/core/hd.hpp"

namespace chorus::tiling {

/// Number of blocks of size `b` that cover `n` items.
CHORUS_HD std::int64_t blocks(std::int64_t n, std::int64_t b) { return (n + b - 1) / b; }

/// First column chunk that holds a pair (i, j), i < j, for row block `bi`.
/// The last row of the block is bi*rows + rows - 1; its first partner is one more.
CHORUS_HD std::int64_t first_chunk(std::int64_t bi, std::int64_t rows, std::int64_t cols) {
  return (bi * rows + 1) / cols;
}

/// Number of work units for n accounts.
CHORUS_HD std::int64_t units(std::int64_t n, std::int64_t rows, std::int64_t cols) {
  const std::int64_t nb = blocks(n, rows), nc = blocks(n, cols);
  std::int64_t total = 0;
  for (std::int64_t bi = 0; bi < nb; ++bi) total += nc - first_chunk(bi, rows, cols);
  return total;
}

/// True when (i, j) is a pair chorus decides: i < j < n.
CHORUS_HD bool in_triangle(std::int64_t i, std::int64_t j, std::int64_t n) {
  return i < j && j < n;
}

/// Columns of chunk starting at c0 (width cols) that row i must scan: [lo, hi), lo > i, hi <= n.
CHORUS_HD void row_span(std::int64_t i, std::int64_t c0, std::int64_t cols, std::int64_t n,
                        std::int64_t* lo, std::int64_t* hi) {
  std::int64_t a = i + 1 > c0 ? i + 1 : c0;
  std::int64_t b = c0 + cols < n ? c0 + cols : n;
  *lo = a;
  *hi = b > a ? b : a;
}

/// Pairs i < j that chorus decides for n accounts: n(n-1)/2, 0 for n < 2.
CHORUS_HD std::int64_t pair_count(std::int64_t n) {
  return n < 2 ? 0 : n / 2 * (n - 1) + (n % 2) * ((n - 1) / 2);
}

/// Pairs i < j < n whose row i lies in [a, b): sum of (n - 1 - i), 0 for an empty range.
CHORUS_HD std::int64_t rows_pairs(std::int64_t a, std::int64_t b, std::int64_t n) {
  if (b > n) b = n;
  if (a < 0) a = 0;
  if (b <= a) return 0;
  // (n-1-a) + ... + (n-b): count (b-a) terms, first + last = 2n - 1 - a - b
  const std::int64_t cnt = b - a, ends = 2 * n - 1 - a - b;
  return cnt % 2 == 0 ? cnt / 2 * ends : ends / 2 * cnt;  // cnt * ends is even
}

/// Pairs i < j with i in [i0, i1) and j in [c0, c1): rows before c0 pair with every column,
/// rows from c0 on with the columns after them.
CHORUS_HD std::int64_t box_pairs(std::int64_t i0, std::int64_t i1, std::int64_t c0,
                                 std::int64_t c1) {
  if (c1 <= c0 || i1 <= i0) return 0;
  const std::int64_t before = (i1 < c0 ? i1 : c0) - i0;
  return (before > 0 ? before * (c1 - c0) : 0) + rows_pairs(i0 > c0 ? i0 : c0, i1, c1);
}

/// First row of part `r` of `parts` when rows are split into contiguous ranges with (almost)
/// equal pair counts: the smallest row a with rows_pairs(0, a, n) >= r * total / parts. Part r
/// owns rows [split_row(r), split_row(r + 1)); each part's pair count is within n of
/// total / parts, so two parts differ by less than 2n (a few rows' worth).
CHORUS_HD std::int64_t split_row(std::int64_t n, std::int64_t parts, std::int64_t r) {
  if (r <= 0) return 0;
  if (r >= parts) return n;
  if (n < 2) return 0;
  const std::int64_t total = pair_count(n);
  const std::int64_t target =
      (total / parts) * r + ((total % parts) * r) / parts;  // exact floor(total * r / parts)
  std::int64_t lo = 0, hi = n;                              // rows_pairs(0, hi, n) >= target
  while (lo < hi) {
    const std::int64_t mid = lo + (hi - lo) / 2;
    if (rows_pairs(0, mid, n) >= target)
      hi = mid;
    else
      lo = mid + 1;
  }
  return lo;
}

}  // namespace chorus::tiling
