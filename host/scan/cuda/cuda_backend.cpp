// chorus: the CUDA backend. Resident views on one device; upper-triangle tiles through cuBLAS
// (fp32 or bf16 with fp32 accumulation on tensor cores); a threshold kernel compacts the
// candidates of each tile; a re-check kernel decides them exactly in float64 and unions the
// edges in a device union-find as they arrive.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <deque>
#include <functional>
#include <limits>
#include <memory>

#include "chorus/core/error.hpp"
#include "chorus/scan/backend.hpp"
#include "chorus/scan/cutlass_table.hpp"
#include "chorus/scan/first_pass.hpp"
#include "chorus/scan/fused_tile.hpp"
#include "chorus/scan/gpu_plan.hpp"
#include "chorus/scan/margin.hpp"
#include "chorus/scan/tiling.hpp"
#include "cuda_check.hpp"
#include "kernels.hpp"
#ifndef CHORUS_HAVE_CUTLASS
#define CHORUS_HAVE_CUTLASS 0
#endif
#if CHORUS_HAVE_CUTLASS
#include "cutlass.hpp"
#endif

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
    for (std::int64_t c0 = r_from; c0 < r_to; c0 += slot_rows_)
      load_chunk(b, c0, std::min(r_to, c0 + slot_rows_), copy, build);
    b.loaded.record(copy);
  }
  // Rows [row0, row0 + count) into `b`, whole.
  void load(block& b, std::int64_t row0, std::int64_t count, cudaStream_t copy) {
    begin(b, row0, count);
    load_rows(b, row0, row0 + count, copy);
  }
  // Start loading `b` in the background: pump() stages it a chunk at a time between other work,
  // so that the host's staging and the copies overlap the kernels already queued.
  void start(block& b, std::int64_t row0, std::int64_t count) {
    finish();
    begin(b, row0, count);
    pending_ = &b;
    next_row_ = row0;
  }
  // Stage up to `chunks` chunks of the background load.
  void pump(int chunks) {
    for (; pending_ && chunks > 0; --chunks) {
      block& b = *pending_;
      const std::int64_t c1 = std::min(b.row0 + b.count, next_row_ + slot_rows_);
      load_chunk(b, next_row_, c1, copy_, true);
      next_row_ = c1;
      if (next_row_ >= b.row0 + b.count) {
        b.loaded.record(copy_);
        pending_ = nullptr;
      }
    }
  }
  // The background load, whole (its b.loaded is recorded after its last copy).
  void finish() { pump(std::numeric_limits<int>::max()); }
  bool loading(const block& b) const { return pending_ == &b; }
  void set_copy_stream(cudaStream_t s) { copy_ = s; }
  // First-pass rows of a block on the device.
  const char* fp_rows(const block& b) const {
    if (!L_.fp_is_view) return b.fp.data();
    const view_block& v = L_.fp_view == pb_.activity ? b.act : b.emb;
    return reinterpret_cast<const char*>(v.rows.data());
  }

  // First-pass rows [r_from, r_to) of `b` from its view rows on the device, on stream `copy`
  // (which must see those view rows copied).
  void first_pass(block& b, std::int64_t r_from, std::int64_t r_to, cudaStream_t copy) {
    if (L_.fp_is_view) return;
    const auto& P = pb_.params;
    const fused_weights fw = fused_row_weights(P.weight);  // as first_pass_row
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
                                   L_.need_a ? b.act.valid.data() + at : nullptr, P.mode, fw.we,
                                   fw.wa, rows, L_.ld, f32, copy);
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

 private:
  static constexpr std::int64_t kSlotRows = 8192;

  // One chunk [c0, c1) (at most a slot) through the next staging slot.
  void load_chunk(block& b, std::int64_t c0, std::int64_t c1, cudaStream_t copy, bool build) {
    stage_slot& sl = slots_[static_cast<std::size_t>(next_slot_)];
    next_slot_ ^= 1;
    if (sl.used) CHORUS_CUDA_TRY(cudaEventSynchronize(sl.copied.get()));  // its copies done
    if (L_.need_e) stage(b.emb, sl.emb, *pb_.embedding, b.row0, c0, c1, copy);
    if (L_.need_a) stage(b.act, sl.act, *pb_.activity, b.row0, c0, c1, copy);
    sl.copied.record(copy);
    sl.used = true;
    if (build) first_pass(b, c0, c1, copy);
  }

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
  block* pending_ = nullptr;  // the background load, if any
  std::int64_t next_row_ = 0;
  cudaStream_t copy_ = nullptr;
};

// One batch of first-pass candidates and their edges on the device. Two alternate: the device
// fills one while the host collects the other, so no host round trip stalls the device.
struct cand_slot {
  device_buffer<cuda::pair64> cand;
  device_buffer<edge> edges;
  device_buffer<unsigned long long> counters;  // [0] candidates counted, [1] edges written
  cuda::pinned_buffer<unsigned long long> host;
  std::unique_ptr<cuda::event> done;  // the counters reached `host` (made with the buffers: a
                                      // backend is constructed before any CUDA call)
  bool busy = false;
  void release() {
    cand = {}, edges = {}, counters = {}, host = {};
    done.reset();
    busy = false;
  }
  void allocate(std::uint64_t cap) {
    done = std::make_unique<cuda::event>();
    cand.resize(cap);
    edges.resize(cap);
    counters.resize(2);
    host = cuda::pinned_buffer<unsigned long long>(2);
  }
};

