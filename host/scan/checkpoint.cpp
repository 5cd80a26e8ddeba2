// chorus: checkpoint files and stop signals.
#include "chorus/scan/checkpoint.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "chorus/core/error.hpp"
#include "chorus/core/hash.hpp"
#include "chorus/core/test_hooks.hpp"

namespace chorus {

namespace {

volatile std::sig_atomic_t g_stop = 0;

void on_signal(int) {
  if (g_stop) _exit(static_cast<int>(exit_code::interrupted));  // second signal: at once
  g_stop = 1;
}

// Write `bytes` to dir/name atomically: temporary file, fsync, rename, fsync of the directory.
// The crash_at_write test hook (chorus/core/test_hooks.hpp) ends the process abruptly during
// the n-th write.
void atomic_write(const std::string& dir, const std::string& name, const void* bytes,
                  std::size_t size) {
  static int writes = 0;
  const int crash_at = test_hooks().crash_at_write;
  ++writes;
  const std::string tmp = dir + "/." + name + ".tmp";
  const std::string dst = dir + "/" + name;
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0)
    CHORUS_THROW(runtime_failure, "checkpoint: cannot write '", tmp, "': ", std::strerror(errno));
  const char* p = static_cast<const char*>(bytes);
  std::size_t left = size;
  while (left > 0) {
    if (writes == crash_at && left <= size / 2) _exit(9);  // half-written temporary file
    const ssize_t w = ::write(fd, p, std::min<std::size_t>(left, 1 << 20));
    if (w <= 0) {
      ::close(fd);
      std::remove(tmp.c_str());
      CHORUS_THROW(runtime_failure, "checkpoint: write to '", tmp, "' failed (disk full?)");
    }
    p += w;
    left -= static_cast<std::size_t>(w);
  }
  if (writes == crash_at) _exit(9);  // complete but not yet renamed
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    std::remove(tmp.c_str());
    CHORUS_THROW(runtime_failure, "checkpoint: fsync of '", tmp, "' failed");
  }
  if (std::rename(tmp.c_str(), dst.c_str()) != 0)
    CHORUS_THROW(runtime_failure, "checkpoint: cannot rename '", tmp, "'");
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

std::string this_host() {
  char h[256] = {};
  if (::gethostname(h, sizeof h - 1) != 0) return "?";
  return h;
}

// The owner a lock file records: "pid host\n" (empty when none).
std::string read_record(int fd) {
  char buf[512];
  const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  std::string r(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
  while (!r.empty() && (r.back() == '\n' || r.back() == ' ')) r.pop_back();
  return r;
}

std::string my_record() { return std::to_string(::getpid()) + " " + this_host(); }

bool parse_record(const std::string& record, long& pid, std::string& host) {
  std::istringstream in(record);
  return static_cast<bool>(in >> pid >> host) && pid > 0;
}

// "chorus process 1234 on host node7", for messages.
std::string owner_words(const std::string& record) {
  long pid = 0;
  std::string host;
  if (!parse_record(record, pid, host)) return "another chorus process";
  return "chorus process " + std::to_string(pid) + " on host " + host;
}

void write_record(int fd, const std::string& record) {
  if (::ftruncate(fd, 0) != 0) return;  // the record only helps messages: best effort
  const std::string line = record.empty() ? record : record + "\n";
  if (!line.empty()) (void)!::pwrite(fd, line.data(), line.size(), 0);
}

// Lock dir/.lock for this process (see checkpoint::checkpoint); returns its descriptor.
int lock_directory(const std::string& dir) {
  const std::string lock = dir + "/.lock";
  const int fd = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  CHORUS_EXPECTS(fd >= 0, "cannot create '", lock, "': ", std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    const std::string owner = read_record(fd);
    if (err == EWOULDBLOCK || err == EINTR) {
      ::close(fd);
      CHORUS_THROW(input_error, "checkpoint directory '", dir, "' is in use by ",
                   owner_words(owner), " (it holds '", lock,
                   "'); wait for it to end or stop it, or use another --checkpoint directory");
    }
    // the file system has no flock (some NFS and Lustre mounts): the recorded pid decides
    if (!lock_owner_gone(owner)) {
      ::close(fd);
      CHORUS_THROW(input_error, "checkpoint directory '", dir, "' is in use by ",
                   owner_words(owner), " (this file system does not support flock, so chorus ",
                   "goes by the pid in '", lock, "'; delete that file if the process is gone)");
    }
  }
  // locked: a record left behind is a process that died holding the lock (kill -9, a crash,
  // a node lost); one that ends normally clears its record
  const std::string left = read_record(fd);
  if (!left.empty() && left != my_record())
    std::fprintf(stderr,
                 "chorus: checkpoint directory '%s': took over the stale lock of %s, which is no "
                 "longer running\n",
                 dir.c_str(), owner_words(left).c_str());
  write_record(fd, my_record());
  return fd;
}

// A field's value as shown in a message: numbers in their shortest exact form.
std::string shown(const std::string& v) {
  if (v.empty() || v.find_first_not_of("0123456789.eE+-") != std::string::npos ||
      v.find_first_of(".eE") == std::string::npos)
    return v;
  char* end = nullptr;
  const double x = std::strtod(v.c_str(), &end);
  if (end != v.c_str() + v.size()) return v;
  char buf[40];
  for (int p = 1; p <= 17; ++p) {
    std::snprintf(buf, sizeof buf, "%.*g", p, x);
    if (std::strtod(buf, nullptr) == x) break;
  }
  return buf;
}

// "key=value key=value ...": (key, value) in order; a bare word is its own key and value.
std::vector<std::pair<std::string, std::string>> identity_fields(const std::string& id) {
  std::vector<std::pair<std::string, std::string>> f;
  std::istringstream in(id);
  std::string w;
  while (in >> w) {
    const auto eq = w.find('=');
    if (eq == std::string::npos)
      f.emplace_back(w, w);
    else
      f.emplace_back(w.substr(0, eq), w.substr(eq + 1));
  }
  return f;
}

const std::string* field(const std::vector<std::pair<std::string, std::string>>& f,
                         const std::string& key) {
  for (const auto& kv : f)
    if (kv.first == key) return &kv.second;
  return nullptr;
}

}  // namespace

std::string identity_differences(const std::string& recorded, const std::string& current) {
  const auto a = identity_fields(recorded), b = identity_fields(current);
  std::string out;
  std::vector<std::string> named;
  auto differ = [&](const std::string& key) {
    const std::string *x = field(a, key), *y = field(b, key);
    if ((x && y && *x == *y) || std::find(named.begin(), named.end(), key) != named.end()) return;
    named.push_back(key);
    std::string sx = x ? shown(*x) : "none", sy = y ? shown(*y) : "none";
    if (x && y && sx == sy) sx = *x, sy = *y;  // one number written two ways: show them as written
    out += (out.empty() ? "" : "; ") + key + " (checkpoint " + sx + ", this run " + sy + ")";
  };
  for (const auto& kv : a) differ(kv.first);
  for (const auto& kv : b) differ(kv.first);
  return out;
}

bool lock_owner_gone(const std::string& record) {
  long pid = 0;
  std::string host;
  if (!parse_record(record, pid, host)) return true;  // no owner recorded
  if (host != this_host()) return false;              // cannot tell: presume it runs
  return ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGHUP, &sa, nullptr);  // a dropped ssh or killed tmux session: stop the same way
}
bool stop_requested() { return g_stop != 0; }
void reset_stop_request() { g_stop = 0; }
void request_stop() { g_stop = 1; }

