// Tests of the logic that host and device share: tiling, margins, union-find steps, decisions.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <queue>
#include <random>
#include <thread>
#include <vector>

#include "chorus/core/bf16.hpp"
#include "chorus/core/decision.hpp"
#include "chorus/graph/components.hpp"
#include "chorus/graph/union_find.hpp"
#include "chorus/scan/first_pass.hpp"
#include "chorus/scan/margin.hpp"
#include "chorus/scan/quantize.hpp"
#include "chorus/scan/tiling.hpp"
#include "reference.hpp"

using namespace chorus;

TEST(Tiling, UnitsCoverEveryPairOnce) {
  for (std::int64_t n : {0, 1, 2, 3, 7, 64, 65, 100, 257}) {
    for (auto [R, C] : {std::pair<std::int64_t, std::int64_t>{4, 8}, {16, 16}, {1, 3}, {64, 128}}) {
      std::vector<int> seen(n * n, 0);
      std::int64_t units = 0;
      const std::int64_t nb = tiling::blocks(n, R), nc = tiling::blocks(n, C);
      for (std::int64_t bi = 0; bi < nb; ++bi)
        for (std::int64_t cj = tiling::first_chunk(bi, R, C); cj < nc; ++cj) {
          ++units;
          for (std::int64_t i = bi * R; i < std::min(n, bi * R + R); ++i) {
            std::int64_t lo, hi;
            tiling::row_span(i, cj * C, C, n, &lo, &hi);
            for (std::int64_t j = lo; j < hi; ++j) {
              ASSERT_TRUE(tiling::in_triangle(i, j, n));
              ++seen[i * n + j];
            }
          }
        }
      EXPECT_EQ(units, tiling::units(n, R, C)) << "n=" << n << " R=" << R << " C=" << C;
      std::int64_t pairs = 0;
      for (std::int64_t i = 0; i < n; ++i)
        for (std::int64_t j = 0; j < n; ++j) {
          EXPECT_EQ(seen[i * n + j], i < j ? 1 : 0)
              << "n=" << n << " R=" << R << " C=" << C << " i=" << i << " j=" << j;
          pairs += seen[i * n + j];
        }
      EXPECT_EQ(pairs, tiling::pair_count(n));
    }
  }
}

