#!/usr/bin/env bash
# The Python package's checks (CTest python.package): install the package from this tree into
# the test environment tests/.venv as the README installs it (pip install .), then run the
# example, the pytest suite tests/python against the chorus executable, and mypy --strict on the
# package and the example. Usage: package_tests.sh CHORUS_EXECUTABLE WORKDIR
set -euo pipefail
src="$(cd "$(dirname "$0")/../.." && pwd)"
cli="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
work="$2"
venv="$src/tests/.venv"
need="import pytest, mypy, nanobind, scikit_build_core, pandas, numpy, networkx, matplotlib"
if ! "$venv/bin/python" -c "$need" 2>/dev/null; then
  reason="tests/.venv lacks pytest, mypy, nanobind or scikit-build-core (.ci/setup.sh installs them)"
  if [ "${CI:-}" = "true" ]; then echo "FAIL: $reason; CI=true, so this check must run"; exit 1; fi
  echo "SKIP: $reason"
  exit 77
fi
rm -rf "$work" && mkdir -p "$work"
cd "$src"
# the README's command, without fetching the build tools again (setup put them in tests/.venv)
CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" "$venv/bin/pip" install -q --disable-pip-version-check \
  --no-deps --no-build-isolation --force-reinstall . > "$work/pip.log" 2>&1 ||
  { tail -40 "$work/pip.log"; exit 1; }
echo "== installed: $("$venv/bin/python" -c 'import chorus; print(chorus.__file__)')"
echo "== example"
"$venv/bin/python" python/examples/posts_to_clusters.py "$work/example"
test -s "$work/example/network0.png" && test -s "$work/example/co_repost.gexf"
echo "== pytest"
CHORUS_CLI="$cli" "$venv/bin/python" -m pytest -q -p no:cacheprovider tests/python
echo "== mypy --strict"
"$venv/bin/python" -m mypy --config-file pyproject.toml --cache-dir "$work/mypy" \
  python/examples/posts_to_clusters.py
(cd python && "$venv/bin/python" -m mypy --config-file ../pyproject.toml \
  --cache-dir "$work/mypy" -p chorus)
