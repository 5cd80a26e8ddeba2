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
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>

#include "chorus/scan/backend.hpp"
#include "chorus/core/bf16.hpp"
#include "chorus/scan/checkpoint.hpp"
#include "chorus/io/edge_store.hpp"
#include "chorus/core/error.hpp"
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
  fp.threshold = mode == view_mode::activity ? pb.params.threshold_activity : pb.params.threshold;
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

  std::vector<edge> find_edges(const score_problem& pb, const score_options& opt,
                               score_stats& stats) override {
    const auto t0 = std::chrono::steady_clock::now();
    const auto& P = pb.params;
    CHORUS_EXPECTS(opt.tile_rows > 0 && opt.tile_cols > 0 && opt.tile_cols % opt.tile_rows == 0,
                   "tile columns must be a positive multiple of tile rows");
    const bool need_e = P.mode != view_mode::activity;
    const bool need_a = P.mode != view_mode::embedding;
    CHORUS_EXPECTS(!need_e || (pb.embedding && pb.embedding->present()),
                   "this view mode needs the embedding view");
    CHORUS_EXPECTS(!need_a || (pb.activity && pb.activity->present()),
                   "this view mode needs the activity view");
    const std::int64_t n = pb.n();
    const std::int64_t rb = std::min(std::max<std::int64_t>(opt.row_begin, 0), n);
    const std::int64_t re = opt.row_end < 0 ? n : std::min(std::max(opt.row_end, rb), n);
    CHORUS_EXPECTS((!need_e || pb.embedding->first <= rb) && (!need_a || pb.activity->first <= rb),
                   "the views do not hold the rows this run decides");

    precision prec = opt.prec;
    std::string why;
    if (prec == precision::automatic) {
      prec = (has_fast_int8() && int8_exact_here()) ? precision::int8 : precision::fp32;
    }
    if (prec == precision::int8 && !int8_exact_here())
      CHORUS_THROW(input_error,
                   "--precision int8 is not exact with this CPU's oneDNN kernels; use fp32");
    stats.used = prec;
    stats.pairs = tiling::rows_pairs(rb, re, n);
    stats.detail = std::string("oneDNN ") + std::to_string(dnnl::version()->major) + "." +
                   std::to_string(dnnl::version()->minor) + " " + to_string(prec) +
                   (has_fast_int8() ? " (VNNI)" : "");
    std::vector<edge> edges;
    if (stats.pairs == 0) return edges;

    // Tiles over rows [rb, re) x columns [rb, n): the triangle's tiling shifted by rb.
    first_pass fp = prepare_first_pass(pb, prec, rb);
    const std::int64_t R = opt.tile_rows, C = opt.tile_cols, K = fp.k;
    const std::int64_t nb = tiling::blocks(re - rb, R), nc = tiling::blocks(n - rb, C);
    std::vector<std::pair<std::int64_t, std::int64_t>> units;
    units.reserve(static_cast<std::size_t>(tiling::units(n, R, C)));
    for (std::int64_t bi = 0; bi < nb; ++bi)
      for (std::int64_t cj = tiling::first_chunk(bi, R, C); cj < nc; ++cj)
        units.emplace_back(bi, cj);
    const std::int64_t nunits = static_cast<std::int64_t>(units.size());
    auto unit_pairs = [&](std::int64_t u) {
      const std::int64_t r0 = rb + units[u].first * R, c0 = rb + units[u].second * C;
      std::int64_t p = 0;
      for (std::int64_t i = r0; i < std::min(re, r0 + R); ++i) {
        std::int64_t lo, hi;
        tiling::row_span(i, c0, C, n, &lo, &hi);
        p += hi - lo;
      }
      return p;
    };

    // Checkpoints: completed units and their edges, persisted between batches of units.
    std::unique_ptr<checkpoint> ckpt;
    checkpoint_state cstate;
    std::vector<std::uint8_t> done(nunits, 0);
    std::int64_t done_pairs_resumed = 0;
    if (!opt.checkpoint_dir.empty()) {
      ckpt = std::make_unique<checkpoint>(opt.checkpoint_dir,
                                          opt.identity + " tiles=" + std::to_string(R) + "x" +
                                              std::to_string(C) + " rows=" + std::to_string(rb) +
                                              ".." + std::to_string(re),
                                          nunits);
      std::vector<edge> resumed;
      if (ckpt->resume(cstate, resumed, opt.resume)) {
        done = cstate.done;
        if (opt.sink)
          opt.sink->append(resumed);
        else
          edges = std::move(resumed);
        for (std::int64_t u = 0; u < nunits; ++u)
          if (done[u]) ++stats.resumed_units, done_pairs_resumed += unit_pairs(u);
      }
    }
    std::vector<std::int64_t> todo;
    for (std::int64_t u = 0; u < nunits; ++u)
      if (!done[u]) todo.push_back(u);
    const int nthreads = std::max(1, opt.threads > 0 ? opt.threads : omp_get_max_threads());
    // Views still arriving (the reader overlaps scoring): units in column order, so that each
    // batch needs only the rows up to its last column chunk; its first-pass rows are filled when
    // they arrive. Otherwise every first-pass row is filled now.
    const row_feed* feed = pb.feed && pb.feed->ready() < n ? pb.feed : nullptr;
    std::int64_t filled = rb, need = rb;  // first-pass rows [rb, filled) are filled
    if (feed) {
      std::stable_sort(todo.begin(), todo.end(), [&](std::int64_t a, std::int64_t b) {
        return units[a].second < units[b].second;
      });
    } else if (!fp.view_rows) {  // (fp32 of one view: the view's rows serve as they are)
#pragma omp parallel num_threads(nthreads)
      {
        std::vector<float> row(static_cast<std::size_t>(K));
#pragma omp for schedule(static)
        for (std::int64_t i = rb; i < n; ++i) fill_first_pass_row(fp, pb, i, row.data());
      }
    }
    if (!feed) filled = n;

    std::atomic<std::int64_t> total_cand{0}, done_pairs{done_pairs_resumed};
    std::int64_t kept_edges = static_cast<std::int64_t>(opt.sink ? opt.sink->size() : edges.size());
    const std::size_t batch = static_cast<std::size_t>(nthreads) * 16;
    std::exception_ptr failure;
    std::mutex mu;
    bool halt = false;          // uniform across threads: set inside `single` only
    bool read_failed = false;   // no rows to come: the reader failed, or a stop while waiting
    bool interrupted = false;   // a stop signal arrived
    std::vector<edge> pending;  // edges since the last checkpoint
    std::vector<std::int64_t> pending_units;
    auto last_ckpt = std::chrono::steady_clock::now();
    auto last_report = last_ckpt;

#pragma omp parallel num_threads(nthreads)
    {
      const int tid = omp_get_thread_num();
      std::vector<edge> local;
      std::vector<std::int64_t> local_units;
      dnnl::stream stream(cpu_engine());
      tile_gemm gemm(prec, K);
      std::vector<std::int32_t> tile_i32(prec == precision::int8 ? R * C : 0);
      std::vector<float> tile_f32(prec == precision::int8 ? 0 : R * C);
      std::vector<std::uint8_t> flag(C);
      const char* base = static_cast<const char*>(fp.rows());
      const std::size_t row_bytes = static_cast<std::size_t>(K) * fp.elem();
      std::vector<float> fill_row(feed ? static_cast<std::size_t>(K) : 0);
      for (std::size_t pos = 0; pos < todo.size(); pos += batch) {
        if (halt) break;
        const std::size_t end = std::min(todo.size(), pos + batch);
        if (feed) {
#pragma omp single
          {
            for (std::size_t k = pos; k < end; ++k)
              need = std::max(need, std::min(n, rb + (units[todo[k]].second + 1) * C));
            try {
              // the reader's failure (a bad row) ends the run; so does a stop signal
              if (!wait_rows(feed, need, stop_requested)) {
                interrupted = true;
                need = filled;
                read_failed = true;
              }
            } catch (...) {
              failure = std::current_exception();
              need = filled;
              read_failed = true;  // not `halt`: threads may still be reading it above
            }
          }
          if (read_failed) break;
#pragma omp for schedule(static)
          for (std::int64_t i = filled; i < need; ++i)
            fill_first_pass_row(fp, pb, i, fill_row.data());
#pragma omp single
          filled = need;
        }
#pragma omp for schedule(dynamic, 1)
        for (std::size_t k = pos; k < end; ++k) {
          if (stop_requested()) continue;  // abandon units not started; a checkpoint follows
          try {
            const std::int64_t u = todo[k];
            const std::int64_t r0 = rb + units[u].first * R, c0 = rb + units[u].second * C;
            const std::int64_t m = std::min(R, re - r0), w = std::min(C, n - c0);
            void* out = prec == precision::int8 ? static_cast<void*>(tile_i32.data())
                                                : static_cast<void*>(tile_f32.data());
            gemm.run(stream, m, w, base + (r0 - rb) * row_bytes, base + (c0 - rb) * row_bytes, out);
            std::int64_t cand = 0, pairs = 0;
            for (std::int64_t r = 0; r < m; ++r) {
              const std::int64_t i = r0 + r;
              std::int64_t lo, hi;
              tiling::row_span(i, c0, C, n, &lo, &hi);
              if (hi <= lo) continue;
              pairs += hi - lo;
              const std::int64_t len = hi - lo, off = lo - c0;
              bool any;
              if (prec == precision::int8) {
                any = flag_int8(tile_i32.data() + r * w + off, len, fp.scale[i], fp.rnorm[i],
                                fp.err[i], fp.scale.data() + lo, fp.err.data() + lo,
                                fp.qnorm.data() + lo, fp.cut, flag.data());
              } else {
                any = flag_f32(tile_f32.data() + r * w + off, len, fp.cut, flag.data());
              }
              if (!any) continue;
              for (std::int64_t t = 0; t < len; ++t) {
                if (!flag[t]) continue;
                ++cand;
                const std::int64_t j = lo + t;
                double se = NAN, sa = NAN;
                if (need_e) {
                  if (!pb.embedding->valid[i] || !pb.embedding->valid[j]) continue;
                  se = exact_similarity(*pb.embedding, i, j);
                  if (P.mode == view_mode::both && se < P.threshold) continue;
                }
                if (need_a) {
                  if (!pb.activity->valid[i] || !pb.activity->valid[j]) continue;
                  sa = exact_similarity(*pb.activity, i, j);
                }
                if (!decide(P, se, sa)) continue;
                local.push_back({i, j, static_cast<float>(se), static_cast<float>(sa)});
              }
            }
            local_units.push_back(u);
            if (opt.sink && !ckpt) {  // no checkpoint to keep consistent: hand edges over now
              std::lock_guard<std::mutex> lock(mu);
              opt.sink->append(local);
              kept_edges += static_cast<std::int64_t>(local.size());
              local.clear();
            }
            total_cand += cand;
            done_pairs += pairs;
            if (tid == 0 && opt.progress) {
              auto now = std::chrono::steady_clock::now();
              if (now - last_report > std::chrono::milliseconds(200)) {
                last_report = now;
                opt.progress(done_pairs.load(), stats.pairs);
              }
            }
          } catch (...) {
            std::lock_guard<std::mutex> lock(mu);
            if (!failure) failure = std::current_exception();
          }
        }
        {
          std::lock_guard<std::mutex> lock(mu);
          pending.insert(pending.end(), local.begin(), local.end());
          pending_units.insert(pending_units.end(), local_units.begin(), local_units.end());
        }
        local.clear();
        local_units.clear();
#pragma omp barrier
#pragma omp single
        {
          kept_edges += static_cast<std::int64_t>(pending.size());
          const bool over = kept_edges > opt.max_edges;
          interrupted = stop_requested();
          const bool last = end == todo.size();
          bool saved = false;
          if (ckpt && !failure && !over &&
              (interrupted || last ||
               std::chrono::duration<double>(std::chrono::steady_clock::now() - last_ckpt)
                       .count() >= opt.checkpoint_interval)) {
            try {
              std::sort(pending_units.begin(), pending_units.end());
              ckpt->save(cstate, pending_units, pending);
              ++stats.checkpoints;
              saved = true;
              last_ckpt = std::chrono::steady_clock::now();
            } catch (...) {
              if (!failure) failure = std::current_exception();
            }
          }
          if (!ckpt || saved) {  // persisted (or nothing is kept): the edges join the result
            try {
              if (opt.sink)
                opt.sink->append(pending);
              else
                edges.insert(edges.end(), pending.begin(), pending.end());
            } catch (...) {
              if (!failure) failure = std::current_exception();
            }
            std::vector<edge>().swap(pending);
            pending_units.clear();
          }
          halt = failure || over || interrupted;
        }
      }
    }
    if (failure) {
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
    if (kept_edges > opt.max_edges) throw_too_many_edges(opt.max_edges);
    if (interrupted) throw_interrupted(done_pairs.load(), stats.pairs, ckpt != nullptr);
    if (opt.progress) opt.progress(stats.pairs, stats.pairs);
    std::sort(edges.begin(), edges.end(), [](const edge& a, const edge& b) {
      return a.src != b.src ? a.src < b.src : a.dst < b.dst;
    });
    stats.candidates = total_cand.load();
    stats.edges = static_cast<std::int64_t>(opt.sink ? opt.sink->size() : edges.size());
    stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return edges;
  }
};

}  // namespace

double exact_similarity(const view_matrix& v, std::int64_t i, std::int64_t j) {
  // a cosine lies in [-1, 1]; rounding may overshoot by ~1e-16 (duplicates, opposite rows)
  const double r = dot_f64(v.row(i), v.row(j), v.d) * v.inv_norm[i] * v.inv_norm[j];
  return r > 1.0 ? 1.0 : r < -1.0 ? -1.0 : r;
}

std::unique_ptr<backend> make_cpu_backend() { return std::make_unique<cpu_backend>(); }

}  // namespace chorus
