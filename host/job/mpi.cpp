// chorus: multi-process jobs (MPI), or one rank of one when chorus is built without MPI or the
// process was not started by an MPI launcher.
#include "chorus/job/mpi.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "chorus/core/error.hpp"
#include "chorus/graph/union_find.hpp"

#ifdef CHORUS_HAVE_MPI
#include <mpi.h>
#endif

namespace chorus::mpi {

namespace {

bool g_active = false;  // MPI initialised by us and more than one rank
int g_rank = 0, g_size = 1, g_local = 0, g_local_size = 1;

#ifdef CHORUS_HAVE_MPI
bool g_init = false;  // MPI initialised by us

// Exit codes as numbers, and the exception each one maps back to on every rank.
[[noreturn]] void throw_code(int code, const std::string& msg) {
  switch (static_cast<exit_code>(code)) {
    case exit_code::bad_input:
      throw input_error(msg, __FILE__, __LINE__);
    case exit_code::limit:
      throw limit_error(msg, __FILE__, __LINE__);
    case exit_code::interrupted:
      throw interrupted_error(msg, __FILE__, __LINE__);
    default:
      throw runtime_failure(msg, __FILE__, __LINE__);
  }
}

// Exit code and message of a captured exception.
void describe(std::exception_ptr e, int& code, std::string& msg) {
  try {
    std::rethrow_exception(e);
  } catch (const error& x) {
    code = static_cast<int>(x.code());
    msg = x.what();
  } catch (const std::bad_alloc&) {
    code = static_cast<int>(exit_code::runtime);
    msg = "out of memory";
  } catch (const std::exception& x) {
    code = static_cast<int>(exit_code::runtime);
    msg = x.what();
  } catch (...) {
    code = static_cast<int>(exit_code::runtime);
    msg = "unknown failure";
  }
}

bool launched_by_mpi() {
  const char* force = std::getenv("CHORUS_MPI");
  if (force && std::strcmp(force, "0") == 0) return false;
  if (force && std::strcmp(force, "1") == 0) return true;
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMI_RANK", "PMIX_RANK"})
    if (std::getenv(v)) return true;
  return false;
}

constexpr int kTagAbort = 7001, kTagForest = 7002;

void check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char buf[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, buf, &len);
  CHORUS_THROW(runtime_failure, "MPI ", what, " failed on rank ", g_rank, ": ",
               std::string(buf, static_cast<std::size_t>(len)));
}

// Abort notices: each rank keeps one receive posted for a notice from any peer.
MPI_Request g_notice_recv = MPI_REQUEST_NULL;
int g_notice_buf = 0;
bool g_notice_seen = false, g_notified = false;
std::vector<MPI_Request> g_notice_sends;
int g_notice_payload = 1;

void post_notice_recv() {
  g_notice_seen = false;
  check(MPI_Irecv(&g_notice_buf, 1, MPI_INT, MPI_ANY_SOURCE, kTagAbort, MPI_COMM_WORLD,
                  &g_notice_recv),
        "Irecv");
}
#endif

}  // namespace

environment::environment(int* argc, char*** argv) {
  (void)argc;
  (void)argv;
#ifdef CHORUS_HAVE_MPI
  if (!launched_by_mpi()) return;
  // A single-node Open MPI job talks through shared memory: select it unless the user chose a
  // transport, which spares MPI_Init the probing of network providers (0.2 s with Debian's
  // Open MPI). CHORUS_MPI_TRANSPORT=keep leaves Open MPI's own selection.
  const char* world = std::getenv("OMPI_COMM_WORLD_SIZE");
  const char* local = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
  const char* keep = std::getenv("CHORUS_MPI_TRANSPORT");
  if (world && local && std::strcmp(world, local) == 0 &&
      !(keep && std::strcmp(keep, "keep") == 0) && !std::getenv("OMPI_MCA_pml") &&
      !std::getenv("OMPI_MCA_btl")) {
    setenv("OMPI_MCA_pml", "ob1", 0);
    setenv("OMPI_MCA_btl", "self,vader", 0);
  }
  int provided = 0;
  if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) return;
  g_init = true;
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_size);
  MPI_Comm node;
  if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, g_rank, MPI_INFO_NULL, &node) ==
      MPI_SUCCESS) {
    MPI_Comm_rank(node, &g_local);
    MPI_Comm_size(node, &g_local_size);
    MPI_Comm_free(&node);
  }
  g_active = g_size > 1;
  if (g_active) post_notice_recv();
