// chorus._core: the Python package's extension module over the chorus library (no second
// implementation). Jobs run with the GIL released; chorus errors become chorus.Error subclasses
// carrying the CLI's message; SIGINT (Ctrl-C in a notebook) stops a job through chorus's stop
// flag. The Python layer (python/chorus/) shapes arguments and results.
#include <dlfcn.h>
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>
#include <omp.h>

#include <csignal>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "chorus/core/error.hpp"
#include "chorus/generate/generate.hpp"
#include "chorus/generate/posts.hpp"
#include "chorus/ingest/ingest.hpp"
#include "chorus/io/h5.hpp"
#include "chorus/io/input.hpp"
#include "chorus/io/results.hpp"
#include "chorus/job/detect.hpp"
#include "chorus/job/summary.hpp"
#include "chorus/outputs/export.hpp"
#include "chorus/scan/backend.hpp"
#include "chorus/scan/checkpoint.hpp"
#include "chorus/version.hpp"

namespace nb = nanobind;
using namespace nb::literals;

namespace {

// ---- exceptions ---------------------------------------------------------------------------------

PyObject *py_error, *py_input_error, *py_limit_error, *py_interrupted, *py_runtime_failure;

PyObject* new_exception(nb::module_& m, const char* name, PyObject* bases, const char* doc) {
  const std::string qual = std::string("chorus.") + name;
  PyObject* t = PyErr_NewExceptionWithDoc(qual.c_str(), doc, bases, nullptr);
  if (!t) throw nb::python_error();
  m.attr(name) = nb::handle(t);
  return t;
}

// Raise `type(message)`: the CLI's message, with its exit code and file:line as attributes.
void raise_chorus(PyObject* type, const chorus::error& e) {
  nb::object exc = nb::borrow(type)(nb::str(e.what()));
  exc.attr("exit_code") = static_cast<int>(e.code());
  exc.attr("where") = e.where();
  PyErr_SetObject(type, exc.ptr());
}

void register_exceptions(nb::module_& m) {
  py_error = new_exception(m, "Error", PyExc_Exception, "Base of every chorus error.");
  py_input_error =
      new_exception(m, "InputError", py_error, "Bad input or options (the CLI's exit code 2).");
  py_limit_error = new_exception(m, "LimitError", py_error,
                                 "A limit the user set would be exceeded (exit code 3).");
  // also a KeyboardInterrupt: `except KeyboardInterrupt` and Jupyter's interrupt handling see it
  nb::object bases = nb::make_tuple(nb::handle(py_error), nb::handle(PyExc_KeyboardInterrupt));
  py_interrupted = new_exception(m, "Interrupted", bases.ptr(),
                                 "Stopped by Ctrl-C / SIGINT (exit code 4); nothing was written.");
  py_runtime_failure = new_exception(m, "RuntimeFailure", py_error,
                                     "HDF5, BLAS, file system or CUDA failure (exit code 1).");
  // exit codes on the classes too: errors raised by the Python layer carry them
  const std::pair<PyObject*, int> codes[] = {{py_error, 1},
                                             {py_input_error, 2},
                                             {py_limit_error, 3},
                                             {py_interrupted, 4},
                                             {py_runtime_failure, 1}};
  for (const auto& [type, code] : codes) {
    nb::handle(type).attr("exit_code") = code;
    nb::handle(type).attr("where") = "";
  }
  nb::register_exception_translator([](const std::exception_ptr& p, void*) {
    try {
      std::rethrow_exception(p);
    } catch (const chorus::interrupted_error& e) {
      raise_chorus(py_interrupted, e);
    } catch (const chorus::limit_error& e) {
      raise_chorus(py_limit_error, e);
    } catch (const chorus::input_error& e) {
      raise_chorus(py_input_error, e);
    } catch (const chorus::error& e) {
      raise_chorus(py_runtime_failure, e);
    }
  });
}

// ---- a job: one at a time, GIL released, stoppable ----------------------------------------------

std::mutex g_job;  // chorus's stop flag and thread settings are per process

// While a job runs, SIGINT sets chorus's stop flag (polled by the scan driver and the ingest
// steps) and is passed on to the handler that was there (Python's), so that Python still sees
// its KeyboardInterrupt. Restored afterwards.
struct sigint_guard {
  static struct sigaction previous;
  static void on_sigint(int sig) {
    chorus::request_stop();
    if (!(previous.sa_flags & SA_SIGINFO) && previous.sa_handler != SIG_DFL &&
        previous.sa_handler != SIG_IGN)
      previous.sa_handler(sig);
  }
  bool active = false;
  sigint_guard() {
    struct sigaction now {};
    // SIGINT ignored by the program: Ctrl-C stays ignored
    if (sigaction(SIGINT, nullptr, &now) != 0 || now.sa_handler == SIG_IGN) return;
    struct sigaction sa {};
    sa.sa_handler = on_sigint;
    sa.sa_flags = SA_ONSTACK;  // as Python installs its own
    sigemptyset(&sa.sa_mask);
    active = sigaction(SIGINT, &sa, &previous) == 0;
  }
  ~sigint_guard() {
    if (active) sigaction(SIGINT, &previous, nullptr);
  }
  sigint_guard(const sigint_guard&) = delete;
  sigint_guard& operator=(const sigint_guard&) = delete;
};
struct sigaction sigint_guard::previous;

using stage_fn = std::function<void(const char*, std::int64_t, std::int64_t)>;

// The calling thread runs a chorus job: a progress callback that starts another would deadlock.
thread_local bool t_in_job = false;

// OpenMP's thread count as it was before the job (a job's `threads` is for that job only).
struct omp_threads_guard {
  int before = omp_get_max_threads();
  ~omp_threads_guard() { omp_set_num_threads(before); }
};

// Runs `body` (which calls chorus) with the GIL released and a progress function that reports
// to `progress` (a Python callable or None) with the GIL held, and turns a pending signal or a
// failing callback into a stop. A job stopped by Ctrl-C raises chorus.Interrupted (nothing was
// written); a Ctrl-C that came after the job's last poll, when its results exist, is raised
// as Python raises it after any call: a KeyboardInterrupt.
template <typename Body>
void run_job(nb::object progress, const char* what, Body&& body) {
  CHORUS_EXPECTS(!t_in_job,
                 "a chorus job is already running in this thread: a progress "
                 "callback cannot start another");
  std::unique_ptr<nb::python_error> pending;
  const stage_fn report = [&](const char* stage, std::int64_t done, std::int64_t total) {
    nb::gil_scoped_acquire gil;
    if (pending) return;
    try {
      if (PyErr_CheckSignals() != 0) throw nb::python_error();
      if (!progress.is_none()) progress(stage, done, total);
    } catch (nb::python_error& e) {
      pending = std::make_unique<nb::python_error>(std::move(e));
      chorus::request_stop();
    }
  };
  try {
    nb::gil_scoped_release nogil;
    std::lock_guard<std::mutex> lock(g_job);
    t_in_job = true;
    omp_threads_guard threads;
    chorus::reset_stop_request();
    sigint_guard guard;
    try {
      body(report);
    } catch (...) {
      chorus::reset_stop_request();
      t_in_job = false;
      throw;
    }
    chorus::reset_stop_request();
    t_in_job = false;
  } catch (const chorus::error& e) {
    // the callback's own error, unchanged
    if (pending && !pending->matches(PyExc_KeyboardInterrupt)) throw std::move(*pending);
    const bool by_ctrl_c = pending != nullptr || PyErr_CheckSignals() != 0;
    PyErr_Clear();  // the KeyboardInterrupt that stopped it, if any
    if (dynamic_cast<const chorus::interrupted_error*>(&e) || by_ctrl_c)
      throw chorus::interrupted_error(std::string(what) + " stopped by Ctrl-C; nothing was written",
                                      __FILE__, __LINE__);
    throw;
  }
  if (pending) {  // the job finished after all: raise what the callback raised, as it is
    pending->restore();
    throw nb::python_error();
  }
}

// ---- options ------------------------------------------------------------------------------------

std::string str_of(nb::handle v) { return nb::cast<std::string>(nb::str(v)); }

// One option from Python, read as the CLI reads it: a value of the wrong type gives the CLI's
// "Could not convert" message, and the ranges the CLI checks (its CLI11 validators, host/cli)
// give the CLI's messages.
struct option_value {
  std::string flag;  // --threshold-activity
  nb::handle v;

