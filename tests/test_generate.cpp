// Tests of the synthetic data generator (chorus/generate/generate.hpp).
#include <gtest/gtest.h>
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "chorus/core/error.hpp"
#include "chorus/generate/generate.hpp"
#include "chorus/io/h5.hpp"

namespace fs = std::filesystem;
using chorus::generate_dataset;
using chorus::generate_options;
using chorus::generate_summary;

namespace {

/// A fresh, empty directory for one test, removed at the end.
class GenerateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("chorus_gen_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::vector<std::string> files() const {
    std::vector<std::string> v;
    for (const auto& e : fs::directory_iterator(dir_)) v.push_back(e.path().filename().string());
    std::sort(v.begin(), v.end());
    return v;
  }
  static generate_options small(const std::string& out, std::uint64_t seed = 7) {
    generate_options o;
    o.accounts = 3000;
    o.dim = 64;
    o.bins = 168;
    o.clusters = 6;
    o.seed = seed;
    o.out = out;
    return o;
  }
  fs::path dir_;
};

struct loaded {
  std::vector<std::int64_t> id, cluster, group;
  std::vector<std::int8_t> kind;
  std::vector<std::string> handle;
  std::vector<float> emb;
  std::vector<std::int32_t> act;
  std::int64_t n = 0, d = 0, t = 0;
};

loaded load(const std::string& file) {
  using namespace chorus;
  loaded L;
  h5::handle f = h5::open_read(file);
  L.id = h5::read_all<std::int64_t>(h5::open_dataset(f, "/accounts/id"));
  L.n = static_cast<std::int64_t>(L.id.size());
  L.cluster = h5::read_all<std::int64_t>(h5::open_dataset(f, "/truth/cluster"));
  L.group = h5::read_all<std::int64_t>(h5::open_dataset(f, "/truth/group"));
  L.kind = h5::read_all<std::int8_t>(h5::open_dataset(f, "/truth/kind"));
  if (h5::exists(f, "/accounts/handle"))
    L.handle = h5::read_strings(h5::open_dataset(f, "/accounts/handle"));
  if (h5::exists(f, "/embedding")) {
    h5::handle e = h5::open_dataset(f, "/embedding");
    L.d = static_cast<std::int64_t>(h5::describe(e).dims[1]);
    L.emb.resize(L.n * L.d);
    h5::read_rows<float>(e, 0, L.n, L.emb.data());
  }
  if (h5::exists(f, "/activity")) {
    h5::handle a = h5::open_dataset(f, "/activity");
    L.t = static_cast<std::int64_t>(h5::describe(a).dims[1]);
    L.act.resize(L.n * L.t);
    h5::read_rows<std::int32_t>(a, 0, L.n, L.act.data());
  }
  return L;
}

double cosine(const loaded& L, std::int64_t i, std::int64_t j) {
  double dot = 0, a = 0, b = 0;
  for (std::int64_t k = 0; k < L.d; ++k) {
    double x = L.emb[i * L.d + k], y = L.emb[j * L.d + k];
    dot += x * y;
    a += x * x;
    b += y * y;
  }
  return dot / std::sqrt(a * b);
}

double pearson(const loaded& L, std::int64_t i, std::int64_t j) {
  double mx = 0, my = 0;
  for (std::int64_t k = 0; k < L.t; ++k) {
    mx += L.act[i * L.t + k];
    my += L.act[j * L.t + k];
  }
  mx /= L.t;
  my /= L.t;
  double sxy = 0, sxx = 0, syy = 0;
  for (std::int64_t k = 0; k < L.t; ++k) {
    double x = L.act[i * L.t + k] - mx, y = L.act[j * L.t + k] - my;
    sxy += x * y;
    sxx += x * x;
    syy += y * y;
  }
  return sxx > 0 && syy > 0 ? sxy / std::sqrt(sxx * syy) : 0.0;
}

/// Mean of f over all pairs of `members` (at most the first 40 members).
template <typename F>
double mean_pairwise(const std::vector<std::int64_t>& members, F f) {
  std::size_t m = std::min<std::size_t>(members.size(), 40);
  double sum = 0;
  int count = 0;
  for (std::size_t a = 0; a < m; ++a)
    for (std::size_t b = a + 1; b < m; ++b, ++count) sum += f(members[a], members[b]);
  return count ? sum / count : 0.0;
}

std::map<std::int64_t, std::vector<std::int64_t>> members_of(const loaded& L, int kind) {
  std::map<std::int64_t, std::vector<std::int64_t>> g;
  for (std::int64_t i = 0; i < L.n; ++i)
    if (L.kind[i] == kind) g[L.group[i]].push_back(i);
  return g;
}

}  // namespace

