// First-run diagnostics for bench/gpu_check.sh (no Google Benchmark):
//   gpu_diag props    the device as the CUDA runtime sees it (what a failed kernel depends on)
//   gpu_diag margin   the bf16 first pass's rounding error against float64 on the host:
//     (a) cuBLAS bf16 GEMM (CUDA_R_16BF in, fp32 compute, as the backend's cuBLAS path calls it):
//         stat = max over i<j |C_ij - G_ij| / (d u), G = float64 dot of the bf16-rounded rows,
//         u = 2^-24; it must stay within the accumulation part of margin::bf16_gemm(d, 1+1e-5,
//         4u), i.e. (bf16_gemm(d) - bf16_gemm(0)) / (d u) = 4 (1+2^-8)^2 (1+1e-5) / (1 - 4 d u)
//         (about 4.03), and |C - E| (E: float64 dot of the fp32 rows) within the whole margin;
//     (b) the fused kernels' threshold decisions (they emit pairs, not scores): every pair with
//         E >= cut + margin must be emitted (a false drop loses an edge), none with E < cut -
//         margin may be; from the decisions, a lower bound on the kernel's error against G
//         (a dropped pair had score < cut, so error > G - cut; an emitted one, error >= cut - G);
//     (c) the bf16 conversion kernel against round-to-nearest-even on the host, bit for bit.
//   gpu_diag selftest (no device): the judges of (a) and (b) on an emulated kernel, and on
//     planted faults they must catch.
// Exit status: 0 all checks passed, 1 a check failed, 2 no device or a CUDA error.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "chorus/scan/fused_tile.hpp"
#include "chorus/scan/margin.hpp"
#include "chorus/scan/quantize.hpp"
#include "chorus/scan/tiling.hpp"
#include "cuda_check.hpp"
#include "kernels.hpp"

