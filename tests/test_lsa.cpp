// chorus ingest: LSA content vectors. The references here (dense TF-IDF, Jacobi eigensolver,
// Gram-Schmidt) are written separately from host/ingest/lsa.cpp and share no code with it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "chorus/core/error.hpp"
#include "chorus/ingest/count_matrix.hpp"
#include "chorus/ingest/lsa.hpp"

namespace {

using chorus::ingest::lsa_embed;
using chorus::ingest::lsa_options;
using chorus::ingest::lsa_result;
using chorus::ingest::memory_count_matrix;

/// A sparse count matrix built row by row (rows as feature -> count maps).
struct counts {
  std::int64_t cols = 0;
  std::vector<std::vector<std::pair<std::uint32_t, std::uint32_t>>> rows;

  memory_count_matrix matrix(std::int64_t block_rows = 65536) const {
    std::vector<std::int64_t> off{0};
    std::vector<std::uint32_t> col, cnt;
    for (auto r : rows) {
      std::sort(r.begin(), r.end());
      for (std::size_t i = 0; i < r.size(); ++i) {
        if (i > 0 && r[i].first == col.back() &&
            off.back() < static_cast<std::int64_t>(col.size())) {
          cnt.back() += r[i].second;  // merge repeats
          continue;
        }
        col.push_back(r[i].first);
        cnt.push_back(r[i].second);
      }
      off.push_back(static_cast<std::int64_t>(col.size()));
    }
    return memory_count_matrix(cols, off, col, cnt, block_rows);
  }
};

/// Rows drawn from topics: row i belongs to topic[i]; a topic is a set of `per_topic` features
/// (disjoint between topics), each row draws `draws` tokens from its topic (skewed) and `noise`
/// tokens from all features.
counts topic_rows(const std::vector<int>& topic, int ntopics, int per_topic, std::int64_t cols,
                  int draws, int noise, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  counts c;
  c.cols = cols;
  std::uniform_int_distribution<std::uint32_t> any(0, static_cast<std::uint32_t>(cols - 1));
  for (int tp : topic) {
    std::vector<std::pair<std::uint32_t, std::uint32_t>> row;
    for (int d = 0; d < draws; ++d) {
      // skewed within the topic: feature index ~ floor(per_topic * u^2)
      const double u = std::uniform_real_distribution<double>(0, 1)(rng);
      const auto f =
          static_cast<std::uint32_t>(tp * per_topic + static_cast<int>(per_topic * u * u));
      row.emplace_back(f, 1);
    }
    for (int d = 0; d < noise; ++d) row.emplace_back(any(rng), 1);
    c.rows.push_back(row);
  }
  (void)ntopics;
  return c;
}

/// The dense TF-IDF matrix, straight from the definition (sublinear tf, smooth idf, L2 rows).
std::vector<double> dense_tfidf(const counts& c) {
  const std::size_t n = c.rows.size(), f = static_cast<std::size_t>(c.cols);
  std::vector<double> cnt(n * f, 0.0), a(n * f, 0.0);
  for (std::size_t i = 0; i < n; ++i)
    for (auto [col, v] : c.rows[i]) cnt[i * f + col] += v;
  for (std::size_t j = 0; j < f; ++j) {
    double df = 0;
    for (std::size_t i = 0; i < n; ++i) df += cnt[i * f + j] > 0;
    const double idf = std::log((1.0 + n) / (1.0 + df)) + 1.0;
    for (std::size_t i = 0; i < n; ++i)
      if (cnt[i * f + j] > 0) a[i * f + j] = (1.0 + std::log(cnt[i * f + j])) * idf;
  }
  for (std::size_t i = 0; i < n; ++i) {
    double s = 0;
    for (std::size_t j = 0; j < f; ++j) s += a[i * f + j] * a[i * f + j];
    for (std::size_t j = 0; j < f && s > 0; ++j) a[i * f + j] /= std::sqrt(s);
  }
  return a;
}

/// Eigenpairs of the symmetric matrix s (n x n) by Jacobi rotations (cyclic sweeps, angles
/// from atan2), sorted descending. vec[j] is the j-th eigenvector.
void reference_eigen(std::vector<double> s, int n, std::vector<double>& val,
                     std::vector<std::vector<double>>& vec) {
  std::vector<std::vector<double>> v(n, std::vector<double>(n, 0.0));
  for (int i = 0; i < n; ++i) v[i][i] = 1;
  for (int sweep = 0; sweep < 60; ++sweep) {
    double off = 0, all = 0;
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) (i == j ? all : off) += s[i * n + j] * s[i * n + j];
    if (off <= 1e-28 * (all + off)) break;
    for (int p = 0; p < n; ++p)
      for (int q = p + 1; q < n; ++q) {
        if (s[p * n + q] == 0) continue;
        const double theta = 0.5 * std::atan2(2 * s[p * n + q], s[q * n + q] - s[p * n + p]);
        const double cs = std::cos(theta), sn = std::sin(theta);
        for (int k = 0; k < n; ++k) {  // columns p, q
          const double x = s[k * n + p], y = s[k * n + q];
          s[k * n + p] = cs * x - sn * y;
          s[k * n + q] = sn * x + cs * y;
        }
        for (int k = 0; k < n; ++k) {  // rows p, q
          const double x = s[p * n + k], y = s[q * n + k];
          s[p * n + k] = cs * x - sn * y;
          s[q * n + k] = sn * x + cs * y;
        }
        for (int k = 0; k < n; ++k) {
          const double x = v[k][p], y = v[k][q];
          v[k][p] = cs * x - sn * y;
          v[k][q] = sn * x + cs * y;
        }
      }
  }
  std::vector<int> idx(n);
  for (int i = 0; i < n; ++i) idx[i] = i;
  std::sort(idx.begin(), idx.end(), [&](int a, int b) { return s[a * n + a] > s[b * n + b]; });
  val.clear();
  vec.assign(n, std::vector<double>(n));
  for (int j = 0; j < n; ++j) {
    val.push_back(s[idx[j] * n + idx[j]]);
    for (int k = 0; k < n; ++k) vec[j][k] = v[k][idx[j]];
  }
}