checkpoint::checkpoint(std::string dir, std::string identity, std::int64_t units)
    : dir_(std::move(dir)), identity_(std::move(identity)), units_(units) {
  struct stat st {};
  if (stat(dir_.c_str(), &st) != 0) {
    CHORUS_EXPECTS(::mkdir(dir_.c_str(), 0755) == 0, "cannot create checkpoint directory '", dir_,
                   "': ", std::strerror(errno));
  } else {
    CHORUS_EXPECTS(S_ISDIR(st.st_mode), "--checkpoint '", dir_, "' is not a directory");
  }
  CHORUS_EXPECTS(access(dir_.c_str(), W_OK) == 0, "checkpoint directory '", dir_,
                 "' is not writable");
  // one process per checkpoint directory: an advisory lock held for the life of the object
  lock_fd_ = lock_directory(dir_);
}

checkpoint::~checkpoint() {
  if (lock_fd_ < 0) return;
  write_record(lock_fd_, "");  // ended normally: no stale owner left behind
  ::close(lock_fd_);
}

bool checkpoint::load(checkpoint_state& state, std::vector<edge>& edges) const {
  std::ifstream in(dir_ + "/manifest");
  if (!in) return false;
  std::string magic, key;
  int version = 0;
  in >> magic >> version;
  CHORUS_EXPECTS(magic == "chorus-checkpoint" && version == 1, "'", dir_,
                 "/manifest' is not a chorus checkpoint manifest");
  std::string line;
  std::getline(in, line);
  std::getline(in, line);
  CHORUS_EXPECTS(line.rfind("identity ", 0) == 0, "damaged checkpoint manifest in '", dir_, "'");
  const std::string identity = line.substr(9);
  if (identity != identity_) {
    const std::string diff = identity_differences(identity, identity_);
    CHORUS_THROW(input_error, "the checkpoint in '", dir_,
                 "' belongs to another run (different input or parameters): ",
                 diff.empty() ? "it records: " + identity + "; this run is: " + identity_ : diff,
                 ". Use another --checkpoint directory, or the same input and parameters");
  }
  state.identity = identity;
  std::int64_t units = 0, nshards = 0;
  std::string done_hex;
  in >> key >> units;
  CHORUS_EXPECTS(key == "units" && units == units_, "damaged checkpoint manifest in '", dir_, "'");
  in >> key >> done_hex;
  CHORUS_EXPECTS(key == "done" && static_cast<std::int64_t>(done_hex.size()) == (units + 3) / 4,
                 "damaged checkpoint manifest in '", dir_, "'");
  state.units = units;
  state.done.assign(units, 0);
  for (std::int64_t u = 0; u < units; ++u) {
    const char c = done_hex[u / 4];
    const int v = c >= 'a' ? c - 'a' + 10 : c - '0';
    state.done[u] = (v >> (u % 4)) & 1;
  }
  in >> key >> nshards;
  CHORUS_EXPECTS(key == "shards" && nshards >= 0, "damaged checkpoint manifest in '", dir_, "'");
  for (std::int64_t s = 0; s < nshards; ++s) {
    std::string name;
    std::int64_t count = 0;
    std::uint64_t sum = 0;
    in >> name >> count >> std::hex >> sum >> std::dec;
    CHORUS_EXPECTS(in.good() && name.find('/') == std::string::npos,
                   "damaged checkpoint manifest in '", dir_, "'");
    std::ifstream sh(dir_ + "/" + name, std::ios::binary);
    CHORUS_EXPECTS(sh.good(), "checkpoint shard '", name, "' is missing in '", dir_, "'");
    std::vector<edge> part(static_cast<std::size_t>(count));
    sh.read(reinterpret_cast<char*>(part.data()),
            static_cast<std::streamsize>(count * sizeof(edge)));
    CHORUS_EXPECTS(sh.gcount() == static_cast<std::streamsize>(count * sizeof(edge)) &&
                       fnv1a64(part.data(), part.size() * sizeof(edge)) == sum,
                   "checkpoint shard '", name, "' in '", dir_, "' is damaged");
    edges.insert(edges.end(), part.begin(), part.end());
    state.shards.push_back(name);
    state.shard_edges.push_back(count);
    state.shard_sums.push_back(sum);
  }
  // the candidates of the completed units (absent from manifests of older versions: 0)
  state.candidates = 0;
  if (in >> key && key == "candidates")
    CHORUS_EXPECTS(in >> state.candidates && state.candidates >= 0,
                   "damaged checkpoint manifest in '", dir_, "'");
  return true;
}

