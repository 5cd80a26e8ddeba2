// chorus: the results file (layout documented in datasets/SCHEMA.md).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "chorus/backend.hpp"
#include "chorus/components.hpp"

namespace chorus {

/// A results attribute: name and either a string or a number.
struct attribute {
  std::string name;
  std::string text;
  double number = 0;
  bool is_text = true;
  bool is_integer = false;  ///< store `number` as int64 (counts, sizes)
};

/// Everything a results file holds.
struct results_content {
  const std::vector<std::int64_t>* labels = nullptr;
  const std::vector<std::int64_t>* ids = nullptr;
  const std::vector<edge>* edges = nullptr;  ///< in-memory edges, or
  edge_visitor edge_stream;                  ///< edges in (src, dst) order, chunk by chunk
  std::uint64_t edge_count = 0;              ///< with edge_stream: how many it yields
  const cluster_table* clusters = nullptr;
  const truth_match* truth = nullptr;  ///< null without ground truth
  std::vector<attribute> attributes;   ///< root attributes (parameters, identity, timings)
  std::string evidence_input;  ///< when set: add /evidence from this input before the rename
};

/// Refuse an output that exists (unless `force`) or whose directory is not writable; call
/// before any work so that a run never fails at the end for a reason known at the start.
void check_output_path(const std::string& path, bool force);

/// Write atomically: a temporary file in the same directory, fsync, rename over `path`.
/// On any error the temporary file is removed and nothing is left at `path` (an existing
/// file at `path` stays untouched).
void write_results(const std::string& path, const results_content& r);

/// True when `path` is a chorus results file.
bool is_results_file(const std::string& path);

}  // namespace chorus