TEST_F(GenerateTest, SameSeedIsIdenticalDifferentSeedDiffers) {
  generate_summary s1 = generate_dataset(small(path("a.h5")));
  generate_summary s2 = generate_dataset(small(path("b.h5")));
  generate_summary s3 = generate_dataset(small(path("c.h5"), 8));
  loaded a = load(path("a.h5")), b = load(path("b.h5")), c = load(path("c.h5"));
  EXPECT_EQ(s1.cluster_sizes, s2.cluster_sizes);
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.handle, b.handle);
  EXPECT_EQ(a.emb, b.emb);
  EXPECT_EQ(a.act, b.act);
  EXPECT_EQ(a.cluster, b.cluster);
  EXPECT_EQ(a.kind, b.kind);
  EXPECT_NE(a.emb, c.emb);
  EXPECT_NE(a.act, c.act);
  EXPECT_NE(a.id, c.id);
  EXPECT_NE(a.cluster, c.cluster);
  (void)s3;
}

TEST_F(GenerateTest, IndependentOfThreadCount) {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  generate_dataset(small(path("one.h5")));
  omp_set_num_threads(3);
  generate_dataset(small(path("three.h5")));
  omp_set_num_threads(saved);
  loaded a = load(path("one.h5")), b = load(path("three.h5"));
  EXPECT_EQ(a.emb, b.emb);
  EXPECT_EQ(a.act, b.act);
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.group, b.group);
}

TEST_F(GenerateTest, ShapesTypesAndAttributes) {
  using namespace chorus;
  generate_options o = small(path("s.h5"));
  generate_dataset(o);
  h5::handle f = h5::open_read(o.out);
  auto expect = [&](const char* name, std::vector<std::uint64_t> dims, h5::kind cls,
                    std::size_t size) {
    SCOPED_TRACE(name);
    h5::dataset_info info = h5::describe(h5::open_dataset(f, name));
    EXPECT_EQ(info.dims, dims);
    EXPECT_EQ(info.cls, cls);
    if (size) {
      EXPECT_EQ(info.elem_size, size);
      EXPECT_TRUE(info.is_signed);
    }
  };
  const std::uint64_t n = 3000;
  expect("/accounts/id", {n}, h5::kind::integer, 8);
  expect("/accounts/handle", {n}, h5::kind::string, 0);
  expect("/embedding", {n, 64}, h5::kind::floating, 4);
  expect("/activity", {n, 168}, h5::kind::integer, 4);
  expect("/truth/cluster", {n}, h5::kind::integer, 8);
  expect("/truth/kind", {n}, h5::kind::integer, 1);
  expect("/truth/group", {n}, h5::kind::integer, 8);
  expect("/truth/cluster_size", {6}, h5::kind::integer, 8);
  std::string gen;
  ASSERT_TRUE(h5::get_attr(f, "generator", gen));
  EXPECT_EQ(gen, "chorus-generate 1");
  std::int64_t v = 0;
  ASSERT_TRUE(h5::get_attr(f, "seed", v));
  EXPECT_EQ(v, 7);
  ASSERT_TRUE(h5::get_attr(f, "accounts", v));
  EXPECT_EQ(v, 3000);
  ASSERT_TRUE(h5::get_attr(f, "dim", v));
  EXPECT_EQ(v, 64);
  ASSERT_TRUE(h5::get_attr(f, "bins", v));
  EXPECT_EQ(v, 168);
  ASSERT_TRUE(h5::get_attr(f, "clusters", v));
  EXPECT_EQ(v, 6);
  // Rows of the embedding are unit vectors.
  loaded L = load(o.out);
  for (std::int64_t i = 0; i < L.n; i += 97) EXPECT_NEAR(cosine(L, i, i), 1.0, 1e-5);
}

TEST_F(GenerateTest, OptionalDatasets) {
  generate_options o = small(path("e.h5"));
  o.bins = 0;
  o.handles = false;
  generate_dataset(o);
  generate_options p = small(path("a.h5"));
  p.dim = 0;
  generate_dataset(p);
  chorus::h5::handle fe = chorus::h5::open_read(o.out), fa = chorus::h5::open_read(p.out);
  EXPECT_TRUE(chorus::h5::exists(fe, "/embedding"));
  EXPECT_FALSE(chorus::h5::exists(fe, "/activity"));
  EXPECT_FALSE(chorus::h5::exists(fe, "/accounts/handle"));
  EXPECT_FALSE(chorus::h5::exists(fa, "/embedding"));
  EXPECT_TRUE(chorus::h5::exists(fa, "/activity"));
  EXPECT_TRUE(chorus::h5::exists(fa, "/accounts/handle"));
  // The truth does not depend on which datasets are written.
  loaded le = load(o.out), la = load(p.out);
  EXPECT_EQ(le.cluster, la.cluster);
  EXPECT_EQ(le.id, la.id);
}

