// chorus: the results file (layout documented in datasets/SCHEMA.md).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "chorus/core/types.hpp"
#include "chorus/graph/components.hpp"
#include "chorus/io/h5.hpp"

namespace chorus {

struct memory_input;

/// A results attribute: name and either a string or a number.
struct attribute {
  std::string name;
  std::string text;
  double number = 0;
  bool is_text = true;
  bool is_integer = false;  ///< store `number` as int64 (counts, sizes)
};

/// One rank's share of a multi-process job and its timings (/ranks in the results file).
struct rank_record {
  std::int64_t row_begin = 0, row_end = 0;  ///< rows [row_begin, row_end) were this rank's
  std::int64_t pairs = 0, candidates = 0, edges = 0;
  double seconds_read = 0, seconds_score = 0;
  double seconds_local = 0;      ///< writing its edge shard and its union-find forest
  std::uint64_t bytes_sent = 0;  ///< forest merge: bytes this rank sent
  std::string host;
};

/// Everything a results file holds.
struct results_content {
  const std::vector<std::int64_t>* labels = nullptr;
  const std::vector<std::int64_t>* ids = nullptr;
  /// When set: /accounts/row_checksum (chorus/job/update.hpp), what an incremental run compares.
  const std::vector<std::uint64_t>* row_checksums = nullptr;
  const std::vector<edge>* edges = nullptr;  ///< in-memory edges, or
  edge_visitor edge_stream;                  ///< edges in (src, dst) order, chunk by chunk
  std::uint64_t edge_count = 0;              ///< with edge_stream: how many it yields
  const cluster_table* clusters = nullptr;
  const truth_match* truth = nullptr;  ///< null without ground truth
  std::vector<attribute> attributes;   ///< root attributes (parameters, identity, timings)
  /// When set: the input file the results were computed from; write_results then adds
  /// /evidence (chorus/outputs/evidence.hpp) computed in-process from `labels`, `ids`,
  /// `clusters`, the edges as they are written (or the shards), the "view", "threshold" and
  /// "threshold_activity" attributes, and this input's /activity rows and /accounts/handle of
  /// the accounts that have an edge (raw counts: the prepared activity view is centred and
  /// normalised, so it cannot stand in for them). No read-back of the results file.
  std::string evidence_input;
  /// With evidence_input: the input held in memory it names (read instead of a file).
  const memory_input* evidence_memory = nullptr;
  /// Multi-process jobs: when set, the four /edges datasets are virtual datasets (HDF5 VDS)
  /// that concatenate these shard files in order (`edges`/`edge_stream` are then not written).
  /// Shard paths are relative to the results file's directory.
  std::vector<std::pair<std::string, std::uint64_t>> edge_shards;
  const std::vector<rank_record>* ranks = nullptr;  ///< when set: the /ranks group
  /// When set: writes further datasets into the results file (still open, before its
  /// attributes), e.g. the co-action views' /edges/weight_* and /coaction.
  std::function<void(const h5::handle&)> extra;
};

/// Write one rank's edges, in (src, dst) order, to an HDF5 file with the same four /edges
/// datasets as a results file (a shard; see results_content::edge_shards), and fsync it.
/// `count` is how many edges `edges` yields.
void write_edge_shard(const std::string& path, const edge_visitor& edges, std::uint64_t count);

/// Visit the edges of shard files in order, chunk by chunk.
edge_visitor visit_shards(const std::vector<std::string>& paths);

/// Refuse an output that exists (unless `force`) or whose directory is not writable; call
/// before any work so that a run never fails at the end for a reason known at the start.
void check_output_path(const std::string& path, bool force);

/// Write atomically: a temporary file in the same directory, fsync, rename over `path`.
/// On any error the temporary file is removed and nothing is left at `path` (an existing
/// file at `path` stays untouched).
void write_results(const std::string& path, const results_content& r);

/// Results of a multi-process run keep /edges in shard files next to the results file (HDF5
/// virtual datasets); throws input_error naming the first shard that is missing.
void check_edge_shards(const std::string& path);

/// True when `path` is a chorus results file.
bool is_results_file(const std::string& path);

}  // namespace chorus
