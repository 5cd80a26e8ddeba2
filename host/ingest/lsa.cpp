// chorus ingest: LSA content vectors (sublinear TF-IDF + deterministic randomised truncated SVD).
//
// Determinism: every floating-point sum has an order fixed by the data alone. Features present
// get compact indices by decreasing df, and each row's entries are ordered by groups of 64
// compact indices (by feature within a group). Y = A X sums each row's terms in that order;
// W = A^T Y gives each thread a range of features and sums every entry in row order; Gram matrices
// sum every entry in row order (threads share out the output tiles); dense products run one
// single-threaded dnnl_sgemm per fixed block of rows; the random matrix is a hash of (seed,
// feature, column). Nothing depends on the thread count.
//
// Speed: the sparse products are memory-bound (X and W have a row of l = dim + oversample values
// per feature, hundreds of MB). Both are cache-blocked: Y = A X walks tiles of rows band by band
// of features (a per-row cursor into its grouped entries), so a band of X stays in L2 while a
// tile's double accumulators stay in L3; W = A^T Y walks each thread's features band by band
// (the band of W in L2), grouping a tile's entries of the band by feature, so each row of W is
// accumulated in registers while rows of Y come from L3. Frequent features first make the
// frequent bands dense. The inner kernels keep up to 48 doubles per row in vector registers.
#include "chorus/ingest/lsa.hpp"

#include <omp.h>
#include <oneapi/dnnl/dnnl.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <numeric>
#include <string>
#include <type_traits>

#include "chorus/core/error.hpp"

namespace chorus::ingest {
namespace {

using i64 = std::int64_t;

// Fixed sizes that define the floating-point order or the dnnl call shapes (never nthreads).
constexpr i64 kGramChunk = 256;     // rows per shared chunk of the Gram kernel
constexpr i64 kGemmRows = 1024;     // rows per dnnl_sgemm call
constexpr double kRankTol = 1e-10;  // relative Schur-complement floor of the orthonormaliser
constexpr std::uint32_t kAbsent = 0xffffffffu;
constexpr std::uint32_t kTfTable = 4096;
constexpr int kGroupShift = 6;  // each row's entries are ordered by groups of 64 compact indices
constexpr int kPanel = 16;      // floats per cache line: the column panel of Y = A X

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
// One clone per ISA level, chosen once per machine at load time: results stay machine-stable.
#define CHORUS_LSA_CLONES \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CHORUS_LSA_CLONES
#endif

/// The TF-IDF model: features present in the matrix (compact indices), idf and tf.
struct tfidf {
  i64 rows = 0, cols = 0, nnz = 0, empty_rows = 0;
  std::vector<std::uint32_t> compact;  // feature -> compact index, kAbsent when df == 0
  std::vector<std::uint32_t> feature;  // compact index -> feature, by decreasing df
  std::vector<i64> df_before;          // compact index -> sum of df of the earlier features
  std::vector<double> idf;             // compact index -> idf
  std::vector<double> tf_table;        // 1 + ln c for c < kTfTable
  i64 features() const { return static_cast<i64>(feature.size()); }
  double tf(std::uint32_t c) const {
    return c < kTfTable ? tf_table[c] : 1.0 + std::log(static_cast<double>(c));
  }
};

/// Reports pass-by-pass progress to the caller's callback (from the calling thread only).
class pass_progress {
 public:
  pass_progress(const std::function<void(double)>& fn, int passes, i64 rows)
      : fn_(fn), passes_(passes), rows_(rows) {}
  void next_pass() { ++pass_; }
  void block_done(i64 row_end) const {
    if (!fn_) return;
    const double in_pass = rows_ > 0 ? static_cast<double>(row_end) / rows_ : 1.0;
    fn_(std::min(1.0, (pass_ + in_pass) / passes_));
  }
  void done() const {
    if (fn_) fn_(1.0);
  }

