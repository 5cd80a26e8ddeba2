// chorus: multi-process jobs (MPI). Compiles without MPI: a build with CHORUS_MPI=OFF, or a
// process not started by an MPI launcher, is one rank of one.
//
// Collectives here are what run_detect needs: error agreement (one rank's failure ends every
// rank with that rank's message, no hang), sums and gathers of small per-rank records, and the
// merge of union-find forests by a binomial-tree exchange of (row, root) pairs.
#pragma once

#include <cstdint>
#include <exception>
#include <string>
#include <vector>

#include "chorus/io/results.hpp"

namespace chorus::mpi {

/// RAII for the MPI environment: initialises MPI (MPI_THREAD_FUNNELED) when the process was
/// started by an MPI launcher (mpirun/mpiexec, srun with PMI/PMIx; or CHORUS_MPI=1 in the
/// environment), and finalises it on destruction. Otherwise, and in builds without MPI, the
/// process is rank 0 of 1 and nothing is initialised. One per process, in main().
class environment {
 public:
  environment(int* argc, char*** argv);
  ~environment();
  environment(const environment&) = delete;
  environment& operator=(const environment&) = delete;
};

/// True when chorus was built with MPI.
bool built_with_mpi();
/// True while MPI is initialised and the job has more than one rank.
bool active();
/// This process's rank and the number of ranks (0 and 1 when not active).
int rank();
int size();
/// Rank among the ranks on this node (for the node-local GPU); 0 when not active.
int local_rank();
/// Ranks on this node; 1 when not active.
int local_size();
/// Host name of this rank.
std::string host_name();

/// Collective: every rank passes its own failure (null when it succeeded). When any rank
/// failed, every rank throws the same chorus error: the exit code and message of the
/// lowest-numbered rank that failed first-hand (a rank stopped because a peer failed, see
/// notify_peers, counts only when no rank failed first-hand). Returns normally when all
/// succeeded.
void agree(std::exception_ptr local);

/// Tell the other ranks, without blocking, that this rank has failed, so that long work on
/// them can stop early (peer_failed). Call before agree() on a failing rank.
void notify_peers();
/// True once some other rank has called notify_peers (non-blocking poll; main thread only).
bool peer_failed();

/// Runs `fn`; in a multi-process job every rank then agrees on success or on the first failure
/// (agree), so that one rank's error ends all ranks with its message. One process: fn's error
/// propagates as it is.
template <typename Fn>
void phase(Fn&& fn) {
  std::exception_ptr err;
  try {
    fn();
  } catch (...) {
    err = std::current_exception();
    notify_peers();
  }
  agree(err);
}

/// Collective sums and maximum over ranks.
std::int64_t sum(std::int64_t v);
double max(double v);
/// Collective: rank 0's value on every rank.
std::uint64_t broadcast(std::uint64_t v);
/// Collective: rank 0 gets every rank's `values` (same length on all ranks), rank-major;
/// other ranks get an empty vector.
std::vector<double> gather(const std::vector<double>& values);
/// Collective: rank 0 gets every rank's string, others an empty vector.
std::vector<std::string> gather(const std::string& value);

/// Collective: rank 0 gets every rank's record, in rank order, each with its host name;
/// other ranks get an empty vector.
std::vector<rank_record> gather_records(const rank_record& mine);

/// Collective: merge the union-find forests of all ranks. `roots` holds, on every rank, the
/// root (smallest row) of each of the N rows' component in that rank's graph. Ranks exchange
/// (row, root) pairs of rows that are not their own root, along a binomial tree towards rank
/// 0, each receiver uniting them with the larger-root-onto-smaller rule. On rank 0, `roots`
/// ends as the roots of the union of all ranks' graphs (identical to one process); on other
/// ranks it is left in an unspecified state. Returns the bytes this rank sent.
std::uint64_t merge_forests(std::vector<std::int64_t>& roots);

}  // namespace chorus::mpi
