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

#include <csignal>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
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
    struct sigaction sa {};
    sa.sa_handler = on_sigint;
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

// Runs `body` (which calls chorus) with the GIL released and a progress function that reports
// to `progress` (a Python callable or None) with the GIL held, and turns a pending signal or a
// failing callback into a stop. A KeyboardInterrupt becomes chorus.Interrupted.
template <typename Body>
void run_job(nb::object progress, const char* what, Body&& body) {
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
  const auto interrupted = [&] {
    return chorus::interrupted_error(std::string(what) + " stopped by Ctrl-C; nothing was written",
                                     __FILE__, __LINE__);
  };
  try {
    nb::gil_scoped_release nogil;
    std::lock_guard<std::mutex> lock(g_job);
    chorus::reset_stop_request();
    sigint_guard guard;
    try {
      body(report);
    } catch (...) {
      chorus::reset_stop_request();
      throw;
    }
    chorus::reset_stop_request();
  } catch (const chorus::interrupted_error&) {
    if (pending && !pending->matches(PyExc_KeyboardInterrupt)) throw std::move(*pending);
    if (PyErr_CheckSignals() != 0) PyErr_Clear();  // the Ctrl-C that stopped it
    throw interrupted();
  } catch (const chorus::error&) {
    if (pending && !pending->matches(PyExc_KeyboardInterrupt)) throw std::move(*pending);
    if (pending) throw interrupted();  // stopped by Ctrl-C, then failed while stopping
    throw;
  }
  // Ctrl-C after the last poll: still an interruption (the caller pressed it)
  if (PyErr_CheckSignals() != 0) {
    nb::python_error e;
    if (!e.matches(PyExc_KeyboardInterrupt)) throw;
    throw interrupted();
  }
  if (pending) {
    if (!pending->matches(PyExc_KeyboardInterrupt)) throw std::move(*pending);
    throw interrupted();
  }
}

// ---- options ------------------------------------------------------------------------------------

std::string str_of(nb::handle v) { return nb::cast<std::string>(nb::str(v)); }

// detect's options by their CLI names without dashes ("threshold_activity" is
// --threshold-activity); each one present counts as given, as on the command line.
void apply_detect_options(chorus::detect_options& o, const nb::dict& d) {
  for (auto [key, v] : d) {
    const std::string k = nb::cast<std::string>(key);
    std::string flag = "--" + k;
    for (char& c : flag)
      if (c == '_') c = '-';
    o.options_given.push_back(flag);
    if (k == "view")
      o.view = nb::cast<std::string>(v);
    else if (k == "edges")
      o.edges = nb::cast<std::string>(v);
    else if (k == "window")
      o.window = nb::cast<std::int64_t>(v);
    else if (k == "min_weight")
      o.min_weight = nb::cast<std::int64_t>(v);
    else if (k == "similarity")
      o.similarity = nb::cast<double>(v);
    else if (k == "evidence_cap")
      o.evidence_cap = nb::cast<std::int64_t>(v);
    else if (k == "threshold")
      o.threshold = nb::cast<double>(v), o.threshold_given = true;
    else if (k == "threshold_activity")
      o.threshold_activity = nb::cast<double>(v), o.threshold_activity_given = true;
    else if (k == "weight")
      o.weight = nb::cast<double>(v), o.weight_given = true;
    else if (k == "activity_transform")
      o.transform = chorus::parse_transform(str_of(v));
    else if (k == "min_activity")
      o.min_activity = nb::cast<double>(v);
    else if (k == "allow_empty_view")
      o.allow_empty_view = nb::cast<bool>(v);
    else if (k == "topk")
      o.topk = nb::cast<std::int64_t>(v);
    else if (k == "max_edges")
      o.max_edges = nb::cast<std::int64_t>(v);
    else if (k == "threads")
      o.threads = nb::cast<int>(v);
    else if (k == "backend")
      o.backend = chorus::parse_backend(str_of(v));
    else if (k == "precision")
      o.prec = chorus::parse_precision(str_of(v));
    else if (k == "max_memory")
      o.max_memory_mib = nb::cast<std::uint64_t>(v);
    else if (k == "checkpoint")
      o.checkpoint_dir = str_of(v);
    else if (k == "checkpoint_interval")
      o.checkpoint_interval = nb::cast<double>(v);
    else if (k == "resume")
      o.resume = nb::cast<bool>(v);
    else if (k == "device")
      o.device = nb::cast<int>(v);
    else if (k == "gpu_kernel")
      o.kernel = chorus::parse_gpu_kernel(str_of(v));
    else if (k == "gpu_memory")
      o.gpu_memory_mib = nb::cast<std::uint64_t>(v);
    else if (k == "tile_rows")
      o.tile_rows = nb::cast<std::int64_t>(v);
    else if (k == "tile_cols")
      o.tile_cols = nb::cast<std::int64_t>(v);
    else if (k == "write_edges")
      o.write_edges = nb::cast<bool>(v);
    else if (k == "evidence")
      o.evidence = nb::cast<bool>(v);
    else if (k == "force")
      o.force = nb::cast<bool>(v);
    else
      CHORUS_THROW(chorus::input_error, "detect has no option '", k, "'");
  }
}

