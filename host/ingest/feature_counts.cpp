// chorus ingest: per-account feature counts as sorted runs, one per batch, delta- and
// varint-encoded in memory and spilled raw to unlinked temporary files past the memory budget;
// runs are merged row by row (a dense per-row accumulator, no comparison merge of entries).
#include "chorus/ingest/feature_counts.hpp"

#include <fcntl.h>
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <functional>
#include <limits>
#include <utility>

#include "chorus/core/error.hpp"

namespace chorus::ingest {
namespace {

constexpr std::size_t kFanIn = 64;             // file runs merged at once (and kept at most)
constexpr std::int64_t kMaxBlockRows = 65536;  // rows per block of an on-disk matrix
constexpr int kDenseBits = 20;                 // up to this many hash bits rows use a dense array
constexpr std::size_t kMaxEntryBytes = 10;     // an encoded entry or group header, at most
constexpr std::uint32_t kMaxCount = std::numeric_limits<std::uint32_t>::max();
constexpr std::ptrdiff_t kPrefetch = 16;  // features ahead whose counts are prefetched

// Run format: groups in strictly ascending account order; a group is varint(account),
// varint(n), then n entries in strictly ascending feature order, each varint((f - prev) << 1 |
// (count > 1)) followed by varint(count) when count > 1 (prev starts at 0 in each group).

inline std::uint8_t* put_varint(std::uint8_t* p, std::uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<std::uint8_t>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<std::uint8_t>(v);
  return p;
}

inline const std::uint8_t* get_varint(const std::uint8_t* p, std::uint64_t& v) {
  std::uint64_t x = *p++;
  if (x < 0x80) {
    v = x;
    return p;
  }
  x &= 0x7F;
  for (int shift = 7;; shift += 7) {
    const std::uint64_t b = *p++;
    x |= (b & 0x7F) << shift;
    if (b < 0x80) break;
  }
  v = x;
  return p;
}

inline std::uint32_t add_saturated(std::uint32_t a, std::uint32_t b) {
  const std::uint32_t s = a + b;
  return s < a ? kMaxCount : s;
}

inline std::uint8_t* put_entry(std::uint8_t* p, std::uint32_t delta, std::uint32_t count) {
  p = put_varint(p, (std::uint64_t{delta} << 1) | (count > 1 ? 1u : 0u));
  return count > 1 ? put_varint(p, count) : p;
}

/// A growable byte buffer that keeps its memory between uses (no zero filling).
class byte_buffer {
 public:
  std::uint8_t* data() { return data_.get(); }
  std::size_t size() const { return size_; }
  std::size_t capacity() const { return cap_; }
  void clear() { size_ = 0; }
  /// Room for `more` bytes past size(); returns where they go.
  std::uint8_t* reserve_more(std::size_t more) {
    if (cap_ - size_ < more) {
      const std::size_t cap = std::max(size_ + more, cap_ + cap_ / 2);
      std::unique_ptr<std::uint8_t[]> d(new std::uint8_t[cap]);
      if (size_ > 0) std::memcpy(d.get(), data_.get(), size_);
      data_ = std::move(d);
      cap_ = cap;
    }
    return data_.get() + size_;
  }
  void set_end(const std::uint8_t* end) { size_ = static_cast<std::size_t>(end - data_.get()); }
  void release() {
    data_.reset();
    size_ = cap_ = 0;
  }

 private:
  std::unique_ptr<std::uint8_t[]> data_;
  std::size_t size_ = 0, cap_ = 0;
};

/// Sums the counts of one row (account) by feature and hands them out in ascending feature
/// order: a dense array of counts of type T with a two-level bitmap of touched features when
/// hash_bits is at most kDenseBits, else a list sorted at the end. Batches use 16-bit counts
/// (half the cache footprint) for rows of fewer than 2^16 - 1 features, merges 32-bit ones.
template <class T>
class row_accumulator {
 public:
  explicit row_accumulator(int hash_bits)
      : dense_(hash_bits <= kDenseBits),
        mask_(static_cast<std::uint32_t>((std::uint64_t{1} << hash_bits) - 1)) {
    if (!dense_) return;
    const std::size_t cols = std::size_t{1} << hash_bits;
    acc_.assign(cols, 0);
    words_.assign(std::max<std::size_t>(cols / 64, 1), 0);
    top_.assign((words_.size() + 63) / 64, 0);
  }
  std::size_t bytes() const {
    return acc_.capacity() * sizeof(T) + (words_.capacity() + top_.capacity()) * 8 +
           list_.capacity() * sizeof(list_[0]);
  }