/// Orthonormal basis (Gram-Schmidt, twice) of the columns of x (n x k, row-major).
std::vector<std::vector<double>> column_basis(const std::vector<double>& x, int n, int k) {
  std::vector<std::vector<double>> q;
  for (int j = 0; j < k; ++j) {
    std::vector<double> v(n);
    for (int i = 0; i < n; ++i) v[i] = x[static_cast<std::size_t>(i) * k + j];
    for (int pass = 0; pass < 2; ++pass)
      for (auto& b : q) {
        double d = 0;
        for (int i = 0; i < n; ++i) d += b[i] * v[i];
        for (int i = 0; i < n; ++i) v[i] -= d * b[i];
      }
    double s = 0;
    for (double e : v) s += e * e;
    for (double& e : v) e /= std::sqrt(s);
    q.push_back(v);
  }
  return q;
}

double cosine(const float* a, const float* b, int k) {
  double d = 0, na = 0, nb = 0;
  for (int j = 0; j < k; ++j)
    d += double(a[j]) * b[j], na += double(a[j]) * a[j], nb += double(b[j]) * b[j];
  return na > 0 && nb > 0 ? d / std::sqrt(na * nb) : 0.0;
}

lsa_options options(int dim, int threads = 0, std::uint64_t seed = 1) {
  lsa_options o;
  o.dim = dim;
  o.threads = threads;
  o.seed = seed;
  return o;
}

/// The planted spectrum of the reference tests: 8 topics of decreasing size in 300 x 512.
counts decaying_topics() {
  const int sizes[] = {80, 60, 45, 35, 28, 22, 17, 13};
  std::vector<int> topic;
  for (int t = 0; t < 8; ++t)
    for (int i = 0; i < sizes[t]; ++i) topic.push_back(t);
  std::shuffle(topic.begin(), topic.end(), std::mt19937_64(7));
  return topic_rows(topic, 8, 40, 512, 60, 1, 11);
}