TEST(Tiling, PairCountIs64Bit) {
  EXPECT_EQ(tiling::pair_count(100'000'000), 4'999'999'950'000'000LL);
  EXPECT_EQ(tiling::pair_count(3'000'000'000LL), 4'499'999'998'500'000'000LL);
}

TEST(Tiling, RowsPairsMatchesBruteForce) {
  for (std::int64_t n : {0, 1, 2, 5, 64, 101})
    for (std::int64_t a = -1; a <= n + 1; ++a)
      for (std::int64_t b = a; b <= n + 2; ++b) {
        std::int64_t ref = 0;
        for (std::int64_t i = std::max<std::int64_t>(a, 0); i < std::min(b, n); ++i)
          ref += n - 1 - i;
        ASSERT_EQ(tiling::rows_pairs(a, b, n), ref) << "n=" << n << " a=" << a << " b=" << b;
      }
  EXPECT_EQ(tiling::rows_pairs(0, 100'000'000, 100'000'000), tiling::pair_count(100'000'000));
}

// The rank split: contiguous row ranges that cover [0, n) once, pair counts within n of each
// other, and shifted tiles over each range that decide every pair exactly once overall.
TEST(Tiling, SplitRowsBalancesPairsAndCoversEveryPairOnce) {
  for (std::int64_t n : {0, 1, 2, 3, 17, 100, 257})
    for (std::int64_t parts : {1, 2, 3, 4, 7, 300}) {
      std::vector<int> seen(n * n, 0);
      std::int64_t lo_pairs = INT64_MAX, hi_pairs = 0;
      for (std::int64_t r = 0; r < parts; ++r) {
        const std::int64_t rb = tiling::split_row(n, parts, r),
                           re = tiling::split_row(n, parts, r + 1);
        ASSERT_LE(rb, re) << "n=" << n << " parts=" << parts << " r=" << r;
        const std::int64_t p = tiling::rows_pairs(rb, re, n);
        lo_pairs = std::min(lo_pairs, p), hi_pairs = std::max(hi_pairs, p);
        const std::int64_t R = 4, C = 8;
        const std::int64_t nb = tiling::blocks(re - rb, R), nc = tiling::blocks(n - rb, C);
        for (std::int64_t bi = 0; bi < nb; ++bi)
          for (std::int64_t cj = tiling::first_chunk(bi, R, C); cj < nc; ++cj)
            for (std::int64_t i = rb + bi * R; i < std::min(re, rb + bi * R + R); ++i) {
              std::int64_t lo, hi;
              tiling::row_span(i, rb + cj * C, C, n, &lo, &hi);
              for (std::int64_t j = lo; j < hi; ++j) ++seen[i * n + j];
            }
      }
      EXPECT_EQ(tiling::split_row(n, parts, 0), 0);
      EXPECT_EQ(tiling::split_row(n, parts, parts), n);
      if (n >= 2) EXPECT_LT(hi_pairs - lo_pairs, 2 * n) << "n=" << n << " parts=" << parts;
      for (std::int64_t i = 0; i < n; ++i)
        for (std::int64_t j = 0; j < n; ++j)
          ASSERT_EQ(seen[i * n + j], i < j ? 1 : 0)
              << "n=" << n << " parts=" << parts << " i=" << i << " j=" << j;
    }
  // national scale: 100M accounts over 1024 ranks, 64-bit throughout
  const std::int64_t n = 100'000'000;
  std::int64_t prev = 0, lo_pairs = INT64_MAX, hi_pairs = 0;
  for (std::int64_t r = 1; r <= 1024; ++r) {
    const std::int64_t b = tiling::split_row(n, 1024, r), p = tiling::rows_pairs(prev, b, n);
    lo_pairs = std::min(lo_pairs, p), hi_pairs = std::max(hi_pairs, p), prev = b;
  }
  EXPECT_LT(hi_pairs - lo_pairs, 2 * n);
}

// Rounds x to bf16 (nearest even), as the first pass does.
static float bf16_round(float x) {
  std::uint32_t u;
  std::memcpy(&u, &x, 4);
  u += 0x7fffu + ((u >> 16) & 1u);
  u &= 0xffff0000u;
  float y;
  std::memcpy(&y, &u, 4);
  return y;
}

// The margins must bound the worst observed first-pass error on adversarial rows
// (near-parallel vectors with mixed magnitudes), for several dimensions.
TEST(Margin, BoundsObservedErrors) {
  std::mt19937_64 rng(42);
  for (int d : {1, 2, 7, 64, 384, 1000}) {
    std::normal_distribution<double> g;
    double worst_f32 = 0, worst_bf16 = 0, worst_i8_ratio = 0;
    for (int trial = 0; trial < 300; ++trial) {
      std::vector<double> a(d), b(d);
      for (int k = 0; k < d; ++k) {
        a[k] = g(rng) * (k % 5 == 0 ? 10 : 1);
        b[k] = a[k] + 0.05 * g(rng) * (trial % 3);
      }
      auto norm = [&](std::vector<double>& v) {
        double s = 0;
        for (double x : v) s += x * x;
        for (double& x : v) x /= std::sqrt(s);
      };
      norm(a);
      norm(b);
      std::vector<float> af(a.begin(), a.end()), bf(b.begin(), b.end());
      double exact = 0;
      float f32 = 0, fb = 0;
      for (int k = 0; k < d; ++k) {
        exact += double(af[k]) * bf[k];
        f32 += af[k] * bf[k];
        fb += bf16_round(af[k]) * bf16_round(bf[k]);
      }
      worst_f32 = std::max(worst_f32, std::fabs(f32 - exact));
      worst_bf16 = std::max(worst_bf16, std::fabs(fb - exact));
      // int8 with per-row scales: exact integer dot
      auto quant = [&](const std::vector<float>& x, std::vector<int>& q, double& s, double& e,
                       double& m) {
        float amax = 0;
        for (float v : x) amax = std::max(amax, std::fabs(v));
        float sf = amax / 127.0f;
        s = sf;
        q.resize(d);
        e = m = 0;
        for (int k = 0; k < d; ++k) {
          q[k] = int(std::lround(x[k] / sf));
          double r = x[k] - s * q[k];
          e += r * r;
          m += s * q[k] * s * q[k];
        }
        e = std::sqrt(e);
        m = std::sqrt(m);
      };
      std::vector<int> qa, qb;
      double sa, ea, ma, sb, eb, mb;
      quant(af, qa, sa, ea, ma);
      quant(bf, qb, sb, eb, mb);
      long long idot = 0;
      for (int k = 0; k < d; ++k) idot += (long long)qa[k] * qb[k];
      double approx = sa * sb * double(idot);
      double bound = margin::int8_pair(1.0 + 1e-6, ea, eb, mb);
      worst_i8_ratio = std::max(worst_i8_ratio, std::fabs(approx - exact) / bound);
    }
    EXPECT_LE(worst_f32, margin::fp32_gemm(d)) << "d=" << d;
    EXPECT_LE(worst_bf16, margin::bf16_gemm(d)) << "d=" << d;
    EXPECT_LE(worst_i8_ratio, 1.0) << "d=" << d;
  }
}

// The host/device int8 quantiser (chorus/scan/quantize.hpp, run by the CPU backend and by the CUDA
// backend's device-side first pass): integers within [-127, 127], and per-row bounds that hold
// the error actually made, for ordinary, padded, tiny and zero rows.
TEST(Quantize, RowBoundsHoldTheErrorMade) {
  std::mt19937_64 rng(7);
  std::normal_distribution<double> g;
  for (int k : {1, 7, 8, 64, 384, 385, 1024}) {
    for (int trial = 0; trial < 50; ++trial) {
      std::vector<float> x(k, 0.0f);
      const int used = trial % 5 == 1 ? std::max(1, k / 2) : k;  // zero padding past `used`
      for (int t = 0; t < used; ++t)
        x[t] = trial % 7 == 3 ? 1e-30f * float(g(rng)) : float(g(rng) * (t % 9 == 0 ? 8 : 1));
      if (trial == 4) std::fill(x.begin(), x.end(), 0.0f);
      std::vector<std::int8_t> q(k);
      double e2 = 0, q2 = 0, r2 = 0;
      const float s = quantize_row_int8(x.data(), k, q.data(), e2, q2, r2);
      float e, m, nrm;
      int8_row_bounds(e2, q2, r2, &e, &m, &nrm);
      double err = 0, qn = 0, xn = 0;
      for (int t = 0; t < k; ++t) {
        ASSERT_LE(std::abs(int(q[t])), 127);
        const double qv = double(s) * q[t];
        err += (x[t] - qv) * (x[t] - qv);
        qn += qv * qv;
        xn += double(x[t]) * x[t];
      }
      EXPECT_GE(e, std::sqrt(err)) << "k=" << k << " trial=" << trial;
      EXPECT_GE(m, std::sqrt(qn)) << "k=" << k << " trial=" << trial;
      EXPECT_GE(nrm, std::sqrt(xn)) << "k=" << k << " trial=" << trial;
      if (xn > 0) EXPECT_LE(std::sqrt(err), 0.5 * s * std::sqrt(double(k)) * (1 + 1e-6));
    }
  }
}

// One first-pass element per view mode (chorus/scan/first_pass.hpp, host and device).
TEST(FirstPass, ValueBuildsEveryMode) {
  const float e[3] = {0.5f, -0.25f, 1.0f}, a[2] = {2.0f, -4.0f};
  const float we = 0.75f, wa = 0.5f;
  auto row = [&](view_mode m, bool ev, bool av, int ld) {
    std::vector<float> r(ld);
    for (int k = 0; k < ld; ++k) r[k] = first_pass_value(m, k, e, 3, ev, a, 2, av, we, wa);
    return r;
  };
  EXPECT_EQ(row(view_mode::embedding, true, true, 4), (std::vector<float>{0.5f, -0.25f, 1, 0}));
  EXPECT_EQ(row(view_mode::both, false, false, 3), (std::vector<float>{0.5f, -0.25f, 1}));
  EXPECT_EQ(row(view_mode::activity, true, true, 4), (std::vector<float>{2, -4, 0, 0}));
  EXPECT_EQ(row(view_mode::fused, true, true, 6),
            (std::vector<float>{0.375f, -0.1875f, 0.75f, 1, -2, 0}));
  EXPECT_EQ(row(view_mode::fused, true, false, 6), std::vector<float>(6, 0.0f));
  EXPECT_EQ(row(view_mode::fused, false, true, 5), std::vector<float>(5, 0.0f));
}

TEST(Margin, Magnitudes) {
  EXPECT_LT(margin::fp32_gemm(384), 1e-4);
  EXPECT_GT(margin::fp32_gemm(384), 384 * margin::kU32);
  EXPECT_LT(margin::bf16_gemm(384), 0.01);
  EXPECT_EQ(margin::fp32_gemm(std::int64_t(1) << 24), 4.0);
}

TEST(Decision, Modes) {
  decision_params p;
  p.threshold = 0.8;
  p.threshold_activity = 0.7;
  p.mode = view_mode::embedding;
  EXPECT_TRUE(decide(p, 0.8, NAN));
  EXPECT_FALSE(decide(p, 0.7999999, NAN));
  p.mode = view_mode::activity;
  EXPECT_TRUE(decide(p, NAN, 0.7));
  p.mode = view_mode::both;
  EXPECT_TRUE(decide(p, 0.9, 0.75));
  EXPECT_FALSE(decide(p, 0.9, 0.65));
  EXPECT_FALSE(decide(p, 0.79, 0.95));
  EXPECT_DOUBLE_EQ(strength(p, 0.9, 0.75), 0.75);
  p.mode = view_mode::fused;
  p.weight = 0.25;
  EXPECT_TRUE(decide(p, 0.5, 0.9));  // 0.125 + 0.675 = 0.8
  EXPECT_FALSE(decide(p, 0.5, 0.89));
}

// Components from union-find equal a BFS reference, whatever the edge order and thread count.
TEST(UnionFind, MatchesBfsReference) {
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 20; ++trial) {
    const std::int64_t n = 1 + rng() % 3000;
    const std::int64_t m = rng() % (2 * n);
    std::vector<edge> edges;
    for (std::int64_t e = 0; e < m; ++e) {
      std::int64_t a = rng() % n, b = rng() % n;
      if (a == b) continue;
      edges.push_back({std::min(a, b), std::max(a, b), 0.9f, 0.9f});
    }
    std::vector<std::vector<std::int64_t>> adj(n);
    for (auto& e : edges) {
      adj[e.src].push_back(e.dst);
      adj[e.dst].push_back(e.src);
    }
    std::vector<std::int64_t> ref(n, -1);
    for (std::int64_t s = 0; s < n; ++s) {
      if (ref[s] >= 0) continue;
      std::queue<std::int64_t> q;
      q.push(s);
      ref[s] = s;  // s is the smallest row of its component (visited in increasing order)
      while (!q.empty()) {
        auto x = q.front();
        q.pop();
        for (auto y : adj[x])
          if (ref[y] < 0) ref[y] = s, q.push(y);
      }
    }
    for (int threads : {1, 2, 4}) {
      std::shuffle(edges.begin(), edges.end(), rng);
      EXPECT_EQ(component_roots(n, edges, threads), ref)
          << "trial " << trial << " n=" << n << " threads " << threads;
    }
  }
}

TEST(UnionFind, ConcurrentUnitesAreSafe) {
  const std::int64_t n = 200000;
  std::vector<std::int64_t> parent(n);
  std::iota(parent.begin(), parent.end(), 0);
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&, t] {
      for (std::int64_t i = t; i + 1 < n; i += 4) uf::unite(parent.data(), i, i + 1);
    });
  for (auto& t : ts) t.join();
  for (std::int64_t i = 0; i < n; ++i) ASSERT_EQ(uf::find(parent.data(), i), 0);
}