  /// Counts each of [f, e) once (the row's total must stay below the largest T); features are
  /// taken modulo 2^hash_bits, and the bits of all of them are or-ed into `seen`.
  void add_ones(const std::uint32_t* f, const std::uint32_t* e, std::uint32_t& seen) {
    std::uint32_t all = 0;
    if (!dense_) {
      for (; f != e; ++f) {
        all |= *f;
        list_.emplace_back(*f & mask_, 1);
      }
      seen |= all;
      return;
    }
    T* acc = acc_.data();
    std::uint64_t* words = words_.data();
    std::uint64_t* top = top_.data();
    std::size_t fresh = 0;
    for (; f != e; ++f) {
      if (e - f > kPrefetch) __builtin_prefetch(acc + (f[kPrefetch] & mask_), 1);
      all |= *f;
      const std::uint32_t x = *f & mask_;
      const T a = acc[x];
      acc[x] = static_cast<T>(a + 1);
      fresh += a == 0;
      words[x >> 6] |= std::uint64_t{1} << (x & 63);
      top[x >> 12] |= std::uint64_t{1} << ((x >> 6) & 63);
    }
    distinct_ += fresh;
    seen |= all;
  }
  /// Adds count c to feature f (< 2^hash_bits), saturating at the largest T.
  void add(std::uint32_t x, std::uint32_t c) {
    if (!dense_) {
      list_.emplace_back(x, c);
      return;
    }
    const T a = acc_[x];
    const std::uint64_t sum = std::uint64_t{a} + c;
    acc_[x] = static_cast<T>(std::min<std::uint64_t>(sum, std::numeric_limits<T>::max()));
    distinct_ += a == 0;
    words_[x >> 6] |= std::uint64_t{1} << (x & 63);
    top_[x >> 12] |= std::uint64_t{1} << ((x >> 6) & 63);
  }
  /// Ends the row's input; returns its number of distinct features.
  std::size_t close_row() {
    if (dense_) return distinct_;
    std::sort(list_.begin(), list_.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    std::size_t n = 0;
    for (std::size_t i = 0; i < list_.size(); ++i) {
      if (n > 0 && list_[n - 1].first == list_[i].first) {
        list_[n - 1].second = add_saturated(list_[n - 1].second, list_[i].second);
      } else {
        list_[n++] = list_[i];
      }
    }
    list_.resize(n);
    return n;
  }

  /// After close_row: fn(feature, count) in ascending feature order; leaves the row empty.
  template <class Fn>
  void emit(Fn&& fn) {
    if (!dense_) {
      for (const auto& [f, c] : list_) fn(f, c);
      list_.clear();
      return;
    }
    for (std::size_t t = 0; t < top_.size(); ++t) {
      std::uint64_t tw = top_[t];
      top_[t] = 0;
      while (tw != 0) {
        const std::size_t w = t * 64 + static_cast<std::size_t>(__builtin_ctzll(tw));
        tw &= tw - 1;
        std::uint64_t bits = words_[w];
        words_[w] = 0;
        while (bits != 0) {
          const auto f = static_cast<std::uint32_t>(w * 64 + __builtin_ctzll(bits));
          bits &= bits - 1;
          fn(f, acc_[f]);
          acc_[f] = 0;
        }
      }
    }
    distinct_ = 0;
  }

 private:
  bool dense_;
  std::uint32_t mask_;
  std::vector<T> acc_;
  std::vector<std::uint64_t> words_, top_;
  std::size_t distinct_ = 0;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> list_;
};

/// Encodes rows: header then entries, into a byte_buffer.
class row_encoder {
 public:
  explicit row_encoder(byte_buffer& out) : out_(out) {}
  /// Starts a row of n entries (room is made for all of them).
  void begin_row(std::uint32_t account, std::uint64_t n) {
    if (p_ != nullptr) out_.set_end(p_);
    p_ = out_.reserve_more(2 * kMaxEntryBytes + n * kMaxEntryBytes);
    p_ = put_varint(p_, account);
    p_ = put_varint(p_, n);
    prev_ = 0;
  }
  void entry(std::uint32_t f, std::uint32_t c) {
    p_ = put_entry(p_, f - prev_, c);
    prev_ = f;
  }
  void done() {
    if (p_ != nullptr) out_.set_end(p_);
    p_ = nullptr;
  }

 private:
  byte_buffer& out_;
  std::uint8_t* p_ = nullptr;
  std::uint32_t prev_ = 0;
};

/// A temporary file in `dir`, unlinked as soon as it exists: it goes away with its descriptor.
class temp_file {
 public:
  explicit temp_file(const std::string& dir) {
    std::string path = (dir.empty() ? std::string(".") : dir) + "/chorus-ingest-XXXXXX";
    fd_ = ::mkstemp(path.data());
    if (fd_ < 0)
      CHORUS_THROW(input_error, "cannot create a temporary file in '", dir,
                   "': ", std::strerror(errno));
    ::unlink(path.c_str());
  }
  ~temp_file() { ::close(fd_); }
  temp_file(const temp_file&) = delete;
  temp_file& operator=(const temp_file&) = delete;

