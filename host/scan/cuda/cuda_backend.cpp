// chorus: the CUDA backend. Resident views on one device; upper-triangle tiles through cuBLAS
// (fp32 or bf16 with fp32 accumulation on tensor cores); a threshold kernel compacts the
// candidates of each tile; a re-check kernel decides them exactly in float64 and unions the
// edges in a device union-find as they arrive.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <memory>

#include "chorus/scan/backend.hpp"
#include "chorus/scan/checkpoint.hpp"
#include "chorus/io/edge_store.hpp"
#include "chorus/core/error.hpp"
#include "chorus/scan/fused_tile.hpp"
#include "chorus/scan/margin.hpp"
#include "chorus/scan/tiling.hpp"
#include "cuda_check.hpp"
#include "kernels.hpp"

namespace chorus {
namespace {

using cuda::device_buffer;

// One view's rows for a block on the device.
struct view_block {
  device_buffer<float> rows;
  device_buffer<double> inv_norm;
  device_buffer<std::uint8_t> valid;
  std::int64_t d = 0;
  void allocate(std::int64_t rows_cap, std::int64_t dim) {
    d = dim;
    rows.resize(static_cast<std::size_t>(rows_cap * dim));
    inv_norm.resize(rows_cap);
    valid.resize(rows_cap);
  }
};

// Pinned host staging for one view's rows on their way to the device.
struct view_stage {
  cuda::pinned_buffer<float> rows;
  cuda::pinned_buffer<double> inv;
  cuda::pinned_buffer<std::uint8_t> valid;
  void allocate(std::int64_t n_rows, std::int64_t dim) {
    rows = cuda::pinned_buffer<float>(static_cast<std::size_t>(n_rows * dim));
    inv = cuda::pinned_buffer<double>(n_rows);
    valid = cuda::pinned_buffer<std::uint8_t>(n_rows);
  }
};

// A staging slot: both views' rows for one chunk, and the event that marks its copies done.
struct stage_slot {
  view_stage emb, act;
  cuda::event copied;
  bool used = false;
};

// A block of rows [row0, row0 + count) resident on the device: the first-pass rows and the
// views the exact re-check needs. Loads go through two pinned staging slots on a copy stream, so
// that the next block streams in while the current one is being scored (double buffering).
struct block {
  std::int64_t row0 = -1, count = 0;
  device_buffer<char> fp;  // first-pass rows (empty when the fp32 view rows serve)
  // int8 first pass: per-row scale and margin bounds (chorus/scan/quantize.hpp), [4][count]
  device_buffer<float> q8;
  const float* q8_part(int k) const { return q8.data() + static_cast<std::size_t>(k) * count; }
  view_block emb, act;
  cuda::event loaded, released;  // copies done; last kernel reading it done
  bool used = false;

