// chorus: launching the report tool (no shell involved).
#include "chorus/outputs/report.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>

#include "chorus/core/error.hpp"
#include "chorus/io/results.hpp"
#include "chorus/io/input.hpp"

#ifndef CHORUS_SOURCE_TREE
#define CHORUS_SOURCE_TREE ""
#endif

namespace chorus {

int run_report_tool(const std::string& results, const std::string& out,
                    const std::vector<std::string>& extra) {
  probe_input_isolated(results, /*crash_only=*/true);  // a file that crashes HDF5: exit code 2
  if (is_results_file(results)) check_edge_shards(results);
  std::vector<std::string> tools;
  if (const char* e = std::getenv("CHORUS_REPORT_TOOL")) tools.emplace_back(e);
  char buf[PATH_MAX];
  const ssize_t len = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (len > 0) {
    std::string dir(buf, static_cast<std::size_t>(len));
    dir = dir.substr(0, dir.rfind('/'));
    tools.push_back(dir + "/../share/chorus/chorus_report.py");
  }
  if (*CHORUS_SOURCE_TREE)
    tools.push_back(std::string(CHORUS_SOURCE_TREE) + "/host/outputs/chorus_report.py");
  std::string tool;
  for (const auto& t : tools)
    if (access(t.c_str(), R_OK) == 0) {
      tool = t;
      break;
    }
  if (tool.empty())
    CHORUS_THROW(runtime_failure,
                 "report tool chorus_report.py not found (set CHORUS_REPORT_TOOL)");
  const char* py_env = std::getenv("CHORUS_PYTHON");
  const std::string python = py_env && *py_env ? py_env : "/usr/bin/python3";
  if (access(python.c_str(), X_OK) != 0)
    CHORUS_THROW(runtime_failure, "'", python,
                 "' not found; chorus report needs Debian's python3 "
                 "with python3-matplotlib and python3-h5py (.ci/setup.sh installs them)");
  std::vector<std::string> args = {python, tool, results, "--out", out};
  args.insert(args.end(), extra.begin(), extra.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) CHORUS_THROW(runtime_failure, "cannot start the report tool");
  if (pid == 0) {
    execv(python.c_str(), argv.data());
    _exit(127);
  }
  int st = 0;
  if (waitpid(pid, &st, 0) < 0) CHORUS_THROW(runtime_failure, "waiting for the report tool failed");
  if (!WIFEXITED(st))
    CHORUS_THROW(runtime_failure, "the report tool was killed by signal ", WTERMSIG(st));
  const int rc = WEXITSTATUS(st);
  if (rc == 127) CHORUS_THROW(runtime_failure, "cannot run '", python, "'");
  return rc;
}

}  // namespace chorus
