// The fused kernel's index arithmetic (chorus/scan/fused_tile.hpp), checked on the CPU: the tile
// scheduler, the mma.sync fragment layouts, and an emulation of one thread block's data path
// (shared-memory stages, fragment gathers, warp MMAs, the masked threshold epilogue) against a
// direct computation.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <vector>

#include "chorus/scan/fused_tile.hpp"
#include "chorus/scan/tiling.hpp"

using namespace chorus;
using namespace chorus::fused;

TEST(FusedTile, TrapezoidTilesAreABijection) {
  for (std::int64_t nbc : {1, 2, 3, 7, 64, 129})
    for (std::int64_t nbr = 1; nbr <= nbc; nbr += (nbr < 8 ? 1 : 17)) {
      std::int64_t t = 0;
      for (std::int64_t bi = 0; bi < nbr; ++bi)
        for (std::int64_t bj = bi; bj < nbc; ++bj, ++t) {
          std::int64_t a, b;
          trap_tile(t, nbr, nbc, &a, &b);
          ASSERT_EQ(a, bi) << "t=" << t << " nbr=" << nbr << " nbc=" << nbc;
          ASSERT_EQ(b, bj) << "t=" << t << " nbr=" << nbr << " nbc=" << nbc;
        }
      EXPECT_EQ(t, trap_tiles(nbr, nbc));
    }
  // national scale: 10^8 accounts in tiles of 128 (781,250 tiles a side, 3e11 tiles)
  const std::int64_t nb = (100'000'000 + kBM - 1) / kBM;
  std::mt19937_64 rng(5);
  const std::int64_t total = trap_tiles(nb, nb);
  EXPECT_EQ(total, nb * (nb + 1) / 2);
  for (int k = 0; k < 20000; ++k) {
    const std::int64_t t = k < 4 ? (k < 2 ? k : total - 1 - (k - 2)) : rng() % total;
    std::int64_t bi, bj;
    trap_tile(t, nb, nb, &bi, &bj);
    ASSERT_TRUE(bi >= 0 && bi < nb && bj >= bi && bj < nb) << "t=" << t;
    ASSERT_EQ(trap_prefix(bi, nb) + (bj - bi), t) << "t=" << t;
  }
}

TEST(FusedTile, ColumnOrderTilesAreABijection) {
  for (std::int64_t nbc : {1, 2, 3, 7, 64, 129})
    for (std::int64_t nbr = 1; nbr <= nbc; nbr += (nbr < 8 ? 1 : 17)) {
      std::int64_t t = 0;
      for (std::int64_t bj = 0; bj < nbc; ++bj) {
        ASSERT_EQ(col_prefix(bj, nbr), t) << "bj=" << bj << " nbr=" << nbr;
        for (std::int64_t bi = 0; bi <= std::min(bj, nbr - 1); ++bi, ++t) {
          std::int64_t a, b;
          col_tile(t, nbr, &a, &b);
          ASSERT_EQ(a, bi) << "t=" << t << " nbr=" << nbr << " nbc=" << nbc;
          ASSERT_EQ(b, bj) << "t=" << t << " nbr=" << nbr << " nbc=" << nbc;
        }
      }
      EXPECT_EQ(t, trap_tiles(nbr, nbc));
      EXPECT_EQ(col_prefix(nbc, nbr), trap_tiles(nbr, nbc));
    }
  // national scale: 10^8 accounts (3e11 tiles), and a rank's share (nbr < nbc)
  const std::int64_t nb = (100'000'000 + kBM - 1) / kBM;
  std::mt19937_64 rng(6);
  for (std::int64_t nbr : {nb, nb / 7}) {
    const std::int64_t total = trap_tiles(nbr, nb);
    for (int k = 0; k < 20000; ++k) {
      const std::int64_t t = k < 4 ? (k < 2 ? k : total - 1 - (k - 2)) : rng() % total;
      std::int64_t bi, bj;
      col_tile(t, nbr, &bi, &bj);
      ASSERT_TRUE(bi >= 0 && bi < nbr && bj >= bi && bj < nb) << "t=" << t;
      ASSERT_EQ(col_prefix(bj, nbr) + bi, t) << "t=" << t;
    }
  }
}

TEST(FusedTile, FragmentLayoutsCoverTheirMatricesOnce) {
  std::vector<int> a(16 * 16, 0), b(16 * 8, 0), c(16 * 8, 0);
  for (int lane = 0; lane < 32; ++lane) {
    for (int r = 0; r < 4; ++r) {
      int row, col;
      a_frag(lane, r, &row, &col);
      ++a[row * 16 + col];
      ++a[row * 16 + col + 1];
    }
    for (int r = 0; r < 2; ++r) {
      int n, k;
      b_frag(lane, r, &n, &k);
      ++b[k * 8 + n];
      ++b[(k + 1) * 8 + n];
    }
    for (int e = 0; e < 4; ++e) {
      int row, col;
      c_frag(lane, e, &row, &col);
      ++c[row * 8 + col];
    }
  }
  for (int v : a) EXPECT_EQ(v, 1);
  for (int v : b) EXPECT_EQ(v, 1);
  for (int v : c) EXPECT_EQ(v, 1);
}