  cuda::device_view view(const view_block& v) const {
    return {v.rows.data(), v.inv_norm.data(), v.valid.data(), v.d, row0};
  }
};

// The per-run layout: what a block holds and how wide its rows are.
struct layout {
  std::int64_t K = 0;       // first-pass width
  std::int64_t ld = 0;      // first-pass row stride in elements (>= K; zero-padded)
  std::uint64_t elem = 4;   // bytes per first-pass element
  bool fp_is_view = false;  // fp32 first pass of a single view: the view rows serve
  bool need_e = false, need_a = false;
  precision prec = precision::fp32;
  std::uint64_t row_bytes() const;
  const view_matrix* fp_view = nullptr;
};

class streamer {
 public:
  // `tmp_rows`: rows of fp32 scratch for building bf16/int8 first-pass rows (0: none needed)
  streamer(const score_problem& pb, const layout& L, std::int64_t cap, std::int64_t tmp_rows)
      : pb_(pb), L_(L), cap_(cap), tmp_rows_(std::max<std::int64_t>(tmp_rows, 1)) {
    if (tmp_rows > 0) tmp_.resize(static_cast<std::size_t>(tmp_rows * L.ld));
    // two slots of chunk rows, used in turn: the host fills one while the other copies; no
    // pinned copy of a whole view is ever made
    slot_rows_ = std::max<std::int64_t>(1, std::min<std::int64_t>(cap, kSlotRows));
    for (auto& sl : slots_) {
      if (L.need_e) sl.emb.allocate(slot_rows_, pb.embedding->d);
      if (L.need_a) sl.act.allocate(slot_rows_, pb.activity->d);
    }
  }
  void allocate(block& b) const {
    if (!L_.fp_is_view) b.fp.resize(static_cast<std::size_t>(cap_ * L_.ld) * L_.elem);
    if (L_.prec == precision::int8) b.q8.resize(static_cast<std::size_t>(cap_) * 4);
    if (L_.need_e) b.emb.allocate(cap_, pb_.embedding->d);
    if (L_.need_a) b.act.allocate(cap_, pb_.activity->d);
  }
  // Make `b` hold rows [row0, row0 + count) once it is released (its last reader finished).
  void begin(block& b, std::int64_t row0, std::int64_t count) const {
    if (b.used) CHORUS_CUDA_TRY(cudaEventSynchronize(b.released.get()));  // its rows unread now
    b.row0 = row0;
    b.count = count;
    b.used = true;
  }
  // Stage view rows [r_from, r_to) of `b` on the host and copy them on `copy`; with `build`, also
  // build their first-pass rows there on the device (only the views cross PCIe). b.loaded marks
  // the end. Chunks of one block land in distinct places, so they may follow one another while
  // kernels read the rows before them. Without `build` the caller runs first_pass itself, on the
  // stream that will read the rows: a first-pass kernel queued on `copy` behind a persistent
  // kernel that holds every SM would hold up the copies queued after it.
  void load_rows(block& b, std::int64_t r_from, std::int64_t r_to, cudaStream_t copy,
                 bool build = true) {
    for (std::int64_t c0 = r_from; c0 < r_to; c0 += slot_rows_) {
      const std::int64_t c1 = std::min(r_to, c0 + slot_rows_);
      stage_slot& sl = slots_[static_cast<std::size_t>(next_slot_)];
      next_slot_ ^= 1;
      if (sl.used) CHORUS_CUDA_TRY(cudaEventSynchronize(sl.copied.get()));  // its copies done
      if (L_.need_e) stage(b.emb, sl.emb, *pb_.embedding, b.row0, c0, c1, copy);
      if (L_.need_a) stage(b.act, sl.act, *pb_.activity, b.row0, c0, c1, copy);
      sl.copied.record(copy);
      sl.used = true;
      if (build) first_pass(b, c0, c1, copy);
    }
    b.loaded.record(copy);
  }
  // Rows [row0, row0 + count) into `b`, whole.
  void load(block& b, std::int64_t row0, std::int64_t count, cudaStream_t copy) {
    begin(b, row0, count);
    load_rows(b, row0, row0 + count, copy);
  }
  // First-pass rows of a block on the device.
  const char* fp_rows(const block& b) const {
    if (!L_.fp_is_view) return b.fp.data();
    const view_block& v = L_.fp_view == pb_.activity ? b.act : b.emb;
    return reinterpret_cast<const char*>(v.rows.data());
  }

  // First-pass rows [r_from, r_to) of `b` from its view rows on the device, on stream `copy`
  // (which must see those view rows copied).
  void first_pass(block& b, std::int64_t r_from, std::int64_t r_to, cudaStream_t copy) {
    if (!L_.fp_is_view) {
      const auto& P = pb_.params;
      const float we = static_cast<float>(std::sqrt(P.weight));  // as first_pass_row
      const float wa = static_cast<float>(std::sqrt(1.0 - P.weight));
      const std::int64_t de = L_.need_e ? pb_.embedding->d : 0;
      const std::int64_t da = L_.need_a ? pb_.activity->d : 0;
      // fp32 rows need no scratch: one launch for the whole range
      const std::int64_t step = L_.prec == precision::fp32 ? r_to - r_from : tmp_rows_;
      for (std::int64_t c0 = r_from; c0 < r_to; c0 += step) {
        const std::int64_t rows = std::min(step, r_to - c0), at = c0 - b.row0;
        // fp32 rows straight into the block; bf16 and int8 through the scratch rows
        float* f32 = L_.prec == precision::fp32 ? reinterpret_cast<float*>(b.fp.data()) + at * L_.ld
                                                : tmp_.data();
        cuda::launch_first_pass_rows(L_.need_e ? b.emb.rows.data() + at * de : nullptr, de,
                                     L_.need_e ? b.emb.valid.data() + at : nullptr,
                                     L_.need_a ? b.act.rows.data() + at * da : nullptr, da,
                                     L_.need_a ? b.act.valid.data() + at : nullptr, P.mode, we, wa,
                                     rows, L_.ld, f32, copy);
        if (L_.prec == precision::bf16) {
          cuda::launch_to_bf16(tmp_.data(),
                               reinterpret_cast<std::uint16_t*>(b.fp.data()) + at * L_.ld,
                               rows * L_.ld, copy);
        } else if (L_.prec == precision::int8) {
          float* q8 = b.q8.data();
          const std::int64_t count = b.count;
          cuda::launch_quantize_rows_int8(
              tmp_.data(), rows, L_.ld, reinterpret_cast<std::int8_t*>(b.fp.data()) + at * L_.ld,
              q8 + at, q8 + count + at, q8 + 2 * count + at, q8 + 3 * count + at, copy);
        }
      }
    }
  }

