// chorus: the /evidence group of a results file (datasets/SCHEMA.md, "Evidence").
#include "chorus/outputs/evidence.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "chorus/core/error.hpp"
#include "chorus/io/h5.hpp"
#include "chorus/io/input.hpp"

namespace chorus {

namespace {

constexpr std::uint64_t kEdgeChunk = 1u << 20;  // edges per streamed chunk
constexpr std::uint64_t kRowBlock = 16384;      // input rows per block (as the input reader)
constexpr std::uint64_t kDatasetChunk = 65536;  // rows per chunk of the per-edge datasets

// A fixed-shape dataset (chunked and compressed when large) filled in one write.
template <typename T>
h5::handle write_matrix(const h5::handle& loc, const std::string& path, std::uint64_t rows,
                        std::uint64_t cols, const std::vector<T>& data) {
  const bool big = rows * cols > 65536;
  h5::handle d =
      h5::create_dataset<T>(loc, path, {rows, cols}, big ? 65536 / cols + 1 : 0, big ? 1 : 0);
  h5::write_rows<T>(d, 0, rows, data.data());
  return d;
}

// Non-zero activity bins of the accounts that have an edge, as CSR over compact indices.
struct sparse_activity {
  std::vector<std::int64_t> off{0};
  std::vector<std::int32_t> bin;
  std::vector<float> val;
};

// Visit the blocks of kRowBlock input rows that hold flagged rows: f(first, count) covers the
// rows from the block's first flagged row to its last one.
template <typename F>
void for_flagged_ranges(const std::vector<std::int64_t>& flagged_rows, F&& f) {
  std::size_t i = 0;
  while (i < flagged_rows.size()) {
    const std::int64_t block = flagged_rows[i] / static_cast<std::int64_t>(kRowBlock);
    std::size_t j = i;
    while (j + 1 < flagged_rows.size() &&
           flagged_rows[j + 1] / static_cast<std::int64_t>(kRowBlock) == block)
      ++j;
    f(i, j + 1, flagged_rows[i], flagged_rows[j] - flagged_rows[i] + 1);
    i = j + 1;
  }
}

// Reads raw activity rows [row0, row0 + nrows) as float into `out`.
using activity_rows_fn = std::function<void(std::int64_t, std::int64_t, float*)>;

sparse_activity load_activity(const activity_rows_fn& rows_of, std::int64_t bins,
                              const std::vector<std::int64_t>& flagged_rows) {
  sparse_activity s;
  s.off.reserve(flagged_rows.size() + 1);
  std::vector<float> buf;
  for_flagged_ranges(flagged_rows,
                     [&](std::size_t a, std::size_t b, std::int64_t row0, std::int64_t nrows) {
                       buf.resize(static_cast<std::size_t>(nrows * bins));
                       rows_of(row0, nrows, buf.data());
                       for (std::size_t k = a; k < b; ++k) {
                         const float* row = buf.data() + (flagged_rows[k] - row0) * bins;
                         for (std::int64_t t = 0; t < bins; ++t)
                           if (row[t] > 0 && std::isfinite(row[t])) {
                             s.bin.push_back(static_cast<std::int32_t>(t));
                             s.val.push_back(row[t]);
                           }
                         s.off.push_back(static_cast<std::int64_t>(s.bin.size()));
                       }
                     });
  return s;
}

// Lower end of a histogram range: the view's threshold when every edge passed it.
double clamp_lo(double t) { return std::isfinite(t) ? std::clamp(t, -1.0, 0.95) : -1.0; }

int hist_bin(double s, double lo) {
  int b = static_cast<int>(std::floor((s - lo) / (1.0 - lo) * evidence_hist_bins));
  return std::clamp(b, 0, evidence_hist_bins - 1);
}

// Co-active bins of the edges (src[q], dst[q]), q < m, in compact indices: the `kept[q]` bins
// with the largest joint counts go to slots[q * cap ...], the total count to total[q].
// Independent per edge, so computed by all threads.
void coactive_bins(const sparse_activity& act, const std::int64_t* csrc, const std::int64_t* cdst,
                   std::uint64_t m, std::size_t cap, std::vector<std::int32_t>& slots,
                   std::vector<std::int32_t>& kept, std::vector<std::int32_t>& total) {
  slots.resize(static_cast<std::size_t>(m) * std::max<std::size_t>(cap, 1));
  kept.resize(static_cast<std::size_t>(m));
  total.resize(static_cast<std::size_t>(m));
#pragma omp parallel
  {
    std::vector<std::pair<float, std::int32_t>> joint;
#pragma omp for schedule(dynamic, 1024)
    for (std::int64_t q = 0; q < static_cast<std::int64_t>(m); ++q) {
      const std::int64_t cs = csrc[q], cd = cdst[q];
      // intersect the two sorted non-zero lists
      joint.clear();
      std::int64_t i = act.off[cs], ie = act.off[cs + 1], j = act.off[cd], je = act.off[cd + 1];
      while (i < ie && j < je) {
        if (act.bin[i] < act.bin[j])
          ++i;
        else if (act.bin[j] < act.bin[i])
          ++j;
        else {
          joint.emplace_back(std::min(act.val[i], act.val[j]), act.bin[i]);
          ++i, ++j;
        }
      }
      auto by_joint = [](const std::pair<float, std::int32_t>& x,
                         const std::pair<float, std::int32_t>& y) {
        return x.first != y.first ? x.first > y.first : x.second < y.second;
      };
      // the order is total (bins are distinct): selecting then sorting the first `keep` gives
      // what a partial sort gives, in linear time instead of a heap's n log(keep)
      const std::size_t keep = std::min(joint.size(), cap);
      const auto cut = joint.begin() + static_cast<std::ptrdiff_t>(keep);
      if (keep < joint.size()) std::nth_element(joint.begin(), cut, joint.end(), by_joint);
      std::sort(joint.begin(), cut, by_joint);
      for (std::size_t r = 0; r < keep; ++r) slots[q * cap + r] = joint[r].second;
      kept[q] = static_cast<std::int32_t>(keep);
      total[q] = static_cast<std::int32_t>(joint.size());
    }
  }
}

std::string attr_text(const h5::handle& f, const std::string& name) {
  std::string v;
  h5::get_attr(f, name, v);
  return v;
}

}  // namespace

struct evidence_builder::state {
  evidence_inputs in;
  std::uint64_t n = 0, kc = 0;
  h5::handle input;
  std::vector<std::int64_t> flagged_rows;  // rows with an edge, ascending
  std::vector<std::int64_t> compact;       // row -> index into flagged_rows, or -1
  bool has_activity = false;
  std::int64_t bins = 0;
  sparse_activity act;
  double lo_emb = -1, lo_act = -1;
  std::vector<std::int64_t> degree, hist_emb, hist_act;
  std::uint64_t seen = 0, bins_written = 0;
  // per chunk
  std::vector<std::int64_t> csrc, cdst, chunk_off;
  std::vector<std::int32_t> chunk_cnt, chunk_bins, slots, kept, total;

