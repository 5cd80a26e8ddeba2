// chorus: synthetic social-media data with planted coordinated clusters and decoys.
//
// The generator writes an HDF5 file in chorus' input layout (/accounts, /embedding, /activity)
// plus the ground truth (/truth). The model is described in datasets/GENERATOR.md.
// Every row is a pure function of (seed, row index), so the output is byte-identical for a
// seed whatever the thread count, and memory stays bounded for any number of accounts.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace chorus {

/// Parameters of one synthetic data set.
struct generate_options {
  std::int64_t accounts = 100000;  ///< N
  int dim = 384;                   ///< embedding dimension d; 0 = no /embedding dataset
  int bins = 336;                  ///< activity time bins T (hourly over 14 days); 0 = no /activity
  int clusters = 20;               ///< number of planted coordinated clusters C (needs 3*C <= N)
  std::uint64_t seed = 1;
  std::string out;      ///< output path
  bool force = false;   ///< overwrite an existing file
  bool handles = true;  ///< write /accounts/handle
};

/// What was planted.
struct generate_summary {
  std::int64_t accounts = 0, coordinated = 0, topic_decoys = 0, timing_decoys = 0;
  std::vector<std::int64_t> cluster_sizes;  ///< planted cluster c has cluster_sizes[c] members
};

/// Values of /truth/kind.
enum class account_kind : std::int8_t {
  organic = 0,
  coordinated = 1,
  topic_decoy = 2,   ///< organic crowd with near-identical content, independent timing
  timing_decoy = 3,  ///< scheduled bot: shared timing, unrelated content
};

/// Generate a data set and write it to opt.out (through a temporary file in the same directory
/// that is renamed at the end; no partial file is left behind on failure).
/// progress(fraction in [0,1]) is called from the calling thread after each block, if set; it
/// may throw to cancel (the temporary file is then removed and the exception propagates).
/// Throws input_error for bad options or an existing output without force, runtime_failure for
/// I/O failures.
generate_summary generate_dataset(const generate_options& opt,
                                  const std::function<void(double)>& progress = {});

}  // namespace chorus