 private:
  static constexpr std::int64_t kSlotRows = 8192;

  // Rows [r_from, r_to) (at most one slot) of view `m` through `h` into `v`, a block starting
  // at row `row0`.
  static void stage(view_block& v, view_stage& h, const view_matrix& m, std::int64_t row0,
                    std::int64_t r_from, std::int64_t r_to, cudaStream_t copy) {
    const std::int64_t at = r_from - row0, rows = r_to - r_from;
    std::memcpy(h.rows.data(), m.row(r_from), rows * m.d * sizeof(float));
    std::memcpy(h.inv.data(), m.inv_norm.data() + r_from, rows * sizeof(double));
    std::memcpy(h.valid.data(), m.valid.data() + r_from, rows);
    CHORUS_CUDA_TRY(cudaMemcpyAsync(v.rows.data() + at * m.d, h.rows.data(),
                                    rows * m.d * sizeof(float), cudaMemcpyHostToDevice, copy));
    CHORUS_CUDA_TRY(cudaMemcpyAsync(v.inv_norm.data() + at, h.inv.data(), rows * sizeof(double),
                                    cudaMemcpyHostToDevice, copy));
    CHORUS_CUDA_TRY(
        cudaMemcpyAsync(v.valid.data() + at, h.valid.data(), rows, cudaMemcpyHostToDevice, copy));
  }
  const score_problem& pb_;
  const layout& L_;
  std::int64_t cap_;
  std::int64_t tmp_rows_;
  device_buffer<float> tmp_;
  std::int64_t slot_rows_ = 1;
  stage_slot slots_[2];
  int next_slot_ = 0;
};

}  // namespace

class cuda_backend final : public backend {
 public:
  std::string name() const override { return "cuda"; }

  std::vector<edge> find_edges(const score_problem& pb, const score_options& opt,
                               score_stats& stats) override {
    const auto t0 = std::chrono::steady_clock::now();
    int devices = 0;
    if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
      cudaGetLastError();
      CHORUS_THROW(input_error,
                   "--backend cuda: no CUDA device is visible (no GPU, or the "
                   "driver is missing or too old); use --backend cpu");
    }
    CHORUS_EXPECTS(opt.device >= 0 && opt.device < devices, "--device ", opt.device,
                   " does not exist (", devices, " CUDA device(s) visible)");
    int driver = 0, runtime = 0;
    CHORUS_CUDA_TRY(cudaDriverGetVersion(&driver));
    CHORUS_CUDA_TRY(cudaRuntimeGetVersion(&runtime));
    CHORUS_EXPECTS(driver >= runtime, "--backend cuda: the NVIDIA driver supports CUDA ",
                   driver / 1000, ".", (driver % 1000) / 10, " but chorus was built with CUDA ",
                   runtime / 1000, ".", (runtime % 1000) / 10, "; update the driver");
    CHORUS_CUDA_TRY(cudaSetDevice(opt.device));
    cudaDeviceProp prop{};
    CHORUS_CUDA_TRY(cudaGetDeviceProperties(&prop, opt.device));

    precision prec = opt.prec == precision::automatic ? precision::bf16 : opt.prec;
    stats.used = prec;
    const std::int64_t n = pb.n();
    // this run's rows (one rank's share of a multi-process job): pairs i in [rb, re), j > i
    const std::int64_t rb = std::min(std::max<std::int64_t>(opt.row_begin, 0), n);
    const std::int64_t re = opt.row_end < 0 ? n : std::min(std::max(opt.row_end, rb), n);
    stats.pairs = tiling::rows_pairs(rb, re, n);
    stats.detail = std::string(prop.name) + " sm_" + std::to_string(prop.major) +
                   std::to_string(prop.minor) + ", cuBLAS " + to_string(prec);
    std::vector<edge> edges;
    if (stats.pairs == 0) return edges;