#endif
}

environment::~environment() {
#ifdef CHORUS_HAVE_MPI
  if (!g_init) return;
  if (g_notice_recv != MPI_REQUEST_NULL) {
    MPI_Cancel(&g_notice_recv);
    MPI_Wait(&g_notice_recv, MPI_STATUS_IGNORE);
  }
  for (auto& r : g_notice_sends) MPI_Wait(&r, MPI_STATUS_IGNORE);
  MPI_Finalize();
  g_init = g_active = false;
#endif
}

bool built_with_mpi() {
#ifdef CHORUS_HAVE_MPI
  return true;
#else
  return false;
#endif
}
bool active() { return g_active; }
int rank() { return g_rank; }
int size() { return g_size; }
int local_rank() { return g_local; }
int local_size() { return g_local_size; }

std::string host_name() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof buf - 1) != 0) return "?";
  return buf;
}

void notify_peers() {
#ifdef CHORUS_HAVE_MPI
  if (!g_active || g_notified) return;
  g_notified = true;
  for (int r = 0; r < g_size; ++r) {
    if (r == g_rank) continue;
    MPI_Request req;
    if (MPI_Isend(&g_notice_payload, 1, MPI_INT, r, kTagAbort, MPI_COMM_WORLD, &req) == MPI_SUCCESS)
      g_notice_sends.push_back(req);
  }
#endif
}

bool peer_failed() {
#ifdef CHORUS_HAVE_MPI
  if (!g_active) return false;
  if (!g_notice_seen && g_notice_recv != MPI_REQUEST_NULL) {
    int flag = 0;
    MPI_Test(&g_notice_recv, &flag, MPI_STATUS_IGNORE);
    if (flag) g_notice_seen = true;
  }
  return g_notice_seen;
#else
  return false;
#endif
}

void agree(std::exception_ptr local) {
#ifdef CHORUS_HAVE_MPI
  if (!g_active) {
    if (local) std::rethrow_exception(local);
    return;
  }
  int code = 0;
  std::string msg;
  if (local) describe(local, code, msg);
  // A failure outranks any stop: a stop is either a signal (every rank has one) or second-hand,
  // caused by a peer's failure notice, and it must never win, or the job would exit 4 (resume
  // me) for a real failure. (A rank that stopped also notified its peers, so "did it notify"
  // cannot tell the two apart.) Among failures, one seen first-hand outranks one that followed
  // a peer's notice.
  const bool stop = local && code == static_cast<int>(exit_code::interrupted);
  const bool secondhand = local && !stop && g_notice_seen && !g_notified;
  const int key = !local       ? 3 * g_size
                  : stop       ? 2 * g_size + g_rank
                  : secondhand ? g_size + g_rank
                               : g_rank;
  int best = 0;
  check(MPI_Allreduce(&key, &best, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD), "Allreduce");
  // Drain the abort notices of this phase so that none is left pending: every rank learns how
  // many peers notified, receives exactly that many, and posts a fresh receive.
  int notified = g_notified ? 1 : 0, total = 0;
  check(MPI_Allreduce(&notified, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD), "Allreduce");
  if (total > 0) {
    int expect = total - notified;
    if (g_notice_seen || (peer_failed())) --expect;
    if (!g_notice_seen) {  // the posted receive is still open: let it take one notice
      if (expect > 0) {
        check(MPI_Wait(&g_notice_recv, MPI_STATUS_IGNORE), "Wait");
        --expect;
      } else {
        MPI_Cancel(&g_notice_recv);
        MPI_Wait(&g_notice_recv, MPI_STATUS_IGNORE);
      }
    }
    for (; expect > 0; --expect) {
      int buf = 0;
      check(
          MPI_Recv(&buf, 1, MPI_INT, MPI_ANY_SOURCE, kTagAbort, MPI_COMM_WORLD, MPI_STATUS_IGNORE),
          "Recv");
    }
    for (auto& r : g_notice_sends) MPI_Wait(&r, MPI_STATUS_IGNORE);
    g_notice_sends.clear();
    g_notified = false;
    post_notice_recv();
  }
  if (best == 3 * g_size) return;
  const int from = best % g_size;
  int head[2] = {code, static_cast<int>(msg.size())};
  check(MPI_Bcast(head, 2, MPI_INT, from, MPI_COMM_WORLD), "Bcast");
  std::string text(static_cast<std::size_t>(head[1]), '\0');
  if (g_rank == from) text = msg;
  if (head[1] > 0) check(MPI_Bcast(&text[0], head[1], MPI_CHAR, from, MPI_COMM_WORLD), "Bcast");
  throw_code(head[0],
             "rank " + std::to_string(from) + " of " + std::to_string(g_size) + ": " + text);
#else
  if (local) std::rethrow_exception(local);
#endif
}