TEST(IngestLsa, PlantedTopicsSeparateByCosine) {
  std::vector<int> topic;
  for (int i = 0; i < 600; ++i) topic.push_back(i % 6);
  // shared "stop words" 0..2 in every row test the idf; topics use features 100 + 50 t ...
  counts c = topic_rows(topic, 6, 50, 2000, 12, 4, 3);
  for (auto& row : c.rows) {
    for (auto& e : row) e.first += e.first < 300 ? 100 : 0;
    for (std::uint32_t s = 0; s < 3; ++s) row.emplace_back(s, 1);
  }
  const lsa_result r = lsa_embed(c.matrix(), options(16));
  ASSERT_EQ(r.dim, 16);
  ASSERT_EQ(r.vectors.size(), 600u * 16);
  double same = 0, other = 0;
  std::int64_t nsame = 0, nother = 0, nn_right = 0;
  for (int i = 0; i < 600; ++i) {
    double best = -2;
    int arg = -1;
    for (int j = 0; j < 600; ++j) {
      if (j == i) continue;
      const double cs = cosine(&r.vectors[i * 16], &r.vectors[j * 16], 16);
      (topic[i] == topic[j] ? same : other) += cs;
      ++(topic[i] == topic[j] ? nsame : nother);
      if (cs > best) best = cs, arg = j;
    }
    nn_right += topic[arg] == topic[i];
  }
  // LSA pulls a topic together: its same-topic cosines beat those of the raw TF-IDF rows.
  const std::vector<double> a = dense_tfidf(c);
  double raw_same = 0;
  for (int i = 0; i < 600; ++i)
    for (int j = 0; j < 600; ++j)
      if (j != i && topic[i] == topic[j])
        for (int p = 0; p < 2000; ++p) raw_same += a[i * 2000 + p] * a[j * 2000 + p];
  EXPECT_GT(same / nsame, 0.7);
  EXPECT_GT(same / nsame, raw_same / nsame + 0.2);
  EXPECT_LT(other / nother, 0.1);
  EXPECT_GE(nn_right, 597);
}

/// Like decaying_topics, but over `cols` features: each topic's features are scattered over the
/// whole feature range and every row has `noise` tokens drawn from all features, so rows have
/// entries in many cache bands of lsa_embed (and far apart in its compact feature order).
counts scattered_topics(std::int64_t cols, int noise) {
  counts c = decaying_topics();
  std::mt19937_64 rng(23);
  std::vector<std::uint32_t> perm(static_cast<std::size_t>(cols));
  for (std::size_t i = 0; i < perm.size(); ++i) perm[i] = static_cast<std::uint32_t>(i);
  std::shuffle(perm.begin(), perm.end(), rng);
  c.cols = cols;
  std::uniform_int_distribution<std::uint32_t> any(0, static_cast<std::uint32_t>(cols - 1));
  for (auto& row : c.rows) {
    for (auto& e : row) e.first = perm[e.first];
    for (int d = 0; d < noise; ++d) row.emplace_back(any(rng), 1 + static_cast<int>(rng() % 2));
  }
  return c;
}

