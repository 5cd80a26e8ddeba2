// chorus: export a results file for graph tools (GraphML, GEXF 1.3) and for pandas (CSV).
#pragma once

#include <cstdint>
#include <string>

namespace chorus {

/// Export the coordinated subgraph of the results file `results`: the clusters with at least
/// `min_size` members, their members and their edges.
///
/// `format`:
/// - "graphml": one GraphML file at `out`; node attributes row, account_id, handle (when the
///   results hold /evidence/cluster_member_handles), cluster, degree; edge attributes
///   sim_embedding, sim_activity (omitted where NaN), coactive_count (when /evidence has it).
/// - "gexf": the same graph as one GEXF 1.3 file at `out` (undirected, static).
/// - "csv": `out` is a directory (created when missing) that receives clusters.csv,
///   members.csv and edges.csv (header row, comma separator, RFC 4180 quoting, NaN as an empty
///   field), readable with `pandas.read_csv(path)` without options.
///
/// Every file is written under a temporary name in its directory and renamed at the end; an
/// existing output is refused unless `force`. Throws input_error (exit 2) for an unknown format,
/// `min_size` < 1, a file that is not a chorus results file, an existing output without force or
/// an unwritable destination; runtime_failure for I/O failures on the way.
void export_results(const std::string& results, const std::string& format, const std::string& out,
                    std::int64_t min_size, bool force);

}  // namespace chorus
