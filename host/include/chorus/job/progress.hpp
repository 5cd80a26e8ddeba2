// chorus: a progress bar with ETA and rate on stderr, only when stderr is a terminal.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace chorus {

class progress_bar {
 public:
  /// `enabled` false (or stderr not a terminal) makes every call a no-op.
  explicit progress_bar(bool enabled);
  ~progress_bar();
  /// Report `done` of `total` units of `stage` ("score" counts pairs).
  void update(const char* stage, std::int64_t done, std::int64_t total);
  /// End the current line.
  void finish();

 private:
  bool on_;
  bool open_ = false;
  std::string stage_;
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace chorus