  [[noreturn]] void bad() const {
    CHORUS_THROW(chorus::input_error, "Could not convert: ", flag, " = ", str_of(v));
  }
  template <typename T>
  T as() const {
    const bool is_bool = PyBool_Check(v.ptr());
    if constexpr (std::is_same_v<T, bool>) {
      if (!is_bool) bad();
      return v.ptr() == Py_True;
    } else if constexpr (std::is_same_v<T, std::string>) {
      if (!PyUnicode_Check(v.ptr())) bad();
      return nb::cast<std::string>(v);
    } else {
      T out{};
      if (is_bool || (std::is_integral_v<T> && PyFloat_Check(v.ptr())) || !nb::try_cast<T>(v, out))
        bad();
      return out;
    }
  }
  // CLI11 check `within(lo, hi, what)` of host/cli/main.cpp
  template <typename T>
  T within(double lo, double hi, const char* what) const {
    const T x = as<T>();
    if (!(static_cast<double>(x) >= lo && static_cast<double>(x) <= hi))
      CHORUS_THROW(chorus::input_error, flag, ": '", str_of(v), "' is not ", what);
    return x;
  }
  // CLI::Range(lo, hi)
  template <typename T>
  T range(T lo, T hi) const {
    const T x = as<T>();
    if (!(x >= lo && x <= hi))
      CHORUS_THROW(chorus::input_error, flag, ": Value ", str_of(v), " not in range ",
                   std::to_string(lo), " to ", std::to_string(hi));
    return x;
  }
};

option_value option_of(const std::string& key, nb::handle v) {
  std::string flag = "--" + key;
  for (char& c : flag)
    if (c == '_') c = '-';
  return {flag, v};
}

constexpr double kMiB = 1099511627776.0;  // the CLI's cap on sizes in MiB (2^40)

// detect's options by their CLI names without dashes ("threshold_activity" is
// --threshold-activity); each one present counts as given, as on the command line.
void apply_detect_option(chorus::detect_options& o, const std::string& k, const option_value& x) {
  using std::int64_t;
  if (k == "view")
    o.view = x.as<std::string>();
  else if (k == "edges")
    o.edges = x.as<std::string>();
  else if (k == "window")
    o.window = x.within<int64_t>(0, 31622400, "a number of seconds from 0 to 31622400 (a year)");
  else if (k == "min_weight")
    o.min_weight = x.within<int64_t>(1, 1e15, "a count of at least 1");
  else if (k == "similarity")
    o.similarity = x.within<double>(1e-9, 1, "a Jaccard similarity in (0, 1]");
  else if (k == "evidence_cap")
    o.evidence_cap = x.within<int64_t>(0, 1e9, "a count from 0 to 10^9");
  else if (k == "threshold")
    o.threshold = x.as<double>(), o.threshold_given = true;
  else if (k == "threshold_activity")
    o.threshold_activity = x.as<double>(), o.threshold_activity_given = true;
  else if (k == "weight")
    o.weight = x.as<double>(), o.weight_given = true;
  else if (k == "activity_transform")
    o.transform = chorus::parse_transform(x.as<std::string>());
  else if (k == "min_activity")
    o.min_activity = x.range<double>(0.0, 1e12);
  else if (k == "allow_empty_view")
    o.allow_empty_view = x.as<bool>();
  else if (k == "topk")
    o.topk = x.as<int64_t>();
  else if (k == "max_edges")
    o.max_edges = x.as<int64_t>();
  else if (k == "threads")
    o.threads = x.as<int>();
  else if (k == "backend")
    o.backend = chorus::parse_backend(x.as<std::string>());
  else if (k == "precision")
    o.prec = chorus::parse_precision(x.as<std::string>());
  else if (k == "max_memory")
    o.max_memory_mib = x.within<std::uint64_t>(0, kMiB, "a size in MiB from 0 to 2^40");
  else if (k == "checkpoint")
    o.checkpoint_dir = x.as<std::string>();
  else if (k == "update")
    o.update = x.as<std::string>();
  else if (k == "significance")
    o.significance = x.within<int64_t>(0, 1000000, "a number of resamples from 0 to 1000000");
  else if (k == "significance_seed")
    o.significance_seed = x.as<std::uint64_t>();
  else if (k == "null_period")
    o.null_period = x.within<int64_t>(1, 1e9, "a number of bins from 1");
  else if (k == "checkpoint_interval")
    o.checkpoint_interval = x.as<double>();
  else if (k == "resume")
    o.resume = x.as<bool>();
  else if (k == "device")
    o.device = x.within<int>(0, 4095, "a device ordinal from 0 to 4095");
  else if (k == "gpu_kernel")
    o.kernel = chorus::parse_gpu_kernel(x.as<std::string>());
  else if (k == "gpu_memory")
    o.gpu_memory_mib = x.within<std::uint64_t>(0, kMiB, "a size in MiB from 0 to 2^40");
  else if (k == "tile_rows")
    o.tile_rows = x.as<int64_t>();
  else if (k == "tile_cols")
    o.tile_cols = x.as<int64_t>();
  else if (k == "write_edges")
    o.write_edges = x.as<bool>();
  else if (k == "evidence")
    o.evidence = x.as<bool>();
  else if (k == "force")
    o.force = x.as<bool>();
  else
    CHORUS_THROW(chorus::input_error, "detect has no option '", k, "'");
}

void apply_detect_options(chorus::detect_options& o, const nb::dict& d) {
  for (auto [key, v] : d) {
    const std::string k = nb::cast<std::string>(key);
    const option_value x = option_of(k, v);
    o.options_given.push_back(x.flag);
    apply_detect_option(o, k, x);
  }
}

// A matrix argument: float32 or float64 with contiguous rows (the Python layer converts others).
using matrix_arg = nb::ndarray<nb::ro, nb::ndim<2>, nb::device::cpu>;

chorus::memory_matrix matrix_of(const std::optional<matrix_arg>& a, const char* what) {
  chorus::memory_matrix m;
  if (!a) return m;
  const bool f32 = a->dtype() == nb::dtype<float>(), f64 = a->dtype() == nb::dtype<double>(),
             i32 = a->dtype() == nb::dtype<std::int32_t>();
  CHORUS_EXPECTS(f32 || f64 || i32, what, " must be float32, float64 or int32");
  CHORUS_EXPECTS(a->shape(1) <= 1 || a->stride(1) == 1, what, " rows must be contiguous");
  CHORUS_EXPECTS(a->shape(0) <= 1 || a->stride(0) >= static_cast<std::int64_t>(a->shape(1)), what,
                 ": rows overlap");
  m.data = a->data();
  using el = chorus::memory_matrix::element;
  m.type = f64 ? el::f64 : i32 ? el::i32 : el::f32;
  m.rows = static_cast<std::int64_t>(a->shape(0));
  m.cols = static_cast<std::int64_t>(a->shape(1));
  m.row_stride = m.rows > 1 ? a->stride(0) : m.cols;
  return m;
}

using ids_arg = nb::ndarray<const std::int64_t, nb::ndim<1>, nb::c_contig, nb::device::cpu>;

std::string detect(const nb::dict& options, const std::string& output,
                   const std::optional<std::string>& input, std::optional<matrix_arg> embedding,
                   std::optional<matrix_arg> activity, std::optional<ids_arg> ids,
                   std::optional<std::vector<std::string>> string_ids,
                   std::optional<std::vector<std::string>> handles, std::optional<ids_arg> truth,
                   nb::object progress) {
  chorus::detect_options o;
  apply_detect_options(o, options);
  o.output = output;
  chorus::memory_input mem;
  if (input) {
    o.input = *input;
  } else {
    if (ids) mem.ids.assign(ids->data(), ids->data() + ids->shape(0));
    if (string_ids) mem.string_ids = std::move(*string_ids);
    if (handles) mem.handles = std::move(*handles);
    if (truth) mem.truth.assign(truth->data(), truth->data() + truth->shape(0));
    mem.embedding = matrix_of(embedding, "embedding");
    mem.activity = matrix_of(activity, "activity");
    o.memory = &mem;
  }
  chorus::detect_summary s;
  run_job(progress, "detect", [&](const stage_fn& report) {
    o.progress = report;
    s = chorus::run_detect(o);
  });
  return chorus::to_json(s);
}

// ingest's options by CLI name (the field map: account, handle, time, text, id, repost, reply,
// urls; "from" and "to" are --from and --to).
void apply_ingest_option(chorus::ingest::ingest_options& o, const std::string& k,
                         const option_value& x) {
  namespace ing = chorus::ingest;
  ing::field_map& m = o.reader.map;
  if (k == "format")
    o.reader.fmt = ing::parse_format(x.as<std::string>());
  else if (k == "preset")
    o.reader.pre = ing::parse_preset(x.as<std::string>());
  else if (k == "strict")
    o.reader.strict = x.as<bool>();
  else if (k == "min_posts")
    o.min_posts = x.range<long long>(1, 1000000000);
  else if (k == "bin")
    o.bin_seconds = ing::parse_duration(x.as<std::string>(), "--bin");
  else if (k == "fold")
    o.fold = x.as<std::string>();
  else if (k == "from")
    o.has_from = true, o.from = ing::parse_when(str_of(x.v), "--from");
  else if (k == "to")
    o.has_to = true, o.to = ing::parse_when(str_of(x.v), "--to");
  else if (k == "dim")
    o.dim = x.range<int>(0, 4096);
  else if (k == "seed")
    o.seed = x.as<std::uint64_t>();
  else if (k == "post_embeddings")
    o.post_embeddings = x.as<std::string>();
  else if (k == "truth")
    o.truth = x.as<std::string>();
  else if (k == "normalize")
    o.normalize = x.as<std::string>();
  else if (k == "threads")
    o.threads = x.range<int>(0, 4096);
  else if (k == "max_memory")
    o.max_memory_mib = x.range<long long>(0, 1LL << 40);
  else if (k == "force")
    o.force = x.as<bool>();
  else if (k == "account")
    m.account = x.as<std::string>();
  else if (k == "handle")
    m.handle = x.as<std::string>();
  else if (k == "time")
    m.time = x.as<std::string>();
  else if (k == "text")
    m.text = x.as<std::string>();
  else if (k == "id")
    m.id = x.as<std::string>();
  else if (k == "repost")
    m.repost = x.as<std::string>();
  else if (k == "reply")
    m.reply = x.as<std::string>();
  else if (k == "urls")
    m.urls = x.as<std::string>();
  else
    CHORUS_THROW(chorus::input_error, "ingest has no option '", k, "'");
}

void apply_ingest_options(chorus::ingest::ingest_options& o, const nb::dict& d) {
  for (auto [key, v] : d) {
    const std::string k = nb::cast<std::string>(key);
    apply_ingest_option(o, k, option_of(k, v));
  }
}

std::string ingest(const std::vector<std::string>& inputs, const std::string& out,
                   const nb::dict& options, nb::object progress) {
  chorus::ingest::ingest_options o;
  apply_ingest_options(o, options);
  o.inputs = inputs;
  o.out = out;
  chorus::ingest::ingest_summary s;
  run_job(progress, "ingest", [&](const stage_fn& report) {
    o.progress = [&report](const char* stage, std::int64_t a, std::int64_t b) {
      report(stage, a, b);
      if (chorus::stop_requested())
        CHORUS_THROW(chorus::interrupted_error, "ingest stopped by a signal; nothing was written");
    };
    s = chorus::ingest::run_ingest(o);
  });
  return chorus::ingest::to_json(s);
}

nb::dict generate(const std::string& out, std::int64_t accounts, int dim, int bins, int clusters,
                  std::uint64_t seed, bool handles, bool force, nb::object progress) {
  chorus::generate_options g;
  g.out = out, g.accounts = accounts, g.dim = dim, g.bins = bins, g.clusters = clusters;
  g.seed = seed, g.handles = handles, g.force = force;
  CHORUS_EXPECTS(
      accounts >= 0 && dim >= 0 && dim <= 65536 && bins >= 0 && bins <= 1048576 && clusters >= 0,
      "generate: accounts, dim (<= 65536), bins (<= 2^20) and clusters must be >= 0");
  chorus::generate_summary s;
  run_job(progress, "generate", [&](const stage_fn& report) {
    s = chorus::generate_dataset(g, [&](double f) {
      report("generate", static_cast<std::int64_t>(f * 1000), 1000);
      if (chorus::stop_requested())
        CHORUS_THROW(chorus::interrupted_error, "generate stopped; nothing was written");
    });
  });
  nb::dict d;
  d["accounts"] = s.accounts, d["coordinated"] = s.coordinated;
  d["topic_decoys"] = s.topic_decoys, d["timing_decoys"] = s.timing_decoys;
  d["cluster_sizes"] = s.cluster_sizes;
  return d;
}

nb::dict generate_posts(const std::string& out, std::int64_t accounts, double posts_per_account,
                        int days, int campaigns, std::uint64_t seed, const std::string& truth_out,
                        int threads, bool force, nb::object progress) {
  chorus::posts_options p;
  p.out = out, p.accounts = accounts, p.posts_per_account = posts_per_account, p.days = days;
  p.campaigns = campaigns, p.seed = seed, p.truth_out = truth_out, p.threads = threads;
  p.force = force;
  chorus::posts_summary s;
  run_job(progress, "generate", [&](const stage_fn& report) {
    s = chorus::generate_posts(p, [&](double f) {
      report("generate", static_cast<std::int64_t>(f * 1000), 1000);
      if (chorus::stop_requested())
        CHORUS_THROW(chorus::interrupted_error, "generate stopped; nothing was written");
    });
  });
  nb::dict d;
  d["accounts"] = s.accounts, d["posts"] = s.posts, d["coordinated"] = s.coordinated;
  d["fans"] = s.fans, d["news_bots"] = s.news_bots, d["campaign_sizes"] = s.campaign_sizes;
  d["truth"] = truth_out.empty() ? chorus::posts_truth_path(out) : truth_out;
  return d;
}

// ---- reading chorus files (results and inputs) -------------------------------------------------

template <typename T>
nb::object numpy_of(std::vector<T>&& v, const std::vector<std::uint64_t>& dims) {
  auto* heap = new std::vector<T>(std::move(v));
  nb::capsule owner(heap, [](void* p) noexcept { delete static_cast<std::vector<T>*>(p); });
  std::vector<std::size_t> shape(dims.begin(), dims.end());
  return nb::cast(nb::ndarray<nb::numpy, T>(heap->data(), shape.size(), shape.data(), owner));
}

// All of a rank-1 or rank-2 dataset, converted to T.
template <typename T>
std::vector<T> read_whole(const chorus::h5::handle& d, const chorus::h5::dataset_info& di) {
  if (di.rank() != 2) return chorus::h5::read_all<T>(d);
  std::vector<T> v(static_cast<std::size_t>(chorus::checked_mul(
      static_cast<std::int64_t>(di.dims[0]), static_cast<std::int64_t>(di.dims[1]), "dataset")));
  if (!v.empty()) chorus::h5::read_rows<T>(d, 0, di.dims[0], v.data());
  return v;
}

// A dataset as a numpy array (floats as float32 or float64, integers as int64 or uint64) or a
// list of strings; None when the file has no such dataset.
nb::object read_dataset(const std::string& path, const std::string& name) {
  namespace h5 = chorus::h5;
  const h5::handle f = h5::open_read(path);
  if (!h5::exists(f, name)) return nb::none();
  const h5::handle d = h5::open_dataset(f, name);
  const h5::dataset_info di = h5::describe(d);
  switch (di.cls) {
    case h5::kind::string:
      return nb::cast(h5::read_strings(d));
    case h5::kind::floating:
      if (di.elem_size <= 4) return numpy_of(read_whole<float>(d, di), di.dims);
      return numpy_of(read_whole<double>(d, di), di.dims);
    case h5::kind::integer:
      if (!di.is_signed && di.elem_size >= 8)
        return numpy_of(read_whole<std::uint64_t>(d, di), di.dims);
      return numpy_of(read_whole<std::int64_t>(d, di), di.dims);
    default:
      CHORUS_THROW(chorus::input_error, "'", path, "': ", name, " is not numbers or strings");
  }
}

// The members of a group (empty when absent).
std::vector<std::string> group_members(const std::string& path, const std::string& group) {
  const chorus::h5::handle f = chorus::h5::open_read(path);
  if (!chorus::h5::exists(f, group)) return {};
  return chorus::h5::children(f, group);
}

// The root attributes: text, integers and numbers.
nb::dict root_attributes(const std::string& path) {
  const chorus::h5::handle f = chorus::h5::open_read(path);
  nb::dict d;
  for (const std::string& name : chorus::h5::attr_names(f)) {
    std::string text;
    double number = 0;
    std::int64_t integer = 0;
    if (chorus::h5::get_attr(f, name, text)) {
      d[name.c_str()] = text;
    } else if (chorus::h5::get_attr(f, name, number)) {
      chorus::h5::get_attr(f, name, integer);
      if (static_cast<double>(integer) == number)
        d[name.c_str()] = integer;
      else
        d[name.c_str()] = number;
    }
  }
  return d;
}

// Where this module's code lives: the CUDA plugin is looked up next to it.
std::string library_path() {
  Dl_info info{};
  if (!dladdr(reinterpret_cast<void*>(&chorus::make_cuda_backend), &info) || !info.dli_fname)
    return {};
  return info.dli_fname;
}

}  // namespace

