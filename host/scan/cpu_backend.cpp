// chorus: the CPU backend. Tiles of the upper triangle go through oneDNN matmul (fp32, bf16 or
// int8); the threshold is applied while the tile is hot in cache, with a margin that provably
// keeps every true edge (chorus/scan/margin.hpp); candidates are re-scored exactly in float64.
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>

#include "chorus/core/bf16.hpp"
#include "chorus/core/error.hpp"
#include "chorus/io/input.hpp"
#include "chorus/scan/backend.hpp"
#include "chorus/scan/first_pass.hpp"
#include "chorus/scan/margin.hpp"
#include "chorus/scan/quantize.hpp"
#include "chorus/scan/tiling.hpp"

namespace chorus {

const char* to_string(backend_kind k) {
  switch (k) {
    case backend_kind::automatic:
      return "auto";
    case backend_kind::cpu:
      return "cpu";
    case backend_kind::cuda:
      return "cuda";
  }
  return "?";
}
const char* to_string(precision p) {
  switch (p) {
    case precision::automatic:
      return "auto";
    case precision::fp32:
      return "fp32";
    case precision::bf16:
      return "bf16";
    case precision::int8:
      return "int8";
  }
  return "?";
}

namespace {

// Float64 dot of two fp32 rows; cloned per ISA so the hot re-check vectorises where it can.
__attribute__((target_clones("avx512f", "avx2", "default"))) double dot_f64(const float* a,
                                                                            const float* b,
                                                                            std::int64_t d) {
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  std::int64_t k = 0;
  for (; k + 4 <= d; k += 4) {
    s0 += static_cast<double>(a[k]) * b[k];
    s1 += static_cast<double>(a[k + 1]) * b[k + 1];
    s2 += static_cast<double>(a[k + 2]) * b[k + 2];
    s3 += static_cast<double>(a[k + 3]) * b[k + 3];
  }
  for (; k < d; ++k) s0 += static_cast<double>(a[k]) * b[k];
  return (s0 + s1) + (s2 + s3);
}

// int8 epilogue over one row segment: flag[k] = first-pass score + per-pair margin >= cut.
// Returns true when any flag is set. Vectorised per ISA.
__attribute__((target_clones("avx512f", "avx2", "default"))) bool flag_int8(
    const std::int32_t* dot, std::int64_t len, float si, float ni, float ei, const float* s,
    const float* e, const float* m, float cut, std::uint8_t* flag) {
  int any = 0;
  for (std::int64_t k = 0; k < len; ++k) {
    const float v = margin::int8_score(dot[k], si, s[k], ni, ei, e[k], m[k]);
    const int f = v >= cut;
    flag[k] = static_cast<std::uint8_t>(f);
    any |= f;
  }
  return any != 0;
}

// fp32/bf16 epilogue: flag[k] = score >= cut (the margin is folded into cut).
__attribute__((target_clones("avx512f", "avx2", "default"))) bool flag_f32(const float* dot,
                                                                           std::int64_t len,
                                                                           float cut,
                                                                           std::uint8_t* flag) {
  int any = 0;
  for (std::int64_t k = 0; k < len; ++k) {
    const int f = dot[k] >= cut;
    flag[k] = static_cast<std::uint8_t>(f);
    any |= f;
  }
  return any != 0;
}

// int8 quantisation of one row (chorus/scan/quantize.hpp), cloned per ISA so that it vectorises.
__attribute__((target_clones("avx512f", "avx2", "default"))) float quantize_row(
    const float* x, std::int64_t k, std::int8_t* q, double& e2, double& q2, double& r2) {
  return quantize_row_int8(x, k, q, e2, q2, r2);
}

// oneDNN engine, shared by all CPU backends.
dnnl::engine& cpu_engine() {
  static dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  return eng;
}

dnnl::memory::data_type dnnl_type(precision p) {
  switch (p) {
    case precision::int8:
      return dnnl::memory::data_type::s8;
    case precision::bf16:
      return dnnl::memory::data_type::bf16;
    default:
      return dnnl::memory::data_type::f32;
  }
}

// C[M x N] = A[M x K] * B[N x K]^T, one primitive per shape (at most four per run). Each
// thread owns its tile_gemm: primitives run with a user scratchpad, so that concurrent
// execution never shares oneDNN's global scratchpad.
class tile_gemm {
 public:
  tile_gemm(precision p, std::int64_t k) : prec_(p), k_(k) {}
  void run(dnnl::stream& s, std::int64_t m, std::int64_t n, const void* a, const void* b, void* c) {
    entry& e = get(m, n);
    using md = dnnl::memory::desc;
    using tag = dnnl::memory::format_tag;
    dnnl::memory ma(md({m, k_}, in(), tag::ab), cpu_engine(), const_cast<void*>(a));
    dnnl::memory mb(md({k_, n}, in(), tag::ba), cpu_engine(), const_cast<void*>(b));
    dnnl::memory mc(md({m, n}, out(), tag::ab), cpu_engine(), c);
    e.mm.execute(s, {{DNNL_ARG_SRC, ma},
                     {DNNL_ARG_WEIGHTS, mb},
                     {DNNL_ARG_DST, mc},
                     {DNNL_ARG_SCRATCHPAD, e.scratch}});
    s.wait();
  }

