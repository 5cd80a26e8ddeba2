// chorus: keyed pseudonyms (HMAC-SHA256 by OpenSSL), key files and mapping files.
#include "chorus/outputs/pseudonym.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "chorus/core/error.hpp"

namespace chorus {

namespace {

constexpr const char* kKeyMagic = "chorus-pseudonym-key";
constexpr const char* kMappingHeader = "pseudonym,kind,original";

bool is_word(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}
bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// Does `s` start, at `i`, with `prefix` (ASCII, without case)?
bool starts_nocase(std::string_view s, std::size_t i, std::string_view prefix) {
  if (s.size() - i < prefix.size()) return false;
  for (std::size_t k = 0; k < prefix.size(); ++k)
    if (ascii_lower(s[i + k]) != prefix[k]) return false;
  return true;
}

std::string dir_of(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

void fsync_dir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

// A new file at `tmp` with mode 0600 from its creation on (O_EXCL: never an existing one).
int create_private(const std::string& tmp) {
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  CHORUS_EXPECTS(fd >= 0, "cannot create '", tmp, "': ", std::strerror(errno),
                 " (directory missing or not writable?)");
  ::fchmod(fd, 0600);  // the umask may have taken bits away; never adds any for others
  return fd;
}

// Write all of `data` to `fd`, fsync and close it; on failure remove `tmp` and throw.
void finish_private(int fd, const std::string& tmp, const std::string& data) {
  std::size_t done = 0;
  bool ok = true;
  while (ok && done < data.size()) {
    const ssize_t w = ::write(fd, data.data() + done, data.size() - done);
    if (w < 0 && errno == EINTR) continue;
    ok = w > 0;
    if (ok) done += static_cast<std::size_t>(w);
  }
  ok = ok && ::fsync(fd) == 0;
  ok = (::close(fd) == 0) && ok;
  if (!ok) {
    ::unlink(tmp.c_str());
    CHORUS_THROW(runtime_failure, "cannot write '", tmp, "' (disk full?)");
  }
}

std::string read_small_file(const std::string& path, std::size_t limit, const char* what) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  CHORUS_EXPECTS(f != nullptr, "cannot read ", what, " '", path, "': ", std::strerror(errno));
  std::string data;
  char buf[4096];
  std::size_t got;
  while ((got = std::fread(buf, 1, sizeof buf, f)) > 0 && data.size() <= limit)
    data.append(buf, got);
  std::fclose(f);
  return data;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Parse the text of a key file (format: datasets/SCHEMA.md, "Pseudonym key").
pseudonym_key parse_key(const std::string& path, const std::string& text) {
  const std::string bad = "key file '" + path + "' is not a chorus pseudonym key";
  CHORUS_EXPECTS(text.size() <= 200, bad, " (too long; chorus keygen writes one)");
  const std::size_t nl = text.find('\n');
  CHORUS_EXPECTS(nl != std::string::npos, bad, " (expected 2 lines; chorus keygen writes one)");
  const std::string first = text.substr(0, nl);
  std::string second = text.substr(nl + 1);
  if (!second.empty() && second.back() == '\n') second.pop_back();
  const std::string magic = std::string(kKeyMagic) + " ";
  CHORUS_EXPECTS(first.rfind(magic, 0) == 0, bad, " (its first line must be '", kKeyMagic, " 1')");
  CHORUS_EXPECTS(first == magic + "1", "key file '", path, "' has format version '",
                 first.substr(magic.size()), "'; this chorus reads version 1");
  CHORUS_EXPECTS(second.size() == 2 * pseudonym_key_bytes, bad, " (its second line must be ",
                 2 * pseudonym_key_bytes, " hex digits, found ", second.size(), " characters)");
  pseudonym_key key;
  for (std::size_t k = 0; k < pseudonym_key_bytes; ++k) {
    const int hi = hex_value(second[2 * k]), lo = hex_value(second[2 * k + 1]);
    CHORUS_EXPECTS(hi >= 0 && lo >= 0, bad, " (its second line must be hex digits only)");
    key.bytes[k] = static_cast<unsigned char>(hi * 16 + lo);
  }
  key.path = path;
  return key;
}

// One RFC 4180 record of a mapping file from `s` at `pos` (quotes, doubled quotes, newlines in
// quotes); false at the end of `s`.
bool csv_record(const std::string& s, std::size_t& pos, std::vector<std::string>& fields,
                bool& well_formed) {
  fields.clear();
  well_formed = true;
  if (pos >= s.size()) return false;
  std::string f;
  bool quoted = false, was_quoted = false;
  while (pos < s.size()) {
    const char c = s[pos++];
    if (quoted) {
      if (c != '"')
        f += c;
      else if (pos < s.size() && s[pos] == '"')
        f += '"', ++pos;
      else
        quoted = false;
    } else if (c == '"' && f.empty() && !was_quoted) {
      quoted = was_quoted = true;
    } else if (c == ',') {
      fields.push_back(std::move(f));
      f.clear();
      was_quoted = false;
    } else if (c == '\n') {
      break;
    } else {
      well_formed = well_formed && !was_quoted;
      f += c;
    }
  }
  well_formed = well_formed && !quoted;
  fields.push_back(std::move(f));
  return true;
}

pseudonym_kind kind_of(const std::string& name, bool& ok) {
  ok = true;
  if (name == "account") return pseudonym_kind::account;
  if (name == "handle") return pseudonym_kind::handle;
  if (name == "post") return pseudonym_kind::post;
  ok = false;
  return pseudonym_kind::account;
}

// The rows of an existing mapping file, each checked against `key`.
std::set<std::array<std::string, 3>> read_mapping(const pseudonym_key& key,
                                                  const std::string& path) {
  std::set<std::array<std::string, 3>> rows;
  const std::string text = read_small_file(path, std::string::npos, "mapping file");
  std::size_t pos = 0, line = 0;
  std::vector<std::string> f;
  bool well_formed = true;
  CHORUS_EXPECTS(csv_record(text, pos, f, well_formed) && f.size() == 3 &&
                     f[0] + "," + f[1] + "," + f[2] == kMappingHeader,
                 "mapping file '", path, "' does not start with the header ", kMappingHeader);
  while (csv_record(text, pos, f, well_formed)) {
    ++line;
    if (f.size() == 1 && f[0].empty() && pos >= text.size()) break;
    bool kind_ok = false;
    const pseudonym_kind kind = f.size() == 3 ? kind_of(f[1], kind_ok) : pseudonym_kind::account;
    CHORUS_EXPECTS(well_formed && kind_ok, "mapping file '", path, "' is malformed at record ",
                   line, " (expected pseudonym,kind,original)");
    CHORUS_EXPECTS(pseudonym(key, kind, f[2]) == f[0], "mapping file '", path,
                   "' was not made with key file '", key.path, "' (fingerprint ", key.fingerprint(),
                   "): record ", line, " does not match; move it away or use its own key");
    rows.insert({f[0], f[1], f[2]});
  }
  return rows;
}

}  // namespace

const char* pseudonym_kind_name(pseudonym_kind kind) {
  switch (kind) {
    case pseudonym_kind::account:
      return "account";
    case pseudonym_kind::handle:
      return "handle";
    case pseudonym_kind::post:
      return "post";
  }
  return "account";
}

std::string to_hex(const unsigned char* bytes, std::size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string s(2 * n, '0');
  for (std::size_t k = 0; k < n; ++k) {
    s[2 * k] = digits[bytes[k] >> 4];
    s[2 * k + 1] = digits[bytes[k] & 15];
  }
  return s;
}

std::array<unsigned char, 32> hmac_sha256(const unsigned char* key, std::size_t key_len,
                                          std::string_view message) {
  std::array<unsigned char, 32> out{};
  unsigned int len = 0;
  static const unsigned char empty = 0;
  const unsigned char* data =
      message.empty() ? &empty : reinterpret_cast<const unsigned char*>(message.data());
  if (HMAC(EVP_sha256(), key, static_cast<int>(key_len), data, message.size(), out.data(), &len) ==
          nullptr ||
      len != out.size())
    CHORUS_THROW(runtime_failure, "OpenSSL HMAC-SHA256 failed");
  return out;
}

std::string pseudonym_key::fingerprint() const {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha256(), nullptr) != 1 || len < 4)
    CHORUS_THROW(runtime_failure, "OpenSSL SHA-256 failed");
  return to_hex(md, 4);
}

