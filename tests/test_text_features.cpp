// chorus ingest: text normalisation, tokens and hashed n-gram features.
#include <gtest/gtest.h>
#include <utf8proc.h>
#include <xxhash.h>

#include <algorithm>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "chorus/core/error.hpp"
#include "chorus/ingest/text_features.hpp"

namespace {

using chorus::ingest::feature_config;
using chorus::ingest::token_kind;

std::vector<std::string> tokens_of(const std::string& raw) {
  const std::string norm = chorus::ingest::normalise_text(raw);
  std::vector<std::string_view> views;
  chorus::ingest::tokenize(norm, views);
  return std::vector<std::string>(views.begin(), views.end());
}

std::vector<std::uint32_t> features_of(const std::string& norm, const feature_config& cfg) {
  std::vector<std::string_view> views;
  chorus::ingest::tokenize(norm, views);
  std::vector<std::uint32_t> out;
  chorus::ingest::post_features(norm, views, cfg, out);
  return out;
}

/// Reference hash of one n-gram, straight from the documented recipe.
std::uint32_t ref_hash(const std::string& gram, char kind, const feature_config& cfg) {
  const std::string bytes = gram + kind;
  return static_cast<std::uint32_t>(XXH3_64bits_withSeed(bytes.data(), bytes.size(), cfg.seed) >>
                                    (64 - cfg.hash_bits));
}

/// Reference normalisation: utf8proc_map on the whole text, then whitespace collapsed by a plain
/// loop over code points.
std::string ref_normalise(const std::string& s) {
  utf8proc_uint8_t* mapped = nullptr;
  const auto n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                              static_cast<utf8proc_ssize_t>(s.size()), &mapped,
                              static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE |
                                                             UTF8PROC_COMPAT | UTF8PROC_CASEFOLD));
  EXPECT_GE(n, 0);
  std::vector<std::string> words{""};
  for (utf8proc_ssize_t i = 0; i < n;) {
    utf8proc_int32_t cp = 0;
    const auto len = utf8proc_iterate(mapped + i, n - i, &cp);
    const auto cat = utf8proc_category(cp);
    const bool space = cp == ' ' || (cp >= 9 && cp <= 13) || cp == 0x85 ||
                       cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL ||
                       cat == UTF8PROC_CATEGORY_ZP;
    if (space) {
      if (!words.back().empty()) words.emplace_back();
    } else {
      words.back().append(reinterpret_cast<const char*>(mapped + i), static_cast<std::size_t>(len));
    }
    i += len;
  }
  std::free(mapped);
  std::string out;
  for (const auto& w : words) {
    if (w.empty()) continue;
    if (!out.empty()) out += ' ';
    out += w;
  }
  return out;
}

TEST(IngestText, NormaliseFoldsCompatibilityFormsAndCase) {
  using chorus::ingest::normalise_text;
  EXPECT_EQ(normalise_text("\xEF\xBC\xA1\xEF\xBC\xA2\xEF\xBD\x83"), "abc");  // fullwidth ＡＢｃ
  EXPECT_EQ(normalise_text("\xEF\xAC\x81le"), "file");                       // ligature ﬁ
  EXPECT_EQ(normalise_text("Stra\xC3\x9F"
                           "e"),
            "strasse");  // Straße
  EXPECT_EQ(normalise_text("\xD0\x9F\xD0\xA0\xD0\x98\xD0\x92\xD0\x95\xD0\xA2"),
            "\xD0\xBF\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82");  // ПРИВЕТ -> привет
  EXPECT_EQ(normalise_text("Cafe\xCC\x81"), "caf\xC3\xA9");       // e + combining acute -> é
  EXPECT_EQ(normalise_text("\xC3\x89T\xC3\x89"), "\xC3\xA9t\xC3\xA9");  // ÉTÉ -> été
  EXPECT_EQ(normalise_text("\xE2\x91\xA0 x\xC2\xB2"), "1 x2");          // ① x² (compatibility)
}

TEST(IngestText, NormaliseCollapsesAndTrimsWhitespace) {
  using chorus::ingest::normalise_text;
  EXPECT_EQ(normalise_text("  Hello \t\n  World  "), "hello world");
  // no-break space, em space, ideographic space, line separator
  EXPECT_EQ(normalise_text("a\xC2\xA0"
                           "b\xE2\x80\x83"
                           "c\xE3\x80\x80"
                           "d\xE2\x80\xA8"
                           "e"),
            "a b c d e");
  EXPECT_EQ(normalise_text(" \t \n"), "");
  EXPECT_EQ(normalise_text(""), "");
}