 private:
  const std::function<void(double)>& fn_;
  int passes_, pass_ = 0;
  i64 rows_;
};

/// Checks a block's structure; with `t`, also that every feature was seen by the counting pass.
void check_block(const count_block& b, i64 expect_begin, i64 cols, const tfidf* t) {
  if (b.row_begin != expect_begin || b.row_end < b.row_begin)
    CHORUS_THROW(input_error, "count matrix: block rows [" + std::to_string(b.row_begin) + ", " +
                                  std::to_string(b.row_end) + ") out of order");
  const i64 nr = b.row_end - b.row_begin;
  if (b.offsets[0] != 0) CHORUS_THROW(input_error, "count matrix: block offsets do not start at 0");
  for (i64 r = 0; r < nr; ++r) {
    if (b.offsets[r + 1] < b.offsets[r])
      CHORUS_THROW(input_error, "count matrix: decreasing row offsets");
    for (i64 j = b.offsets[r]; j < b.offsets[r + 1]; ++j) {
      if (b.cols[j] >= cols || b.counts[j] == 0 || (j > b.offsets[r] && b.cols[j] <= b.cols[j - 1]))
        CHORUS_THROW(input_error,
                     "count matrix: bad entry in row " + std::to_string(b.row_begin + r));
      if (t && t->compact[b.cols[j]] == kAbsent)
        CHORUS_THROW(input_error, "count matrix: contents changed between passes");
    }
  }
}

/// Pass 0: document frequencies, empty rows, idf.
tfidf count_features(const count_matrix& m, pass_progress& pp) {
  tfidf t;
  t.rows = m.rows();
  t.cols = m.cols();
  if (t.rows < 0 || t.cols < 0 || t.cols > (i64{1} << 32))
    CHORUS_THROW(input_error, "count matrix: bad shape");
  std::vector<i64> df(static_cast<std::size_t>(t.cols), 0);
  i64 next = 0;
  m.for_each_block([&](const count_block& b) {
    check_block(b, next, t.cols, nullptr);
    const i64 nr = b.row_end - b.row_begin;
    for (i64 r = 0; r < nr; ++r) t.empty_rows += b.offsets[r + 1] == b.offsets[r];
    for (i64 j = 0; j < b.offsets[nr]; ++j) ++df[b.cols[j]];
    t.nnz += b.offsets[nr];
    next = b.row_end;
    pp.block_done(next);
  });
  if (next != t.rows) CHORUS_THROW(input_error, "count matrix: blocks do not cover every row");
  // Compact indices by decreasing df (ties by feature): frequent features share cache bands.
  for (i64 f = 0; f < t.cols; ++f)
    if (df[f] > 0) t.feature.push_back(static_cast<std::uint32_t>(f));
  std::stable_sort(t.feature.begin(), t.feature.end(),
                   [&](std::uint32_t a, std::uint32_t b) { return df[a] > df[b]; });
  t.compact.assign(static_cast<std::size_t>(t.cols), kAbsent);
  i64 before = 0;
  for (std::uint32_t f : t.feature) {
    t.compact[f] = static_cast<std::uint32_t>(t.df_before.size());
    t.df_before.push_back(before);
    t.idf.push_back(std::log((1.0 + t.rows) / (1.0 + df[f])) + 1.0);
    before += df[f];
  }
  t.tf_table.resize(kTfTable, 0.0);
  for (std::uint32_t c = 1; c < kTfTable; ++c)
    t.tf_table[c] = 1.0 + std::log(static_cast<double>(c));
  return t;
}

/// The compact indices and L2-normalised TF-IDF weights of local row r of block b, into fidx and
/// w. Not inlined, so every pass runs the very same code and gets the very same weights.
__attribute__((noinline)) void row_weights(const count_block& b, i64 r, const tfidf& t,
                                           std::uint32_t* fidx, double* w) {
  const i64 o0 = b.offsets[r], len = b.offsets[r + 1] - o0;
  double ss = 0.0;
  for (i64 j = 0; j < len; ++j) {
    const std::uint32_t f = t.compact[b.cols[o0 + j]];
    fidx[j] = f;
    const double u = t.tf(b.counts[o0 + j]) * t.idf[f];
    w[j] = u;
    ss += u * u;
  }
  if (ss <= 0.0) return;
  const double inv = 1.0 / std::sqrt(ss);
  for (i64 j = 0; j < len; ++j) w[j] *= inv;
}

// Fixed-width vectors (GCC vector extensions): lowered to whatever each clone's ISA offers.
using v8d = double __attribute__((vector_size(64)));
using v8d_u = double __attribute__((vector_size(64), aligned(8)));
using v8f_u = float __attribute__((vector_size(32), aligned(4)));

/// Columns are handled in vectors of 8; the stride of Y and W rows is c rounded up to 8.
inline int pad8(int c) { return (c + 7) / 8 * 8; }

// Unaligned vector access (vector types may alias their element type).
#define CHORUS_LSA_LOAD_WIDE(p) __builtin_convertvector(*reinterpret_cast<const v8f_u*>(p), v8d)
#define CHORUS_LSA_LOAD(p) (*reinterpret_cast<const v8d_u*>(p))
#define CHORUS_LSA_STORE(p, v) (*reinterpret_cast<v8d_u*>(p) = (v))

/// acc[0 .. 8 NV) += sum_j w[j] src[idx[j] * ld + (0 .. 8 NV)], in j order, in registers.
template <int NV>
__attribute__((always_inline)) inline void fma_chunk(double* acc, const std::uint32_t* idx,
                                                     const double* w, i64 n, const float* src,
                                                     i64 ld) {
  v8d a[NV];
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v) a[v] = CHORUS_LSA_LOAD(acc + 8 * v);
  for (i64 j = 0; j < n; ++j) {
    const float* sr = src + static_cast<i64>(idx[j]) * ld;
    const double wj = w[j];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) a[v] += wj * CHORUS_LSA_LOAD_WIDE(sr + 8 * v);
  }
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v) CHORUS_LSA_STORE(acc + 8 * v, a[v]);
}

constexpr int kChunkVecs = 6;  // vectors of 8 columns held in registers at once

/// acc[0 .. 8 nvec) += sum_j w[j] src[idx[j] * ld + ...], column chunk by column chunk. Every
/// column's sum runs in j order whatever the chunking; the chunking depends on nvec only.
#define CHORUS_LSA_CHUNKS(KERNEL)                 \
  for (int v0 = 0; v0 < nvec; v0 += kChunkVecs) { \
    double* a = acc + 8 * v0;                     \
    const float* s = src + 8 * v0;                \
    switch (std::min(kChunkVecs, nvec - v0)) {    \
      case 1:                                     \
        KERNEL<1>(a, idx, w, n, s, ld);           \
        break;                                    \
      case 2:                                     \
        KERNEL<2>(a, idx, w, n, s, ld);           \
        break;                                    \
      case 3:                                     \
        KERNEL<3>(a, idx, w, n, s, ld);           \
        break;                                    \
      case 4:                                     \
        KERNEL<4>(a, idx, w, n, s, ld);           \
        break;                                    \
      case 5:                                     \
        KERNEL<5>(a, idx, w, n, s, ld);           \
        break;                                    \
      default:                                    \
        KERNEL<6>(a, idx, w, n, s, ld);           \
        break;                                    \
    }                                             \
  }

CHORUS_LSA_CLONES void accumulate_rows_generic(double* acc, int nvec, const std::uint32_t* idx,
                                               const double* w, i64 n, const float* src, i64 ld) {
  CHORUS_LSA_CHUNKS(fma_chunk)
}

