// chorus ingest: text normalisation, tokens and hashed n-gram features of one post.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace chorus::ingest {

/// NFKC normalisation plus Unicode case folding (utf8proc with UTF8PROC_STABLE |
/// UTF8PROC_COMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD), every run of whitespace (ASCII
/// whitespace, U+0085 and the Unicode categories Zs, Zl, Zp) collapsed to one ' ', and trimmed.
/// Pure-ASCII stretches take a fast path that gives the same bytes. Input must be valid UTF-8
/// (input_error otherwise).
std::string normalise_text(std::string_view utf8);

/// Appends the tokens of a normalised text to `tokens` (views into `normalised`, which must
/// outlive them; `tokens` is cleared first). In text order:
/// - URLs: from "http://", "https://" or "www." (with at least one more character) up to the
///   next whitespace, whole;
/// - @mentions and #hashtags: the sigil plus the following run of letters, marks, digits and '_'
///   (a sigil right after a word character, or with no such run after it, only separates);
/// - words: maximal runs of Unicode letters, marks and digits (utf8proc categories L*, M*, N*).
/// Everything else (spaces, punctuation, symbols, emoji) separates.
void tokenize(std::string_view normalised, std::vector<std::string_view>& tokens);

/// What a token is.
enum class token_kind { word, url, mention, hashtag };

/// The kind of a token returned by tokenize.
token_kind kind_of(std::string_view token);

/// Which hashed features a post gets. A range with max == 0 is switched off; otherwise
/// 1 <= min <= max.
struct feature_config {
  int hash_bits = 18;              ///< features are in [0, 2^hash_bits), 1..32
  int word_min = 1, word_max = 2;  ///< word n-gram lengths, in tokens
  int char_min = 3, char_max = 5;  ///< character n-gram lengths, in code points
  std::uint64_t seed = 0;          ///< XXH3 seed
};

/// Throws input_error when `cfg` is out of range.
void check_feature_config(const feature_config& cfg);

/// Kind bytes appended to an n-gram's bytes before hashing (word and char n-grams never collide
/// by construction of the hashed input).
inline constexpr char kWordGramKind = 'W';
inline constexpr char kCharGramKind = 'C';

/// Hash of one n-gram as post_features computes it: the top hash_bits bits of
/// XXH3_64bits_withSeed(gram bytes followed by the kind byte, seed).
std::uint32_t gram_feature(std::string_view gram, char kind, const feature_config& cfg);

/// Appends the hashed features of one post to `out` (duplicates kept: they are counts):
/// - word n-grams for n in word_min..word_max over all tokens (an n-gram is the n tokens joined
///   by one ' '), kind kWordGramKind;
/// - character n-grams for n in char_min..char_max, counted in code points, of every word token
///   (kind_of == word) padded with one ' ' each side, as scikit-learn's analyzer='char_wb' does:
///   a padded word of L <= n code points gives itself once and no longer n-grams follow; kind
///   kCharGramKind. URLs, mentions and hashtags get no character n-grams.
/// `tokens` must come from tokenize(normalised). Allocates nothing once `out` has grown.
void post_features(std::string_view normalised, const std::vector<std::string_view>& tokens,
                   const feature_config& cfg, std::vector<std::uint32_t>& out);

/// 64-bit hash (XXH3_64bits) of a normalised text, for "same text" comparisons.
std::uint64_t text_hash(std::string_view normalised);

}  // namespace chorus::ingest
