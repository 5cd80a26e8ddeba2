// chorus: the facts of a detection run that a results file records as root attributes
// (datasets/SCHEMA.md, "Root attributes"), and their attribute list.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "chorus/graph/components.hpp"
#include "chorus/io/results.hpp"

namespace chorus {

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
  const truth_match* truth = nullptr;  ///< adds truth_precision and truth_recall
};

/// The root attributes of a results file, in the order they are written (chorus_version
/// first). Counts are int64 attributes, fractions and timings float64, names strings.
std::vector<attribute> results_attributes(const run_facts& f);

}  // namespace chorus
