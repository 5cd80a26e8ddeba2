// chorus: progress bar, and plain progress lines where stderr is not a terminal.
#include "chorus/job/progress.hpp"

#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace chorus {

namespace {

// A count as a log reader takes it in: 12345 as it is, 1234567890 as "1.2e9".
std::string compact(std::int64_t v) {
  if (v < 100000) return std::to_string(v);
  char b[32];
  std::snprintf(b, sizeof b, "%.1e", static_cast<double>(v));
  char* e = std::strchr(b, 'e');
  if (!e) return b;
  const int exp = std::atoi(e + 1);
  *e = 0;
  return std::string(b) + "e" + std::to_string(exp);
}

double seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

}  // namespace

progress_bar::progress_bar(bool enabled, std::FILE* out)
    : on_(enabled && out != nullptr),
      out_(out),
      tty_(out != nullptr && isatty(fileno(out))),
      last_line_(clock::now()) {}
progress_bar::~progress_bar() { finish(); }

void progress_bar::set_interval(double seconds) { interval_ = seconds > 0 ? seconds : 0; }

void progress_bar::update(const char* stage, std::int64_t done, std::int64_t total) {
  if (!on_) return;
  const auto now = clock::now();
  const bool fresh = stage_ != stage;
  if (fresh) {
    finish();
    stage_ = stage;
    start_ = now;
    unmeasured_ = total <= 1;  // "read": reported once as 0 of 1, its progress not measured
  }
  if (!tty_) {
    if (seconds(now - last_line_) >= interval_) plain_line(stage, done, total, now);
    return;
  }
  if (!fresh && done < total && now - last_ < std::chrono::milliseconds(200)) return;
  last_ = now;
  draw(stage, done, total, now);
}

void progress_bar::draw(const char* stage, std::int64_t done, std::int64_t total,
                        clock::time_point now) {
  const double el = seconds(now - start_);
  open_ = true;
  if (unmeasured_) {  // no percentage that would stay at 0.0% for the whole stage
    std::fprintf(out_, "\r%-6s ... %.0f s elapsed   ", stage, el);
    std::fflush(out_);
    return;
  }
  const double frac = total > 0 ? static_cast<double>(done) / static_cast<double>(total) : 0.0;
  const int width = 30, fill = static_cast<int>(frac * width);
  char bar[width + 1];
  for (int i = 0; i < width; ++i) bar[i] = i < fill ? '#' : '.';
  bar[width] = 0;
  const double rate = el > 0 ? static_cast<double>(done) / el : 0.0;
  const double eta = frac > 0 && frac < 1 ? el * (1 - frac) / frac : 0.0;
  std::fprintf(out_, "\r%-6s [%s] %5.1f%%  %.3g %s/s  ETA %.0fs   ", stage, bar, 100 * frac, rate,
               stage_ == "score" ? "pairs" : "units", eta);
  std::fflush(out_);
}

void progress_bar::plain_line(const char* stage, std::int64_t done, std::int64_t total,
                              clock::time_point now) {
  last_line_ = now;
  const double el = seconds(now - start_);
  if (unmeasured_) {
    std::fprintf(out_, "chorus: %s, %.0f s elapsed\n", stage, el);
    std::fflush(out_);
    return;
  }
  const double frac = total > 0 ? static_cast<double>(done) / static_cast<double>(total) : 0.0;
  std::string what = "chorus: " + stage_;
  char pct[32];
  std::snprintf(pct, sizeof pct, " %.1f%%", 100 * frac);
  what += pct;
  if (stage_ == "score") what += " (" + compact(done) + " of " + compact(total) + " pairs)";
  std::fprintf(out_, "%s, %.0f s elapsed", what.c_str(), el);
  if (frac > 0 && frac < 1) std::fprintf(out_, ", ETA %.0f s", el * (1 - frac) / frac);
  std::fputc('\n', out_);
  std::fflush(out_);
}

void progress_bar::finish() {
  if (!on_ || !open_) return;
  if (unmeasured_)  // the stage's time, over the "..." line
    std::fprintf(out_, "\r%-6s %.1f s elapsed        ", stage_.c_str(),
                 seconds(clock::now() - start_));
  std::fputc('\n', out_);
  std::fflush(out_);
  open_ = false;
}

}  // namespace chorus
