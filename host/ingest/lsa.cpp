// chorus ingest: LSA content vectors (sublinear TF-IDF + deterministic randomised truncated SVD).
//
// Determinism: every floating-point sum has an order fixed by the data alone. Y = A X sums each
// row's terms in column order; W = A^T Y gives each thread a range of features and sums every
// entry in row order; Gram matrices sum every entry in row order (threads share out the output
// tiles); dense products run one single-threaded dnnl_sgemm per fixed block of rows; the random
// matrix is a hash of (seed, feature, column). Nothing depends on the thread count.
#include "chorus/ingest/lsa.hpp"

#include <omp.h>
#include <oneapi/dnnl/dnnl.h>

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
constexpr int kPanel = 16;  // floats per cache line: the column panel of Y = A X

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
  std::vector<std::uint32_t> feature;  // compact index -> feature
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
  t.compact.assign(static_cast<std::size_t>(t.cols), kAbsent);
  i64 before = 0;
  for (i64 f = 0; f < t.cols; ++f) {
    if (df[f] == 0) continue;
    t.compact[f] = static_cast<std::uint32_t>(t.feature.size());
    t.feature.push_back(static_cast<std::uint32_t>(f));
    t.df_before.push_back(before);
    t.idf.push_back(std::log((1.0 + t.rows) / (1.0 + df[f])) + 1.0);
    before += df[f];
  }
  t.tf_table.resize(kTfTable, 0.0);
  for (std::uint32_t c = 1; c < kTfTable; ++c)
    t.tf_table[c] = 1.0 + std::log(static_cast<double>(c));
  return t;
}

/// The L2-normalised TF-IDF weights of local row r of block b, into w. Not inlined, so every pass
/// runs the very same code and gets the very same weights.
__attribute__((noinline)) void row_weights(const count_block& b, i64 r, const tfidf& t, double* w) {
  const i64 o0 = b.offsets[r], len = b.offsets[r + 1] - o0;
  double ss = 0.0;
  for (i64 j = 0; j < len; ++j) {
    const double u = t.tf(b.counts[o0 + j]) * t.idf[t.compact[b.cols[o0 + j]]];
    w[j] = u;
    ss += u * u;
  }
  if (ss <= 0.0) return;
  const double inv = 1.0 / std::sqrt(ss);
  for (i64 j = 0; j < len; ++j) w[j] *= inv;
}

/// acc[0..c) += w * x[0..c).
CHORUS_LSA_CLONES void axpy(double* __restrict acc, double w, const float* __restrict x, int c) {
#pragma omp simd
  for (int k = 0; k < c; ++k) acc[k] += w * static_cast<double>(x[k]);
}

/// Rows [r0, r1) of one 16-column panel of Y = A X: y[r][c0 + k] = sum_j w_j x[f_j][c0 + k]
/// (k < pw), each sum over the row's entries in column order, in double.
CHORUS_LSA_CLONES void gather_panel(i64 r0, i64 r1, const i64* offsets, const double* wts,
                                    const std::uint32_t* fidx, const float* x, i64 sx, int c0,
                                    int pw, float* y, i64 c) {
  for (i64 r = r0; r < r1; ++r) {
    double acc[kPanel] = {};
    for (i64 j = offsets[r]; j < offsets[r + 1]; ++j) {
      const float* xr = x + static_cast<i64>(fidx[j]) * sx + c0;
      const double w = wts[j];
#pragma omp simd
      for (int k = 0; k < kPanel; ++k) acc[k] += w * static_cast<double>(xr[k]);
    }
    for (int k = 0; k < pw; ++k) y[r * c + c0 + k] = static_cast<float>(acc[k]);
  }
}

