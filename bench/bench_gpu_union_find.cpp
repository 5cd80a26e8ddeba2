// GPU stage 2: union-find over a given edge list (hooking + flatten), timed with CUDA events.
#include <random>

#include "cuda_check.hpp"
#include "gpu_bench_util.hpp"
#include "kernels.hpp"

namespace {

using namespace chorus;

void BM_GpuUnionFind(benchmark::State& state) {
  if (!bench::need_gpu(state)) return;
  const std::int64_t n = state.range(0), m = state.range(1);
  std::mt19937_64 rng(3);
  std::vector<edge> edges(static_cast<std::size_t>(m));
  for (auto& e : edges) {
    const std::int64_t a = static_cast<std::int64_t>(rng() % n);
    const std::int64_t b =
        std::min<std::int64_t>(n - 1, a + 1 + static_cast<std::int64_t>(rng() % 1000));
    e = {a, b, 0.9f, 0.9f};
  }
  cuda::stream s;
  cuda::device_buffer<edge> d_edges(edges.size());
  cuda::device_buffer<std::int64_t> parent(n);
  // on the stream the kernels run on (a legacy-stream copy would not be ordered before them)
  CHORUS_CUDA_TRY(cudaMemcpyAsync(d_edges.data(), edges.data(), edges.size() * sizeof(edge),
                                  cudaMemcpyHostToDevice, s.get()));
  s.sync();
  bench::time_on_stream(state, s.get(), [&] {
    cuda::launch_uf_init(parent.data(), n, s.get());
    cuda::launch_uf_unite_edges(d_edges.data(), m, parent.data(), s.get());
    cuda::launch_uf_flatten(parent.data(), n, s.get());
  });
  state.counters["edges/s"] =
      benchmark::Counter(double(m), benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

BENCHMARK(BM_GpuUnionFind)
    ->ArgNames({"n", "m"})
    ->Args({10'000'000, 50'000'000})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
