// The checkpoint directory at the file level (chorus/scan/checkpoint.hpp): what save() writes is
// what load() returns; every kind of damage to the manifest or a shard is refused with a message;
// the directory lock, resume() and remove(). And the spilling edge store
// (chorus/io/edge_store.hpp): sorted output across runs, and its failures.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>

#include "chorus/core/error.hpp"
#include "chorus/io/edge_store.hpp"
#include "chorus/scan/checkpoint.hpp"
#include "cli_support.hpp"
#include "test_support.hpp"

using namespace chorus;
using chorus::cli_test::exists;
using chorus::cli_test::slurp;
using chorus::test::message_of;

namespace {

std::vector<edge> some_edges(int n, int salt) {
  std::vector<edge> v;
  for (int i = 0; i < n; ++i)
    v.push_back({i + salt, 2 * i + salt + 1, 0.5f + 0.01f * float(i), -0.25f * float(salt)});
  return v;
}

bool same(const std::vector<edge>& a, const std::vector<edge>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t k = 0; k < a.size(); ++k)
    if (a[k].src != b[k].src || a[k].dst != b[k].dst || a[k].sim_embedding != b[k].sim_embedding ||
        a[k].sim_activity != b[k].sim_activity)
      return false;
  return true;
}

void write_file(const std::string& p, const std::string& text) {
  std::ofstream(p, std::ios::binary) << text;
}

class CheckpointFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    root = test::scratch_dir(std::string("ckfiles_") +
                             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    dir = root + "/ck";
  }
  // A checkpoint of 10 units with two shards: units {1, 3, 9} then {4}.
  void write_two_shards() {
    checkpoint c(dir, "input=abc params=xyz", 10);
    checkpoint_state st;
    c.save(st, {1, 3, 9}, some_edges(5, 0));
    c.save(st, {4}, some_edges(3, 7));
  }
  std::string manifest() const { return slurp(dir + "/manifest"); }
  std::string load_error() const {
    checkpoint c(dir, "input=abc params=xyz", 10);
    checkpoint_state st;
    std::vector<edge> e;
    return message_of([&] { c.load(st, e); });
  }
  std::string root, dir;
};

TEST_F(CheckpointFiles, SaveThenLoadGivesTheSameState) {
  write_two_shards();
  // the manifest, as documented in checkpoint.hpp: units 1, 3, 4, 9 done (bit u % 4 of hex
  // digit u / 4): digit 0 = 0b1010, digit 1 = 0b0001, digit 2 = 0b0010
  const std::string m = manifest();
  EXPECT_EQ(m.rfind("chorus-checkpoint 1\nidentity input=abc params=xyz\nunits 10\ndone a12\n"
                    "shards 2\nshard-000000.bin 5 ",
                    0),
            0u)
      << m;
  EXPECT_NE(m.find("\nshard-000001.bin 3 "), std::string::npos) << m;
  checkpoint c(dir, "input=abc params=xyz", 10);
  checkpoint_state st;
  std::vector<edge> e;
  ASSERT_TRUE(c.load(st, e));
  EXPECT_EQ(st.identity, "input=abc params=xyz");
  EXPECT_EQ(st.units, 10);
  EXPECT_EQ(st.done, (std::vector<std::uint8_t>{0, 1, 0, 1, 1, 0, 0, 0, 0, 1}));
  EXPECT_EQ(st.shards, (std::vector<std::string>{"shard-000000.bin", "shard-000001.bin"}));
  EXPECT_EQ(st.shard_edges, (std::vector<std::int64_t>{5, 3}));
  std::vector<edge> want = some_edges(5, 0), more = some_edges(3, 7);
  want.insert(want.end(), more.begin(), more.end());
  EXPECT_TRUE(same(e, want));
  // a shard file holds the raw edges
  EXPECT_EQ(slurp(dir + "/shard-000001.bin").size(), 3 * sizeof(edge));
}