    const auto& P = pb.params;
    layout L;
    L.prec = prec;
    L.need_e = P.mode != view_mode::activity;
    L.need_a = P.mode != view_mode::embedding;
    L.K = first_pass_width(pb);
    // The fused kernel (bf16 tensor-core tiles with the threshold in registers) serves bf16 runs
    // whose rows stay resident; cuBLAS tiles + the threshold kernel serve the rest.
    // int8 runs only through the fused kernel (mma s8 with the per-pair margin in its epilogue)
    const bool want_fused =
        prec == precision::int8 || (prec == precision::bf16 && opt.kernel != gpu_kernel::cublas);
    CHORUS_EXPECTS(prec != precision::int8 || opt.kernel != gpu_kernel::cublas,
                   "--precision int8 on the CUDA backend needs the fused kernel; drop "
                   "--gpu-kernel cublas or use bf16");
    L.ld = prec == precision::int8 ? fused::padded_k_int8(L.K)
           : want_fused            ? fused::padded_k(L.K)
                                   : L.K;
    L.fp_is_view = prec == precision::fp32 && P.mode != view_mode::fused;
    L.fp_view = P.mode == view_mode::activity ? pb.activity : pb.embedding;
    L.elem = prec == precision::int8 ? 1 : prec == precision::bf16 ? 2 : 4;
    const std::int64_t K = L.K;
    std::uint64_t row_bytes = L.fp_is_view ? 0 : static_cast<std::uint64_t>(L.ld) * L.elem;
    if (prec == precision::int8) row_bytes += 4 * sizeof(float);  // scale and margin bounds
    if (L.need_e) row_bytes += static_cast<std::uint64_t>(pb.embedding->d) * 4 + 9;
    if (L.need_a) row_bytes += static_cast<std::uint64_t>(pb.activity->d) * 4 + 9;

    // Memory plan (as FAISS's tiled search does): the parent array, the tile with its candidate
    // and edge buffers, and the row blocks. All rows resident in one block when they fit;
    // otherwise three blocks (the row block, the column block being scored, and the next
    // column block streaming in).
    std::size_t free_b = 0, total_b = 0;
    CHORUS_CUDA_TRY(cudaMemGetInfo(&free_b, &total_b));
    std::uint64_t budget = static_cast<std::uint64_t>(static_cast<double>(free_b) * 0.92);
    if (opt.gpu_memory > 0) budget = std::min<std::uint64_t>(budget, opt.gpu_memory);
    // the parent array, and the fp32 scratch rows the device-side bf16/int8 first pass goes through
    const std::int64_t tmp_rows =
        L.fp_is_view || prec == precision::fp32 ? 0 : std::min<std::int64_t>(n - rb, 4096);
    const std::uint64_t fixed = static_cast<std::uint64_t>(n) * 8 +
                                static_cast<std::uint64_t>(tmp_rows) * L.ld * sizeof(float);
    std::int64_t T = 0, cap_rows = 0, nblocks_alloc = 0;
    std::uint64_t cand_cap = 0;
    for (std::int64_t t : {16384, 8192, 4096, 2048, 1024, 512, 256}) {
      const std::int64_t tt = std::min<std::int64_t>(t, std::max<std::int64_t>(n, 1));
      const std::uint64_t cap =
          std::min<std::uint64_t>(static_cast<std::uint64_t>(tt) * tt, 1u << 22);
      const std::uint64_t tiles =
          static_cast<std::uint64_t>(tt) * tt * 4 + cap * (sizeof(cuda::pair64) + sizeof(edge));
      if (fixed + tiles >= budget) continue;
      const std::uint64_t left = budget - fixed - tiles;
      if (static_cast<std::uint64_t>(n - rb) * row_bytes <= left) {
        T = tt, cand_cap = cap, cap_rows = n - rb, nblocks_alloc = 1;
        break;
      }
      const std::int64_t b = static_cast<std::int64_t>(left / (3 * row_bytes)) / tt * tt;
      if (b >= tt) {
        T = tt, cand_cap = cap, cap_rows = b, nblocks_alloc = 3;
        break;
      }
    }
    CHORUS_EXPECTS(T > 0, "--backend cuda: not even one tile fits the device memory budget of ",
                   budget / (1 << 20), " MiB (", (opt.gpu_memory ? "--gpu-memory" : "free memory"),
                   "); raise --gpu-memory or use --backend cpu");
    const bool fused_path = want_fused && nblocks_alloc == 1;
    CHORUS_EXPECTS(fused_path || prec != precision::int8,
                   "--precision int8 on the CUDA backend needs every row resident in device "
                   "memory (this job streams row blocks); use bf16, or more --gpu-memory");
    CHORUS_EXPECTS(fused_path || opt.checkpoint_dir.empty(),
                   "--checkpoint on the CUDA backend needs the fused kernel (bf16 or int8 with "
                   "every row resident in device memory); use --backend cpu for this job");
    CHORUS_EXPECTS(fused_path || opt.kernel != gpu_kernel::fused,
                   "--gpu-kernel fused needs --precision bf16 and every row resident in device "
                   "memory (this job streams row blocks); use --gpu-kernel cublas or auto");
    stats.detail += fused_path ? std::string(", fused ") + to_string(prec) + " tensor-core kernel"
                               : std::string(", cuBLAS tiles");
    stats.detail += nblocks_alloc == 1
                        ? ", resident"
                        : ", streamed in blocks of " + std::to_string(cap_rows) + " rows";