void checkpoint::save(checkpoint_state& state, const std::vector<std::int64_t>& newly_done,
                      const std::vector<edge>& edges, std::int64_t candidates) {
  if (state.done.empty()) {
    state.identity = identity_;
    state.units = units_;
    state.done.assign(units_, 0);
  }
  char name[32];
  std::snprintf(name, sizeof name, "shard-%06zu.bin", state.shards.size());
  atomic_write(dir_, name, edges.data(), edges.size() * sizeof(edge));
  std::vector<std::uint8_t> done = state.done;
  for (auto u : newly_done) done[u] = 1;
  std::ostringstream m;
  m << "chorus-checkpoint 1\nidentity " << identity_ << "\nunits " << units_ << "\ndone ";
  for (std::int64_t q = 0; q < (units_ + 3) / 4; ++q) {
    int v = 0;
    for (int b = 0; b < 4 && q * 4 + b < units_; ++b) v |= done[q * 4 + b] << b;
    m << "0123456789abcdef"[v];
  }
  std::vector<std::string> shards = state.shards;
  std::vector<std::int64_t> counts = state.shard_edges;
  std::vector<std::uint64_t> sums = state.shard_sums;
  shards.push_back(name);
  counts.push_back(static_cast<std::int64_t>(edges.size()));
  sums.push_back(fnv1a64(edges.data(), edges.size() * sizeof(edge)));
  m << "\nshards " << shards.size() << "\n";
  for (std::size_t s = 0; s < shards.size(); ++s)
    m << shards[s] << " " << counts[s] << " " << std::hex << sums[s] << std::dec << "\n";
  // last, so that older versions, which stop after the shards, still read the manifest
  m << "candidates " << state.candidates + candidates << "\n";
  const std::string text = m.str();
  atomic_write(dir_, "manifest", text.data(), text.size());
  state.candidates += candidates;
  state.done = std::move(done);
  state.shards = std::move(shards);
  state.shard_edges = std::move(counts);
  state.shard_sums = std::move(sums);
}

bool checkpoint::resume(checkpoint_state& state, std::vector<edge>& edges, bool resume) const {
  const bool found = load(state, edges);
  CHORUS_EXPECTS(!found || resume, "checkpoint directory '", dir_,
                 "' already holds a checkpoint; pass --resume to continue it, or use an empty "
                 "directory");
  return found;
}

void throw_interrupted(std::int64_t done, std::int64_t total, bool checkpointed) {
  CHORUS_THROW(interrupted_error, "stopped by a signal after ", done, " of ", total, " pairs",
               checkpointed
                   ? "; a checkpoint was written: rerun the same command with --resume to continue"
                   : " (no --checkpoint given, so the run must start over)");
}

void checkpoint::remove() const { remove_checkpoint(dir_); }

void remove_checkpoint(const std::string& dir_) {
  std::ifstream in(dir_ + "/manifest");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("shard-", 0) == 0)
      std::remove((dir_ + "/" + line.substr(0, line.find(' '))).c_str());
  std::remove((dir_ + "/manifest").c_str());
  std::remove((dir_ + "/.lock").c_str());
  ::rmdir(dir_.c_str());  // only when empty
}

}  // namespace chorus