#if defined(__x86_64__) && defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // _mm512_cvtps_pd in GCC 12's header
// AVX-512: GCC's generic vectors widen 8 floats in three instructions; the intrinsic takes one.
template <int NV>
__attribute__((target("avx512f"), always_inline)) inline void fma_chunk_avx512(
    double* acc, const std::uint32_t* idx, const double* w, i64 n, const float* src, i64 ld) {
  __m512d a[NV];
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v) a[v] = _mm512_loadu_pd(acc + 8 * v);
  for (i64 j = 0; j < n; ++j) {
    const float* sr = src + static_cast<i64>(idx[j]) * ld;
    const __m512d wj = _mm512_set1_pd(w[j]);
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v)
      a[v] = _mm512_fmadd_pd(wj, _mm512_cvtps_pd(_mm256_loadu_ps(sr + 8 * v)), a[v]);
  }
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v) _mm512_storeu_pd(acc + 8 * v, a[v]);
}

__attribute__((target("avx512f"))) void accumulate_rows_avx512(double* acc, int nvec,
                                                               const std::uint32_t* idx,
                                                               const double* w, i64 n,
                                                               const float* src, i64 ld) {
  CHORUS_LSA_CHUNKS(fma_chunk_avx512)
}

#pragma GCC diagnostic pop

const bool kHaveAvx512 = __builtin_cpu_supports("avx512f");
#endif
#undef CHORUS_LSA_CHUNKS

/// acc (8 nvec doubles) += sum_j w[j] src[idx[j] * ld + (0 .. 8 nvec)], each column summed in
/// j order. The kernel is chosen once per machine, so results are machine-stable.
void accumulate_rows(double* acc, int nvec, const std::uint32_t* idx, const double* w, i64 n,
                     const float* src, i64 ld) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (kHaveAvx512) return accumulate_rows_avx512(acc, nvec, idx, w, n, src, ld);
#endif
  accumulate_rows_generic(acc, nvec, idx, w, n, src, ld);
}

// Cache blocking of the sparse products (sizes only: the sums do not depend on them). Bands are
// whole groups, so a row's entries of a band are consecutive.
constexpr i64 kTileRows = 4096;      // Y = A X: rows per tile (their accumulators stay in L3)
constexpr i64 kBandFeatures = 448;   // Y = A X: features per band (that slice of X stays in L2)
constexpr i64 kTTileRows = 8192;     // W = A^T Y: rows per tile (that slice of Y stays in L3)
constexpr i64 kTBandFeatures = 192;  // W = A^T Y: features per band (that slice of W in L2)
static_assert(kBandFeatures % (1 << kGroupShift) == 0 && kTBandFeatures % (1 << kGroupShift) == 0,
              "bands are whole groups");

/// Stable counting sort of one row's entries by group (compact index >> kGroupShift).
void group_row(std::uint32_t* fidx, double* w, i64 len, std::vector<std::uint32_t>& hist,
               std::vector<std::uint32_t>& tf, std::vector<double>& tw) {
  if (len <= 32) {  // short rows: stable insertion sort
    for (i64 i = 1; i < len; ++i) {
      const std::uint32_t f = fidx[i];
      const double x = w[i];
      i64 k = i;
      for (; k > 0 && (fidx[k - 1] >> kGroupShift) > (f >> kGroupShift); --k) {
        fidx[k] = fidx[k - 1];
        w[k] = w[k - 1];
      }
      fidx[k] = f;
      w[k] = x;
    }
    return;
  }
  std::fill(hist.begin(), hist.end(), 0);
  for (i64 j = 0; j < len; ++j) ++hist[(fidx[j] >> kGroupShift) + 1];
  for (std::size_t g = 1; g < hist.size(); ++g) hist[g] += hist[g - 1];
  tf.assign(fidx, fidx + len);
  tw.assign(w, w + len);
  for (i64 j = 0; j < len; ++j) {
    const std::uint32_t pos = hist[tf[j] >> kGroupShift]++;
    fidx[pos] = tf[j];
    w[pos] = tw[j];
  }
}

/// One block's entries as compact feature indices and TF-IDF weights, each row's entries grouped
/// by kGroup compact indices (groups ascending; by feature within a group).
struct block_entries {
  std::vector<std::uint32_t> fidx;
  std::vector<double> wts;
  void fill(const count_block& b, const tfidf& t, int nthreads) {
    const i64 nr = b.row_end - b.row_begin;
    wts.resize(static_cast<std::size_t>(b.offsets[nr]));
    fidx.resize(wts.size());
    const std::size_t ngroups = static_cast<std::size_t>((t.features() >> kGroupShift) + 2);
#pragma omp parallel num_threads(nthreads)
    {
      std::vector<std::uint32_t> hist(ngroups);
      std::vector<std::uint32_t> tf;
      std::vector<double> tw;
#pragma omp for schedule(dynamic, 64)
      for (i64 r = 0; r < nr; ++r) {
        const i64 o = b.offsets[r], len = b.offsets[r + 1] - o;
        row_weights(b, r, t, fidx.data() + o, wts.data() + o);
        group_row(fidx.data() + o, wts.data() + o, len, hist, tf, tw);
      }
    }
  }
};

