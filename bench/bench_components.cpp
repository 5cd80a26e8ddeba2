// Benchmark of the components stage: parallel union-find over an edge list, then canonical
// labels. Reports edges/s.
#include <benchmark/benchmark.h>

#include <random>

#include "chorus/graph/components.hpp"

namespace {

void BM_Components(benchmark::State& state) {
  const std::int64_t n = state.range(0), m = state.range(1);
  std::mt19937_64 rng(3);
  std::vector<chorus::edge> edges(m);
  for (auto& e : edges) {  // clustered edges: endpoints within windows of 1000 rows
    const std::int64_t a = rng() % n, b = std::min<std::int64_t>(n - 1, a + 1 + rng() % 1000);
    e = {a, b, 0.9f, 0.9f};
  }
  for (auto _ : state) {
    auto roots = chorus::component_roots(n, edges);
    std::int64_t k = 0;
    auto labels = chorus::canonical_labels(roots, k);
    benchmark::DoNotOptimize(labels.data());
  }
  state.counters["edges/s"] =
      benchmark::Counter(double(m), benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

BENCHMARK(BM_Components)
    ->Args({1'000'000, 2'000'000})
    ->Args({10'000'000, 10'000'000})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

BENCHMARK_MAIN();