// Work queued on the device and not yet collected: a fused unit (tiles [t0, t1)) or one cuBLAS
// tile (rows r0.. x columns c0.. of blocks bi, bj), with what a re-run needs.
struct queued {
  enum class kind { fused, cutlass, tile };
  kind what = kind::tile;
  int slot = 0;
  std::int64_t batch = 0;
  scan_results* results = nullptr;
  std::int64_t unit = -1;  // a fused or CUTLASS unit reports unit_done when collected; -1: a tile
  std::int64_t t0 = 0, t1 = 0;
  block *bi = nullptr, *bj = nullptr;
  std::int64_t r0 = 0, c0 = 0, m = 0, w = 0;
};

}  // namespace

class cuda_backend final : public backend {
 public:
  std::string name() const override { return "cuda"; }

 protected:
  void configure_(const score_problem& pb, const score_options& opt, const scan_range& range,
                  score_stats& stats) override;
  scan_plan plan_() override;
  void rows_ready_(std::int64_t from, std::int64_t to) override;
  void absorb_(const std::vector<edge>& edges) override;
  void submit_(const scan_batch& batch) override;
  void collect_() override;
  void finish_(score_stats& stats) override;

 private:
  using path = gpu_plan::path;
  static constexpr std::int64_t kFusedUnitTiles = 16384;  // 128 x 128 tiles per fused unit
  void memory_plan();
  void release_scan();
  void release();
  void allocate();
  bool stopping() const { return opt_->stop && opt_->stop(); }
  cand_slot& free_slot();
  void queue_fused(cand_slot& sl, const queued& q);
  void queue_cutlass(cand_slot& sl, const queued& q);
  void choose_kernel(const cudaDeviceProp& prop, precision prec);
  void queue_tile(cand_slot& sl, const queued& q);
  void push(queued q);
  void collect_one();
  void drain() {
    while (!pending_.empty()) collect_one();
  }
  void redo_split(const queued& q, cand_slot& sl, std::uint64_t hits);
  void recheck(cand_slot& sl, const queued& q, std::int64_t hits);
  void fetch_edges(const queued& q, cand_slot& sl, std::uint64_t ne);
  void gemm(const block& bi, const block& bj, std::int64_t r0, std::int64_t c0, std::int64_t m,
            std::int64_t w);
  void score_tiles(block& bi, block& bj, std::int64_t r_from, std::int64_t r_to);
  void score_row_block(std::int64_t I);
  block& hold(int slot, std::int64_t b);
  std::int64_t block_start(std::int64_t b) const { return range_.begin + b * plan_mem_.block_rows; }
  std::int64_t block_count(std::int64_t b) const {
    return std::min(plan_mem_.block_rows, range_.n - block_start(b));
  }

  const score_problem* pb_ = nullptr;
  const score_options* opt_ = nullptr;
  score_stats* stats_ = nullptr;
  scan_range range_;
  layout L_;
  bool want_fused_ = false;  // a kernel with the threshold inside (fused or CUTLASS) may serve
  bool cutlass_ = false;     // the CUTLASS sm_90 kernel serves
  int variant_ = -1;         // its variant
  std::int64_t side_ = fused::kBM;  // rows of a box: a tile of the fused kernel, a CUTLASS launch
  device_buffer<char> kernel_ws_;   // the CUTLASS kernel's workspace
  gpu_plan plan_mem_;
  float cut_ = 0;
  int grid_ = 1;
  std::int64_t fused_batch_ = 1, fused_tiles_ = 0, nbr_ = 0;  // fused: tiles per unit, tiles
  std::unique_ptr<cuda::stream> s_, copy_, d2h_;
  std::unique_ptr<cuda::blas_handle> blas_;
  device_buffer<char> blas_ws_;
  std::unique_ptr<streamer> io_;
  std::unique_ptr<stream_schedule> sched_;  // streamed path
  std::vector<block> blocks_;
  device_buffer<std::int64_t> parent_;
  device_buffer<float> tile_;  // cuBLAS paths only
  cand_slot slots_[2];
  int next_slot_ = 0;
  std::deque<queued> pending_;        // queued on the device, oldest first
  std::vector<edge> found_;           // host copy of collected edges
  std::int64_t unit_candidates_ = 0;  // of the cuBLAS unit being scored
  queued tile_batch_;                 // the batch the cuBLAS unit being scored belongs to
  bool halt_ = false;                 // the scan has more edges than it may keep
};

