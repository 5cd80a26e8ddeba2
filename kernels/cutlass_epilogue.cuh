// chorus: the custom CUTLASS 3 epilogue visitor node of the Hopper first pass (device code, for
// sm_90a). It sees every accumulator of a tile with its coordinates, tests the candidate rule of
// chorus/scan/cutlass_node.hpp, and appends the hits as pair64 with one atomic per warp and
// fragment. Its
// children (int8 only) are CUTLASS's broadcast nodes bringing row i's and column j's data.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "chorus/scan/cutlass_node.hpp"
#include "cuda_check.hpp"
#include "cute/tensor.hpp"
#include "cutlass.hpp"
#include "cutlass/cutlass.h"
#include "cutlass/epilogue/collective/collective_builder.hpp"
#include "cutlass/epilogue/fusion/sm90_callbacks_tma_warpspecialized.hpp"
#include "cutlass/epilogue/fusion/sm90_visitor_load_tma_warpspecialized.hpp"
#include "cutlass/epilogue/fusion/sm90_visitor_tma_warpspecialized.hpp"
#include "cutlass/gemm/collective/collective_builder.hpp"
#include "cutlass/gemm/device/gemm_universal_adapter.h"
#include "cutlass/gemm/dispatch_policy.hpp"
#include "cutlass/gemm/kernel/gemm_universal.hpp"
#include "cutlass/kernel_hardware_info.h"
#include "cutlass/util/packed_stride.hpp"
#include "kernels.hpp"

namespace chorus::cuda::cutlass_epi {

/// Host arguments (= device parameters) of the node: where the strip lies and where hits go.
struct threshold_params {
  pair64* out = nullptr;
  unsigned long long* count = nullptr;
  unsigned long long capacity = 0;
  std::int64_t r0 = 0, c0 = 0, re = 0, n = 0;
  float cut = 0;
};

/// The root node. kInt8: the accumulator is an exact int32 dot and the six children are, in
/// order, row i's scale, rnorm, err (column broadcasts) and column j's scale, err, qnorm (row
/// broadcasts); else the accumulator is the fp32 bf16 score. visit() returns a dummy
/// Array<ElementAux> (D is void: nothing is stored).
template <bool kInt8>
struct threshold_node {
  using ElementAux = std::int8_t;  // sizes the (unused) D staging; int8 keeps it small
  struct SharedStorage {};
  using Arguments = threshold_params;
  using Params = threshold_params;

  template <class ProblemShape>
  static constexpr Params to_underlying_arguments(ProblemShape const&, Arguments const& args,
                                                  void*) {
    return args;
  }
  template <class ProblemShape>
  static bool can_implement(ProblemShape const&, Arguments const& args) {
    return args.count != nullptr && (args.out != nullptr || args.capacity == 0);
  }
  template <class ProblemShape>
  static std::size_t get_workspace_size(ProblemShape const&, Arguments const&) {
    return 0;
  }
  template <class ProblemShape>
  static cutlass::Status initialize_workspace(ProblemShape const&, Arguments const&, void*,
                                              cudaStream_t, cutlass::CudaHostAdapter* = nullptr) {
    return cutlass::Status::kSuccess;
  }

  CUTLASS_HOST_DEVICE threshold_node() {}
  CUTLASS_HOST_DEVICE threshold_node(Params const& p, SharedStorage const&) : params(p) {}

  Params params;

  CUTLASS_DEVICE bool is_producer_load_needed() const { return false; }
  CUTLASS_DEVICE bool is_C_load_needed() const { return false; }

  template <class... Args>
  CUTLASS_DEVICE auto get_producer_load_callbacks(
      cutlass::epilogue::fusion::detail::ProducerLoadArgs<Args...> const&) {
    return cutlass::epilogue::fusion::detail::EmptyProducerLoadCallbacks{};
  }

  // Per tile: the thread's relative coordinates and the bounds they are tested against
  // (cutlass_node::thread_limits_of), so that each accumulator costs three 32-bit compares of
  // compile-time constants and its score compare.
  template <class CTensor>
  struct ConsumerStoreCallbacks : cutlass::epilogue::fusion::detail::EmptyConsumerStoreCallbacks {
    CUTLASS_DEVICE ConsumerStoreCallbacks(CTensor c, cutlass_node::thread_limits lim, int base_m,
                                          int base_n, Params const& p)
        : tCcD(c), lim(lim), base_m(base_m), base_n(base_n), cut(p.cut), params(p) {}

