// chorus: the significance phase of a detection job (after the cluster tables, before the
// results file): which null models a view gets, the summary's counts, the option checks.
#include <cmath>
#include <limits>

#include "chorus/coaction/coaction.hpp"
#include "chorus/io/input.hpp"
#include "chorus/significance/significance.hpp"
#include "job_support.hpp"

namespace chorus::job_support {

void check_significance_request(const detect_options& opt, bool activity_model) {
  for (const char* o : {"--significance-seed", "--null-period"})
    CHORUS_EXPECTS(opt.significance > 0 || !given(opt, o), o,
                   " sets up the significance test, which runs only with --significance K");
  if (opt.significance <= 0) return;
  CHORUS_EXPECTS(opt.edges.empty(),
                 "--significance tests the clusters of one view (--view); it does not serve "
                 "--edges expressions yet: run the view whose clusters you want tested");
  CHORUS_EXPECTS(activity_model || !given(opt, "--null-period"),
                 "--null-period is the activity null model's shift unit, which --view ", opt.view,
                 " does not use");
}

namespace {

significance::options options_of(const detect_options& opt) {
  significance::options so;
  so.resamples = opt.significance;
  so.seed = opt.significance_seed;
  so.threads = opt.threads;
  return so;
}

void fill_summary(const significance::result& r, detect_summary& s) {
  const significance::tally t = significance::count(r);
  s.significance = r.resamples;
  s.significance_models.clear();
  for (const auto& m : r.models)
    s.significance_models += (s.significance_models.empty() ? "" : " ") + m.model;
  s.significance_tested = t.tested;
  s.significance_p0001 = t.below_0001;
  s.significance_q005 = t.q_below_005;
  s.seconds_significance = r.seconds;
  for (const auto& m : r.models)
    for (const std::string& w : m.warnings) s.warnings.push_back("--significance: " + w);
}

}  // namespace

significance::result dense_significance(const detect_options& opt, view_mode mode,
                                        const loaded_input& in, const cluster_table& table,
                                        std::int64_t period_bins, detect_summary& s) {
  check_stop(opt, "the significance test");
  const auto t = clock_type::now();
  significance::options so = options_of(opt);
  const bool content = mode != view_mode::activity, activity = mode != view_mode::embedding;
  std::vector<significance::model_result> models;
  if (mode == view_mode::fused) so.keep_samples = std::numeric_limits<std::int64_t>::max();
  if (content) models.push_back(significance::content_null(in.embedding, table, in.ids, so));
  if (activity) {
    so.period_bins = period_bins;
    models.push_back(significance::activity_null(in.activity, table, in.ids, so));
  }
  if (mode == view_mode::fused)
    models = {significance::fused_null(models[0], models[1], opt.weight, so.resamples)};
  significance::result r = significance::combine(std::move(models), so.resamples, so.seed);
  r.seconds = since(t);
  fill_summary(r, s);
  s.significance_period = so.period_bins;
  return r;
}

significance::result coaction_significance(const detect_options& opt,
                                           const coaction::object_index& index,
                                           const cluster_table& table,
                                           const std::vector<std::int64_t>& ids,
                                           detect_summary& s) {
  check_stop(opt, "the significance test");
  const auto t = clock_type::now();
  const significance::options so = options_of(opt);
  significance::result r = significance::combine(
      {significance::coaction_null(index, opt.window, table, ids, so)}, so.resamples, so.seed);
  r.seconds = since(t);
  fill_summary(r, s);
  return r;
}

}  // namespace chorus::job_support