TEST(FusedTile, WarpsAccumulatorsAndChunksCoverTheTileOnce) {
  std::vector<int> acc(kBM * kBN, 0), stage(kBM * kBK, 0);
  for (int warp = 0; warp < kThreads / 32; ++warp)
    for (int lane = 0; lane < 32; ++lane)
      for (int mi = 0; mi < kFragM; ++mi)
        for (int ni = 0; ni < kFragN; ++ni)
          for (int e = 0; e < 4; ++e) {
            int row, col;
            acc_coord(warp, lane, mi, ni, e, &row, &col);
            ASSERT_TRUE(row >= 0 && row < kBM && col >= 0 && col < kBN);
            ++acc[row * kBN + col];
          }
  for (int v : acc) EXPECT_EQ(v, 1);
  for (int c = 0; c < kChunks; ++c) {
    int row, k;
    chunk(c, &row, &k);
    for (int e = 0; e < 8; ++e) ++stage[row * kBK + k + e];
  }
  for (int v : stage) EXPECT_EQ(v, 1);
  EXPECT_EQ(padded_k(1), kBK);
  EXPECT_EQ(padded_k(384), 384);
  EXPECT_EQ(padded_k(385), 416);
}

namespace {

// The two data paths of the fused kernel. Both use the same shared-memory words and registers
// (chorus/scan/fused_tile.hpp): a 32-bit register holds 2 bf16 (mma m16n8k16) or 4 int8 (m16n8k32),
// so element offsets are the bf16-unit offsets times kPerWord / 2.
struct bf16_path {
  using elem = float;  // small integers: every sum is exact in fp32, as bf16 products are
  using acc = float;
  static constexpr int kPerWord = 2, kStep = 16;
  static void a(int lane, int r, int* row, int* col) { a_frag(lane, r, row, col); }
  static void b(int lane, int r, int* n, int* k) { b_frag(lane, r, n, k); }
};
struct int8_path {
  using elem = std::int8_t;
  using acc = std::int32_t;
  static constexpr int kPerWord = 4, kStep = 32;
  static void a(int lane, int r, int* row, int* col) { a_frag_s8(lane, r, row, col); }
  static void b(int lane, int r, int* n, int* k) { b_frag_s8(lane, r, n, k); }
};

// One thread block of the fused kernel, emulated: tile t over rows [rb, re) x [rb, n) of X
// (row-major, stride kp elements). The cp.async stages, per-lane fragment gathers, warp MMAs
// and the masked epilogue run as the kernel runs them. Returns the pairs it would emit.
template <typename P>
std::set<std::pair<std::int64_t, std::int64_t>> emulate_tile(const std::vector<typename P::elem>& x,
                                                             std::int64_t kp, std::int64_t rb,
                                                             std::int64_t re, std::int64_t n,
                                                             std::int64_t t, typename P::acc cut) {
  using E = typename P::elem;
  using A = typename P::acc;
  constexpr int scale = P::kPerWord / 2;       // elements per bf16 unit
  constexpr int stride = kSmemStride * scale;  // stage row stride in elements
  const std::int64_t nbr = tiling::blocks(re - rb, kBM);
  std::int64_t bi, bj;
  col_tile(t, nbr, &bi, &bj);  // the kernel's (column) order
  const std::int64_t r0 = rb + bi * kBM, c0 = rb + bj * kBN;
  std::vector<A> acc(static_cast<std::size_t>(kThreads) * kFragM * kFragN * 4, A(0));
  std::vector<E> sa(kBM * stride), sb(kBN * stride);
  for (std::int64_t k0 = 0; k0 < kp; k0 += kBK * scale) {
    // the cp.async stage: rows past n are zero-filled
    for (int c = 0; c < kChunks; ++c) {
      int row, k;
      chunk(c, &row, &k);
      for (int e = 0; e < 8 * scale; ++e) {
        const std::int64_t col = k0 + k * scale + e;
        sa[row * stride + k * scale + e] = r0 + row < n ? x[(r0 + row) * kp + col] : E(0);
        sb[row * stride + k * scale + e] = c0 + row < n ? x[(c0 + row) * kp + col] : E(0);
      }
    }
    for (int warp = 0; warp < kThreads / 32; ++warp)
      for (int kk = 0; kk < kBK / 16; ++kk)
        for (int mi = 0; mi < kFragM; ++mi)
          for (int ni = 0; ni < kFragN; ++ni) {
            // gather the warp's A (16 x kStep) and B (kStep x 8) from the lanes' registers
            A Am[16][P::kStep], Bm[P::kStep][8];
            for (int lane = 0; lane < 32; ++lane) {
              for (int r = 0; r < 4; ++r) {
                int row, col;
                P::a(lane, r, &row, &col);
                const int w = a_smem(warp, lane, mi, kk, r) * scale;
                for (int q = 0; q < P::kPerWord; ++q) Am[row][col + q] = sa[w + q];
              }
              for (int r = 0; r < 2; ++r) {
                int nn, k;
                P::b(lane, r, &nn, &k);
                const int w = b_smem(warp, lane, ni, kk, r) * scale;
                for (int q = 0; q < P::kPerWord; ++q) Bm[k + q][nn] = sb[w + q];
              }
            }
            for (int lane = 0; lane < 32; ++lane)
              for (int e = 0; e < 4; ++e) {
                int row, col;
                c_frag(lane, e, &row, &col);
                A d = 0;
                for (int k = 0; k < P::kStep; ++k) d += Am[row][k] * Bm[k][col];
                acc[(((warp * 32 + lane) * kFragM + mi) * kFragN + ni) * 4 + e] += d;
              }
          }
  }
  std::set<std::pair<std::int64_t, std::int64_t>> out;
  for (int warp = 0; warp < kThreads / 32; ++warp)
    for (int lane = 0; lane < 32; ++lane)
      for (int mi = 0; mi < kFragM; ++mi)
        for (int ni = 0; ni < kFragN; ++ni)
          for (int e = 0; e < 4; ++e) {
            int row, col;
            acc_coord(warp, lane, mi, ni, e, &row, &col);
            const std::int64_t i = r0 + row, j = c0 + col;
            const A v = acc[(((warp * 32 + lane) * kFragM + mi) * kFragN + ni) * 4 + e];
            if (i < re && tiling::in_triangle(i, j, n) && v >= cut) out.insert({i, j});
          }
  return out;
}

// Every tile of rows [rb, re) emulated, against the direct dot product of every pair: the same
// pairs, none twice. Returns the number of pairs.
template <typename P>
std::size_t expect_emulation_is_direct(const std::vector<typename P::elem>& x, std::int64_t kp,
                                       std::int64_t n, std::int64_t rb, std::int64_t re,
                                       typename P::acc cut) {
  std::set<std::pair<std::int64_t, std::int64_t>> want, got;
  for (std::int64_t i = rb; i < re; ++i)
    for (std::int64_t j = i + 1; j < n; ++j) {
      typename P::acc d = 0;
      for (std::int64_t k = 0; k < kp; ++k) d += typename P::acc(x[i * kp + k]) * x[j * kp + k];
      if (d >= cut) want.insert({i, j});
    }
  const std::int64_t nbr = tiling::blocks(re - rb, kBM), nbc = tiling::blocks(n - rb, kBN);
  for (std::int64_t t = 0; t < trap_tiles(nbr, nbc); ++t)
    for (const auto& p : emulate_tile<P>(x, kp, rb, re, n, t, cut))
      EXPECT_TRUE(got.insert(p).second) << "pair twice";
  EXPECT_EQ(got, want) << "n=" << n << " kp=" << kp << " rows " << rb << ".." << re << ": "
                       << got.size() << " vs " << want.size() << " pairs";
  return want.size();
}

}  // namespace