pseudonym_key generate_pseudonym_key() {
  pseudonym_key key;
  if (RAND_bytes(key.bytes.data(), static_cast<int>(key.bytes.size())) != 1)
    CHORUS_THROW(runtime_failure, "OpenSSL RAND_bytes failed: no key made");
  return key;
}

void write_pseudonym_key(const std::string& path, const pseudonym_key& key, bool force) {
  CHORUS_EXPECTS(!path.empty(), "keygen needs --out KEYFILE");
  struct stat st {};
  const bool there = ::lstat(path.c_str(), &st) == 0;
  CHORUS_EXPECTS(!there || !S_ISDIR(st.st_mode), "key file '", path, "' is a directory");
  CHORUS_EXPECTS(!there || force, "key file '", path,
                 "' exists (use --force to replace it; pseudonyms made with the old key can then "
                 "no longer be matched)");
  const std::string text =
      std::string(kKeyMagic) + " 1\n" + to_hex(key.bytes.data(), key.bytes.size()) + "\n";
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  finish_private(create_private(tmp), tmp, text);
  // link(2) never replaces an existing file: a key that appeared meanwhile is kept
  const int rc = force ? std::rename(tmp.c_str(), path.c_str()) : ::link(tmp.c_str(), path.c_str());
  const int err = errno;
  ::unlink(tmp.c_str());  // after link: the temporary name; after rename: already gone
  CHORUS_EXPECTS(rc == 0, "cannot write key file '", path, "': ", std::strerror(err));
  fsync_dir(dir_of(path));
}