// A matrix argument: float32 or float64 with contiguous rows (the Python layer converts others).
using matrix_arg = nb::ndarray<nb::ro, nb::ndim<2>, nb::device::cpu>;

chorus::memory_matrix matrix_of(const std::optional<matrix_arg>& a, const char* what) {
  chorus::memory_matrix m;
  if (!a) return m;
  const bool f32 = a->dtype() == nb::dtype<float>(), f64 = a->dtype() == nb::dtype<double>();
  CHORUS_EXPECTS(f32 || f64, what, " must be float32 or float64");
  CHORUS_EXPECTS(a->shape(1) <= 1 || a->stride(1) == 1, what, " rows must be contiguous");
  CHORUS_EXPECTS(a->shape(0) <= 1 || a->stride(0) >= static_cast<std::int64_t>(a->shape(1)), what,
                 ": rows overlap");
  m.data = a->data();
  m.f64 = f64;
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
// urls).
void apply_ingest_options(chorus::ingest::ingest_options& o, const nb::dict& d) {
  for (auto [key, v] : d) {
    const std::string k = nb::cast<std::string>(key);
    chorus::ingest::field_map& m = o.reader.map;
    if (k == "format")
      o.reader.fmt = chorus::ingest::parse_format(str_of(v));
    else if (k == "preset")
      o.reader.pre = chorus::ingest::parse_preset(str_of(v));
    else if (k == "strict")
      o.reader.strict = nb::cast<bool>(v);
    else if (k == "min_posts")
      o.min_posts = nb::cast<std::int64_t>(v);
    else if (k == "bin")
      o.bin_seconds = chorus::ingest::parse_duration(str_of(v), "--bin");
    else if (k == "fold")
      o.fold = str_of(v);
    else if (k == "from")
      o.has_from = true, o.from = chorus::ingest::parse_when(str_of(v), "--from");
    else if (k == "to")
      o.has_to = true, o.to = chorus::ingest::parse_when(str_of(v), "--to");
    else if (k == "dim")
      o.dim = nb::cast<int>(v);
    else if (k == "hash_bits")
      o.hash_bits = nb::cast<int>(v);
    else if (k == "seed")
      o.seed = nb::cast<std::uint64_t>(v);
    else if (k == "post_embeddings")
      o.post_embeddings = str_of(v);
    else if (k == "truth")
      o.truth = str_of(v);
    else if (k == "normalize")
      o.normalize = str_of(v);
    else if (k == "threads")
      o.threads = nb::cast<int>(v);
    else if (k == "max_memory")
      o.max_memory_mib = nb::cast<std::int64_t>(v);
    else if (k == "force")
      o.force = nb::cast<bool>(v);
    else if (k == "account")
      m.account = str_of(v);
    else if (k == "handle")
      m.handle = str_of(v);
    else if (k == "time")
      m.time = str_of(v);
    else if (k == "text")
      m.text = str_of(v);
    else if (k == "id")
      m.id = str_of(v);
    else if (k == "repost")
      m.repost = str_of(v);
    else if (k == "reply")
      m.reply = str_of(v);
    else if (k == "urls")
      m.urls = str_of(v);
    else
      CHORUS_THROW(chorus::input_error, "ingest has no option '", k, "'");
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