/// Checks lsa_embed on a planted matrix (by default the 300 x 512 one) against the dense
/// reference: singular values to sv_tol (relative), the principal angles of the column spaces,
/// and every vector entry.
void expect_matches_reference(const lsa_options& opt, double sv_tol, double cos2_tol,
                              double entry_tol, const counts& c = decaying_topics()) {
  const int n = static_cast<int>(c.rows.size()), f = static_cast<int>(c.cols), k = opt.dim;
  const std::vector<double> a = dense_tfidf(c);
  std::vector<double> s(static_cast<std::size_t>(n) * n, 0.0);  // A A^T
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j)
      for (std::size_t p = 0; p < static_cast<std::size_t>(f); ++p)
        s[i * n + j] += a[i * f + p] * a[j * f + p];
  std::vector<double> val;
  std::vector<std::vector<double>> vec;
  reference_eigen(s, n, val, vec);
  const lsa_result r = lsa_embed(c.matrix(), opt);
  ASSERT_EQ(r.dim, k);
  ASSERT_EQ(r.singular_values.size(), static_cast<std::size_t>(k));
  ASSERT_GT(std::sqrt(val[k - 1]) / std::sqrt(val[k]), 1.5);  // the spectrum does decay there
  for (int j = 0; j < k; ++j)
    EXPECT_NEAR(r.singular_values[j], std::sqrt(val[j]), sv_tol * std::sqrt(val[j])) << j;
  // Reference vectors U_k Sigma_k, each column's largest entry positive, rows normalised.
  std::vector<double> ref(static_cast<std::size_t>(n) * k), got(r.vectors.begin(), r.vectors.end());
  for (int j = 0; j < k; ++j) {
    int arg = 0;
    for (int i = 0; i < n; ++i)
      if (std::abs(vec[j][i]) > std::abs(vec[j][arg])) arg = i;
    const double sg = vec[j][arg] < 0 ? -1 : 1;
    for (int i = 0; i < n; ++i) ref[i * k + j] = sg * vec[j][i] * std::sqrt(val[j]);
  }
  for (int i = 0; i < n; ++i) {
    double nr = 0;
    for (int j = 0; j < k; ++j) nr += ref[i * k + j] * ref[i * k + j];
    for (int j = 0; j < k; ++j) ref[i * k + j] /= std::sqrt(nr);
  }
  const auto q1 = column_basis(ref, n, k), q2 = column_basis(got, n, k);
  double cos2 = 0;  // sum of squared cosines of the principal angles
  for (int i = 0; i < k; ++i)
    for (int j = 0; j < k; ++j) {
      double d = 0;
      for (int p = 0; p < n; ++p) d += q1[i][p] * q2[j][p];
      cos2 += d * d;
    }
  EXPECT_GT(cos2, k - cos2_tol);
  double worst = 0;
  for (int p = 0; p < n * k; ++p) worst = std::max(worst, std::abs(ref[p] - got[p]));
  EXPECT_LT(worst, entry_tol);
}

TEST(IngestLsa, MatchesDenseReferenceSpectrumAndSubspace) {
  expect_matches_reference(options(8), 1e-3, 1e-3, 1e-2);
}

TEST(IngestLsa, ConvergesToTheDenseReferenceWithMorePowerIterations) {
  lsa_options o = options(8);
  o.power_iterations = 10;
  expect_matches_reference(o, 1e-6, 1e-8, 2e-5);
}

// 6000 features (about 5000 present): rows straddle many feature bands of both sparse products.
TEST(IngestLsa, MatchesDenseReferenceWhenRowsSpanManyFeatureBands) {
  lsa_options o = options(8);
  o.power_iterations = 10;
  expect_matches_reference(o, 1e-6, 1e-8, 2e-5, scattered_topics(6000, 25));
}

// More rows than one row tile of either sparse product, long rows spanning every band, rows
// confined to one band (a single frequent feature, or a few rare ones), and empty rows.
TEST(IngestLsa, ByteIdenticalAcrossThreadsAndBlockSizesWithManyTilesAndBands) {
  std::mt19937_64 rng(17);
  counts c;
  c.cols = 1 << 15;
  for (int i = 0; i < 9000; ++i) {
    std::vector<std::pair<std::uint32_t, std::uint32_t>> row;
    const int kind = static_cast<int>(rng() % 10);
    const int len = kind == 0 ? 0 : kind == 1 ? 1 : kind < 4 ? 300 : static_cast<int>(rng() % 30);
    for (int d = 0; d < len; ++d) {
      const double u = std::uniform_real_distribution<double>(0, 1)(rng);
      row.emplace_back(static_cast<std::uint32_t>(kind == 1 ? 5 : 32767 * u * u), 1 + rng() % 4);
    }
    if (kind == 2)  // a few rare features only
      row.assign({{32000u + static_cast<std::uint32_t>(i % 700), 1u}, {32760u, 2u}});
    c.rows.push_back(row);
  }
  lsa_options o = options(24);
  o.oversample = 5;
  o.power_iterations = 0;  // one pass of each sparse product
  o.threads = 1;
  const lsa_result base = lsa_embed(c.matrix(), o);
  ASSERT_EQ(base.dim, 24);
  double norms = 0;
  for (float v : base.vectors) norms += double(v) * v;
  EXPECT_NEAR(norms, 9000 - base.empty_rows, 1e-2);
  for (int threads : {2, 3})
    for (std::int64_t block : {777, 4097}) {
      o.threads = threads;
      const lsa_result r = lsa_embed(c.matrix(block), o);
      ASSERT_EQ(r.vectors.size(), base.vectors.size());
      EXPECT_EQ(0, std::memcmp(r.vectors.data(), base.vectors.data(), r.vectors.size() * 4))
          << threads << " threads, block " << block;
      EXPECT_EQ(r.singular_values, base.singular_values);
    }
}