namespace {

using namespace chorus;

constexpr double kNormBound = 1.0 + 1e-5;  // what the backend passes to margin::bf16_gemm
constexpr double kAccUnit = 4 * margin::kU32;

// ---- device properties ------------------------------------------------------------------------

int attr(cudaDeviceAttr a, int dev) {
  int v = 0;
  CHORUS_CUDA_TRY(cudaDeviceGetAttribute(&v, a, dev));
  return v;
}

int props() {
  int count = 0, drv = 0, rt = 0, cbm = 0, cbn = 0, cbp = 0;
  CHORUS_CUDA_TRY(cudaGetDeviceCount(&count));
  CHORUS_CUDA_TRY(cudaDriverGetVersion(&drv));
  CHORUS_CUDA_TRY(cudaRuntimeGetVersion(&rt));
  CHORUS_CUBLAS_TRY(cublasGetProperty(MAJOR_VERSION, &cbm));
  CHORUS_CUBLAS_TRY(cublasGetProperty(MINOR_VERSION, &cbn));
  CHORUS_CUBLAS_TRY(cublasGetProperty(PATCH_LEVEL, &cbp));
  std::printf("devices: %d\ndriver API: %d\nruntime: %d\ncuBLAS: %d.%d.%d\n", count, drv, rt, cbm,
              cbn, cbp);
  for (int dev = 0; dev < count; ++dev) {
    cudaDeviceProp p{};
    CHORUS_CUDA_TRY(cudaGetDeviceProperties(&p, dev));
    CHORUS_CUDA_TRY(cudaSetDevice(dev));
    std::size_t free_b = 0, total_b = 0;
    CHORUS_CUDA_TRY(cudaMemGetInfo(&free_b, &total_b));
    const int sm_khz = attr(cudaDevAttrClockRate, dev),
              mem_khz = attr(cudaDevAttrMemoryClockRate, dev);
    std::printf("device %d: %s, sm_%d%d, %d SMs, PCI %04x:%02x:%02x\n", dev, p.name, p.major,
                p.minor, p.multiProcessorCount, p.pciDomainID, p.pciBusID, p.pciDeviceID);
    std::printf("  memory: %.2f GiB total, %.2f GiB free, bus %d bits, clock %d MHz, ECC %s\n",
                total_b / 1073741824.0, free_b / 1073741824.0, p.memoryBusWidth, mem_khz / 1000,
                p.ECCEnabled ? "on" : "off");
    std::printf("  SM clock (max) %d MHz, L2 %d KiB (persisting max %d KiB), compute mode %d\n",
                sm_khz / 1000, p.l2CacheSize / 1024, p.persistingL2CacheMaxSize / 1024,
                attr(cudaDevAttrComputeMode, dev));
    std::printf(
        "  smem per block %zu B (opt-in %zu B), per SM %zu B; regs per block %d, per SM %d\n",
        p.sharedMemPerBlock, p.sharedMemPerBlockOptin, p.sharedMemPerMultiprocessor, p.regsPerBlock,
        p.regsPerMultiprocessor);
    std::printf("  threads per SM %d, blocks per SM %d, warp %d\n", p.maxThreadsPerMultiProcessor,
                p.maxBlocksPerMultiProcessor, p.warpSize);
    const int grid = cuda::fused_grid(dev);
    std::printf(
        "  fused kernel (bf16): grid %d = %d blocks per SM (occupancy of the build's "
        "kernel)\n",
        grid, grid / std::max(1, p.multiProcessorCount));
  }
  return count > 0 ? 0 : 2;
}

// ---- host references --------------------------------------------------------------------------

std::uint16_t to_bf16(float f) {  // round to nearest even (finite inputs)
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  u += 0x7FFFu + ((u >> 16) & 1u);
  return static_cast<std::uint16_t>(u >> 16);
}
double from_bf16(std::uint16_t b) {
  const std::uint32_t u = static_cast<std::uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// n unit rows of width d in groups of 16 around a centre with noise 0.3 .. 1.05, so that pair
// cosines spread over about [0.45, 0.95] within a group (many near a 0.8 cut) and near 0 across.
std::vector<float> grouped_rows(std::int64_t n, std::int64_t d, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g;
  std::vector<double> centre(static_cast<std::size_t>(d)), x(static_cast<std::size_t>(d));
  std::vector<float> rows(static_cast<std::size_t>(n * d));
  for (std::int64_t i = 0; i < n; ++i) {
    if (i % 16 == 0)
      for (auto& c : centre) c = g(rng);
    const double sigma = 0.3 + 0.05 * static_cast<double>(i % 16);
    double s2 = 0;
    for (std::int64_t k = 0; k < d; ++k) {
      x[k] = centre[k] + sigma * g(rng);
      s2 += x[k] * x[k];
    }
    const double inv = 1 / std::sqrt(s2);
    for (std::int64_t k = 0; k < d; ++k) rows[i * d + k] = static_cast<float>(x[k] * inv);
  }
  return rows;
}

// Float64 dots of every pair i < j (index i * n + j): G of the bf16 rows, E of the fp32 rows.
struct references {
  std::vector<double> G, E;
};
references host_dots(const std::vector<float>& xf, const std::vector<std::uint16_t>& xb,
                     std::int64_t n, std::int64_t d, std::int64_t kp) {
  references r{std::vector<double>(static_cast<std::size_t>(n * n)),
               std::vector<double>(static_cast<std::size_t>(n * n))};
  std::vector<double> b(static_cast<std::size_t>(n * d));
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t k = 0; k < d; ++k) b[i * d + k] = from_bf16(xb[i * kp + k]);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = i + 1; j < n; ++j) {
      double g = 0, e = 0;
      for (std::int64_t k = 0; k < d; ++k) {
        g += b[i * d + k] * b[j * d + k];
        e += static_cast<double>(xf[i * d + k]) * static_cast<double>(xf[j * d + k]);
      }
      r.G[i * n + j] = g;
      r.E[i * n + j] = e;
    }
  return r;
}

// ---- device runs ------------------------------------------------------------------------------

// The pairs a fused launch emitted, as an n x n bitmap, with malformed entries counted.
struct emitted {
  std::vector<std::uint8_t> hit;
  std::int64_t count = 0, bad = 0;
  bool overflow = false;
};
emitted to_bitmap(const std::vector<cuda::pair64>& p, unsigned long long count,
                  std::size_t capacity, std::int64_t rb, std::int64_t re, std::int64_t n) {
  emitted e;
  e.count = static_cast<std::int64_t>(count);
  e.overflow = count > capacity;
  e.hit.assign(static_cast<std::size_t>(n * n), 0);
  for (const auto& q : p) {
    const bool ok = q.i >= rb && q.i < re && q.i < q.j && q.j < n;
    if (!ok || e.hit[q.i * n + q.j]) {
      ++e.bad;  // out of range or a duplicate
      continue;
    }
    e.hit[q.i * n + q.j] = 1;
  }
  return e;
}
emitted read_pairs(const cuda::device_buffer<cuda::pair64>& out,
                   const cuda::device_buffer<unsigned long long>& count, std::int64_t rb,
                   std::int64_t re, std::int64_t n, cudaStream_t s) {
  unsigned long long c = 0;
  CHORUS_CUDA_TRY(cudaMemcpyAsync(&c, count.data(), sizeof c, cudaMemcpyDeviceToHost, s));
  CHORUS_CUDA_TRY(cudaStreamSynchronize(s));
  const std::size_t got = static_cast<std::size_t>(std::min<unsigned long long>(c, out.size()));
  std::vector<cuda::pair64> p(got);
  if (got)
    CHORUS_CUDA_TRY(cudaMemcpyAsync(p.data(), out.data(), got * sizeof(cuda::pair64),
                                    cudaMemcpyDeviceToHost, s));
  CHORUS_CUDA_TRY(cudaStreamSynchronize(s));  // p must stay alive until the copy is done
  return to_bitmap(p, c, out.size(), rb, re, n);
}