// The manifest keeps the candidates of the saved units (issue 15 item 13: a resumed run reports
// the whole run's candidates), on a last line that older versions never read; a manifest
// without that line (written before it existed) loads with 0.
TEST_F(CheckpointFiles, CandidatesOfTheSavedUnitsAreKept) {
  {
    checkpoint c(dir, "id", 10);
    checkpoint_state st;
    c.save(st, {1, 3}, some_edges(2, 0), 7);
    c.save(st, {4}, some_edges(1, 5), 5);
    EXPECT_EQ(st.candidates, 12);
  }
  const std::string m = manifest();
  EXPECT_EQ(m.substr(m.size() - 15), "\ncandidates 12\n") << m;
  checkpoint c(dir, "id", 10);
  checkpoint_state st;
  std::vector<edge> e;
  ASSERT_TRUE(c.load(st, e));
  EXPECT_EQ(st.candidates, 12);
  write_file(dir + "/manifest", m.substr(0, m.size() - 14));  // an older version's manifest
  checkpoint_state old;
  std::vector<edge> e2;
  ASSERT_TRUE(c.load(old, e2));
  EXPECT_EQ(old.candidates, 0);
  EXPECT_EQ(old.done, st.done);
  write_file(dir + "/manifest", m.substr(0, m.size() - 3) + "-3\n");
  EXPECT_EQ(message_of([&] {
              checkpoint_state bad;
              std::vector<edge> e3;
              c.load(bad, e3);
            }),
            "damaged checkpoint manifest in '" + dir + "'");
}

// A shard larger than one write() (1 MiB, about 44k edges) is written in pieces and read back
// whole.
TEST_F(CheckpointFiles, LargeShardRoundTrips) {
  const auto big = some_edges(100000, 3);
  {
    checkpoint c(dir, "id", 3);
    checkpoint_state st;
    c.save(st, {2}, big);
  }
  EXPECT_EQ(slurp(dir + "/shard-000000.bin").size(), big.size() * sizeof(edge));
  checkpoint c(dir, "id", 3);
  checkpoint_state st;
  std::vector<edge> e;
  ASSERT_TRUE(c.load(st, e));
  EXPECT_TRUE(same(e, big));
  EXPECT_EQ(st.done, (std::vector<std::uint8_t>{0, 0, 1}));
}

