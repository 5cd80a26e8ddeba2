// chorus ingest: byte sources (plain, gzip incl. multi-member, zstd) and the sliding text buffer.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <cerrno>
#include <cstring>

#include "chorus/core/error.hpp"
#include "reader_internal.hpp"

namespace chorus::ingest::detail {

namespace {
constexpr std::size_t kInputBytes = std::size_t(1) << 20;  // compressed bytes per read(2)
constexpr std::size_t kPadding = 64;                       // >= SIMDJSON_PADDING
}  // namespace

const char* compression_name(compression c) {
  switch (c) {
    case compression::gzip:
      return "gzip";
    case compression::zstd:
      return "zstd";
    default:
      return "plain";
  }
}

struct byte_source::impl {
  std::string path;
  int fd = -1;
  std::int64_t size = 0;
  std::int64_t pos = 0;  // bytes read from fd
  compression kind = compression::none;
  std::vector<unsigned char> in = std::vector<unsigned char>(kInputBytes);
  std::size_t in_beg = 0, in_end = 0;
  bool in_eof = false;
  z_stream z{};
  bool z_ready = false;
  bool member_done = false;  // gzip: between members
  ZSTD_DStream* zs = nullptr;
  std::size_t zret = 0;  // zstd: last return, 0 = frame complete

  ~impl() {
    if (z_ready) inflateEnd(&z);
    if (zs) ZSTD_freeDStream(zs);
    if (fd >= 0) close(fd);
  }

  /// Reads the next piece of the file into `in` when it is empty; false at the end of the file.
  bool fill() {
    if (in_beg < in_end) return true;
    if (in_eof) return false;
    in_beg = in_end = 0;
    ssize_t n;
    do n = ::read(fd, in.data(), in.size());
    while (n < 0 && errno == EINTR);
    if (n < 0) CHORUS_THROW(input_error, path, ": cannot read: ", std::strerror(errno));
    in_end = static_cast<std::size_t>(n);
    pos += n;
    in_eof = n == 0;
    return n > 0;
  }

  [[noreturn]] void truncated() const {
    CHORUS_THROW(input_error, path, ": truncated ", compression_name(kind),
                 " data (the file ends inside a compressed stream)");
  }

  std::size_t read_plain(char* dst, std::size_t cap) {
    if (in_beg < in_end) {
      std::size_t n = std::min(cap, in_end - in_beg);
      std::memcpy(dst, in.data() + in_beg, n);
      in_beg += n;
      return n;
    }
    if (in_eof) return 0;
    ssize_t n;
    do n = ::read(fd, dst, cap);
    while (n < 0 && errno == EINTR);
    if (n < 0) CHORUS_THROW(input_error, path, ": cannot read: ", std::strerror(errno));
    pos += n;
    in_eof = n == 0;
    return static_cast<std::size_t>(n);
  }

  /// Between gzip members: true when another member starts (zero padding is skipped).
  bool next_member() {
    for (;;) {
      if (!fill()) return false;
      while (in_beg < in_end && in[in_beg] == 0) ++in_beg;
      if (in_beg == in_end) continue;
      if (in[in_beg] != 0x1f)
        CHORUS_THROW(input_error, path, ": data after the end of the gzip stream is not gzip");
      if (inflateReset(&z) != Z_OK) CHORUS_THROW(runtime_failure, path, ": zlib inflateReset");
      member_done = false;
      return true;
    }
  }

  std::size_t read_gzip(char* dst, std::size_t cap) {
    z.next_out = reinterpret_cast<Bytef*>(dst);
    z.avail_out = static_cast<uInt>(cap);
    while (z.avail_out > 0) {
      if (member_done && !next_member()) break;
      if (!fill()) truncated();
      z.next_in = in.data() + in_beg;
      z.avail_in = static_cast<uInt>(in_end - in_beg);
      int r = inflate(&z, Z_NO_FLUSH);
      in_beg = in_end - z.avail_in;
      if (r == Z_STREAM_END) {
        member_done = true;
      } else if (r != Z_OK && r != Z_BUF_ERROR) {
        CHORUS_THROW(input_error, path, ": corrupt gzip data: ", z.msg ? z.msg : "inflate failed");
      }
    }
    return cap - z.avail_out;
  }