// The accumulation part of the bf16 margin in units of d u: what grows with d.
double allowed_acc(std::int64_t d) {
  const double du = static_cast<double>(d) * margin::kU32;
  return (margin::bf16_gemm(d, kNormBound, kAccUnit) - margin::bf16_gemm(0, kNormBound, kAccUnit)) /
         du;
}

// Judges bf16 threshold decisions over rows [rb, re) x columns (i, n) at `cut` against the
// references; prints one line and returns whether it passed.
bool judge_bf16(const emitted& e, const references& ref, std::int64_t n, std::int64_t d,
                std::int64_t rb, std::int64_t re, float cut) {
  const double m = margin::bf16_gemm(d, kNormBound, kAccUnit);
  const double du = static_cast<double>(d) * margin::kU32, allowed = allowed_acc(d);
  std::int64_t drops = 0, extras = 0, near = 0, pairs = 0;
  double lb = 0;
  for (std::int64_t i = rb; i < re; ++i)
    for (std::int64_t j = i + 1; j < n; ++j) {
      const bool h = e.hit[i * n + j] != 0;
      const double g = ref.G[i * n + j], x = ref.E[i * n + j];
      ++pairs;
      if (!h && x >= cut + m) ++drops;
      if (h && x < cut - m) ++extras;
      if (std::fabs(x - cut) <= m) ++near;
      lb = std::max(lb, h ? cut - g : g - cut);
    }
  const bool ok = drops == 0 && extras == 0 && e.bad == 0 && !e.overflow && lb / du <= allowed;
  std::printf(
      "fused bf16 d=%lld rows [%lld,%lld) of %lld cut %.4f: emitted %lld of %lld pairs, %lld "
      "within "
      "the margin of the cut; false drops %lld, false extras %lld, bad entries %lld%s; error >= "
      "%.3f d*u (allowed %.3f) %s\n",
      static_cast<long long>(d), static_cast<long long>(rb), static_cast<long long>(re),
      static_cast<long long>(n), cut, static_cast<long long>(e.count),
      static_cast<long long>(pairs), static_cast<long long>(near), static_cast<long long>(drops),
      static_cast<long long>(extras), static_cast<long long>(e.bad), e.overflow ? ", OVERFLOW" : "",
      lb / du, allowed, ok ? "PASS" : "FAIL");
  return ok;
}

// The margin statistic of a full n x n score matrix C (column-major, C[r + c n] = row r . row c)
// against the references; prints one line and returns whether it passed.
bool judge_gemm(const std::vector<float>& h, const references& ref, std::int64_t n, std::int64_t d,
                const char* what) {
  const double m = margin::bf16_gemm(d, kNormBound, kAccUnit);
  const double du = static_cast<double>(d) * margin::kU32, allowed = allowed_acc(d);
  double stat = 0, whole = 0;
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = i + 1; j < n; ++j) {
      const double v = h[i + j * n];
      if (!std::isfinite(v)) stat = whole = INFINITY;
      stat = std::max(stat, std::fabs(v - ref.G[i * n + j]) / du);
      whole = std::max(whole, std::fabs(v - ref.E[i * n + j]));
    }
  const bool ok = stat <= allowed && whole <= m;
  std::printf(
      "MARGIN d=%lld n=%lld: %s max|C - G|/(d u) = %.3f (allowed %.3f), max|C - E| = %.3g = %.1f%% "
      "of the margin %.3g %s\n",
      static_cast<long long>(d), static_cast<long long>(n), what, stat, allowed, whole,
      100 * whole / m, m, ok ? "PASS" : "FAIL");
  return ok;
}