TEST_F(GenerateTest, EmptyDataSet) {
  generate_options o = small(path("z.h5"));
  o.accounts = 0;
  o.clusters = 0;
  generate_summary s = generate_dataset(o);
  EXPECT_EQ(s.accounts, 0);
  EXPECT_TRUE(s.cluster_sizes.empty());
  loaded L = load(o.out);
  EXPECT_EQ(L.n, 0);
}

TEST_F(GenerateTest, IdsUniqueAndHandlesMatch) {
  generate_options o = small(path("i.h5"));
  generate_dataset(o);
  loaded L = load(o.out);
  std::set<std::int64_t> ids(L.id.begin(), L.id.end());
  EXPECT_EQ(ids.size(), L.id.size());
  ASSERT_EQ(L.handle.size(), L.id.size());
  std::int64_t in_order = 0;
  for (std::int64_t i = 0; i < L.n; ++i) {
    EXPECT_EQ(L.handle[i], "acct_" + std::to_string(L.id[i]));
    in_order += L.id[i] == 1000000000 + i;
  }
  EXPECT_LT(in_order, 10);  // ids are scrambled, not row numbers
}

TEST_F(GenerateTest, TruthMatchesSummary) {
  generate_options o = small(path("t.h5"));
  o.accounts = 20000;
  o.clusters = 20;
  o.dim = 8;
  o.bins = 24;
  generate_summary s = generate_dataset(o);
  loaded L = load(o.out);
  EXPECT_EQ(s.accounts, 20000);
  ASSERT_EQ(s.cluster_sizes.size(), 20u);
  std::vector<std::int64_t> count(20, 0);
  std::int64_t per_kind[4] = {0, 0, 0, 0};
  for (std::int64_t i = 0; i < L.n; ++i) {
    ASSERT_GE(L.kind[i], 0);
    ASSERT_LE(L.kind[i], 3);
    ++per_kind[L.kind[i]];
    EXPECT_EQ(L.cluster[i] >= 0, L.kind[i] == 1);
    if (L.cluster[i] >= 0) {
      ASSERT_LT(L.cluster[i], 20);
      ++count[L.cluster[i]];
      EXPECT_EQ(L.group[i], L.cluster[i]);
    }
    EXPECT_EQ(L.group[i] >= 0, L.kind[i] != 0);
  }
  EXPECT_EQ(count, s.cluster_sizes);
  EXPECT_EQ(per_kind[1], s.coordinated);
  EXPECT_EQ(per_kind[2], s.topic_decoys);
  EXPECT_EQ(per_kind[3], s.timing_decoys);
  std::int64_t total = 0, largest = 0;
  for (auto c : s.cluster_sizes) {
    EXPECT_GE(c, 3);
    total += c;
    largest = std::max(largest, c);
  }
  EXPECT_EQ(total, s.coordinated);
  // A few % of accounts, heavy-tailed sizes.
  EXPECT_GT(total, 20000 * 0.02);
  EXPECT_LT(total, 20000 * 0.05);
  EXPECT_GT(largest, 100);
  EXPECT_GT(s.topic_decoys, 20000 * 0.02);
  EXPECT_GT(s.timing_decoys, 20000 * 0.01);
  // Members are scattered over the rows, not contiguous.
  std::int64_t adjacent = 0;
  for (std::int64_t i = 1; i < L.n; ++i)
    adjacent += L.cluster[i] >= 0 && L.cluster[i] == L.cluster[i - 1];
  EXPECT_LT(adjacent, total / 10);
}

