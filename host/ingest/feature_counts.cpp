// chorus ingest: per-account feature counts as sorted runs of (account:feature, count), merged in
// memory and spilled to unlinked temporary files past the memory budget.
#include "chorus/ingest/feature_counts.hpp"

#include <fcntl.h>
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <utility>

#include "chorus/core/error.hpp"

namespace chorus::ingest {
namespace {

constexpr std::size_t kRecordBytes = 12;       // a run file record: key (8 bytes), count (4)
constexpr std::size_t kFanIn = 16;             // run files merged at once
constexpr std::int64_t kMaxBlockRows = 65536;  // rows per block of an on-disk matrix

std::uint32_t saturate(std::uint64_t v) {
  return v > std::numeric_limits<std::uint32_t>::max() ? std::numeric_limits<std::uint32_t>::max()
                                                       : static_cast<std::uint32_t>(v);
}

int bit_width(std::uint64_t v) {
  int b = 0;
  while (v != 0) {
    ++b;
    v >>= 1;
  }
  return b;
}

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

/// A sorted run held in memory: unique ascending keys and their counts.
struct mem_run {
  std::vector<std::uint64_t> keys;
  std::vector<std::uint32_t> counts;
  std::size_t size() const { return keys.size(); }
  std::size_t bytes() const { return keys.capacity() * 8 + counts.capacity() * 4; }
};

/// A sorted run in a file of 12-byte records.
struct file_run {
  std::unique_ptr<temp_file> file;
  std::int64_t entries = 0;
  int level = 0;  // how many merges of level-0 spills it went through
};

/// Buffered writer of run records.
class run_writer {
 public:
  run_writer(temp_file& f, std::size_t buffer_bytes)
      : f_(f), buf_(std::max<std::size_t>(buffer_bytes / kRecordBytes, 1) * kRecordBytes) {}
  void put(std::uint64_t key, std::uint32_t count) {
    std::memcpy(buf_.data() + used_, &key, 8);
    std::memcpy(buf_.data() + used_ + 8, &count, 4);
    used_ += kRecordBytes;
    ++entries_;
    if (used_ == buf_.size()) flush();
  }
  void flush() {
    if (used_ > 0) f_.append(buf_.data(), used_);
    used_ = 0;
  }
  std::int64_t entries() const { return entries_; }

 private:
  temp_file& f_;
  std::vector<char> buf_;
  std::size_t used_ = 0;
  std::int64_t entries_ = 0;
};

/// A position in a sorted sequence of (key, count): a memory slice, or a run file read in chunks.
struct cursor {
  const std::uint64_t* k = nullptr;
  const std::uint32_t* c = nullptr;
  std::size_t pos = 0, end = 0;
  // file-backed cursors only
  const temp_file* file = nullptr;
  std::int64_t next_record = 0, records_left = 0;
  std::size_t chunk = 0;
  std::vector<std::uint64_t> kb;
  std::vector<std::uint32_t> cb;
  std::vector<char> raw;

