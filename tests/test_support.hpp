// Test helpers: write input files, a float64 brute-force reference, read results back.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "build_paths.hpp"
#include "chorus/core/decision.hpp"
#include "chorus/core/error.hpp"
#include "chorus/generate/generate.hpp"
#include "chorus/io/h5.hpp"
#include "chorus/io/input.hpp"
#include "chorus/io/row_feed.hpp"
#include "chorus/scan/backend.hpp"

namespace chorus::test {

/// The message of the chorus::error that f() throws, or "(no exception)".
template <typename F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const error& e) {
    return e.what();
  }
  return "(no exception)";
}

/// A fresh scratch directory for one test.
inline std::string scratch_dir(const std::string& name) {
  std::string d =
      std::string(::testing::TempDir()) + "chorus_" + name + "_" + std::to_string(getpid());
  std::string cmd = "rm -rf '" + d + "' && mkdir -p '" + d + "'";
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("mkdir " + d);
  return d;
}

/// Generate a synthetic input at `path` (overwriting) and return the options used.
inline generate_options generated(const std::string& path, std::int64_t accounts, int dim, int bins,
                                  int clusters, std::uint64_t seed) {
  generate_options g;
  g.accounts = accounts;
  g.dim = dim;
  g.bins = bins;
  g.clusters = clusters;
  g.seed = seed;
  g.out = path;
  g.force = true;
  generate_dataset(g);
  return g;
}

/// Rows of an input, in float64 (row-major), as written to the file.
struct dense {
  std::int64_t n = 0, d = 0;
  std::vector<double> x;
  double at(std::int64_t i, std::int64_t k) const { return x[i * d + k]; }
};

/// Clustered random rows: groups of near-duplicates of varied tightness, plus noise rows,
/// exact duplicates and zero rows, so that every kind of pair occurs.
inline dense clustered(std::int64_t n, std::int64_t d, std::uint64_t seed, bool zeros = true) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g;
  dense m{n, d, std::vector<double>(n * d)};
  std::vector<double> centre(d);
  double spread = 0.3;
  for (std::int64_t i = 0; i < n; ++i) {
    if (i % 11 == 0) {  // a new group with its own tightness
      for (auto& c : centre) c = g(rng);
      spread = 0.05 + 0.5 * std::uniform_real_distribution<double>(0, 1)(rng);
    }
    for (std::int64_t k = 0; k < d; ++k) m.x[i * d + k] = centre[k] + spread * g(rng) + 0.3;
    if (i % 17 == 5 && i > 0)  // an exact duplicate of the previous row
      for (std::int64_t k = 0; k < d; ++k) m.x[i * d + k] = m.x[(i - 1) * d + k];
    if (zeros && i % 29 == 13)
      for (std::int64_t k = 0; k < d; ++k) m.x[i * d + k] = 0;
  }
  return m;
}

/// Write an input file with ids 1000+row, and the given views (either may be empty).
inline void write_input(const std::string& path, std::int64_t n, const dense* emb, const dense* act,
                        const std::vector<std::int64_t>* truth = nullptr) {
  h5::handle f = h5::create(path);
  std::vector<std::int64_t> ids(n);
  for (std::int64_t i = 0; i < n; ++i) ids[i] = 1000 + i * 3;
  h5::write_vector(f, "/accounts/id", ids);
  if (emb) {
    std::vector<float> v(emb->x.begin(), emb->x.end());
    auto ds = h5::create_dataset<float>(f, "/embedding", {std::uint64_t(n), std::uint64_t(emb->d)});
    h5::write_rows(ds, 0, n, v.data());
  }
  if (act) {
    std::vector<std::int32_t> v(act->x.size());
    for (std::size_t k = 0; k < v.size(); ++k)
      v[k] = static_cast<std::int32_t>(std::lround(act->x[k]));
    auto ds =
        h5::create_dataset<std::int32_t>(f, "/activity", {std::uint64_t(n), std::uint64_t(act->d)});
    h5::write_rows(ds, 0, n, v.data());
  }
  if (truth) h5::write_vector(f, "/truth/cluster", *truth);
}

