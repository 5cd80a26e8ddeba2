// chorus: incremental detection's plan: the previous results file, per-row checksums, the rows
// to score first and the edges carried over (chorus/job/update.hpp).
#include "chorus/job/update.hpp"

#include <sys/stat.h>
#include <xxhash.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <unordered_map>

#include "chorus/core/error.hpp"
#include "chorus/io/h5.hpp"
#include "chorus/io/results.hpp"
#include "chorus/scan/tiling.hpp"

namespace chorus {

namespace {

// Hash of one prepared row and its validity, chained onto `seed`.
std::uint64_t row_hash(const view_matrix& v, std::int64_t i, std::uint64_t seed) {
  const std::uint64_t h = XXH3_64bits_withSeed(v.row(i), static_cast<std::size_t>(v.d) * 4, seed);
  return h ^ (v.valid[i] ? 0x9e3779b97f4a7c15ull : 0x7f4a7c159e3779b9ull);
}

std::string text_attr(const h5::handle& f, const char* name) {
  std::string v;
  return h5::get_attr(f, name, v) ? v : std::string();
}

// A numeric root attribute the previous run must have; its absence means another writer.
double number_attr(const h5::handle& f, const std::string& path, const char* name) {
  double v = 0;
  if (h5::get_attr(f, name, v)) return v;
  std::int64_t i = 0;
  CHORUS_EXPECTS(h5::get_attr(f, name, i), "--update: '", path, "' has no attribute '", name,
                 "': it is not the results of a chorus detect run");
  return static_cast<double>(i);
}

// The shortest decimal that reads back as `v` (0.9, not 0.90000000000000002).
std::string shown(double v) {
  char buf[40];
  for (int digits = 6; digits <= 17; ++digits) {
    std::snprintf(buf, sizeof buf, "%.*g", digits, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

// The previous run's parameters against this run's: every one that shapes the edges must match.
// Every difference is named at once, with the option that sets it, so one retry is enough.
void check_same_parameters(const h5::handle& f, const std::string& path, const update_params& p) {
  std::string diffs;
  auto differ = [&](const std::string& option, const std::string& before, const std::string& now) {
    diffs += (diffs.empty() ? "" : ", ") + option + " " + before + " (this run: " + now + ")";
  };
  const std::string view = text_attr(f, "view");
  if (view != p.view) differ("--view", view.empty() ? std::string("(none)") : view, p.view);
  auto same = [&](bool used, const char* attr, const char* option, double now) {
    if (!used || view != p.view) return;  // another view: its thresholds mean other things
    const double before = number_attr(f, path, attr);
    if (before != now) differ(option, shown(before), shown(now));
  };
  same(p.need_e || p.fused, "threshold", "--threshold", p.threshold);
  same(p.need_a && !p.fused, "threshold_activity", "--threshold-activity", p.threshold_activity);
  same(p.fused, "weight", "--weight", p.weight);
  same(p.need_a, "min_activity", "--min-activity", p.min_activity);
  if (p.need_a && view == p.view) {
    const std::string t = text_attr(f, "activity_transform");
    if (t != p.transform) differ("--activity-transform", t, p.transform);
  }
  CHORUS_EXPECTS(diffs.empty(), "--update: '", path, "' was computed with ", diffs,
                 ": an update repeats the previous run's parameters (or run without --update)");
  // the input's shape: the vectors of another model or another binning are not comparable
  auto shape = [&](bool used, const char* attr, const char* what, std::int64_t now) {
    if (!used) return;
    const double before = number_attr(f, path, attr);
    CHORUS_EXPECTS(before == static_cast<double>(now), "--update: '", path, "' was computed on ",
                   shown(before), " ", what, ", this input has ", now,
                   ": the vectors are not comparable (run without --update)");
  };
  shape(p.need_e, "embedding_dim", "embedding dimensions", p.dim);
  shape(p.need_a, "activity_bins", "activity bins", p.bins);
}

// Every edge of the previous run must be in its file: --topk and --no-edges keep fewer.
void check_all_edges(const h5::handle& f, const std::string& path) {
  CHORUS_EXPECTS(number_attr(f, path, "topk") == 0, "--update: '", path,
                 "' was computed with --topk, which keeps only some edges; an update needs every "
                 "edge of the previous run (run it without --topk)");
  CHORUS_EXPECTS(number_attr(f, path, "edges_written") == number_attr(f, path, "edges"),
                 "--update: '", path,
                 "' holds no edges (--no-edges); an update needs every edge of the previous run");
  std::string rule;
  CHORUS_EXPECTS(h5::exists(f, "/accounts/row_checksum") && h5::get_attr(f, "row_checksum", rule) &&
                     rule == row_checksum_rule,
                 "--update: '", path,
                 "' has no per-row checksums (/accounts/row_checksum; written by chorus detect "
                 "since incremental runs exist): run one full detect and update from its results");
}

std::vector<edge> read_edges(const h5::handle& f, const std::string& path, std::int64_t n) {
  const auto src = h5::read_all<std::int64_t>(h5::open_dataset(f, "/edges/src"));
  const auto dst = h5::read_all<std::int64_t>(h5::open_dataset(f, "/edges/dst"));
  const auto se = h5::read_all<float>(h5::open_dataset(f, "/edges/sim_embedding"));
  const auto sa = h5::read_all<float>(h5::open_dataset(f, "/edges/sim_activity"));
  CHORUS_EXPECTS(dst.size() == src.size() && se.size() == src.size() && sa.size() == src.size(),
                 "--update: '", path, "' has /edges datasets of different lengths");
  std::vector<edge> e(src.size());
  for (std::size_t k = 0; k < src.size(); ++k) {
    CHORUS_EXPECTS(src[k] >= 0 && src[k] < dst[k] && dst[k] < n, "--update: '", path,
                   "' has an edge (", src[k], ", ", dst[k], ") outside its ", n, " rows");
    e[k] = {src[k], dst[k], se[k], sa[k]};
  }
  return e;
}

}  // namespace

std::vector<std::uint64_t> row_checksums(const loaded_input& in, bool embedding, bool activity) {
  const std::int64_t n = in.info.n;
  CHORUS_EXPECTS(!embedding || in.embedding.first == 0, "row checksums need every row");
  CHORUS_EXPECTS(!activity || in.activity.first == 0, "row checksums need every row");
  std::vector<std::uint64_t> out(static_cast<std::size_t>(n));
#pragma omp parallel for schedule(static, 1024)
  for (std::int64_t i = 0; i < n; ++i) {
    std::uint64_t h = 0x63686f7275730001ull;  // "chorus", rule 1
    if (embedding) h = row_hash(in.embedding, i, h);
    if (activity) h = row_hash(in.activity, i, h);
    out[static_cast<std::size_t>(i)] = h;
  }
  return out;
}

update_base read_update_base(const std::string& path, const update_params& p, bool edges) {
  struct stat st {};
  CHORUS_EXPECTS(::stat(path.c_str(), &st) == 0, "--update: '", path, "' does not exist");
  CHORUS_EXPECTS(is_results_file(path), "--update: '", path,
                 "' is not a chorus results file (no /labels and /edges)");
  check_edge_shards(path);
  update_base b;
  char buf[PATH_MAX];
  b.path = ::realpath(path.c_str(), buf) ? std::string(buf) : path;
  const h5::handle f = h5::open_read(path);
  check_same_parameters(f, path, p);
  check_all_edges(f, path);
  b.input_path = text_attr(f, "input_path");
  b.input_checksum = text_attr(f, "input_checksum");
  b.ids = h5::read_all<std::int64_t>(h5::open_dataset(f, "/accounts/id"));
  b.checksums = h5::read_all<std::uint64_t>(h5::open_dataset(f, "/accounts/row_checksum"));
  CHORUS_EXPECTS(b.checksums.size() == b.ids.size(), "--update: '", path, "' has ",
                 b.checksums.size(), " row checksums for ", b.ids.size(), " accounts");
  if (edges) b.edges = read_edges(f, path, static_cast<std::int64_t>(b.ids.size()));
  return b;
}

update_plan plan_update(const update_base& base, const std::vector<std::int64_t>& ids,
                        const std::vector<std::uint64_t>& checksums) {
  const std::int64_t n = static_cast<std::int64_t>(ids.size());
  const std::int64_t m = static_cast<std::int64_t>(base.ids.size());
  std::unordered_map<std::int64_t, std::int64_t> before;  // previous id -> previous row
  before.reserve(static_cast<std::size_t>(m));
  for (std::int64_t r = 0; r < m; ++r) before.emplace(base.ids[r], r);
  update_plan u;
  std::vector<std::int64_t> now(static_cast<std::size_t>(m), -1);  // previous row -> new row
  std::vector<std::uint8_t> dirty(static_cast<std::size_t>(n), 1);
  std::int64_t matched = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const auto it = before.find(ids[i]);
    if (it == before.end()) {
      ++u.rows_new;
      continue;
    }
    ++matched;
    if (base.checksums[it->second] != checksums[i]) {
      ++u.rows_changed;
      continue;
    }
    now[it->second] = i;
    dirty[i] = 0;
    ++u.rows_unchanged;
  }
  CHORUS_EXPECTS(m == 0 || n == 0 || matched > 0, "--update: no account of '", base.path,
                 "' is in this input (no account id in common): those are the results of another "
                 "input; update from a run on an earlier version of this input");
  u.rows_removed = m - matched;
  u.order.reserve(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i)
    if (dirty[i]) u.order.push_back(i);
  u.dirty = static_cast<std::int64_t>(u.order.size());
  for (std::int64_t i = 0; i < n; ++i)
    if (!dirty[i]) u.order.push_back(i);
  u.carried.reserve(base.edges.size());
  for (const edge& e : base.edges) {
    const std::int64_t a = now[e.src], b = now[e.dst];
    if (a < 0 || b < 0) {
      ++u.edges_dropped;
      continue;
    }
    u.carried.push_back({std::min(a, b), std::max(a, b), e.sim_embedding, e.sim_activity});
  }
  std::sort(u.carried.begin(), u.carried.end(), edge_order);
  return u;
}

void permute_rows(view_matrix& v, const std::vector<std::int64_t>& order) {
  if (!v.present()) return;  // a view the run does not use
  CHORUS_EXPECTS(v.first == 0 && static_cast<std::int64_t>(order.size()) == v.n,
                 "permute_rows needs every row and a permutation of them");
  const std::size_t d = static_cast<std::size_t>(v.d);
  auto row = [&](std::int64_t i) { return v.data.data() + static_cast<std::size_t>(i) * d; };
  std::vector<std::uint8_t> done(static_cast<std::size_t>(v.n), 0);
  std::vector<float> held(d);
  // follow each cycle of the permutation: position j takes the row at order[j]
  for (std::int64_t k = 0; k < v.n; ++k) {
    if (done[k] || order[k] == k) continue;
    std::copy_n(row(k), d, held.data());
    const double held_norm = v.inv_norm[k];
    const std::uint8_t held_valid = v.valid[k];
    std::int64_t j = k;
    for (;;) {
      done[j] = 1;
      const std::int64_t from = order[j];
      if (from == k) {
        std::copy_n(held.data(), d, row(j));
        v.inv_norm[j] = held_norm;
        v.valid[j] = held_valid;
        break;
      }
      std::copy_n(row(from), d, row(j));
      v.inv_norm[j] = v.inv_norm[from];
      v.valid[j] = v.valid[from];
      j = from;
    }
  }
}

std::vector<std::int64_t> inverse_order(const std::vector<std::int64_t>& order) {
  std::vector<std::int64_t> inv(order.size());
  for (std::size_t k = 0; k < order.size(); ++k)
    inv[static_cast<std::size_t>(order[k])] = static_cast<std::int64_t>(k);
  return inv;
}

void edges_to_rows(std::vector<edge>& edges, const std::vector<std::int64_t>& order) {
  for (edge& e : edges) {
    const std::int64_t a = order[e.src], b = order[e.dst];
    e.src = std::min(a, b);
    e.dst = std::max(a, b);
  }
  std::sort(edges.begin(), edges.end(), edge_order);
}

std::int64_t split_prefix_row(std::int64_t n, std::int64_t rows, std::int64_t parts,
                              std::int64_t r) {
  if (r <= 0) return 0;
  if (r >= parts) return rows;
  const std::int64_t total = tiling::rows_pairs(0, rows, n);
  const std::int64_t target = (total / parts) * r + ((total % parts) * r) / parts;
  std::int64_t lo = 0, hi = rows;  // the smallest a with rows_pairs(0, a, n) >= target
  while (lo < hi) {
    const std::int64_t mid = lo + (hi - lo) / 2;
    if (tiling::rows_pairs(0, mid, n) >= target)
      hi = mid;
    else
      lo = mid + 1;
  }
  return lo;
}

}  // namespace chorus
