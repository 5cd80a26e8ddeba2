// chorus: read an input's metadata in a child process first, so that a damaged file which
// crashes the HDF5 library itself (as fuzzing found in HDF5 1.10's metadata cache) ends with a
// clear error and exit code 2 instead of taking chorus down.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "chorus/core/error.hpp"
#include "chorus/io/input.hpp"

namespace chorus {

namespace {

constexpr char kSep = '\x1f';  // between the fields of an input_info sent by the child

constexpr char kListSep = '\x1e';  // between the entries of a list field

std::string pack(const input_info& i) {
  std::string names;
  for (const std::string& u : i.unrecognised) names += u + kListSep;
  std::string s;
  for (const std::string& f :
       {std::to_string(i.file_size), std::to_string(i.n), std::to_string(i.has_embedding),
        std::to_string(i.has_activity), std::to_string(i.has_handles), std::to_string(i.has_truth),
        std::to_string(i.dim), std::to_string(i.bins), i.embedding_dtype, i.activity_dtype, names,
        i.id_dtype})
    s += f + kSep;
  return s;
}

// The child's fields back into an input_info for `path`; false when they do not parse.
bool unpack(const std::string& s, const std::string& path, input_info* out) {
  std::vector<std::string> f;
  std::size_t at = 0;
  for (std::size_t sep; (sep = s.find(kSep, at)) != std::string::npos; at = sep + 1)
    f.push_back(s.substr(at, sep - at));
  if (f.size() != 12) return false;
  try {
    out->path = path;
    out->file_size = std::stoull(f[0]);
    out->n = std::stoll(f[1]);
    out->has_embedding = f[2] == "1";
    out->has_activity = f[3] == "1";
    out->has_handles = f[4] == "1";
    out->has_truth = f[5] == "1";
    out->dim = std::stoll(f[6]);
    out->bins = std::stoll(f[7]);
    out->embedding_dtype = f[8];
    out->activity_dtype = f[9];
    out->unrecognised.clear();
    for (std::size_t a = 0, b; (b = f[10].find(kListSep, a)) != std::string::npos; a = b + 1)
      out->unrecognised.push_back(f[10].substr(a, b - a));
    out->id_dtype = f[11];
  } catch (const std::exception&) {
    return false;
  }
  return true;
}

// Inspect `path` in a child process. Returns true with *info set when the child reported the
// layout; false when no child could run (the caller inspects in-process). Throws input_error
// when the child crashed, and the child's error when it found the file bad (unless
// `crash_only`).
bool inspect_in_child(const std::string& path, bool crash_only, input_info* info) {
  int fds[2];
  if (pipe(fds) != 0) return false;  // no isolation available: the in-process checks still run
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return false;
  }
  if (pid == 0) {
    // The child reports "OK<fields>" or "E<code>:<message>"; a child that ends without a report
    // crashed (a signal, or a sanitizer's own exit after catching one).
    close(fds[0]);
    // what a crashing library (or a sanitizer catching the crash) prints stays out of chorus's
    // one-line error output
    const int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0) dup2(devnull, STDERR_FILENO);
    std::string report;
    try {
      const input_info info = inspect_input(path);
      if (info.has_handles || info.string_ids()) check_handles(path);
      report = "OK" + pack(info);
    } catch (const error& e) {
      report = "E" + std::to_string(static_cast<int>(e.code())) + ":" + e.what();
    } catch (const std::exception& e) {
      report = std::string("E1:") + e.what();
    }
    ssize_t w = write(fds[1], report.data(), report.size());
    (void)w;
    close(fds[1]);
    _exit(0);
  }
  close(fds[1]);
  std::string msg;
  char buf[512];
  ssize_t got;
  // a stop signal (SIGTERM/SIGINT, whose handler only sets a flag) interrupts these calls: retry,
  // or the child would die writing to a closed pipe and look like an HDF5 crash
  for (;;) {
    got = read(fds[0], buf, sizeof buf);
    if (got > 0)
      msg.append(buf, static_cast<std::size_t>(got));
    else if (got < 0 && errno == EINTR)
      continue;
    else
      break;
  }
  close(fds[0]);
  int st = 0;
  pid_t w;
  while ((w = waitpid(pid, &st, 0)) < 0 && errno == EINTR) {
  }
  if (w != pid) return false;
  const bool ok = msg.size() >= 2 && msg.compare(0, 2, "OK") == 0;
  if (msg.empty() || (!ok && msg[0] != 'E') || (ok && !unpack(msg.substr(2), path, info))) {
    const std::string how = WIFSIGNALED(st) ? std::string(strsignal(WTERMSIG(st)))
                                            : "exit status " + std::to_string(WEXITSTATUS(st));
    CHORUS_THROW(input_error, "'", path,
                 "' is damaged: the HDF5 library crashed reading its "
                 "metadata (",
                 how, ")");
  }
  if (ok) return true;
  if (crash_only) return false;
  const auto colon = msg.find(':');
  const int code = std::atoi(msg.substr(1, colon - 1).c_str());
  const std::string text = colon == std::string::npos ? msg : msg.substr(colon + 1);
  if (code == static_cast<int>(exit_code::bad_input)) CHORUS_THROW(input_error, text);
  CHORUS_THROW(runtime_failure, text);
}

}  // namespace

void probe_input_isolated(const std::string& path, bool crash_only) {
  input_info info;
  inspect_in_child(path, crash_only, &info);
}

input_info inspect_input_isolated(const std::string& path) {
  input_info info;
  if (inspect_in_child(path, false, &info)) return info;
  return inspect_input(path);  // no child could run: in-process
}

}  // namespace chorus
