// chorus: human-readable descriptions of input and results files, and the demo job.
#pragma once

#include <ostream>
#include <string>

namespace chorus {

/// Describe an input file (views, shapes, dtypes, truth) or a results file (parameters,
/// identity, counts, largest clusters) on `os`. Any other HDF5 file gets a listing of its
/// datasets and a line saying why it is not a chorus input; throws input_error only when the
/// file cannot be read as HDF5.
void describe_file(const std::string& path, std::ostream& os);

/// Options of `chorus demo`.
struct demo_options {
  std::int64_t accounts = 100000;
  int dim = 384, bins = 336, clusters = 30;
  std::uint64_t seed = 2026;
  int threads = 0;
  std::string workdir;  ///< empty: a fresh directory under $TMPDIR or /tmp
  bool progress = true;
  bool vectors = false;  ///< the vector demo (generate vectors, detect) instead of posts
  std::int64_t posts_accounts = 20000;  ///< accounts of the posts demo
  int campaigns = 12;                   ///< planted campaigns of the posts demo
};

/// Generate a data set with planted clusters, detect on the best backend present, print the
/// clusters found with their precision/recall against the planted truth. Returns 0.
int run_demo(const demo_options& opt, std::ostream& os);

/// The analyst's path: generate a posts corpus with planted campaigns and decoys, ingest it,
/// detect with the recommended settings, print precision and recall against the campaigns and
/// the decoys flagged (host/job/demo_posts.cpp). Returns 0.
int run_posts_demo(const demo_options& opt, std::ostream& os);

/// The demo's working directory: `workdir` (created when missing) or a fresh temporary one.
std::string demo_workdir(const std::string& workdir);

}  // namespace chorus
