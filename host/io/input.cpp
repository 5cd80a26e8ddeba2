// chorus: input validation and view preparation.
#include "chorus/io/input.hpp"

#include <omp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>

#include "chorus/core/error.hpp"
#include "chorus/core/hash.hpp"
#include "chorus/core/text.hpp"
#include "chorus/io/h5.hpp"
#include "chorus/io/row_feed.hpp"

namespace chorus {

std::int64_t checked_mul(std::int64_t a, std::int64_t b, const char* what) {
  std::int64_t r = 0;
  CHORUS_EXPECTS(a >= 0 && b >= 0 && !__builtin_mul_overflow(a, b, &r), what, " is too large (", a,
                 " x ", b, " overflows 64 bits)");
  return r;
}

std::string dtype_name(const h5::dataset_info& di) {
  switch (di.cls) {
    case h5::kind::floating:
      return "float" + std::to_string(di.elem_size * 8);
    case h5::kind::integer:
      return std::string(di.is_signed ? "int" : "uint") + std::to_string(di.elem_size * 8);
    case h5::kind::string:
      return "string";
    default:
      return di.type_name.empty() ? "unsupported" : di.type_name;
  }
}

std::int64_t account_id_of_string(const std::string& s) {
  // FNV-1a 64 of the UTF-8 bytes, top bit cleared (datasets/SCHEMA.md)
  return static_cast<std::int64_t>(fnv1a64(s.data(), s.size()) & 0x7fffffffffffffffull);
}

namespace {

// Length of the valid UTF-8 prefix of s (s.size() when all of it is valid): no overlong forms,
// no surrogates, nothing above U+10FFFF.
std::size_t utf8_valid_prefix(const std::string& s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    unsigned lo = 0x80, hi = 0xBF;  // allowed range of the first continuation byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;  // overlong
      if (c == 0xED) hi = 0x9F;  // UTF-16 surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;  // overlong
      if (c == 0xF4) hi = 0x8F;  // above U+10FFFF
    } else {
      return i;  // continuation byte without a lead, or C0, C1, F5..FF
    }
    if (i + len > n) return i;
    if (p[i + 1] < lo || p[i + 1] > hi) return i;
    for (std::size_t k = 2; k < len; ++k)
      if (p[i + k] < 0x80 || p[i + k] > 0xBF) return i;
    i += len;
  }
  return n;
}

// Bytes of physical memory (0 when unknown).
std::uint64_t physical_memory() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return 0;
  return static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page);
}

// A lower bound of the memory load_input allocates (ids, their sort, truth, views), in bytes;
// saturates instead of overflowing.
std::uint64_t load_memory_bound(const input_info& info, const load_options& opt) {
  const auto sat_mul = [](std::uint64_t a, std::uint64_t b) {
    std::uint64_t r = 0;
    return __builtin_mul_overflow(a, b, &r) ? std::numeric_limits<std::uint64_t>::max() : r;
  };
  const auto sat_add = [](std::uint64_t a, std::uint64_t b) {
    std::uint64_t r = 0;
    return __builtin_add_overflow(a, b, &r) ? std::numeric_limits<std::uint64_t>::max() : r;
  };
  const auto n = static_cast<std::uint64_t>(info.n);
  std::uint64_t bytes = sat_mul(n, 8 + 16 + (info.has_truth ? 8 : 0));
  // a view: fp32 rows, 1/norm and the valid flag
  if (opt.embedding && info.has_embedding)
    bytes =
        sat_add(bytes, sat_mul(n, sat_add(sat_mul(static_cast<std::uint64_t>(info.dim), 4), 9)));
  if (opt.activity && info.has_activity)
    bytes =
        sat_add(bytes, sat_mul(n, sat_add(sat_mul(static_cast<std::uint64_t>(info.bins), 4), 9)));
  return bytes;
}

std::string shape_str(const h5::dataset_info& di) {
  std::string s = "[";
  for (int i = 0; i < di.rank(); ++i) s += (i ? ", " : "") + std::to_string(di.dims[i]);
  return s + "]";
}

}  // namespace

namespace {
// Validates a rank-2 view [N, cols]: rank, dtype, rows, column count and the N x cols x 4 bytes
// it will take; returns the column count and sets `dtype`.
template <typename DtypeOk>
std::int64_t check_view(const h5::handle& f, const char* name, const char* shape,
                        const char* cols_word, std::int64_t n, const char* expected,
                        std::string& dtype, DtypeOk ok) {
  auto ds = h5::open_dataset(f, name);
  auto di = h5::describe(ds);
  CHORUS_EXPECTS(di.rank() == 2, name, " must be rank 2 ", shape, ", found rank ", di.rank(), " ",
                 shape_str(di));
  CHORUS_EXPECTS(ok(di), name, " has unsupported dtype ", dtype_name(di), " (", expected, ")");
  CHORUS_EXPECTS(static_cast<std::int64_t>(di.dims[0]) == n, name, " has ", di.dims[0],
                 " rows but /accounts/id has ", n);
  CHORUS_EXPECTS(di.dims[1] >= 1, name, " has zero columns");
  CHORUS_EXPECTS(di.dims[1] <= (1u << 20), name, " declares ", di.dims[1], " ", cols_word,
                 " (more than 2^20 is not supported)");
  dtype = dtype_name(di);
  const auto cols = static_cast<std::int64_t>(di.dims[1]);
  checked_mul(n, cols * 4, name);
  return cols;
}

// Top-level names chorus does not read, each with the closest name it does.
std::vector<std::string> unrecognised_names(const h5::handle& f) {
  static const char* kKnown[] = {"accounts", "embedding", "activity", "truth", "posts"};
  std::vector<std::string> out;
  for (const std::string& name : h5::children(f, "/")) {
    if (std::find(std::begin(kKnown), std::end(kKnown), name) != std::end(kKnown)) continue;
    const char* best = kKnown[0];
    for (const char* k : kKnown)
      if (edit_distance(name, k, true) < edit_distance(name, best, true)) best = k;
    out.push_back("/" + name +
                  (edit_distance(name, best, true) <= 3 ? std::string(" -> /") + best : ""));
  }
  return out;
}

}  // namespace

