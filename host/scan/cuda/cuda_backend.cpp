// chorus: the CUDA backend. Resident views on one device; upper-triangle tiles through cuBLAS
// (fp32 or bf16 with fp32 accumulation on tensor cores); a threshold kernel compacts the
// candidates of each tile; a re-check kernel decides them exactly in float64 and unions the
// edges in a device union-find as they arrive.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>
#include <memory>

#include "chorus/core/error.hpp"
#include "chorus/scan/backend.hpp"
#include "chorus/scan/first_pass.hpp"
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

 protected:
  void configure_(const score_problem& pb, const score_options& opt, const scan_range& range,
                  score_stats& stats) override;
  scan_plan plan_() override;
  void rows_ready_(std::int64_t from, std::int64_t to) override;
  void absorb_(const std::vector<edge>& edges) override;
  void submit_(const scan_batch& batch) override;
  void finish_(score_stats& stats) override;

 private:
  enum class path { fused, resident, streamed };
  static constexpr std::int64_t kFusedUnitTiles = 16384;  // 128 x 128 tiles per fused unit
  std::uint64_t row_bytes() const;
  void memory_plan();
  void release();
  void allocate();
  std::int64_t find_candidates(const std::function<void()>& launch);
  void take(std::int64_t hits, block& bi, block& bj);
  void score_tiles(block& bi, block& bj, std::int64_t r_from, std::int64_t r_to);
  void score_fused(std::int64_t unit);
  void score_row_block(std::int64_t I);
  std::int64_t block_start(std::int64_t b) const { return range_.begin + b * cap_rows_; }
  std::int64_t block_count(std::int64_t b) const {
    return std::min(cap_rows_, range_.n - block_start(b));
  }

  const score_problem* pb_ = nullptr;
  const score_options* opt_ = nullptr;
  scan_range range_;
  layout L_;
  bool want_fused_ = false;
  path path_ = path::fused;
  std::int64_t T_ = 0, cap_rows_ = 0, nblocks_ = 0, tmp_rows_ = 0;
  std::uint64_t cand_cap_ = 0;
  float cut_ = 0;
  int grid_ = 1;
  std::int64_t fused_batch_ = 1, fused_tiles_ = 0, nbr_ = 0;  // fused: tiles per unit, tiles
  std::unique_ptr<cuda::stream> s_, copy_;
  std::unique_ptr<cuda::blas_handle> blas_;
  std::unique_ptr<streamer> io_;
  std::vector<block> blocks_;
  device_buffer<std::int64_t> parent_;
  device_buffer<float> tile_;
  device_buffer<cuda::pair64> cand_;
  device_buffer<edge> tile_edges_;
  device_buffer<unsigned long long> counters_;  // [0] candidates, [1] edges of the tile
  cuda::pinned_buffer<unsigned long long> host_counters_;
  const scan_batch* batch_ = nullptr;  // the batch being scored
  std::vector<edge> found_;            // host copy of a tile's edges
  std::int64_t candidates_ = 0;        // of the unit being scored
  bool halt_ = false;                  // the scan has more edges than it may keep
};

void cuda_backend::configure_(const score_problem& pb, const score_options& opt,
                              const scan_range& range, score_stats& stats) {
  pb_ = &pb;
  opt_ = &opt;
  range_ = range;
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
  const auto mode = pb.params.mode;
  L_ = layout{};
  L_.prec = prec;
  L_.need_e = pb.uses_embedding();
  L_.need_a = pb.uses_activity();
  L_.K = first_pass_width(pb);
  L_.ld = prec == precision::int8 ? fused::padded_k_int8(L_.K)
          : want_fused_           ? fused::padded_k(L_.K)
                                  : L_.K;
  L_.fp_is_view = prec == precision::fp32 && mode != view_mode::fused;
  L_.fp_view = mode == view_mode::activity ? pb.activity : pb.embedding;
  L_.elem = prec == precision::int8 ? 1 : prec == precision::bf16 ? 2 : 4;
}

// Device bytes per resident row: first-pass row, int8 bounds, the views the re-check reads.
std::uint64_t cuda_backend::row_bytes() const {
  std::uint64_t b = L_.fp_is_view ? 0 : static_cast<std::uint64_t>(L_.ld) * L_.elem;
  if (L_.prec == precision::int8) b += 4 * sizeof(float);  // scale and margin bounds
  if (L_.need_e) b += static_cast<std::uint64_t>(pb_->embedding->d) * 4 + 9;
  if (L_.need_a) b += static_cast<std::uint64_t>(pb_->activity->d) * 4 + 9;
  return b;
}