 private:
  struct entry {
    dnnl::matmul mm;
    dnnl::memory scratch;
  };
  dnnl::memory::data_type in() const { return dnnl_type(prec_); }
  dnnl::memory::data_type out() const {
    return prec_ == precision::int8 ? dnnl::memory::data_type::s32 : dnnl::memory::data_type::f32;
  }
  entry& get(std::int64_t m, std::int64_t n) {
    auto key = std::make_pair(m, n);
    auto it = cache_.find(key);
    if (it != cache_.end()) return it->second;
    using md = dnnl::memory::desc;
    using tag = dnnl::memory::format_tag;
    md a({m, k_}, in(), tag::ab), b({k_, n}, in(), tag::ba), c({m, n}, out(), tag::ab);
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a, b, c), attr, cpu_engine());
    entry e{dnnl::matmul(pd), dnnl::memory(pd.scratchpad_desc(), cpu_engine())};
    return cache_.emplace(key, std::move(e)).first->second;
  }
  precision prec_;
  std::int64_t k_;
  std::map<std::pair<std::int64_t, std::int64_t>, entry> cache_;
};

// True when oneDNN's s8 x s8 -> s32 matmul is exact on this CPU (no int16 saturation), checked
// once on values that would saturate a non-VNNI u8*s8 pairwise product.
bool int8_exact_here() {
  static const bool ok = [] {
    try {
      const std::int64_t m = 24, n = 40, k = 67;
      std::vector<std::int8_t> a(m * k), b(n * k);
      for (std::int64_t i = 0; i < m * k; ++i)
        a[i] =
            static_cast<std::int8_t>(i % 3 == 0 ? -127 : (i % 5 == 0 ? 127 : (i * 37) % 255 - 127));
      for (std::int64_t i = 0; i < n * k; ++i)
        b[i] = static_cast<std::int8_t>(i % 2 ? 127 : -127 + (i * 11) % 7);
      std::vector<std::int32_t> c(m * n);
      tile_gemm g(precision::int8, k);
      dnnl::stream s(cpu_engine());
      g.run(s, m, n, a.data(), b.data(), c.data());
      for (std::int64_t i = 0; i < m; ++i)
        for (std::int64_t j = 0; j < n; ++j) {
          std::int64_t ref = 0;
          for (std::int64_t t = 0; t < k; ++t) ref += std::int64_t(a[i * k + t]) * b[j * k + t];
          if (ref != c[i * n + j]) return false;
        }
      return true;
    } catch (const std::exception&) {
      return false;
    }
  }();
  return ok;
}

bool has_fast_int8() {
  const auto isa = dnnl::get_effective_cpu_isa();
  return isa == dnnl::cpu_isa::avx512_core_vnni || isa == dnnl::cpu_isa::avx512_core_bf16 ||
         isa == dnnl::cpu_isa::avx512_core_amx || isa == dnnl::cpu_isa::avx2_vnni;
}

