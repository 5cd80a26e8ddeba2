// chorus co-action: text and link normalisation (chorus's own, and the toolkit's for parity).
#include "chorus/coaction/normalise.hpp"

#include <utf8proc.h>
#include <xxhash.h>

#include <algorithm>
#include <cctype>
#include <vector>

#include "chorus/core/error.hpp"
#include "chorus/ingest/text_features.hpp"

namespace chorus::coaction {

normalisation parse_normalisation(const std::string& name) {
  if (name == "chorus") return normalisation::chorus;
  if (name == "toolkit") return normalisation::toolkit;
  CHORUS_THROW(input_error, "--normalize must be chorus or toolkit, got '", name, "'");
}

const char* to_string(normalisation n) {
  return n == normalisation::toolkit ? "toolkit" : "chorus";
}

std::uint64_t object_key(std::string_view normalised) {
  return XXH3_64bits(normalised.data(), normalised.size());
}

std::string text_key(std::string_view utf8) {
  const std::string norm = ingest::normalise_text(utf8);
  std::vector<std::string_view> tokens;
  ingest::tokenize(norm, tokens);
  return text_key_normalised(norm, tokens);
}

std::string text_key_normalised(std::string_view norm,
                                const std::vector<std::string_view>& tokens) {
  std::string out;
  out.reserve(norm.size());
  std::size_t at = 0;  // copy the text between the tokens removed
  auto copy = [&](std::size_t from, std::size_t to) {
    for (std::size_t i = from; i < to; ++i) {
      const char c = norm[i];
      if (c == ' ' && (out.empty() || out.back() == ' ')) continue;
      out.push_back(c);
    }
  };
  for (std::string_view t : tokens) {
    const ingest::token_kind k = ingest::kind_of(t);
    if (k != ingest::token_kind::url && k != ingest::token_kind::mention) continue;
    const std::size_t begin = static_cast<std::size_t>(t.data() - norm.data());
    copy(at, begin);
    at = begin + t.size();
  }
  copy(at, norm.size());
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

namespace {

// Python's str.isspace() (bidirectional class WS, B or S, or category Zs).
bool python_space(utf8proc_int32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
         c == 0x205F || c == 0x3000;
}

void append_utf8(std::string& out, utf8proc_int32_t c) {
  utf8proc_uint8_t buf[4];
  const utf8proc_ssize_t n = utf8proc_encode_char(c, buf);
  out.append(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(n));
}

}  // namespace

std::string toolkit_text(std::string_view utf8) {
  // one pass: lower-case (ASCII directly, the rest through utf8proc), drop every '@' up to the
  // next white space, join the words with one ' '
  std::string out;
  out.reserve(utf8.size());
  bool in_mention = false, pending_space = false;
  auto put = [&](utf8proc_int32_t c) {
    if (python_space(c)) {
      in_mention = false;
      pending_space = !out.empty();
      return;
    }
    if (c == '@') in_mention = true;
    if (in_mention) return;
    if (pending_space) out.push_back(' ');
    pending_space = false;
    if (c < 0x80)
      out.push_back(static_cast<char>(c));
    else
      append_utf8(out, c);
  };
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(utf8.data());
  for (std::size_t at = 0; at < utf8.size();) {
    if (p[at] < 0x80) {  // ASCII
      const char c = static_cast<char>(p[at++]);
      put(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
      continue;
    }
    utf8proc_int32_t c = 0;
    const utf8proc_ssize_t n =
        utf8proc_iterate(p + at, static_cast<utf8proc_ssize_t>(utf8.size() - at), &c);
    if (n <= 0) CHORUS_THROW(input_error, "text is not valid UTF-8");
    at += static_cast<std::size_t>(n);
    if (c == 0x130) {  // Python: LATIN CAPITAL LETTER I WITH DOT ABOVE -> i + COMBINING DOT ABOVE
      put(0x69);
      put(0x307);
    } else {
      put(utf8proc_tolower(c));
    }
  }
  return out;
}

namespace {

std::string lower_ascii(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool tracking_parameter(std::string_view param) {
  const std::string key = lower_ascii(param.substr(0, param.find('=')));
  static const char* const exact[] = {"fbclid", "gclid",  "dclid", "msclkid", "mc_cid",
                                      "mc_eid", "igshid", "yclid", "_ga",     "ref_src"};
  if (key.rfind("utm_", 0) == 0) return true;
  return std::any_of(std::begin(exact), std::end(exact), [&](const char* e) { return key == e; });
}

bool url_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

}  // namespace

std::string normalise_url(std::string_view url) {
  while (!url.empty() && url_space(url.front())) url.remove_prefix(1);
  while (!url.empty() && url_space(url.back())) url.remove_suffix(1);
  if (url.empty()) return {};
  std::string scheme = "http";
  const std::size_t colon = url.find("://");
  const bool has_scheme = colon != std::string_view::npos && colon > 0 &&
                          url.substr(0, colon).find_first_of("/?#") == std::string_view::npos;
  if (has_scheme) {
    scheme = lower_ascii(url.substr(0, colon));
    url.remove_prefix(colon + 3);
  }
  const bool web = scheme == "http" || scheme == "https";
  url = url.substr(0, url.find('#'));  // the fragment goes
  const std::size_t auth_end = std::min(url.find_first_of("/?"), url.size());
  std::string_view authority = url.substr(0, auth_end), rest = url.substr(auth_end);
  std::string userinfo;
  if (const std::size_t at = authority.rfind('@'); at != std::string_view::npos) {
    userinfo = std::string(authority.substr(0, at + 1));
    authority.remove_prefix(at + 1);
  }
  std::string host = lower_ascii(authority);
  const std::size_t port_colon = host.rfind(':');
  if (port_colon != std::string::npos && host.find(']', port_colon) == std::string::npos) {
    const std::string port = host.substr(port_colon + 1);
    if (port.empty() || (web && (port == "80" || port == "443"))) host.resize(port_colon);
  }
  if (host.rfind("www.", 0) == 0 && host.size() > 4) host.erase(0, 4);
  const std::size_t q = rest.find('?');
  std::string path(rest.substr(0, q));
  if (path.empty()) path = "/";
  if (path.size() > 1 && path.back() == '/') path.pop_back();
  std::string query;
  if (q != std::string_view::npos) {
    std::string_view params = rest.substr(q + 1);
    while (!params.empty()) {
      const std::size_t amp = std::min(params.find('&'), params.size());
      const std::string_view param = params.substr(0, amp);
      if (!param.empty() && !tracking_parameter(param))
        query += (query.empty() ? "" : "&") + std::string(param);
      params.remove_prefix(std::min(amp + 1, params.size()));
    }
  }
  return (web ? std::string("https") : scheme) + "://" + userinfo + host + path +
         (query.empty() ? "" : "?" + query);
}

}  // namespace chorus::coaction
