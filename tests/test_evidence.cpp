// /evidence: every dataset add_evidence writes, checked against a direct computation.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "chorus/core/error.hpp"
#include "chorus/generate/generate.hpp"
#include "chorus/io/h5.hpp"
#include "chorus/job/detect.hpp"
#include "chorus/outputs/evidence.hpp"
#include "test_support.hpp"

using namespace chorus;

namespace {

struct fixture_files {
  std::string input, results;
};

fixture_files make(const std::string& dir, int dim, int bins, std::int64_t accounts = 3000) {
  const generate_options g = test::generated(dir + "/in.h5", accounts, dim, bins, 5, 11);
  detect_options d;
  d.input = g.out;
  d.output = dir + "/res.h5";
  d.force = true;
  d.threads = 2;
  run_detect(d);
  return {g.out, d.output};
}

template <typename T>
std::vector<T> read(const h5::handle& f, const std::string& p) {
  return h5::read_all<T>(h5::open_dataset(f, p));
}
template <typename T>
std::vector<T> read_matrix(const h5::handle& f, const std::string& p, std::uint64_t& cols) {
  h5::handle d = h5::open_dataset(f, p);
  auto info = h5::describe(d);
  EXPECT_EQ(info.rank(), 2) << p;
  cols = info.dims[1];
  std::vector<T> v(info.dims[0] * info.dims[1]);
  h5::read_rows<T>(d, 0, info.dims[0], v.data());
  return v;
}

}  // namespace

