// The fused kernel's index arithmetic (chorus/scan/fused_tile.hpp), checked on the CPU: the tile
// scheduler, the mma.sync fragment layouts, the ldmatrix addresses and shared-memory banks, the
// cp.async stage ring's order, the int8 epilogue's staged per-row data, and an emulation of one
// thread block's data path (cp.async stages, ldmatrix, warp MMAs, the masked threshold
// epilogue) against a direct computation.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <random>
#include <set>
#include <vector>

#include "chorus/scan/fused_tile.hpp"
#include "chorus/scan/margin.hpp"
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

// ldmatrix.sync.aligned.m8n8.x4.shared.b16, as the PTX ISA states it: lanes 8q .. 8q + 7 give
// the addresses of rows 0..7 of matrix q (16 bytes each); lane t receives, in register q, row
// t / 4 of matrix q, b16 elements 2 (t % 4) and 2 (t % 4) + 1, i.e. bytes 4 (t % 4) .. + 3.
// `mem` is shared memory, one value per byte. out[lane][q][b]: byte b of register q of lane.
template <typename T>
void ldmatrix_x4(const std::vector<T>& mem, const int (&addr)[32], T (&out)[32][4][4]) {
  for (int lane = 0; lane < 32; ++lane)
    for (int q = 0; q < 4; ++q) {
      const int row_addr = addr[8 * q + lane / 4];
      for (int b = 0; b < 4; ++b) out[lane][q][b] = mem[row_addr + 4 * (lane % 4) + b];
    }
}

// The two data paths: register r of a fragment holds 4 bytes of one row, at K byte
// `first byte` (bf16: 2 elements, int8: 4).
struct bf16_path {
  static constexpr bool kInt8 = false;
  static constexpr int kStep = 16;  // K elements per mma
  static void a(int lane, int r, int* row, int* kbyte) {
    int col;
    a_frag(lane, r, row, &col);
    *kbyte = 2 * col;
  }
  static void b(int lane, int r, int* n, int* kbyte) {
    int k;
    b_frag(lane, r, n, &k);
    *kbyte = 2 * k;
  }
};
struct int8_path {
  static constexpr bool kInt8 = true;
  static constexpr int kStep = 32;
  static void a(int lane, int r, int* row, int* kbyte) { a_frag_s8(lane, r, row, kbyte); }
  static void b(int lane, int r, int* n, int* kbyte) { b_frag_s8(lane, r, n, kbyte); }
};

// One operand of one stage whose every byte holds its own logical (row, byte) as a tag.
std::vector<int> tagged_operand() {
  std::vector<int> mem(kOperandBytes, -1);
  for (int row = 0; row < kBM; ++row)
    for (int b = 0; b < kRowBytes; ++b) mem[smem_offset(row, b)] = row * kRowBytes + b;
  return mem;
}

// Lane `lane`'s A registers of fragment mi at K step kk: what ldmatrix with the kernel's
// addresses delivers, and the tags a_frag (P) requires. Both as out[lane][q][byte].
template <typename P>
void expect_fragments_from_ldmatrix(const std::vector<int>& mem) {
  for (int warp = 0; warp < kThreads / 32; ++warp) {
    int wr, wc;
    warp_origin(warp, &wr, &wc);
    for (int kk = 0; kk < kBK / 16; ++kk) {
      for (int mi = 0; mi < kFragM; ++mi) {
        int addr[32], got[32][4][4];
        for (int lane = 0; lane < 32; ++lane) addr[lane] = ldsm_a_addr(warp, lane, mi, kk);
        ldmatrix_x4(mem, addr, got);
        for (int lane = 0; lane < 32; ++lane)
          for (int r = 0; r < 4; ++r) {
            int row, kb;
            P::a(lane, r, &row, &kb);
            for (int b = 0; b < 4; ++b)
              ASSERT_EQ(got[lane][r][b], (wr + mi * 16 + row) * kRowBytes + kk * 32 + kb + b)
                  << "A int8=" << P::kInt8 << " warp " << warp << " lane " << lane << " mi " << mi
                  << " kk " << kk << " reg " << r << " byte " << b;
          }
      }
      for (int np = 0; np < kFragN / 2; ++np) {
        int addr[32], got[32][4][4];
        for (int lane = 0; lane < 32; ++lane) addr[lane] = ldsm_b_addr(warp, lane, np, kk);
        ldmatrix_x4(mem, addr, got);
        for (int lane = 0; lane < 32; ++lane)
          for (int q = 0; q < 4; ++q) {  // register q is b[2 np + q / 2][q % 2]
            int n, kb;
            P::b(lane, q % 2, &n, &kb);
            const int ni = 2 * np + q / 2;
            for (int b = 0; b < 4; ++b)
              ASSERT_EQ(got[lane][q][b], (wc + ni * 8 + n) * kRowBytes + kk * 32 + kb + b)
                  << "B int8=" << P::kInt8 << " warp " << warp << " lane " << lane << " ni " << ni
                  << " kk " << kk << " reg " << q % 2 << " byte " << b;
          }
      }
    }
  }
}

}  // namespace

