// chorus: the JSON summary of a detection run (--json).
#include "chorus/job/summary.hpp"

#include <cmath>
#include <cstdio>
#include <sstream>

namespace chorus {

std::string json_quote(const std::string& v) {
  std::string e = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') {
      e += '\\', e += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", c);
      e += b;
    } else {
      e += c;
    }
  }
  return e + "\"";
}

namespace {
// The views a decision mode reads, as JSON strings.
std::string views_used(const std::string& mode) {
  if (mode == "embedding") return "\"embedding\"";
  if (mode == "activity") return "\"activity\"";
  if (mode.rfind("co_", 0) == 0) return "\"" + mode + "\"";
  return "\"embedding\",\"activity\"";
}
}  // namespace

std::string to_json(const detect_summary& s) {
  std::ostringstream o;
  const auto str = json_quote;
  auto num = [&](double v) {
    if (!std::isfinite(v)) return std::string("null");
    std::ostringstream x;
    x.precision(10);
    x << v;
    return x.str();
  };
  o << "{\"input\":" << str(s.input) << ",\"output\":" << str(s.output)
    << ",\"backend\":" << str(s.backend) << ",\"view\":" << str(s.view)
    << ",\"precision\":" << str(s.precision_used) << ",\"detail\":" << str(s.detail)
    << ",\"accounts\":" << s.accounts << ",\"pairs\":" << s.pairs
    << ",\"candidates\":" << s.candidates << ",\"edges\":" << s.edges
    << ",\"edges_before_topk\":" << s.edges_before_topk << ",\"clusters\":" << s.clusters
    << ",\"clustered_accounts\":" << s.clustered_accounts
    << ",\"largest_cluster\":" << s.largest_cluster
    << ",\"invalid_embedding_rows\":" << s.invalid_embedding
    << ",\"invalid_activity_rows\":" << s.invalid_activity
    << ",\"resumed_units\":" << s.resumed_units << ",\"checkpoints\":" << s.checkpoints
    << ",\"thresholds\":{\"embedding\":" << num(s.threshold)
    << ",\"activity\":" << num(s.threshold_activity) << ",\"weight\":" << num(s.weight) << "}"
    << ",\"views_used\":[" << views_used(s.view) << "],\"activity_transform\":" << str(s.transform)
    << ",\"topk\":" << s.topk << ",\"threads\":" << s.threads
    << ",\"edges_spilled\":" << (s.spilled ? "true" : "false")
    << ",\"min_activity\":" << num(s.min_activity)
    << ",\"accounts_below_min_activity\":" << s.below_min_activity << ",\"warnings\":[";
  for (std::size_t i = 0; i < s.warnings.size(); ++i) o << (i ? "," : "") << str(s.warnings[i]);
  o << "],\"cluster_sizes\":[";
  for (std::size_t i = 0; i < s.cluster_sizes.size(); ++i)
    o << (i ? "," : "") << s.cluster_sizes[i];
  o << "],\"seconds\":{\"read\":" << num(s.seconds_read) << ",\"score\":" << num(s.seconds_score)
    << ",\"components\":" << num(s.seconds_components) << ",\"write\":" << num(s.seconds_write)
    << ",\"merge\":" << num(s.seconds_merge) << ",\"total\":" << num(s.seconds_total) << "}";
  if (!s.update.previous.empty()) {
    const update_lineage& u = s.update;
    o << ",\"update\":{\"previous\":" << str(u.previous)
      << ",\"previous_input\":" << str(u.previous_input) << ",\"rows_new\":" << u.rows_new
      << ",\"rows_changed\":" << u.rows_changed << ",\"rows_removed\":" << u.rows_removed
      << ",\"rows_unchanged\":" << u.rows_unchanged << ",\"edges_carried\":" << u.edges_carried
      << ",\"edges_dropped\":" << u.edges_dropped << ",\"pairs_full\":" << u.pairs_full << "}";
  }
  o << ",\"ranks\":" << s.ranks << ",\"per_rank\":[";
  for (std::size_t r = 0; r < s.rank_records.size(); ++r) {
    const auto& x = s.rank_records[r];
    o << (r ? "," : "") << "{\"rank\":" << r << ",\"host\":" << str(x.host)
      << ",\"row_begin\":" << x.row_begin << ",\"row_end\":" << x.row_end
      << ",\"pairs\":" << x.pairs << ",\"candidates\":" << x.candidates << ",\"edges\":" << x.edges
      << ",\"seconds_read\":" << num(x.seconds_read)
      << ",\"seconds_score\":" << num(x.seconds_score)
      << ",\"seconds_local\":" << num(x.seconds_local) << ",\"bytes_sent\":" << x.bytes_sent << "}";
  }
  o << "]";
  if (s.view.rfind("co_", 0) == 0)
    o << ",\"coaction\":{\"window\":" << s.window << ",\"min_weight\":" << s.min_weight
      << ",\"normalize\":" << str(s.normalize) << ",\"objects\":" << s.objects
      << ",\"occurrences\":" << s.occurrences << ",\"posts_used\":" << s.posts_used
      << ",\"directed_rows\":" << s.directed_rows;
  if (s.view == "co_similar") o << ",\"similarity\":" << num(s.similarity);
  if (s.view.rfind("co_", 0) == 0) o << "}";
  if (s.significance > 0)
    o << ",\"significance\":{\"resamples\":" << s.significance
      << ",\"models\":" << str(s.significance_models) << ",\"tested\":" << s.significance_tested
      << ",\"p_below_0.001\":" << s.significance_p0001
      << ",\"q_below_0.05\":" << s.significance_q005
      << ",\"seconds\":" << num(s.seconds_significance) << "}";
  if (s.has_truth)
    o << ",\"truth\":{\"precision\":" << num(s.truth.precision)
      << ",\"recall\":" << num(s.truth.recall)
      << ",\"planted_clusters\":" << s.truth.planted_clusters
      << ",\"planted_recovered\":" << s.truth.planted_recovered << "}";
  o << "}";
  return o.str();
}

}  // namespace chorus