  /// Appends len bytes; returns the offset they start at.
  std::int64_t append(const void* data, std::size_t len) {
    const std::int64_t at = size_;
    const char* p = static_cast<const char*>(data);
    while (len > 0) {
      const ssize_t w = ::pwrite(fd_, p, len, static_cast<off_t>(size_));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) CHORUS_THROW(runtime_failure, "writing a temporary file: ", std::strerror(errno));
      p += w;
      len -= static_cast<std::size_t>(w);
      size_ += w;
    }
    return at;
  }
  void read(std::int64_t offset, void* data, std::size_t len) const {
    char* p = static_cast<char*>(data);
    while (len > 0) {
      const ssize_t r = ::pread(fd_, p, len, static_cast<off_t>(offset));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0)
        CHORUS_THROW(runtime_failure, "reading a temporary file: ",
                     r == 0 ? "unexpected end" : std::strerror(errno));
      p += r;
      len -= static_cast<std::size_t>(r);
      offset += r;
    }
  }
  std::int64_t size() const { return size_; }

 private:
  int fd_ = -1;
  std::int64_t size_ = 0;
};

/// A run held in memory (the encoded bytes of one batch).
struct mem_run {
  std::unique_ptr<std::uint8_t[]> bytes;
  std::size_t size = 0;
  std::int64_t groups = 0, entries = 0;
};

/// A run stored in a temporary file (several runs may share one file).
struct file_run {
  std::shared_ptr<temp_file> file;
  std::int64_t offset = 0, size = 0, groups = 0, entries = 0;
};

/// Writes encoded runs to a temporary file through a fixed buffer.
class file_run_writer {
 public:
  file_run_writer(std::shared_ptr<temp_file> f, std::size_t buffer_bytes)
      : f_(std::move(f)),
        cap_(std::max<std::size_t>(buffer_bytes, 4 * kMaxEntryBytes)),
        buf_(new std::uint8_t[cap_]),
        start_(f_->size()) {}
  void begin_row(std::uint32_t account, std::uint64_t n) {
    room();
    p_ = put_varint(put_varint(p_, account), n);
    prev_ = 0;
    ++groups_;
  }
  void entry(std::uint32_t f, std::uint32_t c) {
    room();
    p_ = put_entry(p_, f - prev_, c);
    prev_ = f;
    ++entries_;
  }
  /// Flushes and describes what was written.
  file_run done() {
    flush();
    return file_run{f_, start_, f_->size() - start_, groups_, entries_};
  }

 private:
  void room() {
    if (static_cast<std::size_t>(buf_.get() + cap_ - p_) < 2 * kMaxEntryBytes) flush();
  }
  void flush() {
    if (p_ != buf_.get()) f_->append(buf_.get(), static_cast<std::size_t>(p_ - buf_.get()));
    p_ = buf_.get();
  }
  std::shared_ptr<temp_file> f_;
  std::size_t cap_;
  std::unique_ptr<std::uint8_t[]> buf_;
  std::uint8_t* p_ = buf_.get();
  std::int64_t start_, groups_ = 0, entries_ = 0;
  std::uint32_t prev_ = 0;
};

/// Reads a run group by group: a memory run directly, a file run through a buffer.
class run_cursor {
 public:
  run_cursor(const mem_run& r) : p_(r.bytes.get()), end_(p_ + r.size), groups_left_(r.groups) {}
  run_cursor(const file_run& r, std::size_t buffer_bytes)
      : file_(r.file.get()),
        file_pos_(r.offset),
        file_left_(r.size),
        cap_(std::max<std::size_t>(buffer_bytes, 4 * kMaxEntryBytes)),
        buf_(new std::uint8_t[cap_]),
        groups_left_(r.groups) {
    p_ = end_ = buf_.get();
  }

  std::uint32_t account = 0;  ///< of the current group
  std::uint64_t left = 0;     ///< entries of the current group not read yet

  /// Moves to the next group; false at the end of the run.
  bool next_group() {
    if (groups_left_ == 0) return false;
    --groups_left_;
    ensure();
    std::uint64_t v;
    p_ = get_varint(p_, v);
    account = static_cast<std::uint32_t>(v);
    p_ = get_varint(p_, left);
    prev_ = 0;
    return true;
  }
  /// Reads the next entry of the current group (left > 0).
  void next_entry(std::uint32_t& f, std::uint32_t& c) {
    ensure();
    std::uint64_t v;
    p_ = get_varint(p_, v);
    f = prev_ + static_cast<std::uint32_t>(v >> 1);
    prev_ = f;
    if (v & 1) {
      p_ = get_varint(p_, v);
      c = static_cast<std::uint32_t>(v);
    } else {
      c = 1;
    }
    --left;
  }

 private:
  /// At least two encoded items are readable at p_ (or the run ends before).
  void ensure() {
    if (static_cast<std::size_t>(end_ - p_) >= 2 * kMaxEntryBytes || file_left_ == 0) return;
    const auto tail = static_cast<std::size_t>(end_ - p_);
    std::memmove(buf_.get(), p_, tail);
    const auto n = static_cast<std::size_t>(
        std::min<std::int64_t>(file_left_, static_cast<std::int64_t>(cap_ - tail)));
    file_->read(file_pos_, buf_.get() + tail, n);
    file_pos_ += static_cast<std::int64_t>(n);
    file_left_ -= static_cast<std::int64_t>(n);
    p_ = buf_.get();
    end_ = p_ + tail + n;
  }

