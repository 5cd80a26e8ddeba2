// chorus (private): small helpers the detection jobs share (dense, co-action, --edges).
#pragma once

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <string>

#include "chorus/core/error.hpp"
#include "chorus/job/detect.hpp"
#include "chorus/scan/checkpoint.hpp"

namespace chorus::job_support {

using clock_type = std::chrono::steady_clock;

/// Seconds since `t`.
inline double since(clock_type::time_point t) {
  return std::chrono::duration<double>(clock_type::now() - t).count();
}

/// `path` made absolute (the report and evidence read the input from another folder later).
inline std::string absolute_path(const std::string& path) {
  char buf[PATH_MAX];
  return ::realpath(path.c_str(), buf) ? std::string(buf) : path;
}

/// True when the user gave the command-line option `name` (detect_options::options_given).
inline bool given(const detect_options& opt, const char* name) {
  return std::find(opt.options_given.begin(), opt.options_given.end(), name) !=
         opt.options_given.end();
}

/// Ends the job with interrupted_error (exit code 4) when a stop was asked for
/// (detect_options::stop, else the process's SIGINT/SIGTERM flag). Called between phases that do
/// not poll, so that a stop never lets a job run on to write its results.
inline void check_stop(const detect_options& opt, const char* before) {
  const bool stop = opt.stop ? opt.stop() : stop_requested();
  if (stop) CHORUS_THROW(interrupted_error, "stopped before ", before, "; nothing was written");
}

}  // namespace chorus::job_support

namespace chorus::coaction {
struct object_index;
}
namespace chorus::significance {
struct result;
}

namespace chorus::job_support {

/// --significance's options checked before any work: options it needs or the view ignores.
/// `activity_model`: the view has the activity null (activity, both, fused).
void check_significance_request(const detect_options& opt, bool activity_model);

/// The dense views' significance (content, activity, both, fused) of the run's clusters; fills
/// the summary's significance fields. `period_bins`: the activity null's shift unit
/// (significance::activity_period, found when the job was planned).
significance::result dense_significance(const detect_options& opt, view_mode mode,
                                        const loaded_input& in, const cluster_table& table,
                                        std::int64_t period_bins, detect_summary& s);

/// A co-action view's significance over its object index.
significance::result coaction_significance(const detect_options& opt,
                                           const coaction::object_index& index,
                                           const cluster_table& table,
                                           const std::vector<std::int64_t>& ids, detect_summary& s);

}  // namespace chorus::job_support
