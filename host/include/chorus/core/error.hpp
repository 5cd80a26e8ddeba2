// chorus: the one error header. Typed exceptions that carry file:line; library code never aborts.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace chorus {

/// Process exit codes, documented in the README.
enum class exit_code : int {
  ok = 0,
  runtime = 1,      ///< internal or environment failure (I/O, out of memory, driver)
  bad_input = 2,    ///< bad input, bad parameters, unwritable output
  limit = 3,        ///< a user-set limit (e.g. --max-edges) would be exceeded
  interrupted = 4,  ///< stopped by a signal
};

/// Base of every chorus exception. `what()` is the message; `where()` the file:line that threw.
class error : public std::runtime_error {
 public:
  error(const std::string& msg, const char* file, int line)
      : std::runtime_error(msg), where_(std::string(file) + ":" + std::to_string(line)) {}
  const std::string& where() const noexcept { return where_; }
  virtual exit_code code() const noexcept { return exit_code::runtime; }

 private:
  std::string where_;
};

/// The user's input or parameters are wrong (exit code 2).
class input_error : public error {
 public:
  using error::error;
  exit_code code() const noexcept override { return exit_code::bad_input; }
};

/// A user-set limit would be exceeded; the message says how to proceed (exit code 3).
class limit_error : public error {
 public:
  using error::error;
  exit_code code() const noexcept override { return exit_code::limit; }
};

/// The run was stopped by SIGTERM/SIGINT (exit code 4); a checkpoint was written if asked for.
class interrupted_error : public error {
 public:
  using error::error;
  exit_code code() const noexcept override { return exit_code::interrupted; }
};

/// A failure in HDF5, the BLAS, the file system or another library (exit code 1).
class runtime_failure : public error {
 public:
  using error::error;
};

/// A CUDA runtime, cuBLAS or driver failure (exit code 1).
class cuda_error : public error {
 public:
  using error::error;
};

namespace detail {
template <typename... Args>
std::string concat(Args&&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
}  // namespace detail

}  // namespace chorus

/// Throw `kind` (a chorus exception type) with a streamed message and the current file:line.
#define CHORUS_THROW(kind, ...) \
  throw kind(::chorus::detail::concat(__VA_ARGS__), __FILE__, __LINE__)

/// Check a precondition on user input; throws chorus::input_error.
#define CHORUS_EXPECTS(cond, ...)                                  \
  do {                                                             \
    if (!(cond)) CHORUS_THROW(::chorus::input_error, __VA_ARGS__); \
  } while (0)

/// Check an internal invariant; throws chorus::runtime_failure.
#define CHORUS_ENSURES(cond, ...)                                                                 \
  do {                                                                                            \
    if (!(cond))                                                                                  \
      CHORUS_THROW(::chorus::runtime_failure, "internal check failed: " #cond ": ", __VA_ARGS__); \
  } while (0)