TEST_F(CheckpointFiles, ResumeNeedsTheFlagWhenACheckpointExists) {
  {
    checkpoint c(dir, "id", 10);
    checkpoint_state st;
    std::vector<edge> e;
    EXPECT_FALSE(c.resume(st, e, false)) << "nothing to resume yet";
    EXPECT_FALSE(c.resume(st, e, true)) << "--resume on an empty directory starts afresh";
    c.save(st, {0, 1}, some_edges(2, 1));
  }
  checkpoint c(dir, "id", 10);
  checkpoint_state st;
  std::vector<edge> e;
  EXPECT_EQ(message_of([&] { c.resume(st, e, false); }),
            "checkpoint directory '" + dir +
                "' already holds a checkpoint; pass --resume to continue it, or use an empty "
                "directory");
  checkpoint_state st2;
  std::vector<edge> e2;
  EXPECT_TRUE(c.resume(st2, e2, true)) << "a checkpoint found with --resume is continued";
  EXPECT_EQ(st2.done, (std::vector<std::uint8_t>{1, 1, 0, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_TRUE(same(e2, some_edges(2, 1)));
}

// Another run's checkpoint is refused naming the fields that differ, with both values (issue
// 15 item 15), not the two whole identities.
TEST_F(CheckpointFiles, AnotherRunsCheckpointIsRefusedNamingTheFieldsThatDiffer) {
  write_two_shards();
  checkpoint c(dir, "input=other params=xyz", 10);
  checkpoint_state st;
  std::vector<edge> e;
  EXPECT_EQ(message_of([&] { c.load(st, e); }),
            "the checkpoint in '" + dir +
                "' belongs to another run (different input or parameters): input (checkpoint "
                "abc, this run other). Use another --checkpoint directory, or the same input "
                "and parameters");
}

TEST(CheckpointIdentity, DifferencesNameEachFieldWithBothValues) {
  // numbers as detect writes them (17 significant digits) are shown in their shortest form
  EXPECT_EQ(identity_differences(
                "input_size=100 checksum=0x00ab n=5 view=both threshold=0.80000000000000004 "
                "weight=0.5 backend=cpu tiles=64x128",
                "input_size=100 checksum=0x00cd n=5 view=fused threshold=0.84999999999999998 "
                "weight=0.5 backend=cpu tiles=64x128"),
            "checksum (checkpoint 0x00ab, this run 0x00cd); view (checkpoint both, this run "
            "fused); threshold (checkpoint 0.8, this run 0.85)");
  // a field only one side has; a bare word is a field of its own
  EXPECT_EQ(identity_differences("backend=cuda cuda-fused batch=16384 rows=0..10",
                                 "backend=cuda batch=16384 rows=0..10 ranks=2"),
            "cuda-fused (checkpoint cuda-fused, this run none); ranks (checkpoint none, this run "
            "2)");
  EXPECT_EQ(identity_differences("a=1 b=2", "a=1 b=2"), "");
  // shortened, two spellings of one number would look alike: they are shown as written
  EXPECT_EQ(identity_differences("threshold=1e-05", "threshold=1.0000000000000001e-05"),
            "threshold (checkpoint 1e-05, this run 1.0000000000000001e-05)");
}

TEST_F(CheckpointFiles, DamagedManifestsAreRefused) {
  write_two_shards();
  const std::string good = manifest();
  const std::string damaged = "damaged checkpoint manifest in '" + dir + "'";
  const std::string not_manifest = "'" + dir + "/manifest' is not a chorus checkpoint manifest";
  auto with = [&](const std::string& from, const std::string& to) {
    std::string m = good;
    const auto p = m.find(from);
    EXPECT_NE(p, std::string::npos) << from;
    m.replace(p, from.size(), to);
    return m;
  };
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"chorus-snapshot 1\n", not_manifest},
      {with("chorus-checkpoint 1", "chorus-checkpoint 2"), not_manifest},
      {"", not_manifest},
      {with("identity ", "identity:"), damaged},
      {with("units 10", "units 11"), damaged},
      {with("units 10", "count 10"), damaged},
      {with("done a12", "done a1"), damaged},
      {with("done a12", "fini a12"), damaged},
      {with("shards 2", "shards -1"), damaged},
      {with("shards 2", "parts 2"), damaged},
      {with("shards 2", "shards 3"), damaged},  // a third shard line that is not there
      {with("shard-000000.bin", "../shard-000000.bin"), damaged},
      {with("shard-000001.bin", "shard-000009.bin"),
       "checkpoint shard 'shard-000009.bin' is missing in '" + dir + "'"},
  };
  for (const auto& [text, want] : cases) {
    write_file(dir + "/manifest", text);
    const std::string msg = load_error();
    EXPECT_NE(msg.find(want), std::string::npos) << text << "\n-> " << msg;
  }
  // shards: shorter than the manifest says, or the same length with other bytes
  write_file(dir + "/manifest", good);
  const std::string shard = slurp(dir + "/shard-000000.bin");
  write_file(dir + "/shard-000000.bin", shard.substr(0, shard.size() - 4));
  EXPECT_EQ(load_error(), "checkpoint shard 'shard-000000.bin' in '" + dir + "' is damaged");
  std::string flipped = shard;
  flipped[3] ^= 0x10;
  write_file(dir + "/shard-000000.bin", flipped);
  EXPECT_EQ(load_error(), "checkpoint shard 'shard-000000.bin' in '" + dir + "' is damaged");
  write_file(dir + "/shard-000000.bin", shard);
  EXPECT_EQ(load_error(), "(no exception)");
}

TEST_F(CheckpointFiles, DirectoryIsCheckedAndLocked) {
  // a file where the directory should be; a directory that cannot be created
  write_file(root + "/file", "x");
  EXPECT_EQ(message_of([&] { checkpoint c(root + "/file", "id", 4); }),
            "--checkpoint '" + root + "/file' is not a directory");
  EXPECT_NE(message_of([&] {
              checkpoint c(root + "/no/such", "id", 4);
            }).find("cannot create checkpoint directory '" + root + "/no/such': "),
            std::string::npos);
  // one process per directory: a second lock (another open file description) is refused,
  // naming the process that holds it
  {
    checkpoint a(dir, "id", 4);
    const std::string msg = message_of([&] { checkpoint b(dir, "id", 4); });
    EXPECT_EQ(msg.rfind("checkpoint directory '" + dir + "' is in use by chorus process " +
                            std::to_string(getpid()) + " on host ",
                        0),
              0u)
        << msg;
  }
  EXPECT_EQ(message_of([&] { checkpoint b(dir, "id", 4); }), "(no exception)")
      << "the lock ends with its owner";
}

// Issue 15 item 11. A process that holds the lock is named (its pid) in the refusal; one that
// died holding it (kill -9) left a stale lock that the next run takes over, saying so.
TEST_F(CheckpointFiles, StaleLockIsTakenOverAndALiveOwnerIsNamed) {
  int go[2], ready[2];
  ASSERT_EQ(pipe(go), 0);
  ASSERT_EQ(pipe(ready), 0);
  const pid_t owner = fork();
  if (owner == 0) {  // holds the lock until told to die, then dies without cleaning up
    try {
      checkpoint c(dir, "id", 4);
      char b = 1;
      if (write(ready[1], &b, 1) != 1 || read(go[0], &b, 1) != 1) _exit(3);
      kill(getpid(), SIGKILL);  // still holding it
    } catch (...) {
      _exit(2);
    }
    _exit(1);
  }
  char b = 0;
  ASSERT_EQ(read(ready[0], &b, 1), 1);
  const std::string live = message_of([&] { checkpoint c(dir, "id", 4); });
  EXPECT_EQ(live.rfind("checkpoint directory '" + dir + "' is in use by chorus process " +
                           std::to_string(owner) + " on host ",
                       0),
            0u)
      << live;
  EXPECT_NE(live.find("(it holds '" + dir + "/.lock')"), std::string::npos) << live;
  ASSERT_EQ(write(go[1], &b, 1), 1);
  int st = 0;
  ASSERT_EQ(waitpid(owner, &st, 0), owner);
  ASSERT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) << st;
  for (int fd : {go[0], go[1], ready[0], ready[1]}) close(fd);
  EXPECT_NE(slurp(dir + "/.lock").find(std::to_string(owner) + " "), std::string::npos)
      << "the dead owner's record is left behind";
  ::testing::internal::CaptureStderr();
  {
    checkpoint c(dir, "id", 4);
    EXPECT_EQ(slurp(dir + "/.lock").rfind(std::to_string(getpid()) + " ", 0), 0u);
  }
  const std::string said = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(said.rfind("chorus: checkpoint directory '" + dir +
                           "': took over the stale lock of chorus process " +
                           std::to_string(owner) + " on host ",
                       0),
            0u)
      << said;
  EXPECT_NE(said.find(", which is no longer running\n"), std::string::npos) << said;
  // an owner that ended normally leaves no record: the next run says nothing
  ::testing::internal::CaptureStderr();
  { checkpoint c(dir, "id", 4); }
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
  EXPECT_EQ(slurp(dir + "/.lock"), "");
}