struct bf16_case {
  const cuda::device_buffer<std::uint16_t>* rows;  // n x kp bf16, zero padded
  std::int64_t n, d, kp, rb, re;
};

// Run the bf16 fused kernel over rows [rb, re) x columns [rb, n) at `cut` and check its
// decisions against the references. Returns false when a check fails.
bool check_fused_bf16(const bf16_case& c, float cut, const references& ref, cudaStream_t s) {
  const std::int64_t nbr = tiling::blocks(c.re - c.rb, fused::kBM);
  const std::int64_t tiles = fused::trap_tiles(nbr, tiling::blocks(c.n - c.rb, fused::kBN));
  cuda::device_buffer<cuda::pair64> out(static_cast<std::size_t>(tiling::pair_count(c.n)));
  cuda::device_buffer<unsigned long long> count(1);
  CHORUS_CUDA_TRY(cudaMemsetAsync(count.data(), 0, sizeof(unsigned long long), s));
  cuda::launch_fused_tiles(c.rows->data() + c.rb * c.kp, c.rb, c.re, c.n, c.kp, 0, tiles, cut,
                           out.data(), count.data(), out.size(), cuda::fused_grid(0), s);
  CHORUS_CUDA_TRY(cudaStreamSynchronize(s));
  const emitted e = read_pairs(out, count, c.rb, c.re, c.n, s);
  return judge_bf16(e, ref, c.n, c.d, c.rb, c.re, cut);
}