/// Rows [r0, r1) of Y = A X into y (stride sy; columns c..sy zeroed). Features are visited in
/// bands of whole groups; a cursor per row walks its grouped entries band by band, so each row's
/// sum still runs over its entries in their (grouped) order, in double.
void multiply_tile(const i64* offsets, const block_entries& be, i64 r0, i64 r1, i64 nf,
                   const float* x, i64 sx, int c, float* y, i64 sy, std::vector<double>& acc,
                   std::vector<i64>& cur) {
  const int cp = pad8(c);
  const i64 nr = r1 - r0;
  acc.assign(static_cast<std::size_t>(nr * cp), 0.0);
  cur.assign(offsets + r0, offsets + r1);
  for (i64 f0 = 0; f0 < nf; f0 += kBandFeatures) {
    const std::uint32_t f1 = static_cast<std::uint32_t>(std::min(nf, f0 + kBandFeatures));
    for (i64 i = 0; i < nr; ++i) {
      const i64 j0 = cur[i], e = offsets[r0 + i + 1];
      i64 j1 = j0;
      while (j1 < e && be.fidx[j1] < f1) ++j1;
      if (j1 == j0) continue;
      accumulate_rows(acc.data() + i * cp, cp / 8, be.fidx.data() + j0, be.wts.data() + j0, j1 - j0,
                      x, sx);
      cur[i] = j1;
    }
  }
  for (i64 i = 0; i < nr; ++i) {
    float* yr = y + (r0 + i) * sy;
    for (int k = 0; k < c; ++k) yr[k] = static_cast<float>(acc[i * cp + k]);
    for (i64 k = c; k < sy; ++k) yr[k] = 0.0f;
  }
}

/// Y (rows x c, stride sy) = A X, X (features x c, row stride sx >= pad8(c)). Threads share out
/// tiles of rows.
void multiply(const count_matrix& m, const tfidf& t, const float* x, i64 sx, int c, float* y,
              i64 sy, int nthreads, pass_progress& pp) {
  block_entries be;
  i64 next = 0;
  m.for_each_block([&](const count_block& b) {
    check_block(b, next, t.cols, &t);
    const i64 nr = b.row_end - b.row_begin;
    be.fill(b, t, nthreads);
    i64 ntiles = std::max<i64>(1, (nr + kTileRows - 1) / kTileRows);
    ntiles = (ntiles + nthreads - 1) / nthreads * nthreads;  // balance (sizes do not matter)
    const i64 tile = std::max<i64>(1, (nr + ntiles - 1) / ntiles);
    float* yb = y + b.row_begin * sy;
#pragma omp parallel num_threads(nthreads)
    {
      std::vector<double> acc;
      std::vector<i64> cur;
#pragma omp for schedule(dynamic, 1)
      for (i64 r0 = 0; r0 < nr; r0 += tile)
        multiply_tile(b.offsets, be, r0, std::min(nr, r0 + tile), t.features(), x, sx, c, yb, sy,
                      acc, cur);
    }
    next = b.row_end;
    pp.block_done(next);
  });
}

/// Per-thread scratch of W = A^T Y: row cursors and one band's entries grouped by feature.
struct band_scratch {
  std::vector<i64> cur, span_end, start;
  std::vector<std::uint32_t> span_row, erow;
  std::vector<double> ew;
};

/// W[f] += sum over rows [r0, r1) (in row order) of w Y[row], for features f in [lo, hi): band by
/// band, each band's entries grouped by feature (stable), each W row accumulated in registers.
void scatter_tile(const i64* offsets, const block_entries& be, i64 r0, i64 r1, i64 lo, i64 hi,
                  const float* y, i64 sy, int nvec, double* w, i64 sw, band_scratch& s) {
  const i64 nr = r1 - r0;
  s.cur.resize(static_cast<std::size_t>(nr));
  for (i64 i = 0; i < nr; ++i)
    s.cur[i] = std::partition_point(be.fidx.begin() + offsets[r0 + i],
                                    be.fidx.begin() + offsets[r0 + i + 1],
                                    [lo](std::uint32_t f) { return f < lo; }) -
               be.fidx.begin();
  for (i64 f0 = lo; f0 < hi; f0 += kTBandFeatures) {
    const i64 nb = std::min(hi, f0 + kTBandFeatures) - f0;
    const std::uint32_t f1 = static_cast<std::uint32_t>(f0 + nb);
    s.start.assign(static_cast<std::size_t>(nb + 1), 0);
    s.span_row.clear();
    s.span_end.clear();
    for (i64 i = 0; i < nr; ++i) {  // the rows with entries in the band, and counts per feature
      const i64 j0 = s.cur[i], e = offsets[r0 + i + 1];
      i64 j1 = j0;
      for (; j1 < e && be.fidx[j1] < f1; ++j1) ++s.start[be.fidx[j1] - f0 + 1];
      if (j1 == j0) continue;
      s.span_row.push_back(static_cast<std::uint32_t>(i));
      s.span_end.push_back(j1);
    }
    std::partial_sum(s.start.begin(), s.start.end(), s.start.begin());
    s.erow.resize(static_cast<std::size_t>(s.start[nb]));
    s.ew.resize(s.erow.size());
    for (std::size_t k = 0; k < s.span_row.size(); ++k) {  // stable: rows stay in order
      const i64 i = s.span_row[k];
      for (i64 j = s.cur[i]; j < s.span_end[k]; ++j) {
        const i64 pos = s.start[be.fidx[j] - f0]++;
        s.erow[pos] = static_cast<std::uint32_t>(r0 + i);
        s.ew[pos] = be.wts[j];
      }
      s.cur[i] = s.span_end[k];
    }
    for (i64 g = 0, e0 = 0; g < nb; e0 = s.start[g], ++g)  // start[g] is now the end of g
      if (s.start[g] > e0)
        accumulate_rows(w + (f0 + g) * sw, nvec, s.erow.data() + e0, s.ew.data() + e0,
                        s.start[g] - e0, y, sy);
  }
}

