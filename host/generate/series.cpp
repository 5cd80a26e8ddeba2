// chorus: campaign series generator. The model is documented in datasets/GENERATOR.md
// ("Campaign series (--days)").
//
// The population is simulated day by day (sequential and cheap: one small record per account);
// the rows are then generated in parallel from the records. Every random number of a row is a
// hash of (seed, purpose, account key and version, element), and every random number of a look
// (a campaign's content centre and posting schedule) a hash of (seed, purpose, look index), so an
// unchanged account's row is bit-identical on every day, whatever its row or the thread count.
#include "chorus/generate/series.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "chorus/core/error.hpp"
#include "chorus/ingest/ingest.hpp"
#include "chorus/io/h5.hpp"

namespace chorus {
namespace {

using u64 = std::uint64_t;
using i64 = std::int64_t;

constexpr double kPi = 3.14159265358979323846;
constexpr char kGeneratorName[] = "chorus-generate-series 1";

// ------------------------------------------------------------------------------------------
// Counter-based randomness.

inline u64 hash64(u64 z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/// Purposes of random numbers; each names an independent family of streams.
enum purpose : u64 {
  p_id = 101,
  p_topic,
  p_look,
  p_look_centre,
  p_look_sched,
  p_plan,
  p_day1,
  p_leave,
  p_change,
  p_event,
  p_acct_param,
  p_acct_emb,
  p_acct_count,
  p_acct_burst,
  p_acct_day,
  p_acct_sched,
};

/// Random numbers of one purpose and subject: number i is a pure function of (seed, purpose,
/// subject, i).
class rng {
 public:
  rng(u64 seed, u64 what, u64 subject)
      : key_(hash64(hash64(seed + 0x9E3779B97F4A7C15ull * what) ^ subject)) {}
  u64 bits(u64 i) const { return hash64(key_ + (i + 1) * 0xD1B54A32D192ED03ull); }
  /// Uniform in (0, 1).
  double uniform(u64 i) const { return (static_cast<double>(bits(i) >> 11) + 0.5) * 0x1.0p-53; }
  double uniform(u64 i, double lo, double hi) const { return lo + (hi - lo) * uniform(i); }
  /// Integer in [lo, hi].
  i64 between(u64 i, i64 lo, i64 hi) const {
    return lo + static_cast<i64>(uniform(i) * static_cast<double>(hi - lo + 1)) % (hi - lo + 1);
  }
  /// Two independent standard normals (polar method; a rejected pair rehashes deterministically).
  void gauss2(u64 i, double& z0, double& z1) const {
    for (u64 h = bits(i);; h = hash64(h + 1)) {
      const double u = static_cast<double>(static_cast<std::int32_t>(h >> 32)) * 0x1.0p-31;
      const double v = static_cast<double>(static_cast<std::int32_t>(h)) * 0x1.0p-31;
      const double s = u * u + v * v;
      if (s > 0.0 && s < 1.0) {
        const double f = std::sqrt(-2.0 * std::log(s) / s);
        z0 = u * f;
        z1 = v * f;
        return;
      }
    }
  }
  double gauss(u64 i) const {
    double z0 = 0, z1 = 0;
    gauss2(i, z0, z1);
    return z0;
  }

 private:
  u64 key_;
};

/// Poisson variate by inversion of one uniform u; a normal approximation (z) for large means.
int poisson(double lam, double u, double z) {
  if (lam <= 0.0) return 0;
  if (lam >= 30.0) return static_cast<int>(std::max(0.0, std::floor(lam + std::sqrt(lam) * z)));
  double p = std::exp(-lam), c = p;
  int k = 0;
  while (u > c && k < 200) {
    p *= lam / ++k;
    c += p;
  }
  return k;
}

/// Account id: 10^9 + a keyed bijection of [0, 2^40) applied to the key (4 Feistel rounds on
/// two 20-bit halves), so ids are unique and unrelated to keys and rows.
i64 account_id(u64 seed, u64 key) {
  constexpr u64 mask = (u64{1} << 20) - 1;
  u64 l = (key >> 20) & mask, r = key & mask;
  const rng k(seed, p_id, 0);
  for (int round = 0; round < 4; ++round) {
    const u64 nl = r;
    r = l ^ (hash64(r ^ k.bits(round)) & mask);
    l = nl;
  }
  return 1000000000 + static_cast<i64>((l << 20) | r);
}

// ------------------------------------------------------------------------------------------
// The population.

/// A campaign's look: content centre and shared posting schedule. Members of one look have
/// pairwise cosine about rho and pairwise activity correlation about the target.
struct look {
  std::vector<float> centre;
  double noise = 0;                        // norm of a member's noise vector
  std::vector<std::pair<int, int>> slots;  // (bin, posts asked) of the bursts
  double q = 1, background = 0;            // post kept with q; own posts per bin
};

/// One account of the day: its key (creation order), version (redraws), campaign and look.
struct account {
  u64 key = 0;
  u64 version = 0;
  i64 campaign = -1;  // truth cluster, -1 organic
  i64 look = -1;      // index into world::looks, -1 organic
};

/// The planted history: which day-1 campaign plays which part, and on which day.
struct plan {
  i64 grower = 0, absorber = 1, absorbed = 2, splitter = 3, dier = 4;
  int growth1 = 0, growth2 = 0, merge = 0, split = 0, death = 0, birth1 = 0, birth2 = 0;
};

struct world {
  series_options opt;
  int d = 0, t = 0;
  std::vector<float> topics;      // topic centres, topics x d
  std::vector<double> topic_cum;  // cumulative popularity
  std::vector<look> looks;
  std::vector<i64> campaign_look;  // look of each campaign number
  std::vector<account> accts;      // today's rows, in file order
  u64 next_key = 0;
  plan p;
};

void normalize(float* v, int d) {
  double s = 0;
  for (int j = 0; j < d; ++j) s += static_cast<double>(v[j]) * v[j];
  const float inv = static_cast<float>(1.0 / std::sqrt(std::max(s, 1e-30)));
  for (int j = 0; j < d; ++j) v[j] *= inv;
}

/// Standard normal vector of dimension d scaled by `scale`, from numbers base, base+1, ...
void gauss_vector(const rng& r, u64 base, int d, double scale, float* out) {
  for (int j = 0; j < d; j += 2) {
    double z0 = 0, z1 = 0;
    r.gauss2(base + static_cast<u64>(j / 2), z0, z1);
    out[j] = static_cast<float>(scale * z0);
    if (j + 1 < d) out[j + 1] = static_cast<float>(scale * z1);
  }
}

int sample_topic(const world& w, double u) {
  const auto it = std::upper_bound(w.topic_cum.begin(), w.topic_cum.end(), u * w.topic_cum.back());
  return static_cast<int>(std::min<std::ptrdiff_t>(
      it - w.topic_cum.begin(), static_cast<std::ptrdiff_t>(w.topic_cum.size()) - 1));
}

/// Expected Pearson correlation of two followers of `slots` (ratio of expectations over bins):
/// mean_t = bg + q n_t, var_t = bg + q (1 - q) n_t.
double follower_corr(const std::vector<std::pair<int, int>>& slots, int bins, double q, double bg) {
  double sum = 0, sum2 = 0, var = bg * bins;
  for (const auto& s : slots) {
    sum += q * s.second;
    sum2 += q * s.second * (q * s.second + 2 * bg);
    var += q * (1 - q) * s.second;
  }
  const double m = bg + sum / bins;
  const double signal = (bg * bg * bins + sum2) / bins - m * m;
  var /= bins;
  return signal + var > 0 ? signal / (signal + var) : 0.0;
}

/// Look k: a centre pulled towards a popular topic, a burst schedule inside a daily working
/// window, and the keep probability q solved (bisection) for the target correlation.
look make_look(const world& w, i64 k) {
  look l;
  const rng r(w.opt.seed, p_look, static_cast<u64>(k));
  l.centre.resize(static_cast<std::size_t>(w.d));
  gauss_vector(rng(w.opt.seed, p_look_centre, static_cast<u64>(k)), 0, w.d, 1.0, l.centre.data());
  normalize(l.centre.data(), w.d);
  const float* tc = w.topics.data() + static_cast<std::size_t>(sample_topic(w, r.uniform(0))) * w.d;
  for (int j = 0; j < w.d; ++j) l.centre[j] = static_cast<float>(0.7 * tc[j] + 0.71 * l.centre[j]);
  normalize(l.centre.data(), w.d);
  const double rho = r.uniform(1, 0.93, 0.97);
  l.noise = std::sqrt(1.0 / rho - 1.0);  // |c + e|^2 = 1 + noise^2: cosine ~ 1 / (1 + noise^2)

  const rng s(w.opt.seed, p_look_sched, static_cast<u64>(k));
  const int start = static_cast<int>(s.between(0, 0, 23)),
            len = static_cast<int>(s.between(1, 8, 14));
  std::vector<int> window;
  for (int b = 0; b < w.t; ++b)
    if ((b % 24 - start + 24) % 24 < len) window.push_back(b);
  const int count = std::clamp(static_cast<int>(std::lround(r.uniform(2, 0.05, 0.10) * w.t)), 6,
                               static_cast<int>(window.size()));
  for (int i = 0; i < count; ++i)  // partial Fisher-Yates: `count` distinct bins of the window
    std::swap(window[i],
              window[i + s.between(100 + i, 0, static_cast<i64>(window.size()) - i - 1)]);
  for (int i = 0; i < count; ++i)
    l.slots.emplace_back(window[i], 1 + std::min(4, poisson(1.0, s.uniform(10000 + i), 0.0)));
  std::sort(l.slots.begin(), l.slots.end());
  l.background = r.uniform(3, 0.2, 0.6) / 24.0;
  const double target = r.uniform(4, 0.85, 0.95);
  double lo = 0.05, hi = 1.0;
  for (int it = 0; it < 50; ++it) {
    const double mid = 0.5 * (lo + hi);
    (follower_corr(l.slots, w.t, mid, l.background) < target ? lo : hi) = mid;
  }
  l.q = hi;
  return l;
}

// ------------------------------------------------------------------------------------------
// Rows: pure functions of (seed, key, version, look).

u64 subject(const account& a) { return a.key | (a.version << 40); }

/// Daily rhythm 1 + amp cos(2 pi (h - peak) / 24).
double rhythm(double peak, double amp, int h) {
  return 1.0 + amp * std::cos(2.0 * kPi * (h - peak) / 24.0);
}

/// Organic: normalize(alpha topic + noise), |noise| ~ 1, alpha^2 = tau / (1 - tau); Poisson
/// counts with a daily rhythm of the account's own phase and log-normal day and hour factors.
void organic_row(const world& w, const account& a, float* emb, std::int32_t* act) {
  const u64 sub = subject(a);
  const rng param(w.opt.seed, p_acct_param, sub);
  const float* tc =
      w.topics.data() + static_cast<std::size_t>(sample_topic(w, param.uniform(0))) * w.d;
  const double tau = param.uniform(1, 0.22, 0.5), alpha = std::sqrt(tau / (1.0 - tau));
  gauss_vector(rng(w.opt.seed, p_acct_emb, sub), 0, w.d, 1.0 / std::sqrt(w.d), emb);
  for (int j = 0; j < w.d; ++j) emb[j] += static_cast<float>(alpha * tc[j]);
  normalize(emb, w.d);

  const double per_bin = std::clamp(2.0 * std::exp(param.gauss(2)), 0.7, 100.0) / 24.0;
  const double peak = 20.0 + 3.0 * param.gauss(3), amp = param.uniform(4, 0.3, 0.9);
  const rng count(w.opt.seed, p_acct_count, sub), burst(w.opt.seed, p_acct_burst, sub),
      day(w.opt.seed, p_acct_day, sub);
  double day_factor = 1.0;
  for (int b = 0; b < w.t; ++b) {
    if (b % 24 == 0) day_factor = std::exp(0.6 * day.gauss(static_cast<u64>(b / 24)) - 0.18);
    const double g = std::exp(burst.gauss(static_cast<u64>(b)) - 0.5);
    const double lam = per_bin * rhythm(peak, amp, b % 24) * day_factor * g;
    act[b] = poisson(lam, count.uniform(static_cast<u64>(b)), count.gauss(u64{1} << 32 | b));
  }
}

/// Campaign member: normalize(centre + e), |e| fixed by the look; follows the look's bursts
/// (each post kept with q) plus its own Poisson background.
void member_row(const world& w, const account& a, float* emb, std::int32_t* act) {
  const look& l = w.looks[static_cast<std::size_t>(a.look)];
  const u64 sub = subject(a);
  gauss_vector(rng(w.opt.seed, p_acct_emb, sub), 0, w.d, 1.0, emb);
  normalize(emb, w.d);
  for (int j = 0; j < w.d; ++j) emb[j] = static_cast<float>(l.centre[j] + l.noise * emb[j]);
  normalize(emb, w.d);

  const rng count(w.opt.seed, p_acct_count, sub), sched(w.opt.seed, p_acct_sched, sub);
  for (int b = 0; b < w.t; ++b)
    act[b] = poisson(l.background, count.uniform(static_cast<u64>(b)), 0);
  for (std::size_t i = 0; i < l.slots.size(); ++i)
    for (int j = 0; j < l.slots[i].second; ++j)
      if (sched.uniform(i * 8 + static_cast<u64>(j)) < l.q) ++act[l.slots[i].first];
}

void make_row(const world& w, const account& a, float* emb, std::int32_t* act) {
  if (a.look < 0) {
    organic_row(w, a, emb, act);
  } else {
    member_row(w, a, emb, act);
  }
  bool any = false;  // every account posted at least once
  for (int b = 0; b < w.t && !any; ++b) any = act[b] != 0;
  if (!any) act[rng(w.opt.seed, p_acct_param, subject(a)).between(9, 0, w.t - 1)] = 1;
}

// ------------------------------------------------------------------------------------------
// The history.

i64 campaign_size(const world& w, i64 c) {
  return std::count_if(w.accts.begin(), w.accts.end(),
                       [c](const account& a) { return a.campaign == c; });
}

/// A new campaign number with a new look.
i64 new_campaign(world& w) {
  const i64 k = static_cast<i64>(w.looks.size());
  w.looks.push_back(make_look(w, k));
  w.campaign_look.push_back(k);
  return static_cast<i64>(w.campaign_look.size()) - 1;
}

/// Append `n` new accounts of campaign c (-1: organic).
void join(world& w, i64 c, i64 n) {
  for (i64 i = 0; i < n; ++i)
    w.accts.push_back(
        {w.next_key++, 0, c, c < 0 ? -1 : w.campaign_look[static_cast<std::size_t>(c)]});
}

/// `k` distinct indices of `pool` chosen by a partial Fisher-Yates shuffle of stream r.
std::vector<i64> choose(std::vector<i64> pool, i64 k, const rng& r) {
  k = std::min<i64>(k, static_cast<i64>(pool.size()));
  for (i64 i = 0; i < k; ++i)
    std::swap(pool[static_cast<std::size_t>(i)],
              pool[static_cast<std::size_t>(
                  r.between(static_cast<u64>(i), i, static_cast<i64>(pool.size()) - 1))]);
  pool.resize(static_cast<std::size_t>(k));
  return pool;
}

/// Event days and the day-1 campaigns that play each part (a seeded choice).
plan make_plan(const series_options& o) {
  plan p;
  const int D = o.days;
  p.growth1 = std::max(2, D / 3);
  p.growth2 = std::max(p.growth1 + 1, (3 * D) / 4);
  if (p.growth2 > D) p.growth2 = 0;  // D = 2: one growth only
  p.merge = std::max(2, (D + 1) / 2);
  p.split = std::max(2, (2 * D + 2) / 3);
  p.death = D;
  p.birth1 = 2;
  p.birth2 = D >= 4 ? D - 1 : 0;
  std::vector<i64> all(static_cast<std::size_t>(o.clusters));
  for (i64 c = 0; c < o.clusters; ++c) all[static_cast<std::size_t>(c)] = c;
  const std::vector<i64> roles = choose(all, 5, rng(o.seed, p_plan, 0));
  p.grower = roles[0], p.absorber = roles[1], p.absorbed = roles[2];
  p.splitter = roles[3], p.dier = roles[4];
  return p;
}

/// Day 1: topics, the campaigns (15-60 members) scattered over N rows, everyone version 0.
void first_day(world& w, std::vector<series_event>& events) {
  const series_options& o = w.opt;
  const int n_topics = static_cast<int>(std::max<i64>(20, o.accounts / 2000));
  w.topics.resize(static_cast<std::size_t>(n_topics) * w.d);
  double cum = 0;
  const rng tr(o.seed, p_topic, 0);
  for (int k = 0; k < n_topics; ++k) {
    float* c = w.topics.data() + static_cast<std::size_t>(k) * w.d;
    gauss_vector(rng(o.seed, p_topic, 1 + static_cast<u64>(k)), 0, w.d, 1.0, c);
    normalize(c, w.d);
    w.topic_cum.push_back(cum += std::pow(k + 1.0, -0.7) * std::exp(0.2 * tr.gauss(k)));
  }
  std::vector<i64> role(static_cast<std::size_t>(o.accounts), -1);
  std::size_t at = 0;
  const rng r(o.seed, p_day1, 0);
  for (int c = 0; c < o.clusters; ++c) {
    const i64 size = r.between(static_cast<u64>(c), 15, 60);
    const i64 made = new_campaign(w);
    for (i64 i = 0; i < size; ++i) role[at++] = made;
    events.push_back({1, "birth", made, -1, 0, size});
  }
  for (std::size_t i = role.size(); i > 1; --i)  // Fisher-Yates: members scattered over rows
    std::swap(
        role[i - 1],
        role[static_cast<std::size_t>(r.between(u64{1} << 32 | i, 0, static_cast<i64>(i) - 1))]);
  for (const i64 c : role) join(w, c, 1);
}

/// Organic churn of day `day`: leavers removed, changers redrawn, joiners appended.
void churn(world& w, int day, series_day& today) {
  const series_options& o = w.opt;
  std::vector<i64> organic;
  for (std::size_t i = 0; i < w.accts.size(); ++i)
    if (w.accts[i].campaign < 0) organic.push_back(static_cast<i64>(i));
  const i64 n_leave = std::llround(o.leave_share * static_cast<double>(w.accts.size()));
  const std::vector<i64> leave = choose(organic, n_leave, rng(o.seed, p_leave, day));
  std::vector<bool> gone(w.accts.size(), false);
  for (const i64 i : leave) gone[static_cast<std::size_t>(i)] = true;
  std::vector<i64> stay;
  for (const i64 i : organic)
    if (!gone[static_cast<std::size_t>(i)]) stay.push_back(i);
  const i64 n_change = std::llround(o.change_share * static_cast<double>(organic.size()));
  for (const i64 i : choose(stay, n_change, rng(o.seed, p_change, day)))
    ++w.accts[static_cast<std::size_t>(i)].version;
  std::size_t out = 0;
  for (std::size_t i = 0; i < w.accts.size(); ++i)
    if (!gone[i]) w.accts[out++] = w.accts[i];
  w.accts.resize(out);
  const i64 n_join = std::llround(o.join_share * static_cast<double>(o.accounts));
  join(w, -1, n_join);
  today.left += static_cast<i64>(leave.size());
  today.changed += std::min<i64>(n_change, static_cast<i64>(stay.size()));
  today.joined += n_join;
}

/// Move `members` (row indices) to campaign c with a new version.
void recruit(world& w, const std::vector<i64>& members, i64 c) {
  for (const i64 i : members) {
    account& a = w.accts[static_cast<std::size_t>(i)];
    a.campaign = c;
    a.look = w.campaign_look[static_cast<std::size_t>(c)];
    ++a.version;
  }
}

std::vector<i64> members_of(const world& w, i64 c) {
  std::vector<i64> m;
  for (std::size_t i = 0; i < w.accts.size(); ++i)
    if (w.accts[i].campaign == c) m.push_back(static_cast<i64>(i));
  return m;
}

/// The planted events of day `day` (births, growth, merge, split, death, in that order).
void plant_events(world& w, int day, series_day& today, std::vector<series_event>& events) {
  const plan& p = w.p;
  const rng r(w.opt.seed, p_event, static_cast<u64>(day));
  if (day == p.birth1 || day == p.birth2) {
    const i64 c = new_campaign(w), size = r.between(0, 15, 40);
    join(w, c, size);
    today.joined += size;
    events.push_back({day, "birth", c, -1, 0, size});
  }
  if (day == p.growth1 || day == p.growth2) {
    const i64 before = campaign_size(w, p.grower);
    const i64 add = std::max<i64>(1, std::llround(r.uniform(1, 0.5, 1.0) * before));
    join(w, p.grower, add);
    today.joined += add;
    events.push_back({day, "growth", p.grower, -1, before, before + add});
  }
  if (day == p.merge) {
    const i64 before = campaign_size(w, p.absorber);
    const std::vector<i64> moved = members_of(w, p.absorbed);
    recruit(w, moved, p.absorber);
    today.changed += static_cast<i64>(moved.size());
    events.push_back(
        {day, "merge", p.absorber, p.absorbed, before, before + static_cast<i64>(moved.size())});
  }
  if (day == p.split) {
    const std::vector<i64> all = members_of(w, p.splitter);
    const i64 before = static_cast<i64>(all.size());
    std::vector<i64> moved = choose(all, before / 2, rng(w.opt.seed, p_event, 1000 + day));
    std::sort(moved.begin(), moved.end());
    const i64 c = new_campaign(w);
    recruit(w, moved, c);
    const i64 k = static_cast<i64>(moved.size());
    today.changed += k;
    events.push_back({day, "split", p.splitter, c, before, before - k});
    events.push_back({day, "birth", c, p.splitter, 0, k});
  }
  if (day == p.death) {
    const i64 before = campaign_size(w, p.dier);
    w.accts.erase(std::remove_if(w.accts.begin(), w.accts.end(),
                                 [&](const account& a) { return a.campaign == p.dier; }),
                  w.accts.end());
    today.left += before;
    events.push_back({day, "death", p.dier, -1, before, 0});
  }
}

// ------------------------------------------------------------------------------------------
// Output.

/// Day 1's midnight, 2026-10-01T00:00:00Z, in Unix seconds: the first activity bin.
constexpr std::int64_t kSeriesStart = 1790812800;

/// The date `offset` days after 2026-10-01, as YYYY-MM-DD.
std::string iso_date(int offset) {
  int y = 2026, m = 10, d = 1 + offset;
  for (;;) {
    const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    const int len[12] = {31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (d <= len[m - 1]) break;
    d -= len[m - 1];
    if (++m > 12) m = 1, ++y;
  }
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", y, m, d);
  return buf;
}

/// Write today's accounts to `path` (a temporary name), rows generated in parallel blocks.
void write_day(const world& w, int day, const series_day& today, const std::string& path,
               const std::function<void(double)>& progress) {
  h5::handle file = h5::create(path);
  const u64 n = w.accts.size(), d = static_cast<u64>(w.d), t = static_cast<u64>(w.t);
  const u64 chunk = std::clamp<u64>((u64{16} << 20) / (4 * std::max(d, t)), 1, 4096);
  const u64 block = 4 * chunk;
  h5::handle id = h5::create_dataset<std::int64_t>(file, "/accounts/id", {n}, block, 1);
  h5::handle handle;
  if (w.opt.handles) handle = h5::create_strings(file, "/accounts/handle", n, block);
  h5::handle emb = h5::create_dataset<float>(file, "/embedding", {n, d}, chunk, 0);
  h5::handle act = h5::create_dataset<std::int32_t>(file, "/activity", {n, t}, chunk, 1);
  // the clock, as chorus ingest writes it: hourly bins from day 1's midnight (UTC)
  const std::int64_t start = kSeriesStart;
  h5::set_attr(act, "bin_seconds", std::int64_t{3600});
  h5::set_attr(act, "fold", std::string("none"));
  h5::set_attr(act, "bin_start", ingest::iso_utc(start));
  h5::set_attr(act, "window_start", ingest::iso_utc(start));
  h5::set_attr(act, "window_end", ingest::iso_utc(start + 3600 * static_cast<std::int64_t>(t)));
  h5::handle cluster = h5::create_dataset<std::int64_t>(file, "/truth/cluster", {n}, block, 1);
  h5::handle kind = h5::create_dataset<std::int8_t>(file, "/truth/kind", {n}, block, 1);
  std::vector<float> emb_buf(block * d);
  std::vector<std::int32_t> act_buf(block * t);
  std::vector<std::int64_t> ids(block), clusters(block);
  std::vector<std::int8_t> kinds(block);
  std::vector<std::string> names;
  for (u64 r0 = 0; r0 < n; r0 += block) {
    const i64 nb = static_cast<i64>(std::min(block, n - r0));
#pragma omp parallel for schedule(dynamic, 64)
    for (i64 i = 0; i < nb; ++i)
      make_row(w, w.accts[r0 + static_cast<u64>(i)], emb_buf.data() + static_cast<u64>(i) * d,
               act_buf.data() + static_cast<u64>(i) * t);
    names.resize(static_cast<std::size_t>(nb));
    for (i64 i = 0; i < nb; ++i) {
      const account& a = w.accts[r0 + static_cast<u64>(i)];
      ids[i] = account_id(w.opt.seed, a.key);
      clusters[i] = a.campaign;
      kinds[i] = a.campaign < 0 ? 0 : 1;
      names[i] = "acct_" + std::to_string(ids[i]);
    }
    h5::write_rows<std::int64_t>(id, r0, nb, ids.data());
    if (handle.valid()) h5::write_strings(handle, r0, names);
    h5::write_rows<float>(emb, r0, nb, emb_buf.data());
    h5::write_rows<std::int32_t>(act, r0, nb, act_buf.data());
    h5::write_rows<std::int64_t>(cluster, r0, nb, clusters.data());
    h5::write_rows<std::int8_t>(kind, r0, nb, kinds.data());
    if (progress) progress((day - 1 + static_cast<double>(r0 + nb) / n) / w.opt.days);
  }
  const std::pair<const char*, i64> attrs[] = {{"seed", static_cast<i64>(w.opt.seed)},
                                               {"day", day},
                                               {"days", w.opt.days},
                                               {"accounts", static_cast<i64>(n)},
                                               {"dim", w.d},
                                               {"bins", w.t},
                                               {"campaigns", today.campaigns},
                                               {"joined", today.joined},
                                               {"left", today.left},
                                               {"changed", today.changed}};
  h5::set_attr(file, "generator", std::string(kGeneratorName));
  h5::set_attr(file, "date", today.date);
  for (const auto& [name, value] : attrs) h5::set_attr(file, name, value);
  h5::flush(file);
}

void write_events(const std::vector<series_event>& events, const std::string& path) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << "day,event,campaign,other,size_before,size_after\n";
  for (const series_event& e : events)
    f << e.day << ',' << e.event << ',' << e.campaign << ',' << e.other << ',' << e.size_before
      << ',' << e.size_after << '\n';
  f.close();
  if (!f) CHORUS_THROW(runtime_failure, "generate: cannot write '", path, "'");
}

/// Flush a closed file to disk, so that a rename never exposes a partial file.
void sync_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  const bool ok = fd >= 0 && ::fsync(fd) == 0;
  if (fd >= 0) ::close(fd);
  if (!ok) CHORUS_THROW(runtime_failure, "generate: cannot sync '", path, "' to disk");
}

void check_options(const series_options& o) {
  CHORUS_EXPECTS(o.days >= 2 && o.days <= 60,
                 "generate: --days must be from 2 to 60 for a series (got ", o.days, ")");
  CHORUS_EXPECTS(o.clusters >= 5 && o.clusters <= 100000,
                 "generate: a series needs --clusters "
                 "from 5 to 100000 (one campaign per kind of event; got ",
                 o.clusters, ")");
  CHORUS_EXPECTS(o.accounts >= 100 * static_cast<i64>(o.clusters) && o.accounts <= 1000000000,
                 "generate: a series of ", o.clusters, " campaigns needs --accounts from ",
                 100 * static_cast<i64>(o.clusters), " to 10^9 (got ", o.accounts, ")");
  CHORUS_EXPECTS(o.dim >= 16 && o.dim <= 65536,
                 "generate: a series needs --dim from 16 to 65536 (got ", o.dim, ")");
  CHORUS_EXPECTS(o.bins == 0 || (o.bins >= 24 && o.bins <= 1048576),
                 "generate: a series needs --bins from 24 to 2^20 (got ", o.bins, ")");
  for (const double s : {o.join_share, o.leave_share, o.change_share})
    CHORUS_EXPECTS(s >= 0 && s <= 0.2, "generate: series churn shares must be in [0, 0.2] (got ", s,
                   ")");
  CHORUS_EXPECTS(!o.out.empty(), "generate: no output path given");
}

/// Every output path: not a directory, absent unless force, in a writable directory.
void check_paths(const std::vector<std::string>& paths, bool force) {
  namespace fs = std::filesystem;
  std::error_code ec;
  for (const std::string& p : paths) {
    const fs::path path(p);
    CHORUS_EXPECTS(!fs::is_directory(path, ec), "generate: output '", p, "' is a directory");
    CHORUS_EXPECTS(force || !fs::exists(path, ec), "generate: output file '", p,
                   "' already exists (use --force to overwrite it)");
    const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
    CHORUS_EXPECTS(fs::is_directory(dir, ec), "generate: output directory '", dir.string(),
                   "' does not exist");
    CHORUS_EXPECTS(::access(dir.c_str(), W_OK) == 0, "generate: output directory '", dir.string(),
                   "' is not writable");
  }
}

/// Simulate and write every day and the events under temporary names (tmp[k] for paths[k]).
series_summary write_all(world& w, const std::vector<std::string>& paths,
                         const std::vector<std::string>& tmp,
                         const std::function<void(double)>& progress) {
  series_summary s;
  s.dim = w.d;
  s.bins = w.t;
  for (int day = 1; day <= w.opt.days; ++day) {
    series_day today;
    if (day == 1) {
      first_day(w, s.events);
    } else {
      churn(w, day, today);
      plant_events(w, day, today, s.events);
    }
    std::vector<bool> live(w.campaign_look.size(), false);
    for (const account& a : w.accts)
      if (a.campaign >= 0) live[static_cast<std::size_t>(a.campaign)] = true;
    today.campaigns = std::count(live.begin(), live.end(), true);
    today.path = paths[static_cast<std::size_t>(day - 1)];
    today.date = iso_date(day - 1);
    today.accounts = static_cast<i64>(w.accts.size());
    write_day(w, day, today, tmp[static_cast<std::size_t>(day - 1)], progress);
    s.days.push_back(today);
  }
  s.events_path = paths.back();
  write_events(s.events, tmp.back());
  return s;
}

}  // namespace

std::vector<std::string> series_paths(const std::string& out, int days) {
  std::string base = out, ext = ".h5";
  for (const char* e : {".h5", ".hdf5"}) {
    const std::string x = e;
    if (base.size() > x.size() && base.compare(base.size() - x.size(), x.size(), x) == 0) {
      base.resize(base.size() - x.size());
      ext = x;
      break;
    }
  }
  std::vector<std::string> paths;
  const int width = days >= 100 ? 3 : 2;
  for (int day = 1; day <= days; ++day) {
    char num[16];
    std::snprintf(num, sizeof num, "%0*d", width, day);
    paths.push_back(base + ".day" + num + ext);
  }
  paths.push_back(base + ".events.csv");
  return paths;
}

series_summary generate_series(const series_options& opt,
                               const std::function<void(double)>& progress) {
  namespace fs = std::filesystem;
  check_options(opt);
  const std::vector<std::string> paths = series_paths(opt.out, opt.days);
  check_paths(paths, opt.force);

  world w;
  w.opt = opt;
  w.d = opt.dim;
  w.t = opt.bins > 0 ? opt.bins : 24 * opt.days;
  w.p = make_plan(opt);
  std::vector<std::string> tmp;
  for (const std::string& p : paths) tmp.push_back(p + ".tmp." + std::to_string(::getpid()));
  std::size_t renamed = 0;
  try {
    series_summary s = write_all(w, paths, tmp, progress);
    for (const std::string& p : tmp) sync_file(p);
    for (; renamed < paths.size(); ++renamed) {
      std::error_code ec;
      fs::rename(tmp[renamed], paths[renamed], ec);
      if (ec)
        CHORUS_THROW(runtime_failure, "generate: cannot rename '", tmp[renamed], "' to '",
                     paths[renamed], "': ", ec.message());
    }
    if (progress) progress(1.0);
    return s;
  } catch (...) {
    std::error_code ignore;
    for (std::size_t k = 0; k < paths.size(); ++k)
      fs::remove(k < renamed ? paths[k] : tmp[k], ignore);
    throw;
  }
}

}  // namespace chorus