// cuBLAS bf16 GEMM of all rows against all rows: the margin statistic. Returns false on failure.
bool check_cublas(const bf16_case& c, const references& ref, cudaStream_t s) {
  cuda::blas_handle blas(s);
  cuda::device_buffer<float> C(static_cast<std::size_t>(c.n * c.n));
  const float one = 1, zero = 0;
  CHORUS_CUBLAS_TRY(cublasGemmEx(blas.get(), CUBLAS_OP_T, CUBLAS_OP_N, int(c.n), int(c.n),
                                 int(c.kp), &one, c.rows->data(), CUDA_R_16BF, int(c.kp),
                                 c.rows->data(), CUDA_R_16BF, int(c.kp), &zero, C.data(),
                                 CUDA_R_32F, int(c.n), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  std::vector<float> h(C.size());
  CHORUS_CUDA_TRY(cudaMemcpyAsync(h.data(), C.data(), C.bytes(), cudaMemcpyDeviceToHost, s));
  CHORUS_CUDA_TRY(cudaStreamSynchronize(s));
  return judge_gemm(h, ref, c.n, c.d, "cuBLAS bf16");
}

// The int8 fused kernel: decisions against the host's margin::int8_score of the exact integer
// dots (the same fp32 formula; disagreements within 1e-5 of the cut are rounding), and no
// false drop against the float64 dot of the fp32 rows.
bool check_fused_int8(const std::vector<float>& xf, std::int64_t n, std::int64_t d,
                      const references& ref, cudaStream_t s) {
  const std::int64_t kq = fused::padded_k_int8(d);
  std::vector<std::int8_t> q(static_cast<std::size_t>(n * kq), 0);
  std::vector<float> side(static_cast<std::size_t>(4 * n)), row(static_cast<std::size_t>(kq), 0.f);
  for (std::int64_t i = 0; i < n; ++i) {
    std::copy(xf.begin() + i * d, xf.begin() + (i + 1) * d, row.begin());
    double e2 = 0, q2 = 0, r2 = 0;
    side[i] = quantize_row_int8(row.data(), kq, q.data() + i * kq, e2, q2, r2);
    int8_row_bounds(e2, q2, r2, &side[n + i], &side[2 * n + i], &side[3 * n + i]);
  }
  cuda::device_buffer<std::int8_t> dq(q.size());
  cuda::device_buffer<float> dside(side.size());
  CHORUS_CUDA_TRY(cudaMemcpyAsync(dq.data(), q.data(), q.size(), cudaMemcpyHostToDevice, s));
  CHORUS_CUDA_TRY(
      cudaMemcpyAsync(dside.data(), side.data(), side.size() * 4, cudaMemcpyHostToDevice, s));
  const float cut = static_cast<float>(0.8 - margin::kSlack);
  const std::int64_t nb = tiling::blocks(n, fused::kBM);
  cuda::device_buffer<cuda::pair64> out(static_cast<std::size_t>(tiling::pair_count(n)));
  cuda::device_buffer<unsigned long long> count(1);
  CHORUS_CUDA_TRY(cudaMemsetAsync(count.data(), 0, sizeof(unsigned long long), s));
  const float* sd = dside.data();
  cuda::launch_fused_tiles_int8(dq.data(), sd, sd + n, sd + 2 * n, sd + 3 * n, 0, n, n, kq, 0,
                                fused::trap_tiles(nb, nb), cut, out.data(), count.data(),
                                out.size(), cuda::fused_grid(0), s);
  CHORUS_CUDA_TRY(cudaStreamSynchronize(s));  // the host buffers above stay alive until here
  const emitted e = read_pairs(out, count, 0, n, n, s);
  std::int64_t mismatch = 0, drops = 0;
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = i + 1; j < n; ++j) {
      std::int32_t dot = 0;
      for (std::int64_t k = 0; k < kq; ++k) dot += std::int32_t(q[i * kq + k]) * q[j * kq + k];
      const float v = margin::int8_score(dot, side[i], side[j], side[3 * n + i], side[n + i],
                                         side[n + j], side[2 * n + j]);
      const bool h = e.hit[i * n + j] != 0;
      if (h != (v >= cut) && std::fabs(v - cut) > 1e-5f) ++mismatch;
      if (!h && ref.E[i * n + j] >= cut + margin::kSlack) ++drops;
    }
  const bool ok = mismatch == 0 && drops == 0 && e.bad == 0 && !e.overflow;
  std::printf(
      "fused int8 d=%lld n=%lld cut %.4f: emitted %lld; decisions unlike the host's %lld, false "
      "drops %lld, bad entries %lld%s %s\n",
      static_cast<long long>(d), static_cast<long long>(n), cut, static_cast<long long>(e.count),
      static_cast<long long>(mismatch), static_cast<long long>(drops),
      static_cast<long long>(e.bad), e.overflow ? ", OVERFLOW" : "", ok ? "PASS" : "FAIL");
  return ok;
}

// Every check for one width d on n rows.
bool margin_for(std::int64_t n, std::int64_t d, std::uint64_t seed) {
  const std::int64_t kp = fused::padded_k(d);
  const std::vector<float> xf = grouped_rows(n, d, seed);
  std::vector<std::uint16_t> xb(static_cast<std::size_t>(n * kp), 0);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t k = 0; k < d; ++k) xb[i * kp + k] = to_bf16(xf[i * d + k]);
  const references ref = host_dots(xf, xb, n, d, kp);
  cuda::stream s;
  bool ok = true;

  // (c) the conversion kernel, bit for bit
  cuda::device_buffer<float> df(xf.size());
  cuda::device_buffer<std::uint16_t> dconv(xf.size());
  CHORUS_CUDA_TRY(
      cudaMemcpyAsync(df.data(), xf.data(), df.bytes(), cudaMemcpyHostToDevice, s.get()));
  cuda::launch_to_bf16(df.data(), dconv.data(), n * d, s.get());
  std::vector<std::uint16_t> conv(xf.size());
  CHORUS_CUDA_TRY(
      cudaMemcpyAsync(conv.data(), dconv.data(), dconv.bytes(), cudaMemcpyDeviceToHost, s.get()));
  CHORUS_CUDA_TRY(cudaStreamSynchronize(s.get()));
  std::int64_t diff = 0;
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t k = 0; k < d; ++k) diff += conv[i * d + k] != xb[i * kp + k];
  std::printf("to_bf16 d=%lld: %lld of %lld values unlike round-to-nearest-even %s\n",
              static_cast<long long>(d), static_cast<long long>(diff),
              static_cast<long long>(n * d), diff == 0 ? "PASS" : "FAIL");
  ok &= diff == 0;

  cuda::device_buffer<std::uint16_t> rows(xb.size());
  CHORUS_CUDA_TRY(
      cudaMemcpyAsync(rows.data(), xb.data(), rows.bytes(), cudaMemcpyHostToDevice, s.get()));
  CHORUS_CUDA_TRY(cudaStreamSynchronize(s.get()));
  const bf16_case all{&rows, n, d, kp, 0, n};
  ok &= check_cublas(all, ref, s.get());
  const double m = margin::bf16_gemm(d, kNormBound, kAccUnit);
  ok &= check_fused_bf16(all, 0.0f, ref, s.get());  // dense: half the pairs sit near 0
  ok &= check_fused_bf16(all, static_cast<float>(0.8 - m), ref, s.get());  // the backend's cut
  // a rank's slice: rows [rb, re) against columns [rb, n), rows passed from rb on
  const bf16_case slice{&rows, n, d, kp, n / 4 + 3, (3 * n) / 4};
  ok &= check_fused_bf16(slice, static_cast<float>(0.8 - m), ref, s.get());
  ok &= check_fused_int8(xf, n, d, ref, s.get());
  return ok;
}

