// chorus: analyst-facing evidence added to a results file (layout in datasets/SCHEMA.md,
// section "Evidence").
#pragma once

#include <cstdint>
#include <string>

namespace chorus {

/// Number of bins of the per-cluster similarity histograms.
constexpr int evidence_hist_bins = 20;
/// Columns of /evidence/cluster_top_bins and /evidence/cluster_exemplars.
constexpr int evidence_top_bins = 5;
constexpr int evidence_exemplars = 3;

/// Open the results file `results_path` read-write and add the /evidence group (replacing one
/// that is already there), computed from the results and from the input file `input_path`:
/// per edge the time bins where both accounts were active (at most `max_bins_per_edge` per edge,
/// largest joint counts first), per cluster member ids and handles, similarity histograms, the
/// busiest time bins and exemplar members.
///
/// Edges are streamed in chunks; only the activity rows of accounts that have an edge are kept
/// (sparse: their non-zero bins). Throws input_error when the input does not match the results
/// (account count or ids differ) or `max_bins_per_edge` < 0, runtime_failure on I/O failures.
void add_evidence(const std::string& results_path, const std::string& input_path,
                  std::int64_t max_bins_per_edge = 32);

}  // namespace chorus