/// W (features x c, stride pad8(c), double) = A^T Y (Y stride sy). Each thread owns a range of
/// features (balanced by df) and sums every entry in row order, so the ranges do not matter.
void multiply_transposed(const count_matrix& m, const tfidf& t, const float* y, i64 sy, int c,
                         double* w, int nthreads, pass_progress& pp) {
  const i64 nf = t.features(), sw = pad8(c);
  std::fill(w, w + nf * sw, 0.0);
  block_entries be;
  i64 next = 0;
  m.for_each_block([&](const count_block& b) {
    check_block(b, next, t.cols, &t);
    const i64 nr = b.row_end - b.row_begin;
    be.fill(b, t, nthreads);
#pragma omp parallel num_threads(nthreads)
    {
      const int me = omp_get_thread_num(), nt = omp_get_num_threads();
      auto range_start = [&](int k) {  // at a group boundary
        const i64 target = static_cast<i64>(static_cast<double>(t.nnz) * k / nt);
        const i64 f =
            std::lower_bound(t.df_before.begin(), t.df_before.end(), target) - t.df_before.begin();
        return k == nt
                   ? nf
                   : std::min(nf, (f + (i64{1} << kGroupShift) - 1) >> kGroupShift << kGroupShift);
      };
      const i64 lo = range_start(me), hi = range_start(me + 1);
      band_scratch s;
      for (i64 r0 = 0; r0 < nr && lo < hi; r0 += kTTileRows)
        scatter_tile(b.offsets, be, r0, std::min(nr, r0 + kTTileRows), lo, hi, y + b.row_begin * sy,
                     sy, static_cast<int>(sw / 8), w, sw, s);
    }
    next = b.row_end;
    pp.block_done(next);
  });
}

/// g[i0..i0+4) x [j0..j0+8) += chunk^T chunk over nr rows, each entry summed in row order.
CHORUS_LSA_CLONES void gram_tile(const double* chunk, int nr, int cp, int i0, int j0, double* g) {
  double acc[4][8];
  for (int a = 0; a < 4; ++a)
    for (int b = 0; b < 8; ++b) acc[a][b] = g[(i0 + a) * cp + j0 + b];
  for (int r = 0; r < nr; ++r) {
    const double* row = chunk + static_cast<i64>(r) * cp;
#pragma GCC unroll 4
    for (int a = 0; a < 4; ++a) {
      const double yi = row[i0 + a];
#pragma GCC unroll 8
      for (int b = 0; b < 8; ++b) acc[a][b] += yi * row[j0 + b];
    }
  }
  for (int a = 0; a < 4; ++a)
    for (int b = 0; b < 8; ++b) g[(i0 + a) * cp + j0 + b] = acc[a][b];
}

/// The Gram matrix X^T X (c x c, double) of X (rows x c, row stride ld); every entry summed in
/// row order.
template <class S>
std::vector<double> gram(const S* x, i64 rows, int c, i64 ld, int nthreads) {
  const int cp = (c + 7) / 8 * 8;
  std::vector<double> gp(static_cast<std::size_t>(cp) * cp, 0.0);
  std::vector<double> chunk(static_cast<std::size_t>(kGramChunk) * cp, 0.0);
  std::vector<std::pair<int, int>> tiles;  // upper triangle, 4 x 8 tiles
  for (int j0 = 0; j0 < cp; j0 += 8)
    for (int i0 = 0; i0 < j0 + 8; i0 += 4) tiles.emplace_back(i0, j0);
  const i64 ntiles = static_cast<i64>(tiles.size());
#pragma omp parallel num_threads(nthreads)
  for (i64 r0 = 0; r0 < rows; r0 += kGramChunk) {
    const i64 nr = std::min(kGramChunk, rows - r0);
#pragma omp for schedule(static)
    for (i64 r = 0; r < nr; ++r)
      for (int k = 0; k < c; ++k) chunk[r * cp + k] = static_cast<double>(x[(r0 + r) * ld + k]);
#pragma omp for schedule(static)
    for (i64 i = 0; i < ntiles; ++i)
      gram_tile(chunk.data(), static_cast<int>(nr), cp, tiles[i].first, tiles[i].second, gp.data());
  }
  std::vector<double> g(static_cast<std::size_t>(c) * c);
  for (int i = 0; i < c; ++i)
    for (int j = i; j < c; ++j) g[i * c + j] = g[j * c + i] = gp[i * cp + j];
  return g;
}

/// C (m x n) = op(A) B with op(A) = A (m x k) or A^T (A is k x m); small dense double products.
std::vector<double> matmul(const std::vector<double>& a, bool ta, const std::vector<double>& b,
                           int m, int k, int n) {
  std::vector<double> out(static_cast<std::size_t>(m) * n, 0.0);
  for (int i = 0; i < m; ++i)
    for (int p = 0; p < k; ++p) {
      const double aip =
          ta ? a[static_cast<std::size_t>(p) * m + i] : a[static_cast<std::size_t>(i) * k + p];
      if (aip == 0.0) continue;
      for (int j = 0; j < n; ++j)
        out[static_cast<std::size_t>(i) * n + j] += aip * b[static_cast<std::size_t>(p) * n + j];
    }
  return out;
}

