// chorus ingest: post_reader (several files in order), input expansion, shared reader helpers.
#include "chorus/ingest/reader.hpp"

#include <glob.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "chorus/core/error.hpp"
#include "reader_internal.hpp"

namespace chorus::ingest {

namespace detail {

namespace {
constexpr std::int64_t kTimeEnd = 4102444800;  // 2100-01-01T00:00:00Z
constexpr std::size_t kKeptSkips = 5;
}  // namespace

void file_context::fail(std::int64_t line, const std::string& what) const {
  if (line > 0) CHORUS_THROW(input_error, path, ":", line, ": ", what);
  CHORUS_THROW(input_error, path, ": ", what);
}

void file_context::skip(std::int64_t line, const std::string& reason) const {
  if (opt->strict) fail(line, reason);
  stats->skipped++;
  if (stats->first_skipped.size() < kKeptSkips)
    stats->first_skipped.push_back(skipped_row{index, line, reason});
}

void file_context::check_range(std::int64_t line, std::int64_t t, std::string_view raw) const {
  if (t < 0 || t >= kTimeEnd) {
    // 13-digit Unix times are milliseconds, a common export format
    const bool ms = t >= 100000000000LL && t / 1000 < kTimeEnd;
    fail(line, "time '" + std::string(raw.substr(0, 64)) +
                   "' out of range [1970-01-01, 2100-01-01)" +
                   (ms ? " (it looks like milliseconds: give Unix seconds)" : ""));
  }
}

std::string time_hint(const std::string& text) {
  // YYYY-MM-DD[T ]hh:mm[:ss[.fff]] with nothing after it
  std::size_t i = 0;
  auto digits = [&](std::size_t n) {
    for (std::size_t k = 0; k < n; ++k, ++i)
      if (i >= text.size() || text[i] < '0' || text[i] > '9') return false;
    return true;
  };
  const bool date = digits(4) && i < text.size() && text[i++] == '-' && digits(2) &&
                    i < text.size() && text[i++] == '-' && digits(2);
  if (!date) return "";
  if (i == text.size()) return " (a date without a time and zone: give e.g. 2026-03-01T00:00:00Z)";
  const std::size_t rest = text.find_first_of("Zz+", i);
  const bool zone = rest != std::string::npos || text.find('-', i) != std::string::npos;
  return zone ? "" : " (no time zone: add Z for UTC or an offset such as +02:00)";
}

void check_binary(const file_context& ctx, const char* base, std::int64_t line_at, const char* from,
                  const char* end) {
  const void* nul = std::memchr(from, 0, static_cast<std::size_t>(end - from));
  if (!nul) return;
  std::int64_t line = line_at + std::count(base, static_cast<const char*>(nul), '\n');
  ctx.fail(line, "NUL byte in the text: a binary file, not CSV or JSON lines");
}

post& post_sink::slot() {
  if (n_ == batch_.size()) batch_.emplace_back();
  post& p = batch_[n_];
  p.account.clear();
  p.handle.clear();
  p.time = 0;
  p.text.clear();
  p.id.clear();
  p.repost.clear();
  p.reply.clear();
  p.urls.clear();
  p.line = 0;
  p.file = 0;
  return p;
}

std::unique_ptr<record_reader> open_records(const file_context& ctx, std::size_t chunk) {
  opened_file f;
  f.src = std::make_unique<byte_source>(ctx.path);
  f.buf = std::make_unique<text_buffer>(*f.src, chunk);
  text_buffer& b = *f.buf;
  ctx.stats->bytes_read += static_cast<std::int64_t>(b.refill(b.begin()));
  check_binary(ctx, b.begin(), 1, b.begin(), b.end());
  if (b.begin() == b.end()) ctx.fail(0, "empty file (no text)");
  f.start = b.begin();
  if (b.end() - b.begin() >= 3 && std::memcmp(b.begin(), "\xEF\xBB\xBF", 3) == 0) f.start += 3;
  const char* p = f.start;
  while (p < b.end() && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) ++p;
  if (p == b.end() && b.eof()) ctx.fail(0, "empty file (only blank lines)");
  format fmt = ctx.opt->fmt;
  if (p < b.end() && *p == '[')
    ctx.fail(1,
             "a JSON array, not JSON lines (one object per line): convert it, e.g. with "
             "jq -c '.[]' FILE > FILE.jsonl");
  if (fmt == format::csv && p < b.end() && *p == '{')
    ctx.fail(1,
             "--format csv, but the file starts with '{' (JSON lines: use --format jsonl or auto)");
  if (fmt == format::automatic) fmt = p < b.end() && *p == '{' ? format::jsonl : format::csv;
  if (fmt == format::jsonl) return make_json_reader(ctx, std::move(f));
  return make_csv_reader(ctx, std::move(f));
}

}  // namespace detail

std::vector<std::string> expand_inputs(const std::vector<std::string>& args) {
  std::vector<std::string> out;
  for (const std::string& a : args) {
    if (a.find_first_of("*?[") != std::string::npos) {
      glob_t g{};
      int r = glob(a.c_str(), GLOB_ERR, nullptr, &g);
      if (r == GLOB_NOMATCH) {
        globfree(&g);
        CHORUS_THROW(input_error, a, ": no file matches this pattern");
      }
      if (r != 0) {
        globfree(&g);
        CHORUS_THROW(input_error, a, ": cannot expand this pattern (", std::strerror(errno), ")");
      }
      std::size_t before = out.size();
      for (std::size_t i = 0; i < g.gl_pathc; ++i) {
        struct stat st {};
        if (stat(g.gl_pathv[i], &st) == 0 && !S_ISDIR(st.st_mode)) out.emplace_back(g.gl_pathv[i]);
      }
      globfree(&g);
      if (out.size() == before) CHORUS_THROW(input_error, a, ": the pattern matches no file");
      continue;
    }
    struct stat st {};
    if (stat(a.c_str(), &st) != 0) CHORUS_THROW(input_error, a, ": ", std::strerror(errno));
    if (S_ISDIR(st.st_mode)) CHORUS_THROW(input_error, a, ": is a directory, not a file");
    out.push_back(a);
  }
  return out;
}

post_reader::post_reader(std::vector<std::string> files, reader_options opt)
    : files_(std::move(files)), opt_(std::move(opt)) {
  if (opt_.pre == preset::none && (opt_.map.account.empty() || opt_.map.time.empty()))
    CHORUS_THROW(input_error,
                 "without a preset (preset none) the field map must name the account "
                 "and the time fields");
  for (std::size_t i = 0; i < files_.size(); ++i) {
    reader_stats scratch;  // detection reads are not counted
    detail::file_context ctx{files_[i], static_cast<int>(i), &opt_, &scratch};
    auto r = detail::open_records(ctx, detail::kProbeBytes);
    descriptions_.push_back(files_[i] + ": " + r->describe());
    sizes_.push_back(r->file_size());
    total_size_ += r->file_size();
  }
}

post_reader::~post_reader() = default;

bool post_reader::next(std::vector<post>& batch, std::size_t max_posts) {
  CHORUS_ENSURES(max_posts > 0, "post_reader::next needs max_posts > 0");
  detail::post_sink sink(batch);
  while (sink.count() < max_posts && current_ < files_.size()) {
    if (!reader_) {
      detail::file_context ctx{files_[current_], static_cast<int>(current_), &opt_, &stats_};
      reader_ = detail::open_records(ctx, detail::kChunkBytes);
    }
    if (!reader_->fill(sink, max_posts)) {
      done_size_ += sizes_[current_];
      reader_.reset();
      ++current_;
    }
  }
  sink.finish();
  return sink.count() > 0;
}

double post_reader::fraction_done() const {
  if (total_size_ <= 0) return current_ >= files_.size() ? 1.0 : 0.0;
  std::int64_t done = done_size_ + (reader_ ? std::min(reader_->file_pos(), sizes_[current_]) : 0);
  return std::min(1.0, static_cast<double>(done) / static_cast<double>(total_size_));
}

}  // namespace chorus::ingest