// The first-pass operand: one row per account, the vector whose dot products the first pass
// thresholds, in the chosen precision, plus what the margins need.
struct first_pass {
  precision prec = precision::fp32;
  std::int64_t n = 0, k = 0;
  double threshold = 0;
  std::vector<float> f32;  // fp32 rows (fused mode only; else f32_rows points at the view)
  const float* f32_rows = nullptr;
  std::vector<std::uint16_t> bf16;
  std::vector<std::int8_t> i8;
  std::vector<float> scale, err, qnorm, rnorm;  // int8: per-row s, e (up), ||q|| (up), ||x|| (up)
  float cut = 0;           // fp32/bf16: threshold - margin; int8: threshold - slack
  std::int64_t base = 0;   // first row held
  bool view_rows = false;  // fp32 of one view: the view's rows serve, nothing to fill
  const void* rows() const {
    return prec == precision::int8   ? static_cast<const void*>(i8.data())
           : prec == precision::bf16 ? static_cast<const void*>(bf16.data())
                                     : static_cast<const void*>(f32_rows);
  }
  std::size_t elem() const { return prec == precision::int8 ? 1 : prec == precision::bf16 ? 2 : 4; }
};

// Rows [base, n) only: row i is stored at (i - base). Allocates and sets the cut; the rows are
// filled by fill_first_pass_row (all at once, or block by block as the views arrive).
first_pass prepare_first_pass(const score_problem& pb, precision prec, std::int64_t base) {
  first_pass fp;
  fp.prec = prec;
  fp.n = pb.n();
  const auto mode = pb.params.mode;
  const bool fused = mode == view_mode::fused;
  fp.k = mode == view_mode::activity ? pb.activity->d
         : fused                     ? pb.embedding->d + pb.activity->d
                                     : pb.embedding->d;
  fp.threshold = first_pass_threshold(pb.params);
  const std::int64_t n = fp.n, k = fp.k, rows = n - base;
  fp.base = base;
  if (prec == precision::fp32) {
    if (fused) {
      fp.f32.resize(static_cast<std::size_t>(checked_mul(rows, k, "first-pass matrix")));
      fp.f32_rows = fp.f32.data();
    } else {
      fp.f32_rows = (mode == view_mode::activity ? pb.activity : pb.embedding)->row(base);
      fp.view_rows = true;
    }
    fp.cut = static_cast<float>(fp.threshold - margin::fp32_gemm(k));
    return fp;
  }
  if (prec == precision::bf16) {
    fp.bf16.resize(static_cast<std::size_t>(checked_mul(rows, k, "first-pass matrix")));
    fp.cut = static_cast<float>(fp.threshold - margin::bf16_gemm(k));
    return fp;
  }
  // int8 with a per-row scale
  fp.i8.resize(static_cast<std::size_t>(checked_mul(rows, k, "first-pass matrix")));
  fp.scale.resize(n);
  fp.err.resize(n);
  fp.qnorm.resize(n);
  fp.rnorm.resize(n);
  fp.cut = static_cast<float>(fp.threshold - margin::kSlack);
  return fp;
}

// First-pass row i (base <= i < n) from the views; `row` is fp.k floats of scratch.
void fill_first_pass_row(first_pass& fp, const score_problem& pb, std::int64_t i, float* row) {
  const std::int64_t k = fp.k, at = i - fp.base;
  if (fp.prec == precision::fp32) {
    if (!fp.view_rows) first_pass_row(pb, i, fp.f32.data() + at * k);
  } else if (fp.prec == precision::bf16) {
    first_pass_row(pb, i, row);
    for (std::int64_t t = 0; t < k; ++t) fp.bf16[at * k + t] = to_bf16(row[t]);
  } else {
    double e2 = 0, q2 = 0, r2 = 0;
    first_pass_row(pb, i, row);
    fp.scale[i] = quantize_row(row, k, fp.i8.data() + at * k, e2, q2, r2);
    int8_row_bounds(e2, q2, r2, &fp.err[i], &fp.qnorm[i], &fp.rnorm[i]);
  }
}

class cpu_backend final : public backend {
 public:
  std::string name() const override { return "cpu"; }

 protected:
  void configure_(const score_problem& pb, const score_options& opt, const scan_range& range,
                  score_stats& stats) override {
    pb_ = &pb;
    range_ = range;
    tile_rows_ = opt.tile_rows;
    tile_cols_ = opt.tile_cols;
    threads_ = std::max(1, opt.threads > 0 ? opt.threads : omp_get_max_threads());
    prec_ = opt.prec;
    if (prec_ == precision::automatic)
      prec_ = (has_fast_int8() && int8_exact_here()) ? precision::int8 : precision::fp32;
    if (prec_ == precision::int8 && !int8_exact_here())
      CHORUS_THROW(input_error,
                   "--precision int8 is not exact with this CPU's oneDNN kernels; use fp32");
    stats.used = prec_;
    stats.detail = std::string("oneDNN ") + std::to_string(dnnl::version()->major) + "." +
                   std::to_string(dnnl::version()->minor) + " " + to_string(prec_) +
                   (has_fast_int8() ? " (VNNI)" : "");
  }