// Where the file system refuses flock() (some NFS and Lustre mounts) the recorded owner decides:
// a process of this host that no longer runs is gone; one on another host cannot be checked
// and is presumed alive.
TEST(CheckpointLock, RecordedOwnerIsGoneOnlyWhenItsProcessIsGone) {
  char host[256] = {};
  ASSERT_EQ(gethostname(host, sizeof host - 1), 0);
  const pid_t child = fork();
  if (child == 0) _exit(0);
  ASSERT_EQ(waitpid(child, nullptr, 0), child);  // reaped: that pid no longer runs
  EXPECT_TRUE(lock_owner_gone(std::to_string(child) + " " + host));
  EXPECT_FALSE(lock_owner_gone(std::to_string(getpid()) + " " + host));
  EXPECT_FALSE(lock_owner_gone("1 " + std::string(host)))  // init: alive, not ours to signal
      << "a live process of another user counts as alive";
  EXPECT_FALSE(lock_owner_gone(std::to_string(child) + " another-host.example"));
  EXPECT_TRUE(lock_owner_gone(""));
  EXPECT_TRUE(lock_owner_gone("garbage"));
}

TEST_F(CheckpointFiles, WriteFailuresAreRuntimeFailures) {
  checkpoint c(dir, "id", 4);
  checkpoint_state st;
  // the temporary name taken by a directory: the shard cannot be written
  ASSERT_EQ(mkdir((dir + "/.shard-000000.bin.tmp").c_str(), 0755), 0);
  try {
    c.save(st, {0}, some_edges(2, 0));
    ADD_FAILURE() << "saved through a directory";
  } catch (const runtime_failure& e) {
    EXPECT_EQ(std::string(e.what()).rfind(
                  "checkpoint: cannot write '" + dir + "/.shard-000000.bin.tmp': ", 0),
              0u)
        << e.what();
  }
  rmdir((dir + "/.shard-000000.bin.tmp").c_str());
  // the final name taken by a non-empty directory: the rename fails, nothing is recorded
  ASSERT_EQ(mkdir((dir + "/shard-000000.bin").c_str(), 0755), 0);
  write_file(dir + "/shard-000000.bin/x", "x");
  try {
    c.save(st, {0}, some_edges(2, 0));
    ADD_FAILURE() << "renamed over a directory";
  } catch (const runtime_failure& e) {
    EXPECT_EQ(std::string(e.what()),
              "checkpoint: cannot rename '" + dir + "/.shard-000000.bin.tmp'");
  }
  EXPECT_FALSE(exists(dir + "/manifest"));
  EXPECT_TRUE(st.shards.empty());
}