TEST_F(GenerateTest, PlantedStructure) {
  generate_options o = small(path("p.h5"));
  o.accounts = 6000;
  o.dim = 96;
  o.bins = 336;
  o.clusters = 8;
  generate_dataset(o);
  loaded L = load(o.out);
  // Planted clusters: near-duplicate content and synchronized timing.
  for (const auto& [c, m] : members_of(L, 1)) {
    SCOPED_TRACE("cluster " + std::to_string(c));
    EXPECT_GT(mean_pairwise(m, [&](auto i, auto j) { return cosine(L, i, j); }), 0.79);
    EXPECT_GT(mean_pairwise(m, [&](auto i, auto j) { return pearson(L, i, j); }), 0.75);
  }
  // Topic decoys: near-duplicate content, independent timing.
  for (const auto& [g, m] : members_of(L, 2)) {
    SCOPED_TRACE("crowd " + std::to_string(g));
    EXPECT_GT(mean_pairwise(m, [&](auto i, auto j) { return cosine(L, i, j); }), 0.85);
    EXPECT_LT(mean_pairwise(m, [&](auto i, auto j) { return pearson(L, i, j); }), 0.4);
  }
  // Timing decoys: shared schedule, unrelated content.
  for (const auto& [g, m] : members_of(L, 3)) {
    SCOPED_TRACE("timing group " + std::to_string(g));
    EXPECT_LT(mean_pairwise(m, [&](auto i, auto j) { return cosine(L, i, j); }), 0.5);
    EXPECT_GT(mean_pairwise(m, [&](auto i, auto j) { return pearson(L, i, j); }), 0.88);
  }
  // Organic accounts: low similarity in both.
  std::vector<std::int64_t> organic;
  for (std::int64_t i = 0; i < L.n; ++i)
    if (L.kind[i] == 0) organic.push_back(i);
  std::mt19937_64 rng(1);
  int high_cos = 0, high_corr = 0;
  double sum_cos = 0;
  const int pairs = 3000;
  for (int p = 0; p < pairs; ++p) {
    auto i = organic[rng() % organic.size()], j = organic[rng() % organic.size()];
    if (i == j) continue;
    double c = cosine(L, i, j), r = pearson(L, i, j);
    sum_cos += c;
    high_cos += c >= 0.6;
    high_corr += r >= 0.5;
  }
  EXPECT_LT(sum_cos / pairs, 0.15);
  EXPECT_LE(high_cos, 3);
  EXPECT_LE(high_corr, 3);
}

TEST_F(GenerateTest, RefusesToOverwriteWithoutForce) {
  generate_options o = small(path("o.h5"), 1);
  generate_dataset(o);
  const auto before = load(o.out);
  generate_options again = small(path("o.h5"), 2);
  EXPECT_THROW(generate_dataset(again), chorus::input_error);
  EXPECT_EQ(load(o.out).emb, before.emb);
  again.force = true;
  generate_dataset(again);
  EXPECT_NE(load(o.out).emb, before.emb);
  EXPECT_EQ(files(), std::vector<std::string>{"o.h5"});
}

TEST_F(GenerateTest, InvalidOptionsThrowAndLeaveNothing) {
  auto bad = [&](auto tweak) {
    generate_options o = small(path("bad.h5"));
    tweak(o);
    EXPECT_THROW(generate_dataset(o), chorus::input_error);
  };
  bad([](generate_options& o) { o.accounts = -1; });
  bad([](generate_options& o) { o.dim = -1; });
  bad([](generate_options& o) { o.bins = -5; });
  bad([](generate_options& o) { o.dim = 0, o.bins = 0; });
  bad([](generate_options& o) { o.clusters = -1; });
  bad([](generate_options& o) { o.accounts = 20, o.clusters = 7; });
  bad([](generate_options& o) { o.out.clear(); });
  EXPECT_TRUE(files().empty());
  try {
    generate_options o = small(path("bad.h5"));
    o.accounts = 20;
    o.clusters = 7;
    generate_dataset(o);
  } catch (const chorus::input_error& e) {
    EXPECT_NE(std::string(e.what()).find("clusters"), std::string::npos) << e.what();
  }
}

TEST_F(GenerateTest, UnwritableOutputThrows) {
  generate_options o = small(path("missing/dir/x.h5"));
  EXPECT_THROW(generate_dataset(o), chorus::input_error);
  o.out = path("");  // the directory itself
  EXPECT_THROW(generate_dataset(o), chorus::input_error);
  EXPECT_TRUE(files().empty());
}

TEST_F(GenerateTest, FailureDuringWriteRemovesTemporaryFile) {
  generate_options o = small(path("x.h5"));
  o.accounts = 50000;
  o.dim = 16;
  o.bins = 24;
  struct stop {};
  int calls = 0;
  EXPECT_THROW(generate_dataset(o,
                                [&](double f) {
                                  ++calls;
                                  EXPECT_TRUE(f > 0 && f < 1);
                                  throw stop{};
                                }),
               stop);
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(files().empty()) << files().front();
}

TEST_F(GenerateTest, ProgressIsMonotoneAndEndsAtOne) {
  generate_options o = small(path("g.h5"));
  o.accounts = 40000;
  o.dim = 8;
  o.bins = 24;
  std::vector<double> seen;
  generate_dataset(o, [&](double f) { seen.push_back(f); });
  ASSERT_GE(seen.size(), 2u);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_GE(seen.front(), 0.0);
  EXPECT_DOUBLE_EQ(seen.back(), 1.0);
}
