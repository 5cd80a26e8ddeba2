// Where the test programs find the build's chorus executable and CUDA plugin: next to their own
// folder (<build>/tests/..), never an absolute path fixed at build time, so that a build folder
// carried to another machine (the GPU check) runs its tests where it lands.
#pragma once

#include <unistd.h>

#include <climits>
#include <string>

namespace chorus::test {

/// The build folder: the parent of the folder holding this test program.
inline const std::string& build_dir() {
  static const std::string dir = [] {
    char buf[PATH_MAX];
    const ssize_t len = readlink("/proc/self/exe", buf, sizeof buf - 1);
    std::string p = len > 0 ? std::string(buf, static_cast<std::size_t>(len)) : "./tests/x";
    p = p.substr(0, p.rfind('/'));  // <build>/tests
    return p.substr(0, p.rfind('/'));
  }();
  return dir;
}

/// The chorus executable of this build.
inline const std::string& chorus_binary() {
  static const std::string bin = build_dir() + "/chorus";
  return bin;
}

/// The CUDA plugin of this build (present when it was built with CUDA).
inline const std::string& cuda_plugin() {
  static const std::string lib = build_dir() + "/libchorus_cuda.so";
  return lib;
}

}  // namespace chorus::test

/// The chorus executable the tests run (see chorus::test::chorus_binary).
#define CHORUS_BINARY (::chorus::test::chorus_binary())
