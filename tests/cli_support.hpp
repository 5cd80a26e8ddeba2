// Helpers for tests that run the chorus executable (CHORUS_BINARY): run it without a shell
// (arguments passed as they are, so paths may hold quotes or control characters), with extra
// environment variables, capturing stdout, stderr and the exit status.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "build_paths.hpp"

namespace chorus::cli_test {

struct cli_result {
  int code = -1;    ///< exit status; 128 + signal when killed
  std::string out;  ///< stdout
  std::string err;  ///< stderr
};

inline std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

inline bool exists(const std::string& p) {
  struct stat st {};
  return stat(p.c_str(), &st) == 0;
}

/// Run `chorus args...` with `env` ("NAME=value" entries added to the environment), its output
/// captured through files in `dir`.
inline cli_result run_cli(const std::vector<std::string>& args, const std::string& dir,
                          const std::vector<std::string>& env = {}) {
  const std::string out = dir + "/.cli_stdout", err = dir + "/.cli_stderr";
  const pid_t pid = fork();
  if (pid == 0) {
    const int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int in = ::open("/dev/null", O_RDONLY);
    if (o < 0 || e < 0 || in < 0) _exit(126);
    dup2(in, 0), dup2(o, 1), dup2(e, 2);
    for (const auto& kv : env) putenv(const_cast<char*>(kv.c_str()));
    std::vector<std::string> a = {CHORUS_BINARY};
    a.insert(a.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& s : a) argv.push_back(s.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  cli_result r;
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

/// Run a shell command; its exit code and stdout.
inline std::pair<int, std::string> shell(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return {-1, out};
  char buf[4096];
  std::size_t got;
  while ((got = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, got);
  const int st = pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

/// The mpirun command line to start ranks here ("" when mpirun is not installed).
inline std::string mpirun() {
  auto [rc, path] = shell("command -v mpirun");
  while (!path.empty() && (path.back() == '\n' || path.back() == ' ')) path.pop_back();
  if (rc != 0 || path.empty()) return "";
  return path + " --oversubscribe" + (geteuid() == 0 ? " --allow-run-as-root" : "");
}

/// Number of '\n' in s.
inline long lines_in(const std::string& s) {
  long n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

}  // namespace chorus::cli_test