input_info inspect_input(const std::string& path) {
  input_info info;
  info.path = path;
  h5::handle f = h5::open_read(path);
  struct stat st {};
  if (stat(path.c_str(), &st) == 0) info.file_size = static_cast<std::uint64_t>(st.st_size);

  std::int64_t results_flag = 0;
  if ((h5::exists(f, "/labels") && h5::exists(f, "/edges")) ||
      h5::get_attr(f, "chorus_results", results_flag)) {
    CHORUS_THROW(input_error, "'", path,
                 "' is a chorus results file, not an input (see datasets/SCHEMA.md)");
  }
  CHORUS_EXPECTS(h5::exists(f, "/accounts/id"), "'", path,
                 "' has no /accounts/id dataset (see datasets/SCHEMA.md)");
  auto ids = h5::open_dataset(f, "/accounts/id");
  auto idi = h5::describe(ids);
  CHORUS_EXPECTS(idi.rank() == 1 && (idi.cls == h5::kind::integer || idi.cls == h5::kind::string),
                 "/accounts/id must be a rank-1 integer dataset, found ", dtype_name(idi), " ",
                 shape_str(idi), " (rank-1 strings are accepted too: see datasets/SCHEMA.md)");
  CHORUS_EXPECTS(
      idi.dims[0] <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max() / 4),
      "/accounts/id declares an impossible length ", idi.dims[0]);
  info.n = static_cast<std::int64_t>(idi.dims[0]);
  info.id_dtype = dtype_name(idi);

  if (h5::exists(f, "/embedding")) {
    info.dim = check_view(f, "/embedding", "[N, d]", "columns", info.n,
                          "float16, float32 or float64 expected", info.embedding_dtype,
                          [](const h5::dataset_info& d) {
                            return d.cls == h5::kind::floating &&
                                   (d.elem_size == 2 || d.elem_size == 4 || d.elem_size == 8);
                          });
    info.has_embedding = true;
  }
  if (h5::exists(f, "/activity")) {
    info.bins = check_view(f, "/activity", "[N, T]", "time bins", info.n,
                           "float32 or an integer type expected", info.activity_dtype,
                           [](const h5::dataset_info& d) {
                             return d.cls == h5::kind::integer ||
                                    (d.cls == h5::kind::floating &&
                                     (d.elem_size == 2 || d.elem_size == 4 || d.elem_size == 8));
                           });
    info.has_activity = true;
  }
  info.unrecognised = unrecognised_names(f);
  if (!(info.has_embedding || info.has_activity)) {
    std::string hint;
    for (const std::string& u : info.unrecognised) hint += (hint.empty() ? "" : "; ") + u;
    CHORUS_THROW(input_error, "'", path, "' has neither /embedding nor /activity",
                 hint.empty() ? "" : " (it has " + hint + ": rename the dataset)");
  }
  if (h5::exists(f, "/accounts/handle")) {
    auto h = h5::open_dataset(f, "/accounts/handle");
    auto hi = h5::describe(h);
    CHORUS_EXPECTS(hi.rank() == 1 && hi.cls == h5::kind::string,
                   "/accounts/handle must be rank-1 strings");
    CHORUS_EXPECTS(static_cast<std::int64_t>(hi.dims[0]) == info.n, "/accounts/handle has ",
                   hi.dims[0], " rows but /accounts/id has ", info.n);
    info.has_handles = true;
  }
  if (h5::exists(f, "/truth/cluster")) {
    auto t = h5::open_dataset(f, "/truth/cluster");
    auto ti = h5::describe(t);
    CHORUS_EXPECTS(ti.rank() == 1 && ti.cls == h5::kind::integer,
                   "/truth/cluster must be a rank-1 integer dataset");
    CHORUS_EXPECTS(static_cast<std::int64_t>(ti.dims[0]) == info.n, "/truth/cluster has ",
                   ti.dims[0], " rows but /accounts/id has ", info.n);
    info.has_truth = true;
  }
  return info;
}

namespace {

// The input checksum: 1 MiB chunks (the last one zero-padded to whole words) mixed in four lanes,
// then the byte count. file_checksum feeds it a file, memory_checksum the caller's arrays.
class chunk_hasher {
 public:
  chunk_hasher() : buf_(kWords) {}
  void add(const void* p, std::size_t bytes) {
    const auto* c = static_cast<const char*>(p);
    while (bytes > 0) {
      const std::size_t take = std::min(bytes, kWords * 8 - fill_);
      std::memcpy(reinterpret_cast<char*>(buf_.data()) + fill_, c, take);
      fill_ += take, c += take, bytes -= take;
      if (fill_ == kWords * 8) flush();
    }
  }
  std::uint64_t finish() {
    if (fill_ > 0) flush();
    std::uint64_t h = h_ ^ total_;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
  }