TEST_F(CheckpointFiles, RemoveDeletesOnlyChorusFiles) {
  write_two_shards();
  {
    checkpoint c(dir, "input=abc params=xyz", 10);
    c.remove();
  }
  EXPECT_FALSE(exists(dir)) << "an emptied directory is removed";
  write_two_shards();
  write_file(dir + "/notes.txt", "mine");
  remove_checkpoint(dir);
  EXPECT_TRUE(exists(dir + "/notes.txt"));
  EXPECT_FALSE(exists(dir + "/manifest"));
  EXPECT_FALSE(exists(dir + "/shard-000000.bin"));
  EXPECT_FALSE(exists(dir + "/shard-000001.bin"));
}

TEST(StopSignals, FirstSignalRequestsAStopAndMessagesSaySo) {
  struct sigaction old_term {
  }, old_int{};
  sigaction(SIGTERM, nullptr, &old_term);
  sigaction(SIGINT, nullptr, &old_int);
  reset_stop_request();
  install_stop_handlers();
  EXPECT_FALSE(stop_requested());
  raise(SIGINT);
  EXPECT_TRUE(stop_requested());
  reset_stop_request();
  EXPECT_FALSE(stop_requested());
  request_stop();
  EXPECT_TRUE(stop_requested());
  reset_stop_request();
  sigaction(SIGTERM, &old_term, nullptr);
  sigaction(SIGINT, &old_int, nullptr);
  // the second signal ends the process at once with exit code 4
  EXPECT_EXIT(
      {
        install_stop_handlers();
        raise(SIGTERM);
        if (!stop_requested()) std::exit(1);
        raise(SIGTERM);
        std::exit(2);
      },
      ::testing::ExitedWithCode(4), "");

  try {
    throw_interrupted(10, 45, true);
  } catch (const interrupted_error& e) {
    EXPECT_EQ(std::string(e.what()),
              "stopped by a signal after 10 of 45 pairs; a checkpoint was written: rerun the same "
              "command with --resume to continue");
    EXPECT_EQ(e.code(), exit_code::interrupted);
  }
  try {
    throw_interrupted(0, 1, false);
  } catch (const interrupted_error& e) {
    EXPECT_EQ(std::string(e.what()),
              "stopped by a signal after 0 of 1 pairs (no --checkpoint given, so the run must "
              "start over)");
  }
}

// ---- edge store

bool before(const edge& a, const edge& b) { return a.src != b.src ? a.src < b.src : a.dst < b.dst; }

std::vector<edge> shuffled(int n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<edge> v;
  for (int i = 0; i < n; ++i)
    v.push_back({static_cast<std::int64_t>(rng() % 50), static_cast<std::int64_t>(rng() % 1000),
                 float(i), -float(i)});
  // (src, dst) unique, as a backend produces them
  std::sort(v.begin(), v.end(), before);
  v.erase(
      std::unique(v.begin(), v.end(),
                  [](const edge& a, const edge& b) { return a.src == b.src && a.dst == b.dst; }),
      v.end());
  std::shuffle(v.begin(), v.end(), rng);
  return v;
}