// The swizzled layout stores every (row, byte) of an operand once, inside the operand.
TEST(FusedTile, SwizzledLayoutIsABijection) {
  std::vector<int> seen(kOperandBytes, 0);
  for (int row = 0; row < kBM; ++row)
    for (int b = 0; b < kRowBytes; ++b) {
      const int o = smem_offset(row, b);
      ASSERT_TRUE(o >= 0 && o < kOperandBytes) << row << " " << b;
      ++seen[o];
    }
  for (int v : seen) EXPECT_EQ(v, 1);
  EXPECT_EQ(kSmemBytes, kStages * 2 * kBM * kRowBytes + (kBM + kBN) * 16);
}

// (a) The addresses each lane gives ldmatrix.x4, with the PTX distribution rule, hand every lane
// exactly the A and B fragment registers mma.m16n8k16 (bf16) and mma.m16n8k32 (int8) expect,
// for every warp, fragment and K step.
TEST(FusedTile, LdmatrixGivesEveryLaneItsFragments) {
  for (int lane = 0; lane < 32; ++lane) {  // the header's statement of the rule
    int row, byte;
    ldsm_elem(lane, &row, &byte);
    EXPECT_EQ(row, lane / 4);
    EXPECT_EQ(byte, 4 * (lane % 4));
  }
  const std::vector<int> mem = tagged_operand();
  expect_fragments_from_ldmatrix<bf16_path>(mem);
  expect_fragments_from_ldmatrix<int8_path>(mem);
}

// Shared-memory banks: 32 banks of 4 bytes; a 16-byte access covers bank group (addr / 16) % 8.
// Each phase of an ldmatrix (the 8 rows of one matrix) and each quarter-warp of the cp.async
// stage writes (8 chunks of 16 bytes) must hit 8 distinct bank groups, in every stage.
TEST(FusedTile, SharedMemoryAccessesAreBankConflictFree) {
  const auto distinct = [](const int(&a)[8]) {
    std::set<int> g;
    for (int x : a) g.insert((x / 16) % 8);
    return g.size() == 8u;
  };
  for (int stage = 0; stage < kStages; ++stage)
    for (int operand = 0; operand < 2; ++operand) {
      const int base = stage * kStageSmem + operand * kOperandBytes;
      for (int warp = 0; warp < kThreads / 32; ++warp)
        for (int kk = 0; kk < kBK / 16; ++kk)
          for (int f = 0; f < (operand == 0 ? kFragM : kFragN / 2); ++f)
            for (int q = 0; q < 4; ++q) {
              int a[8];
              for (int r = 0; r < 8; ++r)
                a[r] = base + (operand == 0 ? ldsm_a_addr(warp, 8 * q + r, f, kk)
                                            : ldsm_b_addr(warp, 8 * q + r, f, kk));
              EXPECT_TRUE(distinct(a))
                  << "ldmatrix stage " << stage << " operand " << operand << " warp " << warp
                  << " kk " << kk << " frag " << f << " matrix " << q;
            }
      for (int c0 = 0; c0 < kChunks; c0 += 8) {  // a quarter-warp's cp.async
        int a[8];
        for (int c = 0; c < 8; ++c) {
          int row, k;
          chunk(c0 + c, &row, &k);
          a[c] = base + smem_offset(row, 2 * k);
        }
        EXPECT_TRUE(distinct(a)) << "cp.async chunks " << c0 << "..";
      }
    }
}

