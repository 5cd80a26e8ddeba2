// chorus: read an input's metadata in a child process first, so that a damaged file which
// crashes the HDF5 library itself (as fuzzing found in HDF5 1.10's metadata cache) ends with a
// clear error and exit code 2 instead of taking chorus down.
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <string>

#include "chorus/error.hpp"
#include "chorus/views.hpp"

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
    close(fds[0]);
    int code = 0;
    std::string msg;
    try {
      inspect_input(path);
    } catch (const error& e) {
      code = static_cast<int>(e.code());
      msg = e.what();
    } catch (const std::exception& e) {
      code = 1;
      msg = e.what();
    }
    if (!msg.empty()) {
      ssize_t w = write(fds[1], msg.data(), msg.size());
      (void)w;
    }
    close(fds[1]);
    _exit(code);
  }
  close(fds[1]);
  std::string msg;
  char buf[512];
  ssize_t got;
  while ((got = read(fds[0], buf, sizeof buf)) > 0) msg.append(buf, static_cast<std::size_t>(got));
  close(fds[0]);
  int st = 0;
  if (waitpid(pid, &st, 0) != pid) return;
  if (WIFSIGNALED(st))
    CHORUS_THROW(input_error, "'", path,
                 "' is damaged: the HDF5 library crashed reading its "
                 "metadata (",
                 strsignal(WTERMSIG(st)), ")");
  if (WIFEXITED(st) && WEXITSTATUS(st) != 0 && !crash_only) {
    if (WEXITSTATUS(st) == static_cast<int>(exit_code::bad_input))
      CHORUS_THROW(input_error, msg.empty() ? "'" + path + "' is not a valid input" : msg);
    CHORUS_THROW(runtime_failure, msg.empty() ? "checking '" + path + "' failed" : msg);
  }
}

}  // namespace chorus
