// Bounded memory: with --max-memory, the peak RSS of a run whose edges would not fit stays under
// the cap (measured by the kernel, wait4's ru_maxrss), and the results equal an unbounded run.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <iostream>

#include "chorus/generate/generate.hpp"
#include "chorus/io/h5.hpp"
#include "test_support.hpp"

using namespace chorus;

namespace {

// Run chorus; returns (exit code, peak RSS in KiB of that process alone).
std::pair<int, long> run_measured(std::vector<std::string> args) {
  pid_t pid = fork();
  if (pid == 0) {
    // the child's peak RSS starts from the test program's (the forked copy's high-water mark
    // carries over exec): reset it to the program's current RSS. ctest runs each test in a
    // process of its own, whose RSS is small; the whole program run at once may exceed the cap
    if (FILE* f = std::fopen("/proc/self/clear_refs", "w")) {
      std::fputs("5", f);
      std::fclose(f);
    }
    freopen("/dev/null", "w", stderr);
    freopen("/dev/null", "w", stdout);
    std::string bin = CHORUS_BINARY;
    std::vector<char*> argv{bin.data()};
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  int st = 0;
  struct rusage ru {};
  wait4(pid, &st, 0, &ru);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), ru.ru_maxrss};
}

TEST(Memory, PeakRssStaysUnderMaxMemoryWhileEdgesSpill) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "ASan's shadow memory and quarantine count toward the RSS";
#endif
  const std::string dir = test::scratch_dir("mem");
  const generate_options g = test::generated(dir + "/in.h5", 14000, 32, 0, 8, 4);
  const std::vector<std::string> common = {"detect",    "--quiet",   "--input",     g.out,
                                           "--view",    "embedding", "--threshold", "0.3",
                                           "--threads", "2"};
  auto a = common;
  a.insert(a.end(), {"--out", dir + "/free.h5"});
  auto [rc_free, rss_free] = run_measured(a);
  ASSERT_EQ(rc_free, 0);
  const long cap_mib = 100;
  auto b = common;
  b.insert(b.end(), {"--out", dir + "/capped.h5", "--max-memory", std::to_string(cap_mib)});
  auto [rc_cap, rss_cap] = run_measured(b);
  ASSERT_EQ(rc_cap, 0);

  h5::handle f = h5::open_read(dir + "/free.h5"), c = h5::open_read(dir + "/capped.h5");
  const auto edges = h5::read_all<std::int64_t>(h5::open_dataset(f, "/edges/src")).size();
  std::cout << "[ memory ] " << edges << " edges (" << edges * 24 / (1 << 20) << " MiB); peak RSS "
            << rss_free / 1024 << " MiB unbounded, " << rss_cap / 1024 << " MiB with --max-memory "
            << cap_mib << "\n";
  EXPECT_GT(edges * 24, static_cast<std::size_t>(cap_mib) << 20)
      << "the edges must not fit the cap";
  EXPECT_LT(rss_cap, cap_mib * 1024) << "peak RSS over --max-memory";
  std::int64_t spilled = 0;
  EXPECT_TRUE(h5::get_attr(c, "edges_spilled", spilled));
  EXPECT_EQ(spilled, 1);
  for (const char* d :
       {"/labels", "/edges/src", "/edges/dst", "/clusters/size", "/clusters/members"})
    EXPECT_EQ(h5::read_all<std::int64_t>(h5::open_dataset(f, d)),
              h5::read_all<std::int64_t>(h5::open_dataset(c, d)))
        << d;
}

TEST(Memory, JobThatCannotFitSaysSoUpFront) {
  const std::string dir = test::scratch_dir("mem2");
  test::dense e = test::clustered(2000, 16, 2);
  test::write_input(dir + "/in.h5", 2000, &e, nullptr);
  auto [rc, rss] = run_measured({"detect", "--quiet", "--input", dir + "/in.h5", "--out",
                                 dir + "/out.h5", "--max-memory", "20"});
  EXPECT_EQ(rc, 3) << "a limit, like --max-edges (#15 item 10)";
  EXPECT_NE(access((dir + "/out.h5").c_str(), F_OK), 0);
}

}  // namespace