// Memory plan (as FAISS's tiled search does): the parent array, the tile with its candidate and
// edge buffers, and the row blocks. All rows resident in one block when they fit; otherwise
// three blocks (the row block, the column block being scored, and the next one streaming in).
void cuda_backend::memory_plan() {
  const std::int64_t n = range_.n, rb = range_.begin;
  std::size_t free_b = 0, total_b = 0;
  CHORUS_CUDA_TRY(cudaMemGetInfo(&free_b, &total_b));
  std::uint64_t budget = static_cast<std::uint64_t>(static_cast<double>(free_b) * 0.92);
  if (opt_->gpu_memory > 0) budget = std::min<std::uint64_t>(budget, opt_->gpu_memory);
  // the parent array, and the fp32 scratch rows the device-side bf16/int8 first pass goes through
  tmp_rows_ =
      L_.fp_is_view || L_.prec == precision::fp32 ? 0 : std::min<std::int64_t>(n - rb, 4096);
  const std::uint64_t fixed = static_cast<std::uint64_t>(n) * 8 +
                              static_cast<std::uint64_t>(tmp_rows_) * L_.ld * sizeof(float);
  const std::uint64_t rbytes = row_bytes();
  T_ = 0;
  for (std::int64_t t : {16384, 8192, 4096, 2048, 1024, 512, 256}) {
    const std::int64_t tt = std::min<std::int64_t>(t, std::max<std::int64_t>(n, 1));
    const std::uint64_t cap =
        std::min<std::uint64_t>(static_cast<std::uint64_t>(tt) * tt, 1u << 22);
    const std::uint64_t tiles =
        static_cast<std::uint64_t>(tt) * tt * 4 + cap * (sizeof(cuda::pair64) + sizeof(edge));
    if (fixed + tiles >= budget) continue;
    const std::uint64_t left = budget - fixed - tiles;
    if (static_cast<std::uint64_t>(n - rb) * rbytes <= left) {
      T_ = tt, cand_cap_ = cap, cap_rows_ = n - rb, nblocks_ = 1;
      break;
    }
    const std::int64_t b = static_cast<std::int64_t>(left / (3 * rbytes)) / tt * tt;
    if (b >= tt) {
      T_ = tt, cand_cap_ = cap, cap_rows_ = b, nblocks_ = 3;
      break;
    }
  }
  CHORUS_EXPECTS(T_ > 0, "--backend cuda: not even one tile fits the device memory budget of ",
                 budget / (1 << 20), " MiB (", (opt_->gpu_memory ? "--gpu-memory" : "free memory"),
                 "); raise --gpu-memory or use --backend cpu");
}

void cuda_backend::allocate() {
  s_ = std::make_unique<cuda::stream>();
  copy_ = std::make_unique<cuda::stream>();
  blas_ = std::make_unique<cuda::blas_handle>(s_->get());
  CHORUS_CUBLAS_TRY(
      cublasSetMathMode(blas_->get(), CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION));
  io_ = std::make_unique<streamer>(*pb_, L_, cap_rows_, tmp_rows_);
  blocks_ = std::vector<block>(static_cast<std::size_t>(nblocks_));
  for (auto& b : blocks_) io_->allocate(b);
  parent_ = device_buffer<std::int64_t>(range_.n);
  cuda::launch_uf_init(parent_.data(), range_.n, s_->get());
  tile_ = device_buffer<float>(static_cast<std::size_t>(T_) * T_);
  cand_ = device_buffer<cuda::pair64>(cand_cap_);
  tile_edges_ = device_buffer<edge>(cand_cap_);
  counters_ = device_buffer<unsigned long long>(2);
  host_counters_ = cuda::pinned_buffer<unsigned long long>(2);
}