  const std::uint8_t* p_ = nullptr;
  const std::uint8_t* end_ = nullptr;
  const temp_file* file_ = nullptr;
  std::int64_t file_pos_ = 0, file_left_ = 0;
  std::size_t cap_ = 0;
  std::unique_ptr<std::uint8_t[]> buf_;
  std::int64_t groups_left_ = 0;
  std::uint32_t prev_ = 0;
};

/// Merges runs row by row: out.begin_row(account, n) then n x out.entry(feature, count), rows in
/// ascending account order, features ascending, counts of equal cells summed (saturating). A row
/// found in one run only is passed through without the accumulator.
template <class Out>
void merge_rows(std::vector<run_cursor>& cs, row_accumulator<std::uint32_t>& acc, Out& out) {
  using item = std::pair<std::uint32_t, std::uint32_t>;  // account, cursor
  std::vector<item> heap;
  for (std::size_t i = 0; i < cs.size(); ++i)
    if (cs[i].next_group()) heap.emplace_back(cs[i].account, static_cast<std::uint32_t>(i));
  const auto later = [](const item& a, const item& b) { return a > b; };
  std::make_heap(heap.begin(), heap.end(), later);
  std::uint32_t f = 0, c = 0;
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), later);
    const std::uint32_t account = heap.back().first;
    run_cursor* cur = &cs[heap.back().second];
    if (heap.size() == 1 || heap.front().first != account) {  // one run has this row
      out.begin_row(account, cur->left);
      while (cur->left > 0) {
        cur->next_entry(f, c);
        out.entry(f, c);
      }
    } else {
      while (true) {
        while (cur->left > 0) {
          cur->next_entry(f, c);
          acc.add(f, c);
        }
        if (heap.size() == 1 || heap.front().first != account) break;
        if (cur->next_group()) {
          heap.back().first = cur->account;
          std::push_heap(heap.begin(), heap.end(), later);
        } else {
          heap.pop_back();
        }
        std::pop_heap(heap.begin(), heap.end(), later);
        cur = &cs[heap.back().second];
      }
      out.begin_row(account, acc.close_row());
      acc.emit([&](std::uint32_t ff, std::uint32_t cc) { out.entry(ff, cc); });
    }
    if (cur->next_group()) {
      heap.back().first = cur->account;
      std::push_heap(heap.begin(), heap.end(), later);
    } else {
      heap.pop_back();
    }
  }
}

/// An account x feature matrix in an unlinked file of (col, count) pairs, read in row blocks.
class disk_count_matrix final : public count_matrix {
 public:
  disk_count_matrix(std::unique_ptr<temp_file> file, std::int64_t cols,
                    std::vector<std::int64_t> offsets, std::int64_t block_nnz)
      : file_(std::move(file)), cols_(cols), offsets_(std::move(offsets)), block_nnz_(block_nnz) {}
  std::int64_t rows() const override { return static_cast<std::int64_t>(offsets_.size()) - 1; }
  std::int64_t cols() const override { return cols_; }
  std::int64_t nnz() const override { return offsets_.back(); }
  void for_each_block(const std::function<void(const count_block&)>& fn) const override {
    std::vector<std::int64_t> rel;
    std::vector<std::uint32_t> pairs, colidx, counts;
    for (std::int64_t b = 0; b < rows();) {
      std::int64_t e = b + 1;  // at least one row, however long
      while (e < rows() && e - b < kMaxBlockRows && offsets_[e + 1] - offsets_[b] <= block_nnz_)
        ++e;
      const auto nz = static_cast<std::size_t>(offsets_[e] - offsets_[b]);
      pairs.resize(2 * nz);
      if (nz > 0) file_->read(offsets_[b] * 8, pairs.data(), nz * 8);
      colidx.resize(nz);
      counts.resize(nz);
      for (std::size_t i = 0; i < nz; ++i) {
        colidx[i] = pairs[2 * i];
        counts[i] = pairs[2 * i + 1];
      }
      rel.assign(offsets_.begin() + b, offsets_.begin() + e + 1);
      for (auto& o : rel) o -= offsets_[b];
      fn(count_block{b, e, rel.data(), colidx.data(), counts.data()});
      b = e;
    }
  }

 private:
  std::unique_ptr<temp_file> file_;
  std::int64_t cols_;
  std::vector<std::int64_t> offsets_;
  std::int64_t block_nnz_;
};

/// A view of the rows `keep` of another matrix.
class selected_rows final : public count_matrix {
 public:
  selected_rows(std::shared_ptr<const count_matrix> m, std::vector<std::int64_t> keep)
      : m_(std::move(m)), keep_(std::move(keep)) {
    m_->for_each_block([&](const count_block& b) {  // counts only, nothing copied
      const auto first = std::lower_bound(keep_.begin(), keep_.end(), b.row_begin);
      const auto last = std::lower_bound(first, keep_.end(), b.row_end);
      for (auto it = first; it != last; ++it)
        nnz_ += b.offsets[*it - b.row_begin + 1] - b.offsets[*it - b.row_begin];
    });
  }
  std::int64_t rows() const override { return static_cast<std::int64_t>(keep_.size()); }
  std::int64_t cols() const override { return m_->cols(); }
  std::int64_t nnz() const override { return nnz_; }
  void for_each_block(const std::function<void(const count_block&)>& fn) const override {
    m_->for_each_block([&](const count_block& b) { visit(b, fn); });
  }