  // Units: tiles of rows [begin, end) x columns [begin, n), the triangle's tiling shifted by
  // begin; a batch is 16 units per thread.
  scan_plan plan_() override {
    fp_ = prepare_first_pass(*pb_, prec_, range_.begin);
    const std::int64_t R = tile_rows_, C = tile_cols_, rb = range_.begin, n = range_.n;
    const std::int64_t nb = tiling::blocks(range_.end - rb, R), nc = tiling::blocks(n - rb, C);
    units_.clear();
    for (std::int64_t bi = 0; bi < nb; ++bi)
      for (std::int64_t cj = tiling::first_chunk(bi, R, C); cj < nc; ++cj)
        units_.emplace_back(bi, cj);
    scan_plan p;
    p.units = static_cast<std::int64_t>(units_.size());
    p.batch_units = static_cast<std::int64_t>(threads_) * 16;
    p.geometry = "tiles=" + std::to_string(R) + "x" + std::to_string(C) +
                 " rows=" + std::to_string(rb) + ".." + std::to_string(range_.end);
    p.rows_upto = [this](std::int64_t u) {
      return std::min(range_.n, range_.begin + (units_[u].second + 1) * tile_cols_);
    };
    p.pairs = [this](std::int64_t u) {
      std::int64_t r0, c0, m, w;
      unit_box(u, &r0, &c0, &m, &w);
      return tiling::box_pairs(r0, r0 + m, c0, c0 + w);
    };
    return p;
  }

  // First-pass rows [from, to) from the views (fp32 of one view: the view's rows serve as
  // they are).
  void rows_ready_(std::int64_t from, std::int64_t to) override {
    if (fp_.view_rows) return;
#pragma omp parallel num_threads(threads_)
    {
      std::vector<float> row(static_cast<std::size_t>(fp_.k));
#pragma omp for schedule(static)
      for (std::int64_t i = from; i < to; ++i) fill_first_pass_row(fp_, *pb_, i, row.data());
    }
  }

  void submit_(const scan_batch& batch) override;

 private:
  // Rows [r0, r0 + m) x columns [c0, c0 + w) of unit u.
  void unit_box(std::int64_t u, std::int64_t* r0, std::int64_t* c0, std::int64_t* m,
                std::int64_t* w) const {
    *r0 = range_.begin + units_[u].first * tile_rows_;
    *c0 = range_.begin + units_[u].second * tile_cols_;
    *m = std::min(tile_rows_, range_.end - *r0);
    *w = std::min(tile_cols_, range_.n - *c0);
  }

  // Per-thread scratch: the tile, its flags and the GEMM primitives.
  struct worker {
    worker(precision prec, std::int64_t k, std::int64_t R, std::int64_t C)
        : stream(cpu_engine()),
          gemm(prec, k),
          tile_i32(prec == precision::int8 ? R * C : 0),
          tile_f32(prec == precision::int8 ? 0 : R * C),
          flag(C) {}
    dnnl::stream stream;
    tile_gemm gemm;
    std::vector<std::int32_t> tile_i32;
    std::vector<float> tile_f32;
    std::vector<std::uint8_t> flag;
  };
  std::int64_t score_unit(std::int64_t u, worker& w, std::vector<edge>& out) const;

  const score_problem* pb_ = nullptr;
  scan_range range_;
  std::int64_t tile_rows_ = defaults::tile_rows, tile_cols_ = defaults::tile_cols;
  int threads_ = 1;
  precision prec_ = precision::fp32;
  first_pass fp_;
  std::vector<std::pair<std::int64_t, std::int64_t>> units_;  // (row block, column chunk)
};