TEST(IngestText, NormaliseEqualsWholeTextUtf8procOnRandomMixes) {
  const std::vector<std::string> pieces = {
      "a",
      "B",
      "e",
      "Z",
      " ",
      "  ",
      "\t",
      "\n",
      ".",
      "!",
      "@x",
      "#Tag",
      "http://t.co/Ab",
      "\xCC\x81",          // combining acute
      "\xCC\xA3",          // combining dot below (reorders with acute)
      "\xC3\x89",          // É
      "\xD0\x96",          // Ж
      "\xD1\x91",          // ё
      "\xEF\xBC\xA1",      // fullwidth A
      "\xEF\xAC\x81",      // ﬁ
      "\xC3\x9F",          // ß
      "\xF0\x9F\x98\x80",  // 😀
      "\xE2\x80\x83",      // em space
      "\xC2\xA0",          // no-break space
      "\xE1\x84\x80",      // Hangul choseong kiyeok (composes with the next)
      "\xE1\x85\xA1",      // Hangul jungseong a
      "\xE2\x84\xAA",      // Kelvin sign -> k
      "\xC4\xB0",          // İ
  };
  std::mt19937 rng(7);
  std::uniform_int_distribution<std::size_t> pick(0, pieces.size() - 1), len(0, 30);
  for (int t = 0; t < 3000; ++t) {
    std::string s;
    for (std::size_t i = len(rng); i > 0; --i) s += pieces[pick(rng)];
    ASSERT_EQ(chorus::ingest::normalise_text(s), ref_normalise(s)) << "input: " << s;
  }
}

TEST(IngestText, TokenizeKeepsUrlsMentionsHashtagsWhole) {
  const auto toks = tokens_of(
      "Check https://t.co/AbC?x=1, @User_1 and #\xD0\x92\xD1\x8B\xD0\xB1\xD0\xBE\xD1\x80\xD1\x8B"
      "2024! www.Example.com ok");
  const std::vector<std::string> want = {"check",
                                         "https://t.co/abc?x=1,",
                                         "@user_1",
                                         "and",
                                         "#\xD0\xB2\xD1\x8B\xD0\xB1\xD0\xBE\xD1\x80\xD1\x8B"
                                         "2024",
                                         "www.example.com",
                                         "ok"};
  EXPECT_EQ(toks, want);
}

TEST(IngestText, TokenizeSplitsOnPunctuationEmojiAndUnderscore) {
  const std::vector<std::string> want = {"don", "t", "stop", "caf\xC3\xA9", "x2", "snake", "case"};
  EXPECT_EQ(tokens_of("Don't-stop\xF0\x9F\x98\x80\xF0\x9F\x98\x80"
                      "caf\xC3\xA9...x2 snake_case"),
            want);
  // a sigil with nothing after it, or right after a word character, only separates
  const std::vector<std::string> want2 = {"a", "b", "com", "x", "#y"};
  EXPECT_EQ(tokens_of("a@b.com # @ x##y"), want2);
  // the bare scheme with nothing after it is not a URL
  const std::vector<std::string> want3 = {"http", "www"};
  EXPECT_EQ(tokens_of("http:// www."), want3);
  EXPECT_TRUE(tokens_of("  ...  ").empty());
}

TEST(IngestText, KindOfTellsTokenKinds) {
  using chorus::ingest::kind_of;
  EXPECT_EQ(kind_of("word"), token_kind::word);
  EXPECT_EQ(kind_of("http://x"), token_kind::url);
  EXPECT_EQ(kind_of("https://x"), token_kind::url);
  EXPECT_EQ(kind_of("www.x"), token_kind::url);
  EXPECT_EQ(kind_of("@who"), token_kind::mention);
  EXPECT_EQ(kind_of("#what"), token_kind::hashtag);
}