TEST(IngestLsa, ByteIdenticalAcrossThreadsAndBlockSizes) {
  std::mt19937_64 rng(5);
  counts c;
  c.cols = 1 << 12;
  for (int i = 0; i < 2500; ++i) {
    std::vector<std::pair<std::uint32_t, std::uint32_t>> row;
    const int len = static_cast<int>(rng() % 40);  // some rows empty
    for (int d = 0; d < len; ++d) {
      const double u = std::uniform_real_distribution<double>(0, 1)(rng);
      row.emplace_back(static_cast<std::uint32_t>(4095 * u * u * u), 1 + rng() % 3);
    }
    c.rows.push_back(row);
  }
  lsa_options o = options(37);
  o.oversample = 11;
  const lsa_result base = lsa_embed(c.matrix(), o);
  ASSERT_EQ(base.dim, 37);
  double norms = 0;
  for (float v : base.vectors) norms += double(v) * v;
  EXPECT_NEAR(norms, 2500 - base.empty_rows, 1e-2);
  for (int threads : {1, 2, 3, 7})
    for (std::int64_t block : {7, 1000, 65536}) {
      o.threads = threads;
      const lsa_result r = lsa_embed(c.matrix(block), o);
      ASSERT_EQ(r.vectors.size(), base.vectors.size());
      EXPECT_EQ(0, std::memcmp(r.vectors.data(), base.vectors.data(), r.vectors.size() * 4))
          << threads << " threads, block " << block;
      EXPECT_EQ(r.singular_values, base.singular_values);
    }
}

TEST(IngestLsa, DifferentSeedsGiveTheSameCosineStructure) {
  const counts c = decaying_topics();
  const lsa_result a = lsa_embed(c.matrix(), options(8, 0, 1));
  const lsa_result b = lsa_embed(c.matrix(), options(8, 0, 987654321));
  ASSERT_NE(0, std::memcmp(a.vectors.data(), b.vectors.data(), a.vectors.size() * 4));
  double worst = 0;
  for (int i = 0; i < 300; i += 3)
    for (int j = 0; j < 300; j += 2)
      worst = std::max(worst, std::abs(cosine(&a.vectors[i * 8], &a.vectors[j * 8], 8) -
                                       cosine(&b.vectors[i * 8], &b.vectors[j * 8], 8)));
  EXPECT_LT(worst, 2e-2);
  for (int j = 0; j < 8; ++j)
    EXPECT_NEAR(a.singular_values[j], b.singular_values[j], 1e-4 * a.singular_values[0]);
}

TEST(IngestLsa, EmptyRowsAreZeroAndCounted) {
  counts c = topic_rows(std::vector<int>(50, 0), 1, 30, 64, 10, 2, 9);
  for (int i : {0, 3, 49}) c.rows[i].clear();
  const lsa_result r = lsa_embed(c.matrix(4), options(6, 2));
  EXPECT_EQ(r.empty_rows, 3);
  ASSERT_EQ(r.dim, 6);
  for (int i = 0; i < 50; ++i) {
    double s = 0;
    for (int j = 0; j < 6; ++j) s += double(r.vectors[i * 6 + j]) * r.vectors[i * 6 + j];
    const bool empty = i == 0 || i == 3 || i == 49;
    EXPECT_NEAR(s, empty ? 0.0 : 1.0, 1e-5) << i;
  }
}