    cuda::stream s, copy;
    cuda::blas_handle blas(s.get());
    CHORUS_CUBLAS_TRY(
        cublasSetMathMode(blas.get(), CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION));
    streamer io(pb, L, cap_rows, tmp_rows);
    std::vector<block> blocks(static_cast<std::size_t>(nblocks_alloc));
    for (auto& b : blocks) io.allocate(b);

    // int8: the per-pair margin is applied in the kernel (margin::int8_score); kSlack here
    const double margin = prec == precision::int8 ? margin::kSlack
                          : prec == precision::fp32
                              ? margin::fp32_gemm(K)
                              : margin::bf16_gemm(K, 1.0 + 1e-5, 4 * margin::kU32);
    const float cut = static_cast<float>(first_pass_threshold(pb) - margin);

    device_buffer<std::int64_t> parent(n);
    cuda::launch_uf_init(parent.data(), n, s.get());
    device_buffer<float> tile(static_cast<std::size_t>(T) * T);
    device_buffer<cuda::pair64> cand(cand_cap);
    device_buffer<edge> tile_edges(cand_cap);
    device_buffer<unsigned long long> counters(2);  // [0] candidates, [1] edges of the tile
    cuda::pinned_buffer<unsigned long long> host_counters(2);

    const cudaDataType_t in_type = prec == precision::fp32 ? CUDA_R_32F : CUDA_R_16BF;
    const cublasComputeType_t compute =
        prec == precision::fp32 ? CUBLAS_COMPUTE_32F_PEDANTIC : CUBLAS_COMPUTE_32F;
    const float one = 1.0f, zero = 0.0f;
    std::int64_t done = 0, total_cand = 0;

    // Decide `hits` candidates exactly (float64 re-check kernel), union their edges on the device
    // and hand the edges to the host.
    // Run `launch` (a first-pass kernel that appends candidates to `cand` and counts them in
    // counters[0]) until its candidates fit: on overflow the buffers grow to the exact count and
    // it runs again, so nothing is dropped. Returns the number of candidates.
    auto find_candidates = [&](const auto& launch) {
      for (;;) {
        CHORUS_CUDA_TRY(
            cudaMemsetAsync(counters.data(), 0, 2 * sizeof(unsigned long long), s.get()));
        launch();
        CHORUS_CUDA_TRY(cudaMemcpyAsync(host_counters.data(), counters.data(),
                                        sizeof(unsigned long long), cudaMemcpyDeviceToHost,
                                        s.get()));
        s.sync();
        const unsigned long long hits = host_counters.data()[0];
        if (hits <= cand.size()) return static_cast<std::int64_t>(hits);
        cand.resize(hits);
        tile_edges.resize(hits);
      }
    };