// ---- host self-test (no device): the judges on an emulated kernel ------------------------------

// The judges pass a stand-in for the fused kernel (fp32 sums of the bf16 products in k order,
// emitted when >= cut) and catch three planted faults: a dropped pair above the cut plus the
// margin, a duplicate entry, a score off by 10 d u. Returns 0 when all of that holds.
int selftest() {
  const std::int64_t n = 300, d = 100, kp = fused::padded_k(d);
  const std::vector<float> xf = grouped_rows(n, d, 5);
  std::vector<std::uint16_t> xb(static_cast<std::size_t>(n * kp), 0);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t k = 0; k < d; ++k) xb[i * kp + k] = to_bf16(xf[i * d + k]);
  const references ref = host_dots(xf, xb, n, d, kp);
  std::vector<float> C(static_cast<std::size_t>(n * n), 0.f);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = i + 1; j < n; ++j) {
      float acc = 0;
      for (std::int64_t k = 0; k < kp; ++k)
        acc += static_cast<float>(from_bf16(xb[i * kp + k]) * from_bf16(xb[j * kp + k]));
      C[i + j * n] = C[j + i * n] = acc;
    }
  const double m = margin::bf16_gemm(d, kNormBound, kAccUnit);
  const float cut = static_cast<float>(0.8 - m);
  std::vector<cuda::pair64> p;
  std::int64_t above = -1;  // a pair the kernel must emit
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = i + 1; j < n; ++j)
      if (C[i + j * n] >= cut) {
        if (above < 0 && ref.E[i * n + j] >= cut + m) above = static_cast<std::int64_t>(p.size());
        p.push_back({i, j});
      }
  const auto judge = [&](const std::vector<cuda::pair64>& q) {
    return judge_bf16(to_bitmap(q, q.size(), q.size() + 1, 0, n, n), ref, n, d, 0, n, cut);
  };
  bool ok = judge_gemm(C, ref, n, d, "emulated fp32") && judge(p) && above >= 0;
  std::printf("planted faults (each line must say FAIL):\n");
  std::vector<cuda::pair64> q = p;
  q.erase(q.begin() + above);
  ok &= !judge(q);  // a false drop
  q = p;
  q.push_back(p.front());
  ok &= !judge(q);  // a duplicate entry
  C[1 + 2 * n] += static_cast<float>(10 * d * margin::kU32);
  ok &= !judge_gemm(C, ref, n, d, "perturbed");
  std::printf("gpu_diag selftest: %s\n", ok ? "passed" : "FAILED");
  return ok ? 0 : 1;
}

int margin_all(int argc, char** argv) {
  std::int64_t n = 1100;  // not a multiple of the 128-row tile: the ragged edge is checked
  std::vector<std::int64_t> dims{64, 384, 1000};
  for (int a = 2; a + 1 < argc; a += 2) {
    if (std::string(argv[a]) == "--n") n = std::stoll(argv[a + 1]);
    if (std::string(argv[a]) == "--d") dims = {std::stoll(argv[a + 1])};
  }
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::printf("gpu_diag margin: no CUDA device\n");
    return 2;
  }
  std::printf(
      "margin::bf16_gemm(d, %.6g, 4u); u = 2^-24; G/E: float64 dots of the bf16/fp32 rows\n",
      kNormBound);
  bool ok = true;
  for (const std::int64_t d : dims) {
    ok &= margin_for(n, d, 1000 + static_cast<std::uint64_t>(d));
    std::fflush(stdout);
  }
  std::printf("gpu_diag margin: %s\n", ok ? "all checks passed" : "A CHECK FAILED");
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string cmd = argc > 1 ? argv[1] : "";
  try {
    if (cmd == "props") return props();
    if (cmd == "margin") return margin_all(argc, argv);
    if (cmd == "selftest") return selftest();
    std::fprintf(stderr, "usage: gpu_diag props | margin [--n N] [--d D] | selftest\n");
    return 2;
  } catch (const std::exception& e) {
    std::printf("gpu_diag %s: error: %s\n", cmd.c_str(), e.what());
    return 2;
  }
}