    CTensor tCcD;  // (CPY, CPY_M, CPY_N, EPI_M, EPI_N) coordinates relative to the first element
    cutlass_node::thread_limits lim;
    int base_m, base_n;  // strip-local (row, column) of the thread's first element
    float cut;
    Params const& params;

    template <typename ElementAccumulator, int FragmentSize, typename... ElementInputs>
    CUTLASS_DEVICE cutlass::Array<ElementAux, FragmentSize> visit(
        cutlass::Array<ElementAccumulator, FragmentSize> const& acc, int epi_v, int epi_m,
        int epi_n, cutlass::Array<ElementInputs, FragmentSize> const&... inputs) {
      static_assert(FragmentSize <= 32, "hit bits are kept in one 32-bit word");
      static_assert(!kInt8 || sizeof...(ElementInputs) == 6, "int8 node takes six broadcasts");
      auto coords = tCcD(cute::_, cute::_, cute::_, epi_m, epi_n);
      std::uint32_t bits = 0;
      CUTLASS_PRAGMA_UNROLL
      for (int v = 0; v < FragmentSize; ++v) {
        const auto c = coords(epi_v * FragmentSize + v);
        bool hit = cutlass_node::thread_pair(lim, static_cast<int>(cute::get<0>(c)),
                                             static_cast<int>(cute::get<1>(c)));
        if constexpr (kInt8) {
          hit = hit && int8_score(acc[v], v, inputs...) >= cut;
        } else {
          hit = hit && static_cast<float>(acc[v]) >= cut;
        }
        bits |= static_cast<std::uint32_t>(hit) << v;
      }
      // the slow path only where some converged lane has a hit: one atomic for the warp's hits
      // of this fragment, each lane writing its own from its first slot (cutlass_node.hpp)
      const unsigned active = __activemask();
      if (__any_sync(active, bits != 0)) {
        const int cnt = cutlass_node::popcount32(bits);
        std::uint32_t planes[cutlass_node::kCountPlanes];
        CUTLASS_PRAGMA_UNROLL
        for (int b = 0; b < cutlass_node::kCountPlanes; ++b)
          planes[b] = __ballot_sync(active, (cnt >> b) & 1);
        const int lane = static_cast<int>(threadIdx.x & 31u);
        const int leader = cutlass_node::append_leader(active);
        unsigned long long slot = 0;
        if (lane == leader)
          slot = atomicAdd(params.count,
                           static_cast<unsigned long long>(cutlass_node::count_total(planes)));
        slot = __shfl_sync(active, slot, leader) +
               static_cast<unsigned long long>(cutlass_node::count_prefix(planes, lane));
        CUTLASS_PRAGMA_UNROLL
        for (int v = 0; v < FragmentSize; ++v) {
          if (!((bits >> v) & 1u)) continue;
          const auto c = coords(epi_v * FragmentSize + v);
          if (slot < params.capacity)
            params.out[slot] = pair64{params.r0 + base_m + static_cast<int>(cute::get<0>(c)),
                                      params.c0 + base_n + static_cast<int>(cute::get<1>(c))};
          ++slot;
        }
      }
      cutlass::Array<ElementAux, FragmentSize> none;
      none.fill(ElementAux(0));
      return none;
    }

   private:
    template <typename Acc, typename F, int N>
    CUTLASS_DEVICE static float int8_score(Acc dot, int v, cutlass::Array<F, N> const& si,
                                           cutlass::Array<F, N> const& ni,
                                           cutlass::Array<F, N> const& ei,
                                           cutlass::Array<F, N> const& sj,
                                           cutlass::Array<F, N> const& ej,
                                           cutlass::Array<F, N> const& mj) {
      return cutlass_node::int8_pair_score(static_cast<std::int32_t>(dot),
                                           cutlass_node::row_side{si[v], ni[v], ei[v]},
                                           cutlass_node::col_side{sj[v], ej[v], mj[v]});
    }
  };

