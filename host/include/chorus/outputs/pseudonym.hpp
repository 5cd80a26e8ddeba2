// chorus: keyed pseudonyms for shared exports and reports (README, "Sharing results:
// pseudonymised exports"; key file format in datasets/SCHEMA.md, "Pseudonym key").
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace chorus {

/// Bytes of a pseudonym key (256 bits).
constexpr std::size_t pseudonym_key_bytes = 32;

/// A secret key for pseudonyms, as read from or written to a key file.
struct pseudonym_key {
  std::array<unsigned char, pseudonym_key_bytes> bytes{};
  std::string path;  ///< the key file it came from (empty for a key made in memory)

  /// First 8 hex digits of SHA-256 of the key bytes: names the key without revealing it.
  std::string fingerprint() const;
};

/// What a pseudonym stands for; the kind is part of the HMAC input (domain separation), so an
/// account id and a post id with the same digits get unrelated pseudonyms.
enum class pseudonym_kind { account, handle, post };

/// "account", "handle" or "post".
const char* pseudonym_kind_name(pseudonym_kind kind);

/// HMAC-SHA256 (RFC 2104 with SHA-256) of `message` under `key`, by OpenSSL. Throws
/// runtime_failure when OpenSSL fails.
std::array<unsigned char, 32> hmac_sha256(const unsigned char* key, std::size_t key_len,
                                          std::string_view message);

/// Lower-case hex of `n` bytes.
std::string to_hex(const unsigned char* bytes, std::size_t n);

/// A fresh key of 256 random bits from OpenSSL's RAND_bytes. Throws runtime_failure when the
/// random generator fails.
pseudonym_key generate_pseudonym_key();

/// Write `key` to `path` in the key file format, mode 0600 from the start: the key goes into a
/// new temporary file of the same directory (open with O_CREAT | O_EXCL, mode 0600), is fsynced
/// and then linked to `path` (never over an existing file) or, with `force`, renamed over it.
/// Throws input_error when `path` exists without `force`, is a directory or its directory is not
/// writable; runtime_failure on I/O errors. Nothing is left behind on failure.
void write_pseudonym_key(const std::string& path, const pseudonym_key& key, bool force);

/// Read a key file. Throws input_error (one line naming the file) when it is missing, not a
/// regular file or malformed (first line `chorus-pseudonym-key 1`, second line 64 hex digits,
/// nothing else). A key file that group or others may read or write adds a warning to
/// `warnings` (when given): the caller prints it.
pseudonym_key read_pseudonym_key(const std::string& path,
                                 std::vector<std::string>* warnings = nullptr);

/// The value a handle is pseudonymised as: one leading '@' removed and ASCII letters
/// lower-cased (handles are compared without case, as platforms do).
std::string normalize_handle(std::string_view handle);

/// The host of a link, lower-cased, without scheme, user, port, path, query or fragment and
/// without a leading "www.": "https://WWW.Example.org:443/a?b" -> "example.org". Empty when the
/// link has no host.
std::string link_domain(std::string_view url);

/// `kind` + '\0' + `value` under HMAC-SHA256 with `key`, first 128 bits as 32 lower-case hex
/// digits, prefixed "a_" (account), "h_" (handle) or "p_" (post). Handles are normalised
/// (normalize_handle) first; accounts and posts are their decimal ids.
std::string pseudonym(const pseudonym_key& key, pseudonym_kind kind, std::string_view value);

/// Pseudonyms of one key, remembered for a mapping file, plus the text rules.
class pseudonymizer {
 public:
  /// `redact_text`: every text becomes "[redacted]" (else mentions and links are rewritten).
  pseudonymizer(pseudonym_key key, bool redact_text);

  const pseudonym_key& key() const { return key_; }
  std::string account(std::int64_t id);
  std::string handle(const std::string& handle);
  std::string post(std::int64_t id);
  /// A link reduced to its domain (link_domain; "[link]" when it has no host).
  std::string link(std::string_view url) const;
  /// A free text: "[redacted]" with redact_text; otherwise every @mention replaced by
  /// "@" + the handle's pseudonym and every link (http://, https://, www.) by its domain.
  std::string text(std::string_view text);

  /// (pseudonym, kind, original) of every value pseudonymised so far, sorted.
  const std::set<std::array<std::string, 3>>& seen() const { return seen_; }

 private:
  std::string remember(pseudonym_kind kind, const std::string& original, std::string value);
  pseudonym_key key_;
  bool redact_;
  std::set<std::array<std::string, 3>> seen_;
  std::map<std::pair<int, std::string>, std::string> cache_;
};

/// A CSV field as RFC 4180 writes it: quoted when it holds a comma, a quote, a line break or
/// leading or trailing blanks (quotes doubled); otherwise as it is.
std::string csv_quote(const std::string& s);

/// The mapping file of a key file: "<key file>.mapping.csv", in the key's directory.
std::string pseudonym_mapping_path(const std::string& key_path);

/// Merge `rows` (pseudonym, kind, original) into the mapping file of `key`
/// (pseudonym_mapping_path): rows already there are kept, the file is rewritten sorted, mode
/// 0600, under a temporary name renamed over it, while the key file is locked (flock) against
/// concurrent merges. Refuses (input_error) a mapping file that is malformed or whose rows were
/// made with another key. Returns the number of rows added.
std::size_t merge_pseudonym_mapping(const pseudonym_key& key,
                                    const std::set<std::array<std::string, 3>>& rows);

}  // namespace chorus
