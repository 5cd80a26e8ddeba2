// chorus: progress on stderr. On a terminal, a bar with rate and ETA redrawn in place; anywhere
// else (a pipe, a SLURM log file), a plain line every interval:
//   chorus: score 37.2% (1.2e9 of 3.2e9 pairs), 85 s elapsed, ETA 143 s
// A stage reported only as 0 of 1 (one whose progress cannot be measured, such as "read") shows
// its elapsed time instead of a percentage.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace chorus {

class progress_bar {
 public:
  /// Seconds between plain lines when the output is not a terminal, unless set_interval().
  static constexpr double default_interval = 60.0;

  /// `enabled` false makes every call a no-op. `out` (stderr unless given) is drawn on as a
  /// terminal when it is one, else given plain lines.
  explicit progress_bar(bool enabled, std::FILE* out = stderr);
  ~progress_bar();
  progress_bar(const progress_bar&) = delete;
  progress_bar& operator=(const progress_bar&) = delete;
  /// Seconds between plain lines (not a terminal); 0: one line per update.
  void set_interval(double seconds);
  /// Report `done` of `total` units of `stage` ("score" counts pairs).
  void update(const char* stage, std::int64_t done, std::int64_t total);
  /// End the current line.
  void finish();

 private:
  using clock = std::chrono::steady_clock;
  void draw(const char* stage, std::int64_t done, std::int64_t total, clock::time_point now);
  void plain_line(const char* stage, std::int64_t done, std::int64_t total, clock::time_point now);

  bool on_;
  std::FILE* out_;
  bool tty_;
  double interval_ = default_interval;
  bool open_ = false;
  bool unmeasured_ = false;  // the current stage reports 0 of 1: elapsed time, no percentage
  std::string stage_;
  clock::time_point start_, last_, last_line_;
};

}  // namespace chorus
