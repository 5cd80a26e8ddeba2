// chorus: connected components, canonical labels, top-k pruning and per-cluster statistics.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "chorus/core/types.hpp"

namespace chorus {

/// Visits a graph's edges in chunks: visit(fn) calls fn(edges, count) until all were seen.
using edge_visitor = std::function<void(const std::function<void(const edge*, std::size_t)>&)>;
/// A visitor over an in-memory edge list.
edge_visitor visit_vector(const std::vector<edge>& edges);

/// Component roots from visited edges (used when the edge list was spilled to disk).
std::vector<std::int64_t> component_roots(std::int64_t n, const edge_visitor& edges,
                                          int threads = 0);

/// Root of every row after a parallel union-find over `edges`: the smallest row of its component.
std::vector<std::int64_t> component_roots(std::int64_t n, const std::vector<edge>& edges,
                                          int threads = 0);

/// Canonical labels from roots: -1 for rows alone in their component (no edge); otherwise
/// clusters numbered 0,1,2,... by size descending, ties by smallest member row.
/// Returns the number of clusters in `clusters`.
std::vector<std::int64_t> canonical_labels(const std::vector<std::int64_t>& roots,
                                           std::int64_t& clusters);

/// Keep, for each account, its k strongest edges (strength per decision mode; ties by the
/// other end's row); an edge stays when either end keeps it. Output sorted by (src, dst).
std::vector<edge> keep_topk(std::int64_t n, const std::vector<edge>& edges, std::int64_t k,
                            const decision_params& params);

/// Per-cluster table (one entry per cluster id).
struct cluster_table {
  std::vector<std::int64_t> size;
  std::vector<std::int64_t>
      offsets;  ///< CSR: members of cluster c are members[offsets[c]..offsets[c+1])
  std::vector<std::int64_t> members;                          ///< rows, ascending within a cluster
  std::vector<std::int64_t> edges;                            ///< internal edges
  std::vector<double> density;                                ///< edges / (size (size-1) / 2)
  std::vector<double> mean_sim_embedding, min_sim_embedding;  ///< over internal edges; NaN unused
  std::vector<double> mean_sim_activity, min_sim_activity;
  std::vector<double> synchrony;  ///< mean Pearson of members' activity with the cluster's mean
                                  ///< activity profile; NaN without the activity view
};

/// Build the table. `activity` may be null (synchrony is then NaN).
cluster_table cluster_statistics(const std::vector<std::int64_t>& labels, std::int64_t clusters,
                                 const edge_visitor& edges, const view_matrix* activity);
inline cluster_table cluster_statistics(const std::vector<std::int64_t>& labels,
                                        std::int64_t clusters, const std::vector<edge>& edges,
                                        const view_matrix* activity) {
  return cluster_statistics(labels, clusters, visit_vector(edges), activity);
}

/// Agreement of found clusters with planted truth (-1 = organic).
struct truth_match {
  std::int64_t planted_clusters = 0, planted_accounts = 0;
  std::int64_t flagged_accounts = 0,
               flagged_planted = 0;       ///< accounts in any cluster; of them planted
  double precision = 0;                   ///< flagged_planted / flagged_accounts (accounts)
  double recall = 0;                      ///< flagged planted accounts / planted accounts
  std::vector<std::int64_t> best;         ///< per found cluster: best planted cluster or -1
  std::vector<double> cluster_precision;  ///< per found cluster: overlap / size
  std::vector<double> cluster_recall;     ///< per found cluster: overlap / planted size
  std::int64_t planted_recovered =
      0;  ///< planted clusters with a found cluster of recall >= 0.5 and precision >= 0.9
};

truth_match match_truth(const std::vector<std::int64_t>& labels, std::int64_t clusters,
                        const std::vector<std::int64_t>& truth);

}  // namespace chorus