void cuda_backend::configure_(const score_problem& pb, const score_options& opt,
                              const scan_range& range, score_stats& stats) {
  pb_ = &pb;
  opt_ = &opt;
  stats_ = &stats;
  range_ = range;
  halt_ = false;
  pending_.clear();
  next_slot_ = 0;
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
  const precision prec = opt.prec == precision::automatic ? precision::bf16 : opt.prec;
  stats.used = prec;
  stats.detail = std::string(prop.name) + " sm_" + std::to_string(prop.major) +
                 std::to_string(prop.minor) + ", cuBLAS " + to_string(prec);
  // The fused kernel (bf16 tensor-core tiles with the threshold in registers) serves bf16 runs
  // whose rows stay resident; cuBLAS tiles + the threshold kernel serve the rest.
  // int8 runs only through the fused kernel (mma s8 with the per-pair margin in its epilogue)
  want_fused_ =
      prec == precision::int8 || (prec == precision::bf16 && opt.kernel != gpu_kernel::cublas);
  CHORUS_EXPECTS(prec != precision::int8 || opt.kernel != gpu_kernel::cublas,
                 "--precision int8 on the CUDA backend needs the fused kernel; drop "
                 "--gpu-kernel cublas or use bf16");
  choose_kernel(prop, prec);
  const auto mode = pb.params.mode;
  L_ = layout{};
  L_.prec = prec;
  L_.need_e = pb.uses_embedding();
  L_.need_a = pb.uses_activity();
  L_.K = first_pass_width(pb);
  // CUTLASS's TMA loads take rows of a multiple of 64 elements (as int8 rows always are)
  L_.ld = prec == precision::int8 ? fused::padded_k_int8(L_.K)
          : cutlass_              ? (L_.K + 63) / 64 * 64
          : want_fused_           ? fused::padded_k(L_.K)
                                  : L_.K;
#if CHORUS_HAVE_CUTLASS
  if (cutlass_) {
    const char* name = cutlass_table::variant_for(L_.K, prec == precision::int8);
    for (int v = 0; v < cuda::cutlass_variant_count(); ++v)
      if (name && std::strcmp(cuda::cutlass_variant_name(v), name) == 0) variant_ = v;
    CHORUS_ENSURES(variant_ >= 0, "the CUTLASS variant '", name ? name : "", "' is not built");
  }
#endif
  L_.fp_is_view = prec == precision::fp32 && mode != view_mode::fused;
  L_.fp_view = mode == view_mode::activity ? pb.activity : pb.embedding;
  L_.elem = prec == precision::int8 ? 1 : prec == precision::bf16 ? 2 : 4;
}

// The CUTLASS kernel serves bf16 and int8 on sm_90 where it was built, when asked for or by
// default; asked for where it cannot serve, it is an error, not a quiet fallback.
void cuda_backend::choose_kernel(const cudaDeviceProp& prop, precision prec) {
  const bool built = CHORUS_HAVE_CUTLASS != 0;
  const bool hopper = prop.major == 9 && prop.minor == 0;  // sm_90a code runs on 9.0 only
  const bool fits = prec == precision::bf16 || prec == precision::int8;
  if (opt_->kernel == gpu_kernel::cutlass) {
    CHORUS_EXPECTS(built,
                   "--gpu-kernel cutlass: this chorus was built without the CUTLASS kernels "
                   "(configure with -DCHORUS_CUTLASS=ON); use --gpu-kernel fused");
    CHORUS_EXPECTS(hopper, "--gpu-kernel cutlass needs a Hopper GPU (sm_90); device ", opt_->device,
                   " is sm_", prop.major, prop.minor, "; use --gpu-kernel fused");
    CHORUS_EXPECTS(fits, "--gpu-kernel cutlass needs --precision bf16 or int8");
  }
  cutlass_ = built && hopper && fits &&
             (opt_->kernel == gpu_kernel::cutlass || opt_->kernel == gpu_kernel::automatic);
  side_ = cutlass_ ? cutlass_table::kBoxRows : fused::kBM;
}

// Memory plan (chorus/scan/gpu_plan.hpp, tested on the CPU): the fused kernel when every row
// fits, else cuBLAS tiles with every row resident, else three streamed row blocks. The budget is
// the free memory shared by the processes on this device, capped by --gpu-memory.
void cuda_backend::memory_plan() {
  std::size_t free_b = 0, total_b = 0;
  CHORUS_CUDA_TRY(cudaMemGetInfo(&free_b, &total_b));
  gpu_plan_request rq;
  rq.n = range_.n;
  rq.rows = range_.n - range_.begin;
  rq.row_bytes = gpu_row_bytes(L_.fp_is_view ? 0 : static_cast<std::uint64_t>(L_.ld) * L_.elem,
                               L_.prec == precision::int8, L_.need_e ? pb_->embedding->d : 0,
                               L_.need_a ? pb_->activity->d : 0);
  rq.scratch_row_bytes =
      L_.fp_is_view || L_.prec == precision::fp32 ? 0 : static_cast<std::uint64_t>(L_.ld) * 4;
  rq.fused = want_fused_;
  rq.budget = gpu_budget(free_b, opt_->device_share, opt_->gpu_memory);
  rq.force_block_rows = opt_->gpu_block_rows;
  rq.force_cand_cap = opt_->gpu_candidate_cap;
#if CHORUS_HAVE_CUTLASS
  if (cutlass_) {  // one launch: a box of at most side_ x side_
    const std::int64_t box = std::min(side_, rq.rows);
    rq.kernel_workspace = cuda::cutlass_workspace_bytes(variant_, box, box, L_.ld);
  }
#endif
  plan_mem_ = plan_gpu_memory(rq);
  stats_->detail += ", " + plan_mem_.describe();
}

