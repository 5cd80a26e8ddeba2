// chorus ingest (private): the post spool (post_spool.hpp).
#include "post_spool.hpp"

#include <unistd.h>

#include <atomic>
#include <cstring>

#include "chorus/core/error.hpp"

namespace chorus::ingest {

namespace {

std::FILE* open_temp(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "w+b");
  if (!f)
    CHORUS_THROW(runtime_failure, "ingest: cannot create temporary file '", path,
                 "': ", std::strerror(errno));
  std::setvbuf(f, nullptr, _IOFBF, 1 << 20);
  return f;
}

void write_all(std::FILE* f, const void* p, std::size_t n, const std::string& path) {
  if (n && std::fwrite(p, 1, n, f) != n)
    CHORUS_THROW(runtime_failure, "ingest: cannot write temporary file '", path, "' (disk full?)");
}

void read_all(std::FILE* f, void* p, std::size_t n, const std::string& path) {
  if (n && std::fread(p, 1, n, f) != n)
    CHORUS_THROW(runtime_failure, "ingest: temporary file '", path, "' ended early");
}

}  // namespace

post_spool::post_spool(const std::string& dir) {
  static std::atomic<int> serial{0};
  const std::string stem =
      dir + "/.chorus-ingest-" + std::to_string(::getpid()) + "-" + std::to_string(serial++);
  rec_path_ = stem + ".posts";
  str_path_ = stem + ".strings";
  // unlinked at once: nothing is left behind when the process is stopped or killed
  rec_ = open_temp(rec_path_);
  std::remove(rec_path_.c_str());
  try {
    str_ = open_temp(str_path_);
  } catch (...) {
    std::fclose(rec_);
    throw;
  }
  std::remove(str_path_.c_str());
}

post_spool::~post_spool() {
  if (rec_) std::fclose(rec_);
  if (str_) std::fclose(str_);
}

void post_spool::append(const spooled_post& p, const std::vector<std::string>& strings) {
  write_all(rec_, &p, sizeof p, rec_path_);
  for (const std::string& s : strings) {
    const auto len = static_cast<std::uint32_t>(s.size());
    write_all(str_, &len, sizeof len, str_path_);
    write_all(str_, s.data(), s.size(), str_path_);
  }
  ++count_;
}

void post_spool::seal() {
  if (std::fflush(rec_) != 0 || std::fflush(str_) != 0)
    CHORUS_THROW(runtime_failure, "ingest: cannot write temporary files (disk full?)");
}

void post_spool::for_each_block(
    std::size_t block, bool strings,
    const std::function<void(const std::vector<spooled_post>&,
                             const std::vector<spooled_strings>&)>& fn) const {
  std::rewind(rec_);
  std::rewind(str_);
  std::vector<spooled_post> recs;
  std::vector<spooled_strings> strs;
  std::string buf;
  for (std::int64_t done = 0; done < count_;) {
    const auto n = static_cast<std::size_t>(
        std::min<std::int64_t>(static_cast<std::int64_t>(block), count_ - done));
    recs.resize(n);
    read_all(rec_, recs.data(), n * sizeof(spooled_post), rec_path_);
    strs.clear();
    if (strings) {
      strs.resize(n);
      for (std::size_t i = 0; i < n; ++i) {
        const int k = recs[i].n_urls + recs[i].n_hashtags + recs[i].n_mentions +
                      (recs[i].n_tokens > 0 ? 1 : 0);  // the token blob
        strs[i].items.resize(k);
        for (int j = 0; j < k; ++j) {
          std::uint32_t len = 0;
          read_all(str_, &len, sizeof len, str_path_);
          strs[i].items[j].resize(len);
          read_all(str_, strs[i].items[j].data(), len, str_path_);
        }
      }
    }
    fn(recs, strs);
    done += static_cast<std::int64_t>(n);
  }
  std::fseek(rec_, 0, SEEK_END);
  std::fseek(str_, 0, SEEK_END);
}

}  // namespace chorus::ingest