// Units: for the fused kernel, batches of tiles of the trapezoid in column order; for cuBLAS
// tiles with every row resident, strips of T rows; streamed, row blocks.
scan_plan cuda_backend::plan_() {
  memory_plan();
  const bool fused_path = want_fused_ && nblocks_ == 1;
  const precision prec = L_.prec;
  CHORUS_EXPECTS(fused_path || prec != precision::int8,
                 "--precision int8 on the CUDA backend needs every row resident in device "
                 "memory (this job streams row blocks); use bf16, or more --gpu-memory");
  CHORUS_EXPECTS(fused_path || opt_->kernel != gpu_kernel::fused,
                 "--gpu-kernel fused needs --precision bf16 and every row resident in device "
                 "memory (this job streams row blocks); use --gpu-kernel cublas or auto");
  path_ = fused_path ? path::fused : nblocks_ == 1 ? path::resident : path::streamed;
  // int8: the per-pair margin is applied in the kernel (margin::int8_score); kSlack here
  const double margin = prec == precision::int8 ? margin::kSlack
                        : prec == precision::fp32
                            ? margin::fp32_gemm(L_.K)
                            : margin::bf16_gemm(L_.K, 1.0 + 1e-5, 4 * margin::kU32);
  cut_ = static_cast<float>(first_pass_threshold(pb_->params) - margin);
  allocate();
  const std::int64_t rb = range_.begin, re = range_.end, n = range_.n;
  scan_plan p;
  if (path_ != path::fused) {
    p.no_checkpoint =
        "--checkpoint on the CUDA backend needs the fused kernel (bf16 or int8 with every row "
        "resident in device memory); use --backend cpu for this job";
    const std::int64_t step = path_ == path::resident ? T_ : cap_rows_;
    p.units = tiling::blocks(re - rb, step);
    p.pairs = [this, step](std::int64_t u) {
      const std::int64_t r0 = range_.begin + u * step;
      return tiling::rows_pairs(r0, std::min(r0 + step, range_.end), range_.n);
    };
    return p;  // rows_upto unset: the cuBLAS-tile paths need every row first
  }
  io_->begin(blocks_[0], rb, n - rb);
  nbr_ = tiling::blocks(re - rb, fused::kBM);
  fused_tiles_ = fused::trap_tiles(nbr_, tiling::blocks(n - rb, fused::kBN));
  grid_ = cuda::fused_grid(opt_->device);
  // units of a fixed size, not the device's: a checkpoint stays valid on another GPU
  fused_batch_ = kFusedUnitTiles;
  p.units = (fused_tiles_ + fused_batch_ - 1) / fused_batch_;
  p.geometry = "cuda-fused batch=" + std::to_string(fused_batch_) +
               " order=columns rows=" + std::to_string(rb) + ".." + std::to_string(re);
  // rows a unit reads: up to the end of its last column tile
  p.rows_upto = [this](std::int64_t u) {
    std::int64_t bi, bj;
    fused::col_tile(std::min(fused_tiles_, (u + 1) * fused_batch_) - 1, nbr_, &bi, &bj);
    return std::min(range_.n, range_.begin + (bj + 1) * fused::kBN);
  };
  p.pairs = [this](std::int64_t u) {
    std::int64_t pairs = 0;
    for (std::int64_t t = u * fused_batch_; t < std::min(fused_tiles_, (u + 1) * fused_batch_);
         ++t) {
      std::int64_t bi, bj;
      fused::col_tile(t, nbr_, &bi, &bj);
      const std::int64_t r0 = range_.begin + bi * fused::kBM, c0 = range_.begin + bj * fused::kBN;
      pairs += tiling::box_pairs(r0, std::min(r0 + fused::kBM, range_.end), c0,
                                 std::min(c0 + fused::kBN, range_.n));
    }
    return pairs;
  };
  return p;
}

// Fused: the rows reach the device (copy stream) and their first-pass rows are built on the
// scoring stream, before the next kernel. Resident cuBLAS tiles: every row at once. Streamed:
// blocks are loaded as units need them.
void cuda_backend::rows_ready_(std::int64_t from, std::int64_t to) {
  if (path_ == path::resident) {
    io_->load(blocks_[0], range_.begin, range_.n - range_.begin, copy_->get());
  } else if (path_ == path::fused) {
    block& b0 = blocks_[0];
    io_->load_rows(b0, from, to, copy_->get(), /*build=*/false);
    CHORUS_CUDA_TRY(cudaStreamWaitEvent(s_->get(), b0.loaded.get(), 0));
    io_->first_pass(b0, from, to, s_->get());
  }
}

// Resumed edges join the device union-find too.
void cuda_backend::absorb_(const std::vector<edge>& edges) {
  if (edges.empty()) return;
  device_buffer<edge> dr(edges.size());
  CHORUS_CUDA_TRY(
      cudaMemcpy(dr.data(), edges.data(), edges.size() * sizeof(edge), cudaMemcpyHostToDevice));
  cuda::launch_uf_unite_edges(dr.data(), static_cast<std::int64_t>(edges.size()), parent_.data(),
                              s_->get());
  s_->sync();
}