void cuda_backend::allocate() {
  s_ = std::make_unique<cuda::stream>();
  copy_ = std::make_unique<cuda::stream>();
  d2h_ = std::make_unique<cuda::stream>();
  const gpu_plan& P = plan_mem_;
  if (P.route != path::fused) {
    blas_ = std::make_unique<cuda::blas_handle>(s_->get());
    CHORUS_CUBLAS_TRY(
        cublasSetMathMode(blas_->get(), CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION));
    blas_ws_ = device_buffer<char>(P.blas_workspace);  // cuBLAS allocates nothing unplanned
    CHORUS_CUBLAS_TRY(cublasSetWorkspace(blas_->get(), blas_ws_.data(), P.blas_workspace));
    tile_ = device_buffer<float>(static_cast<std::size_t>(P.tile) * P.tile);
  }
  io_ = std::make_unique<streamer>(*pb_, L_, P.block_rows, P.scratch_rows);
  io_->set_copy_stream(copy_->get());
  blocks_ = std::vector<block>(static_cast<std::size_t>(P.blocks));
  for (auto& b : blocks_) io_->allocate(b);
  parent_ = device_buffer<std::int64_t>(range_.n);
  cuda::launch_uf_init(parent_.data(), range_.n, s_->get());
  for (auto& sl : slots_) sl.allocate(P.cand_cap);
  kernel_ws_ = device_buffer<char>(P.kernel_workspace);
}

// Units: for the fused kernel, batches of tiles of the trapezoid in column order, two in flight;
// for cuBLAS tiles with every row resident, strips of T rows; streamed, row blocks.
scan_plan cuda_backend::plan_() {
  memory_plan();
  const path route = plan_mem_.route;
  const precision prec = L_.prec;
  CHORUS_EXPECTS(route == path::fused || prec != precision::int8,
                 "--precision int8 on the CUDA backend needs every row resident in device "
                 "memory (this job streams row blocks); use bf16, or more --gpu-memory");
  CHORUS_EXPECTS(route == path::fused || opt_->kernel != gpu_kernel::fused,
                 "--gpu-kernel fused needs --precision bf16 and every row resident in device "
                 "memory (this job streams row blocks); use --gpu-kernel cublas or auto");
  CHORUS_EXPECTS(route == path::fused || opt_->kernel != gpu_kernel::cutlass,
                 "--gpu-kernel cutlass needs every row resident in device memory (this job "
                 "streams row blocks); use --gpu-kernel cublas or auto");
  if (route != path::fused) cutlass_ = false;  // auto: the streamed cuBLAS tiles serve
  if (cutlass_) {
    // a split launch's smallest part, one column of a box, must fit a candidate buffer
    CHORUS_ENSURES(plan_mem_.cand_cap >= static_cast<std::uint64_t>(side_), "candidate buffer ",
                   plan_mem_.cand_cap, " below a CUTLASS box's column of ", side_);
#if CHORUS_HAVE_CUTLASS
    stats_->detail += std::string(", CUTLASS ") + cuda::cutlass_variant_name(variant_);
#endif
  }
  // int8: the per-pair margin is applied in the kernel (margin::int8_score); kSlack here
  const double margin = prec == precision::int8 ? margin::kSlack
                        : prec == precision::fp32
                            ? margin::fp32_gemm(L_.K)
                            : margin::bf16_gemm(L_.K, 1.0 + 1e-5, 4 * margin::kU32);
  cut_ = static_cast<float>(first_pass_threshold(pb_->params) - margin);
  allocate();
  const std::int64_t rb = range_.begin, re = range_.end, n = range_.n;
  scan_plan p;
  if (route != path::fused) {
    p.no_checkpoint =
        "--checkpoint on the CUDA backend needs the fused kernel (bf16 or int8 with every row "
        "resident in device memory); use --backend cpu for this job";
    const std::int64_t step = route == path::resident ? plan_mem_.tile : plan_mem_.block_rows;
    p.units = tiling::blocks(re - rb, step);
    sched_ =
        std::make_unique<stream_schedule>(tiling::blocks(n - rb, plan_mem_.block_rows), p.units);
    p.pairs = [this, step](std::int64_t u) {
      const std::int64_t r0 = range_.begin + u * step;
      return tiling::rows_pairs(r0, std::min(r0 + step, range_.end), range_.n);
    };
    return p;  // rows_upto unset: the cuBLAS-tile paths need every row first
  }
  io_->begin(blocks_[0], rb, n - rb);
  // boxes of side_ rows (a 128-row tile of the fused kernel; a CUDA launch's box for CUTLASS)
  nbr_ = tiling::blocks(re - rb, side_);
  fused_tiles_ = fused::trap_tiles(nbr_, tiling::blocks(n - rb, side_));
  if (!cutlass_) grid_ = cuda::fused_grid(opt_->device);
  // units of a fixed size, not the device's: a checkpoint stays valid on another GPU that runs
  // the same kernel (the geometry names it: a fused-kernel checkpoint does not resume on CUTLASS)
  fused_batch_ = cutlass_ ? 1 : kFusedUnitTiles;
  p.units = (fused_tiles_ + fused_batch_ - 1) / fused_batch_;
  p.depth = 1;  // unit k + 1 is queued before the host collects unit k
  p.geometry = (cutlass_ ? "cuda-cutlass box=" + std::to_string(side_)
                         : "cuda-fused batch=" + std::to_string(fused_batch_)) +
               " order=columns rows=" + std::to_string(rb) + ".." + std::to_string(re);
  // rows a unit reads: up to the end of its last column tile
  p.rows_upto = [this](std::int64_t u) {
    std::int64_t bi, bj;
    fused::col_tile(std::min(fused_tiles_, (u + 1) * fused_batch_) - 1, nbr_, &bi, &bj);
    return std::min(range_.n, range_.begin + (bj + 1) * side_);
  };
  p.pairs = [this](std::int64_t u) {
    std::int64_t pairs = 0;
    for (std::int64_t t = u * fused_batch_; t < std::min(fused_tiles_, (u + 1) * fused_batch_);
         ++t) {
      std::int64_t bi, bj;
      fused::col_tile(t, nbr_, &bi, &bj);
      const std::int64_t r0 = range_.begin + bi * side_, c0 = range_.begin + bj * side_;
      pairs += tiling::box_pairs(r0, std::min(r0 + side_, range_.end), c0,
                                 std::min(c0 + side_, range_.n));
    }
    return pairs;
  };
  return p;
}

