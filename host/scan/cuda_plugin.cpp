// chorus: CUDA discovery and the CUDA backend plugin, loaded only when needed.
//
// The CPU build links no CUDA library: the device count comes from the driver (libcuda.so.1,
// opened with dlopen), and the CUDA backend lives in libchorus_cuda.so (cuBLAS and the kernels),
// opened only when --backend cuda (or auto with a device) asks for it. A run on the CPU thus
// never maps cuBLAS, whose relocation alone would cost ~200 MiB of resident memory.
#include <dlfcn.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <string>
#include <vector>

#include "chorus/core/error.hpp"
#include "chorus/scan/backend.hpp"

namespace chorus {

int cuda_device_count() {
  static const int count = [] {
    void* lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib) return 0;  // no driver
    using init_fn = int (*)(unsigned);
    using count_fn = int (*)(int*);
    auto init = reinterpret_cast<init_fn>(dlsym(lib, "cuInit"));
    auto get = reinterpret_cast<count_fn>(dlsym(lib, "cuDeviceGetCount"));
    int n = 0;
    if (!init || !get || init(0) != 0 || get(&n) != 0) n = 0;
    return n;  // the driver stays loaded: the CUDA runtime will use it
  }();
  return count;
}

namespace {

std::string exe_dir() {
  char buf[PATH_MAX];
  const ssize_t len = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (len <= 0) return ".";
  std::string p(buf, static_cast<std::size_t>(len));
  return p.substr(0, p.rfind('/'));
}

// The folder of the file holding this code: the executable, or the Python extension module
// (whose process's /proc/self/exe is the interpreter).
std::string code_dir() {
  Dl_info info{};
  if (!dladdr(reinterpret_cast<void*>(&exe_dir), &info) || !info.dli_fname) return {};
  const std::string p = info.dli_fname;
  const std::size_t slash = p.rfind('/');
  return slash == std::string::npos ? std::string(".") : p.substr(0, slash);
}

}  // namespace

std::unique_ptr<backend> make_cuda_backend() {
  static void* plugin = nullptr;
  static std::string tried;
  if (!plugin) {
    std::vector<std::string> candidates;
    if (const char* env = std::getenv("CHORUS_CUDA_PLUGIN")) candidates.emplace_back(env);
    const std::string dir = exe_dir();
    candidates.push_back(dir + "/libchorus_cuda.so");
    candidates.push_back(dir + "/../libchorus_cuda.so");
    candidates.push_back(dir + "/../lib/libchorus_cuda.so");
    const std::string code = code_dir();
    if (!code.empty() && code != dir) candidates.push_back(code + "/libchorus_cuda.so");
    std::string errors;
    for (const auto& c : candidates) {
      if (access(c.c_str(), R_OK) != 0) continue;
      plugin = dlopen(c.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (plugin) break;
      errors += std::string(" ") + dlerror() + ";";
    }
    CHORUS_EXPECTS(plugin,
                   "--backend cuda: the CUDA backend library libchorus_cuda.so was not "
                   "found or could not be loaded (chorus built without CUDA, or the CUDA "
                   "libraries are missing:",
                   errors.empty() ? " not found" : errors, "); use --backend cpu");
  }
  using make_fn = backend* (*)();
  auto make = reinterpret_cast<make_fn>(dlsym(plugin, "chorus_make_cuda_backend_v1"));
  CHORUS_EXPECTS(make,
                 "--backend cuda: libchorus_cuda.so lacks its entry point (version mismatch?)");
  return std::unique_ptr<backend>(make());
}

}  // namespace chorus
