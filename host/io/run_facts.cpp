// chorus: the root attributes of a results file.
#include "chorus/io/run_facts.hpp"

#include "chorus/job/update.hpp"
#include "chorus/version.hpp"

namespace chorus {

std::vector<attribute> results_attributes(const run_facts& f) {
  std::vector<attribute> a;
  auto text = [&](const char* k, std::string v) { a.push_back({k, std::move(v), 0, true}); };
  auto num = [&](const char* k, double v) { a.push_back({k, "", v, false, false}); };
  auto count = [&](const char* k, double v) { a.push_back({k, "", v, false, true}); };
  text("chorus_version", CHORUS_VERSION);
  text("input_path", f.input_path);
  count("input_size_bytes", static_cast<double>(f.input_size));
  text("input_checksum", f.input_checksum);
  count("accounts", static_cast<double>(f.accounts));
  count("embedding_dim", static_cast<double>(f.embedding_dim));
  count("activity_bins", static_cast<double>(f.activity_bins));
  text("view", f.view);
  num("threshold", f.threshold);
  num("threshold_activity", f.threshold_activity);
  num("weight", f.weight);
  text("activity_transform", f.activity_transform);
  count("topk", static_cast<double>(f.topk));
  count("max_edges", static_cast<double>(f.max_edges));
  text("backend", f.backend);
  text("precision_requested", f.precision_requested);
  text("precision_used", f.precision_used);
  text("gpu_kernel_requested", f.gpu_kernel_requested);
  text("backend_detail", f.backend_detail);
  count("device", f.device);
  count("threads", f.threads);
  count("ranks", f.ranks);
  count("tile_rows", static_cast<double>(f.tile_rows));
  count("tile_cols", static_cast<double>(f.tile_cols));
  count("pairs", static_cast<double>(f.pairs));
  count("candidates", static_cast<double>(f.candidates));
  count("edges_before_topk", static_cast<double>(f.edges_before_topk));
  count("edges", static_cast<double>(f.edges));
  count("edges_written", static_cast<double>(f.edges_written));
  count("max_memory_mib", static_cast<double>(f.max_memory_mib));
  count("edges_spilled", f.edges_spilled ? 1.0 : 0.0);
  count("clusters", static_cast<double>(f.clusters));
  count("invalid_embedding_rows", static_cast<double>(f.invalid_embedding_rows));
  count("invalid_activity_rows", static_cast<double>(f.invalid_activity_rows));
  num("min_activity", f.min_activity);
  count("accounts_below_min_activity", static_cast<double>(f.below_min_activity));
  num("seconds_read", f.seconds_read);
  num("seconds_score", f.seconds_score);
  num("seconds_components", f.seconds_components);
  if (f.row_checksums) text("row_checksum", row_checksum_rule);
  if (!f.input_date.empty()) text("input_date", f.input_date);
  if (f.update) {
    const update_lineage& u = *f.update;
    text("update_of", u.previous);
    text("update_of_input", u.previous_input);
    text("update_of_input_checksum", u.previous_input_checksum);
    count("rows_new", static_cast<double>(u.rows_new));
    count("rows_changed", static_cast<double>(u.rows_changed));
    count("rows_removed", static_cast<double>(u.rows_removed));
    count("rows_unchanged", static_cast<double>(u.rows_unchanged));
    count("edges_carried", static_cast<double>(u.edges_carried));
    count("edges_dropped", static_cast<double>(u.edges_dropped));
    count("pairs_full", static_cast<double>(u.pairs_full));
  }
  if (f.truth) {
    num("truth_precision", f.truth->precision);
    num("truth_recall", f.truth->recall);
  }
  return a;
}

}  // namespace chorus