TEST(Labels, CanonicalOrder) {
  // components: {0,5} size 2, {1,2,3} size 3, {4} alone, {6,7} size 2
  std::vector<std::int64_t> roots = {0, 1, 1, 1, 4, 0, 6, 6};
  std::int64_t k = 0;
  auto labels = canonical_labels(roots, k);
  EXPECT_EQ(k, 3);
  EXPECT_EQ(labels, (std::vector<std::int64_t>{1, 0, 0, 0, -1, 1, 2, 2}));
}

// The production int8 score (quantiser, row bounds and per-pair margin together, as the CPU
// epilogue and the fused GPU kernel use them) never falls below the exact dot by more than the
// slack the cut adds, in either order of the pair. Binary and one-hot rows quantise exactly, so
// for them only one of the margin's two terms covers the other row's error.
TEST(Margin, Int8ScoreNeverUnderestimatesTheExactDot) {
  std::mt19937_64 rng(11);
  std::normal_distribution<double> g;
  for (int d : {3, 16, 64, 384}) {
    auto make = [&](int kind) {
      std::vector<float> x(d);
      const int hot = int(rng() % d);
      for (int k = 0; k < d; ++k) {
        switch (kind) {
          case 0:  // gaussian
            x[k] = float(g(rng));
            break;
          case 1:  // spiky: one large entry makes the scale coarse for the rest
            x[k] = float(g(rng) * (k == d / 2 ? 30 : 1));
            break;
          case 2:  // binary (exact in int8)
            x[k] = (rng() % 3 == 0 || k == 0) ? 1.0f : 0.0f;
            break;
          default:  // one-hot (exact in int8)
            x[k] = k == hot ? 1.0f : 0.0f;
        }
      }
      double s2 = 0;
      for (float v : x) s2 += double(v) * v;
      for (float& v : x) v = float(v / std::sqrt(s2));
      return x;
    };
    for (int trial = 0; trial < 400; ++trial) {
      const int ka = trial % 4, kb = (trial / 4) % 4;
      std::vector<float> a = make(ka), b = make(kb);
      if (trial % 5 == 0)  // near-parallel pair: the case near any threshold
        for (int k = 0; k < d; ++k) a[k] = b[k] + float(0.02 * g(rng) * std::fabs(b[k]));
      std::vector<std::int8_t> qa(d), qb(d);
      double ea2 = 0, qa2 = 0, ra2 = 0, eb2 = 0, qb2 = 0, rb2 = 0;
      const float sa = quantize_row_int8(a.data(), d, qa.data(), ea2, qa2, ra2);
      const float sb = quantize_row_int8(b.data(), d, qb.data(), eb2, qb2, rb2);
      float ea, ma, na, eb, mb, nb;
      int8_row_bounds(ea2, qa2, ra2, &ea, &ma, &na);
      int8_row_bounds(eb2, qb2, rb2, &eb, &mb, &nb);
      std::int32_t idot = 0;
      double exact = 0, own_margin_ab = 0, own_margin_ba = 0;
      double ea_own = 0, eb_own = 0, ma_own = 0, mb_own = 0, na_own = 0, nb_own = 0;
      for (int k = 0; k < d; ++k) {
        idot += std::int32_t(qa[k]) * std::int32_t(qb[k]);
        exact += double(a[k]) * double(b[k]);
        const double qav = double(sa) * qa[k], qbv = double(sb) * qb[k];
        ea_own += (a[k] - qav) * (a[k] - qav), eb_own += (b[k] - qbv) * (b[k] - qbv);
        ma_own += qav * qav, mb_own += qbv * qbv;
        na_own += double(a[k]) * a[k], nb_own += double(b[k]) * b[k];
      }
      own_margin_ab = std::sqrt(na_own * eb_own) + std::sqrt(ea_own * mb_own);
      own_margin_ba = std::sqrt(nb_own * ea_own) + std::sqrt(eb_own * ma_own);
      const double ab = margin::int8_score(idot, sa, sb, na, ea, eb, mb);
      const double ba = margin::int8_score(idot, sb, sa, nb, eb, ea, ma);
      SCOPED_TRACE("d=" + std::to_string(d) + " kinds " + std::to_string(ka) + "," +
                   std::to_string(kb) + " trial " + std::to_string(trial));
      ASSERT_GE(ab + margin::kSlack, exact);
      ASSERT_GE(ba + margin::kSlack, exact);
      // and the margin is the Cauchy-Schwarz bound, not a looser one
      const double approx = double(idot) * double(sa) * double(sb);
      ASSERT_LE(ab - approx, own_margin_ab * (1 + 1e-5) + 1e-6);
      ASSERT_LE(ba - approx, own_margin_ba * (1 + 1e-5) + 1e-6);
    }
  }
}

