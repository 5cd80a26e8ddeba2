// chorus ingest: the account x feature count matrix, read in row blocks (in memory or on disk).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

namespace chorus::ingest {

/// A block of consecutive rows [row_begin, row_end) in CSR form. offsets has
/// row_end - row_begin + 1 entries, starting at 0 (relative to this block's cols/counts);
/// cols are ascending within a row and unique; counts are > 0.
struct count_block {
  std::int64_t row_begin = 0, row_end = 0;
  const std::int64_t* offsets = nullptr;
  const std::uint32_t* cols = nullptr;
  const std::uint32_t* counts = nullptr;
};

/// Account x feature counts. for_each_block visits every row once, in row order, in blocks;
/// it may be called any number of times (each call is one pass over the matrix).
class count_matrix {
 public:
  virtual ~count_matrix() = default;
  virtual std::int64_t rows() const = 0;
  virtual std::int64_t cols() const = 0;  ///< feature space size (2^hash_bits)
  virtual std::int64_t nnz() const = 0;
  virtual void for_each_block(const std::function<void(const count_block&)>& fn) const = 0;
};

/// The whole matrix in memory, handed out as blocks of at most block_rows rows.
class memory_count_matrix final : public count_matrix {
 public:
  memory_count_matrix(std::int64_t cols, std::vector<std::int64_t> offsets,
                      std::vector<std::uint32_t> colidx, std::vector<std::uint32_t> counts,
                      std::int64_t block_rows = 65536)
      : cols_(cols),
        offsets_(std::move(offsets)),
        colidx_(std::move(colidx)),
        counts_(std::move(counts)),
        block_rows_(block_rows) {}
  std::int64_t rows() const override { return static_cast<std::int64_t>(offsets_.size()) - 1; }
  std::int64_t cols() const override { return cols_; }
  std::int64_t nnz() const override { return offsets_.empty() ? 0 : offsets_.back(); }
  void for_each_block(const std::function<void(const count_block&)>& fn) const override {
    std::vector<std::int64_t> rel;
    for (std::int64_t b = 0; b < rows(); b += block_rows_) {
      const std::int64_t e = b + block_rows_ < rows() ? b + block_rows_ : rows();
      rel.assign(offsets_.begin() + b, offsets_.begin() + e + 1);
      for (auto& o : rel) o -= offsets_[b];
      fn(count_block{b, e, rel.data(), colidx_.data() + offsets_[b], counts_.data() + offsets_[b]});
    }
  }

 private:
  std::int64_t cols_;
  std::vector<std::int64_t> offsets_;
  std::vector<std::uint32_t> colidx_, counts_;
  std::int64_t block_rows_;
};

}  // namespace chorus::ingest