/// T (c x r) such that X T has orthonormal columns, for G = X^T X: pivoted Cholesky of the
/// unit-diagonal scaled Gram, stopping where the Schur complement falls below kRankTol.
std::vector<double> pivoted_cholesky_inverse(const std::vector<double>& g, int c, int& r) {
  std::vector<int> idx;  // active columns
  std::vector<double> d(c);
  for (int i = 0; i < c; ++i) {
    d[i] = g[static_cast<std::size_t>(i) * c + i] > 0
               ? std::sqrt(g[static_cast<std::size_t>(i) * c + i])
               : 0.0;
    if (d[i] > 0) idx.push_back(i);
  }
  const int na = static_cast<int>(idx.size());
  std::vector<double> a(static_cast<std::size_t>(na) * na),
      rr(static_cast<std::size_t>(na) * na, 0.0);
  for (int i = 0; i < na; ++i)
    for (int j = 0; j < na; ++j)
      a[i * na + j] = g[static_cast<std::size_t>(idx[i]) * c + idx[j]] / (d[idx[i]] * d[idx[j]]);
  std::vector<int> perm(na);
  std::iota(perm.begin(), perm.end(), 0);
  r = 0;
  for (int k = 0; k < na; ++k, r = k) {
    int p = k;
    for (int j = k + 1; j < na; ++j)
      if (a[j * na + j] > a[p * na + p]) p = j;
    if (!(a[p * na + p] > kRankTol)) break;
    if (p != k) {  // symmetric swap of k and p
      for (int j = 0; j < na; ++j) std::swap(a[k * na + j], a[p * na + j]);
      for (int j = 0; j < na; ++j) std::swap(a[j * na + k], a[j * na + p]);
      for (int i = 0; i < k; ++i) std::swap(rr[i * na + k], rr[i * na + p]);
      std::swap(perm[k], perm[p]);
    }
    const double rkk = std::sqrt(a[k * na + k]);
    rr[k * na + k] = rkk;
    for (int j = k + 1; j < na; ++j) rr[k * na + j] = a[k * na + j] / rkk;
    for (int i = k + 1; i < na; ++i)
      for (int j = k + 1; j < na; ++j) a[i * na + j] -= rr[k * na + i] * rr[k * na + j];
  }
  // T = D^-1 P R11^-1, with R11^-1 by back substitution (upper triangular).
  std::vector<double> t(static_cast<std::size_t>(c) * r, 0.0),
      inv(static_cast<std::size_t>(r) * r, 0.0);
  for (int j = 0; j < r; ++j) {
    inv[j * r + j] = 1.0 / rr[j * na + j];
    for (int i = j - 1; i >= 0; --i) {
      double s = 0.0;
      for (int p = i + 1; p <= j; ++p) s += rr[i * na + p] * inv[p * r + j];
      inv[i * r + j] = -s / rr[i * na + i];
    }
  }
  for (int i = 0; i < r; ++i) {
    const int col = idx[perm[i]];
    for (int j = i; j < r; ++j) t[static_cast<std::size_t>(col) * r + j] = inv[i * r + j] / d[col];
  }
  return t;
}

/// T (c x r) with X T orthonormal, for G = X^T X; two rounds (CholQR2 on the Gram matrix).
std::vector<double> orthonormaliser(const std::vector<double>& g, int c, int& r) {
  int r1 = 0;
  std::vector<double> t1 = pivoted_cholesky_inverse(g, c, r1);
  const std::vector<double> g2 = matmul(t1, true, matmul(g, false, t1, c, c, r1), r1, c, r1);
  const std::vector<double> t2 = pivoted_cholesky_inverse(g2, r1, r);
  return matmul(t1, false, t2, c, r1, r);
}

/// Eigen-decomposition of the symmetric n x n matrix a by cyclic Jacobi rotations (relative
/// stopping rule). Returns eigenvalues descending; vecs (n x n) holds eigenvector j in column j.
std::vector<double> jacobi_eigen(std::vector<double> a, int n, std::vector<double>& vecs) {
  std::vector<double> vt(static_cast<std::size_t>(n) * n, 0.0);  // rows: eigenvectors
  for (int i = 0; i < n; ++i) vt[static_cast<std::size_t>(i) * n + i] = 1.0;
  double frob = 0.0;
  for (double v : a) frob += v * v;
  const double floor_abs = 1e-300 + 1e-18 * std::sqrt(frob);
  auto rotate_pair = [n](double* x, double* y, double c, double s) {
    for (int k = 0; k < n; ++k) {
      const double xk = x[k], yk = y[k];
      x[k] = c * xk - s * yk;
      y[k] = s * xk + c * yk;
    }
  };
  for (int sweep = 0; sweep < 100; ++sweep) {
    bool rotated = false;
    for (int p = 0; p + 1 < n; ++p)
      for (int q = p + 1; q < n; ++q) {
        double* ap = &a[static_cast<std::size_t>(p) * n];
        double* aq = &a[static_cast<std::size_t>(q) * n];
        const double apq = ap[q], app = ap[p], aqq = aq[q];
        if (std::abs(apq) <= std::max(floor_abs, 1e-17 * std::sqrt(std::abs(app * aqq)))) continue;
        rotated = true;
        const double tau = (aqq - app) / (2.0 * apq);
        const double tt = (tau >= 0 ? 1.0 : -1.0) / (std::abs(tau) + std::sqrt(1.0 + tau * tau));
        const double cs = 1.0 / std::sqrt(1.0 + tt * tt), sn = tt * cs;
        rotate_pair(ap, aq, cs, sn);   // rows: J^T A
        for (int k = 0; k < n; ++k) {  // columns: (J^T A) J
          double* row = &a[static_cast<std::size_t>(k) * n];
          const double xk = row[p], yk = row[q];
          row[p] = cs * xk - sn * yk;
          row[q] = sn * xk + cs * yk;
        }
        ap[q] = aq[p] = 0.0;
        rotate_pair(&vt[static_cast<std::size_t>(p) * n], &vt[static_cast<std::size_t>(q) * n], cs,
                    sn);
      }
    if (!rotated) break;
  }
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int x, int y) {
    return a[static_cast<std::size_t>(x) * n + x] > a[static_cast<std::size_t>(y) * n + y];
  });
  std::vector<double> evals(n);
  vecs.assign(static_cast<std::size_t>(n) * n, 0.0);
  for (int j = 0; j < n; ++j) {
    evals[j] = a[static_cast<std::size_t>(order[j]) * n + order[j]];
    for (int k = 0; k < n; ++k)
      vecs[static_cast<std::size_t>(k) * n + j] = vt[static_cast<std::size_t>(order[j]) * n + k];
  }
  return evals;
}