// fp32 and bf16 margins on inputs that realise the worst case: every product but the first is
// lost (fp32) or every input rounds by nearly a full unit (bf16). The margin must cover the
// error and be within a factor of two of it, so a bound made too small fails here.
TEST(Margin, AdversarialErrorsReachTheBounds) {
  for (int d : {64, 384, 1000}) {
    // fp32: a = (1, e, e, ...), b = (1, f, f, ...) with e*f just under half an ulp of 1
    const double tiny = std::sqrt(0.999 * std::ldexp(1.0, -24));
    std::vector<float> a(d, float(tiny)), b(d, float(tiny));
    a[0] = b[0] = 1.0f;
    float seq = 0;
    double exact = 0, sum_abs = 0, na = 0, nb = 0;
    for (int k = 0; k < d; ++k) {
      seq += a[k] * b[k];
      exact += double(a[k]) * b[k];
      sum_abs += std::fabs(double(a[k]) * b[k]);
      na += double(a[k]) * a[k], nb += double(b[k]) * b[k];
    }
    const double err32 = std::fabs(double(seq) - exact) / std::sqrt(na * nb);
    EXPECT_LE(err32, margin::fp32_gemm(d) - margin::kSlack) << "d=" << d;
    EXPECT_GE(2 * err32, margin::fp32_gemm(d) - margin::kSlack) << "d=" << d;
    // bf16: every entry 1 + 2^-8 - 2^-20 rounds down by nearly 2^-8 (relative)
    const float v = float(1.0 + std::ldexp(1.0, -8) - std::ldexp(1.0, -20));
    float acc = 0;
    double ex = 0;
    for (int k = 0; k < d; ++k) {
      std::uint32_t bits = std::uint32_t(to_bf16(v)) << 16;
      float r;
      std::memcpy(&r, &bits, 4);
      acc += r * r;
      ex += double(v) * v;
    }
    const double err16 = std::fabs(double(acc) - ex) / ex;  // n_i n_j = ex here
    EXPECT_LE(err16, margin::bf16_gemm(d) - margin::kSlack) << "d=" << d;
    EXPECT_GE(2 * err16, margin::bf16_gemm(d) - margin::kSlack) << "d=" << d;
  }
}