 private:
  static constexpr std::size_t kWords = 1 << 17;
  void flush() {
    const std::size_t got = fill_, words = (got + 7) / 8;
    if (got % 8) std::memset(reinterpret_cast<char*>(buf_.data()) + got, 0, words * 8 - got);
    // four independent lanes keep the multiply latency off the critical path
    std::uint64_t lane[4] = {h_, h_ ^ 0x243f6a8885a308d3ull, h_ ^ 0x13198a2e03707344ull,
                             h_ ^ 0xa4093822299f31d0ull};
    std::size_t k = 0;
    for (; k + 4 <= words; k += 4)
      for (int l = 0; l < 4; ++l)
        lane[l] = (lane[l] ^ buf_[k + l]) * 0x100000001b3ull + (lane[l] >> 29);
    for (; k < words; ++k) lane[0] = (lane[0] ^ buf_[k]) * 0x100000001b3ull + (lane[0] >> 29);
    h_ = lane[0] ^ (lane[1] * 3) ^ (lane[2] * 5) ^ (lane[3] * 7);
    total_ += got;
    fill_ = 0;
  }
  std::vector<std::uint64_t> buf_;
  std::size_t fill_ = 0;
  std::uint64_t h_ = 0x9e3779b97f4a7c15ull, total_ = 0;
};

}  // namespace

std::uint64_t file_checksum(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  CHORUS_EXPECTS(f, "cannot read '", path, "'");
  chunk_hasher h;
  std::vector<char> buf(1 << 20);
  for (;;) {
    const std::size_t got = std::fread(buf.data(), 1, buf.size(), f);
    if (got == 0) break;
    h.add(buf.data(), got);
  }
  std::fclose(f);
  return h.finish();
}

std::uint64_t memory_checksum(const memory_input& m) {
  chunk_hasher h;
  const auto ids = m.string_ids.empty() ? m.ids : std::vector<std::int64_t>{};
  h.add(ids.data(), ids.size() * sizeof(std::int64_t));
  for (const std::string& s : m.string_ids) h.add(s.c_str(), s.size() + 1);
  for (const memory_matrix* v : {&m.embedding, &m.activity}) {
    if (!v->present()) continue;
    const std::size_t esize = v->element_size();
    for (std::int64_t r = 0; r < v->rows; ++r)
      h.add(static_cast<const char*>(v->data) + static_cast<std::size_t>(r * v->row_stride) * esize,
            static_cast<std::size_t>(v->cols) * esize);
  }
  return h.finish();
}

namespace {

// Sum of squares in float64 with eight partial sums (vectorisable without reassociation).
__attribute__((target_clones("avx512f", "avx2", "default"))) double sum_squares(const double* x,
                                                                                std::int64_t d) {
  double p[8] = {0};
  std::int64_t k = 0;
  for (; k + 8 <= d; k += 8)
    for (int l = 0; l < 8; ++l) p[l] += x[k + l] * x[k + l];
  for (; k < d; ++k) p[0] += x[k] * x[k];
  return ((p[0] + p[1]) + (p[2] + p[3])) + ((p[4] + p[5]) + (p[6] + p[7]));
}

// y = fp32(x * inv); returns the float64 sum of squares of the stored y (same partial sums).
__attribute__((target_clones("avx512f", "avx2", "default"))) double scale_store(const double* x,
                                                                                double inv,
                                                                                float* y,
                                                                                std::int64_t d) {
  double p[8] = {0};
  std::int64_t k = 0;
  for (; k + 8 <= d; k += 8)
    for (int l = 0; l < 8; ++l) {
      y[k + l] = static_cast<float>(x[k + l] * inv);
      p[l] += static_cast<double>(y[k + l]) * y[k + l];
    }
  for (; k < d; ++k) {
    y[k] = static_cast<float>(x[k] * inv);
    p[0] += static_cast<double>(y[k]) * y[k];
  }
  return ((p[0] + p[1]) + (p[2] + p[3])) + ((p[4] + p[5]) + (p[6] + p[7]));
}

// Sizes `out` for rows [first, n) of a view of width d: zero rows, all invalid until read.
void alloc_view(view_matrix& out, const char* what, std::int64_t n, std::int64_t d,
                std::int64_t first) {
  out.n = n;
  out.d = d;
  out.first = first;
  out.data.assign(static_cast<std::size_t>(checked_mul(n - first, d, what)), 0.0f);
  out.inv_norm.assign(n, 0.0);
  out.valid.assign(n, 0);
  out.invalid_rows = 0;
}

// Per-row preparation before normalising (in place, float64): centring, transforms.
using row_prep = std::function<void(double*)>;

// Reads a rank-2 view (allocated by alloc_view) in row blocks, applying `prep` and normalising.
// `what` names the dataset in messages.
class view_reader {
 public:
  view_reader(const h5::handle& f, const char* what, std::int64_t block_rows,
              const std::vector<std::int64_t>& ids, view_matrix& out, row_prep prep)
      : what_(what), ids_(ids), out_(out), prep_(std::move(prep)) {
    dset_ = h5::open_dataset(f, what);
    // float32/float16 data are read as float (no float64 conversion inside HDF5, half the
    // bytes); integers and float64 as double, exactly
    const auto di = h5::describe(dset_);
    as_float_ = di.cls == h5::kind::floating && di.elem_size <= 4;
    const std::size_t elems = static_cast<std::size_t>(
        checked_mul(std::min(block_rows, std::max<std::int64_t>(out.n, 1)), out.d, what));
    (as_float_ ? fbuf_.resize(elems) : buf_.resize(elems));
  }
  // The same, reading the caller's matrix in place (no copy beyond one row per thread).
  view_reader(const memory_matrix& m, const char* what, const std::vector<std::int64_t>& ids,
              view_matrix& out, row_prep prep)
      : what_(what), ids_(ids), out_(out), prep_(std::move(prep)), mem_(&m) {}

