// chorus: analyst-facing evidence added to a results file (layout in datasets/SCHEMA.md,
// section "Evidence").
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "chorus/graph/components.hpp"
#include "chorus/io/h5.hpp"

namespace chorus {

struct memory_input;

/// Number of bins of the per-cluster similarity histograms.
constexpr int evidence_hist_bins = 20;
/// Columns of /evidence/cluster_top_bins and /evidence/cluster_exemplars.
constexpr int evidence_top_bins = 5;
constexpr int evidence_exemplars = 3;

/// What the evidence is computed from: the results as the caller holds them (in memory, or read
/// from a results file), and the input file they were computed from, which supplies the
/// activity rows and handles of the accounts that have an edge (only those rows are read; the
/// activity is kept sparse: non-zero bins). The vectors must outlive the computation.
struct evidence_inputs {
  const std::vector<std::int64_t>* labels = nullptr;   ///< per row: cluster id, or -1
  const std::vector<std::int64_t>* ids = nullptr;      ///< per row: account id (/accounts/id)
  const std::vector<std::int64_t>* offsets = nullptr;  ///< cluster CSR (cluster_table::offsets)
  const std::vector<std::int64_t>* members = nullptr;  ///< cluster_table::members
  /// The edges in (src, dst) order, as /edges holds them (used by compute_evidence; a caller
  /// that streams the edges to evidence_builder::add itself may leave it empty).
  edge_visitor edges;
  std::uint64_t edge_count = 0;  ///< how many edges there are
  /// Histogram ranges: the results' "view", "threshold" and "threshold_activity" attributes
  /// (-1 where absent).
  std::string view;
  double threshold = -1, threshold_activity = -1;
  std::string input_path;  ///< the input file (its account ids must equal `ids`)
  /// An input held in memory, read instead of the file (input_path then only names it).
  const memory_input* memory = nullptr;
  std::int64_t max_bins_per_edge = 32;
  std::string results_name;  ///< the results file, for messages
};

/// Per-edge evidence of the consecutive edges [first, first + count): per edge the number of
/// time bins where both accounts were active, the end of its bins in the concatenated bins list
/// (/evidence/edge_coactive_offsets[first + 1 ...]), and the bins themselves (at most
/// max_bins_per_edge per edge, largest joint counts first).
struct evidence_edge_rows {
  std::uint64_t first = 0, count = 0;
  const std::int32_t* coactive_count = nullptr;  ///< count values
  const std::int64_t* offsets_end = nullptr;     ///< count values
  const std::int32_t* bins = nullptr;
  std::size_t bin_count = 0;
};
using evidence_edge_sink = std::function<void(const evidence_edge_rows&)>;

/// Per-cluster evidence (O(clusters + members)): the /evidence datasets besides the per-edge ones.
struct evidence_tables {
  std::uint64_t clusters = 0;
  bool has_activity = false;  ///< the input has /activity (per-edge rows and top bins exist)
  bool has_handles = false;   ///< the input has /accounts/handle
  std::vector<std::int64_t> member_ids, member_degree;      ///< per /clusters/members entry
  std::vector<std::string> member_handles;                  ///< per member, when has_handles
  double lo_embedding = -1, lo_activity = -1;               ///< histogram ranges [lo, 1]
  std::vector<std::int64_t> hist_embedding, hist_activity;  ///< clusters x evidence_hist_bins
  std::vector<std::int32_t> top_bins;                       ///< clusters x evidence_top_bins
  std::vector<double> top_bin_counts;                       ///< clusters x evidence_top_bins
  std::vector<std::int64_t> exemplars;                      ///< clusters x evidence_exemplars
  std::int64_t max_bins_per_edge = 32;
  std::string input_path;
};

/// Evidence computed while the edges stream by: construct (validates the inputs against each
/// other and against the input file, and reads the activity rows it needs), add() every edge in
/// order, then finish(). Throws input_error when the input does not match (account count or
/// ids differ), when an edge does not join two members of one cluster, or `max_bins_per_edge`
/// < 0; runtime_failure on I/O failures.
class evidence_builder {
 public:
  explicit evidence_builder(const evidence_inputs& in);
  ~evidence_builder();
  evidence_builder(const evidence_builder&) = delete;
  evidence_builder& operator=(const evidence_builder&) = delete;
  /// True when the input has /activity.
  bool has_activity() const;
  /// The next `k` edges; their per-edge rows (only with activity) go to `sink` (may be empty).
  void add(const edge* edges, std::size_t k, const evidence_edge_sink& sink);
  /// After all edge_count edges: the per-cluster tables (reads the members' handles).
  evidence_tables finish();

 private:
  struct state;
  std::unique_ptr<state> s_;
};

/// Visit `in.edges` through an evidence_builder.
evidence_tables compute_evidence(const evidence_inputs& in, const evidence_edge_sink& sink = {});

/// Writes the /evidence group into a results file open for writing.
class evidence_writer {
 public:
  /// Replace /evidence in `file` (removing one that is there); with activity, create the
  /// per-edge datasets for `edges` edges.
  evidence_writer(const h5::handle& file, bool has_activity, std::uint64_t edges);
  /// Per-edge rows, in edge order.
  void write(const evidence_edge_rows& rows);
  evidence_edge_sink sink() {
    return [this](const evidence_edge_rows& r) { write(r); };
  }
  /// The per-cluster datasets and the attributes (root attribute "evidence" = 1 included).
  void finish(const evidence_tables& t);

 private:
  const h5::handle& file_;
  h5::handle group_, offsets_, counts_, bins_;
  std::uint64_t bins_written_ = 0;
};

/// Open the results file `results_path` read-write and add the /evidence group (replacing one
/// that is already there), computed from the results and from the input file `input_path`:
/// per edge the time bins where both accounts were active (at most `max_bins_per_edge` per edge,
/// largest joint counts first), per cluster member ids and handles, similarity histograms, the
/// busiest time bins and exemplar members. (write_results computes the same in-process, from
/// what it writes, when results_content::evidence_input is set.)
///
/// Edges are streamed in chunks; only the activity rows of accounts that have an edge are kept
/// (sparse: their non-zero bins). Throws input_error when the input does not match the results
/// (account count or ids differ), the results file is damaged, or `max_bins_per_edge` < 0;
/// runtime_failure on I/O failures.
void add_evidence(const std::string& results_path, const std::string& input_path,
                  std::int64_t max_bins_per_edge = 32);

}  // namespace chorus