/// Y (rows x c) = A X, X (features x c, row stride sx, a multiple of kPanel). Panel by panel, so
/// the rows of X touched at once (features x 64 bytes) stay in the last-level cache.
void multiply(const count_matrix& m, const tfidf& t, const float* x, int sx, int c, float* y,
              int nthreads, pass_progress& pp) {
  std::vector<double> wts;
  std::vector<std::uint32_t> fidx;
  const int np = (c + kPanel - 1) / kPanel;
  i64 next = 0;
  m.for_each_block([&](const count_block& b) {
    check_block(b, next, t.cols, &t);
    const i64 nr = b.row_end - b.row_begin, nchunks = (nr + 63) / 64;
    wts.resize(static_cast<std::size_t>(b.offsets[nr]));
    fidx.resize(wts.size());
#pragma omp parallel num_threads(nthreads)
    {
#pragma omp for schedule(dynamic, 64)
      for (i64 r = 0; r < nr; ++r) {
        row_weights(b, r, t, wts.data() + b.offsets[r]);
        for (i64 j = b.offsets[r]; j < b.offsets[r + 1]; ++j) fidx[j] = t.compact[b.cols[j]];
      }
      for (int p = 0; p < np; ++p) {
#pragma omp for schedule(static) nowait
        for (i64 ch = 0; ch < nchunks; ++ch)
          gather_panel(ch * 64, std::min(nr, ch * 64 + 64), b.offsets, wts.data(), fidx.data(), x,
                       sx, p * kPanel, std::min(kPanel, c - p * kPanel), y + b.row_begin * c, c);
      }
    }
    next = b.row_end;
    pp.block_done(next);
  });
}

/// W[f] += w_j Y[row_j] for the entries of block b with compact feature f in [lo, hi), every W
/// entry summed in row order. Large blocks are bucketed by feature first (a stable counting sort),
/// so each row of W is updated while it is in cache; the sums are the same either way.
void scatter_range(const count_block& b, const tfidf& t, const double* wts, const float* y, int c,
                   i64 lo, i64 hi, double* w) {
  const i64 nr = b.row_end - b.row_begin, nz = b.offsets[nr];
  auto in_range = [&](i64 j, i64& f) {
    f = t.compact[b.cols[j]];
    return f >= lo && f < hi;
  };
  i64 f = 0;
  if (nz < (hi - lo) / 4 || nr > 0xffffffffLL) {  // few entries: update in place
    for (i64 r = 0; r < nr; ++r)
      for (i64 j = b.offsets[r]; j < b.offsets[r + 1]; ++j)
        if (in_range(j, f)) axpy(w + f * c, wts[j], y + r * c, c);
    return;
  }
  std::vector<i64> start(static_cast<std::size_t>(hi - lo + 1), 0);
  for (i64 j = 0; j < nz; ++j)
    if (in_range(j, f)) ++start[f - lo + 1];
  std::partial_sum(start.begin(), start.end(), start.begin());
  std::vector<i64> fill(start.begin(), start.end() - 1);
  std::vector<std::uint32_t> erow(static_cast<std::size_t>(start.back()));
  std::vector<double> ew(erow.size());
  for (i64 r = 0; r < nr; ++r)
    for (i64 j = b.offsets[r]; j < b.offsets[r + 1]; ++j)
      if (in_range(j, f)) {
        const i64 pos = fill[f - lo]++;
        erow[pos] = static_cast<std::uint32_t>(r);
        ew[pos] = wts[j];
      }
  for (i64 g = lo; g < hi; ++g)
    for (i64 e = start[g - lo]; e < start[g - lo + 1]; ++e)
      axpy(w + g * c, ew[e], y + static_cast<i64>(erow[e]) * c, c);
}

