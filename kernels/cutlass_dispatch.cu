// chorus: the Hopper first pass's public entry points (kernels/cutlass.hpp): the variant table,
// the checks on a strip, and the dispatch to the per-precision files (cutlass_bf16.cu,
// cutlass_int8.cu). No CUTLASS headers here.
#include "chorus/core/error.hpp"
#include "chorus/scan/cutlass_node.hpp"
#include "cuda_check.hpp"
#include "cutlass.hpp"

namespace chorus::cuda {

namespace cutlass_detail {
// defined in cutlass_bf16.cu and cutlass_int8.cu (`which`: 0 cooperative, 1 pingpong)
void launch_bf16(int which, const cutlass_strip& s, pair64* out, unsigned long long* count,
                 unsigned long long capacity, void* ws, std::size_t ws_bytes, cudaStream_t st);
std::size_t workspace_bf16(int which, std::int64_t m, std::int64_t cols, std::int64_t ld);
void launch_int8(int which, const cutlass_strip& s, pair64* out, unsigned long long* count,
                 unsigned long long capacity, void* ws, std::size_t ws_bytes, cudaStream_t st);
std::size_t workspace_int8(int which, std::int64_t m, std::int64_t cols, std::int64_t ld);
}  // namespace cutlass_detail

namespace {

struct variant_info {
  const char* name;
  bool int8;
  int which;  // index within its precision's file
};

constexpr variant_info kVariants[] = {
    {"bf16 cooperative 128x256x64", false, 0},
    {"bf16 pingpong 64x256x64", false, 1},
    {"int8 cooperative 128x256x128", true, 0},
    {"int8 pingpong 64x256x128", true, 1},
};
constexpr int kVariantCount = static_cast<int>(sizeof kVariants / sizeof kVariants[0]);

const variant_info& variant_of(int variant) {
  if (variant < 0 || variant >= kVariantCount)
    CHORUS_THROW(runtime_failure, "CUTLASS kernel variant ", variant, " does not exist (0..",
                 kVariantCount - 1, ")");
  return kVariants[variant];
}

}  // namespace

int cutlass_variant_count() { return kVariantCount; }

const char* cutlass_variant_name(int variant) { return variant_of(variant).name; }

bool cutlass_variant_int8(int variant) { return variant_of(variant).int8; }

void launch_cutlass_strip(int variant, const cutlass_strip& strip, pair64* out,
                          unsigned long long* count, unsigned long long capacity, void* workspace,
                          std::size_t workspace_bytes, cudaStream_t s) {
  const variant_info& v = variant_of(variant);
  if (strip.m == 0 || strip.c1 == strip.c0) return;  // nothing to score
  if (const char* why = cutlass_node::strip_problem(strip.rb, strip.re, strip.n, strip.ld, strip.r0,
                                                    strip.m, strip.c0, strip.c1))
    CHORUS_THROW(runtime_failure, "CUTLASS strip kernel (", v.name, "): ", why, " (rb=", strip.rb,
                 " re=", strip.re, " n=", strip.n, " ld=", strip.ld, " r0=", strip.r0,
                 " m=", strip.m, " c0=", strip.c0, " c1=", strip.c1, ")");
  if (strip.rows == nullptr || count == nullptr || (out == nullptr && capacity > 0))
    CHORUS_THROW(runtime_failure, "CUTLASS strip kernel (", v.name, "): null rows or pair buffer");
  // TMA needs 16-byte aligned bases (a failed descriptor is only an assert inside CUTLASS)
  const auto misaligned = [](const void* p, std::uintptr_t a) {
    return p != nullptr && reinterpret_cast<std::uintptr_t>(p) % a != 0;
  };
  if (misaligned(strip.rows, 16) || misaligned(strip.scale, 4) || misaligned(strip.err, 4) ||
      misaligned(strip.qnorm, 4) || misaligned(strip.rnorm, 4))
    CHORUS_THROW(runtime_failure, "CUTLASS strip kernel (", v.name,
                 "): rows must be 16-byte aligned and the int8 bounds 4-byte aligned");
  if (v.int8 && (strip.scale == nullptr || strip.err == nullptr || strip.qnorm == nullptr ||
                 strip.rnorm == nullptr))
    CHORUS_THROW(runtime_failure, "CUTLASS strip kernel (", v.name,
                 "): the int8 score needs scale, err, qnorm and rnorm");
  if (v.int8)
    cutlass_detail::launch_int8(v.which, strip, out, count, capacity, workspace, workspace_bytes,
                                s);
  else
    cutlass_detail::launch_bf16(v.which, strip, out, count, capacity, workspace, workspace_bytes,
                                s);
}

std::size_t cutlass_workspace_bytes(int variant, std::int64_t m, std::int64_t cols,
                                    std::int64_t ld) {
  const variant_info& v = variant_of(variant);
  if (m <= 0 || cols <= 0) return 0;
  if (const char* why = cutlass_node::strip_problem(0, m, m + cols, ld, 0, m, 0, cols))
    CHORUS_THROW(runtime_failure, "CUTLASS workspace query (", v.name, "): ", why);
  return v.int8 ? cutlass_detail::workspace_int8(v.which, m, cols, ld)
                : cutlass_detail::workspace_bf16(v.which, m, cols, ld);
}

}  // namespace chorus::cuda
