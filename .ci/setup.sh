#!/usr/bin/env bash
# chorus: install what the build, the tests and the benchmarks need on Debian 12 (bookworm).
# Installs only what is missing; needs root (or sudo). The CUDA toolkit is optional: when nvcc
# is found (PATH or /usr/local/cuda) the CUDA sources are built too.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libhdf5-dev hdf5-tools      # input and results files
  libdnnl-dev                 # oneDNN: fp32 / bf16 / int8 GEMM tiles of the CPU backend
  ocl-icd-opencl-dev          # Debian's oneDNN CMake config requires OpenCL (it only Recommends it)
  libcli11-dev                # command-line parsing
  zlib1g-dev libzstd-dev      # chorus ingest: gzip and zstd posts files
  zstd gzip                   # tests: compressed posts files made with the command-line tools
  libsimdjson-dev             # chorus ingest: JSON lines (X/Twitter API v1.1 / v2)
  libutf8proc-dev             # chorus ingest: Unicode NFKC normalisation and case folding
  libxxhash-dev               # chorus ingest: hashed n-gram features
  libssl-dev                  # chorus keygen, export/report --pseudonymize: HMAC-SHA256, RAND_bytes (OpenSSL)
  libgtest-dev libbenchmark-dev
  openmpi-bin libopenmpi-dev  # multi-process jobs (mpirun -np P chorus detect), tests labelled mpi
  libopenblas0-pthread        # an optimised system BLAS for numpy and faiss (the comparison baseline)
  python3 python3-numpy python3-h5py python3-scipy python3-faiss  # tests/py, bench/
  python3-venv                # tests/.venv: QUT's toolkit for the co-action parity test
  python3-pip                 # the build downloads the pinned CUTLASS headers (nvidia-cutlass wheel)
  python3-matplotlib python3-networkx python3-pandas python3-lxml  # chorus report, export checks
  chromium                    # headless rendering test of the HTML report
  clang-14 libclang-rt-14-dev libomp-14-dev  # .ci/sanitize.sh: libFuzzer target (clang)
  gcovr                       # .ci/coverage.sh: line/function/branch coverage of host/ (gcc --coverage)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "chorus setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "chorus setup: all packages present"
fi

# The co-action views' reference, QUT's coordination-network-toolkit, from PyPI into a test-only
# virtual environment (tests/.venv, on top of Debian's Python and its h5py); never a runtime
# dependency of chorus. Skipped when it is already there.
venv="$(cd "$(dirname "$0")/.." && pwd)/tests/.venv"
if ! "$venv/bin/python" -c "import coordination_network_toolkit, h5py" 2>/dev/null; then
  echo "chorus setup: installing coordination-network-toolkit 1.5.2 into $venv (tests only)"
  rm -rf "$venv"
  /usr/bin/python3 -m venv --system-site-packages "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "coordination-network-toolkit==1.5.2"
fi
# The Python package's test tools (tests/py/package_tests.sh), in the same test environment: its
# build backend (so that the test installs without fetching), pytest, mypy and pandas' stubs
# for the type check, tqdm, polars and pyarrow for the optional paths.
if ! "$venv/bin/python" -c "import pytest, mypy, nanobind, scikit_build_core, tqdm, polars, pyarrow" \
    2>/dev/null; then
  echo "chorus setup: installing the Python package's test tools into $venv (tests only)"
  "$venv/bin/pip" install -q --disable-pip-version-check "scikit-build-core==1.1.2" \
    "nanobind==3.1.0" "pytest==9.2.0" "mypy==1.13.0" "pandas-stubs==1.5.3.230321" \
    "tqdm==4.67.1" "polars==1.16.0" "pyarrow==18.1.0"
fi
