// chorus: synthetic posts corpus. The model is documented in datasets/GENERATOR.md ("Posts
// corpus").
//
// Layout of the randomness: every random number is a hash of (seed, purpose, a, i) as in
// generate.cpp: `a` is an account row, a campaign or a burst, `i` an element index. The k-th post
// of an account is a pure function of (seed, row, k), so another account can compute it without
// state (a repost needs the original's id, time and text), and blocks of accounts are generated
// in parallel with output that does not depend on the thread count. Rows are mapped to roles
// through a keyed bijection of [0, N), so campaign members are scattered over the file.
#include "chorus/generate/posts.hpp"

#include <fcntl.h>
#include <omp.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "chorus/core/error.hpp"

namespace chorus {
namespace {

using u64 = std::uint64_t;
using i64 = std::int64_t;

constexpr double kPi = 3.14159265358979323846;
constexpr i64 kDay = 86400;

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
enum purpose : u64 {
  p_role = 101,
  p_uid,
  p_handle_perm,
  p_msg,
  p_vocab,
  p_topic,
  p_news,
  p_campaign,
  p_club,
  p_account,
  p_time,
  p_post,
  p_text,
  p_burst,
  p_edit,
  p_fan,
  p_bot,
  p_handle,
  p_schedule,
};

/// One stream of random numbers: element i is a pure function of (key, i).
struct stream {
  u64 key;
  stream(u64 seed, u64 purpose, u64 a) : key(mix64(mix64(seed ^ mix64(purpose * kGolden)) + a)) {}
  u64 bits(u64 i) const { return mix64(key + (i + 1) * kOdd); }
  /// Uniform in (0, 1).
  double uniform(u64 i) const { return (static_cast<double>(bits(i) >> 11) + 0.5) * 0x1.0p-53; }
  double uniform(u64 i, double lo, double hi) const { return lo + (hi - lo) * uniform(i); }
  /// Integer in [0, n), n >= 1.
  i64 below(u64 i, i64 n) const {
    return static_cast<i64>(uniform(i) * static_cast<double>(n)) % n;
  }
  /// Standard normal (Box-Muller on two hashes).
  double gauss(u64 i) const {
    return std::sqrt(-2.0 * std::log(uniform(2 * i))) * std::cos(2.0 * kPi * uniform(2 * i + 1));
  }
};

/// Poisson variate: inversion for small means, a rounded normal for large ones.
i64 poisson(double lam, const stream& s, u64 i) {
  if (lam <= 0.0) return 0;
  if (lam >= 30.0) return std::max<i64>(0, std::llround(lam + std::sqrt(lam) * s.gauss(i)));
  const double u = s.uniform(2 * i);
  double p = std::exp(-lam), c = p;
  i64 k = 0;
  while (u > c && k < 200) {
    ++k;
    p *= lam / static_cast<double>(k);
    c += p;
  }
  return k;
}

/// Index in [0, n) with probability falling like 1/(i+4) (log-uniform on [4, n+4)): a cheap
/// Zipf law whose most frequent element has a few percent of the mass.
inline i64 zipf(double u, i64 n) {
  const double lo = std::log(4.0), hi = std::log(static_cast<double>(n) + 4.0);
  return std::clamp<i64>(static_cast<i64>(std::exp(lo + u * (hi - lo))) - 4, 0, n - 1);
}

/// A keyed bijection of [0, 2^bits) (bits even): a 4-round Feistel network, with its inverse.
class feistel {
 public:
  feistel() = default;
  feistel(int bits, u64 seed, u64 what) : half_(bits / 2), mask_((u64{1} << (bits / 2)) - 1) {
    for (int r = 0; r < 4; ++r) keys_[r] = stream(seed, what, 0).bits(r);
  }
  u64 fwd(u64 x) const {
    u64 l = x >> half_, r = x & mask_;
    for (int k = 0; k < 4; ++k) {
      const u64 nl = r;
      r = l ^ (mix64(r ^ keys_[k]) & mask_);
      l = nl;
    }
    return (l << half_) | r;
  }
  u64 inv(u64 x) const {
    u64 l = x >> half_, r = x & mask_;
    for (int k = 3; k >= 0; --k) {
      const u64 nr = l;
      l = r ^ (mix64(l ^ keys_[k]) & mask_);
      r = nr;
    }
    return (l << half_) | r;
  }

 private:
  int half_ = 1;
  u64 mask_ = 1, keys_[4] = {};
};

/// A keyed bijection of [0, n): the Feistel network on the smallest even number of bits that
/// covers n, with cycle walking (forward and inverse).
class permutation {
 public:
  permutation() = default;
  permutation(u64 n, u64 seed, u64 what) : n_(std::max<u64>(n, 1)) {
    int bits = 2;
    while (bits < 62 && (u64{1} << bits) < n_) bits += 2;
    f_ = feistel(bits, seed, what);
  }
  u64 fwd(u64 x) const {
    do x = f_.fwd(x);
    while (x >= n_);
    return x;
  }
  u64 inv(u64 x) const {
    do x = f_.inv(x);
    while (x >= n_);
    return x;
  }

