// chorus ingest: per-account hashed feature counts, accumulated in bounded memory.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "chorus/ingest/count_matrix.hpp"

namespace chorus::ingest {

/// Per-account feature counts in bounded memory. Each batch becomes one run: its (account,
/// feature, count) cells sorted by account then feature, delta- and varint-encoded (about 2 bytes
/// a cell). Runs stay in memory until the budget is reached, then go as they are to a temporary
/// file in spill_dir (beyond 64 file runs, the smallest are merged); finish() merges all runs
/// row by row into the matrix. The result does not depend on the thread count or the budget.
/// Temporary files are unlinked as soon as they are opened, so none is left behind, whatever
/// happens.
class feature_counts {
 public:
  /// memory_budget_bytes: the most this object holds in RAM (besides a few fixed I/O buffers of
  /// at most a few MiB); beyond it sorted runs spill to temporary files in spill_dir.
  /// hash_bits in 1..32, threads >= 1.
  feature_counts(int hash_bits, std::size_t memory_budget_bytes, std::string spill_dir,
                 int threads);
  ~feature_counts();
  feature_counts(const feature_counts&) = delete;
  feature_counts& operator=(const feature_counts&) = delete;

  /// Adds one batch: post p belongs to account accounts[p] (any order) and has the features
  /// feats[offsets[p]..offsets[p+1]) (each < 2^hash_bits). Called from one thread, batch after
  /// batch; uses up to `threads` threads inside. input_error on inconsistent arrays.
  void add_batch(const std::vector<std::uint32_t>& accounts,
                 const std::vector<std::int64_t>& offsets, const std::vector<std::uint32_t>& feats);

  /// Ends input and returns the n_accounts x 2^hash_bits matrix (accounts never seen get empty
  /// rows; input_error if a seen account is >= n_accounts). It is in memory when it fits the
  /// budget, else in an unlinked temporary file in spill_dir read back in blocks; it stays valid
  /// while the returned object lives, independently of this one. Call once.
  std::unique_ptr<count_matrix> finish(std::int64_t n_accounts);

  /// Bytes written to spill files so far (runs and an on-disk result).
  std::int64_t bytes_spilled() const;

  /// Distinct (account, feature) entries held in memory runs now (for tests and progress).
  std::int64_t entries_in_memory() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// Keeps only the rows in `keep` (strictly ascending old row indices, each < m->rows()),
/// renumbered 0..k-1: a filtering view over `m`, which it shares. input_error on a bad `keep`.
std::unique_ptr<count_matrix> select_rows(std::shared_ptr<const count_matrix> m,
                                          std::vector<std::int64_t> keep);

}  // namespace chorus::ingest