/// W (features x c, double) = A^T Y. Each thread owns a range of features (balanced by df) and
/// sums its entries in row order, so the sums do not depend on the ranges.
void multiply_transposed(const count_matrix& m, const tfidf& t, const float* y, int c, double* w,
                         int nthreads, pass_progress& pp) {
  const i64 nf = t.features();
  std::fill(w, w + nf * c, 0.0);
  std::vector<double> wts;
  i64 next = 0;
  m.for_each_block([&](const count_block& b) {
    check_block(b, next, t.cols, &t);
    const i64 nr = b.row_end - b.row_begin;
    wts.resize(static_cast<std::size_t>(b.offsets[nr]));
#pragma omp parallel num_threads(nthreads)
    {
#pragma omp for schedule(dynamic, 64)
      for (i64 r = 0; r < nr; ++r) row_weights(b, r, t, wts.data() + b.offsets[r]);
      const int me = omp_get_thread_num(), nt = omp_get_num_threads();
      auto range_start = [&](int k) {
        const i64 target = static_cast<i64>(static_cast<double>(t.nnz) * k / nt);
        return k == nt ? nf
                       : std::lower_bound(t.df_before.begin(), t.df_before.end(), target) -
                             t.df_before.begin();
      };
      scatter_range(b, t, wts.data(), y + b.row_begin * c, c, range_start(me), range_start(me + 1),
                    w);
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

/// The Gram matrix X^T X (c x c, double) of X (rows x c); every entry summed in row order.
template <class S>
std::vector<double> gram(const S* x, i64 rows, int c, int nthreads) {
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
      for (int k = 0; k < c; ++k) chunk[r * cp + k] = static_cast<double>(x[(r0 + r) * c + k]);
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

/// dst (rows x n) = src (rows x c) * t (c x n): one single-threaded dnnl_sgemm per fixed block
/// of kGemmRows rows (so each output is computed the same way whatever the thread count), in
/// waves of nthreads blocks. dst may alias src when n <= c: a wave writes only rows it has read.
template <class S>
void apply_rows(const S* src, i64 rows, int c, const std::vector<double>& t, int n, float* dst,
                i64 ldd, int nthreads) {
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
          a = src + r0 * c;
        } else {
          conv.assign(src + r0 * c, src + (r0 + nr) * c);
          a = conv.data();
        }
        float* out = slots.data() + (bi - w0) * kGemmRows * n;
        if (dnnl_sgemm('N', 'N', nr, n, c, 1.0f, a, c, tf.data(), n, 0.0f, out, n) != dnnl_success)
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
  // X (features x l, rows padded to whole cache lines and 64-byte aligned), Y, W
  const int sx = (l + kPanel - 1) / kPanel * kPanel;
  std::vector<float> xbuf(static_cast<std::size_t>(nf) * sx + kPanel),
      y(static_cast<std::size_t>(n) * l);
  float* x =
      xbuf.data() + (64 - reinterpret_cast<std::uintptr_t>(xbuf.data()) % 64) % 64 / sizeof(float);
  std::vector<double> w(static_cast<std::size_t>(nf) * l);
  gaussian_test_matrix(t, l, opt.seed, x, sx, nthreads);
  pp.next_pass();
  multiply(m, t, x, sx, l, y.data(), nthreads, pp);  // Y = A Omega
  int c = l;
  for (int it = 0; it < q; ++it) {
    int r1 = 0, r2 = 0;  // Q = Y T_y orthonormal; Z = A^T Q = W T_y; Qhat = Z T_z
    const std::vector<double> ty = orthonormaliser(gram(y.data(), n, c, nthreads), c, r1);
    pp.next_pass();
    multiply_transposed(m, t, y.data(), c, w.data(), nthreads, pp);
    const std::vector<double> gw = gram(w.data(), nf, c, nthreads);
    const std::vector<double> tz =
        orthonormaliser(matmul(ty, true, matmul(gw, false, ty, c, c, r1), r1, c, r1), r1, r2);
    if (r2 == 0) break;
    apply_rows(w.data(), nf, c, matmul(ty, false, tz, c, r1, r2), r2, x, sx, nthreads);
    c = r2;
    pp.next_pass();
    multiply(m, t, x, sx, c, y.data(), nthreads, pp);  // Y = A Qhat
  }
  // B = Q^T A with Q = Y T_y; B B^T = T_y^T (W^T W) T_y; U = Q U_b; vectors = Y (T_y U_b Sigma).
  int r = 0;
  const std::vector<double> ty = orthonormaliser(gram(y.data(), n, c, nthreads), c, r);
  pp.next_pass();
  multiply_transposed(m, t, y.data(), c, w.data(), nthreads, pp);
  const std::vector<double> bbt =
      matmul(ty, true, matmul(gram(w.data(), nf, c, nthreads), false, ty, c, c, r), r, c, r);
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
    apply_rows(y.data(), n, c, mk, k, y.data(), k, nthreads);
    y.resize(static_cast<std::size_t>(n) * k);
    res.vectors = std::move(y);
  } else {
    res.vectors.assign(static_cast<std::size_t>(n) * k, 0.0f);
    apply_rows(y.data(), n, c, mk, k, res.vectors.data(), k, nthreads);
  }
  signs_and_normalise(res.vectors.data(), n, k, nthreads);
  pp.done();
  return res;
}

}  // namespace chorus::ingest