TEST(IngestText, CharWbNgramsOfAKnownWordCountedByHand) {
  feature_config cfg;
  cfg.word_max = 0;  // character n-grams only
  cfg.hash_bits = 32;
  // " hello ": 7 code points -> 5 trigrams, 4 four-grams, 3 five-grams
  const std::vector<std::string> grams = {" he",  "hel",  "ell",  "llo",   "lo ",   " hel",
                                          "hell", "ello", "llo ", " hell", "hello", "ello "};
  std::vector<std::uint32_t> want;
  for (const auto& g : grams) want.push_back(ref_hash(g, 'C', cfg));
  auto got = features_of("hello", cfg);
  ASSERT_EQ(got.size(), 12u);
  std::sort(got.begin(), got.end());
  std::sort(want.begin(), want.end());
  EXPECT_EQ(got, want);
  // short words count once, as scikit-learn's char_wb: " ab " -> 2 trigrams + itself; " a " once
  EXPECT_EQ(features_of("ab", cfg).size(), 3u);
  EXPECT_EQ(features_of("a", cfg).size(), 1u);
  // code points, not bytes: " мир " is 5 code points -> 3 + 2 + 1
  EXPECT_EQ(features_of("\xD0\xBC\xD0\xB8\xD1\x80", cfg).size(), 6u);
  EXPECT_EQ(features_of("\xD0\xBC\xD0\xB8\xD1\x80", cfg)[0],
            ref_hash(" \xD0\xBC\xD0\xB8", 'C', cfg));
  // URLs, mentions and hashtags get none
  EXPECT_TRUE(features_of("https://t.co/x @someone #topic", cfg).empty());
}

TEST(IngestText, WordNgramsJoinTokensWithOneSpace) {
  feature_config cfg;
  cfg.char_max = 0;
  cfg.hash_bits = 20;
  cfg.seed = 99;
  std::vector<std::uint32_t> want = {ref_hash("a", 'W', cfg), ref_hash("b", 'W', cfg),
                                     ref_hash("@c", 'W', cfg), ref_hash("a b", 'W', cfg),
                                     ref_hash("b @c", 'W', cfg)};
  auto got = features_of(chorus::ingest::normalise_text("A,  b! @C"), cfg);
  std::sort(got.begin(), got.end());
  std::sort(want.begin(), want.end());
  EXPECT_EQ(got, want);
  cfg.word_min = cfg.word_max = 2;
  EXPECT_EQ(features_of("a b @c", cfg).size(), 2u);
}

TEST(IngestText, FeaturesAreDeterministicInRangeAndKindSeparated) {
  feature_config cfg;
  const std::string norm = chorus::ingest::normalise_text(
      "Vote today! \xD0\x93\xD0\xBE\xD0\xBB\xD0\xBE\xD1\x81\xD1\x83\xD0\xB9 https://x.y #go");
  const auto a = features_of(norm, cfg), b = features_of(norm, cfg);
  EXPECT_EQ(a, b);
  EXPECT_FALSE(a.empty());
  for (const auto f : a) EXPECT_LT(f, 1u << cfg.hash_bits);
  // the same bytes as a word and as a character n-gram give different features
  feature_config wide;
  wide.hash_bits = 32;
  EXPECT_NE(chorus::ingest::gram_feature("abc", chorus::ingest::kWordGramKind, wide),
            chorus::ingest::gram_feature("abc", chorus::ingest::kCharGramKind, wide));
  EXPECT_EQ(chorus::ingest::gram_feature("abc", 'W', wide), ref_hash("abc", 'W', wide));
  // the seed changes them
  feature_config seeded = cfg;
  seeded.seed = 1;
  EXPECT_NE(features_of(norm, seeded), a);
}

TEST(IngestText, TextHashEqualForTextsEqualAfterNormalisation) {
  using chorus::ingest::normalise_text;
  using chorus::ingest::text_hash;
  const auto h1 = text_hash(normalise_text("\xEF\xBC\xA8\xEF\xBD\x85llo   WORLD "));
  const auto h2 = text_hash(normalise_text("hello world"));
  EXPECT_EQ(h1, h2);
  EXPECT_EQ(h2, XXH3_64bits("hello world", 11));
  EXPECT_NE(h2, text_hash(normalise_text("hello worlds")));
}

TEST(IngestText, BadFeatureConfigIsAnInputError) {
  std::vector<std::uint32_t> out;
  std::vector<std::string_view> toks{"a"};
  feature_config cfg;
  cfg.hash_bits = 0;
  EXPECT_THROW(chorus::ingest::post_features("a", toks, cfg, out), chorus::input_error);
  cfg = feature_config{};
  cfg.char_min = 4;
  cfg.char_max = 3;
  EXPECT_THROW(chorus::ingest::post_features("a", toks, cfg, out), chorus::input_error);
  cfg = feature_config{};
  cfg.word_min = 0;
  EXPECT_THROW(chorus::ingest::post_features("a", toks, cfg, out), chorus::input_error);
}

}  // namespace