  bool valid() const { return pos < end; }
  /// Moves on; false when exhausted.
  bool advance() { return ++pos < end || refill(); }
  bool refill() {
    if (file == nullptr || records_left == 0) return false;
    const std::size_t n = static_cast<std::size_t>(
        std::min<std::int64_t>(records_left, static_cast<std::int64_t>(chunk)));
    raw.resize(n * kRecordBytes);
    kb.resize(n);
    cb.resize(n);
    file->read(next_record * static_cast<std::int64_t>(kRecordBytes), raw.data(), raw.size());
    for (std::size_t i = 0; i < n; ++i) {
      std::memcpy(&kb[i], raw.data() + i * kRecordBytes, 8);
      std::memcpy(&cb[i], raw.data() + i * kRecordBytes + 8, 4);
    }
    next_record += static_cast<std::int64_t>(n);
    records_left -= static_cast<std::int64_t>(n);
    k = kb.data();
    c = cb.data();
    pos = 0;
    end = n;
    return true;
  }
};

cursor memory_cursor(const std::uint64_t* k, const std::uint32_t* c, std::size_t n) {
  cursor cur;
  cur.k = k;
  cur.c = c;
  cur.end = n;
  return cur;
}

cursor file_cursor(const file_run& r, std::size_t chunk) {
  cursor cur;
  cur.file = r.file.get();
  cur.records_left = r.entries;
  cur.chunk = chunk;
  cur.refill();
  return cur;
}

/// Merges sorted cursors, summing equal keys; emit(key, count) sees unique ascending keys.
template <class Emit>
void merge_cursors(std::vector<cursor>& cs, Emit&& emit) {
  using item = std::pair<std::uint64_t, std::size_t>;  // current key, cursor
  std::vector<item> heap;
  for (std::size_t i = 0; i < cs.size(); ++i)
    if (cs[i].valid()) heap.emplace_back(cs[i].k[cs[i].pos], i);
  const auto later = [](const item& a, const item& b) { return a.first > b.first; };
  std::make_heap(heap.begin(), heap.end(), later);
  bool have = false;
  std::uint64_t cur = 0, acc = 0;
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), later);
    const auto [key, i] = heap.back();
    heap.pop_back();
    cursor& cs_i = cs[i];
    // take the whole stretch of this cursor below the next smallest key
    const std::uint64_t limit =
        heap.empty() ? std::numeric_limits<std::uint64_t>::max() : heap.front().first;
    std::uint64_t k = key;
    bool more = true;
    while (true) {
      const std::uint32_t c = cs_i.c[cs_i.pos];
      if (have && k == cur) {
        acc += c;
      } else {
        if (have) emit(cur, saturate(acc));
        cur = k;
        acc = c;
        have = true;
      }
      if (!cs_i.advance()) {
        more = false;
        break;
      }
      k = cs_i.k[cs_i.pos];
      if (k > limit) break;
    }
    if (more) {
      heap.emplace_back(k, i);
      std::push_heap(heap.begin(), heap.end(), later);
    }
  }
  if (have) emit(cur, saturate(acc));
}

/// Merges two in-memory cursors (unique keys each), summing equal keys.
template <class Emit>
void merge_two(const cursor& a, const cursor& b, Emit&& emit) {
  std::size_t i = a.pos, j = b.pos;
  while (i < a.end && j < b.end) {
    const std::uint64_t ka = a.k[i], kb = b.k[j];
    if (ka < kb) {
      emit(ka, a.c[i++]);
    } else if (kb < ka) {
      emit(kb, b.c[j++]);
    } else {
      emit(ka, saturate(std::uint64_t{a.c[i++]} + b.c[j++]));
    }
  }
  for (; i < a.end; ++i) emit(a.k[i], a.c[i]);
  for (; j < b.end; ++j) emit(b.k[j], b.c[j]);
}