    std::vector<edge>* hold = nullptr;  // set while checkpointing: edges not yet persisted
    auto take = [&](std::int64_t hits, block& bi, block& bj) {
      total_cand += hits;
      if (hits <= 0) return;
      cuda::launch_recheck(cand.data(), hits, bi.view(bi.emb), bj.view(bj.emb), bi.view(bi.act),
                           bj.view(bj.act), P, tile_edges.data(), counters.data() + 1,
                           parent.data(), s.get());
      CHORUS_CUDA_TRY(cudaMemcpyAsync(host_counters.data() + 1, counters.data() + 1,
                                      sizeof(unsigned long long), cudaMemcpyDeviceToHost, s.get()));
      s.sync();
      const std::size_t ne = static_cast<std::size_t>(host_counters.data()[1]);
      const std::size_t old = edges.size();
      if (static_cast<std::int64_t>(old + ne + (opt.sink ? opt.sink->size() : 0) +
                                    (hold ? hold->size() : 0)) > opt.max_edges)
        throw_too_many_edges(opt.max_edges);
      edges.resize(old + ne);
      if (ne)
        CHORUS_CUDA_TRY(cudaMemcpy(edges.data() + old, tile_edges.data(), ne * sizeof(edge),
                                   cudaMemcpyDeviceToHost));
      if (hold) {  // a checkpointed run: the edges wait for the next checkpoint
        hold->insert(hold->end(), edges.begin() + static_cast<std::ptrdiff_t>(old), edges.end());
        edges.resize(old);
      } else if (opt.sink) {  // hand the edges over; the store may spill them
        opt.sink->append(edges);
        edges.clear();
      }
    };

    // Score the tiles of block pair (I, J), I <= J, both resident.
    auto score_pair = [&](block& bi, block& bj) {
      CHORUS_CUDA_TRY(cudaStreamWaitEvent(s.get(), bi.loaded.get(), 0));
      CHORUS_CUDA_TRY(cudaStreamWaitEvent(s.get(), bj.loaded.get(), 0));
      const char* A = io.fp_rows(bi);
      const char* B = io.fp_rows(bj);
      const std::int64_t row_stop = std::min(bi.row0 + bi.count, re);
      for (std::int64_t r0 = bi.row0; r0 < row_stop; r0 += T) {
        for (std::int64_t c0 = bj.row0; c0 < bj.row0 + bj.count; c0 += T) {
          if (c0 + T <= r0 + 1) continue;  // tile entirely below the diagonal
          const std::int64_t m = std::min(T, row_stop - r0);
          const std::int64_t w = std::min(T, bj.row0 + bj.count - c0);
          // column-major C (m x w) = A^T B: A = rows r0.. (K x m), B = rows c0.. (K x w)
          CHORUS_CUBLAS_TRY(cublasGemmEx(
              blas.get(), CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(m), static_cast<int>(w),
              static_cast<int>(K), &one,
              A + static_cast<std::uint64_t>(r0 - bi.row0) * L.ld * L.elem, in_type,
              static_cast<int>(L.ld), B + static_cast<std::uint64_t>(c0 - bj.row0) * L.ld * L.elem,
              in_type, static_cast<int>(L.ld), &zero, tile.data(), CUDA_R_32F, static_cast<int>(m),
              compute, CUBLAS_GEMM_DEFAULT));
          take(find_candidates([&] {
                 cuda::launch_threshold_tile(tile.data(), m, w, r0, c0, n, cut, cand.data(),
                                             counters.data(), cand.size(), s.get());
               }),
               bi, bj);
          for (std::int64_t r = 0; r < m; ++r) {
            std::int64_t lo, hi;
            tiling::row_span(r0 + r, c0, w, n, &lo, &hi);
            done += hi - lo;
          }
          if (opt.progress) opt.progress(done, stats.pairs);
        }
      }
      bi.released.record(s.get());
      bj.released.record(s.get());
    };