  // Rows [r0, r0 + rows), rows <= block_rows.
  void read_block(std::int64_t r0, std::int64_t rows) {
    const std::int64_t d = out_.d, first = out_.first;
    if (mem_)
      ;  // rows are read where they are
    else if (as_float_)
      h5::read_rows<float>(dset_, r0, rows, fbuf_.data());
    else
      h5::read_rows<double>(dset_, r0, rows, buf_.data());
    std::int64_t bad_row = -1, invalid = 0;
#pragma omp parallel for schedule(static) reduction(+ : invalid)
    for (std::int64_t r = 0; r < rows; ++r) {
      thread_local std::vector<double> row;
      double* x;
      if (mem_) {  // a float64 copy of the caller's row: prep_ works in place
        row.resize(static_cast<std::size_t>(d));
        memory_row(*mem_, r0 + r, row.data());
        x = row.data();
      } else if (as_float_) {
        row.resize(static_cast<std::size_t>(d));
        const float* src = fbuf_.data() + r * d;
        for (std::int64_t k = 0; k < d; ++k) row[k] = src[k];
        x = row.data();
      } else {
        x = buf_.data() + r * d;
      }
      bool finite = true;
      for (std::int64_t k = 0; k < d; ++k) finite &= std::isfinite(x[k]);
      if (!finite) {
#pragma omp critical
        if (bad_row < 0 || r0 + r < bad_row) bad_row = r0 + r;
        continue;
      }
      prep_(x);
      double s = sum_squares(x, d);
      float* y = out_.data.data() + (r0 + r - first) * d;
      if (!std::isfinite(s) || s < 1e-280) {
        // float64 values near the top or bottom of the range: the sum of squares overflows or
        // loses precision, but the direction is well defined. Scale by the largest magnitude
        // first (a power of two); ordinary rows never take this path.
        double m = 0;
        for (std::int64_t k = 0; k < d; ++k) m = std::max(m, std::fabs(x[k]));
        if (m > 0 && std::isfinite(m)) {
          const int e = std::ilogb(m);  // scalbn: no overflow even for subnormal m
          s = 0;
          for (std::int64_t k = 0; k < d; ++k) {
            x[k] = std::scalbn(x[k], -e);
            s += x[k] * x[k];
          }
        }
      }
      if (!(s > 0) || !std::isfinite(s)) {
        ++invalid;
        continue;
      }
      const double inv = 1.0 / std::sqrt(s);
      const double s2 = scale_store(x, inv, y, d);
      if (s2 > 0) {
        out_.inv_norm[r0 + r] = 1.0 / std::sqrt(s2);
        out_.valid[r0 + r] = 1;
      } else {  // underflow to zero in fp32
        std::fill(y, y + d, 0.0f);
        ++invalid;
      }
    }
    CHORUS_EXPECTS(bad_row < 0, what_, " row ", bad_row, " (account id ",
                   ids_.empty() ? bad_row : ids_[bad_row],
                   ") contains NaN or Inf: clean the input or drop the account");
    out_.invalid_rows += invalid;
  }

 private:
  const char* what_;
  const std::vector<std::int64_t>& ids_;
  view_matrix& out_;
  row_prep prep_;
  const memory_matrix* mem_ = nullptr;  // the caller's rows, or null: read from dset_
  h5::handle dset_;
  bool as_float_ = false;
  std::vector<double> buf_;
  std::vector<float> fbuf_;
};

}  // namespace

namespace {

// A string id for a one-line message: quoted, control bytes (and, when it is not UTF-8, bytes
// above 0x7f) escaped, cut after 80 bytes.
std::string quoted_id(const std::string& s) {
  const bool utf8 = utf8_valid_prefix(s) == s.size();
  std::size_t end = std::min<std::size_t>(s.size(), 80);
  while (utf8 && end < s.size() && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  std::string q = "'";
  for (std::size_t i = 0; i < end; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f || (c > 0x7f && !utf8)) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      q += hex;
    } else {
      q += s[i];
    }
  }
  return q + (end < s.size() ? "...'" : "'");
}