// The margins' formulas, recomputed from Higham's gamma_d (README, "Exactness contract").
TEST(Margin, FormulasMatchTheContract) {
  const double u = std::ldexp(1.0, -24), ub = std::ldexp(1.0, -8), nb = 1.0 + 1e-5;
  for (std::int64_t d : {1, 7, 384, 4096}) {
    const double g32 = (d + 1) * u / (1 - (d + 1) * u);
    EXPECT_NEAR(margin::fp32_gemm(d), g32 * nb + 2e-6, 1e-15) << d;
    const double gd = d * u / (1 - d * u);
    const double p = (1 + ub) * (1 + ub);
    EXPECT_NEAR(margin::bf16_gemm(d), (p - 1 + gd * p) * nb + 2e-6, 1e-15) << d;
    const double gt = 4 * d * u / (1 - 4 * d * u);
    EXPECT_NEAR(margin::bf16_gemm(d, nb, 4 * u), (p - 1 + gt * p) * nb + 2e-6, 1e-15) << d;
  }
}

// to_bf16 against a reference that picks the nearer of the two bf16 neighbours in float64,
// ties to the even pattern.
TEST(Bf16, RoundsToNearestEven) {
  std::mt19937_64 rng(5);
  auto value = [](std::uint16_t h) {
    std::uint32_t bits = std::uint32_t(h) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return double(f);
  };
  std::vector<float> xs = {0.0f,
                           -0.0f,
                           1.0f,
                           -1.0f,
                           1.00390625f /* tie: 1 + 2^-8 */,
                           1.01171875f /* tie: 1 + 3 * 2^-8 */,
                           3.0e38f,
                           1e-40f,
                           -2.5e-3f};
  for (int t = 0; t < 20000; ++t) {
    std::uint32_t bits = std::uint32_t(rng());
    if ((bits & 0x7f800000u) == 0x7f800000u) continue;  // inputs are finite
    float f;
    std::memcpy(&f, &bits, 4);
    if (std::fabs(f) > 3.3e38f) continue;  // would round past the largest bf16
    xs.push_back(f);
  }
  for (float x : xs) {
    std::uint32_t bits;
    std::memcpy(&bits, &x, 4);
    const std::uint16_t lo = std::uint16_t(bits >> 16), hi = std::uint16_t(lo + 1);
    const double dl = std::fabs(value(lo) - double(x)), dh = std::fabs(value(hi) - double(x));
    const std::uint16_t want = dl < dh ? lo : dh < dl ? hi : ((lo & 1) ? hi : lo);
    ASSERT_EQ(to_bf16(x), want) << "x=" << x;
  }
}