/// Merges in-memory runs into one, split by key range across `threads` threads.
mem_run merge_memory_runs(const std::vector<const mem_run*>& runs, int threads) {
  std::size_t total = 0, largest = 0;
  for (std::size_t r = 0; r < runs.size(); ++r) {
    total += runs[r]->size();
    if (runs[r]->size() > runs[largest]->size()) largest = r;
  }
  const int parts = total < (1u << 16) ? 1 : threads;
  // part p covers keys [split[p], split[p+1]); splitters are keys of the largest run
  std::vector<std::uint64_t> split(static_cast<std::size_t>(parts) + 1, 0);
  split[static_cast<std::size_t>(parts)] = std::numeric_limits<std::uint64_t>::max();
  for (int p = 1; p < parts; ++p)
    split[static_cast<std::size_t>(p)] =
        runs[largest]->keys[runs[largest]->size() * static_cast<std::size_t>(p) /
                            static_cast<std::size_t>(parts)];
  std::vector<mem_run> piece(static_cast<std::size_t>(parts));
#pragma omp parallel for num_threads(parts) schedule(static, 1)
  for (int p = 0; p < parts; ++p) {
    std::vector<cursor> cs;
    std::size_t bound = 0;
    for (const mem_run* r : runs) {
      const auto lo = std::lower_bound(r->keys.begin(), r->keys.end(), split[p]) - r->keys.begin();
      const auto hi =
          p + 1 == parts
              ? static_cast<std::ptrdiff_t>(r->size())
              : std::lower_bound(r->keys.begin(), r->keys.end(), split[p + 1]) - r->keys.begin();
      cs.push_back(memory_cursor(r->keys.data() + lo, r->counts.data() + lo,
                                 static_cast<std::size_t>(hi - lo)));
      bound += static_cast<std::size_t>(hi - lo);
    }
    mem_run& out = piece[static_cast<std::size_t>(p)];
    out.keys.resize(bound);
    out.counts.resize(bound);
    std::size_t n = 0;
    const auto emit = [&](std::uint64_t k, std::uint32_t c) {
      out.keys[n] = k;
      out.counts[n++] = c;
    };
    if (cs.size() == 2) {
      merge_two(cs[0], cs[1], emit);
    } else {
      merge_cursors(cs, emit);
    }
    out.keys.resize(n);
    out.counts.resize(n);
  }
  if (parts == 1) return std::move(piece[0]);
  std::vector<std::size_t> at(static_cast<std::size_t>(parts) + 1, 0);
  for (int p = 0; p < parts; ++p) at[p + 1] = at[p] + piece[p].size();
  mem_run out;
  out.keys.resize(at.back());
  out.counts.resize(at.back());
#pragma omp parallel for num_threads(parts) schedule(static, 1)
  for (int p = 0; p < parts; ++p) {
    std::copy(piece[p].keys.begin(), piece[p].keys.end(), out.keys.begin() + at[p]);
    std::copy(piece[p].counts.begin(), piece[p].counts.end(), out.counts.begin() + at[p]);
    mem_run().keys.swap(piece[p].keys);
    mem_run().counts.swap(piece[p].counts);
  }
  return out;
}