/// dst (rows x n, stride ldd) = src (rows x c, stride lds) * t (c x n): one single-threaded
/// dnnl_sgemm per fixed block of kGemmRows rows (so each output is computed the same way whatever
/// the thread count), in waves of nthreads blocks. dst may alias src when ldd <= lds: a wave
/// writes only rows it has read.
template <class S>
void apply_rows(const S* src, i64 rows, int c, i64 lds, const std::vector<double>& t, int n,
                float* dst, i64 ldd, int nthreads) {
  const std::vector<float> tf(t.begin(), t.end());
  const i64 nblocks = (rows + kGemmRows - 1) / kGemmRows, wave = nthreads;
  std::vector<float> slots(static_cast<std::size_t>(wave * kGemmRows) * n);
  std::atomic<bool> failed{false};
  for (i64 w0 = 0; w0 < nblocks; w0 += wave) {
    const i64 w1 = std::min(nblocks, w0 + wave);
#pragma omp parallel num_threads(nthreads)
    {
      omp_set_num_threads(1);  // dnnl runs single-threaded inside
      std::vector<float> conv;
#pragma omp for schedule(static, 1)
      for (i64 bi = w0; bi < w1; ++bi) {
        const i64 r0 = bi * kGemmRows, nr = std::min(kGemmRows, rows - r0);
        const float* a;
        if constexpr (std::is_same_v<S, float>) {
          a = src + r0 * lds;
        } else {
          conv.assign(src + r0 * lds, src + (r0 + nr) * lds);
          a = conv.data();
        }
        float* out = slots.data() + (bi - w0) * kGemmRows * n;
        if (dnnl_sgemm('N', 'N', nr, n, c, 1.0f, a, lds, tf.data(), n, 0.0f, out, n) !=
            dnnl_success)
          failed = true;
      }
#pragma omp for schedule(static, 1)
      for (i64 bi = w0; bi < w1; ++bi) {
        const i64 r0 = bi * kGemmRows, nr = std::min(kGemmRows, rows - r0);
        const float* from = slots.data() + (bi - w0) * kGemmRows * n;
        if (ldd == n) {
          std::memmove(dst + r0 * n, from, static_cast<std::size_t>(nr * n) * sizeof(float));
        } else {
          for (i64 r = 0; r < nr; ++r)
            std::memcpy(dst + (r0 + r) * ldd, from + r * n,
                        static_cast<std::size_t>(n) * sizeof(float));
        }
      }
    }
  }
  if (failed) CHORUS_THROW(runtime_failure, "lsa: dnnl_sgemm failed");
}

/// Column signs (largest-magnitude entry positive, first such row on ties) and row L2 norms.
void signs_and_normalise(float* v, i64 rows, int k, int nthreads) {
  const i64 nblocks = (rows + kGemmRows - 1) / kGemmRows;
  std::vector<float> best(static_cast<std::size_t>(nblocks) * k, 0.0f);
#pragma omp parallel for num_threads(nthreads) schedule(static)
  for (i64 bi = 0; bi < nblocks; ++bi) {
    float* bb = &best[static_cast<std::size_t>(bi) * k];
    for (i64 r = bi * kGemmRows; r < std::min(rows, (bi + 1) * kGemmRows); ++r)
      for (int j = 0; j < k; ++j)
        if (std::abs(v[r * k + j]) > std::abs(bb[j])) bb[j] = v[r * k + j];
  }
  std::vector<double> sign(k, 0.0);
  for (int j = 0; j < k; ++j) {
    float b = 0.0f;
    for (i64 bi = 0; bi < nblocks; ++bi)
      if (std::abs(best[bi * k + j]) > std::abs(b)) b = best[bi * k + j];
    sign[j] = b < 0 ? -1.0 : 1.0;
  }
#pragma omp parallel for num_threads(nthreads) schedule(static)
  for (i64 r = 0; r < rows; ++r) {
    float* row = v + r * k;
    double ss = 0.0;
    for (int j = 0; j < k; ++j) ss += static_cast<double>(row[j]) * row[j];
    if (!(ss > 0.0)) continue;
    const double inv = 1.0 / std::sqrt(ss);
    for (int j = 0; j < k; ++j) row[j] = static_cast<float>(row[j] * sign[j] * inv);
  }
}

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

/// The Gaussian test matrix (features x l): entry (f, j) from a hash of (seed, feature, j / 2)
/// through Box-Muller, so it does not depend on the order it is made in.
void gaussian_test_matrix(const tfidf& t, int l, std::uint64_t seed, float* x, i64 sx,
                          int nthreads) {
  const std::uint64_t s = splitmix64(seed);
  const i64 nf = t.features();
#pragma omp parallel for num_threads(nthreads) schedule(static)
  for (i64 f = 0; f < nf; ++f) {
    const std::uint64_t base = splitmix64(s ^ splitmix64(t.feature[f]));
    for (int j = 0; j < l; j += 2) {
      const std::uint64_t h = splitmix64(base + static_cast<std::uint64_t>(j / 2));
      const double u1 = (static_cast<double>(h >> 32) + 0.5) / 4294967296.0;
      const double u2 = (static_cast<double>(h & 0xffffffffu) + 0.5) / 4294967296.0;
      const double rad = std::sqrt(-2.0 * std::log(u1)), th = 6.283185307179586 * u2;
      x[f * sx + j] = static_cast<float>(rad * std::cos(th));
      if (j + 1 < l) x[f * sx + j + 1] = static_cast<float>(rad * std::sin(th));
    }
  }
}