pseudonym_key read_pseudonym_key(const std::string& path, std::vector<std::string>* warnings) {
  CHORUS_EXPECTS(!path.empty(), "--pseudonymize needs a key file (make one with chorus keygen)");
  struct stat st {};
  CHORUS_EXPECTS(::stat(path.c_str(), &st) == 0, "key file '", path,
                 "' cannot be read: ", std::strerror(errno),
                 " (make one with chorus keygen --out KEYFILE)");
  CHORUS_EXPECTS(S_ISREG(st.st_mode), "key file '", path, "' is not a regular file");
  pseudonym_key key = parse_key(path, read_small_file(path, 200, "key file"));
  if ((st.st_mode & 077) != 0 && warnings) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    warnings->push_back("key file '" + path + "' has mode " + mode +
                        ": others on this machine may read it and re-identify every account; "
                        "chmod 600 '" +
                        path + "'");
  }
  return key;
}

std::string normalize_handle(std::string_view handle) {
  if (!handle.empty() && handle.front() == '@') handle.remove_prefix(1);
  std::string s(handle);
  for (char& c : s) c = ascii_lower(c);
  return s;
}

std::string link_domain(std::string_view url) {
  while (!url.empty() && is_space(url.front())) url.remove_prefix(1);
  while (!url.empty() && is_space(url.back())) url.remove_suffix(1);
  const std::size_t scheme = url.find("://");
  bool has_scheme = scheme != std::string_view::npos && scheme > 0;
  for (std::size_t k = 0; has_scheme && k < scheme; ++k) {
    const char c = url[k];
    has_scheme = (k > 0 && (is_word(c) || c == '+' || c == '.' || c == '-')) ||
                 ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
  }
  if (has_scheme)
    url.remove_prefix(scheme + 3);
  else if (url.substr(0, 2) == "//")
    url.remove_prefix(2);
  url = url.substr(0, url.find_first_of("/?#\\"));
  const std::size_t at = url.rfind('@');
  if (at != std::string_view::npos) url.remove_prefix(at + 1);
  if (!url.empty() && url.front() == '[') {
    const std::size_t close = url.find(']');
    url = url.substr(0, close == std::string_view::npos ? url.size() : close + 1);
  } else {
    url = url.substr(0, url.find(':'));
  }
  std::string host(url);
  for (char& c : host) c = ascii_lower(c);
  while (!host.empty() && host.back() == '.') host.pop_back();
  if (host.rfind("www.", 0) == 0) host.erase(0, 4);
  return host;
}