// Fused: the rows reach the device (copy stream) and their first-pass rows are built on the
// scoring stream, before the next kernel. Resident cuBLAS tiles: every row at once. Streamed:
// blocks are loaded as units need them.
void cuda_backend::rows_ready_(std::int64_t from, std::int64_t to) {
  if (plan_mem_.route == path::resident) {
    io_->load(blocks_[0], range_.begin, range_.n - range_.begin, copy_->get());
  } else if (plan_mem_.route == path::fused) {
    block& b0 = blocks_[0];
    io_->load_rows(b0, from, to, copy_->get(), /*build=*/false);
    CHORUS_CUDA_TRY(cudaStreamWaitEvent(s_->get(), b0.loaded.get(), 0));
    io_->first_pass(b0, from, to, s_->get());
  }
}

// Resumed edges join the device union-find too: copied on the scoring stream, so that the
// kernel that reads them is ordered after the copy.
void cuda_backend::absorb_(const std::vector<edge>& edges) {
  // in chunks through a candidate slot's edge buffer: the plan has no room for all of them
  edge* dr = slots_[0].edges.data();
  const std::size_t chunk = slots_[0].edges.size();
  for (std::size_t at = 0; at < edges.size(); at += chunk) {
    const std::size_t m = std::min(chunk, edges.size() - at);
    CHORUS_CUDA_TRY(cudaMemcpyAsync(dr, edges.data() + at, m * sizeof(edge), cudaMemcpyHostToDevice,
                                    s_->get()));
    cuda::launch_uf_unite_edges(dr, static_cast<std::int64_t>(m), parent_.data(), s_->get());
    s_->sync();  // `edges` must outlive the copy, and the chunk's kernel the buffer's reuse
  }
}

// The slot the next batch goes to, once the host has collected what it held.
cand_slot& cuda_backend::free_slot() {
  while (slots_[next_slot_].busy) collect_one();
  return slots_[next_slot_];
}

// Fused tiles [q.t0, q.t1) into the slot, their candidates re-checked on the device (count read
// there), the counters copied back; `done` marks the end.
void cuda_backend::queue_fused(cand_slot& sl, const queued& q) {
  cudaStream_t s = s_->get();
  block& b0 = blocks_[0];
  const std::int64_t rb = range_.begin, re = range_.end, n = range_.n;
  CHORUS_CUDA_TRY(cudaMemsetAsync(sl.counters.data(), 0, 2 * sizeof(unsigned long long), s));
  if (L_.prec == precision::int8)
    cuda::launch_fused_tiles_int8(reinterpret_cast<const std::int8_t*>(io_->fp_rows(b0)),
                                  b0.q8_part(0), b0.q8_part(1), b0.q8_part(2), b0.q8_part(3), rb,
                                  re, n, L_.ld, q.t0, q.t1, cut_, sl.cand.data(),
                                  sl.counters.data(), sl.cand.size(), grid_, s);
  else
    cuda::launch_fused_tiles(reinterpret_cast<const std::uint16_t*>(io_->fp_rows(b0)), rb, re, n,
                             L_.ld, q.t0, q.t1, cut_, sl.cand.data(), sl.counters.data(),
                             sl.cand.size(), grid_, s);
}

