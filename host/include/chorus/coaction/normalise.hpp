// chorus co-action: the keys that decide "the same object" (text, link) for the co-action views.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace chorus::coaction {

/// Which normalisation `chorus ingest --normalize` applied (stored as `ingest_normalize`).
enum class normalisation {
  chorus,   ///< chorus's own (the default): see text_key and normalise_url
  toolkit,  ///< QUT coordination-network-toolkit 1.5's, to check parity with it
};
normalisation parse_normalisation(const std::string& name);  ///< throws input_error
const char* to_string(normalisation n);

/// The text a post is compared by in co_text, chorus's normalisation: NFKC, Unicode case
/// folding and collapsed whitespace (ingest::normalise_text), with @mentions and links
/// (ingest::tokenize's url and mention tokens) removed. Empty when nothing is left: such a post
/// takes no part in co_text.
std::string text_key(std::string_view utf8);
/// text_key of a text already normalised (ingest::normalise_text) and tokenized
/// (ingest::tokenize(normalised, tokens)).
std::string text_key_normalised(std::string_view normalised,
                                const std::vector<std::string_view>& tokens);

/// The toolkit's message_preprocessor: Python's str.lower() (per code point, utf8proc's simple
/// lower-case mapping plus U+0130 -> "i\u0307"; the context-dependent final sigma is not
/// reproduced), every '@' up to the next Unicode white space removed, then runs of white space
/// (Python's str.split()) joined by one ' '. An empty result is a text like any other, as there.
std::string toolkit_text(std::string_view utf8);

/// A link as co_link compares it (chorus's normalisation): surrounding white space trimmed;
/// scheme and host lower-cased; http, https and no scheme read as one ("https://"), other
/// schemes kept; a leading "www." of the host removed; user info kept; the default port (:80,
/// :443) removed; the fragment removed; tracking parameters (utm_*, fbclid, gclid, dclid,
/// msclkid, mc_cid, mc_eid, igshid, yclid, _ga, ref_src) removed from the query, the other
/// parameters kept in order, an empty query dropped with its '?'; an empty path written "/" and
/// a trailing '/' of a longer path removed. The path's case and percent-encoding are kept.
/// Returns an empty string for an empty link.
std::string normalise_url(std::string_view url);

/// 64-bit key of a normalised text or link (XXH3-64); equal strings, equal keys.
std::uint64_t object_key(std::string_view normalised);

}  // namespace chorus::coaction