// String ids of rows [r0, r0 + block.size()) hashed into `out`; each must be non-empty UTF-8.
void hash_string_ids(const std::vector<std::string>& block, std::int64_t r0, std::int64_t* out) {
  for (std::size_t r = 0; r < block.size(); ++r) {
    const std::size_t ok = utf8_valid_prefix(block[r]);
    CHORUS_EXPECTS(!block[r].empty(), "/accounts/id row ", r0 + static_cast<std::int64_t>(r),
                   " is an empty string: every account needs an id");
    CHORUS_EXPECTS(ok == block[r].size(), "/accounts/id row ", r0 + static_cast<std::int64_t>(r),
                   " (", quoted_id(block[r]), ") is not valid UTF-8 (bad byte at offset ", ok,
                   "): re-encode the ids as UTF-8");
    out[r] = account_id_of_string(block[r]);
  }
}

// Ids of rows [r0, r0 + rows) into `out`, validated: string ids hashed (hash_string_ids),
// unsigned 64-bit ids above 2^63-1 refused (HDF5 would saturate them converting to int64).
void read_id_block(const h5::handle& ids, const h5::dataset_info& idi, std::int64_t r0,
                   std::int64_t rows, std::int64_t* out) {
  if (idi.cls == h5::kind::string) {
    hash_string_ids(h5::read_strings(ids, r0, rows), r0, out);
    return;
  }
  if (!idi.is_signed && idi.elem_size >= 8) {
    std::vector<std::uint64_t> buf(static_cast<std::size_t>(rows));
    h5::read_rows<std::uint64_t>(ids, r0, rows, buf.data());
    for (std::int64_t r = 0; r < rows; ++r)
      CHORUS_EXPECTS(buf[r] <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()),
                     "/accounts/id row ", r0 + r, " holds ", buf[r],
                     ", which does not fit a signed 64-bit id");
  }
  h5::read_rows<std::int64_t>(ids, r0, rows, out);
}

// /accounts/handle rows [r0, r0 + block.size()) must be UTF-8; `ids` are their account ids.
void check_handle_block(const std::vector<std::string>& block, std::int64_t r0,
                        const std::int64_t* ids) {
  // Handles only label reports, but a report must never carry invalid UTF-8.
  for (std::size_t r = 0; r < block.size(); ++r) {
    const std::size_t ok = utf8_valid_prefix(block[r]);
    CHORUS_EXPECTS(ok == block[r].size(), "/accounts/handle row ",
                   r0 + static_cast<std::int64_t>(r), " (account id ", ids[r],
                   ") is not valid UTF-8 (bad byte at offset ", ok,
                   "): re-encode the handles as UTF-8");
  }
}

// All n ids of the input, validated (read_id_block), in blocks of block_rows.
std::vector<std::int64_t> read_ids(const h5::handle& f, std::int64_t n, std::int64_t block_rows) {
  const h5::handle ids = h5::open_dataset(f, "/accounts/id");
  const h5::dataset_info idi = h5::describe(ids);
  std::vector<std::int64_t> out(static_cast<std::size_t>(n));
  for (std::int64_t r0 = 0; r0 < n; r0 += block_rows)
    read_id_block(ids, idi, r0, std::min(block_rows, n - r0), out.data() + r0);
  return out;
}

// Ids must be unique. String ids are compared as strings where their derived ids are equal:
// the same string twice is a duplicate, two strings with one derived id a collision; both are
// refused, naming the strings and their rows.
void check_unique_ids(const std::vector<std::int64_t>& ids,
                      const std::function<std::string(std::int64_t)>& string_of_row) {
  const auto n = static_cast<std::int64_t>(ids.size());
  std::vector<std::pair<std::int64_t, std::int64_t>> sorted(n);
  for (std::int64_t i = 0; i < n; ++i) sorted[i] = {ids[i], i};
  std::sort(sorted.begin(), sorted.end());
  for (std::int64_t i = 1; i < n; ++i) {
    if (sorted[i].first != sorted[i - 1].first) continue;
    const std::int64_t a = sorted[i - 1].second, b = sorted[i].second;
    const std::string sa = string_of_row(a), sb = string_of_row(b);
    CHORUS_EXPECTS(!sa.empty(), "duplicate account id ", sorted[i].first, " at rows ", a, " and ",
                   b);
    CHORUS_EXPECTS(sa != sb, "duplicate account id ", quoted_id(sa), " at rows ", a, " and ", b);
    CHORUS_THROW(input_error, "account ids ", quoted_id(sa), " (row ", a, ") and ", quoted_id(sb),
                 " (row ", b, ") both map to the int64 id ", sorted[i].first,
                 " (FNV-1a of the string, datasets/SCHEMA.md): rename one, or store integer ids");
  }
}

}  // namespace

std::vector<std::int64_t> read_account_ids(const h5::handle& f, std::uint64_t row0,
                                           std::uint64_t rows) {
  const h5::handle ids = h5::open_dataset(f, "/accounts/id");
  std::vector<std::int64_t> out(static_cast<std::size_t>(rows));
  if (h5::describe(ids).cls != h5::kind::string) {
    if (rows > 0) h5::read_rows<std::int64_t>(ids, row0, rows, out.data());
    return out;
  }
  const std::vector<std::string> block = h5::read_strings(ids, row0, rows);
  for (std::size_t r = 0; r < block.size(); ++r) out[r] = account_id_of_string(block[r]);
  return out;
}

std::string account_names_dataset(const h5::handle& f) {
  if (h5::exists(f, "/accounts/handle")) return "/accounts/handle";
  if (h5::exists(f, "/accounts/id") &&
      h5::describe(h5::open_dataset(f, "/accounts/id")).cls == h5::kind::string)
    return "/accounts/id";
  return "";
}

