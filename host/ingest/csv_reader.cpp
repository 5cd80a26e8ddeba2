// chorus ingest: streaming RFC 4180 CSV reader (quoted fields, CRLF/LF, header row) with the
// qut, generic and field-map-only layouts.
#include <algorithm>
#include <array>
#include <cstring>

#include "chorus/core/error.hpp"
#include "chorus/ingest/time_parse.hpp"
#include "reader_internal.hpp"

namespace chorus::ingest::detail {

namespace {

/// Post members a column can feed, in field_map order.
enum member { m_account, m_handle, m_time, m_text, m_id, m_repost, m_reply, m_urls, kMembers };

const char* const kMemberNames[kMembers] = {"account", "handle", "time",  "text",
                                            "id",      "repost", "reply", "urls"};
/// QUT coordination-network-toolkit columns, in file order, and the member each feeds.
const char* const kQutHeader[kMembers] = {"message_id", "user_id", "username",  "repost_id",
                                          "reply_id",   "message", "timestamp", "urls"};
const char* const kQutColumn[kMembers] = {"user_id",    "username",  "timestamp", "message",
                                          "message_id", "repost_id", "reply_id",  "urls"};

const std::string& mapped(const field_map& m, int k) {
  const std::string* all[kMembers] = {&m.account, &m.handle, &m.time,  &m.text,
                                      &m.id,      &m.repost, &m.reply, &m.urls};
  return *all[k];
}

/// One field of a record: [p, p+n); raw means quoted with escapes (p..p+n still holds quotes).
struct field {
  const char* p;
  std::size_t n;
  bool raw;
};

enum class parse_status { ok, need_more, unterminated };

/// Bytes that end an unquoted field.
struct delimiter_table {
  std::array<bool, 256> t{};
  delimiter_table() { t[','] = t['\n'] = t['\r'] = true; }
};
const delimiter_table kDelim;

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "scan_unquoted reads bytes little-endian");

/// First byte of [p, end) that ends an unquoted field (',', '\n', '\r'), or end; 8 bytes a step.
inline const char* scan_unquoted(const char* p, const char* end) {
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL, kHigh = 0x8080808080808080ULL;
  auto zero_bytes = [](std::uint64_t y) { return (y - kOnes) & ~y & kHigh; };
  while (end - p >= 8) {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    std::uint64_t m = zero_bytes(w ^ (kOnes * ',')) | zero_bytes(w ^ (kOnes * '\n')) |
                      zero_bytes(w ^ (kOnes * '\r'));
    if (m) return p + __builtin_ctzll(m) / 8;  // the lowest flagged byte is always a true match
    p += 8;
  }
  while (p < end && !kDelim.t[static_cast<unsigned char>(*p)]) ++p;
  return p;
}

std::int64_t count_newlines(const char* p, const char* e) {
  std::int64_t n = 0;
  while ((p = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(e - p))))) {
    ++n;
    ++p;
  }
  return n;
}

/// Parses one record at [p, end). ok: fields set, *next after its terminator, *nl the newlines
/// consumed. need_more: the record may continue past end. unterminated: at the end of the data
/// inside quotes; *nl is then the newline count before the unterminated field.
parse_status parse_record(const char* p, const char* end, bool eof, std::vector<field>& fields,
                          const char** next, std::int64_t* nl) {
  fields.clear();
  std::int64_t lines = 0;
  for (;;) {
    const char* fs = p;
    if (p < end && *p == '"') {
      bool raw = false;
      const char* q = p + 1;
      const char* close;
      for (;;) {
        close = static_cast<const char*>(std::memchr(q, '"', static_cast<std::size_t>(end - q)));
        if (!close) {
          if (!eof) return parse_status::need_more;
          *nl = lines;
          return parse_status::unterminated;
        }
        if (close + 1 == end && !eof) return parse_status::need_more;
        if (close + 1 < end && close[1] == '"') {
          raw = true;
          q = close + 2;
          continue;
        }
        break;
      }
      lines += count_newlines(fs + 1, close);
      p = close + 1;
      if (p < end && !kDelim.t[static_cast<unsigned char>(*p)]) {  // text after the closing quote
        raw = true;
        while (p < end && !kDelim.t[static_cast<unsigned char>(*p)]) ++p;
        if (p == end && !eof) return parse_status::need_more;
      }
      if (raw)
        fields.push_back({fs, static_cast<std::size_t>(p - fs), true});
      else
        fields.push_back({fs + 1, static_cast<std::size_t>(close - fs - 1), false});
    } else {
      p = scan_unquoted(p, end);
      if (p == end && !eof) return parse_status::need_more;
      fields.push_back({fs, static_cast<std::size_t>(p - fs), false});
    }
    if (p == end) break;  // the data ends without a line break
    if (*p == ',') {
      ++p;
      continue;
    }
    if (*p == '\r') {
      if (p + 1 == end && !eof) return parse_status::need_more;
      ++p;
      if (p < end && *p == '\n') ++p, ++lines;
    } else {  // '\n'
      ++p;
      ++lines;
    }
    break;
  }
  *next = p;
  *nl = lines;
  return parse_status::ok;
}