std::int64_t sum(std::int64_t v) {
#ifdef CHORUS_HAVE_MPI
  if (!g_active) return v;
  std::int64_t out = 0;
  check(MPI_Allreduce(&v, &out, 1, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD), "Allreduce");
  return out;
#else
  return v;
#endif
}

double max(double v) {
#ifdef CHORUS_HAVE_MPI
  if (!g_active) return v;
  double out = 0;
  check(MPI_Allreduce(&v, &out, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD), "Allreduce");
  return out;
#else
  return v;
#endif
}

std::uint64_t broadcast(std::uint64_t v) {
#ifdef CHORUS_HAVE_MPI
  if (g_active) check(MPI_Bcast(&v, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD), "Bcast");
#endif
  return v;
}

std::vector<double> gather(const std::vector<double>& values) {
#ifdef CHORUS_HAVE_MPI
  if (g_active) {
    std::vector<double> out(g_rank == 0 ? values.size() * static_cast<std::size_t>(g_size) : 0);
    check(MPI_Gather(values.data(), static_cast<int>(values.size()), MPI_DOUBLE, out.data(),
                     static_cast<int>(values.size()), MPI_DOUBLE, 0, MPI_COMM_WORLD),
          "Gather");
    return out;
  }
#endif
  return values;
}

std::vector<std::string> gather(const std::string& value) {
#ifdef CHORUS_HAVE_MPI
  if (g_active) {
    const int len = static_cast<int>(value.size());
    std::vector<int> lens(g_rank == 0 ? g_size : 0), offs(g_rank == 0 ? g_size : 0);
    check(MPI_Gather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, 0, MPI_COMM_WORLD), "Gather");
    std::string all;
    if (g_rank == 0) {
      int total = 0;
      for (int r = 0; r < g_size; ++r) offs[r] = total, total += lens[r];
      all.resize(static_cast<std::size_t>(total));
    }
    check(MPI_Gatherv(value.data(), len, MPI_CHAR, &all[0], lens.data(), offs.data(), MPI_CHAR, 0,
                      MPI_COMM_WORLD),
          "Gatherv");
    std::vector<std::string> out;
    for (int r = 0; g_rank == 0 && r < g_size; ++r)
      out.push_back(
          all.substr(static_cast<std::size_t>(offs[r]), static_cast<std::size_t>(lens[r])));
    return out;
  }
#endif
  return {value};
}