 private:
  u64 n_ = 1;
  feistel f_;
};

// ------------------------------------------------------------------------------------------
// Languages: syllable alphabets, the quotes they use and the time zones of their speakers.

constexpr const char* kSylLatin[] = {"ka",  "ri",  "to",  "men", "sa",  "lo", "ver", "an",  "dor",
                                     "pe",  "li",  "na",  "mo",  "st",  "ra", "tel", "bu",  "ne",
                                     "qui", "zo",  "gar", "fi",  "lan", "ti", "ro",  "se",  "mar",
                                     "de",  "win", "ple", "sh",  "or",  "el", "com", "bri", "tha"};
constexpr const char* kSylAccent[] = {"já", "ño", "ção", "ré",  "lu", "mí", "ża", "ło", "śni",
                                      "gę", "ca", "tó",  "ven", "ür", "ës", "dá", "pí", "ña",
                                      "ól", "sé", "ci",  "rą",  "bé", "zí", "mu", "ko", "fa",
                                      "ñe", "cú", "vé",  "ra",  "te", "lo", "ma", "di", "so"};
constexpr const char* kSylCyrillic[] = {"ка", "ло", "ви", "ст",  "на", "ро", "пре", "мо", "за",
                                        "ди", "ть", "ле", "жи",  "ры", "шо", "ве",  "ну", "го",
                                        "ба", "ся", "чи", "ко",  "ми", "ёл", "щи",  "ду", "ла",
                                        "тэ", "ю",  "ра", "пол", "ск", "ий", "ов",  "ен", "де"};
constexpr const char* kSylGreek[] = {"κα", "λο", "τι", "μέ", "να", "ρο", "πα", "σι",  "θε",
                                     "νό", "ξε", "γι", "δα", "ψη", "ώ",  "ει", "στο", "λά",
                                     "φω", "ζη", "χα", "βι", "μυ", "οι", "ήρ", "κό",  "ντα",
                                     "πε", "ρί", "τα", "ος", "ης", "ου", "με", "λη",  "κη"};
constexpr const char* kSylNordic[] = {"å",  "ør", "sk", "kä",  "vö", "lund", "berg", "ti",  "ja",
                                      "ha", "ge", "ün", "rö",  "ma", "fjä",  "ne",   "st",  "ka",
                                      "dö", "le", "bå", "ik",  "ö",  "sa",   "tr",   "ve",  "hö",
                                      "ga", "no", "ul", "ein", "ar", "er",   "un",   "ßen", "nd"};

struct lang_def {
  const char* const* syl;
  int nsyl;
  const int* tz;  // UTC offsets (hours) of speakers
  int ntz;
  bool ascii_caps;  // the first letter of a sentence can be capitalised (ASCII)
  const char* qopen;
  const char* qclose;
};

constexpr int kTzLatin[] = {-8, -7, -6, -5, -5, -5, 0, 0, 1, 10};
constexpr int kTzAccent[] = {1, 1, 2, -3, -5, -6, 1};
constexpr int kTzCyrillic[] = {3, 3, 2, 5};
constexpr int kTzGreek[] = {2};
constexpr int kTzNordic[] = {1, 1, 2};

constexpr lang_def kLangs[] = {
    {kSylLatin, 36, kTzLatin, 10, true, "\xE2\x80\x9C", "\xE2\x80\x9D"},    // “ ”
    {kSylAccent, 36, kTzAccent, 7, false, "\xC2\xAB", "\xC2\xBB"},          // « »
    {kSylCyrillic, 36, kTzCyrillic, 4, false, "\xC2\xAB", "\xC2\xBB"},      // « »
    {kSylGreek, 36, kTzGreek, 1, false, "\xC2\xAB", "\xC2\xBB"},            // « »
    {kSylNordic, 36, kTzNordic, 3, false, "\xE2\x80\x9E", "\xE2\x80\x9C"},  // „ “
};
constexpr int kLanguages = 5;
constexpr int kTopics = 12;
constexpr int kTopicLang[kTopics] = {0, 0, 1, 2, 0, 1, 3, 4, 0, 2, 1, 0};

constexpr const char* kEmoji[] = {"😀",  "😂", "🔥",       "👍", "🙏",      "❤️", "😡",
                                  "🇪🇺", "✅", "❗",       "👉", "🤔",   "😢",      "🎉",
                                  "💪",  "👏", "🗳️", "📢", "⚠️", "😎"};
constexpr int kEmojis = 20;
constexpr const char* kTld[] = {".com", ".net", ".org", ".eu", ".info", ".news", ".de", ".gr"};
constexpr const char* kNewsSuffix[] = {"news", "post", "times", "daily", "24", "herald", "press"};
constexpr const char* kSections[] = {"politics", "world", "local", "opinion", "economy", "a"};

/// A synthetic word of `n` syllables of language `lang`.
void append_word(std::string& out, int lang, const stream& s, u64& i, int n) {
  const lang_def& L = kLangs[lang];
  for (int k = 0; k < n; ++k) out += L.syl[s.below(i++, L.nsyl)];
}

std::string make_word(int lang, const stream& s, u64& i, int n) {
  std::string w;
  append_word(w, lang, s, i, n);
  return w;
}

inline void capitalize_first(std::string& s, std::size_t at) {
  if (at < s.size() && s[at] >= 'a' && s[at] <= 'z') s[at] = static_cast<char>(s[at] - 32);
}

void append_int(std::string& out, i64 v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// ------------------------------------------------------------------------------------------
// The model.

struct topic {
  int lang = 0;
  std::vector<std::string> words, tags;
};

/// A planted campaign: members post edited copies of a template per burst.
struct campaign {
  i64 size = 0, start = 0;  // members are role positions [start, start + size)
  int topic = 0, lang = 0, tz = 0;
  std::vector<std::string> vocab;
  std::string hashtag, host, code;
  double join = 0, repost_share = 0, spread = 0;  // spread: mean copy delay (s)
  std::vector<i64> burst_time, leader;
  std::vector<std::vector<std::string>> tmpl;  // tokens of each burst's template
  std::vector<std::string> slug;
  std::vector<i64> rows;  // row of each member
};

/// A fan club (topic decoy): members repost one celebrity at independent times.
struct club {
  i64 size = 0, start = 0;
  int celeb = 0;  // popular account index
};

/// Everything about one account that its posts depend on (a pure function of the row).
struct account {
  i64 row = 0, pos = 0;
  account_kind kind = account_kind::organic;
  i64 group = -1, member = -1;  // campaign or club; member index in the campaign
  int popular = -1;             // index among the popular accounts, or -1
  int topic = 0, lang = 0, tz = 0, session = 1;
  double peak = 20, amp = 0.5, repost_share = 0, reply_share = 0, fan_share = 0;
  i64 n_own = 0;  // own posts k = 0..n_own-1 (meaning depends on the role)
  int period = 1, phase = 0, minute = 0, act_from = 0, act_len = 24;  // news bots
  int beats[2] = {0, 0};  ///< a news bot's other two topics (of its language when it has three)
};

struct model {
  i64 n = 0, start = 0, end = 0;
  int days = 0;
  u64 seed = 0;
  double ppa = 0;
  std::vector<std::vector<std::string>> common;  // per language: frequent short words
  std::vector<topic> topics;
  std::vector<double> topic_cum;
  std::vector<std::string> news;  // news site hosts
  std::vector<campaign> camps;
  std::vector<i64> camp_end;  // cumulative sizes
  std::vector<club> clubs;
  std::vector<i64> club_end;
  i64 n_coord = 0, n_fans = 0, n_bots = 0, n_pop = 0;
  i64 pos_bots = 0, pos_pop = 0, pos_org = 0;  // role positions where each role starts
  std::vector<account> popular;
  std::vector<std::vector<int>> pop_by_topic;
  permutation role, handle_perm;
  feistel uid, msg;

  int sample_topic(double u) const {
    const auto it = std::upper_bound(topic_cum.begin(), topic_cum.end(), u * topic_cum.back());
    return static_cast<int>(std::min<std::ptrdiff_t>(it - topic_cum.begin(), kTopics - 1));
  }
  i64 user_id(i64 row) const { return 1000000000 + static_cast<i64>(uid.fwd(row)); }
  /// 60-bit message id of post k of account `row`; unique since (row, k) < (2^40, 2^20).
  i64 message_id(i64 row, u64 k) const {
    return static_cast<i64>((u64{1} << 60) + msg.fwd((static_cast<u64>(row) << 20) | k));
  }
};

constexpr i64 kMaxOwn = i64{1} << 19;      // own posts per account
constexpr i64 kMaxPopular = i64{1} << 18;  // posts of a popular account (fans add these to k)
constexpr double kFanShare = 0.03, kBotShare = 0.005;

std::vector<i64> cumulative(const std::vector<i64>& sizes, i64 from) {
  std::vector<i64> ends(sizes.size());
  for (std::size_t i = 0; i < sizes.size(); ++i) ends[i] = (from += sizes[i]);
  return ends;
}

/// Campaign sizes: stratified log-uniform in [10, 80], shuffled, scaled down (to >= 10) when
/// they would exceed a quarter of the accounts.
std::vector<i64> plan_campaigns(i64 n, int c, u64 seed) {
  stream s(seed, p_campaign, u64{1} << 40);
  std::vector<std::pair<u64, i64>> order(c);
  for (int k = 0; k < c; ++k)
    order[k] = {s.bits(2 * k), std::llround(10.0 * std::pow(8.0, (k + s.uniform(2 * k + 1)) / c))};
  std::sort(order.begin(), order.end());
  std::vector<i64> sizes(c);
  i64 sum = 0;
  for (int k = 0; k < c; ++k) sum += (sizes[k] = std::clamp<i64>(order[k].second, 10, 80));
  if (sum > n / 4) {
    const double f = static_cast<double>(n / 4 - 10 * i64{c}) / static_cast<double>(sum - 10 * c);
    for (auto& v : sizes) v = 10 + static_cast<i64>(f * static_cast<double>(v - 10));
  }
  return sizes;
}

/// Fan clubs: log-uniform sizes in [5, 300] summing to `budget`.
std::vector<i64> plan_clubs(i64 budget, u64 seed) {
  std::vector<i64> sizes;
  if (budget < 5) return sizes;
  const stream s(seed, p_club, u64{1} << 40);
  i64 rem = budget;
  for (u64 i = 0; rem > 0; ++i) {
    i64 size =
        std::clamp<i64>(std::llround(std::exp(s.uniform(i, std::log(5), std::log(300)))), 5, 300);
    if (rem - size < 5) size = rem;
    sizes.push_back(size);
    rem -= size;
  }
  return sizes;
}

void build_language(model& m) {
  m.common.resize(kLanguages);
  for (int l = 0; l < kLanguages; ++l) {
    const stream s(m.seed, p_vocab, l);
    u64 i = 0;
    for (int w = 0; w < 120; ++w)
      m.common[l].push_back(make_word(l, s, i, w < 40 ? 1 : 1 + static_cast<int>(s.below(i++, 2))));
  }
  m.topics.resize(kTopics);
  m.topic_cum.resize(kTopics);
  double cum = 0;
  for (int t = 0; t < kTopics; ++t) {
    topic& tp = m.topics[t];
    tp.lang = kTopicLang[t];
    const stream s(m.seed, p_topic, t);
    u64 i = 0;
    // a topic's words come from its own 12 of the language's 36 syllables, so topics differ in
    // their character n-grams as real topics do in their vocabulary
    int subset[12];
    for (int k = 0, taken = 0; taken < 12; ++k) {
      const int c = static_cast<int>(s.below(i++, kLangs[tp.lang].nsyl));
      if (std::find(subset, subset + taken, c) == subset + taken) subset[taken++] = c;
    }
    for (int w = 0; w < 300; ++w) {
      std::string word;
      const int n = 2 + static_cast<int>(s.below(i++, 3));
      for (int k = 0; k < n; ++k) word += kLangs[tp.lang].syl[subset[s.below(i++, 12)]];
      tp.words.push_back(word);
    }
    for (int w = 0; w < 6; ++w) {
      std::string tag = make_word(0, s, i, 2 + static_cast<int>(s.below(i++, 2)));
      if (s.uniform(i++) < 0.5) capitalize_first(tag, 0);
      tp.tags.push_back("#" + tag);
    }
    m.topic_cum[t] = (cum += std::pow(t + 1.0, -0.7) * std::exp(0.3 * s.gauss(1000)));
  }
  const stream s(m.seed, p_news, 0);
  u64 i = 0;
  for (int k = 0; k < 24; ++k) {
    std::string h = make_word(0, s, i, 2 + static_cast<int>(s.below(i++, 2)));
    if (s.uniform(i++) < 0.3) h += "-";
    h += kNewsSuffix[s.below(i++, 7)];
    m.news.push_back(h + kTld[s.below(i++, 8)]);
  }
}

/// The template of one burst: 9-17 words (about half campaign words), commas, a quoted phrase
/// sometimes, closing punctuation and sometimes an emoji.
std::vector<std::string> make_template(const model& m, const campaign& c, const stream& s, u64& i) {
  const int n = 9 + static_cast<int>(s.below(i++, 9));
  const auto& words = m.topics[c.topic].words;
  std::vector<std::string> tok;
  for (int w = 0; w < n; ++w) {
    std::string t =
        s.uniform(i++) < 0.5 ? c.vocab[zipf(s.uniform(i++), 40)] : words[zipf(s.uniform(i++), 300)];
    if (w + 1 < n && s.uniform(i++) < 0.12) t += ',';
    tok.push_back(std::move(t));
  }
  if (kLangs[c.lang].ascii_caps) capitalize_first(tok[0], 0);
  if (s.uniform(i++) < 0.35) {
    const int a = static_cast<int>(s.below(i++, n - 1));
    const int b = std::min(n - 1, a + 1 + static_cast<int>(s.below(i++, 3)));
    const bool straight = s.uniform(i++) < 0.6;
    tok[a] = (straight ? "\"" : kLangs[c.lang].qopen) + tok[a];
    tok[b] += straight ? "\"" : kLangs[c.lang].qclose;
  }
  static const char* const ends[] = {"!", "!", ".", "!!", "", "?!"};
  tok.back() += ends[s.below(i++, 6)];
  if (s.uniform(i++) < 0.5) tok.push_back(kEmoji[s.below(i++, kEmojis)]);
  return tok;
}

/// Bursts: distinct (day, hour) slots inside the campaign's daily window (local time), at
/// minute 0-49, so a burst's posts (at most ~5 minutes) never reach the next slot.
void plan_bursts(const model& m, campaign& c, const stream& s, u64& i) {
  const int h0 = 7 + static_cast<int>(s.below(i++, 8)), w = 6 + static_cast<int>(s.below(i++, 7));
  std::vector<i64> slots;
  for (int d = 0; d < m.days; ++d)
    for (int h = 0; h < w; ++h) slots.push_back(d * kDay + ((h0 + h - c.tz + 48) % 24) * 3600);
  const std::size_t count =
      std::min<std::size_t>(slots.size(), 15 + static_cast<std::size_t>(s.below(i++, 26)));
  for (std::size_t k = 0; k < count; ++k)  // partial Fisher-Yates
    std::swap(slots[k], slots[k + s.below(i++, static_cast<i64>(slots.size() - k))]);
  slots.resize(count);
  std::sort(slots.begin(), slots.end());
  for (i64 t : slots) {
    const i64 minute = s.below(i++, 50);
    c.burst_time.push_back(m.start + t + minute * 60 + s.below(i++, 60));
  }
}

void build_campaign(model& m, int ci) {
  campaign& c = m.camps[ci];
  const stream s(m.seed, p_campaign, ci);
  u64 i = 0;
  c.topic = m.sample_topic(s.uniform(i++));
  c.lang = m.topics[c.topic].lang;
  c.tz = kLangs[c.lang].tz[s.below(i++, kLangs[c.lang].ntz)];
  for (int w = 0; w < 40; ++w)
    c.vocab.push_back(make_word(c.lang, s, i, 2 + static_cast<int>(s.below(i++, 2))));
  std::string a = make_word(0, s, i, 2), b = make_word(0, s, i, 2 + s.below(i++, 2));
  capitalize_first(a, 0);
  capitalize_first(b, 0);
  c.hashtag = "#" + a + b + (s.uniform(i++) < 0.3 ? "2026" : "");
  c.code = make_word(0, s, i, 3);
  c.host = c.code + (s.uniform(i++) < 0.5 ? "-" : "");
  c.host += make_word(0, s, i, 2);
  c.host += kTld[s.below(i++, 8)];
  c.join = s.uniform(i++, 0.85, 0.97);
  c.repost_share = s.uniform(i++, 0.15, 0.35);
  c.spread = s.uniform(i++, 30, 80);
  plan_bursts(m, c, s, i);
  for (std::size_t b2 = 0; b2 < c.burst_time.size(); ++b2) {
    c.leader.push_back(s.below(i++, c.size));
    c.tmpl.push_back(make_template(m, c, s, i));
    std::string slug = make_word(0, s, i, 2);
    for (int k = 0; k < 2; ++k) slug += "-" + make_word(0, s, i, 2 + s.below(i++, 2));
    c.slug.push_back(slug);
  }
  for (i64 j = 0; j < c.size; ++j) c.rows.push_back(static_cast<i64>(m.role.inv(c.start + j)));
}

account describe(const model& m, i64 row);

model build_model(const posts_options& opt) {
  model m;
  m.n = opt.accounts;
  m.days = opt.days;
  m.start = opt.start_time;
  m.end = opt.start_time + opt.days * kDay;
  m.seed = opt.seed;
  m.ppa = opt.posts_per_account;
  build_language(m);

  // Roles: [campaigns | fans | news bots | popular | organic] in permuted positions.
  const std::vector<i64> sizes = plan_campaigns(m.n, opt.campaigns, m.seed);
  m.camp_end = cumulative(sizes, 0);
  m.n_coord = m.camp_end.empty() ? 0 : m.camp_end.back();
  const std::vector<i64> clubs = plan_clubs(std::llround(kFanShare * m.n), m.seed);
  m.club_end = cumulative(clubs, m.n_coord);
  m.n_fans = m.club_end.empty() ? 0 : m.club_end.back() - m.n_coord;
  m.n_bots = std::llround(kBotShare * m.n);
  m.pos_bots = m.n_coord + m.n_fans;
  m.pos_pop = m.pos_bots + m.n_bots;
  m.n_pop = std::clamp<i64>(m.n / 1000, kTopics, 5000);
  m.pos_org = m.pos_pop + m.n_pop;
  m.role = permutation(m.n, m.seed, p_role);
  m.handle_perm = permutation(m.n, m.seed, p_handle_perm);
  m.uid = feistel(40, m.seed, p_uid);
  m.msg = feistel(60, m.seed, p_msg);

  m.pop_by_topic.resize(kTopics);
  for (i64 q = 0; q < m.n_pop; ++q) {
    m.popular.push_back(describe(m, static_cast<i64>(m.role.inv(m.pos_pop + q))));
    m.pop_by_topic[m.popular.back().topic].push_back(static_cast<int>(q));
  }
  m.camps.resize(sizes.size());
  for (std::size_t c = 0; c < sizes.size(); ++c) {
    m.camps[c].size = sizes[c];
    m.camps[c].start = m.camp_end[c] - sizes[c];
    build_campaign(m, static_cast<int>(c));
  }
  m.clubs.resize(clubs.size());
  for (std::size_t g = 0; g < clubs.size(); ++g) {
    m.clubs[g] = {clubs[g], m.club_end[g] - clubs[g],
                  static_cast<int>(stream(m.seed, p_club, g).below(0, m.n_pop))};
  }
  return m;
}

/// Volume, timing and role-specific parameters of an account.
void describe_volume(const model& m, const stream& s, account& a) {
  switch (a.kind) {
    case account_kind::coordinated:
      a.n_own = 1 + poisson(1.0, s, 20);  // organic-looking filler
      break;
    case account_kind::timing_decoy: {
      // one of about n_bots / 10 shared schedules: bots of a schedule post at the same times
      static const int periods[] = {1, 1, 1, 2, 3, 4, 6};
      // bot b follows schedule b mod S, and bots of one schedule cover different topics (and so
      // often languages): outlets that post at the same minute, each with its own news
      const i64 n_sched = (m.n_bots + 9) / 10, b = a.pos - m.pos_bots;
      const stream sch(m.seed, p_schedule, static_cast<u64>(b % n_sched));
      a.topic = static_cast<int>((b / n_sched + b % n_sched) % kTopics);
      a.lang = m.topics[a.topic].lang;
      for (int k = 0; k < 2; ++k)  // two more topics, any language's: words of other scripts
        a.beats[k] = static_cast<int>(s.below(40 + k, kTopics));
      a.period = periods[sch.below(0, 7)];
      a.phase = static_cast<int>(sch.below(1, a.period));
      a.minute = sch.uniform(2) < 0.8 ? 0 : 30;
      a.act_from = static_cast<int>(sch.below(3, 24));
      a.act_len =
          a.period > 1 && sch.uniform(4) < 0.5 ? 24 : 16 + static_cast<int>(sch.below(5, 5));
      a.tz = kLangs[0].tz[sch.below(6, kLangs[0].ntz)];
      a.n_own = (i64{m.days} * 24 - a.phase + a.period - 1) / a.period;  // schedule slots
      break;
    }
    default: {
      if (a.popular >= 0) {
        const double mean = std::max(3.0 * m.ppa, 4.0 * m.days);
        const double rate = mean * std::exp(0.5 * s.gauss(27) - 0.125);
        a.n_own = std::clamp<i64>(poisson(std::min(rate, 1e6), s, 28), 5, kMaxPopular);
      } else {
        const double rate = m.ppa * std::exp(1.2 * s.gauss(27) - 0.72);  // heavy-tailed
        a.n_own = std::clamp<i64>(poisson(std::min(rate, 1e7), s, 28), 1, kMaxOwn);
      }
    }
  }
}

account describe(const model& m, i64 row) {
  account a;
  a.row = row;
  a.pos = static_cast<i64>(m.role.fwd(static_cast<u64>(row)));
  const stream s(m.seed, p_account, row);
  a.topic = m.sample_topic(s.uniform(0));
  a.lang = m.topics[a.topic].lang;
  a.tz = kLangs[a.lang].tz[s.below(1, kLangs[a.lang].ntz)];
  auto find = [&](const std::vector<i64>& ends) {
    return static_cast<i64>(std::upper_bound(ends.begin(), ends.end(), a.pos) - ends.begin());
  };
  if (a.pos < m.n_coord) {
    a.kind = account_kind::coordinated;
    a.group = find(m.camp_end);
    const campaign& c = m.camps[a.group];
    a.member = a.pos - c.start;
    a.topic = c.topic;
    a.lang = c.lang;
    a.tz = c.tz;
  } else if (a.pos < m.pos_bots) {
    a.kind = account_kind::topic_decoy;
    a.group = find(m.club_end);
    a.fan_share = s.uniform(2, 0.15, 0.5);
  } else if (a.pos < m.pos_pop) {
    a.kind = account_kind::timing_decoy;
  } else if (a.pos < m.pos_org) {
    a.popular = static_cast<int>(a.pos - m.pos_pop);
  }
  const bool owl = s.uniform(3) < 0.1;
  a.peak = owl ? s.uniform(4, 0.5, 3.5) : 20.0 + 2.0 * s.gauss(5);
  a.amp = s.uniform(6, 0.5, 0.95);
  a.session = 1 + static_cast<int>(s.below(7, 3));
  a.repost_share = a.popular >= 0 ? 0.0 : s.uniform(8, 0.05, 0.45);
  a.reply_share = a.popular >= 0 ? 0.0 : s.uniform(9, 0.0, 0.08);
  describe_volume(m, s, a);
  return a;
}

// ------------------------------------------------------------------------------------------
// Times.

/// Time of own post k: posts come in sessions of a.session posts; a session starts on a random
/// day at an hour drawn from the account's daily rhythm (local time), posts of a session follow
/// each other by 20 s - 10 min.
i64 own_time(const model& m, const account& a, u64 k) {
  const stream s(m.seed, p_time, a.row);
  const u64 j = k / static_cast<u64>(a.session), w = k % static_cast<u64>(a.session);
  const u64 b = j << 5;
  const i64 day = s.below(b, m.days);
  double h = 0;
  for (u64 t = 0; t < 12; ++t) {  // rejection sampling of 1 + amp cos(2 pi (h - peak) / 24)
    h = 24.0 * s.uniform(b + 1 + 2 * t);
    const double f = 1.0 + a.amp * std::cos(2.0 * kPi * (h - a.peak) / 24.0);
    if (s.uniform(b + 2 + 2 * t) * (1.0 + a.amp) < f) break;
  }
  double utc = std::fmod(h - a.tz + 48.0, 24.0);
  i64 t = m.start + day * kDay + std::min<i64>(kDay - 1, static_cast<i64>(utc * 3600.0));
  if (w > 0) t += static_cast<i64>(w) * (20 + s.below(b + 30, 580));
  return t >= m.end ? t - kDay : t;
}

/// Role of a campaign member in a burst: whether it posts, whether as a repost of the leader's
/// post, and when. The leader posts within 30 s of the burst time; copies follow at exponential
/// delays (mean c.spread, at most 4 min), reposts of the leader 3 s - 2 min after it.
struct burst_part {
  bool posts = false, repost = false;
  i64 time = 0;
};

burst_part burst_member(const model& m, int ci, std::size_t b, i64 j) {
  const campaign& c = m.camps[ci];
  const stream s(m.seed, p_burst, (static_cast<u64>(ci) << 32) | b);
  const i64 lt = c.burst_time[b] + s.below(0, 30);
  if (j == c.leader[b]) return {true, false, lt};
  const u64 base = 16 + static_cast<u64>(j) * 4;
  if (s.uniform(base) >= c.join) return {};
  if (s.uniform(base + 1) < c.repost_share)
    return {true, true, lt + 3 + std::min<i64>(117, -20.0 * std::log(s.uniform(base + 2)))};
  return {true, false,
          c.burst_time[b] + 5 + std::min<i64>(235, -c.spread * std::log(s.uniform(base + 3)))};
}

// ------------------------------------------------------------------------------------------
// Texts.

/// A news link: https, sometimes www., a section, a slug and a number; sometimes utm_*.
void news_url(const std::string& host, const stream& s, u64& i, std::string& url) {
  url = s.uniform(i++) < 0.5 ? "https://www." : "https://";
  url += host;
  url += '/';
  url += kSections[s.below(i++, 6)];
  url += '/';
  const int n = 2 + static_cast<int>(s.below(i++, 3));
  for (int w = 0; w < n; ++w) {
    append_word(url, 0, s, i, 1 + static_cast<int>(s.below(i++, 2)));
    url += '-';
  }
  append_int(url, 100000 + s.below(i++, 900000));
  if (s.uniform(i++) < 0.2) url += "?utm_source=twitter&utm_medium=social";
}

/// Ordinary text: 4-17 words (sometimes up to 37) mixing the language's frequent words and the
/// topic's words, commas, sentence ends, line breaks (LF, blank lines, rarely CRLF), sometimes a
/// quoted phrase, a hashtag, an emoji and a news link.
void organic_text(const model& m, const account& a, u64 k, std::string& text, std::string& urls) {
  const stream s(m.seed, p_text, a.row);
  u64 i = k << 10;
  const topic& tp = m.topics[a.topic];
  const lang_def& L = kLangs[tp.lang];
  const auto& common = m.common[tp.lang];
  int n = 4 + static_cast<int>(s.below(i++, 14));
  if (s.uniform(i++) < 0.15) n += static_cast<int>(s.below(i++, 20));
  int q0 = -1, q1 = -1;
  bool straight = true;
  if (s.uniform(i++) < 0.08) {
    q0 = static_cast<int>(s.below(i++, n));
    q1 = std::min(n - 1, q0 + static_cast<int>(s.below(i++, 4)));
    straight = s.uniform(i++) < 0.6;
  }
  if (s.uniform(i++) < 0.05) text += tp.tags[zipf(s.uniform(i++), 6)] + " ";
  bool cap = L.ascii_caps;
  for (int w = 0; w < n; ++w) {
    if (w == q0) text += straight ? "\"" : L.qopen;
    const std::size_t word = text.size();
    text += s.uniform(i++) < 0.4 ? common[zipf(s.uniform(i++), 120)]
                                 : tp.words[zipf(s.uniform(i++), 300)];
    if (cap) capitalize_first(text, word);
    cap = false;
    if (w == q1) text += straight ? "\"" : L.qclose;
    const double u = s.uniform(i++);
    if (w + 1 == n) {
      if (u < 0.6) text += u < 0.4 ? "." : u < 0.5 ? "!" : "?";
    } else if (u < 0.07) {
      text += ", ";
    } else if (u < 0.13) {
      text += u < 0.1 ? "." : u < 0.12 ? "!" : "...";
      cap = L.ascii_caps;
      const double v = s.uniform(i++);
      text += v < 0.12 ? "\n" : v < 0.15 ? "\n\n" : v < 0.16 ? "\r\n" : " ";
    } else {
      text += ' ';
    }
  }
  if (s.uniform(i++) < 0.3) text += " " + tp.tags[zipf(s.uniform(i++), 6)];
  if (s.uniform(i++) < 0.2) text += std::string(" ") + kEmoji[s.below(i++, kEmojis)];
  if (s.uniform(i++) < 0.15) {
    news_url(m.news[s.below(i++, static_cast<i64>(m.news.size()))], s, i, urls);
    text += ' ';
    text += urls;
  }
}

/// The shared link of a burst as member j writes it: canonical, with utm_* parameters, http,
/// an upper-case host, a www. prefix or a trailing slash.
void campaign_link(const campaign& c, std::size_t b, const stream& s, u64& i, std::string& url) {
  const double u = s.uniform(i++);
  const std::string path = "/" + c.slug[b];
  if (u < 0.1) {
    url = "http://" + c.host + path;
  } else if (u < 0.2) {
    std::string host = c.host;
    for (char& ch : host) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    url = "https://" + host + path;
  } else if (u < 0.3) {
    url = "https://www." + c.host + path;
  } else if (u < 0.35) {
    url = "https://" + c.host + path + "/";
  } else {
    url = "https://" + c.host + path;
  }
  if (s.uniform(i++) < 0.2) {
    static const char* const src[] = {"twitter", "tw", "fb", "tg"};
    url += "?utm_source=";
    url += src[s.below(i++, 4)];
    url += "&utm_medium=social&utm_campaign=" + c.code;
  }
}

/// Member j's copy of burst b's template: 0-2 small edits (a word dropped, two words swapped, a
/// word replaced, an emoji inserted, the closing punctuation changed), the campaign hashtag
/// (usually at the end, sometimes after a line break) and the shared link.
void campaign_text(const model& m, int ci, std::size_t b, i64 j, std::string& text,
                   std::string& urls) {
  const campaign& c = m.camps[ci];
  const stream s(m.seed, p_edit, (static_cast<u64>(ci) << 32) | b);
  u64 i = static_cast<u64>(j) << 6;
  std::vector<std::string> tok = c.tmpl[b];
  const double ue = s.uniform(i++);
  const int edits = ue < 0.3 ? 0 : ue < 0.75 ? 1 : 2;
  for (int e = 0; e < edits; ++e) {
    const std::size_t n = tok.size(), p = static_cast<std::size_t>(s.below(i++, n));
    switch (s.below(i++, 5)) {
      case 0:
        if (n > 6) tok.erase(tok.begin() + p);
        break;
      case 1:
        if (p + 1 < n) std::swap(tok[p], tok[p + 1]);
        break;
      case 2:
        tok[p] = c.vocab[zipf(s.uniform(i++), 40)];
        break;
      case 3:
        tok.insert(tok.begin() + p, kEmoji[s.below(i++, kEmojis)]);
        break;
      default:
        tok.back() += s.uniform(i++) < 0.5 ? "!" : ".";
    }
  }
  const bool tag_first = s.uniform(i++) < 0.1;
  if (tag_first) text += c.hashtag + " ";
  for (std::size_t k = 0; k < tok.size(); ++k) {
    if (k) text += ' ';
    text += tok[k];
  }
  text += s.uniform(i++) < 0.15 ? "\n\n" : " ";
  if (!tag_first) text += c.hashtag + " ";
  campaign_link(c, b, s, i, urls);
  text += urls;
}

/// A news bot's headline: Title Case words (for Latin), sometimes a colon, a comma or a quoted
/// phrase, then the link to the article on the bot's own site.
void headline_text(const model& m, const account& a, u64 k, std::string& text, std::string& urls) {
  const stream s(m.seed, p_bot, static_cast<u64>(a.row) | (u64{1} << 41));
  u64 i = 0;
  std::string host = make_word(0, s, i, 2);  // the bot's own site
  host += kNewsSuffix[s.below(i++, 7)];
  host += kTld[s.below(i++, 8)];
  i = (k + 1) << 8;
  const lang_def& L = kLangs[a.lang];
  const int n = 6 + static_cast<int>(s.below(i++, 7));
  const int colon = s.uniform(i++) < 0.3 ? 1 + static_cast<int>(s.below(i++, 3)) : -1;
  const int quote = s.uniform(i++) < 0.15 ? static_cast<int>(s.below(i++, n - 1)) : -1;
  for (int w = 0; w < n; ++w) {
    if (w) text += ' ';
    if (w == quote) text += '"';
    const std::size_t at = text.size();
    // a general-news outlet: each headline word from one of its three beats (three topics of
    // its language), so two outlets rarely cover the same mix
    const u64 beat = s.below(i++, 3);
    text += s.uniform(i++) < 0.3
                ? m.common[a.lang][zipf(s.uniform(i++), 120)]
                : m.topics[beat == 0 ? a.topic : a.beats[beat - 1]].words[s.below(i++, 300)];
    if (L.ascii_caps) capitalize_first(text, at);
    if (quote >= 0 && w == quote + 1) text += '"';
    if (w == colon)
      text += ':';
    else if (w + 2 < n && s.uniform(i++) < 0.05)
      text += ',';
  }
  news_url(host, s, i, urls);
  text += ' ';
  text += urls;
}

/// A plausible handle: syllables, sometimes capitalised or with an underscore, then a number
/// from a keyed permutation of the rows (so handles are unique).
std::string make_handle(const model& m, i64 row) {
  const stream s(m.seed, p_handle, row);
  u64 i = 0;
  std::string h = make_word(0, s, i, 2 + static_cast<int>(s.below(i++, 2)));
  const double u = s.uniform(i++);
  if (u < 0.3) {
    capitalize_first(h, 0);
    const std::size_t at = h.size();
    append_word(h, 0, s, i, 2);
    capitalize_first(h, at);
  } else if (u < 0.7) {
    h += '_';
    append_word(h, 0, s, i, 2);
  }
  append_int(h, static_cast<i64>(m.handle_perm.fwd(static_cast<u64>(row))));
  return h;
}

// ------------------------------------------------------------------------------------------
// Posts of one account.

enum class ptype : std::uint8_t { original, repost, reply, campaign, campaign_repost, headline };

struct item {
  i64 time = 0;
  u64 k = 0;  // own index: the message id is message_id(row, k)
  ptype type = ptype::original;
  i64 ref = 0;    // popular index (repost, reply) or burst (campaign)
  u64 ref_k = 0;  // the popular account's post
};

/// A popular account to repost or reply to: of the same topic with probability 0.6, else any;
/// Zipf-like within the choice.
int pick_popular(const model& m, const account& a, const stream& s, u64 i) {
  const auto& same = m.pop_by_topic[a.topic];
  if (!same.empty() && s.uniform(i) < 0.6)
    return same[zipf(s.uniform(i + 1), static_cast<i64>(same.size()))];
  return static_cast<int>(zipf(s.uniform(i + 1), m.n_pop));
}

/// Own posts of an organic account, fan or popular account: originals, reposts of popular
/// posts (delay median 40 min, minutes to days) and replies to them. Post 0 is an original.
void organic_items(const model& m, const account& a, std::vector<item>& out) {
  const stream s(m.seed, p_post, a.row);
  for (i64 k = 0; k < a.n_own; ++k) {
    const u64 b = static_cast<u64>(k) << 3;
    const double u = s.uniform(b);
    if (k == 0 || u >= a.repost_share + a.reply_share) {
      out.push_back({own_time(m, a, k), static_cast<u64>(k), ptype::original, 0, 0});
      continue;
    }
    const int q = pick_popular(m, a, s, b + 1);
    const account& p = m.popular[q];
    const u64 pk = static_cast<u64>(s.below(b + 3, p.n_own));
    const double delay =
        60.0 + std::min(4.0 * kDay, std::exp(std::log(2400.0) + 1.6 * s.gauss(b + 2)));
    const i64 t = own_time(m, p, pk) + static_cast<i64>(delay);
    if (t >= m.end) continue;
    out.push_back(
        {t, static_cast<u64>(k), u < a.repost_share ? ptype::repost : ptype::reply, q, pk});
  }
}

/// A fan's reposts of its celebrity: each post with probability fan_share, 10 min + a
/// log-normal delay (median 3 h) after it; k = n_own + the celebrity's post index.
void fan_items(const model& m, const account& a, std::vector<item>& out) {
  const int q = m.clubs[a.group].celeb;
  const account& p = m.popular[q];
  const stream s(m.seed, p_fan, a.row);
  for (i64 pk = 0; pk < p.n_own; ++pk) {
    const u64 b = static_cast<u64>(pk) << 2;
    if (s.uniform(b) >= a.fan_share) continue;
    const double delay = 600.0 + std::exp(std::log(3.0 * 3600) + 0.8 * s.gauss(b + 1));
    const i64 t = own_time(m, p, static_cast<u64>(pk)) + static_cast<i64>(delay);
    if (t < m.end)
      out.push_back({t, static_cast<u64>(a.n_own + pk), ptype::repost, q, static_cast<u64>(pk)});
  }
}

/// A campaign member: its part in every burst (k = burst) and its filler (k = bursts + i).
void campaign_items(const model& m, const account& a, std::vector<item>& out) {
  const int ci = static_cast<int>(a.group);
  const campaign& c = m.camps[ci];
  const std::size_t nb = c.burst_time.size();
  for (std::size_t b = 0; b < nb; ++b) {
    const burst_part p = burst_member(m, ci, b, a.member);
    if (p.posts)
      out.push_back(
          {p.time, b, p.repost ? ptype::campaign_repost : ptype::campaign, static_cast<i64>(b), 0});
  }
  for (i64 k = 0; k < a.n_own; ++k)
    out.push_back(
        {own_time(m, a, static_cast<u64>(k)), nb + static_cast<u64>(k), ptype::original, 0, 0});
}

/// A news bot: slot k at (phase + k * period) hours + minute, a few seconds late, posted with
/// probability 0.97 when the local hour is in the active window (at least one post).
void bot_items(const model& m, const account& a, std::vector<item>& out) {
  const stream s(m.seed, p_bot, a.row);
  i64 first = -1;
  for (i64 k = 0; k < a.n_own; ++k) {
    const i64 hour = a.phase + k * a.period;
    const int local = static_cast<int>(((hour + a.tz) % 24 + 24) % 24);
    if ((local - a.act_from + 24) % 24 >= a.act_len) continue;
    if (first < 0) first = k;
    if (s.uniform(static_cast<u64>(k) << 1) >= 0.97) continue;
    const i64 t =
        m.start + hour * 3600 + a.minute * 60 + s.below((static_cast<u64>(k) << 1) | 1, 15);
    out.push_back({t, static_cast<u64>(k), ptype::headline, 0, 0});
  }
  if (out.empty() && first >= 0)
    out.push_back({m.start + (a.phase + first * a.period) * 3600 + a.minute * 60,
                   static_cast<u64>(first), ptype::headline, 0, 0});
}

/// RFC 4180: a field with a comma, quote, CR or LF is quoted, its quotes doubled.
void put_field(std::string& out, std::string_view f) {
  if (f.find_first_of(",\"\r\n") == std::string_view::npos) {
    out += f;
    return;
  }
  out += '"';
  for (char ch : f) {
    if (ch == '"') out += '"';
    out += ch;
  }
  out += '"';
}

/// The truth row of an account.
void truth_row(const model& m, const account& a, std::string& out) {
  append_int(out, m.user_id(a.row));
  out += ',' + make_handle(m, a.row) + ',';
  append_int(out, a.kind == account_kind::coordinated ? a.group : -1);
  out += ',';
  append_int(out, static_cast<i64>(a.kind));
  out += '\n';
}

/// The CSV rows of one account, in time order, and its truth row; returns the number of posts.
i64 account_rows(const model& m, i64 row, std::string& out, std::string& truth) {
  const account a = describe(m, row);
  truth_row(m, a, truth);
  std::vector<item> items;
  items.reserve(static_cast<std::size_t>(a.n_own) + 8);
  switch (a.kind) {
    case account_kind::coordinated:
      campaign_items(m, a, items);
      break;
    case account_kind::timing_decoy:
      bot_items(m, a, items);
      break;
    case account_kind::topic_decoy:
      organic_items(m, a, items);
      fan_items(m, a, items);
      break;
    default:
      organic_items(m, a, items);
  }
  std::sort(items.begin(), items.end(), [](const item& x, const item& y) {
    return x.time != y.time ? x.time < y.time : x.k < y.k;
  });
  std::string prefix = ",";
  append_int(prefix, m.user_id(row));
  prefix += ',' + make_handle(m, row) + ',';
  std::string text, urls;
  for (const item& it : items) {
    text.clear();
    urls.clear();
    i64 repost = 0, reply = 0;
    switch (it.type) {
      case ptype::original:
        organic_text(m, a, it.k, text, urls);
        break;
      case ptype::repost:
        repost = m.message_id(m.popular[it.ref].row, it.ref_k);
        organic_text(m, m.popular[it.ref], it.ref_k, text, urls);
        break;
      case ptype::reply:
        reply = m.message_id(m.popular[it.ref].row, it.ref_k);
        text = "@" + make_handle(m, m.popular[it.ref].row) + " ";
        organic_text(m, a, it.k, text, urls);
        break;
      case ptype::campaign:
        campaign_text(m, static_cast<int>(a.group), it.ref, a.member, text, urls);
        break;
      case ptype::campaign_repost: {
        const campaign& c = m.camps[a.group];
        const i64 leader = c.leader[it.ref];
        repost = m.message_id(c.rows[leader], static_cast<u64>(it.ref));
        campaign_text(m, static_cast<int>(a.group), it.ref, leader, text, urls);
        break;
      }
      case ptype::headline:
        headline_text(m, a, it.k, text, urls);
    }
    append_int(out, m.message_id(row, it.k));
    out += prefix;
    if (repost) append_int(out, repost);
    out += ',';
    if (reply) append_int(out, reply);
    out += ',';
    put_field(out, text);
    out += ',';
    append_int(out, it.time);
    out += ',';
    put_field(out, urls);
    out += '\n';
  }
  return static_cast<i64>(items.size());
}

// ------------------------------------------------------------------------------------------
// Output: plain, gzip (one member; pieces deflated in parallel, each primed with the 32 KiB
// before it, as pigz does) or zstd (one frame per piece).

enum class codec { plain, gzip, zstd };

bool ends_with(const std::string& s, const char* suffix) {
  const std::size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

codec codec_for(const std::string& path) {
  if (ends_with(path, ".gz")) return codec::gzip;
  if (ends_with(path, ".zst")) return codec::zstd;
  return codec::plain;
}

constexpr std::size_t kPiece = std::size_t{1} << 20;
constexpr std::size_t kWindow = 32768;
constexpr int kGzipLevel = 3;  // 2.3x faster than 6 for 6% more bytes on this text
constexpr int kZstdLevel = 3;

class out_file {
 public:
  out_file(const std::string& path, codec c, int threads)
      : path_(path), codec_(c), threads_(threads) {
    f_ = std::fopen(path.c_str(), "wb");
    if (!f_)
      CHORUS_THROW(runtime_failure, "generate: cannot create '", path, "': ", std::strerror(errno));
    if (codec_ == codec::gzip) {
      static const unsigned char header[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
      put(reinterpret_cast<const char*>(header), 10);
    }
  }
  ~out_file() {
    if (f_) std::fclose(f_);
  }
  out_file(const out_file&) = delete;
  out_file& operator=(const out_file&) = delete;

  void write(const std::string& data);
  void finish();
  i64 bytes() const { return bytes_; }

 private:
  void put(const char* p, std::size_t n) {
    if (n && std::fwrite(p, 1, n, f_) != n)
      CHORUS_THROW(runtime_failure, "generate: cannot write '", path_, "': ", std::strerror(errno));
    bytes_ += static_cast<i64>(n);
  }
  std::string path_;
  codec codec_;
  int threads_;
  std::FILE* f_ = nullptr;
  i64 bytes_ = 0;
  u64 raw_ = 0;
  uLong crc_ = 0;
  std::string tail_;  // the last 32 KiB written (gzip dictionary)
};

/// Raw deflate of src[from, to) primed with src[max(0, from - 32K), from), ending with a sync
/// flush so that the pieces concatenate into one stream. Returns false on a zlib failure.
bool deflate_piece(const std::string& src, std::size_t from, std::size_t to, std::string& out) {
  z_stream z{};
  if (deflateInit2(&z, kGzipLevel, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) return false;
  const std::size_t d0 = from > kWindow ? from - kWindow : 0;
  bool ok = from == d0 || deflateSetDictionary(&z, reinterpret_cast<const Bytef*>(src.data() + d0),
                                               static_cast<uInt>(from - d0)) == Z_OK;
  out.resize(deflateBound(&z, to - from) + 64);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(src.data() + from));
  z.avail_in = static_cast<uInt>(to - from);
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  ok = ok && deflate(&z, Z_SYNC_FLUSH) == Z_OK && z.avail_in == 0 && z.avail_out > 0;
  out.resize(z.total_out);
  deflateEnd(&z);
  return ok;
}

void out_file::write(const std::string& data) {
  if (data.empty()) return;
  if (codec_ == codec::plain) {
    put(data.data(), data.size());
    return;
  }
  const std::string src = codec_ == codec::gzip ? tail_ + data : data;
  const std::size_t off = src.size() - data.size();
  const i64 pieces = static_cast<i64>((data.size() + kPiece - 1) / kPiece);
  std::vector<std::string> out(pieces);
  std::vector<uLong> crc(pieces);
  std::atomic<bool> failed{false};
#pragma omp parallel for num_threads(threads_) schedule(dynamic, 1)
  for (i64 p = 0; p < pieces; ++p) {
    const std::size_t from = off + p * kPiece, to = std::min(src.size(), from + kPiece);
    if (codec_ == codec::gzip) {
      crc[p] =
          crc32(0, reinterpret_cast<const Bytef*>(src.data() + from), static_cast<uInt>(to - from));
      if (!deflate_piece(src, from, to, out[p])) failed = true;
    } else {
      out[p].resize(ZSTD_compressBound(to - from));
      const std::size_t r =
          ZSTD_compress(out[p].data(), out[p].size(), src.data() + from, to - from, kZstdLevel);
      if (ZSTD_isError(r))
        failed = true;
      else
        out[p].resize(r);
    }
  }
  if (failed) CHORUS_THROW(runtime_failure, "generate: compression failed for '", path_, "'");
  for (i64 p = 0; p < pieces; ++p) {
    put(out[p].data(), out[p].size());
    if (codec_ == codec::gzip) {
      const std::size_t len = std::min(kPiece, data.size() - p * kPiece);
      crc_ = crc32_combine(crc_, crc[p], static_cast<z_off_t>(len));
    }
  }
  raw_ += data.size();
  if (codec_ == codec::gzip) tail_ = src.substr(src.size() - std::min(src.size(), kWindow));
}

void out_file::finish() {
  if (codec_ == codec::gzip) {  // a final empty block, then CRC-32 and length (little endian)
    z_stream z{};
    unsigned char buf[64];
    if (deflateInit2(&z, kGzipLevel, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
      CHORUS_THROW(runtime_failure, "generate: zlib initialisation failed");
    z.next_out = buf;
    z.avail_out = sizeof buf;
    const int r = deflate(&z, Z_FINISH);
    deflateEnd(&z);
    if (r != Z_STREAM_END) CHORUS_THROW(runtime_failure, "generate: zlib failed to finish");
    put(reinterpret_cast<const char*>(buf), sizeof buf - z.avail_out);
    unsigned char tr[8];
    for (int k = 0; k < 4; ++k) {
      tr[k] = static_cast<unsigned char>(crc_ >> (8 * k));
      tr[4 + k] = static_cast<unsigned char>(raw_ >> (8 * k));
    }
    put(reinterpret_cast<const char*>(tr), 8);
  }
  if (codec_ == codec::zstd && raw_ == 0) write(std::string());  // never hit: a header exists
  const bool ok = std::fflush(f_) == 0 && ::fsync(fileno(f_)) == 0;
  const int rc = std::fclose(f_);
  f_ = nullptr;
  if (!ok || rc != 0)
    CHORUS_THROW(runtime_failure, "generate: cannot write '", path_, "': ", std::strerror(errno));
}

// ------------------------------------------------------------------------------------------
// Driver.

void check_options(const posts_options& opt) {
  CHORUS_EXPECTS(opt.accounts >= 100, "generate: --posts needs accounts >= 100 (got ", opt.accounts,
                 ")");
  CHORUS_EXPECTS(opt.accounts < (i64{1} << 40), "generate: accounts must be < 2^40 (got ",
                 opt.accounts, ")");
  CHORUS_EXPECTS(std::isfinite(opt.posts_per_account) && opt.posts_per_account > 0 &&
                     opt.posts_per_account <= 100000,
                 "generate: posts per account must be in (0, 100000] (got ", opt.posts_per_account,
                 ")");
  CHORUS_EXPECTS(opt.days >= 1 && opt.days <= 3660, "generate: days must be in [1, 3660] (got ",
                 opt.days, ")");
  CHORUS_EXPECTS(opt.start_time >= 0 && opt.start_time < (i64{1} << 40),
                 "generate: start time must be in [0, 2^40) Unix seconds (got ", opt.start_time,
                 ")");
  CHORUS_EXPECTS(opt.campaigns >= 0, "generate: campaigns must be >= 0 (got ", opt.campaigns, ")");
  CHORUS_EXPECTS(40 * static_cast<i64>(opt.campaigns) <= opt.accounts, "generate: ", opt.campaigns,
                 " campaigns of at least 10 members need accounts >= 40 * ", "campaigns (got ",
                 opt.accounts, ")");
  CHORUS_EXPECTS(opt.threads >= 0, "generate: threads must be >= 0 (got ", opt.threads, ")");
  CHORUS_EXPECTS(!opt.out.empty(), "generate: no output path given");
}

void check_output(const std::string& path, bool force) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path p(path);
  CHORUS_EXPECTS(!fs::is_directory(p, ec), "generate: output '", path, "' is a directory");
  CHORUS_EXPECTS(force || !fs::exists(p, ec), "generate: output file '", path,
                 "' already exists (use --force to overwrite it)");
  const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  CHORUS_EXPECTS(fs::is_directory(dir, ec), "generate: output directory '", dir.string(),
                 "' does not exist");
  CHORUS_EXPECTS(::access(dir.c_str(), W_OK) == 0, "generate: output directory '", dir.string(),
                 "' is not writable");
}

/// Accounts per block: about 2^17 posts (~20 MB of CSV) per block, whatever the thread count.
i64 block_accounts(const posts_options& opt) {
  return std::clamp<i64>(static_cast<i64>((1 << 17) / opt.posts_per_account), 64, 65536);
}

void write_corpus(const model& m, const posts_options& opt, const std::string& posts_tmp,
                  const std::string& truth_tmp, const std::string& truth_path, int threads,
                  const std::function<void(double)>& progress, posts_summary& sum) {
  out_file posts(posts_tmp, codec_for(opt.out), threads);
  out_file truth(truth_tmp, codec_for(truth_path), threads);
  const i64 block = block_accounts(opt);
  std::vector<std::string> rows(static_cast<std::size_t>(std::min(block, m.n))), trows(rows.size());
  std::vector<i64> counts(rows.size());
  std::string buf = "message_id,user_id,username,repost_id,reply_id,message,timestamp,urls\n";
  std::string tbuf = "user_id,username,cluster,kind\n";
  for (i64 r0 = 0; r0 < m.n; r0 += block) {
    const i64 nb = std::min(block, m.n - r0);
#pragma omp parallel for num_threads(threads) schedule(dynamic, 16)
    for (i64 i = 0; i < nb; ++i) {
      rows[i].clear();
      trows[i].clear();
      counts[i] = account_rows(m, r0 + i, rows[i], trows[i]);
    }
    for (i64 i = 0; i < nb; ++i) {
      buf += rows[i];
      tbuf += trows[i];
      sum.posts += counts[i];
      std::string().swap(rows[i]);  // heavy posters would otherwise pin their capacity
    }
    posts.write(buf);
    truth.write(tbuf);
    buf.clear();
    tbuf.clear();
    if (progress) progress(static_cast<double>(r0 + nb) / static_cast<double>(m.n));
  }
  posts.finish();
  truth.finish();
  sum.bytes = posts.bytes();
}

}  // namespace

std::string posts_truth_path(const std::string& out) {
  namespace fs = std::filesystem;
  const fs::path p(out);
  std::string name = p.filename().string();
  for (const char* ext : {".gz", ".zst"})
    if (ends_with(name, ext) && name.size() > std::strlen(ext)) {
      name.resize(name.size() - std::strlen(ext));
      break;
    }
  for (const char* ext : {".csv", ".tsv", ".txt"})
    if (ends_with(name, ext) && name.size() > std::strlen(ext)) {
      name.resize(name.size() - std::strlen(ext));
      break;
    }
  return (p.parent_path() / (name + ".truth.csv")).string();
}

posts_summary generate_posts(const posts_options& opt,
                             const std::function<void(double)>& progress) {
  namespace fs = std::filesystem;
  check_options(opt);
  const std::string truth_path = opt.truth_out.empty() ? posts_truth_path(opt.out) : opt.truth_out;
  std::error_code ec;
  CHORUS_EXPECTS(fs::weakly_canonical(opt.out, ec) != fs::weakly_canonical(truth_path, ec),
                 "generate: the posts and truth outputs are the same file '", opt.out, "'");
  check_output(opt.out, opt.force);
  check_output(truth_path, opt.force);

  const model m = build_model(opt);
  const int threads = opt.threads > 0 ? opt.threads : omp_get_max_threads();
  const std::string suffix = ".tmp." + std::to_string(::getpid());
  const std::string posts_tmp = opt.out + suffix, truth_tmp = truth_path + suffix;
  posts_summary sum;
  sum.accounts = m.n;
  sum.coordinated = m.n_coord;
  sum.fans = m.n_fans;
  sum.news_bots = m.n_bots;
  for (const campaign& c : m.camps) sum.campaign_sizes.push_back(c.size);
  try {
    write_corpus(m, opt, posts_tmp, truth_tmp, truth_path, threads, progress, sum);
    fs::rename(posts_tmp, opt.out, ec);
    if (!ec) fs::rename(truth_tmp, truth_path, ec);
    if (ec)
      CHORUS_THROW(runtime_failure,
                   "generate: cannot rename the temporary outputs: ", ec.message());
  } catch (...) {
    std::error_code ignore;
    fs::remove(posts_tmp, ignore);
    fs::remove(truth_tmp, ignore);
    throw;
  }
  if (progress) progress(1.0);
  return sum;
}

std::vector<posts_truth_row> read_posts_truth(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");  // reads plain files too
  if (!f) CHORUS_THROW(input_error, "truth file '", path, "' cannot be opened");
  std::string data;
  char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) data.append(buf, n);
  const bool bad = n < 0;
  gzclose(f);
  if (bad) CHORUS_THROW(input_error, "truth file '", path, "' cannot be read");
  std::vector<posts_truth_row> rows;
  std::size_t pos = data.find('\n');
  CHORUS_EXPECTS(data.compare(0, pos, "user_id,username,cluster,kind") == 0, "truth file '", path,
                 "' does not start with the header user_id,username,cluster,kind");
  i64 line = 1;
  while (pos != std::string::npos && pos + 1 < data.size()) {
    const std::size_t b = pos + 1;
    pos = data.find('\n', b);
    const std::string_view rec(data.data() + b, (pos == std::string::npos ? data.size() : pos) - b);
    ++line;
    const std::size_t c1 = rec.find(','), c2 = rec.find(',', c1 + 1), c3 = rec.find(',', c2 + 1);
    posts_truth_row r;
    int kind = -1;
    const char* e = rec.data() + rec.size();
    const bool ok =
        c3 != std::string_view::npos &&
        std::from_chars(rec.data(), rec.data() + c1, r.user_id).ec == std::errc() &&
        std::from_chars(rec.data() + c2 + 1, rec.data() + c3, r.cluster).ec == std::errc() &&
        std::from_chars(rec.data() + c3 + 1, e, kind).ec == std::errc() && kind >= 0 && kind <= 3;
    CHORUS_EXPECTS(ok, "truth file '", path, "' line ", line, " is malformed");
    r.username = std::string(rec.substr(c1 + 1, c2 - c1 - 1));
    r.kind = static_cast<account_kind>(kind);
    rows.push_back(std::move(r));
  }
  return rows;
}

}  // namespace chorus