/// Removes the quotes of a raw field: "" -> ", quotes toggle, everything else is literal.
void unquote(const field& f, std::string& out) {
  out.clear();
  const char* s = f.p;
  const char* e = f.p + f.n;
  bool quoted = false;
  while (s < e) {
    const char* q = static_cast<const char*>(std::memchr(s, '"', static_cast<std::size_t>(e - s)));
    if (!q) q = e;
    out.append(s, static_cast<std::size_t>(q - s));
    if (q == e) break;
    if (quoted && q + 1 < e && q[1] == '"') {
      out.push_back('"');
      s = q + 2;
    } else {
      quoted = !quoted;
      s = q + 1;
    }
  }
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The header's columns for a message, cut to about 200 characters; a header with semicolons or
// tabs and no commas says which separator it has (only commas are read).
std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  if (v.size() == 1 && v[0].find(';') != std::string::npos)
    s = "one column: the file looks semicolon-separated; chorus reads comma-separated CSV";
  else if (v.size() == 1 && v[0].find('\t') != std::string::npos)
    s = "one column: the file looks tab-separated; chorus reads comma-separated CSV";
  if (s.size() > 200) s = s.substr(0, 200) + "...";
  return s;
}

class csv_reader final : public record_reader {
 public:
  csv_reader(const file_context& ctx, opened_file f) : ctx_(ctx), f_(std::move(f)) {
    pos_ = f_.start;
    read_header();
    resolve_columns();
    require_records();
  }

  bool fill(post_sink& sink, std::size_t max) override {
    text_buffer& b = *f_.buf;
    while (sink.count() < max) {
      if (pos_ == b.end()) {
        if (b.eof()) return false;
        refill();
        continue;
      }
      const char* next = nullptr;
      std::int64_t nl = 0;
      parse_status st = parse_record(pos_, b.end(), b.eof(), fields_, &next, &nl);
      if (st == parse_status::need_more) {
        refill();
        continue;
      }
      if (st == parse_status::unterminated) unterminated(nl);
      handle(sink);
      line_ += nl;
      pos_ = next;
    }
    return true;
  }

  std::string describe() const override { return describe_; }
  std::int64_t file_pos() const override { return f_.src->file_pos(); }
  std::int64_t file_size() const override { return f_.src->file_size(); }

 private:
  void refill() {
    text_buffer& b = *f_.buf;
    if (static_cast<std::size_t>(b.end() - pos_) >= kMaxRecordBytes)
      ctx_.fail(line_, "a record longer than 256 MiB (an unterminated quote?)");
    std::size_t added = b.refill(pos_);
    pos_ = b.begin();
    ctx_.stats->bytes_read += static_cast<std::int64_t>(added);
    check_binary(ctx_, pos_, line_, b.end() - added, b.end());
  }

  [[noreturn]] void unterminated(std::int64_t nl_before) const {
    ctx_.fail(line_ + nl_before,
              "unterminated quoted field: the quote opened on this line never closes");
  }

  /// Parses the first record as the header row.
  void read_header() {
    const char* next = nullptr;
    std::int64_t nl = 0;
    for (;;) {
      parse_status st = parse_record(pos_, f_.buf->end(), f_.buf->eof(), fields_, &next, &nl);
      if (st == parse_status::ok) break;
      if (st == parse_status::unterminated) unterminated(nl);
      refill();
    }
    std::int64_t bad = 0;
    for (const field& fl : fields_) {
      std::string name;
      if (fl.raw) {
        unquote(fl, scratch_);
        assign_utf8(name, scratch_.data(), scratch_.size(), bad);
      } else {
        assign_utf8(name, fl.p, fl.n, bad);
      }
      header_.emplace_back(trim(name));
    }
    line_ += nl;
    pos_ = next;
  }

  int column(const std::string& name) const {
    auto it = std::find(header_.begin(), header_.end(), name);
    return it == header_.end() ? -1 : static_cast<int>(it - header_.begin());
  }

