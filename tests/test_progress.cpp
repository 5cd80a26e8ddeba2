// Progress on stderr (chorus/job/progress.hpp), issue 15 items 12 and 14. Where stderr is not a
// terminal (a pipe, a SLURM log) a plain line comes every interval instead of nothing; on a
// terminal a stage whose progress is not measured ("read", reported once as 0 of 1) shows its
// elapsed time, not a bar stuck at 0.0%.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "chorus/job/progress.hpp"
#include "test_support.hpp"

using namespace chorus;

namespace {

// Everything readable from `fd` until end of file (or, on a terminal's master side, EIO).
std::string drain(int fd) {
  std::string s;
  char buf[4096];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    s.append(buf, static_cast<std::size_t>(n));
  }
  return s;
}

// What a progress bar writes into a pipe while `use` drives it.
template <class F>
std::string through_a_pipe(bool enabled, F&& use) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  std::FILE* w = fdopen(fds[1], "w");
  {
    progress_bar bar(enabled, w);
    use(bar);
  }
  std::fclose(w);
  const std::string s = drain(fds[0]);
  close(fds[0]);
  return s;
}

TEST(Progress, PlainLinesWhenTheOutputIsAPipe) {
  const std::string s = through_a_pipe(true, [](progress_bar& bar) {
    bar.set_interval(0);  // a line at every update
    bar.update("score", 372, 1000);
    bar.update("score", 1200000000, 3200000000);
    bar.update("generate", 500, 1000);
    bar.finish();
  });
  std::vector<std::string> lines;
  for (std::size_t at = 0, nl; (nl = s.find('\n', at)) != std::string::npos; at = nl + 1)
    lines.push_back(s.substr(at, nl - at));
  ASSERT_EQ(lines.size(), 3u) << s;
  EXPECT_EQ(lines[0].rfind("chorus: score 37.2% (372 of 1000 pairs), 0 s elapsed", 0), 0u) << s;
  EXPECT_EQ(lines[1].rfind("chorus: score 37.5% (1.2e9 of 3.2e9 pairs), 0 s elapsed", 0), 0u) << s;
  EXPECT_EQ(lines[2].rfind("chorus: generate 50.0%, 0 s elapsed", 0), 0u) << s;
  EXPECT_EQ(s.find('\r'), std::string::npos) << "no terminal redraws in a log";
}

TEST(Progress, PlainLinesComeOncePerIntervalAndNotWhenQuiet) {
  // the default interval is a minute: a short run writes nothing into a log
  EXPECT_EQ(progress_bar::default_interval, 60.0);
  EXPECT_EQ(through_a_pipe(true,
                           [](progress_bar& bar) {
                             for (int k = 0; k <= 100; ++k) bar.update("score", k, 100);
                           }),
            "");
  EXPECT_EQ(through_a_pipe(false,
                           [](progress_bar& bar) {
                             bar.set_interval(0);
                             bar.update("score", 1, 2);
                           }),
            "")
      << "--quiet";
  // an unmeasured stage says how long it has run
  EXPECT_EQ(through_a_pipe(true,
                           [](progress_bar& bar) {
                             bar.set_interval(0);
                             bar.update("read", 0, 1);
                           }),
            "chorus: read, 0 s elapsed\n");
}

// A stage reported only as 0 of 1 on a terminal: its elapsed time, no bar at 0.0%.
TEST(Progress, UnmeasuredStageShowsElapsedTimeOnATerminal) {
  const int master = posix_openpt(O_RDWR | O_NOCTTY);
  ASSERT_GE(master, 0);
  ASSERT_EQ(grantpt(master), 0);
  ASSERT_EQ(unlockpt(master), 0);
  const int slave = open(ptsname(master), O_RDWR | O_NOCTTY);
  ASSERT_GE(slave, 0);
  std::FILE* tty = fdopen(slave, "w");
  ASSERT_TRUE(isatty(fileno(tty)));
  {
    progress_bar bar(true, tty);
    bar.update("read", 0, 1);
    bar.update("score", 50, 100);
  }
  std::fclose(tty);
  const std::string s = drain(master);
  close(master);
  const auto score = s.find("score");
  ASSERT_NE(score, std::string::npos) << s;
  const std::string read = s.substr(0, score);
  EXPECT_NE(read.find("read"), std::string::npos) << s;
  EXPECT_NE(read.find("s elapsed"), std::string::npos) << s;
  EXPECT_EQ(read.find('%'), std::string::npos) << "no percentage for the read stage: " << s;
  EXPECT_EQ(read.find("[."), std::string::npos) << "no empty bar for the read stage: " << s;
  EXPECT_NE(s.find(" 50.0%", score), std::string::npos) << "a measured stage keeps its bar: " << s;
}

// `chorus detect` with stderr a pipe: plain progress lines at --progress-interval, none with
// --quiet, none at the default interval on a short run.
TEST(Progress, DetectWritesPlainProgressLinesIntoAPipe) {
  const std::string dir = test::scratch_dir("progress_cli");
  test::dense e = test::clustered(300, 8, 4);
  test::write_input(dir + "/in.h5", 300, &e, nullptr);
  auto stderr_of = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = {CHORUS_BINARY,  "detect",      "--force",     "--input",
                                  dir + "/in.h5", "--out",       dir + "/o.h5", "--tile-rows",
                                  "32",           "--tile-cols", "64"};
    a.insert(a.end(), extra.begin(), extra.end());
    int fds[2];
    EXPECT_EQ(pipe(fds), 0);
    const pid_t pid = fork();
    if (pid == 0) {
      dup2(fds[1], 2);
      const int null = open("/dev/null", O_WRONLY);
      dup2(null, 1);
      close(fds[0]);
      std::vector<char*> argv;
      for (auto& s : a) argv.push_back(s.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(fds[1]);
    const std::string err = drain(fds[0]);
    close(fds[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << err;
    return err;
  };
  const std::string lines = stderr_of({"--progress-interval", "0"});
  EXPECT_NE(lines.find("chorus: score 100.0% (44850 of 44850 pairs), "), std::string::npos)
      << lines;
  EXPECT_NE(lines.find(" s elapsed\n"), std::string::npos) << lines;
  EXPECT_EQ(lines.find('\r'), std::string::npos) << lines;
  EXPECT_EQ(stderr_of({"--progress-interval", "0", "--quiet"}).find("chorus: score"),
            std::string::npos);
  EXPECT_EQ(stderr_of({}).find("chorus: score"), std::string::npos) << "default: once a minute";
}

}  // namespace