NB_MODULE(_core, m) {
  m.doc() = "chorus's extension module: the C++ library's jobs (use the chorus package).";
  m.attr("__version__") = CHORUS_VERSION;
  register_exceptions(m);
  m.def("detect", &detect, "options"_a, "output"_a, "input"_a.none(), "embedding"_a.none(),
        "activity"_a.none(), "ids"_a.none(), "string_ids"_a.none(), "handles"_a.none(),
        "truth"_a.none(), "progress"_a.none(),
        "Run chorus detect; returns the JSON summary (chorus.detect is the API).");
  m.def("ingest", &ingest, "inputs"_a, "out"_a, "options"_a, "progress"_a.none(),
        "Run chorus ingest; returns the JSON summary (chorus.ingest is the API).");
  m.def("generate", &generate, "out"_a, "accounts"_a, "dim"_a, "bins"_a, "clusters"_a, "seed"_a,
        "handles"_a, "force"_a, "progress"_a.none());
  m.def("generate_posts", &generate_posts, "out"_a, "accounts"_a, "posts_per_account"_a, "days"_a,
        "campaigns"_a, "seed"_a, "truth_out"_a, "threads"_a, "force"_a, "progress"_a.none());
  m.def(
      "export_results",
      [](const std::string& results, const std::string& format, const std::string& out,
         std::int64_t min_size, bool force) {
        nb::gil_scoped_release nogil;
        chorus::export_results(results, format, out, min_size, force);
      },
      "results"_a, "format"_a, "out"_a, "min_size"_a, "force"_a);
  m.def("read_dataset", &read_dataset, "path"_a, "name"_a);
  m.def("group_members", &group_members, "path"_a, "group"_a);
  m.def("root_attributes", &root_attributes, "path"_a);
  m.def("check_output_path", &chorus::check_output_path, "path"_a, "force"_a,
        "Refuse an output that exists (unless force) or whose folder is not writable.");
  m.def("is_results_file", &chorus::is_results_file, "path"_a);
  m.def(
      "inspect_input",
      [](const std::string& path) {
        const chorus::input_info i = chorus::inspect_input_isolated(path);
        nb::dict d;
        d["accounts"] = i.n, d["has_embedding"] = i.has_embedding;
        d["has_activity"] = i.has_activity, d["has_handles"] = i.has_handles;
        d["has_truth"] = i.has_truth, d["dim"] = i.dim, d["bins"] = i.bins;
        d["id_dtype"] = i.id_dtype, d["unrecognised"] = i.unrecognised;
        return d;
      },
      "path"_a, "Validate an input file's layout (datasets/SCHEMA.md) without reading its data.");
  m.def("account_id_of_string", &chorus::account_id_of_string, "s"_a);
  m.def("library_path", &library_path);
  m.def("cuda_device_count", &chorus::cuda_device_count);
  m.def("request_stop", &chorus::request_stop, "Ask the running job to stop (as Ctrl-C does).");
}
