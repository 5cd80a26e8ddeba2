// chorus: synthetic data generator. The model is documented in datasets/GENERATOR.md.
//
// Layout of the randomness: every random number is a hash of (seed, stream, a, i), where `stream`
// names a purpose, `a` is usually a row, cluster or group index and `i` an element index. Rows
// are generated independently from their own index, so the output does not depend on the number
// of threads or on the block size. Rows are mapped to roles through a keyed bijection of [0, N)
// (a Feistel network with cycle walking), so the members of a planted cluster are scattered.
#include "chorus/generate/generate.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "chorus/core/error.hpp"
#include "chorus/io/h5.hpp"

namespace chorus {
namespace {

using u64 = std::uint64_t;
using i64 = std::int64_t;

constexpr double kPi = 3.14159265358979323846;
constexpr char kGeneratorName[] = "chorus-generate 1";

// ------------------------------------------------------------------------------------------
// Counter-based randomness.

constexpr u64 kGolden = 0x9E3779B97F4A7C15ull;
constexpr u64 kOdd = 0xD1B54A32D192ED03ull;

inline u64 mix64(u64 z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/// Purposes of random numbers; each gets an independent family of streams.
enum stream_id : u64 {
  s_role_perm = 1,
  s_id_perm,
  s_topic_centre,
  s_topic_weight,
  s_cluster_plan,
  s_cluster,
  s_cluster_centre,
  s_cluster_sched,
  s_crowd_plan,
  s_crowd,
  s_crowd_centre,
  s_timing_plan,
  s_timing,
  s_row_param,
  s_row_emb,
  s_row_burst,
  s_row_count,
  s_row_day,
  s_row_sched,
  s_row_event,
};

/// One stream of random numbers: element i is a pure function of (key, i).
struct stream {
  u64 key;
  stream(u64 seed, u64 purpose, u64 a) : key(mix64(mix64(seed ^ mix64(purpose * kGolden)) + a)) {}
  u64 bits(u64 i) const { return mix64(key + (i + 1) * kOdd); }
  /// Uniform in (0, 1).
  double uniform(u64 i) const { return (static_cast<double>(bits(i) >> 11) + 0.5) * 0x1.0p-53; }
  double uniform(u64 i, double lo, double hi) const { return lo + (hi - lo) * uniform(i); }
  /// Two independent standard normals (Marsaglia's polar method on the 32-bit halves of one
  /// hash; a rejected pair is replaced by the next hash of a chain, so it stays deterministic).
  void gauss2(u64 i, double& z0, double& z1) const {
    u64 h = bits(i);
    for (;;) {
      const double u = static_cast<double>(static_cast<std::int32_t>(h >> 32)) * 0x1.0p-31;
      const double v =
          static_cast<double>(static_cast<std::int32_t>(h & 0xffffffffull)) * 0x1.0p-31;
      const double s = u * u + v * v;
      if (s < 1.0 && s > 0.0) {
        const double f = std::sqrt(-2.0 * std::log(s) / s);
        z0 = u * f;
        z1 = v * f;
        return;
      }
      h = mix64(h + kGolden);
    }
  }
  double gauss(u64 i) const {
    double z0, z1;
    gauss2(i, z0, z1);
    return z0;
  }
  /// Integer in [0, n).
  u64 below(u64 i, u64 n) const {
    return static_cast<u64>(uniform(i) * static_cast<double>(n)) % n;
  }
};

/// Poisson variate from one uniform u (inversion) and, for large means, a normal z.
inline int poisson(double lam, double u, double z) {
  if (lam <= 0.0) return 0;
  if (lam < 30.0) {
    double p = std::exp(-lam), c = p;
    int k = 0;
    while (u > c && k < 200) {
      ++k;
      p *= lam / k;
      c += p;
    }
    return k;
  }
  double x = std::floor(lam + std::sqrt(lam) * z + 0.5);
  return x < 0 ? 0 : static_cast<int>(std::min(x, 1e9));
}

/// A keyed bijection of [0, n): a 4-round Feistel network on the smallest even number of bits
/// that covers n, with cycle walking for values >= n.
class permutation {
 public:
  permutation() = default;
  permutation(u64 n, u64 seed, u64 purpose) : n_(n) {
    int bits = 2;
    while (bits < 62 && (u64{1} << bits) < n) bits += 2;
    half_ = bits / 2;
    mask_ = (u64{1} << half_) - 1;
    for (int r = 0; r < 4; ++r) keys_[r] = stream(seed, purpose, 0).bits(r);
  }
  u64 operator()(u64 x) const {
    do x = once(x);
    while (x >= n_);
    return x;
  }

 private:
  u64 once(u64 x) const {
    u64 l = x >> half_, r = x & mask_;
    for (int k = 0; k < 4; ++k) {
      u64 nl = r;
      r = l ^ (mix64(r ^ keys_[k]) & mask_);
      l = nl;
    }
    return (l << half_) | r;
  }
  u64 n_ = 1, mask_ = 0, keys_[4] = {};
  int half_ = 1;
};

// ------------------------------------------------------------------------------------------
// The model.

/// A shared posting schedule: at bin `slots[i].first` every follower is asked for
/// `slots[i].second` posts. Each post is made with probability q and lands one bin early or late
/// with probability delta (half each). Followers add their own Poisson background (per bin).
struct schedule {
  std::vector<std::pair<int, int>> slots;
  double q = 1.0, delta = 0.0, background = 0.0;
};

/// Expected Pearson correlation of two followers' rows (ratio of expectations over the bins).
double expected_corr(const std::vector<std::pair<int, int>>& slots, int bins, double q,
                     double delta, double background) {
  std::vector<double> mu(bins, background), var(bins, background);
  for (const auto& slot : slots) {
    // not a structured binding: clang < 16 cannot capture one in the lambda below
    const int b = slot.first, n = slot.second;
    double pl = b > 0 ? delta / 2 : 0.0, pr = b + 1 < bins ? delta / 2 : 0.0;
    auto add = [&](int t, double pi) {
      double p = q * pi;
      mu[t] += n * p;
      var[t] += n * p * (1.0 - p);
    };
    add(b, 1.0 - pl - pr);
    if (pl > 0) add(b - 1, pl);
    if (pr > 0) add(b + 1, pr);
  }
  double m = 0, m2 = 0, v = 0;
  for (int t = 0; t < bins; ++t) {
    m += mu[t];
    m2 += mu[t] * mu[t];
    v += var[t];
  }
  m /= bins;
  double signal = m2 / bins - m * m;
  v /= bins;
  return signal + v > 0 ? signal / (signal + v) : 0.0;
}

/// Set the follower noise of `s` (q and delta through one knob eta in [0, 1]) so that the
/// expected correlation between followers is `target`.
void calibrate(schedule& s, int bins, double target, double q_slope, double delta_slope) {
  auto corr = [&](double eta) {
    return expected_corr(s.slots, bins, 1.0 - q_slope * eta, delta_slope * eta, s.background);
  };
  double lo = 0.0, hi = 1.0;
  if (corr(0.0) <= target) {
    hi = 0.0;
  } else if (corr(1.0) >= target) {
    lo = 1.0;
  } else {
    for (int it = 0; it < 50; ++it) {
      double mid = 0.5 * (lo + hi);
      (corr(mid) > target ? lo : hi) = mid;
    }
  }
  double eta = 0.5 * (lo + hi);
  if (hi == 0.0) eta = 0.0;
  if (lo == 1.0) eta = 1.0;
  s.q = 1.0 - q_slope * eta;
  s.delta = delta_slope * eta;
}

struct cluster_spec {  // planted coordinated cluster
  std::vector<float> centre;
  double noise = 0;  // per-coordinate noise std around the centre
  double target_cos = 0, target_corr = 0;
  schedule sched;
};

struct crowd_spec {  // topic decoy crowd
  std::vector<float> centre;
  double noise = 0;
  double target_cos = 0;
  int event_bin = 0;       // the viral event the crowd reacts to
  double event_posts = 0;  // mean extra posts per member after the event
  double event_delay = 0;  // mean delay (bins) of those posts
};

struct timing_spec {  // timing decoy group (scheduled bots)
  schedule sched;
  double target_corr = 0;
};

struct role {
  account_kind kind = account_kind::organic;
  i64 group = -1;  // cluster, crowd or timing group index
};

constexpr i64 kMaxClusterSize = 5000;
constexpr double kCoordinatedShare = 0.03;
constexpr double kTopicDecoyShare = 0.03;
constexpr double kTimingDecoyShare = 0.015;
constexpr double kTopicPull = 0.7;  // weight of the topic in cluster and crowd centres

struct model {
  i64 n = 0;
  int d = 0, t = 0;
  u64 seed = 0;
  std::vector<float> topic_centre;  // topics x d
  std::vector<double> topic_cum;    // cumulative popularity
  std::vector<cluster_spec> clusters;
  std::vector<crowd_spec> crowds;
  std::vector<timing_spec> timing;
  std::vector<i64> cluster_size, crowd_size, timing_size;
  std::vector<i64> cluster_end, crowd_end, timing_end;  // cumulative, in permuted positions
  i64 n_coord = 0, n_topic = 0, n_timing = 0;
  permutation role_perm, id_perm;

  int sample_topic(double u) const {
    auto it = std::upper_bound(topic_cum.begin(), topic_cum.end(), u * topic_cum.back());
    return static_cast<int>(std::min<std::ptrdiff_t>(
        it - topic_cum.begin(), static_cast<std::ptrdiff_t>(topic_cum.size()) - 1));
  }

  role role_of(i64 row) const {
    i64 p = static_cast<i64>(role_perm(static_cast<u64>(row)));
    auto find = [p](const std::vector<i64>& ends) {
      return static_cast<i64>(std::upper_bound(ends.begin(), ends.end(), p) - ends.begin());
    };
    if (p < n_coord) return {account_kind::coordinated, find(cluster_end)};
    if (p < n_coord + n_topic) return {account_kind::topic_decoy, find(crowd_end)};
    if (p < n_coord + n_topic + n_timing) return {account_kind::timing_decoy, find(timing_end)};
    return {};
  }
};

/// Random unit vector of dimension d.
void random_unit(const stream& s, u64 base, int d, float* out) {
  double norm = 0;
  for (int j = 0; j < d; j += 2) {
    double z0, z1;
    s.gauss2(base + j / 2, z0, z1);
    out[j] = static_cast<float>(z0);
    norm += z0 * z0;
    if (j + 1 < d) {
      out[j + 1] = static_cast<float>(z1);
      norm += z1 * z1;
    }
  }
  float inv = static_cast<float>(1.0 / std::sqrt(std::max(norm, 1e-30)));
  for (int j = 0; j < d; ++j) out[j] *= inv;
}

void normalize(float* v, int d) {
  double norm = 0;
  for (int j = 0; j < d; ++j) norm += static_cast<double>(v[j]) * v[j];
  float inv = static_cast<float>(1.0 / std::sqrt(std::max(norm, 1e-30)));
  for (int j = 0; j < d; ++j) v[j] *= inv;
}

/// Centre of a cluster or crowd: a random direction pulled towards a popular topic.
std::vector<float> topical_centre(const model& m, const stream& s) {
  std::vector<float> c(m.d);
  random_unit(s, 1, m.d, c.data());
  const float* tc =
      m.topic_centre.data() + static_cast<std::size_t>(m.sample_topic(s.uniform(0))) * m.d;
  const double w = std::sqrt(1.0 - kTopicPull * kTopicPull);
  for (int j = 0; j < m.d; ++j) c[j] = static_cast<float>(kTopicPull * tc[j] + w * c[j]);
  normalize(c.data(), m.d);
  return c;
}

/// Noise std per coordinate such that two members' expected cosine is `rho`.
double noise_for_cosine(double rho, int d) { return std::sqrt((1.0 / rho - 1.0) / d); }

/// Sizes of the planted clusters: a rank-size law with jitter, each at least 3, the largest at
/// most kMaxClusterSize, summing to about kCoordinatedShare of n.
std::vector<i64> plan_cluster_sizes(i64 n, int c, u64 seed) {
  std::vector<i64> sizes(c, 3);
  if (c == 0) return sizes;
  const i64 budget = std::min(n, std::max<i64>(3 * i64{c}, std::llround(kCoordinatedShare * n)));
  const double extra = static_cast<double>(budget - 3 * i64{c});
  const double cap = static_cast<double>(kMaxClusterSize - 3);
  stream s(seed, s_cluster_plan, 0);
  std::vector<double> jitter(c), w(c);
  for (int k = 0; k < c; ++k) jitter[k] = std::exp(0.3 * s.gauss(k));
  auto weights = [&](double beta) {
    double sum = 0;
    for (int k = 0; k < c; ++k) sum += (w[k] = jitter[k] * std::pow(k + 1.0, -beta));
    return sum;
  };
  auto largest = [&](double beta) {
    double sum = weights(beta);
    return extra * *std::max_element(w.begin(), w.end()) / sum;
  };
  // The steepest law (0.7 <= beta <= 1.5) whose largest cluster fits under the cap; when even
  // beta = 0.7 does not fit (many accounts, few clusters), keep beta = 0.7 and plant fewer
  // accounts so that the largest cluster is at the cap and the sizes stay heavy-tailed.
  constexpr double beta_min = 0.7, beta_max = 1.5;
  double beta = beta_max, scale = 1.0;
  if (largest(beta_max) > cap) {
    if (largest(beta_min) > cap) {
      beta = beta_min;
      scale = cap / largest(beta_min);
    } else {
      double lo = beta_min, hi = beta_max;
      for (int it = 0; it < 40; ++it) {
        double mid = 0.5 * (lo + hi);
        (largest(mid) > cap ? hi : lo) = mid;
      }
      beta = lo;
    }
  }
  const double sum = weights(beta);
  std::vector<i64> ranked(c);
  for (int k = 0; k < c; ++k)
    ranked[k] =
        3 + std::min<i64>(kMaxClusterSize - 3, static_cast<i64>(scale * extra * w[k] / sum));
  // Cluster index k gets the size of rank order[k] (a seeded shuffle).
  std::vector<std::pair<u64, int>> order(c);
  for (int k = 0; k < c; ++k) order[k] = {s.bits(u64{1} << 40 | static_cast<u64>(k)), k};
  std::sort(order.begin(), order.end());
  for (int k = 0; k < c; ++k) sizes[k] = ranked[order[k].second];
  return sizes;
}

/// Split `budget` accounts into groups of log-uniform size in about [lo, hi].
std::vector<i64> plan_groups(i64 budget, i64 lo, i64 hi, const stream& s) {
  std::vector<i64> sizes;
  if (budget < 2) return sizes;
  hi = std::max<i64>(2, std::min(hi, budget / 2));
  lo = std::max<i64>(2, std::min(lo, hi));
  i64 rem = budget;
  for (u64 i = 0; rem > 0; ++i) {
    double x = std::exp(s.uniform(i, std::log(lo), std::log(hi + 1.0)));
    i64 size = std::clamp<i64>(static_cast<i64>(x), lo, hi);
    if (rem - size < lo) size = rem;  // the last group takes the rest
    sizes.push_back(size);
    rem -= size;
  }
  return sizes;
}

std::vector<i64> cumulative(const std::vector<i64>& sizes, i64 start) {
  std::vector<i64> ends(sizes.size());
  for (std::size_t i = 0; i < sizes.size(); ++i) ends[i] = (start += sizes[i]);
  return ends;
}

/// Bursts of a coordinated cluster: about frac*T bins inside a daily working window, each asking
/// for 1..6 posts per member.
std::vector<std::pair<int, int>> burst_slots(int bins, const stream& s) {
  const double frac = s.uniform(0, 0.04, 0.12);
  const int count =
      std::clamp(static_cast<int>(std::lround(frac * bins)), 1, std::max(1, bins - 1));
  const int start = static_cast<int>(s.below(1, 24));
  const int len = 8 + static_cast<int>(s.below(2, 7));
  std::vector<int> window;
  for (int t = 0; t < bins; ++t)
    if ((t % 24 - start + 24) % 24 < len) window.push_back(t);
  if (static_cast<int>(window.size()) < count) {
    window.resize(bins);
    for (int t = 0; t < bins; ++t) window[t] = t;
  }
  // Partial Fisher-Yates: the first `count` bins of a seeded shuffle of the window.
  for (int i = 0; i < count; ++i) {
    std::size_t j = i + s.below((u64{1} << 32) + i, window.size() - i);
    std::swap(window[i], window[j]);
  }
  std::vector<std::pair<int, int>> slots(count);
  for (int i = 0; i < count; ++i) {
    int n = 1 + poisson(1.2, s.uniform((u64{2} << 32) + i), 0.0);
    slots[i] = {window[i], std::min(n, 6)};
  }
  std::sort(slots.begin(), slots.end());
  return slots;
}

/// A fixed posting schedule of a news-feed bot group: every `period` hours within active hours.
std::vector<std::pair<int, int>> periodic_slots(int bins, const stream& s) {
  static const int periods[] = {2, 3, 4, 6, 8, 12, 24};
  const int period = periods[s.below(0, 7)];
  const int offset = static_cast<int>(s.below(1, period));
  const int start = static_cast<int>(s.below(2, 24));
  const int len = 12 + static_cast<int>(s.below(3, 13));  // 12..24 active hours
  const int posts = 1 + static_cast<int>(s.below(4, 3));
  std::vector<std::pair<int, int>> slots;
  for (int t = offset; t < bins; t += period)
    if ((t % 24 - start + 24) % 24 < len || period == 24) slots.emplace_back(t, posts);
  if (slots.empty()) slots.emplace_back(std::min(offset, bins - 1), posts);
  return slots;
}

model build_model(const generate_options& opt) {
  model m;
  m.n = opt.accounts;
  m.d = opt.dim;
  m.t = opt.bins;
  m.seed = opt.seed;
  const u64 seed = opt.seed;

  // Topics.
  const int topics = static_cast<int>(std::max<i64>(20, m.n / 2000));
  if (m.d > 0) {
    m.topic_centre.resize(static_cast<std::size_t>(topics) * m.d);
    for (int k = 0; k < topics; ++k)
      random_unit(stream(seed, s_topic_centre, k), 0, m.d,
                  m.topic_centre.data() + static_cast<std::size_t>(k) * m.d);
  }
  m.topic_cum.resize(topics);
  {
    stream s(seed, s_topic_weight, 0);
    double c = 0;
    for (int k = 0; k < topics; ++k)
      m.topic_cum[k] = (c += std::pow(k + 1.0, -0.7) * std::exp(0.3 * s.gauss(k)));
  }

  // Roles: [clusters | topic-decoy crowds | timing-decoy groups | organic] in permuted positions.
  m.cluster_size = plan_cluster_sizes(m.n, opt.clusters, seed);
  m.cluster_end = cumulative(m.cluster_size, 0);
  m.n_coord = m.cluster_end.empty() ? 0 : m.cluster_end.back();
  {
    i64 budget = std::min<i64>(m.n - m.n_coord, std::llround(kTopicDecoyShare * m.n));
    m.crowd_size = plan_groups(budget, 20, 1000, stream(seed, s_crowd_plan, 0));
    m.crowd_end = cumulative(m.crowd_size, m.n_coord);
    m.n_topic = m.crowd_end.empty() ? 0 : m.crowd_end.back() - m.n_coord;
  }
  {
    i64 budget = std::min<i64>(m.n - m.n_coord - m.n_topic, std::llround(kTimingDecoyShare * m.n));
    m.timing_size = plan_groups(budget, 5, 300, stream(seed, s_timing_plan, 0));
    m.timing_end = cumulative(m.timing_size, m.n_coord + m.n_topic);
    m.n_timing = m.timing_end.empty() ? 0 : m.timing_end.back() - m.n_coord - m.n_topic;
  }
  m.role_perm = permutation(static_cast<u64>(std::max<i64>(m.n, 1)), seed, s_role_perm);
  m.id_perm = permutation(u64{1} << 40, seed, s_id_perm);

  // Planted clusters: a quarter of them (a seeded choice) are hard, near the 0.8 thresholds.
  const int c = opt.clusters;
  std::vector<std::pair<u64, int>> order(c);
  for (int k = 0; k < c; ++k) order[k] = {stream(seed, s_cluster, k).bits(0), k};
  std::sort(order.begin(), order.end());
  std::vector<bool> hard(c, false);
  for (int k = 0; k < c / 4; ++k) hard[order[k].second] = true;
  m.clusters.resize(c);
  for (int k = 0; k < c; ++k) {
    cluster_spec& cs = m.clusters[k];
    stream s(seed, s_cluster, k);
    cs.target_cos = hard[k] ? s.uniform(1, 0.81, 0.84) : s.uniform(1, 0.90, 0.97);
    cs.target_corr = hard[k] ? s.uniform(2, 0.82, 0.86) : s.uniform(2, 0.88, 0.96);
    if (m.d > 0) {
      cs.centre = topical_centre(m, stream(seed, s_cluster_centre, k));
      cs.noise = noise_for_cosine(cs.target_cos, m.d);
    }
    if (m.t > 0) {
      cs.sched.slots = burst_slots(m.t, stream(seed, s_cluster_sched, k));
      cs.sched.background = s.uniform(3, 0.2, 0.6) / 24.0;  // own posts per hour
      calibrate(cs.sched, m.t, cs.target_corr, 0.4, 0.6);
    }
  }

  // Topic-decoy crowds.
  m.crowds.resize(m.crowd_size.size());
  for (std::size_t k = 0; k < m.crowds.size(); ++k) {
    crowd_spec& cs = m.crowds[k];
    stream s(seed, s_crowd, k);
    cs.target_cos = s.uniform(0, 0.89, 0.96);
    if (m.d > 0) {
      cs.centre = topical_centre(m, stream(seed, s_crowd_centre, k));
      cs.noise = noise_for_cosine(cs.target_cos, m.d);
    }
    if (m.t > 0) {
      cs.event_bin = static_cast<int>(s.below(1, m.t));
      cs.event_posts = s.uniform(2, 1.0, 4.0);
      cs.event_delay = s.uniform(3, 2.0, 8.0);
    }
  }

  // Timing-decoy groups.
  m.timing.resize(m.timing_size.size());
  for (std::size_t k = 0; k < m.timing.size(); ++k) {
    timing_spec& ts = m.timing[k];
    stream s(seed, s_timing, k);
    ts.target_corr = s.uniform(0, 0.95, 0.995);
    if (m.t > 0) {
      ts.sched.slots = periodic_slots(m.t, stream(seed, s_timing, k + (u64{1} << 40)));
      calibrate(ts.sched, m.t, ts.target_corr, 0.6, 0.0);
    }
  }
  return m;
}

// ------------------------------------------------------------------------------------------
// Rows.

/// Organic content: normalize(alpha * topic + noise) with |noise| ~ 1, so that two accounts of
/// one topic have cosine about sqrt(tau_i * tau_j) with tau in [0.22, 0.5].
void organic_embedding(const model& m, const stream& param, const stream& es, float* out) {
  const float* tc =
      m.topic_centre.data() + static_cast<std::size_t>(m.sample_topic(param.uniform(0))) * m.d;
  const double tau = param.uniform(1, 0.22, 0.5);
  const double alpha = std::sqrt(tau / (1.0 - tau));
  const double s = 1.0 / std::sqrt(static_cast<double>(m.d));
  for (int j = 0; j < m.d; j += 2) {
    double z0, z1;
    es.gauss2(j / 2, z0, z1);
    out[j] = static_cast<float>(alpha * tc[j] + s * z0);
    if (j + 1 < m.d) out[j + 1] = static_cast<float>(alpha * tc[j + 1] + s * z1);
  }
  normalize(out, m.d);
}

/// Near-duplicate content: normalize(centre + s * noise), member noise varying by ~8%.
void near_embedding(const model& m, const std::vector<float>& centre, double noise,
                    const stream& param, const stream& es, float* out) {
  const double s = noise * std::exp(0.08 * param.gauss(10));
  for (int j = 0; j < m.d; j += 2) {
    double z0, z1;
    es.gauss2(j / 2, z0, z1);
    out[j] = static_cast<float>(centre[j] + s * z0);
    if (j + 1 < m.d) out[j + 1] = static_cast<float>(centre[j + 1] + s * z1);
  }
  normalize(out, m.d);
}

/// Daily rhythm: 24 multipliers with mean 1, peak at `peak` hours.
void daily_rhythm(double peak, double amp, double* r) {
  for (int h = 0; h < 24; ++h) r[h] = 1.0 + amp * std::cos(2.0 * kPi * (h - peak) / 24.0);
}

/// Organic timing: log-normal rate, daily rhythm with the account's own phase, log-normal day
/// and hour (burst) factors, Poisson counts.
void organic_activity(const model& m, i64 row, const stream& param, std::int32_t* out) {
  constexpr double burst_sigma = 1.0, day_sigma = 0.6;
  const double per_day = std::clamp(2.0 * std::exp(1.0 * param.gauss(20)), 0.7, 400.0);
  double rhythm[24];
  daily_rhythm(20.0 + 3.0 * param.gauss(21), param.uniform(22, 0.3, 0.9), rhythm);
  const stream burst(m.seed, s_row_burst, row), count(m.seed, s_row_count, row),
      day(m.seed, s_row_day, row);
  const double base = per_day / 24.0;
  double day_factor = 1.0, z[2] = {0, 0};
  for (int t = 0; t < m.t; ++t) {
    if (t % 24 == 0)
      day_factor = std::exp(day_sigma * day.gauss(t / 24) - 0.5 * day_sigma * day_sigma);
    if (t % 2 == 0) burst.gauss2(t / 2, z[0], z[1]);
    const double g = std::exp(burst_sigma * z[t % 2] - 0.5 * burst_sigma * burst_sigma);
    const double lam = base * rhythm[t % 24] * day_factor * g;
    out[t] = poisson(lam, count.uniform(t), lam < 30.0 ? 0.0 : count.gauss(t + (u64{1} << 40)));
  }
}

/// Scheduled timing: follow the slots of `s` with its noise, plus Poisson background.
void scheduled_activity(const model& m, i64 row, const schedule& s, const stream& param,
                        std::int32_t* out) {
  const stream sched(m.seed, s_row_sched, row), count(m.seed, s_row_count, row);
  std::fill(out, out + m.t, 0);
  if (s.background > 0) {
    double rhythm[24];
    daily_rhythm(param.uniform(30, 0.0, 24.0), 0.5, rhythm);
    for (int t = 0; t < m.t; ++t)
      out[t] = poisson(s.background * rhythm[t % 24], count.uniform(t), 0.0);
  }
  for (std::size_t i = 0; i < s.slots.size(); ++i) {
    const auto [b, n] = s.slots[i];
    for (int j = 0; j < n; ++j) {
      const u64 h = sched.bits(i * 64 + j);
      const double keep = (static_cast<double>(h >> 32) + 0.5) * 0x1.0p-32;
      const double move = (static_cast<double>(h & 0xffffffffull) + 0.5) * 0x1.0p-32;
      if (keep >= s.q) continue;
      int t = b;
      if (move < s.delta / 2) {
        t = b - 1;
      } else if (move < s.delta) {
        t = b + 1;
      }
      if (t < 0 || t >= m.t) t = b;
      ++out[t];
    }
  }
}

/// Extra posts of a topic-decoy member reacting to its crowd's viral event.
void event_posts(const model& m, i64 row, const crowd_spec& c, const stream& param,
                 std::int32_t* out) {
  const stream ev(m.seed, s_row_event, row);
  const double mean = c.event_posts * std::exp(0.5 * param.gauss(40) - 0.125);
  const int k = poisson(mean, param.uniform(41), param.gauss(42));
  for (int i = 0; i < k; ++i) {
    const i64 t = c.event_bin + static_cast<i64>(-c.event_delay * std::log(ev.uniform(i)));
    if (t < m.t) ++out[t];
  }
}

struct row_truth {
  i64 id = 0, cluster = -1, group = -1;
  std::int8_t kind = 0;
};

void generate_row(const model& m, i64 row, float* emb, std::int32_t* act, row_truth& truth) {
  const role r = m.role_of(row);
  truth.id = 1000000000 + static_cast<i64>(m.id_perm(static_cast<u64>(row)));
  truth.kind = static_cast<std::int8_t>(r.kind);
  truth.group = r.group;
  truth.cluster = r.kind == account_kind::coordinated ? r.group : -1;
  const stream param(m.seed, s_row_param, row), es(m.seed, s_row_emb, row);

  if (m.d > 0) {
    switch (r.kind) {
      case account_kind::coordinated: {
        const cluster_spec& c = m.clusters[r.group];
        near_embedding(m, c.centre, c.noise, param, es, emb);
        break;
      }
      case account_kind::topic_decoy: {
        const crowd_spec& c = m.crowds[r.group];
        near_embedding(m, c.centre, c.noise, param, es, emb);
        break;
      }
      default:
        organic_embedding(m, param, es, emb);
    }
  }
  if (m.t > 0) {
    switch (r.kind) {
      case account_kind::coordinated:
        scheduled_activity(m, row, m.clusters[r.group].sched, param, act);
        break;
      case account_kind::timing_decoy:
        scheduled_activity(m, row, m.timing[r.group].sched, param, act);
        break;
      case account_kind::topic_decoy:
        organic_activity(m, row, param, act);
        event_posts(m, row, m.crowds[r.group], param, act);
        break;
      default:
        organic_activity(m, row, param, act);
    }
    // Every account posted at least once.
    bool any = false;
    for (int t = 0; t < m.t && !any; ++t) any = act[t] != 0;
    if (!any) act[param.below(50, m.t)] = 1;
  }
}

// ------------------------------------------------------------------------------------------
// Output.

generate_summary summarize(const model& m) {
  generate_summary s;
  s.accounts = m.n;
  s.coordinated = m.n_coord;
  s.topic_decoys = m.n_topic;
  s.timing_decoys = m.n_timing;
  s.cluster_sizes = m.cluster_size;
  return s;
}

void write_file(const model& m, const generate_options& opt, const std::string& path,
                const std::function<void(double)>& progress) {
  h5::handle file = h5::create(path);
  const u64 n = static_cast<u64>(m.n);
  const u64 d = static_cast<u64>(m.d), t = static_cast<u64>(m.t);
  // Chunks of about 4096 rows (at most ~16 MiB); blocks of 4 chunks (at most ~128 MiB of rows).
  const u64 row_bytes = 4 * std::max<u64>(1, std::max(d, t));
  const u64 chunk = std::clamp<u64>((u64{16} << 20) / row_bytes, 1, 4096);
  const u64 block = 4 * chunk;

  h5::handle id = h5::create_dataset<std::int64_t>(file, "/accounts/id", {n}, block, 1);
  h5::handle handle;
  if (opt.handles) handle = h5::create_strings(file, "/accounts/handle", n, block);
  h5::handle emb, act;
  if (d > 0) emb = h5::create_dataset<float>(file, "/embedding", {n, d}, chunk, 0);
  if (t > 0) {
    act = h5::create_dataset<std::int32_t>(file, "/activity", {n, t}, chunk, 1);
    // the bins are hours (the daily rhythm's unit): what --significance's activity null shifts by
    h5::set_attr(act, "bin_seconds", std::int64_t{3600});
    h5::set_attr(act, "fold", std::string("none"));
    h5::set_attr(act, "bin_start", std::string("2026-10-01T00:00:00Z"));  // as the day series'
  }
  h5::handle cluster = h5::create_dataset<std::int64_t>(file, "/truth/cluster", {n}, block, 1);
  h5::handle kind = h5::create_dataset<std::int8_t>(file, "/truth/kind", {n}, block, 1);
  h5::handle group = h5::create_dataset<std::int64_t>(file, "/truth/group", {n}, block, 1);

  std::vector<float> emb_buf(block * d);
  std::vector<std::int32_t> act_buf(block * t);
  std::vector<row_truth> truth(block);
  std::vector<std::int64_t> col64(block);
  std::vector<std::int8_t> col8(block);
  std::vector<std::string> names;

  for (u64 r0 = 0; r0 < n; r0 += block) {
    const i64 nb = static_cast<i64>(std::min(block, n - r0));
#pragma omp parallel for schedule(dynamic, 256)
    for (i64 i = 0; i < nb; ++i)
      generate_row(m, static_cast<i64>(r0) + i, emb_buf.data() + i * d, act_buf.data() + i * t,
                   truth[i]);

    for (i64 i = 0; i < nb; ++i) col64[i] = truth[i].id;
    h5::write_rows<std::int64_t>(id, r0, nb, col64.data());
    if (handle.valid()) {
      names.resize(nb);
      for (i64 i = 0; i < nb; ++i) names[i] = "acct_" + std::to_string(truth[i].id);
      h5::write_strings(handle, r0, names);
    }
    if (d > 0) h5::write_rows<float>(emb, r0, nb, emb_buf.data());
    if (t > 0) h5::write_rows<std::int32_t>(act, r0, nb, act_buf.data());
    for (i64 i = 0; i < nb; ++i) col64[i] = truth[i].cluster;
    h5::write_rows<std::int64_t>(cluster, r0, nb, col64.data());
    for (i64 i = 0; i < nb; ++i) col8[i] = truth[i].kind;
    h5::write_rows<std::int8_t>(kind, r0, nb, col8.data());
    for (i64 i = 0; i < nb; ++i) col64[i] = truth[i].group;
    h5::write_rows<std::int64_t>(group, r0, nb, col64.data());
    if (progress) progress(static_cast<double>(r0 + nb) / static_cast<double>(n));
  }

  // Per-cluster truth: sizes and the targeted mean pairwise similarities.
  h5::write_vector<std::int64_t>(file, "/truth/cluster_size", m.cluster_size);
  std::vector<double> cos(m.clusters.size()), corr(m.clusters.size());
  for (std::size_t k = 0; k < m.clusters.size(); ++k) {
    cos[k] = m.clusters[k].target_cos;
    corr[k] = m.clusters[k].target_corr;
  }
  if (d > 0) h5::write_vector<double>(file, "/truth/cluster_target_cos", cos);
  if (t > 0) h5::write_vector<double>(file, "/truth/cluster_target_corr", corr);

  h5::set_attr(file, "generator", std::string(kGeneratorName));
  h5::set_attr(file, "seed", static_cast<std::int64_t>(opt.seed));
  h5::set_attr(file, "accounts", static_cast<std::int64_t>(m.n));
  h5::set_attr(file, "dim", static_cast<std::int64_t>(m.d));
  h5::set_attr(file, "bins", static_cast<std::int64_t>(m.t));
  h5::set_attr(file, "clusters", static_cast<std::int64_t>(m.clusters.size()));
  h5::set_attr(file, "coordinated", static_cast<std::int64_t>(m.n_coord));
  h5::set_attr(file, "topic_decoys", static_cast<std::int64_t>(m.n_topic));
  h5::set_attr(file, "timing_decoys", static_cast<std::int64_t>(m.n_timing));
  h5::flush(file);
}

/// Flush a closed file's data to disk, so that the rename never exposes a partial file.
void sync_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  const bool ok = fd >= 0 && ::fsync(fd) == 0;
  if (fd >= 0) ::close(fd);
  if (!ok) CHORUS_THROW(runtime_failure, "generate: cannot sync '", path, "' to disk");
}

}  // namespace

generate_summary generate_dataset(const generate_options& opt,
                                  const std::function<void(double)>& progress) {
  namespace fs = std::filesystem;
  CHORUS_EXPECTS(opt.accounts >= 0, "generate: accounts must be >= 0 (got ", opt.accounts, ")");
  CHORUS_EXPECTS(opt.accounts < (i64{1} << 40), "generate: accounts must be < 2^40 (got ",
                 opt.accounts, ")");
  CHORUS_EXPECTS(opt.dim >= 0, "generate: dim must be >= 0 (got ", opt.dim, ")");
  CHORUS_EXPECTS(opt.bins >= 0, "generate: bins must be >= 0 (got ", opt.bins, ")");
  CHORUS_EXPECTS(opt.dim > 0 || opt.bins > 0,
                 "generate: dim and bins are both 0; nothing to generate");
  CHORUS_EXPECTS(opt.clusters >= 0, "generate: clusters must be >= 0 (got ", opt.clusters, ")");
  CHORUS_EXPECTS(3 * static_cast<i64>(opt.clusters) <= opt.accounts, "generate: ", opt.clusters,
                 " planted clusters of at least 3 members do not fit in ", opt.accounts,
                 " accounts (need clusters * 3 <= accounts)");
  CHORUS_EXPECTS(!opt.out.empty(), "generate: no output path given");

  std::error_code ec;
  const fs::path out(opt.out);
  CHORUS_EXPECTS(!fs::is_directory(out, ec), "generate: output '", opt.out, "' is a directory");
  CHORUS_EXPECTS(opt.force || !fs::exists(out, ec), "generate: output file '", opt.out,
                 "' already exists (use --force to overwrite it)");
  const fs::path dir = out.has_parent_path() ? out.parent_path() : fs::path(".");
  CHORUS_EXPECTS(fs::is_directory(dir, ec), "generate: output directory '", dir.string(),
                 "' does not exist");
  CHORUS_EXPECTS(::access(dir.c_str(), W_OK) == 0, "generate: output directory '", dir.string(),
                 "' is not writable");

  const model m = build_model(opt);
  const std::string tmp = opt.out + ".tmp." + std::to_string(::getpid());
  try {
    write_file(m, opt, tmp, progress);
    sync_file(tmp);
    fs::rename(tmp, out, ec);
    if (ec)
      CHORUS_THROW(runtime_failure, "generate: cannot rename '", tmp, "' to '", opt.out,
                   "': ", ec.message());
  } catch (...) {
    std::error_code ignore;
    fs::remove(tmp, ignore);
    throw;
  }
  if (progress) progress(1.0);
  return summarize(m);
}

}  // namespace chorus