// Run `launch` (a first-pass kernel that appends candidates to cand_ and counts them in
// counters_[0]) until its candidates fit: on overflow the buffers grow to the exact count and
// it runs again, so nothing is dropped. Returns the number of candidates.
std::int64_t cuda_backend::find_candidates(const std::function<void()>& launch) {
  for (;;) {
    CHORUS_CUDA_TRY(
        cudaMemsetAsync(counters_.data(), 0, 2 * sizeof(unsigned long long), s_->get()));
    launch();
    CHORUS_CUDA_TRY(cudaMemcpyAsync(host_counters_.data(), counters_.data(),
                                    sizeof(unsigned long long), cudaMemcpyDeviceToHost, s_->get()));
    s_->sync();
    const unsigned long long hits = host_counters_.data()[0];
    if (hits <= cand_.size()) return static_cast<std::int64_t>(hits);
    cand_.resize(hits);
    tile_edges_.resize(hits);
  }
}

// Decide `hits` candidates exactly (float64 re-check kernel), union their edges on the device
// and hand the edges to the scan's handler.
void cuda_backend::take(std::int64_t hits, block& bi, block& bj) {
  candidates_ += hits;
  if (hits <= 0 || halt_) return;
  cuda::launch_recheck(cand_.data(), hits, bi.view(bi.emb), bj.view(bj.emb), bi.view(bi.act),
                       bj.view(bj.act), pb_->params, tile_edges_.data(), counters_.data() + 1,
                       parent_.data(), s_->get());
  CHORUS_CUDA_TRY(cudaMemcpyAsync(host_counters_.data() + 1, counters_.data() + 1,
                                  sizeof(unsigned long long), cudaMemcpyDeviceToHost, s_->get()));
  s_->sync();
  const std::size_t ne = static_cast<std::size_t>(host_counters_.data()[1]);
  if (ne == 0) return;
  found_.resize(ne);
  CHORUS_CUDA_TRY(
      cudaMemcpy(found_.data(), tile_edges_.data(), ne * sizeof(edge), cudaMemcpyDeviceToHost));
  if (!batch_->results->add_edges(batch_->id, found_)) halt_ = true;  // --max-edges: stop
}

// cuBLAS tiles of rows [r_from, r_to) of block bi against every column of block bj (tiles
// entirely below the diagonal skipped), both resident.
void cuda_backend::score_tiles(block& bi, block& bj, std::int64_t r_from, std::int64_t r_to) {
  cudaStream_t s = s_->get();
  CHORUS_CUDA_TRY(cudaStreamWaitEvent(s, bi.loaded.get(), 0));
  CHORUS_CUDA_TRY(cudaStreamWaitEvent(s, bj.loaded.get(), 0));
  const char* A = io_->fp_rows(bi);
  const char* B = io_->fp_rows(bj);
  const cudaDataType_t in_type = L_.prec == precision::fp32 ? CUDA_R_32F : CUDA_R_16BF;
  const cublasComputeType_t compute =
      L_.prec == precision::fp32 ? CUBLAS_COMPUTE_32F_PEDANTIC : CUBLAS_COMPUTE_32F;
  const float one = 1.0f, zero = 0.0f;
  const std::int64_t T = T_, n = range_.n;
  for (std::int64_t r0 = r_from; r0 < r_to; r0 += T) {
    for (std::int64_t c0 = bj.row0; c0 < bj.row0 + bj.count; c0 += T) {
      if (c0 + T <= r0 + 1) continue;  // tile entirely below the diagonal
      const std::int64_t m = std::min(T, r_to - r0);
      const std::int64_t w = std::min(T, bj.row0 + bj.count - c0);
      // column-major C (m x w) = A^T B: A = rows r0.. (K x m), B = rows c0.. (K x w)
      CHORUS_CUBLAS_TRY(cublasGemmEx(
          blas_->get(), CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(m), static_cast<int>(w),
          static_cast<int>(L_.K), &one,
          A + static_cast<std::uint64_t>(r0 - bi.row0) * L_.ld * L_.elem, in_type,
          static_cast<int>(L_.ld), B + static_cast<std::uint64_t>(c0 - bj.row0) * L_.ld * L_.elem,
          in_type, static_cast<int>(L_.ld), &zero, tile_.data(), CUDA_R_32F, static_cast<int>(m),
          compute, CUBLAS_GEMM_DEFAULT));
      take(find_candidates([&] {
             cuda::launch_threshold_tile(tile_.data(), m, w, r0, c0, n, cut_, cand_.data(),
                                         counters_.data(), cand_.size(), s);
           }),
           bi, bj);
    }
  }
  bi.released.record(s);
  bj.released.record(s);
}