namespace {

// (b) The stage ring, recorded: k_pipeline's calls for one tile after another, with cp.async
// groups that complete as late as cp.async.wait_group allows. A slice's data is usable by every
// thread only after a wait that completed its group followed by a barrier; a stage may be
// overwritten only after a barrier that follows every read of it (warps run apart in between).
struct ring_checker {
  struct slot {
    std::int64_t slice = -1;  // slice held (tile * 1000 + k), -1 none
    bool landed = false, visible = false, read = false, read_since_sync = false;
  };
  slot st[kStages];
  std::deque<std::vector<int>> groups;  // committed, not yet complete: stages
  std::vector<int> open;                // loads issued since the last commit
  std::int64_t tile = 0, step = 0;
  std::vector<std::int64_t> reads;
  std::vector<std::string> errors;

  void load(std::int64_t slice, int stage) {
    slot& s = st[stage];
    if (s.read_since_sync) errors.push_back("stage overwritten before a barrier after its read");
    if (s.slice >= 0 && !s.read) errors.push_back("stage overwritten before it was read");
    if (stage != static_cast<int>(slice % kStages)) errors.push_back("slice in the wrong stage");
    s = slot{};
    s.slice = tile * 1000 + slice;
    open.push_back(stage);
  }
  void commit() {
    groups.push_back(open);
    open.clear();
  }
  void wait() {  // cp.async.wait_group kPendingGroups
    while (static_cast<int>(groups.size()) > kPendingGroups) {
      for (int stage : groups.front()) st[stage].landed = true;
      groups.pop_front();
    }
  }
  void sync() {
    for (slot& s : st) {
      s.visible = s.landed;
      s.read_since_sync = false;
    }
  }
  void compute(int stage) {
    slot& s = st[stage];
    if (s.slice != tile * 1000 + step) errors.push_back("step reads another slice");
    if (!s.visible) errors.push_back("step reads a slice before it landed for every thread");
    s.read = s.read_since_sync = true;
    reads.push_back(s.slice);
    ++step;
  }
};

}  // namespace

TEST(FusedTile, PipelineReadsEverySliceOnceAfterItLanded) {
  for (std::int64_t nk = 1; nk <= 11; ++nk) {
    ring_checker ring;
    std::vector<std::int64_t> want;
    for (ring.tile = 0; ring.tile < 3; ++ring.tile) {  // a persistent block's consecutive tiles
      ring.step = 0;
      k_pipeline(nk, ring);
      for (std::int64_t k = 0; k < nk; ++k) want.push_back(ring.tile * 1000 + k);
    }
    EXPECT_EQ(ring.reads, want) << "nk=" << nk;
    for (const auto& e : ring.errors) ADD_FAILURE() << "nk=" << nk << ": " << e;
    if (!ring.errors.empty()) break;
  }
}

// Tile-local limits: (row, col) of a tile at (r0, c0) is a pair i < re, i < j < n exactly when
// tile_pair says so.
TEST(FusedTile, TileLimitsMatchTheTriangleTest) {
  std::mt19937 rng(11);
  for (int trial = 0; trial < 400; ++trial) {
    const std::int64_t r0 = 1000 + (rng() % 4) * kBM, c0 = r0 + (rng() % 4) * kBN;
    const std::int64_t n = c0 + static_cast<std::int64_t>(rng() % (kBN + 40)) + 1;
    const std::int64_t re = std::min<std::int64_t>(n, r0 + 1 + rng() % (kBM + 40));
    const tile_limits l = tile_limits_of(r0, c0, re, n);
    for (int row = 0; row < kBM; ++row)
      for (int col = 0; col < kBN; ++col)
        ASSERT_EQ(tile_pair(l, row, col),
                  r0 + row < re && tiling::in_triangle(r0 + row, c0 + col, n))
            << r0 << " " << c0 << " " << re << " " << n << " " << row << " " << col;
  }
}