std::vector<rank_record> gather_records(const rank_record& mine) {
  constexpr std::size_t kFields = 9;  // the numbers of a record, as doubles
  const std::vector<double> packed = {static_cast<double>(mine.row_begin),
                                      static_cast<double>(mine.row_end),
                                      static_cast<double>(mine.pairs),
                                      static_cast<double>(mine.candidates),
                                      static_cast<double>(mine.edges),
                                      mine.seconds_read,
                                      mine.seconds_score,
                                      mine.seconds_local,
                                      static_cast<double>(mine.bytes_sent)};
  const std::vector<double> all = gather(packed);
  const std::vector<std::string> hosts = gather(host_name());
  std::vector<rank_record> out;
  for (std::size_t r = 0; r < hosts.size() && (r + 1) * kFields <= all.size(); ++r) {
    const double* v = all.data() + r * kFields;
    rank_record x;
    x.row_begin = static_cast<std::int64_t>(v[0]);
    x.row_end = static_cast<std::int64_t>(v[1]);
    x.pairs = static_cast<std::int64_t>(v[2]);
    x.candidates = static_cast<std::int64_t>(v[3]);
    x.edges = static_cast<std::int64_t>(v[4]);
    x.seconds_read = v[5];
    x.seconds_score = v[6];
    x.seconds_local = v[7];
    x.bytes_sent = static_cast<std::uint64_t>(v[8]);
    x.host = hosts[r];
    out.push_back(x);
  }
  return out;
}

std::uint64_t merge_forests(std::vector<std::int64_t>& roots) {
  std::uint64_t sent = 0;
#ifdef CHORUS_HAVE_MPI
  if (!g_active) return 0;
  const std::int64_t n = static_cast<std::int64_t>(roots.size());
  std::int64_t* parent = roots.data();  // roots[i] is i's root, and a root is its own parent
  constexpr std::uint64_t kChunk = 1ull << 26;  // int64 values per message (512 MiB)
  for (int mask = 1; mask < g_size; mask <<= 1) {
    if (g_rank & mask) {
      // send (row, root) for every row that is not its own root, then leave the tree
      std::vector<std::int64_t> pairs;
      for (std::int64_t i = 0; i < n; ++i) {
        const std::int64_t r = uf::find(parent, i);
        if (r != i) pairs.push_back(i), pairs.push_back(r);
      }
      const std::uint64_t count = pairs.size();
      check(MPI_Send(&count, 1, MPI_UINT64_T, g_rank - mask, kTagForest, MPI_COMM_WORLD), "Send");
      for (std::uint64_t off = 0; off < count; off += kChunk) {
        const int len = static_cast<int>(std::min(kChunk, count - off));
        check(MPI_Send(pairs.data() + off, len, MPI_INT64_T, g_rank - mask, kTagForest,
                       MPI_COMM_WORLD),
              "Send");
      }
      sent = count * sizeof(std::int64_t) + sizeof count;
      break;
    }
    if (g_rank + mask < g_size) {
      std::uint64_t count = 0;
      check(MPI_Recv(&count, 1, MPI_UINT64_T, g_rank + mask, kTagForest, MPI_COMM_WORLD,
                     MPI_STATUS_IGNORE),
            "Recv");
      CHORUS_ENSURES(count % 2 == 0 && count <= 2 * static_cast<std::uint64_t>(n),
                     "forest message of ", count, " values for ", n, " rows");
      std::vector<std::int64_t> buf(static_cast<std::size_t>(std::min(count, kChunk)));
      for (std::uint64_t off = 0; off < count; off += kChunk) {
        const int len = static_cast<int>(std::min(kChunk, count - off));
        check(MPI_Recv(buf.data(), len, MPI_INT64_T, g_rank + mask, kTagForest, MPI_COMM_WORLD,
                       MPI_STATUS_IGNORE),
              "Recv");
        for (int k = 0; k < len; k += 2) {
          CHORUS_ENSURES(buf[k] >= 0 && buf[k] < n && buf[k + 1] >= 0 && buf[k + 1] < n,
                         "forest pair out of range");
          uf::unite(parent, buf[k], buf[k + 1]);
        }
      }
    }
  }
  if (g_rank == 0)
    for (std::int64_t i = 0; i < n; ++i) roots[i] = uf::find(parent, i);
#else
  (void)roots;
#endif
  return sent;
}

}  // namespace chorus::mpi