void check_options(const lsa_options& opt) {
  if (opt.dim < 1) CHORUS_THROW(input_error, "lsa: dim must be at least 1");
  if (opt.oversample < 0) CHORUS_THROW(input_error, "lsa: oversample must not be negative");
  if (opt.power_iterations < 0 || opt.power_iterations > 1000)
    CHORUS_THROW(input_error, "lsa: power_iterations must be in [0, 1000]");
  if (opt.threads < 0) CHORUS_THROW(input_error, "lsa: threads must not be negative");
}

}  // namespace

lsa_result lsa_embed(const count_matrix& m, const lsa_options& opt,
                     const std::function<void(double)>& progress) {
  check_options(opt);
  const int nthreads = opt.threads > 0 ? opt.threads : std::max(1, omp_get_max_threads());
  const int q = opt.power_iterations;
  pass_progress pp(progress, 2 * q + 3, m.rows());
  const tfidf t = count_features(m, pp);
  const i64 n = t.rows, nf = t.features();
  lsa_result res;
  res.empty_rows = t.empty_rows;
  res.dim = static_cast<int>(std::min<i64>(opt.dim, std::min(n, nf)));
  const int k = res.dim;
  if (k == 0) {
    pp.done();
    return res;
  }
  const int l = static_cast<int>(std::min<i64>(i64{k} + opt.oversample, std::min(n, nf)));
  // X (features x l, rows padded to whole cache lines and 64-byte aligned); Y (rows x c) and
  // W (features x c) with rows of pad8(c) entries, c being the current number of columns.
  const int sx = (l + kPanel - 1) / kPanel * kPanel;
  std::vector<float> xbuf(static_cast<std::size_t>(nf) * sx + kPanel),
      y(static_cast<std::size_t>(n) * pad8(l));
  float* x =
      xbuf.data() + (64 - reinterpret_cast<std::uintptr_t>(xbuf.data()) % 64) % 64 / sizeof(float);
  std::vector<double> w(static_cast<std::size_t>(nf) * pad8(l));
  gaussian_test_matrix(t, l, opt.seed, x, sx, nthreads);
  pp.next_pass();
  multiply(m, t, x, sx, l, y.data(), pad8(l), nthreads, pp);  // Y = A Omega
  int c = l;
  for (int it = 0; it < q; ++it) {
    int r1 = 0, r2 = 0;  // Q = Y T_y orthonormal; Z = A^T Q = W T_y; Qhat = Z T_z
    const std::vector<double> ty = orthonormaliser(gram(y.data(), n, c, pad8(c), nthreads), c, r1);
    pp.next_pass();
    multiply_transposed(m, t, y.data(), pad8(c), c, w.data(), nthreads, pp);
    const std::vector<double> gw = gram(w.data(), nf, c, pad8(c), nthreads);
    const std::vector<double> tz =
        orthonormaliser(matmul(ty, true, matmul(gw, false, ty, c, c, r1), r1, c, r1), r1, r2);
    if (r2 == 0) break;
    apply_rows(w.data(), nf, c, pad8(c), matmul(ty, false, tz, c, r1, r2), r2, x, sx, nthreads);
    c = r2;
    pp.next_pass();
    multiply(m, t, x, sx, c, y.data(), pad8(c), nthreads, pp);  // Y = A Qhat
  }
  // B = Q^T A with Q = Y T_y; B B^T = T_y^T (W^T W) T_y; U = Q U_b; vectors = Y (T_y U_b Sigma).
  int r = 0;
  const std::vector<double> ty = orthonormaliser(gram(y.data(), n, c, pad8(c), nthreads), c, r);
  pp.next_pass();
  multiply_transposed(m, t, y.data(), pad8(c), c, w.data(), nthreads, pp);
  const std::vector<double> bbt = matmul(
      ty, true, matmul(gram(w.data(), nf, c, pad8(c), nthreads), false, ty, c, c, r), r, c, r);
  std::vector<double>().swap(w);
  std::vector<float>().swap(xbuf);
  std::vector<double> ub;
  const std::vector<double> evals = r > 0 ? jacobi_eigen(bbt, r, ub) : std::vector<double>();
  res.singular_values.assign(k, 0.0);
  std::vector<double> us(static_cast<std::size_t>(r) * k, 0.0);  // U_b Sigma, first k columns
  for (int j = 0; j < std::min(k, r); ++j) {
    res.singular_values[j] = std::sqrt(std::max(evals[j], 0.0));
    for (int i = 0; i < r; ++i)
      us[static_cast<std::size_t>(i) * k + j] =
          ub[static_cast<std::size_t>(i) * r + j] * res.singular_values[j];
  }
  const std::vector<double> mk = matmul(ty, false, us, c, r, k);
  if (k <= c) {
    apply_rows(y.data(), n, c, pad8(c), mk, k, y.data(), k, nthreads);
    y.resize(static_cast<std::size_t>(n) * k);
    res.vectors = std::move(y);
  } else {
    res.vectors.assign(static_cast<std::size_t>(n) * k, 0.0f);
    apply_rows(y.data(), n, c, pad8(c), mk, k, res.vectors.data(), k, nthreads);
  }
  signs_and_normalise(res.vectors.data(), n, k, nthreads);
  pp.done();
  return res;
}

}  // namespace chorus::ingest
