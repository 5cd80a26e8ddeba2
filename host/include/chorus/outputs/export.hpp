// chorus: export a results file for graph tools (GraphML, GEXF 1.2) and for pandas (CSV).
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace chorus {

/// Export the coordinated subgraph of the results file `results`: the clusters with at least
/// `min_size` members, their members and their edges.
///
/// `format`:
/// - "graphml": one GraphML file at `out`; node attributes row, account_id, handle (when the
///   results hold /evidence/cluster_member_handles), cluster, degree; edge attributes
///   sim_embedding, sim_activity (omitted where NaN), coactive_count (when /evidence has it).
/// - "gexf": the same graph as one GEXF 1.2 file at `out` (undirected, static).
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

/// Everything `chorus export` takes.
struct export_options {
  std::string results, format, out;
  std::int64_t min_size = 2;
  bool force = false;
  /// A key file (chorus keygen): every account id and handle is written as its pseudonym
  /// (pseudonym.hpp), node ids are account pseudonyms and the results' row numbers are left out.
  /// Empty: the originals.
  std::string pseudonymize;
  bool redact_text = false;    ///< texts as "[redacted]" (needs pseudonymize)
  bool write_mapping = false;  ///< merge pseudonym,kind,original into the key's mapping file
  /// Only clusters with /clusters/p_value <= max_p (chorus detect --significance); NaN: all.
  double max_p = NAN;
};

/// What an export did besides writing its files.
struct export_outcome {
  std::vector<std::string> warnings;  ///< for stderr (a key file others can read)
  std::string mapping_path;           ///< the mapping file merged into, when write_mapping
  std::size_t mapping_added = 0;      ///< rows it gained
};

/// export_results above with every option. Besides the formats' columns, results of
/// `chorus detect --significance` add p_value and q_value to clusters.csv and the node
/// attributes cluster_p_value and cluster_q_value everywhere else. Throws input_error also for
/// --redact-text or --write-mapping without a key, a key file that is missing or malformed, and
/// max_p on results without p-values (nothing is written then).
export_outcome export_results(const export_options& opt);

}  // namespace chorus