std::string pseudonym(const pseudonym_key& key, pseudonym_kind kind, std::string_view value) {
  std::string message = pseudonym_kind_name(kind);
  message += '\0';
  if (kind == pseudonym_kind::handle)
    message += normalize_handle(value);
  else
    message.append(value.data(), value.size());
  const auto mac = hmac_sha256(key.bytes.data(), key.bytes.size(), message);
  const char* prefix = kind == pseudonym_kind::account  ? "a_"
                       : kind == pseudonym_kind::handle ? "h_"
                                                        : "p_";
  return prefix + to_hex(mac.data(), 16);
}

pseudonymizer::pseudonymizer(pseudonym_key key, bool redact_text)
    : key_(std::move(key)), redact_(redact_text) {}

std::string pseudonymizer::remember(pseudonym_kind kind, const std::string& original,
                                    std::string value) {
  auto k = std::make_pair(static_cast<int>(kind), original);
  auto it = cache_.find(k);
  if (it != cache_.end()) return it->second;
  std::string p = pseudonym(key_, kind, value);
  seen_.insert({p, pseudonym_kind_name(kind), original});
  cache_.emplace(std::move(k), p);
  return p;
}

std::string pseudonymizer::account(std::int64_t id) {
  const std::string s = std::to_string(id);
  return remember(pseudonym_kind::account, s, s);
}

std::string pseudonymizer::handle(const std::string& h) {
  return remember(pseudonym_kind::handle, h, h);
}

std::string pseudonymizer::post(std::int64_t id) {
  const std::string s = std::to_string(id);
  return remember(pseudonym_kind::post, s, s);
}

std::string pseudonymizer::link(std::string_view url) const {
  const std::string d = link_domain(url);
  return d.empty() ? "[link]" : d;
}

std::string pseudonymizer::text(std::string_view t) {
  if (redact_) return "[redacted]";
  std::string out;
  std::size_t i = 0;
  while (i < t.size()) {
    const bool boundary = i == 0 || !is_word(t[i - 1]);
    if (boundary && (starts_nocase(t, i, "http://") || starts_nocase(t, i, "https://") ||
                     starts_nocase(t, i, "www."))) {
      std::size_t j = i;
      while (j < t.size() && !is_space(t[j])) ++j;
      out += link(t.substr(i, j - i));
      i = j;
    } else if (boundary && t[i] == '@' && i + 1 < t.size() && is_word(t[i + 1])) {
      std::size_t j = i + 1;
      while (j < t.size() && is_word(t[j])) ++j;
      out += "@" + handle(std::string(t.substr(i + 1, j - i - 1)));
      i = j;
    } else {
      out += t[i++];
    }
  }
  return out;
}

std::string pseudonym_mapping_path(const std::string& key_path) {
  return key_path + ".mapping.csv";
}

std::size_t merge_pseudonym_mapping(const pseudonym_key& key,
                                    const std::set<std::array<std::string, 3>>& rows) {
  CHORUS_EXPECTS(!key.path.empty(), "a mapping file needs the key's file");
  const std::string path = pseudonym_mapping_path(key.path);
  const int lock = ::open(key.path.c_str(), O_RDONLY | O_CLOEXEC);
  CHORUS_EXPECTS(lock >= 0, "cannot open key file '", key.path, "': ", std::strerror(errno));
  struct unlock_on_exit {
    int fd;
    ~unlock_on_exit() { ::close(fd); }  // closing releases the flock
  } guard{lock};
  CHORUS_EXPECTS(::flock(lock, LOCK_EX) == 0, "cannot lock key file '", key.path,
                 "': ", std::strerror(errno));
  struct stat st {};
  std::set<std::array<std::string, 3>> all;
  if (::stat(path.c_str(), &st) == 0) all = read_mapping(key, path);
  const std::size_t before = all.size();
  all.insert(rows.begin(), rows.end());
  std::string text = std::string(kMappingHeader) + "\n";
  for (const auto& r : all) text += r[0] + "," + r[1] + "," + csv_quote(r[2]) + "\n";
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  finish_private(create_private(tmp), tmp, text);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    CHORUS_THROW(runtime_failure, "cannot rename '", tmp, "' to '", path,
                 "': ", std::strerror(err));
  }
  fsync_dir(dir_of(path));
  return all.size() - before;
}

std::string csv_quote(const std::string& s) {
  bool quote = !s.empty() && (s.front() == ' ' || s.back() == ' ');
  for (char c : s) quote = quote || c == ',' || c == '"' || c == '\n' || c == '\r';
  if (!quote) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace chorus