// The kernel's data path, emulated tile by tile over a whole (row range of a) problem, equals
// the direct computation of every pair's dot product.
TEST(FusedTile, EmulatedThreadBlocksFindExactlyTheDirectPairs) {
  struct shape {
    std::int64_t n, k, rb, re;
  };
  for (const shape& sh : {shape{1, 5, 0, 1}, shape{130, 33, 0, 130}, shape{300, 64, 0, 300},
                          shape{300, 40, 77, 211}, shape{257, 16, 128, 257}}) {
    const std::int64_t kp = padded_k(sh.k);
    std::mt19937 rng(static_cast<unsigned>(sh.n * 31 + sh.k));
    std::uniform_int_distribution<int> small(-3, 3);
    std::vector<float> x(static_cast<std::size_t>(sh.n * kp), 0.0f);
    for (std::int64_t i = 0; i < sh.n; ++i)
      for (std::int64_t k = 0; k < sh.k; ++k) x[i * kp + k] = static_cast<float>(small(rng));
    expect_emulation_is_direct<bf16_path>(x, kp, sh.n, sh.rb, sh.re, 6.0f);
  }
}

// The int8 kernel reads the same 32-bit words as the bf16 one: register r of an m16n8k32.s8
// fragment is word a_smem(...) / 2 of a stage whose rows are kStageBytes int8. Emulated on
// random int8 rows (int32 sums are exact), the whole problem's candidates equal the direct ones.
TEST(FusedTile, EmulatedInt8ThreadBlocksFindExactlyTheDirectPairs) {
  const std::int64_t n = 300, k = 70, rb = 5, re = 290, kp = padded_k_int8(k);
  ASSERT_EQ(kp, 128);
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> q(-127, 127);
  std::vector<std::int8_t> x(static_cast<std::size_t>(n * kp), 0);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t t = 0; t < k; ++t) x[i * kp + t] = static_cast<std::int8_t>(q(rng));
  // make some pairs large: rows 10..19 copy row 10
  for (std::int64_t i = 11; i < 20; ++i)
    std::copy(x.begin() + 10 * kp, x.begin() + 11 * kp, x.begin() + i * kp);
  ASSERT_GE(expect_emulation_is_direct<int8_path>(x, kp, n, rb, re, 150000), 40u);
}
