// chorus ingest: text normalisation (utf8proc), tokens and hashed n-gram features (xxhash).
#include "chorus/ingest/text_features.hpp"

#include <utf8proc.h>
#include <xxhash.h>

#include <array>

#include "chorus/core/error.hpp"

namespace chorus::ingest {
namespace {

constexpr utf8proc_option_t kNormOptions = static_cast<utf8proc_option_t>(
    UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD);

/// Per-ASCII-byte facts: lower-case form, whitespace, word character.
struct ascii_tables {
  std::array<char, 128> lower{};
  std::array<bool, 128> space{}, word{};
  constexpr ascii_tables() {
    for (int c = 0; c < 128; ++c) {
      lower[c] = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
      space[c] = c == ' ' || (c >= 9 && c <= 13);
      word[c] = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    }
  }
};
constexpr ascii_tables kAscii;

bool unicode_space(utf8proc_int32_t cp) {
  if (cp < 128) return kAscii.space[cp];
  if (cp == 0x85) return true;
  const auto cat = utf8proc_category(cp);
  return cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL || cat == UTF8PROC_CATEGORY_ZP;
}

/// Letters, marks and digits (categories L*, M*, N*).
bool word_cp(utf8proc_int32_t cp) {
  if (cp < 128) return kAscii.word[cp];
  const auto cat = utf8proc_category(cp);
  return cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_NO;
}

void append_utf8(std::string& out, utf8proc_int32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

/// Decodes the code point at s[i] (UTF-8 assumed valid; never reads past n) and sets len.
utf8proc_int32_t decode_at(const unsigned char* s, std::size_t n, std::size_t i, std::size_t& len) {
  const unsigned c = s[i];
  if (c < 0x80) {
    len = 1;
    return static_cast<utf8proc_int32_t>(c);
  }
  std::size_t want = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
  if (i + want > n) want = n - i;
  utf8proc_int32_t cp = static_cast<utf8proc_int32_t>(want == 4   ? c & 0x07
                                                      : want == 3 ? c & 0x0F
                                                      : want == 2 ? c & 0x1F
                                                                  : 0xFFFD);
  for (std::size_t k = 1; k < want; ++k) cp = (cp << 6) | (s[i + k] & 0x3F);
  len = want;
  return cp;
}

/// Builds the normalised text: collapses whitespace and trims while appending.
class normal_writer {
 public:
  explicit normal_writer(std::size_t reserve) { out_.reserve(reserve); }
  void ascii(std::string_view run) {
    for (const char ch : run) {
      const auto c = static_cast<unsigned char>(ch);
      if (kAscii.space[c]) {
        pending_ = !out_.empty();
      } else {
        flush_space();
        out_ += kAscii.lower[c];
      }
    }
  }
  void code_point(utf8proc_int32_t cp) {
    if (unicode_space(cp)) {
      pending_ = !out_.empty();
    } else {
      flush_space();
      append_utf8(out_, cp);
    }
  }
  std::string take() { return std::move(out_); }

 private:
  void flush_space() {
    if (pending_) out_ += ' ';
    pending_ = false;
  }
  std::string out_;
  bool pending_ = false;
};

/// utf8proc on one stretch that holds non-ASCII text (and the ASCII starter before it).
void normalise_stretch(std::string_view stretch, normal_writer& w) {
  thread_local std::vector<utf8proc_int32_t> buf;
  if (buf.size() < stretch.size() + 16) buf.resize(stretch.size() + 16);
  const auto* src = reinterpret_cast<const utf8proc_uint8_t*>(stretch.data());
  const auto len = static_cast<utf8proc_ssize_t>(stretch.size());
  utf8proc_ssize_t n = utf8proc_decompose(src, len, buf.data(),
                                          static_cast<utf8proc_ssize_t>(buf.size()), kNormOptions);
  if (n > static_cast<utf8proc_ssize_t>(buf.size())) {
    buf.resize(static_cast<std::size_t>(n));
    n = utf8proc_decompose(src, len, buf.data(), n, kNormOptions);
  }
  if (n < 0) CHORUS_THROW(input_error, "text is not valid UTF-8: ", utf8proc_errmsg(n));
  n = utf8proc_normalize_utf32(buf.data(), n, kNormOptions);
  if (n < 0) CHORUS_THROW(runtime_failure, "utf8proc normalisation failed: ", utf8proc_errmsg(n));
  for (utf8proc_ssize_t k = 0; k < n; ++k) w.code_point(buf[static_cast<std::size_t>(k)]);
}

bool has_prefix(std::string_view s, std::size_t i, std::string_view p) {
  return s.size() - i >= p.size() && s.compare(i, p.size(), p) == 0;
}

/// Length of a URL prefix at s[i] followed by at least one non-space byte, else 0.
std::size_t url_prefix(std::string_view s, std::size_t i) {
  std::size_t len = 0;
  if (has_prefix(s, i, "http://")) {
    len = 7;
  } else if (has_prefix(s, i, "https://")) {
    len = 8;
  } else if (has_prefix(s, i, "www.")) {
    len = 4;
  }
  if (len == 0 || i + len >= s.size()) return 0;
  const auto c = static_cast<unsigned char>(s[i + len]);
  return c < 128 && kAscii.space[c] ? 0 : len;
}

/// End of the run of word characters and '_' that starts at s[i].
std::size_t tag_end(std::string_view s, std::size_t i) {
  const auto* u = reinterpret_cast<const unsigned char*>(s.data());
  while (i < s.size()) {
    std::size_t len = 0;
    const auto cp = decode_at(u, s.size(), i, len);
    if (cp != '_' && !word_cp(cp)) break;
    i += len;
  }
  return i;
}

inline std::uint32_t top_bits(std::uint64_t h, int bits) {
  return static_cast<std::uint32_t>(h >> (64 - bits));
}

/// Word n-grams: for each start, the joined text grows one token at a time in `buf`.
void word_grams(const std::vector<std::string_view>& tokens, const feature_config& cfg,
                std::string& buf, std::vector<std::uint32_t>& out) {
  const std::size_t t = tokens.size();
  for (std::size_t i = 0; i < t; ++i) {
    buf.clear();
    for (std::size_t n = 1; n <= static_cast<std::size_t>(cfg.word_max) && i + n <= t; ++n) {
      if (n > 1) buf += ' ';
      buf.append(tokens[i + n - 1]);
      if (n < static_cast<std::size_t>(cfg.word_min)) continue;
      buf += kWordGramKind;
      out.push_back(
          top_bits(XXH3_64bits_withSeed(buf.data(), buf.size(), cfg.seed), cfg.hash_bits));
      buf.pop_back();
    }
  }
}

/// char_wb n-grams of one word: `buf` holds ' ' word ' ' and one spare byte; the kind byte is
/// written after each n-gram in place (and the byte it covers put back) so nothing is copied.
void char_grams(std::string_view word, const feature_config& cfg, std::string& buf,
                std::vector<std::uint32_t>& pos, std::vector<std::uint32_t>& out) {
  buf.clear();
  buf += ' ';
  buf.append(word);
  buf += ' ';
  const std::size_t padded = buf.size();
  buf += '\0';
  pos.clear();
  for (std::size_t b = 0; b < padded; ++b)
    if ((static_cast<unsigned char>(buf[b]) & 0xC0) != 0x80)
      pos.push_back(static_cast<std::uint32_t>(b));
  pos.push_back(static_cast<std::uint32_t>(padded));
  const std::size_t cps = pos.size() - 1;
  char* data = buf.data();
  auto emit = [&](std::size_t b, std::size_t e) {
    const char saved = data[e];
    data[e] = kCharGramKind;
    out.push_back(top_bits(XXH3_64bits_withSeed(data + b, e - b + 1, cfg.seed), cfg.hash_bits));
    data[e] = saved;
  };
  for (std::size_t n = static_cast<std::size_t>(cfg.char_min);
       n <= static_cast<std::size_t>(cfg.char_max); ++n) {
    if (cps <= n) {  // a short word counts once, as scikit-learn's char_wb does
      emit(0, padded);
      break;
    }
    for (std::size_t s = 0; s + n <= cps; ++s) emit(pos[s], pos[s + n]);
  }
}

}  // namespace

std::string normalise_text(std::string_view utf8) {
  normal_writer w(utf8.size());
  std::size_t p = 0;
  const std::size_t n = utf8.size();
  while (p < n) {
    std::size_t q = p;
    while (q < n && static_cast<unsigned char>(utf8[q]) < 0x80) ++q;
    if (q == n) {
      w.ascii(utf8.substr(p));
      break;
    }
    // Composition never joins across two ASCII characters, so a stretch is the ASCII
    // character before a non-ASCII run (it may be a base for combining marks) plus the run.
    const std::size_t start = q > p ? q - 1 : q;
    w.ascii(utf8.substr(p, start - p));
    std::size_t end = q;
    while (end < n && static_cast<unsigned char>(utf8[end]) >= 0x80) ++end;
    normalise_stretch(utf8.substr(start, end - start), w);
    p = end;
  }
  return w.take();
}

void tokenize(std::string_view s, std::vector<std::string_view>& tokens) {
  tokens.clear();
  const auto* u = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0, word_start = 0;
  bool in_word = false, after_word = false;  // after_word: the last code point was wordish
  while (i < n) {
    const unsigned char c = u[i];
    if (!in_word) {
      if (c == 'h' || c == 'w') {
        if (const std::size_t plen = url_prefix(s, i); plen > 0) {
          std::size_t e = i + plen;
          while (e < n && !(u[e] < 128 && kAscii.space[u[e]])) ++e;
          tokens.push_back(s.substr(i, e - i));
          i = e;
          after_word = false;
          continue;
        }
      }
      if ((c == '@' || c == '#') && !after_word) {
        const std::size_t e = tag_end(s, i + 1);
        if (e > i + 1) {
          tokens.push_back(s.substr(i, e - i));
          i = e;
          after_word = true;
          continue;
        }
      }
    }
    std::size_t len = 1;
    const auto cp = c < 128 ? static_cast<utf8proc_int32_t>(c) : decode_at(u, n, i, len);
    const bool w = word_cp(cp);
    if (w && !in_word) word_start = i;
    if (!w && in_word) tokens.push_back(s.substr(word_start, i - word_start));
    in_word = w;
    after_word = w || cp == '_';
    i += len;
  }
  if (in_word) tokens.push_back(s.substr(word_start));
}

token_kind kind_of(std::string_view token) {
  if (token.empty()) return token_kind::word;
  if (token[0] == '@') return token_kind::mention;
  if (token[0] == '#') return token_kind::hashtag;
  if (has_prefix(token, 0, "http://") || has_prefix(token, 0, "https://") ||
      has_prefix(token, 0, "www."))
    return token_kind::url;
  return token_kind::word;
}

void check_feature_config(const feature_config& cfg) {
  CHORUS_EXPECTS(cfg.hash_bits >= 1 && cfg.hash_bits <= 32,
                 "feature hash bits must be in 1..32, got ", cfg.hash_bits);
  CHORUS_EXPECTS(cfg.word_max == 0 || (cfg.word_min >= 1 && cfg.word_min <= cfg.word_max),
                 "word n-gram range must be 1 <= min <= max (or max 0 for none), got ",
                 cfg.word_min, "..", cfg.word_max);
  CHORUS_EXPECTS(cfg.char_max == 0 || (cfg.char_min >= 1 && cfg.char_min <= cfg.char_max),
                 "character n-gram range must be 1 <= min <= max (or max 0 for none), got ",
                 cfg.char_min, "..", cfg.char_max);
}

std::uint32_t gram_feature(std::string_view gram, char kind, const feature_config& cfg) {
  thread_local std::string buf;
  buf.assign(gram);
  buf += kind;
  return top_bits(XXH3_64bits_withSeed(buf.data(), buf.size(), cfg.seed), cfg.hash_bits);
}

void post_features(std::string_view normalised, const std::vector<std::string_view>& tokens,
                   const feature_config& cfg, std::vector<std::uint32_t>& out) {
  (void)normalised;  // tokens view into it; the n-grams are built from the tokens
  check_feature_config(cfg);
  thread_local std::string buf;
  thread_local std::vector<std::uint32_t> pos;
  if (cfg.word_max > 0) word_grams(tokens, cfg, buf, out);
  if (cfg.char_max == 0) return;
  for (const auto tok : tokens)
    if (kind_of(tok) == token_kind::word) char_grams(tok, cfg, buf, pos, out);
}

std::uint64_t text_hash(std::string_view normalised) {
  return XXH3_64bits(normalised.data(), normalised.size());
}

}  // namespace chorus::ingest