// Score unit u: the tile's GEMM, the first-pass threshold while it is hot, the exact re-check
// of its candidates. Appends edges to `out`; returns the candidates.
std::int64_t cpu_backend::score_unit(std::int64_t u, worker& wk, std::vector<edge>& out) const {
  const score_problem& pb = *pb_;
  const std::int64_t n = range_.n, K = fp_.k;
  std::int64_t r0, c0, m, w;
  unit_box(u, &r0, &c0, &m, &w);
  const char* base = static_cast<const char*>(fp_.rows());
  const std::size_t row_bytes = static_cast<std::size_t>(K) * fp_.elem();
  const bool int8 = prec_ == precision::int8;
  void* tile = int8 ? static_cast<void*>(wk.tile_i32.data()) : wk.tile_f32.data();
  wk.gemm.run(wk.stream, m, w, base + (r0 - range_.begin) * row_bytes,
              base + (c0 - range_.begin) * row_bytes, tile);
  std::int64_t cand = 0;
  for (std::int64_t r = 0; r < m; ++r) {
    const std::int64_t i = r0 + r;
    std::int64_t lo, hi;
    tiling::row_span(i, c0, tile_cols_, n, &lo, &hi);
    if (hi <= lo) continue;
    const std::int64_t len = hi - lo, off = lo - c0;
    const bool any =
        int8 ? flag_int8(wk.tile_i32.data() + r * w + off, len, fp_.scale[i], fp_.rnorm[i],
                         fp_.err[i], fp_.scale.data() + lo, fp_.err.data() + lo,
                         fp_.qnorm.data() + lo, fp_.cut, wk.flag.data())
             : flag_f32(wk.tile_f32.data() + r * w + off, len, fp_.cut, wk.flag.data());
    if (!any) continue;
    for (std::int64_t t = 0; t < len; ++t) {
      if (!wk.flag[t]) continue;
      ++cand;
      const std::int64_t j = lo + t;
      double se = NAN, sa = NAN;
      const view_matrix* E = pb.embedding;
      const view_matrix* A = pb.activity;
      if (!decide_pair(
              pb.params, [&] { return E->valid[i] && E->valid[j]; },
              [&] { return exact_similarity(*E, i, j); },
              [&] { return A->valid[i] && A->valid[j]; },
              [&] { return exact_similarity(*A, i, j); }, &se, &sa))
        continue;
      out.push_back({i, j, static_cast<float>(se), static_cast<float>(sa)});
    }
  }
  return cand;
}

// The batch's units on all threads; each unit's edges go to the handler as it finishes.
void cpu_backend::submit_(const scan_batch& batch) {
  std::exception_ptr failure;
  std::mutex mu;
  std::atomic<bool> halt{false};  // a failure, or more edges than the scan may keep
  const std::int64_t count = static_cast<std::int64_t>(batch.units.size());
#pragma omp parallel num_threads(threads_)
  {
    std::vector<edge> found;
    std::unique_ptr<worker> wk;
    auto fail = [&] {
      std::lock_guard<std::mutex> lock(mu);
      if (!failure) failure = std::current_exception();
      halt = true;
    };
    try {
      wk = std::make_unique<worker>(prec_, fp_.k, tile_rows_, tile_cols_);
    } catch (...) {
      fail();
    }
    // every thread reaches the loop (a worksharing construct): none may leave by an exception
#pragma omp for schedule(dynamic, 1)
    for (std::int64_t k = 0; k < count; ++k) {
      if (halt.load(std::memory_order_relaxed) || !wk) continue;
      try {
        const std::int64_t u = batch.units[k];
        const std::int64_t cand = score_unit(u, *wk, found);
        if (!batch.results->add_edges(batch.id, found)) halt = true;  // --max-edges: stop
        batch.results->unit_done(batch.id, u, cand);
      } catch (...) {
        fail();
      }
    }
  }
  if (!failure) return;
  try {
    std::rethrow_exception(failure);
  } catch (const chorus::error&) {
    throw;
  } catch (const dnnl::error& e) {
    CHORUS_THROW(runtime_failure, "oneDNN matmul failed: ", e.what());
  } catch (const std::bad_alloc&) {
    CHORUS_THROW(runtime_failure, "out of host memory while scoring tiles");
  }
}

}  // namespace

double exact_similarity(const view_matrix& v, std::int64_t i, std::int64_t j) {
  return cosine_of(dot_f64(v.row(i), v.row(j), v.d), v.inv_norm[i], v.inv_norm[j]);
}

std::unique_ptr<backend> make_cpu_backend() { return std::make_unique<cpu_backend>(); }

}  // namespace chorus