/// LSD radix sort of keys below 2^bits (result in `keys`; `tmp` is scratch), on `threads`.
void radix_sort(std::vector<std::uint64_t>& keys, std::vector<std::uint64_t>& tmp, int bits,
                int threads) {
  const std::size_t n = keys.size();
  if (n < 1024 || bits == 0) {
    std::sort(keys.begin(), keys.end());
    return;
  }
  const int passes = (bits + 10) / 11;
  const int digit = (bits + passes - 1) / passes;
  const std::size_t buckets = std::size_t{1} << digit;
  const int nt = n < (1u << 16) ? 1 : threads;
  tmp.resize(n);
  std::vector<std::size_t> hist(buckets * static_cast<std::size_t>(nt));
  std::uint64_t* src = keys.data();
  std::uint64_t* dst = tmp.data();
#pragma omp parallel num_threads(nt)
  {
    const std::size_t t = static_cast<std::size_t>(omp_get_thread_num());
    const std::size_t ts = static_cast<std::size_t>(omp_get_num_threads());
    const std::size_t lo = n * t / ts, hi = n * (t + 1) / ts;
    std::uint64_t* s = src;
    std::uint64_t* d = dst;
    for (int pass = 0; pass < passes; ++pass) {
      const int shift = pass * digit;
      std::size_t* h = hist.data() + t * buckets;
      std::fill(h, h + buckets, 0);
      for (std::size_t i = lo; i < hi; ++i) ++h[(s[i] >> shift) & (buckets - 1)];
#pragma omp barrier
#pragma omp single
      {
        std::size_t run = 0;
        for (std::size_t b = 0; b < buckets; ++b)
          for (std::size_t u = 0; u < ts; ++u) {
            const std::size_t c = hist[u * buckets + b];
            hist[u * buckets + b] = run;
            run += c;
          }
      }
      for (std::size_t i = lo; i < hi; ++i) d[h[(s[i] >> shift) & (buckets - 1)]++] = s[i];
#pragma omp barrier
      std::swap(s, d);
    }
  }
  if (passes % 2 == 1) keys.swap(tmp);
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
    m_->for_each_block([&](const count_block& b) {
      visit(b, [&](const count_block& s) { nnz_ += s.offsets[s.row_end - s.row_begin]; });
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

}  // namespace

struct feature_counts::impl {
  int hash_bits;
  std::size_t budget;
  std::string spill_dir;
  int threads;
  std::vector<mem_run> runs;             // in memory, sizes roughly halving
  std::vector<file_run> files;           // spilled
  std::vector<std::uint64_t> keys, tmp;  // batch scratch
  std::int64_t spilled = 0;
  std::int64_t max_account = -1;
  bool finished = false;

  std::size_t run_bytes() const {
    std::size_t b = 0;
    for (const auto& r : runs) b += r.bytes();
    return b;
  }
  std::size_t io_buffer_bytes() const {
    return std::clamp<std::size_t>(budget / 8, std::size_t{64} << 10, std::size_t{1} << 20);
  }
  /// Records per read chunk when k cursors read files at once.
  std::size_t chunk_records(std::size_t k) const {
    return std::clamp<std::size_t>(budget / (2 * kRecordBytes * (k + 1)), 4096, 1u << 18);
  }

  void build_keys(const std::vector<std::uint32_t>& accounts,
                  const std::vector<std::int64_t>& offsets,
                  const std::vector<std::uint32_t>& feats);
  void add_run(mem_run run);
  void spill();
  void merge_files(std::vector<file_run> group, int level);
  void limit_files(std::size_t max_files);
};

void feature_counts::impl::build_keys(const std::vector<std::uint32_t>& accounts,
                                      const std::vector<std::int64_t>& offsets,
                                      const std::vector<std::uint32_t>& feats) {
  const auto posts = static_cast<std::int64_t>(accounts.size());
  CHORUS_EXPECTS(offsets.size() == accounts.size() + 1 && offsets[0] == 0 &&
                     offsets.back() == static_cast<std::int64_t>(feats.size()),
                 "feature batch: offsets must have one entry per post plus one, from 0 to the "
                 "number of features");
  keys.resize(feats.size());
  const std::uint64_t feat_limit = std::uint64_t{1} << hash_bits;
  std::int64_t bad = 0, top = max_account;
#pragma omp parallel for num_threads(threads) reduction(+ : bad) reduction(max : top)
  for (std::int64_t p = 0; p < posts; ++p) {
    const std::int64_t lo = offsets[p], hi = offsets[p + 1];
    if (lo > hi) {
      ++bad;
      continue;
    }
    const std::uint64_t acc = static_cast<std::uint64_t>(accounts[p]) << hash_bits;
    if (lo < hi) top = std::max<std::int64_t>(top, accounts[p]);
    for (std::int64_t j = lo; j < hi; ++j) {
      bad += feats[j] >= feat_limit;
      keys[j] = acc | feats[j];
    }
  }
  CHORUS_EXPECTS(bad == 0,
                 "feature batch: offsets must not decrease and features must be below "
                 "2^",
                 hash_bits);
  max_account = top;
}

void feature_counts::impl::add_run(mem_run run) {
  runs.push_back(std::move(run));
  while (runs.size() >= 2 && runs[runs.size() - 2].size() <= 2 * runs.back().size()) {
    mem_run& a = runs[runs.size() - 2];
    const mem_run& b = runs.back();
    // merging needs room for the output besides everything held
    if (run_bytes() + a.bytes() + b.bytes() > budget) break;
    mem_run merged = merge_memory_runs({&a, &b}, threads);
    runs.pop_back();
    runs.back() = std::move(merged);
  }
  if (run_bytes() + (keys.capacity() + tmp.capacity()) * 8 > budget) spill();
}

void feature_counts::impl::spill() {
  if (runs.empty()) return;
  std::vector<cursor> cs;
  for (const auto& r : runs) cs.push_back(memory_cursor(r.keys.data(), r.counts.data(), r.size()));
  file_run out{std::make_unique<temp_file>(spill_dir), 0, 0};
  run_writer w(*out.file, io_buffer_bytes());
  merge_cursors(cs, [&](std::uint64_t k, std::uint32_t c) { w.put(k, c); });
  w.flush();
  out.entries = w.entries();
  spilled += out.file->size();
  std::vector<mem_run>().swap(runs);
  files.push_back(std::move(out));
  // keep the number of open files small: merge kFanIn files of one level into one
  for (int level = 0;; ++level) {
    std::vector<file_run> group, rest;
    for (auto& f : files) (f.level == level ? group : rest).push_back(std::move(f));
    files = std::move(rest);
    if (group.size() < kFanIn) {
      for (auto& f : group) files.push_back(std::move(f));
      if (group.empty()) break;
      continue;
    }
    merge_files(std::move(group), level + 1);
  }
}

void feature_counts::impl::merge_files(std::vector<file_run> group, int level) {
  std::vector<cursor> cs;
  const std::size_t chunk = chunk_records(group.size());
  for (const auto& f : group) cs.push_back(file_cursor(f, chunk));
  file_run out{std::make_unique<temp_file>(spill_dir), 0, level};
  run_writer w(*out.file, io_buffer_bytes());
  merge_cursors(cs, [&](std::uint64_t k, std::uint32_t c) { w.put(k, c); });
  w.flush();
  out.entries = w.entries();
  spilled += out.file->size();
  files.push_back(std::move(out));
}

void feature_counts::impl::limit_files(std::size_t max_files) {
  while (files.size() > max_files) {
    std::sort(files.begin(), files.end(),
              [](const file_run& a, const file_run& b) { return a.entries < b.entries; });
    const std::size_t take = std::min(kFanIn, files.size() - max_files + 1);
    std::vector<file_run> group;
    for (std::size_t i = 0; i < take; ++i) group.push_back(std::move(files[i]));
    files.erase(files.begin(), files.begin() + static_cast<std::ptrdiff_t>(take));
    int level = 0;
    for (const auto& f : group) level = std::max(level, f.level + 1);
    merge_files(std::move(group), level);
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
  s.build_keys(accounts, offsets, feats);
  if (s.keys.empty()) return;
  radix_sort(s.keys, s.tmp, s.hash_bits + bit_width(static_cast<std::uint64_t>(s.max_account)),
             s.threads);
  mem_run run;  // run-length encode the sorted keys
  std::size_t distinct = 1;
  for (std::size_t i = 1; i < s.keys.size(); ++i) distinct += s.keys[i] != s.keys[i - 1];
  run.keys.reserve(distinct);
  run.counts.reserve(distinct);
  for (std::size_t i = 0; i < s.keys.size();) {
    std::size_t j = i + 1;
    while (j < s.keys.size() && s.keys[j] == s.keys[i]) ++j;
    run.keys.push_back(s.keys[i]);
    run.counts.push_back(saturate(j - i));
    i = j;
  }
  s.add_run(std::move(run));
}

std::unique_ptr<count_matrix> feature_counts::finish(std::int64_t n_accounts) {
  impl& s = *impl_;
  CHORUS_ENSURES(!s.finished, "finish called twice");
  CHORUS_EXPECTS(n_accounts > s.max_account, "feature counts: account ", s.max_account,
                 " seen but only ", n_accounts, " accounts");
  s.finished = true;
  std::vector<std::uint64_t>().swap(s.keys);
  std::vector<std::uint64_t>().swap(s.tmp);
  s.limit_files(kFanIn);
  std::vector<cursor> cs;
  std::size_t upper = 0;
  if (s.files.empty() && s.runs.size() > 1) {  // one in-memory run, merged on all threads
    std::vector<const mem_run*> all;
    for (const auto& r : s.runs) all.push_back(&r);
    mem_run merged = merge_memory_runs(all, s.threads);
    s.runs.clear();
    s.runs.push_back(std::move(merged));
  }
  for (const auto& r : s.runs) {
    cs.push_back(memory_cursor(r.keys.data(), r.counts.data(), r.size()));
    upper += r.size();
  }
  const std::size_t chunk = s.chunk_records(s.files.size());
  for (const auto& f : s.files) {
    cs.push_back(file_cursor(f, chunk));
    upper += static_cast<std::size_t>(f.entries);
  }
  // the CSR stays in memory while it fits what the budget leaves, else goes to a file
  const std::size_t rows_bytes = static_cast<std::size_t>(n_accounts + 1) * 8;
  const std::size_t held = s.run_bytes() + rows_bytes;
  const std::size_t room = s.budget > held ? (s.budget - held) / 8 : 0;
  std::vector<std::int64_t> offsets(static_cast<std::size_t>(n_accounts) + 1, 0);
  std::vector<std::uint32_t> colidx, counts;
  colidx.reserve(std::min(room, upper));
  counts.reserve(std::min(room, upper));
  std::unique_ptr<temp_file> file;
  std::vector<std::uint32_t> pairs;
  const std::uint64_t mask = (std::uint64_t{1} << s.hash_bits) - 1;
  const std::size_t pair_buffer = s.io_buffer_bytes() / 8;
  auto flush_pairs = [&] {
    if (!pairs.empty()) file->append(pairs.data(), pairs.size() * 4);
    pairs.clear();
  };
  merge_cursors(cs, [&](std::uint64_t k, std::uint32_t c) {
    ++offsets[static_cast<std::size_t>(k >> s.hash_bits) + 1];
    if (!file && colidx.size() < room) {
      colidx.push_back(static_cast<std::uint32_t>(k & mask));
      counts.push_back(c);
      return;
    }
    if (!file) {  // over the budget: what is held goes to the file first
      file = std::make_unique<temp_file>(s.spill_dir);
      for (std::size_t i = 0; i < colidx.size(); ++i) {
        pairs.push_back(colidx[i]);
        pairs.push_back(counts[i]);
        if (pairs.size() >= 2 * pair_buffer) flush_pairs();
      }
      std::vector<std::uint32_t>().swap(colidx);
      std::vector<std::uint32_t>().swap(counts);
    }
    pairs.push_back(static_cast<std::uint32_t>(k & mask));
    pairs.push_back(c);
    if (pairs.size() >= 2 * pair_buffer) flush_pairs();
  });
  for (std::size_t r = 1; r < offsets.size(); ++r) offsets[r] += offsets[r - 1];
  cs.clear();
  std::vector<mem_run>().swap(s.runs);
  s.files.clear();
  const std::int64_t n_cols = std::int64_t{1} << s.hash_bits;
  if (!file)
    return std::make_unique<memory_count_matrix>(n_cols, std::move(offsets), std::move(colidx),
                                                 std::move(counts));
  flush_pairs();
  s.spilled += file->size();
  const auto block_nnz = static_cast<std::int64_t>(std::max<std::size_t>(s.budget / 16, 1u << 16));
  return std::make_unique<disk_count_matrix>(std::move(file), n_cols, std::move(offsets),
                                             block_nnz);
}

std::int64_t feature_counts::bytes_spilled() const { return impl_->spilled; }

std::int64_t feature_counts::entries_in_memory() const {
  std::int64_t n = 0;
  for (const auto& r : impl_->runs) n += static_cast<std::int64_t>(r.size());
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