// CUTLASS box q (rows q.r0 + [0, m), columns q.c0 + [0, w)) into the slot.
void cuda_backend::queue_cutlass(cand_slot& sl, const queued& q) {
#if CHORUS_HAVE_CUTLASS
  cudaStream_t s = s_->get();
  CHORUS_CUDA_TRY(cudaMemsetAsync(sl.counters.data(), 0, 2 * sizeof(unsigned long long), s));
  const block& b0 = blocks_[0];
  cuda::cutlass_strip st;
  st.rows = io_->fp_rows(b0);
  if (L_.prec == precision::int8) {
    st.scale = b0.q8_part(0), st.err = b0.q8_part(1), st.qnorm = b0.q8_part(2);
    st.rnorm = b0.q8_part(3);
  }
  st.rb = range_.begin, st.re = range_.end, st.n = range_.n, st.ld = L_.ld;
  st.r0 = q.r0, st.m = q.m, st.c0 = q.c0, st.c1 = q.c0 + q.w;
  st.cut = cut_;
  cuda::launch_cutlass_strip(variant_, st, sl.cand.data(), sl.counters.data(), sl.cand.size(),
                             kernel_ws_.data(), kernel_ws_.size(), s);
#else
  (void)sl, (void)q;
  CHORUS_THROW(runtime_failure, "the CUTLASS kernels are not built");
#endif
}

// cuBLAS tile q (rows q.r0.., columns q.c0..) into tile_, thresholded into the slot.
void cuda_backend::queue_tile(cand_slot& sl, const queued& q) {
  cudaStream_t s = s_->get();
  CHORUS_CUDA_TRY(cudaMemsetAsync(sl.counters.data(), 0, 2 * sizeof(unsigned long long), s));
  gemm(*q.bi, *q.bj, q.r0, q.c0, q.m, q.w);
  cuda::launch_threshold_tile(tile_.data(), q.m, q.w, q.r0, q.c0, range_.n, cut_, sl.cand.data(),
                              sl.counters.data(), sl.cand.size(), s);
}

// Queue q's first pass, its re-check (with the count the first pass left on the device) and
// the copy of its counters; the host collects it later.
void cuda_backend::push(queued q) {
  cand_slot& sl = free_slot();
  q.slot = next_slot_;
  next_slot_ ^= 1;
  cudaStream_t s = s_->get();
  if (q.what == queued::kind::fused)
    queue_fused(sl, q);
  else if (q.what == queued::kind::cutlass)
    queue_cutlass(sl, q);
  else
    queue_tile(sl, q);
  cuda::launch_recheck_counted(
      sl.cand.data(), sl.counters.data(), static_cast<std::int64_t>(sl.cand.size()),
      q.bi->view(q.bi->emb), q.bj->view(q.bj->emb), q.bi->view(q.bi->act), q.bj->view(q.bj->act),
      pb_->params, sl.edges.data(), sl.counters.data() + 1, parent_.data(), s);
  CHORUS_CUDA_TRY(cudaMemcpyAsync(sl.host.data(), sl.counters.data(),
                                  2 * sizeof(unsigned long long), cudaMemcpyDeviceToHost, s));
  sl.done->record(s);
  sl.busy = true;
  pending_.push_back(q);
}

// The re-check of `hits` candidates in the slot, the host waiting for its edge count.
void cuda_backend::recheck(cand_slot& sl, const queued& q, std::int64_t hits) {
  cudaStream_t s = s_->get();
  CHORUS_CUDA_TRY(cudaMemsetAsync(sl.counters.data() + 1, 0, sizeof(unsigned long long), s));
  cuda::launch_recheck(sl.cand.data(), hits, q.bi->view(q.bi->emb), q.bj->view(q.bj->emb),
                       q.bi->view(q.bi->act), q.bj->view(q.bj->act), pb_->params, sl.edges.data(),
                       sl.counters.data() + 1, parent_.data(), s);
  CHORUS_CUDA_TRY(cudaMemcpyAsync(sl.host.data() + 1, sl.counters.data() + 1,
                                  sizeof(unsigned long long), cudaMemcpyDeviceToHost, s));
  s_->sync();
}

// The slot's `ne` edges to the host (on a stream of their own: the next batch is already queued
// on the scoring stream) and on to the scan's handler.
void cuda_backend::fetch_edges(const queued& q, cand_slot& sl, std::uint64_t ne) {
  if (ne == 0 || halt_) return;
  found_.resize(static_cast<std::size_t>(ne));
  CHORUS_CUDA_TRY(cudaMemcpyAsync(found_.data(), sl.edges.data(), ne * sizeof(edge),
                                  cudaMemcpyDeviceToHost, d2h_->get()));
  d2h_->sync();
  if (!q.results->add_edges(q.batch, found_)) halt_ = true;  // --max-edges: stop
}