// decide() and strength() against the reference's reading of the README, on a grid that puts
// similarities exactly at, just under and just over each threshold, for every mode and weight.
TEST(Decision, MatchesTheReferenceOnAGridAroundEveryThreshold) {
  const view_mode modes[] = {view_mode::embedding, view_mode::activity, view_mode::both,
                             view_mode::fused};
  const oracle::view views[] = {oracle::view::embedding, oracle::view::activity, oracle::view::both,
                                oracle::view::fused};
  std::int64_t checked = 0, at_threshold_true = 0;
  for (int m = 0; m < 4; ++m)
    for (double thr : {-1.0, -0.3, 0.0, 0.8, 1.0})
      for (double thr_act : {-1.0, 0.5, 1.0})
        for (double w : {0.0, 0.25, 0.5, 0.9, 1.0}) {
          decision_params p;
          p.mode = modes[m];
          p.threshold = thr;
          p.threshold_activity = thr_act;
          p.weight = w;
          oracle::params q;
          q.mode = views[m];
          q.thr = thr;
          q.thr_act = thr_act;
          q.weight = w;
          std::vector<double> ses, sas;
          for (double x : {thr, thr_act})
            for (double dlt : {0.0, 1e-12, -1e-12, 0.05, -0.05}) {
              ses.push_back(std::max(-1.0, std::min(1.0, x + dlt)));
              sas.push_back(std::max(-1.0, std::min(1.0, x + dlt)));
            }
          for (double se : ses)
            for (double sa : sas) {
              ++checked;
              const bool want = oracle::decision(q, se, sa);
              ASSERT_EQ(decide(p, se, sa), want) << "mode " << m << " thr " << thr << "/" << thr_act
                                                 << " w " << w << " se " << se << " sa " << sa;
              ASSERT_DOUBLE_EQ(strength(p, se, sa), oracle::strength_of(q, se, sa));
              at_threshold_true += want && (se == thr || sa == thr_act);
            }
        }
  EXPECT_GT(checked, 10000);
  EXPECT_GT(at_threshold_true, 100) << "the grid must hold pairs exactly at a threshold";
}
