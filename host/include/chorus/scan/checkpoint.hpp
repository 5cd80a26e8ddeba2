// chorus: checkpoints of the scoring stage, and graceful stops on SIGTERM/SIGINT.
//
// A checkpoint directory holds edge shards (`shard-NNNNNN.bin`, the edges found by the work units
// completed since the previous checkpoint) and a `manifest` naming the run's identity, the
// completed units and the shards. Every file is written to a temporary name, fsynced and
// renamed, and the directory is fsynced: after a crash, `kill -9` or power loss the manifest
// names only complete shards, so a resumed run ends with the same edges as an uninterrupted one.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "chorus/core/types.hpp"

namespace chorus {

/// Progress of one scoring run as the checkpoint records it.
struct checkpoint_state {
  std::string identity;             ///< input identity and every parameter that shapes results
  std::int64_t units = 0;           ///< work units of the run
  std::vector<std::uint8_t> done;   ///< per unit: 1 when completed and its edges are in a shard
  std::vector<std::string> shards;  ///< shard file names, in order
  std::vector<std::int64_t> shard_edges;
  std::vector<std::uint64_t> shard_sums;  ///< FNV-1a of each shard's bytes
  /// Candidates (pairs the first pass sent to the exact re-check) of the completed units, so
  /// that a resumed run reports the whole run's count. Manifests written before this field
  /// existed load as 0.
  std::int64_t candidates = 0;
};

/// Reads and writes one checkpoint directory.
class checkpoint {
 public:
  /// `dir` is created when missing. `identity` must match on resume. The directory is locked
  /// for the life of the object (flock on `dir/.lock`, which records "pid host" of its owner):
  /// a live owner is refused naming its pid; a lock left by a process that is gone is taken
  /// over with a note on stderr.
  checkpoint(std::string dir, std::string identity, std::int64_t units);
  ~checkpoint();
  checkpoint(const checkpoint&) = delete;
  checkpoint& operator=(const checkpoint&) = delete;

  /// Load an existing checkpoint: returns false when none exists; throws input_error when it
  /// belongs to another input or other parameters, or is damaged.
  bool load(checkpoint_state& state, std::vector<edge>& edges) const;

  /// load(), for a run that may continue a checkpoint only when `resume` (--resume) is set: a
  /// checkpoint found without it is refused with input_error. Returns true when one was loaded.
  bool resume(checkpoint_state& state, std::vector<edge>& edges, bool resume) const;

  /// Persist the units in `newly_done`, their `edges` as a new shard and their `candidates`,
  /// then the manifest.
  void save(checkpoint_state& state, const std::vector<std::int64_t>& newly_done,
            const std::vector<edge>& edges, std::int64_t candidates = 0);

  /// Remove the directory's chorus files (after the results file is written).
  void remove() const;

  const std::string& dir() const { return dir_; }

 private:
  std::string dir_, identity_;
  std::int64_t units_;
  int lock_fd_ = -1;
};

/// The interrupted_error a backend throws when a stop signal ended its scoring after `done` of
/// `total` pairs; `checkpointed` says whether a checkpoint was written first.
[[noreturn]] void throw_interrupted(std::int64_t done, std::int64_t total, bool checkpointed);

/// Remove the chorus files of a checkpoint directory, and the directory when it is then empty.
void remove_checkpoint(const std::string& dir);

/// The fields in which two checkpoint identities ("key=value key=value ...") differ, each as
/// "key (checkpoint A, this run B)", joined by "; " (a field one side lacks shows "none").
/// Numbers are shown in their shortest exact form. Empty when no field differs.
std::string identity_differences(const std::string& recorded, const std::string& current);

/// Whether the owner a lock file records ("pid host") is gone: a process of this host that no
/// longer runs, or no owner recorded. An owner on another host is presumed alive. Used where
/// the file system refuses flock() (some NFS and Lustre mounts).
bool lock_owner_gone(const std::string& record);

/// Graceful stop. The first SIGTERM or SIGINT sets a flag that the scoring loop polls (it
/// finishes the units in flight, writes a checkpoint and stops with exit code 4); a second one
/// exits at once with code 4 (nothing is left half-written: every file is written atomically).
void install_stop_handlers();
/// True once a stop was requested.
bool stop_requested();
/// Test hook: clear the flag.
void reset_stop_request();
/// Ask the scoring loop to stop as a signal would (used when another rank of the job failed).
void request_stop();

}  // namespace chorus
