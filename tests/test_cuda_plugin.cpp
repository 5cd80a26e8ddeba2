// How the CUDA backend plugin (libchorus_cuda.so) is looked up and refused, on any machine: a
// library named by CHORUS_CUDA_PLUGIN that is not the plugin, and (in a build without CUDA) no
// plugin at all. Each case runs in a child process, because a loaded plugin stays loaded.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <hdf5.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "chorus/core/error.hpp"
#include "chorus/scan/backend.hpp"
#include "ci_guard.hpp"
#include "cli_support.hpp"
#include "test_support.hpp"

using namespace chorus;

namespace {

// In a child: make_cuda_backend() with CHORUS_CUDA_PLUGIN set (or unset when empty); exits 2
// with the input_error's message on stderr, 0 when a backend was made.
[[noreturn]] void make_and_exit(const std::string& plugin_env) {
  if (plugin_env.empty())
    unsetenv("CHORUS_CUDA_PLUGIN");
  else
    setenv("CHORUS_CUDA_PLUGIN", plugin_env.c_str(), 1);
  try {
    auto b = make_cuda_backend();
    std::exit(b ? 0 : 3);
  } catch (const input_error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    std::exit(2);
  }
}

std::string build_dir() { return test::build_dir(); }

// The plugin carries its own copy of the static library it links, so it must hold no process
// state of its own: a stop flag (or test hooks) defined in it would be a second flag the
// executable's signal handler never sets. Its exported symbols (the library is built with
// default visibility, so anything linked in shows) must not include them; the stop request
// reaches the backend through score_options::stop instead.
TEST(CudaPlugin, HoldsNoStopFlagOfItsOwn) {
  const std::string plugin = test::cuda_plugin();
  if (!chorus::cli_test::exists(plugin)) {
    if (test::configured_off(build_dir(), "CHORUS_CUDA")) GTEST_SKIP() << "built without CUDA";
    CHORUS_SKIP_MISSING_TOOL("built without CUDA (CMake found no nvcc), so the plugin is missing");
  }
  void* lib = dlopen(plugin.c_str(), RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(lib, nullptr) << dlerror();
  EXPECT_NE(dlsym(lib, "chorus_make_cuda_backend_v1"), nullptr);
  for (const char* state : {"_ZN6chorus14stop_requestedEv", "_ZN6chorus12request_stopEv",
                            "_ZN6chorus21install_stop_handlersEv", "_ZN6chorus10test_hooksEv"})
    EXPECT_EQ(dlsym(lib, state), nullptr) << plugin << " defines " << state;
  dlclose(lib);
}

TEST(CudaPlugin, ALibraryWithoutTheEntryPointIsRefused) {
  // a real shared library that is not the plugin: the HDF5 library this test links
  Dl_info info{};
  ASSERT_NE(dladdr(reinterpret_cast<void*>(&H5open), &info), 0);
  ASSERT_NE(info.dli_fname, nullptr);
  const std::string lib = info.dli_fname;
  ASSERT_EQ(lib.front(), '/') << lib;
  EXPECT_EXIT(make_and_exit(lib), ::testing::ExitedWithCode(2),
              "--backend cuda: libchorus_cuda.so lacks its entry point \\(version mismatch\\?\\)");
}

TEST(CudaPlugin, NoPluginIsAClearError) {
  if (chorus::cli_test::exists(build_dir() + "/libchorus_cuda.so"))
    GTEST_SKIP()
        << "this build has the CUDA plugin (see CudaBackend.PluginLoadsAndReportsNoDevice)";
  const std::string dir = test::scratch_dir("cuda_plugin");
  const std::string fake = dir + "/libfake.so";
  std::FILE* f = std::fopen(fake.c_str(), "w");
  std::fputs("not a shared library\n", f);
  std::fclose(f);
  // a file that dlopen refuses: its error is quoted
  EXPECT_EXIT(make_and_exit(fake), ::testing::ExitedWithCode(2),
              "libchorus_cuda.so was not found or could not be loaded \\(chorus built without "
              "CUDA, or the CUDA libraries are missing: .*libfake.so.*\\); use --backend cpu");
  // nothing anywhere
  EXPECT_EXIT(make_and_exit(""), ::testing::ExitedWithCode(2),
              "could not be loaded \\(chorus built without CUDA, or the CUDA libraries are "
              "missing: not found\\); use --backend cpu");
  // --backend auto without a device takes the CPU; --backend cuda says there is no device
  if (cuda_device_count() == 0) {
    EXPECT_EQ(make_backend(backend_kind::automatic)->name(), "cpu");
    EXPECT_THROW(make_backend(backend_kind::cuda), input_error);
  }
  EXPECT_EQ(make_backend(backend_kind::cpu)->name(), "cpu");
}

}  // namespace
