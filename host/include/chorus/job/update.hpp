// chorus: incremental detection (`chorus detect --update PREVIOUS`): what a previous results
// file offers, which rows are new or changed, the order they are scored in and the edges that
// carry over. The job itself (host/job/detect.cpp) scores only the pairs that touch a new or
// changed row: it puts those rows first and decides the pairs (i, j) with i among them, the rows
// a rank of a multi-process job decides (score_options::row_begin/row_end).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "chorus/core/types.hpp"
#include "chorus/io/input.hpp"

namespace chorus {

/// Name of the per-row checksum rule recorded in results files (attribute `row_checksum`).
inline constexpr const char* row_checksum_rule = "xxh3-64 of prepared rows v1";

/// Per-row identity of the prepared rows a run scores: XXH3-64 over the row's validity and its
/// fp32 values in each view the run uses (embedding, then activity). Two rows with equal
/// checksums get the same decision against every other row. All rows must be held (first 0).
std::vector<std::uint64_t> row_checksums(const loaded_input& in, bool embedding, bool activity);

/// The parameters an update must share with the run it updates (those that shape the edges).
struct update_params {
  std::string view;  ///< to_string(view_mode)
  bool need_e = false, need_a = false, fused = false;
  double threshold = 0, threshold_activity = 0, weight = 0, min_activity = 0;
  std::string transform;
  std::int64_t dim = 0, bins = 0;  ///< the input's embedding dimension and activity bins
};

/// What a previous results file offers an incremental run (read by read_update_base).
struct update_base {
  std::string path;  ///< absolute
  std::string input_path, input_checksum;
  std::vector<std::int64_t> ids;
  std::vector<std::uint64_t> checksums;  ///< /accounts/row_checksum
  std::vector<edge> edges;               ///< in the previous file's rows, (src, dst) order
};

/// Read and check a previous results file: a dense-view run with the same parameters, with
/// every edge written (no --topk, no --no-edges) and per-row checksums. Throws input_error
/// naming the first difference.
/// `edges`: also read its edges (only the rank that carries them over needs them).
update_base read_update_base(const std::string& path, const update_params& p, bool edges = true);

/// An incremental run's plan over the new input's rows.
struct update_plan {
  /// order[k] is the input row scored at position k: the `dirty` new or changed rows first
  /// (ascending), then the unchanged ones (ascending).
  std::vector<std::int64_t> order;
  std::int64_t dirty = 0;
  std::int64_t rows_new = 0, rows_changed = 0, rows_removed = 0, rows_unchanged = 0;
  std::vector<edge> carried;       ///< previous edges between unchanged rows, in new rows, sorted
  std::int64_t edges_dropped = 0;  ///< previous edges that touch a changed or removed account
};

/// Compare the new input's ids and row checksums with the previous run's. Refuses an input that
/// shares no account with a non-empty previous run (the results of another input).
update_plan plan_update(const update_base& base, const std::vector<std::int64_t>& ids,
                        const std::vector<std::uint64_t>& checksums);

/// Put the rows of `v` in the order `order` in place: row k becomes the row that was at
/// order[k] (a permutation of its rows; v holds every row). One row of extra memory.
void permute_rows(view_matrix& v, const std::vector<std::int64_t>& order);
/// The permutation that undoes `order` (permute_rows with it restores the rows).
std::vector<std::int64_t> inverse_order(const std::vector<std::int64_t>& order);

/// Edges found in scored positions, turned back into input rows (src < dst) and sorted.
void edges_to_rows(std::vector<edge>& edges, const std::vector<std::int64_t>& order);

/// First scored position of part `r` of `parts` when the pairs (i, j), i < rows, i < j < n, are
/// split into contiguous ranges of i with (almost) equal pair counts (an update's ranks).
std::int64_t split_prefix_row(std::int64_t n, std::int64_t rows, std::int64_t parts,
                              std::int64_t r);

}  // namespace chorus
