// chorus: progress bar.
#include "chorus/job/progress.hpp"

#include <unistd.h>

#include <cstdio>

namespace chorus {

progress_bar::progress_bar(bool enabled) : on_(enabled && isatty(STDERR_FILENO)) {}
progress_bar::~progress_bar() { finish(); }

void progress_bar::update(const char* stage, std::int64_t done, std::int64_t total) {
  if (!on_) return;
  const auto now = std::chrono::steady_clock::now();
  if (stage_ != stage) {
    finish();
    stage_ = stage;
    start_ = now;
  } else if (done < total && now - last_ < std::chrono::milliseconds(200)) {
    return;
  }
  last_ = now;
  const double el = std::chrono::duration<double>(now - start_).count();
  const double frac = total > 0 ? static_cast<double>(done) / static_cast<double>(total) : 0.0;
  const int width = 30, fill = static_cast<int>(frac * width);
  char bar[width + 1];
  for (int i = 0; i < width; ++i) bar[i] = i < fill ? '#' : '.';
  bar[width] = 0;
  const double rate = el > 0 ? static_cast<double>(done) / el : 0.0;
  const double eta = frac > 0 && frac < 1 ? el * (1 - frac) / frac : 0.0;
  std::fprintf(stderr, "\r%-6s [%s] %5.1f%%  %.3g %s/s  ETA %.0fs   ", stage, bar, 100 * frac, rate,
               stage_ == "score" ? "pairs" : "units", eta);
  std::fflush(stderr);
  open_ = true;
}

void progress_bar::finish() {
  if (on_ && open_) {
    std::fputc('\n', stderr);
    open_ = false;
  }
}

}  // namespace chorus
