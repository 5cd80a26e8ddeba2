// chorus: the CUDA backend. Resident views on one device; upper-triangle tiles through cuBLAS
// (fp32 or bf16 with fp32 accumulation on tensor cores); a threshold kernel compacts the
// candidates of each tile; a re-check kernel decides them exactly in float64 and unions the
// edges in a device union-find as they arrive.
#include <algorithm>
#include <chrono>
#include <cmath>

#include "chorus/backend.hpp"
#include "chorus/error.hpp"
#include "chorus/margin.hpp"
#include "chorus/tiling.hpp"
#include "cuda_check.hpp"
#include "kernels.hpp"

namespace chorus {
namespace {

using cuda::device_buffer;

// Upload a host vector to a new device buffer.
template <typename T>
device_buffer<T> upload(const std::vector<T>& v, cudaStream_t s) {
  device_buffer<T> d(v.size());
  if (!v.empty())
    CHORUS_CUDA_TRY(cudaMemcpyAsync(d.data(), v.data(), v.size() * sizeof(T),
                                    cudaMemcpyHostToDevice, s));
  return d;
}

// A view resident on the device, for the exact re-check.
struct resident_view {
  device_buffer<float> rows;
  device_buffer<double> inv_norm;
  device_buffer<std::uint8_t> valid;
  std::int64_t d = 0;
  cuda::device_view get() const { return {rows.data(), inv_norm.data(), valid.data(), d}; }
  static std::uint64_t bytes(const view_matrix& v) {
    return static_cast<std::uint64_t>(v.n) * (static_cast<std::uint64_t>(v.d) * 4 + 9);
  }
};

resident_view make_resident(const view_matrix& v, cudaStream_t s) {
  resident_view r;
  r.rows = upload(v.data, s);
  r.inv_norm = upload(v.inv_norm, s);
  r.valid = upload(v.valid, s);
  r.d = v.d;
  return r;
}

class cuda_backend final : public backend {
 public:
  std::string name() const override { return "cuda"; }