// (c) The int8 epilogue's staged per-row data: every lane's rows and columns read the staged slot
// of the same row as the direct form (scale[i - rb], err[j - rb], ...), so the scores are
// bit-identical and the candidates of a tile (edges past re and n included) are the same.
TEST(FusedTile, Int8EpilogueStagedRowsMatchDirectIndexing) {
  std::mt19937 rng(12);
  std::uniform_real_distribution<float> u(0.001f, 0.02f);
  const std::int64_t rb = 37, n = rb + 2 * kBM + 50, re = rb + kBM + 70;
  std::vector<float> scale(n - rb), err(n - rb), qnorm(n - rb), rnorm(n - rb);
  for (std::int64_t a = 0; a < n - rb; ++a) {
    scale[a] = u(rng);
    err[a] = u(rng) * 0.1f;
    qnorm[a] = 1.0f + u(rng);
    rnorm[a] = 1.0f - u(rng);
  }
  const auto get = [&](const float* p, std::int64_t a) {
    EXPECT_TRUE(a >= 0 && a < n - rb) << "row index " << a << " outside the arrays";
    return a >= 0 && a < n - rb ? p[a] : -1.0f;
  };
  std::uniform_int_distribution<int> dot(-12000, 12000);
  std::size_t hits = 0;
  for (const auto& rc : {std::pair<int, int>{0, 0}, {0, 1}, {1, 1}, {1, 2}, {0, 2}}) {
    const std::int64_t r0 = rb + rc.first * kBM, c0 = rb + rc.second * kBN;
    std::vector<std::int32_t> acc(kBM * kBN);  // the tile's dot products
    for (auto& v : acc) v = dot(rng);
    std::vector<epi_data> staged(kThreads);
    for (int tid = 0; tid < kThreads; ++tid)
      staged[tid] =
          epi_stage(tid, r0, c0, rb, n, scale.data(), err.data(), qnorm.data(), rnorm.data(), get);
    const float cut = 0.5f;
    const tile_limits lim = tile_limits_of(r0, c0, re, n);
    std::set<std::pair<std::int64_t, std::int64_t>> got, want;
    for (int warp = 0; warp < kThreads / 32; ++warp)
      for (int lane = 0; lane < 32; ++lane)
        for (int mi = 0; mi < kFragM; ++mi)
          for (int ni = 0; ni < kFragN; ++ni)
            for (int e = 0; e < 4; ++e) {
              int row, col;
              acc_coord(warp, lane, mi, ni, e, &row, &col);
              const int er = epi_row(warp, lane, mi, e / 2), ec = epi_col(warp, lane, ni, e % 2);
              ASSERT_EQ(er, row);
              ASSERT_EQ(ec, col);
              if (!tile_pair(lim, er, ec)) continue;
              const std::int32_t d = acc[row * kBN + col];
              const float s = epi_score(d, staged[er], staged[kBM + ec]);
              const std::int64_t i = r0 + row, j = c0 + col;
              const float direct = static_cast<float>(d) * scale[i - rb] * scale[j - rb] +
                                   rnorm[i - rb] * err[j - rb] + err[i - rb] * qnorm[j - rb];
              ASSERT_EQ(s, direct) << i << " " << j;
              if (s >= cut) got.insert({i, j});
            }
    for (int row = 0; row < kBM; ++row)
      for (int col = 0; col < kBN; ++col) {
        const std::int64_t i = r0 + row, j = c0 + col;
        if (i >= re || !tiling::in_triangle(i, j, n)) continue;
        const std::int32_t d = acc[row * kBN + col];
        if (margin::int8_score(d, scale[i - rb], scale[j - rb], rnorm[i - rb], err[i - rb],
                               err[j - rb], qnorm[j - rb]) >= cut)
          want.insert({i, j});
      }
    EXPECT_EQ(got, want) << "tile " << rc.first << "," << rc.second;
    hits += want.size();
  }
  EXPECT_GT(hits, 1000u);
}