  template <bool ReferenceSrc, class... Args>
  CUTLASS_DEVICE auto get_consumer_store_callbacks(
      cutlass::epilogue::fusion::detail::ConsumerStoreArgs<Args...> const& args) {
    const int M = static_cast<int>(cute::get<0>(args.problem_shape_mnkl));
    const int N = static_cast<int>(cute::get<1>(args.problem_shape_mnkl));
    const int base_m = static_cast<int>(
        cutlass_node::local_index(M, static_cast<int>(cute::get<0>(args.residue_tCcD)), 0));
    const int base_n = static_cast<int>(
        cutlass_node::local_index(N, static_cast<int>(cute::get<1>(args.residue_tCcD)), 0));
    const cutlass_node::strip_window w{params.r0, params.c0, params.re, params.n, M, N};
    return ConsumerStoreCallbacks<decltype(args.tCcD)>(
        args.tCcD, cutlass_node::thread_limits_of(w, base_m, base_n), base_m, base_n, params);
  }
};

/// The fusion callbacks of a variant: the bare node (bf16), or the node over the six
/// broadcasts of the int8 score's per-row data (fp32, loaded element by element: Alignment 1,
/// since the strip's offsets r0 - rb and c0 - rb need not be multiples of 4).
template <bool kInt8, class Tile>
struct strip_callbacks {
  using type = threshold_node<false>;
};
template <class Tile>
struct strip_callbacks<true, Tile> {
  using RowI =
      cutlass::epilogue::fusion::Sm90ColBroadcast<0, Tile, float, float,
                                                  cute::Stride<cute::_1, cute::_0, cute::_0>, 1>;
  using ColJ =
      cutlass::epilogue::fusion::Sm90RowBroadcast<0, Tile, float, float,
                                                  cute::Stride<cute::_0, cute::_1, cute::_0>, 1>;
  using type =
      cutlass::epilogue::fusion::Sm90EVT<threshold_node<true>, RowI, RowI, RowI, ColJ, ColJ, ColJ>;
};

/// One kernel variant: a GemmUniversal over a strip (A = rows [r0, r0 + m), K-major; B = rows
/// [c0, c1), K-major; K = ld; C and D void) with the threshold node as its whole epilogue.
/// `In`: cutlass::bfloat16_t or int8_t; `Acc`: float or int32_t.
template <class In, class Acc, class Tile, class MainSchedule, class EpiSchedule>
struct strip_gemm {
  static constexpr bool kInt8 = std::is_same_v<In, std::int8_t>;
  static constexpr int kAlign = 16 / static_cast<int>(sizeof(In));  // 16-byte TMA rows
  using Callbacks = typename strip_callbacks<kInt8, Tile>::type;
  using Cluster = cute::Shape<cute::_1, cute::_1, cute::_1>;
  using RowMajor = cutlass::layout::RowMajor;
  using ColMajor = cutlass::layout::ColumnMajor;

  using Epilogue = typename cutlass::epilogue::collective::CollectiveBuilder<
      cutlass::arch::Sm90, cutlass::arch::OpClassTensorOp, Tile, Cluster,
      cutlass::epilogue::collective::EpilogueTileAuto, Acc, float, void, RowMajor, 1, void,
      RowMajor, 1, EpiSchedule, Callbacks>::CollectiveOp;
  using Mainloop = typename cutlass::gemm::collective::CollectiveBuilder<
      cutlass::arch::Sm90, cutlass::arch::OpClassTensorOp, In, RowMajor, kAlign, In, ColMajor,
      kAlign, Acc, Tile, Cluster,
      cutlass::gemm::collective::StageCountAutoCarveout<static_cast<int>(
          sizeof(typename Epilogue::SharedStorage))>,
      MainSchedule>::CollectiveOp;
  using Kernel =
      cutlass::gemm::kernel::GemmUniversal<cute::Shape<int, int, int, int>, Mainloop, Epilogue>;
  using Gemm = cutlass::gemm::device::GemmUniversalAdapter<Kernel>;
  using Arguments = typename Gemm::Arguments;