void check_handles(const std::string& path, std::int64_t block_rows) {
  h5::handle f = h5::open_read(path);
  const bool handles = h5::exists(f, "/accounts/handle");
  const h5::handle ids = h5::open_dataset(f, "/accounts/id");
  const h5::dataset_info idi = h5::describe(ids);
  if (!handles && idi.cls != h5::kind::string) return;
  CHORUS_EXPECTS(block_rows >= 1 && idi.rank() == 1, "/accounts/id must be rank 1");
  const auto n = static_cast<std::int64_t>(idi.dims[0]);
  h5::handle h;
  if (handles) h = h5::open_dataset(f, "/accounts/handle");
  // block by block: memory stays O(block_rows) whatever length the file declares
  std::vector<std::int64_t> block_ids;
  for (std::int64_t r0 = 0; r0 < n; r0 += block_rows) {
    const std::int64_t rows = std::min(block_rows, n - r0);
    block_ids.resize(static_cast<std::size_t>(rows));
    read_id_block(ids, idi, r0, rows, block_ids.data());
    if (handles) check_handle_block(h5::read_strings(h, r0, rows), r0, block_ids.data());
  }
}

namespace {
// `info` (from inspect_input) must still describe the file: the shapes it validated are those
// the reads below size their buffers by.
void check_still_described(const h5::handle& f, const input_info& info) {
  const auto n = static_cast<std::uint64_t>(info.n);
  const auto same = [&](const char* name, bool present, std::vector<std::uint64_t> dims) {
    const bool there = h5::exists(f, name);
    CHORUS_EXPECTS(
        there == present && (!there || h5::describe(h5::open_dataset(f, name)).dims == dims), "'",
        info.path, "' changed since it was inspected (", name,
        "): run again on a file that is not being written");
  };
  same("/accounts/id", true, {n});
  same("/embedding", info.has_embedding, {n, static_cast<std::uint64_t>(info.dim)});
  same("/activity", info.has_activity, {n, static_cast<std::uint64_t>(info.bins)});
  same("/accounts/handle", info.has_handles, {n});
  same("/truth/cluster", info.has_truth, {n});
}
}  // namespace

loaded_input open_input(const std::string& path, const load_options& opt) {
  return open_input(inspect_input(path), opt);
}

loaded_input open_input(const input_info& info, const load_options& opt) {
  loaded_input in;
  in.info = info;
  const std::string& path = info.path;
  const std::int64_t n = in.info.n;
  CHORUS_EXPECTS(opt.block_rows >= 1, "block_rows must be >= 1");
  CHORUS_EXPECTS(opt.row_begin >= 0, "row_begin must be >= 0");
  const std::int64_t first = std::min(opt.row_begin, n);
  {
    // Refuse before allocating: a damaged or hostile file can declare extents (e.g. a chunked
    // dataset of 2^40 rows with nothing written) that no machine could hold.
    const std::uint64_t need = load_memory_bound(in.info, opt), have = physical_memory();
    const auto gib = [](std::uint64_t b) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.1f GiB", static_cast<double>(b) / (1ull << 30));
      return std::string(buf);
    };
    CHORUS_EXPECTS(have == 0 || need <= have, "'", path, "' declares ", n, " accounts",
                   in.info.has_embedding ? " x " + std::to_string(in.info.dim) + " embedding" : "",
                   in.info.has_activity ? " x " + std::to_string(in.info.bins) + " bins" : "",
                   ": loading it needs at least ", gib(need), ", more than this machine's ",
                   gib(have), " of memory (damaged file, or a job for a larger machine)");
  }
  h5::handle f = h5::open_read(path);
  check_still_described(f, in.info);
  in.ids = read_ids(f, n, opt.block_rows);
  check_unique_ids(in.ids, [&](std::int64_t row) {  // string ids: read for messages only
    if (!in.info.string_ids()) return std::string();
    return h5::read_strings(h5::open_dataset(f, "/accounts/id"), row, 1).at(0);
  });
  if (in.info.has_handles) {
    const h5::handle h = h5::open_dataset(f, "/accounts/handle");
    for (std::int64_t r0 = 0; r0 < n; r0 += opt.block_rows)
      check_handle_block(h5::read_strings(h, r0, std::min(opt.block_rows, n - r0)), r0,
                         in.ids.data() + r0);
  }
  if (in.info.has_truth)
    in.truth = h5::read_all<std::int64_t>(h5::open_dataset(f, "/truth/cluster"));

  if (opt.embedding) {
    CHORUS_EXPECTS(in.info.has_embedding, "'", path, "' has no /embedding, which this run needs");
    alloc_view(in.embedding, "/embedding", n, in.info.dim, first);
  }
  if (opt.activity) {
    CHORUS_EXPECTS(in.info.has_activity, "'", path, "' has no /activity, which this run needs");
    alloc_view(in.activity, "/activity", n, in.info.bins, first);
  }
  return in;
}

