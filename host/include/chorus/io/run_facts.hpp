// chorus: the facts of a detection run that a results file records as root attributes
// (datasets/SCHEMA.md, "Root attributes"), and their attribute list.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "chorus/graph/components.hpp"
#include "chorus/io/results.hpp"

namespace chorus {

/// An incremental run's lineage (chorus detect --update): what it took from the previous run.
struct update_lineage {
  std::string previous;  ///< the previous results file (absolute path)
  std::string previous_input, previous_input_checksum;  ///< the input it was computed from
  std::int64_t rows_new = 0, rows_changed = 0, rows_removed = 0, rows_unchanged = 0;
  std::int64_t edges_carried = 0;  ///< previous edges between unchanged accounts, kept
  std::int64_t edges_dropped = 0;  ///< previous edges of changed or removed accounts
  std::int64_t pairs_full = 0;     ///< pairs a full run would decide, N (N - 1) / 2
};

/// Parameters, identity, counts and timings of one run.
struct run_facts {
  std::string input_path;  ///< absolute
  std::uint64_t input_size = 0;
  std::string input_checksum;  ///< 16 hex digits
  std::int64_t accounts = 0, embedding_dim = 0, activity_bins = 0;
  std::string view;
  double threshold = 0, threshold_activity = 0, weight = 0;
  std::string activity_transform;
  std::int64_t topk = 0, max_edges = 0;
  std::string backend, precision_requested, precision_used, gpu_kernel_requested, backend_detail;
  int device = 0, threads = 0, ranks = 1;
  std::int64_t tile_rows = 0, tile_cols = 0;
  std::int64_t pairs = 0, candidates = 0, edges_before_topk = 0, edges = 0, edges_written = 0;
  std::uint64_t max_memory_mib = 0;
  bool edges_spilled = false;
  std::int64_t clusters = 0, invalid_embedding_rows = 0, invalid_activity_rows = 0;
  double min_activity = 0;              ///< --min-activity (0 when the view has no activity)
  std::int64_t below_min_activity = 0;  ///< accounts it left out
  double seconds_read = 0, seconds_score = 0, seconds_components = 0;
  const truth_match* truth = nullptr;      ///< adds truth_precision and truth_recall
  bool row_checksums = false;              ///< the file holds /accounts/row_checksum (attribute)
  std::string input_date;                  ///< the input's root attribute `date`, when it has one
  const update_lineage* update = nullptr;  ///< an incremental run: its lineage attributes
};

/// The root attributes of a results file, in the order they are written (chorus_version
/// first). Counts are int64 attributes, fractions and timings float64, names strings.
std::vector<attribute> results_attributes(const run_facts& f);

}  // namespace chorus
