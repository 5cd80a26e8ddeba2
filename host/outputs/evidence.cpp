// chorus: the /evidence group of a results file (datasets/SCHEMA.md, "Evidence").
#include "chorus/outputs/evidence.hpp"

#include <hdf5.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "chorus/core/error.hpp"
#include "chorus/io/h5.hpp"

namespace chorus {

namespace {

constexpr std::uint64_t kEdgeChunk = 1u << 20;  // edges per streamed chunk
constexpr std::uint64_t kRowBlock = 16384;      // input rows per block (as the input reader)

// Open an existing results file for reading and writing (h5.hpp only opens read-only).
h5::handle open_rw(const std::string& path) {
  h5::quiet();
  htri_t is = H5Fis_hdf5(path.c_str());
  CHORUS_EXPECTS(is > 0, "'", path, "' is not an HDF5 file (or it is missing or truncated)");
  hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  CHORUS_EXPECTS(id >= 0, "cannot open results file '", path,
                 "' for writing (read-only, or open in another process?)");
  return h5::handle(id);
}

// A rank-1 int32 dataset that grows as chunks are appended.
h5::handle create_growing_i32(const h5::handle& loc, const std::string& path) {
  hsize_t d0 = 0, maxd = H5S_UNLIMITED, chunk = 65536;
  h5::handle space(H5Screate_simple(1, &d0, &maxd));
  h5::handle lcpl(H5Pcreate(H5P_LINK_CREATE));
  H5Pset_create_intermediate_group(lcpl.get(), 1);
  h5::handle dcpl(H5Pcreate(H5P_DATASET_CREATE));
  H5Pset_chunk(dcpl.get(), 1, &chunk);
  H5Pset_shuffle(dcpl.get());
  H5Pset_deflate(dcpl.get(), 1);
  hid_t id = H5Dcreate2(loc.get(), path.c_str(), H5T_NATIVE_INT32, space.get(), lcpl.get(),
                        dcpl.get(), H5P_DEFAULT);
  if (id < 0) CHORUS_THROW(runtime_failure, "HDF5: create dataset ", path);
  return h5::handle(id);
}

void append_i32(const h5::handle& dset, std::uint64_t& size, const std::vector<std::int32_t>& v) {
  if (v.empty()) return;
  hsize_t n = size + v.size();
  if (H5Dset_extent(dset.get(), &n) < 0) CHORUS_THROW(runtime_failure, "HDF5: extend dataset");
  h5::write_rows<std::int32_t>(dset, size, v.size(), v.data());
  size += v.size();
}

// A fixed-shape dataset (chunked and compressed when large) filled in one write.
template <typename T>
void write_matrix(const h5::handle& loc, const std::string& path, std::uint64_t rows,
                  std::uint64_t cols, const std::vector<T>& data) {
  const bool big = rows * cols > 65536;
  h5::handle d =
      h5::create_dataset<T>(loc, path, {rows, cols}, big ? 65536 / cols + 1 : 0, big ? 1 : 0);
  h5::write_rows<T>(d, 0, rows, data.data());
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

sparse_activity load_activity(const h5::handle& act, std::int64_t bins,
                              const std::vector<std::int64_t>& flagged_rows) {
  sparse_activity s;
  s.off.reserve(flagged_rows.size() + 1);
  std::vector<float> buf;
  for_flagged_ranges(flagged_rows,
                     [&](std::size_t a, std::size_t b, std::int64_t row0, std::int64_t nrows) {
                       buf.resize(static_cast<std::size_t>(nrows * bins));
                       h5::read_rows<float>(act, row0, nrows, buf.data());
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

std::string attr_text(const h5::handle& f, const std::string& name) {
  std::string v;
  h5::get_attr(f, name, v);
  return v;
}

}  // namespace

void add_evidence(const std::string& results_path, const std::string& input_path,
                  std::int64_t max_bins_per_edge) {
  CHORUS_EXPECTS(max_bins_per_edge >= 0, "max bins per edge must be >= 0, got ", max_bins_per_edge);
  h5::handle res = open_rw(results_path);
  std::int64_t is_results = 0;
  CHORUS_EXPECTS(h5::get_attr(res, "chorus_results", is_results) && is_results == 1, "'",
                 results_path, "' is not a chorus results file");
  h5::handle in = h5::open_read(input_path);

  // --- accounts: the input must be the one the results were computed from
  const std::vector<std::int64_t> labels =
      h5::read_all<std::int64_t>(h5::open_dataset(res, "/labels"));
  const std::vector<std::int64_t> ids =
      h5::read_all<std::int64_t>(h5::open_dataset(res, "/accounts/id"));
  const std::uint64_t n = labels.size();
  CHORUS_EXPECTS(ids.size() == n, "results file '", results_path, "' is damaged: /labels has ", n,
                 " rows, /accounts/id ", ids.size());
  {
    h5::handle in_ids = h5::open_dataset(in, "/accounts/id");
    h5::dataset_info info = h5::describe(in_ids);
    CHORUS_EXPECTS(info.rank() == 1 && info.dims[0] == n, "input '", input_path, "' has ",
                   info.rank() == 1 ? info.dims[0] : 0, " accounts but the results have ", n,
                   ": not the input of this results file");
    std::vector<std::int64_t> buf;
    for (std::uint64_t r0 = 0; r0 < n; r0 += kRowBlock) {
      const std::uint64_t m = std::min<std::uint64_t>(kRowBlock, n - r0);
      buf.resize(m);
      h5::read_rows<std::int64_t>(in_ids, r0, m, buf.data());
      for (std::uint64_t k = 0; k < m; ++k)
        CHORUS_EXPECTS(buf[k] == ids[r0 + k], "input '", input_path, "' row ", r0 + k,
                       " has account id ", buf[k], " but the results say ", ids[r0 + k],
                       ": not the input of this results file");
    }
  }

  // --- flagged accounts (those with an edge) get a compact index
  std::vector<std::int64_t> flagged_rows;
  std::vector<std::int64_t> compact(n, -1);
  std::int64_t k_clusters = 0;
  for (std::uint64_t i = 0; i < n; ++i)
    if (labels[i] >= 0) {
      compact[i] = static_cast<std::int64_t>(flagged_rows.size());
      flagged_rows.push_back(static_cast<std::int64_t>(i));
      k_clusters = std::max(k_clusters, labels[i] + 1);
    }
  const std::vector<std::int64_t> offsets =
      h5::read_all<std::int64_t>(h5::open_dataset(res, "/clusters/offsets"));
  const std::vector<std::int64_t> members =
      h5::read_all<std::int64_t>(h5::open_dataset(res, "/clusters/members"));
  const std::uint64_t kc = offsets.empty() ? 0 : offsets.size() - 1;
  CHORUS_EXPECTS(
      static_cast<std::int64_t>(kc) >= k_clusters &&
          (offsets.empty() || offsets.back() == static_cast<std::int64_t>(members.size())),
      "results file '", results_path, "' is damaged: cluster table and labels differ");
  for (std::int64_t m : members)
    CHORUS_EXPECTS(m >= 0 && static_cast<std::uint64_t>(m) < n && compact[m] >= 0, "results file '",
                   results_path, "' is damaged: member row ", m);

  // --- activity of the flagged accounts
  const bool has_activity = h5::exists(in, "/activity");
  std::int64_t bins = 0;
  sparse_activity act;
  if (has_activity) {
    h5::handle a = h5::open_dataset(in, "/activity");
    h5::dataset_info info = h5::describe(a);
    CHORUS_EXPECTS(info.rank() == 2 && info.dims[0] == n, "input '", input_path,
                   "': /activity must be [", n, ", T]");
    CHORUS_EXPECTS(info.dims[1] <= (1u << 20), "input '", input_path,
                   "': /activity has more than 2^20 columns");
    bins = static_cast<std::int64_t>(info.dims[1]);
    act = load_activity(a, bins, flagged_rows);
  }

  // --- histogram ranges: [threshold of the view, 1] when every edge passed that threshold
  std::string view = attr_text(res, "view");
  double t_emb = -1, t_act = -1;
  h5::get_attr(res, "threshold", t_emb);
  h5::get_attr(res, "threshold_activity", t_act);
  auto clamp_lo = [](double t) { return std::isfinite(t) ? std::clamp(t, -1.0, 0.95) : -1.0; };
  const double lo_emb = (view == "embedding" || view == "both") ? clamp_lo(t_emb) : -1.0;
  const double lo_act = (view == "activity" || view == "both") ? clamp_lo(t_act) : -1.0;
  auto hist_bin = [](double s, double lo) {
    int b = static_cast<int>(std::floor((s - lo) / (1.0 - lo) * evidence_hist_bins));
    return std::clamp(b, 0, evidence_hist_bins - 1);
  };

  // --- replace an earlier /evidence
  if (h5::exists(res, "/evidence")) {
    if (H5Ldelete(res.get(), "/evidence", H5P_DEFAULT) < 0)
      CHORUS_THROW(runtime_failure, "HDF5: cannot replace /evidence in '", results_path, "'");
  }
  h5::handle ev = h5::create_group(res, "/evidence");

  // --- stream the edges
  h5::handle src_d = h5::open_dataset(res, "/edges/src");
  h5::handle dst_d = h5::open_dataset(res, "/edges/dst");
  h5::handle se_d = h5::open_dataset(res, "/edges/sim_embedding");
  h5::handle sa_d = h5::open_dataset(res, "/edges/sim_activity");
  const std::uint64_t e = h5::describe(src_d).dims.at(0);
  CHORUS_EXPECTS(h5::describe(dst_d).dims.at(0) == e && h5::describe(se_d).dims.at(0) == e &&
                     h5::describe(sa_d).dims.at(0) == e,
                 "results file '", results_path, "' is damaged: /edges datasets differ in length");

  std::vector<std::int64_t> degree(flagged_rows.size(), 0);
  std::vector<std::int64_t> hist_emb(kc * evidence_hist_bins, 0),
      hist_act(kc * evidence_hist_bins, 0);
  h5::handle off_d, cnt_d, bins_d;
  std::uint64_t bins_written = 0;
  if (has_activity) {
    off_d = h5::create_dataset<std::int64_t>(ev, "edge_coactive_offsets", {e + 1}, 65536, 1);
    if (e > 0)
      cnt_d = h5::create_dataset<std::int32_t>(ev, "edge_coactive_count", {e}, 65536, 1);
    else
      cnt_d = h5::create_dataset<std::int32_t>(ev, "edge_coactive_count", {0});
    bins_d = create_growing_i32(ev, "edge_coactive_bins");
    const std::int64_t zero = 0;
    h5::write_rows<std::int64_t>(off_d, 0, 1, &zero);
  }
  std::vector<std::int64_t> src, dst;
  std::vector<float> se, sa;
  std::vector<std::int64_t> chunk_off;
  std::vector<std::int32_t> chunk_cnt, chunk_bins;
  for (std::uint64_t e0 = 0; e0 < e; e0 += kEdgeChunk) {
    const std::uint64_t m = std::min<std::uint64_t>(kEdgeChunk, e - e0);
    src.resize(m), dst.resize(m), se.resize(m), sa.resize(m);
    h5::read_rows<std::int64_t>(src_d, e0, m, src.data());
    h5::read_rows<std::int64_t>(dst_d, e0, m, dst.data());
    h5::read_rows<float>(se_d, e0, m, se.data());
    h5::read_rows<float>(sa_d, e0, m, sa.data());
    chunk_off.clear(), chunk_cnt.clear(), chunk_bins.clear();
    // validation, degrees and histograms: one pass in order (cheap)
    for (std::uint64_t k = 0; k < m; ++k) {
      const std::int64_t s = src[k], d = dst[k];
      CHORUS_EXPECTS(s >= 0 && d >= 0 && static_cast<std::uint64_t>(s) < n &&
                         static_cast<std::uint64_t>(d) < n && labels[s] >= 0 &&
                         labels[s] == labels[d],
                     "results file '", results_path, "' is damaged: edge ", e0 + k, " (", s, ", ",
                     d, ") does not join two members of one cluster");
      ++degree[compact[s]], ++degree[compact[d]];
      const std::int64_t c = labels[s];
      if (std::isfinite(se[k])) ++hist_emb[c * evidence_hist_bins + hist_bin(se[k], lo_emb)];
      if (std::isfinite(sa[k])) ++hist_act[c * evidence_hist_bins + hist_bin(sa[k], lo_act)];
    }
    if (!has_activity) continue;
    // co-active bins per edge: independent per edge, so computed by all threads in sub-chunks
    // into fixed slots (at most max_bins_per_edge each), then packed in edge order
    const std::uint64_t kSub = 1u << 16;
    const std::size_t cap = static_cast<std::size_t>(max_bins_per_edge);
    std::vector<std::int32_t> slots, kept, total;
    for (std::uint64_t s0 = 0; s0 < m; s0 += kSub) {
      const std::uint64_t sm = std::min<std::uint64_t>(kSub, m - s0);
      slots.resize(static_cast<std::size_t>(sm) * std::max<std::size_t>(cap, 1));
      kept.resize(static_cast<std::size_t>(sm));
      total.resize(static_cast<std::size_t>(sm));
#pragma omp parallel
      {
        std::vector<std::pair<float, std::int32_t>> joint;
#pragma omp for schedule(dynamic, 1024)
        for (std::int64_t q = 0; q < static_cast<std::int64_t>(sm); ++q) {
          const std::int64_t cs = compact[src[s0 + q]], cd = compact[dst[s0 + q]];
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
          const std::size_t keep = std::min(joint.size(), cap);
          std::partial_sort(joint.begin(), joint.begin() + static_cast<std::ptrdiff_t>(keep),
                            joint.end(), by_joint);
          for (std::size_t r = 0; r < keep; ++r) slots[q * cap + r] = joint[r].second;
          kept[q] = static_cast<std::int32_t>(keep);
          total[q] = static_cast<std::int32_t>(joint.size());
        }
      }
      for (std::uint64_t q = 0; q < sm; ++q) {
        chunk_bins.insert(chunk_bins.end(), slots.begin() + static_cast<std::ptrdiff_t>(q * cap),
                          slots.begin() + static_cast<std::ptrdiff_t>(q * cap + kept[q]));
        chunk_cnt.push_back(total[q]);
        chunk_off.push_back(static_cast<std::int64_t>(bins_written + chunk_bins.size()));
      }
    }
    if (has_activity) {
      h5::write_rows<std::int32_t>(cnt_d, e0, m, chunk_cnt.data());
      h5::write_rows<std::int64_t>(off_d, e0 + 1, m, chunk_off.data());
      append_i32(bins_d, bins_written, chunk_bins);
    }
  }

  // --- per cluster
  std::vector<std::int64_t> member_ids(members.size());
  for (std::size_t q = 0; q < members.size(); ++q) member_ids[q] = ids[members[q]];
  h5::write_vector(ev, "cluster_member_ids", member_ids);

  if (h5::exists(in, "/accounts/handle")) {
    h5::handle hd = h5::open_dataset(in, "/accounts/handle");
    std::vector<std::string> handles(flagged_rows.size());
    for_flagged_ranges(flagged_rows,
                       [&](std::size_t a, std::size_t b, std::int64_t row0, std::int64_t nrows) {
                         std::vector<std::string> block = h5::read_strings(hd, row0, nrows);
                         for (std::size_t k = a; k < b; ++k)
                           handles[k] = std::move(block[flagged_rows[k] - row0]);
                       });
    std::vector<std::string> member_handles(members.size());
    for (std::size_t q = 0; q < members.size(); ++q)
      member_handles[q] = handles[compact[members[q]]];
    h5::write_strings(ev, "cluster_member_handles", member_handles);
  }

  auto write_hist = [&](const char* name, const std::vector<std::int64_t>& h, double lo) {
    write_matrix<std::int64_t>(ev, name, kc, evidence_hist_bins, h);
    h5::handle d = h5::open_dataset(ev, name);
    h5::set_attr(d, "lo", lo);
    h5::set_attr(d, "hi", 1.0);
  };
  write_hist("cluster_sim_hist_embedding", hist_emb, lo_emb);
  write_hist("cluster_sim_hist_activity", hist_act, lo_act);

  std::vector<std::int32_t> top_bins(kc * evidence_top_bins, -1);
  std::vector<double> top_counts(kc * evidence_top_bins, 0.0);
  std::vector<std::int64_t> exemplars(kc * evidence_exemplars, -1);
  std::vector<double> sums(static_cast<std::size_t>(bins), 0.0);
  std::vector<std::int32_t> touched, order;
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
        top_bins[c * evidence_top_bins + q] = touched[q];
        top_counts[c * evidence_top_bins + q] = sums[touched[q]];
      }
      for (std::int32_t t : touched) sums[t] = 0;
    }
    by_degree.clear();
    for (std::int64_t q = offsets[c]; q < offsets[c + 1]; ++q)
      if (degree[compact[members[q]]] > 0)
        by_degree.emplace_back(-degree[compact[members[q]]], members[q]);
    const std::size_t keep = std::min<std::size_t>(by_degree.size(), evidence_exemplars);
    std::partial_sort(by_degree.begin(), by_degree.begin() + keep, by_degree.end());
    for (std::size_t q = 0; q < keep; ++q)
      exemplars[c * evidence_exemplars + q] = by_degree[q].second;
  }
  if (has_activity) {
    write_matrix<std::int32_t>(ev, "cluster_top_bins", kc, evidence_top_bins, top_bins);
    write_matrix<double>(ev, "cluster_top_bin_counts", kc, evidence_top_bins, top_counts);
  }
  write_matrix<std::int64_t>(ev, "cluster_exemplars", kc, evidence_exemplars, exemplars);
  std::vector<std::int64_t> member_degree(members.size());
  for (std::size_t q = 0; q < members.size(); ++q) member_degree[q] = degree[compact[members[q]]];
  h5::write_vector(ev, "cluster_member_degree", member_degree);

  h5::set_attr(ev, "max_bins_per_edge", max_bins_per_edge);
  h5::set_attr(ev, "hist_bins", static_cast<std::int64_t>(evidence_hist_bins));
  h5::set_attr(ev, "has_activity", static_cast<std::int64_t>(has_activity ? 1 : 0));
  h5::set_attr(ev, "input_path", input_path);
  h5::set_attr(res, "evidence", static_cast<std::int64_t>(1));
  h5::flush(res);
}

}  // namespace chorus
