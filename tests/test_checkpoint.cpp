// Checkpoint and resume: kill the process at many random points (SIGKILL and SIGTERM, and in the
// middle of a checkpoint write), resume each time, and compare with an uninterrupted run.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <random>
#include <thread>

#include "chorus/generate.hpp"
#include "chorus/h5.hpp"
#include "test_support.hpp"

using namespace chorus;

namespace {

// Start chorus with `args`; kill it with `sig` after `delay_ms` (0: never); return the exit code
// (128 + signal when killed).
int run_chorus(std::vector<std::string> args, int sig, int delay_ms, const char* env = nullptr) {
  pid_t pid = fork();
  if (pid == 0) {
    if (env) putenv(const_cast<char*>(env));
    freopen("/dev/null", "w", stderr);
    std::vector<char*> argv;
    std::string bin = CHORUS_BINARY;
    argv.push_back(bin.data());
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  if (sig && delay_ms > 0) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(delay_ms);
    int st = 0;
    while (std::chrono::steady_clock::now() < until) {
      if (waitpid(pid, &st, WNOHANG) == pid)
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    kill(pid, sig);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

void expect_same_results(const std::string& a, const std::string& b) {
  h5::handle fa = h5::open_read(a), fb = h5::open_read(b);
  for (const char* d :
       {"/labels", "/edges/src", "/edges/dst", "/clusters/size", "/clusters/members"})
    EXPECT_EQ(h5::read_all<std::int64_t>(h5::open_dataset(fa, d)),
              h5::read_all<std::int64_t>(h5::open_dataset(fb, d)))
        << d;
  EXPECT_EQ(h5::read_all<float>(h5::open_dataset(fa, "/edges/sim_embedding")),
            h5::read_all<float>(h5::open_dataset(fb, "/edges/sim_embedding")));
}

class Checkpoint : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = test::scratch_dir("ckpt");
    // large enough (about 4 s single-threaded with small tiles) for many random interruptions
    const generate_options g = test::generated(dir + "/in.h5", 24000, 64, 96, 12, 9);
    ASSERT_EQ(run_chorus({"detect", "--quiet", "--input", g.out, "--out", dir + "/ref.h5"}, 0, 0),
              0);
  }
  std::vector<std::string> args(bool resume) {
    std::vector<std::string> a = {"detect",
                                  "--quiet",
                                  "--force",
                                  "--input",
                                  dir + "/in.h5",
                                  "--out",
                                  dir + "/out.h5",
                                  "--threads",
                                  "1",
                                  "--precision",
                                  "fp32",
                                  "--tile-rows",
                                  "64",
                                  "--tile-cols",
                                  "128",
                                  "--checkpoint",
                                  dir + "/ck",
                                  "--checkpoint-interval",
                                  "0"};
    if (resume) a.push_back("--resume");
    return a;
  }
  std::string dir;
};

TEST_F(Checkpoint, KilledAndResumedManyTimesGivesTheSameResults) {
  std::mt19937 rng(5);
  int kills = 0, runs = 0, rc = -1;
  bool first = true;
  while (rc != 0 && runs < 40) {
    // 14 interrupted runs at random points, then one left to finish
    const int sig = runs >= 14 ? 0 : (runs % 2) ? SIGKILL : SIGTERM;
    const int delay = 60 + static_cast<int>(rng() % 400);
    rc = run_chorus(args(!first), sig, delay);
    ++runs;
    first = false;
    if (rc == 4 || rc == 128 + SIGKILL || rc == 128 + SIGTERM) ++kills;
    // 128 + SIGTERM: the signal came before the handler was installed (nothing written yet)
    ASSERT_TRUE(rc == 0 || rc == 4 || rc == 128 + SIGKILL || rc == 128 + SIGTERM)
        << "unexpected exit code " << rc;
  }
  ASSERT_EQ(rc, 0) << "did not finish";
  std::cout << "[ kills ] " << kills << " interrupted runs of " << runs << "\n";
  EXPECT_GE(kills, 3) << "the run was too short to be interrupted often";
  expect_same_results(dir + "/ref.h5", dir + "/out.h5");
  EXPECT_NE(access((dir + "/ck/manifest").c_str(), F_OK), 0) << "checkpoint removed after success";
}

TEST_F(Checkpoint, CrashDuringCheckpointWrite) {
  // the process dies half-way through its 3rd, then 4th, ... atomic write (shard or manifest)
  int rc = run_chorus(args(false), 0, 0, "CHORUS_TEST_CRASH_AT=3");
  ASSERT_EQ(rc, 9);
  for (int k = 4; k < 12 && rc != 0; ++k) {
    const std::string env = "CHORUS_TEST_CRASH_AT=" + std::to_string(k);
    rc = run_chorus(args(true), 0, 0, env.c_str());
    ASSERT_TRUE(rc == 9 || rc == 0) << rc;
  }
  rc = run_chorus(args(true), 0, 0);
  ASSERT_EQ(rc, 0);
  expect_same_results(dir + "/ref.h5", dir + "/out.h5");
}

TEST_F(Checkpoint, ResumeWithOtherParametersIsRefused) {
  ASSERT_EQ(run_chorus(args(false), SIGTERM, 150), 4);
  auto a = args(true);
  a.push_back("--threshold");
  a.push_back("0.85");
  EXPECT_EQ(run_chorus(a, 0, 0), 2);
  auto b = args(false);  // a checkpoint exists and --resume is missing
  EXPECT_EQ(run_chorus(b, 0, 0), 2);
  EXPECT_EQ(run_chorus(args(true), 0, 0), 0);
  expect_same_results(dir + "/ref.h5", dir + "/out.h5");
}

}  // namespace