  std::vector<edge> find_edges(const score_problem& pb, const score_options& opt,
                               score_stats& stats) override {
    const auto t0 = std::chrono::steady_clock::now();
    int devices = 0;
    if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
      cudaGetLastError();
      CHORUS_THROW(input_error, "--backend cuda: no CUDA device is visible (no GPU, or the "
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
    CHORUS_EXPECTS(prec != precision::int8,
                   "--precision int8 is not available on the CUDA backend yet; use bf16 or fp32");
    stats.used = prec;
    const std::int64_t n = pb.n();
    stats.pairs = tiling::pair_count(n);
    stats.detail = std::string(prop.name) + " sm_" + std::to_string(prop.major) +
                   std::to_string(prop.minor) + ", cuBLAS " + to_string(prec);
    std::vector<edge> edges;
    if (n < 2) return edges;

    const auto& P = pb.params;
    const bool need_e = P.mode != view_mode::activity, need_a = P.mode != view_mode::embedding;
    const std::int64_t K = first_pass_width(pb);
    const bool fp_is_view = prec == precision::fp32 && P.mode != view_mode::fused;
    const std::uint64_t elem = prec == precision::bf16 ? 2 : 4;

    // Memory plan: resident views + first-pass matrix + parent, then the largest square tile
    // (with its candidate and edge buffers) that fits the rest.
    std::size_t free_b = 0, total_b = 0;
    CHORUS_CUDA_TRY(cudaMemGetInfo(&free_b, &total_b));
    std::uint64_t budget = static_cast<std::uint64_t>(static_cast<double>(free_b) * 0.92);
    if (opt.gpu_memory > 0) budget = std::min<std::uint64_t>(budget, opt.gpu_memory);
    std::uint64_t resident = static_cast<std::uint64_t>(n) * 8;  // parent
    if (need_e) resident += resident_view::bytes(*pb.embedding);
    if (need_a) resident += resident_view::bytes(*pb.activity);
    if (!fp_is_view) resident += static_cast<std::uint64_t>(n) * static_cast<std::uint64_t>(K) * elem;
    const std::uint64_t staging = std::min<std::int64_t>(n, 65536) * static_cast<std::uint64_t>(K) * 4;
    std::int64_t T = 0;
    std::uint64_t cand_cap = 0;
    for (std::int64_t t : {16384, 8192, 4096, 2048, 1024, 512, 256}) {
      const std::int64_t tt = std::min<std::int64_t>(t, std::max<std::int64_t>(n, 256));
      const std::uint64_t cap = std::min<std::uint64_t>(static_cast<std::uint64_t>(tt) * tt, 1u << 22);
      const std::uint64_t need = resident + staging + static_cast<std::uint64_t>(tt) * tt * 4 +
                                 cap * (sizeof(cuda::pair64) + sizeof(edge));
      if (need <= budget) {
        T = tt;
        cand_cap = cap;
        break;
      }
    }
    CHORUS_EXPECTS(T > 0, "--backend cuda: the data does not fit in device memory: ",
                   resident / (1 << 20), " MiB resident (views, first-pass rows, labels) + tiles, "
                   "budget ", budget / (1 << 20), " MiB (", (opt.gpu_memory ? "--gpu-memory" : "free memory"),
                   "); streaming row blocks is not implemented in this version; use --backend cpu");

    cuda::stream s;
    cuda::blas_handle blas(s.get());
    CHORUS_CUBLAS_TRY(cublasSetMathMode(blas.get(), CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION));

    resident_view emb, act;
    if (need_e) emb = make_resident(*pb.embedding, s.get());
    if (need_a) act = make_resident(*pb.activity, s.get());
    device_buffer<float> fp32_rows;
    device_buffer<std::uint16_t> bf16_rows;
    const void* rows = nullptr;
    if (fp_is_view) {
      rows = (P.mode == view_mode::activity ? act.rows : emb.rows).data();
    } else {
      // first-pass rows built on the host in blocks, converted on the device
      const std::int64_t block = std::min<std::int64_t>(n, 65536);
      std::vector<float> host(static_cast<std::size_t>(block * K));
      device_buffer<float> stage(static_cast<std::size_t>(block * K));
      if (prec == precision::fp32) fp32_rows.resize(static_cast<std::size_t>(n) * K);
      else bf16_rows.resize(static_cast<std::size_t>(n) * K);
      for (std::int64_t r0 = 0; r0 < n; r0 += block) {
        const std::int64_t rows_here = std::min(block, n - r0);
        for (std::int64_t r = 0; r < rows_here; ++r) first_pass_row(pb, r0 + r, host.data() + r * K);
        float* dst = prec == precision::fp32 ? fp32_rows.data() + r0 * K : stage.data();
        CHORUS_CUDA_TRY(cudaMemcpyAsync(dst, host.data(), rows_here * K * 4, cudaMemcpyHostToDevice, s.get()));
        if (prec == precision::bf16) cuda::launch_to_bf16(stage.data(), bf16_rows.data() + r0 * K, rows_here * K, s.get());
        s.sync();  // the host buffer is reused
      }
      rows = prec == precision::fp32 ? static_cast<const void*>(fp32_rows.data())
                                     : static_cast<const void*>(bf16_rows.data());
    }
    const double margin = prec == precision::fp32
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
    const std::int64_t nb = tiling::blocks(n, T);
    std::int64_t done = 0, total_cand = 0;
    for (std::int64_t bi = 0; bi < nb; ++bi) {
      for (std::int64_t bj = bi; bj < nb; ++bj) {
        const std::int64_t r0 = bi * T, c0 = bj * T;
        const std::int64_t m = std::min(T, n - r0), w = std::min(T, n - c0);
        // column-major C (m x w) = A^T B: A = rows r0.. (K x m), B = rows c0.. (K x w)
        const char* base = static_cast<const char*>(rows);
        CHORUS_CUBLAS_TRY(cublasGemmEx(blas.get(), CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(m),
                                       static_cast<int>(w), static_cast<int>(K), &one,
                                       base + static_cast<std::uint64_t>(r0) * K * elem, in_type,
                                       static_cast<int>(K),
                                       base + static_cast<std::uint64_t>(c0) * K * elem, in_type,
                                       static_cast<int>(K), &zero, tile.data(), CUDA_R_32F,
                                       static_cast<int>(m), compute, CUBLAS_GEMM_DEFAULT));
        for (;;) {
          CHORUS_CUDA_TRY(cudaMemsetAsync(counters.data(), 0, 2 * sizeof(unsigned long long), s.get()));
          cuda::launch_threshold_tile(tile.data(), m, w, r0, c0, n, cut, cand.data(),
                                      counters.data(), cand.size(), s.get());
          CHORUS_CUDA_TRY(cudaMemcpyAsync(host_counters.data(), counters.data(), sizeof(unsigned long long),
                                          cudaMemcpyDeviceToHost, s.get()));
          s.sync();
          const unsigned long long hits = host_counters.data()[0];
          if (hits <= cand.size()) break;
          // overflow: grow the buffers to the exact count and re-run the tile; nothing is dropped
          cand.resize(hits);
          tile_edges.resize(hits);
        }
        const std::int64_t hits = static_cast<std::int64_t>(host_counters.data()[0]);
        total_cand += hits;
        if (hits > 0) {
          cuda::launch_recheck(cand.data(), hits, emb.get(), act.get(), P, tile_edges.data(),
                               counters.data() + 1, parent.data(), s.get());
          CHORUS_CUDA_TRY(cudaMemcpyAsync(host_counters.data() + 1, counters.data() + 1,
                                          sizeof(unsigned long long), cudaMemcpyDeviceToHost, s.get()));
          s.sync();
          const std::size_t ne = static_cast<std::size_t>(host_counters.data()[1]);
          const std::size_t old = edges.size();
          if (static_cast<std::int64_t>(old + ne) > opt.max_edges)
            CHORUS_THROW(limit_error, "the graph has more than ", opt.max_edges,
                         " edges (--max-edges) at these thresholds; raise the threshold(s), keep "
                         "the strongest edges per account with --topk k, or raise --max-edges "
                         "(each edge needs about 24 bytes of memory)");
          edges.resize(old + ne);
          if (ne)
            CHORUS_CUDA_TRY(cudaMemcpy(edges.data() + old, tile_edges.data(), ne * sizeof(edge),
                                       cudaMemcpyDeviceToHost));
        }
        for (std::int64_t r = 0; r < m; ++r) {
          std::int64_t lo, hi;
          tiling::row_span(r0 + r, c0, T, n, &lo, &hi);
          done += hi - lo;
        }
        if (opt.progress) opt.progress(done, stats.pairs);
      }
    }
    cuda::launch_uf_flatten(parent.data(), n, s.get());
    stats.roots.resize(n);
    CHORUS_CUDA_TRY(cudaMemcpyAsync(stats.roots.data(), parent.data(), n * sizeof(std::int64_t),
                                    cudaMemcpyDeviceToHost, s.get()));
    s.sync();
    std::sort(edges.begin(), edges.end(), [](const edge& a, const edge& b) {
      return a.src != b.src ? a.src < b.src : a.dst < b.dst;
    });
    stats.candidates = total_cand;
    stats.edges = static_cast<std::int64_t>(edges.size());
    stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return edges;
  }
};

}  // namespace

std::unique_ptr<backend> make_cuda_backend() { return std::make_unique<cuda_backend>(); }

}  // namespace chorus