    // the cuBLAS-tile paths (row-major tile order) need every row first
    if (!fused_path && !wait_rows(pb.feed, n, stop_requested))
      throw_interrupted(0, stats.pairs, false);
    if (fused_path) {
      // All rows resident; the fused kernel walks the trapezoid of 128 x 128 tiles in batches
      // (each batch's candidates are re-checked before the next, so the candidate buffer stays
      // bounded; a batch whose candidates overflow it re-runs with a buffer of the exact size).
      block& b0 = blocks[0];
      io.begin(b0, rb, n - rb);
      // Rows reach the device in chunks as the reader publishes them (pb.feed), while the
      // kernel scores the tiles of the rows already there: tiles run in column order, so a
      // batch needs the rows up to its last column tile only.
      std::unique_ptr<checkpoint> ckpt;
      std::int64_t staged = rb;  // rows [rb, staged) are staged and on their way
      std::int64_t built = rb;   // first-pass rows [rb, built) are queued on `s`
      auto stage_rows = [&](std::int64_t upto, bool block_for_rows) {
        constexpr std::int64_t kChunk = 1 << 16;
        upto = std::min(upto, n);
        while (staged < upto) {
          std::int64_t r1 = std::min(upto, staged + kChunk);
          if (pb.feed) {
            if (block_for_rows) {
              if (!wait_rows(pb.feed, r1, stop_requested))
                throw_interrupted(done, stats.pairs, ckpt != nullptr);
            } else {
              r1 = std::min(r1, pb.feed->ready());
              if (r1 <= staged) return;
            }
          }
          io.load_rows(b0, staged, r1, copy.get(), /*build=*/false);
          staged = r1;
        }
      };
      const std::int64_t nbr = tiling::blocks(re - rb, fused::kBM);
      const std::int64_t nbc = tiling::blocks(n - rb, fused::kBN);
      const std::int64_t tiles = fused::trap_tiles(nbr, nbc);
      const int grid = cuda::fused_grid(opt.device);
      // a checkpointed run's batches (its work units) must not depend on the device
      const std::int64_t batch =
          opt.checkpoint_dir.empty() ? std::max<std::int64_t>(grid, 1) * 64 : 16384;
      const std::int64_t nbatches = (tiles + batch - 1) / batch;
      const auto* rows = reinterpret_cast<const std::uint16_t*>(io.fp_rows(b0));
      checkpoint_state cst;
      std::vector<std::uint8_t> bdone(static_cast<std::size_t>(nbatches), 0);
      std::vector<edge> pending;
      std::vector<std::int64_t> pending_units;
      auto persisted = [&](std::vector<edge>& es) {  // edges that joined the result
        if (opt.sink) {
          opt.sink->append(es);
        } else {
          edges.insert(edges.end(), es.begin(), es.end());
        }
        es.clear();
      };
      if (!opt.checkpoint_dir.empty()) {
        ckpt = std::make_unique<checkpoint>(
            opt.checkpoint_dir,
            opt.identity + " cuda-fused batch=" + std::to_string(batch) +
                " order=columns rows=" + std::to_string(rb) + ".." + std::to_string(re),
            nbatches);
        std::vector<edge> resumed;
        if (ckpt->resume(cst, resumed, opt.resume)) {
          bdone = cst.done;
          for (auto d : bdone) stats.resumed_units += d;
          if (!resumed.empty()) {  // the resumed edges join the device union-find too
            device_buffer<edge> dr(resumed.size());
            CHORUS_CUDA_TRY(cudaMemcpy(dr.data(), resumed.data(), resumed.size() * sizeof(edge),
                                       cudaMemcpyHostToDevice));
            cuda::launch_uf_unite_edges(dr.data(), static_cast<std::int64_t>(resumed.size()),
                                        parent.data(), s.get());
            s.sync();
          }
          persisted(resumed);
        }
        hold = &pending;
      }
      auto last_ckpt = std::chrono::steady_clock::now();
      // rows the batch reads: up to the end of its last column tile
      const auto rows_upto = [&](std::int64_t t_last) {
        std::int64_t bi, bj;
        fused::col_tile(t_last, nbr, &bi, &bj);
        return rb + (bj + 1) * fused::kBN;
      };
      for (std::int64_t ub = 0; ub < nbatches; ++ub) {
        if (bdone[static_cast<std::size_t>(ub)]) continue;
        const std::int64_t t0 = ub * batch;
        const std::int64_t t1 = std::min(tiles, t0 + batch);
        const std::int64_t need = std::min(n, rows_upto(t1 - 1));
        stage_rows(need, true);
        CHORUS_CUDA_TRY(cudaStreamWaitEvent(s.get(), b0.loaded.get(), 0));
        if (need > built) {  // first-pass rows on the scoring stream, before the batch's kernel
          io.first_pass(b0, built, need, s.get());
          built = need;
        }
        take(find_candidates([&] {
               if (prec == precision::int8)
                 cuda::launch_fused_tiles_int8(
                     reinterpret_cast<const std::int8_t*>(io.fp_rows(b0)), b0.q8_part(0),
                     b0.q8_part(1), b0.q8_part(2), b0.q8_part(3), rb, re, n, L.ld, t0, t1, cut,
                     cand.data(), counters.data(), cand.size(), grid, s.get());
               else
                 cuda::launch_fused_tiles(rows, rb, re, n, L.ld, t0, t1, cut, cand.data(),
                                          counters.data(), cand.size(), grid, s.get());
               // while the kernel runs: stage the rows the reader already has
               if (ub + 1 < nbatches) stage_rows(rows_upto(std::min(tiles, t1 + batch) - 1), false);
             }),
             b0, b0);
        pending_units.push_back(ub);
        const bool stop = stop_requested();
        if (ckpt &&
            (stop || ub + 1 == nbatches ||
             std::chrono::duration<double>(std::chrono::steady_clock::now() - last_ckpt).count() >=
                 opt.checkpoint_interval)) {
          ckpt->save(cst, pending_units, pending);
          ++stats.checkpoints;
          persisted(pending);
          pending_units.clear();
          last_ckpt = std::chrono::steady_clock::now();
        }
        // progress: pairs (i, j) of the finished column tiles, a lower bound within one column
        std::int64_t bi, bj;
        fused::col_tile(t1 - 1, nbr, &bi, &bj);
        const std::int64_t cols = t1 == tiles ? n : std::min(n, rb + bj * fused::kBN);
        done = tiling::rows_pairs(rb, std::min(re, cols), cols);
        if (opt.progress) opt.progress(done, stats.pairs);
        if (stop) throw_interrupted(done, stats.pairs, ckpt != nullptr);
      }
      b0.released.record(s.get());
    } else if (nblocks_alloc == 1) {
      io.load(blocks[0], rb, n - rb, copy.get());
      score_pair(blocks[0], blocks[0]);
    } else {
      // blocks over rows [rb, n); row blocks only up to re. blocks[0]: the row block I;
      // blocks[1], blocks[2]: column blocks J, J+1 alternating
      const std::int64_t nb = tiling::blocks(n - rb, cap_rows);
      auto start = [&](std::int64_t b) { return rb + b * cap_rows; };
      auto count = [&](std::int64_t b) { return std::min(cap_rows, n - start(b)); };
      for (std::int64_t I = 0; I < nb && start(I) < re; ++I) {
        block& bi = blocks[0];
        io.load(bi, start(I), count(I), copy.get());
        score_pair(bi, bi);
        if (I + 1 >= nb) break;
        int cur = 1;
        io.load(blocks[cur], start(I + 1), count(I + 1), copy.get());
        for (std::int64_t J = I + 1; J < nb; ++J) {
          if (J + 1 < nb)  // prefetch the next column block while this one is scored
            io.load(blocks[3 - cur], start(J + 1), count(J + 1), copy.get());
          score_pair(bi, blocks[cur]);
          cur = 3 - cur;
        }
      }
    }
    cuda::launch_uf_flatten(parent.data(), n, s.get());
    device_buffer<std::int64_t> labels(n);
    stats.clusters = cuda::canonical_labels(parent.data(), n, labels.data(), s.get());
    stats.roots.resize(n);
    stats.labels.resize(n);
    CHORUS_CUDA_TRY(cudaMemcpyAsync(stats.roots.data(), parent.data(), n * sizeof(std::int64_t),
                                    cudaMemcpyDeviceToHost, s.get()));
    CHORUS_CUDA_TRY(cudaMemcpyAsync(stats.labels.data(), labels.data(), n * sizeof(std::int64_t),
                                    cudaMemcpyDeviceToHost, s.get()));
    s.sync();
    std::sort(edges.begin(), edges.end(), [](const edge& a, const edge& b) {
      return a.src != b.src ? a.src < b.src : a.dst < b.dst;
    });
    stats.candidates = total_cand;
    stats.edges = static_cast<std::int64_t>(opt.sink ? opt.sink->size() : edges.size());
    stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return edges;
  }
};

}  // namespace chorus

/// Entry point of libchorus_cuda.so, looked up with dlsym by chorus::make_cuda_backend().
extern "C" __attribute__((visibility("default"))) chorus::backend* chorus_make_cuda_backend_v1() {
  return new chorus::cuda_backend();
}