// More candidates than the slot holds: its edges are dropped (those already united are true
// edges; uniting again changes nothing) and the work is re-run in halves that fit.
void cuda_backend::redo_split(const queued& q, cand_slot& sl, std::uint64_t hits) {
  const bool fused = q.what == queued::kind::fused;  // split by tiles; else by columns
  const auto run = [&](std::int64_t a, std::int64_t b) -> std::uint64_t {
    if (halt_) return 0;  // --max-edges: the rest is not needed
    queued part = q;
    if (fused) {
      part.t0 = q.t0 + a, part.t1 = q.t0 + b;
      queue_fused(sl, part);
    } else {
      part.c0 = q.c0 + a, part.w = b - a;
      if (q.what == queued::kind::cutlass)
        queue_cutlass(sl, part);
      else
        queue_tile(sl, part);
    }
    CHORUS_CUDA_TRY(cudaMemcpyAsync(sl.host.data(), sl.counters.data(), sizeof(unsigned long long),
                                    cudaMemcpyDeviceToHost, s_->get()));
    s_->sync();
    return sl.host.data()[0];
  };
  const auto take = [&](std::int64_t, std::int64_t, std::uint64_t h) {
    if (halt_) return;
    recheck(sl, q, static_cast<std::int64_t>(h));
    fetch_edges(q, sl, sl.host.data()[1]);
  };
  split_until_fits(0, fused ? q.t1 - q.t0 : q.w, hits, sl.cand.size(), run, take);
}

// The oldest queued work: its counters, its edges (or a split re-run on overflow), and for a
// fused unit its completion.
void cuda_backend::collect_one() {
  const queued q = pending_.front();
  pending_.pop_front();
  cand_slot& sl = slots_[q.slot];
  sl.busy = false;  // whatever follows throws, the slot is no longer queued
  CHORUS_CUDA_TRY(cudaEventSynchronize(sl.done->get()));
  const std::uint64_t hits = sl.host.data()[0];
  if (!halt_) {
    if (hits > sl.cand.size())
      redo_split(q, sl, hits);
    else
      fetch_edges(q, sl, sl.host.data()[1]);
  }
  if (q.unit >= 0) {
    if (!halt_) q.results->unit_done(q.batch, q.unit, static_cast<std::int64_t>(hits));
  } else {
    unit_candidates_ += static_cast<std::int64_t>(hits);
  }
}

// column-major C (m x w) = A^T B: A = rows r0.. of bi (K x m), B = rows c0.. of bj (K x w)
void cuda_backend::gemm(const block& bi, const block& bj, std::int64_t r0, std::int64_t c0,
                        std::int64_t m, std::int64_t w) {
  const char* A = io_->fp_rows(bi);
  const char* B = io_->fp_rows(bj);
  const cudaDataType_t in_type = L_.prec == precision::fp32 ? CUDA_R_32F : CUDA_R_16BF;
  const cublasComputeType_t compute =
      L_.prec == precision::fp32 ? CUBLAS_COMPUTE_32F_PEDANTIC : CUBLAS_COMPUTE_32F;
  const float one = 1.0f, zero = 0.0f;
  CHORUS_CUBLAS_TRY(cublasGemmEx(blas_->get(), CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(m),
                                 static_cast<int>(w), static_cast<int>(L_.K), &one,
                                 A + static_cast<std::uint64_t>(r0 - bi.row0) * L_.ld * L_.elem,
                                 in_type, static_cast<int>(L_.ld),
                                 B + static_cast<std::uint64_t>(c0 - bj.row0) * L_.ld * L_.elem,
                                 in_type, static_cast<int>(L_.ld), &zero, tile_.data(), CUDA_R_32F,
                                 static_cast<int>(m), compute, CUBLAS_GEMM_DEFAULT));
}

// cuBLAS tiles of rows [r_from, r_to) of block bi against every column of block bj (tiles
// entirely below the diagonal skipped), both loaded. Two tiles are in flight; between tiles the
// background load stages a chunk. A stop request ends the loop (the unit is then not done).
void cuda_backend::score_tiles(block& bi, block& bj, std::int64_t r_from, std::int64_t r_to) {
  cudaStream_t s = s_->get();
  CHORUS_CUDA_TRY(cudaStreamWaitEvent(s, bi.loaded.get(), 0));
  CHORUS_CUDA_TRY(cudaStreamWaitEvent(s, bj.loaded.get(), 0));
  const std::int64_t T = plan_mem_.tile;
  for (std::int64_t r0 = r_from; r0 < r_to && !halt_; r0 += T) {
    for (std::int64_t c0 = bj.row0; c0 < bj.row0 + bj.count && !halt_; c0 += T) {
      if (c0 + T <= r0 + 1) continue;  // tile entirely below the diagonal
      if (stopping()) {
        halt_ = true;
        break;
      }
      queued q = tile_batch_;
      q.bi = &bi, q.bj = &bj, q.r0 = r0, q.c0 = c0;
      q.m = std::min(T, r_to - r0);
      q.w = std::min(T, bj.row0 + bj.count - c0);
      push(q);
      io_->pump(1);
    }
  }
  bi.released.record(s);
  bj.released.record(s);
}