  // The node's arguments, with the broadcasts' pointers offset to the strip's first row/column.
  static typename Callbacks::Arguments fusion_args(const cutlass_strip& s, pair64* out,
                                                   unsigned long long* count,
                                                   unsigned long long capacity) {
    const threshold_params node{out, count, capacity, s.r0, s.c0, s.re, s.n, s.cut};
    if constexpr (kInt8) {
      const std::int64_t ri = s.r0 - s.rb, cj = s.c0 - s.rb;
      return {{s.scale + ri}, {s.rnorm + ri}, {s.err + ri}, {s.scale + cj},
              {s.err + cj},   {s.qnorm + cj}, node};
    } else {
      return node;
    }
  }

  static Arguments arguments(const cutlass_strip& s, pair64* out, unsigned long long* count,
                             unsigned long long capacity) {
    const int M = static_cast<int>(s.m), N = static_cast<int>(s.c1 - s.c0);
    const int K = static_cast<int>(s.ld);
    const In* base = static_cast<const In*>(s.rows);
    const In* a = base == nullptr ? nullptr : base + (s.r0 - s.rb) * s.ld;
    const In* b = base == nullptr ? nullptr : base + (s.c0 - s.rb) * s.ld;
    using StrideA = typename Kernel::StrideA;
    using StrideB = typename Kernel::StrideB;
    const StrideA sa = cutlass::make_cute_packed_stride(StrideA{}, cute::make_shape(M, K, 1));
    const StrideB sb = cutlass::make_cute_packed_stride(StrideB{}, cute::make_shape(N, K, 1));
    cutlass::KernelHardwareInfo hw;
    CHORUS_CUDA_TRY(cudaGetDevice(&hw.device_id));
    CHORUS_CUDA_TRY(
        cudaDeviceGetAttribute(&hw.sm_count, cudaDevAttrMultiProcessorCount, hw.device_id));
    Arguments args{cutlass::gemm::GemmUniversalMode::kGemm,
                   {M, N, K, 1},
                   {a, sa, b, sb},
                   {fusion_args(s, out, count, capacity), nullptr, {}, nullptr, {}},
                   hw};
    return args;
  }

  /// Device workspace for a strip of m rows by `cols` columns and row stride ld.
  static std::size_t workspace(std::int64_t m, std::int64_t cols, std::int64_t ld) {
    cutlass_strip s;
    s.m = m;
    s.c1 = cols;
    s.ld = ld;
    s.n = cols > m ? cols : m;
    return Gemm::get_workspace_size(arguments(s, nullptr, nullptr, 0));
  }

  /// Enqueue the strip on `stream`.
  static void launch(const cutlass_strip& s, pair64* out, unsigned long long* count,
                     unsigned long long capacity, void* ws, std::size_t ws_bytes,
                     cudaStream_t stream) {
    const Arguments args = arguments(s, out, count, capacity);
    Gemm gemm;
    cutlass::Status st = gemm.can_implement(args);
    if (st != cutlass::Status::kSuccess)
      CHORUS_THROW(runtime_failure, "CUTLASS strip kernel cannot run this strip (m=", s.m,
                   ", cols=", s.c1 - s.c0, ", ld=", s.ld, "): ", cutlassGetStatusString(st));
    const std::size_t need = Gemm::get_workspace_size(args);
    if (need > ws_bytes || (need > 0 && ws == nullptr))
      CHORUS_THROW(runtime_failure, "CUTLASS strip kernel needs ", need,
                   " bytes of workspace, given ", ws_bytes);
    st = gemm.initialize(args, ws, stream);
    if (st != cutlass::Status::kSuccess)
      CHORUS_THROW(runtime_failure,
                   "CUTLASS strip kernel initialisation failed: ", cutlassGetStatusString(st));
    st = gemm.run(stream);
    if (st != cutlass::Status::kSuccess)  // run() has read (and cleared) the CUDA error already
      CHORUS_THROW(runtime_failure,
                   "CUTLASS strip kernel launch failed: ", cutlassGetStatusString(st), " (m=", s.m,
                   ", cols=", s.c1 - s.c0, ", ld=", s.ld, ")");
    CHORUS_CUDA_CHECK_LAUNCH();
  }
};

/// Static facts of a variant (for gpu_check's table and the ptxas report).
template <class G>
constexpr int kernel_smem_bytes() {
  return static_cast<int>(G::Kernel::SharedStorageSize);
}

}  // namespace chorus::cuda::cutlass_epi