std::vector<edge> sorted_copy(std::vector<edge> v) {
  std::sort(v.begin(), v.end(), before);
  return v;
}

TEST(SpillStore, SpilledRunsMergeInOrder) {
  const std::string dir = test::scratch_dir("spill_merge") + "/spill";
  const auto input = shuffled(1000, 5);
  {
    edge_store s(64, dir);
    for (std::size_t k = 0; k < input.size(); k += 37)
      s.append(input.data() + k, std::min<std::size_t>(37, input.size() - k));
    EXPECT_TRUE(s.spilled());
    EXPECT_EQ(s.size(), input.size());
    EXPECT_TRUE(exists(dir + "/run-0.bin"));
    std::vector<edge> got;
    std::size_t calls = 0;
    s.for_each_sorted(
        [&](const edge* e, std::size_t n) {
          EXPECT_LE(n, 100u);
          ++calls;
          got.insert(got.end(), e, e + n);
        },
        100);
    EXPECT_TRUE(same(got, sorted_copy(input)));
    EXPECT_EQ(calls, (input.size() + 99) / 100);
    EXPECT_EQ(message_of([&] { s.take_sorted(); })
                  .rfind("the edge list (" + std::to_string(input.size()) +
                             " edges) does not fit in --max-memory and was spilled to disk; "
                             "--topk needs it in memory",
                         0),
              0u);
  }
  EXPECT_FALSE(exists(dir)) << "runs and their directory are removed with the store";
}

TEST(SpillStore, InMemoryStoreSortsAndHandsOver) {
  const auto input = shuffled(300, 9);
  edge_store s;  // cap 0: never spills
  s.append(input);
  EXPECT_FALSE(s.spilled());
  std::vector<edge> visited;
  s.for_each_sorted([&](const edge* e, std::size_t n) { visited.insert(visited.end(), e, e + n); },
                    7);
  EXPECT_TRUE(same(visited, sorted_copy(input)));
  EXPECT_TRUE(same(s.take_sorted(), sorted_copy(input)));
  EXPECT_EQ(s.size(), 0u);
  edge_store empty(4, "/nonexistent/never-created");
  empty.for_each_sorted([&](const edge*, std::size_t) { ADD_FAILURE() << "no edges"; });
  EXPECT_TRUE(empty.take_sorted().empty());
}

TEST(SpillStore, FailuresAreReported) {
  const std::string root = test::scratch_dir("spill_fail");
  const auto input = shuffled(40, 3);
  // the spill directory cannot be created
  {
    edge_store s(8, root + "/missing/parent");
    EXPECT_NE(message_of([&] {
                s.append(input);
              }).find("cannot create spill directory '" + root + "/missing/parent': "),
              std::string::npos);
  }
  // a run file cannot be created (its name is taken by a directory)
  {
    ASSERT_EQ(mkdir((root + "/d1").c_str(), 0755), 0);
    ASSERT_EQ(mkdir((root + "/d1/run-0.bin").c_str(), 0755), 0);
    edge_store s(8, root + "/d1");
    EXPECT_EQ(message_of([&] { s.append(input); }),
              "cannot write spill file '" + root + "/d1/run-0.bin'");
  }
  // a run file shortened or removed behind the store's back
  {
    edge_store s(8, root + "/d2");
    for (std::size_t k = 0; k < input.size(); k += 8) s.append(input.data() + k, 8);
    ASSERT_TRUE(exists(root + "/d2/run-4.bin"));
    ASSERT_EQ(truncate((root + "/d2/run-1.bin").c_str(), 3 * sizeof(edge)), 0);
    EXPECT_EQ(message_of([&] { s.for_each_sorted([](const edge*, std::size_t) {}); }),
              "spill file is truncated");
    std::remove((root + "/d2/run-2.bin").c_str());
    EXPECT_EQ(message_of([&] { s.for_each_sorted([](const edge*, std::size_t) {}); }),
              "cannot read spill file '" + root + "/d2/run-2.bin'");
  }
  // the visitor's own exception passes through (files closed)
  {
    edge_store s(8, root + "/d3");
    s.append(input);
    EXPECT_THROW(
        s.for_each_sorted([](const edge*, std::size_t) { throw input_error("stop", "", 0); }),
        input_error);
  }
}

}  // namespace