  std::size_t read_zstd(char* dst, std::size_t cap) {
    ZSTD_outBuffer out{dst, cap, 0};
    while (out.pos < out.size) {
      fill();
      ZSTD_inBuffer inb{in.data() + in_beg, in_end - in_beg, 0};
      std::size_t before = out.pos;
      std::size_t r = ZSTD_decompressStream(zs, &out, &inb);
      in_beg += inb.pos;
      if (ZSTD_isError(r))
        CHORUS_THROW(input_error, path, ": corrupt zstd data: ", ZSTD_getErrorName(r));
      if (inb.pos > 0 || out.pos > before) {
        zret = r;  // 0 once a frame is complete and flushed
        continue;
      }
      if (in_eof && in_beg == in_end) {
        if (zret != 0) truncated();
        break;
      }
    }
    return out.pos;
  }
};

byte_source::byte_source(const std::string& path) : p_(std::make_unique<impl>()) {
  p_->path = path;
  p_->fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (p_->fd < 0) CHORUS_THROW(input_error, path, ": cannot open: ", std::strerror(errno));
  struct stat st {};
  if (fstat(p_->fd, &st) != 0)
    CHORUS_THROW(input_error, path, ": cannot stat: ", std::strerror(errno));
  if (S_ISDIR(st.st_mode)) CHORUS_THROW(input_error, path, ": is a directory, not a file");
  p_->size = st.st_size;
  p_->fill();
  const unsigned char* b = p_->in.data();
  std::size_t n = p_->in_end;
  if (n >= 2 && b[0] == 0x1f && b[1] == 0x8b) {
    p_->kind = compression::gzip;
    if (inflateInit2(&p_->z, 16 + MAX_WBITS) != Z_OK)
      CHORUS_THROW(runtime_failure, path, ": zlib inflateInit2 failed");
    p_->z_ready = true;
  } else if (n >= 4 && b[0] == 0x28 && b[1] == 0xb5 && b[2] == 0x2f && b[3] == 0xfd) {
    p_->kind = compression::zstd;
    p_->zs = ZSTD_createDStream();
    if (!p_->zs || ZSTD_isError(ZSTD_initDStream(p_->zs)))
      CHORUS_THROW(runtime_failure, path, ": ZSTD_initDStream failed");
  }
}

byte_source::~byte_source() = default;

std::size_t byte_source::read(char* dst, std::size_t cap) {
  if (cap == 0) return 0;
  switch (p_->kind) {
    case compression::gzip:
      return p_->read_gzip(dst, cap);
    case compression::zstd:
      return p_->read_zstd(dst, cap);
    default:
      return p_->read_plain(dst, cap);
  }
}

compression byte_source::kind() const { return p_->kind; }
std::int64_t byte_source::file_size() const { return p_->size; }
std::int64_t byte_source::file_pos() const { return p_->pos; }

text_buffer::text_buffer(byte_source& src, std::size_t chunk) : src_(src) {
  data_.assign(chunk + kPadding, 0);
}

std::size_t text_buffer::refill(const char* keep) {
  std::size_t k = static_cast<std::size_t>(keep - begin());
  std::size_t rest = size_ - k;
  if (k > 0 && rest > 0) std::memmove(data_.data(), data_.data() + k, rest);
  size_ = rest;
  std::size_t cap = data_.size() - kPadding;
  if (cap - size_ < cap / 2) {  // the kept record fills most of the buffer: double it
    cap *= 2;
    data_.resize(cap + kPadding);
  }
  std::size_t added = 0;
  while (size_ < cap && !eof_) {
    std::size_t n = src_.read(data_.data() + size_, cap - size_);
    if (n == 0) eof_ = true;
    size_ += n;
    added += n;
  }
  std::memset(data_.data() + size_, 0, kPadding);
  return added;
}

}  // namespace chorus::ingest::detail