TEST(IngestLsa, DimIsLoweredToTheRankBound) {
  counts few_rows = topic_rows({0, 1, 0, 1, 2}, 3, 20, 100, 8, 1, 2);
  lsa_result r = lsa_embed(few_rows.matrix(), options(256));
  EXPECT_EQ(r.dim, 5);
  EXPECT_EQ(r.vectors.size(), 25u);
  EXPECT_EQ(r.singular_values.size(), 5u);
  counts few_features;
  few_features.cols = 1000;
  for (int i = 0; i < 40; ++i)
    few_features.rows.push_back({{7, 1u + i % 3}, {500, 1}, {999, 1u + i % 5}});
  r = lsa_embed(few_features.matrix(), options(64));
  EXPECT_EQ(r.dim, 3);
  // identical rows: rank 1 inside dim 4; sigma_1 = sqrt(rows), the rest zero, every row = e_1
  counts same;
  same.cols = 50;
  for (int i = 0; i < 10; ++i) same.rows.push_back({{1, 2}, {5, 1}, {9, 4}, {20, 1}});
  r = lsa_embed(same.matrix(3), options(8));
  ASSERT_EQ(r.dim, 4);
  EXPECT_NEAR(r.singular_values[0], std::sqrt(10.0), 1e-6);
  for (int j = 1; j < 4; ++j) EXPECT_NEAR(r.singular_values[j], 0.0, 1e-6);
  for (int i = 0; i < 10; ++i) EXPECT_NEAR(r.vectors[i * 4], 1.0, 1e-6);
}

TEST(IngestLsa, ZeroRowsAndSingleFeature) {
  const memory_count_matrix none(1 << 10, {0}, {}, {});
  lsa_result r = lsa_embed(none, options(16));
  EXPECT_EQ(r.dim, 0);
  EXPECT_TRUE(r.vectors.empty());
  EXPECT_EQ(r.empty_rows, 0);
  const memory_count_matrix all_empty(1 << 10, {0, 0, 0}, {}, {});
  r = lsa_embed(all_empty, options(16));
  EXPECT_EQ(r.dim, 0);
  EXPECT_EQ(r.empty_rows, 2);
  counts one;
  one.cols = 64;
  for (std::uint32_t cnt : {1u, 0u, 5u, 2u, 0u, 40u}) {
    one.rows.emplace_back();
    if (cnt) one.rows.back().emplace_back(17, cnt);
  }
  r = lsa_embed(one.matrix(), options(16));
  ASSERT_EQ(r.dim, 1);
  EXPECT_EQ(r.empty_rows, 2);
  EXPECT_NEAR(r.singular_values[0], 2.0, 1e-9);
  const float want[] = {1, 0, 1, 1, 0, 1};
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(r.vectors[i], want[i], 1e-6) << i;
}

TEST(IngestLsa, RejectsBadOptionsAndMalformedMatrices) {
  const counts c = topic_rows({0, 1, 0}, 2, 5, 20, 4, 0, 1);
  lsa_options o = options(0);
  EXPECT_THROW(lsa_embed(c.matrix(), o), chorus::input_error);
  o = options(4);
  o.oversample = -1;
  EXPECT_THROW(lsa_embed(c.matrix(), o), chorus::input_error);
  const memory_count_matrix bad_col(8, {0, 1}, {9}, {1});
  EXPECT_THROW(lsa_embed(bad_col, options(2)), chorus::input_error);
  const memory_count_matrix zero_count(8, {0, 1}, {3}, {0});
  EXPECT_THROW(lsa_embed(zero_count, options(2)), chorus::input_error);
}

TEST(IngestLsa, ReportsProgressAndCancelsWhenItThrows) {
  const counts c = decaying_topics();
  std::vector<double> seen;
  lsa_embed(c.matrix(50), options(4), [&](double f) { seen.push_back(f); });
  ASSERT_GE(seen.size(), 7u * 6);  // 7 passes of 6 blocks
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_GT(seen.front(), 0.0);
  EXPECT_EQ(seen.back(), 1.0);
  int calls = 0;
  struct stop {};
  EXPECT_THROW(lsa_embed(c.matrix(50), options(4),
                         [&](double f) {
                           ++calls;
                           if (f > 0.5) throw stop{};
                         }),
               stop);
  EXPECT_LT(calls, static_cast<int>(seen.size()));
}

}  // namespace