 private:
  /// Hands fn the kept rows of block b (nothing when none is kept).
  template <class Fn>
  void visit(const count_block& b, Fn&& fn) const {
    const auto first = std::lower_bound(keep_.begin(), keep_.end(), b.row_begin);
    const auto last = std::lower_bound(first, keep_.end(), b.row_end);
    if (first == last) return;
    std::vector<std::int64_t> off{0};
    std::vector<std::uint32_t> colidx, counts;
    for (auto it = first; it != last; ++it) {
      const std::int64_t r = *it - b.row_begin;
      colidx.insert(colidx.end(), b.cols + b.offsets[r], b.cols + b.offsets[r + 1]);
      counts.insert(counts.end(), b.counts + b.offsets[r], b.counts + b.offsets[r + 1]);
      off.push_back(static_cast<std::int64_t>(colidx.size()));
    }
    const std::int64_t row0 = first - keep_.begin();
    fn(count_block{row0, row0 + (last - first), off.data(), colidx.data(), counts.data()});
  }

  std::shared_ptr<const count_matrix> m_;
  std::vector<std::int64_t> keep_;
  std::int64_t nnz_ = 0;
};

/// The result of finish as it is built: in memory while it fits `room` entries, else in a file.
class csr_builder {
 public:
  csr_builder(std::int64_t n_accounts, std::size_t room, std::size_t upper, std::size_t pair_buffer,
              const std::string& spill_dir)
      : offsets_(static_cast<std::size_t>(n_accounts) + 1, 0),
        room_(room),
        pair_buffer_(std::max<std::size_t>(pair_buffer, 1024)),
        spill_dir_(spill_dir) {
    colidx_.reserve(std::min(room, upper));
    counts_.reserve(std::min(room, upper));
  }
  void begin_row(std::uint32_t account, std::uint64_t n) {
    offsets_[std::size_t{account} + 1] = static_cast<std::int64_t>(n);
  }
  void entry(std::uint32_t f, std::uint32_t c) {
    if (!file_ && colidx_.size() < room_) {
      colidx_.push_back(f);
      counts_.push_back(c);
      return;
    }
    if (!file_) to_file();
    pairs_.push_back(f);
    pairs_.push_back(c);
    if (pairs_.size() >= 2 * pair_buffer_) flush_pairs();
  }
  std::unique_ptr<count_matrix> done(int hash_bits, std::size_t budget, std::int64_t& spilled) {
    for (std::size_t r = 1; r < offsets_.size(); ++r) offsets_[r] += offsets_[r - 1];
    const std::int64_t n_cols = std::int64_t{1} << hash_bits;
    if (!file_)
      return std::make_unique<memory_count_matrix>(n_cols, std::move(offsets_), std::move(colidx_),
                                                   std::move(counts_));
    flush_pairs();
    spilled += file_->size();
    const auto block_nnz = static_cast<std::int64_t>(std::max<std::size_t>(budget / 16, 1u << 16));
    return std::make_unique<disk_count_matrix>(std::move(file_), n_cols, std::move(offsets_),
                                               block_nnz);
  }

 private:
  /// Over the budget: what is held goes to the file first.
  void to_file() {
    file_ = std::make_unique<temp_file>(spill_dir_);
    for (std::size_t i = 0; i < colidx_.size(); ++i) {
      pairs_.push_back(colidx_[i]);
      pairs_.push_back(counts_[i]);
      if (pairs_.size() >= 2 * pair_buffer_) flush_pairs();
    }
    std::vector<std::uint32_t>().swap(colidx_);
    std::vector<std::uint32_t>().swap(counts_);
  }
  void flush_pairs() {
    if (!pairs_.empty()) file_->append(pairs_.data(), pairs_.size() * 4);
    pairs_.clear();
  }
  std::vector<std::int64_t> offsets_;
  std::vector<std::uint32_t> colidx_, counts_, pairs_;
  std::size_t room_, pair_buffer_;
  const std::string& spill_dir_;
  std::unique_ptr<temp_file> file_;
};

}  // namespace

struct feature_counts::impl {
  int hash_bits = 0;
  std::size_t budget = 0;
  std::string spill_dir;
  int threads = 1;
  std::vector<mem_run> runs;    // in memory, one per batch since the last spill
  std::vector<file_run> files;  // spilled
  std::size_t run_bytes = 0;
  // batch scratch, kept between batches
  std::vector<std::uint64_t> order;  // account << 32 | post, sorted
  std::vector<std::unique_ptr<row_accumulator<std::uint16_t>>> accs;  // one per thread
  std::unique_ptr<row_accumulator<std::uint32_t>> merge_acc;
  std::vector<std::uint32_t> row_max;  // most entries of any run's group, by account
  bool row_max_valid = true;           // false after a failed batch
  std::vector<byte_buffer> parts;
  std::int64_t spilled = 0;
  std::int64_t max_account = -1;
  bool finished = false;