namespace {

// Where the views' rows come from: the input file, or the caller's arrays.
struct row_sources {
  h5::handle file;                    // when reading a file
  const memory_input* mem = nullptr;  // when reading the caller's arrays
  // Rows [r0, r0 + rows) of /activity as float64.
  void activity_rows(std::int64_t r0, std::int64_t rows, std::int64_t T, double* out) const {
    if (!mem) {
      h5::read_rows<double>(h5::open_dataset(file, "/activity"), r0, rows, out);
      return;
    }
    for (std::int64_t r = 0; r < rows; ++r) memory_row(mem->activity, r0 + r, out + r * T);
  }
  view_reader reader(const char* what, std::int64_t block_rows, const loaded_input& in,
                     view_matrix& out, row_prep prep) const {
    if (mem)
      return view_reader(what[1] == 'e' ? mem->embedding : mem->activity, what, in.ids, out,
                         std::move(prep));
    return view_reader(file, what, block_rows, in.ids, out, std::move(prep));
  }
};

// tf-idf's inverse document frequencies of the activity bins (a pass over every row); refuses
// negative counts (log1p and tf-idf need counts >= 0). Empty when cancelled.
std::vector<double> activity_idf(const row_sources& src, const loaded_input& in,
                                 const load_options& opt, row_feed* feed) {
  const std::int64_t n = in.info.n, T = in.info.bins;
  std::vector<std::int64_t> df(T, 0);
  std::vector<double> buf(static_cast<std::size_t>(
      checked_mul(std::min(opt.block_rows, std::max<std::int64_t>(n, 1)), T, "/activity")));
  for (std::int64_t r0 = 0; r0 < n; r0 += opt.block_rows) {
    if (feed && feed->cancelled()) return {};
    const std::int64_t rows = std::min(opt.block_rows, n - r0);
    src.activity_rows(r0, rows, T, buf.data());
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t t = 0; t < T; ++t) {
        const double v = buf[r * T + t];
        CHORUS_EXPECTS(!(v < 0), "/activity row ", r0 + r, " (account id ", in.ids[r0 + r],
                       ") has a negative count, which --activity-transform needs >= 0");
        df[t] += v > 0;
      }
  }
  std::vector<double> idf(T);
  for (std::int64_t t = 0; t < T; ++t)
    idf[t] = std::log((1.0 + static_cast<double>(n)) / (1.0 + static_cast<double>(df[t]))) + 1.0;
  return idf;
}

// Activity rows before normalising: a row with fewer posts than --min-activity is left out
// (all zero: invalid, counted in `sparse`); then transform, centre; a constant row (zero
// variance up to rounding of the mean) is invalid.
row_prep activity_prep(const load_options& opt, std::int64_t T, std::vector<double> idf,
                       std::shared_ptr<std::atomic<std::int64_t>> sparse) {
  const auto tr = opt.transform;
  const double min_posts = opt.min_activity;
  return [tr, T, idf = std::move(idf), min_posts, sparse](double* x) {
    if (min_posts > 0) {
      double posts = 0;
      for (std::int64_t t = 0; t < T; ++t) posts += x[t];
      if (posts < min_posts) {
        ++*sparse;
        for (std::int64_t t = 0; t < T; ++t) x[t] = 0;
        return;
      }
    }
    if (tr == activity_transform::log1p) {
      for (std::int64_t t = 0; t < T; ++t) x[t] = std::log1p(x[t]);
    } else if (tr == activity_transform::tfidf) {
      for (std::int64_t t = 0; t < T; ++t) x[t] = std::log1p(x[t]) * idf[t];
    }
    double mean = 0;
    for (std::int64_t t = 0; t < T; ++t) mean += x[t];
    mean /= static_cast<double>(T);
    for (std::int64_t t = 0; t < T; ++t) x[t] -= mean;
    double dev = 0;
    for (std::int64_t t = 0; t < T; ++t) dev = std::max(dev, std::fabs(x[t]));
    if (dev <= 1e-12 * std::max(1.0, std::fabs(mean)))
      for (std::int64_t t = 0; t < T; ++t) x[t] = 0;
  };
}

// read_views from either source.
void read_views_from(loaded_input& in, const load_options& opt, row_feed* feed,
                     const row_sources& src) {
  const std::int64_t n = in.info.n;
  std::vector<view_reader> readers;
  readers.reserve(2);
  std::shared_ptr<std::atomic<std::int64_t>> sparse_rows;  // rows below --min-activity
  if (opt.embedding)
    readers.push_back(src.reader("/embedding", opt.block_rows, in, in.embedding, [](double*) {}));
  if (opt.activity) {
    std::vector<double> idf;
    if (opt.transform != activity_transform::none) {
      idf = activity_idf(src, in, opt, feed);
      if (idf.empty() && in.info.bins > 0) return;  // cancelled
    }
    sparse_rows = std::make_shared<std::atomic<std::int64_t>>(0);
    readers.push_back(src.reader("/activity", opt.block_rows, in, in.activity,
                                 activity_prep(opt, in.info.bins, std::move(idf), sparse_rows)));
  }
  // the views block by block, interleaved: rows below a published count are ready in every view
  const std::int64_t first = std::min(opt.row_begin, n);
  for (std::int64_t r0 = first; r0 < n; r0 += opt.block_rows) {
    if (feed && feed->cancelled()) return;
    const std::int64_t rows = std::min(opt.block_rows, n - r0);
    for (auto& r : readers) r.read_block(r0, rows);
    if (feed) feed->publish(r0 + rows);
  }
  if (sparse_rows) in.below_min_activity = sparse_rows->load();
  if (feed) feed->finish();
  if (opt.checksum) in.checksum = src.mem ? memory_checksum(*src.mem) : file_checksum(in.info.path);
}

}  // namespace

