// chorus ingest: newline-delimited JSON reader (simdjson DOM) for X/Twitter v1.1 and v2 tweets,
// twarc2 v2 response pages, generic objects and explicit JSON paths.
#include <simdjson.h>

#include <cmath>
#include <cstring>
#include <initializer_list>
#include <unordered_map>

#include "chorus/core/error.hpp"
#include "chorus/ingest/time_parse.hpp"
#include "reader_internal.hpp"

namespace chorus::ingest::detail {

namespace {

namespace dom = simdjson::dom;

static_assert(simdjson::SIMDJSON_PADDING <= 64, "text_buffer pads 64 bytes");

enum member { m_account, m_handle, m_time, m_text, m_id, m_repost, m_reply, m_urls, kMembers };
const char* const kMemberNames[kMembers] = {"account", "handle", "time",  "text",
                                            "id",      "repost", "reply", "urls"};

const std::string& mapped(const field_map& m, int k) {
  const std::string* all[kMembers] = {&m.account, &m.handle, &m.time,  &m.text,
                                      &m.id,      &m.repost, &m.reply, &m.urls};
  return *all[k];
}

const char* preset_name(preset p) {
  const char* names[] = {"automatic", "qut", "twitter_v1", "twitter_v2", "generic", "none"};
  return names[static_cast<int>(p)];
}

bool is_blank_line(const char* p, const char* e) {
  for (; p < e; ++p)
    if (*p != ' ' && *p != '\t' && *p != '\r') return false;
  return true;
}

/// The value at key in object e; false if e is no object, the key is missing or the value null.
bool child(dom::element e, std::string_view key, dom::element& out) {
  dom::object o;
  if (e.get_object().get(o)) return false;
  dom::element v;
  if (o.at_key(key).get(v) || v.is_null()) return false;
  out = v;
  return true;
}

/// Follows keys from e; false if any step is missing or null.
bool walk(dom::element e, std::initializer_list<std::string_view> keys, dom::element& out) {
  for (std::string_view k : keys)
    if (!child(e, k, e)) return false;
  out = e;
  return true;
}

/// Follows an explicit path (object keys, or array indices); `found` even if the value is null.
bool walk_path(dom::element e, const std::vector<std::string>& path, dom::element& out) {
  for (const std::string& k : path) {
    dom::object o;
    dom::array a;
    if (!e.get_object().get(o)) {
      if (o.at_key(k).get(e)) return false;
    } else if (!e.get_array().get(a) && !k.empty() &&
               k.find_first_not_of("0123456789") == std::string::npos) {
      if (a.at(std::stoull(k)).get(e)) return false;
    } else {
      return false;
    }
  }
  out = e;
  return true;
}

/// e as an array (an empty one if it is not); by value, so that range-for over it is safe.
dom::array array_of(dom::element e) {
  dom::array a;
  if (e.get_array().get(a)) return dom::array();
  return a;
}

std::vector<std::string> split_path(const std::string& s) {
  std::vector<std::string> parts;
  std::size_t b = 0;
  for (;;) {
    std::size_t e = s.find('.', b);
    parts.push_back(s.substr(b, e == std::string::npos ? std::string::npos : e - b));
    if (e == std::string::npos) return parts;
    b = e + 1;
  }
}

std::string keys_of(dom::element e) {
  std::string s;
  dom::object o;
  if (e.get_object().get(o)) return "(not an object)";
  for (auto kv : o) s += (s.empty() ? "" : ", ") + std::string(kv.key);
  return s.empty() ? "(none)" : s;
}

int hex_value(const char* p) {
  int v = 0;
  for (int i = 0; i < 4; ++i) {
    char c = p[i];
    int d = c >= '0' && c <= '9'   ? c - '0'
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                   : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

/// Replaces escapes of unpaired UTF-16 surrogates ("\ud83d" alone, which simdjson rejects but
/// X/Twitter data contains) by "\ufffd", in place; returns how many were replaced.
std::int64_t repair_surrogate_escapes(std::string& s) {
  std::int64_t fixed = 0;
  for (std::size_t i = 0; i + 1 < s.size(); ++i) {
    if (s[i] != '\\') continue;
    if (s[i + 1] != 'u' || i + 6 > s.size()) {
      ++i;  // a two-character escape
      continue;
    }
    int v = hex_value(&s[i + 2]);
    bool high = v >= 0xD800 && v <= 0xDBFF, low = v >= 0xDC00 && v <= 0xDFFF;
    if (high && i + 12 <= s.size() && s[i + 6] == '\\' && s[i + 7] == 'u') {
      int w = hex_value(&s[i + 8]);
      if (w >= 0xDC00 && w <= 0xDFFF) {  // a proper pair
        i += 11;
        continue;
      }
    }
    if (high || low) {
      s.replace(i + 2, 4, "fffd");
      ++fixed;
    }
    i += 5;
  }
  return fixed;
}

class json_reader final : public record_reader {
 public:
  json_reader(const file_context& ctx, opened_file f) : ctx_(ctx), f_(std::move(f)) {
    pos_ = f_.start;
    for (int k = 0; k < kMembers; ++k)
      if (!mapped(ctx_.opt->map, k).empty()) paths_[k] = split_path(mapped(ctx_.opt->map, k));
    const char *ls, *le;
    if (!next_line(ls, le, first_line_)) ctx_.fail(0, "empty file: only blank lines");
    first_ = parse_line(ls, le, first_line_);
    first_pending_ = true;
    detect(first_);
    check_paths(first_);
  }

  bool fill(post_sink& sink, std::size_t max) override {
    while (sink.count() < max) {
      if (in_page_) {
        if (page_it_ != page_end_) {
          emit(*page_it_, page_line_, sink);
          ++page_it_;
          continue;
        }
        in_page_ = false;
      }
      if (first_pending_) {
        first_pending_ = false;
        handle(first_, first_line_, sink);
        continue;
      }
      const char *ls, *le;
      std::int64_t line;
      if (!next_line(ls, le, line)) return false;
      handle(parse_line(ls, le, line), line, sink);
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
      ctx_.fail(line_, "a line longer than 256 MiB");
    std::size_t added = b.refill(pos_);
    pos_ = b.begin();
    ctx_.stats->bytes_read += static_cast<std::int64_t>(added);
    check_binary(ctx_, pos_, line_, b.end() - added, b.end());
  }

  /// The next non-blank line [ls, le) and its number; false at the end of the file.
  bool next_line(const char*& ls, const char*& le, std::int64_t& line) {
    for (;;) {
      text_buffer& b = *f_.buf;
      const char* nl = static_cast<const char*>(
          std::memchr(pos_, '\n', static_cast<std::size_t>(b.end() - pos_)));
      if (!nl && !b.eof()) {
        refill();
        continue;
      }
      if (!nl && pos_ == b.end()) return false;
      ls = pos_;
      le = nl ? nl : b.end();
      line = line_++;
      pos_ = nl ? nl + 1 : le;
      if (!is_blank_line(ls, le)) return true;
    }
  }

  /// Parses one line (repairing invalid UTF-8 first); anything but an object is an error.
  dom::element parse_line(const char* ls, const char* le, std::int64_t line) {
    std::size_t n = static_cast<std::size_t>(le - ls);
    dom::element doc;
    simdjson::error_code err;
    bool valid = utf8_valid_prefix(ls, n) == n;
    if (valid) {
      err = parser_.parse(ls, n, false).get(doc);  // the text buffer is padded
    } else {
      assign_utf8(repaired_, ls, n, ctx_.stats->invalid_utf8_bytes);
      padded_ = simdjson::padded_string(repaired_);
      err = parser_.parse(padded_).get(doc);
    }
    if (err == simdjson::STRING_ERROR) {  // perhaps an unpaired surrogate escape: repair, retry
      if (valid) repaired_.assign(ls, n);
      std::int64_t fixed = repair_surrogate_escapes(repaired_);
      if (fixed > 0) {
        ctx_.stats->invalid_utf8_bytes += fixed;
        padded_ = simdjson::padded_string(repaired_);
        err = parser_.parse(padded_).get(doc);
      }
    }
    if (err) ctx_.fail(line, std::string("not valid JSON: ") + simdjson::error_message(err));
    if (!doc.is_object()) ctx_.fail(line, "expected a JSON object on each line");
    return doc;
  }

  /// Chooses the preset from the first record when automatic.
  void detect(dom::element first) {
    const reader_options& o = *ctx_.opt;
    pre_ = o.pre;
    std::string how = "given";
    dom::element v;
    if (pre_ == preset::automatic) {
      how = "detected from the first record";
      dom::object obj = first.get_object().value_unsafe();
      auto has = [&](std::string_view k) { return !obj.at_key(k).get(v); };
      if (has("data")) {
        pre_ = preset::twitter_v2;
      } else if (has("id_str") || has("user")) {
        pre_ = preset::twitter_v1;
      } else if (has("author_id")) {
        pre_ = preset::twitter_v2;
      } else if (has("account") && has("time")) {
        pre_ = preset::generic;
      } else if (!o.map.account.empty() && !o.map.time.empty()) {
        pre_ = preset::none;
      } else {
        ctx_.fail(first_line_,
                  "cannot tell the JSON layout from the first record (keys: " + keys_of(first) +
                      "); expected X/Twitter v1.1 or v2 tweets, or a field map "
                      "naming the account and time fields");
      }
    } else if (pre_ == preset::qut) {
      ctx_.fail(0, "preset qut reads CSV, but this file is JSON lines");
    }
    describe_ = std::string(compression_name(f_.src->kind())) + ", JSON lines, ";
    if (pre_ == preset::none)
      describe_ += "no preset (field map only)";
    else
      describe_ += std::string("preset ") + preset_name(pre_) + " (" + how + ")";
    std::string maps;
    for (int k = 0; k < kMembers; ++k)
      if (!paths_[k].empty())
        maps += (maps.empty() ? "" : ", ") + std::string(kMemberNames[k]) + "=" + mapped(o.map, k);
    if (!maps.empty()) describe_ += ", mapped " + maps;
  }

  /// Every explicit path must resolve in the first record (the first tweet of a page).
  void check_paths(dom::element first) {
    dom::element rec = first, data;
    if (pre_ == preset::twitter_v2 && child(first, "data", data)) {
      dom::array a;
      if (!data.get_array().get(a)) {
        if (a.size() == 0) return;
        rec = *a.begin();
      } else {
        rec = data;
      }
    }
    for (int k = 0; k < kMembers; ++k) {
      dom::element v;
      if (!paths_[k].empty() && !walk_path(rec, paths_[k], v))
        ctx_.fail(first_line_,
                  "JSON path '" + mapped(ctx_.opt->map, k) + "' (" + kMemberNames[k] +
                      ") does not resolve in the first record; its keys are: " + keys_of(rec));
    }
  }

  /// One line: a tweet, or (twitter_v2) a response page whose `data` holds the tweets.
  void handle(dom::element obj, std::int64_t line, post_sink& sink) {
    dom::element data;
    if (pre_ == preset::twitter_v2 && child(obj, "data", data)) {
      start_page(obj, data, line, sink);
      return;
    }
    dom::element tmp;
    if (pre_ == preset::twitter_v2 && !child(obj, "author_id", tmp) &&
        (child(obj, "meta", tmp) || child(obj, "errors", tmp)))
      return;  // a page without tweets
    emit(obj, line, sink);
  }

  /// Indexes a page's includes (user names, included tweets) and queues its tweets; a `data`
  /// that is a single object is emitted at once.
  void start_page(dom::element page, dom::element data, std::int64_t line, post_sink& sink) {
    users_.clear();
    included_.clear();
    dom::element arr;
    if (walk(page, {"includes", "users"}, arr) && arr.is_array()) {
      for (dom::element u : array_of(arr)) {
        std::string_view id, name;
        dom::element e;
        if (child(u, "id", e) && !e.get_string().get(id) && child(u, "username", e) &&
            !e.get_string().get(name))
          users_[id] = name;
      }
    }
    if (walk(page, {"includes", "tweets"}, arr) && arr.is_array()) {
      for (dom::element t : array_of(arr)) {
        std::string_view id;
        dom::element e;
        if (child(t, "id", e) && !e.get_string().get(id)) included_[id] = t;
      }
    }
    dom::array a;
    if (data.get_array().get(a)) return emit(data, line, sink);
    page_it_ = a.begin();
    page_end_ = a.end();
    page_line_ = line;
    in_page_ = true;
  }

  /// The value of a post member: the explicit path, or the preset's field.
  bool value(dom::element t, int k, dom::element& out) {
    if (!paths_[k].empty()) return walk_path(t, paths_[k], out) && !out.is_null();
    switch (pre_) {
      case preset::twitter_v1:
        return v1_value(t, k, out);
      case preset::twitter_v2:
        return v2_value(t, k, out);
      case preset::generic:
        return child(t, kMemberNames[k], out);
      default:
        return false;
    }
  }

  /// The retweeted status (v1) or the retweeted tweet (v2, when its text is at hand), else t.
  dom::element source_tweet(dom::element t) {
    dom::element s;
    if (pre_ == preset::twitter_v1) return child(t, "retweeted_status", s) && s.is_object() ? s : t;
    dom::element refs;
    if (!child(t, "referenced_tweets", refs) || !refs.is_array()) return t;
    for (dom::element r : array_of(refs)) {
      std::string_view type, id;
      dom::element e;
      if (!child(r, "type", e) || e.get_string().get(type) || type != "retweeted") continue;
      if (child(r, "text", e)) return r;  // twarc2 flattened: the referenced tweet is inline
      if (child(r, "id", e) && !e.get_string().get(id)) {
        auto it = included_.find(id);
        if (it != included_.end()) return it->second;
      }
    }
    return t;
  }

  bool v1_value(dom::element t, int k, dom::element& out) {
    switch (k) {
      case m_account:
        return walk(t, {"user", "id_str"}, out) || walk(t, {"user", "id"}, out);
      case m_handle:
        return walk(t, {"user", "screen_name"}, out);
      case m_time:
        return child(t, "created_at", out);
      case m_id:
        return child(t, "id_str", out) || child(t, "id", out);
      case m_repost:
        return walk(t, {"retweeted_status", "id_str"}, out) ||
               walk(t, {"retweeted_status", "id"}, out);
      case m_reply:
        return child(t, "in_reply_to_status_id_str", out) || child(t, "in_reply_to_status_id", out);
      case m_text: {
        dom::element s = source_tweet(t);
        return child(s, "full_text", out) || walk(s, {"extended_tweet", "full_text"}, out) ||
               child(s, "text", out);
      }
      case m_urls: {
        dom::element s = source_tweet(t);
        return walk(s, {"extended_tweet", "entities", "urls"}, out) ||
               walk(s, {"entities", "urls"}, out);
      }
    }
    return false;
  }

  bool v2_value(dom::element t, int k, dom::element& out) {
    switch (k) {
      case m_account:
        return child(t, "author_id", out);
      case m_handle:
        return walk(t, {"author", "username"}, out);  // pages: see user_name()
      case m_time:
        return child(t, "created_at", out);
      case m_id:
        return child(t, "id", out);
      case m_text: {
        dom::element s = source_tweet(t);
        return walk(s, {"note_tweet", "text"}, out) || child(s, "text", out);
      }
      case m_urls: {
        dom::element s = source_tweet(t);
        return walk(s, {"note_tweet", "entities", "urls"}, out) ||
               walk(s, {"entities", "urls"}, out);
      }
      default:
        return false;  // repost and reply come from referenced_tweets
    }
  }

  /// Scalar to text (strings repaired as UTF-8); false for arrays and objects.
  bool text_of(dom::element e, std::string& out) {
    switch (e.type()) {
      case dom::element_type::STRING: {
        std::string_view s = e.get_string().value_unsafe();
        assign_utf8(out, s.data(), s.size(), ctx_.stats->invalid_utf8_bytes);
        return true;
      }
      case dom::element_type::INT64:
        out = std::to_string(e.get_int64().value_unsafe());
        return true;
      case dom::element_type::UINT64:
        out = std::to_string(e.get_uint64().value_unsafe());
        return true;
      case dom::element_type::DOUBLE: {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.17g", e.get_double().value_unsafe());
        out = buf;
        return true;
      }
      case dom::element_type::BOOL:
        out = e.get_bool().value_unsafe() ? "true" : "false";
        return true;
      default:
        return false;
    }
  }

  void set(dom::element t, int k, std::string& dst) {
    dom::element v;
    if (!value(t, k, v) || !text_of(v, dst)) dst.clear();
  }

  /// URLs: an array of strings or of url entities (expanded_url, else url), or one string.
  void set_urls(dom::element t, std::vector<std::string>& urls) {
    dom::element v;
    if (!value(t, m_urls, v)) return;
    if (v.is_string()) {
      text_of(v, word_);
      split_words(word_, urls);
      return;
    }
    if (!v.is_array()) return;
    for (dom::element u : array_of(v)) {
      dom::element s;
      if (u.is_object() && !child(u, "expanded_url", s) && !child(u, "url", s)) continue;
      if (!u.is_object()) s = u;
      if (s.is_string() && text_of(s, word_) && !word_.empty()) urls.push_back(word_);
    }
  }

  /// v2 repost/reply ids from referenced_tweets.
  void set_references(dom::element t, post& p) {
    dom::element refs;
    if (!child(t, "referenced_tweets", refs) || !refs.is_array()) return;
    for (dom::element r : array_of(refs)) {
      dom::element type, id;
      std::string_view ty;
      if (!child(r, "type", type) || type.get_string().get(ty) || !child(r, "id", id)) continue;
      if (ty == "retweeted" && paths_[m_repost].empty()) text_of(id, p.repost);
      if (ty == "replied_to" && paths_[m_reply].empty()) text_of(id, p.reply);
    }
  }

  /// Time member: a number of Unix seconds or a string for parse_time.
  enum class time_status { ok, missing, bad };
  time_status time_of(dom::element t, std::int64_t& out) {
    dom::element v;
    if (!value(t, m_time, v)) return time_status::missing;
    if (v.is_int64() || v.is_uint64() || v.is_double()) {
      double d = v.get_double().value_unsafe();
      if (v.is_int64())
        out = v.get_int64().value_unsafe();
      else if (std::isfinite(d) && std::fabs(d) < 9e18)
        out = static_cast<std::int64_t>(std::floor(d));
      else
        return time_status::bad;
      time_text_ = std::to_string(out);
      return time_status::ok;
    }
    if (!text_of(v, time_text_)) return time_status::bad;
    return parse_time(time_text_, out) ? time_status::ok : time_status::bad;
  }

  /// One tweet object to a post, or a skipped record.
  void emit(dom::element t, std::int64_t line, post_sink& sink) {
    ctx_.stats->records++;
    if (!t.is_object()) return ctx_.skip(line, "a tweet that is not a JSON object");
    post& p = sink.slot();
    set(t, m_account, p.account);
    if (p.account.empty()) return ctx_.skip(line, "no account");
    time_status ts = time_of(t, p.time);
    if (ts == time_status::missing) return ctx_.skip(line, "no time");
    if (ts == time_status::bad)
      return ctx_.skip(
          line, "time '" + time_text_.substr(0, 64) + "' does not parse" + time_hint(time_text_));
    ctx_.check_range(line, p.time, time_text_);
    set(t, m_handle, p.handle);
    if (p.handle.empty() && pre_ == preset::twitter_v2 && paths_[m_handle].empty()) {
      auto it = users_.find(p.account);
      if (it != users_.end())
        assign_utf8(p.handle, it->second.data(), it->second.size(), ctx_.stats->invalid_utf8_bytes);
    }
    set(t, m_text, p.text);
    set(t, m_id, p.id);
    set(t, m_repost, p.repost);
    set(t, m_reply, p.reply);
    if (pre_ == preset::twitter_v2) set_references(t, p);
    set_urls(t, p.urls);
    p.line = line;
    p.file = ctx_.index;
    sink.commit();
    ctx_.stats->posts++;
  }

  file_context ctx_;
  opened_file f_;
  const char* pos_ = nullptr;
  std::int64_t line_ = 1;  // number of the line at pos_
  dom::parser parser_;
  std::string repaired_, time_text_, word_;
  simdjson::padded_string padded_;
  preset pre_ = preset::automatic;
  std::string describe_;
  std::vector<std::string> paths_[kMembers];
  dom::element first_;
  std::int64_t first_line_ = 0;
  bool first_pending_ = false;
  // the response page being emitted (its elements live in parser_ until the next parse)
  bool in_page_ = false;
  dom::array::iterator page_it_, page_end_;
  std::int64_t page_line_ = 0;
  std::unordered_map<std::string_view, std::string_view> users_;
  std::unordered_map<std::string_view, dom::element> included_;
};

}  // namespace

std::unique_ptr<record_reader> make_json_reader(const file_context& ctx, opened_file f) {
  return std::make_unique<json_reader>(ctx, std::move(f));
}

}  // namespace chorus::ingest::detail