  std::size_t scratch_bytes() const {
    std::size_t b = order.capacity() * 8;
    for (const auto& a : accs) b += a->bytes();
    if (merge_acc) b += merge_acc->bytes();
    b += row_max.capacity() * 4;
    for (const auto& p : parts) b += p.capacity();
    return b;
  }
  std::size_t io_buffer_bytes() const {
    return std::clamp<std::size_t>(budget / 8, std::size_t{64} << 10, std::size_t{1} << 20);
  }
  /// Read buffer of each of k file cursors read at once.
  std::size_t cursor_buffer_bytes(std::size_t k) const {
    return std::clamp<std::size_t>(budget / (4 * (k + 1)), std::size_t{64} << 10,
                                   std::size_t{4} << 20);
  }
  row_accumulator<std::uint32_t>& merge_accumulator() {
    if (!merge_acc) merge_acc = std::make_unique<row_accumulator<std::uint32_t>>(hash_bits);
    return *merge_acc;
  }

  void check_batch(const std::vector<std::uint32_t>& accounts,
                   const std::vector<std::int64_t>& offsets,
                   const std::vector<std::uint32_t>& feats) const;
  void sort_posts(const std::vector<std::uint32_t>& accounts,
                  const std::vector<std::int64_t>& offsets);
  void encode_groups(std::size_t begin, std::size_t end, const std::vector<std::int64_t>& offsets,
                     const std::vector<std::uint32_t>& feats, row_accumulator<std::uint16_t>& acc,
                     byte_buffer& out, std::int64_t& groups, std::int64_t& entries,
                     std::uint32_t& seen);
  void spill();
  void limit_files(std::size_t max_files);
};

void feature_counts::impl::check_batch(const std::vector<std::uint32_t>& accounts,
                                       const std::vector<std::int64_t>& offsets,
                                       const std::vector<std::uint32_t>& feats) const {
  CHORUS_EXPECTS(offsets.size() == accounts.size() + 1 && offsets[0] == 0 &&
                     offsets.back() == static_cast<std::int64_t>(feats.size()),
                 "feature batch: offsets must have one entry per post plus one, from 0 to the "
                 "number of features");
  std::int64_t bad = 0;
  for (std::size_t p = 0; p < accounts.size(); ++p) bad += offsets[p] > offsets[p + 1];
  CHORUS_EXPECTS(bad == 0, "feature batch: offsets must not decrease");
}

/// order = the posts with features, by account (then post).
void feature_counts::impl::sort_posts(const std::vector<std::uint32_t>& accounts,
                                      const std::vector<std::int64_t>& offsets) {
  order.clear();
  for (std::size_t p = 0; p < accounts.size(); ++p)
    if (offsets[p + 1] > offsets[p]) order.push_back(std::uint64_t{accounts[p]} << 32 | p);
  if (!std::is_sorted(order.begin(), order.end())) std::sort(order.begin(), order.end());
}

/// Prefetches the first features of post p (posts are visited out of order).
inline void prefetch_post(std::uint32_t p, const std::vector<std::int64_t>& offsets,
                          const std::vector<std::uint32_t>& feats) {
  const std::uint32_t* f = feats.data() + offsets[p];
  const std::int64_t n = std::min<std::int64_t>(offsets[p + 1] - offsets[p], 256);
  for (std::int64_t k = 0; k < n; k += 16) __builtin_prefetch(f + k);
}