namespace {

// Element k of row `row` of X stored as bytes (bf16 bits, little-endian, or int8).
template <typename P>
typename std::conditional<P::kInt8, std::int32_t, float>::type element(
    const std::vector<std::uint8_t>& x, std::int64_t ld, std::int64_t row, std::int64_t k) {
  if constexpr (P::kInt8) {
    return static_cast<std::int8_t>(x[row * ld + k]);
  } else {
    const std::uint32_t bits =
        static_cast<std::uint32_t>(x[row * ld + 2 * k] | (x[row * ld + 2 * k + 1] << 8)) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
  }
}

// One thread block of the fused kernel, emulated: a tile at (r0, c0) of X, whose rows are `ld`
// bytes. k_pipeline drives it as it drives the kernel; the cp.async copies land in the swizzled
// stage ring only when a wait retires their group; fragments come from ldmatrix on the ring and
// warp MMAs accumulate into the tile's (row, col) = acc_coord of each lane's accumulator.
template <typename P>
struct block_emulator {
  using acc_t = typename std::conditional<P::kInt8, std::int32_t, float>::type;
  using regs = std::uint8_t[32][4][4];  // [lane][register][byte]
  const std::vector<std::uint8_t>& x;
  std::int64_t ld, n, r0, c0;
  std::vector<std::uint8_t> ring = std::vector<std::uint8_t>(kRingBytes, 0xAB);
  std::deque<std::vector<std::pair<std::int64_t, int>>> groups{};
  std::vector<std::pair<std::int64_t, int>> open{};
  std::vector<acc_t> acc = std::vector<acc_t>(kBM * kBN, acc_t(0));