// Device block `slot` holding row block b: as loaded in the background, or loaded now.
block& cuda_backend::hold(int slot, std::int64_t b) {
  block& blk = blocks_[static_cast<std::size_t>(slot)];
  if (!(blk.used && blk.row0 == block_start(b))) {
    drain();  // queued tiles (and their split re-runs) may still read the block being replaced
    io_->start(blk, block_start(b), block_count(b));
  }
  if (io_->loading(blk)) io_->finish();
  return blk;
}

// Streamed: unit I in the order of stream_schedule (chorus/scan/gpu_plan.hpp): row block I
// against itself, then against column blocks nb-1 down to I+1, the next column block loading in
// the background (a chunk between tiles) while one is scored; I+1, scored last, stays resident
// as the next unit's row block.
void cuda_backend::score_row_block(std::int64_t I) {
  for (const stream_schedule::step& st : sched_->unit(I)) {
    if (halt_) break;
    block& bi = hold(st.row_slot, st.row);
    block& bj = hold(st.col_slot, st.col);
    if (st.load >= 0) {
      drain();  // the previous step's tiles may read the block the load replaces
      io_->start(blocks_[static_cast<std::size_t>(st.load_slot)], block_start(st.load),
                 block_count(st.load));
    }
    score_tiles(bi, bj, bi.row0, std::min(bi.row0 + bi.count, range_.end));
  }
}

void cuda_backend::submit_(const scan_batch& batch) {
  for (std::int64_t u : batch.units) {
    if (halt_) break;
    queued q;
    q.batch = batch.id;
    q.results = batch.results;
    if (plan_mem_.route == path::fused) {  // collected by collect_, one batch later
      q.unit = u;
      q.bi = q.bj = &blocks_[0];
      if (cutlass_) {  // one box
        std::int64_t bi, bj;
        fused::col_tile(u, nbr_, &bi, &bj);
        q.what = queued::kind::cutlass;
        q.r0 = range_.begin + bi * side_, q.c0 = range_.begin + bj * side_;
        q.m = std::min(side_, range_.end - q.r0);
        q.w = std::min(side_, range_.n - q.c0);
      } else {
        q.what = queued::kind::fused;
        q.t0 = u * fused_batch_;
        q.t1 = std::min(fused_tiles_, q.t0 + fused_batch_);
      }
      push(q);
      blocks_[0].released.record(s_->get());
      continue;
    }
    unit_candidates_ = 0;
    tile_batch_ = q;  // what the unit's tiles report to
    if (plan_mem_.route == path::resident) {
      const std::int64_t r0 = range_.begin + u * plan_mem_.tile;
      score_tiles(blocks_[0], blocks_[0], r0, std::min(r0 + plan_mem_.tile, range_.end));
    } else {
      score_row_block(u);
    }
    drain();
    if (!halt_) batch.results->unit_done(batch.id, u, unit_candidates_);
  }
}

// The oldest batch still on the device (fused: one unit per batch).
void cuda_backend::collect_() {
  if (!pending_.empty()) collect_one();
}

// The device union-find's components: flattened roots and canonical labels (Thrust), after the
// scan's buffers went back (the plan counts the relabelling's memory on its own).
void cuda_backend::finish_(score_stats& stats) {
  const std::int64_t n = range_.n;
  cudaStream_t s = s_->get();
  drain();
  cuda::launch_uf_flatten(parent_.data(), n, s);
  s_->sync();
  release_scan();
  device_buffer<std::int64_t> labels(n);
  stats.clusters = cuda::canonical_labels(parent_.data(), n, labels.data(), s);
  stats.roots.resize(n);
  stats.labels.resize(n);
  CHORUS_CUDA_TRY(cudaMemcpyAsync(stats.roots.data(), parent_.data(), n * sizeof(std::int64_t),
                                  cudaMemcpyDeviceToHost, s));
  CHORUS_CUDA_TRY(cudaMemcpyAsync(stats.labels.data(), labels.data(), n * sizeof(std::int64_t),
                                  cudaMemcpyDeviceToHost, s));
  s_->sync();
  labels = {};
  release();
}

// The scan's buffers (blocks, staging, tiles, candidates) once every kernel is done with them.
void cuda_backend::release_scan() {
  found_ = {};
  for (auto& sl : slots_) sl.release();
  pending_.clear();
  tile_ = {};
  blas_.reset();  // the handle before the workspace it uses
  blas_ws_ = {};
  kernel_ws_ = {};
  blocks_.clear();
  io_.reset();
  sched_.reset();
}

// Everything, streams last.
void cuda_backend::release() {
  release_scan();
  parent_ = {};
  d2h_.reset();
  copy_.reset();
  s_.reset();
}

}  // namespace chorus

/// Entry point of libchorus_cuda.so, looked up with dlsym by chorus::make_cuda_backend().
extern "C" __attribute__((visibility("default"))) chorus::backend* chorus_make_cuda_backend_v1() {
  return new chorus::cuda_backend();
}