/// Float64 similarity of rows i, j as the contract defines it (cosine; Pearson for activity
/// when centre is true). NaN when a row has zero norm / variance.
inline double sim64(const dense& m, std::int64_t i, std::int64_t j, bool centre) {
  double mi = 0, mj = 0;
  if (centre) {
    for (std::int64_t k = 0; k < m.d; ++k) mi += m.at(i, k), mj += m.at(j, k);
    mi /= double(m.d);
    mj /= double(m.d);
  }
  double dot = 0, ni = 0, nj = 0;
  for (std::int64_t k = 0; k < m.d; ++k) {
    const double a = m.at(i, k) - mi, b = m.at(j, k) - mj;
    dot += a * b;
    ni += a * a;
    nj += b * b;
  }
  if (ni <= 1e-24 || nj <= 1e-24) return NAN;
  return dot / std::sqrt(ni * nj);
}

/// Activity counts: bursts per group so that correlations cover [-1, 1]; integer-valued.
inline dense activity_counts(std::int64_t n, std::int64_t t, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::poisson_distribution<int> quiet(0.3);
  dense m{n, t, std::vector<double>(n * t)};
  std::vector<double> rate(t);
  for (std::int64_t i = 0; i < n; ++i) {
    if (i % 7 == 0)
      for (auto& r : rate) r = (rng() % 4 == 0) ? 6.0 : 0.2;
    const double mix = (i % 3) * 0.5;
    for (std::int64_t k = 0; k < t; ++k) {
      std::poisson_distribution<int> p(rate[k] + mix);
      m.x[i * t + k] = p(rng) + quiet(rng);
    }
    if (i % 23 == 4)  // constant row: zero variance
      for (std::int64_t k = 0; k < t; ++k) m.x[i * t + k] = 2;
  }
  return m;
}

/// Edges as read back from a results file.
struct result_edges {
  std::vector<std::int64_t> src, dst, labels;
  std::vector<float> se, sa;
};

inline result_edges read_results(const std::string& path) {
  h5::handle f = h5::open_read(path);
  result_edges r;
  r.src = h5::read_all<std::int64_t>(h5::open_dataset(f, "/edges/src"));
  r.dst = h5::read_all<std::int64_t>(h5::open_dataset(f, "/edges/dst"));
  r.se = h5::read_all<float>(h5::open_dataset(f, "/edges/sim_embedding"));
  r.sa = h5::read_all<float>(h5::open_dataset(f, "/edges/sim_activity"));
  r.labels = h5::read_all<std::int64_t>(h5::open_dataset(f, "/labels"));
  return r;
}

// Copies the views of `src` into `dst` block by block on a thread, publishing as it goes, with
// a pause between blocks so that scoring catches up with the reader.
struct slow_reader {
  loaded_input dst;
  row_feed feed;
  std::thread t;
  slow_reader(const loaded_input& src, std::int64_t first, std::int64_t block, int pause_us,
              std::int64_t fail_at = -1)
      : dst(src), feed(first, src.info.n) {
    for (view_matrix* v : {&dst.embedding, &dst.activity}) {
      std::fill(v->data.begin(), v->data.end(), -7.0f);  // garbage until "read"
      std::fill(v->inv_norm.begin(), v->inv_norm.end(), 0.0);
      std::fill(v->valid.begin(), v->valid.end(), 0);
    }
    t = std::thread([this, &src, first, block, pause_us, fail_at] {
      const std::int64_t n = src.info.n;
      for (std::int64_t r0 = first; r0 < n; r0 += block) {
        const std::int64_t r1 = std::min(n, r0 + block);
        if (fail_at >= r0 && fail_at < r1) {
          try {
            CHORUS_THROW(input_error, "/embedding row ", fail_at, " contains NaN or Inf");
          } catch (...) {
            feed.fail(std::current_exception());
          }
          return;
        }
        for (auto [s, d] :
             {std::pair{&src.embedding, &dst.embedding}, std::pair{&src.activity, &dst.activity}}) {
          if (!s->present()) continue;
          std::copy(s->data.begin() + (r0 - first) * s->d, s->data.begin() + (r1 - first) * s->d,
                    d->data.begin() + (r0 - first) * d->d);
          std::copy(s->inv_norm.begin() + r0, s->inv_norm.begin() + r1, d->inv_norm.begin() + r0);
          std::copy(s->valid.begin() + r0, s->valid.begin() + r1, d->valid.begin() + r0);
        }
        feed.publish(r1);
        std::this_thread::sleep_for(std::chrono::microseconds(pause_us));
      }
      feed.finish();
    });
  }
  ~slow_reader() { t.join(); }
};

}  // namespace chorus::test