  void load(std::int64_t slice, int stage) { open.push_back({slice, stage}); }
  void commit() {
    groups.push_back(open);
    open.clear();
  }
  void land(std::int64_t slice, int stage) {  // every thread's cp.async chunks; rows >= n zero
    for (int c = 0; c < kChunks; ++c) {
      int row, k;
      chunk(c, &row, &k);
      for (int op = 0; op < 2; ++op) {
        const std::int64_t r = (op == 0 ? r0 : c0) + row;
        for (int b = 0; b < 16; ++b)
          ring[stage * kStageSmem + op * kOperandBytes + smem_offset(row, 2 * k + b)] =
              r < n ? x[r * ld + slice * kStageBytes + 2 * k + b] : 0;
      }
    }
  }
  void wait() {
    while (static_cast<int>(groups.size()) > kPendingGroups) {
      for (const auto& l : groups.front()) land(l.first, l.second);
      groups.pop_front();
    }
  }
  void sync() {}
  void compute(int stage) {
    const auto base = ring.begin() + stage * kStageSmem;
    const std::vector<std::uint8_t> sa(base, base + kOperandBytes),
        sb(base + kOperandBytes, base + kStageSmem);
    for (int warp = 0; warp < kThreads / 32; ++warp)
      for (int kk = 0; kk < kBK / 16; ++kk) {
        regs af[kFragM], bf[kFragN / 2];
        int addr[32];
        for (int mi = 0; mi < kFragM; ++mi) {
          for (int lane = 0; lane < 32; ++lane) addr[lane] = ldsm_a_addr(warp, lane, mi, kk);
          ldmatrix_x4(sa, addr, af[mi]);
        }
        for (int np = 0; np < kFragN / 2; ++np) {
          for (int lane = 0; lane < 32; ++lane) addr[lane] = ldsm_b_addr(warp, lane, np, kk);
          ldmatrix_x4(sb, addr, bf[np]);
        }
        for (int mi = 0; mi < kFragM; ++mi)
          for (int ni = 0; ni < kFragN; ++ni) mma(warp, mi, ni, af[mi], bf[ni / 2]);
      }
  }
  // The K elements of one register: (k within the mma, value).
  template <typename F>
  static void elements(const std::uint8_t (&reg)[4], int kbyte, F f) {
    if constexpr (P::kInt8) {
      for (int q = 0; q < 4; ++q) f(kbyte + q, static_cast<std::int8_t>(reg[q]));
    } else {
      for (int q = 0; q < 2; ++q) {
        const std::vector<std::uint8_t> two{reg[2 * q], reg[2 * q + 1]};
        f(kbyte / 2 + q, element<P>(two, 2, 0, 0));
      }
    }
  }
  // One warp MMA: A (16 x kStep) and B (kStep x 8) rebuilt from the lanes' registers.
  void mma(int warp, int mi, int ni, const regs& a, const regs& b) {
    acc_t A[16][32] = {}, B[32][8] = {};
    for (int lane = 0; lane < 32; ++lane) {
      for (int r = 0; r < 4; ++r) {
        int row, kb;
        P::a(lane, r, &row, &kb);
        elements(a[lane][r], kb, [&](int k, acc_t v) { A[row][k] = v; });
      }
      for (int r = 0; r < 2; ++r) {  // register r of fragment ni is register (ni % 2) * 2 + r
        int nn, kb;
        P::b(lane, r, &nn, &kb);
        elements(b[lane][(ni % 2) * 2 + r], kb, [&](int k, acc_t v) { B[k][nn] = v; });
      }
    }
    for (int lane = 0; lane < 32; ++lane)
      for (int e = 0; e < 4; ++e) {
        int row, col, tr, tc;
        c_frag(lane, e, &row, &col);
        acc_t d = 0;
        for (int k = 0; k < P::kStep; ++k) d += A[row][k] * B[k][col];
        acc_coord(warp, lane, mi, ni, e, &tr, &tc);
        acc[tr * kBN + tc] += d;
      }
  }
};

// Tile t of rows [rb, re) x [rb, n), emulated; returns the pairs its epilogue would emit (the
// lanes' epi_row / epi_col, tile_pair, score >= cut).
template <typename P>
std::set<std::pair<std::int64_t, std::int64_t>> emulate_tile(const std::vector<std::uint8_t>& x,
                                                             std::int64_t ld, std::int64_t rb,
                                                             std::int64_t re, std::int64_t n,
                                                             std::int64_t t, double cut) {
  std::int64_t bi, bj;
  col_tile(t, tiling::blocks(re - rb, kBM), &bi, &bj);  // the kernel's (column) order
  block_emulator<P> blk{x, ld, n, rb + bi * kBM, rb + bj * kBN};
  k_pipeline(ld / kStageBytes, blk);
  EXPECT_TRUE(blk.groups.size() <= static_cast<std::size_t>(kStages) && blk.open.empty());
  const tile_limits lim = tile_limits_of(blk.r0, blk.c0, re, n);
  std::set<std::pair<std::int64_t, std::int64_t>> out;
  for (int warp = 0; warp < kThreads / 32; ++warp)
    for (int lane = 0; lane < 32; ++lane)
      for (int mi = 0; mi < kFragM; ++mi)
        for (int ni = 0; ni < kFragN; ++ni)
          for (int e = 0; e < 4; ++e) {
            const int row = epi_row(warp, lane, mi, e / 2), col = epi_col(warp, lane, ni, e % 2);
            if (tile_pair(lim, row, col) && blk.acc[row * kBN + col] >= cut)
              out.insert({blk.r0 + row, blk.c0 + col});
          }
  return out;
}

// Every tile of rows [rb, re) emulated, against the direct dot product of every pair: the same
// pairs, none twice. `ld` bytes a row, K elements. Returns the number of pairs.
template <typename P>
std::size_t expect_emulation_is_direct(const std::vector<std::uint8_t>& x, std::int64_t ld,
                                       std::int64_t k, std::int64_t n, std::int64_t rb,
                                       std::int64_t re, double cut) {
  std::set<std::pair<std::int64_t, std::int64_t>> want, got;
  for (std::int64_t i = rb; i < re; ++i)
    for (std::int64_t j = i + 1; j < n; ++j) {
      double d = 0;
      for (std::int64_t q = 0; q < k; ++q)
        d += static_cast<double>(element<P>(x, ld, i, q)) * element<P>(x, ld, j, q);
      if (d >= cut) want.insert({i, j});
    }
  const std::int64_t nbr = tiling::blocks(re - rb, kBM), nbc = tiling::blocks(n - rb, kBN);
  for (std::int64_t t = 0; t < trap_tiles(nbr, nbc); ++t)
    for (const auto& p : emulate_tile<P>(x, ld, rb, re, n, t, cut))
      EXPECT_TRUE(got.insert(p).second) << "pair twice";
  EXPECT_EQ(got, want) << "n=" << n << " ld=" << ld << " rows " << rb << ".." << re << ": "
                       << got.size() << " vs " << want.size() << " pairs";
  return want.size();
}

}  // namespace

