// Benchmark of the scoring stage (tile GEMM + threshold + exact re-check) of the CPU backend,
// from prepared rows in memory. Reports pairs/s and the GEMM rate over the i<j half.
//   build/bench/bench_score --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>
#include <omp.h>

#include <cmath>
#include <random>

#include "bench_util.hpp"
#include "chorus/scan/backend.hpp"

namespace {

void BM_Score(benchmark::State& state) {
  const std::int64_t n = state.range(0), d = state.range(1);
  const auto prec = static_cast<chorus::precision>(state.range(2));
  static chorus::view_matrix rows;
  if (rows.n != n || rows.d != d) rows = chorus::bench::unit_view(n, d, 1);
  chorus::score_problem pb;
  pb.embedding = &rows;
  pb.params.mode = chorus::view_mode::embedding;
  pb.params.threshold = 0.8;
  chorus::score_options opt;
  opt.prec = prec;
  auto be = chorus::make_cpu_backend();
  chorus::score_stats st;
  for (auto _ : state) {
    auto edges = be->find_edges(pb, opt, st);
    benchmark::DoNotOptimize(edges.data());
  }
  const double pairs = double(n) * double(n - 1) / 2;
  state.counters["pairs/s"] =
      benchmark::Counter(pairs, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GOP/s(i<j)"] = benchmark::Counter(2.0 * pairs * double(d) / 1e9,
                                                    benchmark::Counter::kIsIterationInvariantRate);
  state.counters["candidates"] = double(st.candidates);
  state.counters["edges"] = double(st.edges);
  state.counters["threads"] = omp_get_max_threads();
  state.SetLabel(chorus::to_string(st.used));
}

}  // namespace

BENCHMARK(BM_Score)
    ->ArgNames({"n", "d", "prec"})
    ->Args({20000, 384, int(chorus::precision::fp32)})
    ->Args({20000, 384, int(chorus::precision::bf16)})
    ->Args({20000, 384, int(chorus::precision::int8)})
    ->Args({20000, 128, int(chorus::precision::int8)})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(1.0);

BENCHMARK_MAIN();