  void check_input_ids() const;
  void check_clusters() const;
  void read_activity();
  void add_chunk(const edge* es, std::uint64_t m, const evidence_edge_sink& sink);
  std::vector<std::string> member_handles() const;
  void busiest_bins(evidence_tables& t);
};

// The input must be the one the results were computed from: same accounts, same order.
void evidence_builder::state::check_input_ids() const {
  const std::vector<std::int64_t>& ids = *in.ids;
  const std::string& input_path = in.input_path;
  if (in.memory) {  // the ids the run loaded from it
    const memory_input& m = *in.memory;
    const std::uint64_t have = m.string_ids.empty() ? m.ids.size() : m.string_ids.size();
    CHORUS_EXPECTS(have == n, "input '", input_path, "' has ", have,
                   " accounts but the results have ", n, ": not the input of this results file");
    for (std::uint64_t r = 0; r < n; ++r) {
      const std::int64_t id =
          m.string_ids.empty() ? m.ids[r] : account_id_of_string(m.string_ids[r]);
      CHORUS_EXPECTS(id == ids[r], "input '", input_path, "' row ", r, " has account id ", id,
                     " but the results say ", ids[r], ": not the input of this results file");
    }
    return;
  }
  h5::handle in_ids = h5::open_dataset(input, "/accounts/id");
  h5::dataset_info info = h5::describe(in_ids);
  CHORUS_EXPECTS(info.rank() == 1 && info.dims[0] == n, "input '", input_path, "' has ",
                 info.rank() == 1 ? info.dims[0] : 0, " accounts but the results have ", n,
                 ": not the input of this results file");
  std::vector<std::int64_t> buf;
  for (std::uint64_t r0 = 0; r0 < n; r0 += kRowBlock) {
    const std::uint64_t m = std::min<std::uint64_t>(kRowBlock, n - r0);
    buf = read_account_ids(input, r0, m);  // string ids: their derived int64 ids
    for (std::uint64_t k = 0; k < m; ++k)
      CHORUS_EXPECTS(buf[k] == ids[r0 + k], "input '", input_path, "' row ", r0 + k,
                     " has account id ", buf[k], " but the results say ", ids[r0 + k],
                     ": not the input of this results file");
  }
}

// The cluster table must agree with the labels.
void evidence_builder::state::check_clusters() const {
  const std::vector<std::int64_t>& labels = *in.labels;
  const std::vector<std::int64_t>& offsets = *in.offsets;
  const std::vector<std::int64_t>& members = *in.members;
  std::int64_t k_clusters = 0;
  for (std::int64_t l : labels) k_clusters = std::max(k_clusters, l + 1);
  CHORUS_EXPECTS(
      static_cast<std::int64_t>(kc) >= k_clusters &&
          (offsets.empty() || offsets.back() == static_cast<std::int64_t>(members.size())),
      "results file '", in.results_name, "' is damaged: cluster table and labels differ");
  for (std::int64_t m : members)
    CHORUS_EXPECTS(m >= 0 && static_cast<std::uint64_t>(m) < n && compact[m] >= 0, "results file '",
                   in.results_name, "' is damaged: member row ", m);
}

// The activity of the flagged accounts (sparse), when the input has /activity.
void evidence_builder::state::read_activity() {
  if (in.memory) {
    const memory_matrix& m = in.memory->activity;
    has_activity = m.present();
    if (!has_activity) return;
    bins = m.cols;
    act = load_activity(
        [&m](std::int64_t row0, std::int64_t nrows, float* out) {
          std::vector<double> row(static_cast<std::size_t>(m.cols));
          for (std::int64_t r = 0; r < nrows; ++r) {
            memory_row(m, row0 + r, row.data());
            for (std::int64_t t = 0; t < m.cols; ++t)
              out[r * m.cols + t] = static_cast<float>(row[t]);  // as HDF5 converts to float
          }
        },
        bins, flagged_rows);
    return;
  }
  has_activity = h5::exists(input, "/activity");
  if (!has_activity) return;
  h5::handle a = h5::open_dataset(input, "/activity");
  h5::dataset_info info = h5::describe(a);
  CHORUS_EXPECTS(info.rank() == 2 && info.dims[0] == n, "input '", in.input_path,
                 "': /activity must be [", n, ", T]");
  CHORUS_EXPECTS(info.dims[1] <= (1u << 20), "input '", in.input_path,
                 "': /activity has more than 2^20 columns");
  bins = static_cast<std::int64_t>(info.dims[1]);
  act = load_activity([&a](std::int64_t row0, std::int64_t nrows,
                           float* out) { h5::read_rows<float>(a, row0, nrows, out); },
                      bins, flagged_rows);
}

evidence_builder::evidence_builder(const evidence_inputs& in) : s_(std::make_unique<state>()) {
  state& s = *s_;
  s.in = in;
  CHORUS_EXPECTS(in.max_bins_per_edge >= 0, "max bins per edge must be >= 0, got ",
                 in.max_bins_per_edge);
  CHORUS_ENSURES(in.labels && in.ids && in.offsets && in.members, "evidence inputs incomplete");
  if (!in.memory) s.input = h5::open_read(in.input_path);
  const std::vector<std::int64_t>& labels = *in.labels;
  s.n = labels.size();
  CHORUS_EXPECTS(in.ids->size() == s.n, "results file '", in.results_name,
                 "' is damaged: /labels has ", s.n, " rows, /accounts/id ", in.ids->size());
  s.check_input_ids();

  // flagged accounts (those with an edge) get a compact index
  s.compact.assign(s.n, -1);
  for (std::uint64_t i = 0; i < s.n; ++i)
    if (labels[i] >= 0) {
      s.compact[i] = static_cast<std::int64_t>(s.flagged_rows.size());
      s.flagged_rows.push_back(static_cast<std::int64_t>(i));
    }
  s.kc = in.offsets->empty() ? 0 : in.offsets->size() - 1;
  s.check_clusters();
  s.read_activity();

  // histogram ranges: [threshold of the view, 1] when every edge passed that threshold
  const std::string& view = in.view;
  s.lo_emb = (view == "embedding" || view == "both") ? clamp_lo(in.threshold) : -1.0;
  s.lo_act = (view == "activity" || view == "both") ? clamp_lo(in.threshold_activity) : -1.0;
  s.degree.assign(s.flagged_rows.size(), 0);
  s.hist_emb.assign(s.kc * evidence_hist_bins, 0);
  s.hist_act.assign(s.kc * evidence_hist_bins, 0);
}

evidence_builder::~evidence_builder() = default;

bool evidence_builder::has_activity() const { return s_->has_activity; }

void evidence_builder::add(const edge* edges, std::size_t k, const evidence_edge_sink& sink) {
  state& s = *s_;
  CHORUS_ENSURES(s.seen + k <= s.in.edge_count, "more edges than the ", s.in.edge_count,
                 " announced");
  for (std::uint64_t e0 = 0; e0 < k; e0 += kEdgeChunk)
    s.add_chunk(edges + e0, std::min<std::uint64_t>(kEdgeChunk, k - e0), sink);
}

void evidence_builder::state::add_chunk(const edge* es, std::uint64_t m,
                                        const evidence_edge_sink& sink) {
  const std::vector<std::int64_t>& labels = *in.labels;
  const std::uint64_t e0 = seen;
  csrc.resize(m), cdst.resize(m);
  // validation, degrees and histograms: one pass in order (cheap)
  for (std::uint64_t k = 0; k < m; ++k) {
    const std::int64_t s = es[k].src, d = es[k].dst;
    const float se = es[k].sim_embedding, sa = es[k].sim_activity;
    CHORUS_EXPECTS(s >= 0 && d >= 0 && static_cast<std::uint64_t>(s) < n &&
                       static_cast<std::uint64_t>(d) < n && labels[s] >= 0 &&
                       labels[s] == labels[d],
                   "results file '", in.results_name, "' is damaged: edge ", e0 + k, " (", s, ", ",
                   d, ") does not join two members of one cluster");
    csrc[k] = compact[s], cdst[k] = compact[d];
    ++degree[csrc[k]], ++degree[cdst[k]];
    const std::int64_t c = labels[s];
    if (std::isfinite(se)) ++hist_emb[c * evidence_hist_bins + hist_bin(se, lo_emb)];
    if (std::isfinite(sa)) ++hist_act[c * evidence_hist_bins + hist_bin(sa, lo_act)];
  }
  seen += m;
  if (!has_activity) return;
  // co-active bins per edge, in sub-chunks into fixed slots (at most max_bins_per_edge each),
  // then packed in edge order
  const std::uint64_t kSub = 1u << 16;
  const std::size_t cap = static_cast<std::size_t>(in.max_bins_per_edge);
  chunk_off.clear(), chunk_cnt.clear(), chunk_bins.clear();
  for (std::uint64_t s0 = 0; s0 < m; s0 += kSub) {
    const std::uint64_t sm = std::min<std::uint64_t>(kSub, m - s0);
    coactive_bins(act, csrc.data() + s0, cdst.data() + s0, sm, cap, slots, kept, total);
    for (std::uint64_t q = 0; q < sm; ++q) {
      chunk_bins.insert(chunk_bins.end(), slots.begin() + static_cast<std::ptrdiff_t>(q * cap),
                        slots.begin() + static_cast<std::ptrdiff_t>(q * cap + kept[q]));
      chunk_cnt.push_back(total[q]);
      chunk_off.push_back(static_cast<std::int64_t>(bins_written + chunk_bins.size()));
    }
  }
  bins_written += chunk_bins.size();
  if (sink) sink({e0, m, chunk_cnt.data(), chunk_off.data(), chunk_bins.data(), chunk_bins.size()});
}

// The handles of the members, from the input's /accounts/handle.
std::vector<std::string> evidence_builder::state::member_handles() const {
  const std::vector<std::int64_t>& members = *in.members;
  std::vector<std::string> handles(flagged_rows.size());
  if (in.memory) {  // its handles, or its string ids
    const auto& names = in.memory->handles.empty() ? in.memory->string_ids : in.memory->handles;
    for (std::size_t k = 0; k < flagged_rows.size(); ++k) handles[k] = names[flagged_rows[k]];
  } else {
    // /accounts/handle, or the string ids when the input has no handles
    h5::handle hd = h5::open_dataset(input, account_names_dataset(input));
    for_flagged_ranges(flagged_rows,
                       [&](std::size_t a, std::size_t b, std::int64_t row0, std::int64_t nrows) {
                         std::vector<std::string> block = h5::read_strings(hd, row0, nrows);
                         for (std::size_t k = a; k < b; ++k)
                           handles[k] = std::move(block[flagged_rows[k] - row0]);
                       });
  }
  std::vector<std::string> member_handles(members.size());
  for (std::size_t q = 0; q < members.size(); ++q) member_handles[q] = handles[compact[members[q]]];
  return member_handles;
}

// Per cluster: the busiest time bins (with activity) and the exemplars (largest degree).
void evidence_builder::state::busiest_bins(evidence_tables& t) {
  const std::vector<std::int64_t>& offsets = *in.offsets;
  const std::vector<std::int64_t>& members = *in.members;
  if (has_activity) {
    t.top_bins.assign(kc * evidence_top_bins, -1);
    t.top_bin_counts.assign(kc * evidence_top_bins, 0.0);
  }
  t.exemplars.assign(kc * evidence_exemplars, -1);
  std::vector<double> sums(static_cast<std::size_t>(bins), 0.0);
  std::vector<std::int32_t> touched;
  std::vector<std::pair<std::int64_t, std::int64_t>> by_degree;  // (-degree, row)
  for (std::uint64_t c = 0; c < kc; ++c) {
    if (has_activity) {
      touched.clear();
      for (std::int64_t q = offsets[c]; q < offsets[c + 1]; ++q) {
        const std::int64_t ci = compact[members[q]];
        for (std::int64_t p = act.off[ci]; p < act.off[ci + 1]; ++p) {
          if (sums[act.bin[p]] == 0) touched.push_back(act.bin[p]);
          sums[act.bin[p]] += act.val[p];
        }
      }
      const std::size_t keep = std::min<std::size_t>(touched.size(), evidence_top_bins);
      std::partial_sort(touched.begin(), touched.begin() + keep, touched.end(),
                        [&](std::int32_t x, std::int32_t y) {
                          return sums[x] != sums[y] ? sums[x] > sums[y] : x < y;
                        });
      for (std::size_t q = 0; q < keep; ++q) {
        t.top_bins[c * evidence_top_bins + q] = touched[q];
        t.top_bin_counts[c * evidence_top_bins + q] = sums[touched[q]];
      }
      for (std::int32_t b : touched) sums[b] = 0;
    }
    by_degree.clear();
    for (std::int64_t q = offsets[c]; q < offsets[c + 1]; ++q)
      if (degree[compact[members[q]]] > 0)
        by_degree.emplace_back(-degree[compact[members[q]]], members[q]);
    const std::size_t keep = std::min<std::size_t>(by_degree.size(), evidence_exemplars);
    std::partial_sort(by_degree.begin(), by_degree.begin() + keep, by_degree.end());
    for (std::size_t q = 0; q < keep; ++q)
      t.exemplars[c * evidence_exemplars + q] = by_degree[q].second;
  }
}

evidence_tables evidence_builder::finish() {
  state& s = *s_;
  CHORUS_ENSURES(s.seen == s.in.edge_count, "evidence saw ", s.seen, " of ", s.in.edge_count,
                 " edges");
  const std::vector<std::int64_t>& members = *s.in.members;
  evidence_tables t;
  t.clusters = s.kc;
  t.has_activity = s.has_activity;
  t.member_ids.resize(members.size());
  for (std::size_t q = 0; q < members.size(); ++q) t.member_ids[q] = (*s.in.ids)[members[q]];
  t.has_handles = s.in.memory ? !(s.in.memory->handles.empty() && s.in.memory->string_ids.empty())
                              : !account_names_dataset(s.input).empty();
  if (t.has_handles) t.member_handles = s.member_handles();
  t.lo_embedding = s.lo_emb;
  t.lo_activity = s.lo_act;
  t.hist_embedding = std::move(s.hist_emb);
  t.hist_activity = std::move(s.hist_act);
  s.busiest_bins(t);
  t.member_degree.resize(members.size());
  for (std::size_t q = 0; q < members.size(); ++q)
    t.member_degree[q] = s.degree[s.compact[members[q]]];
  t.max_bins_per_edge = s.in.max_bins_per_edge;
  t.input_path = s.in.input_path;
  return t;
}

evidence_tables compute_evidence(const evidence_inputs& in, const evidence_edge_sink& sink) {
  evidence_builder b(in);
  if (in.edges) in.edges([&](const edge* es, std::size_t k) { b.add(es, k, sink); });
  return b.finish();
}

evidence_writer::evidence_writer(const h5::handle& file, bool has_activity, std::uint64_t edges)
    : file_(file) {
  if (h5::exists(file, "/evidence")) h5::remove(file, "/evidence");
  group_ = h5::create_group(file, "/evidence");
  if (!has_activity) return;
  offsets_ = h5::create_dataset<std::int64_t>(group_, "edge_coactive_offsets", {edges + 1},
                                              kDatasetChunk, 1);
  if (edges > 0)
    counts_ =
        h5::create_dataset<std::int32_t>(group_, "edge_coactive_count", {edges}, kDatasetChunk, 1);
  else
    counts_ = h5::create_dataset<std::int32_t>(group_, "edge_coactive_count", {0});
  bins_ = h5::create_extendible<std::int32_t>(group_, "edge_coactive_bins", kDatasetChunk, 1);
  const std::int64_t zero = 0;
  h5::write_rows<std::int64_t>(offsets_, 0, 1, &zero);
}

void evidence_writer::write(const evidence_edge_rows& r) {
  CHORUS_ENSURES(bins_.valid(), "per-edge evidence without activity");
  h5::write_rows<std::int32_t>(counts_, r.first, r.count, r.coactive_count);
  h5::write_rows<std::int64_t>(offsets_, r.first + 1, r.count, r.offsets_end);
  h5::append_rows<std::int32_t>(bins_, bins_written_, r.bin_count, r.bins);
}

void evidence_writer::finish(const evidence_tables& t) {
  const h5::handle& ev = group_;
  h5::write_vector(ev, "cluster_member_ids", t.member_ids);
  if (t.has_handles) h5::write_strings(ev, "cluster_member_handles", t.member_handles);
  auto write_hist = [&](const char* name, const std::vector<std::int64_t>& h, double lo) {
    h5::handle d = write_matrix<std::int64_t>(ev, name, t.clusters, evidence_hist_bins, h);
    h5::set_attr(d, "lo", lo);
    h5::set_attr(d, "hi", 1.0);
  };
  write_hist("cluster_sim_hist_embedding", t.hist_embedding, t.lo_embedding);
  write_hist("cluster_sim_hist_activity", t.hist_activity, t.lo_activity);
  if (t.has_activity) {
    write_matrix<std::int32_t>(ev, "cluster_top_bins", t.clusters, evidence_top_bins, t.top_bins);
    write_matrix<double>(ev, "cluster_top_bin_counts", t.clusters, evidence_top_bins,
                         t.top_bin_counts);
  }
  write_matrix<std::int64_t>(ev, "cluster_exemplars", t.clusters, evidence_exemplars, t.exemplars);
  h5::write_vector(ev, "cluster_member_degree", t.member_degree);

  h5::set_attr(ev, "max_bins_per_edge", t.max_bins_per_edge);
  h5::set_attr(ev, "hist_bins", static_cast<std::int64_t>(evidence_hist_bins));
  h5::set_attr(ev, "has_activity", static_cast<std::int64_t>(t.has_activity ? 1 : 0));
  h5::set_attr(ev, "input_path", t.input_path);
  h5::set_attr(file_, "evidence", static_cast<std::int64_t>(1));
}

void add_evidence(const std::string& results_path, const std::string& input_path,
                  std::int64_t max_bins_per_edge) {
  CHORUS_EXPECTS(max_bins_per_edge >= 0, "max bins per edge must be >= 0, got ", max_bins_per_edge);
  h5::handle res = h5::open_rw(results_path);
  std::int64_t is_results = 0;
  CHORUS_EXPECTS(h5::get_attr(res, "chorus_results", is_results) && is_results == 1, "'",
                 results_path, "' is not a chorus results file");
  auto read = [&](const char* path) {
    return h5::read_all<std::int64_t>(h5::open_dataset(res, path));
  };
  const std::vector<std::int64_t> labels = read("/labels"), ids = read("/accounts/id"),
                                  offsets = read("/clusters/offsets"),
                                  members = read("/clusters/members");
  evidence_inputs in;
  in.labels = &labels, in.ids = &ids, in.offsets = &offsets, in.members = &members;
  in.view = attr_text(res, "view");
  h5::get_attr(res, "threshold", in.threshold);
  h5::get_attr(res, "threshold_activity", in.threshold_activity);
  in.input_path = input_path;
  in.max_bins_per_edge = max_bins_per_edge;
  in.results_name = results_path;

  // the edges, streamed from /edges
  h5::handle src_d = h5::open_dataset(res, "/edges/src");
  h5::handle dst_d = h5::open_dataset(res, "/edges/dst");
  h5::handle se_d = h5::open_dataset(res, "/edges/sim_embedding");
  h5::handle sa_d = h5::open_dataset(res, "/edges/sim_activity");
  const std::uint64_t e = h5::describe(src_d).dims.at(0);
  CHORUS_EXPECTS(h5::describe(dst_d).dims.at(0) == e && h5::describe(se_d).dims.at(0) == e &&
                     h5::describe(sa_d).dims.at(0) == e,
                 "results file '", results_path, "' is damaged: /edges datasets differ in length");
  in.edge_count = e;
  in.edges = [&](const std::function<void(const edge*, std::size_t)>& fn) {
    std::vector<std::int64_t> src, dst;
    std::vector<float> se, sa;
    std::vector<edge> es;
    for (std::uint64_t e0 = 0; e0 < e; e0 += kEdgeChunk) {
      const std::uint64_t m = std::min<std::uint64_t>(kEdgeChunk, e - e0);
      src.resize(m), dst.resize(m), se.resize(m), sa.resize(m), es.resize(m);
      h5::read_rows<std::int64_t>(src_d, e0, m, src.data());
      h5::read_rows<std::int64_t>(dst_d, e0, m, dst.data());
      h5::read_rows<float>(se_d, e0, m, se.data());
      h5::read_rows<float>(sa_d, e0, m, sa.data());
      for (std::uint64_t k = 0; k < m; ++k) es[k] = {src[k], dst[k], se[k], sa[k]};
      fn(es.data(), m);
    }
  };

  evidence_builder builder(in);
  evidence_writer writer(res, builder.has_activity(), e);
  const evidence_edge_sink sink = writer.sink();
  in.edges([&](const edge* es, std::size_t k) { builder.add(es, k, sink); });
  writer.finish(builder.finish());
  h5::flush(res);
}

}  // namespace chorus