// The kernel's data path, emulated tile by tile over a whole (row range of a) problem, equals
// the direct computation of every pair's dot product (small integers: every sum is exact).
TEST(FusedTile, EmulatedThreadBlocksFindExactlyTheDirectPairs) {
  struct shape {
    std::int64_t n, k, rb, re;
  };
  for (const shape& sh : {shape{1, 5, 0, 1}, shape{130, 33, 0, 130}, shape{300, 64, 0, 300},
                          shape{300, 200, 77, 211}, shape{257, 16, 128, 257}}) {
    const std::int64_t kp = padded_k(sh.k), ld = 2 * kp;
    std::mt19937 rng(static_cast<unsigned>(sh.n * 31 + sh.k));
    std::uniform_int_distribution<int> small(-3, 3);
    std::vector<std::uint8_t> x(static_cast<std::size_t>(sh.n * ld), 0);
    for (std::int64_t i = 0; i < sh.n; ++i)
      for (std::int64_t k = 0; k < sh.k; ++k) {
        const float f = static_cast<float>(small(rng));
        std::uint32_t bits;
        std::memcpy(&bits, &f, 4);
        x[i * ld + 2 * k] = static_cast<std::uint8_t>(bits >> 16);
        x[i * ld + 2 * k + 1] = static_cast<std::uint8_t>(bits >> 24);
      }
    expect_emulation_is_direct<bf16_path>(x, ld, sh.k, sh.n, sh.rb, sh.re, 6.0);
  }
}

// The int8 kernel reads the same shared-memory bytes through the same ldmatrix addresses as the
// bf16 one. Emulated on random int8 rows (int32 sums are exact), over several K slices so that
// the stage ring wraps, the whole problem's candidates equal the direct ones.
TEST(FusedTile, EmulatedInt8ThreadBlocksFindExactlyTheDirectPairs) {
  const std::int64_t n = 300, k = 330, rb = 5, re = 290, kp = padded_k_int8(k);
  ASSERT_EQ(kp, 384);  // 6 slices: the 4-stage ring wraps
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> q(-127, 127);
  std::vector<std::uint8_t> x(static_cast<std::size_t>(n * kp), 0);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t t = 0; t < k; ++t)
      x[i * kp + t] = static_cast<std::uint8_t>(static_cast<std::int8_t>(q(rng)));
  // make some pairs large: rows 10..19 copy row 10
  for (std::int64_t i = 11; i < 20; ++i)
    std::copy(x.begin() + 10 * kp, x.begin() + 11 * kp, x.begin() + i * kp);
  ASSERT_GE(expect_emulation_is_direct<int8_path>(x, kp, k, n, rb, re, 600000), 40u);
}
