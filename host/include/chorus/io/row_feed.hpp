// chorus: rows of the views arriving while scoring runs. The reader thread prepares the views
// block by block and publishes how far it got; the backends score the tiles whose rows are all
// there, so reading the input file overlaps the scoring.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>

namespace chorus {

/// Progress of one reader of the views, shared with one or more consumers.
///
/// Rows [first, ready()) of every view the run needs are prepared and will not change. The
/// reader calls publish() with a growing row count, then finish() or fail(). Consumers call
/// wait(r) before touching rows below r; it rethrows the reader's failure. cancel() asks the
/// reader to stop early (the consumer failed or was interrupted).
class row_feed {
 public:
  /// Rows before `first` are not part of this run (a rank's share starts there); `n` is the
  /// view's row count.
  row_feed(std::int64_t first, std::int64_t n) : n_(n), ready_(std::min(first, n)) {}
  row_feed(const row_feed&) = delete;
  row_feed& operator=(const row_feed&) = delete;

  /// Rows up to `rows` are prepared (release: their bytes are visible to waiters).
  void publish(std::int64_t rows) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (rows > ready_.load(std::memory_order_relaxed))
        ready_.store(std::min(rows, n_), std::memory_order_release);
    }
    cv_.notify_all();
  }
  /// Every row is prepared.
  void finish() { publish(n_); }
  /// The reader failed: every waiter, now or later, rethrows `e`.
  void fail(std::exception_ptr e) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!error_) error_ = e;
    }
    cv_.notify_all();
  }
  /// The consumer no longer needs rows: the reader stops at its next block.
  void cancel() { cancelled_.store(true, std::memory_order_release); }
  bool cancelled() const { return cancelled_.load(std::memory_order_acquire); }

  /// Rows prepared so far (acquire).
  std::int64_t ready() const { return ready_.load(std::memory_order_acquire); }

  /// As wait(), but gives up after `timeout`: returns whether the rows are there (so that a
  /// waiting consumer can notice a stop request).
  template <class Duration>
  bool wait_for(std::int64_t rows, Duration timeout) const {
    rows = std::min(rows, n_);
    std::unique_lock<std::mutex> lock(mu_);
    const bool ok = cv_.wait_for(
        lock, timeout, [&] { return error_ || ready_.load(std::memory_order_relaxed) >= rows; });
    if (error_) std::rethrow_exception(error_);
    return ok;
  }

  /// Block until rows below `rows` (capped at n) are prepared; rethrows the reader's failure.
  void wait(std::int64_t rows) const {
    while (!wait_for(rows, std::chrono::seconds(1))) {
    }
  }

 private:
  const std::int64_t n_;
  std::atomic<std::int64_t> ready_;
  std::atomic<bool> cancelled_{false};
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::exception_ptr error_;
};

/// Wait for rows below `rows` when `feed` is set (a run whose views are still being read),
/// checking `stop()` every 50 ms; returns false when it asked to stop first.
template <class Stop>
bool wait_rows(const row_feed* feed, std::int64_t rows, Stop stop) {
  if (!feed) return true;
  while (!feed->wait_for(rows, std::chrono::milliseconds(50)))
    if (stop()) return false;
  return true;
}

}  // namespace chorus