  /// Chooses the layout and maps each post member to a column (or -1).
  void resolve_columns() {
    const reader_options& o = *ctx_.opt;
    preset pre = o.pre;
    std::string how = "given";
    if (pre == preset::automatic) {
      how = "detected from the header";
      bool qut = header_.size() == kMembers;
      for (int k = 0; qut && k < kMembers; ++k) qut = header_[k] == kQutHeader[k];
      if (qut) {
        pre = preset::qut;
      } else if (column("account") >= 0 && column("time") >= 0 && column("text") >= 0) {
        pre = preset::generic;
      } else if (!o.map.account.empty() && !o.map.time.empty()) {
        pre = preset::none;
      } else {
        ctx_.fail(0, "cannot tell the CSV layout from the header (columns: " + join(header_) +
                         "); expected QUT's message_id,user_id,username,repost_id,reply_id,"
                         "message,timestamp,urls or at least account,time,text, or a field map "
                         "naming the account and time columns");
      }
    } else if (pre == preset::twitter_v1 || pre == preset::twitter_v2) {
      ctx_.fail(0, std::string("preset ") +
                       (pre == preset::twitter_v1 ? "twitter_v1" : "twitter_v2") +
                       " reads JSON lines, but this file is CSV");
    }
    for (int k = 0; k < kMembers; ++k) {
      std::string name = mapped(o.map, k);
      bool required = !name.empty();
      if (name.empty() && pre == preset::qut) {
        name = kQutColumn[k];
        required = true;
      } else if (name.empty() && pre == preset::generic) {
        name = kMemberNames[k];
        required = k == m_account || k == m_time || k == m_text;
      }
      col_[k] = name.empty() ? -1 : column(name);
      if (required && col_[k] < 0)
        ctx_.fail(0, "column '" + name + "' (" + kMemberNames[k] +
                         ") is not in the header; the columns are: " + join(header_));
    }
    describe_ = std::string(compression_name(f_.src->kind())) + ", CSV, ";
    const char* names[] = {"automatic", "qut", "twitter_v1", "twitter_v2", "generic", "none"};
    if (pre == preset::none)
      describe_ += "no preset (field map only)";
    else
      describe_ += std::string("preset ") + names[static_cast<int>(pre)] + " (" + how + ")";
    std::string maps;
    for (int k = 0; k < kMembers; ++k)
      if (!mapped(o.map, k).empty())
        maps += (maps.empty() ? "" : ", ") + std::string(kMemberNames[k]) + "=" + mapped(o.map, k);
    if (!maps.empty()) describe_ += ", mapped " + maps;
  }

  /// A header with nothing after it is an empty file.
  void require_records() {
    for (;;) {
      const char* p = pos_;
      while (p < f_.buf->end() && (*p == '\n' || *p == '\r')) ++p;
      if (p < f_.buf->end()) return;
      if (f_.buf->eof()) ctx_.fail(0, "empty file: a header row and no records");
      refill();
    }
  }

  void set(std::string& dst, int k) {
    if (col_[k] < 0) return;
    const field& f = fields_[static_cast<std::size_t>(col_[k])];
    if (f.raw) {
      unquote(f, scratch_);
      assign_utf8(dst, scratch_.data(), scratch_.size(), ctx_.stats->invalid_utf8_bytes);
    } else {
      assign_utf8(dst, f.p, f.n, ctx_.stats->invalid_utf8_bytes);
    }
  }

  void set_trimmed(std::string& dst, int k) {
    set(dst, k);
    if (!dst.empty() &&
        (dst.front() == ' ' || dst.back() == ' ' || dst.front() == '\t' || dst.back() == '\t'))
      dst = std::string(trim(dst));
  }

  /// Turns the parsed record at pos_ into a post, or counts it as skipped.
  void handle(post_sink& sink) {
    if (fields_.size() == 1 && fields_[0].n == 0 && fields_[0].p == pos_) return;  // blank line
    ctx_.stats->records++;
    if (fields_.size() != header_.size()) {
      ctx_.skip(line_, std::to_string(fields_.size()) + " fields where the header has " +
                           std::to_string(header_.size()));
      return;
    }
    post& p = sink.slot();
    set_trimmed(p.account, m_account);
    if (p.account.empty()) return ctx_.skip(line_, "empty account");
    set(time_text_, m_time);
    if (!parse_time(time_text_, p.time))
      return ctx_.skip(
          line_, "time '" + time_text_.substr(0, 64) + "' does not parse" + time_hint(time_text_));
    ctx_.check_range(line_, p.time, time_text_);
    set_trimmed(p.handle, m_handle);
    set(p.text, m_text);
    set_trimmed(p.id, m_id);
    set_trimmed(p.repost, m_repost);
    set_trimmed(p.reply, m_reply);
    if (col_[m_urls] >= 0) {
      set(urls_text_, m_urls);
      split_words(urls_text_, p.urls);
    }
    p.line = line_;
    p.file = ctx_.index;
    sink.commit();
    ctx_.stats->posts++;
  }

  file_context ctx_;
  opened_file f_;
  const char* pos_ = nullptr;
  std::int64_t line_ = 1;  // line of the record at pos_
  std::vector<std::string> header_;
  std::vector<field> fields_;
  int col_[kMembers] = {};
  std::string describe_;
  std::string scratch_, time_text_, urls_text_;
};

}  // namespace

std::unique_ptr<record_reader> make_csv_reader(const file_context& ctx, opened_file f) {
  return std::make_unique<csv_reader>(ctx, std::move(f));
}

}  // namespace chorus::ingest::detail
