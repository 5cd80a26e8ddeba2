// chorus: edge store with sorted spill runs.
#include "chorus/io/edge_store.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <queue>

#include "chorus/core/error.hpp"

namespace chorus {

namespace {
bool before(const edge& a, const edge& b) { return a.src != b.src ? a.src < b.src : a.dst < b.dst; }
}  // namespace

edge_store::edge_store(std::uint64_t cap_edges, std::string spill_dir)
    : cap_(cap_edges), dir_(std::move(spill_dir)) {}

edge_store::~edge_store() {
  for (const auto& r : runs_) std::remove(r.c_str());
  if (!runs_.empty()) ::rmdir(dir_.c_str());
}

void edge_store::append(const edge* e, std::size_t count) {
  buf_.insert(buf_.end(), e, e + count);
  total_ += count;
  if (cap_ > 0 && buf_.size() >= cap_) spill();
}

void edge_store::spill() {
  if (buf_.empty()) return;
  if (runs_.empty()) {
    struct stat st {};
    if (stat(dir_.c_str(), &st) != 0 && ::mkdir(dir_.c_str(), 0700) != 0)
      CHORUS_THROW(runtime_failure, "cannot create spill directory '", dir_,
                   "': ", std::strerror(errno));
  }
  std::sort(buf_.begin(), buf_.end(), before);
  const std::string name = dir_ + "/run-" + std::to_string(runs_.size()) + ".bin";
  FILE* f = std::fopen(name.c_str(), "wb");
  if (!f) CHORUS_THROW(runtime_failure, "cannot write spill file '", name, "'");
  const bool ok = std::fwrite(buf_.data(), sizeof(edge), buf_.size(), f) == buf_.size();
  if (std::fclose(f) != 0 || !ok) {
    std::remove(name.c_str());
    CHORUS_THROW(runtime_failure, "writing spill file '", name, "' failed (disk full?)");
  }
  runs_.push_back(name);
  run_sizes_.push_back(buf_.size());
  std::vector<edge>().swap(buf_);  // give the memory back
}

void edge_store::for_each_sorted(const std::function<void(const edge*, std::size_t)>& fn,
                                 std::size_t chunk) {
  std::sort(buf_.begin(), buf_.end(), before);
  if (runs_.empty()) {
    for (std::size_t k = 0; k < buf_.size(); k += chunk)
      fn(buf_.data() + k, std::min(chunk, buf_.size() - k));
    return;
  }
  // k-way merge: each run is read through a small window; the buffer is the last source
  struct source {
    FILE* f = nullptr;
    std::vector<edge> win;
    std::size_t pos = 0;
    std::uint64_t left = 0;
    const std::vector<edge>* mem = nullptr;
    bool refill() {
      if (mem) return pos < mem->size();
      if (pos < win.size()) return true;
      if (left == 0) return false;
      const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(left, 8192));
      win.resize(want);
      if (std::fread(win.data(), sizeof(edge), want, f) != want)
        CHORUS_THROW(runtime_failure, "spill file is truncated");
      left -= want;
      pos = 0;
      return true;
    }
    const edge& head() const { return mem ? (*mem)[pos] : win[pos]; }
  };
  std::vector<source> src(runs_.size() + 1);
  for (std::size_t r = 0; r < runs_.size(); ++r) {
    src[r].f = std::fopen(runs_[r].c_str(), "rb");
    if (!src[r].f) CHORUS_THROW(runtime_failure, "cannot read spill file '", runs_[r], "'");
    src[r].left = run_sizes_[r];
  }
  src.back().mem = &buf_;
  auto cmp = [&](std::size_t a, std::size_t b) { return before(src[b].head(), src[a].head()); };
  std::priority_queue<std::size_t, std::vector<std::size_t>, decltype(cmp)> heap(cmp);
  for (std::size_t s = 0; s < src.size(); ++s)
    if (src[s].refill()) heap.push(s);
  std::vector<edge> out;
  out.reserve(chunk);
  try {
    while (!heap.empty()) {
      const std::size_t s = heap.top();
      heap.pop();
      out.push_back(src[s].head());
      ++src[s].pos;
      if (src[s].refill()) heap.push(s);
      if (out.size() == chunk) {
        fn(out.data(), out.size());
        out.clear();
      }
    }
    if (!out.empty()) fn(out.data(), out.size());
  } catch (...) {
    for (auto& s : src)
      if (s.f) std::fclose(s.f);
    throw;
  }
  for (auto& s : src)
    if (s.f) std::fclose(s.f);
}

std::vector<edge> edge_store::take_sorted() {
  if (spilled())
    CHORUS_THROW(limit_error, "the edge list (", total_,
                 " edges) does not fit in --max-memory "
                 "and was spilled to disk; --topk needs it in memory: raise "
                 "--max-memory or the threshold(s)");
  std::sort(buf_.begin(), buf_.end(), before);
  total_ = 0;
  return std::move(buf_);
}

}  // namespace chorus