// One fused unit: its tiles through the fused kernel (candidates re-checked before the next
// unit, so the candidate buffer stays bounded).
void cuda_backend::score_fused(std::int64_t unit) {
  block& b0 = blocks_[0];
  const std::int64_t t0 = unit * fused_batch_, t1 = std::min(fused_tiles_, t0 + fused_batch_);
  const std::int64_t rb = range_.begin, re = range_.end, n = range_.n;
  take(find_candidates([&] {
         if (L_.prec == precision::int8)
           cuda::launch_fused_tiles_int8(reinterpret_cast<const std::int8_t*>(io_->fp_rows(b0)),
                                         b0.q8_part(0), b0.q8_part(1), b0.q8_part(2), b0.q8_part(3),
                                         rb, re, n, L_.ld, t0, t1, cut_, cand_.data(),
                                         counters_.data(), cand_.size(), grid_, s_->get());
         else
           cuda::launch_fused_tiles(reinterpret_cast<const std::uint16_t*>(io_->fp_rows(b0)), rb,
                                    re, n, L_.ld, t0, t1, cut_, cand_.data(), counters_.data(),
                                    cand_.size(), grid_, s_->get());
       }),
       b0, b0);
  b0.released.record(s_->get());
}

// Streamed: row block I against itself and every later column block. blocks_[0] holds I;
// blocks_[1] and blocks_[2] alternate as column blocks J, J+1 (the next one loads while the
// current one is scored).
void cuda_backend::score_row_block(std::int64_t I) {
  const std::int64_t nb = tiling::blocks(range_.n - range_.begin, cap_rows_);
  block& bi = blocks_[0];
  io_->load(bi, block_start(I), block_count(I), copy_->get());
  const std::int64_t stop = std::min(bi.row0 + bi.count, range_.end);
  score_tiles(bi, bi, bi.row0, stop);
  if (I + 1 >= nb) return;
  int cur = 1;
  io_->load(blocks_[cur], block_start(I + 1), block_count(I + 1), copy_->get());
  for (std::int64_t J = I + 1; J < nb; ++J) {
    if (J + 1 < nb)  // prefetch the next column block while this one is scored
      io_->load(blocks_[3 - cur], block_start(J + 1), block_count(J + 1), copy_->get());
    score_tiles(bi, blocks_[cur], bi.row0, stop);
    cur = 3 - cur;
  }
}

void cuda_backend::submit_(const scan_batch& batch) {
  batch_ = &batch;
  halt_ = false;
  for (std::int64_t u : batch.units) {
    if (halt_) break;
    candidates_ = 0;
    if (path_ == path::fused) {
      score_fused(u);
    } else if (path_ == path::resident) {
      const std::int64_t r0 = range_.begin + u * T_;
      score_tiles(blocks_[0], blocks_[0], r0, std::min(r0 + T_, range_.end));
    } else {
      score_row_block(u);
    }
    batch.results->unit_done(batch.id, u, candidates_);
  }
  batch_ = nullptr;
}

// The device union-find's components: flattened roots and canonical labels (Thrust).
void cuda_backend::finish_(score_stats& stats) {
  const std::int64_t n = range_.n;
  cudaStream_t s = s_->get();
  cuda::launch_uf_flatten(parent_.data(), n, s);
  device_buffer<std::int64_t> labels(n);
  stats.clusters = cuda::canonical_labels(parent_.data(), n, labels.data(), s);
  stats.roots.resize(n);
  stats.labels.resize(n);
  CHORUS_CUDA_TRY(cudaMemcpyAsync(stats.roots.data(), parent_.data(), n * sizeof(std::int64_t),
                                  cudaMemcpyDeviceToHost, s));
  CHORUS_CUDA_TRY(cudaMemcpyAsync(stats.labels.data(), labels.data(), n * sizeof(std::int64_t),
                                  cudaMemcpyDeviceToHost, s));
  s_->sync();
  release();
}

// The scan's device memory goes back once its results are on the host (blocks and staging
// before the streams they were used on).
void cuda_backend::release() {
  found_ = {};
  host_counters_ = {};
  counters_ = {};
  tile_edges_ = {};
  cand_ = {};
  tile_ = {};
  parent_ = {};
  blocks_.clear();
  io_.reset();
  blas_.reset();
  copy_.reset();
  s_.reset();
}

}  // namespace chorus

/// Entry point of libchorus_cuda.so, looked up with dlsym by chorus::make_cuda_backend().
extern "C" __attribute__((visibility("default"))) chorus::backend* chorus_make_cuda_backend_v1() {
  return new chorus::cuda_backend();
}