/// Encodes the account groups in order[begin, end) into `out`; ors all features into `seen`.
void feature_counts::impl::encode_groups(std::size_t begin, std::size_t end,
                                         const std::vector<std::int64_t>& offsets,
                                         const std::vector<std::uint32_t>& feats,
                                         row_accumulator<std::uint16_t>& acc, byte_buffer& out,
                                         std::int64_t& groups, std::int64_t& entries,
                                         std::uint32_t& seen) {
  out.clear();
  row_encoder enc(out);
  std::unique_ptr<row_accumulator<std::uint32_t>> big;  // for rows of 2^16 - 1 features or more
  const auto emit = [&](std::uint32_t f, std::uint32_t c) { enc.entry(f, c); };
  for (std::size_t i = begin; i < end;) {
    const auto account = static_cast<std::uint32_t>(order[i] >> 32);
    std::size_t j = i;
    std::int64_t total = 0;
    for (; j < end && order[j] >> 32 == account; ++j) {
      const auto p = static_cast<std::uint32_t>(order[j]);
      total += offsets[p + 1] - offsets[p];
    }
    std::size_t n = 0;
    if (total < std::numeric_limits<std::uint16_t>::max()) {
      for (std::size_t k = i; k < j; ++k) {
        const auto p = static_cast<std::uint32_t>(order[k]);
        if (k + 1 < end) prefetch_post(static_cast<std::uint32_t>(order[k + 1]), offsets, feats);
        acc.add_ones(feats.data() + offsets[p], feats.data() + offsets[p + 1], seen);
      }
      n = acc.close_row();
      enc.begin_row(account, n);
      acc.emit(emit);
    } else {
      if (!big) big = std::make_unique<row_accumulator<std::uint32_t>>(hash_bits);
      const std::uint32_t mask = static_cast<std::uint32_t>((std::uint64_t{1} << hash_bits) - 1);
      for (std::size_t k = i; k < j; ++k) {
        const auto p = static_cast<std::uint32_t>(order[k]);
        for (std::int64_t q = offsets[p]; q < offsets[p + 1]; ++q) {
          seen |= feats[q];
          big->add(feats[q] & mask, 1);
        }
      }
      n = big->close_row();
      enc.begin_row(account, n);
      big->emit(emit);
    }
    ++groups;
    entries += static_cast<std::int64_t>(n);
    // parts cover disjoint accounts, so threads write disjoint elements
    row_max[account] =
        std::max(row_max[account], static_cast<std::uint32_t>(std::min<std::size_t>(n, kMaxCount)));
    i = j;
  }
  enc.done();
}

/// Writes the memory runs, as they are, to a new temporary file.
void feature_counts::impl::spill() {
  if (runs.empty()) return;
  auto file = std::make_shared<temp_file>(spill_dir);
  for (const mem_run& r : runs) {
    const std::int64_t at = file->append(r.bytes.get(), r.size);
    files.push_back(file_run{file, at, static_cast<std::int64_t>(r.size), r.groups, r.entries});
  }
  spilled += file->size();
  std::vector<mem_run>().swap(runs);
  run_bytes = 0;
  limit_files(kFanIn);
}

/// Merges the smallest file runs, kFanIn at most at once, until at most max_files remain.
void feature_counts::impl::limit_files(std::size_t max_files) {
  while (files.size() > max_files) {
    std::sort(files.begin(), files.end(),
              [](const file_run& a, const file_run& b) { return a.size < b.size; });
    const std::size_t take = std::min(kFanIn, files.size() - max_files + 1);
    std::vector<run_cursor> cs;
    cs.reserve(take);
    for (std::size_t i = 0; i < take; ++i) cs.emplace_back(files[i], cursor_buffer_bytes(take));
    file_run_writer w(std::make_shared<temp_file>(spill_dir), io_buffer_bytes());
    merge_rows(cs, merge_accumulator(), w);
    file_run out = w.done();
    spilled += out.size;
    cs.clear();
    files.erase(files.begin(), files.begin() + static_cast<std::ptrdiff_t>(take));
    files.push_back(std::move(out));
  }
}

feature_counts::feature_counts(int hash_bits, std::size_t memory_budget_bytes,
                               std::string spill_dir, int threads)
    : impl_(std::make_unique<impl>()) {
  CHORUS_EXPECTS(hash_bits >= 1 && hash_bits <= 32, "feature hash bits must be in 1..32, got ",
                 hash_bits);
  CHORUS_EXPECTS(threads >= 1, "threads must be at least 1, got ", threads);
  impl_->hash_bits = hash_bits;
  impl_->budget = memory_budget_bytes;
  impl_->spill_dir = std::move(spill_dir);
  impl_->threads = threads;
}

feature_counts::~feature_counts() = default;

