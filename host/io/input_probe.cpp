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

#include "chorus/core/error.hpp"
#include "chorus/io/input.hpp"

namespace chorus {

void probe_input_isolated(const std::string& path, bool crash_only) {
  int fds[2];
  if (pipe(fds) != 0) return;  // no isolation available: the in-process checks still run
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return;
  }
  if (pid == 0) {
    // The child reports "OK" or "E<code>:<message>"; a child that ends without a report crashed
    // (a signal, or a sanitizer's own exit after catching one).
    close(fds[0]);
    // what a crashing library (or a sanitizer catching the crash) prints stays out of chorus's
    // one-line error output
    const int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0) dup2(devnull, STDERR_FILENO);
    std::string report = "OK";
    try {
      const input_info info = inspect_input(path);
      if (info.has_handles) check_handles(path);
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
  if (w != pid) return;
  if (msg.empty() || (msg != "OK" && msg[0] != 'E')) {
    const std::string how = WIFSIGNALED(st) ? std::string(strsignal(WTERMSIG(st)))
                                            : "exit status " + std::to_string(WEXITSTATUS(st));
    CHORUS_THROW(input_error, "'", path,
                 "' is damaged: the HDF5 library crashed reading its "
                 "metadata (",
                 how, ")");
  }
  if (msg == "OK" || crash_only) return;
  const auto colon = msg.find(':');
  const int code = std::atoi(msg.substr(1, colon - 1).c_str());
  const std::string text = colon == std::string::npos ? msg : msg.substr(colon + 1);
  if (code == static_cast<int>(exit_code::bad_input)) CHORUS_THROW(input_error, text);
  CHORUS_THROW(runtime_failure, text);
}

}  // namespace chorus