void read_views(loaded_input& in, const load_options& opt, row_feed* feed) {
  row_sources src;
  src.file = h5::open_read(in.info.path);
  read_views_from(in, opt, feed, src);
}

void memory_row(const memory_matrix& m, std::int64_t r, double* out) {
  const std::int64_t at = r * m.row_stride;
  switch (m.type) {
    case memory_matrix::element::f32: {
      const float* p = static_cast<const float*>(m.data) + at;
      for (std::int64_t k = 0; k < m.cols; ++k) out[k] = p[k];
      break;
    }
    case memory_matrix::element::f64: {
      const double* p = static_cast<const double*>(m.data) + at;
      for (std::int64_t k = 0; k < m.cols; ++k) out[k] = p[k];
      break;
    }
    case memory_matrix::element::i32: {
      const std::int32_t* p = static_cast<const std::int32_t*>(m.data) + at;
      for (std::int64_t k = 0; k < m.cols; ++k) out[k] = p[k];
      break;
    }
  }
}

input_info inspect_memory(const memory_input& m) {
  input_info info;
  info.path = m.name;
  const bool strings = !m.string_ids.empty();
  CHORUS_EXPECTS(!strings || m.ids.empty(), "give integer ids or string ids, not both");
  info.n = static_cast<std::int64_t>(strings ? m.string_ids.size() : m.ids.size());
  info.id_dtype = strings ? "string" : "int64";
  std::uint64_t bytes = static_cast<std::uint64_t>(info.n) * 8;
  const auto check = [&](const memory_matrix& v, const char* what) {
    if (!v.present()) return;
    CHORUS_EXPECTS(v.rows == info.n, what, " has ", v.rows, " rows but there are ", info.n,
                   " account ids");
    CHORUS_EXPECTS(v.cols >= 1, what, " must have at least one column");
    CHORUS_EXPECTS(v.row_stride >= v.cols, what, ": row stride below the row length");
    bytes += static_cast<std::uint64_t>(checked_mul(v.rows, v.cols, what)) * v.element_size();
  };
  check(m.embedding, "embedding");
  check(m.activity, "activity");
  info.has_embedding = m.embedding.present();
  info.has_activity = m.activity.present();
  info.dim = m.embedding.cols;
  info.bins = m.activity.cols;
  info.embedding_dtype = info.has_embedding ? m.embedding.dtype() : "";
  info.activity_dtype = info.has_activity ? m.activity.dtype() : "";
  CHORUS_EXPECTS(m.handles.empty() || static_cast<std::int64_t>(m.handles.size()) == info.n,
                 "handles has ", m.handles.size(), " entries but there are ", info.n,
                 " account ids");
  CHORUS_EXPECTS(m.truth.empty() || static_cast<std::int64_t>(m.truth.size()) == info.n,
                 "truth has ", m.truth.size(), " entries but there are ", info.n, " account ids");
  info.has_handles = !m.handles.empty();
  info.has_truth = !m.truth.empty();
  info.file_size = bytes;
  return info;
}

loaded_input open_input(const memory_input& m, const load_options& opt) {
  CHORUS_EXPECTS(opt.block_rows >= 1, "block_rows must be >= 1");
  CHORUS_EXPECTS(opt.row_begin >= 0, "row_begin must be >= 0");
  loaded_input in;
  in.info = inspect_memory(m);
  const std::int64_t n = in.info.n;
  if (m.string_ids.empty()) {
    in.ids = m.ids;
  } else {
    in.ids.resize(static_cast<std::size_t>(n));
    hash_string_ids(m.string_ids, 0, in.ids.data());
  }
  check_unique_ids(in.ids, [&](std::int64_t row) {
    return m.string_ids.empty() ? std::string() : m.string_ids[static_cast<std::size_t>(row)];
  });
  if (in.info.has_handles) check_handle_block(m.handles, 0, in.ids.data());
  in.truth = m.truth;
  const std::int64_t first = std::min(opt.row_begin, n);
  if (opt.embedding) {
    CHORUS_EXPECTS(in.info.has_embedding, "no embedding was given, which this run needs");
    alloc_view(in.embedding, "/embedding", n, in.info.dim, first);
  }
  if (opt.activity) {
    CHORUS_EXPECTS(in.info.has_activity, "no activity was given, which this run needs");
    alloc_view(in.activity, "/activity", n, in.info.bins, first);
  }
  return in;
}

void read_views(loaded_input& in, const load_options& opt, row_feed* feed, const memory_input& m) {
  row_sources src;
  src.mem = &m;
  read_views_from(in, opt, feed, src);
}

loaded_input load_input(const memory_input& m, const load_options& opt) {
  loaded_input in = open_input(m, opt);
  read_views(in, opt, nullptr, m);
  return in;
}

loaded_input load_input(const input_info& info, const load_options& opt) {
  loaded_input in = open_input(info, opt);
  read_views(in, opt, nullptr);
  return in;
}

loaded_input load_input(const std::string& path, const load_options& opt) {
  return load_input(inspect_input(path), opt);
}

}  // namespace chorus