void feature_counts::add_batch(const std::vector<std::uint32_t>& accounts,
                               const std::vector<std::int64_t>& offsets,
                               const std::vector<std::uint32_t>& feats) {
  impl& s = *impl_;
  CHORUS_ENSURES(!s.finished, "add_batch after finish");
  s.check_batch(accounts, offsets, feats);
  s.sort_posts(accounts, offsets);
  if (s.order.empty()) return;
  // split the groups into parts of about equal feature counts, one per thread
  const std::size_t parts =
      feats.size() < (std::size_t{1} << 16) ? 1 : static_cast<std::size_t>(s.threads);
  std::vector<std::size_t> cut(parts + 1, s.order.size());
  cut[0] = 0;
  for (std::size_t k = 1, i = 0, seen = 0; k < parts; ++k) {
    const std::size_t want = feats.size() * k / parts;
    while (i < s.order.size() && seen < want) {
      const auto p = static_cast<std::uint32_t>(s.order[i++]);
      seen += static_cast<std::size_t>(offsets[p + 1] - offsets[p]);
    }
    while (i < s.order.size() && i > 0 && s.order[i] >> 32 == s.order[i - 1] >> 32) ++i;
    cut[k] = std::max(i, cut[k - 1]);
  }
  if (s.parts.size() < parts) s.parts.resize(parts);
  while (s.accs.size() < parts)
    s.accs.push_back(std::make_unique<row_accumulator<std::uint16_t>>(s.hash_bits));
  std::vector<std::int64_t> groups(parts, 0), entries(parts, 0);
  std::vector<std::uint32_t> seen(parts, 0);
  if (s.row_max.size() <= s.order.back() >> 32) s.row_max.resize((s.order.back() >> 32) + 1, 0);
  std::vector<std::exception_ptr> failed(parts);
  const int n_parts = static_cast<int>(parts);
#pragma omp parallel for num_threads(n_parts) schedule(static, 1)
  for (int k = 0; k < n_parts; ++k) {
    try {
      s.encode_groups(cut[k], cut[k + 1], offsets, feats, *s.accs[k], s.parts[k], groups[k],
                      entries[k], seen[k]);
    } catch (...) {  // nothing may leave an OpenMP region
      failed[k] = std::current_exception();
    }
  }
  std::uint32_t all = 0;
  for (const std::uint32_t v : seen) all |= v;
  const bool any_failed =
      std::any_of(failed.begin(), failed.end(), [](const auto& e) { return e; });
  if (std::uint64_t{all} >> s.hash_bits != 0 || any_failed)
    s.row_max_valid = false;  // some groups of this batch may have been noted
  for (const auto& e : failed)
    if (e) std::rethrow_exception(e);
  CHORUS_EXPECTS(std::uint64_t{all} >> s.hash_bits == 0, "feature batch: features must be below 2^",
                 s.hash_bits);
  s.max_account =
      std::max<std::int64_t>(s.max_account, static_cast<std::int64_t>(s.order.back() >> 32));
  mem_run run;
  for (std::size_t k = 0; k < parts; ++k) {
    run.size += s.parts[k].size();
    run.groups += groups[k];
    run.entries += entries[k];
  }
  run.bytes.reset(new std::uint8_t[std::max<std::size_t>(run.size, 1)]);
  for (std::size_t k = 0, at = 0; k < parts; at += s.parts[k++].size())
    if (s.parts[k].size() > 0)
      std::memcpy(run.bytes.get() + at, s.parts[k].data(), s.parts[k].size());
  s.run_bytes += run.size;
  s.runs.push_back(std::move(run));
  if (s.run_bytes + s.scratch_bytes() > s.budget) s.spill();
}

std::unique_ptr<count_matrix> feature_counts::finish(std::int64_t n_accounts) {
  impl& s = *impl_;
  CHORUS_ENSURES(!s.finished, "finish called twice");
  CHORUS_EXPECTS(n_accounts > s.max_account, "feature counts: account ", s.max_account,
                 " seen but only ", n_accounts, " accounts");
  s.finished = true;
  std::vector<std::uint64_t>().swap(s.order);
  std::vector<byte_buffer>().swap(s.parts);
  s.accs.clear();
  s.limit_files(kFanIn);
  std::vector<run_cursor> cs;
  cs.reserve(s.runs.size() + s.files.size());
  std::size_t upper = 0;
  for (const auto& r : s.runs) {
    cs.emplace_back(r);
    upper += static_cast<std::size_t>(r.entries);
  }
  for (const auto& f : s.files) {
    cs.emplace_back(f, s.cursor_buffer_bytes(s.files.size()));
    upper += static_cast<std::size_t>(f.entries);
  }
  // the CSR stays in memory while it fits what the budget leaves, else goes to a file
  const std::size_t rows_bytes = static_cast<std::size_t>(n_accounts + 1) * 8;
  const std::size_t held = s.run_bytes + rows_bytes;
  std::size_t room = s.budget > held ? (s.budget - held) / 8 : 0;
  std::size_t lower = 0;  // no fewer cells than the largest group of each row
  if (s.row_max_valid)
    for (const std::uint32_t n : s.row_max) lower += n;
  std::vector<std::uint32_t>().swap(s.row_max);
  if (lower > room) room = 0;  // it cannot fit: straight to the file
  csr_builder out(n_accounts, room, upper, s.io_buffer_bytes() / 8, s.spill_dir);
  merge_rows(cs, s.merge_accumulator(), out);
  cs.clear();
  std::vector<mem_run>().swap(s.runs);
  s.run_bytes = 0;
  s.files.clear();
  s.merge_acc.reset();
  return out.done(s.hash_bits, s.budget, s.spilled);
}

std::int64_t feature_counts::bytes_spilled() const { return impl_->spilled; }

std::int64_t feature_counts::entries_in_memory() const {
  std::int64_t n = 0;
  for (const auto& r : impl_->runs) n += r.entries;
  return n;
}

std::unique_ptr<count_matrix> select_rows(std::shared_ptr<const count_matrix> m,
                                          std::vector<std::int64_t> keep) {
  CHORUS_EXPECTS(m != nullptr, "select_rows: no matrix");
  for (std::size_t i = 0; i < keep.size(); ++i)
    CHORUS_EXPECTS(keep[i] >= 0 && keep[i] < m->rows() && (i == 0 || keep[i] > keep[i - 1]),
                   "select_rows: row indices must be ascending, unique and below ", m->rows());
  return std::make_unique<selected_rows>(std::move(m), std::move(keep));
}

}  // namespace chorus::ingest
