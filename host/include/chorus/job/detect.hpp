// chorus: the detection job, from an input file to a results file.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "chorus/core/types.hpp"
#include "chorus/graph/components.hpp"
#include "chorus/io/input.hpp"
#include "chorus/io/results.hpp"
#include "chorus/io/run_facts.hpp"

namespace chorus {

/// Everything `chorus detect` takes.
struct detect_options {
  std::string input, output;
  bool force = false;                      ///< overwrite an existing results file
  std::string view = "auto";               ///< auto|embedding|activity|both|fused
  double threshold = defaults::threshold;  ///< embedding (or fused) threshold
  double threshold_activity = defaults::threshold_activity;
  double weight = defaults::weight;  ///< fused: weight of the embedding view
  /// Set when the user gave the value (the CLI's --threshold, --threshold-activity, --weight):
  /// a value the chosen view does not use is then an error, never silently ignored.
  bool threshold_given = false, threshold_activity_given = false, weight_given = false;
  /// --min-activity: an account whose activity row sums to fewer posts is left out of the
  /// activity view (a sparse row correlates perfectly by chance; README, "Views").
  double min_activity = defaults::min_activity;
  /// --allow-empty-view: write results even when a view the run uses has no row that can get
  /// an edge (otherwise an input_error: such a run cannot find anything).
  bool allow_empty_view = false;
  activity_transform transform = activity_transform::none;
  std::int64_t topk = 0;  ///< 0: keep all edges
  std::int64_t max_edges = defaults::max_edges;
  int threads = 0;  ///< 0: all cores
  backend_kind backend = backend_kind::automatic;
  precision prec = precision::automatic;
  std::int64_t tile_rows = defaults::tile_rows, tile_cols = defaults::tile_cols;
  std::uint64_t max_memory_mib = 0;  ///< --max-memory: host memory cap (0: none)
  std::string checkpoint_dir;        ///< --checkpoint DIR (empty: none)
  double checkpoint_interval = defaults::checkpoint_interval;  ///< --checkpoint-interval
  bool resume = false;                                         ///< --resume
  int device = 0;                                              ///< CUDA device ordinal
  gpu_kernel kernel = gpu_kernel::automatic;                   ///< --gpu-kernel
  std::uint64_t gpu_memory_mib = 0;  ///< cap on device memory (0: what is free)
  /// Co-action views (--view co_repost, ...; chorus/coaction/coaction.hpp): window in seconds
  /// (inclusive), the weight an edge needs, and evidence rows kept per edge.
  std::int64_t window = 60, min_weight = 1, evidence_cap = 20;
  double similarity = 0.9;  ///< co_similar: Jaccard threshold of the posts' token sets
  /// The command-line options the user gave ("--window", ...): an option the chosen view does
  /// not use is an error, never silently ignored. Empty when not run from the command line.
  std::vector<std::string> options_given;
  /// --edges EXPR: views combined by an expression (chorus/combine/expression.hpp); empty: --view.
  std::string edges;
  bool write_edges = true;
  /// --update PREVIOUS: an incremental run (chorus/job/update.hpp) from the results of a run on
  /// an earlier version of the input: only the pairs that touch a new or changed account are
  /// scored; the results equal a full run's. Empty: a full run.
  std::string update;
  bool evidence = true;  ///< add /evidence (co-active bins per edge, per-cluster evidence)
  /// --significance K: a p-value per cluster from K resamples of its members under the view's
  /// null model (chorus/significance/significance.hpp); 0: off.
  std::int64_t significance = 0;
  std::uint64_t significance_seed = 1;  ///< --significance-seed
  std::int64_t null_period = 0;         ///< --null-period: activity shift unit in bins (0: a day)
  /// An input held in memory (chorus's Python package), used instead of the file `input`
  /// (which then only names it); dense views, one process. Must outlive the run.
  const memory_input* memory = nullptr;
  /// Stop request (Ctrl-C in a notebook): polled between units of work; unset: the process's
  /// stop flag (SIGINT, SIGTERM).
  std::function<bool()> stop;
  /// Stage progress: (stage name, done, total). Unset: silent.
  std::function<void(const char*, std::int64_t, std::int64_t)> progress;
};

/// What a detection run found and how long it took.
struct detect_summary {
  std::string input, output, backend, view, precision_used, detail;
  double threshold = 0, threshold_activity = 0, weight = 0;  ///< the thresholds in effect
  std::string transform;                                     ///< --activity-transform
  std::int64_t topk = 0;
  int threads = 0;  ///< worker threads this process used
  std::int64_t accounts = 0, pairs = 0, candidates = 0, edges = 0, edges_before_topk = 0;
  std::int64_t clusters = 0, clustered_accounts = 0, largest_cluster = 0;
  std::int64_t invalid_embedding = 0, invalid_activity = 0;
  std::int64_t resumed_units = 0, checkpoints = 0;
  bool spilled = false;                 ///< the edge list passed --max-memory and went through disk
  double min_activity = 0;              ///< --min-activity in effect (activity views)
  std::int64_t below_min_activity = 0;  ///< accounts it left out of the activity view
  /// What the user must know about this run (misnamed datasets, views that lose many rows).
  std::vector<std::string> warnings;
  double seconds_read = 0, seconds_score = 0, seconds_components = 0, seconds_write = 0,
         seconds_total = 0;
  bool has_truth = false;
  truth_match truth;
  std::vector<std::int64_t> cluster_sizes;  ///< first clusters, largest first (at most 20)
  std::uint64_t checksum = 0;
  int ranks = 1;             ///< processes of the job (MPI ranks)
  double seconds_merge = 0;  ///< forest merge across ranks (part of seconds_components)
  std::vector<rank_record> rank_records;  ///< per rank (rank 0's summary only)
  /// --update: what the run took from the previous one (update.previous empty otherwise).
  update_lineage update;
  /// Co-action views: window, min weight, normalisation of the input, objects and their
  /// occurrences, posts holding one, directed weights >= min weight (the toolkit's rows).
  std::int64_t window = 0, min_weight = 0, objects = 0, occurrences = 0, posts_used = 0,
               directed_rows = 0;
  std::string normalize;
  double similarity = 0;  ///< co_similar's Jaccard threshold
  /// --significance: resamples (0: off), the models, clusters with a p-value, with p < 0.001,
  /// with q < 0.05, and the seconds it took.
  std::int64_t significance = 0;
  std::string significance_models;
  std::int64_t significance_tested = 0, significance_p0001 = 0, significance_q005 = 0;
  double seconds_significance = 0;
  std::int64_t significance_period = 0;  ///< activity null: shift unit in bins
};

/// Name of rank `rank`'s edge shard next to `output` in a job of `ranks` processes:
/// OUTPUT.edges-RRRRR-of-PPPPP.h5 (the results file's /edges are virtual datasets over them).
std::string edge_shard_path(const std::string& output, int rank, int ranks);

/// Parse a view name; throws input_error.
view_mode parse_view(const std::string& name);
const char* to_string(view_mode m);
activity_transform parse_transform(const std::string& name);
const char* to_string(activity_transform t);
backend_kind parse_backend(const std::string& name);
precision parse_precision(const std::string& name);
gpu_kernel parse_gpu_kernel(const std::string& name);
const char* to_string(gpu_kernel k);

/// Run the whole job. Validates everything before any output exists; writes the results file
/// under a temporary name and renames it at the end, so no partial file is ever left.
/// Under MPI (mpi::active()) every rank calls it: each scores its share of the rows, writes an
/// edge shard and a union-find forest; rank 0 merges the forests and writes the results file,
/// whose labels, edges and cluster tables equal a one-process run's. Any rank's failure ends
/// every rank with that rank's error.
detect_summary run_detect(const detect_options& opt);

/// The co-action job run_detect hands a co-action view to (one process): posts, objects,
/// directed weights, edges, components, results with /edges/weight_* and /coaction.
detect_summary run_coaction(const detect_options& opt);

/// The job run_detect hands --edges EXPR to (one process): the dense engine for the conjuncts
/// without co-action terms, the co-action views, every candidate decided by every term; results
/// with /edges/terms and each co-action view's weights.
detect_summary run_combined(const detect_options& opt);

}  // namespace chorus