TEST(Evidence, MatchesDirectComputation) {
  const std::string dir = test::scratch_dir("evidence");
  fixture_files ff = make(dir, 32, 48);
  const std::int64_t cap = 4;
  add_evidence(ff.results, ff.input, cap);
  add_evidence(ff.results, ff.input, cap);  // a second call replaces /evidence

  h5::handle in = h5::open_read(ff.input), res = h5::open_read(ff.results);
  auto labels = read<std::int64_t>(res, "/labels");
  auto ids = read<std::int64_t>(res, "/accounts/id");
  auto src = read<std::int64_t>(res, "/edges/src");
  auto dst = read<std::int64_t>(res, "/edges/dst");
  auto se = read<float>(res, "/edges/sim_embedding");
  auto sa = read<float>(res, "/edges/sim_activity");
  auto offsets = read<std::int64_t>(res, "/clusters/offsets");
  auto members = read<std::int64_t>(res, "/clusters/members");
  const std::size_t n = labels.size(), e = src.size(), k = offsets.size() - 1;
  ASSERT_GT(e, 0u);
  ASSERT_GT(k, 0u);
  h5::handle act_d = h5::open_dataset(in, "/activity");
  const std::uint64_t t = h5::describe(act_d).dims[1];
  std::vector<float> act(n * t);
  h5::read_rows<float>(act_d, 0, n, act.data());
  auto handles = h5::read_strings(h5::open_dataset(in, "/accounts/handle"));

  // per edge
  auto off = read<std::int64_t>(res, "/evidence/edge_coactive_offsets");
  auto cnt = read<std::int32_t>(res, "/evidence/edge_coactive_count");
  auto bins = read<std::int32_t>(res, "/evidence/edge_coactive_bins");
  ASSERT_EQ(off.size(), e + 1);
  ASSERT_EQ(cnt.size(), e);
  ASSERT_EQ(static_cast<std::size_t>(off.back()), bins.size());
  std::int64_t capped_edges = 0;
  for (std::size_t q = 0; q < e; ++q) {
    std::vector<std::pair<float, int>> joint;
    for (std::uint64_t b = 0; b < t; ++b) {
      float x = act[src[q] * t + b], y = act[dst[q] * t + b];
      if (x > 0 && y > 0) joint.emplace_back(std::min(x, y), static_cast<int>(b));
    }
    std::sort(joint.begin(), joint.end(), [](auto& a, auto& b) {
      return a.first != b.first ? a.first > b.first : a.second < b.second;
    });
    ASSERT_EQ(cnt[q], static_cast<std::int32_t>(joint.size())) << "edge " << q;
    const std::size_t keep = std::min<std::size_t>(joint.size(), cap);
    capped_edges += joint.size() > keep;
    ASSERT_EQ(off[q + 1] - off[q], static_cast<std::int64_t>(keep)) << "edge " << q;
    for (std::size_t j = 0; j < keep; ++j) ASSERT_EQ(bins[off[q] + j], joint[j].second);
  }
  EXPECT_GT(capped_edges, 0) << "the cap was never exercised";

  // member ids and handles
  auto mids = read<std::int64_t>(res, "/evidence/cluster_member_ids");
  auto mh = h5::read_strings(h5::open_dataset(res, "/evidence/cluster_member_handles"));
  ASSERT_EQ(mids.size(), members.size());
  ASSERT_EQ(mh.size(), members.size());
  for (std::size_t q = 0; q < members.size(); ++q) {
    EXPECT_EQ(mids[q], ids[members[q]]);
    EXPECT_EQ(mh[q], handles[members[q]]);
  }

  // histograms
  std::string view;
  double thr = 0, thr_a = 0;
  h5::get_attr(res, "view", view);
  h5::get_attr(res, "threshold", thr);
  h5::get_attr(res, "threshold_activity", thr_a);
  ASSERT_EQ(view, "both");
  std::uint64_t cols = 0;
  auto he = read_matrix<std::int64_t>(res, "/evidence/cluster_sim_hist_embedding", cols);
  ASSERT_EQ(cols, static_cast<std::uint64_t>(evidence_hist_bins));
  auto ha = read_matrix<std::int64_t>(res, "/evidence/cluster_sim_hist_activity", cols);
  std::vector<std::int64_t> he2(k * evidence_hist_bins), ha2(k * evidence_hist_bins), deg(n, 0);
  auto bin_of = [](double s, double lo) {
    return std::clamp(static_cast<int>(std::floor((s - lo) / (1 - lo) * evidence_hist_bins)), 0,
                      evidence_hist_bins - 1);
  };
  for (std::size_t q = 0; q < e; ++q) {
    const std::int64_t c = labels[src[q]];
    ++he2[c * evidence_hist_bins + bin_of(se[q], thr)];
    ++ha2[c * evidence_hist_bins + bin_of(sa[q], thr_a)];
    ++deg[src[q]], ++deg[dst[q]];
  }
  EXPECT_EQ(he, he2);
  EXPECT_EQ(ha, ha2);
  {
    h5::handle d = h5::open_dataset(res, "/evidence/cluster_sim_hist_embedding");
    double lo = 0;
    ASSERT_TRUE(h5::get_attr(d, "lo", lo));
    EXPECT_DOUBLE_EQ(lo, thr);
  }

  // top bins, exemplars
  auto top = read_matrix<std::int32_t>(res, "/evidence/cluster_top_bins", cols);
  ASSERT_EQ(cols, static_cast<std::uint64_t>(evidence_top_bins));
  auto ex = read_matrix<std::int64_t>(res, "/evidence/cluster_exemplars", cols);
  ASSERT_EQ(cols, static_cast<std::uint64_t>(evidence_exemplars));
  for (std::size_t c = 0; c < k; ++c) {
    std::vector<double> sum(t, 0);
    std::vector<std::pair<std::int64_t, std::int64_t>> byd;
    for (std::int64_t q = offsets[c]; q < offsets[c + 1]; ++q) {
      for (std::uint64_t b = 0; b < t; ++b)
        if (act[members[q] * t + b] > 0) sum[b] += act[members[q] * t + b];
      byd.emplace_back(-deg[members[q]], members[q]);
    }
    std::vector<int> order;
    for (std::uint64_t b = 0; b < t; ++b)
      if (sum[b] > 0) order.push_back(static_cast<int>(b));
    std::sort(order.begin(), order.end(),
              [&](int a, int b) { return sum[a] != sum[b] ? sum[a] > sum[b] : a < b; });
    for (int j = 0; j < evidence_top_bins; ++j)
      EXPECT_EQ(top[c * evidence_top_bins + j], j < static_cast<int>(order.size()) ? order[j] : -1)
          << "cluster " << c << " rank " << j;
    std::sort(byd.begin(), byd.end());
    for (int j = 0; j < evidence_exemplars; ++j)
      EXPECT_EQ(ex[c * evidence_exemplars + j],
                j < static_cast<int>(byd.size()) ? byd[j].second : -1)
          << "cluster " << c << " exemplar " << j;
  }
}

TEST(Evidence, WithoutActivityAndWrongInput) {
  const std::string dir = test::scratch_dir("evidence_noact");
  fixture_files ff = make(dir, 32, 0, 1500);
  add_evidence(ff.results, ff.input);
  h5::handle res = h5::open_read(ff.results);
  EXPECT_FALSE(h5::exists(res, "/evidence/edge_coactive_offsets"));
  EXPECT_FALSE(h5::exists(res, "/evidence/cluster_top_bins"));
  EXPECT_TRUE(h5::exists(res, "/evidence/cluster_exemplars"));
  EXPECT_TRUE(h5::exists(res, "/evidence/cluster_sim_hist_embedding"));

  // an input of another size is refused with exit code 2
  generate_options g;
  g.accounts = 900;
  g.dim = 8;
  g.bins = 8;
  g.clusters = 2;
  g.out = dir + "/other.h5";
  generate_dataset(g);
  EXPECT_THROW(add_evidence(ff.results, g.out), input_error);
  EXPECT_THROW(add_evidence(ff.results, ff.input, -1), input_error);
  EXPECT_THROW(add_evidence(ff.input, ff.input), input_error);  // not a results file
}
